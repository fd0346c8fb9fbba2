//! Evaluation runs as the inventory keeps them (migration 0005): what a
//! run of an evaluation suite against a recorded version measured, stored
//! with an `eval.recorded` audit event, and the promotion to production
//! that a policy may make wait for passing runs ([`Promotion`]).
//! Backend-free: the records, their checks, the JSON text stored and the
//! event's details; the store (`sqlite/eval.rs`) reads and writes rows.

use std::fmt;
use std::str::FromStr;

use modelgate_policy::{EvaluationPolicy, is_suite_name};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::audit::sha256_hex;
use crate::clock::is_utc_seconds;
use crate::record::check_actor;
use crate::{Error, Timestamp, VersionRef};

/// Largest report a run may store, in bytes of JSON (16 MiB).
pub const MAX_EVAL_REPORT_BYTES: usize = 16 << 20;
/// Largest summary or settings a run may store, in bytes of JSON (1 MiB
/// each).
pub const MAX_EVAL_SUMMARY_BYTES: usize = 1 << 20;
/// Longest target (`engine` or an endpoint URL), in bytes.
pub const MAX_EVAL_TARGET_BYTES: usize = 2048;
/// Most summary numbers copied into the `eval.recorded` event.
const MAX_EVENT_NUMBERS: usize = 32;
/// Longest array of numbers (an interval) copied into the event.
const MAX_EVENT_ARRAY: usize = 4;

/// What an evaluation suite measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalKind {
    /// Generated answers checked by assertions (pass rate).
    Generation,
    /// Log-likelihood ranking of choices (acc, acc_norm).
    MultipleChoice,
    /// Perplexity of a text corpus.
    Perplexity,
}

impl EvalKind {
    /// Every kind.
    pub const ALL: [EvalKind; 3] = [
        EvalKind::Generation,
        EvalKind::MultipleChoice,
        EvalKind::Perplexity,
    ];

    /// The stored name, as suite files write it: `generation`,
    /// `multiple_choice`, `perplexity`.
    pub fn name(self) -> &'static str {
        match self {
            EvalKind::Generation => "generation",
            EvalKind::MultipleChoice => "multiple_choice",
            EvalKind::Perplexity => "perplexity",
        }
    }
}

impl fmt::Display for EvalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EvalKind {
    type Err = Error;

    fn from_str(text: &str) -> Result<EvalKind, Error> {
        EvalKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| Error::BadName {
                kind: "suite kind",
                text: text.to_string(),
                reason: "it is not generation, multiple_choice or perplexity",
            })
    }
}

/// A run to record: what `modelgate eval` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvalRun {
    /// The suite's name (`[a-z0-9._-]+`).
    pub suite_name: String,
    /// The SHA-256 of the suite file and its data, lower-case hex.
    pub suite_digest: String,
    /// What the suite measures.
    pub kind: EvalKind,
    /// Where it ran: `engine` or the endpoint's URL.
    pub target: String,
    /// The engine or request settings.
    pub settings: Value,
    /// The sampling seed, when one was set.
    pub seed: Option<u64>,
    /// When the run started (UTC, to the second).
    pub started: Timestamp,
    /// Whether the suite's threshold was met; `None` when it has none.
    pub threshold_met: Option<bool>,
    /// The run's aggregates (pass rate, accuracy, perplexity, latency).
    pub summary: Value,
    /// The full report (at most [`MAX_EVAL_REPORT_BYTES`] of JSON).
    pub report: Value,
}

/// A stored run, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalRunSummary {
    /// The run's number in this inventory.
    pub id: i64,
    /// The version evaluated.
    pub reference: VersionRef,
    /// The suite's name.
    pub suite_name: String,
    /// The suite's SHA-256.
    pub suite_digest: String,
    /// What the suite measures.
    pub kind: EvalKind,
    /// `engine` or the endpoint's URL.
    pub target: String,
    /// When the run started (RFC 3339 UTC).
    pub started: String,
    /// When it was recorded (RFC 3339 UTC).
    pub recorded_at: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// Whether the threshold was met; `None` when the suite has none.
    pub threshold_met: Option<bool>,
    /// The run's aggregates.
    pub summary: Value,
    /// The audit event that records it.
    pub event_seq: u64,
}

/// A stored run with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalRun {
    /// The list entry.
    #[serde(flatten)]
    pub summary: EvalRunSummary,
    /// The engine or request settings.
    pub settings: Value,
    /// The sampling seed.
    pub seed: Option<u64>,
    /// The full report.
    pub report: Value,
}

/// Which runs [`Store::eval_runs`](crate::Store::eval_runs) lists; every
/// filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalRunFilter {
    /// Runs of this version.
    pub version: Option<VersionRef>,
    /// Runs of any version of this model.
    pub model: Option<String>,
    /// Runs of this suite.
    pub suite: Option<String>,
}

