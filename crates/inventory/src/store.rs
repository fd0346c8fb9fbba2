//! The SQLite store. Everything that speaks SQL is here; the stage rules
//! (`stage.rs`), the chain (`audit.rs`) and the records (`record.rs`) are
//! backend-free, so a PostgreSQL store is this file again over the same
//! migrations.
//!
//! Every change runs in one `BEGIN IMMEDIATE` transaction together with the
//! audit event that records it: writers queue (WAL mode, `busy_timeout`)
//! instead of failing, the chain stays linear, and a crash or a refused
//! change leaves nothing behind.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use modelgate_bom::{ModelDescription, Property};
use modelgate_policy::{Decision, Reviewer};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};

use crate::audit::{
    AuditReport, ChainCheck, Event, GENESIS_HASH, StoredEvent, canonical_json, manifest_sha256,
    sha256_hex,
};
use crate::record::{check_actor, check_name, check_note, parse_reviewer};
use crate::{
    Approval, Assignment, Date, Error, FileRecord, ModelOverview, NewVersion, ProvenanceRecord,
    Revocation, SignOff, Stage, StageChange, Timestamp, Transition, Variant, VersionDetail,
    VersionRef, VersionSummary, schema,
};

/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "inventory.db";

/// How long a writer waits for another writer's transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An approval without `review_by` must be reviewed again after this many
/// days.
pub const DEFAULT_REVIEW_DAYS: i64 = 365;

/// The data directory when none is given: `$XDG_DATA_HOME/modelgate`, else
/// `~/.local/share/modelgate`.
pub fn default_home() -> Option<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        return Some(data.join("modelgate"));
    }
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".local/share/modelgate"))
}

/// The inventory, in an SQLite database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Changes made in one transaction: all of them, with their audit events,
/// or none. Get one from [`Store::transaction`].
pub struct Batch<'a> {
    tx: rusqlite::Transaction<'a>,
    now: Timestamp,
}

impl Store {
    /// Open (creating it if needed) the inventory in the data directory
    /// `home`, and bring its schema up to date.
    pub fn open(home: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(home).map_err(|source| Error::CreateHome {
            path: home.to_path_buf(),
            source,
        })?;
        Store::open_file(&home.join(DATABASE_FILE))
    }

    /// Open (creating it if needed) the inventory database file `path`.
    pub fn open_file(path: &Path) -> Result<Store, Error> {
        let open = |source| Error::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        // WAL: readers never wait for the writer, writers queue.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(open)?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
            .map_err(open)?;
        schema::migrate(&mut conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `change` in one transaction: if it returns an error, nothing it
    /// did is kept.
    pub fn transaction<T>(
        &mut self,
        change: impl FnOnce(&mut Batch<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::database("starting a transaction"))?;
        let mut batch = Batch {
            tx,
            now: Timestamp::now(),
        };
        let value = change(&mut batch)?;
        batch
            .tx
            .commit()
            .map_err(Error::database("committing a transaction"))?;
        Ok(value)
    }

    /// Record a vetted version as a candidate. See [`Batch::add_version`].
    pub fn add_version(&mut self, new: &NewVersion, by: &str) -> Result<VersionSummary, Error> {
        self.transaction(|batch| batch.add_version(new, by))
    }

    /// Approve a version. See [`Batch::approve`].
    pub fn approve(
        &mut self,
        reference: &VersionRef,
        approval: &Approval,
    ) -> Result<StageChange, Error> {
        self.transaction(|batch| batch.approve(reference, approval))
    }

    /// approved → production.
    pub fn promote(
        &mut self,
        reference: &VersionRef,
        by: &str,
        note: Option<&str>,
    ) -> Result<StageChange, Error> {
        self.transaction(|batch| batch.promote(reference, by, note))
    }

    /// approved or production → deprecated.
    pub fn deprecate(
        &mut self,
        reference: &VersionRef,
        by: &str,
        note: Option<&str>,
    ) -> Result<StageChange, Error> {
        self.transaction(|batch| batch.deprecate(reference, by, note))
    }

    /// Revoke a version, naming the teams that use it.
    pub fn revoke(
        &mut self,
        reference: &VersionRef,
        by: &str,
        reason: &str,
    ) -> Result<Revocation, Error> {
        self.transaction(|batch| batch.revoke(reference, by, reason))
    }

    /// Record that `team` uses a version for `purpose`.
    pub fn assign(
        &mut self,
        team: &str,
        reference: &VersionRef,
        purpose: &str,
        by: &str,
    ) -> Result<Assignment, Error> {
        self.transaction(|batch| batch.assign(team, reference, purpose, by))
    }

    /// Every version, by model, oldest first.
    pub fn list(&self) -> Result<Vec<VersionSummary>, Error> {
        let today = Date::today().to_string();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM versions v ORDER BY v.model, v.added_at, v.version"
        );
        summaries(&self.conn, &sql, [], &today)
    }

    /// A model and its versions.
    pub fn model(&self, name: &str) -> Result<ModelOverview, Error> {
        let created_at: Option<String> = self
            .conn
            .query_row(
                "SELECT created_at FROM models WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(Error::database("reading a model"))?;
        let created_at = created_at.ok_or_else(|| Error::UnknownModel {
            name: name.to_string(),
        })?;
        let today = Date::today().to_string();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM versions v WHERE v.model = ?1 ORDER BY v.added_at, v.version"
        );
        Ok(ModelOverview {
            name: name.to_string(),
            created_at,
            versions: summaries(&self.conn, &sql, [name], &today)?,
        })
    }

    /// Everything recorded about a version.
    pub fn version(&self, reference: &VersionRef) -> Result<VersionDetail, Error> {
        let conn = &self.conn;
        let summary = summary(conn, reference)?;
        let detail = conn
            .query_row(
                "SELECT stage_note, source_path, license_name, license_terms, publisher, source,
                        revision, base_models, toolchain, signer, report
                 FROM versions WHERE model = ?1 AND version = ?2",
                params![reference.name, reference.version],
                |row| {
                    Ok((
                        row.get::<_, Option<String>>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        (
                            row.get::<_, Option<String>>(4)?,
                            row.get::<_, Option<String>>(5)?,
                            row.get::<_, Option<String>>(6)?,
                            row.get::<_, String>(7)?,
                            row.get::<_, String>(8)?,
                        ),
                        row.get::<_, Option<String>>(9)?,
                        row.get::<_, String>(10)?,
                    ))
                },
            )
            .map_err(Error::database("reading a version"))?;
        let (stage_note, source_path, license_name, license_terms, provenance, signer, report) =
            detail;
        let (publisher, source, revision, base_models, toolchain) = provenance;
        Ok(VersionDetail {
            stage_note,
            source_path,
            license_name,
            license_terms: license_terms
                .map(|text| parse_json(&text, "license terms"))
                .transpose()?,
            provenance: ProvenanceRecord {
                publisher,
                source,
                revision,
                base_models: parse_json(&base_models, "base models")?,
                toolchain: parse_json(&toolchain, "toolchain")?,
            },
            signer,
            files: files(conn, reference)?,
            variants: variants(conn, &summary)?,
            history: history(conn, reference)?,
            assignments: assignments(conn, Some(reference))?,
            report: parse_json(&report, "vet report")?,
            summary,
        })
    }

    /// Every team's assignments.
    pub fn assignments(&self) -> Result<Vec<Assignment>, Error> {
        assignments(&self.conn, None)
    }

    /// Approved and production versions whose review-by date is `as_of` or
    /// earlier, soonest first.
    pub fn due(&self, as_of: Date) -> Result<Vec<VersionSummary>, Error> {
        let as_of = as_of.to_string();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM versions v
             WHERE v.stage IN ('approved', 'production') AND v.review_by IS NOT NULL
               AND v.review_by <= ?1
             ORDER BY v.review_by, v.model, v.version"
        );
        summaries(&self.conn, &sql, [as_of.as_str()], &as_of)
    }

