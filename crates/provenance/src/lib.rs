//! Where a model came from: publisher, source, revision, the models it was
//! derived from, and the tools that produced the files.
//!
//! A model's provenance is scattered: the card's front matter names the base
//! model, GGUF `general.*` keys name the organization, the quantizer and the
//! upstream repository, `config.json` records the `transformers` version and
//! the original repository, and the Hugging Face cache layout
//! (`models--ORG--NAME/snapshots/REVISION/`) names the source and the exact
//! revision. [`provenance`] gathers all of it into [`Provenance`], every
//! value a [`Fact`] that says where it was read, so a reviewer can check it.
//! Disagreements between sources (the card says one base model, the GGUF
//! another) are listed in [`Provenance::conflicts`].
//!
//! Not here: deciding whether a publisher is trusted (`modelgate-policy`),
//! reading files (the caller passes what `modelgate-formats` loaded, plus
//! [`Hints`] from flags and download metadata), digests and signatures
//! (`modelgate-signing`).
//!
//! ```
//! use modelgate_provenance::hf_cache_layout;
//! let found = hf_cache_layout("/home/me/.cache/huggingface/hub/models--Qwen--Qwen2.5-0.5B/snapshots/abc123/model.safetensors").unwrap();
//! assert_eq!(found.repository, "Qwen/Qwen2.5-0.5B");
//! assert_eq!(found.revision.as_deref(), Some("abc123"));
//! ```

use modelgate_formats::gguf::Gguf;
use modelgate_formats::{Content, Loaded};
use serde::Serialize;

/// Longest value kept from untrusted metadata, in characters.
pub const MAX_VALUE_CHARS: usize = 512;
/// Most base models recorded.
pub const MAX_BASE_MODELS: usize = 64;

/// A value and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// The value.
    pub value: String,
    /// Where it was read (`README.md: base_model`, `model.gguf: general.organization`,
    /// `path: Hugging Face cache layout`, `flag: --source`).
    pub origin: String,
}

/// A model this one was derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseModel {
    /// Repository id or name (`meta-llama/Llama-3.1-8B`).
    pub name: String,
    /// `finetune`, `quantized`, `merge` or `adapter`, when stated.
    pub relation: Option<String>,
    /// A URL for it, when given.
    pub url: Option<String>,
    /// Where it was read.
    pub origin: String,
}

/// Everything known about where a model came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The model's name.
    pub name: Option<Fact>,
    /// Who published it (organization or author).
    pub publisher: Option<Fact>,
    /// Where it was downloaded from: a URL or a Hugging Face repository id.
    pub source: Option<Fact>,
    /// The exact revision (commit) downloaded.
    pub revision: Option<Fact>,
    /// Models it was derived from.
    pub base_models: Vec<BaseModel>,
    /// Who quantized it (GGUF `general.quantized_by`).
    pub quantized_by: Option<Fact>,
    /// Tools and versions that wrote the files.
    pub toolchain: Vec<Fact>,
    /// Sources that disagree, in words.
    pub conflicts: Vec<String>,
}

/// What the caller knows beyond the files: flags and download metadata.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// `--publisher`.
    pub publisher: Option<String>,
    /// `--source`: a URL or repository id.
    pub source: Option<String>,
    /// `--revision`.
    pub revision: Option<String>,
    /// A revision recorded by a download tool, with where it was read
    /// (e.g. `huggingface-cli download --local-dir` metadata).
    pub download_revision: Option<Fact>,
    /// Extra toolchain facts the caller read (e.g. `config_sentence_transformers.json`).
    pub toolchain: Vec<Fact>,
}

/// A Hugging Face hub cache path, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfCacheLayout {
    /// `org/name`.
    pub repository: String,
    /// The snapshot directory's name: the commit.
    pub revision: Option<String>,
}

/// Decode `.../models--ORG--NAME/snapshots/REVISION/...` from a path.
pub fn hf_cache_layout(path: &str) -> Option<HfCacheLayout> {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let idx = parts
        .iter()
        .rposition(|part| part.starts_with("models--"))?;
    let encoded = parts.get(idx)?.strip_prefix("models--")?;
    let repository = encoded.replacen("--", "/", 1);
    if repository.is_empty() || !repository.contains('/') {
        return None;
    }
    let revision = match (parts.get(idx + 1), parts.get(idx + 2)) {
        (Some(&"snapshots"), Some(rev)) if !rev.is_empty() => Some(clip(rev)),
        _ => None,
    };
    Some(HfCacheLayout {
        repository: clip(&repository),
        revision,
    })
}

fn clip(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.chars().count() <= MAX_VALUE_CHARS {
        return trimmed.to_string();
    }
    let mut out: String = trimmed.chars().take(MAX_VALUE_CHARS).collect();
    out.push('…');
    out
}

fn fact(value: &str, origin: String) -> Option<Fact> {
    let value = clip(value);
    (!value.is_empty()).then_some(Fact { value, origin })
}

