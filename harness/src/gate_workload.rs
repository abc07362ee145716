//! The gate's workload and corpus on one side's stack: the workload pushed (Loki's
//! push API, OTLP/HTTP to Tempo, remote write to the Mimir role), its arrival
//! confirmed by positive controls, then every corpus query asked and its answer
//! normalised ([`crate::core::answer`]).
//!
//! Main items: [`Targets`], [`origin_now`], [`push`], [`settle`], [`ask_all`],
//! [`run_side`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span::Event as OtlpEvent,
};
use prost::Message;
use serde_json::{Value, json};

use crate::core::answer::{Answer, normalize};
use crate::core::component::Component;
use crate::core::corpus::{Ask, CorpusQuery, Language};
use crate::core::gate_corpus::{Control, SideCorpus};
use crate::core::workload::{AttrValue, JOB, WINDOW_SECS, Workload, env_of, hex};
use crate::stack::Stack;

/// Where one side's workload goes and its queries are asked; `None` where the
/// component is not running (its language is then not compared).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Loki's base URL.
    pub loki: Option<String>,
    /// Tempo's query base URL.
    pub tempo: Option<String>,
    /// Tempo's OTLP/HTTP base URL (`<base>/v1/traces`).
    pub tempo_otlp: Option<String>,
    /// The Mimir role's Prometheus-API base (with Mimir's `/prometheus`).
    pub prometheus: Option<String>,
    /// The Mimir role's remote-write URL.
    pub remote_write: Option<String>,
}

impl Targets {
    /// The targets of a running stack.
    pub fn of(stack: &Stack) -> Targets {
        Targets {
            loki: stack.loki_url().ok(),
            tempo: stack.url(Component::Tempo).ok(),
            tempo_otlp: stack.otlp_http_url().ok(),
            prometheus: stack.url(Component::Mimir).ok(),
            remote_write: stack.remote_write_url().ok(),
        }
    }

    /// The base URL that answers `language`.
    fn query_base(&self, language: Language) -> Option<&str> {
        match language {
            Language::LogQl => self.loki.as_deref(),
            Language::TraceQl => self.tempo.as_deref(),
            Language::PromQl => self.prometheus.as_deref(),
        }
    }
}

/// The origin of a side's workload: a whole minute (Tempo aligns TraceQL metrics
/// ranges to their step), the window ending at the next whole minute, so the traces
/// lie within Tempo's ingestion slack of now and every other item at most five
/// minutes before it.
pub fn origin_now() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    now.div_ceil(60) * 60 - WINDOW_SECS
}

