//! A reader for Keras models: the Keras 3 `.keras` zip and the legacy HDF5
//! `.h5` file, as far as their architecture configuration.
//!
//! A `.keras` file is a zip holding `config.json` (the model's layers as
//! nested JSON), `metadata.json` (Keras version) and `model.weights.h5`.
//! A legacy `.h5` file stores the same configuration as a JSON string in
//! the root group's `model_config` attribute. The configuration matters for
//! security: `Lambda` layers carry marshaled Python bytecode that runs when
//! the model loads, and custom objects name modules to import.
//!
//! Non-purpose: reading weights, or a general HDF5 parser. For `.h5` files
//! the `model_config` JSON is located by a bounded search for its opening
//! bytes (`{"class_name"`) and read with `serde_json`'s streaming
//! deserializer: HDF5 stores small attribute values contiguously, so this
//! finds the configuration of every file Keras writes, and a file where it
//! is not found is reported as such rather than guessed at.
//!
//! ```no_run
//! let bytes = std::fs::read("model.keras").unwrap();
//! let model = modelgate_keras::KerasModel::parse(&bytes, &Default::default()).unwrap();
//! for layer in &model.layers {
//!     println!("{} {:?}", layer.class_name, layer.name);
//! }
//! ```

use modelgate_archive::Limits;
use modelgate_archive::zip::ZipArchive;
use serde_json::Value;

/// The HDF5 file signature.
pub const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// Largest `config.json` read.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest nesting of layers walked.
const MAX_DEPTH: usize = 64;
/// Most layers collected.
pub const MAX_LAYERS: usize = 100_000;

/// Why a Keras model could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The zip could not be read.
    #[error(transparent)]
    Archive(#[from] modelgate_archive::Error),
    /// Neither a Keras zip nor an HDF5 file.
    #[error("not a Keras model: {reason}")]
    NotKeras {
        /// What was missing.
        reason: String,
    },
    /// `config.json` or `model_config` is not valid JSON.
    #[error("{member}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// Where it was read from.
        member: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The parser's message.
        message: String,
    },
}

/// The container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerasFormat {
    /// Keras 3 `.keras` zip.
    KerasV3,
    /// Legacy HDF5 `.h5`.
    Hdf5,
}

/// One layer (or nested model) in the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// `class_name`, e.g. `Dense`, `Lambda`.
    pub class_name: String,
    /// `config.name`.
    pub name: Option<String>,
    /// `module` (Keras 3), e.g. `keras.layers`.
    pub module: Option<String>,
    /// `registered_name` for custom objects (`package>Class`).
    pub registered_name: Option<String>,
    /// The layer's `config` object.
    pub config: Value,
}

/// A parsed Keras model configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasModel {
    /// Container format.
    pub format: KerasFormat,
    /// Keras version that saved it, when recorded.
    pub keras_version: Option<String>,
    /// Backend, when recorded.
    pub backend: Option<String>,
    /// The top-level class (`Sequential`, `Functional`, a custom model).
    pub model_class: Option<String>,
    /// Every layer, depth first.
    pub layers: Vec<Layer>,
    /// The whole configuration, when found.
    pub config: Option<Value>,
    /// Zip member names (empty for HDF5).
    pub members: Vec<String>,
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Keys under which a configuration nests layers: `layers` lists
/// (Sequential, Functional) and single wrapped layers (Bidirectional,
/// TimeDistributed, RNN cells).
const LAYER_KEYS: &[&str] = &[
    "layers",
    "layer",
    "forward_layer",
    "backward_layer",
    "cell",
    "cells",
];

fn push_layer(value: &Value, depth: usize, out: &mut Vec<Layer>) {
    if depth > MAX_DEPTH || out.len() >= MAX_LAYERS {
        return;
    }
    let (Some(Value::String(class_name)), Some(config)) =
        (value.get("class_name"), value.get("config"))
    else {
        return;
    };
    out.push(Layer {
        class_name: class_name.clone(),
        name: str_field(config, "name"),
        module: str_field(value, "module"),
        registered_name: str_field(value, "registered_name"),
        config: config.clone(),
    });
    collect_layers(config, depth + 1, out);
}

/// Collect the layers nested in a model or layer `config` object.
fn collect_layers(config: &Value, depth: usize, out: &mut Vec<Layer>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Value::Object(map) = config else { return };
    for key in LAYER_KEYS {
        match map.get(*key) {
            Some(Value::Array(items)) => {
                for item in items {
                    push_layer(item, depth + 1, out);
                }
            }
            Some(item @ Value::Object(_)) => push_layer(item, depth + 1, out),
            _ => {}
        }
    }
}

