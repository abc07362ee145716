//! A check whose answer cannot change stops waiting: once another check of its
//! scenario has found the scenario's data through the same path (same component,
//! same kind of query), a check that has answered the same wrong thing for 20 s
//! fails at once with that answer, saying why it is final — not at its timeout.
//!
//! The run: http-service alone with `extra-count` (its manifest lists one
//! `http_requests_total` series one higher than it counted), the Prometheus role
//! (Debian's Prometheus, also standing in for the Mimir role), and a check timeout of
//! 300 s. The series' exact check and the guide's queries over it must fail saying
//! the answer is final; had they waited, they would say `not as expected after
//! 300.0s`. Skipped, with the reason, when Docker or the image is missing;
//! `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

const PROMETHEUS: &str = "lgtm-check/prometheus:debian";

/// What the run gave.
#[derive(Clone)]
enum Outcome {
    /// It cannot run here, and why.
    Skipped(String),
    /// Its exit code, stdout and JSON report (or why the report cannot be read).
    Ran(Option<i32>, String, Result<serde_json::Value, String>),
}

static RUN: std::sync::OnceLock<Outcome> = std::sync::OnceLock::new();

/// Starts the run in the background and returns: it mostly waits (20 s for the
/// wrong answer to settle), which is best done while the other tests compute, so the
/// test that sorts first starts it (see `main.rs`) and the case below judges it.
pub(crate) fn start() {
    std::thread::spawn(|| RUN.get_or_init(run));
}

fn run() -> Outcome {
    if let Some(why) = common::cannot_run(&[PROMETHEUS.to_string()]) {
        return Outcome::Skipped(why);
    }
    let json = std::env::temp_dir().join(format!("lgtm-check-settled-{}.json", std::process::id()));
    let out = common::lgtm_check()
        .args(["run", "--scenario", "http", "--check-timeout", "300"])
        .args(["--json", json.to_str().unwrap()])
        .envs([
            ("LGTM_CHECK_FAULTS", "extra-count"),
            ("LGTM_CHECK_IMAGE_PROMETHEUS", PROMETHEUS),
            ("LGTM_CHECK_IMAGE_MIMIR", "lgtm-check/no-such-mimir:none"),
        ])
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => return Outcome::Ran(None, String::new(), Err(format!("lgtm-check: {e}"))),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = std::fs::read(&json)
        .map_err(|e| format!("the JSON report: {e}"))
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&json);
    Outcome::Ran(out.status.code(), stdout, report)
}

#[test]
fn a_wrong_answer_that_cannot_change_fails_before_the_timeout() {
    let (code, stdout, report) = match RUN.get_or_init(run).clone() {
        Outcome::Ran(code, stdout, report) => {
            let report = report.unwrap_or_else(|e| panic!("{e}\n{stdout}"));
            (code, stdout, report)
        }
        Outcome::Skipped(why) => {
            if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
                panic!("cannot run: {why}");
            }
            eprintln!("skipped: {why}");
            return;
        }
    };
    assert_eq!(code, Some(1), "{stdout}");
    let check = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id}: {stdout}"))
            .clone()
    };
    let exact = check("metrics.http_requests_total.exact");
    assert_eq!(exact["status"], "fail", "{exact}");
    let reason = exact["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the answer is final: `")
            && reason.contains("found this scenario's data through the same path")
            && reason.contains("got 2, expected 3"),
        "{reason}"
    );
    // Its witness passed: the series the fault leaves alone are exact.
    let witness = reason
        .trim_start_matches("the answer is final: `")
        .split('`')
        .next()
        .unwrap();
    assert_eq!(check(witness)["status"], "pass", "{witness}");
    // Nothing waited out its timeout.
    for c in report["checks"].as_array().unwrap() {
        let r = c["reason"].as_str().unwrap_or_default();
        assert!(!r.contains("not as expected after 300"), "{}: {r}", c["id"]);
    }
}
