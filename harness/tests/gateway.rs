//! The recording gateway in front of a fake backend (a local axum server that keeps
//! every request and answers as each test says): programs' requests as real programs
//! send them (OTLP/HTTP protobuf and JSON with reqwest, OTLP/gRPC with
//! opentelemetry-proto's clients and the OpenTelemetry SDK's exporter, a Loki push, a
//! remote write). No Docker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lgtm_check::clients::Auth;
use lgtm_check::core::record::{Record, RecordSignal};
use lgtm_check::gateway::{Gateway, GatewayConfig, MetricsUpstream, Upstream};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

/// One request the fake backend got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

type Answerer = Arc<dyn Fn(&str) -> Response + Send + Sync>;

/// A local backend that keeps what it got and answers with `answer(path)`.
struct Backend {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Backend {
    async fn start(answer: impl Fn(&str) -> Response + Send + Sync + 'static) -> Backend {
        Backend::start_slow(Duration::ZERO, answer).await
    }

    /// Answers after `delay`.
    async fn start_slow(
        delay: Duration,
        answer: impl Fn(&str) -> Response + Send + Sync + 'static,
    ) -> Backend {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let answer: Answerer = Arc::new(answer);
        let kept = got.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let kept = kept.clone();
                let answer = answer.clone();
                async move {
                    kept.lock().unwrap().push(Got {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    tokio::time::sleep(delay).await;
                    answer(uri.path())
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Backend { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

fn ok_protobuf(_: &str) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/x-protobuf")],
        Vec::<u8>::new(),
    )
        .into_response()
}

/// A port nothing listens on.
async fn refused_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
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

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", "shop")],
        ..Default::default()
    })
}

fn traces(n: u8) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans: (1..=n)
                    .map(|i| Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0, 0, 0, 0, 0, 0, 0, i],
                        name: format!("op {i}"),
                        kind: 2,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_100_000_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs(n: u64) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: (1..=n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics(n: u64) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "temperature".into(),
                    unit: "Cel".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (1..=n)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000 + i,
                                value: Some(number_data_point::Value::AsDouble(i as f64)),
                                attributes: vec![kv("room", &format!("r{i}"))],
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn start(configure: impl FnOnce(&mut GatewayConfig)) -> Gateway {
    let mut config = GatewayConfig::new("gw-test");
    configure(&mut config);
    Gateway::start(config).await.unwrap()
}

#[tokio::test]
async fn otlp_http_protobuf_is_forwarded_as_it_came_with_the_upstreams_tenant_and_credentials() {
    let tempo = Backend::start(ok_protobuf).await;
    let gw = start(|c| {
        c.upstreams.traces = Some(
            Upstream::new(format!("{}/v1/traces", tempo.url))
                .tenant("team-a")
                .auth(Auth::Basic {
                    user: "u".into(),
                    password: "p".into(),
                }),
        );
    })
    .await;
    let body = traces(2).encode_to_vec();
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/traces", gw.http_url()))
        .header("content-type", "application/x-protobuf")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        header(answer.headers(), "content-type"),
        Some("application/x-protobuf")
    );
    let got = tempo.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/v1/traces");
    assert_eq!(got[0].body.as_ref(), body.as_slice(), "the same bytes");
    assert_eq!(
        header(&got[0].headers, "content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(header(&got[0].headers, "x-scope-orgid"), Some("team-a"));
    assert_eq!(header(&got[0].headers, "authorization"), Some("Basic dTpw"));

    let record = gw.stop().await;
    assert_eq!(record.spans.len(), 2);
    assert!(record.spans.iter().all(|s| s.acked));
    assert_eq!(record.spans[1].span_id, "0000000000000002");
    assert_eq!(record.exchanges.len(), 1);
    let e = &record.exchanges[0];
    assert_eq!(
        (e.signal, e.protocol.as_str(), e.items, e.accepted),
        (RecordSignal::Traces, "otlp/http-protobuf", 2, true)
    );
    assert_eq!(e.status, "200 OK");
    assert_eq!(e.forwarded_to, format!("{}/v1/traces", tempo.url));
    assert!(record.finished_at_unix_ms >= record.started_at_unix_ms);
}

#[tokio::test]
async fn a_429_with_retry_after_goes_back_to_the_program_unchanged_and_the_items_are_not_acked() {
    let loki = Backend::start(|_| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "7"), ("content-type", "text/plain")],
            "ingestion rate limit exceeded",
        )
            .into_response()
    })
    .await;
    let gw = start(|c| {
        c.upstreams.logs = Some(Upstream::new(format!("{}/otlp/v1/logs", loki.url)));
    })
    .await;
    let json = serde_json::to_vec(&logs(3)).unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/logs", gw.http_url()))
        .header("content-type", "application/json")
        .header("x-scope-orgid", "programs-own")
        .body(json.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    assert_eq!(header(answer.headers(), "retry-after"), Some("7"));
    assert_eq!(header(answer.headers(), "content-type"), Some("text/plain"));
    assert_eq!(
        answer.text().await.unwrap(),
        "ingestion rate limit exceeded"
    );
    let got = loki.got();
    assert_eq!(got[0].body.as_ref(), json.as_slice());
    assert_eq!(
        header(&got[0].headers, "content-type"),
        Some("application/json")
    );
    // No tenant of its own: the program's passes through.
    assert_eq!(
        header(&got[0].headers, "x-scope-orgid"),
        Some("programs-own")
    );

    let record = gw.stop().await;
    assert_eq!(record.logs.len(), 3);
    assert!(record.logs.iter().all(|l| !l.acked));
    assert_eq!(record.logs[2].body, serde_json::json!("line 3"));
    let e = &record.exchanges[0];
    assert_eq!(e.protocol, "otlp/http-json");
    assert_eq!(e.status, "429 Too Many Requests");
    assert!(!e.accepted);
    assert_eq!(e.retry_after.as_deref(), Some("7"));
    assert_eq!(e.message, "ingestion rate limit exceeded");
    assert_eq!(record.refusals(RecordSignal::Logs).count(), 1);
}

#[tokio::test]
async fn a_429_reaches_a_grpc_program_as_resource_exhausted_with_the_retry_delay() {
    use tonic_types::StatusExt;
    let loki = Backend::start(|_| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "7")],
            "ingestion rate limit exceeded",
        )
            .into_response()
    })
    .await;
    let gw = start(|c| {
        c.upstreams.logs = Some(Upstream::new(format!("{}/otlp/v1/logs", loki.url)));
    })
    .await;
    let mut client = LogsServiceClient::connect(gw.grpc_url()).await.unwrap();
    let status = client.export(logs(2)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(status.message(), "ingestion rate limit exceeded");
    let retry = status.get_details_retry_info().unwrap().retry_delay;
    assert_eq!(retry, Some(Duration::from_secs(7)));
    let record = gw.stop().await;
    assert!(record.logs.iter().all(|l| !l.acked));
    assert_eq!(record.exchanges[0].retry_after.as_deref(), Some("7"));
    assert_eq!(record.exchanges[0].protocol, "otlp/grpc");
}

