//! A reader for safetensors files and sharded checkpoint indexes that keeps
//! the structure of malformed headers.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON
//! header mapping tensor names to `{dtype, shape, data_offsets}` (plus an
//! optional `__metadata__` string map), then the tensor bytes. The format
//! cannot run code, but a header can still lie: ranges that overlap, point
//! outside the file, disagree with shape × dtype, or leave gaps where other
//! bytes hide.
//!
//! - [`SafeTensors::parse`] is strict: it accepts what the reference
//!   `safetensors` crate accepts (tested against it on generated headers),
//!   except that it also rejects duplicate names (the reference keeps the
//!   last silently), headers not starting with `{` (the format says they
//!   must) and tensors with more than [`MAX_DIMS`] dimensions.
//! - [`SafeTensors::parse_lenient`] returns the parsed header together with
//!   every [`Anomaly`] (overlaps, gaps, trailing bytes, size mismatches,
//!   ranges past the end, duplicates, unreadable entries), failing only when
//!   the header itself cannot be read, so a scanner can report each problem.
//! - [`ShardIndex`] reads `model.safetensors.index.json`.
//!
//! The reference crate is the wrong shape for a scanner (it stops at the
//! first problem and its JSON map drops duplicate keys), so the header is
//! read here with `serde_json` into an ordered list of entries.
//!
//! ```
//! let mut file = Vec::new();
//! let header = br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
//! file.extend_from_slice(&(header.len() as u64).to_le_bytes());
//! file.extend_from_slice(header);
//! file.extend_from_slice(&[0u8; 16]);
//! let st = modelgate_safetensors::SafeTensors::parse(&file).unwrap();
//! assert_eq!(st.n_parameters(), 4);
//! assert_eq!(st.tensors[0].dtype.name(), "F32");
//! ```

mod index;

use std::fmt;

pub use index::{MAX_INDEX_BYTES, ShardIndex, parse_shard_name};

/// Largest header accepted, as in the reference implementation.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Most tensors in one file.
pub const MAX_TENSORS: usize = 1_000_000;
/// Most dimensions of one tensor.
pub const MAX_DIMS: usize = 64;

/// Why a safetensors file or index could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer than 8 bytes: no header length.
    #[error("file is {size} bytes, too short for the 8-byte header length at offset 0")]
    TooShort {
        /// File size.
        size: u64,
    },
    /// The header length is larger than the limit or the file.
    #[error("header length {header_len} at offset 0 exceeds {limit} (the {what})")]
    HeaderTooLarge {
        /// Declared header length.
        header_len: u64,
        /// The bound it exceeds.
        limit: u64,
        /// Which bound (`file size after the length field`, `100 MB limit`).
        what: &'static str,
    },
    /// The header is not a JSON object of the expected shape.
    #[error("header at offset 8 is not valid: {message}")]
    InvalidHeader {
        /// What the JSON parser or the shape check said.
        message: String,
    },
    /// A tensor entry is missing a field or has a wrong type.
    #[error("tensor '{name}': {message}")]
    InvalidTensor {
        /// The tensor.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The strict parser found an anomaly (see [`SafeTensors::parse_lenient`]).
    #[error("{0}")]
    Anomaly(Anomaly),
    /// A shard index that is not valid.
    #[error("shard index: {message}")]
    InvalidIndex {
        /// What is wrong.
        message: String,
    },
}

/// A tensor element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[non_exhaustive]
pub enum Dtype {
    /// Boolean (1 byte).
    BOOL,
    /// 4-bit float (e2m1).
    F4,
    /// 6-bit float (e2m3).
    F6_E2M3,
    /// 6-bit float (e3m2).
    F6_E3M2,
    /// Unsigned byte.
    U8,
    /// Signed byte.
    I8,
    /// 8-bit float (e5m2).
    F8_E5M2,
    /// 8-bit float (e4m3).
    F8_E4M3,
    /// 8-bit exponent-only scale (e8m0).
    F8_E8M0,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// IEEE single.
    F32,
    /// Complex of two singles.
    C64,
    /// IEEE double.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
}

