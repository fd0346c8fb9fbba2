//! Vet a model: may we use it, who made it, is it what was published, is it
//! documented, is it safe? One report answers all of it.
//!
//! [`vet`] loads a model file or repository once and runs every analyser on
//! it: `modelgate-inspect` (what it is), `modelgate-scan` (what runs on
//! load), `modelgate-license` (which license, which duties, whether the
//! sources agree), `modelgate-card` (is the card complete),
//! `modelgate-provenance` (publisher, source, revision, lineage, toolchain)
//! and `modelgate-signing` (per-file SHA-256 digests and, when a `model.sig`
//! is present, whether it verifies with a trusted key). It turns those facts
//! into the policy's [`Facts`](modelgate_policy::Facts) and asks
//! `modelgate-policy` for the verdict. The [`VetReport`] keeps every fact and
//! every reason; [`markdown`] renders it as the record of the decision, and
//! [`model_description`] feeds the AI-BOM.
//!
//! The model is read once, by `modelgate-formats` (small files copied,
//! large ones memory-mapped), and every analyser, the SHA-256 digests and
//! the signature check read those same bytes: what is judged is what is
//! hashed and recorded. [`vet_loaded`] vets a [`Loaded`] a caller already
//! holds. Apart from the signature file and the trusted keys, which it
//! asks `modelgate-formats` to read, this crate touches no file.
//!
//! ```no_run
//! use modelgate_vet::{VetOptions, vet};
//! let report = vet(std::path::Path::new("./all-MiniLM-L6-v2"), &VetOptions::default()).unwrap();
//! println!("{}", report.verdict.decision.name());
//! print!("{}", modelgate_vet::markdown(&report));
//! ```

mod describe;
mod markdown;
mod sources;

use std::path::{Path, PathBuf};

use modelgate_card::CardReview;
use modelgate_formats::{Format, LoadOptions, Loaded, LoadedFile, load};
use modelgate_inspect::{InspectOptions, inspect};
use modelgate_license::LicenseReport;
use modelgate_policy::{Facts, LicenseFacts, Policy, ScanFinding, SignatureStatus, Verdict, judge};
use modelgate_provenance::{Hints, Provenance};
use modelgate_scan::{ScanOptions, ScanReport};
use modelgate_signing::{HashOptions, Manifest, ModelFile, Serialization};
use serde::Serialize;

pub use describe::model_description;
pub use markdown::markdown;

/// A license source and what it resolved to, in a phrase
/// (`LICENSE: text matches llama3.1 (score 0.97)`).
pub fn describe_license_source(source: &modelgate_license::SourceResult) -> String {
    sources::describe_source(source)
}

/// Why a model could not be vetted at all (per-file problems are findings).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path could not be loaded.
    #[error("cannot load {path}")]
    Load {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<modelgate_formats::Error>,
    },
    /// Nothing under the path is a model.
    #[error(
        "{0}: no model artifact found (formats are recognised by content: GGUF, safetensors, ONNX, PyTorch, pickle, NumPy, Keras)"
    )]
    NoModel(PathBuf),
    /// A trusted key in the policy could not be read.
    #[error("cannot read trusted key {path} (from the policy's signature.trusted_keys)")]
    TrustedKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A trusted key is not a public key.
    #[error("trusted key {path} is not a PEM public key: {message}")]
    TrustedKeyFormat {
        /// The key file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Files could not be hashed.
    #[error("cannot compute digests of {path}")]
    Digest {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<modelgate_signing::Error>,
    },
    /// Memory-mapped files were written in place while they were vetted, so
    /// the bytes judged and hashed may mix old and new content. Vet again
    /// once the files are settled.
    #[error(
        "{path}: files changed while they were vetted ({}); vet again once they are settled",
        files.join(", ")
    )]
    ModifiedWhileVetting {
        /// The path.
        path: PathBuf,
        /// The files written in place, relative to the path.
        files: Vec<String>,
    },
}

/// Largest trusted public key file read, in bytes.
const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;

/// How to vet.
#[derive(Default)]
pub struct VetOptions {
    /// The organisation's policy.
    pub policy: Policy,
    /// Directory that relative paths in the policy are resolved from.
    pub policy_dir: Option<PathBuf>,
    /// What the caller knows about the model's origin (flags).
    pub hints: Hints,
    /// The signature file; default `model.sig` in the model directory.
    pub signature: Option<PathBuf>,
    /// Context length for the memory estimate; default the model's own.
    pub context_length: Option<u64>,
    /// This machine's memory, for the "fits" answer.
    pub machine_memory_bytes: Option<u64>,
    /// Told how many bytes there are to hash, and how many are done.
    pub progress: Option<Box<dyn modelgate_signing::Progress + Send>>,
}

