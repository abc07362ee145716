//! The fixtures parse, and say what they must: the guide's verbatim files
//! (`fixtures/guide/`), its query list, the Grafana provisioning and the compose file.
//! Pure: files are embedded, nothing runs.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::Value;

macro_rules! fixture {
    ($p:literal) => {
        ($p, include_str!(concat!("../fixtures/", $p)))
    };
}

const YAML: &[(&str, &str)] = &[
    fixture!("guide/loki-config.yaml"),
    fixture!("guide/tempo-config.yaml"),
    fixture!("guide/mimir-config.yaml"),
    fixture!("guide/prometheus.yml"),
    fixture!("guide/grafana-datasources.yaml"),
    fixture!("guide/docker-compose.yml"),
    fixture!("guide/retention.yaml"),
    fixture!("guide/queries.yaml"),
    fixture!("grafana/provisioning/datasources/datasources.yaml"),
    fixture!("grafana/provisioning/dashboards/dashboards.yaml"),
    fixture!("prometheus/prometheus-compose.yml"),
];

const COMPOSE: &str = include_str!("../../docker/docker-compose.yml");

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn every_yaml_fixture_parses() {
    for (path, text) in YAML {
        let v: Result<Value, _> = serde_yaml_ng::from_str(text);
        assert!(v.is_ok(), "{path}: {}", v.unwrap_err());
    }
    let _ = yaml(COMPOSE);
}