    /// The AI-BOM descriptions of every approved and production version,
    /// stored when each was added, with the inventory's name, version,
    /// stage and review date added as properties.
    pub fn in_use_descriptions(&self) -> Result<Vec<ModelDescription>, Error> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, version, stage, review_by, description FROM versions
                 WHERE stage IN ('approved', 'production')
                 ORDER BY model, added_at, version",
            )
            .map_err(Error::database("reading descriptions"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .map_err(Error::database("reading descriptions"))?;
        let mut descriptions = Vec::new();
        for row in rows {
            let (model, version, stage, review_by, text) =
                row.map_err(Error::database("reading descriptions"))?;
            let mut description: ModelDescription =
                serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                    what: format!("the description of {model}@{version}: {e}"),
                })?;
            description.properties.push(Property::new(
                "modelgate:inventory-version",
                format!("{model}@{version}"),
            ));
            description
                .properties
                .push(Property::new("modelgate:stage", stage));
            if let Some(date) = review_by {
                description
                    .properties
                    .push(Property::new("modelgate:review-by", date));
            }
            descriptions.push(description);
        }
        Ok(descriptions)
    }

    /// The audit trail, in order.
    pub fn events(&self) -> Result<Vec<Event>, Error> {
        let mut events = Vec::new();
        self.for_each_stored_event(|stored| events.push(stored.to_event()))?;
        Ok(events)
    }

    /// Call `each` with every event in order, borrowed from the row. The
    /// rows may have been edited: a value that is not text is read as text
    /// (which the hash check then refuses), never as an error.
    fn for_each_stored_event(&self, mut each: impl FnMut(StoredEvent<'_>)) -> Result<(), Error> {
        let doing = "reading the audit trail";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, at, actor, action, subject, details, prev_hash, hash
                 FROM events ORDER BY seq",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query([]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| {
                row.get_ref(idx)
                    .map(lenient_text)
                    .map_err(Error::database(doing))
            };
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
    /// that the versions (stage, verdict, report, file digests) and
    /// assignments stored are what the trail says they should be.
    pub fn verify_audit(&self) -> Result<AuditReport, Error> {
        let mut check = ChainCheck::default();
        self.for_each_stored_event(|stored| check.push(stored))?;
        let expected_versions = std::mem::take(&mut check.versions);
        let expected_assignments = std::mem::take(&mut check.assignments);
        self.check_versions(&mut check, expected_versions)?;
        self.check_assignments(&mut check, expected_assignments)?;
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
        let mut rows = stmt.query([]).map_err(Error::database(doing))?;
        let mut manifests: HashMap<(String, String), Vec<FileRecord>> = HashMap::new();
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| {
                row.get_ref(idx)
                    .map(|value| lenient_text(value).into_owned())
                    .map_err(Error::database(doing))
            };
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

    fn check_versions(
        &self,
        check: &mut ChainCheck,
        mut expected: HashMap<(String, String), crate::audit::ExpectedVersion>,
    ) -> Result<(), Error> {
        let doing = "checking versions against the audit trail";
        let manifests = self.stored_manifests(check)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, version, stage, decision, report FROM versions
                 ORDER BY model, version",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query([]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| {
                row.get_ref(idx)
                    .map(lenient_text)
                    .map_err(Error::database(doing))
            };
            let key = (text(0)?.into_owned(), text(1)?.into_owned());
            let (stage, decision, report) = (text(2)?, text(3)?, text(4)?);
            let subject = format!("{}@{}", key.0, key.1);
            let mut problem = |message| check.problem(None, Some(subject.clone()), message);
            let Some(trail) = expected.remove(&key) else {
                problem(format!(
                    "{subject} is in the inventory but the audit trail never added it"
                ));
                continue;
            };
            if stage != trail.stage {
                problem(format!(
                    "{subject} is {stage} in the inventory, but the audit trail leaves it {} (event {}): the stage was edited, or later events were removed",
                    trail.stage, trail.last_seq
                ));
            }
            if decision != trail.decision {
                problem(format!(
                    "{subject}'s verdict is {decision} in the inventory, but {} in the audit trail",
                    trail.decision
                ));
            }
            if sha256_hex(report.as_bytes()) != trail.report_sha256 {
                problem(format!(
                    "{subject}'s stored vet report is not the one recorded when it was added"
                ));
            }
            let files = manifests.get(&key).map(Vec::as_slice).unwrap_or_default();
            if manifest_sha256(files) != trail.files_sha256 {
                problem(format!(
                    "{subject}'s stored file digests are not the ones recorded when it was added"
                ));
            }
        }
        let mut missing: Vec<_> = expected.into_iter().collect();
        missing.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, trail) in missing {
            let subject = format!("{}@{}", key.0, key.1);
            check.problem(
                None,
                Some(subject.clone()),
                format!(
                    "{subject} was added (audit trail, event {}) but is missing from the inventory",
                    trail.last_seq
                ),
            );
        }
        Ok(())
    }

    fn check_assignments(
        &self,
        check: &mut ChainCheck,
        mut expected: HashMap<(String, String, String), (String, u64)>,
    ) -> Result<(), Error> {
        let doing = "checking assignments against the audit trail";
        let mut stmt = self
            .conn
            .prepare("SELECT team, model, version, purpose FROM assignments")
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query([]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| {
                row.get_ref(idx)
                    .map(|value| lenient_text(value).into_owned())
                    .map_err(Error::database(doing))
            };
            let key = (text(0)?, text(1)?, text(2)?);
            let purpose = text(3)?;
            let subject = format!("{}@{}", key.1, key.2);
            let message = match expected.remove(&key) {
                None => format!(
                    "team {} uses {subject} in the inventory, but the audit trail never assigned it",
                    key.0
                ),
                Some((recorded, seq)) if recorded != purpose => format!(
                    "team {}'s purpose for {subject} is not the one recorded (event {seq})",
                    key.0
                ),
                Some(_) => continue,
            };
            check.problem(None, Some(subject), message);
        }
        let mut missing: Vec<_> = expected.into_iter().collect();
        missing.sort_by(|a, b| a.0.cmp(&b.0));
        for ((team, model, version), (_, seq)) in missing {
            let subject = format!("{model}@{version}");
            check.problem(
                None,
                Some(subject.clone()),
                format!(
                    "team {team}'s assignment to {subject} (event {seq}) is missing from the inventory"
                ),
            );
        }
        Ok(())
    }
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

