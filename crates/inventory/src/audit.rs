//! The audit trail: an append-only list of events, each chained to the one
//! before by SHA-256, so that an edited, removed or reordered event shows.
//!
//! An event's hash is the SHA-256 (lower-case hex) of its canonical bytes:
//! the compact JSON object
//!
//! ```text
//! {"action":…,"actor":…,"at":…,"details":…,"prev_hash":…,"seq":…,"subject":…}
//! ```
//!
//! with keys sorted at every level (so `details` too), no whitespace, and
//! strings escaped as `serde_json` escapes them. `prev_hash` is the previous
//! event's hash ([`GENESIS_HASH`] for event 1), so each hash covers the
//! whole trail before it. Anyone can re-check an export: `jq -cS 'del(.hash)'`
//! prints the canonical bytes of each line of `modelgate audit log --format
//! json`.
//!
//! Pure: checking a chain takes rows ([`ChainCheck`]: events, then the
//! stored versions, assignments, API keys, team limits, route grants and
//! evaluation runs)
//! and returns problems; the backend reads the rows. The trail never holds
//! an API key's secret or anything derived from it, so a key's secret hash
//! is the one stored value it cannot vouch for.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Most problems an audit check lists (it counts them all).
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Position in the trail, from 1, without gaps.
    pub seq: u64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What: `version.added`, `version.approved`, `version.reviewed`,
    /// `version.promoted`, `version.deprecated`, `version.revoked`,
    /// `version.stored`, `serve.*`, `team.assigned`, `eval.recorded`; for
    /// the gateway `key.created`, `key.rotated`, `key.revoked`,
    /// `key.limits`, `team.limits`, `team.route_granted`,
    /// `team.route_revoked`; for the console `user.added`, `user.role`,
    /// `user.password`, `user.disabled`, `review.signed_off`,
    /// `review.rejected`.
    pub action: String,
    /// What it is about: `NAME@VERSION`, `key:<id>`, `team:<name>` or
    /// `user:<name>`.
    pub subject: String,
    /// The change, as JSON.
    pub details: Value,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl Event {
    /// A new event after the one whose hash is `prev_hash`, with its hash.
    pub(crate) fn new(
        seq: u64,
        at: &str,
        actor: &str,
        action: &str,
        subject: &str,
        details: Value,
        prev_hash: &str,
    ) -> Event {
        let mut event = Event {
            seq,
            at: at.to_string(),
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            details,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        event
    }

    /// The bytes the hash covers (see the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.feed(&mut out);
        out
    }

    /// SHA-256 of the canonical bytes, lower-case hex.
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        self.feed(&mut hasher);
        format!("{:x}", hasher.finalize())
    }

    fn feed(&self, sink: &mut impl Sink) {
        let mut details = String::with_capacity(128);
        canonical_json(&self.details, &mut details);
        feed_canonical(
            sink,
            &EventParts {
                seq: self.seq,
                at: &self.at,
                actor: &self.actor,
                action: &self.action,
                subject: &self.subject,
                details: &details,
                prev_hash: &self.prev_hash,
            },
        );
    }
}

/// An event's fields as text, `details` already canonical JSON (as stored).
pub(crate) struct EventParts<'a> {
    pub(crate) seq: u64,
    pub(crate) at: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) details: &'a str,
    pub(crate) prev_hash: &'a str,
}

/// Where canonical bytes go: a buffer, or straight into the hasher.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

fn feed_canonical(sink: &mut impl Sink, event: &EventParts<'_>) {
    sink.put(b"{\"action\":");
    put_string(sink, event.action);
    sink.put(b",\"actor\":");
    put_string(sink, event.actor);
    sink.put(b",\"at\":");
    put_string(sink, event.at);
    sink.put(b",\"details\":");
    sink.put(event.details.as_bytes());
    sink.put(b",\"prev_hash\":");
    put_string(sink, event.prev_hash);
    sink.put(b",\"seq\":");
    sink.put(event.seq.to_string().as_bytes());
    sink.put(b",\"subject\":");
    put_string(sink, event.subject);
    sink.put(b"}");
}

/// A JSON string as serde_json writes it: only `"`, `\\` and control
/// characters are escaped.
fn put_string(sink: &mut impl Sink, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        sink.put(b"\"");
        sink.put(text.as_bytes());
        sink.put(b"\"");
    } else {
        // Serializing a string to JSON cannot fail.
        sink.put(Value::from(text).to_string().as_bytes());
    }
}

