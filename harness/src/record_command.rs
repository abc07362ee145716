//! `lgtm-check run --target external --record PATH`: exact arrival, checked from a
//! record that `lgtm-check tap` (or `lgtm-check app --record`) wrote, against the
//! deployment the same target settings give. No scenario runs: each component is
//! preflighted as `run --target external` does ([`Deployment::preflight`]), the
//! record's checks ([`record_checks`] under [`PREFIX`]: `tap.traces.exact`,
//! `tap.logs.exact`, …) ask the deployment, and the report says what the program
//! sent per signal ([`SentSummary::of_record`]).
//!
//! Thin: [`read`] loads the record (a named [`RecordError`]), [`mapping`] picks how
//! the backends stored what the tap forwarded (pure), [`run`] preflights, runs the
//! checks and returns the [`Report`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::concurrent::{CHECKS_AT_ONCE, TimedCheck, run_checks};
use crate::core::catalog_record::{RecordMapping, record_checks};
use crate::core::component::Component;
use crate::core::event::Event;
use crate::core::plan::{MimirFlavour, RunPlan};
use crate::core::record::{Record, RecordError};
use crate::core::report::{ComponentReport, Report, SentSummary};
use crate::core::target::ExternalTarget;
use crate::external::Deployment;
use crate::gateway::GatewayConfig;

/// The prefix of a record's check ids on an external target: `tap.traces.exact`,
/// `tap.logs.exact`, `tap.logs.pushed.exact`, `tap.metrics.exact`,
/// `tap.metrics.remote_written.exact`, `tap.correlation.*`.
pub const PREFIX: &str = "tap";

/// Why `run --record` cannot run (the binary exits 2).
#[derive(Debug, thiserror::Error)]
pub enum RecordRunError {
    /// `--record` without an external target: the containers lgtm-check starts are
    /// removed when their run ends, so there is nothing left to check a record
    /// against.
    #[error(
        "--record checks a record against a running deployment: give --target external and its URLs (the containers lgtm-check starts are removed when their run ends, so a record cannot be checked against them)"
    )]
    NotExternal,
    /// A flag that selects or sizes scenarios, given with `--record` (no scenario
    /// runs).
    #[error("--record runs no scenario, so {flag} cannot be used with it")]
    ScenarioFlag {
        /// The flag, as typed (`--scenario`).
        flag: &'static str,
    },
    /// The record cannot be read, is not a record, or is of another schema.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Reads and parses the record at `path`; every failure names the file.
pub fn read(path: &Path) -> Result<Record, RecordError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RecordError::Read {
        path: shown.clone(),
        source,
    })?;
    Record::parse(&text, &shown)
}

/// What fills the Mimir role, as far as the tap's forwarding of OTLP metrics goes,
/// judged by `metrics-otlp-url`: without one lgtm-check translated them and
/// remote-wrote the series ([`MimirFlavour::Prometheus`]'s path); with Cortex's OTLP
/// path (`/api/v1/otlp/v1/metrics`) Cortex; with any other, Mimir.
///
/// ```
/// use lgtm_check::core::plan::MimirFlavour;
/// use lgtm_check::record_command::metrics_flavour;
/// assert_eq!(metrics_flavour(None), MimirFlavour::Prometheus);
/// assert_eq!(metrics_flavour(Some("http://cortex:9009/api/v1/otlp/v1/metrics")), MimirFlavour::Cortex);
/// assert_eq!(metrics_flavour(Some("http://mimir:9009/otlp/v1/metrics")), MimirFlavour::Mimir);
/// ```
pub fn metrics_flavour(metrics_otlp_url: Option<&str>) -> MimirFlavour {
    match metrics_otlp_url {
        None => MimirFlavour::Prometheus,
        Some(u) if u.trim_end_matches('/').ends_with("/api/v1/otlp/v1/metrics") => {
            MimirFlavour::Cortex
        }
        Some(_) => MimirFlavour::Mimir,
    }
}

