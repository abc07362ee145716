//! The `otlp-service` scenario: one Rust service sending all three signals over OTLP
//! the way a Rust service does it today, to one OTLP endpoint.
//!
//! - **Traces**: `tracing` spans through tracing-opentelemetry to an SDK tracer
//!   provider with a batch span processor over the opentelemetry-otlp span exporter.
//! - **Logs**: `tracing` events through the OpenTelemetry logs bridge
//!   (opentelemetry-appender-tracing) to an SDK logger provider with a batch log
//!   processor over the OTLP log exporter. An event inside a span becomes a log record
//!   with that span's trace id and span id (tracing-opentelemetry makes the span's
//!   context current while it is entered, and the SDK logger reads it), its severity
//!   (INFO 9, WARN 13, ERROR 17), its message as the body and its other fields as
//!   attributes.
//! - **Metrics**: an SDK meter provider with a periodic reader over the OTLP metric
//!   exporter, cumulative temporality; the instruments are [`ORDERS`],
//!   [`REQUEST_DURATION`], [`QUEUE_DEPTH`] and [`CACHE_RATIO`]. The reader's interval
//!   is long: the values are exported by the final flush (`force_flush`, then
//!   `shutdown`, which exports them once more).
//!
//! Endpoint and protocol are the [`TelemetryConfig`]'s (`--otlp-endpoint` /
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, `--otlp-protocol` / `OTEL_EXPORTER_OTLP_PROTOCOL`):
//! a base URL. For `grpc` every exporter gets it as it is; for `http/protobuf` each
//! gets its full URL, `<base>/v1/traces`, `<base>/v1/logs`, `<base>/v1/metrics` (the
//! exporters use a URL given in code as it is, without appending the path). Every
//! request carries the tenant (`x-scope-orgid`) and `authorization` of the existing
//! scenarios, and the exporters add `OTEL_EXPORTER_OTLP_HEADERS` themselves.
//!
//! The resource ([`resource_attributes`]): `service.name` (`--service`),
//! `service.version`, `deployment.environment` (`--environment`), `service.namespace`
//! [`SERVICE_NAMESPACE`], `service.instance.id` `<run_id>-1`, `run_id`, and any other
//! attribute of `OTEL_RESOURCE_ATTRIBUTES`.
//!
//! **Exemplars.** The Rust SDK 0.33 collects none: every data point it builds has
//! `exemplars: vec![]` (`opentelemetry_sdk` 0.33.1, `src/metrics/internal/sum.rs`,
//! `histogram.rs`, `exponential_histogram.rs`) and it has no exemplar filter or
//! reservoir to configure. So that the stack's metrics → traces path can be checked,
//! after the SDK's final flush the scenario sends one more OTLP metrics request, built
//! from opentelemetry-proto's generated messages ([`checkout_duration_request`]): the
//! cumulative histogram [`CHECKOUT_DURATION`] (unit `s`, the buckets
//! [`DURATION_BUCKETS`]) with one data point per route (the workload has one,
//! [`ROUTE`]) holding the workload's durations, and one exemplar per sampled request:
//! its duration, the trace id and span id of its server span (exported before), and
//! the time the request ended. It goes to the same endpoint with the same protocol and
//! headers (gRPC: the generated tonic `MetricsServiceClient`; HTTP: a protobuf `POST`
//! to `<base>/v1/metrics`).
//!
//! **Workload** (deterministic, see [`expected`]): request `i` of `--requests N` is a
//! server span `GET /api/orders/{id}` (order id [`order_id`]) with a child client span
//! `db.query` that lasts the request's latency ([`latency_ms`], a few ms); one request
//! in four fails ([`fails`]: status error, `http.response.status_code` 500, an
//! `error!` log). Each request logs one `info!` line with `order.id` and `latency_ms`
//! inside its server span, and a `warn!` if it was slow (latency ≥ [`SLOW_MS`]), and
//! records the metrics: `otlp.orders` +1 (`order.status` `paid` or `failed`),
//! `otlp.request.duration` its latency in seconds (`http.route`), `otlp.queue.depth` +1
//! on arrival and −1 once paid (failed orders stay queued), and `otlp.cache.ratio` the
//! cache hit ratio so far ([`cache_hit`]).
//!
//! **Manifest.** What was sent is recorded by lgtm-check's OTLP gateway in front of
//! the scenario, not by the scenario: the manifest has the run's identity and times,
//! `services`, and empty `logs`, `traces` and `metrics` sections. It is written even
//! when an export failed; then [`run`] returns the error (the binary exits non-zero).
//!
//! Main items: [`Options`], [`run`], [`expected`], [`checkout_duration_request`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, MeterProvider as _, UpDownCounter};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::metrics::v1 as proto_metrics;
use opentelemetry_proto::tonic::resource::v1 as proto_resource;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use prost::Message as _;
use tracing::Instrument as _;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cli::{self, announce};
use crate::manifest::Manifest;
use crate::redact::redact_url;
use crate::telemetry::{EnvMap, OtlpConfig, OtlpProtocol, Recorded, TelemetryConfig};

