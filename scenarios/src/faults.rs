//! Deliberate faults for testing the harness: each makes a manifest lie the way a
//! regressed instrumentation would, so that named checks of the harness must fail.
//! Nothing that was emitted changes, only what the manifest says was — but for
//! `duplicate-log`, where the scenario really pushes one line twice.
//!
//! Main items: [`Fault`], [`apply_faults`].
//!
//! - `drop-span`: the first trace lists one more client span `SELECT phantom` (a new
//!   span id, child of the root) that was never exported, as if the app had dropped it.
//! - `mislabel-log`: the first `info` line is listed under the `level=error` stream, as
//!   if it had been pushed with the wrong level.
//! - `extra-count`: the first `http_requests_total` series is listed one higher.
//! - `drop-legacy-attributes`: every server span is listed with the guide's old
//!   attribute names `http.method`, `http.status_code` (copied from
//!   `http.request.method`, `http.response.status_code`), while http-service emits
//!   none of them (it turns `--legacy-http-attributes` off): an instrumentation that
//!   dropped the old names but whose documentation still promises them. The one fault
//!   that changes what is emitted; [`Fault::changes_emission`] says so.
//! - `wrong-attribute`: the first span with attribute `url.path` (else the first span
//!   with any attribute) lists that attribute with a value that was not emitted.
//! - `duplicate-log`: the scenario pushes one line twice (http-service: its first
//!   `POST /api/orders` line), and the manifest lists it once.
//! - `extra-label`: the first `level=error` stream (else the first stream) is listed
//!   with a label `tier="web"` that was not pushed.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;

use crate::manifest::{Manifest, SpanRecord};

/// One deliberate lie of the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `drop-span`: the first trace lists a client span [`PHANTOM_SPAN_NAME`] that was
    /// never exported.
    DropSpan,
    /// `mislabel-log`: the first `info` line is listed under the `level=error` stream.
    MislabelLog,
    /// `extra-count`: the first [`FAULTED_COUNTER`] series is listed one higher.
    ExtraCount,
    /// `drop-legacy-attributes`: server spans are listed with `http.method` and
    /// `http.status_code`, which the scenario then does not emit.
    DropLegacyAttributes,
    /// `wrong-attribute`: one span attribute ([`FAULTED_ATTRIBUTE`] where a span has
    /// it) is listed with a value that was not emitted.
    WrongAttribute,
    /// `duplicate-log`: the scenario pushes one line twice; the manifest lists it once.
    DuplicateLog,
    /// `extra-label`: one stream is listed with a label `tier="web"` that was not
    /// pushed.
    ExtraLabel,
}

impl Fault {
    /// Every fault, in the order of the module's list.
    ///
    /// ```
    /// use lgtm_scenarios::faults::Fault;
    ///
    /// let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    /// assert_eq!(names[0], "drop-span");
    /// assert_eq!("extra-count".parse::<Fault>(), Ok(Fault::ExtraCount));
    /// assert!("drop-everything".parse::<Fault>().is_err());
    /// ```
    pub const ALL: [Fault; 7] = [
        Fault::DropSpan,
        Fault::MislabelLog,
        Fault::ExtraCount,
        Fault::DropLegacyAttributes,
        Fault::WrongAttribute,
        Fault::DuplicateLog,
        Fault::ExtraLabel,
    ];

    /// Whether the scenario must also change what it emits (not only the manifest).
    pub fn changes_emission(self) -> bool {
        self == Fault::DropLegacyAttributes
    }

    /// The name used by `--fault` and `LGTM_CHECK_FAULTS`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::DropSpan => "drop-span",
            Fault::MislabelLog => "mislabel-log",
            Fault::ExtraCount => "extra-count",
            Fault::DropLegacyAttributes => "drop-legacy-attributes",
            Fault::WrongAttribute => "wrong-attribute",
            Fault::DuplicateLog => "duplicate-log",
            Fault::ExtraLabel => "extra-label",
        }
    }

    /// Whether the fault needs spans exported (else log lines pushed to Loki, else
    /// neither).
    pub fn needs(self) -> Option<Signal> {
        match self {
            Fault::DropSpan | Fault::WrongAttribute | Fault::DropLegacyAttributes => {
                Some(Signal::Spans)
            }
            Fault::MislabelLog | Fault::DuplicateLog | Fault::ExtraLabel => Some(Signal::Logs),
            Fault::ExtraCount => None,
        }
    }
}

