//! Telemetry shape: what kinds of telemetry arrived, without the values. A [`Shape`]
//! holds the services; per service, the resource attribute keys and each span name ×
//! kind with its attribute keys and the status codes seen; each metric family with
//! its type and label keys; per log service, the stream label keys and the JSON field
//! keys of its lines. Counts are kept beside it as information only ([`Counts`]): the
//! comparison never looks at them.
//!
//! Everything here is pure: [`Shape::build`] makes a shape from observed data (in any
//! order: the result is the same), [`Shape::render`] writes the snapshot file (sorted,
//! no ids, timestamps or durations), [`Shape::parse`] reads it back, and [`diff`]
//! gives the typed [`ShapeChange`]s between a recorded and a new shape, which
//! [`render_changes`] writes for people.
//!
//! Volatile values are never recorded: only keys, names, kinds, types and status
//! codes. Span names are normalised ([`normalise_span_name`]): UUIDs, long hex ids
//! and all-digit path segments become `{uuid}`, `{id}` and `{n}`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::expect::Labels;
use super::observed::{LogEntry, ObservedSpan};

/// The version of the snapshot file format.
pub const SHAPE_SCHEMA_VERSION: u32 = 1;

/// The first line of every snapshot file.
pub const HEADER: &str = "# Telemetry shape recorded by lgtm-check: keys, names, kinds and types of what arrived, no values.";

/// Labels that belong to a metric's structure, not to what the app labels it with.
const STRUCTURAL_LABELS: [&str; 3] = ["__name__", "le", "quantile"];

/// The shape of what arrived. Maps and sets throughout, so that rendering is sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// The snapshot format version ([`SHAPE_SCHEMA_VERSION`]); a file of another
    /// version is refused by [`Shape::parse`].
    pub schema_version: u32,
    /// Every service that sent a span, a log line or a metric with a `service` label.
    pub services: BTreeSet<String>,
    /// Service → resource attribute keys.
    #[serde(default)]
    pub resources: BTreeMap<String, BTreeSet<String>>,
    /// Service → span name → kind → attribute keys and status codes.
    #[serde(default)]
    pub spans: BTreeMap<String, BTreeMap<String, BTreeMap<String, SpanShape>>>,
    /// Metric family → type and label keys.
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricShape>,
    /// Log service (its `service` label, else `service_name`) → label and field keys.
    #[serde(default)]
    pub logs: BTreeMap<String, LogShape>,
    /// Information only: never compared.
    #[serde(default)]
    pub counts: Counts,
}

/// One span name × kind of one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanShape {
    /// Every span attribute key seen on spans of this name and kind (not the
    /// resource's).
    pub attributes: BTreeSet<String>,
    /// `unset`, `ok`, `error`: every status the spans had.
    pub status: BTreeSet<String>,
}

/// One metric family.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricShape {
    /// `counter`, `gauge`, `histogram`, `summary`, … as the backend's metadata says;
    /// from the name where it has none (see [`MetricTypes`]).
    #[serde(rename = "type")]
    pub metric_type: String,
    /// Every label key of its series, without `__name__`, `le` and `quantile`.
    pub labels: BTreeSet<String>,
}

/// The logs of one service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogShape {
    /// Stream label keys (with those the backend adds, e.g. Loki's `detected_level`).
    pub labels: BTreeSet<String>,
    /// Keys of the JSON lines (nested objects as `a.b`); `(text)` if a line is not a
    /// JSON object.
    pub fields: BTreeSet<String>,
}

/// How much arrived: information for the reader, never part of the comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Traces observed.
    #[serde(default)]
    pub traces: usize,
    /// `service / name (kind)` → spans.
    #[serde(default)]
    pub spans: BTreeMap<String, usize>,
    /// Metric family → series.
    #[serde(default)]
    pub series: BTreeMap<String, usize>,
    /// Log service → lines.
    #[serde(default)]
    pub log_lines: BTreeMap<String, usize>,
}

/// The spans of one resource (one batch of a trace): its attributes and spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSpans {
    /// The resource's attributes (`service.name`, `run_id`, …) with their JSON values.
    pub resource: BTreeMap<String, serde_json::Value>,
    /// The spans sent with that resource.
    pub spans: Vec<ObservedSpan>,
}

