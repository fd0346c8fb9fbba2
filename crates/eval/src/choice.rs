//! Multiple-choice scoring, as lm-evaluation-harness does it.
//!
//! Each choice is scored by the log-probability of its continuation given the
//! context (the sum over the continuation's tokens). `acc` picks the choice
//! with the highest log-probability; `acc_norm` the highest log-probability
//! per UTF-8 byte of the continuation, which removes the bias towards short
//! answers. Ties go to the lowest index; NaN log-probabilities never win.
//!
//! `acc_per_token` is llama.cpp's HellaSwag metric (`llama-perplexity
//! --hellaswag`, which prints it as `acc_norm`): the mean log-probability per
//! token, over the tokens after the prefix every choice's tokenization
//! shares (tokens that are the same for all choices are left out).

use serde::{Deserialize, Serialize};

/// How the model scored one choice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChoiceScore {
    /// Sum of the log-probabilities of the continuation's tokens.
    pub logprob: f64,
    /// Number of continuation tokens.
    pub tokens: usize,
    /// Length of the continuation in UTF-8 bytes.
    pub bytes: usize,
    /// Whether every continuation token was the model's greedy (top-1) pick.
    pub greedy: bool,
    /// Mean log-probability per token after the prefix all choices share
    /// (llama.cpp's normalisation); NaN when the runner did not compute it.
    pub mean_after_shared: f64,
}

/// How the model did on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemScore {
    /// `pred == Some(gold)`.
    pub acc: bool,
    /// `pred_norm == Some(gold)`.
    pub acc_norm: bool,
    /// Index of the highest log-probability (`None` without choices).
    pub pred: Option<usize>,
    /// Index of the highest log-probability per byte (`None` without choices).
    pub pred_norm: Option<usize>,
    /// `pred_per_token == Some(gold)`.
    pub acc_per_token: bool,
    /// Index of the highest mean log-probability per token after the shared
    /// prefix (`None` without choices).
    pub pred_per_token: Option<usize>,
}

/// Scores one item whose right answer is `gold`. A zero-byte continuation is
/// normalised as if it had one byte.
pub fn score_item(gold: usize, scores: &[ChoiceScore]) -> ItemScore {
    let pred = argmax(scores.iter().map(|score| score.logprob));
    let pred_norm = argmax(
        scores
            .iter()
            .map(|score| score.logprob / score.bytes.max(1) as f64),
    );
    let pred_per_token = argmax(scores.iter().map(|score| score.mean_after_shared));
    ItemScore {
        acc: pred == Some(gold),
        acc_norm: pred_norm == Some(gold),
        pred,
        pred_norm,
        acc_per_token: pred_per_token == Some(gold),
        pred_per_token,
    }
}

/// Index of the largest value; the first on ties; NaN loses to everything.
fn argmax(values: impl Iterator<Item = f64>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (index, value) in values.enumerate() {
        let value = if value.is_nan() {
            f64::NEG_INFINITY
        } else {
            value
        };
        match best {
            Some((_, best_value)) if value <= best_value => {}
            _ => best = Some((index, value)),
        }
    }
    best.map(|(index, _)| index)
}