/// The model in one line: what a reader of the record sees first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelSummary {
    /// Name, from the provenance facts or the path.
    pub name: String,
    /// The primary artifact (the one holding the most weights), relative
    /// to the model root.
    pub primary_file: Option<String>,
    /// Format of the primary artifact.
    pub format: Option<String>,
    /// Architecture.
    pub architecture: Option<String>,
    /// Parameters of the primary artifact.
    pub parameters: Option<u64>,
    /// Quantization of the primary artifact.
    pub quantization: Option<String>,
    /// Context length.
    pub context_length: Option<u64>,
    /// Memory needed to run it, in bytes.
    pub memory_bytes: Option<u64>,
    /// The task (the card's `pipeline_tag`).
    pub task: Option<String>,
    /// Training datasets named by the card.
    pub datasets: Vec<String>,
    /// Languages named by the card.
    pub languages: Vec<String>,
}

/// One file and its SHA-256, as in the OMS manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDigest {
    /// Path relative to the model root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// The model format its content was read as, for model artifacts.
    pub format: Option<String>,
}

/// Signature facts.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureFacts {
    /// The signature file looked for.
    pub path: String,
    /// Whether it verified.
    pub status: SignatureStatus,
}

/// Everything `vet` found and decided. This is the JSON interface of
/// `modelgate vet --format json`; field names are stable.
#[derive(Debug, Clone, Serialize)]
pub struct VetReport {
    /// The path vetted.
    pub path: String,
    /// modelgate's version.
    pub tool_version: String,
    /// The decision and every reason.
    pub verdict: Verdict,
    /// The model in brief.
    pub model: ModelSummary,
    /// License identification, terms and conflicts.
    pub license: LicenseReport,
    /// Model card review.
    pub card: CardReview,
    /// Provenance.
    pub provenance: Provenance,
    /// Signature.
    pub signature: SignatureFacts,
    /// Per-file SHA-256 digests.
    pub files: Vec<FileDigest>,
    /// What inspect found.
    pub inspect: modelgate_inspect::Report,
    /// What scan found.
    pub scan: ScanReport,
    /// The policy applied.
    pub policy: Policy,
}

