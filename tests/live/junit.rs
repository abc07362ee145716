//! `--junit PATH` of `lgtm-check run` and `lgtm-check app`, read back with a JUnit
//! reader: a run where every image is missing (a `.invalid` registry, so no registry
//! can answer) still writes the file, with every check a `<skipped>` testcase with
//! its reason, and exits 3 (nothing verified); a file that cannot be written is a
//! named error with exit code 2.
//!
//! Needs Docker (to find the images missing) and the scenario binaries (the run
//! starts them even with no backend); skipped, with the reason, without them.
//! `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure. Each run gets none of
//! the caller's `LGTM_CHECK_*`, `OTEL_*` and `DOCKER_HOST` but what the test sets.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `.invalid` never resolves (RFC 2606).
const NONE: &str = "lgtm-check.invalid/none:0";

const COMPONENTS: [&str; 5] = ["loki", "tempo", "mimir", "prometheus", "grafana"];

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    match Command::new("docker").arg("version").output() {
        Err(e) => return Some(format!("docker cannot be run: {e}")),
        Ok(o) if !o.status.success() => {
            return Some(format!(
                "Docker is not reachable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(_) => {}
    }
    common::cannot_run(&[])
}

/// Whether to skip: says why, or fails when every test is required to run.
fn skip() -> bool {
    let Some(reason) = missing() else {
        return false;
    };
    assert!(
        std::env::var("LGTM_CHECK_REQUIRE_ALL").as_deref() != Ok("1"),
        "required but skipped: {reason}"
    );
    eprintln!("SKIPPED: {reason}");
    true
}

/// Runs `lgtm-check ARGS` with every image missing; (exit code, stdout, stderr).
fn lgtm_check(args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("LGTM_CHECK_") || k.starts_with("OTEL_") || k == "DOCKER_HOST" {
            command.env_remove(&key);
        }
    }
    for c in COMPONENTS {
        command.env(format!("LGTM_CHECK_IMAGE_{}", c.to_ascii_uppercase()), NONE);
    }
    let out = command.args(args).output().expect("lgtm-check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lgtm-check-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The ids of the checks in the JSON report.
fn json_check_ids(path: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Reads the JUnit file back and checks what a run with every image missing must
/// show; returns the ids of the check testcases.
fn every_check_skipped(junit: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(junit).unwrap();
    // A JUnit reader accepts it…
    quick_junit::Report::deserialize_from_str(&text)
        .unwrap_or_else(|e| panic!("not JUnit: {e}\n{text}"));
    // …and an XML reader shows its structure.
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("failures"), Some("0"), "{text}");
    assert!(
        doc.descendants()
            .all(|n| !n.has_tag_name("failure") && !n.has_tag_name("error")),
        "{text}"
    );
    let (components, checks): (Vec<roxmltree::Node>, Vec<roxmltree::Node>) = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .partition(|s| s.attribute("name") == Some("components"));
    assert_eq!(components.len(), 1, "{text}");
    let mut names = Vec::new();
    for case in components[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
    {
        names.push(case.attribute("name").unwrap().to_owned());
        let skipped = case
            .children()
            .find(|n| n.has_tag_name("skipped"))
            .unwrap_or_else(|| panic!("component not skipped: {case:?}"));
        let message = skipped.attribute("message").unwrap();
        assert!(
            message.starts_with(&format!("image {NONE} is not available")),
            "{message}"
        );
    }
    assert!(!names.is_empty(), "{text}");
    let properties: Vec<(&str, &str)> = components[0]
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|n| (n.attribute("name").unwrap(), n.attribute("value").unwrap()))
        .collect();
    for name in &names {
        assert!(
            properties.contains(&(&format!("image.{name}"), NONE)),
            "{properties:?}"
        );
    }
    assert!(properties.iter().any(|(k, _)| *k == "run_id"));

    let mut ids = Vec::new();
    for suite in checks {
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(
            suite.attribute("skipped"),
            Some(cases.len().to_string().as_str())
        );
        for case in cases {
            assert_eq!(case.attribute("classname"), suite.attribute("name"));
            let skipped = case
                .children()
                .find(|n| n.has_tag_name("skipped"))
                .unwrap_or_else(|| panic!("check not skipped: {case:?}"));
            assert!(
                !skipped.attribute("message").unwrap_or_default().is_empty(),
                "a skip without its reason: {case:?}"
            );
            ids.push(case.attribute("name").unwrap().to_owned());
        }
    }
    ids
}

#[test]
fn run_writes_junit_with_every_check_skipped_when_every_image_is_missing() {
    if skip() {
        return;
    }
    let (junit, json) = (scratch("run.xml"), scratch("run.json"));
    let (code, stdout, stderr) = lgtm_check(&[
        "run",
        "--check-timeout",
        "5",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let mut ids = every_check_skipped(&junit);
    // One testcase per check of the report (grouped by component, so in another
    // order), and the catalog is not empty.
    let mut reported = json_check_ids(&json);
    ids.sort();
    reported.sort();
    assert_eq!(ids, reported);
    assert!(ids.len() > 20, "{ids:?}");
    assert!(ids.iter().any(|id| id == "http.logs.exact"), "{ids:?}");
}

#[test]
fn app_writes_junit_too() {
    if skip() {
        return;
    }
    let junit = scratch("app.xml");
    let (code, stdout, stderr) = lgtm_check(&[
        "app",
        "--check-timeout",
        "3",
        "--junit",
        junit.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    // Every signal said not emitted (`true` sends nothing), and the shape.
    let mut ids = every_check_skipped(&junit);
    ids.sort();
    assert_eq!(
        ids,
        [
            "app.correlation.exemplars_to_traces",
            "app.correlation.metrics_to_traces",
            "app.logs.exact",
            "app.metrics.exact",
            "app.shape",
            "app.traces.exact"
        ]
    );
}

#[test]
fn a_junit_file_that_cannot_be_written_is_a_named_error() {
    if skip() {
        return;
    }
    let junit = scratch("no-such-dir").join("run.xml");
    let (code, stdout, stderr) = lgtm_check(&[
        "run",
        "--check-timeout",
        "5",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot write the JUnit report to {}",
            junit.display()
        )),
        "{stderr}"
    );
    // The report itself was still printed.
    assert!(stdout.contains("checks: 0 passed, 0 failed"), "{stdout}");
}
