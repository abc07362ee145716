//! `error-burst`: failures as error spans, error logs and a 5xx counter. See
//! `lgtm_scenarios::burst`.

use clap::Parser;
use lgtm_scenarios::burst::{Options, run};
use lgtm_scenarios::cli::{CommonArgs, MetricsArgs};

/// Emit a burst of failing requests in every signal, and write their manifest.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Failing requests (cycling 504 TimeoutError, 503 ConnectionRefusedError, 500 ValueError).
    #[arg(long, default_value_t = 12)]
    failures: u32,
    /// Successful requests after them.
    #[arg(long, default_value_t = 4)]
    successes: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    run(Options {
        telemetry: a.common.telemetry_config()?,
        manifest: a.common.manifest,
        metrics: a.metrics,
        failures: a.failures,
        successes: a.successes,
    })
    .await?;
    Ok(())
}
