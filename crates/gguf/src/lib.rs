//! A bounds-checked reader for GGUF v2/v3 model files (llama.cpp, ggml).
//!
//! GGUF is a header followed by tensor data: a magic, a version, counts of
//! tensors and metadata entries, the typed metadata (`general.architecture`,
//! `llama.context_length`, the tokenizer vocabulary, the chat template…),
//! then one info record per tensor (name, shape, ggml type, offset), then
//! aligned tensor data. [`Gguf::parse`] reads the header and checks every
//! count, length and offset against the bytes it was given before it
//! allocates or slices; tensor data is never read, only bounds-checked.
//!
//! Non-purpose: dequantizing or running tensors; writing GGUF.
//!
//! Hand-written rather than a crate: the published GGUF crates either
//! allocate from header counts before checking them or stop at the first
//! oddity, and a scanner needs offsets for its findings.
//!
//! Main types: [`Gguf`], [`MetadataEntry`] and [`Value`], [`TensorInfo`],
//! [`GgmlType`] (every current ggml type's block and byte size), [`Error`]
//! (one variant per failure, each with the byte offset it points at).
//!
//! What is checked: magic and version (2 or 3; version 1 and big-endian
//! files get an error that says so); every count against the bytes left and
//! a named cap ([`MAX_METADATA_ENTRIES`], [`MAX_TENSORS`],
//! [`MAX_STRING_BYTES`], [`MAX_ARRAY_ELEMENTS`], [`MAX_ARRAY_DEPTH`],
//! [`MAX_DIMS`]) before anything is allocated; UTF-8 of keys, strings and
//! names; `general.alignment` (a power-of-two `u32`, default 32); each
//! tensor's type, shape (no overflow, whole blocks), alignment and data
//! range within the file.
//!
//! What is left to scanners (findings, not errors): overlapping tensor data
//! ([`Gguf::overlapping_tensors`]) and duplicated keys or tensor names
//! ([`Gguf::duplicate_keys`], [`Gguf::duplicate_tensor_names`]).
//!
//! ```
//! # fn main() -> Result<(), modelgate_gguf::Error> {
//! # let bytes = modelgate_gguf::tests_support::tiny();
//! let gguf = modelgate_gguf::Gguf::parse(&bytes)?;
//! assert_eq!(gguf.architecture(), Some("llama"));
//! assert_eq!(gguf.get_u64("llama.context_length"), Some(2048));
//! assert_eq!(gguf.n_parameters(), 64);
//! # Ok(()) }
//! ```

mod types;

pub use types::{GgmlType, ValueType};

/// `GGUF` as a little-endian u32.
const MAGIC: &[u8; 4] = b"GGUF";
/// Default tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Longest string accepted (metadata key or value, tensor name).
pub const MAX_STRING_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest nesting of arrays inside arrays.
pub const MAX_ARRAY_DEPTH: u32 = 8;
/// Most array elements, summed over every array in the file. Each element
/// becomes a 32-byte [`Value`]; this bounds that memory at 256 MiB whatever
/// the file declares (a 262k-token vocabulary with scores, types and merges
/// is about 1.3 million elements).
pub const MAX_ARRAY_ELEMENTS: u64 = 8 * 1024 * 1024;
/// Most metadata entries (real files have tens; the cap is far above need).
pub const MAX_METADATA_ENTRIES: u64 = 1024 * 1024;
/// Most tensors (the largest mixture-of-experts files have a few thousand).
pub const MAX_TENSORS: u64 = 1024 * 1024;
/// Most dimensions of one tensor (`GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
/// Largest dimension and element count: ggml stores them as `int64_t`.
const MAX_ELEMENTS: u64 = i64::MAX as u64;

