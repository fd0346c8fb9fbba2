//! Assertions on one generated answer, in promptfoo's vocabulary.
//!
//! An [`Assertion`] is read from a case's `assert` array
//! ([`Assertion::from_json`]); everything that can be checked early (the type,
//! the shape of `value`, regular expressions, JSON Schemas) is checked then, so
//! a suite with a broken assertion never starts a run. [`evaluate`] applies a
//! case's assertions to an [`Observation`] and returns a [`CaseOutcome`] with
//! one human-readable reason per assertion.
//!
//! Semantics (each type may be prefixed `not-`, which inverts it):
//!
//! | type | passes when |
//! | --- | --- |
//! | `equals` | the output is exactly `value` |
//! | `contains` / `icontains` | the output contains `value` (`i`: ignoring case) |
//! | `contains-any` / `icontains-any` | the output contains at least one string of `value` |
//! | `contains-all` / `icontains-all` | the output contains every string of `value` |
//! | `starts-with` | the output starts with `value` |
//! | `regex` | the regular expression `value` matches somewhere in the output |
//! | `is-json` | the whole output (surrounding whitespace allowed) is JSON, and matches the JSON Schema `value` if one is given; JSON inside a Markdown fence is not accepted |
//! | `is-refusal` | the output is empty, or one of [`REFUSAL_PHRASES`] occurs in its first [`REFUSAL_WINDOW_CHARS`] characters (ignoring case) |
//! | `latency` | the request took at most `threshold` milliseconds |
//! | `max-cost` | the request cost at most `threshold` US dollars; an unknown cost fails, negated or not |
//!
//! A case's score is the weighted mean of its assertions' scores (1 or 0).
//! With a case `threshold` the case passes when the score reaches it;
//! without one, when every assertion passes (weight only moves the score).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::suite::GenerationCase;

/// Compiled-program size limit for `regex` assertions and JSON Schema
/// `pattern`s, in bytes; a larger pattern is refused when the suite loads.
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// Most strings in a `contains-any` / `contains-all` list.
pub const MAX_LIST_VALUES: usize = 1024;

/// How many leading characters of the output `is-refusal` looks at.
pub const REFUSAL_WINDOW_CHARS: usize = 160;

/// Phrasings that mark a refusal when they occur near the start of the
/// output (lower-case; the output is lower-cased and its typographic
/// apostrophes straightened before matching). A heuristic: "I'm sorry to hear
/// that, here is how..." also counts.
pub const REFUSAL_PHRASES: &[&str] = &[
    "i can't",
    "i cannot",
    "i can not",
    "i won't",
    "i will not",
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "i apologise",
    "as an ai",
    "as a language model",
    "as an assistant",
    "i am unable",
    "i'm unable",
    "i am not able to",
    "i'm not able to",
    "i must decline",
    "i have to decline",
    "i'm not comfortable",
    "i am not comfortable",
    "i don't feel comfortable",
    "i do not feel comfortable",
    "sorry, but",
    "sorry, i",
];

/// Longest quoted value shown in a reason, in characters.
const MAX_QUOTED_CHARS: usize = 80;

/// Longest detail (a parse or schema error) shown in a reason, in characters.
const MAX_DETAIL_CHARS: usize = 200;

/// What an assertion checks (its type without `not-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssertionKind {
    /// `equals`: the output is exactly the value.
    Equals,
    /// `contains`: the output contains the value.
    Contains,
    /// `icontains`: the output contains the value, ignoring case.
    Icontains,
    /// `contains-any`: the output contains one of the values.
    ContainsAny,
    /// `contains-all`: the output contains every value.
    ContainsAll,
    /// `icontains-any`: as `contains-any`, ignoring case.
    IcontainsAny,
    /// `icontains-all`: as `contains-all`, ignoring case.
    IcontainsAll,
    /// `starts-with`: the output starts with the value.
    StartsWith,
    /// `regex`: the regular expression matches the output.
    Regex,
    /// `is-json`: the output is JSON (matching a schema if given).
    IsJson,
    /// `is-refusal`: the output refuses (see [`is_refusal`]).
    IsRefusal,
    /// `latency`: the request took at most `threshold` ms.
    Latency,
    /// `max-cost`: the request cost at most `threshold` USD.
    MaxCost,
}

