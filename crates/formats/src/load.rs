//! Loading a path: its files, read once by [`read_tree`], are sniffed and
//! parsed; a directory's Hugging Face files are parsed into a [`Snapshot`].

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use modelgate_archive::Limits;
use modelgate_archive::stream::{self, Compression};
use modelgate_hf::{
    ChatTemplate, FileRole, GenerationConfig, ModelCard, ModelConfig, TokenizerConfig,
};
use rayon::prelude::*;

use crate::sniff::{Format, sniff};
use crate::tree::{LoadedFile, Skipped, Tree, WalkOptions, read_small_file, read_tree};
use crate::{Error, ParseError};

/// Largest text file (config, card, license) read into memory.
const MAX_TEXT_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How far [`load`] goes.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Size, ratio and nesting limits for archives and compressed streams.
    pub limits: Limits,
    /// Deepest directory level entered below the root.
    pub max_dir_depth: u32,
    /// Most files considered under one root.
    pub max_files: usize,
    /// When loading a single file, also read the model repository files
    /// (`config.json`, `tokenizer_config.json`, `README.md`, licenses) that sit
    /// beside it, as a loader would.
    pub sibling_context: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            limits: Limits::default(),
            max_dir_depth: 16,
            max_files: 100_000,
            sibling_context: true,
        }
    }
}

impl LoadOptions {
    /// The walk [`load`] makes: `.git` left out, linked files read, linked
    /// directories not entered.
    pub fn walk_options(&self) -> WalkOptions {
        WalkOptions {
            max_depth: self.max_dir_depth,
            max_files: self.max_files,
            ..WalkOptions::default()
        }
    }
}

/// Everything found under one path.
#[derive(Debug)]
pub struct Loaded {
    /// The path given to [`load`].
    pub root: PathBuf,
    /// The root's name (see [`Tree::name`]).
    pub name: String,
    /// Whether `root` is a directory.
    pub is_dir: bool,
    /// Whether the root itself is a symbolic link.
    pub root_via_symlink: bool,
    /// Every file under the root, sorted by relative path, with the bytes
    /// every analysis of this load reads (see [`read_tree`]).
    pub files: Vec<LoadedFile>,
    /// Every file that parsed as a model artifact or container, sorted by path.
    pub artifacts: Vec<Artifact>,
    /// Files that claimed a format and failed to parse, or could not be read.
    pub failures: Vec<Failure>,
    /// Directory entries walked over (links to directories, special files).
    pub skipped: Vec<Skipped>,
    /// The model repository's configuration, card and license files.
    pub snapshot: Snapshot,
}

impl Loaded {
    /// The files whose memory maps may no longer hold what was read, because
    /// the file was written in place since (see
    /// [`LoadedFile::modified_in_place`]), as relative paths.
    pub fn modified_in_place(&self) -> Vec<String> {
        self.files
            .par_iter()
            .filter(|file| file.modified_in_place())
            .map(|file| file.relative_path.clone())
            .collect()
    }
}

/// A file that could not be loaded.
#[derive(Debug)]
pub struct Failure {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: Error,
}

impl Failure {
    /// Whether the file (or directory) could not be read at all, as opposed
    /// to read and then rejected by its reader.
    pub fn is_unread(&self) -> bool {
        !matches!(self.error, Error::Parse { .. })
    }
}

/// One parsed file.
#[derive(Debug)]
pub struct Artifact {
    /// Where it is.
    pub path: PathBuf,
    /// Its path relative to the loaded root (its file name when a file was loaded).
    pub relative_path: String,
    /// Its size on disk.
    pub file_size: u64,
    /// What its content is (after any compression layers).
    pub format: Format,
    /// Compression layers opened to reach the content, outermost first.
    pub compression: Vec<Compression>,
    /// The reader's output.
    pub content: Content,
}

/// A reader's output.
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one per file; boxing buys nothing
pub enum Content {
    /// A GGUF file.
    Gguf(modelgate_gguf::Gguf),
    /// A safetensors file.
    Safetensors(modelgate_safetensors::SafeTensors),
    /// A sharded checkpoint's index.
    ShardIndex(modelgate_safetensors::ShardIndex),
    /// An ONNX model.
    Onnx(modelgate_onnx::OnnxModel),
    /// A PyTorch checkpoint (zip, legacy or tar).
    PyTorch(modelgate_pytorch::Checkpoint),
    /// A bare pickle stream.
    Pickle(PickleSummary),
    /// A NumPy array.
    Npy(modelgate_numpy::Npy),
    /// A NumPy archive.
    Npz(modelgate_numpy::Npz),
    /// A Keras model (`.keras` or HDF5).
    Keras(modelgate_keras::KerasModel),
    /// A zip or tar archive that holds no known model layout.
    Archive {
        /// Member names, in archive order.
        members: Vec<String>,
    },
}