/// Metric types as a backend's metadata states them: metric family → type
/// (Prometheus' `/api/v1/metadata`). Empty where the backend has none; the type then
/// comes from the name (see [`metric_family`]).
pub type MetricTypes = BTreeMap<String, String>;

/// Everything observed under one run id, as the clients decode it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedRun {
    /// Each trace found, by its batches.
    pub traces: Vec<Vec<ResourceSpans>>,
    /// Every series (a sample's value is not used).
    pub series: Vec<Labels>,
    /// Each metric family's type from the backend's metadata (may be empty).
    pub metric_types: MetricTypes,
    /// Every log line of the run.
    pub logs: Vec<LogEntry>,
}

/// Replaces volatile parts of a span name: UUIDs → `{uuid}`, runs of 16 or more hex
/// digits → `{id}`, all-digit path segments or words → `{n}`.
///
/// ```
/// use lgtm_check::core::shape::normalise_span_name;
///
/// assert_eq!(normalise_span_name("GET /orders/42"), "GET /orders/{n}");
/// assert_eq!(
///     normalise_span_name("fetch 4bf92f3577b34da6a3ce929d0e0e4736"),
///     "fetch {id}"
/// );
/// ```
pub fn normalise_span_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            out.push_str(&normalise_token(token));
            token.clear();
        }
    };
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn normalise_token(t: &str) -> String {
    let hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = t.split('-').collect();
    let uuid = parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| hex(p));
    if uuid {
        "{uuid}".into()
    } else if t.chars().all(|c| c.is_ascii_digit()) {
        "{n}".into()
    } else if t.len() >= 16 && hex(t) {
        "{id}".into()
    } else {
        t.into()
    }
}

/// The family and type of a series named `name`. The backend's metadata wins
/// (`name` itself, or `name` without `_bucket`/`_count`/`_sum`/`_total` when the
/// metadata knows that family). Without metadata the name decides: `_bucket` →
/// histogram; `_count`/`_sum` → histogram if `histograms` holds the family (it has a
/// `_bucket` series), summary if `summaries` does (a series with a `quantile` label);
/// `_total` → counter; anything else `unknown` (a gauge cannot be told by its name).
///
/// ```
/// use std::collections::BTreeSet;
/// use lgtm_check::core::shape::{metric_family, MetricTypes};
///
/// let none = BTreeSet::new();
/// let histograms = BTreeSet::from(["http_duration_seconds".to_string()]);
/// assert_eq!(
///     metric_family("http_duration_seconds_count", &MetricTypes::new(), &histograms, &none),
///     ("http_duration_seconds".to_string(), "histogram".to_string())
/// );
/// assert_eq!(
///     metric_family("orders_total", &MetricTypes::new(), &none, &none),
///     ("orders_total".to_string(), "counter".to_string())
/// );
/// ```
pub fn metric_family(
    name: &str,
    types: &MetricTypes,
    histograms: &BTreeSet<String>,
    summaries: &BTreeSet<String>,
) -> (String, String) {
    if let Some(t) = types.get(name) {
        return (name.into(), t.clone());
    }
    for suffix in ["_bucket", "_count", "_sum", "_total"] {
        if let Some(family) = name.strip_suffix(suffix)
            && let Some(t) = types.get(family)
        {
            return (family.into(), t.clone());
        }
    }
    if let Some(family) = name.strip_suffix("_bucket") {
        return (family.into(), "histogram".into());
    }
    for suffix in ["_count", "_sum"] {
        if let Some(family) = name.strip_suffix(suffix) {
            if histograms.contains(family) {
                return (family.into(), "histogram".into());
            }
            if summaries.contains(family) {
                return (family.into(), "summary".into());
            }
        }
    }
    if name.ends_with("_total") {
        return (name.into(), "counter".into());
    }
    if summaries.contains(name) {
        return (name.into(), "summary".into());
    }
    (name.into(), "unknown".into())
}

