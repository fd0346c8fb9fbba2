//! The inventory end to end on synthetic versions: stages and their rules,
//! approvals, teams, review dates, concurrent writers, and tampering with
//! the audit trail the way someone with the database file could; then the
//! gateway's tables: API keys, team limits, route grants and usage; then
//! evaluation runs and the promotion to production that waits for them.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::Path;

use modelgate_inventory::{
    Approval, Database, Date, Error, EventQuery, FileRecord, NewReview, NewUser, NewVersion,
    ReviewOutcome, Role, SignOff, Stage, Store, Transition, VersionRef, VersionSummary,
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

/// The store for `dir`: SQLite, or with `MODELGATE_TEST_BACKEND=postgres`
/// (`scripts/test.sh` runs this suite a second time so) a schema of its
/// own on the test PostgreSQL, the same for the same `dir`.
fn open(dir: &Path) -> Store {
    match modelgate_testdata::postgres::backend_for(dir) {
        Some(url) => Store::open_database(&Database::parse(&url).unwrap(), dir).unwrap(),
        None => Store::open(dir).unwrap(),
    }
}

/// Whether this run is on PostgreSQL (tests that edit the SQLite file
/// directly have PostgreSQL twins in `postgres.rs`).
fn on_postgres() -> bool {
    std::env::var("MODELGATE_TEST_BACKEND").is_ok_and(|backend| backend == "postgres")
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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
            (3, "stored_versions".to_string()),
            (4, "gateway".to_string()),
            (5, "eval_runs".to_string()),
            (6, "console".to_string()),
            (7, "console_sessions".to_string()),
            (8, "bytewise_text".to_string()),
            (9, "console_login_attempts".to_string())
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
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
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

// The gateway's tables: API keys, team limits, route grants, usage.

use modelgate_inventory::{
    DataClass, IssuedKey, KeyStatus, Limits, NewKey, ROTATED_REASON, Timestamp, UsageGroup,
    UsageQuery, UsageRecord, UsageRow, hash_secret, parse_presented,
};

fn limits(rpm: u32, budget: u64) -> Limits {
    Limits {
        rpm: Some(rpm),
        budget_micro_usd: Some(budget),
        ..Limits::default()
    }
}

fn new_key(team: &str) -> NewKey {
    NewKey {
        name: Some("wiki-bot".into()),
        expires_on: Some(Date::today().add_days(30)),
        limits: limits(60, 5_000_000),
        data_class: DataClass::Confidential,
        ..NewKey::new(team)
    }
}

fn create(store: &mut Store, team: &str) -> IssuedKey {
    store.create_key(&new_key(team), "alice").unwrap()
}

fn actions(store: &Store) -> Vec<String> {
    store
        .events()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn assert_verified(store: &Store) {
    let report = store.verify_audit().unwrap();
    assert!(report.ok, "{report:#?}");
}

#[test]
fn keys_are_created_listed_shown_revoked_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let issued = create(&mut store, "search");
    let record = &issued.record;
    assert_eq!(record.id.len(), 12);
    assert_eq!(record.team, "search");
    assert_eq!(record.name.as_deref(), Some("wiki-bot"));
    assert_eq!(record.created_by, "alice");
    assert_eq!(record.limits, limits(60, 5_000_000));
    assert_eq!(record.data_class, DataClass::Confidential);
    assert_eq!(record.expires_on, Some(Date::today().add_days(30)));
    assert!(record.revoked.is_none() && record.rotated_from.is_none());
    assert_eq!(&store.key(&record.id).unwrap(), record);
    let other = store.create_key(&NewKey::new("support"), "bob").unwrap();
    assert_eq!(other.record.data_class, DataClass::Internal);
    assert!(other.record.limits.is_unlimited());
    assert_eq!(store.keys(None, false).unwrap().len(), 2);
    let search_keys = store.keys(Some("search"), false).unwrap();
    assert_eq!(search_keys, std::slice::from_ref(record));
    assert!(store.keys(Some("nobody"), true).unwrap().is_empty());

    let revoked = store
        .revoke_key(&other.record.id, "erin", "leaked in a ticket")
        .unwrap();
    let revocation = revoked.revoked.clone().unwrap();
    assert_eq!(
        (revocation.by.as_str(), revocation.reason.as_str()),
        ("erin", "leaked in a ticket")
    );
    assert_eq!(revoked.status(Date::today()), KeyStatus::Revoked);
    assert_eq!(store.keys(Some("support"), false).unwrap(), []);
    assert_eq!(store.keys(Some("support"), true).unwrap(), [revoked]);
    let again = store.revoke_key(&other.record.id, "erin", "twice");
    assert!(matches!(again, Err(Error::KeyRevoked { .. })), "{again:?}");

    let rotated = store.rotate_key(&record.id, "carol").unwrap();
    let new = &rotated.secret;
    assert_ne!(rotated.record.id, record.id);
    assert_eq!(
        rotated.record.rotated_from.as_deref(),
        Some(record.id.as_str())
    );
    assert_eq!(
        (
            &rotated.record.team,
            &rotated.record.name,
            rotated.record.limits,
            rotated.record.data_class,
            rotated.record.expires_on
        ),
        (
            &record.team,
            &record.name,
            record.limits,
            record.data_class,
            record.expires_on
        )
    );
    assert_eq!(rotated.record.created_by, "carol");
    assert_ne!(new.expose(), issued.secret.expose());
    let old = store.key(&record.id).unwrap();
    assert_eq!(old.revoked.unwrap().reason, ROTATED_REASON);
    let listed: Vec<String> = store
        .keys(Some("search"), false)
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&rotated.record.id));
    let again = store.rotate_key(&record.id, "carol");
    assert!(matches!(again, Err(Error::KeyRevoked { .. })), "{again:?}");

    let error = store.key("nosuchkey234").unwrap_err();
    assert!(matches!(error, Error::UnknownKey { .. }));
    assert_eq!(
        error.to_string(),
        "no API key nosuchkey234 in the inventory; `modelgate keys list` shows the keys"
    );
    assert_eq!(
        actions(&store),
        ["key.created", "key.created", "key.revoked", "key.rotated"]
    );
    let events = store.events().unwrap();
    assert_eq!(events[0].subject, format!("key:{}", record.id));
    assert_eq!(events[0].details["team"], "search");
    assert_eq!(events[0].details["data_class"], "confidential");
    assert_eq!(events[0].details["limits"]["rpm"], 60);
    assert_eq!(events[3].details["rotated_from"], json!(record.id));
    assert_verified(&store);
}

