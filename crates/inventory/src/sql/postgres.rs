//! What PostgreSQL does its own way: usage records go in by binary `COPY`
//! into day partitions (`usage_dYYYYMMDD`, made on first use), and
//! retention drops whole partitions. Everything else is the shared SQL of
//! the sibling modules.

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;

use super::Store;
use super::db::{DatabaseError, PARTITION_LOCK, Value, pg_params};
use crate::encoding::sql_int;
use crate::{Date, Error, UsageRecord};

/// SQLSTATE 23514 (`check_violation`): also what inserting a row with no
/// partition for its day says.
const NO_PARTITION: &str = "23514";

/// The columns `COPY` writes (the id comes from the sequence).
const COPY_USAGE: &str = "COPY usage (at, day, request_id, key_id, team, route, target, version,
    data_class, tokens_in, tokens_out, cost_micro_usd, latency_ms, ttft_ms, status, error,
    prompt, answer) FROM STDIN (FORMAT binary)";

/// Their types, in order.
const COPY_TYPES: [Type; 18] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// The partition of `day` (`YYYY-MM-DD`): `usage_dYYYYMMDD`.
pub(super) fn partition_name(day: &str) -> String {
    format!("usage_d{}", day.replace('-', ""))
}

/// The day of a partition's name, if it is one of ours.
fn partition_day(name: &str) -> Option<Date> {
    let digits = name.strip_prefix("usage_d")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let text = format!(
        "{}-{}-{}",
        digits.get(..4)?,
        digits.get(4..6)?,
        digits.get(6..)?
    );
    text.parse().ok()
}

