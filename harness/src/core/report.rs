//! The report model: what happened to each component and each check, as plain data.
//! Reporters (terminal, JSON) render it; the exit code is derived from it.
//!
//! Main types: [`Report`], [`ComponentReport`], [`CheckReport`]; the JSON form has
//! [`REPORT_SCHEMA_VERSION`].

use std::collections::BTreeSet;

use serde::Serialize;

use super::check::Signal;
use super::component::Component;
use super::plan::ConfigSet;

/// Version of the JSON report format.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Exit codes of the `lgtm-check` binary.
pub mod exit {
    /// Every check passed (and, with `--require-all`, nothing was skipped).
    pub const OK: i32 = 0;
    /// A check failed, a component failed, or a required component (`--require`,
    /// `--require-all`) was skipped or stood in for.
    pub const CHECKS_FAILED: i32 = 1;
    /// lgtm-check could not do its job: bad flags, Docker unreachable, a scenario that
    /// would not run.
    pub const HARNESS_ERROR: i32 = 2;
    /// Interrupted (Ctrl-C); containers were removed.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    Ready,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentReport {
    pub name: Component,
    /// The image that ran (or was asked for, when skipped).
    pub image: String,
    pub status: ComponentStatus,
    /// Time from container start to the first ready answer.
    pub ready_ms: Option<u64>,
    /// The version the component reports about itself (build info), not the tag.
    pub version: Option<String>,
    pub reason: Option<String>,
    /// Set when another program filled this role (Mimir's: `cortex`, `prometheus`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<String>,
    /// With `--configs guide`: why the guide's config was refused (the component
    /// then ran with the fixed one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_guide_config: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub title: String,
    pub signal: Signal,
    pub component: Component,
    /// Every component the check's data passes through.
    pub needs: Vec<Component>,
    pub status: CheckStatus,
    pub reason: String,
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guide_query: Option<String>,
    /// From the moment the scenario had emitted to the first matching answer.
    pub time_to_visible_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// A place where the guide is wrong, with the evidence a backend gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuideDefect {
    /// The check (or `component.<name>`) that showed it.
    pub id: String,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub run_id: String,
    /// Components that had to really run (`--require`, `--require-all`).
    pub required: BTreeSet<Component>,
    /// Whose configs ran: `fixed` or `guide`.
    pub configs: ConfigSet,
    pub components: Vec<ComponentReport>,
    pub checks: Vec<CheckReport>,
    pub summary: Summary,
    /// Why the run as a whole failed, beyond failed checks.
    pub problems: Vec<String>,
    pub guide_defects: Vec<GuideDefect>,
}

impl Report {
    pub fn new(
        run_id: String,
        required: BTreeSet<Component>,
        configs: ConfigSet,
        components: Vec<ComponentReport>,
        checks: Vec<CheckReport>,
    ) -> Self {
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        let summary = Summary {
            passed: count(CheckStatus::Pass),
            failed: count(CheckStatus::Fail),
            skipped: count(CheckStatus::Skip),
        };
        let mut problems = Vec::new();
        for c in &components {
            if c.status == ComponentStatus::Failed {
                problems.push(format!("{} failed to start", c.name));
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
            .filter(|c| {
                c.status == CheckStatus::Skip && c.needs.iter().any(|n| required.contains(n))
            })
            .count();
        if skipped_required > 0 {
            problems.push(format!(
                "{skipped_required} checks that need a required component were skipped"
            ));
        }
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            guide_defects: guide_defects(configs, &components, &checks),
            run_id,
            required,
            configs,
            components,
            checks,
            summary,
            problems,
        }
    }

    /// The process exit code this report implies.
    pub fn exit_code(&self) -> i32 {
        if self.summary.failed > 0 || !self.problems.is_empty() {
            exit::CHECKS_FAILED
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
        failed.id = "retention.loki.enforced".into();
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
                "retention.loki.enforced"
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
}