impl Batch<'_> {
    /// The time every change in this batch is recorded at.
    pub fn now(&self) -> &Timestamp {
        &self.now
    }

    /// Append an audit event (in this transaction).
    fn append(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: Value,
    ) -> Result<Event, Error> {
        let doing = "appending to the audit trail";
        let last: Option<(i64, String)> = self
            .tx
            .prepare_cached("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .and_then(|mut stmt| {
                stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(Error::database(doing))?;
        let (last_seq, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
        let seq = u64::try_from(last_seq).unwrap_or(0) + 1;
        let event = Event::new(
            seq,
            self.now.as_str(),
            actor,
            action,
            subject,
            details,
            &prev_hash,
        );
        let mut details_text = String::new();
        canonical_json(&event.details, &mut details_text);
        self.tx
            .prepare_cached(
                "INSERT INTO events (seq, at, actor, action, subject, details, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    sql_int(event.seq),
                    event.at,
                    event.actor,
                    event.action,
                    event.subject,
                    details_text,
                    event.prev_hash,
                    event.hash
                ])
            })
            .map_err(Error::database(doing))?;
        Ok(event)
    }

    /// Record a vetted version as a `candidate`, with its files, evidence
    /// and explicit variant link, in one event (`version.added`).
    ///
    /// Refused when the version exists (versions are immutable: record a new
    /// one) or `variant_of` does not.
    pub fn add_version(&mut self, new: &NewVersion, by: &str) -> Result<VersionSummary, Error> {
        let doing = "adding a version";
        let reference = VersionRef::new(&new.reference.name, &new.reference.version)?;
        let by = check_actor("actor", by)?;
        if stage_of(&self.tx, &reference)?.is_some() {
            return Err(Error::VersionExists { reference });
        }
        if let Some(of) = &new.variant_of {
            if *of == reference {
                return Err(Error::SelfVariant { reference });
            }
            require(&self.tx, of)?;
        }
        let report = serde_json::to_string(&new.report).map_err(|e| Error::Corrupt {
            what: format!("the vet report cannot be written as JSON: {e}"),
        })?;
        let description = serde_json::to_string(&new.description).map_err(|e| Error::Corrupt {
            what: format!("the model description cannot be written as JSON: {e}"),
        })?;
        let reviewers: Vec<&str> = new.reviewers.iter().map(|r| r.name()).collect();
        let total_bytes = new
            .files
            .iter()
            .fold(0u64, |sum, file| sum.saturating_add(file.size));
        let decision = new.decision.name();
        let event = self.append(
            &by,
            "version.added",
            &reference.to_string(),
            json!({
                "name": reference.name,
                "version": reference.version,
                "stage": Stage::Candidate.name(),
                "decision": decision,
                "reviewers": reviewers,
                "report_sha256": sha256_hex(report.as_bytes()),
                "files_sha256": manifest_sha256(&new.files),
                "n_files": new.files.len(),
                "source_path": new.source_path,
                "variant_of": new.variant_of.as_ref().map(ToString::to_string),
            }),
        )?;
        let now = self.now.as_str();
        self.tx
            .execute(
                "INSERT INTO models (name, created_at) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING",
                params![reference.name, now],
            )
            .map_err(Error::database(doing))?;
        self.tx
            .prepare_cached(
                "INSERT INTO versions (model, version, stage, source_path, format, architecture,
                    parameters, quantization, total_bytes, decision, reviewers, license,
                    license_name, license_terms, publisher, source, revision, base_models,
                    toolchain, signature, signer, report, description, added_at, added_by,
                    stage_at, stage_by, stage_note, review_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?24, ?25, NULL, NULL)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    reference.name,
                    reference.version,
                    Stage::Candidate.name(),
                    new.source_path,
                    new.format,
                    new.architecture,
                    new.parameters.map(sql_int),
                    new.quantization,
                    sql_int(total_bytes),
                    decision,
                    to_json(&reviewers),
                    new.license,
                    new.license_name,
                    new.license_terms.as_ref().map(Value::to_string),
                    new.provenance.publisher,
                    new.provenance.source,
                    new.provenance.revision,
                    to_json(&new.provenance.base_models),
                    to_json(&new.provenance.toolchain),
                    new.signature,
                    new.signer,
                    report,
                    description,
                    now,
                    by,
                ])
            })
            .map_err(Error::database(doing))?;
        {
            let mut stmt = self
                .tx
                .prepare_cached(
                    "INSERT INTO version_files (model, version, path, size, sha256)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(Error::database(doing))?;
            for file in &new.files {
                stmt.execute(params![
                    reference.name,
                    reference.version,
                    file.path,
                    sql_int(file.size),
                    file.sha256
                ])
                .map_err(Error::database(doing))?;
            }
        }
        if let Some(of) = &new.variant_of {
            self.tx
                .execute(
                    "INSERT INTO variants (model, version, of_model, of_version)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![reference.name, reference.version, of.name, of.version],
                )
                .map_err(Error::database(doing))?;
        }
        self.insert_stage_change(&StageChange {
            name: reference.name.clone(),
            version: reference.version.clone(),
            from: None,
            to: Stage::Candidate,
            at: now.to_string(),
            by: by.clone(),
            note: None,
            override_verdict: false,
            sign_offs: Vec::new(),
            review_by: None,
            event_seq: event.seq,
        })?;
        summary(&self.tx, &reference)
    }

    /// Approve a version: candidate → approved, or, on an approved or
    /// production version, a re-review that keeps the stage and sets a new
    /// review-by date.
    ///
    /// Allowed when the stored verdict is `approved`; `needs-review` when
    /// every reviewer it names signed off; otherwise only with an override,
    /// which must carry a note. The review-by date must be after today
    /// (default: [`DEFAULT_REVIEW_DAYS`] from today).
    pub fn approve(
        &mut self,
        reference: &VersionRef,
        approval: &Approval,
    ) -> Result<StageChange, Error> {
        let by = check_actor("approver", &approval.by)?;
        let note = check_note("note", approval.note.as_deref())?;
        if approval.override_verdict && note.is_none() {
            return Err(Error::OverrideWithoutNote);
        }
        let current = require(&self.tx, reference)?;
        let to =
            current
                .stage
                .after(Transition::Approve)
                .ok_or_else(|| Error::IllegalTransition {
                    reference: reference.clone(),
                    stage: current.stage,
                    transition: Transition::Approve,
                })?;
        if !approval.override_verdict {
            match current.decision {
                Decision::Approved => {}
                Decision::NeedsReview => {
                    let missing: Vec<Reviewer> = current
                        .reviewers
                        .iter()
                        .copied()
                        .filter(|r| !approval.sign_offs.iter().any(|s| s.reviewer == *r))
                        .collect();
                    if !missing.is_empty() {
                        return Err(Error::MissingSignOff {
                            reference: reference.clone(),
                            reviewers: current.reviewers,
                            missing,
                        });
                    }
                }
                Decision::Rejected => {
                    return Err(Error::NotAllowed {
                        reference: reference.clone(),
                        decision: current.decision,
                        reasons: blocking_reasons(&self.tx, reference)?,
                    });
                }
            }
        }
        let today = Date::of(&self.now);
        let review_by = approval
            .review_by
            .unwrap_or_else(|| today.add_days(DEFAULT_REVIEW_DAYS));
        if review_by <= today {
            return Err(Error::ReviewDateNotFuture {
                date: review_by.to_string(),
                today: today.to_string(),
            });
        }
        let action = if current.stage == Stage::Candidate {
            "version.approved"
        } else {
            "version.reviewed"
        };
        self.change_stage(
            reference,
            current.stage,
            to,
            action,
            &by,
            note,
            approval.override_verdict,
            &approval.sign_offs,
            Some(review_by),
            None,
        )
    }

    /// approved → production.
    pub fn promote(
        &mut self,
        reference: &VersionRef,
        by: &str,
        note: Option<&str>,
    ) -> Result<StageChange, Error> {
        self.simple_transition(reference, Transition::Promote, by, note, "version.promoted")
    }

    /// approved or production → deprecated.
    pub fn deprecate(
        &mut self,
        reference: &VersionRef,
        by: &str,
        note: Option<&str>,
    ) -> Result<StageChange, Error> {
        self.simple_transition(
            reference,
            Transition::Deprecate,
            by,
            note,
            "version.deprecated",
        )
    }

    /// Any stage but revoked → revoked, with the reason; returns the teams
    /// assigned to the version (they are named in the event too).
    pub fn revoke(
        &mut self,
        reference: &VersionRef,
        by: &str,
        reason: &str,
    ) -> Result<Revocation, Error> {
        let by = check_actor("revoker", by)?;
        let reason =
            check_note("reason", Some(reason))?.ok_or(Error::Missing { field: "reason" })?;
        let current = require(&self.tx, reference)?;
        let to =
            current
                .stage
                .after(Transition::Revoke)
                .ok_or_else(|| Error::IllegalTransition {
                    reference: reference.clone(),
                    stage: current.stage,
                    transition: Transition::Revoke,
                })?;
        let teams: Vec<String> = assignments(&self.tx, Some(reference))?
            .into_iter()
            .map(|a| a.team)
            .collect();
        let change = self.change_stage(
            reference,
            current.stage,
            to,
            "version.revoked",
            &by,
            Some(reason),
            false,
            &[],
            None,
            Some(("affected_teams", json!(teams))),
        )?;
        Ok(Revocation {
            change,
            affected: assignments(&self.tx, Some(reference))?,
        })
    }

    /// Record that `team` uses an approved or production version for
    /// `purpose` (a second assignment of the same team and version replaces
    /// the purpose).
    pub fn assign(
        &mut self,
        team: &str,
        reference: &VersionRef,
        purpose: &str,
        by: &str,
    ) -> Result<Assignment, Error> {
        let doing = "assigning a team";
        let team = check_name("team", team)?;
        let purpose =
            check_note("purpose", Some(purpose))?.ok_or(Error::Missing { field: "purpose" })?;
        let by = check_actor("actor", by)?;
        let current = require(&self.tx, reference)?;
        if !current.stage.is_in_use() {
            return Err(Error::NotAssignable {
                team: team.to_string(),
                reference: reference.clone(),
                stage: current.stage,
            });
        }
        let event = self.append(
            &by,
            "team.assigned",
            &reference.to_string(),
            json!({
                "team": team,
                "name": reference.name,
                "version": reference.version,
                "purpose": purpose,
            }),
        )?;
        let now = self.now.as_str();
        self.tx
            .prepare_cached(
                "INSERT INTO teams (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![team, now]))
            .map_err(Error::database(doing))?;
        self.tx
            .prepare_cached(
                "INSERT INTO assignments
                    (team, model, version, purpose, assigned_at, assigned_by, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (team, model, version) DO UPDATE SET
                    purpose = excluded.purpose, assigned_at = excluded.assigned_at,
                    assigned_by = excluded.assigned_by, event_seq = excluded.event_seq",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    team,
                    reference.name,
                    reference.version,
                    purpose,
                    now,
                    by,
                    sql_int(event.seq)
                ])
            })
            .map_err(Error::database(doing))?;
        Ok(Assignment {
            team: team.to_string(),
            name: reference.name.clone(),
            version: reference.version.clone(),
            stage: current.stage,
            purpose,
            assigned_at: now.to_string(),
            assigned_by: by,
        })
    }

    fn simple_transition(
        &mut self,
        reference: &VersionRef,
        transition: Transition,
        by: &str,
        note: Option<&str>,
        action: &str,
    ) -> Result<StageChange, Error> {
        let by = check_actor("actor", by)?;
        let note = check_note("note", note)?;
        let current = require(&self.tx, reference)?;
        let to = current
            .stage
            .after(transition)
            .ok_or_else(|| Error::IllegalTransition {
                reference: reference.clone(),
                stage: current.stage,
                transition,
            })?;
        self.change_stage(
            reference,
            current.stage,
            to,
            action,
            &by,
            note,
            false,
            &[],
            None,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn change_stage(
        &self,
        reference: &VersionRef,
        from: Stage,
        to: Stage,
        action: &str,
        by: &str,
        note: Option<String>,
        override_verdict: bool,
        sign_offs: &[SignOff],
        review_by: Option<Date>,
        extra: Option<(&str, Value)>,
    ) -> Result<StageChange, Error> {
        let review_by = review_by.map(|date| date.to_string());
        let mut details = json!({
            "name": reference.name,
            "version": reference.version,
            "from": from.name(),
            "to": to.name(),
            "note": note,
            "override": override_verdict,
            "sign_offs": sign_offs_json(sign_offs),
            "review_by": review_by,
        });
        if let (Some((key, value)), Some(map)) = (extra, details.as_object_mut()) {
            map.insert(key.to_string(), value);
        }
        let event = self.append(by, action, &reference.to_string(), details)?;
        let now = self.now.as_str();
        self.tx
            .prepare_cached(
                "UPDATE versions SET stage = ?1, stage_at = ?2, stage_by = ?3, stage_note = ?4,
                    review_by = COALESCE(?5, review_by)
                 WHERE model = ?6 AND version = ?7",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    to.name(),
                    now,
                    by,
                    note,
                    review_by,
                    reference.name,
                    reference.version
                ])
            })
            .map_err(Error::database("changing a stage"))?;
        let change = StageChange {
            name: reference.name.clone(),
            version: reference.version.clone(),
            from: Some(from),
            to,
            at: now.to_string(),
            by: by.to_string(),
            note,
            override_verdict,
            sign_offs: sign_offs.to_vec(),
            review_by,
            event_seq: event.seq,
        };
        self.insert_stage_change(&change)?;
        Ok(change)
    }

    fn insert_stage_change(&self, change: &StageChange) -> Result<(), Error> {
        self.tx
            .prepare_cached(
                "INSERT INTO stage_changes (event_seq, model, version, from_stage, to_stage,
                    changed_at, changed_by, note, override, sign_offs, review_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    sql_int(change.event_seq),
                    change.name,
                    change.version,
                    change.from.map(Stage::name),
                    change.to.name(),
                    change.at,
                    change.by,
                    change.note,
                    i64::from(change.override_verdict),
                    sign_offs_json(&change.sign_offs).to_string(),
                    change.review_by,
                ])
            })
            .map_err(Error::database("recording a stage change"))?;
        Ok(())
    }
}

