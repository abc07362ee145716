//! The `http-service` scenario: a real HTTP server instrumented with
//! metrics-exporter-prometheus, tracing spans (exported over OTLP) and log lines
//! (pushed to Loki), driven by a fixed workload from a client in the same process,
//! then a [`Manifest`] of exactly what it emitted.
//!
//! Main items: [`Workload`] (plain data, deterministic), [`Options`], [`run`].
//!
//! Metrics (the guide's names and labels, plus the global labels `service` and
//! `run_id`): counter `http_requests_total{method,path,status}` and histogram
//! `http_request_duration_seconds{method,path}` with [`LATENCY_BUCKETS`].
//!
//! Traces: one trace per request: a server span `METHOD /route` (current semantic
//! conventions `http.request.method`, `url.path`, `http.route`,
//! `http.response.status_code`; with `legacy_http_attributes` also the guide's
//! `http.method`, `http.status_code`; status error on 5xx) and its child, a client span
//! `SELECT users` / `INSERT orders` … with `db.system=postgresql`,
//! `db.operation.name`, `db.collection.name`, lasting half the request's delay.
//!
//! Logs: one line per request inside its server span, `request handled` (info) or
//! `error handling request` (error, for 5xx), with fields `endpoint` (the route),
//! `method`, `status`, `latency_ms`, `trace_id`, `span_id`.
//!
//! With `faults`, the manifest lies on purpose ([`crate::faults`]); the `manifest`
//! event lists them (`"faults": [...]`, empty without).
//!
//! When a scraper is part of the test (`await_scrapes`), the scenario registers every
//! series at zero, answers the first two scrapes with those zeros whenever they come
//! (so rates start from a scraped zero, which makes `rate()`/`increase()` exact,
//! without holding the workload until then; two, as a scrape given up at its timeout
//! stores nothing), and waits for those scrapes and two more complete ones after the
//! workload (so the final values have certainly been scraped) before
//! it writes the manifest. Its logs and traces are final before that wait: it writes
//! them first in a provisional manifest ([`cli::write_provisional_manifest`]) so their
//! checks need not wait for the scraper.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::cli::{self, MetricsArgs, MetricsSession, announce};
use crate::faults::{self, Fault};
use crate::manifest::{Manifest, MetricsManifest};
use crate::metrics_endpoint::process_metric_names;
pub use crate::metrics_endpoint::{LATENCY_BUCKETS, REQUEST_DURATION, REQUESTS_TOTAL};
use crate::telemetry::{self, TelemetryConfig};

/// One kind of request of the workload, sent `count` times.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestKind {
    /// The HTTP method (`GET`, `POST`): label `method`, attribute
    /// `http.request.method`.
    pub method: &'static str,
    /// The route (`/api/users`): label `path`, span name and attribute `http.route`.
    pub path: &'static str,
    /// The status the server answers with: label `status`; 5xx makes the span an
    /// error and the log line `error`.
    pub status: u16,
    /// How many requests of this kind the workload sends.
    pub count: u32,
    /// Server-side delay of the i-th request of this kind, cycled.
    pub delays_ms: &'static [u64],
}

/// The fixed, known workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The kinds of request, sent in this order ([`Workload::requests`]).
    pub kinds: Vec<RequestKind>,
}

impl Default for Workload {
    /// 37 × GET /api/users 200, 5 × POST /api/orders 201, 3 × GET /api/users 500,
    /// 2 × GET /api/reports 200 slower than 500 ms (a series of its own, so the first
    /// three series keep the guide's numbers), and 2 × POST /api/orders 503 after
    /// 150 ms: what the guide's TraceQL 4 (POST, status ≥ 500, duration > 100ms) finds
    /// (a counter series of its own too).
    fn default() -> Self {
        Workload {
            kinds: vec![
                RequestKind {
                    method: "GET",
                    path: "/api/users",
                    status: 200,
                    count: 37,
                    delays_ms: &[15, 30, 35, 40, 60, 80],
                },
                RequestKind {
                    method: "POST",
                    path: "/api/orders",
                    status: 201,
                    count: 5,
                    delays_ms: &[120, 180, 300],
                },
                RequestKind {
                    method: "GET",
                    path: "/api/users",
                    status: 500,
                    count: 3,
                    delays_ms: &[2],
                },
                RequestKind {
                    method: "GET",
                    path: "/api/reports",
                    status: 200,
                    count: 2,
                    delays_ms: &[600],
                },
                RequestKind {
                    method: "POST",
                    path: "/api/orders",
                    status: 503,
                    count: 2,
                    delays_ms: &[150],
                },
            ],
        }
    }
}

