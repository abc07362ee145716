//! The upgrade gate: the catalog run once on the baseline's images and once on the
//! candidate's, compared check by check, component by component and signal by
//! signal. Plain data and pure functions: the `gate` command runs the two sides
//! ([`crate::gate_command`]), the reporters render the [`GateReport`].
//!
//! Main items: [`GatePlan`] (the validated flags: two [`RunPlan`]s), [`compare`],
//! [`GateReport`] (with [`GATE_SCHEMA_VERSION`] and [`GateReport::exit_code`]),
//! [`Change`] (what happened to one check).
//!
//! The gate fails (exit 1) on a check that passed on the baseline and fails on the
//! candidate ([`Change::Regressed`]), on a check that fails on the candidate where it
//! could not run on the baseline ([`Change::FailingFromSkip`], [`Change::OnlyCandidate`]
//! failing), and on a component that does not start on the candidate (its own log
//! line is in the report). It verified nothing (exit 3) when a component whose image
//! or configuration differs did not run on one side (a missing image), or when no
//! check passed on both sides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::check::Signal;
use super::component::{Component, ImageRef};
use super::plan::{Env, PlanError, RawRun, RunPlan};
use super::report::{CheckReport, CheckStatus, ComponentReport, ComponentStatus, Report, exit};
pub use super::target::GateFile;

/// Version of the gate's JSON report.
pub const GATE_SCHEMA_VERSION: u32 = 2;

/// The `[gate]` table of one settings file, with the path it was read from (for
/// errors, and as the directory its relative config paths start from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateFileLayer {
    /// The file as the user named it (`lgtm-check.toml`, `ci/lgtm-check.toml`).
    pub path: PathBuf,
    /// The table as parsed; its config paths are still relative to `path`'s directory.
    pub gate: GateFile,
}

/// What the `gate` command was asked, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawGate {
    /// `--baseline` values, each `component=image[,component=image…]`.
    pub baseline: Vec<String>,
    /// `--candidate` values, as `baseline`.
    pub candidate: Vec<String>,
    /// `--baseline-config component=PATH` values.
    pub baseline_configs: Vec<String>,
    /// `--candidate-config component=PATH` values.
    pub candidate_configs: Vec<String>,
    /// `--json PATH`: where to write the [`GateReport`] as JSON.
    pub json: Option<PathBuf>,
    /// `--junit PATH`: where to write both runs and the gate's verdict as JUnit XML.
    pub junit: Option<PathBuf>,
    /// `--scenario-dir`: where the scenario binaries are (`None`: beside the
    /// executable).
    pub scenario_dir: Option<PathBuf>,
    /// `--check-timeout`: how long each check waits for its data to become visible,
    /// in seconds, on both sides.
    pub check_timeout_secs: u64,
    /// The gate's run id; the sides run as `<id>-b` and `<id>-c`.
    pub run_id: Option<String>,
    /// The `[gate]` table of the settings file, if one was read: the layer under
    /// the flags.
    pub file: Option<GateFileLayer>,
    /// `--path` values: `component=image` items, the first of each component the
    /// baseline, every later one a step (instead of `--baseline`/`--candidate`).
    pub path: Vec<String>,
    /// The seed of the workload both sides ingest (`--seed`).
    pub seed: u64,
    /// `--strict`: a generated query or a named change's probe that changes answer
    /// fails the gate too.
    pub strict: bool,
    /// `--no-corpus`: compare the catalog only.
    pub no_corpus: bool,
    /// How many sides run at once (`--sides-at-once`, at least 1).
    pub sides_at_once: usize,
}

