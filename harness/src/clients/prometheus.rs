//! Client of the Prometheus HTTP API, as served by Prometheus, Mimir (under
//! `/prometheus`) and Cortex (also under `/prometheus`): instant and range queries,
//! series, labels, label values, metric metadata and exemplars; `decode_buildinfo`
//! and `decode_config` read the status endpoints' answers.
//!
//! Main type: [`PromClient`]; answers are read by pure `decode_*` functions tested
//! against answers recorded from Prometheus 2.42 and Cortex 1.21.1
//! (`harness/tests/data/prometheus/`, `harness/tests/data/cortex/`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

pub use super::promapi::{
    BuildInfo, Matrix, decode_series, decode_strings, matrix_points, vector_samples,
};
use super::promapi::{Data, Envelope, decode_data, parse_value};
use super::{ClientError, Endpoint};
use crate::core::component::Component;
use crate::core::expect::{Labels, Sample};
use crate::core::shape::MetricTypes;

/// A Prometheus-API client for one component.
#[derive(Debug, Clone)]
pub struct PromClient {
    http: reqwest::Client,
    endpoint: Endpoint,
}

/// What an instant query answered, or the backend's own error message.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryAnswer {
    /// The series of a `vector` result, or one unlabelled sample for a `scalar`.
    Samples(Vec<Sample>),
    /// `status: error`, with `errorType` and `error` as the backend wrote them.
    Error {
        /// `bad_data` (the query is invalid), `execution`, `timeout`, `internal`, …;
        /// empty where the backend gave none.
        error_type: String,
        /// The backend's message (the whole body where it gave none).
        message: String,
    },
}

/// The backend's own account of a failure: the error envelope's `errorType`
/// (`bad_data`, `execution`, `timeout`, `internal`, …) and `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The `errorType`; empty where the backend gave none.
    pub error_type: String,
    /// The `error` message; the whole body where the backend gave none.
    pub message: String,
}

/// One series' exemplars (`/api/v1/query_exemplars`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SeriesExemplars {
    /// The labels of the series the exemplars belong to (for a histogram, one of
    /// its `_bucket` series, `le` included).
    #[serde(rename = "seriesLabels")]
    pub series_labels: Labels,
    /// Its exemplars in the queried range.
    pub exemplars: Vec<Exemplar>,
}

/// An exemplar: its own labels (`trace_id`, `span_id`, …), value and time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Exemplar {
    /// The exemplar's own labels, e.g. `trace_id` linking it to a trace.
    pub labels: Labels,
    /// The observed value it was recorded with, in the metric's unit.
    #[serde(deserialize_with = "de_value")]
    pub value: f64,
    /// Unix seconds.
    pub timestamp: f64,
}

fn de_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = String::deserialize(d)?;
    parse_value(&s).map_err(serde::de::Error::custom)
}

/// The backend's error, if `body` is an error envelope.
pub fn decode_api_error(body: &str) -> Option<ApiError> {
    let env: Envelope<serde_json::Value> = serde_json::from_str(body).ok()?;
    (env.status == "error").then(|| ApiError {
        error_type: env.error_type.unwrap_or_default(),
        message: env.error.unwrap_or_else(|| body.trim().to_owned()),
    })
}

/// Decodes the body of `/api/v1/query` (vector or scalar results, or an error).
///
/// ```
/// use lgtm_check::clients::prometheus::{decode_query_response, QueryAnswer};
///
/// let ok = r#"{"status":"success","data":{"resultType":"vector","result":[
///     {"metric":{"__name__":"up","job":"api"},"value":[1732540002.0,"1"]}]}}"#;
/// let QueryAnswer::Samples(s) = decode_query_response(ok).unwrap() else { unreachable!() };
/// assert_eq!((s[0].labels["job"].as_str(), s[0].value), ("api", 1.0));
///
/// let bad = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
/// assert_eq!(
///     decode_query_response(bad).unwrap(),
///     QueryAnswer::Error { error_type: "bad_data".into(), message: "parse error".into() }
/// );
/// ```
pub fn decode_query_response(body: &str) -> Result<QueryAnswer, String> {
    if let Some(e) = decode_api_error(body) {
        return Ok(QueryAnswer::Error {
            error_type: e.error_type,
            message: e.message,
        });
    }
    let data: Data = decode_data(body)?;
    match data.result_type.as_str() {
        "vector" => vector_samples(data.result).map(QueryAnswer::Samples),
        "scalar" => {
            let (_, v): (f64, String) =
                serde_json::from_value(data.result).map_err(|e| e.to_string())?;
            Ok(QueryAnswer::Samples(vec![Sample {
                labels: Labels::new(),
                value: parse_value(&v)?,
            }]))
        }
        other => Err(format!("result type `{other}` is not supported here")),
    }
}