#[test]
fn a_presented_key_matches_only_its_own_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let issued = create(&mut store, "search");
    let presented = issued.secret.expose();
    assert!(presented.starts_with("mg-"));
    let (id, secret) = parse_presented(presented).unwrap();
    assert_eq!(id, issued.record.id);
    let stored = store.key(id).unwrap();
    assert_eq!(hash_secret(secret), stored.secret_hash);
    // One character off, or another key's secret, does not match.
    let last = secret.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &secret[..secret.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_ne!(hash_secret(&flipped), stored.secret_hash);
    let other = create(&mut store, "search");
    let (_, other_secret) = parse_presented(other.secret.expose()).unwrap();
    assert_ne!(hash_secret(other_secret), stored.secret_hash);
    // Neither Debug nor JSON shows the secret or its hash.
    let shown = format!(
        "{issued:?} {stored:?} {}",
        serde_json::to_string(&stored).unwrap()
    );
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains("secret_hash"), "{shown}");
    assert!(parse_presented(&presented.replace("mg-", "sk-")).is_none());
}

#[test]
fn revoked_and_expired_keys_are_not_usable() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let today = Date::today();
    let key = NewKey {
        expires_on: Some(today.add_days(1)),
        ..NewKey::new("search")
    };
    let issued = store.create_key(&key, "alice").unwrap();
    let record = store.key(&issued.record.id).unwrap();
    assert!(record.is_usable(today));
    assert!(!record.is_usable(today.add_days(1)));
    assert_eq!(record.status(today.add_days(1)), KeyStatus::Expired);
    for expires_on in [today, today.add_days(-1)] {
        let past = NewKey {
            expires_on: Some(expires_on),
            ..NewKey::new("search")
        };
        let error = store.create_key(&past, "alice").unwrap_err();
        assert!(matches!(error, Error::ExpiryNotFuture { .. }), "{error:?}");
    }
    let revoked = store.revoke_key(&record.id, "erin", "offboarded").unwrap();
    assert!(!revoked.is_usable(today));
    assert!(matches!(
        store.set_key_limits(&record.id, limits(1, 1), "erin"),
        Err(Error::KeyRevoked { .. })
    ));

    // A key past its expiry cannot be rotated into a fresh one.
    let expiring = store.create_key(&key, "alice").unwrap();
    let yesterday = today.add_days(-1).to_string();
    raw(dir.path())
        .execute(
            "UPDATE api_keys SET expires_on = ?1 WHERE id = ?2",
            [&yesterday, &expiring.record.id],
        )
        .unwrap();
    let error = store.rotate_key(&expiring.record.id, "carol").unwrap_err();
    assert!(matches!(error, Error::KeyExpired { .. }), "{error:?}");
    assert!(!store.key(&expiring.record.id).unwrap().is_usable(today));
    // ... and audit verify names the edited expiry.
    let report = store.verify_audit().unwrap();
    assert_eq!(report.n_problems, 1, "{report:#?}");
    assert!(
        report.problems[0].message.contains(&format!(
            "API key {}'s expiry is {yesterday} in the inventory",
            expiring.record.id
        )),
        "{report:#?}"
    );
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The bytes of the database and its WAL, as they are on disk now.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = dir.join(format!("{}{suffix}", modelgate_inventory::DATABASE_FILE));
        if let Ok(content) = std::fs::read(path) {
            bytes.extend(content);
        }
    }
    bytes
}

#[test]
fn the_secret_never_reaches_the_database_file() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let first = create(&mut store, "search");
    let rotated = store.rotate_key(&first.record.id, "carol").unwrap();
    store
        .set_key_limits(&rotated.record.id, limits(10, 10), "carol")
        .unwrap();
    let mut secrets = Vec::new();
    for issued in [&first, &rotated] {
        let presented = issued.secret.expose().to_string();
        let (_, secret) = parse_presented(&presented).unwrap();
        secrets.push((
            presented.clone(),
            secret.to_string(),
            issued.record.id.clone(),
        ));
    }
    let hash_hex = |secret: &str| {
        hash_secret(secret)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let check = |bytes: &[u8]| {
        for (presented, secret, id) in &secrets {
            assert!(!contains(bytes, presented.as_bytes()));
            assert!(!contains(bytes, secret.as_bytes()));
            // The search finds what is there: the id and the hash.
            assert!(contains(bytes, id.as_bytes()));
            assert!(contains(bytes, hash_hex(secret).as_bytes()));
        }
    };
    check(&database_bytes(dir.path()));
    drop(store);
    check(&database_bytes(dir.path()));
    // Nor the audit trail: it does not even hold the hash.
    let store = open(dir.path());
    let trail = serde_json::to_string(&store.events().unwrap()).unwrap();
    for (_, secret, _) in &secrets {
        assert!(!trail.contains(secret.as_str()));
        assert!(!trail.contains(&hash_hex(secret)));
    }
}

#[test]
fn key_and_team_limits_and_route_grants_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.team_limits("search").unwrap(), None);
    store
        .set_team_limits("search", limits(600, 100_000_000), "ops")
        .unwrap();
    let full = Limits {
        rpm: Some(1),
        tpm: Some(2),
        max_parallel: Some(3),
        budget_micro_usd: Some(i64::MAX as u64),
    };
    store.set_team_limits("support", full, "ops").unwrap();
    store
        .set_team_limits("search", limits(300, 100_000_000), "ops")
        .unwrap();
    assert_eq!(
        store.team_limits("search").unwrap(),
        Some(limits(300, 100_000_000))
    );
    assert_eq!(
        store.all_team_limits().unwrap(),
        [
            ("search".to_string(), limits(300, 100_000_000)),
            ("support".to_string(), full)
        ]
    );
    let event = store.events().unwrap().pop().unwrap();
    assert_eq!(event.action, "team.limits");
    assert_eq!(event.subject, "team:search");
    assert_eq!(event.details["limits"]["rpm"], 300);
    assert_eq!(event.details["previous"]["rpm"], 600);

    let key = create(&mut store, "search");
    let changed = store
        .set_key_limits(&key.record.id, Limits::default(), "ops")
        .unwrap();
    assert!(changed.limits.is_unlimited());
    assert!(store.key(&key.record.id).unwrap().limits.is_unlimited());

    assert!(store.grant_route("search", "chat", "ops").unwrap());
    assert!(store.grant_route("search", "smollm2@1.0", "ops").unwrap());
    assert!(store.grant_route("support", "chat", "ops").unwrap());
    let n_before = n_events(&store);
    assert!(!store.grant_route("search", "chat", "ops").unwrap());
    assert_eq!(n_events(&store), n_before);
    let pair = |team: &str, route: &str| (team.to_string(), route.to_string());
    assert_eq!(
        store.route_grants().unwrap(),
        [
            pair("search", "chat"),
            pair("search", "smollm2@1.0"),
            pair("support", "chat")
        ]
    );
    store.revoke_route("search", "chat", "ops").unwrap();
    let error = store.revoke_route("search", "chat", "ops").unwrap_err();
    assert_eq!(
        error.to_string(),
        "team search has no grant for route chat (its routes: smollm2@1.0)"
    );
    assert_eq!(
        store.route_grants().unwrap(),
        [pair("search", "smollm2@1.0"), pair("support", "chat")]
    );
    assert_eq!(
        actions(&store),
        [
            "team.limits",
            "team.limits",
            "team.limits",
            "key.created",
            "key.limits",
            "team.route_granted",
            "team.route_granted",
            "team.route_granted",
            "team.route_revoked"
        ]
    );
    assert_verified(&store);
}

