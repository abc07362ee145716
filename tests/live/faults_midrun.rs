//! A component killed mid-run is a finding, never an abort: `lgtm-check run` is
//! started on the containers (Loki 3.2.0, Tempo 2.6.0, Cortex 1.18.1 in the Mimir
//! role, Prometheus from Debian's package), and while the scenarios emit, one
//! component's container is `docker kill`ed — Loki in one case, Tempo in another,
//! the Mimir role in a third. Each time the run must still write its whole report
//! and exit 1: the killed component `failed` with how it died, the checks that need
//! it failed naming it, the checks of the other components passed, and nothing of
//! the run left behind.
//!
//! Skipped, with the reason, when Docker, an image or the scenario binaries are
//! missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOKI: &str = "grafana/loki:3.2.0";
const TEMPO: &str = "grafana/tempo:2.6.0";
const MIMIR: &str = "cortexproject/cortex:v1.18.1";
const PROMETHEUS: &str = "lgtm-check/prometheus:debian";

fn skip(why: String) {
    if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("cannot run: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// What a killed run left: exit code, stdout (the terminal report), stderr, the JSON
/// report (`Null` when none was written).
struct Killed {
    code: i32,
    stdout: String,
    stderr: String,
    report: serde_json::Value,
}

/// The run's containers by name (`docker ps -a --filter name=lgtm-check-<run id>`).
fn containers_of(run_id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("name=lgtm-check-{run_id}-"))
        .output()
        .expect("docker ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `lgtm-check run --run-id <run_id> --json …` without the caller's
/// `LGTM_CHECK_*`, `OTEL_*` and `DOCKER_HOST`, the images set explicitly, and
/// `docker kill`s the container of `victim` once the scenarios are emitting.
fn run_and_kill(run_id: &str, victim: &str) -> Killed {
    let dir = std::env::temp_dir().join(format!("lgtm-check-faults-{run_id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("LGTM_CHECK_") || k.starts_with("OTEL_") || k == "DOCKER_HOST" {
            command.env_remove(&key);
        }
    }
    let mut child = command
        .current_dir(&dir)
        .env("LGTM_CHECK_IMAGE_LOKI", LOKI)
        .env("LGTM_CHECK_IMAGE_TEMPO", TEMPO)
        .env("LGTM_CHECK_IMAGE_MIMIR", MIMIR)
        .env("LGTM_CHECK_IMAGE_PROMETHEUS", PROMETHEUS)
        .args(["run", "--run-id", run_id, "--check-timeout", "30", "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lgtm-check starts");
    let stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut s).unwrap();
        s
    });
    // Read stderr as it comes: the scenarios' start is the moment to kill.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let container = format!("lgtm-check-{run_id}-{victim}");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut emitting = false;
    while !emitting && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => emitting = line.contains("scenario http-service running"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break, // stderr closed: the run ended before the scenarios
        }
    }
    assert!(emitting, "the scenarios never started");
    assert!(
        containers_of(run_id).contains(&container),
        "{container} is not among the run's containers: {:?}",
        containers_of(run_id)
    );
    // While they emit (http-service's workload takes about 3 s).
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("docker")
        .args(["kill", &container])
        .output()
        .expect("docker kill runs");
    assert!(
        killed.status.success(),
        "docker kill {container}: {}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let status = child.wait().unwrap();
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    Killed {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        report,
    }
}

fn items<'a>(report: &'a serde_json::Value, key: &str) -> &'a Vec<serde_json::Value> {
    report[key].as_array().expect("an array")
}

fn needs(check: &serde_json::Value, c: &str) -> bool {
    check["needs"]
        .as_array()
        .is_some_and(|n| n.iter().any(|x| x == c))
}

