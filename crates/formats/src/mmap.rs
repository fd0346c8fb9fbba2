//! The one place in modelgate that memory-maps files, and the bytes type
//! every analyser reads: a file's content, copied or mapped, shared by
//! reference count so that inspect, scan and the digests read the same
//! bytes.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::sync::Arc;

/// A read-only view of a whole file's content, cheap to clone.
///
/// Small files are copied into memory when opened; larger ones are
/// memory-mapped (private, read-only) and the map lives as long as any
/// clone. The bytes are those of the file (the inode) that was opened: if
/// the path is later replaced by a rename, or deleted, the view keeps the
/// old content. See [`read_tree`](crate::read_tree) for what an in-place
/// write to a mapped file does.
#[derive(Clone, Default)]
pub struct FileBytes {
    inner: Inner,
}

#[derive(Clone, Default)]
enum Inner {
    #[default]
    Empty,
    Copied(Arc<[u8]>),
    Mapped(Arc<memmap2::Mmap>),
}

impl FileBytes {
    /// Bytes already in memory (a test's, or a decompressed stream's).
    pub fn from_vec(bytes: Vec<u8>) -> FileBytes {
        if bytes.is_empty() {
            return FileBytes::default();
        }
        FileBytes {
            inner: Inner::Copied(bytes.into()),
        }
    }

    /// Read `file`, whose length when opened was `len`: copied into memory
    /// when `copy` is set (the caller has checked `len` against its limit),
    /// mapped otherwise.
    pub(crate) fn read(file: &File, len: u64, copy: bool) -> io::Result<FileBytes> {
        if len == 0 {
            // Mapping a zero-length file is an error on Linux.
            return Ok(FileBytes::default());
        }
        if copy {
            let capacity = usize::try_from(len).map_err(|_| io::ErrorKind::OutOfMemory)?;
            let mut bytes = Vec::with_capacity(capacity);
            // At most `len` bytes: a file that grows meanwhile is read as
            // it was when opened.
            file.take(len).read_to_end(&mut bytes)?;
            return Ok(FileBytes::from_vec(bytes));
        }
        // SAFETY: the map is read-only and private to this process, and
        // modelgate never writes through it. Another process may still
        // change the file: a write in place shows through pages not yet
        // read (MAP_PRIVATE does not snapshot them), and a truncation makes
        // reads past the new end raise SIGBUS. That is the trade-off every
        // mmap-based model loader makes (safetensors, llama.cpp); callers
        // detect in-place writes afterwards with
        // `LoadedFile::modified_in_place`, and files replaced by rename or
        // deleted (how downloaders and git update files) are unaffected:
        // the map holds the old inode.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(FileBytes {
            inner: Inner::Mapped(Arc::new(map)),
        })
    }

    /// Whether the bytes are a memory map (rather than a copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.inner, Inner::Mapped(_))
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.inner {
            Inner::Empty => &[],
            Inner::Copied(bytes) => bytes,
            Inner::Mapped(map) => map,
        }
    }
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBytes")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}
