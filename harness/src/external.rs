//! An external target as the run sees it: the clients of a running deployment
//! ([`Deployment::connect`]: endpoints with tenant and credentials, secrets read from
//! the variables the target names), a preflight of each component before anything is
//! pushed ([`Deployment::preflight`]: reachable, credentials accepted, its version),
//! and the named reason a connection fails ([`ConnectionError`]).
//!
//! Nothing is started: the scenarios push to the deployment and every check queries
//! it. A component that fails its preflight is reported `failed` with the error, and
//! the checks that need it are skipped with that reason.
//!
//! Main items: [`Deployment`], [`ConnectionError`], [`classify`], [`invisible_reason`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::clients::prometheus::PromClient;
use crate::clients::{Auth, ClientError, Endpoint, redact_url};
use crate::core::component::Component;
use crate::core::report::{ComponentReport, ComponentStatus};
use crate::core::target::{Credentials, ExternalTarget, TargetError};
use crate::execute::{Backends, version_of};

/// Why a component of a deployment cannot be used. Each cause is its own variant, so
/// that a test (or a caller) can tell them apart; URLs are redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The host name of the URL does not resolve: a typo in the URL, or a name only
    /// another network (a cluster, a VPN) knows.
    #[error("{component} at {url}: the host name does not resolve (DNS): {detail}")]
    Dns {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The resolver's message, redacted.
        detail: String,
    },
    /// The host answered but nothing listens on the port (wrong port, component down).
    #[error("{component} at {url}: connection refused (nothing listens there)")]
    Refused {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
    },
    /// TLS could not be agreed: an untrusted or expired certificate (give
    /// `--ca-cert`), `https://` to a plain port, or `http://` to a TLS port.
    #[error("{component} at {url}: TLS failure: {detail}")]
    Tls {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// What went wrong in the handshake, with the hint that applies, redacted.
        detail: String,
    },
    /// No answer within [`PREFLIGHT_TIMEOUT`] (a firewall dropping packets, an
    /// overloaded component).
    #[error("{component} at {url}: no answer within {secs} s")]
    Timeout {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The time waited, in seconds.
        secs: u64,
    },
    /// HTTP 401 without the "no org id" text: the user, password or token was
    /// refused.
    #[error("{component} at {url}: the credentials were refused (HTTP 401): {message}")]
    Unauthorized {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The start of the answer's body (300 characters at most), redacted.
        message: String,
    },
    /// HTTP 401 "no org id": the deployment runs multi-tenant and the request named
    /// no tenant (`X-Scope-OrgID`).
    #[error(
        "{component} at {url}: the request carries no tenant and the deployment needs one (HTTP 401: {message}); give --tenant or --{component}-tenant"
    )]
    NoTenant {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The start of the answer's body (300 characters at most), redacted.
        message: String,
    },
    /// HTTP 403: the credentials were accepted but may not read this tenant or path.
    #[error("{component} at {url}: access forbidden (HTTP 403): {message}")]
    Forbidden {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The start of the answer's body (300 characters at most), redacted.
        message: String,
    },
    /// HTTP 404: the URL reaches a server, but not the component's API (a missing
    /// path prefix, another service behind the same gateway).
    #[error(
        "{component} at {url}: not found (HTTP 404): is this the component's URL, with its prefix? {message}"
    )]
    NotFound {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The start of the answer's body (300 characters at most), redacted.
        message: String,
    },
    /// Any other status that is not a success (5xx, 429, a 400 that is not about TLS).
    #[error("{component} at {url}: answered HTTP {status}: {message}")]
    Status {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The HTTP status code of the answer.
        status: u16,
        /// The start of the answer's body (300 characters at most), redacted.
        message: String,
    },
    /// A transport failure none of the other variants names, or an answer that
    /// cannot be read.
    #[error("{component} at {url}: unreachable: {detail}")]
    Unreachable {
        /// The component whose URL this is.
        component: Component,
        /// The URL that was tried, redacted.
        url: String,
        /// The chain of the cause's messages, redacted.
        detail: String,
    },
}