/// The scenario's name in the manifest.
pub const SCENARIO: &str = "otlp-service";
/// Requests handled when `--requests` is not given.
pub const DEFAULT_REQUESTS: u32 = 12;
/// The server spans' route (`http.route`), also the histograms' `http.route`.
pub const ROUTE: &str = "/api/orders/{id}";
/// The server spans' name.
pub const SERVER_SPAN: &str = "GET /api/orders/{id}";
/// The child spans' name.
pub const DB_SPAN: &str = "db.query";
/// `service.namespace` of the resource.
pub const SERVICE_NAMESPACE: &str = "lgtm-check";
/// A request at least this slow (ms) logs a `warn!`.
pub const SLOW_MS: u64 = 10;
/// Explicit bucket bounds (seconds) of both duration histograms.
pub const DURATION_BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Counter of handled orders, unit `{order}`, attribute `order.status` (`paid`,
/// `failed`).
pub const ORDERS: &str = "otlp.orders";
/// Histogram of request durations, unit `s`, attribute `http.route`, buckets
/// [`DURATION_BUCKETS`].
pub const REQUEST_DURATION: &str = "otlp.request.duration";
/// Up-down counter of queued orders, unit `{item}`.
pub const QUEUE_DEPTH: &str = "otlp.queue.depth";
/// Gauge of the cache hit ratio, unit `1`.
pub const CACHE_RATIO: &str = "otlp.cache.ratio";
/// The histogram with exemplars sent beside the SDK (unit `s`, attribute
/// `http.route`, buckets [`DURATION_BUCKETS`]).
pub const CHECKOUT_DURATION: &str = "otlp.checkout.duration";
/// The instrumentation scope of the meter, the tracer and the exemplar request.
pub const SCOPE: &str = "lgtm-scenarios";
/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long each provider's shutdown may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The order id of request `i` (signed: tracing-opentelemetry would export a `u64`
/// span attribute as a string).
pub fn order_id(i: u32) -> i64 {
    1000 + i64::from(i)
}

/// The latency of request `i`, in ms: 2, 3, 4, 6, 8, 12, repeated.
pub fn latency_ms(i: u32) -> u64 {
    [2, 3, 4, 6, 8, 12][(i % 6) as usize]
}

/// Whether request `i` fails (one in four: `i % 4 == 3`).
pub fn fails(i: u32) -> bool {
    i % 4 == 3
}

/// Whether request `i` is a cache hit (three in four: `i % 4 != 0`).
pub fn cache_hit(i: u32) -> bool {
    !i.is_multiple_of(4)
}

/// The count of each bucket of [`DURATION_BUCKETS`] (and the overflow bucket last)
/// for these values: OTLP's buckets, upper bounds inclusive.
pub fn bucket_counts(values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; DURATION_BUCKETS.len() + 1];
    for v in values {
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| v <= b)
            .unwrap_or(DURATION_BUCKETS.len());
        counts[i] += 1;
    }
    counts
}

/// What the workload of `requests` requests sends: the final metric values and the
/// numbers of spans and log records.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// Server spans, and as many `db.query` spans.
    pub server_spans: u64,
    /// `otlp.orders{order.status="paid"}`.
    pub paid: u64,
    /// `otlp.orders{order.status="failed"}`.
    pub failed: u64,
    /// `otlp.queue.depth`: the failed orders, still queued.
    pub queue_depth: i64,
    /// `otlp.cache.ratio` after the last request.
    pub cache_ratio: f64,
    /// Count of both duration histograms.
    pub duration_count: u64,
    /// Sum of both duration histograms (seconds).
    pub duration_sum: f64,
    /// Bucket counts of both duration histograms.
    pub bucket_counts: Vec<u64>,
    /// `info!` records (one per request).
    pub info_logs: u64,
    /// `warn!` records (slow requests).
    pub warn_logs: u64,
    /// `error!` records (failed requests).
    pub error_logs: u64,
}

