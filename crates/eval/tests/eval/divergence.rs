use std::time::Instant;

use modelgate_eval::divergence::{argmax, compare_rows, token_logprob};
use modelgate_eval::{
    DivergenceAccumulator, DivergenceError, PerplexityAccumulator, log_softmax_into,
};

/// A deterministic pseudo-random logits row.
fn row(seed: u64, vocab: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..vocab)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 20.0 - 10.0
        })
        .collect()
}

#[test]
fn identical_rows_have_zero_divergence() {
    let base = row(1, 49_152);
    let token = compare_rows(&base, &base, 17).unwrap();
    assert!(token.kld.abs() < 1e-9, "{}", token.kld);
    assert!(token.same_top1);
    assert_eq!(token.nll_base, token.nll_candidate);
}

#[test]
fn divergence_of_small_known_distributions() {
    // p = (1/2, 1/4, 1/4), q = (1/4, 1/2, 1/4); the candidate shifted by 7
    // (softmax ignores shifts). KL(p||q) = 1/2 ln 2 - 1/4 ln 2 = ln 2 / 4.
    let base = [0.5f32.ln(), 0.25f32.ln(), 0.25f32.ln()];
    let candidate = [0.25f32.ln() + 7.0, 0.5f32.ln() + 7.0, 0.25f32.ln() + 7.0];
    let token = compare_rows(&base, &candidate, 2).unwrap();
    let expected = std::f64::consts::LN_2 / 4.0;
    assert!(
        (token.kld - expected).abs() < 1e-7,
        "{} vs {expected}",
        token.kld
    );
    assert!(!token.same_top1);
    assert!((token.nll_base - 4f64.ln()).abs() < 1e-7);
    assert!((token.nll_candidate - 4f64.ln()).abs() < 1e-6);

    // Against a direct sum over the log-softmax of random rows.
    let base = row(2, 1000);
    let candidate = row(3, 1000);
    let mut log_p = vec![0f32; 1000];
    let mut log_q = vec![0f32; 1000];
    log_softmax_into(&base, &mut log_p).unwrap();
    log_softmax_into(&candidate, &mut log_q).unwrap();
    let direct: f64 = log_p
        .iter()
        .zip(&log_q)
        .map(|(&lp, &lq)| f64::from(lp).exp() * (f64::from(lp) - f64::from(lq)))
        .sum();
    let token = compare_rows(&base, &candidate, 0).unwrap();
    assert!(
        (token.kld - direct).abs() < 1e-5,
        "{} vs {direct}",
        token.kld
    );
    assert!((token.nll_base + f64::from(log_p[0])).abs() < 1e-5);
}

#[test]
fn masked_logits_are_allowed_and_a_masked_candidate_gives_infinity() {
    let base = [0.0, f32::NEG_INFINITY, 1.0];
    let candidate = [0.5, f32::NEG_INFINITY, 1.0];
    let token = compare_rows(&base, &candidate, 0).unwrap();
    assert!(token.kld.is_finite() && token.kld > 0.0);
    let candidate = [f32::NEG_INFINITY, 0.0, 1.0];
    let token = compare_rows(&base, &candidate, 2).unwrap();
    assert_eq!(token.kld, f64::INFINITY);
}

