//! The rules a change must follow before any backend records it: which
//! stage changes are allowed, when a verdict allows an approval, what a
//! review date must be, who may be assigned what. Backend-free: each rule
//! takes what the store read ([`Current`]) and what was asked, and returns
//! what to record or the [`Error`] that refuses it; the store (SQL) reads
//! and writes around them, in one transaction.

use std::collections::BTreeMap;

use modelgate_policy::{Decision, EvaluationPolicy, Reviewer};
use serde_json::{Value, json};

use crate::record::{check_actor, check_note};
use crate::{Approval, Date, Error, Promotion, SignOff, Stage, Transition, VersionRef};

/// An approval without `review_by` must be reviewed again after this many
/// days.
pub const DEFAULT_REVIEW_DAYS: i64 = 365;

/// What the rules need to know about a stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Current {
    /// Its stage now.
    pub(crate) stage: Stage,
    /// The vet verdict stored with it.
    pub(crate) decision: Decision,
    /// The reviewers a `needs-review` verdict names.
    pub(crate) reviewers: Vec<Reviewer>,
}

/// The stage `transition` leads to from `current`, or
/// [`Error::IllegalTransition`].
pub(crate) fn next_stage(
    reference: &VersionRef,
    current: &Current,
    transition: Transition,
) -> Result<Stage, Error> {
    current
        .stage
        .after(transition)
        .ok_or_else(|| Error::IllegalTransition {
            reference: reference.clone(),
            stage: current.stage,
            transition,
        })
}

/// An approval's own text, checked before the store is read: who approves
/// (trimmed), the note (trimmed, `None` when blank), and an override must
/// say why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedApproval<'a> {
    pub(crate) by: String,
    pub(crate) note: Option<String>,
    pub(crate) override_verdict: bool,
    pub(crate) sign_offs: &'a [SignOff],
    pub(crate) review_by: Option<Date>,
}

impl Approval {
    /// Check the approval's text; see [`CheckedApproval`].
    pub(crate) fn checked(&self) -> Result<CheckedApproval<'_>, Error> {
        let by = check_actor("approver", &self.by)?;
        let note = check_note("note", self.note.as_deref())?;
        if self.override_verdict && note.is_none() {
            return Err(Error::OverrideWithoutNote);
        }
        Ok(CheckedApproval {
            by,
            note,
            override_verdict: self.override_verdict,
            sign_offs: &self.sign_offs,
            review_by: self.review_by,
        })
    }
}

/// An approval the rules allow: the stage change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApprovalPlan {
    /// The stage after (approved, or the same stage for a re-review).
    pub(crate) to: Stage,
    /// `version.approved` (from candidate) or `version.reviewed`.
    pub(crate) action: &'static str,
    /// When it must be reviewed again.
    pub(crate) review_by: Date,
}

/// Whether `approval` may approve the version: the stage must allow it;
/// then the stored verdict decides (`approved`: yes; `needs-review`: when
/// every reviewer it names signed off; `rejected`: no, naming the
/// `blocking_reasons`, which are only read then), unless the approval
/// overrides it with a note. The review-by date (default
/// [`DEFAULT_REVIEW_DAYS`] after `today`) must be after `today`.
pub(crate) fn plan_approval(
    reference: &VersionRef,
    current: &Current,
    approval: &CheckedApproval<'_>,
    today: Date,
    blocking_reasons: impl FnOnce() -> Result<Vec<String>, Error>,
) -> Result<ApprovalPlan, Error> {
    let to = next_stage(reference, current, Transition::Approve)?;
    if !approval.override_verdict {
        match current.decision {
            Decision::Approved => {}
            Decision::NeedsReview => {
                let missing: Vec<Reviewer> = current
                    .reviewers
                    .iter()
                    .copied()
                    .filter(|r| !approval.sign_offs.iter().any(|s| s.reviewer == *r))
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::MissingSignOff {
                        reference: reference.clone(),
                        reviewers: current.reviewers.clone(),
                        missing,
                    });
                }
            }
            Decision::Rejected => {
                return Err(Error::NotAllowed {
                    reference: reference.clone(),
                    decision: current.decision,
                    reasons: blocking_reasons()?,
                });
            }
        }
    }
    let review_by = approval
        .review_by
        .unwrap_or_else(|| today.add_days(DEFAULT_REVIEW_DAYS));
    if review_by <= today {
        return Err(Error::ReviewDateNotFuture {
            date: review_by.to_string(),
            today: today.to_string(),
        });
    }
    Ok(ApprovalPlan {
        to,
        action: if current.stage == Stage::Candidate {
            "version.approved"
        } else {
            "version.reviewed"
        },
        review_by,
    })
}

