//! Expectations and their evaluation: pure functions from what a backend answered to a
//! [`Verdict`] that lists every problem, not only the first.
//!
//! Main types: [`Expectation`], [`ExpectedSeries`], [`Expected`], [`Sample`],
//! [`Verdict`]; main function: [`evaluate`].

use std::fmt::Write as _;

pub use lgtm_scenarios::manifest::Labels;

/// One series of an instant-query answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// The value a series must have.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Exactly this value (counts, totals).
    Exact(f64),
    /// This value within a relative tolerance (floating-point sums and ratios).
    Relative { value: f64, tolerance: f64 },
    /// Within `[lo, hi]` inclusive; `note` says where the bounds come from.
    Between { lo: f64, hi: f64, note: String },
    /// Greater than zero; `note` says why.
    Positive { note: String },
}

impl Expected {
    fn admits(&self, v: f64) -> bool {
        if v.is_nan() {
            return false;
        }
        match *self {
            Expected::Exact(e) => v == e,
            Expected::Relative { value, tolerance } => {
                (v - value).abs() <= tolerance * value.abs().max(f64::MIN_POSITIVE)
            }
            Expected::Between { lo, hi, .. } => lo <= v && v <= hi,
            Expected::Positive { .. } => v > 0.0,
        }
    }

    fn describe(&self) -> String {
        match self {
            Expected::Exact(e) => format!("{e}"),
            Expected::Relative { value, tolerance } => format!("{value} (±{tolerance} relative)"),
            Expected::Between { lo, hi, note } => format!("within [{lo}, {hi}] ({note})"),
            Expected::Positive { note } => format!("> 0 ({note})"),
        }
    }
}

/// A series that must be in the answer: an observed series matches when it carries
/// every one of these labels (label `le` is compared as a number, since backends
/// format bucket bounds differently).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    pub labels: Labels,
    pub expected: Expected,
}

/// What a metric answer (an instant vector) must contain.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExpectation {
    pub series: Vec<ExpectedSeries>,
    /// Fail on any series the expectation does not name (exactness: nothing extra
    /// carries the run id).
    pub no_other_series: bool,
}

/// The outcome of comparing an answer with an expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass { detail: String },
    Mismatch { problems: Vec<String> },
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass { .. })
    }

    /// One line for reports.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Pass { detail } => detail.clone(),
            Verdict::Mismatch { problems } => problems.join("; "),
        }
    }
}

fn label_matches(key: &str, want: &str, got: &str) -> bool {
    if key == "le" {
        match (parse_bound(want), parse_bound(got)) {
            (Some(a), Some(b)) => a == b,
            _ => want == got,
        }
    } else {
        want == got
    }
}

fn parse_bound(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok(),
    }
}

fn matches(want: &Labels, got: &Labels) -> bool {
    want.iter()
        .all(|(k, v)| got.get(k).is_some_and(|g| label_matches(k, v, g)))
}

/// Formats labels as PromQL does: `{a="1", b="2"}`.
pub fn fmt_labels(labels: &Labels) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s.push('}');
    s
}

