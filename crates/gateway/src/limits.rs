//! Rate limits and budgets, counted in this process.
//!
//! Every key, and every team that has limits of its own, has a [`Limits`]
//! and a counter state: the admissions of the last minute (each with the
//! tokens it reserved), the requests running now, and the month's spend
//! with what running requests may still cost. [`Counters::admit`] checks
//! every scope a request counts against and reserves in all of them in one
//! step, holding each scope's lock (team first, then key), so concurrent
//! requests can never both take the last unit of a limit:
//!
//! - requests per minute: a sliding window over the exact admission times
//!   (at most `rpm` admissions in any 60 s);
//! - tokens per minute: the same window, each admission weighing what it
//!   reserved (prompt tokens + the most it may generate); [`Permit::settle`]
//!   replaces the reservation by what was used;
//! - parallel requests: released when the [`Permit`] is dropped;
//! - a monthly budget in micro-dollars: a request is admitted while the
//!   month's spend plus what running requests reserved (their worst case)
//!   is under the budget, so concurrent requests overshoot it by at most
//!   one request's worst-case cost.
//!
//! Several replicas count in Redis instead ([`crate::shared`], with the same
//! rules in one atomic script); [`crate::limiter::Limiter`] chooses, and
//! falls back here when Redis cannot be reached. Either way a request holds
//! a [`Permit`]: `settle` it with what was used, drop it when done.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

pub use modelgate_inventory::Limits;

/// The window of the per-minute limits.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What a request counts against: a key, and its team when the team has
/// limits of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// One API key.
    Key,
    /// Every key of a team together.
    Team,
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeKind::Key => "key",
            ScopeKind::Team => "team",
        })
    }
}

/// One scope of a request: which counter, under which limits.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Key or team.
    pub kind: ScopeKind,
    /// The key's public id or the team's name.
    pub id: String,
    /// Its limits.
    pub limits: Limits,
}

/// What a request asks of its scopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ask {
    /// Tokens to reserve: prompt tokens plus the most it may generate.
    pub tokens: u64,
    /// Its worst-case cost in micro-dollars.
    pub cost_micro_usd: u64,
}

/// The time an admission is judged at.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time, for the windows.
    pub instant: Instant,
    /// The calendar month, as `year * 12 + month - 1` (UTC), for budgets.
    pub month: u32,
}

impl Now {
    /// The present.
    pub fn current() -> Now {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Now {
            instant: Instant::now(),
            month: month_of_unix(secs),
        }
    }
}

/// `year * 12 + month - 1` of a Unix time (UTC).
pub fn month_of_unix(secs: u64) -> u32 {
    // Days to civil date (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    u32::try_from(year * 12 + month - 1).unwrap_or(0)
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The requests-per-minute limit is reached.
    Requests {
        /// Whose limit.
        kind: ScopeKind,
        /// The limit.
        limit: u32,
        /// When one more request would be admitted.
        retry_after: Duration,
    },
    /// The tokens-per-minute limit is reached.
    Tokens {
        /// Whose limit.
        kind: ScopeKind,
        /// The limit.
        limit: u32,
        /// What the request reserves.
        asked: u64,
        /// When it would fit; `None` when it never fits (it asks more than
        /// the whole limit).
        retry_after: Option<Duration>,
    },
    /// As many requests as allowed are running.
    Parallel {
        /// Whose limit.
        kind: ScopeKind,
        /// The limit.
        limit: u32,
    },
    /// The month's budget is spent.
    Budget {
        /// Whose budget.
        kind: ScopeKind,
        /// The budget in micro-dollars.
        limit_micro_usd: u64,
        /// Spent this month.
        spent_micro_usd: u64,
    },
    /// The shared counters (Redis) cannot be reached and the gateway is
    /// configured to fail closed.
    Unavailable {
        /// What went wrong, for the log and the client.
        reason: String,
    },
}

