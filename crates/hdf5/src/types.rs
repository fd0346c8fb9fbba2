//! The values a walk returns.

/// Where the superblock is and how the file encodes addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// Superblock version (0 to 3).
    pub version: u8,
    /// Offset of the signature (the user block's size).
    pub offset: u64,
    /// Bytes per address.
    pub size_of_offsets: u8,
    /// Bytes per length.
    pub size_of_lengths: u8,
    /// The end-of-file address the superblock records.
    pub end_of_file: u64,
}

/// A whole file: every object reachable from the root group.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// The superblock.
    pub superblock: Superblock,
    /// Groups, the root (`/`) first, then depth first by name.
    pub groups: Vec<Group>,
    /// Datasets, depth first by name.
    pub datasets: Vec<Dataset>,
    /// Named (committed) datatypes: path and type.
    pub named_datatypes: Vec<(String, Datatype)>,
    /// Links that are not hard links (soft, external, user-defined).
    pub links: Vec<Link>,
}

impl File {
    /// The dataset at `path` (`a/b`, with or without a leading `/`).
    pub fn dataset(&self, path: &str) -> Option<&Dataset> {
        let path = path.trim_start_matches('/');
        self.datasets.iter().find(|d| d.path == path)
    }

    /// The group at `path` (`""` or `/` for the root).
    pub fn group(&self, path: &str) -> Option<&Group> {
        let path = path.trim_start_matches('/');
        self.groups.iter().find(|g| g.path == path)
    }

    /// The root group.
    pub fn root(&self) -> Option<&Group> {
        self.group("")
    }

    /// Every attribute in the file with the path of the object that holds it.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &Attribute)> {
        self.groups
            .iter()
            .flat_map(|g| g.attributes.iter().map(|a| (g.path.as_str(), a)))
            .chain(
                self.datasets
                    .iter()
                    .flat_map(|d| d.attributes.iter().map(|a| (d.path.as_str(), a))),
            )
    }
}

/// How a group stores its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupStorage {
    /// Old style: a symbol table (B-tree v1 and local heap).
    SymbolTable,
    /// New style, links as messages in the object header.
    Compact,
    /// New style, links in a fractal heap indexed by a B-tree v2.
    Dense,
}

/// A group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Path from the root without a leading `/` (the root is `""`).
    pub path: String,
    /// Absolute offset of its object header.
    pub address: u64,
    /// How it stores its links.
    pub storage: GroupStorage,
    /// Number of links it holds.
    pub n_links: usize,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

/// A dataset's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Path from the root without a leading `/`.
    pub path: String,
    /// Absolute offset of its object header.
    pub address: u64,
    /// Element type.
    pub datatype: Datatype,
    /// Shape.
    pub dataspace: Dataspace,
    /// Where the data is.
    pub layout: Layout,
    /// Filter pipeline (compression, shuffle, checksums), in order.
    pub filters: Vec<Filter>,
    /// Whether the data lives in external files (an external file list).
    pub external_files: bool,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

impl Dataset {
    /// The dimensions (empty for scalars and null dataspaces).
    pub fn shape(&self) -> &[u64] {
        &self.dataspace.dims
    }

    /// Number of elements (`None` when the product overflows).
    pub fn n_elements(&self) -> Option<u64> {
        self.dataspace.n_elements()
    }

    /// Bytes of the data as stored uncompressed (`None` on overflow).
    pub fn n_bytes(&self) -> Option<u64> {
        self.n_elements()?.checked_mul(self.datatype.size())
    }
}

/// A dataspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataspace {
    /// Scalar, simple or null.
    pub kind: DataspaceKind,
    /// Current dimensions.
    pub dims: Vec<u64>,
    /// Maximum dimensions, when recorded (`u64::MAX` is unlimited).
    pub max_dims: Option<Vec<u64>>,
}

impl Dataspace {
    /// Number of elements: 1 for a scalar, 0 for null.
    pub fn n_elements(&self) -> Option<u64> {
        match self.kind {
            DataspaceKind::Null => Some(0),
            DataspaceKind::Scalar => Some(1),
            DataspaceKind::Simple => self.dims.iter().try_fold(1u64, |n, d| n.checked_mul(*d)),
        }
    }
}

/// The kind of a dataspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataspaceKind {
    /// One element.
    Scalar,
    /// An array of `dims`.
    Simple,
    /// No elements.
    Null,
}

