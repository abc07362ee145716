//! The gateway's record: every item a program sent through lgtm-check's recording
//! gateway (OTLP traces, logs and metrics over gRPC or HTTP; Loki pushes; remote
//! write), as it was received, and what the backend answered to each request. It is
//! the manifest of a program that keeps none: the catalog derives exact per-signal
//! checks from it ([`crate::core::catalog_record`]).
//!
//! Plain data, written as JSON (`schema_version` [`RECORD_SCHEMA_VERSION`]). Main
//! types: [`Record`], [`RecordedSpan`], [`RecordedLog`], [`RecordedPoint`],
//! [`RecordedLokiLine`], [`RecordedSample`], [`Exchange`].
//!
//! Every item carries `acked`: whether the backend accepted the request that carried
//! it (2xx / gRPC `OK`). An item a program retried appears once per attempt; the
//! checks count each distinct item once ([`Record::distinct_spans`] …) and treat it as
//! acknowledged when any attempt was.
//!
//! ```
//! use lgtm_check::core::record::{Record, RecordedLokiLine, Labels};
//!
//! let mut r = Record::new("run-1");
//! r.loki_lines.push(RecordedLokiLine {
//!     labels: Labels::from([("job".into(), "shop".into())]),
//!     timestamp_ns: 1_732_540_000_000_000_000,
//!     line: "order 42 paid".into(),
//!     structured_metadata: Labels::new(),
//!     acked: true,
//! });
//! let json = serde_json::to_string(&r).unwrap();
//! assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
//! assert_eq!(r.counts().logs, 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The record format this crate writes and reads.
pub const RECORD_SCHEMA_VERSION: u32 = 1;

/// Label names to values, ordered (stream labels, structured metadata, series labels).
pub type Labels = BTreeMap<String, String>;

/// OpenTelemetry attributes as JSON values: strings, numbers (64-bit integers as
/// numbers), booleans; arrays and maps as JSON arrays and objects; bytes as base64
/// text.
pub type Attributes = BTreeMap<String, serde_json::Value>;

/// Everything a program sent through the gateway during one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The record format, [`RECORD_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The run id lgtm-check gave the program (`run_id` resource attribute).
    pub run_id: String,
    /// When the gateway began recording (Unix ms).
    pub started_at_unix_ms: u64,
    /// When it stopped (Unix ms).
    pub finished_at_unix_ms: u64,
    /// Spans received over OTLP, in order of arrival.
    #[serde(default)]
    pub spans: Vec<RecordedSpan>,
    /// Log records received over OTLP, in order of arrival.
    #[serde(default)]
    pub logs: Vec<RecordedLog>,
    /// Metric data points received over OTLP, in order of arrival.
    #[serde(default)]
    pub points: Vec<RecordedPoint>,
    /// Lines received through the Loki push tap (`/loki/api/v1/push`).
    #[serde(default)]
    pub loki_lines: Vec<RecordedLokiLine>,
    /// Samples received through the remote-write tap (`/api/v1/push`).
    #[serde(default)]
    pub samples: Vec<RecordedSample>,
    /// Every request and the backend's answer to it, in order of arrival.
    #[serde(default)]
    pub exchanges: Vec<Exchange>,
}

/// An OpenTelemetry instrumentation scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The scope's name (e.g. `opentelemetry.instrumentation.flask`).
    pub name: String,
    /// Its version; empty when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Its attributes, as JSON text of [`Attributes`] (kept as text so that a scope
    /// can be ordered and compared).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub attributes: String,
}

/// One span received over OTLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedSpan {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status: String,
    /// Start time (Unix ns).
    pub start_unix_nanos: u64,
    /// End time (Unix ns).
    pub end_unix_nanos: u64,
    /// The span's attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// The attributes of the resource it was sent with (`service.name` among them).
    #[serde(default)]
    pub resource: Attributes,
    /// The scope it was sent with.
    #[serde(default)]
    pub scope: Scope,
    /// Whether the backend accepted the request that carried it.
    pub acked: bool,
}

