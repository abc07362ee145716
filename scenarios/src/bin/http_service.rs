//! `http-service`: serves a small HTTP API, drives a fixed workload against it, and
//! writes a manifest of exactly what it emitted. See `lgtm_scenarios::http_service`.

use std::net::SocketAddr;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use lgtm_scenarios::cli::{CommonArgs, MetricsArgs};
use lgtm_scenarios::faults::{Fault, UnknownFault};
use lgtm_scenarios::http_service::{Options, Workload, run};

/// Emit known HTTP metrics, traces and logs, and write their manifest.
#[derive(Parser, Debug)]
#[command(name = "http-service", version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Address of the instrumented HTTP API.
    #[arg(long, default_value = "127.0.0.1:0")]
    api_listen: SocketAddr,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Also put the guide's old attribute names on server spans (`http.method`,
    /// `http.status_code`).
    #[arg(long)]
    legacy_http_attributes: bool,
    /// Make the manifest lie on purpose, so the harness's checks must fail: drop-span,
    /// mislabel-log, extra-count, wrong-attribute, duplicate-log (also pushes one line
    /// twice), extra-label. Repeatable, or comma-separated.
    // Strings, parsed in `main`, so that an empty LGTM_CHECK_FAULTS means no fault.
    #[arg(
        long = "fault",
        value_name = "NAME",
        env = "LGTM_CHECK_FAULTS",
        value_delimiter = ','
    )]
    faults: Vec<String>,
}

/// The named faults, skipping empty names; an unknown one is a usage error.
fn faults(names: &[String]) -> Vec<Fault> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| {
            n.parse().unwrap_or_else(|e: UnknownFault| {
                Args::command()
                    .error(
                        ErrorKind::InvalidValue,
                        format!("--fault / LGTM_CHECK_FAULTS: {e}"),
                    )
                    .exit()
            })
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let faults = faults(&a.faults);
    let opts = Options {
        telemetry: a.common.telemetry_config()?,
        manifest: a.common.manifest,
        api_listen: a.api_listen,
        metrics: a.metrics,
        concurrency: a.concurrency,
        legacy_http_attributes: a.legacy_http_attributes,
        faults,
    };
    run(opts, Workload::default()).await?;
    Ok(())
}
