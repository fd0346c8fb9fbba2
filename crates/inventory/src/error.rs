//! Why an inventory operation failed. Every variant that refuses a change
//! leaves the store as it was: the change and its audit event are one
//! transaction.

use std::path::PathBuf;

use modelgate_policy::{Decision, Reviewer};

use crate::{Stage, Transition, VersionRef};

/// Why an inventory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data directory could not be created.
    #[error("cannot create the inventory directory {path}")]
    CreateHome {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be opened or set up.
    #[error("cannot open the inventory database {path}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::DatabaseError,
    },
    /// A migration failed; none of it was applied.
    #[error("migration {version:04}_{name} failed")]
    Migration {
        /// Its number.
        version: u32,
        /// Its name.
        name: &'static str,
        /// Why.
        #[source]
        source: crate::DatabaseError,
    },
    /// A database URL (`--database`, `MODELGATE_DATABASE_URL`) that
    /// cannot be used.
    #[error("cannot use the database {text:?}: {reason}")]
    BadDatabase {
        /// The URL, without its password.
        text: String,
        /// Why.
        reason: String,
    },
    /// `db copy` into a database that already holds an inventory.
    #[error(
        "the target database {target} already holds an inventory ({events} audit events): copy only into a new, empty database"
    )]
    TargetNotEmpty {
        /// The target, without its password.
        target: String,
        /// Its audit events.
        events: u64,
    },
    /// The database was written by a newer modelgate.
    #[error(
        "the inventory database {path} has schema version {found}, newer than this modelgate's {known}: it was migrated by a newer modelgate; run that version (upgrade this one), or restore a backup taken before the migration"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The newest migration recorded in the database.
        found: u32,
        /// The newest migration this build knows.
        known: u32,
    },
    /// A query failed.
    #[error("inventory database error while {doing}")]
    Database {
        /// What was being done (`adding a version`).
        doing: &'static str,
        /// Why.
        #[source]
        source: crate::DatabaseError,
    },
    /// Something stored cannot be read back (the database was edited, or
    /// written by an incompatible build).
    #[error("the inventory holds data it cannot read: {what}")]
    Corrupt {
        /// What, and where.
        what: String,
    },
    /// The blob store could not be read or written.
    #[error("cannot {doing} {path}")]
    Blob {
        /// What was being done (`create`, `write`, `rename`).
        doing: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file's bytes, copied into the blob store, are not the bytes vet
    /// recorded: the file changed between the vet and the copy. Nothing of
    /// the version was stored.
    #[error(
        "{file} changed since it was vetted: vet recorded sha256 {recorded}, the copy has sha256 {copied}; run vet again"
    )]
    FileChanged {
        /// The file, relative to the model's root.
        file: String,
        /// The digest vet recorded.
        recorded: String,
        /// The digest of the bytes read now.
        copied: String,
    },
    /// A recorded file's path or digest cannot name a file in the store
    /// (absolute, `..`, not 64 hex digits).
    #[error("{what} {text:?} of {reference} cannot be stored: {reason}")]
    BadStoredName {
        /// The version.
        reference: VersionRef,
        /// `path` or `sha256`.
        what: &'static str,
        /// The value.
        text: String,
        /// Why.
        reason: &'static str,
    },
    /// A version recorded before the blob store existed could not be
    /// imported into it from its recorded path.
    #[error(
        "{reference} was added before the blob store and cannot be imported from {source_path}; add the model again as a new version"
    )]
    Import {
        /// The version.
        reference: VersionRef,
        /// Where it was recorded.
        source_path: String,
        /// Why (a changed or missing file).
        #[source]
        source: Box<Error>,
    },
    /// A model, version or team name is not acceptable.
    #[error("{kind} {text:?} is not valid: {reason}")]
    BadName {
        /// `model name`, `version`, `team`, `approver`, ...
        kind: &'static str,
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A version reference is not `NAME@VERSION`.
    #[error("{text:?} is not NAME@VERSION")]
    BadReference {
        /// The text given.
        text: String,
    },
    /// A date is not `YYYY-MM-DD`.
    #[error("{text:?} is not a date (YYYY-MM-DD)")]
    BadDate {
        /// The text given.
        text: String,
    },
    /// A required text is empty.
    #[error("{field} is empty")]
    Missing {
        /// `approver`, `reason`, `purpose`, ...
        field: &'static str,
    },
    /// No model has this name.
    #[error("no model named {name} in the inventory")]
    UnknownModel {
        /// The name.
        name: String,
    },
    /// The model has no such version.
    #[error("no version {reference} in the inventory{}", known_versions(.known))]
    UnknownVersion {
        /// The reference.
        reference: VersionRef,
        /// The model's versions, when the model exists.
        known: Vec<String>,
    },
    /// The version is already recorded; versions are immutable.
    #[error("{reference} is already in the inventory")]
    VersionExists {
        /// The reference.
        reference: VersionRef,
    },
    /// A version cannot be a variant of itself.
    #[error("{reference} cannot be a variant of itself")]
    SelfVariant {
        /// The reference.
        reference: VersionRef,
    },
    /// The stage machine does not allow this change.
    #[error(
        "cannot {} {reference}: it is {stage}, and {} needs {}",
        .transition.verb(),
        .transition.verb(),
        .transition.allowed_from()
    )]
    IllegalTransition {
        /// The version.
        reference: VersionRef,
        /// Its stage.
        stage: Stage,
        /// What was asked.
        transition: Transition,
    },
    /// The vet verdict does not allow approval.
    #[error("cannot approve {reference}: the policy's verdict is {}{}", .decision.name(), list_reasons(.reasons))]
    NotAllowed {
        /// The version.
        reference: VersionRef,
        /// The stored verdict.
        decision: Decision,
        /// The rules that rejected it or asked for review (`rule: message`).
        reasons: Vec<String>,
    },
    /// The verdict asks for review, and not every reviewer signed off.
    #[error(
        "cannot approve {reference}: the verdict needs review by {}, and {} did not sign off",
        names(.reviewers),
        names(.missing)
    )]
    MissingSignOff {
        /// The version.
        reference: VersionRef,
        /// Every reviewer the verdict names.
        reviewers: Vec<Reviewer>,
        /// Those without a sign-off.
        missing: Vec<Reviewer>,
    },
    /// An override was asked for without saying why.
    #[error("an override of the verdict must say why")]
    OverrideWithoutNote,
    /// A review-by date is not in the future.
    #[error("review-by date {date} is not after today ({today})")]
    ReviewDateNotFuture {
        /// The date given.
        date: String,
        /// Today, UTC.
        today: String,
    },
    /// Teams can only use approved or production versions.
    #[error("cannot assign {reference} to team {team}: it is {stage}")]
    NotAssignable {
        /// The team.
        team: String,
        /// The version.
        reference: VersionRef,
        /// Its stage.
        stage: Stage,
    },
    /// A reviewer name is not one the policy knows.
    #[error("{text:?} is not a reviewer (legal, security or governance)")]
    BadReviewer {
        /// The text given.
        text: String,
    },
    /// A role is not one of the console's five.
    #[error(
        "{text:?} is not a role (viewer, reviewer:legal, reviewer:security, reviewer:governance or admin)"
    )]
    BadRole {
        /// The text given.
        text: String,
    },
    /// A password hash is not an argon2id PHC string.
    #[error(
        "a user's password must be stored as an argon2id PHC string (`$argon2id$...`); hash it with the console's `hash_password`"
    )]
    BadPasswordHash,
    /// The user name is taken.
    #[error("user {name} already exists; pick another name, or change their role instead")]
    UserExists {
        /// The name.
        name: String,
    },
    /// No such user.
    #[error("no user {name}; add one with `modelgate users add {name} --role ROLE`")]
    UnknownUser {
        /// The name given.
        name: String,
    },
    /// The review was not asked for by the version's verdict.
    #[error(
        "{reference}'s verdict does not ask for a {} review (it asks for: {}); nothing to sign off",
        .reviewer.name(),
        names(.asked)
    )]
    ReviewNotAsked {
        /// The version.
        reference: VersionRef,
        /// The review given.
        reviewer: Reviewer,
        /// The reviews the verdict asks for.
        asked: Vec<Reviewer>,
    },
    /// The version is past review (deprecated or revoked).
    #[error(
        "{reference} is {stage}: reviews are recorded on candidate, approved or production versions"
    )]
    NotReviewable {
        /// The version.
        reference: VersionRef,
        /// Its stage.
        stage: Stage,
    },
    /// A rejection must say why.
    #[error("a rejection must say why: give a note")]
    RejectionWithoutNote,
    /// A reviewer rejected the version: approving needs an override.
    #[error(
        "cannot approve {reference}: the {} review was rejected by {by}{}; approve with an override and a note to go against it",
        .reviewer.name(),
        .note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
    )]
    ReviewRejected {
        /// The version.
        reference: VersionRef,
        /// Which review.
        reviewer: Reviewer,
        /// Who rejected it.
        by: String,
        /// Why.
        note: Option<String>,
    },
    /// A data class is not one of the four.
    #[error("{text:?} is not a data class (public, internal, confidential or restricted)")]
    BadDataClass {
        /// The text given.
        text: String,
    },
    /// A number does not fit where it goes (a limit, a count, a batch
    /// size).
    #[error("{field} {value} is out of range: {reason}")]
    BadNumber {
        /// `budget_micro_usd`, `tokens_in`, `batch`, ...
        field: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        reason: &'static str,
    },
    /// A time is not written the way the inventory stores times.
    #[error("{field} {text:?} is not a UTC time to the second; write it as 2026-11-22T20:28:40Z")]
    BadTimestamp {
        /// `at`, `since`, ...
        field: &'static str,
        /// The text given.
        text: String,
    },
    /// The operating system's random number generator failed, so no key
    /// could be made.
    #[error("cannot read random bytes from the operating system to make an API key")]
    Random {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No API key has this id.
    #[error("no API key {id} in the inventory; `modelgate keys list` shows the keys")]
    UnknownKey {
        /// The id given.
        id: String,
    },
    /// The key was revoked: it cannot be changed, rotated or revoked again.
    #[error("API key {id} was revoked at {at}; create a new key for team {team} instead")]
    KeyRevoked {
        /// The key.
        id: String,
        /// Its team.
        team: String,
        /// When it was revoked.
        at: String,
    },
    /// The key has expired: rotating it would make an expired key.
    #[error("API key {id} expired on {expires_on}; create a new key for team {team} instead")]
    KeyExpired {
        /// The key.
        id: String,
        /// Its team.
        team: String,
        /// Its expiry date.
        expires_on: String,
    },
    /// A new key's expiry date is not in the future.
    #[error("expiry date {date} is not after today ({today}); give a later date or none")]
    ExpiryNotFuture {
        /// The date given.
        date: String,
        /// Today, UTC.
        today: String,
    },
    /// A route that was never granted to the team cannot be revoked.
    #[error("team {team} has no grant for route {route}{}", granted_routes(.granted))]
    UnknownGrant {
        /// The team.
        team: String,
        /// The route given.
        route: String,
        /// The routes the team was granted.
        granted: Vec<String>,
    },
    /// An evaluation run's report (or summary, or settings) is larger than
    /// the inventory keeps; nothing was stored.
    #[error(
        "the evaluation run's {what} is more than {} MiB of JSON, the most the inventory stores; run fewer cases (the suite's `limit`) or keep the full report as a file",
        .max_bytes >> 20
    )]
    EvalTooLarge {
        /// `report`, `summary` or `settings`.
        what: &'static str,
        /// The most it may be, in bytes.
        max_bytes: usize,
    },
    /// No evaluation run has this id.
    #[error("no evaluation run {id} in the inventory; `modelgate eval list` shows the runs")]
    UnknownEvalRun {
        /// The id given.
        id: i64,
    },
    /// The policy requires passing evaluation runs that the version does
    /// not have; nothing was changed.
    #[error(
        "cannot promote {reference} to production: the policy requires a stored evaluation run with its threshold met for {}, and there is none for {}; run `modelgate eval {reference} --suite FILE` for each, or promote with --override --note WHY (recorded in the audit trail)",
        .required.join(", "),
        .missing.join(", ")
    )]
    MissingEvaluations {
        /// The version.
        reference: VersionRef,
        /// Every suite the policy requires (`[evaluation]
        /// required_for_production`).
        required: Vec<String>,
        /// Those without a passing run of the version.
        missing: Vec<String>,
    },
    /// A usage record cannot be stored; none of its batch was.
    #[error("usage record {index} of the batch (request {request_id:?}) cannot be stored")]
    BadUsage {
        /// Its position in the batch, from 0.
        index: usize,
        /// Its request id.
        request_id: String,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
}

fn granted_routes(granted: &[String]) -> String {
    if granted.is_empty() {
        " (it has no grants)".to_string()
    } else {
        format!(" (its routes: {})", granted.join(", "))
    }
}

fn known_versions(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (its versions: {})", known.join(", "))
    }
}

fn list_reasons(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join("; "))
    }
}

fn names(reviewers: &[Reviewer]) -> String {
    let names: Vec<&str> = reviewers.iter().map(|r| r.name()).collect();
    names.join(", ")
}

impl Error {
    pub(crate) fn database(doing: &'static str) -> impl FnOnce(crate::DatabaseError) -> Error {
        move |source| Error::Database { doing, source }
    }
}
