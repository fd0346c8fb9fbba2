//! Rate limits and budgets counted in Redis, so that every replica of the
//! gateway enforces one limit.
//!
//! The rules are [`crate::limits`]'s (a sliding one-minute window of exact
//! admission times for requests and tokens, parallel requests, a monthly
//! budget that running requests' worst case counts against), run by Redis
//! itself in one Lua script per admission ([`ADMIT`]) and one per release
//! ([`RELEASE`]): a script runs atomically, so two replicas can never both
//! take the last unit of a limit, and the clock is Redis's (`TIME`), so the
//! replicas' clocks need not agree.
//!
//! Each scope (a key, or a team with limits of its own) has these keys,
//! under a prefix (`modelgate:` by default):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `{kind}:{id}:win` | sorted set | admissions of the window, scored by time (ms) |
//! | `{kind}:{id}:wtok` | hash | tokens each admission reserved, then used |
//! | `{kind}:{id}:wsum` | string | their sum |
//! | `{kind}:{id}:run` | sorted set | running requests, scored by when their lease ends |
//! | `{kind}:{id}:rcost` | hash | each running request's worst-case cost |
//! | `{kind}:{id}:rsum` | string | their sum (the budget's reservation) |
//! | `{kind}:{id}:spent:{month}` | string | micro-dollars spent that month |
//!
//! A running request holds a lease of [`LEASE`]; a replica that dies
//! mid-request leaves its slot and reservation behind only until then. (A
//! request that really runs longer stops counting against the parallel
//! limit and the budget's reservation when its lease ends; its cost is
//! still charged when it finishes.) The
//! window's keys expire a minute after the last admission, the month's
//! spend 40 days after its last charge. Ids are made of a random replica id
//! and a counter, so they never collide across replicas.
//!
//! One Redis (or a primary with replicas behind Sentinel) holds the
//! counters; Redis Cluster is not supported, since a request's scopes
//! (key and team) hash to different slots.
//!
//! [`client`] reads the URL for this and [`crate::notify`]: `redis://`, or
//! `rediss://` for TLS (rustls), the server's certificate checked against
//! the system's CAs or the PEM file `ssl_ca_certs` names in the URL's
//! query, and a client certificate presented when `ssl_certfile` and
//! `ssl_keyfile` name one (the names redis-py gives them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::limits::{Ask, Permit, RateHeaders, Refusal, Scope, ScopeKind};

/// How long a running request holds its parallel slot and budget
/// reservation if its replica never releases them (it died): the gateway's
/// longest request.
pub const LEASE: Duration = Duration::from_secs(600);

/// The default prefix of every key.
pub const DEFAULT_PREFIX: &str = "modelgate:";

/// How long the month's spend is kept after its last charge.
const SPENT_TTL_SECS: u64 = 40 * 86_400;

/// Keys per scope passed to the scripts.
const KEYS_PER_SCOPE: usize = 7;

/// Admits a request against every scope, or says which refuses it.
///
/// KEYS: per scope, in order: win, wtok, wsum, run, rcost, rsum, spent.
/// ARGV: scopes, id, tokens, cost, lease (ms), then per scope rpm, tpm,
/// parallel, budget (-1: no limit).
/// Returns `{"ok", requests limit, requests remaining, tokens limit,
/// tokens remaining}` (-1: no such limit), or `{reason, scope index, limit,
/// detail}` where detail is retry-after (ms, -1 for never) or the spend.
pub const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local id = ARGV[2]
local tokens = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local window = 60000

local function num(v) return tonumber(v) or 0 end

