//! The run manifest: exactly what a program (a scenario, or your app through the
//! [`Recorder`](crate::Recorder)) handed to its exporters, written as JSON when it has
//! finished emitting. lgtm-check derives every expectation from it.
//!
//! Main types: [`Manifest`], [`CounterSeries`], [`HistogramSeries`], [`Loss`].
//!
//! Format (schema_version 1):
//! ```json
//! {
//!   "schema_version": 1,
//!   "scenario": "http-service",
//!   "run_id": "r1a2b3c4",
//!   "service": "rust-app",
//!   "environment": "production",
//!   "started_at_unix_ms": 1732540000000,
//!   "finished_at_unix_ms": 1732540002000,
//!   "metrics": {
//!     "counters": [
//!       {"name": "http_requests_total",
//!        "labels": {"method": "GET", "path": "/api/users", "status": "200",
//!                   "service": "rust-app", "run_id": "r1a2b3c4"},
//!        "value": 37}
//!     ],
//!     "histograms": [
//!       {"name": "http_request_duration_seconds",
//!        "labels": {"method": "GET", "path": "/api/users", "service": "rust-app", "run_id": "r1a2b3c4"},
//!        "buckets": [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
//!        "observations": [0.0301, 0.0302]}
//!     ],
//!     "process_metrics": ["process_cpu_seconds_total", "process_resident_memory_bytes"]
//!   }
//! }
//! ```
//! `labels` are every label the scenario attached to the series (including the global
//! `service` and `run_id`), not the ones a scraper adds (`job`, `instance`).
//! `observations` are the exact values passed to the histogram, in seconds.
//!
//! Logs and traces (sections `logs` and `traces`, empty when a scenario emits none):
//! ```json
//! "logs": {"streams": [
//!   {"labels": {"service": "rust-app", "environment": "production", "run_id": "r1", "level": "info"},
//!    "lines": [{"level": "info", "message": "request handled",
//!               "fields": {"endpoint": "/api/users", "latency_ms": "31",
//!                          "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}}]}
//! ]},
//! "traces": {"sampler_ratio": 1.0, "roots_started": 45,
//!   "unsampled_trace_ids": [],
//!   "traces": [{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "spans": [
//!     {"span_id": "00f067aa0ba902b7", "parent_span_id": null, "name": "GET /api/users",
//!      "service": "rust-app", "kind": "server", "status": "unset",
//!      "attributes": {"http.request.method": "GET", "http.response.status_code": 200},
//!      "start_unix_nanos": 1732540000000000000, "duration_nanos": 31000000}]}]}
//! ```
//! A log stream is one Loki stream (its labels exactly as pushed); its lines are in
//! emission order. Trace and span ids are lowercase hex (32 and 16 digits). `traces`
//! lists every sampled span the code ended (recorded at the span processor), or,
//! without a recorded processor, every span the exporter exported;
//! `unsampled_trace_ids` the root traces the sampler dropped.
//!
//! Losses (section `losses`, left out when empty): what the instrumentation itself
//! reported losing after the code handed it over, by where it was lost. The lines and
//! spans stay in `logs` and `traces` (the code emitted them), so the arrival checks
//! count them missing; `losses` says where they went:
//! ```json
//! "losses": [{"signal": "logs", "where": "tracing-loki channel full", "count": 6120}]
//! ```
//! Added within schema_version 1: a manifest without losses is unchanged, and readers
//! older than the section reject one that has it (unknown field) rather than misread it.
//!
//! Push-back (section `pushback`, left out when empty): where a backend refused pushes
//! (a rate limit: Loki's HTTP 429, Tempo's gRPC `RESOURCE_EXHAUSTED`) and the program
//! retried them, the backend's own answer and what came of the retries:
//! ```json
//! "pushback": [{"signal": "logs", "component": "loki", "status": "429 Too Many Requests",
//!   "answer": "Ingestion rate limit exceeded for user fake (limit: 1048576 bytes/sec) …",
//!   "limit": "1048576 bytes/sec", "pushes": 100, "refusals": 52, "retried_pushes": 37,
//!   "abandoned_pushes": 0, "items": 100000, "delivered": 100000}]
//! ```
//! Added within schema_version 1, as `losses` was.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The manifest format this crate writes and reads.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// A series' labels, ordered so that manifests are stable and comparable.
pub type Labels = BTreeMap<String, String>;

