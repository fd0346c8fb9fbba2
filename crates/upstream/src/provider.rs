//! One configured provider and the HTTP calls to it.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{Stream, StreamExt};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::anthropic::{self, StreamTranslator, TranslateError};
use crate::config::{ProviderConfig, ProviderKind};
use crate::error::{ConfigError, UpstreamError, truncate_message};
use crate::reply::{Chunk, ChunkStream, Reply, Usage};
use crate::resilience::retry_after;
use crate::sse::{SseEvent, SseParser};

/// The largest response body read whole (a completion, embeddings).
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// The most bytes of an error response read for its message.
pub const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// Headers that carry credentials: refused in `headers`, which is for
/// non-secret extras only.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
];

/// One call's context from the gateway.
#[derive(Debug, Clone)]
pub struct Call {
    /// When the client stops waiting: the whole call, reading a stream
    /// included, ends by then.
    pub deadline: Instant,
    /// Sent as `x-request-id`.
    pub request_id: String,
    /// The W3C trace context, sent as `traceparent` when it is well formed.
    pub traceparent: Option<String>,
}

/// A configured upstream provider: its endpoint, its key and one pooled
/// HTTP client (HTTP/1.1 and HTTP/2), shared by every call.
#[derive(Clone)]
pub struct Provider {
    name: String,
    kind: ProviderKind,
    base_url: Url,
    chat_url: Url,
    embeddings_url: Url,
    timeout: Duration,
    /// Sent with every request: the credential (marked sensitive), the
    /// Anthropic version and the configured extras.
    headers: HeaderMap,
    has_key: bool,
    default_max_tokens: u32,
    client: reqwest::Client,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .field(
                "api_key",
                &if self.has_key { "<redacted>" } else { "<none>" },
            )
            .finish_non_exhaustive()
    }
}

fn endpoint(base: &Url, path: &str, provider: &str) -> Result<Url, ConfigError> {
    let joined = format!("{}{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&joined).map_err(|e| ConfigError::InvalidUrl {
        provider: provider.to_owned(),
        field: "base_url",
        detail: e.to_string(),
    })
}

