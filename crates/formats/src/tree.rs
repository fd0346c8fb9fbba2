//! Reading a path once: one walk, every file opened once, its bytes kept
//! (copied when small, memory-mapped otherwise) for every analyser and the
//! digests to share. This module and `mmap.rs` are the only code in the
//! analysis path that touches the file system.

use std::fs::{self, File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rayon::prelude::*;

use crate::mmap::FileBytes;
use crate::{Error, Failure};

/// Files smaller than this are copied into memory when opened; larger ones
/// are memory-mapped.
pub const COPY_BELOW_BYTES: u64 = 1 << 20;
/// Most bytes copied into memory for one tree; past it, small files are
/// mapped too.
pub const MAX_COPIED_BYTES: u64 = 1 << 30;

/// How a walk goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOptions {
    /// Deepest directory level entered below the root; deeper directories
    /// are [`Error::TooDeep`] failures.
    pub max_depth: u32,
    /// Most files read under one root ([`Error::TooManyFiles`] past it).
    pub max_files: usize,
    /// Most directory entries visited, files, directories and links
    /// together ([`Error::TooManyEntries`] past it).
    pub max_entries: usize,
    /// Enter symbolically linked directories (their files are marked
    /// [`LoadedFile::via_symlink`]). When false they are
    /// [`SkipReason::SymlinkedDirectory`]. Linked files are always read.
    pub follow_symlinked_dirs: bool,
    /// Leave out every entry named `.git`, at any depth.
    pub skip_git_dirs: bool,
    /// Paths relative to the root (`/`-separated) to leave out, uncounted;
    /// a directory leaves out everything below it.
    pub skip: Vec<String>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_depth: 16,
            max_files: 100_000,
            max_entries: 2_000_000,
            follow_symlinked_dirs: false,
            skip_git_dirs: true,
            skip: Vec::new(),
        }
    }
}

/// One file, opened once, with its bytes.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    /// Where it was found (the root joined with the relative path).
    pub path: PathBuf,
    /// Its `/`-separated path relative to the root; its file name when the
    /// root is a file. Names that are not UTF-8 are converted lossily.
    pub relative_path: String,
    /// Its content as it was when opened.
    pub bytes: FileBytes,
    /// Whether it was reached through a symbolic link (it, or a directory
    /// above it below the root, is a link).
    pub via_symlink: bool,
    /// For mapped files, what the file looked like when opened.
    identity: Option<Identity>,
}

/// The attributes that change when a file is written in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

impl Identity {
    fn of(metadata: &Metadata) -> Identity {
        #[cfg(unix)]
        let (device, inode, changed) = {
            use std::os::unix::fs::MetadataExt;
            (
                metadata.dev(),
                metadata.ino(),
                (metadata.ctime(), metadata.ctime_nsec()),
            )
        };
        #[cfg(not(unix))]
        let (device, inode, changed) = (0, 0, (0, 0));
        Identity {
            device,
            inode,
            len: metadata.len(),
            modified: metadata.modified().ok(),
            changed,
        }
    }
}

impl LoadedFile {
    /// Bytes already in memory, for callers (and tests) that have no file.
    pub fn from_bytes(path: PathBuf, relative_path: String, bytes: Vec<u8>) -> LoadedFile {
        LoadedFile {
            path,
            relative_path,
            bytes: FileBytes::from_vec(bytes),
            via_symlink: false,
            identity: None,
        }
    }

    /// Whether the file this map was made of has since been written in
    /// place (same file, different size or times), so that the bytes read
    /// from the map may mix old and new content. Copied files, files
    /// replaced by a rename and deleted files are never "modified": their
    /// bytes are still the ones opened.
    pub fn modified_in_place(&self) -> bool {
        let Some(opened) = self.identity else {
            return false;
        };
        match fs::metadata(&self.path) {
            Ok(now) => {
                let now = Identity::of(&now);
                now.device == opened.device && now.inode == opened.inode && now != opened
            }
            Err(_) => false,
        }
    }
}