/// Flags that cannot make a gate.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GateError {
    /// An item of a side's flag is not `COMPONENT=VALUE` (no `=`, or nothing after it).
    #[error("--{flag} `{value}`: expected COMPONENT={what}[,COMPONENT={what}…]")]
    Syntax {
        /// The flag without its dashes (`candidate`, `baseline-config`).
        flag: &'static str,
        /// The item as given.
        value: String,
        /// What belongs after the `=`: `IMAGE` or `PATH`.
        what: &'static str,
    },
    /// An item of a side's flag names an unknown component, or an image reference
    /// that does not parse.
    #[error("--{flag} `{value}`: {reason}")]
    Value {
        /// The flag without its dashes.
        flag: &'static str,
        /// The item as given (`component=value`).
        value: String,
        /// Why the component or the image was refused.
        reason: String,
    },
    /// One flag names the same component twice, counting all its repeated values.
    #[error("--{flag} names {component} twice")]
    Duplicate {
        /// The flag without its dashes.
        flag: &'static str,
        /// The component named twice.
        component: Component,
    },
    /// An entry of the settings file's `[gate]` table is not an image reference
    /// (`baseline`, `candidate`) or is an empty path (`*-config`).
    #[error("{path}: [gate] {key}.{component} = `{value}`: {reason}")]
    File {
        /// The settings file as the user named it.
        path: String,
        /// The table's key (`baseline`, `candidate-config`, …).
        key: &'static str,
        /// The component the entry is for.
        component: Component,
        /// The entry's value.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Neither the flags nor the file give the candidate an image or a
    /// configuration: both sides would run the same stack.
    #[error(
        "nothing to gate: give the candidate's images (--candidate loki=grafana/loki:3.4.6,…) or configs (--candidate-config loki=PATH), or `candidate` in the [gate] table of lgtm-check.toml"
    )]
    NoCandidate,
    /// `--path` names no release after the baseline.
    #[error(
        "--path needs a step after the baseline: e.g. --path tempo=grafana/tempo:2.6.0,tempo=grafana/tempo:2.7.2"
    )]
    ShortPath,
    /// `--path` together with `--baseline` or `--candidate`.
    #[error("--path gives the baseline and the candidate: leave out --baseline and --candidate")]
    PathAndSides,
    /// A `--queries` file could not be read.
    #[error("--queries {path}: {message}")]
    ReadQueries {
        /// The file as named.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// A `--queries` file holds something the gate cannot ask.
    #[error(transparent)]
    Queries(#[from] super::user_queries::UserQueryError),
    /// The accepted file could not be read or parsed.
    #[error("{path}: {message}")]
    Accepted {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The settings file could not be read or parsed.
    #[error(transparent)]
    Config(#[from] super::target::TargetError),
    /// A side's run could not be planned, e.g. an `LGTM_CHECK_IMAGE_<COMPONENT>`
    /// value that is not an image reference.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// A validated gate: the plan of each side. Components the flags do not name keep
/// their default (or `LGTM_CHECK_IMAGE_<COMPONENT>`) image on both sides.
#[derive(Debug, Clone)]
pub struct GatePlan {
    /// The gate's run id (`--run-id`, `LGTM_CHECK_RUN_ID` or a fresh one); the sides
    /// run, and name their containers, as `<run_id>-b` and `<run_id>-c`.
    pub run_id: String,
    /// The run on the baseline's images and configuration files.
    pub baseline: RunPlan,
    /// The run on the candidate's images and configuration files.
    pub candidate: RunPlan,
    /// Where to write the [`GateReport`] as JSON (`--json`).
    pub json: Option<PathBuf>,
    /// Where to write both runs and the verdict as JUnit XML (`--junit`).
    pub junit: Option<PathBuf>,
    /// With `--path`, the sides between the baseline and the candidate, in order:
    /// each step's label (`tempo=grafana/tempo:2.7.2`) and run.
    pub between: Vec<(String, RunPlan)>,
    /// The label of the candidate's step with `--path` (`None`: `candidate`).
    pub candidate_label: Option<String>,
    /// The workload's seed.
    pub seed: u64,
    /// Whether generated and named-change differences fail the gate.
    pub strict: bool,
    /// Whether the query corpus is asked (off with `--no-corpus`).
    pub corpus: bool,
    /// How many sides run at once.
    pub sides_at_once: usize,
}

/// Gives `side` the baseline's config file of every component it has none for: an
/// upgrade is checked with the configuration the user runs today.
fn inherit_configs(baseline: &RunPlan, side: &mut RunPlan) {
    for (c, path) in &baseline.config_files {
        side.config_files.entry(*c).or_insert_with(|| path.clone());
    }
}

/// The steps of a `--path`: the baseline's images, then each step's label and the
/// images after it (one component changed per step).
///
/// ```
/// use lgtm_check::core::gate::path_steps;
/// let (base, steps) = path_steps(&[
///     "loki=grafana/loki:3.2.0,tempo=grafana/tempo:2.6.0".into(),
///     "tempo=grafana/tempo:2.7.2,tempo=grafana/tempo:2.10.0".into(),
/// ]).unwrap();
/// assert_eq!(base.len(), 2);
/// assert_eq!(steps.len(), 2);
/// assert_eq!(steps[0].0, "tempo=grafana/tempo:2.7.2");
/// assert!(steps[1].1.contains(&"tempo=grafana/tempo:2.10.0".to_string()));
/// ```
#[allow(clippy::type_complexity)]
pub fn path_steps(
    values: &[String],
) -> Result<(Vec<String>, Vec<(String, Vec<String>)>), GateError> {
    let mut current: BTreeMap<Component, String> = BTreeMap::new();
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for item in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (c, image) = item
            .split_once('=')
            .filter(|(_, v)| !v.trim().is_empty())
            .ok_or_else(|| GateError::Syntax {
                flag: "path",
                value: item.into(),
                what: "IMAGE",
            })?;
        let component: Component = c.trim().parse().map_err(|reason| GateError::Value {
            flag: "path",
            value: item.into(),
            reason,
        })?;
        image
            .trim()
            .parse::<ImageRef>()
            .map_err(|reason| GateError::Value {
                flag: "path",
                value: item.into(),
                reason,
            })?;
        let seen = current.insert(component, image.trim().to_owned()).is_some();
        if seen || !steps.is_empty() {
            let images = current.iter().map(|(c, i)| format!("{c}={i}")).collect();
            steps.push((format!("{component}={}", image.trim()), images));
        }
    }
    if steps.is_empty() {
        return Err(GateError::ShortPath);
    }
    // The baseline: each component's first image.
    let mut first: BTreeMap<Component, String> = BTreeMap::new();
    for item in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if let Some((c, i)) = item.split_once('=')
            && let Ok(c) = c.trim().parse::<Component>()
        {
            first.entry(c).or_insert_with(|| i.trim().to_owned());
        }
    }
    Ok((
        first.iter().map(|(c, i)| format!("{c}={i}")).collect(),
        steps,
    ))
}

/// `component=value` pairs from `values` (each comma-separated), each component once.
fn pairs(
    flag: &'static str,
    what: &'static str,
    values: &[String],
) -> Result<Vec<(Component, String)>, GateError> {
    let mut out: Vec<(Component, String)> = Vec::new();
    for item in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (c, v) = item
            .split_once('=')
            .filter(|(_, v)| !v.trim().is_empty())
            .ok_or_else(|| GateError::Syntax {
                flag,
                value: item.into(),
                what,
            })?;
        let component: Component = c.parse().map_err(|reason| GateError::Value {
            flag,
            value: item.into(),
            reason,
        })?;
        if out.iter().any(|(seen, _)| *seen == component) {
            return Err(GateError::Duplicate { flag, component });
        }
        out.push((component, v.trim().to_owned()));
    }
    Ok(out)
}

impl GatePlan {
    /// Validates `raw` against `env`; `fresh_run_id` is used when no run id was given.
    ///
    /// Layers per side and component: the file's `[gate]` entry, then the flag (a
    /// flag naming a component replaces the file's entry for it, the others stay).
    /// `LGTM_CHECK_IMAGE_<COMPONENT>` is not a side: it gives the image of the
    /// components a side does not name, on both sides alike.
    ///
    /// ```
    /// use lgtm_check::core::component::Component;
    /// use lgtm_check::core::gate::{GatePlan, RawGate};
    /// use lgtm_check::core::plan::Env;
    ///
    /// let raw = RawGate {
    ///     baseline: vec!["loki=grafana/loki:3.2.0".into()],
    ///     candidate: vec!["loki=grafana/loki:3.4.6".into()],
    ///     check_timeout_secs: 60,
    ///     ..RawGate::default()
    /// };
    /// let plan = GatePlan::build(raw, &Env::from_pairs([]), "r1".into()).unwrap();
    /// assert_eq!(plan.run_id, "r1");
    /// assert_eq!(plan.candidate.run_id, "r1-c");
    /// assert_eq!(plan.candidate.image(Component::Loki).to_string(), "grafana/loki:3.4.6");
    /// // Only Loki differs, so only Loki is gated.
    /// assert_eq!(plan.gated().into_iter().collect::<Vec<_>>(), [Component::Loki]);
    /// ```
    pub fn build(raw: RawGate, env: &Env, fresh_run_id: String) -> Result<Self, GateError> {
        let empty = GateFile::default();
        let (file_path, file) = match &raw.file {
            Some(l) => (l.path.clone(), &l.gate),
            None => (PathBuf::new(), &empty),
        };
        let shown = file_path.display().to_string();
        // Relative config paths in the file start from the file's directory.
        let file_dir = file_path.parent().map(PathBuf::from).unwrap_or_default();
        let file_error = |key: &'static str, component: Component, value: &str, reason: String| {
            GateError::File {
                path: shown.clone(),
                key,
                component,
                value: value.to_owned(),
                reason,
            }
        };
        let file_images = |key: &'static str,
                           m: &BTreeMap<Component, String>|
         -> Result<BTreeMap<Component, String>, GateError> {
            m.iter()
                .map(|(c, image)| {
                    image
                        .parse::<ImageRef>()
                        .map(|i| (*c, i.to_string()))
                        .map_err(|reason| file_error(key, *c, image, reason))
                })
                .collect()
        };
        let file_configs = |key: &'static str,
                            m: &BTreeMap<Component, String>|
         -> Result<BTreeMap<Component, PathBuf>, GateError> {
            m.iter()
                .map(|(c, path)| {
                    if path.trim().is_empty() {
                        return Err(file_error(key, *c, path, "an empty path".into()));
                    }
                    Ok((*c, file_dir.join(path.trim())))
                })
                .collect()
        };
        let side = |flag: &'static str,
                    cflag: &'static str,
                    images: &[String],
                    configs: &[String],
                    mut file_images: BTreeMap<Component, String>,
                    mut file_configs: BTreeMap<Component, PathBuf>,
                    suffix: &str|
         -> Result<RunPlan, GateError> {
            for (c, image) in pairs(flag, "IMAGE", images)? {
                image
                    .parse::<ImageRef>()
                    .map_err(|reason| GateError::Value {
                        flag,
                        value: format!("{c}={image}"),
                        reason,
                    })?;
                file_images.insert(c, image);
            }
            for (c, path) in pairs(cflag, "PATH", configs)? {
                file_configs.insert(c, PathBuf::from(path));
            }
            let run_id = raw
                .run_id
                .clone()
                .or_else(|| env.get("LGTM_CHECK_RUN_ID").map(str::to_owned))
                .unwrap_or_else(|| fresh_run_id.clone());
            let mut plan = RunPlan::build(
                RawRun {
                    images: file_images
                        .iter()
                        .map(|(c, i)| format!("{c}={i}"))
                        .collect(),
                    json: None,
                    scenario_dir: raw.scenario_dir.clone(),
                    check_timeout_secs: raw.check_timeout_secs,
                    run_id: Some(format!("{run_id}-{suffix}")),
                    ..RawRun::default()
                },
                // The gate's own faults and run id come from its flags, not from
                // variables meant for a single run.
                &env.clone()
                    .only(|k| k != "LGTM_CHECK_FAULTS" && k != "LGTM_CHECK_RUN_ID"),
                fresh_run_id.clone(),
            )?;
            plan.config_files = file_configs;
            Ok(plan)
        };
        if !raw.path.is_empty() {
            if !raw.baseline.is_empty() || !raw.candidate.is_empty() {
                return Err(GateError::PathAndSides);
            }
            let (base, steps) = path_steps(&raw.path)?;
            let baseline = side(
                "path",
                "baseline-config",
                &base,
                &raw.baseline_configs,
                BTreeMap::new(),
                file_configs("baseline-config", &file.baseline_config)?,
                "b",
            )?;
            let mut plans = Vec::new();
            let last = steps.len() - 1;
            for (i, (label, images)) in steps.into_iter().enumerate() {
                let suffix = if i == last {
                    "c".to_owned()
                } else {
                    format!("p{}", i + 1)
                };
                let configs = if i == last {
                    &raw.candidate_configs
                } else {
                    &raw.baseline_configs
                };
                plans.push((
                    label,
                    side(
                        "path",
                        "candidate-config",
                        &images,
                        configs,
                        BTreeMap::new(),
                        BTreeMap::new(),
                        &suffix,
                    )?,
                ));
            }
            for (_, p) in &mut plans {
                inherit_configs(&baseline, p);
            }
            let (candidate_label, candidate) = plans.pop().expect("at least one step");
            let run_id = baseline
                .run_id
                .strip_suffix("-b")
                .unwrap_or(&baseline.run_id)
                .to_owned();
            return Ok(GatePlan {
                run_id,
                baseline,
                candidate,
                json: raw.json,
                junit: raw.junit,
                between: plans,
                candidate_label: Some(candidate_label),
                seed: raw.seed,
                strict: raw.strict,
                corpus: !raw.no_corpus,
                sides_at_once: raw.sides_at_once.max(1),
            });
        }
        let baseline = side(
            "baseline",
            "baseline-config",
            &raw.baseline,
            &raw.baseline_configs,
            file_images("baseline", &file.baseline)?,
            file_configs("baseline-config", &file.baseline_config)?,
            "b",
        )?;
        let mut candidate = side(
            "candidate",
            "candidate-config",
            &raw.candidate,
            &raw.candidate_configs,
            file_images("candidate", &file.candidate)?,
            file_configs("candidate-config", &file.candidate_config)?,
            "c",
        )?;
        // The baseline's configs start on the candidate, unless it names its own.
        inherit_configs(&baseline, &mut candidate);
        if raw.candidate.is_empty()
            && raw.candidate_configs.is_empty()
            && file.candidate.is_empty()
            && file.candidate_config.is_empty()
        {
            return Err(GateError::NoCandidate);
        }
        let run_id = baseline
            .run_id
            .strip_suffix("-b")
            .unwrap_or(&baseline.run_id)
            .to_owned();
        Ok(GatePlan {
            run_id,
            baseline,
            candidate,
            json: raw.json,
            junit: raw.junit,
            between: Vec::new(),
            candidate_label: None,
            seed: raw.seed,
            strict: raw.strict,
            corpus: !raw.no_corpus,
            sides_at_once: raw.sides_at_once.max(1),
        })
    }

    /// The components whose image or configuration differs between the sides: the
    /// ones the gate is about.
    pub fn gated(&self) -> BTreeSet<Component> {
        Component::ALL
            .into_iter()
            .filter(|c| {
                self.baseline.image(*c) != self.candidate.image(*c)
                    || self.baseline.config_files.get(c) != self.candidate.config_files.get(c)
            })
            .collect()
    }
}

