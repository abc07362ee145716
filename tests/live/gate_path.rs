//! `lgtm-check gate --path` with the user's own queries: the guide's Loki 3.2.0 and
//! Tempo 2.6.0, then Tempo 2.7.2, then Loki 3.4.6 (Cortex v1.18.1 in the Mimir role
//! on every side). Two queries whose answers are known to change — a TraceQL regex
//! that Tempo 2.7 anchors (tempo#4329) and a LogQL count by `detected_level`, which
//! Loki 3.3 fills with `unknown` (loki#14464) — must each be reported with the step
//! that changed it, fail the gate (exit 1), and name the upstream change; in the
//! terminal, the JSON and the JUnit XML.
//!
//! Skipped, with the reason, when Docker or an image is missing;
//! `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

const IMAGES: [&str; 6] = [
    "grafana/loki:3.2.0",
    "grafana/loki:3.4.6",
    "grafana/tempo:2.6.0",
    "grafana/tempo:2.7.2",
    "cortexproject/cortex:v1.18.1",
    "lgtm-check/prometheus:debian",
];

const TRACEQL: &str = r#"{ resource.job = "lgtm-gate" && span.http.route =~ "users" }"#;
const LOGQL: &str = r#"sum by (detected_level) (count_over_time({job="lgtm-gate"}[5m]))"#;

#[test]
fn each_changed_answer_is_named_with_the_release_that_changed_it() {
    if let Some(why) = common::cannot_run(&IMAGES.map(String::from)) {
        if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("cannot run: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lgtm-check-gate-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let queries = dir.join("queries.txt");
    std::fs::write(
        &queries,
        format!("# the user's own\ntraceql: {TRACEQL}\nlogql: {LOGQL}\npromql: sum(gate_inflight_requests)\n"),
    )
    .unwrap();
    let json = dir.join("gate.json");
    let junit = dir.join("gate.xml");
    let out = common::lgtm_check()
        .current_dir(&dir)
        .args(["gate", "--check-timeout", "40"])
        .args([
            "--path",
            "loki=grafana/loki:3.2.0,tempo=grafana/tempo:2.6.0,tempo=grafana/tempo:2.7.2,loki=grafana/loki:3.4.6",
        ])
        .args(["--queries", queries.to_str().unwrap()])
        .args(["--json", json.to_str().unwrap()])
        .args(["--junit", junit.to_str().unwrap()])
        .env("LGTM_CHECK_IMAGE_PROMETHEUS", "lgtm-check/prometheus:debian")
        .env("LGTM_CHECK_IMAGE_MIMIR", "cortexproject/cortex:v1.18.1")
        .output()
        .expect("lgtm-check runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("baseline → tempo=grafana/tempo:2.7.2 → loki=grafana/loki:3.4.6"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).unwrap();
    let diffs = report["corpus"]["differences"].as_array().unwrap();
    let first_at = |query: &str| {
        diffs
            .iter()
            .find(|d| d["query"] == query && d["source"]["kind"] == "user")
            .map(|d| d["first_release"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        first_at(TRACEQL).as_deref(),
        Some("tempo=grafana/tempo:2.7.2"),
        "{stdout}"
    );
    assert_eq!(
        first_at(LOGQL).as_deref(),
        Some("loki=grafana/loki:3.4.6"),
        "{stdout}"
    );
    // The unchanged user query is not a difference, and answered with data.
    assert_eq!(first_at("sum(gate_inflight_requests)"), None);
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p
            .as_str()
            .unwrap()
            .contains("traceql query changed answer at tempo=grafana/tempo:2.7.2")),
        "{problems:?}"
    );
    // The regex change is named, with its pull request.
    let named = report["named_changes"].as_array().unwrap();
    let regex = named
        .iter()
        .find(|n| n["change"]["id"] == "tempo-2.7-traceql-regex-anchored")
        .expect("the regex change is crossed");
    assert_eq!(regex["url"], "https://github.com/grafana/tempo/pull/4329");
    assert!(stdout.contains("Tempo 2.7.0 (#4329)"), "{stdout}");
    // Every side showed the whole workload.
    assert!(
        report["corpus"]["incomplete"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let failed: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.children().any(|c| c.has_tag_name("failure")))
        .filter_map(|n| n.attribute("name").map(str::to_owned))
        .collect();
    assert!(failed.contains(&format!("traceql {TRACEQL}")), "{failed:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
