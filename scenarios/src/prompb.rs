//! The Prometheus remote-write 1.0 wire format: a `prometheus.WriteRequest`
//! (`timeseries` of `labels` and `samples`) as hand-made prost messages, and its body
//! (the message compressed with raw snappy). Shared by the scenarios' remote write
//! and lgtm-check's benchmark; needs no telemetry feature.
//!
//! ```
//! use lgtm_scenarios::prompb::{encode, Label, Sample, TimeSeries, WriteRequest};
//! let request = WriteRequest {
//!     timeseries: vec![TimeSeries {
//!         labels: vec![Label { name: "__name__".into(), value: "up".into() }],
//!         samples: vec![Sample { value: 1.0, timestamp: 1_700_000_000_000 }],
//!         exemplars: vec![],
//!     }],
//! };
//! assert!(!encode(&request).unwrap().is_empty());
//! ```

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// Every series pushed, each with its own samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series' labels, `__name__` (the metric name) among them, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Its samples, oldest first (one per push here).
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Its exemplars (labels such as `trace_id`), kept by a receiver with exemplar
    /// storage.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Its labels, e.g. `trace_id`.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Unix milliseconds.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// The label name (`__name__`, `service`, `run_id`, `le`, …).
    #[prost(string, tag = "1")]
    pub name: String,
    /// The label value, unescaped.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The value, as the exposition had it (a counter's total, a bucket's count).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Unix milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The HTTP body of `request`: the encoded message, raw-snappy compressed (send it
/// with `Content-Encoding: snappy` and `X-Prometheus-Remote-Write-Version: 0.1.0`).
pub fn encode(request: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(request))
}
