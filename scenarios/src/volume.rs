//! The `volume` scenario: configurable numbers of log lines, spans and metric series,
//! for load tests. Defaults finish in seconds.
//!
//! Spans: `spans / spans_per_trace` traces (rounded up), each a root `batch` with
//! `spans_per_trace - 1` children `item` (the last trace may be shorter). Log lines:
//! `log lines` spread round-robin over the traces, each inside its trace's root span
//! (`volume line` with field `seq`, and the root's `trace_id`/`span_id`); with no
//! spans, outside any span. Metric series: counter `volume_events_total{series=
//! "s00000"…}`, series `k` incremented to `k % 7 + 1`, served on `/metrics`.
//!
//! Lines go to Loki's push API directly ([`crate::loki_push`]) in batches of
//! [`LINES_PER_PUSH`], as JSON lines shaped as tracing-loki's (`message`, the fields),
//! in one stream `{service, environment, run_id, level="info"}`; spans through the
//! OTLP exporter of [`crate::telemetry`]. A push the stack refuses for a limit is
//! retried with backoff; the manifest's `pushback` says which limit the backend named,
//! how many pushes were retried and whether everything was accepted in the end, and
//! `losses` what was given up. The run always ends with a manifest.
//!
//! Main items: [`Options`], [`run`], [`plan`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::{self, MetricsArgs, MetricsSession, announce};
use crate::loki_push::{LokiPusher, PushOutcome};
use crate::manifest::{Labels, LogLine, LogStream, Loss, Manifest};
use crate::telemetry::{self, TelemetryConfig};

/// The counter of the metric series.
pub const EVENTS_TOTAL: &str = "volume_events_total";
/// Lines per push to Loki (about 150 kB of JSON).
pub const LINES_PER_PUSH: usize = 1000;
/// Where the manifest's `losses` put lines Loki kept refusing.
pub const LOSS_LOKI_REFUSED: &str = "Loki refused the push until the retries ran out";

/// What one `volume` run emits and where (the binary's flags, validated).
#[derive(Debug, Clone)]
pub struct Options {
    /// Run id, service, Loki and OTLP endpoints; its Loki endpoint receives the
    /// lines directly, the rest goes through [`telemetry::init`].
    pub telemetry: TelemetryConfig,
    /// Where the manifest is written when the run ends.
    pub manifest: PathBuf,
    /// The `/metrics` endpoint and its scrape handshake.
    pub metrics: MetricsArgs,
    /// Log lines to push to Loki (`--log-lines`, default 5000).
    pub log_lines: u64,
    /// Spans to export, root spans included (`--spans`, default 2000).
    pub spans: u64,
    /// Spans per trace, root included (`--spans-per-trace`, default 10; 0 counts
    /// as 1).
    pub spans_per_trace: u64,
    /// Series of [`EVENTS_TOTAL`] to serve (`--series`, default 100).
    pub series: u64,
}

/// Spans per trace, in order (sums to `spans`).
pub fn plan(spans: u64, spans_per_trace: u64) -> Vec<u64> {
    let per = spans_per_trace.max(1);
    let mut out = vec![per; (spans / per) as usize];
    if !spans.is_multiple_of(per) {
        out.push(spans % per);
    }
    out
}

fn series_value(k: u64) -> u64 {
    k % 7 + 1
}

/// The text of line `seq` (tracing-loki's JSON shape) and its manifest entry.
fn line(seq: u64, ids: Option<(String, String)>) -> (String, LogLine) {
    let mut fields = BTreeMap::from([("seq".to_owned(), seq.to_string())]);
    let mut json = serde_json::json!({ "message": "volume line", "seq": seq });
    if let Some((trace_id, span_id)) = ids {
        json["trace_id"] = trace_id.clone().into();
        json["span_id"] = span_id.clone().into();
        fields.insert("trace_id".into(), trace_id);
        fields.insert("span_id".into(), span_id);
    }
    let entry = LogLine {
        level: "info".into(),
        message: "volume line".into(),
        fields,
    };
    (json.to_string(), entry)
}

/// Unix ns, strictly increasing from call to call.
struct Clock(u128);

impl Clock {
    fn tick(&mut self) -> u128 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        self.0 = now.max(self.0 + 1);
        self.0
    }
}

