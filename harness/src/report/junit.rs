//! The JUnit XML report (`--junit PATH`), built with the `quick-junit` crate, for CI
//! systems that show test results.
//!
//! One run becomes one `<testsuite>` per component that checks query (`loki`,
//! `tempo`, …) with one `<testcase>` per check, plus a `components` suite with one
//! testcase per component (ready, failed, or skipped with its reason). A skipped
//! check is `<skipped>` with its reason; a failed one is `<failure>` whose text holds
//! the reason (what was expected and what the backend last answered) and the query;
//! a check's time is its time-to-visible (absent when nothing became visible). Every
//! suite carries the run id, the config set and each component's image and version
//! as properties.
//!
//! Several runs go into one document as separate suites named by their side
//! (`baseline.loki`, `candidate.loki`): [`Junit::add_run`]. [`render`] writes the
//! document of one run; [`render_gate`] the document of an upgrade gate: both runs,
//! then a suite [`GATE_SUITE`] whose testcases are the gate's verdicts
//! ([`Junit::add_gate`]). Texts come from the [`Report`], whose reasons are already
//! redacted; every text is redacted once more here, so no credential of a URL can
//! reach the file.

use std::io::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use crate::clients::redact_url;
use crate::core::component::Component;
use crate::core::gate::{
    Change, CheckDiff, CheckOutcome, ComponentDiff, ComponentSide, GateReport,
};
use crate::core::gate_corpus::{CorpusReport, SourceKind};
use crate::core::report::{CheckReport, CheckStatus, ComponentReport, ComponentStatus, Report};

/// The name of the suite with one testcase per component.
pub const COMPONENTS_SUITE: &str = "components";

/// The name of the suite with the upgrade gate's verdicts.
pub const GATE_SUITE: &str = "gate";

/// A JUnit document: the suites of one or more runs.
#[derive(Debug, Clone)]
pub struct Junit {
    document: quick_junit::Report,
}

impl Junit {
    /// An empty document named `name` (the `<testsuites name>`).
    pub fn new(name: &str) -> Self {
        Junit {
            document: quick_junit::Report::new(name),
        }
    }

    /// Adds the suites of `report`. With a `side` (`baseline`, `candidate`) the suites
    /// and classnames are prefixed with it (`candidate.loki`) and every suite has a
    /// `side` property, so several runs fit in one document.
    pub fn add_run(&mut self, report: &Report, side: Option<&str>) -> &mut Self {
        self.document.add_test_suites(suites(report, side));
        self
    }

    /// Adds the suite [`GATE_SUITE`]: one testcase per check (classname
    /// `gate.<component>`) whose verdict is what changed between the sides, and one
    /// per component (classname `gate.components`). See [`gate_suite`].
    pub fn add_gate(&mut self, report: &GateReport) -> &mut Self {
        self.document.add_test_suite(gate_suite(report));
        if let Some(corpus) = &report.corpus {
            self.document
                .add_test_suite(corpus_suite(corpus, report.strict));
        }
        self
    }

    /// The document as built so far (counts included), e.g. to add suites of one's own.
    pub fn document(&self) -> &quick_junit::Report {
        &self.document
    }

    /// Writes the document as XML, then a newline.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        self.document
            .serialize(&mut *out)
            .map_err(std::io::Error::other)?;
        writeln!(out)
    }
}

/// Writes the JUnit document of one run.
pub fn render(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    Junit::new("lgtm-check").add_run(report, None).write(out)
}

/// Writes the JUnit document of an upgrade gate: the baseline's run (suites
/// `baseline.*`), the candidate's (`candidate.*`), then the suite [`GATE_SUITE`].
pub fn render_gate(
    baseline: &Report,
    candidate: &Report,
    gate: &GateReport,
    out: &mut impl Write,
) -> std::io::Result<()> {
    Junit::new("lgtm-check gate")
        .add_run(baseline, Some("baseline"))
        .add_run(candidate, Some("candidate"))
        .add_gate(gate)
        .write(out)
}

/// The suites of one run: the `components` suite, then one per component that checks
/// query, in [`Component::ALL`] order.
pub fn suites(report: &Report, side: Option<&str>) -> Vec<TestSuite> {
    let name = |base: &str| match side {
        Some(side) => format!("{side}.{base}"),
        None => base.to_owned(),
    };
    let properties = run_properties(report, side);

    let mut components = TestSuite::new(name(COMPONENTS_SUITE));
    components.add_properties(properties.clone());
    components.add_test_cases(
        report
            .components
            .iter()
            .map(|c| component_case(c, report, &name(COMPONENTS_SUITE))),
    );
    let notes: Vec<String> = report
        .problems
        .iter()
        .chain(&report.nothing_verified)
        .map(|p| redact_url(p))
        .collect();
    if !notes.is_empty() {
        components.set_system_out(notes.join("\n"));
    }

    let mut out = vec![components];
    for component in Component::ALL {
        let checks: Vec<&CheckReport> = report
            .checks
            .iter()
            .filter(|c| c.component == component)
            .collect();
        if checks.is_empty() {
            continue;
        }
        let suite_name = name(component.name());
        let mut suite = TestSuite::new(suite_name.clone());
        suite.add_properties(properties.clone());
        suite.add_test_cases(checks.into_iter().map(|c| check_case(c, &suite_name)));
        out.push(suite);
    }
    out
}

