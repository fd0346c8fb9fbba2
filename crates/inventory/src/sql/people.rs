//! Console users and reviews: their audited changes (in a [`Batch`]) and
//! their reads, plus the paged reads of the audit trail the console shows.
//! What a role may do is `people.rs`'s; this file reads and writes rows.

use super::db::{Backend, Connection, LOGIN_LOCK, OptionalExtension, params};
use serde_json::json;

use super::reads::require;
use super::{Batch, Store};
use crate::audit::sha256_hex;
use crate::encoding::sql_int;
use crate::people::{check_password_hash, parse_reviewer_text, parse_role_text};
use crate::record::{check_actor, check_name, check_note};
use crate::{
    ConsoleSession, Error, Event, NewReview, NewUser, Review, ReviewOutcome, Role, Stage,
    Timestamp, User, VersionRef, VersionSummary,
};
use modelgate_policy::{Decision, Reviewer};

/// Most events one page of the trail holds.
pub const MAX_EVENT_PAGE: usize = 1000;

/// Which events [`Store::events_page`] returns: newest first, before
/// `before_seq` when given, at most `limit` (capped at
/// [`MAX_EVENT_PAGE`]).
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Actions starting with this (`version.`, `key.revoked`).
    pub action_prefix: Option<String>,
    /// This exact subject (`NAME@VERSION`, `key:<id>`, `team:<name>`).
    pub subject: Option<String>,
    /// This exact actor.
    pub actor: Option<String>,
    /// Only events numbered below this.
    pub before_seq: Option<u64>,
    /// How many.
    pub limit: usize,
}

impl Store {
    /// Add a console user. See [`Batch::add_user`].
    pub fn add_user(&mut self, new: &NewUser, by: &str) -> Result<User, Error> {
        self.transaction(|batch| batch.add_user(new, by))
    }

    /// Change a user's role. See [`Batch::set_user_role`].
    pub fn set_user_role(&mut self, name: &str, role: Role, by: &str) -> Result<User, Error> {
        self.transaction(|batch| batch.set_user_role(name, role, by))
    }

    /// Replace a user's password hash. See [`Batch::set_password`].
    pub fn set_password(&mut self, name: &str, hash: &str, by: &str) -> Result<User, Error> {
        self.transaction(|batch| batch.set_password(name, hash, by))
    }

    /// Disable a user. See [`Batch::disable_user`].
    pub fn disable_user(&mut self, name: &str, by: &str) -> Result<User, Error> {
        self.transaction(|batch| batch.disable_user(name, by))
    }