/// Everything one scenario run emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The manifest format, [`MANIFEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The scenario's name, e.g. `http-service`.
    pub scenario: String,
    /// The run id every signal of the run carries (label `run_id`).
    pub run_id: String,
    /// The `service` label / `service.name` the scenario emitted as.
    pub service: String,
    /// The `environment` label / `deployment.environment`.
    pub environment: String,
    /// When the run began emitting (Unix ms).
    pub started_at_unix_ms: u64,
    /// When it had finished emitting and flushing (Unix ms).
    pub finished_at_unix_ms: u64,
    /// Every `service.name` / `service` label the run emitted as (several for
    /// multi-service scenarios); empty means just `service`.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    /// Log lines handed to the Loki layer.
    pub logs: LogsManifest,
    #[serde(default)]
    /// Spans exported, and the sampler's decisions.
    pub traces: TracesManifest,
    #[serde(default)]
    /// Counter and histogram series.
    pub metrics: MetricsManifest,
    /// What the instrumentation reported losing, by where (empty: nothing known lost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<Loss>,
    /// Where a backend refused pushes and they were retried (empty: none refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushback: Vec<PushBack>,
}

/// A backend's refusals of one signal's pushes, in its own words, and what the
/// retries made of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushBack {
    /// `logs`, `traces` or `metrics`.
    pub signal: String,
    /// The backend that refused, e.g. `loki`.
    pub component: String,
    /// The status of the first refusal (`429 Too Many Requests`,
    /// `RESOURCE_EXHAUSTED`).
    pub status: String,
    /// The backend's own message with the first refusal (trimmed to 500 characters).
    pub answer: String,
    /// The limit the message names, e.g. `4194304 bytes/sec`, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Pushes made (each counted once, however often retried).
    pub pushes: u64,
    /// Refused attempts in all.
    pub refusals: u64,
    /// Pushes refused at least once.
    pub retried_pushes: u64,
    /// Pushes given up on (their items are in `losses` and not in `logs`/`traces`).
    pub abandoned_pushes: u64,
    /// Items (lines, spans) handed to pushes in all.
    pub items: u64,
    /// Items the backend accepted in the end.
    pub delivered: u64,
}

impl PushBack {
    /// Whether every item was accepted in the end.
    pub fn all_delivered(&self) -> bool {
        self.delivered == self.items
    }
}

/// The limit a backend's refusal names: Loki's `(limit: N bytes/sec)`, Tempo's
/// `rate limit (N bytes)` / `… limit (N)`; `None` when it names none.
///
/// ```
/// use lgtm_check_recorder::manifest::limit_named_in;
/// let loki = "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '1000' lines";
/// assert_eq!(limit_named_in(loki).as_deref(), Some("4194304 bytes/sec"));
/// let tempo = "RATE_LIMITED: ingestion rate limit (1000 bytes) exceeded while adding 20 bytes";
/// assert_eq!(limit_named_in(tempo).as_deref(), Some("1000 bytes"));
/// assert_eq!(limit_named_in("internal error"), None);
/// ```
pub fn limit_named_in(answer: &str) -> Option<String> {
    if let Some(i) = answer.find("limit: ") {
        let rest = &answer[i + "limit: ".len()..];
        let end = rest.find(')').unwrap_or(rest.len());
        return Some(rest[..end].trim().to_owned()).filter(|s| !s.is_empty());
    }
    let i = answer.find("limit (")?;
    let rest = &answer[i + "limit (".len()..];
    let end = rest.find(')')?;
    Some(rest[..end].trim().to_owned()).filter(|s| !s.is_empty())
}

/// Telemetry the code handed to its instrumentation that the instrumentation itself
/// lost, counted where it was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loss {
    /// `logs`, `traces` or `metrics`.
    pub signal: String,
    /// Where it was lost, e.g. `tracing-loki channel full`.
    #[serde(rename = "where")]
    pub place: String,
    /// How many lines (logs) or spans (traces) were lost there.
    pub count: u64,
}

impl Loss {
    /// A loss of `count` items of `signal` at `place`.
    pub fn new(signal: &str, place: &str, count: u64) -> Self {
        Loss {
            signal: signal.into(),
            place: place.into(),
            count,
        }
    }
}

/// Log lines pushed to Loki, by stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsManifest {
    #[serde(default)]
    /// The streams, in order of their first line.
    pub streams: Vec<LogStream>,
}

/// One Loki stream: its labels exactly as pushed and its lines in emission order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogStream {
    /// The stream's labels, `level` included.
    pub labels: Labels,
    /// Its lines, in emission order.
    pub lines: Vec<LogLine>,
}

/// One log line: level, message and its fields (values as strings), among them
/// `trace_id` and `span_id` when the line was written inside a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    /// The `level` label value (`info`, `error`, …).
    pub level: String,
    /// The event's message.
    pub message: String,
    #[serde(default)]
    /// The event's other fields, as strings.
    pub fields: BTreeMap<String, String>,
}

/// Spans exported over OTLP, by trace, and what the sampler dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracesManifest {
    /// The TraceIdRatioBased ratio of the root sampler.
    #[serde(default = "one")]
    pub sampler_ratio: f64,
    /// How many root spans (traces) the scenario started, sampled or not.
    #[serde(default)]
    pub roots_started: u64,
    #[serde(default)]
    /// Every exported trace, ordered by its earliest span.
    pub traces: Vec<TraceRecord>,
    #[serde(default)]
    /// Trace ids of the roots the sampler did not sample, sorted.
    pub unsampled_trace_ids: Vec<String>,
}

