//! A reader for NumPy `.npy` headers and `.npz` archives.
//!
//! A `.npy` file is a magic string, a version, and a header that is a Python
//! dict literal (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`),
//! then the array data. The header is parsed here with a small literal
//! parser (never evaluated). Arrays of `object` dtype hold a pickle instead
//! of data: loading them with `allow_pickle=True` runs that pickle, so
//! [`Npy::is_object`] and [`Npy::payload_offset`] point scanners at it.
//!
//! ```
//! let mut file = b"\x93NUMPY\x01\x00".to_vec();
//! let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
//! let padded = format!("{header:<117}\n");
//! file.extend_from_slice(&(padded.len() as u16).to_le_bytes());
//! file.extend_from_slice(padded.as_bytes());
//! file.extend_from_slice(&[0u8; 24]);
//! let npy = modelgate_numpy::Npy::parse(&file).unwrap();
//! assert_eq!(npy.shape, [2, 3]);
//! assert_eq!(npy.descr.to_string(), "<f4");
//! assert_eq!(npy.item_size, Some(4));
//! ```

use std::fmt;

use modelgate_archive::Limits;
use modelgate_archive::zip::ZipArchive;

/// The magic string at the start of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Largest header accepted (NumPy itself refuses headers over 10 000 bytes
/// unless asked; we allow more but not without bound).
pub const MAX_HEADER_BYTES: u64 = 1 << 20;
/// Most dimensions.
pub const MAX_DIMS: usize = 64;
/// Deepest nesting of structured dtypes.
const MAX_NESTING: usize = 16;

/// Why a `.npy` or `.npz` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file does not start with `\x93NUMPY`.
    #[error("not a .npy file: expected the magic \\x93NUMPY at offset 0")]
    BadMagic,
    /// A format version this reader does not know.
    #[error("unsupported .npy format version {major}.{minor} at offset 6 (known: 1.0, 2.0, 3.0)")]
    UnsupportedVersion {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// The file ends before the header or the data does.
    #[error("truncated: {what} needs bytes up to offset {needed}, the file has {size}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// End offset needed.
        needed: u64,
        /// File size.
        size: u64,
    },
    /// The header is not a valid dict literal with the required keys.
    #[error("header at offset {offset}: {message}")]
    BadHeader {
        /// Offset in the file where the problem is.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// The `.npz` container could not be read.
    #[error(transparent)]
    Archive(#[from] modelgate_archive::Error),
}

/// An array's element type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Descr {
    /// A plain type string such as `<f4`, `|b1`, `<U10`, `|O`, `<M8[ns]`.
    Simple {
        /// `<`, `>`, `|` or `=`.
        byteorder: char,
        /// Kind character (`f`, `i`, `u`, `b`, `c`, `U`, `S`, `V`, `O`, `M`, `m`).
        kind: char,
        /// The number after the kind (bytes, or characters for `U`).
        size: u64,
        /// The full type string.
        text: String,
    },
    /// A structured dtype: named fields, each with a type and a sub-shape.
    Structured(Vec<Field>),
}

/// One field of a structured dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Its type.
    pub descr: Descr,
    /// Sub-array shape (empty for scalars).
    pub shape: Vec<u64>,
}

impl Descr {
    /// Bytes per element, or `None` for object dtype (and anything holding it).
    pub fn item_size(&self) -> Option<u64> {
        match self {
            Descr::Simple { kind: 'O', .. } => None,
            Descr::Simple {
                kind: 'U', size, ..
            } => size.checked_mul(4),
            Descr::Simple { size, .. } => Some(*size),
            Descr::Structured(fields) => fields.iter().try_fold(0u64, |acc, f| {
                let count = f.shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d))?;
                acc.checked_add(f.descr.item_size()?.checked_mul(count)?)
            }),
        }
    }

    /// Whether the type is or contains Python objects.
    pub fn has_objects(&self) -> bool {
        match self {
            Descr::Simple { kind, .. } => *kind == 'O',
            Descr::Structured(fields) => fields.iter().any(|f| f.descr.has_objects()),
        }
    }
}

