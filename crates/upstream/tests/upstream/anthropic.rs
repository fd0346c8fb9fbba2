//! Anthropic's Messages API behind the OpenAI-shaped interface.

use std::time::Duration;

use modelgate_upstream::{Chunk, ProviderKind, Reply, UpstreamError, Usage};
use serde_json::{Value, json};

use crate::mock::{self, Ending, Mock};

fn message() -> Value {
    json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 11, "service_tier": "standard"}
    })
}

/// A streamed reply with text and a tool call, as the Messages API sends it.
const STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, let me check\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" the weather.\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisco, CA\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

/// The OpenAI chunks `STREAM` must become: each chunk's choice delta and
/// finish reason, then the usage chunk.
fn expected_chunks() -> Vec<Value> {
    vec![
        json!({"delta": {"role": "assistant", "content": ""}, "finish_reason": null}),
        json!({"delta": {"content": "Okay, let me check"}, "finish_reason": null}),
        json!({"delta": {"content": " the weather."}, "finish_reason": null}),
        json!({"delta": {"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}),
        json!({"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}, "finish_reason": null}),
        json!({"delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"San Francisco, CA\"}"}}]}, "finish_reason": null}),
        json!({"delta": {}, "finish_reason": "tool_calls"}),
        json!({"usage": {"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561}}),
    ]
}

fn summarize(items: &[Result<Chunk, UpstreamError>]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            let chunk = item.as_ref().expect("an Ok chunk");
            assert_eq!(chunk.json["object"], "chat.completion.chunk");
            assert_eq!(chunk.json["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
            assert_eq!(chunk.json["model"], "claude-sonnet-4-5-20250929");
            match chunk.json["choices"].as_array().and_then(|c| c.first()) {
                Some(choice) => {
                    assert_eq!(chunk.usage, None);
                    json!({"delta": choice["delta"], "finish_reason": choice["finish_reason"]})
                }
                None => {
                    let usage = chunk.usage.expect("the usage chunk carries usage");
                    assert_eq!(
                        usage,
                        Usage {
                            prompt_tokens: 472,
                            completion_tokens: 89
                        }
                    );
                    json!({"usage": chunk.json["usage"]})
                }
            }
        })
        .collect()
}

fn stream_request() -> Value {
    json!({
        "model": "ignored",
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "What's the weather in San Francisco?"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
        }}],
        "stream": true,
    })
}

#[tokio::test]
async fn chat_is_translated_both_ways_with_anthropic_headers() {
    let mock = Mock::start(|_| mock::json(200, &message())).await;
    let provider = mock::provider(ProviderKind::Anthropic, &mock.url(""), |config| {
        config.default_max_tokens = 1024;
        config.anthropic_version = "2023-06-01".into();
    });
    let request = json!({
        "model": "ignored",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello, Claude"},
        ],
        "stop": ["\n\nHuman:"],
        "user": "u-1",
    });
    let reply = provider
        .chat(
            "claude-sonnet-4-5",
            &request,
            &mock::call(Duration::from_secs(5)),
        )
        .await
        .expect("reply");
    let Reply::Complete { body, usage } = reply else {
        panic!("expected a complete reply")
    };
    assert_eq!(
        usage,
        Some(Usage {
            prompt_tokens: 12,
            completion_tokens: 11
        })
    );
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["id"], "msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(body["model"], "claude-sonnet-4-5-20250929");
    assert!(body["created"].as_u64().is_some_and(|t| t > 1_700_000_000));
    assert_eq!(
        body["choices"],
        json!([{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
            "logprobs": null,
            "finish_reason": "stop",
        }])
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23})
    );

    let seen = &mock.seen()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-test-secret"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert!(seen.header("authorization").is_none());
    assert_eq!(seen.header("x-request-id"), Some("req-7f3a"));
    assert_eq!(seen.header("traceparent"), Some(mock::TRACEPARENT));
    assert_eq!(
        seen.body,
        json!({
            "model": "claude-sonnet-4-5",
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}],
            "max_tokens": 1024,
            "stop_sequences": ["\n\nHuman:"],
            "metadata": {"user_id": "u-1"},
        })
    );
}

