//! The gateway on the request path: every `/v1` request passes here first.
//!
//! In order: the key is checked (401), the body read once, the model name
//! resolved to a route or a served version and the team's grant checked
//! (403), the data class fixed (the key's, raised by
//! `x-modelgate-data-class`), the targets planned (403 when the class may
//! not reach any), the request admitted against its key's and team's limits
//! (429, with `x-ratelimit-*`, `retry-after-ms`; a spent budget is
//! `insufficient_quota` with `x-should-retry: false`), and then sent to its
//! targets in order: a local version through the handlers behind this layer,
//! an upstream through `modelgate-upstream`, personal data masked first when
//! it leaves for a target that is not self-hosted. A target that fails
//! before the first byte reached the client (connect error, timeout, 429,
//! 5xx, an open circuit breaker) passes the request to the next. Every
//! answer says which target served it (`x-modelgate-target`), and when it
//! ends (a body sent, a stream finished, cut or abandoned) the permit is
//! settled with the real usage, and one usage record and the metrics are
//! written.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use modelgate_gateway::auth::Principal;
use modelgate_gateway::limits::{Ask, Now, Permit, Refusal};
use modelgate_gateway::metrics::{CallLabels, CostLabels, ErrorLabels, TargetLabels, TokenLabels};
use modelgate_gateway::price::Price;
use modelgate_gateway::route::{PlanError, Routes, Target};
use modelgate_gateway::trace::{Span, SpanContext};
use modelgate_gateway::usage::UsageRecord;
use modelgate_gateway::{Gateway, MaskMode, Policy, estimate_prompt_tokens, max_output_tokens};
use modelgate_inventory::{DataClass, Timestamp};
use modelgate_mask::{StreamRestorer, Vault};
use modelgate_serving::Resolved;
use modelgate_upstream::{Call, Chunk, Reply, UpstreamError};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{AppState, REQUEST_ID, new_id};

/// The header that raises a request's data class.
pub(crate) const DATA_CLASS_HEADER: &str = "x-modelgate-data-class";
/// The header naming the target that served a request.
pub(crate) const TARGET_HEADER: &str = "x-modelgate-target";
/// Longest kept of a prompt or answer in a usage record.
const KEPT_TEXT: usize = 16 << 10;
/// Longest a request may run in all (the client's deadline for retries and
/// fallbacks).
const DEADLINE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Models,
}

