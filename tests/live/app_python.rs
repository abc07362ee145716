//! `lgtm-check app` on a program in another language, unmodified: the Flask service
//! of `examples/python-service`, run under OpenTelemetry's zero-code instrumentation
//! (`opentelemetry-instrument python app.py`), sends its traces, logs and metrics
//! over OTLP through lgtm-check's recording gateway; each signal is checked exactly
//! from the gateway's record, and the counts the report gives are what the program
//! sent (12 spans, 25 log records, 5 metric points), and its telemetry shape is
//! compared with the committed `examples/python-service/python-service.shape.yaml`
//! (`LGTM_CHECK_UPDATE=1` rewrites it). With its metrics path broken
//! (`unforwarded-otlp-metrics`: the gateway forwards them nowhere, as a deployment
//! without an OTLP metrics route would), the metrics check fails naming the missing
//! series and the run exits 1.
//!
//! Needs Docker, the Prometheus image (the Mimir role's stand-in) and the Python
//! environment `.ci/run` makes (`target/otel-python`, from
//! `examples/python-service/requirements.txt`). Loki's and Tempo's images are used when
//! present; their checks are skipped with the reason when not. The shape is compared
//! only on the stack the snapshot was recorded with (Loki 3.2.0, Tempo 2.6.0 and the
//! Prometheus stand-in in the Mimir role); elsewhere the comparison is skipped, with
//! the reason. Skipped, with the
//! reason, when something needed is missing; `LGTM_CHECK_REQUIRE_PYTHON=1` (set by
//! `.ci/run`) or `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use std::path::{Path, PathBuf};

use crate::common;

const PROMETHEUS: &str = "lgtm-check/prometheus:debian";
/// The Mimir role's default image: when it is present, Mimir fills the role instead
/// of the Prometheus stand-in the snapshot was recorded with.
const MIMIR: &str = "grafana/mimir:2.14.0";
const SNAPSHOT: &str = "examples/python-service/python-service.shape.yaml";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `opentelemetry-instrument` and `python` of the test's Python environment.
fn python() -> Result<(PathBuf, PathBuf), String> {
    let bin = workspace().join("target/otel-python/bin");
    let (instrument, python) = (bin.join("opentelemetry-instrument"), bin.join("python"));
    if instrument.is_file() && python.is_file() {
        Ok((instrument, python))
    } else {
        Err(format!(
            "no Python environment with OpenTelemetry's zero-code instrumentation at {} \
             (python3 -m venv target/otel-python && target/otel-python/bin/pip install -r examples/python-service/requirements.txt)",
            bin.display()
        ))
    }
}

fn required() -> bool {
    ["LGTM_CHECK_REQUIRE_PYTHON", "LGTM_CHECK_REQUIRE_ALL"]
        .iter()
        .any(|k| std::env::var(k).as_deref() == Ok("1"))
}

/// The images of Loki and Tempo, when present; the Prometheus image always.
fn images() -> Vec<String> {
    let mut images = vec![format!("prometheus={PROMETHEUS}")];
    for (c, image) in [
        ("loki", "grafana/loki:3.2.0"),
        ("tempo", "grafana/tempo:2.6.0"),
    ] {
        if common::image_missing(image).is_none() {
            images.push(format!("{c}={image}"));
        }
    }
    images
}

/// Why the committed snapshot cannot be compared here, if it cannot: the stack is
/// not the one it was recorded with.
fn snapshot_unusable() -> Option<String> {
    let images = images();
    for c in ["loki", "tempo"] {
        if !images.iter().any(|i| i.starts_with(&format!("{c}="))) {
            return Some(format!(
                "{SNAPSHOT} was recorded with {c}, whose image is not available"
            ));
        }
    }
    if common::image_missing(MIMIR).is_none() {
        return Some(format!(
            "{SNAPSHOT} was recorded with the Prometheus stand-in in the Mimir role, and {MIMIR} is present"
        ));
    }
    None
}