/// One log record received over OTLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedLog {
    /// `time_unix_nano` (0 when the program left it unset).
    pub time_unix_nano: u64,
    /// `observed_time_unix_nano` (0 when unset).
    pub observed_time_unix_nano: u64,
    /// OTLP severity number (0: unspecified).
    pub severity_number: i32,
    /// Severity text; empty when none.
    #[serde(default)]
    pub severity_text: String,
    /// The body, as JSON (a string body is a JSON string).
    pub body: serde_json::Value,
    /// The record's attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// 32 lowercase hex digits, when the record was written inside a span.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// 16 lowercase hex digits, likewise.
    #[serde(default)]
    pub span_id: Option<String>,
    /// OTLP flags (0 when unset).
    #[serde(default)]
    pub flags: u32,
    /// The attributes of the resource it was sent with.
    #[serde(default)]
    pub resource: Attributes,
    /// The scope it was sent with.
    #[serde(default)]
    pub scope: Scope,
    /// Whether the backend accepted the request that carried it.
    pub acked: bool,
}

impl RecordedLog {
    /// The time a backend stores it at: `time_unix_nano`, or the observed time when
    /// the program left it unset.
    pub fn timestamp_ns(&self) -> u64 {
        if self.time_unix_nano != 0 {
            self.time_unix_nano
        } else {
            self.observed_time_unix_nano
        }
    }

    /// The body as text, as OpenTelemetry's `AsString` gives it (a string as it is,
    /// anything else as compact JSON).
    pub fn body_text(&self) -> String {
        match &self.body {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// The kind of an OTLP metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A gauge.
    Gauge,
    /// A monotonic sum (a counter).
    MonotonicSum,
    /// A sum that may go down (an up-down counter).
    Sum,
    /// An explicit-bucket histogram.
    Histogram,
    /// An exponential histogram.
    ExponentialHistogram,
    /// A summary.
    Summary,
}

/// The aggregation temporality of a sum or histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Temporality {
    /// Not given (gauges, summaries).
    Unspecified,
    /// Each point holds the total since its start time.
    Cumulative,
    /// Each point holds the change since the previous one.
    Delta,
}

/// An exemplar attached to a data point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedExemplar {
    /// The exemplar's trace id (32 lowercase hex digits), when it has one.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// Its span id (16 lowercase hex digits), when it has one.
    #[serde(default)]
    pub span_id: Option<String>,
    /// Its value.
    pub value: f64,
    /// When it was recorded (Unix ns).
    pub time_unix_nano: u64,
}

/// One metric data point received over OTLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedPoint {
    /// The metric's OTLP name (`http.server.duration`).
    pub metric: String,
    /// Its unit (UCUM, `ms`, `By`, `{request}`); empty when none.
    #[serde(default)]
    pub unit: String,
    /// Its kind.
    pub kind: MetricKind,
    /// Its temporality.
    pub temporality: Temporality,
    /// The point's attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// The attributes of the resource it was sent with.
    #[serde(default)]
    pub resource: Attributes,
    /// The scope it was sent with.
    #[serde(default)]
    pub scope: Scope,
    /// The point's time (Unix ns).
    pub time_unix_nano: u64,
    /// The point's start time (Unix ns; 0 when unset).
    #[serde(default)]
    pub start_time_unix_nano: u64,
    /// The value of a gauge or sum.
    #[serde(default)]
    pub value: Option<f64>,
    /// The count of a histogram or summary.
    #[serde(default)]
    pub count: Option<u64>,
    /// The sum of a histogram or summary, when sent.
    #[serde(default)]
    pub sum: Option<f64>,
    /// A histogram's explicit bucket bounds (without `+Inf`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounds: Vec<f64>,
    /// A histogram's per-bucket counts (one more than `bounds`; not cumulative).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bucket_counts: Vec<u64>,
    /// A summary's quantiles, `(quantile, value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<(f64, f64)>,
    /// The point's exemplars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<RecordedExemplar>,
    /// Whether the backend accepted the request that carried it.
    pub acked: bool,
}

/// One line received through the Loki push tap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedLokiLine {
    /// The stream's labels as pushed.
    pub labels: Labels,
    /// The entry's timestamp (Unix ns).
    pub timestamp_ns: u128,
    /// The line, exactly as pushed.
    pub line: String,
    /// Structured metadata pushed with it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub structured_metadata: Labels,
    /// Whether Loki accepted the push that carried it.
    pub acked: bool,
}

/// One sample received through the remote-write tap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedSample {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// The sample's timestamp (Unix ms).
    pub timestamp_ms: i64,
    /// Its value.
    pub value: f64,
    /// Whether the backend accepted the write that carried it.
    pub acked: bool,
}

/// The signal a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordSignal {
    /// Spans.
    Traces,
    /// Log records or lines.
    Logs,
    /// Metric points or samples.
    Metrics,
}

