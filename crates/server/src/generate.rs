//! `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use modelgate_engine::{Engine, Event, FinishReason, GenerateRequest, TokenLogprob, Usage};
use modelgate_inventory::Stage;
use modelgate_serving::{Backend, Embedder, Resolved, Served, Template};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::openai::{ChatRequest, CompletionRequest, EmbeddingRequest, Prompt, parse};
use crate::{AppState, REQUEST_ID, new_id, sse};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| new_id("req"), str::to_owned)
}

/// The served version a model id names, or the API's answer why not.
pub(crate) fn resolve(state: &AppState, id: &str) -> Result<Arc<Served>, ApiError> {
    match state.catalog.resolve(id) {
        Resolved::Live(served) => Ok(served),
        Resolved::Revoked { id, reason } => Err(ApiError::revoked(&id, &reason)),
        Resolved::Unknown => Err(ApiError::unknown_model(id)),
    }
}

/// Adds `Deprecation` to answers from a deprecated version.
pub(crate) fn mark(served: &Served, mut response: Response) -> Response {
    if served.stage() == Stage::Deprecated {
        let headers = response.headers_mut();
        headers.insert("deprecation", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(&format!(
            "299 modelgate \"{} is deprecated; move to a newer approved version\"",
            served.id()
        )) {
            headers.insert("warning", v);
        }
    }
    response
}

fn check_draining(state: &AppState) -> Result<(), ApiError> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(ApiError::unavailable(
            "the server is shutting down; retry on another replica",
        ));
    }
    Ok(())
}