/// Compares a metric answer with an expectation and lists every problem.
pub fn evaluate_series(expectation: &SeriesExpectation, observed: &[Sample]) -> Verdict {
    let mut problems = Vec::new();
    let mut used = vec![false; observed.len()];
    for want in &expectation.series {
        let hits: Vec<usize> = observed
            .iter()
            .enumerate()
            .filter(|(_, s)| matches(&want.labels, &s.labels))
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [] => problems.push(format!(
                "missing series {} (expected {})",
                fmt_labels(&want.labels),
                want.expected.describe()
            )),
            [i] => {
                used[*i] = true;
                let got = observed[*i].value;
                if !want.expected.admits(got) {
                    problems.push(format!(
                        "{}: got {got}, expected {}",
                        fmt_labels(&want.labels),
                        want.expected.describe()
                    ));
                }
            }
            many => {
                for &i in many {
                    used[i] = true;
                }
                problems.push(format!(
                    "{} matches {} series, expected one",
                    fmt_labels(&want.labels),
                    many.len()
                ));
            }
        }
    }
    if expectation.no_other_series {
        for (s, _) in observed.iter().zip(&used).filter(|(_, u)| !**u) {
            problems.push(format!(
                "unexpected series {} = {}",
                fmt_labels(&s.labels),
                s.value
            ));
        }
    }
    if problems.is_empty() {
        Verdict::Pass {
            detail: format!("{} series as expected", expectation.series.len()),
        }
    } else {
        Verdict::Mismatch { problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels(pairs),
            value,
        }
    }

    fn exact(pairs: &[(&str, &str)], value: f64) -> ExpectedSeries {
        ExpectedSeries {
            labels: labels(pairs),
            expected: Expected::Exact(value),
        }
    }

    #[test]
    fn passes_when_every_series_matches_by_label_subset() {
        let e = SeriesExpectation {
            series: vec![
                exact(&[("status", "200")], 37.0),
                exact(&[("status", "500")], 3.0),
            ],
            no_other_series: true,
        };
        let observed = [
            sample(&[("status", "500"), ("job", "x")], 3.0),
            sample(&[("status", "200"), ("instance", "h:1")], 37.0),
        ];
        assert!(evaluate_series(&e, &observed).is_pass());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let e = SeriesExpectation {
            series: vec![
                exact(&[("status", "200")], 37.0),
                exact(&[("status", "500")], 3.0),
                exact(&[("status", "201")], 5.0),
            ],
            no_other_series: true,
        };
        let observed = [
            sample(&[("status", "200")], 36.0),
            sample(&[("status", "201")], 5.0),
            sample(&[("status", "404")], 1.0),
        ];
        let Verdict::Mismatch { problems } = evaluate_series(&e, &observed) else {
            panic!("expected a mismatch");
        };
        assert_eq!(
            problems,
            vec![
                "{status=\"200\"}: got 36, expected 37".to_string(),
                "missing series {status=\"500\"} (expected 3)".to_string(),
                "unexpected series {status=\"404\"} = 1".to_string(),
            ]
        );
    }

    #[test]
    fn extra_series_are_allowed_unless_exactness_is_asked() {
        let e = SeriesExpectation {
            series: vec![exact(&[("a", "1")], 1.0)],
            no_other_series: false,
        };
        assert!(
            evaluate_series(
                &e,
                &[sample(&[("a", "1")], 1.0), sample(&[("a", "2")], 9.0)]
            )
            .is_pass()
        );
    }

    #[test]
    fn ambiguous_matches_fail() {
        let e = SeriesExpectation {
            series: vec![exact(&[], 1.0)],
            no_other_series: false,
        };
        let v = evaluate_series(
            &e,
            &[sample(&[("a", "1")], 1.0), sample(&[("a", "2")], 1.0)],
        );
        assert!(v.summary().contains("matches 2 series"), "{v:?}");
    }

    #[test]
    fn le_compares_numerically_and_tolerances_apply() {
        let e = SeriesExpectation {
            series: vec![
                exact(&[("le", "1")], 4.0),
                exact(&[("le", "+Inf")], 5.0),
                ExpectedSeries {
                    labels: labels(&[("k", "sum")]),
                    expected: Expected::Relative {
                        value: 0.9,
                        tolerance: 1e-9,
                    },
                },
                ExpectedSeries {
                    labels: labels(&[("k", "q")]),
                    expected: Expected::Between {
                        lo: 0.05,
                        hi: 0.1,
                        note: "bucket".into(),
                    },
                },
            ],
            no_other_series: true,
        };
        let observed = [
            sample(&[("le", "1.0")], 4.0),
            sample(&[("le", "+Inf")], 5.0),
            sample(&[("k", "sum")], 0.9 + 1e-12),
            sample(&[("k", "q")], 0.1),
        ];
        assert!(evaluate_series(&e, &observed).is_pass());
        let off = [
            sample(&[("le", "1.0")], 4.0),
            sample(&[("le", "+Inf")], 5.0),
            sample(&[("k", "sum")], 0.91),
            sample(&[("k", "q")], f64::NAN),
        ];
        let Verdict::Mismatch { problems } = evaluate_series(&e, &off) else {
            panic!("expected a mismatch")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}

// ---------------------------------------------------------------------------
// Logs and traces
// ---------------------------------------------------------------------------

use std::collections::{BTreeMap, BTreeSet};

use super::observed::{FoundTrace, LogEntry, Observed, ObservedSpan};

/// A log line that must be stored: its stream must carry `labels`, its text
/// `message`, and its JSON each of `fields` (compared as text).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedLine {
    pub labels: Labels,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

/// A span that must be part of a trace fetched by id.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSpan {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service: String,
    pub kind: String,
    pub status: String,
}