/// Why a GGUF file could not be read. Offsets are bytes from the start of
/// the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file does not start with `GGUF`.
    #[error("not a GGUF file: expected magic \"GGUF\" at offset 0")]
    BadMagic,
    /// A version this reader does not support.
    #[error("unsupported GGUF version {version} at offset 4 (supported: 2 and 3{hint})")]
    UnsupportedVersion {
        /// The version field.
        version: u32,
        /// Extra advice (big-endian files).
        hint: &'static str,
    },
    /// The file ends inside a field.
    #[error("truncated at offset {offset}: {field} needs {needed} bytes, {available} remain")]
    Truncated {
        /// Where the field starts.
        offset: u64,
        /// What was being read.
        field: String,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// A count that the rest of the file cannot possibly hold, or that is
    /// over its cap.
    #[error(
        "{field} at offset {offset} is {count}, at most {max} are possible ({remaining} bytes left)"
    )]
    CountTooLarge {
        /// Where the count is.
        offset: u64,
        /// Which count.
        field: String,
        /// The declared count.
        count: u64,
        /// Most that could fit (the bytes left or the cap).
        max: u64,
        /// Bytes left after the count.
        remaining: u64,
    },
    /// A string whose declared length exceeds [`MAX_STRING_BYTES`] or the
    /// bytes left in the file.
    #[error("{field} at offset {offset} declares {length} bytes, at most {max} are possible")]
    StringTooLong {
        /// Where the string's length field is.
        offset: u64,
        /// Which string.
        field: String,
        /// The declared length.
        length: u64,
        /// The most it could be here (the cap or the bytes left).
        max: u64,
    },
    /// A string that is not valid UTF-8.
    #[error("{field} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the string's bytes start.
        offset: u64,
        /// Which string.
        field: String,
    },
    /// An unknown metadata value type id.
    #[error("metadata '{key}' at offset {offset}: unknown value type {type_id}")]
    UnknownValueType {
        /// Where the type id is.
        offset: u64,
        /// The metadata key.
        key: String,
        /// The id.
        type_id: u32,
    },
    /// Arrays nested deeper than [`MAX_ARRAY_DEPTH`].
    #[error("metadata '{key}' at offset {offset}: arrays nested deeper than {MAX_ARRAY_DEPTH}")]
    ArrayTooDeep {
        /// Where the innermost array starts.
        offset: u64,
        /// The metadata key.
        key: String,
    },
    /// More array elements in the file than [`MAX_ARRAY_ELEMENTS`].
    #[error(
        "metadata '{key}' at offset {offset}: more than {MAX_ARRAY_ELEMENTS} array elements in the file"
    )]
    TooManyArrayElements {
        /// Where the array starts.
        offset: u64,
        /// The metadata key.
        key: String,
    },
    /// `general.alignment` is not a non-zero power of two `u32`.
    #[error("general.alignment at offset {offset} must be a power of two u32, found {value}")]
    BadAlignment {
        /// Where the value is.
        offset: u64,
        /// What was found.
        value: String,
    },
    /// An unknown or removed ggml type id.
    #[error("tensor '{name}' at offset {offset}: unknown ggml type {type_id}")]
    UnknownTensorType {
        /// Where the type id is.
        offset: u64,
        /// The tensor.
        name: String,
        /// The id.
        type_id: u32,
    },
    /// A ggml type id that ggml used once and has removed (`Q4_2`,
    /// `Q4_0_4_4`…): the file needs reconverting.
    #[error(
        "tensor '{name}' at offset {offset}: ggml type {type_id} ({type_name}) was removed from ggml, reconvert the model"
    )]
    RemovedTensorType {
        /// Where the type id is.
        offset: u64,
        /// The tensor.
        name: String,
        /// The id.
        type_id: u32,
        /// The removed type's name.
        type_name: &'static str,
    },
    /// A tensor shape that is invalid: too many dimensions, a zero or
    /// overflowing size, or a first dimension that is not a whole number
    /// of blocks.
    #[error("tensor '{name}' at offset {offset}: {reason}")]
    BadShape {
        /// Where the tensor info starts.
        offset: u64,
        /// The tensor.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor whose data offset is not aligned.
    #[error(
        "tensor '{name}' at offset {offset}: data offset {tensor_offset} is not a multiple of the alignment {alignment}"
    )]
    MisalignedTensor {
        /// Where the tensor info starts.
        offset: u64,
        /// The tensor.
        name: String,
        /// Its offset relative to the data section.
        tensor_offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor's data reaches past the end of the file.
    #[error(
        "tensor '{name}' at offset {offset}: data range {start}..{end} exceeds file size {file_size} (truncated download?)"
    )]
    TensorOutOfBounds {
        /// Where the tensor info starts.
        offset: u64,
        /// The tensor.
        name: String,
        /// Absolute start of its data (saturated at `u64::MAX`).
        start: u64,
        /// Absolute end of its data (saturated at `u64::MAX`).
        end: u64,
        /// File size.
        file_size: u64,
    },
}

