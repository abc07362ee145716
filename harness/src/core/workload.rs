//! The gate's deterministic workload: logs, traces and metrics generated from a seed,
//! with every timestamp an offset from the side's origin, so the baseline and the
//! candidate ingest the same telemetry and a query asked at the same offset means
//! the same thing on both. Plain data: [`crate::gate_workload`] encodes and pushes it.
//!
//! What it holds (everything carries `job="lgtm-gate"`):
//! - **Logs**: 9 streams, `service_name` ∈ {checkout, payments, search} × `format` ∈
//!   {json, logfmt, plain}, one line every 10 s over the window (270 lines), each
//!   with structured metadata `trace_id` and `pod`. JSON lines hold a nested object
//!   (`user`) and an array (`tags`).
//! - **Traces**: 40 request traces (a server root in checkout or search, a database
//!   client span, and for orders a client → payments server → internal chain), and
//!   one batch trace of 151 spans (more than 100 in one spanset), all in the
//!   window's last 100 s (Tempo keeps older spans out of its searchable range).
//! - **Metrics**: a request counter (with one counter reset), an in-flight gauge, a
//!   classic duration histogram and a temperature gauge with negative values, one
//!   sample every 15 s.
//!
//! Main items: [`Workload::generate`], [`WINDOW_SECS`], [`LogStream`], [`Trace`],
//! [`Series`].

use std::collections::BTreeMap;

/// The length of the workload's window, in seconds: every item lies in
/// `[origin, origin + WINDOW_SECS)` and the queries are asked at its end.
pub const WINDOW_SECS: u64 = 300;

/// The seed the gate uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 42;

/// The label (and resource attribute) value every item of the workload carries as
/// `job`.
pub const JOB: &str = "lgtm-gate";

/// A small deterministic generator (SplitMix64): the same seed gives the same
/// workload on every machine and in every version of lgtm-check that keeps it.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One log line with its offset and structured metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Nanoseconds after the origin.
    pub offset_ns: u64,
    /// The line as pushed.
    pub line: String,
    /// Structured metadata (`trace_id`, `pod`).
    pub metadata: BTreeMap<String, String>,
}

/// One Loki stream of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct LogStream {
    /// The stream's labels.
    pub labels: BTreeMap<String, String>,
    /// Its lines, oldest first.
    pub lines: Vec<LogLine>,
}

/// The kind of a span, as OTLP numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// `SPAN_KIND_INTERNAL` (1).
    Internal = 1,
    /// `SPAN_KIND_SERVER` (2).
    Server = 2,
    /// `SPAN_KIND_CLIENT` (3).
    Client = 3,
}

/// An attribute value of a span or resource.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

/// A span's status, as OTLP numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanStatus {
    /// `STATUS_CODE_UNSET` (0).
    Unset = 0,
    /// `STATUS_CODE_OK` (1).
    Ok = 1,
    /// `STATUS_CODE_ERROR` (2).
    Error = 2,
}

/// One span of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The span id (8 bytes).
    pub span_id: [u8; 8],
    /// The parent's span id; `None` for the root.
    pub parent: Option<[u8; 8]>,
    /// The span's name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Its service (the resource's `service.name`).
    pub service: &'static str,
    /// Nanoseconds after the origin when it started.
    pub start_ns: u64,
    /// Its duration in nanoseconds.
    pub duration_ns: u64,
    /// Its attributes.
    pub attributes: Vec<(String, AttrValue)>,
    /// Its status and status message.
    pub status: (SpanStatus, String),
    /// Its events: name and attributes (offset: at the span's start).
    pub events: Vec<(String, Vec<(String, AttrValue)>)>,
}

/// One trace of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The trace id (16 bytes).
    pub trace_id: [u8; 16],
    /// Its spans, the root first.
    pub spans: Vec<Span>,
}

/// The environment a service runs in (`env` label, `deployment.environment`).
pub fn env_of(service: &str) -> &'static str {
    match service {
        "search" => "dev",
        _ => "prod",
    }
}

/// One metric series of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// Its samples: milliseconds after the origin and value, oldest first.
    pub samples: Vec<(u64, f64)>,
}

/// The whole workload of one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The seed it was generated from.
    pub seed: u64,
    /// The Loki streams.
    pub streams: Vec<LogStream>,
    /// The traces.
    pub traces: Vec<Trace>,
    /// The metric series.
    pub series: Vec<Series>,
}

