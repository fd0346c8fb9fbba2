//! Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What happened and what to do, for people.
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `not_found_error`,
    /// `permission_error`, `server_error`, …
    pub kind: &'static str,
    /// The request field at fault.
    pub param: Option<String>,
    /// A stable machine-readable code.
    pub code: Option<&'static str>,
}

impl ApiError {
    /// 400: the request is malformed or asks for something unsupported.
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.map(str::to_owned),
            code: None,
        }
    }

    /// 404: no such model is served here.
    pub fn unknown_model(id: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "The model `{id}` is not served here; GET /v1/models lists those that are."
            ),
            kind: "invalid_request_error",
            param: Some("model".into()),
            code: Some("model_not_found"),
        }
    }

    /// 403: the version was revoked.
    pub fn revoked(id: &str, reason: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!("The model `{id}` was revoked and is no longer served: {reason}"),
            kind: "permission_error",
            param: Some("model".into()),
            code: Some("model_revoked"),
        }
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    /// 503: not ready or shutting down.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: Some("unavailable"),
        }
    }

    /// A code for this error.
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<modelgate_engine::EngineError> for ApiError {
    fn from(e: modelgate_engine::EngineError) -> ApiError {
        use modelgate_engine::EngineError as E;
        match &e {
            E::PromptTooLong { .. } => ApiError::invalid(e.to_string(), Some("messages"))
                .with_code("context_length_exceeded"),
            E::Unsupported(_) => ApiError::invalid(e.to_string(), Some("model")),
            E::Constraint(_) => ApiError::invalid(e.to_string(), Some("response_format")),
            E::BadToken { .. } => ApiError::invalid(e.to_string(), Some("prompt")),
            E::Stopped => ApiError::unavailable(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}
