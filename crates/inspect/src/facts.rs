//! Per-artifact facts, one function per reader's output.

use std::collections::BTreeMap;

use modelgate_formats::gguf::{Gguf, Value as GgufValue};
use modelgate_formats::{Artifact, Content, Snapshot};
use serde::Serialize;

use crate::kv_layout::{KvLayout, LayoutError, kv_layout};
use crate::memory;
use crate::runtimes::runtimes;

/// What one artifact is.
///
/// Part of modelgate's JSON interface: field names are stable; fields that
/// cannot be known for a format are `null`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArtifactFacts {
    /// The file.
    pub path: String,
    /// The format, by content (`gguf`, `safetensors`, `onnx`, `pytorch-zip`, ...).
    pub format: String,
    /// Compression layers opened to reach the content, outermost first.
    pub compression: Vec<String>,
    /// Size on disk.
    pub file_bytes: u64,
    /// The model architecture (`llama`, `BertModel`, ...).
    pub architecture: Option<String>,
    /// Exact parameter count: the sum of the element counts of every tensor.
    pub parameters: Option<u64>,
    /// Number of tensors (initializers, arrays).
    pub n_tensors: Option<u64>,
    /// Bytes of weights as stored.
    pub weights_bytes: u64,
    /// Tensors and bytes per dtype or quantization type, largest first.
    pub dtypes: Vec<DtypeBytes>,
    /// The quantization scheme (GGUF file type, or a checkpoint's dominant dtype).
    pub quantization: Option<String>,
    /// The context length the model was trained for.
    pub context_length: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Transformer layers (blocks).
    pub layers: Option<u64>,
    /// Attention (query) heads.
    pub attention_heads: Option<u64>,
    /// Key/value heads (fewer than `attention_heads` under GQA/MQA); the largest
    /// when layers differ.
    pub kv_heads: Option<u64>,
    /// KV heads of each layer, when they are known.
    #[serde(skip)]
    pub kv_heads_per_layer: Option<Vec<u64>>,
    /// Width of one key head.
    pub head_dim: Option<u64>,
    /// Width of one value head, when it differs from `head_dim`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_head_dim: Option<u64>,
    /// The window of the sliding-window attention layers, as llama.cpp
    /// applies it (GGUF); `null` without such layers.
    pub sliding_window: Option<u64>,
    /// How many layers use sliding-window attention (GGUF).
    pub swa_layers: Option<u64>,
    /// llama.cpp's KV-cache layout for this model (GGUF files only), or why
    /// llama.cpp would not load its hyperparameters; input to
    /// [`crate::context_estimate`].
    #[serde(skip)]
    pub kv_layout: Option<Result<KvLayout, LayoutError>>,
    /// Hidden size (embedding length).
    pub embedding_length: Option<u64>,
    /// Whether a chat template ships with the model.
    pub chat_template: bool,
    /// Name, organization, license and toolchain recorded in the artifact or its repository.
    pub metadata: EmbeddedMetadata,
    /// Runtimes that can load this artifact.
    pub runtimes: Vec<String>,
    /// KV cache to run this artifact alone at its own context length, for one
    /// sequence: for GGUF files what llama.cpp allocates (sliding-window
    /// layers hold only their window), otherwise the textbook f16 formula.
    pub kv_cache_bytes: Option<u64>,
    /// Observations worth a reader's attention (not security findings).
    pub notes: Vec<String>,
}

/// Tensors and bytes of one dtype.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DtypeBytes {
    /// The dtype or quantization type as its format names it (`Q4_1`, `BF16`, `FLOAT`).
    pub dtype: String,
    /// Tensors of this type.
    pub tensors: u64,
    /// Their bytes; `null` when the format does not say (external data).
    pub bytes: Option<u64>,
}

/// Metadata the artifact or its repository declares about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EmbeddedMetadata {
    /// Model name.
    pub name: Option<String>,
    /// Publishing organization.
    pub organization: Option<String>,
    /// License identifier or name.
    pub license: Option<String>,
    /// Who quantized or converted it.
    pub quantized_by: Option<String>,
    /// The producing tool and version (ONNX producer, GGUF quantization version, torch version).
    pub toolchain: Option<String>,
    /// Base model it derives from.
    pub base_model: Option<String>,
}

