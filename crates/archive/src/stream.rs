//! Compressed streams: gzip, bzip2, xz, legacy lzma and zlib.

use crate::{Error, Limits, read_bounded, to_u64};

/// A compression format recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh1`..`BZh9`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// Legacy `.lzma` ("LZMA alone", as joblib's `lzma` option writes).
    Lzma,
    /// zlib (`78 xx`, as joblib's `zlib` option writes).
    Zlib,
}

impl Compression {
    /// Lower-case name (`gzip`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zlib => "zlib",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Recognise a compressed stream by its first bytes.
pub fn detect(bytes: &[u8]) -> Option<Compression> {
    match bytes {
        [0x1f, 0x8b, 8, ..] => Some(Compression::Gzip),
        [
            b'B',
            b'Z',
            b'h',
            b'1'..=b'9',
            0x31,
            0x41,
            0x59,
            0x26,
            0x53,
            0x59,
            ..,
        ] => Some(Compression::Bzip2),
        [
            b'B',
            b'Z',
            b'h',
            b'1'..=b'9',
            0x17,
            0x72,
            0x45,
            0x38,
            0x50,
            0x90,
            ..,
        ] => Some(Compression::Bzip2),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some(Compression::Xz),
        // zlib with the 32 KiB window every writer uses, no preset
        // dictionary, and a valid FCHECK: 78 01, 78 5e, 78 9c, 78 da.
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Some(Compression::Zlib),
        [0x5d, d0, d1, d2, d3, size @ ..] if size.len() >= 8 => {
            // LZMA alone: properties 0x5d (lc=3, lp=0, pb=2), a dictionary
            // size that is 2^n or 2^n + 2^(n-1), then a 64-bit size that is
            // unknown (all ones) or plausible.
            let dict = u32::from_le_bytes([*d0, *d1, *d2, *d3]);
            let dict_ok = dict >= 4096
                && (dict.is_power_of_two()
                    || (dict - (1 << (31 - dict.leading_zeros()))).is_power_of_two());
            let size_bytes: [u8; 8] = size.get(..8)?.try_into().ok()?;
            let size = u64::from_le_bytes(size_bytes);
            (dict_ok && (size == u64::MAX || size < 1 << 48)).then_some(Compression::Lzma)
        }
        _ => None,
    }
}

/// Decompress a whole stream into memory within `limits`.
pub fn decompress(bytes: &[u8], kind: Compression, limits: &Limits) -> Result<Vec<u8>, Error> {
    let what = format!("{} stream", kind.name());
    let input = to_u64(bytes.len());
    match kind {
        Compression::Gzip => gunzip(bytes, &what, limits),
        Compression::Zlib => inflate_checked(bytes, true, &what, limits).map(|(out, _)| out),
        Compression::Bzip2 => read_bounded(
            bzip2::read::MultiBzDecoder::new(bytes),
            &what,
            input,
            limits,
        ),
        Compression::Xz | Compression::Lzma => {
            let mut sink = BoundedSink {
                out: Vec::new(),
                what: &what,
                input,
                limits,
                error: None,
            };
            let mut reader = std::io::BufReader::new(bytes);
            let result = match kind {
                Compression::Xz => lzma_rs::xz_decompress(&mut reader, &mut sink),
                _ => lzma_rs::lzma_decompress(&mut reader, &mut sink),
            };
            if let Some(error) = sink.error {
                return Err(error);
            }
            result.map_err(|e| Error::BadData {
                member: what.clone(),
                message: format!("decompression failed: {e}"),
            })?;
            Ok(sink.out)
        }
    }
}

/// A `Write` that stops with an error once the limits are passed.
struct BoundedSink<'a> {
    out: Vec<u8>,
    what: &'a str,
    input: u64,
    limits: &'a Limits,
    error: Option<Error>,
}

