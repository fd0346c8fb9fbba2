//! Reading a sentence-transformers snapshot: where its files are, and what
//! its small JSON files (`modules.json`, the pooling, sentence-transformers
//! and tokenizer configurations) say.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::EmbedError;
use crate::pooling::{Pooling, PoolingMode};

/// The largest JSON file read (a multilingual `tokenizer.json` is ~20 MB).
const MAX_JSON_BYTES: u64 = 64 << 20;

/// Where the snapshot's files are: a directory, or a map from relative
/// path to file (a content-addressed store).
pub(crate) enum Source<'a> {
    Dir(&'a Path),
    Files(&'a BTreeMap<String, PathBuf>),
}

impl Source<'_> {
    /// The file at `relative` (a `/`-separated path), if the snapshot has one.
    pub(crate) fn locate(&self, relative: &str) -> Option<PathBuf> {
        match self {
            Source::Dir(dir) => {
                let path = dir.join(relative);
                modelgate_formats::is_file(&path).then_some(path)
            }
            Source::Files(files) => files.get(relative).cloned(),
        }
    }

    /// The bytes of a JSON (or other small) file; `None` when absent.
    pub(crate) fn read_small(&self, relative: &str) -> Result<Option<Vec<u8>>, EmbedError> {
        let Some(path) = self.locate(relative) else {
            return Ok(None);
        };
        let bytes =
            modelgate_formats::read_small_file(&path, MAX_JSON_BYTES).map_err(|source| {
                EmbedError::Read {
                    file: relative.to_string(),
                    source: Box::new(source),
                }
            })?;
        match bytes {
            Some(bytes) => Ok(Some(bytes)),
            // Listed (or seen) but gone when opened: report it as missing
            // rather than pretending the snapshot never had it.
            None => Err(EmbedError::Read {
                file: relative.to_string(),
                source: Box::new(modelgate_formats::Error::Io {
                    path,
                    source: std::io::ErrorKind::NotFound.into(),
                }),
            }),
        }
    }

    /// A JSON file parsed as `T`; `None` when absent.
    pub(crate) fn json<T: DeserializeOwned>(
        &self,
        relative: &str,
    ) -> Result<Option<T>, EmbedError> {
        let Some(bytes) = self.read_small(relative)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| EmbedError::Json {
                file: relative.to_string(),
                source,
            })
    }

    /// A weights file's bytes, memory-mapped when large.
    pub(crate) fn read_large(
        &self,
        relative: &str,
    ) -> Result<Option<modelgate_formats::FileBytes>, EmbedError> {
        let Some(path) = self.locate(relative) else {
            return Ok(None);
        };
        let file = modelgate_formats::read_file(&path).map_err(|source| EmbedError::Read {
            file: relative.to_string(),
            source: Box::new(source),
        })?;
        Ok(Some(file.bytes))
    }
}

/// `relative` inside the module directory `module` (`""` for the root).
pub(crate) fn join(module: &str, relative: &str) -> String {
    if module.is_empty() {
        relative.to_string()
    } else {
        format!("{module}/{relative}")
    }
}

/// One entry of `modules.json`.
#[derive(Debug, Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

const TRANSFORMER: &str = "sentence_transformers.models.Transformer";
const POOLING: &str = "sentence_transformers.models.Pooling";
const NORMALIZE: &str = "sentence_transformers.models.Normalize";

/// What `modules.json` says the pipeline is.
#[derive(Debug)]
pub(crate) struct Modules {
    /// The Transformer module's directory (`""`: the snapshot root).
    pub(crate) transformer: String,
    /// The Pooling module's directory.
    pub(crate) pooling: String,
    /// Whether a Normalize module follows the pooling.
    pub(crate) normalize: bool,
}

