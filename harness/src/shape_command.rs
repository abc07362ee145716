//! `lgtm-check shape`: the telemetry shape of one run on any deployment (Loki, Tempo
//! and a Prometheus-API backend by URL), printed, or compared with a snapshot file.
//!
//! Main items: [`ShapeArgs`] (the flags), [`run`] (returns the exit code).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::clients::Endpoint;
use crate::clients::loki::LokiClient;
use crate::clients::prometheus::PromClient;
use crate::clients::tempo::TempoClient;
use crate::core::check::Window;
use crate::core::component::Component;
use crate::core::report::exit;
use crate::shape::{
    CollectError, ShapeSources, SnapshotError, UpdateMode, check_snapshot, collect_settled,
};

/// The flags of `lgtm-check shape`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShapeArgs {
    /// The run id the telemetry carries (Loki label, resource attribute and metric
    /// label `run_id`).
    #[arg(long)]
    pub run_id: String,
    /// Start of the run's window, Unix seconds (the shape never depends on "now").
    #[arg(long, value_name = "UNIX_SECS")]
    pub from: f64,
    /// End of the run's window, Unix seconds.
    #[arg(long, value_name = "UNIX_SECS")]
    pub to: f64,
    /// Loki base URL, e.g. http://127.0.0.1:3100.
    #[arg(long, value_name = "URL")]
    pub loki: Option<String>,
    /// Tempo base URL, e.g. http://127.0.0.1:3200.
    #[arg(long, value_name = "URL")]
    pub tempo: Option<String>,
    /// Prometheus-API base URL (Mimir and Cortex: with `/prometheus`).
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Tenant (`X-Scope-OrgID`) for every backend.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Compare with this snapshot file (written if missing); without it the shape
    /// is printed.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Write the snapshot even if it exists (also LGTM_CHECK_UPDATE=1).
    #[arg(long)]
    pub update: bool,
    /// How long to wait for the shape to settle, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub settle_timeout: u64,
}

/// Why `lgtm-check shape` could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum ShapeCommandError {
    /// None of `--loki`, `--tempo`, `--prometheus` was given: there is nothing to read.
    #[error("give at least one of --loki, --tempo, --prometheus")]
    NoBackend,
    /// `--from` is not before `--to`, is negative, or either is not a finite number.
    #[error("--from ({from}) must be before --to ({to}), both Unix seconds")]
    Window {
        /// `--from`, Unix seconds.
        from: f64,
        /// `--to`, Unix seconds.
        to: f64,
    },
    /// The shape could not be read from the backends, or nothing arrived.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// The snapshot file could not be read, parsed or written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The shape or the comparison could not be written to the output (stdout).
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

impl ShapeCommandError {
    /// The exit code: nothing arrived is "nothing verified", the rest "could not run".
    pub fn exit_code(&self) -> i32 {
        match self {
            ShapeCommandError::Collect(CollectError::NothingArrived { .. })
            | ShapeCommandError::Snapshot(SnapshotError::Empty { .. }) => exit::NOTHING_VERIFIED,
            _ => exit::HARNESS_ERROR,
        }
    }
}

fn endpoint(c: Component, url: &str, tenant: &Option<String>) -> Endpoint {
    Endpoint {
        tenant: tenant.clone(),
        ..Endpoint::new(c, url)
    }
}

/// Collects the run's shape and prints it, or compares it with `--snapshot` (mode
/// `mode`, or update with `--update`), writing the outcome to `out`. Returns the
/// exit code: 0 printed, matched or written; 1 the shape differs.
pub async fn run(
    args: &ShapeArgs,
    mode: UpdateMode,
    out: &mut impl Write,
) -> Result<i32, ShapeCommandError> {
    if args.loki.is_none() && args.tempo.is_none() && args.prometheus.is_none() {
        return Err(ShapeCommandError::NoBackend);
    }
    let ordered = args.from.is_finite() && args.to.is_finite() && args.from < args.to;
    if !ordered || args.from < 0.0 {
        return Err(ShapeCommandError::Window {
            from: args.from,
            to: args.to,
        });
    }
    let window = Window {
        start_unix_ms: (args.from * 1000.0) as u64,
        end_unix_ms: (args.to * 1000.0).ceil() as u64,
    };
    let http = reqwest::Client::new();
    let loki = args
        .loki
        .as_ref()
        .map(|u| LokiClient::new(http.clone(), endpoint(Component::Loki, u, &args.tenant)));
    let tempo = args
        .tempo
        .as_ref()
        .map(|u| TempoClient::new(http.clone(), endpoint(Component::Tempo, u, &args.tenant)));
    let prometheus = args.prometheus.as_ref().map(|u| {
        PromClient::with_endpoint(
            http.clone(),
            endpoint(Component::Prometheus, u, &args.tenant),
        )
    });
    let sources = ShapeSources {
        loki: loki.as_ref(),
        tempo: tempo.as_ref(),
        metrics: prometheus.as_ref(),
    };
    let shape = collect_settled(
        sources,
        &args.run_id,
        window,
        Duration::from_secs(args.settle_timeout),
    )
    .await?;
    let Some(path) = &args.snapshot else {
        out.write_all(shape.render().as_bytes())?;
        return Ok(exit::OK);
    };
    let mode = if args.update {
        UpdateMode::Update
    } else {
        mode
    };
    let outcome = check_snapshot(path, &shape, mode)?;
    writeln!(out, "{}", outcome.message_for_cli("shape"))?;
    Ok(if outcome.passed() {
        exit::OK
    } else {
        exit::CHECKS_FAILED
    })
}
