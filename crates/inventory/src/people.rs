//! The people the console knows, backend-free: console users and their
//! roles, and the reviews they record on versions. What a role may do is
//! decided here ([`Role::may_review`], [`Role::is_admin`]); the SQL is in
//! `sqlite/people.rs`. Passwords are never seen here: the caller hashes
//! them (argon2id, in the console crate) and the store keeps the PHC
//! string.

use std::fmt;
use std::str::FromStr;

use modelgate_policy::Reviewer;
use serde::Serialize;

use crate::Error;
use crate::record::parse_reviewer;

/// Longest PHC string accepted as a password hash (argon2id's are about 100
/// bytes).
pub const MAX_PASSWORD_HASH_BYTES: usize = 512;

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Reads everything, signs off or rejects the reviews of one kind.
    Reviewer(Reviewer),
    /// Everything: approves, promotes, deprecates, revokes, manages keys.
    Admin,
}

impl Role {
    /// Every role, in the order `--help` lists them.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Reviewer(Reviewer::Legal),
        Role::Reviewer(Reviewer::Security),
        Role::Reviewer(Reviewer::Governance),
        Role::Admin,
    ];

    /// `viewer`, `reviewer:legal`, `reviewer:security`,
    /// `reviewer:governance` or `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer(Reviewer::Legal) => "reviewer:legal",
            Role::Reviewer(Reviewer::Security) => "reviewer:security",
            Role::Reviewer(Reviewer::Governance) => "reviewer:governance",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may record a review of kind `reviewer`: a
    /// reviewer for their own kind only; an admin for none (an admin
    /// approves, overriding with a note, rather than signing for others).
    pub fn may_review(self, reviewer: Reviewer) -> bool {
        self == Role::Reviewer(reviewer)
    }

    /// Whether this role may change stages, keys and users.
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }

    /// The review kind of a reviewer role.
    pub fn reviewer(self) -> Option<Reviewer> {
        match self {
            Role::Reviewer(reviewer) => Some(reviewer),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.name().to_string()
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(text: &str) -> Result<Role, Error> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| Error::BadRole {
                text: text.to_string(),
            })
    }
}

/// A console user as stored (the password hash included: only the
/// console's sign-in reads it).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The user name they sign in with.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The argon2id PHC string.
    #[serde(skip)]
    pub password_hash: String,
    /// When the user was added (RFC 3339 UTC).
    pub created_at: String,
    /// Who added them.
    pub created_by: String,
    /// When they were disabled; a disabled user cannot sign in.
    pub disabled_at: Option<String>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A user to add.
#[derive(Clone)]
pub struct NewUser {
    /// The user name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The argon2id PHC string of their password.
    pub password_hash: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewOutcome {
    /// The review found nothing that stops approval.
    SignedOff,
    /// The review found a reason not to use the version.
    Rejected,
}

impl ReviewOutcome {
    /// `signed-off` or `rejected`.
    pub fn name(self) -> &'static str {
        match self {
            ReviewOutcome::SignedOff => "signed-off",
            ReviewOutcome::Rejected => "rejected",
        }
    }

    /// The audit action: `review.signed_off` or `review.rejected`.
    pub fn action(self) -> &'static str {
        match self {
            ReviewOutcome::SignedOff => "review.signed_off",
            ReviewOutcome::Rejected => "review.rejected",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<ReviewOutcome> {
        match text {
            "signed-off" => Some(ReviewOutcome::SignedOff),
            "rejected" => Some(ReviewOutcome::Rejected),
            _ => None,
        }
    }
}

/// A review to record.
#[derive(Debug, Clone)]
pub struct NewReview {
    /// Which review.
    pub reviewer: Reviewer,
    /// Signed off or rejected.
    pub outcome: ReviewOutcome,
    /// Who (a console user, or the name the CLI is given).
    pub by: String,
    /// Why; required for a rejection.
    pub note: Option<String>,
}

/// A recorded review: the latest of its kind on a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    /// The model.
    pub name: String,
    /// The version.
    pub version: String,
    /// Which review.
    pub reviewer: Reviewer,
    /// Signed off or rejected.
    pub outcome: ReviewOutcome,
    /// Who.
    pub by: String,
    /// Why.
    pub note: Option<String>,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// The audit event that recorded it.
    pub event_seq: u64,
}

pub(crate) fn parse_role_text(text: &str) -> Result<Role, Error> {
    text.parse()
}

pub(crate) fn parse_reviewer_text(text: &str) -> Result<Reviewer, Error> {
    parse_reviewer(text)
}

/// Check a PHC string's shape (not its parameters: the console checks
/// those when it verifies a password).
pub(crate) fn check_password_hash(hash: &str) -> Result<&str, Error> {
    if !hash.starts_with("$argon2id$")
        || hash.len() > MAX_PASSWORD_HASH_BYTES
        || hash.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::BadPasswordHash);
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_limit_reviews_to_their_kind() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>().ok(), Some(role));
        }
        assert!("reviewer".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
        let legal = Role::Reviewer(Reviewer::Legal);
        assert!(legal.may_review(Reviewer::Legal));
        assert!(!legal.may_review(Reviewer::Security));
        assert!(!Role::Admin.may_review(Reviewer::Legal));
        assert!(!Role::Viewer.may_review(Reviewer::Legal));
        assert!(Role::Admin.is_admin() && !legal.is_admin());
    }

    #[test]
    fn only_argon2id_phc_strings_are_stored() {
        assert!(check_password_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").is_ok());
        assert!(check_password_hash("hunter2").is_err());
        assert!(check_password_hash("$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").is_err());
        assert!(check_password_hash("$argon2id$ x").is_err());
    }
}

/// A console sign-in session as stored (see [`crate::Store::start_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Who signed in.
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Unix milliseconds of its last request.
    pub last_seen_ms: u64,
}
