//! OpenAI-compatible providers: what is sent, what comes back.

use std::time::Duration;

use modelgate_upstream::{ProviderKind, Reply, Usage};
use serde_json::{Value, json};

use crate::mock::{self, Ending, Mock};

fn completion() -> Value {
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I assist you today?", "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default"
    })
}

const STREAM: &str = concat!(
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    ": OPENROUTER PROCESSING\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
    "data: [DONE]\n\n",
);

/// What the client reads from `STREAM`: (content delta, finish reason, usage) per chunk.
fn stream_summary(
    items: &[Result<modelgate_upstream::Chunk, modelgate_upstream::UpstreamError>],
) -> Vec<(Value, Value, Option<Usage>)> {
    items
        .iter()
        .map(|item| {
            let chunk = item.as_ref().expect("an Ok chunk");
            let choice = chunk.json["choices"].get(0).cloned().unwrap_or(Value::Null);
            (
                choice["delta"]["content"].clone(),
                choice["finish_reason"].clone(),
                chunk.usage,
            )
        })
        .collect()
}

fn expected_summary() -> Vec<(Value, Value, Option<Usage>)> {
    vec![
        (json!(""), Value::Null, None),
        (json!("Hello"), Value::Null, None),
        (json!(" there"), Value::Null, None),
        (Value::Null, json!("stop"), None),
        (
            Value::Null,
            Value::Null,
            Some(Usage {
                prompt_tokens: 9,
                completion_tokens: 2,
            }),
        ),
    ]
}

#[tokio::test]
async fn chat_sends_credentials_trace_and_model_and_returns_usage() {
    let mock = Mock::start(|_| mock::json(200, &completion())).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |config| {
        config
            .headers
            .insert("OpenAI-Organization".into(), "org-modelgate".into());
    });
    let request = json!({
        "model": "client-alias",
        "messages": [{"role": "user", "content": "Hello!"}],
        "temperature": 0.3,
    });
    let reply = provider
        .chat("gpt-4.1", &request, &mock::call(Duration::from_secs(5)))
        .await
        .expect("reply");
    let Reply::Complete { body, usage } = reply else {
        panic!("expected a complete reply")
    };
    assert_eq!(body, completion());
    assert_eq!(
        usage,
        Some(Usage {
            prompt_tokens: 19,
            completion_tokens: 10
        })
    );

    let seen = mock.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-test-secret"));
    assert_eq!(seen.header("x-request-id"), Some("req-7f3a"));
    assert_eq!(seen.header("traceparent"), Some(mock::TRACEPARENT));
    assert_eq!(seen.header("openai-organization"), Some("org-modelgate"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert!(seen.header("x-api-key").is_none());
    let mut expected_body = request.clone();
    expected_body["model"] = json!("gpt-4.1");
    assert_eq!(seen.body, expected_body);
}

#[tokio::test]
async fn stream_asks_for_usage_and_ends_after_done() {
    let mock = Mock::start(|_| mock::sse_by_event(STREAM, Ending::Clean)).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1/"), |_| {});
    let request = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": true,
        "stream_options": {"some_future_option": 1},
    });
    let reply = provider
        .chat("gpt-4o-mini", &request, &mock::call(Duration::from_secs(5)))
        .await
        .expect("reply");
    let items = mock::collect(reply).await;
    assert_eq!(stream_summary(&items), expected_summary());
    let seen = &mock.seen()[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("accept"), Some("text/event-stream"));
    assert_eq!(
        seen.body["stream_options"],
        json!({"some_future_option": 1, "include_usage": true})
    );
    assert_eq!(seen.body["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn stream_one_byte_per_write_still_parses() {
    let mock = Mock::start(|_| mock::sse_by_byte(&STREAM.replace("\n", "\r\n"))).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let request = json!({"messages": [{"role": "user", "content": "Hi"}], "stream": true});
    let reply = provider
        .chat("gpt-4o-mini", &request, &mock::call(Duration::from_secs(5)))
        .await
        .expect("reply");
    let items = mock::collect(reply).await;
    assert_eq!(stream_summary(&items), expected_summary());
}

#[tokio::test]
async fn embeddings_round_trip_and_no_key_means_no_authorization() {
    let response = json!({
        "object": "list",
        "data": [{"object": "embedding", "embedding": [0.0023064255, -0.009327292, 0.015797347], "index": 0}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8}
    });
    let answer = response.clone();
    let mock = Mock::start(move |_| mock::json(200, &answer)).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |config| {
        config.api_key_env = None
    });
    let request =
        json!({"input": "The food was delicious", "model": "x", "encoding_format": "float"});
    let got = provider
        .embeddings(
            "nomic-embed-text",
            &request,
            &mock::call(Duration::from_secs(5)),
        )
        .await
        .expect("embeddings");
    assert_eq!(got, response);
    let seen = &mock.seen()[0];
    assert_eq!(seen.path, "/v1/embeddings");
    assert!(seen.header("authorization").is_none());
    assert_eq!(seen.body["model"], "nomic-embed-text");
    assert_eq!(seen.body["input"], "The food was delicious");
}

#[tokio::test]
async fn malformed_traceparent_is_not_forwarded() {
    let mock = Mock::start(|_| mock::json(200, &completion())).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let mut call = mock::call(Duration::from_secs(5));
    call.traceparent = Some("not-a-trace\r\nx-evil: 1".into());
    let request = json!({"messages": [{"role": "user", "content": "Hi"}]});
    provider.chat("m", &request, &call).await.expect("reply");
    let seen = &mock.seen()[0];
    assert!(seen.header("traceparent").is_none());
    assert!(seen.header("x-evil").is_none());
}
