//! The check catalog, derived from manifests: every query templated with the run id
//! and every expectation computed from what the scenario says it emitted.
//!
//! Main functions: [`metrics_checks`], [`exact_metrics_checks`], [`validate`] (with [`CatalogError`]). The guide's PromQL (section "PromQL 查询示例")
//! is run with the run's selector added; the guide's own text is kept beside it.

use std::collections::BTreeMap;

use lgtm_check_recorder::manifest::{CounterSeries, HistogramSeries, Labels, Manifest};

use super::check::{Check, Control, EvalAt, Query, Signal};
use super::component::Component;
use super::expect::{Expectation, Expected, ExpectedSeries, SeriesExpectation};
use super::quantile::histogram_quantile;

/// The range of the guide's `rate(...[5m])` queries, in seconds.
pub const RATE_WINDOW_SECS: f64 = 300.0;
/// Relative tolerance for floating-point sums and ratios.
pub const FLOAT_TOLERANCE: f64 = 1e-9;

/// Labels that identify a series in the query answer: the scenario's own labels,
/// without the run-wide ones every series carries.
fn identity(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| k.as_str() != "service")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Where a run's metrics are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsVia {
    /// The Mimir role, after the whole path: scraped by Prometheus, remote-written to
    /// the Mimir role (the catalog's and `lgtm-check app`'s choice).
    Mimir,
    /// The Prometheus that scraped them (a user's stack without the Mimir role).
    Prometheus,
}

impl MetricsVia {
    /// The component asked, and every component the answer depends on.
    pub fn components(self) -> (Component, Vec<Component>) {
        match self {
            MetricsVia::Mimir => (
                Component::Mimir,
                vec![Component::Prometheus, Component::Mimir],
            ),
            MetricsVia::Prometheus => (Component::Prometheus, vec![Component::Prometheus]),
        }
    }
}

fn asked_at(
    via: MetricsVia,
    id: &str,
    title: &str,
    expr: String,
    at: EvalAt,
    guide: Option<&str>,
    series: Vec<ExpectedSeries>,
) -> Check {
    let (component, needs) = via.components();
    Check {
        id: id.into(),
        title: title.into(),
        signal: Signal::Metrics,
        component,
        needs,
        query: Query::PromQl { expr, at },
        guide_original: guide.map(str::to_owned),
        expect: Expectation::Series(SeriesExpectation {
            series,
            no_other_series: true,
        }),
        control: None,
    }
}

/// The P95 a series must answer: exactly what `histogram_quantile` computes from the
/// manifest's bucket counts (a rate over the run's whole increase has the same
/// proportions), within [`FLOAT_TOLERANCE`]. Not merely the bucket of the true P95:
/// the interpolated value is known.
fn p95_expectation(h: &HistogramSeries) -> Option<ExpectedSeries> {
    let interpolated = histogram_quantile(0.95, &h.cumulative_buckets())?;
    Some(ExpectedSeries {
        labels: identity(&h.labels),
        expected: Expected::Relative {
            value: interpolated,
            tolerance: FLOAT_TOLERANCE,
        },
    })
}

/// Margin of the settled-sample probe before the run's start, in seconds: the zero
/// sample is scraped after the scenario starts, and scrape timestamps may differ a
/// little from the scenario's clock.
const PROBE_MARGIN_SECS: u64 = 60;

/// When every metrics check of a scenario run is evaluated: at the first scraped
/// sample from which every counter and histogram series of the run holds its final
/// value, found among the raw samples up to the moment the run finished (its final
/// values were scraped before it wrote the manifest). A time that depends only on the
/// stored samples, not on when the checks run: `--hold` goes on scraping the same
/// values after it, and a `[5m]` range ending there starts from the zero sample
/// scraped before the workload and ends on a sample, so `rate()` is
/// increase / 300 s exactly.
pub fn settled(m: &Manifest) -> EvalAt {
    settled_after(m, m.finished_at_unix_ms, true)
}

