//! The usage log: one record per request, written off the request path.
//!
//! A request hands its [`UsageRecord`] to [`UsageLog::log`], which never
//! blocks: the record goes into a bounded queue, or, when the queue is full,
//! is counted as dropped (a metric and a warning, never silent). A writer
//! thread takes records in batches (up to `batch` records, or whatever came
//! within `flush_every`) and writes each batch in one transaction through a
//! [`UsageSink`]; it also enforces retention, deleting records older than
//! the configured days in small batches once an hour. Dropping the last
//! [`UsageLog`] lets the writer drain the queue and stop; join its handle to
//! lose nothing at shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use modelgate_inventory::UsageRecord;
use modelgate_inventory::{Date, Store};

/// Where usage records go.
pub trait UsageSink: Send + 'static {
    /// Writes a batch, all or nothing.
    fn write(&mut self, batch: &[UsageRecord]) -> Result<(), String>;
    /// Deletes records from before `cutoff`; returns how many.
    fn retain(&mut self, cutoff: Date) -> Result<usize, String>;
}

impl UsageSink for Store {
    fn write(&mut self, batch: &[UsageRecord]) -> Result<(), String> {
        self.insert_usage(batch)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn retain(&mut self, cutoff: Date) -> Result<usize, String> {
        self.delete_usage_before(cutoff, 5_000)
            .map_err(|e| e.to_string())
    }
}

/// How the writer batches and keeps records.
#[derive(Debug, Clone, Copy)]
pub struct UsageSettings {
    /// Records the queue holds before new ones are dropped.
    pub capacity: usize,
    /// Most records per transaction.
    pub batch: usize,
    /// Longest a record waits in the queue while traffic is light.
    pub flush_every: Duration,
    /// Days to keep records (`None`: forever).
    pub retention_days: Option<u32>,
    /// How often retention runs.
    pub retention_every: Duration,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            capacity: 10_000,
            batch: 500,
            flush_every: Duration::from_millis(200),
            retention_days: None,
            retention_every: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    depth: AtomicUsize,
    dropped: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    deleted: AtomicU64,
}

/// The request side of the usage log.
#[derive(Debug, Clone)]
pub struct UsageLog {
    tx: SyncSender<UsageRecord>,
    counts: Arc<Counts>,
}

impl UsageLog {
    /// Starts the writer thread over `sink`; `today` says the current date
    /// for retention.
    pub fn start(
        sink: impl UsageSink,
        settings: UsageSettings,
        today: impl Fn() -> Date + Send + 'static,
    ) -> std::io::Result<(UsageLog, JoinHandle<()>)> {
        let (tx, rx) = mpsc::sync_channel(settings.capacity.max(1));
        let counts = Arc::new(Counts::default());
        let writer_counts = Arc::clone(&counts);
        let handle = std::thread::Builder::new()
            .name("modelgate-usage".into())
            .spawn(move || writer(sink, rx, settings, &writer_counts, today))?;
        Ok((UsageLog { tx, counts }, handle))
    }

    /// Queues a record; `false` when the queue was full and it was dropped
    /// (counted in [`dropped`](UsageLog::dropped)).
    pub fn log(&self, record: UsageRecord) -> bool {
        match self.tx.try_send(record) {
            Ok(()) => {
                self.counts.depth.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let dropped = self.counts.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped,
                        "usage log queue is full; records are being dropped (raise `logging.queue` or check the database)"
                    );
                }
                false
            }
        }
    }

    /// Records waiting in the queue.
    pub fn depth(&self) -> usize {
        self.counts.depth.load(Ordering::Relaxed)
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Records written.
    pub fn written(&self) -> u64 {
        self.counts.written.load(Ordering::Relaxed)
    }

    /// Records lost because the sink failed to write them.
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Records deleted by retention.
    pub fn deleted(&self) -> u64 {
        self.counts.deleted.load(Ordering::Relaxed)
    }
}

fn writer(
    mut sink: impl UsageSink,
    rx: mpsc::Receiver<UsageRecord>,
    settings: UsageSettings,
    counts: &Counts,
    today: impl Fn() -> Date,
) {
    let mut batch = Vec::with_capacity(settings.batch.max(1));
    let mut next_retention = Instant::now();
    let mut open = true;
    while open {
        match rx.recv_timeout(settings.flush_every) {
            Ok(record) => {
                batch.push(record);
                while batch.len() < settings.batch.max(1) {
                    match rx.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        if !batch.is_empty() {
            flush(&mut sink, &mut batch, counts);
        }
        if let Some(days) = settings.retention_days
            && Instant::now() >= next_retention
        {
            next_retention = Instant::now() + settings.retention_every;
            let cutoff = today().add_days(-i64::from(days));
            match sink.retain(cutoff) {
                Ok(deleted) => {
                    counts.deleted.fetch_add(deleted as u64, Ordering::Relaxed);
                    if deleted > 0 {
                        tracing::info!(deleted, %cutoff, "usage retention deleted old records");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "usage retention failed; it runs again within the hour")
                }
            }
        }
    }
}

fn flush(sink: &mut impl UsageSink, batch: &mut Vec<UsageRecord>, counts: &Counts) {
    let n = batch.len();
    let mut tries = 0;
    loop {
        match sink.write(batch) {
            Ok(()) => {
                counts.written.fetch_add(n as u64, Ordering::Relaxed);
                break;
            }
            Err(error) if tries < 3 => {
                tries += 1;
                tracing::warn!(%error, records = n, "writing usage records failed; retrying");
                std::thread::sleep(Duration::from_millis(100 << tries));
            }
            Err(error) => {
                counts.failed.fetch_add(n as u64, Ordering::Relaxed);
                tracing::error!(%error, records = n, "usage records lost: the database refused them four times");
                break;
            }
        }
    }
    counts.depth.fetch_sub(n, Ordering::Relaxed);
    batch.clear();
}