/// Vet the model at `path` (a file or a repository directory): read it
/// once ([`modelgate_formats::load`]) and [`vet_loaded`].
pub fn vet(path: &Path, options: &VetOptions) -> Result<VetReport, Error> {
    let loaded = load(path, &LoadOptions::default()).map_err(|source| Error::Load {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    vet_loaded(&loaded, options)
}

/// Vet a model already loaded. Every analysis and every digest reads the
/// bytes held by `loaded` (its [`Loaded::files`]); the model's files are
/// not opened again, so what is judged is what is hashed and recorded.
/// Only the signature file (when it lies outside the model) and the
/// policy's trusted keys are read here, once each.
///
/// Fails with [`Error::ModifiedWhileVetting`] when a memory-mapped file was
/// written in place meanwhile (files replaced by a rename or deleted are
/// fine: their old bytes are still the ones held).
pub fn vet_loaded(loaded: &Loaded, options: &VetOptions) -> Result<VetReport, Error> {
    let path = loaded.root.as_path();
    let inspected = inspect(
        loaded,
        &InspectOptions {
            context_length: options.context_length,
            machine_memory_bytes: options.machine_memory_bytes,
        },
    );
    if inspected.artifacts.is_empty() && inspected.errors.is_empty() {
        return Err(Error::NoModel(path.to_path_buf()));
    }
    let scan = modelgate_scan::scan_loaded(loaded, &ScanOptions::default());
    let license = modelgate_license::analyse(&sources::license_sources(loaded));
    let card = modelgate_card::review_optional(loaded.snapshot.card.as_ref());
    let mut hints = options.hints.clone();
    sources::download_hints(loaded, &mut hints);
    let provenance = modelgate_provenance::provenance(loaded, &hints);
    let signature_path = signature_path(loaded, options);
    let signature_within = modelgate_formats::path_within(path, &signature_path);
    let (signature, verified) = signature(loaded, &signature_path, &signature_within, options)?;
    let manifest = match verified {
        Some(manifest) if covers_every_file(&manifest, signature_within.as_deref()) => manifest,
        _ => hash_files(
            loaded.name.as_str(),
            loaded.is_dir,
            &loaded.files,
            signature_within.as_deref(),
            &ProgressAdapter(options),
        )
        .map_err(|source| Error::Digest {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?,
    };
    let formats: std::collections::HashMap<&str, &str> = loaded
        .artifacts
        .iter()
        .map(|artifact| (artifact.relative_path.as_str(), artifact.format.name()))
        .collect();
    let mut files = named_digests(loaded.is_dir, &loaded.files, &manifest);
    for file in &mut files {
        file.format = formats.get(file.path.as_str()).map(|f| f.to_string());
    }

    let mut model = summary(path, loaded, &inspected, &provenance);
    if let Some(card) = &loaded.snapshot.card {
        model.task = card.pipeline_tag.clone();
        model.datasets = card.datasets.clone();
        model.languages = card.languages.clone();
    }
    let facts = Facts {
        license: license_facts(&license),
        findings: scan_findings(&scan),
        pickle_files: pickle_files(loaded),
        card_score: card.present.then_some(card.score),
        signature: signature.status.clone(),
        publisher: provenance.publisher.as_ref().map(|fact| fact.value.clone()),
        parameters: model.parameters,
        memory_bytes: model.memory_bytes,
    };
    let verdict = judge(&options.policy, &facts);
    let modified = loaded.modified_in_place();
    if !modified.is_empty() {
        return Err(Error::ModifiedWhileVetting {
            path: path.to_path_buf(),
            files: modified,
        });
    }
    Ok(VetReport {
        path: path.display().to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict,
        model,
        license,
        card,
        provenance,
        signature,
        files,
        inspect: inspected,
        scan,
        policy: options.policy.clone(),
    })
}

fn summary(
    path: &Path,
    loaded: &Loaded,
    inspected: &modelgate_inspect::Report,
    provenance: &Provenance,
) -> ModelSummary {
    // The primary artifact: the one holding the most weights. `inspect`
    // reports one entry per loaded artifact, in the same order.
    let primary_idx = inspected
        .artifacts
        .iter()
        .enumerate()
        .max_by_key(|(_, artifact)| artifact.weights_bytes)
        .map(|(idx, _)| idx);
    let primary = primary_idx.and_then(|idx| inspected.artifacts.get(idx));
    let name = provenance
        .name
        .as_ref()
        .map(|fact| fact.value.clone())
        .unwrap_or_else(|| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string())
        });
    ModelSummary {
        name,
        primary_file: primary_idx
            .and_then(|idx| loaded.artifacts.get(idx))
            .map(|artifact| artifact.relative_path.clone()),
        format: primary.map(|a| a.format.clone()),
        architecture: primary.and_then(|a| a.architecture.clone()),
        parameters: primary.and_then(|a| a.parameters),
        quantization: primary.and_then(|a| a.quantization.clone()),
        context_length: primary.and_then(|a| a.context_length),
        memory_bytes: inspected.memory.as_ref().map(|m| m.total_bytes),
        ..ModelSummary::default()
    }
}

fn license_facts(report: &LicenseReport) -> LicenseFacts {
    let terms = report.terms.as_ref();
    LicenseFacts {
        id: report.license.clone(),
        name: terms.map(|t| t.name.clone()),
        commercial: terms.map(|t| match t.commercial {
            modelgate_license::Commercial::Yes => modelgate_policy::Commercial::Yes,
            modelgate_license::Commercial::No => modelgate_policy::Commercial::No,
            modelgate_license::Commercial::Conditional => modelgate_policy::Commercial::Conditional,
        }),
        monthly_active_users_limit: terms.and_then(|t| t.monthly_active_users_limit),
        duties: terms.map(|t| t.duties()).unwrap_or_default(),
        conflicts: report.conflicts.iter().map(|c| c.message.clone()).collect(),
        evidence: report
            .sources
            .iter()
            .map(sources::describe_source)
            .collect(),
    }
}

fn scan_findings(scan: &ScanReport) -> Vec<ScanFinding> {
    scan.files
        .iter()
        .flat_map(|file| {
            file.findings.iter().map(move |finding| ScanFinding {
                rule: finding.rule.to_string(),
                severity: finding.severity,
                file: match &finding.location.member {
                    Some(member) if !file.path.ends_with(member.as_str()) => {
                        format!("{}:{member}", file.path)
                    }
                    _ => file.path.clone(),
                },
                message: finding.message.clone(),
            })
        })
        .collect()
}

fn pickle_files(loaded: &Loaded) -> Vec<String> {
    loaded
        .artifacts
        .iter()
        .filter(|artifact| {
            matches!(
                artifact.format,
                Format::PyTorchZip | Format::PyTorchLegacy | Format::PyTorchTar | Format::Pickle
            )
        })
        .map(|artifact| artifact.relative_path.clone())
        .collect()
}

/// Forwards hashing progress to the caller's callback.
struct ProgressAdapter<'a>(&'a VetOptions);

impl modelgate_signing::Progress for ProgressAdapter<'_> {
    fn start(&self, total_bytes: u64) {
        if let Some(progress) = &self.0.progress {
            progress.start(total_bytes);
        }
    }

    fn advance(&self, bytes_done: u64) {
        if let Some(progress) = &self.0.progress {
            progress.advance(bytes_done);
        }
    }
}

