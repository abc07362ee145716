//! Running one check: the wait–evaluate–report loop, written once for every kind of
//! query. [`Backends`] holds a client per reachable component (containers of this
//! run, or any deployment's URLs); [`run_check`] asks, judges with the pure
//! [`crate::core::expect::evaluate`], and asks again until the answer is right, the
//! query is found invalid, or the check's deadline passes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::clients::grafana::{DsQuery, GrafanaClient, HealthStatus};
use crate::clients::loki::LokiClient;
use crate::clients::prometheus::PromClient;
use crate::clients::tempo::TempoClient;
use crate::clients::{ClientError, Endpoint};
use crate::core::check::{Check, EvalAt, Query, settled_at, unix_seconds};
use crate::core::component::Component;
use crate::core::expect::{Expectation, Verdict, evaluate};
use crate::core::observed::Observed;
use crate::core::plan::MimirFlavour;
use crate::core::report::{CheckReport, CheckStatus, ComponentReport};
use crate::core::settings::yaml_field;
use crate::wait::{Attempt, WaitFailure, poll_until};

/// Clients of the components that are up.
#[derive(Debug, Clone, Default)]
pub struct Backends {
    pub prometheus_api: BTreeMap<Component, PromClient>,
    pub loki: Option<LokiClient>,
    pub tempo: Option<TempoClient>,
    /// Each component's root (no API prefix), for its configuration and build info.
    pub roots: BTreeMap<Component, Endpoint>,
    /// What fills the Mimir role.
    pub mimir: Option<MimirFlavour>,
    pub http: Option<reqwest::Client>,
    pub grafana: Option<GrafanaClient>,
}

/// Where a component serves its effective configuration (YAML).
fn config_path(c: Component, mimir: Option<MimirFlavour>) -> Option<&'static str> {
    match (c, mimir) {
        (Component::Loki, _) => Some("/config"),
        (Component::Tempo, _) => Some("/status/config"),
        (Component::Mimir, Some(MimirFlavour::Mimir | MimirFlavour::Cortex)) => Some("/config"),
        _ => None,
    }
}

/// Where a component says which version it is.
fn buildinfo_path(c: Component, mimir: Option<MimirFlavour>) -> &'static str {
    match (c, mimir) {
        (Component::Loki, _) => "/loki/api/v1/status/buildinfo",
        (Component::Tempo, _) => "/api/status/buildinfo",
        (Component::Grafana, _) => "/api/health",
        (Component::Mimir, Some(MimirFlavour::Mimir | MimirFlavour::Cortex)) => {
            "/prometheus/api/v1/status/buildinfo"
        }
        _ => "/api/v1/status/buildinfo",
    }
}

