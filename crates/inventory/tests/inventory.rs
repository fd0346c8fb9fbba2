//! The inventory end to end on synthetic versions: stages and their rules,
//! approvals, teams, review dates, concurrent writers, and tampering with
//! the audit trail the way someone with the database file could.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::Path;

use modelgate_inventory::{
    Approval, Date, Error, FileRecord, NewVersion, SignOff, Stage, Store, Transition, VersionRef,
    VersionSummary,
};
use modelgate_policy::{Decision, Reviewer};
use serde_json::json;

fn reference(text: &str) -> VersionRef {
    text.parse().unwrap()
}

fn version(text: &str, decision: Decision) -> NewVersion {
    let mut new = NewVersion::new(reference(text), decision);
    new.format = Some("gguf".into());
    new.quantization = Some("Q4_1".into());
    new.parameters = Some(134_515_008);
    new.files = vec![
        FileRecord {
            path: "model.gguf".into(),
            size: 98_000_000,
            sha256: "a".repeat(64),
        },
        FileRecord {
            path: "README.md".into(),
            size: 1_200,
            sha256: "b".repeat(64),
        },
    ];
    new.report = json!({"verdict": {"decision": decision.name(), "reasons": [
        {"rule": "license.unknown", "action": if decision == Decision::Approved { "allow" } else { "reject" },
         "message": "no license found"}
    ]}});
    new
}

/// Record `text` (`NAME@VERSION`) as an `approved`-verdict candidate, by
/// alice.
fn add(store: &mut Store, text: &str) -> VersionSummary {
    store
        .add_version(&version(text, Decision::Approved), "alice")
        .unwrap()
}

fn open(dir: &Path) -> Store {
    Store::open(dir).unwrap()
}

fn approval(by: &str) -> Approval {
    Approval {
        by: by.into(),
        ..Approval::default()
    }
}

fn n_events(store: &Store) -> usize {
    store.events().unwrap().len()
}

/// Open the database file directly, as someone with access to it would.
fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(modelgate_inventory::DATABASE_FILE)).unwrap()
}

#[test]
fn a_version_is_recorded_with_its_evidence_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let summary = add(&mut store, "smollm2@1.0");
    assert_eq!(summary.stage, Stage::Candidate);
    assert_eq!(summary.n_files, 2);
    assert_eq!(summary.total_bytes, 98_001_200);
    assert_eq!(summary.added_by, "alice");

    let detail = store.version(&reference("smollm2@1.0")).unwrap();
    assert_eq!(detail.files.len(), 2);
    assert_eq!(detail.files[0].path, "README.md");
    assert_eq!(detail.report["verdict"]["decision"], "approved");
    assert_eq!(detail.history.len(), 1);
    assert_eq!(detail.history[0].from, None);
    assert_eq!(detail.history[0].to, Stage::Candidate);

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "smollm2");
    let model = store.model("smollm2").unwrap();
    assert_eq!(model.versions.len(), 1);
    assert!(matches!(
        store.model("nope"),
        Err(Error::UnknownModel { .. })
    ));
    assert!(store.verify_audit().unwrap().ok);
}

#[test]
fn a_version_cannot_be_recorded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    add(&mut store, "m@1");
    let again = store.add_version(&version("m@1", Decision::Rejected), "mallory");
    assert!(
        matches!(again, Err(Error::VersionExists { .. })),
        "{again:?}"
    );
    assert_eq!(n_events(&store), 1);
    assert_eq!(
        store.version(&reference("m@1")).unwrap().summary.decision,
        Decision::Approved
    );
}

#[test]
fn unknown_versions_name_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    add(&mut store, "m@1");
    let error = store
        .approve(&reference("m@2"), &approval("bob"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "no version m@2 in the inventory (its versions: 1)"
    );
}

