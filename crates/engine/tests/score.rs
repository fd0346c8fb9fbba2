//! Scoring and quantizing on the real SmolLM2 GGUF: the log-likelihoods
//! scoring reads agree with what the generating engine reports, packing items
//! into one decode changes nothing, windows of logits agree with scored
//! continuations, and llama.cpp's quantizer writes the type asked for with
//! progress per tensor.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::PathBuf;

use modelgate_engine::{
    ChoiceTokens, Engine, EngineConfig, Event, GenerateRequest, QuantType, QuantizeOptions,
    ScoringConfig, ScoringModel, quantize, token_logprob,
};

fn fixtures() -> PathBuf {
    std::env::var_os("MODELGATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/fixtures")
        })
}

fn smollm2() -> PathBuf {
    let path = fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fixtures.sh",
        path.display()
    );
    path
}

fn config() -> ScoringConfig {
    ScoringConfig {
        batch: 1024,
        seqs: 16,
        threads: 2,
        ubatch: 0,
    }
}

/// lm-evaluation-harness's split: the continuation is what the whole text's
/// tokens have beyond the context's.
fn item(model: &ScoringModel, context: &str, choices: &[&str]) -> ChoiceTokens {
    let ctx = model.tokenize(context, true);
    ChoiceTokens {
        continuations: choices
            .iter()
            .map(|c| model.tokenize(&format!("{context}{c}"), true)[ctx.len()..].to_vec())
            .collect(),
        context: ctx,
    }
}

#[test]
fn the_likely_answer_scores_higher() {
    let model = ScoringModel::load(&smollm2()).unwrap();
    let mut session = model.session(config()).unwrap();
    let scores = session
        .score_choices(&[item(
            &model,
            "The capital of France is",
            &[" Paris", " a banana", " blue"],
        )])
        .unwrap();
    let s = &scores[0];
    assert!(
        s[0].logprob > s[1].logprob && s[0].logprob > s[2].logprob,
        "{s:?}"
    );
    assert!(s.iter().all(|c| c.logprob < 0.0 && c.tokens >= 1));
    assert_eq!(s[1].token_logprobs.len(), s[1].tokens);
    let sum: f64 = s[1].token_logprobs.iter().sum();
    assert!((sum - s[1].logprob).abs() < 1e-9);
}

#[test]
fn scores_agree_with_the_engines_own_logprobs_of_a_greedy_generation() {
    let path = smollm2();
    let prompt = "1, 2, 3, 4,";
    let engine = Engine::load(
        &path,
        EngineConfig {
            slots: 1,
            context: 512,
            threads: 2,
            batch: 512,
        },
    )
    .unwrap();
    let mut request = GenerateRequest::new(engine.tokenize(prompt, true));
    request.max_tokens = Some(8);
    request.sampling.temperature = 0.0;
    request.logprobs = Some(0);
    let mut generation = engine.generate(request).unwrap();
    let (mut text, mut logprobs) = (String::new(), Vec::new());
    while let Some(event) = generation.next_blocking() {
        match event {
            Event::Delta {
                text: t,
                logprobs: l,
            } => {
                text.push_str(&t);
                logprobs.extend(l.into_iter().map(|l| f64::from(l.logprob)));
            }
            Event::Finished { .. } => break,
            Event::Failed(e) => panic!("{e}"),
        }
    }
    drop(engine);

    let model = ScoringModel::load(&path).unwrap();
    let mut session = model.session(config()).unwrap();
    let tokens = item(&model, prompt, &[&text]);
    assert_eq!(tokens.continuations[0].len(), logprobs.len(), "{text:?}");
    let score = &session.score_choices(&[tokens]).unwrap()[0][0];
    assert!(score.greedy, "greedy text must be the argmax at every step");
    for (ours, engine) in score.token_logprobs.iter().zip(&logprobs) {
        assert!((ours - engine).abs() < 0.02, "{ours} vs {engine}");
    }
}

