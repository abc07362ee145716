//! Pushing log lines to Loki's push API directly, batch by batch, for the volume
//! scenario: a batch Loki refuses because a limit is reached (HTTP 429; also 5xx and
//! an unreachable Loki) is retried with backoff, and Loki's own answer
//! (`Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) …`) is
//! kept. tracing-loki cannot do this: it drops the response body, and gives up the
//! lines still queued when it is shut down during a backoff.
//!
//! Main items: [`LokiPusher`], [`PushOutcome`].

use std::sync::Arc;

use crate::manifest::Labels;
use crate::redact::redact_url;
use crate::telemetry::LokiConfig;
use crate::telemetry::pushback::{Backoff, PUSH_DEADLINE, PushLedger};

/// What became of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Loki accepted it (after retries, perhaps).
    Accepted,
    /// Loki kept refusing it, or could not be reached, until the deadline.
    GivenUp,
}

/// Pushes batches of lines of one stream to Loki's `/loki/api/v1/push` (JSON).
pub struct LokiPusher {
    http: reqwest::Client,
    url: String,
    config: LokiConfig,
    ledger: Arc<PushLedger>,
}

impl LokiPusher {
    /// A pusher to the Loki of `config` (tenant and basic auth as configured).
    pub fn new(config: &LokiConfig) -> Self {
        LokiPusher {
            http: reqwest::Client::new(),
            url: format!("{}/loki/api/v1/push", config.url.trim_end_matches('/')),
            config: config.clone(),
            ledger: Arc::new(PushLedger::default()),
        }
    }

    /// The pushes and refusals so far.
    pub fn ledger(&self) -> &PushLedger {
        &self.ledger
    }

    /// Pushes `lines` (Unix ns, text) under `labels`, retrying refusals.
    pub async fn push(&self, labels: &Labels, lines: &[(u128, String)]) -> PushOutcome {
        let n = lines.len() as u64;
        let values: Vec<[String; 2]> = lines
            .iter()
            .map(|(ts, line)| [ts.to_string(), line.clone()])
            .collect();
        let body = serde_json::json!({ "streams": [{ "stream": labels, "values": values }] });
        let body = serde_json::to_vec(&body).expect("JSON of strings");
        self.ledger.started(n);
        let mut backoff = Backoff::new(PUSH_DEADLINE);
        let mut first = true;
        loop {
            let mut request = self
                .http
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(tenant) = &self.config.tenant {
                request = request.header("X-Scope-OrgID", tenant);
            }
            if let Some((user, password)) = &self.config.basic_auth {
                request = request.basic_auth(user, Some(password));
            }
            let (status, answer) = match request.send().await {
                Ok(r) if r.status().is_success() => {
                    self.ledger.delivered(n);
                    return PushOutcome::Accepted;
                }
                Ok(r) => {
                    let status = r.status();
                    let retry = status.as_u16() == 429 || status.is_server_error();
                    let text = r.text().await.unwrap_or_default();
                    if !retry {
                        // A refusal no wait will change (a bad request, auth).
                        tracing::error!(
                            url = %redact_url(&self.url),
                            %status,
                            answer = %text.trim(),
                            "Loki refused a push"
                        );
                        self.ledger.abandoned(n);
                        return PushOutcome::GivenUp;
                    }
                    (status.to_string(), text)
                }
                Err(e) => ("unreachable".to_owned(), redact_url(&format!("{e}"))),
            };
            self.ledger.refused(&status, &answer, first);
            first = false;
            match self.ledger.next_delay(&mut backoff) {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    tracing::error!(
                        url = %redact_url(&self.url),
                        %status,
                        answer = %answer.trim(),
                        "Loki kept refusing a push; giving it up"
                    );
                    self.ledger.abandoned(n);
                    return PushOutcome::GivenUp;
                }
            }
        }
    }
}
