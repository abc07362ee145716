//! What a run checks: the containers lgtm-check starts itself (`--target containers`,
//! the default), or a deployment that is already running (`--target external`), given
//! by the URL of each component, a tenant per component and the credentials.
//!
//! The settings come in layers, each overriding the one before: the file
//! `lgtm-check.toml` (table `[external]`), then `LGTM_CHECK_*` variables, then flags.
//! A key `loki-tenant` in the file is `LGTM_CHECK_LOKI_TENANT` in the environment and
//! `--loki-tenant` on the command line. The file never holds a secret: it names the
//! environment variable that does (`password-env`, `token-env`).
//!
//! Pure: the caller reads the file and the environment and passes them in
//! ([`ConfigFile::parse`], [`Env`]); secrets are read by the adapter that makes the
//! clients, from the variable [`Credentials`] names.
//!
//! Main items: [`Target`], [`ExternalTarget`], [`TargetSettings`], [`ConfigFile`],
//! [`TargetError`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::component::Component;
use super::plan::Env;

/// The name of the configuration file read from the current directory.
pub const CONFIG_FILE: &str = "lgtm-check.toml";

/// The variable the basic-auth password is read from unless `password-env` names
/// another.
pub const DEFAULT_PASSWORD_ENV: &str = "LGTM_CHECK_PASSWORD";

/// The settings of an external target as one layer gives them (`None`: not given
/// here). The same keys in every layer: `loki-url` in the file,
/// `LGTM_CHECK_LOKI_URL`, `--loki-url`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TargetSettings {
    /// `containers` or `external`.
    pub target: Option<String>,
    /// Loki's base URL (any path prefix included): the scenarios push their logs
    /// there and the checks query them there.
    pub loki_url: Option<String>,
    /// Tempo's query API.
    pub tempo_url: Option<String>,
    /// OTLP ingest (Tempo's distributor, an OpenTelemetry Collector, a gateway).
    pub otlp_url: Option<String>,
    /// `grpc` or `http/protobuf`.
    pub otlp_protocol: Option<String>,
    /// The Prometheus query API of the metrics backend (Mimir, Cortex, Prometheus),
    /// with any prefix (`/prometheus`).
    pub prometheus_url: Option<String>,
    /// Where the scenarios remote-write their metrics.
    pub remote_write_url: Option<String>,
    /// Loki's OTLP endpoint, where `lgtm-check tap` forwards OTLP logs (default:
    /// `loki-url` + `/otlp/v1/logs`).
    pub loki_otlp_url: Option<String>,
    /// The metrics backend's OTLP endpoint (Mimir's `/otlp/v1/metrics`, Cortex's
    /// `/api/v1/otlp/v1/metrics`), where `lgtm-check tap` forwards OTLP metrics; no
    /// default: without it they are translated and remote-written to
    /// `remote-write-url`.
    pub metrics_otlp_url: Option<String>,
    /// `X-Scope-OrgID` of every component unless its own is given.
    pub tenant: Option<String>,
    /// `X-Scope-OrgID` sent to Loki, instead of `tenant`.
    pub loki_tenant: Option<String>,
    /// `X-Scope-OrgID` sent to Tempo's query API, instead of `tenant`; OTLP ingest
    /// uses it too when neither `otlp-tenant` nor `tenant` is given.
    pub tempo_tenant: Option<String>,
    /// `X-Scope-OrgID` sent with OTLP ingest, instead of `tenant`.
    pub otlp_tenant: Option<String>,
    /// `X-Scope-OrgID` sent to the Prometheus query API, instead of `tenant`.
    pub prometheus_tenant: Option<String>,
    /// `X-Scope-OrgID` sent with remote write, instead of `tenant`.
    pub remote_write_tenant: Option<String>,
    /// Basic-auth user; the password is in the variable `password_env` names.
    pub user: Option<String>,
    /// The variable holding the basic-auth password (default `LGTM_CHECK_PASSWORD`).
    pub password_env: Option<String>,
    /// The variable holding a bearer token (instead of basic auth).
    pub token_env: Option<String>,
    /// A PEM file of CA certificates trusted beside the system's roots (a deployment
    /// whose https certificates a private CA signed).
    pub ca_cert: Option<String>,
}

/// The keys of [`TargetSettings`], as the file spells them, with the field each
/// fills (one table for the environment layer and for merging).
macro_rules! each_setting {
    ($m:ident) => {
        $m!(
            target,
            loki_url,
            tempo_url,
            otlp_url,
            otlp_protocol,
            prometheus_url,
            remote_write_url,
            loki_otlp_url,
            metrics_otlp_url,
            tenant,
            loki_tenant,
            tempo_tenant,
            otlp_tenant,
            prometheus_tenant,
            remote_write_tenant,
            user,
            password_env,
            token_env,
            ca_cert
        )
    };
}