impl fmt::Display for Descr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Descr::Simple { text, .. } => f.write_str(text),
            Descr::Structured(fields) => {
                f.write_str("[")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str("(")?;
                    python_repr(&field.name, f)?;
                    match &field.descr {
                        Descr::Simple { text, .. } => {
                            f.write_str(", ")?;
                            python_repr(text, f)?;
                        }
                        Descr::Structured(_) => write!(f, ", {}", field.descr)?,
                    }
                    match field.shape.as_slice() {
                        [] => {}
                        [one] => write!(f, ", ({one},)")?,
                        dims => {
                            let dims: Vec<String> = dims.iter().map(u64::to_string).collect();
                            write!(f, ", ({})", dims.join(", "))?;
                        }
                    }
                    f.write_str(")")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Npy {
    /// Format version (major, minor).
    pub version: (u8, u8),
    /// Element type.
    pub descr: Descr,
    /// Whether data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Shape (empty for a 0-d array).
    pub shape: Vec<u64>,
    /// Length of the header text.
    pub header_len: u64,
    /// Offset of the array data.
    pub data_offset: u64,
    /// Bytes per element (`None` for object arrays).
    pub item_size: Option<u64>,
    /// Number of elements.
    pub n_elements: u64,
    /// Whether the data is a pickle of Python objects.
    pub is_object: bool,
    /// Offset of the pickle payload for object arrays (equals `data_offset`).
    pub payload_offset: u64,
}

/// A value of the header's Python literal subset.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    Seq(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

struct LiteralParser<'a> {
    text: &'a [u8],
    pos: usize,
    base: u64,
    /// Version 3.0 headers are UTF-8; earlier ones are Latin-1.
    utf8: bool,
}

impl LiteralParser<'_> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::BadHeader {
            offset: self.base + u64::try_from(self.pos).unwrap_or(0),
            message: message.into(),
        }
    }

    fn skip_space(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Error> {
        self.skip_space();
        if self.text.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{}'", char::from(byte))))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, Error> {
        if depth > MAX_NESTING {
            return Err(self.error("nested too deeply"));
        }
        self.skip_space();
        let Some(&byte) = self.text.get(self.pos) else {
            return Err(self.error("unexpected end of header"));
        };
        match byte {
            b'\'' | b'"' => {
                self.pos += 1;
                let start = self.pos;
                while let Some(b) = self.text.get(self.pos).filter(|b| **b != byte) {
                    // A backslash escape (`\'`) does not end the string; its
                    // text is kept as written.
                    self.pos += if *b == b'\\' { 2 } else { 1 };
                }
                let raw = self
                    .text
                    .get(start..self.pos)
                    .ok_or_else(|| self.error("unterminated string"))?;
                self.expect(byte)?;
                let text: String = if self.utf8 {
                    String::from_utf8_lossy(raw).into_owned()
                } else {
                    raw.iter().copied().map(char::from).collect()
                };
                Ok(Literal::Str(unescape(&text)))
            }
            b'{' | b'(' | b'[' => {
                self.pos += 1;
                let close = match byte {
                    b'{' => b'}',
                    b'(' => b')',
                    _ => b']',
                };
                let mut items = Vec::new();
                let mut pairs = Vec::new();
                loop {
                    self.skip_space();
                    if self.text.get(self.pos) == Some(&close) {
                        self.pos += 1;
                        break;
                    }
                    if items.len() + pairs.len() > MAX_DIMS * 64 {
                        return Err(self.error("too many items"));
                    }
                    let item = self.value(depth + 1)?;
                    if byte == b'{' {
                        self.expect(b':')?;
                        let value = self.value(depth + 1)?;
                        pairs.push((item, value));
                    } else {
                        items.push(item);
                    }
                    self.skip_space();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b) if *b == close => {}
                        _ => {
                            return Err(
                                self.error(format!("expected ',' or '{}'", char::from(close)))
                            );
                        }
                    }
                }
                Ok(if byte == b'{' {
                    Literal::Dict(pairs)
                } else {
                    Literal::Seq(items)
                })
            }
            _ => {
                let start = self.pos;
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
                {
                    self.pos += 1;
                }
                let word = std::str::from_utf8(self.text.get(start..self.pos).unwrap_or_default())
                    .unwrap_or_default();
                let literal = match word {
                    "True" => Some(Literal::Bool(true)),
                    "False" => Some(Literal::Bool(false)),
                    "None" => Some(Literal::None),
                    _ => word.trim_end_matches('L').parse().ok().map(Literal::Int),
                };
                literal.ok_or_else(|| {
                    // Report where the unexpected text starts.
                    self.pos = start;
                    if word.is_empty() {
                        self.error(format!(
                            "unexpected character '{}' (expected a Python literal)",
                            char::from(byte).escape_default()
                        ))
                    } else {
                        self.error(format!(
                            "unexpected '{word}' (expected a string, number, tuple, list, dict, True, False or None)"
                        ))
                    }
                })
            }
        }
    }
}

