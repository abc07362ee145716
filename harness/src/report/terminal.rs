//! The terminal report: progress lines while the run goes (stderr) and the summary
//! table at the end (stdout).

use std::io::Write;

use crate::core::event::Event;
use crate::core::report::{CheckStatus, ComponentStatus, Report};

/// One progress line for an event.
pub fn progress(event: &Event<'_>, out: &mut impl Write) -> std::io::Result<()> {
    match event {
        Event::RunStarted {
            run_id,
            docker_host,
        } => {
            writeln!(out, "lgtm-check: run {run_id} on Docker at {docker_host}")
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
                "  SKIPPED  {:<10} {}",
                c.name,
                c.reason.as_deref().unwrap_or_default()
            ),
            ComponentStatus::Failed => writeln!(
                out,
                "  FAILED   {:<10} {}",
                c.name,
                c.reason.as_deref().unwrap_or_default()
            ),
        },
        Event::ScenarioStarted { name } => writeln!(out, "  scenario {name} running"),
        Event::ScenarioEmitted { name, manifest } => {
            writeln!(out, "  scenario {name} emitted; manifest {manifest}")
        }
        Event::CheckFinished(c) => writeln!(out, "  {:<4}     {}", status_word(c.status), c.id),
        Event::CleanedUp { removed } => {
            writeln!(out, "lgtm-check: removed {removed} containers and networks")
        }
    }
}

fn status_word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "PASS",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Skip => "SKIP",
    }
}

/// The final report.
pub fn render(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "\nlgtm-check report — run {}", report.run_id)?;
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
        if let Some(r) = &c.reason {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(r);
        }
        writeln!(
            out,
            "  {:<11} {:<8} {:>8}  {:<30} {:<12} {}",
            c.name.name(),
            status,
            ready,
            c.image,
            c.version.as_deref().unwrap_or("-"),
            note
        )?;
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
    if !report.problems.is_empty() {
        writeln!(out, "\nProblems")?;
        for p in &report.problems {
            writeln!(out, "  - {p}")?;
        }
    }
    let s = report.summary;
    writeln!(
        out,
        "\nchecks: {} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    )
}
