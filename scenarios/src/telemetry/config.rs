//! Telemetry configuration: flags and the standard OpenTelemetry environment
//! variables resolved into one [`TelemetryConfig`] by one pure function,
//! [`TelemetryConfig::resolve`] (tests pass their own environment map).
//!
//! Precedence: flags, then the environment, then defaults.
//!
//! | setting | flag | environment | default |
//! |---|---|---|---|
//! | service name | `--service` | `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | `rust-app` |
//! | environment | `--environment` | `deployment.environment` in `OTEL_RESOURCE_ATTRIBUTES` | `production` |
//! | OTLP endpoint | `--otlp-endpoint` | `OTEL_EXPORTER_OTLP_ENDPOINT` | none: no OTLP export |
//! | OTLP protocol | `--otlp-protocol` | `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`, `http/protobuf`) | `http/protobuf` (the spec's default) |
//! | sampler | `--sampler-ratio R` (= `parentbased_traceidratio` with R) | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
//! | extra resource attributes | | `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k2=v2`, values percent-decoded) | none |
//!
//! Endpoints are base URLs, as `OTEL_EXPORTER_OTLP_ENDPOINT` is: for HTTP the path
//! `/v1/traces` is appended (unless already there); for gRPC the URL is used as is.
//!
//! Secrets never print: credentials in a URL (`http://user:password@host`) are taken
//! out of it into basic auth (sent as an `Authorization` header), the password of
//! `--loki-user` comes from `LOKI_PASSWORD`, `OTEL_EXPORTER_OTLP_HEADERS` is left to
//! the exporter and never read here; `Debug` output and every [`ConfigError`] show
//! URLs through [`redact_url`].

use std::collections::BTreeMap;

use crate::redact::{redact_url, split_userinfo};

/// The environment, as a map (the process environment or a test's own).
pub type EnvMap = BTreeMap<String, String>;

/// Reads the process environment into an [`EnvMap`] (the only place that does).
pub fn process_env() -> EnvMap {
    std::env::vars().collect()
}

/// Where Loki is and how to authenticate.
#[derive(Clone, PartialEq)]
pub struct LokiConfig {
    /// Base URL, e.g. `http://127.0.0.1:3100` (the push path is appended).
    pub url: String,
    /// Sent as `X-Scope-OrgID`.
    pub tenant: Option<String>,
    /// HTTP basic auth (user, password).
    pub basic_auth: Option<(String, String)>,
    /// A bearer token (`--loki-bearer`, from `LOKI_TOKEN`).
    pub bearer: Option<String>,
}

impl std::fmt::Debug for LokiConfig {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LokiConfig")
            .field("url", &redact_url(&self.url))
            .field("tenant", &self.tenant)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC, usually port 4317.
    Grpc,
    /// HTTP with protobuf bodies, usually port 4318.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            _ => None,
        }
    }

    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling, as [`OtlpProtocol::parse`] reads it.
    ///
    /// ```
    /// use lgtm_scenarios::telemetry::OtlpProtocol;
    ///
    /// assert_eq!(OtlpProtocol::Grpc.as_str(), "grpc");
    /// assert_eq!(OtlpProtocol::parse("http/protobuf").unwrap().as_str(), "http/protobuf");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Where spans go.
#[derive(Clone, PartialEq)]
pub struct OtlpConfig {
    /// The URL the exporter is given (without credentials): for HTTP the full
    /// `…/v1/traces` URL.
    pub endpoint: String,
    /// gRPC or HTTP/protobuf (`--otlp-protocol`, `OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub protocol: OtlpProtocol,
    /// HTTP basic auth (user, password), from credentials in the endpoint URL or
    /// `--otlp-user` with `OTLP_PASSWORD`.
    pub basic_auth: Option<(String, String)>,
    /// A bearer token (`--otlp-bearer`, from `OTLP_TOKEN`).
    pub bearer: Option<String>,
    /// Sent as `X-Scope-OrgID` (`--otlp-tenant`).
    pub tenant: Option<String>,
}

