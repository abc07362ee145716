//! Checks of Grafana and of the dashboard: Grafana's health, each provisioned
//! datasource's own health check (which also needs the backend it points to), that
//! Grafana serves the provisioned dashboard with its targets, every target of the
//! dashboard **Grafana loaded** (read back by uid) through Grafana, the provisioned
//! dashboard's targets run directly against their backends (so the dashboard's
//! queries are verified even where Grafana cannot run), and the Loki derived field
//! that turns log lines into trace links.
//!
//! Main items: [`grafana_checks`], [`LoadedDashboard`], [`dashboard_checks`],
//! [`derived_field_check`], [`targets_summary`].

use std::collections::BTreeMap;

use lgtm_check_recorder::manifest::Manifest;

use super::catalog_telemetry::{logql_metric_time, window};
use super::check::{Check, EvalAt, Query, Signal};
use super::component::Component;
use super::dashboard::{
    Dashboard, DatasourceRef, KnownDatasource, PanelTarget, TargetQuery, render,
};
use super::expect::Expectation;

/// What Grafana loaded, read back from it (`GET /api/dashboards/uid/:uid`) before
/// the catalog is made.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadedDashboard {
    /// Grafana is not running: nothing was read (its checks are skipped).
    NotRead,
    /// The dashboard Grafana serves, parsed.
    Loaded(Dashboard),
    /// Grafana runs but did not serve the dashboard (or served one that cannot be
    /// read): why.
    Unreadable(String),
}

/// The components a check through Grafana needs: Grafana, and the backend the
/// datasource points to (with the scraper in front of the Mimir role).
fn through_grafana(backend: Option<Component>) -> Vec<Component> {
    let mut needs = vec![Component::Grafana];
    match backend {
        Some(Component::Mimir) => needs.extend([Component::Prometheus, Component::Mimir]),
        Some(c) => needs.push(c),
        None => {}
    }
    needs
}

/// One line per target, sorted: `panel<N>.<ref> <language>: <query>`; what
/// `grafana.dashboard.loaded` compares between the provisioned file and Grafana.
pub fn targets_summary(d: &Dashboard) -> String {
    let mut lines: Vec<String> = d
        .targets
        .iter()
        .map(|t| {
            let lang = match t.query {
                TargetQuery::PromQl(_) => "promql",
                TargetQuery::LogQl(_) => "logql",
                TargetQuery::TraceQl(_) => "traceql",
            };
            format!("{} {lang}: {}", target_id(t), t.query.text())
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

fn grafana_check(
    id: String,
    title: String,
    query: Query,
    expect: Expectation,
    backend: Option<Component>,
) -> Check {
    Check {
        id,
        title,
        signal: Signal::Metrics,
        component: Component::Grafana,
        needs: through_grafana(backend),
        query,
        guide_original: None,
        expect,
        control: None,
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

/// Grafana's health; its datasources' health (each also needing its backend); that
/// Grafana serves `provisioned` (by uid, or by title where it has none) with the same
/// targets; and each target of the dashboard Grafana `loaded` through
/// `/api/ds/query`. Where Grafana did not serve it, those per-target checks are
/// skipped with the reason and `grafana.dashboard.loaded` fails.
pub fn grafana_checks(
    m: &Manifest,
    provisioned: &Dashboard,
    loaded: &LoadedDashboard,
    known: &[KnownDatasource],
) -> Vec<Check> {
    let mut checks = vec![grafana_check(
        "grafana.health".into(),
        "Grafana answers /api/health with its version".into(),
        Query::GrafanaHealth,
        Expectation::NonEmpty,
        None,
    )];
    for k in known {
        let backend = resolve(&DatasourceRef::Uid(k.uid.clone()), known).map(|(c, _)| c);
        checks.push(grafana_check(
            format!("grafana.datasource.{}", k.uid),
            format!(
                "the provisioned {} datasource passes its own health check against its backend",
                k.name
            ),
            Query::GrafanaDatasourceHealth { uid: k.uid.clone() },
            Expectation::Text("OK".into()),
            backend,
        ));
    }
    checks.push(grafana_check(
        "grafana.dashboard.loaded".into(),
        format!(
            "Grafana serves the provisioned dashboard \"{}\" with its {} targets",
            provisioned.title,
            provisioned.targets.len()
        ),
        Query::GrafanaDashboard {
            uid: provisioned.uid.clone(),
            title: provisioned.title.clone(),
        },
        Expectation::Text(targets_summary(provisioned)),
        None,
    ));
    let (dashboard, not_loaded) = match loaded {
        LoadedDashboard::Loaded(d) => (d, None),
        LoadedDashboard::NotRead => (provisioned, None),
        LoadedDashboard::Unreadable(why) => (provisioned, Some(why)),
    };
    for t in &dashboard.targets {
        let Some((backend, uid)) = resolve(&t.datasource, known) else {
            continue;
        };
        let query = match &t.query {
            TargetQuery::PromQl(q) => TargetQuery::PromQl(render(q, &vars(m))),
            TargetQuery::LogQl(q) => TargetQuery::LogQl(render(q, &vars(m))),
            TargetQuery::TraceQl(q) => TargetQuery::TraceQl(render(q, &vars(m))),
        };
        let query = match not_loaded {
            None => Query::GrafanaDsQuery {
                datasource_uid: uid,
                query,
                window: window(m),
            },
            Some(why) => Query::NotPossible {
                reason: format!(
                    "Grafana did not serve the dashboard, so its targets cannot be judged (grafana.dashboard.loaded says why): {why}"
                ),
            },
        };
        checks.push(grafana_check(
            format!("grafana.dashboard.{}", target_id(t)),
            format!(
                "dashboard panel \"{}\" ({}), as Grafana loaded it, returns data through Grafana",
                t.panel_title, t.ref_id
            ),
            query,
            Expectation::NonEmpty,
            Some(backend),
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
                control: None,
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
        control: None,
    }
}
