//! The artifact store: every recorded version's files, copied into a
//! content-addressed directory under the home (`blobs/sha256/<digest>`,
//! read-only), so that what is served is exactly what was vetted, whatever
//! happens to the directory the model was vetted from.
//!
//! A copy reads each source file once, hashing the bytes as it writes them
//! to a temporary file in `blobs/tmp/`; the temporary files are synced and
//! renamed into place only when every file's digest equals the one vet
//! recorded, so a file that changed between the vet and the copy leaves
//! neither a blob nor a temporary file behind. A blob that is already there
//! (the same file in another version) is re-hashed and kept, not copied
//! again. This is file-system code with no SQL: the rows that say a version
//! is stored are written by the `sqlite` module ([`Batch::record_stored`]).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Batch, Error, FileRecord, NewVersion, Store, VersionRef, VersionSummary};

/// The blob store's directory inside the home.
pub const BLOBS_DIR: &str = "blobs";

/// Bytes read and written at a time while copying.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// Told how far a copy into the blob store has got (the CLI draws a bar).
pub trait CopyProgress {
    /// The copy of `total_bytes` starts.
    fn start(&self, total_bytes: u64);
    /// `bytes_done` of them are copied or checked.
    fn advance(&self, bytes_done: u64);
}

/// Progress that nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCopyProgress;

impl CopyProgress for NoCopyProgress {
    fn start(&self, _total_bytes: u64) {}
    fn advance(&self, _bytes_done: u64) {}
}

/// One file of a stored version and the blob that holds its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredFile {
    /// Path relative to the model root, `/`-separated (as recorded).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 (the blob's name).
    pub sha256: String,
    /// The read-only blob in the store.
    pub blob: PathBuf,
}

/// A version whose files are all in the blob store: what a server loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredVersion {
    /// The version.
    pub reference: VersionRef,
    /// Every recorded file with its blob.
    pub files: Vec<StoredFile>,
    /// Whether this call imported a version recorded before the store
    /// existed.
    pub imported_now: bool,
}

/// A stored blob that is not what the manifest records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobProblem {
    /// The file, relative to the model root.
    pub path: String,
    /// The digest recorded (and the blob's name).
    pub recorded: String,
    /// The digest of the blob's bytes now; `None` when it is missing or
    /// unreadable.
    pub found: Option<String>,
    /// What is wrong, in words.
    pub problem: String,
}

/// The blob directory of one home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blobs {
    root: PathBuf,
}

/// A temporary file holding a verified copy, not yet renamed to its blob.
struct Pending {
    temp: PathBuf,
    blob: PathBuf,
}

/// Removes every temporary file it holds when dropped (on any refusal or
/// error); emptied once the files are renamed into place.
#[derive(Default)]
struct Temps(Vec<Pending>);

impl Drop for Temps {
    fn drop(&mut self) {
        for pending in &self.0 {
            let _ignored = fs::remove_file(&pending.temp);
        }
    }
}

impl Blobs {
    /// The blob store rooted at `root` (normally `HOME/blobs`).
    pub fn new(root: PathBuf) -> Blobs {
        Blobs { root }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest lives; `None` unless `sha256` is 64
    /// lower-case hex digits.
    pub fn blob_path(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.root.join("sha256").join(sha256))
    }

