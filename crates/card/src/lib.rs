//! Model card review: is the card good enough to decide on?
//!
//! A reviewer deciding whether a model may be used needs the card to answer
//! a fixed set of questions: what it is for, what it must not be used for,
//! its biases and limitations, what it was trained on, how it was evaluated,
//! its environmental cost, what it was derived from and which languages it
//! handles. [`review`] checks a parsed [`ModelCard`] against those questions
//! (the list is data: `data/sections.toml`), counts unfilled template
//! placeholders, scores completeness from 0 to 100 and names every gap.
//! It also lifts out what an AI-BOM carries from a card: evaluation results
//! from `model-index` ([`Metric`]) and the considerations text.
//!
//! Not here: parsing the card (`modelgate-hf`), judging the score against a
//! policy (`modelgate-policy`). The review is pure: a card in, facts out.
//!
//! ```
//! let card = modelgate_hf::ModelCard::parse(
//!     "---\nlanguage: en\nbase_model: org/base\n---\n# Tiny\n## Out-of-Scope Use\nNot for medical advice.\n",
//! );
//! let review = modelgate_card::review(&card);
//! assert!(review.gaps.iter().any(|gap| gap.key == "evaluation"));
//! assert!(review.checks.iter().any(|check| check.key == "base-model" && check.filled));
//! ```

use std::sync::LazyLock;

use modelgate_hf::ModelCard;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest excerpt of a section kept in a [`CardReview`], in characters.
pub const MAX_EXCERPT_CHARS: usize = 2000;
/// Most evaluation results taken from `model-index`.
pub const MAX_METRICS: usize = 1000;

/// The questions a card must answer, from `data/sections.toml`.
#[derive(Debug, Deserialize)]
struct Checklist {
    placeholders: Vec<String>,
    boilerplate: Vec<String>,
    /// `placeholders` and `boilerplate`, lower-cased once.
    #[serde(skip)]
    unfilled_markers: Vec<String>,
    section: Vec<SectionRule>,
}

#[derive(Debug, Deserialize)]
struct SectionRule {
    key: String,
    name: String,
    gap: String,
    titles: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    front_matter: Vec<String>,
    #[serde(default)]
    body_phrases: Vec<String>,
    min_chars: usize,
}

static CHECKLIST: LazyLock<Checklist> = LazyLock::new(|| {
    // The file is part of the crate, and a test parses it.
    let mut checklist: Checklist =
        toml::from_str(include_str!("../data/sections.toml")).unwrap_or(Checklist {
            placeholders: Vec::new(),
            boilerplate: Vec::new(),
            unfilled_markers: Vec::new(),
            section: Vec::new(),
        });
    checklist.unfilled_markers = checklist
        .placeholders
        .iter()
        .chain(&checklist.boilerplate)
        .map(|marker| marker.to_lowercase())
        .collect();
    checklist
});

/// The review of one model card.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CardReview {
    /// Whether there was a card at all.
    pub present: bool,
    /// Completeness, 0 to 100: the share of [`CardReview::checks`] filled in.
    pub score: u32,
    /// One entry per question, in checklist order.
    pub checks: Vec<SectionCheck>,
    /// The unanswered questions, with what the card should add.
    pub gaps: Vec<Gap>,
    /// Unfilled template placeholders (`[More Information Needed]`, ...).
    pub n_placeholders: usize,
    /// The distinct placeholders found.
    pub placeholders: Vec<String>,
    /// Why the YAML front matter could not be read, when it could not.
    pub front_matter_error: Option<String>,
    /// Evaluation results from `model-index`.
    pub metrics: Vec<Metric>,
    /// Excerpts of the sections an AI-BOM's considerations carry.
    pub considerations: Considerations,
}

/// Whether the card answers one question.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SectionCheck {
    /// Stable key (`intended-uses`, `out-of-scope-uses`, ...).
    pub key: String,
    /// Human name of the question.
    pub name: String,
    /// Where the answer was found: a heading or a front-matter key.
    pub found_in: Option<String>,
    /// Whether the answer is there and not a placeholder.
    pub filled: bool,
}

/// A question the card leaves open.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gap {
    /// The [`SectionCheck::key`].
    pub key: String,
    /// What is missing and what to add.
    pub message: String,
}

/// One evaluation result from `model-index`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metric {
    /// The metric type (`accuracy`, `f1`, ...).
    pub metric_type: String,
    /// The value as written.
    pub value: String,
    /// The metric's display name, when given.
    pub name: Option<String>,
    /// The dataset it was measured on.
    pub dataset: Option<String>,
    /// The task (`text-generation`, ...).
    pub task: Option<String>,
}

