//! The scenarios a run executes and the checks each one's manifest yields: plain data
//! and a pure function, so the catalog of a run is known without running anything.
//!
//! Main items: [`SCENARIOS`], [`ScenarioSpec`], [`checks_for`].

use lgtm_scenarios::manifest::Manifest;

use super::catalog::metrics_checks;
use super::catalog_grafana::{
    LoadedDashboard, dashboard_checks, derived_field_check, grafana_checks,
};
use super::catalog_telemetry::{
    correlation_checks, exemplar_check, guide_log_checks, guide_trace_checks, logs_checks,
    sampling_checks, traces_checks,
};
use super::check::Check;
use super::dashboard::{Dashboard, KnownDatasource};

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
}

/// Every scenario of a run, in start order.
pub const SCENARIOS: [ScenarioSpec; 4] = [
    ScenarioSpec {
        binary: "http-service",
        prefix: "http",
        scraped: true,
        // Both attribute generations, so the guide's TraceQL can run as written.
        args: &["--legacy-http-attributes"],
    },
    ScenarioSpec {
        binary: "checkout-chain",
        prefix: "chain",
        scraped: false,
        args: &[],
    },
    ScenarioSpec {
        binary: "error-burst",
        prefix: "errors",
        scraped: false,
        args: &[],
    },
    ScenarioSpec {
        binary: "sampling",
        prefix: "sampling",
        scraped: false,
        args: &["--sampler-ratio", "0.01"],
    },
];

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
    pub datasources: Vec<KnownDatasource>,
    /// The Loki datasource's derived-field regex for trace ids.
    pub derived_field_regex: String,
}

/// The checks a scenario's manifest yields.
pub fn checks_for(spec: &ScenarioSpec, m: &Manifest, ctx: &CatalogContext) -> Vec<Check> {
    let p = spec.prefix;
    let mut checks = Vec::new();
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
            checks.push(exemplar_check(p));
            checks.extend(guide_log_checks(m));
            checks.extend(guide_trace_checks(m));
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
