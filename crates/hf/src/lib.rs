//! Readers for the non-weight files of a Hugging Face model repository.
//!
//! A model repository (a "snapshot") holds more than weights: `config.json`
//! says what the architecture is, `tokenizer_config.json` carries the chat
//! template, `README.md` is the model card with YAML front matter naming the
//! license and base model, and `LICENSE`/`NOTICE` files hold the terms. This
//! crate parses those files from bytes into typed values.
//!
//! It does not walk directories, read files or parse weights: callers hand it
//! bytes (see `modelgate-formats`), and weight files have their own readers.
//!
//! Main items:
//! - [`ModelConfig`]: architecture and shape from `config.json`, with the
//!   field aliases different model families use.
//! - [`GenerationConfig`], [`TokenizerConfig`] and [`ChatTemplate`].
//! - [`ModelCard`]: front matter fields and Markdown sections of `README.md`.
//! - [`classify`]: what role a file plays in a repository, from its path.
//!
//! ```
//! let config = modelgate_hf::ModelConfig::parse(br#"{"architectures": ["LlamaForCausalLM"],
//!     "num_hidden_layers": 30, "n_head": 9, "max_position_embeddings": 2048}"#).unwrap();
//! assert_eq!(config.num_hidden_layers, Some(30));
//! assert_eq!(config.num_attention_heads, Some(9));
//! assert_eq!(config.architectures, ["LlamaForCausalLM"]);
//! ```

mod card;
mod config;
mod files;
mod tokenizer;

pub use card::{MAX_FRONT_MATTER_BYTES, ModelCard, Section};
pub use config::{GenerationConfig, ModelConfig, Quantization};
pub use files::{FileRole, classify};
pub use tokenizer::{ChatTemplate, TokenizerConfig};

/// Largest JSON file accepted, in bytes. Configs are a few KiB; tokenizer
/// configs with embedded vocabularies can reach a few MiB.
pub const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

/// Why a repository file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not valid JSON.
    #[error("{file}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// Which file was being read (e.g. `config.json`).
        file: &'static str,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// The file is JSON but not an object at the top level.
    #[error("{file}: expected a JSON object at the top level, found {found}")]
    NotAnObject {
        /// Which file was being read.
        file: &'static str,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// The file is larger than [`MAX_JSON_BYTES`].
    #[error("{file}: {size} bytes is more than the {max} byte limit for repository JSON files")]
    TooLarge {
        /// Which file was being read.
        file: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A field has a type the format does not allow.
    #[error("{file}: field `{field}` must be {expected}")]
    Field {
        /// Which file was being read.
        file: &'static str,
        /// The field's JSON path.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
}

/// Parse `bytes` as a JSON object, naming `file` in errors.
fn parse_object(
    bytes: &[u8],
    file: &'static str,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    if bytes.len() > MAX_JSON_BYTES {
        return Err(Error::TooLarge {
            file,
            size: bytes.len(),
            max: MAX_JSON_BYTES,
        });
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::Json {
        file,
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match value {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(Error::NotAnObject {
            file,
            found: json_type(&other),
        }),
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
