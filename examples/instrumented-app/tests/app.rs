//! The app's telemetry under test against real Loki, Tempo and Prometheus containers
//! (skipped, with the reason, when Docker or an image is missing): every line, span
//! and counter value the app handed to its exporters arrived, and its shape is the
//! committed snapshot; a renamed span attribute fails the snapshot, naming it.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lgtm_check::core::catalog::{MetricsVia, exact_metrics_checks, settled_after};
use lgtm_check::core::catalog_telemetry::{logs_checks, traces_checks, window};
use lgtm_check::core::report::CheckStatus;
use lgtm_check::core::shape::{Shape, ShapeChange, ShapeItem};
use lgtm_check::execute::run_check;
use lgtm_check::shape::{
    ShapeSources, SnapshotOutcome, UpdateMode, check_snapshot, collect_settled,
};

fn snapshot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/app.shape.yaml")
}

fn run_id(name: &str) -> String {
    format!("app-{name}-{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_span_and_counter_arrives() {
    let Some(stack) = common::stack() else { return };
    let _one = common::ONE_APP.lock().await;
    let manifest = common::run_app(stack, &run_id("arrival"), false).await;
    assert_eq!(manifest.log_line_count(), 3, "one line per request");
    // The counter as Prometheus last scraped it before the app stopped; it appears
    // at its first increment, so it is not asked to start from zero.
    let at = settled_after(&manifest, manifest.finished_at_unix_ms, false);
    let checks: Vec<_> = logs_checks("app", &manifest)
        .into_iter()
        .chain(traces_checks("app", &manifest))
        .chain(exact_metrics_checks(&manifest, MetricsVia::Prometheus, at))
        .collect();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "app.logs.exact",
            "app.traces.exact_ids",
            "app.traces.span_trees",
            "metrics.orders_served_total.exact"
        ]
    );
    let backends = stack.backends();
    for check in &checks {
        let report = run_check(
            check,
            &backends,
            stack.components(),
            Instant::now(),
            Duration::from_secs(60),
        )
        .await;
        eprintln!("{} {:?}: {}", report.id, report.status, report.reason);
        assert_eq!(
            report.status,
            CheckStatus::Pass,
            "{}: {} ({})",
            report.id,
            report.reason,
            report.query
        );
    }
}

/// Runs the app (its order attribute renamed or not) and reads the shape of what
/// arrived under its run id.
async fn shape_of_run(stack: &lgtm_check::Stack, name: &str, renamed: bool) -> Shape {
    let id = run_id(name);
    let manifest = common::run_app(stack, &id, renamed).await;
    let backends = stack.backends();
    collect_settled(
        ShapeSources::from_backends(&backends),
        &id,
        window(&manifest),
        Duration::from_secs(90),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shape_is_the_committed_snapshot() {
    let Some(stack) = common::stack() else { return };
    let _one = common::ONE_APP.lock().await;
    let shape = shape_of_run(stack, "shape", false).await;
    assert!(
        shape.metrics.contains_key("orders_served_total"),
        "{shape:?}"
    );
    let outcome = check_snapshot(&snapshot(), &shape, UpdateMode::from_env()).unwrap();
    assert!(
        outcome.passed(),
        "{}",
        outcome.message(Some("the_shape_is_the_committed_snapshot"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_attribute_fails_the_snapshot_naming_it() {
    let Some(stack) = common::stack() else { return };
    let _one = common::ONE_APP.lock().await;
    let shape = shape_of_run(stack, "renamed", true).await;
    // Compared with the committed file, never written: a missing file is a failure here.
    let path = snapshot();
    assert!(
        path.exists(),
        "run the_shape_is_the_committed_snapshot first: {}",
        path.display()
    );
    let outcome = check_snapshot(&path, &shape, UpdateMode::Compare).unwrap();
    let message = outcome.message(Some("a_renamed_attribute_fails_the_snapshot_naming_it"));
    eprintln!("{message}");
    let SnapshotOutcome::Differs {
        changes, new_file, ..
    } = &outcome
    else {
        panic!("the renamed attribute must fail the snapshot: {message}");
    };
    let _ = std::fs::remove_file(new_file);
    let named = |added: bool, key: &str| {
        changes.iter().any(|c| match c {
            ShapeChange::Added(ShapeItem::SpanAttribute { key: k, .. }) if added => k == key,
            ShapeChange::Removed(ShapeItem::SpanAttribute { key: k, .. }) if !added => k == key,
            _ => false,
        })
    };
    assert!(
        named(true, "order_id"),
        "order_id not named as added: {message}"
    );
    assert!(
        named(false, "order.id"),
        "order.id not named as removed: {message}"
    );
    assert!(message.contains("attribute `order_id`"), "{message}");
    assert!(message.contains("LGTM_CHECK_UPDATE=1"), "{message}");
}