/// The keys of a JSON log line (nested objects flattened as `a.b`), or `(text)`.
///
/// ```
/// use lgtm_check::core::shape::log_fields;
///
/// let keys = log_fields(r#"{"message": "paid", "span": {"name": "pay"}}"#);
/// assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["message", "span.name"]);
/// assert!(log_fields("plain text").contains("(text)"));
/// ```
pub fn log_fields(line: &str) -> BTreeSet<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v.as_object() {
            Some(obj) if !obj.is_empty() => {
                for (k, v) in obj {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(v @ serde_json::Value::Object(_)) => walk("", &v, &mut out),
        _ => {
            out.insert("(text)".into());
        }
    }
    out.remove("");
    out
}

fn log_service(labels: &Labels) -> String {
    labels
        .get("service")
        .or_else(|| labels.get("service_name"))
        .cloned()
        .unwrap_or_default()
}

impl Shape {
    /// The shape of what was observed. The order of traces, spans, series and lines
    /// does not matter.
    pub fn build(run: &ObservedRun) -> Shape {
        let mut shape = Shape {
            schema_version: SHAPE_SCHEMA_VERSION,
            ..Shape::default()
        };
        shape.add_traces(&run.traces);
        shape.add_series(&run.series, &run.metric_types);
        shape.add_logs(&run.logs);
        shape
    }

    fn add_traces(&mut self, traces: &[Vec<ResourceSpans>]) {
        self.counts.traces += traces.len();
        for batch in traces.iter().flatten() {
            let service = batch
                .resource
                .get("service.name")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or_else(|| batch.spans.first().map(|s| s.service.clone()))
                .unwrap_or_default();
            self.services.insert(service.clone());
            self.resources
                .entry(service.clone())
                .or_default()
                .extend(batch.resource.keys().cloned());
            for span in &batch.spans {
                let name = normalise_span_name(&span.name);
                let entry = self
                    .spans
                    .entry(service.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .entry(span.kind.clone())
                    .or_default();
                entry.attributes.extend(span.attributes.keys().cloned());
                entry.status.insert(span.status.clone());
                *self
                    .counts
                    .spans
                    .entry(format!("{service} / {name} ({})", span.kind))
                    .or_default() += 1;
            }
        }
    }

    fn add_series(&mut self, series: &[Labels], types: &MetricTypes) {
        let name = |l: &Labels| l.get("__name__").cloned().unwrap_or_default();
        let histograms: BTreeSet<String> = series
            .iter()
            .filter_map(|l| name(l).strip_suffix("_bucket").map(str::to_owned))
            .collect();
        let summaries: BTreeSet<String> = series
            .iter()
            .filter(|l| l.contains_key("quantile"))
            .map(name)
            .collect();
        for labels in series {
            let (family, metric_type) =
                metric_family(&name(labels), types, &histograms, &summaries);
            if let Some(service) = labels.get("service") {
                self.services.insert(service.clone());
            }
            let m = self.metrics.entry(family.clone()).or_default();
            m.metric_type = metric_type;
            m.labels.extend(
                labels
                    .keys()
                    .filter(|k| !STRUCTURAL_LABELS.contains(&k.as_str()))
                    .cloned(),
            );
            *self.counts.series.entry(family).or_default() += 1;
        }
    }

    fn add_logs(&mut self, logs: &[LogEntry]) {
        for entry in logs {
            let service = log_service(&entry.labels);
            if !service.is_empty() {
                self.services.insert(service.clone());
            }
            let l = self.logs.entry(service.clone()).or_default();
            l.labels.extend(entry.labels.keys().cloned());
            l.fields.extend(log_fields(&entry.line));
            *self.counts.log_lines.entry(service).or_default() += 1;
        }
    }

    /// Whether nothing at all arrived.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.metrics.is_empty() && self.logs.is_empty()
    }

    /// The snapshot file: a header, the shape as sorted YAML, and the counts last
    /// under a comment saying they are never compared.
    pub fn render(&self) -> String {
        let mut body = serde_yaml_ng::to_string(self).expect("a shape always serialises");
        if let Some(at) = body.find("\ncounts:") {
            body.insert_str(at + 1, "# Information only: counts are never compared.\n");
        }
        format!(
            "{HEADER}\n# Accept a change: rerun the test with LGTM_CHECK_UPDATE=1 (or the lgtm-check command with --update), review the diff, commit.\n{body}"
        )
    }

    /// Reads a snapshot file written by [`Shape::render`].
    ///
    /// ```
    /// use lgtm_check::core::shape::{ObservedRun, Shape};
    /// use lgtm_check::core::observed::LogEntry;
    ///
    /// let run = ObservedRun {
    ///     logs: vec![LogEntry {
    ///         labels: [("service".to_string(), "shop".to_string())].into(),
    ///         timestamp_ns: 1_732_540_002_000_000_000,
    ///         line: r#"{"message": "paid"}"#.into(),
    ///     }],
    ///     ..ObservedRun::default()
    /// };
    /// let shape = Shape::build(&run);
    /// assert!(shape.logs["shop"].fields.contains("message"));
    /// assert_eq!(Shape::parse(&shape.render()).unwrap(), shape);
    /// ```
    pub fn parse(text: &str) -> Result<Shape, ShapeParseError> {
        let shape: Shape =
            serde_yaml_ng::from_str(text).map_err(|e| ShapeParseError::Yaml(e.to_string()))?;
        if shape.schema_version != SHAPE_SCHEMA_VERSION {
            return Err(ShapeParseError::Version(shape.schema_version));
        }
        Ok(shape)
    }
}

/// Why a snapshot file cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShapeParseError {
    /// The file is not YAML of a shape (or has unknown fields); holds the YAML
    /// parser's message.
    #[error("not a telemetry-shape snapshot: {0}")]
    Yaml(String),
    /// The file was written in another snapshot format version (the one it holds).
    /// Record the snapshot again with this lgtm-check.
    #[error(
        "snapshot schema_version {0} is not the one this lgtm-check reads ({SHAPE_SCHEMA_VERSION})"
    )]
    Version(u32),
}

