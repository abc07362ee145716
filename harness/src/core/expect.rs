//! Expectations and their evaluation: pure functions from what a backend answered to a
//! [`Verdict`] that lists every problem, not only the first.
//!
//! Main types: [`Expectation`], [`ExpectedSeries`], [`Expected`], [`Sample`],
//! [`Verdict`]; main function: [`evaluate`].

use std::fmt::Write as _;

pub use super::observed::{Labels, Sample};

/// The value a series must have.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Exactly this value (counts, totals).
    Exact(f64),
    /// This value within a relative tolerance (floating-point sums and ratios).
    Relative {
        /// The value expected.
        value: f64,
        /// The largest admitted difference, as a fraction of `value` (`1e-9`: one
        /// part in a billion).
        tolerance: f64,
    },
    /// Within `[lo, hi]` inclusive; `note` says where the bounds come from.
    Between {
        /// The smallest admitted value.
        lo: f64,
        /// The largest admitted value.
        hi: f64,
        /// Where the bounds come from, shown in the report.
        note: String,
    },
    /// Greater than zero; `note` says why.
    Positive {
        /// Why only a positive value can be asked for, shown in the report.
        note: String,
    },
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
    /// The labels that pick out the series (a subset of its labels).
    pub labels: Labels,
    /// The value the one matching series must have.
    pub expected: Expected,
}

/// What a metric answer (an instant vector) must contain.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExpectation {
    /// The series that must be there, each matched by exactly one answered series.
    pub series: Vec<ExpectedSeries>,
    /// Fail on any series the expectation does not name (exactness: nothing extra
    /// carries the run id).
    pub no_other_series: bool,
}

/// The outcome of comparing an answer with an expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The answer is what was expected.
    Pass {
        /// What was found, for the report (`3 series as expected`).
        detail: String,
    },
    /// The answer differs from the expectation.
    Mismatch {
        /// Every difference found, one sentence each (missing, unexpected or wrong
        /// values), not only the first.
        problems: Vec<String>,
    },
}

impl Verdict {
    /// Whether the verdict is a pass.
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
///
/// ```
/// use lgtm_check::core::expect::{fmt_labels, Labels};
///
/// let labels = Labels::from([("job".to_string(), "api".to_string())]);
/// assert_eq!(fmt_labels(&labels), r#"{job="api"}"#);
/// ```
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
///
/// ```
/// use lgtm_check::core::expect::{
///     evaluate_series, Expected, ExpectedSeries, Labels, Sample, SeriesExpectation, Verdict,
/// };
///
/// let status = |s: &str| Labels::from([("status".to_string(), s.to_string())]);
/// let want = SeriesExpectation {
///     series: vec![ExpectedSeries { labels: status("200"), expected: Expected::Exact(3.0) }],
///     no_other_series: true,
/// };
/// let got = [
///     Sample { labels: status("200"), value: 3.0 },
///     Sample { labels: status("500"), value: 1.0 },
/// ];
/// let Verdict::Mismatch { problems } = evaluate_series(&want, &got) else { unreachable!() };
/// assert_eq!(problems, [r#"unexpected series {status="500"} = 1"#]);
/// assert!(evaluate_series(&want, &got[..1]).is_pass());
/// ```
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
    /// The stream labels pushed with the line (labels Loki adds are not compared).
    pub labels: Labels,
    /// The line's `message` JSON field (for a line that is not JSON: text it contains).
    pub message: String,
    /// Other JSON fields of the line and their values, as text (`trace_id`, `level`, …).
    pub fields: BTreeMap<String, String>,
}

/// A log entry that must be stored exactly: its time, its text and its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedEntry {
    /// The entry's time, in Unix nanoseconds.
    pub timestamp_ns: u128,
    /// The line, exactly.
    pub line: String,
    /// Every label the entry must carry (stream labels and structured metadata).
    pub labels: Labels,
    /// Labels the backend may add beside `labels` (`detected_level`, `service_name`,
    /// `__stream_shard__`), not compared.
    pub may_add: BTreeSet<String>,
}

