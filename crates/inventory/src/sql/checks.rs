//! Checks: `audit verify` and the audit log read the stored rows as
//! someone with the database file may have left them (any value of any
//! storage class) and hand them to the backend-free chain check
//! (`audit.rs`), which hashes, replays and compares.

use std::borrow::Cow;
use std::collections::HashMap;

use super::db::ValueRef;

use super::Store;
use super::db::params;
use crate::audit::{
    AuditReport, ChainCheck, KeyState, ReviewState, StoredEvent, UserState, sha256_hex,
};
use crate::{Error, FileRecord};

impl Store {
    /// Call `each` with every event in order, borrowed from the row. The
    /// rows may have been edited: a value that is not text is read as text
    /// (which the hash check then refuses), never as an error.
    pub(super) fn for_each_stored_event(
        &self,
        mut each: impl FnMut(StoredEvent<'_>),
    ) -> Result<(), Error> {
        let doing = "reading the audit trail";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, at, actor, action, subject, details, prev_hash, hash
                 FROM events ORDER BY seq",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing);
            let seq = match row.get_ref(0).map_err(Error::database(doing))? {
                ValueRef::Integer(seq) => Some(seq),
                _ => None,
            };
            let (at, actor, action, subject) = (text(1)?, text(2)?, text(3)?, text(4)?);
            let (details, prev_hash, hash) = (text(5)?, text(6)?, text(7)?);
            each(StoredEvent {
                seq,
                at: &at,
                actor: &actor,
                action: &action,
                subject: &subject,
                details: &details,
                prev_hash: &prev_hash,
                hash: &hash,
            });
        }
        Ok(())
    }

    /// Check the audit trail: every event's hash, every link, no gaps; then
    /// that the versions (stage, verdict, report, file digests),
    /// assignments, API keys (team, data class, expiry, limits, revoked),
    /// team limits, route grants and evaluation runs (every field, and the
    /// SHA-256 of their summary, settings and report) stored are what the
    /// trail says they should be.
    pub fn verify_audit(&self) -> Result<AuditReport, Error> {
        let mut check = ChainCheck::default();
        self.for_each_stored_event(|stored| check.push(stored))?;
        self.check_versions(&mut check)?;
        check.missing_versions();
        self.check_assignments(&mut check)?;
        check.missing_assignments();
        self.check_access(&mut check)?;
        check.missing_access();
        self.check_eval_runs(&mut check)?;
        check.missing_eval_runs();
        self.check_people(&mut check)?;
        check.missing_people();
        Ok(check.finish())
    }

    /// Every stored manifest, by version, as the chain check reads it:
    /// leniently, naming the versions with a size that is not a byte count.
    fn stored_manifests(
        &self,
        check: &mut ChainCheck,
    ) -> Result<HashMap<(String, String), Vec<FileRecord>>, Error> {
        let doing = "checking versions against the audit trail";
        let mut stmt = self
            .conn
            .prepare("SELECT model, version, path, size, sha256 FROM version_files")
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        let mut manifests: HashMap<(String, String), Vec<FileRecord>> = HashMap::new();
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let key = (text(0)?, text(1)?);
            let path = text(2)?;
            let size = match row.get_ref(3).map_err(Error::database(doing))? {
                ValueRef::Integer(size) => u64::try_from(size).ok(),
                _ => None,
            };
            let Some(size) = size else {
                let subject = format!("{}@{}", key.0, key.1);
                check.problem(
                    None,
                    Some(subject.clone()),
                    format!("{subject}'s stored size of {path} is not a byte count"),
                );
                continue;
            };
            let sha256 = text(4)?;
            manifests
                .entry(key)
                .or_default()
                .push(FileRecord { path, size, sha256 });
        }
        Ok(manifests)
    }

    /// Hand every stored version, read leniently, to the chain check.
    fn check_versions(&self, check: &mut ChainCheck) -> Result<(), Error> {
        let doing = "checking versions against the audit trail";
        let manifests = self.stored_manifests(check)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, version, stage, decision, report FROM versions
                 ORDER BY model, version",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing);
            let key = (text(0)?.into_owned(), text(1)?.into_owned());
            let (stage, decision, report) = (text(2)?, text(3)?, text(4)?);
            let files = manifests.get(&key).map(Vec::as_slice).unwrap_or_default();
            check.stored_version(key, &stage, &decision, &report, files);
        }
        Ok(())
    }

    /// Hand every stored assignment, read leniently, to the chain check.
    fn check_assignments(&self, check: &mut ChainCheck) -> Result<(), Error> {
        let doing = "checking assignments against the audit trail";
        let mut stmt = self
            .conn
            .prepare("SELECT team, model, version, purpose FROM assignments")
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let key = (text(0)?, text(1)?, text(2)?);
            check.stored_assignment(key, &text(3)?);
        }
        Ok(())
    }
}

