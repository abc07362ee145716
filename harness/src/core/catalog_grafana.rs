//! Checks of Grafana and of the dashboard: Grafana's health, each provisioned
//! datasource's own health check, every dashboard target through Grafana, the same
//! targets run directly against their backends (so the dashboard's queries are
//! verified even where Grafana cannot run), and the Loki derived field that turns
//! log lines into trace links.
//!
//! Main functions: [`grafana_checks`], [`dashboard_checks`], [`derived_field_check`].

use std::collections::BTreeMap;

use lgtm_scenarios::manifest::Manifest;

use super::catalog_telemetry::{logql_metric_time, window};
use super::check::{Check, EvalAt, Query, Signal};
use super::component::Component;
use super::dashboard::{
    Dashboard, DatasourceRef, KnownDatasource, PanelTarget, TargetQuery, render,
};
use super::expect::Expectation;

fn grafana_check(id: String, title: String, query: Query, expect: Expectation) -> Check {
    Check {
        id,
        title,
        signal: Signal::Metrics,
        component: Component::Grafana,
        needs: vec![Component::Grafana],
        query,
        guide_original: None,
        expect,
    }
}

/// The component and datasource uid a target's datasource stands for.
fn resolve(ds: &DatasourceRef, known: &[KnownDatasource]) -> Option<(Component, String)> {
    let k = known.iter().find(|k| match ds {
        DatasourceRef::Uid(u) => &k.uid == u,
        DatasourceRef::Name(n) => &k.name == n,
    })?;
    let c = match k.uid.as_str() {
        "loki" => Component::Loki,
        "tempo" => Component::Tempo,
        _ => Component::Mimir,
    };
    Some((c, k.uid.clone()))
}

fn target_id(t: &PanelTarget) -> String {
    format!("panel{}.{}", t.panel_id, t.ref_id)
}

fn vars(m: &Manifest) -> BTreeMap<String, String> {
    BTreeMap::from([("service".to_string(), m.service.clone())])
}

/// Grafana's health, its datasources' health, and each dashboard target through
/// `/api/ds/query`.
pub fn grafana_checks(
    m: &Manifest,
    dashboard: &Dashboard,
    known: &[KnownDatasource],
) -> Vec<Check> {
    let mut checks = vec![grafana_check(
        "grafana.health".into(),
        "Grafana answers /api/health with its version".into(),
        Query::GrafanaHealth,
        Expectation::NonEmpty,
    )];
    for k in known {
        checks.push(grafana_check(
            format!("grafana.datasource.{}", k.uid),
            format!(
                "the provisioned {} datasource passes its own health check",
                k.name
            ),
            Query::GrafanaDatasourceHealth { uid: k.uid.clone() },
            Expectation::Text("OK".into()),
        ));
    }
    for t in &dashboard.targets {
        let Some((_, uid)) = resolve(&t.datasource, known) else {
            continue;
        };
        let query = match &t.query {
            TargetQuery::PromQl(q) => TargetQuery::PromQl(render(q, &vars(m))),
            TargetQuery::LogQl(q) => TargetQuery::LogQl(render(q, &vars(m))),
            TargetQuery::TraceQl(q) => TargetQuery::TraceQl(render(q, &vars(m))),
        };
        checks.push(grafana_check(
            format!("grafana.dashboard.{}", target_id(t)),
            format!(
                "dashboard panel \"{}\" ({}) returns data through Grafana",
                t.panel_title, t.ref_id
            ),
            Query::GrafanaDsQuery {
                datasource_uid: uid,
                query,
                window: window(m),
            },
            Expectation::NonEmpty,
        ));
    }
    checks
}

/// Every dashboard target run directly against the backend its datasource names.
pub fn dashboard_checks(
    m: &Manifest,
    dashboard: &Dashboard,
    known: &[KnownDatasource],
) -> Vec<Check> {
    dashboard
        .targets
        .iter()
        .filter_map(|t| {
            let (component, _) = resolve(&t.datasource, known)?;
            let text = render(t.query.text(), &vars(m));
            let (signal, query) = match &t.query {
                TargetQuery::PromQl(_) => (
                    Signal::Metrics,
                    Query::PromQl {
                        expr: text,
                        at: EvalAt::Fixed {
                            unix_ms: m.finished_at_unix_ms,
                        },
                    },
                ),
                TargetQuery::LogQl(_) if text.trim_start().starts_with('{') => (
                    Signal::Logs,
                    Query::LogQlLines {
                        expr: text,
                        window: window(m),
                    },
                ),
                TargetQuery::LogQl(_) => (
                    Signal::Logs,
                    Query::LogQlMetric {
                        expr: text,
                        at_unix_ms: logql_metric_time(m),
                    },
                ),
                TargetQuery::TraceQl(_) => (
                    Signal::Traces,
                    Query::TraceQlSearch {
                        query: text,
                        window: window(m),
                    },
                ),
            };
            let needs = match component {
                Component::Mimir => vec![Component::Prometheus, Component::Mimir],
                c => vec![c],
            };
            Some(Check {
                id: format!("dashboard.{}", target_id(t)),
                title: format!(
                    "dashboard panel \"{}\" ({}) returns data from its backend directly",
                    t.panel_title, t.ref_id
                ),
                signal,
                component,
                needs,
                query,
                guide_original: None,
                expect: Expectation::NonEmpty,
            })
        })
        .collect()
}

/// The Loki datasource's derived field finds each line's own trace id.
pub fn derived_field_check(m: &Manifest, regex: &str) -> Check {
    Check {
        id: "grafana.derived_field.trace_id".into(),
        title:
            "the Loki derived field's regex captures each log line's trace id (logs → traces links)"
                .into(),
        signal: Signal::Logs,
        component: Component::Loki,
        needs: vec![Component::Loki],
        query: Query::LogQlLines {
            expr: format!("{{run_id=\"{}\"}} | json | trace_id != \"\"", m.run_id),
            window: window(m),
        },
        guide_original: None,
        expect: Expectation::DerivedField {
            regex: regex.into(),
        },
    }
}
