//! `http-service`: serves a small HTTP API, drives a fixed workload against it, and
//! writes a manifest of exactly what it emitted. See `lgtm_scenarios::http_service`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lgtm_scenarios::http_service::{Options, Workload, run};

/// Emit known HTTP metrics and write their manifest.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Run id attached to every signal (label `run_id`).
    #[arg(long, env = "LGTM_CHECK_RUN_ID")]
    run_id: String,
    /// Service name (label `service`).
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "rust-app")]
    service: String,
    /// Deployment environment (label `environment`).
    #[arg(long, default_value = "production")]
    environment: String,
    /// Where to write the manifest (JSON).
    #[arg(long)]
    manifest: PathBuf,
    /// Address of the instrumented HTTP API.
    #[arg(long, default_value = "127.0.0.1:0")]
    api_listen: SocketAddr,
    /// Address of the /metrics endpoint for the scraper.
    #[arg(long, default_value = "127.0.0.1:0")]
    metrics_listen: SocketAddr,
    /// Wait for a scrape before the workload and two after it before writing the manifest.
    #[arg(long)]
    await_scrapes: bool,
    /// How long to wait for each of those scrapes.
    #[arg(long, default_value_t = 60)]
    scrape_timeout_secs: u64,
    /// After writing the manifest, keep serving /metrics until standard input closes.
    #[arg(long)]
    hold: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let opts = Options {
        run_id: a.run_id,
        service: a.service,
        environment: a.environment,
        manifest: a.manifest,
        api_listen: a.api_listen,
        metrics_listen: a.metrics_listen,
        await_scrapes: a.await_scrapes,
        scrape_timeout: Duration::from_secs(a.scrape_timeout_secs),
        hold: a.hold,
        concurrency: a.concurrency,
    };
    run(opts, Workload::default()).await?;
    Ok(())
}
