//! Opcodes and the disassembler.

use crate::Error;

/// How an opcode's argument is encoded in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    None,
    /// Text line: decimal integer (`INT`, `GET`, `PUT`).
    DecimalShort,
    /// Text line: decimal long with optional `L`.
    DecimalLong,
    /// Text line: float repr.
    FloatText,
    /// Text line: quoted Python 2 string repr.
    QuotedString,
    /// Text line: raw-unicode-escape.
    UnicodeLine,
    /// Text line without escapes (`PERSID`).
    LineNoEscape,
    /// Two text lines: module and name (`GLOBAL`, `INST`).
    LinePair,
    U8,
    U16,
    U32,
    I32,
    U64,
    Float8,
    Long1,
    Long4,
    Bytes1,
    Bytes4,
    Bytes8,
    String1,
    String4,
    Unicode1,
    Unicode4,
    Unicode8,
}

macro_rules! opcodes {
    ($($variant:ident = $byte:literal, $name:literal, $kind:ident, $proto:literal;)*) => {
        /// A pickle opcode (every opcode of protocols 0 to 5).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        #[non_exhaustive]
        pub enum Opcode { $($variant),* }

        impl Opcode {
            /// Every opcode.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$variant),*];

            /// The opcode a byte stands for.
            #[inline]
            // A u8 indexes a 256-entry table: the index is always in range.
            #[allow(clippy::indexing_slicing)]
            pub fn from_byte(byte: u8) -> Option<Opcode> {
                // One table lookup: this runs once per opcode of every stream.
                const TABLE: [Option<Opcode>; 256] = {
                    let mut table = [None; 256];
                    $(table[$byte as usize] = Some(Opcode::$variant);)*
                    table
                };
                TABLE[usize::from(byte)]
            }

            /// The byte that encodes it.
            pub fn byte(self) -> u8 {
                match self { $(Opcode::$variant => $byte),* }
            }

            /// Its name in CPython's `pickletools` (`STACK_GLOBAL`).
            pub fn name(self) -> &'static str {
                match self { $(Opcode::$variant => $name),* }
            }

            /// The protocol that introduced it.
            pub fn protocol(self) -> u8 {
                match self { $(Opcode::$variant => $proto),* }
            }

            #[inline]
            fn arg_kind(self) -> ArgKind {
                match self { $(Opcode::$variant => ArgKind::$kind),* }
            }
        }
    };
}

