//! The memory a model needs: weights plus an f16 KV cache.

use serde::Serialize;

use crate::InspectOptions;
use crate::facts::ArtifactFacts;

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
    /// f16 KV cache at `context_length`: 2 (K and V) × layers × KV heads ×
    /// head dimension × context × 2 bytes. 0 when the architecture is unknown.
    pub kv_cache_bytes: u64,
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
    let shape = group
        .iter()
        .find(|a| a.layers.is_some() && a.kv_heads_per_layer.is_some());
    let model_context = group.iter().find_map(|a| a.context_length);
    let context_length = options.context_length.or(model_context);
    let kv_cache = match (shape, context_length) {
        (Some(facts), Some(context)) => facts_kv_cache(facts, context).unwrap_or(0),
        _ => 0,
    };
    let total_bytes = weights_bytes.saturating_add(kv_cache);
    Some(MemoryEstimate {
        basis: group.iter().map(|a| a.path.clone()).collect(),
        context_length,
        weights_bytes,
        kv_cache_bytes: kv_cache,
        total_bytes,
        machine_memory_bytes: options.machine_memory_bytes,
        fits: options
            .machine_memory_bytes
            .map(|memory| total_bytes <= memory),
    })
}

/// The KV cache of one artifact at `context_length`, from its facts.
pub(crate) fn facts_kv_cache(facts: &ArtifactFacts, context_length: u64) -> Option<u64> {
    let kv_heads = facts.kv_heads_per_layer.as_deref()?;
    let key_dim = facts.head_dim?;
    let value_dim = facts.value_head_dim.unwrap_or(key_dim);
    kv_cache_bytes(kv_heads, key_dim, value_dim, context_length)
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
}
