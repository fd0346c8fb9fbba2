//! Token-level comparison of two models' next-token distributions, and
//! perplexity, from raw logits rows (one `f32` per vocabulary entry).
//!
//! [`DivergenceAccumulator`] takes, per position, the base model's row, the
//! candidate's row and the token that actually came next, and records
//! `KL(base ‖ candidate) = Σ p·(log p − log q)`, whether both rows have the
//! same top-1 token, and the negative log-likelihood of the actual token under
//! each. It works straight from the logits:
//!
//! `KL = Σ e_i (b_i − c_i) / Σ e_i − LSE(b) + LSE(c)`, with
//! `e_i = exp(b_i − max b)` and `LSE` the log-sum-exp,
//!
//! so a row pair costs two passes (maxima, then sums) and no buffer at all;
//! sums and exponentials are in `f64`. Identical rows give exactly 0. The
//! per-token KL values are kept as `f32` for the median and p99.
//!
//! Logits may be `-inf` (masked tokens); NaN or `+inf` is an error, as are
//! rows of different lengths and token ids outside the row. Errors leave the
//! accumulators unchanged.

use serde::{Deserialize, Serialize};

use crate::stats::percentile_of_sorted;

/// Why a row could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DivergenceError {
    /// The rows are of different lengths.
    #[error(
        "row lengths differ: {base} base logits and {candidate} candidate logits; compare models with the same vocabulary"
    )]
    LengthMismatch {
        /// Length of the base (or input) row.
        base: usize,
        /// Length of the candidate (or output) row.
        candidate: usize,
    },
    /// A row has no logits.
    #[error("empty logits row")]
    EmptyRow,
    /// Every logit of a row is `-inf`.
    #[error("every {row} logit is -inf; the row has no distribution")]
    AllMasked {
        /// `"base"`, `"candidate"` or `"logits"`.
        row: &'static str,
    },
    /// A logit is NaN or `+inf`.
    #[error("{row} logit {index} is {value}; logits must be finite (or -inf)")]
    NonFinite {
        /// `"base"`, `"candidate"` or `"logits"`.
        row: &'static str,
        /// Its index.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The actual token is outside the vocabulary.
    #[error("token {token} is outside the vocabulary of {vocab} entries")]
    TokenOutOfRange {
        /// The token id.
        token: usize,
        /// The row length.
        vocab: usize,
    },
}

/// Maximum and its first index; refuses NaN and `+inf`.
fn row_max(row: &[f32], name: &'static str) -> Result<(f64, usize), DivergenceError> {
    let mut max = f32::NEG_INFINITY;
    let mut argmax = 0;
    for (index, &value) in row.iter().enumerate() {
        if value.is_nan() || value == f32::INFINITY {
            return Err(DivergenceError::NonFinite {
                row: name,
                index,
                value,
            });
        }
        if value > max {
            max = value;
            argmax = index;
        }
    }
    if row.is_empty() {
        return Err(DivergenceError::EmptyRow);
    }
    if max == f32::NEG_INFINITY {
        return Err(DivergenceError::AllMasked { row: name });
    }
    Ok((f64::from(max), argmax))
}

/// `ln Σ exp(x_i)` given the row's maximum.
fn log_sum_exp(row: &[f32], max: f64) -> f64 {
    let sum: f64 = row.iter().map(|&x| (f64::from(x) - max).exp()).sum();
    max + sum.ln()
}

/// Writes `log_softmax(logits)` into `out` (same length).
pub fn log_softmax_into(logits: &[f32], out: &mut [f32]) -> Result<(), DivergenceError> {
    if logits.len() != out.len() {
        return Err(DivergenceError::LengthMismatch {
            base: logits.len(),
            candidate: out.len(),
        });
    }
    let (max, _) = row_max(logits, "logits")?;
    let lse = log_sum_exp(logits, max);
    for (slot, &x) in out.iter_mut().zip(logits) {
        *slot = (f64::from(x) - lse) as f32;
    }
    Ok(())
}

/// `log P(token)` under `softmax(logits)`.
pub fn token_logprob(logits: &[f32], token: usize) -> Result<f64, DivergenceError> {
    let (max, _) = row_max(logits, "logits")?;
    let &logit = logits.get(token).ok_or(DivergenceError::TokenOutOfRange {
        token,
        vocab: logits.len(),
    })?;
    Ok(f64::from(logit) - log_sum_exp(logits, max))
}

/// Index of the largest logit (the first on ties); `None` for an empty row or
/// one with NaN or `+inf`.
pub fn argmax(logits: &[f32]) -> Option<usize> {
    row_max(logits, "logits").ok().map(|(_, index)| index)
}

/// What one position contributed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TokenDivergence {
    /// `KL(base ‖ candidate)` in nats (never negative).
    pub kld: f64,
    /// Whether both rows have the same top-1 token.
    pub same_top1: bool,
    /// `−log P_base(actual)`.
    pub nll_base: f64,
    /// `−log P_candidate(actual)`.
    pub nll_candidate: f64,
}

/// Gathers [`TokenDivergence`]s over many positions.
#[derive(Debug, Clone, Default)]
pub struct DivergenceAccumulator {
    kld_per_token: Vec<f32>,
    kld_sum: f64,
    same_top1: u64,
    nll_base_sum: f64,
    nll_candidate_sum: f64,
}