opcodes! {
    Mark = b'(', "MARK", None, 0;
    Stop = b'.', "STOP", None, 0;
    Pop = b'0', "POP", None, 0;
    PopMark = b'1', "POP_MARK", None, 1;
    Dup = b'2', "DUP", None, 0;
    Float = b'F', "FLOAT", FloatText, 0;
    Int = b'I', "INT", DecimalShort, 0;
    BinInt = b'J', "BININT", I32, 1;
    BinInt1 = b'K', "BININT1", U8, 1;
    Long = b'L', "LONG", DecimalLong, 0;
    BinInt2 = b'M', "BININT2", U16, 1;
    None = b'N', "NONE", None, 0;
    PersId = b'P', "PERSID", LineNoEscape, 0;
    BinPersId = b'Q', "BINPERSID", None, 1;
    Reduce = b'R', "REDUCE", None, 0;
    String = b'S', "STRING", QuotedString, 0;
    BinString = b'T', "BINSTRING", String4, 1;
    ShortBinString = b'U', "SHORT_BINSTRING", String1, 1;
    Unicode = b'V', "UNICODE", UnicodeLine, 0;
    BinUnicode = b'X', "BINUNICODE", Unicode4, 1;
    Append = b'a', "APPEND", None, 0;
    Build = b'b', "BUILD", None, 0;
    Global = b'c', "GLOBAL", LinePair, 0;
    Dict = b'd', "DICT", None, 0;
    EmptyDict = b'}', "EMPTY_DICT", None, 1;
    Appends = b'e', "APPENDS", None, 1;
    Get = b'g', "GET", DecimalShort, 0;
    BinGet = b'h', "BINGET", U8, 1;
    Inst = b'i', "INST", LinePair, 0;
    LongBinGet = b'j', "LONG_BINGET", U32, 1;
    List = b'l', "LIST", None, 0;
    EmptyList = b']', "EMPTY_LIST", None, 1;
    Obj = b'o', "OBJ", None, 1;
    Put = b'p', "PUT", DecimalShort, 0;
    BinPut = b'q', "BINPUT", U8, 1;
    LongBinPut = b'r', "LONG_BINPUT", U32, 1;
    SetItem = b's', "SETITEM", None, 0;
    Tuple = b't', "TUPLE", None, 0;
    EmptyTuple = b')', "EMPTY_TUPLE", None, 1;
    SetItems = b'u', "SETITEMS", None, 1;
    BinFloat = b'G', "BINFLOAT", Float8, 1;
    Proto = 0x80, "PROTO", U8, 2;
    NewObj = 0x81, "NEWOBJ", None, 2;
    Ext1 = 0x82, "EXT1", U8, 2;
    Ext2 = 0x83, "EXT2", U16, 2;
    Ext4 = 0x84, "EXT4", I32, 2;
    Tuple1 = 0x85, "TUPLE1", None, 2;
    Tuple2 = 0x86, "TUPLE2", None, 2;
    Tuple3 = 0x87, "TUPLE3", None, 2;
    NewTrue = 0x88, "NEWTRUE", None, 2;
    NewFalse = 0x89, "NEWFALSE", None, 2;
    Long1 = 0x8a, "LONG1", Long1, 2;
    Long4 = 0x8b, "LONG4", Long4, 2;
    BinBytes = b'B', "BINBYTES", Bytes4, 3;
    ShortBinBytes = b'C', "SHORT_BINBYTES", Bytes1, 3;
    ShortBinUnicode = 0x8c, "SHORT_BINUNICODE", Unicode1, 4;
    BinUnicode8 = 0x8d, "BINUNICODE8", Unicode8, 4;
    BinBytes8 = 0x8e, "BINBYTES8", Bytes8, 4;
    EmptySet = 0x8f, "EMPTY_SET", None, 4;
    AddItems = 0x90, "ADDITEMS", None, 4;
    FrozenSet = 0x91, "FROZENSET", None, 4;
    NewObjEx = 0x92, "NEWOBJ_EX", None, 4;
    StackGlobal = 0x93, "STACK_GLOBAL", None, 4;
    Memoize = 0x94, "MEMOIZE", None, 4;
    Frame = 0x95, "FRAME", U64, 4;
    ByteArray8 = 0x96, "BYTEARRAY8", Bytes8, 5;
    NextBuffer = 0x97, "NEXT_BUFFER", None, 5;
    ReadonlyBuffer = 0x98, "READONLY_BUFFER", None, 5;
}

/// Longest text-line argument read (a module or class name, a number).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Bytes of a binary string kept in [`Arg::Bytes`] (the full length is
/// recorded; payloads such as inline tensor data are not copied).
pub const BYTES_KEPT: usize = 256;
/// Most opcodes in one stream (all its pickles together).
pub const MAX_OPS: usize = 10_000_000;
/// Most pickles read back to back from one stream.
pub const MAX_PICKLES: usize = 100_000;
/// Longest `LONG1`/`LONG4` integer converted to decimal, in bytes; longer
/// ones are recorded by size (`<5000-byte integer>`), since conversion is
/// quadratic in the length.
pub const MAX_LONG_BYTES: usize = 64;

