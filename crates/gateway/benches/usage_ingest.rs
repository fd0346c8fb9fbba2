//! Usage ingestion, sustained: the gateway's usage log (`UsageLog`, the
//! queue a request writes into, and its writer thread) over PostgreSQL,
//! offered a steady 12,000 records a second for a minute, against the
//! goal of 10,000 a second written. The request path's cost is what
//! `UsageLog::log` takes per call; it is measured against a baseline run
//! in the same process, the same log over a sink that writes nothing, so
//! "the request path unaffected" is a ratio of the two (and a count of
//! dropped records, which must be 0). The same run over SQLite is printed
//! beside it.
//!
//! ```text
//! scripts/postgres.sh start     # prints the URL
//! MODELGATE_TEST_DATABASE_URL=postgres://modelgate@127.0.0.1:55432/modelgate \
//!   cargo bench -p modelgate-gateway --bench usage_ingest
//! ```
//!
//! `MODELGATE_BENCH_SECONDS` shortens the minute (say, 5 for a smoke
//! run). Prints the rates and ratios; never fails on them.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use modelgate_gateway::usage::{UsageLog, UsageSettings, UsageSink};
use modelgate_inventory::{DataClass, Database, Date, Store, Timestamp, UsageRecord};

/// The rate offered: 20 % above the goal, so the goal is met with room.
const OFFERED_PER_SECOND: u64 = 12_000;
/// Records written per second, sustained, that the issue asks for.
const GOAL_PER_SECOND: f64 = 10_000.0;

/// A sink that keeps nothing: the baseline for the request path.
struct Discard;

impl UsageSink for Discard {
    fn write(&mut self, _: &[UsageRecord]) -> Result<(), String> {
        Ok(())
    }
    fn retain(&mut self, _: Date) -> Result<usize, String> {
        Ok(0)
    }
}

fn record(idx: u64, now: &Timestamp) -> UsageRecord {
    UsageRecord {
        at: now.clone(),
        request_id: format!("req-{idx:012}"),
        key_id: Some(format!("key{:09}", idx % 40)),
        team: format!("team-{}", idx % 8),
        route: "chat".into(),
        target: "smollm2@1.0".into(),
        version: Some("smollm2@1.0".into()),
        data_class: DataClass::Internal,
        tokens_in: 200 + idx % 50,
        tokens_out: 100 + idx % 70,
        cost_micro_usd: 37,
        latency_ms: 100 + idx % 400,
        ttft_ms: Some(20 + idx % 30),
        status: 200,
        error: None,
        prompt: None,
        answer: None,
    }
}

struct Run {
    name: &'static str,
    offered: u64,
    written: u64,
    dropped: u64,
    failed: u64,
    /// Offering, then draining the queue.
    seconds: f64,
    /// The slowest one-second window of writing, records.
    slowest_second: u64,
    log_p50_ns: u64,
    log_p99_ns: u64,
    log_max_ns: u64,
}

/// Offer [`OFFERED_PER_SECOND`] records a second for `duration` (in 1 ms
/// ticks) to a usage log over `sink`, timing every `log` call; then wait
/// for the writer to drain.
fn run(name: &'static str, sink: impl UsageSink, duration: Duration) -> Run {
    let settings = UsageSettings {
        capacity: 10_000,
        batch: 500,
        ..UsageSettings::default()
    };
    let (log, writer) = UsageLog::start(sink, settings, Date::today).unwrap();
    let per_tick = OFFERED_PER_SECOND / 1_000;
    let now = Timestamp::now();
    let mut latencies: Vec<u64> = Vec::with_capacity((duration.as_secs() + 1) as usize * 12_000);
    let mut offered = 0u64;
    let mut per_second: Vec<u64> = Vec::new();
    let mut last_written = 0u64;
    let mut next_second = Instant::now() + Duration::from_secs(1);
    let start = Instant::now();
    let mut tick = start;
    while start.elapsed() < duration {
        for _ in 0..per_tick {
            let record = record(offered, &now);
            let began = Instant::now();
            log.log(record);
            latencies.push(began.elapsed().as_nanos() as u64);
            offered += 1;
        }
        if Instant::now() >= next_second {
            let written = log.written();
            per_second.push(written - last_written);
            last_written = written;
            next_second += Duration::from_secs(1);
        }
        tick += Duration::from_millis(1);
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while log.written() + log.dropped() + log.failed() < offered && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = start.elapsed().as_secs_f64();
    let (written, dropped, failed) = (log.written(), log.dropped(), log.failed());
    drop(log);
    writer.join().unwrap();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize]; // not empty: offered > 0
    Run {
        name,
        offered,
        written,
        dropped,
        failed,
        seconds,
        // The first second includes start-up; the last may be partial.
        slowest_second: per_second.iter().skip(1).copied().min().unwrap_or(written),
        log_p50_ns: at(0.50),
        log_p99_ns: at(0.99),
        log_max_ns: *latencies.last().unwrap(),
    }
}

