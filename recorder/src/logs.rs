//! Recording the log events handed to Loki, and counting what tracing-loki loses.
//!
//! tracing-loki's layer puts each event into a bounded channel (512 slots) that its
//! background task empties; when the channel is full, the event is dropped without a
//! word. [`LokiLayer`] wraps the layer and records every event it is handed;
//! [`LokiTask`] wraps the background task. Together they know exactly how full the
//! channel is: the task wrapper drains it completely on each poll (no cooperative
//! budget) while holding a gate, and the layer wrapper hands an event over while
//! holding the same gate, so between two polls the channel holds exactly the events
//! handed over since the first. An event handed over while it holds 512 is one
//! tracing-loki dropped, and is counted ([`crate::LOSS_LOKI_CHANNEL_FULL`]).
//!
//! Optionally ([`LokiLayer::with_backpressure`]) the layer makes emitters wait while
//! the channel is half full instead, so that nothing is dropped.
//!
//! [`LokiDropWatch`] reads tracing-loki's own error events: lines it gave up on after
//! failed pushes, and failed pushes.

use std::any::TypeId;
use std::cell::Cell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber, subscriber::Interest};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

use crate::Recorder;
use crate::fields::FieldStrings;
use crate::manifest::{Labels, LogLine};

/// The capacity of tracing-loki's channel (`mpsc::channel(512)` in tracing-loki 0.2).
pub const LOKI_CHANNEL_CAPACITY: u64 = 512;
/// With backpressure, how far the channel may fill before emitters wait.
const LOKI_ROOM: u64 = LOKI_CHANNEL_CAPACITY / 2;
/// With backpressure, the longest an emitter waits for room before going on (and
/// risking a drop, which is then counted).
const LOKI_WAIT: Duration = Duration::from_secs(5);

thread_local! {
    /// Set while this thread polls the background task (and so holds the gate).
    static DRAINING: Cell<bool> = const { Cell::new(false) };
}

/// What the layer and the task wrapper share about tracing-loki's channel.
#[derive(Debug, Default)]
pub(crate) struct LokiChannel {
    /// Held while an event is handed to the channel and while the task drains it.
    gate: Mutex<()>,
    /// Events in the channel now.
    occupied: AtomicU64,
    /// Events tracing-loki dropped because the channel was full.
    dropped: AtomicU64,
    /// Events handed over after the background task had finished (never read).
    after_shutdown: AtomicU64,
    /// The task is wrapped: occupancy is known.
    watched: AtomicBool,
    /// Live [`LokiLayer`]s. With none, the channel may be closed, and a receive loop
    /// without a cooperative budget would spin on it: the task is polled normally.
    layers: AtomicU64,
    finished: AtomicBool,
}

impl LokiChannel {
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }

    pub fn after_shutdown(&self) -> u64 {
        self.after_shutdown.load(Ordering::SeqCst)
    }

    /// Hands one event over (`send` calls the inner layer), counting it in the
    /// channel, dropped, or lost after shutdown.
    fn hand_over(&self, send: impl FnOnce()) {
        if !self.watched.load(Ordering::SeqCst) {
            send();
            return;
        }
        let _gate = if DRAINING.with(Cell::get) {
            None // This thread is inside the task's poll and holds the gate already.
        } else {
            Some(self.gate.lock().unwrap_or_else(|e| e.into_inner()))
        };
        if self.finished.load(Ordering::SeqCst) {
            self.after_shutdown.fetch_add(1, Ordering::SeqCst);
        } else if self.occupied.load(Ordering::SeqCst) >= LOKI_CHANNEL_CAPACITY {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        } else {
            self.occupied.fetch_add(1, Ordering::SeqCst);
        }
        send();
    }

    /// Waits (without the gate) until the channel is at most half full, or
    /// [`LOKI_WAIT`] has passed.
    fn wait_for_room(&self) {
        let full = || {
            self.watched.load(Ordering::SeqCst)
                && !self.finished.load(Ordering::SeqCst)
                && self.occupied.load(Ordering::SeqCst) >= LOKI_ROOM
        };
        if !full() || DRAINING.with(Cell::get) {
            return;
        }
        let wait = || {
            let deadline = Instant::now() + LOKI_WAIT;
            while full() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
        };
        // block_in_place hands this worker's queue (where the woken background task
        // may sit, unstealable) to another thread while we wait.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }
}

/// tracing-loki's background task, draining the channel completely on each poll
/// while holding the gate (made by [`Recorder::loki_task`]; spawn it in place of the
/// task).
pub struct LokiTask<F> {
    inner: Pin<Box<F>>,
    channel: Arc<LokiChannel>,
}

impl<F: Future> LokiTask<F> {
    pub(crate) fn new(task: F, channel: Arc<LokiChannel>) -> Self {
        channel.watched.store(true, Ordering::SeqCst);
        LokiTask {
            inner: Box::pin(task),
            channel,
        }
    }
}

impl<F: Future> Future for LokiTask<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let channel = self.channel.clone();
        let _gate = channel.gate.lock().unwrap_or_else(|e| e.into_inner());
        // The poll begins by receiving until the channel is empty (unconstrained, a
        // receive is pending only when nothing is left); events handed over during the
        // poll (tracing-loki's own errors, on this thread) come after that.
        channel.occupied.store(0, Ordering::SeqCst);
        DRAINING.with(|d| d.set(true));
        let out = if channel.layers.load(Ordering::SeqCst) > 0 {
            let mut drain = tokio::task::coop::unconstrained(self.inner.as_mut());
            Pin::new(&mut drain).poll(cx)
        } else {
            self.inner.as_mut().poll(cx)
        };
        DRAINING.with(|d| d.set(false));
        if out.is_ready() {
            channel.finished.store(true, Ordering::SeqCst);
            let stranded = channel.occupied.swap(0, Ordering::SeqCst);
            channel.after_shutdown.fetch_add(stranded, Ordering::SeqCst);
        }
        out
    }
}

