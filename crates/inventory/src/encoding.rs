//! How the inventory's values are written as text and numbers in any SQL
//! backend, and read back: verdicts, reviewers and sign-offs as their names
//! and JSON, counts as signed BIGINT. Backend-free: the backends move these
//! values in and out of rows; a value that does not read back is
//! [`Error::Corrupt`].

use modelgate_policy::{Decision, Reviewer};
use serde_json::{Value, json};

use crate::record::parse_reviewer;
use crate::{Error, Limits, SignOff};

pub(crate) fn parse_decision(text: &str) -> Result<Decision, Error> {
    [
        Decision::Approved,
        Decision::NeedsReview,
        Decision::Rejected,
    ]
    .into_iter()
    .find(|d| d.name() == text)
    .ok_or_else(|| Error::Corrupt {
        what: format!("unknown verdict {text:?}"),
    })
}

pub(crate) fn parse_reviewers(text: &str) -> Result<Vec<Reviewer>, Error> {
    let names: Vec<String> = parse_json(text, "reviewers")?;
    names
        .iter()
        .map(|name| {
            parse_reviewer(name).map_err(|_| Error::Corrupt {
                what: format!("unknown reviewer {name:?}"),
            })
        })
        .collect()
}

pub(crate) fn parse_sign_offs(text: &str) -> Result<Vec<SignOff>, Error> {
    let raw: Vec<(String, String)> = parse_json::<Vec<Value>>(text, "sign-offs")?
        .iter()
        .map(|v| {
            let field = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
            (field("reviewer"), field("by"))
        })
        .collect();
    raw.into_iter()
        .map(|(reviewer, by)| {
            Ok(SignOff {
                reviewer: parse_reviewer(&reviewer).map_err(|_| Error::Corrupt {
                    what: format!("unknown reviewer {reviewer:?}"),
                })?,
                by,
            })
        })
        .collect()
}

pub(crate) fn sign_offs_json(sign_offs: &[SignOff]) -> Value {
    Value::Array(
        sign_offs
            .iter()
            .map(|s| json!({"reviewer": s.reviewer.name(), "by": s.by}))
            .collect(),
    )
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt {
        what: format!("stored {what}: {e}"),
    })
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// Limits as four nullable BIGINT columns: rpm, tpm, max_parallel,
/// budget_micro_usd (checked to fit by [`Limits`]' own check).
pub(crate) fn limits_to_sql(limits: Limits) -> [Option<i64>; 4] {
    [
        limits.rpm.map(i64::from),
        limits.tpm.map(i64::from),
        limits.max_parallel.map(i64::from),
        limits.budget_micro_usd.map(sql_int),
    ]
}

/// Limits from their four columns; a negative or oversized value is
/// [`Error::Corrupt`], naming `subject` (`key:<id>`, `team:<name>`).
pub(crate) fn limits_from_sql(values: [Option<i64>; 4], subject: &str) -> Result<Limits, Error> {
    let [rpm, tpm, max_parallel, budget] = values;
    let small = |value: Option<i64>, field: &str| {
        value
            .map(|n| {
                u32::try_from(n).map_err(|_| Error::Corrupt {
                    what: format!("{subject}'s {field} limit {n} is not a count"),
                })
            })
            .transpose()
    };
    Ok(Limits {
        rpm: small(rpm, "rpm")?,
        tpm: small(tpm, "tpm")?,
        max_parallel: small(max_parallel, "max_parallel")?,
        budget_micro_usd: budget
            .map(|n| {
                u64::try_from(n).map_err(|_| Error::Corrupt {
                    what: format!("{subject}'s budget {n} is negative"),
                })
            })
            .transpose()?,
    })
}

/// SQL's BIGINT is signed; counts and sizes beyond it are clamped.
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_read_back_and_strangers_are_corrupt() {
        for decision in [
            Decision::Approved,
            Decision::NeedsReview,
            Decision::Rejected,
        ] {
            assert_eq!(parse_decision(decision.name()).unwrap(), decision);
        }
        assert!(matches!(
            parse_decision("maybe"),
            Err(Error::Corrupt { .. })
        ));
        let reviewers = [Reviewer::Legal, Reviewer::Governance];
        let names: Vec<&str> = reviewers.iter().map(|r| r.name()).collect();
        assert_eq!(parse_reviewers(&to_json(&names)).unwrap(), reviewers);
        assert!(parse_reviewers(r#"["legal", "lawyers"]"#).is_err());
        assert!(parse_reviewers("not json").is_err());
        let sign_offs: Vec<SignOff> = vec![
            "legal=lena".parse().unwrap(),
            "security=sam@example.com".parse().unwrap(),
        ];
        let text = sign_offs_json(&sign_offs).to_string();
        assert_eq!(parse_sign_offs(&text).unwrap(), sign_offs);
        assert!(parse_sign_offs(r#"[{"reviewer": "cfo", "by": "x"}]"#).is_err());
        let limits = Limits {
            rpm: Some(u32::MAX),
            tpm: None,
            max_parallel: Some(0),
            budget_micro_usd: Some(5),
        };
        assert_eq!(
            limits_from_sql(limits_to_sql(limits), "key:x").unwrap(),
            limits
        );
        assert!(limits_from_sql([Some(-1), None, None, None], "key:x").is_err());
        assert!(limits_from_sql([Some(1 << 40), None, None, None], "key:x").is_err());
        assert!(limits_from_sql([None, None, None, Some(-5)], "key:x").is_err());
        assert_eq!(sql_int(u64::MAX), i64::MAX);
        assert_eq!(sql_int(42), 42);
    }
}
