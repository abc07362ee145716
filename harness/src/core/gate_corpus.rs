//! The gate's corpus compared across its sides: the baseline, the candidate, and
//! with `--path` every release between, each side's answers to the same queries over
//! the same workload. Plain data and pure functions: [`crate::gate_workload`] asks,
//! the reporters render.
//!
//! A query is a *difference* when two consecutive sides answer it differently (data,
//! or an error on one side only); its *first step* is the first side whose answer
//! differs from the one before, which names the release that made it. Whether a
//! difference fails the gate depends on where the query comes from
//! ([`QueryDiff::fails_gate`]): the user's own queries fail it, generated ones and
//! the probes of named changes are findings unless `--strict`. A difference listed
//! in the accepted file ([`Accepted`]) never fails it.
//!
//! Main items: [`SideCorpus`], [`compare_sides`] → [`CorpusReport`] (with
//! [`QueryDiff`]s and a [`Tally`] per language and source), [`Accepted`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::answer::{Answer, Verdict, clip, compare};
use super::corpus::{CorpusQuery, Language, Source};

/// One language's positive control on one side: how much of the workload the
/// backend shows, against what was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Control {
    /// Lines, spans or samples pushed.
    pub expected: usize,
    /// How many the backend showed at the last look.
    pub visible: usize,
    /// Milliseconds from the push until all were visible; `None`: they never were.
    pub settled_ms: Option<u64>,
    /// The push's or the control query's error, if any.
    pub error: Option<String>,
}

impl Control {
    /// Whether every item pushed is visible.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.visible == self.expected && self.expected > 0
    }
}

/// One side's corpus answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SideCorpus {
    /// How the report names the side: `baseline`, `candidate`, or with `--path` the
    /// step (`tempo=grafana/tempo:2.7.2`).
    pub label: String,
    /// The side's origin (Unix seconds): every answer's times are relative to it.
    pub origin_secs: u64,
    /// Per language: how much of the workload the backend showed.
    pub controls: BTreeMap<Language, Control>,
    /// The answers, in the corpus's order (empty when the corpus was not asked).
    #[serde(skip)]
    pub answers: Vec<Answer>,
    /// Milliseconds from the push to the last answer.
    pub elapsed_ms: u64,
}

/// Where a query comes from, as the report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Generated from a template over the workload.
    Generated,
    /// The probe of a named upstream change.
    NamedChange,
    /// The user's own queries.
    User,
}

impl SourceKind {
    /// The kind of a [`Source`].
    pub fn of(s: &Source) -> SourceKind {
        match s {
            Source::Generated(_) => SourceKind::Generated,
            Source::NamedChange(_) => SourceKind::NamedChange,
            Source::User(_) => SourceKind::User,
        }
    }

    /// `generated`, `named change`, `yours`.
    pub fn word(self) -> &'static str {
        match self {
            SourceKind::Generated => "generated",
            SourceKind::NamedChange => "named changes",
            SourceKind::User => "yours",
        }
    }
}

/// How many queries of one language and source answered how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Queries asked.
    pub total: usize,
    /// The same non-empty data on every side.
    pub identical: usize,
    /// No data on every side: not evidence either way.
    pub both_empty: usize,
    /// Refused on every side.
    pub both_refused: usize,
    /// A difference between two consecutive sides.
    pub different: usize,
    /// Not compared: the language's backend did not run on every side.
    pub not_compared: usize,
}

/// A query whose answer changes along the sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryDiff {
    /// The query.
    #[serde(flatten)]
    pub query: CorpusQuery,
    /// The comparison at the first step that changed it.
    pub verdict: Verdict,
    /// The index of the first side whose answer differs from the one before (1: the
    /// candidate, in a two-sided gate).
    pub first_step: usize,
    /// That side's label: the release that made the change.
    pub first_release: String,
    /// The answer before that step, clipped for the report.
    pub before: String,
    /// The answer at that step, clipped.
    pub after: String,
    /// Whether the last side answers as the first did (a change undone further on).
    pub reverted: bool,
    /// Why the user accepted it, when the accepted file lists it.
    pub accepted: Option<String>,
    /// The named upstream changes the gate crosses whose probe this query is.
    pub explained_by: Vec<NamedRef>,
}

