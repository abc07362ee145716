//! The gateway's receivers, pure: request bodies in, OTLP messages and record
//! entries out. No I/O: the server hands each body here, then the entries to the
//! record.
//!
//! - OTLP ([`otlp_request`], protobuf or OTLP/JSON, gzip or not) into the
//!   `opentelemetry-proto` messages, then [`spans`], [`logs`] and [`points`];
//! - Loki's push API ([`loki_push`], JSON or snappy protobuf) into
//!   [`RecordedLokiLine`]s, stream labels parsed by [`parse_labels`];
//! - remote write ([`remote_write`], snappy protobuf) into [`RecordedSample`]s;
//! - an OTLP answer's partial success ([`partial_success`]).
//!
//! Every entry comes out with `acked: false`; the gateway marks it once the backend
//! has answered. Errors are [`DecodeError`]s whose message the program gets back
//! with HTTP 400 or gRPC `INVALID_ARGUMENT`.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, exemplar, metric, number_data_point,
};
use prost::Message as _;

use crate::core::record::{
    Attributes, Labels, MetricKind, RecordSignal, RecordedExemplar, RecordedLog, RecordedLokiLine,
    RecordedPoint, RecordedSample, RecordedSpan, Scope, Temporality,
};

/// Why a request body cannot be read; the message names the format and what is
/// wrong, and goes back to the program as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct DecodeError {
    /// What was being read (`OTLP/JSON traces`, `gzip body`, `Loki push labels`).
    pub what: String,
    /// The decoder's words.
    pub detail: String,
}

impl DecodeError {
    fn new(what: impl Into<String>, detail: impl ToString) -> Self {
        DecodeError {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// How an OTLP/HTTP body is encoded, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf` (and anything that is not JSON).
    Protobuf,
    /// `application/json`.
    Json,
}

impl OtlpEncoding {
    /// The encoding a `Content-Type` names: JSON for `application/json` (any
    /// parameters), protobuf otherwise, as the OTLP/HTTP receivers read it.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/json") => OtlpEncoding::Json,
            _ => OtlpEncoding::Protobuf,
        }
    }

    /// How the record names a request in this encoding (`otlp/http-protobuf`,
    /// `otlp/http-json`).
    pub fn protocol(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "otlp/http-protobuf",
            OtlpEncoding::Json => "otlp/http-json",
        }
    }
}

/// The body without its `Content-Encoding`: gzip and deflate are undone, `identity`
/// or none leave it as it is; snappy is left to the Loki and remote-write decoders
/// (their snappy is part of the format, and so is the header).
pub fn decode_content<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") | Some("snappy") => Ok(Cow::Borrowed(body)),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::new("gzip body", e))?;
            Ok(Cow::Owned(out))
        }
        Some("deflate") => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::new("deflate body", e))?;
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(DecodeError::new(
            "Content-Encoding",
            format!("`{other}` is not supported (gzip, deflate or none)"),
        )),
    }
}

/// An OTLP export request of any signal: `ExportTraceServiceRequest`,
/// `ExportLogsServiceRequest` or `ExportMetricsServiceRequest`.
pub trait OtlpRequest: prost::Message + Default + serde::de::DeserializeOwned {
    /// The signal it carries.
    const SIGNAL: RecordSignal;
}

impl OtlpRequest for ExportTraceServiceRequest {
    const SIGNAL: RecordSignal = RecordSignal::Traces;
}
impl OtlpRequest for ExportLogsServiceRequest {
    const SIGNAL: RecordSignal = RecordSignal::Logs;
}
impl OtlpRequest for ExportMetricsServiceRequest {
    const SIGNAL: RecordSignal = RecordSignal::Metrics;
}

/// Decodes an OTLP/HTTP body (already without its `Content-Encoding`, see
/// [`decode_content`]) in `encoding`.
///
/// OTLP/JSON as the specification writes it: ids as hex, 64-bit integers as
/// strings or numbers, enums as numbers, unknown fields ignored.
pub fn otlp_request<R: OtlpRequest>(body: &[u8], encoding: OtlpEncoding) -> Result<R, DecodeError> {
    let what = || {
        format!(
            "{} {}",
            match encoding {
                OtlpEncoding::Protobuf => "OTLP/protobuf",
                OtlpEncoding::Json => "OTLP/JSON",
            },
            R::SIGNAL.as_str()
        )
    };
    match encoding {
        OtlpEncoding::Protobuf => R::decode(body).map_err(|e| DecodeError::new(what(), e)),
        OtlpEncoding::Json => {
            // Fill what the generated serde impls require but the specification lets
            // a sender leave out (an empty `arrayValue`/`kvlistValue`).
            let mut value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| DecodeError::new(what(), e))?;
            normalize_json(&mut value);
            serde_json::from_value(value).map_err(|e| DecodeError::new(what(), e))
        }
    }
}

