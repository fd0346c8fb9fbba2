//! Usage records: one per request the gateway served or refused, and the
//! reports over them. Backend-free: the records, their checks and the
//! per-group arithmetic (sums, percentiles); the store (`sqlite/usage.rs`)
//! inserts rows and streams them, one group after another, into
//! [`UsageTally`].
//!
//! Usage is not audited (one record per request would swamp the trail),
//! and is kept as long as the operator's retention says
//! ([`Store::delete_usage_before`](crate::Store::delete_usage_before)).

use serde::{Deserialize, Serialize};

use crate::clock::is_utc_seconds;
use crate::record::{check_name, check_name_or_ref};
use crate::{DataClass, Date, Error, Timestamp};

/// Longest `error`, `prompt` or `answer` a usage record stores, in bytes
/// ([`UsageRecord::clamp_texts`] cuts them to it).
pub const MAX_USAGE_TEXT_BYTES: usize = 1 << 20;

/// One request, as the gateway logs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// When the request arrived (UTC, to the second); its date is the
    /// record's day.
    #[serde(with = "crate::clock::timestamp_text")]
    pub at: Timestamp,
    /// The gateway's request id.
    pub request_id: String,
    /// The API key's public id (`None`: served without a key).
    pub key_id: Option<String>,
    /// The key's team.
    pub team: String,
    /// The route the client asked for (the request's `model`).
    pub route: String,
    /// What answered: a local model or an upstream (`provider/model`).
    pub target: String,
    /// The inventory version that answered, when the target is local
    /// (`NAME@VERSION`).
    pub version: Option<String>,
    /// The data class the request was handled as.
    pub data_class: DataClass,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// What it cost, in millionths of a US dollar.
    pub cost_micro_usd: u64,
    /// Time to the last byte, in milliseconds.
    pub latency_ms: u64,
    /// Time to the first token, for streamed answers.
    pub ttft_ms: Option<u64>,
    /// The HTTP status returned.
    pub status: u16,
    /// What went wrong, if anything (also after a 200, e.g. a stream cut
    /// short).
    pub error: Option<String>,
    /// The prompt, only when the server is configured to keep prompts.
    pub prompt: Option<String>,
    /// The answer, only when the server is configured to keep answers.
    pub answer: Option<String>,
}

impl UsageRecord {
    /// Whether the request counts as an error in reports: a status of 400
    /// or more, or an error message.
    pub fn is_error(&self) -> bool {
        self.status >= 400 || self.error.is_some()
    }

    /// Cut `error`, `prompt` and `answer` to [`MAX_USAGE_TEXT_BYTES`] (at
    /// a character boundary), so that the record can be stored.
    pub fn clamp_texts(&mut self) {
        for text in [&mut self.error, &mut self.prompt, &mut self.answer]
            .into_iter()
            .flatten()
        {
            if text.len() > MAX_USAGE_TEXT_BYTES {
                let mut end = MAX_USAGE_TEXT_BYTES;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
        }
    }

    /// Checks what the store would refuse: `at` in UTC to the second,
    /// names as [`check_name`] wants them (route, target and version may
    /// also be `NAME@VERSION`), texts within
    /// [`MAX_USAGE_TEXT_BYTES`], counts within a signed 64-bit column.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if !is_utc_seconds(&self.at) {
            return Err(Error::BadTimestamp {
                field: "at",
                text: self.at.to_string(),
            });
        }
        check_name("request_id", &self.request_id)?;
        if let Some(key_id) = &self.key_id {
            check_name("key_id", key_id)?;
        }
        check_name("team", &self.team)?;
        check_name_or_ref("route", &self.route)?;
        check_name_or_ref("target", &self.target)?;
        if let Some(version) = &self.version {
            check_name_or_ref("version", version)?;
        }
        for (field, value) in [
            ("tokens_in", self.tokens_in),
            ("tokens_out", self.tokens_out),
            ("cost_micro_usd", self.cost_micro_usd),
            ("latency_ms", self.latency_ms),
            ("ttft_ms", self.ttft_ms.unwrap_or(0)),
        ] {
            if i64::try_from(value).is_err() {
                return Err(Error::BadNumber {
                    field,
                    value: value.to_string(),
                    reason: "it must be at most 9223372036854775807",
                });
            }
        }
        for (field, text) in [
            ("error", &self.error),
            ("prompt", &self.prompt),
            ("answer", &self.answer),
        ] {
            if let Some(text) = text
                && text.len() > MAX_USAGE_TEXT_BYTES
            {
                return Err(Error::BadNumber {
                    field,
                    value: format!("{} bytes", text.len()),
                    reason: "it must be at most 1 MiB; call UsageRecord::clamp_texts",
                });
            }
        }
        Ok(())
    }
}

