//! The scenarios a run executes and the checks each one's manifest yields: plain data
//! and a pure function, so the catalog of a run is known without running anything.
//!
//! Main items: [`SCENARIOS`] (the default set), [`VOLUME`], [`scenario_named`],
//! [`ScenarioSpec`], [`VolumeSize`], [`checks_for`].

use lgtm_check_recorder::manifest::Manifest;

use super::catalog::{MetricsVia, exact_metrics_checks, metrics_checks, settled};
use super::catalog_grafana::{
    LoadedDashboard, dashboard_checks, derived_field_check, grafana_checks,
};
use super::catalog_record::{RecordMapping, logs_by_trace_id_check, record_checks};
use super::catalog_telemetry::{
    correlation_checks, guide_log_checks, guide_trace_checks, logs_checks, sampling_checks,
    traces_checks, upgrade_trace_checks,
};
use super::check::Check;
use super::dashboard::{Dashboard, KnownDatasource};
use super::record::Record;

/// One scenario binary and how the harness runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioSpec {
    /// The binary's name.
    pub binary: &'static str,
    /// Prefix of its checks' ids, and suffix of its run id.
    pub prefix: &'static str,
    /// It serves /metrics for the Prometheus role to scrape (and holds until told).
    pub scraped: bool,
    /// Its own flags.
    pub args: &'static [&'static str],
    /// It sends every signal over OTLP through lgtm-check's recording gateway, whose
    /// record (not its manifest) says what it sent.
    pub gateway: bool,
}

/// Every scenario of a run, in start order.
pub const SCENARIOS: [ScenarioSpec; 5] = [
    ScenarioSpec {
        binary: "http-service",
        prefix: "http",
        scraped: true,
        // Both attribute generations, so the guide's TraceQL can run as written.
        args: &["--legacy-http-attributes"],
        gateway: false,
    },
    ScenarioSpec {
        binary: "checkout-chain",
        prefix: "chain",
        scraped: false,
        args: &[],
        gateway: false,
    },
    ScenarioSpec {
        binary: "error-burst",
        prefix: "errors",
        scraped: false,
        args: &[],
        gateway: false,
    },
    ScenarioSpec {
        binary: "sampling",
        prefix: "sampling",
        scraped: false,
        args: &["--sampler-ratio", "0.01"],
        gateway: false,
    },
    ScenarioSpec {
        binary: "otlp-service",
        prefix: "otlp",
        scraped: false,
        args: &[],
        gateway: true,
    },
];

/// The load scenario: many lines, spans and series (`--scenario volume`), checked
/// for exact arrival only. Not in the default set.
pub const VOLUME: ScenarioSpec = ScenarioSpec {
    binary: "volume",
    prefix: "volume",
    scraped: true,
    args: &[],
    gateway: false,
};

/// The scenario called `name`: its binary's name or its prefix (`http-service` or
/// `http`, …, `volume`).
pub fn scenario_named(name: &str) -> Option<ScenarioSpec> {
    SCENARIOS
        .iter()
        .chain(std::iter::once(&VOLUME))
        .find(|s| s.binary == name || s.prefix == name)
        .copied()
}

/// Every scenario name [`scenario_named`] knows, for error messages.
pub fn scenario_names() -> Vec<&'static str> {
    SCENARIOS
        .iter()
        .chain(std::iter::once(&VOLUME))
        .map(|s| s.binary)
        .collect()
}

/// How much the volume scenario emits (`--log-lines`, `--spans`, `--series`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeSize {
    /// Log lines pushed to Loki, each checked for arrival.
    pub log_lines: u64,
    /// Spans exported to Tempo, 10 per trace.
    pub spans: u64,
    /// Series of the counter `volume_events_total` served for the Prometheus role
    /// to scrape.
    pub series: u64,
}

impl Default for VolumeSize {
    /// The volume scenario's own defaults.
    fn default() -> Self {
        VolumeSize {
            log_lines: 5000,
            spans: 2000,
            series: 100,
        }
    }
}

impl VolumeSize {
    /// The volume scenario's flags for this size.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--log-lines".into(),
            self.log_lines.to_string(),
            "--spans".into(),
            self.spans.to_string(),
            "--series".into(),
            self.series.to_string(),
        ]
    }
}

/// What the catalog needs besides manifests: the dashboard and Grafana provisioning
/// the stack runs with, and what Grafana loaded of it.
#[derive(Debug, Clone)]
pub struct CatalogContext {
    /// The dashboard the stack provisions (the fixed one, or the guide's with
    /// `--configs guide`): its targets are run directly against their backends.
    pub dashboard: Dashboard,
    /// The dashboard as Grafana serves it, read back by uid: its targets are run
    /// through Grafana.
    pub loaded: LoadedDashboard,
    /// The datasources Grafana is provisioned with: dashboard targets refer to them
    /// by uid or name, and each target's query goes to the backend of its kind.
    pub datasources: Vec<KnownDatasource>,
    /// The Loki datasource's derived-field regex for trace ids.
    pub derived_field_regex: String,
}

