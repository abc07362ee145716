//! Waiting assertions on a [`Stack`]: the catalog's own machinery (a [`Check`] run
//! by [`crate::execute::run_check`]: the one poll loop, [`crate::wait::poll_until`],
//! and the pure [`crate::core::expect::evaluate`]), for a user's own tests.
//!
//! Every assertion names its time explicitly: a LogQL or TraceQL query covers a
//! [`Window`], a PromQL query is evaluated at a fixed time, so its answer does not
//! change with when it is asked. A failing assertion is an [`AssertError`] that says
//! what was expected, what the backend last answered, and the query with its time.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::{Duration, SystemTime};
//! use lgtm_check::Stack;
//! use lgtm_check::assert::{Assertion, window};
//! use lgtm_check::core::component::Component;
//!
//! let stack = Stack::builder().components([Component::Loki]).start().await?;
//! let start = SystemTime::now();
//! // …the app pushes three lines with {app="shop"}…
//! let w = window(start, SystemTime::now() + Duration::from_secs(1));
//! stack
//!     .assert(&Assertion::log_count(r#"{app="shop"}"#, w, 3).within(Duration::from_secs(30)))
//!     .await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use crate::Stack;
pub use crate::core::check::Window;
use crate::core::check::{Check, EvalAt, Query, Signal};
use crate::core::component::Component;
use crate::core::expect::Expectation;
pub use crate::core::expect::{
    Expected, ExpectedLine, ExpectedSeries, ExpectedSpan, Labels, SeriesExpectation,
};
use crate::core::report::CheckStatus;
use crate::execute::run_check;

/// How long an assertion waits by default for its data to become visible.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// Unix milliseconds of a time (0 before the epoch).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The window from `start` to `end`, to pin a LogQL or TraceQL assertion to.
pub fn window(start: SystemTime, end: SystemTime) -> Window {
    Window {
        start_unix_ms: unix_ms(start),
        end_unix_ms: unix_ms(end),
    }
}

/// What to ask, what the answer must be, and how long to wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    what: String,
    signal: Signal,
    component: Component,
    query: Query,
    expect: Expectation,
    wait: Duration,
}

impl Assertion {
    /// Exactly `count` log lines match the LogQL selector `expr` in `window`
    /// (`sum(count_over_time(expr[window]))` evaluated at the window's end).
    ///
    /// ```
    /// use lgtm_check::assert::{Assertion, Window};
    /// let w = Window { start_unix_ms: 1_700_000_000_000, end_unix_ms: 1_700_000_060_000 };
    /// let a = Assertion::log_count(r#"{app="shop"}"#, w, 3);
    /// assert!(a.query_text().contains("count_over_time"));
    /// ```
    pub fn log_count(expr: &str, window: Window, count: u64) -> Self {
        let range_ms = window
            .end_unix_ms
            .saturating_sub(window.start_unix_ms)
            .max(1);
        Assertion {
            what: format!("{count} log lines matching {expr}"),
            signal: Signal::Logs,
            component: Component::Loki,
            query: Query::LogQlMetric {
                expr: format!("sum(count_over_time({expr}[{range_ms}ms]))"),
                at_unix_ms: window.end_unix_ms,
            },
            expect: Expectation::Series(SeriesExpectation {
                series: vec![ExpectedSeries {
                    labels: Labels::new(),
                    expected: Expected::Exact(count as f64),
                }],
                no_other_series: true,
            }),
            wait: DEFAULT_WAIT,
        }
    }

    /// The LogQL query `expr` returns these lines in `window` (stream labels,
    /// message and fields as [`ExpectedLine`] says); with `exact`, no other line.
    pub fn log_lines(expr: &str, window: Window, lines: Vec<ExpectedLine>, exact: bool) -> Self {
        Assertion {
            what: format!(
                "{}{} log lines matching {expr}",
                if exact { "exactly " } else { "" },
                lines.len()
            ),
            signal: Signal::Logs,
            component: Component::Loki,
            query: Query::LogQlLines {
                expr: expr.into(),
                window,
            },
            expect: Expectation::Lines { lines, exact },
            wait: DEFAULT_WAIT,
        }
    }

