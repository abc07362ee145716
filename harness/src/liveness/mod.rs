//! Noticing components that die during a run: a watch on the run's containers that
//! asks Docker about each one every [`POLL`] while the scenarios emit and the checks
//! wait, and once more at the end. A container that is no longer running (killed,
//! crashed, OOM-killed, removed) is a [`Death`]: when (after the run started), how
//! (`State.ExitCode`, `State.OOMKilled`, `State.FinishedAt`) and its last log lines.
//! The runner fails the checks that need a dead component at once, naming it, and
//! reports the component `failed` with its death; the run goes on with the rest.
//!
//! An adapter at the edge (it talks to Docker); what a death means for the report is
//! plain data ([`Death`], [`died_check`]). Main items: [`Liveness`], [`died_check`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::core::component::Component;
use crate::core::report::{CheckReport, CheckStatus, ComponentReport, ComponentStatus, Death};
use crate::stack::docker::Docker;

/// How often the containers are asked about.
pub const POLL: Duration = Duration::from_secs(1);
/// How many of a dead container's last log lines are kept.
pub const LOG_LINES: usize = 20;

/// A watch on a run's containers (see the module's documentation). Dropping it
/// stops the polling.
pub struct Liveness {
    probe: Arc<Probe>,
    deaths: watch::Receiver<BTreeMap<Component, Death>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the polling task and the final look share.
struct Probe {
    docker: Docker,
    containers: BTreeMap<Component, String>,
    started: Instant,
    deaths: watch::Sender<BTreeMap<Component, Death>>,
    /// Held while a look is under way, so that the final one sees every death.
    looking: tokio::sync::Mutex<()>,
    /// Components stopped on purpose (an injected fault) until they are back: not
    /// counted dead while excused.
    excused: std::sync::Mutex<std::collections::BTreeSet<Component>>,
}

impl Probe {
    /// Asks Docker once about every container not yet known dead; records the dead.
    async fn look(&self) {
        let _one_at_a_time = self.looking.lock().await;
        let known = self.deaths.borrow().clone();
        let excused = self.excused.lock().map(|e| e.clone()).unwrap_or_default();
        for (c, id) in &self.containers {
            if known.contains_key(c) || excused.contains(c) {
                continue;
            }
            let state = match self.docker.container_state(id).await {
                Ok(s) => s,
                // Docker did not answer: nothing is known, nothing is claimed.
                Err(_) => continue,
            };
            let death = match state {
                Some(s) if s.running => continue,
                Some(s) => Death {
                    after_ms: self.started.elapsed().as_millis() as u64,
                    finished_at: s.finished_at,
                    exit_code: s.exit_code,
                    oom_killed: s.oom_killed,
                    error: s.error,
                    last_log_lines: Vec::new(),
                },
                None => Death {
                    after_ms: self.started.elapsed().as_millis() as u64,
                    finished_at: None,
                    exit_code: None,
                    oom_killed: false,
                    error: None,
                    last_log_lines: Vec::new(),
                },
            };
            let logs = self.docker.tail_logs(id, LOG_LINES).await;
            let death = Death {
                last_log_lines: last_lines(&logs, LOG_LINES),
                ..death
            };
            self.deaths.send_modify(|d| {
                d.insert(*c, death);
            });
        }
    }
}

/// The last `n` non-empty lines of `text`, trimmed at the end.
fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

impl Liveness {
    /// Starts watching `containers` (component → container id); `started` is when
    /// the run started (deaths are timed from there).
    pub fn watch(
        docker: Docker,
        containers: BTreeMap<Component, String>,
        started: Instant,
    ) -> Self {
        let (tx, rx) = watch::channel(BTreeMap::new());
        let probe = Arc::new(Probe {
            docker,
            containers,
            started,
            deaths: tx,
            looking: tokio::sync::Mutex::new(()),
            excused: std::sync::Mutex::new(Default::default()),
        });
        let polling = probe.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                polling.look().await;
            }
        });
        Liveness {
            probe,
            deaths: rx,
            task,
        }
    }

    /// Excuses `component` (an injected fault stops it on purpose) until
    /// [`Liveness::unexcuse`]; a look under way finishes first.
    pub async fn excuse(&self, component: Component) {
        let _wait = self.probe.looking.lock().await;
        if let Ok(mut e) = self.probe.excused.lock() {
            e.insert(component);
        }
    }

    /// Watches `component` again: from now on, not running is a death.
    pub fn unexcuse(&self, component: Component) {
        if let Ok(mut e) = self.probe.excused.lock() {
            e.remove(&component);
        }
    }

    /// The components known dead so far.
    pub fn deaths(&self) -> BTreeMap<Component, Death> {
        self.deaths.borrow().clone()
    }

    /// Resolves as soon as one of `needs` is known dead (at once if one already is),
    /// with which and how; never, if none dies.
    pub async fn died_among(&self, needs: &[Component]) -> (Component, Death) {
        let mut rx = self.deaths.clone();
        let first = |d: &BTreeMap<Component, Death>| {
            needs
                .iter()
                .find_map(|c| d.get(c).map(|death| (*c, death.clone())))
        };
        loop {
            if let Some(found) = first(&rx.borrow_and_update()) {
                return found;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Stops the polling, looks once more, and returns every death seen.
    pub async fn stop(self) -> BTreeMap<Component, Death> {
        self.task.abort();
        self.probe.look().await;
        self.deaths()
    }
}

impl Drop for Liveness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The report of `check` when a component it needs died before it could conclude:
/// failed, naming the component and how it died.
pub fn died_check(mut report: CheckReport, c: Component, death: &Death) -> CheckReport {
    report.status = CheckStatus::Fail;
    report.reason = format!("{}: its data can no longer be asked for", death.sentence(c));
    report.time_to_visible_ms = None;
    report
}

/// The run's reports after the fact: each dead component `failed` with its death,
/// and each failed check that needs one says so first (unless it already does).
/// Checks that passed before the death stay passed.
pub fn apply_deaths(
    deaths: &BTreeMap<Component, Death>,
    components: &mut BTreeMap<Component, ComponentReport>,
    checks: &mut [CheckReport],
) {
    for (c, death) in deaths {
        if let Some(r) = components.get_mut(c) {
            r.status = ComponentStatus::Failed;
            r.reason = Some(death.sentence(*c));
            r.died = Some(death.clone());
        }
    }
    for check in checks.iter_mut().filter(|r| r.status == CheckStatus::Fail) {
        if let Some((c, death)) = check
            .needs
            .iter()
            .find_map(|c| deaths.get(c).map(|d| (*c, d)))
        {
            let sentence = death.sentence(c);
            if !check.reason.starts_with(&sentence) {
                check.reason = format!("{sentence}; {}", check.reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::check::Signal;

    fn death() -> Death {
        Death {
            after_ms: 12_345,
            finished_at: Some("2026-01-01T00:00:12Z".into()),
            exit_code: Some(137),
            oom_killed: false,
            error: None,
            last_log_lines: vec!["level=info msg=ok".into()],
        }
    }

    fn check(id: &str, needs: Vec<Component>, status: CheckStatus) -> CheckReport {
        CheckReport {
            id: id.into(),
            title: id.into(),
            signal: Signal::Logs,
            component: needs[0],
            needs,
            status,
            reason: "not as expected after 60.0s: 0 of 49 lines".into(),
            query: "{run_id=\"r\"}".into(),
            guide_query: None,
            time_to_visible_ms: None,
            skipped_because: vec![],
        }
    }

    #[test]
    fn a_death_names_how_and_when() {
        assert_eq!(
            death().sentence(Component::Loki),
            "loki died during the run (exit code 137, killed), 12.3 s after the run started"
        );
        let oom = Death {
            oom_killed: true,
            ..death()
        };
        assert_eq!(oom.how(), "exit code 137, OOM-killed");
        let gone = Death {
            exit_code: None,
            ..death()
        };
        assert_eq!(gone.how(), "its container is gone");
        assert_eq!(last_lines("a\n\nb\nc\n", 2), ["b", "c"]);
    }

    #[test]
    fn the_dead_component_fails_and_so_do_the_failed_checks_needing_it_by_name() {
        let deaths = BTreeMap::from([(Component::Loki, death())]);
        let mut components = BTreeMap::from([(
            Component::Loki,
            ComponentReport {
                name: Component::Loki,
                image: "grafana/loki:3.2.0".into(),
                status: ComponentStatus::Ready,
                ready_ms: Some(900),
                version: Some("3.2.0".into()),
                reason: None,
                stand_in: None,
                refused_guide_config: None,
                died: None,
            },
        )]);
        let mut checks = vec![
            check("http.logs.exact", vec![Component::Loki], CheckStatus::Fail),
            check("http.logs.level", vec![Component::Loki], CheckStatus::Pass),
            check(
                "http.traces.exact_ids",
                vec![Component::Tempo],
                CheckStatus::Fail,
            ),
        ];
        apply_deaths(&deaths, &mut components, &mut checks);
        let loki = &components[&Component::Loki];
        assert_eq!(loki.status, ComponentStatus::Failed);
        assert_eq!(loki.died.as_ref().unwrap().exit_code, Some(137));
        assert!(
            loki.down_because()
                .unwrap()
                .contains("loki died during the run")
        );
        assert!(
            checks[0]
                .reason
                .starts_with("loki died during the run (exit code 137, killed)")
        );
        assert_eq!(checks[1].status, CheckStatus::Pass, "passed before it died");
        assert!(!checks[2].reason.contains("loki"), "{}", checks[2].reason);
        // Applying twice names it once.
        apply_deaths(&deaths, &mut components, &mut checks);
        assert_eq!(checks[0].reason.matches("loki died").count(), 1);
    }
}
