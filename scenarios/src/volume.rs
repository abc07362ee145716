//! The `volume` scenario: configurable numbers of log lines, spans and metric series,
//! for load tests. Defaults finish in seconds.
//!
//! Spans: `spans / spans_per_trace` traces (rounded up), each a root `batch` with
//! `spans_per_trace - 1` children `item` (the last trace may be shorter). Log lines:
//! `log lines` spread round-robin over the traces, each inside its trace's root span
//! (`volume line` with field `seq`); with no spans, outside any span. Metric series:
//! counter `volume_events_total{series="s00000"…}`, series `k` incremented to
//! `k % 7 + 1`, served on `/metrics`.
//!
//! Main items: [`Options`], [`run`], [`plan`].

use std::path::PathBuf;

use crate::cli::{self, MetricsArgs, MetricsSession, announce};
use crate::manifest::Manifest;
use crate::telemetry::{self, TelemetryConfig};

/// The counter of the metric series.
pub const EVENTS_TOTAL: &str = "volume_events_total";

#[derive(Debug, Clone)]
pub struct Options {
    pub telemetry: TelemetryConfig,
    pub manifest: PathBuf,
    pub metrics: MetricsArgs,
    pub log_lines: u64,
    pub spans: u64,
    pub spans_per_trace: u64,
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

pub async fn run(opts: Options) -> anyhow::Result<Manifest> {
    let guard = telemetry::init(opts.telemetry.clone())?;
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
    for (t, &spans) in traces.iter().enumerate() {
        let root = tracing::info_span!("batch", otel.kind = "internal", batch.index = t as i64);
        let _root = root.enter();
        for j in 1..spans {
            tracing::info_span!("item", otel.kind = "internal", item.index = j as i64)
                .in_scope(|| {});
        }
        for _ in 0..lines_for(t as u64) {
            crate::log!(tracing::Level::INFO, seq, "volume line");
            seq += 1;
        }
    }
    while seq < opts.log_lines {
        // No spans at all: the lines go out without trace ids.
        crate::log!(tracing::Level::INFO, seq, "volume line");
        seq += 1;
    }
    for k in 0..opts.series {
        metrics::counter!(EVENTS_TOTAL, "series" => name(k)).increment(series_value(k));
    }

    let recorded = cli::flush_and_announce(guard).await?;
    metrics.after_emitted().await?;
    let mut manifest = cli::manifest("volume", &opts.telemetry, started_at, recorded);
    manifest.metrics.process_metrics = crate::metrics_endpoint::process_metric_names();
    manifest.metrics.counters = metrics.endpoint.recorded().counters;
    metrics
        .finish(&manifest, &opts.manifest, serde_json::json!({}))
        .await?;
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