#[tokio::test]
async fn a_partial_success_reaches_a_grpc_program_and_the_record() {
    let mimir = Backend::start(|_| {
        let answer = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess {
                rejected_data_points: 3,
                error_message: "3 points out of order".into(),
            }),
        };
        (
            StatusCode::OK,
            [("content-type", "application/x-protobuf")],
            answer.encode_to_vec(),
        )
            .into_response()
    })
    .await;
    let gw = start(|c| {
        c.upstreams.metrics = Some(MetricsUpstream::Otlp(Upstream::new(format!(
            "{}/otlp/v1/metrics",
            mimir.url
        ))));
    })
    .await;
    let mut client = MetricsServiceClient::connect(gw.grpc_url()).await.unwrap();
    let request = metrics(5);
    let answer = client.export(request.clone()).await.unwrap().into_inner();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 3);
    assert_eq!(partial.error_message, "3 points out of order");
    // gRPC in, OTLP/HTTP protobuf out.
    let got = mimir.got();
    assert_eq!(got[0].path, "/otlp/v1/metrics");
    assert_eq!(
        header(&got[0].headers, "content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(
        ExportMetricsServiceRequest::decode(got[0].body.clone()).unwrap(),
        request
    );

    let record = gw.stop().await;
    assert_eq!(record.points.len(), 5);
    assert!(record.points.iter().all(|p| p.acked));
    let e = &record.exchanges[0];
    assert_eq!((e.protocol.as_str(), e.accepted), ("otlp/grpc", true));
    assert_eq!(e.rejected_items, 3);
    assert_eq!(record.partially_rejected(RecordSignal::Metrics), 3);
}

#[tokio::test]
async fn a_refused_port_is_unavailable_over_grpc_and_502_over_http_naming_the_cause() {
    let port = refused_port().await;
    let gw = start(|c| {
        c.upstreams.traces = Some(Upstream::new(format!("http://127.0.0.1:{port}/v1/traces")));
    })
    .await;
    let mut client = TraceServiceClient::connect(gw.grpc_url()).await.unwrap();
    let status = client.export(traces(1)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("connection refused"),
        "{}",
        status.message()
    );
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/traces", gw.http_url()))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&traces(2)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 502);
    let status: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status["code"], 14, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{status}"
    );

    let record = gw.stop().await;
    assert_eq!(record.spans.len(), 3);
    assert!(record.spans.iter().all(|s| !s.acked));
    assert_eq!(record.exchanges.len(), 2);
    for e in &record.exchanges {
        assert_eq!(e.status, "connection refused");
        assert!(!e.accepted);
    }
}

