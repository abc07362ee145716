//! The `http-service` scenario: a real HTTP server instrumented with
//! metrics-exporter-prometheus, driven by a fixed workload from a client in the same
//! process, then a [`Manifest`] of exactly what it emitted.
//!
//! Main items: [`Workload`] (plain data, deterministic), [`Options`], [`run`].
//!
//! Metrics (the guide's names and labels, plus the global labels `service` and
//! `run_id`): counter `http_requests_total{method,path,status}` and histogram
//! `http_request_duration_seconds{method,path}` with [`LATENCY_BUCKETS`].
//!
//! When a scraper is part of the test (`await_scrapes`), the scenario registers every
//! series at zero and waits for one scrape before the workload (so rates start from a
//! scraped zero, which makes `rate()`/`increase()` exact) and for two complete scrapes
//! after it (so the final values have certainly been scraped) before it writes the
//! manifest.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Notify};

use crate::manifest::{
    CounterSeries, HistogramSeries, Labels, MANIFEST_SCHEMA_VERSION, Manifest, MetricsManifest,
};

/// The counter the guide's PromQL queries use.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// The latency histogram the guide's PromQL queries use.
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";
/// Explicit buckets of the latency histogram, in seconds (Prometheus client defaults).
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One kind of request of the workload, sent `count` times.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestKind {
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub count: u32,
    /// Server-side delay of the i-th request of this kind, cycled.
    pub delays_ms: &'static [u64],
}

/// The fixed, known workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub kinds: Vec<RequestKind>,
}

impl Default for Workload {
    /// 37 × GET /api/users 200, 5 × POST /api/orders 201, 3 × GET /api/users 500.
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
    pub run_id: String,
    pub service: String,
    pub environment: String,
    pub manifest: PathBuf,
    pub api_listen: SocketAddr,
    pub metrics_listen: SocketAddr,
    pub await_scrapes: bool,
    pub scrape_timeout: Duration,
    pub hold: bool,
    pub concurrency: usize,
}

/// What the server observed: the exact values handed to the metrics recorder.
#[derive(Default)]
struct Tally {
    counters: BTreeMap<(String, String, String), u64>,
    histograms: BTreeMap<(String, String), Vec<f64>>,
}

#[derive(Clone)]
struct AppState {
    tally: Arc<Mutex<Tally>>,
}

#[derive(Deserialize)]
struct Behaviour {
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    status: Option<u16>,
}

async fn handler(Query(b): Query<Behaviour>) -> Response {
    tokio::time::sleep(Duration::from_millis(b.delay_ms)).await;
    let status = b
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    (status, "{}").into_response()
}

/// Records the request in the metrics and in the tally, with the same values.
async fn instrument(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();

    let mut tally = state.tally.lock().await;
    metrics::counter!(REQUESTS_TOTAL, "method" => method.clone(), "path" => path.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "method" => method.clone(), "path" => path.clone())
        .record(seconds);
    *tally
        .counters
        .entry((method.clone(), path.clone(), status))
        .or_default() += 1;
    tally
        .histograms
        .entry((method, path))
        .or_default()
        .push(seconds);
    response
}

fn install_recorder(opts: &Options) -> anyhow::Result<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &LATENCY_BUCKETS)
        .context("latency buckets")?
        .add_global_label("service", &opts.service)
        .add_global_label("run_id", &opts.run_id)
        .install_recorder()
        .context("installing the Prometheus recorder")
}

/// Registers every series of the workload at zero, so the first scrape sees them.
fn register_zero_series(workload: &Workload) {
    for k in &workload.kinds {
        metrics::counter!(REQUESTS_TOTAL, "method" => k.method, "path" => k.path, "status" => k.status.to_string())
            .increment(0);
        let _ = metrics::histogram!(REQUEST_DURATION, "method" => k.method, "path" => k.path);
    }
}

struct Scrapes {
    completed: AtomicU64,
    changed: Notify,
}

impl Scrapes {
    async fn wait_for(&self, n: u64, timeout: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.changed.notified();
                if self.completed.load(Ordering::SeqCst) >= n {
                    return;
                }
                notified.await;
            }
        })
        .await
        .with_context(|| {
            format!(
                "no scrape of /metrics within {timeout:?} (wanted {n} completed scrapes, saw {})",
                self.completed.load(Ordering::SeqCst)
            )
        })
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Prints one JSON event line on stdout; the harness reads these.
fn announce(event: serde_json::Value) {
    println!("{event}");
}