#[test]
fn variants_are_other_quantizations_and_explicit_links() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store
        .add_version(&version("smollm2@1.0-q4", Decision::Approved), "a")
        .unwrap();
    let mut q8 = version("smollm2@1.0-q8", Decision::Approved);
    q8.quantization = Some("Q8_0".into());
    store.add_version(&q8, "a").unwrap();
    let mut other = version("smollm2-instruct@1.0", Decision::Approved);
    other.quantization = Some("F16".into());
    other.variant_of = Some(reference("smollm2@1.0-q4"));
    store.add_version(&other, "a").unwrap();

    let variants = store
        .version(&reference("smollm2@1.0-q4"))
        .unwrap()
        .variants;
    let links: Vec<(String, &str)> = variants
        .iter()
        .map(|v| (format!("{}@{}", v.name, v.version), v.link))
        .collect();
    assert_eq!(
        links,
        [
            ("smollm2-instruct@1.0".to_string(), "has-variant"),
            ("smollm2@1.0-q8".to_string(), "same-model"),
        ]
    );
    let variants = store
        .version(&reference("smollm2-instruct@1.0"))
        .unwrap()
        .variants;
    assert_eq!(variants[0].link, "variant-of");

    let mut dangling = version("x@1", Decision::Approved);
    dangling.variant_of = Some(reference("nothing@1"));
    assert!(matches!(
        store.add_version(&dangling, "a"),
        Err(Error::UnknownVersion { .. })
    ));
    let mut itself = version("y@1", Decision::Approved);
    itself.variant_of = Some(reference("y@1"));
    assert!(matches!(
        store.add_version(&itself, "a"),
        Err(Error::SelfVariant { .. })
    ));
}

#[test]
fn stages_follow_the_life_of_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let m = reference("m@1");
    add(&mut store, "m@1");
    let approved = store.approve(&m, &approval("bob")).unwrap();
    assert_eq!(
        (approved.from, approved.to),
        (Some(Stage::Candidate), Stage::Approved)
    );
    let promoted = store.promote(&m, "carol", Some("rollout")).unwrap();
    assert_eq!(promoted.to, Stage::Production);
    let deprecated = store.deprecate(&m, "dave", None).unwrap();
    assert_eq!(deprecated.to, Stage::Deprecated);
    let revoked = store.revoke(&m, "erin", "CVE-2026-0001").unwrap();
    assert_eq!(revoked.change.to, Stage::Revoked);
    let history: Vec<(Option<Stage>, Stage, String)> = store
        .version(&m)
        .unwrap()
        .history
        .into_iter()
        .map(|c| (c.from, c.to, c.by))
        .collect();
    assert_eq!(
        history,
        [
            (None, Stage::Candidate, "alice".to_string()),
            (Some(Stage::Candidate), Stage::Approved, "bob".into()),
            (Some(Stage::Approved), Stage::Production, "carol".into()),
            (Some(Stage::Production), Stage::Deprecated, "dave".into()),
            (Some(Stage::Deprecated), Stage::Revoked, "erin".into()),
        ]
    );
    let actions: Vec<String> = store
        .events()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "version.added",
            "version.approved",
            "version.promoted",
            "version.deprecated",
            "version.revoked"
        ]
    );
    assert!(store.verify_audit().unwrap().ok);
}

#[test]
fn illegal_stage_changes_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let m = reference("m@1");
    add(&mut store, "m@1");
    let illegal = |result: Result<_, Error>, stage: Stage, transition: Transition| match result {
        Err(Error::IllegalTransition {
            stage: s,
            transition: t,
            ..
        }) => assert_eq!((s, t), (stage, transition)),
        other => panic!("expected an illegal transition, got {other:?}"),
    };
    illegal(
        store.promote(&m, "carol", None),
        Stage::Candidate,
        Transition::Promote,
    );
    illegal(
        store.deprecate(&m, "carol", None),
        Stage::Candidate,
        Transition::Deprecate,
    );
    store.revoke(&m, "erin", "pulled by the publisher").unwrap();
    illegal(
        store.approve(&m, &approval("bob")),
        Stage::Revoked,
        Transition::Approve,
    );
    illegal(
        store.revoke(&m, "erin", "again").map(|r| r.change),
        Stage::Revoked,
        Transition::Revoke,
    );
    let error = store.promote(&m, "carol", None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot promote m@1: it is revoked, and promote needs approved"
    );
    assert_eq!(n_events(&store), 2);
    assert_eq!(store.version(&m).unwrap().summary.stage, Stage::Revoked);
}