/// Where in the shape a change is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShapeItem {
    /// A service (by `service.name`, or a metric's or stream's `service` label).
    Service(String),
    /// A resource attribute key of a service's spans.
    ResourceAttribute {
        /// The service.
        service: String,
        /// The resource attribute key.
        key: String,
    },
    /// A span name × kind of a service.
    Span {
        /// The service.
        service: String,
        /// The normalised span name ([`normalise_span_name`]).
        name: String,
        /// The span kind (`server`, `client`, `internal`, …).
        kind: String,
    },
    /// An attribute key of a span name × kind.
    SpanAttribute {
        /// The service.
        service: String,
        /// The normalised span name.
        name: String,
        /// The span kind.
        kind: String,
        /// The span attribute key.
        key: String,
    },
    /// A status code seen on a span name × kind.
    SpanStatus {
        /// The service.
        service: String,
        /// The normalised span name.
        name: String,
        /// The span kind.
        kind: String,
        /// `unset`, `ok` or `error`.
        status: String,
    },
    /// A metric family.
    Metric(String),
    /// A label key of a metric family.
    MetricLabel {
        /// The metric family.
        metric: String,
        /// The label key.
        label: String,
    },
    /// The logs of a service.
    LogService(String),
    /// A stream label key of a service's logs.
    LogLabel {
        /// The log service.
        service: String,
        /// The stream label key.
        label: String,
    },
    /// A JSON field key (`a.b` for nested ones) of a service's log lines.
    LogField {
        /// The log service.
        service: String,
        /// The field key, or `(text)` for lines that are not JSON objects.
        field: String,
    },
}

impl fmt::Display for ShapeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeItem::Service(s) => write!(f, "service `{s}`"),
            ShapeItem::ResourceAttribute { service, key } => {
                write!(f, "service `{service}` resource attribute `{key}`")
            }
            ShapeItem::Span {
                service,
                name,
                kind,
            } => write!(f, "span `{name}` ({kind}) of `{service}`"),
            ShapeItem::SpanAttribute {
                service,
                name,
                kind,
                key,
            } => write!(
                f,
                "span `{name}` ({kind}) of `{service}`: attribute `{key}`"
            ),
            ShapeItem::SpanStatus {
                service,
                name,
                kind,
                status,
            } => write!(
                f,
                "span `{name}` ({kind}) of `{service}`: status `{status}`"
            ),
            ShapeItem::Metric(m) => write!(f, "metric `{m}`"),
            ShapeItem::MetricLabel { metric, label } => {
                write!(f, "metric `{metric}`: label `{label}`")
            }
            ShapeItem::LogService(s) => write!(f, "logs of `{s}`"),
            ShapeItem::LogLabel { service, label } => {
                write!(f, "logs of `{service}`: stream label `{label}`")
            }
            ShapeItem::LogField { service, field } => {
                write!(f, "logs of `{service}`: field `{field}`")
            }
        }
    }
}

