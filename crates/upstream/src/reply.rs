//! What a call returns: a whole reply, or a stream of chunks.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use serde_json::{Value, json};

use crate::UpstreamError;

/// Tokens counted by the provider for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Tokens in the prompt (for Anthropic: input tokens plus cache reads
    /// and writes, as OpenAI counts cached tokens within the prompt).
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

impl Usage {
    /// Reads an OpenAI `usage` object; `None` when it is absent or not an
    /// object with integer `prompt_tokens` and `completion_tokens`.
    pub fn from_openai(usage: &Value) -> Option<Self> {
        Some(Self {
            prompt_tokens: usage.get("prompt_tokens")?.as_u64()?,
            completion_tokens: usage.get("completion_tokens")?.as_u64()?,
        })
    }

    /// The OpenAI `usage` object for these counts.
    pub fn to_openai(self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens.saturating_add(self.completion_tokens),
        })
    }
}

/// A provider's answer to [`crate::Provider::chat`].
#[derive(Debug)]
pub enum Reply {
    /// The whole reply (the request had no `"stream": true`).
    Complete {
        /// An OpenAI `chat.completion` object.
        body: Value,
        /// The provider's token counts, when it sent them.
        usage: Option<Usage>,
    },
    /// The reply as it streams in (the request had `"stream": true`).
    Stream(ChunkStream),
}

/// One streamed piece of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// An OpenAI `chat.completion.chunk` object. The usage chunk, the last
    /// before the end, has empty `choices` and a `usage` object: forward it
    /// only to clients that asked for `stream_options.include_usage`.
    pub json: Value,
    /// The token counts, on the usage chunk (a server that sends running
    /// counts on every chunk, as vLLM can, has them on each: the last
    /// counts).
    pub usage: Option<Usage>,
}

/// The chunks of a streamed reply. It ends (`None`) only after the
/// provider's own end of stream (`[DONE]`, `message_stop`); a cut, a
/// malformed event, an error event or the deadline passing yields one
/// `Err` as its last item instead.
pub struct ChunkStream {
    inner: Pin<Box<dyn Stream<Item = Result<Chunk, UpstreamError>> + Send>>,
}

impl ChunkStream {
    pub(crate) fn new(
        stream: impl Stream<Item = Result<Chunk, UpstreamError>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(stream),
        }
    }
}

impl fmt::Debug for ChunkStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkStream")
    }
}

impl Stream for ChunkStream {
    type Item = Result<Chunk, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