    /// Record a review. See [`Batch::review`].
    pub fn review(&mut self, reference: &VersionRef, review: &NewReview) -> Result<Review, Error> {
        self.transaction(|batch| batch.review(reference, review))
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, Error> {
        let doing = "listing users";
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
            .map_err(Error::database(doing))?;
        let rows = stmt
            .query_map(params![], user_row)
            .map_err(Error::database(doing))?;
        let mut users = Vec::new();
        for row in rows {
            users.push(row.map_err(Error::database(doing))??);
        }
        Ok(users)
    }

    /// One user, or `None`.
    pub fn user(&self, name: &str) -> Result<Option<User>, Error> {
        find_user(&self.conn, name)
    }

    /// The reviews recorded on a version (the latest of each kind).
    pub fn reviews(&self, reference: &VersionRef) -> Result<Vec<Review>, Error> {
        require(&self.conn, reference)?;
        reviews_where(
            &self.conn,
            "WHERE model = ?1 AND version = ?2",
            params![reference.name, reference.version],
        )
    }

    /// Every recorded review.
    pub fn all_reviews(&self) -> Result<Vec<Review>, Error> {
        reviews_where(&self.conn, "", params![])
    }

    /// The versions waiting for a review of kind `reviewer` (every kind
    /// when `None`): candidates whose verdict is `needs-review` naming it,
    /// with no review of that kind recorded yet; with the reviews they
    /// already have.
    pub fn review_queue(
        &self,
        reviewer: Option<Reviewer>,
    ) -> Result<Vec<(VersionSummary, Vec<Review>)>, Error> {
        let mut reviews: std::collections::HashMap<(String, String), Vec<Review>> =
            std::collections::HashMap::new();
        for review in self.all_reviews()? {
            reviews
                .entry((review.name.clone(), review.version.clone()))
                .or_default()
                .push(review);
        }
        let mut queue = Vec::new();
        for summary in self.list()? {
            if summary.stage != Stage::Candidate || summary.decision != Decision::NeedsReview {
                continue;
            }
            let done = reviews
                .remove(&(summary.name.clone(), summary.version.clone()))
                .unwrap_or_default();
            let waiting = summary
                .reviewers
                .iter()
                .filter(|wanted| reviewer.is_none_or(|r| r == **wanted))
                .any(|wanted| !done.iter().any(|r| r.reviewer == *wanted));
            if waiting {
                queue.push((summary, done));
            }
        }
        Ok(queue)
    }

    /// One page of the audit trail, newest first (see [`EventQuery`]),
    /// and how many events match in all.
    pub fn events_page(&self, query: &EventQuery) -> Result<(Vec<Event>, u64), Error> {
        let doing = "reading the audit trail";
        let mut conditions = Vec::new();
        let mut values: Vec<super::db::Value> = Vec::new();
        if let Some(prefix) = query.action_prefix.as_deref().filter(|p| !p.is_empty()) {
            // A range instead of LIKE: no wildcard in the user's text is
            // special, and the (action, seq) index serves it.
            values.push(prefix.to_string().into());
            let mut upper = prefix.to_string();
            upper.push(char::MAX);
            values.push(upper.into());
            conditions.push(format!(
                "action >= ?{} AND action < ?{}",
                values.len() - 1,
                values.len()
            ));
        }
        if let Some(subject) = query.subject.as_deref().filter(|s| !s.is_empty()) {
            values.push(subject.to_string().into());
            conditions.push(format!("subject = ?{}", values.len()));
        }
        if let Some(actor) = query.actor.as_deref().filter(|s| !s.is_empty()) {
            values.push(actor.to_string().into());
            conditions.push(format!("actor = ?{}", values.len()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM events {filter}"),
                super::db::params_from_iter(values.iter()),
                |row| row.get(0),
            )
            .map_err(Error::database(doing))?;
        let mut page_values = values.clone();
        let mut page_conditions = conditions;
        if let Some(before) = query.before_seq {
            page_values.push(sql_int(before).into());
            page_conditions.push(format!("seq < ?{}", page_values.len()));
        }
        let page_filter = if page_conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", page_conditions.join(" AND "))
        };
        let limit = query.limit.clamp(1, MAX_EVENT_PAGE);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seq, at, actor, action, subject, details, prev_hash, hash
                 FROM events {page_filter} ORDER BY seq DESC LIMIT {limit}"
            ))
            .map_err(Error::database(doing))?;
        let mut rows = stmt
            .query(super::db::params_from_iter(page_values.iter()))
            .map_err(Error::database(doing))?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let seq: i64 = row.get(0).map_err(Error::database(doing))?;
            let details: String = row.get(5).map_err(Error::database(doing))?;
            events.push(Event {
                seq: u64::try_from(seq).unwrap_or(0),
                at: row.get(1).map_err(Error::database(doing))?,
                actor: row.get(2).map_err(Error::database(doing))?,
                action: row.get(3).map_err(Error::database(doing))?,
                subject: row.get(4).map_err(Error::database(doing))?,
                details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                prev_hash: row.get(6).map_err(Error::database(doing))?,
                hash: row.get(7).map_err(Error::database(doing))?,
            });
        }
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }
}