/// Adds `"values": []` to an `arrayValue` or `kvlistValue` object that has none
/// (OTLP/JSON omits empty repeated fields; the generated types require this one).
fn normalize_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for key in ["arrayValue", "kvlistValue"] {
                if let Some(serde_json::Value::Object(inner)) = map.get_mut(key) {
                    inner
                        .entry("values")
                        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                }
            }
            for (_, child) in map.iter_mut() {
                normalize_json(child);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalize_json),
        _ => {}
    }
}

/// Lowercase hex of an id; `None` when it is empty or all zeroes (unset).
fn id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|b| *b == 0) {
        return None;
    }
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An OpenTelemetry value as JSON: strings, booleans, integers and doubles as
/// themselves, arrays as arrays, key-value lists as objects, bytes as base64 text;
/// an empty value as `null`.
pub fn any_value_json(v: Option<&AnyValue>) -> serde_json::Value {
    use serde_json::Value as J;
    match v.and_then(|v| v.value.as_ref()) {
        None => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or_else(|| J::String(d.to_string()), J::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => {
            J::Array(a.values.iter().map(|v| any_value_json(Some(v))).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), any_value_json(kv.value.as_ref())))
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        // A reference into a profile's string table: profiles only, never here.
        Some(any_value::Value::StringValueStrindex(i)) => J::from(*i),
    }
}

/// Attributes as the record keeps them.
pub fn attributes(kvs: &[KeyValue]) -> Attributes {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_value_json(kv.value.as_ref())))
        .collect()
}

fn scope(s: Option<&InstrumentationScope>) -> Scope {
    let Some(s) = s else {
        return Scope::default();
    };
    Scope {
        name: s.name.clone(),
        version: s.version.clone(),
        attributes: if s.attributes.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&attributes(&s.attributes)).unwrap_or_default()
        },
    }
}

/// The record's name of an OTLP span kind.
fn span_kind(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

/// The record's name of an OTLP status code.
fn status_code(code: i32) -> &'static str {
    match code {
        1 => "ok",
        2 => "error",
        _ => "unset",
    }
}

/// Every span of `request`, in order, each with its resource and scope.
pub fn spans(request: &ExportTraceServiceRequest) -> Vec<RecordedSpan> {
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            let scope = scope(ss.scope.as_ref());
            for s in &ss.spans {
                out.push(RecordedSpan {
                    trace_id: id(&s.trace_id).unwrap_or_default(),
                    span_id: id(&s.span_id).unwrap_or_default(),
                    parent_span_id: id(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: span_kind(s.kind).into(),
                    status: status_code(s.status.as_ref().map_or(0, |st| st.code)).into(),
                    start_unix_nanos: s.start_time_unix_nano,
                    end_unix_nanos: s.end_time_unix_nano,
                    attributes: attributes(&s.attributes),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    acked: false,
                });
            }
        }
    }
    out
}

/// Every log record of `request`, in order, each with its resource and scope.
pub fn logs(request: &ExportLogsServiceRequest) -> Vec<RecordedLog> {
    let mut out = Vec::new();
    for rl in &request.resource_logs {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for sl in &rl.scope_logs {
            let scope = scope(sl.scope.as_ref());
            for l in &sl.log_records {
                out.push(RecordedLog {
                    time_unix_nano: l.time_unix_nano,
                    observed_time_unix_nano: l.observed_time_unix_nano,
                    severity_number: l.severity_number,
                    severity_text: l.severity_text.clone(),
                    body: any_value_json(l.body.as_ref()),
                    attributes: attributes(&l.attributes),
                    trace_id: id(&l.trace_id),
                    span_id: id(&l.span_id),
                    flags: l.flags,
                    resource: resource.clone(),
                    scope: scope.clone(),
                    acked: false,
                });
            }
        }
    }
    out
}

fn temporality(t: i32) -> Temporality {
    match AggregationTemporality::try_from(t) {
        Ok(AggregationTemporality::Delta) => Temporality::Delta,
        Ok(AggregationTemporality::Cumulative) => Temporality::Cumulative,
        _ => Temporality::Unspecified,
    }
}

fn exemplars(es: &[Exemplar]) -> Vec<RecordedExemplar> {
    es.iter()
        .map(|e| RecordedExemplar {
            trace_id: id(&e.trace_id),
            span_id: id(&e.span_id),
            value: match e.value {
                Some(exemplar::Value::AsDouble(d)) => d,
                Some(exemplar::Value::AsInt(i)) => i as f64,
                None => 0.0,
            },
            time_unix_nano: e.time_unix_nano,
        })
        .collect()
}