/// What an answer must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Metric samples (PromQL, LogQL metric queries, TraceQL metrics).
    Series(SeriesExpectation),
    /// Log lines; with `exact`, no other line may be returned.
    Lines {
        lines: Vec<ExpectedLine>,
        exact: bool,
    },
    /// Trace ids a search returns; with `exact`, no other.
    TraceIds { ids: BTreeSet<String>, exact: bool },
    /// How many traces a search returns, within `[lo, hi]`; and they are exactly
    /// `ids` (the sampled traces the manifest lists).
    TraceCount {
        lo: u64,
        hi: u64,
        ids: BTreeSet<String>,
        note: String,
    },
    /// Traces fetched by id, each with exactly these spans.
    Traces(BTreeMap<String, Vec<ExpectedSpan>>),
    /// Log lines fetched per trace id, exactly these per id.
    LinesPerTrace(BTreeMap<String, Vec<ExpectedLine>>),
    /// The backend must refuse the query (a defect of the guide's query).
    Rejected,
    /// Any data at all (a dashboard target "returns data").
    NonEmpty,
    /// No returned series carries `label` (a guide query grouping by a label that
    /// does not exist).
    NoSeriesWithLabel { label: String, why: String },
    /// A configured duration, in seconds (`written` as the guide wrote it).
    Duration { secs: f64, written: String },
    /// A configuration value, as text.
    Text(String),
    /// Grafana's derived-field regex finds, in every line, the line's own trace id.
    DerivedField { regex: String },
    /// The query runs but cannot match what was emitted (a defect of the guide's query).
    MatchesNothing { why: String },
}

fn field_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a stored entry is the expected line.
fn line_matches(want: &ExpectedLine, got: &LogEntry) -> bool {
    if !matches(&want.labels, &got.labels) {
        return false;
    }
    match serde_json::from_str::<serde_json::Value>(&got.line) {
        Ok(serde_json::Value::Object(obj)) => {
            let message_ok = obj
                .get("message")
                .map(field_text)
                .is_some_and(|m| m == want.message);
            message_ok
                && want
                    .fields
                    .iter()
                    .all(|(k, v)| obj.get(k).map(field_text).is_some_and(|g| &g == v))
        }
        _ => {
            got.line.contains(&want.message)
                && want.fields.values().all(|v| got.line.contains(v.as_str()))
        }
    }
}

fn describe_line(l: &ExpectedLine) -> String {
    let fields: Vec<String> = l.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{} {:?} {}",
        fmt_labels(&l.labels),
        l.message,
        fields.join(" ")
    )
}

/// Matches expected lines to stored ones, each stored line used once.
pub fn evaluate_lines(want: &[ExpectedLine], got: &[LogEntry], exact: bool) -> Verdict {
    let mut used = vec![false; got.len()];
    let mut missing = Vec::new();
    for w in want {
        match (0..got.len()).find(|&i| !used[i] && line_matches(w, &got[i])) {
            Some(i) => used[i] = true,
            None => missing.push(w),
        }
    }
    let extra: Vec<&LogEntry> = got
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e)
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{} of {} expected lines missing, e.g. {}",
            missing.len(),
            want.len(),
            missing
                .iter()
                .take(3)
                .map(|l| describe_line(l))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if exact && !extra.is_empty() {
        problems.push(format!(
            "{} unexpected lines, e.g. {} {}",
            extra.len(),
            fmt_labels(&extra[0].labels),
            extra[0].line.chars().take(200).collect::<String>()
        ));
    }
    if problems.is_empty() {
        Verdict::Pass {
            detail: format!("{} lines as expected", want.len()),
        }
    } else {
        Verdict::Mismatch { problems }
    }
}