/// What a fault corrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans exported over OTLP to Tempo (the scenario needs an OTLP endpoint).
    Spans,
    /// Log lines pushed to Loki (the scenario needs a Loki URL).
    Logs,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown fault {0:?} (known: drop-span, mislabel-log, extra-count, drop-legacy-attributes, wrong-attribute, duplicate-log, extra-label)"
)]
pub struct UnknownFault(pub String);

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s.trim())
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

/// A fault that has nothing to falsify in this manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault {fault}: {why}")]
pub struct FaultError {
    /// The fault asked for.
    pub fault: Fault,
    /// What the manifest lacks for it, e.g. no span or no such counter.
    pub why: &'static str,
}

/// The name of the span `drop-span` invents.
pub const PHANTOM_SPAN_NAME: &str = "SELECT phantom";
/// The counter `extra-count` falsifies.
pub const FAULTED_COUNTER: &str = "http_requests_total";
/// The attribute `wrong-attribute` falsifies, where a span has it.
pub const FAULTED_ATTRIBUTE: &str = "url.path";
/// The label `extra-label` lists although it was not pushed.
pub const EXTRA_LABEL: (&str, &str) = ("tier", "web");
/// The route whose first log line http-service pushes twice under `duplicate-log`.
pub const DUPLICATED_ROUTE: &str = "/api/orders";

/// Falsifies the manifest with each distinct fault once, in order. Fails, leaving the
/// faults before it applied, when one has nothing to falsify (no exported trace, no
/// `info` line, no `http_requests_total` series).
pub fn apply_faults(m: &mut Manifest, faults: &[Fault]) -> Result<(), FaultError> {
    for (i, &fault) in faults.iter().enumerate() {
        if faults[..i].contains(&fault) {
            continue;
        }
        let applied = match fault {
            Fault::DropSpan => drop_span(m),
            Fault::MislabelLog => mislabel_log(m),
            Fault::ExtraCount => extra_count(m),
            Fault::DropLegacyAttributes => claim_legacy_attributes(m),
            Fault::WrongAttribute => wrong_attribute(m),
            Fault::DuplicateLog => duplicate_log(m),
            Fault::ExtraLabel => extra_label(m),
        };
        applied.map_err(|why| FaultError { fault, why })?;
    }
    Ok(())
}

/// Each name once, in first-seen order.
pub fn names(faults: &[Fault]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in faults {
        if !out.contains(&f.name()) {
            out.push(f.name());
        }
    }
    out
}

fn drop_span(m: &mut Manifest) -> Result<(), &'static str> {
    let trace = m
        .traces
        .traces
        .first_mut()
        .ok_or("no exported trace in the manifest (is an OTLP endpoint set?)")?;
    let root = trace
        .spans
        .iter()
        .find(|s| s.parent_span_id.is_none())
        .or_else(|| {
            // A trace continued from elsewhere: its root here is the span whose parent
            // is not in the trace.
            trace.spans.iter().find(|s| {
                !trace
                    .spans
                    .iter()
                    .any(|p| Some(&p.span_id) == s.parent_span_id.as_ref())
            })
        })
        .ok_or("the first trace has no spans")?
        .clone();
    let span_id = loop {
        let id = format!("{:016x}", random_u64());
        if id != "0000000000000000" && trace.spans.iter().all(|s| s.span_id != id) {
            break id;
        }
    };
    trace.spans.push(SpanRecord {
        span_id,
        parent_span_id: Some(root.span_id.clone()),
        name: PHANTOM_SPAN_NAME.into(),
        service: root.service.clone(),
        kind: "client".into(),
        status: "unset".into(),
        attributes: Default::default(),
        // Inside the root and instantaneous, so no duration-based expectation changes.
        start_unix_nanos: root.start_unix_nanos,
        duration_nanos: 0,
    });
    // The recorder's order.
    trace
        .spans
        .sort_by(|a, b| (a.start_unix_nanos, &a.span_id).cmp(&(b.start_unix_nanos, &b.span_id)));
    Ok(())
}

