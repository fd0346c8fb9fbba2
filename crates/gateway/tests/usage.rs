//! The usage log over a real inventory: records queued from many threads
//! are all written, in batches, and retention deletes exactly the records
//! older than the configured days.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::time::Duration;

use modelgate_gateway::usage::{UsageLog, UsageSettings};
use modelgate_inventory::{
    DataClass, Database, Date, Store, Timestamp, UsageGroup, UsageQuery, UsageRecord,
};

/// The store in `home`: SQLite, or a schema on the test PostgreSQL with
/// `MODELGATE_TEST_BACKEND=postgres` (see `modelgate_testdata::postgres`).
fn open_store(home: &std::path::Path) -> Store {
    match modelgate_testdata::postgres::backend_for(home) {
        Some(url) => Store::open_database(&Database::parse(&url).unwrap(), home).unwrap(),
        None => Store::open(home).unwrap(),
    }
}

fn record(at: &str, team: &str, tokens: u64) -> UsageRecord {
    UsageRecord {
        at: Timestamp::parse(at).unwrap(),
        request_id: format!("req-{at}-{tokens}"),
        key_id: Some("k1".into()),
        team: team.into(),
        route: "chat".into(),
        target: "openai/gpt".into(),
        version: None,
        data_class: DataClass::Internal,
        tokens_in: tokens,
        tokens_out: 1,
        cost_micro_usd: 10,
        latency_ms: 5,
        ttft_ms: None,
        status: 200,
        error: None,
        prompt: None,
        answer: None,
    }
}

#[test]
fn every_queued_record_is_written_and_retention_deletes_old_ones() {
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    // Two records from long ago, written before the server started.
    store
        .insert_usage(&[
            record("2020-01-01T00:00:00Z", "old", 1),
            record("2020-01-02T00:00:00Z", "old", 2),
        ])
        .unwrap();
    let sink = open_store(home.path());
    let settings = UsageSettings {
        capacity: 10_000,
        batch: 64,
        flush_every: Duration::from_millis(20),
        retention_days: Some(30),
        retention_every: Duration::from_secs(3600),
    };
    let (log, writer) =
        UsageLog::start(sink, settings, || "2026-12-02".parse::<Date>().unwrap()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..250u64 {
                    assert!(log.log(record("2026-12-01T10:00:00Z", &format!("team{t}"), i)));
                }
            });
        }
    });
    drop(log);
    writer.join().unwrap();

    let rows = store
        .usage_report(&UsageQuery {
            by: UsageGroup::Team,
            ..UsageQuery::default()
        })
        .unwrap();
    let total: u64 = rows.iter().map(|r| r.requests).sum();
    assert_eq!(total, 1000, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.group != "old"),
        "retention kept old records: {rows:?}"
    );
    for row in &rows {
        assert_eq!(row.requests, 250);
        assert_eq!(row.tokens_in, (0..250).sum::<u64>());
    }
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    /// A sink that takes its time, so the queue fills.
    struct Slow;
    impl modelgate_gateway::usage::UsageSink for Slow {
        fn write(&mut self, _batch: &[UsageRecord]) -> Result<(), String> {
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        }
        fn retain(&mut self, _cutoff: Date) -> Result<usize, String> {
            Ok(0)
        }
    }
    let settings = UsageSettings {
        capacity: 8,
        batch: 1,
        ..UsageSettings::default()
    };
    let (log, writer) = UsageLog::start(Slow, settings, Date::today).unwrap();
    let accepted = (0..100)
        .filter(|i| log.log(record("2026-12-01T10:00:00Z", "t", *i)))
        .count();
    // Had `log` waited for room, all 100 would have been taken; it takes
    // what fits (8 queued, one or two in the writer's hands) and counts
    // the rest.
    assert!(accepted <= 10, "{accepted}");
    assert_eq!(log.dropped(), 100 - accepted as u64);
    drop(log);
    writer.join().unwrap();
}
