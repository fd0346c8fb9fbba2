//! Who is calling: API keys, checked against a snapshot of the inventory's
//! keys, and what each team may call.
//!
//! A key is presented as `Authorization: Bearer mg-<id>-<secret>` (or
//! `x-api-key`, as Anthropic's clients send it). The id finds the record;
//! the secret's SHA-256 is compared with the stored hash in constant time.
//! The store keeps only the hash, so a leaked database leaks no key. The
//! snapshot ([`Access`]) is rebuilt by the server whenever the inventory's
//! access generation moves, so a revocation takes effect within one refresh
//! interval.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use modelgate_inventory::{
    DataClass, Date, KeyRecord, KeyStatus, Limits, hash_secret, parse_presented,
};
use subtle::ConstantTimeEq;

/// The caller of a request, once its key checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's public id (`-` for anonymous access).
    pub key_id: String,
    /// The key's team.
    pub team: String,
    /// The key's limits.
    pub limits: Limits,
    /// The team's own limits, when it has some.
    pub team_limits: Option<Limits>,
    /// The most sensitive data the key's requests carry.
    pub data_class: DataClass,
}

impl Principal {
    /// The caller when the server runs without keys (`auth.anonymous`).
    pub fn anonymous() -> Principal {
        Principal {
            key_id: "-".into(),
            team: "-".into(),
            limits: Limits::default(),
            team_limits: None,
            data_class: DataClass::Internal,
        }
    }
}

/// Why a request has no principal (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key was sent.
    #[error(
        "Missing API key: send `Authorization: Bearer mg-…` with a key from `modelgate keys create`"
    )]
    Missing,
    /// The key is not one of ours.
    #[error(
        "Incorrect API key provided; keys look like mg-<id>-<secret> (see `modelgate keys list`)"
    )]
    Invalid,
    /// The key was revoked.
    #[error("The API key {id} was revoked ({reason}); ask for a new one (`modelgate keys create`)")]
    Revoked {
        /// Its public id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The key expired.
    #[error(
        "The API key {id} expired on {on}; ask an administrator for a new one (`modelgate keys create`)"
    )]
    Expired {
        /// Its public id.
        id: String,
        /// Its last valid day.
        on: String,
    },
}

/// What a team may call.
#[derive(Debug, Clone, Default)]
struct Grants {
    /// Inventory versions assigned to the team (`NAME@VER`).
    versions: HashSet<String>,
    /// Routes granted to the team.
    routes: HashSet<String>,
}

/// A snapshot of every key and every team's grants.
#[derive(Debug, Default)]
pub struct Access {
    keys: HashMap<String, KeyRecord>,
    team_limits: HashMap<String, Limits>,
    teams: HashMap<String, Grants>,
}

impl Access {
    /// A snapshot of the inventory's keys, team limits, assignments
    /// (`(team, NAME@VER)`) and route grants (`(team, route)`).
    pub fn new(
        keys: Vec<KeyRecord>,
        team_limits: Vec<(String, Limits)>,
        assignments: Vec<(String, String)>,
        route_grants: Vec<(String, String)>,
    ) -> Arc<Access> {
        let mut teams: HashMap<String, Grants> = HashMap::new();
        for (team, version) in assignments {
            teams.entry(team).or_default().versions.insert(version);
        }
        for (team, route) in route_grants {
            teams.entry(team).or_default().routes.insert(route);
        }
        Arc::new(Access {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            team_limits: team_limits.into_iter().collect(),
            teams,
        })
    }

    /// How many keys the snapshot holds.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The principal a presented key stands for, judged on `today`.
    pub fn authenticate(
        &self,
        presented: Option<&str>,
        today: Date,
    ) -> Result<Principal, AuthError> {
        let presented = presented
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or(AuthError::Missing)?;
        let (id, secret) = parse_presented(presented).ok_or(AuthError::Invalid)?;
        let record = self.keys.get(id).ok_or(AuthError::Invalid)?;
        let hash = hash_secret(secret);
        if !bool::from(hash.ct_eq(&record.secret_hash)) {
            return Err(AuthError::Invalid);
        }
        match record.status(today) {
            KeyStatus::Active => {}
            KeyStatus::Revoked => {
                return Err(AuthError::Revoked {
                    id: record.id.clone(),
                    reason: record
                        .revoked
                        .as_ref()
                        .map_or_else(String::new, |r| r.reason.clone()),
                });
            }
            KeyStatus::Expired => {
                return Err(AuthError::Expired {
                    id: record.id.clone(),
                    on: record
                        .expires_on
                        .map_or_else(String::new, |d| d.to_string()),
                });
            }
        }
        Ok(Principal {
            key_id: record.id.clone(),
            team: record.team.clone(),
            limits: record.limits,
            team_limits: self.team_limits.get(&record.team).copied(),
            data_class: record.data_class,
        })
    }

    /// Whether `team` was assigned the inventory version `version`
    /// (`NAME@VER`).
    pub fn may_use_version(&self, team: &str, version: &str) -> bool {
        self.teams
            .get(team)
            .is_some_and(|g| g.versions.contains(version))
    }

    /// Whether `team` was granted the route `route`.
    pub fn may_use_route(&self, team: &str, route: &str) -> bool {
        self.teams
            .get(team)
            .is_some_and(|g| g.routes.contains(route))
    }
}

/// The key a request presents: `Authorization: Bearer …`, else `x-api-key`.
pub fn presented_key<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(value) = authorization {
        let value = value.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(rest.trim());
        }
        return Some("");
    }
    x_api_key
}
