//! API keys, limits and data classes for the gateway: what a key is, how
//! it is presented and checked, and the limits a key or a team carries.
//! Backend-free: the store (`sqlite/access.rs`) records keys, this module
//! makes them and reads what a client presents.
//!
//! A key is presented as `mg-<id>-<secret>`: the public id (12 lower-case
//! base32 characters, shown in lists and usage) and the secret (32 bytes
//! from the operating system's random number generator, as 64 lower-case
//! hex digits). The inventory stores only [`hash_secret`] of the secret
//! (SHA-256), so neither its database nor its audit trail can give a key
//! away; the gateway looks the key up by id ([`parse_presented`]) and
//! compares the hash of the presented secret with
//! [`KeyRecord::secret_hash`] in constant time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Date, Error, Timestamp};

/// What every presented key starts with.
pub const KEY_PREFIX: &str = "mg-";
/// Characters in a key's public id.
pub const KEY_ID_CHARS: usize = 12;
/// Random bytes in a key's secret.
pub const KEY_SECRET_BYTES: usize = 32;

/// The reason a key replaced by [`Store::rotate_key`](crate::Store::rotate_key)
/// is revoked with.
pub const ROTATED_REASON: &str = "rotated";

/// The alphabet of key ids: lower-case RFC 4648 base32.
const ID_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// How sensitive the data a key may send is. Ordered: a route that
/// accepts `confidential` accepts `public` and `internal` too.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DataClass {
    /// Anyone may see it.
    Public,
    /// The organisation's own, not secret (the default).
    #[default]
    Internal,
    /// Must not leave the organisation.
    Confidential,
    /// Personal, regulated or secret data: the strictest handling.
    Restricted,
}

impl DataClass {
    /// Every class, least sensitive first.
    pub const ALL: [DataClass; 4] = [
        DataClass::Public,
        DataClass::Internal,
        DataClass::Confidential,
        DataClass::Restricted,
    ];

    /// The stored name: `public`, `internal`, `confidential`, `restricted`.
    pub fn name(self) -> &'static str {
        match self {
            DataClass::Public => "public",
            DataClass::Internal => "internal",
            DataClass::Confidential => "confidential",
            DataClass::Restricted => "restricted",
        }
    }
}

impl fmt::Display for DataClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DataClass {
    type Err = Error;

    fn from_str(text: &str) -> Result<DataClass, Error> {
        DataClass::ALL
            .into_iter()
            .find(|class| class.name() == text)
            .ok_or_else(|| Error::BadDataClass {
                text: text.chars().take(40).collect(),
            })
    }
}

/// Limits on a key or a team; `None` is not limited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens (in and out) per minute.
    pub tpm: Option<u32>,
    /// Requests in flight at once.
    pub max_parallel: Option<u32>,
    /// Spending per calendar month (UTC), in millionths of a US dollar.
    pub budget_micro_usd: Option<u64>,
}

impl Limits {
    /// No limit is set.
    pub fn is_unlimited(&self) -> bool {
        *self == Limits::default()
    }

    /// Checks that every limit fits a signed 64-bit column (the budget is
    /// the only one that may not).
    pub(crate) fn checked(self) -> Result<Limits, Error> {
        if let Some(budget) = self.budget_micro_usd
            && i64::try_from(budget).is_err()
        {
            return Err(Error::BadNumber {
                field: "budget_micro_usd",
                value: budget.to_string(),
                reason: "it must be at most 9223372036854775807",
            });
        }
        Ok(self)
    }

    /// The limits as the audit trail records them.
    pub(crate) fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_parallel": self.max_parallel,
            "budget_micro_usd": self.budget_micro_usd,
        })
    }
}

/// A key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The team whose key it is (created if new).
    pub team: String,
    /// What it is for (`ci`, `wiki-bot`), shown in lists.
    pub name: Option<String>,
    /// The day it stops working (it works until the day before).
    pub expires_on: Option<Date>,
    /// The key's own limits (the team's apply too).
    pub limits: Limits,
    /// The most sensitive data it may send.
    pub data_class: DataClass,
}

impl NewKey {
    /// A key for `team` without name, expiry or limits, for internal data.
    pub fn new(team: &str) -> NewKey {
        NewKey {
            team: team.to_string(),
            name: None,
            expires_on: None,
            limits: Limits::default(),
            data_class: DataClass::default(),
        }
    }
}

/// Who revoked a key, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRevocation {
    /// When (RFC 3339 UTC).
    #[serde(with = "crate::clock::timestamp_text")]
    pub at: Timestamp,
    /// Who.
    pub by: String,
    /// Why ([`ROTATED_REASON`] for a key replaced by a new one).
    pub reason: String,
}

