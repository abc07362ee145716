//! The otlp-service binary end to end against a local OTLP receiver (no Docker): a
//! tonic server for gRPC and an axum one for HTTP/protobuf, both decoding the
//! requests with opentelemetry-proto's messages. Checks what arrived: the spans, the
//! log records (with their spans' ids and severities), the four metrics' final values,
//! the exemplars (ids of exported spans), the resource and the headers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use lgtm_scenarios::manifest::Manifest;
use lgtm_scenarios::otlp_service as scenario;

/// A header (as lowercase name and value) every request must carry, given to the
/// binary in `OTEL_EXPORTER_OTLP_HEADERS`; its value must never be printed.
const SECRET_HEADER: (&str, &str) = ("x-test-secret", "s3cr3t-otlp-header-value");
const TENANT: &str = "tenant-otlp";

/// A request's signal and headers (lowercase names).
type Headers = (&'static str, BTreeMap<String, String>);

/// Everything the receiver got: the decoded requests and each request's headers.
#[derive(Default, Clone)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    /// (signal, headers) of each request.
    headers: Arc<Mutex<Vec<Headers>>>,
}

impl Received {
    fn note_headers(&self, signal: &'static str, headers: &axum::http::HeaderMap) {
        let h = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        self.headers.lock().unwrap().push((signal, h));
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.note_headers("traces", &request.metadata().clone().into_headers());
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(Default::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.note_headers("logs", &request.metadata().clone().into_headers());
        self.logs.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(Default::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.note_headers("metrics", &request.metadata().clone().into_headers());
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(Default::default()))
    }
}

/// Serves OTLP/gRPC on a free local port.
async fn grpc_receiver(received: Received) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .add_service(LogsServiceServer::new(received.clone()))
            .add_service(MetricsServiceServer::new(received))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

/// Serves OTLP/HTTP (protobuf) on a free local port: only the three signal paths.
async fn http_receiver(received: Received) -> SocketAddr {
    use axum::routing::post;
    fn reply(body: Vec<u8>) -> ([(&'static str, &'static str); 1], Vec<u8>) {
        ([("content-type", "application/x-protobuf")], body)
    }
    let r = received;
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            post({
                let r = r.clone();
                move |headers: HeaderMap, body: Bytes| async move {
                    r.note_headers("traces", &headers);
                    let req = ExportTraceServiceRequest::decode(body).expect("a traces request");
                    r.traces.lock().unwrap().push(req);
                    reply(ExportTraceServiceResponse::default().encode_to_vec())
                }
            }),
        )
        .route(
            "/v1/logs",
            post({
                let r = r.clone();
                move |headers: HeaderMap, body: Bytes| async move {
                    r.note_headers("logs", &headers);
                    let req = ExportLogsServiceRequest::decode(body).expect("a logs request");
                    r.logs.lock().unwrap().push(req);
                    reply(ExportLogsServiceResponse::default().encode_to_vec())
                }
            }),
        )
        .route(
            "/v1/metrics",
            post({
                let r = r.clone();
                move |headers: HeaderMap, body: Bytes| async move {
                    r.note_headers("metrics", &headers);
                    let req = ExportMetricsServiceRequest::decode(body).expect("a metrics request");
                    r.metrics.lock().unwrap().push(req);
                    reply(ExportMetricsServiceResponse::default().encode_to_vec())
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Runs otlp-service with `args` and `env` only (none of the caller's `OTEL_*`,
/// `LGTM_CHECK_*`, `OTLP_*`), returning its output and manifest path.
async fn run_binary(name: &str, args: &[&str], env: &[(&str, &str)]) -> (Output, PathBuf) {
    let dir = std::env::temp_dir().join(format!("lgtm-otlp-service-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("m.json");
    let _ = std::fs::remove_file(&manifest);
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_otlp-service"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("OTEL_")
            || k.starts_with("LGTM_CHECK_")
            || k.starts_with("OTLP_")
            || k == "RUST_LOG"
        {
            command.env_remove(&key);
        }
    }
    let output = command
        .args(["--run-id", name, "--manifest"])
        .arg(&manifest)
        .args(args)
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), output)
        .await
        .expect("otlp-service finishes within 2 minutes")
        .expect("otlp-service runs");
    (output, manifest)
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn attr_str(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn attr_int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

/// Checks a resource: the run's identity.
fn check_resource(resource: &Option<Resource>, run_id: &str) {
    let attrs = &resource.as_ref().expect("a resource").attributes;
    assert_eq!(attr_str(attrs, "run_id").as_deref(), Some(run_id));
    assert_eq!(
        attr_str(attrs, "service.name").as_deref(),
        Some("otlp-test-svc")
    );
    assert_eq!(
        attr_str(attrs, "deployment.environment").as_deref(),
        Some("staging")
    );
    assert_eq!(
        attr_str(attrs, "service.namespace").as_deref(),
        Some("lgtm-check")
    );
    assert_eq!(
        attr_str(attrs, "service.instance.id"),
        Some(format!("{run_id}-1"))
    );
    assert!(attr_str(attrs, "service.version").is_some());
}

/// The last data of each metric name, over every request (the final flush is last).
fn last_metrics(
    requests: &[ExportMetricsServiceRequest],
    run_id: &str,
) -> BTreeMap<String, Metric> {
    let mut out = BTreeMap::new();
    for req in requests {
        for rm in &req.resource_metrics {
            check_resource(&rm.resource, run_id);
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    out.insert(m.name.clone(), m.clone());
                }
            }
        }
    }
    out
}

fn int_value(v: &Option<number_data_point::Value>) -> i64 {
    match v {
        Some(number_data_point::Value::AsInt(i)) => *i,
        other => panic!("expected an int, got {other:?}"),
    }
}

/// One run against a receiver speaking `protocol`, and every check on what arrived.
async fn check_protocol(protocol: &str) {
    let received = Received::default();
    let addr = match protocol {
        "grpc" => grpc_receiver(received.clone()).await,
        _ => http_receiver(received.clone()).await,
    };
    let run_id = format!("otlp-{}", protocol.replace('/', "-"));
    let endpoint = format!("http://{addr}");
    let secret_headers = format!("{}={}", SECRET_HEADER.0, SECRET_HEADER.1);
    let (output, manifest_path) = run_binary(
        &run_id,
        &[
            "--service",
            "otlp-test-svc",
            "--environment",
            "staging",
            "--otlp-protocol",
            protocol,
            "--otlp-tenant",
            TENANT,
        ],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", secret_headers.as_str()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "otlp-service failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(!stdout.contains(SECRET_HEADER.1) && !stderr.contains(SECRET_HEADER.1));
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON event lines"))
        .collect();
    assert_eq!(events.len(), 2, "{stdout}");
    assert_eq!(events[0]["event"], "emitted");
    assert_eq!(events[0]["spans"], 24);
    assert_eq!(events[0]["log_records"], 17);
    assert_eq!(events[0]["exemplars"], 12);
    assert_eq!(events[1]["event"], "manifest");

    // The manifest: identity, empty sections.
    let manifest = Manifest::read(&manifest_path).unwrap();
    assert_eq!(manifest.scenario, "otlp-service");
    assert_eq!(manifest.run_id, run_id);
    assert_eq!(manifest.service, "otlp-test-svc");
    assert_eq!(manifest.environment, "staging");
    assert_eq!(manifest.services, vec!["otlp-test-svc".to_string()]);
    assert!(manifest.started_at_unix_ms <= manifest.finished_at_unix_ms);
    assert!(manifest.logs.streams.is_empty());
    assert!(manifest.traces.traces.is_empty());
    assert_eq!(manifest.metrics, Default::default());

    // Headers: every request of every signal has the tenant and the environment's.
    let headers = received.headers.lock().unwrap().clone();
    for signal in ["traces", "logs", "metrics"] {
        assert!(
            headers.iter().any(|(s, _)| *s == signal),
            "no {signal} request"
        );
    }
    for (signal, h) in &headers {
        assert_eq!(
            h.get("x-scope-orgid").map(String::as_str),
            Some(TENANT),
            "{signal}"
        );
        assert_eq!(
            h.get(SECRET_HEADER.0).map(String::as_str),
            Some(SECRET_HEADER.1),
            "{signal}"
        );
    }

    // Spans: 12 server spans, each with one db.query child.
    let mut servers = Vec::new();
    let mut dbs = Vec::new();
    for req in received.traces.lock().unwrap().iter() {
        for rs in &req.resource_spans {
            check_resource(&rs.resource, &run_id);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    match span.name.as_str() {
                        scenario::SERVER_SPAN => servers.push(span.clone()),
                        scenario::DB_SPAN => dbs.push(span.clone()),
                        other => panic!("unexpected span {other}"),
                    }
                }
            }
        }
    }
    assert_eq!(servers.len(), 12);
    assert_eq!(dbs.len(), 12);
    // (trace id, span id) of each order's server span.
    let mut server_of_order: BTreeMap<i64, (Vec<u8>, Vec<u8>)> = BTreeMap::new();
    for s in &servers {
        assert_eq!(s.kind, 2, "SPAN_KIND_SERVER");
        assert!(s.parent_span_id.is_empty());
        assert_eq!(
            attr_str(&s.attributes, "http.route").as_deref(),
            Some(scenario::ROUTE)
        );
        assert_eq!(
            attr_str(&s.attributes, "http.request.method").as_deref(),
            Some("GET")
        );
        let order = attr_int(&s.attributes, "order.id")
            .unwrap_or_else(|| panic!("no order.id: {:?}", s.attributes));
        let i = (order - 1000) as u32;
        let code = attr_int(&s.attributes, "http.response.status_code");
        let status = s.status.as_ref().map(|st| st.code).unwrap_or_default();
        if scenario::fails(i) {
            assert_eq!(code, Some(500));
            assert_eq!(status, 2, "STATUS_CODE_ERROR");
        } else {
            assert_eq!(code, Some(200));
            assert_ne!(status, 2);
        }
        server_of_order.insert(order, (s.trace_id.clone(), s.span_id.clone()));
    }
    assert_eq!(
        server_of_order.keys().copied().collect::<Vec<_>>(),
        (1000..1012).collect::<Vec<_>>()
    );
    let server_ids: BTreeSet<(Vec<u8>, Vec<u8>)> = server_of_order.values().cloned().collect();
    for d in &dbs {
        assert!(server_ids.contains(&(d.trace_id.clone(), d.parent_span_id.clone())));
    }
    let trace_ids: BTreeSet<Vec<u8>> = servers.iter().map(|s| s.trace_id.clone()).collect();
    assert_eq!(trace_ids.len(), 12, "one trace per request");

    // Logs: INFO per request, WARN per slow one, ERROR per failed one, each carrying
    // its request's server span.
    let mut severities: BTreeMap<i32, u32> = BTreeMap::new();
    for req in received.logs.lock().unwrap().iter() {
        for rl in &req.resource_logs {
            check_resource(&rl.resource, &run_id);
            for sl in &rl.scope_logs {
                for rec in &sl.log_records {
                    *severities.entry(rec.severity_number).or_default() += 1;
                    let order = attr_int(&rec.attributes, "order.id")
                        .unwrap_or_else(|| panic!("no order.id: {rec:?}"));
                    let (trace_id, span_id) = &server_of_order[&order];
                    assert_eq!(&rec.trace_id, trace_id);
                    assert_eq!(&rec.span_id, span_id);
                    let latency = attr_int(&rec.attributes, "latency_ms");
                    match rec.severity_number {
                        9 => {
                            assert_eq!(
                                latency,
                                Some(scenario::latency_ms((order - 1000) as u32) as i64)
                            );
                            assert_eq!(rec.severity_text, "INFO");
                        }
                        13 => assert!(latency.unwrap() >= scenario::SLOW_MS as i64),
                        17 => assert!(scenario::fails((order - 1000) as u32)),
                        other => panic!("unexpected severity {other}"),
                    }
                    assert!(rec.body.is_some());
                }
            }
        }
    }
    assert_eq!(severities, BTreeMap::from([(9, 12), (13, 2), (17, 3)]));

    // Metrics: the final values.
    let metrics = last_metrics(&received.metrics.lock().unwrap(), &run_id);
    let names: Vec<&str> = metrics.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "otlp.cache.ratio",
            "otlp.checkout.duration",
            "otlp.orders",
            "otlp.queue.depth",
            "otlp.request.duration"
        ]
    );
    let expected = scenario::expected(12);

    let orders = &metrics["otlp.orders"];
    assert_eq!(orders.unit, "{order}");
    let Some(metric::Data::Sum(sum)) = &orders.data else {
        panic!("otlp.orders is not a sum: {orders:?}")
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 2, "cumulative");
    let by_status: BTreeMap<String, i64> = sum
        .data_points
        .iter()
        .map(|p| {
            (
                attr_str(&p.attributes, "order.status").unwrap(),
                int_value(&p.value),
            )
        })
        .collect();
    assert_eq!(
        by_status,
        BTreeMap::from([("failed".to_string(), 3), ("paid".to_string(), 9)])
    );

    let queue = &metrics["otlp.queue.depth"];
    assert_eq!(queue.unit, "{item}");
    let Some(metric::Data::Sum(sum)) = &queue.data else {
        panic!("otlp.queue.depth is not a sum: {queue:?}")
    };
    assert!(!sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 2, "cumulative");
    assert_eq!(sum.data_points.len(), 1);
    assert_eq!(int_value(&sum.data_points[0].value), 3);

    let cache = &metrics["otlp.cache.ratio"];
    assert_eq!(cache.unit, "1");
    let Some(metric::Data::Gauge(gauge)) = &cache.data else {
        panic!("otlp.cache.ratio is not a gauge: {cache:?}")
    };
    assert_eq!(gauge.data_points.len(), 1);
    assert_eq!(
        gauge.data_points[0].value,
        Some(number_data_point::Value::AsDouble(0.75))
    );

    for name in ["otlp.request.duration", "otlp.checkout.duration"] {
        let m = &metrics[name];
        assert_eq!(m.unit, "s", "{name}");
        let Some(metric::Data::Histogram(h)) = &m.data else {
            panic!("{name} is not a histogram: {m:?}")
        };
        assert_eq!(h.aggregation_temporality, 2, "{name} cumulative");
        assert_eq!(h.data_points.len(), 1, "{name}: one route");
        let p = &h.data_points[0];
        assert_eq!(
            attr_str(&p.attributes, "http.route").as_deref(),
            Some(scenario::ROUTE)
        );
        assert_eq!(p.explicit_bounds, scenario::DURATION_BUCKETS.to_vec());
        assert_eq!(p.count, 12, "{name}");
        assert_eq!(p.bucket_counts, vec![6, 4, 2, 0, 0, 0, 0, 0, 0], "{name}");
        assert!(
            (p.sum.unwrap() - 0.070).abs() < 1e-9,
            "{name} sum {:?}",
            p.sum
        );
        assert_eq!(p.bucket_counts, expected.bucket_counts);
        if name == "otlp.request.duration" {
            assert!(p.exemplars.is_empty(), "the SDK collects no exemplars");
            continue;
        }
        // One exemplar per request, on its server span, with its duration.
        assert_eq!(p.exemplars.len(), 12);
        let mut orders_seen = BTreeSet::new();
        for e in &p.exemplars {
            assert!(
                trace_ids.contains(&e.trace_id),
                "exemplar trace id of no exported span"
            );
            let (&order, _) = server_of_order
                .iter()
                .find(|(_, (t, s))| *t == e.trace_id && *s == e.span_id)
                .expect("exemplar on a server span");
            orders_seen.insert(order);
            let want = scenario::latency_ms((order - 1000) as u32) as f64 / 1000.0;
            assert_eq!(
                e.value,
                Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(want))
            );
            assert!(e.time_unix_nano > 0);
        }
        assert_eq!(orders_seen.len(), 12);
        let times: Vec<u64> = p.exemplars.iter().map(|e| e.time_unix_nano).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_sends_all_three_signals_and_exemplars() {
    check_protocol("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_sends_all_three_signals_and_exemplars() {
    check_protocol("http/protobuf").await;
}

/// The endpoint refuses: exit non-zero with the reason, and the manifest is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_export_fails_the_run_but_writes_the_manifest() {
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let endpoint = format!("http://user:hunter2pw@{addr}");
    let run = |protocol: &'static str| {
        let endpoint = endpoint.clone();
        async move {
            let name = format!("refused-{}", protocol.replace('/', "-"));
            let args = ["--otlp-endpoint", &endpoint, "--otlp-protocol", protocol];
            (
                protocol,
                run_binary(&name, &args, &[("RUST_BACKTRACE", "0")]).await,
            )
        }
    };
    // Side by side: each waits out its exporters' retries.
    let (grpc, http) = tokio::join!(run("grpc"), run("http/protobuf"));
    for (protocol, (output, manifest_path)) in [grpc, http] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{protocol}: {stderr}");
        assert!(
            stderr.contains("Error: OTLP export to") && stderr.contains("spans not exported"),
            "{protocol}: {stderr}"
        );
        assert!(!stderr.contains("hunter2pw") && !stdout.contains("hunter2pw"));
        assert!(!stdout.contains("\"emitted\""), "{stdout}");
        let manifest = Manifest::read(&manifest_path).expect("the manifest is written");
        assert_eq!(manifest.scenario, "otlp-service");
    }
}

/// The deterministic workload's expected values, as documented.
#[test]
fn default_workload_expectations() {
    let e = scenario::expected(scenario::DEFAULT_REQUESTS);
    assert_eq!(e.server_spans, 12);
    assert_eq!((e.paid, e.failed), (9, 3));
    assert_eq!(e.queue_depth, 3);
    assert_eq!(e.cache_ratio, 0.75);
    assert_eq!(e.duration_count, 12);
    assert!((e.duration_sum - 0.070).abs() < 1e-12);
    assert_eq!((e.info_logs, e.warn_logs, e.error_logs), (12, 2, 3));
}
