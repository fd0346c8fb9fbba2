//! `modelgate db copy`: every row of one inventory into a new, empty one
//! (SQLite to PostgreSQL to move an installation; any direction works),
//! in one transaction on the target, then the target's audit chain
//! verified. Rows are copied as stored, audit events included, so the
//! chain's hashes still hold: the copy proves itself.

use super::Store;
use super::db::{Backend, Value, params_from_iter};
use crate::{AuditReport, Error};

/// Every table, parents before children (the foreign keys hold at each
/// insert), with the column it is read in order of.
const TABLES: &[(&str, &str)] = &[
    ("events", "seq"),
    ("models", "name"),
    ("versions", "model, version"),
    ("version_files", "model, version, path"),
    ("variants", "model, version, of_model, of_version"),
    ("stage_changes", "event_seq"),
    ("teams", "name"),
    ("assignments", "team, model, version"),
    ("stored_versions", "model, version"),
    ("api_keys", "id"),
    ("team_limits", "team"),
    ("route_grants", "team, route"),
    ("eval_runs", "id"),
    ("users", "name"),
    ("reviews", "model, version, reviewer"),
    ("console_sessions", "id_sha256"),
    ("console_login_attempts", "at_ms, subject, attempt"),
    ("usage", "id"),
];

/// Most rows one `INSERT` of the copy carries.
const MAX_ROWS_PER_INSERT: usize = 500;

/// Most parameters one statement binds (PostgreSQL's limit is 65,535;
/// SQLite's, as bundled, 32,766).
const MAX_PARAMETERS: usize = 30_000;

/// What [`Store::copy_into`] copied, and the target's audit check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    /// Each table and how many rows it copied, in copy order.
    pub tables: Vec<(String, u64)>,
    /// `audit verify` on the target after the copy.
    pub audit: AuditReport,
}

impl Store {
    /// Copy every row of this inventory into `target`, which must hold
    /// none ([`Error::TargetNotEmpty`] otherwise), in one transaction;
    /// then verify the target's audit chain. `progress` hears each table
    /// as it is done, with its row count.
    pub fn copy_into(
        &self,
        target: &mut Store,
        progress: impl FnMut(&str, u64),
    ) -> Result<CopyReport, Error> {
        // Into PostgreSQL a round trip per row is what costs; SQLite runs
        // a prepared one-row INSERT faster than a long VALUES list (the
        // copy bench measured 0.4x batched).
        let rows_per_insert = match target.conn.backend() {
            Backend::Postgres => MAX_ROWS_PER_INSERT,
            Backend::Sqlite => 1,
        };
        self.copy_into_by(target, rows_per_insert, progress)
    }

