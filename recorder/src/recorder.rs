//! [`Recorder`]: the handle every recording wrapper shares, and the manifest it builds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::logs::{LokiChannel, LokiDropWatch, LokiLayer, LokiTask};
use crate::manifest::{
    Labels, LogLine, LogStream, LogsManifest, Loss, MANIFEST_SCHEMA_VERSION, Manifest,
    MetricsManifest, SpanRecord, TraceRecord, TracesManifest,
};
use crate::metrics_recorder::{MetricsStore, RecordingMetrics};
use crate::spans::{RecordingExporter, RecordingSampler};

/// Everything recorded so far.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Exported spans with their trace id, in export order.
    pub spans: Vec<(String, SpanRecord)>,
    /// Spans in batches the exporter failed to export.
    pub failed_spans: u64,
    /// Sampled spans handed to the recorded processor, with their trace id, in
    /// order (`None`: no processor recorded).
    pub ended: Option<Vec<(String, SpanRecord)>>,
    pub roots_started: u64,
    pub unsampled_trace_ids: Vec<String>,
    /// The root sampling ratio of the recorded sampler (1 when none was recorded).
    pub sampler_ratio: Option<f64>,
    /// Log lines handed to the Loki layer, with their stream labels, in order.
    pub lines: Vec<(Labels, LogLine)>,
    /// Lines tracing-loki reported it dropped after failing to push them.
    pub loki_dropped: u64,
    /// Pushes tracing-loki reported failed. It retries them later, but not once it
    /// is shutting down, and it never reports a success: so any failure means lines
    /// may be lost.
    pub loki_push_failures: u64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub loki: Arc<LokiChannel>,
    pub metrics: Arc<MetricsStore>,
    scenario: String,
    run_id: String,
    service: String,
    environment: Mutex<String>,
    started_at_unix_ms: u64,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Records what a program handed to its exporters; cheap to clone (all clones share
/// one record). Create one per run, wrap your exporters with its methods, and write
/// the manifest when the exporters have been flushed and shut down.
///
/// ```
/// use lgtm_check_recorder::Recorder;
/// let recorder = Recorder::new("my-app", "run-1", "checkout").environment("test");
/// let m = recorder.manifest();
/// assert_eq!((m.scenario.as_str(), m.run_id.as_str()), ("my-app", "run-1"));
/// assert!(m.losses.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Recorder {
    pub(crate) shared: Arc<Shared>,
}

impl Recorder {
    /// A recorder for one run of `name` (the manifest's `scenario`), whose telemetry
    /// carries `run_id` and `service` (as the `run_id` and `service` labels /
    /// resource attributes). The run starts now.
    pub fn new(
        name: impl Into<String>,
        run_id: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Recorder {
            shared: Arc::new(Shared {
                store: Mutex::new(Store::default()),
                loki: Arc::new(LokiChannel::default()),
                metrics: Arc::new(MetricsStore::default()),
                scenario: name.into(),
                run_id: run_id.into(),
                service: service.into(),
                environment: Mutex::new(String::new()),
                started_at_unix_ms: now_ms(),
            }),
        }
    }

    pub(crate) fn shared_service(&self) -> String {
        self.shared.service.clone()
    }

    /// Sets the manifest's `environment` (the `environment` label /
    /// `deployment.environment`).
    pub fn environment(self, environment: impl Into<String>) -> Self {
        *self
            .shared
            .environment
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = environment.into();
        self
    }

    /// Declares the share of root spans the sampler samples (the manifest's
    /// `sampler_ratio`), where [`sampler`](Self::sampler) cannot see it.
    pub fn sampler_ratio(&self, ratio: f64) {
        self.shared.lock().sampler_ratio = Some(ratio);
    }

    /// Wraps a span exporter (e.g. `opentelemetry_otlp::SpanExporter`): spans are
    /// recorded when the inner exporter reported their batch exported, and counted as
    /// lost when it reported the batch failed. Put the wrapper in your batch processor
    /// in place of the exporter.
    pub fn span_exporter<E>(&self, inner: E) -> RecordingExporter<E> {
        RecordingExporter::new(inner, self.clone())
    }

    /// Wraps a span processor (e.g. `BatchSpanProcessor`, over an exporter wrapped by
    /// [`span_exporter`](Self::span_exporter)): records the sampled spans it is
    /// handed, which the manifest's `traces` then list, and counts those it dropped
    /// before export as lost.
    pub fn span_processor<P>(&self, inner: P) -> crate::spans::RecordingProcessor<P> {
        crate::spans::RecordingProcessor::new(inner, self.clone())
    }

    /// Wraps the tracer provider's sampler: counts root spans and records the trace
    /// ids of the roots it did not sample.
    pub fn sampler(&self, inner: opentelemetry_sdk::trace::Sampler) -> RecordingSampler {
        RecordingSampler::new(inner, self.clone())
    }

    /// Wraps the layer that pushes events to Loki (tracing-loki's `Layer`), pushed
    /// under `labels` (without `level`, which tracing-loki adds per event). Every
    /// event the layer is handed is recorded; with [`loki_task`](Self::loki_task) the
    /// events tracing-loki drops because its channel is full are counted too.
    pub fn loki_layer<L, K, V>(
        &self,
        inner: L,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> LokiLayer<L>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let labels: Labels = labels
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        LokiLayer::new(inner, labels, self.clone())
    }