/// The checks a scenario's manifest yields; for a scenario sent through the gateway,
/// its record's ([`otlp_checks`]).
pub fn checks_for(
    spec: &ScenarioSpec,
    m: &Manifest,
    ctx: &CatalogContext,
    record: Option<(&Record, &RecordMapping)>,
) -> Vec<Check> {
    let p = spec.prefix;
    if spec.gateway {
        return match record {
            Some((r, mapping)) => otlp_checks(p, r, mapping),
            None => vec![no_gateway(p)],
        };
    }
    let mut checks = Vec::new();
    if spec.prefix == VOLUME.prefix {
        // Exact arrival of each signal, nothing else: the other checks read every
        // trace or line one by one, which says nothing more at volume.
        checks.extend(exact_metrics_checks(m, MetricsVia::Mimir, settled(m)));
        if !m.logs.streams.is_empty() {
            checks.extend(logs_checks(p, m));
        }
        if !m.traces.traces.is_empty() {
            checks.extend(traces_checks(p, m));
        }
        return checks;
    }
    if spec.scraped {
        checks.extend(metrics_checks(m));
    }
    if spec.prefix != "sampling" {
        checks.extend(logs_checks(p, m));
    }
    checks.extend(traces_checks(p, m));
    match spec.prefix {
        "http" => {
            checks.extend(correlation_checks(p, m));
            checks.extend(guide_log_checks(m));
            checks.extend(guide_trace_checks(m));
            checks.extend(upgrade_trace_checks(m));
            checks.extend(dashboard_checks(m, &ctx.dashboard, &ctx.datasources));
            checks.push(derived_field_check(m, &ctx.derived_field_regex));
            checks.extend(grafana_checks(
                m,
                &ctx.dashboard,
                &ctx.loaded,
                &ctx.datasources,
            ));
        }
        "sampling" => checks.extend(sampling_checks(p, m)),
        _ => checks.extend(correlation_checks(p, m)),
    }
    checks
}

/// The checks of a scenario that sent everything over OTLP through the gateway:
/// exact arrival per signal as the backends map OTLP ([`record_checks`]), and Loki's
/// mapping used in LogQL: the records of each trace by its structured-metadata
/// `trace_id` (`{service_name="…"} | trace_id=~"…"`).
pub fn otlp_checks(prefix: &str, r: &Record, mapping: &RecordMapping) -> Vec<Check> {
    let mut checks = record_checks(prefix, r, mapping);
    checks.extend(logs_by_trace_id_check(prefix, r, mapping));
    checks
}

/// Whether a check of a scraped scenario waits for its manifest of record: its data
/// goes through the metrics path (the Prometheus role's scrape, then the Mimir
/// role), and its queries are evaluated at that manifest's end, after the scrapes.
/// The others (logs, traces) can start from the provisional manifest written when
/// everything was emitted.
pub fn waits_for_scrapes(check: &Check) -> bool {
    use super::component::Component;
    check
        .needs
        .iter()
        .any(|c| matches!(c, Component::Prometheus | Component::Mimir))
}

