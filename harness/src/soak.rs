//! `lgtm-check soak N`: the default suite N times in a row, each a full run with its
//! own run id (stack started, scenarios, checks, clean-up), and what it says about
//! stability: runs that passed, flakes (every failing check with its reason, by check),
//! harness errors, and what each run leaked (containers and networks still labelled
//! with its run id after it ended, and its working directory).
//!
//! Main items: [`soak`], [`SoakRun`], [`SoakSummary`] (pure: built from the runs).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::core::event::Event;
use crate::core::plan::RunPlan;
use crate::core::report::{CheckStatus, Report};
use crate::runner;
use crate::stack::docker::Docker;

/// One run of a soak.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakRun {
    /// The run's own id (its containers and telemetry carry it).
    pub run_id: String,
    /// The run's exit code (`core::report::exit`); 2 when lgtm-check could not run.
    pub exit_code: i32,
    /// Wall time of the whole run, stack start and clean-up included, in ms.
    pub wall_ms: u64,
    /// Checks that passed (0 when lgtm-check could not run).
    pub passed: usize,
    /// Checks that were skipped (0 when lgtm-check could not run).
    pub skipped: usize,
    /// Failed checks: id and the first line of the reason.
    pub failed: Vec<(String, String)>,
    /// The run's problems, or the error that stopped it.
    pub problems: Vec<String>,
    /// Containers, networks and directories of the run that outlived it.
    pub leaked: Vec<String>,
}

impl SoakRun {
    /// The run of `run_id` that ended with `result` after `wall_ms`, leaving `leaked`.
    pub fn new(
        run_id: &str,
        result: Result<&Report, String>,
        wall_ms: u64,
        leaked: Vec<String>,
    ) -> Self {
        match result {
            Ok(r) => SoakRun {
                run_id: run_id.into(),
                exit_code: r.exit_code(),
                wall_ms,
                passed: r.summary.passed,
                skipped: r.summary.skipped,
                failed: r
                    .checks
                    .iter()
                    .filter(|c| c.status == CheckStatus::Fail)
                    .map(|c| {
                        let first = c.reason.lines().next().unwrap_or_default();
                        (c.id.clone(), first.to_owned())
                    })
                    .collect(),
                problems: r.problems.clone(),
                leaked,
            },
            Err(e) => SoakRun {
                run_id: run_id.into(),
                exit_code: crate::core::report::exit::HARNESS_ERROR,
                wall_ms,
                passed: 0,
                skipped: 0,
                failed: Vec::new(),
                problems: vec![e],
                leaked,
            },
        }
    }

    /// Passed: exit code 0 and nothing leaked.
    pub fn ok(&self) -> bool {
        self.exit_code == 0 && self.leaked.is_empty()
    }
}

/// What N runs add up to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakSummary {
    /// Every run, in the order they ran.
    pub runs: Vec<SoakRun>,
    /// Runs that passed (exit 0, nothing leaked).
    pub passes: usize,
    /// Failed checks across runs: check id → (run id, reason) of each failure.
    pub flakes: BTreeMap<String, Vec<(String, String)>>,
    /// Runs lgtm-check could not complete, and their problems.
    pub errors: Vec<(String, Vec<String>)>,
    /// Everything leaked, as `run id: what`.
    pub leaked: Vec<String>,
    /// Wall time of each run: min, median, max (ms).
    pub wall_ms: (u64, u64, u64),
}

impl SoakSummary {
    /// Adds up `runs`: passes, flakes by check, runs that ended in an error without
    /// a failed check, everything leaked, and the min, median and max wall time.
    ///
    /// ```
    /// use lgtm_check::soak::{SoakRun, SoakSummary};
    ///
    /// let ok = SoakRun::new("r1", Err("Docker is not running".into()), 900, Vec::new());
    /// let summary = SoakSummary::new(vec![ok]);
    /// assert_eq!(summary.passes, 0);
    /// assert_eq!(summary.errors, vec![("r1".to_owned(), vec!["Docker is not running".to_owned()])]);
    /// assert_eq!(summary.wall_ms, (900, 900, 900));
    /// ```
    pub fn new(runs: Vec<SoakRun>) -> Self {
        let mut flakes: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut errors = Vec::new();
        let mut leaked = Vec::new();
        for r in &runs {
            for (id, reason) in &r.failed {
                flakes
                    .entry(id.clone())
                    .or_default()
                    .push((r.run_id.clone(), reason.clone()));
            }
            if r.exit_code != 0 && r.failed.is_empty() {
                errors.push((r.run_id.clone(), r.problems.clone()));
            }
            leaked.extend(r.leaked.iter().map(|l| format!("{}: {l}", r.run_id)));
        }
        let mut walls: Vec<u64> = runs.iter().map(|r| r.wall_ms).collect();
        walls.sort_unstable();
        let wall_ms = match (walls.first(), walls.last()) {
            (Some(min), Some(max)) => (*min, walls[walls.len() / 2], *max),
            _ => (0, 0, 0),
        };
        SoakSummary {
            passes: runs.iter().filter(|r| r.ok()).count(),
            runs,
            flakes,
            errors,
            leaked,
            wall_ms,
        }
    }