impl Error {
    /// The byte offset the error points at (the start of the field or
    /// record that is wrong).
    pub fn offset(&self) -> u64 {
        match self {
            Error::BadMagic => 0,
            Error::UnsupportedVersion { .. } => 4,
            Error::Truncated { offset, .. }
            | Error::CountTooLarge { offset, .. }
            | Error::StringTooLong { offset, .. }
            | Error::InvalidUtf8 { offset, .. }
            | Error::UnknownValueType { offset, .. }
            | Error::ArrayTooDeep { offset, .. }
            | Error::TooManyArrayElements { offset, .. }
            | Error::BadAlignment { offset, .. }
            | Error::UnknownTensorType { offset, .. }
            | Error::RemovedTensorType { offset, .. }
            | Error::BadShape { offset, .. }
            | Error::MisalignedTensor { offset, .. }
            | Error::TensorOutOfBounds { offset, .. } => *offset,
        }
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `uint8`.
    U8(u8),
    /// `int8`.
    I8(i8),
    /// `uint16`.
    U16(u16),
    /// `int16`.
    I16(i16),
    /// `uint32`.
    U32(u32),
    /// `int32`.
    I32(i32),
    /// `float32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// A string.
    String(String),
    /// An array (possibly of arrays).
    Array(Array),
    /// `uint64`.
    U64(u64),
    /// `int64`.
    I64(i64),
    /// `float64`.
    F64(f64),
}

/// A typed array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The type of every element.
    pub element_type: ValueType,
    /// The elements.
    pub values: Vec<Value>,
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One metadata key/value pair.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataEntry {
    /// The key, e.g. `general.architecture`.
    pub key: String,
    /// The value.
    pub value: Value,
    /// Byte offset of the key's length field.
    pub offset: u64,
}

/// One tensor info record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions, fastest-varying first (ggml order).
    pub dims: Vec<u64>,
    /// How elements are stored.
    pub ggml_type: GgmlType,
    /// Offset of the data relative to [`Gguf::data_offset`].
    pub offset: u64,
    /// Number of elements (product of `dims`).
    pub n_elements: u64,
    /// Bytes of data.
    pub n_bytes: u64,
    /// Byte offset of the info record in the file.
    pub info_offset: u64,
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct Gguf {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<MetadataEntry>,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Tensor data alignment.
    pub alignment: u64,
    /// Absolute offset of the tensor data section.
    pub data_offset: u64,
    /// Size of the bytes parsed (the file).
    pub file_size: u64,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    array_elements: u64,
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl<'a> Reader<'a> {
    fn offset(&self) -> u64 {
        to_u64(self.pos)
    }

    fn remaining(&self) -> u64 {
        to_u64(self.bytes.len().saturating_sub(self.pos))
    }

    #[inline]
    fn take(&mut self, n: u64, field: &dyn Fn() -> String) -> Result<&'a [u8], Error> {
        let range = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .and_then(|end| Some((self.bytes.get(self.pos..end)?, end)));
        match range {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(self.truncated(n, field)),
        }
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, needed: u64, field: &dyn Fn() -> String) -> Error {
        Error::Truncated {
            offset: self.offset(),
            field: field(),
            needed,
            available: self.remaining(),
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self, field: &dyn Fn() -> String) -> Result<[u8; N], Error> {
        // `take` returned exactly N bytes, so the conversion cannot fail.
        self.take(to_u64(N), field)
            .map(|slice| <[u8; N]>::try_from(slice).unwrap_or([0; N]))
    }

    #[inline]
    fn u32(&mut self, field: &dyn Fn() -> String) -> Result<u32, Error> {
        self.array(field).map(u32::from_le_bytes)
    }

    #[inline]
    fn u64(&mut self, field: &dyn Fn() -> String) -> Result<u64, Error> {
        self.array(field).map(u64::from_le_bytes)
    }

    fn string(&mut self, field: &dyn Fn() -> String) -> Result<String, Error> {
        let len_offset = self.offset();
        let len = self.u64(&|| format!("length of {}", field()))?;
        let max = self.remaining().min(MAX_STRING_BYTES);
        if len > max {
            return Err(Error::StringTooLong {
                offset: len_offset,
                field: field(),
                length: len,
                max,
            });
        }
        let start = self.offset();
        let bytes = self.take(len, field)?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| Error::InvalidUtf8 {
                offset: start,
                field: field(),
            })
    }

    /// Check that `count` items of at least `min_size` bytes fit in what is
    /// left, and that `count` is at most `cap`.
    fn check_count(
        &self,
        count: u64,
        min_size: u64,
        cap: u64,
        offset: u64,
        field: &dyn Fn() -> String,
    ) -> Result<(), Error> {
        let max = (self.remaining() / min_size.max(1)).min(cap);
        if count > max {
            return Err(Error::CountTooLarge {
                offset,
                field: field(),
                count,
                max,
                remaining: self.remaining(),
            });
        }
        Ok(())
    }

    fn value(&mut self, value_type: ValueType, key: &str, depth: u32) -> Result<Value, Error> {
        let field = || format!("value of '{key}'");
        Ok(match value_type {
            ValueType::String => Value::String(self.string(&field)?),
            ValueType::Array => {
                let start = self.offset();
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(Error::ArrayTooDeep {
                        offset: start,
                        key: key.to_string(),
                    });
                }
                let type_id = self.u32(&|| format!("array element type of '{key}'"))?;
                let element_type =
                    ValueType::from_id(type_id).ok_or_else(|| Error::UnknownValueType {
                        offset: start,
                        key: key.to_string(),
                        type_id,
                    })?;
                let len_offset = self.offset();
                let len = self.u64(&|| format!("array length of '{key}'"))?;
                self.check_count(len, element_type.min_size(), u64::MAX, len_offset, &|| {
                    format!("array length of '{key}'")
                })?;
                self.array_elements = self.array_elements.saturating_add(len);
                if self.array_elements > MAX_ARRAY_ELEMENTS {
                    return Err(Error::TooManyArrayElements {
                        offset: start,
                        key: key.to_string(),
                    });
                }
                // `len` is bounded by the bytes left and by MAX_ARRAY_ELEMENTS.
                let values = match element_type.fixed_size() {
                    // Fixed-size elements: one bounds check for the whole
                    // array (check_count made `len * size` fit the bytes left).
                    Some(size) => {
                        let bytes = self
                            .take(len.saturating_mul(size), &|| format!("elements of '{key}'"))?;
                        let size = usize::try_from(size).unwrap_or(1);
                        bytes
                            .chunks_exact(size)
                            .map(|chunk| scalar(element_type, chunk))
                            .collect()
                    }
                    None => {
                        let mut values = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                        if element_type == ValueType::String {
                            // The vocabulary: the one hot loop of the parser.
                            let field = || format!("element of '{key}'");
                            for _ in 0..len {
                                values.push(Value::String(self.string(&field)?));
                            }
                        } else {
                            for _ in 0..len {
                                values.push(self.value(element_type, key, depth + 1)?);
                            }
                        }
                        values
                    }
                };
                Value::Array(Array {
                    element_type,
                    values,
                })
            }
            fixed => {
                let size = fixed.fixed_size().unwrap_or(1);
                scalar(fixed, self.take(size, &field)?)
            }
        })
    }
}

