//! Choosing and loading versions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use modelgate_chat::ChatTemplate;
use modelgate_engine::{Engine, EngineConfig};
use modelgate_inventory::{
    CopyProgress, NoCopyProgress, ServingAction, Stage, Store, StoredVersion, VersionRef,
};
use modelgate_scan::Severity;
use serde_json::json;

use crate::admission::Admission;
use crate::catalog::{Backend, Embedder, Served, Template};
use crate::error::ServeError;

/// Which versions to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every version at stage approved or production.
    AllApproved,
    /// These: `NAME@VERSION`, or `NAME` for its production version, else its
    /// newest approved one.
    Named(Vec<String>),
}

/// How versions are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Engine settings for GGUF models.
    pub engine: EngineConfig,
    /// Most bytes the server may use for models (weights and caches), on
    /// top of what the machine has available.
    pub memory_budget: Option<u64>,
    /// Who is loading (the audit trail's actor).
    pub by: String,
    /// Where the server listens, for the audit trail.
    pub listen: String,
    /// The memory the machine has available now (the edge reads it; this
    /// crate touches no file system), asked before each load.
    pub available_memory: fn() -> Option<u64>,
}

/// Steps of a load, for a progress display.
pub trait LoadProgress: Sync {
    /// `step` of `reference` took `took` (`"verify"`, `"mmap"`, `"warm-up"`).
    fn step(&self, reference: &VersionRef, step: &str, took: Duration, detail: &str);
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLoadProgress;

impl LoadProgress for NoLoadProgress {
    fn step(&self, _: &VersionRef, _: &str, _: Duration, _: &str) {}
}

/// The versions a selection names, checked to exist. Stages are checked by
/// [`load_version`], so that a refusal is recorded.
pub fn select(store: &Store, selection: &Selection) -> Result<Vec<VersionRef>, ServeError> {
    let list = store.list()?;
    let servable = |stage: Stage| matches!(stage, Stage::Approved | Stage::Production);
    match selection {
        Selection::AllApproved => Ok(list
            .iter()
            .filter(|v| servable(v.stage))
            .map(|v| VersionRef::new(&v.name, &v.version))
            .collect::<Result<_, _>>()?),
        Selection::Named(ids) => ids
            .iter()
            .map(|id| {
                if id.contains('@') {
                    Ok(id.parse::<VersionRef>()?)
                } else {
                    let rank = |stage: Stage| match stage {
                        Stage::Production => 2,
                        Stage::Approved => 1,
                        _ => 0,
                    };
                    list.iter()
                        .filter(|v| v.name == *id && servable(v.stage))
                        .max_by(|a, b| {
                            rank(a.stage)
                                .cmp(&rank(b.stage))
                                .then_with(|| a.added_at.cmp(&b.added_at))
                        })
                        .map(|v| VersionRef::new(&v.name, &v.version))
                        .transpose()?
                        .ok_or_else(|| ServeError::NoServableVersion { name: id.clone() })
                }
            })
            .collect(),
    }
}

/// Loads one version for serving, recording the outcome in the audit trail
/// (`serve.loaded` or `serve.refused`).
///
/// Refused unless the version is approved or in production. Its files are
/// taken from the blob store (a version recorded before the store existed
/// is imported first, its digests checked again), every stored file is
/// re-hashed against the digest vet recorded, the memory it needs is checked
/// against what the machine has and the budget, and only then is it loaded:
/// a GGUF by llama.cpp, memory-mapped from its blob; a sentence-transformers
/// snapshot by candle.
pub fn load_version(
    store: &mut Store,
    reference: &VersionRef,
    options: &LoadOptions,
    progress: &dyn LoadProgress,
) -> Result<Served, ServeError> {
    match load_inner(store, reference, options, progress) {
        Ok(served) => {
            let details = json!({
                "listen": options.listen,
                "slots": options.engine.slots,
                "context": options.engine.context,
            });
            store.record_serving(reference, ServingAction::Loaded, &options.by, details)?;
            Ok(served)
        }
        Err(error) => {
            if !matches!(
                error,
                ServeError::Inventory(modelgate_inventory::Error::UnknownVersion { .. })
            ) {
                let details = json!({ "listen": options.listen, "reason": error.to_string() });
                // The refusal is the answer; a failure to record it is reported after it.
                if let Err(record) =
                    store.record_serving(reference, ServingAction::Refused, &options.by, details)
                {
                    tracing::error!(%reference, error = %record, "could not record the refusal in the audit trail");
                }
            }
            Err(error)
        }
    }
}

fn load_inner(
    store: &mut Store,
    reference: &VersionRef,
    options: &LoadOptions,
    progress: &dyn LoadProgress,
) -> Result<Served, ServeError> {
    let detail = store.version(reference)?;
    let stage = detail.summary.stage;
    if !matches!(stage, Stage::Approved | Stage::Production) {
        return Err(ServeError::Stage {
            reference: reference.clone(),
            stage,
        });
    }
    let started = Instant::now();
    let stored =
        store.ensure_stored(reference, &options.by, &NoCopyProgress as &dyn CopyProgress)?;
    let problems = store.blobs().check(&detail.files);
    if let Some(problem) = problems.first() {
        return Err(ServeError::Digest {
            reference: reference.clone(),
            path: problem.path.clone(),
            problem: problem.problem.clone(),
        });
    }
    let total: u64 = stored.files.iter().map(|f| f.size).sum();
    progress.step(
        reference,
        "verify",
        started.elapsed(),
        &format!("{} files, {total} bytes re-hashed", stored.files.len()),
    );

    // By content, never by name: the first file that is a GGUF.
    let gguf = stored.files.iter().find(|f| {
        modelgate_formats::read_file(&f.blob).is_ok_and(|file| file.bytes.starts_with(b"GGUF"))
    });
    let backend = if let Some(gguf) = gguf {
        load_gguf(reference, &gguf.blob, options, progress)?
    } else if is_sentence_transformers(&stored) {
        let files: BTreeMap<String, PathBuf> = stored
            .files
            .iter()
            .map(|f| (f.path.clone(), f.blob.clone()))
            .collect();
        let started = Instant::now();
        let encoder = modelgate_embed::SentenceEncoder::load_files(&files).map_err(|source| {
            ServeError::Embed {
                reference: reference.clone(),
                source: Box::new(source),
            }
        })?;
        progress.step(
            reference,
            "load",
            started.elapsed(),
            "sentence-transformers snapshot (candle)",
        );
        Backend::Embed(Embedder::Sentence(encoder))
    } else {
        return Err(ServeError::NotServable {
            reference: reference.clone(),
            reason: "no GGUF file and no sentence-transformers snapshot (model.safetensors with config.json and tokenizer.json); other formats are vetted but not served".into(),
        });
    };
    let loaded_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Served {
        reference: reference.clone(),
        stage: RwLock::new(stage),
        added_at: detail.summary.added_at.clone(),
        loaded_at,
        backend,
    })
}

