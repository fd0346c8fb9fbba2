//! The gateway's client side: sends a client's OpenAI-format request to an
//! upstream provider and brings the reply back in OpenAI's format, whole or
//! streamed, with the provider's token counts.
//!
//! Two wire formats are spoken: OpenAI's chat completions and embeddings
//! (OpenAI itself, vLLM, Ollama, llama.cpp's server, another modelgate) and
//! Anthropic's Messages API, translated both ways, tool calls, images and
//! streams included.
//!
//! # Purpose
//!
//! - One [`Provider`] per configured upstream, built from a
//!   [`ProviderConfig`] (a TOML table in the gateway's configuration); the
//!   API key is read from the environment variable the config names, never
//!   from the file, and never shown in `Debug` output or errors.
//! - [`Provider::chat`] and [`Provider::embeddings`] make one attempt,
//!   bounded by the provider's `timeout_ms` (connect and response headers)
//!   and by the caller's [`Call::deadline`] (the whole call, stream
//!   included), and send `x-request-id` and `traceparent`.
//! - A streamed reply ends cleanly only after the provider's own end marker
//!   (`[DONE]`, `message_stop`): a cut, a malformed event or an upstream
//!   error event ends the [`ChunkStream`] with an `Err`, so the gateway
//!   never turns a broken stream into a clean `[DONE]`.
//! - The pieces the gateway composes into retries and fallback:
//!   [`UpstreamError::may_fall_back`], [`backoff`] (full jitter),
//!   [`retry_after`] and a per-target [`Breaker`], all pure, the clock and
//!   the random source passed in.
//!
//! # Non-purpose
//!
//! No API keys of the gateway's own clients, no rate limits or budgets, no
//! routing between targets, no retry loop (the gateway owns the order of
//! targets and the deadline), nothing of llama.cpp or local models.
//!
//! # Main types
//!
//! - [`ProviderConfig`], [`ProviderKind`]: what the configuration declares.
//! - [`Provider`], [`Call`]: one upstream and one call's context.
//! - [`Reply`], [`ChunkStream`], [`Chunk`], [`Usage`]: what comes back.
//! - [`UpstreamError`], [`ConfigError`]: what failed, naming the provider.
//! - [`anthropic`]: the pure translation functions and [`StreamTranslator`].
//! - [`sse`]: the server-sent events parser, capped for an untrusted peer.
//! - [`Breaker`], [`backoff`], [`retry_after`]: resilience helpers.
//!
//! # Example
//!
//! ```
//! use modelgate_upstream::{Provider, ProviderConfig, UpstreamError};
//!
//! let config: ProviderConfig = serde_json::from_value(serde_json::json!({
//!     "name": "claude",
//!     "kind": "anthropic",
//!     "base_url": "https://api.anthropic.com",
//!     "api_key_env": "ANTHROPIC_API_KEY",
//! }))?;
//! let provider = Provider::new(config, |var| (var == "ANTHROPIC_API_KEY").then(|| "sk-ant-test".into()))?;
//! assert!(!format!("{provider:?}").contains("sk-ant-test"));
//!
//! // Anthropic has no embeddings API.
//! let call = modelgate_upstream::Call {
//!     deadline: std::time::Instant::now() + std::time::Duration::from_secs(5),
//!     request_id: "req-1".into(),
//!     traceparent: None,
//! };
//! let runtime = tokio::runtime::Runtime::new()?;
//! let result = runtime.block_on(provider.embeddings("any", &serde_json::json!({"input": "x"}), &call));
//! assert!(matches!(result, Err(UpstreamError::Unsupported { what: "embeddings", .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod anthropic;
mod config;
mod error;
mod provider;
mod reply;
mod resilience;
pub mod sse;

pub use anthropic::StreamTranslator;
pub use config::{
    DEFAULT_ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS, DEFAULT_TIMEOUT_MS, ProviderConfig, ProviderKind,
};
pub use error::{ConfigError, MAX_MESSAGE_CHARS, UpstreamError};
pub use provider::{Call, MAX_BODY_BYTES, MAX_ERROR_BODY_BYTES, Provider};
pub use reply::{Chunk, ChunkStream, Reply, Usage};
pub use resilience::{
    Breaker, BreakerState, DEFAULT_COOLDOWN, DEFAULT_FAILURE_THRESHOLD, MAX_RETRY_AFTER, backoff,
    retry_after, retry_after_at,
};
