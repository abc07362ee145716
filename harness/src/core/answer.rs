//! A corpus query's answer, normalised so the baseline's and the candidate's can be
//! compared, and the comparison. Pure: the gate's adapter passes the HTTP body.
//!
//! Normalisation (the same on both sides):
//! - **time**: every timestamp becomes an offset from the side's origin (log lines
//!   in nanoseconds, PromQL and LogQL samples in seconds, TraceQL starts in
//!   nanoseconds, TraceQL metrics samples in milliseconds);
//! - **order**: streams, series, traces, spansets, spans and attributes are sorted
//!   (a backend may return them in any order); log lines by offset, then text;
//! - **floats**: rounded to 6 significant digits (a relative tolerance of about
//!   1e-6), `NaN`, `+Inf` and `-Inf` kept as words;
//! - **noise**: query statistics (`stats`, Tempo's `metrics`), Tempo's legacy
//!   `spanSet` (a copy of the first of `spanSets`) and `serviceStats` are dropped.
//!
//! Main items: [`normalize`], [`Answer`], [`compare`] → [`Verdict`].

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::corpus::{Ask, Language};

/// One side's answer to one corpus query.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Answer {
    /// The normalised data.
    Data(Value),
    /// The backend refused the query or could not answer: its message (status and
    /// body), or why it could not be asked.
    Refused(String),
}

impl Answer {
    /// Whether the answer holds no data (no stream, series, trace or sample).
    pub fn is_empty(&self) -> bool {
        match self {
            Answer::Data(v) => is_empty(v),
            Answer::Refused(_) => false,
        }
    }
}

fn is_empty(v: &Value) -> bool {
    for key in ["result", "traces", "series"] {
        if let Some(a) = v.get(key) {
            return match a {
                Value::Array(a) => a.is_empty(),
                Value::Null => true,
                _ => false,
            };
        }
    }
    false
}

/// A float rounded to 6 significant digits, printed as its shortest form.
///
/// ```
/// use lgtm_check::core::answer::float;
/// assert_eq!(float(0.12345678), "0.123457");
/// assert_eq!(float(3.0), "3");
/// assert_eq!(float(f64::INFINITY), "+Inf");
/// ```
pub fn float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let rounded: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    if rounded == 0.0 {
        return "0".into();
    }
    format!("{rounded}")
}

fn float_text(v: &Value) -> Value {
    let parsed = match v {
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            s => s.parse::<f64>().ok(),
        },
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match parsed {
        Some(f) => Value::String(float(f)),
        None => v.clone(),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        _ => None,
    }
}

fn sort_by_text(items: &mut [Value]) {
    items.sort_by_key(|v| v.to_string());
}

/// A Prometheus-style sample `[seconds, "value"]` with the time made relative.
fn sample(v: &Value, origin_secs: f64) -> Value {
    match v.as_array().map(Vec::as_slice) {
        Some([t, value]) => json!([
            number(t)
                .map(|t| float(t - origin_secs))
                .unwrap_or_default(),
            float_text(value)
        ]),
        _ => v.clone(),
    }
}