const SERVICES: [&str; 3] = ["checkout", "payments", "search"];
const FORMATS: [&str; 3] = ["json", "logfmt", "plain"];
const LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];
const STATUSES: [u16; 4] = [200, 201, 404, 500];
const REQUEST_TRACES: usize = 40;
const BATCH_ITEMS: usize = 150;
/// The traces lie in the window's last this many seconds.
pub const TRACES_SECS: u64 = 100;
/// Seconds between two lines of a stream.
const LINE_EVERY_SECS: u64 = 10;
/// Seconds between two samples of a series.
const SAMPLE_EVERY_SECS: u64 = 15;
/// The classic histogram's bucket bounds.
pub const BUCKETS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

impl Workload {
    /// The workload of `seed`: the same seed gives the same items, offsets and ids.
    ///
    /// ```
    /// use lgtm_check::core::workload::Workload;
    ///
    /// let a = Workload::generate(42);
    /// assert_eq!(a, Workload::generate(42));
    /// assert_eq!(a.streams.len(), 9);
    /// assert_eq!(a.streams.iter().map(|s| s.lines.len()).sum::<usize>(), 270);
    /// assert_eq!(a.traces.len(), 41);
    /// assert_ne!(a.traces[0].trace_id, Workload::generate(7).traces[0].trace_id);
    /// ```
    pub fn generate(seed: u64) -> Workload {
        let mut rng = Rng(seed);
        let traces = traces(&mut rng, seed);
        let request_ids: Vec<String> = traces[..REQUEST_TRACES]
            .iter()
            .map(|t| hex(&t.trace_id))
            .collect();
        let streams = streams(&mut rng, &request_ids);
        let series = series(&mut rng);
        Workload {
            seed,
            streams,
            traces,
            series,
        }
    }

    /// How many log lines, spans and samples the workload holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.streams.iter().map(|s| s.lines.len()).sum(),
            self.traces.iter().map(|t| t.spans.len()).sum(),
            self.series.iter().map(|s| s.samples.len()).sum(),
        )
    }
}

fn streams(rng: &mut Rng, trace_ids: &[String]) -> Vec<LogStream> {
    let mut out = Vec::new();
    for service in SERVICES {
        for format in FORMATS {
            let labels = BTreeMap::from([
                ("job".to_owned(), JOB.to_owned()),
                ("service_name".to_owned(), service.to_owned()),
                ("env".to_owned(), env_of(service).to_owned()),
                ("format".to_owned(), format.to_owned()),
            ]);
            let lines = (0..WINDOW_SECS / LINE_EVERY_SECS)
                .map(|i| {
                    // Lines a few milliseconds apart across streams, never equal.
                    let offset_ns = i * LINE_EVERY_SECS * 1_000_000_000 + rng.below(900) * 1_000_000;
                    let level = *rng.pick(&LEVELS);
                    let method = *rng.pick(&["GET", "POST"]);
                    let user = rng.below(20);
                    let path = match rng.below(3) {
                        0 => format!("/api/users/{user}"),
                        1 => "/api/orders".to_owned(),
                        _ => "/health".to_owned(),
                    };
                    let status = *rng.pick(&STATUSES);
                    let duration_ms = (rng.below(20_000) as f64) / 10.0;
                    let bytes = rng.below(50_000);
                    let tier = *rng.pick(&["gold", "free"]);
                    let trace_id = rng.pick(trace_ids).clone();
                    let line = match format {
                        "json" => serde_json::json!({
                            "level": level,
                            "msg": "request handled",
                            "method": method,
                            "path": path,
                            "status": status,
                            "duration_ms": duration_ms,
                            "bytes": bytes,
                            "user": {"id": format!("u{user}"), "tier": tier},
                            "tags": ["web", "v2"],
                            "trace_id": trace_id,
                        })
                        .to_string(),
                        "logfmt" => format!(
                            "level={level} msg=\"request handled\" method={method} path={path} status={status} duration_ms={duration_ms} bytes={bytes} user_id=u{user} user_tier={tier} trace_id={trace_id}"
                        ),
                        _ => format!(
                            "{} {method} {path} {status} {duration_ms}ms user=u{user} trace_id={trace_id}",
                            level.to_uppercase()
                        ),
                    };
                    let metadata = BTreeMap::from([
                        ("trace_id".to_owned(), trace_id),
                        ("pod".to_owned(), format!("{service}-{}", rng.below(2))),
                    ]);
                    LogLine {
                        offset_ns,
                        line,
                        metadata,
                    }
                })
                .collect();
            out.push(LogStream { labels, lines });
        }
    }
    out
}