#[test]
fn guide_json_parses_in_its_wrapped_shape() {
    let (_, text) = fixture!("guide/dashboard.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["dashboard"]["panels"].as_array().unwrap().len(), 4);
}

#[test]
fn guide_prometheus_yml_is_the_rust_string_exactly() {
    let (_, text) = fixture!("guide/prometheus.yml");
    assert!(text.starts_with("\nglobal:\n  scrape_interval: 15s\n"));
    assert!(text.ends_with("      - targets: ['rust-app:9090']\n    "));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Queries {
    queries: Vec<GuideQuery>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuideQuery {
    id: String,
    language: String,
    section: String,
    title: String,
    query: String,
    #[serde(default)]
    note: Option<String>,
}

#[test]
fn guide_queries_have_unique_ids_and_known_languages() {
    let (_, text) = fixture!("guide/queries.yaml");
    let q: Queries = serde_yaml_ng::from_str(text).unwrap();
    assert_eq!(q.queries.len(), 28);
    let mut ids = BTreeSet::new();
    for g in &q.queries {
        assert!(ids.insert(g.id.as_str()), "duplicate id {}", g.id);
        assert!(
            ["logql", "traceql", "promql", "grafana-variable"].contains(&g.language.as_str()),
            "{}: language {}",
            g.id,
            g.language
        );
        let prefix = if g.language == "grafana-variable" {
            "variable"
        } else {
            &g.language
        };
        assert!(g.id.starts_with(&format!("{prefix}.")), "{}", g.id);
        assert!(!g.query.trim().is_empty() && !g.section.is_empty() && !g.title.is_empty());
        assert!(g.note.as_deref() != Some(""), "{}", g.id);
    }
    // The checks that run the guide's PromQL use these ids.
    for id in [
        "promql.guide.request_rate",
        "promql.guide.p95_latency",
        "promql.guide.error_ratio",
        "promql.guide.sum_by_path",
    ] {
        assert!(ids.contains(id), "{id}");
    }
    // Line breaks and trailing spaces of the guide survive.
    let p95 = q
        .queries
        .iter()
        .find(|g| g.id == "promql.guide.p95_latency")
        .unwrap();
    assert_eq!(
        p95.query,
        "histogram_quantile(0.95, \n  rate(http_request_duration_seconds_bucket[5m])\n)"
    );
}

#[test]
fn provisioned_datasources_keep_names_uids_urls_and_correlate() {
    let (_, text) = fixture!("grafana/provisioning/datasources/datasources.yaml");
    let v = yaml(text);
    let ds = v["datasources"].as_sequence().unwrap();
    let by_uid = |uid: &str| ds.iter().find(|d| d["uid"].as_str() == Some(uid)).unwrap();
    for (name, uid, url) in [
        ("Loki", "loki", "http://loki:3100"),
        ("Tempo", "tempo", "http://tempo:3200"),
        ("Mimir", "mimir", "http://mimir:9009/prometheus"),
    ] {
        let d = by_uid(uid);
        assert_eq!(d["name"].as_str(), Some(name));
        assert_eq!(d["url"].as_str(), Some(url));
    }
    let derived = &by_uid("loki")["jsonData"]["derivedFields"][0];
    assert_eq!(derived["datasourceUid"].as_str(), Some("tempo"));
    assert_eq!(
        derived["matcherRegex"].as_str(),
        Some(r#""trace_id":"(\w+)""#)
    );
    // `$$` is provisioning's escape for Grafana's own `$`.
    assert_eq!(derived["url"].as_str(), Some("$${__value.raw}"));
    let tempo = &by_uid("tempo")["jsonData"];
    assert_eq!(
        tempo["tracesToLogsV2"]["datasourceUid"].as_str(),
        Some("loki")
    );
    assert_eq!(
        tempo["tracesToLogsV2"]["filterByTraceID"].as_bool(),
        Some(true)
    );
    assert_eq!(
        tempo["tracesToMetrics"]["datasourceUid"].as_str(),
        Some("mimir")
    );
    assert_eq!(tempo["serviceMap"]["datasourceUid"].as_str(), Some("mimir"));
    assert_eq!(tempo["nodeGraph"]["enabled"].as_bool(), Some(true));
    let exemplar = &by_uid("mimir")["jsonData"]["exemplarTraceIdDestinations"][0];
    assert_eq!(exemplar["name"].as_str(), Some("trace_id"));
    assert_eq!(exemplar["datasourceUid"].as_str(), Some("tempo"));
}

#[test]
fn dashboards_provider_points_at_the_mounted_dashboards() {
    let (_, text) = fixture!("grafana/provisioning/dashboards/dashboards.yaml");
    let v = yaml(text);
    assert_eq!(
        v["providers"][0]["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );
    let compose = yaml(COMPOSE);
    let mounts: Vec<&str> = compose["services"]["grafana"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(mounts.contains(&"../fixtures/grafana/dashboards:/var/lib/grafana/dashboards:ro"));
}

#[test]
fn compose_mounts_exist_and_health_checks_probe_ready_endpoints() {
    let compose = yaml(COMPOSE);
    assert!(compose.get("version").is_none());
    let services = compose["services"].as_mapping().unwrap();
    let docker_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker");
    for (name, svc) in services {
        for m in svc["volumes"].as_sequence().into_iter().flatten() {
            let src = m.as_str().unwrap().split(':').next().unwrap();
            if src.starts_with('.') {
                assert!(
                    docker_dir.join(src).exists(),
                    "{name:?}: {src} does not exist"
                );
            }
        }
    }
    for (service, endpoint) in [
        ("loki", "/ready"),
        ("tempo", "/ready"),
        ("prometheus", "/-/ready"),
        ("grafana", "/api/health"),
    ] {
        let test: Vec<&str> = compose["services"][service]["healthcheck"]["test"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{service} has no healthcheck"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(test[0], "CMD", "{service}");
        assert!(
            test.last().unwrap().ends_with(endpoint),
            "{service}: {test:?}"
        );
    }
    assert_eq!(
        compose["services"]["grafana"]["depends_on"]["loki"]["condition"].as_str(),
        Some("service_healthy")
    );
    let build = &compose["services"]["rust-app"]["build"];
    assert_eq!(
        build["dockerfile"].as_str(),
        Some("docker/scenario.Dockerfile")
    );
    assert!(docker_dir.join("scenario.Dockerfile").exists());
}