#[test]
fn assigned_versions_pair_teams_with_servable_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for name in ["a@1", "b@1"] {
        add(&mut store, name);
        store.approve(&reference(name), &approval("bob")).unwrap();
    }
    store
        .assign("search", &reference("a@1"), "ranking", "carol")
        .unwrap();
    store
        .assign("support", &reference("b@1"), "triage", "carol")
        .unwrap();
    store
        .assign("search", &reference("b@1"), "rewrite", "carol")
        .unwrap();
    store
        .revoke(&reference("b@1"), "erin", "withdrawn")
        .unwrap();
    assert_eq!(
        store.assigned_versions().unwrap(),
        [("search".to_string(), reference("a@1"))]
    );
    assert_eq!(store.assignments().unwrap().len(), 3);
}

#[test]
fn the_access_generation_moves_with_every_audited_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut seen = vec![store.access_generation().unwrap()];
    let mut moved = |store: &Store, what: &str| {
        let generation = store.access_generation().unwrap();
        assert!(
            !seen.contains(&generation),
            "{what} left the generation at {generation}"
        );
        seen.push(generation);
    };
    let key = create(&mut store, "search");
    moved(&store, "create_key");
    store
        .set_key_limits(&key.record.id, limits(1, 1), "ops")
        .unwrap();
    moved(&store, "set_key_limits");
    let rotated = store.rotate_key(&key.record.id, "ops").unwrap();
    moved(&store, "rotate_key");
    store
        .revoke_key(&rotated.record.id, "ops", "offboarding")
        .unwrap();
    moved(&store, "revoke_key");
    store
        .set_team_limits("search", limits(5, 5), "ops")
        .unwrap();
    moved(&store, "set_team_limits");
    store.grant_route("search", "chat", "ops").unwrap();
    moved(&store, "grant_route");
    store.revoke_route("search", "chat", "ops").unwrap();
    moved(&store, "revoke_route");
    add(&mut store, "m@1");
    store.approve(&reference("m@1"), &approval("bob")).unwrap();
    let before = store.access_generation().unwrap();
    store
        .assign("search", &reference("m@1"), "ranking", "carol")
        .unwrap();
    assert_ne!(store.access_generation().unwrap(), before, "assign");
    // Usage and refused changes leave it alone; another connection sees it.
    let before = store.access_generation().unwrap();
    store.insert_usage(&[usage_record(0)]).unwrap();
    assert!(store.grant_route("bad@team@x", "chat", "ops").is_err());
    assert_eq!(store.access_generation().unwrap(), before);
    assert_eq!(open(dir.path()).access_generation().unwrap(), before);
}

#[test]
fn invalid_names_and_numbers_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let bad_name = |result: Result<_, Error>, field: &str| match result {
        Err(Error::BadName { kind, .. }) => assert_eq!(kind, field),
        Err(Error::Missing { field: missing }) => assert_eq!(missing, field),
        other => panic!("expected {field} to be refused, got {other:?}"),
    };
    bad_name(
        store.create_key(&new_key("a@b"), "alice").map(|_| ()),
        "team",
    );
    bad_name(
        store.create_key(&new_key(" search"), "alice").map(|_| ()),
        "team",
    );
    let unnamed = NewKey {
        name: Some("bad\nname".into()),
        ..NewKey::new("search")
    };
    bad_name(store.create_key(&unnamed, "alice").map(|_| ()), "key name");
    bad_name(
        store.create_key(&new_key("search"), " ").map(|_| ()),
        "actor",
    );
    bad_name(store.set_team_limits("", Limits::default(), "ops"), "team");
    bad_name(store.grant_route("search", "", "ops").map(|_| ()), "route");
    bad_name(
        store.grant_route("search", "a@b@c", "ops").map(|_| ()),
        "route",
    );
    let too_big = NewKey {
        limits: Limits {
            budget_micro_usd: Some(u64::MAX),
            ..Limits::default()
        },
        ..NewKey::new("search")
    };
    let error = store.create_key(&too_big, "alice").unwrap_err();
    assert!(
        matches!(
            error,
            Error::BadNumber {
                field: "budget_micro_usd",
                ..
            }
        ),
        "{error:?}"
    );
    let key = create(&mut store, "search");
    bad_name(
        store.revoke_key(&key.record.id, "erin", "  ").map(|_| ()),
        "reason",
    );
    assert!(matches!(
        store.revoke_key("nosuchkey234", "erin", "why"),
        Err(Error::UnknownKey { .. })
    ));
    assert_eq!(actions(&store), ["key.created"]);
    assert_verified(&store);
}

#[test]
fn tampering_with_keys_limits_or_grants_is_found() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let key = create(&mut store, "search");
    let revoked = create(&mut store, "search");
    store
        .revoke_key(&revoked.record.id, "erin", "leaked")
        .unwrap();
    store
        .set_team_limits("search", limits(60, 1_000), "ops")
        .unwrap();
    store.grant_route("search", "chat", "ops").unwrap();
    store.grant_route("search", "embed", "ops").unwrap();
    assert_verified(&store);
    raw(dir.path())
        .execute_batch(&format!(
            "INSERT INTO api_keys (id, team, secret_hash, created_at, created_by,
                data_class, event_seq)
             SELECT 'forgedkey234', team, secret_hash, created_at, 'mallory', 'restricted',
                event_seq FROM api_keys WHERE id = '{id}';
             UPDATE api_keys SET rpm = NULL, data_class = 'restricted' WHERE id = '{id}';
             UPDATE api_keys SET revoked_at = NULL WHERE id = '{revoked}';
             UPDATE team_limits SET budget_micro_usd = 999999999;
             DELETE FROM route_grants WHERE route = 'embed';
             INSERT INTO route_grants (team, route, granted_at, granted_by, event_seq)
             SELECT team, 'gpt-4o', granted_at, 'mallory', event_seq FROM route_grants;",
            id = key.record.id,
            revoked = revoked.record.id,
        ))
        .unwrap();
    let report = store.verify_audit().unwrap();
    let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(report.first_bad, None);
    for expected in [
        "API key forgedkey234 is in the inventory but the audit trail never created it".to_string(),
        format!(
            "API key {}'s data class is restricted in the inventory, but confidential",
            key.record.id
        ),
        format!(
            "API key {}'s limits are rpm none, tpm none, max_parallel none, budget_micro_usd 5000000 in the inventory, but rpm 60,",
            key.record.id
        ),
        format!(
            "API key {} was revoked (audit trail, event 3) but is not revoked in the inventory",
            revoked.record.id
        ),
        "team search's limits are rpm 60, tpm none, max_parallel none, budget_micro_usd 999999999 in the inventory".to_string(),
        "team search may call route gpt-4o in the inventory, but the audit trail never granted it".to_string(),
        "team search's grant of route embed (event 6) is missing from the inventory".to_string(),
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(&expected)),
            "{expected:?} not in {messages:#?}"
        );
    }
    assert_eq!(messages.len(), 7, "{messages:#?}");
}