/// An opcode's decoded argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// No argument.
    None,
    /// An integer (`INT`, `BININT*`, and `LONG*` values that fit).
    Int(i64),
    /// A boolean from protocol 0's `INT 00`/`INT 01`.
    Bool(bool),
    /// An integer too large for `i64`, in decimal.
    BigInt(String),
    /// A float.
    Float(f64),
    /// A text string (`UNICODE`, `BINUNICODE*`, and Python 2 strings
    /// decoded as Latin-1 as Python 3 does by default).
    Str(String),
    /// A byte string: its length and its first [`BYTES_KEPT`] bytes.
    Bytes {
        /// Full length.
        len: u64,
        /// The first bytes.
        head: Vec<u8>,
        /// Offset of the payload in the stream.
        offset: u64,
    },
    /// `GLOBAL`/`INST` module and name.
    Global {
        /// Module.
        module: String,
        /// Qualified name.
        name: String,
    },
    /// Memo index (`GET`, `PUT` and variants).
    Index(u64),
    /// `PROTO` version.
    Protocol(u8),
    /// `FRAME` length.
    FrameLen(u64),
    /// Extension registry code (`EXT1/2/4`).
    Ext(u32),
    /// `PERSID` text.
    PersistentId(String),
}

/// One decoded opcode.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// Byte offset of the opcode in the input.
    pub pos: u64,
    /// The opcode.
    pub opcode: Opcode,
    /// Its argument.
    pub arg: Arg,
}

/// One pickle: the opcodes from its first byte to its `STOP`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pickle {
    /// Offset of its first opcode.
    pub start: u64,
    /// Offset just past its `STOP` (or where reading stopped).
    pub end: u64,
    /// The protocol declared by `PROTO`, if any.
    pub protocol: Option<u8>,
    /// The opcodes.
    pub ops: Vec<Op>,
}

/// The result of reading a stream of pickles: every complete pickle, and
/// when reading stopped early, the partial one and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Disassembly {
    /// Complete pickles, then (if `error` is set) the partial one.
    pub pickles: Vec<Pickle>,
    /// Why reading stopped before the end of the input.
    pub error: Option<Error>,
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, opcode: Opcode, at: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let slice = end
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or(Error::Truncated {
                offset: to_u64(at),
                opcode: opcode.name(),
                needed: to_u64(n),
                available: to_u64(self.bytes.len().saturating_sub(self.pos)),
            })?;
        self.pos += n;
        Ok(slice)
    }

    fn fixed<const N: usize>(&mut self, opcode: Opcode, at: usize) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, opcode, at)?);
        Ok(out)
    }

    fn line(&mut self, opcode: Opcode, at: usize) -> Result<&'a [u8], Error> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let window = rest
            .get(..MAX_LINE_BYTES.min(rest.len()))
            .unwrap_or_default();
        let Some(len) = window.iter().position(|b| *b == b'\n') else {
            if rest.len() < MAX_LINE_BYTES {
                return Err(Error::Truncated {
                    offset: to_u64(at),
                    opcode: opcode.name(),
                    needed: to_u64(rest.len()) + 1,
                    available: to_u64(rest.len()),
                });
            }
            return Err(Error::BadArgument {
                offset: to_u64(at),
                opcode: opcode.name(),
                message: format!(
                    "expected a newline-terminated argument within {MAX_LINE_BYTES} bytes"
                ),
            });
        };
        let line = rest.get(..len).unwrap_or_default();
        self.pos += len + 1;
        Ok(line)
    }

    fn length(&mut self, raw: u64, opcode: Opcode, at: usize) -> Result<usize, Error> {
        let available = to_u64(self.bytes.len().saturating_sub(self.pos));
        if raw > available {
            return Err(Error::Truncated {
                offset: to_u64(at),
                opcode: opcode.name(),
                needed: raw,
                available,
            });
        }
        usize::try_from(raw).map_err(|_| Error::Truncated {
            offset: to_u64(at),
            opcode: opcode.name(),
            needed: raw,
            available,
        })
    }
}

fn bad(at: usize, opcode: Opcode, message: impl Into<String>) -> Error {
    Error::BadArgument {
        offset: to_u64(at),
        opcode: opcode.name(),
        message: message.into(),
    }
}