/// The facts of one artifact, using the repository's config and card for
/// formats that do not carry them (safetensors, PyTorch, ONNX).
pub fn artifact_facts(artifact: &Artifact, snapshot: &Snapshot) -> ArtifactFacts {
    let mut facts = ArtifactFacts {
        path: artifact.path.display().to_string(),
        format: artifact.format.name().to_string(),
        compression: artifact
            .compression
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect(),
        file_bytes: artifact.file_size,
        ..ArtifactFacts::default()
    };
    match &artifact.content {
        Content::Gguf(gguf) => gguf_facts(gguf, &mut facts),
        Content::Safetensors(st) => {
            let dtypes = st.tensors.iter().map(|t| {
                (
                    t.dtype.name().to_string(),
                    Some(t.data_end.saturating_sub(t.data_start)),
                )
            });
            tensor_facts(&mut facts, st.n_parameters(), dtypes);
            if let Some((_, format)) = st.metadata.iter().find(|(k, _)| k == "format") {
                facts.metadata.toolchain = Some(format!("safetensors (format={format})"));
            }
            repository_facts(snapshot, &mut facts);
        }
        Content::ShardIndex(index) => {
            facts.n_tensors = u64::try_from(index.weight_map.len()).ok();
            facts
                .notes
                .push(format!("index of {} shard files", index.shards.len()));
            repository_facts(snapshot, &mut facts);
        }
        Content::Onnx(model) => {
            let dtypes = model
                .initializers
                .iter()
                .map(|i| (i.data_type.clone(), i.n_bytes));
            tensor_facts(&mut facts, model.n_parameters(), dtypes);
            if !model.producer_name.is_empty() {
                facts.metadata.toolchain = Some(
                    format!("{} {}", model.producer_name, model.producer_version)
                        .trim()
                        .to_string(),
                );
            }
            let default_opset = model
                .opset_imports
                .iter()
                .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
                .map(|o| o.version);
            if let Some(opset) = default_opset {
                facts.notes.push(format!("opset {opset}"));
            }
            for domain in &model.custom_domains {
                facts.notes.push(format!(
                    "custom operator domain '{domain}' needs its own runtime library"
                ));
            }
            if model.initializers.iter().any(|i| i.external.is_some()) {
                facts
                    .notes
                    .push("weights stored in external data files".to_string());
            }
            repository_facts(snapshot, &mut facts);
        }
        Content::PyTorch(checkpoint) => {
            let mut parameters = 0u64;
            let dtypes = checkpoint.tensors.iter().map(|t| {
                let n = t
                    .shape
                    .iter()
                    .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                    .unwrap_or(0);
                parameters = parameters.saturating_add(n);
                (
                    t.dtype.clone(),
                    torch_dtype_bytes(&t.dtype).and_then(|size| n.checked_mul(size)),
                )
            });
            let dtypes: Vec<_> = dtypes.collect();
            tensor_facts(&mut facts, parameters, dtypes.into_iter());
            repository_facts(snapshot, &mut facts);
        }
        Content::Npy(npy) => {
            let bytes = npy
                .item_size
                .and_then(|size| size.checked_mul(npy.n_elements));
            tensor_facts(
                &mut facts,
                npy.n_elements,
                std::iter::once((npy.descr.to_string(), bytes)),
            );
        }
        Content::Npz(npz) => {
            let mut parameters = 0u64;
            let mut dtypes = Vec::new();
            for (name, array) in &npz.arrays {
                match array {
                    Ok(npy) => {
                        parameters = parameters.saturating_add(npy.n_elements);
                        dtypes.push((
                            npy.descr.to_string(),
                            npy.item_size.and_then(|s| s.checked_mul(npy.n_elements)),
                        ));
                    }
                    Err(error) => facts
                        .notes
                        .push(format!("member '{name}' unreadable: {error}")),
                }
            }
            tensor_facts(&mut facts, parameters, dtypes.into_iter());
        }
        Content::Keras(model) => {
            facts.architecture = model.model_class.clone();
            facts.layers = u64::try_from(model.layers.len()).ok();
            facts.metadata.toolchain = model.keras_version.as_ref().map(|v| format!("keras {v}"));
            if let Some(backend) = &model.backend {
                facts.notes.push(format!("backend {backend}"));
            }
            // Parameters are the HDF5 weight datasets, optimizer state excluded.
            if let Some(parameters) = model.n_parameters() {
                let weights = model.weights.iter().filter(|w| !w.optimizer);
                let dtypes =
                    weights.map(|w| (w.dtype.clone(), w.n_elements.checked_mul(w.element_size)));
                tensor_facts(&mut facts, parameters, dtypes);
            }
            if let Some(error) = &model.weights_error {
                facts.notes.push(format!(
                    "{} unreadable: {error}",
                    modelgate_formats::keras::WEIGHTS_MEMBER
                ));
            }
        }
        Content::Pickle(summary) => {
            facts.notes.push(format!(
                "{} pickle stream(s), {} opcodes; loading it runs code: see `modelgate scan`",
                summary.n_pickles, summary.n_ops
            ));
        }
        Content::Archive { members } => {
            facts.notes.push(format!(
                "archive of {} members with no known model layout",
                members.len()
            ));
        }
        _ => {}
    }
    let architectures = snapshot
        .config
        .as_ref()
        .map(|c| c.architectures.clone())
        .unwrap_or_default();
    let has_sentence_transformers = snapshot
        .other_files
        .iter()
        .any(|f| f == "config_sentence_transformers.json" || f == "modules.json");
    facts.runtimes = runtimes(&facts.format, &architectures, has_sentence_transformers)
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(context) = facts.context_length {
        facts.kv_cache_bytes = memory::facts_kv_cache(&facts, context);
    }
    facts
}

