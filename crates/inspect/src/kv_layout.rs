//! How llama.cpp lays out the attention cache of a GGUF model, from the
//! GGUF metadata alone: which layers hold K and V, which of them use a
//! sliding window, and how wide each layer's K and V rows are.
//!
//! The rules follow the llama.cpp sources vendored by `llama-cpp-sys-2`
//! (0.1.161); each is stated where it is applied, with the file it comes
//! from. In short:
//!
//! * Shape (`llama-model.cpp`, `llama_model_base::load_hparams`;
//!   `llama-hparams.cpp`): `{arch}.block_count` layers (at most 512);
//!   `{arch}.attention.head_count` and `.head_count_kv` are one number or one
//!   per layer (KV heads default to the query heads); the K head width is
//!   `{arch}.attention.key_length`, else `embedding_length / head_count` of
//!   layer 0, and the V width `.value_length`, else the same quotient;
//!   sliding-window layers may have their own widths
//!   (`.key_length_swa`, `.value_length_swa`). A layer's K row holds
//!   `kv_heads × key width` elements, its V row `kv_heads × value width`.
//! * Sliding-window attention (`models/<arch>.cpp`, each architecture's
//!   `load_arch_hparams`, and `llama_model_base::load_swa_pattern` in
//!   `llama-model.cpp`): only architectures whose loader turns it on have
//!   it; the window is `{arch}.attention.sliding_window`, with a few
//!   defaults and fixed values (table below). Which layers slide is
//!   `{arch}.attention.sliding_window_pattern`: an array (one flag per
//!   layer; layers past its end are global) or a number `n`; without the
//!   key, the architecture's default `n`. With a number, layer `il` slides
//!   when `il % n < n - 1` (the last of every `n` is global) or, for "dense
//!   first" architectures, when `il % n != 0`; `n == 0` makes every layer
//!   slide.
//!
//!   | architecture | SWA when | window | default pattern |
//!   |---|---|---|---|
//!   | `gemma2` | always | key, else 4096 | 2 |
//!   | `gemma3` | window key > 0 | key | 6 |
//!   | `gemma3n` | always | key (required) | 5 |
//!   | `gpt-oss` | always | key (required) | 2 |
//!   | `cohere2`, `muse-glimmer`, `exaone-moe` | always | key (required) | 4 |
//!   | `cohere2moe` | always | key (required) | 4, dense first |
//!   | `afmoe`, `mellum`, `olmo2` | window key > 0 | key | 4 |
//!   | `plamo3` | window key > 0 | key | 8 |
//!   | `laguna` | window key > 0 | key | 4, dense first |
//!   | `smallthinker` | window key > 0 | 4096 (fixed) | 4, dense first |
//!   | `llama4` | unless window key is 0 | 8192 (fixed, chunked) | 4 |
//!   | `exaone4` | 64 layers | key, else 4096 | 4 |
//!   | `gemma4`, `granite_swa`, `maple`, `mimo2`, `step35`, `spark2_5`, `dots3note` | always | key (required) | array (required) |
//!   | `lfm2` | window key > 0 | key | every attention layer |
//!
//!   Every other architecture has no SWA (`phi3`'s loader turns it off).
//! * Layers without a cache: multi-token-prediction layers
//!   (`{arch}.nextn_predict_layers`, the last ones) are left out of the main
//!   context's cache (`llama_model::create_memory`); Gemma 3n keeps K/V only
//!   for its first 20 layers and Gemma 4 for all but
//!   `{arch}.attention.shared_kv_layers` (`has_kv` in `llama-hparams.cpp`),
//!   the rest reuse those; recurrent layers of hybrid models hold a
//!   recurrent state instead (see [`MemoryKind::Hybrid`]).
//! * Multi-head latent attention (both `{arch}.attention.key_length_mla` and
//!   `.value_length_mla` set): only K is cached (`llama-kv-cache.cpp`).
//!
//! What the cache then costs for a given context is
//! [`crate::context_estimate`].

use modelgate_formats::gguf::{Gguf, Value};
use serde::Serialize;

/// `LLAMA_MAX_LAYERS` (`llama-hparams.h`): llama.cpp refuses more layers.
const LLAMA_MAX_LAYERS: u64 = 512;