impl std::fmt::Debug for OtlpConfig {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpConfig")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// The trace sampler (the `OTEL_TRACES_SAMPLER` values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// `always_on`: every span is sampled, whatever its parent decided.
    AlwaysOn,
    /// `always_off`: no span is sampled (nothing reaches Tempo).
    AlwaysOff,
    /// `traceidratio`: a span is sampled with this probability (0 to 1), judged
    /// from its trace id, whatever its parent decided.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): a root span is sampled, a child
    /// follows its parent.
    ParentBasedAlwaysOn,
    /// `parentbased_traceidratio` (`--sampler-ratio`): a root span is sampled with
    /// this probability (0 to 1), a child follows its parent.
    ParentBasedTraceIdRatio(f64),
}

impl SamplerConfig {
    /// The probability with which a root span is sampled.
    pub fn root_ratio(self) -> f64 {
        match self {
            SamplerConfig::AlwaysOn | SamplerConfig::ParentBasedAlwaysOn => 1.0,
            SamplerConfig::AlwaysOff => 0.0,
            SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedTraceIdRatio(r) => r,
        }
    }
}

/// Everything [`super::init`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// The run id (`--run-id`): the Loki label and resource attribute `run_id`, by
    /// which the checks find this run's signals.
    pub run_id: String,
    /// `service.name` and the Loki label `service`.
    pub service: String,
    /// `service.version`.
    pub service_version: String,
    /// `deployment.environment` and the Loki label `environment`.
    pub environment: String,
    /// Further resource attributes from `OTEL_RESOURCE_ATTRIBUTES` (without the ones
    /// above).
    pub resource_attributes: BTreeMap<String, String>,
    /// `None`: no Loki layer.
    pub loki: Option<LokiConfig>,
    /// `None`: spans get ids (so log lines carry them) but are not exported.
    pub otlp: Option<OtlpConfig>,
    /// Which spans are sampled (`--sampler-ratio`, `OTEL_TRACES_SAMPLER`).
    pub sampler: SamplerConfig,
    /// Directive for the stderr fmt layer (`RUST_LOG`), default `info`.
    pub stderr_filter: String,
}

/// The flags that bear on telemetry, as given (`None`: not given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryFlags {
    /// `--run-id`: the label and resource attribute `run_id` of every signal.
    pub run_id: String,
    /// `--service`: overrides `OTEL_SERVICE_NAME`.
    pub service: Option<String>,
    /// `--environment`: overrides `deployment.environment` in
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub environment: Option<String>,
    /// `--loki-url`: Loki's base URL; none means no log push.
    pub loki_url: Option<String>,
    /// `--loki-tenant`: sent as `X-Scope-OrgID` with each push.
    pub loki_tenant: Option<String>,
    /// `--loki-user`: basic-auth user of Loki; the password is read from
    /// `LOKI_PASSWORD`.
    pub loki_user: Option<String>,
    /// Send `LOKI_TOKEN` as a bearer token.
    pub loki_bearer: bool,
    /// `--otlp-endpoint`: overrides `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL).
    pub otlp_endpoint: Option<String>,
    /// `--otlp-protocol` as written (`grpc`, `http/protobuf`); checked by
    /// [`TelemetryConfig::resolve`].
    pub otlp_protocol: Option<String>,
    /// `--otlp-tenant`: sent as `X-Scope-OrgID` with each export.
    pub otlp_tenant: Option<String>,
    /// Basic-auth user of the OTLP endpoint; the password is read from `OTLP_PASSWORD`.
    pub otlp_user: Option<String>,
    /// Send `OTLP_TOKEN` as a bearer token.
    pub otlp_bearer: bool,
    /// `--sampler-ratio`: the ratio (0 to 1) of a `parentbased_traceidratio`
    /// sampler; overrides `OTEL_TRACES_SAMPLER`.
    pub sampler_ratio: Option<f64>,
}

