//! Scoring text with a model's logits: the log-likelihood of continuations
//! after a shared context (multiple-choice evaluation), and the raw logits of
//! a window of text (perplexity, divergence between quantizations).
//!
//! A [`ScoringModel`] is loaded once; a [`ScoringSession`] owns one llama.cpp
//! context on the calling thread. Scoring is a batch job, not a service, so
//! there is no worker thread or queue here: the caller drives it, and two
//! sessions (a base and a candidate) can run side by side.
//!
//! Multiple choice is decoded as llama.cpp's own evaluator decodes it: each
//! item's context is put into the batch once, its cells shared by every
//! choice's sequence, and each choice's continuation follows on its own
//! sequence. Items are packed into one batch up to [`ScoringConfig::batch`]
//! tokens and [`ScoringConfig::seqs`] sequences.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use crate::EngineError;
use crate::engine::backend;

/// A model loaded for scoring.
pub struct ScoringModel {
    model: LlamaModel,
    path: PathBuf,
    vocab: usize,
}

impl std::fmt::Debug for ScoringModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoringModel")
            .field("path", &self.path)
            .field("vocab", &self.vocab)
            .finish_non_exhaustive()
    }
}

/// The shape of a scoring session's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoringConfig {
    /// Tokens in one decode (llama.cpp's `n_batch`), and cells of the KV
    /// cache, which all sequences share: the most tokens of one window, or
    /// of the items packed together.
    pub batch: u32,
    /// Sequences (llama.cpp's `n_seq_max`): the most choices packed into one
    /// decode, over all its items.
    pub seqs: u32,
    /// CPU threads.
    pub threads: u32,
    /// Tokens llama.cpp computes at once within a decode (`n_ubatch`); 0
    /// for the engine's default (`batch`, at most [`MAX_UBATCH`]). The
    /// compute buffer holds a row of logits for each of them, so a window
    /// scorer that keeps two models side by side sets it lower: memory
    /// falls by `vocabulary × 4 bytes` per token, at a small cost in speed.
    ///
    /// [`MAX_UBATCH`]: crate::MAX_UBATCH
    pub ubatch: u32,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as u32);
        Self {
            batch: 2048,
            seqs: 32,
            threads,
            ubatch: 0,
        }
    }
}

/// One multiple-choice item as tokens: a context and the continuations
/// whose likelihood after it is wanted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChoiceTokens {
    /// Tokens of the context (with BOS where the model wants one); not empty.
    pub context: Vec<u32>,
    /// Tokens of each continuation.
    pub continuations: Vec<Vec<u32>>,
}

impl ChoiceTokens {
    fn tokens(&self) -> usize {
        self.context.len() + self.continuations.iter().map(Vec::len).sum::<usize>()
    }
}

/// The likelihood of one continuation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContinuationScore {
    /// Sum of the natural-log probabilities of its tokens.
    pub logprob: f64,
    /// Tokens scored.
    pub tokens: usize,
    /// The natural-log probability of each token, in order (so a caller can
    /// leave out a prefix every choice shares, as llama.cpp's evaluator does).
    pub token_logprobs: Vec<f64>,
    /// Whether every token was the model's most likely one (greedy decoding
    /// would have produced it).
    pub greedy: bool,
}

impl ScoringModel {
    /// Loads a GGUF model (memory-mapped).
    pub fn load(path: &Path) -> Result<ScoringModel, EngineError> {
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| EngineError::Load {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let vocab = usize::try_from(model.n_vocab()).unwrap_or(0);
        Ok(ScoringModel {
            model,
            path: path.to_owned(),
            vocab,
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokens in the vocabulary (the length of a row of logits).
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// Bytes of weights llama.cpp holds.
    pub fn weights_bytes(&self) -> u64 {
        self.model.size()
    }

    /// Whether the model wants a BOS token at the start of a sequence.
    pub fn adds_bos(&self) -> bool {
        self.model.vocab().should_add_bos()
    }

    /// The BOS token, when the model wants one.
    pub fn bos(&self) -> Option<u32> {
        let vocab = self.model.vocab();
        if vocab.should_add_bos() {
            u32::try_from(vocab.bos().0).ok()
        } else {
            None
        }
    }

    /// Tokenizes text as plain text (special tokens written in it are not
    /// parsed); `add_bos` adds the BOS token where the model wants one.
    pub fn tokenize(&self, text: &str, add_bos: bool) -> Vec<u32> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), add_bos, false)
            .into_iter()
            .filter_map(|t| u32::try_from(t.0).ok())
            .collect()
    }

    /// A scoring context on the calling thread.
    pub fn session(&self, config: ScoringConfig) -> Result<ScoringSession<'_>, EngineError> {
        let batch = config.batch.max(1);
        let seqs = config.seqs.max(1);
        let threads = i32::try_from(config.threads.max(1)).unwrap_or(1);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(batch))
            .with_n_batch(batch)
            .with_n_ubatch(match config.ubatch {
                0 => batch.min(crate::MAX_UBATCH),
                ubatch => ubatch.min(batch),
            })
            .with_n_seq_max(seqs)
            // Every sequence draws on one pool of cells: an item's context is
            // stored once for all its choices.
            .with_kv_unified(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let backend = backend()?;
        let ctx = self
            .model
            .new_context(backend, params)
            .map_err(|e| EngineError::Context {
                path: self.path.clone(),
                n_ctx: batch,
                slots: seqs,
                reason: e.to_string(),
            })?;
        Ok(ScoringSession {
            model: self,
            ctx,
            batch: batch as usize,
            seqs: seqs as usize,
            rows: None,
        })
    }
}

