//! Client of the Prometheus HTTP query API, as served by Prometheus, Mimir (under
//! `/prometheus`) and Cortex.
//!
//! Main type: [`PromClient`]; answers are decoded by [`decode_query_response`], a pure
//! function tested against answers recorded from real servers.

use serde::Deserialize;

use super::ClientError;
use crate::core::component::Component;
use crate::core::expect::{Labels, Sample};

/// A Prometheus-API client for one component.
#[derive(Debug, Clone)]
pub struct PromClient {
    http: reqwest::Client,
    component: Component,
    /// Base URL including any prefix, without a trailing slash.
    base: String,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: Labels,
    value: (f64, String),
}

/// What an instant query answered, or the backend's own error message.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryAnswer {
    Samples(Vec<Sample>),
    /// `status: error`, with `errorType` and `error` as the backend wrote them.
    Error {
        error_type: String,
        message: String,
    },
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("`{s}` is not a number")),
    }
}

/// Decodes the body of `/api/v1/query` (vector or scalar results, or an error).
pub fn decode_query_response(body: &str) -> Result<QueryAnswer, String> {
    let env: Envelope = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Ok(QueryAnswer::Error {
            error_type: env.error_type.unwrap_or_default(),
            message: env.error.unwrap_or_else(|| body.to_string()),
        });
    }
    let data = env.data.ok_or("success without data")?;
    match data.result_type.as_str() {
        "vector" => {
            let items: Vec<VectorItem> =
                serde_json::from_value(data.result).map_err(|e| e.to_string())?;
            items
                .into_iter()
                .map(|i| {
                    Ok(Sample {
                        labels: i.metric,
                        value: parse_value(&i.value.1)?,
                    })
                })
                .collect::<Result<_, String>>()
                .map(QueryAnswer::Samples)
        }
        "scalar" => {
            let (_, v): (f64, String) =
                serde_json::from_value(data.result).map_err(|e| e.to_string())?;
            Ok(QueryAnswer::Samples(vec![Sample {
                labels: Labels::new(),
                value: parse_value(&v)?,
            }]))
        }
        other => Err(format!("result type `{other}` is not supported here")),
    }
}

impl PromClient {
    pub fn new(http: reqwest::Client, component: Component, base: impl Into<String>) -> Self {
        PromClient {
            http,
            component,
            base: base.into().trim_end_matches('/').to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs an instant query, at `time` (RFC 3339 or Unix seconds) or now.
    pub async fn query(&self, expr: &str, time: Option<&str>) -> Result<Vec<Sample>, ClientError> {
        let url = format!("{}/api/v1/query", self.base);
        let mut form = vec![("query", expr)];
        if let Some(t) = time {
            form.push(("time", t));
        }
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                component: self.component,
                url: url.clone(),
                source,
            })?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|source| ClientError::Unreachable {
                component: self.component,
                url: url.clone(),
                source,
            })?;
        match decode_query_response(&body) {
            Ok(QueryAnswer::Samples(s)) if status == 200 => Ok(s),
            Ok(QueryAnswer::Error {
                error_type,
                message,
            }) if status == 400 || error_type == "bad_data" => Err(ClientError::InvalidQuery {
                component: self.component,
                url,
                query: expr.into(),
                message,
            }),
            Ok(QueryAnswer::Error { message, .. }) => Err(ClientError::Status {
                component: self.component,
                url,
                query: expr.into(),
                status,
                message,
            }),
            Ok(QueryAnswer::Samples(_)) | Err(_) if status != 200 => Err(ClientError::Status {
                component: self.component,
                url,
                query: expr.into(),
                status,
                message: body.chars().take(500).collect(),
            }),
            Ok(QueryAnswer::Samples(s)) => Ok(s),
            Err(detail) => Err(ClientError::Decode {
                component: self.component,
                url,
                query: expr.into(),
                detail,
            }),
        }
    }
}