/// A setting that could not be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name} = {value:?}: {reason}")]
pub struct ConfigError {
    /// The flag or variable.
    pub source_name: String,
    /// The value as given, redacted (it may be a URL with credentials).
    pub value: String,
    /// What was expected instead, or what is missing (the password's variable).
    pub reason: String,
}

/// The error for `value` of `source_name`; the value is kept redacted (it may be a
/// URL with credentials).
fn invalid(source_name: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        source_name: source_name.into(),
        value: redact_url(value),
        reason: reason.into(),
    }
}

/// Checks that `url` (from `source_name`) is an http(s) URL and takes any
/// credentials out of it: the URL without them, and the user and password.
fn http_url(
    source_name: &str,
    url: &str,
) -> Result<(String, Option<(String, String)>), ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid(
            source_name,
            url,
            "expected an http:// or https:// URL",
        ));
    }
    let (clean, userinfo) = split_userinfo(url);
    let host = clean
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    if host.is_empty() {
        return Err(invalid(source_name, url, "the URL names no host"));
    }
    Ok((clean, userinfo))
}

/// Default service name: the guide's.
pub const DEFAULT_SERVICE: &str = "rust-app";
/// Default environment: the guide's.
pub const DEFAULT_ENVIRONMENT: &str = "production";

impl TelemetryConfig {
    /// Resolves flags and environment into a configuration. Pure: reads nothing but
    /// its arguments. The Loki password comes from `LOKI_PASSWORD` in `env`.
    pub fn resolve(flags: &TelemetryFlags, env: &EnvMap) -> Result<Self, ConfigError> {
        let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());

        let mut resource_attributes = match get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(v) => parse_resource_attributes(v)?,
            None => BTreeMap::new(),
        };
        let attr_service = resource_attributes.remove("service.name");
        let attr_environment = resource_attributes.remove("deployment.environment");
        let attr_version = resource_attributes.remove("service.version");

        let service = flags
            .service
            .clone()
            .or_else(|| get("OTEL_SERVICE_NAME").map(str::to_owned))
            .or(attr_service)
            .unwrap_or_else(|| DEFAULT_SERVICE.into());
        let environment = flags
            .environment
            .clone()
            .or(attr_environment)
            .unwrap_or_else(|| DEFAULT_ENVIRONMENT.into());
        let service_version = attr_version.unwrap_or_else(|| env!("CARGO_PKG_VERSION").into());

        let protocol = match &flags.otlp_protocol {
            Some(p) => OtlpProtocol::parse(p).ok_or_else(|| {
                invalid("--otlp-protocol", p, "expected `grpc` or `http/protobuf`")
            })?,
            None => match get("OTEL_EXPORTER_OTLP_PROTOCOL") {
                Some(p) => OtlpProtocol::parse(p).ok_or_else(|| {
                    invalid(
                        "OTEL_EXPORTER_OTLP_PROTOCOL",
                        p,
                        "expected `grpc` or `http/protobuf` (`http/json` is not supported)",
                    )
                })?,
                None => OtlpProtocol::HttpProtobuf,
            },
        };
        let endpoint = flags
            .otlp_endpoint
            .as_deref()
            .map(|e| ("--otlp-endpoint", e))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| ("OTEL_EXPORTER_OTLP_ENDPOINT", e))
            });
        let otlp = match endpoint {
            Some((name, e)) => {
                let (clean, from_url) = http_url(name, e)?;
                let (basic_auth, bearer) = credentials(
                    (name, e),
                    from_url,
                    ("--otlp-user", flags.otlp_user.as_deref(), "OTLP_PASSWORD"),
                    ("--otlp-bearer", flags.otlp_bearer, "OTLP_TOKEN"),
                    env,
                )?;
                Some(OtlpConfig {
                    endpoint: signal_endpoint(&clean, protocol),
                    protocol,
                    basic_auth,
                    bearer,
                    tenant: flags.otlp_tenant.clone(),
                })
            }
            None => None,
        };

        let sampler = match flags.sampler_ratio {
            Some(r) => SamplerConfig::ParentBasedTraceIdRatio(check_ratio("--sampler-ratio", r)?),
            None => sampler_from_env(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?,
        };

        let loki = match &flags.loki_url {
            Some(url) => {
                let (clean, from_url) = http_url("--loki-url", url)?;
                let (basic_auth, bearer) = credentials(
                    ("--loki-url", url),
                    from_url,
                    ("--loki-user", flags.loki_user.as_deref(), "LOKI_PASSWORD"),
                    ("--loki-bearer", flags.loki_bearer, "LOKI_TOKEN"),
                    env,
                )?;
                Some(LokiConfig {
                    url: clean,
                    tenant: flags.loki_tenant.clone(),
                    basic_auth,
                    bearer,
                })
            }
            None => None,
        };

        Ok(TelemetryConfig {
            run_id: flags.run_id.clone(),
            service,
            service_version,
            environment,
            resource_attributes,
            loki,
            otlp,
            sampler,
            stderr_filter: get("RUST_LOG").unwrap_or("info").to_owned(),
        })
    }
}

