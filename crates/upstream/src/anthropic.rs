//! Anthropic's Messages API in OpenAI's chat-completions terms, both ways:
//! pure functions over JSON values, no I/O.
//!
//! - [`to_messages_request`]: an OpenAI chat request becomes a Messages
//!   request.
//! - [`from_messages_response`]: a Messages response becomes a
//!   `chat.completion`.
//! - [`StreamTranslator`]: Messages stream events become
//!   `chat.completion.chunk`s.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::reply::{Chunk, Usage};

/// A translation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TranslateError {
    /// The request asks for something the Messages API cannot do.
    #[error("{0} is not supported by Anthropic's Messages API")]
    Unsupported(&'static str),
    /// The OpenAI request is not well formed; the detail names the field.
    #[error("{0}")]
    InvalidRequest(String),
    /// Anthropic's reply is not what its API documents.
    #[error("{0}")]
    MalformedReply(String),
    /// An `error` event arrived in the stream.
    #[error("{kind}: {message}")]
    Remote {
        /// The error's type, e.g. `overloaded_error`.
        kind: String,
        /// Anthropic's message.
        message: String,
    },
}

/// The most content blocks one streamed message may open.
pub const MAX_CONTENT_BLOCKS: usize = 4096;

/// Sets `key` on a JSON object (built by `json!` just before).
pub(crate) fn set(object: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = object {
        map.insert(key.to_owned(), value);
    }
}

fn invalid(detail: impl Into<String>) -> TranslateError {
    TranslateError::InvalidRequest(detail.into())
}

fn malformed(detail: impl Into<String>) -> TranslateError {
    TranslateError::MalformedReply(detail.into())
}

/// Translates an OpenAI chat-completions request into a Messages request
/// for `model`.
///
/// System and developer messages become `system`; text and `image_url`
/// parts, assistant `tool_calls` (`tool_use` blocks) and tool messages
/// (`tool_result` blocks, in a user turn) become content blocks; turns of
/// the same role in a row are merged. `tools`, `tool_choice` and
/// `parallel_tool_calls`, `max_completion_tokens` or `max_tokens` (else
/// `default_max_tokens`), `temperature`, `top_p`, `stop`, `user` and
/// `stream` carry over. `n > 1`, `logprobs`/`top_logprobs` and a JSON
/// `response_format` are refused with [`TranslateError::Unsupported`];
/// other sampling knobs (penalties, seed) are dropped.
pub fn to_messages_request(
    request: &Value,
    model: &str,
    default_max_tokens: u32,
) -> Result<Value, TranslateError> {
    let request = request
        .as_object()
        .ok_or_else(|| invalid("the request body is not a JSON object"))?;
    refuse_unsupported(request)?;

    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));

    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("`messages` is missing or not an array"))?;
    let (system, turns) = translate_messages(messages)?;
    if !system.is_empty() {
        out.insert("system".into(), Value::from(system));
    }
    out.insert("messages".into(), Value::Array(turns));

    let max_tokens = match request
        .get("max_completion_tokens")
        .filter(|v| !v.is_null())
        .or_else(|| request.get("max_tokens").filter(|v| !v.is_null()))
    {
        None => u64::from(default_max_tokens),
        Some(value) => value
            .as_u64()
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid("`max_tokens` is not a positive integer"))?,
    };
    out.insert("max_tokens".into(), Value::from(max_tokens));

    for field in ["temperature", "top_p"] {
        match request.get(field) {
            None | Some(Value::Null) => {}
            Some(value @ Value::Number(_)) => {
                out.insert(field.into(), value.clone());
            }
            Some(_) => return Err(invalid(format!("`{field}` is not a number"))),
        }
    }
    match request.get("stop") {
        None | Some(Value::Null) => {}
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) => {
            if stops.iter().any(|s| !s.is_string()) {
                return Err(invalid("`stop` holds a value that is not a string"));
            }
            if !stops.is_empty() {
                out.insert("stop_sequences".into(), Value::Array(stops.clone()));
            }
        }
        Some(_) => return Err(invalid("`stop` is not a string or an array of strings")),
    }
    match request.get("user") {
        None | Some(Value::Null) => {}
        Some(Value::String(user)) => {
            out.insert("metadata".into(), json!({ "user_id": user }));
        }
        Some(_) => return Err(invalid("`user` is not a string")),
    }

    let tools = match request.get("tools") {
        None | Some(Value::Null) => None,
        Some(Value::Array(tools)) => Some(translate_tools(tools)?),
        Some(_) => return Err(invalid("`tools` is not an array")),
    };
    let has_tools = tools.as_ref().is_some_and(|t| !t.is_empty());
    if let Some(tools) = tools.filter(|t| !t.is_empty()) {
        out.insert("tools".into(), Value::Array(tools));
    }
    let parallel = match request.get("parallel_tool_calls") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(parallel)) => *parallel,
        Some(_) => return Err(invalid("`parallel_tool_calls` is not a boolean")),
    };
    if let Some(choice) = translate_tool_choice(request.get("tool_choice"), parallel, has_tools)? {
        out.insert("tool_choice".into(), choice);
    }

    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), Value::Bool(true));
    }
    Ok(Value::Object(out))
}