    /// Wraps tracing-loki's background task (spawn the wrapper in its place), so the
    /// layer from [`loki_layer`](Self::loki_layer) knows exactly how full the channel
    /// between them is.
    pub fn loki_task<F: std::future::Future>(&self, task: F) -> LokiTask<F> {
        LokiTask::new(task, self.shared.loki.clone())
    }

    /// A layer that watches tracing-loki's own error events: lines it dropped after
    /// failing to push them, and failed pushes. Add it to the subscriber unfiltered
    /// (or with target `tracing_loki` at level ERROR let through).
    pub fn loki_error_watch(&self) -> LokiDropWatch {
        LokiDropWatch::new(self.clone())
    }

    /// Wraps a metrics recorder (e.g. metrics-exporter-prometheus's
    /// `PrometheusRecorder`); install the wrapper as the global recorder in its place.
    pub fn metrics<R: metrics::Recorder>(&self, inner: R) -> RecordingMetrics<R> {
        RecordingMetrics::new(inner, self.shared.metrics.clone())
    }

    /// The `logs` section: recorded lines grouped into streams.
    pub fn logs_manifest(&self) -> LogsManifest {
        logs_manifest(&self.shared.lock().lines)
    }

    /// The `traces` section: spans by trace (every span ended when the processor is
    /// recorded, else every span exported), root counts, unsampled ids.
    pub fn traces_manifest(&self) -> TracesManifest {
        let store = self.shared.lock();
        traces_manifest(
            store.sampler_ratio.unwrap_or(1.0),
            store.roots_started,
            store.ended.as_deref().unwrap_or(&store.spans),
            &store.unsampled_trace_ids,
        )
    }

    /// The `metrics` section: every counter series with its current value and every
    /// histogram series with its observations (no process metrics).
    pub fn metrics_manifest(&self) -> MetricsManifest {
        self.shared.metrics.manifest()
    }

    /// Lines tracing-loki dropped because its channel was full, so far.
    pub fn loki_channel_drops(&self) -> u64 {
        self.shared.loki.dropped()
    }

    /// Failed pushes tracing-loki reported, so far (it retries them; lines are lost
    /// when it gives up, or when it is shut down while retrying).
    pub fn loki_push_failures(&self) -> u64 {
        self.shared.lock().loki_push_failures
    }

    /// What the instrumentation lost, by where, so far (places with nothing lost left
    /// out). Spans a recorded processor has not passed on yet count as lost: ask after
    /// the tracer provider has shut down.
    pub fn losses(&self) -> Vec<Loss> {
        let store = self.shared.lock();
        [
            Loss::new(
                "logs",
                crate::LOSS_LOKI_CHANNEL_FULL,
                self.shared.loki.dropped(),
            ),
            Loss::new("logs", crate::LOSS_LOKI_PUSH_GAVE_UP, store.loki_dropped),
            Loss::new(
                "logs",
                crate::LOSS_LOKI_AFTER_SHUTDOWN,
                self.shared.loki.after_shutdown(),
            ),
            Loss::new("traces", crate::LOSS_SPAN_EXPORT_FAILED, store.failed_spans),
            Loss::new(
                "traces",
                crate::LOSS_SPAN_PROCESSOR_DROPPED,
                store.ended.as_ref().map_or(0, |ended| {
                    (ended.len() as u64)
                        .saturating_sub(store.spans.len() as u64 + store.failed_spans)
                }),
            ),
        ]
        .into_iter()
        .filter(|l| l.count > 0)
        .collect()
    }

    /// The manifest of everything recorded, finished now. Call it after the exporters
    /// have been flushed and shut down (tracer provider shut down, tracing-loki's
    /// controller shut down and its task finished), so nothing is still in flight.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            scenario: self.shared.scenario.clone(),
            run_id: self.shared.run_id.clone(),
            service: self.shared.service.clone(),
            environment: self
                .shared
                .environment
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            started_at_unix_ms: self.shared.started_at_unix_ms,
            finished_at_unix_ms: now_ms(),
            services: Vec::new(),
            logs: self.logs_manifest(),
            traces: self.traces_manifest(),
            metrics: self.metrics_manifest(),
            losses: self.losses(),
            pushback: Vec::new(),
        }
    }

    /// Writes [`manifest`](Self::manifest) to `path` (atomically).
    pub fn write_manifest(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        self.manifest().write(path.as_ref())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

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
/// start time (then id); unsampled ids sorted, without repeats.
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
    fn losses_name_where_and_leave_out_places_with_none() {
        let r = Recorder::new("s", "r", "svc");
        assert!(r.losses().is_empty());
        r.shared.lock().failed_spans = 3;
        r.shared.lock().loki_dropped = 2;
        assert_eq!(
            r.manifest().losses,
            vec![
                Loss::new("logs", crate::LOSS_LOKI_PUSH_GAVE_UP, 2),
                Loss::new("traces", crate::LOSS_SPAN_EXPORT_FAILED, 3),
            ]
        );
    }
}
