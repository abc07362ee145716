//! `lgtm-check app -- CMD ARGS…` against real Loki 3.2, Tempo 2.6 and Prometheus:
//! the http-service scenario, started through `sh -c` as any program would be (it
//! takes its endpoints from the variables `app` sets), is checked exactly through its
//! manifest and its shape is snapshotted; the same program with a dropped span that
//! its manifest still claims, exiting 7, sent straight to the stack (`--direct`, no
//! gateway: only its manifest is checked), fails naming the trace check and the exit.
//!
//! Skipped, with the reason, when Docker, an image or the scenario binary is
//! missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

use std::process::Command;

use lgtm_check::scenario::find_binary;

const IMAGES: [&str; 3] = [
    "grafana/loki:3.2.0",
    "grafana/tempo:2.6.0",
    "lgtm-check/prometheus:debian",
];

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    common::cannot_run(&IMAGES.map(String::from))
}

/// Runs `lgtm-check app` without the caller's `LGTM_CHECK_*`, `OTEL_*` and
/// `DOCKER_HOST`, with `args` before `--` and `program` after it.
fn app(args: &[&str], program: &[&str], check_timeout: &str) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("LGTM_CHECK_") || k.starts_with("OTEL_") || k == "DOCKER_HOST" {
            command.env_remove(&key);
        }
    }
    let out = command
        .arg("app")
        .args(["--image", "prometheus=lgtm-check/prometheus:debian"])
        .args(["--check-timeout", check_timeout])
        .args(args)
        .arg("--")
        .args(program)
        .output()
        .expect("lgtm-check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The http-service scenario through a shell, its endpoints from the variables.
fn http_service(extra: &str, then: &str) -> Vec<String> {
    let binary = find_binary("http-service", None).unwrap();
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "\"$0\" --manifest \"$LGTM_CHECK_MANIFEST\" --loki-url \"$LOKI_URL\" \
             --metrics-listen \"$LGTM_CHECK_METRICS_LISTEN\" --await-scrapes {extra}{then}"
        ),
        binary.display().to_string(),
    ]
}

fn checks(json_path: &std::path::Path) -> Vec<(String, String, String)> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn leftover_containers(run_id: &str) -> String {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("name=lgtm-check-{run_id}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_program_is_checked_exactly_and_a_lying_manifest_and_its_exit_fail_by_name() {
    if let Some(reason) = missing() {
        assert!(
            std::env::var("LGTM_CHECK_REQUIRE_ALL").as_deref() != Ok("1"),
            "required but skipped: {reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lgtm-check-app-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let snapshot = dir.join("app.shape.yaml");
    let json = dir.join("ok.json");

    // Both programs run at the same time, each against a stack of its own.
    // 1. The honest program: every check of its manifest passes, the shape is written.
    let run_id = format!("app{}", std::process::id());
    let honest = {
        let (run_id, json, snapshot) = (run_id.clone(), json.clone(), snapshot.clone());
        std::thread::spawn(move || {
            let program = http_service("", "");
            let program: Vec<&str> = program.iter().map(String::as_str).collect();
            app(
                &[
                    "--run-id",
                    &run_id,
                    "--json",
                    json.to_str().unwrap(),
                    "--snapshot",
                    snapshot.to_str().unwrap(),
                ],
                &program,
                "60",
            )
        })
    };
    // 2. A dropped span the manifest still claims, and a non-zero exit. The span never
    // arrives: its check fails only when it has waited its timeout, which need not
    // be long (the rest of the run is visible within a few seconds). Sent with
    // `--direct` (straight to the stack, no gateway): only the manifest is checked.
    let fault_run_id = format!("appfault{}", std::process::id());
    let fault_json = dir.join("fault.json");
    let faulty = {
        let (run_id, json) = (fault_run_id.clone(), fault_json.clone());
        std::thread::spawn(move || {
            let program = http_service("--fault drop-span", "; exit 7");
            let program: Vec<&str> = program.iter().map(String::as_str).collect();
            app(
                &[
                    "--direct",
                    "--run-id",
                    &run_id,
                    "--json",
                    json.to_str().unwrap(),
                ],
                &program,
                "10",
            )
        })
    };

    let (code, stdout, stderr) = honest.join().unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let got = checks(&json);
    for id in [
        "app.logs.exact",
        "app.traces.exact_ids",
        "app.traces.span_trees",
        "metrics.http_requests_total.exact",
        "app.shape",
    ] {
        assert!(
            got.iter().any(|(i, s, _)| i == id && s == "pass"),
            "{id} did not pass: {got:?}\n{stdout}"
        );
    }
    let shape = std::fs::read_to_string(&snapshot).unwrap();
    assert!(shape.contains("http_requests_total"), "{shape}");
    assert!(leftover_containers(&run_id).is_empty());

    let (run_id, json) = (fault_run_id, fault_json);
    let (code, stdout, stderr) = faulty.join().unwrap();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let got = checks(&json);
    assert!(
        got.iter()
            .any(|(i, s, _)| i.starts_with("app.traces.") && s == "fail"),
        "no trace check failed: {got:?}\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("app.traces."),
        "the report names the check: {stdout}"
    );
    // Direct: no gateway, so no record and none of its checks; the manifest's logs
    // still arrived exactly.
    assert!(
        !got.iter().any(|(i, _, _)| i == "app.traces.exact"),
        "a record check without the gateway: {got:?}"
    );
    assert!(
        got.iter()
            .any(|(i, s, _)| i == "app.logs.exact" && s == "pass"),
        "{got:?}\n{stdout}"
    );
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("exit status: 7"), "{report}");
    assert!(stdout.contains("exit status: 7"), "{stdout}");
    assert!(leftover_containers(&run_id).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
