//! A reader for Keras models: the Keras 3 `.keras` zip and the legacy HDF5
//! `.h5` file: architecture configuration, weights, and the places where
//! a model carries code.
//!
//! A `.keras` file is a zip holding `config.json` (the model's layers as
//! nested JSON), `metadata.json` (Keras version) and `model.weights.h5`
//! (the weights, an HDF5 file read with `modelgate-hdf5`: every dataset
//! named and counted). A legacy `.h5` file is an HDF5 file whose root group
//! carries the configuration as a JSON string in its `model_config`
//! attribute (beside `keras_version` and `backend`), and the weights as
//! datasets under `model_weights/`. The configuration matters for
//! security: `Lambda` layers carry marshaled Python bytecode that runs when
//! the model loads, and custom objects name modules to import. Attributes
//! anywhere in the HDF5 file that hold marshaled code (base64 as Keras'
//! `func_dump` writes it, or raw) are listed in
//! [`KerasModel::code_attributes`].
//!
//! Non-purpose: reading weight values, or judging what is found (the
//! scanner does). An HDF5 file that cannot be read is an error naming the
//! offset; in a `.keras` zip a broken `model.weights.h5` is kept as
//! [`KerasModel::weights_error`] so the configuration is still reported.
//!
//! ```no_run
//! let bytes = std::fs::read("model.keras").unwrap();
//! let model = modelgate_keras::KerasModel::parse(&bytes, &Default::default()).unwrap();
//! for layer in &model.layers {
//!     println!("{} {:?}", layer.class_name, layer.name);
//! }
//! println!("{:?} parameters", model.n_parameters());
//! ```

pub use modelgate_hdf5 as hdf5;

use modelgate_archive::Limits;
use modelgate_archive::zip::ZipArchive;
use serde_json::Value;

/// The HDF5 file signature.
pub const HDF5_SIGNATURE: &[u8; 8] = modelgate_hdf5::SIGNATURE;
/// The weights member of a `.keras` zip.
pub const WEIGHTS_MEMBER: &str = "model.weights.h5";
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
    /// The HDF5 file (a legacy `.h5`, or the zip's weights) cannot be read.
    #[error("HDF5: {0}")]
    Hdf5(#[from] modelgate_hdf5::Error),
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
    /// The weight tensors (datasets of the HDF5 file or of the zip's
    /// `model.weights.h5`), in path order.
    pub weights: Vec<Weight>,
    /// Why the zip's `model.weights.h5` could not be read, if it could not.
    pub weights_error: Option<Error>,
    /// HDF5 attributes that carry Python code.
    pub code_attributes: Vec<CodeAttribute>,
}

impl KerasModel {
    /// Parameters: elements of every weight outside the optimizer's state
    /// (`None` when no weights were read).
    pub fn n_parameters(&self) -> Option<u64> {
        if self.weights.is_empty() {
            return None;
        }
        Some(
            self.weights
                .iter()
                .filter(|w| !w.optimizer)
                .fold(0u64, |n, w| n.saturating_add(w.n_elements)),
        )
    }
}

/// One weight tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weight {
    /// Dataset path in the HDF5 file (`layers/dense/vars/0`,
    /// `model_weights/dense/dense/kernel:0`).
    pub path: String,
    /// Shape.
    pub shape: Vec<u64>,
    /// NumPy type string (`<f4`).
    pub dtype: String,
    /// Number of elements (saturating).
    pub n_elements: u64,
    /// Bytes per element.
    pub element_size: u64,
    /// Optimizer state (under `optimizer/` or `optimizer_weights/`), not a
    /// model parameter.
    pub optimizer: bool,
}

/// An HDF5 attribute holding Python code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAttribute {
    /// Path of the object that holds the attribute (`""` for the root).
    pub object: String,
    /// The attribute's name.
    pub attribute: String,
    /// Where in the value: `""` for the whole value, else the JSON path.
    pub pointer: String,
    /// The start of the encoded code.
    pub evidence: String,
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
    modelgate_hdf5::find_signature(bytes).and_then(|o| usize::try_from(o).ok())
}

impl KerasModel {
    /// Parse a `.keras` zip or a legacy `.h5` file.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<KerasModel, Error> {
        if hdf5_offset(bytes).is_some() {
            return Self::parse_hdf5(bytes);
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
        let (mut weights, mut weights_error, mut code_attributes) = (Vec::new(), None, Vec::new());
        if let Some(member) = zip.find(WEIGHTS_MEMBER) {
            let read = zip
                .read(bytes, member, limits)
                .map_err(Error::from)
                .and_then(|data| Ok(modelgate_hdf5::File::parse(&data, &hdf5_limits())?));
            match read {
                Ok(file) => {
                    weights = weights_of(&file);
                    code_attributes = code_in_attributes(&file);
                }
                Err(error) => weights_error = Some(error),
            }
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
            weights,
            weights_error,
            code_attributes,
        })
    }

    /// A legacy `.h5` model (or weights file), through the HDF5 reader.
    fn parse_hdf5(bytes: &[u8]) -> Result<KerasModel, Error> {
        let file = modelgate_hdf5::File::parse(bytes, &hdf5_limits())?;
        let root_attribute = |name: &str| {
            file.root()
                .and_then(|root| root.attributes.iter().find(|a| a.name == name))
        };
        // Keras 2 `save_weights` files keep the versions on `model_weights`' parent (the root) too.
        let text = |name: &str| {
            root_attribute(name)
                .and_then(|a| a.value.as_str())
                .map(str::to_string)
        };
        let config = match root_attribute("model_config") {
            Some(attribute) => match attribute.value.strings() {
                Some([json]) => Some(parse_json(json, "model_config")?),
                _ => {
                    return Err(Error::NotKeras {
                        reason: "model_config is not a single string".to_string(),
                    });
                }
            },
            None => None,
        };
        let mut layers = Vec::new();
        if let Some(inner) = config.as_ref().and_then(|c| c.get("config")) {
            collect_layers(inner, 0, &mut layers);
        }
        Ok(KerasModel {
            format: KerasFormat::Hdf5,
            keras_version: text("keras_version"),
            backend: text("backend"),
            model_class: config.as_ref().and_then(|c| str_field(c, "class_name")),
            layers,
            config,
            members: Vec::new(),
            weights: weights_of(&file),
            weights_error: None,
            code_attributes: code_in_attributes(&file),
        })
    }
}

