//! Exact per-signal checks derived from the gateway's [`Record`]: every span, log
//! record and metric point (and every Loki line and remote-written sample) a program
//! sent arrived, once, as the backend maps it. A signal the program never sent is
//! reported as not emitted (skipped, never passed); items the backend refused are
//! named in the check's title.
//!
//! Main items: [`RecordMapping`], [`record_checks`].

use std::collections::{BTreeMap, BTreeSet};

use super::check::{Check, EvalAt, Query, Signal, Window};
use super::component::Component;
use super::expect::{
    Expectation, Expected, ExpectedEntry, ExpectedSeries, ExpectedSpan, SeriesExpectation,
};
use super::otlp_mapping::{
    LokiOtlpMapping, PromTranslation, attribute_text, loki_entry, major_minor, translate_points,
    untranslatable,
};
use super::record::{Labels, Record, RecordSignal};

/// Margin around the items' own times for log and trace queries, in ms.
const WINDOW_MARGIN_MS: u64 = 120_000;

/// How the backends store what the program sent: Loki's OTLP mapping and the
/// Mimir role's (or lgtm-check's) metric translation.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMapping {
    /// Loki's mapping of OTLP log records.
    pub loki: LokiOtlpMapping,
    /// How OTLP metrics become series in the Mimir role.
    pub metrics: PromTranslation,
}

impl RecordMapping {
    /// The mapping of the backends a run has: Loki's by its reported version
    /// (`None`: the newest lgtm-check knows), the metrics translation of what fills
    /// the Mimir role ([`MimirFlavour::otlp_translation`](super::plan::MimirFlavour::otlp_translation)).
    ///
    /// ```
    /// use lgtm_check::core::catalog_record::RecordMapping;
    /// use lgtm_check::core::plan::MimirFlavour;
    /// let m = RecordMapping::for_backends(Some("3.2.0"), MimirFlavour::Cortex.otlp_translation(Some("1.18.1")));
    /// assert_eq!((m.loki.backend.as_str(), m.metrics.backend.as_str()), ("loki 3.2", "cortex 1.18"));
    /// assert!(m.metrics.resource_attributes_as_labels && !m.metrics.target_info);
    /// let p = RecordMapping::for_backends(Some("3.4.6"), MimirFlavour::Prometheus.otlp_translation(None));
    /// assert!(p.metrics.target_info && p.metrics.backend.contains("remote write"));
    /// ```
    pub fn for_backends(loki_version: Option<&str>, metrics: PromTranslation) -> Self {
        let (major, minor) = loki_version.and_then(major_minor).unwrap_or((3, 4));
        RecordMapping {
            loki: LokiOtlpMapping::for_version(major, minor),
            metrics,
        }
    }
}

fn check(
    id: &str,
    title: String,
    signal: Signal,
    component: Component,
    query: Query,
    expect: Expectation,
) -> Check {
    Check {
        id: id.into(),
        title,
        signal,
        component,
        needs: vec![component],
        query,
        guide_original: None,
        expect,
        control: None,
    }
}

/// A check reported skipped: the program sent nothing of `what` (or, when
/// `component` is not running, skipped for that).
fn not_emitted(id: &str, signal: Signal, component: Component, what: &str) -> Check {
    check(
        id,
        format!("the program's {what} arrived"),
        signal,
        component,
        Query::NotPossible {
            reason: format!(
                "not emitted: the program sent no {what} through lgtm-check's gateway, so none can be checked"
            ),
        },
        Expectation::NonEmpty,
    )
}

