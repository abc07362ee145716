//! The gateway's exporters: each request goes to its signal's upstream, and the
//! backend's answer comes back as an [`Answer`] (what to tell the program, and what
//! the record's [`Exchange`] says).
//!
//! - HTTP in, HTTP out ([`Forwarder::post`]): the program's bytes as they came, with
//!   their `Content-Type` and `Content-Encoding`, the upstream's tenant and
//!   credentials added; the backend's status, body, `Content-Type` and `Retry-After`
//!   go back unchanged ([`Reply::Http`]).
//! - gRPC in: traces to Tempo over gRPC when the upstream is gRPC
//!   ([`Forwarder::traces_grpc`]), else every signal as OTLP/HTTP protobuf (Loki and
//!   Mimir/Cortex take OTLP over HTTP only); the HTTP answer maps to a gRPC status as
//!   the OpenTelemetry Collector maps it ([`grpc_code`]).
//! - Metrics to a remote-write upstream ([`Forwarder::remote_write_points`]): the
//!   points translated as the Prometheus-API backend would store them
//!   ([`crate::core::otlp_mapping::translate_points`]), written as one
//!   `WriteRequest`; the program gets an OTLP answer ([`Reply::Otlp`]).
//!
//! No answer (refused, DNS, TLS, timeout) is `502` / `UNAVAILABLE` naming the cause;
//! no upstream is `404` / `UNIMPLEMENTED` ([`Answer::no_backend`]).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::Engine as _;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::transport::Channel;

use super::decode::{OtlpEncoding, PartialSuccess, partial_success};
use super::{GatewayError, Upstream};
use crate::clients::{Auth, redact_url};
use crate::core::component::Component;
use crate::core::otlp_mapping::{
    PromTranslation, TranslatedSample, translate_points, untranslatable,
};
use crate::core::record::{Exchange, RecordSignal, RecordedPoint};
use crate::external::{ConnectionError, classify_transport};

/// How long one forwarded request may take, connection included.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to an upstream may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest backend message a record keeps.
const MESSAGE_CHARS: usize = 500;

/// A backend's HTTP answer, as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Its `Retry-After`.
    pub retry_after: Option<String>,
}

/// A request that was not accepted, answered by the gateway or by a gRPC backend:
/// its status in both protocols and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The HTTP status an HTTP program gets.
    pub http_status: u16,
    /// The gRPC code a gRPC program gets.
    pub grpc_code: tonic::Code,
    /// Why.
    pub message: String,
    /// When to try again, when the backend said.
    pub retry_after: Option<String>,
}

/// What the program is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The backend's HTTP answer, to pass back to an HTTP program unchanged (and to
    /// map for a gRPC one).
    Http(HttpAnswer),
    /// An OTLP outcome the gateway phrases in the program's protocol: success (with
    /// the backend's partial success, if any) or a refusal.
    Otlp(Result<Option<PartialSuccess>, Refusal>),
}

/// The outcome of one request: the reply and what the record says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What the program is told.
    pub reply: Reply,
    /// Where it was forwarded (redacted); empty when it was not.
    pub forwarded_to: String,
    /// `200 OK`, `429 Too Many Requests`, `gRPC UNAVAILABLE`, or why there was no
    /// answer (`connection refused`, `no backend for logs`).
    pub status: String,
    /// Whether the backend accepted it.
    pub accepted: bool,
    /// Items the backend rejected in an accepted request (partial success).
    pub rejected_items: u64,
    /// The backend's message (error text or partial-success message), at most 500
    /// characters, redacted.
    pub message: String,
    /// The backend's `Retry-After`.
    pub retry_after: Option<String>,
}

/// `text` trimmed to [`MESSAGE_CHARS`] characters, URLs' credentials redacted.
fn short(text: &str) -> String {
    redact_url(&text.trim().chars().take(MESSAGE_CHARS).collect::<String>())
}

