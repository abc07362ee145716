//! The upgrade gate's reports: the terminal diff ([`terminal`]) and the JSON
//! ([`json`], the [`GateReport`] as is, with its `schema_version`).

use std::io::Write;

use crate::clients::redact_url;
use crate::core::answer::{Verdict, clip};
use crate::core::check::Signal;
use crate::core::corpus::Language;
use crate::core::gate::{Change, CheckDiff, CheckOutcome, ComponentSide, GateReport};
use crate::core::gate_corpus::{CorpusReport, NamedStatus, SourceKind};
use crate::core::report::{CheckStatus, ComponentStatus};

/// Writes `report` as pretty-printed JSON, then a newline.
pub fn json(report: &GateReport, out: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    writeln!(out)
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "PASS",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Skip => "SKIP",
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(v: Option<u64>) -> String {
    v.map(|v| format!("{v} ms")).unwrap_or_else(|| "-".into())
}

fn times(r: Option<f64>) -> String {
    r.map(|r| format!("×{r:.2}")).unwrap_or_else(|| "-".into())
}

fn side(s: Option<&ComponentSide>) -> String {
    let Some(s) = s else {
        return "not started".into();
    };
    let status = match s.status {
        ComponentStatus::Ready => format!(
            "ready {}, {}",
            ms(s.ready_ms),
            s.version.as_deref().unwrap_or("version -")
        ),
        ComponentStatus::Skipped => "SKIPPED".into(),
        ComponentStatus::Failed => "FAILED".into(),
    };
    let config = s
        .config
        .as_ref()
        .map(|c| format!(", config {c}"))
        .unwrap_or_default();
    let stand_in = s
        .stand_in
        .as_ref()
        .map(|c| format!(", stand-in: {c}"))
        .unwrap_or_default();
    format!("{status} ({}{stand_in}{config})", s.image)
}

fn outcome(out: &mut impl Write, label: &str, o: Option<&CheckOutcome>) -> std::io::Result<()> {
    match o {
        Some(o) => writeln!(
            out,
            "      {label:<10} {} {:>9}  {}",
            status_word(o.status),
            ms(o.time_to_visible_ms),
            one_line(&o.reason)
        ),
        None => writeln!(out, "      {label:<10} (not in this run)"),
    }
}

fn check(out: &mut impl Write, c: &CheckDiff) -> std::io::Result<()> {
    writeln!(out, "  {:<21} {}  ({})", c.change.word(), c.id, c.component)?;
    writeln!(out, "      {}", c.title)?;
    outcome(out, "baseline", c.baseline.as_ref())?;
    outcome(out, "candidate", c.candidate.as_ref())?;
    let query = c
        .candidate
        .as_ref()
        .or(c.baseline.as_ref())
        .map(|o| o.query.as_str())
        .unwrap_or_default();
    writeln!(out, "      query:     {query}")
}

fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
        Signal::Traces => "traces",
    }
}

