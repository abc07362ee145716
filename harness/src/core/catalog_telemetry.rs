//! The log and trace checks of the catalog, derived from a manifest: exactness (every
//! line and span arrived, nothing else carries the run id), the guide's LogQL and
//! TraceQL queries (corrected, with the guide's original beside them, and the
//! originals a backend rejects checked to be rejected), correlation both ways, and
//! the sampling bound.
//!
//! Main functions: [`logs_checks`], [`traces_checks`], [`correlation_checks`],
//! [`guide_log_checks`], [`guide_trace_checks`], [`sampling_checks`].

use std::collections::{BTreeMap, BTreeSet};

use lgtm_scenarios::manifest::{Labels, LogLine, Manifest, SpanRecord};

use super::check::{Check, Query, Signal, Window};
use super::component::Component;
use super::expect::{
    Expectation, Expected, ExpectedLine, ExpectedSeries, ExpectedSpan, SeriesExpectation,
};
use super::quantile::interpolated_quantile;

/// Margin around the run's emission time for log and trace queries, in ms.
const WINDOW_MARGIN_MS: u64 = 120_000;
/// z for a two-sided 99.9% normal bound.
const Z_999: f64 = 3.2905;

/// The window of a manifest's run: from its start to its end, with a margin for
/// clock differences between the scenario and the backends. Fixed: lines and spans
/// carry their emission times, so nothing of the run can arrive outside it later.
pub fn window(m: &Manifest) -> Window {
    Window {
        start_unix_ms: m.started_at_unix_ms.saturating_sub(WINDOW_MARGIN_MS),
        end_unix_ms: m.finished_at_unix_ms + WINDOW_MARGIN_MS,
    }
}

/// When the run's LogQL metric queries are evaluated: one second after the run
/// finished, so that their `[5m]` range covers every line of a run shorter than
/// 4 min 59 s, whenever the query is sent.
pub fn logql_metric_time(m: &Manifest) -> u64 {
    m.finished_at_unix_ms + 1000
}

fn check(
    id: String,
    title: &str,
    signal: Signal,
    component: Component,
    query: Query,
    guide: Option<&str>,
    expect: Expectation,
) -> Check {
    let needs = match &query {
        Query::LogQlByTraceId { .. } | Query::TracesById { .. } if title.contains("↔") => {
            vec![Component::Loki, Component::Tempo]
        }
        _ => vec![component],
    };
    Check {
        id,
        title: title.into(),
        signal,
        component,
        needs,
        query,
        guide_original: guide.map(str::to_owned),
        expect,
    }
}

fn all_lines(m: &Manifest) -> impl Iterator<Item = (&Labels, &LogLine)> {
    m.logs
        .streams
        .iter()
        .flat_map(|s| s.lines.iter().map(move |l| (&s.labels, l)))
}

fn expected_line(labels: &Labels, l: &LogLine) -> ExpectedLine {
    ExpectedLine {
        labels: labels.clone(),
        message: l.message.clone(),
        fields: l.fields.clone(),
    }
}

fn lines_where(m: &Manifest, keep: impl Fn(&Labels, &LogLine) -> bool) -> Vec<ExpectedLine> {
    all_lines(m)
        .filter(|(s, l)| keep(s, l))
        .map(|(s, l)| expected_line(s, l))
        .collect()
}

fn mentions(l: &LogLine, words: &[&str]) -> bool {
    words.iter().any(|w| {
        l.message.contains(w) || l.fields.iter().any(|(k, v)| k.contains(w) || v.contains(w))
    })
}

/// Every line of the run arrived in its stream, and no other line carries the run id.
pub fn logs_checks(prefix: &str, m: &Manifest) -> Vec<Check> {
    vec![check(
        format!("{prefix}.logs.exact"),
        "every log line arrived in its stream, and no other",
        Signal::Logs,
        Component::Loki,
        Query::LogQlLines {
            expr: format!("{{run_id=\"{}\"}}", m.run_id),
            window: window(m),
        },
        None,
        Expectation::Lines {
            lines: lines_where(m, |_, _| true),
            exact: true,
        },
    )]
}