/// The settled sample of the manifest's counters and histograms among the raw samples
/// up to `probe_at_unix_ms` (for a program that may be scraped after it wrote its
/// manifest: the moment it exited). `from_zero`: every series must start from a zero
/// sample, as the rate checks need; a user's program whose series appear at their
/// first increment is checked with `false` (only final values are compared).
///
/// ```
/// use lgtm_check::core::catalog::settled_after;
/// use lgtm_check::core::check::EvalAt;
/// use lgtm_check_recorder::manifest::{CounterSeries, Manifest};
///
/// let mut m = Manifest::new("my-app", "run-1", "shop");
/// m.metrics.counters.push(CounterSeries {
///     name: "orders_total".into(),
///     labels: [("run_id".to_string(), "run-1".to_string())].into(),
///     value: 3,
/// });
/// let EvalAt::Settled { probe, from_zero, .. } = settled_after(&m, 1_000, false) else {
///     unreachable!()
/// };
/// assert_eq!(probe, r#"{__name__=~"orders_total",run_id="run-1"}"#);
/// assert!(!from_zero);
/// ```
pub fn settled_after(m: &Manifest, probe_at_unix_ms: u64, from_zero: bool) -> EvalAt {
    let names: std::collections::BTreeSet<String> = m
        .metrics
        .counters
        .iter()
        .map(|c| c.name.clone())
        .chain(
            m.metrics
                .histograms
                .iter()
                .map(|h| format!("{}_count", h.name)),
        )
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    EvalAt::Settled {
        probe: format!(
            "{{__name__=~\"{}\",run_id=\"{}\"}}",
            names.join("|"),
            m.run_id
        ),
        probe_at_unix_ms,
        range_secs: probe_at_unix_ms
            .saturating_sub(m.started_at_unix_ms)
            .div_ceil(1000)
            + PROBE_MARGIN_SECS,
        from_zero,
    }
}

/// The exact checks of every counter and histogram the manifest recorded, whatever
/// their names: `metrics.<name>.exact` (every counter series with its exact value,
/// no other series of that name under the run), and per histogram
/// `metrics.<name>.count`, `.sum` and, where buckets were declared, `.buckets` (every
/// cumulative bucket count). Asked `via` the Mimir role or the scraping Prometheus,
/// evaluated `at` (see [`settled`], [`settled_after`]).
///
/// ```
/// use lgtm_check::core::catalog::{exact_metrics_checks, settled_after, MetricsVia};
/// use lgtm_check::core::check::Query;
/// use lgtm_check_recorder::manifest::{CounterSeries, Manifest};
///
/// let mut m = Manifest::new("my-app", "run-1", "shop");
/// m.metrics.counters.push(CounterSeries {
///     name: "orders_total".into(),
///     labels: [("run_id".to_string(), "run-1".to_string())].into(),
///     value: 3,
/// });
/// let at = settled_after(&m, m.finished_at_unix_ms, false);
/// let checks = exact_metrics_checks(&m, MetricsVia::Prometheus, at);
/// assert_eq!(checks[0].id, "metrics.orders_total.exact");
/// let Query::PromQl { expr, .. } = &checks[0].query else { unreachable!() };
/// assert_eq!(expr, r#"orders_total{run_id="run-1"}"#);
/// ```
pub fn exact_metrics_checks(m: &Manifest, via: MetricsVia, at: EvalAt) -> Vec<Check> {
    let run = &m.run_id;
    let mut counters: BTreeMap<&str, Vec<&CounterSeries>> = BTreeMap::new();
    for c in &m.metrics.counters {
        counters.entry(c.name.as_str()).or_default().push(c);
    }
    let mut histograms: BTreeMap<&str, Vec<&HistogramSeries>> = BTreeMap::new();
    for h in &m.metrics.histograms {
        histograms.entry(h.name.as_str()).or_default().push(h);
    }
    let mut checks = Vec::new();
    for (name, series) in counters {
        checks.push(asked_at(
            via,
            &format!("metrics.{name}.exact"),
            &format!("every {name} series arrived with its exact value"),
            format!("{name}{{run_id=\"{run}\"}}"),
            at.clone(),
            None,
            series
                .iter()
                .map(|c| ExpectedSeries {
                    labels: identity(&c.labels),
                    expected: Expected::Exact(c.value as f64),
                })
                .collect(),
        ));
    }
    for (name, series) in histograms {
        checks.push(asked_at(
            via,
            &format!("metrics.{name}.count"),
            &format!("every {name} series arrived with its exact _count"),
            format!("{name}_count{{run_id=\"{run}\"}}"),
            at.clone(),
            None,
            series
                .iter()
                .map(|h| ExpectedSeries {
                    labels: identity(&h.labels),
                    expected: Expected::Exact(h.count() as f64),
                })
                .collect(),
        ));
        checks.push(asked_at(
            via,
            &format!("metrics.{name}.sum"),
            &format!("every {name} series arrived with its _sum"),
            format!("{name}_sum{{run_id=\"{run}\"}}"),
            at.clone(),
            None,
            series
                .iter()
                .map(|h| ExpectedSeries {
                    labels: identity(&h.labels),
                    expected: Expected::Relative {
                        value: h.sum(),
                        tolerance: FLOAT_TOLERANCE,
                    },
                })
                .collect(),
        ));
        let bucketed: Vec<_> = series.iter().filter(|h| !h.buckets.is_empty()).collect();
        if bucketed.is_empty() {
            // Exposed as a summary: there are no buckets to compare.
            continue;
        }
        checks.push(asked_at(
            via,
            &format!("metrics.{name}.buckets"),
            &format!("every {name} bucket arrived with its exact cumulative count"),
            format!("{name}_bucket{{run_id=\"{run}\"}}"),
            at.clone(),
            None,
            bucketed
                .iter()
                .flat_map(|h| {
                    h.cumulative_buckets().into_iter().map(|(le, count)| {
                        let mut labels = identity(&h.labels);
                        let le = if le.is_infinite() {
                            "+Inf".to_string()
                        } else {
                            le.to_string()
                        };
                        labels.insert("le".into(), le);
                        ExpectedSeries {
                            labels,
                            expected: Expected::Exact(count as f64),
                        }
                    })
                })
                .collect(),
        ));
    }
    checks
}

