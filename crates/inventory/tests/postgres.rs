//! The inventory on PostgreSQL, where it differs from SQLite: the database
//! refuses to change or delete audit events; `audit verify` names an
//! event edited by someone who can switch the trigger off; writers on
//! several connections (as on several replicas) keep one chain; usage goes
//! into day partitions and retention drops them; `db copy` moves an SQLite
//! installation and verifies its chain on arrival; a newer schema is
//! refused. (Everything else runs on both backends in `inventory.rs`.)
//!
//! Needs the test server (`scripts/postgres.sh start`, URL in
//! `MODELGATE_TEST_DATABASE_URL`); without it these tests say so and pass,
//! unless `MODELGATE_REQUIRE_POSTGRES` is set, as `scripts/test.sh` does.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::Path;

use modelgate_inventory::{
    Backend, DataClass, Database, Date, Error, FileRecord, NewKey, NewVersion, Store, Timestamp,
    UsageGroup, UsageQuery, UsageRecord,
};
use modelgate_policy::Decision;
use serde_json::json;

/// A new database on the test server, or `None` (skip) without one.
fn database() -> Option<Database> {
    let base = modelgate_testdata::postgres::server_url()?;
    let url = modelgate_testdata::postgres::fresh_database(&base);
    Some(Database::parse(&url).unwrap())
}

fn open(database: &Database, home: &Path) -> Store {
    Store::open_database(database, home).unwrap()
}

/// A plain client on the same database, as its owner.
fn raw(database: &Database) -> postgres::Client {
    let Database::Postgres(url) = database else {
        unreachable!()
    };
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

fn version(text: &str) -> NewVersion {
    let mut new = NewVersion::new(text.parse().unwrap(), Decision::Approved);
    new.files = vec![FileRecord {
        path: "model.gguf".into(),
        size: 1_000,
        sha256: "a".repeat(64),
    }];
    new.report = json!({"verdict": {"decision": "approved", "reasons": []}});
    new
}

fn record(at: &str, key: Option<&str>, cost: u64) -> UsageRecord {
    UsageRecord {
        at: at.parse::<Timestamp>().unwrap(),
        request_id: format!("req-{at}-{cost}"),
        key_id: key.map(str::to_owned),
        team: "search".into(),
        route: "chat".into(),
        target: "smollm2@1.0".into(),
        version: Some("smollm2@1.0".into()),
        data_class: DataClass::Internal,
        tokens_in: 10,
        tokens_out: 20,
        cost_micro_usd: cost,
        latency_ms: 5,
        ttft_ms: Some(2),
        status: 200,
        error: None,
        prompt: None,
        answer: None,
    }
}

#[test]
fn the_database_refuses_to_change_or_delete_events_and_verify_names_an_edit() {
    let Some(database) = database() else { return };
    let home = tempfile::tempdir().unwrap();
    let mut store = open(&database, home.path());
    assert_eq!(store.backend(), Backend::Postgres);
    for n in 1..=3 {
        store
            .add_version(&version(&format!("m@{n}")), "alice")
            .unwrap();
    }
    let mut client = raw(&database);
    for sql in [
        "UPDATE events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM events WHERE seq = 3",
        "TRUNCATE events CASCADE",
    ] {
        let error = client.batch_execute(sql).unwrap_err();
        assert!(
            error
                .as_db_error()
                .unwrap()
                .message()
                .contains("append-only"),
            "{sql}: {error}"
        );
    }
    assert!(store.verify_audit().unwrap().ok);

    // The owner can switch the trigger off; the chain still names the edit.
    client
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_no_update;
             UPDATE events SET actor = 'mallory' WHERE seq = 2;",
        )
        .unwrap();
    let report = store.verify_audit().unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad, Some(2), "{:?}", report.problems);
}