impl Store {
    /// Hand every stored API key, team limit and route grant, read
    /// leniently, to the chain check.
    fn check_access(&self, check: &mut ChainCheck) -> Result<(), Error> {
        let doing = "checking API keys and limits against the audit trail";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, team, data_class, expires_on, rpm, tpm, max_parallel,
                        budget_micro_usd, revoked_at IS NOT NULL
                 FROM api_keys ORDER BY id",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let id = text(0)?;
            let state = KeyState {
                team: text(1)?,
                data_class: text(2)?,
                expires_on: text(3)?,
                limits: [text(4)?, text(5)?, text(6)?, text(7)?],
                revoked: text(8)? != "0",
            };
            check.stored_key(id, state);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT team, rpm, tpm, max_parallel, budget_micro_usd FROM team_limits
                 ORDER BY team",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let team = text(0)?;
            check.stored_team_limits(team, [text(1)?, text(2)?, text(3)?, text(4)?]);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT team, route FROM route_grants ORDER BY team, route")
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            check.stored_grant(text(0)?, text(1)?);
        }
        Ok(())
    }
}

impl Store {
    /// Hand every stored console user and review, read leniently, to the
    /// chain check.
    fn check_people(&self, check: &mut ChainCheck) -> Result<(), Error> {
        let doing = "checking users and reviews against the audit trail";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, role, password_hash, disabled_at IS NOT NULL FROM users ORDER BY name",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let name = text(0)?;
            let state = UserState {
                role: text(1)?,
                password_sha256: sha256_hex(text(2)?.as_bytes()),
                disabled: text(3)? != "0",
            };
            check.stored_user(name, state);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, version, reviewer, outcome, reviewed_by, note FROM reviews
                 ORDER BY model, version, reviewer",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let key = (text(0)?, text(1)?, text(2)?);
            let state = ReviewState {
                outcome: text(3)?,
                by: text(4)?,
                note: text(5)?,
            };
            check.stored_review(key, state);
        }
        Ok(())
    }
}

/// Column `idx` of `row` as lenient text (see [`lenient_text`]).
pub(super) fn text_at<'r>(
    row: &'r super::db::Row<'_>,
    idx: usize,
    doing: &'static str,
) -> Result<Cow<'r, str>, Error> {
    row.get_ref(idx)
        .map(lenient_text)
        .map_err(Error::database(doing))
}

/// A stored value as text, whatever someone with the file put there:
/// invalid UTF-8 is replaced, numbers are written out, NULL is empty. Only
/// for checking stored state, where a changed value must show as a
/// mismatch rather than stop the check.
fn lenient_text(value: ValueRef<'_>) -> Cow<'_, str> {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes),
        ValueRef::Integer(n) => Cow::Owned(n.to_string()),
        ValueRef::Real(x) => Cow::Owned(x.to_string()),
        ValueRef::Null => Cow::Borrowed(""),
    }
}
