//! The file's indexing structures: version-1 B-trees with local heaps and
//! symbol table nodes (old-style groups, chunk indexes), version-2
//! B-trees with fractal heaps (dense links and attributes), and global
//! heap collections (variable-length data).

use std::collections::{HashMap, HashSet};

use crate::cursor::{Cursor, add};
use crate::read::messages::LinkEntry;
use crate::read::messages::Target;
use crate::read::{Reader, limit};
use crate::{Error, MAX_NAME_BYTES};

/// Deepest B-tree (either version) or fractal heap indirection followed.
const MAX_TREE_DEPTH: usize = 32;

fn invalid(what: &'static str, offset: u64, reason: impl Into<String>) -> Error {
    Error::Invalid {
        what,
        offset,
        reason: reason.into(),
    }
}

/// `floor(log2(n))` for n > 0, 0 for 0.
fn log2(n: u64) -> u32 {
    63u32.saturating_sub(n.leading_zeros())
}

/// Bytes needed to encode values up to `n` (`H5VM_limit_enc_size`).
fn enc_size(n: u64) -> usize {
    (log2(n) / 8 + 1) as usize
}

/// A fractal heap header (III.G), as far as object lookup needs.
struct FractalHeap {
    address: u64,
    id_len: usize,
    filtered: bool,
    checksummed_blocks: bool,
    width: u64,
    start_block: u64,
    max_direct_rows: u32,
    first_row_bits: u32,
    root: Option<u64>,
    root_rows: u32,
    offset_size: usize,
    length_size: usize,
    /// The B-tree v2 of huge objects.
    huge_btree: Option<u64>,
}

impl FractalHeap {
    /// Size of the blocks in row `row` of any indirect block.
    fn row_size(&self, row: u32) -> Option<u64> {
        if row == 0 {
            Some(self.start_block)
        } else {
            self.start_block.checked_shl(row - 1)
        }
    }

    /// Heap offset where row `row` starts, relative to its indirect block.
    fn row_offset(&self, row: u32) -> Option<u64> {
        if row == 0 {
            Some(0)
        } else {
            self.start_block
                .checked_mul(self.width)?
                .checked_shl(row - 1)
        }
    }
}