impl Workload {
    /// Every request in sending order: (kind, delay in ms).
    pub fn requests(&self) -> Vec<(&RequestKind, u64)> {
        self.kinds
            .iter()
            .flat_map(|k| {
                (0..k.count as usize).map(move |i| (k, k.delays_ms[i % k.delays_ms.len()]))
            })
            .collect()
    }
}

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where logs and spans go, and the run's identity.
    pub telemetry: TelemetryConfig,
    /// Where to write the manifest (JSON), `--manifest`.
    pub manifest: PathBuf,
    /// Address of the instrumented HTTP API (`--api-listen`; port 0 picks a free one).
    pub api_listen: SocketAddr,
    /// The `/metrics` endpoint, scrapes to wait for, and any remote write.
    pub metrics: MetricsArgs,
    /// Requests in flight at once (`--concurrency`; 0 counts as 1).
    pub concurrency: usize,
    /// Also emit the guide's old attribute names `http.method`, `http.status_code`.
    pub legacy_http_attributes: bool,
    /// Lies the manifest tells on purpose (see [`crate::faults`]).
    pub faults: Vec<Fault>,
}

#[derive(Clone)]
struct AppState {
    /// Held while a request is counted and observed, so that the recorder records
    /// observations in the order the exporter sums them.
    metrics_order: Arc<Mutex<()>>,
    legacy_http_attributes: bool,
    /// Fault `duplicate-log`: push the line of the first request to
    /// [`faults::DUPLICATED_ROUTE`] twice; set once that is done.
    duplicate_log: Option<Arc<std::sync::atomic::AtomicBool>>,
}

#[derive(Deserialize)]
struct Behaviour {
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    status: Option<u16>,
}

/// Waits `delay_ms`, the first half of it in a (simulated) PostgreSQL query.
async fn handler(method: Method, route: MatchedPath, Query(b): Query<Behaviour>) -> Response {
    let table = route
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let operation = if method == Method::POST {
        "INSERT"
    } else {
        "SELECT"
    };
    let db_ms = b.delay_ms / 2;
    let db = tracing::info_span!(
        "db",
        otel.name = format!("{operation} {table}"),
        otel.kind = "client",
        db.system = "postgresql",
        db.operation.name = operation,
        db.collection.name = table.as_str(),
    );
    tokio::time::sleep(Duration::from_millis(db_ms))
        .instrument(db)
        .await;
    tokio::time::sleep(Duration::from_millis(b.delay_ms - db_ms)).await;
    let status = b
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    (status, "{}").into_response()
}

/// Traces and logs the request, and records it in the metrics and in the tally, with
/// the same values.
async fn instrument(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let span = tracing::info_span!(
        "request",
        otel.name = format!("{method} {path}"),
        otel.kind = "server",
        http.request.method = method.as_str(),
        url.path = req.uri().path(),
        http.route = path.as_str(),
        http.response.status_code = Empty,
        http.method = Empty,
        http.status_code = Empty,
    );
    if state.legacy_http_attributes {
        span.record("http.method", method.as_str());
    }
    telemetry::adopt_traceparent(&span, req.headers());
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status_code = response.status().as_u16();
    let status = status_code.to_string();

    span.record("http.response.status_code", status_code as i64);
    if state.legacy_http_attributes {
        span.record("http.status_code", status_code as i64);
    }
    let latency_ms = (seconds * 1000.0).round() as u64;
    let log = || {
        span.in_scope(|| {
            if status_code >= 500 {
                span.set_status(opentelemetry::trace::Status::error(format!(
                    "HTTP {status_code}"
                )));
                crate::log!(
                    tracing::Level::ERROR,
                    endpoint = path.as_str(),
                    method = method.as_str(),
                    status = status_code,
                    latency_ms,
                    "error handling request"
                );
            } else {
                crate::log!(
                    tracing::Level::INFO,
                    endpoint = path.as_str(),
                    method = method.as_str(),
                    status = status_code,
                    latency_ms,
                    "request handled"
                );
            }
        });
    };
    log();
    let again = state.duplicate_log.as_ref().is_some_and(|done| {
        path == faults::DUPLICATED_ROUTE && !done.swap(true, std::sync::atomic::Ordering::SeqCst)
    });
    if again {
        // A distinct timestamp, or Loki would keep only one of two identical entries.
        tokio::time::sleep(Duration::from_millis(2)).await;
        log();
    }
    drop(span);

    let _order = state.metrics_order.lock().await;
    metrics::counter!(REQUESTS_TOTAL, "method" => method.clone(), "path" => path.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "method" => method, "path" => path).record(seconds);
    response
}

/// Registers every series of the workload at zero, so the first scrape sees them.
fn register_zero_series(workload: &Workload) {
    for k in &workload.kinds {
        metrics::counter!(REQUESTS_TOTAL, "method" => k.method, "path" => k.path, "status" => k.status.to_string())
            .increment(0);
        let _ = metrics::histogram!(REQUEST_DURATION, "method" => k.method, "path" => k.path);
    }
}