/// A named upstream change, as a difference cites it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedRef {
    /// The change's id.
    pub id: &'static str,
    /// Its first release.
    pub release: &'static str,
    /// Its pull request's address.
    pub url: String,
    /// The line the terminal prints: project, release, PR, what changed, what to do.
    pub headline: String,
}

impl CorpusReport {
    /// Cites, on each difference, the changes among `crossed` whose probe it is.
    pub fn explain(&mut self, crossed: &[&'static super::changes::NamedChange]) {
        for d in &mut self.differences {
            d.explained_by = explained_by(d, crossed)
                .into_iter()
                .map(|c| NamedRef {
                    id: c.id,
                    release: c.release,
                    url: c.url(),
                    headline: c.headline(),
                })
                .collect();
        }
    }
}

impl QueryDiff {
    /// Whether this difference fails the gate: a user's own query, or with `strict`
    /// any query, unless accepted.
    pub fn fails_gate(&self, strict: bool) -> bool {
        self.accepted.is_none()
            && !self.reverted
            && (strict || SourceKind::of(&self.query.source) == SourceKind::User)
    }
}

/// A side whose backend did not show the whole workload: its language's answers on
/// that side are not evidence, and the loss is a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incomplete {
    /// The side's label.
    pub side: String,
    /// The language.
    pub language: Language,
    /// The control.
    pub control: Control,
}

/// The corpus compared across every side.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CorpusReport {
    /// The workload's seed.
    pub seed: u64,
    /// Each side, in order.
    pub sides: Vec<SideCorpus>,
    /// Per language and source: how the queries answered.
    pub tally: BTreeMap<Language, BTreeMap<SourceKind, Tally>>,
    /// Every difference, grouped by source and template, in corpus order within.
    pub differences: Vec<QueryDiff>,
    /// Sides that did not show the whole workload.
    pub incomplete: Vec<Incomplete>,
    /// The languages not compared: their backend did not run on every side.
    pub not_compared: Vec<Language>,
}

/// The differences of a template (or a user's file, or a named change), as the
/// terminal groups them.
pub fn group_name(s: &Source) -> &str {
    match s {
        Source::Generated(t) | Source::NamedChange(t) | Source::User(t) => t,
    }
}

impl CorpusReport {
    /// The differences that fail the gate.
    pub fn failing(&self, strict: bool) -> impl Iterator<Item = &QueryDiff> {
        self.differences
            .iter()
            .filter(move |d| d.fails_gate(strict))
    }

