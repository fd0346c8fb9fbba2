//! Opening the database: where it is ([`Database`]), the connection (and
//! SQLite's pragmas), and the migrations (`schema.rs` lists them; each
//! backend runs a migration's portable part, then its own part from
//! `migrations/sqlite/` or `migrations/postgres/`), all in one
//! transaction that holds the writers' lock, each recorded in
//! `schema_migrations` (two processes opening a new store at once cannot
//! both migrate it).

use std::path::{Path, PathBuf};

use super::db::{self, Connection, Pg, PgTarget, params};
use super::{BUSY_TIMEOUT, DATABASE_FILE, Store};
use crate::schema::{MIGRATIONS, SCHEMA_VERSION};
use crate::{Error, Timestamp};

/// SQLite's own part of the migrations that have one, by number.
const SQLITE_PARTS: &[(u32, &str)] = &[
    (
        2,
        include_str!("../../migrations/sqlite/0002_append_only_events.sql"),
    ),
    (4, include_str!("../../migrations/sqlite/0004_gateway.sql")),
    (
        8,
        include_str!("../../migrations/sqlite/0008_bytewise_text.sql"),
    ),
];

/// PostgreSQL's own part of the migrations that have one, by number.
const POSTGRES_PARTS: &[(u32, &str)] = &[
    (
        2,
        include_str!("../../migrations/postgres/0002_append_only_events.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_gateway.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_bytewise_text.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_console_login_attempts.sql"),
    ),
];

/// Where the inventory's database is: the embedded SQLite file (the
/// default, `inventory.db` in the data directory) or a PostgreSQL server.
/// Written `sqlite://PATH` (`sqlite:///var/lib/modelgate/inventory.db`)
/// or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?options]`; shown
/// without the password.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// The SQLite file.
    Sqlite(PathBuf),
    /// The PostgreSQL URL, as given (it may hold a password).
    Postgres(String),
}

impl Database {
    /// The default: `inventory.db` in the data directory `home`.
    pub fn in_home(home: &Path) -> Database {
        Database::Sqlite(home.join(DATABASE_FILE))
    }

    /// Read a database URL.
    pub fn parse(text: &str) -> Result<Database, Error> {
        let bad = |reason: String| Error::BadDatabase {
            text: redact(text),
            reason,
        };
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad(
                    "it names no file: write sqlite:///path/to/inventory.db".into(),
                ));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            PgTarget::parse(text).map_err(bad)?;
            return Ok(Database::Postgres(text.to_owned()));
        }
        Err(bad(
            "it must start with postgres:// (or postgresql://) or sqlite://".into(),
        ))
    }

    /// What the database is shown as (a PostgreSQL password is replaced
    /// by `***`).
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres(url) => redact(url),
        }
    }

    /// The path errors name: the SQLite file, or the redacted URL.
    fn error_path(&self) -> PathBuf {
        match self {
            Database::Sqlite(path) => path.clone(),
            Database::Postgres(url) => PathBuf::from(redact(url)),
        }
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `url` with the password between `user:` and `@` replaced by `***`
/// (and any `password=` parameter).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail: Vec<String> = tail
        .split('&')
        .map(|part| match part.find("password=") {
            Some(at) => format!("{}password=***", &part[..at]),
            None => part.to_owned(),
        })
        .collect();
    format!("{scheme}://{authority}{}", tail.join("&"))
}

impl Store {
    /// Open (creating it if needed) the inventory in the data directory
    /// `home`, and bring its schema up to date.
    pub fn open(home: &Path) -> Result<Store, Error> {
        Store::open_database(&Database::in_home(home), home)
    }

    /// Open (creating it if needed) the inventory database file `path`;
    /// its blob store is beside it.
    pub fn open_file(path: &Path) -> Result<Store, Error> {
        let home = path.parent().unwrap_or_else(|| Path::new("."));
        Store::open_database(&Database::Sqlite(path.to_path_buf()), home)
    }

    /// Open the inventory in `database` (creating an SQLite file, or the
    /// tables in an empty PostgreSQL database, if needed) and bring its
    /// schema up to date; the blob store is in the data directory `home`.
    pub fn open_database(database: &Database, home: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(home).map_err(|source| Error::CreateHome {
            path: home.to_path_buf(),
            source,
        })?;
        let path = database.error_path();
        let open = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let mut conn = match database {
            Database::Sqlite(file) => Connection::Sqlite(open_sqlite(file).map_err(open)?),
            Database::Postgres(url) => {
                Connection::Postgres(Pg::connect(postgres_config(url)?).map_err(open)?)
            }
        };
        migrate(&mut conn, &path)?;
        Ok(Store {
            conn,
            database: database.clone(),
            path,
            home: home.to_path_buf(),
            blobs: crate::Blobs::new(home.join(crate::BLOBS_DIR)),
            partitions: std::collections::BTreeSet::new(),
        })
    }
}

