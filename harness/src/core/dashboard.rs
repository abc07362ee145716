//! Grafana dashboards as data: every panel query with its datasource and language, the
//! template variables, and the defects of the JSON (deprecated panel types, datasources
//! referenced by name, missing uids and refIds, unused variables).
//!
//! Reads both the guide's shape (`{"dashboard": {...}}`, `"datasource": "Mimir"`) and
//! Grafana 11's (`"datasource": {"type": "prometheus", "uid": "mimir"}`). Pure: the
//! caller passes the JSON text and the datasources it knows.
//!
//! Main items: [`parse`] → [`Dashboard`] (with [`PanelTarget`]s, [`TemplateVar`]s and
//! [`Defect`]s), [`render`] to fill `$service`-style variables.

use std::collections::BTreeMap;

use serde_json::Value;

/// How a dashboard names a datasource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasourceRef {
    /// `{"type": ..., "uid": ...}` (Grafana 8.3+).
    Uid(String),
    /// A bare string: the datasource's name (Grafana before 8.3), as in the guide.
    Name(String),
}

/// The kind of a datasource, which decides the query language of its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasourceKind {
    /// Grafana plugin type `prometheus` (Prometheus, Mimir, Cortex): PromQL.
    Prometheus,
    /// Plugin type `loki`: LogQL.
    Loki,
    /// Plugin type `tempo`: TraceQL.
    Tempo,
}

impl DatasourceKind {
    /// The kind of a Grafana datasource plugin type, if it is one of ours.
    pub fn from_plugin_type(t: &str) -> Option<Self> {
        match t {
            "prometheus" => Some(DatasourceKind::Prometheus),
            "loki" => Some(DatasourceKind::Loki),
            "tempo" => Some(DatasourceKind::Tempo),
            _ => None,
        }
    }

    /// Grafana's plugin type id.
    pub fn plugin_type(self) -> &'static str {
        match self {
            DatasourceKind::Prometheus => "prometheus",
            DatasourceKind::Loki => "loki",
            DatasourceKind::Tempo => "tempo",
        }
    }
}

/// A datasource the caller knows, to resolve references by name or uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDatasource {
    /// The display name (`Mimir`), which older dashboards use as the reference.
    pub name: String,
    /// The fixed uid (`mimir`), which `{"type", "uid"}` references use.
    pub uid: String,
    /// Its plugin kind, which decides the language of its targets' queries.
    pub kind: DatasourceKind,
}

impl KnownDatasource {
    /// The three datasources of `fixtures/grafana/provisioning/datasources/`.
    pub fn provisioned() -> Vec<KnownDatasource> {
        [
            ("Loki", "loki", DatasourceKind::Loki),
            ("Tempo", "tempo", DatasourceKind::Tempo),
            ("Mimir", "mimir", DatasourceKind::Prometheus),
        ]
        .into_iter()
        .map(|(name, uid, kind)| KnownDatasource {
            name: name.into(),
            uid: uid.into(),
            kind,
        })
        .collect()
    }
}

/// A panel target's query, in its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetQuery {
    /// A Prometheus-kind target's `expr`.
    PromQl(String),
    /// A Loki target's `expr`.
    LogQl(String),
    /// A Tempo target's `query`.
    TraceQl(String),
}

impl TargetQuery {
    /// The query text.
    pub fn text(&self) -> &str {
        match self {
            TargetQuery::PromQl(q) | TargetQuery::LogQl(q) | TargetQuery::TraceQl(q) => q,
        }
    }
}

/// One query of one panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelTarget {
    /// The panel's `id` (0 when the JSON has none).
    pub panel_id: u64,
    /// The panel's `title` (empty when the JSON has none).
    pub panel_title: String,
    /// The panel type as written (`timeseries`, `logs`, `traces`, or a deprecated one).
    pub panel_type: String,
    /// The target's `refId`; `A`, `B`, … by position where the JSON has none (Grafana
    /// assigns them the same way).
    pub ref_id: String,
    /// The target's own datasource, or the panel's where the target has none or
    /// says `-- Mixed --`.
    pub datasource: DatasourceRef,
    /// The query text, tagged with the language of the datasource's kind.
    pub query: TargetQuery,
}

/// A template variable (`templating.list[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVar {
    /// The name queries refer to as `$name`.
    pub name: String,
    /// `query`, `custom`, `constant`, `datasource`, …
    pub kind: String,
    /// The datasource its values are queried from; `None` for variables without one
    /// (`custom`, `constant`).
    pub datasource: Option<DatasourceRef>,
    /// The variable's query (`label_values(...)` for a Prometheus query variable),
    /// whether written as a string or as `{"query": ...}`.
    pub query: Option<String>,
}

