//! Recording every counter series' final value and every histogram observation a
//! program hands to its metrics recorder.
//!
//! Main item: [`RecordingMetrics`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, SharedString, Unit,
};

use crate::manifest::{CounterSeries, HistogramSeries, Labels, MetricsManifest};

type SeriesKey = (String, Labels);

/// What the metrics wrapper recorded.
#[derive(Debug, Default)]
pub(crate) struct MetricsStore {
    counters: Mutex<BTreeMap<SeriesKey, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<SeriesKey, Arc<Mutex<Vec<f64>>>>>,
    /// Labels the inner exporter adds to every series.
    global_labels: Mutex<Labels>,
    /// Bucket upper bounds by histogram name.
    buckets: Mutex<BTreeMap<String, Vec<f64>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MetricsStore {
    fn series_key(&self, key: &Key) -> SeriesKey {
        let mut labels = lock(&self.global_labels).clone();
        for l in key.labels() {
            labels.insert(l.key().to_owned(), l.value().to_owned());
        }
        (key.name().to_owned(), labels)
    }

    /// The manifest's metrics section (series sorted by name, then labels).
    pub fn manifest(&self) -> MetricsManifest {
        let buckets = lock(&self.buckets).clone();
        MetricsManifest {
            counters: lock(&self.counters)
                .iter()
                .map(|((name, labels), v)| CounterSeries {
                    name: name.clone(),
                    labels: labels.clone(),
                    value: v.load(Ordering::SeqCst),
                })
                .collect(),
            histograms: lock(&self.histograms)
                .iter()
                .map(|((name, labels), obs)| HistogramSeries {
                    name: name.clone(),
                    labels: labels.clone(),
                    buckets: buckets.get(name).cloned().unwrap_or_default(),
                    observations: lock(obs).clone(),
                })
                .collect(),
            process_metrics: Vec::new(),
        }
    }
}

/// A metrics recorder that delegates to `R` and records every counter series' value
/// and every histogram observation (made by [`crate::Recorder::metrics`]).
///
/// Series are recorded under their own labels plus the
/// [`global_label`](Self::global_label)s you declare (those your exporter adds to
/// every series, e.g. metrics-exporter-prometheus's `add_global_label`); histograms
/// with the [`buckets`](Self::buckets) you declare. Gauges are passed through.
///
/// ```
/// use lgtm_check_recorder::Recorder;
/// use metrics_exporter_prometheus::PrometheusBuilder;
///
/// let recorder = Recorder::new("my-app", "run-1", "checkout");
/// let prometheus = PrometheusBuilder::new()
///     .add_global_label("service", "checkout")
///     .build_recorder();
/// let handle = prometheus.handle();
/// let metrics = recorder
///     .metrics(prometheus)
///     .global_label("service", "checkout")
///     .buckets("latency_seconds", &[0.1, 1.0]);
/// // In an app: metrics::set_global_recorder(metrics).
/// metrics::with_local_recorder(&metrics, || {
///     metrics::counter!("orders_total", "status" => "ok").increment(2);
///     metrics::histogram!("latency_seconds").record(0.25);
/// });
/// let m = recorder.metrics_manifest();
/// assert_eq!(m.counters[0].value, 2);
/// assert_eq!(m.counters[0].labels["service"], "checkout");
/// assert_eq!(m.histograms[0].observations, [0.25]);
/// let text = handle.render();
/// assert!(text.lines().any(|l| l.starts_with("orders_total{") && l.ends_with(" 2")), "{text}");
/// ```
pub struct RecordingMetrics<R> {
    inner: R,
    store: Arc<MetricsStore>,
}

impl<R> RecordingMetrics<R> {
    pub(crate) fn new(inner: R, store: Arc<MetricsStore>) -> Self {
        RecordingMetrics { inner, store }
    }

    /// Declares a label the inner exporter adds to every series.
    pub fn global_label(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        lock(&self.store.global_labels).insert(key.into(), value.into());
        self
    }

    /// Declares the bucket upper bounds (without `+Inf`) of histogram `name`.
    pub fn buckets(self, name: impl Into<String>, bounds: &[f64]) -> Self {
        lock(&self.store.buckets).insert(name.into(), bounds.to_vec());
        self
    }
}

struct RecordedCounter {
    inner: Counter,
    value: Arc<AtomicU64>,
}

impl CounterFn for RecordedCounter {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        self.value.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.inner.absolute(value);
        self.value.fetch_max(value, Ordering::SeqCst);
    }
}

struct RecordedHistogram {
    inner: Histogram,
    observations: Arc<Mutex<Vec<f64>>>,
}

impl HistogramFn for RecordedHistogram {
    fn record(&self, value: f64) {
        self.inner.record(value);
        lock(&self.observations).push(value);
    }
}

impl<R: metrics::Recorder> metrics::Recorder for RecordingMetrics<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let value = lock(&self.store.counters)
            .entry(self.store.series_key(key))
            .or_default()
            .clone();
        Counter::from_arc(Arc::new(RecordedCounter {
            inner: self.inner.register_counter(key, metadata),
            value,
        }))
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let observations = lock(&self.store.histograms)
            .entry(self.store.series_key(key))
            .or_default()
            .clone();
        Histogram::from_arc(Arc::new(RecordedHistogram {
            inner: self.inner.register_histogram(key, metadata),
            observations,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_registered_twice_is_one_series() {
        let store = Arc::new(MetricsStore::default());
        let m = RecordingMetrics::new(metrics::NoopRecorder, store.clone())
            .global_label("run_id", "r1");
        metrics::with_local_recorder(&m, || {
            metrics::counter!("c", "a" => "1").increment(0);
            metrics::counter!("c", "a" => "1").increment(3);
            metrics::counter!("c", "a" => "2").absolute(5);
            metrics::histogram!("h").record(0.5);
            metrics::histogram!("h").record(1.5);
        });
        let got = store.manifest();
        let values: Vec<(String, u64)> = got
            .counters
            .iter()
            .map(|c| (c.labels["a"].clone(), c.value))
            .collect();
        assert_eq!(values, [("1".to_string(), 3), ("2".to_string(), 5)]);
        assert_eq!(got.counters[0].labels["run_id"], "r1");
        assert_eq!(got.histograms[0].observations, [0.5, 1.5]);
    }
}
