//! The life of a version: `candidate` → `approved` → `production` →
//! `deprecated`, and `revoked` from anywhere. Pure rules, no storage.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Vetted and recorded; nobody has approved it yet.
    Candidate,
    /// Approved for use (the verdict allowed it, or a recorded override).
    Approved,
    /// In production.
    Production,
    /// Still works, should no longer be chosen; teams should move off it.
    Deprecated,
    /// Must not be used. Final.
    Revoked,
}

/// A change of stage someone asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transition {
    /// candidate → approved; on an approved or production version, a
    /// re-review that keeps the stage and sets a new review-by date.
    Approve,
    /// approved → production.
    Promote,
    /// approved or production → deprecated.
    Deprecate,
    /// any stage but revoked → revoked.
    Revoke,
}

impl Stage {
    /// Every stage, in life order.
    pub const ALL: [Stage; 5] = [
        Stage::Candidate,
        Stage::Approved,
        Stage::Production,
        Stage::Deprecated,
        Stage::Revoked,
    ];

    /// The stored name: `candidate`, `approved`, `production`, `deprecated`,
    /// `revoked`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Candidate => "candidate",
            Stage::Approved => "approved",
            Stage::Production => "production",
            Stage::Deprecated => "deprecated",
            Stage::Revoked => "revoked",
        }
    }

    /// Whether teams may use a version in this stage (be assigned to it,
    /// find it in the inventory BOM, be asked to re-review it).
    pub fn is_in_use(self) -> bool {
        matches!(self, Stage::Approved | Stage::Production)
    }

    /// The stage after `transition`, or `None` when it is not allowed from
    /// this stage.
    pub fn after(self, transition: Transition) -> Option<Stage> {
        match (transition, self) {
            (Transition::Approve, Stage::Candidate | Stage::Approved) => Some(Stage::Approved),
            (Transition::Approve, Stage::Production) => Some(Stage::Production),
            (Transition::Promote, Stage::Approved) => Some(Stage::Production),
            (Transition::Deprecate, Stage::Approved | Stage::Production) => Some(Stage::Deprecated),
            (Transition::Revoke, stage) if stage != Stage::Revoked => Some(Stage::Revoked),
            _ => None,
        }
    }
}

impl Transition {
    /// The command's verb: `approve`, `promote`, `deprecate`, `revoke`.
    pub fn verb(self) -> &'static str {
        match self {
            Transition::Approve => "approve",
            Transition::Promote => "promote",
            Transition::Deprecate => "deprecate",
            Transition::Revoke => "revoke",
        }
    }

    /// The stages this transition starts from, in words.
    pub fn allowed_from(self) -> &'static str {
        match self {
            Transition::Approve => "candidate, approved or production",
            Transition::Promote => "approved",
            Transition::Deprecate => "approved or production",
            Transition::Revoke => "any stage but revoked",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = Error;

    fn from_str(text: &str) -> Result<Stage, Error> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == text)
            .ok_or_else(|| Error::Corrupt {
                what: format!("unknown stage {text:?}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        use Stage::*;
        use Transition::*;
        let allowed: Vec<(Stage, Transition, Stage)> = Stage::ALL
            .into_iter()
            .flat_map(|from| {
                [Approve, Promote, Deprecate, Revoke]
                    .into_iter()
                    .filter_map(move |t| from.after(t).map(|to| (from, t, to)))
            })
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Candidate, Approve, Approved),
                (Candidate, Revoke, Revoked),
                (Approved, Approve, Approved),
                (Approved, Promote, Production),
                (Approved, Deprecate, Deprecated),
                (Approved, Revoke, Revoked),
                (Production, Approve, Production),
                (Production, Deprecate, Deprecated),
                (Production, Revoke, Revoked),
                (Deprecated, Revoke, Revoked),
            ]
        );
    }

    #[test]
    fn stage_names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>().ok(), Some(stage));
        }
        assert!("live".parse::<Stage>().is_err());
    }
}

/// What a server did with a version, as written to the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingAction {
    /// Verified and loaded; now answering requests.
    Loaded,
    /// Taken out of service (its stage changed, or the server stopped).
    Unloaded,
    /// Not loaded: its stage, a digest, or the memory budget said no.
    Refused,
}

impl ServingAction {
    /// The audit action: `serve.loaded`, `serve.unloaded`, `serve.refused`.
    pub fn name(self) -> &'static str {
        match self {
            ServingAction::Loaded => "serve.loaded",
            ServingAction::Unloaded => "serve.unloaded",
            ServingAction::Refused => "serve.refused",
        }
    }
}
