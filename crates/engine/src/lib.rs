//! The inference engine: GGUF models run in-process by llama.cpp.
//!
//! [`Engine::load`] memory-maps a model and starts one thread that owns its
//! llama.cpp context. Requests ([`GenerateRequest`]) are tokenized by the
//! caller and sent to that thread, which runs continuous batching over
//! [`EngineConfig::slots`] sequences; each request's [`Event`]s stream back
//! on its [`Generation`], and dropping the [`Generation`] frees its slot.
//!
//! The engine knows nothing of HTTP or of the inventory: it is given a file
//! that the caller has already verified.

mod config;
mod engine;
mod error;
mod request;
mod sampling;
mod text;
mod worker;

pub use config::{EngineConfig, MAX_UBATCH};
pub use engine::{Engine, EngineStats, Generation, ModelInfo};
pub use error::EngineError;
pub use request::{
    Constraint, Event, FinishReason, GenerateRequest, Sampling, TokenLogprob, TopLogprob, Usage,
};
pub use sampling::grammar_for;
pub use text::{Released, TextAssembler};
