//! A reader for PyTorch checkpoints (`torch.save`): zip archives, legacy
//! consecutive-pickle files and legacy tar files, without unpickling.
//!
//! `torch.save` writes a zip whose `<folder>/data.pkl` pickle describes the
//! object (usually a state dict of tensors) and whose `<folder>/data/<key>`
//! members hold the tensor storages. The folder name is free (`archive`,
//! the file's stem, anything), so the reader finds `data.pkl` under any
//! folder. Older versions wrote several pickles back to back followed by
//! raw storages, or a tar archive.
//!
//! [`parse`] returns every pickle in the checkpoint (scanners need them
//! all, not only `data.pkl`) and the tensors described by the main pickle:
//! name (dotted dict path), dtype, shape and storage, read by evaluating the
//! pickle symbolically (`modelgate-pickle`), never by running it.
//!
//! Layouts, as `torch/serialization.py` writes and reads them:
//! - zip (1.6+): `<folder>/data.pkl` (protocol 2) whose tensors are
//!   `torch._utils._rebuild_tensor_v2(persistent_load(('storage',
//!   torch.FloatStorage, key, location, numel)), offset, size, stride, …)`,
//!   storages in `<folder>/data/<key>`, plus `byteorder` and `version`.
//!   TorchScript archives (`torch.jit.save`) add `code/` and
//!   `constants.pkl`.
//! - legacy stream (`_use_new_zipfile_serialization=False`): five pickles
//!   back to back (magic number, protocol version, sys_info, the object
//!   with 6-tuple storage ids, the sorted storage keys), then raw storages.
//! - legacy tar (before 0.4): members `sys_info`, `pickle` (tensors as
//!   persistent ids), `tensors` (per tensor a pickle then shape, stride and
//!   offset as raw integers) and `storages` (per storage a pickle then raw
//!   data). Every pickle interleaved with the raw records is read, since
//!   `torch.load` unpickles each of them.
//!
//! Tensors inside whole pickled modules (`torch.save(model)`) are found
//! through the state `BUILD` gives each object; the `_parameters`,
//! `_buffers` and `_modules` levels are left out of the names, so names
//! read as in `model.state_dict()`.
//!
//! Non-purpose: reading tensor data, or judging the pickles' imports.
//!
//! Caps: [`MAX_TENSORS`], [`MAX_WALK_VISITS`] (shared sub-objects are
//! walked again under each name, so a pickle of nested shared lists would
//! otherwise cost exponential time), [`MAX_TAR_RECORDS`], [`MAX_NDIM`];
//! archive reads obey the caller's [`Limits`].
//!
//! ```no_run
//! let bytes = std::fs::read("pytorch_model.bin").unwrap();
//! let checkpoint = modelgate_pytorch::parse(&bytes, &Default::default()).unwrap();
//! for tensor in &checkpoint.tensors {
//!     println!("{} {} {:?}", tensor.name, tensor.dtype, tensor.shape);
//! }
//! ```

use modelgate_archive::Limits;
use modelgate_archive::tar::TarArchive;
use modelgate_archive::zip::ZipArchive;
use modelgate_pickle::{CallKind, Evaluation, NodeId, Pickle, Value};

/// The pickled magic number that opens a legacy checkpoint.
pub const LEGACY_MAGIC: &str = "119547037146038801333356";
/// Most tensors collected from one checkpoint.
pub const MAX_TENSORS: usize = 1_000_000;
/// Most values visited when collecting tensors from one pickle; past it
/// the walk stops and the tensors found so far are returned.
pub const MAX_WALK_VISITS: usize = 4_000_000;
/// Most storage or tensor records in a legacy tar's `storages`/`tensors`.
pub const MAX_TAR_RECORDS: u64 = 1_000_000;
/// Most dimensions of a tensor in a legacy tar's `tensors` member.
pub const MAX_NDIM: u64 = 64;
/// Deepest nesting of containers walked when collecting tensors.
const MAX_WALK_DEPTH: usize = 64;
/// Attribute levels of `torch.nn.Module` left out of tensor names.
const MODULE_LEVELS: &[&str] = &["_parameters", "_buffers", "_modules"];