    /// The summary as text.
    pub fn render(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(out, "\nlgtm-check soak — {} runs", self.runs.len())?;
        for r in &self.runs {
            writeln!(
                out,
                "  {:<12} exit {}  {:>6} ms  {} passed, {} failed, {} skipped{}",
                r.run_id,
                r.exit_code,
                r.wall_ms,
                r.passed,
                r.failed.len(),
                r.skipped,
                if r.leaked.is_empty() {
                    String::new()
                } else {
                    format!(", leaked {}", r.leaked.len())
                }
            )?;
        }
        writeln!(
            out,
            "\npasses: {} of {}; wall time min/median/max: {}/{}/{} ms",
            self.passes,
            self.runs.len(),
            self.wall_ms.0,
            self.wall_ms.1,
            self.wall_ms.2
        )?;
        if self.flakes.is_empty() {
            writeln!(out, "flakes: none")?;
        } else {
            writeln!(out, "flakes ({} checks):", self.flakes.len())?;
            for (id, failures) in &self.flakes {
                writeln!(out, "  - {id}: failed in {} runs", failures.len())?;
                for (run, reason) in failures {
                    writeln!(out, "      {run}: {reason}")?;
                }
            }
        }
        for (run, problems) in &self.errors {
            writeln!(out, "run {run} did not pass: {}", problems.join("; "))?;
        }
        if self.leaked.is_empty() {
            writeln!(out, "leaked: nothing")
        } else {
            writeln!(out, "leaked ({}):", self.leaked.len())?;
            for l in &self.leaked {
                writeln!(out, "  - {l}")?;
            }
            Ok(())
        }
    }
}

/// Runs `plan` `n` times in a row, each with a fresh run id, and checks after each
/// what it left behind. `current` holds the id of the run under way (for clean-up on
/// Ctrl-C); `on_run` hears of each run as it ends.
pub async fn soak(
    plan: &RunPlan,
    n: u32,
    current: &std::sync::Mutex<String>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
    on_run: &dyn Fn(u32, &SoakRun),
) -> SoakSummary {
    let docker = Docker::connect().await.ok();
    let mut runs = Vec::new();
    for i in 1..=n {
        let mut plan = plan.clone();
        plan.run_id = crate::stack::fresh_run_id();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = plan.run_id.clone();
        let started = Instant::now();
        let result = runner::run(&plan, on_event).await;
        let wall_ms = started.elapsed().as_millis() as u64;
        let mut leaked = match &docker {
            Some(d) => d
                .run_leftovers(&plan.run_id)
                .await
                .unwrap_or_else(|e| vec![format!("cannot list what is left: {e}")]),
            None => vec!["cannot reach Docker to look for leftovers".into()],
        };
        let work_dir = std::env::temp_dir().join(format!("lgtm-check-{}", plan.run_id));
        if work_dir.exists() {
            leaked.push(format!("directory {}", work_dir.display()));
        }
        let result = result.as_ref().map_err(|e| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            crate::clients::redact_url(&msg)
        });
        let run = SoakRun::new(&plan.run_id, result, wall_ms, leaked);
        on_run(i, &run);
        runs.push(run);
    }
    SoakSummary::new(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, exit: i32, failed: &[(&str, &str)], leaked: &[&str]) -> SoakRun {
        SoakRun {
            run_id: id.into(),
            exit_code: exit,
            wall_ms: 1000,
            passed: 60,
            skipped: 14,
            failed: failed
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            problems: Vec::new(),
            leaked: leaked.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn flakes_are_grouped_by_check_and_leaks_fail_a_run() {
        let s = SoakSummary::new(vec![
            run("r1", 0, &[], &[]),
            run("r2", 1, &[("chain.logs.exact", "missing 1 line")], &[]),
            run("r3", 0, &[], &["network lgtm-r3"]),
            run("r4", 1, &[("chain.logs.exact", "missing 2 lines")], &[]),
        ]);
        assert_eq!(s.passes, 1);
        assert_eq!(s.flakes["chain.logs.exact"].len(), 2);
        assert_eq!(s.leaked, ["r3: network lgtm-r3"]);
        let mut text = Vec::new();
        s.render(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("passes: 1 of 4"), "{text}");
        assert!(text.contains("r4: missing 2 lines"), "{text}");
    }
}