/// What a bare pickle stream holds, without evaluating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleSummary {
    /// Pickles found back to back in the stream.
    pub n_pickles: usize,
    /// The protocol each declares (PROTO), or 0/1 when it has none.
    pub protocols: Vec<u8>,
    /// Opcodes in all pickles.
    pub n_ops: u64,
}

/// The files of a Hugging Face style model repository that are not weights.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `config.json` at the root.
    pub config: Option<ModelConfig>,
    /// `generation_config.json`.
    pub generation_config: Option<GenerationConfig>,
    /// `tokenizer_config.json`.
    pub tokenizer_config: Option<TokenizerConfig>,
    /// `chat_template.jinja` / `chat_template.json`.
    pub chat_template_files: Vec<ChatTemplate>,
    /// `README.md`, the model card.
    pub card: Option<ModelCard>,
    /// License and notice files: relative path and text.
    pub license_files: Vec<(String, String)>,
    /// Python source files (custom modelling code).
    pub python_files: Vec<String>,
    /// Files neither parsed as artifacts nor recognised above.
    pub other_files: Vec<String>,
}

/// Load a file or a directory: [`read_tree`] (every file opened once),
/// then [`load_tree`].
///
/// Per-file problems land in [`Loaded::failures`]; only a root that cannot be
/// read at all is an `Err`.
pub fn load(root: &Path, options: &LoadOptions) -> Result<Loaded, Error> {
    let tree = read_tree(root, &options.walk_options())?;
    Ok(load_tree(tree, options))
}

/// Parse the files of a [`Tree`] already read: repository files into the
/// [`Snapshot`], everything else sniffed and parsed (in parallel) into
/// [`Artifact`]s. The tree's files move into [`Loaded::files`], so the
/// bytes parsed here are the bytes later analyses and digests read. Beside
/// a single file, the repository files a loader would read are read too
/// (see [`LoadOptions::sibling_context`]); they are context, not part of
/// [`Loaded::files`].
pub fn load_tree(tree: Tree, options: &LoadOptions) -> Loaded {
    let mut loaded = Loaded {
        root: tree.root,
        name: tree.name,
        is_dir: tree.is_dir,
        root_via_symlink: tree.root_via_symlink,
        files: tree.files,
        artifacts: Vec::new(),
        failures: tree.failures,
        skipped: tree.skipped,
        snapshot: Snapshot::default(),
    };
    if !loaded.is_dir && options.sibling_context {
        let parent = loaded
            .root
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        read_sibling_context(&parent, &mut loaded.snapshot, &mut loaded.failures);
    }

    // Split repository files (parsed into the snapshot) from candidates for
    // artifacts (sniffed and parsed in parallel).
    let mut candidates = Vec::new();
    for file in &loaded.files {
        let role = modelgate_hf::classify(&file.relative_path);
        if loaded.is_dir
            && read_repository_file(
                &file.path,
                &file.relative_path,
                &role,
                || text_bytes(file),
                &mut loaded.snapshot,
                &mut loaded.failures,
            )
        {
            continue;
        }
        candidates.push(file);
    }
    let results: Vec<LoadResult> = candidates
        .into_par_iter()
        .map(|file| load_file(file, options))
        .collect();
    for result in results {
        match result {
            LoadResult::Artifact(artifact) => loaded.artifacts.push(*artifact),
            LoadResult::Failure(failure) => loaded.failures.push(failure),
            LoadResult::NotAModel(relative) => {
                if relative.ends_with(".py") {
                    loaded.snapshot.python_files.push(relative);
                } else {
                    loaded.snapshot.other_files.push(relative);
                }
            }
        }
    }
    loaded
}

enum LoadResult {
    Artifact(Box<Artifact>),
    Failure(Failure),
    NotAModel(String),
}

