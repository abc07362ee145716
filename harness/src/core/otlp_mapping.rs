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
    /// Exemplars stored with it (a histogram's go to the first bucket whose bound
    /// is at least their value; a sum's to its sample).
    pub exemplars: Vec<TranslatedExemplar>,
}

/// An exemplar as a Prometheus-API backend stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatedExemplar {
    /// Its labels: `trace_id` and `span_id` where it has them.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
    /// Its time (Unix ms).
    pub timestamp_ms: i64,
}

fn exemplar_of(e: &super::record::RecordedExemplar) -> TranslatedExemplar {
    let mut labels = Labels::new();
    if let Some(t) = &e.trace_id {
        labels.insert("trace_id".into(), t.clone());
    }
    if let Some(s) = &e.span_id {
        labels.insert("span_id".into(), s.clone());
    }
    TranslatedExemplar {
        labels,
        value: e.value,
        timestamp_ms: (e.time_unix_nano / 1_000_000) as i64,
    }
}

/// The samples a backend stores for `points` under translation `t`. Points that
/// cannot be stored as classic series (exponential histograms, delta sums and
/// histograms) yield none; [`untranslatable`] says which and why.
pub fn translate_points(points: &[RecordedPoint], t: &PromTranslation) -> Vec<TranslatedSample> {
    let mut out = Vec::new();
    // target_info: one per resource, at the latest time of its points.
    let mut resources: BTreeMap<String, (&Attributes, u64)> = BTreeMap::new();
    for p in points.iter().filter(|p| untranslatable(p).is_none()) {
        let ms = (p.time_unix_nano / 1_000_000) as i64;
        let name = metric_name(&p.metric, &p.unit, p.kind, t);
        let mut base = point_labels(p, t);
        let mut push = |name: String, extra: Option<(&str, String)>, value: f64, base: &Labels| {
            let mut labels = base.clone();
            if let Some((k, v)) = extra {
                labels.insert(k.into(), v);
            }
            labels.insert("__name__".into(), name);
            out.push(TranslatedSample {
                labels,
                timestamp_ms: ms,
                value,
                exemplars: Vec::new(),
            });
        };
        match p.kind {
            MetricKind::Gauge | MetricKind::Sum | MetricKind::MonotonicSum => {
                if let Some(v) = p.value {
                    push(name, None, v, &base);
                    if let Some(last) = out.last_mut() {
                        last.exemplars = p.exemplars.iter().map(exemplar_of).collect();
                    }
                }
            }
            MetricKind::Histogram => {
                if let Some(sum) = p.sum {
                    push(format!("{name}_sum"), None, sum, &base);
                }
                let count = p.count.unwrap_or(0);
                push(format!("{name}_count"), None, count as f64, &base);
                let mut cumulative = 0u64;
                for (bound, n) in p.bounds.iter().zip(&p.bucket_counts) {
                    cumulative += n;
                    push(
                        format!("{name}_bucket"),
                        Some(("le", format_float(*bound))),
                        cumulative as f64,
                        &base,
                    );
                }
                push(
                    format!("{name}_bucket"),
                    Some(("le", "+Inf".into())),
                    count as f64,
                    &base,
                );
                // Each exemplar on the first bucket whose bound holds its value.
                let buckets = p.bounds.len() + 1;
                let first = out.len() - buckets;
                for e in &p.exemplars {
                    let i = p
                        .bounds
                        .iter()
                        .position(|b| e.value <= *b)
                        .unwrap_or(p.bounds.len());
                    out[first + i].exemplars.push(exemplar_of(e));
                }
            }
            MetricKind::Summary => {
                if let Some(sum) = p.sum {
                    push(format!("{name}_sum"), None, sum, &base);
                }
                push(
                    format!("{name}_count"),
                    None,
                    p.count.unwrap_or(0) as f64,
                    &base,
                );
                for (q, v) in &p.quantiles {
                    push(
                        name.clone(),
                        Some(("quantile", format_float(*q))),
                        *v,
                        &base,
                    );
                }
            }
            MetricKind::ExponentialHistogram => {}
        }
        base.clear();
        let key = serde_json::to_string(&p.resource).unwrap_or_default();
        let e = resources.entry(key).or_insert((&p.resource, 0));
        e.1 = e.1.max(p.time_unix_nano);
    }
    if t.target_info {
        for (resource, time) in resources.into_values() {
            if let Some(labels) = target_info_labels(resource) {
                out.push(TranslatedSample {
                    labels,
                    timestamp_ms: (time / 1_000_000) as i64,
                    value: 1.0,
                    exemplars: Vec::new(),
                });
            }
        }
    }
    out
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it (bucket bounds,
/// quantiles): `0.005`, `1`, `250`.
fn format_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{f}");
    s
}

/// An attribute value as OpenTelemetry's `AsString` writes it.
pub fn attribute_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn attr(a: &Attributes, key: &str) -> Option<String> {
    a.get(key).map(attribute_text)
}

/// `job` and `instance` from a resource: `service.namespace/service.name` (or the
/// name alone) and `service.instance.id`.
fn job_and_instance(resource: &Attributes) -> Labels {
    let mut l = Labels::new();
    if let Some(name) = attr(resource, "service.name") {
        let job = match attr(resource, "service.namespace") {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        };
        l.insert("job".into(), job);
    }
    if let Some(id) = attr(resource, "service.instance.id") {
        l.insert("instance".into(), id);
    }
    l
}

/// Attributes as labels: names normalised, values of colliding names joined with
/// `;` in the order of their original names.
fn attribute_labels<'a>(
    attrs: impl Iterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Labels {
    let mut sorted: Vec<(&String, &serde_json::Value)> = attrs.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut l = Labels::new();
    for (k, v) in sorted {
        let name = normalize_label(k);
        let v = attribute_text(v);
        l.entry(name)
            .and_modify(|e| {
                e.push(';');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    l
}

/// A point's series labels (without `__name__`) under `t`.
fn point_labels(p: &RecordedPoint, t: &PromTranslation) -> Labels {
    let mut merged: Attributes = p.attributes.clone();
    if t.resource_attributes_as_labels {
        // Cortex copies the resource's attributes over the point's.
        for (k, v) in &p.resource {
            merged.insert(k.clone(), v.clone());
        }
    }
    let mut l = attribute_labels(merged.iter());
    l.extend(job_and_instance(&p.resource));
    l
}

/// `target_info`'s labels for a resource: its non-identifying attributes with `job`
/// and `instance`; `None` when it has no other attribute or neither identifier.
fn target_info_labels(resource: &Attributes) -> Option<Labels> {
    const IDENTIFYING: [&str; 3] = ["service.namespace", "service.name", "service.instance.id"];
    let rest: Vec<(&String, &serde_json::Value)> = resource
        .iter()
        .filter(|(k, _)| !IDENTIFYING.contains(&k.as_str()))
        .collect();
    if rest.is_empty() {
        return None;
    }
    let ids = job_and_instance(resource);
    if ids.is_empty() {
        return None;
    }
    let mut l = attribute_labels(rest.into_iter());
    l.extend(ids);
    l.insert("__name__".into(), "target_info".into());
    Some(l)
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

/// `s` with every character other than `[A-Za-z0-9_]` replaced by `_`, as label
/// names are made from attribute and field names.
///
/// ```
/// use lgtm_check::core::otlp_mapping::label_chars;
/// assert_eq!(label_chars("http.route"), "http_route");
/// ```
pub fn label_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
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
    let s = label_chars(name);
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{s}")
    } else if s.starts_with('_') && !s.starts_with("__") {
        format!("key{s}")
    } else {
        s
    }
}

/// `(major, minor)` of a version such as `3.2.0`, `v1.18.1` or `2.14.0-rc.1`.
///
/// ```
/// use lgtm_check::core::otlp_mapping::major_minor;
/// assert_eq!(major_minor("v1.18.1"), Some((1, 18)));
/// assert_eq!(major_minor("2.42.0+ds"), Some((2, 42)));
/// ```
pub fn major_minor(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.trim_start_matches('v').split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
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

/// Loki 3.0–3.3's default index labels (`distributor.otlp.default_resource_attributes_as_index_labels`).
const LOKI_3_2_INDEX: [&str; 17] = [
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

impl LokiOtlpMapping {
    /// Loki's default mapping for a version `(major, minor)`: 3.0–3.3 index the 17
    /// resource attributes of `default_resource_attributes_as_index_labels`; 3.4 adds
    /// `deployment.environment.name` (the semantic conventions' new name).
    ///
    /// ```
    /// use lgtm_check::core::otlp_mapping::LokiOtlpMapping;
    /// let old = LokiOtlpMapping::for_version(3, 2);
    /// let new = LokiOtlpMapping::for_version(3, 4);
    /// let has = |m: &LokiOtlpMapping| m.index_resource_attributes.iter().any(|a| a == "deployment.environment.name");
    /// assert!(!has(&old) && has(&new));
    /// ```
    pub fn for_version(major: u64, minor: u64) -> Self {
        let mut index: Vec<String> = LOKI_3_2_INDEX.iter().map(|s| s.to_string()).collect();
        if (major, minor) >= (3, 4) {
            index.insert(4, "deployment.environment.name".into());
        }
        LokiOtlpMapping {
            backend: format!("loki {major}.{minor}"),
            index_resource_attributes: index,
        }
    }
}

/// The level Loki derives from an OTLP severity number (`None`: unspecified, so
/// Loki looks at the line instead).
///
/// ```
/// use lgtm_check::core::otlp_mapping::level_of_severity;
/// assert_eq!(level_of_severity(9), Some("info"));
/// assert_eq!(level_of_severity(17), Some("error"));
/// assert_eq!(level_of_severity(0), None);
/// ```
pub fn level_of_severity(n: i32) -> Option<&'static str> {
    match n {
        1..=4 => Some("trace"),
        5..=8 => Some("debug"),
        9..=12 => Some("info"),
        13..=16 => Some("warn"),
        17..=20 => Some("error"),
        21..=24 => Some("fatal"),
        _ => None,
    }
}

/// Attribute names Loki reads a level from before the severity number.
const LEVEL_NAMES: [&str; 9] = [
    "level", "LEVEL", "Level", "Severity", "severity", "SEVERITY", "lvl", "LVL", "Lvl",
];

/// An attribute as Loki stores it: a map flattened into `parent_child` labels, any
/// other value as its text; names normalised.
fn loki_attribute(k: &str, v: &serde_json::Value, prefix: &str, out: &mut Labels) {
    let key = if prefix.is_empty() {
        normalize_label(k)
    } else {
        normalize_label(&format!("{prefix}_{k}"))
    };
    match v {
        serde_json::Value::Object(map) => {
            for (ik, iv) in map {
                loki_attribute(ik, iv, &key, out);
            }
        }
        other => {
            out.insert(key, attribute_text(other));
        }
    }
}

/// The entry Loki stores for `log` under `m` (Loki's `otlpToLokiPushRequest`):
/// index labels from the listed resource attributes (`service_name` falls back to
/// `unknown_service` when the resource has none), the rest of the resource, the
/// scope (`scope_name`, `scope_version`, its attributes), the record's attributes,
/// `observed_timestamp`, `severity_number`, `severity_text`, `flags`, `trace_id` and
/// `span_id` as structured metadata; the body as the line.
///
/// ```
/// use lgtm_check::core::otlp_mapping::{loki_entry, LokiOtlpMapping};
/// use lgtm_check::core::record::{RecordedLog, Scope};
/// let log = RecordedLog {
///     time_unix_nano: 1_732_540_000_000_000_001, observed_time_unix_nano: 0,
///     severity_number: 17, severity_text: "ERROR".into(), body: "payment failed".into(),
///     attributes: [("order.id".to_string(), serde_json::json!(42))].into(),
///     trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()), span_id: Some("00f067aa0ba902b7".into()),
///     flags: 1,
///     resource: [("service.name".to_string(), "shop".into()), ("run_id".to_string(), "r1".into())].into(),
///     scope: Scope { name: "app".into(), ..Scope::default() }, acked: true,
/// };
/// let e = loki_entry(&log, &LokiOtlpMapping::for_version(3, 2));
/// assert_eq!(e.stream["service_name"], "shop");
/// assert_eq!(e.structured_metadata["run_id"], "r1");
/// assert_eq!(e.structured_metadata["order_id"], "42");
/// assert_eq!(e.structured_metadata["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(e.detected_level.as_deref(), Some("error"));
/// assert_eq!(e.line, "payment failed");
/// ```
pub fn loki_entry(log: &RecordedLog, m: &LokiOtlpMapping) -> LokiEntry {
    let mut stream = Labels::new();
    let mut sm = Labels::new();
    for (k, v) in &log.resource {
        if m.index_resource_attributes.iter().any(|a| a == k) {
            loki_attribute(k, v, "", &mut stream);
        } else {
            loki_attribute(k, v, "", &mut sm);
        }
    }
    if log
        .resource
        .get("service.name")
        .is_none_or(|v| attribute_text(v).is_empty())
    {
        stream.insert("service_name".into(), "unknown_service".into());
    }
    if let Ok(attrs) = serde_json::from_str::<Attributes>(&log.scope.attributes) {
        for (k, v) in &attrs {
            loki_attribute(k, v, "", &mut sm);
        }
    }
    if !log.scope.name.is_empty() {
        sm.insert("scope_name".into(), log.scope.name.clone());
    }
    if !log.scope.version.is_empty() {
        sm.insert("scope_version".into(), log.scope.version.clone());
    }
    for (k, v) in &log.attributes {
        loki_attribute(k, v, "", &mut sm);
    }
    if log.time_unix_nano != 0 && log.observed_time_unix_nano != 0 {
        sm.insert(
            "observed_timestamp".into(),
            log.observed_time_unix_nano.to_string(),
        );
    }
    if log.severity_number != 0 {
        sm.insert("severity_number".into(), log.severity_number.to_string());
    }
    if !log.severity_text.is_empty() {
        sm.insert("severity_text".into(), log.severity_text.clone());
    }
    if log.flags != 0 {
        sm.insert("flags".into(), log.flags.to_string());
    }
    if let Some(t) = &log.trace_id {
        sm.insert("trace_id".into(), t.clone());
    }
    if let Some(s) = &log.span_id {
        sm.insert("span_id".into(), s.clone());
    }
    let level_named = LEVEL_NAMES
        .iter()
        .any(|n| stream.contains_key(*n) || sm.contains_key(*n));
    let detected_level = if level_named {
        None
    } else {
        level_of_severity(log.severity_number).map(str::to_owned)
    };
    LokiEntry {
        stream,
        structured_metadata: sm,
        line: log.body_text(),
        timestamp_ns: u128::from(log.timestamp_ns()),
        detected_level,
    }
}

/// The Prometheus name of an OTLP metric under `t`.
///
/// ```
/// use lgtm_check::core::otlp_mapping::{metric_name, PromTranslation};
/// use lgtm_check::core::record::MetricKind;
/// let t = PromTranslation::prometheus("prometheus");
/// assert_eq!(metric_name("http.server.duration", "ms", MetricKind::Histogram, &t),
///            "http_server_duration_milliseconds");
/// assert_eq!(metric_name("orders", "{order}", MetricKind::MonotonicSum, &t), "orders_total");
/// assert_eq!(metric_name("process.memory.usage", "By", MetricKind::Gauge, &t),
///            "process_memory_usage_bytes");
/// assert_eq!(metric_name("cpu.utilization", "1", MetricKind::Gauge, &t), "cpu_utilization_ratio");
/// assert_eq!(metric_name("requests.total", "", MetricKind::MonotonicSum, &t), "requests_total");
/// assert_eq!(metric_name("speed", "m/s", MetricKind::Gauge, &t), "speed_meters_per_second");
/// ```
pub fn metric_name(metric: &str, unit: &str, kind: MetricKind, t: &PromTranslation) -> String {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if !t.add_suffixes {
        let name = metric
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        return if name.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{name}")
        } else {
            name
        };
    }
    let mut tokens = words(metric);
    let mut units = unit.splitn(2, '/');
    let main = units.next().unwrap_or("").trim();
    if !main.is_empty() && !main.contains(['{', '}']) {
        let prom = words(unit_word(main)).join("_");
        if !prom.is_empty() && !tokens.contains(&prom) {
            tokens.push(prom);
        }
    }
    if let Some(per) = units
        .next()
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.contains(['{', '}']))
    {
        let prom = words(per_unit_word(per)).join("_");
        if !prom.is_empty() && !tokens.contains(&prom) {
            tokens.push("per".into());
            tokens.push(prom);
        }
    }
    if kind == MetricKind::MonotonicSum {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && kind == MetricKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let name = tokens.join("_");
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::Scope;

    fn point(kind: MetricKind) -> RecordedPoint {
        RecordedPoint {
            metric: "http.server.duration".into(),
            unit: "ms".into(),
            kind,
            temporality: Temporality::Cumulative,
            attributes: [("http.route".to_string(), serde_json::json!("/users"))].into(),
            resource: [
                ("service.name".to_string(), serde_json::json!("shop")),
                ("run_id".to_string(), serde_json::json!("r1")),
            ]
            .into(),
            scope: Scope::default(),
            time_unix_nano: 1_732_540_000_123_000_000,
            start_time_unix_nano: 0,
            value: None,
            count: Some(3),
            sum: Some(61.0),
            bounds: vec![10.0, 50.0],
            bucket_counts: vec![1, 1, 1],
            quantiles: vec![],
            exemplars: vec![],
            acked: true,
        }
    }

    fn names(samples: &[TranslatedSample]) -> Vec<String> {
        samples
            .iter()
            .map(|s| {
                let mut l = s.labels.clone();
                let n = l.remove("__name__").unwrap();
                format!("{n}{} {}", crate::core::expect::fmt_labels(&l), s.value)
            })
            .collect()
    }

    #[test]
    fn a_histogram_becomes_cumulative_buckets_sum_and_count_with_target_info() {
        let s = translate_points(
            &[point(MetricKind::Histogram)],
            &PromTranslation::prometheus("p"),
        );
        assert_eq!(
            names(&s),
            [
                r#"http_server_duration_milliseconds_sum{http_route="/users", job="shop"} 61"#,
                r#"http_server_duration_milliseconds_count{http_route="/users", job="shop"} 3"#,
                r#"http_server_duration_milliseconds_bucket{http_route="/users", job="shop", le="10"} 1"#,
                r#"http_server_duration_milliseconds_bucket{http_route="/users", job="shop", le="50"} 2"#,
                r#"http_server_duration_milliseconds_bucket{http_route="/users", job="shop", le="+Inf"} 3"#,
                r#"target_info{job="shop", run_id="r1"} 1"#,
            ]
        );
        assert!(s.iter().all(|x| x.timestamp_ms == 1_732_540_000_123));
    }

    #[test]
    fn cortex_1_18_puts_the_resource_on_every_series_and_has_no_target_info() {
        let mut p = point(MetricKind::MonotonicSum);
        p.value = Some(7.0);
        p.metric = "orders".into();
        p.unit = "{order}".into();
        let s = translate_points(&[p], &PromTranslation::cortex_1_18());
        assert_eq!(
            names(&s),
            [
                r#"orders_total{http_route="/users", job="shop", run_id="r1", service_name="shop"} 7"#
            ]
        );
    }

    #[test]
    fn exponential_histograms_and_deltas_are_not_classic_series() {
        let mut d = point(MetricKind::MonotonicSum);
        d.temporality = Temporality::Delta;
        assert!(untranslatable(&d).unwrap().contains("delta"));
        let e = point(MetricKind::ExponentialHistogram);
        assert!(untranslatable(&e).is_some());
        assert!(translate_points(&[d, e], &PromTranslation::prometheus("p")).is_empty());
    }
}
