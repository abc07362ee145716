//! Component configurations: the fixed fixtures under `fixtures/`, embedded in the
//! binary, and the few that are rendered for a run (addresses of the run's
//! containers and of the scenario). Pure functions, no I/O.
//!
//! The files are read through `harness/fixtures`, a symlink (tracked by git) to the
//! repository's top-level `fixtures/`: one copy of each file, where the compose file
//! and the manual point, and still inside this crate, so that `cargo package`
//! (which follows the symlink and stores regular files) ships what is embedded here.

/// Loki 3.2, the guide's config fixed (see the comments in the file).
pub const LOKI: &str = include_str!("../../fixtures/loki/loki.yaml");
/// Tempo 2.6, the guide's config tuned to be ready in about a second.
pub const TEMPO: &str = include_str!("../../fixtures/tempo/tempo.yaml");
/// Mimir 2.14 monolithic, the guide's config tuned to be ready in about a second.
pub const MIMIR: &str = include_str!("../../fixtures/mimir/mimir.yaml");
/// Cortex single-process, standing in for Mimir where Mimir's image is absent.
pub const CORTEX: &str = include_str!("../../fixtures/cortex/cortex.yaml");
/// A Prometheus that only receives remote writes, standing in for Mimir.
pub const PROMETHEUS_RECEIVER: &str =
    include_str!("../../fixtures/prometheus/remote-write-receiver.yml");
const PROMETHEUS_SCRAPER: &str = include_str!("../../fixtures/prometheus/prometheus.yml");
/// Grafana's dashboards provider (loads /var/lib/grafana/dashboards).
pub const GRAFANA_DASHBOARDS_PROVIDER: &str =
    include_str!("../../fixtures/grafana/provisioning/dashboards/dashboards.yaml");
/// The guide's dashboard in the current schema.
pub const GRAFANA_DASHBOARD: &str =
    include_str!("../../fixtures/grafana/dashboards/lgtm-rust.json");
const GRAFANA_DATASOURCES: &str =
    include_str!("../../fixtures/grafana/provisioning/datasources/datasources.yaml");

/// The guide's configs exactly as written (`fixtures/guide/`).
pub mod guide {
    /// The guide's `loki-config.yaml`.
    pub const LOKI: &str = include_str!("../../fixtures/guide/loki-config.yaml");
    /// The guide's `tempo-config.yaml`.
    pub const TEMPO: &str = include_str!("../../fixtures/guide/tempo-config.yaml");
    /// The guide's `mimir-config.yaml`.
    pub const MIMIR: &str = include_str!("../../fixtures/guide/mimir-config.yaml");
    /// The guide's `prometheus.yml`.
    pub const PROMETHEUS: &str = include_str!("../../fixtures/guide/prometheus.yml");
    /// The guide's `grafana-datasources.yaml`.
    pub const GRAFANA_DATASOURCES: &str =
        include_str!("../../fixtures/guide/grafana-datasources.yaml");
    /// The guide's dashboard JSON.
    pub const DASHBOARD: &str = include_str!("../../fixtures/guide/dashboard.json");

    /// The guide's scraper config with only the two addresses that cannot exist here
    /// (`rust-app:9090`, `mimir:9009/api/v1/push`) replaced by this run's.
    pub fn prometheus(target: &str, push_url: &str) -> String {
        PROMETHEUS
            .replace("rust-app:9090", target)
            .replace("http://mimir:9009/api/v1/push", push_url)
    }
}

/// The scraper's config: scrape `target` (`host:port`) every second and remote-write
/// to `push_url`.
pub fn prometheus_scraper(target: &str, push_url: &str) -> String {
    PROMETHEUS_SCRAPER
        .replace("${SCRAPE_TARGET}", target)
        .replace("${MIMIR_PUSH_URL}", push_url)
}

/// The regex of the Loki datasource's derived field (log line → trace link).
pub fn derived_field_regex() -> Option<String> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(GRAFANA_DATASOURCES).ok()?;
    v.get("datasources")?
        .as_sequence()?
        .iter()
        .find(|d| d.get("type").and_then(|t| t.as_str()) == Some("loki"))?
        .get("jsonData")?
        .get("derivedFields")?
        .as_sequence()?
        .first()?
        .get("matcherRegex")?
        .as_str()
        .map(str::to_owned)
}

/// The dashboard file Grafana is provisioned with: the fixed one, or the guide's.
pub fn dashboard_json(configs: ConfigSet) -> &'static str {
    match configs {
        ConfigSet::Fixed => GRAFANA_DASHBOARD,
        ConfigSet::Guide => guide::DASHBOARD,
    }
}

/// The catalog's view of the provisioning: the dashboard the stack provisions (the
/// guide's with `--configs guide`), what Grafana `loaded`, the datasources and the
/// derived-field regex.
pub fn catalog_context(
    configs: ConfigSet,
    loaded: LoadedDashboard,
) -> Result<CatalogContext, String> {
    let datasources = KnownDatasource::provisioned();
    let dashboard =
        dashboard::parse(dashboard_json(configs), &datasources).map_err(|e| format!("{e:?}"))?;
    Ok(CatalogContext {
        dashboard,
        loaded,
        datasources,
        derived_field_regex: derived_field_regex()
            .ok_or("no derived field in the Loki datasource")?,
    })
}

/// Grafana's datasources, pointing at the run's containers.
pub fn grafana_datasources(loki: &str, tempo: &str, mimir: &str) -> String {
    datasources_with(GRAFANA_DATASOURCES, loki, tempo, mimir)
}

/// Any datasources file with the guide's three URLs replaced.
pub fn datasources_with(text: &str, loki: &str, tempo: &str, mimir: &str) -> String {
    text.replace("http://loki:3100", loki)
        .replace("http://tempo:3200", tempo)
        .replace("http://mimir:9009/prometheus", mimir)
}

use crate::core::catalog_grafana::LoadedDashboard;
use crate::core::dashboard::{self, KnownDatasource};
use crate::core::plan::ConfigSet;
use crate::core::scenarios::CatalogContext;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provisioning_yields_a_catalog_context() {
        let ctx = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
        assert_eq!(ctx.derived_field_regex, r#""trace_id":"(\w+)""#);
        assert!(
            ctx.dashboard.defects.is_empty(),
            "{:?}",
            ctx.dashboard.defects
        );
        assert!(ctx.dashboard.targets.len() >= 5);
        // In guide mode the guide's dashboard is what is checked.
        let guide = catalog_context(ConfigSet::Guide, LoadedDashboard::NotRead).unwrap();
        assert_eq!(guide.dashboard.uid, None);
        assert!(!guide.dashboard.defects.is_empty());
        assert!(
            guide
                .dashboard
                .targets
                .iter()
                .any(|t| t.query.text() == "sum(rate(http_requests_total[5m])) by (method)")
        );
    }

    #[test]
    fn loki_config_drops_the_field_loki_3_refuses() {
        assert!(
            !LOKI
                .lines()
                .any(|l| l.trim_start().starts_with("enforce_metric_name"))
        );
        assert!(LOKI.contains("retention_period: 168h"));
    }

    #[test]
    fn rendering_leaves_no_placeholder() {
        let p = prometheus_scraper("h:1", "http://m/api/v1/push");
        assert!(!p.contains("${"), "{p}");
        let g = grafana_datasources("http://l", "http://t", "http://m/prometheus");
        assert!(!g.contains("loki:3100") && !g.contains("tempo:3200"), "{g}");
    }
}
