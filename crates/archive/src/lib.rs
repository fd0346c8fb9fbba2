//! Bounded readers for the containers models ship in: zip (PyTorch, NumPy
//! `.npz`, Keras `.keras`), tar (legacy PyTorch, bundles) and compressed
//! streams: every layer `joblib.dump(..., compress=...)` writes (zlib,
//! gzip, bzip2, xz, LZMA-alone, LZ4 frames, and joblib 0.9's `ZF` files),
//! each recognised by its bytes ([`stream::detect`]), never by a name.
//!
//! Not here: what is inside a stream (pickles, arrays) is for the readers
//! of those formats; this crate only opens the layer.
//!
//! Every read is limited ([`Limits`]): member size, total size, compression
//! ratio and nesting depth, so a zip bomb or a gzip bomb is an error rather
//! than an out-of-memory kill.
//!
//! The zip reader is hand-written rather than the `zip` crate: a scanner must
//! see what the `zip` crate normalises or rejects (a local header that
//! disagrees with the central directory, duplicate names, prepended bytes,
//! overlapping members), and must read archives the way tolerant loaders
//! (PyTorch's miniz, Python's `zipfile`) do. Oddities are kept as
//! [`zip::Anomaly`] values beside the parsed members.
//!
//! Streams use the maintained decoders (`flate2`, `bzip2`, `lzma-rs`,
//! `lz4_flex` with its safe decoder), driven in chunks so the limits stop
//! them early. Only joblib's `ZF` header is parsed by hand: it is 21 bytes
//! of ASCII in front of a zlib stream, read the way joblib reads it.
//!
//! ```
//! use modelgate_archive::{Limits, stream};
//! let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
//! assert_eq!(stream::detect(&gz), Some(stream::Compression::Gzip));
//! assert_eq!(stream::decompress(&gz, stream::Compression::Gzip, &Limits::default()).unwrap(), b"");
//! ```

pub mod stream;
pub mod tar;
pub mod zip;

/// Resource limits for opening containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed member or stream, in bytes.
    pub max_member_bytes: u64,
    /// Most bytes decompressed from one container in total. Readers of
    /// single members cannot see the total; callers that read many members
    /// (checkpoints, scans) sum and compare.
    pub max_total_bytes: u64,
    /// Highest decompressed/compressed ratio accepted once the output
    /// passes [`Limits::ratio_floor_bytes`].
    pub max_ratio: u64,
    /// Outputs smaller than this are never ratio-checked (tiny files
    /// compress well).
    pub ratio_floor_bytes: u64,
    /// Most members in one archive.
    pub max_members: usize,
    /// Deepest nesting of containers (a zip in a gzip in a tar…).
    pub max_depth: u32,
}

impl Default for Limits {
    /// 4 GiB per member, 16 GiB in total, ratio 200 above 1 MiB, 100 000
    /// members, 4 levels of nesting: room for the largest single tensors and
    /// checkpoint shards that ship compressed, while a bomb (ratios of 1000
    /// and more) stops within a few megabytes of output.
    fn default() -> Limits {
        Limits {
            max_member_bytes: 4 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
            ratio_floor_bytes: 1 << 20,
            max_members: 100_000,
            max_depth: 4,
        }
    }
}

/// Why a container could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No zip end-of-central-directory record.
    #[error("not a zip archive: no end-of-central-directory record in the last 65557 bytes")]
    NoEndOfCentralDirectory,
    /// A structure is cut short or points outside the file.
    #[error("{what} at offset {offset} is truncated or lies outside the {file_size}-byte file")]
    Truncated {
        /// Which structure.
        what: String,
        /// Where it should be.
        offset: u64,
        /// File size.
        file_size: u64,
    },
    /// A structure has a bad signature or field.
    #[error("{what} at offset {offset}: {message}")]
    Corrupt {
        /// Which structure.
        what: String,
        /// Where.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// More members than [`Limits::max_members`] or the format allows.
    #[error("archive declares {count} members, more than the limit of {max}")]
    TooManyMembers {
        /// Declared count.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// A compression method this reader does not implement.
    #[error(
        "member '{member}' uses compression method {method}, which is not supported (only stored and deflate)"
    )]
    UnsupportedMethod {
        /// The member.
        member: String,
        /// The zip method id.
        method: u16,
    },
    /// A member is encrypted.
    #[error("member '{member}' is encrypted and cannot be read")]
    Encrypted {
        /// The member.
        member: String,
    },
    /// Decompressed data failed its checksum or declared size.
    #[error("member '{member}': {message}")]
    BadData {
        /// The member or stream.
        member: String,
        /// What did not match.
        message: String,
    },
    /// A size, ratio or depth limit was reached.
    #[error("{what}: {message} (limit {limit}); raise the limit only for trusted files")]
    LimitExceeded {
        /// The member or stream.
        what: String,
        /// Which limit.
        message: String,
        /// Its value.
        limit: u64,
    },
}

/// Check a decompressed size against the limits.
pub(crate) fn check_output(
    what: &str,
    output: u64,
    input: u64,
    limits: &Limits,
) -> Result<(), Error> {
    if output > limits.max_member_bytes {
        return Err(Error::LimitExceeded {
            what: what.to_string(),
            message: format!(
                "decompresses to more than {} bytes",
                limits.max_member_bytes
            ),
            limit: limits.max_member_bytes,
        });
    }
    if output > limits.ratio_floor_bytes && output / input.max(1) > limits.max_ratio {
        return Err(Error::LimitExceeded {
            what: what.to_string(),
            message: format!(
                "compression ratio above {} ({output} bytes from {input})",
                limits.max_ratio
            ),
            limit: limits.max_ratio,
        });
    }
    Ok(())
}

/// Read all of `reader` into memory within the limits.
pub(crate) fn read_bounded(
    mut reader: impl std::io::Read,
    what: &str,
    input_len: u64,
    limits: &Limits,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| Error::BadData {
            member: what.to_string(),
            message: format!("decompression failed: {e}"),
        })?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
        check_output(
            what,
            u64::try_from(out.len()).unwrap_or(u64::MAX),
            input_len,
            limits,
        )?;
    }
}

pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Whether an archive member name could write outside the extraction
/// directory: absolute, a drive letter, a backslash path, or a `..` part.
pub fn is_unsafe_member_name(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\\')
        || (name.as_bytes().get(1) == Some(&b':')
            && name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic))
        || name.split(['/', '\\']).any(|part| part == "..")
}
