//! Pure helpers for retries and fallback: a per-target circuit breaker, full
//! jitter backoff, and reading `retry-after` headers. The clock and the
//! random source are passed in, so each is tested without waiting.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

/// The longest wait [`retry_after`] will report; a longer request is capped
/// (the caller's deadline usually cuts it shorter anyway).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a [`Breaker`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are being counted.
    Closed,
    /// Calls are refused until the cooldown ends.
    Open,
    /// The cooldown has ended: one probe call may go through.
    HalfOpen,
}

/// A circuit breaker for one target.
///
/// Closed, it lets every call through and counts consecutive failures; at
/// `failure_threshold` it opens and refuses calls for `cooldown`. Then it is
/// half-open: [`Breaker::allow`] lets one probe through; the probe's success
/// closes it, its failure opens it for another cooldown. A probe whose
/// outcome is never reported (the call was dropped) is given up after one
/// cooldown, and another probe may go.
///
/// It holds no lock: the gateway keeps one per target behind a mutex, and
/// reports each call's outcome with [`Breaker::record_success`] or
/// [`Breaker::record_failure`] (failures being those that
/// [`crate::UpstreamError::may_fall_back`] accepts).
#[derive(Debug, Clone)]
pub struct Breaker {
    failure_threshold: u32,
    cooldown: Duration,
    consecutive_failures: u32,
    /// Set while open: when the cooldown ends.
    open_until: Option<Instant>,
    /// Set while half-open with a probe out: when it was let through.
    probe_since: Option<Instant>,
}

/// The default number of consecutive failures that opens a breaker.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// The default time a breaker stays open.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);

impl Default for Breaker {
    fn default() -> Self {
        Self::new(DEFAULT_FAILURE_THRESHOLD, DEFAULT_COOLDOWN)
    }
}

impl Breaker {
    /// A closed breaker that opens after `failure_threshold` consecutive
    /// failures (at least 1) and stays open for `cooldown`.
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            cooldown,
            consecutive_failures: 0,
            open_until: None,
            probe_since: None,
        }
    }

    /// Where the breaker stands at `now`.
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
            None => BreakerState::Closed,
        }
    }

    /// Whether a call may go to the target at `now`. In the half-open state
    /// this lets one probe through and refuses the rest until its outcome
    /// is recorded (or one cooldown has passed without it).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => match self.probe_since {
                Some(since) if now.saturating_duration_since(since) < self.cooldown => false,
                _ => {
                    self.probe_since = Some(now);
                    true
                }
            },
        }
    }

    /// A call succeeded: the breaker closes and the count restarts.
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.open_until = None;
        self.probe_since = None;
    }

    /// A call failed at `now`: a closed breaker counts it and opens at the
    /// threshold; a half-open one opens again.
    pub fn record_failure(&mut self, now: Instant) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let reopen = match self.state(now) {
            BreakerState::Closed => self.consecutive_failures >= self.failure_threshold,
            BreakerState::HalfOpen => true,
            // A call let through before the breaker opened: already open.
            BreakerState::Open => false,
        };
        if reopen {
            self.open_until = Some(now.checked_add(self.cooldown).unwrap_or(now));
            self.probe_since = None;
        }
    }
}

/// The wait before retry number `attempt` (0 for the first retry), with full
/// jitter: uniform between zero and `min(cap, base × 2^attempt)`. `rng`
/// gives a number in `[0, 1)` (e.g. `fastrand::f64`); values outside are
/// clamped.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, rng: impl FnOnce() -> f64) -> Duration {
    let ceiling = 2u32
        .checked_pow(attempt)
        .and_then(|factor| base.checked_mul(factor))
        .map_or(cap, |grown| grown.min(cap));
    let fraction = rng();
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    ceiling.mul_f64(fraction)
}

