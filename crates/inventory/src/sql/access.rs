//! Who may call the gateway: API keys, team limits and route grants, their
//! changes (each with its audit event, in the batch's transaction) and
//! their reads, including [`Store::access_generation`], the cheap check a
//! server's refresh loop makes before reading them all again. What a key
//! is and how it is made is `keys.rs`'s; this file reads and writes rows.

use super::db::{Connection, OptionalExtension, params};
use serde_json::json;

use super::{Batch, Store};
use crate::encoding::sql_int;
use crate::encoding::{limits_from_sql, limits_to_sql};
use crate::keys::{ROTATED_REASON, hex, new_key_material, parse_hash};
use crate::record::{check_actor, check_name, check_name_or_ref, check_note};
use crate::{
    DataClass, Date, Error, IssuedKey, KeyRecord, KeyRevocation, KeyStatus, Limits, NewKey, Stage,
    Timestamp, VersionRef,
};

/// How many times a new key id is drawn when the first is taken (with 60
/// random bits, a second draw is already one in a billion billions).
const ID_DRAWS: usize = 4;

impl Store {
    /// Make an API key. See [`Batch::create_key`].
    pub fn create_key(&mut self, new: &NewKey, by: &str) -> Result<IssuedKey, Error> {
        self.transaction(|batch| batch.create_key(new, by))
    }

    /// Revoke an API key. See [`Batch::revoke_key`].
    pub fn revoke_key(&mut self, id: &str, by: &str, reason: &str) -> Result<KeyRecord, Error> {
        self.transaction(|batch| batch.revoke_key(id, by, reason))
    }

    /// Replace an API key by a new one. See [`Batch::rotate_key`].
    pub fn rotate_key(&mut self, id: &str, by: &str) -> Result<IssuedKey, Error> {
        self.transaction(|batch| batch.rotate_key(id, by))
    }

    /// Change an API key's limits. See [`Batch::set_key_limits`].
    pub fn set_key_limits(
        &mut self,
        id: &str,
        limits: Limits,
        by: &str,
    ) -> Result<KeyRecord, Error> {
        self.transaction(|batch| batch.set_key_limits(id, limits, by))
    }

    /// Set a team's limits. See [`Batch::set_team_limits`].
    pub fn set_team_limits(&mut self, team: &str, limits: Limits, by: &str) -> Result<(), Error> {
        self.transaction(|batch| batch.set_team_limits(team, limits, by))
    }

    /// Let a team's keys call a route. See [`Batch::grant_route`].
    pub fn grant_route(&mut self, team: &str, route: &str, by: &str) -> Result<bool, Error> {
        self.transaction(|batch| batch.grant_route(team, route, by))
    }

    /// Take a route away from a team. See [`Batch::revoke_route`].
    pub fn revoke_route(&mut self, team: &str, route: &str, by: &str) -> Result<(), Error> {
        self.transaction(|batch| batch.revoke_route(team, route, by))
    }
}

