//! Quantiles: the true quantile of a set of observations, and what Prometheus'
//! `histogram_quantile` makes of bucket counts, so a check can say both what the
//! answer must be and why.

/// The nearest-rank q-quantile of the observations (`None` when there are none).
///
/// ```
/// use lgtm_check::core::quantile::true_quantile;
/// assert_eq!(true_quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), Some(2.0));
/// assert_eq!(true_quantile(&[], 0.5), None);
/// ```
pub fn true_quantile(observations: &[f64], q: f64) -> Option<f64> {
    if observations.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut sorted = observations.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The bucket `(lower, upper]` that holds `value`, given ascending upper bounds
/// (without `+Inf`). The first bucket's lower bound is 0, as in `histogram_quantile`;
/// above the last bound it is `(last, +Inf)`.
pub fn bucket_of(bounds: &[f64], value: f64) -> (f64, f64) {
    let mut lower = 0.0;
    for &upper in bounds {
        if value <= upper {
            return (lower, upper);
        }
        lower = upper;
    }
    (lower, f64::INFINITY)
}

/// Prometheus' `histogram_quantile` over cumulative `(upper bound, count)` pairs that
/// end with `+Inf`: linear interpolation inside the bucket where the rank falls.
///
/// ```
/// use lgtm_check::core::quantile::histogram_quantile;
/// // 8 observations: 2 ≤ 0.1, 4 more ≤ 0.2, 2 above. The median's rank (4) falls
/// // halfway through the (0.1, 0.2] bucket.
/// let buckets = [(0.1, 2), (0.2, 6), (f64::INFINITY, 8)];
/// let p50 = histogram_quantile(0.5, &buckets).unwrap();
/// assert!((p50 - 0.15).abs() < 1e-9);
/// ```
pub fn histogram_quantile(q: f64, cumulative: &[(f64, u64)]) -> Option<f64> {
    let &(_, total) = cumulative.last()?;
    if total == 0 || cumulative.len() < 2 {
        return None;
    }
    let rank = q * total as f64;
    let idx = cumulative.iter().position(|&(_, c)| c as f64 >= rank)?;
    if idx == cumulative.len() - 1 {
        return Some(cumulative[cumulative.len() - 2].0);
    }
    let (upper, count) = cumulative[idx];
    let (lower, below) = if idx == 0 {
        (0.0_f64.min(upper), 0)
    } else {
        cumulative[idx - 1]
    };
    if idx == 0 && upper <= 0.0 {
        return Some(upper);
    }
    let in_bucket = (count - below) as f64;
    Some(lower + (upper - lower) * ((rank - below as f64) / in_bucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantile() {
        let obs = [0.5, 0.1, 0.3, 0.2, 0.4];
        assert_eq!(true_quantile(&obs, 0.95), Some(0.5));
        assert_eq!(true_quantile(&obs, 0.5), Some(0.3));
        assert_eq!(true_quantile(&obs, 0.0), Some(0.1));
        assert_eq!(true_quantile(&[], 0.5), None);
    }

    #[test]
    fn bucket_bounds() {
        let b = [0.01, 0.1, 1.0];
        assert_eq!(bucket_of(&b, 0.005), (0.0, 0.01));
        assert_eq!(bucket_of(&b, 0.1), (0.01, 0.1));
        assert_eq!(bucket_of(&b, 0.5), (0.1, 1.0));
        assert_eq!(bucket_of(&b, 5.0), (1.0, f64::INFINITY));
    }

    #[test]
    fn interpolates_like_prometheus() {
        // 10 observations: 2 ≤ 0.1, 8 ≤ 0.5, 10 ≤ 1.0
        let c = [(0.1, 2), (0.5, 8), (1.0, 10), (f64::INFINITY, 10)];
        // rank 5 falls in (0.1, 0.5]: 0.1 + 0.4 * (5-2)/6 = 0.3
        assert!((histogram_quantile(0.5, &c).unwrap() - 0.3).abs() < 1e-12);
        // rank 9.5 falls in (0.5, 1.0]: 0.5 + 0.5 * 1.5/2 = 0.875
        assert!((histogram_quantile(0.95, &c).unwrap() - 0.875).abs() < 1e-12);
        // rank in the +Inf bucket answers the last finite bound
        let c = [(0.1, 1), (f64::INFINITY, 10)];
        assert_eq!(histogram_quantile(0.9, &c), Some(0.1));
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 0)]), None);
    }
}

/// The φ-quantile as Prometheus' and Loki's `quantile_over_time` compute it: linear
/// interpolation at rank φ·(n−1) of the sorted values.
///
/// ```
/// use lgtm_check::core::quantile::interpolated_quantile;
/// assert_eq!(interpolated_quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
/// ```
pub fn interpolated_quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q * (sorted.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    let weight = rank - rank.floor();
    Some(sorted[lower] * (1.0 - weight) + sorted[upper] * weight)
}

#[cfg(test)]
mod interpolated_tests {
    use super::*;

    #[test]
    fn interpolates_between_ranks() {
        // rank 0.95 * 4 = 3.8: 40 + 0.8 * (50 - 40)
        let v = [10.0, 50.0, 20.0, 40.0, 30.0];
        assert!((interpolated_quantile(&v, 0.95).unwrap() - 48.0).abs() < 1e-12);
        assert_eq!(interpolated_quantile(&v, 0.0), Some(10.0));
        assert_eq!(interpolated_quantile(&v, 1.0), Some(50.0));
        assert_eq!(interpolated_quantile(&[7.0], 0.5), Some(7.0));
        assert_eq!(interpolated_quantile(&[], 0.5), None);
    }
}
