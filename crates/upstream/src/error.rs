//! What can fail: configuring a provider ([`ConfigError`]) and calling one
//! ([`UpstreamError`]).

use std::time::Duration;

/// A provider's configuration cannot be used. Every variant names the
/// provider and the field or variable at fault; none carries a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `name` is empty.
    #[error("a provider has an empty name; give each provider a unique `name`")]
    EmptyName,
    /// A URL field does not parse, or is not `http`/`https`.
    #[error("provider {provider}: `{field}` is not a usable http(s) URL: {detail}; fix `{field}`")]
    InvalidUrl {
        /// The provider's name.
        provider: String,
        /// The field, such as `base_url`.
        field: &'static str,
        /// Why it was refused.
        detail: String,
    },
    /// `api_key_env` names a variable that is unset or empty.
    #[error(
        "provider {provider}: environment variable {variable} (named by `api_key_env`) is not set; \
         export it before starting, or remove `api_key_env` if the endpoint needs no key"
    )]
    MissingEnv {
        /// The provider's name.
        provider: String,
        /// The variable's name.
        variable: String,
    },
    /// The key in the variable cannot be sent in an HTTP header (a newline,
    /// a control character). The key itself is not shown.
    #[error(
        "provider {provider}: the key in environment variable {variable} contains characters \
         that cannot go in an HTTP header; check the variable for a stray newline"
    )]
    InvalidKey {
        /// The provider's name.
        provider: String,
        /// The variable's name.
        variable: String,
    },
    /// A field holds a value that cannot be sent or used.
    #[error("provider {provider}: `{field}` is invalid: {detail}")]
    InvalidField {
        /// The provider's name.
        provider: String,
        /// The field, such as `timeout_ms` or `headers.x-team`.
        field: String,
        /// Why it was refused and what to do.
        detail: String,
    },
    /// The HTTP client could not be built (TLS roots, resolver).
    #[error("provider {provider}: the HTTP client could not be built: {source}")]
    Client {
        /// The provider's name.
        provider: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
}

/// A call to a provider failed. Every variant names the provider; the
/// gateway decides on fallback with [`UpstreamError::may_fall_back`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// No connection could be made (refused, unreachable, DNS, TLS).
    #[error(
        "provider {provider}: could not connect: {source}; check `base_url` and that the \
         service is up"
    )]
    Connect {
        /// The provider's name.
        provider: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The provider's `timeout_ms` passed before the response headers, or
    /// the call's deadline passed.
    #[error(
        "provider {provider}: no answer within the time allowed; raise `timeout_ms` or the \
         client's deadline, or check the provider's health"
    )]
    Timeout {
        /// The provider's name.
        provider: String,
    },
    /// The provider answered with a status other than 2xx.
    #[error("provider {provider}: HTTP {status}: {message}")]
    Status {
        /// The provider's name.
        provider: String,
        /// The HTTP status code.
        status: u16,
        /// How long the provider asked to wait (`retry-after-ms`, `retry-after`).
        retry_after: Option<Duration>,
        /// The provider's error message, truncated to [`MAX_MESSAGE_CHARS`].
        message: String,
    },
    /// The provider sent something that is not its API's wire format (bad
    /// JSON, an SSE line or event over the cap, a body over the cap).
    #[error("provider {provider}: protocol error: {detail}; the upstream is not speaking its API")]
    Protocol {
        /// The provider's name.
        provider: String,
        /// What was wrong.
        detail: String,
    },
    /// The response was cut before its end (`[DONE]`, `message_stop`).
    #[error(
        "provider {provider}: the response was cut before its end; the reply is incomplete, \
         retry the request"
    )]
    Cut {
        /// The provider's name.
        provider: String,
        /// The client's error, if the cut came with one (a clean close has none).
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The provider reported an error inside a stream that had started
    /// (Anthropic's `error` event, an OpenAI chunk holding `error`).
    #[error("provider {provider}: error in the stream ({kind}): {message}")]
    StreamError {
        /// The provider's name.
        provider: String,
        /// The error's type as the provider names it, e.g. `overloaded_error`.
        kind: String,
        /// The provider's message, truncated to [`MAX_MESSAGE_CHARS`].
        message: String,
    },
    /// The request asks for something this provider's API cannot do; a
    /// target of another kind may.
    #[error("provider {provider}: {what} is not supported by this provider; route it elsewhere")]
    Unsupported {
        /// The provider's name.
        provider: String,
        /// The feature or field, e.g. `n > 1`.
        what: &'static str,
    },
    /// The client's request cannot be translated (a message without a role,
    /// tool-call arguments that are not JSON).
    #[error("provider {provider}: the request is invalid: {detail}")]
    Request {
        /// The provider's name.
        provider: String,
        /// What was wrong, naming the field.
        detail: String,
    },
}

/// The most characters of an upstream's error message kept in
/// [`UpstreamError::Status`] and [`UpstreamError::StreamError`].
pub const MAX_MESSAGE_CHARS: usize = 1000;

impl UpstreamError {
    /// Whether the gateway may try the next target: a connect error, a
    /// timeout, 429 or a 5xx status. Only meaningful before any byte of the
    /// reply has reached the client; [`UpstreamError::Unsupported`] is left
    /// to the gateway's own choice.
    pub fn may_fall_back(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            _ => false,
        }
    }

    /// The provider's name this error is about.
    pub fn provider(&self) -> &str {
        match self {
            Self::Connect { provider, .. }
            | Self::Timeout { provider }
            | Self::Status { provider, .. }
            | Self::Protocol { provider, .. }
            | Self::Cut { provider, .. }
            | Self::StreamError { provider, .. }
            | Self::Unsupported { provider, .. }
            | Self::Request { provider, .. } => provider,
        }
    }
}

/// Cuts `text` to at most [`MAX_MESSAGE_CHARS`] characters, marking the cut.
pub(crate) fn truncate_message(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> UpstreamError {
        UpstreamError::Status {
            provider: "p".into(),
            status: code,
            retry_after: None,
            message: String::new(),
        }
    }

    #[test]
    fn fallback_on_429_and_5xx_only() {
        assert!(status(429).may_fall_back());
        assert!(status(500).may_fall_back());
        assert!(status(503).may_fall_back());
        assert!(!status(400).may_fall_back());
        assert!(!status(401).may_fall_back());
        assert!(!status(404).may_fall_back());
        assert!(
            UpstreamError::Timeout {
                provider: "p".into()
            }
            .may_fall_back()
        );
        assert!(
            !UpstreamError::Cut {
                provider: "p".into(),
                source: None
            }
            .may_fall_back()
        );
        assert!(
            !UpstreamError::Unsupported {
                provider: "p".into(),
                what: "n > 1"
            }
            .may_fall_back()
        );
    }

    #[test]
    fn messages_name_the_provider() {
        let error = UpstreamError::Timeout {
            provider: "claude".into(),
        };
        assert!(error.to_string().contains("provider claude"));
        assert_eq!(error.provider(), "claude");
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = truncate_message(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_message("short"), "short");
    }
}
