//! The engine on the real SmolLM2 GGUF (and a sliding-window model written
//! with the `gguf` package): repeatable greedy output, limits, stop strings,
//! constraints, log-probabilities, continuous batching over slots, freeing a
//! slot when its client leaves, and the KV cache llama.cpp allocates compared
//! with inspect's estimate.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use modelgate_engine::{
    Constraint, Engine, EngineConfig, Event, FinishReason, GenerateRequest, Usage,
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

fn config(slots: u32, context: u32) -> EngineConfig {
    EngineConfig {
        slots,
        context,
        threads: 2,
        batch: 512,
    }
}

/// SmolLM2's ChatML, written out (the template crate renders the real one).
fn chat(user: &str) -> String {
    format!("<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
}

struct Outcome {
    text: String,
    reason: FinishReason,
    usage: Usage,
    logprobs: Vec<modelgate_engine::TokenLogprob>,
}

fn run(engine: &Engine, request: GenerateRequest) -> Outcome {
    let mut generation = engine.generate(request).unwrap();
    let mut text = String::new();
    let mut logprobs = Vec::new();
    loop {
        match generation
            .next_blocking()
            .expect("the stream ended without a finish")
        {
            Event::Delta {
                text: t,
                logprobs: l,
            } => {
                text.push_str(&t);
                logprobs.extend(l);
            }
            Event::Finished { reason, usage } => {
                return Outcome {
                    text,
                    reason,
                    usage,
                    logprobs,
                };
            }
            Event::Failed(e) => panic!("generation failed: {e}"),
        }
    }
}

fn greedy(engine: &Engine, prompt: &str, max_tokens: u32) -> GenerateRequest {
    let mut request = GenerateRequest::new(engine.tokenize(prompt, true));
    request.max_tokens = Some(max_tokens);
    request.sampling.temperature = 0.0;
    request
}

#[test]
fn greedy_output_is_repeatable_and_limits_hold() {
    let engine = Engine::load(&smollm2(), config(1, 1024)).unwrap();
    let a = run(
        &engine,
        greedy(&engine, &chat("What is the capital of France?"), 24),
    );
    let b = run(
        &engine,
        greedy(&engine, &chat("What is the capital of France?"), 24),
    );
    assert_eq!(a.text, b.text);
    assert!(a.text.to_lowercase().contains("paris"), "{}", a.text);
    assert_eq!(
        a.usage.prompt_tokens as usize,
        engine
            .tokenize(&chat("What is the capital of France?"), true)
            .len()
    );
    let short = run(&engine, greedy(&engine, "1, 2, 3, 4,", 3));
    assert_eq!(
        (short.reason, short.usage.completion_tokens),
        (FinishReason::Length, 3)
    );
}

#[test]
fn stop_strings_end_generation_and_are_never_emitted() {
    let engine = Engine::load(&smollm2(), config(1, 1024)).unwrap();
    let free = run(&engine, greedy(&engine, "1, 2, 3, 4,", 16));
    let at = free.text.find(" 7").expect("the model counts on");
    let mut request = greedy(&engine, "1, 2, 3, 4,", 16);
    request.stop = vec![" 7".into(), "never".into()];
    let stopped = run(&engine, request);
    assert_eq!(stopped.reason, FinishReason::Stop);
    assert_eq!(stopped.text, free.text[..at]);
}

#[test]
fn json_schema_constraint_gives_valid_json() {
    let engine = Engine::load(&smollm2(), config(1, 1024)).unwrap();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": false
    });
    for seed in 0..3 {
        let mut request =
            GenerateRequest::new(engine.tokenize(&chat("Invent a person as JSON."), true));
        request.max_tokens = Some(200);
        request.sampling.seed = Some(seed);
        request.constraint = Some(Constraint::JsonSchema(schema.clone()));
        let out = run(&engine, request);
        let value: serde_json::Value =
            serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {}", out.text));
        assert!(
            value["name"].is_string() && value["age"].is_i64(),
            "{value}"
        );
        assert_eq!(value.as_object().unwrap().len(), 2);
    }
}