/// How a string is terminated or padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringPadding {
    /// NUL-terminated.
    NullTerminated,
    /// Padded with NULs.
    NullPadded,
    /// Padded with spaces.
    SpacePadded,
}

/// An HDF5 datatype.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Datatype {
    /// Fixed-point integer.
    Integer {
        /// Bytes.
        size: u32,
        /// Two's complement signed.
        signed: bool,
        /// Big-endian.
        big_endian: bool,
    },
    /// IEEE floating point.
    Float {
        /// Bytes.
        size: u32,
        /// Big-endian.
        big_endian: bool,
    },
    /// Time.
    Time {
        /// Bytes.
        size: u32,
    },
    /// Fixed-length string.
    String {
        /// Bytes.
        size: u32,
        /// Termination.
        padding: StringPadding,
        /// UTF-8 (else ASCII).
        utf8: bool,
    },
    /// Bit field.
    Bitfield {
        /// Bytes.
        size: u32,
    },
    /// Opaque bytes with a tag.
    Opaque {
        /// Bytes.
        size: u32,
        /// The tag.
        tag: String,
    },
    /// A record of named members.
    Compound {
        /// Bytes.
        size: u32,
        /// Name, byte offset and type of each member.
        members: Vec<(String, u32, Datatype)>,
    },
    /// An object or region reference.
    Reference {
        /// Bytes.
        size: u32,
    },
    /// Named values of an integer base type.
    Enum {
        /// The base type.
        base: Box<Datatype>,
        /// Member names, in order.
        names: Vec<String>,
    },
    /// Variable-length string (kept in the global heap).
    VarString {
        /// Bytes of each element's heap reference.
        size: u32,
        /// UTF-8 (else ASCII).
        utf8: bool,
    },
    /// Variable-length sequence of a base type.
    VarSequence {
        /// Bytes of each element's heap reference.
        size: u32,
        /// The base type.
        base: Box<Datatype>,
    },
    /// Fixed-size array of a base type.
    Array {
        /// Dimensions.
        dims: Vec<u32>,
        /// The base type.
        base: Box<Datatype>,
    },
}

impl Datatype {
    /// Bytes per element as stored in the dataset or attribute (a
    /// variable-length element is its heap reference).
    pub fn size(&self) -> u64 {
        match self {
            Datatype::Integer { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::Time { size }
            | Datatype::String { size, .. }
            | Datatype::Bitfield { size }
            | Datatype::Opaque { size, .. }
            | Datatype::Compound { size, .. }
            | Datatype::Reference { size }
            | Datatype::VarString { size, .. }
            | Datatype::VarSequence { size, .. } => u64::from(*size),
            Datatype::Enum { base, .. } => base.size(),
            Datatype::Array { dims, base } => dims
                .iter()
                .try_fold(base.size(), |n, d| n.checked_mul(u64::from(*d)))
                .unwrap_or(u64::MAX),
        }
    }

    /// The NumPy type string h5py gives this type (`<f4`, `|S10`, `|b1`,
    /// `|O` …).
    pub fn numpy_str(&self) -> String {
        let order = |big: bool| if big { '>' } else { '<' };
        match self {
            Datatype::Integer {
                size: 1, signed, ..
            } => {
                format!("|{}1", if *signed { 'i' } else { 'u' })
            }
            Datatype::Integer {
                size,
                signed,
                big_endian,
            } => format!(
                "{}{}{size}",
                order(*big_endian),
                if *signed { 'i' } else { 'u' }
            ),
            Datatype::Float { size, big_endian } => format!("{}f{size}", order(*big_endian)),
            Datatype::String { size, .. } => format!("|S{size}"),
            Datatype::VarString { .. }
            | Datatype::VarSequence { .. }
            | Datatype::Reference { .. } => "|O".to_string(),
            Datatype::Enum { base, names } => {
                if names.len() == 2
                    && names.first().is_some_and(|n| n == "FALSE")
                    && names.get(1).is_some_and(|n| n == "TRUE")
                    && base.size() == 1
                {
                    "|b1".to_string()
                } else {
                    base.numpy_str()
                }
            }
            Datatype::Compound { size, members } => {
                let complex = members.len() == 2
                    && members.iter().zip(["r", "i"]).all(|((name, _, t), want)| {
                        name == want && matches!(t, Datatype::Float { .. })
                    });
                match (complex, members.first()) {
                    (true, Some((_, _, Datatype::Float { big_endian, .. }))) => {
                        format!("{}c{size}", order(*big_endian))
                    }
                    _ => format!("|V{size}"),
                }
            }
            Datatype::Time { size }
            | Datatype::Bitfield { size }
            | Datatype::Opaque { size, .. } => {
                format!("|V{size}")
            }
            Datatype::Array { .. } => format!("|V{}", self.size()),
        }
    }
}

/// One filter of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Filter id (1 deflate, 2 shuffle, 3 fletcher32, 4 szip, 5 nbit,
    /// 6 scaleoffset, 32000+ registered third-party filters).
    pub id: u16,
    /// The name recorded in the file, if any.
    pub name: Option<String>,
    /// Whether the filter may be skipped when unavailable.
    pub optional: bool,
    /// Client data values.
    pub values: Vec<u32>,
}

