//! `tokenizer_config.json` and chat template files.

use serde_json::{Map, Value};

use crate::{Error, parse_object};

/// A Jinja chat template and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    /// The template's name: `default`, or the name of a named template
    /// (`tool_use`, `rag`), or the file stem for `*.jinja` files.
    pub name: String,
    /// The Jinja source.
    pub source: String,
}

impl ChatTemplate {
    /// Read the templates of a template file: `chat_template.jinja` (or any
    /// `*.jinja`, named after its stem), or `chat_template.json` (an object
    /// with a `chat_template` field, a string or a list of named templates).
    pub fn from_file(relative_path: &str, bytes: &[u8]) -> Result<Vec<ChatTemplate>, Error> {
        let file_name = relative_path.rsplit('/').next().unwrap_or(relative_path);
        if file_name.ends_with(".json") {
            let map = parse_object(bytes, "chat_template.json")?;
            return templates_of(&map, "chat_template.json");
        }
        let stem = file_name.strip_suffix(".jinja").unwrap_or(file_name);
        let name = if stem == "chat_template" {
            "default"
        } else {
            stem
        };
        Ok(vec![ChatTemplate {
            name: name.to_string(),
            source: String::from_utf8_lossy(bytes).into_owned(),
        }])
    }
}

/// Read the `chat_template` field of a JSON object: a string, or a list of
/// `{"name": …, "template": …}`.
fn templates_of(map: &Map<String, Value>, file: &'static str) -> Result<Vec<ChatTemplate>, Error> {
    match map.get("chat_template") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(source)) => Ok(vec![ChatTemplate {
            name: "default".to_string(),
            source: source.clone(),
        }]),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let field = || format!("chat_template[{index}]");
                let entry = entry.as_object().ok_or_else(|| Error::Field {
                    file,
                    field: field(),
                    expected: "an object with `name` and `template`",
                })?;
                let name = entry.get("name").and_then(Value::as_str);
                let source = entry.get("template").and_then(Value::as_str);
                match (name, source) {
                    (Some(name), Some(source)) => Ok(ChatTemplate {
                        name: name.to_string(),
                        source: source.to_string(),
                    }),
                    _ => Err(Error::Field {
                        file,
                        field: field(),
                        expected: "an object with string `name` and `template`",
                    }),
                }
            })
            .collect(),
        Some(_) => Err(Error::Field {
            file,
            field: "chat_template".to_string(),
            expected: "a string or a list of named templates",
        }),
    }
}

/// What `tokenizer_config.json` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerConfig {
    /// Chat templates, the default first when present.
    pub chat_templates: Vec<ChatTemplate>,
    /// `model_max_length`, when it is a real limit (the transformers
    /// placeholder for "no limit", about 1e30, is dropped).
    pub model_max_length: Option<u64>,
    /// `tokenizer_class`.
    pub tokenizer_class: Option<String>,
    /// `auto_map`: custom tokenizer code references (`trust_remote_code`).
    pub auto_map: Vec<(String, String)>,
    /// The whole object.
    pub raw: Map<String, Value>,
}

/// Values at or above this are transformers' "unlimited" placeholder.
const UNLIMITED_MODEL_MAX_LENGTH: u64 = 1 << 60;

impl TokenizerConfig {
    /// Parse `tokenizer_config.json`.
    pub fn parse(bytes: &[u8]) -> Result<TokenizerConfig, Error> {
        let raw = parse_object(bytes, "tokenizer_config.json")?;
        let chat_templates = templates_of(&raw, "tokenizer_config.json")?;
        let auto_map = raw
            .get("auto_map")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .flat_map(|(class, target)| {
                        let targets: Vec<&str> = match target {
                            Value::String(s) => vec![s.as_str()],
                            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                            _ => Vec::new(),
                        };
                        targets
                            .into_iter()
                            .map(|t| (class.clone(), t.to_string()))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(TokenizerConfig {
            chat_templates,
            model_max_length: raw
                .get("model_max_length")
                .and_then(Value::as_u64)
                .filter(|n| *n < UNLIMITED_MODEL_MAX_LENGTH),
            tokenizer_class: raw
                .get("tokenizer_class")
                .and_then(Value::as_str)
                .map(str::to_string),
            auto_map,
            raw,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn string_and_named_templates() {
        let single = TokenizerConfig::parse(
            br#"{"chat_template": "{{ messages }}", "model_max_length": 2048}"#,
        )
        .unwrap();
        assert_eq!(single.chat_templates.len(), 1);
        assert_eq!(single.chat_templates[0].name, "default");
        assert_eq!(single.model_max_length, Some(2048));
        let named = TokenizerConfig::parse(
            br#"{"chat_template": [{"name": "default", "template": "a"}, {"name": "tool_use", "template": "b"}],
                "model_max_length": 1000000000000000019884624838656}"#,
        )
        .unwrap();
        assert_eq!(named.chat_templates[1].name, "tool_use");
        assert_eq!(named.model_max_length, None);
        assert!(matches!(
            TokenizerConfig::parse(br#"{"chat_template": [{"name": 1}]}"#),
            Err(Error::Field { field, .. }) if field == "chat_template[0]"
        ));
    }

    #[test]
    fn template_files() {
        let jinja = ChatTemplate::from_file("chat_template.jinja", b"{{ bos_token }}").unwrap();
        assert_eq!(
            jinja,
            [ChatTemplate {
                name: "default".into(),
                source: "{{ bos_token }}".into()
            }]
        );
        let named = ChatTemplate::from_file("additional_chat_templates/rag.jinja", b"x").unwrap();
        assert_eq!(named[0].name, "rag");
        let json =
            ChatTemplate::from_file("chat_template.json", br#"{"chat_template": "y"}"#).unwrap();
        assert_eq!(json[0].source, "y");
    }
}