fn refuse_unsupported(request: &Map<String, Value>) -> Result<(), TranslateError> {
    if request
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 1)
    {
        return Err(TranslateError::Unsupported("n > 1"));
    }
    if request.get("logprobs").and_then(Value::as_bool) == Some(true) {
        return Err(TranslateError::Unsupported("logprobs"));
    }
    if request.get("top_logprobs").is_some_and(|v| !v.is_null()) {
        return Err(TranslateError::Unsupported("top_logprobs"));
    }
    if let Some(format) = request.get("response_format").filter(|v| !v.is_null()) {
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_schema") => {
                return Err(TranslateError::Unsupported("response_format json_schema"));
            }
            Some("json_object") => {
                return Err(TranslateError::Unsupported("response_format json_object"));
            }
            _ => {
                return Err(invalid(
                    "`response_format.type` is not text, json_object or json_schema",
                ));
            }
        }
    }
    Ok(())
}

/// Splits OpenAI messages into Anthropic's `system` text and its turns.
fn translate_messages(messages: &[Value]) -> Result<(String, Vec<Value>), TranslateError> {
    let mut system = String::new();
    // (role, blocks) per turn, merged while the role repeats.
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (idx, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("messages[{idx}] has no string `role`")))?;
        let content = message.get("content").unwrap_or(&Value::Null);
        let (turn_role, blocks) = match role {
            "system" | "developer" => {
                let text = plain_text(content, idx)?;
                if !text.is_empty() {
                    if !system.is_empty() {
                        system.push_str("\n\n");
                    }
                    system.push_str(&text);
                }
                continue;
            }
            "user" => ("user", user_blocks(content, idx)?),
            "assistant" => ("assistant", assistant_blocks(message, content, idx)?),
            "tool" => {
                let tool_use_id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(format!("messages[{idx}] (tool) has no `tool_call_id`"))
                    })?;
                let text = plain_text(content, idx)?;
                let mut block = json!({ "type": "tool_result", "tool_use_id": tool_use_id });
                if !text.is_empty() {
                    set(&mut block, "content", Value::from(text));
                }
                ("user", vec![block])
            }
            "function" => return Err(TranslateError::Unsupported("`function` role messages")),
            other => {
                return Err(invalid(format!(
                    "messages[{idx}] has unknown role `{other}`"
                )));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == turn_role => last_blocks.extend(blocks),
            _ => turns.push((turn_role, blocks)),
        }
    }
    let turns = turns
        .into_iter()
        .map(|(role, blocks)| json!({ "role": role, "content": blocks }))
        .collect();
    Ok((system, turns))
}

/// The text of a content that may only hold text: a string, or an array of
/// text parts (joined with newlines).
fn plain_text(content: &Value, idx: usize) -> Result<String, TranslateError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(part_text(part, idx)?),
                    _ => {
                        return Err(invalid(format!(
                            "messages[{idx}].content holds a part that is not text"
                        )));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
        _ => Err(invalid(format!(
            "messages[{idx}].content is not a string or an array"
        ))),
    }
}

