//! A check: what to ask which backend, and what the answer must be. Every query
//! carries the time it is evaluated at or the window it covers, fixed by the run, so
//! that its answer does not depend on when it is asked.
//!
//! Main types: [`Check`], [`Control`], [`Query`], [`EvalAt`], [`Window`], [`Signal`];
//! main function: [`settled_at`].

use serde::Serialize;

use super::component::Component;
use super::expect::Expectation;

/// The kind of telemetry a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Metric series (Prometheus, Mimir, Tempo's TraceQL metrics), and the
    /// configuration and Grafana checks of metric components.
    Metrics,
    /// Log lines (Loki).
    Logs,
    /// Traces and spans (Tempo).
    Traces,
}

/// When a PromQL query is evaluated: always at a time fixed by the run, never at the
/// moment the query happens to be sent, so that a check's answer does not depend on
/// when it is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalAt {
    /// At this time (Unix milliseconds).
    Fixed {
        /// The evaluation time, in Unix milliseconds.
        unix_ms: u64,
    },
    /// At the run's settled sample: the raw samples of `probe` in the range of
    /// `range_secs` ending at `probe_at_unix_ms` (`probe[range]` evaluated there) are
    /// read, and the query is evaluated at the timestamp of the first sample from which
    /// every series holds its last value ([`settled_at`]). That time depends only on
    /// the stored samples: a range ending there ends on a sample (no extrapolation at
    /// its end), and, when the range holds the zero sample scraped before the
    /// workload, starts from it (none at its start either).
    Settled {
        /// The series selector whose raw samples are read.
        probe: String,
        /// The end of the range read (Unix milliseconds).
        probe_at_unix_ms: u64,
        /// The length of the range read, in seconds.
        range_secs: u64,
        /// Every series must start from a zero sample (as the rate checks need).
        from_zero: bool,
    },
}

impl EvalAt {
    /// How the evaluation time is shown in reports.
    ///
    /// ```
    /// use lgtm_check::core::check::EvalAt;
    /// let at = EvalAt::Fixed { unix_ms: 1_732_540_002_000 };
    /// assert_eq!(at.describe(), "at 1732540002.000");
    /// ```
    pub fn describe(&self) -> String {
        match self {
            EvalAt::Fixed { unix_ms } => format!("at {}", unix_seconds(*unix_ms)),
            EvalAt::Settled {
                probe,
                probe_at_unix_ms,
                range_secs,
                ..
            } => format!(
                "at the first sample of {probe}[{range_secs}s] @ {} from which every series holds its last value",
                unix_seconds(*probe_at_unix_ms)
            ),
        }
    }
}

/// Unix milliseconds as the seconds PromQL and LogQL take: `1732540002.000`.
///
/// ```
/// use lgtm_check::core::check::unix_seconds;
/// assert_eq!(unix_seconds(1_732_540_002_005), "1732540002.005");
/// ```
pub fn unix_seconds(unix_ms: u64) -> String {
    format!("{}.{:03}", unix_ms / 1000, unix_ms % 1000)
}

/// The first timestamp (Unix seconds) from which every series of a raw-sample answer
/// (`probe[range]` evaluated at a fixed time) holds the last value it has in the
/// answer, or why there is none. With `from_zero`, each series must start from zero
/// (the sample scraped before the workload), or a rate over it would be extrapolated.
///
/// `series` is each series' labels with its `(unix_seconds, value)` points, oldest
/// first.
///
/// ```
/// use lgtm_check::core::check::settled_at;
/// use lgtm_check::core::expect::Labels;
///
/// let points = vec![(100.0, 0.0), (101.0, 12.0), (102.0, 37.0), (103.0, 37.0)];
/// let series = [(Labels::new(), points)];
/// // 37 is the last value, held from 102 on.
/// assert_eq!(settled_at(&series, true), Ok(102.0));
/// ```
pub fn settled_at(
    series: &[(super::expect::Labels, Vec<(f64, f64)>)],
    from_zero: bool,
) -> Result<f64, Unsettled> {
    if series.is_empty() {
        return Err(Unsettled::NotYet("no sample of the run yet".into()));
    }
    let mut at = f64::NEG_INFINITY;
    for (labels, points) in series {
        let name = super::expect::fmt_labels(labels);
        let Some(&(_, last)) = points.last() else {
            return Err(Unsettled::NotYet(format!("{name} has no sample yet")));
        };
        if from_zero && points[0].1 != 0.0 {
            return Err(Unsettled::NoZero(format!(
                "the first sample of {name} is {}, not the zero scraped before the workload",
                points[0].1
            )));
        }
        let from = points
            .iter()
            .rev()
            .take_while(|(_, v)| *v == last)
            .last()
            .map(|(t, _)| *t)
            .unwrap_or(f64::NEG_INFINITY);
        at = at.max(from);
    }
    Ok(at)
}

