//! Small HTTP servers on 127.0.0.1 that answer the way OpenAI's and
//! Anthropic's APIs do, recording what they receive.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request};
use axum::response::Response;
use futures_util::StreamExt;
use modelgate_upstream::{
    Call, Chunk, Provider, ProviderConfig, ProviderKind, Reply, UpstreamError,
};
use serde_json::Value;

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Respond = dyn Fn(&Seen) -> Response + Send + Sync;

/// A running mock server.
pub struct Mock {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    /// Serves every request with `respond`.
    pub async fn start(respond: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> Mock {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let respond: Arc<Respond> = Arc::new(respond);
        let record = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let record = Arc::clone(&record);
            let respond = Arc::clone(&respond);
            async move {
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let seen = Seen {
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                };
                let response = respond(&seen);
                record.lock().expect("mock lock").push(seen);
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("mock lock").clone()
    }
}

/// A JSON response.
pub fn json(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("response")
}

/// How an SSE body ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The body ends normally.
    Clean,
    /// The connection is broken after the last piece has been sent.
    Cut,
    /// The server stops sending but keeps the connection open.
    Stall,
}

/// An SSE response sending `pieces` as separate writes.
pub fn sse(pieces: Vec<Vec<u8>>, ending: Ending) -> Response {
    let body = futures_util::stream::iter(
        pieces
            .into_iter()
            .map(|piece| Ok::<_, std::io::Error>(Bytes::from(piece))),
    );
    let tail = futures_util::stream::once(async move {
        match ending {
            Ending::Clean => None,
            Ending::Cut => {
                // Let the pieces reach the client before the cut.
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some(Err(std::io::Error::other("connection cut by the mock")))
            }
            Ending::Stall => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                None
            }
        }
    })
    .filter_map(|item| async move { item });
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body.chain(tail)))
        .expect("response")
}

/// An SSE body from `text` in one write per event (split at blank lines).
pub fn sse_by_event(text: &str, ending: Ending) -> Response {
    let pieces = text
        .split_inclusive("\n\n")
        .map(|piece| piece.as_bytes().to_vec())
        .collect();
    sse(pieces, ending)
}

/// An SSE body from `text`, one byte per write.
pub fn sse_by_byte(text: &str) -> Response {
    sse(text.bytes().map(|b| vec![b]).collect(), Ending::Clean)
}

/// A provider for `base_url` with `TEST_KEY` as its key.
pub fn provider(
    kind: ProviderKind,
    base_url: &str,
    adjust: impl FnOnce(&mut ProviderConfig),
) -> Provider {
    let mut config = ProviderConfig::new("mock", kind, base_url);
    config.api_key_env = Some("TEST_KEY".into());
    adjust(&mut config);
    Provider::new(config, |name| {
        (name == "TEST_KEY").then(|| "sk-test-secret".to_owned())
    })
    .expect("provider")
}

pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

pub fn call(within: Duration) -> Call {
    Call {
        deadline: Instant::now() + within,
        request_id: "req-7f3a".into(),
        traceparent: Some(TRACEPARENT.into()),
    }
}

/// Every item of a streamed reply, within ten seconds.
pub async fn collect(reply: Reply) -> Vec<Result<Chunk, UpstreamError>> {
    let Reply::Stream(mut stream) = reply else {
        panic!("expected a stream, got {reply:?}");
    };
    let all = async {
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item);
        }
        items
    };
    tokio::time::timeout(Duration::from_secs(10), all)
        .await
        .expect("the stream ended within ten seconds")
}
