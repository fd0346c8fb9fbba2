//! Traces: one span per request, exported over OTLP/HTTP when an endpoint
//! is configured, with OpenTelemetry's `gen_ai.*` attributes, and the W3C
//! `traceparent` that continues the caller's trace and is passed on to
//! upstreams.
//!
//! The exporter speaks OTLP/HTTP with the JSON encoding the OTLP
//! specification defines (`POST {endpoint}/v1/traces`,
//! `application/json`), which every OpenTelemetry Collector and most
//! backends accept. It is written here rather than taken from
//! `opentelemetry-otlp` because the gateway needs one span kind, no SDK
//! (sampling, processors, propagator registries) and no protobuf toolchain:
//! a few hundred lines instead of some forty crates in every build. Spans go
//! through a bounded queue (a full queue drops and counts, never blocks a
//! request) to one task that posts them in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

/// `[tracing]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// The OTLP/HTTP endpoint (`http://collector:4318`); none: no export.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported resource.
    #[serde(default = "default_service")]
    pub service_name: String,
}

fn default_service() -> String {
    "modelgate".into()
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            otlp_endpoint: None,
            service_name: default_service(),
        }
    }
}

/// A span's place in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    /// 16 bytes, shared by the whole trace.
    pub trace_id: [u8; 16],
    /// 8 bytes, this span's own.
    pub span_id: [u8; 8],
    /// The caller's span, when the request carried a `traceparent`.
    pub parent: Option<[u8; 8]>,
}

impl SpanContext {
    /// A new span: a child of the request's `traceparent` when it carries
    /// a valid one, else the root of a new trace.
    pub fn start(traceparent: Option<&str>) -> SpanContext {
        let mut random = [0u8; 24];
        fill_random(&mut random);
        let mut span_id = [0u8; 8];
        span_id.copy_from_slice(random.get(16..24).unwrap_or(&[1; 8]));
        if let Some((trace_id, parent)) = traceparent.and_then(parse_traceparent) {
            return SpanContext {
                trace_id,
                span_id,
                parent: Some(parent),
            };
        }
        let mut trace_id = [0u8; 16];
        trace_id.copy_from_slice(random.get(..16).unwrap_or(&[1; 16]));
        SpanContext {
            trace_id,
            span_id,
            parent: None,
        }
    }

    /// The `traceparent` that makes an upstream's spans children of this
    /// one.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", hex(&self.trace_id), hex(&self.span_id))
    }
}

