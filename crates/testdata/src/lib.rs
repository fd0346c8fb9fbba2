//! Test support shared by the crates' integration tests: a real Redis
//! ([`redis::RedisServer`]), a schema or database on the test PostgreSQL
//! ([`postgres`]), and where the
//! committed sample corpora (`tests/data/<format>/{ok,err,malicious}`, each
//! input with its `<stem>.expected.json`) and the cached real models
//! (`scripts/fixtures.sh`) are, and how to walk them.
//!
//! Used only as a dev-dependency. Failing to find test data is a test
//! failure with a message saying what to run, so these functions panic.
//!
//! ```no_run
//! for case in modelgate_testdata::cases("numpy") {
//!     let bytes = modelgate_testdata::read("numpy", &case.relative);
//!     assert!(!bytes.is_empty() || case.expected["error"].is_string());
//! }
//! ```

#![allow(clippy::unwrap_used)]

pub mod postgres;
pub mod redis;
pub mod tls;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/data/<format>` in the repository.
pub fn data_dir(format: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(format)
}

/// The bytes of `tests/data/<format>/<relative>`.
pub fn read(format: &str, relative: &str) -> Vec<u8> {
    let path = data_dir(format).join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One committed input and the reference library's answer for it.
#[derive(Debug)]
pub struct Case {
    /// `ok/name.ext`, `err/name.ext` or `malicious/name.ext`.
    pub relative: String,
    /// The parsed `<stem>.expected.json` beside it.
    pub expected: Value,
}

/// Every input under `tests/data/<format>/{ok,err,malicious}` with its
/// expected answer, sorted by path.
pub fn cases(format: &str) -> Vec<Case> {
    assert!(
        data_dir(format).is_dir(),
        "no test data for {format}: run scripts/testdata/make_{format}.py"
    );
    let mut cases = Vec::new();
    for sub in ["ok", "err", "malicious"] {
        let dir = data_dir(format).join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".expected.json"))
            .collect();
        names.sort();
        for name in names {
            let stem = name
                .rsplit_once('.')
                .map_or(name.as_str(), |(stem, _)| stem);
            let expected_path = format!("{sub}/{stem}.expected.json");
            let expected = serde_json::from_slice(&read(format, &expected_path))
                .unwrap_or_else(|e| panic!("{format}/{expected_path}: {e}"));
            cases.push(Case {
                relative: format!("{sub}/{name}"),
                expected,
            });
        }
    }
    cases
}

/// The variant name of a `Debug`-printed enum value (`LimitExceeded` for
/// `LimitExceeded { limit: 1 }`), to compare errors with the generators'
/// expectations.
pub fn variant(debug: impl std::fmt::Debug) -> String {
    let text = format!("{debug:?}");
    text.split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The cached real models (`MODELGATE_FIXTURES`, default
/// `~/.cache/modelgate/fixtures`), checked to be there.
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("MODELGATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/fixtures")
        });
    assert!(
        dir.join("minilm/model.safetensors").is_file(),
        "real-model fixtures missing in {}: run scripts/fixtures.sh",
        dir.display()
    );
    dir
}

/// The SmolLM2-135M-Instruct Q4_1 GGUF file.
pub fn smollm2() -> PathBuf {
    fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// The all-MiniLM-L6-v2 Hugging Face snapshot directory.
pub fn minilm() -> PathBuf {
    fixtures().join("minilm")
}