/// Why a checkpoint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The archive could not be read.
    #[error(transparent)]
    Archive(#[from] modelgate_archive::Error),
    /// A pickle could not be disassembled.
    #[error("pickle '{member}': {source}")]
    Pickle {
        /// The member (or `stream@offset`).
        member: String,
        /// The pickle error.
        source: modelgate_pickle::Error,
    },
    /// A raw record between the pickles of a legacy tar member does not
    /// decode (a count, a dimension or a storage that runs past the end).
    #[error("legacy tar member '{member}' at offset {offset}: {message}")]
    BadRecord {
        /// `storages` or `tensors`.
        member: String,
        /// Offset in the member.
        offset: u64,
        /// What was expected.
        message: String,
    },
    /// No `data.pkl` in a zip, or no pickle where one was expected.
    #[error("not a PyTorch checkpoint: {reason}")]
    NotACheckpoint {
        /// What was missing.
        reason: String,
    },
}

/// Which layout the checkpoint uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointKind {
    /// The zip format of PyTorch 1.6 and later.
    Zip {
        /// The top-level folder holding `data.pkl`.
        prefix: String,
    },
    /// A TorchScript archive (`torch.jit.save`): the zip layout plus
    /// `code/` sources and `constants.pkl`.
    TorchScript {
        /// The top-level folder holding `data.pkl`.
        prefix: String,
    },
    /// Legacy: magic number, protocol, system info, object and storage
    /// keys as consecutive pickles, then raw storages.
    Legacy,
    /// Legacy tar: `sys_info`, `pickle`, `tensors` and `storages` members.
    Tar,
}

/// The pickles of one member or stream.
#[derive(Debug, Clone, PartialEq)]
pub struct PickleMember {
    /// The member name, or `stream@OFFSET` for legacy files.
    pub name: String,
    /// The pickles in it.
    pub pickles: Vec<Pickle>,
}

/// A tensor described by the main pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorRef {
    /// Dotted path in the saved object (`encoder.layer.0.weight`).
    pub name: String,
    /// Element type in safetensors naming (`F32`, `BF16`), or the storage
    /// class name when unknown.
    pub dtype: String,
    /// Shape.
    pub shape: Vec<u64>,
    /// The storage key (`data/<key>` member in zips).
    pub storage_key: String,
    /// Offset into the storage, in elements.
    pub storage_offset: u64,
}

impl TensorRef {
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
            .unwrap_or(u64::MAX)
    }

    /// Bytes per element, when the dtype is known.
    pub fn element_size(&self) -> Option<u64> {
        Some(match self.dtype.as_str() {
            "F64" | "I64" | "C64" => 8,
            "F32" | "I32" => 4,
            "F16" | "BF16" | "I16" => 2,
            "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
            _ => return None,
        })
    }
}

/// A parsed checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Its layout.
    pub kind: CheckpointKind,
    /// Every pickle found, per member.
    pub pickles: Vec<PickleMember>,
    /// Tensors described by the main pickle.
    pub tensors: Vec<TensorRef>,
    /// The `byteorder` member (`little`), when present.
    pub byteorder: Option<String>,
}

fn storage_dtype(class: &str) -> String {
    let name = class.rsplit('.').next().unwrap_or(class);
    match name {
        "FloatStorage" | "float32" | "float" => "F32",
        "HalfStorage" | "float16" | "half" => "F16",
        "BFloat16Storage" | "bfloat16" => "BF16",
        "DoubleStorage" | "float64" | "double" => "F64",
        "LongStorage" | "int64" | "long" => "I64",
        "IntStorage" | "int32" | "int" => "I32",
        "ShortStorage" | "int16" | "short" => "I16",
        "CharStorage" | "int8" => "I8",
        "ByteStorage" | "uint8" => "U8",
        "BoolStorage" | "bool" => "BOOL",
        "ComplexFloatStorage" | "complex64" => "C64",
        "float8_e4m3fn" => "F8_E4M3",
        "float8_e5m2" => "F8_E5M2",
        other => other,
    }
    .to_string()
}

/// Collect tensors from an evaluated pickle.
fn collect_tensors(evaluation: &Evaluation) -> Vec<TensorRef> {
    let mut tensors = Vec::new();
    if let Some(root) = evaluation.result {
        walk(evaluation, root, String::new(), 0, &mut tensors);
    }
    tensors
}

