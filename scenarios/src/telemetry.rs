//! Telemetry for scenarios: one [`init`] wires `tracing` to stderr, Loki
//! (tracing-loki) and an OTLP span exporter (tracing-opentelemetry), and records what
//! really left the process so that the manifest lists exactly that.
//!
//! Main items: [`init`], [`TelemetryConfig`] (built by [`TelemetryConfig::resolve`]
//! from flags and the standard `OTEL_*` variables), [`TelemetryGuard`] (flushes on
//! [`TelemetryGuard::shutdown`] or drop), [`Recorded`] (the manifest's `logs` and
//! `traces` sections), the [`log!`](crate::log) macro, [`current_ids`].
//!
//! Layers:
//! - fmt, to **stderr** (stdout carries the JSON event lines the harness reads),
//!   filtered by `RUST_LOG` (default `info`);
//! - tracing-loki with the guide's labels `service`, `environment`, plus `run_id`, and
//!   the `level` label tracing-loki adds; tenant as `X-Scope-OrgID`, basic auth as an
//!   `Authorization` header (tracing-loki's `http_header`); beside it a recording layer
//!   under the same filter;
//! - tracing-opentelemetry with an SDK tracer provider: resource `service.name`,
//!   `service.version`, `deployment.environment`, `run_id` (so TraceQL can scope a
//!   query to a run: `{ resource.run_id = "…" }`), `OTEL_RESOURCE_ATTRIBUTES`; the
//!   configured sampler (wrapped to record root decisions), a batch processor over the
//!   OTLP exporter (gRPC or HTTP/protobuf) wrapped to record what it exported.
//!
//! The recording is lgtm-check-recorder's [`Recorder`]: the Loki layer is wrapped
//! (with backpressure, so a burst waits instead of overflowing tracing-loki's channel),
//! and so are its background task, the sampler and the span exporter.
//!
//! Only events of the target [`LOG_TARGET`] go to Loki, and only spans and events of
//! this crate go to the tracer: the libraries underneath (hyper, tonic, reqwest,
//! tracing-loki itself) never reach the backends, so the manifest can be exact.
//!
//! **Trace ids on log lines.** Every line sent to Loki carries `trace_id` and `span_id`
//! (32 and 16 lowercase hex digits) of the current span, as fields of the event. This is
//! done by the [`log!`](crate::log) macro, which reads the current span's OpenTelemetry
//! context and adds both fields, and which is also what puts the event under
//! [`LOG_TARGET`]. A layer cannot do it: tracing-loki serializes the event's own fields
//! and those its own span extension saw, and neither can be extended from outside.
//! Lines written outside any span carry neither field.

mod config;
pub mod pushback;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use opentelemetry::KeyValue;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use lgtm_check_recorder::Recorder;

use crate::manifest::{Labels, LogsManifest, Loss, PushBack, TracesManifest};
use pushback::{GrpcErrorWatch, PushLedger, RetryingExporter};

pub(crate) use config::percent_decode;
pub use config::{
    ConfigError, DEFAULT_ENVIRONMENT, DEFAULT_SERVICE, EnvMap, LokiConfig, OtlpConfig,
    OtlpProtocol, SamplerConfig, TelemetryConfig, TelemetryFlags, process_env,
};
pub use lgtm_check_recorder::{logs_manifest, traces_manifest};

/// The target of log events that go to Loki (set by [`log!`](crate::log)).
pub const LOG_TARGET: &str = "scenario";
/// How long [`TelemetryGuard::shutdown`] waits for each exporter to deliver.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// The batch span processor's queue: large enough for the volume scenario, so that no
/// span is dropped before export (the SDK default is 2048).
const SPAN_QUEUE: usize = 1 << 17;