    /// The differences per group (template, file or change), in first-seen order.
    pub fn groups(&self) -> Vec<(&str, Vec<&QueryDiff>)> {
        let mut out: Vec<(&str, Vec<&QueryDiff>)> = Vec::new();
        for d in &self.differences {
            let name = group_name(&d.query.source);
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(d),
                None => out.push((name, vec![d])),
            }
        }
        out
    }

    /// Totals over every language and source.
    pub fn total(&self) -> Tally {
        let mut t = Tally::default();
        for x in self.tally.values().flat_map(BTreeMap::values) {
            t.total += x.total;
            t.identical += x.identical;
            t.both_empty += x.both_empty;
            t.both_refused += x.both_refused;
            t.different += x.different;
            t.not_compared += x.not_compared;
        }
        t
    }

    /// The differences by cause: where their answers first differ, with the list
    /// indices left out (`result[].stream.detected_level: "warn" vs "unknown"`), most
    /// frequent first — one upstream change often moves many queries.
    pub fn causes(&self) -> Vec<(String, usize)> {
        let re = regex::Regex::new(r"\[\d+\]").expect("a valid regex");
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for d in &self.differences {
            let cause = match &d.verdict {
                Verdict::Different { first } => {
                    let c = re.replace_all(first, "[]").into_owned();
                    // Counts of items differ by query: keep the path only.
                    match c.split_once(" items;") {
                        Some((head, _)) => match head.rsplit_once(": ") {
                            Some((path, _)) => format!("{path}: a different number of items"),
                            None => head.to_owned(),
                        },
                        None => c,
                    }
                }
                Verdict::RefusedByCandidate => {
                    format!("{}: refused after the change", d.query.language.name())
                }
                Verdict::RefusedByBaseline => format!(
                    "{}: answered only after the change",
                    d.query.language.name()
                ),
                _ => continue,
            };
            *counts.entry(cause).or_default() += 1;
        }
        let mut out: Vec<(String, usize)> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

fn shown(a: &Answer) -> String {
    match a {
        Answer::Data(v) => clip(&v.to_string(), 600),
        Answer::Refused(e) => format!("refused: {}", clip(e, 600)),
    }
}

/// Compares every side's answers to `corpus` (each side's `answers` in the corpus's
/// order; a side with no answers is left out), marking the differences `accepted`
/// lists.
///
/// ```
/// use lgtm_check::core::answer::Answer;
/// use lgtm_check::core::corpus::{Ask, CorpusQuery, Language, Source};
/// use lgtm_check::core::gate_corpus::{Accepted, SideCorpus, compare_sides};
/// use serde_json::json;
///
/// let q = CorpusQuery {
///     language: Language::TraceQl,
///     source: Source::User("queries.txt".into()),
///     ask: Ask::Search,
///     query: r#"{ span.http.route =~ "users" }"#.into(),
/// };
/// let hit = Answer::Data(json!({"traces": [{"traceID": "a"}]}));
/// let none = Answer::Data(json!({"traces": []}));
/// let side = |label: &str, a: &Answer| SideCorpus {
///     label: label.into(),
///     answers: vec![a.clone()],
///     ..SideCorpus::default()
/// };
/// let sides = [side("tempo 2.6.0", &hit), side("tempo 2.7.2", &none), side("tempo 2.10.0", &none)];
/// let r = compare_sides(7, &[q], &sides, &Accepted::default());
/// assert_eq!(r.differences.len(), 1);
/// assert_eq!(r.differences[0].first_release, "tempo 2.7.2");
/// // The user's own query changed answer: the gate fails.
/// assert!(r.differences[0].fails_gate(false));
/// ```
pub fn compare_sides(
    seed: u64,
    corpus: &[CorpusQuery],
    sides: &[SideCorpus],
    accepted: &Accepted,
) -> CorpusReport {
    let asked: Vec<&SideCorpus> = sides
        .iter()
        .filter(|s| s.answers.len() == corpus.len())
        .collect();
    let mut report = CorpusReport {
        seed,
        sides: sides.to_vec(),
        ..CorpusReport::default()
    };
    for s in sides {
        for (language, control) in &s.controls {
            if !control.complete() {
                report.incomplete.push(Incomplete {
                    side: s.label.clone(),
                    language: *language,
                    control: control.clone(),
                });
            }
        }
    }
    if asked.len() < 2 {
        return report;
    }
    for (i, q) in corpus.iter().enumerate() {
        let tally = report
            .tally
            .entry(q.language)
            .or_default()
            .entry(SourceKind::of(&q.source))
            .or_default();
        tally.total += 1;
        // A side whose workload went to other backends but not to this language's
        // (no control for it: the backend did not run) cannot be compared.
        if asked
            .iter()
            .any(|s| !s.controls.is_empty() && !s.controls.contains_key(&q.language))
        {
            tally.not_compared += 1;
            if !report.not_compared.contains(&q.language) {
                report.not_compared.push(q.language);
            }
            continue;
        }
        let step = (1..asked.len()).find_map(|k| {
            let v = compare(&asked[k - 1].answers[i], &asked[k].answers[i]);
            v.is_difference().then_some((k, v))
        });
        match step {
            Some((k, verdict)) => {
                tally.different += 1;
                let first = &asked[0].answers[i];
                let last = &asked[asked.len() - 1].answers[i];
                report.differences.push(QueryDiff {
                    query: q.clone(),
                    verdict,
                    first_step: k,
                    first_release: asked[k].label.clone(),
                    before: shown(&asked[k - 1].answers[i]),
                    after: shown(&asked[k].answers[i]),
                    reverted: asked.len() > 2 && !compare(first, last).is_difference(),
                    accepted: accepted.reason(q),
                    explained_by: Vec::new(),
                });
            }
            None => match compare(&asked[0].answers[i], &asked[asked.len() - 1].answers[i]) {
                Verdict::BothEmpty => tally.both_empty += 1,
                Verdict::BothRefused { .. } => tally.both_refused += 1,
                _ => tally.identical += 1,
            },
        }
    }
    report
        .differences
        .sort_by_key(|d| (SourceKind::of(&d.query.source), d.query.language));
    report
}

/// One accepted difference, as the accepted file lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedEntry {
    /// `logql`, `traceql` or `promql`.
    pub language: String,
    /// The query, exactly as asked.
    pub query: String,
    /// Why the difference is expected (shown in the report).
    pub reason: String,
}

