//! Server-sent events: OpenAI's `data: {json}\n\n` frames ending in
//! `data: [DONE]`, or in an error frame when the stream fails midway (so a
//! client can tell a cut stream from a finished one).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

/// The sending half of an event stream.
#[derive(Debug, Clone)]
pub(crate) struct SseSender {
    tx: mpsc::Sender<Bytes>,
}

impl SseSender {
    /// Sends one JSON frame; `false` when the client has gone.
    pub(crate) async fn data(&self, value: &serde_json::Value) -> bool {
        let frame = format!("data: {value}\n\n");
        self.tx.send(Bytes::from(frame)).await.is_ok()
    }

    /// Ends the stream normally.
    pub(crate) async fn done(&self) {
        let _ = self.tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    }

    /// Resolves when the client has gone.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// A streaming response and the sender that feeds it.
pub(crate) fn channel() -> (SseSender, Response) {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|frame| (Ok::<_, Infallible>(frame), rx))
    });
    let response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response();
    (SseSender { tx }, response)
}
