//! The memory a model needs: weights plus a KV cache. For GGUF models the
//! cache is the one llama.cpp allocates ([`context_estimate`]); for other
//! formats, the textbook f16 formula ([`kv_cache_bytes`]).

use modelgate_formats::gguf::GgmlType;
use serde::Serialize;

use crate::InspectOptions;
use crate::facts::ArtifactFacts;
use crate::kv_layout::{KvLayout, LayoutError};

/// Bytes per element of the KV cache modelgate assumes (f16, llama.cpp's and
/// vLLM's default).
const KV_CACHE_BYTES_PER_ELEMENT: u64 = 2;

/// Memory needed to run one variant of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryEstimate {
    /// The artifacts whose weights are counted (the shards of one variant).
    pub basis: Vec<String>,
    /// The context length of the KV-cache estimate.
    pub context_length: Option<u64>,
    /// Bytes of weights, as stored (quantized weights count at their size).
    pub weights_bytes: u64,
    /// KV cache at `context_length` for one sequence. For GGUF models, what
    /// llama.cpp allocates with its defaults (f16 K and V, cells rounded up
    /// to 256, a window-sized cache for sliding-window layers: see
    /// [`context_estimate`]); for other formats, 2 (K and V) × layers × KV
    /// heads × head dimension × context × 2 bytes. 0 when the architecture
    /// is unknown.
    pub kv_cache_bytes: u64,
    /// How llama.cpp's cache behind `kv_cache_bytes` is made up (GGUF only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_layout: Option<ContextMemory>,
    /// `weights_bytes + kv_cache_bytes`.
    pub total_bytes: u64,
    /// The machine's memory, when known.
    pub machine_memory_bytes: Option<u64>,
    /// Whether `total_bytes` fits in `machine_memory_bytes`.
    pub fits: Option<bool>,
}

/// f16 KV-cache bytes: for each layer, K and V of `kv_heads × head_dim` per
/// token. `kv_heads_per_layer` has one entry per layer.
pub fn kv_cache_bytes(
    kv_heads_per_layer: &[u64],
    key_dim: u64,
    value_dim: u64,
    context_length: u64,
) -> Option<u64> {
    let per_token_per_kv_head = key_dim
        .checked_add(value_dim)?
        .checked_mul(KV_CACHE_BYTES_PER_ELEMENT)?;
    kv_heads_per_layer
        .iter()
        .try_fold(0u64, |total, &kv_heads| {
            let layer = kv_heads
                .checked_mul(per_token_per_kv_head)?
                .checked_mul(context_length)?;
            total.checked_add(layer)
        })
}

/// Estimate for the primary variant among `artifacts`: the first weight
/// format in order of preference (safetensors, GGUF, PyTorch, ONNX, Keras,
/// NumPy), all of its files together (shards).
///
/// A GGUF model's KV cache is what llama.cpp allocates for one sequence at
/// the context ([`context_estimate`] with [`ContextPlan::new`]); other
/// formats get the textbook f16 formula ([`kv_cache_bytes`]).
pub(crate) fn estimate(
    artifacts: &[ArtifactFacts],
    options: &InspectOptions,
) -> Option<MemoryEstimate> {
    const PREFERENCE: &[&str] = &[
        "safetensors",
        "gguf",
        "pytorch-zip",
        "pytorch-legacy",
        "pytorch-tar",
        "onnx",
        "keras",
        "hdf5",
        "npz",
        "npy",
    ];
    let primary_format = PREFERENCE.iter().find(|format| {
        artifacts
            .iter()
            .any(|a| a.format == **format && a.weights_bytes > 0)
    })?;
    let mut group: Vec<&ArtifactFacts> = artifacts
        .iter()
        .filter(|a| a.format == *primary_format)
        .collect();
    // Several GGUF files in one directory are alternative quantizations, not
    // shards: take the first (the per-artifact memory covers each).
    if *primary_format == "gguf" {
        group.truncate(1);
    }
    let weights_bytes = group
        .iter()
        .try_fold(0u64, |sum, a| sum.checked_add(a.weights_bytes))?;
    let shape = group.iter().find(|a| {
        matches!(a.kv_layout, Some(Ok(_))) || (a.layers.is_some() && a.kv_heads_per_layer.is_some())
    });
    let model_context = group.iter().find_map(|a| a.context_length);
    let context_length = options.context_length.or(model_context);
    let (kv_cache, layout) = match (shape, context_length) {
        (Some(facts), Some(context)) => match llama_cpp_kv_cache(facts, context) {
            Some(memory) => (memory.kv_bytes, Some(memory)),
            None => (facts_kv_cache(facts, context).unwrap_or(0), None),
        },
        _ => (0, None),
    };
    let total_bytes = weights_bytes.saturating_add(kv_cache);
    Some(MemoryEstimate {
        basis: group.iter().map(|a| a.path.clone()).collect(),
        context_length,
        weights_bytes,
        kv_cache_bytes: kv_cache,
        kv_cache_layout: layout,
        total_bytes,
        machine_memory_bytes: options.machine_memory_bytes,
        fits: options
            .machine_memory_bytes
            .map(|memory| total_bytes <= memory),
    })
}