/// The whole chain of an error's messages, one line, redacted.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    redact_url(&parts.join(": "))
}

/// Whether an I/O error with `kind` is in the chain.
fn has_io_kind(e: &(dyn std::error::Error + 'static), kind: std::io::ErrorKind) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == kind
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Plain HTTP sent to a TLS port: what Go's servers (Loki, Tempo, Mimir) and nginx
/// answer.
fn http_to_tls_port(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("client sent an http request to an https server")
        || b.contains("plain http request was sent to https port")
}

/// The named error of a transport failure of `component` at `url`.
pub fn classify_transport(
    component: Component,
    url: &str,
    e: &(dyn std::error::Error + 'static),
) -> ConnectionError {
    let url = redact_url(url);
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    if has_io_kind(e, std::io::ErrorKind::ConnectionRefused) || lower.contains("connection refused")
    {
        ConnectionError::Refused { component, url }
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        ConnectionError::Dns {
            component,
            url,
            detail,
        }
    } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        ConnectionError::Tls {
            component,
            url,
            detail: format!(
                "the certificate's issuer is not trusted (a private CA? give it with --ca-cert): {detail}"
            ),
        }
    } else if lower.contains("tls")
        || lower.contains("ssl")
        || lower.contains("certificate")
        || lower.contains("handshake")
    {
        ConnectionError::Tls {
            component,
            url,
            detail,
        }
    } else if lower.contains("timed out") || lower.contains("timeout") {
        ConnectionError::Timeout {
            component,
            url,
            secs: PREFLIGHT_TIMEOUT.as_secs(),
        }
    } else if lower.contains("invalid http")
        || lower.contains("unexpected message")
        || lower.contains("parse")
    {
        // A TLS server answering plain HTTP with a TLS alert is not HTTP.
        ConnectionError::Tls {
            component,
            url,
            detail: format!("the answer is not HTTP (is this a TLS port? use https://): {detail}"),
        }
    } else {
        ConnectionError::Unreachable {
            component,
            url,
            detail,
        }
    }
}

/// The named error of an answer that is not a success (`None` for a 2xx).
pub fn classify(
    component: Component,
    url: &str,
    status: u16,
    body: &str,
) -> Option<ConnectionError> {
    let url = redact_url(url);
    let message = redact_url(&body.trim().chars().take(300).collect::<String>());
    Some(match status {
        200..=299 => return None,
        400 if http_to_tls_port(body) => ConnectionError::Tls {
            component,
            url,
            detail: format!("plain HTTP sent to a TLS port (use https://): {message}"),
        },
        401 if message.to_ascii_lowercase().contains("no org id") => ConnectionError::NoTenant {
            component,
            url,
            message,
        },
        401 => ConnectionError::Unauthorized {
            component,
            url,
            message,
        },
        403 => ConnectionError::Forbidden {
            component,
            url,
            message,
        },
        404 => ConnectionError::NotFound {
            component,
            url,
            message,
        },
        status => ConnectionError::Status {
            component,
            url,
            status,
            message,
        },
    })
}

/// The named error of a failed client call.
pub fn from_client_error(e: &ClientError) -> ConnectionError {
    match e {
        ClientError::Unreachable {
            component,
            url,
            source,
        } => classify_transport(*component, url, source),
        ClientError::Status {
            component,
            url,
            status,
            message,
            ..
        } => classify(*component, url, *status, message).unwrap_or(ConnectionError::Status {
            component: *component,
            url: redact_url(url),
            status: *status,
            message: message.clone(),
        }),
        ClientError::InvalidQuery {
            component,
            url,
            message,
            ..
        } => classify(*component, url, 400, message).unwrap_or(ConnectionError::Status {
            component: *component,
            url: redact_url(url),
            status: 400,
            message: message.clone(),
        }),
        ClientError::Decode {
            component,
            url,
            detail,
            ..
        } => ConnectionError::Unreachable {
            component: *component,
            url: redact_url(url),
            detail: format!("the answer cannot be read: {detail}"),
        },
    }
}

/// How long one preflight request may take.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for a deployment: TLS by rustls with the system's roots, and
/// `extra_roots` (the `--ca-cert` file's certificates) beside them.
pub fn http_client(extra_roots: &[reqwest::Certificate]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(PREFLIGHT_TIMEOUT)
        .connect_timeout(PREFLIGHT_TIMEOUT);
    for cert in extra_roots {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder.build().expect("HTTP client")
}

/// The certificates of the PEM file `path` (`--ca-cert`), or the named error.
pub fn read_ca_cert(path: &str) -> Result<Vec<reqwest::Certificate>, TargetError> {
    let named = |message: String| TargetError::CaCert {
        path: path.to_owned(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| named(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| named(format!("not a PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(named("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// Where the system keeps its CA certificates as a directory (Debian, Alpine,
/// Fedora), for the scenarios' `SSL_CERT_DIR` beside a `--ca-cert` file.
const SYSTEM_CERT_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// A deployment's endpoints, with tenant and credentials. `Debug` never shows the
/// secret.
#[derive(Clone)]
pub struct Deployment {
    /// The target as the flags described it (URLs, tenants, the credentials'
    /// variable names; never the secret itself).
    pub target: ExternalTarget,
    /// The query side of Loki, Tempo and the Mimir role.
    pub endpoints: BTreeMap<Component, Endpoint>,
    auth: Auth,
    /// The secret's variable and value, for the scenarios (they read it under their
    /// own names: `LOKI_PASSWORD`, `OTLP_TOKEN`, …).
    secret: Option<String>,
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` for the scenarios when `--ca-cert` is given.
    tls_env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("target", &self.target)
            .field("endpoints", &self.endpoints)
            .field("auth", &self.auth)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("tls_env", &self.tls_env)
            .finish()
    }
}

/// What the scenarios are given to push to the deployment: their flags and the
/// secrets' variables (set for them alone).
#[derive(Clone, Default)]
pub struct ScenarioSinks {
    /// Flags every scenario takes (`--loki-url`, `--otlp-endpoint`, tenants, users).
    pub args: Vec<String>,
    /// Flags of the scenarios that have metrics (`--remote-write-url`, …).
    pub metrics_args: Vec<String>,
    /// Variables set for the scenarios alone (`LOKI_PASSWORD`, …).
    pub env: Vec<(String, String)>,
    /// Whether the scenarios push logs to a Loki (so the log checks can expect data).
    pub logs: bool,
    /// Whether the scenarios export spans by OTLP to a Tempo.
    pub traces: bool,
    /// Whether the metrics path (Prometheus scraping, remote write to Mimir) is up.
    pub metrics: bool,
    /// The recording gateway the OTLP scenario sends through (`None`: it cannot
    /// run, and its checks are skipped saying so).
    pub gateway: Option<crate::gateway::GatewayConfig>,
}

impl std::fmt::Debug for ScenarioSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioSinks")
            .field("args", &self.args)
            .field("metrics_args", &self.metrics_args)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Deployment {
    /// The endpoints of `target`; the secret is read with `secret` from the variable
    /// the target names (a missing one is a named error before anything runs).
    pub fn connect(
        target: &ExternalTarget,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TargetError> {
        let (auth, value) = match &target.credentials {
            Credentials::None => (Auth::None, None),
            Credentials::Basic { user, password_env } => {
                let password = secret(password_env)
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| TargetError::MissingSecret {
                        what: format!("the password of --user {user}"),
                        var: password_env.clone(),
                    })?;
                (
                    Auth::Basic {
                        user: user.clone(),
                        password: password.clone(),
                    },
                    Some(password),
                )
            }
            Credentials::Bearer { token_env } => {
                let token = secret(token_env).filter(|t| !t.is_empty()).ok_or_else(|| {
                    TargetError::MissingSecret {
                        what: "the bearer token of --token-env".into(),
                        var: token_env.clone(),
                    }
                })?;
                (Auth::Bearer(token.clone()), Some(token))
            }
        };
        let endpoints = target
            .services()
            .into_iter()
            .map(|(c, s)| {
                (
                    c,
                    Endpoint {
                        component: c,
                        base: s.url.clone(),
                        tenant: s.tenant.clone(),
                        auth: auth.clone(),
                    },
                )
            })
            .collect();
        let roots = match &target.ca_cert {
            Some(path) => read_ca_cert(path)?,
            None => Vec::new(),
        };
        // The scenarios' TLS clients read the system's roots; SSL_CERT_FILE adds the
        // private CA, SSL_CERT_DIR keeps the system's (setting either replaces the
        // platform's store).
        let mut tls_env = Vec::new();
        if let Some(path) = &target.ca_cert {
            let absolute = std::path::absolute(path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.clone());
            tls_env.push(("SSL_CERT_FILE".to_string(), absolute));
            if let Some(dir) = SYSTEM_CERT_DIRS
                .iter()
                .find(|d| std::path::Path::new(d).is_dir())
            {
                tls_env.push(("SSL_CERT_DIR".to_string(), dir.to_string()));
            }
        }
        Ok(Deployment {
            target: target.clone(),
            endpoints,
            auth,
            secret: value,
            tls_env,
            http: http_client(&roots),
        })
    }

    /// The credentials every request to this deployment carries (the secret read
    /// from its variable; [`Auth`]'s `Debug` never shows it).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The same deployment, with the preflight and the checks of `component` asking
    /// as `tenant` while the scenarios still push as the target says: what someone
    /// sees who looks at another tenant than the one the data went to. A test of
    /// tenant isolation runs with it: every check of `component` that needs the
    /// run's data must then fail, naming the tenant it was invisible to.
    ///
    /// For Tempo and the Mimir role the target can say the same
    /// (`--otlp-tenant`/`--tempo-tenant`, `--remote-write-tenant`/
    /// `--prometheus-tenant`); Loki has one URL and one tenant for both.
    #[must_use]
    pub fn querying_as(mut self, component: Component, tenant: &str) -> Self {
        if let Some(e) = self.endpoints.get_mut(&component) {
            e.tenant = Some(tenant.to_owned());
        }
        self
    }

    /// Flags and variables that make the scenarios push to this deployment, to the
    /// components `ready` accepts (those whose preflight passed).
    pub fn sinks(&self, ready: impl Fn(Component) -> bool) -> ScenarioSinks {
        let mut s = ScenarioSinks::default();
        s.env.extend(self.tls_env.iter().cloned());
        let (user, bearer) = match &self.auth {
            Auth::Basic { user, .. } => (Some(user.clone()), false),
            Auth::Bearer(_) => (None, true),
            Auth::None => (None, false),
        };
        let secret_for = |password_var: &str, token_var: &str, env: &mut Vec<_>| {
            if let Some(v) = &self.secret {
                let var = if bearer { token_var } else { password_var };
                env.push((var.to_string(), v.clone()));
            }
        };
        if let Some(l) = self.target.loki.as_ref().filter(|_| ready(Component::Loki)) {
            s.logs = true;
            s.args.extend(["--loki-url".into(), l.url.clone()]);
            if let Some(t) = &l.tenant {
                s.args.extend(["--loki-tenant".into(), t.clone()]);
            }
            if let Some(u) = &user {
                s.args.extend(["--loki-user".into(), u.clone()]);
            }
            if bearer {
                s.args.push("--loki-bearer".into());
            }
            secret_for("LOKI_PASSWORD", "LOKI_TOKEN", &mut s.env);
        }
        if let Some(o) = self
            .target
            .otlp
            .as_ref()
            .filter(|_| ready(Component::Tempo))
        {
            s.traces = true;
            s.args.extend([
                "--otlp-endpoint".into(),
                o.url.clone(),
                "--otlp-protocol".into(),
                o.protocol.clone(),
            ]);
            if let Some(t) = &o.tenant {
                s.args.extend(["--otlp-tenant".into(), t.clone()]);
            }
            if let Some(u) = &user {
                s.args.extend(["--otlp-user".into(), u.clone()]);
            }
            if bearer {
                s.args.push("--otlp-bearer".into());
            }
            secret_for("OTLP_PASSWORD", "OTLP_TOKEN", &mut s.env);
        }
        if let Some(w) = self
            .target
            .remote_write
            .as_ref()
            .filter(|_| ready(Component::Prometheus) && ready(Component::Mimir))
        {
            s.metrics = true;
            s.metrics_args
                .extend(["--remote-write-url".into(), w.url.clone()]);
            if let Some(t) = &w.tenant {
                s.metrics_args
                    .extend(["--remote-write-tenant".into(), t.clone()]);
            }
            if let Some(u) = &user {
                s.metrics_args
                    .extend(["--remote-write-user".into(), u.clone()]);
            }
            if bearer {
                s.metrics_args.push("--remote-write-bearer".into());
            }
            secret_for("REMOTE_WRITE_PASSWORD", "REMOTE_WRITE_TOKEN", &mut s.env);
        }
        s
    }

    /// GET `path` of `e`; a transport failure or a non-2xx answer is the named error.
    async fn probe_get(&self, e: &Endpoint, path: &str) -> Result<String, ConnectionError> {
        let url = format!("{}{path}", e.base);
        let (status, body) = e
            .get(&self.http, path, &[])
            .await
            .map_err(|err| from_client_error(&err))?;
        match classify(e.component, &url, status, &body) {
            Some(err) => Err(err),
            None => Ok(body),
        }
    }

    /// POSTs `body` to `url` as `component` with the tenant and the credentials.
    async fn probe_post(
        &self,
        component: Component,
        url: &str,
        tenant: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(), ConnectionError> {
        let mut request = self.auth.apply(self.http.post(url).body(body));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(t) = tenant {
            request = request.header("X-Scope-OrgID", t);
        }
        let response = request
            .send()
            .await
            .map_err(|e| classify_transport(component, url, &e.without_url()))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match classify(component, url, status, &text) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// One component's preflight: its build info (reachable; the version), then a
    /// request only a tenant with valid credentials may make.
    async fn preflight_query(&self, c: Component) -> Result<Option<String>, ConnectionError> {
        let e = &self.endpoints[&c];
        let (buildinfo, scoped) = match c {
            Component::Loki => ("/loki/api/v1/status/buildinfo", "/loki/api/v1/labels"),
            Component::Tempo => ("/api/status/buildinfo", "/api/search/tags"),
            _ => ("/api/v1/status/buildinfo", "/api/v1/labels"),
        };
        // Build info may be served without a tenant, or not at all (a gateway may
        // only route the API); the scoped request is the one that must succeed.
        let version = match self.probe_get(e, buildinfo).await {
            Ok(body) => version_of(&body),
            Err(err @ (ConnectionError::NotFound { .. } | ConnectionError::Status { .. })) => {
                let _ = err;
                None
            }
            Err(err) => return Err(err),
        };
        self.probe_get(e, scoped).await?;
        Ok(version)
    }

    /// Ingest paths: an empty remote-write request, and an empty OTLP/HTTP export
    /// (OTLP/gRPC: a TCP connection to its port).
    async fn preflight_ingest(&self, c: Component) -> Result<(), ConnectionError> {
        match c {
            Component::Prometheus => {
                let Some(w) = &self.target.remote_write else {
                    return Ok(());
                };
                // An empty WriteRequest is zero bytes; its raw snappy form is one.
                self.probe_post(
                    Component::Prometheus,
                    &w.url,
                    w.tenant.as_deref(),
                    &[
                        ("Content-Type", "application/x-protobuf"),
                        ("Content-Encoding", "snappy"),
                        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                    ],
                    vec![0],
                )
                .await
            }
            Component::Tempo => {
                let Some(o) = &self.target.otlp else {
                    return Ok(());
                };
                if o.protocol == "http/protobuf" {
                    let url = format!("{}/v1/traces", o.url.trim_end_matches("/v1/traces"));
                    self.probe_post(
                        Component::Tempo,
                        &url,
                        o.tenant.as_deref(),
                        &[("Content-Type", "application/x-protobuf")],
                        Vec::new(),
                    )
                    .await
                } else {
                    let parsed =
                        url::Url::parse(&o.url).map_err(|e| ConnectionError::Unreachable {
                            component: Component::Tempo,
                            url: redact_url(&o.url),
                            detail: e.to_string(),
                        })?;
                    let host = parsed.host_str().unwrap_or_default().to_owned();
                    let port = parsed.port_or_known_default().unwrap_or(4317);
                    match tokio::time::timeout(
                        PREFLIGHT_TIMEOUT,
                        tokio::net::TcpStream::connect((host.as_str(), port)),
                    )
                    .await
                    {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(classify_transport(Component::Tempo, &o.url, &e)),
                        Err(_) => Err(ConnectionError::Timeout {
                            component: Component::Tempo,
                            url: redact_url(&o.url),
                            secs: PREFLIGHT_TIMEOUT.as_secs(),
                        }),
                    }
                }
            }
            _ => Ok(()),
        }
    }

    /// Every component's report: `ready` (with the version it reports and the time
    /// its preflight took), `failed` with the named error, or `skipped` when the
    /// target does not give it.
    pub async fn preflight(&self) -> Vec<ComponentReport> {
        let mut out = Vec::new();
        for c in Component::ALL {
            // No image: the report's target line says where each component is.
            let given = match c {
                Component::Prometheus => self.target.remote_write.is_some(),
                _ => self.endpoints.contains_key(&c),
            };
            let mut report = ComponentReport {
                name: c,
                image: String::new(),
                status: ComponentStatus::Skipped,
                ready_ms: None,
                version: None,
                reason: self.target.not_given(c),
                stand_in: None,
                refused_guide_config: None,
                died: None,
            };
            if !given {
                out.push(report);
                continue;
            }
            let started = Instant::now();
            let result = match c {
                Component::Prometheus => self.preflight_ingest(c).await.map(|()| None),
                Component::Tempo => match self.preflight_query(c).await {
                    Ok(v) => self.preflight_ingest(c).await.map(|()| v),
                    Err(e) => Err(e),
                },
                _ => self.preflight_query(c).await,
            };
            match result {
                Ok(version) => {
                    report.status = ComponentStatus::Ready;
                    report.ready_ms = Some(started.elapsed().as_millis() as u64);
                    report.version = version;
                    report.reason = None;
                    if c == Component::Prometheus {
                        report.stand_in = Some("remote write from the scenarios".into());
                    }
                }
                Err(e) => {
                    report.status = ComponentStatus::Failed;
                    report.reason = Some(e.to_string());
                }
            }
            out.push(report);
        }
        out
    }

    /// Clients of the components whose preflight passed. The Prometheus role (what
    /// brings metrics into the Mimir role) is the scenarios' remote write: its checks
    /// read the Mimir role's query API.
    pub fn backends(&self, ready: &[ComponentReport]) -> Backends {
        let is_ready = |c: Component| {
            ready
                .iter()
                .any(|r| r.name == c && r.status == ComponentStatus::Ready)
        };
        let mut b = Backends::from_endpoints(
            &self.http,
            self.endpoints
                .iter()
                .filter(|(c, _)| is_ready(**c))
                .map(|(_, e)| e.clone()),
        );
        if is_ready(Component::Prometheus)
            && let Some(e) = self.endpoints.get(&Component::Mimir)
        {
            b.prometheus_api.insert(
                Component::Prometheus,
                PromClient::with_endpoint(self.http.clone(), e.clone()),
            );
        }
        b.http = Some(self.http.clone());
        b
    }
}

/// Why checks of `component` found nothing, when the deployment accepted the pushes
/// but `probe` (asked after the checks) shows nothing of the run to the tenant asked:
/// put before the failed check's own reason.
pub fn invisible_reason(component: Component, tenant: Option<&str>, probe: &str) -> String {
    let who = match tenant {
        Some(t) => format!("tenant {t}"),
        None => "these credentials (no tenant given)".into(),
    };
    format!(
        "the data is not visible to {who}: the scenarios' pushes to {component} were accepted, but nothing of the run is visible to {who} (`{probe}` returned nothing); the data went to another tenant, or the credentials map to one"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_named_by_their_status_and_words() {
        let c = Component::Loki;
        let url = "http://u:CanaryPw5@loki:3100/loki/api/v1/labels";
        assert_eq!(classify(c, url, 204, ""), None);
        let e = classify(c, url, 401, "no org id\n").unwrap();
        assert!(matches!(e, ConnectionError::NoTenant { .. }), "{e:?}");
        let e = classify(c, url, 401, "401 Authorization Required").unwrap();
        assert!(matches!(e, ConnectionError::Unauthorized { .. }), "{e:?}");
        assert!(!e.to_string().contains("CanaryPw5"), "{e}");
        assert!(matches!(
            classify(c, url, 403, "forbidden").unwrap(),
            ConnectionError::Forbidden { .. }
        ));
        assert!(matches!(
            classify(c, url, 404, "404 page not found").unwrap(),
            ConnectionError::NotFound { .. }
        ));
        // What Go's net/http (Loki, Tempo, Mimir) answers plain HTTP on a TLS port.
        let e = classify(
            c,
            url,
            400,
            "Client sent an HTTP request to an HTTPS server.\n",
        )
        .unwrap();
        assert!(matches!(e, ConnectionError::Tls { .. }), "{e:?}");
        assert!(matches!(
            classify(c, url, 502, "bad gateway").unwrap(),
            ConnectionError::Status { status: 502, .. }
        ));
    }

    fn target(ca_cert: Option<String>) -> ExternalTarget {
        ExternalTarget {
            loki: Some(crate::core::target::Service {
                url: "https://logs.example.com".into(),
                tenant: Some("team-a".into()),
            }),
            tempo: None,
            otlp: None,
            prometheus: None,
            remote_write: None,
            loki_otlp: None,
            metrics_otlp: None,
            credentials: Credentials::Basic {
                user: "checker".into(),
                password_env: "PW".into(),
            },
            ca_cert,
        }
    }

    #[test]
    fn a_deployment_never_shows_its_secret() {
        let d = Deployment::connect(&target(None), |_| Some("CanaryPw7".into())).unwrap();
        let shown = format!("{d:?} {:?}", d.sinks(|_| true));
        assert!(!shown.contains("CanaryPw7"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_named() {
        let missing = "/nonexistent/ca.pem".to_string();
        let e =
            Deployment::connect(&target(Some(missing.clone())), |_| Some("pw".into())).unwrap_err();
        assert!(
            matches!(&e, TargetError::CaCert { path, .. } if *path == missing),
            "{e:?}"
        );
        let empty =
            std::env::temp_dir().join(format!("lgtm-check-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = read_ca_cert(&empty.display().to_string()).unwrap_err();
        let _ = std::fs::remove_file(&empty);
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
    }

    #[test]
    fn a_ca_file_is_trusted_by_the_scenarios_beside_the_systems_roots() {
        let Some(system) = ["/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
        else {
            eprintln!("SKIPPED: no system CA bundle on this machine");
            return;
        };
        let d = Deployment::connect(&target(Some(system.into())), |_| Some("pw".into())).unwrap();
        let env = d.sinks(|_| true).env;
        assert!(
            env.iter().any(|(k, v)| k == "SSL_CERT_FILE" && v == system),
            "{env:?}"
        );
    }
}