impl Store {
    /// Make sure every day in `days` has its partition. Each is created
    /// under [`PARTITION_LOCK`] (replicas may race for a new day), then
    /// remembered.
    pub(super) fn ensure_usage_partitions(&mut self, days: &[String]) -> Result<(), Error> {
        let doing = "creating a usage partition";
        let missing: Vec<&String> = days
            .iter()
            .filter(|day| !self.partitions.contains(*day))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let Some(pg) = self.conn.postgres() else {
            return Ok(());
        };
        let mut statements = String::from("BEGIN; SELECT pg_advisory_xact_lock(");
        statements.push_str(&PARTITION_LOCK.to_string());
        statements.push_str(");\n");
        for day in &missing {
            let date: Date = day.parse().map_err(|_| Error::Corrupt {
                what: format!("usage day {day:?} is not a date"),
            })?;
            // The day is a checked date, so the names and bounds are
            // digits and dashes only.
            statements.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF usage FOR VALUES FROM ('{date}') TO ('{}');\n",
                partition_name(day),
                date.add_days(1)
            ));
        }
        statements.push_str("COMMIT;");
        let created = pg.with_client(|client| Ok(client.batch_execute(&statements)?));
        if let Err(error) = created {
            let _ = pg.with_client(|client| Ok(client.batch_execute("ROLLBACK")?));
            return Err(Error::database(doing)(error));
        }
        for day in missing {
            self.partitions.insert(day.clone());
        }
        Ok(())
    }

    /// PostgreSQL's [`Store::insert_usage`]: one binary `COPY` in one
    /// transaction, after making the days' partitions. If another replica
    /// dropped a partition this one remembered, the partitions are made
    /// again and the copy retried once.
    pub(super) fn copy_usage(&mut self, records: &[UsageRecord]) -> Result<usize, Error> {
        let mut days: Vec<String> = records
            .iter()
            .map(|r| r.at.as_str().get(..10).unwrap_or_default().to_owned())
            .collect();
        days.sort();
        days.dedup();
        self.ensure_usage_partitions(&days)?;
        let copied = match self.copy_usage_once(records) {
            Err(error) if error.sql_state() == Some(NO_PARTITION) => {
                self.partitions.clear();
                self.ensure_usage_partitions(&days)?;
                self.copy_usage_once(records)
            }
            done => done,
        };
        copied.map_err(Error::database("storing usage"))
    }

    fn copy_usage_once(&self, records: &[UsageRecord]) -> Result<usize, DatabaseError> {
        let Some(pg) = self.conn.postgres() else {
            return Ok(0);
        };
        let rows: Vec<[Value; 18]> = records.iter().map(usage_values).collect();
        pg.with_client(|client| {
            let mut tx = client.transaction()?;
            let sink = tx.copy_in(COPY_USAGE)?;
            let mut writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
            for row in &rows {
                writer.write(&pg_params(row))?;
            }
            writer.finish()?;
            tx.commit()?;
            Ok(rows.len())
        })
    }

    /// PostgreSQL's [`Store::delete_usage_before`]: drop every partition
    /// of a day before `cutoff`; returns how many rows they held.
    pub(super) fn drop_usage_partitions_before(&mut self, cutoff: Date) -> Result<usize, Error> {
        let doing = "dropping old usage partitions";
        let names: Vec<String> = self
            .conn
            .column(
                "SELECT child.relname::text FROM pg_catalog.pg_inherits AS link
                 JOIN pg_catalog.pg_class AS child ON child.oid = link.inhrelid
                 WHERE link.inhparent = 'usage'::regclass ORDER BY 1",
            )
            .map_err(Error::database(doing))?;
        let old: Vec<(String, Date)> = names
            .into_iter()
            .filter_map(|name| partition_day(&name).map(|day| (name, day)))
            .filter(|(_, day)| *day < cutoff)
            .collect();
        let mut total = 0usize;
        for (name, day) in old {
            // One partition per transaction: the drop holds the parent's
            // lock only for a moment.
            let tx = self
                .conn
                .unlocked_transaction()
                .map_err(Error::database(doing))?;
            tx.execute(
                &format!("SELECT pg_advisory_xact_lock({PARTITION_LOCK})"),
                [] as [i64; 0],
            )
            .map_err(Error::database(doing))?;
            let rows: i64 = tx
                .query_row(
                    &format!("SELECT COUNT(*) FROM {name}"),
                    [] as [i64; 0],
                    |row| row.get(0),
                )
                .map_err(Error::database(doing))?;
            tx.execute_batch(&format!("DROP TABLE {name}"))
                .map_err(Error::database(doing))?;
            tx.commit().map_err(Error::database(doing))?;
            self.partitions.remove(&day.to_string());
            total = total.saturating_add(usize::try_from(rows).unwrap_or(0));
        }
        Ok(total)
    }
}

/// One record's `COPY` row, in [`COPY_TYPES`]' order.
fn usage_values(record: &UsageRecord) -> [Value; 18] {
    let text = |s: &str| Value::Text(s.to_owned());
    let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
    let at = record.at.as_str();
    [
        text(at),
        text(at.get(..10).unwrap_or(at)),
        text(&record.request_id),
        opt(&record.key_id),
        text(&record.team),
        text(&record.route),
        text(&record.target),
        opt(&record.version),
        text(record.data_class.name()),
        Value::Integer(sql_int(record.tokens_in)),
        Value::Integer(sql_int(record.tokens_out)),
        Value::Integer(sql_int(record.cost_micro_usd)),
        Value::Integer(sql_int(record.latency_ms)),
        record
            .ttft_ms
            .map_or(Value::Null, |ms| Value::Integer(sql_int(ms))),
        Value::Integer(i64::from(record.status)),
        opt(&record.error),
        opt(&record.prompt),
        opt(&record.answer),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_by_day_and_read_back() {
        assert_eq!(partition_name("2026-12-03"), "usage_d20261203");
        assert_eq!(
            partition_day("usage_d20261203"),
            Some("2026-12-03".parse().unwrap_or_else(|_| unreachable!()))
        );
        for other in [
            "usage",
            "usage_d2026120",
            "usage_d2026-12-",
            "usage_d20261340",
        ] {
            assert_eq!(partition_day(other), None, "{other}");
        }
    }
}
