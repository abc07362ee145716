//! Telemetry-shape snapshots against real backends: the http-service scenario sends
//! to Loki 3.2, Tempo 2.6 and a Prometheus that scrapes it; its shape is collected,
//! snapshotted, collected again from a second run (equal), and compared with a run
//! that also sends the legacy HTTP attributes (fails, naming them); the three runs go
//! side by side, each scraped on a port of its own. The first run is also compared
//! with the committed `tests/data/shape/http-service.shape.yaml`.
//!
//! Skipped, with the reason, when Docker, an image or the scenario binary is
//! missing; `LGTM_CHECK_REQUIRE_ALL=1` turns the skip into a failure.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lgtm_check::clients::Endpoint;
use lgtm_check::clients::loki::LokiClient;
use lgtm_check::clients::prometheus::PromClient;
use lgtm_check::clients::tempo::TempoClient;
use lgtm_check::core::catalog_telemetry::window;
use lgtm_check::core::component::Component;
use lgtm_check::core::shape::{ShapeChange, ShapeItem};
use lgtm_check::scenario::{ScenarioRun, find_binary};
use lgtm_check::shape::{
    ShapeSources, SnapshotOutcome, UpdateMode, check_snapshot, collect, collect_settled,
};
use lgtm_check::stack::docker::run_labels;
use testcontainers::core::{Host, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

const LOKI: (&str, &str) = ("grafana/loki", "3.2.0");
const TEMPO: (&str, &str) = ("grafana/tempo", "2.6.0");
const PROMETHEUS: (&str, &str) = ("lgtm-check/prometheus", "debian");

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    common::cannot_run(&[LOKI, TEMPO, PROMETHEUS].map(|(name, tag)| format!("{name}:{tag}")))
}