/// Parameters, tensor count, bytes per dtype and the dominant dtype.
fn tensor_facts(
    facts: &mut ArtifactFacts,
    parameters: u64,
    dtypes: impl Iterator<Item = (String, Option<u64>)>,
) {
    let mut by_dtype: BTreeMap<String, (u64, Option<u64>)> = BTreeMap::new();
    let mut n_tensors = 0u64;
    for (dtype, bytes) in dtypes {
        n_tensors += 1;
        let entry = by_dtype.entry(dtype).or_insert((0, Some(0)));
        entry.0 += 1;
        entry.1 = match (entry.1, bytes) {
            (Some(sum), Some(b)) => sum.checked_add(b),
            _ => None,
        };
    }
    facts.parameters = Some(parameters);
    facts.n_tensors = Some(n_tensors);
    facts.dtypes = by_dtype
        .into_iter()
        .map(|(dtype, (tensors, bytes))| DtypeBytes {
            dtype,
            tensors,
            bytes,
        })
        .collect();
    facts
        .dtypes
        .sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.dtype.cmp(&b.dtype)));
    facts.weights_bytes = facts
        .dtypes
        .iter()
        .filter_map(|d| d.bytes)
        .fold(0u64, u64::saturating_add);
    if facts.quantization.is_none() {
        facts.quantization = facts.dtypes.first().map(|d| d.dtype.clone());
    }
}

fn torch_dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "C64" => 8,
        "F32" | "I32" => 4,
        "F16" | "BF16" | "I16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        "C128" => 16,
        _ => return None,
    })
}

/// Architecture, shape and metadata from `config.json`, the tokenizer config and the card.
fn repository_facts(snapshot: &Snapshot, facts: &mut ArtifactFacts) {
    if let Some(config) = &snapshot.config {
        facts.architecture = config
            .architectures
            .first()
            .cloned()
            .or_else(|| config.model_type.clone());
        facts.context_length = config.max_position_embeddings;
        facts.vocab_size = config.vocab_size;
        facts.layers = config.num_hidden_layers;
        facts.attention_heads = config.num_attention_heads;
        facts.kv_heads = config.num_key_value_heads.or(config.num_attention_heads);
        facts.embedding_length = config.hidden_size;
        facts.head_dim =
            config
                .head_dim
                .or_else(|| match (config.hidden_size, config.num_attention_heads) {
                    (Some(hidden), Some(heads)) if heads > 0 => Some(hidden / heads),
                    _ => None,
                });
        if let (Some(layers), Some(kv_heads)) = (facts.layers, facts.kv_heads)
            && layers <= MAX_LAYERS
        {
            facts.kv_heads_per_layer = usize::try_from(layers).ok().map(|n| vec![kv_heads; n]);
        }
        if let Some(quantization) = &config.quantization {
            facts.quantization = Some(quantization.to_string());
        }
    }
    facts.chat_template = snapshot
        .tokenizer_config
        .as_ref()
        .is_some_and(|t| !t.chat_templates.is_empty())
        || !snapshot.chat_template_files.is_empty();
    if let Some(card) = &snapshot.card {
        facts.metadata.license = card
            .license_name
            .clone()
            .filter(|_| card.license.as_deref() == Some("other"))
            .or_else(|| card.license.clone());
        facts.metadata.base_model = card.base_model.first().cloned();
        facts.metadata.name = card.model_name.clone();
    }
}

