//! Push-back from the stack: a backend that refuses pushes because a limit is reached
//! (Loki's HTTP 429, Tempo's gRPC `RESOURCE_EXHAUSTED`) is retried with backoff, and
//! what it said is kept for the manifest's `pushback` section.
//!
//! Main items: [`PushLedger`] (one per signal: pushes, refusals, the first refusal's
//! words), [`RetryingExporter`] (a span exporter that retries refused batches),
//! [`GrpcErrorWatch`] (reads the gRPC status the OTLP exporter logs at debug level and
//! keeps out of its error value), [`Backoff`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

use crate::manifest::{PushBack, limit_named_in};

/// How long one push is retried before it is given up.
pub const PUSH_DEADLINE: Duration = Duration::from_secs(120);
/// How long all pushes of one signal may wait for retries in all; past it, a
/// refused push is given up at once. Bounds a run against a stack that refuses
/// everything (the harness waits 180 s for a scenario's manifest).
pub const RETRY_BUDGET: Duration = Duration::from_secs(60);
/// The first wait after a refusal; it doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// The longest answer kept.
const ANSWER_CHARS: usize = 500;

/// Exponential backoff with a deadline, for one push.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    deadline: Instant,
}

impl Backoff {
    /// A backoff for a push that starts now and may be retried for `deadline`.
    pub fn new(deadline: Duration) -> Self {
        Backoff {
            next: FIRST_DELAY,
            deadline: Instant::now() + deadline,
        }
    }

    /// The wait before the next attempt; `None` once it would pass the deadline.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let d = self.next;
        if Instant::now() + d > self.deadline {
            return None;
        }
        self.next = (self.next * 2).min(MAX_DELAY);
        Some(d)
    }
}

#[derive(Debug, Default)]
struct Ledger {
    status: Option<String>,
    answer: Option<String>,
    pushes: u64,
    refusals: u64,
    retried_pushes: u64,
    abandoned_pushes: u64,
    items: u64,
    delivered: u64,
    abandoned_items: u64,
    waited: Duration,
}

/// Counts one signal's pushes and the backend's refusals of them.
#[derive(Debug, Default)]
pub struct PushLedger(Mutex<Ledger>);

impl PushLedger {
    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A push of `items` begins.
    pub fn started(&self, items: u64) {
        self.with(|l| {
            l.pushes += 1;
            l.items += items;
        });
    }

    /// An attempt was refused with `status` and the backend's `answer`; `first` is
    /// whether it is this push's first refusal.
    pub fn refused(&self, status: &str, answer: &str, first: bool) {
        self.with(|l| {
            l.refusals += 1;
            if first {
                l.retried_pushes += 1;
            }
            if l.status.is_none() {
                l.status = Some(status.to_owned());
                l.answer = Some(answer.trim().chars().take(ANSWER_CHARS).collect());
            }
        });
    }

    /// The wait before the next attempt of a push, from its `backoff`; `None` when
    /// the push's deadline or the signal's [`RETRY_BUDGET`] would be passed. The wait
    /// is counted against the budget.
    pub fn next_delay(&self, backoff: &mut Backoff) -> Option<Duration> {
        let d = backoff.next_delay()?;
        self.with(|l| {
            (l.waited + d <= RETRY_BUDGET).then(|| {
                l.waited += d;
                d
            })
        })
    }

    /// The push of `items` was accepted.
    pub fn delivered(&self, items: u64) {
        self.with(|l| l.delivered += items);
    }

    /// The push of `items` was given up.
    pub fn abandoned(&self, items: u64) {
        self.with(|l| {
            l.abandoned_pushes += 1;
            l.abandoned_items += items;
        });
    }

    /// Items given up on so far.
    pub fn abandoned_items(&self) -> u64 {
        self.with(|l| l.abandoned_items)
    }

    /// The manifest's entry for `signal` sent to `component`; `None` when nothing was
    /// refused.
    pub fn pushback(&self, signal: &str, component: &str) -> Option<PushBack> {
        self.with(|l| {
            (l.refusals > 0).then(|| {
                let answer = l.answer.clone().unwrap_or_default();
                PushBack {
                    signal: signal.into(),
                    component: component.into(),
                    status: l.status.clone().unwrap_or_default(),
                    limit: limit_named_in(&answer),
                    answer,
                    pushes: l.pushes,
                    refusals: l.refusals,
                    retried_pushes: l.retried_pushes,
                    abandoned_pushes: l.abandoned_pushes,
                    items: l.items,
                    delivered: l.delivered,
                }
            })
        })
    }
}

/// The last gRPC error the OTLP trace exporter logged (code, message).
type LastGrpcError = Arc<Mutex<Option<(String, String)>>>;

/// A layer that keeps the gRPC status of the OTLP exporter's failed exports.
/// opentelemetry-otlp logs it (`TonicTracesClient.ExportFailed`, with `grpc_code` and
/// `grpc_message`) at debug level and returns an error without the message; Tempo's
/// message is where the limit is named. Add it filtered to target
/// `opentelemetry-otlp` at DEBUG.
#[derive(Debug, Clone, Default)]
pub struct GrpcErrorWatch {
    last: LastGrpcError,
}

