//! The inference engine: GGUF models run in-process by llama.cpp.
//!
//! [`Engine::load`] memory-maps a model and starts one thread that owns its
//! llama.cpp context. Requests ([`GenerateRequest`]) are tokenized by the
//! caller and sent to that thread, which runs continuous batching over
//! [`EngineConfig::slots`] sequences; each request's [`Event`]s stream back
//! on its [`Generation`], and dropping the [`Generation`] frees its slot.
//!
//! For evaluation, [`ScoringModel`] reads a model's logits on the calling
//! thread (log-likelihoods of continuations, rows of logits per window), and
//! [`quantize`] writes quantized variants with llama.cpp's quantizer.
//!
//! The engine knows nothing of HTTP or of the inventory: it is given a file
//! that the caller has already verified.

mod config;
mod engine;
mod error;
mod quantize;
mod request;
mod sampling;
mod score;
mod text;
mod worker;

pub use config::{EngineConfig, MAX_UBATCH};
pub use engine::{Engine, EngineStats, Generation, ModelInfo};
pub use error::EngineError;
pub use quantize::{QuantType, QuantizeOptions, TensorProgress, UnknownQuantType, quantize};
pub use request::{
    Constraint, Event, FinishReason, GenerateRequest, Sampling, TokenLogprob, TopLogprob, Usage,
};
pub use sampling::grammar_for;
pub use score::{
    ChoiceTokens, ContinuationScore, ScoringConfig, ScoringModel, ScoringSession, token_logprob,
};
pub use text::{Released, TextAssembler};