/// The hash of an event as stored (its `details` text taken as it is:
/// anything but the canonical text the writer stored changes the hash).
pub(crate) fn stored_hash(event: &EventParts<'_>) -> String {
    let mut hasher = Sha256::new();
    feed_canonical(&mut hasher, event);
    format!("{:x}", hasher.finalize())
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// JSON with object keys sorted at every level and no whitespace.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (idx, (key, value)) in sorted.into_iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                push_string(out, key);
                out.push(':');
                canonical_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn push_string(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // Serializing a string to JSON cannot fail.
        out.push_str(&Value::from(text).to_string());
    }
}

/// The SHA-256 of a version's manifest: the canonical JSON array of its
/// files (`{"path","sha256","size"}`), sorted by path. The `version.added`
/// event carries it, so the stored digests are covered by the chain.
pub fn manifest_sha256(files: &[crate::FileRecord]) -> String {
    let mut sorted: Vec<&crate::FileRecord> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = String::from("[");
    for (idx, file) in sorted.into_iter().enumerate() {
        if idx > 0 {
            out.push(',');
        }
        out.push_str("{\"path\":");
        push_string(&mut out, &file.path);
        out.push_str(",\"sha256\":");
        push_string(&mut out, &file.sha256);
        out.push_str(",\"size\":");
        out.push_str(&file.size.to_string());
        out.push('}');
    }
    out.push(']');
    sha256_hex(out.as_bytes())
}

/// An event as stored, which may have been edited: `seq` is `None` when it
/// is not an integer, and `details` may not be JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredEvent<'a> {
    pub(crate) seq: Option<i64>,
    pub(crate) at: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) details: &'a str,
    pub(crate) prev_hash: &'a str,
    pub(crate) hash: &'a str,
}

impl StoredEvent<'_> {
    /// The event, with `details` parsed (kept as a JSON string when it is
    /// not JSON, so that a log still shows it).
    pub(crate) fn to_event(self) -> Event {
        let details = serde_json::from_str(self.details)
            .unwrap_or_else(|_| Value::String(self.details.to_string()));
        Event {
            seq: self
                .seq
                .and_then(|seq| u64::try_from(seq).ok())
                .unwrap_or(0),
            at: self.at.to_string(),
            actor: self.actor.to_string(),
            action: self.action.to_string(),
            subject: self.subject.to_string(),
            details,
            prev_hash: self.prev_hash.to_string(),
            hash: self.hash.to_string(),
        }
    }
}

/// The fields of `details` that the replay needs (others are skipped
/// without being built; a missing one is empty).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ReplayDetails {
    name: String,
    version: String,
    stage: String,
    to: String,
    decision: String,
    report_sha256: String,
    files_sha256: String,
    team: String,
    purpose: String,
}

/// The fields of a key or team event's `details` that the replay needs.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct AccessDetails {
    id: String,
    team: String,
    route: String,
    data_class: String,
    expires_on: Option<String>,
    limits: Option<Value>,
    rotated_from: Option<String>,
}

/// The fields of an `eval.recorded` event's `details` that the replay
/// needs.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct EvalDetails {
    id: Option<Value>,
    name: String,
    version: String,
    suite: String,
    suite_digest: String,
    kind: String,
    target: String,
    seed: Option<Value>,
    started: String,
    threshold_met: Option<bool>,
    summary_sha256: String,
    settings_sha256: String,
    report_sha256: String,
}

/// An evaluation run as the trail records it, or as stored, in text: the
/// row's values (numbers written out, NULL empty, `threshold_met` `1`,
/// `0` or empty) and the SHA-256 of its summary, settings and report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EvalState {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) suite: String,
    pub(crate) suite_digest: String,
    pub(crate) kind: String,
    pub(crate) target: String,
    pub(crate) seed: String,
    pub(crate) started: String,
    pub(crate) recorded_by: String,
    pub(crate) threshold_met: String,
    pub(crate) summary_sha256: String,
    pub(crate) settings_sha256: String,
    pub(crate) report_sha256: String,
}

