//! modelgate's gateway policy: who may call what, how much, at what price,
//! with which data going where, and the record of every call.
//!
//! Purpose: the parts of `modelgate serve`'s request path that do not
//! generate anything. [`auth`] checks API keys against a snapshot of the
//! inventory's keys and says what a team may call; [`route`] maps public
//! model names to ordered targets (local versions and upstream models) under
//! the data-class rule; [`limits`] counts requests, tokens, parallel calls
//! and spend per key and team in this process, [`shared`] in Redis for
//! every replica together, and [`limiter`] chooses between them (failing
//! closed or falling back while Redis is down); [`price`] prices a call; [`usage`] writes one
//! record per call off the request path; [`metrics`] exports it all to
//! Prometheus; [`trace`] exports a span per request over OTLP with the
//! `gen_ai.*` attributes. [`Gateway`] holds them for a server, with the part a config
//! reload replaces ([`Policy`]: routes, providers, prices, masking) behind
//! one swappable pointer, so a reload never disturbs a running request.
//!
//! Non-purpose: it generates nothing and knows no engine (the server calls
//! local versions itself), speaks no wire format (that is
//! `modelgate-upstream`), finds no personal data (that is `modelgate-mask`),
//! and never writes the inventory except usage records.
//!
//! Main types: [`GatewayConfig`] (the `[auth]`, `[[providers]]`,
//! `[[routes]]`, `[[prices]]`, `[masking]`, `[logging]`, `[limits]` parts of
//! the serve config), [`Gateway`], [`Policy`], [`auth::Principal`],
//! [`limiter::Limiter`], [`limits::Counters`], [`shared::SharedCounters`]
//! and [`limits::Permit`], [`route::Target`].

pub mod auth;
pub mod limiter;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod price;
pub mod route;
pub mod shared;
pub mod trace;
pub mod usage;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use modelgate_inventory::DataClass;
use modelgate_mask::{MaskConfig, Masker};
use modelgate_upstream::{Breaker, Provider, ProviderConfig};
use serde::Deserialize;

use crate::auth::{Access, Principal};
use crate::limiter::Limiter;
use crate::limits::{Scope, ScopeKind};
use crate::metrics::Metrics;
use crate::price::{PriceConfig, PriceTable};
use crate::route::{RouteConfig, Routes, Target};
use crate::usage::UsageLog;

/// `[auth]`: how callers prove who they are.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Serve without keys (every caller is the anonymous principal, with no
    /// limits). For a laptop on loopback only.
    #[serde(default)]
    pub anonymous: bool,
    /// How often the server looks for key, team and grant changes.
    #[serde(default = "default_refresh")]
    pub refresh_seconds: f64,
}

fn default_refresh() -> f64 {
    2.0
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous: false,
            refresh_seconds: default_refresh(),
        }
    }
}

/// What happens to personal data bound for a target that is not
/// self-hosted.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MaskMode {
    /// Sent as it is.
    Off,
    /// Replaced by placeholders (`[EMAIL_1]`) before it leaves.
    #[default]
    Mask,
    /// The request is not sent there at all.
    Block,
}

/// `[masking]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    /// For requests leaving for an external (not self-hosted) target.
    #[serde(default)]
    pub external: MaskMode,
    /// Put the originals back in the answer returned to the caller.
    #[serde(default = "yes")]
    pub restore: bool,
    /// What to look for: built-in kinds, own patterns and word lists.
    #[serde(default)]
    pub rules: MaskConfig,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            external: MaskMode::default(),
            restore: true,
            rules: MaskConfig::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `[logging]`: the usage log.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Keep the (always masked) prompt and answer with each record.
    #[serde(default)]
    pub prompts: bool,
    /// Records the queue holds before new ones are dropped (and counted).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Most records written per transaction.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Days to keep records; none keeps them forever.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

fn default_queue() -> usize {
    10_000
}

fn default_batch() -> usize {
    500
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            prompts: false,
            queue: default_queue(),
            batch: default_batch(),
            retention_days: None,
        }
    }
}

/// `[limits]`: how requests are weighed against token limits and budgets.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Tokens reserved for the answer when a request sets no `max_tokens`.
    #[serde(default = "default_reserve")]
    pub default_max_tokens: u32,
    /// Seconds a request is assumed to take at worst, for targets priced per
    /// hour.
    #[serde(default = "default_worst")]
    pub worst_case_seconds: u32,
}