impl RecordSignal {
    /// `traces`, `logs` or `metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordSignal::Traces => "traces",
            RecordSignal::Logs => "logs",
            RecordSignal::Metrics => "metrics",
        }
    }
}

/// One request the program made and what the backend answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// The signal it carried.
    pub signal: RecordSignal,
    /// How it came in: `otlp/grpc`, `otlp/http-protobuf`, `otlp/http-json`,
    /// `loki-push`, `remote-write`.
    pub protocol: String,
    /// When it came in (Unix ms).
    pub at_unix_ms: u64,
    /// Items (spans, log records, points, lines, samples) it carried.
    pub items: u64,
    /// Where it was forwarded (redacted), or empty when it could not be.
    pub forwarded_to: String,
    /// The backend's answer: `200 OK`, `429 Too Many Requests`, gRPC `UNAVAILABLE`,
    /// or why there was none (`connection refused`, `no backend for logs`).
    pub status: String,
    /// Whether the backend accepted it.
    pub accepted: bool,
    /// Items the backend reported rejecting in an accepted request (OTLP partial
    /// success).
    #[serde(default)]
    pub rejected_items: u64,
    /// The backend's message (error text or partial-success message), trimmed to
    /// 500 characters.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The backend's `Retry-After` (HTTP) or retry delay (gRPC), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
}

/// How much of each signal a record holds, each distinct item once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Distinct spans.
    pub traces: usize,
    /// Distinct OTLP log records and Loki lines.
    pub logs: usize,
    /// Distinct OTLP data points and remote-written samples.
    pub metrics: usize,
}

impl Counts {
    /// The count of one signal.
    pub fn of(&self, signal: RecordSignal) -> usize {
        match signal {
            RecordSignal::Traces => self.traces,
            RecordSignal::Logs => self.logs,
            RecordSignal::Metrics => self.metrics,
        }
    }
}

/// Keeps each item once (the first attempt's copy), marked acknowledged when any
/// attempt was.
fn distinct<T: Clone, K: Ord>(
    items: &[T],
    key: impl Fn(&T) -> K,
    acked: impl Fn(&T) -> bool,
    set_acked: impl Fn(&mut T),
) -> Vec<T> {
    let mut at: BTreeMap<K, usize> = BTreeMap::new();
    let mut out: Vec<T> = Vec::new();
    for item in items {
        match at.get(&key(item)) {
            Some(&i) => {
                if acked(item) {
                    set_acked(&mut out[i]);
                }
            }
            None => {
                at.insert(key(item), out.len());
                out.push(item.clone());
            }
        }
    }
    out
}

impl Record {
    /// An empty record of the current schema for run `run_id`.
    pub fn new(run_id: impl Into<String>) -> Self {
        Record {
            schema_version: RECORD_SCHEMA_VERSION,
            run_id: run_id.into(),
            ..Record::default()
        }
    }

    /// Parses a record written by the gateway (`lgtm-check tap`); `path` names it in
    /// errors.
    pub fn parse(text: &str, path: &str) -> Result<Record, RecordError> {
        let r: Record = serde_json::from_str(text).map_err(|source| RecordError::Parse {
            path: path.into(),
            source,
        })?;
        if r.schema_version != RECORD_SCHEMA_VERSION {
            return Err(RecordError::Version {
                path: path.into(),
                found: r.schema_version,
            });
        }
        Ok(r)
    }

    /// Each distinct span once (by trace and span id).
    pub fn distinct_spans(&self) -> Vec<RecordedSpan> {
        distinct(
            &self.spans,
            |s| (s.trace_id.clone(), s.span_id.clone()),
            |s| s.acked,
            |s| s.acked = true,
        )
    }

    /// Each distinct OTLP log record once (by time, body, trace and span id and
    /// attributes).
    pub fn distinct_logs(&self) -> Vec<RecordedLog> {
        distinct(
            &self.logs,
            |l| {
                (
                    l.timestamp_ns(),
                    l.body_text(),
                    l.trace_id.clone(),
                    l.span_id.clone(),
                    serde_json::to_string(&l.attributes).unwrap_or_default(),
                )
            },
            |l| l.acked,
            |l| l.acked = true,
        )
    }

    /// Each distinct Loki line once (by labels, time and text).
    pub fn distinct_loki_lines(&self) -> Vec<RecordedLokiLine> {
        distinct(
            &self.loki_lines,
            |l| (l.labels.clone(), l.timestamp_ns, l.line.clone()),
            |l| l.acked,
            |l| l.acked = true,
        )
    }

