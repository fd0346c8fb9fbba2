//! Usage records: how fast the gateway's batches go in (goal: 20,000 rows
//! a second), against one transaction per record as the baseline, and how
//! long a month's report and a retention pass take. Prints the insert rate
//! against the goal first; it never fails on it.
//!
//! `cargo bench -p modelgate-inventory --bench usage`

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use modelgate_inventory::{DataClass, Date, Store, Timestamp, UsageGroup, UsageQuery, UsageRecord};

/// Records per `insert_usage` call, about what a gateway flushes at once.
const BATCH: usize = 1_000;
/// Rows in the store the reports run over: about a month of a busy team.
const N_ROWS: usize = 200_000;
/// The insert rate the gateway needs.
const GOAL_ROWS_PER_SECOND: f64 = 20_000.0;
/// 2026-11-01T00:00:00Z.
const START: u64 = 1_793_491_200;

fn record(idx: usize) -> UsageRecord {
    let seconds = START + (idx as u64 * 13) % (30 * 86_400);
    UsageRecord {
        at: Timestamp::from_unix_seconds(seconds),
        request_id: format!("req-{idx}"),
        key_id: Some(format!("key{:09}", idx % 40)),
        team: format!("team-{}", idx % 8),
        route: "chat".into(),
        target: match idx % 3 {
            0 => "smollm2@1.0",
            1 => "qwen2.5@7b-q4",
            _ => "openai/gpt-4o-mini",
        }
        .into(),
        version: Some("smollm2@1.0".into()),
        data_class: DataClass::Internal,
        tokens_in: 200 + (idx % 50) as u64,
        tokens_out: 100 + (idx % 70) as u64,
        cost_micro_usd: 37,
        latency_ms: 100 + (idx % 400) as u64,
        ttft_ms: Some(20 + (idx % 30) as u64),
        status: if idx.is_multiple_of(97) { 500 } else { 200 },
        error: None,
        prompt: None,
        answer: None,
    }
}

fn records(from: usize, n: usize) -> Vec<UsageRecord> {
    (from..from + n).map(record).collect()
}

/// A store with [`N_ROWS`] rows, and the insert rate it was filled at.
fn filled() -> (tempfile::TempDir, Store, f64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(dir.path()).expect("a new store");
    let batches: Vec<Vec<UsageRecord>> = (0..N_ROWS / BATCH)
        .map(|idx| records(idx * BATCH, BATCH))
        .collect();
    let started = Instant::now();
    for batch in &batches {
        store.insert_usage(batch).expect("usage stored");
    }
    let rate = N_ROWS as f64 / started.elapsed().as_secs_f64();
    (dir, store, rate)
}

fn usage(c: &mut Criterion) {
    let (_dir, mut store, rate) = filled();
    let verdict = if rate >= GOAL_ROWS_PER_SECOND {
        "meets"
    } else {
        "MISSES"
    };
    println!(
        "insert_usage: {N_ROWS} rows in batches of {BATCH}: {rate:.0} rows/s, goal {GOAL_ROWS_PER_SECOND:.0}: {verdict} ({:.1}x the goal)",
        rate / GOAL_ROWS_PER_SECOND
    );

    let mut group = c.benchmark_group("usage insert");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = N_ROWS;
    group.bench_function("one batch of 1000", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                records(next, BATCH)
            },
            |batch| store.insert_usage(black_box(&batch)).expect("stored"),
            BatchSize::LargeInput,
        );
    });
    // Baseline: what a gateway writing each request on its own would get.
    const ONE_BY_ONE: usize = 50;
    group.throughput(Throughput::Elements(ONE_BY_ONE as u64));
    group.bench_function("baseline: 50 records, one transaction each", |b| {
        b.iter_batched(
            || {
                next += ONE_BY_ONE;
                records(next, ONE_BY_ONE)
            },
            |batch| {
                for record in &batch {
                    store
                        .insert_usage(std::slice::from_ref(record))
                        .expect("stored");
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();

    let mut group = c.benchmark_group("usage read");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N_ROWS as u64));
    for by in [UsageGroup::Day, UsageGroup::Key] {
        let query = UsageQuery {
            by,
            ..UsageQuery::default()
        };
        group.bench_function(format!("report by {}", by.name()), |b| {
            b.iter(|| store.usage_report(black_box(&query)).expect("a report"));
        });
    }
    let since = Timestamp::from_unix_seconds(START + 15 * 86_400);
    group.bench_function("spent per key, half a month", |b| {
        b.iter(|| store.spent_micro_usd(black_box(&since)).expect("sums"));
    });
    group.finish();

    let cutoff: Date = "2026-11-16".parse().expect("a date");
    let started = Instant::now();
    let deleted = store
        .delete_usage_before(cutoff, 5_000)
        .expect("old usage deleted");
    println!(
        "delete_usage_before: {deleted} rows in batches of 5000 in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

criterion_group!(benches, usage);
criterion_main!(benches);
