//! Where limits are counted: in this process ([`Counters`]), or in Redis
//! for every replica together ([`SharedCounters`]), with what to do while
//! Redis cannot be reached ([`OnUnavailable`]).
//!
//! Requests whose key and team have no limits at all never call Redis.
//! While Redis is down, requests are not sent to it one by one: after a
//! failure the limiter counts degraded for [`PROBE_EVERY`], then lets one
//! request try Redis again, so recovery needs no restart and a dead Redis
//! costs one timeout per probe, not per request. Each change between
//! shared and degraded is logged once, the `modelgate_limiter_degraded`
//! gauge says which holds now, and `modelgate_limiter_redis_errors_total`
//! counts the failed calls.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::limits::{Ask, Counters, Now, Permit, Refusal, Scope, ScopeKind};
use crate::metrics::Metrics;
use crate::shared::{SharedCounters, SharedError};

/// How long the limiter stays degraded before trying Redis again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// What the gateway does while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnavailable {
    /// Refuse every request with 503 and `x-should-retry: true`: no limit
    /// or budget is ever exceeded.
    #[default]
    FailClosed,
    /// Count in this process with every limit divided by the number of
    /// replicas (at least 1 each), so the replicas together stay within
    /// each limit; budgets are divided the same way against this replica's
    /// view of the month's spend.
    Fallback,
}

impl std::str::FromStr for OnUnavailable {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail-closed" => Ok(OnUnavailable::FailClosed),
            "fallback" => Ok(OnUnavailable::Fallback),
            other => Err(format!(
                "`{other}` is not a choice; use fail-closed or fallback"
            )),
        }
    }
}

/// How limits are shared between replicas.
#[derive(Debug, Clone)]
pub struct Sharing {
    /// The shared counters.
    pub counters: Arc<SharedCounters>,
    /// What to do while they cannot be reached.
    pub on_unavailable: OnUnavailable,
    /// How many replicas share the limits (divides them in fallback).
    pub replicas: u32,
}

#[derive(Debug)]
enum Health {
    Shared,
    Degraded { retry_at: Instant },
}

/// Admits requests against their limits; see the module docs.
#[derive(Debug)]
pub struct Limiter {
    /// This process's counters: all of them without Redis, the fallback's
    /// with it.
    local: Arc<Counters>,
    sharing: Option<Sharing>,
    health: Mutex<Health>,
    /// Spend read from the usage records, to put in Redis once it answers.
    preloads: Mutex<Vec<(ScopeKind, String, u32, u64)>>,
    metrics: Option<(
        prometheus_client::metrics::counter::Counter,
        prometheus_client::metrics::gauge::Gauge,
    )>,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::local()
    }
}

impl Limiter {
    /// Counts in this process only.
    pub fn local() -> Limiter {
        Limiter {
            local: Counters::new(),
            sharing: None,
            health: Mutex::new(Health::Shared),
            preloads: Mutex::new(Vec::new()),
            metrics: None,
        }
    }

    /// Counts in Redis, as `sharing` says.
    pub fn shared(sharing: Sharing) -> Limiter {
        Limiter {
            sharing: Some(sharing),
            ..Limiter::local()
        }
    }

