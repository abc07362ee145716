//! The gateway's row of `lgtm-check bench`: OTLP throughput through lgtm-check's
//! recording gateway against the same requests sent straight to the backends, side
//! by side in one run. Per signal, the same fixed batches (`requests` × `batch`
//! spans to Tempo's `/v1/traces`, log records to Loki's `/otlp/v1/logs`, `points`
//! metric points to the Mimir role's OTLP endpoint, or, for the Prometheus stand-in
//! that has none, as remote write) are sent directly, then through a [`Gateway`]
//! forwarding to the same URLs, [`IN_FLIGHT`] requests at a time. Each path sends in
//! [`ROUNDS`] rounds, the paths alternating which goes first (direct, gateway,
//! gateway, direct), and its time is the sum of its rounds, each from its first
//! request to its last answer. Then the gateway's record says what it recorded and
//! what the backends acknowledged: nothing may be lost on the way.
//!
//! Every request is encoded before the clock starts; each path's items are distinct
//! (their own trace ids, log stream and series), so neither path's data collides
//! with the other's.
//!
//! Main items: [`GatewayLoad`], [`Endpoints`], [`measure`], [`GatewayThroughput`].

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use serde::Serialize;

use crate::clients::redact_url;
use crate::core::record::Record;
use crate::gateway::{Gateway, GatewayConfig, MetricsUpstream, Upstream};
use lgtm_scenarios::prompb;

/// Requests in flight at once on each path.
pub const IN_FLIGHT: usize = 4;

/// How much each path sends per signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayLoad {
    /// Requests per signal and path (0: the measurement is left out).
    pub requests: usize,
    /// Spans, and log records, per request.
    pub batch: usize,
    /// Metric points per request (each a series of its own).
    pub points: usize,
}

impl Default for GatewayLoad {
    /// 200 requests of 500 spans and of 500 log records; 200 of 100 points, so that
    /// both paths' 40,000 samples stay within Cortex's default ingestion burst
    /// (50,000 samples; 25,000/s).
    fn default() -> Self {
        GatewayLoad {
            requests: 200,
            batch: 500,
            points: 100,
        }
    }
}

/// Where the metrics of both paths go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsEndpoint {
    /// The Mimir role's OTLP endpoint (Mimir's `/otlp/v1/metrics`, Cortex's
    /// `/api/v1/otlp/v1/metrics`).
    Otlp(String),
    /// A remote-write endpoint (the Prometheus stand-in's `/api/v1/write`): the
    /// direct path remote-writes the same series, the gateway translates the OTLP
    /// points and remote-writes them.
    RemoteWrite(String),
}

/// The backends' endpoints both paths send to; `None`: that signal is not measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Tempo's OTLP/HTTP traces endpoint (`…:4318/v1/traces`).
    pub traces: Option<String>,
    /// Loki's OTLP logs endpoint (`…/otlp/v1/logs`).
    pub logs: Option<String>,
    /// Where metrics go.
    pub metrics: Option<MetricsEndpoint>,
}

impl Endpoints {
    /// The stack's endpoints: OTLP/HTTP to Tempo (so that both paths use the same
    /// protocol), Loki's OTLP endpoint, the Mimir role's OTLP endpoint or, for the
    /// Prometheus stand-in, its remote write.
    pub fn of_stack(stack: &crate::Stack) -> Self {
        Endpoints {
            traces: stack.otlp_http_url().ok().map(|u| format!("{u}/v1/traces")),
            logs: stack.loki_otlp_url().ok(),
            metrics: match stack.metrics_otlp_url() {
                Ok(u) => Some(MetricsEndpoint::Otlp(u)),
                Err(_) => stack
                    .remote_write_url()
                    .ok()
                    .map(MetricsEndpoint::RemoteWrite),
            },
        }
    }

    /// `config` forwarding each signal to these same endpoints (OTLP/HTTP for
    /// traces; metrics as OTLP, or translated and remote-written).
    pub fn gateway_config(&self, mut config: GatewayConfig) -> GatewayConfig {
        config.upstreams.traces = self.traces.clone().map(Upstream::new);
        config.upstreams.logs = self.logs.clone().map(Upstream::new);
        config.upstreams.metrics = self.metrics.as_ref().map(|m| match m {
            MetricsEndpoint::Otlp(u) => MetricsUpstream::Otlp(Upstream::new(u.clone())),
            MetricsEndpoint::RemoteWrite(u) => {
                MetricsUpstream::RemoteWrite(Upstream::new(u.clone()))
            }
        });
        config
    }
}

