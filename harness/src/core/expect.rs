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
        }
    }

    fn describe(&self) -> String {
        match self {
            Expected::Exact(e) => format!("{e}"),
            Expected::Relative { value, tolerance } => format!("{value} (±{tolerance} relative)"),
            Expected::Between { lo, hi, note } => format!("within [{lo}, {hi}] ({note})"),
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

/// What an answer must contain.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
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

/// Compares an answer with an expectation and lists every problem.
pub fn evaluate(expectation: &Expectation, observed: &[Sample]) -> Verdict {
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
        let e = Expectation {
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
        assert!(evaluate(&e, &observed).is_pass());
    }

    #[test]
    fn reports_every_problem_at_once() {
        let e = Expectation {
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
        let Verdict::Mismatch { problems } = evaluate(&e, &observed) else {
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
        let e = Expectation {
            series: vec![exact(&[("a", "1")], 1.0)],
            no_other_series: false,
        };
        assert!(
            evaluate(
                &e,
                &[sample(&[("a", "1")], 1.0), sample(&[("a", "2")], 9.0)]
            )
            .is_pass()
        );
    }

    #[test]
    fn ambiguous_matches_fail() {
        let e = Expectation {
            series: vec![exact(&[], 1.0)],
            no_other_series: false,
        };
        let v = evaluate(
            &e,
            &[sample(&[("a", "1")], 1.0), sample(&[("a", "2")], 1.0)],
        );
        assert!(v.summary().contains("matches 2 series"), "{v:?}");
    }

    #[test]
    fn le_compares_numerically_and_tolerances_apply() {
        let e = Expectation {
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
        assert!(evaluate(&e, &observed).is_pass());
        let off = [
            sample(&[("le", "1.0")], 4.0),
            sample(&[("le", "+Inf")], 5.0),
            sample(&[("k", "sum")], 0.91),
            sample(&[("k", "q")], f64::NAN),
        ];
        let Verdict::Mismatch { problems } = evaluate(&e, &off) else {
            panic!("expected a mismatch")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
