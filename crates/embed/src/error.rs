//! Why a snapshot could not be loaded or an input not encoded.

/// An error from loading a snapshot ([`SentenceEncoder::load`]) or from
/// encoding inputs ([`SentenceEncoder::encode`]).
///
/// Load errors name the snapshot file (its path relative to the snapshot
/// root, as `modules.json` and the Hugging Face layout spell it), the field
/// at fault where there is one, and what to do about it.
///
/// [`SentenceEncoder::load`]: crate::SentenceEncoder::load
/// [`SentenceEncoder::encode`]: crate::SentenceEncoder::encode
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A file the snapshot needs is not there.
    #[error("{file}: missing from the snapshot; {hint}")]
    Missing {
        /// The file's path relative to the snapshot root.
        file: String,
        /// What the file is for and what to do.
        hint: &'static str,
    },
    /// A file could not be read.
    #[error("{file}: cannot read it: {source}")]
    Read {
        /// The file's path relative to the snapshot root.
        file: String,
        /// What the file system said (or that the file is over its limit).
        source: Box<modelgate_formats::Error>,
    },
    /// A JSON file is malformed, or a field has the wrong type or is
    /// missing (serde's message names the field, line and column).
    #[error("{file}: {source}; fix or re-download the snapshot")]
    Json {
        /// The file's path relative to the snapshot root.
        file: String,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// A configuration field holds a value that parses but cannot be used.
    #[error("{file}: field `{field}`: {problem}")]
    Invalid {
        /// The file's path relative to the snapshot root.
        file: String,
        /// The field (a JSON key, `idx` path or tensor name).
        field: String,
        /// What is wrong with it and what to do.
        problem: String,
    },
    /// The snapshot asks for something this crate does not implement (a
    /// model architecture, a `modules.json` module, a pooling mode).
    #[error("{file}: field `{field}`: {what} is not supported; {hint}")]
    Unsupported {
        /// The file's path relative to the snapshot root.
        file: String,
        /// The field that names it.
        field: String,
        /// The value found.
        what: String,
        /// What is supported and what to do.
        hint: &'static str,
    },
    /// `tokenizer.json` could not be loaded, or an input could not be
    /// tokenized.
    #[error("{file}: {message}")]
    Tokenizer {
        /// `tokenizer.json` (with its module path), or `input N` when an
        /// input failed.
        file: String,
        /// The tokenizers library's message.
        message: String,
    },
    /// The weights do not match `config.json` (a tensor missing, a shape
    /// different from what the configuration implies) or are not valid
    /// safetensors.
    #[error(
        "{file}: {source}; the weights do not match config.json: re-download the snapshot or check that config.json belongs to these weights"
    )]
    Weights {
        /// The weights file (or files) relative to the snapshot root.
        file: String,
        /// candle's message, naming the tensor.
        source: candle_core::Error,
    },
    /// An input of token ids is empty.
    #[error("input {input}: an empty list of token ids; pass at least one token")]
    EmptyTokens {
        /// The input's position in the request.
        input: usize,
    },
    /// A token id is outside the model's vocabulary.
    #[error(
        "input {input}: token id {id} at position {position} is outside the vocabulary (ids 0 to {max_id}); send ids from this model's tokenizer"
    )]
    TokenOutOfRange {
        /// The input's position in the request.
        input: usize,
        /// The token's position in the input.
        position: usize,
        /// The offending id.
        id: u32,
        /// The largest valid id.
        max_id: usize,
    },
    /// The forward pass failed (out of memory, or a bug).
    #[error("computing embeddings failed: {0}")]
    Compute(#[source] candle_core::Error),
}
