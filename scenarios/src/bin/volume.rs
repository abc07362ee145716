//! `volume`: configurable counts of log lines, spans and metric series for load
//! tests. See `lgtm_scenarios::volume`.

use clap::Parser;
use lgtm_scenarios::cli::{CommonArgs, MetricsArgs};
use lgtm_scenarios::volume::{Options, run};

/// Emit many log lines, spans and series, and write their manifest.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Log lines to emit.
    #[arg(long, default_value_t = 5000)]
    log_lines: u64,
    /// Spans to emit.
    #[arg(long, default_value_t = 2000)]
    spans: u64,
    /// Spans per trace (root included).
    #[arg(long, default_value_t = 10)]
    spans_per_trace: u64,
    /// Metric series (counter volume_events_total).
    #[arg(long, default_value_t = 100)]
    series: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    run(Options {
        telemetry: a.common.telemetry_config()?,
        manifest: a.common.manifest,
        metrics: a.metrics,
        log_lines: a.log_lines,
        spans: a.spans,
        spans_per_trace: a.spans_per_trace,
        series: a.series,
    })
    .await?;
    Ok(())
}