impl Refusal {
    /// How long a client should wait, when waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::Requests { retry_after, .. } => Some(*retry_after),
            Refusal::Tokens { retry_after, .. } => *retry_after,
            Refusal::Parallel { .. } => Some(Duration::from_millis(250)),
            Refusal::Budget { .. } => None,
            Refusal::Unavailable { .. } => Some(Duration::from_secs(1)),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Requests {
                kind,
                limit,
                retry_after,
            } => write!(
                f,
                "Rate limit reached: this {kind} may make {limit} requests per minute; retry in {} ms",
                retry_after.as_millis()
            ),
            Refusal::Tokens {
                kind,
                limit,
                asked,
                retry_after: Some(after),
            } => write!(
                f,
                "Rate limit reached: this {kind} may use {limit} tokens per minute and the request reserves {asked} (prompt + max_tokens); retry in {} ms or ask for fewer max_tokens",
                after.as_millis()
            ),
            Refusal::Tokens {
                kind,
                limit,
                asked,
                retry_after: None,
            } => write!(
                f,
                "Request too large: it reserves {asked} tokens (prompt + max_tokens) but this {kind} may use {limit} tokens per minute; lower max_tokens or shorten the prompt"
            ),
            Refusal::Parallel { kind, limit } => write!(
                f,
                "Too many requests at once: this {kind} may run {limit} in parallel; retry when one finishes"
            ),
            Refusal::Budget {
                kind,
                limit_micro_usd,
                spent_micro_usd,
            } => write!(
                f,
                "You exceeded your current quota: this {kind}'s monthly budget of {} USD is spent ({} USD so far this month); ask an administrator to raise it",
                usd(*limit_micro_usd),
                usd(*spent_micro_usd)
            ),
            Refusal::Unavailable { reason } => write!(
                f,
                "The gateway cannot count this request against its limits right now ({reason}); retry shortly"
            ),
        }
    }
}

/// Micro-dollars as a decimal string.
pub fn usd(micro: u64) -> String {
    format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000)
}

/// The `x-ratelimit-*` values of an admission, from the tightest scope that
/// has each limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// Requests per minute: limit, remaining after this one, time until the
    /// window is clear.
    pub requests: Option<(u32, u32, Duration)>,
    /// Tokens per minute: likewise.
    pub tokens: Option<(u32, u64, Duration)>,
}

impl RateHeaders {
    /// The header pairs, named as OpenAI names them.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(6);
        if let Some((limit, remaining, reset)) = self.requests {
            out.push(("x-ratelimit-limit-requests", limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", remaining.to_string()));
            out.push(("x-ratelimit-reset-requests", duration_text(reset)));
        }
        if let Some((limit, remaining, reset)) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", remaining.to_string()));
            out.push(("x-ratelimit-reset-tokens", duration_text(reset)));
        }
        out
    }
}

/// A duration as OpenAI writes reset times: `0s`, `1.5s`, `6m0s`.
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 60_000 {
        let secs = ms / 1000;
        let frac = ms % 1000;
        if frac == 0 {
            format!("{secs}s")
        } else {
            let digits = format!("{frac:03}");
            format!("{secs}.{}s", digits.trim_end_matches('0'))
        }
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    id: u64,
    tokens: u64,
}

/// One scope's counters.
#[derive(Debug, Default)]
struct State {
    window: VecDeque<Entry>,
    window_tokens: u64,
    running: u32,
    month: u32,
    spent: u64,
    reserved: u64,
}

impl State {
    fn prune(&mut self, now: Instant) {
        while let Some(front) = self.window.front() {
            if now.saturating_duration_since(front.at) >= WINDOW {
                self.window_tokens = self.window_tokens.saturating_sub(front.tokens);
                self.window.pop_front();
            } else {
                break;
            }
        }
    }

    fn roll_month(&mut self, month: u32) {
        if self.month != month {
            self.month = month;
            self.spent = 0;
        }
    }

    /// When the window's `n`-th oldest entry leaves it.
    fn leaves_at(&self, index: usize, now: Instant) -> Duration {
        self.window.get(index).map_or(Duration::ZERO, |e| {
            (e.at + WINDOW).saturating_duration_since(now)
        })
    }