/// The differences a user expects, kept in their repository
/// (`lgtm-check.accepted.toml`, or `--accepted PATH`):
///
/// ```toml
/// [[accepted]]
/// language = "traceql"
/// query = '{ span.http.route =~ "users" }'
/// reason = "Tempo 2.7 anchors regexes; our dashboards use .*users.* now"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The entries.
    #[serde(default)]
    pub accepted: Vec<AcceptedEntry>,
}

impl Accepted {
    /// Parses the accepted file; the error names what is wrong in it.
    ///
    /// ```
    /// use lgtm_check::core::gate_corpus::Accepted;
    /// let a = Accepted::parse("[[accepted]]\nlanguage = \"promql\"\nquery = \"up\"\nreason = \"known\"\n").unwrap();
    /// assert_eq!(a.accepted.len(), 1);
    /// assert!(Accepted::parse("[[accepted]]\nquery = \"up\"\n").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Accepted, String> {
        let a: Accepted = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, e) in a.accepted.iter().enumerate() {
            if Language::from_name(&e.language).is_none() {
                return Err(format!(
                    "accepted[{i}].language = `{}`: expected logql, traceql or promql",
                    e.language
                ));
            }
        }
        Ok(a)
    }

    /// Why `q`'s difference is accepted, if it is.
    pub fn reason(&self, q: &CorpusQuery) -> Option<String> {
        self.accepted
            .iter()
            .find(|e| {
                Language::from_name(&e.language) == Some(q.language) && e.query.trim() == q.query
            })
            .map(|e| e.reason.clone())
    }

    /// The file with `differences` added (those not yet listed), each with `reason`:
    /// what `--write-accepted` writes.
    pub fn with(&self, differences: &[QueryDiff], reason: &str) -> Accepted {
        let mut out = self.clone();
        for d in differences {
            if out.reason(&d.query).is_none() {
                out.accepted.push(AcceptedEntry {
                    language: d.query.language.name().into(),
                    query: d.query.query.clone(),
                    reason: reason.into(),
                });
            }
        }
        out
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::corpus::Ask;
    use serde_json::json;

    fn q(source: Source) -> CorpusQuery {
        CorpusQuery {
            language: Language::PromQl,
            source,
            ask: Ask::Range,
            query: "up".into(),
        }
    }

    fn side(label: &str, answers: Vec<Answer>) -> SideCorpus {
        SideCorpus {
            label: label.into(),
            answers,
            ..SideCorpus::default()
        }
    }

    #[test]
    fn a_generated_difference_is_a_finding_that_fails_only_when_strict() {
        let corpus = [q(Source::Generated("promql.selector".into()))];
        let r = compare_sides(
            1,
            &corpus,
            &[
                side("b", vec![Answer::Data(json!({"result": [1]}))]),
                side("c", vec![Answer::Refused("400: bad".into())]),
            ],
            &Accepted::default(),
        );
        let d = &r.differences[0];
        assert_eq!(d.verdict, Verdict::RefusedByCandidate);
        assert!(!d.fails_gate(false));
        assert!(d.fails_gate(true));
        assert_eq!(
            r.tally[&Language::PromQl][&SourceKind::Generated].different,
            1
        );
    }

    #[test]
    fn an_accepted_difference_never_fails() {
        let corpus = [q(Source::User("q.txt".into()))];
        let accepted = Accepted::parse(
            "[[accepted]]\nlanguage = \"promql\"\nquery = \"up\"\nreason = \"expected\"\n",
        )
        .unwrap();
        let r = compare_sides(
            1,
            &corpus,
            &[
                side("b", vec![Answer::Data(json!({"result": [1]}))]),
                side("c", vec![Answer::Data(json!({"result": [2]}))]),
            ],
            &accepted,
        );
        assert_eq!(r.differences[0].accepted.as_deref(), Some("expected"));
        assert!(!r.differences[0].fails_gate(true));
        // Written back, the file lists it once.
        assert_eq!(accepted.with(&r.differences, "again").accepted.len(), 1);
    }

    #[test]
    fn identical_empty_and_refused_are_counted_apart() {
        let corpus = [
            q(Source::Generated("a".into())),
            q(Source::Generated("b".into())),
            q(Source::Generated("c".into())),
        ];
        let answers = vec![
            Answer::Data(json!({"result": [1]})),
            Answer::Data(json!({"result": []})),
            Answer::Refused("400".into()),
        ];
        let r = compare_sides(
            1,
            &corpus,
            &[side("b", answers.clone()), side("c", answers)],
            &Accepted::default(),
        );
        let t = r.tally[&Language::PromQl][&SourceKind::Generated];
        assert_eq!(
            (t.total, t.identical, t.both_empty, t.both_refused),
            (3, 1, 1, 1)
        );
    }

    #[test]
    fn config_compat_lists_changed_defaults_and_refused_keys() {
        use crate::core::component::Component;
        let b = Ok(
            "server:\n  http_listen_port: 80\nquery_frontend:\n  querier_forget_delay: 0s\n"
                .to_owned(),
        );
        let c = Ok("server:\n  http_listen_port: 3200\n".to_owned());
        // The line as Tempo 2.7.2 logs it when the 2.6 config sets a removed key.
        let log = "failed parsing config: failed to parse configFile /conf/tempo.yaml: yaml: unmarshal errors:\n  line 12: field querier_forget_delay not found in type frontend.Config";
        let compat = config_compat(Component::Tempo, Some(&b), Some(&c), Some(log));
        assert_eq!(compat.counts(), (1, 0, 1));
        assert_eq!(compat.refused[0].field, "querier_forget_delay");
        let removed = crate::core::changes::by_id("tempo-2.7-querier-forget-delay-removed");
        if let Some(change) = removed {
            assert!(config_shows(change, std::slice::from_ref(&compat)));
        }
        let missing = config_compat(Component::Tempo, Some(&b), None, None);
        assert_eq!(missing.error.as_deref(), Some("candidate: not running"));
    }

    #[test]
    fn a_side_that_lost_part_of_the_workload_is_named() {
        let mut s = side("candidate", vec![]);
        s.controls.insert(
            Language::LogQl,
            Control {
                expected: 270,
                visible: 260,
                settled_ms: None,
                error: None,
            },
        );
        let r = compare_sides(1, &[], &[side("baseline", vec![]), s], &Accepted::default());
        assert_eq!(r.incomplete.len(), 1);
        assert_eq!(r.incomplete[0].side, "candidate");
    }
}