impl Batch<'_> {
    /// Add a console user with a `user.added` event naming the user, the
    /// role and the SHA-256 of the stored hash (never the hash). Refused
    /// for a taken or invalid name or a hash that is not argon2id.
    pub fn add_user(&mut self, new: &NewUser, by: &str) -> Result<User, Error> {
        let name = check_name("user name", &new.name)?;
        let hash = check_password_hash(&new.password_hash)?;
        let by = check_actor("actor", by)?;
        if find_user(&self.tx, name)?.is_some() {
            return Err(Error::UserExists {
                name: name.to_string(),
            });
        }
        let event = self.append(
            &by,
            "user.added",
            &format!("user:{name}"),
            json!({
                "user": name,
                "role": new.role.name(),
                "password_sha256": sha256_hex(hash.as_bytes()),
            }),
        )?;
        self.tx
            .execute(
                "INSERT INTO users (name, role, password_hash, created_at, created_by, disabled_at, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
                params![name, new.role.name(), hash, self.now.as_str(), by, sql_int(event.seq)],
            )
            .map_err(Error::database("adding a user"))?;
        self.require_user(name)
    }

    /// Change a user's role (`user.role` event).
    pub fn set_user_role(&mut self, name: &str, role: Role, by: &str) -> Result<User, Error> {
        let by = check_actor("actor", by)?;
        let user = self.require_user(name)?;
        let event = self.append(
            &by,
            "user.role",
            &format!("user:{}", user.name),
            json!({"user": user.name, "role": role.name(), "from": user.role.name()}),
        )?;
        self.tx
            .execute(
                "UPDATE users SET role = ?2, event_seq = ?3 WHERE name = ?1",
                params![user.name, role.name(), sql_int(event.seq)],
            )
            .map_err(Error::database("changing a user's role"))?;
        self.require_user(&user.name)
    }

    /// Replace a user's password hash (`user.password` event with the new
    /// hash's SHA-256).
    pub fn set_password(&mut self, name: &str, hash: &str, by: &str) -> Result<User, Error> {
        let by = check_actor("actor", by)?;
        let hash = check_password_hash(hash)?;
        let user = self.require_user(name)?;
        let event = self.append(
            &by,
            "user.password",
            &format!("user:{}", user.name),
            json!({"user": user.name, "password_sha256": sha256_hex(hash.as_bytes())}),
        )?;
        self.tx
            .execute(
                "UPDATE users SET password_hash = ?2, event_seq = ?3 WHERE name = ?1",
                params![user.name, hash, sql_int(event.seq)],
            )
            .map_err(Error::database("changing a user's password"))?;
        self.require_user(&user.name)
    }

    /// Disable a user (`user.disabled` event); their row stays. Disabling
    /// a disabled user changes nothing.
    pub fn disable_user(&mut self, name: &str, by: &str) -> Result<User, Error> {
        let by = check_actor("actor", by)?;
        let user = self.require_user(name)?;
        if user.disabled_at.is_some() {
            return Ok(user);
        }
        let event = self.append(
            &by,
            "user.disabled",
            &format!("user:{}", user.name),
            json!({"user": user.name}),
        )?;
        self.tx
            .execute(
                "UPDATE users SET disabled_at = ?2, event_seq = ?3 WHERE name = ?1",
                params![user.name, self.now.as_str(), sql_int(event.seq)],
            )
            .map_err(Error::database("disabling a user"))?;
        self.require_user(&user.name)
    }

    /// Record a reviewer's decision on a version, replacing an earlier one
    /// of the same kind, with a `review.signed_off` or `review.rejected`
    /// event. Refused when the version is deprecated or revoked, when its
    /// verdict does not ask for that review, or for a rejection without a
    /// note. Who may record which kind is the caller's check
    /// ([`Role::may_review`]); the store records the name it is given.
    pub fn review(&mut self, reference: &VersionRef, review: &NewReview) -> Result<Review, Error> {
        let by = check_actor("reviewer", &review.by)?;
        let note = check_note("note", review.note.as_deref())?;
        if review.outcome == ReviewOutcome::Rejected && note.is_none() {
            return Err(Error::RejectionWithoutNote);
        }
        let current = require(&self.tx, reference)?;
        if matches!(current.stage, Stage::Deprecated | Stage::Revoked) {
            return Err(Error::NotReviewable {
                reference: reference.clone(),
                stage: current.stage,
            });
        }
        if !current.reviewers.contains(&review.reviewer) {
            return Err(Error::ReviewNotAsked {
                reference: reference.clone(),
                reviewer: review.reviewer,
                asked: current.reviewers,
            });
        }
        let event = self.append(
            &by,
            review.outcome.action(),
            &reference.to_string(),
            json!({
                "name": reference.name,
                "version": reference.version,
                "reviewer": review.reviewer.name(),
                "outcome": review.outcome.name(),
                "note": note,
            }),
        )?;
        self.tx
            .execute(
                "INSERT INTO reviews (model, version, reviewer, outcome, reviewed_by, note, reviewed_at, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (model, version, reviewer) DO UPDATE SET
                   outcome = excluded.outcome, reviewed_by = excluded.reviewed_by,
                   note = excluded.note, reviewed_at = excluded.reviewed_at,
                   event_seq = excluded.event_seq",
                params![
                    reference.name,
                    reference.version,
                    review.reviewer.name(),
                    review.outcome.name(),
                    by,
                    note,
                    self.now.as_str(),
                    sql_int(event.seq)
                ],
            )
            .map_err(Error::database("recording a review"))?;
        Ok(Review {
            name: reference.name.clone(),
            version: reference.version.clone(),
            reviewer: review.reviewer,
            outcome: review.outcome,
            by,
            note,
            at: self.now.as_str().to_string(),
            event_seq: event.seq,
        })
    }

    /// The reviews recorded on a version, in this transaction.
    pub(super) fn stored_reviews(&self, reference: &VersionRef) -> Result<Vec<Review>, Error> {
        reviews_where(
            &self.tx,
            "WHERE model = ?1 AND version = ?2",
            params![reference.name, reference.version],
        )
    }

    fn require_user(&self, name: &str) -> Result<User, Error> {
        find_user(&self.tx, name)?.ok_or_else(|| Error::UnknownUser {
            name: name.to_string(),
        })
    }
}