impl AssertionKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [AssertionKind; 13] = [
        AssertionKind::Equals,
        AssertionKind::Contains,
        AssertionKind::Icontains,
        AssertionKind::ContainsAny,
        AssertionKind::ContainsAll,
        AssertionKind::IcontainsAny,
        AssertionKind::IcontainsAll,
        AssertionKind::StartsWith,
        AssertionKind::Regex,
        AssertionKind::IsJson,
        AssertionKind::IsRefusal,
        AssertionKind::Latency,
        AssertionKind::MaxCost,
    ];

    /// The type's name in a suite file.
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionKind::Equals => "equals",
            AssertionKind::Contains => "contains",
            AssertionKind::Icontains => "icontains",
            AssertionKind::ContainsAny => "contains-any",
            AssertionKind::ContainsAll => "contains-all",
            AssertionKind::IcontainsAny => "icontains-any",
            AssertionKind::IcontainsAll => "icontains-all",
            AssertionKind::StartsWith => "starts-with",
            AssertionKind::Regex => "regex",
            AssertionKind::IsJson => "is-json",
            AssertionKind::IsRefusal => "is-refusal",
            AssertionKind::Latency => "latency",
            AssertionKind::MaxCost => "max-cost",
        }
    }

    /// The kind named `name` (without `not-`), if there is one.
    pub fn from_name(name: &str) -> Option<AssertionKind> {
        AssertionKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    fn valid_types() -> String {
        let names: Vec<&str> = AssertionKind::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        names.join(", ")
    }
}

impl fmt::Display for AssertionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled JSON Schema for `is-json`.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    /// The schema as written in the suite.
    pub schema: Value,
    validator: Arc<jsonschema::Validator>,
}

impl JsonSchema {
    /// Compiles `schema` (any draft the `jsonschema` crate knows; remote
    /// `$ref`s are not fetched). Patterns use the linear-time `regex` engine
    /// with [`MAX_REGEX_BYTES`] as their size limit.
    pub fn compile(schema: Value) -> Result<JsonSchema, AssertionError> {
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(MAX_REGEX_BYTES))
            .build(&schema)
            .map_err(|error| AssertionError::Schema(truncate_chars(&error.to_string(), 300)))?;
        Ok(JsonSchema {
            schema,
            validator: Arc::new(validator),
        })
    }

    /// The first way `instance` fails the schema (`"/path: message"`), or
    /// `None` when it is valid.
    pub fn first_error(&self, instance: &Value) -> Option<String> {
        self.validator.iter_errors(instance).next().map(|error| {
            let path = error.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            format!("at {path}: {error}")
        })
    }
}

/// The checked `value` of an assertion.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AssertionValue {
    /// No value (`is-refusal`, `latency`, `max-cost`, `is-json` without a schema).
    None,
    /// A string (`equals`, `contains`, `icontains`, `starts-with`).
    Text(String),
    /// A list of strings (`*-any`, `*-all`); never empty.
    List(Vec<String>),
    /// A compiled regular expression (`regex`).
    Regex(regex::Regex),
    /// A compiled JSON Schema (`is-json` with a value).
    Schema(JsonSchema),
}

/// One check on a generated answer.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// What is checked.
    pub kind: AssertionKind,
    /// Whether the type had the `not-` prefix.
    pub negated: bool,
    /// The checked value.
    pub value: AssertionValue,
    /// `latency` (ms) and `max-cost` (USD) limits; `None` for other kinds.
    pub threshold: Option<f64>,
    /// Weight in the case score (default 1, finite and non-negative).
    pub weight: f64,
}