/// Request `idx`, on 2026-11-(20 + idx % 3) at 10:00, by key-a or key-b of
/// team search or support.
fn usage_record(idx: u64) -> UsageRecord {
    let day = 1_795_168_800 + (idx % 3) * 86_400; // 2026-11-20T10:00:00Z
    UsageRecord {
        at: Timestamp::from_unix_seconds(day + idx),
        request_id: format!("req-{idx}"),
        key_id: Some(
            if idx.is_multiple_of(2) {
                "key-a"
            } else {
                "key-b"
            }
            .to_string(),
        ),
        team: if idx.is_multiple_of(2) {
            "search"
        } else {
            "support"
        }
        .to_string(),
        route: "chat".into(),
        target: if idx % 4 < 2 {
            "smollm2@1.0"
        } else {
            "openai/gpt-4o"
        }
        .to_string(),
        version: (idx % 4 < 2).then(|| "smollm2@1.0".to_string()),
        data_class: DataClass::Internal,
        tokens_in: idx,
        tokens_out: 2 * idx,
        cost_micro_usd: 100 + idx,
        latency_ms: 10 * idx,
        ttft_ms: Some(idx),
        status: if idx % 5 == 4 { 429 } else { 200 },
        error: None,
        prompt: None,
        answer: None,
    }
}

/// The sums of the records `idxs` make, as a report row of `group`.
fn expected_row(group: &str, idxs: &[u64]) -> (String, u64, u64, u64, u64, u64) {
    (
        group.to_string(),
        idxs.len() as u64,
        idxs.iter().filter(|idx| *idx % 5 == 4).count() as u64,
        idxs.iter().sum(),
        idxs.iter().map(|idx| 2 * idx).sum(),
        idxs.iter().map(|idx| 100 + idx).sum(),
    )
}

fn sums(rows: &[UsageRow]) -> Vec<(String, u64, u64, u64, u64, u64)> {
    rows.iter()
        .map(|r| {
            (
                r.group.clone(),
                r.requests,
                r.errors,
                r.tokens_in,
                r.tokens_out,
                r.cost_micro_usd,
            )
        })
        .collect()
}

#[test]
fn usage_is_reported_by_day_team_model_and_key_with_exact_sums() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let records: Vec<UsageRecord> = (0..12).map(usage_record).collect();
    assert_eq!(store.insert_usage(&records[..7]).unwrap(), 7);
    assert_eq!(store.insert_usage(&records[7..]).unwrap(), 5);
    assert_eq!(store.insert_usage(&[]).unwrap(), 0);
    let all: Vec<u64> = (0..12).collect();
    let which = |keep: &dyn Fn(u64) -> bool| -> Vec<u64> {
        all.iter().copied().filter(|idx| keep(*idx)).collect()
    };
    let report = |by: UsageGroup| {
        store
            .usage_report(&UsageQuery {
                by,
                ..UsageQuery::default()
            })
            .unwrap()
    };
    assert_eq!(
        sums(&report(UsageGroup::Day)),
        [
            expected_row("2026-11-20", &which(&|i| i % 3 == 0)),
            expected_row("2026-11-21", &which(&|i| i % 3 == 1)),
            expected_row("2026-11-22", &which(&|i| i % 3 == 2)),
        ]
    );
    assert_eq!(
        sums(&report(UsageGroup::Team)),
        [
            expected_row("search", &which(&|i| i % 2 == 0)),
            expected_row("support", &which(&|i| i % 2 == 1)),
        ]
    );
    assert_eq!(
        sums(&report(UsageGroup::Model)),
        [
            expected_row("openai/gpt-4o", &which(&|i| i % 4 >= 2)),
            expected_row("smollm2@1.0", &which(&|i| i % 4 < 2)),
        ]
    );
    assert_eq!(
        sums(&report(UsageGroup::Key)),
        [
            expected_row("key-a", &which(&|i| i % 2 == 0)),
            expected_row("key-b", &which(&|i| i % 2 == 1)),
        ]
    );
    assert_eq!(
        sums(&report(UsageGroup::Route)),
        [expected_row("chat", &all)]
    );
    // Latency percentiles, nearest rank: key-a's latencies are 0, 20, ..., 100.
    let by_key = report(UsageGroup::Key);
    assert_eq!(by_key[0].latency_p50_ms, Some(40));
    assert_eq!(by_key[0].latency_p95_ms, Some(100));
    assert_eq!(by_key[0].ttft_p50_ms, Some(4));
    // Filters: a team, and days (inclusive at both ends).
    let filtered = store
        .usage_report(&UsageQuery {
            team: Some("search".into()),
            since: Some("2026-11-21".parse().unwrap()),
            until: Some("2026-11-22".parse().unwrap()),
            by: UsageGroup::Day,
            ..UsageQuery::default()
        })
        .unwrap();
    assert_eq!(
        sums(&filtered),
        [
            expected_row("2026-11-21", &which(&|i| i % 2 == 0 && i % 3 == 1)),
            expected_row("2026-11-22", &which(&|i| i % 2 == 0 && i % 3 == 2)),
        ]
    );
    let one_key = store
        .usage_report(&UsageQuery {
            key_id: Some("key-b".into()),
            by: UsageGroup::Team,
            ..UsageQuery::default()
        })
        .unwrap();
    assert_eq!(
        sums(&one_key),
        [expected_row("support", &which(&|i| i % 2 == 1))]
    );
    // Usage is not audited.
    assert_eq!(n_events(&store), 0);
}