/// The gate's report for a terminal.
pub fn terminal(report: &GateReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "\nlgtm-check gate — baseline run {}, candidate run {}",
        report.baseline.run_id, report.candidate.run_id
    )?;
    writeln!(out, "\nComponents (* = image or config differs)")?;
    for c in &report.components {
        writeln!(
            out,
            "  {:<12} {}\n  {:<12} → {}   time to ready {}",
            format!("{}{}", c.name, if c.gated { " *" } else { "" }),
            side(c.baseline.as_ref()),
            "",
            side(c.candidate.as_ref()),
            times(c.ready_ratio)
        )?;
        // Why the candidate did not start (its own log line), or did not run.
        if let Some(k) = &c.candidate
            && (k.status == ComponentStatus::Failed
                || (c.gated && k.status == ComponentStatus::Skipped))
            && let Some(why) = &k.reason
        {
            writeln!(
                out,
                "  {:<12}   candidate: {}",
                "",
                redact_url(&one_line(why))
            )?;
        }
    }
    writeln!(
        out,
        "\nTime to visible (earliest first answer among the checks that passed on both sides)"
    )?;
    writeln!(
        out,
        "  {:<8} {:>6} {:>10} {:>10} {:>7}",
        "signal", "checks", "baseline", "candidate", "ratio"
    )?;
    for s in &report.signals {
        writeln!(
            out,
            "  {:<8} {:>6} {:>10} {:>10} {:>7}",
            signal_name(s.signal),
            s.checks,
            ms(s.baseline_ms),
            ms(s.candidate_ms),
            times(s.ratio)
        )?;
    }
    let failing: Vec<&CheckDiff> = report.failing().collect();
    if !failing.is_empty() {
        writeln!(out, "\nRegressions ({})", failing.len())?;
        for c in failing {
            check(out, c)?;
        }
    }
    let changed: Vec<&CheckDiff> = report
        .checks
        .iter()
        .filter(|c| !c.fails_gate() && c.change != Change::Unchanged)
        .collect();
    if !changed.is_empty() {
        writeln!(out, "\nOther changes ({})", changed.len())?;
        for c in changed {
            check(out, c)?;
        }
    }
    let unchanged: Vec<&CheckDiff> = report
        .checks
        .iter()
        .filter(|c| c.change == Change::Unchanged)
        .collect();
    let count = |s| {
        unchanged
            .iter()
            .filter(|c| c.baseline.as_ref().map(|o| o.status) == Some(s))
            .count()
    };
    writeln!(
        out,
        "\nUnchanged: {} checks ({} pass on both, {} fail on both, {} skipped on both)",
        unchanged.len(),
        count(CheckStatus::Pass),
        count(CheckStatus::Fail),
        count(CheckStatus::Skip)
    )?;
    for c in unchanged
        .iter()
        .filter(|c| c.baseline.as_ref().map(|o| o.status) == Some(CheckStatus::Fail))
    {
        writeln!(out, "  fails on both: {}", c.id)?;
    }
    if let Some(corpus) = &report.corpus {
        corpus_section(report, corpus, out)?;
    }
    if !report.config.is_empty() {
        config_section(report, out)?;
    }
    if !report.named_changes.is_empty() {
        named_section(report, out)?;
    }
    if !report.problems.is_empty() {
        writeln!(out, "\nProblems")?;
        for p in &report.problems {
            writeln!(out, "  - {}", redact_url(&one_line(p)))?;
        }
    }
    if let Some(why) = &report.unverified {
        writeln!(out, "\n{why}")?;
    }
    let s = report.summary;
    let verdict = if !report.problems.is_empty() {
        "FAILED"
    } else if report.unverified.is_some() {
        "NOT VERIFIED"
    } else {
        "passed"
    };
    writeln!(
        out,
        "\ngate {verdict}: {} regressed, {} failing (was skipped), {} fixed, {} newly skipped, {} passing (was skipped), {} unchanged",
        s.regressed,
        s.failing_from_skip,
        s.fixed,
        s.newly_skipped,
        s.passing_from_skip,
        s.unchanged
    )
}

fn language_items(l: Language) -> &'static str {
    match l {
        Language::LogQl => "lines",
        Language::TraceQl => "spans",
        Language::PromQl => "samples",
    }
}