/// The HDF5 reader's limits for Keras files: the defaults.
fn hdf5_limits() -> modelgate_hdf5::Limits {
    modelgate_hdf5::Limits::default()
}

fn weights_of(file: &modelgate_hdf5::File) -> Vec<Weight> {
    let mut weights: Vec<Weight> = file
        .datasets
        .iter()
        .map(|d| Weight {
            path: d.path.clone(),
            shape: d.shape().to_vec(),
            dtype: d.datatype.numpy_str(),
            n_elements: d.n_elements().unwrap_or(u64::MAX),
            element_size: d.datatype.size(),
            optimizer: d.path.starts_with("optimizer/") || d.path.starts_with("optimizer_weights/"),
        })
        .collect();
    weights.sort_by(|a, b| a.path.cmp(&b.path));
    weights
}

/// Deepest JSON nesting searched for code.
const MAX_JSON_DEPTH: usize = 128;
/// Most JSON values visited per attribute.
const MAX_JSON_NODES: usize = 1_000_000;

/// Attributes, and strings inside JSON attributes, holding marshaled
/// Python code. Lambda layers of the root `model_config` are left out:
/// they are already [`KerasModel::layers`].
fn code_in_attributes(file: &modelgate_hdf5::File) -> Vec<CodeAttribute> {
    let mut found = Vec::new();
    for (object, attribute) in file.attributes() {
        let mut push = |pointer: String, evidence: &[u8]| {
            found.push(CodeAttribute {
                object: object.to_string(),
                attribute: attribute.name.clone(),
                pointer,
                evidence: String::from_utf8_lossy(evidence.get(..80).unwrap_or(evidence))
                    .into_owned(),
            });
        };
        let values: Vec<&[u8]> = match &attribute.value {
            modelgate_hdf5::AttributeValue::Strings(strings) => {
                strings.iter().map(Vec::as_slice).collect()
            }
            modelgate_hdf5::AttributeValue::Raw(raw) => vec![raw.as_slice()],
            _ => Vec::new(),
        };
        let is_model_config = object.is_empty() && attribute.name == "model_config";
        for value in values {
            if is_marshaled_code(value) {
                push(String::new(), value);
                continue;
            }
            let trimmed = value.trim_ascii_start();
            if !trimmed.starts_with(b"{") && !trimmed.starts_with(b"[") {
                continue;
            }
            let Ok(json) = serde_json::from_slice::<Value>(value) else {
                continue;
            };
            let mut stack = vec![(&json, String::new(), 0usize)];
            let mut nodes = 0usize;
            while let Some((node, pointer, depth)) = stack.pop() {
                nodes += 1;
                if nodes > MAX_JSON_NODES || depth > MAX_JSON_DEPTH {
                    break;
                }
                match node {
                    Value::String(text) if is_marshaled_code(text.as_bytes()) => {
                        push(pointer, text.as_bytes());
                    }
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            stack.push((item, format!("{pointer}/{i}"), depth + 1));
                        }
                    }
                    Value::Object(map) => {
                        let lambda_layer = matches!(
                            map.get("class_name").and_then(Value::as_str),
                            Some("Lambda" | "TFOpLambda")
                        );
                        if is_model_config && lambda_layer {
                            continue;
                        }
                        for (key, item) in map {
                            stack.push((item, format!("{pointer}/{key}"), depth + 1));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

fn base64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// The first `n` bytes a base64 text decodes to (whitespace skipped), if
/// the whole text is base64.
fn base64_prefix(text: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(n + 3);
    let mut bits = 0u32;
    let mut n_bits = 0u32;
    let mut n_chars = 0usize;
    let mut padding = false;
    for byte in text {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if *byte == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return None; // data after padding
        }
        let value = base64_value(*byte)?;
        n_chars += 1;
        if out.len() < n {
            bits = (bits << 6) | u32::from(value);
            n_bits += 6;
            if n_bits >= 8 {
                n_bits -= 8;
                out.push(u8::try_from((bits >> n_bits) & 0xff).unwrap_or_default());
            }
        }
    }
    (n_chars >= 16).then_some(out)
}

/// Whether bytes are a marshaled Python code object, raw or in base64 (as
/// Keras' `func_dump` writes Lambda functions): the code type byte (`c`,
/// possibly with the reference flag) followed by small argument counts.
pub fn is_marshaled_code(value: &[u8]) -> bool {
    let looks_like_code = |raw: &[u8]| {
        let word = |i: usize| {
            raw.get(i..i + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        matches!(raw.first(), Some(0x63 | 0xe3))
            && [1, 5, 9]
                .iter()
                .all(|i| word(*i).is_some_and(|count| count < 256))
    };
    if value.len() >= 16 && looks_like_code(value) {
        return true;
    }
    base64_prefix(value, 13).is_some_and(|raw| looks_like_code(&raw))
}