/// One signal's figures.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayThroughput {
    /// `traces`, `logs` or `metrics`.
    pub signal: String,
    /// Where both paths sent it (redacted), and how.
    pub upstream: String,
    /// Requests each path sent.
    pub requests: u64,
    /// Items (spans, log records, points) per request.
    pub items_per_request: u64,
    /// Straight to the backend: from the first request to the last answer, in ms.
    pub direct_ms: Option<u64>,
    /// Through the gateway: the same, in ms.
    pub gateway_ms: Option<u64>,
    /// The gateway's time over the direct time, to two decimals (the goal: at most
    /// 1.2), from the unrounded times.
    pub ratio: Option<f64>,
    /// Items each path sent (`requests × items_per_request`).
    pub sent: u64,
    /// Items in requests the backend answered 2xx on the direct path.
    pub direct_acked: u64,
    /// Items in requests the gateway answered 2xx (it passes on the backend's
    /// answer).
    pub gateway_answered: u64,
    /// Items the gateway's record holds.
    pub recorded: u64,
    /// Items the record marks acknowledged by the backend.
    pub acked: u64,
    /// The first failure of each path, if any (`direct: …`, `gateway: …`).
    pub notes: Vec<String>,
}

impl GatewayThroughput {
    /// Whether nothing was lost: every item sent was recorded and acknowledged on
    /// both paths.
    pub fn nothing_lost(&self) -> bool {
        self.direct_acked == self.sent
            && self.gateway_answered == self.sent
            && self.recorded == self.sent
            && self.acked == self.sent
    }
}

/// The two paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Direct,
    Gateway,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Gateway => "gateway",
        }
    }

    fn tag(self) -> u8 {
        match self {
            Path::Direct => 0xd1,
            Path::Gateway => 0x9a,
        }
    }
}

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn resource(run_id: &str, path: Path) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", &format!("lgtm-bench-{}", path.name())),
            kv("run_id", run_id),
        ],
        ..Default::default()
    })
}

