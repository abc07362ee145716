//! Metrics by Prometheus remote write, for deployments that cannot scrape the
//! scenario (`--remote-write-url`): every series of `/metrics` is pushed as one
//! sample at a fixed timestamp, once before the workload (the counters and histograms
//! at zero) and once after it (their final values), so a `[5m]` range ending at the
//! second push starts from the zero and ends on a sample, exactly as with a scraper.
//!
//! The body is a `prometheus.WriteRequest` (remote write 1.0: `timeseries` of
//! `labels` and `samples`), written with hand-made prost messages and compressed with
//! raw snappy; headers `Content-Encoding: snappy`,
//! `X-Prometheus-Remote-Write-Version: 0.1.0`, the tenant as `X-Scope-OrgID` and the
//! credentials as `Authorization`.
//!
//! Main items: [`RemoteWriteConfig`], [`RemoteWriter`], [`parse_exposition`],
//! [`write_request`].

use std::collections::BTreeMap;

pub use crate::prompb::{Label, Sample, TimeSeries, WriteRequest};
use crate::redact::{redact_url, split_userinfo};
use crate::telemetry::{ConfigError, EnvMap};

/// One sample of the text exposition format: its labels (`__name__` among them).
pub type ExposedSample = (BTreeMap<String, String>, f64);

/// The samples of a Prometheus text exposition (`# HELP`/`# TYPE` and blank lines
/// skipped, label values unescaped).
pub fn parse_exposition(text: &str) -> Result<Vec<ExposedSample>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: {line}", n + 1);
        let name_end = line
            .find(|c: char| c == '{' || c.is_whitespace())
            .ok_or_else(|| bad("no value"))?;
        let mut labels = BTreeMap::from([("__name__".to_string(), line[..name_end].to_string())]);
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let mut end = None;
            loop {
                while chars.peek().is_some_and(|(_, c)| *c == ',' || *c == ' ') {
                    chars.next();
                }
                match chars.peek() {
                    Some((i, '}')) => {
                        end = Some(*i);
                        break;
                    }
                    None => break,
                    _ => {}
                }
                let mut name = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    name.push(c);
                }
                if chars.next().map(|(_, c)| c) != Some('"') {
                    return Err(bad("a label value is not quoted"));
                }
                let mut value = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => value.push('\n'),
                            Some(other) => value.push(other),
                            None => return Err(bad("an escape at the end")),
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err(bad("a label value is not closed"));
                }
                labels.insert(name.trim().to_string(), value);
            }
            let end = end.ok_or_else(|| bad("labels are not closed"))?;
            rest = &inner[end + 1..];
        }
        let value = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| bad("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| bad("the value is not a number"))?,
        };
        out.push((labels, value));
    }
    Ok(out)
}

/// A `WriteRequest` with one sample per series, all at `timestamp_ms`. Labels are
/// sorted by name, as remote write requires.
pub fn write_request(samples: &[ExposedSample], timestamp_ms: i64) -> WriteRequest {
    WriteRequest {
        timeseries: samples
            .iter()
            .map(|(labels, value)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(name, value)| Label {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                samples: vec![Sample {
                    value: *value,
                    timestamp: timestamp_ms,
                }],
                exemplars: vec![],
            })
            .collect(),
    }
}

/// Where metrics are remote-written and how to authenticate.
#[derive(Clone, PartialEq)]
pub struct RemoteWriteConfig {
    /// The full push URL (`…/api/v1/push`, `…/api/v1/write`), without credentials.
    pub url: String,
    /// Sent as `X-Scope-OrgID` (`--remote-write-tenant`); `None` sends no header.
    pub tenant: Option<String>,
    /// The `Authorization` header's value.
    pub authorization: Option<String>,
}

impl std::fmt::Debug for RemoteWriteConfig {
    /// Never prints the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriteConfig")
            .field("url", &redact_url(&self.url))
            .field("tenant", &self.tenant)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl RemoteWriteConfig {
    /// From the flags: `--remote-write-url` (credentials in it become basic auth),
    /// `--remote-write-tenant`, `--remote-write-user` with the password in
    /// `REMOTE_WRITE_PASSWORD`, or `--remote-write-bearer` with the token in
    /// `REMOTE_WRITE_TOKEN`. Pure: reads only `env`.
    pub fn resolve(
        url: &str,
        tenant: Option<&str>,
        user: Option<&str>,
        bearer: bool,
        env: &EnvMap,
    ) -> Result<Self, ConfigError> {
        let invalid = |source_name: &str, value: &str, reason: String| ConfigError {
            source_name: source_name.into(),
            value: redact_url(value),
            reason,
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "--remote-write-url",
                url,
                "expected an http:// or https:// URL".into(),
            ));
        }
        let (clean, from_url) = split_userinfo(url);
        let secret = |var: &str| env.get(var).filter(|v| !v.is_empty()).cloned();
        let authorization = match (from_url, user, bearer) {
            (Some(_), Some(_), _) | (Some(_), _, true) | (_, Some(_), true) => {
                return Err(invalid(
                    "--remote-write-url",
                    url,
                    "give one of: credentials in the URL, --remote-write-user, --remote-write-bearer".into(),
                ));
            }
            (Some((u, p)), None, false) => Some(basic(&u, &p)),
            (None, Some(u), false) => {
                let p = secret("REMOTE_WRITE_PASSWORD").ok_or_else(|| {
                    invalid(
                        "--remote-write-user",
                        u,
                        "needs the password in the environment variable REMOTE_WRITE_PASSWORD"
                            .into(),
                    )
                })?;
                Some(basic(u, &p))
            }
            (None, None, true) => {
                let t = secret("REMOTE_WRITE_TOKEN").ok_or_else(|| {
                    invalid(
                        "--remote-write-bearer",
                        "",
                        "needs the token in the environment variable REMOTE_WRITE_TOKEN".into(),
                    )
                })?;
                Some(format!("Bearer {t}"))
            }
            (None, None, false) => None,
        };
        Ok(RemoteWriteConfig {
            url: clean,
            tenant: tenant.map(str::to_owned),
            authorization,
        })
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// Pushes samples to one remote-write endpoint.
pub struct RemoteWriter {
    config: RemoteWriteConfig,
    http: reqwest::Client,
}

impl RemoteWriter {
    /// A writer to `config`'s URL; each push may take 30 s at most.
    pub fn new(config: RemoteWriteConfig) -> Self {
        RemoteWriter {
            config,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
        }
    }