/// Why a directory entry was walked over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// A symbolic link to a directory, with
    /// [`WalkOptions::follow_symlinked_dirs`] off.
    SymlinkedDirectory,
    /// Neither a regular file nor a directory (a device, socket, FIFO or a
    /// broken link).
    NotARegularFile,
}

/// A directory entry that was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where it is.
    pub path: PathBuf,
    /// Its `/`-separated path relative to the root.
    pub relative_path: String,
    /// Why it was not read.
    pub reason: SkipReason,
}

/// Every file under a path, each read once.
#[derive(Debug)]
pub struct Tree {
    /// The path given.
    pub root: PathBuf,
    /// The root's name: its last component, or the resolved directory's
    /// name for `.` and `..`.
    pub name: String,
    /// Whether the root is a directory.
    pub is_dir: bool,
    /// Whether the root itself is a symbolic link.
    pub root_via_symlink: bool,
    /// The files, sorted by relative path.
    pub files: Vec<LoadedFile>,
    /// Files and directories that could not be read (or were too deep).
    pub failures: Vec<Failure>,
    /// Entries walked over (see [`SkipReason`]).
    pub skipped: Vec<Skipped>,
}

/// Read a file or every file under a directory, each opened once, in
/// parallel.
///
/// Files under [`COPY_BELOW_BYTES`] are copied into memory (up to
/// [`MAX_COPIED_BYTES`] in all); the rest are memory-mapped. Either way a
/// [`LoadedFile`]'s bytes stay those of the file that was opened: replacing
/// the path by a rename, or deleting it, does not change them. Writing a
/// *mapped* file in place does (and truncating it makes later reads fault):
/// [`LoadedFile::modified_in_place`] tells afterwards whether that
/// happened. Only a root that cannot be read at all, or a walk past
/// [`WalkOptions::max_files`] or [`WalkOptions::max_entries`], is an `Err`.
pub fn read_tree(root: &Path, options: &WalkOptions) -> Result<Tree, Error> {
    let io = |source| Error::Io {
        path: root.to_path_buf(),
        source,
    };
    let link = fs::symlink_metadata(root).map_err(io)?;
    let metadata = fs::metadata(root).map_err(io)?;
    let mut tree = Tree {
        root: root.to_path_buf(),
        name: root_name(root),
        is_dir: metadata.is_dir(),
        root_via_symlink: link.file_type().is_symlink(),
        files: Vec::new(),
        failures: Vec::new(),
        skipped: Vec::new(),
    };
    let found = if metadata.is_dir() {
        let skip: Vec<Vec<&str>> = options
            .skip
            .iter()
            .map(|path| {
                path.split('/')
                    .filter(|part| !part.is_empty() && *part != ".")
                    .collect()
            })
            .collect();
        let mut walker = Walker {
            options,
            skip: &skip,
            n_entries: 0,
            found: Vec::new(),
            failures: Vec::new(),
            skipped: Vec::new(),
        };
        walker.directory(root, &mut Vec::new(), false)?;
        tree.failures = walker.failures;
        tree.skipped = walker.skipped;
        let mut found = walker.found;
        found.sort_by(|a, b| a.relative.cmp(&b.relative));
        found
    } else if metadata.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        vec![Found {
            path: root.to_path_buf(),
            relative: name,
            via_symlink: tree.root_via_symlink,
        }]
    } else {
        return Err(Error::NotAFile {
            path: root.to_path_buf(),
        });
    };
    let copied = AtomicU64::new(0);
    let opened: Vec<Opened> = found
        .into_par_iter()
        .map(|found| open(found, &copied))
        .collect();
    for opened in opened {
        match opened {
            Opened::File(file) => tree.files.push(file),
            Opened::Failed(failure) => tree.failures.push(failure),
        }
    }
    Ok(tree)
}