/// Normalises the `data` of a Prometheus-style answer (PromQL, and LogQL's
/// `/query` and `/query_range`), with the top-level `warnings` and `infos`.
fn prometheus_style(body: &Value, origin_secs: u64) -> Result<Value, String> {
    let data = body.get("data").ok_or("the answer has no `data`")?;
    let result_type = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or("the answer has no `data.resultType`")?;
    let origin = origin_secs as f64;
    let origin_ns = i128::from(origin_secs) * 1_000_000_000;
    let result = data.get("result").cloned().unwrap_or(Value::Null);
    let result = match result_type {
        "streams" => {
            let mut streams: Vec<Value> = result
                .as_array()
                .ok_or("`data.result` is not a list")?
                .iter()
                .map(|s| {
                    let mut values: Vec<Value> = s
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|vs| {
                            vs.iter()
                                .map(|e| match e.as_array().map(Vec::as_slice) {
                                    Some([t, rest @ ..]) => {
                                        let mut out = vec![json!(
                                            int(t).map(|t| t - origin_ns).unwrap_or_default() as i64
                                        )];
                                        out.extend(rest.iter().cloned());
                                        Value::Array(out)
                                    }
                                    _ => e.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    values.sort_by(|a, b| {
                        (a[0].as_i64(), a.to_string()).cmp(&(b[0].as_i64(), b.to_string()))
                    });
                    json!({"stream": s.get("stream").cloned().unwrap_or(Value::Null), "values": values})
                })
                .collect();
            sort_by_text(&mut streams);
            Value::Array(streams)
        }
        "matrix" => {
            let mut series: Vec<Value> = result
                .as_array()
                .ok_or("`data.result` is not a list")?
                .iter()
                .map(|s| {
                    let values: Vec<Value> = s
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|vs| vs.iter().map(|v| sample(v, origin)).collect())
                        .unwrap_or_default();
                    let mut out = json!({"metric": s.get("metric").cloned().unwrap_or(json!({})), "values": values});
                    if let Some(h) = s.get("histograms") {
                        out["histograms"] = h.clone();
                    }
                    out
                })
                .collect();
            sort_by_text(&mut series);
            Value::Array(series)
        }
        "vector" => {
            let mut samples: Vec<Value> = result
                .as_array()
                .ok_or("`data.result` is not a list")?
                .iter()
                .map(|s| {
                    let mut out = json!({
                        "metric": s.get("metric").cloned().unwrap_or(json!({})),
                        "value": s.get("value").map(|v| sample(v, origin)).unwrap_or(Value::Null),
                    });
                    if let Some(h) = s.get("histogram") {
                        out["histogram"] = h.clone();
                    }
                    out
                })
                .collect();
            sort_by_text(&mut samples);
            Value::Array(samples)
        }
        "scalar" | "string" => sample(&result, origin),
        other => return Err(format!("unknown `resultType` {other}")),
    };
    let mut out = Map::new();
    out.insert("resultType".into(), json!(result_type));
    out.insert("result".into(), result);
    for key in ["warnings", "infos"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn attributes(v: Option<&Value>) -> Value {
    let mut attrs: Vec<Value> = v.and_then(Value::as_array).cloned().unwrap_or_default();
    sort_by_text(&mut attrs);
    Value::Array(attrs)
}

/// Normalises a Tempo search answer (`/api/search`).
fn tempo_search(body: &Value, origin_secs: u64) -> Result<Value, String> {
    let origin_ns = i128::from(origin_secs) * 1_000_000_000;
    let rel = |v: Option<&Value>| {
        v.and_then(int)
            .map(|t| json!((t - origin_ns) as i64))
            .unwrap_or(Value::Null)
    };
    let traces = match body.get("traces") {
        Some(Value::Array(t)) => t.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err("`traces` is not a list".into()),
    };
    let mut out: Vec<Value> = traces
        .iter()
        .map(|t| {
            let mut sets: Vec<Value> = t
                .get("spanSets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|set| {
                    let mut spans: Vec<Value> = set
                        .get("spans")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|s| {
                            json!({
                                "spanID": s.get("spanID"),
                                "name": s.get("name"),
                                "start": rel(s.get("startTimeUnixNano")),
                                "durationNanos": s.get("durationNanos").and_then(int).map(|d| d as i64),
                                "attributes": attributes(s.get("attributes")),
                            })
                        })
                        .collect();
                    sort_by_text(&mut spans);
                    json!({
                        "matched": set.get("matched"),
                        "spans": spans,
                        "attributes": attributes(set.get("attributes")),
                    })
                })
                .collect();
            sort_by_text(&mut sets);
            json!({
                "traceID": t.get("traceID").and_then(Value::as_str).map(|s| s.trim_start_matches('0')),
                "rootServiceName": t.get("rootServiceName"),
                "rootTraceName": t.get("rootTraceName"),
                "start": rel(t.get("startTimeUnixNano")),
                "durationMs": t.get("durationMs"),
                "spanSets": sets,
            })
        })
        .collect();
    sort_by_text(&mut out);
    Ok(json!({ "traces": out }))
}

/// Normalises a TraceQL metrics answer (`/api/metrics/query_range`).
fn tempo_metrics(body: &Value, origin_secs: u64) -> Result<Value, String> {
    let origin_ms = i128::from(origin_secs) * 1000;
    let series = match body.get("series") {
        Some(Value::Array(s)) => s.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err("`series` is not a list".into()),
    };
    let mut out: Vec<Value> = series
        .iter()
        .map(|s| {
            let samples: Vec<Value> = s
                .get("samples")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    json!([
                        p.get("timestampMs")
                            .and_then(int)
                            .map(|t| (t - origin_ms) as i64),
                        p.get("value").map(float_text).unwrap_or(json!("0")),
                    ])
                })
                .collect();
            json!({"labels": attributes(s.get("labels")), "samples": samples})
        })
        .collect();
    sort_by_text(&mut out);
    Ok(json!({ "series": out }))
}

