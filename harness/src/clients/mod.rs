//! HTTP clients of the backends' query APIs: thin adapters that turn answers into the
//! core's plain data, with typed errors that name the component, URL and query.
//!
//! Main types: [`prometheus::PromClient`], [`grafana::GrafanaClient`], [`Endpoint`],
//! [`Auth`], [`ClientError`].
//!
//! Secrets never print: credentials in a base URL (`user:password@`) are moved into
//! [`Auth`] when an [`Endpoint`] is made, and every `Debug` and `Display` of
//! [`Auth`], [`Endpoint`] and [`ClientError`] passes URLs and messages through
//! [`redact_url`].

pub mod grafana;
pub mod loki;
pub mod promapi;
pub mod prometheus;
pub mod tempo;

use std::fmt;

use crate::core::component::Component;

pub use lgtm_scenarios::redact::redact_url;

/// How a client authenticates.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (the harness' own containers).
    #[default]
    None,
    /// HTTP basic auth (`Authorization: Basic …`), as a gateway in front of a
    /// deployment or Grafana Cloud asks for.
    Basic {
        /// The user name (a Grafana Cloud stack's numeric id, for instance).
        user: String,
        /// The password or API key; never printed.
        password: String,
    },
    /// A token sent as `Authorization: Bearer …`.
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// Adds the credentials to a request.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        }
    }
}

/// Splits `user:password@` off a base URL into basic auth, so that credentials are
/// sent as a header and never show in the URL; also drops a trailing `/`.
pub fn split_credentials(base: &str) -> (String, Option<Auth>) {
    let (clean, userinfo) = lgtm_scenarios::redact::split_userinfo(base.trim());
    (
        clean.trim_end_matches('/').to_owned(),
        userinfo.map(|(user, password)| Auth::Basic { user, password }),
    )
}

/// Where a backend is and how to talk to it: base URL (with any prefix), tenant
/// (`X-Scope-OrgID`) and credentials. `Debug` and `Display` never show a secret.
#[derive(Clone)]
pub struct Endpoint {
    /// The component behind it; named in every error.
    pub component: Component,
    /// Base URL, with any path prefix (Mimir's `/prometheus`) and without a trailing
    /// `/` or credentials; request paths are appended to it.
    pub base: String,
    /// The tenant sent as `X-Scope-OrgID`; `None` sends no header.
    pub tenant: Option<String>,
    /// The credentials added to every request.
    pub auth: Auth,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("component", &self.component)
            .field("base", &redact_url(&self.base))
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .finish()
    }
}

impl fmt::Display for Endpoint {
    /// `component at base`, the base redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.component, redact_url(&self.base))
    }
}

impl Endpoint {
    /// An endpoint at `base`; credentials in it (`http://user:password@host`) become
    /// its basic auth, and leave the URL.
    pub fn new(component: Component, base: impl Into<String>) -> Self {
        let (base, auth) = split_credentials(&base.into());
        Endpoint {
            component,
            base,
            tenant: None,
            auth: auth.unwrap_or_default(),
        }
    }

    /// GETs `path` with `params` and returns the status and body; only a transport
    /// failure is an error here.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<(u16, String), ClientError> {
        let url = format!("{}{path}", self.base);
        self.send(http.get(&url).query(params), url).await
    }

    /// POSTs `params` as a form to `path` and returns the status and body; only a
    /// transport failure is an error here.
    pub async fn post_form(
        &self,
        http: &reqwest::Client,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<(u16, String), ClientError> {
        let url = format!("{}{path}", self.base);
        self.send(http.post(&url).form(params), url).await
    }

    /// Adds the tenant and credentials, sends, and reads the answer.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: String,
    ) -> Result<(u16, String), ClientError> {
        let mut request = self.auth.apply(request);
        if let Some(t) = &self.tenant {
            request = request.header("X-Scope-OrgID", t);
        }
        let unreachable = |source| ClientError::unreachable(self.component, &url, source);
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok((status, body))
    }

    /// GETs `path` and decodes a 200 answer; any other status is an error that
    /// carries the backend's message.
    pub async fn get_decoded<T>(
        &self,
        http: &reqwest::Client,
        path: &str,
        query: &str,
        params: &[(&str, &str)],
        decode: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        let (status, body) = self.get(http, path, params).await?;
        if status != 200 {
            return Err(self.error(path, query, status, &body));
        }
        decode(&body).map_err(|d| self.decode_error(path, query, d))
    }

    /// The error for a non-success answer: 400 is the backend rejecting the query
    /// (its body is the message), anything else an HTTP error.
    pub fn error(&self, path: &str, query: &str, status: u16, body: &str) -> ClientError {
        let message = body.trim().chars().take(1000).collect::<String>();
        let url = format!("{}{path}", self.base);
        if status == 400 {
            ClientError::InvalidQuery {
                component: self.component,
                url,
                query: query.into(),
                message,
            }
        } else {
            ClientError::Status {
                component: self.component,
                url,
                query: query.into(),
                status,
                message,
            }
        }
    }

    /// A decode error of this component for `path` and `query`, with the URL redacted.
    pub fn decode_error(&self, path: &str, query: &str, detail: String) -> ClientError {
        ClientError::Decode {
            component: self.component,
            url: format!("{}{path}", self.base),
            query: query.into(),
            detail,
        }
    }
}