impl TargetSettings {
    /// The `LGTM_CHECK_*` variables of each key (`loki_url` ← `LGTM_CHECK_LOKI_URL`).
    pub fn from_env(env: &Env) -> Self {
        let mut s = TargetSettings::default();
        macro_rules! read {
            ($($f:ident),*) => {
                $(s.$f = env
                    .get(&format!("LGTM_CHECK_{}", stringify!($f).to_ascii_uppercase()))
                    .map(str::to_owned);)*
            };
        }
        each_setting!(read);
        s
    }

    /// `self` with every setting `over` gives replaced by it.
    pub fn overridden_by(mut self, over: TargetSettings) -> Self {
        macro_rules! merge {
            ($($f:ident),*) => {
                $(if over.$f.is_some() {
                    self.$f = over.$f;
                })*
            };
        }
        each_setting!(merge);
        self
    }
}

/// The `[gate]` table of `lgtm-check.toml`: the sides of an upgrade kept in the
/// user's repository. Each key maps component names to an image or a path:
///
/// ```toml
/// [gate]
/// baseline = { loki = "grafana/loki:3.2.0", tempo = "grafana/tempo:2.6.0" }
/// candidate = { loki = "grafana/loki:3.4.6", tempo = "grafana/tempo:2.7.2" }
/// candidate-config = { tempo = "ci/tempo-2.7.yaml" }   # relative to the file
/// ```
///
/// Unknown keys and unknown components are refused when the file is parsed
/// ([`ConfigFile::parse`] names the file, line and key). What the sides mean is
/// `core::gate`'s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GateFile {
    /// `baseline`: the image each named component upgrades from
    /// (`loki = "grafana/loki:3.2.0"`); `--baseline` replaces an entry per component.
    #[serde(default)]
    pub baseline: BTreeMap<Component, String>,
    /// `candidate`: the image each named component upgrades to; `--candidate`
    /// replaces an entry per component.
    #[serde(default)]
    pub candidate: BTreeMap<Component, String>,
    /// `baseline-config`: a configuration file per component for the baseline side,
    /// used instead of its fixture; a relative path starts from the settings file's
    /// directory.
    #[serde(default)]
    pub baseline_config: BTreeMap<Component, String>,
    /// `candidate-config`: as `baseline-config`, for the candidate side.
    #[serde(default)]
    pub candidate_config: BTreeMap<Component, String>,
}

/// `lgtm-check.toml`: the settings kept in the user's repository.
///
/// ```toml
/// target = "external"
///
/// [external]
/// loki-url = "https://logs.example.com"
/// tenant = "team-a"
/// user = "checker"
/// password-env = "LGTM_CHECK_PASSWORD"   # the name of a variable, never a password
///
/// [gate]
/// baseline = { loki = "grafana/loki:3.2.0" }
/// candidate = { loki = "grafana/loki:3.4.6" }
/// ```
///
/// `faults` (top level, before any table) lists the faults `run` injects:
///
/// ```
/// use lgtm_check::core::target::ConfigFile;
/// let file = ConfigFile::parse("lgtm-check.toml", "faults = [\"kill:loki@50%\"]\n").unwrap();
/// assert_eq!(file.faults, ["kill:loki@50%"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `containers` or `external`: what `lgtm-check run` checks unless told otherwise.
    pub target: Option<String>,
    /// The `[external]` table: the file's layer of settings, under the environment
    /// and the flags.
    #[serde(default)]
    pub external: TargetSettings,
    /// The sides of `lgtm-check gate` ([`GateFile`]); `run` does not read it.
    #[serde(default)]
    pub gate: GateFile,
    /// `faults = ["kill:loki@50%", …]`: the faults `lgtm-check run` injects, as
    /// `--fault` spells them; `--fault` flags replace the list.
    #[serde(default)]
    pub faults: Vec<String>,
}

impl ConfigFile {
    /// Parses the file's text; `path` names it in the error, with the line and
    /// column and the parser's words, but never the line itself (a secret put there
    /// by mistake must not print).
    ///
    /// ```
    /// use lgtm_check::core::target::ConfigFile;
    ///
    /// let text = "[external]\nloki-url = \"http://loki:3100\"\n";
    /// let file = ConfigFile::parse("lgtm-check.toml", text).unwrap();
    /// assert_eq!(file.external.loki_url.as_deref(), Some("http://loki:3100"));
    ///
    /// // A misspelt key is refused, named with its line (the value is not shown).
    /// let text = "[external]\nloki-ulr = \"http://loki:3100\"\n";
    /// let err = ConfigFile::parse("lgtm-check.toml", text).unwrap_err();
    /// let shown = err.to_string();
    /// assert!(shown.starts_with("cannot read lgtm-check.toml: line 2, column 1: key `loki-ulr`"));
    /// assert!(!shown.contains("http://loki:3100"));
    /// ```
    pub fn parse(path: &str, text: &str) -> Result<Self, TargetError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let at = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = before.len() - line_start + 1;
                // The key of that line (names are not secret; the value may be).
                let key = text[line_start..]
                    .lines()
                    .next()
                    .and_then(|l| l.split_once('='))
                    .map(|(k, _)| format!("key `{}`, ", k.trim()))
                    .unwrap_or_default();
                format!("line {line}, column {column}: {key}")
            });
            TargetError::File {
                path: path.into(),
                message: format!("{}{}", at.unwrap_or_default(), e.message().trim()),
            }
        })
    }

    /// The file's settings as one layer (its top-level `target` included).
    pub fn settings(&self) -> TargetSettings {
        TargetSettings {
            target: self.target.clone().or(self.external.target.clone()),
            ..self.external.clone()
        }
    }
}

