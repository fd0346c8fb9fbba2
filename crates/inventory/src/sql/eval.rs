//! Evaluation runs (migration 0005): recording a run with its
//! `eval.recorded` event in the batch's transaction, listing and showing
//! runs, the passing runs a promotion to production looks for, and the
//! rows `audit verify` compares with the trail. What a run is and how it
//! is checked is `eval.rs`'s; the promotion rule is `rules.rs`'s.

use std::borrow::Cow;

use super::db::{Connection, OptionalExtension, params};

use super::checks::text_at;
use super::reads::require;
use super::{Batch, Store};
use crate::audit::{ChainCheck, EvalState};
use crate::encoding::parse_json;
use crate::eval::CheckedEvalRun;
use crate::{
    Error, EvalKind, EvalRun, EvalRunFilter, EvalRunSummary, NewEvalRun, Promotion, StageChange,
    VersionRef, rules,
};

impl Store {
    /// Record an evaluation run of a version. See [`Batch::record_eval_run`].
    pub fn record_eval_run(
        &mut self,
        reference: &VersionRef,
        run: &NewEvalRun,
        by: &str,
    ) -> Result<EvalRunSummary, Error> {
        self.transaction(|batch| batch.record_eval_run(reference, run, by))
    }

    /// approved → production, under the policy's evaluation requirement.
    /// See [`Batch::promote_with`].
    pub fn promote_with(
        &mut self,
        reference: &VersionRef,
        promotion: &Promotion,
    ) -> Result<StageChange, Error> {
        self.transaction(|batch| batch.promote_with(reference, promotion))
    }

    /// The runs `filter` selects, newest first (by start, then by id).
    /// Refused for a version or model the inventory does not have.
    pub fn eval_runs(&self, filter: EvalRunFilter) -> Result<Vec<EvalRunSummary>, Error> {
        if let Some(reference) = &filter.version {
            require(&self.conn, reference)?;
        }
        if let Some(model) = &filter.model {
            let known = self
                .conn
                .prepare_cached("SELECT 1 FROM models WHERE name = ?1")
                .and_then(|mut stmt| stmt.exists([model]))
                .map_err(Error::database("listing evaluation runs"))?;
            if !known {
                return Err(Error::UnknownModel {
                    name: model.clone(),
                });
            }
        }
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM eval_runs
             WHERE (CAST(?1 AS TEXT) IS NULL OR model = ?1) AND (CAST(?2 AS TEXT) IS NULL OR version = ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR model = ?3) AND (CAST(?4 AS TEXT) IS NULL OR suite_name = ?4)
             ORDER BY started_at DESC, id DESC"
        );
        let (name, version) = filter
            .version
            .as_ref()
            .map(|r| (r.name.as_str(), r.version.as_str()))
            .unzip();
        summaries(
            &self.conn,
            &sql,
            params![name, version, filter.model, filter.suite],
        )
    }

    /// One run with its settings, seed and full report.
    pub fn eval_run(&self, id: i64) -> Result<EvalRun, Error> {
        let doing = "reading an evaluation run";
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, settings, seed, report FROM eval_runs WHERE id = ?1"
        );
        let row = self
            .conn
            .query_row(&sql, [id], |row| {
                Ok((
                    summary_row(row)?,
                    row.get::<_, String>(N_SUMMARY_COLUMNS)?,
                    row.get::<_, Option<i64>>(N_SUMMARY_COLUMNS + 1)?,
                    row.get::<_, String>(N_SUMMARY_COLUMNS + 2)?,
                ))
            })
            .optional()
            .map_err(Error::database(doing))?;
        let (summary, settings, seed, report) = row.ok_or(Error::UnknownEvalRun { id })?;
        Ok(EvalRun {
            summary: summary.into_summary()?,
            settings: parse_json(&settings, "evaluation settings")?,
            seed: seed
                .map(|seed| {
                    u64::try_from(seed).map_err(|_| Error::Corrupt {
                        what: format!("evaluation run {id}'s seed {seed} is negative"),
                    })
                })
                .transpose()?,
            report: parse_json(&report, "evaluation report")?,
        })
    }

    /// The runs of `suite_name` on a version that met their threshold,
    /// newest first. Refused for an unknown version.
    pub fn passing_runs(
        &self,
        reference: &VersionRef,
        suite_name: &str,
    ) -> Result<Vec<EvalRunSummary>, Error> {
        require(&self.conn, reference)?;
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM eval_runs
             WHERE model = ?1 AND version = ?2 AND suite_name = ?3 AND threshold_met = 1
             ORDER BY started_at DESC, id DESC"
        );
        summaries(
            &self.conn,
            &sql,
            params![reference.name, reference.version, suite_name],
        )
    }
}