/// A layer that records every event handed to the Loki layer it wraps, with the
/// stream labels it is pushed under (made by [`Recorder::loki_layer`]).
///
/// Put your filter around this wrapper (`recorder.loki_layer(loki, labels)
/// .with_filter(…)`), not inside it: it records every event it is handed.
///
/// Shut tracing-loki down (its controller's `shutdown`, then await the task) before
/// you drop this layer, or the lines still in its channel are lost uncounted.
pub struct LokiLayer<L> {
    /// Dropped under the gate (see [`Drop`]).
    inner: ManuallyDrop<L>,
    labels: Labels,
    recorder: Recorder,
    backpressure: bool,
}

impl<L> LokiLayer<L> {
    pub(crate) fn new(inner: L, labels: Labels, recorder: Recorder) -> Self {
        recorder.shared.loki.layers.fetch_add(1, Ordering::SeqCst);
        LokiLayer {
            inner: ManuallyDrop::new(inner),
            labels,
            recorder,
            backpressure: false,
        }
    }

    /// Makes emitters wait (up to 5 s) while tracing-loki's channel is half full, so
    /// that a burst is delivered instead of dropped. Needs the task wrapped by
    /// [`Recorder::loki_task`]; waits block the emitting thread (on a multi-threaded
    /// Tokio runtime, through `block_in_place`).
    pub fn with_backpressure(mut self) -> Self {
        self.backpressure = true;
        self
    }
}

impl<L> Drop for LokiLayer<L> {
    /// Drops the inner layer (with it tracing-loki's sender, which may close the
    /// channel) while no poll of the task is under way, and tells the task to poll
    /// with a budget from now on.
    fn drop(&mut self) {
        let channel = self.recorder.shared.loki.clone();
        let _gate = if DRAINING.with(Cell::get) {
            None
        } else {
            Some(channel.gate.lock().unwrap_or_else(|e| e.into_inner()))
        };
        channel.layers.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: dropped once, here; `inner` is not used after.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}

impl<S: Subscriber, L: Layer<S>> Layer<S> for LokiLayer<L> {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }
    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }
    fn enabled(&self, metadata: &Metadata<'_>, ctx: LayerContext<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }
    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }
    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }
    fn event_enabled(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let channel = &self.recorder.shared.loki;
        if self.backpressure {
            channel.wait_for_room();
        }
        let mut fields = FieldStrings::default();
        event.record(&mut fields);
        let level = level_label(event.metadata().level());
        let mut labels = self.labels.clone();
        labels.insert("level".into(), level.into());
        let line = LogLine {
            level: level.into(),
            message: fields.message.unwrap_or_default(),
            fields: fields.fields,
        };
        self.recorder.shared.lock().lines.push((labels, line));
        channel.hand_over(|| self.inner.on_event(event, ctx));
    }
    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_enter(id, ctx);
    }
    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_exit(id, ctx);
    }
    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        self.inner.on_close(id, ctx);
    }
    fn on_id_change(&self, old: &Id, new: &Id, ctx: LayerContext<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else {
            // SAFETY: forwarded as is; the inner layer answers for its own types.
            unsafe { self.inner.downcast_raw(id) }
        }
    }
}

/// The `level` label value tracing-loki pushes.
pub fn level_label(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::TRACE => "trace",
        tracing::Level::DEBUG => "debug",
        tracing::Level::INFO => "info",
        tracing::Level::WARN => "warn",
        tracing::Level::ERROR => "error",
    }
}

/// Watches tracing-loki's own error events for failed pushes and lines it gave up on
/// (made by [`Recorder::loki_error_watch`]).
pub struct LokiDropWatch {
    recorder: Recorder,
}

impl LokiDropWatch {
    pub(crate) fn new(recorder: Recorder) -> Self {
        LokiDropWatch { recorder }
    }
}

impl<S: Subscriber> Layer<S> for LokiDropWatch {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        if !event.metadata().target().starts_with("tracing_loki") {
            return;
        }
        let mut fields = FieldStrings::default();
        event.record(&mut fields);
        if let Some(n) = fields
            .fields
            .get("num_dropped")
            .and_then(|n| n.parse::<u64>().ok())
        {
            self.recorder.shared.lock().loki_dropped += n;
        } else if fields.fields.contains_key("error_count") {
            self.recorder.shared.lock().loki_push_failures += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_counts_drops_until_the_task_drains_it() {
        let channel = LokiChannel::default();
        channel.watched.store(true, Ordering::SeqCst);
        let mut sent = 0;
        for _ in 0..LOKI_CHANNEL_CAPACITY + 3 {
            channel.hand_over(|| sent += 1);
        }
        assert_eq!(sent, LOKI_CHANNEL_CAPACITY + 3);
        assert_eq!(channel.dropped(), 3);
        channel.occupied.store(0, Ordering::SeqCst); // as a poll does
        channel.hand_over(|| {});
        assert_eq!(channel.dropped(), 3);
        channel.finished.store(true, Ordering::SeqCst);
        channel.hand_over(|| {});
        assert_eq!(channel.after_shutdown(), 1);
    }

    #[test]
    fn without_the_task_wrapped_nothing_is_counted() {
        let channel = LokiChannel::default();
        for _ in 0..LOKI_CHANNEL_CAPACITY * 2 {
            channel.hand_over(|| {});
        }
        assert_eq!(channel.dropped(), 0);
    }
}