    /// Copy `files` (as recorded for `reference`, relative to `source`)
    /// into the store, each read once and hashed while written, and check
    /// each digest against the recorded one. Nothing is stored unless every
    /// file matches: a file that differs is [`Error::FileChanged`].
    pub fn copy_files(
        &self,
        reference: &VersionRef,
        source: &Path,
        files: &[FileRecord],
        progress: &dyn CopyProgress,
    ) -> Result<Vec<StoredFile>, Error> {
        let sha_dir = self.root.join("sha256");
        let tmp_dir = self.root.join("tmp");
        for dir in [&sha_dir, &tmp_dir] {
            fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        }
        let single_file = fs::metadata(source).is_ok_and(|meta| meta.is_file());
        let total = files
            .iter()
            .fold(0u64, |sum, file| sum.saturating_add(file.size));
        progress.start(total);
        let mut done = 0u64;
        let mut temps = Temps::default();
        let mut stored = Vec::with_capacity(files.len());
        for file in files {
            let blob = self
                .blob_path(&file.sha256)
                .ok_or_else(|| Error::BadStoredName {
                    reference: reference.clone(),
                    what: "sha256",
                    text: file.sha256.clone(),
                    reason: "not 64 lower-case hex digits",
                })?;
            let from = source_file(reference, source, single_file, files.len(), &file.path)?;
            let already = temps.0.iter().any(|pending| pending.blob == blob)
                || hash_file(&blob, &mut |_| {}).is_ok_and(|(digest, _)| digest == file.sha256);
            if !already {
                let temp = copy_to_temp(&tmp_dir, &from, file, done, progress)?;
                temps.0.push(Pending {
                    temp,
                    blob: blob.clone(),
                });
            }
            done = done.saturating_add(file.size);
            progress.advance(done);
            stored.push(StoredFile {
                path: file.path.clone(),
                size: file.size,
                sha256: file.sha256.clone(),
                blob,
            });
        }
        for pending in &temps.0 {
            fs::rename(&pending.temp, &pending.blob).map_err(io_error("rename", &pending.temp))?;
        }
        temps.0.clear();
        if let Ok(dir) = File::open(&sha_dir) {
            // Make the renames durable; a failure here loses no data.
            let _ignored = dir.sync_all();
        }
        Ok(stored)
    }

