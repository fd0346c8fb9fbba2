//! Content sniffing: what a file is, decided by its bytes.
//!
//! The file name is only a tie-breaker for formats without a magic number
//! (protobuf, protocol 0/1 pickles, JSON shard indexes); it never overrides
//! a signature found in the content.

use modelgate_archive::stream::{self, Compression};

/// The kind of artifact a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// GGUF (llama.cpp).
    Gguf,
    /// A safetensors file.
    Safetensors,
    /// A sharded-checkpoint index (`*.safetensors.index.json`, `pytorch_model.bin.index.json`).
    ShardIndex,
    /// An ONNX model protobuf.
    Onnx,
    /// A PyTorch checkpoint in the zip layout (`torch.save` since 1.6).
    PyTorchZip,
    /// A legacy PyTorch checkpoint: consecutive pickles followed by raw storages.
    PyTorchLegacy,
    /// A legacy PyTorch checkpoint in the tar layout.
    PyTorchTar,
    /// A bare Python pickle stream (joblib, sklearn, generic `.pkl`).
    Pickle,
    /// A NumPy `.npy` array.
    Npy,
    /// A NumPy `.npz` archive.
    Npz,
    /// A Keras v3 `.keras` archive.
    Keras,
    /// An HDF5 file (legacy Keras `.h5`).
    Hdf5,
    /// A zip archive that is none of the above.
    Zip,
    /// A tar archive that is none of the above.
    Tar,
    /// A compressed stream (gzip, bzip2, xz, lzma, zlib, lz4, joblib `ZF`).
    Compressed(Compression),
    /// Nothing modelgate recognises.
    Unknown,
}