/// llama.cpp's cache for one sequence at `context_length`, when the
/// artifact is a GGUF file llama.cpp would load and the context fits its
/// 32-bit parameter.
fn llama_cpp_kv_cache(facts: &ArtifactFacts, context_length: u64) -> Option<ContextMemory> {
    let n_ctx = u32::try_from(context_length).ok().filter(|&n| n > 0)?;
    context_estimate(facts, &ContextPlan::new(n_ctx)).ok()
}

/// The KV cache of one artifact at `context_length`, from its facts:
/// llama.cpp's allocation for GGUF files, the textbook formula otherwise.
pub(crate) fn facts_kv_cache(facts: &ArtifactFacts, context_length: u64) -> Option<u64> {
    if let Some(memory) = llama_cpp_kv_cache(facts, context_length) {
        return Some(memory.kv_bytes);
    }
    let kv_heads = facts.kv_heads_per_layer.as_deref()?;
    let key_dim = facts.head_dim?;
    let value_dim = facts.value_head_dim.unwrap_or(key_dim);
    kv_cache_bytes(kv_heads, key_dim, value_dim, context_length)
}

/// llama.cpp's flash-attention setting (`llama_flash_attn_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttn {
    /// `LLAMA_FLASH_ATTN_TYPE_AUTO`, llama.cpp's default. The cache is laid
    /// out as with flash attention on: it is built before "auto" is
    /// resolved (`llama-context.cpp`).
    #[default]
    Auto,
    /// `LLAMA_FLASH_ATTN_TYPE_ENABLED`.
    Enabled,
    /// `LLAMA_FLASH_ATTN_TYPE_DISABLED`: V is stored transposed, every
    /// layer's V row as wide as the widest layer's.
    Disabled,
}

/// The context parameters llama.cpp is given (`llama_context_params`), as
/// far as they size the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextPlan {
    /// Total context over all sequences (`n_ctx`); 0 means the model's
    /// training context.
    pub n_ctx: u32,
    /// Sequences (slots) decoded together (`n_seq_max`, 1 to 256).
    pub n_seq_max: u32,
    /// Logical batch (`n_batch`).
    pub n_batch: u32,
    /// Physical batch (`n_ubatch`; 0 means `n_batch`). The sliding-window
    /// cache keeps room for one.
    pub n_ubatch: u32,
    /// One cache shared by all sequences (`kv_unified`) rather than one
    /// stream of `n_ctx / n_seq_max` cells per sequence.
    pub kv_unified: bool,
    /// Give sliding-window layers a full-context cache (`swa_full`).
    pub swa_full: bool,
    /// Flash attention (`flash_attn_type`).
    pub flash_attn: FlashAttn,
    /// K cache element type (`type_k`).
    pub type_k: GgmlType,
    /// V cache element type (`type_v`).
    pub type_v: GgmlType,
}

impl ContextPlan {
    /// A plan for `n_ctx` tokens with llama.cpp's defaults otherwise
    /// (`llama_context_default_params` in `llama-context.cpp`): one
    /// sequence, `n_batch` 2048, `n_ubatch` 512, per-sequence streams, flash
    /// attention "auto", f16 K and V; except `swa_full`, which is false
    /// here as in llama-server (llama.cpp's C default is true).
    pub fn new(n_ctx: u32) -> ContextPlan {
        ContextPlan {
            n_ctx,
            n_seq_max: 1,
            n_batch: 2048,
            n_ubatch: 512,
            kv_unified: false,
            swa_full: false,
            flash_attn: FlashAttn::Auto,
            type_k: GgmlType::F16,
            type_v: GgmlType::F16,
        }
    }
}