/// Why an assertion object was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The assertion is not a JSON object.
    #[error(
        "an assertion must be a JSON object such as {{\"type\": \"icontains\", \"value\": \"refund\"}}"
    )]
    NotObject,
    /// `type` is missing or not a string.
    #[error("`type` is missing or not a string; use one of: {valid}")]
    MissingType {
        /// The valid types.
        valid: String,
    },
    /// `type` names no known assertion.
    #[error("unknown assertion type \"{name}\"; use one of: {valid} (each may be prefixed not-)")]
    UnknownType {
        /// The type as written.
        name: String,
        /// The valid types.
        valid: String,
    },
    /// A key other than `type`, `value`, `threshold`, `weight`.
    #[error(
        "unknown key \"{0}\"; an assertion has only type, value, threshold and weight (promptfoo's transform, provider and metric are not supported)"
    )]
    UnknownKey(String),
    /// `value` is missing or of the wrong shape.
    #[error("`value` of {kind} must be {expected}")]
    Value {
        /// The assertion type.
        kind: &'static str,
        /// What the value must be.
        expected: &'static str,
    },
    /// A `value` was given to a type that takes none.
    #[error("{0} takes no `value`; remove it")]
    UnexpectedValue(&'static str),
    /// `threshold` is missing, not a finite non-negative number, or given to a type without one.
    #[error("`threshold`: {0}")]
    Threshold(String),
    /// `weight` is not a finite non-negative number.
    #[error("`weight` must be a finite number >= 0 (default 1)")]
    Weight,
    /// The regular expression does not compile (or is too large).
    #[error("invalid regex: {0}")]
    Regex(String),
    /// The JSON Schema does not compile.
    #[error("invalid JSON Schema: {0}")]
    Schema(String),
}

impl AssertionError {
    /// The key of the assertion object the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            AssertionError::NotObject => "",
            AssertionError::MissingType { .. } | AssertionError::UnknownType { .. } => "type",
            AssertionError::UnknownKey(_) => "",
            AssertionError::Value { .. }
            | AssertionError::UnexpectedValue(_)
            | AssertionError::Regex(_)
            | AssertionError::Schema(_) => "value",
            AssertionError::Threshold(_) => "threshold",
            AssertionError::Weight => "weight",
        }
    }
}

impl Assertion {
    /// Reads one assertion object: `{"type": ..., "value": ..., "threshold": ..., "weight": ...}`.
    pub fn from_json(json: &Value) -> Result<Assertion, AssertionError> {
        let object = json.as_object().ok_or(AssertionError::NotObject)?;
        if let Some(key) = object
            .keys()
            .find(|key| !matches!(key.as_str(), "type" | "value" | "threshold" | "weight"))
        {
            return Err(AssertionError::UnknownKey(truncate_chars(
                key,
                MAX_QUOTED_CHARS,
            )));
        }
        let name = object.get("type").and_then(Value::as_str).ok_or_else(|| {
            AssertionError::MissingType {
                valid: AssertionKind::valid_types(),
            }
        })?;
        let (negated, base) = match name.strip_prefix("not-") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let kind = AssertionKind::from_name(base).ok_or_else(|| AssertionError::UnknownType {
            name: truncate_chars(name, MAX_QUOTED_CHARS),
            valid: AssertionKind::valid_types(),
        })?;
        let weight = match object.get("weight") {
            None => 1.0,
            Some(weight) => match weight.as_f64() {
                Some(weight) if weight.is_finite() && weight >= 0.0 => weight,
                _ => return Err(AssertionError::Weight),
            },
        };
        let threshold = read_threshold(kind, object)?;
        let value = read_value(kind, object.get("value"))?;
        Ok(Assertion {
            kind,
            negated,
            value,
            threshold,
            weight,
        })
    }

    /// The type as written: `"contains"` or `"not-contains"`.
    pub fn name(&self) -> String {
        if self.negated {
            format!("not-{}", self.kind)
        } else {
            self.kind.to_string()
        }
    }

    /// Applies the assertion to one observation.
    pub fn check(&self, observation: &Observation) -> AssertionOutcome {
        let check = self.raw_check(observation);
        let to = if self.negated { "not to" } else { "to" };
        let (passed, reason) = match check.matched {
            Some(matched) => {
                let passed = matched != self.negated;
                let mut reason = format!("expected {} {to} {}", check.subject, check.expectation);
                if let Some(detail) = check.detail {
                    reason.push_str(" (");
                    reason.push_str(&detail);
                    reason.push(')');
                }
                (passed, reason)
            }
            None => {
                let why = check
                    .detail
                    .unwrap_or_else(|| "it could not be checked".to_owned());
                (
                    false,
                    format!(
                        "expected {} {to} {}, but {why}",
                        check.subject, check.expectation
                    ),
                )
            }
        };
        AssertionOutcome {
            kind: self.name(),
            passed,
            reason,
        }
    }

