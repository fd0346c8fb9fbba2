//! The one place in modelgate that memory-maps files.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

/// A read-only view of a whole file: memory-mapped when it is non-empty, an
/// empty slice otherwise (mapping a zero-length file is an error on Linux).
pub struct FileBytes {
    map: Option<memmap2::Mmap>,
}

impl FileBytes {
    /// Map `path` read-only.
    pub fn open(path: &Path) -> io::Result<FileBytes> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(FileBytes { map: None });
        }
        // SAFETY: the map is read-only and private to this process. modelgate
        // never writes through it; if another process truncates the file while
        // it is mapped, reads past the new end raise SIGBUS. That is the
        // documented trade-off every mmap-based model loader makes (safetensors,
        // llama.cpp); model files are not expected to change while inspected.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(FileBytes { map: Some(map) })
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.map {
            Some(map) => map,
            None => &[],
        }
    }
}