/// The normalised answer of `body`, the JSON a backend answered to a query asked
/// with `ask` in `language`, on a side whose origin is `origin_secs` (Unix seconds).
///
/// ```
/// use lgtm_check::core::answer::normalize;
/// use lgtm_check::core::corpus::{Ask, Language};
///
/// // The same series from two sides whose origins are 1,000 s apart.
/// let a = r#"{"status":"success","data":{"resultType":"vector","result":[
///     {"metric":{"service":"b"},"value":[1300,"2.0000001"]},
///     {"metric":{"service":"a"},"value":[1300,"1"]}]}}"#;
/// let b = r#"{"status":"success","data":{"resultType":"vector","result":[
///     {"metric":{"service":"a"},"value":[2300,"1"]},
///     {"metric":{"service":"b"},"value":[2300,"2"]}]}}"#;
/// let na = normalize(Language::PromQl, Ask::Instant, a, 1000).unwrap();
/// let nb = normalize(Language::PromQl, Ask::Instant, b, 2000).unwrap();
/// assert_eq!(na, nb);
/// ```
pub fn normalize(
    language: Language,
    ask: Ask,
    body: &str,
    origin_secs: u64,
) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    match (language, ask) {
        (Language::TraceQl, Ask::TraceMetrics) => tempo_metrics(&value, origin_secs),
        (Language::TraceQl, _) => tempo_search(&value, origin_secs),
        _ => prometheus_style(&value, origin_secs),
    }
}

/// How the two sides' answers to one query compare.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The same data on both sides, and it is not empty.
    Identical,
    /// Both sides answered nothing: no evidence either way (the workload does not
    /// reach this query).
    BothEmpty,
    /// Both sides refused the query.
    BothRefused {
        /// Whether the messages are the same.
        same_message: bool,
    },
    /// The answers differ.
    Different {
        /// The first place they differ, e.g. `result[1].values[3][1]: "4" vs "5"`.
        first: String,
    },
    /// The baseline answered, the candidate refused.
    RefusedByCandidate,
    /// The candidate answered, the baseline refused.
    RefusedByBaseline,
}

impl Verdict {
    /// Whether the answers are a difference a user should see (different data, or
    /// an error on one side only).
    pub fn is_difference(&self) -> bool {
        matches!(
            self,
            Verdict::Different { .. } | Verdict::RefusedByCandidate | Verdict::RefusedByBaseline
        )
    }
}

/// Compares the baseline's answer with the candidate's.
///
/// ```
/// use lgtm_check::core::answer::{Answer, Verdict, compare};
/// use serde_json::json;
///
/// let a = Answer::Data(json!({"result": [{"metric": {}, "value": [0, "1"]}]}));
/// let b = Answer::Data(json!({"result": [{"metric": {}, "value": [0, "2"]}]}));
/// assert_eq!(compare(&a, &a), Verdict::Identical);
/// assert_eq!(
///     compare(&a, &b),
///     Verdict::Different { first: r#"result[0].value[1]: "1" vs "2""#.into() }
/// );
/// assert_eq!(compare(&a, &Answer::Refused("400".into())), Verdict::RefusedByCandidate);
/// ```
pub fn compare(baseline: &Answer, candidate: &Answer) -> Verdict {
    match (baseline, candidate) {
        (Answer::Data(b), Answer::Data(c)) if b == c => {
            if is_empty(b) {
                Verdict::BothEmpty
            } else {
                Verdict::Identical
            }
        }
        (Answer::Data(b), Answer::Data(c)) => Verdict::Different {
            first: first_difference("", b, c),
        },
        (Answer::Refused(b), Answer::Refused(c)) => Verdict::BothRefused {
            same_message: b == c,
        },
        (Answer::Data(_), Answer::Refused(_)) => Verdict::RefusedByCandidate,
        (Answer::Refused(_), Answer::Data(_)) => Verdict::RefusedByBaseline,
    }
}