/// Decode a fixed-size value from exactly its bytes (`bytes` comes from a
/// `take` or `chunks_exact` of [`ValueType::fixed_size`] bytes).
fn scalar(value_type: ValueType, bytes: &[u8]) -> Value {
    fn le<const N: usize>(bytes: &[u8]) -> [u8; N] {
        <[u8; N]>::try_from(bytes).unwrap_or([0; N])
    }
    match value_type {
        ValueType::U8 => Value::U8(u8::from_le_bytes(le(bytes))),
        ValueType::I8 => Value::I8(i8::from_le_bytes(le(bytes))),
        ValueType::U16 => Value::U16(u16::from_le_bytes(le(bytes))),
        ValueType::I16 => Value::I16(i16::from_le_bytes(le(bytes))),
        ValueType::U32 => Value::U32(u32::from_le_bytes(le(bytes))),
        ValueType::I32 => Value::I32(i32::from_le_bytes(le(bytes))),
        ValueType::F32 => Value::F32(f32::from_le_bytes(le(bytes))),
        ValueType::Bool => Value::Bool(le::<1>(bytes) != [0]),
        ValueType::U64 => Value::U64(u64::from_le_bytes(le(bytes))),
        ValueType::I64 => Value::I64(i64::from_le_bytes(le(bytes))),
        ValueType::F64 => Value::F64(f64::from_le_bytes(le(bytes))),
        // Not fixed-size; never passed here.
        ValueType::String | ValueType::Array => Value::Bool(false),
    }
}