/// A span that must be part of a trace fetched by id, with exactly these
/// attributes (as the exporter sent them: those the SDK and tracing-opentelemetry add,
/// such as `code.*`, `thread.*`, `busy_ns`, `idle_ns`, are among them).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSpan {
    /// The span id, in lowercase hex.
    pub span_id: String,
    /// The parent's span id in lowercase hex; `None` for the trace's root.
    pub parent_span_id: Option<String>,
    /// The span's name.
    pub name: String,
    /// The `service.name` of the resource it was exported with.
    pub service: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status: String,
    /// Every attribute of the span, as exported (numbers compare by value).
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// An attribute value with its type normalised: OTLP/JSON writes 64-bit integers as
/// strings (decoded to numbers by the Tempo client) and whole doubles without a
/// fraction, so numbers compare by value; strings, booleans and anything else keep
/// their type.
fn same_attribute(want: &serde_json::Value, got: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (want, got) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// Every difference between the attributes the manifest records and those stored.
fn attribute_differences(
    want: &BTreeMap<String, serde_json::Value>,
    got: &BTreeMap<String, serde_json::Value>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            None => diffs.push(format!("attribute {k} missing (emitted {w})")),
            Some(g) if !same_attribute(w, g) => {
                diffs.push(format!("attribute {k} is {g}, emitted {w}"))
            }
            Some(_) => {}
        }
    }
    for (k, g) in got.iter().filter(|(k, _)| !want.contains_key(*k)) {
        diffs.push(format!("unexpected attribute {k}={g}"));
    }
    diffs
}

/// What an answer must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Metric samples (PromQL, LogQL metric queries, TraceQL metrics).
    Series(SeriesExpectation),
    /// Log lines; with `exact`, no other line may be returned.
    Lines {
        /// The lines that must be stored, each matched by one stored line.
        lines: Vec<ExpectedLine>,
        /// Whether any other returned line is a failure.
        exact: bool,
    },
    /// Trace ids a search returns; with `exact`, no other.
    TraceIds {
        /// The trace ids (32 lowercase hex digits) that must be found.
        ids: BTreeSet<String>,
        /// Whether any other trace found is a failure.
        exact: bool,
    },
    /// How many traces a search returns, within `[lo, hi]`; and they are exactly
    /// `ids` (the sampled traces the manifest lists).
    TraceCount {
        /// The fewest traces admitted.
        lo: u64,
        /// The most traces admitted.
        hi: u64,
        /// The trace ids the manifest records as sampled: exactly these must be found.
        ids: BTreeSet<String>,
        /// Where the bounds come from (e.g. the sampling ratio), shown in the report.
        note: String,
    },
    /// Traces fetched by id, each with exactly these spans.
    Traces(BTreeMap<String, Vec<ExpectedSpan>>),
    /// Log entries, each found by its time and exact text, with exactly its labels
    /// (stream labels and structured metadata, as Loki 3 returns them); with `exact`,
    /// no other entry may be returned. `what` names them in the report (`log
    /// records`, `lines`).
    Entries {
        /// The entries that must be stored.
        entries: Vec<ExpectedEntry>,
        /// Whether any other returned entry is a failure.
        exact: bool,
        /// What they are, plural (`OTLP log records`).
        what: String,
    },
    /// Log lines fetched per trace id, exactly these per id.
    LinesPerTrace(BTreeMap<String, Vec<ExpectedLine>>),
    /// The backend must refuse the query (a defect of the guide's query).
    Rejected,
    /// Any data at all (a dashboard target "returns data").
    NonEmpty,
    /// No returned series carries `label` (a guide query grouping by a label that
    /// does not exist).
    NoSeriesWithLabel {
        /// The label no series may carry.
        label: String,
        /// Why the guide's query cannot work, shown in the report.
        why: String,
    },
    /// A configured duration, in seconds (`written` as the guide wrote it).
    Duration {
        /// The duration expected, in seconds.
        secs: f64,
        /// The duration as the guide wrote it (`168h`), shown in the report.
        written: String,
    },
    /// A configuration value, as text.
    Text(String),
    /// Grafana's derived-field regex finds, in every line, the line's own trace id.
    DerivedField {
        /// The regex as provisioned; its first capture group (or, without one, the
        /// whole match) must be the line's trace id.
        regex: String,
    },
    /// The query runs but cannot match what was emitted (a defect of the guide's query).
    MatchesNothing {
        /// Why it cannot match, shown in the report.
        why: String,
    },
}