#[test]
fn greedy_picks_the_most_likely_token_and_reports_it() {
    let engine = Engine::load(&smollm2(), config(1, 1024)).unwrap();
    let mut request = greedy(&engine, &chat("Say hello."), 8);
    request.logprobs = Some(5);
    let out = run(&engine, request);
    assert!(!out.logprobs.is_empty());
    for item in &out.logprobs {
        assert_eq!(item.top.len(), 5);
        assert!(item.logprob <= 0.0);
        assert!(
            (item.top[0].logprob - item.logprob).abs() < 1e-5,
            "{item:?}"
        );
        assert!(item.top.windows(2).all(|w| w[0].logprob >= w[1].logprob));
    }
    let total: f64 = out.logprobs[0]
        .top
        .iter()
        .map(|t| f64::from(t.logprob).exp())
        .sum();
    assert!(total <= 1.0 + 1e-4);
}

#[test]
fn requests_beyond_the_slots_wait_and_all_finish_with_their_own_usage() {
    let engine = std::sync::Arc::new(Engine::load(&smollm2(), config(4, 512)).unwrap());
    let handles: Vec<_> = (0..16u32)
        .map(|i| {
            let engine = std::sync::Arc::clone(&engine);
            std::thread::spawn(move || {
                let prompt = format!("Count from {i} to {}:", i + 50);
                let tokens = engine.tokenize(&prompt, true).len() as u32;
                let out = run(&engine, greedy(&engine, &prompt, 4 + i));
                (i, tokens, out)
            })
        })
        .collect();
    for handle in handles {
        let (i, prompt_tokens, out) = handle.join().unwrap();
        assert_eq!(out.usage.prompt_tokens, prompt_tokens);
        assert!(out.usage.completion_tokens <= 4 + i);
        if out.reason == FinishReason::Length {
            assert_eq!(out.usage.completion_tokens, 4 + i);
        }
    }
    // The slot is released just after its last event is sent.
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.stats().running + engine.stats().waiting != 0 {
        assert!(
            Instant::now() < deadline,
            "slots still held: {:?}",
            engine.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn dropping_a_generation_frees_its_slot() {
    let engine = Engine::load(&smollm2(), config(1, 1024)).unwrap();
    let mut request = GenerateRequest::new(engine.tokenize(&chat("Write a long story."), true));
    request.max_tokens = Some(900);
    let mut generation = engine.generate(request).unwrap();
    let mut seen = 0;
    while seen < 3 {
        if let Some(Event::Delta { .. }) = generation.next_blocking() {
            seen += 1;
        }
    }
    assert_eq!(engine.stats().running, 1);
    drop(generation);
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.stats().running != 0 {
        assert!(Instant::now() < deadline, "the slot is still busy");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The freed slot serves the next request.
    let next = run(&engine, greedy(&engine, "1, 2, 3,", 4));
    assert_eq!(next.usage.completion_tokens, 4);
}

#[test]
fn a_long_prompt_is_taken_in_chunks_while_a_stream_runs() {
    let engine = Engine::load(
        &smollm2(),
        EngineConfig {
            slots: 2,
            context: 2048,
            threads: 2,
            batch: 32,
        },
    )
    .unwrap();
    let mut running = engine
        .generate({
            let mut r = GenerateRequest::new(engine.tokenize(&chat("Write a long story."), true));
            r.max_tokens = Some(1000);
            r
        })
        .unwrap();
    // Wait until it streams.
    while !matches!(running.next_blocking(), Some(Event::Delta { .. })) {}
    let long_prompt = "The quick brown fox jumps over the lazy dog. ".repeat(60);
    let long_tokens = engine.tokenize(&long_prompt, true).len();
    assert!(long_tokens > 600, "{long_tokens}");
    let mut long = engine.generate(greedy(&engine, &long_prompt, 1)).unwrap();
    // The long prompt needs about long_tokens / 32 steps; the running stream
    // gets a token at each of them instead of waiting for the whole prompt.
    let mut during = 0;
    loop {
        match long.try_next() {
            Some(Event::Finished { .. }) => break,
            Some(Event::Failed(e)) => panic!("{e}"),
            _ => {}
        }
        if let Some(Event::Delta { .. }) = running.next_blocking() {
            during += 1;
        }
    }
    assert!(
        during >= 10,
        "the stream advanced only {during} tokens while a {long_tokens}-token prompt was processed"
    );
}

// ------------------------------------------------- KV cache vs the estimate

/// Every message llama.cpp logs (through llama-cpp-2's tracing bridge).
fn llama_log() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LOG.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        struct Capture;
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "message" {
                    self.0 = value.to_owned();
                }
            }
        }
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
            fn on_event(
                &self,
                event: &tracing::Event<'_>,
                _: tracing_subscriber::layer::Context<'_, S>,
            ) {
                let mut message = Message(String::new());
                event.record(&mut message);
                llama_log().lock().unwrap().push(message.0);
            }
        }
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::set_global_default(subscriber).unwrap();
        Mutex::new(Vec::new())
    })
}