/// What happened to one check between the baseline and the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Passed on the baseline, fails on the candidate.
    Regressed,
    /// Could not run on the baseline (skipped), fails on the candidate.
    FailingFromSkip,
    /// Failed on the baseline, passes on the candidate.
    Fixed,
    /// Ran (passed or failed) on the baseline, skipped on the candidate.
    NewlySkipped,
    /// Skipped on the baseline, passes on the candidate.
    PassingFromSkip,
    /// The check exists only in the candidate's run.
    OnlyCandidate,
    /// The check exists only in the baseline's run.
    OnlyBaseline,
    /// The same status on both sides (pass/pass, fail/fail, skip/skip).
    Unchanged,
}

impl Change {
    /// The change between two statuses (`None`: the check is not in that run).
    ///
    /// ```
    /// use lgtm_check::core::gate::Change;
    /// use lgtm_check::core::report::CheckStatus::{Fail, Pass, Skip};
    ///
    /// assert_eq!(Change::between(Some(Pass), Some(Fail)), Change::Regressed);
    /// assert_eq!(Change::between(Some(Skip), Some(Fail)), Change::FailingFromSkip);
    /// assert_eq!(Change::between(None, Some(Pass)), Change::OnlyCandidate);
    /// ```
    pub fn between(baseline: Option<CheckStatus>, candidate: Option<CheckStatus>) -> Change {
        use CheckStatus::*;
        match (baseline, candidate) {
            (None, _) => Change::OnlyCandidate,
            (_, None) => Change::OnlyBaseline,
            (Some(b), Some(c)) if b == c => Change::Unchanged,
            (Some(Pass), Some(Fail)) => Change::Regressed,
            (Some(Fail), Some(Pass)) => Change::Fixed,
            (Some(_), Some(Skip)) => Change::NewlySkipped,
            (Some(Skip), Some(Pass)) => Change::PassingFromSkip,
            (Some(Skip), Some(Fail)) => Change::FailingFromSkip,
            (Some(_), Some(_)) => unreachable!("every pair of statuses is matched above"),
        }
    }

    /// The word the terminal report shows.
    pub fn word(self) -> &'static str {
        match self {
            Change::Regressed => "REGRESSED",
            Change::FailingFromSkip => "FAILING (was skipped)",
            Change::Fixed => "fixed",
            Change::NewlySkipped => "newly skipped",
            Change::PassingFromSkip => "passing (was skipped)",
            Change::OnlyCandidate => "only on the candidate",
            Change::OnlyBaseline => "only on the baseline",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One side's answer to one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    /// Passed, failed or skipped on this side.
    pub status: CheckStatus,
    /// What the backend answered, or why it was skipped.
    pub reason: String,
    /// The query the check sent, with its pinned time or window.
    pub query: String,
    /// Milliseconds from the moment the scenario had emitted to the first matching
    /// answer; `None` when none came (or the check reads configuration).
    pub time_to_visible_ms: Option<u64>,
}

impl From<&CheckReport> for CheckOutcome {
    fn from(c: &CheckReport) -> Self {
        CheckOutcome {
            status: c.status,
            reason: c.reason.clone(),
            query: c.query.clone(),
            time_to_visible_ms: c.time_to_visible_ms,
        }
    }
}

/// One check on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckDiff {
    /// The check's catalog id (`grafana.derived_field.trace_id`): the sides' checks
    /// are matched on it.
    pub id: String,
    /// The check's title, from the baseline's run (the candidate's when only it has
    /// the check).
    pub title: String,
    /// The telemetry the check reads.
    pub signal: Signal,
    /// The component whose answer the check judges.
    pub component: Component,
    /// What happened between the sides; [`CheckDiff::fails_gate`] reads it.
    pub change: Change,
    /// The baseline's outcome; `None` when the check is only in the candidate's run.
    pub baseline: Option<CheckOutcome>,
    /// The candidate's outcome; `None` when the check is only in the baseline's run.
    pub candidate: Option<CheckOutcome>,
}