/// Decodes the body of `/api/v1/query_range`: a matrix.
pub fn decode_matrix(body: &str) -> Result<Matrix, String> {
    let data: Data = decode_data(body)?;
    if data.result_type != "matrix" {
        return Err(format!(
            "result type `{}` where a matrix was expected",
            data.result_type
        ));
    }
    matrix_points(data.result)
}

/// Decodes `/api/v1/query_exemplars` (empty when no series has exemplars).
pub fn decode_exemplars(body: &str) -> Result<Vec<SeriesExemplars>, String> {
    decode_data(body)
}

/// Decodes `/api/v1/status/buildinfo` (unlike Loki's, wrapped in the envelope).
pub fn decode_buildinfo(body: &str) -> Result<BuildInfo, String> {
    decode_data(body)
}

/// Decodes `/api/v1/status/config`: the running configuration as YAML text.
pub fn decode_config(body: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Config {
        yaml: String,
    }
    decode_data::<Config>(body).map(|c| c.yaml)
}

/// Decodes `/api/v1/metadata` into metric family → type (the first entry's type
/// where a family has several). Cortex 1.18 leaves `data` out when it holds no
/// metadata (`{"status":"success"}`): no family has a stated type.
pub fn decode_metadata(body: &str) -> Result<MetricTypes, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "type")]
        metric_type: String,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        data: BTreeMap<String, Vec<Entry>>,
    }
    let a: Answer = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(a.data
        .into_iter()
        .filter_map(|(name, entries)| Some((name, entries.into_iter().next()?.metric_type)))
        .collect())
}

/// Seconds as the API takes them (millisecond precision).
fn seconds(s: f64) -> String {
    format!("{s:.3}")
}

impl PromClient {
    /// A client without tenant or credentials (the harness' own containers).
    pub fn new(http: reqwest::Client, component: Component, base: impl Into<String>) -> Self {
        Self::with_endpoint(http, Endpoint::new(component, base))
    }

    /// A client for `endpoint`: its base URL (with any `/prometheus` prefix), tenant
    /// (`X-Scope-OrgID`) and credentials.
    pub fn with_endpoint(http: reqwest::Client, endpoint: Endpoint) -> Self {
        PromClient { http, endpoint }
    }