fn exported_spans(m: &Manifest) -> impl Iterator<Item = (&str, &SpanRecord)> {
    m.traces
        .traces
        .iter()
        .flat_map(|t| t.spans.iter().map(move |s| (t.trace_id.as_str(), s)))
}

fn traces_with(m: &Manifest, keep: impl Fn(&SpanRecord) -> bool) -> BTreeSet<String> {
    exported_spans(m)
        .filter(|(_, s)| keep(s))
        .map(|(t, _)| t.to_owned())
        .collect()
}

fn attr_str(s: &SpanRecord, key: &str) -> Option<String> {
    s.attributes.get(key).map(|v| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn attr_num(s: &SpanRecord, key: &str) -> Option<f64> {
    s.attributes.get(key).and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn span_trees(m: &Manifest) -> BTreeMap<String, Vec<ExpectedSpan>> {
    m.traces
        .traces
        .iter()
        .map(|t| {
            let spans = t
                .spans
                .iter()
                .map(|s| ExpectedSpan {
                    span_id: s.span_id.clone(),
                    parent_span_id: s.parent_span_id.clone(),
                    name: s.name.clone(),
                    service: s.service.clone(),
                    kind: s.kind.clone(),
                    status: s.status.clone(),
                    attributes: s.attributes.clone(),
                })
                .collect();
            (t.trace_id.clone(), spans)
        })
        .collect()
}

/// Exactly the exported traces are found for the run, each with exactly its spans.
pub fn traces_checks(prefix: &str, m: &Manifest) -> Vec<Check> {
    let w = window(m);
    let all: BTreeSet<String> = m.traces.traces.iter().map(|t| t.trace_id.clone()).collect();
    vec![
        check(
            format!("{prefix}.traces.exact_ids"),
            "exactly the exported traces carry the run id",
            Signal::Traces,
            Component::Tempo,
            Query::TraceQlSearch {
                query: format!("{{ resource.run_id = \"{}\" }}", m.run_id),
                window: w,
            },
            None,
            Expectation::TraceIds {
                ids: all.clone(),
                exact: true,
            },
        ),
        check(
            format!("{prefix}.traces.span_trees"),
            "every exported trace has exactly its spans (ids, parents, services, kinds, status, attributes), each once",
            Signal::Traces,
            Component::Tempo,
            Query::TracesById {
                ids: all.into_iter().collect(),
            },
            None,
            Expectation::Traces(span_trees(m)),
        ),
    ]
}

/// Logs → traces and traces → logs, by trace id.
pub fn correlation_checks(prefix: &str, m: &Manifest) -> Vec<Check> {
    let exported: BTreeSet<String> = m.traces.traces.iter().map(|t| t.trace_id.clone()).collect();
    let logged: Vec<String> = m
        .logged_trace_ids()
        .into_iter()
        .filter(|id| exported.contains(id))
        .collect();
    let trees = span_trees(m);
    let mut per_trace: BTreeMap<String, Vec<ExpectedLine>> = BTreeMap::new();
    for (labels, line) in all_lines(m) {
        if let Some(id) = line
            .fields
            .get("trace_id")
            .filter(|id| exported.contains(*id))
        {
            per_trace
                .entry(id.clone())
                .or_default()
                .push(expected_line(labels, line));
        }
    }
    vec![
        check(
            format!("{prefix}.correlation.logs_to_traces"),
            "logs ↔ traces: every trace id in the logs resolves to its trace in Tempo",
            Signal::Traces,
            Component::Tempo,
            Query::TracesById {
                ids: logged.clone(),
            },
            None,
            Expectation::Traces(
                trees
                    .into_iter()
                    .filter(|(id, _)| logged.contains(id))
                    .collect(),
            ),
        ),
        check(
            format!("{prefix}.correlation.traces_to_logs"),
            "traces ↔ logs: Loki returns each trace's lines by its trace id",
            Signal::Logs,
            Component::Loki,
            Query::LogQlByTraceId {
                selector: format!("{{run_id=\"{}\"}}", m.run_id),
                ids: per_trace.keys().cloned().collect(),
                window: window(m),
            },
            Some("{ span.trace_id = \"abc123\" }"),
            Expectation::LinesPerTrace(per_trace),
        ),
    ]
}

/// Metrics → traces through exemplars (the guide's "Metrics → Traces"): reported
/// skipped, with the reason, until a scenario emits exemplars.
pub fn exemplar_check(prefix: &str) -> Check {
    let mut c = check(
        format!("{prefix}.correlation.metrics_to_traces"),
        "metrics → traces: exemplars on the latency histogram lead to traces",
        Signal::Metrics,
        Component::Mimir,
        Query::NotPossible {
            reason: "metrics-exporter-prometheus emits no exemplars, so no metric sample carries a trace id to follow".into(),
        },
        Some("histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))"),
        Expectation::NonEmpty,
    );
    // A limit of the scenarios, not of the stack: no required component makes it fail.
    c.needs.clear();
    c
}

/// The guide's LogQL queries (section "LogQL 查询示例" and "Logs → Traces").
pub fn guide_log_checks(m: &Manifest) -> Vec<Check> {
    let (svc, env, run) = (&m.service, &m.environment, &m.run_id);
    let sel = format!("{{service=\"{svc}\", run_id=\"{run}\"}}");
    let w = window(m);
    let lines = |expr: String, lines: Vec<ExpectedLine>, exact: bool| {
        (
            Query::LogQlLines { expr, window: w },
            Expectation::Lines { lines, exact },
        )
    };
    let mut checks = Vec::new();

    let (q, e) = lines(
        format!("{{service=\"{svc}\", environment=\"{env}\", run_id=\"{run}\"}} |= \"error\""),
        lines_where(m, |s, l| {
            s.get("service") == Some(svc) && mentions(l, &["error"])
        }),
        false,
    );
    checks.push(check(
        "logql.guide.basic_filter".into(),
        "guide LogQL 1: lines containing \"error\" (at least those whose message or fields say error)",
        Signal::Logs,
        Component::Loki,
        q,
        Some("{service=\"rust-app\", environment=\"production\"} |= \"error\""),
        e,
    ));
    let (q, e) = lines(
        format!("{sel} |~ \"error|panic|fatal\""),
        lines_where(m, |s, l| {
            s.get("service") == Some(svc) && mentions(l, &["error", "panic", "fatal"])
        }),
        false,
    );
    checks.push(check(
        "logql.guide.regex".into(),
        "guide LogQL 2: lines matching error|panic|fatal (at least those whose message or fields do)",
        Signal::Logs,
        Component::Loki,
        q,
        Some("{service=\"rust-app\"} |~ \"error|panic|fatal\""),
        e,
    ));
    let is_error = |s: &Labels, l: &LogLine| {
        s.get("service") == Some(svc)
            && (s
                .get("level")
                .is_some_and(|v| v.eq_ignore_ascii_case("error"))
                || l.level.eq_ignore_ascii_case("error"))
    };
    let (q, e) = lines(
        format!("{sel} | json | level=\"error\""),
        lines_where(m, is_error),
        true,
    );
    checks.push(check(
        "logql.guide.json_level".into(),
        "guide LogQL 3: exactly the error lines (level is a stream label, lower case)",
        Signal::Logs,
        Component::Loki,
        q,
        Some("{service=\"rust-app\"} | json | level=\"error\""),
        e,
    ));

    let errors_with_endpoint: Vec<&LogLine> = all_lines(m)
        .filter(|(s, l)| is_error(s, l) && l.fields.contains_key("endpoint"))
        .map(|(_, l)| l)
        .collect();
    let mut by_endpoint: BTreeMap<&str, u64> = BTreeMap::new();
    for l in &errors_with_endpoint {
        *by_endpoint
            .entry(l.fields["endpoint"].as_str())
            .or_default() += 1;
    }
    checks.push(check(
        "logql.guide.errors_by_endpoint".into(),
        "guide LogQL 5: error rate by endpoint (endpoint is in the JSON line, so `| json` is needed)",
        Signal::Logs,
        Component::Loki,
        Query::LogQlMetric {
            expr: format!(
                "sum by (endpoint) (rate({{service=\"{svc}\", run_id=\"{run}\", level=\"error\"}} | json | endpoint != \"\" [5m]))"
            ),
            at_unix_ms: logql_metric_time(m),
        },
        Some("sum by (endpoint) (rate({service=\"rust-app\"} |= \"error\" [5m]))"),
        Expectation::Series(SeriesExpectation {
            series: by_endpoint
                .into_iter()
                .map(|(e, n)| ExpectedSeries {
                    labels: Labels::from([("endpoint".to_string(), e.to_string())]),
                    expected: Expected::Relative {
                        value: n as f64 / 300.0,
                        tolerance: 1e-9,
                    },
                })
                .collect(),
            no_other_series: true,
        }),
    ));

    let latencies: Vec<f64> = all_lines(m)
        .filter(|(s, _)| s.get("service") == Some(svc))
        .filter_map(|(_, l)| l.fields.get("latency_ms")?.parse().ok())
        .collect();
    {
        let p95 = interpolated_quantile(&latencies, 0.95);
        checks.push(check(
            "logql.guide.p95_latency".into(),
            "guide LogQL 6, corrected: P95 of latency_ms with quantile_over_time",
            Signal::Logs,
            Component::Loki,
            Query::LogQlMetric {
                expr: format!(
                    "quantile_over_time(0.95, {sel} | json | latency_ms != \"\" | unwrap latency_ms [5m]) by (service)"
                ),
                at_unix_ms: logql_metric_time(m),
            },
            Some(GUIDE_LOGQL_P95),
            Expectation::Series(SeriesExpectation {
                series: p95
                    .map(|value| ExpectedSeries {
                        labels: Labels::from([("service".to_string(), svc.clone())]),
                        expected: Expected::Relative {
                            value,
                            tolerance: 1e-9,
                        },
                    })
                    .into_iter()
                    .collect(),
                no_other_series: true,
            }),
        ));
    }
    checks.push(check(
        "logql.guide.p95_latency.original".into(),
        "guide LogQL 6 as written: histogram_quantile over an unwrapped range is not LogQL",
        Signal::Logs,
        Component::Loki,
        Query::LogQlMetric {
            expr: GUIDE_LOGQL_P95.replace("{service=\"rust-app\"}", &sel),
            at_unix_ms: logql_metric_time(m),
        },
        Some(GUIDE_LOGQL_P95),
        Expectation::Rejected,
    ));
    checks.push(check(
        "logql.guide.errors_by_endpoint.original".into(),
        "guide LogQL 5 as written: `endpoint` is a field of the JSON line, not a label, so nothing is grouped by it",
        Signal::Logs,
        Component::Loki,
        Query::LogQlMetric {
            expr: format!("sum by (endpoint) (rate({sel} |= \"error\" [5m]))"),
            at_unix_ms: logql_metric_time(m),
        },
        Some("sum by (endpoint) (rate({service=\"rust-app\"} |= \"error\" [5m]))"),
        Expectation::NoSeriesWithLabel {
            label: "endpoint".into(),
            why: "without `| json` no series has an endpoint label".into(),
        },
    ));
    checks.push(check(
        "logql.guide.query_logs.original".into(),
        "the guide's query_logs() asks Loki for 2024-01-01 only (hard-coded start/end)",
        Signal::Logs,
        Component::Loki,
        Query::LogQlLines {
            expr: format!("{sel} |= \"error\""),
            window: Window {
                start_unix_ms: 1_704_067_200_000,
                end_unix_ms: 1_704_153_600_000,
            },
        },
        Some("GET /loki/api/v1/query_range?query={service=\"rust-app\"} |= \"error\"&start=1704067200000000000&end=1704153600000000000"),
        Expectation::MatchesNothing {
            why: "its start/end are fixed to 2024-01-01".into(),
        },
    ));
    let (q, e) = lines(
        format!("{sel} | json | trace_id != \"\""),
        lines_where(m, |s, l| {
            s.get("service") == Some(svc) && l.fields.contains_key("trace_id")
        }),
        true,
    );
    checks.push(check(
        "logql.guide.lines_with_trace_id".into(),
        "guide Logs → Traces: exactly the lines that carry a trace id",
        Signal::Logs,
        Component::Loki,
        q,
        Some("{service=\"rust-app\"} | json | trace_id != \"\""),
        e,
    ));
    checks
}

const GUIDE_LOGQL_P95: &str = "histogram_quantile(0.95, sum(rate({service=\"rust-app\"} | json | unwrap latency_ms [5m])) by (le))";
const GUIDE_TRACEQL_ERRORS: &str = "{ service.name = \"rust-app\" && status = error }";
const GUIDE_TRACEQL_COMPLEX: &str = "{ service.name = \"rust-app\" && span.http.method = \"POST\" && span.http.status_code >= 500 && duration > 100ms }";
const GUIDE_TRACEQL_RATE: &str = "rate({ service.name = \"rust-app\" }) by (service.name)";

/// The guide's TraceQL queries (section "TraceQL 查询示例").
pub fn guide_trace_checks(m: &Manifest) -> Vec<Check> {
    let (svc, run) = (&m.service, &m.run_id);
    let w = window(m);
    let search = |query: String| Query::TraceQlSearch { query, window: w };
    let ids = |keep: &dyn Fn(&SpanRecord) -> bool| Expectation::TraceIds {
        ids: traces_with(m, keep),
        exact: true,
    };
    let complex = |method_key: &str, status_key: &str| {
        let (mk, sk) = (method_key.to_owned(), status_key.to_owned());
        move |s: &SpanRecord| {
            s.service == *svc
                && attr_str(s, &mk).as_deref() == Some("POST")
                && attr_num(s, &sk).is_some_and(|c| c >= 500.0)
                && s.duration_nanos > 100_000_000
        }
    };
    vec![
        check(
            "traceql.guide.slow".into(),
            "guide TraceQL 1: traces with a span slower than 500ms",
            Signal::Traces,
            Component::Tempo,
            search(format!("{{ resource.run_id = \"{run}\" && duration > 500ms }}")),
            Some("{ duration > 500ms }"),
            ids(&|s| s.duration_nanos > 500_000_000),
        ),
        check(
            "traceql.guide.service_errors".into(),
            "guide TraceQL 2, corrected: the service's traces with an error span",
            Signal::Traces,
            Component::Tempo,
            search(format!(
                "{{ resource.service.name = \"{svc}\" && resource.run_id = \"{run}\" && status = error }}"
            )),
            Some(GUIDE_TRACEQL_ERRORS),
            ids(&|s| s.service == *svc && s.status == "error"),
        ),
        check(
            "traceql.guide.service_errors.original".into(),
            "guide TraceQL 2 as written: `service.name` without a scope is not TraceQL",
            Signal::Traces,
            Component::Tempo,
            search(GUIDE_TRACEQL_ERRORS.into()),
            Some(GUIDE_TRACEQL_ERRORS),
            Expectation::Rejected,
        ),
        check(
            "traceql.guide.db".into(),
            "guide TraceQL 3: traces with a PostgreSQL span",
            Signal::Traces,
            Component::Tempo,
            search(format!(
                "{{ span.db.system = \"postgresql\" && resource.run_id = \"{run}\" }}"
            )),
            Some("{ span.db.system = \"postgresql\" }"),
            ids(&|s| attr_str(s, "db.system").as_deref() == Some("postgresql")),
        ),
        check(
            "traceql.guide.complex.legacy".into(),
            "guide TraceQL 4, corrected scope, the guide's attribute names (http.method, http.status_code)",
            Signal::Traces,
            Component::Tempo,
            search(format!(
                "{{ resource.service.name = \"{svc}\" && span.http.method = \"POST\" && span.http.status_code >= 500 && duration > 100ms && resource.run_id = \"{run}\" }}"
            )),
            Some(GUIDE_TRACEQL_COMPLEX),
            ids(&complex("http.method", "http.status_code")),
        ),
        check(
            "traceql.guide.complex.semconv".into(),
            "guide TraceQL 4 with current semantic conventions (http.request.method, http.response.status_code)",
            Signal::Traces,
            Component::Tempo,
            search(format!(
                "{{ resource.service.name = \"{svc}\" && span.http.request.method = \"POST\" && span.http.response.status_code >= 500 && duration > 100ms && resource.run_id = \"{run}\" }}"
            )),
            Some(GUIDE_TRACEQL_COMPLEX),
            ids(&complex("http.request.method", "http.response.status_code")),
        ),
        check(
            "traceql.guide.complex.original".into(),
            "guide TraceQL 4 as written: `service.name` without a scope is not TraceQL",
            Signal::Traces,
            Component::Tempo,
            search(GUIDE_TRACEQL_COMPLEX.into()),
            Some(GUIDE_TRACEQL_COMPLEX),
            Expectation::Rejected,
        ),
        check(
            "traceql.guide.traces_to_logs.original".into(),
            "guide Traces → Logs as written: trace_id is not a span attribute, so the query finds nothing",
            Signal::Traces,
            Component::Tempo,
            search(format!(
                "{{ span.trace_id = \"{}\" }}",
                m.traces.traces.first().map(|t| t.trace_id.as_str()).unwrap_or("abc123")
            )),
            Some("{ span.trace_id = \"abc123\" }"),
            Expectation::MatchesNothing {
                why: "a trace is found by its id (/api/traces/<id>), its logs in Loki by `| json | trace_id=…`".into(),
            },
        ),
        check(
            "traceql.guide.rate".into(),
            "guide TraceQL 5, corrected: span rate by service (TraceQL metrics, needs the local-blocks processor)",
            Signal::Traces,
            Component::Tempo,
            Query::TraceQlMetrics {
                query: format!(
                    "{{ resource.run_id = \"{run}\" }} | rate() by (resource.service.name)"
                ),
                window: w,
            },
            Some(GUIDE_TRACEQL_RATE),
            Expectation::Series(SeriesExpectation {
                series: m
                    .all_services()
                    .into_iter()
                    .map(|s| ExpectedSeries {
                        labels: Labels::from([("resource.service.name".to_string(), s)]),
                        expected: Expected::Positive {
                            note: "Tempo answers no series at all when the metrics-generator's local-blocks processor is not enabled".into(),
                        },
                    })
                    .collect(),
                no_other_series: true,
            }),
        ),
        check(
            "traceql.guide.rate.original".into(),
            "guide TraceQL 5 as written: `rate(...) by (...)` around a spanset is not TraceQL (it is `{...} | rate() by (...)`)",
            Signal::Traces,
            Component::Tempo,
            Query::TraceQlMetrics {
                query: GUIDE_TRACEQL_RATE.into(),
                window: w,
            },
            Some(GUIDE_TRACEQL_RATE),
            Expectation::Rejected,
        ),
    ]
}

/// The 99.9% two-sided normal bound of a Binomial(n, p) count.
pub fn binomial_bound(n: u64, p: f64) -> (u64, u64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (
        (mean - Z_999 * sd).floor().max(0.0) as u64,
        (mean + Z_999 * sd).ceil() as u64,
    )
}

/// At ratio p, the number of sampled traces lies within the 99.9% bound, and exactly
/// the sampled ids (no unsampled one) arrived.
pub fn sampling_checks(prefix: &str, m: &Manifest) -> Vec<Check> {
    let n = m.traces.roots_started;
    let (lo, hi) = binomial_bound(n, m.traces.sampler_ratio);
    vec![check(
        format!("{prefix}.sampling.count_within_bound"),
        "the number of sampled traces lies within the 99.9% binomial bound of N·ratio",
        Signal::Traces,
        Component::Tempo,
        Query::TraceQlSearch {
            query: format!("{{ resource.run_id = \"{}\" }}", m.run_id),
            window: window(m),
        },
        Some("Sampler::TraceIdRatioBased(0.01)"),
        Expectation::TraceCount {
            lo,
            hi,
            note: format!(
                "N={n} roots at ratio {}; the manifest says {} were sampled",
                m.traces.sampler_ratio,
                m.traces.traces.len()
            ),
        },
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binomial_bound_of_the_guides_sampling() {
        // 1000 roots at 1%: mean 10, sd 3.146
        assert_eq!(binomial_bound(1000, 0.01), (0, 21));
        assert_eq!(binomial_bound(100_000, 0.01), (896, 1104));
        assert_eq!(binomial_bound(10, 1.0), (10, 10));
    }
}
