//! The gateway's two listeners: HTTP (axum: OTLP/HTTP, Loki push, remote write,
//! `/ready`) and OTLP/gRPC (tonic). Each request is decoded, forwarded, and
//! recorded with its answer.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
use tokio::sync::watch;

use super::decode::{self, OtlpEncoding, OtlpRequest};
use super::forward::{
    Answer, Caller, Forwarder, OtlpResponse, Reply, grpc_status, otlp_error_body, otlp_success_body,
};
use super::{MAX_BODY, MetricsUpstream, Upstreams, now_ms};
use crate::core::component::Component;
use crate::core::record::{
    Record, RecordSignal, RecordedLog, RecordedLokiLine, RecordedPoint, RecordedSample,
    RecordedSpan,
};

/// What every request handler shares.
pub(super) struct Shared {
    pub(super) record: Arc<Mutex<Record>>,
    pub(super) forwarder: Forwarder,
    pub(super) upstreams: Upstreams,
}

/// The entries one request carried.
enum Entries {
    Spans(Vec<RecordedSpan>),
    Logs(Vec<RecordedLog>),
    Points(Vec<RecordedPoint>),
    Lines(Vec<RecordedLokiLine>),
    Samples(Vec<RecordedSample>),
}

impl Entries {
    fn len(&self) -> usize {
        match self {
            Entries::Spans(v) => v.len(),
            Entries::Logs(v) => v.len(),
            Entries::Points(v) => v.len(),
            Entries::Lines(v) => v.len(),
            Entries::Samples(v) => v.len(),
        }
    }

    /// Marks every entry acknowledged or not and appends it to `record`.
    fn append_to(self, record: &mut Record, acked: bool) {
        match self {
            Entries::Spans(v) => record.spans.extend(v.into_iter().map(|mut e| {
                e.acked = acked;
                e
            })),
            Entries::Logs(v) => record.logs.extend(v.into_iter().map(|mut e| {
                e.acked = acked;
                e
            })),
            Entries::Points(v) => record.points.extend(v.into_iter().map(|mut e| {
                e.acked = acked;
                e
            })),
            Entries::Lines(v) => record.loki_lines.extend(v.into_iter().map(|mut e| {
                e.acked = acked;
                e
            })),
            Entries::Samples(v) => record.samples.extend(v.into_iter().map(|mut e| {
                e.acked = acked;
                e
            })),
        }
    }
}

impl Shared {
    /// Records the entries of one request, marked by the answer, and the exchange.
    fn commit(
        &self,
        signal: RecordSignal,
        protocol: &str,
        at: u64,
        entries: Entries,
        answer: &Answer,
    ) {
        let exchange = answer.exchange(signal, protocol, entries.len() as u64, at);
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        entries.append_to(&mut record, answer.accepted);
        record.exchanges.push(exchange);
    }

    /// The backend an OTLP/HTTP request of `signal` is posted to as it came, when its
    /// path is a passthrough (not gRPC to Tempo, not translated to remote write).
    fn passthrough(&self, signal: RecordSignal) -> Option<(Component, &super::Upstream)> {
        match signal {
            RecordSignal::Traces => self
                .upstreams
                .traces
                .as_ref()
                .filter(|u| !u.grpc)
                .map(|u| (Component::Tempo, u)),
            RecordSignal::Logs => self.upstreams.logs.as_ref().map(|u| (Component::Loki, u)),
            RecordSignal::Metrics => match &self.upstreams.metrics {
                Some(MetricsUpstream::Otlp(u)) => Some((Component::Mimir, u)),
                _ => None,
            },
        }
    }