/// What kind of memory module llama.cpp builds for an architecture
/// (`llama_model::create_memory` in `llama-model.cpp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// A KV cache for every attention layer (`llama-kv-cache.cpp`), split
    /// into a full-context cache and a window-sized one when the model has
    /// sliding-window layers (`llama-kv-cache-iswa.cpp`). Fully counted.
    Attention,
    /// A KV cache for the attention layers plus a recurrent state for the
    /// others (`llama-memory-hybrid.cpp`, `llama-memory-hybrid-iswa.cpp`).
    /// The KV part is counted; the recurrent state is not.
    Hybrid,
    /// Only a recurrent state (`llama-memory-recurrent.cpp`: Mamba, RWKV):
    /// no KV cache. The state is not counted.
    Recurrent,
    /// No memory module (encoders and diffusion models): nothing allocated.
    None,
    /// A special cache (sparse-attention indexer caches, compressed caches,
    /// caches shared with another context, repeated layers): the attention
    /// KV is counted by the standard rules, which may be off either way.
    Special,
}

/// Which kind of sliding window the SWA layers use (`llama_swa_type` in
/// `llama-hparams.h`); the cache is sized the same for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwaKind {
    /// Each token sees the previous `window` tokens.
    Standard,
    /// Tokens see their own `window`-sized chunk (Llama 4).
    Chunked,
    /// A window on both sides (encoders; no cache is built for them).
    Symmetric,
}

/// One layer of the cache layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KvLayer {
    /// Whether llama.cpp allocates K/V for this layer in the main context.
    pub cached: bool,
    /// Whether the layer uses sliding-window attention.
    pub swa: bool,
    /// Elements of one K row: KV heads × key head width (`n_embd_k_gqa`).
    pub k_width: u64,
    /// Elements of one V row: KV heads × value head width (`n_embd_v_gqa`).
    pub v_width: u64,
}

/// The attention-cache layout llama.cpp would build for a GGUF model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvLayout {
    /// `general.architecture`.
    pub architecture: String,
    /// The memory module llama.cpp builds.
    pub memory: MemoryKind,
    /// `{arch}.context_length`: the context llama.cpp uses when asked for 0.
    pub context_length: u64,
    /// `{arch}.attention.causal` (default true); a non-causal model's batch
    /// is not capped by the context.
    pub causal: bool,
    /// The sliding window (`n_swa`), when the model has SWA layers.
    pub sliding_window: Option<u64>,
    /// The kind of window, when the model has SWA layers.
    pub swa_kind: Option<SwaKind>,
    /// Whether V is cached (false under multi-head latent attention).
    pub has_v: bool,
    /// Whether llama.cpp turns flash attention off for this architecture
    /// whatever is asked (Grok), which lays V out transposed.
    pub flash_attn_off: bool,
    /// One entry per layer (`{arch}.block_count`).
    pub layers: Vec<KvLayer>,
    /// What llama.cpp allocates that this layout does not count.
    pub not_counted: Vec<String>,
}

impl KvLayout {
    /// Layers that use sliding-window attention (cached or not).
    pub fn swa_layers(&self) -> u64 {
        self.layers.iter().filter(|l| l.swa).count() as u64
    }
}

/// Why llama.cpp would refuse to load a GGUF model's hyperparameters (or
/// why modelgate cannot follow them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// No `general.architecture`.
    #[error("no general.architecture")]
    NoArchitecture,
    /// A key llama.cpp requires is missing.
    #[error("missing {0}")]
    MissingKey(String),
    /// A key holds something other than what llama.cpp reads there.
    #[error("{0} is not a non-negative integer (or array of them)")]
    NotAnInteger(String),
    /// A per-layer array has the wrong length.
    #[error("{key} has {found} entries, expected {expected} (one per layer)")]
    ArrayLength {
        /// The key.
        key: String,
        /// `block_count`.
        expected: u64,
        /// The array's length.
        found: u64,
    },
    /// More layers than llama.cpp supports.
    #[error("{0} layers, more than llama.cpp's limit of 512")]
    TooManyLayers(u64),
}

/// How an architecture's loader sets up sliding-window attention
/// (`load_arch_hparams` in `models/<arch>.cpp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SwaRule {
    /// No SWA.
    Never,
    /// Always on. The window is the `sliding_window` key, or `default`
    /// when absent (`None`: the key is required).
    Always {
        default_window: Option<u64>,
        pattern: Pattern,
    },
    /// On when `sliding_window` is present and non-zero; `fixed` replaces
    /// the key's value (SmallThinker uses 4096 whatever it says).
    IfWindow {
        pattern: Pattern,
        fixed: Option<u64>,
    },
    /// Llama 4: chunked attention with a fixed 8192 window unless the key
    /// is present and 0.
    Llama4,
    /// EXAONE 4: on only for the 64-layer (32B) model, window 4096 unless
    /// the key says otherwise.
    Exaone4,
    /// LFM2: when the key is non-zero, every attention (non-recurrent)
    /// layer slides.
    Lfm2,
}