/// The properties every suite of a run carries.
fn run_properties(report: &Report, side: Option<&str>) -> Vec<Property> {
    let mut p = vec![Property::new("run_id", report.run_id.as_str())];
    if let Some(side) = side {
        p.push(Property::new("side", side));
    }
    let configs = serde_json::to_value(report.configs)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    p.push(Property::new("configs", configs));
    for c in &report.components {
        p.push(Property::new(
            format!("image.{}", c.name),
            redact_url(&c.image),
        ));
        if let Some(v) = &c.version {
            p.push(Property::new(format!("version.{}", c.name), v.as_str()));
        }
        if let Some(s) = &c.stand_in {
            p.push(Property::new(format!("stand_in.{}", c.name), s.as_str()));
        }
    }
    p
}

/// The longest `message` attribute; the element's text holds the whole reason.
const MESSAGE_CHARS: usize = 300;

/// The first non-empty line of `text`, cut to [`MESSAGE_CHARS`].
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() > MESSAGE_CHARS {
        let cut: String = line.chars().take(MESSAGE_CHARS).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// One check as a testcase.
fn check_case(check: &CheckReport, classname: &str) -> TestCase {
    let reason = redact_url(&check.reason);
    let mut text = format!("{}\nquery: {}", reason, redact_url(&check.query));
    if let Some(g) = &check.guide_query {
        text.push_str(&format!("\nthe guide's query: {}", redact_url(g)));
    }
    let status = match check.status {
        CheckStatus::Pass => TestCaseStatus::success(),
        CheckStatus::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(first_line(&reason))
                .set_type("check failed")
                .set_description(text.as_str());
            s
        }
        CheckStatus::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(first_line(&reason))
                .set_description(text.as_str());
            s
        }
    };
    let mut case = TestCase::new(check.id.as_str(), status);
    case.set_classname(classname);
    if let Some(ms) = check.time_to_visible_ms {
        case.set_time(Duration::from_millis(ms));
    }
    // What a passed check verified, and what every check is about.
    let out = match check.status {
        CheckStatus::Pass => format!("{}\n{text}", check.title),
        _ => check.title.clone(),
    };
    case.set_system_out(out);
    case
}

/// One component as a testcase of the `components` suite. A required component
/// (`--require`) that was skipped or stood in for is a failure, as it fails the run.
fn component_case(c: &ComponentReport, report: &Report, classname: &str) -> TestCase {
    let required = report.required.contains(&c.name);
    let failure = |message: String, text: Option<String>| {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(redact_url(&message))
            .set_type("component failed");
        if let Some(t) = text {
            s.set_description(redact_url(&t));
        }
        s
    };
    let down = || {
        let because = c.down_because().unwrap_or_default();
        match c.short_error() {
            Some(e) => format!("{because}: {e}"),
            None => because,
        }
    };
    let status = match (c.status, &c.stand_in) {
        (ComponentStatus::Failed, _) => {
            failure(c.down_because().unwrap_or_default(), c.reason.clone())
        }
        (ComponentStatus::Skipped, _) if required => {
            failure(format!("required, but skipped: {}", down()), None)
        }
        (ComponentStatus::Skipped, _) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(redact_url(&down()));
            s
        }
        (ComponentStatus::Ready, Some(stand_in)) if required => failure(
            format!("required, but filled by a stand-in ({stand_in})"),
            None,
        ),
        (ComponentStatus::Ready, _) => TestCaseStatus::success(),
    };
    let mut case = TestCase::new(c.name.name(), status);
    case.set_classname(classname);
    if let Some(ms) = c.ready_ms {
        case.set_time(Duration::from_millis(ms));
    }
    let mut out = format!("image {}", c.image);
    if let Some(v) = &c.version {
        out.push_str(&format!(", version {v}"));
    }
    if let Some(ms) = c.ready_ms {
        out.push_str(&format!(", ready in {ms} ms"));
    }
    if let Some(s) = &c.stand_in {
        out.push_str(&format!(", stand-in: {s}"));
    }
    // A ready component's reason says why a stand-in fills its role.
    if let (ComponentStatus::Ready, Some(why)) = (c.status, &c.reason) {
        out.push_str(&format!("\n{why}"));
    }
    if let Some(why) = &c.refused_guide_config {
        out.push_str(&format!("\nthe guide's config was refused: {why}"));
    }
    case.set_system_out(redact_url(&out));
    case
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "PASS",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Skip => "SKIP",
    }
}

/// `baseline: PASS in 900 ms: 1 series as expected` (or `not in this run`).
fn side_answer(label: &str, o: Option<&CheckOutcome>) -> String {
    match o {
        Some(o) => {
            let ttv = o
                .time_to_visible_ms
                .map(|ms| format!(" in {ms} ms"))
                .unwrap_or_default();
            format!("{label}: {}{ttv}: {}", status_word(o.status), o.reason)
        }
        None => format!("{label}: not in this run"),
    }
}