-- Drop what left the window, and leases that ended, summing what they held.
local function prune(zset, hash, sum, upto)
  local old = redis.call('ZRANGEBYSCORE', zset, '-inf', upto)
  if #old == 0 then return end
  local freed = 0
  for i = 1, #old, 500 do
    local part = {}
    for j = i, math.min(i + 499, #old) do part[#part + 1] = old[j] end
    for _, v in ipairs(redis.call('HMGET', hash, unpack(part))) do freed = freed + num(v) end
    redis.call('HDEL', hash, unpack(part))
  end
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', upto)
  redis.call('DECRBY', sum, freed)
end

for s = 0, n - 1 do
  local k = s * 7
  local rpm = tonumber(ARGV[6 + s * 4])
  local tpm = tonumber(ARGV[7 + s * 4])
  local par = tonumber(ARGV[8 + s * 4])
  local budget = tonumber(ARGV[9 + s * 4])
  prune(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], now - window)
  prune(KEYS[k + 4], KEYS[k + 5], KEYS[k + 6], now)
  if budget >= 0 then
    local spent = num(redis.call('GET', KEYS[k + 7]))
    if spent + num(redis.call('GET', KEYS[k + 6])) >= budget then
      return {'budget', s, budget, spent}
    end
  end
  if par >= 0 and redis.call('ZCARD', KEYS[k + 4]) >= par then
    return {'parallel', s, par, 0}
  end
  if rpm >= 0 then
    local count = redis.call('ZCARD', KEYS[k + 1])
    if count >= rpm then
      local oldest = redis.call('ZRANGE', KEYS[k + 1], count - rpm, count - rpm, 'WITHSCORES')
      local after = window
      if oldest[2] then after = tonumber(oldest[2]) + window - now end
      return {'requests', s, rpm, math.max(after, 1)}
    end
  end
  if tpm >= 0 then
    if tokens > tpm then return {'tokens', s, tpm, -1} end
    local sum = num(redis.call('GET', KEYS[k + 3]))
    if sum + tokens > tpm then
      -- When enough of the oldest reservations leave; looking at the
      -- oldest 1000 at most (a refusal must stay cheap), else a window.
      local need = sum + tokens - tpm
      local freed = 0
      local after = window
      local entries = redis.call('ZRANGE', KEYS[k + 1], 0, 999, 'WITHSCORES')
      if #entries > 0 then
        local ids = {}
        for i = 1, #entries, 2 do ids[#ids + 1] = entries[i] end
        local reserved = redis.call('HMGET', KEYS[k + 2], unpack(ids))
        for i = 1, #ids do
          freed = freed + num(reserved[i])
          if freed >= need then
            after = tonumber(entries[i * 2]) + window - now
            break
          end
        end
      end
      return {'tokens', s, tpm, math.max(after, 1)}
    end
  end
end

local req_limit, req_left, tok_limit, tok_left = -1, -1, -1, -1
for s = 0, n - 1 do
  local k = s * 7
  local rpm = tonumber(ARGV[6 + s * 4])
  local tpm = tonumber(ARGV[7 + s * 4])
  if rpm >= 0 or tpm >= 0 then
    redis.call('ZADD', KEYS[k + 1], now, id)
    redis.call('HSET', KEYS[k + 2], id, tokens)
    redis.call('INCRBY', KEYS[k + 3], tokens)
    for j = 1, 3 do redis.call('PEXPIRE', KEYS[k + j], window + 1000) end
  end
  redis.call('ZADD', KEYS[k + 4], now + lease, id)
  redis.call('HSET', KEYS[k + 5], id, cost)
  redis.call('INCRBY', KEYS[k + 6], cost)
  for j = 4, 6 do redis.call('PEXPIRE', KEYS[k + j], lease + 1000) end
  if rpm >= 0 then
    local left = rpm - redis.call('ZCARD', KEYS[k + 1])
    if req_left < 0 or left < req_left then req_limit, req_left = rpm, left end
  end
  if tpm >= 0 then
    local left = math.max(tpm - num(redis.call('GET', KEYS[k + 3])), 0)
    if tok_left < 0 or left < tok_left then tok_limit, tok_left = tpm, left end
  end
end
return {'ok', req_limit, req_left, tok_limit, tok_left}
"#;

/// Ends a request: frees its slot and reservation and, when it was
/// settled, replaces its token reservation by what it used and charges
/// its cost to the month.
///
/// KEYS: as [`ADMIT`]. ARGV: scopes, id, settled (0 or 1), tokens, cost,
/// spent's time to live (s).
pub const RELEASE: &str = r#"
local n = tonumber(ARGV[1])
local id = ARGV[2]
local settled = ARGV[3] == '1'
local tokens = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
for s = 0, n - 1 do
  local k = s * 7
  if settled then
    local before = redis.call('HGET', KEYS[k + 2], id)
    if before then
      redis.call('HSET', KEYS[k + 2], id, tokens)
      redis.call('INCRBY', KEYS[k + 3], tokens - tonumber(before))
    end
    if cost > 0 then
      redis.call('INCRBY', KEYS[k + 7], cost)
      redis.call('EXPIRE', KEYS[k + 7], ARGV[6])
    end
  end
  if redis.call('ZREM', KEYS[k + 4], id) == 1 then
    local reserved = redis.call('HGET', KEYS[k + 5], id)
    redis.call('HDEL', KEYS[k + 5], id)
    if reserved then redis.call('DECRBY', KEYS[k + 6], reserved) end
  end