/// A TraceQL query scoped to the workload's traces: every spanset filter requires
/// `resource.job = "lgtm-gate"`, so the catalog's own traces, in the same Tempo,
/// never enter an answer (an empty filter `{}` is left as written).
///
/// ```
/// use lgtm_check::gate_workload::scoped;
/// assert_eq!(scoped("{ true } | rate()"), r#"{ resource.job = "lgtm-gate" } | rate()"#);
/// assert_eq!(
///     scoped(r#"{ kind = server } >> { name = "x}" }"#),
///     r#"{ resource.job = "lgtm-gate" && (kind = server) } >> { resource.job = "lgtm-gate" && (name = "x}") }"#
/// );
/// ```
pub fn scoped(query: &str) -> String {
    let scope = format!(r#"resource.job = "{JOB}""#);
    let mut out = String::with_capacity(query.len() + 64);
    let mut rest = query;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        // The matching brace, skipping quoted strings.
        let bytes = rest.as_bytes();
        let (mut i, mut quoted, mut close) = (open + 1, false, None);
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'}' if !quoted => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let Some(close) = close else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = rest[open + 1..close].trim();
        match inner {
            "" => out.push_str(&rest[open..=close]),
            "true" => out.push_str(&format!("{{ {scope} }}")),
            _ => out.push_str(&format!("{{ {scope} && ({inner}) }}")),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// Loki's push body (JSON, structured metadata as the third element of each value).
pub fn loki_body(w: &Workload, origin_secs: u64) -> Value {
    let origin_ns = u128::from(origin_secs) * 1_000_000_000;
    json!({
        "streams": w.streams.iter().map(|s| json!({
            "stream": s.labels,
            "values": s.lines.iter().map(|l| json!([
                (origin_ns + u128::from(l.offset_ns)).to_string(),
                l.line,
                l.metadata,
            ])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    })
}

fn kv(key: &str, v: &AttrValue) -> KeyValue {
    let value = match v {
        AttrValue::Str(s) => any_value::Value::StringValue(s.clone()),
        AttrValue::Int(i) => any_value::Value::IntValue(*i),
        AttrValue::Double(d) => any_value::Value::DoubleValue(*d),
        AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
    };
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// The traces as one OTLP export request, a resource per service.
pub fn otlp_traces(w: &Workload, origin_secs: u64) -> ExportTraceServiceRequest {
    let origin_ns = origin_secs * 1_000_000_000;
    let mut by_service: BTreeMap<&str, Vec<OtlpSpan>> = BTreeMap::new();
    for t in &w.traces {
        for s in &t.spans {
            by_service.entry(s.service).or_default().push(OtlpSpan {
                trace_id: t.trace_id.to_vec(),
                span_id: s.span_id.to_vec(),
                parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
                name: s.name.clone(),
                kind: s.kind as i32,
                start_time_unix_nano: origin_ns + s.start_ns,
                end_time_unix_nano: origin_ns + s.start_ns + s.duration_ns,
                attributes: s.attributes.iter().map(|(k, v)| kv(k, v)).collect(),
                events: s
                    .events
                    .iter()
                    .map(|(name, attrs)| OtlpEvent {
                        time_unix_nano: origin_ns + s.start_ns,
                        name: name.clone(),
                        attributes: attrs.iter().map(|(k, v)| kv(k, v)).collect(),
                        ..Default::default()
                    })
                    .collect(),
                status: Some(Status {
                    code: s.status.0 as i32,
                    message: s.status.1.clone(),
                }),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", &AttrValue::Str(service.into())),
                        kv(
                            "deployment.environment",
                            &AttrValue::Str(env_of(service).into()),
                        ),
                        kv("gate.seed", &AttrValue::Str(w.seed.to_string())),
                        kv("job", &AttrValue::Str(JOB.into())),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// The metric series as one remote-write request (labels sorted by name).
pub fn write_request(w: &Workload, origin_secs: u64) -> lgtm_scenarios::prompb::WriteRequest {
    use lgtm_scenarios::prompb::{Label, Sample, TimeSeries, WriteRequest};
    let origin_ms = (origin_secs * 1000) as i64;
    WriteRequest {
        timeseries: w
            .series
            .iter()
            .map(|s| TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|(name, value)| Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|(ms, v)| Sample {
                        value: *v,
                        timestamp: origin_ms + *ms as i64,
                    })
                    .collect(),
                exemplars: Vec::new(),
            })
            .collect(),
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Result<(), String> {
    let mut request = http.post(url).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let shown = crate::clients::redact_url(url);
    let response = request.send().await.map_err(|e| format!("{shown}: {e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(format!("{shown}: {status}: {}", body.trim()))
    }
}

/// Pushes the workload; per language, the push's error if it was refused (the
/// language's backend is then not compared on this side's data).
pub async fn push(
    targets: &Targets,
    w: &Workload,
    origin_secs: u64,
) -> BTreeMap<Language, Result<(), String>> {
    let http = http();
    let mut out = BTreeMap::new();
    if let Some(loki) = &targets.loki {
        let body = loki_body(w, origin_secs).to_string().into_bytes();
        out.insert(
            Language::LogQl,
            post(
                &http,
                &format!("{loki}/loki/api/v1/push"),
                body,
                &[("Content-Type", "application/json")],
            )
            .await,
        );
    }
    if let Some(otlp) = &targets.tempo_otlp {
        let body = otlp_traces(w, origin_secs).encode_to_vec();
        out.insert(
            Language::TraceQl,
            post(
                &http,
                &format!("{otlp}/v1/traces"),
                body,
                &[("Content-Type", "application/x-protobuf")],
            )
            .await,
        );
    }
    if let Some(rw) = &targets.remote_write {
        let raw = write_request(w, origin_secs).encode_to_vec();
        let body = snap::raw::Encoder::new()
            .compress_vec(&raw)
            .unwrap_or_default();
        out.insert(
            Language::PromQl,
            post(
                &http,
                rw,
                body,
                &[
                    ("Content-Type", "application/x-protobuf"),
                    ("Content-Encoding", "snappy"),
                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ],
            )
            .await,
        );
    }
    out
}

/// The control query of a language and how to count its answer.
fn control_query(language: Language, w: &Workload) -> CorpusQuery {
    let query = match language {
        Language::LogQl => format!(r#"sum(count_over_time({{job="{JOB}"}}[10m]))"#),
        Language::TraceQl => format!(r#"{{ resource.gate.seed = "{}" }}"#, w.seed),
        // One sum per metric name: count_over_time drops the name, and series
        // that differ only by it would collide.
        Language::PromQl => {
            let names: std::collections::BTreeSet<&str> = w
                .series
                .iter()
                .map(|s| s.labels["__name__"].as_str())
                .collect();
            names
                .iter()
                .map(|n| format!(r#"sum(count_over_time({n}{{job="{JOB}"}}[10m]))"#))
                .collect::<Vec<_>>()
                .join(" + ")
        }
    };
    CorpusQuery {
        language,
        source: crate::core::corpus::Source::Generated("control".into()),
        ask: match language {
            Language::TraceQl => Ask::Search,
            _ => Ask::Instant,
        },
        query,
    }
}

/// How many items a control's normalised answer counts.
fn control_count(language: Language, answer: &Value) -> usize {
    match language {
        Language::TraceQl => answer["traces"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| t["spanSets"][0]["matched"].as_u64())
                    .sum::<u64>() as usize
            })
            .unwrap_or_default(),
        _ => answer["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as usize)
            .unwrap_or_default(),
    }
}

/// Waits, per language pushed without error, until the backend shows every item of
/// the workload (or `timeout` passes): the positive control without which no
/// comparison of that language is evidence.
pub async fn settle(
    targets: &Targets,
    w: &Workload,
    origin_secs: u64,
    pushed: &BTreeMap<Language, Result<(), String>>,
    timeout: Duration,
) -> BTreeMap<Language, Control> {
    let (lines, spans, samples) = w.counts();
    let http = http();
    let started = Instant::now();
    let controls = pushed.iter().map(|(language, result)| {
        let http = &http;
        async move {
            let expected = match language {
                Language::LogQl => lines,
                Language::TraceQl => spans,
                Language::PromQl => samples,
            };
            let mut control = Control {
                expected,
                visible: 0,
                settled_ms: None,
                error: result.clone().err(),
            };
            if control.error.is_some() {
                return (*language, control);
            }
            let q = control_query(*language, w);
            loop {
                match ask(http, targets, &q, origin_secs).await {
                    Answer::Data(v) => {
                        control.visible = control_count(*language, &v);
                        control.error = None;
                        if control.visible >= expected {
                            control.settled_ms = Some(started.elapsed().as_millis() as u64);
                            break;
                        }
                    }
                    Answer::Refused(e) => control.error = Some(e),
                }
                if started.elapsed() >= timeout {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            (*language, control)
        }
    });
    futures::future::join_all(controls)
        .await
        .into_iter()
        .collect()
}

/// A TraceQL query as asked: the gate's own queries scoped to the workload
/// ([`scoped`]), the user's as written.
fn traceql(q: &CorpusQuery) -> String {
    match q.source {
        crate::core::corpus::Source::User(_) => q.query.clone(),
        _ => scoped(&q.query),
    }
}

/// The HTTP request of one corpus query: path and parameters.
pub fn request(q: &CorpusQuery, origin_secs: u64) -> (&'static str, Vec<(&'static str, String)>) {
    let start = origin_secs;
    let end = origin_secs + WINDOW_SECS;
    let ns = |s: u64| (u128::from(s) * 1_000_000_000).to_string();
    match (q.language, q.ask) {
        (Language::LogQl, Ask::Instant) => (
            "/loki/api/v1/query",
            vec![
                ("query", q.query.clone()),
                ("time", ns(end)),
                ("limit", "1000".into()),
            ],
        ),
        (Language::LogQl, _) => (
            "/loki/api/v1/query_range",
            vec![
                ("query", q.query.clone()),
                ("start", ns(start)),
                ("end", ns(end)),
                ("step", "30".into()),
                ("limit", "1000".into()),
                ("direction", "forward".into()),
            ],
        ),
        (Language::PromQl, Ask::Instant) => (
            "/api/v1/query",
            vec![("query", q.query.clone()), ("time", end.to_string())],
        ),
        (Language::PromQl, _) => (
            "/api/v1/query_range",
            vec![
                ("query", q.query.clone()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", "30".into()),
            ],
        ),
        (Language::TraceQl, Ask::TraceMetrics) => (
            "/api/metrics/query_range",
            vec![
                ("q", traceql(q)),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", "60s".into()),
            ],
        ),
        (Language::TraceQl, _) => (
            "/api/search",
            vec![
                ("q", traceql(q)),
                ("start", (start - 60).to_string()),
                ("end", (end + 60).to_string()),
                ("limit", "200".into()),
                // Tempo 2.7 refuses more than 100 spans per spanset (#4383).
                ("spss", "100".into()),
            ],
        ),
    }
}

/// Asks one corpus query and normalises the answer.
pub async fn ask(
    http: &reqwest::Client,
    targets: &Targets,
    q: &CorpusQuery,
    origin_secs: u64,
) -> Answer {
    let Some(base) = targets.query_base(q.language) else {
        return Answer::Refused(format!(
            "no backend answers {} on this side",
            q.language.name()
        ));
    };
    let (path, params) = request(q, origin_secs);
    let url = format!("{base}{path}");
    let shown = crate::clients::redact_url(&url);
    let response = match http.get(&url).query(&params).send().await {
        Ok(r) => r,
        Err(e) => return Answer::Refused(format!("{shown}: {e}")),
    };
    let status = response.status().as_u16();
    let body = match response.text().await {
        Ok(b) => b,
        Err(e) => return Answer::Refused(format!("{shown}: {e}")),
    };
    if status != 200 {
        return Answer::Refused(format!(
            "{status}: {}",
            crate::core::answer::clip(body.trim(), 500)
        ));
    }
    match normalize(q.language, q.ask, &body, origin_secs) {
        Ok(v) => Answer::Data(v),
        Err(e) => Answer::Refused(format!("{status}: {e}")),
    }
}

/// Queries asked at once per side.
const IN_FLIGHT: usize = 6;

/// Every corpus query's answer, in the corpus's order.
pub async fn ask_all(targets: &Targets, corpus: &[CorpusQuery], origin_secs: u64) -> Vec<Answer> {
    let http = http();
    stream::iter(corpus)
        .map(|q| ask(&http, targets, q, origin_secs))
        .buffered(IN_FLIGHT)
        .collect()
        .await
}

/// The whole corpus on one side: pushes the workload, waits for its controls, asks
/// every query.
pub async fn run_side(
    targets: &Targets,
    w: &Workload,
    corpus: &[CorpusQuery],
    settle_timeout: Duration,
    label: String,
) -> SideCorpus {
    let started = Instant::now();
    let origin_secs = origin_now();
    let pushed = push(targets, w, origin_secs).await;
    let controls = settle(targets, w, origin_secs, &pushed, settle_timeout).await;
    let answers = ask_all(targets, corpus, origin_secs).await;
    SideCorpus {
        label,
        origin_secs,
        controls,
        answers,
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

/// The hex trace id of the workload's batch trace (for user queries and docs).
pub fn batch_trace_id(w: &Workload) -> Option<String> {
    w.traces.last().map(|t| hex(&t.trace_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::workload::DEFAULT_SEED;

    #[test]
    fn the_loki_body_carries_every_line_at_its_offset_with_metadata() {
        let w = Workload::generate(DEFAULT_SEED);
        let b = loki_body(&w, 1_000);
        assert_eq!(b["streams"].as_array().unwrap().len(), 9);
        let first = &b["streams"][0]["values"][0];
        let ts: u128 = first[0].as_str().unwrap().parse().unwrap();
        assert!((1_000_000_000_000..1_300_000_000_000).contains(&ts));
        assert!(first[2]["trace_id"].as_str().unwrap().len() == 32);
    }

    #[test]
    fn the_otlp_request_holds_every_span_under_its_service() {
        let w = Workload::generate(DEFAULT_SEED);
        let r = otlp_traces(&w, 1_000);
        let spans: usize = r
            .resource_spans
            .iter()
            .map(|rs| rs.scope_spans[0].spans.len())
            .sum();
        assert_eq!(spans, w.counts().1);
        assert_eq!(r.resource_spans.len(), 4);
    }

    #[test]
    fn every_sample_is_written_at_origin_plus_offset() {
        let w = Workload::generate(DEFAULT_SEED);
        let r = write_request(&w, 1_000);
        let samples: usize = r.timeseries.iter().map(|t| t.samples.len()).sum();
        assert_eq!(samples, w.counts().2);
        assert!(
            r.timeseries
                .iter()
                .flat_map(|t| &t.samples)
                .all(|s| (1_000_000..1_300_000).contains(&s.timestamp))
        );
    }

    #[test]
    fn requests_pin_the_window_to_the_origin() {
        let q = CorpusQuery {
            language: Language::PromQl,
            source: crate::core::corpus::Source::Generated("t".into()),
            ask: Ask::Range,
            query: "up".into(),
        };
        let (path, params) = request(&q, 6_000);
        assert_eq!(path, "/api/v1/query_range");
        assert!(params.contains(&("start", "6000".into())));
        assert!(params.contains(&("end", "6300".into())));
    }
}