/// Both sides' answers and the queries (one line when both asked the same).
fn both_answers(c: &CheckDiff) -> String {
    let mut text = format!(
        "{}\n{}",
        side_answer("baseline", c.baseline.as_ref()),
        side_answer("candidate", c.candidate.as_ref())
    );
    match (&c.baseline, &c.candidate) {
        (Some(b), Some(k)) if b.query != k.query => text.push_str(&format!(
            "\nbaseline query: {}\ncandidate query: {}",
            b.query, k.query
        )),
        (b, k) => {
            if let Some(o) = k.as_ref().or(b.as_ref()) {
                text.push_str(&format!("\nquery: {}", o.query));
            }
        }
    }
    redact_url(&text)
}

/// One check of the gate as a testcase: a failure when it fails the gate
/// (regressed, failing where it was skipped, failing where it did not exist);
/// skipped when the gate could not compare it (skipped on the candidate, or on both
/// sides, or absent from the candidate's run); otherwise passed (unchanged, fixed,
/// passing where it was skipped). Its time is the candidate's time-to-visible.
fn gate_check_case(c: &CheckDiff) -> TestCase {
    let answers = both_answers(c);
    let candidate_status = c.candidate.as_ref().map(|o| o.status);
    let candidate_reason = c
        .candidate
        .as_ref()
        .map(|o| redact_url(&o.reason))
        .unwrap_or_default();
    let skipped = |message: String| {
        let mut s = TestCaseStatus::skipped();
        s.set_message(first_line(&message))
            .set_description(answers.as_str());
        s
    };
    let status = if c.fails_gate() {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let was = match c.baseline.as_ref().map(|o| o.status) {
            Some(b) => status_word(b),
            None => "absent",
        };
        s.set_message(first_line(&format!(
            "{} ({was} → FAIL): {candidate_reason}",
            c.change.word()
        )))
        .set_type(match c.change {
            Change::Regressed => "regressed",
            Change::FailingFromSkip => "failing (was skipped)",
            _ => "failing (only on the candidate)",
        })
        .set_description(answers.as_str());
        s
    } else {
        match (c.change, candidate_status) {
            (Change::OnlyBaseline, _) => skipped("not in the candidate's run".into()),
            (Change::Unchanged, Some(CheckStatus::Skip)) => {
                skipped(format!("skipped on both sides: {candidate_reason}"))
            }
            (_, Some(CheckStatus::Skip)) => {
                skipped(format!("{}: {candidate_reason}", c.change.word()))
            }
            _ => TestCaseStatus::success(),
        }
    };
    let mut case = TestCase::new(c.id.as_str(), status);
    case.set_classname(format!("{GATE_SUITE}.{}", c.component));
    if let Some(ms) = c.candidate.as_ref().and_then(|o| o.time_to_visible_ms) {
        case.set_time(Duration::from_millis(ms));
    }
    let verdict = match (c.change, c.baseline.as_ref().map(|o| o.status)) {
        (Change::Unchanged, Some(CheckStatus::Fail)) => {
            "unchanged: fails on both sides (see the suites baseline.* and candidate.*)".to_owned()
        }
        (change, _) => change.word().to_owned(),
    };
    case.set_system_out(format!("{verdict}\n{}\n{answers}", c.title));
    case
}

/// `grafana/tempo:2.6.0, version 2.6.0, ready in 1424 ms, config PATH`.
fn describe_side(s: &ComponentSide) -> String {
    let mut out = s.image.clone();
    if let Some(v) = &s.version {
        out.push_str(&format!(", version {v}"));
    }
    if let Some(ms) = s.ready_ms {
        out.push_str(&format!(", ready in {ms} ms"));
    }
    if let Some(st) = &s.stand_in {
        out.push_str(&format!(", stand-in: {st}"));
    }
    if let Some(c) = &s.config {
        out.push_str(&format!(", config {c}"));
    }
    out
}

/// One component of the gate as a testcase: a failure when it did not start on the
/// candidate (with its own log line); skipped when it did not run on a side and its
/// image or config differs (the upgrade of it was not verified), or when it did not
/// run on the candidate; otherwise passed. Its time is the candidate's time to ready.
fn gate_component_case(c: &ComponentDiff) -> TestCase {
    let (b, k) = (c.baseline.as_ref(), c.candidate.as_ref());
    let not_run = |side: &str, s: Option<&ComponentSide>| -> Option<String> {
        match s {
            None => Some(format!("{} was not started on the {side}", c.name)),
            Some(s) if s.status == ComponentStatus::Ready => None,
            Some(s) => {
                let how = if s.status == ComponentStatus::Failed {
                    "did not start"
                } else {
                    "did not run"
                };
                Some(match &s.reason {
                    Some(r) => format!("{} {how} on the {side}: {r}", c.name),
                    None => format!("{} {how} on the {side}", c.name),
                })
            }
        }
    };
    let status = if let Some(k) = k.filter(|k| k.status == ComponentStatus::Failed) {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(format!("{} did not start on the candidate", c.name))
            .set_type("component failed");
        if let Some(r) = &k.reason {
            s.set_description(redact_url(r));
        }
        s
    } else {
        let why = if c.gated {
            not_run("baseline", b).or_else(|| not_run("candidate", k))
        } else {
            not_run("candidate", k)
        };
        match why {
            Some(why) => {
                let why = redact_url(&why);
                let mut s = TestCaseStatus::skipped();
                s.set_message(first_line(&why))
                    .set_description(why.as_str());
                s
            }
            None => TestCaseStatus::success(),
        }
    };
    let mut case = TestCase::new(c.name.name(), status);
    case.set_classname(format!("{GATE_SUITE}.{COMPONENTS_SUITE}"));
    if let Some(ms) = k.and_then(|k| k.ready_ms) {
        case.set_time(Duration::from_millis(ms));
    }
    let side = |s: Option<&ComponentSide>| s.map(describe_side).unwrap_or("not started".into());
    let mut out = format!(
        "{}baseline: {}\ncandidate: {}",
        if c.gated {
            "image or config differs\n"
        } else {
            ""
        },
        side(b),
        side(k)
    );
    if let Some(r) = c.ready_ratio {
        out.push_str(&format!("\ntime to ready ×{r:.2}"));
    }
    case.set_system_out(redact_url(&out));
    case
}

