//! A read-only reader of HDF5 file structure for untrusted input: which
//! groups, datasets and attributes a file holds, without reading its
//! array data.
//!
//! HDF5 is the container of Keras weights (`model.weights.h5` inside a
//! `.keras` zip) and of legacy Keras `.h5` models, whose architecture,
//! Lambda bytecode included, lives in the root group's `model_config`
//! attribute. [`File::parse`] takes the file's bytes and returns every
//! object reachable from the root group: each dataset's path, datatype,
//! shape, storage layout (compact, contiguous, chunked with its index) and
//! filters; each group's and dataset's attributes with their values
//! (numbers, fixed-length strings, and variable-length strings fetched
//! from the global heap); and soft and external links as data.
//!
//! Covered: superblocks 0 to 3 (signature at 0, 512, 1024, … after a user
//! block), object headers 1 and 2 with continuation blocks (checksums
//! verified unless [`Limits::verify_checksums`] is off), old-style groups
//! (symbol tables: B-tree v1 and local heap), new-style groups (link
//! messages, and dense storage in a fractal heap indexed by a B-tree v2),
//! compact and dense attribute storage, committed (named) datatypes, and
//! chunk counts from B-tree v1, single-chunk and unpaged fixed-array
//! indexes (extensible arrays, B-tree v2 and paged arrays are named, not
//! counted). What h5py and Keras write, with `libver` anywhere from
//! `earliest` to `latest`.
//!
//! Non-purpose: reading or decompressing array data, writing, shared
//! object header message tables and filtered fractal heaps (reported as
//! [`Error::Unsupported`]). Nothing read is trusted: every count and offset
//! is checked against the buffer and a cap ([`Limits`]) before use,
//! objects are visited once (hard-link cycles end), and a walk stops with
//! [`Error::LimitExceeded`] once it has read [`Limits::max_bytes`] of
//! metadata.
//!
//! Why hand-written: the pure-Rust HDF5 crates on crates.io decode data
//! through filter registries and resolve objects lazily through file
//! handles; a gate needs the opposite shape: bytes in, the whole object
//! tree out, a budget over the walk, and errors that name the offset.
//!
//! ```no_run
//! let bytes = std::fs::read("model.weights.h5").unwrap();
//! let file = modelgate_hdf5::File::parse(&bytes, &Default::default()).unwrap();
//! for dataset in &file.datasets {
//!     println!("{} {:?} {}", dataset.path, dataset.shape(), dataset.datatype.numpy_str());
//! }
//! ```

mod checksum;
mod cursor;
mod read;
mod types;

pub use read::find_signature;
pub use types::{
    Attribute, AttributeValue, ChunkIndex, Dataset, Dataspace, DataspaceKind, Datatype, File,
    Filter, Group, GroupStorage, Layout, Link, LinkTarget, StringPadding, Superblock,
};

/// The HDF5 format signature.
pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Most dimensions of a dataspace, array type or chunk (HDF5's own limit).
pub const MAX_RANK: usize = 32;
/// Deepest nesting of datatypes (compound in array in vlen …).
pub const MAX_TYPE_DEPTH: usize = 16;
/// Most members of a compound or enumeration type.
pub const MAX_TYPE_MEMBERS: usize = 65_535;
/// Most filters in a pipeline (HDF5's own limit).
pub const MAX_FILTERS: usize = 32;
/// Longest name of a link, attribute or type member, in bytes.
pub const MAX_NAME_BYTES: usize = 65_535;
/// Longest path of an object, in bytes.
pub const MAX_PATH_BYTES: usize = 65_536;

/// How much of a file a walk may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most objects (groups, datasets, named datatypes) visited.
    pub max_objects: usize,
    /// Most links followed or recorded, over all groups.
    pub max_links: usize,
    /// Most attributes read, over all objects.
    pub max_attributes: usize,
    /// Most messages in one object header.
    pub max_messages: usize,
    /// Most header or B-tree nodes read for one object.
    pub max_nodes: usize,
    /// Deepest group nesting below the root.
    pub max_depth: usize,
    /// Largest attribute value decoded, in bytes; larger values are kept
    /// as [`AttributeValue::NotRead`].
    pub max_attribute_bytes: u64,
    /// Most chunk records counted for one dataset.
    pub max_chunks: u64,
    /// Most bytes of metadata read and of names and values produced, over
    /// the whole walk.
    pub max_bytes: u64,
    /// Check the lookup3 checksums of version-2 metadata.
    pub verify_checksums: bool,
}

impl Default for Limits {
    /// 100 000 objects, a million links and attributes, 65 536 messages
    /// per header, 4 096 nodes per object, 256 levels, 256 MiB per
    /// attribute value, a million chunks per dataset, 1 GiB of metadata in
    /// all, checksums verified: far above what real Keras and h5py files
    /// need, far below what exhausts a scanner.
    fn default() -> Limits {
        Limits {
            max_objects: 100_000,
            max_links: 1_000_000,
            max_attributes: 1_000_000,
            max_messages: 65_536,
            max_nodes: 4_096,
            max_depth: 256,
            max_attribute_bytes: 256 << 20,
            max_chunks: 1_000_000,
            max_bytes: 1 << 30,
            verify_checksums: true,
        }
    }
}

/// Why an HDF5 file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No HDF5 signature at 0 or at any power-of-two offset from 512.
    #[error("no HDF5 signature")]
    NoSignature,
    /// A structure runs past the end of the file.
    #[error("{what} at offset {offset} runs past the end of the file")]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Where it was being read.
        offset: u64,
    },
    /// A structure does not start with its signature.
    #[error("{what} at offset {offset} does not start with '{expected}'")]
    BadSignature {
        /// The structure.
        what: &'static str,
        /// Where it should start.
        offset: u64,
        /// The signature expected.
        expected: String,
    },
    /// A structure's version is not one this reader knows.
    #[error("{what} at offset {offset} has unknown version {version}")]
    UnsupportedVersion {
        /// The structure.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// The version found.
        version: u8,
    },
    /// A structure's checksum does not match its bytes.
    #[error("{what} at offset {offset}: checksum {stored:#010x} does not match {computed:#010x}")]
    Checksum {
        /// The structure.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// A field holds a value the format does not allow.
    #[error("{what} at offset {offset}: {reason}")]
    Invalid {
        /// The structure.
        what: &'static str,
        /// Where the field is.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A valid feature this reader does not read.
    #[error("{what} at offset {offset} is not supported")]
    Unsupported {
        /// The feature.
        what: &'static str,
        /// Where it was met.
        offset: u64,
    },
    /// The walk reached one of its [`Limits`].
    #[error("limit {limit} ({max}) reached at offset {offset}")]
    LimitExceeded {
        /// The limit's name, as the field of [`Limits`].
        limit: &'static str,
        /// Its value.
        max: u64,
        /// Where the walk was.
        offset: u64,
    },
}

impl Error {
    /// The file offset the error names, when it names one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::NoSignature => None,
            Error::Truncated { offset, .. }
            | Error::BadSignature { offset, .. }
            | Error::UnsupportedVersion { offset, .. }
            | Error::Checksum { offset, .. }
            | Error::Invalid { offset, .. }
            | Error::Unsupported { offset, .. }
            | Error::LimitExceeded { offset, .. } => Some(*offset),
        }
    }
}