    /// Reports Redis failures and the degraded state in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Limiter {
        self.metrics = Some((
            metrics.limiter_redis_errors.clone(),
            metrics.limiter_degraded.clone(),
        ));
        self
    }

    /// The shared counters, when limits are shared.
    pub fn sharing(&self) -> Option<&Sharing> {
        self.sharing.as_ref()
    }

    /// Whether requests are now counted without Redis although it is
    /// configured.
    pub fn degraded(&self) -> bool {
        matches!(
            *self.health.lock().unwrap_or_else(PoisonError::into_inner),
            Health::Degraded { .. }
        )
    }

    /// Sets what a scope spent this month before this process started
    /// (from the usage records). With Redis, it is written there (unless
    /// another replica already did) the next time Redis answers.
    pub fn preload_spent(&self, kind: ScopeKind, id: &str, month: u32, spent_micro_usd: u64) {
        self.local.preload_spent(kind, id, month, spent_micro_usd);
        if self.sharing.is_some() {
            self.preloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((kind, id.to_owned(), month, spent_micro_usd));
        }
    }

    /// Admits a request against every scope, or says which limit refuses
    /// it.
    pub async fn admit(&self, scopes: &[Scope], ask: Ask, now: Now) -> Result<Permit, Refusal> {
        let Some(sharing) = &self.sharing else {
            return self.local.admit(scopes, ask, now);
        };
        // Nothing to count together: no call to Redis, and no refusal while
        // it is down.
        if scopes.iter().all(|scope| scope.limits.is_unlimited()) {
            return self.local.admit(scopes, ask, now);
        }
        let probe = match *self.health.lock().unwrap_or_else(PoisonError::into_inner) {
            Health::Shared => true,
            Health::Degraded { retry_at } => now.instant >= retry_at,
        };
        if probe {
            match self.shared_admit(sharing, scopes, ask, now).await {
                Ok(outcome) => {
                    self.recovered(sharing);
                    return outcome;
                }
                Err(error) => self.failed(sharing, &error, now.instant),
            }
        }
        match sharing.on_unavailable {
            OnUnavailable::FailClosed => Err(Refusal::Unavailable {
                reason: "the shared rate-limit counters (redis) cannot be reached".into(),
            }),
            OnUnavailable::Fallback => {
                let divided: Vec<Scope> = scopes
                    .iter()
                    .map(|scope| Scope {
                        limits: divide(scope.limits, sharing.replicas),
                        ..scope.clone()
                    })
                    .collect();
                self.local.admit(&divided, ask, now)
            }
        }
    }

    async fn shared_admit(
        &self,
        sharing: &Sharing,
        scopes: &[Scope],
        ask: Ask,
        now: Now,
    ) -> Result<Result<Permit, Refusal>, SharedError> {
        let preloads =
            std::mem::take(&mut *self.preloads.lock().unwrap_or_else(PoisonError::into_inner));
        for (i, (kind, id, month, spent)) in preloads.iter().enumerate() {
            if let Err(error) = sharing
                .counters
                .preload_spent(*kind, id, *month, *spent)
                .await
            {
                // Keep what was not written for the next try.
                self.preloads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(preloads.get(i..).unwrap_or_default().iter().cloned());
                return Err(error);
            }
        }
        sharing.counters.admit(scopes, ask, now.month).await
    }

    fn recovered(&self, sharing: &Sharing) {
        let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*health, Health::Degraded { .. }) {
            *health = Health::Shared;
            tracing::warn!(
                redis = sharing.counters.address(),
                "redis answers again; limits and budgets are shared across replicas again"
            );
            if let Some((_, degraded)) = &self.metrics {
                degraded.set(0);
            }
        }
    }

    fn failed(&self, sharing: &Sharing, error: &SharedError, now: Instant) {
        if let Some((errors, degraded)) = &self.metrics {
            errors.inc();
            degraded.set(1);
        }
        let mut health = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*health, Health::Shared) {
            match sharing.on_unavailable {
                OnUnavailable::FailClosed => tracing::error!(
                    %error,
                    "redis cannot be reached; refusing requests (503) until it answers (on_unavailable = fail-closed)"
                ),
                OnUnavailable::Fallback => tracing::error!(
                    %error,
                    replicas = sharing.replicas,
                    "redis cannot be reached; counting in this replica with every limit divided by the replicas until it answers (on_unavailable = fallback)"
                ),
            }
        }
        *health = Health::Degraded {
            retry_at: now + PROBE_EVERY,
        };
    }
}

/// `limits` shared by `replicas`: each gets its whole share, at least 1.
fn divide(limits: crate::limits::Limits, replicas: u32) -> crate::limits::Limits {
    let n = replicas.max(1);
    crate::limits::Limits {
        rpm: limits.rpm.map(|v| (v / n).max(1)),
        tpm: limits.tpm.map(|v| (v / n).max(1)),
        max_parallel: limits.max_parallel.map(|v| (v / n).max(1)),
        budget_micro_usd: limits.budget_micro_usd.map(|v| v / u64::from(n)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn fallback_shares_never_add_up_past_the_limit() {
        let limits = Limits {
            rpm: Some(100),
            tpm: Some(10_000),
            max_parallel: Some(4),
            budget_micro_usd: Some(1_000_000),
        };
        let each = divide(limits, 3);
        assert_eq!(each.rpm, Some(33));
        assert_eq!(each.tpm, Some(3_333));
        assert_eq!(each.max_parallel, Some(1));
        assert_eq!(each.budget_micro_usd, Some(333_333));
        assert_eq!(divide(limits, 0).rpm, Some(100));
    }

    #[test]
    fn on_unavailable_parses_its_two_choices() {
        assert_eq!(
            "fail-closed".parse::<OnUnavailable>(),
            Ok(OnUnavailable::FailClosed)
        );
        assert_eq!(
            "fallback".parse::<OnUnavailable>(),
            Ok(OnUnavailable::Fallback)
        );
        assert!(
            "open"
                .parse::<OnUnavailable>()
                .unwrap_err()
                .contains("fail-closed")
        );
    }
}
