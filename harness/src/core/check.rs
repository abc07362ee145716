//! A check: what to ask which backend, and what the answer must be.
//!
//! Main types: [`Check`], [`Query`], [`EvalAt`], [`Signal`].

use serde::Serialize;

use super::component::Component;
use super::expect::Expectation;

/// The kind of telemetry a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Metrics,
    Logs,
    Traces,
}

/// When a PromQL query is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalAt {
    /// At the time the query is sent.
    Now,
    /// At the newest sample of this selector (`max(timestamp(selector))`), so that a
    /// range ending there sees exactly the run's samples and `rate()` needs no
    /// extrapolation at its end.
    LastSampleOf(String),
}

/// A query in a backend's own language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    PromQl { expr: String, at: EvalAt },
}

impl Query {
    /// The query text, as shown in reports.
    pub fn text(&self) -> &str {
        match self {
            Query::PromQl { expr, .. } => expr,
        }
    }
}

/// One check of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Stable id, e.g. `metrics.requests_total.exact`.
    pub id: String,
    pub title: String,
    pub signal: Signal,
    /// The component whose API is queried.
    pub component: Component,
    /// Every component the data passes through; if one is skipped, so is the check.
    pub needs: Vec<Component>,
    pub query: Query,
    /// The guide's query, where ours differs from it.
    pub guide_original: Option<String>,
    pub expect: Expectation,
}
