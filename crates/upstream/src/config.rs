//! One provider's configuration, as the gateway's TOML file declares it.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI's chat completions and embeddings API, as OpenAI, vLLM,
    /// Ollama, llama.cpp's server and another modelgate serve it.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
}

/// One upstream provider, as declared in the gateway's configuration.
///
/// Credentials are never here: `api_key_env` names the environment variable
/// that holds the key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// A unique name, used in errors, logs and routes.
    pub name: String,
    /// The wire format.
    pub kind: ProviderKind,
    /// Where the API lives: `https://api.openai.com/v1` and
    /// `http://127.0.0.1:8000/v1` for OpenAI-compatible servers (the
    /// `/chat/completions` path is appended), `https://api.anthropic.com`
    /// for Anthropic (`/v1/messages` is appended).
    pub base_url: String,
    /// The environment variable holding the API key, if the endpoint needs
    /// one.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Milliseconds allowed to connect and receive the response headers.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra, non-secret headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The `anthropic-version` header (Anthropic only).
    #[serde(default = "default_anthropic_version")]
    pub anthropic_version: String,
    /// `max_tokens` sent to Anthropic when the client sets none (Anthropic
    /// requires it).
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u32,
    /// Runs on the organisation's own machines (vLLM, Ollama, another
    /// modelgate): a gateway may send it data it keeps from external
    /// providers.
    #[serde(default)]
    pub self_hosted: bool,
}

/// The default of [`ProviderConfig::timeout_ms`].
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// The default of [`ProviderConfig::anthropic_version`].
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
/// The default of [`ProviderConfig::default_max_tokens`].
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_anthropic_version() -> String {
    DEFAULT_ANTHROPIC_VERSION.to_owned()
}

fn default_max_tokens() -> u32 {
    DEFAULT_MAX_TOKENS
}

impl ProviderConfig {
    /// A configuration with every optional field at its default.
    pub fn new(name: impl Into<String>, kind: ProviderKind, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            base_url: base_url.into(),
            api_key_env: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            headers: BTreeMap::new(),
            anthropic_version: default_anthropic_version(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
            self_hosted: false,
        }
    }
}