impl Gguf {
    /// Parse the header of a GGUF file held in `bytes` (the whole file, so
    /// tensor data ranges can be checked; typically a memory map).
    pub fn parse(bytes: &[u8]) -> Result<Gguf, Error> {
        let mut r = Reader {
            bytes,
            pos: 0,
            array_elements: 0,
        };
        if bytes.get(..4) != Some(MAGIC.as_slice()) {
            return Err(Error::BadMagic);
        }
        r.pos = 4;
        let version = r.u32(&|| "version".to_string())?;
        if version != 2 && version != 3 {
            let hint = if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
                "; this file is big-endian, convert it with gguf-py's gguf-convert-endian"
            } else if version == 1 {
                "; version 1 files predate GGUF's 64-bit counts, reconvert the model"
            } else {
                ""
            };
            return Err(Error::UnsupportedVersion { version, hint });
        }
        let tensor_count_offset = r.offset();
        let tensor_count = r.u64(&|| "tensor count".to_string())?;
        let kv_count_offset = r.offset();
        let kv_count = r.u64(&|| "metadata count".to_string())?;
        // Smallest metadata entry: key length (8) + type (4) + a u8 value (1).
        r.check_count(kv_count, 13, MAX_METADATA_ENTRIES, kv_count_offset, &|| {
            "metadata count".to_string()
        })?;

        let mut metadata = Vec::with_capacity(usize::try_from(kv_count).unwrap_or(0));
        let mut alignment = DEFAULT_ALIGNMENT;
        for index in 0..kv_count {
            let offset = r.offset();
            let key = r.string(&|| format!("key of metadata entry {index}"))?;
            let type_offset = r.offset();
            let type_id = r.u32(&|| format!("value type of '{key}'"))?;
            let value_type =
                ValueType::from_id(type_id).ok_or_else(|| Error::UnknownValueType {
                    offset: type_offset,
                    key: key.clone(),
                    type_id,
                })?;
            let value_offset = r.offset();
            let value = r.value(value_type, &key, 0)?;
            if key == "general.alignment" {
                alignment = match value {
                    Value::U32(a) if a.is_power_of_two() => u64::from(a),
                    ref other => {
                        return Err(Error::BadAlignment {
                            offset: value_offset,
                            value: format!("{other:?}"),
                        });
                    }
                };
            }
            metadata.push(MetadataEntry { key, value, offset });
        }