/// Why telemetry could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A flag or variable could not be understood (see [`ConfigError`]); nothing
    /// was started.
    #[error("invalid telemetry setting")]
    Config(#[from] ConfigError),
    /// tracing-loki refused a label, a header (tenant, `Authorization`) or the URL
    /// while [`init`] built the Loki layer.
    #[error("cannot set up the Loki layer for {}", crate::redact::redact_url(.url))]
    Loki {
        /// Loki's base URL (shown redacted).
        url: String,
        /// tracing-loki's error.
        #[source]
        source: tracing_loki::Error,
    },
    /// The OTLP exporter could not be built for the endpoint (an invalid URL or
    /// header for its transport).
    #[error("cannot build the OTLP span exporter for {}", crate::redact::redact_url(.endpoint))]
    Otlp {
        /// The exporter's URL (shown redacted).
        endpoint: String,
        /// The exporter builder's error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// [`init`] was called when the process already has a global subscriber (a
    /// second `init`, or one set by a test harness).
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialized(#[source] tracing_subscriber::util::TryInitError),
    /// [`init`] was called outside a Tokio runtime: the Loki task and the exporters
    /// need one.
    #[error("telemetry must be initialised inside a Tokio runtime")]
    NoRuntime,
    /// At shutdown, tracing-loki's task did not finish pushing within the time
    /// given ([`FLUSH_TIMEOUT`]); lines may be missing from Loki.
    #[error("Loki did not take every line within {0:?}")]
    LokiFlushTimeout(Duration),
    /// tracing-loki gave up on this many lines after its pushes kept failing.
    #[error("tracing-loki dropped {0} lines it could not push")]
    LokiDropped(u64),
    /// This many lines never reached tracing-loki's queue: it was full, or already
    /// shut down.
    #[error("tracing-loki dropped {0} lines because its channel was full")]
    LokiChannelFull(u64),
    /// This many pushes to Loki failed (tracing-loki retried them; the reason is on
    /// stderr), so the lines Loki holds may differ from the manifest.
    #[error("{0} pushes to Loki failed (see stderr); lines may be lost")]
    LokiPushFailed(u64),
    /// The exporter reported this many spans in batches it failed to send.
    #[error("the OTLP exporter failed to export {0} spans")]
    SpansNotExported(u64),
    /// The batch span processor dropped this many spans before they reached the
    /// exporter (its queue was full, or it shut down with spans queued).
    #[error("the batch span processor dropped {0} spans before export")]
    SpansDropped(u64),
    /// The tracer provider's shutdown (the final flush of spans) failed; the text
    /// is the SDK's error.
    #[error("shutting down the tracer provider failed: {0}")]
    TracerShutdown(String),
}

/// What the run really emitted, for the manifest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// The lines sent to Loki, grouped into streams: the manifest's `logs` section.
    pub logs: LogsManifest,
    /// The spans exported, by trace, with the sampler's ratio and the roots it did
    /// not sample: the manifest's `traces` section.
    pub traces: TracesManifest,
    /// What the exporters lost (empty unless taken with
    /// [`TelemetryGuard::shutdown_keeping_losses`]).
    pub losses: Vec<Loss>,
    /// Where a backend refused pushes that were retried.
    pub pushback: Vec<PushBack>,
}

impl Recorded {
    /// Both processes' records as one run's (for multi-process scenarios): streams
    /// side by side, spans regrouped by trace, root counts added. The sampler ratio
    /// is `self`'s.
    pub fn merge(self, other: Recorded) -> Recorded {
        let mut streams = self.logs.streams;
        for s in other.logs.streams {
            match streams.iter_mut().find(|x| x.labels == s.labels) {
                Some(x) => x.lines.extend(s.lines),
                None => streams.push(s),
            }
        }
        let spans: Vec<(String, crate::manifest::SpanRecord)> = self
            .traces
            .traces
            .into_iter()
            .chain(other.traces.traces)
            .flat_map(|t| {
                let id = t.trace_id;
                t.spans.into_iter().map(move |s| (id.clone(), s))
            })
            .collect();
        let unsampled: Vec<String> = self
            .traces
            .unsampled_trace_ids
            .into_iter()
            .chain(other.traces.unsampled_trace_ids)
            .collect();
        Recorded {
            logs: LogsManifest { streams },
            traces: traces_manifest(
                self.traces.sampler_ratio,
                self.traces.roots_started + other.traces.roots_started,
                &spans,
                &unsampled,
            ),
            losses: self.losses.into_iter().chain(other.losses).collect(),
            pushback: self.pushback.into_iter().chain(other.pushback).collect(),
        }
    }
}

/// Where a loss of lines names a failed push to Loki (followed by the error).
pub const LOSS_LOKI_PUSH_FAILED: &str = "loki push failed";

/// What a flush recorded, losses included, and why it could not deliver everything
/// ([`TelemetryGuard::shutdown_reporting`]).
#[derive(Debug)]
pub struct Flushed {
    /// Everything emitted, with what was lost in `losses`.
    pub recorded: Recorded,
    /// The first reason something was not delivered; `None` when all was.
    pub failure: Option<TelemetryError>,
}

/// Keeps the exporters running; [`shutdown`](Self::shutdown) (or drop) flushes them.
pub struct TelemetryGuard {
    inner: Option<GuardInner>,
}

struct GuardInner {
    provider: SdkTracerProvider,
    loki: Option<(
        tracing_loki::BackgroundTaskController,
        tokio::task::JoinHandle<()>,
    )>,
    recorder: Recorder,
    sampler_ratio: f64,
    /// Refusals of span exports (gRPC only).
    span_ledger: Arc<PushLedger>,
}

impl TelemetryGuard {
    /// Flushes and stops every exporter (the batch span processor, the Loki background
    /// task), then returns what was delivered. Nothing emitted before this call is
    /// lost; do not emit during or after it.
    pub async fn shutdown(mut self) -> Result<Recorded, TelemetryError> {
        let inner = self.inner.take().expect("shut down once");
        inner.shutdown().await
    }

    /// Flushes and stops every exporter like [`shutdown`](Self::shutdown), but a loss
    /// is not an error: it is returned in [`Recorded::losses`] (the lines and spans
    /// stay in `logs` and `traces`, as emitted). For load scenarios, whose report must
    /// say what was lost rather than end without one.
    pub async fn shutdown_keeping_losses(mut self) -> Result<Recorded, TelemetryError> {
        let inner = self.inner.take().expect("shut down once");
        let (recorded, _, failures) = inner.finish().await;
        match failures.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(recorded),
        }
    }

    /// Flushes and stops every exporter like [`shutdown`](Self::shutdown), and never
    /// loses the record: what could not be delivered is in [`Recorded::losses`] (a
    /// failed Loki push as [`LOSS_LOKI_PUSH_FAILED`], with the error), and the first
    /// failure is returned beside it. A scenario writes its manifest from this, then
    /// fails: the harness checks what arrived against it.
    pub async fn shutdown_reporting(mut self) -> Flushed {
        let inner = self.inner.take().expect("shut down once");
        inner.flush().await
    }

    /// The root sampling ratio.
    pub fn sampler_ratio(&self) -> f64 {
        self.inner.as_ref().map_or(1.0, |i| i.sampler_ratio)
    }
}