/// User and password.
type BasicAuth = (String, String);

/// Basic auth and bearer token of one endpoint: credentials in its URL, or a user
/// flag with the password from its variable, or a bearer flag with the token from its
/// variable; at most one of them.
fn credentials(
    (url_name, url): (&str, &str),
    from_url: Option<BasicAuth>,
    (user_flag, user, password_var): (&str, Option<&str>, &str),
    (bearer_flag, bearer, token_var): (&str, bool, &str),
    env: &EnvMap,
) -> Result<(Option<BasicAuth>, Option<String>), ConfigError> {
    let secret = |var: &str| env.get(var).filter(|v| !v.is_empty()).cloned();
    match (from_url, user, bearer) {
        (Some(_), Some(_), _) | (Some(_), _, true) => Err(invalid(
            url_name,
            url,
            &format!("carries credentials, and {user_flag} or {bearer_flag} is given too: use one"),
        )),
        (_, Some(user), true) => Err(invalid(
            user_flag,
            user,
            &format!("{bearer_flag} is given too: use basic auth or a bearer token"),
        )),
        (from_url, None, false) => Ok((from_url, None)),
        (None, Some(user), false) => {
            let password = secret(password_var).ok_or_else(|| {
                invalid(
                    user_flag,
                    user,
                    &format!("needs the password in the environment variable {password_var}"),
                )
            })?;
            Ok((Some((user.to_owned(), password)), None))
        }
        (None, None, true) => {
            let token = secret(token_var).ok_or_else(|| {
                invalid(
                    bearer_flag,
                    "",
                    &format!("needs the token in the environment variable {token_var}"),
                )
            })?;
            Ok((None, Some(token)))
        }
    }
}

/// The exporter's URL for traces: HTTP gets `/v1/traces` appended to the base.
fn signal_endpoint(base: &str, protocol: OtlpProtocol) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.to_owned(),
        OtlpProtocol::HttpProtobuf => {
            let base = base.trim_end_matches('/');
            if base.ends_with("/v1/traces") {
                base.to_owned()
            } else {
                format!("{base}/v1/traces")
            }
        }
    }
}

fn check_ratio(name: &str, r: f64) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(invalid(
            name,
            &r.to_string(),
            "expected a ratio between 0 and 1",
        ))
    }
}

fn sampler_from_env(
    sampler: Option<&str>,
    arg: Option<&str>,
) -> Result<SamplerConfig, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match arg {
            None => Ok(1.0),
            Some(a) => {
                let r: f64 = a.parse().map_err(|_| {
                    invalid(
                        "OTEL_TRACES_SAMPLER_ARG",
                        a,
                        "expected a number between 0 and 1",
                    )
                })?;
                check_ratio("OTEL_TRACES_SAMPLER_ARG", r)
            }
        }
    };
    Ok(match sampler {
        None | Some("parentbased_always_on") => SamplerConfig::ParentBasedAlwaysOn,
        Some("always_on") => SamplerConfig::AlwaysOn,
        Some("always_off") => SamplerConfig::AlwaysOff,
        Some("traceidratio") => SamplerConfig::TraceIdRatio(ratio()?),
        Some("parentbased_traceidratio") => SamplerConfig::ParentBasedTraceIdRatio(ratio()?),
        Some(other) => {
            return Err(invalid(
                "OTEL_TRACES_SAMPLER",
                other,
                "expected always_on, always_off, traceidratio, parentbased_always_on or parentbased_traceidratio",
            ));
        }
    })
}