#[test]
fn packing_items_into_one_decode_changes_nothing() {
    let model = ScoringModel::load(&smollm2()).unwrap();
    let items = vec![
        item(
            &model,
            "Water boils at",
            &[" 100 degrees", " minus five", " noon"],
        ),
        item(&model, "The opposite of hot is", &[" cold", " loud"]),
        item(
            &model,
            "Roses are red, violets are",
            &[" blue", " angry", " square", " wet"],
        ),
    ];
    let mut packed = model.session(config()).unwrap();
    let together = packed.score_choices(&items).unwrap();
    let mut alone = model
        .session(ScoringConfig {
            seqs: 4,
            ..config()
        })
        .unwrap();
    for (i, it) in items.iter().enumerate() {
        let one = alone.score_choices(std::slice::from_ref(it)).unwrap();
        for (a, b) in one[0].iter().zip(&together[i]) {
            assert!(
                (a.logprob - b.logprob).abs() < 0.02,
                "item {i}: {a:?} vs {b:?}"
            );
            assert_eq!(a.tokens, b.tokens);
        }
    }
}

#[test]
fn window_rows_agree_with_scored_continuations() {
    let model = ScoringModel::load(&smollm2()).unwrap();
    let mut session = model.session(config()).unwrap();
    let tokens = model.tokenize(
        "The quick brown fox jumps over the lazy dog. It was fast.",
        true,
    );
    let first = tokens.len() / 2;
    let mut rows = Vec::new();
    let n = session.window_logits(&tokens, first, &mut rows).unwrap();
    assert_eq!(n, tokens.len() - 1 - first);
    assert_eq!(rows.len(), n * model.vocab_size());
    let window: f64 = (0..n)
        .map(|r| {
            let row = &rows[r * model.vocab_size()..(r + 1) * model.vocab_size()];
            token_logprob(row, tokens[first + 1 + r]).0
        })
        .sum();
    let scored = session
        .score_choices(&[ChoiceTokens {
            context: tokens[..=first].to_vec(),
            continuations: vec![tokens[first + 1..].to_vec()],
        }])
        .unwrap();
    assert!(
        (scored[0][0].logprob - window).abs() < 0.05,
        "{window} vs {:?}",
        scored[0][0]
    );
    // A window longer than the batch is refused, not truncated.
    assert!(
        session
            .window_logits(&vec![tokens[0]; 2000], 0, &mut rows)
            .is_err()
    );
}

#[test]
fn bad_items_are_errors_not_panics() {
    let model = ScoringModel::load(&smollm2()).unwrap();
    let mut session = model.session(config()).unwrap();
    let empty = ChoiceTokens {
        context: vec![],
        continuations: vec![vec![1]],
    };
    assert!(session.score_choices(&[empty]).is_err());
    let outside = ChoiceTokens {
        context: vec![1],
        continuations: vec![vec![u32::MAX]],
    };
    assert!(session.score_choices(&[outside]).is_err());
    let long = ChoiceTokens {
        context: vec![1; 1000],
        continuations: vec![vec![1; 100]],
    };
    let e = session.score_choices(&[long]).unwrap_err().to_string();
    assert!(e.contains("--batch"), "{e}");
}

#[test]
fn quantizing_writes_the_type_asked_for_with_progress_per_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let source = smollm2();
    let total = {
        let bytes = std::fs::read(&source).unwrap();
        modelgate_gguf::Gguf::parse(&bytes).unwrap().tensors.len()
    };

    // Already quantized: llama.cpp refuses unless asked.
    let refused = quantize(
        &source,
        &dir.path().join("refused.gguf"),
        QuantizeOptions {
            to: QuantType::Q8_0,
            allow_requantize: false,
            threads: 2,
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("--allow-requantize"),
        "{refused}"
    );

    let out = dir.path().join("f16.gguf");
    let mut seen = Vec::new();
    quantize(
        &source,
        &out,
        QuantizeOptions {
            to: QuantType::F16,
            allow_requantize: true,
            threads: 2,
        },
        &mut |p| seen.push(p),
    )
    .unwrap();
    assert_eq!(seen.len(), total);
    assert_eq!(seen.last().unwrap().index, total);
    assert!(seen.iter().all(|p| p.total == total && !p.name.is_empty()));
    let bytes = std::fs::read(&out).unwrap();
    let f16 = modelgate_gguf::Gguf::parse(&bytes).unwrap();
    assert_eq!(
        f16.get_u64("general.file_type"),
        Some(1),
        "F16 is llama_ftype 1"
    );
    assert_eq!(f16.tensors.len(), total);
    // The F16 variant loads and scores.
    let model = ScoringModel::load(&out).unwrap();
    assert!(model.weights_bytes() > 200_000_000);
}
