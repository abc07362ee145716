//! Recording what really left the process, for the manifest.
//!
//! - [`RecordingExporter`] wraps the OTLP span exporter: a batch is recorded only when
//!   the inner exporter reported it exported.
//! - [`RecordingSampler`] wraps the sampler: it counts root spans and records the trace
//!   ids of the roots it dropped.
//! - [`LogRecorder`] is a layer beside tracing-loki's, under the same filter: it records
//!   every event the Loki layer is handed, with the stream labels tracing-loki pushes
//!   it under. [`LokiFlow`] keeps tracing-loki's bounded queue (512 events, full means
//!   silently dropped) from overflowing, so that what is recorded is what is pushed.
//!
//! The manifest sections are built from these records by pure functions,
//! [`logs_manifest`] and [`traces_manifest`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, UNIX_EPOCH};

use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, ShouldSample, SpanData, SpanExporter,
};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context as LayerContext;

use crate::manifest::{
    Labels, LogLine, LogStream, LogsManifest, SpanRecord, TraceRecord, TracesManifest,
};

/// Everything recorded so far.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Exported spans with their trace id, in export order.
    pub spans: Vec<(String, SpanRecord)>,
    /// Spans in batches the exporter failed to export.
    pub failed_spans: u64,
    pub roots_started: u64,
    pub unsampled_trace_ids: Vec<String>,
    /// Log lines handed to the Loki layer, with their stream labels, in order.
    pub lines: Vec<(Labels, LogLine)>,
    /// Lines tracing-loki reported it dropped after failing to push them.
    pub loki_dropped: u64,
    /// Pushes tracing-loki reported failed. It retries them later, but not once it
    /// is shutting down, and it never reports a success: so any failure means lines
    /// may be lost.
    pub loki_push_failures: u64,
}

pub(crate) type SharedStore = Arc<Mutex<Store>>;

fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Spans

/// A span exporter that records every span its inner exporter exported.
#[derive(Debug)]
pub(crate) struct RecordingExporter<E> {
    pub inner: E,
    pub store: SharedStore,
    pub service: String,
}

impl<E: SpanExporter> SpanExporter for RecordingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let records: Vec<(String, SpanRecord)> = batch
            .iter()
            .map(|s| span_record(s, &self.service))
            .collect();
        let result = self.inner.export(batch).await;
        let mut store = lock(&self.store);
        match &result {
            Ok(()) => store.spans.extend(records),
            Err(_) => store.failed_spans += records.len() as u64,
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
        self.inner.set_resource(resource);
    }
}

/// The manifest's view of an exported span.
pub(crate) fn span_record(s: &SpanData, service: &str) -> (String, SpanRecord) {
    let parent = s.parent_span_id;
    let record = SpanRecord {
        span_id: s.span_context.span_id().to_string(),
        parent_span_id: (parent != opentelemetry::trace::SpanId::INVALID)
            .then(|| parent.to_string()),
        name: s.name.to_string(),
        service: service.to_owned(),
        kind: kind_name(&s.span_kind).into(),
        status: match s.status {
            Status::Unset => "unset",
            Status::Ok => "ok",
            Status::Error { .. } => "error",
        }
        .into(),
        attributes: s
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), json_value(&kv.value)))
            .collect(),
        start_unix_nanos: unix_nanos(s.start_time),
        duration_nanos: s
            .end_time
            .duration_since(s.start_time)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    };
    (s.span_context.trace_id().to_string(), record)
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Internal => "internal",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

fn unix_nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::I64(i) => (*i).into(),
        Value::F64(f) => (*f).into(),
        Value::String(s) => s.as_str().into(),
        other => other.to_string().into(),
    }
}

/// A sampler that delegates and records every root decision.
#[derive(Debug, Clone)]
pub(crate) struct RecordingSampler {
    pub inner: Sampler,
    pub store: SharedStore,
}

impl ShouldSample for RecordingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let result =
            self.inner
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        let is_root = parent_context.is_none_or(|cx| !cx.span().span_context().is_valid());
        if is_root {
            let mut store = lock(&self.store);
            store.roots_started += 1;
            if result.decision != SamplingDecision::RecordAndSample {
                store.unsampled_trace_ids.push(trace_id.to_string());
            }
        }
        result
    }
}

// ---------------------------------------------------------------------------
// Logs

/// How far tracing-loki's queue may fill before emitters wait (its capacity is 512).
const LOKI_ROOM: u64 = 256;
/// The longest an emitter waits for room before going on (and risking a drop).
const LOKI_WAIT: Duration = Duration::from_secs(5);

