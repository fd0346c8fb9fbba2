//! The walk: superblock, object headers, and the traversal of the group
//! graph from the root.

use std::collections::{HashMap, HashSet};

use crate::checksum::lookup3;
use crate::cursor::{Cursor, add};
use crate::types::{
    Attribute, Dataset, Dataspace, Datatype, File, Filter, Group, GroupStorage, Link, Superblock,
};
use crate::{Error, Limits, MAX_PATH_BYTES, SIGNATURE};

mod messages;
mod structures;

pub(crate) use messages::LinkEntry;

/// Message types (HDF5 specification IV.A.2).
pub(crate) mod kind {
    pub(crate) const DATASPACE: u16 = 0x01;
    pub(crate) const LINK_INFO: u16 = 0x02;
    pub(crate) const DATATYPE: u16 = 0x03;
    pub(crate) const LINK: u16 = 0x06;
    pub(crate) const EXTERNAL_FILES: u16 = 0x07;
    pub(crate) const LAYOUT: u16 = 0x08;
    pub(crate) const GROUP_INFO: u16 = 0x0A;
    pub(crate) const FILTERS: u16 = 0x0B;
    pub(crate) const ATTRIBUTE: u16 = 0x0C;
    pub(crate) const CONTINUATION: u16 = 0x10;
    pub(crate) const SYMBOL_TABLE: u16 = 0x11;
    pub(crate) const ATTRIBUTE_INFO: u16 = 0x15;
}

/// Message flag: the message is stored elsewhere (shared).
pub(crate) const FLAG_SHARED: u8 = 0x02;

/// Where the HDF5 signature is: offset 0, or 512, 1024, 2048 … after a
/// user block.
pub fn find_signature(bytes: &[u8]) -> Option<u64> {
    let mut offset = 0usize;
    loop {
        if bytes.get(offset..offset.checked_add(SIGNATURE.len())?)? == SIGNATURE {
            return u64::try_from(offset).ok();
        }
        offset = if offset == 0 {
            512
        } else {
            offset.checked_mul(2)?
        };
    }
}

/// One object header message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    pub(crate) kind: u16,
    pub(crate) flags: u8,
    /// Absolute offset of the message data.
    pub(crate) offset: u64,
    pub(crate) data: &'a [u8],
}

/// The state of one walk over one file.
pub(crate) struct Reader<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) base: u64,
    pub(crate) size_of_offsets: usize,
    pub(crate) size_of_lengths: usize,
    pub(crate) limits: &'a Limits,
    bytes: u64,
    attributes: usize,
    links: usize,
    /// Global heap collections already read: collection → index → (offset, size).
    pub(crate) global_heaps: HashMap<u64, HashMap<u16, (u64, u64)>>,
    /// Committed datatypes already read, by object header address.
    pub(crate) named_types: HashMap<u64, Datatype>,
}

