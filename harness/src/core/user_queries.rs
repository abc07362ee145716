//! The user's own queries for the gate's corpus (`lgtm-check gate --queries PATH`):
//! a plain queries file, a Grafana dashboard's JSON, or a Prometheus, Loki or Mimir
//! rule file. Pure: the caller reads the file and passes its text.
//!
//! - **Queries file** (any other extension): one query per line, prefixed by its
//!   language — `logql: …`, `traceql: …`, `promql: …`; blank lines and `#` comments
//!   are skipped.
//! - **Dashboard** (`.json`): every panel target of a Prometheus, Loki or Tempo
//!   datasource; Grafana's interval variables become `1m` (`$__interval`,
//!   `$__rate_interval`, `$__auto`) and `5m` (`$__range`), every other variable `.+`.
//! - **Rule file** (`.yaml`, `.yml`): every `groups[].rules[].expr`; LogQL when the
//!   path is prefixed `logql=` (or names `loki`), else PromQL.
//!
//! Main items: [`parse`], [`UserQueryError`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::corpus::{Ask, CorpusQuery, Language, Source};
use super::dashboard::{self, TargetQuery};

/// A file the gate cannot take its queries from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserQueryError {
    /// A line of a queries file without a known language prefix.
    #[error(
        "{path}:{line}: expected `logql:`, `traceql:` or `promql:` before the query, found `{text}`"
    )]
    Prefix {
        /// The file.
        path: String,
        /// The line number (1-based).
        line: usize,
        /// The line as written.
        text: String,
    },
    /// A dashboard or rule file that does not parse.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A file that holds no query.
    #[error("{path}: no query in it")]
    Empty {
        /// The file.
        path: String,
    },
}

/// TraceQL metrics functions: a query that pipes into one is asked as a TraceQL
/// metrics range query, any other as a search.
const TRACE_METRICS: [&str; 9] = [
    "rate(",
    "count_over_time(",
    "quantile_over_time(",
    "histogram_over_time(",
    "min_over_time(",
    "max_over_time(",
    "avg_over_time(",
    "sum_over_time(",
    "compare(",
];

/// How a user's query in `language` is asked.
pub fn ask_for(language: Language, query: &str) -> Ask {
    match language {
        Language::TraceQl => {
            let compact: String = query.split_whitespace().collect();
            if TRACE_METRICS
                .iter()
                .any(|f| compact.contains(&format!("|{f}")))
            {
                Ask::TraceMetrics
            } else {
                Ask::Search
            }
        }
        _ => Ask::Range,
    }
}

fn query(language: Language, source: &str, text: &str) -> CorpusQuery {
    CorpusQuery {
        language,
        source: Source::User(source.to_owned()),
        ask: ask_for(language, text),
        query: text.trim().to_owned(),
    }
}

/// Grafana's variables made concrete for asking a backend.
fn concrete(q: &str) -> String {
    let intervals = BTreeMap::from([
        ("__interval".to_owned(), "1m".to_owned()),
        ("__rate_interval".to_owned(), "1m".to_owned()),
        ("__auto".to_owned(), "1m".to_owned()),
        ("__range".to_owned(), "5m".to_owned()),
    ]);
    let q = dashboard::render(q, &intervals);
    // `label="$var"` matches any value; any other variable is `.+`.
    let eq = regex::Regex::new(r#"([^!=~<>])=\s*"(\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*)""#)
        .expect("a valid regex");
    let q = eq.replace_all(&q, r#"${1}=~".+""#).into_owned();
    let re = regex::Regex::new(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\]")
        .expect("a valid regex");
    re.replace_all(&q, ".+").into_owned()
}

/// The queries of one file. `path` is how the user named it, with an optional
/// `logql=`, `traceql=` or `promql=` prefix that sets the language of a rule file;
/// `text` is its content.
///
/// ```
/// use lgtm_check::core::corpus::{Ask, Language};
/// use lgtm_check::core::user_queries::parse;
///
/// let text = "# ours\nlogql: sum by (service_name) (rate({job=\"lgtm-gate\"}[5m]))\n\
///             traceql: { span.http.route =~ \"/api/.*\" } | rate()\n";
/// let q = parse("ci/queries.txt", text).unwrap();
/// assert_eq!(q.len(), 2);
/// assert_eq!(q[1].language, Language::TraceQl);
/// assert_eq!(q[1].ask, Ask::TraceMetrics);
/// ```
pub fn parse(path: &str, text: &str) -> Result<Vec<CorpusQuery>, UserQueryError> {
    let (hint, file) = match path.split_once('=') {
        Some((l, p)) if Language::from_name(l).is_some() => (Language::from_name(l), p),
        _ => (None, path),
    };
    let lower = file.to_ascii_lowercase();
    let out = if lower.ends_with(".json") {
        dashboard_queries(file, text)?
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        let language = hint.unwrap_or(if lower.contains("loki") {
            Language::LogQl
        } else {
            Language::PromQl
        });
        rule_queries(file, text, language)?
    } else {
        plain_queries(file, text)?
    };
    if out.is_empty() {
        return Err(UserQueryError::Empty { path: file.into() });
    }
    Ok(out)
}

fn plain_queries(path: &str, text: &str) -> Result<Vec<CorpusQuery>, UserQueryError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (language, q) = t
            .split_once(':')
            .and_then(|(l, q)| Language::from_name(l).map(|l| (l, q)))
            .filter(|(_, q)| !q.trim().is_empty())
            .ok_or_else(|| UserQueryError::Prefix {
                path: path.into(),
                line: i + 1,
                text: t.into(),
            })?;
        out.push(query(language, path, q));
    }
    Ok(out)
}