/// Runs the service under `lgtm-check app`, without the caller's `LGTM_CHECK_*`,
/// `OTEL_*` and `DOCKER_HOST`; `faults` go to `LGTM_CHECK_FAULTS`; the shape is
/// compared with `snapshot` if given (rewritten with `LGTM_CHECK_UPDATE=1`). Returns
/// the exit code, stdout and the JSON report.
fn run_app(
    faults: &str,
    snapshot: Option<PathBuf>,
    check_timeout: &str,
    json: &Path,
) -> (i32, String, serde_json::Value) {
    let update = matches!(
        std::env::var("LGTM_CHECK_UPDATE").as_deref(),
        Ok("1" | "true" | "always")
    );
    let (instrument, python) = python().unwrap();
    let mut command = common::lgtm_check();
    if !faults.is_empty() {
        command.env("LGTM_CHECK_FAULTS", faults);
    }
    command.arg("app");
    for image in images() {
        command.args(["--image", &image]);
    }
    if let Some(snapshot) = snapshot {
        command.arg("--snapshot").arg(snapshot);
        if update {
            command.arg("--update");
        }
    }
    let out = command
        // What a user of the zero-code instrumentation sets: the service's name and
        // its logs exported too.
        .env("OTEL_SERVICE_NAME", "shop")
        .env("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "true")
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .env("OTEL_METRICS_EXPORTER", "otlp")
        .args(["--check-timeout", check_timeout, "--json"])
        .arg(json)
        .arg("--")
        .arg(instrument)
        .arg(python)
        .arg(workspace().join("examples/python-service/app.py"))
        .output()
        .expect("lgtm-check runs");
    let report = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        report,
    )
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn sent(report: &serde_json::Value, signal: &str) -> (u64, u64) {
    let s = report["sent"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["signal"] == signal))
        .unwrap_or_else(|| panic!("nothing said of {signal} sent: {report}"));
    (s["items"].as_u64().unwrap(), s["acked"].as_u64().unwrap())
}

fn skip_reason() -> Option<String> {
    python().err().or_else(|| common::image_missing(PROMETHEUS))
}

#[test]
fn a_python_service_under_zero_code_instrumentation_is_checked_exactly_per_signal() {
    if let Some(reason) = skip_reason() {
        assert!(!required(), "required but skipped: {reason}");
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lgtm-check-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Both at once, each with its own stack.
    let unusable = snapshot_unusable();
    let snapshot = unusable.is_none().then(|| workspace().join(SNAPSHOT));
    let healthy = {
        let json = dir.join("ok.json");
        std::thread::spawn(move || run_app("", snapshot, "20", &json))
    };
    let broken = {
        let json = dir.join("broken.json");
        // Its metrics check can only fail (nothing was forwarded): it waits 5 s.
        std::thread::spawn(move || run_app("unforwarded-otlp-metrics", None, "5", &json))
    };

    // 1. Every signal it sent is accounted for: 12 requests (12 server spans), 12
    //    lines of its own and 12 of werkzeug's access log plus one at the end, and 5
    //    metric points (the counter's 2 series, the duration histogram's 2, the
    //    active-requests gauge).
    let (code, out, report) = healthy.join().unwrap();
    assert_eq!(sent(&report, "traces").0, 12, "{out}");
    assert_eq!(sent(&report, "logs").0, 25, "{out}");
    assert_eq!(sent(&report, "metrics").0, 5, "{out}");
    assert_eq!(sent(&report, "metrics").1, 5, "acknowledged: {out}");
    for id in [
        "app.traces.exact",
        "app.logs.exact",
        "app.metrics.exact",
        "app.correlation.metrics_to_traces",
    ] {
        let c = check(&report, id);
        match c["status"].as_str() {
            Some("pass") => {}
            Some("skip") => {
                let why = c["reason"].as_str().unwrap_or_default();
                assert!(why.contains("is not available"), "{id} skipped: {why}");
                eprintln!("SKIPPED {id}: {why}");
            }
            other => panic!("{id} is {other:?}: {}\n{out}", c["reason"]),
        }
    }
    assert_eq!(
        check(&report, "app.metrics.exact")["status"],
        "pass",
        "{out}"
    );
    // Its shape is the committed one (a difference fails with the diff, and the new
    // shape is written beside the snapshot as `.new`).
    match &unusable {
        None => assert_eq!(check(&report, "app.shape")["status"], "pass", "{out}"),
        Some(why) => eprintln!("SKIPPED the shape comparison: {why}"),
    }
    assert_eq!(code, 0, "{out}");

    // 2. Its metrics forwarded nowhere: the program's export is refused, the check
    //    fails naming the missing series, and the run exits 1.
    let (code, out, report) = broken.join().unwrap();
    assert_eq!(sent(&report, "metrics"), (5, 0), "{out}");
    let c = check(&report, "app.metrics.exact");
    assert_eq!(c["status"], "fail", "{out}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("missing series {__name__=\"shop_orders_total\""),
        "{}",
        c["reason"]
    );
    assert!(out.contains("no backend for metrics"), "{out}");
    assert_eq!(code, 1, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