    /// Pushes every sample of the exposition `text` at `timestamp_ms`; returns how
    /// many series were written. A refusal (any answer but 2xx) is an error with the
    /// status and the receiver's words, the URL redacted.
    pub async fn push(&self, text: &str, timestamp_ms: i64) -> anyhow::Result<usize> {
        let samples = parse_exposition(text).map_err(|e| anyhow::anyhow!("/metrics: {e}"))?;
        let body = crate::prompb::encode(&write_request(&samples, timestamp_ms))
            .map_err(|e| anyhow::anyhow!("snappy: {e}"))?;
        let mut request = self
            .http
            .post(&self.config.url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        if let Some(t) = &self.config.tenant {
            request = request.header("X-Scope-OrgID", t);
        }
        if let Some(a) = &self.config.authorization {
            request = request.header("Authorization", a);
        }
        let shown = redact_url(&self.config.url);
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("remote write to {shown}: {}", e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            anyhow::bail!(
                "remote write to {shown} answered HTTP {}: {}",
                status.as_u16(),
                redact_url(text.trim())
            );
        }
        Ok(samples.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn the_exposition_becomes_one_series_per_sample_with_sorted_labels() {
        let text = "# HELP x y\n# TYPE http_requests_total counter\n\
            http_requests_total{method=\"GET\",path=\"/a\\\"b\",status=\"200\",run_id=\"r1\"} 37\n\
            http_request_duration_seconds_bucket{le=\"+Inf\",run_id=\"r1\"} 5\n\
            process_cpu_seconds_total{run_id=\"r1\"} 0.37\n\
            up 1 1700000000000\n";
        let samples = parse_exposition(text).unwrap();
        assert_eq!(samples.len(), 4);
        assert_eq!(samples[0].0["path"], "/a\"b");
        assert_eq!(samples[0].0["__name__"], "http_requests_total");
        assert_eq!(samples[0].1, 37.0);
        assert_eq!(samples[2].1, 0.37);
        assert_eq!(samples[3].0.len(), 1);

        let request = write_request(&samples, 1_700_000_000_123);
        let names: Vec<&str> = request.timeseries[0]
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, ["__name__", "method", "path", "run_id", "status"]);
        assert_eq!(
            request.timeseries[0].samples[0].timestamp,
            1_700_000_000_123
        );
        // What a receiver reads back: snappy, then the message.
        let body = crate::prompb::encode(&request).unwrap();
        let back =
            WriteRequest::decode(&snap::raw::Decoder::new().decompress_vec(&body).unwrap()[..])
                .unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn malformed_exposition_lines_are_named() {
        assert!(parse_exposition("x{a=b} 1").unwrap_err().contains("line 1"));
        assert!(parse_exposition("x{a=\"b} 1").is_err());
        assert!(parse_exposition("x{a=\"b\"} one").is_err());
    }

    #[test]
    fn credentials_come_from_one_place_and_never_print() {
        let env = EnvMap::from([
            (
                "REMOTE_WRITE_PASSWORD".to_string(),
                "CanaryRwPw".to_string(),
            ),
            ("REMOTE_WRITE_TOKEN".to_string(), "CanaryRwTok".to_string()),
        ]);
        let c = RemoteWriteConfig::resolve(
            "http://m:9009/api/v1/push",
            Some("a"),
            Some("u"),
            false,
            &env,
        )
        .unwrap();
        assert!(c.authorization.as_deref().unwrap().starts_with("Basic "));
        assert!(!format!("{c:?}").contains("Canary"));
        let c = RemoteWriteConfig::resolve("http://m/api/v1/push", None, None, true, &env).unwrap();
        assert_eq!(c.authorization.as_deref(), Some("Bearer CanaryRwTok"));
        let err = RemoteWriteConfig::resolve(
            "http://u:CanaryUrlPw@m/api/v1/push",
            None,
            Some("u"),
            false,
            &env,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("CanaryUrlPw"), "{err}");
        let err =
            RemoteWriteConfig::resolve("http://m/push", None, Some("u"), false, &EnvMap::new())
                .unwrap_err();
        assert!(err.to_string().contains("REMOTE_WRITE_PASSWORD"), "{err}");
        assert!(RemoteWriteConfig::resolve("m:9009", None, None, false, &env).is_err());
    }
}
