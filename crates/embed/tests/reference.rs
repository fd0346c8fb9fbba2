//! SentenceEncoder against an independent reference on the real
//! all-MiniLM-L6-v2 snapshot: `reference_embed.py` (beside this file), a
//! BERT forward pass in NumPy float64, run by the interpreter in
//! `MODELGATE_PYTHON` (scripts/test.sh sets it).

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use modelgate_embed::{EmbedError, EmbedInput, PoolingMode, SentenceEncoder};
use serde_json::{Value, json};

/// The snapshot's files, relative path → file.
fn minilm_files() -> BTreeMap<String, PathBuf> {
    let root = modelgate_testdata::minilm();
    let mut files = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(&root).unwrap();
                let relative = relative.to_str().unwrap().replace('\\', "/");
                files.insert(relative, path);
            }
        }
    }
    files
}

fn python() -> PathBuf {
    std::env::var_os("MODELGATE_PYTHON")
        .map(PathBuf::from)
        .expect(
            "MODELGATE_PYTHON is not set: run the tests with scripts/test.sh, or set it to the \
         interpreter scripts/venv.sh prints (it needs numpy, safetensors and tokenizers)",
        )
}

/// One input as the reference answers it.
#[derive(Debug)]
struct Reference {
    ids: Vec<u32>,
    vector: Vec<f64>,
    truncated: bool,
}