/// Which layer gave a setting, for error messages.
fn key_name(key: &str) -> String {
    format!(
        "{key} (--{key}, LGTM_CHECK_{})",
        key.replace('-', "_").to_ascii_uppercase()
    )
}

/// Settings that cannot make a target. Nothing has run when one is returned: the
/// binary exits 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The settings file could not be read, is not TOML, or has an unknown key.
    #[error("cannot read {path}: {message}")]
    File {
        /// The file as the user named it.
        path: String,
        /// The reader's or the parser's words, with the line, column and key (never
        /// the line's text).
        message: String,
    },
    /// `target` is neither `containers` nor `external`; holds the value given.
    #[error("target `{0}`: expected `containers` or `external`")]
    Kind(String),
    /// A URL setting does not parse, is not http or https, names no host, or has a
    /// query or fragment.
    #[error("{key}: `{value}` is not a valid URL: {reason}")]
    MalformedUrl {
        /// The setting with its flag and variable
        /// (`loki-url (--loki-url, LGTM_CHECK_LOKI_URL)`).
        key: String,
        /// The URL given, redacted.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL setting has a user or password in it: credentials come from `user` and
    /// the variable `password-env` names, never from a URL.
    #[error(
        "{key}: the URL carries credentials; give the user with --user and the password in the variable --password-env names (the URL is shown redacted: `{value}`)"
    )]
    CredentialsInUrl {
        /// The setting with its flag and variable.
        key: String,
        /// The URL given, redacted.
        value: String,
    },
    /// `otlp-protocol` is neither `grpc` nor `http/protobuf`; holds the value given.
    #[error("otlp-protocol `{0}`: expected `grpc` or `http/protobuf`")]
    OtlpProtocol(String),
    /// A setting of an external target is given while the target is `containers`;
    /// holds the setting with its flag and variable.
    #[error("{0} needs --target external")]
    NotExternal(String),
    /// `--target external` gives none of Loki, Tempo or the metrics backend.
    #[error(
        "an external target names no component: give at least one of --loki-url, --tempo-url with --otlp-url, --prometheus-url with --remote-write-url"
    )]
    Empty,
    /// One URL of a pair is given without the other: Tempo's query API and OTLP
    /// ingest, or the Prometheus query API and remote write.
    #[error("{needs} is given without {missing}: {why}")]
    Incomplete {
        /// The flag that is given (`--tempo-url`).
        needs: &'static str,
        /// The flag it needs (`--otlp-url`).
        missing: &'static str,
        /// Why the two go together.
        why: &'static str,
    },
    /// Both `user` (basic auth) and `token-env` (a bearer token) are given.
    #[error("--user and --token-env are both given: use basic auth or a bearer token")]
    TwoCredentials,
    /// `password-env` or `token-env` is not a variable name (ASCII letters, digits
    /// and `_`, not starting with a digit).
    #[error("{setting}: `{name}` is not a variable name")]
    VariableName {
        /// `password-env` or `token-env`.
        setting: &'static str,
        /// The value given.
        name: String,
    },
    /// The variable that should hold the password or token is unset or empty when
    /// the clients are made, before anything runs.
    #[error("{what}: the variable {var} is not set")]
    MissingSecret {
        /// Which secret (`the password of --user checker`).
        what: String,
        /// The variable's name (never its value).
        var: String,
    },
    /// `--ca-cert` names a file that cannot be read or holds no PEM certificate.
    #[error("ca-cert {path}: {message}")]
    CaCert {
        /// The file as given.
        path: String,
        /// Why it was refused.
        message: String,
    },
}

/// One component of a deployment: its base URL (any prefix included) and tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The base URL as [`check_url`] accepted it: http or https, no credentials, no
    /// trailing `/`.
    pub url: String,
    /// `X-Scope-OrgID` sent with every request; `None`: no header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// OTLP ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtlpIngest {
    /// Where the scenarios send their spans (Tempo's distributor, a collector, a
    /// gateway), as [`check_url`] accepted it.
    pub url: String,
    /// `grpc` or `http/protobuf`.
    pub protocol: String,
    /// `X-Scope-OrgID` sent with the spans; `None`: no header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Where the credentials are. Only names of variables: the secret itself is read by
/// the adapter that sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Credentials {
    /// No authentication header is sent.
    None,
    /// HTTP basic auth.
    Basic {
        /// The user (`--user`).
        user: String,
        /// The variable holding the password (`--password-env`, default
        /// [`DEFAULT_PASSWORD_ENV`]).
        password_env: String,
    },
    /// `Authorization: Bearer` with a token.
    Bearer {
        /// The variable holding the token (`--token-env`).
        token_env: String,
    },
}

