//! Client of Tempo's HTTP API: trace by id, TraceQL search, tag names and values,
//! TraceQL metrics (build info and configuration are read through
//! [`crate::execute::Backends`] at the component's root).
//!
//! Main type: [`TempoClient`]; answers are read by pure `decode_*` functions tested
//! against answers recorded from Tempo 2.6.0 (`harness/tests/data/tempo/`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{ClientError, Endpoint};
use crate::core::expect::{Labels, Sample};
use crate::core::observed::{FoundTrace, ObservedSpan};
use crate::core::shape::ResourceSpans;

/// A Tempo client.
#[derive(Debug, Clone)]
pub struct TempoClient {
    http: reqwest::Client,
    endpoint: Endpoint,
}

/// Hex of an id that OTLP/JSON writes as base64 (Tempo's `/api/traces`), or as hex.
pub fn id_to_hex(id: &str) -> String {
    if !id.is_empty()
        && id.chars().all(|c| c.is_ascii_hexdigit())
        && (id.len() == 32 || id.len() == 16)
    {
        return id.to_ascii_lowercase();
    }
    match base64_decode(id) {
        Some(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        None => id.to_owned(),
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    if let Some(s) = obj.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = obj.get("intValue") {
        // OTLP/JSON writes 64-bit ints as strings
        return i
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .map(Value::from)
            .unwrap_or_else(|| i.clone());
    }
    if let Some(d) = obj.get("doubleValue") {
        return d.clone();
    }
    if let Some(b) = obj.get("boolValue") {
        return b.clone();
    }
    v.clone()
}

fn attributes(v: Option<&Value>) -> BTreeMap<String, Value> {
    v.and_then(Value::as_array)
        .map(|attrs| {
            attrs
                .iter()
                .filter_map(|a| {
                    Some((
                        a.get("key")?.as_str()?.to_owned(),
                        any_value(a.get("value")?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn kind_name(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim_start_matches("SPAN_KIND_").to_ascii_lowercase(),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => "internal".into(),
            Some(2) => "server".into(),
            Some(3) => "client".into(),
            Some(4) => "producer".into(),
            Some(5) => "consumer".into(),
            _ => "unspecified".into(),
        },
        _ => "unspecified".into(),
    }
}

fn status_name(v: Option<&Value>) -> String {
    match v.and_then(|s| s.get("code")) {
        Some(Value::String(s)) => s.trim_start_matches("STATUS_CODE_").to_ascii_lowercase(),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => "ok".into(),
            Some(2) => "error".into(),
            _ => "unset".into(),
        },
        _ => "unset".into(),
    }
}

/// Decodes `/api/traces/<id>` (OTLP/JSON `batches`, or `/api/v2/traces` `trace.resourceSpans`).
pub fn decode_trace(body: &str) -> Result<Vec<ObservedSpan>, String> {
    Ok(decode_trace_batches(body)?
        .into_iter()
        .flat_map(|b| b.spans)
        .collect())
}

/// Decodes `/api/traces/<id>` by batch: each resource's attributes with its spans.
pub fn decode_trace_batches(body: &str) -> Result<Vec<ResourceSpans>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let batches = v
        .get("batches")
        .or_else(|| v.get("trace").and_then(|t| t.get("resourceSpans")))
        .or_else(|| v.get("resourceSpans"))
        .and_then(Value::as_array)
        .ok_or("no batches in the answer")?;
    let mut out = Vec::new();
    for batch in batches {
        let mut spans = Vec::new();
        let resource = attributes(batch.get("resource").and_then(|r| r.get("attributes")));
        let service = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let scopes = batch
            .get("scopeSpans")
            .or_else(|| batch.get("instrumentationLibrarySpans"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for scope in scopes {
            for s in scope
                .get("spans")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                let id = |k: &str| {
                    s.get(k)
                        .and_then(Value::as_str)
                        .filter(|x| !x.is_empty())
                        .map(id_to_hex)
                };
                spans.push(ObservedSpan {
                    trace_id: id("traceId").unwrap_or_default(),
                    span_id: id("spanId").unwrap_or_default(),
                    parent_span_id: id("parentSpanId"),
                    name: s
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    service: service.clone(),
                    kind: kind_name(s.get("kind")),
                    status: status_name(s.get("status")),
                    attributes: attributes(s.get("attributes")),
                });
            }
        }
        out.push(ResourceSpans { resource, spans });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    traces: Vec<SearchTrace>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
    root_service_name: Option<String>,
    root_trace_name: Option<String>,
    duration_ms: Option<u64>,
}

/// Decodes `/api/search`.
pub fn decode_search(body: &str) -> Result<Vec<FoundTrace>, String> {
    let a: SearchAnswer = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(a.traces
        .into_iter()
        .map(|t| FoundTrace {
            // Tempo drops leading zeros of trace ids in search results
            trace_id: format!("{:0>32}", t.trace_id.to_ascii_lowercase()),
            root_service: t.root_service_name,
            root_name: t.root_trace_name,
            duration_ms: t.duration_ms,
        })
        .collect())
}

/// Decodes `/api/metrics/query_range`: each series' labels and its last value.
pub fn decode_metrics(body: &str) -> Result<Vec<Sample>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let series = v
        .get("series")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(series
        .iter()
        .map(|s| {
            let labels: Labels = s
                .get("labels")
                .and_then(Value::as_array)
                .map(|ls| {
                    ls.iter()
                        .filter_map(|l| {
                            let v = any_value(l.get("value")?);
                            let v = v
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string());
                            Some((l.get("key")?.as_str()?.to_owned(), v))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let total: f64 = s
                .get("samples")
                .and_then(Value::as_array)
                .map(|xs| {
                    xs.iter()
                        .filter_map(|x| x.get("value").and_then(Value::as_f64))
                        .sum()
                })
                .unwrap_or(0.0);
            Sample {
                labels,
                value: total,
            }
        })
        .collect())
}

/// Decodes `/api/v2/search/tags` into every tag name, scoped (`span.db.system`).
pub fn decode_tags_v2(body: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for scope in v
        .get("scopes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = scope
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for t in scope
            .get("tags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if let Some(t) = t.as_str() {
                out.push(if name == "intrinsic" {
                    t.to_owned()
                } else {
                    format!("{name}.{t}")
                });
            }
        }
    }
    Ok(out)
}

/// Decodes `/api/v2/search/tag/<tag>/values`.
pub fn decode_tag_values_v2(body: &str) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(v.get("tagValues")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter_map(|x| x.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

impl TempoClient {
    /// A client for the Tempo at `endpoint`.
    pub fn new(http: reqwest::Client, endpoint: Endpoint) -> Self {
        TempoClient { http, endpoint }
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

    /// The spans of a trace, or `None` if Tempo does not know it (404).
    pub async fn trace(&self, trace_id: &str) -> Result<Option<Vec<ObservedSpan>>, ClientError> {
        let batches = self.trace_batches(trace_id).await?;
        Ok(batches.map(|bs| bs.into_iter().flat_map(|b| b.spans).collect()))
    }

    /// The batches of a trace (each resource's attributes with its spans), or `None`
    /// if Tempo does not know it (404).
    pub async fn trace_batches(
        &self,
        trace_id: &str,
    ) -> Result<Option<Vec<ResourceSpans>>, ClientError> {
        let path = format!("/api/traces/{trace_id}");
        let (status, body) = self.endpoint.get(&self.http, &path, &[]).await?;
        match status {
            404 => Ok(None),
            200 => decode_trace_batches(&body)
                .map(Some)
                .map_err(|d| self.endpoint.decode_error(&path, trace_id, d)),
            _ => Err(self.endpoint.error(&path, trace_id, status, &body)),
        }
    }

    /// A TraceQL search between `start` and `end` (Unix seconds).
    pub async fn search(
        &self,
        traceql: &str,
        start: u64,
        end: u64,
        limit: usize,
    ) -> Result<Vec<FoundTrace>, ClientError> {
        let (start, end, limit) = (start.to_string(), end.to_string(), limit.to_string());
        let params = [
            ("q", traceql),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("limit", limit.as_str()),
            ("spss", "100"),
        ];
        self.call("/api/search", traceql, &params, decode_search)
            .await
    }

    /// A TraceQL metrics query; each series with the sum of its samples.
    pub async fn metrics_query_range(
        &self,
        traceql: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<Sample>, ClientError> {
        let (start, end) = (start.to_string(), end.to_string());
        let params = [
            ("q", traceql),
            ("start", start.as_str()),
            ("end", end.as_str()),
        ];
        let path = "/api/metrics/query_range";
        let (status, body) = self.endpoint.get(&self.http, path, &params).await?;
        // Tempo 2.6 answers a TraceQL parse error in a metrics query with HTTP 500.
        if status != 200 && body.contains("parse error") {
            return Err(ClientError::InvalidQuery {
                component: self.endpoint.component,
                url: format!("{}{path}", self.endpoint.base),
                query: traceql.into(),
                message: body.trim().to_owned(),
            });
        }
        if status != 200 {
            return Err(self.endpoint.error(path, traceql, status, &body));
        }
        decode_metrics(&body).map_err(|d| self.endpoint.decode_error(path, traceql, d))
    }

    /// Tag names (`/api/v2/search/tags`).
    pub async fn tags(&self) -> Result<Vec<String>, ClientError> {
        self.call("/api/v2/search/tags", "", &[], decode_tags_v2)
            .await
    }

    /// Values of `tag` (`/api/v2/search/tag/{tag}/values`).
    pub async fn tag_values(&self, tag: &str) -> Result<Vec<String>, ClientError> {
        let path = format!("/api/v2/search/tag/{tag}/values");
        self.call(&path, tag, &[], decode_tag_values_v2).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::loki::decode_buildinfo;

    fn data(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/tempo/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn decodes_a_trace_with_base64_ids_into_hex() {
        for file in ["trace_by_id.json", "trace_by_id_v2.json"] {
            let spans = decode_trace(&data(file)).unwrap();
            assert_eq!(spans.len(), 2, "{file}");
            let root = spans.iter().find(|s| s.parent_span_id.is_none()).unwrap();
            assert_eq!(root.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(root.span_id, "00f067aa0ba902b7");
            assert_eq!(
                (root.kind.as_str(), root.status.as_str()),
                ("server", "error")
            );
            assert_eq!(root.service, "rust-app");
            assert_eq!(
                root.attributes["http.response.status_code"],
                serde_json::json!(500)
            );
            let child = spans.iter().find(|s| s.parent_span_id.is_some()).unwrap();
            assert_eq!(child.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
            assert_eq!(child.attributes["db.system"], "postgresql");
            assert_eq!(child.kind, "client");
        }
    }

    #[test]
    fn decodes_search_results() {
        let found = decode_search(&data("search.json")).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(found[0].root_service.as_deref(), Some("rust-app"));
        assert_eq!(found[0].duration_ms, Some(600));
        assert!(
            decode_search(&data("search_empty.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn decodes_tags_values_buildinfo_and_an_empty_metrics_answer() {
        let tags = decode_tags_v2(&data("tags_v2.json")).unwrap();
        assert!(tags.contains(&"span.db.system".to_string()), "{tags:?}");
        assert!(tags.contains(&"resource.service.name".to_string()));
        assert_eq!(
            decode_tag_values_v2(&data("tag_values_v2.json")).unwrap(),
            vec!["rust-app"]
        );
        assert_eq!(
            decode_buildinfo(&data("buildinfo.json")).unwrap().version,
            "2.6.0"
        );
        let text = data("metrics_no_local_blocks.txt");
        let body = text.trim_end().rsplit_once('\n').unwrap().0;
        assert!(decode_metrics(body).unwrap().is_empty());
    }

    #[test]
    fn rejected_traceql_keeps_tempo_s_message() {
        let text = data("search_parse_error.txt");
        let (body, status) = text.trim_end().rsplit_once('\n').unwrap();
        let e = Endpoint::new(crate::core::component::Component::Tempo, "http://t:3200");
        let err = e.error(
            "/api/search",
            "{ service.name = ",
            status.parse().unwrap(),
            body,
        );
        assert!(matches!(err, ClientError::InvalidQuery { .. }));
        assert!(err.to_string().ends_with("invalid TraceQL query: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"), "{err}");
    }

    #[test]
    fn ids_become_lowercase_hex() {
        assert_eq!(
            id_to_hex("S/kvNXezTaajzpKdDg5HNg=="),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(id_to_hex("APBnqgupArc="), "00f067aa0ba902b7");
        assert_eq!(
            id_to_hex("4BF92F3577B34DA6A3CE929D0E0E4736"),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }
}
