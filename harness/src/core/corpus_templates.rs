//! The generated part of the gate's corpus: one template table per language over the
//! workload's own labels, attributes and values ([`super::workload`]), covering each
//! language's constructs class by class (the classes of the PromQL compliance
//! tester, and their LogQL and TraceQL counterparts).
//!
//! Main items: [`LOGQL`], [`TRACEQL`], [`PROMQL`], [`generated`].

use super::corpus::{Ask, CorpusQuery, Language, Template};

const L: Language = Language::LogQl;
const T: Language = Language::TraceQl;
const P: Language = Language::PromQl;

/// LogQL: selectors, line filters, every parser, label filters and formats, unwrap,
/// range and vector aggregations, binary operations, `detected_level` and structured
/// metadata.
pub const LOGQL: &[Template] = &[
    Template {
        name: "logql.selector",
        language: L,
        ask: Ask::Range,
        pattern: "%sel%",
        axes: &[(
            "sel",
            &[
                r#"{job="lgtm-gate"}"#,
                r#"{job="lgtm-gate", service_name="checkout"}"#,
                r#"{job="lgtm-gate", service_name!="search"}"#,
                r#"{job="lgtm-gate", service_name=~"check.*|pay.*"}"#,
                r#"{job="lgtm-gate", env!~"d.*"}"#,
                r#"{job="lgtm-gate", format="plain", env="dev"}"#,
                r#"{service_name="payments"}"#,
                r#"{job=~"lgtm-.+", format!="json"}"#,
            ],
        )],
    },
    Template {
        name: "logql.line_filter",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate"} %op% "%needle%""#,
        axes: &[
            ("op", &["|=", "!=", "|~", "!~"]),
            (
                "needle",
                &[
                    "error",
                    "ERROR",
                    "users/1",
                    "u1[0-9]",
                    "(?i)warn",
                    "status=500",
                    "\\\"status\\\":404",
                ],
            ),
        ],
    },
    Template {
        name: "logql.line_filter_chain",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", service_name="%svc%"} %chain%"#,
        axes: &[
            ("svc", &["checkout", "search"]),
            (
                "chain",
                &[
                    r#"|= "GET" != "health""#,
                    r#"|~ "POST|GET" |= "orders""#,
                    r#"|= "error" or "warn""#,
                    r#"|= ip("10.0.0.0/8")"#,
                    r#"|> "<_> GET <_>""#,
                    r#"!> "<_> /health <_>""#,
                    r#"|= "" "#,
                ],
            ),
        ],
    },
    Template {
        name: "logql.json",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", format="json"} | json%params% | %filter%"#,
        axes: &[
            (
                "params",
                &[
                    "",
                    " status, method",
                    r#" tier="user.tier", uid="user.id""#,
                    r#" first_tag="tags[0]""#,
                    r#" user"#,
                ],
            ),
            (
                "filter",
                &[
                    "status >= 500",
                    r#"level="error""#,
                    r#"user_tier="gold""#,
                    r#"tier="gold""#,
                    r#"user=~".*u1.*""#,
                    "__error__=\"\"",
                ],
            ),
        ],
    },
    Template {
        name: "logql.logfmt",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", format="logfmt"} | logfmt%flags% | %filter%"#,
        axes: &[
            (
                "flags",
                &["", " --strict", " --keep-empty", " level, status"],
            ),
            (
                "filter",
                &[
                    "status >= 500",
                    "duration_ms > 1000",
                    r#"level=~"warn|error""#,
                    r#"user_tier!="free""#,
                    "bytes < 1KB",
                ],
            ),
        ],
    },
    Template {
        name: "logql.pattern",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", format="plain"} | pattern "<level> <method> <path> <status> <duration>ms <_>" | %filter%"#,
        axes: &[(
            "filter",
            &[
                r#"level="ERROR""#,
                "status >= 404",
                r#"path=~"/api/users/.*""#,
                "duration > 500",
                r#"method="POST" or status == 201"#,
            ],
        )],
    },
    Template {
        name: "logql.regexp",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", format="plain"} | regexp "%re%" | %filter%"#,
        axes: &[
            (
                "re",
                &[
                    r"(?P<level>\\w+) (?P<method>\\w+) (?P<path>\\S+) (?P<status>\\d+)",
                    r"user=(?P<user>u\\d+)",
                ],
            ),
            (
                "filter",
                &[r#"level="WARN""#, r#"user="u3""#, "status > 300"],
            ),
        ],
    },
    Template {
        name: "logql.unpack_and_decolorize",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", format="%fmt%"} | %stage%"#,
        axes: &[
            ("fmt", &["json", "plain"]),
            (
                "stage",
                &[
                    "unpack",
                    "decolorize",
                    "json | drop tags, trace_id",
                    "json | keep level, status",
                ],
            ),
        ],
    },
    Template {
        name: "logql.format",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate", format="%fmt%"} | %parser% | %format%"#,
        axes: &[
            ("fmt", &["json", "logfmt"]),
            ("parser", &["json", "logfmt"]),
            (
                "format",
                &[
                    r#"line_format "{{.method}} {{.status}}""#,
                    r#"line_format "{{ .user }}""#,
                    r#"line_format "{{.user_id | upper}} {{ .duration_ms | float64 | printf \"%.0f\" }}""#,
                    r#"label_format lvl=level"#,
                    r#"label_format status_text="{{ if eq .status \"500\" }}failed{{ else }}ok{{ end }}""#,
                ],
            ),
        ],
    },
    Template {
        name: "logql.range_aggregation",
        language: L,
        ask: Ask::Instant,
        pattern: r#"%fn%(%sel% [%range%])"#,
        axes: &[
            (
                "fn",
                &[
                    "count_over_time",
                    "rate",
                    "bytes_over_time",
                    "bytes_rate",
                    "absent_over_time",
                ],
            ),
            (
                "sel",
                &[
                    r#"{job="lgtm-gate"}"#,
                    r#"{job="lgtm-gate", service_name="checkout"} |= "error""#,
                    r#"{job="lgtm-gate", format="json"} | json | status >= 500"#,
                    r#"{job="lgtm-gate", service_name="nonexistent"}"#,
                ],
            ),
            ("range", &["1m", "5m"]),
        ],
    },
    Template {
        name: "logql.range_aggregation_over_time",
        language: L,
        ask: Ask::Range,
        pattern: r#"%fn%({job="lgtm-gate", format="%fmt%"} [%range%])"#,
        axes: &[
            ("fn", &["count_over_time", "rate", "bytes_over_time"]),
            ("fmt", &["json", "plain"]),
            ("range", &["30s", "2m"]),
        ],
    },
    Template {
        name: "logql.vector_aggregation",
        language: L,
        ask: Ask::Instant,
        pattern: r#"%agg% %by% (count_over_time({job="lgtm-gate"} %pipe% [5m]))"#,
        axes: &[
            (
                "agg",
                &["sum", "avg", "max", "min", "count", "stddev", "stdvar"],
            ),
            (
                "by",
                &["by (service_name)", "without (format)", "by (level)"],
            ),
            ("pipe", &["", "| logfmt"]),
        ],
    },
    Template {
        name: "logql.topk_sort",
        language: L,
        ask: Ask::Instant,
        pattern: "%fn%",
        axes: &[
            (
                "fn",
                &[
                    "topk(2, %in%)",
                    "bottomk(1, %in%)",
                    "sort(%in%)",
                    "sort_desc(%in%)",
                ],
            ),
            (
                "in",
                &[r#"sum by (service_name, format) (bytes_over_time({job="lgtm-gate"} [5m]))"#],
            ),
        ],
    },
    Template {
        name: "logql.unwrap",
        language: L,
        ask: Ask::Instant,
        pattern: "%fn%%by%",
        axes: &[
            (
                "fn",
                &[
                    "sum_over_time(%r%)",
                    "avg_over_time(%r%)",
                    "max_over_time(%r%)",
                    "min_over_time(%r%)",
                    "first_over_time(%r%)",
                    "last_over_time(%r%)",
                    "stdvar_over_time(%r%)",
                    "stddev_over_time(%r%)",
                    "quantile_over_time(0.9, %r%)",
                    "rate(%r%)",
                    "rate_counter(%r%)",
                ],
            ),
            (
                "r",
                &[r#"{job="lgtm-gate", format="logfmt"} | logfmt | unwrap %field% %err% [5m]"#],
            ),
            ("field", &["duration_ms", "bytes", "bytes(bytes)"]),
            ("err", &["", "| __error__=\"\""]),
            ("by", &[""]),
        ],
    },
    Template {
        name: "logql.unwrap_grouped",
        language: L,
        ask: Ask::Instant,
        pattern: r#"%fn%({job="lgtm-gate", format="logfmt"} | logfmt | unwrap duration_ms [5m]) by (%by%)"#,
        axes: &[
            (
                "fn",
                &[
                    "avg_over_time",
                    "max_over_time",
                    "min_over_time",
                    "stddev_over_time",
                    "first_over_time",
                    "last_over_time",
                ],
            ),
            ("by", &["service_name", "level, method"]),
        ],
    },
    Template {
        name: "logql.unwrap_duration",
        language: L,
        ask: Ask::Instant,
        pattern: r#"%fn%({job="lgtm-gate", format="plain"} | pattern "<_> <_> <_> <_> <d> <_>" | unwrap duration(d) [5m])"#,
        axes: &[("fn", &["sum_over_time", "max_over_time", "avg_over_time"])],
    },
    Template {
        name: "logql.binary",
        language: L,
        ask: Ask::Instant,
        pattern: r#"%expr%"#,
        axes: &[(
            "expr",
            &[
                r#"sum(count_over_time({job="lgtm-gate"} |= "error" [5m])) / sum(count_over_time({job="lgtm-gate"} [5m]))"#,
                r#"sum by (service_name) (count_over_time({job="lgtm-gate"} [5m])) > 50"#,
                r#"sum by (service_name) (count_over_time({job="lgtm-gate"} [5m])) > bool 50"#,
                r#"sum by (service_name) (rate({job="lgtm-gate"} [5m])) * 60"#,
                r#"count_over_time({job="lgtm-gate", format="json"} [5m]) and on (service_name) count_over_time({job="lgtm-gate", format="plain"} |= "ERROR" [5m])"#,
                r#"count_over_time({job="lgtm-gate", format="json"} [5m]) unless on (service_name) count_over_time({job="lgtm-gate", service_name="search"} [5m])"#,
                r#"vector(1) + sum(count_over_time({job="lgtm-gate"}[5m]))"#,
                r#"label_replace(sum by (service_name) (count_over_time({job="lgtm-gate"}[5m])), "svc", "$1", "service_name", "(.*)out")"#,
            ],
        )],
    },
    Template {
        name: "logql.detected_level",
        language: L,
        ask: Ask::Instant,
        pattern: r#"sum by (%by%) (count_over_time({job="lgtm-gate"%sel%} [5m]))"#,
        axes: &[
            ("by", &["detected_level", "level", "format, detected_level"]),
            ("sel", &["", r#", format="plain""#, r#", format="json""#]),
        ],
    },
    Template {
        name: "logql.structured_metadata",
        language: L,
        ask: Ask::Range,
        pattern: r#"{job="lgtm-gate"} | %filter%"#,
        axes: &[(
            "filter",
            &[
                r#"pod="checkout-0""#,
                r#"pod=~"pay.*-1""#,
                r#"detected_level="error""#,
                r#"detected_level=~"warn|error""#,
                r#"trace_id!="""#,
                r#"pod="checkout-0" | json | status=500"#,
            ],
        )],
    },
    Template {
        name: "logql.structured_metadata_metric",
        language: L,
        ask: Ask::Instant,
        pattern: r#"sum by (%by%) (count_over_time({job="lgtm-gate"} | %filter% [5m]))"#,
        axes: &[
            ("by", &["pod", "service_name"]),
            ("filter", &[r#"pod!="""#, r#"trace_id=~"[0-7].*""#]),
        ],
    },
];

/// TraceQL: scopes and intrinsics, regexes, spanset and structural operators,
/// aggregates, `select`, `by`, and the metrics functions with `by`.
pub const TRACEQL: &[Template] = &[
    Template {
        name: "traceql.condition",
        language: T,
        ask: Ask::Search,
        pattern: "{ %cond% }",
        axes: &[(
            "cond",
            &[
                r#"resource.service.name = "checkout""#,
                r#".service.name = "payments""#,
                r#"resource.deployment.environment = "dev""#,
                "span.http.response.status_code >= 500",
                ".http.response.status_code = 404",
                r#"span.http.route = "/api/orders""#,
                r#"span.user.tier != "gold""#,
                r#"name = "SELECT users""#,
                "kind = server",
                "kind = client",
                "status = error",
                "status = ok",
                "status != unset",
                r#"statusMessage = "internal error""#,
                "duration > 1s",
                "duration < 10ms",
                r#"rootServiceName = "search""#,
                r#"rootName = "run batch""#,
                "traceDuration > 2s",
                r#"event.exception.type = "TimeoutError""#,
                r#"event:name = "exception""#,
                r#"trace:rootService = "checkout""#,
                r#"span:name = "charge card""#,
                "span:duration > 500ms",
                "span.item.index < 10",
                "span.item.ok = false",
                "span.payment.amount > 50.5",
                "span.gate.index >= 30",
                r#"span.db.system = "postgresql" && span.db.statement =~ ".*users.*""#,
                "nestedSetParent = -1",
                "true",
                r#"resource.gate.seed = "42""#,
                r#"span.http.request.method = "POST" || span.http.response.status_code = 201"#,
                "span.missing.attribute = nil",
                "span.http.route != nil",
            ],
        )],
    },
    Template {
        name: "traceql.regex",
        language: T,
        ask: Ask::Search,
        pattern: r#"{ %attr% %op% "%re%" }"#,
        axes: &[
            (
                "attr",
                &["span.http.route", "name", "resource.service.name"],
            ),
            ("op", &["=~", "!~"]),
            (
                "re",
                &[
                    "users",
                    "/api/.*",
                    ".*orders",
                    "check.*",
                    "GET.*|POST.*",
                    "(?i)select.*",
                ],
            ),
        ],
    },
    Template {
        name: "traceql.spanset_op",
        language: T,
        ask: Ask::Search,
        pattern: "{ %a% } %op% { %b% }",
        axes: &[
            (
                "a",
                &[r#"resource.service.name = "checkout""#, "kind = server"],
            ),
            ("op", &["&&", "||"]),
            (
                "b",
                &[r#"resource.service.name = "payments""#, "status = error"],
            ),
        ],
    },
    Template {
        name: "traceql.structural",
        language: T,
        ask: Ask::Search,
        pattern: "{ %a% } %op% { %b% }",
        axes: &[
            ("a", &["kind = server", r#"name = "POST /api/orders""#]),
            (
                "op",
                &[
                    ">>", ">", "<<", "<", "~", "!>>", "!>", "!<<", "!<", "!~", "&>>", "&>", "&<<",
                    "&<", "&~",
                ],
            ),
            ("b", &[r#"name = "charge card""#, "kind = client"]),
        ],
    },
    Template {
        name: "traceql.aggregate",
        language: T,
        ask: Ask::Search,
        pattern: "{ %cond% } | %agg%",
        axes: &[
            (
                "cond",
                &[
                    "true",
                    r#"resource.service.name = "batch""#,
                    "kind = server",
                ],
            ),
            (
                "agg",
                &[
                    "count() > 1",
                    "count() > 100",
                    "count() = 1",
                    "avg(duration) > 100ms",
                    "max(duration) > 1s",
                    "min(duration) < 5ms",
                    "sum(span.payment.amount) > 10",
                    "min(span.http.response.status_code) >= 500",
                ],
            ),
        ],
    },
    Template {
        name: "traceql.select_and_by",
        language: T,
        ask: Ask::Search,
        pattern: "{ %cond% } | %stage%",
        axes: &[
            (
                "cond",
                &["kind = server", r#"resource.service.name = "batch""#],
            ),
            (
                "stage",
                &[
                    "select(span.http.route, resource.service.name)",
                    "select(span.item.index, duration)",
                    "by(resource.service.name) | count() > 1",
                    "by(span.http.route) | avg(duration) > 1ms",
                    "coalesce()",
                ],
            ),
        ],
    },
    Template {
        name: "traceql.metrics",
        language: T,
        ask: Ask::TraceMetrics,
        pattern: "{ %cond% } | %fn%%by%",
        axes: &[
            ("cond", &["true", "kind = server", "status = error"]),
            (
                "fn",
                &[
                    "rate()",
                    "count_over_time()",
                    "quantile_over_time(duration, .5, .9)",
                    "histogram_over_time(duration)",
                    "min_over_time(duration)",
                    "max_over_time(duration)",
                    "avg_over_time(duration)",
                    "sum_over_time(duration)",
                ],
            ),
            (
                "by",
                &["", " by (resource.service.name)", " by (span.http.route)"],
            ),
        ],
    },
    Template {
        name: "traceql.metrics_compare",
        language: T,
        ask: Ask::TraceMetrics,
        pattern: "{ %cond% } | %fn%",
        axes: &[
            ("cond", &["true", r#"resource.service.name = "checkout""#]),
            (
                "fn",
                // Not `compare()`: it answers the top ten values of every attribute,
                // ties broken at random, so two stacks of one image differ.
                &[
                    "rate() by (resource.service.name) | topk(1)",
                    "count_over_time() by (span.http.route) | bottomk(2)",
                ],
            ),
        ],
    },
];

/// PromQL: the compliance tester's classes (selectors, range functions, aggregations,
/// binary operators and vector matching, functions, offset and `@`, subqueries,
/// histograms).
pub const PROMQL: &[Template] = &[
    Template {
        name: "promql.selector",
        language: P,
        ask: Ask::Range,
        pattern: "%sel%",
        axes: &[(
            "sel",
            &[
                "gate_http_requests_total",
                r#"gate_http_requests_total{service="checkout"}"#,
                r#"gate_http_requests_total{status!="200"}"#,
                r#"gate_http_requests_total{route=~"/api/.*", method!~"G.*"}"#,
                r#"{__name__=~"gate_inflight.*"}"#,
                r#"{__name__="gate_temperature_celsius", sensor="a"}"#,
                r#"gate_http_requests_total{service=""}"#,
                r#"{job="lgtm-gate", __name__!~"gate_http.*"}"#,
            ],
        )],
    },
    Template {
        name: "promql.range_function",
        language: P,
        ask: Ask::Range,
        pattern: "%fn%",
        axes: &[
            (
                "fn",
                &[
                    "rate(%m%)",
                    "irate(%m%)",
                    "increase(%m%)",
                    "delta(%m%)",
                    "idelta(%m%)",
                    "deriv(%m%)",
                    "changes(%m%)",
                    "resets(%m%)",
                    "avg_over_time(%m%)",
                    "min_over_time(%m%)",
                    "max_over_time(%m%)",
                    "sum_over_time(%m%)",
                    "count_over_time(%m%)",
                    "stddev_over_time(%m%)",
                    "stdvar_over_time(%m%)",
                    "last_over_time(%m%)",
                    "present_over_time(%m%)",
                    "absent_over_time(%m%)",
                    "quantile_over_time(0.75, %m%)",
                    "predict_linear(%m%, 60)",
                ],
            ),
            ("m", &["%sel%[%range%]"]),
            (
                "sel",
                &[
                    r#"gate_http_requests_total{service="checkout"}"#,
                    "gate_temperature_celsius",
                ],
            ),
            ("range", &["1m", "5m"]),
        ],
    },
    Template {
        name: "promql.aggregation",
        language: P,
        ask: Ask::Range,
        pattern: "%agg% %grouping% (%expr%)",
        axes: &[
            (
                "agg",
                &[
                    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
                ],
            ),
            (
                "grouping",
                &["", "by (service)", "without (instance, route)"],
            ),
            (
                "expr",
                &[
                    "rate(gate_http_requests_total[1m])",
                    "gate_inflight_requests",
                ],
            ),
        ],
    },
    Template {
        name: "promql.aggregation_param",
        language: P,
        ask: Ask::Range,
        pattern: "%agg% by (service) (%param%, %expr%)",
        axes: &[
            ("agg", &["topk", "bottomk", "quantile", "limitk"]),
            ("param", &["2", "0.5"]),
            (
                "expr",
                &["gate_inflight_requests", "gate_temperature_celsius"],
            ),
        ],
    },
    Template {
        name: "promql.binary",
        language: P,
        ask: Ask::Range,
        pattern: "%lhs% %op% %rhs%",
        axes: &[
            (
                "lhs",
                &[
                    "gate_inflight_requests",
                    "sum by (service) (gate_http_requests_total)",
                ],
            ),
            (
                "op",
                &[
                    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "> bool",
                    "atan2",
                ],
            ),
            ("rhs", &["3", "on (service) gate_inflight_requests"]),
        ],
    },
    Template {
        name: "promql.vector_matching",
        language: P,
        ask: Ask::Range,
        pattern: "%expr%",
        axes: &[(
            "expr",
            &[
                "gate_http_requests_total / on (service) group_left gate_inflight_requests",
                "gate_inflight_requests * on (service) group_right sum by (service, status) (gate_http_requests_total)",
                "gate_http_requests_total and gate_http_requests_total{status=\"500\"}",
                "gate_http_requests_total or gate_inflight_requests",
                "gate_http_requests_total unless on (service) gate_inflight_requests{service=\"search\"}",
                "gate_http_requests_total / ignoring (status) group_left sum without (status) (gate_http_requests_total)",
                "gate_temperature_celsius > on () group_left vector(0)",
            ],
        )],
    },
    Template {
        name: "promql.function",
        language: P,
        ask: Ask::Range,
        pattern: "%fn%(gate_temperature_celsius%args%)",
        axes: &[
            (
                "fn",
                &[
                    "abs",
                    "ceil",
                    "floor",
                    "round",
                    "sqrt",
                    "exp",
                    "ln",
                    "log2",
                    "log10",
                    "sgn",
                    "sort",
                    "sort_desc",
                    "absent",
                    "sin",
                    "cos",
                    "deg",
                    "rad",
                ],
            ),
            ("args", &[""]),
        ],
    },
    Template {
        name: "promql.function_args",
        language: P,
        ask: Ask::Range,
        pattern: "%expr%",
        axes: &[(
            "expr",
            &[
                "clamp(gate_temperature_celsius, -5, 5)",
                "clamp_min(gate_temperature_celsius, 0)",
                "clamp_max(gate_temperature_celsius, 0)",
                "round(gate_temperature_celsius, 5)",
                "timestamp(gate_inflight_requests) - time()",
                "scalar(sum(gate_inflight_requests)) * 2",
                "vector(1)",
                "absent(nonexistent_metric{job=\"lgtm-gate\"})",
                "label_replace(gate_inflight_requests, \"svc\", \"$1\", \"service\", \"(.*)out\")",
                "label_join(gate_inflight_requests, \"id\", \"-\", \"service\", \"instance\")",
                "sort_by_label(gate_inflight_requests, \"service\")",
                "histogram_quantile(0.9, sum by (le) (rate(gate_http_request_duration_seconds_bucket[5m])))",
                "histogram_quantile(0.5, sum by (service, le) (rate(gate_http_request_duration_seconds_bucket[1m])))",
                "histogram_quantile(0.99, rate(gate_http_request_duration_seconds_bucket[5m]))",
                "rate(gate_http_request_duration_seconds_sum[5m]) / rate(gate_http_request_duration_seconds_count[5m])",
                "holt_winters(gate_temperature_celsius[5m], 0.5, 0.5)",
                "double_exponential_smoothing(gate_temperature_celsius[5m], 0.5, 0.5)",
                "mad_over_time(gate_temperature_celsius[5m])",
                "limitk(1, gate_inflight_requests)",
                "count_values(\"value\", gate_inflight_requests)",
                "limit_ratio(0.5, gate_inflight_requests)",
            ],
        )],
    },
    Template {
        name: "promql.offset_at",
        language: P,
        ask: Ask::Range,
        pattern: "%expr%",
        axes: &[(
            "expr",
            &[
                "gate_inflight_requests offset 1m",
                "gate_inflight_requests offset -30s",
                "rate(gate_http_requests_total[1m] offset 2m)",
                "gate_inflight_requests @ end()",
                "gate_inflight_requests @ start()",
                "sum_over_time(gate_inflight_requests[1m] @ end())",
            ],
        )],
    },
    Template {
        name: "promql.subquery",
        language: P,
        ask: Ask::Range,
        pattern: "%fn%(%inner%[%range%:%step%])",
        axes: &[
            ("fn", &["max_over_time", "avg_over_time", "rate"]),
            (
                "inner",
                &[
                    "rate(gate_http_requests_total{service=\"search\"}[1m])",
                    "gate_temperature_celsius",
                ],
            ),
            ("range", &["2m", "5m"]),
            ("step", &["", "30s"]),
        ],
    },
    Template {
        name: "promql.instant",
        language: P,
        ask: Ask::Instant,
        pattern: "%expr%",
        axes: &[(
            "expr",
            &[
                "gate_http_requests_total",
                "count({job=\"lgtm-gate\"})",
                "count by (__name__) ({job=\"lgtm-gate\"})",
                "increase(gate_http_requests_total[5m])",
                "sum(rate(gate_http_requests_total[5m])) by (status)",
                "histogram_quantile(0.9, sum by (le) (rate(gate_http_request_duration_seconds_bucket[5m])))",
                "topk(3, gate_temperature_celsius)",
                "gate_http_requests_total[1m]",
            ],
        )],
    },
];

/// Every generated query, in table order (LogQL, TraceQL, PromQL).
///
/// ```
/// use lgtm_check::core::corpus::Language;
/// use lgtm_check::core::corpus_templates::generated;
///
/// let all = generated();
/// for language in Language::ALL {
///     assert!(all.iter().filter(|q| q.language == language).count() >= 100);
/// }
/// ```
pub fn generated() -> Vec<CorpusQuery> {
    LOGQL
        .iter()
        .chain(TRACEQL)
        .chain(PROMQL)
        .flat_map(Template::expand)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_placeholder_is_filled_and_no_query_repeats() {
        let all = generated();
        let mut seen = BTreeSet::new();
        let placeholder = regex::Regex::new(r"%[a-z]+%").unwrap();
        for q in &all {
            assert!(
                !q.query.contains("%fn%") && !placeholder.is_match(&q.query),
                "unfilled placeholder in {}",
                q.query
            );
            assert!(
                seen.insert((q.language, q.ask, q.query.clone())),
                "repeated: {}",
                q.query
            );
        }
    }

    #[test]
    fn every_template_names_its_language() {
        for t in LOGQL.iter().chain(TRACEQL).chain(PROMQL) {
            assert!(t.name.starts_with(t.language.name()), "{}", t.name);
            for (i, (axis, values)) in t.axes.iter().enumerate() {
                // An axis fills the pattern, or the values of an earlier axis.
                let placeholder = format!("%{axis}%");
                assert!(
                    t.pattern.contains(&placeholder)
                        || t.axes[..i]
                            .iter()
                            .any(|(_, vs)| vs.iter().any(|v| v.contains(&placeholder))),
                    "{}: {placeholder}",
                    t.name
                );
                assert!(!values.is_empty(), "{}: {axis}", t.name);
            }
        }
    }
}
