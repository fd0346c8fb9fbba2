//! Failures: statuses, refused connections, silence, cuts and hostile
//! streams, each ending in the error the gateway decides fallback on.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use modelgate_upstream::{Provider, ProviderKind, UpstreamError};
use serde_json::{Value, json};

use crate::mock::{self, Ending, Mock};

fn request(stream: bool) -> Value {
    json!({"messages": [{"role": "user", "content": "Hi"}], "stream": stream})
}

const OPENAI_CHUNK: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";

async fn chat_error(provider: &Provider, within: Duration) -> UpstreamError {
    provider
        .chat("m", &request(false), &mock::call(within))
        .await
        .expect_err("an error")
}

#[tokio::test]
async fn rate_limit_carries_retry_after_ms_and_message() {
    let mock = Mock::start(|_| {
        Response::builder()
            .status(429)
            .header("content-type", "application/json")
            .header("retry-after-ms", "1500")
            .header("retry-after", "2")
            .body(Body::from(
                json!({"error": {
                    "message": "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 30000, Requested 120.",
                    "type": "tokens", "param": null, "code": "rate_limit_exceeded"
                }})
                .to_string(),
            ))
            .expect("response")
    })
    .await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let error = chat_error(&provider, Duration::from_secs(5)).await;
    match &error {
        UpstreamError::Status {
            provider,
            status,
            retry_after,
            message,
        } => {
            assert_eq!(provider, "mock");
            assert_eq!(*status, 429);
            assert_eq!(*retry_after, Some(Duration::from_millis(1500)));
            assert!(
                message.starts_with("Rate limit reached for gpt-4o"),
                "{message}"
            );
        }
        other => panic!("expected Status, got {other:?}"),
    }
    assert!(error.may_fall_back());
}

#[tokio::test]
async fn server_errors_fall_back_client_errors_do_not() {
    let mock = Mock::start(|seen| {
        let status = if seen.body["model"] == "broken" { 500 } else { 400 };
        mock::json(status, &json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}))
    })
    .await;
    let provider = mock::provider(ProviderKind::Anthropic, &mock.url(""), |_| {});
    let call = mock::call(Duration::from_secs(5));
    let error = provider
        .chat("broken", &request(false), &call)
        .await
        .expect_err("500");
    assert!(
        matches!(&error, UpstreamError::Status { status: 500, retry_after: None, message, .. } if message == "Internal server error"),
        "{error:?}"
    );
    assert!(error.may_fall_back());
    let error = provider
        .chat("fine", &request(false), &call)
        .await
        .expect_err("400");
    assert!(matches!(error, UpstreamError::Status { status: 400, .. }));
    assert!(!error.may_fall_back());
}