#[test]
fn writers_on_several_connections_keep_one_chain() {
    let Some(database) = database() else { return };
    let home = tempfile::tempdir().unwrap();
    drop(open(&database, home.path()));
    // Four "replicas", each with its own connection, adding at once.
    let threads: Vec<_> = (0..4)
        .map(|replica| {
            let database = database.clone();
            let home = home.path().to_path_buf();
            std::thread::spawn(move || {
                let mut store = Store::open_database(&database, &home).unwrap();
                for n in 0..10 {
                    store
                        .add_version(&version(&format!("r{replica}@{n}")), "writer")
                        .unwrap();
                    store
                        .create_key(&NewKey::new(&format!("team{replica}")), "writer")
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let store = open(&database, home.path());
    let events = store.events().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert!(events.len() >= 80, "{}", events.len());
    let report = store.verify_audit().unwrap();
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn usage_goes_into_day_partitions_and_retention_drops_them() {
    let Some(database) = database() else { return };
    let home = tempfile::tempdir().unwrap();
    let mut store = open(&database, home.path());
    let mut records = Vec::new();
    for day in 1..=4 {
        for n in 0..25u64 {
            records.push(record(
                &format!("2026-11-0{day}T10:00:{:02}Z", n),
                Some("k1"),
                100 + n,
            ));
        }
    }
    assert_eq!(store.insert_usage(&records).unwrap(), 100);
    let mut client = raw(&database);
    let partitions: Vec<String> = client
        .query(
            "SELECT child.relname::text FROM pg_inherits
             JOIN pg_class AS child ON child.oid = inhrelid
             WHERE inhparent = 'usage'::regclass ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        partitions,
        [
            "usage_d20261101",
            "usage_d20261102",
            "usage_d20261103",
            "usage_d20261104"
        ]
    );
    let per_day = store
        .usage_report(&UsageQuery {
            by: UsageGroup::Day,
            ..UsageQuery::default()
        })
        .unwrap();
    assert_eq!(per_day.len(), 4);
    let spent = store
        .spent_micro_usd(&"2026-11-03T00:00:00Z".parse().unwrap())
        .unwrap();
    let expected: u64 = (0..25u64).map(|n| 100 + n).sum::<u64>() * 2;
    assert_eq!(spent, vec![("k1".into(), "search".into(), expected)]);

    // Retention: whole days before the cutoff go, as partitions.
    let cutoff: Date = "2026-11-03".parse().unwrap();
    assert_eq!(store.delete_usage_before(cutoff, 10).unwrap(), 50);
    let left: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'usage'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 2);
    // A day whose partition another replica dropped is made again.
    store
        .insert_usage(&[record("2026-11-01T12:00:00Z", None, 1)])
        .unwrap();
    let report = store.usage_report(&UsageQuery::default()).unwrap();
    assert_eq!(report.iter().map(|row| row.requests).sum::<u64>(), 51);
}

#[test]
fn an_sqlite_installation_is_copied_and_its_chain_verified_on_arrival() {
    let Some(database) = database() else { return };
    let home = tempfile::tempdir().unwrap();
    let mut source = Store::open(home.path()).unwrap();
    for n in 1..=3 {
        source
            .add_version(&version(&format!("m@{n}")), "alice")
            .unwrap();
    }
    let issued = source.create_key(&NewKey::new("search"), "alice").unwrap();
    source.rotate_key(&issued.record.id, "alice").unwrap();
    source
        .insert_usage(&[
            record("2026-11-01T10:00:00Z", Some(&issued.record.id), 7),
            record("2026-11-02T10:00:00Z", None, 9),
        ])
        .unwrap();
    // More than one INSERT's worth (500 rows), with a remainder.
    let many: Vec<UsageRecord> = (0..1_234u64)
        .map(|i| {
            let mut r = record("2026-11-03T10:00:00Z", None, i);
            r.request_id = format!("bulk-{i}");
            r
        })
        .collect();
    source.insert_usage(&many).unwrap();
    // A column someone added to the source file, named to break out of
    // an INSERT's column list: not copied, not spliced into SQL.
    rusqlite::Connection::open(home.path().join(modelgate_inventory::DATABASE_FILE))
        .unwrap()
        .execute_batch(r#"ALTER TABLE models ADD COLUMN "name) VALUES ('x'); --" TEXT"#)
        .unwrap();
    let mut target = open(&database, home.path());
    let mut heard = Vec::new();
    let report = source
        .copy_into(&mut target, |table, n| heard.push((table.to_owned(), n)))
        .unwrap();
    assert!(report.audit.ok, "{:?}", report.audit.problems);
    assert_eq!(report.tables, heard);
    let count = |name: &str| {
        report
            .tables
            .iter()
            .find(|(table, _)| table == name)
            .unwrap()
            .1
    };
    assert_eq!(count("events"), source.events().unwrap().len() as u64);
    assert_eq!(
        (count("versions"), count("api_keys"), count("usage")),
        (3, 2, 1_236)
    );
    // Every row arrived whole: the same report, row for row.
    let by_day = UsageQuery {
        by: UsageGroup::Day,
        ..UsageQuery::default()
    };
    assert_eq!(
        target.usage_report(&by_day).unwrap(),
        source.usage_report(&by_day).unwrap()
    );
    assert_eq!(target.list().unwrap(), source.list().unwrap());
    assert_eq!(
        target.keys(None, true).unwrap(),
        source.keys(None, true).unwrap()
    );
    // New usage after the copy takes ids after the copied ones.
    target
        .insert_usage(&[record("2026-11-02T11:00:00Z", None, 1)])
        .unwrap();

    // Copying again is refused: the target is no longer empty.
    let mut again = open(&database, home.path());
    assert!(matches!(
        source.copy_into(&mut again, |_, _| {}),
        Err(Error::TargetNotEmpty { .. })
    ));
}

#[test]
fn a_newer_schema_is_refused_with_what_to_do() {
    let Some(database) = database() else { return };
    let home = tempfile::tempdir().unwrap();
    drop(open(&database, home.path()));
    let status = Store::database_status(&database).unwrap();
    assert!(status.exists && status.pending.is_empty() && !status.too_new());
    raw(&database)
        .batch_execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')",
        )
        .unwrap();
    assert!(Store::database_status(&database).unwrap().too_new());
    let error = Store::open_database(&database, home.path()).unwrap_err();
    assert!(
        matches!(error, Error::SchemaTooNew { found: 99, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("upgrade"), "{error}");
}

#[test]
fn a_bad_url_or_an_unreachable_server_is_named_without_its_password() {
    let home = tempfile::tempdir().unwrap();
    let unreachable =
        Database::parse("postgres://mg:s3cret@127.0.0.1:1/modelgate?connect_timeout=2").unwrap();
    let error = Store::open_database(&unreachable, home.path()).unwrap_err();
    let shown = format!("{error}");
    assert!(matches!(error, Error::Open { .. }), "{error:?}");
    assert!(
        shown.contains("127.0.0.1:1") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[test]
fn text_compares_bytewise_whatever_the_database_locale() {
    let Some(base) = modelgate_testdata::postgres::server_url() else {
        return;
    };
    // A database whose default collation is a natural-language one (ICU
    // English, where punctuation sorts apart from bytes), when the server
    // has ICU; else the server's default.
    let url = modelgate_testdata::postgres::fresh_database(&base);
    let Database::Postgres(plain) = Database::parse(&url).unwrap() else {
        unreachable!()
    };
    let name = plain.rsplit('/').next().unwrap().to_owned();
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    let icu = format!("{name}_icu");
    let database = match admin.batch_execute(&format!(
        "CREATE DATABASE {icu} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
    )) {
        Ok(()) => Database::parse(&url.replace(&name, &icu)).unwrap(),
        Err(error) => {
            eprintln!("no ICU collation ({error}); checking the server's default");
            Database::Postgres(plain)
        }
    };
    let home = tempfile::tempdir().unwrap();
    let mut store = open(&database, home.path());
    store.add_version(&version("m@1"), "alice").unwrap();
    store.create_key(&NewKey::new("search"), "alice").unwrap();
    let mut client = raw(&database);
    let loose: Vec<String> = client
        .query(
            "SELECT c.table_name || '.' || c.column_name FROM information_schema.columns AS c
             JOIN pg_class AS t ON t.relname = c.table_name
                 AND t.relnamespace = to_regnamespace(c.table_schema)
             WHERE c.table_schema = current_schema() AND c.data_type = 'text'
               AND c.collation_name IS DISTINCT FROM 'C' AND NOT t.relispartition",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        loose.is_empty(),
        "text columns that do not compare bytewise: {loose:?}"
    );
    // The audit log's prefix filter is a bytewise range.
    let (events, total) = store
        .events_page(&modelgate_inventory::EventQuery {
            action_prefix: Some("key.".into()),
            limit: 50,
            ..modelgate_inventory::EventQuery::default()
        })
        .unwrap();
    assert_eq!(total, 1, "{events:?}");
    assert_eq!(events[0].action, "key.created");
}

#[test]
fn a_store_reconnects_after_its_session_is_ended() {
    let Some(database) = database() else { return };
    let home = tempfile::tempdir().unwrap();
    let mut store = open(&database, home.path());
    store.add_version(&version("m@1"), "alice").unwrap();
    // As a server restart or an administrator would: end every modelgate
    // session on this database.
    let ended: i64 = raw(&database)
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'modelgate'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ended, 1);
    // The call that meets the closed session may fail; the next one
    // reconnects, reads and writes.
    let _ = store.list();
    assert_eq!(store.list().unwrap().len(), 1);
    store.add_version(&version("m@2"), "alice").unwrap();
    assert!(store.verify_audit().unwrap().ok);
}

/// The URL of `database` on the test server, as `user` at `host`, with
/// the query `options`.
fn tls_url(database: &Database, user: &str, host: &str, options: &str) -> String {
    let Database::Postgres(url) = database else {
        unreachable!()
    };
    let config: postgres::Config = url.parse().unwrap();
    let port = config.get_ports()[0];
    let name = config.get_dbname().unwrap();
    format!("postgres://{user}@{host}:{port}/{name}?{options}")
}

/// An error and its sources, as the CLI shows them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn try_open(url: &str, home: &Path) -> Result<Store, String> {
    let database = Database::parse(url).map_err(|e| chain(&e))?;
    Store::open_database(&database, home).map_err(|e| chain(&e))
}

#[test]
fn tls_is_used_and_the_certificate_checked_as_sslmode_asks() {
    let Some(database) = database() else { return };
    let Some(tls) = modelgate_testdata::postgres::tls_dir() else {
        return;
    };
    let ca = tls.join("ca.pem");
    let other = tls.join("other-ca.pem");
    let (ca, other) = (ca.display(), other.display());
    let home = tempfile::tempdir().unwrap();
    // The role `modelgate_tls` is refused without TLS, so every store
    // opened below as it is on an encrypted session.
    let url = |host: &str, options: &str| tls_url(&database, "modelgate_tls", host, options);

    // verify-full: the CA signed the certificate, issued for `localhost`.
    let mut store = try_open(
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        home.path(),
    )
    .unwrap();
    store.add_version(&version("m@1"), "alice").unwrap();
    assert!(store.verify_audit().unwrap().ok);
    drop(store);

    // What libpq takes at 127.0.0.1, a name the certificate does not hold:
    // prefer (the default) and require encrypt without checking, verify-ca
    // checks the CA only.
    for options in [
        String::new(),
        "sslmode=require".to_owned(),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=require&sslrootcert={ca}"),
    ] {
        let store = try_open(&url("127.0.0.1", &options), home.path())
            .unwrap_or_else(|e| panic!("{options:?}: {e}"));
        assert_eq!(store.list().unwrap().len(), 1, "{options:?}");
    }

    // verify-full to 127.0.0.1: the host is not the certificate's.
    let error = try_open(
        &url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        home.path(),
    )
    .err()
    .unwrap();
    assert!(
        error.contains("TLS handshake")
            && error.contains("sslmode=verify-full")
            && error.contains("127.0.0.1")
            && error.contains("verify-ca does not check the host"),
        "{error}"
    );
    // A CA that did not sign it, with and without the host checked.
    for mode in ["verify-full", "verify-ca", "require"] {
        let error = try_open(
            &url("localhost", &format!("sslmode={mode}&sslrootcert={other}")),
            home.path(),
        )
        .err()
        .unwrap();
        assert!(
            error.contains(&format!("sslmode={mode}"))
                && error.contains("UnknownIssuer")
                && error.contains("signed by a CA in sslrootcert"),
            "{mode}: {error}"
        );
    }
    // disable: the server itself refuses a plain session for this role.
    let error = try_open(&url("127.0.0.1", "sslmode=disable"), home.path())
        .err()
        .unwrap();
    assert!(
        error.contains("no encryption") && !error.contains("TLS handshake"),
        "{error}"
    );
}

#[test]
fn a_client_certificate_is_presented_when_the_url_names_one() {
    let Some(database) = database() else { return };
    let Some(tls) = modelgate_testdata::postgres::tls_dir() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let ca = tls.join("ca.pem");
    let verified = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    // The server lets `modelgate_cert` in only with the certificate the
    // test CA issued to that name.
    let error = try_open(
        &tls_url(&database, "modelgate_cert", "localhost", &verified),
        home.path(),
    )
    .err()
    .unwrap();
    assert!(error.contains("modelgate_cert"), "{error}");
    let with_certificate = format!(
        "{verified}&sslcert={}&sslkey={}",
        tls.join("client.pem").display(),
        tls.join("client.key").display()
    );
    let mut store = try_open(
        &tls_url(&database, "modelgate_cert", "localhost", &with_certificate),
        home.path(),
    )
    .unwrap();
    store.add_version(&version("m@1"), "alice").unwrap();
    assert!(store.verify_audit().unwrap().ok);
}