fn part_text(part: &Value, idx: usize) -> Result<String, TranslateError> {
    part.get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            invalid(format!(
                "messages[{idx}].content has a text part without `text`"
            ))
        })
}

fn text_block(text: &str) -> Option<Value> {
    // Anthropic refuses empty text blocks.
    (!text.is_empty()).then(|| json!({ "type": "text", "text": text }))
}

fn user_blocks(content: &Value, idx: usize) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::String(text) => Ok(text_block(text).into_iter().collect()),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => blocks.extend(text_block(&part_text(part, idx)?)),
                    Some("image_url") => blocks.push(image_block(part, idx)?),
                    Some("input_audio") => {
                        return Err(TranslateError::Unsupported("input_audio content parts"));
                    }
                    Some("file") => return Err(TranslateError::Unsupported("file content parts")),
                    _ => {
                        return Err(invalid(format!(
                            "messages[{idx}].content holds a part of unknown type"
                        )));
                    }
                }
            }
            Ok(blocks)
        }
        _ => Err(invalid(format!(
            "messages[{idx}].content is not a string or an array"
        ))),
    }
}

fn image_block(part: &Value, idx: usize) -> Result<Value, TranslateError> {
    let url = part
        .get("image_url")
        .and_then(|image| image.get("url").or(Some(image)))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(format!(
                "messages[{idx}].content has an image_url part without `url`"
            ))
        })?;
    if let Some(data_url) = url.strip_prefix("data:") {
        let (media_type, data) = data_url
            .split_once(";base64,")
            .ok_or_else(|| invalid(format!("messages[{idx}]: an image data URL is not base64")))?;
        return Ok(json!({
            "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data },
        }));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err(invalid(format!(
        "messages[{idx}]: an image URL is neither http(s) nor a data URL"
    )))
}

fn assistant_blocks(
    message: &Value,
    content: &Value,
    idx: usize,
) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = Vec::new();
    match content {
        Value::Null => {}
        Value::String(text) => blocks.extend(text_block(text)),
        Value::Array(parts) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => blocks.extend(text_block(&part_text(part, idx)?)),
                    Some("refusal") => {
                        let refusal = part
                            .get("refusal")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        blocks.extend(text_block(refusal));
                    }
                    _ => {
                        return Err(invalid(format!(
                            "messages[{idx}].content holds a part an assistant cannot send"
                        )));
                    }
                }
            }
        }
        _ => {
            return Err(invalid(format!(
                "messages[{idx}].content is not a string or an array"
            )));
        }
    }
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (call_idx, call) in calls.iter().enumerate() {
                let at = format!("messages[{idx}].tool_calls[{call_idx}]");
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("{at} has no `id`")))?;
                let function = call
                    .get("function")
                    .ok_or_else(|| invalid(format!("{at} has no `function`")))?;
                let name = function
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("{at}.function has no `name`")))?;
                let arguments = function
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let input: Value = if arguments.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(arguments)
                        .map_err(|e| invalid(format!("{at}.function.arguments is not JSON: {e}")))?
                };
                if !input.is_object() {
                    return Err(invalid(format!(
                        "{at}.function.arguments is not a JSON object"
                    )));
                }
                blocks.push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
            }
        }
        Some(_) => {
            return Err(invalid(format!(
                "messages[{idx}].tool_calls is not an array"
            )));
        }
    }
    Ok(blocks)
}

fn translate_tools(tools: &[Value]) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::with_capacity(tools.len());
    for (idx, tool) in tools.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(TranslateError::Unsupported("tools other than functions"));
        }
        let function = tool
            .get("function")
            .ok_or_else(|| invalid(format!("tools[{idx}] has no `function`")))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("tools[{idx}].function has no `name`")))?;
        let mut translated = json!({
            "name": name,
            "input_schema": function
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
        });
        if let Some(description) = function.get("description").and_then(Value::as_str) {
            set(&mut translated, "description", Value::from(description));
        }
        out.push(translated);
    }
    Ok(out)
}

