//! `lgtm-check run --target external` as a deployment is used: the harness's own
//! Stack (Loki 3.2.0, Tempo 2.6.0, Cortex 1.18.1 in the Mimir role), started once for
//! the module's tests (a `SharedStack`), is verified through its URLs alone: the
//! scenarios push logs to Loki, spans over OTLP/gRPC and metrics by remote write, and
//! every check queries the deployment; `lgtm-check app --target external` runs a
//! program against it the same way. Then the connection errors, each with its own name, against real
//! sockets: a refused port, a name that does not resolve, plain HTTP to a TLS port,
//! and a port that is not HTTP; 401 and 403 from a local HTTP server that answers as
//! an auth proxy does (no proxy image exists here yet); a wrong tenant, whose pushes
//! are accepted while the data stays invisible to the tenant asked.
//!
//! The live cases are skipped, with the reason, when Docker, an image or the scenario
//! binary is missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

use lgtm_check::core::component::Component;
use lgtm_check::{SharedStack, Stack};

const IMAGES: [&str; 3] = [
    "grafana/loki:3.2.0",
    "grafana/tempo:2.6.0",
    "cortexproject/cortex:v1.18.1",
];

/// Why the live cases cannot run here, if they cannot.
fn missing() -> Option<String> {
    common::cannot_run(&IMAGES.map(String::from))
}