/// The columns [`summary_row`] reads, `v` being `versions`.
const SUMMARY_COLUMNS: &str = "v.model, v.version, v.stage, v.decision, v.reviewers, v.format,
    v.architecture, v.parameters, v.quantization, v.total_bytes,
    (SELECT COUNT(*) FROM version_files f WHERE f.model = v.model AND f.version = v.version),
    v.license, v.signature, v.added_at, v.added_by, v.stage_at, v.stage_by, v.review_by";

/// A summary row as stored, before its names are parsed.
struct SummaryRow {
    name: String,
    version: String,
    stage: String,
    decision: String,
    reviewers: String,
    format: Option<String>,
    architecture: Option<String>,
    parameters: Option<i64>,
    quantization: Option<String>,
    total_bytes: i64,
    n_files: i64,
    license: Option<String>,
    signature: String,
    added_at: String,
    added_by: String,
    stage_at: String,
    stage_by: String,
    review_by: Option<String>,
}

fn summary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        name: row.get(0)?,
        version: row.get(1)?,
        stage: row.get(2)?,
        decision: row.get(3)?,
        reviewers: row.get(4)?,
        format: row.get(5)?,
        architecture: row.get(6)?,
        parameters: row.get(7)?,
        quantization: row.get(8)?,
        total_bytes: row.get(9)?,
        n_files: row.get(10)?,
        license: row.get(11)?,
        signature: row.get(12)?,
        added_at: row.get(13)?,
        added_by: row.get(14)?,
        stage_at: row.get(15)?,
        stage_by: row.get(16)?,
        review_by: row.get(17)?,
    })
}

