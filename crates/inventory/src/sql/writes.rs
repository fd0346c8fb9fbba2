//! Changes: [`Store::transaction`] and the writes of a [`Batch`], each
//! with its audit event, in one transaction. The rules that allow or refuse
//! a change are `rules.rs`'s; this file reads the rows they need and writes
//! the rows they allow.

use serde_json::{Value, json};

use super::db::{OptionalExtension, params};
use super::reads::{assignments, require, stage_of, stored_report, summary};
use super::{Batch, Store};
use crate::audit::{Event, GENESIS_HASH, canonical_json, manifest_sha256, sha256_hex};
use crate::encoding::{sign_offs_json, sql_int, to_json};
use crate::record::{check_actor, check_name, check_note};
use crate::{
    Approval, Assignment, Date, Error, NewVersion, Revocation, ServingAction, SignOff, Stage,
    StageChange, Timestamp, Transition, VersionRef, VersionSummary, rules,
};

impl Store {
    /// Run `change` in one transaction: if it returns an error, nothing it
    /// did is kept.
    pub fn transaction<T>(
        &mut self,
        change: impl FnOnce(&mut Batch<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let tx = self
            .conn
            .transaction()
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

    /// Record what a server did with a version. See [`Batch::record_serving`].
    pub fn record_serving(
        &mut self,
        reference: &VersionRef,
        action: ServingAction,
        by: &str,
        details: Value,
    ) -> Result<(), Error> {
        self.transaction(|batch| batch.record_serving(reference, action, by, details))
    }

    /// approved → production, with no evaluation required. See
    /// [`Batch::promote`]; [`Store::promote_with`] applies the policy's
    /// `[evaluation]` requirement.
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
}

impl Batch<'_> {
    /// The time every change in this batch is recorded at.
    pub fn now(&self) -> &Timestamp {
        &self.now
    }

    /// Append an audit event (in this transaction).
    pub(super) fn append(
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
                stmt.query_row(params![], |row| Ok((row.get(0)?, row.get(1)?)))
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

    /// Record that every file of a version is in the blob store, with a
    /// `version.stored` event (`imported`: it was recorded before the
    /// store existed and copied on first use). Refused for an unknown
    /// version; recording it twice is a no-op.
    pub fn record_stored(
        &mut self,
        reference: &VersionRef,
        imported: bool,
        by: &str,
    ) -> Result<(), Error> {
        let doing = "recording a stored version";
        let by = check_actor("actor", by)?;
        require(&self.tx, reference)?;
        let already = self
            .tx
            .prepare_cached("SELECT 1 FROM stored_versions WHERE model = ?1 AND version = ?2")
            .and_then(|mut stmt| stmt.exists(params![reference.name, reference.version]))
            .map_err(Error::database(doing))?;
        if already {
            return Ok(());
        }
        let files = super::reads::files(&self.tx, reference)?;
        let event = self.append(
            &by,
            "version.stored",
            &reference.to_string(),
            json!({
                "name": reference.name,
                "version": reference.version,
                "files_sha256": manifest_sha256(&files),
                "n_files": files.len(),
                "imported": imported,
            }),
        )?;
        self.tx
            .prepare_cached(
                "INSERT INTO stored_versions (model, version, stored_at, imported, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    reference.name,
                    reference.version,
                    self.now.as_str(),
                    i64::from(imported),
                    sql_int(event.seq),
                ])
            })
            .map_err(Error::database(doing))?;
        Ok(())
    }

    /// Record what a server did with a version (`serve.loaded`,
    /// `serve.unloaded`, `serve.refused`), with the server's own details
    /// (address, reason, timings). Refused for an unknown version.
    pub fn record_serving(
        &mut self,
        reference: &VersionRef,
        action: ServingAction,
        by: &str,
        details: Value,
    ) -> Result<(), Error> {
        let by = check_actor("actor", by)?;
        require(&self.tx, reference)?;
        let mut details = match details {
            Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("detail".into(), other);
                map
            }
        };
        details.insert("name".into(), json!(reference.name));
        details.insert("version".into(), json!(reference.version));
        self.append(
            &by,
            action.name(),
            &reference.to_string(),
            Value::Object(details),
        )?;
        Ok(())
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
    /// review-by date. The rules (`rules::plan_approval`): allowed when
    /// the stored verdict is `approved`; `needs-review` when every reviewer
    /// it names signed off; otherwise only with an override, which must
    /// carry a note. The review-by date must be after today (default:
    /// [`DEFAULT_REVIEW_DAYS`](crate::DEFAULT_REVIEW_DAYS) from today).
    pub fn approve(
        &mut self,
        reference: &VersionRef,
        approval: &Approval,
    ) -> Result<StageChange, Error> {
        let approval = approval.checked()?;
        let current = require(&self.tx, reference)?;
        // Reviews recorded beforehand (the console's sign-offs, `models
        // review`) count as sign-offs; a rejection stands unless overridden.
        let stored = self.stored_reviews(reference)?;
        if !approval.override_verdict
            && let Some(rejected) = stored
                .iter()
                .find(|r| r.outcome == crate::ReviewOutcome::Rejected)
        {
            return Err(Error::ReviewRejected {
                reference: reference.clone(),
                reviewer: rejected.reviewer,
                by: rejected.by.clone(),
                note: rejected.note.clone(),
            });
        }
        let mut sign_offs: Vec<SignOff> = approval.sign_offs.to_vec();
        for review in stored
            .iter()
            .filter(|r| r.outcome == crate::ReviewOutcome::SignedOff)
        {
            if !sign_offs.iter().any(|s| s.reviewer == review.reviewer) {
                sign_offs.push(SignOff {
                    reviewer: review.reviewer,
                    by: review.by.clone(),
                });
            }
        }
        let approval = rules::CheckedApproval {
            sign_offs: &sign_offs,
            ..approval
        };
        let plan =
            rules::plan_approval(reference, &current, &approval, Date::of(&self.now), || {
                stored_report(&self.tx, reference).map(|report| rules::blocking_reasons(&report))
            })?;
        self.change_stage(
            reference,
            current.stage,
            plan.to,
            plan.action,
            &approval.by,
            approval.note,
            approval.override_verdict,
            approval.sign_offs,
            Some(plan.review_by),
            None,
        )
    }

    /// approved → production, with no evaluation required: the same as
    /// [`Batch::promote_with`] under a policy whose `[evaluation]
    /// required_for_production` is empty. Where a policy applies, call
    /// `promote_with` with its `[evaluation]` section.
    pub fn promote(
        &mut self,
        reference: &VersionRef,
        by: &str,
        note: Option<&str>,
    ) -> Result<StageChange, Error> {
        self.promote_with(
            reference,
            &crate::Promotion {
                by: by.to_string(),
                note: note.map(str::to_string),
                ..crate::Promotion::default()
            },
        )
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
        let to = rules::next_stage(reference, &current, Transition::Revoke)?;
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
        rules::check_assignable(team, reference, &current)?;
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
        self.ensure_team(team)?;
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

    /// Record `team` (checked by the caller) if it is new.
    pub(super) fn ensure_team(&self, team: &str) -> Result<(), Error> {
        self.tx
            .prepare_cached(
                "INSERT INTO teams (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![team, self.now.as_str()]))
            .map_err(Error::database("recording a team"))?;
        Ok(())
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
        let to = rules::next_stage(reference, &current, transition)?;
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
    pub(super) fn change_stage(
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
