//! GGUF embeddings through llama.cpp against an independent reference.
//!
//! The all-MiniLM-L6-v2 snapshot (fixtures) is converted to a `bert` GGUF
//! with mean pooling by `scripts/testdata/make_bert_gguf.py` into a temporary
//! folder; the engine's vectors are compared with
//! `crates/embed/tests/reference_embed.py`, a BERT forward pass in NumPy
//! float64 over the same safetensors, tokenized by the `tokenizers` package.
//! Both scripts run under the interpreter in `MODELGATE_PYTHON`
//! (scripts/test.sh sets it).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use modelgate_engine::{Engine, EngineConfig, EngineError};
use serde_json::{Value, json};

/// Texts of different kinds: plain sentences, words WordPiece splits,
/// accents the normaliser strips, upper case, digits and symbols, CJK
/// characters, repeated punctuation, and a paragraph of a hundred tokens.
const TEXTS: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Unbelievably, antidisestablishmentarianism gets split into many word pieces.",
    "Café crème, naïve résumé — the accents are stripped before lookup.",
    "HTTP/2 multiplexes requests; TCP head-of-line blocking remains (RFC 9113, §5).",
    "東京は日本の首都です。",
    "wait... what?!! that's   not   RIGHT",
    "Sentence embeddings map text to points in a vector space so that texts with similar \
     meanings lie close together. They are used for semantic search, clustering, and \
     deduplication: a query is embedded once, and the documents whose vectors have the \
     highest cosine similarity to it are returned first. Mean pooling averages the \
     contextual vectors of every token, including the classification and separator tokens \
     that the tokenizer adds around the text.",
];

fn fixtures() -> PathBuf {
    std::env::var_os("MODELGATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/fixtures")
        })
}

