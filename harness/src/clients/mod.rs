//! HTTP clients of the backends' query APIs: thin adapters that turn answers into the
//! core's plain data, with typed errors that name the component, URL and query.
//!
//! Main types: [`prometheus::PromClient`], [`grafana::GrafanaClient`], [`ClientError`].

pub mod grafana;
pub mod loki;
pub mod prometheus;
pub mod tempo;

use std::fmt;

use crate::core::component::Component;

/// How a client authenticates.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (the harness' own containers).
    #[default]
    None,
    Basic {
        user: String,
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

/// Where a backend is and how to talk to it: base URL (with any prefix), tenant
/// (`X-Scope-OrgID`) and credentials.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub component: Component,
    pub base: String,
    pub tenant: Option<String>,
    pub auth: Auth,
}

impl Endpoint {
    pub fn new(component: Component, base: impl Into<String>) -> Self {
        Endpoint {
            component,
            base: base.into().trim_end_matches('/').to_owned(),
            tenant: None,
            auth: Auth::None,
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
        let unreachable = |source| ClientError::Unreachable {
            component: self.component,
            url: url.clone(),
            source,
        };
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

    pub fn decode_error(&self, path: &str, query: &str, detail: String) -> ClientError {
        ClientError::Decode {
            component: self.component,
            url: format!("{}{path}", self.base),
            query: query.into(),
            detail,
        }
    }
}

/// Why a query got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{component} at {url} is unreachable")]
    Unreachable {
        component: Component,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{component} at {url} answered HTTP {status} to `{query}`: {message}")]
    Status {
        component: Component,
        url: String,
        query: String,
        status: u16,
        message: String,
    },
    #[error("{component} at {url} rejected `{query}`: {message}")]
    InvalidQuery {
        component: Component,
        url: String,
        query: String,
        message: String,
    },
    #[error("{component} at {url} sent an answer to `{query}` that cannot be read: {detail}")]
    Decode {
        component: Component,
        url: String,
        query: String,
        detail: String,
    },
}

impl ClientError {
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