impl SummaryRow {
    fn into_summary(self, today: &str) -> Result<VersionSummary, Error> {
        let stage: Stage = self.stage.parse()?;
        let review_due =
            stage.is_in_use() && self.review_by.as_deref().is_some_and(|date| date <= today);
        Ok(VersionSummary {
            stage,
            decision: parse_decision(&self.decision)?,
            reviewers: parse_reviewers(&self.reviewers)?,
            format: self.format,
            architecture: self.architecture,
            parameters: self.parameters.and_then(|n| u64::try_from(n).ok()),
            quantization: self.quantization,
            total_bytes: u64::try_from(self.total_bytes).unwrap_or(0),
            n_files: u64::try_from(self.n_files).unwrap_or(0),
            license: self.license,
            signature: self.signature,
            added_at: self.added_at,
            added_by: self.added_by,
            stage_at: self.stage_at,
            stage_by: self.stage_by,
            review_by: self.review_by,
            review_due,
            name: self.name,
            version: self.version,
        })
    }
}

fn summaries<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    today: &str,
) -> Result<Vec<VersionSummary>, Error> {
    let doing = "listing versions";
    let mut stmt = conn.prepare(sql).map_err(Error::database(doing))?;
    let rows = stmt
        .query_map(params, summary_row)
        .map_err(Error::database(doing))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(Error::database(doing))?.into_summary(today)?);
    }
    Ok(out)
}

