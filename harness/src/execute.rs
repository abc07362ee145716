//! Running one check: the wait–evaluate–report loop, written once for every kind of
//! query. [`Backends`] holds a client per reachable component (containers of this
//! run, or any deployment's URLs); [`run_check`] asks, judges with the pure
//! [`crate::core::expect::evaluate`], and asks again until the answer is right, the
//! query is found invalid, or the check's deadline passes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::clients::grafana::{DsQuery, GrafanaClient, HealthStatus};
use crate::clients::loki::LokiClient;
use crate::clients::prometheus::PromClient;
use crate::clients::tempo::TempoClient;
use crate::clients::{ClientError, Endpoint};
use crate::core::catalog::is_negative;
use crate::core::catalog_grafana::{LoadedDashboard, targets_summary};
use crate::core::check::{Check, EvalAt, Query, Unsettled, settled_at, unix_seconds};
use crate::core::component::Component;
use crate::core::dashboard::{self, Dashboard, DashboardError, KnownDatasource};
use crate::core::expect::{Expectation, Verdict, evaluate};
use crate::core::observed::Observed;
use crate::core::plan::MimirFlavour;
use crate::core::report::{CheckReport, CheckStatus, ComponentReport};
use crate::core::settings::{tempo_metrics_unanswerable, yaml_field};
use crate::wait::{Attempt, WaitFailure, poll_until};

/// Clients of the components that are up.
#[derive(Debug, Clone, Default)]
pub struct Backends {
    /// Prometheus-API clients of the Mimir role and Prometheus, whichever are up.
    pub prometheus_api: BTreeMap<Component, PromClient>,
    /// Loki's client; `None` when Loki is not up.
    pub loki: Option<LokiClient>,
    /// Tempo's client; `None` when Tempo is not up.
    pub tempo: Option<TempoClient>,
    /// Each component's root (no API prefix), for its configuration and build info.
    pub roots: BTreeMap<Component, Endpoint>,
    /// What fills the Mimir role.
    pub mimir: Option<MimirFlavour>,
    /// The HTTP client for `roots` (configuration and build-info reads); `None`:
    /// those checks cannot ask.
    pub http: Option<reqwest::Client>,
    /// Grafana's client; `None` when Grafana is not up.
    pub grafana: Option<GrafanaClient>,
    /// The per-id lookups in flight, shared by every check that runs on these
    /// clients at the same time.
    pub lookups: Lookups,
}

/// Per-id lookups (one trace by id, one LogQL query per trace id) in flight at once
/// over all the checks that share a [`Backends`]: each check asks at most
/// `FAN_OUT` (8) at a time, and all of them together at most `LOOKUPS_IN_FLIGHT` per
/// backend, however many checks run concurrently.
///
/// A trace by id is also asked once for every check that needs it at about the
/// same time: see `TraceAnswers`.
#[derive(Debug, Clone)]
pub struct Lookups {
    pub(crate) tempo: Arc<tokio::sync::Semaphore>,
    loki: Arc<tokio::sync::Semaphore>,
    traces: Arc<TraceAnswers>,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            tempo: Arc::new(tokio::sync::Semaphore::new(LOOKUPS_IN_FLIGHT)),
            loki: Arc::new(tokio::sync::Semaphore::new(LOOKUPS_IN_FLIGHT)),
            traces: Arc::default(),
        }
    }
}

/// Tempo's answers to lookups by id, shared by the checks of one [`Backends`]:
/// several checks read the same traces (a scenario's tree, resource and
/// correlation checks each read all of its traces), and a check may take the
/// answer another check got — or is getting — for the same id if that lookup began
/// after the check's own previous attempt (for its first attempt: after the check
/// began). Each attempt thus sees an answer newer than the one its previous attempt
/// saw (at most one backoff interval older than one it would have asked for
/// itself), never the same answer twice. A lookup that fails is not shared: the
/// next check asks for itself. Tempo then serves one lookup where it served one per
/// check: a default run asked for 175 traces by id before, for about 60 distinct
/// traces.
#[derive(Debug, Default)]
pub(crate) struct TraceAnswers {
    by_id: std::sync::Mutex<HashMap<String, (Instant, SharedLookup)>>,
}

/// One lookup's answer, once it has come, for every check that takes it.
type SharedLookup = Arc<tokio::sync::OnceCell<TraceAnswer>>;

/// A trace's spans, `None` when Tempo does not know it.
type TraceAnswer = Option<Vec<crate::core::observed::ObservedSpan>>;

