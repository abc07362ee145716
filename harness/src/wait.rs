//! The one poll loop every check uses: ask, judge, and ask again with exponential
//! backoff and jitter (backon) until the answer is right, the query is found
//! invalid, or the deadline passes.
//!
//! Main items: [`poll_until`], [`Attempt`], [`WaitFailure`].

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

/// What one attempt found.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// Not (yet) what was expected; what was seen.
    NotYet(String),
    /// Asking again cannot help (an auth, not-found or decode error, a missing
    /// client); what went wrong, naming the status.
    Fatal(String),
    /// The backend refused the query as not valid in its language (a parse, syntax
    /// or compile error); its message. Asking again cannot help either.
    Rejected(String),
}

/// Why waiting ended without success.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFailure {
    /// The deadline passed while the answer was still not what was expected.
    TimedOut {
        /// How long was waited, from the first attempt.
        waited: Duration,
        /// What the last attempt saw ([`Attempt::NotYet`]'s text).
        last_seen: String,
    },
    /// An attempt found that asking again cannot help; its message.
    Fatal(String),
    /// The backend refused the query as not valid in its language; its message.
    Rejected(String),
}

/// The backoff between attempts: 50 ms doubling to 200 ms, with jitter. The cap
/// bounds how late a check sees data that became visible (with a 2 s cap the
/// TraceQL and PromQL checks measured 2× the bare 5 ms probe at p95), at about
/// five queries a second per waiting check.
pub fn backoff(deadline: Duration) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_millis(200))
        .with_jitter()
        .without_max_times()
        .with_total_delay(Some(deadline))
}

/// Runs `attempt` until it returns `Ok`, returns [`Attempt::Fatal`] or
/// [`Attempt::Rejected`], or `deadline`
/// has passed. Returns the value and the time it took to get it.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use lgtm_check::wait::{poll_until, Attempt};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let calls = AtomicU32::new(0);
/// let (n, _took) = poll_until(Duration::from_secs(10), || async {
///     match calls.fetch_add(1, Ordering::SeqCst) {
///         n if n < 2 => Err(Attempt::NotYet(format!("{n} lines so far"))),
///         n => Ok(n),
///     }
/// })
/// .await
/// .unwrap();
/// assert_eq!(n, 2);
/// # });
/// ```
pub async fn poll_until<T, F, Fut>(
    deadline: Duration,
    attempt: F,
) -> Result<(T, Duration), WaitFailure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Attempt>>,
{
    let started = Instant::now();
    let result = attempt
        .retry(backoff(deadline))
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, Attempt::NotYet(_)) && started.elapsed() < deadline)
        .await;
    match result {
        Ok(v) => Ok((v, started.elapsed())),
        Err(Attempt::Fatal(m)) => Err(WaitFailure::Fatal(m)),
        Err(Attempt::Rejected(m)) => Err(WaitFailure::Rejected(m)),
        Err(Attempt::NotYet(last_seen)) => Err(WaitFailure::TimedOut {
            waited: started.elapsed(),
            last_seen,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_until_the_answer_is_right() {
        let calls = AtomicU32::new(0);
        let (v, _) = poll_until(Duration::from_secs(10), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                Err(Attempt::NotYet(format!("saw {n}")))
            } else {
                Ok(n)
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 2);
    }

    #[tokio::test]
    async fn a_fatal_answer_stops_at_once() {
        let calls = AtomicU32::new(0);
        let r: Result<((), _), _> = poll_until(Duration::from_secs(10), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Attempt::Fatal("parse error".into()))
        })
        .await;
        assert_eq!(r.unwrap_err(), WaitFailure::Fatal("parse error".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_rejected_query_stops_at_once_and_stays_a_rejection() {
        let calls = AtomicU32::new(0);
        let r: Result<((), _), _> = poll_until(Duration::from_secs(10), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Attempt::Rejected("parse error".into()))
        })
        .await;
        assert_eq!(r.unwrap_err(), WaitFailure::Rejected("parse error".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn times_out_with_the_last_observation() {
        let calls = AtomicU32::new(0);
        let r: Result<((), _), _> = poll_until(Duration::from_millis(300), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Err(Attempt::NotYet(format!("saw {n}")))
        })
        .await;
        let WaitFailure::TimedOut { last_seen, .. } = r.unwrap_err() else {
            panic!("expected a timeout")
        };
        assert_eq!(
            last_seen,
            format!("saw {}", calls.load(Ordering::SeqCst) - 1)
        );
    }
}