/// A promotion's own text, checked before the store is read: who
/// (trimmed), the note (trimmed, `None` when blank), and an override must
/// say why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckedPromotion<'a> {
    pub(crate) by: String,
    pub(crate) note: Option<String>,
    pub(crate) evaluation: &'a EvaluationPolicy,
    pub(crate) override_evaluation: bool,
}

impl Promotion {
    /// Check the promotion's text; see [`CheckedPromotion`].
    pub(crate) fn checked(&self) -> Result<CheckedPromotion<'_>, Error> {
        let by = check_actor("actor", &self.by)?;
        let note = check_note("note", self.note.as_deref())?;
        if self.override_evaluation && note.is_none() {
            return Err(Error::OverrideWithoutNote);
        }
        Ok(CheckedPromotion {
            by,
            note,
            evaluation: &self.evaluation,
            override_evaluation: self.override_evaluation,
        })
    }
}

/// A promotion the rules allow: the stage change to record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PromotionPlan {
    /// Production.
    pub(crate) to: Stage,
    /// Whether missing evaluations were overridden.
    pub(crate) overridden: bool,
    /// The event's `evaluation` details, when the policy requires any:
    /// the suites required, the newest passing run of each that has one,
    /// the suites without, and whether that was overridden.
    pub(crate) evaluation: Option<Value>,
}

/// Whether the version may go to production: the stage must allow it
/// (approved); then each suite the policy requires needs a passing run
/// (`newest_passing_run` gives the newest one's id, asked once per
/// required suite, and only when the stage allows the promotion), unless
/// the promotion overrides with a note. The policy's own
/// [`missing_for_production`](modelgate_policy::EvaluationPolicy::missing_for_production)
/// names the missing suites.
pub(crate) fn plan_promotion(
    reference: &VersionRef,
    current: &Current,
    promotion: &CheckedPromotion<'_>,
    mut newest_passing_run: impl FnMut(&str) -> Result<Option<i64>, Error>,
) -> Result<PromotionPlan, Error> {
    let to = next_stage(reference, current, Transition::Promote)?;
    let required = &promotion.evaluation.required_for_production;
    if required.is_empty() {
        return Ok(PromotionPlan {
            to,
            overridden: false,
            evaluation: None,
        });
    }
    let mut passing: BTreeMap<&str, i64> = BTreeMap::new();
    for suite in required {
        if let Some(id) = newest_passing_run(suite)? {
            passing.insert(suite, id);
        }
    }
    let missing = promotion
        .evaluation
        .missing_for_production(|suite| passing.contains_key(suite));
    if !missing.is_empty() && !promotion.override_evaluation {
        return Err(Error::MissingEvaluations {
            reference: reference.clone(),
            required: required.clone(),
            missing,
        });
    }
    let overridden = !missing.is_empty();
    Ok(PromotionPlan {
        to,
        overridden,
        evaluation: Some(json!({
            "required": required,
            "passing_runs": passing,
            "missing": missing,
            "overridden": overridden,
        })),
    })
}

/// Teams use approved or production versions only.
pub(crate) fn check_assignable(
    team: &str,
    reference: &VersionRef,
    current: &Current,
) -> Result<(), Error> {
    if current.stage.is_in_use() {
        Ok(())
    } else {
        Err(Error::NotAssignable {
            team: team.to_string(),
            reference: reference.clone(),
            stage: current.stage,
        })
    }
}

