//! Reads: lists, details, due dates, the inventory's BOM descriptions and
//! the audit log, and the rows the writes need (a version's stage and
//! verdict, its stored report).

use super::db::{Connection, OptionalExtension, params};
use modelgate_bom::{ModelDescription, Property};
use serde_json::Value;

use super::Store;
use crate::audit::Event;
use crate::encoding::{parse_decision, parse_json, parse_reviewers, parse_sign_offs};
use crate::rules::Current;
use crate::{
    Assignment, CatalogueEntry, Date, Error, FileRecord, ModelOverview, ProvenanceRecord, Stage,
    StageChange, Variant, VersionDetail, VersionRef, VersionSummary,
};

impl Store {
    /// Every version, by model, oldest first.
    pub fn list(&self) -> Result<Vec<VersionSummary>, Error> {
        let today = Date::today().to_string();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM versions v ORDER BY v.model, v.added_at, v.version"
        );
        summaries(&self.conn, &sql, params![], &today)
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
            .query_map(params![], |row| {
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

    /// The catalogue: every approved or production version with what a
    /// person choosing a model asks first (license family and commercial
    /// use from the stored terms, task and intended use from the stored
    /// description, the teams using it), by model and version.
    pub fn catalogue(&self) -> Result<Vec<CatalogueEntry>, Error> {
        let doing = "reading the catalogue";
        let today = Date::today().to_string();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, v.license_terms, v.description FROM versions v
             WHERE v.stage IN ('approved', 'production')
             ORDER BY v.model, v.added_at, v.version"
        );
        let mut teams: std::collections::HashMap<(String, String), Vec<String>> =
            std::collections::HashMap::new();
        for assignment in assignments(&self.conn, None)? {
            teams
                .entry((assignment.name, assignment.version))
                .or_default()
                .push(assignment.team);
        }
        let mut stmt = self.conn.prepare(&sql).map_err(Error::database(doing))?;
        let mut rows = stmt.query(params![]).map_err(Error::database(doing))?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let summary = summary_row(&row)
                .map_err(Error::database(doing))?
                .into_summary(&today)?;
            let terms: Option<String> = row.get(18).map_err(Error::database(doing))?;
            let description: String = row.get(19).map_err(Error::database(doing))?;
            let terms: CatalogueTerms = terms
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default();
            let description: CatalogueDescription =
                serde_json::from_str(&description).unwrap_or_default();
            let key = (summary.name.clone(), summary.version.clone());
            entries.push(CatalogueEntry {
                license_family: terms.family,
                commercial: terms.commercial,
                task: description.parameters.task,
                purpose: description
                    .considerations
                    .use_cases
                    .into_iter()
                    .next()
                    .or(description.description),
                teams: teams.remove(&key).unwrap_or_default(),
                summary,
            });
        }
        Ok(entries)
    }

    /// The last event's number (0 for an empty trail): a cheap way to know
    /// whether anything changed since a page was computed.
    pub fn last_event_seq(&self) -> Result<u64, Error> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM events", params![], |row| row.get(0))
            .map_err(Error::database("reading the audit trail"))?;
        Ok(seq.and_then(|seq| u64::try_from(seq).ok()).unwrap_or(0))
    }

    /// The audit trail, in order.
    pub fn events(&self) -> Result<Vec<Event>, Error> {
        let mut events = Vec::new();
        self.for_each_stored_event(|stored| events.push(stored.to_event()))?;
        Ok(events)
    }
}

/// The fields of stored license terms the catalogue reads.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CatalogueTerms {
    family: Option<String>,
    commercial: Option<String>,
}

/// The fields of a stored description the catalogue reads.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CatalogueDescription {
    description: Option<String>,
    parameters: CatalogueParameters,
    considerations: CatalogueConsiderations,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CatalogueParameters {
    task: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CatalogueConsiderations {
    use_cases: Vec<String>,
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

fn summary_row(row: &super::db::Row<'_>) -> super::db::Result<SummaryRow> {
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

fn summaries<P: super::db::Params>(
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

pub(super) fn summary(conn: &Connection, reference: &VersionRef) -> Result<VersionSummary, Error> {
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

pub(super) fn stage_of(
    conn: &Connection,
    reference: &VersionRef,
) -> Result<Option<Current>, Error> {
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
pub(super) fn require(conn: &Connection, reference: &VersionRef) -> Result<Current, Error> {
    stage_of(conn, reference)?.ok_or_else(|| unknown_version(conn, reference))
}

pub(super) fn unknown_version(conn: &Connection, reference: &VersionRef) -> Error {
    let known = conn
        .prepare("SELECT version FROM versions WHERE model = ?1 ORDER BY added_at, version")
        .and_then(|mut stmt| {
            stmt.query_map([&reference.name], |row| row.get::<_, String>(0))?
                .collect::<super::db::Result<Vec<String>>>()
        })
        .unwrap_or_default();
    Error::UnknownVersion {
        reference: reference.clone(),
        known,
    }
}

impl Store {
    /// Whether a version's files were copied into the blob store (false
    /// for a version recorded before the store existed, until its import).
    pub fn is_stored(&self, reference: &VersionRef) -> Result<bool, Error> {
        require(&self.conn, reference)?;
        self.conn
            .prepare_cached("SELECT 1 FROM stored_versions WHERE model = ?1 AND version = ?2")
            .and_then(|mut stmt| stmt.exists(params![reference.name, reference.version]))
            .map_err(Error::database("reading whether a version is stored"))
    }
}

/// A version's stored vet report (what a refused approval quotes).
pub(super) fn stored_report(conn: &Connection, reference: &VersionRef) -> Result<Value, Error> {
    let report: String = conn
        .query_row(
            "SELECT report FROM versions WHERE model = ?1 AND version = ?2",
            params![reference.name, reference.version],
            |row| row.get(0),
        )
        .map_err(Error::database("reading a vet report"))?;
    parse_json(&report, "vet report")
}

pub(super) fn files(conn: &Connection, reference: &VersionRef) -> Result<Vec<FileRecord>, Error> {
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
    rows.collect::<super::db::Result<Vec<_>>>()
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

pub(super) fn assignments(
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
            stmt.query_map(params![], assignment_row)
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

fn assignment_row(row: &super::db::Row<'_>) -> super::db::Result<(Assignment, String)> {
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