/// Set `slot` to `candidate` when empty; when both are set and differ,
/// record the disagreement.
fn offer(
    slot: &mut Option<Fact>,
    candidate: Option<Fact>,
    what: &str,
    conflicts: &mut Vec<String>,
) {
    let Some(candidate) = candidate else { return };
    match slot {
        None => *slot = Some(candidate),
        Some(existing) => {
            if !same_value(&existing.value, &candidate.value) {
                conflicts.push(format!(
                    "{what}: {} says \"{}\" but {} says \"{}\"",
                    existing.origin, existing.value, candidate.origin, candidate.value
                ));
            }
        }
    }
}

/// Equal ignoring case, and a repository id equals its URL.
fn same_value(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim()
            .trim_end_matches('/')
            .trim_start_matches("https://huggingface.co/")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

fn gguf_text(gguf: &Gguf, key: &str) -> Option<String> {
    gguf.get_str(key)
        .map(clip)
        .filter(|value| !value.is_empty())
}

/// Gather provenance from what was loaded under `loaded.root`, and `hints`.
///
/// Precedence, highest first: flags, download metadata and the cache layout
/// (they describe this copy), then the model card, then metadata embedded in
/// the weights. Lower sources that disagree become conflicts.
pub fn provenance(loaded: &Loaded, hints: &Hints) -> Provenance {
    let mut out = Provenance::default();
    let mut conflicts = Vec::new();
    let root = loaded.root.display().to_string();

    // Flags.
    offer(
        &mut out.publisher,
        hints
            .publisher
            .as_deref()
            .and_then(|v| fact(v, "flag: --publisher".into())),
        "publisher",
        &mut conflicts,
    );
    offer(
        &mut out.source,
        hints
            .source
            .as_deref()
            .and_then(|v| fact(v, "flag: --source".into())),
        "source",
        &mut conflicts,
    );
    offer(
        &mut out.revision,
        hints
            .revision
            .as_deref()
            .and_then(|v| fact(v, "flag: --revision".into())),
        "revision",
        &mut conflicts,
    );
    offer(
        &mut out.revision,
        hints.download_revision.clone(),
        "revision",
        &mut conflicts,
    );

    // Hugging Face cache layout of the root (or of the first artifact, for a file).
    let layout = hf_cache_layout(&root).or_else(|| {
        loaded
            .artifacts
            .first()
            .and_then(|artifact| hf_cache_layout(&artifact.path.display().to_string()))
    });
    if let Some(layout) = layout {
        let origin = || "path: Hugging Face cache layout".to_string();
        offer(
            &mut out.source,
            fact(&layout.repository, origin()),
            "source",
            &mut conflicts,
        );
        if let Some(org) = layout.repository.split('/').next() {
            offer(
                &mut out.publisher,
                fact(org, origin()),
                "publisher",
                &mut conflicts,
            );
        }
        if let Some(revision) = &layout.revision {
            offer(
                &mut out.revision,
                fact(revision, origin()),
                "revision",
                &mut conflicts,
            );
        }
    }

    // The model card.
    if let Some(card) = &loaded.snapshot.card {
        if let Some(name) = &card.model_name {
            offer(
                &mut out.name,
                fact(name, "README.md: model name".into()),
                "name",
                &mut conflicts,
            );
        }
        for name in card.base_model.iter().take(MAX_BASE_MODELS) {
            push_base(
                &mut out.base_models,
                BaseModel {
                    name: clip(name),
                    relation: card.base_model_relation.as_deref().map(clip),
                    url: None,
                    origin: "README.md: base_model".into(),
                },
            );
        }
        if let Some(library) = &card.library_name {
            out.toolchain
                .extend(fact(library, "README.md: library_name".into()));
        }
    }

    // config.json.
    if let Some(config) = &loaded.snapshot.config {
        if let Some(version) = config
            .raw
            .get("transformers_version")
            .and_then(|v| v.as_str())
        {
            out.toolchain.extend(fact(
                &format!("transformers {version}"),
                "config.json: transformers_version".into(),
            ));
        }
        if let Some(original) = config.raw.get("_name_or_path").and_then(|v| v.as_str()) {
            // The repository the config was saved from: for a fine-tune, its
            // base. A local training path says nothing; a repository id does.
            let is_repository = original.contains('/') && !original.starts_with(['/', '.', '~']);
            let is_self = out
                .source
                .as_ref()
                .is_some_and(|source| same_value(&source.value, original));
            if is_repository && !is_self {
                push_base(
                    &mut out.base_models,
                    BaseModel {
                        name: clip(original),
                        relation: None,
                        url: None,
                        origin: "config.json: _name_or_path".into(),
                    },
                );
            }
        }
    }
    out.toolchain.extend(hints.toolchain.iter().cloned());

    // Metadata in the weights.
    for artifact in &loaded.artifacts {
        let file = &artifact.relative_path;
        match &artifact.content {
            Content::Gguf(gguf) => gguf_provenance(gguf, file, &mut out, &mut conflicts),
            Content::Safetensors(st) => {
                for (key, value) in &st.metadata {
                    if key == "format" {
                        out.toolchain.extend(fact(
                            &format!("safetensors format={value}"),
                            format!("{file}: __metadata__.format"),
                        ));
                    }
                }
            }
            Content::Onnx(model) if !model.producer_name.is_empty() => {
                out.toolchain.extend(fact(
                    &format!("{} {}", model.producer_name, model.producer_version),
                    format!("{file}: producer_name"),
                ));
            }
            Content::Keras(model) => {
                if let Some(version) = &model.keras_version {
                    out.toolchain.extend(fact(
                        &format!("keras {version}"),
                        format!("{file}: keras_version"),
                    ));
                }
            }
            _ => {}
        }
    }
    dedupe_toolchain(&mut out.toolchain);
    out.conflicts = conflicts;
    out
}

fn push_base(list: &mut Vec<BaseModel>, base: BaseModel) {
    if list.len() >= MAX_BASE_MODELS {
        return;
    }
    if let Some(existing) = list.iter_mut().find(|b| same_value(&b.name, &base.name)) {
        if existing.relation.is_none() {
            existing.relation = base.relation;
        }
        if existing.url.is_none() {
            existing.url = base.url;
        }
        return;
    }
    list.push(base);
}

fn dedupe_toolchain(toolchain: &mut Vec<Fact>) {
    let mut seen = std::collections::HashSet::new();
    toolchain.retain(|fact| seen.insert(fact.value.to_lowercase()));
}

fn gguf_provenance(gguf: &Gguf, file: &str, out: &mut Provenance, conflicts: &mut Vec<String>) {
    let origin = |key: &str| format!("{file}: {key}");
    if let Some(name) = gguf_text(gguf, "general.name") {
        offer(
            &mut out.name,
            fact(&name, origin("general.name")),
            "name",
            conflicts,
        );
    }
    for key in ["general.organization", "general.author"] {
        if let Some(value) = gguf_text(gguf, key) {
            offer(
                &mut out.publisher,
                fact(&value, origin(key)),
                "publisher",
                conflicts,
            );
            break;
        }
    }
    for key in [
        "general.source.huggingface.repository",
        "general.source.repo_url",
        "general.source.url",
        "general.repo_url",
        "general.url",
    ] {
        if let Some(value) = gguf_text(gguf, key) {
            offer(
                &mut out.source,
                fact(&value, origin(key)),
                "source",
                conflicts,
            );
            break;
        }
    }
    if let Some(value) = gguf_text(gguf, "general.quantized_by") {
        offer(
            &mut out.quantized_by,
            fact(&value, origin("general.quantized_by")),
            "quantized by",
            conflicts,
        );
    }
    let n_bases = gguf
        .get_u64("general.base_model.count")
        .unwrap_or(0)
        .min(MAX_BASE_MODELS as u64);
    for idx in 0..n_bases {
        let key = |field: &str| format!("general.base_model.{idx}.{field}");
        let name = gguf_text(gguf, &key("repo_url"))
            .map(|url| {
                url.trim_start_matches("https://huggingface.co/")
                    .to_string()
            })
            .or_else(|| {
                let org = gguf_text(gguf, &key("organization"));
                gguf_text(gguf, &key("name")).map(|name| match org {
                    Some(org) => format!("{org}/{name}"),
                    None => name,
                })
            });
        if let Some(name) = name {
            push_base(
                &mut out.base_models,
                BaseModel {
                    name,
                    relation: None,
                    url: gguf_text(gguf, &key("repo_url")),
                    origin: origin(&format!("general.base_model.{idx}")),
                },
            );
        }
    }
    let mut writer = String::from("GGUF");
    if let Some(version) = gguf.get_u64("general.quantization_version") {
        writer.push_str(&format!(" quantization_version {version}"));
    }
    out.toolchain.extend(fact(
        &format!("{writer} (v{})", gguf.version),
        origin("general.quantization_version"),
    ));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_layout() {
        assert_eq!(
            hf_cache_layout("/x/models--a--b--c/snapshots/r1"),
            Some(HfCacheLayout {
                repository: "a/b--c".into(),
                revision: Some("r1".into())
            })
        );
        assert_eq!(
            hf_cache_layout("/x/models--org--name/blobs/x")
                .unwrap()
                .revision,
            None
        );
        assert_eq!(hf_cache_layout("/x/models--noslash/snapshots/r"), None);
        assert_eq!(hf_cache_layout("/plain/dir"), None);
    }

    #[test]
    fn conflicts_are_named_and_urls_equal_ids() {
        let mut slot = None;
        let mut conflicts = Vec::new();
        offer(
            &mut slot,
            fact("org/m", "a".into()),
            "source",
            &mut conflicts,
        );
        offer(
            &mut slot,
            fact("https://huggingface.co/org/m/", "b".into()),
            "source",
            &mut conflicts,
        );
        assert!(conflicts.is_empty());
        offer(
            &mut slot,
            fact("other/m", "c".into()),
            "source",
            &mut conflicts,
        );
        assert_eq!(
            conflicts,
            ["source: a says \"org/m\" but c says \"other/m\""]
        );
    }

    #[test]
    fn long_values_are_clipped() {
        let long = "x".repeat(2000);
        assert_eq!(clip(&long).chars().count(), MAX_VALUE_CHARS + 1);
    }
}