impl Batch<'_> {
    /// Make an API key for `new.team` (recorded if new), with a `key.created`
    /// event naming its id, team, name, limits, data class and expiry
    /// (never the secret or its hash). Returns the record and the secret,
    /// which is shown this once: only its hash is stored.
    ///
    /// Refused for an invalid team or name, a budget beyond a signed 64-bit
    /// number, or an expiry date that is not after today.
    pub fn create_key(&mut self, new: &NewKey, by: &str) -> Result<IssuedKey, Error> {
        let team = check_name("team", &new.team)?;
        let name = new
            .name
            .as_deref()
            .map(|name| check_name("key name", name))
            .transpose()?;
        let by = check_actor("actor", by)?;
        let limits = new.limits.checked()?;
        let today = Date::of(&self.now);
        if let Some(date) = new.expires_on
            && date <= today
        {
            return Err(Error::ExpiryNotFuture {
                date: date.to_string(),
                today: today.to_string(),
            });
        }
        let record = KeyRecord {
            id: String::new(),
            team: team.to_string(),
            name: name.map(str::to_string),
            created_at: self.now.clone(),
            created_by: by,
            expires_on: new.expires_on,
            limits,
            data_class: new.data_class,
            revoked: None,
            rotated_from: None,
            secret_hash: [0; 32],
        };
        self.issue(record, "key.created").map(|(issued, _)| issued)
    }

    /// Replace a usable key by a new one with the same team, name, limits,
    /// data class and expiry: the new key names the old one in
    /// `rotated_from`, and the old one is revoked with the reason
    /// [`ROTATED_REASON`], in one `key.rotated` event.
    ///
    /// Refused for an unknown, revoked or expired key.
    pub fn rotate_key(&mut self, id: &str, by: &str) -> Result<IssuedKey, Error> {
        let by = check_actor("actor", by)?;
        let old = self.usable_key(id)?;
        if let Some(expires_on) = old
            .expires_on
            .filter(|_| old.status(Date::of(&self.now)) == KeyStatus::Expired)
        {
            return Err(Error::KeyExpired {
                id: old.id,
                team: old.team,
                expires_on: expires_on.to_string(),
            });
        }
        let record = KeyRecord {
            created_at: self.now.clone(),
            created_by: by.clone(),
            rotated_from: Some(old.id.clone()),
            ..old
        };
        let (issued, event_seq) = self.issue(record, "key.rotated")?;
        self.mark_revoked(id, &by, ROTATED_REASON, event_seq)?;
        Ok(issued)
    }

    /// Revoke a key, with the reason, in a `key.revoked` event. Its row
    /// stays (usage and the audit trail name it). Refused for an unknown
    /// or already revoked key, or without a reason.
    pub fn revoke_key(&mut self, id: &str, by: &str, reason: &str) -> Result<KeyRecord, Error> {
        let by = check_actor("revoker", by)?;
        let reason =
            check_note("reason", Some(reason))?.ok_or(Error::Missing { field: "reason" })?;
        let key = self.usable_key(id)?;
        let event = self.append(
            &by,
            "key.revoked",
            &key_subject(id),
            json!({"id": key.id, "team": key.team, "reason": reason}),
        )?;
        self.mark_revoked(id, &by, &reason, event.seq)?;
        read_key(&self.tx, id)
    }

    /// Replace a key's own limits (the team's apply as well), in a
    /// `key.limits` event with the limits before and after. Refused for an
    /// unknown or revoked key.
    pub fn set_key_limits(
        &mut self,
        id: &str,
        limits: Limits,
        by: &str,
    ) -> Result<KeyRecord, Error> {
        let by = check_actor("actor", by)?;
        let limits = limits.checked()?;
        let key = self.usable_key(id)?;
        let event = self.append(
            &by,
            "key.limits",
            &key_subject(id),
            json!({
                "id": key.id,
                "team": key.team,
                "limits": limits.to_json(),
                "previous": key.limits.to_json(),
            }),
        )?;
        let [rpm, tpm, max_parallel, budget] = limits_to_sql(limits);
        self.tx
            .prepare_cached(
                "UPDATE api_keys SET rpm = ?1, tpm = ?2, max_parallel = ?3,
                    budget_micro_usd = ?4, event_seq = ?5
                 WHERE id = ?6",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    rpm,
                    tpm,
                    max_parallel,
                    budget,
                    sql_int(event.seq),
                    id
                ])
            })
            .map_err(Error::database("changing an API key's limits"))?;
        read_key(&self.tx, id)
    }

    /// Set a team's limits over all its keys (recording the team if new),
    /// in a `team.limits` event with the limits before and after.
    /// [`Limits::default()`] sets none (and is recorded as such).
    pub fn set_team_limits(&mut self, team: &str, limits: Limits, by: &str) -> Result<(), Error> {
        let team = check_name("team", team)?;
        let by = check_actor("actor", by)?;
        let limits = limits.checked()?;
        let previous = team_limits(&self.tx, team)?;
        let event = self.append(
            &by,
            "team.limits",
            &team_subject(team),
            json!({
                "team": team,
                "limits": limits.to_json(),
                "previous": previous.map(Limits::to_json),
            }),
        )?;
        self.ensure_team(team)?;
        let [rpm, tpm, max_parallel, budget] = limits_to_sql(limits);
        self.tx
            .prepare_cached(
                "INSERT INTO team_limits (team, rpm, tpm, max_parallel, budget_micro_usd,
                    updated_at, updated_by, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (team) DO UPDATE SET
                    rpm = excluded.rpm, tpm = excluded.tpm,
                    max_parallel = excluded.max_parallel,
                    budget_micro_usd = excluded.budget_micro_usd,
                    updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                    event_seq = excluded.event_seq",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    team,
                    rpm,
                    tpm,
                    max_parallel,
                    budget,
                    self.now.as_str(),
                    by,
                    sql_int(event.seq)
                ])
            })
            .map_err(Error::database("setting a team's limits"))?;
        Ok(())
    }

    /// Let `team`'s keys call `route` (a name, or `NAME@VERSION`),
    /// recording the team if new, in a `team.route_granted` event. Returns
    /// false, and records nothing, when the route was already granted.
    pub fn grant_route(&mut self, team: &str, route: &str, by: &str) -> Result<bool, Error> {
        let doing = "granting a route";
        let team = check_name("team", team)?;
        let route = check_name_or_ref("route", route)?;
        let by = check_actor("actor", by)?;
        if is_granted(&self.tx, team, route)? {
            return Ok(false);
        }
        let event = self.append(
            &by,
            "team.route_granted",
            &team_subject(team),
            json!({"team": team, "route": route}),
        )?;
        self.ensure_team(team)?;
        self.tx
            .prepare_cached(
                "INSERT INTO route_grants (team, route, granted_at, granted_by, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    team,
                    route,
                    self.now.as_str(),
                    by,
                    sql_int(event.seq)
                ])
            })
            .map_err(Error::database(doing))?;
        Ok(true)
    }

    /// Take `route` away from `team`, in a `team.route_revoked` event.
    /// Refused, naming the team's routes, when it was not granted.
    pub fn revoke_route(&mut self, team: &str, route: &str, by: &str) -> Result<(), Error> {
        let team = check_name("team", team)?;
        let route = check_name_or_ref("route", route)?;
        let by = check_actor("actor", by)?;
        if !is_granted(&self.tx, team, route)? {
            let granted = route_grants(&self.tx, Some(team))?
                .into_iter()
                .map(|(_, route)| route)
                .collect();
            return Err(Error::UnknownGrant {
                team: team.to_string(),
                route: route.to_string(),
                granted,
            });
        }
        self.append(
            &by,
            "team.route_revoked",
            &team_subject(team),
            json!({"team": team, "route": route}),
        )?;
        self.tx
            .prepare_cached("DELETE FROM route_grants WHERE team = ?1 AND route = ?2")
            .and_then(|mut stmt| stmt.execute(params![team, route]))
            .map_err(Error::database("revoking a route"))?;
        Ok(())
    }

    /// The key `id`, refused when unknown or revoked.
    fn usable_key(&self, id: &str) -> Result<KeyRecord, Error> {
        let key = read_key(&self.tx, id)?;
        match key.revoked {
            Some(revoked) => Err(Error::KeyRevoked {
                id: key.id,
                team: key.team,
                at: revoked.at.to_string(),
            }),
            None => Ok(key),
        }
    }

    /// Draw a new id and secret for `record` (checked by the caller), record
    /// the event `action` and the team, and insert the key. Returns the key
    /// and its event's number.
    fn issue(&mut self, mut record: KeyRecord, action: &str) -> Result<(IssuedKey, u64), Error> {
        let doing = "creating an API key";
        let mut material = None;
        for _ in 0..ID_DRAWS {
            let (id, secret, hash) = new_key_material()?;
            let taken = self
                .tx
                .prepare_cached("SELECT 1 FROM api_keys WHERE id = ?1")
                .and_then(|mut stmt| stmt.exists([&id]))
                .map_err(Error::database(doing))?;
            if !taken {
                material = Some((id, secret, hash));
                break;
            }
        }
        let Some((id, secret, hash)) = material else {
            return Err(Error::Corrupt {
                what: format!("{ID_DRAWS} new API key ids in a row were already taken"),
            });
        };
        record.id = id;
        record.secret_hash = hash;
        let event = self.append(
            &record.created_by,
            action,
            &key_subject(record.rotated_from.as_deref().unwrap_or(&record.id)),
            json!({
                "id": record.id,
                "team": record.team,
                "key_name": record.name,
                "data_class": record.data_class.name(),
                "expires_on": record.expires_on.map(|date| date.to_string()),
                "limits": record.limits.to_json(),
                "rotated_from": record.rotated_from,
            }),
        )?;
        self.ensure_team(&record.team)?;
        let [rpm, tpm, max_parallel, budget] = limits_to_sql(record.limits);
        self.tx
            .prepare_cached(
                "INSERT INTO api_keys (id, team, name, secret_hash, created_at, created_by,
                    expires_on, rpm, tpm, max_parallel, budget_micro_usd, data_class,
                    revoked_at, revoked_by, revoke_reason, rotated_from, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                    NULL, NULL, NULL, ?13, ?14)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    record.id,
                    record.team,
                    record.name,
                    hex(&record.secret_hash),
                    record.created_at.as_str(),
                    record.created_by,
                    record.expires_on.map(|date| date.to_string()),
                    rpm,
                    tpm,
                    max_parallel,
                    budget,
                    record.data_class.name(),
                    record.rotated_from,
                    sql_int(event.seq),
                ])
            })
            .map_err(Error::database(doing))?;
        Ok((IssuedKey { record, secret }, event.seq))
    }

    /// Set a key's revocation, recorded by event `event_seq`.
    fn mark_revoked(&self, id: &str, by: &str, reason: &str, event_seq: u64) -> Result<(), Error> {
        self.tx
            .prepare_cached(
                "UPDATE api_keys SET revoked_at = ?1, revoked_by = ?2, revoke_reason = ?3,
                    event_seq = ?4
                 WHERE id = ?5",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    self.now.as_str(),
                    by,
                    reason,
                    sql_int(event_seq),
                    id
                ])
            })
            .map_err(Error::database("revoking an API key"))?;
        Ok(())
    }
}