/// How the sliding layers are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slide {
    /// By the sliding-window pattern.
    Pattern(Pattern),
    /// Every attention layer (those with KV heads).
    AttentionLayers,
}

/// Which layers slide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// `load_swa_pattern(n, dense_first)`: the per-layer array if the GGUF
    /// has one, else the number in the key, else `n`.
    Every { n: u64, dense_first: bool },
    /// The GGUF must carry the per-layer array.
    Array,
}

/// The SWA rule of each architecture llama.cpp gives sliding-window
/// attention, as its `models/<arch>.cpp` loader states it.
fn swa_rule(arch: &str) -> SwaRule {
    use Pattern::{Array, Every};
    use SwaRule::{Always, Exaone4, IfWindow, Lfm2, Llama4, Never};
    let every = |n, dense_first| Every { n, dense_first };
    match arch {
        // Gemma 2: every other layer (even ones slide), window 4096 by default.
        "gemma2" => Always {
            default_window: Some(4096),
            pattern: every(2, false),
        },
        // Gemma 3: 5 sliding : 1 global, when the GGUF sets a window.
        "gemma3" => IfWindow {
            pattern: every(6, false),
            fixed: None,
        },
        // Gemma 3n: 4 sliding : 1 global.
        "gemma3n" => Always {
            default_window: None,
            pattern: every(5, false),
        },
        "cohere2" | "muse-glimmer" => Always {
            default_window: None,
            pattern: every(4, false),
        },
        "exaone-moe" => Always {
            default_window: None,
            pattern: every(4, false),
        },
        "cohere2moe" => Always {
            default_window: None,
            pattern: every(4, true),
        },
        // gpt-oss: alternating sliding and full layers.
        "gpt-oss" => Always {
            default_window: None,
            pattern: every(2, false),
        },
        "gemma4" | "granite_swa" | "maple" | "mimo2" | "step35" | "spark2_5" | "dots3note" => {
            Always {
                default_window: None,
                pattern: Array,
            }
        }
        "afmoe" | "mellum" | "olmo2" => IfWindow {
            pattern: every(4, false),
            fixed: None,
        },
        "plamo3" => IfWindow {
            pattern: every(8, false),
            fixed: None,
        },
        "laguna" => IfWindow {
            pattern: every(4, true),
            fixed: None,
        },
        "smallthinker" => IfWindow {
            pattern: every(4, true),
            fixed: Some(4096),
        },
        "llama4" => Llama4,
        "exaone4" => Exaone4,
        "lfm2" => Lfm2,
        // Everything else, including phi3 whose loader turns SWA off.
        _ => Never,
    }
}

/// Architectures for which `llama_model::create_memory` builds nothing.
const NO_MEMORY: &[&str] = &[
    "bert",
    "jina-bert-v2",
    "jina-bert-v3",
    "nomic-bert",
    "nomic-bert-moe",
    "neo-bert",
    "eurobert",
    "wavtokenizer-dec",
    "modern-bert",
    "gemma-embedding",
    "dream",
    "llada",
    "llada-moe",
    "rnd1",
    "clef",
];

/// `llm_arch_is_recurrent` (`llama-arch.cpp`).
const RECURRENT: &[&str] = &["mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"];

/// Hybrid architectures whose recurrent layers are the ones with
/// `head_count_kv == 0` (their loaders say so).
const HYBRID_BY_KV_HEADS: &[&str] = &[
    "jamba",
    "plamo2",
    "granitehybrid",
    "lfm2",
    "lfm2moe",
    "nemotron_h",
    "nemotron_h_moe",
    "kimi-linear",
    "bailingmoe3",
    "kimi-k3",
    "glm5-next",
];

/// Hybrid architectures with one attention layer every
/// `{arch}.full_attention_interval` layers (default given), unless
/// `{arch}.attention.recurrent_layers` lists the recurrent ones.
const HYBRID_BY_INTERVAL: &[(&str, u64)] = &[
    ("qwen3next", 4),
    ("qwen35", 4),
    ("qwen35moe", 4),
    ("qwen4exp", 4),
    ("minimax-01", 8),
];

/// Architectures with a cache llama.cpp builds differently from the
/// standard one, and what is not modelled.
const SPECIAL: &[(&str, &str)] = &[
    ("minimax-m3", "sparse-attention indexer cache"),
    ("glm-dsa", "sparse-attention indexer cache"),
    ("deepseek32", "sparse-attention indexer cache"),
    ("hy_v4", "sparse-attention indexer cache"),
    ("dots3note", "sparse-attention indexer cache"),
    (
        "deepseek4",
        "compressed DeepSeek V4 cache (sized by its own rules)",
    ),
    ("dflash", "draft-model cache"),
    (
        "gemma4-assistant",
        "cache shared with the target model's context",
    ),
    ("graniteswitch", "router layer cache"),
];

