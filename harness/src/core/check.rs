//! A check: what to ask which backend, and what the answer must be.
//!
//! Main types: [`Check`], [`Control`], [`Query`], [`EvalAt`], [`Signal`].

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

/// The time range a log or trace query covers, in Unix milliseconds. With
/// `follow`, the end is extended to the moment of the query, so late arrivals are seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_unix_ms: u64,
    pub end_unix_ms: u64,
    pub follow: bool,
}

/// A query in a backend's own language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    PromQl {
        expr: String,
        at: EvalAt,
    },
    /// A LogQL log query over the window: the lines.
    LogQlLines {
        expr: String,
        window: Window,
    },
    /// A LogQL metric query, evaluated now.
    LogQlMetric {
        expr: String,
    },
    /// A TraceQL search over the window: the traces found.
    TraceQlSearch {
        query: String,
        window: Window,
    },
    /// A TraceQL metrics query over the window: each series' total.
    TraceQlMetrics {
        query: String,
        window: Window,
    },
    /// Each trace fetched by id (`/api/traces/<id>`).
    TracesById {
        ids: Vec<String>,
    },
    /// A field of the component's effective configuration (the YAML it serves).
    ConfigField {
        field: String,
    },
    /// Nothing can be asked: the check is reported skipped with this reason.
    NotPossible {
        reason: String,
    },
    /// Grafana's `/api/health`: its version.
    GrafanaHealth,
    /// A datasource's own health check through Grafana: its status.
    GrafanaDatasourceHealth {
        uid: String,
    },
    /// The dashboard Grafana serves (`/api/dashboards/uid/:uid`, found by title
    /// through `/api/search` where it has no uid): its targets, one per line
    /// ([`crate::core::catalog_grafana::targets_summary`]).
    GrafanaDashboard {
        uid: Option<String>,
        title: String,
    },
    /// One dashboard target through Grafana's `/api/ds/query` over the window.
    GrafanaDsQuery {
        datasource_uid: String,
        query: crate::core::dashboard::TargetQuery,
        window: Window,
    },
    /// For each trace id, the lines `{selector} | json | trace_id="<id>"`.
    LogQlByTraceId {
        selector: String,
        ids: Vec<String>,
        window: Window,
    },
}

impl Query {
    /// The query text, as shown in reports.
    pub fn text(&self) -> String {
        match self {
            Query::PromQl { expr, .. }
            | Query::LogQlLines { expr, .. }
            | Query::LogQlMetric { expr } => expr.clone(),
            Query::TraceQlSearch { query, .. } | Query::TraceQlMetrics { query, .. } => {
                query.clone()
            }
            Query::ConfigField { field } => format!("effective config: {field}"),
            Query::NotPossible { .. } => "-".into(),
            Query::GrafanaHealth => "GET /api/health".into(),
            Query::GrafanaDashboard { uid: Some(uid), .. } => {
                format!("GET /api/dashboards/uid/{uid}")
            }
            Query::GrafanaDashboard { uid: None, title } => {
                format!("GET /api/search?query={title}, then /api/dashboards/uid/<uid>")
            }
            Query::GrafanaDatasourceHealth { uid } => {
                format!("GET /api/datasources/uid/{uid}/health")
            }
            Query::GrafanaDsQuery {
                datasource_uid,
                query,
                ..
            } => {
                format!("POST /api/ds/query ({datasource_uid}): {}", query.text())
            }
            Query::TracesById { ids } => {
                format!("GET /api/traces/<id> for {} trace ids", ids.len())
            }
            Query::LogQlByTraceId { selector, ids, .. } => format!(
                "{selector} | json | trace_id=\"<id>\" for {} trace ids",
                ids.len()
            ),
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
    /// The positive control of a negative check ("matches nothing", "no series
    /// with …"): asked in the same poll, it must return the run's data, or the
    /// negative answer proves nothing. Every negative check has one (the catalog
    /// refuses one without: [`crate::core::catalog::validate`]).
    pub control: Option<Control>,
}

/// A query on the same backend and time range as its negative check, without the
/// defect, and what it must return (the run's data).
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub query: Query,
    pub expect: Expectation,
}

impl Query {
    /// The same query (same kind, evaluation time or window) with another expression:
    /// a control differs from its check only in the defect.
    pub fn with_text(&self, text: impl Into<String>) -> Query {
        let mut q = self.clone();
        let text = text.into();
        match &mut q {
            Query::PromQl { expr, .. }
            | Query::LogQlLines { expr, .. }
            | Query::LogQlMetric { expr, .. } => *expr = text,
            Query::TraceQlSearch { query, .. } | Query::TraceQlMetrics { query, .. } => {
                *query = text
            }
            _ => {}
        }
        q
    }
}
