//! `/v1/models` and `/v1/models/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use modelgate_serving::{Backend, Served};
use serde_json::{Value, json};

use crate::AppState;
use crate::generate::{mark, resolve};

fn describe(served: &Served) -> Value {
    let (kind, context, slots) = match &served.backend {
        Backend::Generate { engine, .. } => {
            let stats = engine.stats();
            let slots = json!({
                "total": engine.info().config.slots,
                "running": stats.running,
                "waiting": stats.waiting,
            });
            ("generation", Some(engine.info().config.context), slots)
        }
        Backend::Embed(_) => ("embeddings", None, Value::Null),
    };
    json!({
        "id": served.id(),
        "object": "model",
        "created": served.loaded_at,
        "owned_by": "modelgate",
        "stage": served.stage().name(),
        "kind": kind,
        "context_length": context,
        "slots": slots,
    })
}

/// `GET /v1/models`: every loaded version.
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Response {
    let data: Vec<Value> = state.catalog.live().iter().map(|s| describe(s)).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /v1/models/{id}`: one, by `NAME@VERSION` or `NAME`.
pub(crate) async fn one(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match resolve(&state, &id) {
        Ok(served) => mark(&served, axum::Json(describe(&served)).into_response()),
        Err(error) => error.into_response(),
    }
}
