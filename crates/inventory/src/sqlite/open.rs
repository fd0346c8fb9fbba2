//! Opening the database: the connection, its pragmas, and the migrations
//! (`schema.rs` lists them; SQLite runs each one's portable part, then its
//! own part from `migrations/sqlite/`), all in one `BEGIN IMMEDIATE`
//! transaction, each recorded in `schema_migrations` (two processes opening
//! a new store at once cannot both migrate it).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{BUSY_TIMEOUT, DATABASE_FILE, Store};
use crate::schema::{MIGRATIONS, SCHEMA_VERSION};
use crate::{Error, Timestamp};

/// SQLite's own part of the migrations that have one, by number.
const SQLITE_PARTS: &[(u32, &str)] = &[(
    2,
    include_str!("../../migrations/sqlite/0002_append_only_events.sql"),
)];

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
        migrate(&mut conn, path)?;
        let home = path.parent().unwrap_or_else(|| Path::new("."));
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            blobs: crate::Blobs::new(home.join(crate::BLOBS_DIR)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where a database's schema stands against this build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    /// The database file.
    pub path: std::path::PathBuf,
    /// Whether the file exists (a missing one is created by any command
    /// that opens the inventory).
    pub exists: bool,
    /// The newest migration recorded in it (0: none).
    pub applied: u32,
    /// The newest migration this build knows ([`SCHEMA_VERSION`]).
    pub known: u32,
    /// The migrations this build would apply, by number and name.
    pub pending: Vec<(u32, String)>,
}

impl SchemaStatus {
    /// The database was written by a newer build: this one must not use it.
    pub fn too_new(&self) -> bool {
        self.applied > self.known
    }
}

impl Store {
    /// Where the schema of the inventory in `home` stands, read without
    /// changing anything (the database is opened read-only and not
    /// created).
    pub fn schema_status(home: &Path) -> Result<SchemaStatus, Error> {
        let path = home.join(DATABASE_FILE);
        let pending_from = |applied: u32| {
            MIGRATIONS
                .iter()
                .filter(|m| m.version > applied)
                .map(|m| (m.version, m.name.to_owned()))
                .collect()
        };
        if !path.exists() {
            return Ok(SchemaStatus {
                path,
                exists: false,
                applied: 0,
                known: SCHEMA_VERSION,
                pending: pending_from(0),
            });
        }
        let open = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        let has_table: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                [],
                |row| row.get(0),
            )
            .map_err(Error::database("reading the schema"))?;
        let applied = if has_table == 0 {
            0
        } else {
            let found: i64 = conn
                .query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    [],
                    |row| row.get(0),
                )
                .map_err(Error::database("reading schema_migrations"))?;
            u32::try_from(found).unwrap_or(u32::MAX)
        };
        Ok(SchemaStatus {
            path,
            exists: true,
            applied,
            known: SCHEMA_VERSION,
            pending: pending_from(applied),
        })
    }
}

/// Bring the database at `path` (open as `conn`) to [`SCHEMA_VERSION`].
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
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
        let own = SQLITE_PARTS
            .iter()
            .filter(|(version, _)| *version == migration.version)
            .map(|(_, sql)| *sql);
        for sql in migration.portable.into_iter().chain(own) {
            tx.execute_batch(sql).map_err(fail)?;
        }
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schema::{file_name, migration_files};

    #[test]
    fn status_reads_without_creating_or_migrating() {
        let home = tempfile::tempdir().unwrap();
        let before = Store::schema_status(home.path()).unwrap();
        assert!(!before.exists);
        assert_eq!(before.applied, 0);
        assert_eq!(before.pending.len(), MIGRATIONS.len());
        assert!(
            !home.path().join(DATABASE_FILE).exists(),
            "status created the file"
        );

        drop(Store::open(home.path()).unwrap());
        let after = Store::schema_status(home.path()).unwrap();
        assert!(after.exists && after.pending.is_empty() && !after.too_new());
        assert_eq!(after.applied, SCHEMA_VERSION);

        // A newer build's migration: named, and refused by open.
        let conn = Connection::open(home.path().join(DATABASE_FILE)).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'future', 'x')",
            [i64::from(SCHEMA_VERSION) + 1],
        )
        .unwrap();
        drop(conn);
        let newer = Store::schema_status(home.path()).unwrap();
        assert!(newer.too_new());
        match Store::open(home.path()) {
            Err(Error::SchemaTooNew { found, known, .. }) => {
                assert_eq!((found, known), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_sqlite_part_is_listed_and_every_migration_has_sql() {
        let listed: Vec<String> = SQLITE_PARTS
            .iter()
            .map(|(version, _)| {
                let migration = MIGRATIONS
                    .iter()
                    .find(|m| m.version == *version)
                    .expect("an SQLite part of a listed migration");
                file_name(migration)
            })
            .collect();
        assert_eq!(migration_files("sqlite"), listed);
        for migration in MIGRATIONS {
            assert!(
                migration.portable.is_some()
                    || SQLITE_PARTS.iter().any(|(v, _)| *v == migration.version),
                "{} has no SQL for SQLite",
                file_name(migration)
            );
        }
    }
}