/// The strings in HDF5 global heap collections (`GCOL`), where h5py keeps
/// variable-length string attributes such as `keras_version`, `backend`
/// and `model_config`. Bounded by the file: every size is checked.
fn global_heap_strings(bytes: &[u8]) -> Vec<&str> {
    let mut strings = Vec::new();
    let mut search = 0usize;
    while let Some(found) = bytes
        .get(search..)
        .and_then(|rest| rest.windows(4).position(|w| w == b"GCOL"))
    {
        let start = search + found;
        search = start + 4;
        let size = bytes
            .get(start + 8..start + 16)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .and_then(|s| usize::try_from(s).ok());
        let Some(end) = size
            .and_then(|s| start.checked_add(s))
            .filter(|end| *end <= bytes.len())
        else {
            continue;
        };
        let mut at = start + 16;
        while at + 16 <= end {
            let index = bytes
                .get(at..at + 2)
                .and_then(|b| b.try_into().ok())
                .map(u16::from_le_bytes)
                .unwrap_or(0);
            let len = bytes
                .get(at + 8..at + 16)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .and_then(|s| usize::try_from(s).ok())
                .unwrap_or(usize::MAX);
            if index == 0 {
                break; // free space
            }
            let Some(data) = at
                .checked_add(16)
                .and_then(|d| bytes.get(d..d.checked_add(len)?))
            else {
                break;
            };
            if let Ok(text) = std::str::from_utf8(data) {
                strings.push(text);
            }
            at += 16 + len.div_ceil(8) * 8;
        }
        search = search.max(end);
    }
    strings
}

fn parse_json(bytes: &[u8], member: &str) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Json {
        member: member.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Where the HDF5 signature is: offset 0 or a power-of-two user block.
pub fn hdf5_offset(bytes: &[u8]) -> Option<usize> {
    std::iter::once(0)
        .chain((9..=30).map(|shift| 1usize << shift))
        .take_while(|offset| *offset < bytes.len())
        .find(|offset| bytes.get(*offset..offset + 8) == Some(HDF5_SIGNATURE.as_slice()))
}

impl KerasModel {
    /// Parse a `.keras` zip or a legacy `.h5` file.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<KerasModel, Error> {
        if hdf5_offset(bytes).is_some() {
            return Ok(Self::parse_hdf5(bytes));
        }
        let zip = ZipArchive::parse(bytes)?;
        let member = zip.find("config.json").ok_or_else(|| Error::NotKeras {
            reason: "the zip has no config.json".to_string(),
        })?;
        if member.uncompressed_size > MAX_CONFIG_BYTES {
            return Err(modelgate_archive::Error::LimitExceeded {
                what: "config.json".to_string(),
                message: "larger than the config limit".to_string(),
                limit: MAX_CONFIG_BYTES,
            }
            .into());
        }
        let config = parse_json(&zip.read(bytes, member, limits)?, "config.json")?;
        let metadata = match zip.find("metadata.json") {
            Some(m) => Some(parse_json(&zip.read(bytes, m, limits)?, "metadata.json")?),
            None => None,
        };
        let mut layers = Vec::new();
        if let Some(inner) = config.get("config") {
            collect_layers(inner, 0, &mut layers);
        }
        Ok(KerasModel {
            format: KerasFormat::KerasV3,
            keras_version: metadata
                .as_ref()
                .and_then(|m| str_field(m, "keras_version")),
            backend: metadata.as_ref().and_then(|m| str_field(m, "backend")),
            model_class: str_field(&config, "class_name"),
            layers,
            config: Some(config),
            members: zip.members().iter().map(|m| m.name.clone()).collect(),
        })
    }

    fn parse_hdf5(bytes: &[u8]) -> KerasModel {
        let heap = global_heap_strings(bytes);
        let is_config =
            |value: &Value| value.get("class_name").is_some() && value.get("config").is_some();
        let config = heap
            .iter()
            .filter(|s| s.starts_with('{'))
            .filter_map(|s| serde_json::from_str::<Value>(s).ok())
            .find(is_config)
            .or_else(|| {
                // Older files keep fixed-length strings inline: find the JSON text.
                let needle = b"{\"class_name\"";
                let start = bytes.windows(needle.len()).position(|w| w == needle)?;
                serde_json::Deserializer::from_slice(bytes.get(start..)?)
                    .into_iter::<Value>()
                    .next()?
                    .ok()
            });
        let version = heap
            .iter()
            .find(|s| {
                !s.is_empty()
                    && s.len() < 32
                    && s.split('.').count() >= 2
                    && s.split('.')
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
                    && s.starts_with(|c: char| c.is_ascii_digit())
            })
            .map(|s| s.to_string());
        let backend = heap
            .iter()
            .find(|s| matches!(**s, "tensorflow" | "jax" | "torch" | "theano" | "cntk"))
            .map(|s| s.to_string());
        let mut layers = Vec::new();
        if let Some(inner) = config.as_ref().and_then(|c| c.get("config")) {
            collect_layers(inner, 0, &mut layers);
        }
        KerasModel {
            format: KerasFormat::Hdf5,
            keras_version: version,
            backend,
            model_class: config.as_ref().and_then(|c| str_field(c, "class_name")),
            layers,
            config,
            members: Vec::new(),
        }
    }
}