impl Provider {
    /// Checks `config`, reads the key from the environment through `env`
    /// (`std::env::var(name).ok()` in production) and builds the client.
    pub fn new(
        config: ProviderConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let name = config.name;
        if name.trim().is_empty() {
            return Err(ConfigError::EmptyName);
        }
        let invalid_field = |field: &str, detail: &str| ConfigError::InvalidField {
            provider: name.clone(),
            field: field.to_owned(),
            detail: detail.to_owned(),
        };
        let base_url = Url::parse(&config.base_url).map_err(|e| ConfigError::InvalidUrl {
            provider: name.clone(),
            field: "base_url",
            detail: e.to_string(),
        })?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(ConfigError::InvalidUrl {
                provider: name.clone(),
                field: "base_url",
                detail: format!("the scheme is `{}`, not http or https", base_url.scheme()),
            });
        }
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(ConfigError::InvalidUrl {
                provider: name.clone(),
                field: "base_url",
                detail: "it has a query or fragment; give the API's root only".into(),
            });
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(ConfigError::InvalidUrl {
                provider: name.clone(),
                field: "base_url",
                detail: "it holds credentials; put the key in the variable named by `api_key_env`"
                    .into(),
            });
        }
        let (chat_path, embeddings_path) = match config.kind {
            ProviderKind::Openai => ("/chat/completions", "/embeddings"),
            ProviderKind::Anthropic => ("/v1/messages", "/v1/embeddings"),
        };
        let chat_url = endpoint(&base_url, chat_path, &name)?;
        let embeddings_url = endpoint(&base_url, embeddings_path, &name)?;
        if config.timeout_ms == 0 {
            return Err(invalid_field(
                "timeout_ms",
                "it is 0; give milliseconds, e.g. 30000",
            ));
        }
        if config.default_max_tokens == 0 {
            return Err(invalid_field(
                "default_max_tokens",
                "it is 0; give a positive count",
            ));
        }

        let mut headers = HeaderMap::new();
        for (header_name, value) in &config.headers {
            let field = format!("headers.{header_name}");
            let parsed_name = HeaderName::from_bytes(header_name.as_bytes())
                .map_err(|_| invalid_field(&field, "it is not a valid HTTP header name"))?;
            if CREDENTIAL_HEADERS.contains(&parsed_name.as_str()) {
                return Err(invalid_field(
                    &field,
                    "credentials never go in the config file; name an environment variable in `api_key_env`",
                ));
            }
            let parsed_value = HeaderValue::from_str(value)
                .map_err(|_| invalid_field(&field, "the value cannot go in an HTTP header"))?;
            headers.append(parsed_name, parsed_value);
        }
        if config.kind == ProviderKind::Anthropic {
            let version = HeaderValue::from_str(&config.anthropic_version).map_err(|_| {
                invalid_field("anthropic_version", "it cannot go in an HTTP header")
            })?;
            headers.insert("anthropic-version", version);
        }
        let has_key = match &config.api_key_env {
            None => false,
            Some(variable) => {
                let key = env(variable)
                    .filter(|key| !key.trim().is_empty())
                    .ok_or_else(|| ConfigError::MissingEnv {
                        provider: name.clone(),
                        variable: variable.clone(),
                    })?;
                let (header_name, value) = match config.kind {
                    ProviderKind::Openai => {
                        (header::AUTHORIZATION, format!("Bearer {}", key.trim()))
                    }
                    ProviderKind::Anthropic => {
                        (HeaderName::from_static("x-api-key"), key.trim().to_owned())
                    }
                };
                let mut value =
                    HeaderValue::from_str(&value).map_err(|_| ConfigError::InvalidKey {
                        provider: name.clone(),
                        variable: variable.clone(),
                    })?;
                value.set_sensitive(true);
                headers.insert(header_name, value);
                true
            }
        };
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = reqwest::Client::builder()
            .user_agent(concat!("modelgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|source| ConfigError::Client {
                provider: name.clone(),
                source,
            })?;
        Ok(Self {
            name,
            kind: config.kind,
            base_url,
            chat_url,
            embeddings_url,
            timeout,
            headers,
            has_key,
            default_max_tokens: config.default_max_tokens,
            client,
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The provider's wire format.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// Sends an OpenAI chat-completions `request` (its `model` replaced by
    /// `model`), translated for the provider, and returns the reply in
    /// OpenAI's format: whole, or as a stream when the request has
    /// `"stream": true`. OpenAI streams are asked for usage
    /// (`stream_options.include_usage`).
    pub async fn chat(
        &self,
        model: &str,
        request: &Value,
        call: &Call,
    ) -> Result<Reply, UpstreamError> {
        let streaming = request.get("stream").and_then(Value::as_bool) == Some(true);
        let body = match self.kind {
            ProviderKind::Openai => {
                let mut body = self.openai_body(model, request)?;
                if streaming {
                    match body.get_mut("stream_options") {
                        Some(Value::Object(options)) => {
                            options.insert("include_usage".into(), Value::Bool(true));
                        }
                        _ => crate::anthropic::set(
                            &mut body,
                            "stream_options",
                            json!({ "include_usage": true }),
                        ),
                    }
                }
                body
            }
            ProviderKind::Anthropic => {
                anthropic::to_messages_request(request, model, self.default_max_tokens)
                    .map_err(|e| self.translate_error(e))?
            }
        };
        let response = self.send(&self.chat_url, &body, call, streaming).await?;
        if streaming {
            return self.stream_reply(response, call);
        }
        let json = self.read_json(response, call).await?;
        match self.kind {
            ProviderKind::Openai => {
                if json.get("choices").and_then(Value::as_array).is_none() {
                    return Err(self.protocol("the chat completion has no `choices` array"));
                }
                let usage = json.get("usage").and_then(Usage::from_openai);
                Ok(Reply::Complete { body: json, usage })
            }
            ProviderKind::Anthropic => {
                let (body, usage) = anthropic::from_messages_response(&json, unix_now())
                    .map_err(|e| self.translate_error(e))?;
                Ok(Reply::Complete { body, usage })
            }
        }
    }

    /// Sends an OpenAI embeddings `request` (its `model` replaced by `model`)
    /// and returns the OpenAI embeddings response. Anthropic has no
    /// embeddings API: [`UpstreamError::Unsupported`].
    pub async fn embeddings(
        &self,
        model: &str,
        request: &Value,
        call: &Call,
    ) -> Result<Value, UpstreamError> {
        if self.kind == ProviderKind::Anthropic {
            return Err(UpstreamError::Unsupported {
                provider: self.name.clone(),
                what: "embeddings",
            });
        }
        let body = self.openai_body(model, request)?;
        let response = self.send(&self.embeddings_url, &body, call, false).await?;
        let json = self.read_json(response, call).await?;
        if json.get("data").and_then(Value::as_array).is_none() {
            return Err(self.protocol("the embeddings response has no `data` array"));
        }
        Ok(json)
    }

    fn openai_body(&self, model: &str, request: &Value) -> Result<Value, UpstreamError> {
        let mut body = request.clone();
        let object = body.as_object_mut().ok_or_else(|| UpstreamError::Request {
            provider: self.name.clone(),
            detail: "the request body is not a JSON object".into(),
        })?;
        object.insert("model".into(), Value::from(model));
        Ok(body)
    }

    fn translate_error(&self, error: TranslateError) -> UpstreamError {
        translate_error(&self.name, error)
    }

    fn protocol(&self, detail: impl Into<String>) -> UpstreamError {
        UpstreamError::Protocol {
            provider: self.name.clone(),
            detail: detail.into(),
        }
    }

    fn timeout_error(&self) -> UpstreamError {
        UpstreamError::Timeout {
            provider: self.name.clone(),
        }
    }

    fn transport_error(&self, source: reqwest::Error) -> UpstreamError {
        if source.is_timeout() {
            self.timeout_error()
        } else if source.is_connect() {
            UpstreamError::Connect {
                provider: self.name.clone(),
                source,
            }
        } else {
            // The request was written, or the connection failed after it:
            // the upstream may have seen it.
            UpstreamError::Cut {
                provider: self.name.clone(),
                source: Some(source),
            }
        }
    }

    /// Sends `body` and waits for the response headers, no longer than the
    /// provider's timeout and the call's deadline. A non-2xx status is
    /// [`UpstreamError::Status`].
    async fn send(
        &self,
        url: &Url,
        body: &Value,
        call: &Call,
        streaming: bool,
    ) -> Result<reqwest::Response, UpstreamError> {
        let now = Instant::now();
        let headers_by = call
            .deadline
            .min(now.checked_add(self.timeout).unwrap_or(call.deadline));
        if headers_by <= now {
            return Err(self.timeout_error());
        }
        let mut headers = self.headers.clone();
        if let Ok(value) = HeaderValue::from_str(&call.request_id) {
            headers.insert("x-request-id", value);
        }
        if let Some(value) = call
            .traceparent
            .as_deref()
            .filter(|t| is_traceparent(t))
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            headers.insert("traceparent", value);
        }
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(if streaming {
                "text/event-stream"
            } else {
                "application/json"
            }),
        );
        let request = self
            .client
            .post(url.clone())
            .headers(headers)
            .json(body)
            .send();
        let response = tokio::time::timeout_at(headers_by.into(), request)
            .await
            .map_err(|_| self.timeout_error())?
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(self.status_error(status, response, call).await)
    }

    async fn status_error(
        &self,
        status: StatusCode,
        response: reqwest::Response,
        call: &Call,
    ) -> UpstreamError {
        let retry_after = retry_after(response.headers());
        // The message is a courtesy: a body that is slow (past the timeout
        // or the deadline), cut or too long still leaves the status.
        let read_by = call.deadline.min(
            Instant::now()
                .checked_add(self.timeout)
                .unwrap_or(call.deadline),
        );
        let body = tokio::time::timeout_at(
            read_by.into(),
            read_limited(response, MAX_ERROR_BODY_BYTES, true),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|json| {
                let error = json.get("error")?;
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .or_else(|| error.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.trim().to_owned());
        let message = if message.is_empty() {
            status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            truncate_message(&message)
        };
        UpstreamError::Status {
            provider: self.name.clone(),
            status: status.as_u16(),
            retry_after,
            message,
        }
    }

    async fn read_json(
        &self,
        response: reqwest::Response,
        call: &Call,
    ) -> Result<Value, UpstreamError> {
        let body = tokio::time::timeout_at(
            call.deadline.into(),
            read_limited(response, MAX_BODY_BYTES, false),
        )
        .await
        .map_err(|_| self.timeout_error())?
        .map_err(|e| match e {
            ReadError::TooLarge => self.protocol(format!(
                "the response body is larger than {MAX_BODY_BYTES} bytes"
            )),
            ReadError::Transport(source) => self.transport_error(source),
        })?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|e| self.protocol(format!("the response body is not JSON: {e}")))?;
        if !json.is_object() {
            return Err(self.protocol("the response body is not a JSON object"));
        }
        Ok(json)
    }

    fn stream_reply(
        &self,
        response: reqwest::Response,
        call: &Call,
    ) -> Result<Reply, UpstreamError> {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            return Err(self.protocol(format!(
                "a stream was asked for but the response is `{content_type}`, not text/event-stream"
            )));
        }
        let translation = match self.kind {
            ProviderKind::Openai => Translation::Openai,
            ProviderKind::Anthropic => Translation::Anthropic(StreamTranslator::new(unix_now())),
        };
        let state = StreamState {
            provider: self.name.clone(),
            bytes: Box::pin(response.bytes_stream()),
            parser: SseParser::new(),
            translation,
            ready: VecDeque::new(),
            deadline: call.deadline,
            ended: false,
        };
        Ok(Reply::Stream(ChunkStream::new(
            futures_util::stream::unfold(state, |mut state| async move {
                let item = state.next_item().await?;
                Some((item, state))
            }),
        )))
    }
}