/// What a usage report is grouped by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageGroup {
    /// UTC day (`YYYY-MM-DD`).
    #[default]
    Day,
    /// Team.
    Team,
    /// What answered ([`UsageRecord::target`]).
    Model,
    /// The route asked for ([`UsageRecord::route`]).
    Route,
    /// API key id (empty for requests without a key).
    Key,
}

impl UsageGroup {
    /// `day`, `team`, `model`, `route`, `key`.
    pub fn name(self) -> &'static str {
        match self {
            UsageGroup::Day => "day",
            UsageGroup::Team => "team",
            UsageGroup::Model => "model",
            UsageGroup::Route => "route",
            UsageGroup::Key => "key",
        }
    }
}

impl std::str::FromStr for UsageGroup {
    type Err = Error;

    fn from_str(text: &str) -> Result<UsageGroup, Error> {
        [
            UsageGroup::Day,
            UsageGroup::Team,
            UsageGroup::Model,
            UsageGroup::Route,
            UsageGroup::Key,
        ]
        .into_iter()
        .find(|group| group.name() == text)
        .ok_or_else(|| Error::BadName {
            kind: "usage group",
            text: text.chars().take(40).collect(),
            reason: "it must be day, team, model, route or key",
        })
    }
}

/// Which usage to report, and how to group it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only this team.
    pub team: Option<String>,
    /// Only this key.
    pub key_id: Option<String>,
    /// From this day (UTC, inclusive).
    pub since: Option<Date>,
    /// To this day (UTC, inclusive).
    pub until: Option<Date>,
    /// Grouped by.
    pub by: UsageGroup,
}

/// One line of a usage report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// The day, team, model, route or key.
    pub group: String,
    /// Requests.
    pub requests: u64,
    /// Requests with a status of 400 or more, or an error.
    pub errors: u64,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Cost, in millionths of a US dollar.
    pub cost_micro_usd: u64,
    /// Median latency.
    pub latency_p50_ms: Option<u64>,
    /// 95th percentile latency.
    pub latency_p95_ms: Option<u64>,
    /// Median time to first token, over the streamed requests.
    pub ttft_p50_ms: Option<u64>,
}

/// One stored request, as a report reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UsageSample {
    pub(crate) error: bool,
    pub(crate) tokens_in: u64,
    pub(crate) tokens_out: u64,
    pub(crate) cost_micro_usd: u64,
    pub(crate) latency_ms: u64,
    pub(crate) ttft_ms: Option<u64>,
}

/// Sums and percentiles of one group at a time, fed its samples in any
/// order. Sums saturate rather than wrap.
#[derive(Debug, Default)]
pub(crate) struct UsageTally {
    row: UsageRow,
    latencies: Vec<u64>,
    ttfts: Vec<u64>,
}

impl UsageTally {
    /// Start a group.
    pub(crate) fn new(group: String) -> UsageTally {
        UsageTally {
            row: UsageRow {
                group,
                ..UsageRow::default()
            },
            latencies: Vec::new(),
            ttfts: Vec::new(),
        }
    }

    /// The group being tallied.
    pub(crate) fn group(&self) -> &str {
        &self.row.group
    }