#[test]
fn a_bad_usage_record_refuses_its_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut records: Vec<UsageRecord> = (0..3).map(usage_record).collect();
    records[1].at = Timestamp::parse("2026-11-20T11:00:00+01:00").unwrap();
    let error = store.insert_usage(&records).unwrap_err();
    match &error {
        Error::BadUsage { index, source, .. } => {
            assert_eq!(*index, 1);
            assert!(matches!(**source, Error::BadTimestamp { field: "at", .. }));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "at \"2026-11-20T11:00:00+01:00\" is not a UTC time to the second; write it as 2026-11-22T20:28:40Z"
    );
    records[1] = usage_record(1);
    records[2].tokens_out = u64::MAX;
    assert!(matches!(
        store.insert_usage(&records),
        Err(Error::BadUsage { index: 2, .. })
    ));
    records[2].tokens_out = 1;
    records[0].key_id = Some("a\u{0}b".into());
    assert!(matches!(
        store.insert_usage(&records),
        Err(Error::BadUsage { index: 0, .. })
    ));
    assert!(
        store
            .usage_report(&UsageQuery::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn spending_is_summed_per_key_from_a_time_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut records: Vec<UsageRecord> = (0..12).map(usage_record).collect();
    records[0].key_id = None;
    store.insert_usage(&records).unwrap();
    let since = Timestamp::parse("2026-11-21T10:00:04Z").unwrap();
    // From 2026-11-21 10:00:04: days 21 (idx 4, 7, 10) and 22 (all).
    let counted = |key_even: bool| -> u64 {
        (0..12u64)
            .filter(|i| i % 2 == u64::from(!key_even))
            .filter(|i| i % 3 == 2 || (i % 3 == 1 && *i >= 4))
            .map(|i| 100 + i)
            .sum()
    };
    assert_eq!(
        store.spent_micro_usd(&since).unwrap(),
        [
            ("key-a".to_string(), "search".to_string(), counted(true)),
            ("key-b".to_string(), "support".to_string(), counted(false)),
        ]
    );
    let everything = store
        .spent_micro_usd(&Timestamp::from_unix_seconds(0))
        .unwrap();
    let total: u64 = everything.iter().map(|(_, _, spent)| spent).sum();
    assert_eq!(total, (1..12).map(|i| 100 + i).sum::<u64>());
    let local = Timestamp::parse("2026-11-21T11:00:00+01:00").unwrap();
    assert!(matches!(
        store.spent_micro_usd(&local),
        Err(Error::BadTimestamp { field: "since", .. })
    ));
}

#[test]
fn retention_deletes_exactly_the_old_days_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let records: Vec<UsageRecord> = (0..30).map(usage_record).collect();
    store.insert_usage(&records).unwrap();
    let cutoff: Date = "2026-11-22".parse().unwrap();
    assert!(matches!(
        store.delete_usage_before(cutoff, 0),
        Err(Error::BadNumber { field: "batch", .. })
    ));
    // 20 rows on the 20th and 21st, deleted 3 at a time.
    assert_eq!(store.delete_usage_before(cutoff, 3).unwrap(), 20);
    let days = store.usage_report(&UsageQuery::default()).unwrap();
    assert_eq!(
        sums(&days),
        [expected_row(
            "2026-11-22",
            &(0..30).filter(|i| i % 3 == 2).collect::<Vec<_>>()
        )]
    );
    assert_eq!(store.delete_usage_before(cutoff, 3).unwrap(), 0);
    // A batch that divides the count exactly ends too.
    assert_eq!(
        store.delete_usage_before(cutoff.add_days(1), 5).unwrap(),
        10
    );
    assert!(
        store
            .usage_report(&UsageQuery::default())
            .unwrap()
            .is_empty()
    );
    // New rows continue the ids.
    store.insert_usage(&records[..2]).unwrap();
    assert_eq!(store.usage_report(&UsageQuery::default()).unwrap().len(), 2);
}

// Evaluation runs, and promotion to production under `[evaluation]`.

use modelgate_inventory::{EvalKind, EvalRunFilter, MAX_EVAL_REPORT_BYTES, NewEvalRun, Promotion};
use modelgate_policy::Policy;

/// A run of `suite` started `minute` minutes after 2026-11-22T20:00:00Z.
fn eval_run(suite: &str, minute: u64, threshold_met: Option<bool>) -> NewEvalRun {
    NewEvalRun {
        suite_name: suite.into(),
        suite_digest: format!("{:064x}", suite.len()),
        kind: if suite == "hellaswag" {
            EvalKind::MultipleChoice
        } else {
            EvalKind::Generation
        },
        target: "engine".into(),
        settings: json!({"n_ctx": 2048, "n_gpu_layers": 99}),
        seed: Some(42),
        started: Timestamp::from_unix_seconds(1_795_377_600 + minute * 60),
        threshold_met,
        summary: json!({"cases": 20, "passed": 17, "pass_rate": 0.85,
                        "wilson95": [0.64, 0.95], "acc_norm": null}),
        report: json!({"suite": {"name": suite}, "cases": [{"id": "refund-1", "passed": true}]}),
    }
}

fn record(store: &mut Store, version: &str, run: &NewEvalRun) -> i64 {
    store
        .record_eval_run(&reference(version), run, "erin")
        .unwrap()
        .id
}

fn eval_policy(suites: &str) -> Policy {
    Policy::from_toml(&format!(
        "[evaluation]\nrequired_for_production = [{suites}]\n"
    ))
    .unwrap()
}

fn promotion(policy: &Policy, override_evaluation: bool, note: Option<&str>) -> Promotion {
    Promotion {
        by: "carol".into(),
        note: note.map(str::to_string),
        evaluation: policy.evaluation.clone(),
        override_evaluation,
    }
}

fn approved(store: &mut Store, text: &str) -> VersionRef {
    add(store, text);
    store.approve(&reference(text), &approval("bob")).unwrap();
    reference(text)
}

#[test]
fn evaluation_runs_are_recorded_listed_shown_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    add(&mut store, "m@1");
    add(&mut store, "m@2");
    add(&mut store, "n@1");
    let first = store
        .record_eval_run(
            &reference("m@1"),
            &eval_run("support-bot", 0, Some(true)),
            " erin ",
        )
        .unwrap();
    assert_eq!(first.id, 1);
    assert_eq!(first.recorded_by, "erin");
    assert_eq!(first.kind, EvalKind::Generation);
    assert_eq!(first.started, "2026-11-22T20:00:00Z");
    let mut no_threshold = eval_run("hellaswag", 5, None);
    no_threshold.seed = None;
    let second = record(&mut store, "m@1", &no_threshold);
    let third = record(&mut store, "m@2", &eval_run("support-bot", 2, Some(false)));
    let fourth = record(&mut store, "n@1", &eval_run("support-bot", 1, Some(true)));
    assert_eq!((second, third, fourth), (2, 3, 4));

    let ids = |filter: EvalRunFilter| -> Vec<i64> {
        store
            .eval_runs(filter)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    // Newest start first.
    assert_eq!(ids(EvalRunFilter::default()), [2, 3, 4, 1]);
    assert_eq!(
        ids(EvalRunFilter {
            version: Some(reference("m@1")),
            ..EvalRunFilter::default()
        }),
        [2, 1]
    );
    assert_eq!(
        ids(EvalRunFilter {
            model: Some("m".into()),
            ..EvalRunFilter::default()
        }),
        [2, 3, 1]
    );
    assert_eq!(
        ids(EvalRunFilter {
            model: Some("m".into()),
            suite: Some("support-bot".into()),
            ..EvalRunFilter::default()
        }),
        [3, 1]
    );
    assert!(
        ids(EvalRunFilter {
            suite: Some("nothing".into()),
            ..EvalRunFilter::default()
        })
        .is_empty()
    );
    let listed = store.eval_runs(EvalRunFilter::default()).unwrap();
    assert_eq!(listed[3], first);
    assert_eq!(listed[0].threshold_met, None);

    // Passing runs: threshold met, this version, this suite.
    let passing = store
        .passing_runs(&reference("m@1"), "support-bot")
        .unwrap();
    assert_eq!(passing, std::slice::from_ref(&first));
    assert!(
        store
            .passing_runs(&reference("m@2"), "support-bot")
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .passing_runs(&reference("m@1"), "hellaswag")
            .unwrap()
            .is_empty()
    );

    // Shown with settings, seed and report; JSON for the CLI.
    let shown = store.eval_run(1).unwrap();
    assert_eq!(shown.summary, first);
    assert_eq!(shown.seed, Some(42));
    assert_eq!(shown.settings, json!({"n_ctx": 2048, "n_gpu_layers": 99}));
    assert_eq!(shown.report["cases"][0]["id"], "refund-1");
    let as_json = serde_json::to_value(&shown).unwrap();
    assert_eq!(as_json["reference"], json!({"name": "m", "version": "1"}));
    assert_eq!(as_json["kind"], "generation");
    assert_eq!(as_json["summary"]["pass_rate"], 0.85);
    assert_eq!(store.eval_run(2).unwrap().seed, None);
    let error = store.eval_run(99).unwrap_err().to_string();
    assert_eq!(
        error,
        "no evaluation run 99 in the inventory; `modelgate eval list` shows the runs"
    );

    // One audited event per run, naming the suite, outcome and numbers.
    let events = store.events().unwrap();
    let event = events.iter().find(|e| e.action == "eval.recorded").unwrap();
    assert_eq!(
        (event.actor.as_str(), event.subject.as_str()),
        ("erin", "m@1")
    );
    assert_eq!(event.seq, first.event_seq);
    let details = &event.details;
    assert_eq!(details["id"], 1);
    assert_eq!(details["suite"], "support-bot");
    assert_eq!(details["suite_digest"], first.suite_digest);
    assert_eq!(details["kind"], "generation");
    assert_eq!(details["threshold_met"], true);
    assert_eq!(
        details["summary"],
        json!({"cases": 20, "passed": 17, "pass_rate": 0.85, "wilson95": [0.64, 0.95]})
    );
    for key in ["summary_sha256", "settings_sha256", "report_sha256"] {
        assert_eq!(details[key].as_str().unwrap().len(), 64, "{key}");
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "eval.recorded")
            .count(),
        4
    );
    assert_verified(&store);

    // Kept across opening the store again.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.eval_run(1).unwrap().summary, first);
    assert_verified(&store);
}