    /// The trace `trace_id` (32 hex digits) is found by id with exactly these spans
    /// (names, kinds, parents, status and attributes).
    pub fn trace(trace_id: &str, spans: Vec<ExpectedSpan>) -> Self {
        Assertion {
            what: format!("trace {trace_id} with {} spans", spans.len()),
            signal: Signal::Traces,
            component: Component::Tempo,
            query: Query::TracesById {
                ids: vec![trace_id.into()],
            },
            expect: Expectation::Traces(BTreeMap::from([(trace_id.to_string(), spans)])),
            wait: DEFAULT_WAIT,
        }
    }

    /// The TraceQL search `query` in `window` returns these trace ids; with
    /// `exact`, no other.
    pub fn traceql(query: &str, window: Window, ids: BTreeSet<String>, exact: bool) -> Self {
        Assertion {
            what: format!(
                "{}{} traces found by {query}",
                if exact { "exactly " } else { "" },
                ids.len()
            ),
            signal: Signal::Traces,
            component: Component::Tempo,
            query: Query::TraceQlSearch {
                query: query.into(),
                window,
            },
            expect: Expectation::TraceIds { ids, exact },
            wait: DEFAULT_WAIT,
        }
    }

    /// The PromQL `expr`, evaluated at `at` on the metrics role (the Mimir role,
    /// else the Prometheus scraper), returns these series with these values; with
    /// `no_other_series`, nothing else. Pick `at` after your workload's last scrape
    /// (a few scrape intervals later; Prometheus' first scrapes come a few seconds
    /// after it starts): the answer at a fixed time does not change once it is in.
    pub fn promql(
        expr: &str,
        at: SystemTime,
        series: Vec<ExpectedSeries>,
        no_other_series: bool,
    ) -> Self {
        Assertion {
            what: format!("{} series of {expr}", series.len()),
            signal: Signal::Metrics,
            component: Component::Mimir,
            query: Query::PromQl {
                expr: expr.into(),
                at: EvalAt::Fixed {
                    unix_ms: unix_ms(at),
                },
            },
            expect: Expectation::Series(SeriesExpectation {
                series,
                no_other_series,
            }),
            wait: DEFAULT_WAIT,
        }
    }

    /// Ask the Prometheus scraper itself instead of the Mimir role (PromQL only).
    pub fn on(mut self, component: Component) -> Self {
        self.component = component;
        self
    }

    /// Wait at most this long for the answer to be right (default [`DEFAULT_WAIT`]).
    pub fn within(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The query as reports show it, with its time or window.
    pub fn query_text(&self) -> String {
        self.query.text()
    }

    /// The catalog check this assertion runs.
    pub fn to_check(&self) -> Check {
        Check {
            id: "assert".into(),
            title: self.what.clone(),
            signal: self.signal,
            component: self.component,
            needs: vec![self.component],
            query: self.query.clone(),
            guide_original: None,
            expect: self.expect.clone(),
            control: None,
        }
    }
}

/// An assertion that did not hold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("expected {expected}, but {reason}\n  query: {query}")]
pub struct AssertError {
    /// What was expected, in a few words.
    pub expected: String,
    /// Fail (the backend answered otherwise, or refused) or Skip (the component
    /// is not running).
    pub status: CheckStatus,
    /// Why: what the backend last answered, or the error.
    pub reason: String,
    /// The query, with its time or window.
    pub query: String,
}

impl Stack {
    /// Asks until the assertion holds or its wait ends; on success, what was seen.
    pub async fn assert(&self, assertion: &Assertion) -> Result<String, AssertError> {
        let mut check = assertion.to_check();
        if check.component == Component::Mimir && !self.is_running(Component::Mimir) {
            check.component = Component::Prometheus;
            check.needs = vec![Component::Prometheus];
        }
        let report = run_check(
            &check,
            &self.backends(),
            self.components(),
            Instant::now(),
            assertion.wait,
        )
        .await;
        match report.status {
            CheckStatus::Pass => Ok(report.reason),
            status => Err(AssertError {
                expected: assertion.what.clone(),
                status,
                reason: report.reason,
                query: report.query,
            }),
        }
    }
}
