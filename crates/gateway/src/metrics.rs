//! `GET /metrics`: the gateway's counters in Prometheus' text format.
//!
//! One [`Metrics`] per server (no global registry, so tests can run several
//! servers in one process). Labels are bounded by configuration: routes,
//! targets, teams and a fixed set of outcomes, never request data.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a served request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The public model name the client sent.
    pub model: String,
    /// The target that answered (`-` when none did).
    pub target: String,
    /// The key's team.
    pub team: String,
    /// The HTTP status.
    pub status: u16,
}

/// Labels of a target's series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    /// The target.
    pub target: String,
}

/// Labels of token counts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// The target.
    pub target: String,
    /// The key's team.
    pub team: String,
    /// `in` (prompt) or `out` (generated).
    pub direction: &'static str,
}

/// Labels of a team's spend.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CostLabels {
    /// The target.
    pub target: String,
    /// The key's team.
    pub team: String,
}

/// Labels of an upstream failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The target that failed.
    pub target: String,
    /// `connect`, `timeout`, `status_429`, `status_5xx`, `protocol`, …
    pub kind: String,
}

/// Labels of a refusal.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// `auth`, `access`, `data_class`, `requests`, `tokens`, `parallel`,
    /// `budget`, `masking`.
    pub reason: &'static str,
}

/// Labels of a model's engine.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// The served version.
    pub model: String,
}

/// Every series the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: Family<CallLabels, Counter>,
    /// Tokens in and out.
    pub tokens: Family<TokenLabels, Counter>,
    /// Spend in USD.
    pub cost_usd: Family<CostLabels, Counter<f64, AtomicU64>>,
    /// Total latency, seconds.
    pub latency: Family<TargetLabels, Histogram>,
    /// Time to first token (streams), seconds.
    pub ttft: Family<TargetLabels, Histogram>,
    /// Time spent in the gateway itself: total minus waiting on the target.
    pub overhead: Histogram,
    /// Upstream failures.
    pub upstream_errors: Family<ErrorLabels, Counter>,
    /// Fallbacks from a failed target to the next.
    pub fallbacks: Family<TargetLabels, Counter>,
    /// Requests refused by the gateway, by reason.
    pub refusals: Family<RefusalLabels, Counter>,
    /// Usage records waiting to be written.
    pub usage_queue_depth: Gauge,
    /// Usage records dropped because the queue was full.
    pub usage_dropped: Gauge,
    /// Busy slots of each local engine.
    pub busy_slots: Family<ModelLabels, Gauge>,
    /// Calls to the shared counters (Redis) that failed.
    pub limiter_redis_errors: Counter,
    /// 1 while Redis is configured but cannot be reached (requests are
    /// refused or counted per replica), else 0.
    pub limiter_degraded: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    /// A registry with every series, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("modelgate");
        let requests = Family::<CallLabels, Counter>::default();
        registry.register("requests", "Requests answered", requests.clone());
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens in (prompt) and out (generated)",
            tokens.clone(),
        );
        let cost_usd = Family::<CostLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "cost_usd",
            "Spend in USD from the price table",
            cost_usd.clone(),
        );
        let latency = Family::<TargetLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to the last byte",
            latency.clone(),
        );
        let ttft = Family::<TargetLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "time_to_first_token_seconds",
            "Time from request to the first streamed token",
            ttft.clone(),
        );
        let overhead = Histogram::new(exponential_buckets(0.000_01, 2.0, 18));
        registry.register(
            "gateway_overhead_seconds",
            "Time spent in the gateway: total minus time waiting on the target",
            overhead.clone(),
        );
        let upstream_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "upstream_errors",
            "Failed calls to a target",
            upstream_errors.clone(),
        );
        let fallbacks = Family::<TargetLabels, Counter>::default();
        registry.register(
            "fallbacks",
            "Requests passed on from a failed target to the next",
            fallbacks.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refusals",
            "Requests refused by the gateway",
            refusals.clone(),
        );
        let usage_queue_depth = Gauge::default();
        registry.register(
            "usage_queue_depth",
            "Usage records waiting to be written",
            usage_queue_depth.clone(),
        );
        let usage_dropped = Gauge::default();
        registry.register(
            "usage_records_dropped",
            "Usage records dropped because the queue was full",
            usage_dropped.clone(),
        );
        let busy_slots = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "busy_slots",
            "Slots of a local engine running a request",
            busy_slots.clone(),
        );
        let limiter_redis_errors = Counter::default();
        registry.register(
            "limiter_redis_errors",
            "Calls to the shared rate-limit counters (redis) that failed",
            limiter_redis_errors.clone(),
        );
        let limiter_degraded = Gauge::default();
        registry.register(
            "limiter_degraded",
            "1 while redis is configured but unreachable (requests refused or counted per replica)",
            limiter_degraded.clone(),
        );
        Metrics {
            registry,
            requests,
            tokens,
            cost_usd,
            latency,
            ttft,
            overhead,
            upstream_errors,
            fallbacks,
            refusals,
            usage_queue_depth,
            usage_dropped,
            busy_slots,
            limiter_redis_errors,
            limiter_degraded,
        }
    }

    /// Counts a refusal.
    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 << 10);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics
            .requests
            .get_or_create(&CallLabels {
                model: "chat".into(),
                target: "openai/gpt".into(),
                team: "search".into(),
                status: 200,
            })
            .inc();
        metrics.refused("budget");
        metrics
            .latency
            .get_or_create(&TargetLabels { target: "x".into() })
            .observe(0.25);
        let text = metrics.render();
        assert!(text.contains(
            "modelgate_requests_total{model=\"chat\",target=\"openai/gpt\",team=\"search\",status=\"200\"} 1"
        ), "{text}");
        assert!(
            text.contains("modelgate_refusals_total{reason=\"budget\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("modelgate_request_duration_seconds_bucket{le=\"0.256\",target=\"x\"} 1")
                || text.contains("modelgate_request_duration_seconds_count{target=\"x\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