fn decode_long(bytes: &[u8]) -> Arg {
    // Little-endian two's complement.
    if bytes.is_empty() {
        return Arg::Int(0);
    }
    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
    if bytes.len() <= 8 {
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf.get_mut(..bytes.len())
            .unwrap_or_default()
            .copy_from_slice(bytes);
        return Arg::Int(i64::from_le_bytes(buf));
    }
    if bytes.len() > MAX_LONG_BYTES {
        return Arg::BigInt(format!("<{}-byte integer>", bytes.len()));
    }
    // Magnitude, most significant byte first.
    let mut magnitude: Vec<u8> = bytes.iter().rev().copied().collect();
    if negative {
        for b in magnitude.iter_mut() {
            *b = !*b;
        }
        for b in magnitude.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Repeated division by 10^9, collecting base-10^9 digits.
    let mut chunks = Vec::new();
    while magnitude.iter().any(|b| *b != 0) {
        let mut remainder = 0u64;
        for b in magnitude.iter_mut() {
            let current = (remainder << 8) | u64::from(*b);
            *b = u8::try_from(current / 1_000_000_000).unwrap_or(u8::MAX);
            remainder = current % 1_000_000_000;
        }
        chunks.push(remainder);
    }
    let mut text = String::from(if negative { "-" } else { "" });
    for (i, chunk) in chunks.iter().rev().enumerate() {
        if i == 0 {
            text.push_str(&chunk.to_string());
        } else {
            text.push_str(&format!("{chunk:09}"));
        }
    }
    if chunks.is_empty() {
        text.push('0');
    }
    match text.parse::<i64>() {
        Ok(value) => Arg::Int(value),
        Err(_) => Arg::BigInt(text),
    }
}

fn parse_int_text(text: &str) -> Option<Arg> {
    let trimmed = text.trim().trim_end_matches('L');
    trimmed
        .parse::<i64>()
        .map(Arg::Int)
        .ok()
        .or_else(|| {
            trimmed
                .parse::<i128>()
                .ok()
                .map(|v| Arg::BigInt(v.to_string()))
        })
        .or_else(|| {
            let digits = trimmed.strip_prefix('-').unwrap_or(trimmed);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| Arg::BigInt(trimmed.to_string()))
        })
}

/// Decode Python 2's `repr` of a string (protocol 0 `STRING`) as
/// `codecs.escape_decode` does; bytes map to characters as Latin-1.
fn unquote(line: &[u8]) -> Option<String> {
    let (&quote, rest) = line.split_first()?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let body = rest.strip_suffix(&[quote])?;
    let mut out = Vec::with_capacity(body.len());
    let mut iter = body.iter().copied();
    while let Some(b) = iter.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match iter.next()? {
            b'\n' => {}
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'x' => {
                let hex = [iter.next()?, iter.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            d @ b'0'..=b'7' => {
                let mut value = u32::from(d - b'0');
                for _ in 0..2 {
                    match iter.clone().next() {
                        Some(n @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(n - b'0');
                            iter.next();
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(value & 0xff).ok()?);
            }
            other @ (b'\\' | b'\'' | b'"') => out.push(other),
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out.iter().map(|b| char::from(*b)).collect())
}

/// Decode raw-unicode-escape (protocol 0 `UNICODE`): `\uXXXX` and
/// `\UXXXXXXXX` escapes; every other byte is Latin-1.
fn raw_unicode_escape(line: &[u8]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        if b == b'\\' {
            let width = match line.get(i + 1) {
                Some(b'u') => 4,
                Some(b'U') => 8,
                _ => 0,
            };
            if width > 0
                && let Some(c) = line
                    .get(i + 2..i + 2 + width)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .and_then(char::from_u32)
            {
                out.push(c);
                i += 2 + width;
                continue;
            }
        }
        out.push(char::from(b));
        i += 1;
    }
    out
}

fn utf8(bytes: &[u8], at: usize, opcode: Opcode) -> Result<String, Error> {
    // Python writes surrogates with "surrogatepass"; decode lossily rather than fail.
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let _ = (at, opcode);
            String::from_utf8_lossy(bytes).into_owned()
        }
    })
}

fn bytes_arg(payload: &[u8], offset: usize) -> Arg {
    Arg::Bytes {
        len: to_u64(payload.len()),
        head: payload
            .get(..BYTES_KEPT.min(payload.len()))
            .unwrap_or_default()
            .to_vec(),
        offset: to_u64(offset),
    }
}

