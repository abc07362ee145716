//! The gate's query corpus: every query both sides of an upgrade answer, and the
//! comparison of their answers. Plain data and pure functions.
//!
//! Main items: [`Language`], [`Source`].

use serde::Serialize;

/// The query language of a corpus query, which decides the backend that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Loki's LogQL (log queries and metric queries over logs).
    LogQl,
    /// Tempo's TraceQL (search, and TraceQL metrics).
    TraceQl,
    /// PromQL, answered by the Mimir role.
    PromQl,
}

impl Language {
    /// Every language, in report order.
    pub const ALL: [Language; 3] = [Language::LogQl, Language::TraceQl, Language::PromQl];

    /// `logql`, `traceql` or `promql`: the prefix a queries file uses.
    ///
    /// ```
    /// use lgtm_check::core::corpus::Language;
    /// assert_eq!(Language::TraceQl.name(), "traceql");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Language::LogQl => "logql",
            Language::TraceQl => "traceql",
            Language::PromQl => "promql",
        }
    }

    /// The language of a prefix, as [`Language::name`] spells it (any case).
    pub fn from_name(name: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Where a corpus query comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Source {
    /// Generated from a template over the gate's workload (the template's name).
    Generated(String),
    /// The probe of a named upstream change (its id).
    NamedChange(String),
    /// The user's own: a queries file, a dashboard or a rule file (its path).
    User(String),
}

/// How a corpus query is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ask {
    /// An instant query at the window's end (LogQL and PromQL metric queries).
    Instant,
    /// A range query over the window (log queries forward, at most 1,000 lines;
    /// metric queries at a 30 s step).
    Range,
    /// A TraceQL search over the window (at most 200 traces, 100 spans per spanset).
    Search,
    /// A TraceQL metrics range query over the window (60 s step).
    TraceMetrics,
}

/// A query template: a pattern with `%axis%` placeholders and the values of each
/// axis, expanded as a product (as the PromQL compliance tester's cases are).
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// The template's name, which the report groups differences by.
    pub name: &'static str,
    /// Its language.
    pub language: Language,
    /// How its queries are asked.
    pub ask: Ask,
    /// The pattern, e.g. `%fn%(gate_inflight_requests[%range%])`.
    pub pattern: &'static str,
    /// Each axis: its name (as in the pattern, without the `%`) and its values.
    pub axes: &'static [(&'static str, &'static [&'static str])],
}

/// One query of the corpus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CorpusQuery {
    /// Its language.
    pub language: Language,
    /// Where it comes from (the template's name, the named change's id, the user's file).
    pub source: Source,
    /// How it is asked.
    pub ask: Ask,
    /// The query text.
    pub query: String,
}

impl Template {
    /// Every query of the template: the product of its axes, in order.
    ///
    /// ```
    /// use lgtm_check::core::corpus::{Ask, Language, Template};
    ///
    /// let t = Template {
    ///     name: "range_fn",
    ///     language: Language::PromQl,
    ///     ask: Ask::Range,
    ///     pattern: "%fn%(gate_inflight_requests[%range%])",
    ///     axes: &[("fn", &["rate", "delta"]), ("range", &["1m", "5m"])],
    /// };
    /// let q: Vec<String> = t.expand().into_iter().map(|q| q.query).collect();
    /// assert_eq!(q, [
    ///     "rate(gate_inflight_requests[1m])",
    ///     "rate(gate_inflight_requests[5m])",
    ///     "delta(gate_inflight_requests[1m])",
    ///     "delta(gate_inflight_requests[5m])",
    /// ]);
    /// ```
    pub fn expand(&self) -> Vec<CorpusQuery> {
        let mut texts = vec![self.pattern.to_owned()];
        for (axis, values) in self.axes {
            let placeholder = format!("%{axis}%");
            texts = texts
                .into_iter()
                .flat_map(|t| {
                    values
                        .iter()
                        .map(|v| t.replace(&placeholder, v))
                        .collect::<Vec<_>>()
                })
                .collect();
        }
        texts
            .into_iter()
            .map(|query| CorpusQuery {
                language: self.language,
                source: Source::Generated(self.name.to_owned()),
                ask: self.ask,
                query,
            })
            .collect()
    }
}