    /// Whether one more request asking `ask` fits under `limits`.
    fn check(
        &self,
        kind: ScopeKind,
        limits: &Limits,
        ask: Ask,
        now: Instant,
    ) -> Result<(), Refusal> {
        if let Some(limit) = limits.budget_micro_usd
            && self.spent.saturating_add(self.reserved) >= limit
        {
            return Err(Refusal::Budget {
                kind,
                limit_micro_usd: limit,
                spent_micro_usd: self.spent,
            });
        }
        if let Some(limit) = limits.max_parallel
            && self.running >= limit
        {
            return Err(Refusal::Parallel { kind, limit });
        }
        if let Some(limit) = limits.rpm {
            let count = self.window.len();
            if count >= limit as usize {
                // The oldest admission that must leave for one more to fit.
                let retry_after = self.leaves_at(count - limit as usize, now);
                return Err(Refusal::Requests {
                    kind,
                    limit,
                    retry_after: retry_after.max(Duration::from_millis(1)),
                });
            }
        }
        if let Some(limit) = limits.tpm {
            let limit64 = u64::from(limit);
            if ask.tokens > limit64 {
                return Err(Refusal::Tokens {
                    kind,
                    limit,
                    asked: ask.tokens,
                    retry_after: None,
                });
            }
            if self.window_tokens.saturating_add(ask.tokens) > limit64 {
                // Wait until enough old reservations leave the window.
                let mut freed = 0u64;
                let need = self.window_tokens + ask.tokens - limit64;
                let mut after = WINDOW;
                for (i, entry) in self.window.iter().enumerate() {
                    freed += entry.tokens;
                    if freed >= need {
                        after = self.leaves_at(i, now);
                        break;
                    }
                }
                return Err(Refusal::Tokens {
                    kind,
                    limit,
                    asked: ask.tokens,
                    retry_after: Some(after.max(Duration::from_millis(1))),
                });
            }
        }
        Ok(())
    }

    fn take(&mut self, limits: &Limits, id: u64, ask: Ask, now: Instant) {
        if limits.rpm.is_some() || limits.tpm.is_some() {
            self.window.push_back(Entry {
                at: now,
                id,
                tokens: ask.tokens,
            });
            self.window_tokens = self.window_tokens.saturating_add(ask.tokens);
        }
        self.running = self.running.saturating_add(1);
        self.reserved = self.reserved.saturating_add(ask.cost_micro_usd);
    }

