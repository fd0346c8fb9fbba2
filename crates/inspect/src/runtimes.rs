//! Which runtimes can load an artifact. Knowledge, kept in one table.

/// Runtimes for a format, given what the repository's config says the model
/// is (`architectures` from `config.json`, when present).
pub(crate) fn runtimes(
    format: &str,
    architectures: &[String],
    has_sentence_transformers: bool,
) -> Vec<&'static str> {
    let is_causal_lm = architectures.iter().any(|a| {
        a.ends_with("ForCausalLM")
            || a.ends_with("ForConditionalGeneration")
            || a.ends_with("LMHeadModel")
    });
    match format {
        "gguf" => vec!["llama.cpp", "ollama", "lm-studio", "llama-cpp-python"],
        "safetensors" | "shard-index" => {
            let mut list = vec!["transformers"];
            if is_causal_lm {
                list.extend(["vllm", "sglang", "text-generation-inference", "mlx-lm"]);
            }
            if has_sentence_transformers {
                list.extend(["sentence-transformers", "text-embeddings-inference"]);
            }
            list.push("candle");
            list
        }
        "pytorch-zip" | "pytorch-legacy" | "pytorch-tar" => {
            let mut list = vec!["torch"];
            if !architectures.is_empty() {
                list.push("transformers");
            }
            if has_sentence_transformers {
                list.push("sentence-transformers");
            }
            list
        }
        "onnx" => vec!["onnxruntime"],
        "keras" => vec!["keras>=3"],
        "hdf5" => vec!["keras<3", "tensorflow"],
        "npy" | "npz" => vec!["numpy"],
        "pickle" => vec!["python pickle (executes code on load)"],
        _ => Vec::new(),
    }
}
