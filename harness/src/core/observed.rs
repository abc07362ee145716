//! What a backend answered, as plain data: metric samples, log entries, traces found
//! by a search, and the spans of traces fetched by id. This module imports nothing
//! from [`super::expect`] (which re-exports [`Sample`] and [`Labels`]), so the two
//! form no cycle. Clients produce these; the
//! evaluation in [`super::expect`] judges them.

use std::collections::BTreeMap;

pub use lgtm_check_recorder::manifest::Labels;

/// One series of an instant-query answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// One log line as stored: its stream's labels, timestamp and raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub labels: Labels,
    pub timestamp_ns: u128,
    pub line: String,
}

/// One trace a TraceQL search returned.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTrace {
    pub trace_id: String,
    pub root_service: Option<String>,
    pub root_name: Option<String>,
    pub duration_ms: Option<u64>,
}

/// One span of a trace fetched by id.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status: String,
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// An answer, whatever the query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Series(Vec<Sample>),
    Logs(Vec<LogEntry>),
    Traces(Vec<FoundTrace>),
    /// Traces fetched by id: `None` where the backend does not know the id.
    TracesById(Vec<(String, Option<Vec<ObservedSpan>>)>),
    /// Log lines fetched per trace id.
    LogsByTraceId(Vec<(String, Vec<LogEntry>)>),
    /// A configuration value (`None`: the field is absent).
    Text(Option<String>),
}

impl Observed {
    /// A short description for "last seen" messages.
    pub fn describe(&self) -> String {
        match self {
            Observed::Series(s) => format!("{} series", s.len()),
            Observed::Logs(l) => format!("{} log lines", l.len()),
            Observed::Traces(t) => format!("{} traces", t.len()),
            Observed::TracesById(t) => format!(
                "{} of {} traces found",
                t.iter().filter(|(_, s)| s.is_some()).count(),
                t.len()
            ),
            Observed::Text(t) => format!("{t:?}"),
            Observed::LogsByTraceId(t) => format!(
                "{} log lines for {} trace ids",
                t.iter().map(|(_, l)| l.len()).sum::<usize>(),
                t.len()
            ),
        }
    }
}