/// One difference between the recorded shape and the new one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShapeChange {
    /// In the new shape, not in the recorded one.
    Added(ShapeItem),
    /// In the recorded shape, not in the new one.
    Removed(ShapeItem),
    /// Present in both with a different value (a metric's type).
    Changed {
        /// What changed.
        item: ShapeItem,
        /// The value in the recorded shape.
        from: String,
        /// The value in the new shape.
        to: String,
    },
}

impl fmt::Display for ShapeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeChange::Added(i) => write!(f, "+ added   {i}"),
            ShapeChange::Removed(i) => write!(f, "- removed {i}"),
            ShapeChange::Changed { item, from, to } => {
                write!(f, "~ changed {item}: `{from}` → `{to}`")
            }
        }
    }
}

/// Added and removed members of two sets, as changes.
fn set_changes<T: Ord + Clone>(
    old: &BTreeSet<T>,
    new: &BTreeSet<T>,
    item: impl Fn(&T) -> ShapeItem,
    out: &mut Vec<ShapeChange>,
) {
    out.extend(new.difference(old).map(|x| ShapeChange::Added(item(x))));
    out.extend(old.difference(new).map(|x| ShapeChange::Removed(item(x))));
}

/// Members of two maps: those only in `new` are added (with `whole`), those only in
/// `old` removed, and those in both compared by `inner`.
fn map_changes<K: Ord + Clone, V>(
    old: &BTreeMap<K, V>,
    new: &BTreeMap<K, V>,
    whole: impl Fn(&K) -> ShapeItem,
    mut inner: impl FnMut(&K, &V, &V, &mut Vec<ShapeChange>),
    out: &mut Vec<ShapeChange>,
) {
    for (k, n) in new {
        match old.get(k) {
            None => out.push(ShapeChange::Added(whole(k))),
            Some(o) => inner(k, o, n, out),
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(ShapeChange::Removed(whole(k)));
    }
}

/// Every difference between the recorded shape `old` and `new`, sorted; counts are
/// never compared. A span, metric or log service that appeared or went away is one
/// change (not one per key); a renamed attribute or label is a removal and an
/// addition on the same span or metric.
///
/// ```
/// use lgtm_check::core::shape::{diff, render_changes, MetricShape, Shape};
///
/// let metric = |labels: &[&str]| MetricShape {
///     metric_type: "counter".into(),
///     labels: labels.iter().map(|l| l.to_string()).collect(),
/// };
/// let mut old = Shape::default();
/// old.metrics.insert("orders_total".into(), metric(&["status"]));
/// let mut new = Shape::default();
/// new.metrics.insert("orders_total".into(), metric(&["code"]));
/// assert_eq!(
///     render_changes(&diff(&old, &new)),
///     "  + added   metric `orders_total`: label `code`\n  \
///      - removed metric `orders_total`: label `status`\n"
/// );
/// ```
pub fn diff(old: &Shape, new: &Shape) -> Vec<ShapeChange> {
    let mut out = Vec::new();
    set_changes(
        &old.services,
        &new.services,
        |s| ShapeItem::Service(s.clone()),
        &mut out,
    );
    let empty = BTreeSet::new();
    let services: BTreeSet<&String> = old.resources.keys().chain(new.resources.keys()).collect();
    for service in services {
        if !(old.services.contains(service) && new.services.contains(service)) {
            continue; // the service itself is added or removed: one change says it
        }
        set_changes(
            old.resources.get(service).unwrap_or(&empty),
            new.resources.get(service).unwrap_or(&empty),
            |k| ShapeItem::ResourceAttribute {
                service: service.clone(),
                key: k.clone(),
            },
            &mut out,
        );
    }
    let empty_names = BTreeMap::new();
    let services: BTreeSet<&String> = old.spans.keys().chain(new.spans.keys()).collect();
    for service in services {
        let (o, n) = (
            old.spans.get(service).unwrap_or(&empty_names),
            new.spans.get(service).unwrap_or(&empty_names),
        );
        let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        let empty_kinds = BTreeMap::new();
        for name in names {
            let span = |kind: &String| ShapeItem::Span {
                service: service.clone(),
                name: name.clone(),
                kind: kind.clone(),
            };
            map_changes(
                o.get(name).unwrap_or(&empty_kinds),
                n.get(name).unwrap_or(&empty_kinds),
                span,
                |kind, a, b, out| {
                    set_changes(
                        &a.attributes,
                        &b.attributes,
                        |k| ShapeItem::SpanAttribute {
                            service: service.clone(),
                            name: name.clone(),
                            kind: kind.clone(),
                            key: k.clone(),
                        },
                        out,
                    );
                    set_changes(
                        &a.status,
                        &b.status,
                        |s| ShapeItem::SpanStatus {
                            service: service.clone(),
                            name: name.clone(),
                            kind: kind.clone(),
                            status: s.clone(),
                        },
                        out,
                    );
                },
                &mut out,
            );
        }
    }
    map_changes(
        &old.metrics,
        &new.metrics,
        |m| ShapeItem::Metric(m.clone()),
        |metric, a, b, out| {
            if a.metric_type != b.metric_type {
                out.push(ShapeChange::Changed {
                    item: ShapeItem::Metric(metric.clone()),
                    from: a.metric_type.clone(),
                    to: b.metric_type.clone(),
                });
            }
            set_changes(
                &a.labels,
                &b.labels,
                |l| ShapeItem::MetricLabel {
                    metric: metric.clone(),
                    label: l.clone(),
                },
                out,
            );
        },
        &mut out,
    );
    map_changes(
        &old.logs,
        &new.logs,
        |s| ShapeItem::LogService(s.clone()),
        |service, a, b, out| {
            set_changes(
                &a.labels,
                &b.labels,
                |l| ShapeItem::LogLabel {
                    service: service.clone(),
                    label: l.clone(),
                },
                out,
            );
            set_changes(
                &a.fields,
                &b.fields,
                |f| ShapeItem::LogField {
                    service: service.clone(),
                    field: f.clone(),
                },
                out,
            );
        },
        &mut out,
    );
    out.sort_by(|a, b| item_of(a).cmp(item_of(b)).then(a.cmp(b)));
    out.dedup();
    out
}

fn item_of(c: &ShapeChange) -> &ShapeItem {
    match c {
        ShapeChange::Added(i) | ShapeChange::Removed(i) => i,
        ShapeChange::Changed { item, .. } => item,
    }
}

/// The changes for people, one per line, grouped by where they are.
pub fn render_changes(changes: &[ShapeChange]) -> String {
    let mut out = String::new();
    for c in changes {
        out.push_str(&format!("  {c}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(name: &str, kind: &str, status: &str, attrs: &[&str]) -> ObservedSpan {
        ObservedSpan {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            parent_span_id: None,
            name: name.into(),
            service: "rust-app".into(),
            kind: kind.into(),
            status: status.into(),
            attributes: attrs.iter().map(|k| (k.to_string(), json!("v"))).collect(),
        }
    }

    fn batch(spans: Vec<ObservedSpan>) -> ResourceSpans {
        ResourceSpans {
            resource: [
                ("service.name".to_string(), json!("rust-app")),
                ("run_id".to_string(), json!("r1")),
            ]
            .into(),
            spans,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run() -> ObservedRun {
        let server = [
            "http.request.method",
            "http.route",
            "http.response.status_code",
        ];
        ObservedRun {
            traces: vec![
                vec![batch(vec![
                    span("GET /api/users", "server", "unset", &server),
                    span("SELECT users", "client", "unset", &["db.system"]),
                ])],
                vec![batch(vec![span(
                    "GET /api/users",
                    "server",
                    "error",
                    &server,
                )])],
            ],
            series: vec![
                labels(&[
                    ("__name__", "http_requests_total"),
                    ("method", "GET"),
                    ("status", "200"),
                    ("service", "rust-app"),
                ]),
                labels(&[
                    ("__name__", "http_request_duration_seconds_bucket"),
                    ("method", "GET"),
                    ("le", "0.1"),
                ]),
                labels(&[
                    ("__name__", "http_request_duration_seconds_count"),
                    ("method", "GET"),
                ]),
                labels(&[
                    ("__name__", "http_request_duration_seconds_sum"),
                    ("method", "GET"),
                ]),
            ],
            metric_types: MetricTypes::new(),
            logs: vec![
                LogEntry {
                    labels: labels(&[("service", "rust-app"), ("level", "info")]),
                    timestamp_ns: 1,
                    line: r#"{"message":"request handled","latency_ms":31,"span":{"id":"x"}}"#
                        .into(),
                },
                LogEntry {
                    labels: labels(&[("service", "rust-app"), ("level", "error")]),
                    timestamp_ns: 2,
                    line: "plain text".into(),
                },
            ],
        }
    }

    #[test]
    fn the_shape_keeps_keys_names_kinds_types_and_statuses() {
        let s = Shape::build(&run());
        assert_eq!(s.services, BTreeSet::from(["rust-app".to_string()]));
        assert_eq!(
            s.resources["rust-app"],
            BTreeSet::from(["run_id".to_string(), "service.name".to_string()])
        );
        let users = &s.spans["rust-app"]["GET /api/users"]["server"];
        assert!(users.attributes.contains("http.route"));
        assert_eq!(
            users.status,
            BTreeSet::from(["error".to_string(), "unset".to_string()])
        );
        assert_eq!(s.metrics["http_requests_total"].metric_type, "counter");
        let hist = &s.metrics["http_request_duration_seconds"];
        assert_eq!(hist.metric_type, "histogram");
        assert_eq!(hist.labels, BTreeSet::from(["method".to_string()]), "no le");
        assert_eq!(
            s.logs["rust-app"].fields,
            ["(text)", "latency_ms", "message", "span.id"]
                .map(String::from)
                .into()
        );
        assert_eq!(s.counts.traces, 2);
        assert_eq!(s.counts.spans["rust-app / GET /api/users (server)"], 2);
        assert_eq!(s.counts.series["http_request_duration_seconds"], 3);
    }

    #[test]
    fn the_rendering_does_not_depend_on_arrival_order_and_reads_back() {
        let a = run();
        let mut b = run();
        b.traces.reverse();
        b.traces[1][0].spans.reverse();
        b.series.reverse();
        b.logs.reverse();
        let (ra, rb) = (Shape::build(&a).render(), Shape::build(&b).render());
        assert_eq!(ra, rb);
        assert!(ra.starts_with(HEADER), "{ra}");
        assert!(
            ra.contains("# Information only: counts are never compared.\ncounts:"),
            "{ra}"
        );
        assert_eq!(Shape::parse(&ra).unwrap(), Shape::build(&a));
    }

    #[test]
    fn volatile_values_never_reach_the_file() {
        let mut r = run();
        r.traces[0][0]
            .spans
            .push(span("GET /api/users/4711", "server", "ok", &[]));
        r.traces[0][0].spans.push(span(
            "GET /orders/6f1c2a9e-1b2c-4d5e-8f90-123456789abc/items/4bf92f3577b34da6",
            "server",
            "ok",
            &[],
        ));
        let text = Shape::build(&r).render();
        for volatile in [
            "4bf92f3577b34da6",
            "00f067aa0ba902b7",
            "4711",
            "6f1c2a9e",
            "r1",
        ] {
            assert!(!text.contains(volatile), "{volatile} in:\n{text}");
        }
        assert!(text.contains("GET /api/users/{n}"), "{text}");
        assert!(text.contains("GET /orders/{uuid}/items/{id}"), "{text}");
        assert_eq!(normalise_span_name("SELECT users"), "SELECT users");
        assert_eq!(
            normalise_span_name("GET /api/v2/users"),
            "GET /api/v2/users"
        );
    }

    #[test]
    fn a_renamed_attribute_is_removed_and_added_on_the_span_it_belongs_to() {
        let old = Shape::build(&run());
        let mut r = run();
        for t in &mut r.traces {
            for s in &mut t[0].spans {
                if let Some(v) = s.attributes.remove("http.route") {
                    s.attributes.insert("http.target".into(), v);
                }
            }
        }
        let changes = diff(&old, &Shape::build(&r));
        let span = |key: &str| ShapeItem::SpanAttribute {
            service: "rust-app".into(),
            name: "GET /api/users".into(),
            kind: "server".into(),
            key: key.into(),
        };
        assert_eq!(
            changes,
            vec![
                ShapeChange::Removed(span("http.route")),
                ShapeChange::Added(span("http.target")),
            ]
        );
        let text = render_changes(&changes);
        assert_eq!(
            text,
            "  - removed span `GET /api/users` (server) of `rust-app`: attribute `http.route`\n  \
             + added   span `GET /api/users` (server) of `rust-app`: attribute `http.target`\n"
        );
    }

    #[test]
    fn a_metric_label_or_type_change_names_the_metric() {
        let old = Shape::build(&run());
        let mut r = run();
        r.series[0].remove("status");
        r.series[0].insert("code".into(), "200".into());
        r.metric_types
            .insert("http_request_duration_seconds".into(), "summary".into());
        let text = render_changes(&diff(&old, &Shape::build(&r)));
        assert!(
            text.contains(
                "~ changed metric `http_request_duration_seconds`: `histogram` → `summary`"
            ),
            "{text}"
        );
        assert!(
            text.contains("+ added   metric `http_requests_total`: label `code`"),
            "{text}"
        );
        assert!(
            text.contains("- removed metric `http_requests_total`: label `status`"),
            "{text}"
        );
    }

    #[test]
    fn spans_metrics_and_log_keys_that_appear_or_go_are_one_change_each() {
        let old = Shape::build(&run());
        let mut r = run();
        r.traces[0][0].spans.remove(1); // SELECT users
        r.series.remove(0); // http_requests_total
        r.logs[0].labels.insert("tier".into(), "web".into());
        let changes = diff(&old, &Shape::build(&r));
        assert_eq!(
            changes,
            vec![
                ShapeChange::Removed(ShapeItem::Span {
                    service: "rust-app".into(),
                    name: "SELECT users".into(),
                    kind: "client".into()
                }),
                ShapeChange::Removed(ShapeItem::Metric("http_requests_total".into())),
                ShapeChange::Added(ShapeItem::LogLabel {
                    service: "rust-app".into(),
                    label: "tier".into()
                }),
            ]
        );
    }

    #[test]
    fn counts_never_fail_the_comparison() {
        let old = Shape::build(&run());
        let mut r = run();
        let more = r.traces[0].clone();
        r.traces.extend([more.clone(), more]);
        r.logs.extend(r.logs.clone());
        let new = Shape::build(&r);
        assert_ne!(old.counts, new.counts);
        assert_eq!(diff(&old, &new), vec![]);
        // Edited counts in the file are read and ignored too.
        let edited = old.render().replace("traces: 2", "traces: 999");
        assert_eq!(diff(&Shape::parse(&edited).unwrap(), &new), vec![]);
    }

    #[test]
    fn metadata_types_win_over_the_name() {
        let types: MetricTypes = [
            ("http_requests".to_string(), "counter".to_string()),
            ("queue_depth_total".to_string(), "gauge".to_string()),
        ]
        .into();
        let none = BTreeSet::new();
        let f = |n: &str| metric_family(n, &types, &none, &none);
        assert_eq!(
            f("http_requests_total"),
            ("http_requests".into(), "counter".into())
        );
        assert_eq!(
            f("queue_depth_total"),
            ("queue_depth_total".into(), "gauge".into())
        );
        assert_eq!(f("temperature"), ("temperature".into(), "unknown".into()));
        let summaries = BTreeSet::from(["rpc_seconds".to_string()]);
        assert_eq!(
            metric_family("rpc_seconds_sum", &MetricTypes::new(), &none, &summaries),
            ("rpc_seconds".into(), "summary".into())
        );
    }

    #[test]
    fn a_file_that_is_not_a_snapshot_is_a_named_error() {
        assert!(matches!(
            Shape::parse("services: [a]\nsurprise: 1\n"),
            Err(ShapeParseError::Yaml(m)) if m.contains("surprise")
        ));
        let future = Shape::build(&run())
            .render()
            .replace("schema_version: 1", "schema_version: 7");
        assert_eq!(Shape::parse(&future), Err(ShapeParseError::Version(7)));
    }
}