    /// Re-hash the blobs of `files` and name every one that is missing,
    /// unreadable or not the recorded bytes.
    pub fn check(&self, files: &[FileRecord]) -> Vec<BlobProblem> {
        let mut problems = Vec::new();
        for file in files {
            let problem = |found: Option<String>, problem: String| BlobProblem {
                path: file.path.clone(),
                recorded: file.sha256.clone(),
                found,
                problem,
            };
            let Some(blob) = self.blob_path(&file.sha256) else {
                problems.push(problem(None, "the recorded digest is not a sha256".into()));
                continue;
            };
            match hash_file(&blob, &mut |_| {}) {
                Ok((digest, _)) if digest == file.sha256 => {}
                Ok((digest, _)) => problems.push(problem(
                    Some(digest.clone()),
                    format!("the stored copy {} has sha256 {digest}", blob.display()),
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(problem(
                    None,
                    format!("the stored copy {} is missing", blob.display()),
                )),
                Err(e) => problems.push(problem(
                    None,
                    format!("the stored copy {} cannot be read: {e}", blob.display()),
                )),
            }
        }
        problems
    }
}

impl Store {
    /// Copy a vetted version's files into the blob store (refused with
    /// [`Error::FileChanged`] when a file is no longer what vet recorded),
    /// then record it as a candidate and as stored, in one transaction.
    /// The seam between vet and copy: whatever happens to the files after
    /// `new` was made is caught here.
    pub fn add_stored_version(
        &mut self,
        new: &NewVersion,
        by: &str,
        progress: &dyn CopyProgress,
    ) -> Result<VersionSummary, Error> {
        let reference = VersionRef::new(&new.reference.name, &new.reference.version)?;
        if self.version(&reference).is_ok() {
            return Err(Error::VersionExists { reference });
        }
        self.blobs().copy_files(
            &reference,
            Path::new(&new.source_path),
            &new.files,
            progress,
        )?;
        self.transaction(|batch: &mut Batch<'_>| {
            let summary = batch.add_version(new, by)?;
            batch.record_stored(&reference, false, by)?;
            Ok(summary)
        })
    }

    /// The blobs a server loads `reference` from. A version recorded
    /// before the blob store existed is imported first from its recorded
    /// path, after every file's digest is checked again (recorded as
    /// `version.stored` by `by`); when a file changed or is gone it is
    /// refused with [`Error::Import`], naming the file.
    pub fn ensure_stored(
        &mut self,
        reference: &VersionRef,
        by: &str,
        progress: &dyn CopyProgress,
    ) -> Result<StoredVersion, Error> {
        let detail = self.version(reference)?;
        if self.is_stored(reference)? {
            let files = detail
                .files
                .iter()
                .map(|file| self.stored_file(reference, file))
                .collect::<Result<Vec<_>, Error>>()?;
            return Ok(StoredVersion {
                reference: reference.clone(),
                files,
                imported_now: false,
            });
        }
        let files = self
            .blobs()
            .copy_files(
                reference,
                Path::new(&detail.source_path),
                &detail.files,
                progress,
            )
            .map_err(|source| Error::Import {
                reference: reference.clone(),
                source_path: detail.source_path.clone(),
                source: Box::new(source),
            })?;
        self.transaction(|batch| batch.record_stored(reference, true, by))?;
        Ok(StoredVersion {
            reference: reference.clone(),
            files,
            imported_now: true,
        })
    }

    /// Re-hash a stored version's blobs; `None` when the version was never
    /// copied into the store (recorded before it existed).
    pub fn check_blobs(&self, reference: &VersionRef) -> Result<Option<Vec<BlobProblem>>, Error> {
        let detail = self.version(reference)?;
        if !self.is_stored(reference)? {
            return Ok(None);
        }
        Ok(Some(self.blobs().check(&detail.files)))
    }

    fn stored_file(&self, reference: &VersionRef, file: &FileRecord) -> Result<StoredFile, Error> {
        let blob = self
            .blobs()
            .blob_path(&file.sha256)
            .ok_or_else(|| Error::BadStoredName {
                reference: reference.clone(),
                what: "sha256",
                text: file.sha256.clone(),
                reason: "not 64 lower-case hex digits",
            })?;
        Ok(StoredFile {
            path: file.path.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            blob,
        })
    }
}

/// The file on disk for a recorded relative path: the source itself for a
/// single-file model, else the path below the source directory (only plain
/// components: a recorded path never leaves the model's root).
fn source_file(
    reference: &VersionRef,
    source: &Path,
    single_file: bool,
    n_files: usize,
    relative: &str,
) -> Result<PathBuf, Error> {
    if single_file && n_files == 1 {
        return Ok(source.to_path_buf());
    }
    let relative_path = Path::new(relative);
    let plain = !relative.is_empty()
        && relative_path
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if !plain {
        return Err(Error::BadStoredName {
            reference: reference.clone(),
            what: "path",
            text: relative.to_string(),
            reason: "not a relative path below the model's root",
        });
    }
    Ok(source.join(relative_path))
}

/// Copy one file to a new temporary file in `tmp_dir` while hashing it,
/// sync it and make it read-only; refuse it (removing the temporary file)
/// when its digest is not the recorded one.
fn copy_to_temp(
    tmp_dir: &Path,
    from: &Path,
    file: &FileRecord,
    done_before: u64,
    progress: &dyn CopyProgress,
) -> Result<PathBuf, Error> {
    let mut input = File::open(from).map_err(io_error("read", from))?;
    let (temp, mut output) = new_temp(tmp_dir)?;
    // Registered at once, so any failure below removes it.
    let mut guard = Temps(vec![Pending {
        temp: temp.clone(),
        blob: PathBuf::new(),
    }]);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; COPY_CHUNK_BYTES];
    let mut copied = 0u64;
    loop {
        let n = read_chunk(&mut input, &mut buffer).map_err(io_error("read", from))?;
        if n == 0 {
            break;
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        hasher.update(chunk);
        output.write_all(chunk).map_err(io_error("write", &temp))?;
        copied = copied.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        progress.advance(done_before.saturating_add(copied.min(file.size)));
    }
    output.sync_all().map_err(io_error("sync", &temp))?;
    let mut permissions = output
        .metadata()
        .map_err(io_error("read", &temp))?
        .permissions();
    permissions.set_readonly(true);
    fs::set_permissions(&temp, permissions).map_err(io_error("make read-only", &temp))?;
    drop(output);
    let digest = hex(&hasher.finalize());
    if digest != file.sha256 {
        return Err(Error::FileChanged {
            file: file.path.clone(),
            recorded: file.sha256.clone(),
            copied: digest,
        });
    }
    // The caller's guard takes the file over.
    guard.0.clear();
    Ok(temp)
}

/// A new, empty temporary file in `dir`, created exclusively.
fn new_temp(dir: &Path) -> Result<(PathBuf, File), Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!("{}-{nanos}-{n}.partial", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error("create", &temp)(e)),
        }
    }
}

/// The SHA-256 of a file's bytes and its size, read in chunks.
fn hash_file(path: &Path, each: &mut dyn FnMut(u64)) -> std::io::Result<(String, u64)> {
    let mut input = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; COPY_CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let n = read_chunk(&mut input, &mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(buffer.get(..n).unwrap_or_default());
        size = size.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        each(size);
    }
    Ok((hex(&hasher.finalize()), size))
}

/// One `read` into `buffer`, retried while it is interrupted; 0 at end.
fn read_chunk(input: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match input.read(buffer) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn io_error(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Blob {
        doing,
        path,
        source,
    }
}