/// Section excerpts, trimmed to [`MAX_EXCERPT_CHARS`].
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Considerations {
    /// Intended uses.
    pub use_cases: Option<String>,
    /// Out-of-scope uses.
    pub out_of_scope: Option<String>,
    /// Bias, risks and limitations.
    pub limitations: Option<String>,
    /// Environmental impact.
    pub environmental: Option<String>,
}

/// The text of section `idx` and of its subsections (the sections after it
/// with deeper headings).
fn section_text(card: &ModelCard, idx: usize) -> String {
    let Some(section) = card.sections.get(idx) else {
        return String::new();
    };
    let mut text = section.text.clone();
    for child in card
        .sections
        .iter()
        .skip(idx + 1)
        .take_while(|child| child.level > section.level)
    {
        text.push('\n');
        text.push_str(&child.text);
    }
    text
}

/// What is left of `text` once comments and every line holding a
/// placeholder or template boilerplate are removed.
fn content(text: &str, checklist: &Checklist) -> String {
    let text = strip_comments(text);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let lower = line.to_lowercase();
        let unfilled = checklist
            .unfilled_markers
            .iter()
            .any(|marker| lower.contains(marker.as_str()));
        if !unfilled {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(rest.get(..start).unwrap_or_default());
        rest = match rest.get(start..).and_then(|tail| tail.find("-->")) {
            Some(end) => rest.get(start + end + 3..).unwrap_or_default(),
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn meaningful_chars(text: &str) -> usize {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .take(10_000)
        .count()
}

fn title_matches(title: &str, rule: &SectionRule) -> bool {
    let title = title.to_lowercase();
    if rule
        .exclude
        .iter()
        .any(|word| title.contains(word.as_str()))
    {
        return false;
    }
    rule.titles.iter().any(|word| {
        if word == "uses" {
            // Only the bare "Uses" heading of the Hugging Face template.
            title.trim() == "uses"
        } else {
            title.contains(word.as_str())
        }
    })
}

fn front_matter_filled(card: &ModelCard, key: &str) -> bool {
    let Some(Value::Object(meta)) = &card.front_matter else {
        return false;
    };
    match meta.get(key) {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(list)) => !list.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::Number(_) | Value::Bool(_)) => true,
        _ => false,
    }
}

fn excerpt(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut out: String = trimmed.chars().take(MAX_EXCERPT_CHARS).collect();
    if out.len() < trimmed.len() {
        out.push('…');
    }
    Some(out)
}

/// Review a card. `None` (no card in the repository) scores 0 with every
/// question open.
pub fn review_optional(card: Option<&ModelCard>) -> CardReview {
    match card {
        Some(card) => review(card),
        None => {
            let checklist = &*CHECKLIST;
            CardReview {
                present: false,
                checks: checklist
                    .section
                    .iter()
                    .map(|rule| SectionCheck {
                        key: rule.key.clone(),
                        name: rule.name.clone(),
                        found_in: None,
                        filled: false,
                    })
                    .collect(),
                gaps: vec![Gap {
                    key: "card".to_string(),
                    message: "there is no model card (README.md): ask the publisher for one, or write one before approval".to_string(),
                }],
                ..CardReview::default()
            }
        }
    }
}

/// Review a parsed model card.
pub fn review(card: &ModelCard) -> CardReview {
    let checklist = &*CHECKLIST;
    let mut checks = Vec::with_capacity(checklist.section.len());
    let mut gaps = Vec::new();
    let mut considerations = Considerations::default();
    for rule in &checklist.section {
        let mut found_in = None;
        let mut filled = false;
        for key in &rule.front_matter {
            if front_matter_filled(card, key) {
                found_in = Some(format!("front matter: {key}"));
                filled = true;
                break;
            }
        }
        let mut matched_text = None;
        let matching = card
            .sections
            .iter()
            .enumerate()
            .filter(|(_, section)| title_matches(&section.title, rule));
        for (idx, section) in matching {
            // Only sections whose title matches pay for their text.
            let left = content(&section_text(card, idx), checklist);
            let section_filled = meaningful_chars(&left) >= rule.min_chars;
            if matched_text.is_none() || section_filled {
                matched_text = Some(left.clone());
            }
            if found_in.is_none() || (!filled && section_filled) {
                found_in = Some(format!("section \"{}\"", section.title));
            }
            if section_filled {
                filled = true;
                break;
            }
        }
        if !filled && !rule.body_phrases.is_empty() {
            let body = content(&card.body, checklist).to_lowercase();
            if let Some(phrase) = rule.body_phrases.iter().find(|p| body.contains(p.as_str())) {
                found_in = Some(format!("text \"{phrase}\""));
                filled = true;
            }
        }
        let text = matched_text.as_deref().and_then(excerpt);
        match rule.key.as_str() {
            "intended-uses" => considerations.use_cases = text,
            "out-of-scope-uses" => considerations.out_of_scope = text,
            "risks-and-limitations" => considerations.limitations = text,
            "environmental-impact" => considerations.environmental = text,
            _ => {}
        }
        if !filled {
            let message = match &found_in {
                Some(place) => format!(
                    "{}: {place} is empty or a template placeholder; {}",
                    rule.name, rule.gap
                ),
                None => format!("{}: not covered; {}", rule.name, rule.gap),
            };
            gaps.push(Gap {
                key: rule.key.clone(),
                message,
            });
        }
        checks.push(SectionCheck {
            key: rule.key.clone(),
            name: rule.name.clone(),
            found_in,
            filled,
        });
    }
    let (n_placeholders, placeholders) = count_placeholders(&card.body, &checklist.placeholders);
    if n_placeholders > 0 {
        gaps.push(Gap {
            key: "placeholders".to_string(),
            message: format!(
                "{n_placeholders} template placeholder(s) left unfilled ({})",
                placeholders.join(", ")
            ),
        });
    }
    if let Some(error) = &card.front_matter_error {
        gaps.push(Gap {
            key: "front-matter".to_string(),
            message: format!("the front matter cannot be read ({error}); fix the YAML so license and base model are machine-readable"),
        });
    }
    let n_filled = checks.iter().filter(|check| check.filled).count();
    let score = (n_filled * 100)
        .checked_div(checks.len())
        .and_then(|score| u32::try_from(score).ok())
        .unwrap_or(0);
    CardReview {
        present: true,
        score,
        checks,
        gaps,
        n_placeholders,
        placeholders,
        front_matter_error: card.front_matter_error.clone(),
        metrics: metrics(card),
        considerations,
    }
}

fn count_placeholders(body: &str, placeholders: &[String]) -> (usize, Vec<String>) {
    let mut counted = strip_comments(body).to_lowercase();
    let mut total = 0;
    let mut seen = Vec::new();
    for placeholder in placeholders {
        let needle = placeholder.to_lowercase();
        let n = counted.matches(&needle).count();
        if n > 0 {
            total += n;
            seen.push(placeholder.clone());
            // "More information needed" is inside "[More Information Needed]":
            // count each occurrence once.
            counted = counted.replace(&needle, " ");
        }
    }
    (total, seen)
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Evaluation results from the `model-index` front matter.
pub fn metrics(card: &ModelCard) -> Vec<Metric> {
    let mut out = Vec::new();
    let Some(Value::Object(meta)) = &card.front_matter else {
        return out;
    };
    let Some(entries) = meta.get("model-index").and_then(Value::as_array) else {
        return out;
    };
    for entry in entries {
        let Some(results) = entry.get("results").and_then(Value::as_array) else {
            continue;
        };
        for result in results {
            let task = result
                .get("task")
                .and_then(|task| text_of(task.get("type")).or_else(|| text_of(task.get("name"))));
            let dataset = result.get("dataset").and_then(|dataset| {
                text_of(dataset.get("name")).or_else(|| text_of(dataset.get("type")))
            });
            let Some(list) = result.get("metrics").and_then(Value::as_array) else {
                continue;
            };
            for metric in list {
                let (Some(metric_type), Some(value)) =
                    (text_of(metric.get("type")), text_of(metric.get("value")))
                else {
                    continue;
                };
                if out.len() >= MAX_METRICS {
                    return out;
                }
                out.push(Metric {
                    metric_type,
                    value,
                    name: text_of(metric.get("name")),
                    dataset: dataset.clone(),
                    task: task.clone(),
                });
            }
        }
    }
    out
}

/// The keys of every question, in checklist order.
pub fn checklist_keys() -> Vec<&'static str> {
    CHECKLIST
        .section
        .iter()
        .map(|rule| rule.key.as_str())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn checklist_parses_and_every_entry_is_complete() {
        let parsed: Checklist = toml::from_str(include_str!("../data/sections.toml")).unwrap();
        assert_eq!(parsed.section.len(), 8);
        for rule in &parsed.section {
            assert!(
                !rule.titles.is_empty() && !rule.gap.is_empty(),
                "{}",
                rule.key
            );
        }
        assert_eq!(checklist_keys().len(), 8);
    }

    #[test]
    fn comments_placeholders_and_boilerplate_are_not_content() {
        let left = content(
            "<!-- Provide a summary -->\n- **Hours used:** [More Information Needed]\nCarbon emissions can be estimated using the [Machine Learning Impact calculator](x).\nReal text.\n",
            &CHECKLIST,
        );
        assert_eq!(left.trim(), "Real text.");
        let (n, seen) = count_placeholders(
            "[More Information Needed] and [TBD]",
            &CHECKLIST.placeholders,
        );
        assert_eq!(n, 2);
        assert_eq!(seen, ["[More Information Needed]", "[TBD]"]);
    }
}
