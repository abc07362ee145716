//! The `sampling` scenario: many root traces under a ratio sampler (the guide's
//! production setting, `TraceIdRatioBased(0.01)` under `ParentBased`), so a check can
//! see that exactly the sampled traces arrived and none of the others.
//!
//! Each of the `traces` roots is an internal span `job` (attribute `job.index`) with
//! one child `step`, and one log line `job done` (field `job_index`) inside the root,
//! so log lines of unsampled traces carry trace ids Tempo will not know. The manifest
//! lists exactly the exported traces, `roots_started` = `traces`, and
//! `unsampled_trace_ids` the others.
//!
//! Main items: [`Options`], [`run`], [`DEFAULT_RATIO`].

use std::path::PathBuf;

use crate::cli::{self, announce};
use crate::manifest::Manifest;
use crate::telemetry::{self, TelemetryConfig};

/// The guide's production sampling ratio.
pub const DEFAULT_RATIO: f64 = 0.01;

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where logs and spans go, and the sampler (the guide's ratio unless
    /// `--sampler-ratio` or `OTEL_TRACES_SAMPLER` say otherwise).
    pub telemetry: TelemetryConfig,
    /// Where to write the manifest (JSON).
    pub manifest: PathBuf,
    /// How many root traces to start, sampled or not.
    pub traces: u32,
}

/// Starts `traces` root traces, flushes, and writes the manifest with the sampled
/// traces and the ids of the unsampled ones. Fails when telemetry cannot start or
/// flush, when the sampler saw another number of roots than were started, or when
/// the manifest cannot be written.
pub async fn run(opts: Options) -> anyhow::Result<Manifest> {
    let guard = telemetry::init(opts.telemetry.clone())?;
    let started_at = cli::unix_ms();
    announce(serde_json::json!({ "event": "started", "traces": opts.traces }));
    for i in 0..opts.traces {
        let root = tracing::info_span!("job", otel.kind = "internal", job.index = i64::from(i));
        let _root = root.enter();
        tracing::info_span!("step", otel.kind = "internal").in_scope(|| {});
        crate::log!(tracing::Level::INFO, job_index = i, "job done");
    }
    let mut undelivered = cli::Undelivered::default();
    let recorded = cli::flush_and_announce(guard, &mut undelivered).await;
    anyhow::ensure!(
        recorded.traces.roots_started == u64::from(opts.traces),
        "started {} roots, the sampler saw {}",
        opts.traces,
        recorded.traces.roots_started
    );
    let manifest = cli::manifest("sampling", &opts.telemetry, started_at, recorded);
    cli::write_manifest(
        &manifest,
        &opts.manifest,
        serde_json::json!({
            "sampled": manifest.traces.traces.len(),
            "unsampled": manifest.traces.unsampled_trace_ids.len()
        }),
    )?;
    undelivered.into_result()?;
    Ok(manifest)
}