#[tokio::test]
async fn stream_becomes_openai_chunks_with_usage() {
    let mock = Mock::start(|_| mock::sse_by_event(STREAM, Ending::Clean)).await;
    let provider = mock::provider(ProviderKind::Anthropic, &mock.url("/"), |_| {});
    let reply = provider
        .chat(
            "claude-sonnet-4-5",
            &stream_request(),
            &mock::call(Duration::from_secs(5)),
        )
        .await
        .expect("reply");
    let items = mock::collect(reply).await;
    assert_eq!(summarize(&items), expected_chunks());

    let seen = &mock.seen()[0];
    assert_eq!(seen.body["stream"], true);
    assert_eq!(seen.body["max_tokens"], 4096);
    assert!(seen.body.get("stream_options").is_none());
    assert_eq!(seen.body["system"], "You are a weather bot.");
    assert_eq!(seen.body["tools"][0]["name"], "get_weather");
    assert_eq!(
        seen.body["tools"][0]["input_schema"]["required"],
        json!(["location"])
    );
}

#[tokio::test]
async fn stream_one_byte_per_write_gives_the_same_chunks() {
    let mock = Mock::start(|_| mock::sse_by_byte(STREAM)).await;
    let provider = mock::provider(ProviderKind::Anthropic, &mock.url(""), |_| {});
    let reply = provider
        .chat(
            "claude-sonnet-4-5",
            &stream_request(),
            &mock::call(Duration::from_secs(5)),
        )
        .await
        .expect("reply");
    assert_eq!(summarize(&mock::collect(reply).await), expected_chunks());
}

#[tokio::test]
async fn error_event_mid_stream_is_the_last_item() {
    let cut_at = STREAM.find("event: content_block_stop").expect("marker");
    let text = format!(
        "{}event: error\ndata: {{\"type\": \"error\", \"error\": {{\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}}}\n\n",
        &STREAM[..cut_at]
    );
    let mock = Mock::start(move |_| mock::sse_by_event(&text, Ending::Clean)).await;
    let provider = mock::provider(ProviderKind::Anthropic, &mock.url(""), |_| {});
    let reply = provider
        .chat(
            "claude-sonnet-4-5",
            &stream_request(),
            &mock::call(Duration::from_secs(5)),
        )
        .await
        .expect("reply");
    let mut items = mock::collect(reply).await;
    let last = items.pop().expect("items");
    assert!(
        matches!(&last, Err(UpstreamError::StreamError { kind, message, .. }) if kind == "overloaded_error" && message == "Overloaded"),
        "{last:?}"
    );
    assert_eq!(summarize(&items), expected_chunks()[..3].to_vec());
}

#[tokio::test]
async fn unsupported_requests_are_refused_before_sending() {
    let mock = Mock::start(|_| mock::json(200, &message())).await;
    let provider = mock::provider(ProviderKind::Anthropic, &mock.url(""), |_| {});
    let call = mock::call(Duration::from_secs(5));
    let request = json!({"messages": [{"role": "user", "content": "Hi"}], "n": 3});
    let error = provider
        .chat("c", &request, &call)
        .await
        .expect_err("n > 1");
    assert!(
        matches!(error, UpstreamError::Unsupported { what: "n > 1", .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("provider mock"), "{error}");

    let request = json!({
        "messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    });
    let error = provider
        .chat("c", &request, &call)
        .await
        .expect_err("json_schema");
    assert!(matches!(
        error,
        UpstreamError::Unsupported {
            what: "response_format json_schema",
            ..
        }
    ));

    let error = provider
        .embeddings("c", &json!({"input": "x"}), &call)
        .await
        .expect_err("embeddings");
    assert!(matches!(
        error,
        UpstreamError::Unsupported {
            what: "embeddings",
            ..
        }
    ));
    assert!(mock.seen().is_empty(), "nothing was sent");
}
