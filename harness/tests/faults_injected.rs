//! `lgtm-check run --fault`: a component killed (SIGKILL, then started again on the
//! same filesystem and ports) while the scenarios push loses nothing it
//! acknowledged with the repository's fixed configs (WAL on the container's own
//! paths): the run reports the fault with when it was injected and how long the
//! component took to answer ready again, and every check passes (exit 0). A fault
//! that cannot be parsed is refused before anything starts (exit 2).
//!
//! The Mimir role's case runs wherever Debian's Prometheus image is (in CI, as the
//! Mimir role's stand-in); Loki's needs the Loki image. Skipped, with the reason,
//! when Docker or an image is missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip
//! into a failure.

mod common;

fn killed_and_back(images: &[&str], env: &[(&str, &str)], fault: &str) {
    if let Some(why) = common::cannot_run(&images.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    {
        if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("cannot run: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let json = std::env::temp_dir().join(format!(
        "lgtm-check-fault-{}-{}.json",
        std::process::id(),
        fault.replace([':', '@'], "-")
    ));
    let out = common::lgtm_check()
        .args(["run", "--fault", fault, "--json", json.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .expect("lgtm-check runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).unwrap();
    let _ = std::fs::remove_file(&json);
    let f = &report["faults"][0];
    assert!(f["injected_at_ms"].as_u64().is_some(), "{stdout}\n{stderr}");
    assert!(
        f["recovered_after_ms"].as_u64().is_some(),
        "the component did not come back: {f}\n{stdout}"
    );
    assert!(stdout.contains("faults injected:\n"), "{stdout}");
    // Nothing acknowledged was lost: every check that ran passed.
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        report["summary"]["passed"].as_u64().unwrap() > 0,
        "{stdout}"
    );
}

#[test]
fn the_mimir_role_killed_mid_run_loses_nothing_acknowledged() {
    killed_and_back(
        &["lgtm-check/prometheus:debian"],
        &[
            (
                "LGTM_CHECK_IMAGE_PROMETHEUS",
                "lgtm-check/prometheus:debian",
            ),
            ("LGTM_CHECK_IMAGE_MIMIR", "lgtm-check/no-such-mimir:none"),
        ],
        "kill:mimir@2s",
    );
}

#[test]
fn loki_killed_mid_run_loses_nothing_acknowledged() {
    killed_and_back(
        &["grafana/loki:3.2.0", "lgtm-check/prometheus:debian"],
        &[
            (
                "LGTM_CHECK_IMAGE_PROMETHEUS",
                "lgtm-check/prometheus:debian",
            ),
            ("LGTM_CHECK_IMAGE_MIMIR", "lgtm-check/no-such-mimir:none"),
        ],
        "kill:loki@2s",
    );
}

#[test]
fn a_fault_that_cannot_be_injected_is_refused_before_anything_starts() {
    let out = common::lgtm_check()
        .args(["run", "--fault", "explode:loki"])
        .output()
        .expect("lgtm-check runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--fault `explode:loki`: unknown kind"),
        "{stderr}"
    );
}
