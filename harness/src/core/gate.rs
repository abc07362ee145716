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

/// Version of the gate's JSON report.
pub const GATE_SCHEMA_VERSION: u32 = 1;

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
    pub json: Option<PathBuf>,
    pub scenario_dir: Option<PathBuf>,
    pub check_timeout_secs: u64,
    /// The gate's run id; the sides run as `<id>-b` and `<id>-c`.
    pub run_id: Option<String>,
}

/// Flags that cannot make a gate.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GateError {
    #[error("--{flag} `{value}`: expected COMPONENT={what}[,COMPONENT={what}…]")]
    Syntax {
        flag: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("--{flag} `{value}`: {reason}")]
    Value {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("--{flag} names {component} twice")]
    Duplicate {
        flag: &'static str,
        component: Component,
    },
    #[error(
        "nothing to gate: give the candidate's images (--candidate loki=grafana/loki:3.4.6,…) or configs (--candidate-config loki=PATH)"
    )]
    NoCandidate,
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// A validated gate: the plan of each side. Components the flags do not name keep
/// their default (or `LGTM_CHECK_IMAGE_<COMPONENT>`) image on both sides.
#[derive(Debug, Clone)]
pub struct GatePlan {
    pub run_id: String,
    pub baseline: RunPlan,
    pub candidate: RunPlan,
    pub json: Option<PathBuf>,
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
    pub fn build(raw: RawGate, env: &Env, fresh_run_id: String) -> Result<Self, GateError> {
        let side = |flag: &'static str,
                    cflag: &'static str,
                    images: &[String],
                    configs: &[String],
                    suffix: &str|
         -> Result<RunPlan, GateError> {
            let images = pairs(flag, "IMAGE", images)?;
            for (c, image) in &images {
                image
                    .parse::<ImageRef>()
                    .map_err(|reason| GateError::Value {
                        flag,
                        value: format!("{c}={image}"),
                        reason,
                    })?;
            }
            let configs = pairs(cflag, "PATH", configs)?;
            let run_id = raw
                .run_id
                .clone()
                .or_else(|| env.get("LGTM_CHECK_RUN_ID").map(str::to_owned))
                .unwrap_or_else(|| fresh_run_id.clone());
            let mut plan = RunPlan::build(
                RawRun {
                    images: images.iter().map(|(c, i)| format!("{c}={i}")).collect(),
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
            plan.config_files = configs
                .into_iter()
                .map(|(c, p)| (c, PathBuf::from(p)))
                .collect();
            Ok(plan)
        };
        let baseline = side(
            "baseline",
            "baseline-config",
            &raw.baseline,
            &raw.baseline_configs,
            "b",
        )?;
        let candidate = side(
            "candidate",
            "candidate-config",
            &raw.candidate,
            &raw.candidate_configs,
            "c",
        )?;
        if raw.candidate.is_empty() && raw.candidate_configs.is_empty() {
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
    pub status: CheckStatus,
    /// What the backend answered, or why it was skipped.
    pub reason: String,
    pub query: String,
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
    pub id: String,
    pub title: String,
    pub signal: Signal,
    pub component: Component,
    pub change: Change,
    pub baseline: Option<CheckOutcome>,
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
    pub image: String,
    pub status: ComponentStatus,
    /// What the component reports about itself (build info), not the tag.
    pub version: Option<String>,
    pub ready_ms: Option<u64>,
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
    pub name: Component,
    /// Its image or configuration differs between the sides.
    pub gated: bool,
    pub baseline: Option<ComponentSide>,
    pub candidate: Option<ComponentSide>,
    pub ready_ratio: Option<f64>,
}

/// Time to visible of one signal on both sides: the earliest first matching answer
/// among the checks of that signal that passed on both sides (the same checks, run
/// in the same order on both sides), with the ratio candidate / baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalTiming {
    pub signal: Signal,
    /// How many checks the figures are taken from.
    pub checks: usize,
    pub baseline_ms: Option<u64>,
    pub candidate_ms: Option<u64>,
    pub ratio: Option<f64>,
}

/// What one side ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideSummary {
    pub run_id: String,
    pub summary: super::report::Summary,
}

/// How many checks changed which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GateSummary {
    pub unchanged: usize,
    pub regressed: usize,
    pub failing_from_skip: usize,
    pub fixed: usize,
    pub newly_skipped: usize,
    pub passing_from_skip: usize,
    pub only_baseline: usize,
    pub only_candidate: usize,
}

/// The gate's verdict, as `--json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    pub schema_version: u32,
    pub run_id: String,
    pub baseline: SideSummary,
    pub candidate: SideSummary,
    /// Every component on both sides, in report order.
    pub components: Vec<ComponentDiff>,
    /// Every check on both sides: the ones that fail the gate first, then the other
    /// changes, then the unchanged ones (each group in catalog order).
    pub checks: Vec<CheckDiff>,
    pub signals: Vec<SignalTiming>,
    pub summary: GateSummary,
    /// Why the gate fails, beyond its listed checks (regressions are named here
    /// too, with the components that refused to start on the candidate).
    pub problems: Vec<String>,
    /// Set when the gate could not judge the upgrade: why, in one line.
    pub unverified: Option<String>,
}

impl GateReport {
    /// The checks that fail the gate.
    pub fn failing(&self) -> impl Iterator<Item = &CheckDiff> {
        self.checks.iter().filter(|c| c.fails_gate())
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
    configs: (
        &BTreeMap<Component, PathBuf>,
        &BTreeMap<Component, PathBuf>,
    ),
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
    let config = |m: &BTreeMap<Component, PathBuf>, c: Component| {
        m.get(&c).map(|p| p.display().to_string())
    };
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
                Some(s)
                    if side == "baseline" && s.status == ComponentStatus::Failed =>
                {
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
    }
}
