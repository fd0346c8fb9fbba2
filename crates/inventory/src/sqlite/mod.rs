//! The SQLite backend: the only code in the crate that speaks SQL (with the
//! files in `migrations/`). Split by job: [`open`](self::open) (connection,
//! pragmas, migrations), [`writes`](self::writes) (transactions and the
//! changes, each with its audit event), [`reads`](self::reads) (lists and
//! details) and [`checks`](self::checks) (`audit verify` over the stored
//! rows); the gateway's tables have a file each for their writes and
//! reads: [`access`](self::access) (API keys, team limits, route grants:
//! audited changes in a [`Batch`]) and [`usage`](self::usage) (usage
//! records: not audited, batched inserts, reports and retention); and
//! [`eval`](self::eval) for evaluation runs (audited inserts, lists, the
//! passing runs a promotion to production needs, and their `audit verify`
//! rows). What a change may do is decided by the backend-free rules
//! (`rules.rs`, `stage.rs`), values are written and read by `encoding.rs`,
//! and the chain is hashed and replayed by `audit.rs`; this module reads
//! and writes rows around them.
//!
//! The seam for another backend (PostgreSQL, issue 14): a sibling module
//! with the same four jobs and the same public surface ([`Store`],
//! [`Batch`]), running `migrations/portable/` as written plus its own
//! `migrations/postgres/` parts, calling the same rules, encoding and chain
//! check. What is SQLite's own here: the pragmas (WAL, `busy_timeout`,
//! `foreign_keys`, `synchronous`), `BEGIN IMMEDIATE`, `?N` placeholders,
//! the append-only triggers (`migrations/sqlite/0002`), and reading edited
//! values of any storage class in the checks.
//!
//! Every change runs in one `BEGIN IMMEDIATE` transaction together with the
//! audit event that records it: writers queue (WAL mode, `busy_timeout`)
//! instead of failing, the chain stays linear, and a crash or a refused
//! change leaves nothing behind.

mod access;
mod checks;
mod eval;
mod open;
mod people;
mod reads;
mod usage;
mod writes;

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;

use crate::Timestamp;

pub use open::SchemaStatus;
pub use people::{EventQuery, MAX_EVENT_PAGE};

/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "inventory.db";

/// How long a writer waits for another writer's transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The inventory, in an SQLite database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The blob store beside the database (`blobs/` in the same directory).
    blobs: crate::Blobs,
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
    /// The blob store beside this inventory's database.
    pub fn blobs(&self) -> &crate::Blobs {
        &self.blobs
    }
}