/// Kills `victim` mid-run and asserts what the brief asks: exit 1, the report
/// complete, the victim failed with how it died, its checks failed naming it, the
/// others' checks passed (`others`: components with at least one passing check of
/// their own), nothing left behind.
fn a_component_killed_mid_run_is_a_finding(victim: &str, others: &[&str]) {
    let images = [LOKI, TEMPO, MIMIR, PROMETHEUS].map(String::from);
    if let Some(why) = common::cannot_run(&images) {
        return skip(why);
    }
    let run_id = format!("kill-{victim}-{}", std::process::id());
    let r = run_and_kill(&run_id, victim);
    let context = format!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, 1, "{context}");
    // The report, whole: terminal and JSON.
    assert!(r.stdout.contains("lgtm-check report"), "{context}");
    assert!(r.stdout.contains("checks: "), "{context}");
    let report = &r.report;
    assert_eq!(report["schema_version"], 1, "{context}");
    for key in ["components", "checks", "summary", "problems"] {
        assert!(!report[key].is_null(), "no `{key}` in the JSON report");
    }
    // The killed component: failed, with when and how.
    let dead = items(report, "components")
        .iter()
        .find(|c| c["name"] == victim)
        .expect("the victim is reported");
    assert_eq!(dead["status"], "failed", "{dead:#}");
    let reason = dead["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "{victim} died during the run (exit code 137, killed)"
        )),
        "{reason}"
    );
    assert_eq!(dead["died"]["exit_code"], 137, "{dead:#}");
    assert_eq!(dead["died"]["oom_killed"], false, "{dead:#}");
    assert!(dead["died"]["after_ms"].as_u64().unwrap() > 0, "{dead:#}");
    assert!(
        !dead["died"]["last_log_lines"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{dead:#}"
    );
    assert!(
        items(report, "problems")
            .iter()
            .any(|p| p.as_str().unwrap().contains("died during the run")),
        "{:#}",
        report["problems"]
    );
    // Its checks: none skipped because of it, every failed one names it, and at
    // least one failed (its data could no longer be asked for).
    let checks = items(report, "checks");
    let named = format!("{victim} died during the run");
    let mut failed_needing = 0;
    for c in checks.iter().filter(|c| needs(c, victim)) {
        // Skipped only for another reason (Grafana's image missing), never for it.
        let blamed = c["skipped_because"]
            .as_array()
            .is_some_and(|b| b.iter().any(|x| x == victim));
        assert!(!blamed, "{c:#}");
        if c["status"] == "fail" {
            failed_needing += 1;
            assert!(c["reason"].as_str().unwrap().contains(&named), "{c:#}");
        }
    }
    assert!(failed_needing > 0, "no check that needs {victim} failed");
    // The other components' checks: none failed, and each has passing checks.
    for c in checks.iter().filter(|c| !needs(c, victim)) {
        let id = c["id"].as_str().unwrap();
        // A scenario that lost what it sent to the victim fails on its own;
        // it names what it lost.
        if id.ends_with(".scenario") {
            continue;
        }
        assert_ne!(c["status"], "fail", "{c:#}");
    }
    for other in others {
        let passed = checks
            .iter()
            .filter(|c| c["component"] == *other && c["status"] == "pass")
            .filter(|c| !needs(c, victim))
            .count();
        assert!(passed > 0, "no check of {other} passed");
    }
    assert!(report["summary"]["passed"].as_u64().unwrap() > 0);
    // Nothing left behind.
    assert_eq!(containers_of(&run_id), Vec::<String>::new());
    let scenarios: Vec<String> = checks
        .iter()
        .filter(|c| c["id"].as_str().unwrap().ends_with(".scenario"))
        .map(|c| format!("{}: {}", c["id"], c["reason"]))
        .collect();
    eprintln!(
        "{victim} killed: exit {}, {reason}; {failed_needing} checks needing it failed; summary {}; failed scenarios: {scenarios:?}",
        r.code, report["summary"]
    );
}

#[test]
fn loki_killed_mid_run_is_reported_failed_and_the_rest_is_checked() {
    a_component_killed_mid_run_is_a_finding("loki", &["tempo", "mimir"]);
}

#[test]
fn tempo_killed_mid_run_is_reported_failed_and_the_rest_is_checked() {
    a_component_killed_mid_run_is_a_finding("tempo", &["loki", "mimir"]);
}

#[test]
fn the_mimir_role_killed_mid_run_is_reported_failed_and_the_rest_is_checked() {
    a_component_killed_mid_run_is_a_finding("mimir", &["loki", "tempo"]);
}