#[test]
fn approval_follows_the_verdict_unless_overridden_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let rejected = reference("bad@1");
    store
        .add_version(&version("bad@1", Decision::Rejected), "alice")
        .unwrap();
    let error = store.approve(&rejected, &approval("bob")).unwrap_err();
    assert!(matches!(error, Error::NotAllowed { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot approve bad@1: the policy's verdict is rejected (license.unknown: no license found)"
    );
    let no_note = Approval {
        override_verdict: true,
        ..approval("bob")
    };
    assert!(matches!(
        store.approve(&rejected, &no_note),
        Err(Error::OverrideWithoutNote)
    ));
    assert!(matches!(
        store.approve(&rejected, &approval("  ")),
        Err(Error::Missing { field: "approver" })
    ));
    assert_eq!(n_events(&store), 1);
    let overridden = store
        .approve(
            &rejected,
            &Approval {
                override_verdict: true,
                note: Some("internal research only, legal ticket LEGAL-42".into()),
                ..approval("bob")
            },
        )
        .unwrap();
    assert!(overridden.override_verdict);
    let event = store.events().unwrap().pop().unwrap();
    assert_eq!(event.details["override"], true);
    assert_eq!(
        event.details["note"],
        "internal research only, legal ticket LEGAL-42"
    );
}

#[test]
fn needs_review_is_approved_only_with_every_reviewer_signing_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let m = reference("m@1");
    let mut new = version("m@1", Decision::NeedsReview);
    new.reviewers = vec![Reviewer::Legal, Reviewer::Security];
    store.add_version(&new, "alice").unwrap();
    let legal_only = Approval {
        sign_offs: vec!["legal=lena".parse().unwrap()],
        ..approval("bob")
    };
    let error = store.approve(&m, &legal_only).unwrap_err();
    match &error {
        Error::MissingSignOff { missing, .. } => assert_eq!(missing, &[Reviewer::Security]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "cannot approve m@1: the verdict needs review by legal, security, and security did not sign off"
    );
    let both = Approval {
        sign_offs: vec![
            "legal=lena".parse().unwrap(),
            SignOff {
                reviewer: Reviewer::Security,
                by: "sam".into(),
            },
        ],
        ..approval("bob")
    };
    let change = store.approve(&m, &both).unwrap();
    assert_eq!(change.sign_offs.len(), 2);
    assert_eq!(
        store.version(&m).unwrap().history[1].sign_offs,
        both.sign_offs
    );
}

#[test]
fn review_dates_default_to_a_year_and_come_due() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let today = Date::today();
    for name in ["a@1", "b@1", "c@1"] {
        add(&mut store, name);
    }
    let a = store.approve(&reference("a@1"), &approval("bob")).unwrap();
    assert_eq!(a.review_by, Some(today.add_days(365).to_string()));
    store
        .approve(
            &reference("b@1"),
            &Approval {
                review_by: Some(today.add_days(30)),
                ..approval("bob")
            },
        )
        .unwrap();
    let past = store.approve(
        &reference("c@1"),
        &Approval {
            review_by: Some(today),
            ..approval("bob")
        },
    );
    assert!(
        matches!(past, Err(Error::ReviewDateNotFuture { .. })),
        "{past:?}"
    );

    assert!(store.due(today).unwrap().is_empty());
    let due: Vec<String> = store
        .due(today.add_days(31))
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(due, ["b"]);
    let due = store.due(today.add_days(400)).unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|v| v.review_due));
    // A re-review sets a new date and keeps the stage.
    store.promote(&reference("b@1"), "carol", None).unwrap();
    let review = store
        .approve(
            &reference("b@1"),
            &Approval {
                review_by: Some(today.add_days(90)),
                ..approval("bob")
            },
        )
        .unwrap();
    assert_eq!(review.to, Stage::Production);
    assert!(store.due(today.add_days(31)).unwrap().is_empty());
    assert_eq!(
        store.events().unwrap().last().unwrap().action,
        "version.reviewed"
    );
    // Retired versions are not due.
    store.deprecate(&reference("a@1"), "dave", None).unwrap();
    assert_eq!(store.due(today.add_days(400)).unwrap().len(), 1);
}

