//! What a caller asks the engine for, and what comes back.

use crate::EngineError;

/// How the next token is chosen. Defaults are OpenAI's: temperature 1, no
/// nucleus or top-k cut, no penalties.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; `0` picks the most likely token (greedy).
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability sums to `top_p`.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens; `0` disables.
    pub top_k: i32,
    /// Drop tokens less likely than `min_p` × the most likely one; `0` disables.
    pub min_p: f32,
    /// OpenAI's presence penalty (−2 to 2): subtracted once from each token already generated.
    pub presence_penalty: f32,
    /// OpenAI's frequency penalty (−2 to 2): subtracted per occurrence.
    pub frequency_penalty: f32,
    /// llama.cpp's multiplicative repetition penalty; `1` disables.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalties look at.
    pub penalty_last_n: i32,
    /// Seed of the random choice; `None` draws one.
    pub seed: Option<u64>,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            repeat_penalty: 1.0,
            penalty_last_n: 64,
            seed: None,
        }
    }
}

/// A constraint on the shape of the output, enforced token by token.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// Any JSON object (OpenAI's `response_format: {"type": "json_object"}`).
    JsonObject,
    /// JSON valid against this JSON Schema (`response_format: json_schema`).
    JsonSchema(serde_json::Value),
    /// A grammar in llama.cpp's GBNF, with `root` as its start rule.
    Grammar(String),
}

/// One generation request: a tokenized prompt and how to continue it.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The prompt's tokens (see [`crate::Engine::tokenize`]).
    pub prompt: Vec<u32>,
    /// Most tokens to generate; `None` runs to the end of the slot's context.
    pub max_tokens: Option<u32>,
    /// Generation ends before the first of these strings; it is never emitted.
    pub stop: Vec<String>,
    /// Sampling parameters.
    pub sampling: Sampling,
    /// Output shape, if constrained.
    pub constraint: Option<Constraint>,
    /// Log-probabilities: `None` for none, `Some(n)` for the chosen token and
    /// its `n` most likely alternatives (at most 20).
    pub logprobs: Option<u8>,
}

impl GenerateRequest {
    /// A request with default sampling and no limits beyond the context.
    pub fn new(prompt: Vec<u32>) -> Self {
        Self {
            prompt,
            max_tokens: None,
            stop: Vec::new(),
            sampling: Sampling::default(),
            constraint: None,
            logprobs: None,
        }
    }
}

/// The log-probability of one token, as OpenAI reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's text (lossy if it is part of a character).
    pub token: String,
    /// The token's bytes.
    pub bytes: Vec<u8>,
    /// Natural log of its probability under the model (before sampling filters).
    pub logprob: f32,
    /// The most likely tokens at this position, most likely first.
    pub top: Vec<TopLogprob>,
}

/// One alternative at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct TopLogprob {
    /// The token's text.
    pub token: String,
    /// The token's bytes.
    pub bytes: Vec<u8>,
    /// Natural log of its probability.
    pub logprob: f32,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn or a stop string was reached.
    Stop,
    /// `max_tokens` or the context was reached.
    Length,
}

impl FinishReason {
    /// OpenAI's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Tokens one request consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated (including one that ended the turn, excluding nothing).
    pub completion_tokens: u32,
}

/// One event of a generation's stream.
#[derive(Debug)]
pub enum Event {
    /// New text (possibly empty when only log-probabilities advanced).
    Delta {
        /// Text safe to show: whole characters, no part of a stop string.
        text: String,
        /// Log-probabilities of the tokens generated since the last event.
        logprobs: Vec<TokenLogprob>,
    },
    /// Generation ended normally.
    Finished {
        /// Why.
        reason: FinishReason,
        /// What it consumed.
        usage: Usage,
    },
    /// Generation failed; nothing more follows.
    Failed(EngineError),
}
