//! Migrations: the SQL files in `migrations/`, applied in order, each
//! recorded in `schema_migrations`, all in one `BEGIN IMMEDIATE`
//! transaction (two processes opening a new store at once cannot both
//! migrate it).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Error, Timestamp};

/// A migration: its number, name and SQL.
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order. `tests` check this list against the files.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "inventory",
        sql: include_str!("../migrations/0001_inventory.sql"),
    },
    Migration {
        version: 2,
        name: "append_only_events",
        sql: include_str!("../migrations/0002_append_only_events.sql"),
    },
];

/// The newest schema this build knows.
pub const SCHEMA_VERSION: u32 = 2;

/// Bring the database at `path` (open as `conn`) to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(Error::database("starting the migration"))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     BIGINT PRIMARY KEY,
            name        TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        );",
    )
    .map_err(Error::database("creating schema_migrations"))?;
    let applied: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(Error::database("reading schema_migrations"))?;
    let applied = u32::try_from(applied).unwrap_or(u32::MAX);
    if applied > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: path.to_path_buf(),
            found: applied,
            known: SCHEMA_VERSION,
        });
    }
    let now = Timestamp::now();
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        let fail = |source| Error::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        tx.execute_batch(migration.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![i64::from(migration.version), migration.name, now.as_str()],
        )
        .map_err(fail)?;
    }
    tx.commit()
        .map_err(Error::database("committing the migration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("migrations directory")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        let expected: Vec<u32> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }
}