#[test]
fn evaluation_runs_of_unknown_versions_or_oversized_reports_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    add(&mut store, "m@1");
    let before = n_events(&store);
    let error = store
        .record_eval_run(
            &reference("m@9"),
            &eval_run("support-bot", 0, Some(true)),
            "erin",
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::UnknownVersion { ref known, .. } if known == &["1"]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "no version m@9 in the inventory (its versions: 1)"
    );
    let mut huge = eval_run("support-bot", 0, Some(true));
    huge.report = json!({"output": "x".repeat(MAX_EVAL_REPORT_BYTES)});
    let error = store
        .record_eval_run(&reference("m@1"), &huge, "erin")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the evaluation run's report is more than 16 MiB of JSON"),
        "{error}"
    );
    let mut bad = eval_run("Support Bot", 0, Some(true));
    assert!(matches!(
        store.record_eval_run(&reference("m@1"), &bad, "erin"),
        Err(Error::BadName {
            kind: "suite name",
            ..
        })
    ));
    bad = eval_run("support-bot", 0, Some(true));
    bad.suite_digest = "not a digest".into();
    assert!(matches!(
        store.record_eval_run(&reference("m@1"), &bad, "erin"),
        Err(Error::BadName {
            kind: "suite digest",
            ..
        })
    ));
    assert!(matches!(
        store.record_eval_run(&reference("m@1"), &eval_run("a", 0, None), ""),
        Err(Error::Missing { field: "actor" })
    ));
    assert_eq!(n_events(&store), before, "a refused run leaves nothing");
    assert!(
        store
            .eval_runs(EvalRunFilter::default())
            .unwrap()
            .is_empty()
    );
    // Listing an unknown version or model says so rather than nothing.
    assert!(matches!(
        store.eval_runs(EvalRunFilter {
            version: Some(reference("m@9")),
            ..EvalRunFilter::default()
        }),
        Err(Error::UnknownVersion { .. })
    ));
    assert!(matches!(
        store.eval_runs(EvalRunFilter {
            model: Some("zz".into()),
            ..EvalRunFilter::default()
        }),
        Err(Error::UnknownModel { .. })
    ));
    assert!(matches!(
        store.passing_runs(&reference("m@9"), "support-bot"),
        Err(Error::UnknownVersion { .. })
    ));
}

#[test]
fn tampering_with_evaluation_runs_is_found() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    add(&mut store, "m@1");
    for (idx, suite) in ["support-bot", "hellaswag", "wiki", "code"]
        .iter()
        .enumerate()
    {
        record(&mut store, "m@1", &eval_run(suite, idx as u64, Some(false)));
    }
    assert_verified(&store);
    raw(dir.path())
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             UPDATE eval_runs SET threshold_met = 1 WHERE id = 1;
             UPDATE eval_runs SET report = '{\"cases\":[]}', target = 'http://x' WHERE id = 2;
             DELETE FROM eval_runs WHERE id = 3;
             INSERT INTO eval_runs SELECT 9, model, version, 'support-bot', suite_digest,
                suite_kind, target, settings, seed, started_at, recorded_at, 'mallory', 1,
                summary, report, event_seq FROM eval_runs WHERE id = 4;",
        )
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad, None, "the chain itself is intact");
    let messages: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
    for expected in [
        "evaluation run 1's threshold_met is 1 in the inventory, but 0 in the audit trail (event 2)",
        "evaluation run 2's target is http://x in the inventory, but engine in the audit trail (event 3)",
        "evaluation run 2's stored report is not the one recorded (event 3)",
        "evaluation run 3 of m@1 (suite wiki, event 4) is missing from the inventory",
        "evaluation run 9 (m@1, suite support-bot) is in the inventory but the audit trail never recorded it",
    ] {
        assert!(
            messages.contains(&expected),
            "{expected:?} not in {messages:#?}"
        );
    }
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.subject.as_deref() == Some("m@1"))
    );
}

