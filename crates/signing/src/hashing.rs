//! Hashing a model into a [`Manifest`]: walk, then SHA-256 every file or
//! shard in parallel (rayon) over memory-mapped bytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use modelgate_formats::FileBytes;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::manifest::{MAX_RESOURCES, Manifest, Resource, Serialization, SerializationParams};

/// Deepest directory level entered below the model root.
pub const MAX_DIR_DEPTH: usize = 64;
/// Most directory entries a walk visits (files, directories, links).
pub const MAX_DIR_ENTRIES: usize = 2_000_000;
/// model_signing's default shard size: 1,000,000,000 bytes.
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;
/// The paths model_signing leaves out by default, at the model root.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];
/// Bytes hashed between two progress reports.
const PROGRESS_CHUNK: usize = 8 << 20;

/// How to hash a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashOptions {
    /// Files or shards.
    pub serialization: Serialization,
    /// Follow symbolic links (hashing their targets' content under the
    /// link's name). When false, a link is an error, as in model_signing.
    pub allow_symlinks: bool,
    /// Paths relative to the model root (`/`-separated) to leave out; a
    /// directory leaves out everything below it. Recorded in the statement.
    pub ignore_paths: Vec<String>,
    /// Also leave out [`GIT_PATHS`] (model_signing's default).
    pub ignore_git_paths: bool,
}

impl Default for HashOptions {
    /// model_signing's defaults: files, no symlinks, git paths left out.
    fn default() -> Self {
        HashOptions {
            serialization: Serialization::Files,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
        }
    }
}

/// Progress of a hash, reported from the hashing threads.
pub trait Progress: Sync {
    /// Called once, before hashing, with the bytes to hash.
    fn start(&self, _total_bytes: u64) {}
    /// Called as bytes are hashed, with the total hashed so far.
    fn advance(&self, _bytes_done: u64) {}
}

/// Progress that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A file found under the model root.
struct FileEntry {
    path: PathBuf,
    /// `/`-separated path relative to the root, `.` for a single-file model.
    name: String,
    size: u64,
}

/// One unit of hashing: a whole file, or one shard of one.
struct Job<'a> {
    file: &'a FileEntry,
    start: u64,
    end: u64,
}

/// Hash the model at `model` (a directory or a single file) into a manifest.
///
/// Files are listed first (leaving out `options`' ignore paths), then every
/// file (files mode) or shard (shards mode) is hashed on rayon's pool,
/// largest first. Entries come back in model_signing's order: by path
/// component, then shard start.
pub fn hash_model(
    model: &Path,
    options: &HashOptions,
    progress: &dyn Progress,
) -> Result<Manifest, Error> {
    if let Serialization::Shards { shard_size: 0 } = options.serialization {
        return Err(Error::ZeroShardSize);
    }
    let mut ignore_paths: Vec<String> = Vec::new();
    for path in &options.ignore_paths {
        let normalized =
            normalize_ignore_path(path).ok_or_else(|| Error::IgnoresRoot { path: path.clone() })?;
        if !ignore_paths.contains(&normalized) {
            ignore_paths.push(normalized);
        }
    }
    if options.ignore_git_paths {
        for path in GIT_PATHS {
            if !ignore_paths.iter().any(|p| p == path) {
                ignore_paths.push(path.to_string());
            }
        }
    }
    let ignore: Vec<Vec<&str>> = ignore_paths
        .iter()
        .map(|p| p.split('/').collect())
        .collect();
    let files = list_files(model, options.allow_symlinks, &ignore)?;
    let jobs = plan(&files, options.serialization)?;

    let total = files.iter().fold(0u64, |sum, f| sum.saturating_add(f.size));
    progress.start(total);
    let done = AtomicU64::new(0);
    // Largest first, so that the last job to start is a small one.
    let mut ordered: Vec<(usize, &Job<'_>)> = jobs.iter().enumerate().collect();
    ordered.sort_by_key(|(_, job)| std::cmp::Reverse(job.end - job.start));
    let mut digests: Vec<(usize, [u8; 32])> = ordered
        .par_iter()
        .with_max_len(1)
        .map(|&(job_index, job)| Ok((job_index, hash_range(job, &done, progress)?)))
        .collect::<Result<_, Error>>()?;
    // Back to manifest order: one digest per job.
    digests.sort_unstable_by_key(|&(job_index, _)| job_index);

    let resources = jobs
        .iter()
        .zip(digests)
        .map(|(job, (_, digest))| Resource {
            name: match options.serialization {
                Serialization::Files => job.file.name.clone(),
                Serialization::Shards { .. } => {
                    format!("{}:{}:{}", job.file.name, job.start, job.end)
                }
            },
            digest,
        })
        .collect();
    Ok(Manifest {
        model_name: model_name(model),
        params: SerializationParams {
            serialization: options.serialization,
            allow_symlinks: options.allow_symlinks,
            ignore_paths,
        },
        resources,
    })
}

/// The model's name as model_signing records it: the last path component,
/// or the resolved directory's name for `.` and `..`.
fn model_name(model: &Path) -> String {
    let name = match model.file_name() {
        Some(name) => Some(name.to_string_lossy().into_owned()),
        None => model
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
    };
    name.unwrap_or_default()
}

/// An ignore path as `/`-separated components without `.` or empty ones;
/// `None` when nothing is left (the model root itself).
pub(crate) fn normalize_ignore_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

fn is_ignored(components: &[&str], ignore: &[Vec<&str>]) -> bool {
    ignore.iter().any(|prefix| {
        components.len() >= prefix.len() && components.iter().zip(prefix).all(|(a, b)| a == b)
    })
}

/// The files to hash, sorted as model_signing sorts paths (component by
/// component).
fn list_files(
    model: &Path,
    allow_symlinks: bool,
    ignore: &[Vec<&str>],
) -> Result<Vec<FileEntry>, Error> {
    let link = fs::symlink_metadata(model).map_err(|e| Error::io(model, e))?;
    if link.file_type().is_symlink() && !allow_symlinks {
        return Err(Error::Symlink {
            path: model.to_path_buf(),
        });
    }
    let metadata = fs::metadata(model).map_err(|_| Error::NotFileOrDirectory {
        path: model.to_path_buf(),
    })?;
    if metadata.is_file() {
        return Ok(vec![FileEntry {
            path: model.to_path_buf(),
            name: ".".to_string(),
            size: metadata.len(),
        }]);
    }
    if !metadata.is_dir() {
        return Err(Error::NotFileOrDirectory {
            path: model.to_path_buf(),
        });
    }
    let mut walk = Walk {
        allow_symlinks,
        ignore,
        n_entries: 0,
        files: Vec::new(),
    };
    walk.directory(model, &mut Vec::new())?;
    let mut files = walk.files;
    files.sort_by(|a, b| a.name.split('/').cmp(b.name.split('/')));
    Ok(files)
}

struct Walk<'a> {
    allow_symlinks: bool,
    ignore: &'a [Vec<&'a str>],
    n_entries: usize,
    files: Vec<FileEntry>,
}

