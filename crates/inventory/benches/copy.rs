//! `db copy`: how fast an installation moves, in rows a second, as
//! `Store::copy_into` does it (500 rows per `INSERT` into PostgreSQL, one
//! into SQLite) against one row per `INSERT` (the baseline, the same code
//! otherwise), both in this process
//! on the same source: an SQLite inventory with 200 recorded versions and
//! `MODELGATE_BENCH_ROWS` usage records (default 200,000), copied into a
//! new SQLite file and, when `MODELGATE_TEST_DATABASE_URL` names a server
//! (`scripts/postgres.sh start`), into a new PostgreSQL database.
//!
//! `cargo bench -p modelgate-inventory --bench copy`

use std::time::Instant;

use modelgate_inventory::{
    DataClass, Database, FileRecord, NewVersion, Store, Timestamp, UsageRecord,
};
use modelgate_policy::Decision;

/// 2026-11-01T00:00:00Z.
const START: u64 = 1_793_491_200;

fn record(idx: usize) -> UsageRecord {
    UsageRecord {
        at: Timestamp::from_unix_seconds(START + (idx as u64 * 13) % (30 * 86_400)),
        request_id: format!("req-{idx}"),
        key_id: None,
        team: format!("team-{}", idx % 8),
        route: "chat".into(),
        target: "smollm2@1.0".into(),
        version: Some("smollm2@1.0".into()),
        data_class: DataClass::Internal,
        tokens_in: 200 + (idx % 50) as u64,
        tokens_out: 100 + (idx % 70) as u64,
        cost_micro_usd: 37,
        latency_ms: 100 + (idx % 400) as u64,
        ttft_ms: Some(20),
        status: 200,
        error: None,
        prompt: None,
        answer: None,
    }
}

fn source(rows: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(dir.path()).expect("a new store");
    for n in 0..200 {
        let mut new = NewVersion::new(
            format!("m@{n}").parse().expect("a version"),
            Decision::Approved,
        );
        new.files = vec![FileRecord {
            path: "model.gguf".into(),
            size: 1_000,
            sha256: "a".repeat(64),
        }];
        store.add_version(&new, "bench").expect("recorded");
    }
    for start in (0..rows).step_by(1_000) {
        let batch: Vec<UsageRecord> = (start..(start + 1_000).min(rows)).map(record).collect();
        store.insert_usage(&batch).expect("usage stored");
    }
    (dir, store)
}

/// Makes a new, empty target (and the directory it lives in).
type NewTarget = dyn Fn() -> (tempfile::TempDir, Database);

/// Copies `source` into a new target, `rows_per_insert` rows at a time
/// or as `copy_into` chooses; rows a second.
fn copy(source: &Store, target: &Database, rows_per_insert: Option<usize>) -> f64 {
    let home = tempfile::tempdir().expect("a temporary directory");
    let mut target = Store::open_database(target, home.path()).expect("the target");
    let started = Instant::now();
    let report = match rows_per_insert {
        Some(rows) => source.copy_into_by(&mut target, rows, |_, _| {}),
        None => source.copy_into(&mut target, |_, _| {}),
    }
    .expect("copied");
    let seconds = started.elapsed().as_secs_f64();
    assert!(report.audit.ok, "the copy's chain verifies");
    let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
    rows as f64 / seconds
}

fn main() {
    let rows = std::env::var("MODELGATE_BENCH_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let (_dir, source) = source(rows);
    let mut targets: Vec<(&str, Box<NewTarget>)> = vec![(
        "SQLite",
        Box::new(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let database = Database::Sqlite(dir.path().join("inventory.db"));
            (dir, database)
        }),
    )];
    if let Ok(base) = std::env::var("MODELGATE_TEST_DATABASE_URL") {
        targets.push((
            "PostgreSQL",
            Box::new(move || {
                let url = modelgate_testdata::postgres::fresh_database(&base);
                let dir = tempfile::tempdir().expect("a temporary directory");
                (dir, Database::parse(&url).expect("the test server's URL"))
            }),
        ));
    } else {
        println!("copy: no MODELGATE_TEST_DATABASE_URL, so SQLite only");
    }
    for (name, target) in &targets {
        let (_one, database) = target();
        let baseline = copy(&source, &database, Some(1));
        let (_many, database) = target();
        let shipped = copy(&source, &database, None);
        println!(
            "db copy into {name}: {rows} usage rows and 200 versions: {shipped:.0} rows/s as copy_into does it, \
             {baseline:.0} rows/s one row per INSERT (baseline): {:.1}x",
            shipped / baseline
        );
    }
}