end
return 1
"#;

/// The shared counters could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The URL does not parse.
    #[error("redis URL `{url}`: {source}; write it as redis://[user:password@]host:port[/db]")]
    Url {
        /// The URL as given, with any password hidden.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// A certificate file the URL names cannot be used, or TLS options
    /// are given to a `redis://` URL.
    #[error("redis URL `{url}`: {reason}")]
    Tls {
        /// The URL as given, with any password hidden.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Redis answered with an error or could not be reached.
    #[error("redis at {address}: {source}")]
    Redis {
        /// Host and port.
        address: String,
        /// Why.
        source: redis::RedisError,
    },
    /// Redis did not answer in time.
    #[error("redis at {address} did not answer within {} ms", timeout.as_millis())]
    Timeout {
        /// Host and port.
        address: String,
        /// The limit.
        timeout: Duration,
    },
    /// The script answered something it never returns.
    #[error("redis at {address}: unexpected answer from the limits script: {answer}")]
    Answer {
        /// Host and port.
        address: String,
        /// What came back.
        answer: String,
    },
}

/// The limits and budgets of every key and team, counted in one Redis.
pub struct SharedCounters {
    connection: ConnectionManager,
    address: String,
    prefix: String,
    timeout: Duration,
    admit: redis::Script,
    release: redis::Script,
    /// This process's random id, so admission ids never collide.
    replica: String,
    next: AtomicU64,
}

impl std::fmt::Debug for SharedCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCounters")
            .field("address", &self.address)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `url` with its password (if any) replaced by `***`.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The TLS options [`client`] takes out of a URL's query.
const TLS_OPTIONS: [&str; 3] = ["ssl_ca_certs", "ssl_certfile", "ssl_keyfile"];

/// A Redis client for `url`: `redis://[user:password@]host:port[/db]`, or
/// `rediss://…` for TLS with the server's certificate checked (against
/// the system's CAs, or those in `?ssl_ca_certs=PATH`); with
/// `ssl_certfile=PATH&ssl_keyfile=PATH` it presents that client
/// certificate (PEM files). The files are read by `read` (the binary
/// passes `std::fs::read`: the gateway itself touches no file). Connects
/// on use.
pub fn client(
    url: &str,
    read: impl Fn(&str) -> std::io::Result<Vec<u8>>,
) -> Result<redis::Client, SharedError> {
    let tls_error = |reason: String| SharedError::Tls {
        url: redacted(url),
        reason,
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut options: [Option<String>; 3] = Default::default();
    let mut kept = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match TLS_OPTIONS.iter().position(|option| *option == key) {
            Some(at) => {
                let value = percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map_err(|_| {
                        tls_error(format!(
                            "{key} is not UTF-8 once its %XX escapes are decoded"
                        ))
                    })?
                    .into_owned();
                if let Some(slot) = options.get_mut(at) {
                    *slot = Some(value);
                }
            }
            None => kept.push(part),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let bad_url = |source| SharedError::Url {
        url: redacted(url),
        source,
    };
    let [ca, cert, key] = options;
    if ca.is_none() && cert.is_none() && key.is_none() {
        return redis::Client::open(rest.as_str()).map_err(bad_url);
    }
    if !rest.starts_with("rediss://") {
        return Err(tls_error(
            "ssl_ca_certs, ssl_certfile and ssl_keyfile are for TLS: write rediss://".into(),
        ));
    }
    let pem_file = |option: &str, path: &str| {
        let bytes =
            read(path).map_err(|e| tls_error(format!("{option} {path}: cannot be read ({e})")))?;
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            Ok(bytes)
        } else {
            Err(tls_error(format!("{option} {path}: is not a PEM file")))
        }
    };
    let root_cert = ca.map(|path| pem_file("ssl_ca_certs", &path)).transpose()?;
    let client_tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: pem_file("ssl_certfile", &cert)?,
            client_key: pem_file("ssl_keyfile", &key)?,
        }),
        _ => {
            return Err(tls_error(
                "ssl_certfile and ssl_keyfile go together: give both".into(),
            ));
        }
    };
    redis::Client::build_with_tls(
        rest.as_str(),
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(bad_url)
}