/// Checks of the metrics path (scenario → Prometheus scrape → remote write → the Mimir
/// role → PromQL): the exact checks of every counter and histogram in the manifest
/// ([`exact_metrics_checks`]), then the guide's PromQL over the request counter and
/// latency histogram.
pub fn metrics_checks(m: &Manifest) -> Vec<Check> {
    let run = &m.run_id;
    let counters: Vec<_> = m
        .metrics
        .counters
        .iter()
        .filter(|c| c.name == "http_requests_total")
        .collect();
    let histograms: Vec<_> = m
        .metrics
        .histograms
        .iter()
        .filter(|h| h.name == "http_request_duration_seconds")
        .collect();
    let last = || settled(m);
    let mut checks = exact_metrics_checks(m, MetricsVia::Mimir, last());

    checks.push(asked_at(
        MetricsVia::Mimir,
        "promql.guide.request_rate",
        "guide PromQL 1: HTTP request rate per series",
        format!("rate(http_requests_total{{run_id=\"{run}\"}}[5m])"),
        last(),
        Some("rate(http_requests_total[5m])"),
        counters
            .iter()
            .map(|c| ExpectedSeries {
                labels: identity(&c.labels),
                expected: Expected::Relative {
                    value: c.value as f64 / RATE_WINDOW_SECS,
                    tolerance: FLOAT_TOLERANCE,
                },
            })
            .collect(),
    ));

    checks.push(asked_at(
        MetricsVia::Mimir,
        "promql.guide.p95_latency",
        "guide PromQL 2: P95 latency per histogram series",
        format!(
            "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{{run_id=\"{run}\"}}[5m]))"
        ),
        last(),
        Some("histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))"),
        histograms.iter().filter_map(|h| p95_expectation(h)).collect(),
    ));

    let total: u64 = counters.iter().map(|c| c.value).sum();
    let errors: u64 = counters
        .iter()
        .filter(|c| c.labels.get("status").is_some_and(|s| s.starts_with('5')))
        .map(|c| c.value)
        .sum();
    let error_ratio = if total == 0 {
        vec![]
    } else {
        vec![ExpectedSeries {
            labels: Labels::new(),
            expected: Expected::Relative {
                value: errors as f64 / total as f64,
                tolerance: FLOAT_TOLERANCE,
            },
        }]
    };
    checks.push(asked_at(
        MetricsVia::Mimir,
        "promql.guide.error_ratio",
        "guide PromQL 3: share of 5xx responses",
        format!(
            "sum(rate(http_requests_total{{run_id=\"{run}\",status=~\"5..\"}}[5m])) / sum(rate(http_requests_total{{run_id=\"{run}\"}}[5m]))"
        ),
        last(),
        Some(
            "sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))",
        ),
        error_ratio,
    ));

    let mut by_path: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &counters {
        if let Some(p) = c.labels.get("path") {
            *by_path.entry(p).or_default() += c.value;
        }
    }
    checks.push(asked_at(
        MetricsVia::Mimir,
        "promql.guide.sum_by_path",
        "guide PromQL 4: request rate summed by path",
        format!("sum by (path) (rate(http_requests_total{{run_id=\"{run}\"}}[5m]))"),
        last(),
        Some("sum by (path) (rate(http_requests_total[5m]))"),
        by_path
            .into_iter()
            .map(|(path, n)| ExpectedSeries {
                labels: Labels::from([("path".to_string(), path.to_string())]),
                expected: Expected::Relative {
                    value: n as f64 / RATE_WINDOW_SECS,
                    tolerance: FLOAT_TOLERANCE,
                },
            })
            .collect(),
    ));
    checks.push(asked_at(
        MetricsVia::Mimir,
        "promql.process_cpu",
        "instead of the guide's node CPU query: the scenario's own CPU time arrived",
        format!("process_cpu_seconds_total{{run_id=\"{run}\"}}"),
        last(),
        Some(GUIDE_PROMQL_CPU),
        vec![ExpectedSeries {
            labels: Labels::from([("run_id".to_string(), run.clone())]),
            expected: Expected::Positive {
                note: "CPU seconds the process had used when scraped".into(),
            },
        }],
    ));
    let cpu_query = Query::PromQl {
        expr: GUIDE_PROMQL_CPU.into(),
        at: last(),
    };
    checks.push(Check {
        id: "promql.guide.cpu.original".into(),
        title: "guide PromQL 5 as written: node_cpu_seconds_total comes from node-exporter, which the guide never deploys".into(),
        signal: Signal::Metrics,
        component: Component::Mimir,
        needs: vec![Component::Prometheus, Component::Mimir],
        query: cpu_query.clone(),
        guide_original: Some(GUIDE_PROMQL_CPU.into()),
        expect: Expectation::MatchesNothing {
            why: "no node-exporter is scraped".into(),
        },
        // The same backend at the same time has the run's own CPU counter.
        control: Some(Control {
            query: cpu_query.with_text(format!("process_cpu_seconds_total{{run_id=\"{run}\"}}")),
            expect: Expectation::NonEmpty,
        }),
    });
    checks
}

