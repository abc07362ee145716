//! The `lgtm-check` binary's answers to bad input, which need no running stack.
//!
//! Each test runs the binary without the caller's `LGTM_CHECK_*`, `OTEL_*` and
//! `DOCKER_HOST` (only what the test sets), so the answers do not depend on who runs
//! the tests.

mod common;

use std::process::Command;

/// Whether the caller's variable `key` must not reach the binary.
fn callers_own(key: &str) -> bool {
    key.starts_with("LGTM_CHECK_") || key.starts_with("OTEL_") || key == "DOCKER_HOST"
}

fn lgtm_check(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        if callers_own(&key.to_string_lossy()) {
            command.env_remove(key);
        }
    }
    let out = command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("lgtm-check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn docker_unreachable_is_one_clear_error_with_exit_code_2() {
    let (code, _, stderr) = lgtm_check(
        &["run"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Docker is not reachable at unix:///nonexistent/docker.sock"),
        "{stderr}"
    );
}

#[test]
fn credentials_in_docker_host_never_print() {
    // Port 9 (discard) refuses connections here.
    let (code, stdout, stderr) = lgtm_check(
        &["run"],
        &[("DOCKER_HOST", "tcp://someone:CanaryDockerPw3@127.0.0.1:9")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Docker is not reachable at tcp://***@127.0.0.1:9"),
        "{stderr}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains("CanaryDockerPw3"), "{text}");
        assert!(!text.contains("someone"), "{text}");
    }
}

#[test]
fn a_bad_image_override_is_named_with_exit_code_2() {
    let (code, _, stderr) = lgtm_check(&["run", "--image", "lokii=grafana/loki:3.3.2"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown component `lokii`"), "{stderr}");
    let (code, _, stderr) = lgtm_check(&["images"], &[("LGTM_CHECK_IMAGE_TEMPO", "tempo:")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("LGTM_CHECK_IMAGE_TEMPO"), "{stderr}");
}

#[test]
fn images_shows_defaults_env_and_flags_in_layers() {
    let (code, stdout, stderr) = lgtm_check(
        &["images", "--image", "loki=grafana/loki:3.3.2"],
        &[("LGTM_CHECK_IMAGE_TEMPO", "grafana/tempo:2.7.0")],
    );
    assert_eq!(code, 0, "{stderr}");
    let line = |c: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(c))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("loki").contains("grafana/loki:3.3.2") && line("loki").contains("Flag"),
        "{stdout}"
    );
    assert!(
        line("tempo").contains("grafana/tempo:2.7.0") && line("tempo").contains("Env"),
        "{stdout}"
    );
    assert!(
        line("mimir").contains("grafana/mimir:2.14.0") && line("mimir").contains("Default"),
        "{stdout}"
    );
}

#[test]
fn app_without_a_program_is_a_named_usage_error_with_exit_code_2() {
    let (code, stdout, stderr) = lgtm_check(&["app"], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("no program to run"), "{stderr}");
    let (code, _, stderr) = lgtm_check(&["app", "--otlp-protocol", "thrift", "--", "true"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--otlp-protocol `thrift`"), "{stderr}");
}

#[test]
fn app_flags_that_need_its_own_stack_are_named_with_an_external_target() {
    let target = ["--target", "external", "--loki-url", "http://127.0.0.1:9"];
    for (flag, why) in [
        (&["--scrape", "9464"][..], "nothing scrapes"),
        (
            &["--direct"][..],
            "adds the deployment's tenants and credentials",
        ),
    ] {
        let args: Vec<&str> = ["app"]
            .iter()
            .chain(&target)
            .chain(flag)
            .chain(&["--", "true"])
            .copied()
            .collect();
        let (code, stdout, stderr) = lgtm_check(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "{} cannot be used with --target external",
                flag[0]
            )) && stderr.contains(why),
            "{stderr}"
        );
    }
}

#[test]
fn gate_flags_are_validated_before_anything_starts() {
    // Docker is unreachable: every answer below comes before it is needed.
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let (code, _, stderr) = lgtm_check(
        &["gate", "--baseline", "loki=grafana/loki:3.2.0"],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to gate"), "{stderr}");
    let (code, _, stderr) = lgtm_check(
        &["gate", "--candidate", "loki=grafana/loki:3.4.6,tempo"],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--candidate `tempo`: expected COMPONENT=IMAGE"),
        "{stderr}"
    );
    let (code, _, stderr) = lgtm_check(
        &["gate", "--candidate", "lokii=grafana/loki:3.4.6"],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown component `lokii`"), "{stderr}");
    // A candidate config that does not exist stops the gate before the baseline runs.
    let (code, stdout, stderr) = lgtm_check(
        &[
            "gate",
            "--baseline",
            "tempo=grafana/tempo:2.6.0",
            "--candidate",
            "tempo=grafana/tempo:2.7.2",
            "--candidate-config",
            "tempo=/nonexistent/tempo.yaml",
        ],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tempo: cannot read the config file /nonexistent/tempo.yaml"),
        "{stderr}"
    );
    assert!(!stderr.contains("Docker is not reachable"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lgtm-check-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bad_gate_table_exits_2_naming_the_file_and_key() {
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let dir = scratch("bad-gate");
    let file = dir.join("lgtm-check.toml");
    let config = file.to_str().unwrap();
    std::fs::write(
        &file,
        "[gate]\nbaseline = { loki = \"grafana/loki:3.2.0\" }\ncandidate-images = { loki = \"grafana/loki:3.4.6\" }\n",
    )
    .unwrap();
    let (code, stdout, stderr) = lgtm_check(&["gate", "--config", config], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot read {config}: line 3, column 1: key `candidate-images`, unknown field `candidate-images`"
        )),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    // An unknown component, and an image that is not one, are named too.
    std::fs::write(
        &file,
        "[gate]\ncandidate = { lokii = \"grafana/loki:3.4.6\" }\n",
    )
    .unwrap();
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read {config}: line 2")) && stderr.contains("lokii"),
        "{stderr}"
    );
    std::fs::write(&file, "[gate]\ncandidate = { loki = \"grafana/loki:\" }\n").unwrap();
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{config}: [gate] candidate.loki = `grafana/loki:`: `grafana/loki:` is not an image reference"
        )),
        "{stderr}"
    );
    // A --config that does not exist is an error, not an empty file.
    let missing = dir.join("nope.toml");
    let (code, _, stderr) =
        lgtm_check(&["gate", "--config", missing.to_str().unwrap()], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope.toml"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_gate_table_gives_the_sides_under_the_flags_with_paths_from_its_directory() {
    let no_docker = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    let dir = scratch("gate-table");
    std::fs::create_dir_all(dir.join("ci")).unwrap();
    std::fs::write(
        dir.join("ci/lgtm-check.toml"),
        "[gate]\n\
         baseline = { tempo = \"grafana/tempo:2.6.0\" }\n\
         candidate = { tempo = \"grafana/tempo:2.7.2\" }\n\
         candidate-config = { tempo = \"tempo-2.7.yaml\" }\n",
    )
    .unwrap();
    // Found in the current directory without --config; its config path starts from
    // the file's directory, and the check of that file comes before Docker.
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        if callers_own(&key.to_string_lossy()) {
            command.env_remove(key);
        }
    }
    let out = command
        .current_dir(dir.join("ci"))
        .args(["gate"])
        .envs(no_docker)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tempo: cannot read the config file tempo-2.7.yaml"),
        "{stderr}"
    );
    // With --config from elsewhere, the path is joined to the file's directory.
    let config = dir.join("ci/lgtm-check.toml");
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config.to_str().unwrap()], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    let joined = dir.join("ci").join("tempo-2.7.yaml");
    assert!(
        stderr.contains(&format!(
            "tempo: cannot read the config file {}",
            joined.display()
        )),
        "{stderr}"
    );
    // A flag replaces the file's entry for its component: with the file's config
    // there, the plan is made and the gate goes on to Docker.
    std::fs::write(&joined, "# a config\n").unwrap();
    let (code, _, stderr) = lgtm_check(
        &[
            "gate",
            "--config",
            config.to_str().unwrap(),
            "--candidate-config",
            "tempo=/nonexistent/flag.yaml",
        ],
        &no_docker,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("tempo: cannot read the config file /nonexistent/flag.yaml"),
        "{stderr}"
    );
    let (code, _, stderr) = lgtm_check(&["gate", "--config", config.to_str().unwrap()], &no_docker);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Docker is not reachable"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_forwards_a_span_and_writes_the_record_on_sigterm() {
    use std::sync::{Arc, Mutex};
    // A fake Tempo that keeps what it got.
    /// Each request's path and body.
    type Got = Vec<(String, Vec<u8>)>;
    let got: Arc<Mutex<Got>> = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let kept = kept.clone();
        async move {
            kept.lock()
                .unwrap()
                .push((uri.path().to_owned(), body.to_vec()));
            ([("content-type", "application/json")], "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tempo = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = scratch("tap");
    let record = dir.join("record.json");
    let (grpc_port, http_port) = (common::free_port(), common::free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        if callers_own(&key.to_string_lossy()) {
            command.env_remove(key);
        }
    }
    let child = command
        .current_dir(&dir)
        .args([
            "tap",
            "--target",
            "external",
            "--tempo-url",
            &tempo,
            "--otlp-url",
            &tempo,
            "--otlp-protocol",
            "http/protobuf",
            "--tenant",
            "team-a",
            "--record",
            record.to_str().unwrap(),
            "--grpc-port",
            &grpc_port.to_string(),
            "--http-port",
            &http_port.to_string(),
            "--run-id",
            "tap-test",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http_port}");
    common::wait_ready(&base).await;
    let span = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"tapped"}}]},"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"GET /","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000100000000"}]}]}]}"#;
    let answer = http
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(span)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("OTLP/gRPC     http://127.0.0.1:{grpc_port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "traces        → {tempo}/v1/traces (tenant team-a)"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("logs          → nowhere"), "{stdout}");
    assert!(
        stdout.contains("traces:  1 received, 1 acked, 0 refused (1 requests"),
        "{stdout}"
    );
    assert_eq!(
        got.lock().unwrap().clone(),
        [("/v1/traces".to_string(), span.as_bytes().to_vec())]
    );
    let text = std::fs::read_to_string(&record).unwrap();
    let r = lgtm_check::core::record::Record::parse(&text, "record.json").unwrap();
    assert_eq!(r.run_id, "tap-test");
    assert_eq!(r.spans.len(), 1);
    assert!(r.spans[0].acked);
    assert_eq!(r.services(), ["tapped"]);
    assert!(r.finished_at_unix_ms >= r.started_at_unix_ms);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tap_without_an_external_target_or_on_a_taken_port_exits_2_naming_why() {
    let dir = scratch("tap-bad");
    let record = dir.join("r.json");
    let record = record.to_str().unwrap();
    let (code, _, stderr) = lgtm_check(&["tap", "--record", record], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("give --target external"), "{stderr}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = lgtm_check(
        &[
            "tap",
            "--target",
            "external",
            "--loki-url",
            "http://127.0.0.1:9",
            "--record",
            record,
            "--grpc-port",
            &port,
        ],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "lgtm-check's gateway cannot listen for OTLP/gRPC on 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(!std::path::Path::new(record).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A record as `lgtm-check tap` writes it: one span, one OTLP log record and one
/// gauge point, each acknowledged.
fn one_of_each() -> lgtm_check::core::record::Record {
    use lgtm_check::core::record::*;
    let t = 1_732_540_000_000_000_000u64;
    let resource = Attributes::from([("service.name".into(), "shop".into())]);
    let mut r = Record::new("rec-test");
    r.spans.push(RecordedSpan {
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        parent_span_id: None,
        name: "GET /".into(),
        kind: "server".into(),
        status: "unset".into(),
        start_unix_nanos: t,
        end_unix_nanos: t + 1_000_000,
        attributes: Attributes::new(),
        resource: resource.clone(),
        scope: Scope::default(),
        acked: true,
    });
    r.logs.push(RecordedLog {
        time_unix_nano: t,
        observed_time_unix_nano: t,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: "order 42 paid".into(),
        attributes: Attributes::new(),
        trace_id: None,
        span_id: None,
        flags: 0,
        resource: resource.clone(),
        scope: Scope::default(),
        acked: true,
    });
    r.points.push(RecordedPoint {
        metric: "queue.depth".into(),
        unit: String::new(),
        kind: MetricKind::Gauge,
        temporality: Temporality::Unspecified,
        attributes: Attributes::new(),
        resource,
        scope: Scope::default(),
        time_unix_nano: t,
        start_time_unix_nano: 0,
        value: Some(3.0),
        count: None,
        sum: None,
        bounds: Vec::new(),
        bucket_counts: Vec::new(),
        quantiles: Vec::new(),
        exemplars: Vec::new(),
        acked: true,
    });
    r
}

/// `lgtm-check run --target external --record RECORD --json …` with `args`: exit
/// code, stdout, stderr and the JSON report (`Null` when none was written).
fn run_record(dir: &std::path::Path, args: &[&str]) -> (i32, String, String, serde_json::Value) {
    let json = dir.join("report.json");
    let mut all = vec![
        "run",
        "--target",
        "external",
        "--json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = lgtm_check(&all, &[]);
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (code, stdout, stderr, report)
}

#[test]
fn a_record_against_refused_ports_fails_its_components_and_skips_its_checks_by_name() {
    let dir = scratch("record-refused");
    let record = dir.join("record.json");
    std::fs::write(&record, serde_json::to_string(&one_of_each()).unwrap()).unwrap();
    let refused = "http://127.0.0.1:1";
    let (code, stdout, stderr, report) = run_record(
        &dir,
        &[
            "--loki-url",
            refused,
            "--tempo-url",
            refused,
            "--otlp-url",
            refused,
            "--prometheus-url",
            refused,
            "--remote-write-url",
            refused,
            "--record",
            record.to_str().unwrap(),
        ],
    );
    // A component that fails its preflight fails the run.
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(report["run_id"], "rec-test", "{report:#}");
    for c in report["components"].as_array().unwrap() {
        if c["name"] == "grafana" {
            continue;
        }
        assert_eq!(c["status"], "failed", "{c:#}");
        assert!(
            c["reason"].as_str().unwrap().contains("connection refused"),
            "{c:#}"
        );
    }
    let checks = report["checks"].as_array().unwrap();
    let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "tap.traces.exact",
            "tap.logs.exact",
            "tap.metrics.exact",
            "tap.correlation.metrics_to_traces",
            "tap.correlation.exemplars_to_traces"
        ],
        "{report:#}"
    );
    for (c, component) in checks
        .iter()
        .zip(["tempo", "loki", "mimir", "mimir", "tempo"])
    {
        assert_eq!(c["status"], "skip", "{c:#}");
        let reason = c["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("{component} failed its preflight")),
            "{c:#}"
        );
    }
    // What the record says was sent, per signal.
    let sent: Vec<(String, u64)> = report["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["signal"].as_str().unwrap().to_owned(),
                s["items"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("traces".to_string(), 1),
            ("logs".to_string(), 1),
            ("metrics".to_string(), 1)
        ]
    );
    assert!(
        stdout.contains("sent through lgtm-check's gateway"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_record_verifies_nothing_and_exits_3() {
    // A Loki that answers every request 200: its preflight passes.
    let app =
        axum::Router::new().fallback(|| async { ([("content-type", "application/json")], "{}") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let loki = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = scratch("record-empty");
    let record = dir.join("record.json");
    let empty = lgtm_check::core::record::Record::new("empty");
    std::fs::write(&record, serde_json::to_string(&empty).unwrap()).unwrap();
    let (dir2, record2) = (dir.clone(), record.clone());
    let (code, stdout, stderr, report) = tokio::task::spawn_blocking(move || {
        run_record(
            &dir2,
            &["--loki-url", &loki, "--record", record2.to_str().unwrap()],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 3, "{stdout}\n{stderr}");
    assert_eq!(report["summary"]["passed"], 0, "{report:#}");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "skip", "{c:#}");
        // Not emitted, or (a component not given) skipped for that component first.
        let reason = c["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("not emitted") || reason.starts_with("needs "),
            "{c:#}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_that_cannot_be_used_or_without_an_external_target_exits_2_naming_why() {
    let dir = scratch("record-bad");
    let missing = dir.join("missing-record.json");
    let (code, _, stderr, report) = run_record(
        &dir,
        &[
            "--loki-url",
            "http://127.0.0.1:1",
            "--record",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot read the gateway's record {}",
            missing.display()
        )),
        "{stderr}"
    );
    assert_eq!(report, serde_json::Value::Null);

    let foreign = dir.join("manifest.json");
    std::fs::write(&foreign, r#"{"schema_version": 1, "scenario": "x"}"#).unwrap();
    let (code, _, stderr, _) = run_record(
        &dir,
        &[
            "--loki-url",
            "http://127.0.0.1:1",
            "--record",
            foreign.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the gateway's record {} is not valid",
            foreign.display()
        )),
        "{stderr}"
    );

    let (code, _, stderr) = lgtm_check(&["run", "--record", foreign.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "--record checks a record against a running deployment: give --target external"
        ),
        "{stderr}"
    );
    let (code, _, stderr, _) = run_record(
        &dir,
        &[
            "--loki-url",
            "http://127.0.0.1:1",
            "--scenario",
            "http",
            "--record",
            foreign.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--record runs no scenario, so --scenario cannot be used"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