impl Credentials {
    /// The variable holding the secret, if any.
    pub fn secret_var(&self) -> Option<&str> {
        match self {
            Credentials::None => None,
            Credentials::Basic { password_env, .. } => Some(password_env),
            Credentials::Bearer { token_env } => Some(token_env),
        }
    }

    /// How the report names them: `basic auth as checker`, `bearer token`.
    pub fn describe(&self) -> String {
        match self {
            Credentials::None => "no credentials".into(),
            Credentials::Basic { user, .. } => format!("basic auth as {user}"),
            Credentials::Bearer { .. } => "bearer token".into(),
        }
    }
}

/// A running deployment: the URL and tenant of each component it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalTarget {
    /// Loki, where the scenarios push logs and the checks query them; `None`: Loki
    /// is not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loki: Option<Service>,
    /// Tempo's query API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tempo: Option<Service>,
    /// Where the scenarios send their spans; given exactly when `tempo` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp: Option<OtlpIngest>,
    /// The Prometheus query API of the metrics backend (the Mimir role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<Service>,
    /// Where the scenarios remote-write their metrics (the Prometheus role); given
    /// exactly when `prometheus` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_write: Option<Service>,
    /// Loki's OTLP endpoint with Loki's tenant: `loki-otlp-url`, else `loki-url`
    /// with `/otlp/v1/logs`. Only `lgtm-check tap` uses it (not in a run's report).
    #[serde(skip)]
    pub loki_otlp: Option<Service>,
    /// The metrics backend's OTLP endpoint (`metrics-otlp-url`) with the
    /// remote-write tenant (it writes where remote write does). Only `lgtm-check tap`
    /// forwards to it, and `run --record` reads from it how the tap's metrics were
    /// stored (not in a run's report).
    #[serde(skip)]
    pub metrics_otlp: Option<Service>,
    /// How every request authenticates, the same for all components.
    pub credentials: Credentials,
    /// A PEM file of CA certificates trusted beside the system's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
}

/// What a run checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Containers lgtm-check starts (and removes).
    Containers,
    /// A deployment that is already running, at the URLs given.
    External(Box<ExternalTarget>),
}

