//! `lgtm-check gate`: the catalog on the baseline's images, then on the candidate's
//! (one stack at a time, each through [`runner::run`]), compared by the pure
//! [`crate::core::gate::compare`].
//!
//! The sides come from the `[gate]` table of `lgtm-check.toml` (or `--config PATH`),
//! then the flags ([`plan`]).
//!
//! Main items: [`GateArgs`] (the flags), [`plan`], [`run`], [`GateRun`].

use std::path::{Path, PathBuf};

use futures::StreamExt;

use crate::core::changes::{NamedChange, Project};
use crate::core::component::Component;
use crate::core::corpus::{CorpusQuery, Language, Source};
use crate::core::event::Event;
use crate::core::gate::{GateError, GateFileLayer, GatePlan, GateReport, RawGate, compare};
use crate::core::gate_corpus::{
    Accepted, ConfigCompat, SideCorpus, compare_sides, config_compat, named_findings,
};
use crate::core::plan::Env;
use crate::core::report::Report;
use crate::core::target::{CONFIG_FILE, ConfigFile, TargetError};
use crate::core::workload::Workload;
use crate::runner::{self, RunError};
use crate::stack::StackError;
use std::collections::BTreeMap;

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
    /// The upgrade path instead of --baseline/--candidate: COMPONENT=IMAGE items; the
    /// first of each component is the baseline, every later one a step, so each
    /// difference is named with the first release that has it, e.g.
    /// tempo=grafana/tempo:2.6.0,tempo=grafana/tempo:2.7.2,tempo=grafana/tempo:2.10.0.
    /// Repeatable (the items are read in order).
    #[arg(long, value_name = "COMPONENT=IMAGE,…")]
    pub path: Vec<String>,
    /// Your own queries, answered by every side and compared: a queries file
    /// (`logql: …`, `traceql: …`, `promql: …` per line), a Grafana dashboard
    /// (`.json`) or a rule file (`.yaml`; prefix `logql=` for Loki's). A change in
    /// their answer fails the gate. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub queries: Vec<String>,
    /// Differences in generated queries and in the probes of named changes fail the
    /// gate too (they are findings otherwise).
    #[arg(long)]
    pub strict: bool,
    /// The differences you expect, kept in your repository [default:
    /// ./lgtm-check.accepted.toml when it exists]; a listed difference never fails the
    /// gate.
    #[arg(long, value_name = "PATH")]
    pub accepted: Option<PathBuf>,
    /// Add every difference of this gate to the accepted file (as `cargo insta
    /// accept` does for snapshots), with this reason.
    #[arg(long, value_name = "REASON")]
    pub write_accepted: Option<String>,
    /// The seed of the workload every side ingests.
    #[arg(long, default_value_t = crate::core::workload::DEFAULT_SEED)]
    pub seed: u64,
    /// Compare the catalog only: no workload, no query corpus.
    #[arg(long)]
    pub no_corpus: bool,
    /// How many sides run at once (2: side by side; 1 when memory is short).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub sides_at_once: usize,
}

/// The default accepted file, read when it exists.
pub const ACCEPTED_FILE: &str = "lgtm-check.accepted.toml";

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
            path: a.path,
            seed: a.seed,
            strict: a.strict,
            no_corpus: a.no_corpus,
            sides_at_once: a.sides_at_once,
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

/// What the gate reads from files besides its sides: the user's queries and the
/// accepted differences.
#[derive(Debug, Clone, Default)]
pub struct GateInputs {
    /// The user's own queries (`--queries`).
    pub user_queries: Vec<CorpusQuery>,
    /// The accepted differences.
    pub accepted: Accepted,
    /// Where the accepted file is (read if it existed; written by `--write-accepted`).
    pub accepted_path: PathBuf,
    /// `--write-accepted REASON`.
    pub write_accepted: Option<String>,
}