    /// Each distinct data point once (by metric, attributes, resource and time).
    pub fn distinct_points(&self) -> Vec<RecordedPoint> {
        distinct(
            &self.points,
            |p| {
                (
                    p.metric.clone(),
                    serde_json::to_string(&p.attributes).unwrap_or_default(),
                    serde_json::to_string(&p.resource).unwrap_or_default(),
                    p.time_unix_nano,
                )
            },
            |p| p.acked,
            |p| p.acked = true,
        )
    }

    /// Each distinct remote-written sample once (by labels and time).
    pub fn distinct_samples(&self) -> Vec<RecordedSample> {
        distinct(
            &self.samples,
            |s| (s.labels.clone(), s.timestamp_ms),
            |s| s.acked,
            |s| s.acked = true,
        )
    }

    /// How many distinct items of each signal the program sent.
    pub fn counts(&self) -> Counts {
        Counts {
            traces: self.distinct_spans().len(),
            logs: self.distinct_logs().len() + self.distinct_loki_lines().len(),
            metrics: self.distinct_points().len() + self.distinct_samples().len(),
        }
    }

    /// Every `service.name` the program sent as, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        let resources = self
            .spans
            .iter()
            .map(|s| &s.resource)
            .chain(self.logs.iter().map(|l| &l.resource))
            .chain(self.points.iter().map(|p| &p.resource));
        for r in resources {
            if let Some(serde_json::Value::String(s)) = r.get("service.name") {
                out.insert(s.clone());
            }
        }
        out.into_iter().collect()
    }

    /// The requests of one signal the backend refused, with their answers.
    pub fn refusals(&self, signal: RecordSignal) -> impl Iterator<Item = &Exchange> {
        self.exchanges
            .iter()
            .filter(move |e| e.signal == signal && !e.accepted)
    }

    /// Items of one signal a backend reported rejecting in accepted requests (OTLP
    /// partial success).
    pub fn partially_rejected(&self, signal: RecordSignal) -> u64 {
        self.exchanges
            .iter()
            .filter(|e| e.signal == signal)
            .map(|e| e.rejected_items)
            .sum()
    }

    /// Appends another record's items and exchanges (a gateway serving several
    /// connections records into one).
    pub fn extend(&mut self, other: Record) {
        self.spans.extend(other.spans);
        self.logs.extend(other.logs);
        self.points.extend(other.points);
        self.loki_lines.extend(other.loki_lines);
        self.samples.extend(other.samples);
        self.exchanges.extend(other.exchanges);
    }
}

/// Why a record file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file cannot be read.
    #[error("cannot read the gateway's record {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a record.
    #[error("the gateway's record {path} is not valid")]
    Parse {
        /// The file.
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The file is of another schema version.
    #[error(
        "the gateway's record {path} has schema_version {found}; this lgtm-check reads {RECORD_SCHEMA_VERSION}"
    )]
    Version {
        /// The file.
        path: String,
        /// Its version.
        found: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, acked: bool) -> RecordedSpan {
        RecordedSpan {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: id.into(),
            parent_span_id: None,
            name: "GET /".into(),
            kind: "server".into(),
            status: "unset".into(),
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            attributes: Attributes::new(),
            resource: Attributes::from([("service.name".into(), "shop".into())]),
            scope: Scope::default(),
            acked,
        }
    }

    #[test]
    fn a_retried_item_counts_once_and_is_acked_when_any_attempt_was() {
        let mut r = Record::new("r1");
        r.spans = vec![
            span("00f067aa0ba902b7", false),
            span("00f067aa0ba902b7", true),
            span("00f067aa0ba902b8", false),
        ];
        let d = r.distinct_spans();
        assert_eq!(d.len(), 2);
        assert!(d[0].acked);
        assert!(!d[1].acked);
        assert_eq!(r.counts().traces, 2);
        assert_eq!(r.services(), ["shop"]);
    }

    #[test]
    fn a_log_without_a_time_is_stored_at_its_observed_time() {
        let l = RecordedLog {
            time_unix_nano: 0,
            observed_time_unix_nano: 7,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: serde_json::json!({"k": 1}),
            attributes: Attributes::new(),
            trace_id: None,
            span_id: None,
            flags: 0,
            resource: Attributes::new(),
            scope: Scope::default(),
            acked: true,
        };
        assert_eq!(l.timestamp_ns(), 7);
        assert_eq!(l.body_text(), r#"{"k":1}"#);
    }
}