/// The URL of `key` checked: `http`/`https` with a host, no credentials; a trailing
/// `/` dropped. The error shows the value redacted.
///
/// ```
/// use lgtm_check::core::target::check_url;
///
/// assert_eq!(check_url("loki-url", "http://loki:3100/").unwrap(), "http://loki:3100");
/// let err = check_url("loki-url", "https://checker:hunter2@logs.example.com").unwrap_err();
/// assert!(!err.to_string().contains("hunter2"));
/// ```
pub fn check_url(key: &str, value: &str) -> Result<String, TargetError> {
    let shown = lgtm_scenarios::redact::redact_url(value);
    let malformed = |reason: String| TargetError::MalformedUrl {
        key: key_name(key),
        value: shown.clone(),
        reason,
    };
    let parsed = url::Url::parse(value.trim()).map_err(|e| malformed(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(malformed(format!(
            "the scheme is `{}`, expected http or https",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(malformed("it names no host".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::CredentialsInUrl {
            key: key_name(key),
            value: shown,
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(malformed(
            "a base URL takes no query or fragment".to_string(),
        ));
    }
    Ok(value.trim().trim_end_matches('/').to_owned())
}

fn check_var(setting: &'static str, name: String) -> Result<String, TargetError> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(TargetError::VariableName { setting, name })
    }
}

impl Target {
    /// The target from the layers: `file` (already parsed), then `env`, then `flags`.
    /// `containers` unless a layer says `external`; external settings with the
    /// containers target are an error, not ignored.
    ///
    /// ```
    /// use lgtm_check::core::plan::Env;
    /// use lgtm_check::core::target::{Target, TargetError, TargetSettings};
    ///
    /// let env = Env::from_pairs([
    ///     ("LGTM_CHECK_TARGET", "external"),
    ///     ("LGTM_CHECK_TENANT", "team-a"),
    /// ]);
    /// let flags = TargetSettings {
    ///     loki_url: Some("https://logs.example.com/".into()),
    ///     ..TargetSettings::default()
    /// };
    /// let Target::External(t) = Target::resolve(None, &env, flags).unwrap() else {
    ///     panic!("the environment asked for an external target");
    /// };
    /// let loki = t.loki.as_ref().unwrap();
    /// assert_eq!(loki.url, "https://logs.example.com");
    /// assert_eq!(loki.tenant.as_deref(), Some("team-a"));
    ///
    /// // Without `external`, a URL is an error rather than silently ignored.
    /// let flags = TargetSettings {
    ///     loki_url: Some("https://logs.example.com".into()),
    ///     ..TargetSettings::default()
    /// };
    /// assert!(matches!(
    ///     Target::resolve(None, &Env::from_pairs([]), flags),
    ///     Err(TargetError::NotExternal(_))
    /// ));
    /// ```
    pub fn resolve(
        file: Option<&ConfigFile>,
        env: &Env,
        flags: TargetSettings,
    ) -> Result<Target, TargetError> {
        let s = file
            .map(ConfigFile::settings)
            .unwrap_or_default()
            .overridden_by(TargetSettings::from_env(env))
            .overridden_by(flags);
        match s.target.as_deref().map(str::trim) {
            None | Some("containers") => {
                let given = TargetSettings {
                    target: None,
                    ..s.clone()
                };
                if let Some(key) = first_given(&given) {
                    return Err(TargetError::NotExternal(key_name(key)));
                }
                Ok(Target::Containers)
            }
            Some("external") => external(s).map(|t| Target::External(Box::new(t))),
            Some(other) => Err(TargetError::Kind(other.into())),
        }
    }
}

/// The first external setting `s` gives, by its file key.
fn first_given(s: &TargetSettings) -> Option<&'static str> {
    let mut given = Vec::new();
    macro_rules! seen {
        ($($f:ident),*) => {
            $(if s.$f.is_some() {
                given.push(stringify!($f));
            })*
        };
    }
    each_setting!(seen);
    given.first().map(|f| match *f {
        "loki_url" => "loki-url",
        "tempo_url" => "tempo-url",
        "otlp_url" => "otlp-url",
        "otlp_protocol" => "otlp-protocol",
        "prometheus_url" => "prometheus-url",
        "remote_write_url" => "remote-write-url",
        "loki_otlp_url" => "loki-otlp-url",
        "metrics_otlp_url" => "metrics-otlp-url",
        "tenant" => "tenant",
        "loki_tenant" => "loki-tenant",
        "tempo_tenant" => "tempo-tenant",
        "otlp_tenant" => "otlp-tenant",
        "prometheus_tenant" => "prometheus-tenant",
        "remote_write_tenant" => "remote-write-tenant",
        "user" => "user",
        "password_env" => "password-env",
        "ca_cert" => "ca-cert",
        _ => "token-env",
    })
}

fn external(s: TargetSettings) -> Result<ExternalTarget, TargetError> {
    let tenant = |own: &Option<String>| {
        own.clone()
            .or_else(|| s.tenant.clone())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let service = |key: &str, url: &Option<String>, own_tenant: &Option<String>| {
        url.as_deref()
            .map(|u| {
                Ok::<_, TargetError>(Service {
                    url: check_url(key, u)?,
                    tenant: tenant(own_tenant),
                })
            })
            .transpose()
    };
    let loki = service("loki-url", &s.loki_url, &s.loki_tenant)?;
    let tempo = service("tempo-url", &s.tempo_url, &s.tempo_tenant)?;
    let prometheus = service("prometheus-url", &s.prometheus_url, &s.prometheus_tenant)?;
    let remote_write = service(
        "remote-write-url",
        &s.remote_write_url,
        &s.remote_write_tenant,
    )?;
    let loki_otlp = service("loki-otlp-url", &s.loki_otlp_url, &s.loki_tenant)?.or_else(|| {
        loki.as_ref().map(|l| Service {
            url: format!("{}/otlp/v1/logs", l.url),
            tenant: l.tenant.clone(),
        })
    });
    let metrics_otlp = service(
        "metrics-otlp-url",
        &s.metrics_otlp_url,
        &s.remote_write_tenant,
    )?;
    let protocol = match s.otlp_protocol.as_deref().map(str::trim) {
        None | Some("grpc") => "grpc",
        Some("http/protobuf") => "http/protobuf",
        Some(other) => return Err(TargetError::OtlpProtocol(other.into())),
    };
    let otlp = s
        .otlp_url
        .as_deref()
        .map(|u| {
            Ok::<_, TargetError>(OtlpIngest {
                url: check_url("otlp-url", u)?,
                protocol: protocol.into(),
                // Its own, else Tempo's (the spans must land where Tempo is asked),
                // else every component's.
                tenant: tenant(&s.otlp_tenant.clone().or_else(|| s.tempo_tenant.clone())),
            })
        })
        .transpose()?;
    if tempo.is_some() != otlp.is_some() {
        return Err(if tempo.is_some() {
            TargetError::Incomplete {
                needs: "--tempo-url",
                missing: "--otlp-url",
                why: "the scenarios' spans need somewhere to go",
            }
        } else {
            TargetError::Incomplete {
                needs: "--otlp-url",
                missing: "--tempo-url",
                why: "the spans sent there must be read back",
            }
        });
    }
    if prometheus.is_some() != remote_write.is_some() {
        return Err(if prometheus.is_some() {
            TargetError::Incomplete {
                needs: "--prometheus-url",
                missing: "--remote-write-url",
                why: "a deployment cannot scrape the scenarios: they remote-write their metrics",
            }
        } else {
            TargetError::Incomplete {
                needs: "--remote-write-url",
                missing: "--prometheus-url",
                why: "the metrics written there must be read back",
            }
        });
    }
    if loki.is_none() && tempo.is_none() && prometheus.is_none() {
        return Err(TargetError::Empty);
    }
    let credentials = match (&s.user, &s.token_env) {
        (Some(_), Some(_)) => return Err(TargetError::TwoCredentials),
        (Some(user), None) => Credentials::Basic {
            user: user.clone(),
            password_env: check_var(
                "password-env",
                s.password_env
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PASSWORD_ENV.into()),
            )?,
        },
        (None, Some(var)) => Credentials::Bearer {
            token_env: check_var("token-env", var.clone())?,
        },
        (None, None) => Credentials::None,
    };
    Ok(ExternalTarget {
        loki,
        tempo,
        otlp,
        prometheus,
        remote_write,
        loki_otlp,
        metrics_otlp,
        credentials,
        ca_cert: s
            .ca_cert
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    })
}

impl ExternalTarget {
    /// The query side of each component the target gives, and what fills the
    /// Prometheus role (the scenarios' remote write, read back through the same
    /// query API).
    pub fn services(&self) -> BTreeMap<Component, &Service> {
        let mut m = BTreeMap::new();
        if let Some(s) = &self.loki {
            m.insert(Component::Loki, s);
        }
        if let Some(s) = &self.tempo {
            m.insert(Component::Tempo, s);
        }
        if let Some(s) = &self.prometheus {
            m.insert(Component::Mimir, s);
        }
        m
    }

    /// Why `c` is not part of this target, or `None` when it is.
    pub fn not_given(&self, c: Component) -> Option<String> {
        match c {
            Component::Loki if self.loki.is_none() => Some("is not given (no --loki-url)".into()),
            Component::Tempo if self.tempo.is_none() => {
                Some("is not given (no --tempo-url and --otlp-url)".into())
            }
            Component::Mimir if self.prometheus.is_none() => {
                Some("is not given (no --prometheus-url)".into())
            }
            Component::Prometheus if self.remote_write.is_none() => {
                Some("is not given (no --remote-write-url)".into())
            }
            Component::Grafana => Some(
                "is not checked on an external target: its checks need the dashboard and datasources lgtm-check provisions"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for ExternalTarget {
    /// `external (loki https://logs.example.com, tenant team-a; …)`, URLs redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = lgtm_scenarios::redact::redact_url;
        let mut parts = Vec::new();
        let mut part = |name: &str, s: &Service| {
            let mut p = format!("{name} {}", redact(&s.url));
            if let Some(t) = &s.tenant {
                p.push_str(&format!(", tenant {t}"));
            }
            parts.push(p);
        };
        if let Some(s) = &self.loki {
            part("loki", s);
        }
        if let Some(s) = &self.tempo {
            part("tempo", s);
        }
        if let Some(o) = &self.otlp {
            part(
                &format!("otlp ({})", o.protocol),
                &Service {
                    url: o.url.clone(),
                    tenant: o.tenant.clone(),
                },
            );
        }
        if let Some(s) = &self.prometheus {
            part("prometheus api", s);
        }
        if let Some(s) = &self.remote_write {
            part("remote write", s);
        }
        parts.push(self.credentials.describe());
        write!(f, "external ({})", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(pairs: &[(&str, &str)]) -> TargetSettings {
        TargetSettings::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    const FULL: &str = r#"
target = "external"

[external]
loki-url = "https://logs.example.com/"
tempo-url = "https://traces.example.com"
otlp-url = "https://otlp.example.com:4317"
prometheus-url = "https://metrics.example.com/prometheus"
remote-write-url = "https://metrics.example.com/api/v1/push"
tenant = "team-a"
loki-tenant = "logs-team"
user = "checker"
password-env = "MY_PASSWORD"
"#;

    #[test]
    fn the_file_then_the_environment_then_flags() {
        let file = ConfigFile::parse("lgtm-check.toml", FULL).unwrap();
        let env = Env::from_pairs([
            ("LGTM_CHECK_TENANT", "team-env"),
            ("LGTM_CHECK_LOKI_URL", "http://loki.env:3100"),
        ]);
        let flag = TargetSettings {
            loki_url: Some("http://loki.flag:3100".into()),
            otlp_protocol: Some("http/protobuf".into()),
            ..TargetSettings::default()
        };
        let Target::External(t) = Target::resolve(Some(&file), &env, flag).unwrap() else {
            panic!("not external")
        };
        let loki = t.loki.as_ref().unwrap();
        assert_eq!(loki.url, "http://loki.flag:3100");
        // A component's own tenant wins over the shared one, whichever layer.
        assert_eq!(loki.tenant.as_deref(), Some("logs-team"));
        assert_eq!(
            t.tempo.as_ref().unwrap().tenant.as_deref(),
            Some("team-env")
        );
        assert_eq!(t.otlp.as_ref().unwrap().protocol, "http/protobuf");
        assert_eq!(
            t.prometheus.as_ref().unwrap().url,
            "https://metrics.example.com/prometheus"
        );
        assert_eq!(
            t.credentials,
            Credentials::Basic {
                user: "checker".into(),
                password_env: "MY_PASSWORD".into()
            }
        );
        assert_eq!(
            t.to_string(),
            "external (loki http://loki.flag:3100, tenant logs-team; tempo https://traces.example.com, tenant team-env; otlp (http/protobuf) https://otlp.example.com:4317, tenant team-env; prometheus api https://metrics.example.com/prometheus, tenant team-env; remote write https://metrics.example.com/api/v1/push, tenant team-env; basic auth as checker)"
        );
    }

    #[test]
    fn the_default_target_is_containers_and_refuses_external_settings() {
        assert_eq!(
            Target::resolve(None, &Env::default(), TargetSettings::default()).unwrap(),
            Target::Containers
        );
        let err = Target::resolve(
            None,
            &Env::default(),
            flags(&[("LGTM_CHECK_LOKI_URL", "http://l:3100")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "loki-url (--loki-url, LGTM_CHECK_LOKI_URL) needs --target external"
        );
        let err = Target::resolve(
            None,
            &Env::default(),
            flags(&[("LGTM_CHECK_TARGET", "cloud")]),
        )
        .unwrap_err();
        assert_eq!(err, TargetError::Kind("cloud".into()));
    }

    #[test]
    fn a_bad_file_names_its_path_and_key() {
        let err = ConfigFile::parse(
            "/repo/lgtm-check.toml",
            "[external]\nloki-url = \"http://l\"\nloki_tenant = \"x\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot read /repo/lgtm-check.toml: "),
            "{text}"
        );
        assert!(text.contains("loki_tenant"), "{text}");
        assert!(
            text.contains("line 3, column 1: key `loki_tenant`, unknown field"),
            "{text}"
        );
        let err = ConfigFile::parse("f.toml", "[external]\npassword = \"hunter2\"\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `password`"),
            "{err}"
        );
        let err = ConfigFile::parse("f.toml", "target = 3\n").unwrap_err();
        assert!(
            err.to_string().contains("key `target`, invalid type"),
            "{err}"
        );
    }

    fn external_with(pairs: &[(&str, &str)]) -> Result<Target, TargetError> {
        let mut all = vec![("LGTM_CHECK_TARGET", "external")];
        all.extend_from_slice(pairs);
        Target::resolve(None, &Env::default(), flags(&all))
    }

    #[test]
    fn malformed_urls_are_named_with_their_key_and_never_show_a_secret() {
        for (url, why) in [
            ("logs.example.com", "relative URL without a base"),
            ("ftp://logs.example.com", "the scheme is `ftp`"),
            ("http://", "empty host"),
            ("http://logs.example.com:99999", "invalid port number"),
            ("http://logs.example.com/?token=x", "no query"),
        ] {
            let err = external_with(&[("LGTM_CHECK_LOKI_URL", url)]).unwrap_err();
            assert!(
                matches!(err, TargetError::MalformedUrl { .. }),
                "{url}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.starts_with("loki-url (--loki-url, LGTM_CHECK_LOKI_URL): `"),
                "{text}"
            );
            assert!(text.contains(why), "{url}: {text}");
        }
        let err = external_with(&[(
            "LGTM_CHECK_LOKI_URL",
            "https://me:CanaryPw1@logs.example.com",
        )])
        .unwrap_err();
        assert!(matches!(err, TargetError::CredentialsInUrl { .. }));
        assert!(!err.to_string().contains("CanaryPw1"), "{err}");
    }

    #[test]
    fn incomplete_and_conflicting_settings_are_named() {
        assert_eq!(external_with(&[]).unwrap_err(), TargetError::Empty);
        let err = external_with(&[("LGTM_CHECK_TEMPO_URL", "http://t:3200")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--tempo-url is given without --otlp-url")
        );
        let err =
            external_with(&[("LGTM_CHECK_PROMETHEUS_URL", "http://m/prometheus")]).unwrap_err();
        assert!(err.to_string().contains("remote-write"), "{err}");
        let err = external_with(&[
            ("LGTM_CHECK_LOKI_URL", "http://l:3100"),
            ("LGTM_CHECK_USER", "u"),
            ("LGTM_CHECK_TOKEN_ENV", "TOKEN"),
        ])
        .unwrap_err();
        assert_eq!(err, TargetError::TwoCredentials);
        let err = external_with(&[
            ("LGTM_CHECK_LOKI_URL", "http://l:3100"),
            ("LGTM_CHECK_TOKEN_ENV", "not a name"),
        ])
        .unwrap_err();
        assert!(matches!(err, TargetError::VariableName { .. }));
        let err = external_with(&[
            ("LGTM_CHECK_LOKI_URL", "http://l:3100"),
            ("LGTM_CHECK_OTLP_PROTOCOL", "http/json"),
        ])
        .unwrap_err();
        assert_eq!(err, TargetError::OtlpProtocol("http/json".into()));
    }

    #[test]
    fn the_password_is_read_from_the_default_variable_and_components_not_given_say_so() {
        let Target::External(t) = external_with(&[
            ("LGTM_CHECK_LOKI_URL", "http://l:3100"),
            ("LGTM_CHECK_USER", "u"),
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(t.credentials.secret_var(), Some(DEFAULT_PASSWORD_ENV));
        assert_eq!(t.services().len(), 1);
        assert_eq!(t.not_given(Component::Loki), None);
        assert!(
            t.not_given(Component::Tempo)
                .unwrap()
                .contains("--tempo-url")
        );
        assert!(t.not_given(Component::Grafana).is_some());
    }

    #[test]
    fn unknown_keys_and_components_in_the_gate_table_are_refused_with_the_key() {
        let err = |text: &str| {
            ConfigFile::parse("/repo/lgtm-check.toml", text)
                .unwrap_err()
                .to_string()
        };
        let text = err(
            "[gate]\nbaseline = { loki = \"grafana/loki:3.2.0\" }\ncandidates = { loki = \"grafana/loki:3.4.6\" }\n",
        );
        assert!(text.starts_with("cannot read /repo/lgtm-check.toml: line 3, column 1: key `candidates`, unknown field `candidates`"), "{text}");
        let text = err("[gate]\ncandidate = { lokii = \"grafana/loki:3.4.6\" }\n");
        assert!(
            text.starts_with("cannot read /repo/lgtm-check.toml: line 2"),
            "{text}"
        );
        assert!(text.contains("lokii"), "{text}");
        let text = err("[gate.candidate]\nloki = \"grafana/loki:3.4.6\"\nlokii = \"x:1\"\n");
        assert!(text.contains("line 3, column 1: key `lokii`"), "{text}");
        // One form only: a table, not the flags' string.
        let text = err("[gate]\ncandidate = \"loki=grafana/loki:3.4.6\"\n");
        assert!(
            text.contains("key `candidate`, invalid type: string"),
            "{text}"
        );
    }

    #[test]
    fn the_otlp_endpoints_of_loki_and_the_metrics_backend_for_the_tap() {
        let Target::External(t) = external_with(&[
            ("LGTM_CHECK_LOKI_URL", "http://loki:3100/"),
            ("LGTM_CHECK_LOKI_TENANT", "logs-team"),
            ("LGTM_CHECK_TENANT", "everyone"),
        ])
        .unwrap() else {
            panic!("external")
        };
        let loki_otlp = t.loki_otlp.unwrap();
        assert_eq!(loki_otlp.url, "http://loki:3100/otlp/v1/logs");
        assert_eq!(loki_otlp.tenant.as_deref(), Some("logs-team"));
        assert_eq!(t.metrics_otlp, None);
        let file = ConfigFile::parse(
            "lgtm-check.toml",
            "[external]\nloki-url = \"http://loki:3100\"\nloki-otlp-url = \"http://gw/otlp/v1/logs\"\n",
        )
        .unwrap();
        let env = Env::from_pairs([
            ("LGTM_CHECK_TARGET", "external"),
            (
                "LGTM_CHECK_METRICS_OTLP_URL",
                "http://mimir:9009/otlp/v1/metrics",
            ),
            ("LGTM_CHECK_REMOTE_WRITE_TENANT", "metrics-team"),
        ]);
        let Target::External(t) =
            Target::resolve(Some(&file), &env, TargetSettings::default()).unwrap()
        else {
            panic!("external")
        };
        assert_eq!(t.loki_otlp.unwrap().url, "http://gw/otlp/v1/logs");
        let m = t.metrics_otlp.unwrap();
        assert_eq!(m.url, "http://mimir:9009/otlp/v1/metrics");
        assert_eq!(m.tenant.as_deref(), Some("metrics-team"));
        let err = external_with(&[("LGTM_CHECK_METRICS_OTLP_URL", "mimir:9009")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("metrics-otlp-url (--metrics-otlp-url, LGTM_CHECK_METRICS_OTLP_URL)"),
            "{err}"
        );
    }

    #[test]
    fn otlp_ingest_takes_tempos_tenant_before_every_components() {
        let settings = TargetSettings {
            target: Some("external".into()),
            tempo_url: Some("http://tempo:3200".into()),
            otlp_url: Some("http://tempo:4317".into()),
            tenant: Some("everyone".into()),
            tempo_tenant: Some("traces-team".into()),
            ..TargetSettings::default()
        };
        let Target::External(t) = Target::resolve(None, &Env::default(), settings.clone()).unwrap()
        else {
            panic!("external")
        };
        assert_eq!(t.otlp.unwrap().tenant.as_deref(), Some("traces-team"));
        let own = TargetSettings {
            otlp_tenant: Some("ingest".into()),
            ..settings
        };
        let Target::External(t) = Target::resolve(None, &Env::default(), own).unwrap() else {
            panic!("external")
        };
        assert_eq!(t.otlp.unwrap().tenant.as_deref(), Some("ingest"));
    }
}