#[test]
fn promotion_to_production_waits_for_a_passing_run_of_each_required_suite() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let policy = eval_policy("\"support-bot\", \"hellaswag\"");
    let m = approved(&mut store, "m@1");
    approved(&mut store, "m@2");
    let before = n_events(&store);
    let error = store
        .promote_with(&m, &promotion(&policy, false, None))
        .unwrap_err();
    assert!(
        matches!(&error, Error::MissingEvaluations { missing, .. } if missing == &["support-bot", "hellaswag"]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot promote m@1 to production: the policy requires a stored evaluation run with \
         its threshold met for support-bot, hellaswag, and there is none for support-bot, \
         hellaswag; run `modelgate eval m@1 --suite FILE` for each, or promote with --override \
         --note WHY (recorded in the audit trail)"
    );
    assert_eq!(
        n_events(&store),
        before,
        "a refused promotion changes nothing"
    );
    assert_eq!(store.version(&m).unwrap().summary.stage, Stage::Approved);

    // A failed run, a run without a threshold and another version's pass
    // do not count.
    record(&mut store, "m@1", &eval_run("support-bot", 0, Some(false)));
    record(&mut store, "m@1", &eval_run("support-bot", 1, None));
    record(&mut store, "m@2", &eval_run("support-bot", 2, Some(true)));
    let hellaswag = record(&mut store, "m@1", &eval_run("hellaswag", 3, Some(true)));
    match store.promote_with(&m, &promotion(&policy, false, None)) {
        Err(Error::MissingEvaluations { missing, .. }) => assert_eq!(missing, ["support-bot"]),
        other => panic!("{other:?}"),
    }
    // The oldest passing run counts too; the event names the newest.
    let older = record(&mut store, "m@1", &eval_run("support-bot", 4, Some(true)));
    let newer = record(&mut store, "m@1", &eval_run("support-bot", 9, Some(true)));
    assert!(newer > older);
    let change = store
        .promote_with(&m, &promotion(&policy, false, Some("rollout")))
        .unwrap();
    assert_eq!(change.to, Stage::Production);
    assert!(!change.override_verdict);
    let event = store.events().unwrap().pop().unwrap();
    assert_eq!(event.action, "version.promoted");
    assert_eq!(event.details["override"], false);
    assert_eq!(
        event.details["evaluation"],
        json!({"required": ["support-bot", "hellaswag"],
               "passing_runs": {"support-bot": newer, "hellaswag": hellaswag},
               "missing": [], "overridden": false})
    );
    assert_verified(&store);

    // The stage still comes first: a production version is not promoted
    // again, whatever its runs.
    assert!(matches!(
        store.promote_with(&m, &promotion(&policy, false, None)),
        Err(Error::IllegalTransition {
            transition: Transition::Promote,
            ..
        })
    ));
    // Without a requirement, promotion is as before (and records nothing
    // about evaluations).
    let m2 = reference("m@2");
    store.promote(&m2, "carol", None).unwrap();
    let event = store.events().unwrap().pop().unwrap();
    assert!(event.details.get("evaluation").is_none(), "{event:?}");
}

#[test]
fn missing_evaluations_are_overridden_only_with_a_note_that_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let policy = eval_policy("\"support-bot\"");
    let m = approved(&mut store, "m@1");
    assert!(matches!(
        store.promote_with(&m, &promotion(&policy, true, None)),
        Err(Error::OverrideWithoutNote)
    ));
    assert!(matches!(
        store.promote_with(&m, &promotion(&policy, true, Some("   "))),
        Err(Error::OverrideWithoutNote)
    ));
    let change = store
        .promote_with(
            &m,
            &promotion(&policy, true, Some("launch deadline, INC-7")),
        )
        .unwrap();
    assert_eq!(change.to, Stage::Production);
    assert!(change.override_verdict);
    assert_eq!(change.note.as_deref(), Some("launch deadline, INC-7"));
    let event = store.events().unwrap().pop().unwrap();
    assert_eq!(event.action, "version.promoted");
    assert_eq!(event.details["override"], true);
    assert_eq!(event.details["note"], "launch deadline, INC-7");
    assert_eq!(
        event.details["evaluation"],
        json!({"required": ["support-bot"], "passing_runs": {},
               "missing": ["support-bot"], "overridden": true})
    );
    let history = store.version(&m).unwrap().history;
    let last = history.last().unwrap();
    assert!(last.override_verdict && last.to == Stage::Production);
    assert_verified(&store);
}

// Console users and reviews.

const HASH_A: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
const HASH_B: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo";

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.into(),
        role,
        password_hash: HASH_A.into(),
    }
}

fn needs_review(store: &mut Store, text: &str, reviewers: &[Reviewer]) -> VersionRef {
    let mut new = version(text, Decision::NeedsReview);
    new.reviewers = reviewers.to_vec();
    store.add_version(&new, "alice").unwrap();
    reference(text)
}

fn sign(reviewer: Reviewer, outcome: ReviewOutcome, by: &str, note: Option<&str>) -> NewReview {
    NewReview {
        reviewer,
        outcome,
        by: by.into(),
        note: note.map(str::to_string),
    }
}

#[test]
fn users_are_added_changed_and_disabled_with_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let lena = store
        .add_user(&new_user("lena", Role::Reviewer(Reviewer::Legal)), "root")
        .unwrap();
    assert_eq!(lena.role, Role::Reviewer(Reviewer::Legal));
    assert_eq!(lena.password_hash, HASH_A);
    assert!(matches!(
        store.add_user(&new_user("lena", Role::Admin), "root"),
        Err(Error::UserExists { .. })
    ));
    let bad_hash = NewUser {
        password_hash: "plaintext".into(),
        ..new_user("vic", Role::Viewer)
    };
    assert!(matches!(
        store.add_user(&bad_hash, "root"),
        Err(Error::BadPasswordHash)
    ));
    store.set_user_role("lena", Role::Admin, "root").unwrap();
    store.set_password("lena", HASH_B, "lena").unwrap();
    let disabled = store.disable_user("lena", "root").unwrap();
    assert!(disabled.disabled_at.is_some());
    assert_eq!(store.user("lena").unwrap().unwrap().role, Role::Admin);
    assert!(store.user("nobody").unwrap().is_none());
    assert!(matches!(
        store.set_user_role("nobody", Role::Viewer, "root"),
        Err(Error::UnknownUser { .. })
    ));
    assert_eq!(
        actions(&store),
        ["user.added", "user.role", "user.password", "user.disabled"]
    );
    // The hash itself is never in the trail, only its SHA-256.
    for event in store.events().unwrap() {
        assert!(!event.details.to_string().contains("argon2id"), "{event:?}");
    }
    assert_verified(&store);
}

#[test]
fn a_swapped_password_hash_or_role_is_found_by_audit_verify() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store
        .add_user(&new_user("vic", Role::Viewer), "root")
        .unwrap();
    assert_verified(&store);
    let conn = raw(dir.path());
    conn.execute("UPDATE users SET role = 'admin' WHERE name = 'vic'", [])
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(!report.ok);
    assert!(
        report.problems[0].message.contains("the role was edited"),
        "{report:?}"
    );
    conn.execute(
        "UPDATE users SET role = 'viewer', password_hash = ?1 WHERE name = 'vic'",
        [HASH_B],
    )
    .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(
        report.problems[0].message.contains("password hash"),
        "{report:?}"
    );
    conn.execute(
        "INSERT INTO users (name, role, password_hash, created_at, created_by, event_seq)
         VALUES ('mallory', 'admin', ?1, '2026-01-01T00:00:00Z', 'root', 1)",
        [HASH_A],
    )
    .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(
        report.problems.iter().any(|p| p
            .message
            .contains("user mallory is in the inventory, but the audit trail never added them")),
        "{report:?}"
    );
}