/// Something in the dashboard JSON that is wrong or obsolete: what, where, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// What is wrong, and what it breaks.
    pub what: String,
    /// A JSON path with the panel's title, e.g. `panels[0] "HTTP 请求速率"`.
    pub at: String,
    /// The change that repairs it, as the JSON to write where one applies.
    pub fix: String,
}

/// A parsed dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// The dashboard's `uid`; `None` (a defect) when missing, and Grafana then makes
    /// a random one.
    pub uid: Option<String>,
    /// The dashboard's `title` (empty when missing).
    pub title: String,
    /// The `schemaVersion`; `None` (a defect) when missing.
    pub schema_version: Option<u64>,
    /// Every panel target whose datasource and query could be resolved, rows'
    /// nested panels included, in JSON order.
    pub targets: Vec<PanelTarget>,
    /// The template variables, in `templating.list` order.
    pub variables: Vec<TemplateVar>,
    /// Everything wrong or obsolete found while parsing; empty for a clean dashboard.
    pub defects: Vec<Defect>,
}

/// Why a dashboard could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DashboardError {
    /// The text does not parse as JSON; holds serde_json's message (line and column).
    #[error("dashboard JSON is not valid JSON: {0}")]
    Json(String),
    /// The JSON is not shaped like a dashboard: the root or a panel is not an object,
    /// `panels` is not an array, or a template variable has no name.
    #[error("dashboard JSON at `{at}`: {detail}")]
    Shape {
        /// The JSON path of the offending value (`panels[2]`, `templating.list[0]`).
        at: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// Panel types Grafana has replaced, with their replacement.
const DEPRECATED_PANELS: &[(&str, &str)] = &[
    ("graph", "timeseries"),
    ("singlestat", "stat"),
    ("table-old", "table"),
    ("grafana-piechart-panel", "piechart"),
    ("grafana-worldmap-panel", "geomap"),
];

/// Parses a dashboard, resolving datasources by type, then by name or uid among
/// `known`. Targets whose datasource cannot be resolved are left out and reported as a
/// defect.
///
/// ```
/// use lgtm_check::core::dashboard::{parse, KnownDatasource, TargetQuery};
///
/// let json = r#"{
///   "uid": "svc", "title": "Service", "schemaVersion": 39,
///   "panels": [{"id": 1, "title": "Requests", "type": "graph", "datasource": "Mimir",
///               "targets": [{"refId": "A", "expr": "sum(rate(http_requests_total[5m]))"}]}]
/// }"#;
/// let d = parse(json, &KnownDatasource::provisioned()).unwrap();
/// assert_eq!(
///     d.targets[0].query,
///     TargetQuery::PromQl("sum(rate(http_requests_total[5m]))".into())
/// );
/// // `graph` is deprecated and "Mimir" is a reference by name: two defects.
/// assert_eq!(d.defects.len(), 2);
/// assert_eq!(d.defects[1].fix, r#""datasource": {"type": "prometheus", "uid": "mimir"}"#);
/// ```
pub fn parse(json: &str, known: &[KnownDatasource]) -> Result<Dashboard, DashboardError> {
    let root: Value =
        serde_json::from_str(json).map_err(|e| DashboardError::Json(e.to_string()))?;
    let mut defects = Vec::new();
    let dash = match root.get("dashboard") {
        Some(inner) if root.get("panels").is_none() => {
            defects.push(Defect {
                what:
                    "dashboard wrapped in {\"dashboard\": …}, the body of POST /api/dashboards/db, \
                       not a dashboard model"
                        .into(),
                at: "$".into(),
                fix: "store the dashboard object itself (file provisioning and import read that)"
                    .into(),
            });
            inner
        }
        _ => &root,
    };
    let dash = dash.as_object().ok_or_else(|| DashboardError::Shape {
        at: "$".into(),
        detail: "not an object".into(),
    })?;

    let title = dash
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let uid = dash.get("uid").and_then(Value::as_str).map(str::to_owned);
    if uid.as_deref().is_none_or(str::is_empty) {
        defects.push(Defect {
            what: "no dashboard uid: Grafana makes a random one, so links and provisioning \
                   updates cannot find the dashboard again"
                .into(),
            at: "uid".into(),
            fix: "set a fixed \"uid\"".into(),
        });
    }
    let schema_version = dash.get("schemaVersion").and_then(Value::as_u64);
    if schema_version.is_none() {
        defects.push(Defect {
            what: "no schemaVersion: Grafana takes it as 0 and runs every migration".into(),
            at: "schemaVersion".into(),
            fix: "set the schemaVersion of the Grafana the dashboard was made for (39 for 11.x)"
                .into(),
        });
    }

    let mut variables = Vec::new();
    if let Some(list) = dash
        .get("templating")
        .and_then(|t| t.get("list"))
        .and_then(Value::as_array)
    {
        for (i, v) in list.iter().enumerate() {
            let at = format!("templating.list[{i}]");
            let Some(name) = v.get("name").and_then(Value::as_str) else {
                return Err(DashboardError::Shape {
                    at,
                    detail: "template variable without a name".into(),
                });
            };
            let datasource = v.get("datasource").and_then(datasource_ref);
            if let Some(DatasourceRef::Name(n)) = &datasource {
                defects.push(by_name_defect(n, &at, known));
            }
            let query = match v.get("query") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => o.get("query").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            variables.push(TemplateVar {
                name: name.to_owned(),
                kind: v
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                datasource,
                query,
            });
        }
    }

    let mut targets = Vec::new();
    if let Some(panels) = dash.get("panels") {
        let panels = panels.as_array().ok_or_else(|| DashboardError::Shape {
            at: "panels".into(),
            detail: "not an array".into(),
        })?;
        walk_panels(panels, "panels", known, &mut targets, &mut defects)?;
    }

    for v in &variables {
        let used = targets.iter().any(|t| uses_var(t.query.text(), &v.name))
            || variables
                .iter()
                .filter_map(|o| o.query.as_deref())
                .any(|q| uses_var(q, &v.name));
        if !used {
            defects.push(Defect {
                what: format!(
                    "template variable ${} is defined but no query uses it",
                    v.name
                ),
                at: "templating.list".into(),
                fix: format!("filter the queries by it, e.g. {{{0}=~\"${0}\"}}", v.name),
            });
        }
    }

    Ok(Dashboard {
        uid,
        title,
        schema_version,
        targets,
        variables,
        defects,
    })
}

fn walk_panels(
    panels: &[Value],
    path: &str,
    known: &[KnownDatasource],
    targets: &mut Vec<PanelTarget>,
    defects: &mut Vec<Defect>,
) -> Result<(), DashboardError> {
    for (i, panel) in panels.iter().enumerate() {
        let Some(p) = panel.as_object() else {
            return Err(DashboardError::Shape {
                at: format!("{path}[{i}]"),
                detail: "panel is not an object".into(),
            });
        };
        let id = p.get("id").and_then(Value::as_u64).unwrap_or_default();
        let title = p
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let panel_type = p
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let at = format!("{path}[{i}] \"{title}\" (id {id})");
        if let Some((_, new)) = DEPRECATED_PANELS.iter().find(|(old, _)| *old == panel_type) {
            defects.push(Defect {
                what: format!("panel type `{panel_type}` is deprecated"),
                at: at.clone(),
                fix: format!("use `{new}`"),
            });
        }
        let panel_ds = p.get("datasource").and_then(datasource_ref);
        if let Some(DatasourceRef::Name(n)) = &panel_ds {
            defects.push(by_name_defect(n, &at, known));
        }
        // Rows hold their panels while collapsed.
        if let Some(nested) = p.get("panels").and_then(Value::as_array) {
            walk_panels(
                nested,
                &format!("{path}[{i}].panels"),
                known,
                targets,
                defects,
            )?;
        }
        let Some(ts) = p.get("targets").and_then(Value::as_array) else {
            continue;
        };
        for (j, t) in ts.iter().enumerate() {
            let tat = format!("{at}.targets[{j}]");
            let ref_id = match t.get("refId").and_then(Value::as_str) {
                Some(r) if !r.is_empty() => r.to_owned(),
                _ => {
                    defects.push(Defect {
                        what: "target without refId".into(),
                        at: tat.clone(),
                        fix: "give every target a refId (A, B, …) so that queries and \
                              results can be told apart"
                            .into(),
                    });
                    ref_id_for(j)
                }
            };
            let own_ds = t.get("datasource").and_then(datasource_ref);
            if let Some(DatasourceRef::Name(n)) = &own_ds {
                defects.push(by_name_defect(n, &tat, known));
            }
            let own_type = t
                .get("datasource")
                .and_then(|d| d.get("type"))
                .and_then(Value::as_str);
            let (datasource, ds_type) = match own_ds {
                Some(d) if !is_mixed(&d) => (d, own_type),
                _ => match &panel_ds {
                    Some(d) => (
                        d.clone(),
                        p.get("datasource")
                            .and_then(|d| d.get("type"))
                            .and_then(Value::as_str),
                    ),
                    None => {
                        defects.push(Defect {
                            what: "target has no datasource (Grafana would use the default)".into(),
                            at: tat,
                            fix: "name the datasource by {\"type\", \"uid\"}".into(),
                        });
                        continue;
                    }
                },
            };
            let kind = ds_type
                .and_then(DatasourceKind::from_plugin_type)
                .or_else(|| resolve(&datasource, known).map(|k| k.kind))
                .or_else(|| {
                    (t.get("queryType").and_then(Value::as_str) == Some("traceql"))
                        .then_some(DatasourceKind::Tempo)
                });
            let Some(kind) = kind else {
                defects.push(Defect {
                    what: format!("datasource {datasource:?} is not one this dashboard can use"),
                    at: tat,
                    fix: "refer to the Loki, Tempo or Mimir datasource by uid".into(),
                });
                continue;
            };
            let text = |field: &str| t.get(field).and_then(Value::as_str).map(str::to_owned);
            let query = match kind {
                DatasourceKind::Prometheus => text("expr").map(TargetQuery::PromQl),
                DatasourceKind::Loki => text("expr").map(TargetQuery::LogQl),
                DatasourceKind::Tempo => text("query").map(TargetQuery::TraceQl),
            };
            let Some(query) = query else {
                defects.push(Defect {
                    what: format!("{} target without its query field", kind.plugin_type()),
                    at: tat,
                    fix: "write the query in `expr` (Prometheus, Loki) or `query` (Tempo)".into(),
                });
                continue;
            };
            targets.push(PanelTarget {
                panel_id: id,
                panel_title: title.clone(),
                panel_type: panel_type.clone(),
                ref_id,
                datasource,
                query,
            });
        }
    }
    Ok(())
}

fn datasource_ref(v: &Value) -> Option<DatasourceRef> {
    match v {
        Value::String(s) if !s.is_empty() => Some(DatasourceRef::Name(s.clone())),
        Value::Object(o) => o
            .get("uid")
            .and_then(Value::as_str)
            .map(|u| DatasourceRef::Uid(u.to_owned())),
        _ => None,
    }
}

fn is_mixed(d: &DatasourceRef) -> bool {
    matches!(d, DatasourceRef::Uid(u) | DatasourceRef::Name(u) if u == "-- Mixed --")
}

fn resolve<'a>(d: &DatasourceRef, known: &'a [KnownDatasource]) -> Option<&'a KnownDatasource> {
    match d {
        DatasourceRef::Uid(u) => known.iter().find(|k| &k.uid == u),
        DatasourceRef::Name(n) => known.iter().find(|k| &k.name == n),
    }
}