    /// Where this client sends its requests.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Base URL including any prefix, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.endpoint.base
    }

    /// The typed error for an answer that is not a success: the backend's own
    /// message when it sent an error envelope; `bad_data` or HTTP 400 means the
    /// query (or a parameter) was rejected, anything else (`execution` on 422,
    /// `timeout` on 503, …) is an HTTP error.
    fn failure(&self, path: &str, query: &str, status: u16, body: &str) -> Option<ClientError> {
        match decode_api_error(body) {
            Some(e) if status == 400 || e.error_type == "bad_data" => {
                Some(ClientError::InvalidQuery {
                    component: self.endpoint.component,
                    url: format!("{}{path}", self.endpoint.base),
                    query: query.into(),
                    message: e.message,
                })
            }
            Some(e) => Some(ClientError::Status {
                component: self.endpoint.component,
                url: format!("{}{path}", self.endpoint.base),
                query: query.into(),
                status,
                message: e.message,
            }),
            None if status != 200 => Some(self.endpoint.error(path, query, status, body)),
            None => None,
        }
    }

    fn finish<T>(
        &self,
        path: &str,
        query: &str,
        (status, body): (u16, String),
        decode: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        if let Some(e) = self.failure(path, query, status, &body) {
            return Err(e);
        }
        decode(&body).map_err(|d| self.endpoint.decode_error(path, query, d))
    }

    async fn get<T>(
        &self,
        path: &str,
        query: &str,
        params: &[(&str, &str)],
        decode: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        let answer = self.endpoint.get(&self.http, path, params).await?;
        self.finish(path, query, answer, decode)
    }

    /// Runs an instant query, at `time` (RFC 3339 or Unix seconds) or now. Sent as
    /// a form, so that long expressions do not meet URL length limits.
    pub async fn query(&self, expr: &str, time: Option<&str>) -> Result<Vec<Sample>, ClientError> {
        const PATH: &str = "/api/v1/query";
        let mut form = vec![("query", expr)];
        if let Some(t) = time {
            form.push(("time", t));
        }
        let answer = self.endpoint.post_form(&self.http, PATH, &form).await?;
        self.finish(PATH, expr, answer, |body| {
            match decode_query_response(body)? {
                QueryAnswer::Samples(s) => Ok(s),
                QueryAnswer::Error { message, .. } => Err(message),
            }
        })
    }

    /// Runs an instant query whose answer is a range vector (`selector[range]`) at
    /// `time` (Unix seconds): the raw samples, with their timestamps.
    pub async fn query_raw_samples(&self, expr: &str, time: &str) -> Result<Matrix, ClientError> {
        const PATH: &str = "/api/v1/query";
        let form = [("query", expr), ("time", time)];
        let answer = self.endpoint.post_form(&self.http, PATH, &form).await?;
        self.finish(PATH, expr, answer, decode_matrix)
    }

    /// Runs a range query from `start` to `end` (Unix seconds) every `step`, sent as
    /// a form like [`Self::query`].
    pub async fn query_range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> Result<Matrix, ClientError> {
        const PATH: &str = "/api/v1/query_range";
        let (start, end, step) = (seconds(start), seconds(end), seconds(step.as_secs_f64()));
        let form = [
            ("query", expr),
            ("start", &start),
            ("end", &end),
            ("step", &step),
        ];
        let answer = self.endpoint.post_form(&self.http, PATH, &form).await?;
        self.finish(PATH, expr, answer, decode_matrix)
    }

    /// The label sets of the series that match any of `matchers` (`match[]`).
    pub async fn series(&self, matchers: &[&str]) -> Result<Vec<Labels>, ClientError> {
        let params: Vec<_> = matchers.iter().map(|m| ("match[]", *m)).collect();
        self.get(
            "/api/v1/series",
            &matchers.join(", "),
            &params,
            decode_series,
        )
        .await
    }

    /// The label sets of the series that match any of `matchers` and have samples
    /// between `start` and `end` (Unix seconds).
    pub async fn series_between(
        &self,
        matchers: &[&str],
        start: f64,
        end: f64,
    ) -> Result<Vec<Labels>, ClientError> {
        let (start, end) = (seconds(start), seconds(end));
        let mut params: Vec<_> = matchers.iter().map(|m| ("match[]", *m)).collect();
        params.extend([("start", start.as_str()), ("end", end.as_str())]);
        self.get(
            "/api/v1/series",
            &matchers.join(", "),
            &params,
            decode_series,
        )
        .await
    }

    /// Every metric family's type as the server's metadata states it
    /// (`/api/v1/metadata`; Prometheus from its scrapes, Mimir and Cortex from
    /// remote-write metadata).
    pub async fn metadata(&self) -> Result<MetricTypes, ClientError> {
        self.get("/api/v1/metadata", "", &[], decode_metadata).await
    }

    /// Every label name.
    pub async fn labels(&self) -> Result<Vec<String>, ClientError> {
        self.get("/api/v1/labels", "", &[], decode_strings).await
    }

    /// Every value of the label `name`.
    pub async fn label_values(&self, name: &str) -> Result<Vec<String>, ClientError> {
        let path = format!("/api/v1/label/{name}/values");
        self.get(&path, name, &[], decode_strings).await
    }

    /// The exemplars of the series selected by `expr` from `start` to `end` (Unix
    /// seconds). Prometheus keeps exemplars only with `--enable-feature=exemplar-storage`,
    /// Cortex and Mimir only with `max_exemplars` above 0; otherwise this is empty.
    pub async fn exemplars(
        &self,
        expr: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<SeriesExemplars>, ClientError> {
        let (start, end) = (seconds(start), seconds(end));
        let params = [("query", expr), ("start", &start), ("end", &end)];
        self.get("/api/v1/query_exemplars", expr, &params, decode_exemplars)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cortex v1.18.1's `/prometheus/api/v1/metadata` while it holds no metadata
    /// (seen by `lgtm-check app` with the Mimir role filled by Cortex).
    #[test]
    fn metadata_without_data_is_no_stated_type() {
        assert_eq!(
            decode_metadata(r#"{"status":"success"}"#).unwrap(),
            MetricTypes::new()
        );
        assert!(decode_metadata("{}{").is_err());
    }

    fn data(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    }

    fn prom(name: &str) -> String {
        data(&format!("prometheus/{name}"))
    }

    /// A recorded `.txt` answer: the body and the status on its last line.
    fn recorded_error(name: &str) -> (String, u16) {
        let text = data(name);
        let (body, status) = text.trim_end().rsplit_once('\n').unwrap();
        (body.to_owned(), status.parse().unwrap())
    }

    fn client(component: Component, base: &str) -> PromClient {
        PromClient::new(reqwest::Client::new(), component, base)
    }

    fn samples(body: &str) -> Vec<Sample> {
        match decode_query_response(body).unwrap() {
            QueryAnswer::Samples(s) => s,
            e => panic!("expected samples, got {e:?}"),
        }
    }

    #[test]
    fn decodes_a_vector() {
        let s = samples(&prom("query_vector.json"));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].labels["__name__"], "up");
        assert_eq!(s[0].labels["job"], "rust-app");
        assert_eq!(s[1].labels["job"], "prometheus");
        assert!(s.iter().all(|s| s.value == 1.0));
    }

    #[test]
    fn decodes_a_scalar_as_one_unlabelled_sample() {
        let s = samples(&prom("query_scalar.json"));
        assert_eq!(
            s,
            vec![Sample {
                labels: Labels::new(),
                value: 2.0
            }]
        );
    }

    #[test]
    fn decodes_infinities_and_nan() {
        let s = samples(&prom("query_special_values.json"));
        let by = |v: &str| s.iter().find(|s| s.labels["v"] == v).unwrap().value;
        assert_eq!(by("inf"), f64::INFINITY);
        assert_eq!(by("-inf"), f64::NEG_INFINITY);
        assert!(by("nan").is_nan());
    }

    #[test]
    fn decodes_a_matrix_with_its_points() {
        let m = decode_matrix(&prom("query_range_matrix.json")).unwrap();
        assert_eq!(m.len(), 2);
        let (labels, points) = &m[1];
        assert_eq!(labels["job"], "prometheus");
        assert_eq!(
            points,
            &vec![
                (1795614578.0, 1.0),
                (1795614583.0, 1.0),
                (1795614588.0, 1.0)
            ]
        );
    }

    #[test]
    fn a_matrix_decoder_refuses_a_vector() {
        let e = decode_matrix(&prom("query_vector.json")).unwrap_err();
        assert!(e.contains("`vector`"), "{e}");
    }

    #[test]
    fn decodes_series_labels_and_label_values() {
        let series = decode_series(&prom("series.json")).unwrap();
        assert_eq!(series.len(), 2);
        assert!(series.iter().all(|l| l["__name__"] == "up"));
        let labels = decode_strings(&prom("labels.json")).unwrap();
        assert!(labels.contains(&"job".to_owned()));
        assert!(labels.contains(&"__name__".to_owned()));
        assert_eq!(
            decode_strings(&prom("label_values.json")).unwrap(),
            vec!["prometheus", "rust-app"]
        );
    }

    #[test]
    fn decodes_exemplars_with_their_trace_ids() {
        let e = decode_exemplars(&prom("exemplars.json")).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].series_labels["__name__"],
            "http_request_duration_seconds_bucket"
        );
        assert_eq!(e[0].series_labels["le"], "0.1");
        assert_eq!(e[0].exemplars.len(), 2);
        let first = &e[0].exemplars[0];
        assert_eq!(first.labels["trace_id"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(first.value, 0.042);
        assert_eq!(first.timestamp, 1795614586.041);
        assert!(
            decode_exemplars(&prom("exemplars_empty.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn decodes_buildinfo_inside_the_envelope() {
        assert_eq!(
            decode_buildinfo(&prom("buildinfo.json")).unwrap(),
            BuildInfo {
                version: "2.42.0+ds".into(),
                revision: "2.42.0+ds-5+deb12u1".into(),
                branch: "debian/sid".into(),
            }
        );
    }

    #[test]
    fn decodes_the_configuration_as_yaml_text() {
        let yaml = decode_config(&prom("status_config.json")).unwrap();
        assert!(yaml.starts_with("global:\n  scrape_interval: 1s\n"));
        assert!(yaml.contains("- job_name: rust-app\n"));
    }

    #[test]
    fn success_decoders_refuse_an_error_envelope() {
        let (body, _) = recorded_error("prometheus/error_parse.txt");
        assert!(decode_series(&body).unwrap_err().contains("status `error`"));
        assert!(decode_api_error(&prom("series.json")).is_none());
        assert!(decode_api_error("not json").is_none());
    }

    #[test]
    fn a_parse_error_is_an_invalid_query_with_prometheus_own_message() {
        let (body, status) = recorded_error("prometheus/error_parse.txt");
        assert_eq!(status, 400);
        assert_eq!(
            decode_query_response(&body).unwrap(),
            QueryAnswer::Error {
                error_type: "bad_data".into(),
                message:
                    "invalid parameter \"query\": 1:11: parse error: unclosed left parenthesis"
                        .into()
            }
        );
        let c = client(Component::Prometheus, "http://p:9090/");
        let err = c
            .failure("/api/v1/query", "rate(x[5m]", status, &body)
            .unwrap();
        assert!(!err.is_transient());
        assert_eq!(
            err.to_string(),
            "prometheus at http://p:9090/api/v1/query rejected `rate(x[5m]`: invalid parameter \"query\": 1:11: parse error: unclosed left parenthesis"
        );
    }

    #[test]
    fn a_bad_parameter_is_an_invalid_query() {
        let (body, status) = recorded_error("prometheus/error_range_end_before_start.txt");
        let err = client(Component::Prometheus, "http://p:9090")
            .failure("/api/v1/query_range", "up", status, &body)
            .unwrap();
        assert!(
            matches!(&err, ClientError::InvalidQuery { message, .. }
                if message == "invalid parameter \"end\": end timestamp must not be before start time"),
            "{err:?}"
        );
    }

    #[test]
    fn an_execution_error_is_a_status_error() {
        let (body, status) = recorded_error("prometheus/error_execution.txt");
        assert_eq!(status, 422);
        let err = client(Component::Prometheus, "http://p:9090")
            .failure("/api/v1/query", "up * on() up", status, &body)
            .unwrap();
        match &err {
            ClientError::Status {
                status, message, ..
            } => {
                assert_eq!(*status, 422);
                assert!(message.starts_with("found duplicate series for the match group {}"));
                assert!(message.ends_with("matching labels must be unique on one side"));
            }
            other => panic!("expected a status error, got {other:?}"),
        }
        assert!(!err.is_transient());
    }

    #[test]
    fn a_body_that_is_not_an_envelope_falls_back_to_the_status() {
        let c = client(Component::Mimir, "http://m:9009/prometheus");
        let err = c
            .failure("/api/v1/query", "up", 502, "Bad Gateway\n")
            .unwrap();
        assert!(err.is_transient());
        assert!(matches!(err, ClientError::Status { status: 502, .. }));
        assert!(
            c.failure("/api/v1/query", "up", 200, &prom("query_vector.json"))
                .is_none()
        );
    }

    #[test]
    fn cortex_answers_like_prometheus() {
        let s = samples(&data("cortex/query_vector.json"));
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|s| s.labels["__name__"] == "up"));
        let b = decode_buildinfo(&data("cortex/buildinfo.json")).unwrap();
        assert_eq!(b.version, "1.21.1");
        let e = decode_exemplars(&data("cortex/exemplars.json")).unwrap();
        assert!(!e.is_empty());
        assert!(
            e.iter()
                .flat_map(|s| &s.exemplars)
                .all(|x| x.labels["trace_id"] == "0af7651916cd43dd8448eb211c80319c")
        );
        let c = client(Component::Mimir, "http://c:9009/prometheus");
        let (body, status) = recorded_error("cortex/error_parse.txt");
        let err = c
            .failure("/api/v1/query", "rate(x[5m]", status, &body)
            .unwrap();
        assert!(
            matches!(&err, ClientError::InvalidQuery { message, .. } if message.contains("unclosed left parenthesis")),
            "{err:?}"
        );
        let (body, status) = recorded_error("cortex/error_execution.txt");
        let err = c
            .failure("/api/v1/query", "up * on() up", status, &body)
            .unwrap();
        assert!(
            matches!(&err, ClientError::Status { status: 422, message, .. } if message.contains("many-to-many matching not allowed")),
            "{err:?}"
        );
    }

    #[test]
    fn cortex_has_no_status_config() {
        let (body, status) = recorded_error("cortex/status_config_not_found.txt");
        let err = client(Component::Mimir, "http://c:9009/prometheus")
            .failure("/api/v1/status/config", "", status, &body)
            .unwrap();
        assert_eq!(
            err.to_string(),
            "mimir at http://c:9009/prometheus/api/v1/status/config answered HTTP 404 to ``: 404 page not found"
        );
    }

    #[test]
    fn keeps_the_endpoint_s_tenant_and_base() {
        let mut e = Endpoint::new(Component::Mimir, "http://m:9009/prometheus/");
        e.tenant = Some("team-a".into());
        let c = PromClient::with_endpoint(reqwest::Client::new(), e);
        assert_eq!(c.base(), "http://m:9009/prometheus");
        assert_eq!(c.endpoint().tenant.as_deref(), Some("team-a"));
    }
}
