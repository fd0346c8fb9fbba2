//! The model inventory: which versions of which models the organisation
//! has vetted, approved and put in production, who decided, which teams use
//! them, and a tamper-evident record of every change.
//!
//! Purpose: keep each vetted version with its evidence (the OMS-style file
//! manifest, format, parameters, quantization, license and terms,
//! provenance, signature status, the full `modelgate vet` report and the
//! AI-BOM description), move it through its stages ([`Stage`]:
//! `candidate` → `approved` → `production` → `deprecated`, or `revoked`)
//! under rules ([`Transition`]; approval only when the vet verdict allows
//! it, the reviewers signed off, or an override says why), record which
//! team uses which version for what, and append every change to an audit
//! trail chained by SHA-256 ([`audit`]) in the same transaction as the
//! change. Keep a read-only copy of every version's files in a
//! content-addressed blob store beside the database ([`Blobs`],
//! `blobs/sha256/<digest>`), checked against vet's digests while copying
//! ([`Store::add_stored_version`]), from which a server loads
//! ([`Store::ensure_stored`], which imports versions recorded before the
//! store existed after checking their files again).
//!
//! Non-purpose: it does not vet (that is `modelgate-vet`, whose report it
//! stores), hash a model's files for comparison (the caller compares with
//! [`compare_files`]; it hashes only the bytes it copies into and keeps in
//! its blob store), or decide policy. Analysers never see it: the store is at the edge, used by
//! the CLI and the gateway. It does not enforce the gateway's limits or
//! check presented keys at request time (the gateway does, from what it
//! reads here), and it keeps only a hash of each key's secret, which it
//! hands out once.
//!
//! For the gateway (`modelgate serve`), the same database holds who may
//! call it and what they used (migration 0004):
//!
//! - `api_keys`: API keys ([`KeyRecord`]), presented as `mg-<id>-<secret>`
//!   ([`parse_presented`]); only the SHA-256 of the secret is stored
//!   ([`hash_secret`]), and [`Store::create_key`] / [`Store::rotate_key`]
//!   hand the secret out once ([`IssuedKey`], [`Secret`]). Each key has a
//!   team, its own [`Limits`], a [`DataClass`] and an optional expiry.
//! - `team_limits` and `route_grants`: limits over all of a team's keys,
//!   and the routes (the `model` a client asks for) its keys may call.
//! - Every change to these is audited (`key.*`, `team.limits`,
//!   `team.route_*` events) and checked by `audit verify`;
//!   [`Store::access_generation`] tells a server's refresh loop cheaply
//!   when to read them again.
//! - `usage`: one [`UsageRecord`] per request, not audited (high volume),
//!   inserted in batches ([`Store::insert_usage`]), reported by day, team,
//!   model, route or key ([`Store::usage_report`]), summed per key for
//!   budgets ([`Store::spent_micro_usd`]) and deleted in short batches
//!   for retention ([`Store::delete_usage_before`]).
//!
//! Evaluation runs (migration 0005, `eval_runs`): what `modelgate eval`
//! measured on a recorded version ([`NewEvalRun`]: suite name, digest and
//! kind, target, settings, seed, start, whether the threshold was met, the
//! summary and the full report, at most [`MAX_EVAL_REPORT_BYTES`]),
//! recorded with an `eval.recorded` event ([`Store::record_eval_run`]),
//! listed ([`Store::eval_runs`], [`EvalRunFilter`]), shown
//! ([`Store::eval_run`]) and checked by `audit verify` like the other
//! audited rows. A policy may require passing runs before production
//! (`[evaluation] required_for_production`): [`Store::promote_with`]
//! refuses a promotion while a required suite has no run with its
//! threshold met ([`Store::passing_runs`]), unless a [`Promotion`]
//! overrides it with a note, which the `version.promoted` event records.
//!
//! Console sessions (migration 0007, `console_sessions`): who is signed in
//! to the web console, by the SHA-256 of the session id, with its CSRF
//! token and when it was last seen ([`Store::start_session`],
//! [`Store::session`], [`ConsoleSession`]), so every replica of a server
//! knows them. Not audited: a session changes nothing the organisation
//! decided.
//!
//! Where it is kept ([`Database`]): an SQLite file in the data directory
//! (the default, [`Store::open`]) or PostgreSQL ([`Store::open_database`]
//! with `postgres://…`), for replicas on several hosts. The same queries
//! run on both; PostgreSQL serialises audited writers with a
//! transaction-level advisory lock, refuses edits of the audit events with
//! a trigger, keeps usage in day partitions written by `COPY` and dropped
//! whole for retention. [`Store::copy_into`] moves an installation from one
//! to the other and verifies its chain on arrival ([`CopyReport`]).
//!
//! Main types: [`Store`] (one database; writers queue; every change is one
//! transaction holding the writers' lock),
//! [`Batch`] (several changes in one transaction), [`NewVersion`] (what to
//! record; [`NewVersion::from_report`] builds it from a vet report),
//! [`VersionSummary`] / [`VersionDetail`], [`StageChange`], [`Assignment`],
//! [`audit::Event`] and [`audit::AuditReport`], [`StoredVersion`] and
//! [`BlobProblem`] (the blob store), for the gateway [`NewKey`],
//! [`KeyRecord`], [`IssuedKey`], [`Limits`], [`DataClass`],
//! [`UsageRecord`], [`UsageQuery`] and [`UsageRow`], for evaluations
//! [`NewEvalRun`], [`EvalRunSummary`], [`EvalRun`] and [`Promotion`], and
//! [`Error`].
//!
//! Storage: the schema is the SQL in `migrations/` (applied in order in one
//! transaction, recorded in `schema_migrations`). Each migration has a
//! portable part (`migrations/portable/`: TEXT and BIGINT, natural keys,
//! RFC 3339 UTC text timestamps; a test refuses backend-only constructs),
//! backend parts (`migrations/sqlite/`, `migrations/postgres/`: what makes
//! `events` refuse `UPDATE` and `DELETE`, the usage table), or both. Only
//! the `sql` module speaks SQL, split by job (open, writes, reads, checks;
//! access and usage for the gateway's tables); the change rules
//! (`rules.rs`: approvals, review dates, assignments; `stage.rs`), the
//! value encoding, the records, keys and usage tallies, and the chain
//! check are backend-free.
//!
//! ```no_run
//! use modelgate_inventory::{Approval, NewVersion, Store, VersionRef};
//! use modelgate_vet::{VetOptions, vet};
//!
//! let mut store = Store::open(std::path::Path::new("/var/lib/modelgate"))?;
//! let report = vet(std::path::Path::new("./all-MiniLM-L6-v2"), &VetOptions::default())?;
//! let minilm: VersionRef = "all-MiniLM-L6-v2@1.0".parse()?;
//! let new = NewVersion::from_report(minilm.clone(), &report)?;
//! store.add_stored_version(&new, "alice", &modelgate_inventory::NoCopyProgress)?;
//! let stored = store.ensure_stored(&minilm, "server", &modelgate_inventory::NoCopyProgress)?;
//! println!("{} files in the blob store", stored.files.len());
//! store.approve(&minilm, &Approval { by: "bob".into(), ..Approval::default() })?;
//! store.promote(&minilm, "carol", None)?;
//! store.assign("search", &minilm, "semantic search over the wiki", "carol")?;
//! assert!(store.verify_audit()?.ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An API key, made once and checked by the gateway on each request:
//!
//! ```no_run
//! use modelgate_inventory::{Date, Limits, NewKey, Store, hash_secret, parse_presented};
//!
//! let mut store = Store::open(std::path::Path::new("/var/lib/modelgate"))?;
//! let limits = Limits { rpm: Some(60), ..Limits::default() };
//! let issued = store.create_key(&NewKey { limits, ..NewKey::new("search") }, "alice")?;
//! println!("for the search team, shown once: {}", issued.secret.expose());
//!
//! let presented = issued.secret.expose(); // from the request's Authorization header
//! let (id, secret) = parse_presented(presented).ok_or("not a modelgate key")?;
//! let key = store.key(id)?;
//! // The gateway compares the hashes in constant time.
//! assert!(key.is_usable(Date::today()) && key.secret_hash == hash_secret(secret));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audit;
mod blobs;
mod clock;
mod encoding;
mod error;
mod eval;
mod home;
mod keys;
mod people;
mod record;
mod rules;
mod schema;
mod sql;
mod stage;
mod usage;