impl SharedCounters {
    /// Counters in the Redis `client` talks to ([`client`] makes it from
    /// a URL), each key under `prefix`, each call given at most `timeout`.
    /// Connects lazily (on the first call) and reconnects by itself, so
    /// Redis may come up after the gateway. Needs a Tokio runtime.
    pub fn new(
        client: redis::Client,
        prefix: &str,
        timeout: Duration,
    ) -> Result<SharedCounters, SharedError> {
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|source| {
                SharedError::Redis {
                    address: address.clone(),
                    source,
                }
            })?;
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).map_err(|e| SharedError::Answer {
            address: address.clone(),
            answer: format!("no randomness for the replica id: {e}"),
        })?;
        Ok(SharedCounters {
            connection,
            address,
            prefix: prefix.to_owned(),
            timeout,
            admit: redis::Script::new(ADMIT),
            release: redis::Script::new(RELEASE),
            replica: id.iter().map(|b| format!("{b:02x}")).collect(),
            next: AtomicU64::new(0),
        })
    }

    /// Host and port of the Redis.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn fail(&self) -> impl Fn(redis::RedisError) -> SharedError + '_ {
        |source| SharedError::Redis {
            address: self.address.clone(),
            source,
        }
    }

    async fn within<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, SharedError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(self.fail()),
            Err(_) => Err(SharedError::Timeout {
                address: self.address.clone(),
                timeout: self.timeout,
            }),
        }
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), SharedError> {
        let mut connection = self.connection.clone();
        let _: String = self
            .within(redis::cmd("PING").query_async(&mut connection))
            .await?;
        Ok(())
    }

    fn scope_keys(&self, scope: &Scope, month: u32) -> [String; KEYS_PER_SCOPE] {
        let base = format!("{}{}:{}:", self.prefix, scope.kind, scope.id);
        [
            format!("{base}win"),
            format!("{base}wtok"),
            format!("{base}wsum"),
            format!("{base}run"),
            format!("{base}rcost"),
            format!("{base}rsum"),
            format!("{base}spent:{month}"),
        ]
    }

    /// Sets what a scope spent in `month` before the counters held it
    /// (from the usage records), unless they already do.
    pub async fn preload_spent(
        &self,
        kind: ScopeKind,
        id: &str,
        month: u32,
        spent_micro_usd: u64,
    ) -> Result<(), SharedError> {
        let key = format!("{}{kind}:{id}:spent:{month}", self.prefix);
        let mut connection = self.connection.clone();
        let _: Option<String> = self
            .within(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(spent_micro_usd)
                    .arg("NX")
                    .arg("EX")
                    .arg(SPENT_TTL_SECS)
                    .query_async(&mut connection),
            )
            .await?;
        Ok(())
    }

    /// What a scope spent in `month`, and what its running requests
    /// reserved.
    pub async fn spent(
        &self,
        kind: ScopeKind,
        id: &str,
        month: u32,
    ) -> Result<(u64, u64), SharedError> {
        let base = format!("{}{kind}:{id}:", self.prefix);
        let mut connection = self.connection.clone();
        let (spent, reserved): (Option<i64>, Option<i64>) = self
            .within(
                redis::cmd("MGET")
                    .arg(format!("{base}spent:{month}"))
                    .arg(format!("{base}rsum"))
                    .query_async(&mut connection),
            )
            .await?;
        let clamp = |v: Option<i64>| u64::try_from(v.unwrap_or(0)).unwrap_or(0);
        Ok((clamp(spent), clamp(reserved)))
    }

    /// Admits a request against every scope, or says which limit refuses
    /// it (the inner result); the outer error is Redis failing.
    pub async fn admit(
        self: &Arc<Self>,
        scopes: &[Scope],
        ask: Ask,
        month: u32,
    ) -> Result<Result<Permit, Refusal>, SharedError> {
        let id = format!(
            "{}-{}",
            self.replica,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let keys: Vec<String> = scopes
            .iter()
            .flat_map(|scope| self.scope_keys(scope, month))
            .collect();
        let mut invocation = self.admit.prepare_invoke();
        for key in &keys {
            invocation.key(key);
        }
        invocation
            .arg(scopes.len())
            .arg(&id)
            .arg(ask.tokens)
            .arg(ask.cost_micro_usd)
            .arg(LEASE.as_millis() as u64);
        let limit = |v: Option<u32>| v.map_or(-1, i64::from);
        for scope in scopes {
            let budget = scope
                .limits
                .budget_micro_usd
                .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX));
            invocation
                .arg(limit(scope.limits.rpm))
                .arg(limit(scope.limits.tpm))
                .arg(limit(scope.limits.max_parallel))
                .arg(budget);
        }
        let mut connection = self.connection.clone();
        let answer: Vec<redis::Value> = self
            .within(invocation.invoke_async(&mut connection))
            .await?;
        let outcome = self.outcome(&answer, scopes, ask)?;
        Ok(outcome.map(|headers| {
            Permit::shared(
                Held {
                    counters: Arc::clone(self),
                    keys,
                    scopes: scopes.len(),
                    id,
                },
                ask,
                headers,
            )
        }))
    }

    /// Reads the admit script's answer.
    fn outcome(
        &self,
        answer: &[redis::Value],
        scopes: &[Scope],
        ask: Ask,
    ) -> Result<Result<RateHeaders, Refusal>, SharedError> {
        let bad = || SharedError::Answer {
            address: self.address.clone(),
            answer: format!("{answer:?}"),
        };
        let text = |i: usize| -> Option<String> {
            match answer.get(i)? {
                redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
                redis::Value::SimpleString(s) => Some(s.clone()),
                _ => None,
            }
        };
        let int = |i: usize| -> Option<i64> {
            match answer.get(i)? {
                redis::Value::Int(n) => Some(*n),
                _ => None,
            }
        };
        let reason = text(0).ok_or_else(bad)?;
        if reason == "ok" {
            let window = crate::limits::WINDOW;
            let pair = |limit: i64, left: i64| {
                (limit >= 0).then(|| (limit, u64::try_from(left).unwrap_or(0)))
            };
            let requests =
                pair(int(1).ok_or_else(bad)?, int(2).ok_or_else(bad)?).map(|(l, left)| {
                    (
                        u32::try_from(l).unwrap_or(u32::MAX),
                        u32::try_from(left).unwrap_or(u32::MAX),
                        window,
                    )
                });
            let tokens = pair(int(3).ok_or_else(bad)?, int(4).ok_or_else(bad)?)
                .map(|(l, left)| (u32::try_from(l).unwrap_or(u32::MAX), left, window));
            return Ok(Ok(RateHeaders { requests, tokens }));
        }
        let index = int(1)
            .and_then(|i| usize::try_from(i).ok())
            .ok_or_else(bad)?;
        let kind = scopes.get(index).ok_or_else(bad)?.kind;
        let limit = int(2).ok_or_else(bad)?;
        let detail = int(3).ok_or_else(bad)?;
        let limit32 = u32::try_from(limit).unwrap_or(u32::MAX);
        let after = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(1).max(1));
        let refusal = match reason.as_str() {
            "budget" => Refusal::Budget {
                kind,
                limit_micro_usd: u64::try_from(limit).unwrap_or(0),
                spent_micro_usd: u64::try_from(detail).unwrap_or(0),
            },
            "parallel" => Refusal::Parallel {
                kind,
                limit: limit32,
            },
            "requests" => Refusal::Requests {
                kind,
                limit: limit32,
                retry_after: after(detail),
            },
            "tokens" => Refusal::Tokens {
                kind,
                limit: limit32,
                asked: ask.tokens,
                retry_after: (detail >= 0).then(|| after(detail)),
            },
            _ => return Err(bad()),
        };
        Ok(Err(refusal))
    }

    async fn release(
        &self,
        keys: &[String],
        scopes: usize,
        id: &str,
        settled: Option<(u64, u64)>,
    ) -> Result<(), SharedError> {
        let mut invocation = self.release.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        let (tokens, cost) = settled.unwrap_or((0, 0));
        invocation
            .arg(scopes)
            .arg(id)
            .arg(u8::from(settled.is_some()))
            .arg(tokens)
            .arg(cost)
            .arg(SPENT_TTL_SECS);
        let mut connection = self.connection.clone();
        let _: i64 = self
            .within(invocation.invoke_async(&mut connection))
            .await?;
        Ok(())
    }
}

/// A request's reservations in the shared counters.
#[derive(Debug)]
pub struct Held {
    counters: Arc<SharedCounters>,
    keys: Vec<String>,
    scopes: usize,
    id: String,
}

impl Held {
    /// Frees the reservations (and charges what was used, when settled)
    /// in the background. Without a runtime, or when Redis cannot be
    /// reached, the lease frees them later and the cost goes uncharged
    /// in the counters (the usage records still hold it).
    pub(crate) fn release(self, settled: Option<(u64, u64)>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = self
                .counters
                .release(&self.keys, self.scopes, &self.id, settled)
                .await
            {
                tracing::warn!(%error, id = %self.id, "could not release a request's limits in redis; its lease frees them");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            redacted("redis://app:s3cret@cache:6379/0"),
            "redis://app:***@cache:6379/0"
        );
        assert_eq!(redacted("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redacted("redis://user@cache"), "redis://user@cache");
    }
}