impl Store {
    /// API keys, by team then age (oldest first): of `team` only, when
    /// given; revoked keys too when `include_revoked`. Expired keys are
    /// listed (see [`KeyRecord::status`]).
    pub fn keys(&self, team: Option<&str>, include_revoked: bool) -> Result<Vec<KeyRecord>, Error> {
        let doing = "listing API keys";
        let revoked = if include_revoked {
            ""
        } else {
            "AND revoked_at IS NULL"
        };
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE (CAST(?1 AS TEXT) IS NULL OR team = ?1) {revoked}
             ORDER BY team, created_at, id"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(Error::database(doing))?;
        let rows = stmt
            .query_map([team], key_row)
            .map_err(Error::database(doing))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(Error::database(doing))?.into_record()?);
        }
        Ok(out)
    }

    /// One API key, revoked or not, or [`Error::UnknownKey`].
    pub fn key(&self, id: &str) -> Result<KeyRecord, Error> {
        read_key(&self.conn, id)
    }

    /// A team's limits, or `None` when none were ever set.
    pub fn team_limits(&self, team: &str) -> Result<Option<Limits>, Error> {
        team_limits(&self.conn, team)
    }

    /// Every team's limits, by team.
    pub fn all_team_limits(&self) -> Result<Vec<(String, Limits)>, Error> {
        let doing = "reading team limits";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT team, rpm, tpm, max_parallel, budget_micro_usd FROM team_limits
                 ORDER BY team",
            )
            .map_err(Error::database(doing))?;
        let rows = stmt
            .query_map(params![], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?],
                ))
            })
            .map_err(Error::database(doing))?;
        let mut out = Vec::new();
        for row in rows {
            let (team, limits) = row.map_err(Error::database(doing))?;
            let limits = limits_from_sql(limits, &team_subject(&team))?;
            out.push((team, limits));
        }
        Ok(out)
    }

    /// Every route grant, as (team, route), by team then route.
    pub fn route_grants(&self) -> Result<Vec<(String, String)>, Error> {
        route_grants(&self.conn, None)
    }

    /// Every team's assigned versions that may still be served (approved,
    /// production or deprecated; not revoked), as (team, version), by team.
    /// [`Store::assignments`] has the stage and purpose of each.
    pub fn assigned_versions(&self) -> Result<Vec<(String, VersionRef)>, Error> {
        Ok(super::reads::assignments(&self.conn, None)?
            .into_iter()
            .filter(|a| a.stage != Stage::Revoked && a.stage != Stage::Candidate)
            .map(|a| {
                let reference = a.reference();
                (a.team, reference)
            })
            .collect())
    }

    /// A number that changes whenever anything audited changes (keys, team
    /// limits, route grants, assignments, stages): the newest audit
    /// event's sequence number (0 for an empty inventory). A server reads
    /// it every few seconds and reloads keys, limits and grants only when
    /// it moved. One indexed read.
    pub fn access_generation(&self) -> Result<i64, Error> {
        self.conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")
            .and_then(|mut stmt| stmt.query_row(params![], |row| row.get(0)))
            .map_err(Error::database("reading the access generation"))
    }
}