#[test]
fn bad_rows_are_errors_and_leave_the_accumulator_unchanged() {
    let mut accumulator = DivergenceAccumulator::new();
    assert_eq!(
        accumulator.add(&[0.0, 1.0], &[0.0, 1.0, 2.0], 0),
        Err(DivergenceError::LengthMismatch {
            base: 2,
            candidate: 3
        })
    );
    assert!(matches!(
        accumulator.add(&[0.0, 1.0], &[0.0, 1.0], 2),
        Err(DivergenceError::TokenOutOfRange { token: 2, vocab: 2 })
    ));
    assert!(matches!(
        accumulator.add(&[0.0, f32::NAN], &[0.0, 1.0], 0),
        Err(DivergenceError::NonFinite {
            row: "base",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        accumulator.add(&[0.0, 1.0], &[f32::INFINITY, 1.0], 0),
        Err(DivergenceError::NonFinite {
            row: "candidate",
            index: 0,
            ..
        })
    ));
    assert!(matches!(
        accumulator.add(&[f32::NEG_INFINITY; 2], &[0.0, 1.0], 0),
        Err(DivergenceError::AllMasked { row: "base" })
    ));
    assert!(accumulator.add(&[], &[], 0).is_err());
    assert_eq!(accumulator.tokens(), 0);
    assert_eq!(accumulator.summary(), None);
    let mut out = [0f32; 1];
    assert!(log_softmax_into(&[1.0, 2.0], &mut out).is_err());
    assert!(token_logprob(&[1.0], 1).is_err());
    assert_eq!(argmax(&[1.0, f32::NAN]), None);
    assert_eq!(argmax(&[1.0, 3.0, 3.0]), Some(1));
}

#[test]
fn summary_over_many_tokens() {
    let vocab = 512;
    let mut accumulator = DivergenceAccumulator::with_capacity(100);
    let mut perplexity = PerplexityAccumulator::new();
    let mut klds = Vec::new();
    let mut same = 0;
    for position in 0..100u64 {
        let base = row(position, vocab);
        let candidate: Vec<f32> = if position % 4 == 0 {
            base.clone()
        } else {
            row(position + 1000, vocab)
        };
        let actual = (position as usize * 7) % vocab;
        let token = accumulator.add(&base, &candidate, actual).unwrap();
        klds.push(token.kld);
        same += usize::from(token.same_top1);
        let nll = perplexity.add(&base, actual).unwrap();
        assert!((nll - token.nll_base).abs() < 1e-12);
    }
    let summary = accumulator.summary().unwrap();
    assert_eq!(summary.tokens, 100);
    let mean = klds.iter().sum::<f64>() / 100.0;
    assert!((summary.kld_mean - mean).abs() < 1e-12);
    let mut sorted = klds.clone();
    sorted.sort_by(f64::total_cmp);
    assert!((summary.kld_median - (sorted[49] + sorted[50]) / 2.0).abs() < 1e-5);
    assert!(summary.kld_p99 >= summary.kld_median && summary.kld_p99 <= sorted[99] + 1e-5);
    assert!(
        summary.same_top1 >= 0.25,
        "a quarter of the rows are identical"
    );
    assert!((summary.same_top1 - same as f64 / 100.0).abs() < 1e-12);
    assert!((summary.ppl_base - perplexity.perplexity().unwrap()).abs() < 1e-9);
    assert!(summary.ppl_candidate > 1.0);
}

#[test]
fn perplexity_of_a_uniform_row_is_the_vocabulary_size() {
    let mut perplexity = PerplexityAccumulator::new();
    assert_eq!(perplexity.perplexity(), None);
    for token in 0..10 {
        perplexity.add(&[2.5; 50], token).unwrap();
    }
    assert_eq!(perplexity.tokens(), 10);
    assert!((perplexity.perplexity().unwrap() - 50.0).abs() < 1e-9);
    assert!((perplexity.mean_nll().unwrap() - 50f64.ln()).abs() < 1e-12);
}

#[test]
fn a_large_vocabulary_row_pair_is_fast() {
    // 49k-entry rows, as for a real tokenizer; generous bound for debug builds.
    let base = row(10, 49_152);
    let candidate = row(11, 49_152);
    let mut accumulator = DivergenceAccumulator::with_capacity(200);
    let started = Instant::now();
    for position in 0..200 {
        accumulator.add(&base, &candidate, position).unwrap();
    }
    let per_row = started.elapsed().as_secs_f64() / 200.0;
    assert!(per_row < 0.02, "{:.2} ms per row pair", per_row * 1000.0);
    eprintln!("divergence: {:.3} ms per 49k row pair", per_row * 1000.0);
}