    /// Forwards an OTLP request that came in over HTTP (`body` as it came): to
    /// Tempo over gRPC when the traces upstream is gRPC, translated to remote write
    /// for such a metrics upstream, else the bytes as they came.
    async fn forward_otlp_http(
        &self,
        signal: RecordSignal,
        headers: &HeaderMap,
        body: Bytes,
        decoded: DecodedOtlp,
    ) -> Answer {
        let caller = Caller::from_headers(headers);
        match (signal, decoded) {
            (RecordSignal::Traces, DecodedOtlp::Traces(request)) => match &self.upstreams.traces {
                None => Answer::no_backend("traces"),
                Some(up) if up.grpc => self.forwarder.traces_grpc(up, &caller, request).await,
                Some(up) => {
                    self.forwarder
                        .post(Component::Tempo, up, Some(signal), headers, &caller, body)
                        .await
                }
            },
            (RecordSignal::Logs, _) => match &self.upstreams.logs {
                None => Answer::no_backend("logs"),
                Some(up) => {
                    self.forwarder
                        .post(Component::Loki, up, Some(signal), headers, &caller, body)
                        .await
                }
            },
            (RecordSignal::Metrics, DecodedOtlp::Metrics(points)) => {
                match &self.upstreams.metrics {
                    None => Answer::no_backend("metrics"),
                    Some(MetricsUpstream::Otlp(up)) => {
                        self.forwarder
                            .post(Component::Mimir, up, Some(signal), headers, &caller, body)
                            .await
                    }
                    Some(MetricsUpstream::RemoteWrite(up)) => {
                        self.forwarder
                            .remote_write_points(up, &caller, &points)
                            .await
                    }
                }
            }
            _ => Answer::no_backend(signal.as_str()),
        }
    }
}

/// What the HTTP path keeps of a decoded OTLP request beyond its entries.
enum DecodedOtlp {
    Traces(ExportTraceServiceRequest),
    Metrics(Vec<RecordedPoint>),
    Logs,
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The response for an answer to an OTLP/HTTP request in `encoding`.
fn otlp_http_response(signal: RecordSignal, encoding: OtlpEncoding, answer: Answer) -> Response {
    match answer.reply {
        Reply::Http(http) => passthrough(http),
        Reply::Otlp(Ok(partial)) => {
            let (body, ct) = otlp_success_body(signal, encoding, partial);
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
        }
        Reply::Otlp(Err(refusal)) => {
            let (body, ct) = otlp_error_body(&refusal, encoding);
            refused(refusal.http_status, ct, body, refusal.retry_after)
        }
    }
}

/// The response for an answer to a Loki push or remote write.
fn plain_http_response(answer: Answer) -> Response {
    match answer.reply {
        Reply::Http(http) => passthrough(http),
        Reply::Otlp(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Reply::Otlp(Err(refusal)) => refused(
            refusal.http_status,
            "text/plain; charset=utf-8",
            format!("{}\n", refusal.message).into_bytes(),
            refusal.retry_after,
        ),
    }
}

fn refused(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    retry_after: Option<String>,
) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The backend's answer as it came: status, body, `Content-Type`, `Retry-After`.
fn passthrough(http: super::forward::HttpAnswer) -> Response {
    let mut r = (
        StatusCode::from_u16(http.status).unwrap_or(StatusCode::BAD_GATEWAY),
        http.body,
    )
        .into_response();
    for (name, value) in [
        (header::CONTENT_TYPE, http.content_type),
        (header::RETRY_AFTER, http.retry_after),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            r.headers_mut().insert(name, v);
        }
    }
    r
}

/// One OTLP/HTTP request of request type `R`. Where the request goes on as it came
/// (a passthrough), it is forwarded while its items are converted for the record,
/// so the program waits for the slower of the two, not for both.
async fn otlp_http<R: OtlpRequest + Send + 'static>(
    shared: &Shared,
    headers: HeaderMap,
    body: Bytes,
    entries_of: fn(R) -> (Entries, DecodedOtlp),
) -> Response {
    let at = now_ms();
    let signal = R::SIGNAL;
    let encoding = OtlpEncoding::from_content_type(header_str(&headers, header::CONTENT_TYPE));
    let decoded = decode::decode_content(header_str(&headers, header::CONTENT_ENCODING), &body)
        .and_then(|plain| decode::otlp_request::<R>(&plain, encoding));
    let request = match decoded {
        Ok(r) => r,
        Err(e) => {
            let answer = Answer::undecodable(&e);
            shared.commit(signal, encoding.protocol(), at, empty(signal), &answer);
            return otlp_http_response(signal, encoding, answer);
        }
    };
    if let Some((component, up)) = shared.passthrough(signal) {
        let caller = Caller::from_headers(&headers);
        let (answer, converted) = tokio::join!(
            shared
                .forwarder
                .post(component, up, Some(signal), &headers, &caller, body),
            tokio::task::spawn_blocking(move || entries_of(request).0)
        );
        let entries = converted.unwrap_or_else(|_| empty(signal));
        shared.commit(signal, encoding.protocol(), at, entries, &answer);
        return otlp_http_response(signal, encoding, answer);
    }
    let (entries, decoded) = entries_of(request);
    let answer = shared
        .forward_otlp_http(signal, &headers, body, decoded)
        .await;
    shared.commit(signal, encoding.protocol(), at, entries, &answer);
    otlp_http_response(signal, encoding, answer)
}