/// The GGUF file of a recorded version, at any stage, with every stored
/// blob re-hashed against its recorded digest first: what evaluation and
/// quantization read. Found by content, never by name.
pub fn stored_gguf(
    store: &mut Store,
    reference: &VersionRef,
    by: &str,
) -> Result<PathBuf, ServeError> {
    store.version(reference)?;
    let stored = store.ensure_stored(reference, by, &NoCopyProgress as &dyn CopyProgress)?;
    let detail = store.version(reference)?;
    if let Some(problem) = store.blobs().check(&detail.files).first() {
        return Err(ServeError::Digest {
            reference: reference.clone(),
            path: problem.path.clone(),
            problem: problem.problem.clone(),
        });
    }
    stored
        .files
        .iter()
        .find(|f| {
            modelgate_formats::read_file(&f.blob).is_ok_and(|file| file.bytes.starts_with(b"GGUF"))
        })
        .map(|f| f.blob.clone())
        .ok_or_else(|| ServeError::NotServable {
            reference: reference.clone(),
            reason: "it has no GGUF file; evaluation and quantization run on GGUF models".into(),
        })
}

fn is_sentence_transformers(stored: &StoredVersion) -> bool {
    let has = |name: &str| stored.files.iter().any(|f| f.path == name);
    has("config.json") && has("tokenizer.json") && has("model.safetensors")
}

fn load_gguf(
    reference: &VersionRef,
    blob: &std::path::Path,
    options: &LoadOptions,
    progress: &dyn LoadProgress,
) -> Result<Backend, ServeError> {
    let not_servable = |reason: String| ServeError::NotServable {
        reference: reference.clone(),
        reason,
    };
    let file = modelgate_formats::read_file(blob)
        .map_err(|e| not_servable(format!("cannot read {}: {e}", blob.display())))?;
    let gguf = modelgate_gguf::Gguf::parse(&file.bytes)
        .map_err(|e| not_servable(format!("GGUF header: {e}")))?;
    let admission = Admission::of_gguf(&gguf, file.bytes.len() as u64, &options.engine);
    admission.check(
        reference,
        options.memory_budget,
        (options.available_memory)(),
    )?;
    let template = match gguf.get_str("tokenizer.chat_template") {
        None => Template::Missing,
        Some(source) => chat_template(source),
    };
    drop(gguf);
    drop(file);
    let started = Instant::now();
    let engine =
        Engine::load(blob, options.engine.clone()).map_err(|source| ServeError::Engine {
            reference: reference.clone(),
            source,
        })?;
    progress.step(
        reference,
        "mmap",
        started.elapsed(),
        &format!(
            "{} slots × {} tokens; estimated {}",
            options.engine.slots,
            options.engine.context,
            admission.describe()
        ),
    );
    let warm = Instant::now();
    warm_up(&engine);
    progress.step(reference, "warm-up", warm.elapsed(), "one token decoded");
    if engine.info().embeddings {
        Ok(Backend::Embed(Embedder::Llama(engine)))
    } else {
        Ok(Backend::Generate { engine, template })
    }
}

/// A model's chat template as far as it may be used: a template the scan
/// flags is never compiled, let alone rendered.
pub fn chat_template(source: &str) -> Template {
    let findings = modelgate_scan::template::analyse(source, "tokenizer.chat_template");
    if let Some(finding) = findings.iter().find(|f| f.severity >= Severity::Medium) {
        return Template::Flagged(format!("{} ({})", finding.message, finding.rule));
    }
    match ChatTemplate::new(source) {
        Ok(template) => Template::Ready(Box::new(template)),
        Err(e) => Template::Broken(e.to_string()),
    }
}

/// Decodes one token so the first request does not pay for first-touch page
/// faults and thread start-up.
fn warm_up(engine: &Engine) {
    if engine.info().embeddings {
        return;
    }
    let prompt = engine.tokenize("Hello", true);
    if prompt.is_empty() {
        return;
    }
    let mut request = modelgate_engine::GenerateRequest::new(prompt);
    request.max_tokens = Some(1);
    request.sampling.temperature = 0.0;
    if let Ok(mut generation) = engine.generate(request) {
        while generation.next_blocking().is_some() {}
    }
}