fn summary(conn: &Connection, reference: &VersionRef) -> Result<VersionSummary, Error> {
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM versions v WHERE v.model = ?1 AND v.version = ?2");
    let today = Date::today().to_string();
    summaries(
        conn,
        &sql,
        params![reference.name, reference.version],
        &today,
    )?
    .into_iter()
    .next()
    .map_or_else(|| Err(unknown_version(conn, reference)), Ok)
}

/// What approvals and transitions need to know about a version.
struct Current {
    stage: Stage,
    decision: Decision,
    reviewers: Vec<Reviewer>,
}

fn stage_of(conn: &Connection, reference: &VersionRef) -> Result<Option<Current>, Error> {
    let row: Option<(String, String, String)> = conn
        .prepare_cached(
            "SELECT stage, decision, reviewers FROM versions WHERE model = ?1 AND version = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![reference.name, reference.version], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(Error::database("reading a version's stage"))?;
    row.map(|(stage, decision, reviewers)| {
        Ok(Current {
            stage: stage.parse()?,
            decision: parse_decision(&decision)?,
            reviewers: parse_reviewers(&reviewers)?,
        })
    })
    .transpose()
}

/// The version, or [`Error::UnknownVersion`] naming the model's versions.
fn require(conn: &Connection, reference: &VersionRef) -> Result<Current, Error> {
    stage_of(conn, reference)?.ok_or_else(|| unknown_version(conn, reference))
}

fn unknown_version(conn: &Connection, reference: &VersionRef) -> Error {
    let known = conn
        .prepare("SELECT version FROM versions WHERE model = ?1 ORDER BY added_at, version")
        .and_then(|mut stmt| {
            stmt.query_map([&reference.name], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .unwrap_or_default();
    Error::UnknownVersion {
        reference: reference.clone(),
        known,
    }
}

/// `rule: message` for every reason in the stored verdict that does not
/// allow.
fn blocking_reasons(conn: &Connection, reference: &VersionRef) -> Result<Vec<String>, Error> {
    let report: String = conn
        .query_row(
            "SELECT report FROM versions WHERE model = ?1 AND version = ?2",
            params![reference.name, reference.version],
            |row| row.get(0),
        )
        .map_err(Error::database("reading a vet report"))?;
    let report: Value = parse_json(&report, "vet report")?;
    Ok(report
        .pointer("/verdict/reasons")
        .and_then(Value::as_array)
        .map(|reasons| {
            reasons
                .iter()
                .filter(|reason| reason.get("action").and_then(Value::as_str) != Some("allow"))
                .map(|reason| {
                    let text = |key: &str| reason.get(key).and_then(Value::as_str).unwrap_or("");
                    format!("{}: {}", text("rule"), text("message"))
                })
                .collect()
        })
        .unwrap_or_default())
}

fn files(conn: &Connection, reference: &VersionRef) -> Result<Vec<FileRecord>, Error> {
    let doing = "reading a version's files";
    let mut stmt = conn
        .prepare(
            "SELECT path, size, sha256 FROM version_files
             WHERE model = ?1 AND version = ?2 ORDER BY path",
        )
        .map_err(Error::database(doing))?;
    let rows = stmt
        .query_map(params![reference.name, reference.version], |row| {
            Ok(FileRecord {
                path: row.get(0)?,
                size: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                sha256: row.get(2)?,
            })
        })
        .map_err(Error::database(doing))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(Error::database(doing))
}

fn variants(conn: &Connection, summary: &VersionSummary) -> Result<Vec<Variant>, Error> {
    let doing = "reading a version's variants";
    let mut out: Vec<Variant> = Vec::new();
    let queries = [
        (
            "variant-of",
            "SELECT o.model, o.version, o.quantization, o.stage FROM variants l
             JOIN versions o ON o.model = l.of_model AND o.version = l.of_version
             WHERE l.model = ?1 AND l.version = ?2",
        ),
        (
            "has-variant",
            "SELECT o.model, o.version, o.quantization, o.stage FROM variants l
             JOIN versions o ON o.model = l.model AND o.version = l.version
             WHERE l.of_model = ?1 AND l.of_version = ?2",
        ),
        (
            "same-model",
            "SELECT o.model, o.version, o.quantization, o.stage FROM versions o
             WHERE o.model = ?1 AND o.version <> ?2 ORDER BY o.added_at, o.version",
        ),
    ];
    for (link, sql) in queries {
        let mut stmt = conn.prepare(sql).map_err(Error::database(doing))?;
        let rows = stmt
            .query_map(params![summary.name, summary.version], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(Error::database(doing))?;
        for row in rows {
            let (name, version, quantization, stage) = row.map_err(Error::database(doing))?;
            if link == "same-model"
                && (quantization == summary.quantization
                    || out.iter().any(|v| v.name == name && v.version == version))
            {
                continue;
            }
            out.push(Variant {
                name,
                version,
                quantization,
                stage: stage.parse()?,
                link,
            });
        }
    }
    Ok(out)
}

fn history(conn: &Connection, reference: &VersionRef) -> Result<Vec<StageChange>, Error> {
    let doing = "reading a version's history";
    let mut stmt = conn
        .prepare(
            "SELECT event_seq, from_stage, to_stage, changed_at, changed_by, note, override,
                    sign_offs, review_by
             FROM stage_changes WHERE model = ?1 AND version = ?2 ORDER BY event_seq",
        )
        .map_err(Error::database(doing))?;
    let rows = stmt
        .query_map(params![reference.name, reference.version], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, Option<String>>(8)?,
            ))
        })
        .map_err(Error::database(doing))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, from, to, at, by, note, override_verdict, sign_offs, review_by) =
            row.map_err(Error::database(doing))?;
        out.push(StageChange {
            name: reference.name.clone(),
            version: reference.version.clone(),
            from: from.map(|s| s.parse()).transpose()?,
            to: to.parse()?,
            at,
            by,
            note,
            override_verdict: override_verdict != 0,
            sign_offs: parse_sign_offs(&sign_offs)?,
            review_by,
            event_seq: u64::try_from(seq).unwrap_or(0),
        });
    }
    Ok(out)
}

