//! Compressed streams: gzip, bzip2, xz, legacy lzma, zlib and lz4 frames,
//! plus joblib's legacy `ZF` files: every single-stream format
//! `joblib.dump(..., compress=...)` has ever written.

use crate::{Error, Limits, read_bounded, to_u64};

/// A compression format recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh1`..`BZh9`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// Legacy `.lzma` ("LZMA alone", as joblib's `lzma` option writes).
    Lzma,
    /// zlib (`78 xx`, as joblib's `zlib` option and `compress=N` write).
    Zlib,
    /// LZ4 frame format (`04 22 4d 18`, as joblib's `lz4` option writes
    /// through `lz4.frame.LZ4FrameFile`).
    Lz4,
    /// joblib's `ZF` file (joblib 0.9 and earlier with compression; read by
    /// every later joblib): `ZF`, the uncompressed length in hexadecimal
    /// (`0x…`) left-justified to 19 bytes, then one zlib stream. The main
    /// file holds the pickle; `<name>_NN.npy.z` side files hold raw array
    /// bytes.
    JoblibZf,
}

impl Compression {
    /// Lower-case name (`gzip`), stable in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zlib => "zlib",
            Compression::Lz4 => "lz4",
            Compression::JoblibZf => "joblib-zf",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The LZ4 frame magic number, little-endian `0x184D2204`.
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// Magic, FLG, BD and the header checksum: the smallest LZ4 frame header.
const LZ4_MIN_FRAME_HEADER: usize = 7;
/// joblib's `_MAX_LEN`, `len(hex(2**64))`: the width of the `ZF` length field.
const ZF_LENGTH_FIELD: usize = 19;
/// `ZF` and the length field.
const ZF_HEADER: usize = 2 + ZF_LENGTH_FIELD;
/// Most zlib input the sniffer inflates to confirm a two-byte zlib header.
const ZLIB_PROBE_INPUT: usize = 64 * 1024;
/// Output after which the sniffer stops inflating: a stream that decodes
/// this far without error is zlib.
const ZLIB_PROBE_OUTPUT: usize = 8 * 1024;
/// Input bytes per step of the zlib probe.
const ZLIB_PROBE_PIECE: usize = 16;
/// Output a broken stream must have produced to still count as zlib: fewer
/// bytes cannot hold a pickle that imports and calls anything.
const ZLIB_PROBE_MIN_OUTPUT: usize = 8;

/// Recognise a compressed stream by its first bytes, never by a name.
///
/// gzip, bzip2, xz and LZ4 have real magic numbers. LZMA-alone has none, so
/// its properties byte, dictionary size and declared size must all be what
/// encoders write. zlib's two-byte header is weak evidence, so the start of
/// the stream is inflated (at most 64 KiB in, 8 KiB out) and must decode
/// without error, or fail only after a few bytes of output. A `ZF` file needs a length field Python's `int(…, 16)`
/// accepts, as joblib reads it.
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
        // Frame format version 01 in the FLG byte's top two bits.
        [_, _, _, _, flg, ..] if bytes.starts_with(&LZ4_MAGIC) && flg & 0xc0 == 0x40 => {
            Some(Compression::Lz4)
        }
        [b'Z', b'F', ..] => zf_header(bytes).ok().map(|_| Compression::JoblibZf),
        // zlib with the 32 KiB window every writer uses, no preset
        // dictionary, and a valid FCHECK: 78 01, 78 5e, 78 9c, 78 da.
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => {
            zlib_start_decodes(bytes).then_some(Compression::Zlib)
        }
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

/// Whether the start of a zlib stream looks like deflate data: it inflates
/// without error (running out of input is not an error: a cut stream is
/// still zlib, and `decompress` says it is cut), or it fails only after
/// [`ZLIB_PROBE_MIN_OUTPUT`] bytes of output.
///
/// The second case keeps corrupted streams visible: joblib inflates any
/// file that starts with `0x78` and unpickles as the output arrives, so a
/// stream that carries a pickle and then breaks still runs that pickle, and
/// must be reported as a broken zlib stream rather than as an unknown file.
/// Input is fed in small pieces so the output before an error is counted.
fn zlib_start_decodes(bytes: &[u8]) -> bool {
    let input = bytes.get(..ZLIB_PROBE_INPUT).unwrap_or(bytes);
    let mut decoder = flate2::Decompress::new(true);
    let mut out = vec![0u8; ZLIB_PROBE_OUTPUT];
    loop {
        let consumed = usize::try_from(decoder.total_in()).unwrap_or(usize::MAX);
        let produced = usize::try_from(decoder.total_out()).unwrap_or(usize::MAX);
        let (Some(rest), Some(space)) = (input.get(consumed..), out.get_mut(produced..)) else {
            return true;
        };
        if space.is_empty() {
            return true;
        }
        let piece = rest.get(..ZLIB_PROBE_PIECE).unwrap_or(rest);
        let before = (decoder.total_in(), decoder.total_out());
        match decoder.decompress(piece, space, flate2::FlushDecompress::None) {
            Err(_) => return produced >= ZLIB_PROBE_MIN_OUTPUT,
            Ok(flate2::Status::StreamEnd) => return true,
            Ok(_) if (decoder.total_in(), decoder.total_out()) == before => return true,
            Ok(_) => {}
        }
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
        Compression::Lz4 => lz4_frames(bytes, &what, limits),
        Compression::JoblibZf => joblib_zf(bytes, &what, limits),
        Compression::Xz | Compression::Lzma => {
            let mut sink = BoundedSink {
                out: Vec::new(),
                what: &what,
                input,
                limits,
                error: None,
            };
            let mut reader = std::io::BufReader::new(bytes);
            // The dictionary grows with the output, never to the header's
            // declared size up front; cap it at the output limit as well.
            let options = lzma_rs::decompress::Options {
                memlimit: Some(usize::try_from(limits.max_member_bytes).unwrap_or(usize::MAX)),
                ..lzma_rs::decompress::Options::default()
            };
            let result = match kind {
                Compression::Xz => lzma_rs::xz_decompress(&mut reader, &mut sink),
                _ => lzma_rs::lzma_decompress_with_options(&mut reader, &mut sink, &options),
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

/// Decode every LZ4 frame in `bytes` (python-lz4's `LZ4FrameFile` reads
/// frames back to back), checking the block and content checksums and the
/// declared content size when the frame carries them. The decoder's buffers
/// are bounded by the frame's block size (4 MiB at most), never by the
/// declared content size.
fn lz4_frames(bytes: &[u8], what: &str, limits: &Limits) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let bad = |message: String| Error::BadData {
        member: what.to_string(),
        message,
    };
    if bytes.len() < LZ4_MIN_FRAME_HEADER {
        return Err(bad(format!(
            "lz4 frame header is cut short: {} bytes, at least {LZ4_MIN_FRAME_HEADER} needed",
            bytes.len()
        )));
    }
    let input = to_u64(bytes.len());
    let mut decoder = lz4_flex::frame::FrameDecoder::new(ShortReadWatch {
        rest: bytes,
        short_read: false,
    });
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut rest_at_last_stop = usize::MAX;
    loop {
        let n = decoder.read(&mut chunk).map_err(|e| {
            let offset = bytes.len() - decoder.get_ref().rest.len();
            bad(format!("invalid lz4 data near offset {offset}: {e}"))
        })?;
        if n > 0 {
            out.extend_from_slice(chunk.get(..n).unwrap_or_default());
            crate::check_output(what, to_u64(out.len()), input, limits)?;
            continue;
        }
        // The decoder stops at the end of each frame, and also (without an
        // error) when the input ends where a block header should be: only
        // a read that came up short tells a cut frame from a whole one.
        let watch = decoder.get_ref();
        if watch.short_read {
            return Err(bad(format!(
                "lz4 frame ends at offset {} without its end mark (truncated file?)",
                bytes.len()
            )));
        }
        let rest = watch.rest.len();
        if rest == 0 {
            return Ok(out);
        }
        let offset = bytes.len() - rest;
        if rest < LZ4_MIN_FRAME_HEADER || rest >= rest_at_last_stop {
            return Err(bad(format!(
                "{rest} bytes after the lz4 frame ending at offset {offset} are not a complete frame"
            )));
        }
        rest_at_last_stop = rest;
    }
}

/// The LZ4 decoder's input: a slice that remembers whether any read asked
/// for more bytes than were left. The decoder reads exactly the sizes the
/// frame declares, so a whole frame never causes a short read.
struct ShortReadWatch<'a> {
    rest: &'a [u8],
    short_read: bool,
}

impl std::io::Read for ShortReadWatch<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        if let Some(target) = buf.get_mut(..n) {
            target.copy_from_slice(head);
        }
        self.rest = tail;
        if n < buf.len() {
            self.short_read = true;
        }
        Ok(n)
    }
}

/// A parsed `ZF` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ZfHeader {
    /// The uncompressed length the header declares.
    declared: u64,
    /// Where the zlib stream starts (21, or 22 after the extra space that
    /// joblib 0.8.4 and earlier wrote under Python 2).
    body_offset: usize,
}