impl EvalState {
    /// `NAME@VERSION`.
    fn subject(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The plain fields, named, then the hashed documents, named.
    fn fields(&self) -> ([Named<'_>; 10], [Named<'_>; 3]) {
        (
            [
                ("model", self.name.as_str()),
                ("version", self.version.as_str()),
                ("suite", self.suite.as_str()),
                ("suite digest", self.suite_digest.as_str()),
                ("kind", self.kind.as_str()),
                ("target", self.target.as_str()),
                ("seed", self.seed.as_str()),
                ("start", self.started.as_str()),
                ("recorder", self.recorded_by.as_str()),
                ("threshold_met", self.threshold_met.as_str()),
            ],
            [
                ("summary", self.summary_sha256.as_str()),
                ("settings", self.settings_sha256.as_str()),
                ("report", self.report_sha256.as_str()),
            ],
        )
    }
}

/// A value with its name in messages.
type Named<'a> = (&'static str, &'a str);

/// A JSON number or null from the trail as the row stores it: the number
/// written out, or empty.
fn number_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Limits as text, in the order rpm, tpm, max_parallel, budget_micro_usd:
/// each its number, or empty when not set.
pub(crate) type LimitsText = [String; 4];

/// The names of [`LimitsText`]'s entries.
const LIMIT_NAMES: [&str; 4] = ["rpm", "tpm", "max_parallel", "budget_micro_usd"];

/// The limits the trail records (`{"rpm": 60, ...}`) as text.
fn limits_text(limits: Option<&Value>) -> LimitsText {
    LIMIT_NAMES.map(|name| {
        limits
            .and_then(|limits| limits.get(name))
            .filter(|value| !value.is_null())
            .map(ToString::to_string)
            .unwrap_or_default()
    })
}

/// `rpm 60, tpm none, ...`.
fn show_limits(limits: &LimitsText) -> String {
    LIMIT_NAMES
        .iter()
        .zip(limits)
        .map(|(name, value)| {
            let value = if value.is_empty() { "none" } else { value };
            format!("{name} {value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An API key as the trail leaves it, or as stored, in text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyState {
    pub(crate) team: String,
    pub(crate) data_class: String,
    /// `YYYY-MM-DD`, or empty.
    pub(crate) expires_on: String,
    pub(crate) limits: LimitsText,
    pub(crate) revoked: bool,
}

/// Something `audit verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditProblem {
    /// The event, for a break in the chain.
    pub seq: Option<u64>,
    /// The version or assignment, for stored state that the trail does not
    /// account for.
    pub subject: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Nothing is wrong.
    pub ok: bool,
    /// Events read.
    pub n_events: u64,
    /// The last event's hash: note it somewhere else to detect a rewrite of
    /// the whole trail later.
    pub head: Option<String>,
    /// The first event that is not what the chain says it should be.
    pub first_bad: Option<u64>,
    /// Problems found (at most [`MAX_LISTED_PROBLEMS`]).
    pub problems: Vec<AuditProblem>,
    /// Problems found, listed or not.
    pub n_problems: u64,
}

/// What the trail says a version should look like now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ExpectedVersion {
    stage: String,
    decision: String,
    report_sha256: String,
    files_sha256: String,
    last_seq: u64,
}

/// Checks a trail event by event, in `seq` order, and replays it into the
/// state it implies.
#[derive(Debug, Default)]
pub(crate) struct ChainCheck {
    n_events: u64,
    last_seq: u64,
    last_hash: Option<String>,
    first_bad: Option<u64>,
    problems: Vec<AuditProblem>,
    n_problems: u64,
    versions: HashMap<(String, String), ExpectedVersion>,
    assignments: HashMap<(String, String, String), (String, u64)>,
    /// API keys by id, with the last event that changed each.
    keys: HashMap<String, (KeyState, u64)>,
    /// Team limits by team.
    team_limits: HashMap<String, (LimitsText, u64)>,
    /// Route grants, (team, route).
    grants: HashMap<(String, String), u64>,
    /// Evaluation runs by id (as text), with the event that recorded each.
    eval_runs: HashMap<String, (EvalState, u64)>,
    /// Console users by name: role, SHA-256 of the password hash,
    /// disabled; with the last event that changed each.
    users: HashMap<String, (UserState, u64)>,
    /// Reviews by (model, version, reviewer): outcome, by, note.
    reviews: HashMap<(String, String, String), (ReviewState, u64)>,
}

/// A console user as the trail leaves it (and as `audit verify` reads the
/// stored row: the hash is compared by its SHA-256).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserState {
    pub(crate) role: String,
    pub(crate) password_sha256: String,
    pub(crate) disabled: bool,
}

/// A review as the trail leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReviewState {
    pub(crate) outcome: String,
    pub(crate) by: String,
    /// Empty when none.
    pub(crate) note: String,
}