/// What the workload of `requests` requests sends.
///
/// ```
/// let e = lgtm_scenarios::otlp_service::expected(12);
/// assert_eq!((e.paid, e.failed, e.queue_depth, e.cache_ratio), (9, 3, 3, 0.75));
/// assert_eq!(e.bucket_counts, vec![6, 4, 2, 0, 0, 0, 0, 0, 0]);
/// ```
pub fn expected(requests: u32) -> Expected {
    let all = 0..requests;
    let failed = all.clone().filter(|&i| fails(i)).count() as u64;
    let hits = all.clone().filter(|&i| cache_hit(i)).count() as u64;
    let latencies: Vec<f64> = all.clone().map(|i| latency_ms(i) as f64 / 1000.0).collect();
    Expected {
        server_spans: u64::from(requests),
        paid: u64::from(requests) - failed,
        failed,
        queue_depth: failed as i64,
        cache_ratio: if requests == 0 {
            0.0
        } else {
            hits as f64 / f64::from(requests)
        },
        duration_count: u64::from(requests),
        duration_sum: latencies.iter().sum(),
        bucket_counts: bucket_counts(&latencies),
        info_logs: u64::from(requests),
        warn_logs: all.clone().filter(|&i| latency_ms(i) >= SLOW_MS).count() as u64,
        error_logs: failed,
    }
}

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// Identity, resource and the OTLP endpoint (required), protocol, tenant and auth.
    pub telemetry: TelemetryConfig,
    /// Where to write the manifest.
    pub manifest: PathBuf,
    /// Requests to handle.
    pub requests: u32,
    /// The signals it exports (the others are recorded by the code, never sent).
    pub signals: Signals,
}

/// Which signals the scenario exports: all three by default; the harness leaves out
/// a signal whose backend does not run, so that nothing is sent where nothing can
/// receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Spans.
    pub traces: bool,
    /// Log records.
    pub logs: bool,
    /// Metric points (and the exemplar histogram).
    pub metrics: bool,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            traces: true,
            logs: true,
            metrics: true,
        }
    }
}

impl std::str::FromStr for Signals {
    type Err = String;

    /// `traces,logs,metrics` (any of them, comma-separated; `none` for none).
    ///
    /// ```
    /// use lgtm_scenarios::otlp_service::Signals;
    /// let s: Signals = "traces,metrics".parse().unwrap();
    /// assert!(s.traces && !s.logs && s.metrics);
    /// assert!("spans".parse::<Signals>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, String> {
        let mut s = Signals {
            traces: false,
            logs: false,
            metrics: false,
        };
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "traces" => s.traces = true,
                "logs" => s.logs = true,
                "metrics" => s.metrics = true,
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown signal `{other}` (known: traces, logs, metrics, none)"
                    ));
                }
            }
        }
        Ok(s)
    }
}

/// The resource of every signal: see the module docs. Sorted by key.
pub fn resource_attributes(config: &TelemetryConfig) -> Vec<(String, String)> {
    let mut attrs: BTreeMap<String, String> = config.resource_attributes.clone();
    for (k, v) in [
        ("service.name", config.service.clone()),
        ("service.version", config.service_version.clone()),
        ("deployment.environment", config.environment.clone()),
        ("service.namespace", SERVICE_NAMESPACE.to_string()),
        ("service.instance.id", format!("{}-1", config.run_id)),
        ("run_id", config.run_id.clone()),
    ] {
        attrs.insert(k.to_string(), v);
    }
    attrs.into_iter().collect()
}

/// The URL an exporter of `signal` (`traces`, `logs`, `metrics`) is given: the
/// endpoint for gRPC, `<base>/v1/<signal>` for HTTP.
fn signal_url(otlp: &OtlpConfig, signal: &str) -> String {
    match otlp.protocol {
        OtlpProtocol::Grpc => otlp.endpoint.clone(),
        OtlpProtocol::HttpProtobuf => {
            // The config holds the traces URL for HTTP; its base is the same for all.
            let base = otlp.endpoint.trim_end_matches('/');
            let base = base.strip_suffix("/v1/traces").unwrap_or(base);
            format!("{base}/v1/{signal}")
        }
    }
}