fn skip(why: String) {
    if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("cannot run: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// Runs `lgtm-check run --target external` without the caller's `LGTM_CHECK_*`,
/// `OTEL_*` and `DOCKER_HOST`, in an empty directory (no lgtm-check.toml), with
/// `args` and the variables `env`; returns the exit code, stdout, stderr and the JSON
/// report.
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, serde_json::Value) {
    let r = common::run_external(args, env);
    (r.code, r.stdout, r.stderr, r.report)
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn component<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["components"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no component {name} in {report:#}"))
}

/// The deployment the live cases verify: one stack for the module's tests (each
/// looks only at its own run id), removed when the test process exits.
static STACK: SharedStack = SharedStack::new();

fn stack() -> Option<&'static Stack> {
    if let Some(why) = missing() {
        skip(why);
        return None;
    }
    Some(
        STACK
            .get_or_start(|| {
                Stack::builder()
                    .components([Component::Loki, Component::Tempo, Component::Mimir])
                    .image(Component::Loki, IMAGES[0].parse().unwrap())
                    .image(Component::Tempo, IMAGES[1].parse().unwrap())
                    .image(Component::Mimir, IMAGES[2].parse().unwrap())
            })
            .expect("the stack starts"),
    )
}

/// The flags that point `lgtm-check` at `stack` as a running deployment.
fn target_flags(stack: &Stack) -> Vec<String> {
    [
        ("--loki-url", stack.loki_url()),
        ("--tempo-url", stack.url(Component::Tempo)),
        ("--otlp-url", stack.otlp_grpc_url()),
        ("--prometheus-url", stack.prometheus_query_url()),
        ("--remote-write-url", stack.remote_write_url()),
    ]
    .into_iter()
    .flat_map(|(flag, url)| [flag.to_owned(), url.unwrap()])
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_deployment_is_verified_through_its_urls_alone() {
    let Some(stack) = stack() else { return };
    let mut args = target_flags(stack);
    args.extend(["--check-timeout".to_owned(), "60".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr, report) = run(&args, &[]);
    let statuses: Vec<String> = report["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| format!("{} {} {}", c["status"], c["id"], c["reason"]))
                .collect()
        })
        .unwrap_or_default();
    eprintln!("{}", statuses.join("\n"));
    // The target is named, in both reports.
    let target = report["target"].as_str().unwrap_or_default();
    assert!(
        target.starts_with(&format!(
            "external (loki {}; tempo {}; otlp (grpc) {}",
            stack.loki_url().unwrap(),
            stack.url(Component::Tempo).unwrap(),
            stack.otlp_grpc_url().unwrap()
        )),
        "{target}\n{stderr}"
    );
    assert!(stdout.contains(&format!("target: {target}")), "{stdout}");
    // Ready with the versions they report; the Prometheus role is the scenarios'
    // remote write, and Grafana is not part of the target.
    assert_eq!(component(&report, "loki")["version"], "3.2.0", "{report:#}");
    assert_eq!(component(&report, "tempo")["status"], "ready");
    assert_eq!(component(&report, "mimir")["status"], "ready");
    assert_eq!(
        component(&report, "prometheus")["stand_in"],
        "remote write from the scenarios"
    );
    assert_eq!(component(&report, "grafana")["status"], "skipped");
    // Each signal verified exactly, metrics included (pushed, not scraped).
    for id in [
        "http.logs.exact",
        "http.traces.exact_ids",
        "http.traces.span_trees",
        "chain.traces.span_trees",
        "metrics.http_requests_total.exact",
        "metrics.http_request_duration_seconds.buckets",
        "promql.guide.request_rate",
        "promql.guide.p95_latency",
        "promql.process_cpu",
        "logql.guide.json_level",
        "traceql.guide.complex.semconv",
    ] {
        let c = check(&report, id);
        assert_eq!(c["status"], "pass", "{id}: {c:#}\n{stdout}");
    }
    let grafana = check(&report, "grafana.health");
    assert_eq!(grafana["status"], "skip");
    assert!(
        grafana["reason"]
            .as_str()
            .unwrap()
            .contains("not checked on an external target"),
        "{grafana:#}"
    );
    assert_eq!(
        check(&report, "config.loki.retention_period")["status"],
        "skip"
    );
    assert_eq!(report["summary"]["failed"], 0, "{stdout}");
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

/// The named error of the single component given, from the JSON report; the run
/// fails (exit 1) and no check passes.
fn preflight_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let (code, stdout, stderr, report) = run(args, env);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(report["summary"]["passed"], 0, "{report:#}");
    let loki = component(&report, "loki");
    assert_eq!(loki["status"], "failed", "{report:#}");
    let reason = loki["reason"].as_str().unwrap().to_owned();
    // The checks that need it are skipped, saying so.
    let c = check(&report, "http.logs.exact");
    assert_eq!(c["status"], "skip");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("loki failed its preflight"),
        "{c:#}"
    );
    for text in [&stdout, &stderr, &report.to_string()] {
        assert!(!text.contains("CanaryPass"), "a secret printed: {text}");
    }
    reason
}

/// A local server that answers every request with `status` and `body`, as an auth
/// proxy in front of Loki does for refused credentials.
async fn answering(status: u16, body: &'static str) -> String {
    use axum::http::StatusCode;
    let app = axum::Router::new()
        .fallback(move || async move { (StatusCode::from_u16(status).unwrap(), body) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A port that accepts and answers bytes that are not HTTP.
async fn not_http() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            // A TLS alert record (handshake failure), as a TLS server sends to a
            // client that speaks plain HTTP.
            let _ = socket
                .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                .await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn each_connection_failure_has_its_own_name() {
    let user = [("--user", "checker")];
    let with_user: Vec<&str> = user.iter().flat_map(|(k, v)| [*k, *v]).collect();
    let password = [("LGTM_CHECK_PASSWORD", "CanaryPass1")];

    // Port 9 (discard) refuses connections here.
    let refused = preflight_error(&["--loki-url", "http://127.0.0.1:9"], &[]);
    assert!(refused.contains("connection refused"), "{refused}");

    let dns = preflight_error(
        &["--loki-url", "http://loki.does-not-exist.invalid:3100"],
        &[],
    );
    assert!(dns.contains("does not resolve (DNS)"), "{dns}");

    let tls = preflight_error(&["--loki-url", &not_http().await], &[]);
    assert!(tls.contains("TLS failure"), "{tls}");

    let proxy_401 = answering(401, "<html>401 Authorization Required</html>").await;
    let mut args = vec!["--loki-url", proxy_401.as_str()];
    args.extend(&with_user);
    let unauthorized = preflight_error(&args, &password);
    assert!(
        unauthorized.contains("credentials were refused (HTTP 401)"),
        "{unauthorized}"
    );

    let proxy_403 = answering(403, "<html>403 Forbidden</html>").await;
    let mut args = vec!["--loki-url", proxy_403.as_str()];
    args.extend(&with_user);
    let forbidden = preflight_error(&args, &password);
    assert!(
        forbidden.contains("access forbidden (HTTP 403)"),
        "{forbidden}"
    );

    // What Loki with auth_enabled answers a request without a tenant.
    let no_tenant = answering(401, "no org id\n").await;
    let missing = preflight_error(&["--loki-url", &no_tenant], &[]);
    assert!(missing.contains("carries no tenant"), "{missing}");
}

#[test]
fn input_that_is_malformed_before_anything_runs_exits_2_with_its_name() {
    let (code, _, stderr, _) = run(&["--loki-url", "loki:3100"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .contains("loki-url (--loki-url, LGTM_CHECK_LOKI_URL): `loki:3100` is not a valid URL"),
        "{stderr}"
    );
    let (code, _, stderr, _) = run(&["--loki-url", "http://127.0.0.1:9", "--user", "u"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the password of --user u: the variable LGTM_CHECK_PASSWORD is not set"),
        "{stderr}"
    );
    let (code, _, stderr, _) = run(&["--loki-url", "http://u:CanaryPass2@127.0.0.1:9"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("CanaryPass2"), "{stderr}");

    // A file with a key it does not know (a password, say) is refused, named.
    let file = std::env::temp_dir().join(format!("lgtm-check-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "[external]\nloki-url = \"http://127.0.0.1:9\"\npassword = \"CanaryPass3\"\n",
    )
    .unwrap();
    let (code, _, stderr, _) = run(&["--config", file.to_str().unwrap()], &[]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {}", file.display()))
            && stderr.contains("unknown field `password`"),
        "{stderr}"
    );
    assert!(!stderr.contains("CanaryPass3"), "{stderr}");
}

/// OTLP/HTTP protobuf requests of one program run `run_id`: a trace of two spans, two
/// log records (one written inside the root span) and two metric points (a gauge
/// and a monotonic sum), stamped now.
mod program {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        metric, number_data_point,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    pub const TRACE_ID: [u8; 16] = [0x5e; 16];

    fn kv(key: &str, v: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn resource(run_id: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv("service.name", "recorded-shop"), kv("run_id", run_id)],
            ..Default::default()
        })
    }

    fn now_ns() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    pub fn traces(run_id: &str) -> ExportTraceServiceRequest {
        let t = now_ns();
        let span = |id: u8, parent: Option<u8>, name: &str| Span {
            trace_id: TRACE_ID.to_vec(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0x5e, id],
            parent_span_id: parent
                .map(|p| vec![0, 0, 0, 0, 0, 0, 0x5e, p])
                .unwrap_or_default(),
            name: name.into(),
            kind: if parent.is_none() { 2 } else { 3 },
            start_time_unix_nano: t - 50_000_000,
            end_time_unix_nano: t,
            attributes: vec![kv("order.id", "42")],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(run_id),
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(1, None, "POST /orders"),
                        span(2, Some(1), "charge card"),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    pub fn logs(run_id: &str) -> ExportLogsServiceRequest {
        let t = now_ns();
        let record = |i: u64, body: &str, in_span: bool| LogRecord {
            time_unix_nano: t + i,
            observed_time_unix_nano: t + i,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.into())),
            }),
            trace_id: if in_span {
                TRACE_ID.to_vec()
            } else {
                Vec::new()
            },
            span_id: if in_span {
                vec![0, 0, 0, 0, 0, 0, 0x5e, 1]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(run_id),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        record(1, "order 42 received", true),
                        record(2, "queue drained", false),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    pub fn metrics(run_id: &str) -> ExportMetricsServiceRequest {
        let t = now_ns();
        let point = |v: f64| NumberDataPoint {
            start_time_unix_nano: t - 10_000_000_000,
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsDouble(v)),
            attributes: vec![kv("queue", "orders")],
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(run_id),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "recorded_queue_depth".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![point(7.0)],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "recorded_orders".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: vec![point(3.0)],
                                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                                is_monotonic: true,
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taps_record_is_checked_against_the_deployment_it_went_to() {
    use prost::Message as _;
    let Some(stack) = stack() else { return };
    let mut target = target_flags(stack);
    target.extend([
        "--metrics-otlp-url".to_owned(),
        stack.metrics_otlp_url().unwrap(),
    ]);
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    let dir = std::env::temp_dir().join(format!("lgtm-check-tap-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("record.json");
    let run_id = format!("tap-live-{}", std::process::id());

    // 1. The tap in front of the stack's URLs; a program's three signals through it.
    let http_port = common::free_port();
    let mut tap = std::process::Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("LGTM_CHECK_") || k.starts_with("OTEL_") || k == "DOCKER_HOST" {
            tap.env_remove(&key);
        }
    }
    let child = tap
        .current_dir(&dir)
        .args(["tap", "--target", "external"])
        .args(&target)
        .args(["--record", record.to_str().unwrap(), "--run-id", &run_id])
        .args(["--grpc-port", &common::free_port().to_string()])
        .args(["--http-port", &http_port.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http_port}");
    common::wait_ready(&base).await;
    for (path, body) in [
        ("/v1/traces", program::traces(&run_id).encode_to_vec()),
        ("/v1/logs", program::logs(&run_id).encode_to_vec()),
        ("/v1/metrics", program::metrics(&run_id).encode_to_vec()),
    ] {
        let answer = http
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            answer.text().await.unwrap_or_default()
        );
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");

    // 3 (judged below, asked at the same time as 2). A record that claims one span
    // more than was sent: that span is missing. It can only fail (the rest was
    // acknowledged in 1), so its check waits 5 s, not 60.
    let text = std::fs::read_to_string(&record).unwrap();
    let mut claimed = lgtm_check::core::record::Record::parse(&text, "record.json").unwrap();
    let mut extra = claimed.spans[1].clone();
    extra.span_id = "00000000005e0009".into();
    extra.name = "never sent".into();
    claimed.spans.push(extra);
    let claimed_path = dir.join("claimed.json");
    std::fs::write(&claimed_path, serde_json::to_string(&claimed).unwrap()).unwrap();
    let claimed_run = {
        let mut args: Vec<String> = target.iter().map(|a| a.to_string()).collect();
        let claimed_arg = claimed_path.to_str().unwrap().to_owned();
        args.extend([
            "--record".into(),
            claimed_arg,
            "--check-timeout".into(),
            "5".into(),
        ]);
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args, &[])
        })
    };

    // 2. The record checked against the same target: every tap.* check passes.
    let record_arg = record.to_str().unwrap().to_owned();
    let mut args = target.clone();
    args.extend(["--record", &record_arg, "--check-timeout", "60"]);
    let (code, stdout, stderr, report) = run(&args, &[]);
    let statuses: Vec<String> = report["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| format!("{} {} {}", c["status"], c["id"], c["reason"]))
                .collect()
        })
        .unwrap_or_default();
    eprintln!("{}\n{stdout}", statuses.join("\n"));
    assert_eq!(report["run_id"], run_id.as_str(), "{report:#}");
    for id in ["tap.traces.exact", "tap.logs.exact", "tap.metrics.exact"] {
        let c = check(&report, id);
        assert_eq!(c["status"], "pass", "{id}: {c:#}\n{stdout}");
    }
    let sent: Vec<(String, u64, u64)> = report["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["signal"].as_str().unwrap().to_owned(),
                s["items"].as_u64().unwrap(),
                s["acked"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("traces".to_string(), 2, 2),
            ("logs".to_string(), 2, 2),
            ("metrics".to_string(), 2, 2)
        ],
        "{report:#}"
    );
    assert_eq!(report["summary"]["failed"], 0, "{stdout}");
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // 3. The record that claims a span never sent: that span is missing.
    let (code, stdout, stderr, report) = claimed_run.join().expect("the run's thread");
    let c = check(&report, "tap.traces.exact");
    assert_eq!(c["status"], "fail", "{c:#}");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("00000000005e0009") && reason.contains("never sent"),
        "{c:#}"
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `lgtm-check app --target external`: a program's telemetry goes to the running
/// deployment through lgtm-check's gateway and is checked there, nothing started.
/// The same http-service program twice at once: pushing its metrics by remote write
/// (every signal exact, the manifest's metrics too), and serving them only for
/// scraping, which nothing does against a deployment (those checks skipped saying
/// so, never passed; its logs and traces still exact).
#[tokio::test(flavor = "multi_thread")]
async fn app_checks_a_program_against_a_running_deployment() {
    let Some(stack) = stack() else { return };
    let binary = lgtm_check::scenario::find_binary("http-service", None).unwrap();
    let program = |metrics: &str| {
        vec![
            "--".to_owned(),
            "sh".into(),
            "-c".into(),
            format!(
                "\"$0\" --manifest \"$LGTM_CHECK_MANIFEST\" --loki-url \"$LOKI_URL\" {metrics}"
            ),
            binary.display().to_string(),
        ]
    };
    let app = |metrics: &str| {
        let mut args = target_flags(stack);
        args.extend(["--check-timeout".to_owned(), "30".to_owned()]);
        args.extend(program(metrics));
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::external("app", &args, &[])
        })
    };
    let pushed = app(
        "--metrics-listen \"$LGTM_CHECK_METRICS_LISTEN\" --remote-write-url \"$LGTM_CHECK_REMOTE_WRITE_URL\"",
    );
    let served = app("--metrics-listen \"$LGTM_CHECK_METRICS_LISTEN\"");

    let r = pushed.join().unwrap();
    let target = r.report["target"].as_str().unwrap_or_default();
    assert!(
        target.starts_with(&format!("external (loki {}", stack.loki_url().unwrap())),
        "{target}\n{}",
        r.stderr
    );
    assert_eq!(component(&r.report, "loki")["version"], "3.2.0");
    for id in [
        // The gateway's record: each signal as it was sent.
        "app.logs.pushed.exact",
        "app.traces.exact",
        "app.metrics.remote_written.exact",
        // The program's manifest.
        "app.logs.exact",
        "app.traces.exact_ids",
        "app.traces.span_trees",
        "metrics.http_requests_total.exact",
        "app.shape",
    ] {
        let c = check(&r.report, id);
        assert_eq!(c["status"], "pass", "{id}: {c:#}\n{}", r.stdout);
    }
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stderr.contains("removed"),
        "nothing is started, so nothing removed: {}",
        r.stderr
    );

    let r = served.join().unwrap();
    let c = check(&r.report, "metrics.http_requests_total.exact");
    assert_eq!(c["status"], "skip", "{c:#}");
    assert!(
        c["reason"].as_str().unwrap().contains("nothing scrapes"),
        "{c:#}"
    );
    for id in ["app.logs.exact", "app.traces.exact_ids"] {
        assert_eq!(check(&r.report, id)["status"], "pass", "{id}\n{}", r.stdout);
    }
    assert_eq!(r.report["summary"]["failed"], 0, "{}", r.stdout);
}
