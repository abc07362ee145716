//! The Prometheus HTTP API's answer format, shared by Prometheus, Mimir, Cortex and
//! Loki (whose metric queries, labels and series answers use the same envelope):
//! pure decoding, no I/O. Both [`super::prometheus`] and [`super::loki`] use it, so
//! neither imports the other.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::core::expect::{Labels, Sample};

/// What a component says about its own build (`/…/status/buildinfo`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BuildInfo {
    /// The release, e.g. `2.42.0` (Prometheus) or `1.18.1` (Cortex).
    pub version: String,
    /// The git commit it was built from (empty where not given).
    #[serde(default)]
    pub revision: String,
    /// The git branch it was built from (empty where not given).
    #[serde(default)]
    pub branch: String,
}

/// Every series of a range query with its `(unix seconds, value)` points, oldest first.
pub type Matrix = Vec<(Labels, Vec<(f64, f64)>)>;

/// The envelope of every answer: `data` on success, `errorType` and `error` otherwise.
#[derive(Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) status: String,
    #[serde(default = "Option::default")]
    pub(crate) data: Option<T>,
    #[serde(default, rename = "errorType")]
    pub(crate) error_type: Option<String>,
    #[serde(default)]
    pub(crate) error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Data {
    #[serde(rename = "resultType")]
    pub(crate) result_type: String,
    pub(crate) result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: Labels,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: Labels,
    /// Absent for a series of native histograms only.
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// A sample value as the API writes it: a string, with `+Inf`, `-Inf` and `NaN`.
pub(crate) fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("`{s}` is not a number")),
    }
}

/// The `data` of a successful answer.
pub(crate) fn decode_data<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    let env: Envelope<T> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Err(format!(
            "status `{}`: {}",
            env.status,
            env.error.unwrap_or_default()
        ));
    }
    env.data.ok_or_else(|| "success without data".to_owned())
}

/// The samples of a `vector` result (Prometheus' and Loki's format).
pub fn vector_samples(result: serde_json::Value) -> Result<Vec<Sample>, String> {
    let items: Vec<VectorItem> = serde_json::from_value(result).map_err(|e| e.to_string())?;
    items
        .into_iter()
        .map(|i| {
            Ok(Sample {
                labels: i.metric,
                value: parse_value(&i.value.1)?,
            })
        })
        .collect()
}

/// The series of a `matrix` result (Prometheus' and Loki's format).
pub fn matrix_points(result: serde_json::Value) -> Result<Matrix, String> {
    let items: Vec<MatrixItem> = serde_json::from_value(result).map_err(|e| e.to_string())?;
    items
        .into_iter()
        .map(|i| {
            let points = i
                .values
                .iter()
                .map(|(t, v)| Ok((*t, parse_value(v)?)))
                .collect::<Result<_, String>>()?;
            Ok((i.metric, points))
        })
        .collect()
}

/// Decodes `/api/v1/series`: the label sets of the matching series.
pub fn decode_series(body: &str) -> Result<Vec<Labels>, String> {
    decode_data(body)
}

/// Decodes `/api/v1/labels` and `/api/v1/label/<name>/values`.
pub fn decode_strings(body: &str) -> Result<Vec<String>, String> {
    decode_data(body)
}