fn server_attrs(
    method: &str,
    route: &str,
    status: u16,
    tier: &str,
    index: usize,
) -> Vec<(String, AttrValue)> {
    vec![
        ("http.request.method".into(), AttrValue::Str(method.into())),
        ("http.route".into(), AttrValue::Str(route.into())),
        (
            "http.response.status_code".into(),
            AttrValue::Int(status.into()),
        ),
        ("user.tier".into(), AttrValue::Str(tier.into())),
        ("gate.index".into(), AttrValue::Int(index as i64)),
    ]
}

fn status_of(status: u16, rng: &mut Rng) -> (SpanStatus, String) {
    if status == 500 {
        (SpanStatus::Error, "internal error".into())
    } else if rng.below(5) == 0 {
        (SpanStatus::Ok, String::new())
    } else {
        (SpanStatus::Unset, String::new())
    }
}

fn error_events(status: &(SpanStatus, String)) -> Vec<(String, Vec<(String, AttrValue)>)> {
    if status.0 == SpanStatus::Error {
        vec![(
            "exception".into(),
            vec![(
                "exception.type".into(),
                AttrValue::Str("TimeoutError".into()),
            )],
        )]
    } else {
        Vec::new()
    }
}

fn traces(rng: &mut Rng, _seed: u64) -> Vec<Trace> {
    let mut out = Vec::new();
    // Traces lie in the window's last TRACES_SECS: Tempo (2.7 on) leaves spans
    // older than its ingestion slack (2 minutes) out of the searchable block range.
    let first_ns = (WINDOW_SECS - TRACES_SECS) * 1_000_000_000;
    let spacing_ns = TRACES_SECS * 1_000_000_000 / (REQUEST_TRACES as u64 + 2);
    for index in 0..REQUEST_TRACES {
        let trace_id = rng.bytes::<16>();
        let service = *rng.pick(&["checkout", "search"]);
        let (method, route) = *rng.pick(&[
            ("GET", "/api/users/{id}"),
            ("POST", "/api/orders"),
            ("GET", "/health"),
        ]);
        let status = *rng.pick(&STATUSES);
        let tier = *rng.pick(&["gold", "free"]);
        let start = first_ns + (index as u64 + 1) * spacing_ns;
        // 2 ms .. 2 s: some traces longer than a second.
        let duration = (2 + rng.below(2_000)) * 1_000_000;
        let root_id = rng.bytes::<8>();
        let root_status = status_of(status, rng);
        let mut spans = vec![Span {
            span_id: root_id,
            parent: None,
            name: format!("{method} {route}"),
            kind: SpanKind::Server,
            service,
            start_ns: start,
            duration_ns: duration,
            attributes: server_attrs(method, route, status, tier, index),
            events: error_events(&root_status),
            status: root_status,
        }];
        spans.push(Span {
            span_id: rng.bytes::<8>(),
            parent: Some(root_id),
            name: "SELECT users".into(),
            kind: SpanKind::Client,
            service,
            start_ns: start + duration / 10,
            duration_ns: duration / 4,
            attributes: vec![
                ("db.system".into(), AttrValue::Str("postgresql".into())),
                (
                    "db.statement".into(),
                    AttrValue::Str("SELECT * FROM users WHERE id = $1".into()),
                ),
            ],
            status: (SpanStatus::Unset, String::new()),
            events: Vec::new(),
        });
        if route == "/api/orders" {
            let client_id = rng.bytes::<8>();
            let server_id = rng.bytes::<8>();
            let charge_status = status_of(status, rng);
            spans.push(Span {
                span_id: client_id,
                parent: Some(root_id),
                name: "POST /charge".into(),
                kind: SpanKind::Client,
                service,
                start_ns: start + duration / 2,
                duration_ns: duration / 3,
                attributes: vec![("http.request.method".into(), AttrValue::Str("POST".into()))],
                status: (SpanStatus::Unset, String::new()),
                events: Vec::new(),
            });
            spans.push(Span {
                span_id: server_id,
                parent: Some(client_id),
                name: "POST /charge".into(),
                kind: SpanKind::Server,
                service: "payments",
                start_ns: start + duration / 2 + 1_000_000,
                duration_ns: duration / 3 - 2_000_000.min(duration / 3),
                attributes: server_attrs("POST", "/charge", status, tier, index),
                events: error_events(&charge_status),
                status: charge_status,
            });
            spans.push(Span {
                span_id: rng.bytes::<8>(),
                parent: Some(server_id),
                name: "charge card".into(),
                kind: SpanKind::Internal,
                service: "payments",
                start_ns: start + duration / 2 + 2_000_000,
                duration_ns: duration / 6,
                attributes: vec![(
                    "payment.amount".into(),
                    AttrValue::Double(rng.below(10_000) as f64 / 100.0),
                )],
                status: (SpanStatus::Unset, String::new()),
                events: Vec::new(),
            });
        }
        out.push(Trace { trace_id, spans });
    }
    // The batch trace: 150 spans match one condition in one trace.
    let trace_id = rng.bytes::<16>();
    let root_id = rng.bytes::<8>();
    let start = first_ns + spacing_ns / 2;
    let mut spans = vec![Span {
        span_id: root_id,
        parent: None,
        name: "run batch".into(),
        kind: SpanKind::Internal,
        service: "batch",
        start_ns: start,
        duration_ns: (BATCH_ITEMS as u64 + 2) * 10_000_000,
        attributes: vec![("batch.size".into(), AttrValue::Int(BATCH_ITEMS as i64))],
        status: (SpanStatus::Unset, String::new()),
        events: Vec::new(),
    }];
    for i in 0..BATCH_ITEMS {
        spans.push(Span {
            span_id: rng.bytes::<8>(),
            parent: Some(root_id),
            name: "process item".into(),
            kind: SpanKind::Internal,
            service: "batch",
            start_ns: start + (i as u64 + 1) * 10_000_000,
            duration_ns: 5_000_000 + rng.below(4_000_000),
            attributes: vec![
                ("item.index".into(), AttrValue::Int(i as i64)),
                ("item.ok".into(), AttrValue::Bool(i % 7 != 0)),
            ],
            status: (SpanStatus::Unset, String::new()),
            events: Vec::new(),
        });
    }
    out.push(Trace { trace_id, spans });
    out
}

