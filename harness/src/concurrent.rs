//! Running a run's checks concurrently, each on its own clock: a batch of checks
//! (one scenario's) starts as soon as it is known, up to [`CHECKS_AT_ONCE`] checks
//! wait for their data at the same time, so a slow check or a slow scenario delays no
//! other, and each check's time-to-visible counts from the moment its own data was
//! emitted and flushed. Each report is handed to a callback as soon as it is known
//! (in finish order); all are returned in catalog order.
//!
//! Main items: [`run_checks`], [`run_batches`], [`TimedCheck`], [`CHECKS_AT_ONCE`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use futures::stream::{self, FuturesUnordered, Stream, StreamExt};

use crate::core::check::Check;
use crate::core::component::Component;
use crate::core::report::{CheckReport, ComponentReport};
use crate::execute::{Backends, Witnesses, run_check_with};
use crate::liveness::{Liveness, died_check};

/// Checks waiting for their data at once, by default: enough that a scenario's whole
/// batch starts together (http-service has about 60; at 8 at once its last checks
/// queued behind the others after its manifest, the end of a default run). Each asks
/// its backend every 50–200 ms; per-id lookups are bounded over all of them by
/// [`crate::execute::Lookups`], so that Tempo's query queue does not overflow (429).
pub const CHECKS_AT_ONCE: usize = 32;

/// A check and the moment the data it asks about was emitted and flushed (its
/// scenario's `emitted` announcement): its time-to-visible counts from there.
#[derive(Debug, Clone)]
pub struct TimedCheck {
    /// When the check's data was emitted and flushed.
    pub emitted_at: Instant,
    /// The check.
    pub check: Check,
}

/// Runs `checks`, up to `at_once` at a time (at least one), each until its verdict
/// or `timeout`. `on_finished` gets each report as its check finishes; the reports
/// are returned in the order of `checks`.
pub async fn run_checks(
    checks: Vec<TimedCheck>,
    backends: &Backends,
    components: &BTreeMap<Component, ComponentReport>,
    timeout: Duration,
    at_once: usize,
    on_finished: impl FnMut(&CheckReport),
) -> Vec<CheckReport> {
    let placed = checks.into_iter().enumerate().collect();
    let one = stream::iter([Ok::<_, std::convert::Infallible>((0, placed))]);
    match run_batches(
        one,
        backends,
        components,
        None,
        timeout,
        at_once,
        on_finished,
    )
    .await
    {
        Ok(reports) => reports,
        Err(never) => match never {},
    }
}