async fn ready(http: &reqwest::Client, url: &str) {
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{url} not ready after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Started {
    container: ContainerAsync<GenericImage>,
    root: String,
}

async fn start(
    http: &reqwest::Client,
    (name, tag): (&str, &str),
    run_id: &str,
    ports: &[u16],
    cmd: &[&str],
    file: (&str, String),
    ready_path: &str,
) -> Started {
    let mut image = GenericImage::new(name, tag).with_wait_for(WaitFor::Nothing);
    for p in ports {
        image = image.with_exposed_port(p.tcp());
    }
    let container = image
        .with_cmd(cmd.iter().map(|c| c.to_string()))
        .with_copy_to(file.0, file.1.into_bytes())
        .with_labels(run_labels(run_id))
        .with_host("host.docker.internal", Host::HostGateway)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{name}:{tag} does not start: {e}"));
    let port = container.get_host_port_ipv4(ports[0]).await.unwrap();
    let root = format!("http://127.0.0.1:{port}");
    ready(http, &format!("{root}{ready_path}")).await;
    Started { container, root }
}

/// Runs `lgtm-check shape ARGS` without the caller's `LGTM_CHECK_*`: its exit code,
/// stdout and stderr.
fn shape_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lgtm-check"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LGTM_CHECK_") {
            command.env_remove(key);
        }
    }
    let out = command.arg("shape").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_shape_command_refuses_a_run_without_backend_or_window() {
    let (code, _, err) = shape_cli(&["--run-id", "r1", "--from", "10", "--to", "20"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("give at least one of --loki, --tempo, --prometheus"),
        "{err}"
    );
    let (code, _, err) = shape_cli(&[
        "--run-id",
        "r1",
        "--from",
        "20",
        "--to",
        "10",
        "--loki",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--from (20) must be before --to (10)"),
        "{err}"
    );
    // A backend that does not answer: named, with its URL.
    let (code, _, err) = shape_cli(&[
        "--run-id",
        "r1",
        "--from",
        "10",
        "--to",
        "20",
        "--loki",
        "http://u:CanaryPw@127.0.0.1:9",
        "--settle-timeout",
        "1",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("loki at http://127.0.0.1:9/loki/api/v1/query_range is unreachable"),
        "{err}"
    );
    assert!(!err.contains("CanaryPw"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_service_shape_is_stable_and_legacy_attributes_fail_the_snapshot() {
    if let Some(reason) = missing() {
        assert!(
            std::env::var("LGTM_CHECK_REQUIRE_ALL").as_deref() != Ok("1"),
            "required but skipped: {reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let http = reqwest::Client::new();
    let id = format!("shape{}", std::process::id());
    // A /metrics port for each of the three runs, all scraped: the runs go side by
    // side.
    let three = || -> [u16; 3] { std::array::from_fn(|_| common::free_port()) };
    let mut ports = three();
    while ports[1] == ports[0] || ports[2] == ports[0] || ports[2] == ports[1] {
        ports = three();
    }
    let targets: Vec<String> = ports
        .iter()
        .map(|p| format!("'host.docker.internal:{p}'"))
        .collect();
    let scrape = format!(
        "global:\n  scrape_interval: 250ms\n  scrape_timeout: 250ms\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    let (loki, tempo, prom) = tokio::join!(
        start(
            &http,
            LOKI,
            &id,
            &[3100],
            &["-config.file=/etc/loki/config.yaml"],
            ("/etc/loki/config.yaml", fixture("loki/loki.yaml")),
            "/ready",
        ),
        start(
            &http,
            TEMPO,
            &id,
            &[3200, 4317],
            &["-config.file=/etc/tempo/config.yaml"],
            ("/etc/tempo/config.yaml", fixture("tempo/tempo.yaml")),
            "/ready",
        ),
        start(
            &http,
            PROMETHEUS,
            &id,
            &[9090],
            &[
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
            ],
            ("/etc/prometheus/prometheus.yml", scrape),
            "/-/ready",
        ),
    );
    let otlp = tempo.container.get_host_port_ipv4(4317).await.unwrap();
    let loki_client = LokiClient::new(http.clone(), Endpoint::new(Component::Loki, &loki.root));
    let tempo_client = TempoClient::new(http.clone(), Endpoint::new(Component::Tempo, &tempo.root));
    let prom_client = PromClient::new(http.clone(), Component::Prometheus, &prom.root);
    let sources = ShapeSources {
        loki: Some(&loki_client),
        tempo: Some(&tempo_client),
        metrics: Some(&prom_client),
    };
    let binary = find_binary("http-service", None).unwrap();
    let work = std::env::temp_dir().join(format!("lgtm-check-{id}"));
    std::fs::create_dir_all(&work).unwrap();

    // One run of http-service; its shape once everything arrived.
    let run = |suffix: &'static str, legacy: bool, metrics_port: u16| {
        let (binary, work, loki_root) = (binary.clone(), work.clone(), loki.root.clone());
        let run_id = format!("{id}-{suffix}");
        async move {
            let mut args: Vec<String> = [
                "--run-id",
                &run_id,
                "--loki-url",
                &loki_root,
                "--otlp-endpoint",
                &format!("http://127.0.0.1:{otlp}"),
                "--otlp-protocol",
                "grpc",
                "--metrics-listen",
                &format!("0.0.0.0:{metrics_port}"),
                "--await-scrapes",
                "--hold",
            ]
            .map(String::from)
            .into();
            if legacy {
                args.push("--legacy-http-attributes".into());
            }
            let manifest: PathBuf = work.join(format!("{suffix}.manifest.json"));
            let scenario = ScenarioRun::start("http-service", &binary, &args, &manifest)
                .await
                .unwrap();
            let w = window(&scenario.manifest);
            scenario.finish().await;
            (run_id, w)
        }
    };
    let snapshot = work.join("snapshots/http-service.shape.yaml");

    // Two runs with the same flags and one with the legacy attribute names as well
    // (the fault), at once; each shape once everything of it arrived.
    let ((run_a, window_a), (run_a2, window_a2), (run_b, window_b)) = tokio::join!(
        run("a", false, ports[0]),
        run("a2", false, ports[1]),
        run("b", true, ports[2]),
    );
    let settle = Duration::from_secs(90);
    let (a, a2, b) = tokio::join!(
        collect_settled(sources, &run_a, window_a, settle),
        collect_settled(sources, &run_a2, window_a2, settle),
        collect_settled(sources, &run_b, window_b, settle),
    );
    let (a, a2, b) = (a.unwrap(), a2.unwrap(), b.unwrap());
    // The committed snapshot of http-service (written when missing: delete it to
    // record a new one).
    let committed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/shape/http-service.shape.yaml");
    let outcome = check_snapshot(&committed, &a, UpdateMode::Compare).unwrap();
    assert!(outcome.passed(), "{}", outcome.message(None));
    assert_eq!(a.counts.traces, 49, "every request's trace");
    assert_eq!(a.counts.log_lines["rust-app"], 49, "every request's line");
    assert!(a.metrics.contains_key("http_requests_total"), "{a:?}");
    assert!(
        matches!(
            check_snapshot(&snapshot, &a, UpdateMode::Compare).unwrap(),
            SnapshotOutcome::Written {
                was_missing: true,
                ..
            }
        ),
        "a missing snapshot is written"
    );
    // The same run read again, and a second run with the same flags: the same shape.
    let again = collect(sources, &run_a, window_a).await.unwrap();
    assert_eq!(again, a);
    let outcome = check_snapshot(&snapshot, &a2, UpdateMode::Compare).unwrap();
    assert!(
        matches!(outcome, SnapshotOutcome::Matched { .. }),
        "{}",
        outcome.message(None)
    );

    // The same through `lgtm-check shape`.
    let cli = shape_cli(&[
        "--run-id",
        &run_a2,
        "--from",
        &(window_a2.start_unix_ms / 1000).to_string(),
        "--to",
        &window_a2.end_unix_ms.div_ceil(1000).to_string(),
        "--loki",
        &loki.root,
        "--tempo",
        &tempo.root,
        "--prometheus",
        &prom.root,
        "--snapshot",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(cli.0, Some(0), "{cli:?}");
    assert!(cli.1.contains("telemetry shape matches"), "{cli:?}");

    // The fault: the legacy attribute names as well.
    let outcome = check_snapshot(&snapshot, &b, UpdateMode::Compare).unwrap();
    let message = outcome.message(Some("shape_live"));
    eprintln!("{message}");
    let SnapshotOutcome::Differs { changes, .. } = &outcome else {
        panic!("the legacy attributes must fail the snapshot: {message}");
    };
    for key in ["http.method", "http.status_code"] {
        assert!(
            changes.iter().any(|c| matches!(c,
                ShapeChange::Added(ShapeItem::SpanAttribute { name, kind, key: k, .. })
                    if name.starts_with("GET /api/users") && kind == "server" && k == key)),
            "{key} not named: {message}"
        );
        assert!(message.contains(&format!("attribute `{key}`")), "{message}");
    }
    assert!(
        message.contains("LGTM_CHECK_UPDATE=1 cargo test -- shape_live"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&work);
}