impl CheckDiff {
    /// Whether this check fails the gate: it fails on the candidate and did not fail
    /// on the baseline.
    pub fn fails_gate(&self) -> bool {
        match self.change {
            Change::Regressed | Change::FailingFromSkip => true,
            Change::OnlyCandidate => self
                .candidate
                .as_ref()
                .is_some_and(|c| c.status == CheckStatus::Fail),
            _ => false,
        }
    }
}

/// One side of a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentSide {
    /// The image that ran on this side (or was asked for, when skipped).
    pub image: String,
    /// Ready; skipped (its image is not available); or failed (it did not start).
    pub status: ComponentStatus,
    /// What the component reports about itself (build info), not the tag.
    pub version: Option<String>,
    /// Milliseconds from container start to its first ready answer; `None` when it
    /// did not become ready.
    pub ready_ms: Option<u64>,
    /// Set when another program filled this role (Mimir's: `cortex`, `prometheus`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<String>,
    /// Why it is not ready; for a component that exited, its own log line.
    pub reason: Option<String>,
    /// The configuration file given for this side (`--*-config`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

impl ComponentSide {
    fn of(c: &ComponentReport, config: Option<String>) -> Self {
        ComponentSide {
            image: c.image.clone(),
            status: c.status,
            version: c.version.clone(),
            ready_ms: c.ready_ms,
            stand_in: c.stand_in.clone(),
            reason: c.reason.clone(),
            config,
        }
    }
}

/// One component on both sides, with the ratio of their times to ready
/// (candidate / baseline).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentDiff {
    /// The component.
    pub name: Component,
    /// Its image or configuration differs between the sides.
    pub gated: bool,
    /// The component on the baseline; `None` when that run did not include it.
    pub baseline: Option<ComponentSide>,
    /// The component on the candidate; `None` when that run did not include it.
    pub candidate: Option<ComponentSide>,
    /// The candidate's time to ready divided by the baseline's, to two decimals
    /// (`1.25`: a quarter slower); `None` unless both sides became ready.
    pub ready_ratio: Option<f64>,
}

/// Time to visible of one signal on both sides: the earliest first matching answer
/// among the checks of that signal that passed on both sides (the same checks, run
/// in the same order on both sides), with the ratio candidate / baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalTiming {
    /// Metrics, logs or traces.
    pub signal: Signal,
    /// How many checks the figures are taken from.
    pub checks: usize,
    /// The baseline's earliest time to visible among those checks, in milliseconds;
    /// `None` when `checks` is 0.
    pub baseline_ms: Option<u64>,
    /// The candidate's earliest time to visible among the same checks, in
    /// milliseconds; `None` when `checks` is 0.
    pub candidate_ms: Option<u64>,
    /// `candidate_ms / baseline_ms` to two decimals (`0.8`: a fifth faster); `None`
    /// when a figure is missing or the baseline's is 0.
    pub ratio: Option<f64>,
}

/// What one side ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideSummary {
    /// That side's run id: the gate's id with `-b` or `-c`.
    pub run_id: String,
    /// How many of its checks passed, failed and were skipped.
    pub summary: super::report::Summary,
}

/// How many checks changed which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GateSummary {
    /// Checks with the same status on both sides ([`Change::Unchanged`]).
    pub unchanged: usize,
    /// Checks that passed on the baseline and fail on the candidate
    /// ([`Change::Regressed`]).
    pub regressed: usize,
    /// Checks skipped on the baseline that fail on the candidate
    /// ([`Change::FailingFromSkip`]).
    pub failing_from_skip: usize,
    /// Checks that failed on the baseline and pass on the candidate
    /// ([`Change::Fixed`]).
    pub fixed: usize,
    /// Checks that ran on the baseline and are skipped on the candidate
    /// ([`Change::NewlySkipped`]).
    pub newly_skipped: usize,
    /// Checks skipped on the baseline that pass on the candidate
    /// ([`Change::PassingFromSkip`]).
    pub passing_from_skip: usize,
    /// Checks only in the baseline's run ([`Change::OnlyBaseline`]).
    pub only_baseline: usize,
    /// Checks only in the candidate's run ([`Change::OnlyCandidate`]), whatever
    /// their status.
    pub only_candidate: usize,
}

/// The gate's verdict, as `--json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The layout of this JSON: [`GATE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The gate's run id (the sides' ids without their `-b` and `-c`).
    pub run_id: String,
    /// The baseline's run id and counts.
    pub baseline: SideSummary,
    /// The candidate's run id and counts.
    pub candidate: SideSummary,
    /// Every component on both sides, in report order.
    pub components: Vec<ComponentDiff>,
    /// Every check on both sides: the ones that fail the gate first, then the other
    /// changes, then the unchanged ones (each group in catalog order).
    pub checks: Vec<CheckDiff>,
    /// Time to visible of metrics, logs and traces on both sides.
    pub signals: Vec<SignalTiming>,
    /// How many checks changed which way.
    pub summary: GateSummary,
    /// Why the gate fails, beyond its listed checks (regressions are named here
    /// too, with the components that refused to start on the candidate).
    pub problems: Vec<String>,
    /// Set when the gate could not judge the upgrade: why, in one line.
    pub unverified: Option<String>,
    /// Every side's label in order (`baseline`, the `--path` steps, `candidate`).
    pub sides: Vec<String>,
    /// The query corpus on every side, compared; `None` with `--no-corpus`.
    pub corpus: Option<super::gate_corpus::CorpusReport>,
    /// The named upstream changes the upgrade crosses, and what the gate saw of each.
    pub named_changes: Vec<super::gate_corpus::NamedFinding>,
    /// Whether generated and named-change differences fail the gate (`--strict`).
    pub strict: bool,
    /// How many sides ran at once (2: side by side).
    pub sides_at_once: usize,
    /// The gate's wall time, in milliseconds.
    pub wall_ms: u64,
    /// Each gated component's configuration compared: defaults and refused keys.
    pub config: Vec<super::gate_corpus::ConfigCompat>,
}

impl GateReport {
    /// The checks that fail the gate.
    pub fn failing(&self) -> impl Iterator<Item = &CheckDiff> {
        self.checks.iter().filter(|c| c.fails_gate())
    }

