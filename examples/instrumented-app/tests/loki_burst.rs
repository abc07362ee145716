//! The guide's plain tracing-loki setup (no backpressure) under a 10,000-event burst,
//! with the recorder beside it, against a real Loki (skipped, with the reason, when
//! Docker or the image is missing). On a current-thread runtime tracing-loki's task
//! cannot run during a synchronous burst, so all but its 512-slot channel is dropped
//! without a word; the exact-lines check must fail counting the missing lines, and
//! the manifest must say where they were lost.

use std::time::{Duration, Instant};

use lgtm_check::core::catalog_telemetry::logs_checks;
use lgtm_check::core::component::Component;
use lgtm_check::core::report::CheckStatus;
use lgtm_check::execute::run_check;
use lgtm_check::{Stack, StackError};
use lgtm_check_recorder::Recorder;
use lgtm_check_recorder::manifest::Manifest;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

const BURST: u64 = 10_000;

#[tokio::test(flavor = "current_thread")]
async fn a_burst_through_plain_tracing_loki_fails_with_the_loss_counted() {
    let stack = match Stack::builder().components([Component::Loki]).start().await {
        Ok(stack) => stack,
        Err(e @ (StackError::ImageMissing { .. } | StackError::Docker(_))) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let run_id = stack.run_id().to_string();
    let labels = [("service", "burst-app"), ("run_id", run_id.as_str())];
    let mut builder = tracing_loki::builder();
    for (k, v) in labels {
        builder = builder.label(k, v).unwrap();
    }
    let (layer, controller, task) = builder
        .build_controller_url(url::Url::parse(&stack.loki_url().unwrap()).unwrap())
        .unwrap();
    let recorder = Recorder::new("burst", run_id.as_str(), "burst-app");
    let subscriber = tracing_subscriber::registry()
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
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        manifest.log_line_count() as u64,
        BURST,
        "the recorder saw every line"
    );
    let lost: u64 = manifest
        .losses_of("logs")
        .filter(|l| l.place == "tracing-loki channel full")
        .map(|l| l.count)
        .sum();
    let fit = lgtm_check_recorder::logs::LOKI_CHANNEL_CAPACITY;
    assert_eq!(lost, BURST - fit, "losses: {:?}", manifest.losses);

    let check = logs_checks("burst", &manifest).remove(0);
    let report = run_check(
        &check,
        &stack.backends(),
        stack.components(),
        Instant::now(),
        Duration::from_secs(20),
    )
    .await;
    eprintln!("{} {:?}: {}", report.title, report.status, report.reason);
    assert_eq!(report.status, CheckStatus::Fail, "{}", report.reason);
    assert!(
        report
            .reason
            .contains(&format!("{lost} of {BURST} expected lines missing")),
        "{}",
        report.reason
    );
    assert!(
        report.title.contains("tracing-loki channel full"),
        "{}",
        report.title
    );
}
