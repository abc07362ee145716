//! The report model: what happened to each component and each check, as plain data.
//! Reporters (terminal, JSON) render it; the exit code is derived from it.
//!
//! Main types: [`Report`], [`ComponentReport`], [`CheckReport`], [`SkipGroup`] (the
//! skipped checks grouped by what made them skip); the JSON form has
//! [`REPORT_SCHEMA_VERSION`]. A run in which no check passed is not a success:
//! [`Report::nothing_verified`] says why, and [`exit::NOTHING_VERIFIED`] is its exit
//! code.

use std::collections::BTreeSet;

use lgtm_scenarios::redact::redact_url;
use serde::Serialize;

use super::check::Signal;
use super::component::Component;
use super::plan::ConfigSet;

/// Version of the JSON report format.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Exit codes of the `lgtm-check` binary.
pub mod exit {
    /// At least one check passed and none failed (skips are allowed unless a required
    /// component is affected).
    pub const OK: i32 = 0;
    /// A check failed, a component failed (also one that died mid-run), a scenario
    /// failed (its `<prefix>.scenario` check), or a required component (`--require`,
    /// `--require-all`) was skipped or stood in for.
    pub const CHECKS_FAILED: i32 = 1;
    /// lgtm-check could not do its job: bad flags, Docker unreachable, a scenario
    /// binary missing. A component or scenario that fails mid-run is not this: it is
    /// a finding ([`CHECKS_FAILED`]), with the report written.
    pub const HARNESS_ERROR: i32 = 2;
    /// No check passed and none failed: nothing was verified (typically every image
    /// was missing). Not a success.
    pub const NOTHING_VERIFIED: i32 = 3;
    /// Interrupted (Ctrl-C); containers were removed.
    pub const INTERRUPTED: i32 = 130;
}

/// How a component ended up: ready, skipped or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    /// Its ready endpoint answered (or, for an external component, its preflight
    /// passed); its checks ran.
    Ready,
    /// Not run, e.g. its image is not available locally; its checks are skipped,
    /// not passed.
    Skipped,
    /// It was meant to run but did not start or become ready (or its preflight
    /// failed); the run fails.
    Failed,
}

/// One component of the run: its image, status and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentReport {
    /// Which component.
    pub name: Component,
    /// The image that ran (or was asked for, when skipped).
    pub image: String,
    /// Whether it ran.
    pub status: ComponentStatus,
    /// Time from container start to the first ready answer.
    pub ready_ms: Option<u64>,
    /// The version the component reports about itself (build info), not the tag.
    pub version: Option<String>,
    /// Why it was skipped or failed (the image pull's or the start's error); `None`
    /// when ready.
    pub reason: Option<String>,
    /// Set when another program filled this role (Mimir's: `cortex`, `prometheus`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<String>,
    /// With `--configs guide`: why the guide's config was refused (the component
    /// then ran with the fixed one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_guide_config: Option<String>,
    /// Set when it was ready and then died during the run: when and how (its status
    /// is then `failed`, and `reason` says so in a sentence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub died: Option<Death>,
}

/// How a component's container ended during the run, as Docker tells it (`State`
/// of `docker inspect`, and the container's log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Death {
    /// When it was seen dead, in ms after the run started (the stack's start).
    pub after_ms: u64,
    /// Docker's `State.FinishedAt` (RFC 3339), when Docker gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Docker's `State.ExitCode`; `None` when the container was gone (removed).
    pub exit_code: Option<i64>,
    /// Docker's `State.OOMKilled`: the kernel killed it for memory.
    pub oom_killed: bool,
    /// Docker's `State.Error`, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The container's last log lines (stdout and stderr), oldest first.
    pub last_log_lines: Vec<String>,
}

impl Death {
    /// How it died, in a few words: `exit code 137, killed`, `exit code 137,
    /// OOM-killed`, `exit code 1`, `its container is gone`.
    ///
    /// ```
    /// use lgtm_check::core::report::Death;
    /// let d = Death { after_ms: 1, finished_at: None, exit_code: Some(137), oom_killed: false,
    ///                 error: None, last_log_lines: vec![] };
    /// assert_eq!(d.how(), "exit code 137, killed");
    /// ```
    pub fn how(&self) -> String {
        let Some(code) = self.exit_code else {
            return "its container is gone".into();
        };
        let signal = match code {
            _ if self.oom_killed => ", OOM-killed",
            137 => ", killed",
            143 => ", terminated",
            134 => ", aborted",
            139 => ", segmentation fault",
            _ => "",
        };
        let error = match &self.error {
            Some(e) if !e.is_empty() => format!(": {e}"),
            _ => String::new(),
        };
        format!("exit code {code}{signal}{error}")
    }

    /// The sentence a report gives: `loki died during the run (exit code 137,
    /// killed), 12.3 s after the run started`.
    pub fn sentence(&self, c: Component) -> String {
        format!(
            "{c} died during the run ({}), {:.1} s after the run started",
            self.how(),
            self.after_ms as f64 / 1000.0
        )
    }
}

/// Where a component's skip reason names the image pull's own error.
const PULL_ERROR_AFTER: &str = "could not be pulled: ";

/// The longest short error shown once per skip cause.
const SHORT_ERROR_CHARS: usize = 160;

