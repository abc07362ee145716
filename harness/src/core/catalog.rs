//! The check catalog, derived from manifests: every query templated with the run id
//! and every expectation computed from what the scenario says it emitted.
//!
//! Main functions: [`metrics_checks`]. The guide's PromQL (section "PromQL 查询示例")
//! is run with the run's selector added; the guide's own text is kept beside it.

use std::collections::BTreeMap;

use lgtm_scenarios::manifest::{HistogramSeries, Labels, Manifest};

use super::check::{Check, EvalAt, Query, Signal};
use super::component::Component;
use super::expect::{Expectation, Expected, ExpectedSeries, SeriesExpectation};
use super::quantile::{bucket_of, histogram_quantile, true_quantile};

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
    }
}

fn p95_expectation(h: &HistogramSeries) -> Option<ExpectedSeries> {
    let q = true_quantile(&h.observations, 0.95)?;
    let (lo, hi) = bucket_of(&h.buckets, q);
    let interpolated = histogram_quantile(0.95, &h.cumulative_buckets())?;
    Some(ExpectedSeries {
        labels: identity(&h.labels),
        expected: Expected::Between {
            lo,
            hi,
            note: format!(
                "bucket of the true P95 {q:.6}s; the buckets interpolate to {interpolated:.6}s"
            ),
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
    checks.push(Check {
        id: "promql.guide.cpu.original".into(),
        title: "guide PromQL 5 as written: node_cpu_seconds_total comes from node-exporter, which the guide never deploys".into(),
        signal: Signal::Metrics,
        component: Component::Mimir,
        needs: vec![Component::Prometheus, Component::Mimir],
        query: Query::PromQl {
            expr: GUIDE_PROMQL_CPU.into(),
            at: last(),
        },
        guide_original: Some(GUIDE_PROMQL_CPU.into()),
        expect: Expectation::MatchesNothing {
            why: "no node-exporter is scraped".into(),
        },
    });
    checks
}

const GUIDE_PROMQL_CPU: &str =
    "100 - (avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])) * 100)";

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_scenarios::manifest::{CounterSeries, MANIFEST_SCHEMA_VERSION, MetricsManifest};

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
    fn p95_bounds_are_the_bucket_of_the_true_quantile() {
        let checks = metrics_checks(&manifest());
        let p95 = check(&checks, "promql.guide.p95_latency");
        // true P95 of 5 observations is the largest, 0.07, in bucket (0.05, 0.1]
        let Expected::Between { lo, hi, .. } = &series(p95).series[0].expected else {
            panic!("expected bounds")
        };
        assert_eq!((*lo, *hi), (0.05, 0.1));
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