/// Emits what `opts` asks for and writes the manifest of what was emitted, what
/// the stack pushed back on and what was lost; returns that manifest.
///
/// Pushes refused for a limit are retried and reported in the manifest, not
/// returned as errors. With `--hold`, returns only when standard input closes.
/// Errors: telemetry could not start, the `/metrics` endpoint could not bind, a
/// remote-write push failed, the awaited scrapes did not come in time, or the
/// manifest could not be written.
pub async fn run(opts: Options) -> anyhow::Result<Manifest> {
    // Lines are pushed here, not through tracing-loki.
    let loki = opts.telemetry.loki.clone();
    let guard = telemetry::init(TelemetryConfig {
        loki: None,
        ..opts.telemetry.clone()
    })?;
    let pusher = loki.as_ref().map(LokiPusher::new);
    let mut labels: Labels = telemetry::loki_labels(&opts.telemetry);
    labels.insert("level".into(), "info".into());

    let name = |k: u64| format!("s{k:05}");
    let metrics = MetricsSession::start(&opts.metrics, &opts.telemetry, || {
        for k in 0..opts.series {
            metrics::counter!(EVENTS_TOTAL, "series" => name(k)).increment(0);
        }
    })
    .await?;
    let started_at = cli::unix_ms();
    announce(
        serde_json::json!({ "event": "listening", "metrics": metrics.endpoint.addr.to_string() }),
    );
    metrics.before_workload().await?;

    let traces = plan(opts.spans, opts.spans_per_trace);
    let mut seq = 0u64;
    let lines_for = |t: u64| {
        let n = traces.len() as u64;
        opts.log_lines / n + u64::from(t < opts.log_lines % n)
    };
    let mut clock = Clock(0);
    let mut batch: Vec<(u128, String)> = Vec::new();
    let mut emitted: Vec<LogLine> = Vec::new();
    let push = async |batch: &mut Vec<(u128, String)>| {
        if let Some(p) = &pusher
            && !batch.is_empty()
            && p.push(&labels, batch).await == PushOutcome::GivenUp
        {
            tracing::warn!(lines = batch.len(), "lines given up");
        }
        batch.clear();
    };
    let mut take = |seq: u64, batch: &mut Vec<(u128, String)>| {
        let (text, entry) = line(seq, telemetry::current_ids());
        batch.push((clock.tick(), text));
        emitted.push(entry);
    };
    for (t, &spans) in traces.iter().enumerate() {
        {
            let root = tracing::info_span!("batch", otel.kind = "internal", batch.index = t as i64);
            let _root = root.enter();
            for j in 1..spans {
                tracing::info_span!("item", otel.kind = "internal", item.index = j as i64)
                    .in_scope(|| {});
            }
            for _ in 0..lines_for(t as u64) {
                take(seq, &mut batch);
                seq += 1;
            }
        }
        if batch.len() >= LINES_PER_PUSH {
            push(&mut batch).await;
        }
    }
    while seq < opts.log_lines {
        // No spans at all: the lines go out without trace ids.
        take(seq, &mut batch);
        seq += 1;
        if batch.len() >= LINES_PER_PUSH {
            push(&mut batch).await;
        }
    }
    push(&mut batch).await;
    for k in 0..opts.series {
        metrics::counter!(EVENTS_TOTAL, "series" => name(k)).increment(series_value(k));
    }

    // Spans: flushed here; what the exporter lost is reported, not an error.
    let mut recorded = guard.shutdown_keeping_losses().await?;
    if pusher.is_some() && !emitted.is_empty() {
        recorded.logs.streams = vec![LogStream {
            labels: labels.clone(),
            lines: emitted,
        }];
    }
    if let Some(p) = &pusher {
        recorded
            .pushback
            .extend(p.ledger().pushback("logs", "loki"));
        let given_up = p.ledger().abandoned_items();
        if given_up > 0 {
            recorded
                .losses
                .push(Loss::new("logs", LOSS_LOKI_REFUSED, given_up));
        }
    }
    announce(serde_json::json!({ "event": "emitted" }));
    let mut undelivered = cli::Undelivered::default();
    undelivered.check(
        "waiting for the scrapes after the workload",
        metrics.after_emitted().await,
    );
    let mut manifest = cli::manifest("volume", &opts.telemetry, started_at, recorded);
    manifest.metrics.process_metrics = crate::metrics_endpoint::process_metric_names();
    manifest.metrics.counters = metrics.endpoint.recorded().counters;
    metrics
        .finish(&manifest, &opts.manifest, serde_json::json!({}))
        .await?;
    undelivered.into_result()?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_every_span() {
        assert_eq!(plan(25, 10), vec![10, 10, 5]);
        assert_eq!(plan(20, 10), vec![10, 10]);
        assert_eq!(plan(0, 10), Vec::<u64>::new());
        assert_eq!(plan(3, 0), vec![1, 1, 1]);
    }
}