/// Why a query got no usable answer. Its `Display` and `Debug` show URLs and the
/// backend's words through [`redact_url`].
#[derive(thiserror::Error)]
pub enum ClientError {
    /// No HTTP answer: connection refused, DNS, TLS, a timeout, or the body broke off.
    #[error("{component} at {} is unreachable", redact_url(.url))]
    Unreachable {
        /// The component that was asked.
        component: Component,
        /// The URL requested, redacted.
        url: String,
        /// The transport error, without its own copy of the URL.
        #[source]
        source: reqwest::Error,
    },
    #[error("{component} at {} answered HTTP {status} to `{query}`: {}", redact_url(.url), redact_url(.message))]
    /// An answer with a status that is neither 200 nor a rejected query (400): auth
    /// (401, 403), not found (404), a server error (5xx), too many requests (429).
    Status {
        /// The component that was asked.
        component: Component,
        /// The URL requested, with its path (shown redacted).
        url: String,
        /// What was asked: the LogQL, TraceQL or PromQL, or what the request looks up.
        query: String,
        /// The HTTP status code.
        status: u16,
        /// The backend's error message, else the start of the answer's body (1000
        /// characters at most).
        message: String,
    },
    #[error("{component} at {} rejected `{query}`: {}", redact_url(.url), redact_url(.message))]
    /// HTTP 400 (or Prometheus' `bad_data`): the backend refused the request; see
    /// [`ClientError::is_query_rejection`] for telling a syntax error from a
    /// rejected parameter.
    InvalidQuery {
        /// The component that was asked.
        component: Component,
        /// The URL requested, with its path (shown redacted).
        url: String,
        /// What was asked: the LogQL, TraceQL or PromQL, or what the request looks up.
        query: String,
        /// The backend's own words (the body, or its `error` field).
        message: String,
    },
    #[error("{component} at {} sent an answer to `{query}` that cannot be read: {}", redact_url(.url), redact_url(.detail))]
    /// A success whose body is not what the API documents (not JSON, another
    /// result type, a missing field): often another service behind the URL.
    Decode {
        /// The component that was asked.
        component: Component,
        /// The URL requested, with its path (shown redacted).
        url: String,
        /// What was asked: the LogQL, TraceQL or PromQL, or what the request looks up.
        query: String,
        /// What could not be read, and where.
        detail: String,
    },
}

impl fmt::Debug for ClientError {
    /// The variant and its fields, URLs and messages redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (variant, component, url) = match self {
            ClientError::Unreachable { component, url, .. } => ("Unreachable", component, url),
            ClientError::Status { component, url, .. } => ("Status", component, url),
            ClientError::InvalidQuery { component, url, .. } => ("InvalidQuery", component, url),
            ClientError::Decode { component, url, .. } => ("Decode", component, url),
        };
        let mut d = f.debug_struct(variant);
        d.field("component", component)
            .field("url", &redact_url(url));
        match self {
            ClientError::Unreachable { source, .. } => {
                d.field("source", &redact_url(&source.to_string()))
            }
            ClientError::Status {
                query,
                status,
                message,
                ..
            } => d
                .field("query", query)
                .field("status", status)
                .field("message", &redact_url(message)),
            ClientError::InvalidQuery { query, message, .. } => d
                .field("query", query)
                .field("message", &redact_url(message)),
            ClientError::Decode { query, detail, .. } => {
                d.field("query", query).field("detail", &redact_url(detail))
            }
        };
        d.finish()
    }
}

impl ClientError {
    /// `component` at `url` did not answer. The URL is kept redacted, and the
    /// transport error without its own copy of the URL.
    pub fn unreachable(component: Component, url: &str, source: reqwest::Error) -> Self {
        ClientError::Unreachable {
            component,
            url: redact_url(url),
            source: source.without_url(),
        }
    }

    /// The backend refused the query as not valid in its language: a parse, syntax
    /// or compile error (Loki and Tempo: `parse error at line …: syntax error: …`;
    /// Prometheus and Cortex: `bad_data` with `parse error`; Tempo 2.6's metrics
    /// endpoint: the same text with HTTP 500, which its client already reads as an
    /// invalid query). Never an auth (401/403), not-found (404), server, timeout,
    /// transport or decode error, nor a rejected parameter (`end` before `start`).
    pub fn is_query_rejection(&self) -> bool {
        match self {
            ClientError::InvalidQuery { message, .. } => {
                let m = message.to_ascii_lowercase();
                m.contains("parse error") || m.contains("syntax error")
            }
            _ => false,
        }
    }