impl Batch<'_> {
    /// Record an evaluation run of a recorded version, with an
    /// `eval.recorded` event naming the run, its suite (name, digest,
    /// kind), target, seed, start, whether the threshold was met, the
    /// summary's numbers and the SHA-256 of the stored summary, settings
    /// and report. The run's id is the largest so far + 1.
    ///
    /// Refused for an unknown version, an invalid suite name, digest,
    /// target, start time (UTC to the second) or seed, or a report larger
    /// than [`MAX_EVAL_REPORT_BYTES`](crate::MAX_EVAL_REPORT_BYTES) of
    /// JSON (summary and settings:
    /// [`MAX_EVAL_SUMMARY_BYTES`](crate::MAX_EVAL_SUMMARY_BYTES)).
    pub fn record_eval_run(
        &mut self,
        reference: &VersionRef,
        run: &NewEvalRun,
        by: &str,
    ) -> Result<EvalRunSummary, Error> {
        let doing = "recording an evaluation run";
        let checked: CheckedEvalRun<'_> = run.checked(by)?;
        require(&self.tx, reference)?;
        let last: i64 = self
            .tx
            .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM eval_runs")
            .and_then(|mut stmt| stmt.query_row(params![], |row| row.get(0)))
            .map_err(Error::database(doing))?;
        let id = last.checked_add(1).ok_or(Error::Corrupt {
            what: "the eval_runs table's ids have reached the largest BIGINT".to_string(),
        })?;
        let event = self.append(
            &checked.by,
            "eval.recorded",
            &reference.to_string(),
            checked.event_details(id, reference),
        )?;
        self.tx
            .prepare_cached(
                "INSERT INTO eval_runs (id, model, version, suite_name, suite_digest, suite_kind,
                    target, settings, seed, started_at, recorded_at, recorded_by, threshold_met,
                    summary, report, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    id,
                    reference.name,
                    reference.version,
                    run.suite_name,
                    run.suite_digest,
                    run.kind.name(),
                    run.target,
                    checked.settings,
                    checked.seed,
                    run.started.as_str(),
                    self.now.as_str(),
                    checked.by,
                    run.threshold_met.map(i64::from),
                    checked.summary,
                    checked.report,
                    crate::encoding::sql_int(event.seq),
                ])
            })
            .map_err(Error::database(doing))?;
        Ok(EvalRunSummary {
            id,
            reference: reference.clone(),
            suite_name: run.suite_name.clone(),
            suite_digest: run.suite_digest.clone(),
            kind: run.kind,
            target: run.target.clone(),
            started: run.started.to_string(),
            recorded_at: self.now.to_string(),
            recorded_by: checked.by,
            threshold_met: run.threshold_met,
            summary: run.summary.clone(),
            event_seq: event.seq,
        })
    }

    /// approved → production, when every suite the policy's
    /// `[evaluation] required_for_production` names has a stored run of
    /// this version with its threshold met ([`Store::passing_runs`]), or
    /// the promotion overrides that with a note. The `version.promoted`
    /// event carries, when the policy requires suites, an `evaluation`
    /// object: the suites required, the newest passing run of each
    /// (`passing_runs`, suite → run id), the suites `missing` and whether
    /// they were `overridden`; an override also sets the event's and the
    /// stage change's `override`.
    ///
    /// Refused ([`Error::MissingEvaluations`], naming the suites) when a
    /// required suite has no passing run and there is no override; an
    /// override without a note is [`Error::OverrideWithoutNote`].
    pub fn promote_with(
        &mut self,
        reference: &VersionRef,
        promotion: &Promotion,
    ) -> Result<StageChange, Error> {
        let promotion = promotion.checked()?;
        let current = require(&self.tx, reference)?;
        let plan = rules::plan_promotion(reference, &current, &promotion, |suite| {
            newest_passing_run(&self.tx, reference, suite)
        })?;
        self.change_stage(
            reference,
            current.stage,
            plan.to,
            "version.promoted",
            &promotion.by,
            promotion.note,
            plan.overridden,
            &[],
            None,
            plan.evaluation.map(|details| ("evaluation", details)),
        )
    }
}