fn short_list(ids: &[&String]) -> String {
    let mut s = ids
        .iter()
        .take(3)
        .map(|i| i.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > 3 {
        s.push_str(&format!(" … ({} in all)", ids.len()));
    }
    s
}

/// Compares the trace ids a search found with the expected set.
pub fn evaluate_trace_ids(want: &BTreeSet<String>, got: &[FoundTrace], exact: bool) -> Verdict {
    let found: BTreeSet<String> = got.iter().map(|t| t.trace_id.clone()).collect();
    let missing: Vec<&String> = want.difference(&found).collect();
    let extra: Vec<&String> = found.difference(want).collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing traces {}", short_list(&missing)));
    }
    if exact && !extra.is_empty() {
        problems.push(format!("unexpected traces {}", short_list(&extra)));
    }
    if problems.is_empty() {
        Verdict::Pass {
            detail: format!("{} traces as expected", want.len()),
        }
    } else {
        Verdict::Mismatch { problems }
    }
}

/// Compares traces fetched by id with the spans the manifest says were exported.
pub fn evaluate_traces(
    want: &BTreeMap<String, Vec<ExpectedSpan>>,
    got: &[(String, Option<Vec<ObservedSpan>>)],
) -> Verdict {
    let mut problems = Vec::new();
    for (trace_id, spans) in want {
        let Some((_, found)) = got.iter().find(|(id, _)| id == trace_id) else {
            problems.push(format!("trace {trace_id} was not asked for"));
            continue;
        };
        let Some(found) = found else {
            problems.push(format!("trace {trace_id} not found"));
            continue;
        };
        for w in spans {
            match found.iter().find(|s| s.span_id == w.span_id) {
                None => problems.push(format!(
                    "trace {trace_id}: span {} ({}) missing",
                    w.span_id, w.name
                )),
                Some(s) => {
                    let mut diffs = Vec::new();
                    if s.parent_span_id != w.parent_span_id {
                        diffs.push(format!(
                            "parent {:?} ≠ {:?}",
                            s.parent_span_id, w.parent_span_id
                        ));
                    }
                    for (what, g, e) in [
                        ("name", &s.name, &w.name),
                        ("service", &s.service, &w.service),
                        ("kind", &s.kind, &w.kind),
                        ("status", &s.status, &w.status),
                    ] {
                        if g != e {
                            diffs.push(format!("{what} {g:?} ≠ {e:?}"));
                        }
                    }
                    if !diffs.is_empty() {
                        problems.push(format!(
                            "trace {trace_id} span {}: {}",
                            w.span_id,
                            diffs.join(", ")
                        ));
                    }
                }
            }
        }
        let extra: Vec<&ObservedSpan> = found
            .iter()
            .filter(|s| !spans.iter().any(|w| w.span_id == s.span_id))
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "trace {trace_id}: {} unexpected spans, e.g. {} ({})",
                extra.len(),
                extra[0].span_id,
                extra[0].name
            ));
        }
    }
    if problems.is_empty() {
        let spans: usize = want.values().map(Vec::len).sum();
        Verdict::Pass {
            detail: format!("{} traces, {spans} spans as expected", want.len()),
        }
    } else {
        Verdict::Mismatch { problems }
    }
}