impl Dtype {
    const ALL: [Dtype; 20] = [
        Dtype::BOOL,
        Dtype::F4,
        Dtype::F6_E2M3,
        Dtype::F6_E3M2,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8_E5M2,
        Dtype::F8_E4M3,
        Dtype::F8_E8M0,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::C64,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name used in headers (`F32`, `BF16`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::BOOL => "BOOL",
            Dtype::F4 => "F4",
            Dtype::F6_E2M3 => "F6_E2M3",
            Dtype::F6_E3M2 => "F6_E3M2",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8_E5M2 => "F8_E5M2",
            Dtype::F8_E4M3 => "F8_E4M3",
            Dtype::F8_E8M0 => "F8_E8M0",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::C64 => "C64",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    /// Parse a header dtype name.
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bits per element.
    pub fn bits(self) -> u64 {
        match self {
            Dtype::F4 => 4,
            Dtype::F6_E2M3 | Dtype::F6_E3M2 => 6,
            Dtype::BOOL | Dtype::U8 | Dtype::I8 => 8,
            Dtype::F8_E5M2 | Dtype::F8_E4M3 | Dtype::F8_E8M0 => 8,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::C64 | Dtype::F64 | Dtype::I64 | Dtype::U64 => 64,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor's header entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Shape (empty for a scalar).
    pub shape: Vec<u64>,
    /// Start of its bytes, relative to [`SafeTensors::data_offset`].
    pub data_start: u64,
    /// End of its bytes (exclusive), relative to [`SafeTensors::data_offset`].
    pub data_end: u64,
    /// Number of elements.
    pub n_elements: u64,
}

/// Something wrong with a header that could still be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The tensor it concerns, if one.
    pub tensor: Option<String>,
    /// What kind of problem.
    pub kind: AnomalyKind,
}

/// The kinds of [`Anomaly`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnomalyKind {
    /// The same name appears twice in the header.
    DuplicateName,
    /// `data_offsets` end before they start.
    ReversedRange {
        /// Declared start.
        start: u64,
        /// Declared end.
        end: u64,
    },
    /// The byte range reaches past the end of the file.
    OutOfRange {
        /// Declared end.
        end: u64,
        /// Bytes in the data section.
        data_len: u64,
    },
    /// Shape × dtype does not match the byte range.
    SizeMismatch {
        /// Bytes the shape and dtype need (`None` if the element count or
        /// bit count overflows 64 bits).
        expected: Option<u64>,
        /// Bytes in the range.
        actual: u64,
    },
    /// Two tensors' ranges overlap.
    Overlap {
        /// The other tensor.
        other: String,
    },
    /// Bytes between tensors (or before the first) that no tensor covers.
    Gap {
        /// Start of the gap (relative to the data section).
        start: u64,
        /// End of the gap.
        end: u64,
    },
    /// Bytes after the last tensor.
    TrailingBytes {
        /// How many.
        bytes: u64,
    },
    /// `__metadata__` is not a map of strings.
    BadMetadata,
    /// The header holds bytes other than whitespace after its JSON object.
    HeaderPadding {
        /// Bytes after the JSON object.
        bytes: u64,
    },
    /// A sub-byte dtype (`F4`, `F6_*`) whose elements do not fill whole bytes.
    PartialByte {
        /// Bits the shape and dtype need.
        bits: u64,
    },
    /// A tensor entry that cannot be read (unknown dtype, missing or
    /// mistyped field); the tensor is left out of [`SafeTensors::tensors`].
    BadEntry {
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(tensor) = &self.tensor {
            write!(f, "tensor '{tensor}': ")?;
        }
        match &self.kind {
            AnomalyKind::DuplicateName => write!(f, "name appears more than once in the header"),
            AnomalyKind::ReversedRange { start, end } => {
                write!(f, "data_offsets [{start}, {end}] end before they start")
            }
            AnomalyKind::OutOfRange { end, data_len } => write!(
                f,
                "data ends at {end}, past the {data_len}-byte data section"
            ),
            AnomalyKind::SizeMismatch { expected, actual } => match expected {
                Some(expected) => write!(
                    f,
                    "shape and dtype need {expected} bytes but data_offsets cover {actual}"
                ),
                None => write!(
                    f,
                    "shape × dtype overflows 64 bits but data_offsets cover {actual} bytes"
                ),
            },
            AnomalyKind::Overlap { other } => write!(f, "data overlaps tensor '{other}'"),
            AnomalyKind::Gap { start, end } => write!(
                f,
                "bytes {start}..{end} of the data section belong to no tensor"
            ),
            AnomalyKind::TrailingBytes { bytes } => {
                write!(f, "{bytes} bytes after the last tensor belong to no tensor")
            }
            AnomalyKind::BadMetadata => write!(f, "__metadata__ must map strings to strings"),
            AnomalyKind::PartialByte { bits } => {
                write!(
                    f,
                    "shape and dtype need {bits} bits, not a whole number of bytes"
                )
            }
            AnomalyKind::BadEntry { message } => f.write_str(message),
            AnomalyKind::HeaderPadding { bytes } => write!(
                f,
                "{bytes} bytes after the header's JSON object are not whitespace"
            ),
        }
    }
}

/// A parsed safetensors header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeTensors {
    /// Length of the JSON header.
    pub header_len: u64,
    /// Absolute offset of the data section (`8 + header_len`).
    pub data_offset: u64,
    /// `__metadata__` entries.
    pub metadata: Vec<(String, String)>,
    /// Tensors ordered by data offset.
    pub tensors: Vec<TensorInfo>,
    /// Size of the file.
    pub file_size: u64,
}

/// Header entries in file order, duplicates kept.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    if entries.len() >= MAX_TENSORS {
                        return Err(serde::de::Error::custom(format!(
                            "more than {MAX_TENSORS} entries"
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn invalid_tensor(name: &str, message: impl Into<String>) -> Error {
    Error::InvalidTensor {
        name: name.to_string(),
        message: message.into(),
    }
}

fn parse_u64_list(
    value: &serde_json::Value,
    name: &str,
    field: &str,
    max: usize,
) -> Result<Vec<u64>, Error> {
    let list = value.as_array().ok_or_else(|| {
        invalid_tensor(
            name,
            format!("`{field}` must be a list of non-negative integers"),
        )
    })?;
    if list.len() > max {
        return Err(invalid_tensor(
            name,
            format!(
                "`{field}` has {} entries, at most {max} allowed",
                list.len()
            ),
        ));
    }
    list.iter()
        .map(|v| {
            v.as_u64().ok_or_else(|| {
                invalid_tensor(
                    name,
                    format!("`{field}` must hold non-negative integers, found {v}"),
                )
            })
        })
        .collect()
}

/// One tensor entry's dtype, shape and data offsets.
fn parse_entry(
    name: &str,
    value: &serde_json::Value,
) -> Result<(Dtype, Vec<u64>, u64, u64), Error> {
    let object = value.as_object().ok_or_else(|| {
        invalid_tensor(
            name,
            "entry must be an object with dtype, shape and data_offsets",
        )
    })?;
    let dtype_name = object
        .get("dtype")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| invalid_tensor(name, "missing string `dtype`"))?;
    let dtype = Dtype::from_name(dtype_name)
        .ok_or_else(|| invalid_tensor(name, format!("unknown dtype '{dtype_name}'")))?;
    let shape = parse_u64_list(
        object.get("shape").unwrap_or(&serde_json::Value::Null),
        name,
        "shape",
        MAX_DIMS,
    )?;
    let offsets = parse_u64_list(
        object
            .get("data_offsets")
            .unwrap_or(&serde_json::Value::Null),
        name,
        "data_offsets",
        2,
    )?;
    let [data_start, data_end] = offsets[..] else {
        return Err(invalid_tensor(name, "`data_offsets` must be [start, end]"));
    };
    Ok((dtype, shape, data_start, data_end))
}

impl SafeTensors {
    /// Parse strictly: any [`Anomaly`] is an error.
    pub fn parse(bytes: &[u8]) -> Result<SafeTensors, Error> {
        let (st, anomalies) = SafeTensors::parse_lenient(bytes)?;
        match anomalies.into_iter().next() {
            Some(Anomaly {
                tensor,
                kind: AnomalyKind::BadEntry { message },
            }) => Err(Error::InvalidTensor {
                name: tensor.unwrap_or_default(),
                message,
            }),
            Some(anomaly) => Err(Error::Anomaly(anomaly)),
            None => Ok(st),
        }
    }

    /// Parse the header, collecting every anomaly instead of stopping at
    /// the first. Fails only when the header cannot be read.
    pub fn parse_lenient(bytes: &[u8]) -> Result<(SafeTensors, Vec<Anomaly>), Error> {
        let file_size = to_u64(bytes.len());
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::TooShort { size: file_size })?;
        let header_len = u64::from_le_bytes(len_bytes);
        if header_len > MAX_HEADER_BYTES {
            return Err(Error::HeaderTooLarge {
                header_len,
                limit: MAX_HEADER_BYTES,
                what: "100 MB limit",
            });
        }
        let data_offset = 8 + header_len;
        let header = usize::try_from(data_offset)
            .ok()
            .and_then(|end| bytes.get(8..end))
            .ok_or(Error::HeaderTooLarge {
                header_len,
                limit: file_size.saturating_sub(8),
                what: "file size after the length field",
            })?;
        if header.first() != Some(&b'{') {
            return Err(Error::InvalidHeader {
                message: "must start with '{'".to_string(),
            });
        }
        let invalid_json = |e: serde_json::Error| Error::InvalidHeader {
            message: format!("line {} column {}: {e}", e.line(), e.column()),
        };
        // Read one JSON object, then look at what follows it in the header.
        let mut stream = serde_json::Deserializer::from_slice(header).into_iter::<Entries>();
        let entries = match stream.next() {
            Some(result) => result.map_err(invalid_json)?,
            None => {
                return Err(Error::InvalidHeader {
                    message: "empty".to_string(),
                });
            }
        };
        let after_json = header.get(stream.byte_offset()..).unwrap_or_default();
        let mut anomalies = Vec::new();
        if !after_json
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            anomalies.push(Anomaly {
                tensor: None,
                kind: AnomalyKind::HeaderPadding {
                    bytes: to_u64(after_json.len()),
                },
            });
        }
        let data_len = file_size - data_offset;

        let mut metadata = Vec::new();
        let mut tensors: Vec<TensorInfo> = Vec::with_capacity(entries.0.len());
        let mut seen = std::collections::HashSet::new();
        for (name, value) in entries.0 {
            if !seen.insert(name.clone()) {
                anomalies.push(Anomaly {
                    tensor: Some(name.clone()),
                    kind: AnomalyKind::DuplicateName,
                });
            }
            if name == "__metadata__" {
                match value.as_object() {
                    Some(map) if map.values().all(serde_json::Value::is_string) => {
                        metadata = map
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect();
                    }
                    _ => anomalies.push(Anomaly {
                        tensor: None,
                        kind: AnomalyKind::BadMetadata,
                    }),
                }
                continue;
            }
            let (dtype, shape, data_start, data_end) = match parse_entry(&name, &value) {
                Ok(entry) => entry,
                Err(Error::InvalidTensor { name, message }) => {
                    anomalies.push(Anomaly {
                        tensor: Some(name),
                        kind: AnomalyKind::BadEntry { message },
                    });
                    continue;
                }
                Err(other) => return Err(other),
            };
            let n_elements = shape.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d));
            let bits = n_elements.and_then(|n| n.checked_mul(dtype.bits()));
            let expected = bits.filter(|bits| bits % 8 == 0).map(|bits| bits / 8);
            if data_end < data_start {
                anomalies.push(Anomaly {
                    tensor: Some(name.clone()),
                    kind: AnomalyKind::ReversedRange {
                        start: data_start,
                        end: data_end,
                    },
                });
            } else if let Some(bits) = bits.filter(|bits| bits % 8 != 0) {
                anomalies.push(Anomaly {
                    tensor: Some(name.clone()),
                    kind: AnomalyKind::PartialByte { bits },
                });
            } else if expected != Some(data_end - data_start) {
                anomalies.push(Anomaly {
                    tensor: Some(name.clone()),
                    kind: AnomalyKind::SizeMismatch {
                        expected,
                        actual: data_end - data_start,
                    },
                });
            }
            if data_end > data_len {
                anomalies.push(Anomaly {
                    tensor: Some(name.clone()),
                    kind: AnomalyKind::OutOfRange {
                        end: data_end,
                        data_len,
                    },
                });
            }
            tensors.push(TensorInfo {
                name,
                dtype,
                shape,
                data_start,
                data_end,
                n_elements: n_elements.unwrap_or(u64::MAX),
            });
        }
        tensors.sort_by_key(|t| (t.data_start, t.data_end));
        // Coverage: tensors must tile the data section exactly.
        let mut covered_to = 0u64;
        let mut furthest: Option<&TensorInfo> = None;
        for tensor in &tensors {
            if tensor.data_end < tensor.data_start {
                continue;
            }
            if tensor.data_start > covered_to {
                anomalies.push(Anomaly {
                    tensor: Some(tensor.name.clone()),
                    kind: AnomalyKind::Gap {
                        start: covered_to,
                        end: tensor.data_start,
                    },
                });
            } else if tensor.data_start < covered_to {
                // Empty tensors inside another's range count too: the
                // reference reader rejects them.
                anomalies.push(Anomaly {
                    tensor: Some(tensor.name.clone()),
                    kind: AnomalyKind::Overlap {
                        other: furthest.map(|t| t.name.clone()).unwrap_or_default(),
                    },
                });
            }
            if tensor.data_end > covered_to {
                covered_to = tensor.data_end;
                furthest = Some(tensor);
            }
        }
        if covered_to < data_len {
            anomalies.push(Anomaly {
                tensor: None,
                kind: AnomalyKind::TrailingBytes {
                    bytes: data_len - covered_to,
                },
            });
        }
        Ok((
            SafeTensors {
                header_len,
                data_offset,
                metadata,
                tensors,
                file_size,
            },
            anomalies,
        ))
    }

    /// Total elements over all tensors.
    pub fn n_parameters(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements))
    }

    /// Tensors and bytes per dtype, most bytes first.
    pub fn bytes_by_dtype(&self) -> Vec<(Dtype, u64, u64)> {
        let mut totals: Vec<(Dtype, u64, u64)> = Vec::new();
        for tensor in &self.tensors {
            let bytes = tensor.data_end.saturating_sub(tensor.data_start);
            match totals.iter_mut().find(|(d, _, _)| *d == tensor.dtype) {
                Some((_, count, total)) => {
                    *count += 1;
                    *total = total.saturating_add(bytes);
                }
                None => totals.push((tensor.dtype, 1, bytes)),
            }
        }
        totals.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        totals
    }
}
