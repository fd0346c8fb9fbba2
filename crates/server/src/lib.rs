//! modelgate's HTTP server: the OpenAI-compatible API over the versions a
//! [`Catalog`] serves.
//!
//! [`router`] builds the axum application: `/v1/chat/completions`,
//! `/v1/completions`, `/v1/embeddings`, `/v1/models`, `/health`, `/ready`,
//! inside a tower stack (request ids, body limits, body read timeouts), and
//! behind the gateway (`gate`: keys, team grants, data classes, rate limits
//! and budgets, routes to local versions and upstream providers with
//! fallback, masking, usage records and `/metrics`). The
//! server knows the engines only through `modelgate-serving`'s [`Catalog`]
//! and the engine's request types, and the upstreams only through
//! `modelgate-upstream`; it never touches llama.cpp or the inventory's
//! files.

mod error;
mod gate;
mod generate;
mod models;
mod openai;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use modelgate_gateway::Gateway;
use modelgate_serving::Catalog;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use error::ApiError;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted (413 above it).
    pub body_limit: usize,
    /// Longest a client may take to send its body.
    pub body_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: 8 << 20,
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The loaded versions.
    pub catalog: Arc<Catalog>,
    /// Whether loading is done (`/ready`).
    pub ready: AtomicBool,
    /// Whether the server is draining (new generations get 503).
    pub draining: AtomicBool,
    /// Keys, limits, routes, masking, usage and metrics; `None` serves
    /// without them (tests of the API alone).
    pub gateway: Option<Arc<Gateway>>,
}

impl AppState {
    /// State over `catalog`, not yet ready.
    pub fn new(catalog: Arc<Catalog>) -> Arc<AppState> {
        AppState::with_gateway(catalog, None)
    }

    /// State over `catalog` behind `gateway`, not yet ready.
    pub fn with_gateway(catalog: Arc<Catalog>, gateway: Option<Arc<Gateway>>) -> Arc<AppState> {
        Arc::new(AppState {
            catalog,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            gateway,
        })
    }

    /// Marks loading as done.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: the client's `x-request-id` when it sends a sane one, else a
/// new one (`req-` and 24 hex digits).
#[derive(Debug, Clone, Default)]
struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&new_id("req"))
            .ok()
            .map(RequestId::new)
    }
}

/// A new random id with `prefix`.
pub(crate) fn new_id(prefix: &str) -> String {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(std::time::SystemTime::now());
    let b = RandomState::new().hash_one(a);
    format!("{prefix}-{a:016x}{:08x}", b as u32)
}

/// The API's router with its tower stack.
pub fn router(state: Arc<AppState>, config: &ServerConfig) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(generate::chat))
        .route("/v1/completions", post(generate::completions))
        .route("/v1/embeddings", post(generate::embeddings))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::one))
        .route_layer(axum::middleware::from_fn_with_state(
            gate::GateState {
                app: Arc::clone(&state),
                body_limit: config.body_limit,
            },
            gate::gate,
        ))
        .route("/metrics", get(gate::metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .fallback(not_found)
        .with_state(state);
    api.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeId))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(RequestBodyTimeoutLayer::new(config.body_timeout))
            .layer(DefaultBodyLimit::max(config.body_limit)),
    )
}

async fn health() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::SeqCst) && !state.draining.load(Ordering::SeqCst) {
        let models: Vec<String> = state.catalog.live().iter().map(|s| s.id()).collect();
        axum::Json(serde_json::json!({"status": "ready", "models": models})).into_response()
    } else {
        ApiError::unavailable("models are still loading, or the server is shutting down")
            .into_response()
    }
}

async fn not_found(request: Request<Body>) -> Response {
    let error = ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "No route {} {}; the API is under /v1 (see GET /v1/models)",
            request.method(),
            request.uri().path()
        ),
        kind: "invalid_request_error",
        param: None,
        code: Some("unknown_url"),
    };
    error.into_response()
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and lets running requests (streams included) finish for up to
/// `drain`; whatever still runs after that is cut.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graceful_state = Arc::clone(&state);
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        graceful_state.draining.store(true, Ordering::SeqCst);
        let _ = stop_tx.send(true);
    });
    let mut stop_rx = stop_rx;
    let deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(?drain, "drain deadline passed; cutting the requests still running");
            Ok(())
        }
    }
}