/// The `version` of a build-info answer (`{"version"}` or `{"data":{"version"}}`).
pub fn version_of(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("version")
        .or_else(|| v.get("data").and_then(|d| d.get("version")))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

impl Backends {
    /// The version a component reports about itself, if it says.
    pub async fn version(&self, c: Component) -> Option<String> {
        let root = self.roots.get(&c)?;
        let http = self.http.as_ref()?;
        let (status, body) = root
            .get(http, buildinfo_path(c, self.mimir), &[])
            .await
            .ok()?;
        (status == 200).then(|| version_of(&body)).flatten()
    }
}

impl Backends {
    /// Clients for the given endpoints (Prometheus-API ones for Mimir and Prometheus).
    pub fn from_endpoints(
        http: &reqwest::Client,
        endpoints: impl IntoIterator<Item = Endpoint>,
    ) -> Self {
        let mut b = Backends::default();
        for e in endpoints {
            match e.component {
                Component::Loki => b.loki = Some(LokiClient::new(http.clone(), e)),
                Component::Tempo => b.tempo = Some(TempoClient::new(http.clone(), e)),
                Component::Mimir | Component::Prometheus => {
                    b.prometheus_api
                        .insert(e.component, PromClient::with_endpoint(http.clone(), e));
                }
                Component::Grafana => {
                    b.grafana = Some(GrafanaClient::new(http.clone(), &e.base, e.auth.clone()))
                }
            }
        }
        b
    }

    pub fn has(&self, c: Component) -> bool {
        match c {
            Component::Loki => self.loki.is_some(),
            Component::Tempo => self.tempo.is_some(),
            Component::Mimir | Component::Prometheus => self.prometheus_api.contains_key(&c),
            Component::Grafana => self.grafana.is_some(),
        }
    }
}

fn attempt_error(e: ClientError) -> Attempt {
    if e.is_transient() {
        Attempt::NotYet(e.to_string())
    } else {
        Attempt::Fatal(e.to_string())
    }
}

/// An attempt failed for lack of a client.
fn missing(c: Component) -> Attempt {
    Attempt::Fatal(format!("no client for {c}"))
}

/// The time a PromQL query is evaluated at (Unix seconds, as sent): fixed by the
/// run, or the run's settled sample, read from the stored samples.
async fn eval_time(client: &PromClient, at: &EvalAt) -> Result<String, Attempt> {
    match at {
        EvalAt::Fixed { unix_ms } => Ok(unix_seconds(*unix_ms)),
        EvalAt::Settled {
            probe,
            probe_at_unix_ms,
            range_secs,
        } => {
            let raw = format!("{probe}[{range_secs}s]");
            let series = client
                .query_raw_samples(&raw, &unix_seconds(*probe_at_unix_ms))
                .await
                .map_err(attempt_error)?;
            settled_at(&series)
                .map(|t| format!("{t:.3}"))
                .map_err(|why| Attempt::NotYet(format!("no settled sample of {raw}: {why}")))
        }
    }
}

/// Queries in flight at once when a check asks per trace id (Tempo answers 429
/// "job queue full" to 47 at once).
const FAN_OUT: usize = 4;

/// Log lines per page of a log query: Loki's default `max_entries_limit_per_query`,
/// so that paging works against any Loki; every page after the first is asked for
/// until the query's lines are read to their end.
const PAGE_LINES: usize = 5000;

/// Runs a query against its backend.
pub async fn execute(
    query: &Query,
    component: Component,
    b: &Backends,
) -> Result<Observed, Attempt> {
    match query {
        Query::PromQl { expr, at } => {
            let client = b
                .prometheus_api
                .get(&component)
                .ok_or_else(|| missing(component))?;
            let time = eval_time(client, at).await?;
            let samples = client
                .query(expr, Some(&time))
                .await
                .map_err(attempt_error)?;
            Ok(Observed::Series(samples))
        }
        Query::LogQlLines { expr, window } => {
            let loki = b.loki.as_ref().ok_or_else(|| missing(Component::Loki))?;
            let (start, end) = window.nanos();
            loki.query_range_all(expr, start, end, PAGE_LINES)
                .await
                .map(Observed::Logs)
                .map_err(attempt_error)
        }
        Query::LogQlMetric { expr, at_unix_ms } => {
            let loki = b.loki.as_ref().ok_or_else(|| missing(Component::Loki))?;
            loki.query(expr, Some(*at_unix_ms as u128 * 1_000_000))
                .await
                .map_err(attempt_error)
        }
        Query::TraceQlSearch { query, window } => {
            let tempo = b.tempo.as_ref().ok_or_else(|| missing(Component::Tempo))?;
            let (start, end) = window.seconds();
            tempo
                .search(query, start, end, 10_000)
                .await
                .map(Observed::Traces)
                .map_err(attempt_error)
        }
        Query::TraceQlMetrics { query, window } => {
            let tempo = b.tempo.as_ref().ok_or_else(|| missing(Component::Tempo))?;
            let (start, end) = window.seconds();
            tempo
                .metrics_query_range(query, start, end)
                .await
                .map(Observed::Series)
                .map_err(attempt_error)
        }
        Query::ConfigField { field } => {
            let root = b.roots.get(&component).ok_or_else(|| missing(component))?;
            let http = b.http.as_ref().ok_or_else(|| missing(component))?;
            let path = config_path(component, b.mimir)
                .ok_or_else(|| Attempt::Fatal(format!("{component} serves no configuration")))?;
            let (status, body) = root.get(http, path, &[]).await.map_err(attempt_error)?;
            if status != 200 {
                return Err(attempt_error(root.error(path, field, status, &body)));
            }
            yaml_field(&body, field)
                .map(Observed::Text)
                .map_err(|d| Attempt::Fatal(root.decode_error(path, field, d).to_string()))
        }
        Query::NotPossible { reason } => Err(Attempt::Fatal(reason.clone())),
        Query::GrafanaHealth => {
            let g = b
                .grafana
                .as_ref()
                .ok_or_else(|| missing(Component::Grafana))?;
            let h = g.health().await.map_err(attempt_error)?;
            Ok(Observed::Text(h.version))
        }
        Query::GrafanaDatasourceHealth { uid } => {
            let g = b
                .grafana
                .as_ref()
                .ok_or_else(|| missing(Component::Grafana))?;
            let h = g.datasource_health(uid).await.map_err(attempt_error)?;
            let status = match h.status {
                HealthStatus::Ok => "OK".to_string(),
                HealthStatus::Error => format!("ERROR: {}", h.message),
                HealthStatus::Other(s) => format!("{s}: {}", h.message),
            };
            Ok(Observed::Text(Some(status)))
        }
        Query::GrafanaDsQuery {
            datasource_uid,
            query,
            window,
        } => {
            let g = b
                .grafana
                .as_ref()
                .ok_or_else(|| missing(Component::Grafana))?;
            let (start, end) = (window.start_unix_ms, window.end_unix_ms);
            let q = DsQuery::new("A", datasource_uid, query.clone());
            let answers = g
                .ds_query(&[q], &start.to_string(), &end.to_string())
                .await
                .map_err(attempt_error)?;
            match answers.get("A") {
                Some(r) if r.error.is_some() => Err(Attempt::Fatal(format!(
                    "Grafana's {datasource_uid} datasource answered: {}",
                    r.error.clone().unwrap_or_default()
                ))),
                Some(r) if r.rows > 0 || r.values > 0 => Ok(Observed::Text(Some(format!(
                    "{} rows in {} frames",
                    r.rows, r.frames
                )))),
                _ => Ok(Observed::Text(None)),
            }
        }
        Query::TracesById { ids } => {
            let tempo = b.tempo.as_ref().ok_or_else(|| missing(Component::Tempo))?;
            let fetched: Vec<_> = stream::iter(ids.iter().map(|id| tempo.trace(id)))
                .buffered(FAN_OUT)
                .collect()
                .await;
            let mut out = Vec::with_capacity(ids.len());
            for (id, r) in ids.iter().zip(fetched) {
                out.push((id.clone(), r.map_err(attempt_error)?));
            }
            Ok(Observed::TracesById(out))
        }
        Query::LogQlByTraceId {
            selector,
            ids,
            window,
        } => {
            let loki = b.loki.as_ref().ok_or_else(|| missing(Component::Loki))?;
            let (start, end) = window.nanos();
            let exprs: Vec<String> = ids
                .iter()
                .map(|id| format!("{selector} | json | trace_id=\"{id}\""))
                .collect();
            let fetched: Vec<_> = stream::iter(
                exprs
                    .iter()
                    .map(|e| loki.query_range_all(e, start, end, PAGE_LINES)),
            )
            .buffered(FAN_OUT)
            .collect()
            .await;
            let mut out = Vec::with_capacity(ids.len());
            for (id, r) in ids.iter().zip(fetched) {
                out.push((id.clone(), r.map_err(attempt_error)?));
            }
            Ok(Observed::LogsByTraceId(out))
        }
    }
}

/// Runs one check to its end and reports it. A check whose components are not all
/// up is skipped with the reason of the first one that is not.
pub async fn run_check(
    check: &Check,
    backends: &Backends,
    components: &BTreeMap<Component, ComponentReport>,
    emitted_at: Instant,
    timeout: Duration,
) -> CheckReport {
    let mut report = CheckReport {
        id: check.id.clone(),
        title: check.title.clone(),
        signal: check.signal,
        component: check.component,
        needs: check.needs.clone(),
        status: CheckStatus::Skip,
        reason: String::new(),
        query: check.query.text(),
        guide_query: check.guide_original.clone(),
        time_to_visible_ms: None,
    };
    if let Query::NotPossible { reason } = &check.query {
        report.reason = reason.clone();
        return report;
    }
    if matches!(check.query, Query::ConfigField { .. })
        && config_path(check.component, backends.mimir).is_none()
    {
        report.reason = format!(
            "the {} role is filled by a stand-in (prometheus) that has no such setting",
            check.component
        );
        return report;
    }
    if let Some(missing) = check.needs.iter().find(|c| !backends.has(**c)) {
        let why = components
            .get(missing)
            .and_then(|r| r.reason.clone())
            .unwrap_or_else(|| "not started".into());
        report.reason = format!("needs {missing}, which is not running: {why}");
        return report;
    }
    let outcome = poll_until(timeout, || async {
        let observed = execute(&check.query, check.component, backends).await?;
        match evaluate(&check.expect, &observed) {
            Verdict::Pass { detail } => Ok(detail),
            mismatch => Err(Attempt::NotYet(mismatch.summary())),
        }
    })
    .await;
    match outcome {
        Ok((detail, _)) => {
            report.status = CheckStatus::Pass;
            report.reason = detail;
            if !matches!(check.query, Query::ConfigField { .. }) {
                report.time_to_visible_ms = Some(emitted_at.elapsed().as_millis() as u64);
            }
        }
        Err(WaitFailure::Fatal(message)) if check.expect == Expectation::Rejected => {
            report.status = CheckStatus::Pass;
            report.reason = format!("rejected, as the guide's query is wrong: {message}");
        }
        Err(WaitFailure::Fatal(message)) => {
            report.status = CheckStatus::Fail;
            report.reason = message;
        }
        Err(WaitFailure::TimedOut { waited, last_seen }) => {
            report.status = CheckStatus::Fail;
            report.reason = format!(
                "not as expected after {:.1}s: {last_seen}",
                waited.as_secs_f64()
            );
        }
    }
    report
}
