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
//! Caps: [`MAX_TENSORS`], [`MAX_NAME_BYTES`], [`MAX_WALK_VISITS`],
//! [`MAX_TAR_RECORDS`], [`MAX_NDIM`]. A shared sub-object is walked again
//! under each of its names (tied weights keep both names), so a pickle of
//! nested shared lists could cost exponential time: values found to hold
//! no tensor are not walked twice, cycles are cut, and the visit cap bounds
//! the rest. A legacy checkpoint cut before its fifth pickle is an error;
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
/// Most bytes of tensor names collected from one pickle (shared
/// sub-objects yield one tensor per path, so names can grow faster than
/// the file); past it the walk stops.
pub const MAX_NAME_BYTES: usize = 64 << 20;
/// Most values visited when collecting tensors from one pickle; past it
/// the walk stops and the tensors found so far are returned.
pub const MAX_WALK_VISITS: usize = 2_000_000;
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
        "FloatStorage" | "FloatTensor" | "float32" | "float" => "F32",
        "HalfStorage" | "HalfTensor" | "float16" | "half" => "F16",
        "BFloat16Storage" | "BFloat16Tensor" | "bfloat16" => "BF16",
        "DoubleStorage" | "DoubleTensor" | "float64" | "double" => "F64",
        "LongStorage" | "LongTensor" | "int64" | "long" => "I64",
        "IntStorage" | "IntTensor" | "int32" | "int" => "I32",
        "ShortStorage" | "ShortTensor" | "int16" | "short" => "I16",
        "CharStorage" | "CharTensor" | "int8" => "I8",
        "ByteStorage" | "ByteTensor" | "UntypedStorage" | "uint8" => "U8",
        "BoolStorage" | "BoolTensor" | "bool" => "BOOL",
        "ComplexFloatStorage" | "complex64" => "C64",
        "ComplexDoubleStorage" | "complex128" => "C128",
        "Float8_e4m3fnStorage" | "float8_e4m3fn" => "F8_E4M3",
        "Float8_e5m2Storage" | "float8_e5m2" => "F8_E5M2",
        other => other,
    }
    .to_string()
}