    pub(crate) fn add(&mut self, sample: UsageSample) {
        let row = &mut self.row;
        row.requests = row.requests.saturating_add(1);
        row.errors = row.errors.saturating_add(u64::from(sample.error));
        row.tokens_in = row.tokens_in.saturating_add(sample.tokens_in);
        row.tokens_out = row.tokens_out.saturating_add(sample.tokens_out);
        row.cost_micro_usd = row.cost_micro_usd.saturating_add(sample.cost_micro_usd);
        self.latencies.push(sample.latency_ms);
        if let Some(ttft) = sample.ttft_ms {
            self.ttfts.push(ttft);
        }
    }

    pub(crate) fn finish(mut self) -> UsageRow {
        self.row.latency_p50_ms = percentile(&mut self.latencies, 50);
        self.row.latency_p95_ms = percentile(&mut self.latencies, 95);
        self.row.ttft_p50_ms = percentile(&mut self.ttfts, 50);
        self.row
    }
}

/// The nearest-rank `pct`th percentile (the smallest value with at least
/// `pct`% of the values at or below it).
fn percentile(values: &mut [u64], pct: usize) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * pct).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record() -> UsageRecord {
        UsageRecord {
            at: Timestamp::from_unix_seconds(1_795_379_320),
            request_id: "req-1".into(),
            key_id: Some("abcdefgh2345".into()),
            team: "search".into(),
            route: "chat".into(),
            target: "smollm2@1.0".into(),
            version: Some("smollm2@1.0".into()),
            data_class: DataClass::Internal,
            tokens_in: 10,
            tokens_out: 20,
            cost_micro_usd: 30,
            latency_ms: 40,
            ttft_ms: Some(5),
            status: 200,
            error: None,
            prompt: None,
            answer: None,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7], 50), Some(7));
        assert_eq!(percentile(&mut [4, 1, 3, 2], 50), Some(2));
        assert_eq!(percentile(&mut [5, 1, 4, 2, 3], 50), Some(3));
        let mut hundred: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut hundred, 95), Some(95));
        assert_eq!(percentile(&mut hundred, 100), Some(100));
    }

    #[test]
    fn records_are_checked_field_by_field() {
        assert!(record().check().is_ok());
        let mut bad = record();
        bad.at = Timestamp::parse("2026-11-22T21:28:40+01:00").unwrap();
        assert!(matches!(
            bad.check(),
            Err(Error::BadTimestamp { field: "at", .. })
        ));
        let mut bad = record();
        bad.team = "a\nb".into();
        assert!(matches!(
            bad.check(),
            Err(Error::BadName { kind: "team", .. })
        ));
        let mut bad = record();
        bad.cost_micro_usd = u64::MAX;
        assert!(matches!(
            bad.check(),
            Err(Error::BadNumber {
                field: "cost_micro_usd",
                ..
            })
        ));
        let mut long = record();
        long.prompt = Some("é".repeat(MAX_USAGE_TEXT_BYTES));
        assert!(matches!(
            long.check(),
            Err(Error::BadNumber {
                field: "prompt",
                ..
            })
        ));
        long.clamp_texts();
        assert!(long.check().is_ok());
        assert_eq!(long.prompt.as_ref().unwrap().len(), MAX_USAGE_TEXT_BYTES);
        let json = serde_json::to_string(&record()).unwrap();
        assert_eq!(
            serde_json::from_str::<UsageRecord>(&json).unwrap(),
            record()
        );
    }

    #[test]
    fn a_tally_sums_and_counts_errors() {
        let mut tally = UsageTally::new("search".into());
        for (latency, error) in [(30, false), (10, true), (20, false)] {
            tally.add(UsageSample {
                error,
                tokens_in: 1,
                tokens_out: 2,
                cost_micro_usd: u64::MAX / 2,
                latency_ms: latency,
                ttft_ms: (latency > 10).then_some(latency / 10),
            });
        }
        assert_eq!(tally.group(), "search");
        let row = tally.finish();
        assert_eq!((row.requests, row.errors), (3, 1));
        assert_eq!((row.tokens_in, row.tokens_out), (3, 6));
        assert_eq!(row.cost_micro_usd, u64::MAX);
        assert_eq!(row.latency_p50_ms, Some(20));
        assert_eq!(row.latency_p95_ms, Some(30));
        assert_eq!(row.ttft_p50_ms, Some(2));
    }
}
