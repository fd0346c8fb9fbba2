//! Usage records: batched inserts, reports, spending per key and
//! retention. Not audited (one row per request). Every write is its own
//! short `BEGIN IMMEDIATE` transaction, so that the gateway's inserts and
//! retention never hold the write lock for long; the per-group arithmetic
//! is `usage.rs`'s.

use super::db::{Backend, params, params_from_iter};

use super::Store;
use crate::clock::is_utc_seconds;
use crate::encoding::sql_int;
use crate::usage::{UsageSample, UsageTally};
use crate::{Date, Error, Timestamp, UsageGroup, UsageQuery, UsageRecord, UsageRow};

impl Store {
    /// Store a batch of usage records in one transaction, with one
    /// prepared statement; returns how many were stored. Every record is
    /// checked first ([`Error::BadUsage`] names the first bad one, and then
    /// none is stored): `at` in UTC to the second, names, counts that fit
    /// a signed 64-bit column, texts within
    /// [`MAX_USAGE_TEXT_BYTES`](crate::MAX_USAGE_TEXT_BYTES). On
    /// PostgreSQL the batch is one binary `COPY` into the days'
    /// partitions, made first if new.
    pub fn insert_usage(&mut self, records: &[UsageRecord]) -> Result<usize, Error> {
        for (index, record) in records.iter().enumerate() {
            record.check().map_err(|source| Error::BadUsage {
                index,
                request_id: record.request_id.chars().take(64).collect(),
                source: Box::new(source),
            })?;
        }
        if records.is_empty() {
            return Ok(0);
        }
        let doing = "storing usage";
        if self.conn.backend() == Backend::Postgres {
            return self.copy_usage(records);
        }
        let tx = self
            .conn
            .unlocked_transaction()
            .map_err(Error::database(doing))?;
        {
            let last: i64 = tx
                .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM usage")
                .and_then(|mut stmt| stmt.query_row(params![], |row| row.get(0)))
                .map_err(Error::database(doing))?;
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO usage (id, at, day, request_id, key_id, team, route, target,
                        version, data_class, tokens_in, tokens_out, cost_micro_usd, latency_ms,
                        ttft_ms, status, error, prompt, answer)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16, ?17, ?18, ?19)",
                )
                .map_err(Error::database(doing))?;
            let mut id = last;
            for record in records {
                id = id.checked_add(1).ok_or(Error::Corrupt {
                    what: "the usage table's ids have reached the largest BIGINT".to_string(),
                })?;
                let at = record.at.as_str();
                stmt.execute(params![
                    id,
                    at,
                    at.get(..10).unwrap_or(at),
                    record.request_id,
                    record.key_id,
                    record.team,
                    record.route,
                    record.target,
                    record.version,
                    record.data_class.name(),
                    sql_int(record.tokens_in),
                    sql_int(record.tokens_out),
                    sql_int(record.cost_micro_usd),
                    sql_int(record.latency_ms),
                    record.ttft_ms.map(sql_int),
                    i64::from(record.status),
                    record.error,
                    record.prompt,
                    record.answer,
                ])
                .map_err(Error::database(doing))?;
            }
        }
        tx.commit().map_err(Error::database(doing))?;
        Ok(records.len())
    }

    /// Requests, errors, tokens, cost and latency percentiles per day,
    /// team, model, route or key, for the days and team (or key) asked,
    /// in the group's order. A request is an error when its status is 400
    /// or more or it carries an error. Sums saturate at `u64::MAX`.
    pub fn usage_report(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, Error> {
        let doing = "reporting usage";
        let group = match query.by {
            UsageGroup::Day => "day",
            UsageGroup::Team => "team",
            UsageGroup::Model => "target",
            UsageGroup::Route => "route",
            UsageGroup::Key => "COALESCE(key_id, '')",
        };
        let mut values: Vec<String> = Vec::new();
        let filters = [
            ("team = ", query.team.clone()),
            ("key_id = ", query.key_id.clone()),
            ("day >= ", query.since.map(|date| date.to_string())),
            ("day <= ", query.until.map(|date| date.to_string())),
        ];
        let mut clauses = Vec::new();
        for (condition, value) in filters {
            if let Some(value) = value {
                values.push(value);
                clauses.push(format!("{condition}?{}", values.len()));
            }
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT {group}, status, error IS NOT NULL, tokens_in, tokens_out, cost_micro_usd,
                    latency_ms, ttft_ms
             FROM usage {filter} ORDER BY 1"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(Error::database(doing))?;
        let mut rows = stmt
            .query(params_from_iter(values.iter()))
            .map_err(Error::database(doing))?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut report = Vec::new();
        let mut tally: Option<UsageTally> = None;
        while let Some(row) = rows.next().map_err(Error::database(doing))? {
            let group: String = row.get(0).map_err(Error::database(doing))?;
            let sample = (|| -> super::db::Result<UsageSample> {
                Ok(UsageSample {
                    error: row.get::<_, i64>(1)? >= 400 || row.get::<_, bool>(2)?,
                    tokens_in: count(row.get(3)?),
                    tokens_out: count(row.get(4)?),
                    cost_micro_usd: count(row.get(5)?),
                    latency_ms: count(row.get(6)?),
                    ttft_ms: row.get::<_, Option<i64>>(7)?.map(count),
                })
            })()
            .map_err(Error::database(doing))?;
            match &mut tally {
                Some(current) if current.group() == group => current.add(sample),
                _ => {
                    let mut next = UsageTally::new(group);
                    next.add(sample);
                    if let Some(done) = tally.replace(next) {
                        report.push(done.finish());
                    }
                }
            }
        }
        if let Some(done) = tally {
            report.push(done.finish());
        }
        Ok(report)
    }

    /// What each API key spent from `since` (UTC, to the second) on, as
    /// (key id, team, micro-USD), by key: for budgets, e.g. month to date
    /// when a server starts. Requests without a key are not counted.
    pub fn spent_micro_usd(&self, since: &Timestamp) -> Result<Vec<(String, String, u64)>, Error> {
        let doing = "summing spending per key";
        if !is_utc_seconds(since) {
            return Err(Error::BadTimestamp {
                field: "since",
                text: since.to_string(),
            });
        }
        let day = Date::of(since).to_string();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key_id, team, SUM(cost) FROM (
                    SELECT key_id, team, cost_micro_usd AS cost FROM usage
                    WHERE day > ?1 AND key_id IS NOT NULL
                    UNION ALL
                    SELECT key_id, team, cost_micro_usd FROM usage
                    WHERE day = ?1 AND at >= ?2 AND key_id IS NOT NULL
                 ) AS spent GROUP BY key_id, team ORDER BY key_id, team",
            )
            .map_err(Error::database(doing))?;
        let rows = stmt
            .query_map(params![day, since.as_str()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                ))
            })
            .map_err(Error::database(doing))?;
        rows.collect::<super::db::Result<Vec<_>>>()
            .map_err(Error::database(doing))
    }

    /// Delete the usage of every day before `cutoff` (the cutoff day is
    /// kept), `batch` rows per transaction until none is left, so that
    /// retention never holds the write lock for long; returns how many
    /// rows were deleted. Refused for a batch of 0. On PostgreSQL the old
    /// days' partitions are dropped whole instead (no row is deleted, so
    /// nothing is left for vacuum); `batch` is not used there.
    pub fn delete_usage_before(&mut self, cutoff: Date, batch: usize) -> Result<usize, Error> {
        let doing = "deleting old usage";
        if batch == 0 {
            return Err(Error::BadNumber {
                field: "batch",
                value: batch.to_string(),
                reason: "it must be at least 1",
            });
        }
        if self.conn.backend() == Backend::Postgres {
            return self.drop_usage_partitions_before(cutoff);
        }
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let cutoff = cutoff.to_string();
        let mut total = 0usize;
        loop {
            let tx = self
                .conn
                .unlocked_transaction()
                .map_err(Error::database(doing))?;
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM usage WHERE id IN
                        (SELECT id FROM usage WHERE day < ?1 LIMIT ?2)",
                )
                .and_then(|mut stmt| stmt.execute(params![cutoff, limit]))
                .map_err(Error::database(doing))?;
            tx.commit().map_err(Error::database(doing))?;
            total = total.saturating_add(deleted);
            if deleted < batch {
                return Ok(total);
            }
        }
    }
}
