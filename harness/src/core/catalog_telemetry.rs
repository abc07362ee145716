//! The log and trace checks of the catalog, derived from a manifest: exactness (every
//! line and span arrived, nothing else carries the run id), the guide's LogQL and
//! TraceQL queries (corrected, with the guide's original beside them, and the
//! originals a backend rejects checked to be rejected), correlation both ways, and
//! the sampling bound.
//!
//! Main functions: [`logs_checks`], [`traces_checks`], [`correlation_checks`],
//! [`guide_log_checks`], [`guide_trace_checks`], [`upgrade_trace_checks`], [`sampling_checks`].

use std::collections::{BTreeMap, BTreeSet};

use lgtm_check_recorder::manifest::{Labels, LogLine, Manifest, SpanRecord};

use super::check::{Check, Control, Query, Signal, Window};
use super::component::Component;
use super::expect::{
    Expectation, Expected, ExpectedLine, ExpectedSeries, ExpectedSpan, SeriesExpectation,
};
use super::quantile::interpolated_quantile;

/// Margin around the run's emission time for log and trace queries, in ms.
const WINDOW_MARGIN_MS: u64 = 120_000;

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
        control: None,
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

/// `title`, followed by what the instrumentation reported losing of `signal`, if
/// anything.
fn with_losses(title: &str, m: &Manifest, signal: &str) -> String {
    let lost: Vec<String> = m
        .losses_of(signal)
        .map(|l| format!("{} at {}", l.count, l.place))
        .collect();
    if lost.is_empty() {
        title.to_owned()
    } else {
        let what = if signal == "logs" { "lines" } else { signal };
        format!(
            "{title} (the instrumentation reported {what} lost: {})",
            lost.join(", ")
        )
    }
}