fn generator(served: &Served) -> Result<&Engine, ApiError> {
    match &served.backend {
        Backend::Generate { engine, .. } => Ok(engine),
        Backend::Embed(_) => Err(ApiError::invalid(
            format!(
                "`{}` is an embedding model; use /v1/embeddings",
                served.id()
            ),
            Some("model"),
        )),
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

fn chat_logprobs(items: &[TokenLogprob]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|t| {
                json!({
                    "token": t.token,
                    "logprob": t.logprob,
                    "bytes": t.bytes,
                    "top_logprobs": t.top.iter().map(|a| json!({
                        "token": a.token, "logprob": a.logprob, "bytes": a.bytes,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

// ---------------------------------------------------------------- chat

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match chat_inner(&state, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn chat_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let request: ChatRequest = parse(body)?;
    let served = resolve(state, &request.model)?;
    check_draining(state)?;
    let engine = generator(&served)?;
    let template = match &served.backend {
        Backend::Generate { template, .. } => template,
        Backend::Embed(_) => return Err(ApiError::internal("unreachable: embedding backend")),
    };
    let template = match template {
        Template::Ready(t) => t,
        Template::Missing => {
            return Err(ApiError::invalid(
                format!(
                    "`{}` has no chat template; use /v1/completions with your own prompt",
                    served.id()
                ),
                Some("model"),
            ));
        }
        Template::Flagged(why) => {
            return Err(ApiError::invalid(
                format!(
                    "the chat template of `{}` was flagged by the scan and is never rendered: {why}",
                    served.id()
                ),
                Some("model"),
            ));
        }
        Template::Broken(why) => {
            return Err(ApiError::invalid(
                format!(
                    "the chat template of `{}` does not compile: {why}",
                    served.id()
                ),
                Some("model"),
            ));
        }
    };
    if request.messages.is_empty() {
        return Err(ApiError::invalid("`messages` is empty", Some("messages")));
    }
    let info = engine.info();
    let input = modelgate_chat::RenderInput {
        messages: request.messages.clone(),
        add_generation_prompt: true,
        bos_token: info.bos_token.clone(),
        eos_token: info.eos_token.clone(),
        tools: request.tools.clone(),
        extra: request.chat_template_kwargs.clone().unwrap_or_default(),
    };
    let prompt = template.render(&input).map_err(|e| {
        ApiError::invalid(
            format!("the model's chat template refused these messages: {e}"),
            Some("messages"),
        )
    })?;
    let tokens = engine.tokenize(&prompt, true);
    let logprobs = if request.logprobs {
        Some(request.top_logprobs.unwrap_or(0))
    } else {
        None
    };
    let generate = request.sampling.to_request(tokens, logprobs)?;
    let id = format!(
        "chatcmpl-{}",
        request_id(headers).trim_start_matches("req-")
    );
    let model = served.id();
    let stream = request.sampling.stream;
    let include_usage = request.sampling.include_usage();
    let generation = engine.generate(generate)?;
    let response = if stream {
        stream_chat(generation, id, model, include_usage, request.logprobs)
    } else {
        let collected = collect(generation).await?;
        let logprobs = if request.logprobs {
            json!({"content": chat_logprobs(&collected.logprobs)})
        } else {
            Value::Null
        };
        axum::Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": now(),
            "model": model,
            "system_fingerprint": fingerprint(),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": collected.text, "refusal": null},
                "logprobs": logprobs,
                "finish_reason": collected.reason.as_str(),
            }],
            "usage": usage_json(collected.usage),
        }))
        .into_response()
    };
    Ok(mark(&served, response))
}

fn fingerprint() -> String {
    concat!("modelgate-", env!("CARGO_PKG_VERSION")).to_owned()
}

struct Collected {
    text: String,
    logprobs: Vec<TokenLogprob>,
    reason: FinishReason,
    usage: Usage,
}

async fn collect(mut generation: modelgate_engine::Generation) -> Result<Collected, ApiError> {
    let mut text = String::new();
    let mut logprobs = Vec::new();
    while let Some(event) = generation.next().await {
        match event {
            Event::Delta {
                text: t,
                logprobs: l,
            } => {
                text.push_str(&t);
                logprobs.extend(l);
            }
            Event::Finished { reason, usage } => {
                return Ok(Collected {
                    text,
                    logprobs,
                    reason,
                    usage,
                });
            }
            Event::Failed(e) => return Err(ApiError::from(e)),
        }
    }
    Err(ApiError::internal(
        "the engine ended the generation without finishing it",
    ))
}

fn stream_chat(
    mut generation: modelgate_engine::Generation,
    id: String,
    model: String,
    include_usage: bool,
    with_logprobs: bool,
) -> Response {
    let (tx, response) = sse::channel();
    let created = now();
    tokio::spawn(async move {
        let chunk = |delta: Value, logprobs: Value, finish: Value| {
            let mut c = json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": fingerprint(),
                "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
            });
            if include_usage && let Some(map) = c.as_object_mut() {
                map.insert("usage".into(), Value::Null);
            }
            c
        };
        if !tx
            .data(&chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
                Value::Null,
            ))
            .await
        {
            return;
        }
        loop {
            let event = tokio::select! {
                event = generation.next() => event,
                () = tx.closed() => return, // client gone: dropping the generation frees its slot
            };
            match event {
                Some(Event::Delta { text, logprobs }) => {
                    let lp = if with_logprobs {
                        json!({"content": chat_logprobs(&logprobs)})
                    } else {
                        Value::Null
                    };
                    if !tx
                        .data(&chunk(json!({"content": text}), lp, Value::Null))
                        .await
                    {
                        return;
                    }
                }
                Some(Event::Finished { reason, usage }) => {
                    if !tx
                        .data(&chunk(json!({}), Value::Null, json!(reason.as_str())))
                        .await
                    {
                        return;
                    }
                    if include_usage {
                        let last = json!({
                            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                            "system_fingerprint": fingerprint(),
                            "choices": [], "usage": usage_json(usage),
                        });
                        if !tx.data(&last).await {
                            return;
                        }
                    }
                    tx.done().await;
                    return;
                }
                Some(Event::Failed(e)) => {
                    let _ = tx.data(&ApiError::from(e).body()).await;
                    return;
                }
                None => {
                    let _ = tx
                        .data(&ApiError::internal("the engine stopped mid-stream").body())
                        .await;
                    return;
                }
            }
        }
    });
    response
}

// ---------------------------------------------------------------- completions

/// `POST /v1/completions`.
pub(crate) async fn completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match completions_inner(&state, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn completion_logprobs(items: &[TokenLogprob], start_offset: usize) -> Value {
    let mut offset = start_offset;
    let mut offsets = Vec::with_capacity(items.len());
    for t in items {
        offsets.push(offset);
        offset += t.token.len();
    }
    json!({
        "tokens": items.iter().map(|t| t.token.clone()).collect::<Vec<_>>(),
        "token_logprobs": items.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": items.iter().map(|t| {
            t.top.iter().map(|a| (a.token.clone(), json!(a.logprob))).collect::<serde_json::Map<_, _>>()
        }).collect::<Vec<_>>(),
        "text_offset": offsets,
    })
}