/// More layers than any real model has; beyond it per-layer lists are not built.
const MAX_LAYERS: u64 = 100_000;

fn gguf_facts(gguf: &Gguf, facts: &mut ArtifactFacts) {
    let architecture = gguf.architecture().map(str::to_string);
    let arch = architecture.clone().unwrap_or_default();
    let key = |suffix: &str| format!("{arch}.{suffix}");
    let dtypes = gguf
        .tensors
        .iter()
        .map(|t| (t.ggml_type.name().to_string(), Some(t.n_bytes)));
    facts.quantization = gguf
        .get_u64("general.file_type")
        .and_then(file_type_name)
        .map(str::to_string);
    tensor_facts(facts, gguf.n_parameters(), dtypes);
    facts.architecture = architecture;
    facts.context_length = gguf.get_u64(&key("context_length"));
    facts.layers = gguf.get_u64(&key("block_count"));
    facts.embedding_length = gguf.get_u64(&key("embedding_length"));
    facts.vocab_size =
        gguf.get_u64(&key("vocab_size"))
            .or_else(|| match gguf.get("tokenizer.ggml.tokens") {
                Some(GgufValue::Array(array)) => u64::try_from(array.values.len()).ok(),
                _ => None,
            });
    let heads = per_layer(gguf.get(&key("attention.head_count")), facts.layers);
    facts.attention_heads = heads.as_ref().and_then(|h| h.iter().copied().max());
    let kv_heads = per_layer(gguf.get(&key("attention.head_count_kv")), facts.layers).or(heads);
    facts.kv_heads = kv_heads.as_ref().and_then(|h| h.iter().copied().max());
    facts.kv_heads_per_layer = kv_heads;
    facts.head_dim = gguf.get_u64(&key("attention.key_length")).or_else(|| {
        match (facts.embedding_length, facts.attention_heads) {
            (Some(embedding), Some(heads)) if heads > 0 => Some(embedding / heads),
            _ => None,
        }
    });
    facts.value_head_dim = gguf
        .get_u64(&key("attention.value_length"))
        .filter(|v| Some(*v) != facts.head_dim);
    facts.chat_template = gguf.metadata.iter().any(|e| {
        e.key == "tokenizer.chat_template" || e.key.starts_with("tokenizer.chat_template.")
    });
    let layout = kv_layout(gguf);
    match &layout {
        Ok(layout) => {
            facts.sliding_window = layout.sliding_window;
            facts.swa_layers = Some(layout.swa_layers());
        }
        Err(error) => facts
            .notes
            .push(format!("llama.cpp KV cache not estimated: {error}")),
    }
    facts.kv_layout = Some(layout);
    let text = |k: &str| gguf.get_str(k).map(str::to_string);
    facts.metadata = EmbeddedMetadata {
        name: text("general.name"),
        organization: text("general.organization"),
        license: text("general.license").or_else(|| text("general.license.name")),
        quantized_by: text("general.quantized_by"),
        toolchain: gguf
            .get_u64("general.quantization_version")
            .map(|v| format!("ggml quantization version {v}")),
        base_model: text("general.base_model.0.name")
            .or_else(|| text("general.base_model.0.repo_url")),
    };
}

/// A GGUF hyperparameter that is either one integer or one per layer.
fn per_layer(value: Option<&GgufValue>, layers: Option<u64>) -> Option<Vec<u64>> {
    let as_u64 = |v: &GgufValue| -> Option<u64> {
        match *v {
            GgufValue::U8(x) => Some(u64::from(x)),
            GgufValue::U16(x) => Some(u64::from(x)),
            GgufValue::U32(x) => Some(u64::from(x)),
            GgufValue::U64(x) => Some(x),
            GgufValue::I8(x) => u64::try_from(x).ok(),
            GgufValue::I16(x) => u64::try_from(x).ok(),
            GgufValue::I32(x) => u64::try_from(x).ok(),
            GgufValue::I64(x) => u64::try_from(x).ok(),
            _ => None,
        }
    };
    match value? {
        GgufValue::Array(array) => array.values.iter().map(as_u64).collect(),
        scalar => {
            let n = as_u64(scalar)?;
            let layers = layers.filter(|&l| l <= MAX_LAYERS)?;
            Some(vec![n; usize::try_from(layers).ok()?])
        }
    }
}

/// llama.cpp's `llama_ftype` names (`general.file_type`).
fn file_type_name(file_type: u64) -> Option<&'static str> {
    Some(match file_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}
