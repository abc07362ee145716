//! Client of Grafana's HTTP API: health, datasources and their health checks, queries
//! through Grafana (`POST /api/ds/query`), dashboards and search.
//!
//! Main types: [`GrafanaClient`], [`Auth`] (credentials never appear in `Debug` output
//! or errors), [`DsQuery`] and [`RefIdResult`]. Every answer is read by a pure
//! `decode_*` function, tested against the example bodies of Grafana's HTTP API docs
//! (`harness/tests/data/grafana/`, sources in its `SOURCES.md`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ClientError, redact_url, split_credentials};
use crate::core::component::Component;
use crate::core::dashboard::TargetQuery;

pub use super::Auth;

/// A Grafana API client.
#[derive(Clone)]
pub struct GrafanaClient {
    http: reqwest::Client,
    /// Base URL without credentials and without a trailing slash.
    base: String,
    auth: Auth,
}

impl fmt::Debug for GrafanaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrafanaClient")
            .field("base", &redact_url(&self.base))
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// `GET /api/health`. `version` and `commit` are absent when Grafana hides its version
/// from anonymous users.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Health {
    /// `ok`, or `failing` (then the HTTP status is 503).
    pub database: String,
    /// Grafana's version, e.g. `11.3.0`.
    #[serde(default)]
    pub version: Option<String>,
    /// The git commit Grafana was built from.
    #[serde(default)]
    pub commit: Option<String>,
}

/// One datasource as `GET /api/datasources` and `/api/datasources/uid/:uid` list it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Datasource {
    /// Grafana's numeric id (0 where the answer has none); prefer `uid`.
    #[serde(default)]
    pub id: i64,
    /// The stable id dashboards refer to it by.
    pub uid: String,
    /// The display name.
    pub name: String,
    /// Plugin type: `prometheus`, `loki`, `tempo`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The backend URL Grafana sends this datasource's queries to (as Grafana's
    /// container sees it; may be empty).
    #[serde(default)]
    pub url: String,
    /// Whether targets without a datasource use this one.
    #[serde(default, rename = "isDefault")]
    pub is_default: bool,
    /// The plugin's own settings (e.g. Loki's `derivedFields`, Tempo's
    /// `tracesToLogsV2`), as JSON; `null` when absent.
    #[serde(default, rename = "jsonData")]
    pub json_data: Value,
}

/// The outcome of a datasource's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthStatus {
    /// `OK`: the plugin reached its backend and the backend answered.
    Ok,
    /// `ERROR`: the check failed; the message says why.
    Error,
    /// `UNKNOWN` or anything newer.
    Other(String),
}

/// `GET /api/datasources/uid/:uid/health`: what the datasource plugin said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasourceHealth {
    /// The check's outcome.
    pub status: HealthStatus,
    /// The plugin's message, e.g. `Data source successfully connected.` or the
    /// backend's error (empty when none was given).
    pub message: String,
}

/// One query sent through `POST /api/ds/query`.
#[derive(Debug, Clone, PartialEq)]
pub struct DsQuery {
    /// The id the answer is filed under (`A`, `B`, …).
    pub ref_id: String,
    /// The uid of the datasource that runs the query.
    pub datasource_uid: String,
    /// The query, in the datasource's language.
    pub query: TargetQuery,
}

impl DsQuery {
    /// A query of `query` through datasource `datasource_uid`, answered under `ref_id`.
    pub fn new(
        ref_id: impl Into<String>,
        datasource_uid: impl Into<String>,
        query: TargetQuery,
    ) -> Self {
        DsQuery {
            ref_id: ref_id.into(),
            datasource_uid: datasource_uid.into(),
            query,
        }
    }

    /// The query object as Grafana's frontend sends it for this datasource type.
    pub fn to_json(&self) -> Value {
        let ds = |t: &str| json!({"uid": self.datasource_uid, "type": t});
        match &self.query {
            TargetQuery::PromQl(expr) => json!({
                "refId": self.ref_id, "datasource": ds("prometheus"),
                "expr": expr, "range": true, "instant": false,
            }),
            TargetQuery::LogQl(expr) => json!({
                "refId": self.ref_id, "datasource": ds("loki"),
                "expr": expr, "queryType": "range",
            }),
            TargetQuery::TraceQl(query) => json!({
                "refId": self.ref_id, "datasource": ds("tempo"),
                "queryType": "traceql", "query": query, "limit": 20, "tableType": "traces",
            }),
        }
    }
}