/// The fields of `user.*` and `review.*` events the replay reads.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PeopleDetails {
    user: String,
    role: Option<String>,
    password_sha256: Option<String>,
    name: String,
    version: String,
    reviewer: String,
    outcome: String,
    note: Option<String>,
}

impl ChainCheck {
    pub(crate) fn problem(&mut self, seq: Option<u64>, subject: Option<String>, message: String) {
        if let Some(seq) = seq {
            self.first_bad = Some(self.first_bad.map_or(seq, |first| first.min(seq)));
        }
        self.n_problems += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(AuditProblem {
                seq,
                subject,
                message,
            });
        }
    }

    pub(crate) fn push(&mut self, stored: StoredEvent<'_>) {
        self.n_events += 1;
        let expected = self.last_seq + 1;
        let Some(seq) = stored.seq.and_then(|seq| u64::try_from(seq).ok()) else {
            let found = stored.seq.map_or_else(
                || "whose number is not an integer".to_string(),
                |seq| format!("numbered {seq}"),
            );
            self.problem(
                Some(expected),
                None,
                format!("event {expected}: found an event {found} instead"),
            );
            return;
        };
        let mut gap = false;
        if seq != expected {
            gap = true;
            let message = if seq > expected + 1 {
                format!(
                    "events {expected} to {} are missing: the trail jumps from {} to {seq}",
                    seq - 1,
                    expected - 1
                )
            } else if seq > expected {
                format!(
                    "event {expected} is missing: the trail jumps from {} to {seq}",
                    expected - 1
                )
            } else {
                format!(
                    "event {seq} appears out of order after event {}",
                    self.last_seq
                )
            };
            self.problem(Some(expected.min(seq)), None, message);
        }
        let computed = stored_hash(&EventParts {
            seq,
            at: stored.at,
            actor: stored.actor,
            action: stored.action,
            subject: stored.subject,
            details: stored.details,
            prev_hash: stored.prev_hash,
        });
        let previous = self.last_hash.as_deref().unwrap_or(GENESIS_HASH);
        if computed != stored.hash {
            self.problem(
                Some(seq),
                Some(stored.subject.to_string()),
                format!(
                    "event {seq} ({} {}) was changed: its content no longer matches its hash",
                    stored.action, stored.subject
                ),
            );
        } else if !gap && stored.prev_hash != previous {
            let message = if seq == 1 {
                "event 1 does not start the trail: its prev_hash is not the genesis hash (events before it were removed, or it was replaced)".to_string()
            } else {
                format!(
                    "event {seq} does not follow event {}: its prev_hash is not event {}'s hash (an event was replaced, removed or reordered)",
                    seq - 1,
                    seq - 1
                )
            };
            self.problem(Some(seq), Some(stored.subject.to_string()), message);
        }
        let action = stored.action;
        if action.starts_with("user.") || action.starts_with("review.") {
            if let Ok(details) = serde_json::from_str::<PeopleDetails>(stored.details) {
                self.replay_people(seq, action, stored.actor, details);
            }
        } else if action == "eval.recorded" {
            if let Ok(details) = serde_json::from_str::<EvalDetails>(stored.details) {
                self.replay_eval(seq, stored.actor, details);
            }
        } else if action.starts_with("key.")
            || (action.starts_with("team.") && action != "team.assigned")
        {
            if let Ok(details) = serde_json::from_str::<AccessDetails>(stored.details) {
                self.replay_access(seq, action, details);
            }
        } else if let Ok(details) = serde_json::from_str::<ReplayDetails>(stored.details) {
            self.replay(seq, action, details);
        }
        self.last_seq = seq.max(self.last_seq);
        match &mut self.last_hash {
            Some(last) => {
                last.clear();
                last.push_str(stored.hash);
            }
            None => self.last_hash = Some(stored.hash.to_string()),
        }
    }

    fn replay(&mut self, seq: u64, action: &str, details: ReplayDetails) {
        let key = (details.name, details.version);
        match action {
            "version.added" => {
                self.versions.insert(
                    key,
                    ExpectedVersion {
                        stage: details.stage,
                        decision: details.decision,
                        report_sha256: details.report_sha256,
                        files_sha256: details.files_sha256,
                        last_seq: seq,
                    },
                );
            }
            // A copy into the blob store changes no stage.
            "version.stored" => {}
            "team.assigned" => {
                self.assignments
                    .insert((details.team, key.0, key.1), (details.purpose, seq));
            }
            _ if action.starts_with("version.") => {
                if let Some(expected) = self.versions.get_mut(&key) {
                    expected.stage = details.to;
                    expected.last_seq = seq;
                }
            }
            _ => {}
        }
    }

    fn replay_access(&mut self, seq: u64, action: &str, details: AccessDetails) {
        match action {
            "key.created" | "key.rotated" => {
                if let Some((old, last_seq)) = details
                    .rotated_from
                    .as_ref()
                    .and_then(|id| self.keys.get_mut(id))
                {
                    old.revoked = true;
                    *last_seq = seq;
                }
                let state = KeyState {
                    team: details.team,
                    data_class: details.data_class,
                    expires_on: details.expires_on.unwrap_or_default(),
                    limits: limits_text(details.limits.as_ref()),
                    revoked: false,
                };
                self.keys.insert(details.id, (state, seq));
            }
            "key.revoked" => {
                if let Some((key, last_seq)) = self.keys.get_mut(&details.id) {
                    key.revoked = true;
                    *last_seq = seq;
                }
            }
            "key.limits" => {
                if let Some((key, last_seq)) = self.keys.get_mut(&details.id) {
                    key.limits = limits_text(details.limits.as_ref());
                    *last_seq = seq;
                }
            }
            "team.limits" => {
                self.team_limits
                    .insert(details.team, (limits_text(details.limits.as_ref()), seq));
            }
            "team.route_granted" => {
                self.grants.insert((details.team, details.route), seq);
            }
            "team.route_revoked" => {
                self.grants.remove(&(details.team, details.route));
            }
            _ => {}
        }
    }

    fn replay_people(&mut self, seq: u64, action: &str, actor: &str, details: PeopleDetails) {
        match action {
            "user.added" => {
                let state = UserState {
                    role: details.role.unwrap_or_default(),
                    password_sha256: details.password_sha256.unwrap_or_default(),
                    disabled: false,
                };
                self.users.insert(details.user, (state, seq));
            }
            "user.role" | "user.password" | "user.disabled" => {
                if let Some((user, last)) = self.users.get_mut(&details.user) {
                    match action {
                        "user.role" => user.role = details.role.unwrap_or_default(),
                        "user.password" => {
                            user.password_sha256 = details.password_sha256.unwrap_or_default();
                        }
                        _ => user.disabled = true,
                    }
                    *last = seq;
                }
            }
            "review.signed_off" | "review.rejected" => {
                let state = ReviewState {
                    outcome: details.outcome,
                    by: actor.to_string(),
                    note: details.note.unwrap_or_default(),
                };
                self.reviews.insert(
                    (details.name, details.version, details.reviewer),
                    (state, seq),
                );
            }
            _ => {}
        }
    }

    /// Compare a stored console user with the trail's.
    pub(crate) fn stored_user(&mut self, name: String, stored: UserState) {
        let subject = format!("user:{name}");
        let message = match self.users.remove(&name) {
            None => {
                format!("user {name} is in the inventory, but the audit trail never added them")
            }
            Some((trail, seq)) if trail.role != stored.role => format!(
                "user {name} is {} in the inventory, but the audit trail leaves them {} (event {seq}): the role was edited",
                stored.role, trail.role
            ),
            Some((trail, seq)) if trail.password_sha256 != stored.password_sha256 => format!(
                "user {name}'s stored password hash is not the one the audit trail recorded (event {seq}): it was replaced in the database"
            ),
            Some((trail, seq)) if trail.disabled != stored.disabled => format!(
                "user {name} is {} in the inventory, but {} in the audit trail (event {seq})",
                if stored.disabled {
                    "disabled"
                } else {
                    "enabled"
                },
                if trail.disabled {
                    "disabled"
                } else {
                    "enabled"
                }
            ),
            Some(_) => return,
        };
        self.problem(None, Some(subject), message);
    }

    /// Compare a stored review (`key`: model, version, reviewer) with the
    /// trail's.
    pub(crate) fn stored_review(&mut self, key: (String, String, String), stored: ReviewState) {
        let subject = format!("{}@{}", key.0, key.1);
        let kind = key.2.clone();
        let message = match self.reviews.remove(&key) {
            None => format!(
                "{subject} has a {kind} review in the inventory, but the audit trail never recorded it"
            ),
            Some((trail, seq)) if trail != stored => format!(
                "{subject}'s {kind} review is not the one the audit trail recorded (event {seq}): it says {} by {}, the inventory {} by {}",
                trail.outcome, trail.by, stored.outcome, stored.by
            ),
            Some(_) => return,
        };
        self.problem(None, Some(subject), message);
    }

    /// Name every user and review the trail left that was not handed to
    /// the `stored_*` checks: missing from the inventory.
    pub(crate) fn missing_people(&mut self) {
        let mut users: Vec<_> = std::mem::take(&mut self.users).into_iter().collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, (_, seq)) in users {
            self.problem(
                None,
                Some(format!("user:{name}")),
                format!("user {name} (event {seq}) is missing from the inventory"),
            );
        }
        let mut reviews: Vec<_> = std::mem::take(&mut self.reviews).into_iter().collect();
        reviews.sort_by(|a, b| a.0.cmp(&b.0));
        for ((model, version, kind), (_, seq)) in reviews {
            self.problem(
                None,
                Some(format!("{model}@{version}")),
                format!(
                    "{model}@{version}'s {kind} review (event {seq}) is missing from the inventory"
                ),
            );
        }
    }

    fn replay_eval(&mut self, seq: u64, actor: &str, details: EvalDetails) {
        let state = EvalState {
            name: details.name,
            version: details.version,
            suite: details.suite,
            suite_digest: details.suite_digest,
            kind: details.kind,
            target: details.target,
            seed: number_text(details.seed.as_ref()),
            started: details.started,
            recorded_by: actor.to_string(),
            threshold_met: details
                .threshold_met
                .map(|met| if met { "1" } else { "0" }.to_string())
                .unwrap_or_default(),
            summary_sha256: details.summary_sha256,
            settings_sha256: details.settings_sha256,
            report_sha256: details.report_sha256,
        };
        self.eval_runs
            .insert(number_text(details.id.as_ref()), (state, seq));
    }

    /// Compare a stored evaluation run (`id` as text) with the trail's:
    /// every field, and its summary, settings and report by SHA-256.
    pub(crate) fn stored_eval_run(&mut self, id: String, stored: EvalState) {
        let Some((trail, seq)) = self.eval_runs.remove(&id) else {
            self.problem(
                None,
                Some(stored.subject()),
                format!(
                    "evaluation run {id} ({}, suite {}) is in the inventory but the audit trail never recorded it",
                    stored.subject(),
                    stored.suite
                ),
            );
            return;
        };
        let subject = trail.subject();
        let or_none = |text: &str| {
            if text.is_empty() {
                "none".to_string()
            } else {
                text.to_string()
            }
        };
        let (stored_fields, stored_documents) = stored.fields();
        let (trail_fields, trail_documents) = trail.fields();
        let mut problems = Vec::new();
        for ((field, stored), (_, trail)) in stored_fields.iter().zip(trail_fields) {
            if *stored != trail {
                problems.push(format!(
                    "evaluation run {id}'s {field} is {} in the inventory, but {} in the audit trail (event {seq})",
                    or_none(stored),
                    or_none(trail)
                ));
            }
        }
        for ((document, stored), (_, trail)) in stored_documents.iter().zip(trail_documents) {
            if *stored != trail {
                problems.push(format!(
                    "evaluation run {id}'s stored {document} is not the one recorded (event {seq})"
                ));
            }
        }
        for message in problems {
            self.problem(None, Some(subject.clone()), message);
        }
    }

    /// Name every evaluation run the trail recorded that was not handed to
    /// [`ChainCheck::stored_eval_run`]: missing from the inventory.
    pub(crate) fn missing_eval_runs(&mut self) {
        let mut missing: Vec<_> = std::mem::take(&mut self.eval_runs).into_iter().collect();
        missing.sort_by(|a, b| (a.1.1, &a.0).cmp(&(b.1.1, &b.0)));
        for (id, (trail, seq)) in missing {
            self.problem(
                None,
                Some(trail.subject()),
                format!(
                    "evaluation run {id} of {} (suite {}, event {seq}) is missing from the inventory",
                    trail.subject(),
                    trail.suite
                ),
            );
        }
    }

    /// Compare a stored API key with the trail's: team, data class,
    /// expiry, limits, and whether it is revoked.
    pub(crate) fn stored_key(&mut self, id: String, stored: KeyState) {
        let subject = format!("key:{id}");
        let Some((trail, seq)) = self.keys.remove(&id) else {
            self.problem(
                None,
                Some(subject),
                format!("API key {id} is in the inventory but the audit trail never created it"),
            );
            return;
        };
        let or_none = |text: &str| {
            if text.is_empty() {
                "none".to_string()
            } else {
                text.to_string()
            }
        };
        let mut problems = Vec::new();
        if stored.team != trail.team {
            problems.push(format!(
                "API key {id} belongs to team {} in the inventory, but to {} in the audit trail",
                stored.team, trail.team
            ));
        }
        if stored.data_class != trail.data_class {
            problems.push(format!(
                "API key {id}'s data class is {} in the inventory, but {} in the audit trail",
                stored.data_class, trail.data_class
            ));
        }
        if stored.expires_on != trail.expires_on {
            problems.push(format!(
                "API key {id}'s expiry is {} in the inventory, but {} in the audit trail",
                or_none(&stored.expires_on),
                or_none(&trail.expires_on)
            ));
        }
        if stored.limits != trail.limits {
            problems.push(format!(
                "API key {id}'s limits are {} in the inventory, but {} in the audit trail (event {seq})",
                show_limits(&stored.limits),
                show_limits(&trail.limits)
            ));
        }
        match (stored.revoked, trail.revoked) {
            (false, true) => problems.push(format!(
                "API key {id} was revoked (audit trail, event {seq}) but is not revoked in the inventory"
            )),
            (true, false) => problems.push(format!(
                "API key {id} is revoked in the inventory, but the audit trail never revoked it"
            )),
            _ => {}
        }
        for message in problems {
            self.problem(None, Some(subject.clone()), message);
        }
    }

    /// Compare a team's stored limits with the trail's.
    pub(crate) fn stored_team_limits(&mut self, team: String, stored: LimitsText) {
        let subject = format!("team:{team}");
        let message = match self.team_limits.remove(&team) {
            None => format!(
                "team {team} has limits in the inventory ({}) that the audit trail never set",
                show_limits(&stored)
            ),
            Some((trail, seq)) if trail != stored => format!(
                "team {team}'s limits are {} in the inventory, but {} in the audit trail (event {seq})",
                show_limits(&stored),
                show_limits(&trail)
            ),
            Some(_) => return,
        };
        self.problem(None, Some(subject), message);
    }

    /// Compare a stored route grant with the trail's.
    pub(crate) fn stored_grant(&mut self, team: String, route: String) {
        if self.grants.remove(&(team.clone(), route.clone())).is_none() {
            self.problem(
                None,
                Some(format!("team:{team}")),
                format!(
                    "team {team} may call route {route} in the inventory, but the audit trail never granted it"
                ),
            );
        }
    }

    /// Name every key, team limit and route grant the trail left that was
    /// not handed to the `stored_*` checks: missing from the inventory.
    pub(crate) fn missing_access(&mut self) {
        let mut keys: Vec<_> = std::mem::take(&mut self.keys).into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, (_, seq)) in keys {
            self.problem(
                None,
                Some(format!("key:{id}")),
                format!(
                    "API key {id} was created (audit trail, event {seq}) but is missing from the inventory"
                ),
            );
        }
        let mut limits: Vec<_> = std::mem::take(&mut self.team_limits).into_iter().collect();
        limits.sort_by(|a, b| a.0.cmp(&b.0));
        for (team, (_, seq)) in limits {
            self.problem(
                None,
                Some(format!("team:{team}")),
                format!("team {team}'s limits (event {seq}) are missing from the inventory"),
            );
        }
        let mut grants: Vec<_> = std::mem::take(&mut self.grants).into_iter().collect();
        grants.sort();
        for ((team, route), seq) in grants {
            self.problem(
                None,
                Some(format!("team:{team}")),
                format!(
                    "team {team}'s grant of route {route} (event {seq}) is missing from the inventory"
                ),
            );
        }
    }

    /// Compare a stored version (`key`: name and version) with what the
    /// replayed trail says it should be: stage, verdict, the SHA-256 of its
    /// report and of its manifest. Call after every event was pushed.
    pub(crate) fn stored_version(
        &mut self,
        key: (String, String),
        stage: &str,
        decision: &str,
        report: &str,
        files: &[crate::FileRecord],
    ) {
        let subject = format!("{}@{}", key.0, key.1);
        let Some(trail) = self.versions.remove(&key) else {
            self.problem(
                None,
                Some(subject.clone()),
                format!("{subject} is in the inventory but the audit trail never added it"),
            );
            return;
        };
        let mut problems = Vec::new();
        if stage != trail.stage {
            problems.push(format!(
                "{subject} is {stage} in the inventory, but the audit trail leaves it {} (event {}): the stage was edited, or later events were removed",
                trail.stage, trail.last_seq
            ));
        }
        if decision != trail.decision {
            problems.push(format!(
                "{subject}'s verdict is {decision} in the inventory, but {} in the audit trail",
                trail.decision
            ));
        }
        if sha256_hex(report.as_bytes()) != trail.report_sha256 {
            problems.push(format!(
                "{subject}'s stored vet report is not the one recorded when it was added"
            ));
        }
        if manifest_sha256(files) != trail.files_sha256 {
            problems.push(format!(
                "{subject}'s stored file digests are not the ones recorded when it was added"
            ));
        }
        for message in problems {
            self.problem(None, Some(subject.clone()), message);
        }
    }

    /// Name every version the trail added that was not handed to
    /// [`ChainCheck::stored_version`]: it is missing from the inventory.
    pub(crate) fn missing_versions(&mut self) {
        let mut missing: Vec<_> = std::mem::take(&mut self.versions).into_iter().collect();
        missing.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, trail) in missing {
            let subject = format!("{}@{}", key.0, key.1);
            self.problem(
                None,
                Some(subject.clone()),
                format!(
                    "{subject} was added (audit trail, event {}) but is missing from the inventory",
                    trail.last_seq
                ),
            );
        }
    }

    /// Compare a stored assignment (`key`: team, name, version) with the
    /// trail's.
    pub(crate) fn stored_assignment(&mut self, key: (String, String, String), purpose: &str) {
        let subject = format!("{}@{}", key.1, key.2);
        let message = match self.assignments.remove(&key) {
            None => format!(
                "team {} uses {subject} in the inventory, but the audit trail never assigned it",
                key.0
            ),
            Some((recorded, seq)) if recorded != purpose => format!(
                "team {}'s purpose for {subject} is not the one recorded (event {seq})",
                key.0
            ),
            Some(_) => return,
        };
        self.problem(None, Some(subject), message);
    }

    /// Name every assignment the trail made that was not handed to
    /// [`ChainCheck::stored_assignment`].
    pub(crate) fn missing_assignments(&mut self) {
        let mut missing: Vec<_> = std::mem::take(&mut self.assignments).into_iter().collect();
        missing.sort_by(|a, b| a.0.cmp(&b.0));
        for ((team, model, version), (_, seq)) in missing {
            let subject = format!("{model}@{version}");
            self.problem(
                None,
                Some(subject.clone()),
                format!(
                    "team {team}'s assignment to {subject} (event {seq}) is missing from the inventory"
                ),
            );
        }
    }

    pub(crate) fn finish(self) -> AuditReport {
        AuditReport {
            ok: self.n_problems == 0,
            n_events: self.n_events,
            head: self.last_hash,
            first_bad: self.first_bad,
            problems: self.problems,
            n_problems: self.n_problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value: Value =
            serde_json::from_str(r#"{"b": [ {"z": 1, "a": "é\n"} ], "a": null}"#).expect("json");
        let mut out = String::new();
        canonical_json(&value, &mut out);
        assert_eq!(out, r#"{"a":null,"b":[{"a":"é\n","z":1}]}"#);
    }

    #[test]
    fn the_hash_covers_every_field() {
        let event = Event::new(
            1,
            "2026-01-01T00:00:00Z",
            "alice",
            "version.added",
            "m@1",
            serde_json::json!({"name": "m"}),
            GENESIS_HASH,
        );
        assert_eq!(event.hash.len(), 64);
        assert_eq!(event.hash, sha256_hex(&event.canonical_bytes()));
        let mut changed = event.clone();
        changed.actor = "mallory".into();
        assert_ne!(changed.compute_hash(), event.hash);
        let mut changed = event.clone();
        changed.seq = 2;
        assert_ne!(changed.compute_hash(), event.hash);
        let mut changed = event;
        changed.details = serde_json::json!({"name": "n"});
        assert_ne!(changed.compute_hash(), changed.hash);
    }
}