/// Parses `k=v,k2=v2` (W3C Baggage-like, values percent-encoded).
fn parse_resource_attributes(s: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            invalid(
                "OTEL_RESOURCE_ATTRIBUTES",
                s,
                "expected key=value pairs separated by commas",
            )
        })?;
        let v = percent_decode(v.trim())
            .ok_or_else(|| invalid("OTEL_RESOURCE_ATTRIBUTES", s, "bad percent-encoding"))?;
        out.insert(k.trim().to_owned(), v);
    }
    Ok(out)
}

/// `s` with `%XX` escapes decoded; `None` if an escape is bad or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn flags() -> TelemetryFlags {
        TelemetryFlags {
            run_id: "r1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_without_flags_or_env() {
        let c = TelemetryConfig::resolve(&flags(), &EnvMap::new()).unwrap();
        assert_eq!(c.service, "rust-app");
        assert_eq!(c.environment, "production");
        assert_eq!(c.otlp, None);
        assert_eq!(c.loki, None);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.sampler.root_ratio(), 1.0);
        assert_eq!(c.stderr_filter, "info");
    }

    #[test]
    fn standard_env_vars_are_honoured() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4318/"),
            ("OTEL_SERVICE_NAME", "from-env"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=staging,team=a%2Cb, service.version=9",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ]);
        let c = TelemetryConfig::resolve(&flags(), &e).unwrap();
        assert_eq!(c.service, "from-env");
        assert_eq!(c.environment, "staging");
        assert_eq!(c.service_version, "9");
        assert_eq!(
            c.resource_attributes,
            BTreeMap::from([("team".to_string(), "a,b".to_string())])
        );
        assert_eq!(
            c.otlp,
            Some(OtlpConfig {
                endpoint: "http://tempo:4318/v1/traces".into(),
                protocol: OtlpProtocol::HttpProtobuf,
                basic_auth: None,
                bearer: None,
                tenant: None,
            })
        );
        assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
    }

    #[test]
    fn flags_override_env() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "from-env"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=attr,deployment.environment=x",
            ),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ]);
        let f = TelemetryFlags {
            service: Some("flag".into()),
            environment: Some("dev".into()),
            otlp_endpoint: Some("http://127.0.0.1:4317".into()),
            otlp_protocol: Some("grpc".into()),
            sampler_ratio: Some(0.01),
            ..flags()
        };
        let c = TelemetryConfig::resolve(&f, &e).unwrap();
        assert_eq!(c.service, "flag");
        assert_eq!(c.environment, "dev");
        assert_eq!(
            c.otlp,
            Some(OtlpConfig {
                endpoint: "http://127.0.0.1:4317".into(),
                protocol: OtlpProtocol::Grpc,
                basic_auth: None,
                bearer: None,
                tenant: None,
            })
        );
        assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.01));
    }

    #[test]
    fn service_name_falls_back_to_resource_attributes() {
        let e = env(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr")]);
        assert_eq!(
            TelemetryConfig::resolve(&flags(), &e).unwrap().service,
            "attr"
        );
    }

    #[test]
    fn every_sampler_name_parses() {
        for (name, want) in [
            ("always_on", SamplerConfig::AlwaysOn),
            ("always_off", SamplerConfig::AlwaysOff),
            ("traceidratio", SamplerConfig::TraceIdRatio(0.5)),
            ("parentbased_always_on", SamplerConfig::ParentBasedAlwaysOn),
            (
                "parentbased_traceidratio",
                SamplerConfig::ParentBasedTraceIdRatio(0.5),
            ),
        ] {
            let e = env(&[
                ("OTEL_TRACES_SAMPLER", name),
                ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ]);
            assert_eq!(
                TelemetryConfig::resolve(&flags(), &e).unwrap().sampler,
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn bad_values_name_their_source() {
        let cases = [
            (
                env(&[("OTEL_TRACES_SAMPLER", "sometimes")]),
                "OTEL_TRACES_SAMPLER",
            ),
            (
                env(&[
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "2"),
                ]),
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]),
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "tempo:4317")]),
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                env(&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")]),
                "OTEL_RESOURCE_ATTRIBUTES",
            ),
        ];
        for (e, source) in cases {
            let err = TelemetryConfig::resolve(&flags(), &e).unwrap_err();
            assert_eq!(err.source_name, source, "{err}");
        }
        let f = TelemetryFlags {
            sampler_ratio: Some(1.5),
            ..flags()
        };
        let err = TelemetryConfig::resolve(&f, &EnvMap::new()).unwrap_err();
        assert_eq!(err.source_name, "--sampler-ratio");
    }

    #[test]
    fn loki_password_comes_from_env_and_is_never_printed() {
        let f = TelemetryFlags {
            loki_url: Some("http://loki:3100".into()),
            loki_tenant: Some("t1".into()),
            loki_user: Some("u".into()),
            ..flags()
        };
        let err = TelemetryConfig::resolve(&f, &EnvMap::new()).unwrap_err();
        assert!(err.reason.contains("LOKI_PASSWORD"), "{err}");
        let c = TelemetryConfig::resolve(&f, &env(&[("LOKI_PASSWORD", "s3cret")])).unwrap();
        let loki = c.loki.clone().unwrap();
        assert_eq!(loki.basic_auth, Some(("u".into(), "s3cret".into())));
        assert_eq!(loki.tenant.as_deref(), Some("t1"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn url_credentials_become_basic_auth_and_never_print() {
        let f = TelemetryFlags {
            loki_url: Some("http://lu:CanaryLokiPw@loki:3100/".into()),
            otlp_endpoint: Some("https://ou:CanaryOtlpPw@tempo:4318".into()),
            ..flags()
        };
        let c = TelemetryConfig::resolve(&f, &EnvMap::new()).unwrap();
        let loki = c.loki.clone().unwrap();
        assert_eq!(loki.url, "http://loki:3100/");
        assert_eq!(loki.basic_auth, Some(("lu".into(), "CanaryLokiPw".into())));
        let otlp = c.otlp.clone().unwrap();
        assert_eq!(otlp.endpoint, "https://tempo:4318/v1/traces");
        assert_eq!(otlp.basic_auth, Some(("ou".into(), "CanaryOtlpPw".into())));
        assert!(!format!("{c:?}").contains("Canary"), "{c:?}");

        // Both ways at once is ambiguous: a named error, without the secret.
        let both = TelemetryFlags {
            loki_user: Some("u".into()),
            ..f.clone()
        };
        let err =
            TelemetryConfig::resolve(&both, &env(&[("LOKI_PASSWORD", "CanaryEnvPw")])).unwrap_err();
        assert_eq!(err.source_name, "--loki-url");
        assert!(!format!("{err} {err:?}").contains("Canary"), "{err}");
    }

    #[test]
    fn bad_urls_are_named_without_their_credentials() {
        for (flags, e) in [
            (
                TelemetryFlags {
                    loki_url: Some("htp://u:CanaryA@loki:3100".into()),
                    ..flags()
                },
                EnvMap::new(),
            ),
            (
                TelemetryFlags {
                    otlp_endpoint: Some("http://u:CanaryB@".into()),
                    ..flags()
                },
                EnvMap::new(),
            ),
            (
                flags(),
                env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "tempo://u:CanaryC@t:4317")]),
            ),
        ] {
            let err = TelemetryConfig::resolve(&flags, &e).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("Canary"), "{shown}");
            assert!(shown.contains("***@"), "{shown}");
        }
    }
}