fn corpus_section(
    report: &GateReport,
    corpus: &CorpusReport,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "\nQuery corpus (seed {}; {}; {} side(s) at once)",
        corpus.seed,
        report.sides.join(" → "),
        report.sides_at_once
    )?;
    for side in &corpus.sides {
        let parts: Vec<String> = side
            .controls
            .iter()
            .map(|(l, c)| {
                format!(
                    "{} {}/{} {}{}",
                    l.name(),
                    c.visible,
                    c.expected,
                    language_items(*l),
                    c.settled_ms
                        .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
                        .unwrap_or_else(|| " NOT ALL VISIBLE".into())
                )
            })
            .collect();
        writeln!(out, "  workload on {}: {}", side.label, parts.join(", "))?;
    }
    writeln!(
        out,
        "  {:<8} {:<14} {:>7} {:>9} {:>10} {:>12} {:>9} {:>12}",
        "language",
        "source",
        "queries",
        "identical",
        "both empty",
        "both refused",
        "different",
        "not compared"
    )?;
    for (language, by_source) in &corpus.tally {
        for (source, t) in by_source {
            writeln!(
                out,
                "  {:<8} {:<14} {:>7} {:>9} {:>10} {:>12} {:>9} {:>12}",
                language.name(),
                source.word(),
                t.total,
                t.identical,
                t.both_empty,
                t.both_refused,
                t.different,
                t.not_compared
            )?;
        }
    }
    let catalog_total = report.checks.len();
    let catalog_same = report.summary.unchanged;
    writeln!(
        out,
        "  catalog: {catalog_same} of {catalog_total} checks answer the same"
    )?;
    for language in Language::ALL {
        let Some(by_source) = corpus.tally.get(&language) else {
            continue;
        };
        let total: usize = by_source.values().map(|t| t.total).sum();
        let same: usize = by_source.values().map(|t| t.identical).sum();
        writeln!(
            out,
            "  {}: {same} of {total} queries answer identically with data",
            language.name()
        )?;
    }
    let groups = corpus.groups();
    if groups.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nDifferences ({} queries in {} groups; {} fail the gate{})",
        corpus.differences.len(),
        groups.len(),
        corpus.failing(report.strict).count(),
        if report.strict { ", --strict" } else { "" }
    )?;
    writeln!(out, "  by cause (where the answers first differ):")?;
    for (cause, n) in corpus.causes().iter().take(8) {
        writeln!(out, "    {n:>4}  {}", redact_url(&clip(cause, 160)))?;
    }
    for (name, diffs) in groups {
        let kind = diffs
            .first()
            .map(|d| SourceKind::of(&d.query.source).word())
            .unwrap_or_default();
        writeln!(out, "  {name} ({kind}, {} queries)", diffs.len())?;
        for d in &diffs {
            let mark = if d.fails_gate(report.strict) {
                "FAILS"
            } else if d.accepted.is_some() {
                "accepted"
            } else {
                "finding"
            };
            writeln!(
                out,
                "    [{mark}] {} {}   (first at {}{})",
                d.query.language.name(),
                d.query.query,
                d.first_release,
                if d.reverted { ", undone later" } else { "" }
            )?;
            let verdict = match &d.verdict {
                Verdict::Different { first } => format!("first difference: {first}"),
                Verdict::RefusedByCandidate => "refused after the change".into(),
                Verdict::RefusedByBaseline => "refused before the change, answered after".into(),
                other => format!("{other:?}"),
            };
            writeln!(out, "      {}", redact_url(&one_line(&verdict)))?;
            writeln!(out, "      before: {}", redact_url(&clip(&d.before, 200)))?;
            writeln!(out, "      after:  {}", redact_url(&clip(&d.after, 200)))?;
            for c in &d.explained_by {
                writeln!(out, "      → {}", c.headline)?;
            }
            if let Some(reason) = &d.accepted {
                writeln!(out, "      accepted: {reason}")?;
            }
        }
    }
    Ok(())
}

/// How many changed defaults the terminal lists per component; the JSON has all.
const DEFAULTS_SHOWN: usize = 12;

fn config_section(report: &GateReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "\nConfiguration (the baseline's configs on the candidate; defaults as each side serves them)"
    )?;
    for c in &report.config {
        for r in &c.refused {
            let key = if r.field.is_empty() {
                "(a value)"
            } else {
                r.field.as_str()
            };
            writeln!(
                out,
                "  {:<8} REFUSED key {key}{}: {}",
                c.component.name(),
                r.line.map(|l| format!(" (line {l})")).unwrap_or_default(),
                redact_url(&clip(&r.log_line, 200))
            )?;
        }
        if let Some(e) = &c.error {
            writeln!(
                out,
                "  {:<8} defaults not compared: {}",
                c.component.name(),
                redact_url(&clip(&one_line(e), 200))
            )?;
            continue;
        }
        let (changed, added, removed) = c.counts();
        writeln!(
            out,
            "  {:<8} {} defaults differ: {changed} changed value, {added} added, {removed} removed",
            c.component.name(),
            c.default_changes.len()
        )?;
        let changed: Vec<_> = c
            .default_changes
            .iter()
            .filter(|d| d.baseline.is_some() && d.candidate.is_some())
            .collect();
        for d in changed.iter().take(DEFAULTS_SHOWN) {
            writeln!(
                out,
                "           {}: {} → {}",
                d.key,
                clip(d.baseline.as_deref().unwrap_or_default(), 60),
                clip(d.candidate.as_deref().unwrap_or_default(), 60)
            )?;
        }
        if changed.len() > DEFAULTS_SHOWN {
            writeln!(
                out,
                "           … and {} more changed values (all keys in the JSON report)",
                changed.len() - DEFAULTS_SHOWN
            )?;
        }
    }
    Ok(())
}