fn translate_tool_choice(
    choice: Option<&Value>,
    parallel: bool,
    has_tools: bool,
) -> Result<Option<Value>, TranslateError> {
    let mut translated = match choice {
        None | Some(Value::Null) => {
            if parallel || !has_tools {
                return Ok(None);
            }
            json!({ "type": "auto" })
        }
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => json!({ "type": "auto" }),
            "none" => return Ok(Some(json!({ "type": "none" }))),
            "required" => json!({ "type": "any" }),
            _ => {
                return Err(invalid(format!(
                    "`tool_choice` `{mode}` is not auto, none or required"
                )));
            }
        },
        Some(object) => {
            let name = object
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| object.get("type").and_then(Value::as_str) == Some("function"))
                .ok_or_else(|| invalid("`tool_choice` is not a mode or a function by name"))?;
            json!({ "type": "tool", "name": name })
        }
    };
    if !parallel {
        set(
            &mut translated,
            "disable_parallel_tool_use",
            Value::Bool(true),
        );
    }
    Ok(Some(translated))
}

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn and reasons added later.
        _ => "stop",
    }
}

fn usage_of(usage: Option<&Value>) -> (Option<u64>, Option<u64>) {
    let Some(usage) = usage else {
        return (None, None);
    };
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    let input = count("input_tokens").map(|input| {
        input
            .saturating_add(count("cache_creation_input_tokens").unwrap_or(0))
            .saturating_add(count("cache_read_input_tokens").unwrap_or(0))
    });
    (input, count("output_tokens"))
}

/// Translates a Messages response into an OpenAI `chat.completion` created
/// at `created` (Unix seconds), with the usage it reports.
pub fn from_messages_response(
    response: &Value,
    created: u64,
) -> Result<(Value, Option<Usage>), TranslateError> {
    if response.get("type").and_then(Value::as_str) != Some("message") {
        return Err(malformed("the response is not a `message` object"));
    }
    let blocks = response
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("the message has no `content` array"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("a text block has no `text`"))?,
            ),
            Some("tool_use") => {
                let id = block.get("id").and_then(Value::as_str);
                let name = block.get("name").and_then(Value::as_str);
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(malformed("a tool_use block has no `id` or `name`"));
                };
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": { "name": name, "arguments": input.to_string() },
                }));
            }
            // thinking, redacted_thinking, server tool blocks: not OpenAI's.
            _ => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::from(text) },
    });
    if !tool_calls.is_empty() {
        set(&mut message, "tool_calls", Value::Array(tool_calls));
    }
    let (input, output) = usage_of(response.get("usage"));
    let usage = match (input, output) {
        (Some(prompt_tokens), Some(completion_tokens)) => Some(Usage {
            prompt_tokens,
            completion_tokens,
        }),
        _ => None,
    };
    let mut completion = json!({
        "id": response.get("id").cloned().unwrap_or(Value::Null),
        "object": "chat.completion",
        "created": created,
        "model": response.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(response.get("stop_reason").and_then(Value::as_str)),
        }],
    });
    if let Some(usage) = usage {
        set(&mut completion, "usage", usage.to_openai());
    }
    Ok((completion, usage))
}

/// Turns Messages stream events into OpenAI chunks, one event at a time.
///
/// The chunks: one with `role` at `message_start`, content and tool-call
/// deltas, one with `finish_reason` at `message_delta`, and at
/// `message_stop` a usage chunk (empty `choices`), after which
/// [`StreamTranslator::is_finished`] holds. `ping` and unknown events are
/// ignored; an `error` event is [`TranslateError::Remote`].
#[derive(Debug)]
pub struct StreamTranslator {
    created: u64,
    started: bool,
    finished: bool,
    finish_sent: bool,
    id: Value,
    model: Value,
    usage: Usage,
    /// Content block index → tool call index, for `tool_use` blocks.
    tool_calls: BTreeMap<u64, u64>,
    n_blocks: usize,
}

impl StreamTranslator {
    /// A translator for one stream whose chunks say `created` (Unix
    /// seconds).
    pub fn new(created: u64) -> Self {
        Self {
            created,
            started: false,
            finished: false,
            finish_sent: false,
            id: Value::Null,
            model: Value::Null,
            usage: Usage::default(),
            tool_calls: BTreeMap::new(),
            n_blocks: 0,
        }
    }