/// Why a raw-sample answer has no settled sample ([`settled_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsettled {
    /// Not yet: a series has no sample, or none has come.
    NotYet(String),
    /// Never: a series' first sample is not its zero. Samples of a series are
    /// stored in order (a later one never precedes an earlier one), so the zero
    /// cannot come after it: the scrape that carried it was not stored.
    NoZero(String),
}

impl std::fmt::Display for Unsettled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsettled::NotYet(why) | Unsettled::NoZero(why) => f.write_str(why),
        }
    }
}

/// The time range a log or trace query covers, in Unix milliseconds: fixed from the
/// run's manifest (log lines and spans carry their emission times), never extended to
/// the moment of the query.
///
/// ```
/// use lgtm_check::core::check::Window;
/// let w = Window { start_unix_ms: 1_732_540_002_500, end_unix_ms: 1_732_540_003_200 };
/// // Tempo takes whole seconds: the window is widened, never cut.
/// assert_eq!(w.seconds(), (1_732_540_002, 1_732_540_004));
/// assert_eq!(w.nanos().0, 1_732_540_002_500_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (Unix milliseconds).
    pub start_unix_ms: u64,
    /// End (Unix milliseconds).
    pub end_unix_ms: u64,
}

impl Window {
    /// The bounds in Unix nanoseconds (Loki's `start`, `end`).
    pub fn nanos(&self) -> (u128, u128) {
        (
            self.start_unix_ms as u128 * 1_000_000,
            self.end_unix_ms as u128 * 1_000_000,
        )
    }

    /// The bounds in whole Unix seconds, widened to cover the window (Tempo's
    /// `start`, `end`).
    pub fn seconds(&self) -> (u64, u64) {
        (self.start_unix_ms / 1000, self.end_unix_ms.div_ceil(1000))
    }

    fn describe(&self) -> String {
        format!(
            "from {} to {}",
            unix_seconds(self.start_unix_ms),
            unix_seconds(self.end_unix_ms)
        )
    }
}