/// Bytes per element of a storage class (`torch.FloatStorage`), as
/// `torch._utils._element_size` gives them.
fn storage_element_size(class: &str) -> Option<u64> {
    Some(match storage_dtype(class).as_str() {
        "F64" | "I64" | "C64" => 8,
        "C128" => 16,
        "F32" | "I32" => 4,
        "F16" | "BF16" | "I16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}

/// A tensor record of a legacy tar's `tensors` member.
#[derive(Debug, Clone)]
struct TarTensor {
    storage_key: String,
    shape: Vec<u64>,
    storage_offset: u64,
}

/// What a legacy tar's `tensors` and `storages` members describe.
#[derive(Debug, Default)]
struct TarRecords {
    /// Tensor key → record.
    tensors: std::collections::HashMap<String, TarTensor>,
    /// Storage key → dtype.
    storage_dtypes: std::collections::HashMap<String, String>,
}

/// Collects tensors from one evaluated pickle.
struct Walker<'a> {
    evaluation: &'a Evaluation,
    /// Legacy tar records: persistent ids name tensors in them.
    tar: Option<&'a TarRecords>,
    visits: usize,
    /// Times a cap cut the walk short (a subtree walked then may hold
    /// more than was found).
    n_cut: usize,
    /// Values known to hold no tensor: shared sub-objects are walked once
    /// per name only while they may yield tensors.
    barren: std::collections::HashSet<NodeId>,
    /// Values on the way from the root to the current one.
    on_path: std::collections::HashSet<NodeId>,
    /// The dotted name of the current value.
    path: String,
    name_bytes: usize,
    out: Vec<TensorRef>,
}

/// A key of a dict or an `OrderedDict` as text, when it is a string or an
/// integer.
fn key_text(evaluation: &Evaluation, id: NodeId) -> Option<String> {
    match evaluation.value(id) {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
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
            Value::Tuple(items) => match items.first() {
                Some(first) if matches!(evaluation.value(*first), Value::Tuple(_)) => {
                    ints(evaluation, *first)
                }
                _ => Vec::new(),
            },
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
    depth: usize,
) -> Option<TensorRef> {
    if depth > 4 {
        return None;
    }
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
            tensor_from_call(evaluation, *callable, *args, name, depth + 1)
        }
        // _rebuild_from_type_v2(func, type, args, state): tensor subclasses.
        "_rebuild_from_type_v2" => {
            tensor_from_call(evaluation, *items.first()?, *items.get(2)?, name, depth + 1)
        }
        "_rebuild_tensor" | "_rebuild_tensor_v2" | "_rebuild_tensor_v3" => {
            let Value::PersistentId(pid) = evaluation.value(*items.first()?) else {
                return None;
            };
            let Value::Tuple(pid) = evaluation.value(*pid) else {
                return None;
            };
            // zip: ('storage', storage_type, key, location, numel)
            // legacy: ('storage', storage_type, root_key, location, numel, view_metadata)
            let class = pid
                .get(1)
                .and_then(|c| evaluation.global(*c))
                .map(|(m, n)| format!("{m}.{n}"))?;
            let key = key_text(evaluation, *pid.get(2)?)?;
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

impl Walker<'_> {
    /// Walk `id` under the name `self.path` plus `key` (none for
    /// unnamed levels), restoring `self.path` afterwards.
    fn walk_child(&mut self, id: NodeId, key: Option<&str>, depth: usize) {
        // Scalars hold no tensor: skip them before building a name.
        if matches!(
            self.evaluation.value(id),
            Value::None
                | Value::Bool(_)
                | Value::Int(_)
                | Value::BigInt(_)
                | Value::Float(_)
                | Value::Str(_)
                | Value::Bytes { .. }
                | Value::Global { .. }
        ) {
            return;
        }
        let len = self.path.len();
        if let Some(key) = key
            && !MODULE_LEVELS.contains(&key)
        {
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(key);
        }
        self.walk(id, depth);
        self.path.truncate(len);
    }

    fn walk(&mut self, id: NodeId, depth: usize) {
        self.visits += 1;
        if depth > MAX_WALK_DEPTH
            || self.visits > MAX_WALK_VISITS
            || self.out.len() >= MAX_TENSORS
            || self.name_bytes > MAX_NAME_BYTES
        {
            self.n_cut += 1;
            return;
        }
        // A value inside itself adds only longer names for the same
        // tensors; values known to hold none are not walked again.
        if self.barren.contains(&id) || !self.on_path.insert(id) {
            return;
        }
        let (n_found, n_cut) = (self.out.len(), self.n_cut);
        self.walk_value(id, depth);
        self.on_path.remove(&id);
        if self.out.len() == n_found && self.n_cut == n_cut {
            self.barren.insert(id);
        }
    }

    fn push(&mut self, tensor: TensorRef) {
        self.name_bytes += tensor.name.len();
        self.out.push(tensor);
    }

    fn walk_value(&mut self, id: NodeId, depth: usize) {
        let evaluation = self.evaluation;
        match evaluation.value(id) {
            Value::Dict(pairs) => self.walk_pairs(pairs, depth),
            Value::List(items) | Value::Tuple(items) => self.walk_indexed(items, depth),
            Value::Call {
                kind,
                callable,
                args,
                items: set_items,
                appended,
                state,
                ..
            } => {
                if *kind == CallKind::Reduce
                    && let Some(tensor) =
                        tensor_from_call(evaluation, *callable, *args, &self.path, 0)
                {
                    self.push(tensor);
                    return;
                }
                // OrderedDict() filled in with SETITEMS.
                self.walk_pairs(set_items, depth);
                self.walk_indexed(appended, depth);
                // An object's attributes (`BUILD`), possibly as
                // (state, slotstate).
                if let Some(state) = state {
                    self.walk_unnamed(*state, depth);
                }
                // OrderedDict([...]) and similar wrappers: look inside.
                self.walk_unnamed(*args, depth);
            }
            Value::PersistentId(pid) => {
                let Some(tar) = self.tar else {
                    return;
                };
                if let Some(key) = key_text(evaluation, *pid)
                    && let Some(record) = tar.tensors.get(&key)
                {
                    let tensor = TensorRef {
                        name: self.path.clone(),
                        dtype: tar
                            .storage_dtypes
                            .get(&record.storage_key)
                            .cloned()
                            .unwrap_or_default(),
                        shape: record.shape.clone(),
                        storage_key: record.storage_key.clone(),
                        storage_offset: record.storage_offset,
                    };
                    self.push(tensor);
                }
            }
            _ => {}
        }
    }

    fn walk_indexed(&mut self, items: &[NodeId], depth: usize) {
        for (index, item) in items.iter().enumerate() {
            self.walk_child(*item, Some(&index.to_string()), depth + 1);
        }
    }

    fn walk_pairs(&mut self, pairs: &[(NodeId, NodeId)], depth: usize) {
        for (key, value) in pairs {
            if let Some(key) = key_text(self.evaluation, *key) {
                self.walk_child(*value, Some(&key), depth + 1);
            }
        }
    }

    /// Walk a tuple's items (or any value) without adding index names.
    fn walk_unnamed(&mut self, id: NodeId, depth: usize) {
        match self.evaluation.value(id) {
            Value::Tuple(items) => {
                for item in items {
                    self.walk_child(*item, None, depth + 1);
                }
            }
            _ => self.walk_child(id, None, depth + 1),
        }
    }
}

/// Collect tensors from an evaluated pickle.
fn collect_tensors(evaluation: &Evaluation, tar: Option<&TarRecords>) -> Vec<TensorRef> {
    let mut walker = Walker {
        evaluation,
        tar,
        visits: 0,
        n_cut: 0,
        barren: std::collections::HashSet::new(),
        on_path: std::collections::HashSet::new(),
        path: String::new(),
        name_bytes: 0,
        out: Vec::new(),
    };
    if let Some(root) = evaluation.result {
        walker.walk(root, 0);
    }
    walker.out
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

/// The `<folder>/data.pkl` member of a zip PyTorch checkpoint (the folder
/// name is free; `data.pkl` at the top level is accepted too).
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

fn too_many_members(count: usize, limits: &Limits) -> Error {
    modelgate_archive::Error::TooManyMembers {
        count: u64::try_from(count).unwrap_or(u64::MAX),
        max: u64::try_from(limits.max_members).unwrap_or(u64::MAX),
    }
    .into()
}

fn parse_zip(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, Error> {
    let zip = ZipArchive::parse(bytes)?;
    if zip.members().len() > limits.max_members {
        return Err(too_many_members(zip.members().len(), limits));
    }
    let data_name = zip_data_pickle(&zip)
        .ok_or_else(|| Error::NotACheckpoint {
            reason: "no <folder>/data.pkl member in the zip".to_string(),
        })?
        .to_string();
    let folder = data_name.strip_suffix("data.pkl").unwrap_or_default();
    let prefix = folder.trim_end_matches('/').to_string();
    let mut pickles = Vec::new();
    let mut tensors = Vec::new();
    let mut total = 0u64;
    for member in zip.members() {
        if !member.name.ends_with(".pkl") {
            continue;
        }
        total = total.saturating_add(member.uncompressed_size);
        if total > limits.max_total_bytes {
            return Err(modelgate_archive::Error::LimitExceeded {
                what: member.name.clone(),
                message: format!(
                    "pickle members decompress to more than {} bytes in total",
                    limits.max_total_bytes
                ),
                limit: limits.max_total_bytes,
            }
            .into());
        }
        let data = zip.read(bytes, member, limits)?;
        let parsed = disassemble_member(&member.name, &data)?;
        if member.name == data_name
            && let Some(first) = parsed.pickles.first()
        {
            tensors = collect_tensors(&modelgate_pickle::evaluate(first), None);
        }
        pickles.push(parsed);
    }
    let byteorder = zip
        .find(&format!("{folder}byteorder"))
        .and_then(|m| zip.read(bytes, m, limits).ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let torchscript = zip.members().iter().any(|m| {
        m.name
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with("code/") || rest == "constants.pkl")
    });
    Ok(Checkpoint {
        kind: if torchscript {
            CheckpointKind::TorchScript { prefix }
        } else {
            CheckpointKind::Zip { prefix }
        },
        pickles,
        tensors,
        byteorder,
    })
}

fn parse_legacy(bytes: &[u8]) -> Result<Checkpoint, Error> {
    // magic, protocol version, sys_info, the object, storage keys.
    const NAMES: [&str; 5] = [
        "magic number",
        "protocol version",
        "sys_info",
        "object",
        "storage keys",
    ];
    let mut pickles = Vec::new();
    let mut pos = 0usize;
    for (index, what) in NAMES.iter().enumerate() {
        if pos >= bytes.len() {
            return Err(Error::NotACheckpoint {
                reason: format!("legacy checkpoint ends at offset {pos}, before its {what} pickle"),
            });
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
        .map(|p| collect_tensors(&modelgate_pickle::evaluate(p), None))
        .unwrap_or_default();
    Ok(Checkpoint {
        kind: CheckpointKind::Legacy,
        pickles,
        tensors,
        byteorder: None,
    })
}

/// Reads a legacy tar member: pickles interleaved with raw little-endian
/// records.
struct RecordReader<'a> {
    member: &'static str,
    bytes: &'a [u8],
    pos: usize,
    pickles: Vec<Pickle>,
}

impl RecordReader<'_> {
    fn error(&self, message: String) -> Error {
        Error::BadRecord {
            member: self.member.to_string(),
            offset: u64::try_from(self.pos).unwrap_or(u64::MAX),
            message,
        }
    }

    /// The next pickle, evaluated; it is kept for scanning.
    fn pickle(&mut self) -> Result<Evaluation, Error> {
        if self.pos >= self.bytes.len() {
            return Err(self.error("expected a pickle, found the end of the member".into()));
        }
        let pickle =
            modelgate_pickle::disassemble_one(self.bytes, self.pos).map_err(|failure| {
                Error::Pickle {
                    member: format!("{}@{}", self.member, self.pos),
                    source: failure.1,
                }
            })?;
        self.pos = usize::try_from(pickle.end).unwrap_or(usize::MAX);
        let evaluation = modelgate_pickle::evaluate(&pickle);
        self.pickles.push(pickle);
        Ok(evaluation)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<&[u8], Error> {
        let available = self.bytes.len().saturating_sub(self.pos);
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= available)
            .ok_or_else(|| self.error(format!("{what} needs {n} bytes, {available} remain")))?;
        let start = self.pos;
        self.pos += n;
        Ok(self.bytes.get(start..self.pos).unwrap_or_default())
    }

    fn i64(&mut self, what: &str) -> Result<i64, Error> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.skip(8, what)?);
        Ok(i64::from_le_bytes(buf))
    }

    fn u64(&mut self, what: &str) -> Result<u64, Error> {
        let value = self.i64(what)?;
        u64::try_from(value).map_err(|_| self.error(format!("negative {what} {value}")))
    }

    /// A record count, as a pickled integer.
    fn count(&mut self, what: &str) -> Result<u64, Error> {
        let evaluation = self.pickle()?;
        match evaluation.result.map(|r| evaluation.value(r)) {
            Some(Value::Int(n)) => u64::try_from(*n)
                .ok()
                .filter(|n| *n <= MAX_TAR_RECORDS)
                .ok_or_else(|| {
                    self.error(format!("{what} count {n} is outside 0..={MAX_TAR_RECORDS}"))
                }),
            _ => Err(self.error(format!(
                "expected the number of {what} as a pickled integer"
            ))),
        }
    }
}

/// The items of a pickled tuple (`(key, location, storage_type)`).
fn tuple_items(evaluation: &Evaluation) -> Vec<NodeId> {
    match evaluation.result.map(|r| evaluation.value(r)) {
        Some(Value::Tuple(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// `storages`: count; per storage a pickle `(key, location, storage_type)`
/// then an i64 element count and the data; then the storage views pickle.
fn read_storages(bytes: &[u8], records: &mut TarRecords) -> Result<Vec<Pickle>, Error> {
    let mut r = RecordReader {
        member: "storages",
        bytes,
        pos: 0,
        pickles: Vec::new(),
    };
    for _ in 0..r.count("storages")? {
        let evaluation = r.pickle()?;
        let items = tuple_items(&evaluation);
        let (Some(key), Some(class)) = (
            items.first().and_then(|k| key_text(&evaluation, *k)),
            items
                .get(2)
                .and_then(|c| evaluation.global(*c))
                .map(|(m, n)| format!("{m}.{n}")),
        ) else {
            return Err(r.error("expected a (key, location, storage_type) pickle".into()));
        };
        let element_size = storage_element_size(&class)
            .ok_or_else(|| r.error(format!("unknown storage type {class}")))?;
        let numel = r.u64("storage size")?;
        let n_bytes = numel
            .checked_mul(element_size)
            .ok_or_else(|| r.error(format!("storage of {numel} elements overflows")))?;
        r.skip(n_bytes, "storage data")?;
        records.storage_dtypes.insert(key, storage_dtype(&class));
    }
    r.pickle()?;
    Ok(r.pickles)
}

/// `tensors`: count; per tensor a pickle `(key, storage_id, tensor_type)`
/// then ndim (i32 and 4 padding bytes), sizes, strides (i64 each) and the
/// storage offset (i64).
fn read_tensors(bytes: &[u8], records: &mut TarRecords) -> Result<Vec<Pickle>, Error> {
    let mut r = RecordReader {
        member: "tensors",
        bytes,
        pos: 0,
        pickles: Vec::new(),
    };
    for _ in 0..r.count("tensors")? {
        let evaluation = r.pickle()?;
        let items = tuple_items(&evaluation);
        let (Some(key), Some(storage_key)) = (
            items.first().and_then(|k| key_text(&evaluation, *k)),
            items.get(1).and_then(|k| key_text(&evaluation, *k)),
        ) else {
            return Err(r.error("expected a (key, storage_id, tensor_type) pickle".into()));
        };
        let ndim = r.u64("ndim")? & 0xffff_ffff;
        if ndim > MAX_NDIM {
            return Err(r.error(format!("{ndim} dimensions, at most {MAX_NDIM} accepted")));
        }
        let mut shape = Vec::with_capacity(usize::try_from(ndim).unwrap_or(0));
        for _ in 0..ndim {
            shape.push(r.u64("size")?);
        }
        r.skip(ndim * 8, "strides")?;
        let storage_offset = r.u64("storage offset")?;
        records.tensors.insert(
            key,
            TarTensor {
                storage_key,
                shape,
                storage_offset,
            },
        );
    }
    Ok(r.pickles)
}

fn parse_tar(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, Error> {
    let tar = TarArchive::parse(bytes)?;
    if tar.members().len() > limits.max_members {
        return Err(too_many_members(tar.members().len(), limits));
    }
    let member = |name: &str| -> Result<&[u8], Error> {
        let found = tar.find(name).ok_or_else(|| Error::NotACheckpoint {
            reason: format!("legacy tar has no '{name}' member"),
        })?;
        Ok(tar.read(bytes, found)?)
    };
    let mut records = TarRecords::default();
    let sys_info = disassemble_member("sys_info", member("sys_info")?)?;
    let main = member("pickle")?;
    // The main pickle is followed by nothing torch reads.
    let main = modelgate_pickle::disassemble_one(main, 0).map_err(|failure| Error::Pickle {
        member: "pickle".to_string(),
        source: failure.1,
    })?;
    let storages = read_storages(member("storages")?, &mut records)?;
    let tensor_pickles = read_tensors(member("tensors")?, &mut records)?;
    let tensors = collect_tensors(&modelgate_pickle::evaluate(&main), Some(&records));
    Ok(Checkpoint {
        kind: CheckpointKind::Tar,
        pickles: vec![
            sys_info,
            PickleMember {
                name: "pickle".to_string(),
                pickles: vec![main],
            },
            PickleMember {
                name: "tensors".to_string(),
                pickles: tensor_pickles,
            },
            PickleMember {
                name: "storages".to_string(),
                pickles: storages,
            },
        ],
        tensors,
        byteorder: None,
    })
}