impl Endpoint {
    /// OpenTelemetry's `gen_ai.operation.name`.
    fn operation(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "text_completion",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
        }
    }

    fn of(path: &str) -> Option<Endpoint> {
        match path {
            "/v1/chat/completions" => Some(Endpoint::Chat),
            "/v1/completions" => Some(Endpoint::Completions),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            p if p == "/v1/models" || p.starts_with("/v1/models/") => Some(Endpoint::Models),
            _ => None,
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What is known of a request by the time it is answered: enough to write
/// its usage record and metrics.
struct Record {
    gateway: Arc<Gateway>,
    started: Instant,
    /// Wall-clock start, for the span.
    wall_start: std::time::SystemTime,
    /// This request's span (a child of the caller's `traceparent`).
    span: SpanContext,
    /// `chat`, `text_completion` or `embeddings` (`gen_ai.operation.name`).
    operation: &'static str,
    request_id: String,
    principal: Principal,
    model: String,
    target: String,
    version: String,
    class: DataClass,
    price: Price,
    prompt: Option<String>,
    answer: String,
    keep_text: bool,
    ttft: Option<Duration>,
    waited: Duration,
    usage: Option<(u64, u64)>,
    estimated_prompt: u64,
    permit: Option<Permit>,
}

impl Record {
    /// Writes the record: settles the permit, counts the metrics, queues the
    /// usage record. Called once per request.
    fn finish(mut self, status: u16, error: Option<String>) {
        let wall = self.started.elapsed();
        let (tokens_in, tokens_out) = self.usage.unwrap_or((
            if status < 400 {
                self.estimated_prompt
            } else {
                0
            },
            0,
        ));
        let cost = self.price.cost(tokens_in, tokens_out, wall);
        if let Some(mut permit) = self.permit.take() {
            permit.settle(tokens_in + tokens_out, cost);
        }
        let metrics = &self.gateway.metrics;
        metrics
            .requests
            .get_or_create(&CallLabels {
                model: self.model.clone(),
                target: self.target.clone(),
                team: self.principal.team.clone(),
                status,
            })
            .inc();
        if tokens_in + tokens_out > 0 {
            for (direction, n) in [("in", tokens_in), ("out", tokens_out)] {
                metrics
                    .tokens
                    .get_or_create(&TokenLabels {
                        target: self.target.clone(),
                        team: self.principal.team.clone(),
                        direction,
                    })
                    .inc_by(n);
            }
        }
        if cost > 0 {
            metrics
                .cost_usd
                .get_or_create(&CostLabels {
                    target: self.target.clone(),
                    team: self.principal.team.clone(),
                })
                .inc_by(cost as f64 / 1e6);
        }
        let labels = TargetLabels {
            target: self.target.clone(),
        };
        metrics
            .latency
            .get_or_create(&labels)
            .observe(wall.as_secs_f64());
        if let Some(ttft) = self.ttft {
            metrics
                .ttft
                .get_or_create(&labels)
                .observe(ttft.as_secs_f64());
        }
        metrics
            .overhead
            .observe(wall.saturating_sub(self.waited).as_secs_f64());
        if let Some(tracer) = &self.gateway.tracer {
            let (system, response_model) = match self.target.split_once('/') {
                Some((provider, model)) => (provider.to_owned(), model.to_owned()),
                None => ("modelgate".to_owned(), self.target.clone()),
            };
            let mut attributes = vec![
                ("gen_ai.operation.name", json!(self.operation)),
                ("gen_ai.system", json!(system)),
                ("gen_ai.request.model", json!(self.model)),
                ("gen_ai.response.model", json!(response_model)),
                ("gen_ai.usage.input_tokens", json!(tokens_in)),
                ("gen_ai.usage.output_tokens", json!(tokens_out)),
                ("http.response.status_code", json!(status)),
                ("modelgate.target", json!(self.target)),
                ("modelgate.team", json!(self.principal.team)),
                ("modelgate.key_id", json!(self.principal.key_id)),
                ("modelgate.data_class", json!(self.class.to_string())),
                ("modelgate.cost_usd", json!(cost as f64 / 1e6)),
                ("modelgate.request_id", json!(self.request_id)),
            ];
            if let Some(ttft) = self.ttft {
                attributes.push((
                    "modelgate.time_to_first_token_ms",
                    json!(ttft.as_millis() as u64),
                ));
            }
            if error.is_some() {
                attributes.push(("error.type", json!(status.to_string())));
            }
            tracer.record(Span {
                context: self.span,
                name: format!("{} {}", self.operation, self.model),
                start: self.wall_start,
                duration: wall,
                attributes,
                error: error.clone(),
            });
        }
        let Some(usage) = &self.gateway.usage else {
            return;
        };
        let policy = self.gateway.policy();
        let mask = |text: &str| {
            let masked = policy.masker.mask(text).text;
            truncate(masked, KEPT_TEXT)
        };
        let at = Timestamp::now();
        let mut record = UsageRecord {
            at,
            request_id: self.request_id,
            key_id: (self.principal.key_id != "-").then(|| self.principal.key_id.clone()),
            team: self.principal.team.clone(),
            route: self.model,
            target: self.target,
            version: (!self.version.is_empty()).then_some(self.version),
            data_class: self.class,
            tokens_in,
            tokens_out,
            cost_micro_usd: cost,
            latency_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
            ttft_ms: self
                .ttft
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            status,
            error,
            prompt: if self.keep_text {
                self.prompt.as_deref().map(mask)
            } else {
                None
            },
            answer: if self.keep_text && !self.answer.is_empty() {
                Some(mask(&self.answer))
            } else {
                None
            },
        };
        record.clamp_texts();
        usage.log(record);
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The middleware's state: the app, and the largest body it reads.
#[derive(Clone)]
pub(crate) struct GateState {
    pub(crate) app: Arc<AppState>,
    pub(crate) body_limit: usize,
}

/// The gateway middleware. Without a gateway configured, requests pass
/// straight through.
pub(crate) async fn gate(
    State(gate): State<GateState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let state = gate.app;
    let Some(gateway) = state.gateway.clone() else {
        return next.run(request).await;
    };
    let Some(endpoint) = Endpoint::of(request.uri().path()) else {
        return next.run(request).await;
    };
    let started = Instant::now();
    let wall_start = std::time::SystemTime::now();
    let headers = request.headers();
    let span = SpanContext::start(header_str(headers, "traceparent"));
    let principal = match gateway.authenticate(
        header_str(headers, header::AUTHORIZATION.as_str()),
        header_str(headers, "x-api-key"),
    ) {
        Ok(p) => p,
        Err(e) => {
            gateway.metrics.refused("auth");
            return ApiError {
                status: StatusCode::UNAUTHORIZED,
                message: e.to_string(),
                kind: "invalid_request_error",
                param: None,
                code: Some("invalid_api_key"),
            }
            .into_response();
        }
    };
    if endpoint == Endpoint::Models {
        return next.run(request).await;
    }
    let request_id =
        header_str(headers, REQUEST_ID.as_str()).map_or_else(|| new_id("req"), str::to_owned);
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, gate.body_limit).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!(
                    "the request body could not be read: {e} (the limit is {} KiB)",
                    gate.body_limit >> 10
                ),
                kind: "invalid_request_error",
                param: None,
                code: Some("body_unreadable"),
            }
            .into_response();
        }
    };
    let json: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return ApiError::invalid("the body must be a JSON object", None).into_response(),
        Err(e) => {
            return ApiError::invalid(
                format!(
                    "the body is not valid JSON: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
                None,
            )
            .into_response();
        }
    };
    let Some(model) = json.get("model").and_then(Value::as_str).map(str::to_owned) else {
        return ApiError::invalid(
            "`model` is required: a route or a served version (GET /v1/models)",
            Some("model"),
        )
        .into_response();
    };
    let class = match Gateway::data_class(&principal, header_str(&parts.headers, DATA_CLASS_HEADER))
    {
        Ok(c) => c,
        Err(message) => return ApiError::invalid(message, None).into_response(),
    };
    let policy = gateway.policy();
    let estimated_prompt = estimate_prompt_tokens(&json);
    let max_out = if endpoint == Endpoint::Embeddings {
        0
    } else {
        max_output_tokens(&json, policy.limits.default_max_tokens)
    };
    let worst = Duration::from_secs(u64::from(policy.limits.worst_case_seconds));
    let plan = match plan(&state, &gateway, &policy, &principal, &model, class, |t| {
        policy
            .prices
            .price(&t.to_string(), &model)
            .cost(estimated_prompt, max_out, worst)
    }) {
        Ok(plan) => plan,
        Err(error) => return error.into_response(),
    };
    let worst_cost = plan
        .iter()
        .map(|t| {
            policy
                .prices
                .price(&t.to_string(), &model)
                .cost(estimated_prompt, max_out, worst)
        })
        .max()
        .unwrap_or(0);
    let ask = Ask {
        tokens: estimated_prompt + max_out,
        cost_micro_usd: worst_cost,
    };
    let mut record = Record {
        gateway: Arc::clone(&gateway),
        started,
        wall_start,
        span,
        operation: endpoint.operation(),
        request_id,
        principal,
        model,
        target: "-".into(),
        version: String::new(),
        class,
        price: Price::default(),
        prompt: policy.logging.prompts.then(|| prompt_text(&json)),
        answer: String::new(),
        keep_text: policy.logging.prompts,
        ttft: None,
        waited: Duration::ZERO,
        usage: None,
        estimated_prompt,
        permit: None,
    };
    let permit = match gateway
        .limiter
        .admit(&Gateway::scopes(&record.principal), ask, Now::current())
        .await
    {
        Ok(p) => p,
        Err(refusal) => {
            // Refused before any target ran: nothing was used.
            record.usage = Some((0, 0));
            record.finish(refusal_status(&refusal).as_u16(), Some(refusal.to_string()));
            return refused(&gateway, &refusal);
        }
    };
    let rate = permit.headers();
    record.permit = Some(permit);
    // The client's own deadline, when its SDK says it (OpenAI's sends its
    // read timeout), bounds retries and fallbacks.
    let deadline = started
        + header_str(&parts.headers, "x-stainless-read-timeout")
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t > 0.0)
            .map_or(DEADLINE, |t| Duration::from_secs_f64(t).min(DEADLINE));
    let mut response = dispatch(
        &state, &gateway, &policy, endpoint, parts, json, plan, record, next, deadline,
    )
    .await;
    let headers = response.headers_mut();
    for (name, value) in rate.pairs() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    response
}