fn minilm() -> PathBuf {
    let path = fixtures().join("minilm");
    assert!(
        path.join("model.safetensors").is_file(),
        "{} is missing: run scripts/fixtures.sh",
        path.display()
    );
    path
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

fn python() -> PathBuf {
    std::env::var_os("MODELGATE_PYTHON")
        .map(PathBuf::from)
        .expect(
            "MODELGATE_PYTHON is not set: run the tests with scripts/test.sh, or set it to the \
         interpreter scripts/venv.sh prints (it needs numpy, safetensors, gguf and tokenizers)",
        )
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> EngineConfig {
    EngineConfig {
        slots: 1,
        context: 512,
        threads: 2,
        batch: 512,
    }
}

/// Converts the MiniLM snapshot to a GGUF of `kind` ("f32" or "f16") in `dir`.
fn make_gguf(dir: &Path, kind: &str) -> PathBuf {
    let out = dir.join(format!("minilm-{kind}.gguf"));
    let output = Command::new(python())
        .arg(repo_root().join("scripts/testdata/make_bert_gguf.py"))
        .arg(minilm())
        .arg(&out)
        .args(["--type", kind])
        .output()
        .expect("cannot run MODELGATE_PYTHON");
    assert!(
        output.status.success(),
        "make_bert_gguf.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// One text as the reference answers it: its token ids (CLS and SEP
/// included) and its normalised mean-pooled vector.
struct Reference {
    ids: Vec<u32>,
    vector: Vec<f64>,
}

/// The reference for every text in [`TEXTS`], computed once.
fn reference() -> &'static [Reference] {
    static REFERENCE: OnceLock<Vec<Reference>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let root = minilm();
        let mut files = BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .replace('\\', "/");
                    files.insert(relative, path);
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let files_json = dir.path().join("files.json");
        std::fs::write(&files_json, serde_json::to_vec(&files).unwrap()).unwrap();
        let inputs: Vec<Value> = TEXTS.iter().map(|text| json!({ "text": text })).collect();
        let mut child = Command::new(python())
            .arg(repo_root().join("crates/embed/tests/reference_embed.py"))
            .arg(&files_json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run MODELGATE_PYTHON");
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&serde_json::to_vec(&json!({ "inputs": inputs })).unwrap())
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
            .map(|item| {
                assert_eq!(item["truncated"], json!(false));
                Reference {
                    ids: item["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_u64().unwrap() as u32)
                        .collect(),
                    vector: item["vector"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap())
                        .collect(),
                }
            })
            .collect()
    })
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Embeds every text with the engine and returns each one's cosine with the
/// reference, after checking the engine tokenized it as the reference did.
async fn cosines(engine: &Engine) -> Vec<f64> {
    let reference = reference();
    let mut inputs = Vec::new();
    for (text, expected) in TEXTS.iter().zip(reference) {
        let ids = engine.tokenize(text, true);
        assert_eq!(ids.len(), expected.ids.len(), "token count of {text:?}");
        assert_eq!(ids, expected.ids, "token ids of {text:?}");
        inputs.push(ids);
    }
    let vectors = engine.embed(inputs).await.unwrap();
    assert_eq!(vectors.len(), TEXTS.len());
    vectors
        .iter()
        .zip(reference)
        .map(|(vector, expected)| {
            let norm = vector
                .iter()
                .map(|x| f64::from(*x) * f64::from(*x))
                .sum::<f64>()
                .sqrt();
            assert!(
                (norm - 1.0).abs() < 1e-5,
                "the engine's vector has norm {norm}"
            );
            cosine(vector, &expected.vector)
        })
        .collect()
}

#[tokio::test]
async fn f32_gguf_embeddings_match_the_numpy_reference() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::load(&make_gguf(dir.path(), "f32"), config()).unwrap();
    let info = engine.info();
    assert!(info.embeddings);
    assert_eq!(
        (
            info.architecture.as_str(),
            info.embedding_width,
            info.vocab_size
        ),
        ("bert", 384, 30522)
    );

    let cosines = cosines(&engine).await;
    eprintln!("f32 GGUF vs NumPy reference, cosine per text: {cosines:?}");
    for (text, cosine) in TEXTS.iter().zip(&cosines) {
        assert!(*cosine >= 0.9999, "cosine {cosine} for {text:?}");
    }

    // A text embedded alone gives the vector it gave among others: nothing
    // of one input leaks into the next.
    let ids = engine.tokenize(TEXTS[3], true);
    let alone = engine.embed(vec![ids.clone()]).await.unwrap();
    let among = engine
        .embed(vec![engine.tokenize(TEXTS[7], true), ids])
        .await
        .unwrap();
    let drift = alone[0]
        .iter()
        .zip(&among[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        drift < 1e-5,
        "the same input differs by {drift} alone and in a list"
    );

    // Related texts lie closer than unrelated ones.
    let close = similarity(
        &engine,
        "A man is playing a guitar.",
        "Someone plays the guitar.",
    )
    .await;
    let far = similarity(
        &engine,
        "A man is playing a guitar.",
        "The stock market fell sharply today.",
    )
    .await;
    assert!(close > far + 0.3, "related {close} vs unrelated {far}");
}

/// Dot product of two texts' (normalised) embeddings.
async fn similarity(engine: &Engine, a: &str, b: &str) -> f32 {
    let v = engine
        .embed(vec![engine.tokenize(a, true), engine.tokenize(b, true)])
        .await
        .unwrap();
    v[0].iter().zip(&v[1]).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn f16_gguf_embeddings_stay_close_to_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::load(&make_gguf(dir.path(), "f16"), config()).unwrap();
    let cosines = cosines(&engine).await;
    eprintln!("f16 GGUF vs NumPy reference, cosine per text: {cosines:?}");
    // F16 matrices cost next to nothing here: measured 0.999997 at the
    // least, as the F32 file (both lose most to ggml's tanh GELU).
    for (text, cosine) in TEXTS.iter().zip(&cosines) {
        assert!(*cosine >= 0.9999, "cosine {cosine} for {text:?}");
    }
}

#[tokio::test]
async fn a_generation_model_refuses_to_embed() {
    let engine = Engine::load(
        &smollm2(),
        EngineConfig {
            context: 256,
            ..config()
        },
    )
    .unwrap();
    assert!(!engine.info().embeddings);
    let tokens = engine.tokenize("Hello there", true);
    match engine.embed(vec![tokens]).await {
        Err(EngineError::Unsupported(message)) => {
            assert!(message.contains("does not serve embeddings"), "{message}")
        }
        other => panic!("embed on a generation model gave {other:?}"),
    }
}