/// Read one opcode at `r.pos`.
fn read_op(r: &mut Reader<'_>) -> Result<Op, Error> {
    let at = r.pos;
    let byte = *r.bytes.get(at).ok_or(Error::Truncated {
        offset: to_u64(at),
        opcode: "opcode",
        needed: 1,
        available: 0,
    })?;
    let opcode = Opcode::from_byte(byte).ok_or(Error::UnknownOpcode {
        offset: to_u64(at),
        byte,
    })?;
    r.pos += 1;
    let text = |line: &[u8]| String::from_utf8_lossy(line).into_owned();
    let arg = match opcode.arg_kind() {
        ArgKind::None => Arg::None,
        ArgKind::U8 => {
            let [v] = r.fixed::<1>(opcode, at)?;
            match opcode {
                Opcode::Proto => Arg::Protocol(v),
                Opcode::Ext1 => Arg::Ext(u32::from(v)),
                Opcode::BinGet | Opcode::BinPut => Arg::Index(u64::from(v)),
                _ => Arg::Int(i64::from(v)),
            }
        }
        ArgKind::U16 => {
            let v = u16::from_le_bytes(r.fixed(opcode, at)?);
            if opcode == Opcode::Ext2 {
                Arg::Ext(u32::from(v))
            } else {
                Arg::Int(i64::from(v))
            }
        }
        ArgKind::U32 => Arg::Index(u64::from(u32::from_le_bytes(r.fixed(opcode, at)?))),
        ArgKind::I32 => {
            let v = i32::from_le_bytes(r.fixed(opcode, at)?);
            if opcode == Opcode::Ext4 {
                Arg::Ext(
                    u32::try_from(v)
                        .map_err(|_| bad(at, opcode, format!("negative extension code {v}")))?,
                )
            } else {
                Arg::Int(i64::from(v))
            }
        }
        ArgKind::U64 => {
            let v = u64::from_le_bytes(r.fixed(opcode, at)?);
            let available = to_u64(r.bytes.len().saturating_sub(r.pos));
            if v > available {
                return Err(Error::Truncated {
                    offset: to_u64(at),
                    opcode: opcode.name(),
                    needed: v,
                    available,
                });
            }
            Arg::FrameLen(v)
        }
        ArgKind::Float8 => Arg::Float(f64::from_be_bytes(r.fixed(opcode, at)?)),
        ArgKind::Long1 | ArgKind::Long4 => {
            let n = if opcode == Opcode::Long1 {
                u64::from(r.fixed::<1>(opcode, at)?[0])
            } else {
                let n = i32::from_le_bytes(r.fixed(opcode, at)?);
                u64::try_from(n).map_err(|_| bad(at, opcode, format!("negative length {n}")))?
            };
            let n = r.length(n, opcode, at)?;
            decode_long(r.take(n, opcode, at)?)
        }
        ArgKind::Bytes1
        | ArgKind::Bytes4
        | ArgKind::Bytes8
        | ArgKind::String1
        | ArgKind::String4
        | ArgKind::Unicode1
        | ArgKind::Unicode4
        | ArgKind::Unicode8 => {
            let kind = opcode.arg_kind();
            let n = match kind {
                ArgKind::Bytes1 | ArgKind::String1 | ArgKind::Unicode1 => {
                    u64::from(r.fixed::<1>(opcode, at)?[0])
                }
                ArgKind::Bytes8 | ArgKind::Unicode8 => u64::from_le_bytes(r.fixed(opcode, at)?),
                ArgKind::String4 => {
                    let n = i32::from_le_bytes(r.fixed(opcode, at)?);
                    u64::try_from(n).map_err(|_| bad(at, opcode, format!("negative length {n}")))?
                }
                _ => u64::from(u32::from_le_bytes(r.fixed(opcode, at)?)),
            };
            let n = r.length(n, opcode, at)?;
            let offset = r.pos;
            let payload = r.take(n, opcode, at)?;
            match kind {
                ArgKind::Unicode1 | ArgKind::Unicode4 | ArgKind::Unicode8 => {
                    Arg::Str(utf8(payload, at, opcode)?)
                }
                // Python 3 decodes Python 2 strings as ASCII/Latin-1 by default.
                ArgKind::String1 | ArgKind::String4 => {
                    Arg::Str(payload.iter().map(|b| char::from(*b)).collect())
                }
                _ => bytes_arg(payload, offset),
            }
        }
        ArgKind::DecimalShort => {
            let line = r.line(opcode, at)?;
            let text = text(line);
            match opcode {
                Opcode::Int if text == "00" => Arg::Bool(false),
                Opcode::Int if text == "01" => Arg::Bool(true),
                Opcode::Get | Opcode::Put => Arg::Index(text.trim().parse().map_err(|_| {
                    bad(at, opcode, format!("memo index '{text}' is not a number"))
                })?),
                _ => parse_int_text(&text)
                    .ok_or_else(|| bad(at, opcode, format!("'{text}' is not an integer")))?,
            }
        }
        ArgKind::DecimalLong => {
            let text = text(r.line(opcode, at)?);
            parse_int_text(&text)
                .ok_or_else(|| bad(at, opcode, format!("'{text}' is not an integer")))?
        }
        ArgKind::FloatText => {
            let text = text(r.line(opcode, at)?);
            Arg::Float(
                text.trim()
                    .parse()
                    .map_err(|_| bad(at, opcode, format!("'{text}' is not a float")))?,
            )
        }
        ArgKind::QuotedString => {
            let line = r.line(opcode, at)?;
            Arg::Str(unquote(line).ok_or_else(|| bad(at, opcode, "expected a quoted string"))?)
        }
        ArgKind::UnicodeLine => Arg::Str(raw_unicode_escape(r.line(opcode, at)?)),
        ArgKind::LineNoEscape => Arg::PersistentId(text(r.line(opcode, at)?)),
        ArgKind::LinePair => {
            let module = text(r.line(opcode, at)?);
            let name = text(r.line(opcode, at)?);
            Arg::Global { module, name }
        }
    };
    Ok(Op {
        pos: to_u64(at),
        opcode,
        arg,
    })
}