fn dashboard_queries(path: &str, text: &str) -> Result<Vec<CorpusQuery>, UserQueryError> {
    let d = dashboard::parse(text, &[]).map_err(|e| UserQueryError::Parse {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let mut out: Vec<CorpusQuery> = d
        .targets
        .iter()
        .filter(|t| !t.query.text().trim().is_empty())
        .map(|t| {
            let language = match &t.query {
                TargetQuery::PromQl(_) => Language::PromQl,
                TargetQuery::LogQl(_) => Language::LogQl,
                TargetQuery::TraceQl(_) => Language::TraceQl,
            };
            query(language, path, &concrete(t.query.text()))
        })
        .collect();
    out.dedup();
    Ok(out)
}

fn rule_queries(
    path: &str,
    text: &str,
    language: Language,
) -> Result<Vec<CorpusQuery>, UserQueryError> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| UserQueryError::Parse {
        path: path.into(),
        reason: e.to_string(),
    })?;
    let groups =
        doc.get("groups")
            .and_then(Value::as_array)
            .ok_or_else(|| UserQueryError::Parse {
                path: path.into(),
                reason: "no `groups:` list (a Prometheus, Loki or Mimir rule file has one)".into(),
            })?;
    Ok(groups
        .iter()
        .flat_map(|g| {
            g.get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| r.get("expr").and_then(Value::as_str).map(str::to_owned))
        .map(|e| query(language, path, &e))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_without_a_language_is_named_with_its_number() {
        let e = parse("q.txt", "promql: up\nrate(x[1m])\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "q.txt:2: expected `logql:`, `traceql:` or `promql:` before the query, found `rate(x[1m])`"
        );
    }

    #[test]
    fn rule_files_give_every_expr_in_the_language_of_their_prefix() {
        let rules = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(rate({job=\"x\"}[5m])) > 1\n  - record: r\n    expr: count_over_time({job=\"x\"}[1m])\n";
        let q = parse("logql=ci/rules.yaml", rules).unwrap();
        assert_eq!(q.len(), 2);
        assert!(q.iter().all(|q| q.language == Language::LogQl));
        assert_eq!(q[0].source, Source::User("ci/rules.yaml".into()));
        let p = parse("ci/alerts.yml", rules).unwrap();
        assert!(p.iter().all(|q| q.language == Language::PromQl));
    }

    #[test]
    fn dashboard_variables_are_made_concrete() {
        let d = r#"{"uid":"u","title":"t","schemaVersion":39,"panels":[{"id":1,"type":"timeseries","title":"p",
            "datasource":{"type":"prometheus","uid":"mimir"},
            "targets":[{"refId":"A","expr":"sum(rate(http_requests_total{service=\"$service\"}[$__rate_interval]))"}]}]}"#;
        let q = parse("dash.json", d).unwrap();
        assert_eq!(
            q[0].query,
            "sum(rate(http_requests_total{service=~\".+\"}[1m]))"
        );
        assert_eq!(q[0].language, Language::PromQl);
    }

    #[test]
    fn an_empty_file_is_an_error_not_an_empty_pass() {
        assert_eq!(
            parse("q.txt", "# nothing\n").unwrap_err(),
            UserQueryError::Empty {
                path: "q.txt".into()
            }
        );
    }
}
