//! Client of Loki's HTTP API: LogQL queries (instant and range), labels, label
//! values and series (build info and configuration are read through
//! [`crate::execute::Backends`] at the component's root; `decode_buildinfo` reads
//! the answer).
//!
//! Main type: [`LokiClient`]; answers are read by pure `decode_*` functions tested
//! against answers recorded from Loki 3.2.0 (`harness/tests/data/loki/`). Log
//! queries are read to their end page by page ([`Paging`]), past any per-query limit.

use serde::Deserialize;

use super::promapi::{matrix_points, vector_samples};
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

/// Reading a forward log query page by page: each page starts at the timestamp of the
/// last line of the one before (Loki's `start` is inclusive), and the lines of that
/// timestamp already taken are skipped when they come again, so that lines sharing a
/// nanosecond across a page edge are neither lost nor counted twice. Pure: the
/// client sends the pages ([`LokiClient::query_range_all`]).
#[derive(Debug, Clone)]
pub struct Paging {
    limit: usize,
    start_ns: u128,
    /// The lines (stream labels, text) at `start_ns` already taken.
    edge: Vec<(Labels, String)>,
    entries: Vec<LogEntry>,
}

impl Paging {
    /// Paging from `start_ns` with pages of `limit` lines.
    pub fn new(start_ns: u128, limit: usize) -> Self {
        Paging {
            limit: limit.max(1),
            start_ns,
            edge: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Where the next page starts.
    pub fn start_ns(&self) -> u128 {
        self.start_ns
    }

    /// Takes a page (its lines oldest first, as [`decode_query`] gives them) and says
    /// whether another page must be asked for.
    pub fn take(&mut self, page: Vec<LogEntry>) -> Result<bool, String> {
        let full = page.len() >= self.limit;
        let page_start = self.start_ns;
        let last_ts = page.last().map(|e| e.timestamp_ns);
        let mut edge = std::mem::take(&mut self.edge);
        for e in page {
            if e.timestamp_ns == page_start
                && let Some(i) = edge
                    .iter()
                    .position(|(l, line)| *l == e.labels && *line == e.line)
            {
                edge.swap_remove(i);
                continue;
            }
            self.entries.push(e);
        }
        let Some(last_ts) = last_ts.filter(|_| full) else {
            return Ok(false);
        };
        if last_ts == page_start {
            return Err(format!(
                "more than {} lines share the timestamp {last_ts} ns; a page cannot get past them",
                self.limit
            ));
        }
        self.start_ns = last_ts;
        self.edge = self
            .entries
            .iter()
            .rev()
            .take_while(|e| e.timestamp_ns == last_ts)
            .map(|e| (e.labels.clone(), e.line.clone()))
            .collect();
        Ok(true)
    }

    /// Every line taken, oldest first.
    pub fn into_entries(self) -> Vec<LogEntry> {
        self.entries
    }
}

/// Loki's labels, label values and series answers have Prometheus' envelope.
pub use super::promapi::{decode_series, decode_strings};

pub use super::promapi::BuildInfo;

/// Decodes `/loki/api/v1/status/buildinfo`.
pub fn decode_buildinfo(body: &str) -> Result<BuildInfo, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

impl LokiClient {
    /// A client for the Loki at `endpoint`.
    pub fn new(http: reqwest::Client, endpoint: Endpoint) -> Self {
        LokiClient { http, endpoint }
    }

    /// Where this client sends its requests.
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

    /// Every line of a log query from `start_ns` to `end_ns`, oldest first, read in
    /// pages of `page` lines (at most the server's `max_entries_limit_per_query`).
    pub async fn query_range_all(
        &self,
        expr: &str,
        start_ns: u128,
        end_ns: u128,
        page: usize,
    ) -> Result<Vec<LogEntry>, ClientError> {
        const PATH: &str = "/loki/api/v1/query_range";
        let mut paging = Paging::new(start_ns, page);
        loop {
            let lines = match self
                .query_range(expr, paging.start_ns(), end_ns, page)
                .await?
            {
                Observed::Logs(lines) => lines,
                other => {
                    return Err(self.endpoint.decode_error(
                        PATH,
                        expr,
                        format!("expected log lines, got {}", other.describe()),
                    ));
                }
            };
            let more = paging
                .take(lines)
                .map_err(|d| self.endpoint.decode_error(PATH, expr, d))?;
            if !more {
                return Ok(paging.into_entries());
            }
        }
    }

    /// Label names (`/loki/api/v1/labels`).
    pub async fn labels(&self) -> Result<Vec<String>, ClientError> {
        self.call("/loki/api/v1/labels", "", &[], decode_strings)
            .await
    }

    /// Values of `label` (`/loki/api/v1/label/{label}/values`).
    pub async fn label_values(&self, label: &str) -> Result<Vec<String>, ClientError> {
        let path = format!("/loki/api/v1/label/{label}/values");
        self.call(&path, label, &[], decode_strings).await
    }

    /// Label sets of the streams matching `selector` (`/loki/api/v1/series`).
    pub async fn series(&self, selector: &str) -> Result<Vec<Labels>, ClientError> {
        self.call(
            "/loki/api/v1/series",
            selector,
            &[("match[]", selector)],
            decode_series,
        )
        .await
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

    fn line(ts: u128, stream: &str, text: &str) -> LogEntry {
        LogEntry {
            labels: Labels::from([("stream".to_string(), stream.to_string())]),
            timestamp_ns: ts,
            line: text.into(),
        }
    }

    /// What Loki answers to a forward query from `start` with `limit` (its `start` is
    /// inclusive, lines oldest first; among lines of one timestamp, in stream order).
    fn loki_page(stored: &[LogEntry], start: u128, limit: usize) -> Vec<LogEntry> {
        let mut page: Vec<LogEntry> = stored
            .iter()
            .filter(|e| e.timestamp_ns >= start)
            .cloned()
            .collect();
        page.sort_by(|a, b| (a.timestamp_ns, &a.labels).cmp(&(b.timestamp_ns, &b.labels)));
        page.truncate(limit);
        page
    }

    fn read_all(stored: &[LogEntry], limit: usize) -> Result<Vec<LogEntry>, String> {
        let mut paging = Paging::new(0, limit);
        while paging.take(loki_page(stored, paging.start_ns(), limit))? {}
        Ok(paging.into_entries())
    }

    #[test]
    fn pages_past_the_limit_with_lines_of_one_nanosecond_across_the_edge() {
        // limit 3: each page ends inside the lines of one nanosecond, the next starts
        // at that nanosecond again and must skip the line it already has
        let stored = vec![
            line(10, "a", "one"),
            line(15, "a", "two"),
            line(20, "a", "three"),
            line(20, "b", "three"),
            line(30, "a", "four"),
            line(30, "a", "four again"),
            line(40, "b", "five"),
        ];
        let got = read_all(&stored, 3).unwrap();
        let mut want = stored.clone();
        want.sort_by(|a, b| (a.timestamp_ns, &a.labels).cmp(&(b.timestamp_ns, &b.labels)));
        assert_eq!(got.len(), 7, "{got:?}");
        let key = |e: &LogEntry| (e.timestamp_ns, e.labels.clone(), e.line.clone());
        let mut g: Vec<_> = got.iter().map(key).collect();
        let mut w: Vec<_> = want.iter().map(key).collect();
        g.sort();
        w.sort();
        assert_eq!(g, w);
        // one page of exactly `limit` lines, then an empty one
        assert_eq!(read_all(&stored[..3], 3).unwrap().len(), 3);
        assert!(read_all(&[], 3).unwrap().is_empty());
    }

    #[test]
    fn a_single_page_would_have_lost_lines() {
        // what the old single query with a limit returned: the first `limit` only
        let stored: Vec<LogEntry> = (0..10).map(|i| line(i, "a", "x")).collect();
        assert_eq!(loki_page(&stored, 0, 4).len(), 4);
        assert_eq!(read_all(&stored, 4).unwrap().len(), 10);
    }

    #[test]
    fn more_lines_of_one_nanosecond_than_a_page_is_an_error_not_a_loss() {
        let stored: Vec<LogEntry> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| line(5, s, "same"))
            .collect();
        let err = read_all(&stored, 3).unwrap_err();
        assert!(
            err.contains("more than 3 lines share the timestamp 5"),
            "{err}"
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