/// The headers the exporters of `signal` send from the environment, as they read
/// them: `OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`
/// (`k=v,k2=v2`, values percent-decoded, keys lowercased). The values are secrets.
pub fn env_headers(env: &EnvMap, signal: &str) -> Vec<(String, String)> {
    let specific = format!("OTEL_EXPORTER_OTLP_{}_HEADERS", signal.to_uppercase());
    let Some(raw) = env
        .get(&specific)
        .or_else(|| env.get("OTEL_EXPORTER_OTLP_HEADERS"))
    else {
        return Vec::new();
    };
    raw.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim().to_ascii_lowercase();
            let v = crate::telemetry::percent_decode(v.trim())?;
            (!k.is_empty()).then_some((k, v))
        })
        .collect()
}

/// What the exporters exported and failed to, per kind of item (`spans`, `log
/// records`, `metric exports`), and the providers' failed flushes.
#[derive(Debug, Default)]
struct Ledger {
    exported: Mutex<BTreeMap<&'static str, u64>>,
    /// Items lost, and the first error.
    lost: Mutex<BTreeMap<&'static str, (u64, String)>>,
    steps: Mutex<Vec<String>>,
}

impl Ledger {
    fn note(&self, what: &'static str, n: u64, result: &OTelSdkResult) {
        match result {
            Ok(()) => *self.exported.lock().unwrap().entry(what).or_default() += n,
            Err(e) => {
                let mut lost = self.lost.lock().unwrap();
                let entry = lost.entry(what).or_insert_with(|| (0, e.to_string()));
                entry.0 += n;
            }
        }
    }

    /// Every failure, redacted: the lost items by kind with their first error; the
    /// failed flushes only when nothing was reported lost (they repeat it).
    fn failures(&self) -> Vec<String> {
        let lost = self.lost.lock().unwrap();
        let out: Vec<String> = if lost.is_empty() {
            self.steps.lock().unwrap().clone()
        } else {
            lost.iter()
                .map(|(what, (n, e))| format!("{n} {what} not exported ({e})"))
                .collect()
        };
        out.iter().map(|s| redact_url(s)).collect()
    }
}

/// An exporter that notes each export's outcome in the [`Ledger`].
#[derive(Debug)]
struct Checked<E> {
    inner: E,
    ledger: Arc<Ledger>,
}

impl<E: SpanExporter> SpanExporter for Checked<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        self.ledger.note("spans", n, &result);
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

impl<E: LogExporter> LogExporter for Checked<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count() as u64;
        let result = self.inner.export(batch).await;
        self.ledger.note("log records", n, &result);
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.inner.event_enabled(level, target, name)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Checked<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.ledger.note("metric exports", 1, &result);
        result
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// A gRPC exporter builder for `otlp`: endpoint, timeout, headers, TLS.
fn tonic_builder<B: WithTonicConfig + WithExportConfig>(b: B, otlp: &OtlpConfig) -> B {
    let mut b = b
        .with_endpoint(signal_url(otlp, "traces"))
        .with_timeout(EXPORT_TIMEOUT);
    let headers = crate::telemetry::otlp_headers(otlp);
    if !headers.is_empty() {
        b = b.with_metadata(crate::telemetry::tonic_metadata(&headers));
    }
    if otlp.endpoint.starts_with("https://") {
        b = b.with_tls_config(
            opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new().with_native_roots(),
        );
    }
    b
}

/// An HTTP/protobuf exporter builder for `signal` of `otlp`: its full URL, timeout,
/// headers.
fn http_builder<B: WithHttpConfig + WithExportConfig>(b: B, otlp: &OtlpConfig, signal: &str) -> B {
    let mut b = b
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(signal_url(otlp, signal))
        .with_timeout(EXPORT_TIMEOUT);
    let headers = crate::telemetry::otlp_headers(otlp);
    if !headers.is_empty() {
        b = b.with_headers(
            headers
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        );
    }
    b
}

/// The three providers, their exporters wrapped in [`Checked`].
struct Pipeline {
    tracer: SdkTracerProvider,
    logger: SdkLoggerProvider,
    meter: SdkMeterProvider,
    ledger: Arc<Ledger>,
}