fn labels(name: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("__name__".to_owned(), name.to_owned()),
        ("job".to_owned(), JOB.to_owned()),
        ("instance".to_owned(), "gate:0".to_owned()),
    ]);
    for (k, v) in extra {
        l.insert((*k).to_owned(), (*v).to_owned());
    }
    l
}

fn series(rng: &mut Rng) -> Vec<Series> {
    let steps = WINDOW_SECS / SAMPLE_EVERY_SECS;
    let at = |i: u64| i * SAMPLE_EVERY_SECS * 1000;
    let mut out = Vec::new();
    let mut reset_done = false;
    for service in SERVICES {
        for (method, route) in [("GET", "/api/users/{id}"), ("POST", "/api/orders")] {
            for status in ["200", "500"] {
                let mut value = rng.below(100) as f64;
                let reset_at = if !reset_done && status == "500" {
                    reset_done = true;
                    Some(steps / 2)
                } else {
                    None
                };
                let samples = (0..steps)
                    .map(|i| {
                        if Some(i) == reset_at {
                            value = rng.below(3) as f64;
                        } else {
                            value += rng.below(if status == "200" { 40 } else { 5 }) as f64;
                        }
                        (at(i), value)
                    })
                    .collect();
                out.push(Series {
                    labels: labels(
                        "gate_http_requests_total",
                        &[
                            ("service", service),
                            ("route", route),
                            ("method", method),
                            ("status", status),
                            ("env", env_of(service)),
                        ],
                    ),
                    samples,
                });
            }
        }
        out.push(Series {
            labels: labels("gate_inflight_requests", &[("service", service)]),
            samples: (0..steps).map(|i| (at(i), rng.below(21) as f64)).collect(),
        });
        // A classic histogram: cumulative buckets, _sum and _count.
        let mut counts = [0u64; 10];
        let mut sum = 0.0f64;
        let mut rows: Vec<([u64; 10], f64)> = Vec::new();
        for _ in 0..steps {
            for _ in 0..(1 + rng.below(30)) {
                let v = (rng.below(3_000) as f64) / 1000.0;
                sum += v;
                for (b, bound) in BUCKETS.iter().enumerate() {
                    if v <= *bound {
                        counts[b] += 1;
                    }
                }
                counts[9] += 1;
            }
            rows.push((counts, sum));
        }
        for (b, le) in BUCKETS
            .iter()
            .map(|b| format!("{b}"))
            .chain(["+Inf".to_owned()])
            .enumerate()
        {
            out.push(Series {
                labels: labels(
                    "gate_http_request_duration_seconds_bucket",
                    &[("service", service), ("le", &le)],
                ),
                samples: rows
                    .iter()
                    .enumerate()
                    .map(|(i, (c, _))| (at(i as u64), c[b] as f64))
                    .collect(),
            });
        }
        out.push(Series {
            labels: labels(
                "gate_http_request_duration_seconds_sum",
                &[("service", service)],
            ),
            samples: rows
                .iter()
                .enumerate()
                .map(|(i, (_, s))| (at(i as u64), (s * 1000.0).round() / 1000.0))
                .collect(),
        });
        out.push(Series {
            labels: labels(
                "gate_http_request_duration_seconds_count",
                &[("service", service)],
            ),
            samples: rows
                .iter()
                .enumerate()
                .map(|(i, (c, _))| (at(i as u64), c[9] as f64))
                .collect(),
        });
    }
    for sensor in ["a", "b"] {
        out.push(Series {
            labels: labels("gate_temperature_celsius", &[("sensor", sensor)]),
            samples: (0..steps)
                .map(|i| (at(i), (rng.below(400) as f64 - 150.0) / 10.0))
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_workload_and_another_seed_another() {
        assert_eq!(Workload::generate(1), Workload::generate(1));
        assert_ne!(Workload::generate(1), Workload::generate(2));
    }

    #[test]
    fn every_item_lies_in_the_window() {
        let w = Workload::generate(DEFAULT_SEED);
        let end_ns = WINDOW_SECS * 1_000_000_000;
        assert!(
            w.streams
                .iter()
                .flat_map(|s| &s.lines)
                .all(|l| l.offset_ns < end_ns)
        );
        assert!(
            w.traces
                .iter()
                .flat_map(|t| &t.spans)
                .all(|s| s.start_ns + s.duration_ns < end_ns)
        );
        assert!(
            w.series
                .iter()
                .flat_map(|s| &s.samples)
                .all(|(ms, _)| *ms < WINDOW_SECS * 1000)
        );
    }

    #[test]
    fn histograms_are_cumulative_and_the_counter_resets_once() {
        let w = Workload::generate(DEFAULT_SEED);
        let resets: usize = w
            .series
            .iter()
            .filter(|s| s.labels["__name__"] == "gate_http_requests_total")
            .map(|s| s.samples.windows(2).filter(|p| p[1].1 < p[0].1).count())
            .sum();
        assert_eq!(resets, 1);
        let buckets = |service: &str| -> Vec<f64> {
            w.series
                .iter()
                .filter(|s| {
                    s.labels["__name__"] == "gate_http_request_duration_seconds_bucket"
                        && s.labels["service"] == service
                })
                .map(|s| s.samples.last().unwrap().1)
                .collect()
        };
        let b = buckets("checkout");
        assert_eq!(b.len(), 10);
        assert!(b.windows(2).all(|p| p[0] <= p[1]), "{b:?}");
    }

    #[test]
    fn log_lines_name_trace_ids_of_the_workload() {
        let w = Workload::generate(DEFAULT_SEED);
        let ids: Vec<String> = w.traces.iter().map(|t| hex(&t.trace_id)).collect();
        for l in w.streams.iter().flat_map(|s| &s.lines) {
            assert!(ids.contains(&l.metadata["trace_id"]));
            assert!(l.line.contains(&l.metadata["trace_id"]));
        }
        assert_eq!(w.traces.last().unwrap().spans.len(), BATCH_ITEMS + 1);
    }
}