/// Runs the scenario: serve, drive the workload, write the manifest, optionally hold.
pub async fn run(opts: Options, workload: Workload) -> anyhow::Result<Manifest> {
    let handle = install_recorder(&opts)?;
    register_zero_series(&workload);
    let started_at = unix_ms();

    let state = AppState {
        tally: Arc::new(Mutex::new(Tally::default())),
    };
    let api = Router::new()
        .route("/api/users", get(handler))
        .route("/api/orders", post(handler))
        .route_layer(middleware::from_fn_with_state(state.clone(), instrument))
        .with_state(state.clone());

    let scrapes = Arc::new(Scrapes {
        completed: AtomicU64::new(0),
        changed: Notify::new(),
    });
    let metrics_app = {
        let scrapes = scrapes.clone();
        let handle = handle.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let scrapes = scrapes.clone();
                let handle = handle.clone();
                async move {
                    let body = handle.render();
                    scrapes.completed.fetch_add(1, Ordering::SeqCst);
                    scrapes.changed.notify_waiters();
                    body
                }
            }),
        )
    };

    let api_listener = TcpListener::bind(opts.api_listen)
        .await
        .with_context(|| format!("binding the API listener on {}", opts.api_listen))?;
    let metrics_listener = TcpListener::bind(opts.metrics_listen)
        .await
        .with_context(|| format!("binding the metrics listener on {}", opts.metrics_listen))?;
    let api_addr = api_listener.local_addr()?;
    let metrics_addr = metrics_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(api_listener, api).await });
    tokio::spawn(async move { axum::serve(metrics_listener, metrics_app).await });
    announce(serde_json::json!({
        "event": "listening", "api": api_addr.to_string(), "metrics": metrics_addr.to_string()
    }));

    if opts.await_scrapes {
        scrapes.wait_for(1, opts.scrape_timeout).await?;
    }

    drive(api_addr, &workload, opts.concurrency.max(1)).await?;
    // Everything is emitted: from here the harness measures time-to-visible.
    announce(serde_json::json!({ "event": "emitted" }));

    if opts.await_scrapes {
        let after = scrapes.completed.load(Ordering::SeqCst);
        scrapes.wait_for(after + 2, opts.scrape_timeout).await?;
    }

    let manifest = build_manifest(&opts, started_at, &*state.tally.lock().await);
    manifest
        .write(&opts.manifest)
        .with_context(|| format!("writing the manifest {}", opts.manifest.display()))?;
    announce(serde_json::json!({
        "event": "manifest", "path": opts.manifest.display().to_string(),
        "scrapes": scrapes.completed.load(Ordering::SeqCst)
    }));

    if opts.hold {
        hold_until_stdin_closes().await;
    }
    Ok(manifest)
}

/// Sends the workload, `concurrency` requests at a time, and checks each status.
async fn drive(api: SocketAddr, workload: &Workload, concurrency: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let requests = workload.requests();
    for chunk in requests.chunks(concurrency) {
        let sends = chunk.iter().map(|(kind, delay)| {
            let url = format!(
                "http://{api}{}?delay_ms={delay}&status={}",
                kind.path, kind.status
            );
            let method = reqwest::Method::from_bytes(kind.method.as_bytes()).expect("method");
            let request = client.request(method, url).send();
            async move {
                let response = request.await?;
                anyhow::ensure!(
                    response.status().as_u16() == kind.status,
                    "{} {} answered {} instead of {}",
                    kind.method,
                    kind.path,
                    response.status(),
                    kind.status
                );
                Ok(())
            }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
    }
    Ok(())
}

fn build_manifest(opts: &Options, started_at: u64, tally: &Tally) -> Manifest {
    let global = |mut labels: Labels| {
        labels.insert("service".into(), opts.service.clone());
        labels.insert("run_id".into(), opts.run_id.clone());
        labels
    };
    let counters = tally
        .counters
        .iter()
        .map(|((method, path, status), value)| CounterSeries {
            name: REQUESTS_TOTAL.into(),
            labels: global(Labels::from([
                ("method".into(), method.clone()),
                ("path".into(), path.clone()),
                ("status".into(), status.clone()),
            ])),
            value: *value,
        })
        .collect();
    let histograms = tally
        .histograms
        .iter()
        .map(|((method, path), observations)| HistogramSeries {
            name: REQUEST_DURATION.into(),
            labels: global(Labels::from([
                ("method".into(), method.clone()),
                ("path".into(), path.clone()),
            ])),
            buckets: LATENCY_BUCKETS.to_vec(),
            observations: observations.clone(),
        })
        .collect();
    Manifest {
        schema_version: MANIFEST_SCHEMA_VERSION,
        scenario: "http-service".into(),
        run_id: opts.run_id.clone(),
        service: opts.service.clone(),
        environment: opts.environment.clone(),
        started_at_unix_ms: started_at,
        finished_at_unix_ms: unix_ms(),
        services: Vec::new(),
        logs: Default::default(),
        traces: Default::default(),
        metrics: MetricsManifest {
            counters,
            histograms,
        },
    }
}

async fn hold_until_stdin_closes() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            read = stdin.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            _ = tokio::signal::ctrl_c() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_workload_is_the_documented_one() {
        let w = Workload::default();
        let requests = w.requests();
        assert_eq!(requests.len(), 45);
        let count = |m: &str, p: &str, s: u16| {
            requests
                .iter()
                .filter(|(k, _)| k.method == m && k.path == p && k.status == s)
                .count()
        };
        assert_eq!(count("GET", "/api/users", 200), 37);
        assert_eq!(count("POST", "/api/orders", 201), 5);
        assert_eq!(count("GET", "/api/users", 500), 3);
        // delays cycle deterministically
        assert_eq!(requests[0].1, 15);
        assert_eq!(requests[6].1, 15);
        assert_eq!(requests[37].1, 120);
    }
}