/// Every data point of `request`, one entry each, in order, each with its metric's
/// name, unit, kind and temporality and its resource and scope.
pub fn points(request: &ExportMetricsServiceRequest) -> Vec<RecordedPoint> {
    let mut out = Vec::new();
    for rm in &request.resource_metrics {
        let resource = rm
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        for sm in &rm.scope_metrics {
            let scope = scope(sm.scope.as_ref());
            for m in &sm.metrics {
                let base = |kind, temporality, attrs: &[KeyValue], time, start| RecordedPoint {
                    metric: m.name.clone(),
                    unit: m.unit.clone(),
                    kind,
                    temporality,
                    attributes: attributes(attrs),
                    resource: resource.clone(),
                    scope: scope.clone(),
                    time_unix_nano: time,
                    start_time_unix_nano: start,
                    value: None,
                    count: None,
                    sum: None,
                    bounds: Vec::new(),
                    bucket_counts: Vec::new(),
                    quantiles: Vec::new(),
                    exemplars: Vec::new(),
                    acked: false,
                };
                let number = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| {
                    p.value.map(|v| match v {
                        number_data_point::Value::AsDouble(d) => d,
                        number_data_point::Value::AsInt(i) => i as f64,
                    })
                };
                match &m.data {
                    None => {}
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            out.push(RecordedPoint {
                                value: number(p),
                                exemplars: exemplars(&p.exemplars),
                                ..base(
                                    MetricKind::Gauge,
                                    Temporality::Unspecified,
                                    &p.attributes,
                                    p.time_unix_nano,
                                    p.start_time_unix_nano,
                                )
                            });
                        }
                    }
                    Some(metric::Data::Sum(s)) => {
                        let kind = if s.is_monotonic {
                            MetricKind::MonotonicSum
                        } else {
                            MetricKind::Sum
                        };
                        for p in &s.data_points {
                            out.push(RecordedPoint {
                                value: number(p),
                                exemplars: exemplars(&p.exemplars),
                                ..base(
                                    kind,
                                    temporality(s.aggregation_temporality),
                                    &p.attributes,
                                    p.time_unix_nano,
                                    p.start_time_unix_nano,
                                )
                            });
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for p in &h.data_points {
                            out.push(RecordedPoint {
                                count: Some(p.count),
                                sum: p.sum,
                                bounds: p.explicit_bounds.clone(),
                                bucket_counts: p.bucket_counts.clone(),
                                exemplars: exemplars(&p.exemplars),
                                ..base(
                                    MetricKind::Histogram,
                                    temporality(h.aggregation_temporality),
                                    &p.attributes,
                                    p.time_unix_nano,
                                    p.start_time_unix_nano,
                                )
                            });
                        }
                    }
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        for p in &h.data_points {
                            out.push(RecordedPoint {
                                count: Some(p.count),
                                sum: p.sum,
                                exemplars: exemplars(&p.exemplars),
                                ..base(
                                    MetricKind::ExponentialHistogram,
                                    temporality(h.aggregation_temporality),
                                    &p.attributes,
                                    p.time_unix_nano,
                                    p.start_time_unix_nano,
                                )
                            });
                        }
                    }
                    Some(metric::Data::Summary(s)) => {
                        for p in &s.data_points {
                            out.push(RecordedPoint {
                                count: Some(p.count),
                                sum: Some(p.sum),
                                quantiles: p
                                    .quantile_values
                                    .iter()
                                    .map(|q| (q.quantile, q.value))
                                    .collect(),
                                ..base(
                                    MetricKind::Summary,
                                    Temporality::Unspecified,
                                    &p.attributes,
                                    p.time_unix_nano,
                                    p.start_time_unix_nano,
                                )
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Loki's `logproto.PushRequest`, the two messages a push needs (hand-derived: the
/// `loki-api` crate is built on another prost and lacks structured metadata).
pub mod logproto {
    /// `logproto.PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        /// The streams pushed.
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    /// `logproto.StreamAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        /// The stream's labels as text: `{job="shop", level="info"}`.
        #[prost(string, tag = "1")]
        pub labels: String,
        /// Its entries.
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
        /// The labels' hash (unused by the push API).
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    /// `logproto.EntryAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        /// The entry's time.
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        /// The line.
        #[prost(string, tag = "2")]
        pub line: String,
        /// Structured metadata.
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
    }

    /// `logproto.LabelPairAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        /// The name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// The value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Timestamp {
        /// Seconds since the Unix epoch.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds within the second.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// Parses a stream's labels as Loki's push protobuf carries them: `{job="shop",
/// level="info"}`, values Go-quoted (`\"`, `\\`, `\n`, `\t`).
///
/// ```
/// use lgtm_check::gateway::decode::parse_labels;
/// let l = parse_labels(r#"{job="shop", msg="a \"b\""}"#).unwrap();
/// assert_eq!(l["job"], "shop");
/// assert_eq!(l["msg"], r#"a "b""#);
/// ```
pub fn parse_labels(text: &str) -> Result<Labels, DecodeError> {
    let bad = |detail: String| DecodeError::new("Loki push labels", detail);
    let t = text.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| bad(format!("`{t}` is not `{{name=\"value\", …}}`")))?;
    let mut labels = Labels::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return Err(bad(format!("`{t}`: expected a label name and `=`")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('"') {
            return Err(bad(format!("`{t}`: the value of {name} is not quoted")));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(bad(format!("`{t}`: the value of {name} is not closed"))),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some(c) => value.push(c),
                    None => return Err(bad(format!("`{t}`: a trailing `\\`"))),
                },
                Some(c) => value.push(c),
            }
        }
        labels.insert(name, value);
    }
    Ok(labels)
}

/// The JSON push body: `{"streams":[{"stream":{…},"values":[["<ns>","line",{…}?]]}]}`.
#[derive(serde::Deserialize)]
struct JsonPush {
    #[serde(default)]
    streams: Vec<JsonStream>,
}

#[derive(serde::Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: Labels,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// Every line of a Loki push (`/loki/api/v1/push`): JSON when the `Content-Type` is
/// `application/json`, else `logproto.PushRequest` in snappy block format (what
/// Promtail, Alloy and the Loki clients send); `Content-Encoding: gzip` undone first.
pub fn loki_push(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
) -> Result<Vec<RecordedLokiLine>, DecodeError> {
    let body = decode_content(content_encoding, body)?;
    let mut out = Vec::new();
    if OtlpEncoding::from_content_type(content_type) == OtlpEncoding::Json {
        let what = "Loki push JSON";
        let push: JsonPush =
            serde_json::from_slice(&body).map_err(|e| DecodeError::new(what, e))?;
        for s in push.streams {
            for v in s.values {
                let ts = match v.first() {
                    Some(serde_json::Value::String(s)) => s.parse::<u128>().ok(),
                    Some(serde_json::Value::Number(n)) => n.as_u64().map(u128::from),
                    _ => None,
                }
                .ok_or_else(|| {
                    DecodeError::new(what, "an entry's first element is not a time in ns")
                })?;
                let line = match v.get(1) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    _ => {
                        return Err(DecodeError::new(
                            what,
                            "an entry's second element is not a line",
                        ));
                    }
                };
                let structured_metadata = match v.get(2) {
                    None | Some(serde_json::Value::Null) => Labels::new(),
                    Some(serde_json::Value::Object(m)) => m
                        .iter()
                        .map(|(k, v)| {
                            let v = match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                    Some(_) => {
                        return Err(DecodeError::new(
                            what,
                            "an entry's structured metadata is not an object",
                        ));
                    }
                };
                out.push(RecordedLokiLine {
                    labels: s.stream.clone(),
                    timestamp_ns: ts,
                    line,
                    structured_metadata,
                    acked: false,
                });
            }
        }
        return Ok(out);
    }
    let raw = snappy(&body, "Loki push")?;
    let push = logproto::PushRequest::decode(raw.as_slice())
        .map_err(|e| DecodeError::new("Loki push protobuf", e))?;
    for s in push.streams {
        let labels = parse_labels(&s.labels)?;
        for e in s.entries {
            let ts = e.timestamp.unwrap_or_default();
            let ns = (ts.seconds.max(0) as u128) * 1_000_000_000 + ts.nanos.max(0) as u128;
            out.push(RecordedLokiLine {
                labels: labels.clone(),
                timestamp_ns: ns,
                line: e.line,
                structured_metadata: e
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
                acked: false,
            });
        }
    }
    Ok(out)
}

/// Snappy block format undone.
fn snappy(body: &[u8], what: &str) -> Result<Vec<u8>, DecodeError> {
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::new(format!("{what} snappy body"), e))
}

/// Every sample of a remote write (`prometheus.WriteRequest`, snappy block format),
/// with its series' labels.
pub fn remote_write(body: &[u8]) -> Result<Vec<RecordedSample>, DecodeError> {
    let raw = snappy(body, "remote write")?;
    let request = lgtm_scenarios::prompb::WriteRequest::decode(raw.as_slice())
        .map_err(|e| DecodeError::new("remote write protobuf", e))?;
    let mut out = Vec::new();
    for ts in request.timeseries {
        let labels: Labels = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
        for s in ts.samples {
            out.push(RecordedSample {
                labels: labels.clone(),
                timestamp_ms: s.timestamp,
                value: s.value,
                acked: false,
            });
        }
    }
    Ok(out)
}

/// What an OTLP answer's `partial_success` says: items rejected and the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    /// `rejected_spans`, `rejected_log_records` or `rejected_data_points`.
    pub rejected: u64,
    /// `error_message`.
    pub message: String,
}

/// The `partial_success` of an OTLP export answer for `signal` (protobuf, or JSON
/// when `content_type` says so); `None` when the body has none or cannot be read.
pub fn partial_success(
    signal: RecordSignal,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<PartialSuccess> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    if body.is_empty() {
        return None;
    }
    let p = if OtlpEncoding::from_content_type(content_type) == OtlpEncoding::Json {
        // By hand: the generated types want the count as a number, OTLP/JSON writes
        // it as a string.
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let ps = v.get("partialSuccess")?;
        let field = match signal {
            RecordSignal::Traces => "rejectedSpans",
            RecordSignal::Logs => "rejectedLogRecords",
            RecordSignal::Metrics => "rejectedDataPoints",
        };
        let rejected = match ps.get(field) {
            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok()?,
            Some(serde_json::Value::Number(n)) => n.as_u64()?,
            _ => 0,
        };
        PartialSuccess {
            rejected,
            message: ps
                .get("errorMessage")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned(),
        }
    } else {
        match signal {
            RecordSignal::Traces => {
                let p = ExportTraceServiceResponse::decode(body)
                    .ok()?
                    .partial_success?;
                PartialSuccess {
                    rejected: p.rejected_spans.max(0) as u64,
                    message: p.error_message,
                }
            }
            RecordSignal::Logs => {
                let p = ExportLogsServiceResponse::decode(body)
                    .ok()?
                    .partial_success?;
                PartialSuccess {
                    rejected: p.rejected_log_records.max(0) as u64,
                    message: p.error_message,
                }
            }
            RecordSignal::Metrics => {
                let p = ExportMetricsServiceResponse::decode(body)
                    .ok()?
                    .partial_success?;
                PartialSuccess {
                    rejected: p.rejected_data_points.max(0) as u64,
                    message: p.error_message,
                }
            }
        }
    };
    (p != PartialSuccess::default()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
        summary_data_point::ValueAtQuantile,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
    use std::io::Write;

    const TRACE: [u8; 16] = [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];
    const SPAN: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn s(v: &str) -> any_value::Value {
        any_value::Value::StringValue(v.into())
    }

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv("service.name", s("shop"))],
            ..Default::default()
        })
    }

    fn scope_v1() -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "shop.lib".into(),
            version: "1.2".into(),
            attributes: vec![kv("lib.kind", s("web"))],
            ..Default::default()
        })
    }

    fn trace_request() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    scope: scope_v1(),
                    spans: vec![
                        Span {
                            trace_id: TRACE.to_vec(),
                            span_id: SPAN.to_vec(),
                            name: "GET /cart".into(),
                            kind: 2,
                            start_time_unix_nano: 1_700_000_000_000_000_000,
                            end_time_unix_nano: 1_700_000_000_500_000_000,
                            attributes: vec![
                                kv("http.status", any_value::Value::IntValue(200)),
                                kv("ok", any_value::Value::BoolValue(true)),
                                kv("ratio", any_value::Value::DoubleValue(0.5)),
                                kv("raw", any_value::Value::BytesValue(vec![1, 2, 3])),
                                kv(
                                    "list",
                                    any_value::Value::ArrayValue(ArrayValue {
                                        values: vec![AnyValue {
                                            value: Some(s("a")),
                                        }],
                                    }),
                                ),
                                kv(
                                    "map",
                                    any_value::Value::KvlistValue(KeyValueList {
                                        values: vec![kv("k", any_value::Value::IntValue(1))],
                                    }),
                                ),
                            ],
                            status: Some(Status {
                                code: 2,
                                message: "boom".into(),
                            }),
                            ..Default::default()
                        },
                        Span {
                            trace_id: TRACE.to_vec(),
                            span_id: vec![0, 0, 0, 0, 0, 0, 0, 9],
                            parent_span_id: SPAN.to_vec(),
                            name: "SELECT".into(),
                            kind: 3,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn spans_come_back_from_protobuf_and_json_with_ids_in_hex_and_values_as_json() {
        let request = trace_request();
        let from_proto: ExportTraceServiceRequest =
            otlp_request(&request.encode_to_vec(), OtlpEncoding::Protobuf).unwrap();
        let json = serde_json::to_vec(&request).unwrap();
        let from_json: ExportTraceServiceRequest = otlp_request(&json, OtlpEncoding::Json).unwrap();
        assert_eq!(from_proto, request);
        assert_eq!(from_json, request);
        let spans = spans(&from_json);
        assert_eq!(spans.len(), 2);
        let root = &spans[0];
        assert_eq!(root.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(root.span_id, "00f067aa0ba902b7");
        assert_eq!(root.parent_span_id, None);
        assert_eq!(
            (root.kind.as_str(), root.status.as_str()),
            ("server", "error")
        );
        assert_eq!(root.attributes["http.status"], serde_json::json!(200));
        assert_eq!(root.attributes["ok"], serde_json::json!(true));
        assert_eq!(root.attributes["ratio"], serde_json::json!(0.5));
        assert_eq!(root.attributes["raw"], serde_json::json!("AQID"));
        assert_eq!(root.attributes["list"], serde_json::json!(["a"]));
        assert_eq!(root.attributes["map"], serde_json::json!({"k": 1}));
        assert_eq!(root.resource["service.name"], serde_json::json!("shop"));
        assert_eq!(root.scope.name, "shop.lib");
        assert_eq!(root.scope.attributes, r#"{"lib.kind":"web"}"#);
        assert!(!root.acked);
        let child = &spans[1];
        assert_eq!(child.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(
            (child.kind.as_str(), child.status.as_str()),
            ("client", "unset")
        );
    }

    #[test]
    fn otlp_json_as_other_senders_write_it_is_read() {
        // Strings for 64-bit integers, numbers for enums, unknown fields, an empty
        // array value, ids in upper case.
        let json = r#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"js-app"}}]},
          "scopeSpans":[{"scope":{"name":"js"},"spans":[{
            "traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7",
            "parentSpanId":"","name":"work","kind":1,
            "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000000000001,
            "attributes":[{"key":"n","value":{"intValue":"42"}},
                          {"key":"empty","value":{"arrayValue":{}}},
                          {"key":"none","value":{}}],
            "droppedAttributesCount":0,"somethingNew":{"x":1},
            "status":{}}]}]}]}"#;
        let r: ExportTraceServiceRequest =
            otlp_request(json.as_bytes(), OtlpEncoding::Json).unwrap();
        let s = &spans(&r)[0];
        assert_eq!(s.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.parent_span_id, None);
        assert_eq!(s.start_unix_nanos, 1_700_000_000_000_000_000);
        assert_eq!(s.end_unix_nanos, 1_700_000_000_000_000_001);
        assert_eq!(s.kind, "internal");
        assert_eq!(s.attributes["n"], serde_json::json!(42));
        assert_eq!(s.attributes["empty"], serde_json::json!([]));
        assert_eq!(s.attributes["none"], serde_json::Value::Null);

        let err = otlp_request::<ExportTraceServiceRequest>(b"{not json", OtlpEncoding::Json)
            .unwrap_err();
        assert!(err.to_string().starts_with("OTLP/JSON traces: "), "{err}");
        let err =
            otlp_request::<ExportTraceServiceRequest>(b"\xff\xff\xff", OtlpEncoding::Protobuf)
                .unwrap_err();
        assert!(
            err.to_string().starts_with("OTLP/protobuf traces: "),
            "{err}"
        );
    }

    #[test]
    fn a_gzip_body_is_undone_and_an_unknown_encoding_is_named() {
        let request = trace_request();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&request.encode_to_vec()).unwrap();
        let body = gz.finish().unwrap();
        let plain = decode_content(Some("gzip"), &body).unwrap();
        let back: ExportTraceServiceRequest = otlp_request(&plain, OtlpEncoding::Protobuf).unwrap();
        assert_eq!(back, request);
        assert!(matches!(
            decode_content(None, b"x").unwrap(),
            Cow::Borrowed(_)
        ));
        let err = decode_content(Some("br"), b"x").unwrap_err();
        assert!(err.to_string().contains("`br` is not supported"), "{err}");
        assert!(decode_content(Some("gzip"), b"not gzip").is_err());
        assert_eq!(
            OtlpEncoding::from_content_type(Some("application/json; charset=utf-8")),
            OtlpEncoding::Json
        );
        assert_eq!(
            OtlpEncoding::from_content_type(Some("application/x-protobuf")),
            OtlpEncoding::Protobuf
        );
    }

    #[test]
    fn log_records_keep_body_severity_ids_and_times() {
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    scope: scope_v1(),
                    log_records: vec![
                        LogRecord {
                            time_unix_nano: 5,
                            observed_time_unix_nano: 6,
                            severity_number: 9,
                            severity_text: "INFO".into(),
                            body: Some(AnyValue {
                                value: Some(s("order 42 paid")),
                            }),
                            attributes: vec![kv("order", any_value::Value::IntValue(42))],
                            trace_id: TRACE.to_vec(),
                            span_id: SPAN.to_vec(),
                            flags: 1,
                            ..Default::default()
                        },
                        LogRecord {
                            observed_time_unix_nano: 7,
                            body: Some(AnyValue {
                                value: Some(any_value::Value::KvlistValue(KeyValueList {
                                    values: vec![kv("k", s("v"))],
                                })),
                            }),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        for encoding in [OtlpEncoding::Protobuf, OtlpEncoding::Json] {
            let body = match encoding {
                OtlpEncoding::Protobuf => request.encode_to_vec(),
                OtlpEncoding::Json => serde_json::to_vec(&request).unwrap(),
            };
            let back: ExportLogsServiceRequest = otlp_request(&body, encoding).unwrap();
            let logs = logs(&back);
            assert_eq!(logs.len(), 2, "{encoding:?}");
            let l = &logs[0];
            assert_eq!(l.body, serde_json::json!("order 42 paid"));
            assert_eq!((l.severity_number, l.severity_text.as_str()), (9, "INFO"));
            assert_eq!(
                l.trace_id.as_deref(),
                Some("4bf92f3577b34da6a3ce929d0e0e4736")
            );
            assert_eq!(l.span_id.as_deref(), Some("00f067aa0ba902b7"));
            assert_eq!(
                (l.time_unix_nano, l.observed_time_unix_nano, l.flags),
                (5, 6, 1)
            );
            assert_eq!(l.attributes["order"], serde_json::json!(42));
            assert_eq!(l.scope.version, "1.2");
            let l = &logs[1];
            assert_eq!((l.trace_id.clone(), l.span_id.clone()), (None, None));
            assert_eq!(l.timestamp_ns(), 7);
            assert_eq!(l.body, serde_json::json!({"k": "v"}));
            assert!(!l.acked);
        }
    }

    fn number(v: number_data_point::Value, time: u64) -> NumberDataPoint {
        NumberDataPoint {
            attributes: vec![kv("route", s("/cart"))],
            start_time_unix_nano: 1,
            time_unix_nano: time,
            value: Some(v),
            exemplars: vec![Exemplar {
                time_unix_nano: time,
                trace_id: TRACE.to_vec(),
                span_id: SPAN.to_vec(),
                value: Some(exemplar::Value::AsInt(3)),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
        Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(data),
            ..Default::default()
        }
    }

    fn metrics_request() -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope_v1(),
                    metrics: vec![
                        metric(
                            "temp",
                            "Cel",
                            metric::Data::Gauge(Gauge {
                                data_points: vec![number(
                                    number_data_point::Value::AsDouble(21.5),
                                    10,
                                )],
                            }),
                        ),
                        metric(
                            "requests",
                            "{request}",
                            metric::Data::Sum(Sum {
                                data_points: vec![
                                    number(number_data_point::Value::AsInt(7), 10),
                                    number(number_data_point::Value::AsInt(9), 20),
                                ],
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            }),
                        ),
                        metric(
                            "queue",
                            "",
                            metric::Data::Sum(Sum {
                                data_points: vec![number(number_data_point::Value::AsInt(-2), 10)],
                                aggregation_temporality: 1,
                                is_monotonic: false,
                            }),
                        ),
                        metric(
                            "latency",
                            "ms",
                            metric::Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint {
                                    time_unix_nano: 10,
                                    count: 4,
                                    sum: Some(30.0),
                                    bucket_counts: vec![1, 2, 1],
                                    explicit_bounds: vec![5.0, 10.0],
                                    ..Default::default()
                                }],
                                aggregation_temporality: 2,
                            }),
                        ),
                        metric(
                            "size",
                            "By",
                            metric::Data::ExponentialHistogram(ExponentialHistogram {
                                data_points: vec![ExponentialHistogramDataPoint {
                                    time_unix_nano: 10,
                                    count: 3,
                                    sum: Some(12.0),
                                    ..Default::default()
                                }],
                                aggregation_temporality: 1,
                            }),
                        ),
                        metric(
                            "rpc",
                            "s",
                            metric::Data::Summary(Summary {
                                data_points: vec![SummaryDataPoint {
                                    time_unix_nano: 10,
                                    count: 2,
                                    sum: 0.3,
                                    quantile_values: vec![ValueAtQuantile {
                                        quantile: 0.5,
                                        value: 0.1,
                                    }],
                                    ..Default::default()
                                }],
                            }),
                        ),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn every_data_point_of_every_kind_is_one_entry() {
        let request = metrics_request();
        for encoding in [OtlpEncoding::Protobuf, OtlpEncoding::Json] {
            let body = match encoding {
                OtlpEncoding::Protobuf => request.encode_to_vec(),
                OtlpEncoding::Json => serde_json::to_vec(&request).unwrap(),
            };
            let back: ExportMetricsServiceRequest = otlp_request(&body, encoding).unwrap();
            assert_eq!(back, request, "{encoding:?}");
            let p = points(&back);
            let kinds: Vec<_> = p
                .iter()
                .map(|p| (p.metric.as_str(), p.kind, p.temporality))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("temp", MetricKind::Gauge, Temporality::Unspecified),
                    (
                        "requests",
                        MetricKind::MonotonicSum,
                        Temporality::Cumulative
                    ),
                    (
                        "requests",
                        MetricKind::MonotonicSum,
                        Temporality::Cumulative
                    ),
                    ("queue", MetricKind::Sum, Temporality::Delta),
                    ("latency", MetricKind::Histogram, Temporality::Cumulative),
                    ("size", MetricKind::ExponentialHistogram, Temporality::Delta),
                    ("rpc", MetricKind::Summary, Temporality::Unspecified),
                ]
            );
            assert_eq!(p[0].value, Some(21.5));
            assert_eq!(p[0].unit, "Cel");
            assert_eq!(p[2].value, Some(9.0));
            assert_eq!(p[2].time_unix_nano, 20);
            assert_eq!(p[3].value, Some(-2.0));
            assert_eq!(p[1].attributes["route"], serde_json::json!("/cart"));
            assert_eq!(p[1].resource["service.name"], serde_json::json!("shop"));
            assert_eq!(
                p[1].exemplars,
                [RecordedExemplar {
                    trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
                    span_id: Some("00f067aa0ba902b7".into()),
                    value: 3.0,
                    time_unix_nano: 10,
                }]
            );
            assert_eq!((p[4].count, p[4].sum), (Some(4), Some(30.0)));
            assert_eq!(p[4].bounds, [5.0, 10.0]);
            assert_eq!(p[4].bucket_counts, [1, 2, 1]);
            assert_eq!((p[5].count, p[5].sum), (Some(3), Some(12.0)));
            assert_eq!((p[6].count, p[6].sum), (Some(2), Some(0.3)));
            assert_eq!(p[6].quantiles, [(0.5, 0.1)]);
            assert!(p.iter().all(|p| !p.acked));
        }
    }

    #[test]
    fn loki_json_pushes_keep_labels_times_lines_and_structured_metadata() {
        let body = br#"{"streams":[{"stream":{"job":"shop","level":"info"},
            "values":[["1732540000000000000","order 42 paid"],
                      ["1732540000000000001","with meta",{"trace_id":"abc"}]]}]}"#;
        let lines = loki_push(Some("application/json"), None, body).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].labels["job"], "shop");
        assert_eq!(lines[0].timestamp_ns, 1_732_540_000_000_000_000);
        assert_eq!(lines[0].line, "order 42 paid");
        assert!(lines[0].structured_metadata.is_empty());
        assert_eq!(lines[1].structured_metadata["trace_id"], "abc");
        assert!(!lines[1].acked);
        let err = loki_push(
            Some("application/json"),
            None,
            br#"{"streams":[{"values":[[1]]}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a line"), "{err}");
    }

    #[test]
    fn loki_snappy_protobuf_pushes_are_read() {
        let push = logproto::PushRequest {
            streams: vec![logproto::StreamAdapter {
                labels: r#"{job="shop", msg="say \"hi\""}"#.into(),
                entries: vec![logproto::EntryAdapter {
                    timestamp: Some(logproto::Timestamp {
                        seconds: 1_732_540_000,
                        nanos: 5,
                    }),
                    line: "hello".into(),
                    structured_metadata: vec![logproto::LabelPairAdapter {
                        name: "user".into(),
                        value: "7".into(),
                    }],
                }],
                hash: 0,
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&push.encode_to_vec())
            .unwrap();
        let lines = loki_push(Some("application/x-protobuf"), None, &body).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].labels["msg"], r#"say "hi""#);
        assert_eq!(lines[0].timestamp_ns, 1_732_540_000_000_000_005);
        assert_eq!(lines[0].structured_metadata["user"], "7");
        let err = loki_push(None, None, b"not snappy").unwrap_err();
        assert!(
            err.to_string().starts_with("Loki push snappy body"),
            "{err}"
        );
    }

    #[test]
    fn stream_labels_parse_and_bad_ones_are_named() {
        assert_eq!(parse_labels("{}").unwrap(), Labels::new());
        let l = parse_labels(r#"{ a = "1" ,b="x\\y\nz"}"#).unwrap();
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "x\\y\nz");
        for bad in ["job=\"x\"", "{job}", "{job=x}", "{job=\"x}"] {
            assert!(parse_labels(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remote_write_samples_carry_their_series_labels() {
        use lgtm_scenarios::prompb::{Label, Sample, TimeSeries, WriteRequest};
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "shop".into(),
                    },
                ],
                samples: vec![
                    Sample {
                        value: 1.0,
                        timestamp: 1000,
                    },
                    Sample {
                        value: 0.0,
                        timestamp: 2000,
                    },
                ],
                exemplars: vec![],
            }],
        };
        let body = lgtm_scenarios::prompb::encode(&request).unwrap();
        let samples = remote_write(&body).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[1].labels["__name__"], "up");
        assert_eq!((samples[1].timestamp_ms, samples[1].value), (2000, 0.0));
        assert!(remote_write(&request.encode_to_vec()).is_err());
    }

    #[test]
    fn partial_success_is_read_from_protobuf_and_json_answers() {
        let answer = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".into(),
            }),
        };
        let want = Some(PartialSuccess {
            rejected: 3,
            message: "too old".into(),
        });
        assert_eq!(
            partial_success(
                RecordSignal::Traces,
                Some("application/x-protobuf"),
                &answer.encode_to_vec()
            ),
            want
        );
        let json = br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#;
        assert_eq!(
            partial_success(RecordSignal::Traces, Some("application/json"), json),
            want
        );
        let json = br#"{"partialSuccess":{"rejectedLogRecords":2}}"#;
        assert_eq!(
            partial_success(RecordSignal::Logs, Some("application/json"), json).map(|p| p.rejected),
            Some(2)
        );
        assert_eq!(partial_success(RecordSignal::Traces, None, b""), None);
        assert_eq!(
            partial_success(
                RecordSignal::Traces,
                None,
                &ExportTraceServiceResponse::default().encode_to_vec()
            ),
            None
        );
    }
}