impl GuardInner {
    async fn shutdown(self) -> Result<Recorded, TelemetryError> {
        let Flushed {
            mut recorded,
            failure,
        } = self.flush().await;
        if let Some(e) = failure {
            return Err(e);
        }
        recorded.losses.clear();
        Ok(recorded)
    }

    /// Flushes and stops every exporter; returns what was recorded, with its losses
    /// (a loss of logs named after a failed flush added), and the first failure.
    async fn flush(self) -> Flushed {
        let (mut recorded, loki_push_failures, failures) = self.finish().await;
        let lost = |place: &str| {
            recorded
                .losses
                .iter()
                .filter(|l| l.place == place)
                .map(|l| l.count)
                .sum::<u64>()
        };
        let channel_full = lost(lgtm_check_recorder::LOSS_LOKI_CHANNEL_FULL)
            + lost(lgtm_check_recorder::LOSS_LOKI_AFTER_SHUTDOWN);
        let gave_up = lost(lgtm_check_recorder::LOSS_LOKI_PUSH_GAVE_UP);
        let failed_spans = lost(lgtm_check_recorder::LOSS_SPAN_EXPORT_FAILED);
        let dropped_spans = lost(lgtm_check_recorder::LOSS_SPAN_PROCESSOR_DROPPED);
        let mut failure = failures.into_iter().next();
        let counted = [
            (
                channel_full,
                TelemetryError::LokiChannelFull as fn(u64) -> _,
            ),
            (gave_up, TelemetryError::LokiDropped),
            (loki_push_failures, TelemetryError::LokiPushFailed),
            (failed_spans, TelemetryError::SpansNotExported),
            (dropped_spans, TelemetryError::SpansDropped),
        ];
        for (n, error) in counted {
            if failure.is_none() && n > 0 {
                failure = Some(error(n));
            }
        }
        // tracing-loki confirms no push: when a push failed (or the flush did not
        // end), which lines arrived is unknown. The loss says so, with every line
        // not otherwise counted as the bound; the arrival check names the missing.
        let loki_unconfirmed = matches!(
            failure,
            Some(TelemetryError::LokiFlushTimeout(_) | TelemetryError::LokiPushFailed(_))
        ) || loki_push_failures > 0;
        if loki_unconfirmed && let Some(e) = &failure {
            let handed: u64 = recorded
                .logs
                .streams
                .iter()
                .map(|s| s.lines.len() as u64)
                .sum();
            let unconfirmed = handed.saturating_sub(channel_full + gave_up);
            if unconfirmed > 0 {
                recorded.losses.push(Loss::new(
                    "logs",
                    &format!(
                        "{LOSS_LOKI_PUSH_FAILED}: {e} (at most these; which arrived is unknown)"
                    ),
                    unconfirmed,
                ));
            }
        }
        Flushed { recorded, failure }
    }