/// `rule: message` for every reason in a stored vet report's verdict that
/// does not allow (what a refused approval names).
pub(crate) fn blocking_reasons(report: &Value) -> Vec<String> {
    report
        .pointer("/verdict/reasons")
        .and_then(Value::as_array)
        .map(|reasons| {
            reasons
                .iter()
                .filter(|reason| reason.get("action").and_then(Value::as_str) != Some("allow"))
                .map(|reason| {
                    let text = |key: &str| reason.get(key).and_then(Value::as_str).unwrap_or("");
                    format!("{}: {}", text("rule"), text("message"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference() -> VersionRef {
        "llama@3.1".parse().unwrap()
    }

    fn current(stage: Stage, decision: Decision, reviewers: &[Reviewer]) -> Current {
        Current {
            stage,
            decision,
            reviewers: reviewers.to_vec(),
        }
    }

    fn today() -> Date {
        "2026-11-22".parse().unwrap()
    }

    fn approval(by: &str) -> Approval {
        Approval {
            by: by.into(),
            ..Approval::default()
        }
    }

    /// Plan `approval` on `current`; the blocking reasons are one fixed
    /// reason, and reading them is recorded.
    fn plan(
        current: &Current,
        approval: &Approval,
        read_reasons: &mut bool,
    ) -> Result<ApprovalPlan, Error> {
        let checked = approval.checked()?;
        plan_approval(&reference(), current, &checked, today(), || {
            *read_reasons = true;
            Ok(vec!["scan.findings: a critical finding".to_string()])
        })
    }

    #[test]
    fn an_approved_verdict_is_approved_for_a_year_by_default() {
        let mut read = false;
        let plan = plan(
            &current(Stage::Candidate, Decision::Approved, &[]),
            &approval("alice"),
            &mut read,
        )
        .unwrap();
        assert_eq!(
            plan,
            ApprovalPlan {
                to: Stage::Approved,
                action: "version.approved",
                review_by: "2027-11-22".parse().unwrap(),
            }
        );
        assert!(!read, "an allowed approval does not read the report");
    }

    #[test]
    fn approving_again_is_a_re_review_that_keeps_the_stage() {
        for stage in [Stage::Approved, Stage::Production] {
            let mut given = approval("bob");
            given.review_by = Some("2027-01-31".parse().unwrap());
            let plan = plan(&current(stage, Decision::Approved, &[]), &given, &mut false).unwrap();
            assert_eq!(plan.to, stage);
            assert_eq!(plan.action, "version.reviewed");
            assert_eq!(plan.review_by.to_string(), "2027-01-31");
        }
        for stage in [Stage::Deprecated, Stage::Revoked] {
            let refused = plan(
                &current(stage, Decision::Approved, &[]),
                &approval("bob"),
                &mut false,
            );
            assert!(
                matches!(
                    refused,
                    Err(Error::IllegalTransition { stage: s, transition: Transition::Approve, .. }) if s == stage
                ),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn needs_review_wants_every_named_reviewer() {
        let needs = current(
            Stage::Candidate,
            Decision::NeedsReview,
            &[Reviewer::Legal, Reviewer::Governance],
        );
        let mut given = approval("carol");
        given.sign_offs = vec!["legal=lena".parse().unwrap()];
        match plan(&needs, &given, &mut false) {
            Err(Error::MissingSignOff {
                reviewers, missing, ..
            }) => {
                assert_eq!(reviewers, [Reviewer::Legal, Reviewer::Governance]);
                assert_eq!(missing, [Reviewer::Governance]);
            }
            other => panic!("{other:?}"),
        }
        given.sign_offs.push("governance=gus".parse().unwrap());
        assert_eq!(
            plan(&needs, &given, &mut false).unwrap().to,
            Stage::Approved
        );
        // A sign-off nobody asked for is no substitute.
        given.sign_offs = vec![
            "legal=lena".parse().unwrap(),
            "security=sam".parse().unwrap(),
        ];
        assert!(plan(&needs, &given, &mut false).is_err());
    }

    #[test]
    fn a_rejected_verdict_names_its_reasons_unless_overridden_with_a_note() {
        let rejected = current(Stage::Candidate, Decision::Rejected, &[]);
        let mut read = false;
        match plan(&rejected, &approval("dan"), &mut read) {
            Err(Error::NotAllowed {
                decision, reasons, ..
            }) => {
                assert_eq!(decision, Decision::Rejected);
                assert_eq!(reasons, ["scan.findings: a critical finding"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(read);
        let mut overriding = approval("dan");
        overriding.override_verdict = true;
        assert!(matches!(
            plan(&rejected, &overriding, &mut false),
            Err(Error::OverrideWithoutNote)
        ));
        overriding.note = Some("   ".into());
        assert!(matches!(
            plan(&rejected, &overriding, &mut false),
            Err(Error::OverrideWithoutNote)
        ));
        overriding.note = Some("  accepted by the CISO, ticket 42 ".into());
        let checked = overriding.checked().unwrap();
        assert_eq!(
            checked.note.as_deref(),
            Some("accepted by the CISO, ticket 42")
        );
        let mut read = false;
        assert_eq!(
            plan(&rejected, &overriding, &mut read).unwrap().to,
            Stage::Approved
        );
        assert!(!read);
    }

    #[test]
    fn review_dates_must_be_after_today() {
        let approved = current(Stage::Candidate, Decision::Approved, &[]);
        for date in ["2026-11-22", "2020-01-01"] {
            let mut given = approval("erin");
            given.review_by = Some(date.parse().unwrap());
            match plan(&approved, &given, &mut false) {
                Err(Error::ReviewDateNotFuture { date: got, today }) => {
                    assert_eq!((got.as_str(), today.as_str()), (date, "2026-11-22"));
                }
                other => panic!("{date}: {other:?}"),
            }
        }
        let mut given = approval("erin");
        given.review_by = Some("2026-11-23".parse().unwrap());
        assert!(plan(&approved, &given, &mut false).is_ok());
    }

    #[test]
    fn an_approver_is_required() {
        for by in ["", "   "] {
            assert!(matches!(
                approval(by).checked(),
                Err(Error::Missing { field: "approver" })
            ));
        }
        assert!(matches!(
            approval("a\u{7}b").checked(),
            Err(Error::BadName { .. })
        ));
    }

    fn promotion(required: &[&str], override_evaluation: bool, note: Option<&str>) -> Promotion {
        Promotion {
            by: "carol".into(),
            note: note.map(str::to_string),
            evaluation: EvaluationPolicy {
                required_for_production: required.iter().map(|s| s.to_string()).collect(),
                ..EvaluationPolicy::default()
            },
            override_evaluation,
        }
    }

    #[test]
    fn promotion_waits_for_a_passing_run_of_every_required_suite() {
        let approved = current(Stage::Approved, Decision::Approved, &[]);
        let passing = |suite: &str| Ok((suite == "hellaswag").then_some(7));
        let given = promotion(&["support-bot", "hellaswag"], false, None);
        match plan_promotion(&reference(), &approved, &given.checked().unwrap(), passing) {
            Err(Error::MissingEvaluations {
                required, missing, ..
            }) => {
                assert_eq!(required, ["support-bot", "hellaswag"]);
                assert_eq!(missing, ["support-bot"]);
            }
            other => panic!("{other:?}"),
        }
        let given = promotion(&["hellaswag"], false, None);
        let plan =
            plan_promotion(&reference(), &approved, &given.checked().unwrap(), passing).unwrap();
        assert_eq!(plan.to, Stage::Production);
        assert!(!plan.overridden);
        assert_eq!(
            plan.evaluation,
            Some(
                json!({"required": ["hellaswag"], "passing_runs": {"hellaswag": 7},
                        "missing": [], "overridden": false})
            )
        );
        // Nothing required: nothing read, nothing recorded.
        let given = promotion(&[], false, None);
        let plan = plan_promotion(&reference(), &approved, &given.checked().unwrap(), |_| {
            panic!("no suite is required")
        })
        .unwrap();
        assert_eq!(
            (plan.to, plan.overridden, plan.evaluation),
            (Stage::Production, false, None)
        );
    }

    #[test]
    fn missing_evaluations_are_overridden_only_with_a_note() {
        assert!(matches!(
            promotion(&["support-bot"], true, None).checked(),
            Err(Error::OverrideWithoutNote)
        ));
        assert!(matches!(
            promotion(&["support-bot"], true, Some("  ")).checked(),
            Err(Error::OverrideWithoutNote)
        ));
        let given = promotion(&["support-bot"], true, Some(" launch, ticket 9 "));
        let checked = given.checked().unwrap();
        assert_eq!(checked.note.as_deref(), Some("launch, ticket 9"));
        let approved = current(Stage::Approved, Decision::Approved, &[]);
        let plan = plan_promotion(&reference(), &approved, &checked, |_| Ok(None)).unwrap();
        assert!(plan.overridden);
        assert_eq!(
            plan.evaluation,
            Some(json!({"required": ["support-bot"], "passing_runs": {},
                        "missing": ["support-bot"], "overridden": true}))
        );
    }

    #[test]
    fn the_stage_is_checked_before_the_evaluations() {
        for stage in [Stage::Candidate, Stage::Production, Stage::Revoked] {
            let given = promotion(&["support-bot"], false, None);
            let result = plan_promotion(
                &reference(),
                &current(stage, Decision::Approved, &[]),
                &given.checked().unwrap(),
                |_| panic!("the stage refuses first"),
            );
            assert!(
                matches!(
                    result,
                    Err(Error::IllegalTransition {
                        transition: Transition::Promote,
                        ..
                    })
                ),
                "{stage}: {result:?}"
            );
        }
    }

    #[test]
    fn only_in_use_versions_are_assignable() {
        for stage in Stage::ALL {
            let result = check_assignable(
                "search",
                &reference(),
                &current(stage, Decision::Approved, &[]),
            );
            assert_eq!(result.is_ok(), stage.is_in_use(), "{stage}");
        }
    }

    #[test]
    fn blocking_reasons_are_the_reasons_that_do_not_allow() {
        let report = json!({"verdict": {"reasons": [
            {"rule": "license.allowed", "action": "allow", "message": "Apache-2.0"},
            {"rule": "scan.findings", "action": "reject", "message": "critical finding"},
            {"rule": "card.score", "action": "review", "message": "card is thin"},
            {"action": "reject"},
        ]}});
        assert_eq!(
            blocking_reasons(&report),
            [
                "scan.findings: critical finding",
                "card.score: card is thin",
                ": "
            ]
        );
        assert!(blocking_reasons(&json!({})).is_empty());
        assert!(blocking_reasons(&json!({"verdict": {"reasons": "none"}})).is_empty());
    }
}