#[test]
fn revoking_names_the_teams_that_use_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let m = reference("m@1");
    add(&mut store, "m@1");
    let early = store.assign("search", &m, "ranking", "carol");
    assert!(
        matches!(
            early,
            Err(Error::NotAssignable {
                stage: Stage::Candidate,
                ..
            })
        ),
        "{early:?}"
    );
    store.approve(&m, &approval("bob")).unwrap();
    store.assign("search", &m, "ranking", "carol").unwrap();
    store
        .assign("support", &m, "ticket triage", "carol")
        .unwrap();
    store
        .assign("search", &m, "query rewriting", "carol")
        .unwrap();
    let teams = store.assignments().unwrap();
    assert_eq!(teams.len(), 2);
    assert_eq!(teams[0].purpose, "query rewriting");
    assert!(matches!(
        store.assign("ops", &m, "  ", "carol"),
        Err(Error::Missing { field: "purpose" })
    ));
    assert!(matches!(
        store.revoke(&m, "erin", ""),
        Err(Error::Missing { field: "reason" })
    ));

    let revocation = store.revoke(&m, "erin", "license withdrawn").unwrap();
    let affected: Vec<&str> = revocation
        .affected
        .iter()
        .map(|a| a.team.as_str())
        .collect();
    assert_eq!(affected, ["search", "support"]);
    assert!(
        revocation
            .affected
            .iter()
            .all(|a| a.stage == Stage::Revoked)
    );
    let event = store.events().unwrap().pop().unwrap();
    assert_eq!(
        event.details["affected_teams"],
        json!(["search", "support"])
    );
    assert!(store.verify_audit().unwrap().ok);
}

#[test]
fn a_failed_batch_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let result = store.transaction(|batch| {
        batch.add_version(&version("a@1", Decision::Approved), "alice")?;
        batch.approve(&reference("a@1"), &approval("bob"))?;
        batch.promote(&reference("a@1"), "carol", None)?;
        batch.promote(&reference("a@1"), "carol", None)
    });
    assert!(matches!(result, Err(Error::IllegalTransition { .. })));
    assert!(store.list().unwrap().is_empty());
    assert_eq!(n_events(&store), 0);
    assert!(store.verify_audit().unwrap().ok);
}

#[test]
fn concurrent_writers_lose_nothing_and_keep_the_chain_linear() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let n_threads = 6;
    let n_each = 20;
    std::thread::scope(|scope| {
        for thread_idx in 0..n_threads {
            let dir = dir.path();
            scope.spawn(move || {
                // Each thread has its own connection, as separate processes do.
                let mut store = open(dir);
                for idx in 0..n_each {
                    let name = format!("model-{thread_idx}@{idx}");
                    store
                        .add_version(&version(&name, Decision::Approved), "writer")
                        .unwrap();
                    if idx % 2 == 0 {
                        store.approve(&reference(&name), &approval("bob")).unwrap();
                    }
                }
            });
        }
    });
    let store = open(dir.path());
    assert_eq!(store.list().unwrap().len(), n_threads * n_each);
    let events = store.events().unwrap();
    assert_eq!(events.len(), n_threads * n_each * 3 / 2);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=u64::try_from(events.len()).unwrap()).collect();
    assert_eq!(seqs, expected);
    let report = store.verify_audit().unwrap();
    assert!(report.ok, "{report:#?}");
}