/// Whether `value` has the shape of a W3C `traceparent`:
/// `version-traceid(32 hex)-parentid(16 hex)-flags(2 hex)`.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    match parts.as_slice() {
        [version, trace_id, parent_id, flags, ..] => {
            hex(version, 2)
                && hex(trace_id, 32)
                && hex(parent_id, 16)
                && hex(flags, 2)
                && *version != "ff"
        }
        _ => false,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body up to `limit` bytes; beyond, an error, or (when
/// `truncate`) the first `limit` bytes.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    truncate: bool,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        let room = limit.saturating_sub(body.len());
        if chunk.len() > room {
            if truncate {
                body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                return Ok(body);
            }
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

enum Translation {
    Openai,
    Anthropic(StreamTranslator),
}

/// What a streamed reply holds between polls.
struct StreamState<S> {
    provider: String,
    bytes: std::pin::Pin<Box<S>>,
    parser: SseParser,
    translation: Translation,
    /// Items parsed but not yet handed out; an `Err` is always the last.
    ready: VecDeque<Result<Chunk, UpstreamError>>,
    deadline: Instant,
    /// No more bytes are read: the end marker, an error or the deadline.
    ended: bool,
}

impl<S, B> StreamState<S>
where
    S: Stream<Item = reqwest::Result<B>>,
    B: AsRef<[u8]>,
{
    async fn next_item(&mut self) -> Option<Result<Chunk, UpstreamError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            let read = tokio::time::timeout_at(self.deadline.into(), self.bytes.next()).await;
            let bytes = match read {
                Err(_) => Err(UpstreamError::Timeout {
                    provider: self.provider.clone(),
                }),
                // The body ended before the stream's end marker.
                Ok(None) => Err(UpstreamError::Cut {
                    provider: self.provider.clone(),
                    source: None,
                }),
                Ok(Some(Err(source))) => Err(UpstreamError::Cut {
                    provider: self.provider.clone(),
                    source: Some(source),
                }),
                Ok(Some(Ok(bytes))) => Ok(bytes),
            };
            let events = bytes.and_then(|bytes| {
                self.parser
                    .push(bytes.as_ref())
                    .map_err(|e| UpstreamError::Protocol {
                        provider: self.provider.clone(),
                        detail: e.to_string(),
                    })
            });
            match events {
                Err(error) => self.fail(error),
                Ok(events) => {
                    for event in events {
                        self.handle(event);
                        if self.ended {
                            break;
                        }
                    }
                }
            }
        }
    }

    fn fail(&mut self, error: UpstreamError) {
        self.ready.push_back(Err(error));
        self.ended = true;
    }

    fn handle(&mut self, event: SseEvent) {
        match &mut self.translation {
            Translation::Openai => {
                if event.data.trim() == "[DONE]" {
                    self.ended = true;
                    return;
                }
                let json: Value = match serde_json::from_str(&event.data) {
                    Ok(json @ Value::Object(_)) => json,
                    Ok(_) => {
                        return self.fail(protocol_error(
                            &self.provider,
                            "a stream event is not a JSON object",
                        ));
                    }
                    Err(e) => {
                        return self.fail(protocol_error(
                            &self.provider,
                            &format!("a stream event is not JSON: {e}"),
                        ));
                    }
                };
                if let Some(error) = json.get("error").filter(|e| !e.is_null()) {
                    let field = |name: &str| {
                        error.get(name).and_then(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .or_else(|| v.as_i64().map(|n| n.to_string()))
                        })
                    };
                    return self.fail(UpstreamError::StreamError {
                        provider: self.provider.clone(),
                        kind: field("type")
                            .or_else(|| field("code"))
                            .unwrap_or_else(|| "error".into()),
                        message: truncate_message(&field("message").unwrap_or_default()),
                    });
                }
                if json.get("choices").and_then(Value::as_array).is_none() {
                    return self.fail(protocol_error(
                        &self.provider,
                        "a stream chunk has no `choices` array",
                    ));
                }
                let usage = json.get("usage").and_then(Usage::from_openai);
                self.ready.push_back(Ok(Chunk { json, usage }));
            }
            Translation::Anthropic(translator) => match translator.on_event(&event.data) {
                Ok(chunks) => {
                    let finished = translator.is_finished();
                    self.ready.extend(chunks.into_iter().map(Ok));
                    self.ended = finished;
                }
                Err(error) => {
                    let error = translate_error(&self.provider, error);
                    self.fail(error);
                }
            },
        }
    }
}

fn protocol_error(provider: &str, detail: &str) -> UpstreamError {
    UpstreamError::Protocol {
        provider: provider.to_owned(),
        detail: detail.to_owned(),
    }
}

fn translate_error(provider: &str, error: TranslateError) -> UpstreamError {
    let provider = provider.to_owned();
    match error {
        TranslateError::Unsupported(what) => UpstreamError::Unsupported { provider, what },
        TranslateError::InvalidRequest(detail) => UpstreamError::Request { provider, detail },
        TranslateError::Remote { kind, message } => UpstreamError::StreamError {
            provider,
            kind,
            message,
        },
        // MalformedReply, and variants added later.
        other => UpstreamError::Protocol {
            provider,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_shape() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
        ));
        assert!(!is_traceparent("hello"));
    }
}