/// `title`, followed by what the backend refused of `signal`, if anything.
fn with_refusals(title: String, r: &Record, signal: RecordSignal, protocols: &[&str]) -> String {
    let refused: Vec<_> = r
        .refusals(signal)
        .filter(|e| protocols.iter().any(|p| e.protocol.starts_with(p)))
        .collect();
    let rejected: u64 = r
        .exchanges
        .iter()
        .filter(|e| e.signal == signal && protocols.iter().any(|p| e.protocol.starts_with(p)))
        .map(|e| e.rejected_items)
        .sum();
    let mut notes = Vec::new();
    if let Some(first) = refused.first() {
        let items: u64 = refused.iter().map(|e| e.items).sum();
        let mut note = format!(
            "{} request(s) with {items} item(s) refused: {}",
            refused.len(),
            first.status
        );
        if !first.message.is_empty() {
            let msg: String = first.message.chars().take(200).collect();
            note.push_str(&format!(" \"{msg}\""));
        }
        notes.push(note);
    }
    if rejected > 0 {
        notes.push(format!(
            "{rejected} item(s) rejected in accepted requests (partial success)"
        ));
    }
    if notes.is_empty() {
        title
    } else {
        format!(
            "{title} (the backend answered the program: {})",
            notes.join("; ")
        )
    }
}