impl<'a> Reader<'a> {
    /// Count `n` bytes against [`Limits::max_bytes`].
    pub(crate) fn charge(&mut self, n: u64, offset: u64) -> Result<(), Error> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_bytes {
            return Err(Error::LimitExceeded {
                limit: "max_bytes",
                max: self.limits.max_bytes,
                offset,
            });
        }
        Ok(())
    }

    /// A cursor over `len` bytes at absolute `at`, charged to the budget.
    pub(crate) fn cursor(
        &mut self,
        at: u64,
        len: u64,
        what: &'static str,
    ) -> Result<Cursor<'a>, Error> {
        let cursor = Cursor::new(self.data, at, len, what)?;
        self.charge(len, at)?;
        Ok(cursor)
    }

    /// A cursor from `at` to the end of the file (nothing charged: the
    /// caller charges what it reads).
    pub(crate) fn open(&self, at: u64, what: &'static str) -> Result<Cursor<'a>, Error> {
        Cursor::open_ended(self.data, at, what)
    }

    /// An address field: absolute offset, or `None` for the undefined address.
    pub(crate) fn address(&self, cursor: &mut Cursor<'_>) -> Result<Option<u64>, Error> {
        let at = cursor.offset();
        let value = cursor.uint(self.size_of_offsets)?;
        let undefined = if self.size_of_offsets >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.size_of_offsets)) - 1
        };
        if value == undefined {
            return Ok(None);
        }
        self.base
            .checked_add(value)
            .map(Some)
            .ok_or(Error::Invalid {
                what: cursor.what(),
                offset: at,
                reason: format!("address {value} overflows"),
            })
    }

    /// An address that must be defined.
    pub(crate) fn defined_address(&self, cursor: &mut Cursor<'_>) -> Result<u64, Error> {
        let at = cursor.offset();
        self.address(cursor)?.ok_or(Error::Invalid {
            what: cursor.what(),
            offset: at,
            reason: "undefined address".to_string(),
        })
    }

    /// A length field.
    pub(crate) fn length(&self, cursor: &mut Cursor<'_>) -> Result<u64, Error> {
        cursor.uint(self.size_of_lengths)
    }

    /// Check the lookup3 checksum stored right after `[start, end)`.
    pub(crate) fn verify(&mut self, what: &'static str, start: u64, end: u64) -> Result<(), Error> {
        let mut cursor = Cursor::new(self.data, end, 4, what)?;
        let stored = cursor.u32()?;
        if !self.limits.verify_checksums {
            return Ok(());
        }
        let len = end.checked_sub(start).ok_or(Error::Invalid {
            what,
            offset: start,
            reason: "checksummed range ends before it starts".to_string(),
        })?;
        let bytes = Cursor::new(self.data, start, len, what)?
            .take(usize::try_from(len).unwrap_or(usize::MAX))?;
        let computed = lookup3(bytes);
        if stored != computed {
            return Err(Error::Checksum {
                what,
                offset: start,
                stored,
                computed,
            });
        }
        Ok(())
    }

    fn count_attribute(&mut self, offset: u64) -> Result<(), Error> {
        self.attributes += 1;
        if self.attributes > self.limits.max_attributes {
            return Err(limit("max_attributes", self.limits.max_attributes, offset));
        }
        Ok(())
    }

    pub(crate) fn count_link(&mut self, offset: u64) -> Result<(), Error> {
        self.links += 1;
        if self.links > self.limits.max_links {
            return Err(limit("max_links", self.limits.max_links, offset));
        }
        Ok(())
    }

    /// Every message of the object header at `address`, continuation
    /// blocks included.
    pub(crate) fn object_header(&mut self, address: u64) -> Result<Vec<Message<'a>>, Error> {
        let mut prefix = self.open(address, "object header")?;
        let v2 = prefix.take(4).is_ok_and(|s| s == b"OHDR");
        let mut blocks: Vec<(u64, u64)> = Vec::new();
        let mut messages = Vec::new();
        let mut seen = HashSet::new();
        let mut creation_order = false;
        if v2 {
            let version = prefix.u8()?;
            if version != 2 {
                return Err(Error::UnsupportedVersion {
                    what: "object header",
                    offset: address,
                    version,
                });
            }
            let flags = prefix.u8()?;
            if flags & 0x20 != 0 {
                prefix.skip(16)?; // access, modification, change, birth times
            }
            if flags & 0x10 != 0 {
                prefix.skip(4)?; // attribute storage phase change values
            }
            creation_order = flags & 0x04 != 0;
            let size = prefix.uint(1 << (flags & 0x03))?;
            let start = prefix.offset();
            let end = add(start, size, "object header")?;
            self.charge(end - address, address)?;
            self.verify("object header", address, end)?;
            self.header_block(start, end, true, creation_order, &mut messages, &mut blocks)?;
        } else {
            let mut prefix = self.cursor(address, 16, "object header")?;
            let version = prefix.u8()?;
            if version != 1 {
                return Err(Error::UnsupportedVersion {
                    what: "object header",
                    offset: address,
                    version,
                });
            }
            prefix.skip(3)?; // reserved, number of messages
            prefix.skip(4)?; // reference count
            let size = u64::from(prefix.u32()?);
            let start = add(address, 16, "object header")?;
            let end = add(start, size, "object header")?;
            self.charge(size, address)?;
            self.header_block(start, end, false, false, &mut messages, &mut blocks)?;
        }
        let mut n_blocks = 1usize;
        while let Some((at, len)) = blocks.pop() {
            n_blocks += 1;
            if n_blocks > self.limits.max_nodes {
                return Err(limit("max_nodes", self.limits.max_nodes, at));
            }
            if !seen.insert(at) {
                return Err(Error::Invalid {
                    what: "object header continuation",
                    offset: at,
                    reason: "continuation block read twice (a loop)".to_string(),
                });
            }
            self.charge(len, at)?;
            if v2 {
                let mut block = Cursor::new(self.data, at, len, "object header continuation")?;
                block.signature(b"OCHK")?;
                let end = at
                    .checked_add(len)
                    .and_then(|e| e.checked_sub(4))
                    .filter(|e| *e >= at + 4)
                    .ok_or(Error::Invalid {
                        what: "object header continuation",
                        offset: at,
                        reason: format!("block of {len} bytes"),
                    })?;
                self.verify("object header continuation", at, end)?;
                self.header_block(
                    at + 4,
                    end,
                    true,
                    creation_order,
                    &mut messages,
                    &mut blocks,
                )?;
            } else {
                let end = add(at, len, "object header continuation")?;
                self.header_block(at, end, false, false, &mut messages, &mut blocks)?;
            }
        }
        Ok(messages)
    }

    /// The messages of one header block `[start, end)`.
    fn header_block(
        &mut self,
        start: u64,
        end: u64,
        v2: bool,
        creation_order: bool,
        messages: &mut Vec<Message<'a>>,
        blocks: &mut Vec<(u64, u64)>,
    ) -> Result<(), Error> {
        let len = end.saturating_sub(start);
        let mut cursor = Cursor::new(self.data, start, len, "object header message")?;
        let header_size = if v2 {
            4 + 2 * usize::from(creation_order)
        } else {
            8
        };
        while cursor.remaining() >= header_size {
            let at = cursor.offset();
            let (kind, size, flags) = if v2 {
                let kind = u16::from(cursor.u8()?);
                let size = cursor.u16()?;
                let flags = cursor.u8()?;
                if creation_order {
                    cursor.skip(2)?;
                }
                (kind, size, flags)
            } else {
                let kind = cursor.u16()?;
                let size = cursor.u16()?;
                let flags = cursor.u8()?;
                cursor.skip(3)?;
                (kind, size, flags)
            };
            let offset = cursor.offset();
            let data = cursor.take(usize::from(size))?;
            if messages.len() >= self.limits.max_messages {
                return Err(limit("max_messages", self.limits.max_messages, at));
            }
            if kind == kind::CONTINUATION {
                let mut c =
                    Cursor::new(self.data, offset, u64::from(size), "continuation message")?;
                let address = self.defined_address(&mut c)?;
                let length = self.length(&mut c)?;
                blocks.push((address, length));
            }
            messages.push(Message {
                kind,
                flags,
                offset,
                data,
            });
        }
        Ok(())
    }
}