/// The body of `POST /api/ds/query`. `from` and `to` are epoch milliseconds or
/// Grafana's relative times (`now-5m`).
///
/// ```
/// use lgtm_check::clients::grafana::{ds_query_body, DsQuery};
/// use lgtm_check::core::dashboard::TargetQuery;
///
/// let q = DsQuery::new("A", "loki", TargetQuery::LogQl(r#"{job="api"}"#.into()));
/// let body = ds_query_body(&[q], "1732540000000", "1732540060000");
/// assert_eq!(body["queries"][0]["datasource"]["type"], "loki");
/// assert_eq!(body["queries"][0]["expr"], r#"{job="api"}"#);
/// assert_eq!(body["from"], "1732540000000");
/// ```
pub fn ds_query_body(queries: &[DsQuery], from: &str, to: &str) -> Value {
    json!({
        "queries": queries.iter().map(DsQuery::to_json).collect::<Vec<_>>(),
        "from": from,
        "to": to,
    })
}

/// What one refId of a `/api/ds/query` answer held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefIdResult {
    /// Data frames returned (a frame is one series or one table).
    pub frames: usize,
    /// Rows over all frames (the length of each frame's first field).
    pub rows: usize,
    /// Values over all frames and fields.
    pub values: usize,
    /// The refId's own error, e.g. a backend's parse error.
    pub error: Option<String>,
    /// The refId's own status, when Grafana gives one.
    pub status: Option<u16>,
}

/// A search hit (`GET /api/search`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SearchHit {
    /// Grafana's numeric id (0 where the answer has none); prefer `uid`.
    #[serde(default)]
    pub id: i64,
    /// The dashboard's or folder's uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its path in Grafana's UI, e.g. `/d/<uid>/<slug>`.
    #[serde(default)]
    pub url: String,
    /// `dash-db` or `dash-folder`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The dashboard's tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `GET /api/dashboards/uid/:uid`: the dashboard model (for
/// [`crate::core::dashboard::parse`]) and where Grafana serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardAnswer {
    /// The dashboard JSON model, as Grafana stores it.
    pub dashboard: Value,
    /// Its path in Grafana's UI (`meta.url`, e.g. `/d/<uid>/<slug>`).
    pub url: Option<String>,
    /// Whether it was loaded from a provisioning file (`meta.provisioned`).
    pub provisioned: bool,
}

/// Grafana's error body, `{"message": …}`, or the body itself (shortened).
pub fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct E {
        message: String,
    }
    match serde_json::from_str::<E>(body) {
        Ok(e) => e.message,
        Err(_) => body.chars().take(500).collect(),
    }
}

/// Decodes `/api/health`.
pub fn decode_health(body: &str) -> Result<Health, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// Decodes `/api/datasources`.
pub fn decode_datasources(body: &str) -> Result<Vec<Datasource>, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// Decodes `/api/datasources/uid/{uid}`.
pub fn decode_datasource(body: &str) -> Result<Datasource, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// Reads a health check answer; Grafana sends it with HTTP 200 (OK) or 400 (otherwise).
///
/// ```
/// use lgtm_check::clients::grafana::{decode_datasource_health, HealthStatus};
///
/// let h = decode_datasource_health(r#"{"status": "ERROR", "message": "connection refused"}"#)
///     .unwrap();
/// assert_eq!(h.status, HealthStatus::Error);
/// assert_eq!(h.message, "connection refused");
/// ```
pub fn decode_datasource_health(body: &str) -> Result<DatasourceHealth, String> {
    #[derive(Deserialize)]
    struct H {
        status: String,
        #[serde(default)]
        message: String,
    }
    let h: H = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(DatasourceHealth {
        status: match h.status.as_str() {
            "OK" => HealthStatus::Ok,
            "ERROR" => HealthStatus::Error,
            other => HealthStatus::Other(other.to_owned()),
        },
        message: h.message,
    })
}

