//! Hashing a model into a [`Manifest`]: SHA-256 of every file or shard, in
//! parallel (rayon), over bytes already read (by `modelgate-formats`, which
//! copies small files and memory-maps the rest).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use modelgate_formats::{LoadedFile, SkipReason, Tree, WalkOptions, read_tree};
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

/// One file of a model, already in memory: what [`hash_files`] hashes.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile<'a> {
    /// Its `/`-separated path relative to the model root; `.` when the
    /// model is this one file.
    pub name: &'a str,
    /// Its content.
    pub bytes: &'a [u8],
    /// Whether it was reached through a symbolic link (refused unless
    /// [`HashOptions::allow_symlinks`]).
    pub via_symlink: bool,
}

impl<'a> ModelFile<'a> {
    /// A file read by `modelgate-formats`; `is_dir` says whether the model
    /// is a directory (otherwise the file is the model, named `.`).
    pub fn from_loaded(file: &'a LoadedFile, is_dir: bool) -> ModelFile<'a> {
        ModelFile {
            name: if is_dir { &file.relative_path } else { "." },
            bytes: &file.bytes,
            via_symlink: file.via_symlink,
        }
    }
}

/// One unit of hashing: a whole file, or one shard of one.
struct Job<'a> {
    file: &'a ModelFile<'a>,
    start: u64,
    end: u64,
}

/// Hash the model at `model` (a directory or a single file) into a manifest.
///
/// The files are read once through `modelgate-formats` (leaving out
/// `options`' ignore paths), then hashed by [`hash_files`].
pub fn hash_model(
    model: &Path,
    options: &HashOptions,
    progress: &dyn Progress,
) -> Result<Manifest, Error> {
    if let Serialization::Shards { shard_size: 0 } = options.serialization {
        return Err(Error::ZeroShardSize);
    }
    let ignore_paths = ignore_paths(options)?;
    let tree = read_model(model, options.allow_symlinks, &ignore_paths)?;
    hash_files(&tree.name, &model_files(&tree), options, progress)
}

/// Read a model the way model_signing walks it: `ignore_paths` left out,
/// symbolic links refused unless allowed (then followed, directories too),
/// anything but files and directories refused, names that are not UTF-8
/// refused.
pub(crate) fn read_model(
    model: &Path,
    allow_symlinks: bool,
    ignore_paths: &[String],
) -> Result<Tree, Error> {
    let walk = WalkOptions {
        max_depth: u32::try_from(MAX_DIR_DEPTH).unwrap_or(u32::MAX),
        max_files: MAX_DIR_ENTRIES,
        max_entries: MAX_DIR_ENTRIES,
        follow_symlinked_dirs: allow_symlinks,
        skip_git_dirs: false,
        skip: ignore_paths.to_vec(),
    };
    let mut tree = read_tree(model, &walk).map_err(|error| walk_error(model, error))?;
    if tree.root_via_symlink && !allow_symlinks {
        return Err(Error::Symlink {
            path: model.to_path_buf(),
        });
    }
    if let Some(skipped) = tree.skipped.first() {
        return Err(match skipped.reason {
            SkipReason::SymlinkedDirectory => Error::Symlink {
                path: skipped.path.clone(),
            },
            _ => Error::NotFileOrDirectory {
                path: skipped.path.clone(),
            },
        });
    }
    if !tree.failures.is_empty() {
        let failure = tree.failures.swap_remove(0);
        return Err(walk_error(model, failure.error));
    }
    for file in &tree.files {
        if file.via_symlink && !allow_symlinks {
            return Err(Error::Symlink {
                path: file.path.clone(),
            });
        }
        let relative = file.path.strip_prefix(model).unwrap_or(&file.path);
        if relative
            .components()
            .any(|c| c.as_os_str().to_str().is_none())
        {
            return Err(Error::NonUtf8Path {
                path: file.path.clone(),
            });
        }
    }
    Ok(tree)
}

/// The tree's files as [`ModelFile`]s.
pub(crate) fn model_files(tree: &Tree) -> Vec<ModelFile<'_>> {
    tree.files
        .iter()
        .map(|file| ModelFile::from_loaded(file, tree.is_dir))
        .collect()
}

fn walk_error(model: &Path, error: modelgate_formats::Error) -> Error {
    use modelgate_formats::Error as Walk;
    match error {
        Walk::Io { path, source } => Error::io(path, source),
        Walk::TooDeep { path, .. } => Error::TooDeep {
            path,
            limit: MAX_DIR_DEPTH,
        },
        Walk::TooManyFiles { path, .. } | Walk::TooManyEntries { path, .. } => {
            Error::TooManyEntries {
                what: path.display().to_string(),
                limit: MAX_DIR_ENTRIES,
            }
        }
        Walk::NotAFile { path } => Error::NotFileOrDirectory { path },
        other => Error::io(
            model,
            std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        ),
    }
}