/// A store with five events: added, approved, promoted, added, assigned.
fn five_events(dir: &Path) -> Store {
    let mut store = open(dir);
    let m = reference("m@1");
    add(&mut store, "m@1");
    store.approve(&m, &approval("bob")).unwrap();
    store.promote(&m, "carol", None).unwrap();
    add(&mut store, "n@1");
    store.assign("search", &m, "ranking", "carol").unwrap();
    assert!(store.verify_audit().unwrap().ok);
    store
}

/// Drop the triggers that refuse UPDATE and DELETE and turn off foreign
/// keys (stage changes and assignments reference their events), as an
/// attacker with write access to the file can.
fn attacker(dir: &Path) -> rusqlite::Connection {
    let conn = raw(dir);
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;",
    )
    .unwrap();
    conn
}

#[test]
fn the_database_refuses_to_change_or_delete_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    let conn = raw(dir.path());
    let update = conn.execute("UPDATE events SET actor = 'mallory' WHERE seq = 2", []);
    assert!(
        update.unwrap_err().to_string().contains("append-only"),
        "UPDATE must be refused"
    );
    let delete = conn.execute("DELETE FROM events WHERE seq = 5", []);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert!(store.verify_audit().unwrap().ok);
}

#[test]
fn an_edited_event_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    attacker(dir.path())
        .execute("UPDATE events SET actor = 'mallory' WHERE seq = 2", [])
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad, Some(2), "{report:#?}");
    assert_eq!(report.n_problems, 1, "{report:#?}");
    assert!(
        report.problems[0]
            .message
            .contains("event 2 (version.approved m@1) was changed")
    );
}

#[test]
fn an_edited_and_rehashed_event_breaks_the_link_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    let mut event = store.events().unwrap()[1].clone();
    event.actor = "mallory".into();
    let forged = event.compute_hash();
    attacker(dir.path())
        .execute(
            "UPDATE events SET actor = 'mallory', hash = ?1 WHERE seq = 2",
            [forged],
        )
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, Some(3), "{report:#?}");
    assert!(
        report.problems[0]
            .message
            .contains("event 3 does not follow event 2")
    );
}

#[test]
fn a_deleted_event_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    attacker(dir.path())
        .execute("DELETE FROM events WHERE seq = 3", [])
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, Some(3), "{report:#?}");
    assert!(report.problems[0].message.contains("event 3 is missing"));
}

#[test]
fn deleting_the_first_events_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    attacker(dir.path())
        .execute("DELETE FROM events WHERE seq <= 2", [])
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, Some(1), "{report:#?}");
}

#[test]
fn reordered_events_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    attacker(dir.path())
        .execute_batch(
            "UPDATE events SET seq = -3 WHERE seq = 3;
             UPDATE events SET seq = 3 WHERE seq = 4;
             UPDATE events SET seq = 4 WHERE seq = -3;",
        )
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.first_bad, Some(3), "{report:#?}");
}

#[test]
fn a_truncated_trail_or_edited_state_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    let conn = attacker(dir.path());
    // Remove the last event: the chain alone cannot tell, the state can.
    conn.execute("DELETE FROM events WHERE seq = 5", [])
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(!report.ok);
    assert!(
        report.problems[0].message.contains("team search uses m@1"),
        "{report:#?}"
    );
    // Edit a version's stage or verdict, or a stored digest.
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    let conn = raw(dir.path());
    conn.execute_batch(
        "UPDATE versions SET stage = 'approved', decision = 'approved' WHERE model = 'n';
         UPDATE version_files SET sha256 = 'c' WHERE model = 'm' AND path = 'model.gguf';",
    )
    .unwrap();
    let report = store.verify_audit().unwrap();
    let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(report.first_bad, None);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(
        messages[0].starts_with("m@1's stored file digests"),
        "{messages:#?}"
    );
    assert!(
        messages[1].starts_with(
            "n@1 is approved in the inventory, but the audit trail leaves it candidate"
        ),
        "{messages:#?}"
    );
}