/// What the gate saw of one named upstream change its upgrade crosses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum NamedStatus {
    /// Its probe's answer changed: the change is shown, at this release.
    Shown {
        /// The label of the side where the probe's answer first changed.
        first_release: String,
    },
    /// Its probe answered the same on every side, or its key's default did not
    /// differ: not reproduced here.
    NotShown {
        /// How the probe answered (identical, both empty, both refused).
        how: String,
    },
    /// A configuration change (a default or a removed key) the served defaults did
    /// not show (the component's defaults were not compared, or the key is spelt
    /// differently there): listed from the release notes.
    Configuration,
    /// No probe can show it with the gate's workload; listed from the release notes.
    Documented {
        /// Why it cannot be probed.
        reason: String,
    },
}

/// One named change the gate's upgrade crosses, and what the gate saw of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedFinding {
    /// The change, from the catalogue ([`super::changes`]).
    pub change: super::changes::NamedChange,
    /// Its upstream pull request's address.
    pub url: String,
    /// What the gate saw.
    #[serde(flatten)]
    pub status: NamedStatus,
}

/// What the gate saw of each change in `crossed` (the changes its sides' versions
/// cross), from the corpus's differences and the configuration compared.
pub fn named_findings(
    corpus: &CorpusReport,
    corpus_queries: &[CorpusQuery],
    crossed: &[&'static super::changes::NamedChange],
    config: &[ConfigCompat],
) -> Vec<NamedFinding> {
    use super::changes::Probe;
    crossed
        .iter()
        .map(|c| {
            let status = match c.probe {
                Probe::Query { language, query } => {
                    let same = |q: &CorpusQuery| {
                        q.language == language
                            && q.query.split_whitespace().eq(query.split_whitespace())
                    };
                    match corpus.differences.iter().find(|d| same(&d.query)) {
                        Some(d) => NamedStatus::Shown {
                            first_release: d.first_release.clone(),
                        },
                        None if corpus.not_compared.contains(&language) => NamedStatus::NotShown {
                            how: "not compared: the backend did not run on every side".into(),
                        },
                        None if corpus_queries.iter().any(same) => NamedStatus::NotShown {
                            how: "the probe answered the same on every side".into(),
                        },
                        None => NamedStatus::NotShown {
                            how: "the probe was not asked".into(),
                        },
                    }
                }
                Probe::Default { .. } | Probe::RemovedKey { .. } if config_shows(c, config) => {
                    NamedStatus::Shown {
                        first_release: "candidate (served defaults)".into(),
                    }
                }
                Probe::Default { .. } | Probe::RemovedKey { .. } => NamedStatus::Configuration,
                Probe::Documented { reason } => NamedStatus::Documented {
                    reason: reason.into(),
                },
            };
            NamedFinding {
                change: **c,
                url: c.url(),
                status,
            }
        })
        .collect()
}

/// The changes a query's difference is explained by, among `crossed`.
pub fn explained_by(
    d: &QueryDiff,
    crossed: &[&'static super::changes::NamedChange],
) -> Vec<&'static super::changes::NamedChange> {
    crossed
        .iter()
        .filter(|c| {
            c.probe.query().is_some_and(|(l, q)| {
                l == d.query.language && q.split_whitespace().eq(d.query.query.split_whitespace())
            })
        })
        .copied()
        .collect()
}

/// One gated component's configuration compared across the gate: the defaults it
/// serves on each side, and the keys the candidate refused in the configuration it
/// was started with (the baseline's, unless `--candidate-config` gave another).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigCompat {
    /// The component.
    pub component: super::component::Component,
    /// Every default that differs (changed, added or removed), by key.
    pub default_changes: Vec<super::config_diff::DefaultChange>,
    /// The keys the candidate refused at start-up, with its own log line.
    pub refused: Vec<super::config_diff::RefusedKey>,
    /// Why the defaults could not be compared (a side did not serve them).
    pub error: Option<String>,
}