    /// [`Store::copy_into`] writing at most `rows_per_insert` rows per
    /// `INSERT` (1 is the baseline the copy bench measures against).
    #[doc(hidden)]
    pub fn copy_into_by(
        &self,
        target: &mut Store,
        rows_per_insert: usize,
        mut progress: impl FnMut(&str, u64),
    ) -> Result<CopyReport, Error> {
        let doing = "copying the inventory";
        let existing: i64 = target
            .conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM usage)",
                [] as [i64; 0],
                |row| row.get(0),
            )
            .map_err(Error::database(doing))?;
        if existing > 0 {
            return Err(Error::TargetNotEmpty {
                target: target.database.redacted(),
                events: u64::try_from(existing).unwrap_or(0),
            });
        }
        if target.conn.backend() == Backend::Postgres {
            // Every day that has usage needs its partition first.
            let days: Vec<String> = self
                .conn
                .column("SELECT DISTINCT day FROM usage ORDER BY day")
                .map_err(Error::database(doing))?;
            target.ensure_usage_partitions(&days)?;
        }
        let mut tables = Vec::new();
        let tx = target.conn.transaction().map_err(Error::database(doing))?;
        for (table, order) in TABLES {
            // The columns are the target's, which this build's migrations
            // made; the source is read by those names, so a column someone
            // added to the source file is never copied, nor spliced into
            // the target's SQL.
            let columns = tx
                .prepare(&format!("SELECT * FROM {table} LIMIT 0"))
                .map_err(Error::database(doing))?
                .column_names();
            let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let mut read = self
                .conn
                .prepare(&format!(
                    "SELECT {} FROM {table} ORDER BY {order}",
                    quoted.join(", ")
                ))
                .map_err(Error::database(doing))?;
            // Many rows per INSERT: one round trip to PostgreSQL for each
            // batch, not each row.
            let per_insert = rows_per_insert
                .min(MAX_PARAMETERS / columns.len().max(1))
                .max(1);
            let insert = |rows: usize| {
                let tuples: Vec<String> = (0..rows)
                    .map(|row| {
                        let at = row * columns.len();
                        let marks: Vec<String> = (1..=columns.len())
                            .map(|i| format!("?{}", at + i))
                            .collect();
                        format!("({})", marks.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO {table} ({}) VALUES {}",
                    quoted.join(", "),
                    tuples.join(", ")
                )
            };
            // A key names the key it replaced: link them after every key
            // is in.
            let position = |name: &str| columns.iter().position(|c| c == name);
            let rotated_from = (*table == "api_keys")
                .then(|| position("rotated_from").zip(position("id")))
                .flatten();
            let mut links: Vec<(Value, Value)> = Vec::new();
            let mut write = tx
                .prepare(&insert(per_insert))
                .map_err(Error::database(doing))?;
            let mut rows = read.query([] as [i64; 0]).map_err(Error::database(doing))?;
            let mut n = 0u64;
            let mut pending: Vec<Value> = Vec::with_capacity(per_insert * columns.len());
            while let Some(row) = rows.next().map_err(Error::database(doing))? {
                let start = pending.len();
                for i in 0..columns.len() {
                    pending.push(row.get::<_, Value>(i).map_err(Error::database(doing))?);
                }
                if let Some((at, id_at)) = rotated_from {
                    let id = pending.get(start + id_at).cloned().unwrap_or(Value::Null);
                    if let Some(from) = pending
                        .get_mut(start + at)
                        .filter(|from| **from != Value::Null)
                    {
                        links.push((std::mem::replace(from, Value::Null), id));
                    }
                }
                n += 1;
                if pending.len() == per_insert * columns.len() {
                    write
                        .execute(params_from_iter(pending.drain(..)))
                        .map_err(Error::database(doing))?;
                }
            }
            if !pending.is_empty() {
                let rest = pending.len() / columns.len().max(1);
                tx.prepare(&insert(rest))
                    .and_then(|mut last| last.execute(params_from_iter(pending)))
                    .map_err(Error::database(doing))?;
            }
            for (from, id) in links {
                tx.execute(
                    "UPDATE api_keys SET rotated_from = ?1 WHERE id = ?2",
                    params_from_iter([from, id]),
                )
                .map_err(Error::database(doing))?;
            }
            progress(table, n);
            tables.push(((*table).to_owned(), n));
        }
        if tx.backend() == Backend::Postgres {
            tx.execute(
                "SELECT setval('usage_id', GREATEST((SELECT MAX(id) FROM usage), 1))",
                [] as [i64; 0],
            )
            .map_err(Error::database(doing))?;
        }
        tx.commit().map_err(Error::database(doing))?;
        let audit = target.verify_audit()?;
        Ok(CopyReport { tables, audit })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A table a migration adds must be copied too (else `db copy` loses
    /// its rows without a word).
    #[test]
    fn every_table_the_migrations_make_is_copied() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let mut statement = store
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name",
            )
            .unwrap();
        let tables: Vec<String> = statement
            .query_map([] as [i64; 0], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let copied: Vec<&str> = TABLES.iter().map(|(table, _)| *table).collect();
        for table in &tables {
            assert!(copied.contains(&table.as_str()), "{table} is not copied");
        }
        assert_eq!(tables.len(), copied.len(), "{tables:?} against {copied:?}");
    }
}
