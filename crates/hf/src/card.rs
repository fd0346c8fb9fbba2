//! `README.md`: the model card.

use serde_json::Value;

/// Largest front matter parsed, in bytes; longer front matter is reported in
/// [`ModelCard::front_matter_error`] and not parsed.
pub const MAX_FRONT_MATTER_BYTES: usize = 1024 * 1024;

/// A model card: YAML front matter (metadata) and Markdown sections.
///
/// Parsing never fails: a card with broken front matter still has sections,
/// and the YAML error is kept in [`ModelCard::front_matter_error`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelCard {
    /// The front matter as JSON-like data, when present and valid.
    pub front_matter: Option<Value>,
    /// Why the front matter could not be parsed.
    pub front_matter_error: Option<String>,
    /// `license`: an SPDX-like id, or `other` with `license_name`.
    pub license: Option<String>,
    /// `license_name`, used with `license: other`.
    pub license_name: Option<String>,
    /// `license_link`, used with `license: other`.
    pub license_link: Option<String>,
    /// `base_model`: the model(s) this one was derived from.
    pub base_model: Vec<String>,
    /// `base_model_relation`: `finetune`, `quantized`, `merge`, `adapter`.
    pub base_model_relation: Option<String>,
    /// The model's name: `model_name`, `model-index[0].name`, or the first
    /// level-one heading.
    pub model_name: Option<String>,
    /// `language`.
    pub languages: Vec<String>,
    /// `datasets`.
    pub datasets: Vec<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `pipeline_tag`.
    pub pipeline_tag: Option<String>,
    /// `library_name`.
    pub library_name: Option<String>,
    /// Whether the front matter has a `model-index` with evaluation results.
    pub has_model_index: bool,
    /// Markdown sections in order (text before the first heading is not one).
    pub sections: Vec<Section>,
    /// The Markdown body after the front matter.
    pub body: String,
}

/// One Markdown section: an ATX heading and the text up to the next heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading level, 1 to 6.
    pub level: u8,
    /// Heading text without `#` marks.
    pub title: String,
    /// The text between this heading and the next, trimmed.
    pub text: String,
}

/// Split `text` into front matter (without delimiters) and body.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            let front = rest.get(..offset).unwrap_or_default();
            let body = rest.get(offset + line.len()..).unwrap_or_default();
            return (Some(front), body);
        }
        offset += line.len();
    }
    // No closing delimiter: not front matter.
    (None, text)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn string(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s.clone()),
        // A one-element list is a common way to write a single value.
        Some(Value::Array(list)) if list.len() == 1 => {
            list.first().and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    }
}

fn sections(body: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut text = String::new();
    let mut fence: Option<&str> = None;
    let flush = |sections: &mut Vec<Section>, text: &mut String| {
        if let Some(last) = sections.last_mut() {
            last.text = text.trim().to_string();
        }
        text.clear();
    };
    for line in body.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            text.push_str(line);
            text.push('\n');
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = trimmed.get(..3);
            text.push_str(line);
            text.push('\n');
            continue;
        }
        let hashes = line.bytes().take_while(|b| *b == b'#').count();
        let after = line.get(hashes..).unwrap_or_default();
        if (1..=6).contains(&hashes) && (after.is_empty() || after.starts_with([' ', '\t'])) {
            flush(&mut sections, &mut text);
            let title = after.trim().trim_end_matches('#').trim().to_string();
            sections.push(Section {
                level: u8::try_from(hashes).unwrap_or(6),
                title,
                text: String::new(),
            });
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&mut sections, &mut text);
    sections
}

impl ModelCard {
    /// Parse a model card.
    pub fn parse(text: &str) -> ModelCard {
        let (front, body) = split_front_matter(text);
        let mut card = ModelCard {
            body: body.to_string(),
            sections: sections(body),
            ..ModelCard::default()
        };
        if let Some(front) = front {
            if front.len() > MAX_FRONT_MATTER_BYTES {
                card.front_matter_error = Some(format!(
                    "front matter is {} bytes, more than the {MAX_FRONT_MATTER_BYTES} byte limit",
                    front.len()
                ));
            } else if !front.trim().is_empty() {
                match serde_yaml_ng::from_str::<Value>(front) {
                    Ok(value) => card.front_matter = Some(value),
                    Err(e) => {
                        card.front_matter_error = Some(format!("invalid YAML front matter: {e}"))
                    }
                }
            }
        }
        if let Some(Value::Object(meta)) = &card.front_matter {
            card.license = string(meta.get("license"));
            card.license_name = string(meta.get("license_name"));
            card.license_link = string(meta.get("license_link"));
            card.base_model = strings(meta.get("base_model"));
            card.base_model_relation = string(meta.get("base_model_relation"));
            card.languages = strings(meta.get("language"));
            card.datasets = strings(meta.get("datasets"));
            card.tags = strings(meta.get("tags"));
            card.pipeline_tag = string(meta.get("pipeline_tag"));
            card.library_name = string(meta.get("library_name"));
            let model_index = meta.get("model-index").and_then(Value::as_array);
            card.has_model_index = model_index.is_some_and(|list| !list.is_empty());
            card.model_name = string(meta.get("model_name")).or_else(|| {
                model_index
                    .and_then(|list| list.first())
                    .and_then(|entry| entry.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        }
        if card.model_name.is_none() {
            card.model_name = card
                .sections
                .iter()
                .find(|s| s.level == 1 && !s.title.is_empty())
                .map(|s| s.title.clone());
        }
        card
    }

    /// The first section whose title contains `needle`, ignoring case.
    pub fn section(&self, needle: &str) -> Option<&Section> {
        let needle = needle.to_lowercase();
        self.sections
            .iter()
            .find(|s| s.title.to_lowercase().contains(&needle))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_sections() {
        let card = ModelCard::parse(
            "---\nlicense: other\nlicense_name: llama3\nbase_model:\n- meta-llama/Llama-3-8B\nlanguage: en\nmodel-index:\n- name: tiny\n  results: []\n---\n# Title\nintro\n## Uses\n```\n# not a heading\n```\n### Out-of-Scope Use ###\nnone\n",
        );
        assert_eq!(card.license.as_deref(), Some("other"));
        assert_eq!(card.license_name.as_deref(), Some("llama3"));
        assert_eq!(card.base_model, ["meta-llama/Llama-3-8B"]);
        assert_eq!(card.languages, ["en"]);
        assert!(card.has_model_index);
        assert_eq!(card.model_name.as_deref(), Some("tiny"));
        let titles: Vec<&str> = card.sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Title", "Uses", "Out-of-Scope Use"]);
        assert_eq!(card.sections[1].text, "```\n# not a heading\n```");
        assert_eq!(card.section("out-of-scope").unwrap().text, "none");
    }

    #[test]
    fn broken_or_missing_front_matter() {
        let card = ModelCard::parse("---\nlicense: [unclosed\n---\n# Name\n");
        assert!(card.front_matter.is_none());
        assert!(card.front_matter_error.unwrap().contains("YAML"));
        assert_eq!(card.model_name.as_deref(), Some("Name"));
        let plain = ModelCard::parse("no front matter\n---\n");
        assert!(plain.front_matter.is_none() && plain.front_matter_error.is_none());
        let unclosed = ModelCard::parse("---\nlicense: mit\n");
        assert_eq!(unclosed.license, None);
    }
}