/// A catalog that cannot be run as it is: a check could pass without any data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A positive check expects nothing (no series, no line, no trace): an empty
    /// backend would pass it.
    #[error("check {check} expects an empty {what}, so an empty backend would pass it")]
    EmptyExpectation {
        /// The check's id; `<id> (its control)` when the empty one is its control.
        check: String,
        /// What is empty: `set of series`, `set of log lines`, `trace count (its
        /// lower bound is 0)`, ….
        what: &'static str,
    },
    /// A negative check (matches nothing, no series with a label) has no positive
    /// control, so it would pass on an empty backend.
    #[error(
        "check {check} expects its query to match nothing but has no positive control to show the data is there"
    )]
    NoControl {
        /// The id of the negative check.
        check: String,
    },
    /// Two checks share an id.
    #[error("check id {check} is used twice")]
    DuplicateId {
        /// The id found twice.
        check: String,
    },
}

/// Whether an expectation is a negative one (passes on an absence).
pub fn is_negative(e: &Expectation) -> bool {
    matches!(
        e,
        Expectation::MatchesNothing { .. } | Expectation::NoSeriesWithLabel { .. }
    )
}

/// What a positive expectation would accept emptily, if it would.
fn empty_part(e: &Expectation) -> Option<&'static str> {
    match e {
        Expectation::Series(s) if s.series.is_empty() => Some("set of series"),
        Expectation::Lines { lines, .. } if lines.is_empty() => Some("set of log lines"),
        Expectation::Entries { entries, .. } if entries.is_empty() => Some("set of log entries"),
        Expectation::TraceIds { ids, .. } if ids.is_empty() => Some("set of traces"),
        Expectation::TraceCount { lo: 0, .. } => Some("trace count (its lower bound is 0)"),
        Expectation::Traces(t) if t.is_empty() || t.values().any(Vec::is_empty) => {
            Some("set of traces or spans")
        }
        Expectation::LinesPerTrace(t) if t.is_empty() || t.values().any(Vec::is_empty) => {
            Some("set of traces or of their lines")
        }
        _ => None,
    }
}