    /// Whether `message_stop` has arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Chunk {
        Chunk {
            json: json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{
                    "index": 0,
                    "delta": delta,
                    "logprobs": null,
                    "finish_reason": finish_reason,
                }],
            }),
            usage: None,
        }
    }

    fn finish_chunk(&mut self, stop_reason: Option<&str>) -> Chunk {
        self.finish_sent = true;
        self.chunk(json!({}), Some(finish_reason(stop_reason)))
    }

    /// Translates one event's `data` (the JSON Anthropic sends; its `type`
    /// field names the event) into the chunks it gives, in order.
    pub fn on_event(&mut self, data: &str) -> Result<Vec<Chunk>, TranslateError> {
        let event: Value = serde_json::from_str(data)
            .map_err(|e| malformed(format!("a stream event is not JSON: {e}")))?;
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a stream event has no `type`"))?;
        if self.finished {
            return Ok(Vec::new());
        }
        match kind {
            "error" => {
                let error = event.get("error");
                let field = |name: &str| {
                    error
                        .and_then(|e| e.get(name))
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_owned()
                };
                Err(TranslateError::Remote {
                    kind: field("type"),
                    message: crate::error::truncate_message(&field("message")),
                })
            }
            "ping" => Ok(Vec::new()),
            "message_start" => {
                if self.started {
                    return Err(malformed("a second message_start"));
                }
                let message = event
                    .get("message")
                    .ok_or_else(|| malformed("message_start has no `message`"))?;
                self.started = true;
                self.id = message.get("id").cloned().unwrap_or(Value::Null);
                self.model = message.get("model").cloned().unwrap_or(Value::Null);
                let (input, output) = usage_of(message.get("usage"));
                self.usage.prompt_tokens = input.unwrap_or(0);
                self.usage.completion_tokens = output.unwrap_or(0);
                Ok(vec![self.chunk(
                    json!({ "role": "assistant", "content": "" }),
                    None,
                )])
            }
            _ if !self.started => Err(malformed(format!("`{kind}` before message_start"))),
            "content_block_start" => {
                let index = block_index(&event)?;
                self.n_blocks = self.n_blocks.saturating_add(1);
                if self.n_blocks > MAX_CONTENT_BLOCKS {
                    return Err(malformed(format!(
                        "more than {MAX_CONTENT_BLOCKS} content blocks"
                    )));
                }
                let block = event
                    .get("content_block")
                    .ok_or_else(|| malformed("content_block_start has no `content_block`"))?;
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = block
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        Ok(self.text_chunk(text))
                    }
                    Some("tool_use") => {
                        let tool_idx = u64::try_from(self.tool_calls.len()).unwrap_or(u64::MAX);
                        if self.tool_calls.insert(index, tool_idx).is_some() {
                            return Err(malformed(format!("content block {index} started twice")));
                        }
                        let id = block.get("id").cloned().unwrap_or(Value::Null);
                        let name = block.get("name").cloned().unwrap_or(Value::Null);
                        Ok(vec![self.chunk(
                            json!({ "tool_calls": [{
                                "index": tool_idx,
                                "id": id,
                                "type": "function",
                                "function": { "name": name, "arguments": "" },
                            }] }),
                            None,
                        )])
                    }
                    _ => Ok(Vec::new()),
                }
            }
            "content_block_delta" => {
                let index = block_index(&event)?;
                let delta = event
                    .get("delta")
                    .ok_or_else(|| malformed("content_block_delta has no `delta`"))?;
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = delta
                            .get("text")
                            .and_then(Value::as_str)
                            .ok_or_else(|| malformed("text_delta has no `text`"))?;
                        Ok(self.text_chunk(text))
                    }
                    Some("input_json_delta") => {
                        let partial = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .ok_or_else(|| malformed("input_json_delta has no `partial_json`"))?;
                        let tool_idx = *self.tool_calls.get(&index).ok_or_else(|| {
                            malformed(format!(
                                "input_json_delta for block {index}, not a tool_use"
                            ))
                        })?;
                        if partial.is_empty() {
                            return Ok(Vec::new());
                        }
                        Ok(vec![self.chunk(
                            json!({ "tool_calls": [{
                                "index": tool_idx,
                                "function": { "arguments": partial },
                            }] }),
                            None,
                        )])
                    }
                    // thinking_delta, signature_delta, citations_delta.
                    _ => Ok(Vec::new()),
                }
            }
            "message_delta" => {
                let (input, output) = usage_of(event.get("usage"));
                if let Some(input) = input {
                    self.usage.prompt_tokens = input;
                }
                if let Some(output) = output {
                    self.usage.completion_tokens = output;
                }
                let stop_reason = event
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                Ok(vec![self.finish_chunk(stop_reason)])
            }
            "message_stop" => {
                self.finished = true;
                let mut chunks = Vec::with_capacity(2);
                if !self.finish_sent {
                    chunks.push(self.finish_chunk(None));
                }
                chunks.push(Chunk {
                    json: json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": self.usage.to_openai(),
                    }),
                    usage: Some(self.usage),
                });
                Ok(chunks)
            }
            // content_block_stop and event types added later.
            _ => Ok(Vec::new()),
        }
    }

    fn text_chunk(&self, text: &str) -> Vec<Chunk> {
        if text.is_empty() {
            return Vec::new();
        }
        vec![self.chunk(json!({ "content": text }), None)]
    }
}

