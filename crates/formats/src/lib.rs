//! Opens any model artifact modelgate understands: one entry point over the
//! format readers.
//!
//! Purpose: given a path (a file or a Hugging Face style snapshot directory),
//! decide what each file is **by its content** ([`sniff`]), run the matching
//! bounds-checked reader, and hand back parsed values ([`Artifact`],
//! [`Snapshot`]) for the analysers. Compressed streams are opened with size and
//! ratio limits and sniffed again; a directory's files are read in parallel.
//!
//! Non-purpose: judging anything. This crate reports what the bytes are; the
//! analysers (`modelgate-inspect`, later `scan`) turn that into facts and
//! findings. It is also the only crate of the reader layer that touches the
//! file system, and the only crate in the workspace with `unsafe` (the
//! memory map in `mmap.rs`).
//!
//! Main types: [`Format`] (what a file is), [`Artifact`] (one parsed file),
//! [`Content`] (the reader's output), [`Snapshot`] (the model repository's
//! configuration, card and license files), [`Loaded`] (everything found under
//! a path, with per-file failures kept rather than aborting).
//!
//! ```no_run
//! use modelgate_formats::{load, LoadOptions};
//! let loaded = load(std::path::Path::new("model.gguf"), &LoadOptions::default())?;
//! for artifact in &loaded.artifacts {
//!     println!("{}: {}", artifact.path.display(), artifact.format);
//! }
//! # Ok::<(), modelgate_formats::Error>(())
//! ```

mod load;
mod mmap;
mod sniff;

pub use load::{
    Artifact, Content, Failure, FileList, LoadOptions, Loaded, PickleSummary, Snapshot, list_files,
    load, load_bytes,
};
pub use mmap::FileBytes;
pub use modelgate_archive::Limits;
pub use sniff::{Format, sniff};

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