/// Whether a key works today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// It works.
    Active,
    /// Its expiry date has come.
    Expired,
    /// It was revoked (or rotated).
    Revoked,
}

impl KeyStatus {
    /// `active`, `expired` or `revoked`.
    pub fn name(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// An API key as stored: everything but the secret, of which only the
/// hash is kept (and neither `Debug` nor serde shows it).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// The public id (the `<id>` of `mg-<id>-<secret>`).
    pub id: String,
    /// The team whose key it is.
    pub team: String,
    /// What it is for.
    pub name: Option<String>,
    /// When it was created.
    #[serde(with = "crate::clock::timestamp_text")]
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// The day it stops working.
    pub expires_on: Option<Date>,
    /// Its own limits.
    pub limits: Limits,
    /// The most sensitive data it may send.
    pub data_class: DataClass,
    /// Set once it is revoked.
    pub revoked: Option<KeyRevocation>,
    /// The key this one replaced.
    pub rotated_from: Option<String>,
    /// SHA-256 of the secret ([`hash_secret`]).
    #[serde(skip)]
    pub secret_hash: [u8; 32],
}

impl KeyRecord {
    /// Whether the key works on `today`: not revoked, and `today` is before
    /// its expiry date.
    pub fn is_usable(&self, today: Date) -> bool {
        self.status(today) == KeyStatus::Active
    }

    /// Active, expired (on or after `expires_on`) or revoked.
    pub fn status(&self, today: Date) -> KeyStatus {
        if self.revoked.is_some() {
            KeyStatus::Revoked
        } else if self.expires_on.is_some_and(|last| today >= last) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("team", &self.team)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("expires_on", &self.expires_on)
            .field("limits", &self.limits)
            .field("data_class", &self.data_class)
            .field("revoked", &self.revoked)
            .field("rotated_from", &self.rotated_from)
            .finish_non_exhaustive()
    }
}

/// A presented key, `mg-<id>-<secret>`: shown once, when the key is made,
/// and never stored. `Debug` shows only the id.
pub struct Secret(String);

impl Secret {
    /// The whole key, to hand to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = parse_presented(&self.0).map_or("?", |(id, _)| id);
        write!(f, "Secret({KEY_PREFIX}{id}-<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes before the allocation is freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// A key just made: its record and the secret to hand over (once).
#[derive(Debug)]
pub struct IssuedKey {
    /// What is stored.
    pub record: KeyRecord,
    /// The key to present, `mg-<id>-<secret>`.
    pub secret: Secret,
}

/// The id and secret of a presented key `mg-<id>-<secret>`, or `None` when
/// it is not one (wrong prefix, lengths or characters). Cheap and
/// allocation-free: for every request.
pub fn parse_presented(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('-')?;
    let id_ok = id.len() == KEY_ID_CHARS && id.bytes().all(|b| ID_ALPHABET.contains(&b));
    let secret_ok = secret.len() == KEY_SECRET_BYTES * 2
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (id_ok && secret_ok).then_some((id, secret))
}

/// SHA-256 of a key's secret part (the `<secret>` of `mg-<id>-<secret>`).
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A new key's id, presented key and secret hash, from the operating
/// system's random number generator.
pub(crate) fn new_key_material() -> Result<(String, Secret, [u8; 32]), Error> {
    let mut random = [0u8; 8 + KEY_SECRET_BYTES];
    getrandom::fill(&mut random).map_err(|e| Error::Random {
        source: std::io::Error::other(e),
    })?;
    let (id_bytes, secret_bytes) = random.split_at(8);
    let mut id_bits = u64::from_le_bytes(id_bytes.try_into().unwrap_or_default());
    let mut id = String::with_capacity(KEY_ID_CHARS);
    for _ in 0..KEY_ID_CHARS {
        // `id_bits % 32` is below 32, the alphabet's length.
        let idx = usize::try_from(id_bits % 32).unwrap_or(0);
        id.push(char::from(ID_ALPHABET.get(idx).copied().unwrap_or(b'a')));
        id_bits /= 32;
    }
    let secret = hex(secret_bytes);
    random.fill(0);
    let hash = hash_secret(&secret);
    let presented = Secret(format!("{KEY_PREFIX}{id}-{secret}"));
    let mut secret = secret.into_bytes();
    secret.fill(0);
    std::hint::black_box(&secret);
    Ok((id, presented, hash))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// 64 lower-case hex digits as 32 bytes.
pub(crate) fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let (high, low) = (pair.first().copied()?, pair.get(1).copied()?);
        *slot = (digit(high)? << 4) | digit(low)?;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_parse_and_hash_to_their_record() {
        let (id, presented, hash) = new_key_material().unwrap();
        let (parsed_id, secret) = parse_presented(presented.expose()).unwrap();
        assert_eq!(parsed_id, id);
        assert_eq!(secret.len(), 64);
        assert_eq!(hash_secret(secret), hash);
        assert_eq!(parse_hash(&hex(&hash)), Some(hash));
        let (other_id, other, _) = new_key_material().unwrap();
        assert_ne!(other_id, id);
        assert_ne!(other.expose(), presented.expose());
        let debug = format!("{presented:?}");
        assert!(!debug.contains(secret), "{debug}");
        assert!(debug.contains(&id), "{debug}");
    }

    #[test]
    fn only_well_formed_keys_parse() {
        let secret = "0123456789abcdef".repeat(4);
        let good = format!("mg-abcdefgh2345-{secret}");
        assert_eq!(
            parse_presented(&good),
            Some(("abcdefgh2345", secret.as_str()))
        );
        for bad in [
            format!("mx-abcdefgh2345-{secret}"),
            format!("mg-abcdefgh234-{secret}"),
            format!("mg-abcdefgh23456-{secret}"),
            format!("mg-ABCDEFGH2345-{secret}"),
            format!("mg-abcdefgh2341-{secret}"),
            format!("mg-abcdefgh2345-{}", &secret[1..]),
            format!("mg-abcdefgh2345-{}A", &secret[1..]),
            format!("mg-abcdefgh2345-{secret}0"),
            format!("mg-abcdefgh2345{secret}"),
            "mg-".to_string(),
            String::new(),
            format!("mg-abcdefgh2345-{}é", &secret[2..]),
        ] {
            assert_eq!(parse_presented(&bad), None, "{bad}");
        }
        assert_eq!(parse_hash(&"g".repeat(64)), None);
        assert_eq!(parse_hash(&"A".repeat(64)), None);
        assert_eq!(parse_hash("00"), None);
    }

    #[test]
    fn data_classes_are_ordered_and_named() {
        assert!(DataClass::Public < DataClass::Internal);
        assert!(DataClass::Confidential < DataClass::Restricted);
        assert_eq!(DataClass::default(), DataClass::Internal);
        for class in DataClass::ALL {
            assert_eq!(class.to_string().parse::<DataClass>().unwrap(), class);
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{class}\""));
            assert_eq!(serde_json::from_str::<DataClass>(&json).unwrap(), class);
        }
        let error = "Secret".parse::<DataClass>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"Secret\" is not a data class (public, internal, confidential or restricted)"
        );
    }