/// Counts events handed to tracing-loki and events its background task has taken off
/// the queue, so emitters can wait instead of overflowing it.
#[derive(Debug, Default)]
pub(crate) struct LokiFlow {
    sent: AtomicU64,
    drained: AtomicU64,
}

impl LokiFlow {
    fn wait_for_room(&self) {
        let full = || {
            self.sent
                .load(Ordering::SeqCst)
                .saturating_sub(self.drained.load(Ordering::SeqCst))
                >= LOKI_ROOM
        };
        if !full() {
            return;
        }
        let wait = || {
            let deadline = Instant::now() + LOKI_WAIT;
            while full() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
        };
        // block_in_place hands this worker's queue (where the woken background task
        // may sit, unstealable) to another thread while we wait.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }
}

/// tracing-loki's background task, noting how much of the queue it has drained. Each
/// poll drains the queue completely (`unconstrained`: no cooperative budget), so
/// everything counted as sent before the poll has been taken off the queue after it.
pub(crate) struct Draining<F> {
    inner: Pin<Box<tokio::task::coop::Unconstrained<F>>>,
    flow: Arc<LokiFlow>,
}

impl<F: Future> Draining<F> {
    pub fn new(task: F, flow: Arc<LokiFlow>) -> Self {
        Draining {
            inner: Box::pin(tokio::task::coop::unconstrained(task)),
            flow,
        }
    }
}

impl<F: Future> Future for Draining<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let sent = self.flow.sent.load(Ordering::SeqCst);
        let out = self.inner.as_mut().poll(cx);
        self.flow.drained.fetch_max(sent, Ordering::SeqCst);
        out
    }
}

/// Records every event it sees as the Loki line tracing-loki makes of it. Put it under
/// the same filter as the Loki layer, before it.
pub(crate) struct LogRecorder {
    pub store: SharedStore,
    /// The stream labels without `level` (tracing-loki adds that per event).
    pub labels: Labels,
    pub flow: Arc<LokiFlow>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogRecorder {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: LayerContext<'_, S>) {
        self.flow.wait_for_room();
        let mut fields = FieldStrings::default();
        event.record(&mut fields);
        let level = level_label(event.metadata().level());
        let mut labels = self.labels.clone();
        labels.insert("level".into(), level.into());
        let line = LogLine {
            level: level.into(),
            message: fields.message.unwrap_or_default(),
            fields: fields.fields,
        };
        lock(&self.store).lines.push((labels, line));
        self.flow.sent.fetch_add(1, Ordering::SeqCst);
    }
}

/// The `level` label value tracing-loki pushes.
pub(crate) fn level_label(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::TRACE => "trace",
        tracing::Level::DEBUG => "debug",
        tracing::Level::INFO => "info",
        tracing::Level::WARN => "warn",
        tracing::Level::ERROR => "error",
    }
}

/// Watches tracing-loki's own error events for failed pushes and lines it gave up on.
pub(crate) struct LokiDropWatch {
    pub store: SharedStore,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LokiDropWatch {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut fields = FieldStrings::default();
        event.record(&mut fields);
        let mut store = lock(&self.store);
        if let Some(n) = fields
            .fields
            .get("num_dropped")
            .and_then(|n| n.parse::<u64>().ok())
        {
            store.loki_dropped += n;
        } else if fields.fields.contains_key("error_count") {
            store.loki_push_failures += 1;
        }
    }
}

/// An event's fields as strings: `message` apart, the rest by name.
#[derive(Default)]
struct FieldStrings {
    message: Option<String>,
    fields: BTreeMap<String, String>,
}

impl FieldStrings {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.fields.insert(field.name().into(), value);
        }
    }
}

impl Visit for FieldStrings {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.to_string());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.to_string());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.to_string());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string());
    }
}

// ---------------------------------------------------------------------------
// Manifest sections

/// Log lines grouped into Loki streams (streams in order of their first line, lines
/// in emission order).
pub fn logs_manifest(lines: &[(Labels, LogLine)]) -> LogsManifest {
    let mut streams: Vec<LogStream> = Vec::new();
    for (labels, line) in lines {
        match streams.iter_mut().find(|s| &s.labels == labels) {
            Some(s) => s.lines.push(line.clone()),
            None => streams.push(LogStream {
                labels: labels.clone(),
                lines: vec![line.clone()],
            }),
        }
    }
    LogsManifest { streams }
}

