//! `otlp-service`: one service sending traces, logs and metrics over OTLP (gRPC or
//! HTTP/protobuf) the way a Rust service does, plus one histogram with exemplars. See
//! `lgtm_scenarios::otlp_service`.

use clap::Parser;
use lgtm_scenarios::cli::CommonArgs;
use lgtm_scenarios::otlp_service::{DEFAULT_REQUESTS, Options, Signals, run};

/// Handle a deterministic series of order requests, exporting all three signals over
/// OTLP, and write the manifest.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Requests to handle (one trace each; one in four fails).
    #[arg(long, default_value_t = DEFAULT_REQUESTS)]
    requests: u32,
    /// The signals to export: `traces,logs,metrics` (default), any of them, or `none`.
    #[arg(long, default_value = "traces,logs,metrics")]
    signals: Signals,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if a.common.loki_url.is_some() {
        eprintln!("otlp-service: --loki-url is ignored: logs go over OTLP");
    }
    let telemetry = a.common.telemetry_config()?;
    run(Options {
        telemetry,
        manifest: a.common.manifest,
        requests: a.requests,
        signals: a.signals,
    })
    .await
    .map(|_| ())
}
