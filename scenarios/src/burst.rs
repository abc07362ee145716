//! The `error-burst` scenario: a burst of failing requests, as error events in every
//! signal. (The module is not called `error_burst`: tracing-loki puts the source file
//! in every line, and the guide's `|= "error"` would then match every line.)
//!
//! For each request of the workload (default: 12 failures cycling through
//! [`FAILURES`], then 4 successes) a server span `POST /api/payments` with
//! `http.response.status_code`; a failure also gets status error (description = the
//! exception message) and the attributes `exception.type` and `exception.message`
//! (as **span attributes**, not span events: TraceQL reads them as
//! `span.exception.type`), an error log line `error processing payment` with fields
//! `exception.type`, `exception.message`, `endpoint`, `status`; successes log
//! `payment processed` at info. The counter `http_requests_total{method,path,status}`
//! counts every request on `/metrics`.
//!
//! Main items: [`FAILURES`], [`Options`], [`run`].

use std::path::PathBuf;

use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::cli::{self, MetricsArgs, MetricsSession, announce};
use crate::manifest::Manifest;
use crate::metrics_endpoint::REQUESTS_TOTAL;
use crate::telemetry::{self, TelemetryConfig};

/// The failures, cycled: (exception.type, exception.message, HTTP status).
pub const FAILURES: [(&str, &str, u16); 3] = [
    (
        "TimeoutError",
        "upstream payment gateway timed out after 2s",
        504,
    ),
    (
        "ConnectionRefusedError",
        "connection refused: postgres:5432",
        503,
    ),
    ("ValueError", "amount must be positive", 500),
];

const PATH: &str = "/api/payments";

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where logs and spans go, and the run's identity.
    pub telemetry: TelemetryConfig,
    /// Where to write the manifest (JSON).
    pub manifest: PathBuf,
    /// The `/metrics` endpoint, scrapes to wait for, and any remote write.
    pub metrics: MetricsArgs,
    /// How many failing requests (cycling through [`FAILURES`]) come first.
    pub failures: u32,
    /// How many successful requests (status 200) follow them.
    pub successes: u32,
}

/// The status of every request in order: failures first, then successes.
///
/// ```
/// use lgtm_scenarios::burst::statuses;
///
/// assert_eq!(statuses(4, 1), [504, 503, 500, 504, 200]);
/// ```
pub fn statuses(failures: u32, successes: u32) -> Vec<u16> {
    (0..failures)
        .map(|i| FAILURES[i as usize % FAILURES.len()].2)
        .chain((0..successes).map(|_| 200))
        .collect()
}

/// Serves `/metrics` (every status's counter at zero), sends the burst, flushes, and
/// writes the manifest with the counters' final values. Fails when telemetry or the
/// metrics endpoint cannot start, a flush or an awaited scrape fails, or the
/// manifest cannot be written.
pub async fn run(opts: Options) -> anyhow::Result<Manifest> {
    let guard = telemetry::init(opts.telemetry.clone())?;
    let mut statuses_used: Vec<u16> = statuses(opts.failures, opts.successes);
    statuses_used.sort();
    statuses_used.dedup();
    let metrics = MetricsSession::start(&opts.metrics, &opts.telemetry, || {
        for s in &statuses_used {
            metrics::counter!(REQUESTS_TOTAL, "method" => "POST", "path" => PATH, "status" => s.to_string())
                .increment(0);
        }
    })
    .await?;
    let started_at = cli::unix_ms();
    announce(
        serde_json::json!({ "event": "listening", "metrics": metrics.endpoint.addr.to_string() }),
    );
    metrics.before_workload().await?;

    for (i, status) in statuses(opts.failures, opts.successes)
        .into_iter()
        .enumerate()
    {
        request(i, status);
        metrics::counter!(REQUESTS_TOTAL, "method" => "POST", "path" => PATH, "status" => status.to_string())
            .increment(1);
    }

    let mut undelivered = cli::Undelivered::default();
    let recorded = cli::flush_and_announce(guard, &mut undelivered).await;
    undelivered.check(
        "waiting for the scrapes after the workload",
        metrics.after_emitted().await,
    );
    let mut manifest = cli::manifest("error-burst", &opts.telemetry, started_at, recorded);
    manifest.metrics.process_metrics = crate::metrics_endpoint::process_metric_names();
    manifest.metrics.counters = metrics.endpoint.recorded().counters;
    metrics
        .finish(&manifest, &opts.manifest, serde_json::json!({}))
        .await?;
    undelivered.into_result()?;
    Ok(manifest)
}

/// One request: its span, its log line.
fn request(i: usize, status: u16) {
    let span = tracing::info_span!(
        "payment",
        otel.name = "POST /api/payments",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = PATH,
        url.path = PATH,
        http.response.status_code = i64::from(status),
        request.index = i as i64,
        exception.r#type = Empty,
        exception.message = Empty,
    );
    let _entered = span.enter();
    if status >= 500 {
        let (kind, message, _) = FAILURES[i % FAILURES.len()];
        span.record("exception.type", kind);
        span.record("exception.message", message);
        span.set_status(opentelemetry::trace::Status::error(message));
        crate::log!(
            tracing::Level::ERROR,
            exception.r#type = kind,
            exception.message = message,
            endpoint = PATH,
            status,
            "error processing payment"
        );
    } else {
        crate::log!(
            tracing::Level::INFO,
            endpoint = PATH,
            status,
            "payment processed"
        );
    }
}