/// Compares an answer of any kind with an expectation of the same kind.
pub fn evaluate(expectation: &Expectation, observed: &Observed) -> Verdict {
    match (expectation, observed) {
        (Expectation::Series(e), Observed::Series(s)) => evaluate_series(e, s),
        (Expectation::Lines { lines, exact }, Observed::Logs(got)) => {
            evaluate_lines(lines, got, *exact)
        }
        (Expectation::TraceIds { ids, exact }, Observed::Traces(got)) => {
            evaluate_trace_ids(ids, got, *exact)
        }
        (Expectation::TraceCount { lo, hi, ids, note }, Observed::Traces(got)) => {
            let n = got.len() as u64;
            let mut problems = Vec::new();
            if !(*lo <= n && n <= *hi) {
                problems.push(format!("{n} traces, expected within [{lo}, {hi}] ({note})"));
            }
            if let Verdict::Mismatch { problems: p } = evaluate_trace_ids(ids, got, true) {
                problems.extend(p);
            }
            if problems.is_empty() {
                Verdict::Pass {
                    detail: format!(
                        "{n} traces, exactly the sampled ones, within [{lo}, {hi}] ({note})"
                    ),
                }
            } else {
                Verdict::Mismatch { problems }
            }
        }
        (Expectation::Traces(want), Observed::TracesById(got)) => evaluate_traces(want, got),
        (Expectation::LinesPerTrace(want), Observed::LogsByTraceId(got)) => {
            let mut problems = Vec::new();
            for (id, lines) in want {
                let entries = got
                    .iter()
                    .find(|(g, _)| g == id)
                    .map(|(_, e)| e.as_slice())
                    .unwrap_or_default();
                if let Verdict::Mismatch { problems: p } = evaluate_lines(lines, entries, true) {
                    problems.extend(p.into_iter().map(|p| format!("trace {id}: {p}")));
                }
            }
            if problems.is_empty() {
                Verdict::Pass {
                    detail: format!("the lines of {} traces as expected", want.len()),
                }
            } else {
                Verdict::Mismatch { problems }
            }
        }
        (Expectation::NonEmpty, o) => {
            let n = match o {
                Observed::Series(s) => s.len(),
                Observed::Logs(l) => l.len(),
                Observed::Traces(t) => t.len(),
                Observed::TracesById(t) => t.iter().filter(|(_, s)| s.is_some()).count(),
                Observed::LogsByTraceId(t) => t.iter().map(|(_, l)| l.len()).sum(),
                Observed::Text(t) => usize::from(t.is_some()),
            };
            if n > 0 {
                Verdict::Pass {
                    detail: format!("returned {}", o.describe()),
                }
            } else {
                Verdict::Mismatch {
                    problems: vec!["returned no data".into()],
                }
            }
        }
        (Expectation::NoSeriesWithLabel { label, why }, Observed::Series(series)) => {
            match series.iter().find(|s| s.labels.contains_key(label)) {
                None if !series.is_empty() => Verdict::Pass {
                    detail: format!("{} series, none with `{label}`: {why}", series.len()),
                },
                None => Verdict::Mismatch {
                    problems: vec!["no series yet".into()],
                },
                Some(s) => Verdict::Mismatch {
                    problems: vec![format!(
                        "series {} carries `{label}`",
                        fmt_labels(&s.labels)
                    )],
                },
            }
        }
        (Expectation::Duration { secs, written }, Observed::Text(got)) => {
            match got
                .as_deref()
                .map(|g| (g, super::settings::parse_duration(g)))
            {
                Some((g, Some(v))) if (v - secs).abs() < 1e-6 => Verdict::Pass {
                    detail: format!("{g} = the guide's {written}"),
                },
                Some((g, _)) => Verdict::Mismatch {
                    problems: vec![format!("is {g}, the guide sets {written}")],
                },
                None => Verdict::Mismatch {
                    problems: vec![format!("is not set, the guide sets {written}")],
                },
            }
        }
        (Expectation::Text(want), Observed::Text(got)) => match got {
            Some(g) if g == want => Verdict::Pass {
                detail: format!("is {g}"),
            },
            other => Verdict::Mismatch {
                problems: vec![format!("is {other:?}, expected {want}")],
            },
        },
        (Expectation::DerivedField { regex }, Observed::Logs(lines)) => {
            evaluate_derived_field(regex, lines)
        }
        (Expectation::Rejected, o) => Verdict::Mismatch {
            problems: vec![format!(
                "the backend accepted the query (answered {})",
                o.describe()
            )],
        },
        (Expectation::MatchesNothing { why }, o) => {
            let empty = match o {
                Observed::Series(s) => s.is_empty(),
                Observed::Logs(l) => l.is_empty(),
                Observed::Traces(t) => t.is_empty(),
                Observed::Text(t) => t.is_none(),
                _ => false,
            };
            if empty {
                Verdict::Pass {
                    detail: format!("matches nothing, as expected: {why}"),
                }
            } else {
                Verdict::Mismatch {
                    problems: vec![format!("matched {} although {why}", o.describe())],
                }
            }
        }
        (e, o) => Verdict::Mismatch {
            problems: vec![format!(
                "an answer of {} cannot be judged by {e:?}",
                o.describe()
            )],
        },
    }
}

