//! The terminal report: progress lines while the run goes (stderr) and the summary
//! table at the end (stdout).

use std::io::Write;

use crate::clients::redact_url;
use crate::core::event::Event;
use crate::core::report::{CheckStatus, ComponentStatus, Report};

/// One progress line for an event.
pub fn progress(event: &Event<'_>, out: &mut impl Write) -> std::io::Result<()> {
    match event {
        Event::RunStarted {
            run_id,
            docker_host,
        } => {
            writeln!(
                out,
                "lgtm-check: run {run_id} on Docker at {}",
                redact_url(docker_host)
            )
        }
        Event::StaleRunsRemoved { run_ids } => writeln!(
            out,
            "lgtm-check: removed leftovers of earlier runs: {}",
            run_ids.join(", ")
        ),
        Event::ComponentStarting { component, image } => {
            writeln!(out, "  starting {component:<10} {image}")
        }
        Event::ComponentFinished(c) => match c.status {
            ComponentStatus::Ready => writeln!(
                out,
                "  ready    {:<10} in {} ms{}",
                c.name,
                c.ready_ms.unwrap_or_default(),
                c.stand_in
                    .as_ref()
                    .map(|s| format!(" (stand-in: {s})"))
                    .unwrap_or_default()
            ),
            ComponentStatus::Skipped => writeln!(
                out,
                "  SKIPPED  {:<10} {}{}",
                c.name,
                c.down_because().unwrap_or_default(),
                c.short_error()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            ComponentStatus::Failed => writeln!(
                out,
                "  FAILED   {:<10} {}",
                c.name,
                redact_url(c.reason.as_deref().unwrap_or_default())
            ),
        },
        Event::ScenarioStarted { name } => writeln!(out, "  scenario {name} running"),
        Event::ScenarioEmitted { name, manifest } => {
            writeln!(out, "  scenario {name} emitted; manifest {manifest}")
        }
        Event::ChecksStarted { at_once } => writeln!(
            out,
            "  checks start as their data is emitted, up to {at_once} at once (listed as they finish; the report keeps the catalog's order)"
        ),
        Event::CheckFinished(c) => match c.time_to_visible_ms {
            Some(ms) => writeln!(
                out,
                "  {:<4}     {} (visible {ms} ms after emission)",
                status_word(c.status),
                c.id
            ),
            None => writeln!(out, "  {:<4}     {}", status_word(c.status), c.id),
        },
        Event::CleanedUp { removed } => {
            writeln!(out, "lgtm-check: removed {removed} containers and networks")
        }
    }
}

/// A reason's lines joined into one, so the table stays a table.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "PASS",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Skip => "SKIP",
    }
}

/// How many of a dead component's last log lines the terminal shows.
const TERMINAL_LOG_LINES: usize = 5;