/// Reads a `/api/ds/query` answer into what each refId got.
///
/// ```
/// use lgtm_check::clients::grafana::decode_ds_query;
///
/// let body = r#"{"results": {"A": {"status": 200, "frames": [
///     {"data": {"values": [[1732540000000, 1732540015000], [3, 4]]}}
/// ]}}}"#;
/// let a = &decode_ds_query(body).unwrap()["A"];
/// assert_eq!((a.frames, a.rows, a.values), (1, 2, 4));
/// assert_eq!(a.error, None);
/// ```
pub fn decode_ds_query(body: &str) -> Result<BTreeMap<String, RefIdResult>, String> {
    #[derive(Deserialize)]
    struct Answer {
        results: BTreeMap<String, RefAnswer>,
    }
    #[derive(Deserialize)]
    struct RefAnswer {
        #[serde(default)]
        frames: Vec<Frame>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        status: Option<u16>,
    }
    #[derive(Deserialize)]
    struct Frame {
        #[serde(default)]
        data: Option<FrameData>,
    }
    #[derive(Deserialize)]
    struct FrameData {
        #[serde(default)]
        values: Vec<Vec<Value>>,
    }
    fn values(f: &Frame) -> &[Vec<Value>] {
        f.data.as_ref().map_or(&[][..], |d| &d.values[..])
    }
    let answer: Answer = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(answer
        .results
        .into_iter()
        .map(|(ref_id, r)| {
            let result = RefIdResult {
                frames: r.frames.len(),
                rows: r
                    .frames
                    .iter()
                    .map(|f| values(f).first().map_or(0, Vec::len))
                    .sum(),
                values: r
                    .frames
                    .iter()
                    .map(|f| values(f).iter().map(Vec::len).sum::<usize>())
                    .sum(),
                error: r.error.filter(|e| !e.is_empty()),
                status: r.status,
            };
            (ref_id, result)
        })
        .collect())
}

/// Decodes `/api/dashboards/uid/{uid}`.
pub fn decode_dashboard(body: &str) -> Result<DashboardAnswer, String> {
    #[derive(Deserialize)]
    struct Answer {
        dashboard: Value,
        #[serde(default)]
        meta: Meta,
    }
    #[derive(Deserialize, Default)]
    struct Meta {
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        provisioned: bool,
    }
    let a: Answer = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if !a.dashboard.is_object() {
        return Err("`dashboard` is not an object".into());
    }
    Ok(DashboardAnswer {
        dashboard: a.dashboard,
        url: a.meta.url,
        provisioned: a.meta.provisioned,
    })
}

/// Decodes `/api/search`.
pub fn decode_search(body: &str) -> Result<Vec<SearchHit>, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

impl GrafanaClient {
    /// A client for Grafana at `base` (e.g. `http://127.0.0.1:3000`). Credentials in
    /// the URL are moved into basic auth unless `auth` says otherwise.
    pub fn new(http: reqwest::Client, base: &str, auth: Auth) -> Self {
        let (base, from_url) = split_credentials(base);
        let auth = match (auth, from_url) {
            (Auth::None, Some(a)) => a,
            (a, _) => a,
        };
        GrafanaClient { http, base, auth }
    }

