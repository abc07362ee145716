//! `lgtm-check gate` against real Loki 3.2 and Tempo 2.6 (Prometheus in both
//! metrics roles): the candidate is the same Tempo with a config that drops the
//! metrics-generator's local-blocks processor (`fixtures/faults/`), so the gate must
//! exit 1 naming the TraceQL metrics check as regressed, with both answers, and
//! nothing else — in the terminal, the JSON and the JUnit XML (read back). The
//! catalog only (`--no-corpus`): the query corpus the gate also compares is
//! `gate_corpus`'s (two stacks of the same images answer it identically) and
//! `gate_path`'s (through this command, with the release that changed an answer);
//! here it would add some 900 queries a side and answers that differ only where
//! TraceQL metrics need the local blocks.
//!
//! Skipped, with the reason, when Docker, an image or the scenario binary is
//! missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

const IMAGES: [&str; 3] = [
    "grafana/loki:3.2.0",
    "grafana/tempo:2.6.0",
    "lgtm-check/prometheus:debian",
];

#[test]
fn a_candidate_config_without_local_blocks_regresses_the_traceql_metrics_check() {
    if let Some(why) = common::cannot_run(&IMAGES.map(String::from)) {
        if std::env::var("LGTM_CHECK_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("cannot run: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let fault = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/faults/tempo-without-local-blocks.yaml"
    );
    let json = std::env::temp_dir().join(format!("lgtm-check-gate-{}.json", std::process::id()));
    let junit = json.with_extension("xml");
    let out = common::lgtm_check()
        .args(["gate", "--no-corpus", "--check-timeout", "40"])
        .args([
            "--baseline",
            "loki=grafana/loki:3.2.0,tempo=grafana/tempo:2.6.0",
        ])
        .args(["--candidate", "tempo=grafana/tempo:2.6.0"])
        .args(["--candidate-config", &format!("tempo={fault}")])
        .args(["--json", json.to_str().unwrap()])
        .args(["--junit", junit.to_str().unwrap()])
        // Prometheus in both metrics roles (no Mimir image is needed).
        .env(
            "LGTM_CHECK_IMAGE_PROMETHEUS",
            "lgtm-check/prometheus:debian",
        )
        .env("LGTM_CHECK_IMAGE_MIMIR", "lgtm-check/no-such-mimir:none")
        .output()
        .expect("lgtm-check runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Regressions (1)\n  REGRESSED             traceql.guide.rate  (tempo)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("config ") && stdout.contains("tempo-without-local-blocks.yaml"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["schema_version"], 2);
    let regressed: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "regressed")
        .collect();
    assert_eq!(regressed.len(), 1, "{report:#}");
    let r = regressed[0];
    assert_eq!(r["id"], "traceql.guide.rate");
    assert_eq!(r["baseline"]["status"], "pass");
    assert_eq!(r["candidate"]["status"], "fail");
    // Tempo's served configuration says why, so the check fails at once with it.
    assert!(
        r["candidate"]["reason"]
            .as_str()
            .unwrap()
            .contains("no local-blocks processor is enabled"),
        "{r:#}"
    );
    // Everything else kept its answer, and the versions are the components' own.
    assert_eq!(report["summary"]["fixed"], 0);
    assert_eq!(report["summary"]["failing_from_skip"], 0);
    let tempo = &report["components"][1];
    assert_eq!(tempo["name"], "tempo");
    assert_eq!(tempo["gated"], true);
    assert_eq!(tempo["baseline"]["version"], "2.6.0");
    assert_eq!(tempo["candidate"]["version"], "2.6.0");
    // The JUnit file: both runs, and the gate's verdicts with the one failure.
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    let _ = std::fs::remove_file(&junit);
    quick_junit::Report::deserialize(xml.as_bytes()).expect("a JUnit reader reads it");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no suite {name}"))
    };
    for side in ["baseline", "candidate"] {
        suite(&format!("{side}.tempo"));
    }
    let gate = suite("gate");
    let checks = report["checks"].as_array().unwrap().len();
    let cases: Vec<roxmltree::Node> = gate
        .children()
        .filter(|n| {
            n.has_tag_name("testcase") && n.attribute("classname") != Some("gate.components")
        })
        .collect();
    assert_eq!(cases.len(), checks);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(failed, ["traceql.guide.rate"], "{xml}");
    assert_eq!(gate.attribute("failures"), Some("1"), "{xml}");
    // The containers of both sides are gone.
    for side in [
        &report["baseline"]["run_id"],
        &report["candidate"]["run_id"],
    ] {
        let left = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("name=lgtm-check-{}-", side.as_str().unwrap()))
            .output()
            .unwrap();
        assert!(left.stdout.is_empty(), "containers of {side} left");
    }
}
