//! What a call costs: a price table per target and route.
//!
//! Prices are in USD per million tokens (input and output), as providers
//! publish them, or per hour for a self-hosted engine (a request then costs
//! its share of the hour: its wall time times the rate divided by the
//! engine's parallel slots). Costs are counted in micro-dollars, which makes
//! a price per million tokens exactly micro-dollars per token.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

/// One row of the price table, as written in the config.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// What it prices: a target (`provider/model`, or `NAME@VER` for a
    /// local version), or a route's public name.
    pub model: String,
    /// USD per million prompt tokens.
    #[serde(default)]
    pub input_per_mtok: f64,
    /// USD per million generated tokens.
    #[serde(default)]
    pub output_per_mtok: f64,
    /// USD per hour of a self-hosted engine.
    #[serde(default)]
    pub per_hour: f64,
    /// The engine's parallel slots, among which an hour is shared.
    #[serde(default = "one")]
    pub slots: u32,
}

fn one() -> u32 {
    1
}

/// A price, checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// Micro-dollars per prompt token.
    pub input: f64,
    /// Micro-dollars per generated token.
    pub output: f64,
    /// Micro-dollars per second of a request's wall time.
    pub per_second: f64,
}

impl Price {
    /// The cost of a call in micro-dollars, rounded up.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64, wall: Duration) -> u64 {
        let micro = self.input * tokens_in as f64
            + self.output * tokens_out as f64
            + self.per_second * wall.as_secs_f64();
        if micro.is_finite() && micro > 0.0 {
            micro.ceil().min(u64::MAX as f64) as u64
        } else {
            0
        }
    }
}

/// A price table entry is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("prices: the entry for `{model}` {problem}")]
pub struct PriceError {
    /// The entry's `model`.
    pub model: String,
    /// What is wrong and what to do.
    pub problem: String,
}

/// Prices by target or route name.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl PriceTable {
    /// Checks and indexes the configured prices.
    pub fn new(rows: &[PriceConfig]) -> Result<PriceTable, PriceError> {
        let mut prices = HashMap::new();
        for row in rows {
            let bad = |problem: &str| PriceError {
                model: row.model.clone(),
                problem: problem.to_owned(),
            };
            for value in [row.input_per_mtok, row.output_per_mtok, row.per_hour] {
                if !value.is_finite() || value < 0.0 {
                    return Err(bad(
                        "has a negative or non-finite price; prices are USD ≥ 0",
                    ));
                }
            }
            if row.slots == 0 {
                return Err(bad("has `slots = 0`; an engine has at least one slot"));
            }
            let price = Price {
                input: row.input_per_mtok,
                output: row.output_per_mtok,
                per_second: row.per_hour * 1e6 / 3600.0 / f64::from(row.slots),
            };
            if prices.insert(row.model.clone(), price).is_some() {
                return Err(bad("appears twice; keep one"));
            }
        }
        Ok(PriceTable { prices })
    }

    /// The price of `target`, else of `route`, else free.
    pub fn price(&self, target: &str, route: &str) -> Price {
        self.prices
            .get(target)
            .or_else(|| self.prices.get(route))
            .copied()
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn per_token_and_per_hour_prices() {
        let table = PriceTable::new(&[
            PriceConfig {
                model: "openai/gpt-4o-mini".into(),
                input_per_mtok: 0.15,
                output_per_mtok: 0.6,
                per_hour: 0.0,
                slots: 1,
            },
            PriceConfig {
                model: "SmolLM2@1.0".into(),
                input_per_mtok: 0.0,
                output_per_mtok: 0.0,
                per_hour: 3.6,
                slots: 4,
            },
        ])
        .unwrap();
        // 1,000 in at 0.15 $/M = 150 µ$, 500 out at 0.6 $/M = 300 µ$.
        let gpt = table.price("openai/gpt-4o-mini", "chat");
        assert_eq!(gpt.cost(1000, 500, Duration::from_secs(9)), 450);
        // 3.6 $/h over 4 slots = 250 µ$/s.
        let local = table.price("SmolLM2@1.0", "chat");
        assert_eq!(local.cost(10, 10, Duration::from_secs(2)), 500);
        assert_eq!(table.price("other", "chat").cost(1, 1, Duration::ZERO), 0);
    }

    #[test]
    fn bad_rows_are_named() {
        let error = PriceTable::new(&[PriceConfig {
            model: "x".into(),
            input_per_mtok: -1.0,
            output_per_mtok: 0.0,
            per_hour: 0.0,
            slots: 1,
        }])
        .unwrap_err();
        assert!(error.to_string().contains("`x`"));
    }
}
