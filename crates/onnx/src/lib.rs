//! A reader for ONNX model protobufs: opsets, producer, graph signature, initializers.
//!
//! It reads the `ModelProto` of an `.onnx` file and returns what an
//! inspector or scanner needs: IR version, producer, opset imports,
//! metadata, graph inputs and outputs, every initializer's name, type,
//! shape and size, where external data lives, the operators used and the
//! custom operator domains (which need native code to run).
//!
//! It does not run, check or convert models, and it never reads tensor
//! payloads: `raw_data` and the typed `*_data` fields are skipped (their
//! length is recorded), and external data files are not opened.
//!
//! The protobuf is decoded by a small wire reader written for this subset
//! of `onnx.proto` rather than a generated one: it borrows the input,
//! skips payloads without copying, caps every count before storing it
//! (a 2-byte empty node cannot become a 100-byte struct), and limits
//! subgraph nesting.
//!
//! Main types: [`OnnxModel`] (with [`OnnxModel::parse`]), [`Initializer`],
//! [`ExternalData`], [`ValueInfo`], [`Error`]; [`looks_like_onnx`] is a
//! cheap content sniff.
//!
//! ```
//! // ir_version 8, graph { name: "g" }, opset_import { version: 17 }
//! let bytes = [0x08, 0x08, 0x3a, 0x03, 0x12, 0x01, b'g', 0x42, 0x02, 0x10, 0x11];
//! assert!(modelgate_onnx::looks_like_onnx(&bytes));
//! let model = modelgate_onnx::OnnxModel::parse(&bytes).unwrap();
//! assert_eq!(model.ir_version, 8);
//! assert_eq!(model.graph_name, "g");
//! assert_eq!(model.opset_imports[0].version, 17);
//! assert_eq!(model.n_parameters(), 0);
//! ```

mod model;
mod wire;

pub use model::looks_like_onnx;

/// Largest model accepted: protobuf messages are limited to 2 GiB.
pub const MAX_MODEL_BYTES: u64 = (1 << 31) - 1;
/// Deepest nesting of subgraphs (`If`/`Loop`/`Scan` bodies) followed.
pub const MAX_GRAPH_DEPTH: usize = 32;
/// Most nodes over the main graph, its subgraphs and functions.
pub const MAX_NODES: u64 = 50_000_000;
/// Most tensors (initializers, attribute tensors) over the whole model.
pub const MAX_TENSORS: usize = 10_000_000;
/// Most dimensions of one tensor or value.
pub const MAX_DIMS: usize = 256;
/// Most entries in each other list (inputs, outputs, opset imports,
/// metadata properties, functions, external data entries, operator kinds).
pub const MAX_ENTRIES: usize = 1_000_000;

/// Why an ONNX model could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is larger than a protobuf message can be.
    #[error(
        "model is {size} bytes, more than the {limit}-byte protobuf limit; larger models store weights as external data"
    )]
    TooLarge {
        /// File size.
        size: u64,
        /// [`MAX_MODEL_BYTES`].
        limit: u64,
    },
    /// A field's value runs past the end of its enclosing message.
    #[error("{field} field at offset {offset:#x}: runs past the end of its enclosing message")]
    Truncated {
        /// Offset of the field's tag (or of the varint).
        offset: u64,
        /// The message being read.
        field: &'static str,
    },
    /// A varint longer than 10 bytes.
    #[error("{field} at offset {offset:#x}: varint longer than 10 bytes")]
    BadVarint {
        /// Offset of the varint.
        offset: u64,
        /// The message being read.
        field: &'static str,
    },
    /// A tag with field number 0, a number too large, or a wire type that does not exist.
    #[error("tag {tag:#x} at offset {offset:#x}: {message}")]
    BadTag {
        /// Offset of the tag.
        offset: u64,
        /// The tag.
        tag: u64,
        /// What is wrong with it.
        message: String,
    },
    /// Subgraphs or groups nested deeper than the limit.
    #[error("nesting at offset {offset:#x} is deeper than {limit} levels")]
    TooDeep {
        /// Offset of the field that goes too deep.
        offset: u64,
        /// The limit.
        limit: usize,
    },
    /// More entries of one kind than the limit.
    #[error("{what} at offset {offset:#x}: more than {limit}")]
    TooMany {
        /// What is counted (`nodes`, `tensors`, `dims of a value's shape`...).
        what: String,
        /// Offset of the entry past the limit.
        offset: u64,
        /// The limit.
        limit: u64,
    },
    /// A tensor with a negative dimension, too many dimensions, or an
    /// element count over 64 bits.
    #[error("tensor '{name}' at offset {offset:#x}: {message}")]
    InvalidTensor {
        /// The tensor's name.
        name: String,
        /// Offset of the tensor message.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A field every model has is absent (`ir_version`, `graph`).
    #[error("ModelProto has no {field} field; expected an ONNX model")]
    MissingField {
        /// The field.
        field: &'static str,
    },
}

/// One `opset_import` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsetImport {
    /// Operator domain (`""` means the default `ai.onnx`).
    pub domain: String,
    /// Opset version.
    pub version: i64,
}

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Value(i64),
    /// A symbolic size such as `batch`.
    Param(String),
    /// Neither given.
    Unknown,
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// The value's name.
    pub name: String,
    /// Kind of type: `tensor`, `sparse_tensor`, `sequence`, `map`,
    /// `optional`, `opaque`, or empty when absent.
    pub type_kind: &'static str,
    /// Element type name (`FLOAT`, `INT64`) for tensors.
    pub elem_type: Option<String>,
    /// Shape for tensors; empty when unknown or a scalar.
    pub shape: Vec<Dim>,
}