#[test]
fn stored_sign_offs_count_toward_approval_and_rejections_block_it() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let m = needs_review(&mut store, "m@1", &[Reviewer::Legal, Reviewer::Security]);
    assert_eq!(store.review_queue(Some(Reviewer::Legal)).unwrap().len(), 1);
    assert_eq!(
        store
            .review_queue(Some(Reviewer::Governance))
            .unwrap()
            .len(),
        0
    );
    // Only the reviews the verdict asks for.
    let error = store
        .review(
            &m,
            &sign(Reviewer::Governance, ReviewOutcome::SignedOff, "gus", None),
        )
        .unwrap_err();
    assert!(matches!(error, Error::ReviewNotAsked { .. }), "{error:?}");
    // A rejection says why.
    assert!(matches!(
        store.review(
            &m,
            &sign(Reviewer::Security, ReviewOutcome::Rejected, "sam", None)
        ),
        Err(Error::RejectionWithoutNote)
    ));
    store
        .review(
            &m,
            &sign(
                Reviewer::Legal,
                ReviewOutcome::SignedOff,
                "lena",
                Some("terms fine"),
            ),
        )
        .unwrap();
    assert_eq!(store.review_queue(Some(Reviewer::Legal)).unwrap().len(), 0);
    assert_eq!(
        store.review_queue(Some(Reviewer::Security)).unwrap().len(),
        1
    );
    assert!(matches!(
        store.approve(&m, &approval("bob")),
        Err(Error::MissingSignOff { .. })
    ));
    store
        .review(
            &m,
            &sign(
                Reviewer::Security,
                ReviewOutcome::Rejected,
                "sam",
                Some("pickle in repo"),
            ),
        )
        .unwrap();
    let error = store.approve(&m, &approval("bob")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot approve m@1: the security review was rejected by sam (pickle in repo); approve with an override and a note to go against it"
    );
    // The reviewer changes their mind: the later review replaces the first.
    store
        .review(
            &m,
            &sign(Reviewer::Security, ReviewOutcome::SignedOff, "sam", None),
        )
        .unwrap();
    assert_eq!(store.reviews(&m).unwrap().len(), 2);
    let change = store.approve(&m, &approval("bob")).unwrap();
    assert_eq!(
        change.sign_offs,
        vec![
            SignOff {
                reviewer: Reviewer::Legal,
                by: "lena".into()
            },
            SignOff {
                reviewer: Reviewer::Security,
                by: "sam".into()
            },
        ]
    );
    assert_eq!(
        actions(&store),
        [
            "version.added",
            "review.signed_off",
            "review.rejected",
            "review.signed_off",
            "version.approved"
        ]
    );
    assert_verified(&store);
    // An edited review is found.
    raw(dir.path())
        .execute(
            "UPDATE reviews SET reviewed_by = 'mallory' WHERE reviewer = 'legal'",
            [],
        )
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(
        report.problems[0]
            .message
            .contains("legal review is not the one"),
        "{report:?}"
    );
}

#[test]
fn revoked_versions_take_no_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let m = needs_review(&mut store, "m@1", &[Reviewer::Legal]);
    store.revoke(&m, "bob", "withdrawn upstream").unwrap();
    assert!(matches!(
        store.review(
            &m,
            &sign(Reviewer::Legal, ReviewOutcome::SignedOff, "lena", None)
        ),
        Err(Error::NotReviewable { .. })
    ));
}

#[test]
fn the_trail_pages_newest_first_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    for i in 0..30 {
        add(&mut store, &format!("m@{i}"));
    }
    store.approve(&reference("m@3"), &approval("bob")).unwrap();
    let (page, total) = store
        .events_page(&EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(total, 31);
    assert_eq!(page.len(), 10);
    assert_eq!(page[0].seq, 31);
    assert_eq!(page[9].seq, 22);
    let (next, _) = store
        .events_page(&EventQuery {
            limit: 10,
            before_seq: Some(22),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(next[0].seq, 21);
    let (approved, total) = store
        .events_page(&EventQuery {
            action_prefix: Some("version.app".into()),
            limit: 50,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!((approved.len(), total), (1, 1));
    assert_eq!(approved[0].subject, "m@3");
    let (by_subject, _) = store
        .events_page(&EventQuery {
            subject: Some("m@3".into()),
            limit: 50,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(by_subject.len(), 2);
    // Wildcards in the filter are text, not patterns.
    let (none, total) = store
        .events_page(&EventQuery {
            action_prefix: Some("%".into()),
            limit: 50,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!((none.len(), total), (0, 0));
}

#[test]
fn console_sessions_are_shared_expire_and_keep_only_the_hash_of_their_id() {
    if on_postgres() {
        return; // edits the SQLite file; see the PostgreSQL twins
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    store
        .add_user(
            &NewUser {
                name: "vic".into(),
                role: Role::Viewer,
                password_hash: HASH_A.into(),
            },
            "ada",
        )
        .unwrap();
    let id = "f".repeat(64);
    store
        .start_session(&id, "vic", "csrf-token", 1_000, 0)
        .unwrap();
    // Another connection (a replica) sees it.
    let replica = open(dir.path());
    let found = replica.session(&id).unwrap().unwrap();
    assert_eq!(
        (found.user.as_str(), found.csrf.as_str(), found.last_seen_ms),
        ("vic", "csrf-token", 1_000)
    );
    replica.touch_session(&id, 5_000).unwrap();
    assert_eq!(store.session(&id).unwrap().unwrap().last_seen_ms, 5_000);
    // Only the SHA-256 of the id is in the database.
    let stored: Vec<String> = raw(dir.path())
        .prepare("SELECT id_sha256 FROM console_sessions")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, [expected]);
    // A session of an unknown user is refused; idle ones end.
    assert!(store.start_session("other", "nobody", "t", 1, 0).is_err());
    assert_eq!(store.end_idle_sessions(5_001).unwrap(), 1);
    assert!(replica.session(&id).unwrap().is_none());
    // Starting a session ends those idle since before the given time.
    store.start_session("a", "vic", "t", 10, 0).unwrap();
    store.start_session("b", "vic", "t", 20, 15).unwrap();
    assert!(store.session("a").unwrap().is_none());
    assert!(store.session("b").unwrap().is_some());
    store.end_session("b").unwrap();
    assert!(store.session("b").unwrap().is_none());
    // Sessions are not audit events, and the chain still verifies.
    assert!(store.verify_audit().unwrap().ok);
}