pub(crate) fn modules(source: &Source<'_>) -> Result<Modules, EmbedError> {
    const FILE: &str = "modules.json";
    let entries: Vec<ModuleEntry> = source.json(FILE)?.ok_or(EmbedError::Missing {
        file: FILE.to_string(),
        hint: "it lists the sentence-transformers pipeline (Transformer, Pooling, Normalize); \
               pass a sentence-transformers snapshot, not a bare transformers model",
    })?;
    for (index, entry) in entries.iter().enumerate() {
        check_module_path(&entry.path, index)?;
    }
    let unsupported = |index: usize, what: &str| EmbedError::Unsupported {
        file: FILE.to_string(),
        field: format!("[{index}].type"),
        what: what.to_string(),
        hint: "the pipeline must be Transformer, Pooling and optionally Normalize, in that order \
               (Dense and other modules are not implemented)",
    };
    let mut entries = entries.into_iter().enumerate();
    let transformer = match entries.next() {
        Some((_, entry)) if entry.kind == TRANSFORMER => entry.path,
        Some((index, entry)) => return Err(unsupported(index, &entry.kind)),
        None => return Err(unsupported(0, "an empty module list")),
    };
    let pooling = match entries.next() {
        Some((_, entry)) if entry.kind == POOLING => entry.path,
        Some((index, entry)) => return Err(unsupported(index, &entry.kind)),
        None => return Err(unsupported(1, "a pipeline without a Pooling module")),
    };
    let normalize = match entries.next() {
        Some((_, entry)) if entry.kind == NORMALIZE => true,
        Some((index, entry)) => return Err(unsupported(index, &entry.kind)),
        None => false,
    };
    if let Some((index, entry)) = entries.next() {
        return Err(unsupported(index, &entry.kind));
    }
    Ok(Modules {
        transformer,
        pooling,
        normalize,
    })
}

/// A module path must name a directory inside the snapshot.
fn check_module_path(path: &str, index: usize) -> Result<(), EmbedError> {
    let inside = Path::new(path)
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if inside && !path.contains('\\') {
        return Ok(());
    }
    Err(EmbedError::Invalid {
        file: "modules.json".to_string(),
        field: format!("[{index}].path"),
        problem: format!(
            "{path:?} is not a relative path inside the snapshot; fix modules.json or re-download the snapshot"
        ),
    })
}