    fn raw_check(&self, observation: &Observation) -> Check {
        let output = observation.output.as_str();
        let text = match &self.value {
            AssertionValue::Text(text) => text.as_str(),
            _ => "",
        };
        let list: &[String] = match &self.value {
            AssertionValue::List(list) => list,
            _ => &[],
        };
        match self.kind {
            AssertionKind::Equals => {
                let matched = output == text;
                let detail =
                    (!matched && !self.negated).then(|| format!("it was {}", quote(output)));
                Check::output(matched, format!("equal {}", quote(text)), detail)
            }
            AssertionKind::Contains => Check::output(
                output.contains(text),
                format!("contain {}", quote(text)),
                None,
            ),
            AssertionKind::Icontains => Check::output(
                output.to_lowercase().contains(&text.to_lowercase()),
                format!("contain {} (ignoring case)", quote(text)),
                None,
            ),
            AssertionKind::StartsWith => {
                let matched = output.starts_with(text);
                let detail = (!matched && !self.negated)
                    .then(|| format!("it starts {}", quote(&truncate_chars(output, 40))));
                Check::output(matched, format!("start with {}", quote(text)), detail)
            }
            AssertionKind::ContainsAny
            | AssertionKind::ContainsAll
            | AssertionKind::IcontainsAny
            | AssertionKind::IcontainsAll => self.check_list(output, list),
            AssertionKind::Regex => {
                let (matched, pattern) = match &self.value {
                    AssertionValue::Regex(regex) => (regex.is_match(output), regex.as_str()),
                    _ => (false, ""),
                };
                Check::output(
                    matched,
                    format!("match /{}/", truncate_chars(pattern, MAX_QUOTED_CHARS)),
                    None,
                )
            }
            AssertionKind::IsJson => self.check_json(output),
            AssertionKind::IsRefusal => {
                Check::output(is_refusal(output), "be a refusal".to_owned(), None)
            }
            AssertionKind::Latency => {
                let limit = self.threshold.unwrap_or(0.0);
                let expectation = format!("be at most {limit} ms");
                let latency = observation.latency_ms;
                if latency.is_finite() && latency >= 0.0 {
                    Check {
                        matched: Some(latency <= limit),
                        subject: "latency",
                        expectation,
                        detail: Some(format!("it was {latency:.0} ms")),
                    }
                } else {
                    Check::unknown("latency", expectation, "the latency was not measured")
                }
            }
            AssertionKind::MaxCost => {
                let limit = self.threshold.unwrap_or(0.0);
                let expectation = format!("be at most ${limit}");
                match observation.cost_usd {
                    Some(cost) if cost.is_finite() && cost >= 0.0 => Check {
                        matched: Some(cost <= limit),
                        subject: "cost",
                        expectation,
                        detail: Some(format!("it was ${cost}")),
                    },
                    _ => Check::unknown(
                        "cost",
                        expectation,
                        "the cost is unknown (give the target a price)",
                    ),
                }
            }
        }
    }

    fn check_list(&self, output: &str, list: &[String]) -> Check {
        let ignore_case = matches!(
            self.kind,
            AssertionKind::IcontainsAny | AssertionKind::IcontainsAll
        );
        let haystack = if ignore_case {
            output.to_lowercase()
        } else {
            output.to_owned()
        };
        let found: Vec<bool> = list
            .iter()
            .map(|needle| {
                if ignore_case {
                    haystack.contains(&needle.to_lowercase())
                } else {
                    haystack.contains(needle.as_str())
                }
            })
            .collect();
        let all = matches!(
            self.kind,
            AssertionKind::ContainsAll | AssertionKind::IcontainsAll
        );
        let matched = if all {
            found.iter().all(|&f| f)
        } else {
            found.iter().any(|&f| f)
        };
        let quoted: Vec<String> = list.iter().map(|s| quote(s)).collect();
        let mut expectation = format!(
            "contain {} of [{}]",
            if all { "all" } else { "any" },
            quoted.join(", ")
        );
        if ignore_case {
            expectation.push_str(" (ignoring case)");
        }
        let detail = if all && !matched && !self.negated {
            let missing: Vec<String> = list
                .iter()
                .zip(&found)
                .filter(|&(_, &f)| !f)
                .map(|(s, _)| quote(s))
                .collect();
            Some(format!("missing {}", missing.join(", ")))
        } else if !all && matched && self.negated {
            let present: Vec<String> = list
                .iter()
                .zip(&found)
                .filter(|&(_, &f)| f)
                .map(|(s, _)| quote(s))
                .collect();
            Some(format!("found {}", present.join(", ")))
        } else {
            None
        };
        Check::output(matched, expectation, detail)
    }