/// The layout llama.cpp would build for `gguf`.
pub fn kv_layout(gguf: &Gguf) -> Result<KvLayout, LayoutError> {
    let arch = gguf
        .architecture()
        .ok_or(LayoutError::NoArchitecture)?
        .to_string();
    let key = |suffix: &str| format!("{arch}.{suffix}");
    let required = |suffix: &str| -> Result<u64, LayoutError> {
        uint(gguf, &key(suffix))?.ok_or_else(|| LayoutError::MissingKey(key(suffix)))
    };

    let n_layer_all = required("block_count")?;
    if n_layer_all == 0 || n_layer_all > LLAMA_MAX_LAYERS {
        return Err(LayoutError::TooManyLayers(n_layer_all));
    }
    let context_length = required("context_length")?;
    let n_embd = required("embedding_length")?;
    // Multi-token-prediction layers are the last ones; n_layer() excludes them.
    let n_nextn = uint(gguf, &key("nextn_predict_layers"))?
        .unwrap_or(0)
        .min(n_layer_all);
    let n_layer = n_layer_all - n_nextn;
    let causal = match gguf.get(&key("attention.causal")) {
        Some(Value::Bool(b)) => *b,
        _ => true,
    };

    let heads = per_layer(gguf, &key("attention.head_count"), n_layer_all)?
        .unwrap_or_else(|| vec![0; len(n_layer_all)]);
    let kv_heads = per_layer(gguf, &key("attention.head_count_kv"), n_layer_all)?
        .unwrap_or_else(|| heads.clone());
    let heads0 = heads.first().copied().unwrap_or(0);
    // Without attention heads (non-transformer models) llama.cpp sets both to 0.
    let (k_full, v_full) = match n_embd.checked_div(heads0) {
        Some(quotient) => (
            uint(gguf, &key("attention.key_length"))?.unwrap_or(quotient),
            uint(gguf, &key("attention.value_length"))?.unwrap_or(quotient),
        ),
        None => (0, 0),
    };
    let k_swa = uint(gguf, &key("attention.key_length_swa"))?.unwrap_or(k_full);
    let v_swa = uint(gguf, &key("attention.value_length_swa"))?.unwrap_or(v_full);
    let is_mla = uint(gguf, &key("attention.key_length_mla"))?.unwrap_or(0) != 0
        && uint(gguf, &key("attention.value_length_mla"))?.unwrap_or(0) != 0;

    // Sliding window: the window, its kind, and how the sliding layers are chosen.
    let window_key = key("attention.sliding_window");
    let window = uint(gguf, &window_key)?;
    let every = |n, dense_first| Slide::Pattern(Pattern::Every { n, dense_first });
    let decision = match swa_rule(&arch) {
        SwaRule::Never => None,
        SwaRule::Always {
            default_window,
            pattern,
        } => {
            let n = window
                .or(default_window)
                .ok_or_else(|| LayoutError::MissingKey(window_key.clone()))?;
            Some((n, SwaKind::Standard, Slide::Pattern(pattern)))
        }
        SwaRule::IfWindow { pattern, fixed } => window.filter(|&n| n > 0).map(|n| {
            (
                fixed.unwrap_or(n),
                SwaKind::Standard,
                Slide::Pattern(pattern),
            )
        }),
        SwaRule::Llama4 => (window != Some(0)).then(|| (8192, SwaKind::Chunked, every(4, false))),
        SwaRule::Exaone4 => {
            (n_layer == 64).then(|| (window.unwrap_or(4096), SwaKind::Standard, every(4, false)))
        }
        SwaRule::Lfm2 => window
            .filter(|&n| n > 0)
            .map(|n| (n, SwaKind::Standard, Slide::AttentionLayers)),
    };
    let mut swa = vec![false; len(n_layer_all)];
    let mut n_swa = 0;
    let mut swa_kind = None;
    if let Some((n, kind, slide)) = decision {
        n_swa = n;
        swa_kind = Some(kind);
        swa = match slide {
            Slide::Pattern(pattern) => swa_pattern(
                gguf,
                &key("attention.sliding_window_pattern"),
                pattern,
                n_layer,
                n_layer_all,
            )?,
            Slide::AttentionLayers => (0..n_layer_all)
                .map(|il| il < n_layer && kv_heads.get(len(il)).is_some_and(|&h| h > 0))
                .collect(),
        };
    }

    // Which layers hold a cache in the main context.
    let mut not_counted = Vec::new();
    let mut memory = MemoryKind::Attention;
    let mut cached: Vec<bool> = (0..n_layer_all).map(|il| il < n_layer).collect();
    if NO_MEMORY.contains(&arch.as_str()) {
        memory = MemoryKind::None;
        cached.fill(false);
    } else if RECURRENT.contains(&arch.as_str()) {
        memory = MemoryKind::Recurrent;
        cached.fill(false);
        not_counted.push("recurrent state (one per sequence)".to_string());
    } else if arch == "falcon-h1" {
        memory = MemoryKind::Hybrid;
        not_counted.push("recurrent state (one per sequence)".to_string());
    } else if HYBRID_BY_KV_HEADS.contains(&arch.as_str()) {
        memory = MemoryKind::Hybrid;
        for (il, flag) in cached.iter_mut().enumerate() {
            *flag &= kv_heads.get(il).is_some_and(|&h| h > 0);
        }
        not_counted.push("recurrent state (one per sequence)".to_string());
    } else if let Some(&(_, default_interval)) = HYBRID_BY_INTERVAL.iter().find(|(a, _)| *a == arch)
    {
        memory = MemoryKind::Hybrid;
        let recurrent = match per_layer(gguf, &key("attention.recurrent_layers"), n_layer_all)? {
            Some(flags) => flags.iter().map(|&f| f != 0).collect(),
            None => {
                let interval = uint(gguf, &key("full_attention_interval"))?
                    .unwrap_or(default_interval)
                    .max(1);
                (0..n_layer_all)
                    .map(|il| il < n_layer && (il + 1) % interval != 0)
                    .collect::<Vec<bool>>()
            }
        };
        for (flag, recurrent) in cached.iter_mut().zip(recurrent) {
            *flag &= !recurrent;
        }
        not_counted.push("recurrent state (one per sequence)".to_string());
        if arch == "qwen4exp" {
            not_counted.push("sparse-attention indexer cache".to_string());
        }
    }
    if arch == "glm5-next" {
        memory = MemoryKind::Special;
        not_counted.push("sparse-attention indexer cache".to_string());
    }
    if let Some(&(_, what)) = SPECIAL.iter().find(|(a, _)| *a == arch) {
        memory = MemoryKind::Special;
        not_counted.push(what.to_string());
    }
    if arch == "nanbeige" && uint(gguf, &key("num_loops"))?.unwrap_or(1) > 1 {
        memory = MemoryKind::Special;
        not_counted.push("layers repeated num_loops times".to_string());
    }
    // Layers from `n_layer_kv_from_start` on reuse earlier layers' K/V.
    let kv_from_start = match arch.as_str() {
        "gemma3n" => Some(20),
        "gemma4" => Some(
            n_layer_all
                .saturating_sub(uint(gguf, &key("attention.shared_kv_layers"))?.unwrap_or(0)),
        ),
        _ => None,
    };
    if let Some(start) = kv_from_start {
        for (il, flag) in cached.iter_mut().enumerate() {
            *flag &= (il as u64) < start;
        }
    }

    let layers = (0..len(n_layer_all))
        .map(|il| {
            let is_swa = swa.get(il).copied().unwrap_or(false);
            let kv = kv_heads.get(il).copied().unwrap_or(0);
            let (k, v) = if is_swa {
                (k_swa, v_swa)
            } else {
                (k_full, v_full)
            };
            KvLayer {
                cached: cached.get(il).copied().unwrap_or(false),
                swa: is_swa,
                k_width: kv.saturating_mul(k),
                v_width: kv.saturating_mul(v),
            }
        })
        .collect::<Vec<_>>();
    let any_swa = layers.iter().any(|l| l.swa);
    Ok(KvLayout {
        memory,
        context_length,
        causal,
        sliding_window: any_swa.then_some(n_swa),
        swa_kind: if any_swa { swa_kind } else { None },
        has_v: !is_mla,
        flash_attn_off: arch == "grok",
        layers,
        not_counted,
        architecture: arch,
    })
}