fn fill_random(out: &mut [u8]) {
    if getrandom::fill(out).is_err() {
        // Ids need to be unique, not secret: fall back to the hasher's keys.
        use std::hash::{BuildHasher, RandomState};
        for chunk in out.chunks_mut(8) {
            let bytes = RandomState::new().hash_one(SystemTime::now()).to_le_bytes();
            let n = chunk.len();
            chunk.copy_from_slice(bytes.get(..n).unwrap_or(&[]));
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The trace and parent span of a W3C `traceparent` (version 00), or
/// `None` when it is malformed or all-zero.
pub fn parse_traceparent(text: &str) -> Option<([u8; 16], [u8; 8])> {
    let mut parts = text.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || flags.len() != 2 {
        return None;
    }
    let trace: [u8; 16] = unhex(trace)?;
    let span: [u8; 8] = unhex(span)?;
    if trace == [0; 16] || span == [0; 8] {
        return None;
    }
    Some((trace, span))
}

/// A finished span.
#[derive(Debug, Clone)]
pub struct Span {
    /// Where it sits.
    pub context: SpanContext,
    /// `chat smollm2`, `embeddings minilm`, …
    pub name: String,
    /// When it started.
    pub start: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Its attributes (`gen_ai.*`, `http.*`, `modelgate.*`).
    pub attributes: Vec<(&'static str, Value)>,
    /// The error, when it failed.
    pub error: Option<String>,
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn attribute(key: &str, value: &Value) -> Value {
    let any = match value {
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        Value::String(s) => json!({"stringValue": s}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": any})
}

impl Span {
    /// The span in OTLP's JSON encoding.
    pub fn to_otlp(&self) -> Value {
        let start = nanos(self.start);
        let end = start.saturating_add(u64::try_from(self.duration.as_nanos()).unwrap_or(u64::MAX));
        let mut span = json!({
            "traceId": hex(&self.context.trace_id),
            "spanId": hex(&self.context.span_id),
            "name": self.name,
            "kind": 2, // SPAN_KIND_SERVER
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": end.to_string(),
            "attributes": self.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
            "status": match &self.error {
                None => json!({"code": 1}),
                Some(message) => json!({"code": 2, "message": message}),
            },
        });
        if let (Some(parent), Some(map)) = (self.context.parent, span.as_object_mut()) {
            map.insert("parentSpanId".into(), json!(hex(&parent)));
        }
        span
    }
}

/// The request side of the exporter.
#[derive(Debug, Clone)]
pub struct Tracer {
    tx: tokio::sync::mpsc::Sender<Span>,
    dropped: Arc<AtomicU64>,
}

/// The body of one export request.
pub fn export_body(service_name: &str, spans: &[Span]) -> Value {
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [attribute("service.name", &json!(service_name))]},
            "scopeSpans": [{
                "scope": {"name": "modelgate", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans.iter().map(Span::to_otlp).collect::<Vec<_>>(),
            }],
        }],
    })
}

impl Tracer {
    /// A tracer exporting to `endpoint`, and the task that exports (spawn it
    /// on the server's runtime). `None` when no endpoint is configured.
    pub fn start(
        config: &TraceConfig,
    ) -> Option<(
        Tracer,
        impl std::future::Future<Output = ()> + Send + 'static,
    )> {
        let endpoint = config.otlp_endpoint.as_ref()?;
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let service = config.service_name.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Span>(4096);
        let exporter = async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            let mut batch = Vec::with_capacity(256);
            loop {
                let first = rx.recv().await;
                let Some(first) = first else { break };
                batch.push(first);
                let flush_at = tokio::time::Instant::now() + Duration::from_millis(500);
                while batch.len() < 256 {
                    match tokio::time::timeout_at(flush_at, rx.recv()).await {
                        Ok(Some(span)) => batch.push(span),
                        Ok(None) | Err(_) => break,
                    }
                }
                let body = export_body(&service, &batch);
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), url, spans = batch.len(), "the OTLP endpoint refused spans")
                    }
                    Err(error) => {
                        tracing::warn!(%error, url, spans = batch.len(), "cannot reach the OTLP endpoint; spans dropped")
                    }
                }
                batch.clear();
            }
        };
        Some((
            Tracer {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            exporter,
        ))
    }

    /// Queues a finished span; a full queue drops it (counted).
    pub fn record(&self, span: Span) {
        if self.tx.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_continued_or_a_new_trace_begins() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let span = SpanContext::start(Some(incoming));
        assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            span.parent.map(|p| hex(&p)).as_deref(),
            Some("00f067aa0ba902b7")
        );
        let out = span.traceparent();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert_ne!(&out[36..52], "00f067aa0ba902b7");
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
            assert!(SpanContext::start(Some(bad)).parent.is_none());
        }
        let a = SpanContext::start(None);
        let b = SpanContext::start(None);
        assert_ne!(a.trace_id, b.trace_id);
    }

    #[test]
    fn spans_are_encoded_as_otlp_json() {
        let span = Span {
            context: SpanContext::start(Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )),
            name: "chat smollm2".into(),
            start: UNIX_EPOCH + Duration::from_secs(1),
            duration: Duration::from_millis(2),
            attributes: vec![
                ("gen_ai.usage.input_tokens", json!(12)),
                ("gen_ai.request.model", json!("smollm2")),
                ("modelgate.cost_usd", json!(0.5)),
            ],
            error: Some("upstream failed".into()),
        };
        let body = export_body("modelgate", &[span]);
        let s = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["startTimeUnixNano"], "1000000000");
        assert_eq!(s["endTimeUnixNano"], "1002000000");
        assert_eq!(s["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(s["attributes"][0]["value"]["intValue"], "12");
        assert_eq!(s["attributes"][1]["value"]["stringValue"], "smollm2");
        assert_eq!(s["attributes"][2]["value"]["doubleValue"], 0.5);
        assert_eq!(s["status"]["code"], 2);
    }
}