/// `options`' ignore paths, normalised, with the git paths when asked.
pub(crate) fn ignore_paths(options: &HashOptions) -> Result<Vec<String>, Error> {
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
    Ok(ignore_paths)
}

/// Hash files already in memory into the manifest of the model named
/// `model_name`.
///
/// `options`' ignore paths (and git paths) are left out, a file reached
/// through a link is refused unless links are allowed, then every file
/// (files mode) or shard (shards mode) is hashed on rayon's pool, largest
/// first. Entries come back in model_signing's order: by path component,
/// then shard start. The digests are of exactly the bytes given, so a
/// caller that scanned those bytes records what it judged.
pub fn hash_files(
    model_name: &str,
    files: &[ModelFile<'_>],
    options: &HashOptions,
    progress: &dyn Progress,
) -> Result<Manifest, Error> {
    if let Serialization::Shards { shard_size: 0 } = options.serialization {
        return Err(Error::ZeroShardSize);
    }
    let ignore_paths = ignore_paths(options)?;
    let ignore: Vec<Vec<&str>> = ignore_paths
        .iter()
        .map(|p| p.split('/').collect())
        .collect();
    let single_file = matches!(files, [only] if only.name == ".");
    let mut kept: Vec<&ModelFile<'_>> = Vec::with_capacity(files.len());
    for file in files {
        let components: Vec<&str> = file.name.split('/').collect();
        if !single_file && is_ignored(&components, &ignore) {
            continue;
        }
        if file.via_symlink && !options.allow_symlinks {
            return Err(Error::Symlink {
                path: PathBuf::from(file.name),
            });
        }
        kept.push(file);
    }
    kept.sort_by(|a, b| a.name.split('/').cmp(b.name.split('/')));
    let jobs = plan(&kept, options.serialization)?;

    let total = kept.iter().fold(0u64, |sum, f| sum.saturating_add(size(f)));
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
                Serialization::Files => job.file.name.to_string(),
                Serialization::Shards { .. } => {
                    format!("{}:{}:{}", job.file.name, job.start, job.end)
                }
            },
            digest,
        })
        .collect();
    Ok(Manifest {
        model_name: model_name.to_string(),
        params: SerializationParams {
            serialization: options.serialization,
            allow_symlinks: options.allow_symlinks,
            ignore_paths,
        },
        resources,
    })
}

fn size(file: &ModelFile<'_>) -> u64 {
    u64::try_from(file.bytes.len()).unwrap_or(u64::MAX)
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

/// The jobs, in manifest order. Shards mode: `[0, s), [s, 2s), …, [ks, size)`
/// for each non-empty file (an empty file has no shard, as in model_signing).
fn plan<'a>(
    files: &[&'a ModelFile<'a>],
    serialization: Serialization,
) -> Result<Vec<Job<'a>>, Error> {
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
                .map(|&file| Job {
                    file,
                    start: 0,
                    end: size(file),
                })
                .collect())
        }
        Serialization::Shards { shard_size } => {
            let mut n_jobs: u64 = 0;
            for file in files {
                if file.name.contains(':') {
                    return Err(Error::ColonInShardedPath {
                        path: file.name.to_string(),
                    });
                }
                n_jobs = n_jobs.saturating_add(size(file).div_ceil(shard_size));
            }
            if n_jobs > MAX_RESOURCES as u64 {
                return Err(too_many());
            }
            let mut jobs = Vec::new();
            for &file in files {
                let file_size = size(file);
                let mut start = 0;
                while start < file_size {
                    let end = start.saturating_add(shard_size).min(file_size);
                    jobs.push(Job { file, start, end });
                    start = end;
                }
            }
            Ok(jobs)
        }
    }
}

fn hash_range(job: &Job<'_>, done: &AtomicU64, progress: &dyn Progress) -> Result<[u8; 32], Error> {
    let changed = || Error::FileChanged {
        path: PathBuf::from(job.file.name),
    };
    let start = usize::try_from(job.start).map_err(|_| changed())?;
    let end = usize::try_from(job.end).map_err(|_| changed())?;
    let range = job.file.bytes.get(start..end).ok_or_else(changed)?;
    let mut hasher = Sha256::new();
    for chunk in range.chunks(PROGRESS_CHUNK) {
        hasher.update(chunk);
        let n = chunk.len() as u64;
        progress.advance(done.fetch_add(n, Ordering::Relaxed) + n);
    }
    Ok(hasher.finalize().into())
}
