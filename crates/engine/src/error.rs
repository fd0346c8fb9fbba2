//! Errors of the engine.

use std::path::PathBuf;

/// What went wrong loading or running a model.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum EngineError {
    /// llama.cpp could not be initialised.
    #[error("llama.cpp backend could not start: {0}")]
    Backend(String),
    /// llama.cpp refused the model file.
    #[error(
        "{path}: llama.cpp could not load the model ({reason}); check that the file is a complete GGUF of an architecture this build supports"
    )]
    Load {
        /// The file.
        path: PathBuf,
        /// llama.cpp's reason.
        reason: String,
    },
    /// llama.cpp could not create the context (usually memory).
    #[error(
        "{path}: could not create a context of {n_ctx} tokens for {slots} slots ({reason}); lower --ctx or --slots"
    )]
    Context {
        /// The model file.
        path: PathBuf,
        /// Tokens of context requested in total.
        n_ctx: u32,
        /// Parallel sequences requested.
        slots: u32,
        /// llama.cpp's reason.
        reason: String,
    },
    /// The prompt does not fit a slot's context.
    #[error(
        "the prompt has {prompt_tokens} tokens but a slot holds {context} tokens; shorten the prompt or serve with a larger --ctx"
    )]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Tokens per slot.
        context: u32,
    },
    /// The request cannot be served by this model.
    #[error("{0}")]
    Unsupported(String),
    /// A grammar or schema constraint could not be built.
    #[error("response_format could not be turned into a grammar: {0}")]
    Constraint(String),
    /// A token id outside the vocabulary was given.
    #[error("token id {token} is outside the vocabulary of {vocab} tokens")]
    BadToken {
        /// The token.
        token: u32,
        /// Size of the vocabulary.
        vocab: u32,
    },
    /// llama.cpp failed while decoding.
    #[error("llama.cpp decode failed: {0}")]
    Decode(String),
    /// llama.cpp's quantizer failed.
    #[error(
        "{path}: llama.cpp could not quantize the model to {to} ({reason}); a model already quantized needs --allow-requantize"
    )]
    Quantize {
        /// The source model.
        path: PathBuf,
        /// The type asked for.
        to: &'static str,
        /// llama.cpp's reason.
        reason: String,
    },
    /// The engine's thread has stopped (the model was unloaded).
    #[error("the model was unloaded while the request was running")]
    Stopped,
}