fn ints(evaluation: &Evaluation, id: NodeId) -> Vec<u64> {
    match evaluation.value(id) {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .filter_map(|i| match evaluation.value(*i) {
                Value::Int(v) => u64::try_from(*v).ok(),
                _ => None,
            })
            .collect(),
        // torch.Size(...) is a call on a tuple.
        Value::Call { args, .. } => match evaluation.value(*args) {
            Value::Tuple(items) => items
                .first()
                .map(|first| ints(evaluation, *first))
                .unwrap_or_default(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn tensor_from_call(
    evaluation: &Evaluation,
    callable: NodeId,
    args: NodeId,
    name: &str,
) -> Option<TensorRef> {
    let (module, function) = evaluation.global(callable)?;
    if !module.starts_with("torch") {
        return None;
    }
    let Value::Tuple(items) = evaluation.value(args) else {
        return None;
    };
    match function {
        "_rebuild_parameter" | "_rebuild_parameter_with_state" => {
            let Value::Call { callable, args, .. } = evaluation.value(*items.first()?) else {
                return None;
            };
            tensor_from_call(evaluation, *callable, *args, name)
        }
        "_rebuild_tensor" | "_rebuild_tensor_v2" | "_rebuild_tensor_v3" => {
            let Value::PersistentId(pid) = evaluation.value(*items.first()?) else {
                return None;
            };
            let Value::Tuple(pid) = evaluation.value(*pid) else {
                return None;
            };
            // ('storage', storage_type, key, location, numel[, view_metadata])
            let class = pid
                .get(1)
                .and_then(|c| evaluation.global(*c))
                .map(|(m, n)| format!("{m}.{n}"))?;
            let key = match evaluation.value(*pid.get(2)?) {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                _ => return None,
            };
            let storage_offset = match evaluation.value(*items.get(1)?) {
                Value::Int(v) => u64::try_from(*v).unwrap_or(0),
                _ => 0,
            };
            // v3 carries the dtype explicitly as its last argument.
            let dtype = if function == "_rebuild_tensor_v3" {
                items
                    .last()
                    .and_then(|d| evaluation.global(*d))
                    .map(|(_, n)| storage_dtype(n))
                    .unwrap_or_else(|| storage_dtype(&class))
            } else {
                storage_dtype(&class)
            };
            Some(TensorRef {
                name: name.to_string(),
                dtype,
                shape: ints(evaluation, *items.get(2)?),
                storage_key: key,
                storage_offset,
            })
        }
        _ => None,
    }
}

fn walk(evaluation: &Evaluation, id: NodeId, path: String, depth: usize, out: &mut Vec<TensorRef>) {
    if depth > MAX_WALK_DEPTH || out.len() >= MAX_TENSORS {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match evaluation.value(id) {
        Value::Dict(pairs) => {
            for (key, value) in pairs {
                let key = match evaluation.value(*key) {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                walk(evaluation, *value, join(&key), depth + 1, out);
            }
        }
        Value::List(items) | Value::Tuple(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(evaluation, *item, join(&index.to_string()), depth + 1, out);
            }
        }
        Value::Call {
            kind: CallKind::Reduce,
            callable,
            args,
            items: set_items,
            ..
        } => {
            if let Some(tensor) = tensor_from_call(evaluation, *callable, *args, &path) {
                out.push(tensor);
                return;
            }
            // OrderedDict() filled in with SETITEMS.
            for (key, value) in set_items {
                let key = match evaluation.value(*key) {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                walk(evaluation, *value, join(&key), depth + 1, out);
            }
            if let Value::Tuple(items) = evaluation.value(*args) {
                // OrderedDict(...) and similar wrappers: look inside.
                for item in items {
                    walk(evaluation, *item, path.clone(), depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

fn disassemble_member(name: &str, bytes: &[u8]) -> Result<PickleMember, Error> {
    let pickles = modelgate_pickle::disassemble(bytes).map_err(|source| Error::Pickle {
        member: name.to_string(),
        source,
    })?;
    Ok(PickleMember {
        name: name.to_string(),
        pickles,
    })
}

/// Whether a zip holds a PyTorch checkpoint (`<folder>/data.pkl`).
pub fn zip_data_pickle(zip: &ZipArchive) -> Option<&str> {
    zip.members().iter().map(|m| m.name.as_str()).find(|name| {
        name.strip_suffix("data.pkl").is_some_and(|prefix| {
            prefix.is_empty() || (prefix.ends_with('/') && prefix.matches('/').count() == 1)
        })
    })
}

/// Parse a checkpoint of any layout.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, Error> {
    if bytes.starts_with(b"PK") || modelgate_archive::zip::looks_like_zip(bytes) {
        return parse_zip(bytes, limits);
    }
    if bytes.get(257..262) == Some(b"ustar".as_slice()) {
        return parse_tar(bytes, limits);
    }
    parse_legacy(bytes)
}

fn parse_zip(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, Error> {
    let zip = ZipArchive::parse(bytes)?;
    if zip.members().len() > limits.max_members {
        return Err(modelgate_archive::Error::TooManyMembers {
            count: zip.members().len() as u64,
            max: limits.max_members as u64,
        }
        .into());
    }
    let data_name = zip_data_pickle(&zip)
        .ok_or_else(|| Error::NotACheckpoint {
            reason: "no <folder>/data.pkl member in the zip".to_string(),
        })?
        .to_string();
    let prefix = data_name
        .strip_suffix("data.pkl")
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let mut pickles = Vec::new();
    let mut tensors = Vec::new();
    for member in zip.members() {
        if !member.name.ends_with(".pkl") {
            continue;
        }
        let data = zip.read(bytes, member, limits)?;
        let parsed = disassemble_member(&member.name, &data)?;
        if member.name == data_name
            && let Some(first) = parsed.pickles.first()
        {
            tensors = collect_tensors(&modelgate_pickle::evaluate(first));
        }
        pickles.push(parsed);
    }
    let byteorder = zip
        .find(&format!("{prefix}/byteorder"))
        .and_then(|m| zip.read(bytes, m, limits).ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string());
    Ok(Checkpoint {
        kind: CheckpointKind::Zip { prefix },
        pickles,
        tensors,
        byteorder,
    })
}

fn parse_legacy(bytes: &[u8]) -> Result<Checkpoint, Error> {
    // magic, protocol version, sys_info, the object, storage keys.
    let mut pickles = Vec::new();
    let mut pos = 0usize;
    for index in 0..5 {
        if pos >= bytes.len() {
            break;
        }
        let pickle =
            modelgate_pickle::disassemble_one(bytes, pos).map_err(|failure| Error::Pickle {
                member: format!("stream@{pos}"),
                source: failure.1,
            })?;
        if index == 0 {
            let evaluation = modelgate_pickle::evaluate(&pickle);
            let magic = evaluation.result.map(|r| evaluation.render(r));
            if magic.as_deref() != Some(LEGACY_MAGIC) {
                return Err(Error::NotACheckpoint {
                    reason: "the first pickle is not torch's legacy magic number".to_string(),
                });
            }
        }
        pos = usize::try_from(pickle.end).unwrap_or(usize::MAX);
        pickles.push(PickleMember {
            name: format!("stream@{}", pickle.start),
            pickles: vec![pickle],
        });
    }
    let tensors = pickles
        .get(3)
        .and_then(|m| m.pickles.first())
        .map(|p| collect_tensors(&modelgate_pickle::evaluate(p)))
        .unwrap_or_default();
    Ok(Checkpoint {
        kind: CheckpointKind::Legacy,
        pickles,
        tensors,
        byteorder: None,
    })
}

fn parse_tar(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, Error> {
    let tar = TarArchive::parse(bytes)?;
    if tar.members().len() > limits.max_members {
        return Err(modelgate_archive::Error::TooManyMembers {
            count: tar.members().len() as u64,
            max: limits.max_members as u64,
        }
        .into());
    }
    let mut pickles = Vec::new();
    let mut tensors = Vec::new();
    for name in ["sys_info", "pickle", "tensors"] {
        let Some(member) = tar.find(name) else {
            continue;
        };
        let data = tar.read(bytes, member)?;
        // `tensors` and `storages` hold pickles followed by raw data: read
        // pickles while they parse.
        let disassembly = modelgate_pickle::disassemble_all(data);
        if name == "pickle" {
            if let Some(error) = disassembly.error {
                return Err(Error::Pickle {
                    member: name.to_string(),
                    source: error,
                });
            }
            if let Some(first) = disassembly.pickles.first() {
                tensors = collect_tensors(&modelgate_pickle::evaluate(first));
            }
        }
        pickles.push(PickleMember {
            name: name.to_string(),
            pickles: disassembly.pickles,
        });
    }
    if pickles.iter().all(|m| m.name != "pickle") {
        return Err(Error::NotACheckpoint {
            reason: "tar has no 'pickle' member".to_string(),
        });
    }
    Ok(Checkpoint {
        kind: CheckpointKind::Tar,
        pickles,
        tensors,
        byteorder: None,
    })
}