/// Runs the scenario: serve, drive the workload, flush, write the manifest, optionally
/// hold.
pub async fn run(opts: Options, workload: Workload) -> anyhow::Result<Manifest> {
    // Fail before the workload rather than after it when a fault cannot apply.
    for f in &opts.faults {
        match f.needs() {
            Some(faults::Signal::Spans) if opts.telemetry.otlp.is_none() => {
                anyhow::bail!("fault {f} needs exported spans: set an OTLP endpoint")
            }
            Some(faults::Signal::Logs) if opts.telemetry.loki.is_none() => {
                anyhow::bail!("fault {f} needs log lines pushed to Loki: set a Loki URL")
            }
            _ => {}
        }
    }
    let guard = telemetry::init(opts.telemetry.clone())?;
    let metrics = MetricsSession::start(&opts.metrics, &opts.telemetry, || {
        register_zero_series(&workload)
    })
    .await?;
    let started_at = cli::unix_ms();

    let state = AppState {
        metrics_order: Arc::new(Mutex::new(())),
        // drop-legacy-attributes: emit none of the old names (the manifest will claim them).
        legacy_http_attributes: opts.legacy_http_attributes
            && !opts.faults.contains(&Fault::DropLegacyAttributes),
        duplicate_log: opts
            .faults
            .contains(&Fault::DuplicateLog)
            .then(Default::default),
    };
    let api = Router::new()
        .route("/api/users", get(handler))
        .route("/api/orders", post(handler))
        .route("/api/reports", get(handler))
        .route_layer(middleware::from_fn_with_state(state.clone(), instrument))
        .with_state(state.clone());

    let api_listener = TcpListener::bind(opts.api_listen)
        .await
        .with_context(|| format!("binding the API listener on {}", opts.api_listen))?;
    let api_addr = api_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(api_listener, api).await });
    announce(serde_json::json!({
        "event": "listening", "api": api_addr.to_string(), "metrics": metrics.endpoint.addr.to_string()
    }));

    metrics.before_workload().await?;
    drive(api_addr, &workload, opts.concurrency.max(1)).await?;
    // Everything is emitted and delivered: from here the harness measures
    // time-to-visible.
    // A backend that fails from here (it died, it refused) is a finding: the
    // manifest is written with what was lost, then the scenario fails.
    let mut undelivered = cli::Undelivered::default();
    let recorded = cli::flush_and_announce(guard, &mut undelivered).await;
    let assemble = |recorded| -> anyhow::Result<Manifest> {
        let mut manifest = cli::manifest("http-service", &opts.telemetry, started_at, recorded);
        manifest.metrics = MetricsManifest {
            process_metrics: process_metric_names(),
            ..metrics.endpoint.recorded()
        };
        faults::apply_faults(&mut manifest, &opts.faults)?;
        Ok(manifest)
    };
    // The logs and traces are final now: their checks need not wait for the scrapes.
    if metrics.awaits_scrapes() {
        cli::write_provisional_manifest(&assemble(recorded.clone())?, &opts.manifest)?;
    }
    undelivered.check(
        "waiting for the scrapes after the workload",
        metrics.after_emitted().await,
    );

    let manifest = assemble(recorded)?;
    metrics
        .finish(
            &manifest,
            &opts.manifest,
            serde_json::json!({ "faults": faults::names(&opts.faults) }),
        )
        .await?;
    undelivered.into_result()?;
    Ok(manifest)
}

/// Sends the workload in its order with `concurrency` requests in flight (the next
/// goes out as soon as one is answered), and checks each status.
async fn drive(api: SocketAddr, workload: &Workload, concurrency: usize) -> anyhow::Result<()> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    let client = &reqwest::Client::new();
    stream::iter(workload.requests())
        .map(|(kind, delay)| async move {
            let url = format!(
                "http://{api}{}?delay_ms={delay}&status={}",
                kind.path, kind.status
            );
            let method = reqwest::Method::from_bytes(kind.method.as_bytes()).expect("method");
            let response = client.request(method, url).send().await?;
            anyhow::ensure!(
                response.status().as_u16() == kind.status,
                "{} {} answered {} instead of {}",
                kind.method,
                kind.path,
                response.status(),
                kind.status
            );
            Ok(())
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_workload_is_the_documented_one() {
        let w = Workload::default();
        let requests = w.requests();
        assert_eq!(requests.len(), 49);
        let count = |m: &str, p: &str, s: u16| {
            requests
                .iter()
                .filter(|(k, _)| k.method == m && k.path == p && k.status == s)
                .count()
        };
        assert_eq!(count("GET", "/api/users", 200), 37);
        assert_eq!(count("POST", "/api/orders", 201), 5);
        assert_eq!(count("GET", "/api/users", 500), 3);
        assert_eq!(count("GET", "/api/reports", 200), 2);
        assert_eq!(count("POST", "/api/orders", 503), 2);
        assert!(requests[45..47].iter().all(|(_, d)| *d > 500));
        // the guide's TraceQL 4: POST, 5xx, slower than 100 ms
        assert!(
            requests[47..]
                .iter()
                .all(|(k, d)| k.method == "POST" && k.status >= 500 && *d > 100)
        );
        // delays cycle deterministically
        assert_eq!(requests[0].1, 15);
        assert_eq!(requests[6].1, 15);
        assert_eq!(requests[37].1, 120);
    }
}