/// How long the provider asked to wait: `retry-after-ms` (milliseconds,
/// OpenAI's) if present, else `retry-after` in seconds or as an HTTP date.
/// Capped at [`MAX_RETRY_AFTER`]; `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] with the clock passed in, for an HTTP date.
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(millis) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && millis.is_finite()
        && millis >= 0.0
    {
        let duration = Duration::try_from_secs_f64(millis / 1000.0).unwrap_or(MAX_RETRY_AFTER);
        return Some(duration.min(MAX_RETRY_AFTER));
    }
    let value = header("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn breaker_opens_after_threshold_then_probes() {
        let start = Instant::now();
        let cooldown = Duration::from_secs(30);
        let mut breaker = Breaker::new(3, cooldown);
        for _ in 0..2 {
            assert!(breaker.allow(start));
            breaker.record_failure(start);
        }
        assert_eq!(breaker.state(start), BreakerState::Closed);
        // A success in between restarts the count.
        breaker.record_success();
        for _ in 0..2 {
            breaker.record_failure(start);
        }
        assert_eq!(breaker.state(start), BreakerState::Closed);
        breaker.record_failure(start);
        assert_eq!(breaker.state(start), BreakerState::Open);
        assert!(!breaker.allow(start));
        assert!(!breaker.allow(start + cooldown - Duration::from_millis(1)));

        let later = start + cooldown;
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        assert!(breaker.allow(later), "one probe goes through");
        assert!(!breaker.allow(later), "a second waits for the probe");
        breaker.record_success();
        assert_eq!(breaker.state(later), BreakerState::Closed);
        assert!(breaker.allow(later));
    }

    #[test]
    fn failed_probe_reopens_for_a_full_cooldown() {
        let start = Instant::now();
        let cooldown = Duration::from_secs(10);
        let mut breaker = Breaker::new(1, cooldown);
        breaker.record_failure(start);
        assert!(!breaker.allow(start));
        let probe_at = start + cooldown;
        assert!(breaker.allow(probe_at));
        breaker.record_failure(probe_at + Duration::from_secs(1));
        assert_eq!(
            breaker.state(probe_at + Duration::from_secs(2)),
            BreakerState::Open
        );
        assert!(!breaker.allow(probe_at + cooldown));
        assert!(breaker.allow(probe_at + Duration::from_secs(1) + cooldown));
    }

    #[test]
    fn lost_probe_is_replaced_after_a_cooldown() {
        let start = Instant::now();
        let cooldown = Duration::from_secs(10);
        let mut breaker = Breaker::new(1, cooldown);
        breaker.record_failure(start);
        assert!(breaker.allow(start + cooldown));
        assert!(!breaker.allow(start + cooldown + Duration::from_secs(9)));
        assert!(breaker.allow(start + cooldown * 2));
    }

    #[test]
    fn default_is_five_failures_thirty_seconds() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        for _ in 0..4 {
            breaker.record_failure(start);
        }
        assert!(breaker.allow(start));
        breaker.record_failure(start);
        assert!(!breaker.allow(start + Duration::from_secs(29)));
        assert!(breaker.allow(start + Duration::from_secs(30)));
    }

    #[test]
    fn backoff_is_full_jitter_under_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        assert_eq!(backoff(0, base, cap, || 0.0), Duration::ZERO);
        assert_eq!(backoff(0, base, cap, || 0.5), Duration::from_millis(50));
        assert_eq!(backoff(3, base, cap, || 0.5), Duration::from_millis(400));
        assert_eq!(backoff(5, base, cap, || 0.5), Duration::from_secs(1));
        assert_eq!(backoff(40, base, cap, || 0.5), Duration::from_secs(1));
        assert_eq!(backoff(u32::MAX, base, cap, || 1.0), cap);
        assert_eq!(backoff(1, base, cap, || f64::NAN), Duration::ZERO);
        assert_eq!(backoff(1, base, cap, || 7.0), Duration::from_millis(200));
        // A seeded generator's values stay within [0, ceiling).
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for attempt in 0..12 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let wait = backoff(attempt, base, cap, || unit);
            assert!(wait < cap.min(base * 2u32.pow(attempt)));
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let read = |pairs| retry_after_at(&headers(pairs), now);
        assert_eq!(
            read(&[("retry-after-ms", "1500")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            read(&[("retry-after-ms", "12.5")]),
            Some(Duration::from_micros(12_500))
        );
        assert_eq!(
            read(&[("retry-after-ms", "250"), ("retry-after", "7")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(read(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
        assert_eq!(
            read(&[("retry-after", "Wed, 21 Oct 2015 07:28:42 GMT")]),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            read(&[("retry-after", "Wed, 21 Oct 2015 07:00:00 GMT")]),
            Some(Duration::ZERO)
        );
        assert_eq!(
            read(&[("retry-after", "99999999999")]),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            read(&[("retry-after-ms", "-5"), ("retry-after", "3")]),
            Some(Duration::from_secs(3))
        );
        assert_eq!(read(&[("retry-after", "soon")]), None);
        assert_eq!(read(&[]), None);
    }
}