    fn headers(&self, limits: &Limits, now: Instant) -> RateHeaders {
        let reset = self.window.back().map_or(Duration::ZERO, |e| {
            (e.at + WINDOW).saturating_duration_since(now)
        });
        RateHeaders {
            requests: limits.rpm.map(|limit| {
                let used = u32::try_from(self.window.len()).unwrap_or(u32::MAX);
                (limit, limit.saturating_sub(used), reset)
            }),
            tokens: limits.tpm.map(|limit| {
                (
                    limit,
                    u64::from(limit).saturating_sub(self.window_tokens),
                    reset,
                )
            }),
        }
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The counters of every key and team, in this process.
#[derive(Debug, Default)]
pub struct Counters {
    states: RwLock<HashMap<(ScopeKind, String), Shared>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Counters {
    /// Empty counters.
    pub fn new() -> Arc<Counters> {
        Arc::new(Counters::default())
    }

    fn state(&self, kind: ScopeKind, id: &str) -> Shared {
        let key = (kind, id.to_owned());
        if let Some(found) = self
            .states
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Arc::clone(found);
        }
        let mut states = self.states.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(states.entry(key).or_default())
    }

    /// Sets what a scope spent this month before this process started
    /// (from the usage records).
    pub fn preload_spent(&self, kind: ScopeKind, id: &str, month: u32, spent_micro_usd: u64) {
        let state = self.state(kind, id);
        let mut state = lock(&state);
        state.month = month;
        state.spent = spent_micro_usd;
    }

    /// What a scope spent this month, with what running requests reserved.
    pub fn spent(&self, kind: ScopeKind, id: &str) -> (u64, u64) {
        let state = self.state(kind, id);
        let state = lock(&state);
        (state.spent, state.reserved)
    }

    /// Admits a request against every scope, or says which limit refuses
    /// it. Scopes are locked team first, then key; on admission the
    /// request is counted in all of them before any lock is released.
    pub fn admit(
        self: &Arc<Self>,
        scopes: &[Scope],
        ask: Ask,
        now: Now,
    ) -> Result<Permit, Refusal> {
        let mut ordered: Vec<&Scope> = scopes.iter().collect();
        ordered.sort_by_key(|s| match s.kind {
            ScopeKind::Team => 0,
            ScopeKind::Key => 1,
        });
        let shared: Vec<Shared> = ordered.iter().map(|s| self.state(s.kind, &s.id)).collect();
        let mut guards: Vec<_> = shared.iter().map(lock).collect();
        for (scope, state) in ordered.iter().zip(guards.iter_mut()) {
            state.prune(now.instant);
            state.roll_month(now.month);
            state.check(scope.kind, &scope.limits, ask, now.instant)?;
        }
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut headers = RateHeaders::default();
        for (scope, state) in ordered.iter().zip(guards.iter_mut()) {
            state.take(&scope.limits, id, ask, now.instant);
            let these = state.headers(&scope.limits, now.instant);
            headers.requests = tighter(headers.requests, these.requests, |r| u64::from(r.1));
            headers.tokens = tighter(headers.tokens, these.tokens, |t| t.1);
        }
        drop(guards);
        Ok(Permit {
            hold: Some(Hold::Local {
                held: ordered
                    .iter()
                    .zip(shared)
                    .map(|(scope, state)| (state, scope.limits))
                    .collect(),
                id,
            }),
            ask,
            headers,
            settled: None,
        })
    }
}

fn tighter<T: Copy>(a: Option<T>, b: Option<T>, remaining: impl Fn(&T) -> u64) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if remaining(&b) < remaining(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// An admitted request's reservations. Dropping it ends the request: its
/// parallel slot is freed and, unless [`settle`](Permit::settle) said what
/// it cost, its reserved budget is released (nothing was charged) while its
/// token reservation stays counted. The reservations live in this process
/// ([`Counters`]) or in the shared counters ([`crate::shared`]); dropping a
/// shared permit sends its release without waiting for it.
#[derive(Debug)]
pub struct Permit {
    hold: Option<Hold>,
    ask: Ask,
    headers: RateHeaders,
    /// Tokens used and cost, once settled.
    settled: Option<(u64, u64)>,
}

/// Where a permit's reservations are held.
#[derive(Debug)]
enum Hold {
    /// In this process: each scope's state and limits, and the admission's
    /// id in the windows.
    Local {
        held: Vec<(Shared, Limits)>,
        id: u64,
    },
    /// In the shared counters.
    Shared(crate::shared::Held),
}

impl Permit {
    /// A permit held in the shared counters.
    pub(crate) fn shared(held: crate::shared::Held, ask: Ask, headers: RateHeaders) -> Permit {
        Permit {
            hold: Some(Hold::Shared(held)),
            ask,
            headers,
            settled: None,
        }
    }

    /// The `x-ratelimit-*` values as of this admission.
    pub fn headers(&self) -> RateHeaders {
        self.headers
    }

    /// What was reserved.
    pub fn ask(&self) -> Ask {
        self.ask
    }

    /// Replaces the reservation by what the request used and cost.
    pub fn settle(&mut self, tokens: u64, cost_micro_usd: u64) {
        if self.settled.is_some() {
            return;
        }
        self.settled = Some((tokens, cost_micro_usd));
        // A shared permit sends what it used with its release, in one call.
        let Some(Hold::Local { held, id }) = &self.hold else {
            return;
        };
        for (state, _) in held {
            let mut state = lock(state);
            if let Some(entry) = state.window.iter_mut().find(|e| e.id == *id) {
                let before = entry.tokens;
                entry.tokens = tokens;
                state.window_tokens = state
                    .window_tokens
                    .saturating_sub(before)
                    .saturating_add(tokens);
            }
            state.reserved = state.reserved.saturating_sub(self.ask.cost_micro_usd);
            state.spent = state.spent.saturating_add(cost_micro_usd);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        match self.hold.take() {
            Some(Hold::Local { held, .. }) => {
                for (state, _) in &held {
                    let mut state = lock(state);
                    state.running = state.running.saturating_sub(1);
                    if self.settled.is_none() {
                        state.reserved = state.reserved.saturating_sub(self.ask.cost_micro_usd);
                    }
                }
            }
            Some(Hold::Shared(held)) => held.release(self.settled),
            None => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn key(limits: Limits) -> Vec<Scope> {
        vec![Scope {
            kind: ScopeKind::Key,
            id: "k1".into(),
            limits,
        }]
    }

    fn at(base: Instant, secs: u64) -> Now {
        Now {
            instant: base + Duration::from_secs(secs),
            month: 24_300,
        }
    }

    #[test]
    fn requests_per_minute_is_a_sliding_window() {
        let counters = Counters::new();
        let base = Instant::now();
        let scopes = key(Limits {
            rpm: Some(3),
            ..Limits::default()
        });
        let mut held = Vec::new();
        for s in 0..3 {
            held.push(
                counters
                    .admit(&scopes, Ask::default(), at(base, s * 10))
                    .unwrap(),
            );
        }
        let refused = counters
            .admit(&scopes, Ask::default(), at(base, 30))
            .unwrap_err();
        assert_eq!(
            refused,
            Refusal::Requests {
                kind: ScopeKind::Key,
                limit: 3,
                retry_after: Duration::from_secs(30)
            }
        );
        // The first admission (t=0) leaves the window at t=60.
        assert!(
            counters
                .admit(&scopes, Ask::default(), at(base, 59))
                .is_err()
        );
        let fourth = counters
            .admit(&scopes, Ask::default(), at(base, 60))
            .unwrap();
        assert_eq!(
            fourth.headers().requests,
            Some((3, 0, Duration::from_secs(60)))
        );
    }

    #[test]
    fn tokens_are_reserved_then_reconciled() {
        let counters = Counters::new();
        let base = Instant::now();
        let scopes = key(Limits {
            tpm: Some(1000),
            ..Limits::default()
        });
        let ask = Ask {
            tokens: 600,
            cost_micro_usd: 0,
        };
        let mut first = counters.admit(&scopes, ask, at(base, 0)).unwrap();
        assert_eq!(
            first.headers().tokens,
            Some((1000, 400, Duration::from_secs(60)))
        );
        let second = counters.admit(&scopes, ask, at(base, 1)).unwrap_err();
        assert!(
            matches!(second, Refusal::Tokens { retry_after: Some(d), .. } if d == Duration::from_secs(59))
        );
        first.settle(100, 0);
        drop(first);
        let third = counters.admit(&scopes, ask, at(base, 2)).unwrap();
        assert_eq!(third.headers().tokens.map(|t| t.1), Some(300));
        let huge = Ask {
            tokens: 1001,
            cost_micro_usd: 0,
        };
        assert!(matches!(
            counters.admit(&scopes, huge, at(base, 3)),
            Err(Refusal::Tokens {
                retry_after: None,
                ..
            })
        ));
    }

    #[test]
    fn parallel_requests_are_freed_on_drop() {
        let counters = Counters::new();
        let base = Instant::now();
        let scopes = key(Limits {
            max_parallel: Some(2),
            ..Limits::default()
        });
        let a = counters
            .admit(&scopes, Ask::default(), at(base, 0))
            .unwrap();
        let _b = counters
            .admit(&scopes, Ask::default(), at(base, 0))
            .unwrap();
        assert!(matches!(
            counters.admit(&scopes, Ask::default(), at(base, 0)),
            Err(Refusal::Parallel { limit: 2, .. })
        ));
        drop(a);
        assert!(counters.admit(&scopes, Ask::default(), at(base, 0)).is_ok());
    }

    #[test]
    fn budget_overshoots_by_at_most_one_worst_case_and_resets_monthly() {
        let counters = Counters::new();
        let base = Instant::now();
        let scopes = key(Limits {
            budget_micro_usd: Some(1_000),
            ..Limits::default()
        });
        counters.preload_spent(ScopeKind::Key, "k1", 24_300, 900);
        let ask = Ask {
            tokens: 10,
            cost_micro_usd: 300,
        };
        let mut only = counters.admit(&scopes, ask, at(base, 0)).unwrap();
        assert!(matches!(
            counters.admit(&scopes, ask, at(base, 0)),
            Err(Refusal::Budget {
                spent_micro_usd: 900,
                ..
            })
        ));
        only.settle(10, 250);
        drop(only);
        assert_eq!(counters.spent(ScopeKind::Key, "k1"), (1_150, 0));
        let next_month = Now {
            instant: base,
            month: 24_301,
        };
        assert!(counters.admit(&scopes, ask, next_month).is_ok());
    }

    #[test]
    fn an_unsettled_request_releases_its_budget_reservation() {
        let counters = Counters::new();
        let scopes = key(Limits {
            budget_micro_usd: Some(1_000),
            ..Limits::default()
        });
        let ask = Ask {
            tokens: 1,
            cost_micro_usd: 2_000,
        };
        let now = Now::current();
        drop(counters.admit(&scopes, ask, now).unwrap());
        assert_eq!(counters.spent(ScopeKind::Key, "k1").1, 0);
        assert!(counters.admit(&scopes, ask, now).is_ok());
    }

    #[test]
    fn a_team_limit_binds_all_its_keys() {
        let counters = Counters::new();
        let now = Now::current();
        let team = Scope {
            kind: ScopeKind::Team,
            id: "search".into(),
            limits: Limits {
                rpm: Some(2),
                ..Limits::default()
            },
        };
        let for_key = |id: &str| {
            vec![
                Scope {
                    kind: ScopeKind::Key,
                    id: id.into(),
                    limits: Limits {
                        rpm: Some(10),
                        ..Limits::default()
                    },
                },
                team.clone(),
            ]
        };
        let first = counters.admit(&for_key("a"), Ask::default(), now).unwrap();
        assert_eq!(first.headers().requests.map(|r| r.1), Some(1));
        counters.admit(&for_key("b"), Ask::default(), now).unwrap();
        assert!(matches!(
            counters.admit(&for_key("c"), Ask::default(), now),
            Err(Refusal::Requests {
                kind: ScopeKind::Team,
                ..
            })
        ));
    }

    #[test]
    fn concurrent_admissions_never_exceed_the_limit() {
        let counters = Counters::new();
        let scopes = key(Limits {
            tpm: Some(1_000),
            ..Limits::default()
        });
        let ask = Ask {
            tokens: 37,
            cost_micro_usd: 0,
        };
        let now = Now::current();
        let admitted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        if let Ok(permit) = counters.admit(&scopes, ask, now) {
                            admitted.fetch_add(ask.tokens, std::sync::atomic::Ordering::SeqCst);
                            std::mem::forget(permit);
                        }
                    }
                });
            }
        });
        let total = admitted.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(total, 1_000 / 37 * 37);
    }