    #[test]
    fn limits_read_from_json_and_refuse_unknown_fields() {
        let limits: Limits = serde_json::from_str(r#"{"rpm": 60, "budget_micro_usd": 5}"#).unwrap();
        assert_eq!(
            limits,
            Limits {
                rpm: Some(60),
                budget_micro_usd: Some(5),
                ..Limits::default()
            }
        );
        assert!(!limits.is_unlimited());
        assert!(Limits::default().is_unlimited());
        assert!(serde_json::from_str::<Limits>(r#"{"rqm": 60}"#).is_err());
        assert!(serde_json::from_str::<Limits>(r#"{"rpm": -1}"#).is_err());
        let too_big = Limits {
            budget_micro_usd: Some(u64::MAX),
            ..Limits::default()
        };
        assert!(matches!(
            too_big.checked(),
            Err(Error::BadNumber {
                field: "budget_micro_usd",
                ..
            })
        ));
    }

    #[test]
    fn expired_and_revoked_keys_are_not_usable() {
        let today: Date = "2026-05-10".parse().unwrap();
        let mut record = KeyRecord {
            id: "abcdefgh2345".into(),
            team: "search".into(),
            name: None,
            created_at: Timestamp::from_unix_seconds(0),
            created_by: "alice".into(),
            expires_on: Some(today.add_days(1)),
            limits: Limits::default(),
            data_class: DataClass::Internal,
            revoked: None,
            rotated_from: None,
            secret_hash: [7; 32],
        };
        assert!(record.is_usable(today));
        record.expires_on = Some(today);
        assert_eq!(record.status(today), KeyStatus::Expired);
        assert!(!record.is_usable(today));
        record.expires_on = None;
        assert!(record.is_usable(today));
        record.revoked = Some(KeyRevocation {
            at: Timestamp::from_unix_seconds(0),
            by: "bob".into(),
            reason: "leaked".into(),
        });
        assert_eq!(record.status(today), KeyStatus::Revoked);
        let debug = format!("{record:?}");
        assert!(
            !debug.contains("secret_hash") && !debug.contains("[7, 7"),
            "{debug}"
        );
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("secret_hash"), "{json}");
    }
}