/// Read a `ZF` header as joblib's `read_zfile` does: `int(field, 16)` on the
/// 19 bytes after `ZF` (surrounding ASCII whitespace, an optional `+`, an
/// optional `0x`, hex digits with single underscores between them), then
/// one optional space. A negative length is refused (zlib refuses it too).
fn zf_header(bytes: &[u8]) -> Result<ZfHeader, String> {
    let Some(field) = bytes.get(2..ZF_HEADER) else {
        return Err(format!(
            "ZF header is cut short: {} bytes, {ZF_HEADER} needed",
            bytes.len()
        ));
    };
    let invalid = || {
        format!(
            "ZF length field {:?} is not a hexadecimal number",
            String::from_utf8_lossy(field)
        )
    };
    // Python's int() strips the ASCII whitespace of `bytes.isspace`.
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = field
        .iter()
        .position(|b| !is_space(b))
        .ok_or_else(invalid)?;
    let end = field
        .iter()
        .rposition(|b| !is_space(b))
        .ok_or_else(invalid)?
        + 1;
    let mut digits = field.get(start..end).ok_or_else(invalid)?;
    if let [b'+', rest @ ..] = digits {
        digits = rest;
    }
    let mut after_prefix = false;
    if let [b'0', b'x' | b'X', rest @ ..] = digits {
        digits = rest;
        after_prefix = true;
    }
    let mut declared: u64 = 0;
    let mut n_digits = 0usize;
    let mut previous_underscore = false;
    for (idx, byte) in digits.iter().enumerate() {
        if *byte == b'_' {
            // Allowed between digits, or right after the 0x prefix.
            let allowed = !previous_underscore && (idx > 0 || after_prefix);
            if !allowed {
                return Err(invalid());
            }
            previous_underscore = true;
            continue;
        }
        let value = char::from(*byte).to_digit(16).ok_or_else(invalid)?;
        declared = declared
            .checked_mul(16)
            .and_then(|d| d.checked_add(u64::from(value)))
            .ok_or_else(|| {
                format!(
                    "ZF length field {:?} overflows 64 bits",
                    String::from_utf8_lossy(field)
                )
            })?;
        n_digits += 1;
        previous_underscore = false;
    }
    if n_digits == 0 || previous_underscore {
        return Err(invalid());
    }
    let body_offset = if bytes.get(ZF_HEADER) == Some(&b' ') {
        ZF_HEADER + 1
    } else {
        ZF_HEADER
    };
    Ok(ZfHeader {
        declared,
        body_offset,
    })
}

