//! `--fault duplicate-log` really pushes one line twice — with two timestamps, so Loki
//! keeps both — while the manifest lists it once: the harness's `logs.exact` must then
//! say the line "arrived 2 times". A sink in this process receives the Loki pushes.
//!
//! The sink is not a mock of a backend under test; it is where tracing-loki delivers,
//! so the test can count.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use lgtm_scenarios::manifest::Manifest;

/// Pushed entries: (timestamp in ns, line).
type Sink = Arc<Mutex<Vec<(i64, String)>>>;

async fn loki_push(State(sink): State<Sink>, body: Bytes) -> &'static str {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("snappy body");
    let push =
        <loki_api::logproto::PushRequest as loki_api::prost::Message>::decode(raw.as_slice())
            .expect("protobuf push");
    let mut sink = sink.lock().unwrap();
    for stream in push.streams {
        for e in stream.entries {
            let ts = e
                .timestamp
                .map(|t| t.seconds * 1_000_000_000 + i64::from(t.nanos));
            sink.push((ts.unwrap_or_default(), e.line));
        }
    }
    ""
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_log_pushes_one_line_twice_and_lists_it_once() {
    let sink = Sink::default();
    let app = Router::new()
        .route("/loki/api/v1/push", post(loki_push))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = std::env::temp_dir().join(format!("lgtm-duplicate-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("m.json");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_http-service"))
        .args(["--run-id", "dup", "--fault", "duplicate-log", "--manifest"])
        .arg(&manifest)
        .args(["--loki-url", &format!("http://{addr}")])
        .env_remove("LGTM_CHECK_FAULTS")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let m = Manifest::read(&manifest).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let pushed = sink.lock().unwrap().clone();
    assert_eq!(pushed.len(), m.log_line_count() + 1);
    let mut twice: Vec<&(i64, String)> = Vec::new();
    for (i, a) in pushed.iter().enumerate() {
        if pushed[i + 1..].iter().any(|b| b.1 == a.1) {
            twice.push(a);
        }
    }
    assert_eq!(twice.len(), 1, "{pushed:?}");
    let line = &twice[0].1;
    assert!(line.contains("\"endpoint\":\"/api/orders\""), "{line}");
    let stamps: Vec<i64> = pushed
        .iter()
        .filter(|(_, l)| l == line)
        .map(|(t, _)| *t)
        .collect();
    assert_ne!(
        stamps[0], stamps[1],
        "Loki would keep one of two identical entries"
    );
    // the manifest lists every line once
    let listed: usize = m
        .logs
        .streams
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| l.fields.get("endpoint").map(String::as_str) == Some("/api/orders"))
        .count();
    let pushed_orders = pushed
        .iter()
        .filter(|(_, l)| l.contains("\"endpoint\":\"/api/orders\""))
        .count();
    assert_eq!(pushed_orders, listed + 1);
}