/// The suite [`GATE_SUITE`] of `report`: one testcase per component, then one per
/// check (in the report's order: the ones failing the gate first). Its properties
/// are the gate's run id and each side's; its `<system-out>` holds the gate's
/// problems and why it could not judge the upgrade.
pub fn gate_suite(report: &GateReport) -> TestSuite {
    let mut suite = TestSuite::new(GATE_SUITE);
    suite.add_properties([
        Property::new("run_id", report.run_id.as_str()),
        Property::new("baseline.run_id", report.baseline.run_id.as_str()),
        Property::new("candidate.run_id", report.candidate.run_id.as_str()),
    ]);
    suite.add_properties(report.components.iter().filter(|c| c.gated).map(|c| {
        Property::new(
            format!("gated.{}", c.name),
            redact_url(&format!(
                "{} → {}",
                c.baseline.as_ref().map_or("-", |s| s.image.as_str()),
                c.candidate.as_ref().map_or("-", |s| s.image.as_str())
            )),
        )
    }));
    suite.add_test_cases(report.components.iter().map(gate_component_case));
    suite.add_test_cases(report.checks.iter().map(gate_check_case));
    let notes: Vec<String> = report
        .problems
        .iter()
        .chain(&report.unverified)
        .map(|p| redact_url(p))
        .collect();
    if !notes.is_empty() {
        suite.set_system_out(notes.join("\n"));
    }
    suite
}