pub(crate) fn limit(name: &'static str, max: usize, offset: u64) -> Error {
    Error::LimitExceeded {
        limit: name,
        max: u64::try_from(max).unwrap_or(u64::MAX),
        offset,
    }
}

fn check_size(size: u8, what: &'static str, offset: u64) -> Result<usize, Error> {
    match size {
        2 | 4 | 8 => Ok(usize::from(size)),
        _ => Err(Error::Invalid {
            what,
            offset,
            reason: format!("field size {size} (2, 4 or 8 expected)"),
        }),
    }
}

/// The superblock at `at` and the absolute address of the root group's
/// object header.
fn superblock(data: &[u8], at: u64, limits: &Limits) -> Result<(Superblock, u64), Error> {
    let mut c = Cursor::open_ended(data, at, "superblock")?;
    c.skip(SIGNATURE.len())?;
    let version = c.u8()?;
    let (size_of_offsets, size_of_lengths, eof, root) = match version {
        0 | 1 => {
            c.skip(4)?; // free-space, root symbol table, reserved, shared header versions
            let so = c.u8()?;
            let sl = c.u8()?;
            let so_size = check_size(so, "superblock size of offsets", at)?;
            let sl_size = check_size(sl, "superblock size of lengths", at)?;
            c.skip(1 + 2 + 2 + 4)?; // reserved, leaf K, internal K, flags
            if version == 1 {
                c.skip(4)?; // indexed storage K, reserved
            }
            c.skip(so_size)?; // base address: the signature's offset is used, as the library does
            c.skip(so_size)?; // free-space info
            let eof = c.uint(so_size)?;
            c.skip(so_size)?; // driver info
            c.skip(sl_size)?; // root entry: link name offset
            let root = c.uint(so_size)?;
            c.skip(4 + 4 + 16)?;
            (so, sl, eof, root)
        }
        2 | 3 => {
            let so = c.u8()?;
            let sl = c.u8()?;
            let so_size = check_size(so, "superblock size of offsets", at)?;
            check_size(sl, "superblock size of lengths", at)?;
            c.skip(1)?; // flags
            c.skip(so_size)?; // base address
            c.skip(so_size)?; // superblock extension
            let eof = c.uint(so_size)?;
            let root = c.uint(so_size)?;
            let end = c.offset();
            let stored = c.u32()?;
            if limits.verify_checksums {
                let len = usize::try_from(end - at).unwrap_or(usize::MAX);
                let bytes = Cursor::new(data, at, end - at, "superblock")?.take(len)?;
                let computed = lookup3(bytes);
                if computed != stored {
                    return Err(Error::Checksum {
                        what: "superblock",
                        offset: at,
                        stored,
                        computed,
                    });
                }
            }
            (so, sl, eof, root)
        }
        _ => {
            return Err(Error::UnsupportedVersion {
                what: "superblock",
                offset: at,
                version,
            });
        }
    };
    let undefined = |v: u64| {
        size_of_offsets < 8 && v == (1u64 << (8 * u32::from(size_of_offsets))) - 1 || v == u64::MAX
    };
    // The library writes the end-of-file address as an absolute offset
    // (with a user block too): a file shorter than it was cut.
    if !undefined(eof) && eof > data.len() as u64 {
        return Err(Error::Truncated {
            what: "file (shorter than the superblock's end-of-file address)",
            offset: data.len() as u64,
        });
    }
    if undefined(root) {
        return Err(Error::Invalid {
            what: "superblock",
            offset: at,
            reason: "no root group".to_string(),
        });
    }
    let root = add(at, root, "superblock root address")?;
    Ok((
        Superblock {
            version,
            offset: at,
            size_of_offsets,
            size_of_lengths,
            end_of_file: eof,
        },
        root,
    ))
}