fn one() -> f64 {
    1.0
}

/// One exported trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRecord {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// Its exported spans, ordered by start.
    pub spans: Vec<SpanRecord>,
}

/// One exported span, with the attributes checks look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanRecord {
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// The resource's `service.name`.
    pub service: String,
    /// `server`, `client`, `internal`, `producer` or `consumer`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status: String,
    #[serde(default)]
    /// The span's attributes (strings, numbers, booleans).
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Start time (Unix ns).
    pub start_unix_nanos: u64,
    /// End minus start (ns).
    pub duration_nanos: u64,
}

impl Manifest {
    /// An empty manifest of the current schema for `scenario`'s run `run_id`,
    /// emitting as `service` (no environment, times 0, nothing emitted yet).
    ///
    /// ```
    /// use lgtm_check_recorder::manifest::Manifest;
    /// let m = Manifest::new("my-app", "run-1", "shop");
    /// assert_eq!((m.run_id.as_str(), m.log_line_count()), ("run-1", 0));
    /// ```
    pub fn new(
        scenario: impl Into<String>,
        run_id: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            scenario: scenario.into(),
            run_id: run_id.into(),
            service: service.into(),
            environment: String::new(),
            started_at_unix_ms: 0,
            finished_at_unix_ms: 0,
            services: Vec::new(),
            logs: LogsManifest::default(),
            traces: TracesManifest::default(),
            metrics: MetricsManifest::default(),
            losses: Vec::new(),
            pushback: Vec::new(),
        }
    }

    /// Every service the run emitted as.
    pub fn all_services(&self) -> Vec<String> {
        if self.services.is_empty() {
            vec![self.service.clone()]
        } else {
            self.services.clone()
        }
    }

    /// Every trace id that log lines reference, sorted and without repeats.
    pub fn logged_trace_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .logs
            .streams
            .iter()
            .flat_map(|s| &s.lines)
            .filter_map(|l| l.fields.get("trace_id").cloned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The losses of one signal, e.g. `"logs"`.
    pub fn losses_of<'a>(&'a self, signal: &'a str) -> impl Iterator<Item = &'a Loss> + 'a {
        self.losses.iter().filter(move |l| l.signal == signal)
    }

    /// Number of log lines in all streams.
    pub fn log_line_count(&self) -> usize {
        self.logs.streams.iter().map(|s| s.lines.len()).sum()
    }
}

/// Metric series the scenario exposed for scraping, with their final values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsManifest {
    #[serde(default)]
    /// Counter series, sorted by name and labels.
    pub counters: Vec<CounterSeries>,
    #[serde(default)]
    /// Histogram series, sorted by name and labels.
    pub histograms: Vec<HistogramSeries>,
    /// Names of the standard process metrics exposed beside them
    /// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …), with the same
    /// global labels; their values are the OS's and not recorded.
    #[serde(default)]
    pub process_metrics: Vec<String>,
}

/// One counter series and its final value (it started at 0 in the same run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterSeries {
    /// The metric name.
    pub name: String,
    /// Every label of the series, global labels included.
    pub labels: Labels,
    /// The final value.
    pub value: u64,
}

/// One histogram series: its bucket upper bounds (without `+Inf`) and every observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramSeries {
    /// The metric name (without `_bucket`, `_sum`, `_count`).
    pub name: String,
    /// Every label of the series, global labels included.
    pub labels: Labels,
    /// Bucket upper bounds, without `+Inf`.
    pub buckets: Vec<f64>,
    /// Every observation, in the order recorded.
    pub observations: Vec<f64>,
}

impl HistogramSeries {
    /// Number of observations (`_count`).
    pub fn count(&self) -> u64 {
        self.observations.len() as u64
    }

    /// Sum of observations (`_sum`), added in emission order as the exporter does.
    pub fn sum(&self) -> f64 {
        self.observations.iter().sum()
    }