    fn check_json(&self, output: &str) -> Check {
        let schema = match &self.value {
            AssertionValue::Schema(schema) => Some(schema),
            _ => None,
        };
        let expectation = if schema.is_some() {
            "be JSON matching the schema".to_owned()
        } else {
            "be valid JSON".to_owned()
        };
        match serde_json::from_str::<Value>(output) {
            Err(error) => {
                let detail = (!self.negated)
                    .then(|| truncate_chars(&format!("not JSON: {error}"), MAX_DETAIL_CHARS));
                Check::output(false, expectation, detail)
            }
            Ok(instance) => {
                let error = schema.and_then(|schema| schema.first_error(&instance));
                let matched = error.is_none();
                let detail = error
                    .filter(|_| !self.negated)
                    .map(|error| truncate_chars(&error, MAX_DETAIL_CHARS));
                Check::output(matched, expectation, detail)
            }
        }
    }
}

fn read_threshold(
    kind: AssertionKind,
    object: &Map<String, Value>,
) -> Result<Option<f64>, AssertionError> {
    let takes_threshold = matches!(kind, AssertionKind::Latency | AssertionKind::MaxCost);
    match (object.get("threshold"), takes_threshold) {
        (None, false) => Ok(None),
        (Some(_), false) => Err(AssertionError::Threshold(format!(
            "{kind} takes no threshold (only latency and max-cost do); remove it"
        ))),
        (None, true) => Err(AssertionError::Threshold(format!(
            "{kind} needs a threshold ({})",
            if kind == AssertionKind::Latency {
                "milliseconds"
            } else {
                "US dollars"
            }
        ))),
        (Some(value), true) => match value.as_f64() {
            Some(limit) if limit.is_finite() && limit >= 0.0 => Ok(Some(limit)),
            _ => Err(AssertionError::Threshold(format!(
                "{kind} needs a finite number >= 0"
            ))),
        },
    }
}

fn read_value(
    kind: AssertionKind,
    value: Option<&Value>,
) -> Result<AssertionValue, AssertionError> {
    let name = kind.as_str();
    match kind {
        AssertionKind::Equals
        | AssertionKind::Contains
        | AssertionKind::Icontains
        | AssertionKind::StartsWith => match value {
            Some(Value::String(text)) => Ok(AssertionValue::Text(text.clone())),
            _ => Err(AssertionError::Value {
                kind: name,
                expected: "a string",
            }),
        },
        AssertionKind::ContainsAny
        | AssertionKind::ContainsAll
        | AssertionKind::IcontainsAny
        | AssertionKind::IcontainsAll => {
            let expected = "a non-empty array of at most 1024 strings";
            let items = match value {
                Some(Value::Array(items))
                    if !items.is_empty() && items.len() <= MAX_LIST_VALUES =>
                {
                    items
                }
                _ => {
                    return Err(AssertionError::Value {
                        kind: name,
                        expected,
                    });
                }
            };
            let strings = items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or(AssertionError::Value {
                    kind: name,
                    expected,
                })?;
            Ok(AssertionValue::List(strings))
        }
        AssertionKind::Regex => match value {
            Some(Value::String(pattern)) => regex::RegexBuilder::new(pattern)
                .size_limit(MAX_REGEX_BYTES)
                .dfa_size_limit(MAX_REGEX_BYTES)
                .build()
                .map(AssertionValue::Regex)
                .map_err(|error| {
                    AssertionError::Regex(truncate_chars(&error.to_string(), MAX_DETAIL_CHARS))
                }),
            _ => Err(AssertionError::Value {
                kind: name,
                expected: "a string (the regular expression)",
            }),
        },
        AssertionKind::IsJson => match value {
            None => Ok(AssertionValue::None),
            Some(schema @ (Value::Object(_) | Value::Bool(_))) => {
                JsonSchema::compile(schema.clone()).map(AssertionValue::Schema)
            }
            Some(_) => Err(AssertionError::Value {
                kind: name,
                expected: "a JSON Schema object, or absent",
            }),
        },
        AssertionKind::IsRefusal | AssertionKind::Latency | AssertionKind::MaxCost => match value {
            None => Ok(AssertionValue::None),
            Some(_) => Err(AssertionError::UnexpectedValue(name)),
        },
    }
}