/// What one object header holds.
#[derive(Default)]
struct Object<'a> {
    datatype: Option<Datatype>,
    dataspace: Option<Dataspace>,
    filters: Vec<Filter>,
    external_files: bool,
    attributes: Vec<Attribute>,
    links: Vec<LinkEntry>,
    symbol_table: Option<(u64, u64)>,
    link_info: Option<(Option<u64>, Option<u64>)>,
    attribute_info: Option<(Option<u64>, Option<u64>)>,
    group_info: bool,
    layout_message: Option<Message<'a>>,
}

impl File {
    /// Read the structure of the HDF5 file in `bytes`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<File, Error> {
        let at = find_signature(bytes).ok_or(Error::NoSignature)?;
        let (superblock, root) = superblock(bytes, at, limits)?;
        let mut reader = Reader {
            data: bytes,
            base: at,
            size_of_offsets: usize::from(superblock.size_of_offsets),
            size_of_lengths: usize::from(superblock.size_of_lengths),
            limits,
            bytes: 0,
            attributes: 0,
            links: 0,
            global_heaps: HashMap::new(),
            named_types: HashMap::new(),
        };
        let mut file = File {
            superblock,
            groups: Vec::new(),
            datasets: Vec::new(),
            named_datatypes: Vec::new(),
            links: Vec::new(),
        };
        reader.walk(root, &mut file)?;
        Ok(file)
    }
}