pub use audit::{AuditProblem, AuditReport, Event};
pub use blobs::{
    BLOBS_DIR, BlobProblem, Blobs, CopyProgress, NoCopyProgress, StoredFile, StoredVersion,
};
pub use clock::{Date, Timestamp};
pub use error::Error;
pub use eval::{
    EvalKind, EvalRun, EvalRunFilter, EvalRunSummary, MAX_EVAL_REPORT_BYTES,
    MAX_EVAL_SUMMARY_BYTES, MAX_EVAL_TARGET_BYTES, NewEvalRun, Promotion,
};
pub use home::default_home;
pub use keys::{
    DataClass, IssuedKey, KEY_ID_CHARS, KEY_PREFIX, KEY_SECRET_BYTES, KeyRecord, KeyRevocation,
    KeyStatus, Limits, NewKey, ROTATED_REASON, Secret, hash_secret, parse_presented,
};
pub use people::{
    ConsoleSession, MAX_PASSWORD_HASH_BYTES, NewReview, NewUser, Review, ReviewOutcome, Role, User,
};
pub use record::{
    Approval, Assignment, CatalogueEntry, FileComparison, FileRecord, MAX_NAME_BYTES,
    MAX_NOTE_BYTES, ModelOverview, NewVersion, ProvenanceRecord, Revocation, SignOff, StageChange,
    Variant, VersionDetail, VersionRef, VersionSummary, check_actor, check_name, compare_files,
    signature_name,
};
pub use rules::DEFAULT_REVIEW_DAYS;
pub use schema::SCHEMA_VERSION;
pub use sql::{
    BUSY_TIMEOUT, Backend, Batch, CopyReport, DATABASE_FILE, Database, DatabaseError, EventQuery,
    MAX_EVENT_PAGE, SchemaStatus, Store,
};
pub use stage::{ServingAction, Stage, Transition};
pub use usage::{MAX_USAGE_TEXT_BYTES, UsageGroup, UsageQuery, UsageRecord, UsageRow};