async fn completions_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let request: CompletionRequest = parse(body)?;
    let served = resolve(state, &request.model)?;
    check_draining(state)?;
    let engine = generator(&served)?;
    if request.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid(
            "`suffix` (fill-in-the-middle) is not supported",
            Some("suffix"),
        ));
    }
    let prompts: Vec<Vec<u32>> = match &request.prompt {
        Prompt::Text(text) => vec![engine.tokenize(text, true)],
        Prompt::Texts(texts) => texts.iter().map(|t| engine.tokenize(t, true)).collect(),
        Prompt::Tokens(tokens) => vec![tokens.clone()],
        Prompt::TokenLists(lists) => lists.clone(),
    };
    if prompts.is_empty() || prompts.len() > 32 {
        return Err(ApiError::invalid(
            "`prompt` must hold 1 to 32 prompts",
            Some("prompt"),
        ));
    }
    if request.sampling.stream && prompts.len() > 1 {
        return Err(ApiError::invalid(
            "streaming takes one prompt per request",
            Some("prompt"),
        ));
    }
    let id = format!("cmpl-{}", request_id(headers).trim_start_matches("req-"));
    let model = served.id();
    let mut generations = Vec::with_capacity(prompts.len());
    let mut echoes = Vec::with_capacity(prompts.len());
    for prompt in prompts {
        echoes.push(if request.echo {
            engine.detokenize(&prompt)
        } else {
            String::new()
        });
        let generate: GenerateRequest = request.sampling.to_request(prompt, request.logprobs)?;
        generations.push(engine.generate(generate)?);
    }
    if request.sampling.stream {
        let generation = generations
            .pop()
            .ok_or_else(|| ApiError::internal("no generation"))?;
        let echo = echoes.pop().unwrap_or_default();
        return Ok(mark(
            &served,
            stream_completion(
                generation,
                id,
                model,
                request.sampling.include_usage(),
                echo,
                request.logprobs.is_some(),
            ),
        ));
    }
    let mut choices = Vec::new();
    let mut usage = Usage::default();
    for (index, (generation, echo)) in generations.into_iter().zip(echoes).enumerate() {
        let collected = collect(generation).await?;
        usage.prompt_tokens += collected.usage.prompt_tokens;
        usage.completion_tokens += collected.usage.completion_tokens;
        let logprobs = if request.logprobs.is_some() {
            completion_logprobs(&collected.logprobs, echo.len())
        } else {
            Value::Null
        };
        choices.push(json!({
            "index": index,
            "text": format!("{echo}{}", collected.text),
            "logprobs": logprobs,
            "finish_reason": collected.reason.as_str(),
        }));
    }
    let response = axum::Json(json!({
        "id": id, "object": "text_completion", "created": now(), "model": model,
        "system_fingerprint": fingerprint(),
        "choices": choices, "usage": usage_json(usage),
    }))
    .into_response();
    Ok(mark(&served, response))
}

fn stream_completion(
    mut generation: modelgate_engine::Generation,
    id: String,
    model: String,
    include_usage: bool,
    echo: String,
    with_logprobs: bool,
) -> Response {
    let (tx, response) = sse::channel();
    let created = now();
    tokio::spawn(async move {
        let chunk = |text: &str, logprobs: Value, finish: Value| {
            let mut c = json!({
                "id": id, "object": "text_completion", "created": created, "model": model,
                "system_fingerprint": fingerprint(),
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}],
            });
            if include_usage && let Some(map) = c.as_object_mut() {
                map.insert("usage".into(), Value::Null);
            }
            c
        };
        if !echo.is_empty() && !tx.data(&chunk(&echo, Value::Null, Value::Null)).await {
            return;
        }
        loop {
            let event = tokio::select! {
                event = generation.next() => event,
                () = tx.closed() => return,
            };
            match event {
                Some(Event::Delta { text, logprobs }) => {
                    let lp = if with_logprobs {
                        completion_logprobs(&logprobs, 0)
                    } else {
                        Value::Null
                    };
                    if !tx.data(&chunk(&text, lp, Value::Null)).await {
                        return;
                    }
                }
                Some(Event::Finished { reason, usage }) => {
                    if !tx
                        .data(&chunk("", Value::Null, json!(reason.as_str())))
                        .await
                    {
                        return;
                    }
                    if include_usage {
                        let last = json!({
                            "id": id, "object": "text_completion", "created": created, "model": model,
                            "choices": [], "usage": usage_json(usage),
                        });
                        if !tx.data(&last).await {
                            return;
                        }
                    }
                    tx.done().await;
                    return;
                }
                Some(Event::Failed(e)) => {
                    let _ = tx.data(&ApiError::from(e).body()).await;
                    return;
                }
                None => {
                    let _ = tx
                        .data(&ApiError::internal("the engine stopped mid-stream").body())
                        .await;
                    return;
                }
            }
        }
    });
    response
}