    /// The base URL, without credentials.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        }
    }

    /// Sends a request and returns the HTTP status and body.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, String), ClientError> {
        let unreachable = |source| ClientError::unreachable(Component::Grafana, url, source);
        let response = self
            .authorize(req.header(reqwest::header::ACCEPT, "application/json"))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok((status, body))
    }

    fn status_error(&self, url: &str, what: &str, status: u16, body: &str) -> ClientError {
        ClientError::Status {
            component: Component::Grafana,
            url: url.to_owned(),
            query: what.to_owned(),
            status,
            message: error_message(body),
        }
    }

    fn decode_error(&self, url: &str, what: &str, detail: String) -> ClientError {
        ClientError::Decode {
            component: Component::Grafana,
            url: url.to_owned(),
            query: what.to_owned(),
            detail,
        }
    }

    async fn get<T>(
        &self,
        path: &str,
        params: &[(&str, &str)],
        ok: &[u16],
        decode: fn(&str) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let what = format!("GET {path}");
        let (status, body) = self.send(self.http.get(&url).query(params), &url).await?;
        if !ok.contains(&status) {
            return Err(self.status_error(&url, &what, status, &body));
        }
        decode(&body).map_err(|d| self.decode_error(&url, &what, d))
    }

    /// `GET /api/health`. A failing database (HTTP 503) is an answer, not an error.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/api/health", &[], &[200, 503], decode_health)
            .await
    }

    /// `GET /api/datasources`.
    pub async fn datasources(&self) -> Result<Vec<Datasource>, ClientError> {
        self.get("/api/datasources", &[], &[200], decode_datasources)
            .await
    }

    /// `GET /api/datasources/uid/:uid`; an unknown uid is `Status` 404 with Grafana's
    /// message (`Data source not found`).
    pub async fn datasource_by_uid(&self, uid: &str) -> Result<Datasource, ClientError> {
        self.get(
            &format!("/api/datasources/uid/{}", path_segment(uid)),
            &[],
            &[200],
            decode_datasource,
        )
        .await
    }

    /// `GET /api/datasources/uid/:uid/health`. A failed check (HTTP 400, or 503 before
    /// Grafana 10) is an answer with [`HealthStatus::Error`], not an error.
    pub async fn datasource_health(&self, uid: &str) -> Result<DatasourceHealth, ClientError> {
        let path = format!("/api/datasources/uid/{}/health", path_segment(uid));
        let url = format!("{}{}", self.base, path);
        let what = format!("GET {path}");
        let (status, body) = self.send(self.http.get(&url), &url).await?;
        match decode_datasource_health(&body) {
            Ok(h) if matches!(status, 200 | 400 | 503) => Ok(h),
            _ if status != 200 => Err(self.status_error(&url, &what, status, &body)),
            Ok(h) => Ok(h),
            Err(d) => Err(self.decode_error(&url, &what, d)),
        }
    }

    /// `POST /api/ds/query`: runs the queries through Grafana and says what each refId
    /// got. Per-refId errors are in the result; Grafana answers 400 when any query
    /// failed, which is still an answer as long as it names the refIds.
    pub async fn ds_query(
        &self,
        queries: &[DsQuery],
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, RefIdResult>, ClientError> {
        let url = format!("{}/api/ds/query", self.base);
        let what = queries
            .iter()
            .map(|q| format!("{}: {}", q.ref_id, q.query.text()))
            .collect::<Vec<_>>()
            .join("; ");
        let (status, body) = self
            .send(
                self.http.post(&url).json(&ds_query_body(queries, from, to)),
                &url,
            )
            .await?;
        match decode_ds_query(&body) {
            Ok(r) if status == 200 || (status == 400 && !r.is_empty()) => Ok(r),
            Ok(_) | Err(_) if status != 200 => Err(self.status_error(&url, &what, status, &body)),
            Ok(r) => Ok(r),
            Err(d) => Err(self.decode_error(&url, &what, d)),
        }
    }

    /// `GET /api/dashboards/uid/:uid`.
    pub async fn dashboard_by_uid(&self, uid: &str) -> Result<DashboardAnswer, ClientError> {
        self.get(
            &format!("/api/dashboards/uid/{}", path_segment(uid)),
            &[],
            &[200],
            decode_dashboard,
        )
        .await
    }

    /// `GET /api/search?query=…` (dashboards and folders whose title matches).
    pub async fn search(&self, query: &str) -> Result<Vec<SearchHit>, ClientError> {
        self.get("/api/search", &[("query", query)], &[200], decode_search)
            .await
    }
}