/// The SQLite file opened with the store's pragmas.
fn open_sqlite(path: &Path) -> db::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never wait for the writer, writers queue.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(conn)
}

/// The server `url` names and the TLS it asks for, the session named
/// `modelgate` in `pg_stat_activity`, giving up on an unreachable server
/// after 10 s.
fn postgres_config(url: &str) -> Result<PgTarget, Error> {
    let mut target = PgTarget::parse(url).map_err(|reason| Error::BadDatabase {
        text: redact(url),
        reason,
    })?;
    let config = &mut target.config;
    if config.get_application_name().is_none() {
        config.application_name("modelgate");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    Ok(target)
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
        Store::database_status(&Database::in_home(home))
    }

    /// Where the schema of `database` stands, read without changing
    /// anything (an SQLite file is opened read-only and not created).
    pub fn database_status(database: &Database) -> Result<SchemaStatus, Error> {
        let path = database.error_path();
        let pending_from = |applied: u32| {
            MIGRATIONS
                .iter()
                .filter(|m| m.version > applied)
                .map(|m| (m.version, m.name.to_owned()))
                .collect()
        };
        let open = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let (conn, has_table_sql) = match database {
            Database::Sqlite(file) => {
                if !file.exists() {
                    return Ok(SchemaStatus {
                        path,
                        exists: false,
                        applied: 0,
                        known: SCHEMA_VERSION,
                        pending: pending_from(0),
                    });
                }
                let conn = rusqlite::Connection::open_with_flags(
                    file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(|e| open(e.into()))?;
                conn.busy_timeout(BUSY_TIMEOUT)
                    .map_err(|e| open(e.into()))?;
                (
                    Connection::Sqlite(conn),
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                )
            }
            Database::Postgres(url) => (
                Connection::Postgres(Pg::connect(postgres_config(url)?).map_err(open)?),
                "SELECT COUNT(*) FROM pg_catalog.pg_tables
                 WHERE tablename = 'schema_migrations' AND schemaname = current_schema()",
            ),
        };
        let has_table: i64 = conn
            .query_row(has_table_sql, [] as [i64; 0], |row| row.get(0))
            .map_err(Error::database("reading the schema"))?;
        let applied = if has_table == 0 {
            0
        } else {
            let found: i64 = conn
                .query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    [] as [i64; 0],
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
    let backend = conn.backend();
    let tx = conn
        .transaction()
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
            [] as [i64; 0],
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
    let parts = match backend {
        db::Backend::Sqlite => SQLITE_PARTS,
        db::Backend::Postgres => POSTGRES_PARTS,
    };
    let now = Timestamp::now();
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        let fail = |source| Error::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        let own = parts
            .iter()
            .filter(|(version, _)| *version == migration.version)
            .map(|(_, sql)| *sql);
        for sql in migration.portable.into_iter().chain(own) {
            tx.execute_batch(sql).map_err(fail)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![i64::from(migration.version), migration.name, now.as_str()],
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
        let conn = rusqlite::Connection::open(home.path().join(DATABASE_FILE)).unwrap();
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
    fn every_backend_part_is_listed_and_every_migration_has_sql() {
        for (folder, parts) in [("sqlite", SQLITE_PARTS), ("postgres", POSTGRES_PARTS)] {
            let listed: Vec<String> = parts
                .iter()
                .map(|(version, _)| {
                    let migration = MIGRATIONS
                        .iter()
                        .find(|m| m.version == *version)
                        .expect("a backend part of a listed migration");
                    file_name(migration)
                })
                .collect();
            assert_eq!(migration_files(folder), listed);
            for migration in MIGRATIONS {
                assert!(
                    migration.portable.is_some()
                        || parts.iter().any(|(v, _)| *v == migration.version),
                    "{} has no SQL for {folder}",
                    file_name(migration)
                );
            }
        }
    }

    #[test]
    fn database_urls_are_read_and_shown_without_passwords() {
        let pg = Database::parse("postgres://mg:s3cret@db.internal:5433/modelgate?sslmode=disable")
            .unwrap();
        assert_eq!(
            pg.to_string(),
            "postgres://mg:***@db.internal:5433/modelgate?sslmode=disable"
        );
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert_eq!(
            Database::parse("postgresql://h/db?password=hunter2&user=x")
                .unwrap()
                .to_string(),
            "postgresql://h/db?password=***&user=x"
        );
        assert_eq!(
            Database::parse("sqlite:///var/lib/mg/inventory.db").unwrap(),
            Database::Sqlite("/var/lib/mg/inventory.db".into())
        );
        for bad in [
            "mysql://x",
            "sqlite://",
            "/var/lib/x.db",
            "postgres://h:notaport/db",
        ] {
            let error = Database::parse(bad).unwrap_err();
            assert!(matches!(error, Error::BadDatabase { .. }), "{bad}: {error}");
        }
    }
}