fn window_of(times_ns: impl Iterator<Item = u128>) -> Option<Window> {
    let (mut lo, mut hi) = (u128::MAX, 0u128);
    for t in times_ns {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    (hi > 0).then(|| Window {
        start_unix_ms: ((lo / 1_000_000) as u64).saturating_sub(WINDOW_MARGIN_MS),
        end_unix_ms: (hi / 1_000_000) as u64 + WINDOW_MARGIN_MS,
    })
}

/// LogQL/PromQL `name="v"` or `name=~"a|b"` for a set of values.
fn matcher(name: &str, values: &BTreeSet<String>) -> String {
    let esc = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    if values.len() == 1 {
        format!("{name}=\"{}\"", esc(values.iter().next().unwrap()))
    } else {
        let alts: Vec<String> = values
            .iter()
            .map(|v| esc(&regex_escape(v)).to_string())
            .collect();
        format!("{name}=~\"{}\"", alts.join("|"))
    }
}

fn regex_escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn expected_span(s: &super::record::RecordedSpan) -> ExpectedSpan {
    ExpectedSpan {
        span_id: s.span_id.clone(),
        parent_span_id: s.parent_span_id.clone(),
        name: s.name.clone(),
        service: s
            .resource
            .get("service.name")
            .map(attribute_text)
            .unwrap_or_default(),
        kind: s.kind.clone(),
        status: s.status.clone(),
        attributes: s.attributes.clone(),
    }
}

fn traces_check(prefix: &str, r: &Record) -> Check {
    let id = format!("{prefix}.traces.exact");
    let spans = r.distinct_spans();
    if spans.is_empty() {
        return not_emitted(&id, Signal::Traces, Component::Tempo, "spans");
    }
    let mut trees: BTreeMap<String, Vec<ExpectedSpan>> = BTreeMap::new();
    for s in &spans {
        trees
            .entry(s.trace_id.clone())
            .or_default()
            .push(expected_span(s));
    }
    let title = with_refusals(
        format!(
            "every one of the {} spans ({} traces) the program sent arrived in Tempo once, with its parent, kind, status and attributes",
            spans.len(),
            trees.len()
        ),
        r,
        RecordSignal::Traces,
        &["otlp"],
    );
    check(
        &id,
        title,
        Signal::Traces,
        Component::Tempo,
        Query::TracesById {
            ids: trees.keys().cloned().collect(),
        },
        Expectation::Traces(trees),
    )
}

fn otlp_logs_check(prefix: &str, r: &Record, m: &LokiOtlpMapping) -> Option<Check> {
    let logs = r.distinct_logs();
    let w = window_of(logs.iter().map(|l| u128::from(l.timestamp_ns())))?;
    let mut services = BTreeSet::new();
    let mut all_carry_run = true;
    let entries: Vec<ExpectedEntry> = logs
        .iter()
        .map(|l| {
            let e = expected_entry(l, m, &mut services);
            all_carry_run &= e.labels.get("run_id") == Some(&r.run_id);
            e
        })
        .collect();
    // Scoped to the run when every record carries its id; otherwise by service, and
    // other entries of those services are not counted against the program.
    let expr = if all_carry_run && !r.run_id.is_empty() {
        format!(
            "{{{}}} | run_id=\"{}\"",
            matcher("service_name", &services),
            r.run_id
        )
    } else {
        format!("{{{}}}", matcher("service_name", &services))
    };
    let title = with_refusals(
        format!(
            "every one of the {} log records the program sent over OTLP arrived in Loki once, with its body, time, severity, trace and span ids and attributes, stored as {} maps OTLP (index labels, structured metadata, detected_level)",
            entries.len(),
            m.backend
        ),
        r,
        RecordSignal::Logs,
        &["otlp"],
    );
    Some(check(
        &format!("{prefix}.logs.exact"),
        title,
        Signal::Logs,
        Component::Loki,
        Query::LogQlLines { expr, window: w },
        Expectation::Entries {
            entries,
            exact: all_carry_run,
            what: "log records".into(),
        },
    ))
}

/// Loki's mapping in LogQL: the OTLP log records written inside spans, found by the
/// `trace_id` Loki keeps as structured metadata
/// (`{service_name="…"} | trace_id=~"<id>|…"`), exactly those; `None` when no record
/// carries a trace id.
pub fn logs_by_trace_id_check(prefix: &str, r: &Record, m: &RecordMapping) -> Option<Check> {
    let logs: Vec<_> = r
        .distinct_logs()
        .into_iter()
        .filter(|l| l.trace_id.is_some())
        .collect();
    let w = window_of(logs.iter().map(|l| u128::from(l.timestamp_ns())))?;
    let ids: BTreeSet<String> = logs.iter().filter_map(|l| l.trace_id.clone()).collect();
    let mut services = BTreeSet::new();
    let entries: Vec<ExpectedEntry> = logs
        .iter()
        .map(|l| expected_entry(l, &m.loki, &mut services))
        .collect();
    let ids_re: Vec<&str> = ids.iter().map(String::as_str).collect();
    Some(check(
        &format!("{prefix}.logs.by_trace_id"),
        format!(
            "the {} log records written inside the {} traces are found by their trace_id, which {} keeps as structured metadata",
            entries.len(),
            ids.len(),
            m.loki.backend
        ),
        Signal::Logs,
        Component::Loki,
        Query::LogQlLines {
            expr: format!(
                "{{{}}} | trace_id=~\"{}\"",
                matcher("service_name", &services),
                ids_re.join("|")
            ),
            window: w,
        },
        Expectation::Entries {
            entries,
            exact: true,
            what: "log records".into(),
        },
    ))
}

/// The entry Loki stores for `l`, as an expectation; adds its `service_name`.
fn expected_entry(
    l: &super::record::RecordedLog,
    m: &LokiOtlpMapping,
    services: &mut BTreeSet<String>,
) -> ExpectedEntry {
    let e = loki_entry(l, m);
    services.insert(e.stream["service_name"].clone());
    let mut labels = e.stream.clone();
    labels.extend(e.structured_metadata.clone());
    let mut may_add = BTreeSet::new();
    match e.detected_level {
        Some(level) => {
            labels.insert("detected_level".into(), level);
        }
        None => {
            may_add.insert("detected_level".to_string());
        }
    }
    ExpectedEntry {
        timestamp_ns: e.timestamp_ns,
        line: e.line,
        labels,
        may_add,
    }
}

/// The label that picks out every stream (or series) of `sets`: `run_id` when all
/// carry the run's, else the first label all of them carry, by preference.
fn scope_matcher(sets: &[&Labels], run_id: &str) -> Option<(String, bool)> {
    if !run_id.is_empty()
        && sets
            .iter()
            .all(|l| l.get("run_id").map(String::as_str) == Some(run_id))
    {
        return Some((format!("run_id=\"{run_id}\""), true));
    }
    let common: BTreeSet<&String> = sets
        .first()?
        .keys()
        .filter(|k| k.as_str() != "__name__" && sets.iter().all(|l| l.contains_key(*k)))
        .collect();
    let preferred = ["service_name", "service", "job", "app", "application"];
    let key = preferred
        .iter()
        .find_map(|p| common.iter().find(|k| k.as_str() == *p))
        .or_else(|| common.iter().next())?;
    let values: BTreeSet<String> = sets.iter().map(|l| l[*key].clone()).collect();
    Some((matcher(key, &values), false))
}

fn pushed_lines_check(prefix: &str, r: &Record) -> Option<Check> {
    let lines = r.distinct_loki_lines();
    let w = window_of(lines.iter().map(|l| l.timestamp_ns))?;
    let sets: Vec<&Labels> = lines.iter().map(|l| &l.labels).collect();
    let (scope, exact) = scope_matcher(&sets, &r.run_id).unwrap_or_default();
    let entries = lines
        .iter()
        .map(|l| {
            let mut labels = l.labels.clone();
            labels.extend(l.structured_metadata.clone());
            ExpectedEntry {
                timestamp_ns: l.timestamp_ns,
                line: l.line.clone(),
                labels,
                may_add: ["detected_level", "service_name"]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    let title = with_refusals(
        format!(
            "every one of the {} lines the program pushed to Loki arrived once, in its stream, with its structured metadata",
            entries.len()
        ),
        r,
        RecordSignal::Logs,
        &["loki-push"],
    );
    Some(check(
        &format!("{prefix}.logs.pushed.exact"),
        title,
        Signal::Logs,
        Component::Loki,
        Query::LogQlLines {
            expr: format!("{{{scope}}}"),
            window: w,
        },
        Expectation::Entries {
            entries,
            exact,
            what: "lines".into(),
        },
    ))
}

/// Each series' last sample: `(labels with __name__, time ms, value)`.
fn last_samples(samples: impl Iterator<Item = (Labels, i64, f64)>) -> BTreeMap<Labels, (i64, f64)> {
    let mut last: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
    for (labels, t, v) in samples {
        let e = last.entry(labels).or_insert((t, v));
        if t >= e.0 {
            *e = (t, v);
        }
    }
    last
}

/// A PromQL check that every series holds its last value, evaluated at the time of
/// the newest sample (each series' last sample is the newest it has at that time).
fn series_check(
    id: String,
    title: String,
    last: BTreeMap<Labels, (i64, f64)>,
    scope: Option<String>,
) -> Option<Check> {
    let at = last.values().map(|(t, _)| *t).max()?;
    let names: BTreeSet<String> = last.keys().map(|l| l["__name__"].clone()).collect();
    let mut selector = vec![matcher("__name__", &names)];
    selector.extend(scope);
    let series = last
        .into_iter()
        .map(|(labels, (_, v))| ExpectedSeries {
            labels,
            expected: Expected::Exact(v),
        })
        .collect();
    Some(check(
        &id,
        title,
        Signal::Metrics,
        Component::Mimir,
        Query::PromQl {
            expr: format!("{{{}}}", selector.join(", ")),
            at: EvalAt::Fixed {
                unix_ms: at.max(0) as u64,
            },
        },
        Expectation::Series(SeriesExpectation {
            series,
            no_other_series: true,
        }),
    ))
}

fn otlp_metrics_check(prefix: &str, r: &Record, t: &PromTranslation) -> Option<Check> {
    let points = r.distinct_points();
    if points.is_empty() {
        return None;
    }
    let skipped: BTreeMap<&str, usize> =
        points
            .iter()
            .filter_map(untranslatable)
            .fold(BTreeMap::new(), |mut m, why| {
                *m.entry(why).or_default() += 1;
                m
            });
    let samples = translate_points(&points, t);
    let last = last_samples(
        samples
            .into_iter()
            .map(|s| (s.labels, s.timestamp_ms, s.value)),
    );
    let sets: Vec<&Labels> = last
        .keys()
        .filter(|l| l["__name__"] != "target_info")
        .collect();
    let scope = if t.resource_attributes_as_labels {
        scope_matcher(&sets, &r.run_id).map(|(m, _)| m)
    } else {
        // The resource's identity: `job`, and `instance` (its `service.instance.id`,
        // one per process) where every series has it, so that other processes of
        // the same service are not counted against this one.
        let identity: Vec<String> = ["job", "instance"]
            .into_iter()
            .filter(|k| sets.iter().all(|l| l.contains_key(*k)))
            .map(|k| {
                let values: BTreeSet<String> = sets.iter().map(|l| l[k].clone()).collect();
                matcher(k, &values)
            })
            .collect();
        (!sets.is_empty() && !identity.is_empty()).then(|| identity.join(", "))
    };
    let mut title = format!(
        "every one of the {} series of the {} metric points the program sent over OTLP holds its last value in the Mimir role, named and labelled as {} translates OTLP",
        last.len(),
        points.len(),
        t.backend
    );
    if !skipped.is_empty() {
        let notes: Vec<String> = skipped
            .iter()
            .map(|(why, n)| format!("{n} point(s): {why}"))
            .collect();
        title.push_str(&format!("; not checked: {}", notes.join(", ")));
    }
    let title = with_refusals(title, r, RecordSignal::Metrics, &["otlp"]);
    if last.is_empty() {
        let mut c = not_emitted(
            &format!("{prefix}.metrics.exact"),
            Signal::Metrics,
            Component::Mimir,
            "metric points that a Prometheus-API backend stores as classic series",
        );
        c.title = title;
        return Some(c);
    }
    series_check(format!("{prefix}.metrics.exact"), title, last, scope)
}

/// Metrics → traces: the exemplars the program's points carried are stored with
/// their trace ids, and each of those traces is in Tempo with its spans.
fn exemplar_checks(prefix: &str, r: &Record, t: &PromTranslation) -> Vec<Check> {
    let points = r.distinct_points();
    let samples = translate_points(&points, t);
    let with: Vec<_> = samples.iter().filter(|s| !s.exemplars.is_empty()).collect();
    let ids: BTreeSet<String> = with
        .iter()
        .flat_map(|s| &s.exemplars)
        .filter_map(|e| e.labels.get("trace_id").cloned())
        .collect();
    let window = window_of(
        with.iter()
            .flat_map(|s| &s.exemplars)
            .map(|e| e.timestamp_ms.max(0) as u128 * 1_000_000),
    );
    let (Some(w), false) = (window, ids.is_empty()) else {
        // Said, never passed: nothing links the program's metrics to its traces.
        return vec![
            not_emitted(
                &format!("{prefix}.correlation.metrics_to_traces"),
                Signal::Metrics,
                Component::Mimir,
                "exemplars with trace ids",
            ),
            not_emitted(
                &format!("{prefix}.correlation.exemplars_to_traces"),
                Signal::Traces,
                Component::Tempo,
                "exemplars with trace ids",
            ),
        ];
    };
    let names: BTreeSet<String> = with.iter().map(|s| s.labels["__name__"].clone()).collect();
    let jobs: BTreeSet<String> = with
        .iter()
        .filter_map(|s| s.labels.get("job").cloned())
        .collect();
    let mut selector = vec![matcher("__name__", &names)];
    if !jobs.is_empty() {
        selector.push(matcher("job", &jobs));
    }
    let spans = r.distinct_spans();
    let mut trees: BTreeMap<String, Vec<ExpectedSpan>> = BTreeMap::new();
    for s in spans.iter().filter(|s| ids.contains(&s.trace_id)) {
        trees
            .entry(s.trace_id.clone())
            .or_default()
            .push(expected_span(s));
    }
    // A Prometheus TSDB keeps a series' exemplars only in time order: one older
    // than the newest it has is dropped, though the push is acknowledged.
    let mut newest: BTreeMap<&Labels, i64> = BTreeMap::new();
    let mut out_of_order = BTreeSet::new();
    for s in &samples {
        for e in &s.exemplars {
            let n = newest.entry(&s.labels).or_insert(i64::MIN);
            if e.timestamp_ms < *n {
                out_of_order.extend(e.labels.get("trace_id").cloned());
            } else {
                *n = e.timestamp_ms;
            }
        }
    }
    let mut title = format!(
        "metrics → traces: the {} trace ids the program's exemplars carried are stored with its series",
        ids.len()
    );
    if !out_of_order.is_empty() {
        title.push_str(&format!(
            " ({} of them came after a newer exemplar of the same series, which a Prometheus TSDB drops while acknowledging the push: {})",
            out_of_order.len(),
            out_of_order.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut checks = vec![check(
        &format!("{prefix}.correlation.metrics_to_traces"),
        title,
        Signal::Metrics,
        Component::Mimir,
        Query::Exemplars {
            expr: format!("{{{}}}", selector.join(", ")),
            window: w,
        },
        Expectation::TraceIds {
            ids: ids.clone(),
            exact: false,
        },
    )];
    if trees.is_empty() {
        checks.push(not_emitted(
            &format!("{prefix}.correlation.exemplars_to_traces"),
            Signal::Traces,
            Component::Tempo,
            "spans of the traces its exemplars name",
        ));
    } else {
        let mut c = check(
            &format!("{prefix}.correlation.exemplars_to_traces"),
            format!(
                "metrics → traces: each of the {} traces an exemplar names is in Tempo with exactly its spans",
                trees.len()
            ),
            Signal::Traces,
            Component::Tempo,
            Query::TracesById {
                ids: trees.keys().cloned().collect(),
            },
            Expectation::Traces(trees),
        );
        c.needs = vec![Component::Mimir, Component::Tempo];
        checks.push(c);
    }
    checks
}

fn remote_written_check(prefix: &str, r: &Record) -> Option<Check> {
    let samples = r.distinct_samples();
    if samples.is_empty() {
        return None;
    }
    let n = samples.len();
    let last = last_samples(
        samples
            .into_iter()
            .map(|s| (s.labels, s.timestamp_ms, s.value)),
    );
    let sets: Vec<&Labels> = last.keys().collect();
    let scope = scope_matcher(&sets, &r.run_id).map(|(m, _)| m);
    let title = with_refusals(
        format!(
            "every one of the {} series of the {n} samples the program remote-wrote holds its last value in the Mimir role",
            last.len()
        ),
        r,
        RecordSignal::Metrics,
        &["remote-write"],
    );
    series_check(
        format!("{prefix}.metrics.remote_written.exact"),
        title,
        last,
        scope,
    )
}

/// The exact checks of everything `r` holds, under `m`: `<prefix>.traces.exact`,
/// `<prefix>.logs.exact` (OTLP log records), `<prefix>.logs.pushed.exact` (Loki
/// push), `<prefix>.metrics.exact` (OTLP points), `<prefix>.metrics.remote_written.exact`,
/// and metrics → traces (`<prefix>.correlation.metrics_to_traces`, and
/// `.exemplars_to_traces` where the exemplars' traces were sent too).
/// A signal the program sent nothing of (exemplars included) gets one check reported
/// skipped as not emitted, so a report always says what became of each signal.
///
/// ```
/// use lgtm_check::core::catalog_record::{record_checks, RecordMapping};
/// use lgtm_check::core::check::Query;
/// use lgtm_check::core::otlp_mapping::{LokiOtlpMapping, PromTranslation};
/// use lgtm_check::core::record::Record;
///
/// let m = RecordMapping { loki: LokiOtlpMapping::for_version(3, 2), metrics: PromTranslation::prometheus("prometheus") };
/// let checks = record_checks("app", &Record::new("r1"), &m);
/// let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
/// assert_eq!(ids, [
///     "app.traces.exact", "app.logs.exact", "app.metrics.exact",
///     "app.correlation.metrics_to_traces", "app.correlation.exemplars_to_traces",
/// ]);
/// assert!(checks.iter().all(|c| matches!(c.query, Query::NotPossible { .. })));
/// ```
pub fn record_checks(prefix: &str, r: &Record, m: &RecordMapping) -> Vec<Check> {
    let mut checks = vec![traces_check(prefix, r)];
    let logs: Vec<Check> = [
        otlp_logs_check(prefix, r, &m.loki),
        pushed_lines_check(prefix, r),
    ]
    .into_iter()
    .flatten()
    .collect();
    if logs.is_empty() {
        checks.push(not_emitted(
            &format!("{prefix}.logs.exact"),
            Signal::Logs,
            Component::Loki,
            "log records or lines",
        ));
    }
    checks.extend(logs);
    let metrics: Vec<Check> = [
        otlp_metrics_check(prefix, r, &m.metrics),
        remote_written_check(prefix, r),
    ]
    .into_iter()
    .flatten()
    .collect();
    if metrics.is_empty() {
        checks.push(not_emitted(
            &format!("{prefix}.metrics.exact"),
            Signal::Metrics,
            Component::Mimir,
            "metric points or samples",
        ));
    }
    checks.extend(metrics);
    checks.extend(exemplar_checks(prefix, r, &m.metrics));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::expect::{Verdict, evaluate};
    use crate::core::observed::{LogEntry, Observed, Sample};
    use crate::core::record::{
        Attributes, Exchange, MetricKind, RecordedLog, RecordedPoint, Scope, Temporality,
    };

    fn resource() -> Attributes {
        [
            ("service.name".to_string(), serde_json::json!("shop")),
            ("run_id".to_string(), serde_json::json!("r1")),
        ]
        .into()
    }

    fn log(ts: u64, body: &str, acked: bool) -> RecordedLog {
        RecordedLog {
            time_unix_nano: ts,
            observed_time_unix_nano: 0,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: body.into(),
            attributes: [("order.id".to_string(), serde_json::json!(7))].into(),
            trace_id: None,
            span_id: None,
            flags: 0,
            resource: resource(),
            scope: Scope {
                name: "app".into(),
                ..Scope::default()
            },
            acked,
        }
    }

    fn mapping() -> RecordMapping {
        RecordMapping {
            loki: LokiOtlpMapping::for_version(3, 2),
            metrics: PromTranslation::prometheus("prometheus"),
        }
    }

    fn stored(ts: u64, body: &str) -> LogEntry {
        let labels: Labels = [
            ("service_name", "shop"),
            ("run_id", "r1"),
            ("order_id", "7"),
            ("scope_name", "app"),
            ("severity_number", "9"),
            ("severity_text", "INFO"),
            ("detected_level", "info"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        LogEntry {
            labels,
            timestamp_ns: u128::from(ts),
            line: body.into(),
        }
    }

    #[test]
    fn otlp_log_records_are_expected_as_loki_maps_them_and_a_missing_one_fails_by_count() {
        let mut r = Record::new("r1");
        r.logs = vec![log(10, "a", true), log(11, "b", false), log(11, "b", true)];
        let checks = record_checks("app", &r, &mapping());
        let c = checks.iter().find(|c| c.id == "app.logs.exact").unwrap();
        let Query::LogQlLines { expr, .. } = &c.query else {
            panic!()
        };
        assert_eq!(expr, r#"{service_name="shop"} | run_id="r1""#);
        assert!(c.title.contains("2 log records"), "{}", c.title);
        let both = Observed::Logs(vec![stored(10, "a"), stored(11, "b")]);
        assert!(evaluate(&c.expect, &both).is_pass());
        let Verdict::Mismatch { problems } =
            evaluate(&c.expect, &Observed::Logs(vec![stored(10, "a")]))
        else {
            panic!()
        };
        assert!(
            problems[0].starts_with("1 of 2 log records missing"),
            "{problems:?}"
        );
        // a record stored without its attribute
        let mut bare = stored(11, "b");
        bare.labels.remove("order_id");
        let Verdict::Mismatch { problems } =
            evaluate(&c.expect, &Observed::Logs(vec![stored(10, "a"), bare]))
        else {
            panic!()
        };
        assert!(
            problems[0].contains("without order_id=\"7\""),
            "{problems:?}"
        );
    }

    #[test]
    fn a_refused_request_is_named_in_the_title() {
        let mut r = Record::new("r1");
        r.logs = vec![log(10, "a", false)];
        r.exchanges.push(Exchange {
            signal: RecordSignal::Logs,
            protocol: "otlp/http-protobuf".into(),
            at_unix_ms: 1,
            items: 1,
            forwarded_to: "http://loki:3100/otlp/v1/logs".into(),
            status: "429 Too Many Requests".into(),
            accepted: false,
            rejected_items: 0,
            message: "ingestion rate limit".into(),
            retry_after: Some("2".into()),
        });
        let checks = record_checks("app", &r, &mapping());
        let c = checks.iter().find(|c| c.id == "app.logs.exact").unwrap();
        assert!(
            c.title
                .contains("1 request(s) with 1 item(s) refused: 429 Too Many Requests \"ingestion rate limit\""),
            "{}",
            c.title
        );
    }

    #[test]
    fn metric_points_are_expected_at_their_last_value_under_the_translation() {
        let point = |t: u64, v: f64| RecordedPoint {
            metric: "orders".into(),
            unit: "{order}".into(),
            kind: MetricKind::MonotonicSum,
            temporality: Temporality::Cumulative,
            attributes: Attributes::new(),
            resource: resource(),
            scope: Scope::default(),
            time_unix_nano: t * 1_000_000,
            start_time_unix_nano: 0,
            value: Some(v),
            count: None,
            sum: None,
            bounds: vec![],
            bucket_counts: vec![],
            quantiles: vec![],
            exemplars: vec![],
            acked: true,
        };
        let mut r = Record::new("r1");
        r.points = vec![point(1000, 1.0), point(2000, 3.0)];
        let checks = record_checks("app", &r, &mapping());
        let c = checks.iter().find(|c| c.id == "app.metrics.exact").unwrap();
        let Query::PromQl { expr, at } = &c.query else {
            panic!()
        };
        assert_eq!(
            expr,
            r#"{__name__=~"orders_total|target_info", job="shop"}"#
        );
        assert_eq!(*at, EvalAt::Fixed { unix_ms: 2000 });
        let sample = |name: &str, extra: &[(&str, &str)], value| Sample {
            labels: [("__name__", name), ("job", "shop")]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        };
        let good = vec![
            sample("orders_total", &[], 3.0),
            sample("target_info", &[("run_id", "r1")], 1.0),
        ];
        assert!(evaluate(&c.expect, &Observed::Series(good)).is_pass());
        let stale = vec![
            sample("orders_total", &[], 1.0),
            sample("target_info", &[("run_id", "r1")], 1.0),
        ];
        assert!(!evaluate(&c.expect, &Observed::Series(stale)).is_pass());
        // and nothing of the other signals was sent
        let skipped: Vec<&str> = checks
            .iter()
            .filter(|c| matches!(c.query, Query::NotPossible { .. }))
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(
            skipped,
            [
                "app.traces.exact",
                "app.logs.exact",
                "app.correlation.metrics_to_traces",
                "app.correlation.exemplars_to_traces"
            ]
        );
    }
}