impl std::io::Write for BoundedSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let total = to_u64(self.out.len()).saturating_add(to_u64(buf.len()));
        if let Err(error) = crate::check_output(self.what, total, self.input, self.limits) {
            self.error = Some(error);
            return Err(std::io::Error::other("limit exceeded"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Inflate a raw deflate stream (zip members) within `limits`.
pub(crate) fn inflate(bytes: &[u8], what: &str, limits: &Limits) -> Result<Vec<u8>, Error> {
    inflate_checked(bytes, false, what, limits).map(|(out, _)| out)
}

/// Inflate until the deflate stream's end marker; a stream that stops
/// before it is an error (flate2's readers treat it as a clean end).
/// Returns the output and the input bytes consumed.
fn inflate_checked(
    bytes: &[u8],
    zlib: bool,
    what: &str,
    limits: &Limits,
) -> Result<(Vec<u8>, usize), Error> {
    let mut decoder = flate2::Decompress::new(zlib);
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len().saturating_mul(2).min(1 << 20));
    let input = to_u64(bytes.len());
    loop {
        if out.capacity() - out.len() < 32 * 1024 {
            out.reserve(64 * 1024);
        }
        let consumed = usize::try_from(decoder.total_in()).unwrap_or(usize::MAX);
        let rest = bytes.get(consumed..).unwrap_or_default();
        let before = (decoder.total_in(), decoder.total_out());
        let status = decoder
            .decompress_vec(rest, &mut out, flate2::FlushDecompress::None)
            .map_err(|e| Error::BadData {
                member: what.to_string(),
                message: format!("invalid deflate data: {e}"),
            })?;
        crate::check_output(what, to_u64(out.len()), input, limits)?;
        match status {
            flate2::Status::StreamEnd => {
                return Ok((
                    out,
                    usize::try_from(decoder.total_in()).unwrap_or(usize::MAX),
                ));
            }
            _ if (decoder.total_in(), decoder.total_out()) == before => {
                return Err(Error::BadData {
                    member: what.to_string(),
                    message: format!(
                        "compressed data ends early, after {} bytes (truncated file?)",
                        decoder.total_in()
                    ),
                });
            }
            _ => {}
        }
    }
}

/// Decode every member of a gzip file, checking each trailer's CRC-32 and size.
fn gunzip(bytes: &[u8], what: &str, limits: &Limits) -> Result<Vec<u8>, Error> {
    let bad = |message: String| Error::BadData {
        member: what.to_string(),
        message,
    };
    let u16_at = |at: usize| {
        bytes.get(at..at + 2).map(|b| {
            usize::from(u16::from_le_bytes([
                b.first().copied().unwrap_or(0),
                b.get(1).copied().unwrap_or(0),
            ]))
        })
    };
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut n_members = 0usize;
    while pos < bytes.len() || n_members == 0 {
        let header = bytes
            .get(pos..pos + 10)
            .ok_or_else(|| bad(format!("truncated gzip header at offset {pos}")))?;
        if header.get(..3) != Some([0x1f, 0x8b, 8].as_slice()) {
            if n_members == 0 {
                return Err(bad(format!("bad gzip magic at offset {pos}")));
            }
            break; // bytes after a complete member, as gzip(1) tolerates
        }
        let flags = header.get(3).copied().unwrap_or(0);
        let mut at = pos + 10;
        let skip_zero_terminated = |at: usize| -> Result<usize, Error> {
            let end = bytes
                .get(at..)
                .and_then(|rest| rest.iter().position(|b| *b == 0))
                .ok_or_else(|| bad("truncated gzip header field".to_string()))?;
            Ok(at + end + 1)
        };
        if flags & 0x04 != 0 {
            let len = u16_at(at).ok_or_else(|| bad("truncated gzip extra field".to_string()))?;
            at += 2 + len;
        }
        if flags & 0x08 != 0 {
            at = skip_zero_terminated(at)?;
        }
        if flags & 0x10 != 0 {
            at = skip_zero_terminated(at)?;
        }
        if flags & 0x02 != 0 {
            at += 2;
        }
        let body = bytes
            .get(at..)
            .ok_or_else(|| bad("truncated gzip header".to_string()))?;
        let remaining = Limits {
            max_member_bytes: limits.max_member_bytes.saturating_sub(to_u64(out.len())),
            ..limits.clone()
        };
        let (member, consumed) = inflate_checked(body, false, what, &remaining)?;
        let trailer: [u8; 8] = body
            .get(consumed..consumed + 8)
            .and_then(|t| t.try_into().ok())
            .ok_or_else(|| {
                bad("gzip trailer (CRC-32 and size) is missing: truncated file".to_string())
            })?;
        let mut crc = flate2::Crc::new();
        crc.update(&member);
        let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
        let stored_size = u32::from_le_bytes([s0, s1, s2, s3]);
        if crc.sum() != u32::from_le_bytes([c0, c1, c2, c3])
            || u32::try_from(member.len() % (1 << 32)).ok() != Some(stored_size)
        {
            return Err(bad(
                "gzip trailer CRC-32 or size does not match the data".to_string()
            ));
        }
        out.extend_from_slice(&member);
        n_members += 1;
        pos = at + consumed + 8;
    }
    Ok(out)
}
