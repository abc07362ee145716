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