const USER_COLUMNS: &str = "name, role, password_hash, created_at, created_by, disabled_at";

type UserRow = Result<User, Error>;

fn user_row(row: &super::db::Row<'_>) -> super::db::Result<UserRow> {
    let role: String = row.get(1)?;
    Ok(parse_role_text(&role)
        .map_err(|_| Error::Corrupt {
            what: format!("user role {role:?}"),
        })
        .and_then(|role| {
            Ok(User {
                name: row.get(0).map_err(Error::database("reading a user"))?,
                role,
                password_hash: row.get(2).map_err(Error::database("reading a user"))?,
                created_at: row.get(3).map_err(Error::database("reading a user"))?,
                created_by: row.get(4).map_err(Error::database("reading a user"))?,
                disabled_at: row.get(5).map_err(Error::database("reading a user"))?,
            })
        }))
}

fn find_user(conn: &Connection, name: &str) -> Result<Option<User>, Error> {
    let doing = "reading a user";
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"))
        .and_then(|mut stmt| stmt.query_row([name], user_row).optional())
        .map_err(Error::database(doing))?
        .transpose()
}

fn reviews_where(
    conn: &Connection,
    filter: &str,
    values: &[&dyn super::db::ToSql],
) -> Result<Vec<Review>, Error> {
    let doing = "reading reviews";
    let mut stmt = conn
        .prepare(&format!(
            "SELECT model, version, reviewer, outcome, reviewed_by, note, reviewed_at, event_seq
             FROM reviews {filter} ORDER BY model, version, reviewer"
        ))
        .map_err(Error::database(doing))?;
    let mut rows = stmt.query(values).map_err(Error::database(doing))?;
    let mut reviews = Vec::new();
    while let Some(row) = rows.next().map_err(Error::database(doing))? {
        let get_text = |idx| row.get::<_, String>(idx).map_err(Error::database(doing));
        let reviewer = get_text(2)?;
        let outcome = get_text(3)?;
        let seq: i64 = row.get(7).map_err(Error::database(doing))?;
        reviews.push(Review {
            name: get_text(0)?,
            version: get_text(1)?,
            reviewer: parse_reviewer_text(&reviewer).map_err(|_| Error::Corrupt {
                what: format!("review kind {reviewer:?}"),
            })?,
            outcome: ReviewOutcome::parse(&outcome).ok_or_else(|| Error::Corrupt {
                what: format!("review outcome {outcome:?}"),
            })?,
            by: get_text(4)?,
            note: row.get(5).map_err(Error::database(doing))?,
            at: get_text(6)?,
            event_seq: u64::try_from(seq).unwrap_or(0),
        });
    }
    Ok(reviews)
}