impl Expectation {
    /// Whether a pass of this expectation shows that the run's data it lists has all
    /// arrived where it was asked: it names the items (lines, entries, traces,
    /// spans, series) and every one was found. A pass of "any data", of a count
    /// range, a rejection, a negative or a configuration value shows no such thing.
    ///
    /// ```
    /// use lgtm_check::core::expect::Expectation;
    /// assert!(Expectation::TraceIds { ids: ["a".repeat(32)].into(), exact: true }.witnesses_arrival());
    /// assert!(!Expectation::NonEmpty.witnesses_arrival());
    /// assert!(!Expectation::Rejected.witnesses_arrival());
    /// ```
    pub fn witnesses_arrival(&self) -> bool {
        match self {
            Expectation::Series(s) => !s.series.is_empty(),
            Expectation::Lines { lines, .. } => !lines.is_empty(),
            Expectation::TraceIds { ids, .. } => !ids.is_empty(),
            Expectation::Traces(t) => !t.is_empty(),
            Expectation::Entries { entries, .. } => !entries.is_empty(),
            Expectation::LinesPerTrace(t) => !t.is_empty(),
            Expectation::TraceCount { .. }
            | Expectation::Rejected
            | Expectation::NonEmpty
            | Expectation::NoSeriesWithLabel { .. }
            | Expectation::Duration { .. }
            | Expectation::Text(_)
            | Expectation::DerivedField { .. }
            | Expectation::MatchesNothing { .. } => false,
        }
    }
}

fn field_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The labels Loki adds to the streams it returns (Loki 3: `service_name` and
/// `detected_level`, and `__stream_shard__` when it shards a fast stream). They are
/// the only labels ignored when stream labels are compared; every other label must be
/// exactly the one pushed.
pub const LOKI_ADDED_LABELS: [&str; 3] = ["service_name", "detected_level", "__stream_shard__"];

/// Stream labels without the ones Loki adds.
///
/// ```
/// use lgtm_check::core::expect::{stream_labels, Labels};
///
/// let stored = Labels::from([
///     ("job".to_string(), "api".to_string()),
///     ("service_name".to_string(), "api".to_string()),
/// ]);
/// assert_eq!(stream_labels(&stored), Labels::from([("job".to_string(), "api".to_string())]));
/// ```
pub fn stream_labels(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| !LOKI_ADDED_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What `got` has beside or instead of `want`: `without a="1", with b="2" instead of "3", with c="4"`.
fn label_difference(want: &Labels, got: &Labels) -> String {
    let mut parts = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => parts.push(format!("without {k}=\"{v}\"")),
            Some(g) if g != v => parts.push(format!("with {k}=\"{g}\" instead of \"{v}\"")),
            Some(_) => {}
        }
    }
    for (k, g) in got.iter().filter(|(k, _)| !want.contains_key(*k)) {
        parts.push(format!("with {k}=\"{g}\""));
    }
    parts.join(", ")
}

/// The labels LogQL's `| json` extracts from a JSON line: its keys, nested ones joined
/// with `_`, every character other than `[A-Za-z0-9_]` replaced by `_`.
fn json_label_names(
    obj: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    out: &mut BTreeSet<String>,
) {
    for (k, v) in obj {
        let name = super::otlp_mapping::label_chars(&format!("{prefix}{k}"));
        match v {
            serde_json::Value::Object(inner) => json_label_names(inner, &format!("{name}_"), out),
            _ => {
                out.insert(name);
            }
        }
    }
}

