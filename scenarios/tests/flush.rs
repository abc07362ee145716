//! Dropping the telemetry guard delivers everything: a sink in this process accepts
//! Loki pushes and OTLP/HTTP trace exports (decoding both), the test emits lines and
//! spans, drops the guard and counts what the sink received. Without the flush the
//! spans would still sit in the batch processor (5 s delay) and lines in
//! tracing-loki's queue.
//!
//! The sink is not a mock of a backend under test; it is where the exporters deliver,
//! so the test can count.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use lgtm_scenarios::telemetry::{EnvMap, TelemetryConfig, TelemetryFlags, init};
use prost::Message;

#[derive(Default)]
struct Received {
    lines: Vec<String>,
    spans: usize,
    trace_ids_in_lines: usize,
}

type Sink = Arc<Mutex<Received>>;

async fn loki_push(State(sink): State<Sink>, body: Bytes) -> &'static str {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("snappy body");
    let push =
        <loki_api::logproto::PushRequest as loki_api::prost::Message>::decode(raw.as_slice())
            .expect("protobuf push");
    let mut sink = sink.lock().unwrap();
    for stream in push.streams {
        assert!(
            stream.labels.contains("run_id=\"flush\""),
            "{}",
            stream.labels
        );
        for entry in stream.entries {
            let line: serde_json::Value = serde_json::from_str(&entry.line).unwrap();
            if line["trace_id"].as_str().is_some_and(|t| t.len() == 32) {
                sink.trace_ids_in_lines += 1;
            }
            sink.lines
                .push(line["message"].as_str().unwrap_or_default().to_owned());
        }
    }
    ""
}

async fn otlp_traces(State(sink): State<Sink>, body: Bytes) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    let req = ExportTraceServiceRequest::decode(body).expect("protobuf export");
    let spans: usize = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    sink.lock().unwrap().spans += spans;
    ExportTraceServiceResponse::default().encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_guard_delivers_every_line_and_span() {
    let sink = Sink::default();
    let app = Router::new()
        .route("/loki/api/v1/push", post(loki_push))
        .route("/v1/traces", post(otlp_traces))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let flags = TelemetryFlags {
        run_id: "flush".into(),
        loki_url: Some(format!("http://{addr}")),
        otlp_endpoint: Some(format!("http://{addr}")),
        otlp_protocol: Some("http/protobuf".into()),
        ..Default::default()
    };
    let guard = init(TelemetryConfig::resolve(&flags, &EnvMap::new()).unwrap()).unwrap();

    // More lines than tracing-loki's queue holds (512), emitted as fast as possible.
    const N: usize = 1500;
    for i in 0..N {
        let span = tracing::info_span!(target: "scenario", "unit", i);
        let _entered = span.enter();
        lgtm_scenarios::log!(tracing::Level::INFO, i, "line {i}");
    }
    drop(guard);

    let received = sink.lock().unwrap();
    assert_eq!(received.lines.len(), N, "Loki lines delivered");
    assert_eq!(
        received.trace_ids_in_lines, N,
        "every line carries its trace id"
    );
    let mut messages = received.lines.clone();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), N, "each line exactly once");
    assert_eq!(received.spans, N, "spans delivered");
}