#[tokio::test]
async fn a_signal_without_a_backend_is_404_and_unimplemented_and_recorded() {
    let gw = start(|_| {}).await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/logs", gw.http_url()))
        .header("content-type", "application/x-protobuf")
        .body(logs(1).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let mut client = LogsServiceClient::connect(gw.grpc_url()).await.unwrap();
    let status = client.export(logs(2)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status
            .message()
            .starts_with("lgtm-check's gateway has no backend for logs: "),
        "{}",
        status.message()
    );
    let record = gw.stop().await;
    assert_eq!(record.logs.len(), 3);
    assert!(
        record
            .exchanges
            .iter()
            .all(|e| e.status == "no backend for logs" && !e.accepted && e.forwarded_to.is_empty())
    );
}

#[tokio::test]
async fn a_request_that_cannot_be_read_is_400_and_recorded_without_items() {
    let tempo = Backend::start(ok_protobuf).await;
    let gw = start(|c| {
        c.upstreams.traces = Some(Upstream::new(format!("{}/v1/traces", tempo.url)));
    })
    .await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/traces", gw.http_url()))
        .header("content-type", "application/json")
        .body("{\"resourceSpans\": 3}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let text = answer.text().await.unwrap();
    assert!(text.contains("OTLP/JSON traces"), "{text}");
    assert!(tempo.got().is_empty());
    let record = gw.stop().await;
    assert_eq!(record.exchanges.len(), 1);
    assert_eq!(record.exchanges[0].status, "invalid request");
    assert_eq!(record.exchanges[0].items, 0);
}

#[tokio::test]
async fn grpc_traces_go_to_a_grpc_tempo_with_the_tenant_and_its_answer_comes_back() {
    /// Each request's tenant and spans.
    type Received = Vec<(Option<String>, ExportTraceServiceRequest)>;
    #[derive(Clone, Default)]
    struct FakeTempo(Arc<Mutex<Received>>);
    #[tonic::async_trait]
    impl TraceService for FakeTempo {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let tenant = request
                .metadata()
                .get("x-scope-orgid")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            self.0.lock().unwrap().push((tenant, request.into_inner()));
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: 1,
                    error_message: "one span too large".into(),
                }),
            }))
        }
    }
    let tempo = FakeTempo::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(tempo.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    let gw = start(|c| {
        c.upstreams.traces = Some(
            Upstream::new(format!("http://{addr}"))
                .over_grpc()
                .tenant("traces-team"),
        );
    })
    .await;
    let mut client = TraceServiceClient::connect(gw.grpc_url()).await.unwrap();
    let answer = client.export(traces(3)).await.unwrap().into_inner();
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);
    // An HTTP program's traces go the same way; the answer in its encoding.
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/traces", gw.http_url()))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&traces(1)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "1", "{body}");
    let got = tempo.0.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0.as_deref(), Some("traces-team"));
    assert_eq!(got[0].1, traces(3));
    let record = gw.stop().await;
    assert_eq!(record.spans.len(), 4);
    assert!(record.spans.iter().all(|s| s.acked));
    assert_eq!(record.exchanges[0].status, "gRPC OK");
    assert_eq!(record.partially_rejected(RecordSignal::Traces), 2);
}