/// Refuses a catalog in which a check could pass without any data: a positive check
/// whose expected set or count is empty, a negative check without a positive control
/// (or with an empty one), or two checks with one id. Only checks that will run are
/// judged (`runs(check)`: every component it needs is up); the others are skipped
/// with their reason, and an unexported signal leaves their expectations empty.
pub fn validate<'a>(
    checks: impl IntoIterator<Item = &'a Check>,
    runs: impl Fn(&Check) -> bool,
) -> Result<(), CatalogError> {
    let mut seen = std::collections::BTreeSet::new();
    for c in checks {
        if !seen.insert(c.id.as_str()) {
            return Err(CatalogError::DuplicateId {
                check: c.id.clone(),
            });
        }
        if !runs(c) || matches!(c.query, Query::NotPossible { .. }) {
            continue;
        }
        if is_negative(&c.expect) {
            let control = c.control.as_ref().ok_or_else(|| CatalogError::NoControl {
                check: c.id.clone(),
            })?;
            if let Some(what) = empty_part(&control.expect) {
                return Err(CatalogError::EmptyExpectation {
                    check: format!("{} (its control)", c.id),
                    what,
                });
            }
        } else if let Some(what) = empty_part(&c.expect) {
            return Err(CatalogError::EmptyExpectation {
                check: c.id.clone(),
                what,
            });
        }
    }
    Ok(())
}