#[tokio::test]
async fn long_plain_error_body_is_truncated() {
    let mock = Mock::start(|_| {
        Response::builder()
            .status(503)
            .body(Body::from("x".repeat(200_000)))
            .expect("response")
    })
    .await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    match chat_error(&provider, Duration::from_secs(5)).await {
        UpstreamError::Status {
            status: 503,
            message,
            ..
        } => {
            assert_eq!(
                message.chars().count(),
                modelgate_upstream::MAX_MESSAGE_CHARS + 1
            )
        }
        other => panic!("expected Status 503, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_connection_is_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let provider = mock::provider(ProviderKind::Openai, &format!("http://{addr}/v1"), |_| {});
    let error = chat_error(&provider, Duration::from_secs(5)).await;
    assert!(matches!(error, UpstreamError::Connect { .. }), "{error:?}");
    assert!(error.may_fall_back());
    assert!(!error.to_string().contains("sk-test-secret"));
}

/// A server that accepts connections and never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (format!("http://{addr}/v1"), task)
}

#[tokio::test]
async fn silence_times_out_by_the_deadline() {
    let (url, _server) = silent_server().await;
    let provider = mock::provider(ProviderKind::Openai, &url, |_| {});
    let started = Instant::now();
    let error = chat_error(&provider, Duration::from_millis(300)).await;
    let waited = started.elapsed();
    assert!(matches!(error, UpstreamError::Timeout { .. }), "{error:?}");
    assert!(error.may_fall_back());
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn silence_times_out_by_the_provider_timeout() {
    let (url, _server) = silent_server().await;
    let provider = mock::provider(ProviderKind::Anthropic, &url, |config| {
        config.timeout_ms = 200
    });
    let started = Instant::now();
    let error = chat_error(&provider, Duration::from_secs(30)).await;
    assert!(matches!(error, UpstreamError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn past_deadline_sends_nothing() {
    let mock = Mock::start(|_| mock::json(200, &json!({}))).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let mut call = mock::call(Duration::ZERO);
    call.deadline = Instant::now() - Duration::from_millis(1);
    let error = provider
        .chat("m", &request(false), &call)
        .await
        .expect_err("late");
    assert!(matches!(error, UpstreamError::Timeout { .. }));
    assert!(mock.seen().is_empty());
}

async fn stream_items(
    respond: impl Fn(&crate::mock::Seen) -> Response + Send + Sync + 'static,
    kind: ProviderKind,
    within: Duration,
) -> Vec<Result<modelgate_upstream::Chunk, UpstreamError>> {
    let mock = Mock::start(respond).await;
    let provider = mock::provider(kind, &mock.url("/v1"), |_| {});
    let reply = provider
        .chat("m", &request(true), &mock::call(within))
        .await
        .expect("stream reply");
    mock::collect(reply).await
}

fn assert_chunks_then(
    items: &[Result<modelgate_upstream::Chunk, UpstreamError>],
    n_chunks: usize,
) -> &UpstreamError {
    assert_eq!(items.len(), n_chunks + 1, "{items:?}");
    assert!(items[..n_chunks].iter().all(Result::is_ok), "{items:?}");
    items[n_chunks]
        .as_ref()
        .expect_err("the last item is an error")
}

#[tokio::test]
async fn cut_stream_ends_with_cut() {
    let items = stream_items(
        |_| {
            mock::sse(
                vec![
                    OPENAI_CHUNK.as_bytes().to_vec(),
                    OPENAI_CHUNK.as_bytes().to_vec(),
                ],
                Ending::Cut,
            )
        },
        ProviderKind::Openai,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 2);
    assert!(matches!(error, UpstreamError::Cut { .. }), "{error:?}");
}

#[tokio::test]
async fn stream_closed_without_done_is_cut() {
    let items = stream_items(
        |_| mock::sse(vec![OPENAI_CHUNK.as_bytes().to_vec()], Ending::Clean),
        ProviderKind::Openai,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 1);
    assert!(
        matches!(error, UpstreamError::Cut { source: None, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn anthropic_stream_closed_before_message_stop_is_cut() {
    let text = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
    );
    let items = stream_items(
        move |_| mock::sse_by_event(text, Ending::Clean),
        ProviderKind::Anthropic,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 2);
    assert!(matches!(error, UpstreamError::Cut { .. }), "{error:?}");
}

#[tokio::test]
async fn stalled_stream_ends_with_timeout_at_the_deadline() {
    let started = Instant::now();
    let items = stream_items(
        |_| mock::sse(vec![OPENAI_CHUNK.as_bytes().to_vec()], Ending::Stall),
        ProviderKind::Openai,
        Duration::from_millis(500),
    )
    .await;
    let error = assert_chunks_then(&items, 1);
    assert!(matches!(error, UpstreamError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn oversized_event_is_a_protocol_error() {
    // 1 MiB of data in lines of 64 KiB: no single line is over the cap.
    let line = format!("data: {}\n", "a".repeat(64 << 10));
    let mut pieces = vec![OPENAI_CHUNK.as_bytes().to_vec()];
    pieces.extend(std::iter::repeat_n(line.into_bytes(), 17));
    pieces.push(b"\n".to_vec());
    pieces.push(b"data: [DONE]\n\n".to_vec());
    let items = stream_items(
        move |_| mock::sse(pieces.clone(), Ending::Clean),
        ProviderKind::Openai,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 1);
    assert!(
        matches!(error, UpstreamError::Protocol { detail, .. } if detail.contains("larger than 1048576 bytes")),
        "{error:?}"
    );
}

#[tokio::test]
async fn overlong_line_is_a_protocol_error() {
    let pieces = vec![
        b"data: ".to_vec(),
        vec![b'a'; (1 << 20) + 1],
        b"\n\n".to_vec(),
    ];
    let items = stream_items(
        move |_| mock::sse(pieces.clone(), Ending::Clean),
        ProviderKind::Anthropic,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 0);
    assert!(
        matches!(error, UpstreamError::Protocol { detail, .. } if detail.contains("longer than 1048576 bytes")),
        "{error:?}"
    );
}

#[tokio::test]
async fn malformed_event_is_a_protocol_error() {
    let pieces = vec![
        OPENAI_CHUNK.as_bytes().to_vec(),
        b"data: {\"choices\": [\n\n".to_vec(),
        b"data: [DONE]\n\n".to_vec(),
    ];
    let items = stream_items(
        move |_| mock::sse(pieces.clone(), Ending::Clean),
        ProviderKind::Openai,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 1);
    assert!(matches!(error, UpstreamError::Protocol { .. }), "{error:?}");
}

#[tokio::test]
async fn openai_error_chunk_is_a_stream_error() {
    let pieces = vec![
        OPENAI_CHUNK.as_bytes().to_vec(),
        b"data: {\"error\": {\"message\": \"The server had an error while processing your request.\", \"type\": \"server_error\"}}\n\n".to_vec(),
    ];
    let items = stream_items(
        move |_| mock::sse(pieces.clone(), Ending::Clean),
        ProviderKind::Openai,
        Duration::from_secs(5),
    )
    .await;
    let error = assert_chunks_then(&items, 1);
    assert!(
        matches!(error, UpstreamError::StreamError { kind, .. } if kind == "server_error"),
        "{error:?}"
    );
}

#[tokio::test]
async fn json_where_a_stream_was_asked_is_a_protocol_error() {
    let mock = Mock::start(|_| mock::json(200, &json!({"choices": []}))).await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let error = provider
        .chat("m", &request(true), &mock::call(Duration::from_secs(5)))
        .await
        .expect_err("not SSE");
    assert!(matches!(error, UpstreamError::Protocol { .. }), "{error:?}");
}

#[tokio::test]
async fn non_json_body_is_a_protocol_error() {
    let mock = Mock::start(|_| {
        Response::builder()
            .status(200)
            .body(Body::from("<html>hi</html>"))
            .expect("response")
    })
    .await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let error = chat_error(&provider, Duration::from_secs(5)).await;
    assert!(matches!(error, UpstreamError::Protocol { .. }), "{error:?}");
    assert!(!error.may_fall_back());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let mock = Mock::start(|_| {
        Response::builder()
            .status(307)
            .header("location", "http://127.0.0.1:9/steal")
            .body(Body::empty())
            .expect("response")
    })
    .await;
    let provider = mock::provider(ProviderKind::Openai, &mock.url("/v1"), |_| {});
    let error = chat_error(&provider, Duration::from_secs(5)).await;
    assert!(
        matches!(error, UpstreamError::Status { status: 307, .. }),
        "{error:?}"
    );
}
