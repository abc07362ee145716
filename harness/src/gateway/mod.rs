//! lgtm-check's recording gateway: it stands between a program and the backends,
//! records every item the program sends ([`Record`]) and forwards each request to
//! its backend, passing the backend's answer back.
//!
//! A program sends OTLP over gRPC ([`Gateway::grpc_url`]) or HTTP
//! ([`Gateway::http_url`]: `/v1/traces`, `/v1/logs`, `/v1/metrics`), Loki pushes
//! (`/loki/api/v1/push`) and remote writes (`/api/v1/push`, `/api/v1/write`). Each
//! request is decoded once ([`decode`]), forwarded to its signal's [`Upstream`]
//! ([`forward`]), and its items and the [`Exchange`](crate::core::record::Exchange)
//! are recorded with `acked` set from the backend's answer.
//!
//! Main types: [`GatewayConfig`], [`Upstreams`], [`Upstream`], [`MetricsUpstream`],
//! [`Gateway`], [`GatewayError`].
//!
//! ```no_run
//! # async fn f() -> Result<(), lgtm_check::gateway::GatewayError> {
//! use lgtm_check::gateway::{Gateway, GatewayConfig, Upstream};
//!
//! let mut config = GatewayConfig::new("run-1");
//! config.upstreams.traces = Some(Upstream::new("http://tempo:4317").over_grpc());
//! config.upstreams.logs = Some(Upstream::new("http://loki:3100/otlp/v1/logs").tenant("team-a"));
//! let gateway = Gateway::start(config).await?;
//! // …run the program with OTEL_EXPORTER_OTLP_ENDPOINT = gateway.grpc_url()…
//! let record = gateway.stop().await;
//! println!("{} spans", record.spans.len());
//! # Ok(()) }
//! ```

pub mod decode;
pub mod forward;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::clients::{Auth, redact_url, split_credentials};
use crate::core::otlp_mapping::PromTranslation;
use crate::core::record::Record;

/// The largest request body (and gRPC message) the gateway takes: 64 MiB.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// How long [`Gateway::stop`] waits for requests under way (a forwarded request
/// ends within [`forward::FORWARD_TIMEOUT`]).
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(35);

/// Where one kind of request goes: the backend endpoint's full URL, tenant and
/// credentials. `Debug` and `Display` never show a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The full URL of the backend's endpoint (`http://tempo:4318/v1/traces`,
    /// `http://loki:3100/otlp/v1/logs`); for gRPC, the server's
    /// (`http://tempo:4317`). Without credentials.
    pub url: String,
    /// `X-Scope-OrgID` sent with every request; `None`: the program's own, if any.
    pub tenant: Option<String>,
    /// Credentials sent with every request; [`Auth::None`]: the program's own
    /// `Authorization`, if any.
    pub auth: Auth,
    /// OTLP over gRPC (traces only: Loki and Mimir take OTLP over HTTP).
    pub grpc: bool,
}

impl Upstream {
    /// An HTTP upstream at `url`; credentials in it (`http://user:password@host`)
    /// become its basic auth and leave the URL.
    pub fn new(url: impl Into<String>) -> Self {
        let (url, auth) = split_credentials(&url.into());
        Upstream {
            url,
            tenant: None,
            auth: auth.unwrap_or_default(),
            grpc: false,
        }
    }

    /// The same, reached over OTLP/gRPC.
    #[must_use]
    pub fn over_grpc(mut self) -> Self {
        self.grpc = true;
        self
    }

    /// The same, with tenant `tenant`.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The same, with credentials `auth`.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("url", &redact_url(&self.url))
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .field("grpc", &self.grpc)
            .finish()
    }
}

impl fmt::Display for Upstream {
    /// `http://tempo:4317 (gRPC, tenant team-a)`, the URL redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", redact_url(&self.url))?;
        let mut notes = Vec::new();
        if self.grpc {
            notes.push("gRPC".to_string());
        }
        if let Some(t) = &self.tenant {
            notes.push(format!("tenant {t}"));
        }
        if !notes.is_empty() {
            write!(f, " ({})", notes.join(", "))?;
        }
        Ok(())
    }
}