/// How fast `store` takes batches of 500 with nothing else going on, for
/// `duration`: the writer's headroom over the offered rate.
fn capacity(store: &mut Store, duration: Duration) -> f64 {
    let now = Timestamp::now();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        let batch: Vec<UsageRecord> = (n..n + 500).map(|idx| record(idx, &now)).collect();
        store.insert_usage(&batch).unwrap();
        n += 500;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn print(run: &Run, baseline: &Run) {
    println!(
        "{:<11} offered {:>7}  written {:>7} ({:>6.0}/s over {:.1} s; slowest second {:>6})  dropped {}  failed {}  \
         log() p50 {:>4} ns  p99 {:>5} ns ({:.2}x the baseline's)  max {:>7} ns",
        run.name,
        run.offered,
        run.written,
        run.written as f64 / run.seconds,
        run.seconds,
        run.slowest_second,
        run.dropped,
        run.failed,
        run.log_p50_ns,
        run.log_p99_ns,
        run.log_p99_ns as f64 / baseline.log_p99_ns.max(1) as f64,
        run.log_max_ns,
    );
}

fn main() {
    let seconds: u64 = std::env::var("MODELGATE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let duration = Duration::from_secs(seconds);
    let Some(base) = std::env::var("MODELGATE_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!(
            "usage_ingest: skipped: set MODELGATE_TEST_DATABASE_URL (scripts/postgres.sh start prints it)"
        );
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let url = modelgate_testdata::postgres::fresh_database(&base);
    let database = Database::parse(&url).unwrap();
    let postgres = Store::open_database(&database, home.path()).unwrap();
    let sqlite = Store::open(home.path()).unwrap();
    let burst = Duration::from_secs(seconds.min(10));
    let pg_capacity = capacity(&mut postgres.reopen().unwrap(), burst);
    let lite_capacity = capacity(&mut sqlite.reopen().unwrap(), burst);

    println!(
        "usage ingestion: {OFFERED_PER_SECOND} records/s offered for {seconds} s, queue 10,000, batches of 500 (the serve defaults)"
    );
    let baseline = run("no sink", Discard, duration);
    let pg = run("PostgreSQL", postgres, duration);
    let lite = run("SQLite", sqlite, duration);
    for r in [&baseline, &pg, &lite] {
        print(r, &baseline);
    }
    println!(
        "capacity (batches of 500 as fast as they go, {} s): PostgreSQL {pg_capacity:.0}/s, SQLite {lite_capacity:.0}/s ({:.2}x)",
        burst.as_secs(),
        pg_capacity / lite_capacity
    );
    let rate = pg.written as f64 / pg.seconds;
    println!(
        "goal: >= {GOAL_PER_SECOND:.0} records/s into PostgreSQL for {seconds} s, none dropped: {} ({rate:.0}/s, {:.2}x the goal; slowest second {}; dropped {})",
        if rate >= GOAL_PER_SECOND && pg.dropped == 0 && pg.failed == 0 {
            "met"
        } else {
            "NOT met"
        },
        rate / GOAL_PER_SECOND,
        pg.slowest_second,
        pg.dropped
    );
}
