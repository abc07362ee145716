//! HTTP clients of the backends' query APIs: thin adapters that turn answers into the
//! core's plain data, with typed errors that name the component, URL and query.
//!
//! Main types: [`prometheus::PromClient`], [`grafana::GrafanaClient`], [`ClientError`].

pub mod grafana;
pub mod prometheus;

use crate::core::component::Component;

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
