//! The upgrade gate's reports: the terminal diff ([`terminal`]) and the JSON
//! ([`json`], the [`GateReport`] as is, with its `schema_version`).

use std::io::Write;

use crate::clients::redact_url;
use crate::core::check::Signal;
use crate::core::gate::{Change, CheckDiff, CheckOutcome, ComponentSide, GateReport};
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
        assert_eq!(v["schema_version"], 1);
        let c = &v["checks"][0];
        assert_eq!(c["change"], "regressed");
        assert_eq!(c["baseline"]["status"], "pass");
        assert_eq!(c["candidate"]["status"], "fail");
        assert_eq!(v["components"][0]["candidate"]["version"], "2.7.2");
        assert_eq!(v["signals"][0]["ratio"], 1.2);
        assert_eq!(v["summary"]["regressed"], 1);
        assert!(v["unverified"].is_null());
    }
}