/// Undo Python's string escapes (`\\`, `\'`, `\n`, `\xe9`, `\u2603`…);
/// an unknown escape is kept as written, as Python does.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(escape) = chars.next() else {
            out.push(c);
            break;
        };
        let hex_digits = match escape {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_digits > 0 {
            let rest = chars.as_str();
            let code = rest
                .get(..hex_digits)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32);
            if let Some(decoded) = code {
                out.push(decoded);
                chars = rest.get(hex_digits..).unwrap_or_default().chars();
                continue;
            }
        }
        match escape {
            '\\' | '\'' | '"' => out.push(escape),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// A string as Python's `repr()` writes it (so [`Descr`]'s text matches
/// numpy's `str(descr)`).
fn python_repr(text: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    write!(f, "{quote}")?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if u32::from(c) < 0x20 || u32::from(c) == 0x7f => {
                write!(f, "\\x{:02x}", u32::from(c))?;
            }
            c => write!(f, "{c}")?,
        }
    }
    write!(f, "{quote}")
}

fn parse_type_string(text: &str) -> Option<Descr> {
    let mut chars = text.chars();
    let first = chars.next()?;
    let (byteorder, rest) = if matches!(first, '<' | '>' | '|' | '=') {
        (first, chars.as_str())
    } else {
        ('=', text)
    };
    let mut rest_chars = rest.chars();
    let kind = rest_chars.next()?;
    if !"biufcmMOSUVa".contains(kind) {
        return None;
    }
    let digits: String = rest_chars
        .as_str()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let size = if kind == 'O' && digits.is_empty() {
        8
    } else {
        digits.parse().ok()?
    };
    Some(Descr::Simple {
        byteorder,
        kind: if kind == 'a' { 'S' } else { kind },
        size,
        text: text.to_string(),
    })
}

fn descr_of(literal: &Literal, parser: &LiteralParser<'_>, depth: usize) -> Result<Descr, Error> {
    if depth > MAX_NESTING {
        return Err(parser.error("dtype nested too deeply"));
    }
    match literal {
        Literal::Str(text) => {
            parse_type_string(text).ok_or_else(|| parser.error(format!("unknown dtype '{text}'")))
        }
        Literal::Seq(fields) => fields
            .iter()
            .map(|field| {
                let Literal::Seq(parts) = field else {
                    return Err(parser.error("structured dtype fields must be tuples"));
                };
                let name = match parts.first() {
                    Some(Literal::Str(name)) => name.clone(),
                    Some(Literal::Seq(title_name)) => match title_name.get(1) {
                        Some(Literal::Str(name)) => name.clone(),
                        _ => return Err(parser.error("bad field title")),
                    },
                    _ => return Err(parser.error("structured dtype field needs a name")),
                };
                let descr = descr_of(
                    parts
                        .get(1)
                        .ok_or_else(|| parser.error("field without a type"))?,
                    parser,
                    depth + 1,
                )?;
                let shape = match parts.get(2) {
                    Some(Literal::Seq(dims)) => shape_of(dims, parser)?,
                    Some(Literal::Int(n)) => {
                        vec![u64::try_from(*n).map_err(|_| parser.error("negative field shape"))?]
                    }
                    _ => Vec::new(),
                };
                Ok(Field { name, descr, shape })
            })
            .collect::<Result<_, _>>()
            .map(Descr::Structured),
        _ => Err(parser.error("'descr' must be a type string or a list of fields")),
    }
}

fn shape_of(dims: &[Literal], parser: &LiteralParser<'_>) -> Result<Vec<u64>, Error> {
    if dims.len() > MAX_DIMS {
        return Err(parser.error(format!("more than {MAX_DIMS} dimensions")));
    }
    dims.iter()
        .map(|d| match d {
            Literal::Int(n) => {
                u64::try_from(*n).map_err(|_| parser.error(format!("negative dimension {n}")))
            }
            _ => Err(parser.error("dimensions must be integers")),
        })
        .collect()
}