fn mislabel_log(m: &mut Manifest) -> Result<(), &'static str> {
    let streams = &mut m.logs.streams;
    let (from, at) = streams
        .iter()
        .enumerate()
        .filter(|(_, s)| s.labels.get("level").map(String::as_str) == Some("info"))
        .find_map(|(i, s)| {
            s.lines
                .iter()
                .position(|l| l.level == "info")
                .map(|j| (i, j))
        })
        .ok_or("no info line in a level=info stream in the manifest (is a Loki URL set?)")?;
    let mut line = streams[from].lines.remove(at);
    line.level = "error".into();
    let mut labels = streams[from].labels.clone();
    labels.insert("level".into(), "error".into());
    match streams.iter_mut().find(|s| s.labels == labels) {
        Some(s) => s.lines.push(line),
        None => streams.push(crate::manifest::LogStream {
            labels,
            lines: vec![line],
        }),
    }
    if streams[from].lines.is_empty() {
        streams.remove(from);
    }
    Ok(())
}

fn extra_count(m: &mut Manifest) -> Result<(), &'static str> {
    let series = m
        .metrics
        .counters
        .iter_mut()
        .find(|c| c.name == FAULTED_COUNTER)
        .ok_or("no http_requests_total series in the manifest")?;
    series.value += 1;
    Ok(())
}

/// The attribute pairs `drop-legacy-attributes` claims: (old name, current name).
pub const LEGACY_HTTP_ATTRIBUTES: [(&str, &str); 2] = [
    ("http.method", "http.request.method"),
    ("http.status_code", "http.response.status_code"),
];

fn claim_legacy_attributes(m: &mut Manifest) -> Result<(), &'static str> {
    let mut claimed = false;
    for span in m.traces.traces.iter_mut().flat_map(|t| t.spans.iter_mut()) {
        for (old, current) in LEGACY_HTTP_ATTRIBUTES {
            if let Some(v) = span.attributes.get(current).cloned() {
                span.attributes.insert(old.to_owned(), v);
                claimed = true;
            }
        }
    }
    if claimed {
        Ok(())
    } else {
        Err("no exported span with http.request.method (is an OTLP endpoint set?)")
    }
}

fn wrong_attribute(m: &mut Manifest) -> Result<(), &'static str> {
    let spans = || m.traces.traces.iter().flat_map(|t| &t.spans);
    let (trace, span) = spans()
        .position(|s| s.attributes.contains_key(FAULTED_ATTRIBUTE))
        .or_else(|| spans().position(|s| !s.attributes.is_empty()))
        .map(|at| {
            let mut at = at;
            for (i, t) in m.traces.traces.iter().enumerate() {
                if at < t.spans.len() {
                    return (i, at);
                }
                at -= t.spans.len();
            }
            unreachable!("the position is within the spans")
        })
        .ok_or("no exported span with an attribute in the manifest (is an OTLP endpoint set?)")?;
    let attributes = &mut m.traces.traces[trace].spans[span].attributes;
    let key = if attributes.contains_key(FAULTED_ATTRIBUTE) {
        FAULTED_ATTRIBUTE.to_owned()
    } else {
        attributes.keys().next().cloned().expect("not empty")
    };
    let value = attributes.get_mut(&key).expect("present");
    *value = match value.take() {
        serde_json::Value::String(s) => format!("{s}-not-emitted").into(),
        serde_json::Value::Bool(b) => (!b).into(),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => (i + 1).into(),
            None => (n.as_f64().unwrap_or(0.0) + 1.0).into(),
        },
        other => format!("{other}-not-emitted").into(),
    };
    Ok(())
}