/// Where OTLP metrics go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsUpstream {
    /// A backend's OTLP endpoint (Mimir's `/otlp/v1/metrics`, Cortex's
    /// `/api/v1/otlp/v1/metrics`): the request as it came.
    Otlp(Upstream),
    /// A remote-write endpoint: the points translated with
    /// [`GatewayConfig::translation`] and remote-written.
    RemoteWrite(Upstream),
}

impl MetricsUpstream {
    /// The upstream, whichever kind.
    pub fn upstream(&self) -> &Upstream {
        match self {
            MetricsUpstream::Otlp(u) | MetricsUpstream::RemoteWrite(u) => u,
        }
    }
}

impl fmt::Display for MetricsUpstream {
    /// The upstream, with `(remote write)` for a translated one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsUpstream::Otlp(u) => write!(f, "{u}"),
            MetricsUpstream::RemoteWrite(u) => write!(f, "{u} as remote write"),
        }
    }
}

/// The upstream of each kind of request; `None`: the gateway answers 404 /
/// `UNIMPLEMENTED` and records the refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upstreams {
    /// OTLP traces (Tempo's OTLP receiver, HTTP or gRPC).
    pub traces: Option<Upstream>,
    /// OTLP logs (Loki's `/otlp/v1/logs`).
    pub logs: Option<Upstream>,
    /// OTLP metrics.
    pub metrics: Option<MetricsUpstream>,
    /// Loki pushes (`/loki/api/v1/push`).
    pub loki_push: Option<Upstream>,
    /// Remote writes (`/api/v1/push`).
    pub remote_write: Option<Upstream>,
}

/// How to run a gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The address to listen on: `127.0.0.1` (the default), or `0.0.0.0` when
    /// containers must reach it.
    pub listen_host: String,
    /// The OTLP/gRPC port; 0 picks a free one.
    pub grpc_port: u16,
    /// The HTTP port (OTLP/HTTP, Loki push, remote write); 0 picks a free one.
    pub http_port: u16,
    /// Where each kind of request goes.
    pub upstreams: Upstreams,
    /// How OTLP metrics become series for a [`MetricsUpstream::RemoteWrite`].
    pub translation: PromTranslation,
    /// The run id the record carries.
    pub run_id: String,
    /// A PEM file of CA certificates trusted beside the system's roots for https
    /// upstreams (`--ca-cert`).
    pub ca_cert: Option<String>,
}

/// Deliberate breaks of a gateway's path, for testing lgtm-check itself
/// (`LGTM_CHECK_FAULTS`, `--fault`): `unforwarded-otlp-<signal>` leaves that OTLP
/// signal without an upstream, so the gateway refuses it as a deployment that
/// forwards it nowhere would.
pub const FAULTS: [&str; 3] = [
    "unforwarded-otlp-traces",
    "unforwarded-otlp-logs",
    "unforwarded-otlp-metrics",
];

impl GatewayConfig {
    /// The same, with the path of each fault in `faults` that names one of
    /// [`FAULTS`] broken; other names are left to the scenarios.
    ///
    /// ```
    /// use lgtm_check::gateway::{GatewayConfig, Upstream};
    /// let mut c = GatewayConfig::new("r1");
    /// c.upstreams.logs = Some(Upstream::new("http://loki:3100/otlp/v1/logs"));
    /// let broken = c.with_faults(&["unforwarded-otlp-logs".to_string(), "drop-span".to_string()]);
    /// assert!(broken.upstreams.logs.is_none());
    /// ```
    pub fn with_faults(mut self, faults: &[String]) -> Self {
        for f in faults {
            match f.as_str() {
                "unforwarded-otlp-traces" => self.upstreams.traces = None,
                "unforwarded-otlp-logs" => self.upstreams.logs = None,
                "unforwarded-otlp-metrics" => self.upstreams.metrics = None,
                _ => {}
            }
        }
        self
    }

