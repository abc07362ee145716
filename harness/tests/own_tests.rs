//! The manual's "From Rust tests" snippet (`docs/src/rust-tests.md` includes
//! `my_telemetry_arrives` with its imports, between the ANCHOR lines; the README
//! shows an excerpt; `tests/docs.rs` checks both), run for real: a Loki + Tempo
//! stack, one log line pushed to Loki (JSON push API) and one span sent with OTLP/HTTP
//! JSON, both asserted with the waiting assertions, then the containers removed.
//! Skips with the reason where Docker or an image is missing.

// ANCHOR: own_test
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use lgtm_check::assert::{Assertion, ExpectedLine, ExpectedSpan, window};
use lgtm_check::core::component::Component;
use lgtm_check::{Stack, StackError};

#[tokio::test]
async fn my_telemetry_arrives() {
    let stack = match Stack::builder()
        .components([Component::Loki, Component::Tempo])
        .start()
        .await
    {
        Ok(stack) => stack,
        // No image here, or no Docker: say so, and do not pretend it passed.
        Err(e @ (StackError::ImageMissing { .. } | StackError::Docker(_))) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let start = SystemTime::now();
    let now_ns = start
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let http = reqwest::Client::new();

    // Your app would do this through tracing-loki: one JSON line, labelled.
    let line = serde_json::json!({ "message": "order placed", "order_id": "42" }).to_string();
    let push = serde_json::json!({ "streams": [{
        "stream": { "app": "shop", "run": stack.run_id() },
        "values": [[now_ns.to_string(), line]]
    }]});
    let r = http
        .post(stack.loki_push_url().unwrap())
        .json(&push)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "Loki push: {}", r.status());

    // …and this through an OTLP exporter (OTLP/HTTP with JSON).
    let trace_id = format!("{now_ns:032x}");
    let span_id = "00f067aa0ba902b7";
    let span = serde_json::json!({ "resourceSpans": [{
        "resource": { "attributes": [
            { "key": "service.name", "value": { "stringValue": "shop" } }
        ]},
        "scopeSpans": [{ "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": "GET /orders",
            "kind": 2,
            "startTimeUnixNano": now_ns.to_string(),
            "endTimeUnixNano": (now_ns + 5_000_000).to_string(),
            "attributes": [
                { "key": "http.route", "value": { "stringValue": "/orders" } }
            ]
        }]}]
    }]});
    let r = http
        .post(format!("{}/v1/traces", stack.otlp_http_url().unwrap()))
        .json(&span)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "OTLP push: {}", r.status());

    // Pinned to the window the telemetry was emitted in.
    let w = window(
        start - Duration::from_secs(1),
        SystemTime::now() + Duration::from_secs(1),
    );
    let selector = format!(r#"{{app="shop", run="{}"}}"#, stack.run_id());
    let wait = Duration::from_secs(60);
    stack
        .assert(&Assertion::log_count(&selector, w, 1).within(wait))
        .await
        .unwrap();
    let expected_line = ExpectedLine {
        labels: BTreeMap::from([
            ("app".to_string(), "shop".to_string()),
            ("run".to_string(), stack.run_id().to_string()),
        ]),
        message: "order placed".into(),
        fields: BTreeMap::from([("order_id".to_string(), "42".to_string())]),
    };
    stack
        .assert(&Assertion::log_lines(&selector, w, vec![expected_line], true).within(wait))
        .await
        .unwrap();
    let expected_span = ExpectedSpan {
        span_id: span_id.into(),
        parent_span_id: None,
        name: "GET /orders".into(),
        service: "shop".into(),
        kind: "server".into(),
        status: "unset".into(),
        attributes: BTreeMap::from([("http.route".to_string(), "/orders".into())]),
    };
    stack
        .assert(&Assertion::trace(&trace_id, vec![expected_span]).within(wait))
        .await
        .unwrap();
    // Dropping the stack removes its containers and network.
}
// ANCHOR_END: own_test

/// A failing assertion says what was expected, what the backend answered, and the
/// query with its window; and the stack is gone afterwards.
#[tokio::test]
async fn a_failing_assertion_names_the_query_and_the_answer() {
    let stack = match Stack::builder().components([Component::Loki]).start().await {
        Ok(stack) => stack,
        Err(e @ (StackError::ImageMissing { .. } | StackError::Docker(_))) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let run_id = stack.run_id().to_string();
    let now = SystemTime::now();
    let w = window(now - Duration::from_secs(60), now);
    let selector = format!(r#"{{run="{run_id}"}}"#);
    let e = stack
        .assert(&Assertion::log_count(&selector, w, 3).within(Duration::from_secs(2)))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("expected 3 log lines"), "{msg}");
    assert!(msg.contains("count_over_time"), "{msg}");
    assert!(
        msg.contains("[60000ms]") && msg.contains("(at "),
        "the window is named: {msg}"
    );
    assert!(msg.contains("missing series"), "what was answered: {msg}");
    drop(stack);
    let left = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=org.lgtm-check.run-id={run_id}"),
        ])
        .output()
        .expect("docker ps");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "containers left behind"
    );
}

/// A missing image is a typed error naming the image, not a panic; with
/// `skip_unavailable` the component is skipped with the reason instead.
#[tokio::test]
async fn a_missing_image_is_named() {
    let image: lgtm_check::core::component::ImageRef =
        "lgtm-check/no-such-image:0".parse().unwrap();
    let r = Stack::builder()
        .components([Component::Loki])
        .image(Component::Loki, image.clone())
        .start()
        .await;
    match r {
        Err(StackError::ImageMissing { image: named, .. }) => assert_eq!(named, image.to_string()),
        Err(StackError::Docker(e)) => eprintln!("SKIPPED: {e}"),
        other => panic!("expected a missing image, got {other:?}"),
    }
    if let Ok(stack) = Stack::builder()
        .components([Component::Loki])
        .image(Component::Loki, image.clone())
        .skip_unavailable()
        .start()
        .await
    {
        let loki = &stack.components()[&Component::Loki];
        assert!(
            loki.reason
                .as_deref()
                .unwrap_or("")
                .contains("no-such-image")
        );
        assert!(stack.loki_url().is_err());
    }
}
