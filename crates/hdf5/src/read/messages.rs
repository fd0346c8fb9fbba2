//! Decoding the messages of an object header: datatypes, dataspaces,
//! layouts, filter pipelines, links and attributes.

use crate::cursor::Cursor;
use crate::read::{FLAG_SHARED, Message, Reader, kind};
use crate::types::{
    Attribute, AttributeValue, ChunkIndex, Dataspace, DataspaceKind, Datatype, Filter, Layout,
    LinkTarget, StringPadding,
};
use crate::{Error, MAX_FILTERS, MAX_NAME_BYTES, MAX_RANK, MAX_TYPE_DEPTH, MAX_TYPE_MEMBERS};

/// A link as stored: its name and where it points.
#[derive(Debug, Clone)]
pub(crate) struct LinkEntry {
    pub(crate) name: Vec<u8>,
    pub(crate) target: Target,
}

/// A hard link's object header, or any other kind of target.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Hard(u64),
    Other(LinkTarget),
}

fn invalid(cursor: &Cursor<'_>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        what: cursor.what(),
        offset: cursor.offset(),
        reason: reason.into(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Bytes needed for a value up to `max` (compound member offsets, v3).
fn bytes_for(max: u32) -> usize {
    match max {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    }
}

impl<'a> Reader<'a> {
    fn message_cursor(
        &self,
        message: &Message<'a>,
        what: &'static str,
    ) -> Result<Cursor<'a>, Error> {
        Cursor::new(self.data, message.offset, message.data.len() as u64, what)
    }

    /// A datatype message, resolving a committed (shared) datatype.
    pub(crate) fn datatype_message(&mut self, message: &Message<'a>) -> Result<Datatype, Error> {
        let mut c = self.message_cursor(message, "datatype message")?;
        if message.flags & FLAG_SHARED != 0 {
            return self.shared_datatype(&mut c);
        }
        self.datatype(&mut c, 0)
    }

    /// A shared-message reference to a committed datatype, resolved.
    fn shared_datatype(&mut self, c: &mut Cursor<'a>) -> Result<Datatype, Error> {
        let at = c.offset();
        let version = c.u8()?;
        let kind = c.u8()?;
        let address = match version {
            1 => {
                c.skip(6)?;
                c.skip(self.size_of_lengths)?;
                self.defined_address(c)?
            }
            2 | 3 if version == 2 || kind == 2 => self.defined_address(c)?,
            3 => {
                return Err(Error::Unsupported {
                    what: "shared object header message table",
                    offset: at,
                });
            }
            _ => {
                return Err(Error::UnsupportedVersion {
                    what: "shared message",
                    offset: at,
                    version,
                });
            }
        };
        if let Some(datatype) = self.named_types.get(&address) {
            return Ok(datatype.clone());
        }
        let messages = self.object_header(address)?;
        let message = messages
            .iter()
            .find(|m| m.kind == kind::DATATYPE && m.flags & FLAG_SHARED == 0)
            .ok_or(Error::Invalid {
                what: "committed datatype",
                offset: address,
                reason: "no datatype message".to_string(),
            })?;
        let mut inner = self.message_cursor(message, "datatype message")?;
        let datatype = self.datatype(&mut inner, 0)?;
        self.named_types.insert(address, datatype.clone());
        Ok(datatype)
    }

    /// A datatype description (IV.A.2.d).
    pub(crate) fn datatype(&mut self, c: &mut Cursor<'a>, depth: usize) -> Result<Datatype, Error> {
        if depth > MAX_TYPE_DEPTH {
            return Err(Error::LimitExceeded {
                limit: "MAX_TYPE_DEPTH",
                max: MAX_TYPE_DEPTH as u64,
                offset: c.offset(),
            });
        }
        let at = c.offset();
        let class_version = c.u8()?;
        let class = class_version & 0x0f;
        let version = class_version >> 4;
        if !(1..=5).contains(&version) {
            return Err(Error::UnsupportedVersion {
                what: "datatype",
                offset: at,
                version,
            });
        }
        let bits = c.take(3)?;
        let bit = |i: usize| bits.get(i).copied().unwrap_or_default();
        let size = c.u32()?;
        let n_members = usize::from(bit(0)) | usize::from(bit(1)) << 8;
        Ok(match class {
            0 => {
                c.skip(4)?;
                Datatype::Integer {
                    size,
                    signed: bit(0) & 0x08 != 0,
                    big_endian: bit(0) & 0x01 != 0,
                }
            }
            1 => {
                c.skip(12)?;
                Datatype::Float {
                    size,
                    big_endian: bit(0) & 0x01 != 0,
                }
            }
            2 => {
                c.skip(2)?;
                Datatype::Time { size }
            }
            3 => Datatype::String {
                size,
                padding: match bit(0) & 0x0f {
                    0 => StringPadding::NullTerminated,
                    1 => StringPadding::NullPadded,
                    2 => StringPadding::SpacePadded,
                    other => return Err(invalid(c, format!("string padding {other}"))),
                },
                utf8: bit(0) >> 4 == 1,
            },
            4 => {
                c.skip(4)?;
                Datatype::Bitfield { size }
            }
            5 => {
                let tag = c.take(usize::from(bit(0)))?;
                let end = tag.iter().position(|b| *b == 0).unwrap_or(tag.len());
                Datatype::Opaque {
                    size,
                    tag: text(tag.get(..end).unwrap_or_default()),
                }
            }
            6 => {
                if n_members > MAX_TYPE_MEMBERS {
                    return Err(invalid(c, format!("{n_members} compound members")));
                }
                let mut members = Vec::new();
                for _ in 0..n_members {
                    let name_at = c.offset();
                    let name = text(c.cstring(MAX_NAME_BYTES)?);
                    let offset = match version {
                        1 | 2 => {
                            c.align(name_at, 8)?;
                            let offset = c.u32()?;
                            if version == 1 {
                                c.skip(1 + 3 + 4 + 4 + 16)?; // rank, reserved, permutation, reserved, dims
                            }
                            offset
                        }
                        _ => u32::try_from(c.uint(bytes_for(size))?).unwrap_or(u32::MAX),
                    };
                    let member = self.datatype(c, depth + 1)?;
                    members.push((name, offset, member));
                }
                Datatype::Compound { size, members }
            }
            7 => Datatype::Reference { size },
            8 => {
                if n_members > MAX_TYPE_MEMBERS {
                    return Err(invalid(c, format!("{n_members} enumeration members")));
                }
                let base = self.datatype(c, depth + 1)?;
                let mut names = Vec::new();
                for _ in 0..n_members {
                    let name_at = c.offset();
                    names.push(text(c.cstring(MAX_NAME_BYTES)?));
                    if version < 3 {
                        c.align(name_at, 8)?;
                    }
                }
                let values = base
                    .size()
                    .checked_mul(n_members as u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid(c, "enumeration values overflow"))?;
                c.skip(values)?;
                Datatype::Enum {
                    base: Box::new(base),
                    names,
                }
            }
            9 => {
                let is_string = bit(0) & 0x0f == 1;
                let utf8 = bit(1) & 0x0f == 1;
                let base = self.datatype(c, depth + 1)?;
                if is_string {
                    Datatype::VarString { size, utf8 }
                } else {
                    Datatype::VarSequence {
                        size,
                        base: Box::new(base),
                    }
                }
            }
            10 => {
                let rank = usize::from(c.u8()?);
                if rank > MAX_RANK {
                    return Err(invalid(c, format!("array of rank {rank}")));
                }
                if version < 3 {
                    c.skip(3)?;
                }
                let mut dims = Vec::with_capacity(rank);
                for _ in 0..rank {
                    dims.push(c.u32()?);
                }
                if version < 3 {
                    c.skip(4 * rank)?; // permutation
                }
                let base = self.datatype(c, depth + 1)?;
                Datatype::Array {
                    dims,
                    base: Box::new(base),
                }
            }
            _ => {
                return Err(Error::Unsupported {
                    what: "datatype class",
                    offset: at,
                });
            }
        })
    }

    /// A dataspace (IV.A.2.b).
    pub(crate) fn dataspace(&mut self, c: &mut Cursor<'a>) -> Result<Dataspace, Error> {
        let at = c.offset();
        let version = c.u8()?;
        let rank = usize::from(c.u8()?);
        let flags = c.u8()?;
        if rank > MAX_RANK {
            return Err(invalid(c, format!("dataspace of rank {rank}")));
        }
        let kind = match version {
            1 => {
                c.skip(5)?;
                if rank == 0 {
                    DataspaceKind::Scalar
                } else {
                    DataspaceKind::Simple
                }
            }
            2 => match c.u8()? {
                0 => DataspaceKind::Scalar,
                1 => DataspaceKind::Simple,
                2 => DataspaceKind::Null,
                other => return Err(invalid(c, format!("dataspace type {other}"))),
            },
            _ => {
                return Err(Error::UnsupportedVersion {
                    what: "dataspace",
                    offset: at,
                    version,
                });
            }
        };
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(self.length(c)?);
        }
        let max_dims = if flags & 0x01 != 0 {
            let mut max = Vec::with_capacity(rank);
            for _ in 0..rank {
                max.push(self.length(c)?);
            }
            Some(max)
        } else {
            None
        };
        Ok(Dataspace {
            kind,
            dims,
            max_dims,
        })
    }

    /// A data layout message (IV.A.2.i).
    pub(crate) fn layout(&mut self, message: &Message<'a>) -> Result<Layout, Error> {
        let mut c = self.message_cursor(message, "data layout message")?;
        let at = c.offset();
        let version = c.u8()?;
        match version {
            1 | 2 => {
                let rank = usize::from(c.u8()?);
                let class = c.u8()?;
                c.skip(5)?;
                if rank > MAX_RANK + 1 {
                    return Err(invalid(&c, format!("layout of rank {rank}")));
                }
                let address = if class == 0 {
                    None
                } else {
                    self.address(&mut c)?
                };
                let mut dims = Vec::with_capacity(rank);
                for _ in 0..rank {
                    dims.push(u64::from(c.u32()?));
                }
                match class {
                    0 => {
                        let size = c.u32()?;
                        let offset = c.offset();
                        c.skip(usize::try_from(size).unwrap_or(usize::MAX))?;
                        Ok(Layout::Compact {
                            offset,
                            size: u64::from(size),
                        })
                    }
                    1 => Ok(Layout::Contiguous {
                        address,
                        size: dims
                            .iter()
                            .try_fold(1u64, |n, d| n.checked_mul(*d))
                            .unwrap_or(u64::MAX),
                    }),
                    2 => {
                        c.skip(4)?; // element size
                        let chunks = match address {
                            Some(a) => Some(self.chunk_btree(a, rank)?),
                            None => None,
                        };
                        Ok(Layout::Chunked {
                            chunk_dims: dims,
                            index: ChunkIndex::BTreeV1,
                            address,
                            chunks,
                        })
                    }
                    other => Err(invalid(&c, format!("layout class {other}"))),
                }
            }
            // Version 5 (HDF5 2.0) encodes like version 4.
            3..=5 => {
                let class = c.u8()?;
                match class {
                    0 => {
                        let size = c.u16()?;
                        let offset = c.offset();
                        c.skip(usize::from(size))?;
                        Ok(Layout::Compact {
                            offset,
                            size: u64::from(size),
                        })
                    }
                    1 => {
                        let address = self.address(&mut c)?;
                        let size = self.length(&mut c)?;
                        Ok(Layout::Contiguous { address, size })
                    }
                    2 if version == 3 => {
                        let rank = usize::from(c.u8()?);
                        if rank == 0 || rank > MAX_RANK + 1 {
                            return Err(invalid(&c, format!("chunk rank {rank}")));
                        }
                        let address = self.address(&mut c)?;
                        let mut dims = Vec::with_capacity(rank);
                        for _ in 0..rank {
                            dims.push(u64::from(c.u32()?));
                        }
                        dims.pop(); // the element size
                        let chunks = match address {
                            Some(a) => Some(self.chunk_btree(a, rank)?),
                            None => None,
                        };
                        Ok(Layout::Chunked {
                            chunk_dims: dims,
                            index: ChunkIndex::BTreeV1,
                            address,
                            chunks,
                        })
                    }
                    2 => {
                        let flags = c.u8()?;
                        let rank = usize::from(c.u8()?);
                        let width = usize::from(c.u8()?);
                        if rank == 0 || rank > MAX_RANK + 1 || !(1..=8).contains(&width) {
                            return Err(invalid(
                                &c,
                                format!("chunk rank {rank}, dimension width {width}"),
                            ));
                        }
                        let mut dims = Vec::with_capacity(rank);
                        for _ in 0..rank {
                            dims.push(c.uint(width)?);
                        }
                        let element_size = dims.pop().unwrap_or_default();
                        let index_type = c.u8()?;
                        let mut filtered_size = None;
                        let index = match index_type {
                            1 => {
                                if flags & 0x02 != 0 {
                                    filtered_size = Some(self.length(&mut c)?);
                                    c.skip(4)?;
                                }
                                ChunkIndex::SingleChunk
                            }
                            2 => ChunkIndex::Implicit,
                            3 => {
                                c.skip(1)?;
                                ChunkIndex::FixedArray
                            }
                            4 => {
                                c.skip(5)?;
                                ChunkIndex::ExtensibleArray
                            }
                            5 => {
                                c.skip(6)?;
                                ChunkIndex::BTreeV2
                            }
                            other => return Err(invalid(&c, format!("chunk index type {other}"))),
                        };
                        let address = self.address(&mut c)?;
                        let chunk_bytes =
                            dims.iter().try_fold(element_size, |n, d| n.checked_mul(*d));
                        let chunks = match (index, address) {
                            (ChunkIndex::FixedArray, Some(array)) => {
                                self.fixed_array(array, chunk_bytes)?
                            }
                            (ChunkIndex::SingleChunk, Some(_)) => filtered_size
                                .or_else(|| {
                                    dims.iter().try_fold(element_size, |n, d| n.checked_mul(*d))
                                })
                                .map(|bytes| (1, bytes)),
                            _ => None,
                        };
                        Ok(Layout::Chunked {
                            chunk_dims: dims,
                            index,
                            address,
                            chunks,
                        })
                    }
                    3 if version >= 4 => {
                        let address = self.address(&mut c)?;
                        c.skip(4)?;
                        Ok(Layout::Virtual { address })
                    }
                    other => Err(invalid(&c, format!("layout class {other}"))),
                }
            }
            _ => Err(Error::UnsupportedVersion {
                what: "data layout message",
                offset: at,
                version,
            }),
        }
    }

    /// A filter pipeline message (IV.A.2.l).
    pub(crate) fn filters(&mut self, message: &Message<'a>) -> Result<Vec<Filter>, Error> {
        let mut c = self.message_cursor(message, "filter pipeline message")?;
        let at = c.offset();
        let version = c.u8()?;
        let n = usize::from(c.u8()?);
        if n > MAX_FILTERS {
            return Err(invalid(&c, format!("{n} filters")));
        }
        if !(1..=2).contains(&version) {
            return Err(Error::UnsupportedVersion {
                what: "filter pipeline message",
                offset: at,
                version,
            });
        }
        if version == 1 {
            c.skip(6)?;
        }
        let mut filters = Vec::with_capacity(n);
        for _ in 0..n {
            let id = c.u16()?;
            let name_len = if version == 1 || id >= 256 {
                usize::from(c.u16()?)
            } else {
                0
            };
            let flags = c.u16()?;
            let n_values = usize::from(c.u16()?);
            let name = if name_len > 0 {
                let raw = c.take(name_len)?;
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                Some(text(raw.get(..end).unwrap_or_default()))
            } else {
                None
            };
            let mut values = Vec::with_capacity(n_values.min(256));
            for _ in 0..n_values {
                values.push(c.u32()?);
            }
            if version == 1 && n_values % 2 == 1 {
                c.skip(4)?;
            }
            filters.push(Filter {
                id,
                name,
                optional: flags & 0x01 != 0,
                values,
            });
        }
        Ok(filters)
    }

    /// A link message (IV.A.2.g), from an object header or a fractal heap.
    pub(crate) fn link(&mut self, offset: u64, data: &'a [u8]) -> Result<LinkEntry, Error> {
        let mut c = Cursor::new(self.data, offset, data.len() as u64, "link message")?;
        let version = c.u8()?;
        if version != 1 {
            return Err(Error::UnsupportedVersion {
                what: "link message",
                offset,
                version,
            });
        }
        let flags = c.u8()?;
        let link_type = if flags & 0x08 != 0 { c.u8()? } else { 0 };
        if flags & 0x04 != 0 {
            c.skip(8)?;
        }
        if flags & 0x10 != 0 {
            c.skip(1)?;
        }
        let name_len = usize::try_from(c.uint(1 << (flags & 0x03))?).unwrap_or(usize::MAX);
        if name_len == 0 || name_len > MAX_NAME_BYTES {
            return Err(invalid(&c, format!("link name of {name_len} bytes")));
        }
        let name = c.take(name_len)?.to_vec();
        self.charge(name_len as u64, offset)?;
        let target = match link_type {
            0 => Target::Hard(self.defined_address(&mut c)?),
            1 => {
                let len = usize::from(c.u16()?);
                Target::Other(LinkTarget::Soft(text(c.take(len)?)))
            }
            64 => {
                let len = usize::from(c.u16()?);
                let mut info = Cursor::new(self.data, c.offset(), len as u64, "external link")?;
                info.skip(1)?; // version and flags
                let file = text(info.cstring(len)?);
                let object = text(info.cstring(len)?);
                Target::Other(LinkTarget::External { file, object })
            }
            other => Target::Other(LinkTarget::UserDefined(other)),
        };
        Ok(LinkEntry { name, target })
    }

    /// A link info message: fractal heap and name index addresses.
    pub(crate) fn link_info(
        &mut self,
        message: &Message<'a>,
    ) -> Result<(Option<u64>, Option<u64>), Error> {
        let mut c = self.message_cursor(message, "link info message")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                what: "link info message",
                offset: message.offset,
                version,
            });
        }
        let flags = c.u8()?;
        if flags & 0x01 != 0 {
            c.skip(8)?;
        }
        let heap = self.address(&mut c)?;
        let names = self.address(&mut c)?;
        Ok((heap, names))
    }

    /// An attribute info message: fractal heap and name index addresses.
    pub(crate) fn attribute_info(
        &mut self,
        message: &Message<'a>,
    ) -> Result<(Option<u64>, Option<u64>), Error> {
        let mut c = self.message_cursor(message, "attribute info message")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                what: "attribute info message",
                offset: message.offset,
                version,
            });
        }
        let flags = c.u8()?;
        if flags & 0x01 != 0 {
            c.skip(2)?;
        }
        let heap = self.address(&mut c)?;
        let names = self.address(&mut c)?;
        Ok((heap, names))
    }

    /// An attribute message (IV.A.2.m) and its value.
    pub(crate) fn attribute(&mut self, offset: u64, data: &'a [u8]) -> Result<Attribute, Error> {
        let mut c = Cursor::new(self.data, offset, data.len() as u64, "attribute message")?;
        let version = c.u8()?;
        if !(1..=3).contains(&version) {
            return Err(Error::UnsupportedVersion {
                what: "attribute message",
                offset,
                version,
            });
        }
        let flags = c.u8()?; // reserved in version 1
        let name_size = usize::from(c.u16()?);
        let type_size = usize::from(c.u16()?);
        let space_size = usize::from(c.u16()?);
        if version == 3 {
            c.skip(1)?; // name character set
        }
        let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
        let raw_name = c.take(pad(name_size))?;
        let name_end = raw_name
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(raw_name.len())
            .min(name_size);
        let name = text(raw_name.get(..name_end).unwrap_or_default());
        self.charge(name.len() as u64, offset)?;
        let type_at = c.offset();
        let mut type_cursor = Cursor::new(
            self.data,
            type_at,
            pad(type_size) as u64,
            "attribute datatype",
        )?;
        c.skip(pad(type_size))?;
        let datatype = if version > 1 && flags & 0x01 != 0 {
            self.shared_datatype(&mut type_cursor)?
        } else {
            self.datatype(&mut type_cursor, 0)?
        };
        if version > 1 && flags & 0x02 != 0 {
            return Err(Error::Unsupported {
                what: "shared dataspace in an attribute",
                offset: c.offset(),
            });
        }
        let mut space_cursor = Cursor::new(
            self.data,
            c.offset(),
            pad(space_size) as u64,
            "attribute dataspace",
        )?;
        c.skip(pad(space_size))?;
        let dataspace = self.dataspace(&mut space_cursor)?;
        let value = self.attribute_value(&mut c, &datatype, &dataspace, &name)?;
        Ok(Attribute {
            name,
            datatype,
            dataspace,
            value,
        })
    }

    fn attribute_value(
        &mut self,
        c: &mut Cursor<'a>,
        datatype: &Datatype,
        dataspace: &Dataspace,
        name: &str,
    ) -> Result<AttributeValue, Error> {
        let at = c.offset();
        let n = dataspace
            .n_elements()
            .ok_or_else(|| invalid(c, format!("attribute '{name}' has too many elements")))?;
        let size = datatype.size();
        let total = n
            .checked_mul(size)
            .ok_or_else(|| invalid(c, format!("attribute '{name}' size overflows")))?;
        if total > c.remaining() as u64 {
            return Err(invalid(
                c,
                format!(
                    "attribute '{name}' holds {total} bytes of data, its message {}",
                    c.remaining()
                ),
            ));
        }
        if total > self.limits.max_attribute_bytes {
            return Ok(AttributeValue::NotRead {
                reason: format!("{total} bytes, above max_attribute_bytes"),
            });
        }
        self.charge(total, at)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let bytes = c.take(n.saturating_mul(size))?;
        let elements = || bytes.chunks_exact(size.max(1));
        Ok(match datatype {
            Datatype::String { padding, .. } => AttributeValue::Strings(
                elements()
                    .map(|e| {
                        let end = match padding {
                            StringPadding::NullTerminated => {
                                e.iter().position(|b| *b == 0).unwrap_or(e.len())
                            }
                            StringPadding::NullPadded => {
                                e.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1)
                            }
                            StringPadding::SpacePadded => {
                                e.iter().rposition(|b| *b != b' ').map_or(0, |i| i + 1)
                            }
                        };
                        e.get(..end).unwrap_or_default().to_vec()
                    })
                    .collect(),
            ),
            Datatype::VarString { .. } => {
                let mut strings = Vec::with_capacity(n.min(1 << 16));
                for (i, element) in elements().enumerate() {
                    let element_at = at + (i * size) as u64;
                    let mut e =
                        Cursor::new(self.data, element_at, size as u64, "variable-length string")?;
                    let len = u64::from(e.u32()?);
                    let collection = self.address(&mut e)?;
                    let index = e.u32()?;
                    let _ = element;
                    let Some(collection) = collection else {
                        strings.push(Vec::new());
                        continue;
                    };
                    if len > self.limits.max_attribute_bytes {
                        return Ok(AttributeValue::NotRead {
                            reason: format!("a {len}-byte string, above max_attribute_bytes"),
                        });
                    }
                    let object = self.global_object(collection, index, element_at)?;
                    let text = object
                        .get(..usize::try_from(len).unwrap_or(usize::MAX))
                        .ok_or(Error::Invalid {
                            what: "variable-length string",
                            offset: element_at,
                            reason: format!(
                                "{len} bytes claimed, heap object holds {}",
                                object.len()
                            ),
                        })?;
                    self.charge(len, element_at)?;
                    strings.push(text.to_vec());
                }
                AttributeValue::Strings(strings)
            }
            Datatype::Integer {
                size: 1 | 2 | 4 | 8,
                signed,
                big_endian,
            } => integers(elements(), *signed, *big_endian),
            Datatype::Enum { base, .. } => match base.as_ref() {
                Datatype::Integer {
                    size: 1 | 2 | 4 | 8,
                    signed,
                    big_endian,
                } => integers(elements(), *signed, *big_endian),
                _ => AttributeValue::Raw(bytes.to_vec()),
            },
            Datatype::Float {
                size: 2 | 4 | 8,
                big_endian,
            } => AttributeValue::Floats(
                elements()
                    .map(|e| {
                        let mut raw = [0u8; 8];
                        for (slot, byte) in raw.iter_mut().zip(e.iter()) {
                            *slot = *byte;
                        }
                        let k = e.len();
                        if *big_endian {
                            raw.get_mut(..k).unwrap_or_default().reverse();
                        }
                        match k {
                            2 => half(u16::from_le_bytes([raw[0], raw[1]])),
                            4 => f64::from(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
                            _ => f64::from_le_bytes(raw),
                        }
                    })
                    .collect(),
            ),
            Datatype::VarSequence { .. } | Datatype::Reference { .. } => AttributeValue::NotRead {
                reason: "the values are references to elsewhere in the file".to_string(),
            },
            _ => AttributeValue::Raw(bytes.to_vec()),
        })
    }
}

fn integers<'b>(
    elements: impl Iterator<Item = &'b [u8]>,
    signed: bool,
    big_endian: bool,
) -> AttributeValue {
    let values = elements.map(|e| {
        let k = e.len();
        let value = if big_endian {
            e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        } else {
            e.iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        };
        (value, k)
    });
    if signed {
        AttributeValue::Ints(
            values
                .map(|(v, k)| {
                    let shift = 64 - 8 * k as u32;
                    ((v << shift) as i64) >> shift
                })
                .collect(),
        )
    } else {
        AttributeValue::UInts(values.map(|(v, _)| v).collect())
    }
}

/// An IEEE half-precision value.
fn half(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}