/// Every line of the run arrived in its stream, and no other line carries the run id.
/// The title names what the instrumentation reported losing, if anything.
pub fn logs_checks(prefix: &str, m: &Manifest) -> Vec<Check> {
    let title = with_losses(
        "every log line arrived in its stream, and no other",
        m,
        "logs",
    );
    vec![check(
        format!("{prefix}.logs.exact"),
        &title,
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
    let title = with_losses("exactly the exported traces carry the run id", m, "traces");
    vec![
        check(
            format!("{prefix}.traces.exact_ids"),
            &title,
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
    let mut original = check(
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
    );
    // The same selector and filter with `| json`: the run's error lines are there, and
    // grouped by their endpoints.
    let endpoints: BTreeSet<&str> = all_lines(m)
        .filter(|(s, l)| s.get("service") == Some(svc) && mentions(l, &["error"]))
        .filter_map(|(_, l)| l.fields.get("endpoint").map(String::as_str))
        .collect();
    original.control = Some(Control {
        query: original.query.with_text(format!(
            "sum by (endpoint) (rate({sel} |= \"error\" | json [5m]))"
        )),
        expect: Expectation::Series(SeriesExpectation {
            series: endpoints
                .into_iter()
                .map(|e| ExpectedSeries {
                    labels: Labels::from([("endpoint".to_string(), e.to_string())]),
                    expected: Expected::Positive {
                        note: "the run's lines containing \"error\" at this endpoint".into(),
                    },
                })
                .collect(),
            no_other_series: false,
        }),
    });
    checks.push(original);
    let mut query_logs = check(
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
        Some(
            "GET /loki/api/v1/query_range?query={service=\"rust-app\"} |= \"error\"&start=1704067200000000000&end=1704153600000000000",
        ),
        Expectation::MatchesNothing {
            why: "its start/end are fixed to 2024-01-01".into(),
        },
    );
    // The same selector over the run's window returns the run's lines.
    query_logs.control = Some(Control {
        query: Query::LogQlLines {
            expr: format!("{sel} |= \"error\""),
            window: w,
        },
        expect: Expectation::Lines {
            lines: lines_where(m, |s, l| {
                s.get("service") == Some(svc) && mentions(l, &["error"])
            }),
            exact: false,
        },
    });
    checks.push(query_logs);
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
    let semconv_query = search(format!(
        "{{ resource.service.name = \"{svc}\" && span.http.request.method = \"POST\" && span.http.response.status_code >= 500 && duration > 100ms && resource.run_id = \"{run}\" }}"
    ));
    let semconv_ids = traces_with(
        m,
        complex("http.request.method", "http.response.status_code"),
    );
    let legacy = legacy_complex_check(
        m,
        search(format!(
            "{{ resource.service.name = \"{svc}\" && span.http.method = \"POST\" && span.http.status_code >= 500 && duration > 100ms && resource.run_id = \"{run}\" }}"
        )),
        traces_with(m, complex("http.method", "http.status_code")),
        semconv_query.clone(),
        semconv_ids.clone(),
    );
    let first_trace = m.traces.traces.first().map(|t| t.trace_id.as_str());
    let mut traces_to_logs = check(
        "traceql.guide.traces_to_logs.original".into(),
        "guide Traces → Logs as written: trace_id is not a span attribute, so the query finds nothing",
        Signal::Traces,
        Component::Tempo,
        search(format!(
            "{{ span.trace_id = \"{}\" }}",
            first_trace.unwrap_or("abc123")
        )),
        Some("{ span.trace_id = \"abc123\" }"),
        Expectation::MatchesNothing {
            why: "a trace is found by its id (/api/traces/<id>), its logs in Loki by `| json | trace_id=…`".into(),
        },
    );
    // The same window has that very trace, found by the run's resource attribute.
    traces_to_logs.control = Some(Control {
        query: search(format!("{{ resource.run_id = \"{run}\" }}")),
        expect: Expectation::TraceIds {
            ids: first_trace.map(str::to_owned).into_iter().collect(),
            exact: false,
        },
    });
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
        legacy,
        check(
            "traceql.guide.complex.semconv".into(),
            "guide TraceQL 4 with current semantic conventions (http.request.method, http.response.status_code): exactly the POST traces answered 5xx after more than 100ms",
            Signal::Traces,
            Component::Tempo,
            semconv_query,
            Some(GUIDE_TRACEQL_COMPLEX),
            Expectation::TraceIds {
                ids: semconv_ids,
                exact: true,
            },
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
        traces_to_logs,
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

/// Checks that guard a behaviour users depend on and an upgrade changes, each naming
/// the changelog entry. Tempo 2.7 anchors every TraceQL regular expression
/// (tempo#4329, "All regular expression matchers will now be fully anchored"):
/// `span.http.route =~ "users"` finds the `/api/users` traces up to Tempo 2.6 and
/// nothing from 2.7 on, while `=~ ".*users.*"` finds them on both. The first check
/// pins the answer queries written for Tempo 2.6 rely on, so `lgtm-check gate`
/// shows the change as a regression; the second is the form that survives it.
pub fn upgrade_trace_checks(m: &Manifest) -> Vec<Check> {
    let run = &m.run_id;
    let w = window(m);
    let users = traces_with(m, |s| {
        attr_str(s, "http.route").is_some_and(|r| r.contains("users"))
    });
    let search = |regex: &str| Query::TraceQlSearch {
        query: format!("{{ resource.run_id = \"{run}\" && span.http.route =~ \"{regex}\" }}"),
        window: w,
    };
    vec![
        check(
            "traceql.upgrade.regex_partial_match".into(),
            "TraceQL `span.http.route =~ \"users\"` finds exactly the traces whose route contains `users`, as Tempo up to 2.6 evaluates a regex (unanchored); Tempo 2.7 anchors it (tempo#4329) and the same query finds nothing: write `=~ \".*users.*\"`",
            Signal::Traces,
            Component::Tempo,
            search("users"),
            None,
            Expectation::TraceIds {
                ids: users.clone(),
                exact: true,
            },
        ),
        check(
            "traceql.upgrade.regex_explicit_wildcards".into(),
            "TraceQL `span.http.route =~ \".*users.*\"` finds exactly the traces whose route contains `users`, anchored or not (tempo#4329): the form that keeps its answer across Tempo 2.6 → 2.7",
            Signal::Traces,
            Component::Tempo,
            search(".*users.*"),
            None,
            Expectation::TraceIds {
                ids: users,
                exact: true,
            },
        ),
    ]
}

/// Whether the manifest's spans carry the guide's old HTTP attribute names
/// (`http.method`, `http.status_code`), i.e. http-service ran with
/// `--legacy-http-attributes`.
pub fn has_legacy_http_attributes(m: &Manifest) -> bool {
    exported_spans(m).any(|(_, s)| {
        s.attributes.contains_key("http.method") || s.attributes.contains_key("http.status_code")
    })
}

/// Guide TraceQL 4 with the guide's attribute names, its expectation derived from the
/// manifest: where the spans carry `http.method`/`http.status_code`, exactly the
/// traces that match them; where they do not (current semantic conventions only),
/// the query must match nothing, with the semantic-conventions query finding its
/// traces in the same poll as the positive control (and the check is then a guide
/// defect: the guide's names are not today's).
pub fn legacy_complex_check(
    m: &Manifest,
    query: Query,
    legacy_ids: BTreeSet<String>,
    semconv_query: Query,
    semconv_ids: BTreeSet<String>,
) -> Check {
    let id = "traceql.guide.complex.legacy".to_string();
    if has_legacy_http_attributes(m) {
        check(
            id,
            "guide TraceQL 4, corrected scope, the guide's attribute names (http.method, http.status_code): exactly the POST traces answered 5xx after more than 100ms",
            Signal::Traces,
            Component::Tempo,
            query,
            Some(GUIDE_TRACEQL_COMPLEX),
            Expectation::TraceIds {
                ids: legacy_ids,
                exact: true,
            },
        )
    } else {
        let mut c = check(
            id,
            "guide TraceQL 4 with the guide's attribute names (http.method, http.status_code) matches nothing: current semantic conventions say http.request.method, http.response.status_code",
            Signal::Traces,
            Component::Tempo,
            query,
            Some(GUIDE_TRACEQL_COMPLEX),
            Expectation::MatchesNothing {
                why: "the spans carry http.request.method and http.response.status_code (current semantic conventions), not the guide's http.method and http.status_code".into(),
            },
        );
        c.control = Some(Control {
            query: semconv_query,
            expect: Expectation::TraceIds {
                ids: semconv_ids,
                exact: true,
            },
        });
        c
    }
}

/// The probability left outside the sampling interval on each side (99.9% central).
pub const SAMPLING_TAIL: f64 = 0.0005;

/// The exact central interval of a Binomial(n, p) count that leaves at most `tail` of
/// the probability on each side: `lo` is the largest k with P(X < k) ≤ tail, `hi` the
/// smallest k with P(X > k) ≤ tail. The probabilities are summed from the
/// probability mass function, computed in log space by its recurrence (exact to
/// rounding for n up to 10^6 and beyond; no normal approximation).
///
/// ```
/// use lgtm_check::core::catalog_telemetry::{SAMPLING_TAIL, binomial_interval};
/// // Sampling 1,000 spans at 50%: the kept count is within (lo, hi) 99.9% of the time.
/// let (lo, hi) = binomial_interval(1000, 0.5, SAMPLING_TAIL);
/// assert!(lo < 500 && 500 < hi);
/// assert_eq!(lo + hi, 1000); // symmetric at p = 0.5
/// assert_eq!(binomial_interval(1000, 1.0, SAMPLING_TAIL), (1000, 1000));
/// ```
pub fn binomial_interval(n: u64, p: f64, tail: f64) -> (u64, u64) {
    if p <= 0.0 {
        return (0, 0);
    }
    if p >= 1.0 {
        return (n, n);
    }
    // ln P(X = k) by ln P(k+1) = ln P(k) + ln((n-k)/(k+1)) + ln(p/(1-p)).
    let odds = (p / (1.0 - p)).ln();
    let mut log_pmf = Vec::with_capacity(n as usize + 1);
    let mut l = n as f64 * (-p).ln_1p();
    for k in 0..=n {
        log_pmf.push(l);
        if k < n {
            l += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + odds;
        }
    }
    // Relative to the mode, so that no term underflows before it matters.
    let max = log_pmf.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pmf: Vec<f64> = log_pmf.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = pmf.iter().sum();
    let limit = tail * total;
    // lo: P(X < k) grows with k; the largest k whose lower tail is still ≤ tail.
    let mut lo = 0;
    let mut below = 0.0;
    for (k, q) in pmf.iter().enumerate() {
        // below = P(X < k)
        if below > limit {
            break;
        }
        lo = k as u64;
        below += q;
    }
    // hi: P(X > k) shrinks with k; the smallest k whose upper tail is ≤ tail.
    let mut hi = n;
    let mut above = 0.0;
    for k in (0..=n as usize).rev() {
        // above = P(X > k)
        if above > limit {
            break;
        }
        hi = k as u64;
        above += pmf[k];
    }
    (lo, hi)
}

/// At ratio p, the number of sampled traces lies within the exact 99.9% binomial
/// interval, and the traces that arrived are exactly the manifest's sampled ids.
pub fn sampling_checks(prefix: &str, m: &Manifest) -> Vec<Check> {
    let n = m.traces.roots_started;
    let (lo, hi) = binomial_interval(n, m.traces.sampler_ratio, SAMPLING_TAIL);
    let sampled: BTreeSet<String> = m.traces.traces.iter().map(|t| t.trace_id.clone()).collect();
    vec![check(
        format!("{prefix}.sampling.count_within_bound"),
        "the sampled traces are exactly the manifest's, and their number lies within the exact 99.9% binomial interval of N at the ratio",
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
            ids: sampled,
            note: format!(
                "N={n} roots at ratio {}, exact binomial 99.9%; the manifest says {} were sampled",
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
    fn the_exact_binomial_interval_of_the_guides_sampling() {
        // 1000 roots at 1%: P(X < 2) = 0.00048 ≤ 0.0005 < P(X < 3); P(X > 22) ≤ 0.0005.
        // The normal bound used before said [0, 21]: 0 passed a run where nothing arrived.
        assert_eq!(binomial_interval(1000, 0.01, SAMPLING_TAIL), (2, 22));
        assert_eq!(binomial_interval(10, 1.0, SAMPLING_TAIL), (10, 10));
        assert_eq!(binomial_interval(10, 0.0, SAMPLING_TAIL), (0, 0));
        // Symmetric at p = 1/2.
        let (lo, hi) = binomial_interval(100, 0.5, SAMPLING_TAIL);
        assert_eq!(lo + hi, 100);
        // Large N stays finite and centred on N·p.
        let (lo, hi) = binomial_interval(1_000_000, 0.01, SAMPLING_TAIL);
        assert!(lo < 10_000 && 10_000 < hi && hi - lo < 700, "{lo}..{hi}");
    }

    #[test]
    fn the_interval_is_where_the_tails_say() {
        // Brute force over exact binomial probabilities for a small case.
        let (n, p) = (30u64, 0.2_f64);
        let pmf = |k: u64| {
            let mut c = 1.0;
            for i in 0..k {
                c *= (n - i) as f64 / (i + 1) as f64;
            }
            c * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
        };
        let below = |k: u64| (0..k).map(pmf).sum::<f64>();
        let above = |k: u64| (k + 1..=n).map(pmf).sum::<f64>();
        let (lo, hi) = binomial_interval(n, p, SAMPLING_TAIL);
        assert!(below(lo) <= SAMPLING_TAIL && below(lo + 1) > SAMPLING_TAIL);
        assert!(above(hi) <= SAMPLING_TAIL && above(hi - 1) > SAMPLING_TAIL);
    }

    use lgtm_check_recorder::manifest::{MANIFEST_SCHEMA_VERSION, TraceRecord, TracesManifest};

    use crate::core::catalog::{CatalogError, validate};

    /// A server span of http-service: method, status, duration; with `legacy`, also
    /// the guide's old attribute names.
    fn http_trace(id: &str, method: &str, status: u16, ms: u64, legacy: bool) -> TraceRecord {
        let mut attributes = BTreeMap::from([
            ("http.request.method".to_string(), serde_json::json!(method)),
            (
                "http.response.status_code".to_string(),
                serde_json::json!(status),
            ),
        ]);
        if legacy {
            attributes.insert("http.method".into(), serde_json::json!(method));
            attributes.insert("http.status_code".into(), serde_json::json!(status));
        }
        TraceRecord {
            trace_id: id.into(),
            spans: vec![
                SpanRecord {
                    span_id: format!("{id}-root"),
                    parent_span_id: None,
                    name: format!("{method} /api/x"),
                    service: "rust-app".into(),
                    kind: "server".into(),
                    status: if status >= 500 { "error" } else { "unset" }.into(),
                    attributes,
                    start_unix_nanos: 1,
                    duration_nanos: ms * 1_000_000,
                },
                SpanRecord {
                    span_id: format!("{id}-db"),
                    parent_span_id: Some(format!("{id}-root")),
                    name: "SELECT x".into(),
                    service: "rust-app".into(),
                    kind: "client".into(),
                    status: "unset".into(),
                    attributes: BTreeMap::from([(
                        "db.system".to_string(),
                        serde_json::json!("postgresql"),
                    )]),
                    start_unix_nanos: 2,
                    duration_nanos: 1_000_000,
                },
            ],
        }
    }

    fn http_manifest(legacy: bool, with_post_5xx: bool) -> Manifest {
        let mut traces = vec![
            http_trace("get200", "GET", 200, 600, legacy),
            http_trace("post201", "POST", 201, 150, legacy),
            http_trace("get500", "GET", 500, 2, legacy),
        ];
        if with_post_5xx {
            traces.push(http_trace("post503", "POST", 503, 150, legacy));
        }
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            scenario: "http-service".into(),
            run_id: "r-http".into(),
            service: "rust-app".into(),
            environment: "production".into(),
            started_at_unix_ms: 1_000_000,
            finished_at_unix_ms: 1_001_000,
            services: vec![],
            logs: Default::default(),
            traces: TracesManifest {
                sampler_ratio: 1.0,
                roots_started: traces.len() as u64,
                traces,
                unsampled_trace_ids: vec![],
            },
            metrics: Default::default(),
            losses: vec![],
            pushback: vec![],
        }
    }

    fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
        checks.iter().find(|c| c.id == id).expect(id)
    }

    #[test]
    fn the_exact_lines_check_names_what_the_instrumentation_lost() {
        let mut m = http_manifest(false, false);
        assert_eq!(
            logs_checks("app", &m)[0].title,
            "every log line arrived in its stream, and no other"
        );
        m.losses = vec![
            lgtm_check_recorder::manifest::Loss::new("logs", "tracing-loki channel full", 6120),
            lgtm_check_recorder::manifest::Loss::new("traces", "span exporter failed the batch", 2),
        ];
        assert_eq!(
            logs_checks("app", &m)[0].title,
            "every log line arrived in its stream, and no other \
             (the instrumentation reported lines lost: 6120 at tracing-loki channel full)"
        );
        assert_eq!(
            traces_checks("app", &m)[0].title,
            "exactly the exported traces carry the run id \
             (the instrumentation reported traces lost: 2 at span exporter failed the batch)"
        );
    }

    fn ids(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn with_the_legacy_names_both_complex_checks_expect_exactly_the_post_5xx_traces() {
        let checks = guide_trace_checks(&http_manifest(true, true));
        for id in [
            "traceql.guide.complex.legacy",
            "traceql.guide.complex.semconv",
        ] {
            let c = find(&checks, id);
            assert_eq!(
                c.expect,
                Expectation::TraceIds {
                    ids: ids(&["post503"]),
                    exact: true
                },
                "{id}"
            );
            assert!(c.control.is_none(), "{id}");
        }
        assert!(
            find(&checks, "traceql.guide.complex.legacy")
                .query
                .text()
                .contains("span.http.method")
        );
    }

    #[test]
    fn without_the_legacy_names_the_legacy_query_must_match_nothing_beside_semconv() {
        let checks = guide_trace_checks(&http_manifest(false, true));
        let legacy = find(&checks, "traceql.guide.complex.legacy");
        assert!(matches!(legacy.expect, Expectation::MatchesNothing { .. }));
        let control = legacy.control.as_ref().expect("a positive control");
        assert_eq!(
            control.query,
            find(&checks, "traceql.guide.complex.semconv").query
        );
        assert_eq!(
            control.expect,
            Expectation::TraceIds {
                ids: ids(&["post503"]),
                exact: true
            }
        );
        assert_eq!(validate(&checks, |_| true), Ok(()));
    }

    #[test]
    fn a_workload_without_post_5xx_makes_the_catalog_refuse_the_complex_checks() {
        // The old catalog expected "0 traces" here, and an empty Tempo passed.
        let checks = guide_trace_checks(&http_manifest(true, false));
        assert_eq!(
            validate(&checks, |_| true),
            Err(CatalogError::EmptyExpectation {
                check: "traceql.guide.complex.legacy".into(),
                what: "set of traces"
            })
        );
        let checks = guide_trace_checks(&http_manifest(false, false));
        assert_eq!(
            validate(&checks, |_| true),
            Err(CatalogError::EmptyExpectation {
                check: "traceql.guide.complex.legacy (its control)".into(),
                what: "set of traces"
            })
        );
    }

    #[test]
    fn every_negative_guide_check_has_a_control_on_the_same_backend() {
        let m = http_manifest(false, true);
        let mut checks = guide_trace_checks(&m);
        checks.extend(guide_log_checks(&m));
        for c in &checks {
            if crate::core::catalog::is_negative(&c.expect) {
                let control = c.control.as_ref().unwrap_or_else(|| panic!("{}", c.id));
                assert!(
                    std::mem::discriminant(&control.query) == std::mem::discriminant(&c.query),
                    "{}: the control asks another kind of query",
                    c.id
                );
            }
        }
        let t2l = find(&checks, "traceql.guide.traces_to_logs.original");
        assert_eq!(
            t2l.control.as_ref().unwrap().expect,
            Expectation::TraceIds {
                ids: ids(&["get200"]),
                exact: false
            }
        );
    }

    #[test]
    fn sampling_expects_exactly_the_manifests_ids_within_the_exact_interval() {
        let mut m = http_manifest(false, true);
        m.traces.roots_started = 1000;
        m.traces.sampler_ratio = 0.01;
        let c = &sampling_checks("sampling", &m)[0];
        let Expectation::TraceCount {
            lo, hi, ids: got, ..
        } = &c.expect
        else {
            panic!("{:?}", c.expect)
        };
        assert_eq!((*lo, *hi), (2, 22));
        assert_eq!(*got, ids(&["get200", "post201", "get500", "post503"]));
        use crate::core::observed::{FoundTrace, Observed};
        let found = |v: &[&str]| {
            Observed::Traces(
                v.iter()
                    .map(|i| FoundTrace {
                        trace_id: i.to_string(),
                        root_service: None,
                        root_name: None,
                        duration_ms: None,
                    })
                    .collect(),
            )
        };
        let eval = |o| crate::core::expect::evaluate(&c.expect, &o);
        assert!(eval(found(&["get200", "post201", "get500", "post503"])).is_pass());
        // The right number, but not the sampled traces: the old count-only check passed.
        let v = eval(found(&["get200", "post201", "get500", "other"]));
        assert!(v.summary().contains("missing traces post503"), "{v:?}");
        // Nothing arrived: below the interval (the old bound [0, 21] passed it).
        assert!(!eval(found(&[])).is_pass());
    }

    #[test]
    fn the_regex_checks_guard_tempo_4329_on_the_users_traces() {
        let mut m = http_manifest(false, true);
        for t in &mut m.traces.traces {
            let root = &mut t.spans[0];
            let route = if root.name.starts_with("GET") {
                "/api/users"
            } else {
                "/api/orders"
            };
            root.attributes
                .insert("http.route".into(), serde_json::json!(route));
        }
        let checks = upgrade_trace_checks(&m);
        let users: BTreeSet<String> = traces_with(&m, |s| {
            attr_str(s, "http.route").as_deref() == Some("/api/users")
        });
        assert_eq!(users.len(), 2);
        for (id, regex) in [
            ("traceql.upgrade.regex_partial_match", "=~ \"users\""),
            (
                "traceql.upgrade.regex_explicit_wildcards",
                "=~ \".*users.*\"",
            ),
        ] {
            let c = find(&checks, id);
            assert!(c.title.contains("tempo#4329"), "{}", c.title);
            let Query::TraceQlSearch { query, .. } = &c.query else {
                panic!("{id}: {:?}", c.query)
            };
            assert!(
                query.contains(&format!("resource.run_id = \"{}\"", m.run_id))
                    && query.contains(regex),
                "{query}"
            );
            assert_eq!(
                c.expect,
                Expectation::TraceIds {
                    ids: users.clone(),
                    exact: true
                }
            );
        }
    }
}