/// The suite `gate.corpus`: a case per language and source with its tally (failed
/// when a side did not show the whole workload of that language), then a case per
/// difference (failed when it fails the gate, skipped when accepted).
fn corpus_suite(corpus: &CorpusReport, strict: bool) -> TestSuite {
    let mut suite = TestSuite::new("gate.corpus");
    suite.add_property(Property::new("seed", corpus.seed.to_string()));
    for (language, by_source) in &corpus.tally {
        for (source, t) in by_source {
            let mut case = TestCase::new(
                format!("{} {} queries", language.name(), source.word()),
                TestCaseStatus::success(),
            );
            case.set_classname("gate.corpus");
            let lost: Vec<String> = corpus
                .incomplete
                .iter()
                .filter(|i| i.language == *language)
                .map(|i| {
                    format!(
                        "{}: {} of {} visible",
                        i.side, i.control.visible, i.control.expected
                    )
                })
                .collect();
            if !lost.is_empty() && *source == SourceKind::Generated {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(format!("the workload is incomplete: {}", lost.join("; ")));
                case.status = status;
            }
            case.set_system_out(format!(
                "{} queries: {} identical, {} both empty, {} both refused, {} different, {} not compared",
                t.total, t.identical, t.both_empty, t.both_refused, t.different, t.not_compared
            ));
            suite.add_test_case(case);
        }
    }
    for d in &corpus.differences {
        let status = if d.fails_gate(strict) {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("the answer changed at {}", d.first_release));
            s
        } else if let Some(reason) = &d.accepted {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("accepted: {reason}"));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(
            format!("{} {}", d.query.language.name(), d.query.query),
            status,
        );
        case.set_classname(format!(
            "gate.corpus.{}",
            crate::core::gate_corpus::group_name(&d.query.source)
        ));
        case.set_system_out(redact_url(&format!(
            "first at {}\nbefore: {}\nafter:  {}",
            d.first_release, d.before, d.after
        )));
        suite.add_test_case(case);
    }
    suite
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::core::check::Signal;
    use crate::core::plan::ConfigSet;

    fn component(name: Component, status: ComponentStatus) -> ComponentReport {
        ComponentReport {
            name,
            image: format!("grafana/{name}:1.0"),
            status,
            ready_ms: (status == ComponentStatus::Ready).then_some(2500),
            version: (status == ComponentStatus::Ready).then(|| "1.0.3".to_owned()),
            reason: None,
            stand_in: None,
            refused_guide_config: None,
            died: None,
        }
    }

    fn check(id: &str, component: Component, status: CheckStatus) -> CheckReport {
        CheckReport {
            id: id.into(),
            title: format!("the title of {id}"),
            signal: Signal::Logs,
            component,
            needs: vec![component],
            status,
            reason: "3 lines, as expected".into(),
            query: format!("{{run_id=\"r1\"}} # {id}"),
            guide_query: None,
            time_to_visible_ms: None,
            skipped_because: Vec::new(),
        }
    }

    /// A run with every outcome: checks that passed (with and without a
    /// time-to-visible), failed and were skipped; components ready, skipped, failed
    /// and stood in for. Canaries stand where a credential could leak.
    fn run(required: BTreeSet<Component>) -> Report {
        let mut tempo = component(Component::Tempo, ComponentStatus::Skipped);
        tempo.reason = Some(ComponentReport::image_missing_reason(
            "grafana/tempo:1.0",
            "dial tcp: lookup registry-1.docker.io: no such host",
        ));
        let mut grafana = component(Component::Grafana, ComponentStatus::Failed);
        grafana.reason =
            Some("grafana exited: cannot reach http://admin:CanaryPw1@db:5432\nlog".into());
        let mut mimir = component(Component::Mimir, ComponentStatus::Ready);
        mimir.stand_in = Some("cortex".into());
        mimir.reason = Some("cortex fills the role, because grafana/mimir:1.0 is missing".into());

        let mut visible = check("http.logs.exact", Component::Loki, CheckStatus::Pass);
        visible.time_to_visible_ms = Some(1234);
        let mut failed = check("logql.guide.regex", Component::Loki, CheckStatus::Fail);
        failed.reason = "not as expected after 60.0s: expected 3 lines, got 2: [\"GET /a\", \
                         \"GET /b\"] from http://u:CanaryPw2@loki:3100/x?token=CanaryTok3"
            .into();
        failed.query = "{service_name=\"http\"} |~ \"GET\" # http://u:CanaryPw4@x".into();
        failed.guide_query = Some("{service_name=\"http\"} |~ GET".into());
        let mut skipped = check("http.traces.exact_ids", Component::Tempo, CheckStatus::Skip);
        skipped.reason = "needs tempo, which is not running".into();
        skipped.skipped_because = vec![Component::Tempo];
        let metrics = check(
            "metrics.http_requests_total.exact",
            Component::Mimir,
            CheckStatus::Pass,
        );
        Report::new(
            "r1".into(),
            required,
            ConfigSet::Fixed,
            vec![
                component(Component::Loki, ComponentStatus::Ready),
                tempo,
                mimir,
                grafana,
            ],
            vec![visible, failed, skipped, metrics],
        )
    }

    fn xml(report: &Report) -> String {
        let mut buf = Vec::new();
        render(report, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn suite<'a, 'i>(doc: &'a roxmltree::Document<'i>, name: &str) -> roxmltree::Node<'a, 'i> {
        doc.descendants()
            .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no suite {name}"))
    }

    fn cases<'a, 'i>(
        suite: roxmltree::Node<'a, 'i>,
    ) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
        suite.children().filter(|n| n.has_tag_name("testcase"))
    }

    fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
        node.children().find(|n| n.has_tag_name(tag))
    }

    fn case<'a, 'i>(suite: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
        cases(suite)
            .find(|n| n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    }

    #[test]
    fn one_testcase_per_check_grouped_by_component() {
        let report = run(BTreeSet::new());
        let text = xml(&report);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let names: Vec<&str> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .map(|n| n.attribute("name").unwrap())
            .collect();
        assert_eq!(names, ["components", "loki", "tempo", "mimir"]);
        let check_cases: Vec<&str> = names[1..]
            .iter()
            .flat_map(|s| cases(suite(&doc, s)))
            .map(|n| n.attribute("name").unwrap())
            .collect();
        let ids: Vec<&str> = report.checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(check_cases, ids);
        // 4 checks + 4 components; 1 failed check + 1 failed component.
        assert_eq!(root.attribute("tests"), Some("8"));
        assert_eq!(root.attribute("failures"), Some("2"));
        assert_eq!(root.attribute("skipped"), Some("2"));

        let loki = suite(&doc, "loki");
        assert_eq!(
            (
                loki.attribute("tests"),
                loki.attribute("failures"),
                loki.attribute("skipped")
            ),
            (Some("2"), Some("1"), Some("0"))
        );
        let passed = case(loki, "http.logs.exact");
        assert_eq!(passed.attribute("classname"), Some("loki"));
        assert_eq!(passed.attribute("time"), Some("1.234"));
        assert!(child(passed, "failure").is_none() && child(passed, "skipped").is_none());
        // No time-to-visible: no time.
        let metrics = case(suite(&doc, "mimir"), "metrics.http_requests_total.exact");
        assert_eq!(metrics.attribute("time"), None);

        let props: Vec<(&str, &str)> = child(loki, "properties")
            .unwrap()
            .children()
            .filter(|n| n.has_tag_name("property"))
            .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
            .collect();
        for expected in [
            ("run_id", "r1"),
            ("configs", "fixed"),
            ("image.loki", "grafana/loki:1.0"),
            ("version.loki", "1.0.3"),
            ("image.tempo", "grafana/tempo:1.0"),
            ("stand_in.mimir", "cortex"),
        ] {
            assert!(props.contains(&expected), "{expected:?} not in {props:?}");
        }
    }

    #[test]
    fn a_failure_shows_expected_answer_and_query_and_a_skip_its_reason() {
        let text = xml(&run(BTreeSet::new()));
        let doc = roxmltree::Document::parse(&text).unwrap();
        let failed = case(suite(&doc, "loki"), "logql.guide.regex");
        let failure = child(failed, "failure").expect("a <failure>");
        assert_eq!(
            failure.attribute("message"),
            Some(
                "not as expected after 60.0s: expected 3 lines, got 2: [\"GET /a\", \
                 \"GET /b\"] from http://***@loki:3100/x?token=***"
            )
        );
        assert_eq!(failure.attribute("type"), Some("check failed"));
        let body = failure.text().unwrap();
        assert!(body.contains("expected 3 lines, got 2"), "{body}");
        assert!(
            body.contains("query: {service_name=\"http\"} |~ \"GET\" # http://***@x"),
            "{body}"
        );
        assert!(
            body.contains("the guide's query: {service_name=\"http\"} |~ GET"),
            "{body}"
        );

        let skipped = case(suite(&doc, "tempo"), "http.traces.exact_ids");
        let skip = child(skipped, "skipped").expect("a <skipped>");
        assert_eq!(
            skip.attribute("message"),
            Some("needs tempo, which is not running")
        );
        assert!(child(skipped, "failure").is_none());
    }

    #[test]
    fn components_are_ready_failed_or_skipped_with_the_reason() {
        let text = xml(&run(BTreeSet::new()));
        let doc = roxmltree::Document::parse(&text).unwrap();
        let components = suite(&doc, "components");
        assert_eq!(cases(components).count(), 4);
        let loki = case(components, "loki");
        assert_eq!(loki.attribute("time"), Some("2.500"));
        assert!(child(loki, "failure").is_none() && child(loki, "skipped").is_none());
        let tempo = child(case(components, "tempo"), "skipped").expect("tempo skipped");
        assert_eq!(
            tempo.attribute("message"),
            Some(
                "image grafana/tempo:1.0 is not available: \
                 dial tcp: lookup registry-1.docker.io: no such host"
            )
        );
        let grafana = child(case(components, "grafana"), "failure").expect("grafana failed");
        assert_eq!(
            grafana.attribute("message"),
            Some("grafana failed to start")
        );
        assert!(
            grafana.text().unwrap().contains("http://***@db:5432"),
            "{grafana:?}"
        );
        let mimir = child(case(components, "mimir"), "system-out").unwrap();
        assert_eq!(
            mimir.text(),
            Some(
                "image grafana/mimir:1.0, version 1.0.3, ready in 2500 ms, stand-in: cortex\n\
                 cortex fills the role, because grafana/mimir:1.0 is missing"
            )
        );
        // The run's problems are the suite's output.
        let out = child(components, "system-out").unwrap().text().unwrap();
        assert!(out.contains("grafana failed to start"), "{out}");
    }

    #[test]
    fn a_required_component_that_did_not_really_run_is_a_failure() {
        let report = run(BTreeSet::from([Component::Tempo, Component::Mimir]));
        let text = xml(&report);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let components = suite(&doc, "components");
        let tempo = child(case(components, "tempo"), "failure").expect("tempo fails");
        assert!(
            tempo
                .attribute("message")
                .unwrap()
                .starts_with("required, but skipped: image grafana/tempo:1.0 is not available"),
            "{tempo:?}"
        );
        let mimir = child(case(components, "mimir"), "failure").expect("mimir fails");
        assert_eq!(
            mimir.attribute("message"),
            Some("required, but filled by a stand-in (cortex)")
        );
        // The checks themselves stay what they were.
        let skipped = case(suite(&doc, "tempo"), "http.traces.exact_ids");
        assert!(child(skipped, "skipped").is_some());
    }

    #[test]
    fn a_long_answer_is_cut_in_the_message_and_whole_in_the_text() {
        let mut report = run(BTreeSet::new());
        let answer = "x".repeat(2 * MESSAGE_CHARS);
        report.checks[1].reason = format!("not as expected after 60.0s: got {answer}");
        let text = xml(&report);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let failure = child(case(suite(&doc, "loki"), "logql.guide.regex"), "failure").unwrap();
        let message = failure.attribute("message").unwrap();
        assert_eq!(message.chars().count(), MESSAGE_CHARS + 1, "{message}");
        assert!(message.ends_with('…'), "{message}");
        assert!(failure.text().unwrap().contains(&answer));
    }

    #[test]
    fn no_credential_reaches_the_file() {
        let text = xml(&run(BTreeSet::new()));
        assert!(!text.contains("Canary"), "{text}");
    }

    #[test]
    fn a_junit_reader_reads_back_what_was_written() {
        let report = run(BTreeSet::new());
        let mut junit = Junit::new("lgtm-check");
        junit.add_run(&report, None);
        let mut buf = Vec::new();
        junit.write(&mut buf).unwrap();
        let read = quick_junit::Report::deserialize(buf.as_slice()).unwrap();
        assert_eq!(&read, junit.document());
    }

    #[test]
    fn several_runs_are_suites_of_their_side() {
        let baseline = run(BTreeSet::new());
        let candidate = run(BTreeSet::new());
        let mut junit = Junit::new("lgtm-check gate");
        junit
            .add_run(&baseline, Some("baseline"))
            .add_run(&candidate, Some("candidate"));
        let mut buf = Vec::new();
        junit.write(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("name"), Some("lgtm-check gate"));
        assert_eq!(root.attribute("tests"), Some("16"));
        let regex = case(suite(&doc, "candidate.loki"), "logql.guide.regex");
        assert_eq!(regex.attribute("classname"), Some("candidate.loki"));
        let side = child(suite(&doc, "baseline.tempo"), "properties")
            .unwrap()
            .children()
            .find(|n| n.attribute("name") == Some("side"))
            .and_then(|n| n.attribute("value"));
        assert_eq!(side, Some("baseline"));
    }

    /// A baseline and a candidate whose checks changed every way the gate knows, and
    /// their comparison (Loki and Tempo gated).
    fn gate_sides() -> (Report, Report, GateReport) {
        use crate::core::gate::compare;
        let mut baseline = run(BTreeSet::new());
        baseline.run_id = "g-b".into();
        let both_fail = check("logql.both_fail", Component::Loki, CheckStatus::Fail);
        let mut was_skipped = check("traceql.was_skipped", Component::Tempo, CheckStatus::Skip);
        was_skipped.reason = "needs tempo, which is not running".into();
        baseline
            .checks
            .extend([both_fail.clone(), was_skipped.clone()]);

        let mut candidate = run(BTreeSet::new());
        candidate.run_id = "g-c".into();
        // Regressed: passed, now fails (the answer carries a credential).
        candidate.checks[0].status = CheckStatus::Fail;
        candidate.checks[0].reason =
            "not as expected after 60.0s: expected 3 lines, got 0 from http://u:CanaryPw5@loki:3100"
                .into();
        candidate.checks[0].time_to_visible_ms = None;
        candidate.checks[0].query = "{run_id=\"g-c-http\"}".into();
        // Fixed.
        candidate.checks[1].status = CheckStatus::Pass;
        candidate.checks[1].reason = "3 lines, as expected".into();
        candidate.checks[1].time_to_visible_ms = Some(800);
        // checks[2] skipped on both sides.
        // Newly skipped.
        candidate.checks[3].status = CheckStatus::Skip;
        candidate.checks[3].reason = "needs mimir, which is not running".into();
        let mut from_skip = was_skipped;
        from_skip.status = CheckStatus::Fail;
        from_skip.reason = "expected 1 series, got 0".into();
        let mut only = check(
            "traceql.only_candidate",
            Component::Tempo,
            CheckStatus::Fail,
        );
        only.reason = "expected 2 spans, got 1".into();
        candidate.checks.extend([both_fail, from_skip, only]);
        candidate.components[3].reason = Some(
            "grafana exited before it was ready; its log: cannot reach http://admin:CanaryPw6@db:5432"
                .into(),
        );
        let g = compare(
            &baseline,
            &candidate,
            &BTreeSet::from([Component::Loki, Component::Tempo]),
            (&Default::default(), &Default::default()),
        );
        (baseline, candidate, g)
    }

    fn gate_xml() -> String {
        let (b, c, g) = gate_sides();
        let mut buf = Vec::new();
        render_gate(&b, &c, &g, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_gate_writes_both_runs_and_a_gate_suite_with_one_testcase_per_check() {
        let text = gate_xml();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("name"), Some("lgtm-check gate"));
        let names: Vec<&str> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .map(|n| n.attribute("name").unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "baseline.components",
                "baseline.loki",
                "baseline.tempo",
                "baseline.mimir",
                "candidate.components",
                "candidate.loki",
                "candidate.tempo",
                "candidate.mimir",
                "gate"
            ]
        );
        let gate = suite(&doc, "gate");
        let (_, _, report) = gate_sides();
        // Four components, then every check of either side, in the report's order.
        let expected: Vec<&str> = ["loki", "tempo", "mimir", "grafana"]
            .into_iter()
            .chain(report.checks.iter().map(|c| c.id.as_str()))
            .collect();
        let got: Vec<&str> = cases(gate).map(|n| n.attribute("name").unwrap()).collect();
        assert_eq!(got, expected);
        assert_eq!(report.checks.len(), 7);
        // Failing: the regression, the check failing where it was skipped, the one
        // failing only on the candidate, grafana not starting on the candidate.
        // Skipped: tempo (gated, not run), two checks not compared.
        assert_eq!(
            (
                gate.attribute("tests"),
                gate.attribute("failures"),
                gate.attribute("skipped")
            ),
            (Some("11"), Some("4"), Some("3"))
        );
        let props: Vec<(&str, &str)> = child(gate, "properties")
            .unwrap()
            .children()
            .filter(|n| n.has_tag_name("property"))
            .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
            .collect();
        for expected in [
            ("run_id", "g"),
            ("baseline.run_id", "g-b"),
            ("candidate.run_id", "g-c"),
            ("gated.loki", "grafana/loki:1.0 → grafana/loki:1.0"),
        ] {
            assert!(props.contains(&expected), "{expected:?} not in {props:?}");
        }
        let out = child(gate, "system-out").unwrap().text().unwrap();
        assert!(
            out.contains("grafana did not start on the candidate"),
            "{out}"
        );
        assert!(
            out.contains(
                "3 checks fail on the candidate: http.logs.exact, traceql.was_skipped, traceql.only_candidate"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_regression_is_a_failure_with_both_answers_and_the_queries() {
        let text = gate_xml();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let gate = suite(&doc, "gate");
        let regressed = case(gate, "http.logs.exact");
        assert_eq!(regressed.attribute("classname"), Some("gate.loki"));
        let failure = child(regressed, "failure").expect("a <failure>");
        assert_eq!(failure.attribute("type"), Some("regressed"));
        assert_eq!(
            failure.attribute("message"),
            Some(
                "REGRESSED (PASS → FAIL): not as expected after 60.0s: expected 3 lines, got 0 from http://***@loki:3100"
            )
        );
        assert_eq!(
            failure.text(),
            Some(
                "baseline: PASS in 1234 ms: 3 lines, as expected\n\
                 candidate: FAIL: not as expected after 60.0s: expected 3 lines, got 0 from http://***@loki:3100\n\
                 baseline query: {run_id=\"r1\"} # http.logs.exact\n\
                 candidate query: {run_id=\"g-c-http\"}"
            )
        );
        let from_skip = child(case(gate, "traceql.was_skipped"), "failure").unwrap();
        assert_eq!(from_skip.attribute("type"), Some("failing (was skipped)"));
        assert_eq!(
            from_skip.attribute("message"),
            Some("FAILING (was skipped) (SKIP → FAIL): expected 1 series, got 0")
        );
        let only = child(case(gate, "traceql.only_candidate"), "failure").unwrap();
        assert_eq!(
            only.attribute("type"),
            Some("failing (only on the candidate)")
        );
        assert!(
            only.text()
                .unwrap()
                .starts_with("baseline: not in this run\n")
        );
    }

    #[test]
    fn fixed_and_unchanged_pass_and_what_the_gate_could_not_compare_is_skipped() {
        let text = gate_xml();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let gate = suite(&doc, "gate");
        let verdict = |id: &str| {
            let c = case(gate, id);
            (
                child(c, "failure").is_some(),
                child(c, "skipped").and_then(|s| s.attribute("message")),
            )
        };
        // Fixed, with the candidate's time to visible.
        let fixed = case(gate, "logql.guide.regex");
        assert_eq!(verdict("logql.guide.regex"), (false, None));
        assert_eq!(fixed.attribute("time"), Some("0.800"));
        assert!(
            child(fixed, "system-out")
                .unwrap()
                .text()
                .unwrap()
                .starts_with("fixed\n"),
        );
        // Failing on both sides is no regression; the sides' suites show it.
        assert_eq!(verdict("logql.both_fail"), (false, None));
        let both = child(case(gate, "logql.both_fail"), "system-out").unwrap();
        assert!(
            both.text()
                .unwrap()
                .starts_with("unchanged: fails on both sides"),
            "{both:?}"
        );
        assert!(
            child(
                case(suite(&doc, "candidate.loki"), "logql.both_fail"),
                "failure"
            )
            .is_some()
        );
        assert_eq!(
            verdict("metrics.http_requests_total.exact"),
            (
                false,
                Some("newly skipped: needs mimir, which is not running")
            )
        );
        assert_eq!(
            verdict("http.traces.exact_ids"),
            (
                false,
                Some("skipped on both sides: needs tempo, which is not running")
            )
        );
    }

    #[test]
    fn a_component_that_did_not_start_on_the_candidate_is_a_failure_with_its_log_line() {
        let text = gate_xml();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let gate = suite(&doc, "gate");
        let grafana = case(gate, "grafana");
        assert_eq!(grafana.attribute("classname"), Some("gate.components"));
        let failure = child(grafana, "failure").expect("grafana fails the gate");
        assert_eq!(
            failure.attribute("message"),
            Some("grafana did not start on the candidate")
        );
        assert_eq!(
            failure.text(),
            Some("grafana exited before it was ready; its log: cannot reach http://***@db:5432")
        );
        // Gated, but its image was missing: the upgrade of it was not verified.
        let tempo = child(case(gate, "tempo"), "skipped").expect("tempo skipped");
        assert_eq!(
            tempo.attribute("message"),
            Some(
                "tempo did not run on the baseline: image grafana/tempo:1.0 is not available \
                 locally and could not be pulled: dial tcp: lookup registry-1.docker.io: no such host"
            )
        );
        let loki = case(gate, "loki");
        assert!(child(loki, "failure").is_none() && child(loki, "skipped").is_none());
        assert_eq!(loki.attribute("time"), Some("2.500"));
        assert_eq!(
            child(loki, "system-out").unwrap().text(),
            Some(
                "image or config differs\n\
                 baseline: grafana/loki:1.0, version 1.0.3, ready in 2500 ms\n\
                 candidate: grafana/loki:1.0, version 1.0.3, ready in 2500 ms\n\
                 time to ready ×1.00"
            )
        );
    }

    #[test]
    fn a_gate_document_reads_back_and_carries_no_credential() {
        let text = gate_xml();
        assert!(!text.contains("Canary"), "{text}");
        let (b, c, g) = gate_sides();
        let mut junit = Junit::new("lgtm-check gate");
        junit
            .add_run(&b, Some("baseline"))
            .add_run(&c, Some("candidate"))
            .add_gate(&g);
        let read = quick_junit::Report::deserialize(text.as_bytes()).unwrap();
        assert_eq!(&read, junit.document());
    }
}