    /// A gateway in front of `stack`: traces to Tempo's OTLP/gRPC receiver, OTLP
    /// logs to Loki's `/otlp/v1/logs`, OTLP metrics to the Mimir role's OTLP endpoint
    /// (translated with `translation` and remote-written for the Prometheus
    /// stand-in, which has none), Loki pushes and remote writes to their endpoints.
    /// A component not running leaves its signals without an upstream: the gateway
    /// then refuses them, and the refusal is recorded.
    pub fn for_stack(stack: &crate::Stack, run_id: &str, translation: PromTranslation) -> Self {
        let mut c = GatewayConfig::new(run_id);
        c.translation = translation;
        c.upstreams.traces = stack
            .otlp_grpc_url()
            .ok()
            .map(|u| Upstream::new(u).over_grpc());
        c.upstreams.logs = stack.loki_otlp_url().ok().map(Upstream::new);
        c.upstreams.loki_push = stack.loki_push_url().ok().map(Upstream::new);
        c.upstreams.remote_write = stack.remote_write_url().ok().map(Upstream::new);
        c.upstreams.metrics = match stack.metrics_otlp_url() {
            Ok(u) => Some(MetricsUpstream::Otlp(Upstream::new(u))),
            Err(_) => stack
                .remote_write_url()
                .ok()
                .map(|u| MetricsUpstream::RemoteWrite(Upstream::new(u))),
        };
        c
    }

    /// Listening on free ports of 127.0.0.1, with no upstream, translating metrics as
    /// Prometheus does.
    pub fn new(run_id: impl Into<String>) -> Self {
        GatewayConfig {
            listen_host: "127.0.0.1".into(),
            grpc_port: 0,
            http_port: 0,
            upstreams: Upstreams::default(),
            translation: PromTranslation::prometheus("lgtm-check's remote write"),
            run_id: run_id.into(),
            ca_cert: None,
        }
    }
}

