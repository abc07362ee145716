//! Client of Loki's HTTP API: LogQL queries (instant and range), labels, label
//! values, series, readiness, build info and the running configuration.
//!
//! Main type: [`LokiClient`]; answers are read by pure `decode_*` functions tested
//! against answers recorded from Loki 3.2.0 (`harness/tests/data/loki/`).

use serde::Deserialize;

use super::prometheus::{matrix_points, vector_samples};
use super::{ClientError, Endpoint};
use crate::core::expect::{Labels, Sample};
use crate::core::observed::{LogEntry, Observed};

/// A Loki client.
#[derive(Debug, Clone)]
pub struct LokiClient {
    http: reqwest::Client,
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: T,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct StreamItem {
    stream: Labels,
    values: Vec<(String, String)>,
}

/// Decodes a `query` / `query_range` answer: streams become log entries, vectors
/// samples, matrices their last sample per series.
pub fn decode_query(body: &str) -> Result<Observed, String> {
    let env: Envelope<QueryData> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Err(format!("status {}", env.status));
    }
    match env.data.result_type.as_str() {
        "streams" => {
            let items: Vec<StreamItem> =
                serde_json::from_value(env.data.result).map_err(|e| e.to_string())?;
            let mut entries = Vec::new();
            for item in items {
                for (ts, line) in item.values {
                    entries.push(LogEntry {
                        labels: item.stream.clone(),
                        timestamp_ns: ts.parse().map_err(|_| format!("bad timestamp {ts}"))?,
                        line,
                    });
                }
            }
            entries.sort_by_key(|e| e.timestamp_ns);
            Ok(Observed::Logs(entries))
        }
        // Loki answers metric queries in Prometheus' format.
        "vector" => vector_samples(env.data.result).map(Observed::Series),
        "matrix" => Ok(Observed::Series(
            matrix_points(env.data.result)?
                .into_iter()
                .filter_map(|(labels, points)| {
                    points.last().map(|&(_, value)| Sample { labels, value })
                })
                .collect(),
        )),
        other => Err(format!("result type `{other}` is not supported")),
    }
}

/// Loki's labels, label values and series answers have Prometheus' envelope.
pub use super::prometheus::{decode_series, decode_strings};

/// What a component says about its own build (`/…/status/buildinfo`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BuildInfo {
    pub version: String,
    #[serde(default)]
    pub revision: String,
    #[serde(default)]
    pub branch: String,
}

pub fn decode_buildinfo(body: &str) -> Result<BuildInfo, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

impl LokiClient {
    pub fn new(http: reqwest::Client, endpoint: Endpoint) -> Self {
        LokiClient { http, endpoint }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn call<T>(
        &self,
        path: &str,
        query: &str,
        params: &[(&str, &str)],
        decode: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        self.endpoint
            .get_decoded(&self.http, path, query, params, decode)
            .await
    }

    /// An instant query (metric queries), at `time_ns` or now.
    pub async fn query(&self, expr: &str, time_ns: Option<u128>) -> Result<Observed, ClientError> {
        let time = time_ns.map(|t| t.to_string());
        let mut params = vec![("query", expr)];
        if let Some(t) = &time {
            params.push(("time", t));
        }
        self.call("/loki/api/v1/query", expr, &params, decode_query)
            .await
    }

    /// A range query from `start_ns` to `end_ns` (log queries return every line up
    /// to `limit`, oldest first).
    pub async fn query_range(
        &self,
        expr: &str,
        start_ns: u128,
        end_ns: u128,
        limit: usize,
    ) -> Result<Observed, ClientError> {
        let (start, end, limit) = (start_ns.to_string(), end_ns.to_string(), limit.to_string());
        let params = [
            ("query", expr),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("limit", limit.as_str()),
            ("direction", "forward"),
        ];
        self.call("/loki/api/v1/query_range", expr, &params, decode_query)
            .await
    }

    pub async fn labels(&self) -> Result<Vec<String>, ClientError> {
        self.call("/loki/api/v1/labels", "", &[], decode_strings)
            .await
    }

    pub async fn label_values(&self, label: &str) -> Result<Vec<String>, ClientError> {
        let path = format!("/loki/api/v1/label/{label}/values");
        self.call(&path, label, &[], decode_strings).await
    }

    pub async fn series(&self, selector: &str) -> Result<Vec<Labels>, ClientError> {
        self.call(
            "/loki/api/v1/series",
            selector,
            &[("match[]", selector)],
            decode_series,
        )
        .await
    }

    pub async fn ready(&self) -> Result<bool, ClientError> {
        let (status, _) = self.endpoint.get(&self.http, "/ready", &[]).await?;
        Ok(status == 200)
    }

    pub async fn buildinfo(&self) -> Result<BuildInfo, ClientError> {
        self.call("/loki/api/v1/status/buildinfo", "", &[], decode_buildinfo)
            .await
    }

    /// The running configuration, as YAML text (`/config`).
    pub async fn config(&self) -> Result<String, ClientError> {
        self.call("/config", "", &[], |b| Ok(b.to_owned())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/loki/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn decodes_streams_into_entries_oldest_first() {
        let Observed::Logs(entries) = decode_query(&data("query_range_streams.json")).unwrap()
        else {
            panic!("expected log entries")
        };
        assert_eq!(entries.len(), 2);
        assert!(entries[0].timestamp_ns < entries[1].timestamp_ns);
        assert_eq!(entries[0].labels["level"], "error");
        // Loki 3 adds labels of its own
        assert_eq!(entries[0].labels["service_name"], "rust-app");
        assert!(
            entries[0]
                .line
                .contains("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"")
        );
    }

    #[test]
    fn decodes_vectors() {
        let Observed::Series(samples) = decode_query(&data("query_vector.json")).unwrap() else {
            panic!("expected samples")
        };
        assert_eq!(samples.len(), 2);
        assert!(samples.iter().all(|s| s.value == 1.0));
    }

    #[test]
    fn decodes_labels_series_and_buildinfo() {
        assert!(
            decode_strings(&data("labels.json"))
                .unwrap()
                .contains(&"run_id".to_string())
        );
        assert_eq!(
            decode_strings(&data("label_values.json")).unwrap(),
            vec!["rust-app"]
        );
        assert_eq!(decode_series(&data("series.json")).unwrap().len(), 2);
        assert_eq!(
            decode_buildinfo(&data("buildinfo.json")).unwrap().version,
            "3.2.0"
        );
    }

    #[test]
    fn a_rejected_query_keeps_loki_s_own_message() {
        let text = data("error_histogram_quantile.txt");
        let (body, status) = text.trim_end().rsplit_once('\n').unwrap();
        let e = Endpoint::new(crate::core::component::Component::Loki, "http://l:3100");
        let err = e.error(
            "/loki/api/v1/query_range",
            "histogram_quantile(…)",
            status.parse().unwrap(),
            body,
        );
        assert!(!err.is_transient());
        assert_eq!(
            err.to_string(),
            "loki at http://l:3100/loki/api/v1/query_range rejected `histogram_quantile(…)`: parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"
        );
    }
}