    #[test]
    fn concurrent_requests_overshoot_a_budget_by_at_most_one_worst_case() {
        let counters = Counters::new();
        let scopes = key(Limits {
            budget_micro_usd: Some(1_000),
            ..Limits::default()
        });
        let now = Now::current();
        counters.preload_spent(ScopeKind::Key, "k1", now.month, 900);
        let worst = 300;
        let ask = Ask {
            tokens: 1,
            cost_micro_usd: worst,
        };
        let admitted = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..50 {
                s.spawn(|| {
                    if let Ok(mut permit) = counters.admit(&scopes, ask, now) {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // Every admitted request costs its worst case.
                        permit.settle(1, worst);
                    }
                });
            }
        });
        let (spent, reserved) = counters.spent(ScopeKind::Key, "k1");
        assert_eq!(reserved, 0);
        assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(spent <= 1_000 + worst, "{spent}");
    }

    #[test]
    fn months_and_durations_are_written_as_expected() {
        // 2026-12-02T00:00:00Z
        assert_eq!(month_of_unix(1_796_169_600), 2026 * 12 + 11);
        // 2024-02-29T12:00:00Z
        assert_eq!(month_of_unix(1_709_208_000), 2024 * 12 + 1);
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration_text(Duration::from_secs(6)), "6s");
        assert_eq!(duration_text(Duration::from_secs(360)), "6m0s");
        assert_eq!(usd(1_250_000), "1.250000");
    }
}
