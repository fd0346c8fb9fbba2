use modelgate_eval::stats::{Z95, wilson95};
use modelgate_eval::{PairedComparison, mcnemar_exact, percentile, wilson};

fn close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

#[test]
fn wilson_matches_known_intervals() {
    // statsmodels proportion_confint(8, 10, method="wilson")
    let (lo, hi) = wilson(8, 10, Z95);
    close(lo, 0.490_162_469, 1e-8);
    close(hi, 0.943_317_849, 1e-8);
    let (lo, hi) = wilson95(0, 10);
    close(lo, 0.0, 1e-12);
    close(hi, 0.277_532_803, 1e-8);
    let (lo, hi) = wilson95(10, 10);
    close(lo, 0.722_467_197, 1e-8);
    close(hi, 1.0, 1e-12);
    let (lo, hi) = wilson95(50, 100);
    close(lo, 0.403_831_530, 1e-8);
    close(hi, 0.596_168_470, 1e-8);
    assert_eq!(wilson95(0, 0), (0.0, 1.0));
    assert_eq!(
        wilson95(12, 10),
        wilson95(10, 10),
        "successes above n count as n"
    );
}

#[test]
fn mcnemar_matches_exact_binomial_values() {
    // Exact two-sided binomial p-values (scipy.stats.binomtest(b, b + c).pvalue,
    // checked against exact rational arithmetic).
    close(mcnemar_exact(1, 9), 0.021_484_375, 1e-12);
    close(mcnemar_exact(9, 1), 0.021_484_375, 1e-12);
    close(mcnemar_exact(0, 5), 0.0625, 1e-12);
    close(mcnemar_exact(10, 25), 0.016_673_847_800_120_71, 1e-12);
    close(mcnemar_exact(400, 500), 0.000_956_444_136_918_946_1, 1e-12);
    close(mcnemar_exact(4900, 5100), 0.046_585_527_704_947_39, 1e-10);
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    assert_eq!(mcnemar_exact(3, 3), 1.0);
    assert_eq!(mcnemar_exact(0, 1), 1.0);
}

#[test]
fn mcnemar_is_stable_for_a_million_pairs() {
    let p = mcnemar_exact(499_000, 501_000);
    close(p / 0.045_608_299_865_382_08, 1.0, 1e-7);
    let p = mcnemar_exact(497_500, 502_500);
    close(p / 5.762_541_637_740_604e-7, 1.0, 1e-7);
    let p = mcnemar_exact(0, 1_000_000);
    assert!((0.0..1e-300).contains(&p), "{p}");
    assert_eq!(mcnemar_exact(500_000, 500_000), 1.0);
}

#[test]
fn percentile_interpolates_linearly() {
    let values = [15.0, 20.0, 35.0, 40.0, 50.0];
    assert_eq!(percentile(&values, 0.0), Some(15.0));
    assert_eq!(percentile(&values, 50.0), Some(35.0));
    assert_eq!(percentile(&values, 100.0), Some(50.0));
    // NumPy: np.percentile([15, 20, 35, 40, 50], 40) == 29.0
    close(percentile(&values, 40.0).unwrap(), 29.0, 1e-12);
    close(
        percentile(&[3.0, 1.0, 2.0, 4.0], 95.0).unwrap(),
        3.85,
        1e-12,
    );
    assert_eq!(percentile(&[f64::NAN, 7.0], 50.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
    assert_eq!(percentile(&[1.0], f64::NAN), None);
}

#[test]
fn paired_comparison_counts_shared_items_only() {
    let a = [
        ("q1", true),
        ("q2", true),
        ("q3", false),
        ("q4", true),
        ("only-a", true),
        ("q1", false),
    ];
    let b = [
        ("q1", true),
        ("q2", false),
        ("q3", false),
        ("q4", false),
        ("only-b", false),
    ];
    let comparison = PairedComparison::new(&a, &b);
    assert_eq!(comparison.shared, 4);
    assert_eq!(comparison.both_pass, 1);
    assert_eq!(comparison.both_fail, 1);
    assert_eq!(comparison.only_a, 2);
    assert_eq!(comparison.only_b, 0);
    close(comparison.p_value, 0.5, 1e-12);
    assert!(!comparison.significant);

    let a: Vec<(String, bool)> = (0..10).map(|i| (format!("q{i}"), i != 0)).collect();
    let b: Vec<(String, bool)> = (0..10).map(|i| (format!("q{i}"), i == 0)).collect();
    let comparison = PairedComparison::new(&a, &b);
    assert_eq!((comparison.only_a, comparison.only_b), (9, 1));
    close(comparison.p_value, 0.021_484_375, 1e-12);
    assert!(comparison.significant);
}