/// Where a tensor's bytes live when they are outside the model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalData {
    /// `location`: file path relative to the model's directory (untrusted).
    pub location: String,
    /// `offset` in that file, when given and a valid integer.
    pub offset: Option<u64>,
    /// `length` in bytes, when given and a valid integer.
    pub length: Option<u64>,
    /// `checksum` (SHA-1 hex), when given.
    pub checksum: Option<String>,
    /// Every `external_data` entry as written, in order.
    pub entries: Vec<(String, String)>,
}

impl ExternalData {
    /// Whether `location` is absolute or leaves the model's directory
    /// (`/`, `\`, a drive letter, or a `..` component).
    pub fn is_unsafe_location(&self) -> bool {
        let path = self.location.as_str();
        path.starts_with('/')
            || path.contains('\\')
            || path.as_bytes().get(1) == Some(&b':')
            || path.split('/').any(|part| part == "..")
    }
}

/// A tensor stored in the model: a graph initializer, or (in
/// [`OnnxModel::other_tensors`]) a subgraph initializer or attribute tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initializer {
    /// The tensor's name.
    pub name: String,
    /// Element type by its ONNX name (`FLOAT`, `FLOAT16`, `BFLOAT16`,
    /// `INT8`...); `UNDEFINED` for 0 and `DATA_TYPE_<n>` for unknown codes.
    pub data_type: String,
    /// The numeric `data_type` code.
    pub data_type_id: i32,
    /// Shape.
    pub dims: Vec<u64>,
    /// Number of elements (product of `dims`).
    pub n_elements: u64,
    /// Size of the data the shape and type call for (sub-byte types
    /// rounded up); `None` for strings and unknown types.
    pub n_bytes: Option<u64>,
    /// Bytes of inline data actually present in the protobuf (`raw_data`
    /// length, or the encoded length of the typed `*_data` fields).
    pub stored_bytes: u64,
    /// Where the data lives when `data_location` is `EXTERNAL` or
    /// `external_data` entries are present.
    pub external: Option<ExternalData>,
    /// Where in the model the tensor was found.
    pub origin: TensorOrigin,
}

/// Where a tensor was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TensorOrigin {
    /// An initializer of the main graph.
    Initializer,
    /// An initializer of a subgraph (an `If`/`Loop`/`Scan` body).
    SubgraphInitializer,
    /// A node attribute (`Constant` values and the like).
    Attribute,
    /// Part of a sparse initializer (values or indices).
    SparseInitializer,
}

/// What an ONNX model file declares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnnxModel {
    /// `ir_version`.
    pub ir_version: i64,
    /// `producer_name` (`pytorch`, `onnx.helper`...).
    pub producer_name: String,
    /// `producer_version`.
    pub producer_version: String,
    /// Model `domain`.
    pub domain: String,
    /// `model_version`.
    pub model_version: i64,
    /// Model `doc_string`.
    pub doc_string: String,
    /// `opset_import` entries.
    pub opset_imports: Vec<OpsetImport>,
    /// Model `metadata_props`, in order.
    pub metadata_props: Vec<(String, String)>,
    /// The main graph's name.
    pub graph_name: String,
    /// Graph inputs (initializers may also be listed here in old models).
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
    /// The main graph's initializers, in file order.
    pub initializers: Vec<Initializer>,
    /// Every other tensor: subgraph initializers, attribute tensors and
    /// sparse initializer parts.
    pub other_tensors: Vec<Initializer>,
    /// Nodes in the main graph and its subgraphs (not functions).
    pub n_nodes: u64,
    /// `(domain, op_type, count)` over the same nodes, sorted.
    pub op_types: Vec<(String, String, u64)>,
    /// Operator domains other than the standard ones (`""`, `ai.onnx`,
    /// `ai.onnx.ml`, `ai.onnx.training`, `ai.onnx.preview.training`) used by
    /// any node (graph, subgraph or function) or opset import; sorted.
    pub custom_domains: Vec<String>,
    /// Model-local functions as `(domain, name)`, in order.
    pub functions: Vec<(String, String)>,
    /// Whether `training_info` is present (it is not read further).
    pub has_training_info: bool,
}

impl OnnxModel {
    /// Parse a serialized `ModelProto`.
    pub fn parse(bytes: &[u8]) -> Result<OnnxModel, Error> {
        model::parse(bytes)
    }

    /// Elements over the main graph's initializers.
    pub fn n_parameters(&self) -> u64 {
        self.initializers
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements))
    }

    /// Every tensor whose data lives in an external file, wherever it was found.
    pub fn external_tensors(&self) -> impl Iterator<Item = &Initializer> {
        self.initializers
            .iter()
            .chain(&self.other_tensors)
            .filter(|t| t.external.is_some())
    }

    /// External data locations that are absolute or leave the model's
    /// directory, distinct, in order of first appearance.
    pub fn unsafe_external_paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = Vec::new();
        for external in self.external_tensors().filter_map(|t| t.external.as_ref()) {
            if external.is_unsafe_location() && !paths.contains(&external.location.as_str()) {
                paths.push(&external.location);
            }
        }
        paths
    }
}

/// The ONNX name of a `TensorProto.DataType` code (`1` → `FLOAT`).
pub fn data_type_name(code: i32) -> Option<&'static str> {
    model::data_type(code).map(|(name, _)| name)
}