/// The first non-empty line of `text`, cut to [`SHORT_ERROR_CHARS`].
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() > SHORT_ERROR_CHARS {
        let cut: String = line.chars().take(SHORT_ERROR_CHARS).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

impl ComponentReport {
    /// The reason of a component skipped because its image is missing (the runner's
    /// wording; [`ComponentReport::short_error`] finds the pull error in it again).
    pub fn image_missing_reason(image: &str, pull_error: &str) -> String {
        format!("image {image} is not available locally and {PULL_ERROR_AFTER}{pull_error}")
    }

    /// Why the component is not running, in a few words (`image … is not
    /// available`, `loki failed to start`); `None` when it is ready.
    pub fn down_because(&self) -> Option<String> {
        match self.status {
            ComponentStatus::Ready => None,
            // Not part of an external target: the reason says so, no image involved.
            ComponentStatus::Skipped if self.image.is_empty() => Some(format!(
                "{} {}",
                self.name,
                self.reason.as_deref().unwrap_or("was not given")
            )),
            ComponentStatus::Skipped => Some(format!("image {} is not available", self.image)),
            // An external component (no image): its preflight failed.
            ComponentStatus::Failed if self.image.is_empty() => {
                Some(format!("{} failed its preflight", self.name))
            }
            ComponentStatus::Failed => Some(match &self.died {
                Some(d) => d.sentence(self.name),
                None => format!("{} failed to start", self.name),
            }),
        }
    }

    /// The error behind [`ComponentReport::down_because`] in one short line: the
    /// image pull's error, or the first line of why it failed.
    pub fn short_error(&self) -> Option<String> {
        if self.status == ComponentStatus::Skipped && self.image.is_empty() {
            return None;
        }
        let reason = self.reason.as_deref()?;
        let error = match reason.split_once(PULL_ERROR_AFTER) {
            Some((_, pull)) => pull,
            None => reason,
        };
        Some(redact_url(&first_line(error))).filter(|e| !e.is_empty())
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The backend answered with the expected data (for a negative check: with
    /// nothing, while its positive control returned the run's data).
    Pass,
    /// The answer was still wrong at the deadline, the query was rejected, or the
    /// component's state shows it can never be right; `reason` says which.
    Fail,
    /// Not run, because a component it needs was not running or the query cannot
    /// be asked on this stack; never counted as a pass.
    Skip,
}

/// One check of the run: its id, status, query and what was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// The check's stable id, e.g. `metrics.http_requests_total.exact`.
    pub id: String,
    /// What the check verifies, in a sentence.
    pub title: String,
    /// The kind of telemetry it is about.
    pub signal: Signal,
    /// The component whose API was queried.
    pub component: Component,
    /// Every component the check's data passes through.
    pub needs: Vec<Component>,
    /// Its outcome.
    pub status: CheckStatus,
    /// Why: what the backend answered against what was expected, the error, or
    /// the cause of the skip.
    pub reason: String,
    /// What was asked, with the fixed time or window it was asked for.
    pub query: String,
    /// The guide's query, where the one asked differs from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guide_query: Option<String>,
    /// From the moment the scenario had emitted to the first matching answer, in
    /// ms; `None` when it never matched, and for configuration checks.
    pub time_to_visible_ms: Option<u64>,
    /// The components this check needs that were not running, when that is why it
    /// was skipped (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_because: Vec<Component>,
}

impl CheckReport {
    /// The report of `check` before it ran: skipped, with no reason yet.
    pub fn before_run(check: &super::check::Check) -> Self {
        CheckReport {
            id: check.id.clone(),
            title: check.title.clone(),
            signal: check.signal,
            component: check.component,
            needs: check.needs.clone(),
            status: CheckStatus::Skip,
            reason: String::new(),
            query: check.query.text(),
            guide_query: check.guide_original.clone(),
            time_to_visible_ms: None,
            skipped_because: Vec::new(),
        }
    }

    /// Whether this check was skipped because of a component in `required`: one
    /// of the components that were not running and made it skip, or, for a check
    /// skipped for a reason of its own, one of the components it needs. A check
    /// that needs a required component but was skipped only because another one
    /// is missing (Grafana's view of a required Prometheus) is not.
    pub fn skipped_for_required(&self, required: &BTreeSet<Component>) -> bool {
        let blamed = if self.skipped_because.is_empty() {
            &self.needs
        } else {
            &self.skipped_because
        };
        self.status == CheckStatus::Skip && blamed.iter().any(|c| required.contains(c))
    }
}

/// Skipped checks that share one cause: a missing image, a component that failed to
/// start, or a reason of the checks' own. A check that needs two missing components
/// counts under both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkipGroup {
    /// The cause in a few words, once: `image grafana/loki:3.2.0 is not available`.
    pub cause: String,
    /// The error behind it in one short line (e.g. the image pull's), once.
    pub detail: Option<String>,
    /// The components it took down (empty for a cause of the checks' own).
    pub components: Vec<Component>,
    /// The checks skipped because of it.
    pub checks: Vec<String>,
}

/// Groups the skipped checks by cause, in order of first appearance.
pub fn skip_groups(components: &[ComponentReport], checks: &[CheckReport]) -> Vec<SkipGroup> {
    let mut groups: Vec<SkipGroup> = Vec::new();
    let mut add =
        |cause: String, detail: Option<String>, component: Option<Component>, id: &str| {
            let i = match groups.iter().position(|g| g.cause == cause) {
                Some(i) => i,
                None => {
                    groups.push(SkipGroup {
                        cause,
                        detail,
                        components: Vec::new(),
                        checks: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let g = &mut groups[i];
            if let Some(c) = component
                && !g.components.contains(&c)
            {
                g.components.push(c);
            }
            if !g.checks.iter().any(|x| x == id) {
                g.checks.push(id.to_owned());
            }
        };
    for check in checks.iter().filter(|c| c.status == CheckStatus::Skip) {
        if check.skipped_because.is_empty() {
            add(first_line(&check.reason), None, None, &check.id);
        }
        for c in &check.skipped_because {
            let report = components.iter().find(|r| r.name == *c);
            let cause = report
                .and_then(ComponentReport::down_because)
                .unwrap_or_else(|| format!("{c} was not started"));
            add(
                cause,
                report.and_then(ComponentReport::short_error),
                Some(*c),
                &check.id,
            );
        }
    }
    groups
}

/// Why a run verified nothing, in one line; `None` when a check passed.
/// `all_needs_down`: no component any check needs was running.
fn nothing_verified(summary: Summary, skips: &[SkipGroup], all_needs_down: bool) -> Option<String> {
    if summary.passed > 0 {
        return None;
    }
    let causes = || {
        skips
            .iter()
            .map(|g| {
                let names: Vec<&str> = g.components.iter().map(|c| c.name()).collect();
                if names.is_empty() {
                    g.cause.clone()
                } else {
                    format!("{} ({})", g.cause, names.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let why = if summary.failed > 0 {
        format!(
            "no check passed ({} failed, {} skipped)",
            summary.failed, summary.skipped
        )
    } else if summary.skipped == 0 {
        "the run made no checks".to_owned()
    } else if all_needs_down {
        format!(
            "every component needed by every check was skipped: {}",
            causes()
        )
    } else {
        format!("every check was skipped: {}", causes())
    };
    Some(format!("nothing was verified: {why}"))
}

/// The counts of a run's checks by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks with [`CheckStatus::Pass`].
    pub passed: usize,
    /// Checks with [`CheckStatus::Fail`].
    pub failed: usize,
    /// Checks with [`CheckStatus::Skip`].
    pub skipped: usize,
}

/// A place where the guide is wrong, with the evidence a backend gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuideDefect {
    /// The check (or `component.<name>`) that showed it.
    pub id: String,
    /// What is wrong, in a sentence (the check's title, or the component that
    /// refused the guide's configuration).
    pub what: String,
    /// The guide's text, where there is one.
    pub guide: Option<String>,
    /// What the backend said or did.
    pub evidence: String,
}

/// The guide's defects a run showed: guide queries a backend rejected or that cannot
/// match (checked in every run), and, when the guide's configs ran
/// (`--configs guide`), components that refused them and checks that failed.
pub fn guide_defects(
    configs: ConfigSet,
    components: &[ComponentReport],
    checks: &[CheckReport],
) -> Vec<GuideDefect> {
    let mut out = Vec::new();
    if configs == ConfigSet::Guide {
        for c in components {
            let evidence = match (&c.refused_guide_config, c.status) {
                (Some(why), _) => why.clone(),
                (None, ComponentStatus::Failed) => c.reason.clone().unwrap_or_default(),
                _ => continue,
            };
            out.push(GuideDefect {
                id: format!("component.{}", c.name),
                what: format!("{} does not start with the guide's configuration", c.name),
                guide: None,
                evidence,
            });
        }
    }
    for c in checks {
        let shown_by_check = c.status == CheckStatus::Pass
            && (c
                .reason
                .starts_with("rejected, as the guide's query is wrong")
                || c.reason.starts_with("matches nothing")
                || c.id.ends_with(".original"));
        let failed_with_guide = configs == ConfigSet::Guide && c.status == CheckStatus::Fail;
        if shown_by_check || failed_with_guide {
            out.push(GuideDefect {
                id: c.id.clone(),
                what: c.title.clone(),
                guide: c.guide_query.clone(),
                evidence: c.reason.clone(),
            });
        }
    }
    out
}

/// The report of a run, as `--json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`] of the JSON form.
    pub schema_version: u32,
    /// The run's id: its containers' names and its telemetry's `run_id` carry it.
    pub run_id: String,
    /// What was checked: `containers` (started by lgtm-check), or
    /// `external (loki https://…, tenant …; …)`, URLs redacted.
    pub target: String,
    /// Components that had to really run (`--require`, `--require-all`).
    pub required: BTreeSet<Component>,
    /// Whose configs ran: `fixed` or `guide`.
    pub configs: ConfigSet,
    /// Every component of the run, ready, skipped or failed.
    pub components: Vec<ComponentReport>,
    /// Every check of the run, in catalog order.
    pub checks: Vec<CheckReport>,
    /// The checks counted by status.
    pub summary: Summary,
    /// The skipped checks, grouped by cause.
    pub skips: Vec<SkipGroup>,
    /// Set when no check passed: why nothing was verified, in one line. Such a run
    /// is not a success ([`exit::NOTHING_VERIFIED`]).
    pub nothing_verified: Option<String>,
    /// Why the run as a whole failed, beyond failed checks.
    pub problems: Vec<String>,
    /// Where the guide is wrong, as this run showed ([`guide_defects`]).
    pub guide_defects: Vec<GuideDefect>,
    /// Where the stack refused a scenario's pushes (a limit reached) and they were
    /// retried: a finding in the stack's own words, not a failure by itself (the
    /// arrival checks judge what arrived). Left out of the JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushback: Vec<PushBackFinding>,
    /// What programs sent through lgtm-check's recording gateway, per signal (the
    /// counts the exact checks compare with what arrived). Left out of the JSON when
    /// no gateway ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<SentSummary>,
    /// The faults injected into the run's components (`run --fault`): when, and how
    /// long each took to answer ready again. Left out of the JSON when none was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<super::fault::FaultRecord>,
    /// When faults were injected: what became of each scenario's acknowledged lines
    /// and spans, per signal ([`super::durability`]). Left out of the JSON otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delivery: Vec<super::durability::Delivery>,
}

/// What one program sent of one signal through the gateway, each distinct item
/// once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentSummary {
    /// Whose record: `the program`, a scenario's name.
    pub source: String,
    /// `traces`, `logs` or `metrics`.
    pub signal: String,
    /// Distinct items sent (spans; log records and lines; points and samples).
    pub items: u64,
    /// Of those, items some backend answer acknowledged.
    pub acked: u64,
    /// Requests that carried them.
    pub requests: u64,
    /// Requests the backend refused.
    pub refused_requests: u64,
    /// The first refusal: the answer's status and message (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_refusal: Option<String>,
}

impl Report {
    /// Adds the records of the faults injected; one whose container was not ready
    /// again (or that could not be done) is a problem of the run.
    pub fn add_faults(&mut self, faults: Vec<super::fault::FaultRecord>) {
        for f in &faults {
            if f.recovered_after_ms.is_none() {
                self.problems.push(format!(
                    "fault {}: {}",
                    f.fault,
                    f.error
                        .as_deref()
                        .unwrap_or("the component did not recover")
                ));
            }
        }
        self.faults = faults;
    }

    /// Adds what became of the acknowledged items through the faults; acknowledged
    /// items lost are a problem of the run, named with their ids.
    pub fn add_delivery(&mut self, delivery: Vec<super::durability::Delivery>) {
        for d in &delivery {
            if d.lost > 0 {
                self.problems.push(format!(
                    "{}: {} acknowledged {} lost: {}",
                    d.scenario,
                    d.lost,
                    if d.signal == "logs" { "lines" } else { "spans" },
                    d.lost_ids.join("; ")
                ));
            }
        }
        self.delivery = delivery;
    }
}

impl SentSummary {
    /// One summary per signal of `r` (every signal, sent or not).
    ///
    /// ```
    /// use lgtm_check::core::record::Record;
    /// use lgtm_check::core::report::SentSummary;
    /// let s = SentSummary::of_record("the program", &Record::new("r1"));
    /// assert_eq!(s.iter().map(|s| s.items).sum::<u64>(), 0);
    /// assert_eq!(s.len(), 3);
    /// ```
    pub fn of_record(source: &str, r: &super::record::Record) -> Vec<SentSummary> {
        use super::record::RecordSignal;
        let spans = r.distinct_spans();
        let logs = r.distinct_logs();
        let lines = r.distinct_loki_lines();
        let points = r.distinct_points();
        let samples = r.distinct_samples();
        let count = |acked: &[bool]| -> (u64, u64) {
            (
                acked.len() as u64,
                acked.iter().filter(|a| **a).count() as u64,
            )
        };
        let per = [
            (
                RecordSignal::Traces,
                count(&spans.iter().map(|s| s.acked).collect::<Vec<_>>()),
            ),
            (
                RecordSignal::Logs,
                count(
                    &logs
                        .iter()
                        .map(|l| l.acked)
                        .chain(lines.iter().map(|l| l.acked))
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                RecordSignal::Metrics,
                count(
                    &points
                        .iter()
                        .map(|p| p.acked)
                        .chain(samples.iter().map(|s| s.acked))
                        .collect::<Vec<_>>(),
                ),
            ),
        ];
        per.into_iter()
            .map(|(signal, (items, acked))| {
                let ex = r.exchanges.iter().filter(|e| e.signal == signal);
                let first_refusal = ex.clone().find(|e| !e.accepted).map(|e| {
                    let msg: String = e.message.chars().take(200).collect();
                    redact_url(format!("{} {}", e.status, msg).trim())
                });
                SentSummary {
                    first_refusal,
                    source: source.into(),
                    signal: signal.as_str().into(),
                    items,
                    acked,
                    requests: ex.clone().count() as u64,
                    refused_requests: ex.filter(|e| !e.accepted).count() as u64,
                }
            })
            .collect()
    }

    /// One line for the terminal: `logs: 24 sent, 24 acknowledged (3 requests)`.
    pub fn line(&self) -> String {
        let refused = match (&self.first_refusal, self.refused_requests) {
            (Some(first), n) if n > 0 => format!(", {n} refused: {first}"),
            _ => String::new(),
        };
        if self.items == 0 {
            format!("{}: not emitted", self.signal)
        } else {
            format!(
                "{}: {} sent, {} acknowledged ({} requests{refused})",
                self.signal, self.items, self.acked, self.requests
            )
        }
    }
}

/// The stack pushed back on a scenario's pushes: which limit, in the backend's words,
/// how many pushes were retried, and whether everything was accepted in the end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushBackFinding {
    /// The scenario whose pushes were refused.
    pub scenario: String,
    /// The scenario's manifest entry: component, signal, limit, counts of pushes and
    /// items, and the backend's answer (redacted); flattened into the JSON.
    #[serde(flatten)]
    pub pushback: lgtm_check_recorder::manifest::PushBack,
    /// Every item pushed was accepted in the end.
    pub all_delivered: bool,
    /// The finding in one line, as the terminal report shows it.
    pub summary: String,
}

impl PushBackFinding {
    /// The finding of `scenario`'s manifest entry `p` (the answer redacted).
    pub fn new(scenario: &str, mut p: lgtm_check_recorder::manifest::PushBack) -> Self {
        p.answer = redact_url(&p.answer);
        let what = match p.signal.as_str() {
            "logs" => "lines",
            "traces" => "spans",
            "metrics" => "samples",
            other => other,
        };
        let limit = p
            .limit
            .as_deref()
            .map(|l| format!(" (limit: {l})"))
            .unwrap_or_default();
        // Prometheus counts the samples of its remote writes, not the writes.
        let unit = if p.signal == "metrics" {
            "samples"
        } else {
            "pushes"
        };
        let end = if p.all_delivered() {
            format!("all {} {what} accepted in the end", p.items)
        } else {
            format!(
                "{} of {} {what} accepted in the end; {} {unit} given up",
                p.delivered, p.items, p.abandoned_pushes
            )
        };
        let summary = format!(
            "{component} pushed back on {scenario}'s {signal}{limit}: {retried} of {pushes} {unit} retried ({refusals} refusals); {end}. It answered {status}: {answer}",
            component = p.component,
            signal = p.signal,
            retried = p.retried_pushes,
            pushes = p.pushes,
            refusals = p.refusals,
            status = p.status,
            answer = p.answer.trim(),
        );
        PushBackFinding {
            scenario: scenario.into(),
            all_delivered: p.all_delivered(),
            pushback: p,
            summary,
        }
    }
}

impl Report {
    /// A report of run `run_id` from its components and checks.
    pub fn new(
        run_id: String,
        required: BTreeSet<Component>,
        configs: ConfigSet,
        components: Vec<ComponentReport>,
        checks: Vec<CheckReport>,
    ) -> Self {
        // Whatever a reason quotes (a backend's answer, an error), no credential of a
        // URL in it reaches the report.
        let checks: Vec<CheckReport> = checks
            .into_iter()
            .map(|mut c| {
                c.reason = redact_url(&c.reason);
                c
            })
            .collect();
        let components: Vec<ComponentReport> = components
            .into_iter()
            .map(|mut c| {
                c.reason = c.reason.as_deref().map(redact_url);
                c.refused_guide_config = c.refused_guide_config.as_deref().map(redact_url);
                c
            })
            .collect();
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        let summary = Summary {
            passed: count(CheckStatus::Pass),
            failed: count(CheckStatus::Fail),
            skipped: count(CheckStatus::Skip),
        };
        let mut problems = Vec::new();
        for c in &components {
            if c.status == ComponentStatus::Failed {
                problems.push(match c.image.is_empty() {
                    true => format!(
                        "{} failed its preflight: {}",
                        c.name,
                        first_line(c.reason.as_deref().unwrap_or_default())
                    ),
                    false => c
                        .died
                        .as_ref()
                        .map(|d| d.sentence(c.name))
                        .unwrap_or_else(|| format!("{} failed to start", c.name)),
                });
            }
            if required.contains(&c.name) {
                if c.status == ComponentStatus::Skipped {
                    problems.push(format!("{} was skipped but is required", c.name));
                }
                if let Some(s) = &c.stand_in {
                    problems.push(format!(
                        "{} was filled by a stand-in ({s}) but is required",
                        c.name
                    ));
                }
            }
        }
        let skipped_required = checks
            .iter()
            .filter(|c| c.skipped_for_required(&required))
            .count();
        if skipped_required > 0 {
            problems.push(format!(
                "{skipped_required} checks were skipped because of a required component"
            ));
        }
        let skips = skip_groups(&components, &checks);
        let down = |n: &Component| {
            components
                .iter()
                .find(|c| c.name == *n)
                .is_none_or(|c| c.status != ComponentStatus::Ready)
        };
        let all_needs_down = checks.iter().all(|c| c.needs.iter().all(down));
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            target: "containers".into(),
            guide_defects: guide_defects(configs, &components, &checks),
            nothing_verified: nothing_verified(summary, &skips, all_needs_down),
            skips,
            run_id,
            required,
            configs,
            components,
            checks,
            summary,
            problems,
            pushback: Vec::new(),
            sent: Vec::new(),
            faults: Vec::new(),
            delivery: Vec::new(),
        }
    }

    /// This report with the stack's push-back findings.
    pub fn with_pushback(mut self, findings: Vec<PushBackFinding>) -> Self {
        self.pushback = findings;
        self
    }

    /// The same report of a run on `target` (as [`crate::core::target::ExternalTarget`]
    /// displays it); the text is redacted once more here.
    pub fn with_target(mut self, target: &str) -> Self {
        self.target = redact_url(target);
        self
    }

    /// The process exit code this report implies: a failure first, then a run that
    /// verified nothing; success only when a check passed.
    pub fn exit_code(&self) -> i32 {
        if self.summary.failed > 0 || !self.problems.is_empty() {
            exit::CHECKS_FAILED
        } else if self.nothing_verified.is_some() {
            exit::NOTHING_VERIFIED
        } else {
            exit::OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(
        name: Component,
        status: ComponentStatus,
        stand_in: Option<&str>,
    ) -> ComponentReport {
        ComponentReport {
            name,
            image: "img:1".into(),
            status,
            ready_ms: None,
            version: None,
            reason: None,
            stand_in: stand_in.map(str::to_owned),
            refused_guide_config: None,
            died: None,
        }
    }

    fn check(status: CheckStatus) -> CheckReport {
        CheckReport {
            id: "x".into(),
            title: "t".into(),
            signal: Signal::Metrics,
            component: Component::Mimir,
            needs: vec![Component::Prometheus, Component::Mimir],
            status,
            reason: String::new(),
            query: "q".into(),
            guide_query: None,
            time_to_visible_ms: None,
            skipped_because: Vec::new(),
        }
    }

    #[test]
    fn skips_pass_unless_required() {
        let components = || {
            vec![
                component(Component::Loki, ComponentStatus::Skipped, None),
                component(Component::Mimir, ComponentStatus::Ready, Some("prometheus")),
            ]
        };
        let checks = || vec![check(CheckStatus::Pass), check(CheckStatus::Skip)];
        let lenient = Report::new(
            "r".into(),
            BTreeSet::new(),
            ConfigSet::Fixed,
            components(),
            checks(),
        );
        assert_eq!(lenient.exit_code(), exit::OK);
        assert_eq!(
            lenient.summary,
            Summary {
                passed: 1,
                failed: 0,
                skipped: 1
            }
        );

        let all: BTreeSet<_> = Component::ALL.into_iter().collect();
        let strict = Report::new("r".into(), all, ConfigSet::Fixed, components(), checks());
        assert_eq!(strict.exit_code(), exit::CHECKS_FAILED);
        assert_eq!(strict.problems.len(), 3, "{:?}", strict.problems);

        // Requiring only Loki: the metrics check's skip does not matter, Loki's does.
        let loki = Report::new(
            "r".into(),
            BTreeSet::from([Component::Loki]),
            ConfigSet::Fixed,
            components(),
            checks(),
        );
        assert_eq!(
            loki.problems,
            vec!["loki was skipped but is required".to_string()]
        );
        // Requiring Prometheus: the skipped metrics check needs it.
        let prom = Report::new(
            "r".into(),
            BTreeSet::from([Component::Prometheus]),
            ConfigSet::Fixed,
            components(),
            checks(),
        );
        assert_eq!(prom.problems.len(), 1, "{:?}", prom.problems);
        assert_eq!(prom.exit_code(), exit::CHECKS_FAILED);
    }

    #[test]
    fn guide_defects_come_from_rejected_originals_and_guide_mode_failures() {
        let mut rejected = check(CheckStatus::Pass);
        rejected.id = "logql.guide.p95_latency.original".into();
        rejected.reason = "rejected, as the guide's query is wrong: parse error".into();
        let mut failed = check(CheckStatus::Fail);
        failed.id = "config.loki.compactor_retention_enabled".into();
        let mut refused = component(Component::Tempo, ComponentStatus::Ready, None);
        refused.refused_guide_config = Some("tempo exited: bad field".into());
        let comps = vec![
            component(Component::Loki, ComponentStatus::Failed, None),
            refused,
        ];
        let fixed = guide_defects(
            ConfigSet::Fixed,
            &comps,
            &[rejected.clone(), failed.clone()],
        );
        assert_eq!(
            fixed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["logql.guide.p95_latency.original"]
        );
        let guide = guide_defects(ConfigSet::Guide, &comps, &[rejected, failed]);
        assert_eq!(
            guide.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            [
                "component.loki",
                "component.tempo",
                "logql.guide.p95_latency.original",
                "config.loki.compactor_retention_enabled"
            ]
        );
    }

    #[test]
    fn a_failed_check_or_component_fails_the_run() {
        let r = Report::new(
            "r".into(),
            BTreeSet::new(),
            ConfigSet::Fixed,
            vec![],
            vec![check(CheckStatus::Fail)],
        );
        assert_eq!(r.exit_code(), exit::CHECKS_FAILED);
        let r = Report::new(
            "r".into(),
            BTreeSet::new(),
            ConfigSet::Fixed,
            vec![component(Component::Loki, ComponentStatus::Failed, None)],
            vec![],
        );
        assert_eq!(r.exit_code(), exit::CHECKS_FAILED);
    }

    /// A component skipped because its image is missing, as the runner reports it.
    fn missing(name: Component, image: &str) -> ComponentReport {
        ComponentReport {
            image: image.into(),
            reason: Some(ComponentReport::image_missing_reason(
                image,
                "Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host\n\
                 (a second line of the daemon's error)",
            )),
            ..component(name, ComponentStatus::Skipped, None)
        }
    }

    fn skipped(id: &str, because: &[Component]) -> CheckReport {
        CheckReport {
            id: id.into(),
            skipped_because: because.to_vec(),
            reason: "needs …, which is not running".into(),
            ..check(CheckStatus::Skip)
        }
    }

    #[test]
    fn a_skip_fails_a_requirement_only_when_the_required_component_caused_it() {
        // Grafana's view of the metrics: needs Grafana and Prometheus; skipped
        // because Grafana's image is missing, while Prometheus (required) ran.
        let mut through_grafana = skipped("grafana.datasource.mimir", &[Component::Grafana]);
        through_grafana.needs = vec![Component::Grafana, Component::Prometheus];
        let prometheus = BTreeSet::from([Component::Prometheus]);
        assert!(!through_grafana.skipped_for_required(&prometheus));
        let r = Report::new(
            "r".into(),
            prometheus.clone(),
            ConfigSet::Fixed,
            vec![
                missing(Component::Grafana, "grafana/grafana:11.3.0"),
                component(Component::Prometheus, ComponentStatus::Ready, None),
            ],
            vec![check(CheckStatus::Pass), through_grafana.clone()],
        );
        assert_eq!(r.problems, Vec::<String>::new());
        assert_eq!(r.exit_code(), exit::OK);
        // Requiring Grafana, the same skip fails the run.
        let grafana = BTreeSet::from([Component::Grafana]);
        assert!(through_grafana.skipped_for_required(&grafana));
        // A check skipped for a reason of its own is judged by what it needs.
        let mut own = check(CheckStatus::Skip);
        own.reason = "the stand-in has no such setting".into();
        assert!(own.skipped_for_required(&prometheus));
        assert!(!check(CheckStatus::Pass).skipped_for_required(&prometheus));
    }

    fn report(components: Vec<ComponentReport>, checks: Vec<CheckReport>) -> Report {
        Report::new(
            "r".into(),
            BTreeSet::new(),
            ConfigSet::Fixed,
            components,
            checks,
        )
    }

    #[test]
    fn a_run_of_skips_only_verified_nothing() {
        let r = report(
            vec![
                missing(Component::Loki, "grafana/loki:3.2.0"),
                missing(Component::Tempo, "grafana/tempo:2.6.0"),
            ],
            vec![
                skipped("http.logs.exact", &[Component::Loki]),
                skipped("http.traces.exact_ids", &[Component::Tempo]),
            ],
        );
        assert_eq!(r.exit_code(), exit::NOTHING_VERIFIED);
        assert_eq!(
            r.nothing_verified.as_deref(),
            Some(
                "nothing was verified: every component needed by every check was skipped: \
                 image grafana/loki:3.2.0 is not available (loki); \
                 image grafana/tempo:2.6.0 is not available (tempo)"
            )
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn a_run_without_checks_verified_nothing() {
        let r = report(
            vec![component(Component::Loki, ComponentStatus::Ready, None)],
            vec![],
        );
        assert_eq!(r.exit_code(), exit::NOTHING_VERIFIED);
        assert_eq!(
            r.nothing_verified.as_deref(),
            Some("nothing was verified: the run made no checks")
        );
        let r = report(vec![], vec![]);
        assert_eq!(r.exit_code(), exit::NOTHING_VERIFIED);
    }

    #[test]
    fn skips_are_grouped_by_cause_with_the_pull_error_once() {
        let mut not_possible = check(CheckStatus::Skip);
        not_possible.id = "http.correlation.metrics_to_traces".into();
        not_possible.reason = "no exemplars are emitted\n(second line)".into();
        let r = report(
            vec![
                missing(Component::Prometheus, "nope/none:1"),
                missing(Component::Mimir, "nope/none:1"),
                missing(Component::Loki, "grafana/loki:3.2.0"),
            ],
            vec![
                skipped(
                    "metrics.http_requests_total.exact",
                    &[Component::Prometheus, Component::Mimir],
                ),
                skipped(
                    "promql.guide.request_rate",
                    &[Component::Prometheus, Component::Mimir],
                ),
                skipped("http.logs.exact", &[Component::Loki]),
                skipped("logql.guide.regex", &[Component::Loki]),
                skipped(
                    "dashboard.panel3.A",
                    &[Component::Loki, Component::Prometheus],
                ),
                not_possible,
            ],
        );
        let pull = "Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host";
        assert_eq!(
            r.skips,
            vec![
                SkipGroup {
                    cause: "image nope/none:1 is not available".into(),
                    detail: Some(pull.into()),
                    components: vec![Component::Prometheus, Component::Mimir],
                    checks: vec![
                        "metrics.http_requests_total.exact".into(),
                        "promql.guide.request_rate".into(),
                        "dashboard.panel3.A".into(),
                    ],
                },
                SkipGroup {
                    cause: "image grafana/loki:3.2.0 is not available".into(),
                    detail: Some(pull.into()),
                    components: vec![Component::Loki],
                    checks: vec![
                        "http.logs.exact".into(),
                        "logql.guide.regex".into(),
                        "dashboard.panel3.A".into(),
                    ],
                },
                SkipGroup {
                    cause: "no exemplars are emitted".into(),
                    detail: None,
                    components: vec![],
                    checks: vec!["http.correlation.metrics_to_traces".into()],
                },
            ]
        );
        assert_eq!(r.summary.skipped, 6);
        assert_eq!(
            r.nothing_verified.as_deref(),
            Some(
                "nothing was verified: every component needed by every check was skipped: \
                 image nope/none:1 is not available (prometheus, mimir); \
                 image grafana/loki:3.2.0 is not available (loki); no exemplars are emitted"
            )
        );
        // With the components up, a check skipped for a reason of its own is still
        // not a verification, and the line says the checks were skipped.
        let mut own = check(CheckStatus::Skip);
        own.reason = "the mimir role is filled by a stand-in".into();
        let r = report(
            vec![
                component(Component::Prometheus, ComponentStatus::Ready, None),
                component(Component::Mimir, ComponentStatus::Ready, Some("prometheus")),
            ],
            vec![own],
        );
        assert_eq!(
            r.nothing_verified.as_deref(),
            Some(
                "nothing was verified: every check was skipped: \
                 the mimir role is filled by a stand-in"
            )
        );
        assert_eq!(r.exit_code(), exit::NOTHING_VERIFIED);
        assert_eq!(r.exit_code(), exit::NOTHING_VERIFIED);
    }

    #[test]
    fn one_pass_among_skips_is_success_and_a_failure_is_not() {
        let r = report(
            vec![missing(Component::Loki, "grafana/loki:3.2.0")],
            vec![
                check(CheckStatus::Pass),
                skipped("http.logs.exact", &[Component::Loki]),
            ],
        );
        assert_eq!(r.exit_code(), exit::OK);
        assert_eq!(r.nothing_verified, None);
        assert_eq!(r.skips.len(), 1);

        let r = report(
            vec![],
            vec![check(CheckStatus::Pass), check(CheckStatus::Fail)],
        );
        assert_eq!(r.exit_code(), exit::CHECKS_FAILED);
        // Nothing passed and one failed: a failure, not "nothing verified".
        let r = report(
            vec![],
            vec![check(CheckStatus::Fail), check(CheckStatus::Skip)],
        );
        assert_eq!(r.exit_code(), exit::CHECKS_FAILED);
        assert!(r.nothing_verified.is_some());
    }

    #[test]
    fn a_component_that_failed_to_start_is_a_cause_in_one_line() {
        let mut failed = component(Component::Tempo, ComponentStatus::Failed, None);
        failed.reason = Some("tempo exited: line 3: field x not found\nmore log".into());
        let groups = skip_groups(&[failed], &[skipped("t", &[Component::Tempo])]);
        assert_eq!(groups[0].cause, "tempo failed to start");
        assert_eq!(
            groups[0].detail.as_deref(),
            Some("tempo exited: line 3: field x not found")
        );
    }

    #[test]
    fn reasons_never_carry_url_credentials() {
        let mut c = check(CheckStatus::Fail);
        c.reason = "loki at http://u:CanaryPw1@l:3100/x?token=CanaryTok2 answered 401".into();
        let mut failed = component(Component::Loki, ComponentStatus::Failed, None);
        failed.reason = Some("http://u:CanaryPw3@l:3100 refused".into());
        let r = report(vec![failed], vec![c]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("Canary"), "{shown}");
        assert_eq!(
            r.checks[0].reason,
            "loki at http://***@l:3100/x?token=*** answered 401"
        );
    }

    #[test]
    fn a_pushback_finding_names_the_limit_the_retries_and_the_end() {
        use lgtm_check_recorder::manifest::PushBack;
        // Loki 3.2.0's answer with `ingestion_rate_mb: 1` (harness/tests/data/configs).
        let answer = "Ingestion rate limit exceeded for user fake (limit: 1048576 bytes/sec) while attempting to ingest '1000' lines totaling '112000' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased";
        let p = PushBack {
            signal: "logs".into(),
            component: "loki".into(),
            status: "429 Too Many Requests".into(),
            answer: answer.into(),
            limit: lgtm_check_recorder::manifest::limit_named_in(answer),
            pushes: 100,
            refusals: 30,
            retried_pushes: 30,
            abandoned_pushes: 0,
            items: 100_000,
            delivered: 100_000,
        };
        let f = PushBackFinding::new("volume", p.clone());
        assert!(f.all_delivered);
        assert!(
            f.summary.starts_with("loki pushed back on volume's logs (limit: 1048576 bytes/sec): 30 of 100 pushes retried (30 refusals); all 100000 lines accepted in the end. It answered 429 Too Many Requests: Ingestion rate limit exceeded"),
            "{}",
            f.summary
        );
        let lost = PushBackFinding::new(
            "volume",
            PushBack {
                abandoned_pushes: 2,
                delivered: 98_000,
                ..p
            },
        );
        assert!(!lost.all_delivered);
        assert!(
            lost.summary
                .contains("98000 of 100000 lines accepted in the end; 2 pushes given up"),
            "{}",
            lost.summary
        );
    }
}

/// The failed check `<prefix>.scenario` of a scenario that did not run to its end:
/// it exited non-zero (before or after its manifest), timed out, or wrote no
/// readable manifest. `how` says what happened (exit status, stderr's error);
/// `losses` are its manifest's, when it wrote one. A run reports it and goes on.
///
/// It is put under the component of the first signal the scenario lost, else of the
/// backend its error names (Loki, Tempo's OTLP, the scrape), else Tempo (every
/// scenario sends spans).
pub fn scenario_failed(
    spec: &super::scenarios::ScenarioSpec,
    how: &str,
    losses: &[lgtm_check_recorder::manifest::Loss],
) -> CheckReport {
    use super::check::Signal;
    use super::component::Component;
    let by_signal = |s: &str| match s {
        "logs" => Some((Signal::Logs, Component::Loki)),
        "traces" => Some((Signal::Traces, Component::Tempo)),
        "metrics" => Some((Signal::Metrics, Component::Prometheus)),
        _ => None,
    };
    let lower = how.to_lowercase();
    let (signal, component) = losses
        .iter()
        .find_map(|l| by_signal(&l.signal))
        .or_else(|| {
            [
                ("loki", "logs"),
                ("otlp", "traces"),
                ("span", "traces"),
                ("tempo", "traces"),
                ("scrape", "metrics"),
                ("remote write", "metrics"),
            ]
            .iter()
            .find(|(word, _)| lower.contains(word))
            .and_then(|(_, s)| by_signal(s))
        })
        .unwrap_or((Signal::Traces, Component::Tempo));
    let lost: Vec<String> = losses
        .iter()
        .map(|l| {
            let what = match l.signal.as_str() {
                "logs" => "lines",
                "traces" => "spans",
                other => other,
            };
            format!("{} {what} lost at {}", l.count, l.place)
        })
        .collect();
    let mut reason = format!("scenario {} {how}", spec.binary);
    if !lost.is_empty() {
        reason.push_str(&format!("; its manifest names: {}", lost.join(", ")));
    }
    CheckReport {
        id: format!("{}.scenario", spec.prefix),
        title: format!(
            "the scenario {} ran to its end and delivered everything it emitted",
            spec.binary
        ),
        signal,
        component,
        needs: vec![component],
        status: CheckStatus::Fail,
        reason,
        query: format!("(the scenario {}'s exit status)", spec.binary),
        guide_query: None,
        time_to_visible_ms: None,
        skipped_because: Vec::new(),
    }
}

#[cfg(test)]
mod scenario_failed_tests {
    use super::*;
    use crate::core::component::Component;
    use crate::core::scenarios::SCENARIOS;
    use lgtm_check_recorder::manifest::Loss;

    #[test]
    fn a_failed_scenario_is_a_failed_check_named_after_it_under_what_it_lost() {
        let r = scenario_failed(
            &SCENARIOS[0],
            "exited (exit status: 1) after writing its manifest: Error: … 3 pushes to Loki failed",
            &[Loss::new("logs", "loki push failed: …", 12)],
        );
        assert_eq!(r.id, "http.scenario");
        assert_eq!(r.component, Component::Loki);
        assert_eq!(r.status, CheckStatus::Fail);
        assert!(
            r.reason
                .starts_with("scenario http-service exited (exit status: 1)")
        );
        assert!(
            r.reason.contains("12 lines lost at loki push failed"),
            "{}",
            r.reason
        );
        let r = scenario_failed(&SCENARIOS[3], "wrote no manifest within 180s", &[]);
        assert_eq!(
            (r.id.as_str(), r.component),
            ("sampling.scenario", Component::Tempo)
        );
    }
}