/// A query in a backend's own language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A PromQL instant query to the check's component (Prometheus or the Mimir
    /// role): the series and their values.
    PromQl {
        /// The PromQL expression.
        expr: String,
        /// When it is evaluated.
        at: EvalAt,
    },
    /// The exemplars of the series a PromQL selector picks, over the window
    /// (`/api/v1/query_exemplars`): the trace ids they carry.
    Exemplars {
        /// The series selector, e.g. `{__name__="latency_seconds_bucket"}`.
        expr: String,
        /// The time range read.
        window: Window,
    },
    /// A LogQL log query over the window: the lines.
    LogQlLines {
        /// The LogQL log query (a stream selector with any pipeline).
        expr: String,
        /// The time range whose lines are read.
        window: Window,
    },
    /// A LogQL metric query, evaluated at `at_unix_ms`.
    LogQlMetric {
        /// The LogQL metric query (`count_over_time(…)`, `rate(…)`, …).
        expr: String,
        /// The evaluation time, in Unix milliseconds.
        at_unix_ms: u64,
    },
    /// A TraceQL search over the window: the traces found.
    TraceQlSearch {
        /// The TraceQL query.
        query: String,
        /// The time range searched (sent to Tempo in whole seconds).
        window: Window,
    },
    /// A TraceQL metrics query over the window: each series' total.
    TraceQlMetrics {
        /// The TraceQL metrics query (`{…} | rate() by (…)`).
        query: String,
        /// The time range covered (sent to Tempo in whole seconds).
        window: Window,
    },
    /// Each trace fetched by id (`/api/traces/<id>`).
    TracesById {
        /// The trace ids, in hex, as the manifest records them.
        ids: Vec<String>,
    },
    /// A field of the component's effective configuration (the YAML it serves).
    ConfigField {
        /// A dotted path in that YAML, e.g. `limits_config.retention_period`.
        field: String,
    },
    /// Nothing can be asked: the check is reported skipped with this reason.
    NotPossible {
        /// Why the check cannot be run; shown as the skip reason.
        reason: String,
    },
    /// Grafana's `/api/health`: its version.
    GrafanaHealth,
    /// A datasource's own health check through Grafana: its status.
    GrafanaDatasourceHealth {
        /// The datasource's uid (`loki`, `tempo`, `mimir`).
        uid: String,
    },
    /// The dashboard Grafana serves (`/api/dashboards/uid/:uid`, found by title
    /// through `/api/search` where it has no uid): its targets, one per line
    /// ([`crate::core::catalog_grafana::targets_summary`]).
    GrafanaDashboard {
        /// The dashboard's uid, when the provisioned JSON has one.
        uid: Option<String>,
        /// The dashboard's title, to find it by when it has no uid.
        title: String,
    },
    /// One dashboard target through Grafana's `/api/ds/query` over the window.
    GrafanaDsQuery {
        /// The uid of the datasource Grafana runs the query with.
        datasource_uid: String,
        /// The target's query, in its datasource's language.
        query: crate::core::dashboard::TargetQuery,
        /// The time range queried.
        window: Window,
    },
    /// For each trace id, the lines `{selector} | json | trace_id="<id>"`.
    LogQlByTraceId {
        /// The LogQL stream selector, e.g. `{run_id="…"}`.
        selector: String,
        /// The trace ids whose lines are fetched, in hex.
        ids: Vec<String>,
        /// The time range whose lines are read.
        window: Window,
    },
}

impl Query {
    /// The path a query reads the data by, for checks whose answers settle together
    /// (`traceql search`, `promql`, …); `None` for configuration and Grafana reads,
    /// which no other check's pass says anything about.
    ///
    /// ```
    /// use lgtm_check::core::check::Query;
    /// assert_eq!(Query::TracesById { ids: vec![] }.family(), Some("traces by id"));
    /// assert_eq!(Query::GrafanaHealth.family(), None);
    /// ```
    pub fn family(&self) -> Option<&'static str> {
        Some(match self {
            Query::PromQl { .. } => "promql",
            Query::Exemplars { .. } => "exemplars",
            Query::LogQlLines { .. } => "logql lines",
            Query::LogQlMetric { .. } => "logql metric",
            Query::TraceQlSearch { .. } => "traceql search",
            Query::TraceQlMetrics { .. } => "traceql metrics",
            Query::TracesById { .. } => "traces by id",
            Query::LogQlByTraceId { .. } => "logql by trace id",
            Query::ConfigField { .. }
            | Query::NotPossible { .. }
            | Query::GrafanaHealth
            | Query::GrafanaDatasourceHealth { .. }
            | Query::GrafanaDashboard { .. }
            | Query::GrafanaDsQuery { .. } => return None,
        })
    }

    /// The query text, as shown in reports, with the time it is evaluated at or the
    /// window it covers.
    pub fn text(&self) -> String {
        match self {
            Query::PromQl { expr, at } => format!("{expr} ({})", at.describe()),
            Query::LogQlMetric { expr, at_unix_ms } => {
                format!("{expr} (at {})", unix_seconds(*at_unix_ms))
            }
            Query::LogQlLines { expr, window } => format!("{expr} ({})", window.describe()),
            Query::Exemplars { expr, window } => {
                format!("exemplars of {expr} ({})", window.describe())
            }
            Query::TraceQlSearch { query, window } | Query::TraceQlMetrics { query, window } => {
                format!("{query} ({})", window.describe())
            }
            Query::ConfigField { field } => format!("effective config: {field}"),
            Query::NotPossible { .. } => "-".into(),
            Query::GrafanaHealth => "GET /api/health".into(),
            Query::GrafanaDashboard { uid: Some(uid), .. } => {
                format!("GET /api/dashboards/uid/{uid}")
            }
            Query::GrafanaDashboard { uid: None, title } => {
                format!("GET /api/search?query={title}, then /api/dashboards/uid/<uid>")
            }
            Query::GrafanaDatasourceHealth { uid } => {
                format!("GET /api/datasources/uid/{uid}/health")
            }
            Query::GrafanaDsQuery {
                datasource_uid,
                query,
                window,
            } => format!(
                "POST /api/ds/query ({datasource_uid}): {} ({})",
                query.text(),
                window.describe()
            ),
            Query::TracesById { ids } => {
                format!("GET /api/traces/<id> for {} trace ids", ids.len())
            }
            Query::LogQlByTraceId {
                selector,
                ids,
                window,
            } => format!(
                "{selector} | json | trace_id=\"<id>\" for {} trace ids ({})",
                ids.len(),
                window.describe()
            ),
        }
    }
}