#[test]
fn migrations_run_once_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    drop(open(dir.path()));
    let conn = raw(dir.path());
    let applied: Vec<(i64, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        applied,
        [
            (1, "inventory".to_string()),
            (2, "append_only_events".to_string()),
            (3, "stored_versions".to_string())
        ]
    );
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')",
        [],
    )
    .unwrap();
    let error = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, Error::SchemaTooNew { found: 99, .. }),
        "{error:?}"
    );
}

#[test]
fn bad_names_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for bad in ["m@", "@1", "m", "m@1@2"] {
        assert!(bad.parse::<VersionRef>().is_err(), "{bad}");
    }
    let mut new = version("m@1", Decision::Approved);
    new.reference.name = "bad\nname".into();
    assert!(matches!(
        store.add_version(&new, "alice"),
        Err(Error::BadName { .. })
    ));
    assert!(matches!(
        store.add_version(&version("m@1", Decision::Approved), ""),
        Err(Error::Missing { field: "actor" })
    ));
    assert!("2026-02-30".parse::<Date>().is_err());
    assert_eq!(n_events(&store), 0);
}

#[test]
fn hostile_values_in_the_database_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = five_events(dir.path());
    // Values of the wrong type: invalid UTF-8, numbers, a seq that is text
    // (which sorts after every number).
    attacker(dir.path())
        .execute_batch(
            "UPDATE events SET actor = X'FF00' WHERE seq = 2;
             UPDATE events SET details = 42 WHERE seq = 3;
             UPDATE events SET seq = 'four' WHERE seq = 4;
             UPDATE versions SET report = X'FF' WHERE model = 'n';
             UPDATE version_files SET size = 'big' WHERE model = 'm' AND path = 'README.md';
             UPDATE assignments SET purpose = 3.5;",
        )
        .unwrap();
    let report = store.verify_audit().unwrap();
    let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(report.first_bad, Some(2), "{messages:#?}");
    for expected in [
        "event 2 (version.approved m@1) was changed",
        "event 3 (version.promoted m@1) was changed",
        "event 4 is missing: the trail jumps from 3 to 5",
        "event 6: found an event whose number is not an integer instead",
        "m@1's stored size of README.md is not a byte count",
        "n@1 is in the inventory but the audit trail never added it",
        "team search's purpose for m@1 is not the one recorded",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(expected)),
            "{expected:?} not in {messages:#?}"
        );
    }
    let events = store.events().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events[1].actor, "\u{fffd}\u{0}");
}

#[test]
fn recording_a_stored_copy_is_audited_once_and_keeps_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    add(&mut store, "m@1");
    let m1 = reference("m@1");
    assert!(!store.is_stored(&m1).unwrap());
    store
        .transaction(|batch| batch.record_stored(&m1, true, "server"))
        .unwrap();
    store
        .transaction(|batch| batch.record_stored(&m1, true, "server"))
        .unwrap();
    assert!(store.is_stored(&m1).unwrap());
    let events = store.events().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].action, "version.stored");
    assert_eq!(events[1].details["imported"], true);
    assert_eq!(events[1].details["n_files"], 2);
    assert_eq!(store.version(&m1).unwrap().summary.stage, Stage::Candidate);
    let report = store.verify_audit().unwrap();
    assert!(report.ok, "{report:?}");
    assert!(matches!(
        store.transaction(|batch| batch.record_stored(&reference("m@2"), false, "server")),
        Err(Error::UnknownVersion { .. })
    ));
    // The blob path of a digest, and nothing for a name that is not one.
    let blobs = store.blobs();
    assert_eq!(
        blobs.blob_path(&"a".repeat(64)).unwrap(),
        dir.path().join("blobs/sha256").join("a".repeat(64))
    );
    assert!(blobs.blob_path("../../etc/passwd").is_none());
    assert!(blobs.blob_path(&"A".repeat(64)).is_none());
}