impl Walk<'_> {
    fn directory(&mut self, dir: &Path, prefix: &mut Vec<String>) -> Result<(), Error> {
        if prefix.len() > MAX_DIR_DEPTH {
            return Err(Error::TooDeep {
                path: dir.to_path_buf(),
                limit: MAX_DIR_DEPTH,
            });
        }
        let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(Error::NonUtf8Path { path });
            };
            let mut components: Vec<&str> = prefix.iter().map(String::as_str).collect();
            components.push(&name);
            if is_ignored(&components, self.ignore) {
                continue;
            }
            self.n_entries += 1;
            if self.n_entries > MAX_DIR_ENTRIES {
                return Err(Error::TooManyEntries {
                    what: dir.display().to_string(),
                    limit: MAX_DIR_ENTRIES,
                });
            }
            let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
            let metadata = if file_type.is_symlink() {
                if !self.allow_symlinks {
                    return Err(Error::Symlink { path });
                }
                fs::metadata(&path).map_err(|_| Error::NotFileOrDirectory { path: path.clone() })?
            } else {
                entry.metadata().map_err(|e| Error::io(&path, e))?
            };
            let relative = components.join("/");
            if metadata.is_dir() {
                prefix.push(name);
                let result = self.directory(&path, prefix);
                prefix.pop();
                result?;
            } else if metadata.is_file() {
                self.files.push(FileEntry {
                    path,
                    name: relative,
                    size: metadata.len(),
                });
            } else {
                return Err(Error::NotFileOrDirectory { path });
            }
        }
        Ok(())
    }
}

/// The jobs, in manifest order. Shards mode: `[0, s), [s, 2s), …, [ks, size)`
/// for each non-empty file (an empty file has no shard, as in model_signing).
fn plan(files: &[FileEntry], serialization: Serialization) -> Result<Vec<Job<'_>>, Error> {
    let too_many = || Error::TooManyEntries {
        what: "the model".to_string(),
        limit: MAX_RESOURCES,
    };
    match serialization {
        Serialization::Files => {
            if files.len() > MAX_RESOURCES {
                return Err(too_many());
            }
            Ok(files
                .iter()
                .map(|file| Job {
                    file,
                    start: 0,
                    end: file.size,
                })
                .collect())
        }
        Serialization::Shards { shard_size } => {
            let mut n_jobs: u64 = 0;
            for file in files {
                if file.name.contains(':') {
                    return Err(Error::ColonInShardedPath {
                        path: file.name.clone(),
                    });
                }
                n_jobs = n_jobs.saturating_add(file.size.div_ceil(shard_size));
            }
            if n_jobs > MAX_RESOURCES as u64 {
                return Err(too_many());
            }
            let mut jobs = Vec::new();
            for file in files {
                let mut start = 0;
                while start < file.size {
                    let end = start.saturating_add(shard_size).min(file.size);
                    jobs.push(Job { file, start, end });
                    start = end;
                }
            }
            Ok(jobs)
        }
    }
}

fn hash_range(job: &Job<'_>, done: &AtomicU64, progress: &dyn Progress) -> Result<[u8; 32], Error> {
    let file = job.file;
    let changed = || Error::FileChanged {
        path: file.path.clone(),
    };
    let bytes = FileBytes::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
    if u64::try_from(bytes.len()).ok() != Some(file.size) {
        return Err(changed());
    }
    let start = usize::try_from(job.start).map_err(|_| changed())?;
    let end = usize::try_from(job.end).map_err(|_| changed())?;
    let range = bytes.get(start..end).ok_or_else(changed)?;
    let mut hasher = Sha256::new();
    for chunk in range.chunks(PROGRESS_CHUNK) {
        hasher.update(chunk);
        let n = chunk.len() as u64;
        progress.advance(done.fetch_add(n, Ordering::Relaxed) + n);
    }
    Ok(hasher.finalize().into())
}