/// `key:<id>`, the subject of a key's events.
fn key_subject(id: &str) -> String {
    format!("key:{id}")
}

/// `team:<name>`, the subject of a team's events.
fn team_subject(team: &str) -> String {
    format!("team:{team}")
}

/// The columns [`key_row`] reads.
const KEY_COLUMNS: &str = "id, team, name, secret_hash, created_at, created_by, expires_on,
    rpm, tpm, max_parallel, budget_micro_usd, data_class, revoked_at, revoked_by,
    revoke_reason, rotated_from";

/// A key's row as stored, before its values are parsed.
struct KeyRow {
    id: String,
    team: String,
    name: Option<String>,
    secret_hash: String,
    created_at: String,
    created_by: String,
    expires_on: Option<String>,
    limits: [Option<i64>; 4],
    data_class: String,
    revoked_at: Option<String>,
    revoked_by: Option<String>,
    revoke_reason: Option<String>,
    rotated_from: Option<String>,
}

fn key_row(row: &super::db::Row<'_>) -> super::db::Result<KeyRow> {
    Ok(KeyRow {
        id: row.get(0)?,
        team: row.get(1)?,
        name: row.get(2)?,
        secret_hash: row.get(3)?,
        created_at: row.get(4)?,
        created_by: row.get(5)?,
        expires_on: row.get(6)?,
        limits: [row.get(7)?, row.get(8)?, row.get(9)?, row.get(10)?],
        data_class: row.get(11)?,
        revoked_at: row.get(12)?,
        revoked_by: row.get(13)?,
        revoke_reason: row.get(14)?,
        rotated_from: row.get(15)?,
    })
}