fn named_section(report: &GateReport, out: &mut impl Write) -> std::io::Result<()> {
    let count =
        |f: fn(&NamedStatus) -> bool| report.named_changes.iter().filter(|n| f(&n.status)).count();
    writeln!(
        out,
        "\nNamed upstream changes this upgrade crosses ({}): {} shown here, {} not shown by their probe, {} configuration, {} documented only",
        report.named_changes.len(),
        count(|s| matches!(s, NamedStatus::Shown { .. })),
        count(|s| matches!(s, NamedStatus::NotShown { .. })),
        count(|s| matches!(s, NamedStatus::Configuration)),
        count(|s| matches!(s, NamedStatus::Documented { .. })),
    )?;
    for n in &report.named_changes {
        let word = match &n.status {
            NamedStatus::Shown { first_release } => format!("SHOWN at {first_release}"),
            NamedStatus::NotShown { .. } => "not shown".into(),
            NamedStatus::Configuration => "configuration".into(),
            NamedStatus::Documented { .. } => "documented".into(),
        };
        let verified = if n.change.verified_live {
            "  [seen at this release here]"
        } else {
            ""
        };
        writeln!(out, "  {word:<14} {}{verified}", n.change.headline())?;
        if !n.change.verifiable_here() {
            writeln!(
                out,
                "  {:<14} (not verified live here: the release cannot be built on this machine)",
                ""
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::component::Component;
    use crate::core::gate::{
        ComponentDiff, GATE_SCHEMA_VERSION, GateSummary, SideSummary, SignalTiming,
    };
    use crate::core::report::Summary;

    fn outcome(status: CheckStatus, reason: &str, ttv: Option<u64>) -> CheckOutcome {
        CheckOutcome {
            status,
            reason: reason.into(),
            query: "{ resource.run_id = \"g-c-http\" } | rate() by (resource.service.name)".into(),
            time_to_visible_ms: ttv,
        }
    }

    fn sample() -> GateReport {
        let side = |image: &str, version: &str, status, reason: Option<&str>| ComponentSide {
            image: image.into(),
            status,
            version: Some(version.into()),
            ready_ms: Some(1000),
            stand_in: None,
            reason: reason.map(str::to_owned),
            config: None,
        };
        GateReport {
            schema_version: GATE_SCHEMA_VERSION,
            run_id: "g".into(),
            baseline: SideSummary {
                run_id: "g-b".into(),
                summary: Summary {
                    passed: 2,
                    failed: 0,
                    skipped: 0,
                },
            },
            candidate: SideSummary {
                run_id: "g-c".into(),
                summary: Summary {
                    passed: 1,
                    failed: 1,
                    skipped: 0,
                },
            },
            components: vec![ComponentDiff {
                name: Component::Tempo,
                gated: true,
                baseline: Some(side(
                    "grafana/tempo:2.6.0",
                    "2.6.0",
                    ComponentStatus::Ready,
                    None,
                )),
                candidate: Some(side(
                    "grafana/tempo:2.7.2",
                    "2.7.2",
                    ComponentStatus::Ready,
                    None,
                )),
                ready_ratio: Some(1.0),
            }],
            checks: vec![
                CheckDiff {
                    id: "traceql.guide.rate_by_service".into(),
                    title: "guide TraceQL 5".into(),
                    signal: Signal::Traces,
                    component: Component::Tempo,
                    change: Change::Regressed,
                    baseline: Some(outcome(
                        CheckStatus::Pass,
                        "1 series as expected",
                        Some(900),
                    )),
                    candidate: Some(outcome(
                        CheckStatus::Fail,
                        "tempo rejected the query:\nlocalblocks processor not found",
                        None,
                    )),
                },
                CheckDiff {
                    id: "http.logs.exact".into(),
                    title: "t".into(),
                    signal: Signal::Logs,
                    component: Component::Loki,
                    change: Change::Unchanged,
                    baseline: Some(outcome(CheckStatus::Pass, "ok", Some(10))),
                    candidate: Some(outcome(CheckStatus::Pass, "ok", Some(12))),
                },
            ],
            signals: vec![SignalTiming {
                signal: Signal::Logs,
                checks: 1,
                baseline_ms: Some(10),
                candidate_ms: Some(12),
                ratio: Some(1.2),
            }],
            summary: GateSummary {
                unchanged: 1,
                regressed: 1,
                ..GateSummary::default()
            },
            problems: vec!["1 check fails on the candidate: traceql.guide.rate_by_service".into()],
            unverified: None,
            sides: vec!["baseline".into(), "candidate".into()],
            corpus: None,
            named_changes: Vec::new(),
            strict: false,
            sides_at_once: 1,
            wall_ms: 0,
            config: Vec::new(),
        }
    }

    #[test]
    fn the_terminal_diff_names_the_regression_with_both_answers() {
        let mut out = Vec::new();
        terminal(&sample(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("  tempo *      ready 1000 ms, 2.6.0 (grafana/tempo:2.6.0)\n               → ready 1000 ms, 2.7.2 (grafana/tempo:2.7.2)   time to ready ×1.00\n"), "{text}");
        assert!(
            text.contains("  logs          1      10 ms      12 ms   ×1.20\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "Regressions (1)\n  REGRESSED             traceql.guide.rate_by_service  (tempo)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("      baseline   PASS    900 ms  1 series as expected\n"),
            "{text}"
        );
        assert!(text.contains("      candidate  FAIL         -  tempo rejected the query: localblocks processor not found\n"), "{text}");
        assert!(
            text.contains(
                "Unchanged: 1 checks (1 pass on both, 0 fail on both, 0 skipped on both)"
            ),
            "{text}"
        );
        assert!(text.ends_with("\ngate FAILED: 1 regressed, 0 failing (was skipped), 0 fixed, 0 newly skipped, 0 passing (was skipped), 1 unchanged\n"), "{text}");
    }

    #[test]
    fn the_json_has_its_schema_version_and_both_answers() {
        let mut out = Vec::new();
        json(&sample(), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema_version"], 2);
        let c = &v["checks"][0];
        assert_eq!(c["change"], "regressed");
        assert_eq!(c["baseline"]["status"], "pass");
        assert_eq!(c["candidate"]["status"], "fail");
        assert_eq!(v["components"][0]["candidate"]["version"], "2.7.2");
        assert_eq!(v["signals"][0]["ratio"], 1.2);
        assert_eq!(v["summary"]["regressed"], 1);
        assert!(v["unverified"].is_null());
    }

    #[test]
    fn the_corpus_section_names_the_user_query_its_release_and_the_change() {
        use crate::core::answer::Answer;
        use crate::core::corpus::{Ask, CorpusQuery, Source};
        use crate::core::gate_corpus::{Accepted, SideCorpus, compare_sides, named_findings};
        let q = CorpusQuery {
            language: Language::TraceQl,
            source: Source::User("queries.txt".into()),
            ask: Ask::Search,
            query: r#"{ span.http.route =~ "users" }"#.into(),
        };
        let side = |label: &str, a: serde_json::Value| SideCorpus {
            label: label.into(),
            answers: vec![Answer::Data(a)],
            ..SideCorpus::default()
        };
        let corpus = compare_sides(
            42,
            std::slice::from_ref(&q),
            &[
                side(
                    "baseline",
                    serde_json::json!({"traces": [{"traceID": "a"}]}),
                ),
                side("candidate", serde_json::json!({"traces": []})),
            ],
            &Accepted::default(),
        );
        let crossed = [crate::core::changes::by_id("tempo-2.7-traceql-regex-anchored").unwrap()];
        let mut corpus = corpus;
        corpus.explain(&crossed);
        let named = named_findings(&corpus, &[q], &crossed, &[]);
        let report = sample().with_corpus(corpus, named, false);
        let mut out = Vec::new();
        terminal(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("  traceql  yours                1         0          0            0         1            0\n"), "{text}");
        assert!(
            text.contains(
                "    [FAILS] traceql { span.http.route =~ \"users\" }   (first at candidate)\n"
            ),
            "{text}"
        );
        assert!(text.contains("      → Tempo 2.7.0 (#4329): "), "{text}");
        assert!(
            text.contains("  SHOWN at candidate Tempo 2.7.0 (#4329)"),
            "{text}"
        );
        assert!(
            text.contains(
                "  - traceql query changed answer at candidate: { span.http.route =~ \"users\" }\n"
            ),
            "{text}"
        );
        assert_eq!(report.exit_code(), 1);
    }
}