impl Default for ContextPlan {
    /// [`ContextPlan::new`] at the model's training context.
    fn default() -> Self {
        ContextPlan::new(0)
    }
}

/// The KV cache llama.cpp allocates for a context: the sums of the sizes
/// of its K and V tensors (`ggml_nbytes`), as llama.cpp's
/// `llama_kv_cache: size = ...` log line reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextMemory {
    /// Total context after llama.cpp rounds it (`n_ctx`).
    pub n_ctx: u32,
    /// Context of one sequence (`n_ctx_seq`).
    pub n_ctx_seq: u32,
    /// Sequences (`n_seq_max`).
    pub n_seq_max: u32,
    /// Cache streams: `n_seq_max`, or 1 when unified.
    pub n_streams: u32,
    /// Physical batch after llama.cpp caps it (`n_ubatch`).
    pub n_ubatch: u32,
    /// Cells per stream of the full-context cache (`n_ctx_seq`).
    pub cells: u32,
    /// Cells per stream of the sliding-window cache; 0 when there is none.
    pub swa_cells: u32,
    /// Layers in the full-context cache.
    pub full_layers: u32,
    /// Layers in the sliding-window cache.
    pub swa_layers: u32,
    /// Bytes of the full-context cache.
    pub full_kv_bytes: u64,
    /// Bytes of the sliding-window cache.
    pub swa_kv_bytes: u64,
    /// Bytes of all K tensors.
    pub k_bytes: u64,
    /// Bytes of all V tensors.
    pub v_bytes: u64,
    /// `full_kv_bytes + swa_kv_bytes` (= `k_bytes + v_bytes`).
    pub kv_bytes: u64,
    /// What llama.cpp allocates for this model's context beyond the KV
    /// cache counted here (recurrent state, indexer caches); empty when
    /// the count is complete. Compute buffers are never counted.
    pub not_counted: Vec<String>,
}

/// Why [`context_estimate`] gives no answer; llama.cpp would refuse the
/// same context, or modelgate cannot follow the model's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimateError {
    /// The artifact is not a GGUF file (llama.cpp loads only those).
    #[error("not a GGUF file")]
    NotGguf,
    /// The GGUF hyperparameters are ones llama.cpp would refuse.
    #[error("llama.cpp would not load this model: {0}")]
    Layout(#[from] LayoutError),
    /// Neither the plan nor the model gives a context.
    #[error("n_ctx is 0 and the model has no training context")]
    NoContext,
    /// `n_seq_max` over llama.cpp's `LLAMA_MAX_SEQ`.
    #[error("n_seq_max {0} exceeds llama.cpp's limit of 256")]
    TooManySequences(u32),
    /// A quantized V cache needs flash attention.
    #[error("a quantized V cache ({0}) needs flash attention")]
    QuantizedVWithoutFlashAttn(GgmlType),
    /// The cache type does not divide a layer's row into whole blocks.
    #[error("{ty} blocks of {block} do not divide a row of {width}")]
    BlockSize {
        /// The cache type.
        ty: GgmlType,
        /// Its block size.
        block: u64,
        /// The row width it must divide.
        width: u64,
    },
    /// Multi-head latent attention needs K and V of one type.
    #[error("this model needs the same K and V cache types")]
    MixedTypesWithMla,
    /// A count that does not fit.
    #[error("cache size overflows")]
    Overflow,
}

/// `LLAMA_MAX_SEQ` (`llama-cparams.h`).
const LLAMA_MAX_SEQ: u32 = 256;

/// Context and sliding-window caches are rounded up to multiples of this
/// (`llama-context.cpp`, `llama-kv-cache-iswa.cpp`).
const CELL_PAD: u32 = 256;

