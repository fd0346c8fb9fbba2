//! What role a file plays in a model repository.

/// The role of a file in a Hugging Face model repository, judged by its
/// path. Weight files are not classified here: their content decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileRole {
    /// `config.json`.
    Config,
    /// `generation_config.json`.
    GenerationConfig,
    /// `tokenizer_config.json`.
    TokenizerConfig,
    /// `chat_template.jinja`, `chat_template.json`, `*.jinja` templates.
    ChatTemplate,
    /// Tokenizer data: `tokenizer.json`, `vocab.txt`, `merges.txt`,
    /// `tokenizer.model`, `special_tokens_map.json`, `added_tokens.json`.
    Tokenizer,
    /// `README.md`, the model card.
    ModelCard,
    /// `LICENSE*`, `LICENCE*`, `NOTICE*`, `COPYING*`, `USE_POLICY*`.
    License,
    /// Python source (custom modelling code, `trust_remote_code`).
    PythonCode,
    /// Anything else: weights, indexes, images, other documentation.
    Other,
}

/// Classify a repository file by its relative path (`/`-separated).
///
/// ```
/// use modelgate_hf::{classify, FileRole};
/// assert_eq!(classify("LICENSE.txt"), FileRole::License);
/// assert_eq!(classify("modeling_custom.py"), FileRole::PythonCode);
/// assert_eq!(classify("model-00001-of-00002.safetensors"), FileRole::Other);
/// ```
pub fn classify(relative_path: &str) -> FileRole {
    let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
    let lower = name.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or(&lower);
    match lower.as_str() {
        "config.json" => FileRole::Config,
        "generation_config.json" => FileRole::GenerationConfig,
        "tokenizer_config.json" => FileRole::TokenizerConfig,
        "chat_template.json" => FileRole::ChatTemplate,
        "tokenizer.json"
        | "vocab.txt"
        | "vocab.json"
        | "merges.txt"
        | "tokenizer.model"
        | "special_tokens_map.json"
        | "added_tokens.json"
        | "spiece.model"
        | "sentencepiece.bpe.model" => FileRole::Tokenizer,
        "readme.md" => FileRole::ModelCard,
        _ if lower.ends_with(".jinja") => FileRole::ChatTemplate,
        _ if lower.ends_with(".py") => FileRole::PythonCode,
        _ if matches!(
            stem,
            "license" | "licence" | "notice" | "copying" | "use_policy"
        ) || lower.starts_with("license-")
            || lower.starts_with("license_") =>
        {
            FileRole::License
        }
        _ => FileRole::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        for (path, role) in [
            ("config.json", FileRole::Config),
            ("sub/config.json", FileRole::Config),
            ("generation_config.json", FileRole::GenerationConfig),
            ("tokenizer_config.json", FileRole::TokenizerConfig),
            ("chat_template.jinja", FileRole::ChatTemplate),
            ("vocab.txt", FileRole::Tokenizer),
            ("README.md", FileRole::ModelCard),
            ("LICENSE", FileRole::License),
            ("LICENSE.md", FileRole::License),
            ("Notice.txt", FileRole::License),
            ("USE_POLICY.md", FileRole::License),
            ("LICENSE-MODEL", FileRole::License),
            ("configuration_x.py", FileRole::PythonCode),
            ("model.safetensors", FileRole::Other),
            ("model.safetensors.index.json", FileRole::Other),
            ("licensed_model.bin", FileRole::Other),
        ] {
            assert_eq!(classify(path), role, "{path}");
        }
    }
}
