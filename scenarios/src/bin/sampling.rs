//! `sampling`: many root traces under a ratio sampler. See `lgtm_scenarios::sampling`.

use clap::Parser;
use lgtm_scenarios::cli::CommonArgs;
use lgtm_scenarios::sampling::{DEFAULT_RATIO, Options, run};
use lgtm_scenarios::telemetry::SamplerConfig;

/// Start many root traces at a sampling ratio (default 0.01), and write the manifest.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Root traces to start.
    #[arg(long, default_value_t = 1000)]
    traces: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut telemetry = a.common.telemetry_config()?;
    // This scenario's default sampler is the guide's production one; a flag or
    // OTEL_TRACES_SAMPLER still wins.
    if a.common.sampler_ratio.is_none()
        && !lgtm_scenarios::telemetry::process_env().contains_key("OTEL_TRACES_SAMPLER")
    {
        telemetry.sampler = SamplerConfig::ParentBasedTraceIdRatio(DEFAULT_RATIO);
    }
    run(Options {
        telemetry,
        manifest: a.common.manifest,
        traces: a.traces,
    })
    .await?;
    Ok(())
}