    /// Worth asking again: the backend may be starting, overloaded or restarting.
    /// An invalid query or an unreadable answer will not improve.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Status { status, .. } => *status == 429 || *status >= 500,
            ClientError::InvalidQuery { .. } | ClientError::Decode { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets planted in every credential input; no byte of them may print.
    const CANARIES: [&str; 4] = [
        "CanaryUrlUser7q",
        "CanaryUrlPass8w",
        "CanaryBearer9e",
        "CanaryQueryTok0r",
    ];

    fn assert_clean(what: &str, text: &str) {
        for c in CANARIES {
            assert!(!text.contains(c), "{what} shows the secret {c}: {text}");
        }
    }

    fn base() -> String {
        // 127.0.0.1:9 (discard) refuses connections here.
        format!("http://{}:{}@127.0.0.1:9/loki", CANARIES[0], CANARIES[1])
    }

    #[test]
    fn an_endpoint_moves_url_credentials_into_auth_and_never_shows_them() {
        let e = Endpoint::new(Component::Loki, base());
        assert_eq!(e.base, "http://127.0.0.1:9/loki");
        assert_eq!(
            e.auth,
            Auth::Basic {
                user: CANARIES[0].into(),
                password: CANARIES[1].into()
            }
        );
        // The user name shows in Debug (it is not a secret); the password never.
        let shown = format!("{e:?}");
        assert!(!shown.contains(CANARIES[1]), "{shown}");
        assert_eq!(e.to_string(), "loki at http://127.0.0.1:9/loki");

        // Fields set by hand bypass `new`: printing still redacts.
        let by_hand = Endpoint {
            base: base(),
            auth: Auth::Bearer(CANARIES[2].into()),
            ..e
        };
        assert_clean("Endpoint Debug", &format!("{by_hand:?}"));
        assert_clean("Endpoint Display", &by_hand.to_string());
        assert_clean("Auth Debug", &format!("{:?}", by_hand.auth));
    }

    #[tokio::test]
    async fn client_errors_and_reports_built_from_them_never_show_secrets() {
        let http = reqwest::Client::new();
        let by_hand = Endpoint {
            component: Component::Loki,
            base: format!("{}?token={}", base(), CANARIES[3]),
            tenant: None,
            auth: Auth::Bearer(CANARIES[2].into()),
        };
        let unreachable = Endpoint::new(Component::Loki, base())
            .get(&http, "/api/v1/query", &[("query", "up")])
            .await
            .unwrap_err();
        assert!(matches!(unreachable, ClientError::Unreachable { .. }));
        let unreachable_by_hand = by_hand.get(&http, "/x", &[]).await.unwrap_err();
        let echoed = format!("request to {} failed", base());
        let errors = [
            unreachable,
            unreachable_by_hand,
            by_hand.error("/q", "up", 401, &echoed),
            by_hand.error("/q", "up", 400, &echoed),
            by_hand.decode_error("/q", "up", echoed.clone()),
        ];
        let mut reasons = Vec::new();
        for e in &errors {
            let mut shown = format!("{e} | {e:?}");
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                shown.push_str(&format!(" | {s} | {s:?}"));
                source = s.source();
            }
            assert_clean("ClientError", &shown);
            assert!(shown.contains("127.0.0.1:9"), "still names where: {shown}");
            reasons.push(e.to_string());
        }
        // The reporters (the command line's) print them without the secrets too.
        #[cfg(feature = "cli")]
        {
            use crate::core::check::Signal;
            use crate::core::plan::ConfigSet;
            use crate::core::report::{CheckReport, CheckStatus, Report};
            let checks = reasons
                .into_iter()
                .enumerate()
                .map(|(i, reason)| CheckReport {
                    id: format!("c{i}"),
                    title: "t".into(),
                    signal: Signal::Logs,
                    component: Component::Loki,
                    needs: vec![Component::Loki],
                    status: CheckStatus::Fail,
                    reason,
                    query: "up".into(),
                    guide_query: None,
                    time_to_visible_ms: None,
                    skipped_because: vec![],
                })
                .collect();
            let report = Report::new(
                "r".into(),
                Default::default(),
                ConfigSet::Fixed,
                vec![],
                checks,
            );
            let mut json = Vec::new();
            crate::report::json::render(&report, &mut json).unwrap();
            assert_clean("JSON report", &String::from_utf8(json).unwrap());
            let mut text = Vec::new();
            crate::report::terminal::render(&report, &mut text).unwrap();
            assert_clean("terminal report", &String::from_utf8(text).unwrap());
        }
    }
}