impl Answer {
    /// The record's entry for this answer to a request of `signal` that came in by
    /// `protocol` with `items` items at `at_unix_ms`.
    pub fn exchange(
        &self,
        signal: RecordSignal,
        protocol: &str,
        items: u64,
        at_unix_ms: u64,
    ) -> Exchange {
        Exchange {
            signal,
            protocol: protocol.into(),
            at_unix_ms,
            items,
            forwarded_to: self.forwarded_to.clone(),
            status: self.status.clone(),
            accepted: self.accepted,
            rejected_items: self.rejected_items,
            message: self.message.clone(),
            retry_after: self.retry_after.clone(),
        }
    }

    /// The gateway's own refusal, forwarded nowhere.
    fn refused(status: &str, http_status: u16, grpc_code: tonic::Code, message: String) -> Answer {
        Answer {
            reply: Reply::Otlp(Err(Refusal {
                http_status,
                grpc_code,
                message: message.clone(),
                retry_after: None,
            })),
            forwarded_to: String::new(),
            status: status.into(),
            accepted: false,
            rejected_items: 0,
            message: short(&message),
            retry_after: None,
        }
    }

    /// No upstream for `what` (`logs`, `Loki pushes`): 404 / `UNIMPLEMENTED`.
    pub fn no_backend(what: &str) -> Answer {
        Answer::refused(
            &format!("no backend for {what}"),
            404,
            tonic::Code::Unimplemented,
            format!(
                "lgtm-check's gateway has no backend for {what}: it was started without an upstream for them"
            ),
        )
    }

    /// A request that cannot be read: 400 / `INVALID_ARGUMENT` with the decoder's
    /// words.
    pub fn undecodable(error: &super::decode::DecodeError) -> Answer {
        Answer::refused(
            "invalid request",
            400,
            tonic::Code::InvalidArgument,
            format!("lgtm-check's gateway cannot read the request: {error}"),
        )
    }

    /// No answer from `component` at `url`: 502 / `UNAVAILABLE`, naming the cause.
    pub fn unreachable(
        component: Component,
        url: &str,
        error: &(dyn std::error::Error + 'static),
    ) -> Answer {
        let e = classify_transport(component, url, error);
        let (status, message) = match &e {
            ConnectionError::Refused { .. } => ("connection refused", e.to_string()),
            ConnectionError::Dns { .. } => ("DNS failure", e.to_string()),
            ConnectionError::Tls { .. } => ("TLS failure", e.to_string()),
            ConnectionError::Timeout { .. } => (
                "timeout",
                format!(
                    "{component} at {}: no answer within {} s",
                    redact_url(url),
                    FORWARD_TIMEOUT.as_secs()
                ),
            ),
            _ => ("unreachable", e.to_string()),
        };
        Answer {
            forwarded_to: redact_url(url),
            ..Answer::refused(
                status,
                502,
                tonic::Code::Unavailable,
                format!("lgtm-check's gateway could not forward the request: {message}"),
            )
        }
    }

    /// The answer of a backend's HTTP reply to a request of `signal` (`None`: not
    /// OTLP, no partial success to read) forwarded to `url`.
    pub fn from_http(otlp: Option<RecordSignal>, url: &str, answer: HttpAnswer) -> Answer {
        let accepted = (200..300).contains(&answer.status);
        let (rejected_items, message) = if accepted {
            otlp.and_then(|s| partial_success(s, answer.content_type.as_deref(), &answer.body))
                .map(|p| (p.rejected, short(&p.message)))
                .unwrap_or_default()
        } else {
            (0, short(&String::from_utf8_lossy(&answer.body)))
        };
        Answer {
            forwarded_to: redact_url(url),
            status: http_status_text(answer.status),
            accepted,
            rejected_items,
            message,
            retry_after: answer.retry_after.clone(),
            reply: Reply::Http(answer),
        }
    }
}

/// `200 OK`, `429 Too Many Requests`.
pub fn http_status_text(status: u16) -> String {
    match axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// The gRPC status a gRPC program gets for a refusal: `code` and `message`, with a
/// `google.rpc.RetryInfo` of `retry_after` (whole seconds, as HTTP's `Retry-After`
/// gives them) when the code is one OTLP clients retry (`RESOURCE_EXHAUSTED`,
/// `UNAVAILABLE`), so that they wait as the backend asked.
pub fn grpc_status(code: tonic::Code, message: String, retry_after: Option<&str>) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let delay = retry_after
        .and_then(|r| r.trim().parse::<u64>().ok())
        .filter(|_| {
            matches!(
                code,
                tonic::Code::ResourceExhausted | tonic::Code::Unavailable
            )
        });
    match delay {
        Some(secs) => tonic::Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(Duration::from_secs(secs))),
        ),
        None => tonic::Status::new(code, message),
    }
}