impl Pipeline {
    /// Builds the exporters and providers and installs the global subscriber: fmt to
    /// stderr (`RUST_LOG`), tracing-opentelemetry and the logs bridge for this
    /// crate's spans and events only (the exporters' own logs must not loop back).
    fn start(
        config: &TelemetryConfig,
        otlp: &OtlpConfig,
        signals: Signals,
    ) -> anyhow::Result<Self> {
        let ledger = Arc::new(Ledger::default());
        let built = |signal: &'static str| {
            move |e: opentelemetry_otlp::ExporterBuildError| {
                anyhow!(
                    "cannot build the OTLP {signal} exporter for {}: {e}",
                    redact_url(&signal_url(otlp, signal))
                )
            }
        };
        let (spans, logs, metrics) = match otlp.protocol {
            OtlpProtocol::Grpc => (
                tonic_builder(
                    opentelemetry_otlp::SpanExporter::builder().with_tonic(),
                    otlp,
                )
                .build()
                .map_err(built("traces"))?,
                tonic_builder(
                    opentelemetry_otlp::LogExporter::builder().with_tonic(),
                    otlp,
                )
                .build()
                .map_err(built("logs"))?,
                tonic_builder(
                    opentelemetry_otlp::MetricExporter::builder()
                        .with_tonic()
                        .with_temporality(Temporality::Cumulative),
                    otlp,
                )
                .build()
                .map_err(built("metrics"))?,
            ),
            OtlpProtocol::HttpProtobuf => (
                http_builder(
                    opentelemetry_otlp::SpanExporter::builder().with_http(),
                    otlp,
                    "traces",
                )
                .build()
                .map_err(built("traces"))?,
                http_builder(
                    opentelemetry_otlp::LogExporter::builder().with_http(),
                    otlp,
                    "logs",
                )
                .build()
                .map_err(built("logs"))?,
                http_builder(
                    opentelemetry_otlp::MetricExporter::builder()
                        .with_http()
                        .with_temporality(Temporality::Cumulative),
                    otlp,
                    "metrics",
                )
                .build()
                .map_err(built("metrics"))?,
            ),
        };
        let resource = Resource::builder_empty()
            .with_attributes(
                resource_attributes(config)
                    .into_iter()
                    .map(|(k, v)| KeyValue::new(k, v)),
            )
            .build();

        // A signal left out gets no processor or reader: the code still records it,
        // nothing is exported.
        let mut tracer = SdkTracerProvider::builder()
            .with_sampler(crate::telemetry::sdk_sampler(config.sampler))
            .with_resource(resource.clone());
        if signals.traces {
            tracer = tracer.with_span_processor(
                BatchSpanProcessor::builder(Checked {
                    inner: spans,
                    ledger: ledger.clone(),
                })
                .build(),
            );
        }
        let tracer = tracer.build();
        let mut logger = SdkLoggerProvider::builder().with_resource(resource.clone());
        if signals.logs {
            logger = logger.with_log_processor(
                BatchLogProcessor::builder(Checked {
                    inner: logs,
                    ledger: ledger.clone(),
                })
                .build(),
            );
        }
        let logger = logger.build();
        let mut meter = SdkMeterProvider::builder().with_resource(resource);
        if signals.metrics {
            meter = meter.with_reader(
                PeriodicReader::builder(Checked {
                    inner: metrics,
                    ledger: ledger.clone(),
                })
                // Only the final flush exports: the run takes well under a minute.
                .with_interval(Duration::from_secs(60))
                .build(),
            );
        }
        let meter = meter.build();