/// A promotion to production: who, why, and the evaluations the policy
/// requires. The rules: the version must be approved; then every suite in
/// `evaluation.required_for_production` needs a stored run of the version
/// with its threshold met, unless `override_evaluation` is set, which
/// needs a note (both recorded in the audit event).
#[derive(Debug, Clone, Default)]
pub struct Promotion {
    /// Who promotes.
    pub by: String,
    /// Why (required with an override).
    pub note: Option<String>,
    /// The policy's `[evaluation]` section.
    pub evaluation: EvaluationPolicy,
    /// Promote even though a required suite has no passing run.
    pub override_evaluation: bool,
}

/// A run checked and turned into the text the store keeps.
#[derive(Debug)]
pub(crate) struct CheckedEvalRun<'a> {
    pub(crate) by: String,
    pub(crate) run: &'a NewEvalRun,
    pub(crate) settings: String,
    pub(crate) summary: String,
    pub(crate) report: String,
    pub(crate) seed: Option<i64>,
}

impl NewEvalRun {
    /// Check what the store would refuse and write the JSON documents as
    /// the text stored (the report refused beyond
    /// [`MAX_EVAL_REPORT_BYTES`], summary and settings beyond
    /// [`MAX_EVAL_SUMMARY_BYTES`], without writing more than that).
    pub(crate) fn checked(&self, by: &str) -> Result<CheckedEvalRun<'_>, Error> {
        let by = check_actor("actor", by)?;
        if !is_suite_name(&self.suite_name) {
            return Err(Error::BadName {
                kind: "suite name",
                text: self.suite_name.chars().take(300).collect(),
                reason: "it is not 1 to 256 characters of a-z, 0-9, '.', '_' and '-'",
            });
        }
        if !is_sha256_hex(&self.suite_digest) {
            return Err(Error::BadName {
                kind: "suite digest",
                text: self.suite_digest.chars().take(80).collect(),
                reason: "it is not a SHA-256 in 64 lower-case hex digits",
            });
        }
        check_target(&self.target)?;
        if !is_utc_seconds(&self.started) {
            return Err(Error::BadTimestamp {
                field: "started",
                text: self.started.to_string(),
            });
        }
        let seed = self
            .seed
            .map(|seed| {
                i64::try_from(seed).map_err(|_| Error::BadNumber {
                    field: "seed",
                    value: seed.to_string(),
                    reason: "it must be at most 9223372036854775807",
                })
            })
            .transpose()?;
        Ok(CheckedEvalRun {
            by,
            run: self,
            settings: capped_json(&self.settings, "settings", MAX_EVAL_SUMMARY_BYTES)?,
            summary: capped_json(&self.summary, "summary", MAX_EVAL_SUMMARY_BYTES)?,
            report: capped_json(&self.report, "report", MAX_EVAL_REPORT_BYTES)?,
            seed,
        })
    }
}

impl CheckedEvalRun<'_> {
    /// The `eval.recorded` event's details: what identifies the run, its
    /// outcome and summary numbers, and the SHA-256 of the stored summary,
    /// settings and report, so that `audit verify` can compare the row.
    pub(crate) fn event_details(&self, id: i64, reference: &VersionRef) -> Value {
        let run = self.run;
        json!({
            "id": id,
            "name": reference.name,
            "version": reference.version,
            "suite": run.suite_name,
            "suite_digest": run.suite_digest,
            "kind": run.kind.name(),
            "target": run.target,
            "seed": self.seed,
            "started": run.started.as_str(),
            "threshold_met": run.threshold_met,
            "summary": summary_numbers(&run.summary),
            "summary_sha256": sha256_hex(self.summary.as_bytes()),
            "settings_sha256": sha256_hex(self.settings.as_bytes()),
            "report_sha256": sha256_hex(self.report.as_bytes()),
        })
    }
}

/// The summary's numbers for the audit event: its top-level entries that
/// are numbers, or short arrays of numbers (an interval), at most
/// [`MAX_EVENT_NUMBERS`] of them; everything else is covered by the
/// summary's SHA-256.
pub(crate) fn summary_numbers(summary: &Value) -> Value {
    let mut numbers = Map::new();
    let Some(entries) = summary.as_object() else {
        return Value::Object(numbers);
    };
    for (key, value) in entries {
        if numbers.len() >= MAX_EVENT_NUMBERS {
            break;
        }
        let keep = match value {
            Value::Number(_) => true,
            Value::Array(items) => {
                !items.is_empty()
                    && items.len() <= MAX_EVENT_ARRAY
                    && items.iter().all(Value::is_number)
            }
            _ => false,
        };
        if keep && key.len() <= 64 {
            numbers.insert(key.clone(), value.clone());
        }
    }
    Value::Object(numbers)
}