/// `text` cut to `max` characters (on a character boundary), with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// The first place `b` and `c` differ, as `path: b vs c`.
pub fn first_difference(path: &str, b: &Value, c: &Value) -> String {
    let here = if path.is_empty() { "answer" } else { path };
    match (b, c) {
        (Value::Object(bm), Value::Object(cm)) => {
            let mut keys: Vec<&String> = bm.keys().chain(cm.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (bm.get(k), cm.get(k)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => return first_difference(&sub, x, y),
                    (Some(x), None) => {
                        return format!("{sub}: {} vs absent", clip(&x.to_string(), 200));
                    }
                    (None, Some(y)) => {
                        return format!("{sub}: absent vs {}", clip(&y.to_string(), 200));
                    }
                    (None, None) => {}
                }
            }
            format!("{here}: equal")
        }
        (Value::Array(ba), Value::Array(ca)) => {
            for (i, (x, y)) in ba.iter().zip(ca).enumerate() {
                if x != y {
                    return first_difference(&format!("{path}[{i}]"), x, y);
                }
            }
            let (n, m) = (ba.len(), ca.len());
            let extra = if n > m { &ba[m] } else { &ca[n] };
            format!(
                "{here}: {n} vs {m} items; the first only on the {}: {}",
                if n > m { "baseline" } else { "candidate" },
                clip(&extra.to_string(), 200)
            )
        }
        _ => format!(
            "{here}: {} vs {}",
            clip(&b.to_string(), 200),
            clip(&c.to_string(), 200)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loki_streams_are_made_relative_and_sorted() {
        // Shapes as Loki 3.2.0 answers /loki/api/v1/query_range for a log query.
        let a = r#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"service_name":"b"},"values":[["1000000000002","y"],["1000000000001","x"]]},
            {"stream":{"service_name":"a"},"values":[["1000000000005","z"]]}],
            "stats":{"summary":{"execTime":0.1}}}}"#;
        let n = normalize(Language::LogQl, Ask::Range, a, 1000).unwrap();
        assert_eq!(
            n,
            json!({"resultType": "streams", "result": [
                {"stream": {"service_name": "a"}, "values": [[5, "z"]]},
                {"stream": {"service_name": "b"}, "values": [[1, "x"], [2, "y"]]},
            ]})
        );
        assert!(!Answer::Data(n).is_empty());
    }

    #[test]
    fn tempo_search_keeps_what_a_user_sees_and_drops_statistics() {
        // Shape of Tempo 2.6's /api/search answer.
        let body = r#"{"traces":[{"traceID":"0abc","rootServiceName":"checkout","rootTraceName":"GET /","startTimeUnixNano":"1000000000500","durationMs":12,
            "spanSet":{"spans":[]},"spanSets":[{"spans":[{"spanID":"01","startTimeUnixNano":"1000000000600","durationNanos":"5","attributes":[{"key":"b","value":{"intValue":"1"}},{"key":"a","value":{"stringValue":"x"}}]}],"matched":1}],
            "serviceStats":{"checkout":{"spanCount":1}}}],"metrics":{"inspectedBytes":"123"}}"#;
        let n = normalize(Language::TraceQl, Ask::Search, body, 1000).unwrap();
        assert_eq!(n["traces"][0]["traceID"], "abc");
        assert_eq!(n["traces"][0]["start"], 500);
        assert_eq!(n["traces"][0]["spanSets"][0]["spans"][0]["start"], 600);
        assert_eq!(
            n["traces"][0]["spanSets"][0]["spans"][0]["attributes"][0]["key"],
            "a"
        );
        assert!(n.get("metrics").is_none());
        assert!(n["traces"][0].get("serviceStats").is_none());
    }

    #[test]
    fn empty_answers_are_both_empty_not_identical() {
        let e = Answer::Data(json!({"resultType": "vector", "result": []}));
        assert_eq!(compare(&e, &e), Verdict::BothEmpty);
        let t = Answer::Data(json!({"traces": []}));
        assert_eq!(compare(&t, &t), Verdict::BothEmpty);
    }

    #[test]
    fn a_longer_answer_names_the_first_extra_item() {
        let b = json!({"result": [1, 2]});
        let c = json!({"result": [1, 2, 3]});
        assert_eq!(
            first_difference("", &b, &c),
            "result: 2 vs 3 items; the first only on the candidate: 3"
        );
    }
}