/// The KV cache llama.cpp allocates when `facts` (a GGUF model) is given a
/// context with `plan`. Pure: the rules of the vendored llama.cpp,
/// applied to the facts.
///
/// The rules (file names are in llama.cpp's `src/`):
///
/// 1. `llama-context.cpp`: `n_ctx` 0 means the training context; the
///    batch is capped at `n_ctx` (causal models) and `n_ubatch` at the
///    batch; then `n_ctx` is rounded up to a multiple of 256. Unified, one
///    stream holds `n_ctx` cells; otherwise each of the `n_seq_max`
///    streams holds `n_ctx / n_seq_max` rounded up to 256
///    (`n_ctx_seq`).
/// 2. `llama-model.cpp` (`create_memory`): models without sliding-window
///    layers get one cache of `n_ctx_seq` cells per stream
///    (`llama-kv-cache.cpp`); models with them get two
///    (`llama-kv-cache-iswa.cpp`): the full-attention layers' of
///    `n_ctx_seq` cells, and the sliding layers' of
///    `min(n_ctx_seq, window × (n_seq_max if unified else 1) + n_ubatch)`
///    rounded up to 256 (or `n_ctx_seq` with `swa_full`), per stream.
/// 3. `llama-kv-cache.cpp`: each cached layer has a K tensor of
///    `k_width × cells × streams` and a V tensor of
///    `v_width × cells × streams` elements (no V under multi-head latent
///    attention; with flash attention off V rows are as wide as the widest
///    layer's), stored as `type_k` / `type_v` (bytes = elements / block ×
///    block bytes).
///
/// Which layers are cached, which slide and their widths are the
/// artifact's [`KvLayout`] (see [`mod@crate::kv_layout`]).
pub fn context_estimate(
    facts: &ArtifactFacts,
    plan: &ContextPlan,
) -> Result<ContextMemory, EstimateError> {
    match &facts.kv_layout {
        None => Err(EstimateError::NotGguf),
        Some(Err(error)) => Err(EstimateError::Layout(error.clone())),
        Some(Ok(layout)) => layout_estimate(layout, plan),
    }
}

/// [`context_estimate`] for a layout.
pub fn layout_estimate(
    layout: &KvLayout,
    plan: &ContextPlan,
) -> Result<ContextMemory, EstimateError> {
    let overflow = || EstimateError::Overflow;
    let n_seq_max = plan.n_seq_max.max(1);
    if n_seq_max > LLAMA_MAX_SEQ {
        return Err(EstimateError::TooManySequences(n_seq_max));
    }
    let n_ctx_train = u32::try_from(layout.context_length).map_err(|_| overflow())?;
    let n_ctx = if plan.n_ctx == 0 {
        n_ctx_train
    } else {
        plan.n_ctx
    };
    if n_ctx == 0 {
        return Err(EstimateError::NoContext);
    }
    let n_batch = if layout.causal {
        n_ctx.min(plan.n_batch)
    } else {
        plan.n_batch
    };
    let n_ubatch = n_batch.min(if plan.n_ubatch == 0 {
        plan.n_batch
    } else {
        plan.n_ubatch
    });
    let mut n_ctx = pad(n_ctx).ok_or_else(overflow)?;
    let n_ctx_seq = if plan.kv_unified {
        n_ctx
    } else {
        let per_seq = pad(n_ctx / n_seq_max).ok_or_else(overflow)?;
        if per_seq == 0 {
            return Err(EstimateError::NoContext);
        }
        n_ctx = per_seq.checked_mul(n_seq_max).ok_or_else(overflow)?;
        per_seq
    };
    let n_streams = if plan.kv_unified { 1 } else { n_seq_max };

    // Flash attention as llama_init_from_model settles it.
    let quantized = |ty: GgmlType| ty.block_size() > 1;
    let mut flash_attn = plan.flash_attn;
    if layout.flash_attn_off {
        flash_attn = FlashAttn::Disabled;
    }
    if quantized(plan.type_v) {
        match flash_attn {
            FlashAttn::Disabled => {
                return Err(EstimateError::QuantizedVWithoutFlashAttn(plan.type_v));
            }
            FlashAttn::Auto | FlashAttn::Enabled => flash_attn = FlashAttn::Enabled,
        }
    }
    if !layout.has_v && plan.type_k != plan.type_v {
        return Err(EstimateError::MixedTypesWithMla);
    }
    let v_trans = flash_attn == FlashAttn::Disabled;
    let v_width_max = layout.layers.iter().map(|l| l.v_width).max().unwrap_or(0);

    let has_swa = layout.sliding_window.is_some() && layout.layers.iter().any(|l| l.swa);
    let swa_cells = if !has_swa {
        0
    } else if plan.swa_full {
        n_ctx_seq
    } else {
        let window = u32::try_from(layout.sliding_window.unwrap_or(0)).map_err(|_| overflow())?;
        let seqs = if plan.kv_unified { n_seq_max } else { 1 };
        let wanted = window
            .checked_mul(seqs)
            .and_then(|w| w.checked_add(n_ubatch))
            .ok_or_else(overflow)?;
        pad(n_ctx_seq.min(wanted)).ok_or_else(overflow)?
    };

    let mut memory = ContextMemory {
        n_ctx,
        n_ctx_seq,
        n_seq_max,
        n_streams,
        n_ubatch,
        cells: n_ctx_seq,
        swa_cells,
        full_layers: 0,
        swa_layers: 0,
        full_kv_bytes: 0,
        swa_kv_bytes: 0,
        k_bytes: 0,
        v_bytes: 0,
        kv_bytes: 0,
        not_counted: layout.not_counted.clone(),
    };
    for layer in layout.layers.iter().filter(|l| l.cached) {
        let in_swa_cache = has_swa && layer.swa;
        let cells = if in_swa_cache { swa_cells } else { n_ctx_seq };
        let rows = u64::from(cells)
            .checked_mul(u64::from(n_streams))
            .ok_or_else(overflow)?;
        let k = row_bytes(plan.type_k, layer.k_width)?
            .checked_mul(rows)
            .ok_or_else(overflow)?;
        let v = if layout.has_v {
            let width = if v_trans { v_width_max } else { layer.v_width };
            row_bytes(plan.type_v, width)?
                .checked_mul(rows)
                .ok_or_else(overflow)?
        } else {
            0
        };
        let both = k.checked_add(v).ok_or_else(overflow)?;
        memory.k_bytes = memory.k_bytes.checked_add(k).ok_or_else(overflow)?;
        memory.v_bytes = memory.v_bytes.checked_add(v).ok_or_else(overflow)?;
        if in_swa_cache {
            memory.swa_layers += 1;
            memory.swa_kv_bytes = memory.swa_kv_bytes.checked_add(both).ok_or_else(overflow)?;
        } else {
            memory.full_layers += 1;
            memory.full_kv_bytes = memory
                .full_kv_bytes
                .checked_add(both)
                .ok_or_else(overflow)?;
        }
    }
    memory.kv_bytes = memory
        .full_kv_bytes
        .checked_add(memory.swa_kv_bytes)
        .ok_or_else(overflow)?;
    Ok(memory)
}