fn duplicate_log(m: &mut Manifest) -> Result<(), &'static str> {
    for stream in &mut m.logs.streams {
        let twice = (1..stream.lines.len()).find(|&j| stream.lines[..j].contains(&stream.lines[j]));
        if let Some(j) = twice {
            stream.lines.remove(j);
            return Ok(());
        }
    }
    Err(
        "no line was pushed twice (does the scenario push the line of its first POST /api/orders twice, and is a Loki URL set?)",
    )
}

fn extra_label(m: &mut Manifest) -> Result<(), &'static str> {
    let streams = &mut m.logs.streams;
    let at = streams
        .iter()
        .position(|s| s.labels.get("level").map(String::as_str) == Some("error"))
        .or((!streams.is_empty()).then_some(0))
        .ok_or("no log stream in the manifest (is a Loki URL set?)")?;
    streams[at]
        .labels
        .insert(EXTRA_LABEL.0.into(), EXTRA_LABEL.1.into());
    Ok(())
}

/// 64 random bits from the standard library's randomly keyed hasher.
fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::{
        CounterSeries, Labels, LogLine, LogStream, LogsManifest, MANIFEST_SCHEMA_VERSION,
        MetricsManifest, TraceRecord, TracesManifest,
    };

    fn span(id: &str, parent: Option<&str>, name: &str, start: u64) -> SpanRecord {
        SpanRecord {
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: name.into(),
            service: "svc".into(),
            kind: "server".into(),
            status: "unset".into(),
            attributes: BTreeMap::new(),
            start_unix_nanos: start,
            duration_nanos: 10,
        }
    }

    fn labels(level: &str) -> Labels {
        Labels::from([
            ("service".into(), "svc".into()),
            ("run_id".into(), "r".into()),
            ("level".into(), level.into()),
        ])
    }

    fn line(level: &str, message: &str, trace: &str) -> LogLine {
        LogLine {
            level: level.into(),
            message: message.into(),
            fields: BTreeMap::from([("trace_id".into(), trace.into())]),
        }
    }

    fn counter(status: &str, value: u64) -> CounterSeries {
        CounterSeries {
            name: FAULTED_COUNTER.into(),
            labels: Labels::from([("status".into(), status.into())]),
            value,
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            scenario: "http-service".into(),
            run_id: "r".into(),
            service: "svc".into(),
            environment: "test".into(),
            started_at_unix_ms: 1,
            finished_at_unix_ms: 2,
            services: vec![],
            logs: LogsManifest {
                streams: vec![
                    LogStream {
                        labels: labels("info"),
                        lines: vec![line("info", "a", "t1"), line("info", "b", "t2")],
                    },
                    LogStream {
                        labels: labels("error"),
                        lines: vec![line("error", "c", "t3")],
                    },
                ],
            },
            traces: TracesManifest {
                sampler_ratio: 1.0,
                roots_started: 2,
                traces: vec![
                    TraceRecord {
                        trace_id: "t1".into(),
                        spans: vec![
                            span("aaaaaaaaaaaaaaaa", None, "GET /x", 100),
                            span(
                                "bbbbbbbbbbbbbbbb",
                                Some("aaaaaaaaaaaaaaaa"),
                                "SELECT x",
                                110,
                            ),
                        ],
                    },
                    TraceRecord {
                        trace_id: "t2".into(),
                        spans: vec![span("cccccccccccccccc", None, "GET /x", 200)],
                    },
                ],
                unsampled_trace_ids: vec![],
            },
            metrics: MetricsManifest {
                counters: vec![
                    CounterSeries {
                        name: "other_total".into(),
                        labels: Labels::new(),
                        value: 9,
                    },
                    counter("200", 37),
                    counter("500", 3),
                ],
                histograms: vec![],
                process_metrics: vec![],
            },
            losses: vec![],
            pushback: vec![],
        }
    }

    #[test]
    fn names_parse_and_unknown_ones_are_errors() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(f));
        }
        let err = "drop-spans".parse::<Fault>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown fault \"drop-spans\" (known: drop-span, mislabel-log, extra-count, drop-legacy-attributes, wrong-attribute, duplicate-log, extra-label)"
        );
    }

    #[test]
    fn drop_span_lists_a_phantom_child_of_the_first_root_and_nothing_else() {
        let before = manifest();
        let mut m = before.clone();
        apply_faults(&mut m, &[Fault::DropSpan]).unwrap();

        let spans = &m.traces.traces[0].spans;
        assert_eq!(spans.len(), 3);
        let phantom = spans.iter().find(|s| s.name == PHANTOM_SPAN_NAME).unwrap();
        assert_eq!(phantom.span_id.len(), 16);
        assert!(
            phantom
                .span_id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(
            before.traces.traces[0]
                .spans
                .iter()
                .all(|s| s.span_id != phantom.span_id)
        );
        assert_eq!(phantom.parent_span_id.as_deref(), Some("aaaaaaaaaaaaaaaa"));
        assert_eq!(
            (
                phantom.service.as_str(),
                phantom.kind.as_str(),
                phantom.status.as_str()
            ),
            ("svc", "client", "unset")
        );
        // everything else is as it was
        let mut without = m.clone();
        without.traces.traces[0]
            .spans
            .retain(|s| s.name != PHANTOM_SPAN_NAME);
        assert_eq!(without, before);
    }

    #[test]
    fn mislabel_log_moves_the_first_info_line_to_the_error_stream() {
        let before = manifest();
        let mut m = before.clone();
        apply_faults(&mut m, &[Fault::MislabelLog]).unwrap();
        assert_eq!(m.log_line_count(), before.log_line_count());
        let info = &m.logs.streams[0];
        assert_eq!(info.lines, vec![line("info", "b", "t2")]);
        let error = &m.logs.streams[1];
        assert_eq!(error.labels, labels("error"));
        assert_eq!(
            error.lines,
            vec![line("error", "c", "t3"), line("error", "a", "t1")]
        );
        // only logs changed
        assert_eq!((m.traces, m.metrics), (before.traces, before.metrics));
    }

    #[test]
    fn mislabel_log_creates_the_error_stream_and_drops_an_emptied_one() {
        let mut m = manifest();
        m.logs.streams = vec![LogStream {
            labels: labels("info"),
            lines: vec![line("info", "a", "t1")],
        }];
        apply_faults(&mut m, &[Fault::MislabelLog]).unwrap();
        assert_eq!(
            m.logs.streams,
            vec![LogStream {
                labels: labels("error"),
                lines: vec![line("error", "a", "t1")],
            }]
        );
    }

    #[test]
    fn extra_count_adds_one_to_the_first_requests_series_only() {
        let before = manifest();
        let mut m = before.clone();
        apply_faults(&mut m, &[Fault::ExtraCount]).unwrap();
        let values: Vec<u64> = m.metrics.counters.iter().map(|c| c.value).collect();
        assert_eq!(values, vec![9, 38, 3]);
        assert_eq!((m.logs, m.traces), (before.logs, before.traces));
    }

    #[test]
    fn drop_legacy_attributes_lists_the_old_names_on_every_http_span() {
        let mut before = manifest();
        let root = &mut before.traces.traces[0].spans[0];
        root.attributes
            .insert("http.request.method".into(), serde_json::json!("POST"));
        root.attributes
            .insert("http.response.status_code".into(), serde_json::json!(503));
        let mut m = before.clone();
        apply_faults(&mut m, &[Fault::DropLegacyAttributes]).unwrap();
        let attrs = &m.traces.traces[0].spans[0].attributes;
        assert_eq!(attrs["http.method"], serde_json::json!("POST"));
        assert_eq!(attrs["http.status_code"], serde_json::json!(503));
        // spans without HTTP attributes and everything else are as they were
        let mut undone = m.clone();
        let a = &mut undone.traces.traces[0].spans[0].attributes;
        a.remove("http.method");
        a.remove("http.status_code");
        assert_eq!(undone, before);
        assert!(Fault::DropLegacyAttributes.changes_emission());
        assert!(!Fault::DropSpan.changes_emission());
    }

    #[test]
    fn extra_label_needs_a_stream() {
        let mut m = manifest();
        m.logs.streams.clear();
        let err = apply_faults(&mut m, &[Fault::ExtraLabel]).unwrap_err();
        assert_eq!(err.fault, Fault::ExtraLabel);
    }

    #[test]
    fn each_fault_applies_once_and_all_combine() {
        let mut m = manifest();
        let all = [
            Fault::ExtraCount,
            Fault::DropSpan,
            Fault::ExtraCount,
            Fault::MislabelLog,
        ];
        apply_faults(&mut m, &all).unwrap();
        assert_eq!(m.metrics.counters[1].value, 38);
        assert_eq!(m.traces.traces[0].spans.len(), 3);
        assert_eq!(m.logs.streams[1].lines.len(), 2);
        assert_eq!(
            names(&all),
            vec!["extra-count", "drop-span", "mislabel-log"]
        );
        assert!(apply_faults(&mut m, &[]).is_ok());
    }

    #[test]
    fn wrong_attribute_changes_one_value_of_the_first_span_that_has_url_path() {
        let before = manifest();
        let mut m = before.clone();
        m.traces.traces[0].spans[1]
            .attributes
            .insert("db.system".into(), "postgresql".into());
        m.traces.traces[1].spans[0]
            .attributes
            .insert(FAULTED_ATTRIBUTE.into(), serde_json::json!("/api/users"));
        let with_attributes = m.clone();
        apply_faults(&mut m, &[Fault::WrongAttribute]).unwrap();
        assert_eq!(
            m.traces.traces[1].spans[0].attributes[FAULTED_ATTRIBUTE],
            "/api/users-not-emitted"
        );
        // nothing else
        m.traces.traces[1].spans[0]
            .attributes
            .insert(FAULTED_ATTRIBUTE.into(), "/api/users".into());
        assert_eq!(m, with_attributes);
        // without url.path, the first attribute there is, of any type
        let mut n = before.clone();
        n.traces.traces[0].spans[1]
            .attributes
            .insert("http.response.status_code".into(), 500.into());
        apply_faults(&mut n, &[Fault::WrongAttribute]).unwrap();
        assert_eq!(
            n.traces.traces[0].spans[1].attributes["http.response.status_code"],
            501
        );
    }

    #[test]
    fn duplicate_log_lists_a_line_pushed_twice_once() {
        let before = manifest();
        let mut m = before.clone();
        let again = m.logs.streams[0].lines[1].clone();
        m.logs.streams[0].lines.push(again);
        apply_faults(&mut m, &[Fault::DuplicateLog]).unwrap();
        assert_eq!(m, before);
    }

    #[test]
    fn extra_label_lists_a_label_on_the_error_stream() {
        let before = manifest();
        let mut m = before.clone();
        apply_faults(&mut m, &[Fault::ExtraLabel]).unwrap();
        assert_eq!(m.logs.streams[1].labels["tier"], "web");
        m.logs.streams[1].labels.remove("tier");
        assert_eq!(m, before);
    }

    #[test]
    fn a_fault_with_nothing_to_falsify_is_an_error() {
        let mut m = manifest();
        m.traces.traces.clear();
        m.logs.streams.retain(|s| s.labels["level"] != "info");
        m.metrics.counters.retain(|c| c.name != FAULTED_COUNTER);
        for f in [
            Fault::DropSpan,
            Fault::MislabelLog,
            Fault::ExtraCount,
            Fault::WrongAttribute,
            Fault::DuplicateLog,
        ] {
            let err = apply_faults(&mut m.clone(), &[f]).unwrap_err();
            assert_eq!(err.fault, f);
            assert!(
                err.to_string().starts_with(&format!("fault {f}: ")),
                "{err}"
            );
        }
    }
}