/// Which layers slide, per `load_swa_pattern` (`llama-model.cpp`) and
/// `set_swa_pattern` (`llama-hparams.cpp`).
fn swa_pattern(
    gguf: &Gguf,
    key: &str,
    pattern: Pattern,
    n_layer: u64,
    n_layer_all: u64,
) -> Result<Vec<bool>, LayoutError> {
    let mut flags = vec![false; len(n_layer_all)];
    let value = gguf.get(key);
    if let Some(Value::Array(array)) = value {
        if array.values.len() as u64 > LLAMA_MAX_LAYERS {
            return Err(LayoutError::ArrayLength {
                key: key.to_string(),
                expected: n_layer_all,
                found: array.values.len() as u64,
            });
        }
        // One flag per layer; layers past the array's end stay dense.
        for (flag, v) in flags.iter_mut().zip(&array.values) {
            *flag = match v {
                Value::Bool(b) => *b,
                other => {
                    other
                        .as_u64()
                        .ok_or_else(|| LayoutError::NotAnInteger(key.to_string()))?
                        != 0
                }
            };
        }
        return Ok(flags);
    }
    let Pattern::Every { n, dense_first } = pattern else {
        return Err(LayoutError::MissingKey(key.to_string()));
    };
    let n = match value {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| LayoutError::NotAnInteger(key.to_string()))?,
        None => n,
    };
    // Multi-token-prediction layers (il >= n_layer) never slide.
    for (il, flag) in (0..n_layer).zip(flags.iter_mut()) {
        *flag = if n == 0 {
            true
        } else if dense_first {
            il % n != 0
        } else {
            il % n < n - 1
        };
    }
    Ok(flags)
}

