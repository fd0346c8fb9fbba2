//! Multiple-choice items scored from log-likelihoods.
//!
//! Tokenization follows lm-evaluation-harness: a trailing space of the
//! context moves to the continuation; the continuation's tokens are what
//! the whole text's tokens have beyond the context's. The tokens every
//! choice shares at the start of its continuation are the prefix llama.cpp's
//! evaluator leaves out of its per-token mean (`acc_per_token`).

use std::path::Path;
use std::time::Instant;

use modelgate_engine::{ChoiceTokens, ScoringConfig, ScoringModel};
use modelgate_eval::{CaseResult, ChoiceItem, ChoiceScore, score_item};

use crate::{Error, Progress, Settings};

/// Items scored per call into the engine: enough to fill several decodes.
const ITEMS_PER_CALL: usize = 64;

pub(crate) fn run(
    path: &Path,
    items: &[ChoiceItem],
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Vec<CaseResult>, Error> {
    let model = ScoringModel::load(path)?;
    let mut session = model.session(ScoringConfig {
        batch: settings.batch,
        seqs: settings.seqs,
        threads: settings.threads,
        ubatch: 0,
    })?;
    progress.begin("items", items.len() as u64);
    let mut results = Vec::with_capacity(items.len());
    for group in items.chunks(ITEMS_PER_CALL) {
        let started = Instant::now();
        let tokens: Vec<ChoiceTokens> = group.iter().map(|item| tokenize(&model, item)).collect();
        let scores = session.score_choices(&tokens)?;
        let per_item_ms = started.elapsed().as_secs_f64() * 1000.0 / group.len().max(1) as f64;
        for ((item, tokens), scores) in group.iter().zip(&tokens).zip(&scores) {
            let shared = shared_prefix(&tokens.continuations);
            let choices: Vec<ChoiceScore> = item
                .choices
                .iter()
                .zip(scores)
                .map(|(text, s)| {
                    let rest = s.token_logprobs.get(shared..).unwrap_or_default();
                    ChoiceScore {
                        logprob: s.logprob,
                        tokens: s.tokens,
                        bytes: continuation(&item.context, text).1.len(),
                        greedy: s.greedy,
                        mean_after_shared: if rest.is_empty() {
                            f64::NEG_INFINITY
                        } else {
                            rest.iter().sum::<f64>() / rest.len() as f64
                        },
                    }
                })
                .collect();
            results.push(CaseResult::multiple_choice(
                item,
                &score_item(item.gold, &choices),
                per_item_ms,
            ));
        }
        progress.advance(group.len() as u64);
    }
    progress.finish();
    Ok(results)
}

/// lm-evaluation-harness's split of context and continuation.
fn continuation<'a>(context: &'a str, choice: &'a str) -> (&'a str, String) {
    let trimmed = context.trim_end_matches(' ');
    let moved = context.len() - trimmed.len();
    (trimmed, format!("{}{choice}", " ".repeat(moved)))
}

fn tokenize(model: &ScoringModel, item: &ChoiceItem) -> ChoiceTokens {
    let context_tokens = |context: &str| model.tokenize(context, true);
    let (context, _) = continuation(&item.context, "");
    let ctx = context_tokens(context);
    let continuations = item
        .choices
        .iter()
        .map(|choice| {
            let (_, cont) = continuation(&item.context, choice);
            let whole = model.tokenize(&format!("{context}{cont}"), true);
            match whole.strip_prefix(ctx.as_slice()) {
                Some(rest) if !rest.is_empty() => rest.to_vec(),
                // The context's tokens are not a prefix of the whole's: split
                // where lm-evaluation-harness does, by count.
                _ if whole.len() > ctx.len() => whole.get(ctx.len()..).unwrap_or_default().to_vec(),
                _ => model.tokenize(&cont, false),
            }
        })
        .collect();
    ChoiceTokens {
        context: ctx,
        continuations,
    }
}

/// Tokens all continuations share at their start (0 for one choice: nothing
/// is left out).
fn shared_prefix(continuations: &[Vec<u32>]) -> usize {
    let Some((first, rest)) = continuations.split_first() else {
        return 0;
    };
    if rest.is_empty() {
        return 0;
    }
    (0..first.len())
        .take_while(|&i| rest.iter().all(|c| c.get(i) == first.get(i)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_space_moves_to_the_continuation() {
        assert_eq!(
            continuation("Q: 2+2? A: ", "4"),
            ("Q: 2+2? A:", " 4".to_owned())
        );
        assert_eq!(continuation("He", " runs"), ("He", " runs".to_owned()));
    }

    #[test]
    fn shared_prefix_counts_tokens_common_to_every_choice() {
        assert_eq!(
            shared_prefix(&[vec![1, 2, 3], vec![1, 2, 4], vec![1, 5]]),
            1
        );
        assert_eq!(shared_prefix(&[vec![1, 2], vec![1, 2]]), 2);
        assert_eq!(shared_prefix(&[vec![7, 2]]), 0);
        assert_eq!(shared_prefix(&[]), 0);
    }
}