/// The index of a chunked dataset's chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkIndex {
    /// Version-1 B-tree (layout versions 1 to 3).
    BTreeV1,
    /// One chunk, addressed directly.
    SingleChunk,
    /// Chunks stored contiguously, no index.
    Implicit,
    /// Fixed array.
    FixedArray,
    /// Extensible array.
    ExtensibleArray,
    /// Version-2 B-tree.
    BTreeV2,
}

/// Where a dataset's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// In the object header.
    Compact {
        /// Absolute offset of the data.
        offset: u64,
        /// Its size.
        size: u64,
    },
    /// One block.
    Contiguous {
        /// Absolute offset (`None` when never written).
        address: Option<u64>,
        /// Its size.
        size: u64,
    },
    /// Chunks.
    Chunked {
        /// Chunk dimensions (without the element-size dimension).
        chunk_dims: Vec<u64>,
        /// The index kind.
        index: ChunkIndex,
        /// Absolute offset of the index (or the single chunk; `None` when
        /// nothing was written).
        address: Option<u64>,
        /// Chunks and their stored bytes, when the index was walked.
        chunks: Option<(u64, u64)>,
    },
    /// A virtual dataset mapping other datasets (possibly in other files).
    Virtual {
        /// Absolute offset of the global heap collection with the mappings.
        address: Option<u64>,
    },
}

impl Layout {
    /// `compact`, `contiguous`, `chunked` or `virtual`.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Compact { .. } => "compact",
            Layout::Contiguous { .. } => "contiguous",
            Layout::Chunked { .. } => "chunked",
            Layout::Virtual { .. } => "virtual",
        }
    }
}

/// An attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Name.
    pub name: String,
    /// Element type.
    pub datatype: Datatype,
    /// Shape.
    pub dataspace: Dataspace,
    /// Value.
    pub value: AttributeValue,
}

/// An attribute's value, decoded where the type is simple.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttributeValue {
    /// Fixed- or variable-length strings (bytes as stored, padding removed).
    Strings(Vec<Vec<u8>>),
    /// Signed integers (and enumerations over them).
    Ints(Vec<i64>),
    /// Unsigned integers (and enumerations over them).
    UInts(Vec<u64>),
    /// Floating-point numbers (2, 4 and 8 bytes).
    Floats(Vec<f64>),
    /// Other types: the raw element bytes.
    Raw(Vec<u8>),
    /// Not decoded: too large, or a type whose value lives elsewhere.
    NotRead {
        /// Why.
        reason: String,
    },
}

impl AttributeValue {
    /// The strings, when this is a string value.
    pub fn strings(&self) -> Option<&[Vec<u8>]> {
        match self {
            AttributeValue::Strings(strings) => Some(strings),
            _ => None,
        }
    }

    /// The single string of a scalar string value, as UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self.strings()? {
            [one] => std::str::from_utf8(one).ok(),
            _ => None,
        }
    }
}

/// A link that is not a hard link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Path of the link itself.
    pub path: String,
    /// Where it points.
    pub target: LinkTarget,
}

/// Where a non-hard link points.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkTarget {
    /// A path in this file.
    Soft(String),
    /// An object in another file.
    External {
        /// The other file's name.
        file: String,
        /// The object's path there.
        object: String,
    },
    /// A user-defined link class.
    UserDefined(u8),
}
