//! Live: the guide's plain tracing-loki setup under a 10,000-event burst, with the
//! recorder beside it, against a real Loki 3.2 container (skipped, with the reason,
//! when the image is missing). tracing-loki drops what does not fit its 512-slot
//! channel without a word; the recorder must count every line the code emitted,
//! attribute exactly the lines Loki never got to the full channel, and the harness's
//! `logs.exact` check must fail saying how many are missing.
//!
//! Two runtimes: on a multi-threaded one the background task drains concurrently and
//! how much is lost varies run to run (the assertion is that the recorder's count is
//! exact); on a current-thread one the task cannot run during a synchronous burst, so
//! exactly the channel's 512 events get through and 9,488 are lost, every time.

use std::time::{Duration, Instant};

use lgtm_check::clients::Endpoint;
use lgtm_check::clients::loki::LokiClient;
use lgtm_check::core::catalog_telemetry::logs_checks;
use lgtm_check::core::check::Query;
use lgtm_check::core::component::Component;
use lgtm_check::core::expect::{Expectation, Verdict, evaluate_lines};
use lgtm_check_recorder::Recorder;
use lgtm_check_recorder::manifest::Manifest;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

const LOKI_IMAGE: (&str, &str) = ("grafana/loki", "3.2.0");
const LOKI_CONFIG: &str = include_str!("../../fixtures/loki/loki.yaml");
const BURST: u64 = 10_000;

fn image_present(name: &str, tag: &str) -> Result<(), String> {
    let out = std::process::Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{name}:{tag}"),
        ])
        .output()
        .map_err(|e| format!("docker cannot be run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("image {name}:{tag} is not present locally"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_through_plain_tracing_loki_is_counted_lost_by_name() {
    burst_through_plain_tracing_loki("mt", None).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_burst_the_task_cannot_drain_loses_all_but_the_channel_and_says_so() {
    let fit = lgtm_check_recorder::logs::LOKI_CHANNEL_CAPACITY;
    burst_through_plain_tracing_loki("ct", Some(BURST - fit)).await;
}

/// Emits the burst under a run id made of `name`, writes the manifest, reads Loki
/// back; `expected_loss`, when known, is what must be lost.
async fn burst_through_plain_tracing_loki(name: &str, expected_loss: Option<u64>) {
    let (image, tag) = LOKI_IMAGE;
    if let Err(reason) = image_present(image, tag) {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let loki = GenericImage::new(image, tag)
        .with_exposed_port(3100.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_cmd(["-config.file=/etc/loki/config.yaml"])
        .with_copy_to("/etc/loki/config.yaml", LOKI_CONFIG.as_bytes().to_vec())
        .with_label("org.lgtm-check.test", "recorder-loki-burst")
        .start()
        .await
        .expect("start Loki");
    let port = loki.get_host_port_ipv4(3100).await.expect("Loki's port");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let ready = http.get(format!("{url}/ready")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Loki not ready in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The guide's setup: tracing-loki with its labels, its task spawned; the recorder
    // wraps the layer and the task, and watches tracing-loki's errors.
    let run_id = format!("burst-{name}-{}", std::process::id());
    let labels = [("service", "burst-app"), ("run_id", run_id.as_str())];
    let mut builder = tracing_loki::builder();
    for (k, v) in labels {
        builder = builder.label(k, v).unwrap();
    }
    let (layer, controller, task) = builder
        .build_controller_url(url::Url::parse(&url).unwrap())
        .unwrap();
    let recorder = Recorder::new("burst", run_id.as_str(), "burst-app");
    let subscriber = tracing_subscriber::registry()
        // The usual `info` filter, around the wrapper (hyper's trace events stay out).
        .with(
            recorder
                .loki_layer(layer, labels)
                .with_filter(LevelFilter::INFO),
        )
        .with(recorder.loki_error_watch());
    let task = tokio::spawn(recorder.loki_task(task));
    let guard = tracing::subscriber::set_default(subscriber);
    for i in 0..BURST {
        tracing::info!(i, "burst line {i}");
    }
    controller.shutdown().await;
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("tracing-loki finished within 60 s")
        .unwrap();
    drop(guard);

    let path = std::env::temp_dir().join(format!("{run_id}.manifest.json"));
    recorder.write_manifest(&path).unwrap();
    let manifest = Manifest::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let others: Vec<_> = manifest
        .logs
        .streams
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| !l.message.starts_with("burst line"))
        .collect();
    assert!(others.is_empty(), "{others:?}");
    assert_eq!(
        manifest.log_line_count() as u64,
        BURST,
        "the recorder saw every line"
    );
    let attributed: u64 = manifest.losses_of("logs").map(|l| l.count).sum();

    // What Loki stored, read as the harness reads it, until two reads agree.
    let check = logs_checks("burst", &manifest).remove(0);
    let (Query::LogQlLines { expr, window }, Expectation::Lines { lines, exact }) =
        (&check.query, &check.expect)
    else {
        panic!("logs.exact is no log-line check");
    };
    let client = LokiClient::new(http.clone(), Endpoint::new(Component::Loki, url.clone()));
    let (start, end) = window.nanos();
    let mut got = Vec::new();
    for _ in 0..30 {
        let now = client
            .query_range_all(expr, start, end, 5000)
            .await
            .unwrap();
        let settled = !now.is_empty() && now.len() == got.len();
        got = now;
        if settled || got.len() as u64 == BURST {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let arrived = got.len() as u64;
    let verdict = evaluate_lines(lines, &got, *exact);
    eprintln!(
        "emitted {BURST}, Loki stored {arrived}, recorder attributed {attributed} lost: {:?}; \
         check `{}`: {}",
        manifest.losses,
        check.title,
        verdict.summary()
    );
    assert_eq!(
        BURST - arrived,
        attributed,
        "every line Loki lacks is attributed to where it was lost"
    );
    if let Some(loss) = expected_loss {
        assert_eq!(attributed, loss);
    }
    if attributed == 0 {
        assert!(
            matches!(verdict, Verdict::Pass { .. }),
            "{}",
            verdict.summary()
        );
    } else {
        let want = format!("{attributed} of {BURST} expected lines missing");
        assert!(verdict.summary().contains(&want), "{}", verdict.summary());
        assert!(
            check.title.contains(&format!(
                "{attributed} at {}",
                lgtm_check_recorder::LOSS_LOKI_CHANNEL_FULL
            )),
            "{}",
            check.title
        );
    }
}