/// Step over the opcode at `pos` without decoding its argument: the
/// opcode, the memo index it fetches (for `GET` and its variants) and the
/// position just past it. `None` where [`op_at`] would fail.
#[inline]
pub(crate) fn skim_at(bytes: &[u8], pos: usize) -> Option<(Opcode, Option<u64>, usize)> {
    let opcode = Opcode::from_byte(*bytes.get(pos)?)?;
    let arg = pos + 1;
    let fixed = |n: usize| arg.checked_add(n).filter(|end| *end <= bytes.len());
    let le = |n: usize| -> Option<u64> {
        let raw = bytes.get(arg..arg.checked_add(n)?)?;
        Some(
            raw.iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        )
    };
    let counted = |width: usize| -> Option<usize> {
        let n = usize::try_from(le(width)?).ok()?;
        arg.checked_add(width)?
            .checked_add(n)
            .filter(|end| *end <= bytes.len())
    };
    let line_end = |from: usize| -> Option<usize> {
        let rest = bytes.get(from..)?;
        let window = rest.get(..MAX_LINE_BYTES.min(rest.len()))?;
        Some(from + window.iter().position(|b| *b == b'\n')? + 1)
    };
    let next = match opcode.arg_kind() {
        ArgKind::None => Some(arg),
        ArgKind::U8 => fixed(1),
        ArgKind::U16 => fixed(2),
        ArgKind::U32 | ArgKind::I32 => fixed(4),
        ArgKind::U64 | ArgKind::Float8 => fixed(8),
        ArgKind::Long1 | ArgKind::Bytes1 | ArgKind::String1 | ArgKind::Unicode1 => counted(1),
        ArgKind::Long4 | ArgKind::Bytes4 | ArgKind::String4 | ArgKind::Unicode4 => counted(4),
        ArgKind::Bytes8 | ArgKind::Unicode8 => counted(8),
        ArgKind::LinePair => line_end(arg).and_then(line_end),
        ArgKind::DecimalShort
        | ArgKind::DecimalLong
        | ArgKind::FloatText
        | ArgKind::QuotedString
        | ArgKind::UnicodeLine
        | ArgKind::LineNoEscape => line_end(arg),
    }?;
    let fetched = match opcode {
        Opcode::BinGet => le(1),
        Opcode::LongBinGet => le(4),
        Opcode::Get => std::str::from_utf8(bytes.get(arg..next.checked_sub(1)?)?)
            .ok()?
            .trim()
            .parse()
            .ok(),
        _ => None,
    };
    Some((opcode, fetched, next))
}