fn empty(signal: RecordSignal) -> Entries {
    match signal {
        RecordSignal::Traces => Entries::Spans(Vec::new()),
        RecordSignal::Logs => Entries::Logs(Vec::new()),
        RecordSignal::Metrics => Entries::Points(Vec::new()),
    }
}

async fn traces_http(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    otlp_http::<ExportTraceServiceRequest>(&s, headers, body, |r| {
        (Entries::Spans(decode::spans(&r)), DecodedOtlp::Traces(r))
    })
    .await
}

async fn logs_http(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    otlp_http::<ExportLogsServiceRequest>(&s, headers, body, |r| {
        (Entries::Logs(decode::logs(&r)), DecodedOtlp::Logs)
    })
    .await
}

async fn metrics_http(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    otlp_http::<ExportMetricsServiceRequest>(&s, headers, body, |r| {
        let points = decode::points(&r);
        (
            Entries::Points(points.clone()),
            DecodedOtlp::Metrics(points),
        )
    })
    .await
}

async fn loki_push_http(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let at = now_ms();
    let lines = decode::loki_push(
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::CONTENT_ENCODING),
        &body,
    );
    let (entries, answer) = match lines {
        Err(e) => (Vec::new(), Answer::undecodable(&e)),
        Ok(lines) => {
            let answer = match &s.upstreams.loki_push {
                None => Answer::no_backend("Loki pushes"),
                Some(up) => {
                    let caller = Caller::from_headers(&headers);
                    s.forwarder
                        .post(Component::Loki, up, None, &headers, &caller, body)
                        .await
                }
            };
            (lines, answer)
        }
    };
    s.commit(
        RecordSignal::Logs,
        "loki-push",
        at,
        Entries::Lines(entries),
        &answer,
    );
    plain_http_response(answer)
}

async fn remote_write_http(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = now_ms();
    let (entries, answer) = match decode::remote_write(&body) {
        Err(e) => (Vec::new(), Answer::undecodable(&e)),
        Ok(samples) => {
            let answer = match &s.upstreams.remote_write {
                None => Answer::no_backend("remote writes"),
                Some(up) => {
                    let caller = Caller::from_headers(&headers);
                    s.forwarder
                        .post(Component::Mimir, up, None, &headers, &caller, body)
                        .await
                }
            };
            (samples, answer)
        }
    };
    s.commit(
        RecordSignal::Metrics,
        "remote-write",
        at,
        Entries::Samples(entries),
        &answer,
    );
    plain_http_response(answer)
}