/// What one assertion found, before negation.
struct Check {
    /// `None`: could not be checked (fails negated or not).
    matched: Option<bool>,
    subject: &'static str,
    expectation: String,
    detail: Option<String>,
}

impl Check {
    fn output(matched: bool, expectation: String, detail: Option<String>) -> Check {
        Check {
            matched: Some(matched),
            subject: "output",
            expectation,
            detail,
        }
    }

    fn unknown(subject: &'static str, expectation: String, why: &str) -> Check {
        Check {
            matched: None,
            subject,
            expectation,
            detail: Some(why.to_owned()),
        }
    }
}

/// Whether `output` reads as a refusal: empty (or only whitespace), or one of
/// [`REFUSAL_PHRASES`] within its first [`REFUSAL_WINDOW_CHARS`] characters,
/// ignoring case and the difference between `'` and `’`.
pub fn is_refusal(output: &str) -> bool {
    let trimmed = output.trim_start();
    if trimmed.trim_end().is_empty() {
        return true;
    }
    let window: String = trimmed
        .chars()
        .take(REFUSAL_WINDOW_CHARS)
        .map(|c| if c == '\u{2019}' { '\'' } else { c })
        .collect::<String>()
        .to_lowercase();
    REFUSAL_PHRASES.iter().any(|phrase| window.contains(phrase))
}

/// What a run observed for one generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The generated text.
    pub output: String,
    /// Wall-clock time of the whole request, in milliseconds.
    pub latency_ms: f64,
    /// What the request cost, when a price is known.
    pub cost_usd: Option<f64>,
}

/// The result of one assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssertionOutcome {
    /// The type as written (`"not-contains"`).
    pub kind: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was expected, and what was seen when that helps.
    pub reason: String,
}

/// The result of one generation case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseOutcome {
    /// Weighted mean of the assertion scores, from 0 to 1.
    pub score: f64,
    /// Whether the case passed (see the module docs).
    pub passed: bool,
    /// One outcome per assertion, in the case's order.
    pub assertions: Vec<AssertionOutcome>,
}

/// Applies `case`'s assertions to `observation`.
pub fn evaluate(case: &GenerationCase, observation: &Observation) -> CaseOutcome {
    evaluate_assertions(&case.asserts, case.threshold, observation)
}

/// Applies `asserts` to `observation`; `threshold` is the case's (score at
/// least this passes), `None` meaning every assertion must pass. With no
/// assertions, or only weight-0 ones, the score is 1 when all pass and 0
/// otherwise.
pub fn evaluate_assertions(
    asserts: &[Assertion],
    threshold: Option<f64>,
    observation: &Observation,
) -> CaseOutcome {
    let assertions: Vec<AssertionOutcome> = asserts
        .iter()
        .map(|assertion| assertion.check(observation))
        .collect();
    let all_passed = assertions.iter().all(|outcome| outcome.passed);
    // Folds from +0.0: an empty f64 sum is -0.0.
    let total_weight = asserts
        .iter()
        .fold(0.0, |total, assertion| total + assertion.weight);
    let score = if total_weight > 0.0 {
        let passed_weight = asserts
            .iter()
            .zip(&assertions)
            .filter(|(_, outcome)| outcome.passed)
            .fold(0.0, |total, (assertion, _)| total + assertion.weight);
        (passed_weight / total_weight).clamp(0.0, 1.0)
    } else if all_passed {
        1.0
    } else {
        0.0
    };
    let passed = match threshold {
        Some(threshold) => score >= threshold,
        None => all_passed,
    };
    CaseOutcome {
        score,
        passed,
        assertions,
    }
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let mut short = text.get(..cut).unwrap_or(text).to_owned();
            short.push('…');
            short
        }
    }
}

/// `text` in double quotes, cut and with control characters escaped.
fn quote(text: &str) -> String {
    format!("{:?}", truncate_chars(text, MAX_QUOTED_CHARS))
}