    /// Adds the corpus and the named changes, and the problems they make: a user's
    /// query (or with `strict` any query) that changed answer and is not accepted, and
    /// a side that did not show the whole workload.
    pub fn with_corpus(
        mut self,
        corpus: super::gate_corpus::CorpusReport,
        named: Vec<super::gate_corpus::NamedFinding>,
        strict: bool,
    ) -> Self {
        for i in &corpus.incomplete {
            self.problems.push(format!(
                "{}: {} of the workload's {} {} visible{}",
                i.side,
                i.control.visible,
                i.control.expected,
                match i.language {
                    super::corpus::Language::LogQl => "log lines",
                    super::corpus::Language::TraceQl => "spans",
                    super::corpus::Language::PromQl => "samples",
                },
                i.control
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
        for d in corpus.failing(strict) {
            self.problems.push(format!(
                "{} query changed answer at {}: {}",
                d.query.language.name(),
                d.first_release,
                d.query.query
            ));
        }
        self.corpus = Some(corpus);
        self.named_changes = named;
        self.strict = strict;
        self
    }

    /// 1 on a regression or a component that failed on the candidate; 3 when the
    /// upgrade could not be judged; else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.problems.is_empty() {
            exit::CHECKS_FAILED
        } else if self.unverified.is_some() {
            exit::NOTHING_VERIFIED
        } else {
            exit::OK
        }
    }
}

fn ratio(baseline: Option<u64>, candidate: Option<u64>) -> Option<f64> {
    match (baseline, candidate) {
        (Some(b), Some(c)) if b > 0 => Some(((c as f64 / b as f64) * 100.0).round() / 100.0),
        _ => None,
    }
}

/// Compares the baseline's run with the candidate's. `gated`: the components whose
/// image or configuration differs ([`GatePlan::gated`]); `configs`: the config file
/// each side was given, by component, for the report.
pub fn compare(
    baseline: &Report,
    candidate: &Report,
    gated: &BTreeSet<Component>,
    configs: (&BTreeMap<Component, PathBuf>, &BTreeMap<Component, PathBuf>),
) -> GateReport {
    // Checks, in the baseline's order, then the candidate's new ones.
    let mut checks: Vec<CheckDiff> = Vec::new();
    for b in &baseline.checks {
        let c = candidate.checks.iter().find(|c| c.id == b.id);
        checks.push(CheckDiff {
            id: b.id.clone(),
            title: b.title.clone(),
            signal: b.signal,
            component: b.component,
            change: Change::between(Some(b.status), c.map(|c| c.status)),
            baseline: Some(b.into()),
            candidate: c.map(Into::into),
        });
    }
    for c in &candidate.checks {
        if !baseline.checks.iter().any(|b| b.id == c.id) {
            checks.push(CheckDiff {
                id: c.id.clone(),
                title: c.title.clone(),
                signal: c.signal,
                component: c.component,
                change: Change::OnlyCandidate,
                baseline: None,
                candidate: Some(c.into()),
            });
        }
    }
    let mut summary = GateSummary::default();
    for c in &checks {
        *match c.change {
            Change::Unchanged => &mut summary.unchanged,
            Change::Regressed => &mut summary.regressed,
            Change::FailingFromSkip => &mut summary.failing_from_skip,
            Change::Fixed => &mut summary.fixed,
            Change::NewlySkipped => &mut summary.newly_skipped,
            Change::PassingFromSkip => &mut summary.passing_from_skip,
            Change::OnlyBaseline => &mut summary.only_baseline,
            Change::OnlyCandidate => &mut summary.only_candidate,
        } += 1;
    }

    // Time to visible per signal, from the checks that passed on both sides.
    let signals = [Signal::Metrics, Signal::Logs, Signal::Traces]
        .into_iter()
        .map(|signal| {
            let both: Vec<(u64, u64)> = checks
                .iter()
                .filter(|c| c.signal == signal && c.change == Change::Unchanged)
                .filter_map(|c| {
                    let (b, k) = (c.baseline.as_ref()?, c.candidate.as_ref()?);
                    (b.status == CheckStatus::Pass)
                        .then_some((b.time_to_visible_ms?, k.time_to_visible_ms?))
                })
                .collect();
            let baseline_ms = both.iter().map(|(b, _)| *b).min();
            let candidate_ms = both.iter().map(|(_, c)| *c).min();
            SignalTiming {
                signal,
                checks: both.len(),
                baseline_ms,
                candidate_ms,
                ratio: ratio(baseline_ms, candidate_ms),
            }
        })
        .collect();

    // Components.
    let config =
        |m: &BTreeMap<Component, PathBuf>, c: Component| m.get(&c).map(|p| p.display().to_string());
    let components: Vec<ComponentDiff> = Component::ALL
        .into_iter()
        .filter_map(|name| {
            let b = baseline.components.iter().find(|c| c.name == name);
            let c = candidate.components.iter().find(|c| c.name == name);
            if b.is_none() && c.is_none() {
                return None;
            }
            Some(ComponentDiff {
                name,
                gated: gated.contains(&name),
                baseline: b.map(|b| ComponentSide::of(b, config(configs.0, name))),
                candidate: c.map(|c| ComponentSide::of(c, config(configs.1, name))),
                ready_ratio: ratio(b.and_then(|b| b.ready_ms), c.and_then(|c| c.ready_ms)),
            })
        })
        .collect();

    // Why the gate fails.
    let mut problems = Vec::new();
    for c in &components {
        if let Some(k) = &c.candidate
            && k.status == ComponentStatus::Failed
        {
            let was = match c.baseline.as_ref().map(|b| b.status) {
                Some(ComponentStatus::Failed) => " (it failed on the baseline too)",
                _ => "",
            };
            problems.push(format!(
                "{} did not start on the candidate{was}: {}",
                c.name,
                k.reason.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    let failing: Vec<&str> = checks
        .iter()
        .filter(|c| c.fails_gate())
        .map(|c| c.id.as_str())
        .collect();
    if !failing.is_empty() {
        problems.push(format!(
            "{} {} on the candidate: {}",
            failing.len(),
            if failing.len() == 1 {
                "check fails"
            } else {
                "checks fail"
            },
            failing.join(", ")
        ));
    }

    // Whether the upgrade could be judged at all.
    let mut not_run = Vec::new();
    for c in components.iter().filter(|c| c.gated) {
        for (side, s) in [("baseline", &c.baseline), ("candidate", &c.candidate)] {
            match s {
                Some(s) if s.status == ComponentStatus::Skipped => not_run.push(format!(
                    "{} did not run on the {side} (image {} is not available)",
                    c.name, s.image
                )),
                Some(s) if side == "baseline" && s.status == ComponentStatus::Failed => {
                    not_run.push(format!("{} did not start on the baseline", c.name))
                }
                None => not_run.push(format!("{} was not started on the {side}", c.name)),
                _ => {}
            }
        }
    }
    let passed_on_both = checks.iter().any(|c| {
        c.baseline.as_ref().map(|o| o.status) == Some(CheckStatus::Pass)
            && c.candidate.as_ref().map(|o| o.status) == Some(CheckStatus::Pass)
    });
    let unverified = if !not_run.is_empty() {
        Some(format!(
            "the upgrade was not verified: {}",
            not_run.join("; ")
        ))
    } else if !passed_on_both && failing.is_empty() {
        Some("the upgrade was not verified: no check passed on both sides".to_owned())
    } else {
        None
    };

    // Failing first, then other changes, then unchanged; stable within each group.
    checks.sort_by_key(|c| match c.change {
        _ if c.fails_gate() => 0,
        Change::Unchanged => 2,
        _ => 1,
    });
    GateReport {
        schema_version: GATE_SCHEMA_VERSION,
        run_id: baseline
            .run_id
            .strip_suffix("-b")
            .unwrap_or(&baseline.run_id)
            .to_owned(),
        baseline: SideSummary {
            run_id: baseline.run_id.clone(),
            summary: baseline.summary,
        },
        candidate: SideSummary {
            run_id: candidate.run_id.clone(),
            summary: candidate.summary,
        },
        components,
        checks,
        signals,
        summary,
        problems,
        unverified,
        sides: vec!["baseline".into(), "candidate".into()],
        corpus: None,
        named_changes: Vec::new(),
        strict: false,
        sides_at_once: 1,
        wall_ms: 0,
        config: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::ConfigSet;
    use crate::core::report::ComponentReport;

    fn component(name: Component, image: &str, status: ComponentStatus) -> ComponentReport {
        ComponentReport {
            name,
            image: image.into(),
            status,
            ready_ms: (status == ComponentStatus::Ready).then_some(1000),
            version: (status == ComponentStatus::Ready)
                .then(|| image.rsplit(':').next().unwrap().into()),
            reason: None,
            stand_in: None,
            refused_guide_config: None,
            died: None,
        }
    }

    fn check(id: &str, signal: Signal, status: CheckStatus, ttv: Option<u64>) -> CheckReport {
        CheckReport {
            id: id.into(),
            title: format!("title of {id}"),
            signal,
            component: match signal {
                Signal::Logs => Component::Loki,
                Signal::Traces => Component::Tempo,
                Signal::Metrics => Component::Mimir,
            },
            needs: vec![],
            status,
            reason: format!("{id} answered {status:?}"),
            query: format!("query of {id}"),
            guide_query: None,
            time_to_visible_ms: ttv,
            skipped_because: vec![],
        }
    }

    fn report(run_id: &str, components: Vec<ComponentReport>, checks: Vec<CheckReport>) -> Report {
        Report::new(
            run_id.into(),
            BTreeSet::new(),
            ConfigSet::Fixed,
            components,
            checks,
        )
    }

    fn sides(tempo_candidate: ComponentStatus) -> (Vec<ComponentReport>, Vec<ComponentReport>) {
        (
            vec![
                component(
                    Component::Loki,
                    "grafana/loki:3.2.0",
                    ComponentStatus::Ready,
                ),
                component(
                    Component::Tempo,
                    "grafana/tempo:2.6.0",
                    ComponentStatus::Ready,
                ),
            ],
            vec![
                component(
                    Component::Loki,
                    "grafana/loki:3.4.6",
                    ComponentStatus::Ready,
                ),
                component(Component::Tempo, "grafana/tempo:2.7.2", tempo_candidate),
            ],
        )
    }

    fn gated() -> BTreeSet<Component> {
        BTreeSet::from([Component::Loki, Component::Tempo])
    }

    fn no_configs() -> BTreeMap<Component, PathBuf> {
        BTreeMap::new()
    }

    #[test]
    fn every_pair_of_statuses_has_its_change() {
        use CheckStatus::*;
        let cases = [
            (Pass, Pass, Change::Unchanged),
            (Fail, Fail, Change::Unchanged),
            (Skip, Skip, Change::Unchanged),
            (Pass, Fail, Change::Regressed),
            (Fail, Pass, Change::Fixed),
            (Pass, Skip, Change::NewlySkipped),
            (Fail, Skip, Change::NewlySkipped),
            (Skip, Pass, Change::PassingFromSkip),
            (Skip, Fail, Change::FailingFromSkip),
        ];
        for (b, c, want) in cases {
            assert_eq!(Change::between(Some(b), Some(c)), want, "{b:?} → {c:?}");
        }
        assert_eq!(Change::between(None, Some(Pass)), Change::OnlyCandidate);
        assert_eq!(Change::between(Some(Pass), None), Change::OnlyBaseline);
    }

    #[test]
    fn a_regression_fails_the_gate_naming_the_check_with_both_answers() {
        let (b, c) = sides(ComponentStatus::Ready);
        let baseline = report(
            "g1-b",
            b,
            vec![
                check("logs.a", Signal::Logs, CheckStatus::Pass, Some(100)),
                check("traceql.rate", Signal::Traces, CheckStatus::Pass, Some(400)),
                check("broken", Signal::Logs, CheckStatus::Fail, None),
                check("grafana.x", Signal::Logs, CheckStatus::Skip, None),
            ],
        );
        let candidate = report(
            "g1-c",
            c,
            vec![
                check("logs.a", Signal::Logs, CheckStatus::Pass, Some(150)),
                check("traceql.rate", Signal::Traces, CheckStatus::Fail, None),
                check("broken", Signal::Logs, CheckStatus::Pass, Some(90)),
                check("grafana.x", Signal::Logs, CheckStatus::Skip, None),
            ],
        );
        let g = compare(
            &baseline,
            &candidate,
            &gated(),
            (&no_configs(), &no_configs()),
        );
        assert_eq!(g.exit_code(), exit::CHECKS_FAILED);
        assert_eq!(g.run_id, "g1");
        let failing: Vec<&str> = g.failing().map(|c| c.id.as_str()).collect();
        assert_eq!(failing, ["traceql.rate"]);
        // Failing first, then other changes, then unchanged.
        let order: Vec<(&str, Change)> =
            g.checks.iter().map(|c| (c.id.as_str(), c.change)).collect();
        assert_eq!(
            order,
            [
                ("traceql.rate", Change::Regressed),
                ("broken", Change::Fixed),
                ("logs.a", Change::Unchanged),
                ("grafana.x", Change::Unchanged),
            ]
        );
        let r = &g.checks[0];
        assert_eq!(
            r.baseline.as_ref().unwrap().reason,
            "traceql.rate answered Pass"
        );
        assert_eq!(
            r.candidate.as_ref().unwrap().reason,
            "traceql.rate answered Fail"
        );
        assert_eq!(
            g.problems,
            ["1 check fails on the candidate: traceql.rate".to_string()]
        );
        assert_eq!(
            g.summary,
            GateSummary {
                unchanged: 2,
                regressed: 1,
                fixed: 1,
                ..GateSummary::default()
            }
        );
        assert_eq!(g.unverified, None);
    }

    #[test]
    fn fixes_and_newly_skipped_checks_do_not_fail_the_gate() {
        let (b, c) = sides(ComponentStatus::Ready);
        let baseline = report(
            "g-b",
            b,
            vec![
                check("a", Signal::Logs, CheckStatus::Pass, Some(10)),
                check("b", Signal::Logs, CheckStatus::Fail, None),
                check("c", Signal::Traces, CheckStatus::Pass, Some(10)),
                check("d", Signal::Traces, CheckStatus::Skip, None),
            ],
        );
        let candidate = report(
            "g-c",
            c,
            vec![
                check("a", Signal::Logs, CheckStatus::Pass, Some(10)),
                check("b", Signal::Logs, CheckStatus::Pass, Some(10)),
                check("c", Signal::Traces, CheckStatus::Skip, None),
                check("d", Signal::Traces, CheckStatus::Pass, Some(10)),
                check("e", Signal::Traces, CheckStatus::Pass, Some(10)),
            ],
        );
        let g = compare(
            &baseline,
            &candidate,
            &gated(),
            (&no_configs(), &no_configs()),
        );
        assert_eq!(g.exit_code(), exit::OK, "{:?}", g.problems);
        assert_eq!(
            g.summary,
            GateSummary {
                unchanged: 1,
                fixed: 1,
                newly_skipped: 1,
                passing_from_skip: 1,
                only_candidate: 1,
                ..GateSummary::default()
            }
        );
        // A check that could not run on the baseline and fails now fails the gate.
        let mut candidate = candidate;
        candidate.checks[3].status = CheckStatus::Fail;
        let g = compare(
            &baseline,
            &candidate,
            &gated(),
            (&no_configs(), &no_configs()),
        );
        assert_eq!(g.summary.failing_from_skip, 1);
        assert_eq!(
            g.failing().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["d"]
        );
        assert_eq!(g.exit_code(), exit::CHECKS_FAILED);
    }

    #[test]
    fn a_component_that_refuses_its_config_on_the_candidate_fails_the_gate_with_its_log_line() {
        let (b, mut c) = sides(ComponentStatus::Failed);
        c[1].reason = Some(
            "tempo (grafana/tempo:2.7.2) exited before it was ready (exit code Some(1)); its log: failed parsing config: field x not found"
                .into(),
        );
        let baseline = report(
            "g-b",
            b,
            vec![check("a", Signal::Logs, CheckStatus::Pass, Some(5))],
        );
        let candidate = report(
            "g-c",
            c,
            vec![check("a", Signal::Logs, CheckStatus::Pass, Some(5))],
        );
        let mut candidate_configs = BTreeMap::new();
        candidate_configs.insert(
            Component::Tempo,
            PathBuf::from("fixtures/faults/tempo.yaml"),
        );
        let g = compare(
            &baseline,
            &candidate,
            &gated(),
            (&no_configs(), &candidate_configs),
        );
        assert_eq!(g.exit_code(), exit::CHECKS_FAILED);
        assert_eq!(
            g.problems,
            ["tempo did not start on the candidate: tempo (grafana/tempo:2.7.2) exited before it was ready (exit code Some(1)); its log: failed parsing config: field x not found".to_string()]
        );
        let tempo = &g.components[1];
        assert_eq!(
            tempo.candidate.as_ref().unwrap().config.as_deref(),
            Some("fixtures/faults/tempo.yaml")
        );
        assert_eq!(
            tempo.baseline.as_ref().unwrap().version.as_deref(),
            Some("2.6.0")
        );
        assert_eq!(tempo.ready_ratio, None);
    }

    #[test]
    fn time_to_ready_and_to_visible_side_by_side_with_the_ratio() {
        let (b, mut c) = sides(ComponentStatus::Ready);
        c[0].ready_ms = Some(1500);
        let baseline = report(
            "g-b",
            b,
            vec![
                check("l1", Signal::Logs, CheckStatus::Pass, Some(400)),
                check("l2", Signal::Logs, CheckStatus::Pass, Some(200)),
                // Passing on one side only: not a like-for-like figure.
                check("l3", Signal::Logs, CheckStatus::Pass, Some(1)),
                check("t1", Signal::Traces, CheckStatus::Pass, Some(1000)),
            ],
        );
        let candidate = report(
            "g-c",
            c,
            vec![
                check("l1", Signal::Logs, CheckStatus::Pass, Some(500)),
                check("l2", Signal::Logs, CheckStatus::Pass, Some(300)),
                check("l3", Signal::Logs, CheckStatus::Fail, None),
                check("t1", Signal::Traces, CheckStatus::Pass, Some(333)),
            ],
        );
        let g = compare(
            &baseline,
            &candidate,
            &gated(),
            (&no_configs(), &no_configs()),
        );
        assert_eq!(g.components[0].ready_ratio, Some(1.5));
        assert_eq!(g.components[1].ready_ratio, Some(1.0));
        let by = |s: Signal| g.signals.iter().find(|t| t.signal == s).unwrap().clone();
        assert_eq!(
            by(Signal::Logs),
            SignalTiming {
                signal: Signal::Logs,
                checks: 2,
                baseline_ms: Some(200),
                candidate_ms: Some(300),
                ratio: Some(1.5)
            }
        );
        assert_eq!(by(Signal::Traces).ratio, Some(0.33));
        assert_eq!(
            by(Signal::Metrics),
            SignalTiming {
                signal: Signal::Metrics,
                checks: 0,
                baseline_ms: None,
                candidate_ms: None,
                ratio: None
            }
        );
    }

    #[test]
    fn a_gated_component_that_did_not_run_leaves_the_upgrade_unverified() {
        let (b, mut c) = sides(ComponentStatus::Skipped);
        c[1].reason = Some(ComponentReport::image_missing_reason(
            "grafana/tempo:2.7.2",
            "no registry",
        ));
        let checks = |s| {
            vec![
                check("l", Signal::Logs, CheckStatus::Pass, Some(5)),
                check("t", Signal::Traces, s, None),
            ]
        };
        let baseline = report("g-b", b, checks(CheckStatus::Pass));
        let candidate = report("g-c", c, checks(CheckStatus::Skip));
        let g = compare(
            &baseline,
            &candidate,
            &gated(),
            (&no_configs(), &no_configs()),
        );
        assert_eq!(g.exit_code(), exit::NOTHING_VERIFIED);
        assert_eq!(
            g.unverified.as_deref(),
            Some(
                "the upgrade was not verified: tempo did not run on the candidate (image grafana/tempo:2.7.2 is not available)"
            )
        );
        assert_eq!(g.summary.newly_skipped, 1);
        // The same skip on a component the gate is not about is only reported.
        let g = compare(
            &baseline,
            &candidate,
            &BTreeSet::from([Component::Loki]),
            (&no_configs(), &no_configs()),
        );
        assert_eq!(g.exit_code(), exit::OK);
    }

    #[test]
    fn flags_make_two_plans_that_differ_only_where_named() {
        let env = Env::from_pairs([
            ("LGTM_CHECK_IMAGE_MIMIR", "cortexproject/cortex:v1.18.1"),
            ("LGTM_CHECK_FAULTS", "drop-span"),
        ]);
        let plan = GatePlan::build(
            RawGate {
                baseline: vec!["loki=grafana/loki:3.2.0,tempo=grafana/tempo:2.6.0".into()],
                candidate: vec![
                    "loki=grafana/loki:3.4.6".into(),
                    "tempo=grafana/tempo:2.7.2".into(),
                ],
                candidate_configs: vec![
                    "tempo=fixtures/faults/tempo-without-local-blocks.yaml".into(),
                ],
                check_timeout_secs: 60,
                run_id: Some("g7".into()),
                ..RawGate::default()
            },
            &env,
            "rfresh".into(),
        )
        .unwrap();
        assert_eq!(
            (
                plan.run_id.as_str(),
                plan.baseline.run_id.as_str(),
                plan.candidate.run_id.as_str()
            ),
            ("g7", "g7-b", "g7-c")
        );
        assert_eq!(
            plan.candidate.image(Component::Loki).to_string(),
            "grafana/loki:3.4.6"
        );
        assert_eq!(
            plan.baseline.image(Component::Tempo).to_string(),
            "grafana/tempo:2.6.0"
        );
        for side in [&plan.baseline, &plan.candidate] {
            assert_eq!(
                side.image(Component::Mimir).to_string(),
                "cortexproject/cortex:v1.18.1"
            );
            assert!(side.faults.is_empty());
        }
        assert_eq!(
            plan.candidate.config_files.get(&Component::Tempo),
            Some(&PathBuf::from(
                "fixtures/faults/tempo-without-local-blocks.yaml"
            ))
        );
        assert!(plan.baseline.config_files.is_empty());
        assert_eq!(
            plan.gated(),
            BTreeSet::from([Component::Loki, Component::Tempo])
        );
    }

    #[test]
    fn bad_gate_flags_are_named() {
        let build = |raw: RawGate| GatePlan::build(raw, &Env::default(), "r1".into()).unwrap_err();
        let raw = |b: &str, c: &str| RawGate {
            baseline: vec![b.into()],
            candidate: vec![c.into()],
            check_timeout_secs: 60,
            ..RawGate::default()
        };
        assert_eq!(
            build(raw("loki", "loki=x:1")).to_string(),
            "--baseline `loki`: expected COMPONENT=IMAGE[,COMPONENT=IMAGE…]"
        );
        assert_eq!(
            build(raw("loki=x:1", "loki=a:1,loki=b:2")),
            GateError::Duplicate {
                flag: "candidate",
                component: Component::Loki
            }
        );
        assert!(
            build(raw("lokii=x:1", "loki=x:2"))
                .to_string()
                .contains("unknown component `lokii`")
        );
        assert_eq!(
            build(RawGate {
                baseline: vec!["loki=x:1".into()],
                check_timeout_secs: 60,
                ..RawGate::default()
            }),
            GateError::NoCandidate
        );
        assert_eq!(
            build(RawGate {
                candidate_configs: vec!["tempo=".into()],
                check_timeout_secs: 60,
                ..RawGate::default()
            })
            .to_string(),
            "--candidate-config `tempo=`: expected COMPONENT=PATH[,COMPONENT=PATH…]"
        );
    }

    #[test]
    fn the_baseline_config_starts_on_the_candidate_unless_it_names_its_own() {
        let plan = GatePlan::build(
            RawGate {
                baseline: vec!["tempo=grafana/tempo:2.6.0".into()],
                candidate: vec!["tempo=grafana/tempo:2.7.2".into()],
                baseline_configs: vec!["tempo=ours/tempo.yaml,loki=ours/loki.yaml".into()],
                candidate_configs: vec!["loki=ours/loki-3.4.yaml".into()],
                check_timeout_secs: 60,
                ..RawGate::default()
            },
            &Env::from_pairs([]),
            "r".into(),
        )
        .unwrap();
        assert_eq!(
            plan.candidate.config_files[&Component::Tempo],
            PathBuf::from("ours/tempo.yaml")
        );
        assert_eq!(
            plan.candidate.config_files[&Component::Loki],
            PathBuf::from("ours/loki-3.4.yaml")
        );
    }

    const GATE_TOML: &str = r#"
[gate]
baseline = { loki = "grafana/loki:3.2.0", tempo = "grafana/tempo:2.6.0" }
candidate = { loki = "grafana/loki:3.4.6", tempo = "grafana/tempo:2.7.2" }
candidate-config = { tempo = "ci/tempo-2.7.yaml", loki = "/abs/loki.yaml" }
baseline-config = { tempo = "ci/tempo-2.6.yaml" }
"#;

    fn file_layer(path: &str, text: &str) -> GateFileLayer {
        let file = super::super::target::ConfigFile::parse(path, text).unwrap();
        GateFileLayer {
            path: PathBuf::from(path),
            gate: file.gate,
        }
    }

    #[test]
    fn the_file_gives_the_sides_and_a_flag_replaces_its_component_only() {
        // LGTM_CHECK_IMAGE_* fills the components no side names, on both sides; the
        // sides' own entries (file or flag) win over it.
        let env = Env::from_pairs([
            ("LGTM_CHECK_IMAGE_LOKI", "env/loki:1"),
            ("LGTM_CHECK_IMAGE_MIMIR", "cortexproject/cortex:v1.18.1"),
        ]);
        let plan = GatePlan::build(
            RawGate {
                candidate: vec!["loki=grafana/loki:3.4.1".into()],
                candidate_configs: vec!["tempo=flag/tempo.yaml".into()],
                check_timeout_secs: 60,
                run_id: Some("g8".into()),
                file: Some(file_layer("repo/ci/lgtm-check.toml", GATE_TOML)),
                ..RawGate::default()
            },
            &env,
            "rfresh".into(),
        )
        .unwrap();
        let image = |p: &RunPlan, c| p.image(c).to_string();
        assert_eq!(image(&plan.baseline, Component::Loki), "grafana/loki:3.2.0");
        assert_eq!(
            image(&plan.baseline, Component::Tempo),
            "grafana/tempo:2.6.0"
        );
        // The flag replaced the file's candidate Loki; the file's Tempo stays.
        assert_eq!(
            image(&plan.candidate, Component::Loki),
            "grafana/loki:3.4.1"
        );
        assert_eq!(
            image(&plan.candidate, Component::Tempo),
            "grafana/tempo:2.7.2"
        );
        for side in [&plan.baseline, &plan.candidate] {
            assert_eq!(
                image(side, Component::Mimir),
                "cortexproject/cortex:v1.18.1"
            );
        }
        // Relative paths in the file start from its directory; a flag's from the
        // current one; absolute ones stay.
        assert_eq!(
            plan.baseline.config_files,
            BTreeMap::from([(Component::Tempo, PathBuf::from("repo/ci/ci/tempo-2.6.yaml"))])
        );
        assert_eq!(
            plan.candidate.config_files,
            BTreeMap::from([
                (Component::Loki, PathBuf::from("/abs/loki.yaml")),
                (Component::Tempo, PathBuf::from("flag/tempo.yaml")),
            ])
        );
        assert_eq!(
            plan.gated(),
            BTreeSet::from([Component::Loki, Component::Tempo])
        );
    }

    #[test]
    fn a_file_alone_is_a_gate_and_a_file_without_a_candidate_is_not() {
        let plan = GatePlan::build(
            RawGate {
                check_timeout_secs: 60,
                file: Some(file_layer(
                    "lgtm-check.toml",
                    "[gate]\ncandidate-config = { tempo = \"tempo.yaml\" }\n",
                )),
                ..RawGate::default()
            },
            &Env::default(),
            "r2".into(),
        )
        .unwrap();
        // The file is in the current directory: its paths stay as written.
        assert_eq!(
            plan.candidate.config_files.get(&Component::Tempo),
            Some(&PathBuf::from("tempo.yaml"))
        );
        assert_eq!(plan.gated(), BTreeSet::from([Component::Tempo]));
        let err = GatePlan::build(
            RawGate {
                check_timeout_secs: 60,
                file: Some(file_layer(
                    "lgtm-check.toml",
                    "target = \"containers\"\n[gate]\nbaseline = { loki = \"grafana/loki:3.2.0\" }\n",
                )),
                ..RawGate::default()
            },
            &Env::default(),
            "r2".into(),
        )
        .unwrap_err();
        assert_eq!(err, GateError::NoCandidate);
    }

    #[test]
    fn bad_values_in_the_file_are_named_with_its_path_and_key() {
        let build = |text: &str| {
            GatePlan::build(
                RawGate {
                    check_timeout_secs: 60,
                    file: Some(file_layer("ci/lgtm-check.toml", text)),
                    ..RawGate::default()
                },
                &Env::default(),
                "r3".into(),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            build("[gate]\ncandidate = { loki = \"grafana/loki:\" }\n"),
            "ci/lgtm-check.toml: [gate] candidate.loki = `grafana/loki:`: `grafana/loki:` is not an image reference"
        );
        assert_eq!(
            build("[gate]\ncandidate-config = { tempo = \" \" }\n"),
            "ci/lgtm-check.toml: [gate] candidate-config.tempo = ` `: an empty path"
        );
    }
}
