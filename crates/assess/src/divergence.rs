//! How far a quantized model strays from its base, in one streaming pass.
//!
//! Both models are loaded side by side; each window of the corpus is decoded
//! by both, and each scored position's two rows of logits are compared
//! straight from the two contexts' output buffers, so what is held is the
//! models plus the two contexts' logits for one window: no logits file, as
//! llama-perplexity's `--kl-divergence-base` needs. Windows, BOS and the
//! scored half are llama-perplexity's (see [`crate::text`]), so the numbers
//! are comparable with `llama-perplexity --kl-divergence`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use modelgate_engine::{ScoringConfig, ScoringModel};
use modelgate_eval::{DivergenceAccumulator, DivergenceSummary};
use serde::Serialize;

use crate::text::{window_tokens, windows};
use crate::{Error, Progress};

/// How to run a divergence pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivergenceOptions {
    /// Window, tokens.
    pub window: u32,
    /// Most windows (`None`: the whole corpus).
    pub chunks: Option<usize>,
    /// CPU threads.
    pub threads: u32,
}

/// The result of a divergence pass: the JSON of `modelgate eval divergence`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DivergenceReport {
    /// The base model file.
    pub base: PathBuf,
    /// The candidate model file.
    pub candidate: PathBuf,
    /// Window, tokens.
    pub window: u32,
    /// Windows scored.
    pub chunks: usize,
    /// Positions compared.
    pub tokens: u64,
    /// Mean KL divergence of the candidate from the base, nats.
    pub kld_mean: f64,
    /// Median KL divergence.
    pub kld_median: f64,
    /// 99th percentile of the KL divergence.
    pub kld_p99: f64,
    /// Fraction of positions where both models' most likely token is the same.
    pub same_top1: f64,
    /// Perplexity of the base on the scored positions.
    pub ppl_base: f64,
    /// Perplexity of the candidate on the scored positions.
    pub ppl_candidate: f64,
    /// Candidate tokens decoded per second in the pass (prompt processing).
    pub candidate_tokens_per_s: f64,
    /// Wall-clock seconds, models loaded included.
    pub duration_s: f64,
}

/// Compares `candidate` with `base` on `text`.
pub fn divergence(
    base: &Path,
    candidate: &Path,
    text: &str,
    options: DivergenceOptions,
    progress: &dyn Progress,
) -> Result<DivergenceReport, Error> {
    let clock = Instant::now();
    let base_model = ScoringModel::load(base)?;
    let candidate_model = ScoringModel::load(candidate)?;
    if base_model.vocab_size() != candidate_model.vocab_size() {
        return Err(Error::Unsupported(format!(
            "{} has {} tokens in its vocabulary and {} has {}: only variants of one model can be compared",
            base.display(),
            base_model.vocab_size(),
            candidate.display(),
            candidate_model.vocab_size()
        )));
    }
    let config = ScoringConfig {
        batch: options.window,
        seqs: 1,
        threads: options.threads,
        ubatch: crate::text::WINDOW_UBATCH,
    };
    let mut base_session = base_model.session(config)?;
    let mut candidate_session = candidate_model.session(config)?;
    let window = options.window as usize;
    let (tokens, n) = windows(&base_model, text, window, options.chunks)?;
    if candidate_model.tokenize(text, true) != tokens {
        return Err(Error::Unsupported(format!(
            "{} and {} tokenize the corpus differently: only variants of one model can be compared",
            base.display(),
            candidate.display()
        )));
    }
    let first = window / 2;
    let mut acc = DivergenceAccumulator::with_capacity(n * (window - first));
    let mut candidate_seconds = 0.0;
    progress.begin("windows", n as u64);
    for i in 0..n {
        let w = window_tokens(&base_model, &tokens, i, window);
        let rows = base_session.decode_window(&w, first)?;
        let t = Instant::now();
        candidate_session.decode_window(&w, first)?;
        candidate_seconds += t.elapsed().as_secs_f64();
        for r in 0..rows {
            let (Some(b), Some(c), Some(&next)) = (
                base_session.window_row(r),
                candidate_session.window_row(r),
                w.get(first + 1 + r),
            ) else {
                continue;
            };
            acc.add(b, c, next as usize).map_err(|e| Error::Model {
                path: candidate.to_owned(),
                reason: e.to_string(),
            })?;
        }
        progress.advance(1);
    }
    progress.finish();
    let DivergenceSummary {
        tokens: scored,
        kld_mean,
        kld_median,
        kld_p99,
        same_top1,
        ppl_base,
        ppl_candidate,
        ..
    } = acc
        .summary()
        .ok_or_else(|| Error::Unsupported("no position was compared".into()))?;
    Ok(DivergenceReport {
        base: base.to_owned(),
        candidate: candidate.to_owned(),
        window: options.window,
        chunks: n,
        tokens: scored,
        kld_mean,
        kld_median,
        kld_p99,
        same_top1,
        ppl_base,
        ppl_candidate,
        candidate_tokens_per_s: if candidate_seconds > 0.0 {
            (n * window) as f64 / candidate_seconds
        } else {
            0.0
        },
        duration_s: clock.elapsed().as_secs_f64(),
    })
}