/// The KV cache llama.cpp reports for the contexts created so far, in bytes:
/// the sum of its `llama_kv_cache: size = X MiB (N cells, ...)` lines (one per
/// cache; the bridge passes them without the function name).
fn reported_kv_bytes(lines: &[String]) -> f64 {
    lines
        .iter()
        .filter(|l| l.contains("cells"))
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("size =")?;
            let mib: f64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(mib * 1024.0 * 1024.0)
        })
        .sum()
}

fn estimated_kv_bytes(path: &std::path::Path, config: &EngineConfig) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let gguf = modelgate_gguf::Gguf::parse(&bytes).unwrap();
    let layout = modelgate_inspect::kv_layout(&gguf).unwrap();
    let mut plan = modelgate_inspect::ContextPlan::new(config.context * config.slots);
    plan.n_seq_max = config.slots;
    plan.n_batch = config.n_batch();
    plan.n_ubatch = config.n_ubatch();
    modelgate_inspect::layout_estimate(&layout, &plan)
        .unwrap()
        .kv_bytes
}

fn check_estimate(path: &std::path::Path, config: EngineConfig) {
    let log = llama_log();
    log.lock().unwrap().clear();
    let engine = Engine::load(path, config.clone()).unwrap();
    let reported = reported_kv_bytes(&log.lock().unwrap());
    drop(engine);
    let estimated = estimated_kv_bytes(path, &config) as f64;
    assert!(
        reported > 0.0,
        "llama.cpp logged no KV cache size: {:?}",
        log.lock().unwrap()
    );
    let ratio = estimated / reported;
    println!(
        "{}: slots {} × ctx {}: estimate {estimated} B, llama.cpp {reported} B, ratio {ratio:.4}",
        path.display(),
        config.slots,
        config.context
    );
    assert!(
        (0.9..=1.1).contains(&ratio),
        "estimate {estimated} vs llama.cpp {reported}"
    );
}

#[test]
fn kv_cache_estimate_agrees_with_llama_cpp() {
    check_estimate(&smollm2(), config(4, 1024));
    check_estimate(&smollm2(), config(1, 3000));
    // A Gemma 3 style model with sliding-window layers, written by the gguf package.
    let python = std::env::var_os("MODELGATE_PYTHON")
        .expect("MODELGATE_PYTHON is not set: run the tests through scripts/test.sh");
    let dir = tempfile::tempdir().unwrap();
    let swa = dir.path().join("gemma3-swa.gguf");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testdata/make_swa_gguf.py");
    let status = std::process::Command::new(python)
        .arg(script)
        .arg(&swa)
        .status()
        .unwrap();
    assert!(status.success());
    for (slots, context) in [(1, 4096), (4, 2048), (2, 512)] {
        check_estimate(&swa, config(slots, context));
    }
}