/// The stream's labels as pushed: without the ones Loki adds ([`LOKI_ADDED_LABELS`])
/// and without those a parser stage of the query (`| json`) extracted from the line
/// itself (its field names; `<label>_extracted` where a field has a stream label's
/// name, which then stays; `__error__`, `__error_details__`).
fn pushed_labels(
    labels: &Labels,
    json: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Labels {
    let mut fields = BTreeSet::new();
    if let Some(obj) = json {
        json_label_names(obj, "", &mut fields);
    }
    stream_labels(labels)
        .into_iter()
        .filter(|(k, _)| {
            let parsed = k == "__error__"
                || k == "__error_details__"
                || k.strip_suffix("_extracted")
                    .is_some_and(|base| labels.contains_key(base) && fields.contains(base))
                || (fields.contains(k) && !labels.contains_key(&format!("{k}_extracted")));
            !parsed
        })
        .collect()
}

/// A stored line, read once: its stream labels as pushed and its JSON.
struct StoredLine {
    labels: Labels,
    json: Option<serde_json::Map<String, serde_json::Value>>,
}

impl StoredLine {
    fn read(e: &LogEntry) -> Self {
        let json = match serde_json::from_str::<serde_json::Value>(&e.line) {
            Ok(serde_json::Value::Object(obj)) => Some(obj),
            _ => None,
        };
        StoredLine {
            labels: pushed_labels(&e.labels, json.as_ref()),
            json,
        }
    }

    fn text(&self, key: &str) -> Option<String> {
        self.json.as_ref()?.get(key).map(field_text)
    }

    /// The line's message and `keys` fields, if it is a JSON line that has them all.
    fn key(&self, keys: &[&String]) -> Option<(String, Vec<String>)> {
        let message = self.text("message")?;
        let values = keys
            .iter()
            .map(|k| self.text(k))
            .collect::<Option<Vec<String>>>()?;
        Some((message, values))
    }
}

/// Whether a stored line is the expected one, its stream labels aside.
fn content_matches(want: &ExpectedLine, stored: &StoredLine, raw: &str) -> bool {
    match &stored.json {
        Some(_) => {
            stored.text("message").as_deref() == Some(want.message.as_str())
                && want
                    .fields
                    .iter()
                    .all(|(k, v)| stored.text(k).as_deref() == Some(v.as_str()))
        }
        None => {
            raw.contains(&want.message) && want.fields.values().all(|v| raw.contains(v.as_str()))
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

/// The identity an expected line is found by: stream labels, message and the values
/// of its fields.
type LineKey = (Labels, String, Vec<String>);

/// How many examples a verdict lists of each kind of difference.
const EXAMPLES: usize = 5;

/// Matches expected entries to stored ones by time and text, each stored entry used
/// once, and compares their labels exactly (but for `may_add`). Lists how many are
/// missing, stored with other labels, stored twice, and (with `exact`) unexpected,
/// with the first few of each.
///
/// ```
/// use std::collections::BTreeSet;
/// use lgtm_check::core::expect::{evaluate_entries, ExpectedEntry, Labels, Verdict};
/// use lgtm_check::core::observed::LogEntry;
///
/// let labels = Labels::from([("service_name".to_string(), "shop".to_string())]);
/// let want = [ExpectedEntry { timestamp_ns: 5, line: "paid".into(), labels: labels.clone(), may_add: BTreeSet::new() }];
/// let got = [LogEntry { labels, timestamp_ns: 5, line: "paid".into() }];
/// assert!(evaluate_entries(&want, &got, true, "log records").is_pass());
/// let Verdict::Mismatch { problems } = evaluate_entries(&want, &[], true, "log records") else { panic!() };
/// assert_eq!(problems[0], "1 of 1 log records missing; first: @5 \"paid\" {service_name=\"shop\"}");
/// ```
pub fn evaluate_entries(
    want: &[ExpectedEntry],
    got: &[LogEntry],
    exact: bool,
    what: &str,
) -> Verdict {
    use std::collections::HashMap;
    let mut index: HashMap<(u128, &str), Vec<usize>> = HashMap::new();
    for (i, e) in got.iter().enumerate() {
        index
            .entry((e.timestamp_ns, e.line.as_str()))
            .or_default()
            .push(i);
    }
    let mut used = vec![false; got.len()];
    let mut missing = Vec::new();
    let mut relabelled = Vec::new();
    let mut twice = Vec::new();
    let describe = |ts: u128, line: &str, labels: &Labels| {
        let line: String = line.chars().take(120).collect();
        format!("@{ts} {line:?} {}", fmt_labels(labels))
    };
    let compared = |w: &ExpectedEntry, got: &Labels| -> Labels {
        got.iter()
            .filter(|(k, _)| {
                w.labels.contains_key(*k) || !(w.may_add.contains(*k) || *k == "__stream_shard__")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    for w in want {
        let candidates = index
            .get(&(w.timestamp_ns, w.line.as_str()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let free: Vec<usize> = candidates.iter().copied().filter(|i| !used[*i]).collect();
        let exact_match = free
            .iter()
            .copied()
            .find(|i| compared(w, &got[*i].labels) == w.labels);
        match (exact_match, free.first()) {
            (Some(i), _) => used[i] = true,
            (None, Some(&i)) => {
                used[i] = true;
                relabelled.push(format!(
                    "{} stored {}",
                    describe(w.timestamp_ns, &w.line, &w.labels),
                    label_difference(&w.labels, &compared(w, &got[i].labels))
                ));
            }
            (None, None) if !candidates.is_empty() => {}
            (None, None) => missing.push(describe(w.timestamp_ns, &w.line, &w.labels)),
        }
    }
    // A stored entry equal to an expected one, left over: stored more often than sent.
    for w in want {
        if let Some(c) = index.get(&(w.timestamp_ns, w.line.as_str())) {
            for &i in c {
                if !used[i] {
                    used[i] = true;
                    twice.push(describe(w.timestamp_ns, &w.line, &w.labels));
                }
            }
        }
    }
    let unexpected: Vec<String> = if exact {
        got.iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(e, _)| describe(e.timestamp_ns, &e.line, &e.labels))
            .collect()
    } else {
        Vec::new()
    };
    let mut problems = Vec::new();
    let n = want.len();
    let mut list = |count_text: String, items: &[String]| {
        if !items.is_empty() {
            let shown: Vec<&str> = items.iter().take(EXAMPLES).map(String::as_str).collect();
            let first = if items.len() == 1 {
                "first"
            } else {
                "first ones"
            };
            problems.push(format!("{count_text}; {first}: {}", shown.join("; ")));
        }
    };
    list(format!("{} of {n} {what} missing", missing.len()), &missing);
    list(
        format!(
            "{} of {n} {what} stored with other labels",
            relabelled.len()
        ),
        &relabelled,
    );
    list(
        format!("{} {what} stored more than once", twice.len()),
        &twice,
    );
    list(
        format!("{} other entries returned", unexpected.len()),
        &unexpected,
    );
    if problems.is_empty() {
        Verdict::Pass {
            detail: format!(
                "all {n} {what} arrived once, with their labels and metadata{}",
                if exact { ", and no other" } else { "" }
            ),
        }
    } else {
        Verdict::Mismatch { problems }
    }
}

/// Matches expected lines to stored ones, each stored line used once. Stream labels
/// are compared exactly, but for [`LOKI_ADDED_LABELS`] and the labels a `| json`
/// stage extracted from the line (a pushed label that is also a field name of the
/// line's JSON therefore goes unchecked; no scenario pushes one). A line stored more often than
/// it was emitted is reported as such ("arrived 2 times"), also when `exact` is off;
/// with `exact`, any other stored line is a failure too. Stored lines are indexed, so
/// 100,000 lines are judged in linear time.
pub fn evaluate_lines(want: &[ExpectedLine], got: &[LogEntry], exact: bool) -> Verdict {
    use std::collections::{HashMap, VecDeque};
    let stored: Vec<StoredLine> = got.iter().map(StoredLine::read).collect();
    let want_labels: Vec<Labels> = want.iter().map(|w| stream_labels(&w.labels)).collect();
    // One index of the stored lines per set of field names the expected lines use.
    let mut indexes: BTreeMap<Vec<&String>, HashMap<LineKey, VecDeque<usize>>> = BTreeMap::new();
    for w in want {
        let keys: Vec<&String> = w.fields.keys().collect();
        indexes.entry(keys).or_insert_with_key(|keys| {
            let mut index: HashMap<LineKey, VecDeque<usize>> = HashMap::new();
            for (i, s) in stored.iter().enumerate() {
                if let Some((message, values)) = s.key(keys) {
                    index
                        .entry((s.labels.clone(), message, values))
                        .or_default()
                        .push_back(i);
                }
            }
            index
        });
    }
    let key_of = |i: usize| -> (Vec<&String>, LineKey) {
        let w = &want[i];
        (
            w.fields.keys().collect(),
            (
                want_labels[i].clone(),
                w.message.clone(),
                w.fields.values().cloned().collect(),
            ),
        )
    };
    let not_json: Vec<usize> = (0..got.len())
        .filter(|&i| stored[i].json.is_none())
        .collect();
    let mut used = vec![false; got.len()];
    let mut missing = Vec::new();
    let mut emitted: HashMap<(Vec<&String>, LineKey), (usize, usize)> = HashMap::new();
    for i in 0..want.len() {
        let (keys, key) = key_of(i);
        let hit = indexes
            .get_mut(&keys)
            .and_then(|index| index.get_mut(&key))
            .and_then(|bucket| {
                while let Some(j) = bucket.pop_front() {
                    if !used[j] {
                        return Some(j);
                    }
                }
                None
            })
            .or_else(|| {
                not_json.iter().copied().find(|&j| {
                    !used[j]
                        && stored[j].labels == want_labels[i]
                        && content_matches(&want[i], &stored[j], &got[j].line)
                })
            });
        match hit {
            Some(j) => used[j] = true,
            None => missing.push(i),
        }
        emitted.entry((keys, key)).or_insert((i, 0)).1 += 1;
    }
    // Lines stored more often than emitted: the unused stored lines with the key of
    // an expected line.
    let mut problems = Vec::new();
    let mut duplicate = vec![false; got.len()];
    let mut stored_again: BTreeMap<&(Vec<&String>, LineKey), usize> = BTreeMap::new();
    for j in (0..got.len()).filter(|&j| !used[j]) {
        for keys in indexes.keys() {
            let Some((message, values)) = stored[j].key(keys) else {
                continue;
            };
            let key = (keys.clone(), (stored[j].labels.clone(), message, values));
            if let Some((k, _)) = emitted.get_key_value(&key) {
                duplicate[j] = true;
                *stored_again.entry(k).or_default() += 1;
                break;
            }
        }
    }
    let mut duplicates = Vec::new();
    for (key, again) in &stored_again {
        let (first, times) = emitted[*key];
        let arrived = times + again;
        duplicates.push(if times == 1 {
            format!(
                "line {} arrived {arrived} times",
                describe_line(&want[first])
            )
        } else {
            format!(
                "line {} arrived {arrived} times, emitted {times} times",
                describe_line(&want[first])
            )
        });
    }
    if !missing.is_empty() {
        let examples: Vec<String> = missing
            .iter()
            .take(3)
            .map(|&i| {
                let w = &want[i];
                let elsewhere = (0..got.len()).find(|&j| {
                    !used[j]
                        && stored[j].labels != want_labels[i]
                        && content_matches(w, &stored[j], &got[j].line)
                });
                match elsewhere {
                    Some(j) => format!(
                        "{} (stored in a stream {})",
                        describe_line(w),
                        label_difference(&want_labels[i], &stored[j].labels)
                    ),
                    None => describe_line(w),
                }
            })
            .collect();
        problems.push(format!(
            "{} of {} expected lines missing, e.g. {}",
            missing.len(),
            want.len(),
            examples.join("; ")
        ));
    }
    if !duplicates.is_empty() {
        let n = duplicates.len();
        duplicates.truncate(3);
        if n > 3 {
            duplicates.push(format!("{n} duplicated lines in all"));
        }
        problems.extend(duplicates);
    }
    let extra: Vec<usize> = (0..got.len())
        .filter(|&j| !used[j] && !duplicate[j])
        .collect();
    if exact && !extra.is_empty() {
        let e = &got[extra[0]];
        problems.push(format!(
            "{} unexpected lines, e.g. {} {}",
            extra.len(),
            fmt_labels(&stored[extra[0]].labels),
            e.line.chars().take(200).collect::<String>()
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
            let copies: Vec<&ObservedSpan> =
                found.iter().filter(|s| s.span_id == w.span_id).collect();
            if copies.len() > 1 {
                problems.push(format!(
                    "trace {trace_id}: span {} ({}) arrived {} times",
                    w.span_id,
                    w.name,
                    copies.len()
                ));
            }
            match copies.first() {
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
                    diffs.extend(attribute_differences(&w.attributes, &s.attributes));
                    if !diffs.is_empty() {
                        problems.push(format!(
                            "trace {trace_id} span {} ({}): {}",
                            w.span_id,
                            w.name,
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
        (
            Expectation::Entries {
                entries,
                exact,
                what,
            },
            Observed::Logs(got),
        ) => evaluate_entries(entries, got, *exact, what),
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
            labels: Labels::from([
                ("level".to_string(), level.to_string()),
                ("run_id".into(), "r".into()),
            ]),
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
        // without exactness other lines may be stored
        assert!(evaluate_lines(&w[2..], &got, false).is_pass());
    }

    #[test]
    fn stream_labels_compare_exactly_but_for_the_ones_loki_adds() {
        let w = vec![want("info", "handled", &[("trace_id", "t1")])];
        let line = r#"{"message":"handled","trace_id":"t1"}"#;
        // Loki 3.2 adds service_name and detected_level, and __stream_shard__ to a
        // sharded stream: still the pushed stream
        let mut added = entry("info", line);
        for (k, v) in [
            ("service_name", "rust-app"),
            ("detected_level", "info"),
            ("__stream_shard__", "1"),
        ] {
            added.labels.insert(k.into(), v.into());
        }
        assert!(evaluate_lines(&w, &[added], true).is_pass());
        // any other label the manifest does not list is a different stream (the old
        // subset match passed this)
        let mut extra = entry("info", line);
        extra.labels.insert("tier".into(), "web".into());
        let v = evaluate_lines(&w, &[extra], true);
        assert!(
            v.summary().contains(
                "1 of 1 expected lines missing, e.g. {level=\"info\", run_id=\"r\"} \"handled\" trace_id=t1 (stored in a stream with tier=\"web\")"
            ),
            "{v:?}"
        );
        // and a label the manifest lists but that was not pushed
        let mut listed = w.clone();
        listed[0].labels.insert("tier".into(), "web".into());
        let v = evaluate_lines(&listed, &[entry("info", line)], false);
        assert!(
            v.summary()
                .contains("(stored in a stream without tier=\"web\")"),
            "{v:?}"
        );
    }

    #[test]
    fn labels_a_json_stage_extracted_are_not_stream_labels() {
        let w = vec![want("info", "handled", &[("trace_id", "t1")])];
        let line = r#"{"message":"handled","trace_id":"t1","http.route":"/a","_spans":{"request":1},"run_id":"x"}"#;
        // `{…} | json`: every field became a label; `run_id` collides with the stream
        // label, so Loki names it run_id_extracted
        let mut parsed = entry("info", line);
        for (k, v) in [
            ("message", "handled"),
            ("trace_id", "t1"),
            ("http_route", "/a"),
            ("_spans_request", "1"),
            ("run_id_extracted", "x"),
        ] {
            parsed.labels.insert(k.into(), v.into());
        }
        assert!(evaluate_lines(&w, &[parsed.clone()], true).is_pass());
        // a label that is no field of the line is still a stream label
        parsed.labels.insert("tier".into(), "web".into());
        assert!(!evaluate_lines(&w, &[parsed], true).is_pass());
    }

    #[test]
    fn a_line_stored_twice_is_reported_as_arrived_twice() {
        let line = r#"{"message":"handled","trace_id":"t1"}"#;
        let w = vec![
            want("info", "handled", &[("trace_id", "t1")]),
            want("error", "failed", &[]),
        ];
        let got = [
            entry("info", line),
            entry("error", r#"{"message":"failed"}"#),
            entry("info", line),
        ];
        // reported whether or not other lines are allowed
        for exact in [true, false] {
            let Verdict::Mismatch { problems } = evaluate_lines(&w, &got, exact) else {
                panic!("a duplicate passed")
            };
            assert_eq!(
                problems,
                vec![
                    "line {level=\"info\", run_id=\"r\"} \"handled\" trace_id=t1 arrived 2 times"
                        .to_string()
                ]
            );
        }
        // a line emitted twice and stored twice is fine
        let twice = vec![w[0].clone(), w[0].clone(), w[1].clone()];
        assert!(evaluate_lines(&twice, &got, true).is_pass());
    }

    #[test]
    fn a_hundred_thousand_lines_are_judged_exactly() {
        let n = 100_000;
        let w: Vec<ExpectedLine> = (0..n)
            .map(|i| want("info", "volume line", &[("seq", &i.to_string())]))
            .collect();
        let got: Vec<LogEntry> = (0..n)
            .map(|i| entry("info", &format!(r#"{{"message":"volume line","seq":{i}}}"#)))
            .collect();
        let mut short = got.clone();
        short.swap_remove(4242);
        // Side by side: each judgement takes seconds in a debug build.
        let (all, one_missing) = std::thread::scope(|s| {
            let all = s.spawn(|| evaluate_lines(&w, &got, true));
            let one_missing = evaluate_lines(&w, &short, true);
            (all.join().unwrap(), one_missing)
        });
        assert!(all.is_pass());
        assert!(
            one_missing
                .summary()
                .starts_with("1 of 100000 expected lines missing, e.g. {level=\"info\", run_id=\"r\"} \"volume line\" seq=4242")
        );
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
            attributes: Default::default(),
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
    fn span_attributes_are_compared_with_their_types_normalised() {
        let mut want_span = expected("1", None, "frontend");
        want_span.attributes = BTreeMap::from([
            ("http.request.method".to_string(), serde_json::json!("POST")),
            (
                "http.response.status_code".to_string(),
                serde_json::json!(500),
            ),
            ("busy_ns".to_string(), serde_json::json!(1234567)),
            ("ratio".to_string(), serde_json::json!(2.0)),
        ]);
        let want = BTreeMap::from([("t".to_string(), vec![want_span])]);
        // what the Tempo client decodes: intValue "500" as a number, a whole double
        // without its fraction
        let mut stored = span("1", None, "frontend");
        stored.attributes = BTreeMap::from([
            ("http.request.method".to_string(), serde_json::json!("POST")),
            (
                "http.response.status_code".to_string(),
                serde_json::json!(500),
            ),
            ("busy_ns".to_string(), serde_json::json!(1234567)),
            ("ratio".to_string(), serde_json::json!(2)),
        ]);
        let got = |s: &ObservedSpan| vec![("t".to_string(), Some(vec![s.clone()]))];
        assert!(evaluate_traces(&want, &got(&stored)).is_pass());
        // the old comparison ignored attributes: every one of these passed
        let mut wrong = stored.clone();
        wrong
            .attributes
            .insert("http.request.method".into(), serde_json::json!("GET"));
        wrong
            .attributes
            .insert("http.response.status_code".into(), serde_json::json!("500"));
        wrong.attributes.remove("busy_ns");
        wrong
            .attributes
            .insert("extra".into(), serde_json::json!(true));
        assert_eq!(
            evaluate_traces(&want, &got(&wrong)).summary(),
            "trace t span 1 (n): attribute busy_ns missing (emitted 1234567), \
             attribute http.request.method is \"GET\", emitted \"POST\", \
             attribute http.response.status_code is \"500\", emitted 500, \
             unexpected attribute extra=true"
        );
    }

    #[test]
    fn a_span_stored_twice_is_reported_as_arrived_twice() {
        let want = BTreeMap::from([("t".to_string(), vec![expected("1", None, "frontend")])]);
        let twice = vec![(
            "t".to_string(),
            Some(vec![
                span("1", None, "frontend"),
                span("1", None, "frontend"),
            ]),
        )];
        assert_eq!(
            evaluate_traces(&want, &twice).summary(),
            "trace t: span 1 (n) arrived 2 times"
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
