//! The `/metrics` endpoint of a scenario: metrics-exporter-prometheus with the global
//! labels `service` and `run_id` and explicit buckets for the latency histogram,
//! served over HTTP, counting completed scrapes so a scenario can wait for them.
//!
//! Main items: [`MetricsEndpoint`], [`LATENCY_BUCKETS`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The counter the guide's PromQL queries use.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// The latency histogram the guide's PromQL queries use.
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";
/// Explicit buckets of the latency histogram, in seconds (Prometheus client defaults).
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Completed scrapes of `/metrics`.
pub struct Scrapes {
    completed: AtomicU64,
    changed: Notify,
}

impl Scrapes {
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Waits until `n` scrapes have completed.
    pub async fn wait_for(&self, n: u64, timeout: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.changed.notified();
                if self.completed() >= n {
                    return;
                }
                notified.await;
            }
        })
        .await
        .with_context(|| {
            format!(
                "no scrape of /metrics within {timeout:?} (wanted {n} completed scrapes, saw {})",
                self.completed()
            )
        })
    }
}

/// The installed recorder and its running endpoint.
pub struct MetricsEndpoint {
    pub handle: PrometheusHandle,
    pub addr: SocketAddr,
    pub scrapes: Arc<Scrapes>,
}

impl MetricsEndpoint {
    /// Installs the global recorder (once per process) and serves `/metrics` on
    /// `listen`.
    pub async fn start(listen: SocketAddr, service: &str, run_id: &str) -> anyhow::Result<Self> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &LATENCY_BUCKETS)
            .context("latency buckets")?
            .add_global_label("service", service)
            .add_global_label("run_id", run_id)
            .install_recorder()
            .context("installing the Prometheus recorder")?;
        let scrapes = Arc::new(Scrapes {
            completed: AtomicU64::new(0),
            changed: Notify::new(),
        });
        let app = {
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
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the metrics listener on {listen}"))?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(MetricsEndpoint {
            handle,
            addr,
            scrapes,
        })
    }
}