    /// Flushes and stops every exporter; returns what was recorded, with its losses,
    /// the number of failed Loki pushes, and what went wrong on the way (the record
    /// is returned whatever failed).
    async fn finish(self) -> (Recorded, u64, Vec<TelemetryError>) {
        let GuardInner {
            provider,
            loki,
            recorder,
            sampler_ratio: _,
            span_ledger,
        } = self;
        // The provider's shutdown blocks until its processor thread has exported
        // everything; keep it off the async workers (tonic needs them).
        // Long enough for batches a backend refuses to be retried (`pushback`).
        let spans = tokio::task::spawn_blocking(move || {
            provider.shutdown_with_timeout(FLUSH_TIMEOUT + pushback::PUSH_DEADLINE)
        });
        let logs = async {
            if let Some((controller, task)) = loki {
                controller.shutdown().await;
                tokio::time::timeout(FLUSH_TIMEOUT, task)
                    .await
                    .map_err(|_| TelemetryError::LokiFlushTimeout(FLUSH_TIMEOUT))?
                    .ok();
            }
            Ok::<(), TelemetryError>(())
        };
        let (spans, logs) = tokio::join!(spans, logs);
        let mut failures = Vec::new();
        if let Err(e) = logs {
            failures.push(e);
        }
        match spans {
            Ok(Ok(())) => {}
            // AlreadyShutdown cannot happen here; anything else is a real failure.
            Ok(Err(e)) => failures.push(TelemetryError::TracerShutdown(e.to_string())),
            Err(e) => failures.push(TelemetryError::TracerShutdown(e.to_string())),
        }
        (
            Recorded {
                logs: recorder.logs_manifest(),
                traces: recorder.traces_manifest(),
                losses: recorder.losses(),
                pushback: span_ledger
                    .pushback("traces", "tempo")
                    .into_iter()
                    .collect(),
            },
            recorder.loki_push_failures(),
            failures,
        )
    }
}

impl Drop for TelemetryGuard {
    /// Flushes like [`shutdown`](Self::shutdown). Needs a multi-threaded Tokio runtime
    /// (it blocks this worker while the exporters finish on the others); on a
    /// current-thread runtime only the spans are flushed, and a warning says so.
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let result = tokio::task::block_in_place(|| h.block_on(inner.shutdown()));
                if let Err(e) = result {
                    eprintln!("telemetry: flush at exit: {e}");
                }
            }
            _ => {
                eprintln!(
                    "telemetry: dropped outside a multi-threaded Tokio runtime; Loki lines may be lost"
                );
                let _ = inner.provider.shutdown();
            }
        }
    }
}