/// The final report.
pub fn render(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "\nlgtm-check report — run {}", report.run_id)?;
    writeln!(out, "target: {}", report.target)?;
    writeln!(out, "\nComponents")?;
    writeln!(
        out,
        "  {:<11} {:<8} {:>8}  {:<30} {:<12} note",
        "component", "status", "ready", "image", "version"
    )?;
    for c in &report.components {
        let status = match c.status {
            ComponentStatus::Ready => "ready",
            ComponentStatus::Skipped => "SKIPPED",
            ComponentStatus::Failed => "FAILED",
        };
        let ready = c
            .ready_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "-".into());
        let mut note = c
            .stand_in
            .as_ref()
            .map(|s| format!("stand-in: {s}"))
            .unwrap_or_default();
        // A skipped component's pull error is shown once, under "Skipped checks".
        let reason = match c.status {
            ComponentStatus::Skipped => c.down_because(),
            _ => c.reason.as_deref().map(one_line),
        };
        if let Some(r) = reason {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(&r);
        }
        writeln!(
            out,
            "  {:<11} {:<8} {:>8}  {:<30} {:<12} {}",
            c.name.name(),
            status,
            ready,
            if c.image.is_empty() { "-" } else { &c.image },
            c.version.as_deref().unwrap_or("-"),
            note
        )?;
    }
    // A component that died mid-run: its last words (the JSON keeps 20 lines).
    for c in &report.components {
        if let Some(d) = &c.died {
            let from = d.last_log_lines.len().saturating_sub(TERMINAL_LOG_LINES);
            writeln!(out, "  {}'s last log lines before it died:", c.name)?;
            for line in &d.last_log_lines[from..] {
                writeln!(out, "    {}", one_line(&redact_url(line)))?;
            }
        }
    }
    writeln!(out, "\nChecks")?;
    writeln!(
        out,
        "  {:<6} {:<34} {:<10} {:>9}  reason",
        "status", "check", "component", "visible"
    )?;
    for c in &report.checks {
        let ttv = c
            .time_to_visible_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "  {:<6} {:<34} {:<10} {:>9}  {}",
            status_word(c.status),
            c.id,
            c.component.name(),
            ttv,
            c.reason
        )?;
        writeln!(out, "         query: {}", c.query)?;
        if let Some(g) = &c.guide_query {
            writeln!(out, "         guide: {g}")?;
        }
    }
    if !report.guide_defects.is_empty() {
        writeln!(
            out,
            "\nGuide defects ({} found)",
            report.guide_defects.len()
        )?;
        for d in &report.guide_defects {
            writeln!(out, "  - {} [{}]", d.what, d.id)?;
            if let Some(g) = &d.guide {
                writeln!(out, "      guide:    {g}")?;
            }
            writeln!(out, "      evidence: {}", d.evidence)?;
        }
    }
    if !report.sent.is_empty() {
        writeln!(out, "\nsent through lgtm-check's gateway:")?;
        for s in &report.sent {
            writeln!(out, "  {}: {}", s.source, s.line())?;
        }
    }
    if !report.faults.is_empty() {
        writeln!(out, "\nfaults injected:")?;
        for f in &report.faults {
            let at = f
                .injected_at_ms
                .map(|ms| format!("at {:.1} s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "not injected".into());
            let back = match (f.recovered_after_ms, &f.error) {
                (Some(ms), _) => format!("ready again after {:.1} s", ms as f64 / 1000.0),
                (None, Some(e)) => format!("FAILED: {e}"),
                (None, None) => "did not recover".into(),
            };
            let container = match &f.container {
                Some(c) if *c != f.component => format!(" (container {c})"),
                _ => String::new(),
            };
            writeln!(out, "  {}{container} {at}, {back}", f.fault)?;
        }
    }
    if !report.delivery.is_empty() {
        writeln!(
            out,
            "\nacknowledged items through the faults (lines, spans; every scenario):"
        )?;
        for d in crate::core::durability::per_signal(&report.delivery) {
            let retried = d
                .retried
                .map(|r| r.to_string())
                .unwrap_or_else(|| "?".into());
            writeln!(
                out,
                "  {:<7} acknowledged {}, visible {}, lost {}, retried {retried}, never acknowledged {}{}{}{}",
                d.signal,
                d.acknowledged,
                d.visible,
                d.lost,
                d.never_acknowledged,
                match d.arrived_unacknowledged {
                    0 => String::new(),
                    n => format!(" ({n} of them arrived anyway)"),
                },
                match (d.late, d.late_ms) {
                    (0, _) | (_, None) => String::new(),
                    (n, Some(ms)) => format!(
                        "; {n} visible only when asked again, {:.1} s after the first reading",
                        ms as f64 / 1000.0
                    ),
                },
                match (&d.not_asked_because, d.not_asked) {
                    (Some(why), n) if n > 0 => format!(", {n} not asked ({})", redact_url(why)),
                    _ => String::new(),
                }
            )?;
            for id in &d.lost_ids {
                writeln!(out, "          lost: {id}")?;
            }
        }
    }
    if !report.pushback.is_empty() {
        let n = report.pushback.len();
        let s = if n == 1 { "finding" } else { "findings" };
        writeln!(out, "\nThe stack pushed back ({n} {s})")?;
        for f in &report.pushback {
            writeln!(out, "  - {}", f.summary)?;
        }
    }
    if !report.skips.is_empty() {
        writeln!(out, "\nSkipped checks, by cause")?;
        for g in &report.skips {
            let names: Vec<&str> = g.components.iter().map(|c| c.name()).collect();
            if names.is_empty() {
                writeln!(out, "  - {}", g.cause)?;
            } else {
                writeln!(out, "  - {} (needed by {})", g.cause, names.join(", "))?;
            }
            if let Some(d) = &g.detail {
                writeln!(out, "      {d}")?;
            }
            let n = g.checks.len();
            writeln!(
                out,
                "      {n} {} skipped because of it",
                if n == 1 { "check" } else { "checks" }
            )?;
        }
    }
    if !report.problems.is_empty() {
        writeln!(out, "\nProblems")?;
        for p in &report.problems {
            writeln!(out, "  - {p}")?;
        }
    }
    if let Some(why) = &report.nothing_verified {
        writeln!(out, "\n{why}")?;
    }
    let s = report.summary;
    writeln!(
        out,
        "\nchecks: {} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::check::Signal;
    use crate::core::component::Component;
    use crate::core::report::{CheckReport, ComponentReport};

    fn skipped_everything() -> Report {
        let pull = "Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host\nline two";
        let components = Component::ALL
            .into_iter()
            .map(|name| ComponentReport {
                name,
                image: "nope/none:1".into(),
                status: ComponentStatus::Skipped,
                ready_ms: None,
                version: None,
                reason: Some(ComponentReport::image_missing_reason("nope/none:1", pull)),
                stand_in: None,
                refused_guide_config: None,
                died: None,
            })
            .collect();
        let checks = (0..30)
            .map(|i| CheckReport {
                id: format!("http.check{i}"),
                title: "t".into(),
                signal: Signal::Logs,
                component: Component::Loki,
                needs: vec![Component::Loki],
                status: CheckStatus::Skip,
                reason: "needs loki, which is not running (image nope/none:1 is not available)"
                    .into(),
                query: "q".into(),
                guide_query: None,
                time_to_visible_ms: None,
                skipped_because: vec![Component::Loki],
            })
            .collect();
        Report::new(
            "r1".into(),
            Default::default(),
            Default::default(),
            components,
            checks,
        )
    }

    #[test]
    fn skips_are_shown_once_per_cause_and_the_closing_line_stays_last() {
        let mut out = Vec::new();
        render(&skipped_everything(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // The pull error appears once, in the cause's group, not per check or component.
        assert_eq!(text.matches("no such host").count(), 1, "{text}");
        assert!(!text.contains("line two"), "{text}");
        assert!(
            text.contains(
                "Skipped checks, by cause\n  - image nope/none:1 is not available (needed by loki)\n      Get \"https://registry-1.docker.io/v2/\": dial tcp: no such host\n      30 checks skipped because of it\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\nnothing was verified: every component needed by every check was skipped: image nope/none:1 is not available (loki)\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("\nchecks: 0 passed, 0 failed, 30 skipped\n"),
            "{text}"
        );
    }
}
