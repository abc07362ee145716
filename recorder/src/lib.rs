#![warn(missing_docs)]
//! Records exactly what a Rust program handed to its telemetry exporters, and writes
//! it as the manifest lgtm-check checks arrival against: every log line, span and
//! metric series the code emitted arrived, nothing else under the run id did, and
//! what the instrumentation itself lost is counted by name.
//!
//! The [`manifest`] module (the file format) is plain data and needs no feature. The
//! recorders (feature `record`, on by default) go beside your own exporters:
//!
//! - logs: [`Recorder::loki_layer`] wraps tracing-loki's layer (or any layer that
//!   pushes events to Loki) and records every event it is handed, with the stream
//!   labels it is pushed under; [`Recorder::loki_task`] wraps tracing-loki's
//!   background task so the layer knows how full its channel is, and counts every
//!   event tracing-loki dropped because its 512-slot channel was full (which it does
//!   silently); [`Recorder::loki_error_watch`] counts the lines tracing-loki reports it
//!   gave up on after failed pushes;
//! - traces: [`Recorder::span_exporter`] wraps your OpenTelemetry span exporter and
//!   records a batch only when the inner exporter reported it exported (spans of failed
//!   batches are counted as lost); [`Recorder::span_processor`] wraps the processor:
//!   the manifest then lists every sampled span the code ended, so a span lost on the
//!   way fails the trace checks, and those the processor dropped before export (a
//!   batch processor's full queue) are counted as lost;
//!   [`Recorder::sampler`] wraps the sampler, counting root spans and recording the
//!   trace ids it did not sample;
//! - metrics: [`Recorder::metrics`] wraps any [`metrics::Recorder`] (e.g.
//!   metrics-exporter-prometheus's) and records every counter series' final value and
//!   every histogram observation.
//!
//! At the end, [`Recorder::write_manifest`] writes the file.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use lgtm_check_recorder::Recorder;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let recorder = Recorder::new("my-app", "run-1", "checkout");
//! let labels = [("service", "checkout"), ("run_id", "run-1")];
//! let mut builder = tracing_loki::builder();
//! for (k, v) in labels {
//!     builder = builder.label(k, v)?;
//! }
//! let (loki, task) = builder.build_url(url::Url::parse("http://127.0.0.1:3100")?)?;
//! let subscriber = tracing_subscriber::registry()
//!     .with(recorder.loki_layer(loki, labels))
//!     .with(recorder.loki_error_watch());
//! let task = tokio::spawn(recorder.loki_task(task));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(order = 7, "order placed");
//! });
//! # task.abort();
//! let manifest = recorder.manifest();
//! assert_eq!(manifest.log_line_count(), 1);
//! let path = std::env::temp_dir().join("lgtm-check-recorder-doc.manifest.json");
//! recorder.write_manifest(&path)?;
//! # std::fs::remove_file(&path)?;
//! # Ok(())
//! # }
//! ```

pub mod manifest;

#[cfg(feature = "record")]
mod fields;
#[cfg(feature = "record")]
pub mod logs;
#[cfg(feature = "record")]
pub mod metrics_recorder;
#[cfg(feature = "record")]
mod recorder;
#[cfg(feature = "record")]
pub mod spans;

#[cfg(feature = "record")]
pub use logs::{LokiDropWatch, LokiLayer, LokiTask};
#[cfg(feature = "record")]
pub use metrics_recorder::RecordingMetrics;
#[cfg(feature = "record")]
pub use recorder::{Recorder, logs_manifest, traces_manifest};
#[cfg(feature = "record")]
pub use spans::{RecordingExporter, RecordingProcessor, RecordingSampler};

/// Where tracing-loki drops events when its channel is full.
pub const LOSS_LOKI_CHANNEL_FULL: &str = "tracing-loki channel full";
/// Where tracing-loki drops lines after pushes failed for too long.
pub const LOSS_LOKI_PUSH_GAVE_UP: &str = "tracing-loki gave up after failed pushes";
/// Where lines are lost when handed to tracing-loki after its task finished.
pub const LOSS_LOKI_AFTER_SHUTDOWN: &str = "tracing-loki already shut down";
/// Where spans are lost when the span exporter reports a batch failed.
pub const LOSS_SPAN_EXPORT_FAILED: &str = "span exporter failed the batch";
/// Where spans are lost when the span processor never passed them to the exporter
/// (a batch processor's queue was full, or it shut down with spans queued).
pub const LOSS_SPAN_PROCESSOR_DROPPED: &str = "span processor dropped before export";
