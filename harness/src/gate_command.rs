//! `lgtm-check gate`: the catalog on the baseline's images, then on the candidate's
//! (one stack at a time, each through [`runner::run`]), compared by the pure
//! [`crate::core::gate::compare`].
//!
//! The sides come from the `[gate]` table of `lgtm-check.toml` (or `--config PATH`),
//! then the flags ([`plan`]).
//!
//! Main items: [`GateArgs`] (the flags), [`plan`], [`run`], [`GateRun`].

use std::path::{Path, PathBuf};

use crate::core::event::Event;
use crate::core::gate::{GateError, GateFileLayer, GatePlan, GateReport, RawGate, compare};
use crate::core::plan::Env;
use crate::core::report::Report;
use crate::core::target::{CONFIG_FILE, ConfigFile, TargetError};
use crate::runner::{self, RunError};
use crate::stack::StackError;

/// The flags of `lgtm-check gate`.
#[derive(clap::Args, Debug, Clone)]
pub struct GateArgs {
    /// The images to upgrade from: COMPONENT=IMAGE[,COMPONENT=IMAGE…], e.g.
    /// loki=grafana/loki:3.2.0,tempo=grafana/tempo:2.6.0. Components named on neither
    /// side keep their default (or `LGTM_CHECK_IMAGE_<COMPONENT>`) image on both.
    /// Repeatable; a component named here replaces its entry in the file's `[gate]`.
    #[arg(long, value_name = "COMPONENT=IMAGE,…")]
    pub baseline: Vec<String>,
    /// The images to upgrade to, as --baseline.
    #[arg(long, value_name = "COMPONENT=IMAGE,…")]
    pub candidate: Vec<String>,
    /// A configuration file for a component on the baseline side, instead of the
    /// fixture: COMPONENT=PATH. Repeatable.
    #[arg(long, value_name = "COMPONENT=PATH")]
    pub baseline_config: Vec<String>,
    /// A configuration file for a component on the candidate side (beside the
    /// candidate's image): COMPONENT=PATH. Repeatable.
    #[arg(long, value_name = "COMPONENT=PATH")]
    pub candidate_config: Vec<String>,
    /// Also write the gate's report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write JUnit XML to this file: both runs (suites `baseline.*`,
    /// `candidate.*`) and a suite `gate` with the verdict of each check.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// The settings file whose `[gate]` table gives the sides [default:
    /// ./lgtm-check.toml when it exists].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where the scenario binaries are (default: beside this executable).
    #[arg(long, value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
    /// How long each check waits for its data to become visible, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub check_timeout: u64,
    /// Use this run id (the sides run as ID-b and ID-c).
    #[arg(long)]
    pub run_id: Option<String>,
}

impl From<GateArgs> for RawGate {
    /// The flags alone (no file layer: [`plan`] reads it).
    fn from(a: GateArgs) -> Self {
        RawGate {
            baseline: a.baseline,
            candidate: a.candidate,
            baseline_configs: a.baseline_config,
            candidate_configs: a.candidate_config,
            json: a.json,
            junit: a.junit,
            scenario_dir: a.scenario_dir,
            check_timeout_secs: a.check_timeout,
            run_id: a.run_id,
            file: None,
        }
    }
}

/// The `[gate]` table of `config` (a path given with `--config`, which must exist),
/// else of `./lgtm-check.toml` when it exists; `None` when there is no file.
pub fn read_file(config: Option<&Path>) -> Result<Option<GateFileLayer>, TargetError> {
    let path = match config {
        Some(p) => p.to_path_buf(),
        None => match Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.is_file()) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| TargetError::File {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let file = ConfigFile::parse(&shown, &text)?;
    Ok(Some(GateFileLayer {
        path,
        gate: file.gate,
    }))
}

/// The validated gate: the settings file's `[gate]` table, then the flags, with the
/// environment's `LGTM_CHECK_IMAGE_*` for the components neither side names.
pub fn plan(args: GateArgs, env: &Env, fresh_run_id: String) -> Result<GatePlan, GateError> {
    let file = read_file(args.config.as_deref())?;
    let raw = RawGate {
        file,
        ..args.into()
    };
    GatePlan::build(raw, env, fresh_run_id)
}

/// Both runs of a gate and their comparison.
#[derive(Debug, Clone)]
pub struct GateRun {
    /// The baseline side's own run report (run id `<gate id>-b`).
    pub baseline: Report,
    /// The candidate side's own run report (run id `<gate id>-c`).
    pub candidate: Report,
    /// The two runs compared: the gate's verdict and exit code.
    pub report: GateReport,
}

/// Which side of the gate a progress event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The run on the images and configuration files upgraded from.
    Baseline,
    /// The run on the images and configuration files upgraded to.
    Candidate,
}

impl Side {
    /// `baseline` or `candidate`, as the progress lines name the side.
    ///
    /// ```
    /// use lgtm_check::gate_command::Side;
    /// assert_eq!(Side::Candidate.name(), "candidate");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Candidate => "candidate",
        }
    }
}

/// Runs both sides, one after the other, and compares them. Every configuration
/// file is read before the baseline starts, so a wrong path stops the gate at once.
pub async fn run(
    plan: &GatePlan,
    on_side: &(dyn Fn(Side) + Sync),
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<GateRun, RunError> {
    for side in [&plan.baseline, &plan.candidate] {
        for (c, path) in &side.config_files {
            if let Err(source) = std::fs::metadata(path).and_then(|m| {
                if m.is_file() {
                    Ok(())
                } else {
                    Err(std::io::Error::other("not a file"))
                }
            }) {
                return Err(StackError::ConfigFile {
                    component: *c,
                    path: path.clone(),
                    source,
                }
                .into());
            }
        }
    }
    on_side(Side::Baseline);
    let baseline = runner::run(&plan.baseline, on_event).await?;
    on_side(Side::Candidate);
    let candidate = runner::run(&plan.candidate, on_event).await?;
    let report = compare(
        &baseline,
        &candidate,
        &plan.gated(),
        (&plan.baseline.config_files, &plan.candidate.config_files),
    );
    Ok(GateRun {
        baseline,
        candidate,
        report,
    })
}