impl GrpcErrorWatch {
    /// Takes the last logged error, if any.
    fn take(&self) -> Option<(String, String)> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[derive(Default)]
struct GrpcFields {
    name: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

impl Visit for GrpcFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "name" => self.name = Some(value.to_owned()),
            "grpc_code" => self.code = Some(value.to_owned()),
            "grpc_message" => self.message = Some(value.to_owned()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        let text = text.trim_matches('"').to_owned();
        match field.name() {
            "name" => self.name = Some(text),
            "grpc_code" => self.code = Some(text),
            "grpc_message" => self.message = Some(text),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for GrpcErrorWatch {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut f = GrpcFields::default();
        event.record(&mut f);
        if f.name.as_deref() == Some("TonicTracesClient.ExportFailed")
            && let Some(code) = f.code
        {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((code, f.message.unwrap_or_default()));
        }
    }
}

/// Whether a gRPC code is the backend pushing back (a limit), worth waiting out.
fn is_pushback(code: &str) -> bool {
    code == "ResourceExhausted"
}

/// `ResourceExhausted` → `RESOURCE_EXHAUSTED`, as gRPC names its codes.
fn grpc_code_name(code: &str) -> String {
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A span exporter that retries a batch the backend refused with
/// `RESOURCE_EXHAUSTED` (the OTLP exporter does not: Tempo sends no retry hint), with
/// backoff up to [`PUSH_DEADLINE`], counting in a [`PushLedger`].
///
/// The batch span processor exports on its own thread, so the waits block that thread
/// only.
#[derive(Debug)]
pub struct RetryingExporter<E> {
    inner: E,
    watch: GrpcErrorWatch,
    ledger: Arc<PushLedger>,
}

impl<E> RetryingExporter<E> {
    /// Wraps `inner`; `watch` must be the [`GrpcErrorWatch`] layer installed for
    /// the same exporter (it tells a refusal for a limit from any other failure),
    /// and `ledger` counts the batches, refusals and what was given up, for the
    /// manifest's `pushback` and `losses`.
    pub fn new(inner: E, watch: GrpcErrorWatch, ledger: Arc<PushLedger>) -> Self {
        RetryingExporter {
            inner,
            watch,
            ledger,
        }
    }
}

impl<E: SpanExporter> SpanExporter for RetryingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        self.ledger.started(n);
        let mut backoff = Backoff::new(PUSH_DEADLINE);
        let mut first = true;
        loop {
            let _ = self.watch.take();
            let result = self.inner.export(batch.clone()).await;
            match result {
                Ok(()) => {
                    self.ledger.delivered(n);
                    return Ok(());
                }
                Err(e) => {
                    let refused = self.watch.take().filter(|(code, _)| is_pushback(code));
                    let Some((code, message)) = refused else {
                        self.ledger.abandoned(n);
                        return Err(e);
                    };
                    self.ledger.refused(&grpc_code_name(&code), &message, first);
                    first = false;
                    match self.ledger.next_delay(&mut backoff) {
                        Some(d) => std::thread::sleep(d),
                        None => {
                            self.ledger.abandoned(n);
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_reports_only_refusals_with_the_first_answer() {
        let l = PushLedger::default();
        l.started(10);
        l.delivered(10);
        assert_eq!(l.pushback("logs", "loki"), None);
        l.started(5);
        l.refused("429 Too Many Requests", "limit: 100 bytes/sec) a", true);
        l.refused("429 Too Many Requests", "something else", false);
        l.delivered(5);
        let p = l.pushback("logs", "loki").unwrap();
        assert_eq!(
            (p.pushes, p.refusals, p.retried_pushes, p.items, p.delivered),
            (2, 2, 1, 15, 15)
        );
        assert_eq!(p.limit.as_deref(), Some("100 bytes/sec"));
        assert!(p.all_delivered());
    }

    #[test]
    fn grpc_codes_are_named_as_grpc_names_them() {
        assert_eq!(grpc_code_name("ResourceExhausted"), "RESOURCE_EXHAUSTED");
    }

    #[test]
    fn the_retry_budget_is_shared_by_every_push() {
        let l = PushLedger::default();
        let mut waited = Duration::ZERO;
        let mut b = Backoff::new(Duration::from_secs(3600));
        while let Some(d) = l.next_delay(&mut b) {
            waited += d;
            if d == MAX_DELAY {
                b = Backoff::new(Duration::from_secs(3600));
            }
        }
        // Stopped by the budget, not by any push's deadline.
        assert!(waited <= RETRY_BUDGET && waited > RETRY_BUDGET - MAX_DELAY);
    }

    #[test]
    fn backoff_stops_at_its_deadline() {
        let mut b = Backoff::new(Duration::from_millis(300));
        assert_eq!(b.next_delay(), Some(FIRST_DELAY));
        assert_eq!(b.next_delay(), None);
    }
}