// ---------------------------------------------------------------- embeddings

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match embeddings_inner(&state, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn embeddings_inner(state: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let request: EmbeddingRequest = parse(body)?;
    let served = resolve(state, &request.model)?;
    check_draining(state)?;
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("`encoding_format` is `{other}`; use `float` or `base64`"),
                Some("encoding_format"),
            ));
        }
    };
    let inputs: Vec<Input> = match request.input {
        Prompt::Text(t) => vec![Input::Text(t)],
        Prompt::Texts(t) => t.into_iter().map(Input::Text).collect(),
        Prompt::Tokens(t) => vec![Input::Tokens(t)],
        Prompt::TokenLists(t) => t.into_iter().map(Input::Tokens).collect(),
    };
    if inputs.is_empty() || inputs.len() > 2048 {
        return Err(ApiError::invalid(
            "`input` must hold 1 to 2048 inputs",
            Some("input"),
        ));
    }
    let (vectors, tokens): (Vec<Vec<f32>>, usize) = match &served.backend {
        Backend::Generate { .. } => {
            return Err(ApiError::invalid(
                format!(
                    "`{}` is a generation model; embeddings come from embedding models",
                    served.id()
                ),
                Some("model"),
            ));
        }
        Backend::Embed(Embedder::Llama(engine)) => {
            let token_lists: Vec<Vec<u32>> = inputs
                .into_iter()
                .map(|i| match i {
                    Input::Text(t) => engine.tokenize(&t, true),
                    Input::Tokens(t) => t,
                })
                .collect();
            let tokens = token_lists.iter().map(Vec::len).sum();
            (engine.embed(token_lists).await?, tokens)
        }
        Backend::Embed(Embedder::Sentence(_)) => {
            let worker = Arc::clone(&served);
            tokio::task::spawn_blocking(move || encode_sentences(&worker, &inputs))
                .await
                .map_err(|e| ApiError::internal(format!("the embedding task failed: {e}")))??
        }
    };
    if let Some(d) = request.dimensions
        && vectors.first().is_some_and(|v| v.len() != d as usize)
    {
        return Err(ApiError::invalid(
            format!(
                "`dimensions` is {d}, but `{}` gives {} and cannot shorten them",
                served.id(),
                vectors.first().map_or(0, Vec::len)
            ),
            Some("dimensions"),
        ));
    }
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let response = axum::Json(json!({
        "object": "list",
        "data": data,
        "model": served.id(),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response();
    Ok(mark(&served, response))
}

/// An input to embed, owned (the request's body is gone by the time a
/// blocking task runs).
enum Input {
    Text(String),
    Tokens(Vec<u32>),
}

fn encode_sentences(served: &Served, inputs: &[Input]) -> Result<(Vec<Vec<f32>>, usize), ApiError> {
    let Backend::Embed(Embedder::Sentence(encoder)) = &served.backend else {
        return Err(ApiError::internal(
            "the model's backend is not a sentence encoder",
        ));
    };
    let borrowed: Vec<modelgate_embed::EmbedInput<'_>> = inputs
        .iter()
        .map(|i| match i {
            Input::Text(t) => modelgate_embed::EmbedInput::Text(t),
            Input::Tokens(t) => modelgate_embed::EmbedInput::Tokens(t),
        })
        .collect();
    let embeddings = encoder
        .encode(&borrowed)
        .map_err(|e| ApiError::invalid(e.to_string(), Some("input")))?;
    let tokens = embeddings.total_tokens();
    Ok((
        embeddings.items.into_iter().map(|e| e.vector).collect(),
        tokens,
    ))
}