        let ours = || Targets::new().with_target("lgtm_scenarios", LevelFilter::TRACE);
        let otel_layer = tracing_opentelemetry::layer()
            .with_tracer(tracer.tracer(SCOPE))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_level(false)
            .with_filter(ours());
        let logs_layer = OpenTelemetryTracingBridge::new(&logger).with_filter(ours());
        let fmt_layer = crate::telemetry::stderr_layer(&config.stderr_filter);
        tracing_subscriber::registry()
            .with(fmt_layer)
            .with(otel_layer)
            .with(logs_layer)
            .try_init()
            .context("installing the tracing subscriber")?;
        Ok(Pipeline {
            tracer,
            logger,
            meter,
            ledger,
        })
    }

    /// Flushes and shuts down every provider (spans first, so that they are exported
    /// before anything refers to them; then logs and metrics side by side, so that an
    /// endpoint that refuses costs one exporter's retries, not two), off the async
    /// workers: the processors block until their threads have exported. Returns the
    /// failures, and the counts of what was exported.
    async fn shutdown(self) -> anyhow::Result<(Vec<String>, BTreeMap<&'static str, u64>)> {
        let Pipeline {
            tracer,
            logger,
            meter,
            ledger,
        } = self;
        let l = ledger.clone();
        tokio::task::spawn_blocking(move || {
            let step = |what: &str, r: OTelSdkResult| {
                if let Err(e) = r {
                    l.steps.lock().unwrap().push(format!("{what}: {e}"));
                }
            };
            step("flushing spans", tracer.force_flush());
            step(
                "shutting down the tracer provider",
                tracer.shutdown_with_timeout(SHUTDOWN_TIMEOUT),
            );
            std::thread::scope(|scope| {
                let logs = scope.spawn(|| logger.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
                step("flushing metrics", meter.force_flush());
                step(
                    "shutting down the meter provider",
                    meter.shutdown_with_timeout(SHUTDOWN_TIMEOUT),
                );
                match logs.join() {
                    Ok(r) => step("shutting down the logger provider", r),
                    Err(_) => step(
                        "shutting down the logger provider",
                        Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                            "panicked".into(),
                        )),
                    ),
                }
            });
        })
        .await
        .context("the flush panicked")?;
        let failures = ledger.failures();
        let exported = ledger.exported.lock().unwrap().clone();
        Ok((failures, exported))
    }
}

/// The workload's instruments.
struct Instruments {
    orders: Counter<u64>,
    duration: Histogram<f64>,
    queue: UpDownCounter<i64>,
    cache: Gauge<f64>,
}