const GUIDE_PROMQL_CPU: &str =
    "100 - (avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])) * 100)";

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_check_recorder::manifest::{CounterSeries, MANIFEST_SCHEMA_VERSION, MetricsManifest};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn manifest() -> Manifest {
        let base = [("service", "rust-app"), ("run_id", "r9")];
        let counter = |method: &str, path: &str, status: &str, value| CounterSeries {
            name: "http_requests_total".into(),
            labels: labels(&[
                base[0],
                base[1],
                ("method", method),
                ("path", path),
                ("status", status),
            ]),
            value,
        };
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            scenario: "http-service".into(),
            run_id: "r9".into(),
            service: "rust-app".into(),
            environment: "test".into(),
            started_at_unix_ms: 0,
            finished_at_unix_ms: 0,
            services: vec![],
            logs: Default::default(),
            traces: Default::default(),
            metrics: MetricsManifest {
                counters: vec![
                    counter("GET", "/api/users", "200", 37),
                    counter("POST", "/api/orders", "201", 5),
                    counter("GET", "/api/users", "500", 3),
                ],
                histograms: vec![HistogramSeries {
                    name: "http_request_duration_seconds".into(),
                    labels: labels(&[base[0], base[1], ("method", "GET"), ("path", "/api/users")]),
                    buckets: vec![0.01, 0.05, 0.1],
                    observations: vec![0.002, 0.03, 0.03, 0.04, 0.07],
                }],
                process_metrics: vec![],
            },
            losses: vec![],
            pushback: vec![],
        }
    }

    fn series(c: &Check) -> &SeriesExpectation {
        match &c.expect {
            Expectation::Series(s) => s,
            other => panic!("{}: not a series expectation: {other:?}", c.id),
        }
    }

    fn check<'a>(checks: &'a [Check], id: &str) -> &'a Check {
        checks.iter().find(|c| c.id == id).expect(id)
    }

    #[test]
    fn every_query_is_scoped_to_the_run() {
        let checks = metrics_checks(&manifest());
        assert_eq!(checks.len(), 10);
        for c in checks
            .iter()
            .filter(|c| c.guide_original.as_deref() != Some(GUIDE_PROMQL_CPU))
        {
            assert!(c.query.text().contains("run_id=\"r9\""), "{}", c.id);
            assert!(series(c).no_other_series);
        }
    }

    #[test]
    fn rate_and_ratio_expectations_follow_the_manifest() {
        let checks = metrics_checks(&manifest());
        let ratio = check(&checks, "promql.guide.error_ratio");
        assert_eq!(
            series(ratio).series[0].expected,
            Expected::Relative {
                value: 3.0 / 45.0,
                tolerance: FLOAT_TOLERANCE
            }
        );
        let by_path = check(&checks, "promql.guide.sum_by_path");
        let users = series(by_path)
            .series
            .iter()
            .find(|s| s.labels["path"] == "/api/users")
            .unwrap();
        assert_eq!(
            users.expected,
            Expected::Relative {
                value: 40.0 / 300.0,
                tolerance: FLOAT_TOLERANCE
            }
        );
        assert!(matches!(
            by_path.query,
            Query::PromQl {
                at: EvalAt::Settled { .. },
                ..
            }
        ));
        assert_eq!(
            check(&checks, "promql.guide.request_rate")
                .guide_original
                .as_deref(),
            Some("rate(http_requests_total[5m])")
        );
    }

    #[test]
    fn p95_is_what_histogram_quantile_computes_from_the_buckets() {
        let checks = metrics_checks(&manifest());
        let p95 = check(&checks, "promql.guide.p95_latency");
        // cumulative (0.01: 1, 0.05: 4, 0.1: 5, +Inf: 5); rank 0.95·5 = 4.75 falls in
        // (0.05, 0.1]: 0.05 + 0.05 · (4.75 − 4) / 1 = 0.0875
        let e = &series(p95).series[0].expected;
        assert_eq!(
            *e,
            Expected::Relative {
                value: 0.05 + 0.05 * 0.75,
                tolerance: FLOAT_TOLERANCE
            }
        );
        let evaluated = |v: f64| {
            crate::core::expect::evaluate_series(
                series(p95),
                &[crate::core::expect::Sample {
                    labels: labels(&[("method", "GET"), ("path", "/api/users"), ("run_id", "r9")]),
                    value: v,
                }],
            )
            .is_pass()
        };
        assert!(evaluated(0.0875));
        // The bucket bounds used before passed anything in (0.05, 0.1]; 0.09 is in it.
        assert!(!evaluated(0.09));
        assert!(!evaluated(0.1));
    }

    #[test]
    fn an_empty_expectation_is_refused_with_the_checks_name() {
        let mut checks = metrics_checks(&manifest());
        assert_eq!(validate(&checks, |_| true), Ok(()));
        // A manifest without 5xx-free traffic would make the error ratio expect nothing:
        // the old catalog ran it, and an empty backend passed it.
        let ratio = checks
            .iter_mut()
            .find(|c| c.id == "promql.guide.error_ratio")
            .unwrap();
        ratio.expect = Expectation::Series(SeriesExpectation {
            series: vec![],
            no_other_series: true,
        });
        let err = validate(&checks, |_| true).unwrap_err();
        assert_eq!(
            err,
            CatalogError::EmptyExpectation {
                check: "promql.guide.error_ratio".into(),
                what: "set of series"
            }
        );
        assert!(
            err.to_string().contains("promql.guide.error_ratio"),
            "{err}"
        );
        // A check that will not run (its component is missing) is not judged.
        assert_eq!(
            validate(&checks, |c| c.id != "promql.guide.error_ratio"),
            Ok(())
        );
    }

    #[test]
    fn a_negative_check_needs_a_positive_control() {
        let mut checks = metrics_checks(&manifest());
        let cpu = check(&checks, "promql.guide.cpu.original");
        let control = cpu.control.as_ref().expect("a control");
        // the same evaluation time as the check, another expression
        let Query::PromQl { expr, at } = &control.query else {
            panic!("a PromQL control: {:?}", control.query)
        };
        assert_eq!(expr, "process_cpu_seconds_total{run_id=\"r9\"}");
        assert!(matches!(&cpu.query, Query::PromQl { at: a, .. } if a == at));
        let cpu = checks
            .iter_mut()
            .find(|c| c.id == "promql.guide.cpu.original")
            .unwrap();
        cpu.control = None;
        assert_eq!(
            validate(&checks, |_| true),
            Err(CatalogError::NoControl {
                check: "promql.guide.cpu.original".into()
            })
        );
        let mut checks = metrics_checks(&manifest());
        let dup = checks[0].clone();
        checks.push(dup);
        assert!(matches!(
            validate(&checks, |_| true),
            Err(CatalogError::DuplicateId { .. })
        ));
    }

    #[test]
    fn bucket_expectations_are_cumulative_and_end_with_inf() {
        let checks = metrics_checks(&manifest());
        let buckets = check(&checks, "metrics.http_request_duration_seconds.buckets");
        let counts: Vec<(String, f64)> = series(buckets)
            .series
            .iter()
            .map(|s| {
                let Expected::Exact(v) = s.expected else {
                    panic!()
                };
                (s.labels["le"].clone(), v)
            })
            .collect();
        assert_eq!(
            counts,
            vec![
                ("0.01".into(), 1.0),
                ("0.05".into(), 4.0),
                ("0.1".into(), 5.0),
                ("+Inf".into(), 5.0)
            ]
        );
    }
}