fn load_file(file: &LoadedFile, options: &LoadOptions) -> LoadResult {
    let bytes: &[u8] = &file.bytes;
    let path = &file.path;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = sniff(bytes, &file_name);
    if format == Format::Unknown {
        return LoadResult::NotAModel(file.relative_path.clone());
    }
    let file_size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    match load_bytes(bytes, &file_name, &options.limits) {
        Ok((format, compression, content)) => LoadResult::Artifact(Box::new(Artifact {
            path: path.clone(),
            relative_path: file.relative_path.clone(),
            file_size,
            format,
            compression,
            content,
        })),
        Err((format, source)) => LoadResult::Failure(Failure {
            path: path.clone(),
            error: Error::Parse {
                path: path.clone(),
                format,
                source,
            },
        }),
    }
}

/// Parse bytes already in memory: sniff, open compression layers (within
/// `limits`), and run the reader. On failure, returns the format that was
/// being read with the reader's error.
pub fn load_bytes(
    bytes: &[u8],
    file_name: &str,
    limits: &Limits,
) -> Result<(Format, Vec<Compression>, Content), (Format, ParseError)> {
    let mut compression = Vec::new();
    let mut owned: Vec<u8>;
    let mut current: &[u8] = bytes;
    // The inner name drops the compression suffix (model.pkl.gz → model.pkl).
    let mut name = file_name.to_string();
    loop {
        let format = sniff(current, &name);
        let Format::Compressed(kind) = format else {
            return parse_content(current, format, limits)
                .map(|content| (format, compression, content))
                .map_err(|e| (format, e));
        };
        if compression.len() >= usize::try_from(limits.max_depth).unwrap_or(usize::MAX) {
            return Err((
                format,
                ParseError::NestedTooDeep {
                    max_depth: limits.max_depth,
                },
            ));
        }
        owned =
            stream::decompress(current, kind, limits).map_err(|e| (format, ParseError::from(e)))?;
        compression.push(kind);
        if let Some((stem, _)) = name.rsplit_once('.') {
            name = stem.to_string();
        }
        current = &owned;
    }
}

fn parse_content(bytes: &[u8], format: Format, limits: &Limits) -> Result<Content, ParseError> {
    Ok(match format {
        Format::Gguf => Content::Gguf(modelgate_gguf::Gguf::parse(bytes)?),
        Format::Safetensors => {
            Content::Safetensors(modelgate_safetensors::SafeTensors::parse(bytes)?)
        }
        Format::ShardIndex => Content::ShardIndex(modelgate_safetensors::ShardIndex::parse(bytes)?),
        Format::Onnx => Content::Onnx(modelgate_onnx::OnnxModel::parse(bytes)?),
        Format::PyTorchZip | Format::PyTorchLegacy | Format::PyTorchTar => {
            Content::PyTorch(modelgate_pytorch::parse(bytes, limits)?)
        }
        Format::Pickle => Content::Pickle(summarize_pickles(bytes)?),
        Format::Npy => Content::Npy(modelgate_numpy::Npy::parse(bytes)?),
        Format::Npz => Content::Npz(modelgate_numpy::Npz::parse(bytes, limits)?),
        Format::Keras | Format::Hdf5 => {
            Content::Keras(modelgate_keras::KerasModel::parse(bytes, limits)?)
        }
        Format::Zip => Content::Archive {
            members: modelgate_archive::zip::ZipArchive::parse(bytes)?
                .members()
                .iter()
                .map(|m| m.name.clone())
                .collect(),
        },
        Format::Tar => Content::Archive {
            members: modelgate_archive::tar::TarArchive::parse(bytes)?
                .members()
                .iter()
                .map(|m| m.name.clone())
                .collect(),
        },
        // `load_bytes` opens compression before calling here; Unknown is filtered by callers.
        Format::Compressed(_) | Format::Unknown => Content::Archive {
            members: Vec::new(),
        },
    })
}

/// Count a stream's pickles and opcodes with the streaming evaluator, so a
/// large pickle costs no memory per opcode and joblib's array data is
/// stepped over as joblib reads it.
fn summarize_pickles(bytes: &[u8]) -> Result<PickleSummary, ParseError> {
    let mut summary = PickleSummary {
        n_pickles: 0,
        protocols: Vec::new(),
        n_ops: 0,
    };
    let limits = modelgate_pickle::EvalLimits::default();
    let error = modelgate_pickle::evaluate_stream_each(bytes, &limits, |evaluation| {
        if !evaluation.embedded {
            summary.n_pickles += 1;
            summary.protocols.push(evaluation.protocol.unwrap_or(0));
        }
        summary.n_ops = summary.n_ops.saturating_add(evaluation.ops);
    });
    match error {
        Some(error) => Err(error.into()),
        None => Ok(summary),
    }
}

