//! Opens any model artifact modelgate understands: one entry point over the
//! format readers, and the one reader of the file system.
//!
//! Purpose: given a path (a file or a Hugging Face style snapshot directory),
//! read every file once ([`read_tree`]: one walk, each file opened once,
//! small files copied and large ones memory-mapped, the bytes kept alive in
//! [`LoadedFile`]s), decide what each file is **by its content** ([`sniff`]),
//! run the matching bounds-checked reader, and hand back parsed values
//! ([`Artifact`], [`Snapshot`]) together with the bytes they were parsed
//! from ([`Loaded::files`]). Everything downstream (inspect, scan, license,
//! card, provenance, the digests and signature checks) reads those same
//! bytes, so what is judged is what is hashed. Compressed streams are opened
//! with size and ratio limits and sniffed again; a directory's files are
//! read and parsed in parallel.
//!
//! Non-purpose: judging anything. This crate reports what the bytes are; the
//! analysers (`modelgate-inspect`, `modelgate-scan`, …) turn that into facts
//! and findings. It is the only crate below the edges that touches the file
//! system, and only to read (besides [`read_tree`], [`read_file`] and
//! [`read_small_file`] for signatures and keys, and [`path_within`] to
//! resolve paths); it is also the only crate with `unsafe` (the memory map
//! in `mmap.rs`).
//!
//! A file replaced by a rename, or deleted, after it was read keeps the
//! bytes read: the copy, or the map of the old inode. A *mapped* file
//! written in place can change under the map (and a truncation makes reads
//! past the new end fault, as with every mmap-based loader);
//! [`LoadedFile::modified_in_place`] and [`Loaded::modified_in_place`] say
//! afterwards whether that happened, so a caller can refuse to record a
//! result. Files under [`COPY_BELOW_BYTES`] are copied, so configs, cards,
//! templates and code are immune.
//!
//! Main types: [`Tree`] (every file under a path, read once), [`LoadedFile`]
//! and [`FileBytes`] (one file's bytes, cheap to clone), [`Format`] (what a
//! file is), [`Artifact`] (one parsed file), [`Content`] (the reader's
//! output), [`Snapshot`] (the model repository's configuration, card and
//! license files), [`Loaded`] (everything found under a path, with per-file
//! failures kept rather than aborting).
//!
//! ```no_run
//! use modelgate_formats::{load, LoadOptions};
//! let loaded = load(std::path::Path::new("model.gguf"), &LoadOptions::default())?;
//! for artifact in &loaded.artifacts {
//!     println!("{}: {}", artifact.path.display(), artifact.format);
//! }
//! for file in &loaded.files {
//!     println!("{}: {} bytes", file.relative_path, file.bytes.len());
//! }
//! # Ok::<(), modelgate_formats::Error>(())
//! ```

mod load;
mod mmap;
mod sniff;
mod tree;

pub use load::{
    Artifact, Content, Failure, LoadOptions, Loaded, PickleSummary, Snapshot, load, load_bytes,
    load_tree,
};
pub use mmap::FileBytes;
pub use modelgate_archive::Limits;
pub use sniff::{Format, sniff};
pub use tree::{
    COPY_BELOW_BYTES, LoadedFile, MAX_COPIED_BYTES, SkipReason, Skipped, Tree, WalkOptions,
    is_directory, is_file, path_within, read_file, read_small_file, read_tree,
};

// Re-export the readers so callers name one crate.
pub use modelgate_archive as archive;
pub use modelgate_gguf as gguf;
pub use modelgate_hf as hf;
pub use modelgate_keras as keras;
pub use modelgate_numpy as numpy;
pub use modelgate_onnx as onnx;
pub use modelgate_pickle as pickle;
pub use modelgate_pytorch as pytorch;
pub use modelgate_safetensors as safetensors;

use std::path::PathBuf;

/// Why a path or one of its files could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file or directory could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file was recognised but its reader rejected it.
    #[error("{path}: not a valid {format} file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The format the content claimed to be.
        format: Format,
        /// The reader's error, naming the offset or field.
        source: ParseError,
    },
    /// The directory walk went deeper than [`LoadOptions::max_dir_depth`].
    #[error(
        "{path}: directory nesting deeper than {max_depth} levels; pass a deeper directory directly"
    )]
    TooDeep {
        /// The directory not entered.
        path: PathBuf,
        /// The limit.
        max_depth: u32,
    },
    /// A directory held more files than [`LoadOptions::max_files`].
    #[error("{path}: more than {max_files} files; inspect a narrower directory")]
    TooManyFiles {
        /// The directory.
        path: PathBuf,
        /// The limit.
        max_files: usize,
    },
    /// A walk visited more entries than [`WalkOptions::max_entries`].
    #[error("{path}: more than {max_entries} directory entries; inspect a narrower directory")]
    TooManyEntries {
        /// The directory being read.
        path: PathBuf,
        /// The limit.
        max_entries: usize,
    },
    /// The path is neither a regular file nor a directory.
    #[error("{path}: not a regular file or directory")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A file read whole is larger than its limit.
    #[error("{path}: {size} bytes, more than the {max_bytes} allowed")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or the bytes read before stopping).
        size: u64,
        /// The limit.
        max_bytes: u64,
    },
}

/// A format reader's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// From the GGUF reader.
    #[error(transparent)]
    Gguf(#[from] modelgate_gguf::Error),
    /// From the safetensors reader.
    #[error(transparent)]
    Safetensors(#[from] modelgate_safetensors::Error),
    /// From the ONNX reader.
    #[error(transparent)]
    Onnx(#[from] modelgate_onnx::Error),
    /// From the pickle reader.
    #[error(transparent)]
    Pickle(#[from] modelgate_pickle::Error),
    /// From the PyTorch reader.
    #[error(transparent)]
    PyTorch(#[from] modelgate_pytorch::Error),
    /// From the NumPy reader.
    #[error(transparent)]
    Numpy(#[from] modelgate_numpy::Error),
    /// From the Keras reader.
    #[error(transparent)]
    Keras(#[from] modelgate_keras::Error),
    /// From the archive and stream readers.
    #[error(transparent)]
    Archive(#[from] modelgate_archive::Error),
    /// From the Hugging Face file readers.
    #[error(transparent)]
    Hf(#[from] modelgate_hf::Error),
    /// Compressed streams nested deeper than [`Limits::max_depth`].
    #[error("compressed streams nested more than {max_depth} deep")]
    NestedTooDeep {
        /// The limit.
        max_depth: u32,
    },
}
