//! Statistics for reports and comparisons: Wilson intervals, percentiles and
//! McNemar's exact test on paired pass/fail results.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The two-sided 95% standard-normal quantile.
pub const Z95: f64 = 1.959964;

/// Significance level of [`PairedComparison::significant`].
pub const ALPHA: f64 = 0.05;

/// Wilson score interval `(lo, hi)` for `successes` out of `n` at normal
/// quantile `z` (use [`Z95`] for 95%). `n == 0` gives `(0, 1)`; `successes`
/// above `n` counts as `n`.
pub fn wilson(successes: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = successes.min(n) as f64 / n_f;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denominator;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denominator;
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// The 95% Wilson interval, [`wilson`] with [`Z95`].
pub fn wilson95(successes: u64, n: u64) -> (f64, f64) {
    wilson(successes, n, Z95)
}

/// The `p`-th percentile (0 to 100, clamped) of `values`, by linear
/// interpolation between the closest ranks (Hyndman and Fan's type 7, NumPy's
/// default): rank `(n - 1) * p / 100` counted from 0. NaNs are ignored; `None`
/// when nothing is left or `p` is NaN.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    percentile_of_sorted(&sorted, p)
}

/// [`percentile`] of values already sorted ascending, without NaNs.
pub fn percentile_of_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || p.is_nan() {
        return None;
    }
    let rank = (sorted.len() - 1) as f64 * p.clamp(0.0, 100.0) / 100.0;
    let below = rank.floor();
    let fraction = rank - below;
    let lower = *sorted.get(below as usize)?;
    let upper = *sorted.get(rank.ceil() as usize)?;
    Some(lower + (upper - lower) * fraction)
}

/// Two-sided exact McNemar p-value for `b` and `c` discordant pairs (one side
/// passed, the other failed): `min(1, 2 P(X <= min(b, c)))` with
/// `X ~ Binomial(b + c, 1/2)`, as `scipy.stats.binomtest(b, b + c).pvalue`
/// gives for this symmetric case. Computed from log-factorials and a ratio
/// series, so it stays accurate for `b + c` up to millions. No discordant
/// pairs gives 1.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b.saturating_add(c);
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    if 2 * k == n {
        return 1.0;
    }
    if n > MAX_EXACT_PAIRS {
        // Normal approximation with continuity correction: the exact series
        // would need about sqrt(n) steps.
        let z = ((n - 2 * k) as f64 - 1.0) / (n as f64).sqrt();
        return (2.0 * normal_upper_tail(z)).min(1.0);
    }
    // log P(X = k)
    let log_pmf_k =
        ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k) - n as f64 * std::f64::consts::LN_2;
    // P(X <= k) / P(X = k) = sum over i = k, k-1, ..., 0 of the ratio
    // P(X = i) / P(X = k); successive ratios shrink by i / (n - i + 1).
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut i = k;
    while i > 0 {
        term *= i as f64 / (n - i + 1) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
        i -= 1;
    }
    let log_p = std::f64::consts::LN_2 + log_pmf_k + sum.ln();
    log_p.exp().min(1.0)
}

/// Above this many discordant pairs [`mcnemar_exact`] uses the normal
/// approximation (far beyond any suite's size).
pub const MAX_EXACT_PAIRS: u64 = 1 << 40;

/// `P(Z > z)` for a standard normal `Z`, via the complementary error function
/// (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7).
fn normal_upper_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * poly.exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// `ln(m!)`: summed exactly below 256, Stirling's series above (error below 1e-15 relative).
fn ln_factorial(m: u64) -> f64 {
    if m < 256 {
        return (2..=m).map(|i| (i as f64).ln()).sum();
    }
    let x = m as f64 + 1.0;
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    (x - 0.5) * x.ln() - x
        + 0.5 * (2.0 * std::f64::consts::PI).ln()
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)))
}

/// Two runs compared on the items both ran (by id), with McNemar's exact test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Ids present in both runs.
    pub shared: usize,
    /// Shared ids both runs passed.
    pub both_pass: usize,
    /// Shared ids both runs failed.
    pub both_fail: usize,
    /// Shared ids only run A passed.
    pub only_a: usize,
    /// Shared ids only run B passed.
    pub only_b: usize,
    /// [`mcnemar_exact`]`(only_a, only_b)`.
    pub p_value: f64,
    /// `p_value <` [`ALPHA`].
    pub significant: bool,
}

impl PairedComparison {
    /// Compares runs `a` and `b`, given as `(id, passed)`; ids in only one
    /// run are ignored, and when an id repeats within a run its first result
    /// counts.
    pub fn new<S: AsRef<str>>(a: &[(S, bool)], b: &[(S, bool)]) -> PairedComparison {
        let mut b_by_id: HashMap<&str, bool> = HashMap::with_capacity(b.len());
        for (id, passed) in b {
            b_by_id.entry(id.as_ref()).or_insert(*passed);
        }
        let mut counted: HashMap<&str, ()> = HashMap::with_capacity(a.len());
        let (mut both_pass, mut both_fail, mut only_a, mut only_b) = (0, 0, 0, 0);
        for (id, passed_a) in a {
            let id = id.as_ref();
            let Some(&passed_b) = b_by_id.get(id) else {
                continue;
            };
            if counted.insert(id, ()).is_some() {
                continue;
            }
            match (*passed_a, passed_b) {
                (true, true) => both_pass += 1,
                (false, false) => both_fail += 1,
                (true, false) => only_a += 1,
                (false, true) => only_b += 1,
            }
        }
        let p_value = mcnemar_exact(only_a as u64, only_b as u64);
        PairedComparison {
            shared: both_pass + both_fail + only_a + only_b,
            both_pass,
            both_fail,
            only_a,
            only_b,
            p_value,
            significant: p_value < ALPHA,
        }
    }
}