/// Parse a repository file into the snapshot. Returns whether the file was
/// consumed (so it is not also sniffed as an artifact).
fn read_repository_file<'b>(
    path: &Path,
    relative: &str,
    role: &FileRole,
    read: impl FnOnce() -> Result<Cow<'b, [u8]>, Error>,
    snapshot: &mut Snapshot,
    failures: &mut Vec<Failure>,
) -> bool {
    let at_root = !relative.contains('/');
    let parse = |failures: &mut Vec<Failure>| -> Option<Cow<'b, [u8]>> {
        match read() {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                failures.push(Failure {
                    path: path.to_path_buf(),
                    error,
                });
                None
            }
        }
    };
    let hf_failure = |failures: &mut Vec<Failure>, source: modelgate_hf::Error| {
        failures.push(Failure {
            path: path.to_path_buf(),
            error: Error::Parse {
                path: path.to_path_buf(),
                format: Format::Unknown,
                source: ParseError::Hf(source),
            },
        });
    };
    match role {
        FileRole::Config if at_root => {
            if let Some(bytes) = parse(failures) {
                match ModelConfig::parse(&bytes) {
                    Ok(config) => snapshot.config = Some(config),
                    Err(e) => hf_failure(failures, e),
                }
            }
            true
        }
        FileRole::GenerationConfig if at_root => {
            if let Some(bytes) = parse(failures) {
                match GenerationConfig::parse(&bytes) {
                    Ok(config) => snapshot.generation_config = Some(config),
                    Err(e) => hf_failure(failures, e),
                }
            }
            true
        }
        FileRole::TokenizerConfig if at_root => {
            if let Some(bytes) = parse(failures) {
                match TokenizerConfig::parse(&bytes) {
                    Ok(config) => snapshot.tokenizer_config = Some(config),
                    Err(e) => hf_failure(failures, e),
                }
            }
            true
        }
        FileRole::ChatTemplate if at_root => {
            if let Some(bytes) = parse(failures) {
                match ChatTemplate::from_file(relative, &bytes) {
                    Ok(templates) => snapshot.chat_template_files.extend(templates),
                    Err(e) => hf_failure(failures, e),
                }
            }
            true
        }
        FileRole::ModelCard if at_root => {
            if let Some(bytes) = parse(failures) {
                snapshot.card = Some(ModelCard::parse(&String::from_utf8_lossy(&bytes)));
            }
            true
        }
        FileRole::License => {
            if let Some(bytes) = parse(failures) {
                snapshot.license_files.push((
                    relative.to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
            true
        }
        FileRole::PythonCode => {
            snapshot.python_files.push(relative.to_string());
            true
        }
        FileRole::Tokenizer => {
            snapshot.other_files.push(relative.to_string());
            true
        }
        _ => false,
    }
}

/// Beside a single loaded file, read the repository files a loader would.
fn read_sibling_context(dir: &Path, snapshot: &mut Snapshot, failures: &mut Vec<Failure>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let role = modelgate_hf::classify(&name);
        if matches!(
            role,
            FileRole::Config
                | FileRole::GenerationConfig
                | FileRole::TokenizerConfig
                | FileRole::ChatTemplate
                | FileRole::ModelCard
                | FileRole::License
        ) {
            let path = dir.join(&name);
            let read = || match read_small_file(&path, MAX_TEXT_FILE_BYTES)? {
                Some(bytes) => Ok(Cow::Owned(bytes)),
                None => Err(Error::NotAFile { path: path.clone() }),
            };
            read_repository_file(&path, &name, &role, read, snapshot, failures);
        }
    }
}

/// A repository text file's bytes, refused past [`MAX_TEXT_FILE_BYTES`].
fn text_bytes(file: &LoadedFile) -> Result<Cow<'_, [u8]>, Error> {
    let size = u64::try_from(file.bytes.len()).unwrap_or(u64::MAX);
    if size > MAX_TEXT_FILE_BYTES {
        return Err(Error::TooLarge {
            path: file.path.clone(),
            size,
            max_bytes: MAX_TEXT_FILE_BYTES,
        });
    }
    Ok(Cow::Borrowed(&file.bytes))
}