/// Console sessions (migration 0007): single statements, not audited. The
/// caller passes the session id; only its SHA-256 is stored or looked up.
impl Store {
    /// Records a new session of `user` (who must exist) with its CSRF
    /// token, first seen at `now_ms`, after ending every session idle since
    /// before `idle_before_ms`.
    pub fn start_session(
        &self,
        id: &str,
        user: &str,
        csrf: &str,
        now_ms: u64,
        idle_before_ms: u64,
    ) -> Result<(), Error> {
        self.end_idle_sessions(idle_before_ms)?;
        self.conn
            .execute(
                "INSERT INTO console_sessions (id_sha256, user_name, csrf, created_at, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    sha256_hex(id.as_bytes()),
                    user,
                    csrf,
                    Timestamp::now().as_str(),
                    sql_int(now_ms)
                ],
            )
            .map_err(Error::database("recording a console session"))?;
        Ok(())
    }

    /// The session with this id, if it exists.
    pub fn session(&self, id: &str) -> Result<Option<ConsoleSession>, Error> {
        self.conn
            .query_row(
                "SELECT user_name, csrf, last_seen_ms FROM console_sessions WHERE id_sha256 = ?1",
                params![sha256_hex(id.as_bytes())],
                |row| {
                    Ok(ConsoleSession {
                        user: row.get(0)?,
                        csrf: row.get(1)?,
                        last_seen_ms: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    })
                },
            )
            .optional()
            .map_err(Error::database("reading a console session"))
    }

    /// Marks a session seen at `now_ms`.
    pub fn touch_session(&self, id: &str, now_ms: u64) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE console_sessions SET last_seen_ms = ?2 WHERE id_sha256 = ?1",
                params![sha256_hex(id.as_bytes()), sql_int(now_ms)],
            )
            .map_err(Error::database("touching a console session"))?;
        Ok(())
    }

    /// Ends a session (signing out, or found idle).
    pub fn end_session(&self, id: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "DELETE FROM console_sessions WHERE id_sha256 = ?1",
                params![sha256_hex(id.as_bytes())],
            )
            .map_err(Error::database("ending a console session"))?;
        Ok(())
    }

    /// Ends every session last seen before `before_ms`; returns how many.
    pub fn end_idle_sessions(&self, before_ms: u64) -> Result<usize, Error> {
        self.conn
            .execute(
                "DELETE FROM console_sessions WHERE last_seen_ms < ?1",
                params![sql_int(before_ms)],
            )
            .map_err(Error::database("ending idle console sessions"))
    }
}

/// Console sign-in attempts (migration 0009), counted per subject
/// (`user:NAME`, `ip:ADDRESS`) so that every replica on the database
/// counts the same ones. Not audited.
impl Store {
    /// Counts a sign-in attempt against each of `subjects` at `now_ms`,
    /// unless one of them already has `max` attempts counted in the
    /// `window_ms` before: then it returns `None` and counts nothing.
    /// Otherwise it returns the attempt's id, to give to
    /// [`Store::login_succeeded`] if the password turns out right.
    ///
    /// The count and the insert are one transaction under a lock of their
    /// own (`BEGIN IMMEDIATE` on SQLite, an advisory lock on PostgreSQL),
    /// and an attempt counts before its password is checked, so tries sent
    /// at once to any number of replicas cannot pass `max` together.
    /// Attempts older than the window are deleted on the way.
    pub fn begin_login_attempt(
        &mut self,
        subjects: &[&str],
        now_ms: u64,
        window_ms: u64,
        max: u64,
    ) -> Result<Option<String>, Error> {
        let doing = "counting a console sign-in attempt";
        let since = sql_int(now_ms.saturating_sub(window_ms));
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| Error::Random {
            source: std::io::Error::other(e),
        })?;
        let attempt: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        let tx = self
            .conn
            .unlocked_transaction()
            .map_err(Error::database(doing))?;
        if tx.backend() == Backend::Postgres {
            tx.execute(
                &format!("SELECT pg_advisory_xact_lock({LOGIN_LOCK})"),
                [] as [i64; 0],
            )
            .map_err(Error::database(doing))?;
        }
        tx.execute(
            "DELETE FROM console_login_attempts WHERE at_ms < ?1",
            params![since],
        )
        .map_err(Error::database(doing))?;
        let mut refused = false;
        for subject in subjects {
            let count: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM console_login_attempts WHERE subject = ?1",
                    params![subject],
                    |row| row.get(0),
                )
                .map_err(Error::database(doing))?;
            refused |= u64::try_from(count).unwrap_or(0) >= max;
        }
        if !refused {
            for subject in subjects {
                tx.execute(
                    "INSERT INTO console_login_attempts (attempt, subject, at_ms) VALUES (?1, ?2, ?3)",
                    params![attempt, subject, sql_int(now_ms)],
                )
                .map_err(Error::database(doing))?;
            }
        }
        tx.commit().map_err(Error::database(doing))?;
        Ok((!refused).then_some(attempt))
    }

    /// The attempt `attempt` succeeded: it no longer counts, nor do the
    /// earlier failures against `forget` (the user's name; the address's
    /// failures stay).
    pub fn login_succeeded(&self, attempt: &str, forget: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "DELETE FROM console_login_attempts WHERE attempt = ?1 OR subject = ?2",
                params![attempt, forget],
            )
            .map_err(Error::database("forgetting console sign-in attempts"))?;
        Ok(())
    }
}
