//! The `/metrics` endpoint of a scenario: metrics-exporter-prometheus with the global
//! labels `service` and `run_id` and explicit buckets for the latency histogram,
//! served over HTTP, counting completed scrapes so a scenario can wait for them.
//!
//! Every render also carries the standard process metrics
//! (<https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics>),
//! `process_cpu_seconds_total` (counter) and gauges such as
//! `process_resident_memory_bytes`, with the same global labels, read from the OS
//! (`/proc/self` on Linux, by metrics-process) right before the render. They are written
//! as text beside the recorder's output because the `metrics` crate's counters are
//! integers and CPU seconds are not.
//!
//! The recorder is wrapped by lgtm-check-recorder's, which records every counter
//! series' value and every histogram observation for the manifest
//! ([`MetricsEndpoint::recorded`]).
//!
//! Main items: [`MetricsEndpoint`], [`LATENCY_BUCKETS`], [`process_samples`],
//! [`render_process_metrics`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use lgtm_check_recorder::Recorder;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::manifest::MetricsManifest;

/// The counter the guide's PromQL queries use.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// The latency histogram the guide's PromQL queries use.
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";
/// Explicit buckets of the latency histogram, in seconds (Prometheus client defaults).
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counter of CPU time among the process metrics.
pub const PROCESS_CPU_SECONDS: &str = "process_cpu_seconds_total";
/// The resident memory gauge among the process metrics.
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";

/// One standard process metric and its current value.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSample {
    /// The metric name (`process_cpu_seconds_total`, `process_open_fds`, …).
    pub name: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    /// The `# HELP` text, with the unit (seconds, bytes, a count).
    pub help: &'static str,
    /// The value the OS reported, in the unit of the name (seconds, bytes, a count).
    pub value: f64,
}

/// The process metrics a snapshot holds (those the OS reported), in a fixed order.
pub fn process_samples(m: &metrics_process::collector::Metrics) -> Vec<ProcessSample> {
    let int = |v: Option<u64>| v.map(|v| v as f64);
    [
        (
            PROCESS_CPU_SECONDS,
            "counter",
            "Total user and system CPU time spent in seconds.",
            m.cpu_seconds_total,
        ),
        (
            PROCESS_RESIDENT_MEMORY,
            "gauge",
            "Resident memory size in bytes.",
            int(m.resident_memory_bytes),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            int(m.virtual_memory_bytes),
        ),
        (
            "process_virtual_memory_max_bytes",
            "gauge",
            "Maximum amount of virtual memory available in bytes (0: unlimited).",
            int(m.virtual_memory_max_bytes),
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            int(m.open_fds),
        ),
        (
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors (0: unlimited).",
            int(m.max_fds),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            int(m.start_time_seconds),
        ),
        (
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
            int(m.threads),
        ),
    ]
    .into_iter()
    .filter_map(|(name, kind, help, value)| {
        value.map(|value| ProcessSample {
            name,
            kind,
            help,
            value,
        })
    })
    .collect()
}

/// The names of the process metrics this process exposes now.
pub fn process_metric_names() -> Vec<String> {
    process_samples(&metrics_process::collector::collect())
        .into_iter()
        .map(|s| s.name.to_owned())
        .collect()
}

/// The samples in the Prometheus text format, each with `labels`.
pub fn render_process_metrics(samples: &[ProcessSample], labels: &[(&str, &str)]) -> String {
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let labels = labels.join(",");
    let mut out = String::new();
    for s in samples {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{labels}}} {value}\n\n",
            name = s.name,
            help = s.help,
            kind = s.kind,
            value = s.value,
        ));
    }
    out
}

/// Completed scrapes of `/metrics`.
pub struct Scrapes {
    /// Scrapes whose request has come in (counted before anything is rendered).
    begun: AtomicU64,
    completed: AtomicU64,
    changed: Notify,
    /// Scrapes still to be answered with the zeros.
    zeros_left: AtomicU64,
}

/// How many scrapes are answered with the zeros (`zeros_first`): two, because an
/// answer is not a stored sample — a scrape the scraper gave up on at its timeout
/// (on a loaded machine) keeps none of it, and a series whose first stored sample is
/// not its zero can never get it.
pub const ZERO_SCRAPES: u64 = 2;