impl Instruments {
    fn new(meter: &opentelemetry::metrics::Meter) -> Self {
        Instruments {
            orders: meter
                .u64_counter(ORDERS)
                .with_unit("{order}")
                .with_description("Orders handled, by outcome.")
                .build(),
            duration: meter
                .f64_histogram(REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of the order requests.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            queue: meter
                .i64_up_down_counter(QUEUE_DEPTH)
                .with_unit("{item}")
                .with_description("Orders waiting in the queue.")
                .build(),
            cache: meter
                .f64_gauge(CACHE_RATIO)
                .with_unit("1")
                .with_description("Cache hit ratio so far.")
                .build(),
        }
    }
}

/// One handled request, as its exemplar shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The trace id of its server span.
    pub trace_id: [u8; 16],
    /// The span id of its server span.
    pub span_id: [u8; 8],
    /// Whether the span was sampled (so exported): only then does it get an exemplar.
    pub sampled: bool,
    /// Its duration, in seconds.
    pub duration_s: f64,
    /// When it ended (Unix ns): the exemplar's time.
    pub ended_unix_nanos: u64,
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// Handles request `i`: its spans, logs and metrics.
async fn handle(i: u32, ins: &Instruments, hits: &mut u64) -> Handled {
    let id = order_id(i);
    let latency = latency_ms(i);
    let failed = fails(i);
    let status: i64 = if failed { 500 } else { 200 };
    let span = tracing::info_span!(
        "request",
        otel.name = SERVER_SPAN,
        otel.kind = "server",
        http.request.method = "GET",
        http.route = ROUTE,
        url.path = %format_args!("/api/orders/{id}"),
        http.response.status_code = status,
        order.id = id,
        otel.status_code = Empty,
        otel.status_description = Empty,
        "error.type" = Empty,
    );
    let handled = async {
        ins.queue.add(1, &[]);
        let db = tracing::info_span!(
            "db.query",
            otel.kind = "client",
            db.system.name = "postgresql",
            db.operation.name = "SELECT",
            db.collection.name = "orders",
        );
        tokio::time::sleep(Duration::from_millis(latency))
            .instrument(db)
            .await;
        tracing::info!(
            order.id = id,
            latency_ms = latency,
            http.response.status_code = status,
            "order request handled"
        );
        if latency >= SLOW_MS {
            tracing::warn!(
                order.id = id,
                latency_ms = latency,
                slow_ms = SLOW_MS,
                "slow order request"
            );
        }
        let current = tracing::Span::current();
        if failed {
            current.record("otel.status_code", "error");
            current.record("otel.status_description", "payment declined");
            current.record("error.type", "500");
            tracing::error!(
                order.id = id,
                http.response.status_code = status,
                "order failed: payment declined"
            );
        } else {
            ins.queue.add(-1, &[]);
        }
        let outcome = if failed { "failed" } else { "paid" };
        ins.orders.add(1, &[KeyValue::new("order.status", outcome)]);
        let duration_s = latency as f64 / 1000.0;
        ins.duration
            .record(duration_s, &[KeyValue::new("http.route", ROUTE)]);
        if cache_hit(i) {
            *hits += 1;
        }
        ins.cache.record(*hits as f64 / f64::from(i + 1), &[]);
        let cx = current.context();
        let sc = cx.span().span_context().clone();
        Handled {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            sampled: sc.is_sampled(),
            duration_s,
            ended_unix_nanos: 0,
        }
    }
    .instrument(span)
    .await;
    Handled {
        ended_unix_nanos: unix_nanos(),
        ..handled
    }
}

fn string_kv(k: &str, v: &str) -> proto_common::KeyValue {
    proto_common::KeyValue {
        key: k.to_string(),
        value: Some(proto_common::AnyValue {
            value: Some(proto_common::any_value::Value::StringValue(v.to_string())),
        }),
        ..Default::default()
    }
}

/// The request that carries exemplars (see the module docs): resource `resource`,
/// scope [`SCOPE`], the cumulative histogram [`CHECKOUT_DURATION`] with one data
/// point for [`ROUTE`] holding the durations of `requests`, and one exemplar per
/// sampled request (in the order given: the order they ended): its duration, its
/// server span's trace id and span id, the time it ended.
pub fn checkout_duration_request(
    resource: &[(String, String)],
    requests: &[Handled],
    start_unix_nanos: u64,
    time_unix_nanos: u64,
) -> ExportMetricsServiceRequest {
    let values: Vec<f64> = requests.iter().map(|h| h.duration_s).collect();
    let exemplars = requests
        .iter()
        .filter(|h| h.sampled)
        .map(|h| proto_metrics::Exemplar {
            filtered_attributes: Vec::new(),
            time_unix_nano: h.ended_unix_nanos,
            span_id: h.span_id.to_vec(),
            trace_id: h.trace_id.to_vec(),
            value: Some(proto_metrics::exemplar::Value::AsDouble(h.duration_s)),
        })
        .collect();
    let point = proto_metrics::HistogramDataPoint {
        attributes: vec![string_kv("http.route", ROUTE)],
        start_time_unix_nano: start_unix_nanos,
        time_unix_nano: time_unix_nanos,
        count: values.len() as u64,
        sum: Some(values.iter().sum()),
        bucket_counts: bucket_counts(&values),
        explicit_bounds: DURATION_BUCKETS.to_vec(),
        exemplars,
        flags: 0,
        min: values.iter().copied().reduce(f64::min),
        max: values.iter().copied().reduce(f64::max),
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![proto_metrics::ResourceMetrics {
            resource: Some(proto_resource::Resource {
                attributes: resource.iter().map(|(k, v)| string_kv(k, v)).collect(),
                ..Default::default()
            }),
            scope_metrics: vec![proto_metrics::ScopeMetrics {
                scope: Some(proto_common::InstrumentationScope {
                    name: SCOPE.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                metrics: vec![proto_metrics::Metric {
                    name: CHECKOUT_DURATION.to_string(),
                    description: "Duration of the order requests, with exemplars.".to_string(),
                    unit: "s".to_string(),
                    data: Some(proto_metrics::metric::Data::Histogram(
                        proto_metrics::Histogram {
                            data_points: vec![point],
                            aggregation_temporality:
                                proto_metrics::AggregationTemporality::Cumulative as i32,
                        },
                    )),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Sends `request` to the metrics endpoint of `otlp` with the exporters' headers;
/// an error if it was not accepted whole.
async fn send_metrics(
    otlp: &OtlpConfig,
    env: &EnvMap,
    request: ExportMetricsServiceRequest,
) -> anyhow::Result<()> {
    // As the exporters send them: ours, then the environment's over them.
    let mut headers: BTreeMap<String, String> = crate::telemetry::otlp_headers(otlp)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    headers.extend(env_headers(env, "metrics"));
    let url = signal_url(otlp, "metrics");
    let shown = redact_url(&url);
    let response = match otlp.protocol {
        OtlpProtocol::Grpc => {
            use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
            let mut endpoint = tonic::transport::Endpoint::from_shared(url.clone())
                .map_err(|e| anyhow!("{shown}: not a gRPC endpoint: {e}"))?
                .timeout(EXPORT_TIMEOUT)
                .connect_timeout(EXPORT_TIMEOUT);
            if url.starts_with("https://") {
                endpoint = endpoint
                    .tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
                    .map_err(|e| anyhow!("{shown}: TLS: {e}"))?;
            }
            let channel = endpoint
                .connect()
                .await
                .map_err(|e| anyhow!("connecting to {shown}: {}", redact_url(&e.to_string())))?;
            let mut req = tonic::Request::new(request);
            for (k, v) in &headers {
                let key = tonic::metadata::MetadataKey::from_bytes(k.as_bytes())
                    .map_err(|_| anyhow!("header {k:?} is not a valid gRPC metadata key"))?;
                let value = v
                    .parse()
                    .map_err(|_| anyhow!("the value of header {k:?} is not valid metadata"))?;
                req.metadata_mut().insert(key, value);
            }
            MetricsServiceClient::new(channel)
                .export(req)
                .await
                .map_err(|s| {
                    anyhow!(
                        "{shown} refused: {:?}: {}",
                        s.code(),
                        redact_url(s.message())
                    )
                })?
                .into_inner()
        }
        OtlpProtocol::HttpProtobuf => {
            let client = reqwest::Client::builder()
                .timeout(EXPORT_TIMEOUT)
                .build()
                .context("building the HTTP client")?;
            let mut rb = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(request.encode_to_vec());
            for (k, v) in &headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            let response = rb
                .send()
                .await
                .map_err(|e| anyhow!("POST {shown}: {}", redact_url(&e.to_string())))?;
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            if !status.is_success() {
                let text = String::from_utf8_lossy(&body);
                let text: String = text.chars().take(300).collect();
                anyhow::bail!("POST {shown}: {status}: {}", redact_url(text.trim()));
            }
            ExportMetricsServiceResponse::decode(body.as_ref()).unwrap_or_default()
        }
    };
    if let Some(p) = response.partial_success
        && p.rejected_data_points > 0
    {
        anyhow::bail!(
            "{shown} rejected {} data points: {}",
            p.rejected_data_points,
            redact_url(&p.error_message)
        );
    }
    Ok(())
}

/// Runs the workload, flushes, sends the exemplars; returns the `emitted` event.
async fn emit(opts: &Options) -> anyhow::Result<serde_json::Value> {
    let otlp = opts.telemetry.otlp.as_ref().context(
        "otlp-service sends everything over OTLP: give --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT",
    )?;
    let pipeline = Pipeline::start(&opts.telemetry, otlp, opts.signals)?;
    let start = unix_nanos();
    let mut handled = Vec::with_capacity(opts.requests as usize);
    {
        let meter = pipeline.meter.meter(SCOPE);
        let instruments = Instruments::new(&meter);
        let mut hits = 0;
        for i in 0..opts.requests {
            handled.push(handle(i, &instruments, &mut hits).await);
        }
    }
    let (failures, exported) = pipeline.shutdown().await?;
    if !failures.is_empty() {
        anyhow::bail!(
            "OTLP export to {} failed: {}",
            redact_url(&otlp.endpoint),
            failures.join("; ")
        );
    }
    let mut exemplars = 0;
    if opts.signals.metrics {
        exemplars = handled.iter().filter(|h| h.sampled).count();
        let request = checkout_duration_request(
            &resource_attributes(&opts.telemetry),
            &handled,
            start,
            unix_nanos(),
        );
        send_metrics(otlp, &crate::telemetry::process_env(), request)
            .await
            .context("sending the exemplar histogram")?;
    }
    Ok(serde_json::json!({
        "event": "emitted",
        "requests": opts.requests,
        "spans": exported.get("spans").copied().unwrap_or(0),
        "log_records": exported.get("log records").copied().unwrap_or(0),
        "metric_exports": exported.get("metric exports").copied().unwrap_or(0),
        "exemplars": exemplars,
    }))
}

/// Runs the scenario: workload, flush, exemplar request, `{"event":"emitted",…}`, then
/// the manifest (written also when an export failed, before the error is returned).
pub async fn run(opts: Options) -> anyhow::Result<Manifest> {
    let started_at = cli::unix_ms();
    let emitted = emit(&opts).await;
    if let Ok(event) = &emitted {
        announce(event.clone());
    }
    let mut manifest = cli::manifest(SCENARIO, &opts.telemetry, started_at, Recorded::default());
    manifest.services = vec![opts.telemetry.service.clone()];
    let written = cli::write_manifest(&manifest, &opts.manifest, serde_json::json!({}));
    emitted?;
    written?;
    Ok(manifest)
}