impl<'a> Reader<'a> {
    fn object(&mut self, address: u64) -> Result<Object<'a>, Error> {
        let messages = self.object_header(address)?;
        let mut object = Object::default();
        for message in messages {
            match message.kind {
                kind::DATATYPE => object.datatype = Some(self.datatype_message(&message)?),
                kind::DATASPACE => {
                    if message.flags & FLAG_SHARED != 0 {
                        return Err(Error::Unsupported {
                            what: "shared dataspace message",
                            offset: message.offset,
                        });
                    }
                    let mut c = Cursor::new(
                        self.data,
                        message.offset,
                        message.data.len() as u64,
                        "dataspace message",
                    )?;
                    object.dataspace = Some(self.dataspace(&mut c)?);
                }
                kind::LAYOUT => object.layout_message = Some(message),
                kind::FILTERS => object.filters = self.filters(&message)?,
                kind::EXTERNAL_FILES => object.external_files = true,
                kind::ATTRIBUTE => {
                    self.count_attribute(message.offset)?;
                    if message.flags & FLAG_SHARED != 0 {
                        return Err(Error::Unsupported {
                            what: "shared attribute message",
                            offset: message.offset,
                        });
                    }
                    object
                        .attributes
                        .push(self.attribute(message.offset, message.data)?);
                }
                kind::LINK => {
                    self.count_link(message.offset)?;
                    object.links.push(self.link(message.offset, message.data)?);
                }
                kind::SYMBOL_TABLE => {
                    let mut c = Cursor::new(
                        self.data,
                        message.offset,
                        message.data.len() as u64,
                        "symbol table message",
                    )?;
                    let btree = self.defined_address(&mut c)?;
                    let heap = self.defined_address(&mut c)?;
                    object.symbol_table = Some((btree, heap));
                }
                kind::LINK_INFO => object.link_info = Some(self.link_info(&message)?),
                kind::ATTRIBUTE_INFO => {
                    object.attribute_info = Some(self.attribute_info(&message)?)
                }
                kind::GROUP_INFO => object.group_info = true,
                _ => {}
            }
        }
        if let Some((Some(heap), Some(names))) = object.attribute_info {
            for (offset, data) in self.dense_messages(heap, names, 8)? {
                self.count_attribute(offset)?;
                object.attributes.push(self.attribute(offset, data)?);
            }
        }
        Ok(object)
    }

    /// Walk the group graph from the root, depth first by name.
    fn walk(&mut self, root: u64, file: &mut File) -> Result<(), Error> {
        let mut stack: Vec<(String, u64, usize)> = vec![(String::new(), root, 0)];
        let mut visited = HashSet::new();
        while let Some((path, address, depth)) = stack.pop() {
            if !visited.insert(address) {
                continue; // another name for an object already listed (or a cycle)
            }
            if visited.len() > self.limits.max_objects {
                return Err(limit("max_objects", self.limits.max_objects, address));
            }
            let mut object = self.object(address)?;
            if let Some(message) = object.layout_message.take() {
                let (Some(datatype), Some(dataspace)) =
                    (object.datatype.take(), object.dataspace.take())
                else {
                    return Err(Error::Invalid {
                        what: "dataset object header",
                        offset: address,
                        reason: "a layout without a datatype and a dataspace".to_string(),
                    });
                };
                let layout = self.layout(&message)?;
                file.datasets.push(Dataset {
                    path,
                    address,
                    datatype,
                    dataspace,
                    layout,
                    filters: object.filters,
                    external_files: object.external_files,
                    attributes: object.attributes,
                });
                continue;
            }
            let is_group = object.symbol_table.is_some()
                || object.link_info.is_some()
                || object.group_info
                || !object.links.is_empty();
            if !is_group {
                if let Some(datatype) = object.datatype.take() {
                    file.named_datatypes.push((path, datatype));
                    continue;
                }
                return Err(Error::Invalid {
                    what: "object header",
                    offset: address,
                    reason: "neither a group, a dataset nor a named datatype".to_string(),
                });
            }
            let (storage, mut links) = if let Some((btree, heap)) = object.symbol_table {
                (GroupStorage::SymbolTable, self.symbol_table(btree, heap)?)
            } else if let Some((Some(heap), Some(names))) = object.link_info {
                let mut links = Vec::new();
                for (offset, data) in self.dense_messages(heap, names, 5)? {
                    self.count_link(offset)?;
                    links.push(self.link(offset, data)?);
                }
                (GroupStorage::Dense, links)
            } else {
                (GroupStorage::Compact, std::mem::take(&mut object.links))
            };
            links.sort_by(|a, b| a.name.cmp(&b.name));
            let n_links = links.len();
            if depth >= self.limits.max_depth && n_links > 0 {
                return Err(limit("max_depth", self.limits.max_depth, address));
            }
            for entry in links.into_iter().rev() {
                let name = String::from_utf8_lossy(&entry.name);
                let child = if path.is_empty() {
                    name.into_owned()
                } else {
                    format!("{path}/{name}")
                };
                if child.len() > MAX_PATH_BYTES {
                    return Err(limit("MAX_PATH_BYTES", MAX_PATH_BYTES, address));
                }
                self.charge(child.len() as u64, address)?;
                match entry.target {
                    messages::Target::Hard(target) => stack.push((child, target, depth + 1)),
                    messages::Target::Other(target) => file.links.push(Link {
                        path: child,
                        target,
                    }),
                }
            }
            file.groups.push(Group {
                path,
                address,
                storage,
                n_links,
                attributes: object.attributes,
            });
        }
        // Links were pushed in reverse within each group; keep file order by path.
        file.links.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }
}
