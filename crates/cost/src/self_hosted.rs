//! Self-hosted serving: hardware rented by the hour.

use crate::Error;

/// Hours in the average month (8,760 hours a year / 12), as cloud
/// providers bill monthly.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The largest hourly price accepted: more is a typo (cents for dollars).
const MAX_USD_PER_HOUR: f64 = 1e6;

/// The largest throughput accepted, tokens per second.
const MAX_TOKENS_PER_S: f64 = 1e9;

/// A self-hosted deployment: one instance is a machine (or a slice of one)
/// rented by the hour, serving one model.
///
/// - `hardware_usd_hour`: what one instance costs per hour, in USD,
///   whether busy or idle (cloud list price, or amortised purchase plus
///   power).
/// - `tokens_per_s`: one instance's aggregate throughput when busy, in
///   tokens per second, counting tokens the way the monthly volume counts
///   them (prompt plus generated, across all parallel requests). If prompt
///   processing and generation were measured apart, combine them with
///   [`Blend::throughput`](crate::Blend::throughput).
/// - `utilization`: the share of the month an instance does useful work,
///   `0 < utilization ≤ 1`. Traffic is uneven (nights, weekends, peaks
///   sized for), so an instance is rarely busy all month; the default,
///   [`SelfHosted::DEFAULT_UTILIZATION`] = 0.5, assumes half. Capacity and
///   price per token both scale with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfHosted {
    hardware_usd_hour: f64,
    tokens_per_s: f64,
    utilization: f64,
    tokens_per_month: u64,
}

impl SelfHosted {
    /// The utilization assumed when none is given: busy half the month.
    pub const DEFAULT_UTILIZATION: f64 = 0.5;

    /// Checks the three numbers (see the type's docs).
    pub fn new(
        hardware_usd_hour: f64,
        tokens_per_s: f64,
        utilization: f64,
    ) -> Result<SelfHosted, Error> {
        if !(hardware_usd_hour.is_finite()
            && hardware_usd_hour > 0.0
            && hardware_usd_hour <= MAX_USD_PER_HOUR)
        {
            return Err(Error::InvalidNumber {
                field: "hardware_usd_hour",
                value: hardware_usd_hour,
                expected: "give one instance's price in USD per hour, a number above 0 and at most 1,000,000",
            });
        }
        if !(tokens_per_s.is_finite() && tokens_per_s > 0.0 && tokens_per_s <= MAX_TOKENS_PER_S) {
            return Err(Error::InvalidNumber {
                field: "tokens_per_s",
                value: tokens_per_s,
                expected: "give the measured throughput in tokens per second, a number above 0 and at most 1e9",
            });
        }
        if !(utilization.is_finite() && utilization > 0.0 && utilization <= 1.0) {
            return Err(Error::InvalidNumber {
                field: "utilization",
                value: utilization,
                expected: "give the share of the month an instance is busy, above 0 and at most 1 (0.5 = half)",
            });
        }
        // Whole tokens: a machine does not serve a fraction of one. At most
        // 1e9 × 3600 × 730 ≈ 2.6e15, well inside u64.
        let capacity = (tokens_per_s * 3600.0 * HOURS_PER_MONTH * utilization).floor();
        if capacity < 1.0 {
            return Err(Error::InvalidNumber {
                field: "tokens_per_s",
                value: tokens_per_s,
                expected: "at this utilization an instance would serve under one token a month; give tokens per second, not per hour or month",
            });
        }
        Ok(SelfHosted {
            hardware_usd_hour,
            tokens_per_s,
            utilization,
            tokens_per_month: capacity as u64,
        })
    }

    /// One instance's price per hour, USD.
    pub fn hardware_usd_hour(&self) -> f64 {
        self.hardware_usd_hour
    }

    /// One instance's throughput when busy, tokens per second.
    pub fn tokens_per_s(&self) -> f64 {
        self.tokens_per_s
    }

    /// The share of the month an instance is busy.
    pub fn utilization(&self) -> f64 {
        self.utilization
    }

    /// USD per million tokens at this utilization:
    /// `hardware_usd_hour / (tokens_per_s × 3600 × utilization) × 1e6`.
    pub fn usd_per_mtok(&self) -> f64 {
        self.hardware_usd_hour / (self.tokens_per_s * 3600.0 * self.utilization) * 1e6
    }