/// Decode the opcode at `pos`: the opcode and the position just past it.
pub(crate) fn op_at(bytes: &[u8], pos: usize) -> Result<(Op, usize), Error> {
    let mut r = Reader { bytes, pos };
    let op = read_op(&mut r)?;
    Ok((op, r.pos))
}

/// Read one pickle starting at `start`. On failure, the partial pickle
/// (every opcode read before the problem) comes back with the error.
pub fn disassemble_one(bytes: &[u8], start: usize) -> Result<Pickle, Box<(Pickle, Error)>> {
    let mut r = Reader { bytes, pos: start };
    let mut pickle = Pickle {
        start: to_u64(start),
        end: to_u64(start),
        protocol: None,
        ops: Vec::new(),
    };
    loop {
        if pickle.ops.len() >= MAX_OPS {
            let error = Error::LimitExceeded {
                offset: to_u64(r.pos),
                what: format!("more than {MAX_OPS} opcodes"),
            };
            pickle.end = to_u64(r.pos);
            return Err(Box::new((pickle, error)));
        }
        match read_op(&mut r) {
            Ok(op) => {
                if let (Opcode::Proto, Arg::Protocol(p)) = (op.opcode, &op.arg)
                    && pickle.protocol.is_none()
                {
                    pickle.protocol = Some(*p);
                }
                let stop = op.opcode == Opcode::Stop;
                pickle.ops.push(op);
                if stop {
                    pickle.end = to_u64(r.pos);
                    return Ok(pickle);
                }
            }
            Err(error) => {
                pickle.end = to_u64(r.pos);
                return Err(Box::new((pickle, error)));
            }
        }
    }
}

/// Read every pickle in a stream, back to back, keeping what was read
/// before any problem.
pub fn disassemble_all(bytes: &[u8]) -> Disassembly {
    let mut pickles = Vec::new();
    let mut pos = 0usize;
    let mut total_ops = 0usize;
    while pos < bytes.len() {
        if pickles.len() >= MAX_PICKLES {
            return Disassembly {
                pickles,
                error: Some(Error::LimitExceeded {
                    offset: to_u64(pos),
                    what: format!("more than {MAX_PICKLES} pickles in one stream"),
                }),
            };
        }
        match disassemble_one(bytes, pos) {
            Ok(pickle) => {
                pos = usize::try_from(pickle.end).unwrap_or(usize::MAX);
                total_ops += pickle.ops.len();
                pickles.push(pickle);
                if total_ops > MAX_OPS {
                    return Disassembly {
                        pickles,
                        error: Some(Error::LimitExceeded {
                            offset: to_u64(pos),
                            what: format!("more than {MAX_OPS} opcodes"),
                        }),
                    };
                }
            }
            Err(failure) => {
                let (pickle, error) = *failure;
                pickles.push(pickle);
                return Disassembly {
                    pickles,
                    error: Some(error),
                };
            }
        }
    }
    Disassembly {
        pickles,
        error: None,
    }
}

/// Read every pickle in a stream; any problem is an error.
pub fn disassemble(bytes: &[u8]) -> Result<Vec<Pickle>, Error> {
    let disassembly = disassemble_all(bytes);
    match disassembly.error {
        Some(error) => Err(error),
        None if disassembly.pickles.is_empty() => Err(Error::Empty),
        None => Ok(disassembly.pickles),
    }
}
