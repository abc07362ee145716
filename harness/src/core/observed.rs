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
    /// The series' labels, `__name__` included where the backend returns it.
    pub labels: Labels,
    /// The value at the query's evaluation time (for a range answer, the series'
    /// last point), in the metric's own unit.
    pub value: f64,
}

/// One log line as stored: its stream's labels, timestamp and raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The labels of the stream the line belongs to.
    pub labels: Labels,
    /// When the line was logged, in nanoseconds since the Unix epoch, as Loki stores it.
    pub timestamp_ns: u128,
    /// The line's text, exactly as stored.
    pub line: String,
}

/// One trace a TraceQL search returned.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTrace {
    /// The trace id as 32 lowercase hex digits (leading zeros that Tempo's search
    /// drops are put back).
    pub trace_id: String,
    /// The root span's `service.name` (`rootServiceName`), when Tempo knows the root.
    pub root_service: Option<String>,
    /// The root span's name (`rootTraceName`), when Tempo knows the root.
    pub root_name: Option<String>,
    /// The trace's duration in milliseconds, as Tempo reports it (`durationMs`).
    pub duration_ms: Option<u64>,
}

/// One span of a trace fetched by id.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedSpan {
    /// The trace id, in lowercase hex.
    pub trace_id: String,
    /// The span id, in lowercase hex.
    pub span_id: String,
    /// The parent's span id in lowercase hex; `None` for a root span.
    pub parent_span_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// The `service.name` of the resource the span was sent with (empty if unset).
    pub service: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status: String,
    /// The span's own attributes (not its resource's), with their JSON values.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// An answer, whatever the query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// Metric series from a PromQL or LogQL metric query.
    Series(Vec<Sample>),
    /// Log lines from a LogQL log query, oldest first.
    Logs(Vec<LogEntry>),
    /// Traces a TraceQL search returned.
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