/// `engine` or an URL: not blank, no control characters or surrounding
/// spaces, at most [`MAX_EVAL_TARGET_BYTES`].
fn check_target(target: &str) -> Result<(), Error> {
    let bad = |reason| Error::BadName {
        kind: "target",
        text: target.chars().take(300).collect(),
        reason,
    };
    if target.trim().is_empty() {
        return Err(Error::Missing { field: "target" });
    }
    if target.len() > MAX_EVAL_TARGET_BYTES {
        return Err(bad("it is longer than 2048 bytes"));
    }
    if target.trim() != target {
        return Err(bad("it starts or ends with a space"));
    }
    if target.chars().any(char::is_control) {
        return Err(bad("it contains a control character"));
    }
    Ok(())
}

/// 64 lower-case hex digits.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `value` as compact JSON text, or [`Error::EvalTooLarge`] when it is
/// longer than `max` bytes (writing stops there).
fn capped_json(value: &Value, what: &'static str, max: usize) -> Result<String, Error> {
    let mut out = Capped {
        bytes: Vec::new(),
        max,
    };
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => String::from_utf8(out.bytes).map_err(|e| Error::Corrupt {
            what: format!("the evaluation run's {what} is not UTF-8 JSON: {e}"),
        }),
        Err(error) if error.is_io() => Err(Error::EvalTooLarge {
            what,
            max_bytes: max,
        }),
        Err(error) => Err(Error::Corrupt {
            what: format!("the evaluation run's {what} cannot be written as JSON: {error}"),
        }),
    }
}

/// A buffer that refuses to grow beyond `max` bytes.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.max {
            return Err(std::io::Error::other("too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run() -> NewEvalRun {
        NewEvalRun {
            suite_name: "support-bot".into(),
            suite_digest: "ab".repeat(32),
            kind: EvalKind::Generation,
            target: "http://127.0.0.1:8080/v1".into(),
            settings: json!({"n_ctx": 4096}),
            seed: Some(42),
            started: Timestamp::from_unix_seconds(1_795_379_320),
            threshold_met: Some(true),
            summary: json!({"cases": 2, "pass_rate": 1.0}),
            report: json!({"cases": []}),
        }
    }

    #[test]
    fn kinds_round_trip_and_strangers_are_refused() {
        for kind in EvalKind::ALL {
            assert_eq!(kind.name().parse::<EvalKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                Value::from(kind.name())
            );
        }
        assert!("multiple-choice".parse::<EvalKind>().is_err());
    }

    #[test]
    fn a_run_is_checked_field_by_field() {
        assert!(run().checked("alice").is_ok());
        let refused = |change: fn(&mut NewEvalRun)| {
            let mut new = run();
            change(&mut new);
            new.checked("alice").unwrap_err().to_string()
        };
        assert!(refused(|r| r.suite_name = "Support Bot".into()).contains("suite name"));
        assert!(refused(|r| r.suite_digest = "AB".repeat(32)).contains("suite digest"));
        assert!(refused(|r| r.suite_digest = "ab".into()).contains("suite digest"));
        assert!(refused(|r| r.target = " ".into()).contains("target is empty"));
        assert!(refused(|r| r.target = "a\nb".into()).contains("control character"));
        assert!(refused(|r| r.target = "x".repeat(3000)).contains("longer than 2048"));
        assert!(refused(|r| r.seed = Some(u64::MAX)).contains("seed"));
        assert!(
            refused(|r| r.started = Timestamp::parse("2026-11-22T20:28:40.5Z").unwrap())
                .contains("started")
        );
        assert!(run().checked(" ").is_err());
    }

    #[test]
    fn documents_beyond_their_cap_are_refused_without_writing_them_whole() {
        let big = Value::String("x".repeat(MAX_EVAL_SUMMARY_BYTES));
        assert!(matches!(
            capped_json(&big, "summary", MAX_EVAL_SUMMARY_BYTES),
            Err(Error::EvalTooLarge {
                what: "summary",
                ..
            })
        ));
        let fits = Value::String("x".repeat(MAX_EVAL_SUMMARY_BYTES - 2));
        assert_eq!(
            capped_json(&fits, "summary", MAX_EVAL_SUMMARY_BYTES)
                .unwrap()
                .len(),
            MAX_EVAL_SUMMARY_BYTES
        );
    }

    #[test]
    fn the_event_keeps_the_summary_numbers_only() {
        let summary = json!({
            "cases": 10, "pass_rate": 0.9, "wilson95": [0.6, 0.98], "acc": null,
            "note": "text", "nested": {"x": 1}, "long": [1, 2, 3, 4, 5], "mixed": [1, "a"],
        });
        assert_eq!(
            summary_numbers(&summary),
            json!({"cases": 10, "pass_rate": 0.9, "wilson95": [0.6, 0.98]})
        );
        assert_eq!(summary_numbers(&json!([1, 2])), json!({}));
        let many: Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), json!(i))).collect();
        let kept = summary_numbers(&Value::Object(many));
        assert_eq!(kept.as_object().unwrap().len(), MAX_EVENT_NUMBERS);
    }
}