fn default_reserve() -> u32 {
    1024
}

fn default_worst() -> u32 {
    60
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            default_max_tokens: default_reserve(),
            worst_case_seconds: default_worst(),
        }
    }
}

/// `[routing]`: retries over a route's targets.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Rounds over the plan after the first, when every target failed
    /// before answering (connect error, timeout, 429, 5xx).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Base of the jittered exponential backoff between rounds.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_retries() -> u32 {
    1
}

fn default_backoff() -> u64 {
    100
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            retries: default_retries(),
            backoff_ms: default_backoff(),
        }
    }
}

/// The gateway's parts of the serve config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[[providers]]`.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// `[[routes]]`.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// `[[prices]]`.
    #[serde(default)]
    pub prices: Vec<PriceConfig>,
    /// `[masking]`.
    #[serde(default)]
    pub masking: MaskingConfig,
    /// `[logging]`.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[routing]`.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// `[tracing]` (not reloaded).
    #[serde(default)]
    pub tracing: trace::TraceConfig,
}

/// The gateway's config does not hold together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A provider is wrong (or its key's variable is unset).
    #[error(transparent)]
    Provider(#[from] modelgate_upstream::ConfigError),
    /// Two providers share a name.
    #[error("providers: `{0}` is declared twice; names must be unique")]
    DuplicateProvider(String),
    /// A route is wrong.
    #[error(transparent)]
    Route(#[from] route::RouteError),
    /// A price is wrong.
    #[error(transparent)]
    Price(#[from] price::PriceError),
    /// A masking rule is wrong.
    #[error("masking: {0}")]
    Mask(#[from] modelgate_mask::Error),
}

/// A configured provider, ready to call.
#[derive(Debug)]
pub struct Upstream {
    /// The client.
    pub provider: Provider,
    /// Whether it runs on the organisation's machines.
    pub self_hosted: bool,
}

/// What a config reload replaces: routes, providers, prices, masking and
/// the limits settings. Requests hold the `Arc` they started with.
#[derive(Debug)]
pub struct Policy {
    /// Public model names → targets.
    pub routes: Routes,
    /// Providers by name.
    pub upstreams: HashMap<String, Upstream>,
    /// Prices.
    pub prices: PriceTable,
    /// The personal-data finder.
    pub masker: Masker,
    /// `[masking]`.
    pub masking: MaskingConfig,
    /// `[logging]`.
    pub logging: LoggingConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[routing]`.
    pub routing: RoutingConfig,
}

impl Policy {
    /// Checks `config` and builds its clients; `env` reads the providers'
    /// key variables.
    pub fn new(
        config: &GatewayConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Policy, ConfigError> {
        let mut upstreams = HashMap::new();
        for entry in &config.providers {
            let name = entry.name.clone();
            let provider = Provider::new(entry.clone(), &env)?;
            if upstreams
                .insert(
                    name.clone(),
                    Upstream {
                        provider,
                        self_hosted: entry.self_hosted,
                    },
                )
                .is_some()
            {
                return Err(ConfigError::DuplicateProvider(name));
            }
        }
        let names: HashSet<String> = upstreams.keys().cloned().collect();
        Ok(Policy {
            routes: Routes::new(&config.routes, &names)?,
            upstreams,
            prices: PriceTable::new(&config.prices)?,
            masker: Masker::new(&config.masking.rules)?,
            masking: config.masking.clone(),
            logging: config.logging.clone(),
            limits: config.limits.clone(),
            routing: config.routing.clone(),
        })
    }

    /// Whether `target` runs on the organisation's machines.
    pub fn self_hosted(&self, target: &Target) -> bool {
        match target {
            Target::Local(_) => true,
            Target::Upstream { provider, .. } => {
                self.upstreams.get(provider).is_some_and(|u| u.self_hosted)
            }
        }
    }
}

/// The gateway's state in a server.
#[derive(Debug)]
pub struct Gateway {
    /// `[auth]` (not reloaded).
    pub auth: AuthConfig,
    policy: RwLock<Arc<Policy>>,
    access: RwLock<Arc<Access>>,
    access_generation: Mutex<Option<i64>>,
    /// Rate limits and budgets: in this process, or shared in Redis.
    pub limiter: Limiter,
    breakers: Mutex<HashMap<String, Breaker>>,
    /// The usage log (none in tests that do not keep records).
    pub usage: Option<UsageLog>,
    /// The exported metrics.
    pub metrics: Metrics,
    /// The span exporter, when `[tracing] otlp_endpoint` is set.
    pub tracer: Option<trace::Tracer>,
}

impl Gateway {
    /// A gateway over a checked policy and an access snapshot.
    pub fn new(
        auth: AuthConfig,
        policy: Policy,
        access: Arc<Access>,
        usage: Option<UsageLog>,
    ) -> Gateway {
        Gateway {
            auth,
            policy: RwLock::new(Arc::new(policy)),
            access: RwLock::new(access),
            access_generation: Mutex::new(None),
            limiter: Limiter::local(),
            breakers: Mutex::new(HashMap::new()),
            usage,
            metrics: Metrics::new(),
            tracer: None,
        }
    }

    /// Counts limits with `limiter` (shared in Redis, say) instead of in
    /// this process; its failures are reported in this gateway's metrics.
    pub fn with_limiter(mut self, limiter: Limiter) -> Gateway {
        self.limiter = limiter.with_metrics(&self.metrics);
        self
    }

    /// Exports a span per request through `tracer`.
    pub fn with_tracer(mut self, tracer: Option<trace::Tracer>) -> Gateway {
        self.tracer = tracer;
        self
    }

    /// The policy now in force.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the policy (config reload); running requests keep theirs.
    pub fn replace_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
    }

    /// The access snapshot now in force.
    pub fn access(&self) -> Arc<Access> {
        Arc::clone(&self.access.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the access snapshot when the inventory's access generation
    /// moved; returns whether it did.
    pub fn refresh_access(
        &self,
        generation: i64,
        load: impl FnOnce() -> Result<Arc<Access>, String>,
    ) -> Result<bool, String> {
        let mut seen = self
            .access_generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *seen == Some(generation) {
            return Ok(false);
        }
        let access = load()?;
        *self.access.write().unwrap_or_else(PoisonError::into_inner) = access;
        *seen = Some(generation);
        Ok(true)
    }

    /// The caller of a request: its `Authorization` (or `x-api-key`) header
    /// checked against the keys.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        x_api_key: Option<&str>,
    ) -> Result<Principal, auth::AuthError> {
        if self.auth.anonymous {
            return Ok(Principal::anonymous());
        }
        let presented = auth::presented_key(authorization, x_api_key);
        self.access()
            .authenticate(presented, modelgate_inventory::Date::today())
    }

    /// The request's data class: the key's, raised (never lowered) by an
    /// `x-modelgate-data-class` header.
    pub fn data_class(principal: &Principal, header: Option<&str>) -> Result<DataClass, String> {
        match header {
            None => Ok(principal.data_class),
            Some(text) => {
                let asked: DataClass = text.trim().parse().map_err(|_| {
                    format!(
                        "x-modelgate-data-class: `{text}` is not a data class; use public, internal, confidential or restricted"
                    )
                })?;
                Ok(asked.max(principal.data_class))
            }
        }
    }

    /// The counters a principal's requests count against.
    pub fn scopes(principal: &Principal) -> Vec<Scope> {
        let mut scopes = Vec::with_capacity(2);
        if principal.key_id != "-" {
            scopes.push(Scope {
                kind: ScopeKind::Key,
                id: principal.key_id.clone(),
                limits: principal.limits,
            });
        }
        if let Some(limits) = principal.team_limits {
            scopes.push(Scope {
                kind: ScopeKind::Team,
                id: principal.team.clone(),
                limits,
            });
        }
        scopes
    }

    /// Whether a target's circuit breaker lets a call through now.
    pub fn breaker_allows(&self, target: &Target) -> bool {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers
            .entry(target.to_string())
            .or_default()
            .allow(Instant::now())
    }

    /// Tells a target's breaker how a call went.
    pub fn breaker_record(&self, target: &Target, ok: bool) {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let breaker = breakers.entry(target.to_string()).or_default();
        if ok {
            breaker.record_success();
        } else {
            breaker.record_failure(Instant::now());
        }
    }

    /// The refresh interval of the access snapshot.
    pub fn refresh_interval(&self) -> Duration {
        Duration::from_secs_f64(self.auth.refresh_seconds.clamp(0.1, 5.0))
    }
}

/// Estimated prompt tokens of a chat or completion request body, before
/// any tokenizer has seen it: one token per three bytes of text (English
/// runs about four), plus four per message for the template's markers. An
/// over-estimate on purpose; usage reconciles it.
pub fn estimate_prompt_tokens(body: &serde_json::Value) -> u64 {
    fn text_bytes(value: &serde_json::Value) -> u64 {
        match value {
            serde_json::Value::String(s) => s.len() as u64,
            serde_json::Value::Array(items) => items.iter().map(text_bytes).sum(),
            serde_json::Value::Object(map) => map.values().map(text_bytes).sum(),
            _ => 0,
        }
    }
    let messages = body.get("messages");
    let count = messages.and_then(|m| m.as_array()).map_or(0, Vec::len) as u64;
    let bytes = messages.map_or(0, text_bytes)
        + body.get("prompt").map_or(0, text_bytes)
        + body.get("input").map_or(0, text_bytes)
        + body.get("tools").map_or(0, text_bytes);
    bytes.div_ceil(3) + 4 * count + 1
}

/// The most tokens a request may generate: its `max_completion_tokens` or
/// `max_tokens`, else `default`.
pub fn max_output_tokens(body: &serde_json::Value, default: u32) -> u64 {
    body.get("max_completion_tokens")
        .and_then(serde_json::Value::as_u64)
        .or_else(|| body.get("max_tokens").and_then(serde_json::Value::as_u64))
        .unwrap_or(u64::from(default))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn estimates_over_count_english_text() {
        let body =
            json!({"messages": [{"role": "user", "content": "Hello there, how are you today?"}]});
        // 31 + 4 bytes of text → 12, + 4 for the message, + 1.
        assert_eq!(estimate_prompt_tokens(&body), 17);
        assert_eq!(max_output_tokens(&json!({"max_tokens": 7}), 100), 7);
        assert_eq!(
            max_output_tokens(&json!({"max_completion_tokens": 9, "max_tokens": 7}), 100),
            9
        );
        assert_eq!(max_output_tokens(&json!({}), 100), 100);
    }

    #[test]
    fn the_header_raises_the_class_but_never_lowers_it() {
        let mut p = Principal::anonymous();
        p.data_class = DataClass::Confidential;
        assert_eq!(
            Gateway::data_class(&p, Some("public")).unwrap(),
            DataClass::Confidential
        );
        assert_eq!(
            Gateway::data_class(&p, Some("restricted")).unwrap(),
            DataClass::Restricted
        );
        assert!(
            Gateway::data_class(&p, Some("secret"))
                .unwrap_err()
                .contains("secret")
        );
    }

    #[test]
    fn a_misspelt_provider_key_is_refused() {
        let typo = toml::from_str::<GatewayConfig>(
            r#"
            [[providers]]
            name = "openai"
            kind = "openai"
            base_url = "https://api.openai.com/v1"
            api_key_evn = "OPENAI_API_KEY"
            "#,
        );
        assert!(typo.unwrap_err().to_string().contains("api_key_evn"));
    }

    #[test]
    fn the_config_is_read_from_toml() {
        let config: GatewayConfig = toml::from_str(
            r#"
            [auth]
            refresh_seconds = 1
            [[providers]]
            name = "local-vllm"
            kind = "openai"
            base_url = "http://127.0.0.1:9/v1"
            self_hosted = true
            [[routes]]
            name = "chat"
            [[routes.targets]]
            provider = "local-vllm"
            model = "qwen"
            [[prices]]
            model = "local-vllm/qwen"
            per_hour = 2.0
            [masking]
            external = "block"
            [logging]
            retention_days = 30
            "#,
        )
        .unwrap();
        let policy = Policy::new(&config, |_| None).unwrap();
        assert!(policy.self_hosted(&Target::Upstream {
            provider: "local-vllm".into(),
            model: "qwen".into()
        }));
        assert_eq!(policy.masking.external, MaskMode::Block);
        assert!(policy.routes.get("chat").is_some());
    }
}