impl Npy {
    /// Parse the header of a `.npy` file and check that the data fits.
    pub fn parse(bytes: &[u8]) -> Result<Npy, Error> {
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if bytes.get(..6) != Some(MAGIC.as_slice()) {
            return Err(Error::BadMagic);
        }
        let (major, minor) = match bytes.get(6..8) {
            Some([major, minor]) => (*major, *minor),
            _ => {
                return Err(Error::Truncated {
                    what: "version",
                    needed: 8,
                    size,
                });
            }
        };
        let (header_len, header_start) = match major {
            1 => match bytes.get(8..10) {
                Some([a, b]) => (u64::from(u16::from_le_bytes([*a, *b])), 10u64),
                _ => {
                    return Err(Error::Truncated {
                        what: "header length",
                        needed: 10,
                        size,
                    });
                }
            },
            2 | 3 => match bytes.get(8..12) {
                Some([a, b, c, d]) => (u64::from(u32::from_le_bytes([*a, *b, *c, *d])), 12u64),
                _ => {
                    return Err(Error::Truncated {
                        what: "header length",
                        needed: 12,
                        size,
                    });
                }
            },
            _ => return Err(Error::UnsupportedVersion { major, minor }),
        };
        if header_len > MAX_HEADER_BYTES {
            return Err(Error::BadHeader {
                offset: 8,
                message: format!(
                    "header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit"
                ),
            });
        }
        let data_offset = header_start + header_len;
        let header = usize::try_from(header_start)
            .ok()
            .zip(usize::try_from(data_offset).ok())
            .and_then(|(s, e)| bytes.get(s..e))
            .ok_or(Error::Truncated {
                what: "header",
                needed: data_offset,
                size,
            })?;
        let mut parser = LiteralParser {
            text: header,
            pos: 0,
            utf8: major >= 3,
            base: header_start,
        };
        let Literal::Dict(pairs) = parser.value(0)? else {
            return Err(parser.error("header must be a dict"));
        };
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == Literal::Str(key.to_string()))
                .map(|(_, v)| v)
        };
        let descr = descr_of(
            get("descr").ok_or_else(|| parser.error("missing 'descr'"))?,
            &parser,
            0,
        )?;
        let fortran_order = match get("fortran_order") {
            Some(Literal::Bool(b)) => *b,
            _ => return Err(parser.error("missing boolean 'fortran_order'")),
        };
        let shape = match get("shape") {
            Some(Literal::Seq(dims)) => shape_of(dims, &parser)?,
            _ => return Err(parser.error("missing tuple 'shape'")),
        };
        let n_elements = shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
            .ok_or_else(|| parser.error("shape overflows 64 bits"))?;
        let item_size = descr.item_size();
        let is_object = descr.has_objects();
        if !is_object {
            let data_len = item_size
                .and_then(|s| s.checked_mul(n_elements))
                .ok_or_else(|| parser.error("data size overflows 64 bits"))?;
            let needed = data_offset
                .checked_add(data_len)
                .ok_or_else(|| parser.error("data size overflows 64 bits"))?;
            if needed > size {
                return Err(Error::Truncated {
                    what: "array data",
                    needed,
                    size,
                });
            }
        }
        Ok(Npy {
            version: (major, minor),
            descr,
            fortran_order,
            shape,
            header_len,
            data_offset,
            item_size,
            n_elements,
            is_object,
            payload_offset: data_offset,
        })
    }
}

/// A `.npz` archive: named arrays, each parsed or with its error.
#[derive(Debug, Clone, PartialEq)]
pub struct Npz {
    /// Array name (member name without `.npy`) and its header.
    pub arrays: Vec<(String, Result<Npy, Error>)>,
}

impl Npz {
    /// Parse every member of an `.npz` (stored or deflated) within `limits`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Npz, Error> {
        let zip = ZipArchive::parse(bytes)?;
        if zip.members().len() > limits.max_members {
            return Err(modelgate_archive::Error::TooManyMembers {
                count: u64::try_from(zip.members().len()).unwrap_or(u64::MAX),
                max: u64::try_from(limits.max_members).unwrap_or(u64::MAX),
            }
            .into());
        }
        let arrays = zip
            .members()
            .iter()
            .map(|member| {
                let name = member
                    .name
                    .strip_suffix(".npy")
                    .unwrap_or(&member.name)
                    .to_string();
                let parsed = zip
                    .read(bytes, member, limits)
                    .map_err(Error::from)
                    .and_then(|data| Npy::parse(&data));
                (name, parsed)
            })
            .collect();
        Ok(Npz { arrays })
    }
}
