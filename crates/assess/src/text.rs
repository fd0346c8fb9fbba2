//! Perplexity of a corpus, as llama-perplexity computes it: the text is
//! tokenized whole (with BOS where the model wants one), cut into windows
//! of [`Settings::window`] tokens, the first token of each window replaced
//! by BOS where the model wants one, and the second half of each window
//! scored.

use std::path::Path;

use modelgate_engine::{ScoringConfig, ScoringModel};
use modelgate_eval::PerplexityAccumulator;

use crate::{Error, Progress, Settings};

/// Tokens llama.cpp computes at once when scoring windows. Its compute
/// buffer keeps a row of logits for each (vocabulary × 4 bytes: 192 KiB for
/// SmolLM2), so 128 instead of a whole 512-token window saves 72 MiB per
/// context; `eval divergence` holds two. Measured by
/// `bench/eval_vs_llama_cpp.py` (README, "Measured").
pub(crate) const WINDOW_UBATCH: u32 = 128;

/// The windows of a corpus: `(start, tokens)` pairs, each `window` long,
/// BOS first where the model wants one; at most `chunks`.
pub(crate) fn windows(
    model: &ScoringModel,
    text: &str,
    window: usize,
    chunks: Option<usize>,
) -> Result<(Vec<u32>, usize), Error> {
    if window < 4 {
        return Err(Error::Unsupported(format!(
            "a window of {window} tokens is too short to score; use --window 512 or so"
        )));
    }
    let tokens = model.tokenize(text, true);
    let available = tokens.len() / window;
    let n = chunks.map_or(available, |c| c.min(available));
    if n == 0 {
        return Err(Error::Unsupported(format!(
            "the corpus has {} tokens, fewer than one window of {window}; give a longer text or a smaller --window",
            tokens.len()
        )));
    }
    Ok((tokens, n))
}

/// One window's tokens, BOS in first place where the model wants one.
pub(crate) fn window_tokens(
    model: &ScoringModel,
    tokens: &[u32],
    i: usize,
    window: usize,
) -> Vec<u32> {
    let mut w = tokens
        .get(i * window..(i + 1) * window)
        .unwrap_or_default()
        .to_vec();
    if let (Some(bos), Some(first)) = (model.bos(), w.first_mut()) {
        *first = bos;
    }
    w
}

pub(crate) fn perplexity(
    path: &Path,
    text: &str,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<f64, Error> {
    let model = ScoringModel::load(path)?;
    let window = settings.window as usize;
    let mut session = model.session(ScoringConfig {
        batch: settings.window,
        seqs: 1,
        threads: settings.threads,
        ubatch: WINDOW_UBATCH,
    })?;
    let (tokens, n) = windows(&model, text, window, settings.chunks)?;
    let first = window / 2;
    let mut acc = PerplexityAccumulator::new();
    progress.begin("windows", n as u64);
    for i in 0..n {
        let w = window_tokens(&model, &tokens, i, window);
        let rows = session.decode_window(&w, first)?;
        for r in 0..rows {
            let (Some(row), Some(&next)) = (session.window_row(r), w.get(first + 1 + r)) else {
                continue;
            };
            acc.add(row, next as usize).map_err(|e| Error::Model {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
        progress.advance(1);
    }
    progress.finish();
    acc.perplexity().ok_or_else(|| {
        Error::Unsupported("no token of the corpus was scored; give a longer text".into())
    })
}