impl ConfigCompat {
    /// How many defaults changed value, were added and were removed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for d in &self.default_changes {
            match (&d.baseline, &d.candidate) {
                (Some(_), Some(_)) => c.0 += 1,
                (None, Some(_)) => c.1 += 1,
                _ => c.2 += 1,
            }
        }
        c
    }
}

/// The configuration of `component` compared: `baseline` and `candidate` are the
/// defaults each side served (or why not), `candidate_failure` the candidate's own
/// log line when it did not start.
pub fn config_compat(
    component: super::component::Component,
    baseline: Option<&Result<String, String>>,
    candidate: Option<&Result<String, String>>,
    candidate_failure: Option<&str>,
) -> ConfigCompat {
    use super::config_diff::{diff_defaults, flatten, refused_keys};
    let refused = candidate_failure
        .map(|log| refused_keys(component, log))
        .unwrap_or_default();
    let flat = |side: &str, r: Option<&Result<String, String>>| match r {
        Some(Ok(text)) => flatten(text).map_err(|e| format!("{side}: {e}")),
        Some(Err(e)) => Err(format!("{side}: {e}")),
        None => Err(format!("{side}: not running")),
    };
    match (flat("baseline", baseline), flat("candidate", candidate)) {
        (Ok(b), Ok(c)) => ConfigCompat {
            component,
            default_changes: diff_defaults(&b, &c),
            refused,
            error: None,
        },
        (Err(e), _) | (_, Err(e)) => ConfigCompat {
            component,
            default_changes: Vec::new(),
            refused,
            error: Some(e),
        },
    }
}

/// Whether a configuration change's probe (a default or a removed key) shows in
/// `config`: the key's default differs, or the key exists on the baseline only.
pub fn config_shows(change: &super::changes::NamedChange, config: &[ConfigCompat]) -> bool {
    use super::changes::Probe;
    let role = change.project.role();
    let Some(c) = config.iter().find(|c| c.component == role) else {
        return false;
    };
    match change.probe {
        Probe::Default { key } => c.default_changes.iter().any(|d| d.key == key),
        Probe::RemovedKey { key } => {
            c.default_changes
                .iter()
                .any(|d| d.key == key && d.baseline.is_some() && d.candidate.is_none())
                || c.refused
                    .iter()
                    .any(|r| key.rsplit('.').next() == Some(r.field.as_str()))
        }
        _ => false,
    }
}