impl TraceAnswers {
    /// The answer for `id` from a lookup that began at or after `not_before`, one
    /// under way or done; else `ask` is asked now and its answer shared.
    pub(crate) async fn get<F>(
        &self,
        id: &str,
        not_before: Instant,
        ask: F,
    ) -> Result<TraceAnswer, ClientError>
    where
        F: std::future::Future<Output = Result<TraceAnswer, ClientError>>,
    {
        let cell = {
            let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
            match by_id.get(id) {
                Some((began, cell)) if *began >= not_before => cell.clone(),
                _ => {
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    by_id.insert(id.to_owned(), (Instant::now(), cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_try_init(|| ask).await.cloned()
    }
}

/// Runs `lookup` once a slot of `slots` is free.
pub(crate) async fn with_slot<T>(
    slots: &tokio::sync::Semaphore,
    lookup: impl std::future::Future<Output = T>,
) -> T {
    // The semaphore is never closed, so a permit always comes.
    let _permit = slots.acquire().await;
    lookup.await
}

/// Where a component serves its effective configuration (YAML); `None` for those
/// that serve none (Prometheus, the Prometheus stand-in, Grafana).
fn config_path(c: Component, mimir: Option<MimirFlavour>) -> Option<&'static str> {
    match (c, mimir) {
        (Component::Loki | Component::Tempo, _)
        | (Component::Mimir, Some(MimirFlavour::Mimir | MimirFlavour::Cortex)) => {
            Some(crate::served_config::config_path(c))
        }
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

    /// Whether a client for `c` is present.
    pub fn has(&self, c: Component) -> bool {
        match c {
            Component::Loki => self.loki.is_some(),
            Component::Tempo => self.tempo.is_some(),
            Component::Mimir | Component::Prometheus => self.prometheus_api.contains_key(&c),
            Component::Grafana => self.grafana.is_some(),
        }
    }
}

/// What a client error means for an attempt: a rejection of the query's language
/// (typed, so a check expecting one never matches on message text), something worth
/// asking again, or a failure that will not improve (its message names the status).
fn attempt_error(e: ClientError) -> Attempt {
    if e.is_query_rejection() {
        Attempt::Rejected(e.to_string())
    } else if e.is_transient() {
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
            from_zero,
        } => {
            let raw = format!("{probe}[{range_secs}s]");
            let series = client
                .query_raw_samples(&raw, &unix_seconds(*probe_at_unix_ms))
                .await
                .map_err(attempt_error)?;
            settled_at(&series, *from_zero)
                .map(|t| format!("{t:.3}"))
                .map_err(|why| match why {
                    Unsettled::NotYet(why) => {
                        Attempt::NotYet(format!("no settled sample of {raw}: {why}"))
                    }
                    // Final: asking again cannot bring the zero before that sample.
                    Unsettled::NoZero(why) => Attempt::Fatal(format!(
                        "no settled sample of {raw}, and there will be none: {why} (the scrape that carried the zeros was not stored, e.g. given up at its timeout on a loaded machine)"
                    )),
                })
        }
    }
}

/// Queries in flight at once when a check asks per trace id (Tempo answers 429
/// "job queue full" to 47 at once).
const FAN_OUT: usize = 8;

/// Per-id queries in flight at once per backend over all concurrent checks (Tempo
/// 2.6 splits each trace-by-id query into 50 jobs and queues at most 2000 per
/// tenant: 16 is 800 jobs, and 429s began at 47 at once).
const LOOKUPS_IN_FLIGHT: usize = 16;

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
    execute_since(query, component, b, Instant::now()).await
}

/// [`execute`], where a trace lookup by id that another check began at or after
/// `not_before` answers for this one too ([`TraceAnswers`]).
async fn execute_since(
    query: &Query,
    component: Component,
    b: &Backends,
    not_before: Instant,
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
        Query::Exemplars { expr, window } => {
            let client = b
                .prometheus_api
                .get(&component)
                .ok_or_else(|| missing(component))?;
            let (start, end) = window.seconds();
            let series = client
                .exemplars(expr, start as f64, end as f64)
                .await
                .map_err(attempt_error)?;
            // Each exemplar's trace, once, as a search would list it.
            let ids: std::collections::BTreeSet<String> = series
                .iter()
                .flat_map(|s| &s.exemplars)
                .filter_map(|e| e.labels.get("trace_id").or_else(|| e.labels.get("traceID")))
                .map(|id| id.to_ascii_lowercase())
                .collect();
            Ok(Observed::Traces(
                ids.into_iter()
                    .map(|trace_id| crate::core::observed::FoundTrace {
                        trace_id,
                        root_service: None,
                        root_name: None,
                        duration_ms: None,
                    })
                    .collect(),
            ))
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
        Query::GrafanaDashboard { uid, title } => {
            let g = b
                .grafana
                .as_ref()
                .ok_or_else(|| missing(Component::Grafana))?;
            let d = read_dashboard(g, uid.as_deref(), title).await?;
            Ok(Observed::Text(Some(targets_summary(&d))))
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
            let fetched: Vec<_> = stream::iter(ids.iter().map(|id| {
                b.lookups
                    .traces
                    .get(id, not_before, with_slot(&b.lookups.tempo, tempo.trace(id)))
            }))
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
            let fetched: Vec<_> = stream::iter(exprs.iter().map(|e| {
                with_slot(
                    &b.lookups.loki,
                    loki.query_range_all(e, start, end, PAGE_LINES),
                )
            }))
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

/// The dashboard Grafana serves: by `uid`, or, for a dashboard without one (the
/// guide's), the dashboard found by its exact `title` through `/api/search`; parsed
/// as the provisioned file is, against the provisioned datasources.
pub async fn read_dashboard(
    g: &GrafanaClient,
    uid: Option<&str>,
    title: &str,
) -> Result<Dashboard, Attempt> {
    let uid = match uid {
        Some(u) => u.to_owned(),
        None => g
            .search(title)
            .await
            .map_err(attempt_error)?
            .into_iter()
            .find(|h| h.kind == "dash-db" && h.title == title)
            .map(|h| h.uid)
            .ok_or_else(|| Attempt::NotYet(format!("Grafana has no dashboard titled {title:?}")))?,
    };
    let answer = g.dashboard_by_uid(&uid).await.map_err(|e| match e {
        // Provisioning may still be under way: a 404 is worth asking again.
        ClientError::Status { status: 404, .. } => Attempt::NotYet(e.to_string()),
        e => attempt_error(e),
    })?;
    dashboard_from_answer(&answer.dashboard)
        .map_err(|e| Attempt::Fatal(format!("Grafana's dashboard {uid}: {e}")))
}

/// A dashboard model as Grafana serves it, parsed against the provisioned datasources.
pub fn dashboard_from_answer(model: &serde_json::Value) -> Result<Dashboard, DashboardError> {
    dashboard::parse(&model.to_string(), &KnownDatasource::provisioned())
}

/// Reads back what Grafana loaded of `provisioned`, waiting up to `deadline` for its
/// provisioning; `NotRead` without Grafana.
pub async fn loaded_dashboard(
    b: &Backends,
    provisioned: &Dashboard,
    deadline: Duration,
) -> LoadedDashboard {
    let Some(g) = &b.grafana else {
        return LoadedDashboard::NotRead;
    };
    match poll_until(deadline, || {
        read_dashboard(g, provisioned.uid.as_deref(), &provisioned.title)
    })
    .await
    {
        Ok((d, _)) => LoadedDashboard::Loaded(d),
        Err(WaitFailure::TimedOut { last_seen, .. }) => LoadedDashboard::Unreadable(last_seen),
        Err(WaitFailure::Fatal(m) | WaitFailure::Rejected(m)) => LoadedDashboard::Unreadable(m),
    }
}

/// How long a check's answer must stay the same, after another check of its
/// scenario found its data through the same path, before the answer is taken as
/// final ([`Witnesses`]). Longer than the spread of one scenario's data becoming
/// visible on one path: Tempo with the guide's config makes traces searchable only
/// at its 10 s flush checks after their 10 s idle period, so two traces of one
/// scenario can become searchable 10 s apart.
pub const SETTLE_GRACE: Duration = Duration::from_secs(20);

/// The checks that found a scenario's data where they asked for it, so that the
/// checks still waiting on the same path stop waiting once their answer cannot
/// change: a check whose expectation lists the run's items
/// ([`Expectation::witnesses_arrival`]) and passed is a witness for its scenario
/// (its `emitted_at`), its component and its query's [`Query::family`]; a check of
/// the same three whose answer has been the same wrong one for [`SETTLE_GRACE`] since
/// a witness passed fails at once with that answer instead of at its timeout. Shared
/// by the checks of one run.
#[derive(Debug, Clone, Default)]
pub struct Witnesses(Arc<std::sync::Mutex<HashMap<WitnessKey, (String, Instant)>>>);

type WitnessKey = (Instant, Component, &'static str);

impl Witnesses {
    fn key(check: &Check, emitted_at: Instant) -> Option<WitnessKey> {
        Some((emitted_at, check.component, check.query.family()?))
    }

    fn passed(&self, check: &Check, emitted_at: Instant) {
        if !check.expect.witnesses_arrival() {
            return;
        }
        if let Some(key) = Self::key(check, emitted_at) {
            self.0
                .lock()
                .expect("witnesses")
                .entry(key)
                .or_insert_with(|| (check.id.clone(), Instant::now()));
        }
    }

    /// The witness of `check`'s path, and when it passed.
    fn of(&self, check: &Check, emitted_at: Instant) -> Option<(String, Instant)> {
        let key = Self::key(check, emitted_at)?;
        self.0.lock().expect("witnesses").get(&key).cloned()
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
    run_check_with(
        check,
        backends,
        components,
        emitted_at,
        timeout,
        &Witnesses::default(),
    )
    .await
}

/// [`run_check`], ending early once `witnesses` say its answer is final.
pub async fn run_check_with(
    check: &Check,
    backends: &Backends,
    components: &BTreeMap<Component, ComponentReport>,
    emitted_at: Instant,
    timeout: Duration,
    witnesses: &Witnesses,
) -> CheckReport {
    let mut report = CheckReport::before_run(check);
    if matches!(check.query, Query::ConfigField { .. })
        && config_path(check.component, backends.mimir).is_none()
    {
        report.reason = format!(
            "the {} role is filled by a stand-in (prometheus) that has no such setting",
            check.component
        );
        return report;
    }
    let down: Vec<Component> = check
        .needs
        .iter()
        .copied()
        .filter(|c| !backends.has(*c))
        .collect();
    if let Some(first) = down.first() {
        // In a few words: the image's pull error is shown once per cause, not here.
        let why = components
            .get(first)
            .and_then(ComponentReport::down_because)
            .unwrap_or_else(|| "it was not started".into());
        report.reason = format!("needs {first}, which is not running ({why})");
        report.skipped_because = down;
        return report;
    }
    // After the components: a check that could not be asked anyway is skipped for
    // the component that is down, grouped with the others it took with it.
    if let Query::NotPossible { reason } = &check.query {
        report.reason = reason.clone();
        return report;
    }
    if let Some(why) = unanswerable(check, backends).await {
        report.status = CheckStatus::Fail;
        report.reason = why;
        return report;
    }
    // The answer seen last, and since when it has been the same.
    let same_since: std::sync::Mutex<Option<(String, Instant)>> = Default::default();
    // When the previous attempt began (first: now): answers of lookups begun since
    // are as recent as this attempt needs.
    let previous_attempt = std::sync::Mutex::new(Instant::now());
    let outcome = poll_until(timeout, || async {
        let asked_at = Instant::now();
        let not_before = std::mem::replace(
            &mut *previous_attempt.lock().expect("previous_attempt"),
            asked_at,
        );
        let observed = execute_since(&check.query, check.component, backends, not_before).await?;
        let control = match &check.control {
            Some(c) => Some(execute_since(&c.query, check.component, backends, not_before).await?),
            None => None,
        };
        match judge(check, &observed, control.as_ref()) {
            Err(Attempt::NotYet(seen)) => {
                let mut last = same_since.lock().expect("same_since");
                let since = match last.as_ref() {
                    Some((text, since)) if *text == seen => *since,
                    _ => asked_at,
                };
                *last = Some((seen.clone(), since));
                Err(settled(witnesses.of(check, emitted_at), since, seen))
            }
            other => other,
        }
    })
    .await;
    if outcome.is_ok() {
        witnesses.passed(check, emitted_at);
    }
    let visible = outcome.is_ok() && !matches!(check.query, Query::ConfigField { .. });
    (report.status, report.reason) = conclude(&check.expect, outcome.map(|(d, _)| d));
    if visible {
        report.time_to_visible_ms = Some(emitted_at.elapsed().as_millis() as u64);
    }
    report
}

/// A wrong answer seen the same since `since`: final ([`Attempt::Fatal`], naming the
/// witness) when a witness passed on the same path at least [`SETTLE_GRACE`] before
/// the latest attempt and the answer has been the same for that long; else not yet.
fn settled(witness: Option<(String, Instant)>, since: Instant, seen: String) -> Attempt {
    match witness {
        Some((id, passed))
            if passed.elapsed() >= SETTLE_GRACE && since.elapsed() >= SETTLE_GRACE =>
        {
            Attempt::Fatal(format!(
                "the answer is final: `{id}` found this scenario's data through the same path {:.1} s ago, and this query has answered the same for {:.1} s since: {seen}",
                passed.elapsed().as_secs_f64(),
                since.elapsed().as_secs_f64()
            ))
        }
        _ => Attempt::NotYet(seen),
    }
}

/// Why the check's query can never return the run's data, when the component's own
/// state already says so: read once before waiting, so that such a check fails at
/// once with the component's evidence instead of at its timeout. Only checks that
/// expect data; `None` whenever the state cannot be read (then asking tells).
///
/// Known: TraceQL metrics from a Tempo whose served configuration enables no
/// local-blocks processor ([`tempo_metrics_unanswerable`]).
async fn unanswerable(check: &Check, b: &Backends) -> Option<String> {
    let expects_data =
        !matches!(check.expect, Expectation::Rejected) && !is_negative(&check.expect);
    if !expects_data || !matches!(check.query, Query::TraceQlMetrics { .. }) {
        return None;
    }
    let path = config_path(Component::Tempo, b.mimir)?;
    let root = b.roots.get(&Component::Tempo)?;
    let (status, body) = root.get(b.http.as_ref()?, path, &[]).await.ok()?;
    let why = (status == 200).then(|| tempo_metrics_unanswerable(&body))??;
    Some(format!(
        "Tempo can never answer this with data: {why}; its served configuration ({path}) says so, so the check was not waited for"
    ))
}

/// Judges one attempt: the answer against the expectation and, for a negative check,
/// its control's answer (asked in the same poll) against the control's expectation.
/// A negative answer without the control's data is "not yet": there is nothing to
/// compare against.
pub fn judge(
    check: &Check,
    observed: &Observed,
    control: Option<&Observed>,
) -> Result<String, Attempt> {
    let control_detail = match (&check.control, control) {
        (Some(c), Some(seen)) => match evaluate(&c.expect, seen) {
            Verdict::Pass { detail } => Some(format!(
                "the control `{}` returned the run's data: {detail}",
                c.query.text()
            )),
            mismatch => {
                return Err(Attempt::NotYet(format!(
                    "no data to compare against: the control `{}` on the same backend and range: {}",
                    c.query.text(),
                    mismatch.summary()
                )));
            }
        },
        (Some(c), None) => {
            return Err(Attempt::Fatal(format!(
                "the control `{}` was not asked",
                c.query.text()
            )));
        }
        (None, _) => None,
    };
    match evaluate(&check.expect, observed) {
        Verdict::Pass { detail } => Ok(match control_detail {
            Some(c) => format!("{detail}; {c}"),
            None => detail,
        }),
        mismatch => Err(Attempt::NotYet(mismatch.summary())),
    }
}

/// A check's status and reason from how its wait ended. A check that expects the
/// guide's query to be rejected passes only on a rejection of the query's language;
/// any other error (auth, not found, server, timeout, transport, decode) fails it,
/// and so does a rejection of a query that should have run.
pub fn conclude(
    expect: &Expectation,
    outcome: Result<String, WaitFailure>,
) -> (CheckStatus, String) {
    let rejected_expected = *expect == Expectation::Rejected;
    match outcome {
        Ok(detail) => (CheckStatus::Pass, detail),
        Err(WaitFailure::Rejected(message)) if rejected_expected => (
            CheckStatus::Pass,
            format!("rejected, as the guide's query is wrong: {message}"),
        ),
        Err(WaitFailure::Rejected(message)) => (
            CheckStatus::Fail,
            format!("the backend rejected the query: {message}"),
        ),
        Err(WaitFailure::Fatal(message)) if rejected_expected => (
            CheckStatus::Fail,
            format!("expected the backend to reject the query as invalid, but: {message}"),
        ),
        Err(WaitFailure::Fatal(message)) => (CheckStatus::Fail, message),
        Err(WaitFailure::TimedOut { waited, last_seen }) => (
            CheckStatus::Fail,
            format!(
                "not as expected after {:.1}s: {last_seen}",
                waited.as_secs_f64()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::check::{Control, Signal};
    use crate::core::expect::Sample;

    /// Lookups by id counted, answering `answer` after a moment.
    async fn counted(
        asked: &std::sync::atomic::AtomicUsize,
        answer: Result<TraceAnswer, ClientError>,
    ) -> Result<TraceAnswer, ClientError> {
        asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer
    }

    #[tokio::test]
    async fn checks_share_a_trace_lookup_begun_since_their_previous_attempt_only() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let answers = TraceAnswers::default();
        let asked = AtomicUsize::new(0);
        let spans = Some(Vec::new());
        let before = Instant::now();
        // Two checks at once: one lookup, the same answer for both.
        let (a, b) = tokio::join!(
            answers.get("t1", before, counted(&asked, Ok(spans.clone()))),
            answers.get("t1", before, counted(&asked, Ok(None))),
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!((a.unwrap(), b.unwrap()), (spans.clone(), spans.clone()));
        // Another id is its own lookup.
        answers
            .get("t2", before, counted(&asked, Ok(None)))
            .await
            .unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), 2);
        // A check whose previous attempt began after that lookup asks again, and
        // gets the new answer.
        let later = Instant::now();
        let c = answers
            .get("t1", later, counted(&asked, Ok(None)))
            .await
            .unwrap();
        assert_eq!((asked.load(Ordering::SeqCst), c), (3, None));
        // A failed lookup is not shared: the next check asks for itself.
        let now = Instant::now();
        let failed = ClientError::Status {
            component: Component::Tempo,
            url: "http://tempo:3200/api/traces/t3".into(),
            query: "t3".into(),
            status: 503,
            message: "not ready".into(),
        };
        let e = answers.get("t3", now, counted(&asked, Err(failed))).await;
        assert!(matches!(e, Err(ClientError::Status { status: 503, .. })));
        let d = answers
            .get("t3", now, counted(&asked, Ok(spans.clone())))
            .await
            .unwrap();
        assert_eq!((asked.load(Ordering::SeqCst), d), (5, spans));
    }

    /// A recorded answer (`harness/tests/data/<name>.txt`: body, then the status).
    fn recorded(name: &str) -> (u16, String) {
        let text = std::fs::read_to_string(format!(
            "{}/tests/data/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let (body, status) = text.trim_end().rsplit_once('\n').unwrap();
        (status.trim().parse().unwrap(), body.to_owned())
    }

    fn endpoint(c: Component) -> Endpoint {
        Endpoint::new(c, "http://backend:1")
    }

    /// The verdict of a check expecting a rejection, when every attempt ends in `e`.
    async fn rejected_check_given(e: impl Fn() -> ClientError) -> (CheckStatus, String) {
        let outcome = poll_until(Duration::from_millis(250), || async {
            Err::<String, _>(attempt_error(e()))
        })
        .await;
        conclude(&Expectation::Rejected, outcome.map(|(d, _)| d))
    }

    #[tokio::test]
    async fn a_rejected_check_passes_only_on_a_rejection_of_the_query_language() {
        // Recorded 400 parse errors of Loki 3.2.0, Tempo 2.6.0, Prometheus 2.42, Cortex.
        for (name, c) in [
            ("loki/error_parse", Component::Loki),
            ("loki/error_histogram_quantile", Component::Loki),
            ("tempo/search_parse_error", Component::Tempo),
            ("prometheus/error_parse", Component::Prometheus),
            ("cortex/error_parse", Component::Mimir),
        ] {
            let (status, body) = recorded(name);
            let (verdict, reason) =
                rejected_check_given(|| endpoint(c).error("/q", "q", status, &body)).await;
            assert_eq!(verdict, CheckStatus::Pass, "{name}: {reason}");
            assert!(reason.contains("parse error"), "{name}: {reason}");
        }
        // Tempo 2.6's metrics endpoint: the parse error comes with HTTP 500 and its
        // client reads it as an invalid query.
        let (_, body) = recorded("tempo/metrics_guide_rate_syntax_error");
        let (verdict, _) = rejected_check_given(|| ClientError::InvalidQuery {
            component: Component::Tempo,
            url: "http://backend:1/api/metrics/query_range".into(),
            query: "rate(…)".into(),
            message: body.clone(),
        })
        .await;
        assert_eq!(verdict, CheckStatus::Pass);
    }

    #[tokio::test]
    async fn a_rejected_check_fails_on_any_other_error_and_names_it() {
        // The old run_check passed on every one of these.
        let cases: Vec<(&str, u16, String)> = vec![
            ("HTTP 401", 401, "no org id".into()),
            (
                "HTTP 403",
                403,
                "{\"message\":\"permission denied\"}".into(),
            ),
            (
                "HTTP 404",
                recorded("cortex/status_config_not_found").0,
                recorded("cortex/status_config_not_found").1,
            ),
            (
                "HTTP 404",
                recorded("tempo/trace_not_found").0,
                recorded("tempo/trace_not_found").1,
            ),
            (
                "HTTP 422",
                recorded("prometheus/error_execution").0,
                recorded("prometheus/error_execution").1,
            ),
            ("HTTP 500", 500, "internal server error".into()),
            ("HTTP 503", 503, "too many outstanding requests".into()),
        ];
        for (named, status, body) in cases {
            let (verdict, reason) =
                rejected_check_given(|| endpoint(Component::Loki).error("/q", "q", status, &body))
                    .await;
            assert_eq!(verdict, CheckStatus::Fail, "{named}: {reason}");
            assert!(reason.contains(named), "{named} not in: {reason}");
        }
        // A 400 that rejects a parameter, not the query's language.
        let (status, body) = recorded("prometheus/error_range_end_before_start");
        let (verdict, reason) = rejected_check_given(|| {
            endpoint(Component::Prometheus).error("/q", "q", status, &body)
        })
        .await;
        assert_eq!(verdict, CheckStatus::Fail, "{reason}");
        // An answer that cannot be read.
        let (verdict, reason) = rejected_check_given(|| {
            endpoint(Component::Tempo).decode_error("/q", "q", "expected value at line 1".into())
        })
        .await;
        assert_eq!(verdict, CheckStatus::Fail);
        assert!(reason.contains("cannot be read"), "{reason}");
    }

    #[test]
    fn a_query_that_should_run_fails_when_rejected() {
        let (verdict, reason) = conclude(
            &Expectation::NonEmpty,
            Err(WaitFailure::Rejected("parse error at line 1".into())),
        );
        assert_eq!(verdict, CheckStatus::Fail);
        assert!(reason.contains("rejected the query"), "{reason}");
    }

    fn negative_check() -> Check {
        Check {
            id: "promql.guide.cpu.original".into(),
            title: "t".into(),
            signal: Signal::Metrics,
            component: Component::Mimir,
            needs: vec![Component::Mimir],
            query: Query::PromQl {
                expr: "node_cpu_seconds_total".into(),
                at: EvalAt::Fixed { unix_ms: 1_000 },
            },
            guide_original: None,
            expect: Expectation::MatchesNothing {
                why: "no node-exporter".into(),
            },
            control: Some(Control {
                query: Query::PromQl {
                    expr: "process_cpu_seconds_total{run_id=\"r\"}".into(),
                    at: EvalAt::Fixed { unix_ms: 1_000 },
                },
                expect: Expectation::NonEmpty,
            }),
        }
    }

    #[tokio::test]
    async fn a_negative_check_fails_on_an_empty_backend() {
        let check = negative_check();
        let empty = Observed::Series(vec![]);
        // The old run_check passed here: an empty answer, and nothing else asked.
        let outcome = poll_until(Duration::from_millis(250), || async {
            judge(&check, &empty, Some(&empty))
        })
        .await;
        let (verdict, reason) = conclude(&check.expect, outcome.map(|(d, _)| d));
        assert_eq!(verdict, CheckStatus::Fail);
        assert!(reason.contains("no data to compare against"), "{reason}");
        assert!(reason.contains("process_cpu_seconds_total"), "{reason}");
    }

    #[test]
    fn a_negative_check_passes_when_its_control_has_the_runs_data() {
        let check = negative_check();
        let cpu = Observed::Series(vec![Sample {
            labels: [("run_id".to_string(), "r".to_string())].into(),
            value: 0.25,
        }]);
        let detail = judge(&check, &Observed::Series(vec![]), Some(&cpu)).unwrap();
        assert!(detail.starts_with("matches nothing"), "{detail}");
        assert!(detail.contains("the control"), "{detail}");
        // and fails while the defective query matches something
        assert!(judge(&check, &cpu, Some(&cpu)).is_err());
        // a control that was not asked cannot pass it
        assert!(matches!(
            judge(&check, &Observed::Series(vec![]), None),
            Err(Attempt::Fatal(_))
        ));
    }

    // --- Grafana: what it loaded ---------------------------------------------------

    use crate::clients::Auth;
    use crate::clients::grafana::decode_dashboard;
    use crate::core::catalog_grafana::{dashboard_checks, grafana_checks};
    use crate::core::plan::ConfigSet;
    use crate::stack::configs::{self, catalog_context};
    use lgtm_check_recorder::manifest::Manifest;

    fn grafana_data(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/grafana/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "scenario": "http-service", "run_id": "r-http",
            "service": "rust-app", "environment": "production",
            "started_at_unix_ms": 1000, "finished_at_unix_ms": 2000
        }))
        .unwrap()
    }

    /// Grafana's answer to `GET /api/dashboards/uid/:uid` (the recorded shape) with
    /// `model` as the dashboard.
    fn answer_with(model: serde_json::Value) -> String {
        let mut a: serde_json::Value =
            serde_json::from_str(&grafana_data("dashboard-by-uid.json")).unwrap();
        a["dashboard"] = model;
        a.to_string()
    }

    #[test]
    fn grafana_targets_are_those_grafana_serves_not_the_embedded_copy() {
        let ctx = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
        // Grafana serves the dashboard with one target changed (as an edited or
        // differently provisioned dashboard would be).
        let mut model: serde_json::Value =
            serde_json::from_str(configs::GRAFANA_DASHBOARD).unwrap();
        model["panels"][0]["targets"][0]["expr"] = serde_json::json!("vector(42)");
        let served = decode_dashboard(&answer_with(model)).unwrap();
        let loaded = dashboard_from_answer(&served.dashboard).unwrap();
        let checks = grafana_checks(
            &manifest(),
            &ctx.dashboard,
            &LoadedDashboard::Loaded(loaded.clone()),
            &ctx.datasources,
        );
        let first = checks
            .iter()
            .find(|c| c.id == "grafana.dashboard.panel1.A")
            .unwrap();
        assert!(
            first.query.text().contains("vector(42) (from "),
            "{}",
            first.query.text()
        );
        // ... and the read-back differs from what was provisioned, which
        // grafana.dashboard.loaded reports.
        let loaded_check = checks
            .iter()
            .find(|c| c.id == "grafana.dashboard.loaded")
            .unwrap();
        let v = evaluate(
            &loaded_check.expect,
            &Observed::Text(Some(targets_summary(&loaded))),
        );
        assert!(!v.is_pass());
        assert!(
            evaluate(
                &loaded_check.expect,
                &Observed::Text(Some(targets_summary(&ctx.dashboard)))
            )
            .is_pass()
        );
    }

    #[test]
    fn a_served_dashboard_without_panels_yields_no_target_checks() {
        // Grafana's documented answer: a dashboard with no panels.
        let served = decode_dashboard(&grafana_data("dashboard-by-uid.json")).unwrap();
        let loaded = dashboard_from_answer(&served.dashboard).unwrap();
        assert_eq!(loaded.uid.as_deref(), Some("cIBgcSjkk"));
        let ctx = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
        let checks = grafana_checks(
            &manifest(),
            &ctx.dashboard,
            &LoadedDashboard::Loaded(loaded),
            &ctx.datasources,
        );
        assert!(
            !checks
                .iter()
                .any(|c| c.id.starts_with("grafana.dashboard.panel")),
            "the embedded copy's targets were checked instead"
        );
        // Grafana does not serve it: the targets are skipped, the loaded check runs.
        let checks = grafana_checks(
            &manifest(),
            &ctx.dashboard,
            &LoadedDashboard::Unreadable(format!(
                "HTTP 404: {}",
                grafana_data("dashboard-not-found.json")
            )),
            &ctx.datasources,
        );
        let first = checks
            .iter()
            .find(|c| c.id == "grafana.dashboard.panel1.A")
            .unwrap();
        assert!(
            matches!(&first.query, Query::NotPossible { reason } if reason.contains("Dashboard not found"))
        );
        assert!(checks.iter().any(|c| c.id == "grafana.dashboard.loaded"
            && matches!(c.query, Query::GrafanaDashboard { .. })));
    }

    #[test]
    fn guide_mode_checks_the_guides_dashboard() {
        let ctx = catalog_context(ConfigSet::Guide, LoadedDashboard::NotRead).unwrap();
        let direct = dashboard_checks(&manifest(), &ctx.dashboard, &ctx.datasources);
        let panel1 = direct
            .iter()
            .find(|c| c.id == "dashboard.panel1.A")
            .unwrap();
        // The guide's query, not the fixed dashboard's `sum by (method) (…$service…)`.
        assert!(
            panel1
                .query
                .text()
                .starts_with("sum(rate(http_requests_total[5m])) by (method) (at "),
            "{}",
            panel1.query.text()
        );
        let through = grafana_checks(
            &manifest(),
            &ctx.dashboard,
            &LoadedDashboard::NotRead,
            &ctx.datasources,
        );
        let loaded = through
            .iter()
            .find(|c| c.id == "grafana.dashboard.loaded")
            .unwrap();
        // The guide's dashboard has no uid: Grafana is asked by its title.
        assert!(
            matches!(&loaded.query, Query::GrafanaDashboard { uid: None, title } if title.contains("LGTM"))
        );
    }

    #[tokio::test]
    async fn a_datasource_check_is_skipped_without_the_backend_it_points_to() {
        let ctx = catalog_context(ConfigSet::Fixed, LoadedDashboard::NotRead).unwrap();
        let checks = grafana_checks(
            &manifest(),
            &ctx.dashboard,
            &LoadedDashboard::NotRead,
            &ctx.datasources,
        );
        let loki = checks
            .iter()
            .find(|c| c.id == "grafana.datasource.loki")
            .unwrap();
        assert_eq!(loki.needs, vec![Component::Grafana, Component::Loki]);
        let mimir = checks
            .iter()
            .find(|c| c.id == "grafana.datasource.mimir")
            .unwrap();
        assert!(mimir.needs.contains(&Component::Mimir));
        // Grafana up, Loki not: skipped (the old check ran and failed).
        let backends = Backends {
            grafana: Some(GrafanaClient::new(
                reqwest::Client::new(),
                "http://grafana.invalid:3000",
                Auth::None,
            )),
            ..Backends::default()
        };
        let report = run_check(
            loki,
            &backends,
            &BTreeMap::new(),
            Instant::now(),
            Duration::from_millis(10),
        )
        .await;
        assert_eq!(report.status, CheckStatus::Skip, "{}", report.reason);
        assert!(report.reason.contains("needs loki"), "{}", report.reason);
    }
}