/// An integer key; `Ok(None)` when absent.
fn uint(gguf: &Gguf, key: &str) -> Result<Option<u64>, LayoutError> {
    match gguf.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| LayoutError::NotAnInteger(key.to_string())),
    }
}

/// A key that is one integer or one per layer (`get_key_or_arr`): `n`
/// values, or `Ok(None)` when absent.
fn per_layer(gguf: &Gguf, key: &str, n: u64) -> Result<Option<Vec<u64>>, LayoutError> {
    let not_integer = || LayoutError::NotAnInteger(key.to_string());
    match gguf.get(key) {
        None => Ok(None),
        Some(Value::Array(array)) => {
            if array.values.len() as u64 != n {
                return Err(LayoutError::ArrayLength {
                    key: key.to_string(),
                    expected: n,
                    found: array.values.len() as u64,
                });
            }
            array
                .values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Some(u64::from(*b)),
                    other => other.as_u64(),
                })
                .collect::<Option<Vec<u64>>>()
                .map(Some)
                .ok_or_else(not_integer)
        }
        Some(v) => {
            let value = v.as_u64().ok_or_else(not_integer)?;
            Ok(Some(vec![value; len(n)]))
        }
    }
}

/// A layer count or index (at most 512 once checked) as a `usize`.
fn len(n: u64) -> usize {
    usize::try_from(n.min(LLAMA_MAX_LAYERS)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use modelgate_formats::gguf::{Array, MetadataEntry, ValueType};

    use super::*;

    /// A header holding `entries` (keys without the `{arch}.` prefix get it).
    fn gguf(arch: &str, entries: &[(&str, Value)]) -> Gguf {
        let mut metadata = vec![MetadataEntry {
            key: "general.architecture".to_string(),
            value: Value::String(arch.to_string()),
            offset: 0,
        }];
        for (key, value) in entries {
            metadata.push(MetadataEntry {
                key: format!("{arch}.{key}"),
                value: value.clone(),
                offset: 0,
            });
        }
        Gguf {
            version: 3,
            metadata,
            tensors: Vec::new(),
            alignment: 32,
            data_offset: 0,
            file_size: 0,
        }
    }

    /// A model of `layers` layers: 8 heads, 2 KV heads, head width 64.
    fn model(arch: &str, layers: u32, extra: &[(&str, Value)]) -> KvLayout {
        let mut entries = vec![
            ("block_count", Value::U32(layers)),
            ("context_length", Value::U32(8192)),
            ("embedding_length", Value::U32(512)),
            ("attention.head_count", Value::U32(8)),
            ("attention.head_count_kv", Value::U32(2)),
        ];
        // Extra entries replace the defaults (a header's first key wins).
        entries.retain(|(key, _)| extra.iter().all(|(k, _)| k != key));
        entries.extend(extra.iter().cloned());
        kv_layout(&gguf(arch, &entries)).unwrap()
    }

    fn array(values: Vec<Value>) -> Value {
        Value::Array(Array {
            element_type: values.first().map_or(ValueType::U32, Value::value_type),
            values,
        })
    }

    fn sliding(layout: &KvLayout) -> Vec<usize> {
        (0..layout.layers.len())
            .filter(|&il| layout.layers[il].swa)
            .collect()
    }

    fn cached(layout: &KvLayout) -> Vec<usize> {
        (0..layout.layers.len())
            .filter(|&il| layout.layers[il].cached)
            .collect()
    }

    #[test]
    fn a_plain_model_caches_every_layer_at_full_width() {
        let layout = model("llama", 4, &[]);
        assert_eq!(layout.memory, MemoryKind::Attention);
        assert_eq!(layout.sliding_window, None);
        assert_eq!(cached(&layout), [0, 1, 2, 3]);
        // 2 KV heads × 512 / 8 = 64 wide.
        assert!(
            layout
                .layers
                .iter()
                .all(|l| l.k_width == 128 && l.v_width == 128)
        );
        assert!(layout.has_v);
        assert!(layout.not_counted.is_empty());
    }

    #[test]
    fn key_and_value_lengths_override_the_quotient() {
        let layout = model(
            "llama",
            2,
            &[
                ("attention.key_length", Value::U32(96)),
                ("attention.value_length", Value::U32(80)),
            ],
        );
        assert_eq!(
            (layout.layers[0].k_width, layout.layers[0].v_width),
            (192, 160)
        );
    }

    #[test]
    fn gemma2_slides_even_layers_with_a_default_window() {
        let layout = model("gemma2", 6, &[]);
        assert_eq!(layout.sliding_window, Some(4096));
        assert_eq!(sliding(&layout), [0, 2, 4]);
        let layout = model(
            "gemma2",
            6,
            &[("attention.sliding_window", Value::U32(1024))],
        );
        assert_eq!(layout.sliding_window, Some(1024));
    }

    #[test]
    fn gemma3_slides_five_of_six_only_with_a_window() {
        assert_eq!(model("gemma3", 12, &[]).sliding_window, None);
        let layout = model(
            "gemma3",
            12,
            &[("attention.sliding_window", Value::U32(512))],
        );
        assert_eq!(layout.sliding_window, Some(512));
        assert_eq!(layout.swa_kind, Some(SwaKind::Standard));
        assert_eq!(sliding(&layout), [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
        let zero = model("gemma3", 12, &[("attention.sliding_window", Value::U32(0))]);
        assert_eq!(zero.sliding_window, None);
    }

    #[test]
    fn the_pattern_key_overrides_the_default() {
        let window = ("attention.sliding_window", Value::U32(512));
        let three = model(
            "gemma3",
            6,
            &[
                window.clone(),
                ("attention.sliding_window_pattern", Value::U32(3)),
            ],
        );
        assert_eq!(sliding(&three), [0, 1, 3, 4]);
        let all = model(
            "gemma3",
            3,
            &[
                window.clone(),
                ("attention.sliding_window_pattern", Value::U32(0)),
            ],
        );
        assert_eq!(sliding(&all), [0, 1, 2]);
        let flags = array(vec![
            Value::Bool(false),
            Value::Bool(true),
            Value::Bool(true),
        ]);
        let listed = model(
            "gemma3",
            4,
            &[window, ("attention.sliding_window_pattern", flags)],
        );
        // Layers past the array's end stay global.
        assert_eq!(sliding(&listed), [1, 2]);
    }

    #[test]
    fn dense_first_patterns_keep_layer_zero_global() {
        let layout = model(
            "cohere2moe",
            8,
            &[("attention.sliding_window", Value::U32(4096))],
        );
        assert_eq!(sliding(&layout), [1, 2, 3, 5, 6, 7]);
    }

    #[test]
    fn architectures_that_need_a_window_say_so() {
        let error = kv_layout(&gguf(
            "gpt-oss",
            &[
                ("block_count", Value::U32(2)),
                ("context_length", Value::U32(8192)),
                ("embedding_length", Value::U32(512)),
            ],
        ))
        .unwrap_err();
        assert_eq!(
            error,
            LayoutError::MissingKey("gpt-oss.attention.sliding_window".into())
        );
        let error = kv_layout(&gguf(
            "gemma4",
            &[
                ("block_count", Value::U32(2)),
                ("context_length", Value::U32(8192)),
                ("embedding_length", Value::U32(512)),
                ("attention.sliding_window", Value::U32(512)),
            ],
        ))
        .unwrap_err();
        assert_eq!(
            error,
            LayoutError::MissingKey("gemma4.attention.sliding_window_pattern".into())
        );
    }

    #[test]
    fn llama4_chunks_at_8192_unless_the_window_is_zero() {
        let layout = model(
            "llama4",
            8,
            &[("attention.sliding_window", Value::U32(1024))],
        );
        assert_eq!(layout.sliding_window, Some(8192));
        assert_eq!(layout.swa_kind, Some(SwaKind::Chunked));
        assert_eq!(sliding(&layout), [0, 1, 2, 4, 5, 6]);
        let none = model("llama4", 8, &[("attention.sliding_window", Value::U32(0))]);
        assert_eq!(none.sliding_window, None);
    }

    #[test]
    fn smallthinker_and_exaone4_use_their_fixed_windows() {
        let window = ("attention.sliding_window", Value::U32(100));
        let small = model("smallthinker", 4, std::slice::from_ref(&window));
        assert_eq!(small.sliding_window, Some(4096));
        assert_eq!(sliding(&small), [1, 2, 3]);
        assert_eq!(
            model("exaone4", 30, std::slice::from_ref(&window)).sliding_window,
            None
        );
        assert_eq!(model("exaone4", 64, &[]).sliding_window, Some(4096));
        assert_eq!(model("exaone4", 64, &[window]).sliding_window, Some(100));
    }

    #[test]
    fn phi3_windows_are_ignored() {
        let layout = model("phi3", 4, &[("attention.sliding_window", Value::U32(2047))]);
        assert_eq!(layout.sliding_window, None);
    }

    #[test]
    fn prediction_layers_are_not_cached_and_never_slide() {
        let layout = model(
            "gemma3",
            7,
            &[
                ("attention.sliding_window", Value::U32(512)),
                ("attention.sliding_window_pattern", Value::U32(0)),
                ("nextn_predict_layers", Value::U32(1)),
            ],
        );
        assert_eq!(cached(&layout), [0, 1, 2, 3, 4, 5]);
        assert_eq!(sliding(&layout), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn shared_kv_layers_hold_no_cache() {
        let layout = model(
            "gemma3n",
            30,
            &[("attention.sliding_window", Value::U32(512))],
        );
        assert_eq!(cached(&layout), (0..20).collect::<Vec<_>>());
        let flags = array((0..6).map(|il| Value::Bool(il % 3 != 2)).collect());
        let layout = model(
            "gemma4",
            6,
            &[
                ("attention.sliding_window", Value::U32(512)),
                ("attention.sliding_window_pattern", flags),
                ("attention.key_length_swa", Value::U32(32)),
                ("attention.value_length_swa", Value::U32(32)),
                ("attention.shared_kv_layers", Value::U32(2)),
            ],
        );
        assert_eq!(cached(&layout), [0, 1, 2, 3]);
        // SWA layers have their own head width: 2 KV heads × 32.
        assert_eq!(layout.layers[0].k_width, 64);
        assert_eq!(layout.layers[2].k_width, 128);
    }

    #[test]
    fn latent_attention_caches_no_v() {
        let layout = model(
            "deepseek2",
            2,
            &[
                ("attention.key_length_mla", Value::U32(192)),
                ("attention.value_length_mla", Value::U32(128)),
            ],
        );
        assert!(!layout.has_v);
    }

    #[test]
    fn recurrent_and_hybrid_models_cache_only_attention_layers() {
        let mamba = model("mamba", 4, &[]);
        assert_eq!(mamba.memory, MemoryKind::Recurrent);
        assert!(cached(&mamba).is_empty());
        assert!(!mamba.not_counted.is_empty());

        let kv = array([0u32, 0, 4, 0].into_iter().map(Value::U32).collect());
        let jamba = model("jamba", 4, &[("attention.head_count_kv", kv)]);
        assert_eq!(jamba.memory, MemoryKind::Hybrid);
        assert_eq!(cached(&jamba), [2]);

        let qwen = model("qwen35", 8, &[]);
        assert_eq!(cached(&qwen), [3, 7]);
        let qwen = model("qwen35", 8, &[("full_attention_interval", Value::U32(2))]);
        assert_eq!(cached(&qwen), [1, 3, 5, 7]);

        assert_eq!(model("bert", 4, &[]).memory, MemoryKind::None);
        assert!(cached(&model("bert", 4, &[])).is_empty());
    }

    #[test]
    fn malformed_hyperparameters_are_errors() {
        let kv = array(vec![Value::U32(2); 3]);
        let error = kv_layout(&gguf(
            "llama",
            &[
                ("block_count", Value::U32(4)),
                ("context_length", Value::U32(8192)),
                ("embedding_length", Value::U32(512)),
                ("attention.head_count_kv", kv),
            ],
        ))
        .unwrap_err();
        assert!(matches!(
            error,
            LayoutError::ArrayLength {
                expected: 4,
                found: 3,
                ..
            }
        ));
        let error = kv_layout(&gguf("llama", &[("block_count", Value::U32(4))])).unwrap_err();
        assert_eq!(
            error,
            LayoutError::MissingKey("llama.context_length".into())
        );
        let error = kv_layout(&gguf("llama", &[("block_count", Value::U32(513))])).unwrap_err();
        assert_eq!(error, LayoutError::TooManyLayers(513));
    }
}