/// The signature file: the policy's, or `model.sig` inside a directory,
/// `MODEL.sig` beside a file.
fn signature_path(loaded: &Loaded, options: &VetOptions) -> PathBuf {
    if let Some(signature) = &options.signature {
        return signature.clone();
    }
    if loaded.is_dir {
        loaded.root.join("model.sig")
    } else {
        let mut name = loaded.root.as_os_str().to_os_string();
        name.push(".sig");
        PathBuf::from(name)
    }
}

/// SHA-256 of every file, as the OMS `files` manifest lists them (the
/// signature file, `signature_within`, left out), over the bytes given.
/// Symbolic links are followed: Hugging Face cache snapshots are links
/// into the blob store.
fn hash_files(
    model_name: &str,
    is_dir: bool,
    files: &[LoadedFile],
    signature_within: Option<&str>,
    progress: &dyn modelgate_signing::Progress,
) -> Result<Manifest, modelgate_signing::Error> {
    let hash_options = HashOptions {
        allow_symlinks: true,
        ignore_paths: signature_within.map(str::to_string).into_iter().collect(),
        ..HashOptions::default()
    };
    let files: Vec<ModelFile<'_>> = files
        .iter()
        .map(|file| ModelFile::from_loaded(file, is_dir))
        .collect();
    modelgate_signing::hash_files(model_name, &files, &hash_options, progress)
}