/// The retry delay a gRPC status carries (`google.rpc.RetryInfo`), in whole seconds
/// as `Retry-After` writes it (rounded up).
pub fn grpc_retry_after(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    let d = status.get_details_retry_info()?.retry_delay?;
    Some(d.as_secs_f64().ceil().to_string())
}

/// `UNAVAILABLE`, `RESOURCE_EXHAUSTED`: a gRPC code as the specification names it.
pub fn grpc_code_name(code: tonic::Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The gRPC code of an HTTP status, as the OpenTelemetry Collector maps it: 400
/// `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404
/// `UNIMPLEMENTED`, 429 `RESOURCE_EXHAUSTED`, 502/503/504 `UNAVAILABLE`, any other
/// error `UNKNOWN`.
///
/// ```
/// use lgtm_check::gateway::forward::grpc_code;
/// assert_eq!(grpc_code(429), tonic::Code::ResourceExhausted);
/// assert_eq!(grpc_code(500), tonic::Code::Unknown);
/// ```
pub fn grpc_code(http_status: u16) -> tonic::Code {
    use tonic::Code;
    match http_status {
        200..=299 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 => Code::ResourceExhausted,
        502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// The HTTP status of a gRPC code (the other way round, for an HTTP program whose
/// traces went to Tempo over gRPC): the codes [`grpc_code`] makes map back, any
/// other to 500.
pub fn http_status(code: tonic::Code) -> u16 {
    use tonic::Code;
    match code {
        Code::Ok => 200,
        Code::InvalidArgument => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::Unimplemented | Code::NotFound => 404,
        Code::ResourceExhausted => 429,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        _ => 500,
    }
}

/// An OTLP export answer of one signal, made from a partial success.
pub trait OtlpResponse: prost::Message + Default {
    /// The signal it answers.
    const SIGNAL: RecordSignal;
    /// The answer carrying `partial` (none: full success).
    fn with_partial(partial: Option<PartialSuccess>) -> Self;
}

impl OtlpResponse for ExportTraceServiceResponse {
    const SIGNAL: RecordSignal = RecordSignal::Traces;
    fn with_partial(partial: Option<PartialSuccess>) -> Self {
        ExportTraceServiceResponse {
            partial_success: partial.map(|p| ExportTracePartialSuccess {
                rejected_spans: p.rejected as i64,
                error_message: p.message,
            }),
        }
    }
}

impl OtlpResponse for ExportLogsServiceResponse {
    const SIGNAL: RecordSignal = RecordSignal::Logs;
    fn with_partial(partial: Option<PartialSuccess>) -> Self {
        ExportLogsServiceResponse {
            partial_success: partial.map(|p| ExportLogsPartialSuccess {
                rejected_log_records: p.rejected as i64,
                error_message: p.message,
            }),
        }
    }
}

impl OtlpResponse for ExportMetricsServiceResponse {
    const SIGNAL: RecordSignal = RecordSignal::Metrics;
    fn with_partial(partial: Option<PartialSuccess>) -> Self {
        ExportMetricsServiceResponse {
            partial_success: partial.map(|p| ExportMetricsPartialSuccess {
                rejected_data_points: p.rejected as i64,
                error_message: p.message,
            }),
        }
    }
}

/// The body of an OTLP success answer of `signal` in `encoding`, with its
/// `Content-Type`.
pub fn otlp_success_body(
    signal: RecordSignal,
    encoding: OtlpEncoding,
    partial: Option<PartialSuccess>,
) -> (Vec<u8>, &'static str) {
    match encoding {
        OtlpEncoding::Protobuf => {
            let body = match signal {
                RecordSignal::Traces => prost::Message::encode_to_vec(
                    &ExportTraceServiceResponse::with_partial(partial),
                ),
                RecordSignal::Logs => {
                    prost::Message::encode_to_vec(&ExportLogsServiceResponse::with_partial(partial))
                }
                RecordSignal::Metrics => prost::Message::encode_to_vec(
                    &ExportMetricsServiceResponse::with_partial(partial),
                ),
            };
            (body, "application/x-protobuf")
        }
        OtlpEncoding::Json => {
            let value = match partial {
                None => serde_json::json!({}),
                Some(p) => {
                    let field = match signal {
                        RecordSignal::Traces => "rejectedSpans",
                        RecordSignal::Logs => "rejectedLogRecords",
                        RecordSignal::Metrics => "rejectedDataPoints",
                    };
                    serde_json::json!({"partialSuccess": {field: p.rejected.to_string(), "errorMessage": p.message}})
                }
            };
            (value.to_string().into_bytes(), "application/json")
        }
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error answer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The body of an OTLP/HTTP error answer (`google.rpc.Status`) in `encoding`, with
/// its `Content-Type`.
pub fn otlp_error_body(refusal: &Refusal, encoding: OtlpEncoding) -> (Vec<u8>, &'static str) {
    let status = RpcStatus {
        code: refusal.grpc_code as i32,
        message: refusal.message.clone(),
    };
    match encoding {
        OtlpEncoding::Protobuf => (
            prost::Message::encode_to_vec(&status),
            "application/x-protobuf",
        ),
        OtlpEncoding::Json => (
            serde_json::json!({"code": status.code, "message": status.message})
                .to_string()
                .into_bytes(),
            "application/json",
        ),
    }
}

/// What the program sent about who it is, passed on when the upstream sets none of
/// its own: its tenant (`X-Scope-OrgID`) and `Authorization`.
#[derive(Clone, Default)]
pub struct Caller {
    /// Its `X-Scope-OrgID`.
    pub tenant: Option<String>,
    /// Its `Authorization` header, never printed.
    pub authorization: Option<String>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("tenant", &self.tenant)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Caller {
    /// From HTTP headers (or gRPC metadata as headers).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Caller {
            tenant: get("x-scope-orgid"),
            authorization: get("authorization"),
        }
    }

    /// The tenant and `Authorization` to send to `up`: the upstream's own, else the
    /// program's.
    fn headers_for(&self, up: &Upstream) -> (Option<String>, Option<String>) {
        let tenant = up.tenant.clone().or_else(|| self.tenant.clone());
        let authorization = match &up.auth {
            Auth::None => self.authorization.clone(),
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        };
        (tenant, authorization)
    }
}

/// One series per label set, its samples in time order (remote write wants each
/// series once per request, labels sorted by name).
pub fn write_request(samples: &[TranslatedSample]) -> lgtm_scenarios::prompb::WriteRequest {
    use lgtm_scenarios::prompb::{Exemplar, Label, Sample, TimeSeries, WriteRequest};
    let labels_of = |l: &BTreeMap<String, String>| -> Vec<Label> {
        l.iter()
            .map(|(name, value)| Label {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    };
    type Series = (Vec<Sample>, Vec<Exemplar>);
    let mut series: BTreeMap<&BTreeMap<String, String>, Series> = BTreeMap::new();
    for s in samples {
        let (samples, exemplars) = series.entry(&s.labels).or_default();
        samples.push(Sample {
            value: s.value,
            timestamp: s.timestamp_ms,
        });
        exemplars.extend(s.exemplars.iter().map(|e| Exemplar {
            labels: labels_of(&e.labels),
            value: e.value,
            timestamp: e.timestamp_ms,
        }));
    }
    WriteRequest {
        timeseries: series
            .into_iter()
            .map(|(labels, (mut samples, mut exemplars))| {
                samples.sort_by_key(|s| s.timestamp);
                exemplars.sort_by_key(|e| e.timestamp);
                TimeSeries {
                    labels: labels_of(labels),
                    samples,
                    exemplars,
                }
            })
            .collect(),
    }
}

/// Sends requests to the upstreams.
#[derive(Clone)]
pub struct Forwarder {
    http: reqwest::Client,
    /// The gRPC channel to Tempo, when the traces upstream is gRPC.
    traces_channel: Option<Channel>,
    translation: PromTranslation,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("traces_grpc", &self.traces_channel.is_some())
            .field("translation", &self.translation)
            .finish()
    }
}

impl Forwarder {
    /// A forwarder trusting the system's roots and the PEM certificates `ca_pem`
    /// (`--ca-cert`); `traces_grpc` is the traces upstream when it is gRPC (its
    /// channel connects on first use).
    pub fn new(
        traces_grpc: Option<&Upstream>,
        translation: PromTranslation,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, GatewayError> {
        let mut builder = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(pem) = ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| GatewayError::CaCert {
                    message: format!("not a PEM certificate bundle: {e}"),
                })?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(|e| GatewayError::CaCert {
            message: e.to_string(),
        })?;
        let traces_channel = match traces_grpc {
            None => None,
            Some(up) => {
                let bad = |reason: String| GatewayError::Upstream {
                    signal: "traces",
                    url: redact_url(&up.url),
                    reason,
                };
                let mut endpoint = tonic::transport::Endpoint::from_shared(up.url.clone())
                    .map_err(|e| bad(e.to_string()))?
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(FORWARD_TIMEOUT);
                if up.url.starts_with("https://") {
                    let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
                    if let Some(pem) = ca_pem {
                        tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
                    }
                    endpoint = endpoint.tls_config(tls).map_err(|e| bad(e.to_string()))?;
                }
                Some(endpoint.connect_lazy())
            }
        };
        Ok(Forwarder {
            http,
            traces_channel,
            translation,
        })
    }

    /// POSTs `body` to `up` with the `Content-Type`, `Content-Encoding` and
    /// remote-write version of `incoming`, the upstream's tenant and credentials
    /// (else the program's), and returns the backend's answer unchanged; `otlp`
    /// names the signal whose partial success to read from a success.
    pub async fn post(
        &self,
        component: Component,
        up: &Upstream,
        otlp: Option<RecordSignal>,
        incoming: &HeaderMap,
        caller: &Caller,
        body: Bytes,
    ) -> Answer {
        let mut request = self.http.post(&up.url).body(body);
        for name in [
            "content-type",
            "content-encoding",
            "x-prometheus-remote-write-version",
        ] {
            if let Some(v) = incoming.get(name) {
                request = request.header(name, v.clone());
            }
        }
        let (tenant, authorization) = caller.headers_for(up);
        if let Some(t) = tenant {
            request = request.header("X-Scope-OrgID", t);
        }
        if let Some(a) = authorization {
            request = request.header("Authorization", a);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Answer::unreachable(component, &up.url, &e.without_url()),
        };
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Answer::unreachable(component, &up.url, &e.without_url()),
        };
        Answer::from_http(
            otlp,
            &up.url,
            HttpAnswer {
                status,
                body,
                content_type,
                retry_after,
            },
        )
    }

    /// Sends `request` to Tempo over gRPC (the traces upstream `up`, which must be
    /// the one this forwarder was made with).
    pub async fn traces_grpc(
        &self,
        up: &Upstream,
        caller: &Caller,
        request: ExportTraceServiceRequest,
    ) -> Answer {
        let Some(channel) = &self.traces_channel else {
            return Answer::no_backend("traces over gRPC");
        };
        let mut client =
            TraceServiceClient::new(channel.clone()).max_decoding_message_size(super::MAX_BODY);
        let mut request = tonic::Request::new(request);
        let (tenant, authorization) = caller.headers_for(up);
        for (name, value) in [("x-scope-orgid", tenant), ("authorization", authorization)] {
            if let Some(v) = value.and_then(|v| v.parse().ok()) {
                request.metadata_mut().insert(name, v);
            }
        }
        let forwarded_to = redact_url(&up.url);
        match client.export(request).await {
            Ok(response) => {
                let p = response
                    .into_inner()
                    .partial_success
                    .map(|p| PartialSuccess {
                        rejected: p.rejected_spans.max(0) as u64,
                        message: p.error_message,
                    })
                    .filter(|p| *p != PartialSuccess::default());
                Answer {
                    forwarded_to,
                    status: "gRPC OK".into(),
                    accepted: true,
                    rejected_items: p.as_ref().map_or(0, |p| p.rejected),
                    message: p.as_ref().map(|p| short(&p.message)).unwrap_or_default(),
                    retry_after: None,
                    reply: Reply::Otlp(Ok(p)),
                }
            }
            Err(status) if std::error::Error::source(&status).is_some() => {
                Answer::unreachable(Component::Tempo, &up.url, &status)
            }
            Err(status) => {
                let retry_after = grpc_retry_after(&status);
                Answer {
                    forwarded_to,
                    status: format!("gRPC {}", grpc_code_name(status.code())),
                    accepted: false,
                    rejected_items: 0,
                    message: short(status.message()),
                    retry_after: retry_after.clone(),
                    reply: Reply::Otlp(Err(Refusal {
                        http_status: http_status(status.code()),
                        grpc_code: status.code(),
                        message: status.message().to_owned(),
                        retry_after,
                    })),
                }
            }
        }
    }

    /// Translates `points` as a Prometheus-API backend stores them and remote-writes
    /// the samples to `up` (snappy, `X-Prometheus-Remote-Write-Version: 0.1.0`). An
    /// accepted write is an OTLP success whose partial success counts the points
    /// that have no classic series ([`untranslatable`]); a refused one is the
    /// backend's status and message.
    pub async fn remote_write_points(
        &self,
        up: &Upstream,
        caller: &Caller,
        points: &[RecordedPoint],
    ) -> Answer {
        let samples = translate_points(points, &self.translation);
        let body = match lgtm_scenarios::prompb::encode(&write_request(&samples)) {
            Ok(b) => b,
            Err(e) => {
                return Answer::refused(
                    "not encoded",
                    500,
                    tonic::Code::Internal,
                    format!("lgtm-check's gateway cannot encode the remote write: {e}"),
                );
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-protobuf".parse().expect("header"),
        );
        headers.insert("content-encoding", "snappy".parse().expect("header"));
        headers.insert(
            "x-prometheus-remote-write-version",
            "0.1.0".parse().expect("header"),
        );
        let answer = self
            .post(
                Component::Mimir,
                up,
                None,
                &headers,
                caller,
                Bytes::from(body),
            )
            .await;
        let Reply::Http(http) = &answer.reply else {
            return answer;
        };
        let reply = if answer.accepted {
            let dropped: Vec<&'static str> = points.iter().filter_map(untranslatable).collect();
            Ok((!dropped.is_empty()).then(|| PartialSuccess {
                rejected: dropped.len() as u64,
                message: format!(
                    "{} points have no series in {} ({})",
                    dropped.len(),
                    self.translation.backend,
                    dropped[0]
                ),
            }))
        } else {
            Err(Refusal {
                http_status: http.status,
                grpc_code: grpc_code(http.status),
                message: String::from_utf8_lossy(&http.body).trim().to_owned(),
                retry_after: http.retry_after.clone(),
            })
        };
        let (rejected_items, message) = match &reply {
            Ok(Some(p)) => (p.rejected, short(&p.message)),
            _ => (0, answer.message.clone()),
        };
        Answer {
            reply: Reply::Otlp(reply),
            rejected_items,
            message,
            ..answer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_grpc_codes_as_the_collector_maps_them() {
        use tonic::Code;
        for (http, code) in [
            (200, Code::Ok),
            (400, Code::InvalidArgument),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::ResourceExhausted),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (500, Code::Unknown),
            (413, Code::Unknown),
        ] {
            assert_eq!(grpc_code(http), code, "{http}");
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::ResourceExhausted,
        ] {
            assert_eq!(grpc_code(http_status(code)), code);
        }
        assert_eq!(
            grpc_code_name(Code::ResourceExhausted),
            "RESOURCE_EXHAUSTED"
        );
        assert_eq!(http_status_text(429), "429 Too Many Requests");
        let s = grpc_status(Code::ResourceExhausted, "slow down".into(), Some("7"));
        assert_eq!(grpc_retry_after(&s).as_deref(), Some("7"));
        let s = grpc_status(Code::InvalidArgument, "bad".into(), Some("7"));
        assert_eq!(grpc_retry_after(&s), None);
    }

    #[test]
    fn a_backend_answer_becomes_the_exchange_the_record_keeps() {
        let partial = ExportTraceServiceResponse::with_partial(Some(PartialSuccess {
            rejected: 3,
            message: "3 spans too old".into(),
        }));
        let ok = Answer::from_http(
            Some(RecordSignal::Traces),
            "http://u:CanaryPw5@tempo:4318/v1/traces",
            HttpAnswer {
                status: 200,
                body: prost::Message::encode_to_vec(&partial).into(),
                content_type: Some("application/x-protobuf".into()),
                retry_after: None,
            },
        );
        let e = ok.exchange(RecordSignal::Traces, "otlp/http-protobuf", 10, 5);
        assert!(e.accepted);
        assert_eq!(
            (e.rejected_items, e.message.as_str()),
            (3, "3 spans too old")
        );
        assert_eq!(e.status, "200 OK");
        assert!(!e.forwarded_to.contains("CanaryPw5"), "{}", e.forwarded_to);
        let busy = Answer::from_http(
            Some(RecordSignal::Logs),
            "http://loki:3100/otlp/v1/logs",
            HttpAnswer {
                status: 429,
                body: Bytes::from_static(b"ingestion rate limit exceeded\n"),
                content_type: Some("text/plain".into()),
                retry_after: Some("7".into()),
            },
        );
        let e = busy.exchange(RecordSignal::Logs, "otlp/grpc", 2, 5);
        assert!(!e.accepted);
        assert_eq!(e.status, "429 Too Many Requests");
        assert_eq!(e.message, "ingestion rate limit exceeded");
        assert_eq!(e.retry_after.as_deref(), Some("7"));
        let none = Answer::no_backend("logs");
        assert_eq!(none.status, "no backend for logs");
        assert!(
            none.message
                .starts_with("lgtm-check's gateway has no backend for logs: ")
        );
        assert!(matches!(
            none.reply,
            Reply::Otlp(Err(Refusal {
                http_status: 404,
                grpc_code: tonic::Code::Unimplemented,
                ..
            }))
        ));
    }

    #[test]
    fn translated_samples_are_grouped_into_one_series_each_in_time_order() {
        let labels = |name: &str| {
            BTreeMap::from([
                ("__name__".to_string(), name.to_string()),
                ("job".to_string(), "shop".to_string()),
            ])
        };
        let sample = |name: &str, t: i64| TranslatedSample {
            labels: labels(name),
            timestamp_ms: t,
            value: t as f64,
            exemplars: vec![],
        };
        let w = write_request(&[sample("b", 2), sample("a", 1), sample("b", 1)]);
        assert_eq!(w.timeseries.len(), 2);
        assert_eq!(w.timeseries[0].labels[0].value, "a");
        assert_eq!(w.timeseries[1].labels[0].name, "__name__");
        let times: Vec<i64> = w.timeseries[1]
            .samples
            .iter()
            .map(|s| s.timestamp)
            .collect();
        assert_eq!(times, [1, 2]);
    }

    #[test]
    fn otlp_bodies_the_gateway_makes_are_read_back_by_otlp_clients() {
        let p = Some(PartialSuccess {
            rejected: 2,
            message: "m".into(),
        });
        let (body, ct) = otlp_success_body(RecordSignal::Metrics, OtlpEncoding::Json, p.clone());
        assert_eq!(ct, "application/json");
        assert_eq!(partial_success(RecordSignal::Metrics, Some(ct), &body), p);
        let (body, ct) = otlp_success_body(RecordSignal::Logs, OtlpEncoding::Protobuf, p.clone());
        assert_eq!(partial_success(RecordSignal::Logs, Some(ct), &body), p);
        let (body, _) = otlp_success_body(RecordSignal::Traces, OtlpEncoding::Protobuf, None);
        assert!(body.is_empty());
        let refusal = Refusal {
            http_status: 404,
            grpc_code: tonic::Code::Unimplemented,
            message: "no backend".into(),
            retry_after: None,
        };
        let (body, _) = otlp_error_body(&refusal, OtlpEncoding::Protobuf);
        let back: RpcStatus = prost::Message::decode(body.as_slice()).unwrap();
        assert_eq!((back.code, back.message.as_str()), (12, "no backend"));
        let (body, _) = otlp_error_body(&refusal, OtlpEncoding::Json);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"code":12,"message":"no backend"}"#
        );
    }
}