/// Why a gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A port cannot be bound (in use, not allowed, or the host is not an address of
    /// this machine).
    #[error("lgtm-check's gateway cannot listen for {what} on {address}")]
    Bind {
        /// `OTLP/gRPC` or `HTTP`.
        what: &'static str,
        /// The address asked for.
        address: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA certificates cannot be read or used.
    #[error("lgtm-check's gateway cannot use the CA certificates of --ca-cert: {message}")]
    CaCert {
        /// Why.
        message: String,
    },
    /// An upstream's URL is not usable.
    #[error("the {signal} upstream `{url}` is not usable: {reason}")]
    Upstream {
        /// Which upstream (`traces`, `Loki push`).
        signal: &'static str,
        /// Its URL, redacted.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Every upstream's URL checked: http or https with a host.
fn check_upstreams(u: &Upstreams) -> Result<(), GatewayError> {
    let all = [
        ("traces", u.traces.as_ref()),
        ("logs", u.logs.as_ref()),
        ("metrics", u.metrics.as_ref().map(MetricsUpstream::upstream)),
        ("Loki push", u.loki_push.as_ref()),
        ("remote write", u.remote_write.as_ref()),
    ];
    for (signal, up) in all {
        let Some(up) = up else { continue };
        let bad = |reason: String| GatewayError::Upstream {
            signal,
            url: redact_url(&up.url),
            reason,
        };
        let parsed = url::Url::parse(&up.url).map_err(|e| bad(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(format!(
                "the scheme is `{}`, expected http or https",
                parsed.scheme()
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host".into()));
        }
    }
    Ok(())
}

/// A running gateway. [`Gateway::stop`] ends it and returns the record; dropping it
/// stops the servers too (the record is then lost).
pub struct Gateway {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    record: Arc<Mutex<Record>>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish()
    }
}

impl Gateway {
    /// Binds both ports and starts serving. Nothing is sent upstream until a request
    /// comes (a gRPC upstream connects on first use).
    pub async fn start(config: GatewayConfig) -> Result<Gateway, GatewayError> {
        check_upstreams(&config.upstreams)?;
        let ca_pem = match &config.ca_cert {
            Some(path) => Some(std::fs::read(path).map_err(|e| GatewayError::CaCert {
                message: format!("{path}: {e}"),
            })?),
            None => None,
        };
        let traces_grpc = config.upstreams.traces.as_ref().filter(|u| u.grpc);
        let forwarder =
            forward::Forwarder::new(traces_grpc, config.translation.clone(), ca_pem.as_deref())?;
        let bind = |what: &'static str, port: u16| {
            let host = config.listen_host.clone();
            async move {
                let address = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                tokio::net::TcpListener::bind(address.as_str())
                    .await
                    .map_err(|source| GatewayError::Bind {
                        what,
                        address,
                        source,
                    })
            }
        };
        let grpc_listener = bind("OTLP/gRPC", config.grpc_port).await?;
        let http_listener = bind("HTTP", config.http_port).await?;
        let addr = |l: &tokio::net::TcpListener, what: &'static str| {
            l.local_addr().map_err(|source| GatewayError::Bind {
                what,
                address: config.listen_host.clone(),
                source,
            })
        };
        let grpc_addr = addr(&grpc_listener, "OTLP/gRPC")?;
        let http_addr = addr(&http_listener, "HTTP")?;

        let mut record = Record::new(config.run_id.clone());
        record.started_at_unix_ms = now_ms();
        let record = Arc::new(Mutex::new(record));
        let shared = Arc::new(server::Shared {
            record: record.clone(),
            forwarder,
            upstreams: config.upstreams.clone(),
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = vec![
            tokio::spawn(server::serve_http(
                shared.clone(),
                http_listener,
                stopped.clone(),
            )),
            tokio::spawn(server::serve_grpc(shared, grpc_listener, stopped)),
        ];
        Ok(Gateway {
            grpc_addr,
            http_addr,
            record,
            stop,
            tasks,
        })
    }

    /// The OTLP/gRPC listener's address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The HTTP listener's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://127.0.0.1:4317`: where a program on this machine sends OTLP/gRPC
    /// (`0.0.0.0` shows as `127.0.0.1`).
    pub fn grpc_url(&self) -> String {
        url_of(self.grpc_addr)
    }

    /// `http://127.0.0.1:4318`: the base URL of OTLP/HTTP (`/v1/traces` …), Loki
    /// push and remote write (`0.0.0.0` shows as `127.0.0.1`).
    pub fn http_url(&self) -> String {
        url_of(self.http_addr)
    }

    /// What has been recorded so far (`finished_at_unix_ms` 0 until stopped).
    pub fn record(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops taking connections, lets the requests under way finish (their answers
    /// recorded; at most [`STOP_GRACE`]), and returns the record with its finish
    /// time.
    pub async fn stop(mut self) -> Record {
        let _ = self.stop.send(true);
        for mut task in std::mem::take(&mut self.tasks) {
            // A request under way ends within the forward timeout; a client that
            // keeps a connection open past that is cut off.
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
        let mut record = self.record();
        record.finished_at_unix_ms = now_ms();
        record
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// `http://host:port` of a listener, an unspecified address shown as loopback.
fn url_of(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_never_show_credentials() {
        let u = Upstream::new("https://me:CanaryGwPw1@tempo.example.com:4317")
            .over_grpc()
            .tenant("team-a");
        assert_eq!(u.url, "https://tempo.example.com:4317");
        assert_eq!(
            u.to_string(),
            "https://tempo.example.com:4317 (gRPC, tenant team-a)"
        );
        let by_hand = Upstream {
            auth: Auth::Bearer("CanaryGwTok2".into()),
            url: "https://x:CanaryGwPw1@h/v1/traces".into(),
            ..u
        };
        for shown in [format!("{by_hand:?}"), by_hand.to_string()] {
            assert!(
                !shown.contains("CanaryGwPw1") && !shown.contains("CanaryGwTok2"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_bad_upstream_url_is_named_before_anything_listens() {
        let u = Upstreams {
            loki_push: Some(Upstream::new("ftp://loki")),
            ..Upstreams::default()
        };
        let e = check_upstreams(&u).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Loki push upstream `ftp://loki` is not usable: the scheme is `ftp`, expected http or https"
        );
        assert_eq!(
            url_of("0.0.0.0:4317".parse().unwrap()),
            "http://127.0.0.1:4317"
        );
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_bind_error_naming_the_address() {
        let first = Gateway::start(GatewayConfig::new("r")).await.unwrap();
        let mut config = GatewayConfig::new("r");
        config.http_port = first.http_addr().port();
        let e = Gateway::start(config).await.unwrap_err();
        assert!(
            matches!(e, GatewayError::Bind { what: "HTTP", .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().ends_with(&format!(
                "for HTTP on 127.0.0.1:{}",
                first.http_addr().port()
            )),
            "{e}"
        );
        let record = first.stop().await;
        assert_eq!(record.run_id, "r");
        assert!(record.finished_at_unix_ms >= record.started_at_unix_ms);
    }
}