fn assignments(
    conn: &Connection,
    reference: Option<&VersionRef>,
) -> Result<Vec<Assignment>, Error> {
    let doing = "reading assignments";
    let base = "SELECT a.team, a.model, a.version, v.stage, a.purpose, a.assigned_at,
                       a.assigned_by
                FROM assignments a JOIN versions v ON v.model = a.model AND v.version = a.version";
    let mut stmt;
    let rows = match reference {
        Some(reference) => {
            stmt = conn
                .prepare(&format!(
                    "{base} WHERE a.model = ?1 AND a.version = ?2 ORDER BY a.team"
                ))
                .map_err(Error::database(doing))?;
            stmt.query_map(params![reference.name, reference.version], assignment_row)
        }
        None => {
            stmt = conn
                .prepare(&format!("{base} ORDER BY a.team, a.model, a.version"))
                .map_err(Error::database(doing))?;
            stmt.query_map([], assignment_row)
        }
    }
    .map_err(Error::database(doing))?;
    let mut out = Vec::new();
    for row in rows {
        let (assignment, stage) = row.map_err(Error::database(doing))?;
        out.push(Assignment {
            stage: stage.parse()?,
            ..assignment
        });
    }
    Ok(out)
}

fn assignment_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Assignment, String)> {
    Ok((
        Assignment {
            team: row.get(0)?,
            name: row.get(1)?,
            version: row.get(2)?,
            stage: Stage::Candidate,
            purpose: row.get(4)?,
            assigned_at: row.get(5)?,
            assigned_by: row.get(6)?,
        },
        row.get(3)?,
    ))
}