/// How the deployment stored what the tap forwarded: Loki's OTLP mapping by the
/// version Loki reported in its preflight; OTLP metrics by the Mimir role's own
/// translation (its flavour, [`metrics_flavour`], and reported version) when the
/// tap sent them to `metrics-otlp-url`, else by lgtm-check's translation to remote
/// write, the one the tap's gateway used.
pub fn mapping(target: &ExternalTarget, components: &[ComponentReport]) -> RecordMapping {
    let version = |c: Component| {
        components
            .iter()
            .find(|r| r.name == c)
            .and_then(|r| r.version.clone())
    };
    let flavour = metrics_flavour(target.metrics_otlp.as_ref().map(|s| s.url.as_str()));
    let mut m = RecordMapping::for_backends(
        version(Component::Loki).as_deref(),
        flavour.otlp_translation(version(Component::Mimir).as_deref()),
    );
    if flavour == MimirFlavour::Prometheus {
        m.metrics = GatewayConfig::new("").translation;
    }
    m
}

/// Preflights the deployment's components, runs the exact checks of `record`
/// against those that passed (each up to `plan.check_timeout`) and reports: the
/// report carries the record's run id (the plan's when the record has none), the
/// target and what the program sent.
pub async fn run(
    plan: &RunPlan,
    deployment: &Deployment,
    record: &Record,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Report {
    let components = deployment.preflight().await;
    for c in &components {
        on_event(Event::ComponentFinished(c));
    }
    let backends = deployment.backends(&components);
    let by_name: BTreeMap<Component, ComponentReport> =
        components.iter().map(|c| (c.name, c.clone())).collect();
    let m = mapping(&deployment.target, &components);
    // The data was sent before this run: time-to-visible counts from now.
    let now = Instant::now();
    let checks = record_checks(PREFIX, record, &m)
        .into_iter()
        .map(|check| TimedCheck {
            emitted_at: now,
            check,
        })
        .collect();
    on_event(Event::ChecksStarted {
        at_once: CHECKS_AT_ONCE,
    });
    let reports = run_checks(
        checks,
        &backends,
        &by_name,
        plan.check_timeout.max(Duration::from_secs(1)),
        CHECKS_AT_ONCE,
        |r| on_event(Event::CheckFinished(r)),
    )
    .await;
    let run_id = if record.run_id.is_empty() {
        plan.run_id.clone()
    } else {
        record.run_id.clone()
    };
    let mut report = Report::new(
        run_id,
        plan.required.clone(),
        plan.configs,
        components,
        reports,
    )
    .with_target(&deployment.target.to_string());
    report.sent = SentSummary::of_record("the program", record);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::Env;
    use crate::core::report::ComponentStatus;
    use crate::core::target::{Target, TargetSettings};

    fn target(pairs: &[(&str, &str)]) -> ExternalTarget {
        let mut all = vec![
            ("LGTM_CHECK_TARGET", "external"),
            ("LGTM_CHECK_LOKI_URL", "http://loki:3100"),
        ];
        all.extend_from_slice(pairs);
        match Target::resolve(None, &Env::from_pairs(all), TargetSettings::default()).unwrap() {
            Target::External(t) => *t,
            Target::Containers => panic!("external"),
        }
    }

    fn ready(name: Component, version: &str) -> ComponentReport {
        ComponentReport {
            name,
            image: String::new(),
            status: ComponentStatus::Ready,
            ready_ms: Some(1),
            version: Some(version.into()),
            reason: None,
            stand_in: None,
            refused_guide_config: None,
            died: None,
        }
    }

    #[test]
    fn the_mapping_follows_the_reported_versions_and_where_the_tap_sent_metrics() {
        let components = [
            ready(Component::Loki, "3.2.0"),
            ready(Component::Mimir, "1.18.1"),
        ];
        let m = mapping(&target(&[]), &components);
        assert_eq!(m.loki.backend, "loki 3.2");
        assert_eq!(m.metrics, GatewayConfig::new("").translation);
        let t = target(&[(
            "LGTM_CHECK_METRICS_OTLP_URL",
            "http://cortex:9009/api/v1/otlp/v1/metrics",
        )]);
        let m = mapping(&t, &components);
        assert_eq!(m.metrics.backend, "cortex 1.18");
    }

    #[test]
    fn a_missing_or_foreign_record_is_named() {
        let dir = std::env::temp_dir().join(format!("lgtm-check-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("nope.json");
        let e = read(&missing).unwrap_err();
        assert!(matches!(e, RecordError::Read { .. }));
        assert!(e.to_string().contains("nope.json"), "{e}");
        let other = dir.join("other.json");
        std::fs::write(&other, r#"{"schema_version": 9, "run_id": "r", "started_at_unix_ms": 0, "finished_at_unix_ms": 0}"#).unwrap();
        assert!(matches!(
            read(&other).unwrap_err(),
            RecordError::Version { found: 9, .. }
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