impl Scrapes {
    /// How many scrapes of `/metrics` have been answered so far (one counts once its
    /// body is rendered); [`MetricsEndpoint::render`] does not count.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Waits until the scraper holds every value counted before this call: two
    /// scrapes that began after the call have been answered (and, while scrapes
    /// still owe the zeros (`zeros_first`, [`ZERO_SCRAPES`]), those too). Scrapes that began
    /// before the call may have rendered earlier values, so `begun + 1` answers make
    /// one fresh scrape; the second is there because an answer is not a stored
    /// sample: a scraper that gave up on a slow answer (its scrape timeout, on a
    /// loaded machine) keeps none of it, and the manifest's end bounds the samples
    /// the metrics checks look at.
    pub async fn wait_for_fresh(&self, timeout: Duration) -> anyhow::Result<()> {
        // The zeros owed first: a scrape counts itself begun before it takes them.
        let zeros_owed = self.zeros_left.load(Ordering::SeqCst);
        let begun = self.begun.load(Ordering::SeqCst);
        self.wait_for(begun + 2 + zeros_owed, timeout).await
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
    /// metrics-exporter-prometheus' handle: renders the recorder's series (without
    /// the process metrics).
    pub handle: PrometheusHandle,
    /// The address `/metrics` is served on (the real port when port 0 was asked for).
    pub addr: SocketAddr,
    /// The scrapes answered so far, to wait on.
    pub scrapes: Arc<Scrapes>,
    recorder: Recorder,
    /// The global labels, also on the process metrics.
    labels: [(&'static str, String); 2],
}

/// The recorder's exposition followed by the process metrics, with `labels`.
fn render(handle: &PrometheusHandle, labels: &[(&'static str, String); 2]) -> String {
    let mut body = handle.render();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    let process = process_samples(&metrics_process::collector::collect());
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    body.push_str(&render_process_metrics(&process, &labels));
    body
}

impl MetricsEndpoint {
    /// Installs the global recorder (once per process), runs `register` (which
    /// registers the scenario's series at zero), and only then serves `/metrics` on
    /// `listen`: no scrape can see the endpoint without those series. With
    /// `zeros_first`, the first [`ZERO_SCRAPES`] scrapes are answered with the series
    /// as they were registered, at zero, whatever the workload has counted since, so
    /// that the scraper's first sample of each is its zero without holding the
    /// workload until the scraper comes (Prometheus applies the targets of its
    /// configuration only at its first 5 s discovery tick).
    pub async fn start(
        listen: SocketAddr,
        service: &str,
        run_id: &str,
        zeros_first: bool,
        register: impl FnOnce(),
    ) -> anyhow::Result<Self> {
        let prometheus = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &LATENCY_BUCKETS)
            .context("latency buckets")?
            .add_global_label("service", service)
            .add_global_label("run_id", run_id)
            .build_recorder();
        let handle = prometheus.handle();
        let recorder = Recorder::new(service, run_id, service);
        let recording = recorder
            .metrics(prometheus)
            .global_label("service", service)
            .global_label("run_id", run_id)
            .buckets(REQUEST_DURATION, &LATENCY_BUCKETS);
        metrics::set_global_recorder(recording)
            .map_err(|e| anyhow::anyhow!("installing the Prometheus recorder: {e}"))?;
        register();
        let labels = [
            ("service", service.to_owned()),
            ("run_id", run_id.to_owned()),
        ];
        let zero = Arc::new(render(&handle, &labels));
        let scrapes = Arc::new(Scrapes {
            begun: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            changed: Notify::new(),
            zeros_left: AtomicU64::new(if zeros_first { ZERO_SCRAPES } else { 0 }),
        });
        let app = {
            let scrapes = scrapes.clone();
            let handle = handle.clone();
            let labels = labels.clone();
            Router::new().route(
                "/metrics",
                get(move || {
                    let scrapes = scrapes.clone();
                    let handle = handle.clone();
                    let labels = labels.clone();
                    let zero = zero.clone();
                    async move {
                        scrapes.begun.fetch_add(1, Ordering::SeqCst);
                        // The first scrapes get the zeros; each takes one of those
                        // left at once, so no more than ZERO_SCRAPES can.
                        let zeros = scrapes
                            .zeros_left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        let body = if zeros {
                            zero.as_str().to_owned()
                        } else {
                            render(&handle, &labels)
                        };
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
            recorder,
            labels,
        })
    }

    /// What `/metrics` serves now (the recorder's series and the process metrics),
    /// without counting as a scrape: what remote write pushes.
    pub fn render(&self) -> String {
        render(&self.handle, &self.labels)
    }

    /// The series the scenario counted or observed into (those only registered at
    /// zero left out), with their values and observations, under the global labels.
    pub fn recorded(&self) -> MetricsManifest {
        let mut m = self.recorder.metrics_manifest();
        m.counters.retain(|c| c.value > 0);
        m.histograms.retain(|h| !h.observations.is_empty());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_process::collector::{Metrics, collect};

    #[test]
    fn process_metrics_render_as_one_family_each_with_the_global_labels() {
        let snapshot = Metrics {
            cpu_seconds_total: Some(0.37),
            resident_memory_bytes: Some(12_345_678),
            ..Metrics::default()
        };
        let samples = process_samples(&snapshot);
        assert_eq!(
            samples.iter().map(|s| s.name).collect::<Vec<_>>(),
            vec![PROCESS_CPU_SECONDS, PROCESS_RESIDENT_MEMORY]
        );
        let text = render_process_metrics(&samples, &[("service", "a\"b"), ("run_id", "r1")]);
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
        assert!(
            text.contains("process_cpu_seconds_total{service=\"a\\\"b\",run_id=\"r1\"} 0.37\n")
        );
        assert!(text.contains("# TYPE process_resident_memory_bytes gauge\n"));
        assert!(text.contains(
            "process_resident_memory_bytes{service=\"a\\\"b\",run_id=\"r1\"} 12345678\n"
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_cpu_time_and_resident_memory() {
        let names = process_metric_names();
        assert!(
            names.contains(&PROCESS_CPU_SECONDS.to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&PROCESS_RESIDENT_MEMORY.to_string()),
            "{names:?}"
        );
        assert!(collect().resident_memory_bytes.unwrap_or(0) > 0);
    }
}