/// One check of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Stable id, e.g. `metrics.http_requests_total.exact`.
    pub id: String,
    /// What the check verifies, in a sentence, as the report shows it.
    pub title: String,
    /// The kind of telemetry it is about.
    pub signal: Signal,
    /// The component whose API is queried.
    pub component: Component,
    /// Every component the data passes through; if one is skipped, so is the check.
    pub needs: Vec<Component>,
    /// What is asked, fixed to the run's time or window.
    pub query: Query,
    /// The guide's query, where ours differs from it.
    pub guide_original: Option<String>,
    /// What the answer must be for the check to pass.
    pub expect: Expectation,
    /// The positive control of a negative check ("matches nothing", "no series
    /// with …"): asked in the same poll, it must return the run's data, or the
    /// negative answer proves nothing. Every negative check has one (the catalog
    /// refuses one without: [`crate::core::catalog::validate`]).
    pub control: Option<Control>,
}

/// A query on the same backend and time range as its negative check, without the
/// defect, and what it must return (the run's data).
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// The check's query without its defect, on the same evaluation time or window.
    pub query: Query,
    /// What the control must return (the run's data); if it does not, the check
    /// cannot pass.
    pub expect: Expectation,
}

impl Query {
    /// The same query (same kind, evaluation time or window) with another expression:
    /// a control differs from its check only in the defect. Queries without an
    /// expression (by id, configuration, Grafana) are returned unchanged.
    ///
    /// ```
    /// use lgtm_check::core::check::{Query, Window};
    ///
    /// let window = Window { start_unix_ms: 1_000, end_unix_ms: 2_000 };
    /// let check = Query::LogQlLines { expr: r#"{job="typo"}"#.into(), window };
    /// let control = check.with_text(r#"{job="app"}"#);
    /// assert_eq!(control, Query::LogQlLines { expr: r#"{job="app"}"#.into(), window });
    /// ```
    pub fn with_text(&self, text: impl Into<String>) -> Query {
        let mut q = self.clone();
        let text = text.into();
        match &mut q {
            Query::PromQl { expr, .. }
            | Query::Exemplars { expr, .. }
            | Query::LogQlLines { expr, .. }
            | Query::LogQlMetric { expr, .. } => *expr = text,
            Query::TraceQlSearch { query, .. } | Query::TraceQlMetrics { query, .. } => {
                *query = text
            }
            _ => {}
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::expect::Labels;

    fn series(points: &[(f64, f64)]) -> (Labels, Vec<(f64, f64)>) {
        (
            Labels::from([("status".to_string(), "200".to_string())]),
            points.to_vec(),
        )
    }

    /// What a backend answers to `probe[range]` at `at`: the stored samples in
    /// `(at - range, at]`.
    fn raw_samples(stored: &[(f64, f64)], at: f64, range: f64) -> Vec<(f64, f64)> {
        stored
            .iter()
            .copied()
            .filter(|(t, _)| *t > at - range && *t <= at)
            .collect()
    }

    #[test]
    fn the_settled_sample_does_not_move_while_the_scenario_goes_on_being_scraped() {
        // zero before the workload, two partial values, then the final 37, scraped
        // every second; the run finished (wrote its manifest) at 106.5
        let run: Vec<(f64, f64)> = vec![
            (100.0, 0.0),
            (101.0, 12.0),
            (102.0, 30.0),
            (103.0, 37.0),
            (104.0, 37.0),
            (105.0, 37.0),
        ];
        let settled = settled_at(&[series(&raw_samples(&run, 106.5, 66.0))], true).unwrap();
        assert_eq!(settled, 103.0);
        // `--hold` goes on scraping for ten minutes: the probe is at the run's fixed
        // time, so the same samples and the same time come back
        let mut held = run.clone();
        held.extend((106..706).map(|t| (t as f64, 37.0)));
        assert_eq!(
            settled_at(&[series(&raw_samples(&held, 106.5, 66.0))], true).unwrap(),
            settled
        );
        // what the old `max(timestamp(…))` at the moment of the query gave: the
        // newest sample, 10 minutes later, when [5m] no longer holds the zero
        let newest = held.iter().map(|(t, _)| *t).fold(f64::MIN, f64::max);
        assert_eq!(newest, 705.0);
        assert!(
            !raw_samples(&held, newest, 300.0)
                .iter()
                .any(|&(_, v)| v == 0.0)
        );
    }

    #[test]
    fn the_settled_sample_is_the_latest_of_the_series_and_needs_their_zero() {
        let a = series(&[(1.0, 0.0), (2.0, 5.0), (3.0, 5.0), (4.0, 5.0)]);
        let mut b = series(&[(1.0, 0.0), (2.0, 1.0), (3.0, 2.0), (4.0, 2.0)]);
        b.0.insert("status".into(), "500".into());
        assert_eq!(settled_at(&[a.clone(), b], true).unwrap(), 3.0);
        let no_zero = series(&[(2.0, 5.0), (3.0, 5.0), (4.0, 7.0)]);
        let never = settled_at(std::slice::from_ref(&no_zero), true).unwrap_err();
        assert!(matches!(never, Unsettled::NoZero(_)), "{never:?}");
        assert!(
            never
                .to_string()
                .contains("not the zero scraped before the workload")
        );
        assert!(matches!(settled_at(&[], true), Err(Unsettled::NotYet(_))));
        // A user's series that appears at its first increment: only its final value
        // matters to the exact checks.
        assert_eq!(settled_at(&[no_zero], false).unwrap(), 4.0);
        assert!(settled_at(&[], true).is_err());
        assert!(settled_at(&[], false).is_err());
    }

    #[test]
    fn reports_show_the_time_each_query_is_evaluated_at() {
        let q = Query::LogQlMetric {
            expr: "rate({a=\"b\"}[5m])".into(),
            at_unix_ms: 1_732_540_003_005,
        };
        assert_eq!(q.text(), "rate({a=\"b\"}[5m]) (at 1732540003.005)");
        let q = Query::PromQl {
            expr: "x".into(),
            at: EvalAt::Fixed { unix_ms: 7_000 },
        };
        assert_eq!(q.text(), "x (at 7.000)");
        let w = Window {
            start_unix_ms: 1_500,
            end_unix_ms: 2_001,
        };
        assert_eq!(w.nanos(), (1_500_000_000, 2_001_000_000));
        assert_eq!(w.seconds(), (1, 3));
        let q = Query::LogQlLines {
            expr: "{a=\"b\"}".into(),
            window: w,
        };
        assert_eq!(q.text(), "{a=\"b\"} (from 1.500 to 2.001)");
    }
}