/// `1_Pooling/config.json`, as sentence-transformers writes it.
#[derive(Debug, Deserialize)]
struct PoolingFile {
    word_embedding_dimension: usize,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

pub(crate) fn pooling(source: &Source<'_>, module: &str) -> Result<Pooling, EmbedError> {
    let file = join(module, "config.json");
    let config: PoolingFile = source.json(&file)?.ok_or_else(|| EmbedError::Missing {
        file: file.clone(),
        hint: "it says how token vectors are pooled into one; re-download the snapshot",
    })?;
    // The order sentence-transformers concatenates the modes in.
    let modes: Vec<PoolingMode> = [
        (config.pooling_mode_cls_token, PoolingMode::Cls),
        (config.pooling_mode_max_tokens, PoolingMode::Max),
        (config.pooling_mode_mean_tokens, PoolingMode::Mean),
        (
            config.pooling_mode_mean_sqrt_len_tokens,
            PoolingMode::MeanSqrtLen,
        ),
        (
            config.pooling_mode_weightedmean_tokens,
            PoolingMode::WeightedMean,
        ),
        (config.pooling_mode_lasttoken, PoolingMode::LastToken),
    ]
    .into_iter()
    .filter_map(|(on, mode)| on.then_some(mode))
    .collect();
    if modes.is_empty() {
        return Err(EmbedError::Invalid {
            file,
            field: "pooling_mode_*".to_string(),
            problem: "no pooling mode is set; set one of pooling_mode_mean_tokens, \
                      pooling_mode_cls_token, … to true"
                .to_string(),
        });
    }
    Ok(Pooling {
        modes,
        word_embedding_dimension: config.word_embedding_dimension,
        include_prompt: config.include_prompt,
    })
}

/// `sentence_bert_config.json`.
#[derive(Debug, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

/// `config_sentence_transformers.json` (the part about prompts).
#[derive(Debug, Deserialize)]
struct StConfig {
    #[serde(default)]
    prompts: BTreeMap<String, String>,
    default_prompt_name: Option<String>,
}

/// The prompt sentence-transformers prepends to every text by default, if
/// the snapshot names one.
pub(crate) fn default_prompt(source: &Source<'_>) -> Result<Option<String>, EmbedError> {
    const FILE: &str = "config_sentence_transformers.json";
    let Some(config) = source.json::<StConfig>(FILE)? else {
        return Ok(None);
    };
    let Some(name) = config.default_prompt_name else {
        return Ok(None);
    };
    match config.prompts.get(&name) {
        Some(prompt) => Ok(Some(prompt.clone())),
        None => Err(EmbedError::Invalid {
            file: FILE.to_string(),
            field: "default_prompt_name".to_string(),
            problem: format!(
                "names the prompt {name:?}, which `prompts` does not have; add it or set the field to null"
            ),
        }),
    }
}

/// The longest input (in tokens, special tokens included) the model reads:
/// `max_seq_length` of the Transformer module's `sentence_bert_config.json`
/// or, without one, the tokenizer's `model_max_length`; never more than
/// the model's position embeddings.
pub(crate) fn max_seq_length(
    source: &Source<'_>,
    module: &str,
    max_position_embeddings: usize,
) -> Result<usize, EmbedError> {
    let file = join(module, "sentence_bert_config.json");
    if let Some(config) = source.json::<SentenceBertConfig>(&file)?
        && let Some(max) = config.max_seq_length
    {
        if max == 0 {
            return Err(EmbedError::Invalid {
                file,
                field: "max_seq_length".to_string(),
                problem: "is 0; set it to the longest input the model was trained on".to_string(),
            });
        }
        return Ok(max.min(max_position_embeddings));
    }
    // Without it, sentence-transformers takes the tokenizer's limit. Some
    // tokenizer configs say 1e30 ("no limit"); such values are ignored.
    let file = join(module, "tokenizer_config.json");
    let limit = source
        .json::<serde_json::Value>(&file)?
        .and_then(|config| config.get("model_max_length").and_then(|v| v.as_u64()))
        .and_then(|max| usize::try_from(max).ok())
        .filter(|max| *max > 0);
    Ok(limit.map_or(max_position_embeddings, |max| {
        max.min(max_position_embeddings)
    }))
}

/// The weights files of the Transformer module: `model.safetensors`, or the
/// shards listed in `model.safetensors.index.json`.
pub(crate) fn weight_files(source: &Source<'_>, module: &str) -> Result<Vec<String>, EmbedError> {
    let single = join(module, "model.safetensors");
    if source.locate(&single).is_some() {
        return Ok(vec![single]);
    }
    #[derive(Deserialize)]
    struct Index {
        weight_map: BTreeMap<String, String>,
    }
    let index_file = join(module, "model.safetensors.index.json");
    let Some(index) = source.json::<Index>(&index_file)? else {
        return Err(EmbedError::Missing {
            file: single,
            hint: "the weights must be safetensors (model.safetensors or shards listed in \
                   model.safetensors.index.json); convert pytorch_model.bin to safetensors first",
        });
    };
    let mut files: Vec<String> = Vec::new();
    for shard in index.weight_map.values() {
        check_shard_name(shard, &index_file)?;
        let shard = join(module, shard);
        if !files.contains(&shard) {
            files.push(shard);
        }
    }
    if files.is_empty() {
        return Err(EmbedError::Invalid {
            file: index_file,
            field: "weight_map".to_string(),
            problem: "lists no tensors; re-download the snapshot".to_string(),
        });
    }
    Ok(files)
}

fn check_shard_name(shard: &str, index_file: &str) -> Result<(), EmbedError> {
    let mut components = Path::new(shard).components();
    if matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none() {
        return Ok(());
    }
    Err(EmbedError::Invalid {
        file: index_file.to_string(),
        field: "weight_map".to_string(),
        problem: format!("names the shard {shard:?}, not a file beside the index"),
    })
}