/// The digests `vet` records for the model at `path`, computed again (the
/// files read once, through `modelgate-formats`): what `models verify`
/// compares with the recorded ones. `signature` is the signature file, left
/// out when it lies inside the model.
pub fn digests(
    path: &Path,
    signature: &Path,
    progress: &dyn modelgate_signing::Progress,
) -> Result<Vec<FileDigest>, Error> {
    let tree = modelgate_formats::read_tree(path, &LoadOptions::default().walk_options()).map_err(
        |source| Error::Load {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    )?;
    if let Some(failure) = tree.failures.into_iter().next() {
        return Err(Error::Load {
            path: path.to_path_buf(),
            source: Box::new(failure.error),
        });
    }
    let signature_within = modelgate_formats::path_within(path, signature);
    let manifest = hash_files(
        &tree.name,
        tree.is_dir,
        &tree.files,
        signature_within.as_deref(),
        progress,
    )
    .map_err(|source| Error::Digest {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    Ok(named_digests(tree.is_dir, &tree.files, &manifest))
}

/// Whether a verified manifest lists what [`hash_files`] would: every file
/// hashed whole, nothing left out but the signature and git metadata. Then
/// vet takes its digests from the verification instead of hashing twice.
fn covers_every_file(manifest: &Manifest, signature_within: Option<&str>) -> bool {
    manifest.params.serialization == Serialization::Files
        && manifest.params.ignore_paths.iter().all(|ignored| {
            Some(ignored.as_str()) == signature_within
                || modelgate_signing::GIT_PATHS.contains(&ignored.as_str())
        })
}

/// The manifest's entries with their sizes. A single-file model's one
/// entry (`.` in OMS) is named by the file.
fn named_digests(is_dir: bool, files: &[LoadedFile], manifest: &Manifest) -> Vec<FileDigest> {
    let sizes: std::collections::HashMap<&str, u64> = files
        .iter()
        .map(|file| {
            let name = if is_dir {
                file.relative_path.as_str()
            } else {
                "."
            };
            (name, u64::try_from(file.bytes.len()).unwrap_or(u64::MAX))
        })
        .collect();
    manifest
        .resources
        .iter()
        .map(|resource| {
            let name = match files {
                [only] if !is_dir => only.relative_path.clone(),
                _ => resource.name.clone(),
            };
            FileDigest {
                size: sizes.get(resource.name.as_str()).copied().unwrap_or(0),
                sha256: resource.digest_hex(),
                path: name,
                format: None,
            }
        })
        .collect()
}

/// Check the signature (when present) against the policy's trusted keys,
/// over the loaded bytes. The signature file is read once: from the loaded
/// files when it lies inside the model, from disk otherwise. Returns the
/// verified manifest too, so its digests need not be computed again.
fn signature(
    loaded: &Loaded,
    signature_path: &Path,
    signature_within: &Option<String>,
    options: &VetOptions,
) -> Result<(SignatureFacts, Option<Manifest>), Error> {
    let shown = signature_path.display().to_string();
    let facts = |status| SignatureFacts {
        path: shown.clone(),
        status,
    };
    let inside = signature_within.as_deref().and_then(|relative| {
        loaded
            .files
            .iter()
            .find(|file| file.relative_path == relative)
    });
    let bundle: Result<Vec<u8>, String> = match inside {
        Some(file) if file.bytes.len() as u64 > modelgate_signing::MAX_SIGNATURE_BYTES => {
            Err(modelgate_signing::Error::SignatureTooLarge {
                size: file.bytes.len() as u64,
                limit: modelgate_signing::MAX_SIGNATURE_BYTES,
            }
            .to_string())
        }
        Some(file) => Ok(file.bytes.to_vec()),
        None => {
            match modelgate_formats::read_small_file(
                signature_path,
                modelgate_signing::MAX_SIGNATURE_BYTES,
            ) {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => return Ok((facts(SignatureStatus::Unsigned), None)),
                Err(error) => Err(error.to_string()),
            }
        }
    };
    let mut names = Vec::new();
    let mut keys = Vec::new();
    for key in &options.policy.signature.trusted_keys {
        let key_path = match &options.policy_dir {
            Some(dir) if Path::new(key).is_relative() => dir.join(key),
            _ => PathBuf::from(key),
        };
        let pem = read_key(&key_path)?;
        let public = modelgate_signing::PublicKey::from_pem(&pem).map_err(|error| {
            Error::TrustedKeyFormat {
                path: key_path.clone(),
                message: error.to_string(),
            }
        })?;
        names.push(key_path.display().to_string());
        keys.push(public);
    }
    if keys.is_empty() {
        return Ok((facts(SignatureStatus::Unchecked), None));
    }
    let verified = bundle.and_then(|bundle| {
        let files: Vec<ModelFile<'_>> = loaded
            .files
            .iter()
            .map(|file| ModelFile::from_loaded(file, loaded.is_dir))
            .collect();
        let verify_options = modelgate_signing::VerifyOptions {
            ignore_paths: signature_within.iter().cloned().collect(),
            ..modelgate_signing::VerifyOptions::default()
        };
        modelgate_signing::verify_files(
            &loaded.name,
            &files,
            &bundle,
            modelgate_signing::Trust::Keys(&keys),
            &verify_options,
            &ProgressAdapter(options),
        )
        .map_err(|error| error.to_string())
    });
    Ok(match verified {
        Ok(verified) => {
            let signer = match &verified.signed_by {
                modelgate_signing::SignedBy::Key { key_index, .. } => names
                    .get(*key_index)
                    .cloned()
                    .unwrap_or_else(|| "a trusted key".to_string()),
                modelgate_signing::SignedBy::Certificate { chain, .. } => chain
                    .first()
                    .map(|cert| format!("certificate {}", cert.subject))
                    .unwrap_or_else(|| "a trusted certificate".to_string()),
            };
            (
                facts(SignatureStatus::Verified { signer }),
                Some(verified.manifest),
            )
        }
        Err(reason) => (facts(SignatureStatus::Invalid { reason }), None),
    })
}

/// A trusted key's PEM text, read through `modelgate-formats`.
fn read_key(path: &Path) -> Result<String, Error> {
    let io = |source| Error::TrustedKey {
        path: path.to_path_buf(),
        source,
    };
    let bytes = match modelgate_formats::read_small_file(path, MAX_KEY_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            )));
        }
        Err(modelgate_formats::Error::Io { source, .. }) => return Err(io(source)),
        Err(other) => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                other.to_string(),
            )));
        }
    };
    String::from_utf8(bytes).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text",
        ))
    })
}