/// Inflate a joblib `ZF` file. The declared length is checked against the
/// limits before inflating (joblib itself hands it to zlib as the buffer to
/// allocate) and must equal the output, as joblib asserts. Bytes after the
/// zlib stream are ignored, as Python's `zlib.decompress` ignores them.
fn joblib_zf(bytes: &[u8], what: &str, limits: &Limits) -> Result<Vec<u8>, Error> {
    let header = zf_header(bytes).map_err(|message| Error::Corrupt {
        what: "joblib ZF header".to_string(),
        offset: 2,
        message,
    })?;
    if header.declared > limits.max_member_bytes {
        return Err(Error::LimitExceeded {
            what: what.to_string(),
            message: format!("header declares {} bytes", header.declared),
            limit: limits.max_member_bytes,
        });
    }
    let body = bytes.get(header.body_offset..).unwrap_or_default();
    let (out, _) = inflate_checked(body, true, what, limits)?;
    if to_u64(out.len()) != header.declared {
        return Err(Error::BadData {
            member: what.to_string(),
            message: format!(
                "ZF header declares {} bytes but the zlib stream holds {}",
                header.declared,
                out.len()
            ),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zf(field: &[u8], body: &[u8]) -> Vec<u8> {
        let mut bytes = b"ZF".to_vec();
        bytes.extend_from_slice(field);
        bytes.extend_from_slice(body);
        bytes
    }

    /// A length field left-justified to 19 bytes, as joblib writes it.
    fn padded(field: &[u8]) -> Vec<u8> {
        let mut field = field.to_vec();
        field.resize(field.len().max(ZF_LENGTH_FIELD), b' ');
        field
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
        std::io::Write::write_all(&mut encoder, data).unwrap_or_default();
        encoder.finish().unwrap_or_default()
    }

    #[test]
    fn zf_length_field_reads_as_python_int_base_16() {
        let body = zlib(b"0123456789abcdefghi");
        for field in [
            b"0x13".as_slice(),
            b"  0x13",
            b"0X13",
            b"+0x13",
            b"13",
            b"0x_13",
            b"0x1_3",
            b"\x0b0x13\x0c",
        ] {
            let bytes = zf(&padded(field), &body);
            assert_eq!(detect(&bytes), Some(Compression::JoblibZf), "{field:?}");
            assert_eq!(
                decompress(&bytes, Compression::JoblibZf, &Limits::default()).ok(),
                Some(b"0123456789abcdefghi".to_vec()),
                "{field:?}"
            );
        }
        for field in [
            b"0x".as_slice(),
            b"",
            b"-0x13",
            b"0x13L",
            b"0x__13",
            b"0x13_",
            b"_0x13",
            b"0x1 3",
            b"0x13\x1c",
            b"0x1ffffffffffffffff",
        ] {
            let bytes = zf(&padded(field), &body);
            assert_eq!(detect(&bytes), None, "{field:?}");
            assert!(
                matches!(
                    decompress(&bytes, Compression::JoblibZf, &Limits::default()),
                    Err(Error::Corrupt { offset: 2, .. })
                ),
                "{field:?}"
            );
        }
    }

    #[test]
    fn zf_skips_the_python2_space_and_checks_the_length() {
        let body = zlib(b"abc");
        let mut field = b"0x3 ".to_vec();
        field.resize(ZF_LENGTH_FIELD + 1, b' ');
        assert_eq!(
            decompress(
                &zf(&field, &body),
                Compression::JoblibZf,
                &Limits::default()
            )
            .ok(),
            Some(b"abc".to_vec())
        );
        let mut wrong = b"0x4".to_vec();
        wrong.resize(ZF_LENGTH_FIELD, b' ');
        assert!(matches!(
            decompress(
                &zf(&wrong, &body),
                Compression::JoblibZf,
                &Limits::default()
            ),
            Err(Error::BadData { .. })
        ));
        // Trailing bytes after the zlib stream are ignored, as zlib.decompress does.
        let mut field = b"0x3".to_vec();
        field.resize(ZF_LENGTH_FIELD, b' ');
        let mut trailing = body.clone();
        trailing.extend_from_slice(b"junk");
        assert_eq!(
            decompress(
                &zf(&field, &trailing),
                Compression::JoblibZf,
                &Limits::default()
            )
            .ok(),
            Some(b"abc".to_vec())
        );
        assert_eq!(detect(b"ZF0x3"), None);
    }

    #[test]
    fn lz4_reads_frames_back_to_back_and_refuses_a_cut_one() {
        let frame = |data: &[u8]| {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            std::io::Write::write_all(&mut encoder, data).unwrap_or_default();
            encoder.finish().unwrap_or_default()
        };
        let mut two = frame(b"first ");
        two.extend_from_slice(&frame(b"second"));
        assert_eq!(detect(&two), Some(Compression::Lz4));
        assert_eq!(
            decompress(&two, Compression::Lz4, &Limits::default()).ok(),
            Some(b"first second".to_vec())
        );
        let one = frame(b"first ");
        for extra in 1..LZ4_MIN_FRAME_HEADER {
            let cut = two.get(..one.len() + extra).unwrap_or_default();
            assert!(
                matches!(
                    decompress(cut, Compression::Lz4, &Limits::default()),
                    Err(Error::BadData { .. })
                ),
                "{extra}"
            );
        }
        let mut garbage = one.clone();
        garbage.extend_from_slice(b"not a frame");
        assert!(matches!(
            decompress(&garbage, Compression::Lz4, &Limits::default()),
            Err(Error::BadData { .. })
        ));
        assert!(matches!(
            decompress(&LZ4_MAGIC, Compression::Lz4, &Limits::default()),
            Err(Error::BadData { .. })
        ));
    }

    #[test]
    fn zlib_needs_a_stream_that_decodes() {
        assert_eq!(detect(&zlib(b"payload")), Some(Compression::Zlib));
        // Header bytes of zlib, then a stored block whose length check fails.
        assert_eq!(detect(b"x^ looks like zlib but is text"), None);
        assert_eq!(detect(b"x\x9c"), Some(Compression::Zlib));
        // A long stream is confirmed from its first 8 KiB of output.
        let long: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(detect(&zlib(&long)), Some(Compression::Zlib));
    }
}