/// Reads the `--queries` files and the accepted file; an error names the file.
pub fn inputs(args: &GateArgs) -> Result<GateInputs, GateError> {
    let mut user_queries = Vec::new();
    for q in &args.queries {
        let file = match q.split_once('=') {
            Some((l, p)) if Language::from_name(l).is_some() => p,
            _ => q.as_str(),
        };
        let text = std::fs::read_to_string(file).map_err(|e| GateError::ReadQueries {
            path: file.into(),
            message: e.to_string(),
        })?;
        user_queries.extend(crate::core::user_queries::parse(q, &text)?);
    }
    let accepted_path = args
        .accepted
        .clone()
        .unwrap_or_else(|| PathBuf::from(ACCEPTED_FILE));
    let accepted = match std::fs::read_to_string(&accepted_path) {
        Ok(text) => Accepted::parse(&text).map_err(|message| GateError::Accepted {
            path: accepted_path.display().to_string(),
            message,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.accepted.is_none() => {
            Accepted::default()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.write_accepted.is_some() => {
            Accepted::default()
        }
        Err(e) => {
            return Err(GateError::Accepted {
                path: accepted_path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    Ok(GateInputs {
        user_queries,
        accepted,
        accepted_path,
        write_accepted: args.write_accepted.clone(),
    })
}

/// The corpus every side answers: the generated queries, the probes of the named
/// changes not already among them, and the user's own.
pub fn corpus(user: &[CorpusQuery]) -> Vec<CorpusQuery> {
    let mut out = crate::core::corpus_templates::generated();
    for c in crate::core::changes::CHANGES {
        if let Some((language, query)) = c.probe.query()
            && !out.iter().any(|q| {
                q.language == language && q.query.split_whitespace().eq(query.split_whitespace())
            })
        {
            out.push(CorpusQuery {
                language,
                source: Source::NamedChange(c.id.into()),
                ask: crate::core::user_queries::ask_for(language, query),
                query: query.into(),
            });
        }
    }
    out.extend(user.iter().cloned());
    out
}

/// Both runs of a gate and their comparison.
#[derive(Debug, Clone)]
pub struct GateRun {
    /// The baseline side's own run report (run id `<gate id>-b`).
    pub baseline: Report,
    /// The candidate side's own run report (run id `<gate id>-c`).
    pub candidate: Report,
    /// With `--path`, the runs between, in order.
    pub between: Vec<Report>,
    /// The runs compared: the gate's verdict and exit code.
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

/// The version a side's run reports for `component`, else its image's tag.
fn version(report: &Report, component: Component) -> Option<String> {
    let r = report.components.iter().find(|c| c.name == component)?;
    r.version
        .clone()
        .or_else(|| r.image.rsplit_once(':').map(|(_, t)| t.to_owned()))
}

/// The defaults each running component of `stack` serves (Loki, Tempo, the Mimir
/// role), or why it did not.
async fn served_defaults(
    stack: &crate::stack::Stack,
) -> BTreeMap<Component, Result<String, String>> {
    let backends = stack.backends();
    let Some(http) = backends.http.clone() else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for c in [Component::Loki, Component::Tempo, Component::Mimir] {
        if let Some(root) = backends.roots.get(&c) {
            let r = crate::served_config::served_defaults(&http, root)
                .await
                .map_err(|e| e.to_string());
            out.insert(c, r);
        }
    }
    out
}

/// The named changes crossed between the baseline's versions and the candidate's.
fn crossed(baseline: &Report, candidate: &Report) -> Vec<&'static NamedChange> {
    let mut out = Vec::new();
    for (component, projects) in [
        (Component::Loki, &[Project::Loki][..]),
        (Component::Tempo, &[Project::Tempo][..]),
        (Component::Mimir, &[Project::Mimir, Project::Cortex][..]),
    ] {
        let (Some(b), Some(c)) = (version(baseline, component), version(candidate, component))
        else {
            continue;
        };
        let image = candidate
            .components
            .iter()
            .find(|r| r.name == component)
            .map(|r| r.image.clone())
            .unwrap_or_default();
        for p in projects {
            // The Mimir role's changes are Cortex's when Cortex fills it.
            if component == Component::Mimir && (*p == Project::Cortex) != image.contains("cortex")
            {
                continue;
            }
            out.extend(crate::core::changes::between(*p, &b, &c));
        }
    }
    out
}

/// Runs every side (`sides_at_once` at a time; each through [`runner::run_with`],
/// the workload pushed and the corpus asked beside the catalog) and compares them.
/// Every configuration file is read before the first side starts, so a wrong path
/// stops the gate at once.
pub async fn run(
    plan: &GatePlan,
    inputs: &GateInputs,
    on_side: &(dyn Fn(usize, &str) + Sync),
    on_event: &(dyn Fn(&str, Event<'_>) + Sync),
) -> Result<GateRun, RunError> {
    let started = std::time::Instant::now();
    let mut sides: Vec<(String, &crate::core::plan::RunPlan)> =
        vec![("baseline".to_owned(), &plan.baseline)];
    sides.extend(plan.between.iter().map(|(l, p)| (l.clone(), p)));
    sides.push((
        plan.candidate_label
            .clone()
            .unwrap_or_else(|| "candidate".into()),
        &plan.candidate,
    ));
    for (_, side) in &sides {
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
    let workload = Workload::generate(plan.seed);
    let corpus = if plan.corpus {
        corpus(&inputs.user_queries)
    } else {
        Vec::new()
    };
    // Tempo 2.10 has been seen to take 50 s to make the workload's traces
    // searchable on this machine: the controls wait at least 90 s.
    let settle = std::time::Duration::from_secs(plan.baseline.check_timeout.as_secs().max(90));
    type Served = BTreeMap<Component, Result<String, String>>;
    type SideRun = Result<(Report, (SideCorpus, Served)), RunError>;
    let runs: Vec<SideRun> = futures::stream::iter(sides.iter().enumerate())
        .map(|(i, (label, side))| {
            let (workload, corpus) = (&workload, &corpus);
            async move {
                on_side(i, label);
                let on = |e: Event<'_>| on_event(label, e);
                runner::run_with(side, &on, async |stack: &crate::stack::Stack| {
                    let served = served_defaults(stack).await;
                    if corpus.is_empty() {
                        let side = SideCorpus {
                            label: label.clone(),
                            ..SideCorpus::default()
                        };
                        return (side, served);
                    }
                    let side = crate::gate_workload::run_side(
                        &crate::gate_workload::Targets::of(stack),
                        workload,
                        corpus,
                        settle,
                        label.clone(),
                    )
                    .await;
                    (side, served)
                })
                .await
            }
        })
        .buffered(plan.sides_at_once.max(1))
        .collect()
        .await;
    let mut reports = Vec::new();
    let mut answers = Vec::new();
    let mut served = Vec::new();
    for r in runs {
        let (report, (side, defaults)) = r?;
        reports.push(report);
        answers.push(side);
        served.push(defaults);
    }
    let gated = plan.gated();
    let config: Vec<ConfigCompat> = [Component::Loki, Component::Tempo, Component::Mimir]
        .into_iter()
        .filter(|c| gated.contains(c))
        .map(|c| {
            let failure = reports
                .last()
                .and_then(|r| r.components.iter().find(|x| x.name == c))
                .filter(|x| x.status == crate::core::report::ComponentStatus::Failed)
                .and_then(|x| x.reason.clone());
            config_compat(
                c,
                served.first().and_then(|s| s.get(&c)),
                served.last().and_then(|s| s.get(&c)),
                failure.as_deref(),
            )
        })
        .collect();
    let candidate = reports.pop().expect("a candidate side");
    let baseline = reports.remove(0);
    let mut report = compare(
        &baseline,
        &candidate,
        &plan.gated(),
        (&plan.baseline.config_files, &plan.candidate.config_files),
    );
    report.sides = sides.iter().map(|(l, _)| l.clone()).collect();
    report.sides_at_once = plan.sides_at_once.max(1);
    if plan.corpus {
        let mut compared = compare_sides(plan.seed, &corpus, &answers, &inputs.accepted);
        let crossed = crossed(&baseline, &candidate);
        compared.explain(&crossed);
        let named = named_findings(&compared, &corpus, &crossed, &config);
        report = report.with_corpus(compared, named, plan.strict);
    }
    report.config = config;
    report.wall_ms = started.elapsed().as_millis() as u64;
    Ok(GateRun {
        baseline,
        candidate,
        between: reports,
        report,
    })
}