fn by_name_defect(name: &str, at: &str, known: &[KnownDatasource]) -> Defect {
    let fix = match known.iter().find(|k| k.name == name) {
        Some(k) => format!(
            "\"datasource\": {{\"type\": \"{}\", \"uid\": \"{}\"}}",
            k.kind.plugin_type(),
            k.uid
        ),
        None => "\"datasource\": {\"type\": …, \"uid\": …}".into(),
    };
    Defect {
        what: format!("datasource referenced by name \"{name}\" (breaks when it is renamed)"),
        at: at.into(),
        fix,
    }
}

fn ref_id_for(i: usize) -> String {
    // A..Z, then AA, AB, … as Grafana does.
    let mut n = i;
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `query` refers to variable `name` as `$name`, `${name}`, `${name:fmt}` or
/// `[[name]]`.
///
/// ```
/// use lgtm_check::core::dashboard::uses_var;
///
/// assert!(uses_var(r#"{service_name="${service:regex}"}"#, "service"));
/// assert!(!uses_var(r#"{service_name="$services"}"#, "service"));
/// ```
pub fn uses_var(query: &str, name: &str) -> bool {
    let vars = BTreeMap::from([(name.to_owned(), "\u{0}".to_owned())]);
    render(query, &vars) != query
}

/// Replaces Grafana variables (`$name`, `${name}`, `${name:format}`, `[[name]]`) by
/// their values; the format is ignored (values are used as given). Variables without a
/// value, such as `$__interval`, are left as written.
///
/// ```
/// use std::collections::BTreeMap;
/// use lgtm_check::core::dashboard::render;
///
/// let vars = BTreeMap::from([("service".to_string(), "checkout".to_string())]);
/// assert_eq!(
///     render(r#"rate({service_name="$service"}[$__interval])"#, &vars),
///     r#"rate({service_name="checkout"}[$__interval])"#
/// );
/// ```
pub fn render(query: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(pos) = rest.find(['$', '[']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let (name, len) = if let Some(t) = tail.strip_prefix("${") {
            match t.find('}') {
                Some(end) => {
                    let inner = &t[..end];
                    (inner.split(':').next().unwrap_or(inner), end + 3)
                }
                None => ("", 0),
            }
        } else if let Some(t) = tail.strip_prefix("[[") {
            match t.find("]]") {
                Some(end) => {
                    let inner = &t[..end];
                    (inner.split(':').next().unwrap_or(inner), end + 4)
                }
                None => ("", 0),
            }
        } else if let Some(t) = tail.strip_prefix('$') {
            let end = t.find(|c: char| !is_ident(c)).unwrap_or(t.len());
            (&t[..end], end + 1)
        } else {
            ("", 0)
        };
        match vars.get(name) {
            Some(value) if len > 0 => {
                out.push_str(value);
                rest = &tail[len..];
            }
            _ => {
                let c = tail.chars().next().expect("found a char");
                out.push(c);
                rest = &tail[c.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = include_str!("../../fixtures/guide/dashboard.json");
    const FIXED: &str = include_str!("../../fixtures/grafana/dashboards/lgtm-rust.json");

    fn vars(service: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("service".to_string(), service.to_string())])
    }

    #[test]
    fn guide_dashboard_targets_resolve_by_name() {
        let d = parse(GUIDE, &KnownDatasource::provisioned()).unwrap();
        assert_eq!(d.title, "Rust OTLP - LGTM 完整可观测性");
        assert_eq!(d.uid, None);
        let t: Vec<_> = d
            .targets
            .iter()
            .map(|t| {
                (
                    t.panel_id,
                    t.panel_type.as_str(),
                    t.ref_id.as_str(),
                    &t.query,
                )
            })
            .collect();
        assert_eq!(t.len(), 6);
        assert_eq!(
            t[0],
            (
                1,
                "graph",
                "A",
                &TargetQuery::PromQl("sum(rate(http_requests_total[5m])) by (method)".into())
            )
        );
        assert_eq!(t[3].2, "C");
        assert_eq!(
            t[4].3,
            &TargetQuery::LogQl("{service=\"rust-app\"} |= \"error\"".into())
        );
        assert_eq!(
            t[5],
            (
                4,
                "traces",
                "A",
                &TargetQuery::TraceQl("{ service.name = \"rust-app\" }".into())
            )
        );
        assert!(
            d.targets
                .iter()
                .all(|t| matches!(t.datasource, DatasourceRef::Name(_)))
        );
        assert_eq!(
            d.variables,
            vec![TemplateVar {
                name: "service".into(),
                kind: "query".into(),
                datasource: Some(DatasourceRef::Name("Mimir".into())),
                query: Some("label_values(http_requests_total, service)".into()),
            }]
        );
    }

    #[test]
    fn guide_dashboard_defects() {
        let d = parse(GUIDE, &KnownDatasource::provisioned()).unwrap();
        let count = |needle: &str| d.defects.iter().filter(|x| x.what.contains(needle)).count();
        assert_eq!(count("panel type `graph` is deprecated"), 2);
        let graph: Vec<_> = d
            .defects
            .iter()
            .filter(|x| x.what.contains("graph"))
            .map(|x| (x.at.as_str(), x.fix.as_str()))
            .collect();
        assert_eq!(
            graph[0],
            ("panels[0] \"HTTP 请求速率\" (id 1)", "use `timeseries`")
        );
        // Six targets and the variable name their datasource.
        assert_eq!(count("datasource referenced by name"), 7);
        assert!(d.defects.iter().any(|x| x.what.contains("\"Mimir\"")
            && x.fix == "\"datasource\": {\"type\": \"prometheus\", \"uid\": \"mimir\"}"));
        assert_eq!(count("target without refId"), 6);
        assert_eq!(count("no dashboard uid"), 1);
        assert_eq!(count("no schemaVersion"), 1);
        assert_eq!(count("wrapped in"), 1);
        assert_eq!(count("$service is defined but no query uses it"), 1);
        assert_eq!(d.defects.len(), 2 + 7 + 6 + 1 + 1 + 1 + 1);
    }

    #[test]
    fn fixed_dashboard_has_no_defects_and_uses_service() {
        let d = parse(FIXED, &[]).unwrap();
        assert_eq!(d.defects, vec![], "{:#?}", d.defects);
        assert_eq!(d.uid.as_deref(), Some("lgtm-rust"));
        assert!(matches!(d.schema_version, Some(39 | 40)));
        assert!(
            d.targets
                .iter()
                .all(|t| matches!(&t.datasource, DatasourceRef::Uid(_)))
        );
        assert!(
            d.targets
                .iter()
                .all(|t| uses_var(t.query.text(), "service"))
        );
        let types: Vec<_> = d.targets.iter().map(|t| t.panel_type.as_str()).collect();
        assert!(!types.contains(&"graph"));
        for kind in ["timeseries", "logs", "traces"] {
            assert!(types.contains(&kind), "{kind} missing: {types:?}");
        }
        let rendered: Vec<_> = d
            .targets
            .iter()
            .map(|t| render(t.query.text(), &vars("rust-app")))
            .collect();
        assert!(rendered.contains(&"{service=~\"rust-app\", level=\"error\"}".to_string()));
        assert!(
            rendered.contains(
                &"{ resource.service.name =~ \"rust-app\" && status = error }".to_string()
            )
        );
        assert!(rendered.contains(
            &"sum(rate(http_requests_total{service=~\"rust-app\"}[5m])) by (method)".to_string()
        ));
        assert_eq!(
            d.variables[0].query.as_deref(),
            Some("label_values(http_requests_total, service)")
        );
        assert_eq!(
            d.variables[0].datasource,
            Some(DatasourceRef::Uid("mimir".into()))
        );
        let ids: Vec<_> = d
            .targets
            .iter()
            .filter(|t| t.panel_id == 2)
            .map(|t| t.ref_id.as_str())
            .collect();
        assert_eq!(ids, ["A", "B", "C"]);
    }

    #[test]
    fn render_forms() {
        let v = vars("svc");
        assert_eq!(render("{service=~\"$service\"}", &v), "{service=~\"svc\"}");
        assert_eq!(render("a ${service} b", &v), "a svc b");
        assert_eq!(render("a ${service:regex} b", &v), "a svc b");
        assert_eq!(render("[[service]]", &v), "svc");
        // A longer name is another variable; unknown ones stay.
        assert_eq!(render("$services $__interval", &v), "$services $__interval");
        assert_eq!(render("rate(x[5m]) $", &v), "rate(x[5m]) $");
        assert_eq!(render("${unclosed", &v), "${unclosed");
        assert_eq!(render("é$service", &v), "ésvc");
    }

    #[test]
    fn ref_ids_follow_grafana() {
        assert_eq!(ref_id_for(0), "A");
        assert_eq!(ref_id_for(25), "Z");
        assert_eq!(ref_id_for(26), "AA");
        assert_eq!(ref_id_for(27), "AB");
    }

    #[test]
    fn unknown_datasource_is_a_defect_not_an_error() {
        let d = parse(
            r#"{"uid":"u","schemaVersion":39,"panels":[{"id":1,"type":"stat","title":"x",
                "targets":[{"refId":"A","datasource":"Elastic","expr":"q"}]}]}"#,
            &KnownDatasource::provisioned(),
        )
        .unwrap();
        assert!(d.targets.is_empty());
        assert!(
            d.defects
                .iter()
                .any(|x| x.what.contains("is not one this dashboard can use"))
        );
    }

    #[test]
    fn rows_and_panel_datasource() {
        let d = parse(
            r#"{"uid":"u","schemaVersion":39,"panels":[{"id":9,"type":"row","title":"r","panels":[
                {"id":2,"type":"timeseries","title":"t","datasource":{"type":"prometheus","uid":"m"},
                 "targets":[{"refId":"Q","expr":"up"}]}]}]}"#,
            &[],
        )
        .unwrap();
        assert_eq!(d.targets.len(), 1);
        assert_eq!(d.targets[0].datasource, DatasourceRef::Uid("m".into()));
        assert_eq!(d.targets[0].query, TargetQuery::PromQl("up".into()));
        assert_eq!(d.defects, vec![]);
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(matches!(parse("{", &[]), Err(DashboardError::Json(_))));
        assert!(matches!(
            parse("[]", &[]),
            Err(DashboardError::Shape { .. })
        ));
    }
}
