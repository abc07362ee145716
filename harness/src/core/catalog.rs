//! The check catalog, derived from manifests: every query templated with the run id
//! and every expectation computed from what the scenario says it emitted.
//!
//! Main functions: [`metrics_checks`], [`validate`] (with [`CatalogError`]). The guide's PromQL (section "PromQL 查询示例")
//! is run with the run's selector added; the guide's own text is kept beside it.

use std::collections::BTreeMap;

use lgtm_check_recorder::manifest::{HistogramSeries, Labels, Manifest};

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

fn metrics_check(
    id: &str,
    title: &str,
    expr: String,
    at: EvalAt,
    guide: Option<&str>,
    series: Vec<ExpectedSeries>,
) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        signal: Signal::Metrics,
        component: Component::Mimir,
        needs: vec![Component::Prometheus, Component::Mimir],
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

/// When every metrics check of the run is evaluated: at the first scraped sample from
/// which every request counter and latency histogram series of the run holds its
/// final value, found among the raw samples up to the moment the run finished (its
/// final values were scraped before it wrote the manifest). A time that depends only
/// on the stored samples, not on when the checks run: `--hold` goes on scraping the
/// same values after it, and a `[5m]` range ending there starts from the zero sample
/// scraped before the workload and ends on a sample, so `rate()` is
/// increase / 300 s exactly.
pub fn settled(m: &Manifest) -> EvalAt {
    EvalAt::Settled {
        probe: format!(
            "{{__name__=~\"http_requests_total|http_request_duration_seconds_count\",run_id=\"{}\"}}",
            m.run_id
        ),
        probe_at_unix_ms: m.finished_at_unix_ms,
        range_secs: m
            .finished_at_unix_ms
            .saturating_sub(m.started_at_unix_ms)
            .div_ceil(1000)
            + PROBE_MARGIN_SECS,
    }
}

/// Checks of the metrics path (scenario → Prometheus scrape → remote write → the Mimir
/// role → PromQL) for every counter and histogram in the manifest.
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
    let requests = format!("http_requests_total{{run_id=\"{run}\"}}");
    let last = || settled(m);
    let mut checks = Vec::new();

    checks.push(metrics_check(
        "metrics.requests_total.exact",
        "every counter series arrived with its exact total",
        requests.clone(),
        last(),
        None,
        counters
            .iter()
            .map(|c| ExpectedSeries {
                labels: identity(&c.labels),
                expected: Expected::Exact(c.value as f64),
            })
            .collect(),
    ));

    checks.push(metrics_check(
        "metrics.request_duration.count",
        "every histogram series arrived with its exact _count",
        format!("http_request_duration_seconds_count{{run_id=\"{run}\"}}"),
        last(),
        None,
        histograms
            .iter()
            .map(|h| ExpectedSeries {
                labels: identity(&h.labels),
                expected: Expected::Exact(h.count() as f64),
            })
            .collect(),
    ));

    checks.push(metrics_check(
        "metrics.request_duration.sum",
        "every histogram series arrived with its _sum",
        format!("http_request_duration_seconds_sum{{run_id=\"{run}\"}}"),
        last(),
        None,
        histograms
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

    checks.push(metrics_check(
        "metrics.request_duration.buckets",
        "every histogram bucket arrived with its exact cumulative count",
        format!("http_request_duration_seconds_bucket{{run_id=\"{run}\"}}"),
        last(),
        None,
        histograms
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

    checks.push(metrics_check(
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

    checks.push(metrics_check(
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
    checks.push(metrics_check(
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
    checks.push(metrics_check(
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
    checks.push(metrics_check(
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
    EmptyExpectation { check: String, what: &'static str },
    /// A negative check (matches nothing, no series with a label) has no positive
    /// control, so it would pass on an empty backend.
    #[error(
        "check {check} expects its query to match nothing but has no positive control to show the data is there"
    )]
    NoControl { check: String },
    /// Two checks share an id.
    #[error("check id {check} is used twice")]
    DuplicateId { check: String },
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
        let buckets = check(&checks, "metrics.request_duration.buckets");
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
