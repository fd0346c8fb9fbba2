//! The SQL: the only code in the crate that speaks it (with the files in
//! `migrations/`), written once for SQLite (the embedded default) and
//! PostgreSQL. [`db`](self::db) is the connection layer both run on.
//! Split by job: [`open`](self::open) (where the database is, the
//! connection, migrations), [`writes`](self::writes) (transactions and the
//! changes, each with its audit event), [`reads`](self::reads) (lists and
//! details) and [`checks`](self::checks) (`audit verify` over the stored
//! rows); the gateway's tables have a file each: [`access`](self::access)
//! (API keys, team limits, route grants: audited changes in a [`Batch`])
//! and [`usage`](self::usage) (usage records: not audited, batched
//! inserts, reports and retention); [`eval`](self::eval) for evaluation
//! runs; [`people`](self::people) for users, reviews and console sessions;
//! [`postgres`](self::postgres) for what only PostgreSQL does (usage by
//! binary `COPY` into day partitions, retention by dropping them),
//! [`tls`](self::tls) for TLS to it (libpq's `sslmode` and certificate
//! options, on rustls); and [`copy`](self::copy) for `db copy`. What a change may do is decided by
//! the backend-free rules (`rules.rs`, `stage.rs`), values are written and
//! read by `encoding.rs`, and the chain is hashed and replayed by
//! `audit.rs`; this module reads and writes rows around them.
//!
//! Every change runs in one transaction together with the audit event
//! that records it, holding the writers' lock (`BEGIN IMMEDIATE` on
//! SQLite; `BEGIN` and `pg_advisory_xact_lock` on PostgreSQL): writers
//! queue instead of failing, on any number of processes and hosts, the
//! chain stays linear, and a crash or a refused change leaves nothing
//! behind.

mod access;
mod checks;
mod copy;
pub(crate) mod db;
mod eval;
mod open;
mod people;
mod postgres;
mod reads;
mod tls;
mod usage;
mod writes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use db::Connection;

use crate::Timestamp;

pub use copy::CopyReport;
pub use db::{Backend, DatabaseError};
pub use open::{Database, SchemaStatus};
pub use people::{EventQuery, MAX_EVENT_PAGE};

/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "inventory.db";

/// How long a writer waits for another writer's transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The inventory, in an SQLite database or in PostgreSQL.
pub struct Store {
    conn: Connection,
    /// Where the database is (a PostgreSQL URL without its password).
    database: Database,
    /// The SQLite file, or the data directory's `inventory.db` name for
    /// PostgreSQL (what errors name).
    path: PathBuf,
    /// The data directory (the blob store is its `blobs/`).
    home: PathBuf,
    /// The blob store in the data directory.
    blobs: crate::Blobs,
    /// The usage partitions known to exist (PostgreSQL), by day.
    partitions: std::collections::BTreeSet<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.database.to_string())
            .finish()
    }
}

/// Changes made in one transaction: all of them, with their audit events,
/// or none. Get one from [`Store::transaction`].
pub struct Batch<'a> {
    tx: db::Transaction<'a>,
    now: Timestamp,
}

impl Store {
    /// The blob store beside this inventory's database.
    pub fn blobs(&self) -> &crate::Blobs {
        &self.blobs
    }

    /// Where the database is: the SQLite file, or the PostgreSQL server
    /// (its URL without the password).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Another connection to the same inventory (for a thread of its
    /// own: a server's usage writer, its poller, its console).
    pub fn reopen(&self) -> Result<Store, crate::Error> {
        Store::open_database(&self.database, &self.home)
    }

    /// Which engine holds the inventory.
    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }

    /// The SQLite database file (for PostgreSQL, the path its redacted
    /// URL would have as a name; see [`Store::database`]).
    pub fn path(&self) -> &Path {
        &self.path
    }
}