/// The SDK's sampler for the configured one.
pub(crate) fn sdk_sampler(s: SamplerConfig) -> Sampler {
    match s {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

/// The resource every span carries.
fn resource(config: &TelemetryConfig) -> Resource {
    Resource::builder_empty()
        .with_service_name(config.service.clone())
        .with_attributes(
            [
                KeyValue::new("service.version", config.service_version.clone()),
                KeyValue::new("deployment.environment", config.environment.clone()),
                KeyValue::new("run_id", config.run_id.clone()),
            ]
            .into_iter()
            .chain(
                config
                    .resource_attributes
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
            ),
        )
        .build()
}

/// The Loki stream labels (tracing-loki adds `level`).
pub fn loki_labels(config: &TelemetryConfig) -> Labels {
    Labels::from([
        ("service".into(), config.service.clone()),
        ("environment".into(), config.environment.clone()),
        ("run_id".into(), config.run_id.clone()),
    ])
}

/// `Basic …` for an `Authorization` header.
fn basic_authorization(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// The `Authorization` value of basic auth or a bearer token, if any.
fn authorization(basic: &Option<(String, String)>, bearer: &Option<String>) -> Option<String> {
    match (basic, bearer) {
        (Some((user, password)), _) => Some(basic_authorization(user, password)),
        (None, Some(token)) => Some(format!("Bearer {token}")),
        (None, None) => None,
    }
}

/// The scenarios' own log on stderr, filtered by `filter` (`RUST_LOG` syntax; `info`
/// when it does not parse), coloured on a terminal.
pub(crate) fn stderr_layer<S>(filter: &str) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
}

/// `headers` as gRPC metadata (a value that is not valid metadata is left out).
pub(crate) fn tonic_metadata(
    headers: &[(&'static str, String)],
) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    let mut metadata = opentelemetry_otlp::tonic_types::metadata::MetadataMap::new();
    for (key, value) in headers {
        if let Ok(value) = value.parse() {
            metadata.insert(*key, value);
        }
    }
    metadata
}

/// The headers every OTLP export carries besides `OTEL_EXPORTER_OTLP_HEADERS` (which
/// the exporter reads itself): `authorization` (basic or bearer) and the tenant's
/// `x-scope-orgid`. The values are secrets: never print them.
pub(crate) fn otlp_headers(otlp: &OtlpConfig) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(value) = authorization(&otlp.basic_auth, &otlp.bearer) {
        headers.push(("authorization", value));
    }
    if let Some(tenant) = &otlp.tenant {
        headers.push(("x-scope-orgid", tenant.clone()));
    }
    headers
}

fn span_exporter(otlp: &OtlpConfig) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::{WithHttpConfig, WithTonicConfig};
    let headers = otlp_headers(otlp);
    let built = match otlp.protocol {
        OtlpProtocol::Grpc => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(otlp.endpoint.clone())
                .with_timeout(Duration::from_secs(10));
            if !headers.is_empty() {
                builder = builder.with_metadata(tonic_metadata(&headers));
            }
            if otlp.endpoint.starts_with("https://") {
                // The system's roots (and SSL_CERT_FILE's), as the HTTP clients trust.
                builder = builder.with_tls_config(
                    opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new()
                        .with_native_roots(),
                );
            }
            builder.build()
        }
        OtlpProtocol::HttpProtobuf => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(otlp.endpoint.clone())
                .with_timeout(Duration::from_secs(10));
            if !headers.is_empty() {
                builder = builder.with_headers(
                    headers
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                );
            }
            builder.build()
        }
    };
    built.map_err(|source| TelemetryError::Otlp {
        endpoint: otlp.endpoint.clone(),
        source,
    })
}