/// The summary of a [`DivergenceAccumulator`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DivergenceSummary {
    /// Positions compared.
    pub tokens: u64,
    /// Mean KL divergence, nats.
    pub kld_mean: f64,
    /// 99th percentile of the per-token KL.
    pub kld_p99: f64,
    /// Median per-token KL.
    pub kld_median: f64,
    /// Fraction of positions with the same top-1 token.
    pub same_top1: f64,
    /// Perplexity of the actual tokens under the base model.
    pub ppl_base: f64,
    /// Perplexity of the actual tokens under the candidate.
    pub ppl_candidate: f64,
}

impl DivergenceAccumulator {
    /// An empty accumulator.
    pub fn new() -> DivergenceAccumulator {
        DivergenceAccumulator::default()
    }

    /// An empty accumulator with room for `tokens` positions.
    pub fn with_capacity(tokens: usize) -> DivergenceAccumulator {
        DivergenceAccumulator {
            kld_per_token: Vec::with_capacity(tokens),
            ..DivergenceAccumulator::default()
        }
    }

    /// Compares one position: the base and candidate logits and the token
    /// that actually came next.
    pub fn add(
        &mut self,
        base: &[f32],
        candidate: &[f32],
        actual_next_token: usize,
    ) -> Result<TokenDivergence, DivergenceError> {
        let token = compare_rows(base, candidate, actual_next_token)?;
        self.kld_per_token.push(token.kld as f32);
        self.kld_sum += token.kld;
        self.same_top1 += u64::from(token.same_top1);
        self.nll_base_sum += token.nll_base;
        self.nll_candidate_sum += token.nll_candidate;
        Ok(token)
    }

    /// Positions added so far.
    pub fn tokens(&self) -> u64 {
        self.kld_per_token.len() as u64
    }

    /// The summary, or `None` before the first position.
    pub fn summary(&self) -> Option<DivergenceSummary> {
        if self.kld_per_token.is_empty() {
            return None;
        }
        let n = self.kld_per_token.len() as f64;
        let mut sorted: Vec<f64> = self
            .kld_per_token
            .iter()
            .map(|&kld| f64::from(kld))
            .collect();
        sorted.sort_by(f64::total_cmp);
        Some(DivergenceSummary {
            tokens: self.tokens(),
            kld_mean: self.kld_sum / n,
            kld_p99: percentile_of_sorted(&sorted, 99.0)?,
            kld_median: percentile_of_sorted(&sorted, 50.0)?,
            same_top1: self.same_top1 as f64 / n,
            ppl_base: (self.nll_base_sum / n).exp(),
            ppl_candidate: (self.nll_candidate_sum / n).exp(),
        })
    }
}

/// One position's divergence, computed in two passes over the rows.
pub fn compare_rows(
    base: &[f32],
    candidate: &[f32],
    actual_next_token: usize,
) -> Result<TokenDivergence, DivergenceError> {
    if base.len() != candidate.len() {
        return Err(DivergenceError::LengthMismatch {
            base: base.len(),
            candidate: candidate.len(),
        });
    }
    let (&base_actual, &candidate_actual) = base
        .get(actual_next_token)
        .zip(candidate.get(actual_next_token))
        .ok_or(DivergenceError::TokenOutOfRange {
            token: actual_next_token,
            vocab: base.len(),
        })?;
    let (max_base, top_base) = row_max(base, "base")?;
    let (max_candidate, top_candidate) = row_max(candidate, "candidate")?;
    let mut sum_base = 0.0f64;
    let mut sum_candidate = 0.0f64;
    let mut weighted_difference = 0.0f64;
    for (&b, &c) in base.iter().zip(candidate) {
        let b = f64::from(b);
        let c = f64::from(c);
        let weight = (b - max_base).exp();
        sum_base += weight;
        sum_candidate += (c - max_candidate).exp();
        if weight > 0.0 {
            weighted_difference += weight * (b - c);
        }
    }
    let lse_base = max_base + sum_base.ln();
    let lse_candidate = max_candidate + sum_candidate.ln();
    let kld = weighted_difference / sum_base - lse_base + lse_candidate;
    Ok(TokenDivergence {
        kld: if kld > 0.0 { kld } else { 0.0 },
        same_top1: top_base == top_candidate,
        nll_base: lse_base - f64::from(base_actual),
        nll_candidate: lse_candidate - f64::from(candidate_actual),
    })
}

/// Gathers negative log-likelihoods for a perplexity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PerplexityAccumulator {
    nll_sum: f64,
    tokens: u64,
}

impl PerplexityAccumulator {
    /// An empty accumulator.
    pub fn new() -> PerplexityAccumulator {
        PerplexityAccumulator::default()
    }

    /// Scores `actual_next_token` under one logits row; returns its NLL.
    pub fn add(
        &mut self,
        logits: &[f32],
        actual_next_token: usize,
    ) -> Result<f64, DivergenceError> {
        let nll = -token_logprob(logits, actual_next_token)?;
        self.add_nll(nll);
        Ok(nll)
    }

    /// Adds a negative log-likelihood computed elsewhere.
    pub fn add_nll(&mut self, nll: f64) {
        self.nll_sum += nll;
        self.tokens += 1;
    }

    /// Tokens scored.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Mean NLL in nats, `None` before the first token.
    pub fn mean_nll(&self) -> Option<f64> {
        (self.tokens > 0).then(|| self.nll_sum / self.tokens as f64)
    }

    /// `exp(mean NLL)`, `None` before the first token.
    pub fn perplexity(&self) -> Option<f64> {
        self.mean_nll().map(f64::exp)
    }
}
