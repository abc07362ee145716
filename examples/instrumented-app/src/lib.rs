//! A small axum service instrumented the usual way: tracing with an OpenTelemetry
//! layer exporting spans over OTLP, tracing-loki pushing its logs to Loki, and the
//! metrics crate with a Prometheus `/metrics` endpoint. The lgtm-check recorder sits
//! beside each exporter and writes the manifest the tests check arrival against.
//!
//! The service runs on its own thread with its own subscriber and metrics recorder,
//! so several instances (with different settings) can run in one test binary.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use lgtm_check_recorder::Recorder;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

/// The service's name in every signal.
pub const SERVICE: &str = "shop";

/// Where the service sends its telemetry, and how it names things.
#[derive(Debug, Clone)]
pub struct Config {
    /// Labels every log stream, span resource and metric series.
    pub run_id: String,
    /// Loki's root URL.
    pub loki_url: String,
    /// The OTLP/HTTP endpoint (root; `/v1/traces` is appended).
    pub otlp_http_url: String,
    /// Where `/metrics` and the API listen.
    pub listen: SocketAddr,
    /// The deliberate regression: the order span's `order.id` attribute renamed to
    /// `order_id`.
    pub rename_order_attribute: bool,
}

/// A running service: its address; [`App::stop`] flushes every exporter and
/// writes the manifest.
pub struct App {
    /// The address the service listens on.
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    recorder: Recorder,
}

#[derive(Clone)]
struct AppState {
    prometheus: PrometheusHandle,
    rename: bool,
}

impl App {
    /// Starts the service on its own thread; returns once it listens.
    pub fn start(config: Config) -> App {
        let recorder = Recorder::new("instrumented-app", config.run_id.as_str(), SERVICE);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let rec = recorder.clone();
        let thread = std::thread::spawn(move || serve(config, rec, ready_tx, stop_rx));
        let addr = ready_rx.recv().expect("the service starts");
        App {
            addr,
            stop,
            thread,
            recorder,
        }
    }

    /// Stops the service, flushes logs and spans, and writes the manifest to `path`.
    pub fn stop(self, manifest: &Path) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.thread.join().expect("the service thread ends cleanly");
        self.recorder.write_manifest(manifest)
    }
}

fn serve(
    config: Config,
    recorder: Recorder,
    ready: std::sync::mpsc::Sender<SocketAddr>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let labels = [("service", SERVICE), ("run_id", config.run_id.as_str())];

    // Traces: OTLP/HTTP to Tempo, through a batch processor; the recorder wraps the
    // exporter and the processor.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", config.otlp_http_url))
        .build()
        .expect("an OTLP exporter");
    let processor = BatchSpanProcessor::builder(recorder.span_exporter(exporter)).build();
    let provider = SdkTracerProvider::builder()
        .with_sampler(recorder.sampler(Sampler::AlwaysOn))
        .with_span_processor(recorder.span_processor(processor))
        .with_resource(
            Resource::builder()
                .with_service_name(SERVICE)
                .with_attribute(KeyValue::new("run_id", config.run_id.clone()))
                .build(),
        )
        .build();
    recorder.sampler_ratio(1.0);
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("instrumented-app"))
        .with_filter(Targets::new().with_target("instrumented_app", tracing::Level::INFO));

    // Logs: tracing-loki, its task wrapped by the recorder.
    let mut builder = tracing_loki::builder();
    for (k, v) in labels {
        builder = builder.label(k, v).expect("a label");
    }
    let (loki, controller, task) = builder
        .build_controller_url(url::Url::parse(&config.loki_url).expect("Loki's URL"))
        .expect("tracing-loki");
    let loki = recorder
        .loki_layer(loki, labels)
        .with_backpressure()
        .with_filter(Targets::new().with_target("instrumented_app", tracing::Level::INFO));
    let subscriber = tracing_subscriber::registry()
        .with(otel)
        .with(loki)
        .with(recorder.loki_error_watch());
    let _subscriber = tracing::subscriber::set_default(subscriber);

    // Metrics: the Prometheus exporter's recorder, wrapped.
    let prometheus = PrometheusBuilder::new()
        .add_global_label("run_id", config.run_id.clone())
        .build_recorder();
    let handle = prometheus.handle();
    let metrics = recorder
        .metrics(prometheus)
        .global_label("run_id", config.run_id.clone());
    let _metrics = metrics::set_default_local_recorder(&metrics);

    let state = Arc::new(AppState {
        prometheus: handle,
        rename: config.rename_order_attribute,
    });
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/metrics", get(render_metrics))
        .with_state(state);
    runtime.block_on(async move {
        let task = tokio::spawn(recorder.loki_task(task));
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .expect("the service binds");
        ready.send(listener.local_addr().unwrap()).unwrap();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
            .expect("the service runs");
        controller.shutdown().await;
        let _ = task.await;
    });
    provider.shutdown().expect("spans flushed");
}

async fn order(State(state): State<Arc<AppState>>, UrlPath(id): UrlPath<u32>) -> String {
    let span = if state.rename {
        tracing::info_span!(
            "GET /orders/{id}",
            otel.kind = "server",
            http.route = "/orders/{id}",
            order_id = id
        )
    } else {
        tracing::info_span!(
            "GET /orders/{id}",
            otel.kind = "server",
            http.route = "/orders/{id}",
            order.id = id
        )
    };
    let _entered = span.enter();
    metrics::counter!("orders_served_total", "route" => "/orders/{id}").increment(1);
    tracing::info!(order = id, "order shown");
    format!("order {id}\n")
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> String {
    state.prometheus.render()
}