/// Every line's `trace_id` JSON field is what the derived-field regex captures.
pub fn evaluate_derived_field(regex: &str, lines: &[LogEntry]) -> Verdict {
    let re = match regex::Regex::new(regex) {
        Ok(re) => re,
        Err(e) => {
            return Verdict::Mismatch {
                problems: vec![format!("the derived-field regex {regex:?} is invalid: {e}")],
            };
        }
    };
    if lines.is_empty() {
        return Verdict::Mismatch {
            problems: vec!["no line with a trace id yet".into()],
        };
    }
    let mut problems = Vec::new();
    for l in lines {
        let want = serde_json::from_str::<serde_json::Value>(&l.line)
            .ok()
            .and_then(|v| {
                v.get("trace_id")
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
            });
        let got = re
            .captures(&l.line)
            .and_then(|c| c.get(1).or_else(|| c.get(0)))
            .map(|m| m.as_str().to_owned());
        if want.is_none() || got != want {
            problems.push(format!(
                "captured {got:?} from a line whose trace_id is {want:?}: {}",
                l.line.chars().take(160).collect::<String>()
            ));
        }
    }
    if problems.is_empty() {
        Verdict::Pass {
            detail: format!("the regex finds the trace id in all {} lines", lines.len()),
        }
    } else {
        let n = problems.len();
        problems.truncate(3);
        problems.push(format!("{n} lines in all"));
        Verdict::Mismatch { problems }
    }
}

#[cfg(test)]
mod log_and_trace_tests {
    use super::*;

    fn entry(level: &str, line: &str) -> LogEntry {
        LogEntry {
            labels: Labels::from([
                ("level".to_string(), level.to_string()),
                ("run_id".into(), "r".into()),
            ]),
            timestamp_ns: 1,
            line: line.into(),
        }
    }