impl Format {
    /// The stable, lower-case name used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Format::Gguf => "gguf",
            Format::Safetensors => "safetensors",
            Format::ShardIndex => "shard-index",
            Format::Onnx => "onnx",
            Format::PyTorchZip => "pytorch-zip",
            Format::PyTorchLegacy => "pytorch-legacy",
            Format::PyTorchTar => "pytorch-tar",
            Format::Pickle => "pickle",
            Format::Npy => "npy",
            Format::Npz => "npz",
            Format::Keras => "keras",
            Format::Hdf5 => "hdf5",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Compressed(kind) => kind.name(),
            Format::Unknown => "unknown",
        }
    }

    /// Whether the format carries model weights or code that runs on load
    /// (as opposed to containers and unknown files).
    pub fn is_model(self) -> bool {
        !matches!(
            self,
            Format::Zip | Format::Tar | Format::Compressed(_) | Format::Unknown
        )
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
const ZIP_LOCAL: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY: &[u8] = b"PK\x05\x06";
/// The first pickle of a legacy PyTorch file is this integer (LONG1, 10 bytes).
const TORCH_LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
/// Largest safetensors header the sniffer believes (the reader enforces its own cap).
const SAFETENSORS_MAX_HEADER: u64 = 100 * 1024 * 1024;

/// Decide a file's format from its leading bytes (the whole file when it is
/// memory-mapped) and, for formats without a signature, its name.
pub fn sniff(bytes: &[u8], file_name: &str) -> Format {
    let lower_name = file_name.to_ascii_lowercase();
    if bytes.starts_with(b"GGUF") || bytes.starts_with(b"FUGG") {
        return Format::Gguf;
    }
    if bytes.starts_with(NPY_MAGIC) {
        return Format::Npy;
    }
    if is_hdf5(bytes) {
        return Format::Hdf5;
    }
    if bytes.starts_with(ZIP_LOCAL) || bytes.starts_with(ZIP_EMPTY) {
        return sniff_zip(bytes);
    }
    if bytes.get(257..262) == Some(b"ustar") {
        return sniff_tar(bytes);
    }
    if bytes.starts_with(TORCH_LEGACY_MAGIC) {
        return Format::PyTorchLegacy;
    }
    if looks_like_safetensors(bytes) {
        return Format::Safetensors;
    }
    // By content alone: zlib's weak two-byte header is confirmed by
    // inflating the start of the stream (see `stream::detect`), so a
    // `joblib.dump(..., compress=3)` file is found whatever it is called.
    if let Some(compression) = stream::detect(bytes) {
        return Format::Compressed(compression);
    }
    if is_pickle_protocol_2_plus(bytes) {
        return Format::Pickle;
    }
    if lower_name.ends_with(".index.json")
        && bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    {
        return Format::ShardIndex;
    }
    if looks_like_onnx(bytes, &lower_name) {
        return Format::Onnx;
    }
    if has_extension(
        &lower_name,
        &["pkl", "pickle", "joblib", "pt", "pth", "bin", "ckpt", "dat"],
    ) && looks_like_old_pickle(bytes)
    {
        return Format::Pickle;
    }
    // A zip with bytes before it (self-extracting stubs, polyglots) still
    // opens in zip readers: its end record is near the end of the file.
    if modelgate_archive::zip::looks_like_zip(bytes) {
        return sniff_zip(bytes);
    }
    Format::Unknown
}

fn has_extension(lower_name: &str, extensions: &[&str]) -> bool {
    lower_name
        .rsplit_once('.')
        .is_some_and(|(_, ext)| extensions.contains(&ext))
}

/// HDF5 puts its signature at 0, 512, 1024, 2048, ... (a user block may precede it).
fn is_hdf5(bytes: &[u8]) -> bool {
    let mut offset = 0usize;
    while offset <= 8192 {
        if bytes.get(offset..offset + HDF5_MAGIC.len()) == Some(HDF5_MAGIC) {
            return true;
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    false
}

fn sniff_zip(bytes: &[u8]) -> Format {
    let Ok(archive) = modelgate_archive::zip::ZipArchive::parse(bytes) else {
        // A zip we cannot read is still a zip; the reader reports why.
        return Format::Zip;
    };
    let names: Vec<&str> = archive.members().iter().map(|m| m.name.as_str()).collect();
    if names.iter().any(|n| n.ends_with(".pkl"))
        && names
            .iter()
            .any(|n| n.contains("/data/") || n.ends_with("/version") || n.ends_with("data.pkl"))
    {
        return Format::PyTorchZip;
    }
    if names.contains(&"config.json")
        && (names.contains(&"metadata.json") || names.iter().any(|n| n.ends_with(".weights.h5")))
    {
        return Format::Keras;
    }
    if !names.is_empty() && names.iter().all(|n| n.ends_with(".npy")) {
        return Format::Npz;
    }
    Format::Zip
}

fn sniff_tar(bytes: &[u8]) -> Format {
    let Ok(archive) = modelgate_archive::tar::TarArchive::parse(bytes) else {
        return Format::Tar;
    };
    let has = |wanted: &str| {
        archive
            .members()
            .iter()
            .any(|m| m.name.trim_start_matches("./") == wanted)
    };
    if has("pickle") && has("storages") && has("tensors") {
        return Format::PyTorchTar;
    }
    Format::Tar
}

fn looks_like_safetensors(bytes: &[u8]) -> bool {
    let Some(len_bytes) = bytes.get(..8) else {
        return false;
    };
    let mut len_le = [0u8; 8];
    len_le.copy_from_slice(len_bytes);
    let header_len = u64::from_le_bytes(len_le);
    let file_len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    (2..=SAFETENSORS_MAX_HEADER).contains(&header_len)
        && header_len <= file_len - 8
        && bytes.get(8) == Some(&b'{')
}

/// A `PROTO` opcode first. CPython writes it from protocol 2 on, but its
/// loader accepts any protocol up to 5 there, 0 and 1 included.
fn is_pickle_protocol_2_plus(bytes: &[u8]) -> bool {
    matches!(bytes, [0x80, 0..=5, ..])
}

/// Protocol 0/1 pickles have no header; accept the opcodes they usually open with.
fn looks_like_old_pickle(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        Some(
            b'(' | b'}'
                | b']'
                | b'c'
                | b'N'
                | b'I'
                | b'L'
                | b'S'
                | b'V'
                | b'X'
                | b'U'
                | b'T'
                | b'K'
                | b'M'
                | b'J'
                | b')'
        )
    ) && matches!(bytes.last(), Some(b'.'))
}

/// ONNX has no magic: a ModelProto starts with field 1 (ir_version, varint)
/// in every writer we know of. Confirm by parsing only when that holds.
fn looks_like_onnx(bytes: &[u8], lower_name: &str) -> bool {
    modelgate_onnx::looks_like_onnx(bytes)
        || (lower_name.ends_with(".onnx") && modelgate_onnx::OnnxModel::parse(bytes).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_win_over_names() {
        assert_eq!(
            sniff(b"GGUF\x03\x00\x00\x00", "model.safetensors"),
            Format::Gguf
        );
        assert_eq!(sniff(b"\x93NUMPY\x01\x00", "x.bin"), Format::Npy);
        assert_eq!(sniff(b"\x89HDF\r\n\x1a\n rest", "x.onnx"), Format::Hdf5);
        assert_eq!(
            sniff(b"\x80\x04\x95", "weights.safetensors"),
            Format::Pickle
        );
        assert_eq!(
            sniff(b"\x1f\x8b\x08\x00", "model.pkl"),
            Format::Compressed(Compression::Gzip)
        );
    }

    #[test]
    fn compression_is_found_by_content_whatever_the_name() {
        // zlib of "payload" at level 3, as joblib's compress=3 writes it.
        let zlib = b"\x78\x5e\x2b\x48\xac\xcc\xc9\x4f\x4c\x01\x00\x0b\xdd\x02\xeb";
        for name in ["model.joblib", "model.pkl", "model", "notes.txt"] {
            assert_eq!(
                sniff(zlib, name),
                Format::Compressed(Compression::Zlib),
                "{name}"
            );
        }
        assert_eq!(sniff(b"x^ is not zlib", "model.z"), Format::Unknown);
        // An empty frame, as python-lz4 writes it.
        let lz4 = b"\x04\x22\x4d\x18\x60\x40\x82\x00\x00\x00\x00";
        assert_eq!(
            sniff(lz4, "model.pkl"),
            Format::Compressed(Compression::Lz4)
        );
        assert_eq!(Format::Compressed(Compression::Lz4).name(), "lz4");
        assert_eq!(
            Format::Compressed(Compression::JoblibZf).name(),
            "joblib-zf"
        );
    }

    /// Files `joblib.dump` wrote (tests/data/joblib, from
    /// scripts/testdata/make_joblib.py) are found by their bytes under any
    /// name, and opening their layer leaves the pickle (or `.npy`) inside.
    #[test]
    fn joblib_files_are_sniffed_by_content() {
        use Compression::{Bzip2, Gzip, JoblibZf, Lz4, Lzma, Xz, Zlib};
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/joblib/ok");
        let cases = [
            ("lr.joblib", None, Format::Pickle),
            ("lr_compress3.joblib", Some(Zlib), Format::Pickle),
            ("pipeline_zlib1.joblib", Some(Zlib), Format::Pickle),
            ("pipeline_zlib9.joblib", Some(Zlib), Format::Pickle),
            ("lr_gzip.joblib", Some(Gzip), Format::Pickle),
            ("lr_bz2.joblib", Some(Bzip2), Format::Pickle),
            ("lr_lzma.joblib", Some(Lzma), Format::Pickle),
            ("lr_xz.joblib", Some(Xz), Format::Pickle),
            ("lr_lz4.joblib", Some(Lz4), Format::Pickle),
            ("pipeline_lz4_9.joblib", Some(Lz4), Format::Pickle),
            ("lr_joblib011.pkl", None, Format::Pickle),
            ("lr_joblib011_zlib.pkl", Some(Zlib), Format::Pickle),
            ("lr_joblib094.pkl", None, Format::Pickle),
            ("lr_joblib094.pkl_01.npy", None, Format::Npy),
            ("lr_joblib094_zf.pkl", Some(JoblibZf), Format::Pickle),
            ("lr_joblib094_zf_side.pkl", Some(JoblibZf), Format::Pickle),
        ];
        for (file, layer, inner) in cases {
            let bytes = std::fs::read(dir.join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}: run scripts/testdata/make_joblib.py"));
            for name in ["model.joblib", "model.bin", "weights", "README.txt"] {
                let found = sniff(&bytes, name);
                match layer {
                    Some(kind) => assert_eq!(found, Format::Compressed(kind), "{file} as {name}"),
                    None => assert_eq!(found, inner, "{file} as {name}"),
                }
            }
            if let Some(kind) = layer {
                let opened =
                    stream::decompress(&bytes, kind, &modelgate_archive::Limits::default())
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(sniff(&opened, "model.bin"), inner, "{file}");
            }
        }
    }

    #[test]
    fn safetensors_needs_a_consistent_header_length() {
        let mut bytes = 4u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}  ");
        assert_eq!(sniff(&bytes, "anything"), Format::Safetensors);
        let mut too_long = 400u64.to_le_bytes().to_vec();
        too_long.extend_from_slice(b"{}  ");
        assert_eq!(sniff(&too_long, "model.safetensors"), Format::Unknown);
    }

    #[test]
    fn hdf5_signature_after_a_user_block() {
        let mut bytes = vec![0u8; 512];
        bytes.extend_from_slice(HDF5_MAGIC);
        assert_eq!(sniff(&bytes, "model.h5"), Format::Hdf5);
    }

    #[test]
    fn legacy_torch_magic() {
        let mut bytes = TORCH_LEGACY_MAGIC.to_vec();
        bytes.push(b'.');
        assert_eq!(sniff(&bytes, "old.bin"), Format::PyTorchLegacy);
    }

    #[test]
    fn old_pickles_need_a_pickle_name() {
        assert_eq!(sniff(b"(lp0\nI1\na.", "data.pkl"), Format::Pickle);
        assert_eq!(sniff(b"(lp0\nI1\na.", "notes.txt"), Format::Unknown);
    }
}