/// Serves HTTP on `listener` until `stop` turns true, then lets requests under way
/// finish.
pub(super) async fn serve_http(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/v1/traces", post(traces_http))
        .route("/v1/logs", post(logs_http))
        .route("/v1/metrics", post(metrics_http))
        .route("/loki/api/v1/push", post(loki_push_http))
        .route("/api/v1/push", post(remote_write_http))
        .route("/api/v1/write", post(remote_write_http))
        .route("/ready", get(|| async { "ready\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared);
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
}

/// Serves OTLP/gRPC on `listener` until `stop` turns true, then lets requests under
/// way finish.
pub(super) async fn serve_grpc(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    use tonic::codec::CompressionEncoding::Gzip;
    let service = Grpc(shared);
    let _ = tonic::transport::Server::builder()
        .add_service(
            TraceServiceServer::new(service.clone())
                .accept_compressed(Gzip)
                .max_decoding_message_size(MAX_BODY),
        )
        .add_service(
            LogsServiceServer::new(service.clone())
                .accept_compressed(Gzip)
                .max_decoding_message_size(MAX_BODY),
        )
        .add_service(
            MetricsServiceServer::new(service)
                .accept_compressed(Gzip)
                .max_decoding_message_size(MAX_BODY),
        )
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        )
        .await;
}

/// The OTLP/gRPC services.
#[derive(Clone)]
struct Grpc(Arc<Shared>);

/// The gRPC answer of `answer`: the backend's HTTP answer mapped, or the OTLP
/// outcome.
fn grpc_reply<R: OtlpResponse>(answer: Answer) -> Result<tonic::Response<R>, tonic::Status> {
    match answer.reply {
        Reply::Otlp(Ok(partial)) => Ok(tonic::Response::new(R::with_partial(partial))),
        Reply::Otlp(Err(refusal)) => Err(grpc_status(
            refusal.grpc_code,
            refusal.message,
            refusal.retry_after.as_deref(),
        )),
        Reply::Http(http) if (200..300).contains(&http.status) => {
            let partial =
                decode::partial_success(R::SIGNAL, http.content_type.as_deref(), &http.body);
            Ok(tonic::Response::new(R::with_partial(partial)))
        }
        Reply::Http(http) => Err(grpc_status(
            super::forward::grpc_code(http.status),
            String::from_utf8_lossy(&http.body).trim().to_owned(),
            http.retry_after.as_deref(),
        )),
    }
}

impl Grpc {
    /// Forwards a gRPC request's protobuf over OTLP/HTTP to `up`.
    async fn post_protobuf(
        &self,
        component: Component,
        up: &super::Upstream,
        signal: RecordSignal,
        caller: &Caller,
        body: Vec<u8>,
    ) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        self.0
            .forwarder
            .post(component, up, Some(signal), &headers, caller, body.into())
            .await
    }
}

fn caller_of<T>(request: &tonic::Request<T>) -> Caller {
    Caller::from_headers(&request.metadata().clone().into_headers())
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let at = now_ms();
        let caller = caller_of(&request);
        let request = request.into_inner();
        let entries = Entries::Spans(decode::spans(&request));
        let answer = match &self.0.upstreams.traces {
            None => Answer::no_backend("traces"),
            Some(up) if up.grpc => self.0.forwarder.traces_grpc(up, &caller, request).await,
            Some(up) => {
                self.post_protobuf(
                    Component::Tempo,
                    up,
                    RecordSignal::Traces,
                    &caller,
                    prost::Message::encode_to_vec(&request),
                )
                .await
            }
        };
        self.0
            .commit(RecordSignal::Traces, "otlp/grpc", at, entries, &answer);
        grpc_reply(answer)
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let at = now_ms();
        let caller = caller_of(&request);
        let request = request.into_inner();
        let (answer, entries) = match &self.0.upstreams.logs {
            None => (
                Answer::no_backend("logs"),
                Entries::Logs(decode::logs(&request)),
            ),
            Some(up) => {
                // Forwarded while its records are converted for the record.
                let body = prost::Message::encode_to_vec(&request);
                let (answer, converted) = tokio::join!(
                    self.post_protobuf(Component::Loki, up, RecordSignal::Logs, &caller, body),
                    tokio::task::spawn_blocking(move || decode::logs(&request))
                );
                (answer, Entries::Logs(converted.unwrap_or_default()))
            }
        };
        self.0
            .commit(RecordSignal::Logs, "otlp/grpc", at, entries, &answer);
        grpc_reply(answer)
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let at = now_ms();
        let caller = caller_of(&request);
        let request = request.into_inner();
        let points = decode::points(&request);
        let answer = match &self.0.upstreams.metrics {
            None => Answer::no_backend("metrics"),
            Some(MetricsUpstream::Otlp(up)) => {
                self.post_protobuf(
                    Component::Mimir,
                    up,
                    RecordSignal::Metrics,
                    &caller,
                    prost::Message::encode_to_vec(&request),
                )
                .await
            }
            Some(MetricsUpstream::RemoteWrite(up)) => {
                self.0
                    .forwarder
                    .remote_write_points(up, &caller, &points)
                    .await
            }
        };
        self.0.commit(
            RecordSignal::Metrics,
            "otlp/grpc",
            at,
            Entries::Points(points),
            &answer,
        );
        grpc_reply(answer)
    }
}