/// A llama.cpp context used for scoring. Not shared between threads.
pub struct ScoringSession<'m> {
    model: &'m ScoringModel,
    ctx: LlamaContext<'m>,
    batch: usize,
    seqs: usize,
    /// The window last decoded: its first row's position and its rows.
    rows: Option<(usize, usize)>,
}

impl std::fmt::Debug for ScoringSession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoringSession")
            .field("model", &self.model.path)
            .field("batch", &self.batch)
            .field("seqs", &self.seqs)
            .finish_non_exhaustive()
    }
}

/// Where one scored token's row of logits is in a decoded batch.
struct Pending {
    item: usize,
    choice: usize,
    /// Batch index of the row that predicts the token.
    row: i32,
    token: u32,
}

impl ScoringSession<'_> {
    /// Tokens of one decode and cells of the cache.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Scores every continuation of every item after its context. Items are
    /// packed into as few decodes as the batch and sequences allow; an item
    /// that does not fit one decode alone is an error naming it.
    pub fn score_choices(
        &mut self,
        items: &[ChoiceTokens],
    ) -> Result<Vec<Vec<ContinuationScore>>, EngineError> {
        let vocab = self.model.vocab;
        for (i, item) in items.iter().enumerate() {
            if item.context.is_empty() {
                return Err(EngineError::Unsupported(format!(
                    "item {i}: the context has no tokens; give it text, or a model that adds BOS"
                )));
            }
            for &t in item
                .context
                .iter()
                .chain(item.continuations.iter().flatten())
            {
                if t as usize >= vocab {
                    return Err(EngineError::BadToken {
                        token: t,
                        vocab: vocab as u32,
                    });
                }
            }
            let n = item.tokens();
            if n > self.batch || item.continuations.len() > self.seqs {
                return Err(EngineError::Unsupported(format!(
                    "item {i} needs {n} tokens in {} sequences; a decode holds {} tokens in {} sequences: raise the batch (--batch) or --seqs",
                    item.continuations.len(),
                    self.batch,
                    self.seqs
                )));
            }
        }
        let mut out: Vec<Vec<ContinuationScore>> = items
            .iter()
            .map(|item| {
                vec![
                    ContinuationScore {
                        greedy: true,
                        ..ContinuationScore::default()
                    };
                    item.continuations.len()
                ]
            })
            .collect();
        let mut start = 0;
        while start < items.len() {
            let (mut tokens, mut seqs, mut end) = (0, 0, start);
            while let Some(item) = items.get(end) {
                let k = item.continuations.len().max(1);
                if end > start && (tokens + item.tokens() > self.batch || seqs + k > self.seqs) {
                    break;
                }
                tokens += item.tokens();
                seqs += k;
                end += 1;
            }
            self.decode_group(items, start, end, &mut out)?;
            start = end;
        }
        Ok(out)
    }

    fn decode_group(
        &mut self,
        items: &[ChoiceTokens],
        start: usize,
        end: usize,
        out: &mut [Vec<ContinuationScore>],
    ) -> Result<(), EngineError> {
        let group = items.get(start..end).unwrap_or_default();
        let total: usize = group.iter().map(ChoiceTokens::tokens).sum();
        let mut batch = LlamaBatch::new(total.max(1), self.seqs as i32);
        let mut pending = Vec::new();
        let mut seq = 0i32;
        let mut row = 0i32;
        let add = |batch: &mut LlamaBatch, t: u32, pos: usize, seqs: &[i32], logits: bool| {
            batch
                .add(
                    LlamaToken(i32::try_from(t).unwrap_or(0)),
                    i32::try_from(pos).unwrap_or(i32::MAX),
                    seqs,
                    logits,
                )
                .map_err(|e| EngineError::Decode(e.to_string()))
        };
        for (offset, item) in group.iter().enumerate() {
            let k = item.continuations.len().max(1) as i32;
            let seq_ids: Vec<i32> = (seq..seq + k).collect();
            let last = item.context.len() - 1;
            for (pos, &t) in item.context.iter().enumerate() {
                add(&mut batch, t, pos, &seq_ids, pos == last)?;
                row += 1;
            }
            let context_row = row - 1;
            for (choice, continuation) in item.continuations.iter().enumerate() {
                let mut predicting = context_row;
                for (j, &t) in continuation.iter().enumerate() {
                    pending.push(Pending {
                        item: start + offset,
                        choice,
                        row: predicting,
                        token: t,
                    });
                    let wants_row = j + 1 < continuation.len();
                    add(
                        &mut batch,
                        t,
                        item.context.len() + j,
                        &[seq + choice as i32],
                        wants_row,
                    )?;
                    predicting = row;
                    row += 1;
                }
            }
            seq += k;
        }
        self.rows = None;
        let _ = self.ctx.clear_kv_cache_seq(None, None, None);
        self.ctx
            .decode(&mut batch)
            .map_err(|e| EngineError::Decode(e.to_string()))?;
        for p in &pending {
            let logits = self.ctx.get_logits_ith(p.row);
            let (logprob, greedy) = token_logprob(logits, p.token);
            if let Some(score) = out.get_mut(p.item).and_then(|s| s.get_mut(p.choice)) {
                score.logprob += logprob;
                score.tokens += 1;
                score.token_logprobs.push(logprob);
                score.greedy &= greedy;
            }
        }
        let _ = self.ctx.clear_kv_cache_seq(None, None, None);
        Ok(())
    }

    /// Decodes one window of tokens from position 0, keeping the rows of
    /// logits at positions `first ..= tokens.len() - 2`: the rows that
    /// predict tokens `first + 1 ..` (llama-perplexity scores the second
    /// half of each window this way). Returns how many rows there are; read
    /// them with [`ScoringSession::window_row`] until the next decode. Only
    /// those rows are computed and held.
    pub fn decode_window(&mut self, tokens: &[u32], first: usize) -> Result<usize, EngineError> {
        let vocab = self.model.vocab;
        self.rows = None;
        if tokens.len() > self.batch {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len(),
                context: self.batch as u32,
            });
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(EngineError::BadToken {
                token: t,
                vocab: vocab as u32,
            });
        }
        if tokens.len() < 2 || first + 1 >= tokens.len() {
            return Ok(0);
        }
        let mut batch = LlamaBatch::new(tokens.len(), 1);
        for (pos, &t) in tokens.iter().enumerate() {
            batch
                .add(
                    LlamaToken(i32::try_from(t).unwrap_or(0)),
                    i32::try_from(pos).unwrap_or(i32::MAX),
                    &[0],
                    pos >= first && pos + 1 < tokens.len(),
                )
                .map_err(|e| EngineError::Decode(e.to_string()))?;
        }
        let _ = self.ctx.clear_kv_cache_seq(None, None, None);
        self.ctx
            .decode(&mut batch)
            .map_err(|e| EngineError::Decode(e.to_string()))?;
        let rows = tokens.len() - 1 - first;
        self.rows = Some((first, rows));
        Ok(rows)
    }

    /// Row `r` of the window last decoded (the logits at position
    /// `first + r`); `None` past the last row or before any window.
    pub fn window_row(&self, r: usize) -> Option<&[f32]> {
        let (first, rows) = self.rows?;
        if r >= rows {
            return None;
        }
        Some(self.ctx.get_logits_ith(i32::try_from(first + r).ok()?))
    }

    /// [`ScoringSession::decode_window`], with the rows appended to `out`.
    pub fn window_logits(
        &mut self,
        tokens: &[u32],
        first: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, EngineError> {
        let rows = self.decode_window(tokens, first)?;
        out.reserve(rows * self.model.vocab);
        for r in 0..rows {
            if let Some(row) = self.window_row(r) {
                out.extend_from_slice(row);
            }
        }
        Ok(rows)
    }
}