    fn want(level: &str, message: &str, fields: &[(&str, &str)]) -> ExpectedLine {
        ExpectedLine {
            labels: Labels::from([("level".to_string(), level.to_string())]),
            message: message.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn lines_match_by_labels_message_and_fields_each_once() {
        let got = [
            entry(
                "info",
                r#"{"message":"handled","endpoint":"/a","latency_ms":31,"trace_id":"t1"}"#,
            ),
            entry(
                "info",
                r#"{"message":"handled","endpoint":"/a","latency_ms":31,"trace_id":"t1"}"#,
            ),
            entry("error", r#"{"message":"failed","endpoint":"/b"}"#),
        ];
        let w = vec![
            want(
                "info",
                "handled",
                &[("endpoint", "/a"), ("latency_ms", "31"), ("trace_id", "t1")],
            ),
            want("info", "handled", &[("trace_id", "t1")]),
            want("error", "failed", &[]),
        ];
        assert!(evaluate_lines(&w, &got, true).is_pass());
        // one line too few stored: the third expected "handled" has nothing left
        let mut w3 = w.clone();
        w3.push(want("info", "handled", &[]));
        let v = evaluate_lines(&w3, &got, true);
        assert!(
            v.summary().starts_with("1 of 4 expected lines missing"),
            "{v:?}"
        );
        // a mislabelled line is both missing and unexpected
        let mislabelled = [
            got[0].clone(),
            got[1].clone(),
            entry("info", r#"{"message":"failed","endpoint":"/b"}"#),
        ];
        let Verdict::Mismatch { problems } = evaluate_lines(&w, &mislabelled, true) else {
            panic!()
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(evaluate_lines(&w[..1], &got, false).is_pass());
    }

    #[test]
    fn trace_ids_missing_and_extra() {
        let found = |ids: &[&str]| -> Vec<FoundTrace> {
            ids.iter()
                .map(|i| FoundTrace {
                    trace_id: i.to_string(),
                    root_service: None,
                    root_name: None,
                    duration_ms: None,
                })
                .collect()
        };
        let want: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert!(evaluate_trace_ids(&want, &found(&["b", "a"]), true).is_pass());
        let v = evaluate_trace_ids(&want, &found(&["a", "c"]), true);
        assert_eq!(v.summary(), "missing traces b; unexpected traces c");
        assert!(evaluate_trace_ids(&want, &found(&["a", "b", "c"]), false).is_pass());
    }

    fn span(id: &str, parent: Option<&str>, service: &str) -> ObservedSpan {
        ObservedSpan {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: "n".into(),
            service: service.into(),
            kind: "server".into(),
            status: "unset".into(),
            attributes: Default::default(),
        }
    }

    fn expected(id: &str, parent: Option<&str>, service: &str) -> ExpectedSpan {
        ExpectedSpan {
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: "n".into(),
            service: service.into(),
            kind: "server".into(),
            status: "unset".into(),
        }
    }

    #[test]
    fn traces_compare_span_trees() {
        let want = BTreeMap::from([(
            "t".to_string(),
            vec![
                expected("1", None, "frontend"),
                expected("2", Some("1"), "backend"),
            ],
        )]);
        let good = vec![(
            "t".to_string(),
            Some(vec![
                span("1", None, "frontend"),
                span("2", Some("1"), "backend"),
            ]),
        )];
        assert!(evaluate_traces(&want, &good).is_pass());
        let dropped = vec![("t".to_string(), Some(vec![span("1", None, "frontend")]))];
        assert!(
            evaluate_traces(&want, &dropped)
                .summary()
                .contains("span 2 (n) missing")
        );
        let relinked = vec![(
            "t".to_string(),
            Some(vec![
                span("1", None, "frontend"),
                span("2", None, "backend"),
            ]),
        )];
        assert!(
            evaluate_traces(&want, &relinked)
                .summary()
                .contains("parent None ≠ Some(\"1\")")
        );
        let absent = vec![("t".to_string(), None)];
        assert_eq!(
            evaluate_traces(&want, &absent).summary(),
            "trace t not found"
        );
    }

    #[test]
    fn derived_field_regex_must_capture_each_lines_trace_id() {
        let lines = [entry(
            "info",
            r#"{"message":"m","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}"#,
        )];
        assert!(evaluate_derived_field(r#""trace_id":"(\w+)""#, &lines).is_pass());
        // a regex written for `trace_id=…` text finds nothing in JSON lines
        assert!(!evaluate_derived_field(r"trace_id=(\w+)", &lines).is_pass());
        assert!(!evaluate_derived_field(r#""trace_id":"(\w+)""#, &[]).is_pass());
        assert!(!evaluate_derived_field("(", &lines).is_pass());
    }

    #[test]
    fn guide_defect_expectations() {
        assert!(!evaluate(&Expectation::Rejected, &Observed::Series(vec![])).is_pass());
        let nothing = Expectation::MatchesNothing {
            why: "trace_id is no span attribute".into(),
        };
        assert!(evaluate(&nothing, &Observed::Traces(vec![])).is_pass());
        assert!(
            !evaluate(
                &Expectation::TraceCount {
                    lo: 1,
                    hi: 2,
                    ids: BTreeSet::from(["a".to_string()]),
                    note: "n".into()
                },
                &Observed::Traces(vec![])
            )
            .is_pass()
        );
    }
}
