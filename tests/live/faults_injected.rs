//! `lgtm-check run --fault`: a component killed (SIGKILL, then started again on the
//! same filesystem and ports) while the scenarios push loses nothing it
//! acknowledged with the repository's fixed configs (WAL on the container's own
//! paths): the run reports the fault with when it was injected and how long the
//! component took to answer ready again, and every check passes (exit 0); every
//! line and span acknowledged is read back (`delivery`: none lost). A fault that
//! cannot be parsed, or that names a container (a target only on a running
//! deployment), is refused before anything starts (exit 2), from a flag or from
//! `lgtm-check.toml`.
//!
//! The Mimir role's case runs wherever Debian's Prometheus image is (in CI, as the
//! Mimir role's stand-in); Loki's needs the Loki image. Skipped, with the reason,
//! when Docker or an image is missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip
//! into a failure.

use crate::common;

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
    // Every acknowledged line and span read back: none lost, none left unasked.
    for d in report["delivery"].as_array().into_iter().flatten() {
        assert_eq!(d["lost"], 0, "{d}");
        assert_eq!(d["not_asked"], 0, "{d}");
        assert_eq!(d["visible"], d["acknowledged"], "{d}");
    }
    let logs: u64 = report["delivery"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["signal"] == "logs")
        .map(|d| d["acknowledged"].as_u64().unwrap())
        .sum();
    if images.iter().any(|i| i.starts_with("grafana/loki")) {
        assert!(logs > 0, "no acknowledged line was read back: {stdout}");
        assert!(
            stdout.contains("acknowledged items through the faults"),
            "{stdout}"
        );
    }
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
        // Once every scenario's workload is acknowledged, before it is read back:
        // what survives is what the WAL kept.
        "kill:loki@100%",
    );
}

/// `lgtm-check run ARGS` refuses to start: exit 2, stderr saying each of `says`.
fn refused(args: &[&str], says: &[&str]) {
    let out = common::lgtm_check()
        .arg("run")
        .args(args)
        .output()
        .expect("lgtm-check runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for s in says {
        assert!(stderr.contains(s), "{stderr}");
    }
}

#[test]
fn a_fault_that_cannot_be_injected_is_refused_before_anything_starts() {
    refused(
        &["--fault", "explode:loki"],
        &["--fault `explode:loki`: unknown kind"],
    );
}

#[test]
fn a_container_by_name_is_a_target_only_on_a_running_deployment() {
    refused(
        &["--fault", "kill:loki-write-2@50%"],
        &[
            "`loki-write-2` is not one of the run's components",
            "only with --target external",
        ],
    );
}

#[test]
fn the_faults_of_lgtm_check_toml_are_read_and_refused_like_the_flags() {
    let dir = std::env::temp_dir().join(format!("lgtm-check-faults-toml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lgtm-check.toml");
    std::fs::write(&file, "faults = [\"kill:loki@150%\"]\n").unwrap();
    let config = file.to_str().unwrap().to_owned();
    let result = std::panic::catch_unwind(|| {
        refused(
            &["--config", &config],
            &["--fault `kill:loki@150%`: WHEN as a share is 1% to 100%"],
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