    /// Tokens one instance serves in a month (730 hours) at this
    /// utilization, rounded down to whole tokens.
    pub fn tokens_per_month(&self) -> u64 {
        self.tokens_per_month
    }

    /// What one instance costs per month, busy or not:
    /// `hardware_usd_hour × 730`.
    pub fn instance_usd_per_month(&self) -> f64 {
        self.hardware_usd_hour * HOURS_PER_MONTH
    }

    /// Instances needed to serve `tokens_per_month`: none for no traffic,
    /// else `ceil(volume / capacity)`.
    pub fn instances_for(&self, tokens_per_month: u64) -> u64 {
        tokens_per_month.div_ceil(self.tokens_per_month)
    }

    /// The monthly bill at a volume: whole instances, each billed all
    /// month (`instances × hardware_usd_hour × 730`).
    pub fn monthly_usd(&self, tokens_per_month: u64) -> f64 {
        self.instances_for(tokens_per_month) as f64 * self.instance_usd_per_month()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_costs() {
        // $3.60/h, 1,000 tokens/s, busy half the time:
        // 1,000 × 3,600 × 0.5 = 1.8M tokens per billed hour → $2 per 1M.
        let gpu = SelfHosted::new(3.6, 1000.0, 0.5).unwrap();
        assert!((gpu.usd_per_mtok() - 2.0).abs() < 1e-12);
        // 1,000 × 3,600 × 730 × 0.5 = 1,314,000,000 tokens a month.
        assert_eq!(gpu.tokens_per_month(), 1_314_000_000);
        // 3.6 × 730 = $2,628 a month per instance.
        assert!((gpu.instance_usd_per_month() - 2628.0).abs() < 1e-9);
        assert_eq!(gpu.instances_for(0), 0);
        assert_eq!(gpu.instances_for(1), 1);
        assert_eq!(gpu.instances_for(1_314_000_000), 1);
        assert_eq!(gpu.instances_for(1_314_000_001), 2);
        assert_eq!(gpu.monthly_usd(0), 0.0);
        assert!((gpu.monthly_usd(10) - 2628.0).abs() < 1e-9);
        assert!((gpu.monthly_usd(2_628_000_000) - 5256.0).abs() < 1e-9);
        assert!((gpu.monthly_usd(2_628_000_001) - 7884.0).abs() < 1e-9);
    }

    #[test]
    fn full_utilization_halves_the_price() {
        let half = SelfHosted::new(3.6, 1000.0, 0.5).unwrap();
        let full = SelfHosted::new(3.6, 1000.0, 1.0).unwrap();
        assert!((full.usd_per_mtok() - 1.0).abs() < 1e-12);
        assert_eq!(full.tokens_per_month(), 2 * half.tokens_per_month());
    }

    #[test]
    fn bad_numbers_name_the_field() {
        for (usd, tps, utilization, field) in [
            (0.0, 100.0, 0.5, "hardware_usd_hour"),
            (-1.0, 100.0, 0.5, "hardware_usd_hour"),
            (f64::NAN, 100.0, 0.5, "hardware_usd_hour"),
            (f64::INFINITY, 100.0, 0.5, "hardware_usd_hour"),
            (2e6, 100.0, 0.5, "hardware_usd_hour"),
            (1.0, 0.0, 0.5, "tokens_per_s"),
            (1.0, -5.0, 0.5, "tokens_per_s"),
            (1.0, f64::NAN, 0.5, "tokens_per_s"),
            (1.0, 1e-9, 0.5, "tokens_per_s"),
            (1.0, 100.0, 0.0, "utilization"),
            (1.0, 100.0, 1.5, "utilization"),
            (1.0, 100.0, f64::NAN, "utilization"),
        ] {
            let error = SelfHosted::new(usd, tps, utilization).unwrap_err();
            assert!(
                matches!(error, Error::InvalidNumber { field: f, .. } if f == field),
                "{usd} {tps} {utilization}: {error}"
            );
            assert!(error.to_string().starts_with(field), "{error}");
        }
    }
}