/// Request `req` of `path`: one trace of `batch` spans (a trace per request keeps
/// Tempo's live traces few).
fn traces_request(
    run_id: &str,
    nonce: u64,
    path: Path,
    req: usize,
    batch: usize,
    t_ns: u64,
) -> ExportTraceServiceRequest {
    let mut trace_id = nonce.to_be_bytes().to_vec();
    trace_id.extend([path.tag(), 0, 0, 0]);
    trace_id.extend((req as u32).to_be_bytes());
    let spans = (0..batch)
        .map(|j| {
            let mut span_id = vec![path.tag()];
            span_id.extend(&(req as u32).to_be_bytes()[1..]);
            span_id.extend((j as u32 + 1).to_be_bytes());
            Span {
                trace_id: trace_id.clone(),
                span_id,
                name: "bench".into(),
                kind: 1,
                start_time_unix_nano: t_ns,
                end_time_unix_nano: t_ns + 1_000,
                attributes: vec![kv("i", &j.to_string())],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(run_id, path),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Request `req` of `path`: `batch` log records, times distinct over the path.
fn logs_request(
    run_id: &str,
    path: Path,
    req: usize,
    batch: usize,
    t_ns: u64,
) -> ExportLogsServiceRequest {
    let records = (0..batch)
        .map(|j| {
            let t = t_ns + (req * batch + j) as u64;
            LogRecord {
                time_unix_nano: t,
                observed_time_unix_nano: t,
                severity_number: 9,
                severity_text: "INFO".into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!(
                        "bench {} {req} {j}",
                        path.name()
                    ))),
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(run_id, path),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The metric both paths' points belong to (one per path).
fn metric_name(path: Path) -> String {
    format!("lgtm_bench_gateway_{}", path.name())
}

/// Request `req` of `path`: `points` gauge points, each a series of its own
/// (attributes `req`, `i`), so that no sample is out of order whatever order the
/// requests arrive in.
fn metrics_request(
    run_id: &str,
    path: Path,
    req: usize,
    points: usize,
    t_ns: u64,
) -> ExportMetricsServiceRequest {
    let data_points = (0..points)
        .map(|j| NumberDataPoint {
            time_unix_nano: t_ns,
            value: Some(number_data_point::Value::AsDouble(j as f64)),
            attributes: vec![kv("req", &req.to_string()), kv("i", &j.to_string())],
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(run_id, path),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: metric_name(path),
                    data: Some(metric::Data::Gauge(Gauge { data_points })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The same series as [`metrics_request`], as a remote write (the direct path to
/// the Prometheus stand-in).
fn remote_write_request(
    run_id: &str,
    path: Path,
    req: usize,
    points: usize,
    t_ns: u64,
) -> prompb::WriteRequest {
    let label = |name: &str, value: String| prompb::Label {
        name: name.into(),
        value,
    };
    prompb::WriteRequest {
        timeseries: (0..points)
            .map(|j| prompb::TimeSeries {
                labels: vec![
                    label("__name__", metric_name(path)),
                    label("i", j.to_string()),
                    label("job", format!("lgtm-bench-{}", path.name())),
                    label("req", req.to_string()),
                    label("run_id", run_id.into()),
                ],
                samples: vec![prompb::Sample {
                    value: j as f64,
                    timestamp: (t_ns / 1_000_000) as i64,
                }],
                exemplars: vec![],
            })
            .collect(),
    }
}

/// One encoded request: body, headers, items.
struct Encoded {
    body: Vec<u8>,
    remote_write: bool,
    items: u64,
}

/// What one path's sending gave: elapsed, items answered 2xx, the first failure.
#[derive(Default)]
struct Sent {
    elapsed: Duration,
    ok_items: u64,
    first_error: Option<String>,
}

impl Sent {
    /// Adds another round's figures.
    fn add(&mut self, other: Sent) {
        self.elapsed += other.elapsed;
        self.ok_items += other.ok_items;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn add_some(&mut self, other: Option<Sent>) {
        if let Some(o) = other {
            self.add(o);
        }
    }
}

/// Rounds each path's requests are sent in.
pub const ROUNDS: usize = 4;

/// `requests` split into [`ROUNDS`] rounds, in order (the last ones may be
/// smaller or empty).
fn rounds(requests: Vec<Encoded>) -> Vec<Vec<Encoded>> {
    let per = requests.len().div_ceil(ROUNDS).max(1);
    let mut out: Vec<Vec<Encoded>> = Vec::new();
    let mut it = requests.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(per).collect());
    }
    out.resize_with(ROUNDS, Vec::new);
    out
}

/// Sends `requests` to `url`, [`IN_FLIGHT`] at a time.
async fn send_all(http: &reqwest::Client, url: &str, requests: Vec<Encoded>) -> Sent {
    let started = Instant::now();
    let answers: Vec<(u64, Result<(), String>)> = stream::iter(requests)
        .map(|r| async move {
            let mut req = http.post(url).body(r.body);
            req = if r.remote_write {
                req.header("Content-Type", "application/x-protobuf")
                    .header("Content-Encoding", "snappy")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            } else {
                req.header("Content-Type", "application/x-protobuf")
            };
            let result = match req.send().await {
                Ok(a) if a.status().is_success() => Ok(()),
                Ok(a) => {
                    let status = a.status();
                    let text: String = a
                        .text()
                        .await
                        .unwrap_or_default()
                        .chars()
                        .take(200)
                        .collect();
                    Err(format!("{status}: {}", text.trim()))
                }
                Err(e) => Err(e.to_string()),
            };
            (r.items, result)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();
    Sent {
        elapsed,
        ok_items: answers
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(n, _)| n)
            .sum(),
        first_error: answers
            .into_iter()
            .find_map(|(_, r)| r.err())
            .map(|e| redact_url(&e)),
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// The requests of `signal` for `path`, encoded.
fn encoded(
    signal: &str,
    run_id: &str,
    path: Path,
    load: GatewayLoad,
    remote_write: bool,
) -> Vec<Encoded> {
    let t = now_ns();
    let nonce = t ^ 0x5bd1_e995;
    (0..load.requests)
        .map(|req| match signal {
            "traces" => Encoded {
                body: traces_request(run_id, nonce, path, req, load.batch, t).encode_to_vec(),
                remote_write: false,
                items: load.batch as u64,
            },
            "logs" => Encoded {
                body: logs_request(run_id, path, req, load.batch, t).encode_to_vec(),
                remote_write: false,
                items: load.batch as u64,
            },
            _ if remote_write => Encoded {
                body: prompb::encode(&remote_write_request(run_id, path, req, load.points, t))
                    .unwrap_or_default(),
                remote_write: true,
                items: load.points as u64,
            },
            _ => Encoded {
                body: metrics_request(run_id, path, req, load.points, t).encode_to_vec(),
                remote_write: false,
                items: load.points as u64,
            },
        })
        .collect()
}

/// Items of `signal` the record holds, and how many of them were acknowledged.
fn recorded(record: &Record, signal: &str) -> (u64, u64) {
    let acked: Vec<bool> = match signal {
        "traces" => record.spans.iter().map(|s| s.acked).collect(),
        "logs" => record.logs.iter().map(|l| l.acked).collect(),
        _ => record.points.iter().map(|p| p.acked).collect(),
    };
    (
        acked.len() as u64,
        acked.iter().filter(|a| **a).count() as u64,
    )
}

/// Measures each signal `endpoints` has: `load` sent directly, then through a
/// gateway started from `config` (its upstreams set to the same endpoints), under
/// run id `run_id`. Signals without an endpoint are left out; a gateway that cannot
/// start leaves its figures empty with the reason in `notes`.
pub async fn measure(
    endpoints: &Endpoints,
    config: GatewayConfig,
    load: GatewayLoad,
    run_id: &str,
) -> Vec<GatewayThroughput> {
    if load.requests == 0 {
        return Vec::new();
    }
    let http = reqwest::Client::new();
    let gateway = Gateway::start(endpoints.gateway_config(config)).await;
    let mut rows = Vec::new();
    let signals = [
        ("traces", endpoints.traces.clone(), false),
        ("logs", endpoints.logs.clone(), false),
        match &endpoints.metrics {
            Some(MetricsEndpoint::Otlp(u)) => ("metrics", Some(u.clone()), false),
            Some(MetricsEndpoint::RemoteWrite(u)) => ("metrics", Some(u.clone()), true),
            None => ("metrics", None, false),
        },
    ];
    for (signal, url, remote_write) in signals {
        let Some(url) = url else { continue };
        let per = if signal == "metrics" {
            load.points
        } else {
            load.batch
        };
        let how = match (signal, remote_write) {
            ("metrics", true) => "direct: remote write; gateway: OTLP translated to remote write",
            _ => "OTLP/HTTP protobuf",
        };
        let mut row = GatewayThroughput {
            signal: signal.into(),
            upstream: format!("{} ({how})", redact_url(&url)),
            requests: load.requests as u64,
            items_per_request: per as u64,
            direct_ms: None,
            gateway_ms: None,
            ratio: None,
            sent: (load.requests * per) as u64,
            direct_acked: 0,
            gateway_answered: 0,
            recorded: 0,
            acked: 0,
            notes: Vec::new(),
        };
        // Rounds, alternating which path goes first (direct, gateway, gateway,
        // direct, …), so that neither path has the quieter moment of a shared
        // machine or the emptier backend to itself.
        let gateway_url = gateway.as_ref().ok().map(|g| {
            let path = match signal {
                "traces" => "/v1/traces",
                "logs" => "/v1/logs",
                _ => "/v1/metrics",
            };
            format!("{}{path}", g.http_url())
        });
        if let Err(e) = &gateway {
            row.notes.push(format!("gateway: {e}"));
        }
        let mut direct_rounds = rounds(encoded(signal, run_id, Path::Direct, load, remote_write));
        let mut gateway_rounds = rounds(encoded(signal, run_id, Path::Gateway, load, false));
        let (mut direct, mut through) = (Sent::default(), Sent::default());
        for round in 0..ROUNDS {
            let d = std::mem::take(&mut direct_rounds[round]);
            let g = std::mem::take(&mut gateway_rounds[round]);
            let send_gateway = async {
                match &gateway_url {
                    Some(u) => Some(send_all(&http, u, g).await),
                    None => None,
                }
            };
            if round % 2 == 0 {
                direct.add(send_all(&http, &url, d).await);
                through.add_some(send_gateway.await);
            } else {
                through.add_some(send_gateway.await);
                direct.add(send_all(&http, &url, d).await);
            }
        }
        row.direct_ms = Some(direct.elapsed.as_millis() as u64);
        row.direct_acked = direct.ok_items;
        row.notes
            .extend(direct.first_error.map(|e| format!("direct: {e}")));
        if gateway_url.is_some() {
            row.gateway_ms = Some(through.elapsed.as_millis() as u64);
            row.gateway_answered = through.ok_items;
            row.notes
                .extend(through.first_error.map(|e| format!("gateway: {e}")));
            if !direct.elapsed.is_zero() {
                let r = through.elapsed.as_secs_f64() / direct.elapsed.as_secs_f64();
                row.ratio = Some((r * 100.0).round() / 100.0);
            }
        }
        rows.push(row);
    }
    if let Ok(g) = gateway {
        let record = g.stop().await;
        for row in &mut rows {
            (row.recorded, row.acked) = recorded(&record, &row.signal);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_paths_items_are_distinct() {
        let d = traces_request("r", 7, Path::Direct, 3, 4, 1);
        let g = traces_request("r", 7, Path::Gateway, 3, 4, 1);
        let spans =
            |r: &ExportTraceServiceRequest| r.resource_spans[0].scope_spans[0].spans.clone();
        assert_eq!(spans(&d).len(), 4);
        assert_ne!(spans(&d)[0].trace_id, spans(&g)[0].trace_id);
        let ids: std::collections::BTreeSet<_> =
            spans(&d).iter().map(|s| s.span_id.clone()).collect();
        assert_eq!(ids.len(), 4);
        assert!(
            spans(&d)
                .iter()
                .all(|s| s.span_id.len() == 8 && s.trace_id.len() == 16)
        );
        let m = metrics_request("r", Path::Gateway, 2, 5, 1);
        assert_eq!(
            m.resource_metrics[0].scope_metrics[0].metrics[0].name,
            "lgtm_bench_gateway_gateway"
        );
        assert_eq!(
            remote_write_request("r", Path::Direct, 2, 5, 1)
                .timeseries
                .len(),
            5
        );
    }

    /// A backend that answers every request 200 with an empty protobuf, and counts
    /// the requests.
    async fn backend() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        let app = axum::Router::new().fallback(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async {
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, count)
    }

    #[tokio::test]
    async fn both_paths_send_the_same_load_and_the_record_counts_every_item() {
        let (url, count) = backend().await;
        let endpoints = Endpoints {
            traces: Some(format!("{url}/v1/traces")),
            logs: Some(format!("{url}/otlp/v1/logs")),
            metrics: Some(MetricsEndpoint::RemoteWrite(format!("{url}/api/v1/write"))),
        };
        let load = GatewayLoad {
            requests: 3,
            batch: 4,
            points: 2,
        };
        let rows = measure(&endpoints, GatewayConfig::new("b"), load, "b").await;
        let got: Vec<(&str, u64, u64)> = rows
            .iter()
            .map(|r| (r.signal.as_str(), r.sent, r.recorded))
            .collect();
        assert_eq!(
            got,
            [("traces", 12, 12), ("logs", 12, 12), ("metrics", 6, 6)]
        );
        for r in &rows {
            assert!(r.nothing_lost(), "{r:?}");
            assert!(r.direct_ms.is_some() && r.gateway_ms.is_some() && r.ratio.is_some());
        }
        assert!(
            rows[2].upstream.contains("remote write"),
            "{}",
            rows[2].upstream
        );
        // 3 requests per signal and path reached the backend.
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 18);
        let off = GatewayLoad {
            requests: 0,
            ..load
        };
        assert!(
            measure(&endpoints, GatewayConfig::new("b"), off, "b")
                .await
                .is_empty()
        );
    }
}