/// Percent-encodes a uid for use as one path segment.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! data {
        ($f:literal) => {
            include_str!(concat!("../../tests/data/grafana/", $f))
        };
    }

    #[test]
    fn health_documented_and_failing_without_version() {
        assert_eq!(
            decode_health(data!("health.json")).unwrap(),
            Health {
                database: "ok".into(),
                version: Some("5.1.3".into()),
                commit: Some("087143285".into()),
            }
        );
        let h = decode_health(data!("health-failing-anonymous.json")).unwrap();
        assert_eq!((h.database.as_str(), h.version), ("failing", None));
    }

    #[test]
    fn datasources_list_and_by_uid() {
        let list = decode_datasources(data!("datasources.json")).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            (
                list[0].uid.as_str(),
                list[0].name.as_str(),
                list[0].kind.as_str()
            ),
            ("H8joYFVGz", "datasource_elastic", "elasticsearch")
        );
        assert_eq!(list[0].json_data["timeField"], "@timestamp");
        let one = decode_datasource(data!("datasource-by-uid.json")).unwrap();
        assert_eq!((one.id, one.kind.as_str()), (1, "graphite"));
        assert!(!one.is_default);
        assert_eq!(one.url, "http://mydatasource.com");
    }

    #[test]
    fn not_found_bodies_give_grafanas_message() {
        assert_eq!(
            error_message(data!("datasource-not-found.json")),
            "Data source not found"
        );
        assert_eq!(
            error_message(data!("dashboard-not-found.json")),
            "Dashboard not found"
        );
        assert_eq!(error_message("<html>502</html>"), "<html>502</html>");
        // A 404 body is not a datasource.
        assert!(decode_datasource(data!("datasource-not-found.json")).is_err());
    }

    #[test]
    fn datasource_health_ok_and_error() {
        let ok = decode_datasource_health(data!("datasource-health-ok.json")).unwrap();
        assert_eq!(ok.status, HealthStatus::Ok);
        assert!(ok.message.starts_with("1. Successfully queried"));
        let err = decode_datasource_health(data!("datasource-health-error.json")).unwrap();
        assert_eq!(err.status, HealthStatus::Error);
        assert!(err.message.contains("no such host"), "{}", err.message);
        assert_eq!(
            decode_datasource_health(r#"{"status":"UNKNOWN","message":""}"#)
                .unwrap()
                .status,
            HealthStatus::Other("UNKNOWN".into())
        );
    }

    #[test]
    fn ds_query_counts_rows_and_values_per_ref_id() {
        let r = decode_ds_query(data!("ds-query-testdata.json")).unwrap();
        assert_eq!(
            r["A"],
            RefIdResult {
                frames: 1,
                rows: 6,
                values: 12,
                error: None,
                status: None,
            }
        );
    }

    #[test]
    fn ds_query_error_frame_is_kept_per_ref_id() {
        let r = decode_ds_query(data!("ds-query-error.json")).unwrap();
        let a = &r["A"];
        assert_eq!((a.frames, a.rows, a.status), (0, 0, Some(400)));
        assert_eq!(
            a.error.as_deref(),
            Some(
                "parse error at line 1, col 12: syntax error: unexpected IDENTIFIER, expecting STRING"
            )
        );
        // Schema-only frames (no data) count as frames without rows.
        let r = decode_ds_query(
            r#"{"results":{"B":{"status":200,"frames":[{"schema":{"refId":"B","fields":[]}}]}}}"#,
        )
        .unwrap();
        assert_eq!(
            (r["B"].frames, r["B"].rows, r["B"].error.clone()),
            (1, 0, None)
        );
        assert!(decode_ds_query(data!("datasource-not-found.json")).is_err());
    }

    #[test]
    fn dashboard_by_uid_feeds_the_dashboard_parser() {
        let a = decode_dashboard(data!("dashboard-by-uid.json")).unwrap();
        assert_eq!(a.url.as_deref(), Some("/d/cIBgcSjkk/production-overview"));
        assert!(!a.provisioned);
        let d = crate::core::dashboard::parse(&a.dashboard.to_string(), &[]).unwrap();
        assert_eq!(
            (d.uid.as_deref(), d.title.as_str(), d.schema_version),
            (Some("cIBgcSjkk"), "Production Overview", Some(16))
        );
        assert!(decode_dashboard(data!("dashboard-not-found.json")).is_err());
    }

    #[test]
    fn search_hits() {
        let hits = decode_search(data!("search.json")).unwrap();
        let summary: Vec<_> = hits
            .iter()
            .map(|h| (h.uid.as_str(), h.kind.as_str()))
            .collect();
        assert_eq!(
            summary,
            [("000000163", "dash-folder"), ("cIBgcSjkk", "dash-db")]
        );
        assert_eq!(hits[1].tags, ["prod"]);
    }

    #[test]
    fn ds_query_body_per_language() {
        let body = ds_query_body(
            &[
                DsQuery::new("A", "mimir", TargetQuery::PromQl("up".into())),
                DsQuery::new("B", "loki", TargetQuery::LogQl("{service=\"x\"}".into())),
                DsQuery::new(
                    "C",
                    "tempo",
                    TargetQuery::TraceQl("{ status = error }".into()),
                ),
            ],
            "now-5m",
            "now",
        );
        assert_eq!(body["from"], "now-5m");
        let q = body["queries"].as_array().unwrap();
        assert_eq!(
            q[0]["datasource"],
            json!({"uid": "mimir", "type": "prometheus"})
        );
        assert_eq!(q[0]["expr"], "up");
        assert_eq!(q[1]["expr"], "{service=\"x\"}");
        assert_eq!(q[2]["queryType"], "traceql");
        assert_eq!(q[2]["query"], "{ status = error }");
        assert_eq!(q[2]["refId"], "C");
    }

    #[test]
    fn secrets_never_show() {
        let http = reqwest::Client::new();
        let c = GrafanaClient::new(
            http.clone(),
            "http://admin:s3cret@grafana:3000/",
            Auth::None,
        );
        assert_eq!(c.base(), "http://grafana:3000");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("admin"), "{shown}");
        let t = GrafanaClient::new(http, "http://g:3000", Auth::Bearer("glsa_token".into()));
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("glsa_token") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn uids_are_one_path_segment() {
        assert_eq!(path_segment("lgtm-rust"), "lgtm-rust");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }
}