/// Reported skipped: the scenario needs the gateway, which this run has not.
fn no_gateway(prefix: &str) -> Check {
    use super::check::{Query, Signal};
    use super::component::Component;
    use super::expect::Expectation;
    Check {
        id: format!("{prefix}.traces.exact"),
        title: "the OTLP scenario's signals arrived".into(),
        signal: Signal::Traces,
        component: Component::Tempo,
        needs: Vec::new(),
        query: Query::NotPossible {
            reason: "the OTLP scenario is checked from the record of lgtm-check's gateway, which this run could not start".into(),
        },
        guide_original: None,
        expect: Expectation::NonEmpty,
        control: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog_telemetry::window;
    use crate::core::check::{EvalAt, Query, Window};

    /// A finished run's manifest: one line, one trace, one counter and histogram.
    fn finished_run() -> Manifest {
        serde_json::from_str(include_str!("../../tests/data/manifests/finished-run.json")).unwrap()
    }

    /// A scraped scenario's checks that start before its scrapes ask only Loki and
    /// Tempo (never a PromQL or exemplar query, which is evaluated at the end of the
    /// manifest of record); there are such checks, and the metrics ones wait.
    #[test]
    fn only_the_logs_and_traces_of_a_scraped_scenario_start_before_its_scrapes() {
        use crate::core::catalog_grafana::LoadedDashboard;
        use crate::core::component::Component;
        use crate::core::plan::ConfigSet;
        use crate::stack::configs::catalog_context;
        let m = finished_run();
        let ctx = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
        for spec in SCENARIOS.iter().filter(|s| s.scraped) {
            let checks = checks_for(spec, &m, &ctx, None);
            let (late, early): (Vec<&Check>, Vec<&Check>) =
                checks.iter().partition(|c| waits_for_scrapes(c));
            assert!(!early.is_empty() && !late.is_empty(), "{}", spec.binary);
            for c in early {
                let queries = std::iter::once(&c.query).chain(c.control.iter().map(|k| &k.query));
                for q in queries {
                    assert!(
                        !matches!(q, Query::PromQl { .. } | Query::Exemplars { .. }),
                        "{} would start before the scrapes",
                        c.id
                    );
                }
                assert!(
                    c.needs.iter().all(|n| matches!(
                        n,
                        Component::Loki | Component::Tempo | Component::Grafana
                    )),
                    "{}: {:?}",
                    c.id,
                    c.needs
                );
            }
        }
    }

    /// Every query of a finished run's catalog carries its time: instant queries an
    /// evaluation time fixed by the manifest, range queries the run's window. None
    /// leaves it to the moment the query is sent (the old `EvalAt::Now`, a LogQL
    /// metric query without `time`, windows that followed the clock).
    #[test]
    fn every_query_of_a_finished_run_is_pinned_to_the_run() {
        let m = finished_run();
        use crate::core::catalog_grafana::LoadedDashboard;
        use crate::core::plan::ConfigSet;
        use crate::stack::configs::catalog_context;
        // As when Grafana serves the provisioned dashboard: its checks are made too.
        let provisioned = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
        let ctx = catalog_context(
            ConfigSet::Fixed,
            LoadedDashboard::Loaded(provisioned.dashboard.clone()),
        )
        .unwrap();
        let guide_2024 = Window {
            start_unix_ms: 1_704_067_200_000,
            end_unix_ms: 1_704_153_600_000,
        };
        let mut kinds = std::collections::BTreeSet::new();
        for spec in &SCENARIOS {
            let checks = checks_for(spec, &m, &ctx, None);
            let queries = checks.iter().flat_map(|c| {
                std::iter::once((c, &c.query)).chain(c.control.iter().map(move |k| (c, &k.query)))
            });
            for (c, query) in queries {
                let text = query.text();
                let kind = match query {
                    Query::PromQl { at, .. } => {
                        match at {
                            EvalAt::Fixed { unix_ms } => {
                                assert_eq!(*unix_ms, m.finished_at_unix_ms, "{}", c.id)
                            }
                            EvalAt::Settled {
                                probe_at_unix_ms,
                                range_secs,
                                probe,
                                from_zero,
                            } => {
                                assert!(from_zero, "{}: the rate checks need the zero", c.id);
                                assert_eq!(*probe_at_unix_ms, m.finished_at_unix_ms, "{}", c.id);
                                // the probe reaches back before the run and stays
                                // within the [5m] of the rates
                                assert!((5..300).contains(range_secs), "{}", c.id);
                                assert!(probe.contains("run_id=\"r1-http\""), "{}", c.id);
                            }
                        }
                        assert!(text.contains(" (at "), "{}: {text}", c.id);
                        "promql"
                    }
                    Query::LogQlMetric { at_unix_ms, .. } => {
                        assert_eq!(*at_unix_ms, m.finished_at_unix_ms + 1000, "{}", c.id);
                        assert!(text.ends_with("(at 1732540005.321)"), "{}: {text}", c.id);
                        "logql-metric"
                    }
                    Query::LogQlLines { window: w, .. }
                    | Query::TraceQlSearch { window: w, .. }
                    | Query::TraceQlMetrics { window: w, .. }
                    | Query::GrafanaDsQuery { window: w, .. }
                    | Query::Exemplars { window: w, .. }
                    | Query::LogQlByTraceId { window: w, .. } => {
                        assert!(*w == window(&m) || *w == guide_2024, "{}: {w:?}", c.id);
                        assert!(w.start_unix_ms < m.started_at_unix_ms, "{}", c.id);
                        assert!(text.contains(" (from "), "{}: {text}", c.id);
                        "window"
                    }
                    Query::TracesById { .. }
                    | Query::ConfigField { .. }
                    | Query::NotPossible { .. }
                    | Query::GrafanaHealth
                    | Query::GrafanaDashboard { .. }
                    | Query::GrafanaDatasourceHealth { .. } => "timeless",
                };
                kinds.insert(kind);
            }
        }
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            vec!["logql-metric", "promql", "timeless", "window"]
        );
    }
}