impl KeyRow {
    fn into_record(self) -> Result<KeyRecord, Error> {
        let subject = key_subject(&self.id);
        let corrupt = |what: &str| Error::Corrupt {
            what: format!("{subject}'s stored {what}"),
        };
        let timestamp = |text: &str, what: &str| Timestamp::parse(text).map_err(|_| corrupt(what));
        let revoked = match self.revoked_at {
            None => None,
            Some(at) => Some(KeyRevocation {
                at: timestamp(&at, "revocation time")?,
                by: self.revoked_by.unwrap_or_default(),
                reason: self.revoke_reason.unwrap_or_default(),
            }),
        };
        Ok(KeyRecord {
            secret_hash: parse_hash(&self.secret_hash).ok_or_else(|| corrupt("secret hash"))?,
            created_at: timestamp(&self.created_at, "creation time")?,
            expires_on: self
                .expires_on
                .map(|text| text.parse::<Date>().map_err(|_| corrupt("expiry date")))
                .transpose()?,
            limits: limits_from_sql(self.limits, &subject)?,
            data_class: self
                .data_class
                .parse::<DataClass>()
                .map_err(|_| corrupt("data class"))?,
            revoked,
            id: self.id,
            team: self.team,
            name: self.name,
            created_by: self.created_by,
            rotated_from: self.rotated_from,
        })
    }
}

fn read_key(conn: &Connection, id: &str) -> Result<KeyRecord, Error> {
    let row = conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], key_row).optional())
        .map_err(Error::database("reading an API key"))?;
    match row {
        Some(row) => row.into_record(),
        None => Err(Error::UnknownKey {
            id: id.chars().take(40).collect(),
        }),
    }
}

fn team_limits(conn: &Connection, team: &str) -> Result<Option<Limits>, Error> {
    let row: Option<[Option<i64>; 4]> = conn
        .prepare_cached(
            "SELECT rpm, tpm, max_parallel, budget_micro_usd FROM team_limits WHERE team = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([team], |row| {
                Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?])
            })
            .optional()
        })
        .map_err(Error::database("reading a team's limits"))?;
    row.map(|limits| limits_from_sql(limits, &team_subject(team)))
        .transpose()
}

fn is_granted(conn: &Connection, team: &str, route: &str) -> Result<bool, Error> {
    conn.prepare_cached("SELECT 1 FROM route_grants WHERE team = ?1 AND route = ?2")
        .and_then(|mut stmt| stmt.exists(params![team, route]))
        .map_err(Error::database("reading a route grant"))
}

fn route_grants(conn: &Connection, team: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let doing = "reading route grants";
    let mut stmt = conn
        .prepare_cached(
            "SELECT team, route FROM route_grants WHERE (CAST(?1 AS TEXT) IS NULL OR team = ?1)
             ORDER BY team, route",
        )
        .map_err(Error::database(doing))?;
    let rows = stmt
        .query_map([team], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(Error::database(doing))?;
    rows.collect::<super::db::Result<Vec<_>>>()
        .map_err(Error::database(doing))
}