/// Read one file (no walk): what [`read_tree`] does for a file root.
pub fn read_file(path: &Path) -> Result<LoadedFile, Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let found = Found {
        path: path.to_path_buf(),
        relative: name,
        via_symlink: false,
    };
    match open(found, &AtomicU64::new(0)) {
        Opened::File(file) => Ok(file),
        Opened::Failed(failure) => Err(failure.error),
    }
}

/// Read a small file whole (a signature, a key, a repository text file):
/// `None` when nothing is at `path` or it is a directory;
/// [`Error::TooLarge`] past `max_bytes`. Reads one byte more than the limit
/// at most, so a file that grows, or a pipe whose size says 0, is caught.
pub fn read_small_file(path: &Path, max_bytes: u64) -> Result<Option<Vec<u8>>, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io(error)),
    };
    let metadata = file.metadata().map_err(io)?;
    if metadata.is_dir() {
        return Ok(None);
    }
    let too_large = |size| Error::TooLarge {
        path: path.to_path_buf(),
        size,
        max_bytes,
    };
    if metadata.len() > max_bytes {
        return Err(too_large(metadata.len()));
    }
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > max_bytes {
        return Err(too_large(size));
    }
    Ok(Some(bytes))
}

/// Whether `path` is a directory (following links).
pub fn is_directory(path: &Path) -> bool {
    path.is_dir()
}

/// Whether `path` is a regular file (following symbolic links), for callers
/// that must not probe the file system themselves.
pub fn is_file(path: &Path) -> bool {
    path.is_file()
}

/// `path` relative to the directory `root` (`/`-separated) when it lies
/// inside it, so that it can be left out of a walk; `None` otherwise (or
/// when `root` is not a directory). Both are resolved (symbolic links,
/// `..`); `path` need not exist yet.
pub fn path_within(root: &Path, path: &Path) -> Option<String> {
    let root = root.canonicalize().ok()?;
    if !root.is_dir() {
        return None;
    }
    let resolved = match path.canonicalize() {
        Ok(resolved) => resolved,
        Err(_) => {
            let parent = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.canonicalize().ok()?,
                _ => std::env::current_dir().ok()?,
            };
            parent.join(path.file_name()?)
        }
    };
    let relative = resolved.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    let parts = parts?;
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

/// The last path component, or the resolved directory's name for `.` and
/// `..` (as model_signing names a model).
fn root_name(root: &Path) -> String {
    let name = match root.file_name() {
        Some(name) => Some(name.to_string_lossy().into_owned()),
        None => root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
    };
    name.unwrap_or_default()
}

/// A file found by the walk, not yet opened.
struct Found {
    path: PathBuf,
    relative: String,
    via_symlink: bool,
}

/// A file opened, or why not (not a `Result`: a `Failure` is large).
enum Opened {
    File(LoadedFile),
    Failed(Failure),
}

fn open(found: Found, copied: &AtomicU64) -> Opened {
    let failed = |error| {
        Opened::Failed(Failure {
            path: found.path.clone(),
            error,
        })
    };
    let io = |source| Error::Io {
        path: found.path.clone(),
        source,
    };
    let file = match File::open(&found.path) {
        Ok(file) => file,
        Err(source) => return failed(io(source)),
    };
    let metadata = match file.metadata() {
        Ok(metadata) => metadata,
        Err(source) => return failed(io(source)),
    };
    if !metadata.is_file() {
        // Replaced by something else between the walk and the open.
        return failed(Error::NotAFile {
            path: found.path.clone(),
        });
    }
    let len = metadata.len();
    let copy = len < COPY_BELOW_BYTES
        && copied.fetch_add(len, Ordering::Relaxed).saturating_add(len) <= MAX_COPIED_BYTES;
    let bytes = match FileBytes::read(&file, len, copy) {
        Ok(bytes) => bytes,
        Err(source) => return failed(io(source)),
    };
    let identity = bytes.is_mapped().then(|| Identity::of(&metadata));
    Opened::File(LoadedFile {
        path: found.path,
        relative_path: found.relative,
        bytes,
        via_symlink: found.via_symlink,
        identity,
    })
}