/// The id of the newest run of `suite` on the version that met its
/// threshold.
fn newest_passing_run(
    conn: &Connection,
    reference: &VersionRef,
    suite: &str,
) -> Result<Option<i64>, Error> {
    conn.prepare_cached(
        "SELECT id FROM eval_runs
         WHERE model = ?1 AND version = ?2 AND suite_name = ?3 AND threshold_met = 1
         ORDER BY started_at DESC, id DESC LIMIT 1",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![reference.name, reference.version, suite], |row| {
            row.get(0)
        })
        .optional()
    })
    .map_err(Error::database("reading passing evaluation runs"))
}

/// The columns [`summary_row`] reads.
const SUMMARY_COLUMNS: &str = "id, model, version, suite_name, suite_digest, suite_kind, target,
    started_at, recorded_at, recorded_by, threshold_met, summary, event_seq";
/// How many they are.
const N_SUMMARY_COLUMNS: usize = 13;

/// A summary row as stored, before its values are parsed.
struct SummaryRow {
    id: i64,
    name: String,
    version: String,
    suite_name: String,
    suite_digest: String,
    kind: String,
    target: String,
    started: String,
    recorded_at: String,
    recorded_by: String,
    threshold_met: Option<i64>,
    summary: String,
    event_seq: i64,
}

fn summary_row(row: &super::db::Row<'_>) -> super::db::Result<SummaryRow> {
    Ok(SummaryRow {
        id: row.get(0)?,
        name: row.get(1)?,
        version: row.get(2)?,
        suite_name: row.get(3)?,
        suite_digest: row.get(4)?,
        kind: row.get(5)?,
        target: row.get(6)?,
        started: row.get(7)?,
        recorded_at: row.get(8)?,
        recorded_by: row.get(9)?,
        threshold_met: row.get(10)?,
        summary: row.get(11)?,
        event_seq: row.get(12)?,
    })
}

impl SummaryRow {
    fn into_summary(self) -> Result<EvalRunSummary, Error> {
        let id = self.id;
        let corrupt = |what: String| Error::Corrupt { what };
        Ok(EvalRunSummary {
            id,
            kind: self
                .kind
                .parse::<EvalKind>()
                .map_err(|e| corrupt(format!("evaluation run {id}: {e}")))?,
            threshold_met: self
                .threshold_met
                .map(|met| match met {
                    0 => Ok(false),
                    1 => Ok(true),
                    other => Err(corrupt(format!(
                        "evaluation run {id}'s threshold_met is {other}, not 0 or 1"
                    ))),
                })
                .transpose()?,
            summary: parse_json(&self.summary, "evaluation summary")?,
            event_seq: u64::try_from(self.event_seq).map_err(|_| {
                corrupt(format!(
                    "evaluation run {id}'s event {} is negative",
                    self.event_seq
                ))
            })?,
            reference: VersionRef {
                name: self.name,
                version: self.version,
            },
            suite_name: self.suite_name,
            suite_digest: self.suite_digest,
            target: self.target,
            started: self.started,
            recorded_at: self.recorded_at,
            recorded_by: self.recorded_by,
        })
    }
}

fn summaries<P: super::db::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> Result<Vec<EvalRunSummary>, Error> {
    let doing = "listing evaluation runs";
    let mut stmt = conn.prepare(sql).map_err(Error::database(doing))?;
    let rows = stmt
        .query_map(params, summary_row)
        .map_err(Error::database(doing))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(Error::database(doing))?.into_summary()?);
    }
    Ok(out)
}

impl Store {
    /// Hand every stored evaluation run, read leniently, to the chain
    /// check: the row's fields and the SHA-256 of its stored summary,
    /// settings and report.
    pub(super) fn check_eval_runs(&self, check: &mut ChainCheck) -> Result<(), Error> {
        let doing = "checking evaluation runs against the audit trail";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, model, version, suite_name, suite_digest, suite_kind, target, seed,
                        started_at, recorded_by, threshold_met, summary, settings, report
                 FROM eval_runs ORDER BY id",
            )
            .map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let text = |idx: usize| text_at(&row, idx, doing).map(Cow::into_owned);
            let hash = |idx: usize| {
                text_at(&row, idx, doing).map(|text| crate::audit::sha256_hex(text.as_bytes()))
            };
            let id = text(0)?;
            let state = EvalState {
                name: text(1)?,
                version: text(2)?,
                suite: text(3)?,
                suite_digest: text(4)?,
                kind: text(5)?,
                target: text(6)?,
                seed: text(7)?,
                started: text(8)?,
                recorded_by: text(9)?,
                threshold_met: text(10)?,
                summary_sha256: hash(11)?,
                settings_sha256: hash(12)?,
                report_sha256: hash(13)?,
            };
            check.stored_eval_run(id, state);
        }
        Ok(())
    }
}