fn parse_decision(text: &str) -> Result<Decision, Error> {
    [
        Decision::Approved,
        Decision::NeedsReview,
        Decision::Rejected,
    ]
    .into_iter()
    .find(|d| d.name() == text)
    .ok_or_else(|| Error::Corrupt {
        what: format!("unknown verdict {text:?}"),
    })
}

fn parse_reviewers(text: &str) -> Result<Vec<Reviewer>, Error> {
    let names: Vec<String> = parse_json(text, "reviewers")?;
    names
        .iter()
        .map(|name| {
            parse_reviewer(name).map_err(|_| Error::Corrupt {
                what: format!("unknown reviewer {name:?}"),
            })
        })
        .collect()
}

fn parse_sign_offs(text: &str) -> Result<Vec<SignOff>, Error> {
    let raw: Vec<(String, String)> = parse_json::<Vec<Value>>(text, "sign-offs")?
        .iter()
        .map(|v| {
            let field = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
            (field("reviewer"), field("by"))
        })
        .collect();
    raw.into_iter()
        .map(|(reviewer, by)| {
            Ok(SignOff {
                reviewer: parse_reviewer(&reviewer).map_err(|_| Error::Corrupt {
                    what: format!("unknown reviewer {reviewer:?}"),
                })?,
                by,
            })
        })
        .collect()
}

fn sign_offs_json(sign_offs: &[SignOff]) -> Value {
    Value::Array(
        sign_offs
            .iter()
            .map(|s| json!({"reviewer": s.reviewer.name(), "by": s.by}))
            .collect(),
    )
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt {
        what: format!("stored {what}: {e}"),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// SQL's BIGINT is signed; counts and sizes beyond it are clamped.
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