/// Installs the global subscriber and starts the exporters. Call inside a
/// multi-threaded Tokio runtime, once per process.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| TelemetryError::NoRuntime)?;
    let recorder = Recorder::new(
        config.service.clone(),
        config.run_id.clone(),
        config.service.clone(),
    )
    .environment(config.environment.clone());

    // Traces.
    let grpc_watch = GrpcErrorWatch::default();
    let span_ledger = Arc::new(PushLedger::default());
    let sampler = recorder.sampler(sdk_sampler(config.sampler));
    recorder.sampler_ratio(config.sampler.root_ratio());
    let mut provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource(&config));
    if let Some(otlp) = &config.otlp {
        // Built inside the runtime: tonic's channel runs its connection there.
        let exporter = {
            let _enter = runtime.enter();
            span_exporter(otlp)?
        };
        // A batch Tempo refuses for a limit is retried (the exporter would drop it).
        let exporter = RetryingExporter::new(exporter, grpc_watch.clone(), span_ledger.clone());
        let recording = recorder.span_exporter(exporter);
        let processor = BatchSpanProcessor::builder(recording)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(SPAN_QUEUE)
                    .with_max_export_batch_size(512)
                    .build(),
            )
            .build();
        provider = provider.with_span_processor(recorder.span_processor(processor));
    }
    let provider = provider.build();
    let tracer = provider.tracer("lgtm-scenarios");
    let ours = Targets::new()
        .with_target("lgtm_scenarios", LevelFilter::TRACE)
        .with_target(LOG_TARGET, LevelFilter::TRACE);
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_target(false)
        .with_level(false)
        .with_filter(ours);

    // Logs.
    let mut loki_parts = None;
    let loki_layer = match &config.loki {
        Some(loki) => {
            let labels = loki_labels(&config);
            let mut builder = tracing_loki::builder();
            for (k, v) in &labels {
                builder = builder.label(k, v).map_err(|source| TelemetryError::Loki {
                    url: loki.url.clone(),
                    source,
                })?;
            }
            if let Some(tenant) = &loki.tenant {
                builder = builder
                    .http_header("X-Scope-OrgID", tenant)
                    .map_err(|source| TelemetryError::Loki {
                        url: loki.url.clone(),
                        source,
                    })?;
            }
            if let Some(value) = authorization(&loki.basic_auth, &loki.bearer) {
                builder = builder
                    .http_header("Authorization", value)
                    .map_err(|source| TelemetryError::Loki {
                        url: loki.url.clone(),
                        source,
                    })?;
            }
            let url = url::Url::parse(&loki.url).map_err(|_| ConfigError {
                source_name: "--loki-url".into(),
                value: loki.url.clone(),
                reason: "not a URL".into(),
            })?;
            let (layer, controller, task) =
                builder
                    .build_controller_url(url)
                    .map_err(|source| TelemetryError::Loki {
                        url: loki.url.clone(),
                        source,
                    })?;
            loki_parts = Some((controller, task));
            let only_logs = Targets::new().with_target(LOG_TARGET, LevelFilter::TRACE);
            Some(
                recorder
                    .loki_layer(layer, labels)
                    .with_backpressure()
                    .with_filter(only_logs),
            )
        }
        None => None,
    };
    let drop_watch = recorder
        .loki_error_watch()
        .with_filter(Targets::new().with_target("tracing_loki", LevelFilter::ERROR));

    let fmt_layer = stderr_layer(&config.stderr_filter);

    tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .with(loki_layer)
        .with(drop_watch)
        .with(
            grpc_watch
                .with_filter(Targets::new().with_target("opentelemetry-otlp", LevelFilter::DEBUG)),
        )
        .try_init()
        .map_err(TelemetryError::AlreadyInitialized)?;

    let loki =
        loki_parts.map(|(controller, task)| (controller, runtime.spawn(recorder.loki_task(task))));
    Ok(TelemetryGuard {
        inner: Some(GuardInner {
            provider,
            loki,
            recorder,
            sampler_ratio: config.sampler.root_ratio(),
            span_ledger,
        }),
    })
}

/// Trace and span id of the current span, as 32 and 16 lowercase hex digits; `None`
/// outside a span.
pub fn current_ids() -> Option<(String, String)> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// Emits a log line to stderr and, when configured, Loki, with `trace_id` and
/// `span_id` of the current span. Same syntax as `tracing::event!` after the level:
/// `log!(Level::INFO, endpoint = "/x", latency_ms = 3u64, "request handled")`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($rest:tt)+) => {{
        let ids = $crate::telemetry::current_ids();
        ::tracing::event!(
            target: "scenario",
            $level,
            trace_id = ids.as_ref().map(|i| i.0.as_str()),
            span_id = ids.as_ref().map(|i| i.1.as_str()),
            $($rest)+
        )
    }};
}

/// W3C `traceparent` of `span`, injected into `headers`.
pub fn inject_traceparent(span: &tracing::Span, headers: &mut axum::http::HeaderMap) {
    struct H<'a>(&'a mut axum::http::HeaderMap);
    impl Injector for H<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(k), Ok(v)) = (
                axum::http::HeaderName::from_bytes(key.as_bytes()),
                axum::http::HeaderValue::from_str(&value),
            ) {
                self.0.insert(k, v);
            }
        }
    }
    TraceContextPropagator::new().inject_context(&span.context(), &mut H(headers));
}

/// Makes `span` a child of the W3C `traceparent` in `headers`, if there is one.
pub fn adopt_traceparent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    struct H<'a>(&'a axum::http::HeaderMap);
    impl Extractor for H<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    let parent = TraceContextPropagator::new().extract(&H(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}