fn reference(files: &BTreeMap<String, PathBuf>, inputs: &[EmbedInput<'_>]) -> Vec<Reference> {
    let dir = tempfile::tempdir().unwrap();
    let files_json = dir.path().join("files.json");
    std::fs::write(&files_json, serde_json::to_vec(files).unwrap()).unwrap();
    let request: Vec<Value> = inputs
        .iter()
        .map(|input| match input {
            EmbedInput::Text(text) => json!({ "text": text }),
            EmbedInput::Tokens(tokens) => json!({ "tokens": tokens }),
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference_embed.py");
    let mut child = Command::new(python())
        .arg(&script)
        .arg(&files_json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run MODELGATE_PYTHON");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&serde_json::to_vec(&json!({ "inputs": request })).unwrap())
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "reference_embed.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| Reference {
            ids: serde_json::from_value(item["ids"].clone()).unwrap(),
            vector: serde_json::from_value(item["vector"].clone()).unwrap(),
            truncated: item["truncated"].as_bool().unwrap(),
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn long_text() -> String {
    "The quick brown fox jumps over the lazy dog while the committee debates \
     whether the annual budget, already late, should fund the new library. "
        .repeat(15)
}

fn texts() -> Vec<String> {
    vec![
        "Hello world".to_string(),
        String::new(),
        "A man is playing a guitar on stage.".to_string(),
        "Les œufs brouillés coûtent 3,50 € à Zürich — très cher ! 😀".to_string(),
        "東京は日本の首都です。人口は約1400万人。".to_string(),
        long_text(),
        "   leading and trailing whitespace\t\n".to_string(),
        "fn main() { println!(\"{}\", 42); } // code, not prose".to_string(),
        "ÀÉÎÕÜ çà et là, NAÏVE CAFÉ; Ελληνικά και русский текст".to_string(),
        "Sentence embeddings map a text to a vector so that texts with similar \
         meanings lie close together, which makes semantic search, clustering and \
         deduplication cheap once the vectors are computed."
            .to_string(),
    ]
}

#[test]
fn matches_numpy_reference_one_at_a_time_and_batched() {
    let files = minilm_files();
    let encoder = SentenceEncoder::load_files(&files).unwrap();
    let texts = texts();
    let long_tokens: Vec<u32> = [101].into_iter().chain([2023; 300]).collect();
    let mut inputs: Vec<EmbedInput<'_>> = texts.iter().map(EmbedInput::from).collect();
    inputs.push(EmbedInput::Tokens(&[101, 7592, 2088, 102]));
    inputs.push(EmbedInput::Tokens(&long_tokens));
    let expected = reference(&files, &inputs);

    let batched = encoder.encode(&inputs).unwrap();
    assert_eq!(batched.items.len(), inputs.len());
    let mut min_cosine = f64::INFINITY;
    let mut max_batch_diff = 0f32;
    let mut max_reference_diff = 0f64;
    for (i, input) in inputs.iter().enumerate() {
        let alone = encoder.encode(std::slice::from_ref(input)).unwrap();
        let alone = &alone.items[0];
        let together = &batched.items[i];
        let want = &expected[i];
        assert_eq!(alone.vector.len(), 384);
        assert_eq!(alone.tokens, want.ids.len(), "input {i}: token count");
        assert_eq!(together.tokens, want.ids.len(), "input {i}: token count");
        assert_eq!(alone.truncated, want.truncated, "input {i}: truncated");
        assert_eq!(together.truncated, want.truncated, "input {i}: truncated");
        if let EmbedInput::Text(text) = input {
            assert_eq!(encoder.tokenize(text).unwrap(), want.ids, "input {i}: ids");
        }
        for (how, got) in [("alone", alone), ("batched", together)] {
            let c = cosine(&got.vector, &want.vector);
            assert!(c >= 0.9999, "input {i} {how}: cosine {c}");
            min_cosine = min_cosine.min(c);
            for (g, w) in got.vector.iter().zip(&want.vector) {
                max_reference_diff = max_reference_diff.max((f64::from(*g) - w).abs());
            }
        }
        max_batch_diff = max_batch_diff.max(max_abs_diff(&alone.vector, &together.vector));
    }
    // Padding and masking: a vector does not depend on its batch.
    assert!(max_batch_diff < 1e-5, "batched vs alone: {max_batch_diff}");
    println!(
        "{} inputs: min cosine to the NumPy reference {min_cosine:.12} (1 - cos = {:.2e}), \
         max |component - reference| {max_reference_diff:.2e}, \
         max |batched - alone| {max_batch_diff:.2e}",
        inputs.len(),
        1.0 - min_cosine
    );
    // The long inputs were cut at max_seq_length.
    assert!(batched.items[5].truncated && batched.items[5].tokens == 256);
    assert!(batched.items[11].truncated && batched.items[11].tokens == 256);
    assert_eq!(
        batched.total_tokens(),
        expected.iter().map(|e| e.ids.len()).sum::<usize>()
    );
}

#[test]
fn many_batches_of_mixed_lengths_agree_with_one_at_a_time() {
    let encoder = SentenceEncoder::load(&modelgate_testdata::minilm()).unwrap();
    // 40 inputs of 6 to ~240 tokens: two batches (32 and 8), sorted by
    // length, each padded to its longest.
    let owned: Vec<String> = (0..40)
        .map(|i| format!("sentence number {i}: {}", "words ".repeat(i * 6)))
        .collect();
    let inputs: Vec<EmbedInput<'_>> = owned.iter().map(EmbedInput::from).collect();
    let batched = encoder.encode(&inputs).unwrap();
    for (i, input) in inputs.iter().enumerate() {
        let alone = encoder.encode(std::slice::from_ref(input)).unwrap();
        let diff = max_abs_diff(&alone.items[0].vector, &batched.items[i].vector);
        assert!(diff < 1e-5, "input {i}: {diff}");
        assert_eq!(alone.items[0].tokens, batched.items[i].tokens);
    }
}

#[test]
fn describes_the_snapshot_and_counts_tokens() {
    let encoder = SentenceEncoder::load(&modelgate_testdata::minilm()).unwrap();
    assert_eq!(encoder.dimensions(), 384);
    assert_eq!(encoder.max_tokens(), 256);
    assert_eq!(encoder.pooling_modes(), [PoolingMode::Mean]);
    assert!(encoder.normalizes());
    assert_eq!(encoder.default_prompt(), None);
    assert_eq!(encoder.count_tokens("Hello world").unwrap(), 4);
    assert_eq!(encoder.count_tokens("").unwrap(), 2);
    let long = long_text();
    let count = encoder.count_tokens(&long).unwrap();
    assert!(count > 256, "{count}");
    assert_eq!(encoder.tokenize(&long).unwrap().len(), 256);

    // Unit vectors; token ids from tokenize() give the text's vector.
    let ids = encoder.tokenize("Hello world").unwrap();
    assert_eq!(ids, [101, 7592, 2088, 102]);
    let out = encoder
        .encode(&[EmbedInput::Text("Hello world"), EmbedInput::Tokens(&ids)])
        .unwrap();
    let norm: f32 = out.items[0]
        .vector
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    assert!(max_abs_diff(&out.items[0].vector, &out.items[1].vector) < 1e-6);
    assert_eq!(out.total_tokens(), 8);
    assert!(encoder.encode(&[]).unwrap().items.is_empty());
}

#[test]
fn pooling_modes_and_prompt_follow_the_snapshot_config() {
    // A variant of the snapshot: all six pooling modes, a default prompt
    // left out of the pooling, and no Normalize module.
    let dir = tempfile::tempdir().unwrap();
    let mut files = minilm_files();
    let mut put = |relative: &str, value: Value| {
        let path = dir.path().join(relative.replace('/', "_"));
        std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
        files.insert(relative.to_string(), path);
    };
    put(
        "1_Pooling/config.json",
        json!({
            "word_embedding_dimension": 384,
            "pooling_mode_cls_token": true,
            "pooling_mode_mean_tokens": true,
            "pooling_mode_max_tokens": true,
            "pooling_mode_mean_sqrt_len_tokens": true,
            "pooling_mode_weightedmean_tokens": true,
            "pooling_mode_lasttoken": true,
            "include_prompt": false
        }),
    );
    put(
        "config_sentence_transformers.json",
        json!({
            "prompts": { "query": "query: ", "passage": "passage: " },
            "default_prompt_name": "query"
        }),
    );
    put(
        "modules.json",
        json!([
            { "idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer" },
            { "idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling" }
        ]),
    );
    let encoder = SentenceEncoder::load_files(&files).unwrap();
    assert_eq!(encoder.dimensions(), 384 * 6);
    assert!(!encoder.normalizes());
    assert_eq!(encoder.default_prompt(), Some("query: "));
    // [CLS] query : hello world [SEP]
    assert_eq!(encoder.count_tokens("hello world").unwrap(), 6);

    let texts = [
        "What is the capital of France?",
        "",
        "naïve café",
        &long_text(),
    ];
    let inputs: Vec<EmbedInput<'_>> = texts.iter().map(|t| EmbedInput::Text(t)).collect();
    let expected = reference(&files, &inputs);
    let got = encoder.encode(&inputs).unwrap();
    for (i, (got, want)) in got.items.iter().zip(&expected).enumerate() {
        assert_eq!(got.tokens, want.ids.len(), "input {i}");
        // Each pooled part on its own, so no part hides behind another's
        // magnitude.
        for (part, (g, w)) in got
            .vector
            .chunks(384)
            .zip(want.vector.chunks(384))
            .enumerate()
        {
            let c = cosine(g, w);
            assert!(c >= 0.9999, "input {i}, pooling part {part}: cosine {c}");
        }
    }
}

fn with_file(relative: &str, content: &[u8]) -> (tempfile::TempDir, BTreeMap<String, PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = minilm_files();
    let path = dir.path().join("replaced");
    std::fs::write(&path, content).unwrap();
    files.insert(relative.to_string(), path);
    (dir, files)
}

fn load_error(files: &BTreeMap<String, PathBuf>) -> EmbedError {
    SentenceEncoder::load_files(files).unwrap_err()
}

#[test]
fn refuses_what_it_cannot_serve_naming_file_and_field() {
    let mut files = minilm_files();
    files.remove("modules.json");
    let error = load_error(&files);
    assert!(matches!(&error, EmbedError::Missing { file, .. } if file == "modules.json"));
    assert!(error.to_string().contains("sentence-transformers snapshot"));

    let mut files = minilm_files();
    files.remove("model.safetensors");
    let error = load_error(&files);
    assert!(matches!(&error, EmbedError::Missing { file, .. } if file == "model.safetensors"));

    let config: Value =
        serde_json::from_slice(&std::fs::read(&minilm_files()["config.json"]).unwrap()).unwrap();
    let mut roberta = config.clone();
    roberta["model_type"] = json!("roberta");
    let (_dir, files) = with_file("config.json", &serde_json::to_vec(&roberta).unwrap());
    let error = load_error(&files);
    assert!(
        matches!(&error, EmbedError::Unsupported { file, field, .. }
            if file == "config.json" && field == "model_type"),
        "{error}"
    );

    let mut no_heads = config.clone();
    no_heads
        .as_object_mut()
        .unwrap()
        .remove("num_attention_heads");
    let (_dir, files) = with_file("config.json", &serde_json::to_vec(&no_heads).unwrap());
    let error = load_error(&files);
    assert!(matches!(&error, EmbedError::Json { file, .. } if file == "config.json"));
    assert!(error.to_string().contains("num_attention_heads"), "{error}");

    let mut wider = config.clone();
    wider["hidden_size"] = json!(768);
    let (_dir, files) = with_file("config.json", &serde_json::to_vec(&wider).unwrap());
    let error = load_error(&files);
    assert!(
        matches!(&error, EmbedError::Invalid { file, field, .. }
            if file == "1_Pooling/config.json" && field == "word_embedding_dimension"),
        "{error}"
    );

    let dense = json!([
        { "path": "", "type": "sentence_transformers.models.Transformer" },
        { "path": "1_Pooling", "type": "sentence_transformers.models.Pooling" },
        { "path": "2_Dense", "type": "sentence_transformers.models.Dense" }
    ]);
    let (_dir, files) = with_file("modules.json", &serde_json::to_vec(&dense).unwrap());
    let error = load_error(&files);
    assert!(
        matches!(&error, EmbedError::Unsupported { file, field, .. }
            if file == "modules.json" && field == "[2].type"),
        "{error}"
    );

    let escape = json!([
        { "path": "../elsewhere", "type": "sentence_transformers.models.Transformer" },
        { "path": "1_Pooling", "type": "sentence_transformers.models.Pooling" }
    ]);
    let (_dir, files) = with_file("modules.json", &serde_json::to_vec(&escape).unwrap());
    let error = load_error(&files);
    assert!(
        matches!(&error, EmbedError::Invalid { field, .. } if field == "[0].path"),
        "{error}"
    );

    // Cut weights: the safetensors header promises more than the file holds.
    let weights = std::fs::read(&minilm_files()["model.safetensors"]).unwrap();
    let (_dir, files) = with_file("model.safetensors", &weights[..weights.len() / 2]);
    let error = load_error(&files);
    assert!(
        matches!(&error, EmbedError::Weights { file, .. } if file == "model.safetensors"),
        "{error}"
    );

    let (_dir, files) = with_file("tokenizer.json", b"{\"not\": \"a tokenizer\"}");
    let error = load_error(&files);
    assert!(
        matches!(&error, EmbedError::Tokenizer { file, .. } if file == "tokenizer.json"),
        "{error}"
    );
}

#[test]
fn rejects_bad_token_inputs_naming_the_input() {
    let encoder = SentenceEncoder::load(&modelgate_testdata::minilm()).unwrap();
    let error = encoder
        .encode(&[EmbedInput::Text("fine"), EmbedInput::Tokens(&[])])
        .unwrap_err();
    assert!(
        matches!(error, EmbedError::EmptyTokens { input: 1 }),
        "{error}"
    );
    let error = encoder
        .encode(&[EmbedInput::Tokens(&[101, 30522, 102])])
        .unwrap_err();
    assert!(
        matches!(
            error,
            EmbedError::TokenOutOfRange {
                input: 0,
                position: 1,
                id: 30522,
                max_id: 30521
            }
        ),
        "{error}"
    );
}

#[test]
fn is_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SentenceEncoder>();
}