impl<'a> Reader<'a> {
    /// The links of an old-style group: B-tree v1 of symbol table nodes,
    /// names in the local heap.
    pub(crate) fn symbol_table(&mut self, btree: u64, heap: u64) -> Result<Vec<LinkEntry>, Error> {
        let mut h = self.cursor(heap, 8, "local heap")?;
        h.signature(b"HEAP")?;
        let version = h.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                what: "local heap",
                offset: heap,
                version,
            });
        }
        let mut h = self.open(heap + 8, "local heap")?;
        let segment_size = self.length(&mut h)?;
        self.length(&mut h)?; // free list
        let segment = self.defined_address(&mut h)?;
        Cursor::new(self.data, segment, segment_size, "local heap data segment")?;

        let mut links = Vec::new();
        let entry_size = self.size_of_lengths + self.size_of_offsets + 4 + 4 + 16;
        for node in self.btree_v1(btree, 0, 0)? {
            let (_, snod) = node;
            let mut c = self.cursor(snod, 8, "symbol table node")?;
            c.signature(b"SNOD")?;
            let version = c.u8()?;
            if version != 1 {
                return Err(Error::UnsupportedVersion {
                    what: "symbol table node",
                    offset: snod,
                    version,
                });
            }
            c.skip(1)?;
            let n = usize::from(c.u16()?);
            let mut entries =
                self.cursor(snod + 8, (n * entry_size) as u64, "symbol table entry")?;
            for _ in 0..n {
                let at = entries.offset();
                self.count_link(at)?;
                let name_offset = self.length(&mut entries)?;
                let object = self.defined_address(&mut entries)?;
                entries.skip(4 + 4 + 16)?;
                if name_offset >= segment_size {
                    return Err(invalid(
                        "symbol table entry",
                        at,
                        format!(
                            "name offset {name_offset} outside the local heap of {segment_size} bytes"
                        ),
                    ));
                }
                let mut name = Cursor::new(
                    self.data,
                    segment + name_offset,
                    segment_size - name_offset,
                    "link name",
                )?;
                let name = name.cstring(MAX_NAME_BYTES)?.to_vec();
                self.charge(name.len() as u64, at)?;
                links.push(LinkEntry {
                    name,
                    target: Target::Hard(object),
                });
            }
        }
        Ok(links)
    }

    /// The leaf children of a version-1 B-tree of `node_type` (0 groups,
    /// 1 chunks), each with the raw key before it. `key_size` is the
    /// chunk key size (ignored for groups).
    fn btree_v1(
        &mut self,
        root: u64,
        node_type: u8,
        key_size: usize,
    ) -> Result<Vec<(&'a [u8], u64)>, Error> {
        let key_size = if node_type == 0 {
            self.size_of_lengths
        } else {
            key_size
        };
        let mut leaves = Vec::new();
        let mut stack = vec![(root, None::<u8>)];
        let mut seen = HashSet::new();
        while let Some((address, expected_level)) = stack.pop() {
            if !seen.insert(address) {
                return Err(invalid(
                    "B-tree node",
                    address,
                    "node reached twice (a loop)",
                ));
            }
            // Chunk indexes grow with the data: bounded by the chunk limit.
            let (name, max) = if node_type == 0 {
                ("max_nodes", self.limits.max_nodes)
            } else {
                (
                    "max_chunks",
                    usize::try_from(self.limits.max_chunks).unwrap_or(usize::MAX),
                )
            };
            if seen.len() > max {
                return Err(limit(name, max, address));
            }
            let mut c = self.open(address, "B-tree node")?;
            c.signature(b"TREE")?;
            let found_type = c.u8()?;
            if found_type != node_type {
                return Err(invalid(
                    "B-tree node",
                    address,
                    format!("node type {found_type}, expected {node_type}"),
                ));
            }
            let level = c.u8()?;
            if expected_level.is_some_and(|l| l != level) || usize::from(level) > MAX_TREE_DEPTH {
                return Err(invalid(
                    "B-tree node",
                    address,
                    format!("level {level} out of order"),
                ));
            }
            let entries = usize::from(c.u16()?);
            c.skip(2 * self.size_of_offsets)?;
            let body = entries
                .checked_mul(key_size + self.size_of_offsets)
                .and_then(|n| n.checked_add(key_size))
                .ok_or(invalid("B-tree node", address, "size overflows"))?;
            let mut body = self.cursor(c.offset(), body as u64, "B-tree node")?;
            let mut children = Vec::with_capacity(entries);
            for _ in 0..entries {
                let key = body.take(key_size)?;
                let child = self.defined_address(&mut body)?;
                children.push((key, child));
            }
            if level == 0 {
                leaves.extend(children);
            } else {
                stack.extend(
                    children
                        .into_iter()
                        .rev()
                        .map(|(_, child)| (child, Some(level - 1))),
                );
            }
        }
        Ok(leaves)
    }

    /// Number of chunks and their stored bytes, from a chunk B-tree v1
    /// whose keys have `rank` offsets (the dataset's rank plus one).
    pub(crate) fn chunk_btree(&mut self, root: u64, rank: usize) -> Result<(u64, u64), Error> {
        let leaves = self.btree_v1(root, 1, 4 + 4 + 8 * rank)?;
        let n = leaves.len() as u64;
        if n > self.limits.max_chunks {
            return Err(Error::LimitExceeded {
                limit: "max_chunks",
                max: self.limits.max_chunks,
                offset: root,
            });
        }
        let mut bytes = 0u64;
        for (key, chunk) in leaves {
            let size = key
                .get(..4)
                .and_then(|k| k.try_into().ok())
                .map(u32::from_le_bytes)
                .unwrap_or_default();
            let end = add(chunk, u64::from(size), "chunk")?;
            if end > self.data.len() as u64 {
                return Err(Error::Truncated {
                    what: "chunk",
                    offset: chunk,
                });
            }
            bytes = bytes.saturating_add(u64::from(size));
        }
        Ok((n, bytes))
    }

    /// Number of chunks and their stored bytes from a fixed-array chunk
    /// index (layout version 4); `None` for a paged array (not walked).
    /// `chunk_bytes` is an unfiltered chunk's size.
    pub(crate) fn fixed_array(
        &mut self,
        header: u64,
        chunk_bytes: Option<u64>,
    ) -> Result<Option<(u64, u64)>, Error> {
        let mut c = self.open(header, "fixed array header")?;
        c.signature(b"FAHD")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                what: "fixed array header",
                offset: header,
                version,
            });
        }
        let client = c.u8()?;
        let entry_size = usize::from(c.u8()?);
        let page_bits = u32::from(c.u8()?);
        let n_entries = self.length(&mut c)?;
        let block = self.address(&mut c)?;
        let end = c.offset();
        self.charge(end - header + 4, header)?;
        self.verify("fixed array header", header, end)?;
        let filtered = client == 1;
        let minimum = self.size_of_offsets + if filtered { 4 + 1 } else { 0 };
        if client > 1 || entry_size < minimum {
            return Err(invalid(
                "fixed array header",
                header,
                format!("client {client}, entries of {entry_size} bytes"),
            ));
        }
        if n_entries > self.limits.max_chunks {
            return Err(Error::LimitExceeded {
                limit: "max_chunks",
                max: self.limits.max_chunks,
                offset: header,
            });
        }
        let Some(block) = block else {
            return Ok(Some((0, 0)));
        };
        if page_bits < 64 && n_entries > 1u64 << page_bits {
            return Ok(None); // paged: entries spread over checksummed pages
        }
        let mut c = self.open(block, "fixed array data block")?;
        c.signature(b"FADB")?;
        c.skip(1 + 1)?; // version, client
        self.address(&mut c)?; // header
        let len = usize::try_from(n_entries)
            .ok()
            .and_then(|n| n.checked_mul(entry_size))
            .ok_or_else(|| invalid("fixed array data block", block, "size overflows"))?;
        let mut entries = self.cursor(c.offset(), len as u64, "fixed array data block")?;
        self.verify("fixed array data block", block, c.offset() + len as u64)?;
        let (mut n, mut bytes) = (0u64, 0u64);
        for _ in 0..n_entries {
            let address = self.address(&mut entries)?;
            let size = if filtered {
                let size = entries.uint(entry_size - self.size_of_offsets - 4)?;
                entries.skip(4)?;
                Some(size)
            } else {
                entries.skip(entry_size - self.size_of_offsets)?;
                chunk_bytes
            };
            if address.is_some() {
                n += 1;
                bytes = bytes.saturating_add(size.unwrap_or_default());
            }
        }
        Ok(Some((n, bytes)))
    }

    /// The object `index` of the global heap collection at `collection`.
    pub(crate) fn global_object(
        &mut self,
        collection: u64,
        index: u32,
        from: u64,
    ) -> Result<&'a [u8], Error> {
        if !self.global_heaps.contains_key(&collection) {
            let mut c = self.open(collection, "global heap collection")?;
            c.signature(b"GCOL")?;
            let version = c.u8()?;
            if version != 1 {
                return Err(Error::UnsupportedVersion {
                    what: "global heap collection",
                    offset: collection,
                    version,
                });
            }
            c.skip(3)?;
            let size = self.length(&mut c)?;
            let mut objects = HashMap::new();
            let header = c.offset() - collection;
            let mut body = self.cursor(
                c.offset(),
                size.saturating_sub(header),
                "global heap collection",
            )?;
            let object_header = 2 + 2 + 4 + self.size_of_lengths;
            while body.remaining() >= object_header {
                let heap_index = body.u16()?;
                body.skip(2 + 4)?;
                let object_size = self.length(&mut body)?;
                if heap_index == 0 {
                    break; // free space
                }
                let offset = body.offset();
                body.skip(usize::try_from(object_size).unwrap_or(usize::MAX))?;
                let _ = body.align(collection, 8);
                objects.entry(heap_index).or_insert((offset, object_size));
            }
            self.global_heaps.insert(collection, objects);
        }
        let (offset, size) = self
            .global_heaps
            .get(&collection)
            .and_then(|objects| objects.get(&u16::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| {
                invalid(
                    "global heap reference",
                    from,
                    format!("no object {index} in the collection at {collection}"),
                )
            })?;
        Cursor::new(self.data, offset, size, "global heap object")?
            .take(usize::try_from(size).unwrap_or(usize::MAX))
    }

    /// The messages stored densely (links or attributes): every record of
    /// the name index B-tree v2 at `index` (record type 5 for links, 8 for
    /// attributes), each resolved in the fractal heap at `heap`.
    pub(crate) fn dense_messages(
        &mut self,
        heap: u64,
        index: u64,
        record_type: u8,
    ) -> Result<Vec<(u64, &'a [u8])>, Error> {
        let heap = self.fractal_heap(heap)?;
        let records = self.btree_v2(index, record_type)?;
        let mut messages = Vec::with_capacity(records.len());
        for (at, record) in records {
            let id_at = if record_type == 5 { at + 4 } else { at };
            let id = match record_type {
                5 => record.get(4..),
                _ => record.get(..heap.id_len),
            }
            .filter(|id| id.len() >= heap.id_len)
            .and_then(|id| id.get(..heap.id_len))
            .ok_or(invalid("B-tree v2 record", at, "shorter than a heap ID"))?;
            if record_type == 8
                && record
                    .get(heap.id_len)
                    .is_some_and(|flags| flags & super::FLAG_SHARED != 0)
            {
                return Err(Error::Unsupported {
                    what: "shared attribute in dense storage",
                    offset: at,
                });
            }
            messages.push(self.heap_object(&heap, id, id_at)?);
        }
        Ok(messages)
    }

    fn fractal_heap(&mut self, address: u64) -> Result<FractalHeap, Error> {
        let mut c = self.open(address, "fractal heap header")?;
        c.signature(b"FRHP")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                what: "fractal heap header",
                offset: address,
                version,
            });
        }
        let id_len = usize::from(c.u16()?);
        let filter_len = usize::from(c.u16()?);
        let flags = c.u8()?;
        let max_managed = u64::from(c.u32()?);
        self.length(&mut c)?; // next huge object id
        let huge_btree = self.address(&mut c)?;
        self.length(&mut c)?; // free space
        self.address(&mut c)?; // free space manager
        for _ in 0..8 {
            self.length(&mut c)?; // managed, allocated, iterator, counts and sizes
        }
        let width = u64::from(c.u16()?);
        let start_block = self.length(&mut c)?;
        let max_direct = self.length(&mut c)?;
        let max_index = u32::from(c.u16()?);
        c.skip(2)?; // starting rows
        let root = self.address(&mut c)?;
        let root_rows = u32::from(c.u16()?);
        if filter_len > 0 {
            self.length(&mut c)?;
            c.skip(4)?;
            c.skip(filter_len)?;
        }
        let end = c.offset();
        self.charge(end - address + 4, address)?;
        self.verify("fractal heap header", address, end)?;
        let power = |n: u64| n != 0 && n.is_power_of_two();
        if !power(width)
            || !power(start_block)
            || !power(max_direct)
            || max_direct < start_block
            || !(1..=64).contains(&max_index)
            || id_len == 0
            || id_len > 64
        {
            return Err(invalid(
                "fractal heap header",
                address,
                format!(
                    "doubling table width {width}, blocks {start_block} to {max_direct}, {max_index} offset bits, {id_len}-byte ids"
                ),
            ));
        }
        let first_row_bits = log2(start_block) + log2(width);
        if first_row_bits > max_index || root_rows > max_index - first_row_bits + 1 {
            return Err(invalid(
                "fractal heap header",
                address,
                format!("{root_rows} root rows"),
            ));
        }
        Ok(FractalHeap {
            address,
            id_len,
            filtered: filter_len > 0,
            checksummed_blocks: flags & 0x02 != 0,
            width,
            start_block,
            max_direct_rows: log2(max_direct) - log2(start_block) + 2,
            first_row_bits,
            root,
            root_rows,
            offset_size: max_index.div_ceil(8) as usize,
            length_size: enc_size(max_managed).min(log2(max_direct).div_ceil(8) as usize),
            huge_btree,
        })
    }

    /// The bytes of the heap object `id`.
    fn heap_object(
        &mut self,
        heap: &FractalHeap,
        id: &'a [u8],
        from: u64,
    ) -> Result<(u64, &'a [u8]), Error> {
        let first = id.first().copied().unwrap_or_default();
        if first >> 6 != 0 {
            return Err(Error::UnsupportedVersion {
                what: "fractal heap ID",
                offset: from,
                version: first >> 6,
            });
        }
        match (first >> 4) & 0x03 {
            0 => {
                if heap.filtered {
                    return Err(Error::Unsupported {
                        what: "filtered fractal heap",
                        offset: heap.address,
                    });
                }
                let field = |bytes: &[u8]| {
                    bytes
                        .iter()
                        .rev()
                        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
                };
                let offset = id.get(1..1 + heap.offset_size).map(field);
                let length = id
                    .get(1 + heap.offset_size..1 + heap.offset_size + heap.length_size)
                    .map(field);
                let (Some(offset), Some(length)) = (offset, length) else {
                    return Err(invalid(
                        "fractal heap ID",
                        from,
                        "shorter than its offset and length",
                    ));
                };
                let at = self.managed_object(heap, offset, length)?;
                self.charge(length, at)?;
                let data = Cursor::new(self.data, at, length, "fractal heap object")?
                    .take(usize::try_from(length).unwrap_or(usize::MAX))?;
                Ok((at, data))
            }
            2 => {
                let (start, len) = if heap.id_len <= 18 {
                    (1, usize::from(first & 0x0f) + 1)
                } else {
                    let low = usize::from(id.get(1).copied().unwrap_or_default());
                    (2, (usize::from(first & 0x0f) << 8 | low) + 1)
                };
                let data = id.get(start..start + len).ok_or(invalid(
                    "fractal heap ID",
                    from,
                    "tiny object longer than its ID",
                ))?;
                Ok((from + start as u64, data))
            }
            1 => self.huge_object(heap, id, from),
            _ => Err(invalid("fractal heap ID", from, "reserved object type")),
        }
    }

    /// A huge object: stored outside the heap's blocks, found directly
    /// from its ID or through the huge-object B-tree v2 (H5HF__huge_init).
    fn huge_object(
        &mut self,
        heap: &FractalHeap,
        id: &'a [u8],
        from: u64,
    ) -> Result<(u64, &'a [u8]), Error> {
        if heap.filtered {
            return Err(Error::Unsupported {
                what: "filtered huge fractal heap object",
                offset: from,
            });
        }
        let (so, sl) = (self.size_of_offsets, self.size_of_lengths);
        let (address, length) = if so + sl < heap.id_len {
            let mut fields = id.get(1..).unwrap_or_default().iter();
            let mut field = |n: usize| {
                fields
                    .by_ref()
                    .take(n)
                    .rev()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            };
            let address = field(so);
            let length = field(sl);
            (add(self.base, address, "huge fractal heap object")?, length)
        } else {
            let id_size = (heap.id_len - 1).min(8);
            let wanted = id
                .get(1..1 + id_size)
                .unwrap_or_default()
                .iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            let btree = heap.huge_btree.ok_or(invalid(
                "fractal heap",
                heap.address,
                "huge object without a huge-object index",
            ))?;
            let mut found = None;
            for (at, record) in self.btree_v2(btree, 1)? {
                let mut r = Cursor::new(self.data, at, record.len() as u64, "huge object record")?;
                let address = self.defined_address(&mut r)?;
                let length = self.length(&mut r)?;
                let record_id = self.length(&mut r)?;
                if record_id == wanted {
                    found = Some((address, length));
                    break;
                }
            }
            found.ok_or(invalid(
                "fractal heap ID",
                from,
                format!("no huge object {wanted}"),
            ))?
        };
        self.charge(length, address)?;
        let data = Cursor::new(self.data, address, length, "huge fractal heap object")?
            .take(usize::try_from(length).unwrap_or(usize::MAX))?;
        Ok((address, data))
    }

    /// The absolute offset of the managed object at heap `offset`.
    fn managed_object(
        &mut self,
        heap: &FractalHeap,
        offset: u64,
        length: u64,
    ) -> Result<u64, Error> {
        let root = heap.root.ok_or(invalid(
            "fractal heap",
            heap.address,
            "object in an empty heap",
        ))?;
        if heap.root_rows == 0 {
            return self.direct_block(heap, root, heap.start_block, offset, length);
        }
        let (mut block, mut rows, mut relative) = (root, heap.root_rows, offset);
        for _ in 0..MAX_TREE_DEPTH {
            let header = 4 + 1 + self.size_of_offsets + heap.offset_size;
            let mut c = self.cursor(block, header as u64, "fractal heap indirect block")?;
            c.signature(b"FHIB")?;
            let version = c.u8()?;
            if version != 0 {
                return Err(Error::UnsupportedVersion {
                    what: "fractal heap indirect block",
                    offset: block,
                    version,
                });
            }
            let mut found = None;
            for row in 0..rows {
                let (Some(start), Some(size)) = (heap.row_offset(row), heap.row_size(row)) else {
                    break;
                };
                let span = size.saturating_mul(heap.width);
                if relative >= start && relative - start < span {
                    found = Some((row, (relative - start) / size, start, size));
                    break;
                }
            }
            let (row, column, start, size) = found.ok_or(invalid(
                "fractal heap",
                block,
                format!("offset {offset} outside the heap"),
            ))?;
            let entry = u64::from(row) * heap.width + column;
            let entry_at = add(
                block,
                header as u64 + entry * self.size_of_offsets as u64,
                "fractal heap indirect block",
            )?;
            let mut e = self.cursor(
                entry_at,
                self.size_of_offsets as u64,
                "fractal heap indirect block",
            )?;
            let child = self.address(&mut e)?.ok_or(invalid(
                "fractal heap",
                entry_at,
                format!("offset {offset} in an unallocated block"),
            ))?;
            relative -= start + column * size;
            if row < heap.max_direct_rows {
                return self.direct_block(heap, child, size, relative, length);
            }
            rows = log2(size).saturating_sub(heap.first_row_bits) + 1;
            block = child;
        }
        Err(Error::LimitExceeded {
            limit: "MAX_TREE_DEPTH",
            max: MAX_TREE_DEPTH as u64,
            offset: block,
        })
    }

    fn direct_block(
        &mut self,
        heap: &FractalHeap,
        block: u64,
        size: u64,
        relative: u64,
        length: u64,
    ) -> Result<u64, Error> {
        let mut c = self.cursor(block, 5, "fractal heap direct block")?;
        c.signature(b"FHDB")?;
        let header = (4
            + 1
            + self.size_of_offsets
            + heap.offset_size
            + if heap.checksummed_blocks { 4 } else { 0 }) as u64;
        let end = relative.checked_add(length);
        if relative < header || end.is_none_or(|end| end > size) {
            return Err(invalid(
                "fractal heap direct block",
                block,
                format!("object at {relative} of {length} bytes outside the block of {size}"),
            ));
        }
        add(block, relative, "fractal heap object")
    }

    /// Every record of the B-tree v2 at `address`, which must hold
    /// `record_type` records, with the offset of each.
    fn btree_v2(&mut self, address: u64, record_type: u8) -> Result<Vec<(u64, &'a [u8])>, Error> {
        let mut c = self.open(address, "B-tree v2 header")?;
        c.signature(b"BTHD")?;
        let version = c.u8()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                what: "B-tree v2 header",
                offset: address,
                version,
            });
        }
        let found_type = c.u8()?;
        if found_type != record_type {
            return Err(invalid(
                "B-tree v2 header",
                address,
                format!("record type {found_type}, expected {record_type}"),
            ));
        }
        let node_size = u64::from(c.u32()?);
        let record_size = u64::from(c.u16()?);
        let depth = usize::from(c.u16()?);
        c.skip(2)?;
        let root = self.address(&mut c)?;
        let root_records = u64::from(c.u16()?);
        self.length(&mut c)?;
        let end = c.offset();
        self.charge(end - address + 4, address)?;
        self.verify("B-tree v2 header", address, end)?;
        let Some(root) = root else {
            return Ok(Vec::new());
        };
        const PREFIX: u64 = 4 + 1 + 1 + 4;
        if record_size == 0 || node_size < PREFIX + record_size || depth > MAX_TREE_DEPTH {
            return Err(invalid(
                "B-tree v2 header",
                address,
                format!("nodes of {node_size} bytes, records of {record_size}, depth {depth}"),
            ));
        }
        // Per-level capacities, as H5B2__hdr_init computes them.
        let leaf_records = (node_size - PREFIX) / record_size;
        let records_size = enc_size(leaf_records);
        let mut max_records = vec![leaf_records];
        // (records below a node of this level, bytes to encode that count)
        let mut cumulative: Vec<(u64, usize)> = vec![(leaf_records, 0)];
        for _ in 1..=depth {
            let (below, below_size) = cumulative.last().copied().unwrap_or_default();
            let pointer = (self.size_of_offsets + records_size + below_size) as u64;
            let max = (node_size - PREFIX) / (record_size + pointer);
            let total = max
                .saturating_add(1)
                .saturating_mul(below)
                .saturating_add(max);
            max_records.push(max);
            cumulative.push((total, enc_size(total)));
        }
        let mut records = Vec::new();
        let mut stack = vec![(root, root_records, depth)];
        let mut nodes = 0usize;
        while let Some((node, n, level)) = stack.pop() {
            nodes += 1;
            if nodes > self.limits.max_nodes {
                return Err(limit("max_nodes", self.limits.max_nodes, node));
            }
            if n > max_records.get(level).copied().unwrap_or_default() {
                return Err(invalid(
                    "B-tree v2 node",
                    node,
                    format!("{n} records, more than a node holds"),
                ));
            }
            let mut c = self.cursor(node, node_size, "B-tree v2 node")?;
            c.signature(if level == 0 { b"BTLF" } else { b"BTIN" })?;
            let version = c.u8()?;
            let found_type = c.u8()?;
            if version != 0 || found_type != record_type {
                return Err(invalid(
                    "B-tree v2 node",
                    node,
                    format!("version {version}, record type {found_type}"),
                ));
            }
            for _ in 0..n {
                let at = c.offset();
                records.push((at, c.take(record_size as usize)?));
            }
            if level > 0 {
                let child_level = level - 1;
                let total_size = if level > 1 {
                    cumulative.get(child_level).map_or(0, |c| c.1)
                } else {
                    0
                };
                for _ in 0..=n {
                    let child = self.defined_address(&mut c)?;
                    let child_records = c.uint(records_size)?;
                    c.skip(total_size)?;
                    stack.push((child, child_records, child_level));
                }
            }
            let end = c.offset();
            self.verify("B-tree v2 node", node, end)?;
        }
        Ok(records)
    }
}