/// The text of a request's messages, prompt or input, for the usage log.
fn prompt_text(json: &Value) -> String {
    let mut out = String::new();
    let mut add = |s: &str| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(s);
    };
    if let Some(messages) = json.get("messages").and_then(Value::as_array) {
        for m in messages {
            match m.get("content") {
                Some(Value::String(s)) => add(s),
                Some(Value::Array(parts)) => {
                    for p in parts {
                        if let Some(s) = p.get("text").and_then(Value::as_str) {
                            add(s);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for field in ["prompt", "input"] {
        match json.get(field) {
            Some(Value::String(s)) => add(s),
            Some(Value::Array(items)) => {
                for s in items.iter().filter_map(Value::as_str) {
                    add(s);
                }
            }
            _ => {}
        }
    }
    out
}

/// A fresh seed for shuffles and jitter (not for secrets).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// The targets of a request, in the order to try them.
fn plan(
    state: &AppState,
    gateway: &Gateway,
    policy: &Policy,
    principal: &Principal,
    model: &str,
    class: DataClass,
    cost: impl Fn(&Target) -> u64,
) -> Result<Vec<Target>, ApiError> {
    let anonymous = gateway.auth.anonymous;
    let access = gateway.access();
    if let Some(route) = policy.routes.get(model) {
        if !anonymous && !access.may_use_route(&principal.team, model) {
            gateway.metrics.refused("access");
            return Err(forbidden(
                format!(
                    "The team `{}` is not granted the route `{model}`; an administrator can grant it with `modelgate teams grant {} {model}`",
                    principal.team, principal.team
                ),
                "route_not_granted",
            ));
        }
        let seed = random_seed();
        return Routes::plan(route, class, |t| policy.self_hosted(t), cost, seed).map_err(|e| {
            gateway.metrics.refused("data_class");
            match e {
                PlanError::DataClass { .. } => forbidden(e.to_string(), "data_class"),
            }
        });
    }
    match state.catalog.resolve(model) {
        Resolved::Live(served) => {
            let id = served.id();
            if !anonymous && !access.may_use_version(&principal.team, &id) {
                gateway.metrics.refused("access");
                return Err(forbidden(
                    format!(
                        "The team `{}` is not assigned `{id}`; an administrator can assign it with `modelgate teams assign {} {id} --purpose …`",
                        principal.team, principal.team
                    ),
                    "model_not_assigned",
                ));
            }
            Ok(vec![Target::Local(id)])
        }
        Resolved::Revoked { id, reason } => Err(ApiError::revoked(&id, &reason)),
        Resolved::Unknown => Err(ApiError::unknown_model(model)),
    }
}

fn forbidden(message: String, code: &'static str) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        message,
        kind: "permission_error",
        param: Some("model".into()),
        code: Some(code),
    }
}

/// A refusal's status: 429, or 503 when the limits cannot be counted.
fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// The answer to a refusal ([`refusal_status`]), with the headers OpenAI's
/// clients read.
fn refused(gateway: &Gateway, refusal: &Refusal) -> Response {
    let (reason, kind, code) = match refusal {
        Refusal::Requests { .. } => ("requests", "requests", "rate_limit_exceeded"),
        Refusal::Tokens { .. } => ("tokens", "tokens", "rate_limit_exceeded"),
        Refusal::Parallel { .. } => ("parallel", "requests", "rate_limit_exceeded"),
        Refusal::Budget { .. } => ("budget", "insufficient_quota", "insufficient_quota"),
        Refusal::Unavailable { .. } => {
            ("limiter_unavailable", "server_error", "limiter_unavailable")
        }
    };
    gateway.metrics.refused(reason);
    let mut response = ApiError {
        status: refusal_status(refusal),
        message: refusal.to_string(),
        kind,
        param: None,
        code: Some(code),
    }
    .into_response();
    let headers = response.headers_mut();
    match refusal.retry_after() {
        Some(after) => {
            let ms = after.as_millis().max(1);
            if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
                headers.insert("retry-after-ms", v);
            }
            if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
            if matches!(refusal, Refusal::Unavailable { .. }) {
                headers.insert("x-should-retry", HeaderValue::from_static("true"));
            }
        }
        None => {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
    }
    let (limit_name, remaining_name, reset_name, limit, after) = match refusal {
        Refusal::Requests {
            limit, retry_after, ..
        } => (
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
            Some(*limit),
            *retry_after,
        ),
        Refusal::Tokens {
            limit, retry_after, ..
        } => (
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
            Some(*limit),
            retry_after.unwrap_or(Duration::ZERO),
        ),
        _ => ("", "", "", None, Duration::ZERO),
    };
    if let Some(limit) = limit {
        for (name, value) in [
            (limit_name, limit.to_string()),
            (remaining_name, "0".to_owned()),
            (reset_name, modelgate_gateway::limits::duration_text(after)),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
    response
}

fn upstream_error_kind(e: &UpstreamError) -> String {
    match e {
        UpstreamError::Connect { .. } => "connect".into(),
        UpstreamError::Timeout { .. } => "timeout".into(),
        UpstreamError::Status { status: 429, .. } => "status_429".into(),
        UpstreamError::Status { status, .. } if *status >= 500 => "status_5xx".into(),
        UpstreamError::Status { .. } => "status_4xx".into(),
        UpstreamError::Unsupported { .. } => "unsupported".into(),
        _ => "protocol".into(),
    }
}

fn upstream_api_error(e: &UpstreamError) -> ApiError {
    let (status, code) = match e {
        UpstreamError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
        UpstreamError::Status { status: 429, .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "upstream_rate_limited")
        }
        UpstreamError::Status { status, .. } if (400..500).contains(status) => {
            (StatusCode::BAD_REQUEST, "upstream_rejected")
        }
        UpstreamError::Unsupported { .. } => (StatusCode::BAD_REQUEST, "unsupported_by_target"),
        _ => (StatusCode::BAD_GATEWAY, "upstream_failed"),
    };
    ApiError {
        status,
        message: e.to_string(),
        kind: if status.is_client_error() {
            "invalid_request_error"
        } else {
            "server_error"
        },
        param: None,
        code: Some(code),
    }
}

/// Tries the plan's targets in order.
#[allow(clippy::too_many_arguments)]
async fn dispatch(
    state: &Arc<AppState>,
    gateway: &Arc<Gateway>,
    policy: &Arc<Policy>,
    endpoint: Endpoint,
    parts: axum::http::request::Parts,
    json: Value,
    plan: Vec<Target>,
    mut record: Record,
    next: Next,
    deadline: Instant,
) -> Response {
    let mut last_error: Option<ApiError> = None;
    let count = plan.len();
    let rounds = 1 + policy.routing.retries;
    let mut current_round = 0;
    let per_round = u32::try_from(count).unwrap_or(u32::MAX).max(1);
    for step in 0..rounds.saturating_mul(per_round) {
        let round = step / per_round;
        let i = (step % per_round) as usize;
        let Some(target) = plan.get(i) else { break };
        if round != current_round {
            // Every target failed: back off (full jitter) and go round
            // again, unless the client's deadline would pass first.
            current_round = round;
            let seed = random_seed();
            let wait = modelgate_upstream::backoff(
                round,
                Duration::from_millis(policy.routing.backoff_ms),
                Duration::from_secs(5),
                || (seed >> 11) as f64 / (1u64 << 53) as f64,
            );
            if Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        let target = target.clone();
        let last = (round + 1 == rounds && i + 1 == count) || Instant::now() >= deadline;
        if !gateway.breaker_allows(&target) && !last {
            gateway
                .metrics
                .fallbacks
                .get_or_create(&TargetLabels {
                    target: target.to_string(),
                })
                .inc();
            continue;
        }
        record.target = target.to_string();
        record.price = policy.prices.price(&record.target, &record.model);
        let attempt = match &target {
            Target::Local(version) => {
                record.version.clone_from(version);
                local(
                    state,
                    endpoint,
                    &parts,
                    &json,
                    version,
                    next.clone(),
                    record,
                    last,
                )
                .await
            }
            Target::Upstream { provider, model } => {
                record.version.clear();
                upstream(
                    gateway, policy, endpoint, &json, &target, provider, model, record, last,
                    deadline,
                )
                .await
            }
        };
        match attempt {
            Attempt::Answered(mut response) => {
                gateway.breaker_record(&target, true);
                if let Ok(v) = HeaderValue::from_str(&target.to_string()) {
                    response.headers_mut().insert(TARGET_HEADER, v);
                }
                return response;
            }
            Attempt::Failed(error, back) => {
                gateway.breaker_record(&target, false);
                gateway
                    .metrics
                    .fallbacks
                    .get_or_create(&TargetLabels {
                        target: target.to_string(),
                    })
                    .inc();
                tracing::warn!(target = %target, error = %error.message, "target failed before answering; trying the next");
                last_error = Some(error);
                record = *back;
            }
        }
    }
    let error = last_error
        .unwrap_or_else(|| ApiError::unavailable("no target of this route is available now"));
    record.target = "-".into();
    record.finish(error.status.as_u16(), Some(error.message.clone()));
    error.into_response()
}

enum Attempt {
    Answered(Response),
    /// The target failed before answering; the record comes back for the
    /// next one.
    Failed(ApiError, Box<Record>),
}

/// Sends the request to a version served here, through the handlers.
#[allow(clippy::too_many_arguments)]
async fn local(
    state: &Arc<AppState>,
    endpoint: Endpoint,
    parts: &axum::http::request::Parts,
    json: &Value,
    version: &str,
    next: Next,
    mut record: Record,
    last: bool,
) -> Attempt {
    if !matches!(state.catalog.resolve(version), Resolved::Live(_)) && !last {
        return Attempt::Failed(
            ApiError::unavailable(format!("`{version}` is not loaded on this server")),
            Box::new(record),
        );
    }
    let mut body = json.clone();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let client_wants_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(map) = body.as_object_mut() {
        map.insert("model".into(), json!(version));
        if stream && endpoint != Endpoint::Embeddings {
            map.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut request = Request::from_parts(parts.clone(), Body::from(bytes));
    request.headers_mut().remove(header::CONTENT_LENGTH);
    let before = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) && !last {
        record.waited += before.elapsed();
        return Attempt::Failed(
            ApiError {
                status,
                message: format!("`{version}` answered {status}"),
                kind: "server_error",
                param: None,
                code: None,
            },
            Box::new(record),
        );
    }
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (response_parts, response_body) = response.into_parts();
    if is_stream {
        let frames = response_body
            .into_data_stream()
            .map(|r| r.map_err(|e| e.to_string()));
        let metered = Metered {
            inner: Box::pin(frames),
            record: Some(record),
            before,
            status: status.as_u16(),
            strip_usage: !client_wants_usage,
            done: false,
            failed: None,
            restorer: None,
            append_done: false,
            ended: false,
        };
        return Attempt::Answered(Response::from_parts(
            response_parts,
            Body::from_stream(metered),
        ));
    }
    let bytes = match axum::body::to_bytes(response_body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            record.finish(500, Some(e.to_string()));
            return Attempt::Answered(
                ApiError::internal(format!("reading the answer failed: {e}")).into_response(),
            );
        }
    };
    record.waited += before.elapsed();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    if let Some(v) = &parsed {
        record.usage = usage_of(v);
        if record.keep_text {
            record.answer = answer_text(v);
        }
    }
    let error = (!status.is_success()).then(|| {
        parsed
            .as_ref()
            .and_then(|v| v.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_owned()
    });
    record.finish(status.as_u16(), error);
    Attempt::Answered(Response::from_parts(response_parts, Body::from(bytes)))
}

fn usage_of(v: &Value) -> Option<(u64, u64)> {
    let usage = v.get("usage")?;
    let prompt = usage.get("prompt_tokens")?.as_u64()?;
    let completion = usage
        .get("completion_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some((prompt, completion))
}

fn answer_text(v: &Value) -> String {
    let mut out = String::new();
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        for c in choices {
            if let Some(s) = c.pointer("/message/content").and_then(Value::as_str) {
                out.push_str(s);
            } else if let Some(s) = c.get("text").and_then(Value::as_str) {
                out.push_str(s);
            }
        }
    }
    out
}

/// The request as it leaves for an external target: personal data masked
/// (or found, under `block`), per message.
fn masked_for(policy: &Policy, json: &Value, vault: &mut Vault) -> Value {
    let mut out = json.clone();
    let mut mask_value = |v: &mut Value| {
        if let Value::String(s) = v {
            *s = policy.masker.mask_into(s, vault);
        }
    };
    if let Some(messages) = out.get_mut("messages").and_then(Value::as_array_mut) {
        for m in messages {
            match m.get_mut("content") {
                Some(Value::Array(parts)) => {
                    for p in parts {
                        if let Some(t) = p.get_mut("text") {
                            mask_value(t);
                        }
                    }
                }
                Some(content) => mask_value(content),
                None => {}
            }
        }
    }
    for field in ["prompt", "input"] {
        match out.get_mut(field) {
            Some(Value::Array(items)) => items.iter_mut().for_each(&mut mask_value),
            Some(v) => mask_value(v),
            None => {}
        }
    }
    out
}

/// Sends the request to an upstream provider.
#[allow(clippy::too_many_arguments)]
async fn upstream(
    gateway: &Arc<Gateway>,
    policy: &Arc<Policy>,
    endpoint: Endpoint,
    json: &Value,
    target: &Target,
    provider: &str,
    model: &str,
    mut record: Record,
    last: bool,
    deadline: Instant,
) -> Attempt {
    let Some(upstream) = policy.upstreams.get(provider) else {
        return Attempt::Failed(
            ApiError::internal(format!("the provider `{provider}` is not configured")),
            Box::new(record),
        );
    };
    if endpoint == Endpoint::Completions {
        return Attempt::Failed(
            ApiError::invalid(
                "/v1/completions is served by local versions only; use /v1/chat/completions",
                Some("model"),
            ),
            Box::new(record),
        );
    }
    let mut vault = Vault::default();
    let leaving = !policy.self_hosted(target);
    let body = if leaving && policy.masking.external != MaskMode::Off {
        let masked = masked_for(policy, json, &mut vault);
        if policy.masking.external == MaskMode::Block && !vault.is_empty() {
            gateway.metrics.refused("masking");
            let error = forbidden(
                format!(
                    "the request carries personal data ({}) and `masking.external = \"block\"` keeps it from the external target `{target}`",
                    kinds_of(&vault).join(", ")
                ),
                "personal_data_blocked",
            );
            if last {
                record.finish(403, Some(error.message.clone()));
                return Attempt::Answered(error.into_response());
            }
            return Attempt::Failed(error, Box::new(record));
        }
        masked
    } else {
        json.clone()
    };
    let restore = policy.masking.restore && !vault.is_empty();
    let call = Call {
        deadline,
        request_id: record.request_id.clone(),
        // The upstream's spans are children of this request's.
        traceparent: Some(record.span.traceparent()),
    };
    let before = Instant::now();
    let reply = match endpoint {
        Endpoint::Embeddings => {
            upstream
                .provider
                .embeddings(model, &body, &call)
                .await
                .map(|body| {
                    let usage = body
                        .get("usage")
                        .and_then(|u| u.get("prompt_tokens"))
                        .and_then(Value::as_u64)
                        .map(|p| modelgate_upstream::Usage {
                            prompt_tokens: p,
                            completion_tokens: 0,
                        });
                    Reply::Complete { body, usage }
                })
        }
        _ => upstream.provider.chat(model, &body, &call).await,
    };
    let fail = |e: &UpstreamError| {
        gateway
            .metrics
            .upstream_errors
            .get_or_create(&ErrorLabels {
                target: target.to_string(),
                kind: upstream_error_kind(e),
            })
            .inc();
    };
    match reply {
        Ok(Reply::Complete { mut body, usage }) => {
            record.waited += before.elapsed();
            record.usage = usage.map(|u| (u.prompt_tokens, u.completion_tokens));
            if restore {
                restore_body(&mut body, &vault);
            }
            if record.keep_text {
                record.answer = answer_text(&body);
            }
            record.finish(200, None);
            Attempt::Answered(axum::Json(body).into_response())
        }
        Ok(Reply::Stream(mut chunks)) => {
            // Nothing has reached the client yet: a failure on the first
            // item may still fall back.
            let first = chunks.next().await;
            if let Some(Err(e)) = &first {
                fail(e);
                if e.may_fall_back() && !last {
                    record.waited += before.elapsed();
                    return Attempt::Failed(upstream_api_error(e), Box::new(record));
                }
            }
            let client_wants_usage = json
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let frames = futures_util::stream::iter(first)
                .chain(chunks)
                .map(frame_of);
            let metered = Metered {
                inner: Box::pin(frames),
                record: Some(record),
                before,
                status: 200,
                strip_usage: !client_wants_usage,
                done: false,
                failed: None,
                restorer: restore.then(|| StreamRestorer::new(vault)),
                append_done: true,
                ended: false,
            };
            let response = (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                Body::from_stream(metered),
            )
                .into_response();
            Attempt::Answered(response)
        }
        Err(e) => {
            fail(&e);
            record.waited += before.elapsed();
            let error = upstream_api_error(&e);
            if e.may_fall_back() && !last {
                return Attempt::Failed(error, Box::new(record));
            }
            record.finish(error.status.as_u16(), Some(e.to_string()));
            Attempt::Answered(error.into_response())
        }
    }
}

/// The kinds of data a vault holds, from its placeholders (`[EMAIL_1]`).
fn kinds_of(vault: &Vault) -> Vec<String> {
    let mut kinds: Vec<String> = vault
        .entries()
        .filter_map(|(placeholder, _)| {
            let inner = placeholder.trim_start_matches('[').trim_end_matches(']');
            inner.rsplit_once('_').map(|(kind, _)| kind.to_lowercase())
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

fn restore_body(body: &mut Value, vault: &Vault) {
    if let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            if let Some(Value::String(s)) = c.pointer_mut("/message/content") {
                *s = vault.restore(s);
            }
        }
    }
}

/// An upstream chunk as an SSE frame; an upstream failure as the error
/// frame that ends the stream.
fn frame_of(item: Result<Chunk, UpstreamError>) -> Result<Bytes, String> {
    match item {
        Ok(chunk) => Ok(Bytes::from(format!("data: {}\n\n", chunk.json))),
        Err(e) => Err(e.to_string()),
    }
}

type Frames = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// A streamed answer on its way to the client: it notes the first token's
/// time, the usage chunk and the answer's text, drops the usage chunk the
/// client did not ask for, puts masked values back, turns a failure into an
/// error frame without `[DONE]`, and writes the request's record when the
/// stream ends, fails or is abandoned by the client.
struct Metered {
    inner: Frames,
    record: Option<Record>,
    before: Instant,
    status: u16,
    strip_usage: bool,
    done: bool,
    failed: Option<String>,
    restorer: Option<StreamRestorer>,
    /// Send `[DONE]` when the inner stream ends cleanly (upstream chunks
    /// carry no frame for it).
    append_done: bool,
    ended: bool,
}

impl Metered {
    /// Looks at one `data:` frame; returns the frame to send (or none).
    fn observe(&mut self, frame: Bytes) -> Option<Bytes> {
        let Some(record) = self.record.as_mut() else {
            return Some(frame);
        };
        let text = std::str::from_utf8(&frame).unwrap_or("");
        let payload = text.trim().strip_prefix("data:").map(str::trim);
        match payload {
            Some("[DONE]") => {
                self.done = true;
                if let Some(restorer) = self.restorer.take() {
                    let rest = restorer.finish();
                    if !rest.is_empty() {
                        let chunk = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": rest}, "finish_reason": null}]});
                        let mut out = format!("data: {chunk}\n\n").into_bytes();
                        out.extend_from_slice(&frame);
                        return Some(Bytes::from(out));
                    }
                }
                Some(frame)
            }
            Some(json_text) if json_text.starts_with('{') => {
                let Ok(mut value) = serde_json::from_str::<Value>(json_text) else {
                    return Some(frame);
                };
                if value.get("error").is_some() {
                    self.failed = value
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or_else(|| Some("error event".into()));
                    return Some(frame);
                }
                if let Some(usage) = usage_of(&value) {
                    record.usage = Some(usage);
                    let empty = value
                        .get("choices")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty);
                    if self.strip_usage && empty {
                        return None;
                    }
                }
                let mut changed = false;
                if let Some(choices) = value.get_mut("choices").and_then(Value::as_array_mut) {
                    for c in choices {
                        let field = if c.pointer("/delta/content").is_some() {
                            c.pointer_mut("/delta/content")
                        } else {
                            c.get_mut("text")
                        };
                        if let Some(Value::String(s)) = field {
                            if record.ttft.is_none() && !s.is_empty() {
                                record.ttft = Some(record.started.elapsed());
                            }
                            if let Some(restorer) = self.restorer.as_mut() {
                                *s = restorer.push(s);
                                changed = true;
                            }
                            if record.keep_text && record.answer.len() < KEPT_TEXT {
                                record.answer.push_str(s);
                            }
                        }
                    }
                }
                if changed {
                    Some(Bytes::from(format!("data: {value}\n\n")))
                } else {
                    Some(frame)
                }
            }
            _ => Some(frame),
        }
    }

    fn finish(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.waited += self.before.elapsed();
            let (status, error) = if let Some(e) = self.failed.take() {
                (502, Some(e))
            } else if self.done {
                (self.status, None)
            } else {
                (
                    499,
                    Some("the client went away before the stream ended".to_owned()),
                )
            };
            record.finish(status, error);
        }
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.record.is_none() {
                return Poll::Ready(None);
            }
            if self.ended {
                self.finish();
                return Poll::Ready(None);
            }
            match self.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(out) = self.observe(frame) {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Poll::Ready(Some(Err(message))) => {
                    // Cut after bytes were sent: an error frame, never [DONE].
                    let error = ApiError {
                        status: StatusCode::BAD_GATEWAY,
                        message: format!("the stream was cut: {message}"),
                        kind: "server_error",
                        param: None,
                        code: Some("stream_cut"),
                    };
                    self.failed = Some(message);
                    self.finish();
                    return Poll::Ready(Some(Ok(Bytes::from(format!(
                        "data: {}\n\n",
                        error.body()
                    )))));
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    if self.append_done && !self.done && self.failed.is_none() {
                        // The upstream client ends only after the provider's
                        // own end of stream: close ours the same way.
                        if let Some(out) = self.observe(Bytes::from_static(b"data: [DONE]\n\n")) {
                            return Poll::Ready(Some(Ok(out)));
                        }
                    }
                    self.finish();
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let Some(gateway) = state.gateway.as_ref() else {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            message: "metrics are exported when the gateway is on".into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
        .into_response();
    };
    if let Some(usage) = &gateway.usage {
        gateway
            .metrics
            .usage_queue_depth
            .set(i64::try_from(usage.depth()).unwrap_or(i64::MAX));
        gateway
            .metrics
            .usage_dropped
            .set(i64::try_from(usage.dropped()).unwrap_or(i64::MAX));
    }
    for served in state.catalog.live() {
        if let modelgate_serving::Backend::Generate { engine, .. } = &served.backend {
            gateway
                .metrics
                .busy_slots
                .get_or_create(&modelgate_gateway::metrics::ModelLabels { model: served.id() })
                .set(i64::from(engine.stats().running));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gateway.metrics.render(),
    )
        .into_response()
}