/// Round up to a multiple of 256 (`GGML_PAD(x, 256)`).
fn pad(x: u32) -> Option<u32> {
    x.checked_add(CELL_PAD - 1).map(|y| y / CELL_PAD * CELL_PAD)
}

/// Bytes of one row of `width` elements of `ty` (`ggml_row_size`).
fn row_bytes(ty: GgmlType, width: u64) -> Result<u64, EstimateError> {
    let block = ty.block_size();
    if block == 0 || !width.is_multiple_of(block) {
        return Err(EstimateError::BlockSize { ty, block, width });
    }
    (width / block)
        .checked_mul(ty.type_size())
        .ok_or(EstimateError::Overflow)
}

/// A byte count for people: `1536` → `1.5 KiB`, `10` → `10 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn kv_cache_matches_the_textbook_formula() {
        // Llama 3 8B: 32 layers, 8 KV heads, head_dim 128, 8192 context:
        // 2 × 32 × 8 × 128 × 8192 × 2 bytes = 1 GiB.
        let layers = vec![8u64; 32];
        assert_eq!(kv_cache_bytes(&layers, 128, 128, 8192), Some(1 << 30));
    }

    #[test]
    fn kv_cache_overflow_is_none() {
        assert_eq!(kv_cache_bytes(&[u64::MAX], 128, 128, 2), None);
    }

    use crate::kv_layout::{KvLayer, MemoryKind};

    /// Cached, non-sliding layers of the given K and V widths.
    fn layout(widths: &[(u64, u64)]) -> KvLayout {
        KvLayout {
            architecture: "test".to_string(),
            memory: MemoryKind::Attention,
            context_length: 4096,
            causal: true,
            sliding_window: None,
            swa_kind: None,
            has_v: true,
            flash_attn_off: false,
            layers: widths
                .iter()
                .map(|&(k_width, v_width)| KvLayer {
                    cached: true,
                    swa: false,
                    k_width,
                    v_width,
                })
                .collect(),
            not_counted: Vec::new(),
        }
    }

    #[test]
    fn without_flash_attention_v_rows_are_as_wide_as_the_widest() {
        let layout = layout(&[(128, 64), (128, 256)]);
        // Flash attention on ("auto"): V rows 64 and 256 wide. Per cell:
        // K 2 × 128 × 2 bytes + V (64 + 256) × 2 bytes = 1152; × 256 cells.
        let auto = layout_estimate(&layout, &ContextPlan::new(256)).unwrap();
        assert_eq!(auto.kv_bytes, 1152 * 256);
        // Off: both V rows are 256 wide: 512 + 1024 = 1536 per cell.
        let off = ContextPlan {
            flash_attn: FlashAttn::Disabled,
            ..ContextPlan::new(256)
        };
        assert_eq!(layout_estimate(&layout, &off).unwrap().kv_bytes, 1536 * 256);
        // Grok turns flash attention off whatever is asked.
        let grok = KvLayout {
            flash_attn_off: true,
            ..layout
        };
        let asked = layout_estimate(&grok, &ContextPlan::new(256)).unwrap();
        assert_eq!(asked.kv_bytes, 1536 * 256);
    }

    #[test]
    fn latent_attention_caches_k_only_and_one_type() {
        let mla = KvLayout {
            has_v: false,
            ..layout(&[(576, 512)])
        };
        let memory = layout_estimate(&mla, &ContextPlan::new(512)).unwrap();
        assert_eq!((memory.k_bytes, memory.v_bytes), (576 * 2 * 512, 0));
        let mixed = ContextPlan {
            type_k: GgmlType::Q8_0,
            ..ContextPlan::new(512)
        };
        assert_eq!(
            layout_estimate(&mla, &mixed).unwrap_err(),
            EstimateError::MixedTypesWithMla
        );
    }

    #[test]
    fn uncached_layers_cost_nothing() {
        let mut hybrid = layout(&[(128, 128), (128, 128)]);
        hybrid.layers[0].cached = false;
        hybrid.not_counted.push("recurrent state".to_string());
        let memory = layout_estimate(&hybrid, &ContextPlan::new(256)).unwrap();
        assert_eq!(memory.full_layers, 1);
        assert_eq!(memory.kv_bytes, 2 * 128 * 2 * 256);
        assert_eq!(memory.not_counted, ["recurrent state"]);
    }

    #[test]
    fn plans_llama_cpp_refuses_are_errors() {
        let layout = layout(&[(100, 100)]);
        let too_many = ContextPlan {
            n_seq_max: 257,
            ..ContextPlan::new(4096)
        };
        assert_eq!(
            layout_estimate(&layout, &too_many).unwrap_err(),
            EstimateError::TooManySequences(257)
        );
        // Q4_0 blocks of 32 do not divide a row of 100.
        let q4 = ContextPlan {
            type_k: GgmlType::Q4_0,
            ..ContextPlan::new(4096)
        };
        assert!(matches!(
            layout_estimate(&layout, &q4).unwrap_err(),
            EstimateError::BlockSize {
                block: 32,
                width: 100,
                ..
            }
        ));
        let no_context = KvLayout {
            context_length: 0,
            ..layout
        };
        assert_eq!(
            layout_estimate(&no_context, &ContextPlan::default()).unwrap_err(),
            EstimateError::NoContext
        );
    }

    #[test]
    fn the_window_cache_is_rounded_up_to_256() {
        // Window 4 and a 16-token ubatch: min(512, 4 + 16) = 20 → 256 cells,
        // while the context of 300 → 512 cells.
        let mut sliding = layout(&[(64, 64), (64, 64)]);
        sliding.layers[0].swa = true;
        sliding.sliding_window = Some(4);
        let plan = ContextPlan {
            n_ubatch: 16,
            ..ContextPlan::new(300)
        };
        let memory = layout_estimate(&sliding, &plan).unwrap();
        assert_eq!((memory.cells, memory.swa_cells), (512, 256));
        assert_eq!(memory.swa_kv_bytes, 2 * 64 * 2 * 256);
        assert_eq!(memory.full_kv_bytes, 2 * 64 * 2 * 512);
    }
}