        // Smallest tensor info: name length (8) + n_dims (4) + type (4) + offset (8).
        r.check_count(tensor_count, 24, MAX_TENSORS, tensor_count_offset, &|| {
            "tensor count".to_string()
        })?;
        let mut tensors = Vec::with_capacity(usize::try_from(tensor_count).unwrap_or(0));
        for index in 0..tensor_count {
            let info_offset = r.offset();
            let name = r.string(&|| format!("name of tensor {index}"))?;
            let dims_offset = r.offset();
            let n_dims = r.u32(&|| format!("dimension count of tensor '{name}'"))?;
            if n_dims > MAX_DIMS {
                return Err(Error::BadShape {
                    offset: dims_offset,
                    name,
                    reason: format!("{n_dims} dimensions, ggml allows at most {MAX_DIMS}"),
                });
            }
            let mut dims = Vec::with_capacity(MAX_DIMS as usize);
            for axis in 0..n_dims {
                dims.push(r.u64(&|| format!("dimension {axis} of tensor '{name}'"))?);
            }
            let type_offset = r.offset();
            let type_id = r.u32(&|| format!("type of tensor '{name}'"))?;
            let Some(ggml_type) = GgmlType::from_id(type_id) else {
                return Err(match GgmlType::removed_name(type_id) {
                    Some(type_name) => Error::RemovedTensorType {
                        offset: type_offset,
                        name,
                        type_id,
                        type_name,
                    },
                    None => Error::UnknownTensorType {
                        offset: type_offset,
                        name,
                        type_id,
                    },
                });
            };
            let offset = r.u64(&|| format!("data offset of tensor '{name}'"))?;
            let bad_shape = |reason: String| Error::BadShape {
                offset: info_offset,
                name: name.clone(),
                reason,
            };
            let n_elements = dims
                .iter()
                .try_fold(1u64, |acc, d| acc.checked_mul(*d))
                .filter(|&n| n <= MAX_ELEMENTS && dims.iter().all(|&d| d <= MAX_ELEMENTS))
                .ok_or_else(|| {
                    bad_shape(format!(
                        "dimensions {dims:?} hold more than {MAX_ELEMENTS} elements (int64 in ggml)"
                    ))
                })?;
            let block = ggml_type.block_size();
            let first = dims.first().copied().unwrap_or(1);
            if first % block != 0 {
                return Err(bad_shape(format!(
                    "first dimension {first} is not a multiple of {}'s block size {block}",
                    ggml_type.name()
                )));
            }
            let n_bytes = (n_elements / block)
                .checked_mul(ggml_type.type_size())
                .ok_or_else(|| bad_shape("byte size overflows 64 bits".to_string()))?;
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                n_elements,
                n_bytes,
                info_offset,
            });
        }

        let header_end = r.offset();
        let file_size = to_u64(bytes.len());
        let data_offset = header_end.div_ceil(alignment).saturating_mul(alignment);
        for tensor in &tensors {
            if tensor.offset % alignment != 0 {
                return Err(Error::MisalignedTensor {
                    offset: tensor.info_offset,
                    name: tensor.name.clone(),
                    tensor_offset: tensor.offset,
                    alignment,
                });
            }
            let start = data_offset.checked_add(tensor.offset);
            let end = start.and_then(|s| s.checked_add(tensor.n_bytes));
            match (start, end) {
                (Some(_), Some(end)) if end <= file_size => {}
                _ => {
                    return Err(Error::TensorOutOfBounds {
                        offset: tensor.info_offset,
                        name: tensor.name.clone(),
                        start: start.unwrap_or(u64::MAX),
                        end: end.unwrap_or(u64::MAX),
                        file_size,
                    });
                }
            }
        }
        Ok(Gguf {
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
            file_size,
        })
    }

    /// The value of a metadata key (the first, if it is duplicated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// A string metadata value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// A non-negative integer metadata value of any width.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// Total elements over all tensors (the parameter count).
    pub fn n_parameters(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements))
    }

    /// Tensors and bytes per ggml type, most bytes first.
    pub fn bytes_by_type(&self) -> Vec<(GgmlType, u64, u64)> {
        let mut totals: Vec<(GgmlType, u64, u64)> = Vec::new();
        for tensor in &self.tensors {
            match totals.iter_mut().find(|(t, _, _)| *t == tensor.ggml_type) {
                Some((_, count, bytes)) => {
                    *count += 1;
                    *bytes = bytes.saturating_add(tensor.n_bytes);
                }
                None => totals.push((tensor.ggml_type, 1, tensor.n_bytes)),
            }
        }
        totals.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        totals
    }

    /// Pairs `(lower index, higher index)` of tensors whose data ranges
    /// overlap (a well-formed file has none), from one sweep over the
    /// tensors sorted by offset in O(n log n): every tensor that starts
    /// inside an earlier one is paired with the earlier tensor reaching
    /// furthest, so each overlapping tensor appears at least once, but not
    /// every overlapping pair is listed. Empty tensors overlap nothing.
    pub fn overlapping_tensors(&self) -> Vec<(usize, usize)> {
        let mut order: Vec<usize> = (0..self.tensors.len()).collect();
        order.sort_by_key(|&i| self.tensors.get(i).map(|t| t.offset));
        let mut overlaps = Vec::new();
        let mut furthest: Option<(usize, u64)> = None;
        for i in order {
            let Some(tensor) = self.tensors.get(i) else {
                continue;
            };
            let end = tensor.offset.saturating_add(tensor.n_bytes);
            if let Some((j, reach)) = furthest {
                if tensor.offset < reach && tensor.n_bytes > 0 {
                    overlaps.push((j.min(i), j.max(i)));
                }
                if end > reach {
                    furthest = Some((i, end));
                }
            } else {
                furthest = Some((i, end));
            }
        }
        overlaps
    }

    /// Metadata keys that appear more than once, each listed once, in the
    /// order of their second appearance. [`Gguf::get`] returns the first
    /// copy; other readers may use another.
    pub fn duplicate_keys(&self) -> Vec<&str> {
        duplicates(self.metadata.iter().map(|e| e.key.as_str()))
    }

    /// Tensor names that appear more than once, each listed once.
    pub fn duplicate_tensor_names(&self) -> Vec<&str> {
        duplicates(self.tensors.iter().map(|t| t.name.as_str()))
    }
}