struct Walker<'a> {
    options: &'a WalkOptions,
    skip: &'a [Vec<&'a str>],
    n_entries: usize,
    found: Vec<Found>,
    failures: Vec<Failure>,
    skipped: Vec<Skipped>,
}

impl Walker<'_> {
    fn is_skipped(&self, components: &[String]) -> bool {
        self.skip.iter().any(|prefix| {
            !prefix.is_empty()
                && components.len() >= prefix.len()
                && components.iter().zip(prefix).all(|(a, b)| a == b)
        })
    }

    fn directory(
        &mut self,
        dir: &Path,
        components: &mut Vec<String>,
        via_symlink: bool,
    ) -> Result<(), Error> {
        let depth = u32::try_from(components.len()).unwrap_or(u32::MAX);
        if depth > self.options.max_depth {
            self.failures.push(Failure {
                path: dir.to_path_buf(),
                error: Error::TooDeep {
                    path: dir.to_path_buf(),
                    max_depth: self.options.max_depth,
                },
            });
            return Ok(());
        }
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            // The root must be readable; a subdirectory that is not is a
            // failure of its own.
            Err(source) if components.is_empty() => return Err(io(source)),
            Err(source) => {
                self.failures.push(Failure {
                    path: dir.to_path_buf(),
                    error: io(source),
                });
                return Ok(());
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(source) => {
                    self.failures.push(Failure {
                        path: dir.to_path_buf(),
                        error: io(source),
                    });
                    return Ok(());
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if self.options.skip_git_dirs && name == ".git" {
                continue;
            }
            components.push(name);
            let result = self.entry(&entry, components, via_symlink);
            components.pop();
            result?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        entry: &fs::DirEntry,
        components: &mut Vec<String>,
        via_symlink: bool,
    ) -> Result<(), Error> {
        if self.is_skipped(components) {
            return Ok(());
        }
        let path = entry.path();
        self.n_entries += 1;
        if self.n_entries > self.options.max_entries {
            return Err(Error::TooManyEntries {
                path: path.parent().unwrap_or(&path).to_path_buf(),
                max_entries: self.options.max_entries,
            });
        }
        let relative = components.join("/");
        let file_type = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(source) => {
                self.failures.push(Failure {
                    path: path.clone(),
                    error: Error::Io { path, source },
                });
                return Ok(());
            }
        };
        let skipped = |reason| Skipped {
            path: path.clone(),
            relative_path: relative.clone(),
            reason,
        };
        if file_type.is_symlink() {
            // Linked files are read (the Hugging Face cache links snapshot
            // files to blobs); linked directories only when asked, and the
            // depth limit stops a link that loops.
            match fs::metadata(&path) {
                Ok(target) if target.is_file() => self.file(path, relative, true)?,
                Ok(target) if target.is_dir() && self.options.follow_symlinked_dirs => {
                    self.directory(&path, components, true)?;
                }
                Ok(target) if target.is_dir() => {
                    self.skipped.push(skipped(SkipReason::SymlinkedDirectory));
                }
                _ => self.skipped.push(skipped(SkipReason::NotARegularFile)),
            }
        } else if file_type.is_dir() {
            self.directory(&path, components, via_symlink)?;
        } else if file_type.is_file() {
            self.file(path, relative, via_symlink)?;
        } else {
            self.skipped.push(skipped(SkipReason::NotARegularFile));
        }
        Ok(())
    }

    fn file(&mut self, path: PathBuf, relative: String, via_symlink: bool) -> Result<(), Error> {
        if self.found.len() >= self.options.max_files {
            return Err(Error::TooManyFiles {
                path: path.parent().unwrap_or(&path).to_path_buf(),
                max_files: self.options.max_files,
            });
        }
        self.found.push(Found {
            path,
            relative,
            via_symlink,
        });
        Ok(())
    }
}
