//! Recording the spans an OpenTelemetry exporter really exported, and the sampler's
//! root decisions.
//!
//! Main items: [`RecordingExporter`], [`RecordingSampler`], [`RecordingProcessor`],
//! [`span_record`].

use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, ShouldSample, Span, SpanData, SpanExporter,
    SpanProcessor,
};

use crate::Recorder;
use crate::manifest::SpanRecord;

/// A span exporter that records every span its inner exporter exported (made by
/// [`Recorder::span_exporter`]).
///
/// A batch is recorded when the inner exporter returns `Ok` for it; when it returns an
/// error, the batch's spans are counted as lost ([`crate::LOSS_SPAN_EXPORT_FAILED`]).
/// The spans' `service` is the resource's `service.name`, which the SDK hands the
/// exporter when the provider is built.
///
/// ```
/// use lgtm_check_recorder::Recorder;
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, Sampler};
///
/// let recorder = Recorder::new("my-app", "run-1", "checkout");
/// let provider = SdkTracerProvider::builder()
///     .with_sampler(recorder.sampler(Sampler::AlwaysOn))
///     .with_simple_exporter(recorder.span_exporter(InMemorySpanExporter::default()))
///     .build();
/// provider.tracer("demo").in_span("GET /orders", |_cx| {});
/// provider.shutdown().unwrap();
/// let traces = recorder.traces_manifest();
/// assert_eq!((traces.roots_started, traces.traces.len()), (1, 1));
/// assert_eq!(traces.traces[0].spans[0].name, "GET /orders");
/// ```
#[derive(Debug)]
pub struct RecordingExporter<E> {
    inner: E,
    recorder: Recorder,
    service: String,
}

impl<E> RecordingExporter<E> {
    pub(crate) fn new(inner: E, recorder: Recorder) -> Self {
        let service = recorder.shared_service();
        RecordingExporter {
            inner,
            recorder,
            service,
        }
    }
}

impl<E: SpanExporter> SpanExporter for RecordingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let records: Vec<(String, SpanRecord)> = batch
            .iter()
            .map(|s| span_record(s, &self.service))
            .collect();
        let result = self.inner.export(batch).await;
        let mut store = self.recorder.shared.lock();
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

/// A span processor that records the sampled spans handed to it (made by
/// [`Recorder::span_processor`]). With it, the manifest's `traces` are every span the
/// code ended (not only those exported), so that a span lost on the way fails the
/// trace checks; and spans the processor never passed to the exporter (a batch
/// processor's full queue, spans still queued at a failed shutdown) are counted as
/// lost ([`crate::LOSS_SPAN_PROCESSOR_DROPPED`]): spans ended minus spans the exporter
/// reported exported or failed.
///
/// ```
/// use lgtm_check_recorder::Recorder;
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::{BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider};
///
/// let recorder = Recorder::new("my-app", "run-1", "checkout");
/// let exporter = recorder.span_exporter(InMemorySpanExporter::default());
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(recorder.span_processor(BatchSpanProcessor::builder(exporter).build()))
///     .build();
/// provider.tracer("demo").in_span("job", |_cx| {});
/// provider.shutdown().unwrap();
/// assert!(recorder.losses().is_empty());
/// assert_eq!(recorder.traces_manifest().traces.len(), 1);
/// ```
#[derive(Debug)]
pub struct RecordingProcessor<P> {
    inner: P,
    recorder: Recorder,
    service: String,
}

impl<P> RecordingProcessor<P> {
    pub(crate) fn new(inner: P, recorder: Recorder) -> Self {
        recorder.shared.lock().ended = Some(Vec::new());
        let service = recorder.shared_service();
        RecordingProcessor {
            inner,
            recorder,
            service,
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for RecordingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            let record = span_record(&span, &self.service);
            let mut store = self.recorder.shared.lock();
            store.ended.get_or_insert_with(Vec::new).push(record);
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
        self.inner.set_resource(resource);
    }
}

/// The manifest's view of an exported span: its trace id and record.
pub fn span_record(s: &SpanData, service: &str) -> (String, SpanRecord) {
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

/// A sampler that delegates and records every root decision (made by
/// [`Recorder::sampler`]): roots started, and the trace ids of those not sampled.
/// The manifest's `sampler_ratio` is the inner sampler's root ratio when it is
/// `AlwaysOn`, `AlwaysOff` or `TraceIdRatioBased`; for others (a `ParentBased` root
/// cannot be seen into) declare it with [`Recorder::sampler_ratio`].
#[derive(Debug, Clone)]
pub struct RecordingSampler {
    inner: Sampler,
    recorder: Recorder,
}

impl RecordingSampler {
    pub(crate) fn new(inner: Sampler, recorder: Recorder) -> Self {
        if let Some(r) = root_ratio(&inner) {
            recorder.shared.lock().sampler_ratio = Some(r);
        }
        RecordingSampler { inner, recorder }
    }
}

/// The share of root spans `sampler` samples, where it can be seen.
pub fn root_ratio(sampler: &Sampler) -> Option<f64> {
    match sampler {
        Sampler::AlwaysOn => Some(1.0),
        Sampler::AlwaysOff => Some(0.0),
        Sampler::TraceIdRatioBased(r) => Some(r.clamp(0.0, 1.0)),
        _ => None,
    }
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
            let mut store = self.recorder.shared.lock();
            store.roots_started += 1;
            if result.decision != SamplingDecision::RecordAndSample {
                store.unsampled_trace_ids.push(trace_id.to_string());
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_a_full_batch_queue_dropped_are_counted_lost() {
        use opentelemetry::trace::{Tracer, TracerProvider as _};
        use opentelemetry_sdk::trace::{
            BatchConfigBuilder, BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider,
        };
        let recorder = Recorder::new("s", "r", "svc");
        let exporter = recorder.span_exporter(InMemorySpanExporter::default());
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(2).build())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(recorder.span_processor(batch))
            .build();
        let tracer = provider.tracer("t");
        for _ in 0..2000 {
            tracer.in_span("s", |_| {});
        }
        provider.shutdown().unwrap();
        let exported: usize = recorder
            .traces_manifest()
            .traces
            .iter()
            .map(|t| t.spans.len())
            .sum();
        let lost: u64 = recorder
            .losses()
            .iter()
            .filter(|l| l.place == crate::LOSS_SPAN_PROCESSOR_DROPPED)
            .map(|l| l.count)
            .sum();
        assert!(lost > 0, "a 2-span queue took 2000 spans at once");
        assert_eq!(exported, 2000, "the manifest lists every span ended");
        assert!(recorder.shared.lock().spans.len() as u64 + lost == 2000);
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