fn block_index(event: &Value) -> Result<u64, TranslateError> {
    event
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("a content block event has no integer `index`"))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn translate(request: Value) -> Result<Value, TranslateError> {
        to_messages_request(&request, "claude-sonnet-4-5", 4096)
    }

    #[test]
    fn full_request_translation() {
        let request = json!({
            "model": "ignored",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
                {"role": "user", "content": "Thanks"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }}],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "max_completion_tokens": 300,
            "max_tokens": 999,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "user": "user-42",
            "stream": true,
            "presence_penalty": 0.5,
        });
        let expected = json!({
            "model": "claude-sonnet-4-5",
            "system": "You are terse.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "noon"},
                    {"type": "text", "text": "Thanks"},
                ]},
            ],
            "max_tokens": 300,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "user-42"},
            "tools": [{
                "name": "get_weather", "description": "Weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "stream": true,
        });
        assert_eq!(translate(request), Ok(expected));
    }

    #[test]
    fn defaults_and_tool_choice_forms() {
        let base = json!({"messages": [{"role": "user", "content": "hi"}]});
        let out = translate(base.clone()).unwrap_or_default();
        assert_eq!(out["max_tokens"], 4096);
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
        );
        assert!(
            out.get("system").is_none()
                && out.get("stream").is_none()
                && out.get("tool_choice").is_none()
        );

        let mut with = base.clone();
        with["max_tokens"] = json!(7);
        with["tool_choice"] = json!({"type": "function", "function": {"name": "f"}});
        let out = translate(with).unwrap_or_default();
        assert_eq!(out["max_tokens"], 7);
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));

        for (choice, expected) in [
            ("auto", json!({"type": "auto"})),
            ("none", json!({"type": "none"})),
        ] {
            let mut with = base.clone();
            with["tool_choice"] = json!(choice);
            assert_eq!(translate(with).unwrap_or_default()["tool_choice"], expected);
        }
    }

    #[test]
    fn unsupported_fields_are_named() {
        let base = json!({"messages": [{"role": "user", "content": "hi"}]});
        let cases = [
            ("n", json!(2), "n > 1"),
            ("logprobs", json!(true), "logprobs"),
            ("top_logprobs", json!(3), "top_logprobs"),
            (
                "response_format",
                json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
                "response_format json_schema",
            ),
            (
                "response_format",
                json!({"type": "json_object"}),
                "response_format json_object",
            ),
        ];
        for (field, value, what) in cases {
            let mut request = base.clone();
            request[field] = value;
            assert_eq!(translate(request), Err(TranslateError::Unsupported(what)));
        }
        let mut fine = base.clone();
        fine["n"] = json!(1);
        fine["logprobs"] = json!(false);
        fine["response_format"] = json!({"type": "text"});
        assert!(translate(fine).is_ok());
    }

    #[test]
    fn invalid_requests_name_the_field() {
        let cases = [
            (json!([]), "not a JSON object"),
            (json!({}), "`messages`"),
            (json!({"messages": [{"content": "x"}]}), "messages[0]"),
            (
                json!({"messages": [{"role": "wizard", "content": "x"}]}),
                "unknown role",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
                "max_tokens",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": -3}),
                "max_tokens",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}]}),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "tool_call_id",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}),
                "tool_choice",
            ),
        ];
        for (request, needle) in cases {
            match translate(request.clone()) {
                Err(TranslateError::InvalidRequest(detail)) => {
                    assert!(
                        detail.contains(needle),
                        "{detail:?} lacks {needle:?} for {request}"
                    )
                }
                other => panic!("{request}: expected InvalidRequest, got {other:?}"),
            }
        }
    }

    #[test]
    fn response_translation() {
        let response = json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me check "},
                {"type": "text", "text": "the weather."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris"}},
            ],
            "model": "claude-sonnet-4-5-20250929",
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 472, "cache_read_input_tokens": 28, "output_tokens": 91},
        });
        let (completion, usage) =
            from_messages_response(&response, 1_700_000_000).unwrap_or_default();
        assert_eq!(
            completion,
            json!({
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "object": "chat.completion",
                "created": 1_700_000_000u64,
                "model": "claude-sonnet-4-5-20250929",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Let me check the weather.",
                        "tool_calls": [{
                            "id": "toolu_01A09q90qw90lq917835lq9",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                        }],
                    },
                    "logprobs": null,
                    "finish_reason": "tool_calls",
                }],
                "usage": {"prompt_tokens": 500, "completion_tokens": 91, "total_tokens": 591},
            })
        );
        assert_eq!(
            usage,
            Some(Usage {
                prompt_tokens: 500,
                completion_tokens: 91
            })
        );
        assert!(matches!(
            from_messages_response(&json!({"type": "error"}), 0),
            Err(TranslateError::MalformedReply(_))
        ));
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(None), "stop");
    }

    #[test]
    fn stream_with_tool_call() {
        let events = [
            r#"{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Paris\"}"}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"some_future_event","x":1}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
            r#"{"type":"message_stop"}"#,
        ];
        let mut translator = StreamTranslator::new(5);
        let mut deltas = Vec::new();
        let mut usage = None;
        for event in events {
            assert!(!translator.is_finished());
            for chunk in translator.on_event(event).unwrap_or_default() {
                assert_eq!(chunk.json["object"], "chat.completion.chunk");
                assert_eq!(chunk.json["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
                if chunk.usage.is_some() {
                    usage = chunk.usage;
                    assert_eq!(chunk.json["choices"], json!([]));
                } else {
                    let choice = &chunk.json["choices"][0];
                    deltas.push((choice["delta"].clone(), choice["finish_reason"].clone()));
                }
            }
        }
        assert!(translator.is_finished());
        assert_eq!(
            deltas,
            vec![
                (json!({"role": "assistant", "content": ""}), Value::Null),
                (json!({"content": "Okay"}), Value::Null),
                (
                    json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                    Value::Null
                ),
                (
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Paris\"}"}}]}),
                    Value::Null
                ),
                (json!({}), json!("tool_calls")),
            ]
        );
        assert_eq!(
            usage,
            Some(Usage {
                prompt_tokens: 472,
                completion_tokens: 89
            })
        );
    }

    #[test]
    fn stream_errors() {
        let mut translator = StreamTranslator::new(0);
        assert!(matches!(
            translator.on_event(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#),
            Err(TranslateError::MalformedReply(_))
        ));
        assert_eq!(
            translator.on_event(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            Err(TranslateError::Remote {
                kind: "overloaded_error".into(),
                message: "Overloaded".into()
            })
        );
        assert!(matches!(
            translator.on_event("{not json"),
            Err(TranslateError::MalformedReply(_))
        ));
        let start = r#"{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1,"output_tokens":1}}}"#;
        assert!(translator.on_event(start).is_ok());
        assert!(matches!(
            translator.on_event(start),
            Err(TranslateError::MalformedReply(_))
        ));
        assert!(matches!(
            translator.on_event(r#"{"type":"content_block_delta","index":9,"delta":{"type":"input_json_delta","partial_json":"{"}}"#),
            Err(TranslateError::MalformedReply(_))
        ));
    }
}