/// Runs the checks of each batch as soon as `batches` yields it (a batch is keyed by
/// its place in the catalog, each check by its place in its part of the catalog:
/// one part may come in several batches), up to `at_once` checks at a time over all
/// batches, each until its verdict or `timeout`. `on_finished` gets each report as
/// its check finishes; the reports are returned in catalog order (by batch key, then
/// by place). The first `Err` of `batches` stops everything (checks under way are
/// dropped) and is returned. With `liveness`, a check that needs a component that
/// dies (or has died) ends at once, failed, naming the component and how it died.
pub async fn run_batches<E>(
    batches: impl Stream<Item = Result<(usize, Vec<(usize, TimedCheck)>), E>>,
    backends: &Backends,
    components: &BTreeMap<Component, ComponentReport>,
    liveness: Option<&Liveness>,
    timeout: Duration,
    at_once: usize,
    mut on_finished: impl FnMut(&CheckReport),
) -> Result<Vec<CheckReport>, E> {
    // A check whose answer another check's pass shows to be final stops waiting.
    let witnesses = &Witnesses::default();
    let run = |key: (usize, usize), c: TimedCheck| async move {
        let checked = run_check_with(
            &c.check,
            backends,
            components,
            c.emitted_at,
            timeout,
            witnesses,
        );
        let report = match liveness {
            Some(l) => tokio::select! {
                biased;
                r = checked => r,
                (dead, death) = l.died_among(&c.check.needs) => {
                    died_check(CheckReport::before_run(&c.check), dead, &death)
                }
            },
            None => checked.await,
        };
        (key, report)
    };
    let mut batches = std::pin::pin!(batches);
    let mut more_batches = true;
    let mut waiting = VecDeque::new();
    let mut running = FuturesUnordered::new();
    let mut done = BTreeMap::new();
    loop {
        while running.len() < at_once.max(1)
            && let Some((key, c)) = waiting.pop_front()
        {
            running.push(run(key, c));
        }
        if !more_batches && running.is_empty() {
            break;
        }
        tokio::select! {
            batch = batches.next(), if more_batches => match batch {
                Some(Ok((b, checks))) => waiting
                    .extend(checks.into_iter().map(|(i, c)| ((b, i), c))),
                Some(Err(e)) => return Err(e),
                None => more_batches = false,
            },
            Some((key, report)) = running.next(), if !running.is_empty() => {
                on_finished(&report);
                done.insert(key, report);
            }
        }
    }
    Ok(done.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Endpoint;
    use crate::clients::loki::LokiClient;
    use crate::core::check::{Query, Signal, Window};
    use crate::core::expect::Expectation;
    use crate::core::report::CheckStatus;

    fn check(id: &str, query: Query) -> TimedCheck {
        TimedCheck {
            emitted_at: Instant::now(),
            check: Check {
                id: id.into(),
                title: id.into(),
                signal: Signal::Logs,
                component: Component::Loki,
                needs: vec![Component::Loki],
                query,
                guide_original: None,
                expect: Expectation::NonEmpty,
                control: None,
            },
        }
    }

    /// A check that keeps asking until its timeout: its Loki does not answer (port
    /// 1 of this host refuses connections, which is worth asking again).
    fn waits_until_timeout(id: &str) -> TimedCheck {
        check(
            id,
            Query::LogQlLines {
                expr: "{run_id=\"r\"}".into(),
                window: Window {
                    start_unix_ms: 1_000,
                    end_unix_ms: 2_000,
                },
            },
        )
    }

    /// A check that ends at once (it cannot run at all).
    fn ends_at_once(id: &str) -> TimedCheck {
        check(
            id,
            Query::NotPossible {
                reason: "nothing to ask".into(),
            },
        )
    }

    fn backends() -> Backends {
        let http = reqwest::Client::new();
        Backends {
            loki: Some(LokiClient::new(
                http.clone(),
                Endpoint::new(Component::Loki, "http://127.0.0.1:1"),
            )),
            http: Some(http),
            ..Backends::default()
        }
    }

    #[tokio::test]
    async fn a_slow_check_delays_no_other_and_the_report_keeps_the_catalog_order() {
        let checks = vec![
            waits_until_timeout("slow"),
            ends_at_once("quick.1"),
            ends_at_once("quick.2"),
        ];
        let mut finished = Vec::new();
        let reports = run_checks(
            checks,
            &backends(),
            &BTreeMap::new(),
            Duration::from_millis(300),
            2,
            |r| finished.push(r.id.clone()),
        )
        .await;
        // Both quick checks finished while the slow one was still waiting, though
        // only two run at a time.
        assert_eq!(finished, ["quick.1", "quick.2", "slow"]);
        let ids: Vec<_> = reports.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["slow", "quick.1", "quick.2"]);
        assert_eq!(
            reports[0].status,
            CheckStatus::Fail,
            "{}",
            reports[0].reason
        );
        assert!(
            reports[0].reason.contains("not as expected after"),
            "{}",
            reports[0].reason
        );
    }

    #[tokio::test]
    async fn a_batch_starts_while_an_earlier_one_still_waits_and_an_error_stops_all() {
        // The first part of the catalog (key 0) arrives last, in two batches, its
        // second check first; its checks are still reported first, in their places.
        let batches = stream::iter([
            Ok::<_, String>((1, vec![(0, ends_at_once("b.1"))])),
            Ok((0, vec![(1, ends_at_once("a.2"))])),
            Ok((0, vec![(0, ends_at_once("a.1"))])),
        ]);
        let mut finished = Vec::new();
        let reports = run_batches(
            batches,
            &backends(),
            &BTreeMap::new(),
            None,
            Duration::from_millis(300),
            8,
            |r| finished.push(r.id.clone()),
        )
        .await
        .unwrap();
        finished.sort();
        assert_eq!(finished, ["a.1", "a.2", "b.1"]);
        let ids: Vec<_> = reports.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a.1", "a.2", "b.1"]);

        let batches = stream::iter([
            Ok((0, vec![(0, waits_until_timeout("slow"))])),
            Err("the catalog is refused".to_string()),
        ]);
        let r = run_batches(
            batches,
            &backends(),
            &BTreeMap::new(),
            None,
            Duration::from_secs(60),
            8,
            |_| {},
        )
        .await;
        assert_eq!(r.unwrap_err(), "the catalog is refused");
    }
}