#[tokio::test]
async fn a_loki_json_push_and_a_remote_write_are_forwarded_as_they_came() {
    let loki = Backend::start(|_| StatusCode::NO_CONTENT.into_response()).await;
    let prom = Backend::start(|_| StatusCode::NO_CONTENT.into_response()).await;
    let gw = start(|c| {
        c.upstreams.loki_push = Some(Upstream::new(format!("{}/loki/api/v1/push", loki.url)));
        c.upstreams.remote_write = Some(Upstream::new(format!("{}/api/v1/write", prom.url)));
    })
    .await;
    let http = reqwest::Client::new();
    let push = r#"{"streams":[{"stream":{"job":"shop"},"values":[["1700000000000000000","order 42 paid"],["1700000000000000001","order 43 paid",{"user":"7"}]]}]}"#;
    let answer = http
        .post(format!("{}/loki/api/v1/push", gw.http_url()))
        .header("content-type", "application/json")
        .body(push)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(loki.got()[0].body.as_ref(), push.as_bytes());

    use lgtm_scenarios::prompb::{Label, Sample, TimeSeries, WriteRequest, encode};
    let write = encode(&WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: "up".into(),
            }],
            samples: vec![Sample {
                value: 1.0,
                timestamp: 1_700_000_000_000,
            }],
            exemplars: vec![],
        }],
    })
    .unwrap();
    let answer = http
        .post(format!("{}/api/v1/push", gw.http_url()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(write.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    let got = prom.got();
    assert_eq!(got[0].path, "/api/v1/write");
    assert_eq!(got[0].body.as_ref(), write.as_slice());
    assert_eq!(header(&got[0].headers, "content-encoding"), Some("snappy"));
    assert_eq!(
        header(&got[0].headers, "x-prometheus-remote-write-version"),
        Some("0.1.0")
    );

    let record = gw.stop().await;
    assert_eq!(record.loki_lines.len(), 2);
    assert!(record.loki_lines.iter().all(|l| l.acked));
    assert_eq!(record.loki_lines[1].structured_metadata["user"], "7");
    assert_eq!(record.samples.len(), 1);
    assert!(record.samples[0].acked);
    let protocols: Vec<_> = record
        .exchanges
        .iter()
        .map(|e| (e.protocol.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(
        protocols,
        [
            ("loki-push", "204 No Content"),
            ("remote-write", "204 No Content")
        ]
    );
}

#[tokio::test]
async fn otlp_metrics_to_a_remote_write_upstream_are_written_as_remote_write() {
    let prom = Backend::start(|_| StatusCode::NO_CONTENT.into_response()).await;
    let gw = start(|c| {
        c.upstreams.metrics = Some(MetricsUpstream::RemoteWrite(
            Upstream::new(format!("{}/api/v1/write", prom.url)).tenant("metrics-team"),
        ));
    })
    .await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/metrics", gw.http_url()))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&metrics(2)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "{}");
    let got = prom.got();
    assert_eq!(got.len(), 1);
    assert_eq!(header(&got[0].headers, "content-encoding"), Some("snappy"));
    assert_eq!(
        header(&got[0].headers, "x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    assert_eq!(
        header(&got[0].headers, "x-scope-orgid"),
        Some("metrics-team")
    );
    // A remote-write body (its samples are what `translate_points` makes).
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&got[0].body)
        .unwrap();
    lgtm_scenarios::prompb::WriteRequest::decode(raw.as_slice()).unwrap();

    let record = gw.stop().await;
    assert_eq!(record.points.len(), 2);
    assert!(record.points.iter().all(|p| p.acked));
    assert_eq!(
        record.exchanges[0].forwarded_to,
        format!("{}/api/v1/write", prom.url)
    );
}

#[tokio::test]
async fn stop_lets_a_request_under_way_finish_and_records_it() {
    let tempo = Backend::start_slow(Duration::from_millis(400), ok_protobuf).await;
    let gw = start(|c| {
        c.upstreams.traces = Some(Upstream::new(format!("{}/v1/traces", tempo.url)));
    })
    .await;
    let url = format!("{}/v1/traces", gw.http_url());
    let sending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(traces(1).encode_to_vec())
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    while tempo.got().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let record = gw.stop().await;
    assert_eq!(sending.await.unwrap().unwrap(), 200);
    assert_eq!(record.spans.len(), 1);
    assert!(record.spans[0].acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_from_the_opentelemetry_sdk_exporter_go_through_and_are_recorded() {
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry_otlp::WithExportConfig;

    let tempo = Backend::start(ok_protobuf).await;
    let gw = start(|c| {
        c.upstreams.traces = Some(Upstream::new(format!("{}/v1/traces", tempo.url)));
    })
    .await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(gw.grpc_url())
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("sdk-app")
                .build(),
        )
        .build();
    let tracer = provider.tracer("gateway-e2e");
    tracer.in_span("parent", |_| {
        tracer.in_span("child", |_| {});
    });
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();

    let record: Record = gw.stop().await;
    assert_eq!(record.spans.len(), 2, "{:?}", record.exchanges);
    assert!(record.spans.iter().all(|s| s.acked));
    assert_eq!(record.services(), ["sdk-app"]);
    let child = record.spans.iter().find(|s| s.name == "child").unwrap();
    let parent = record.spans.iter().find(|s| s.name == "parent").unwrap();
    assert_eq!(child.parent_span_id.as_ref(), Some(&parent.span_id));
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(record.exchanges[0].protocol, "otlp/grpc");
    // Tempo got them as OTLP/HTTP protobuf, in one or more requests.
    let sent: usize = tempo
        .got()
        .iter()
        .map(|g| {
            let r = ExportTraceServiceRequest::decode(g.body.clone()).unwrap();
            r.resource_spans[0].scope_spans[0].spans.len()
        })
        .sum();
    assert_eq!(sent, 2);
}