/// Exported spans grouped by trace: traces ordered by their earliest span, spans by
/// start time (then id).
pub fn traces_manifest(
    sampler_ratio: f64,
    roots_started: u64,
    spans: &[(String, SpanRecord)],
    unsampled_trace_ids: &[String],
) -> TracesManifest {
    let mut by_trace: BTreeMap<&str, Vec<SpanRecord>> = BTreeMap::new();
    for (trace_id, span) in spans {
        by_trace.entry(trace_id).or_default().push(span.clone());
    }
    let mut traces: Vec<TraceRecord> = by_trace
        .into_iter()
        .map(|(trace_id, mut spans)| {
            spans.sort_by(|a, b| {
                (a.start_unix_nanos, &a.span_id).cmp(&(b.start_unix_nanos, &b.span_id))
            });
            TraceRecord {
                trace_id: trace_id.to_owned(),
                spans,
            }
        })
        .collect();
    traces.sort_by(|a, b| {
        (a.spans[0].start_unix_nanos, &a.trace_id).cmp(&(b.spans[0].start_unix_nanos, &b.trace_id))
    });
    let mut unsampled = unsampled_trace_ids.to_vec();
    unsampled.sort();
    unsampled.dedup();
    TracesManifest {
        sampler_ratio,
        roots_started,
        traces,
        unsampled_trace_ids: unsampled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, start: u64) -> SpanRecord {
        SpanRecord {
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: "n".into(),
            service: "svc".into(),
            kind: "internal".into(),
            status: "unset".into(),
            attributes: BTreeMap::new(),
            start_unix_nanos: start,
            duration_nanos: 1,
        }
    }

    fn line(level: &str, message: &str) -> (Labels, LogLine) {
        (
            Labels::from([
                ("service".into(), "svc".into()),
                ("level".into(), level.into()),
            ]),
            LogLine {
                level: level.into(),
                message: message.into(),
                fields: BTreeMap::new(),
            },
        )
    }

    #[test]
    fn lines_are_grouped_by_stream_in_emission_order() {
        let m = logs_manifest(&[line("info", "a"), line("error", "b"), line("info", "c")]);
        assert_eq!(m.streams.len(), 2);
        assert_eq!(m.streams[0].labels["level"], "info");
        let msgs: Vec<&str> = m.streams[0]
            .lines
            .iter()
            .map(|l| l.message.as_str())
            .collect();
        assert_eq!(msgs, ["a", "c"]);
        assert_eq!(m.streams[1].lines[0].message, "b");
    }

    #[test]
    fn spans_are_grouped_by_trace_and_ordered() {
        // Children are exported before their parents: the manifest orders by start.
        let spans = vec![
            ("t2".to_string(), span("c2", Some("r2"), 25)),
            ("t1".to_string(), span("c1", Some("r1"), 15)),
            ("t1".to_string(), span("r1", None, 10)),
            ("t2".to_string(), span("r2", None, 20)),
        ];
        let m = traces_manifest(0.5, 3, &spans, &["u2".into(), "u1".into(), "u1".into()]);
        assert_eq!(m.sampler_ratio, 0.5);
        assert_eq!(m.roots_started, 3);
        let ids: Vec<&str> = m.traces.iter().map(|t| t.trace_id.as_str()).collect();
        assert_eq!(ids, ["t1", "t2"]);
        assert_eq!(m.traces[0].spans[0].span_id, "r1");
        assert_eq!(m.traces[0].spans[1].parent_span_id.as_deref(), Some("r1"));
        assert_eq!(m.unsampled_trace_ids, ["u1", "u2"]);
    }

    #[test]
    fn exported_span_data_becomes_a_record() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let data = SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
                SpanId::from_hex("00f067aa0ba902b7").unwrap(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: "GET /api/users".into(),
            start_time: start,
            end_time: start + Duration::from_millis(31),
            attributes: vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", 200i64),
            ],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::error("boom"),
            instrumentation_scope: Default::default(),
        };
        let (trace_id, r) = span_record(&data, "rust-app");
        assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id, "00f067aa0ba902b7");
        assert_eq!(r.parent_span_id, None);
        assert_eq!((r.kind.as_str(), r.status.as_str()), ("server", "error"));
        assert_eq!(
            r.attributes["http.response.status_code"],
            serde_json::json!(200)
        );
        assert_eq!(r.start_unix_nanos, 1_700_000_000_000_000_000);
        assert_eq!(r.duration_nanos, 31_000_000);
    }
}