    /// Cumulative count per bucket upper bound, ending with `+Inf`.
    pub fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .map(|&le| {
                let n = self.observations.iter().filter(|&&v| v <= le).count();
                (le, n as u64)
            })
            .collect();
        out.push((f64::INFINITY, self.count()));
        out
    }
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ManifestError::Parse { source, .. } => ManifestError::Parse {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    /// Parses a manifest and checks its schema version.
    pub fn from_json(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            serde_json::from_str(text).map_err(|source| ManifestError::Parse {
                path: "<memory>".into(),
                source,
            })?;
        if manifest.schema_version != MANIFEST_SCHEMA_VERSION {
            return Err(ManifestError::SchemaVersion {
                found: manifest.schema_version,
                supported: MANIFEST_SCHEMA_VERSION,
            });
        }
        Ok(manifest)
    }

    /// Writes the manifest atomically (temporary file, then rename), so a reader never
    /// sees half of it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}")]
    /// The file cannot be read.
    Read {
        /// The file's path.
        path: String,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("manifest {path} is not valid")]
    /// The file is not a manifest.
    Parse {
        /// The file's path.
        path: String,
        #[source]
        /// Why.
        source: serde_json::Error,
    },
    #[error("manifest schema_version {found} is not supported (this build reads {supported})")]
    /// The manifest's schema_version is not this build's.
    SchemaVersion {
        /// The file's schema_version.
        found: u32,
        /// The one this build reads.
        supported: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(observations: &[f64]) -> HistogramSeries {
        HistogramSeries {
            name: "h".into(),
            labels: Labels::new(),
            buckets: vec![0.01, 0.1, 1.0],
            observations: observations.to_vec(),
        }
    }

    #[test]
    fn cumulative_buckets_count_upper_bounds_inclusively() {
        let h = histogram(&[0.005, 0.01, 0.05, 0.5, 3.0]);
        assert_eq!(
            h.cumulative_buckets(),
            vec![(0.01, 2), (0.1, 3), (1.0, 4), (f64::INFINITY, 5)]
        );
        assert_eq!(h.count(), 5);
        assert!((h.sum() - 3.565).abs() < 1e-12);
    }

    #[test]
    fn round_trips_and_rejects_other_schema_versions() {
        let m = Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            scenario: "s".into(),
            run_id: "r".into(),
            service: "svc".into(),
            environment: "test".into(),
            started_at_unix_ms: 1,
            finished_at_unix_ms: 2,
            services: vec![],
            logs: LogsManifest {
                streams: vec![LogStream {
                    labels: Labels::from([("service".into(), "svc".into())]),
                    lines: vec![LogLine {
                        level: "INFO".into(),
                        message: "m".into(),
                        fields: BTreeMap::from([("trace_id".into(), "ab".into())]),
                    }],
                }],
            },
            traces: TracesManifest {
                sampler_ratio: 1.0,
                roots_started: 1,
                traces: vec![TraceRecord {
                    trace_id: "ab".into(),
                    spans: vec![SpanRecord {
                        span_id: "01".into(),
                        parent_span_id: None,
                        name: "GET /x".into(),
                        service: "svc".into(),
                        kind: "server".into(),
                        status: "unset".into(),
                        attributes: BTreeMap::from([(
                            "http.response.status_code".into(),
                            serde_json::json!(200),
                        )]),
                        start_unix_nanos: 5,
                        duration_nanos: 7,
                    }],
                }],
                unsampled_trace_ids: vec![],
            },
            metrics: MetricsManifest {
                counters: vec![CounterSeries {
                    name: "c".into(),
                    labels: Labels::from([("a".into(), "b".into())]),
                    value: 3,
                }],
                histograms: vec![histogram(&[0.2])],
                process_metrics: vec!["process_cpu_seconds_total".into()],
            },
            losses: vec![Loss::new("logs", "tracing-loki channel full", 4)],
            pushback: Vec::new(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(Manifest::from_json(&text).unwrap(), m);
        assert_eq!(m.logged_trace_ids(), vec!["ab".to_string()]);
        assert_eq!(m.all_services(), vec!["svc".to_string()]);
        assert_eq!(m.log_line_count(), 1);
        assert!(
            text.contains(r#""where":"tracing-loki channel full""#),
            "{text}"
        );
        assert_eq!(m.losses_of("logs").count(), 1);
        assert_eq!(m.losses_of("traces").count(), 0);

        let newer = text.replace("\"schema_version\":1", "\"schema_version\":2");
        assert!(matches!(
            Manifest::from_json(&newer),
            Err(ManifestError::SchemaVersion { found: 2, .. })
        ));
    }

    #[test]
    fn a_manifest_without_losses_has_no_losses_section() {
        let text = r#"{"schema_version":1,"scenario":"s","run_id":"r","service":"x",
            "environment":"e","started_at_unix_ms":0,"finished_at_unix_ms":0}"#;
        let m = Manifest::from_json(text).unwrap();
        assert!(m.losses.is_empty());
        assert!(!serde_json::to_string(&m).unwrap().contains("losses"));
    }

    #[test]
    fn rejects_unknown_fields() {
        let text = r#"{"schema_version":1,"scenario":"s","run_id":"r","service":"x",
            "environment":"e","started_at_unix_ms":0,"finished_at_unix_ms":0,"extra":1}"#;
        let err = Manifest::from_json(text).unwrap_err();
        assert!(format!("{:?}", err).contains("unknown field"), "{err:?}");
    }
}