/// The natural-log probability of `token` under a row of logits, and
/// whether it is the row's most likely token (ties go to the lowest id, as
/// argmax does).
pub fn token_logprob(logits: &[f32], token: u32) -> (f64, bool) {
    let mut max = f32::NEG_INFINITY;
    let mut argmax = 0usize;
    for (i, &l) in logits.iter().enumerate() {
        if l > max {
            max = l;
            argmax = i;
        }
    }
    let sum: f64 = logits.iter().map(|&l| f64::from((l - max).exp())).sum();
    let target = logits
        .get(token as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    (f64::from(target - max) - sum.ln(), argmax == token as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logprob_of_uniform_row_is_minus_log_n() {
        let (lp, _) = token_logprob(&[0.0; 4], 2);
        assert!((lp + 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn logprob_matches_softmax_and_flags_argmax() {
        let row = [1.0f32, 3.0, 2.0];
        let z: f64 = row.iter().map(|&l| f64::from(l).exp()).sum();
        let (lp, greedy) = token_logprob(&row, 1);
        assert!((lp - (3f64.exp() / z).ln()).abs() < 1e-6);
        assert!(greedy);
        assert!(!token_logprob(&row, 2).1);
    }

    #[test]
    fn a_token_outside_the_row_is_impossible_not_a_panic() {
        assert_eq!(token_logprob(&[0.0; 2], 9).0, f64::NEG_INFINITY);
    }
}