/// The names that occur more than once in `names`, each once.
fn duplicates<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = std::collections::HashMap::new();
    let mut duplicates = Vec::new();
    for name in names {
        let count = seen.entry(name).or_insert(0u32);
        *count = count.saturating_add(1);
        if *count == 2 {
            duplicates.push(name);
        }
    }
    duplicates
}

#[doc(hidden)]
pub mod tests_support {
    //! A tiny valid file for doc examples.

    /// A GGUF v3 file: a llama architecture key, a context length, and one
    /// 8×8 F32 tensor.
    pub fn tiny() -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&2u64.to_le_bytes());
        let string = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        string(&mut out, "general.architecture");
        out.extend_from_slice(&8u32.to_le_bytes());
        string(&mut out, "llama");
        string(&mut out, "llama.context_length");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&2048u32.to_le_bytes());
        string(&mut out, "w");
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&8u64.to_le_bytes());
        out.extend_from_slice(&8u64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        while out.len() % 32 != 0 {
            out.push(0);
        }
        out.extend_from_slice(&[0u8; 256]);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// A v3 header with `kv_count` entries already encoded in `body`, no tensors.
    fn file(version: u32, kv_count: u64, body: &[u8]) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&kv_count.to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    fn key(out: &mut Vec<u8>, name: &str, type_id: u32) {
        out.extend_from_slice(&(name.len() as u64).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&type_id.to_le_bytes());
    }

    #[test]
    fn empty_arrays_keep_their_element_type() {
        // gguf-py refuses to write empty arrays; llama.cpp accepts them.
        let mut body = Vec::new();
        key(&mut body, "a", ValueType::Array.id());
        body.extend_from_slice(&ValueType::F64.id().to_le_bytes());
        body.extend_from_slice(&0u64.to_le_bytes());
        let gguf = Gguf::parse(&file(3, 1, &body)).unwrap();
        let array = gguf.get("a").unwrap().as_array().unwrap();
        assert_eq!(array.element_type, ValueType::F64);
        assert!(array.values.is_empty());
        assert!(gguf.tensors.is_empty());
        assert_eq!(gguf.n_parameters(), 0);
    }

    #[test]
    fn version_1_is_refused_with_advice() {
        let error = Gguf::parse(&file(1, 0, &[])).unwrap_err();
        assert!(matches!(
            error,
            Error::UnsupportedVersion { version: 1, .. }
        ));
        assert!(error.to_string().contains("reconvert"), "{error}");
    }

    #[test]
    fn array_lengths_are_capped_by_the_bytes_left() {
        // Four u8 elements declared, three bytes left.
        let mut body = Vec::new();
        key(&mut body, "a", ValueType::Array.id());
        body.extend_from_slice(&ValueType::U8.id().to_le_bytes());
        body.extend_from_slice(&4u64.to_le_bytes());
        body.extend_from_slice(&[1, 2, 3]);
        let error = Gguf::parse(&file(3, 1, &body)).unwrap_err();
        assert!(
            matches!(
                error,
                Error::CountTooLarge {
                    count: 4,
                    max: 3,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn integers_widen_only_when_non_negative() {
        assert_eq!(Value::I64(5).as_u64(), Some(5));
        assert_eq!(Value::I64(-5).as_u64(), None);
        assert_eq!(Value::U16(7).as_u64(), Some(7));
        assert_eq!(Value::F32(1.0).as_u64(), None);
        assert_eq!(Value::Bool(true).as_u64(), None);
    }

    fn with_ranges(ranges: &[(u64, u64)]) -> Gguf {
        let tensors = ranges
            .iter()
            .enumerate()
            .map(|(i, &(offset, n_bytes))| TensorInfo {
                name: format!("t{i}"),
                dims: vec![n_bytes],
                ggml_type: GgmlType::I8,
                offset,
                n_elements: n_bytes,
                n_bytes,
                info_offset: 0,
            })
            .collect();
        Gguf {
            version: 3,
            metadata: Vec::new(),
            tensors,
            alignment: 1,
            data_offset: 0,
            file_size: u64::MAX,
        }
    }

    #[test]
    fn overlaps_are_found_by_one_sweep() {
        let overlaps = |ranges: &[(u64, u64)]| with_ranges(ranges).overlapping_tensors();
        // Adjacent ranges touch but do not overlap.
        assert_eq!(overlaps(&[(32, 32), (0, 32)]), []);
        // One range holding two others overlaps both.
        assert_eq!(overlaps(&[(0, 100), (10, 10), (30, 10)]), [(0, 1), (0, 2)]);
        // Identical ranges, in any order.
        assert_eq!(overlaps(&[(64, 8), (0, 8), (64, 8)]), [(0, 2)]);
        // Each later tensor is paired with the furthest-reaching one before it.
        assert_eq!(overlaps(&[(0, 50), (10, 50), (55, 15)]), [(0, 1), (1, 2)]);
        // Empty tensors overlap nothing.
        assert_eq!(overlaps(&[(0, 100), (50, 0)]), []);
        assert_eq!(overlaps(&[]), []);
    }

    #[test]
    fn duplicates_are_listed_once() {
        let mut gguf = with_ranges(&[(0, 1), (1, 1), (2, 1)]);
        for tensor in &mut gguf.tensors {
            tensor.name = "same".to_string();
        }
        assert_eq!(gguf.duplicate_tensor_names(), ["same"]);
        assert!(gguf.duplicate_keys().is_empty());
    }
}
