//! The OpenAI request bodies this server reads, and turning their sampling
//! fields into the engine's.

use modelgate_engine::{Constraint, GenerateRequest, Sampling};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// A string or a list of strings (`stop`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub(crate) include_usage: bool,
}

/// Fields shared by chat and text completions.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SamplingFields {
    pub(crate) max_tokens: Option<u32>,
    pub(crate) max_completion_tokens: Option<u32>,
    pub(crate) temperature: Option<f32>,
    pub(crate) top_p: Option<f32>,
    pub(crate) top_k: Option<i32>,
    pub(crate) min_p: Option<f32>,
    pub(crate) presence_penalty: Option<f32>,
    pub(crate) frequency_penalty: Option<f32>,
    pub(crate) repeat_penalty: Option<f32>,
    pub(crate) seed: Option<i64>,
    pub(crate) stop: Option<OneOrMany>,
    pub(crate) n: Option<u32>,
    #[serde(default)]
    pub(crate) stream: bool,
    pub(crate) stream_options: Option<StreamOptions>,
    pub(crate) response_format: Option<Value>,
    pub(crate) grammar: Option<String>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChatRequest {
    pub(crate) model: String,
    pub(crate) messages: Vec<Value>,
    #[serde(flatten)]
    pub(crate) sampling: SamplingFields,
    #[serde(default)]
    pub(crate) logprobs: bool,
    pub(crate) top_logprobs: Option<u8>,
    pub(crate) tools: Option<Vec<Value>>,
    pub(crate) chat_template_kwargs: Option<serde_json::Map<String, Value>>,
}

/// A completion prompt: text, texts, tokens or token lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CompletionRequest {
    pub(crate) model: String,
    pub(crate) prompt: Prompt,
    #[serde(flatten)]
    pub(crate) sampling: SamplingFields,
    pub(crate) logprobs: Option<u8>,
    #[serde(default)]
    pub(crate) echo: bool,
    pub(crate) suffix: Option<String>,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EmbeddingRequest {
    pub(crate) model: String,
    pub(crate) input: Prompt,
    pub(crate) encoding_format: Option<String>,
    pub(crate) dimensions: Option<u32>,
}

/// Parses a JSON body, naming the field that is wrong (serde's messages
/// lose the field under `#[serde(flatten)]`, so the common fields' types
/// are checked first).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("The request body is not JSON: {e}"), None))?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid(
            "The request body must be a JSON object",
            None,
        ));
    };
    let expect = |field: &str, ok: fn(&Value) -> bool, what: &str| match object.get(field) {
        Some(v) if !v.is_null() && !ok(v) => Err(ApiError::invalid(
            format!("`{field}` must be {what}"),
            Some(field),
        )),
        _ => Ok(()),
    };
    expect(
        "model",
        Value::is_string,
        "a string: the model's id (see GET /v1/models)",
    )?;
    expect("messages", Value::is_array, "an array of messages")?;
    expect("stream", Value::is_boolean, "true or false")?;
    for field in [
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "presence_penalty",
        "frequency_penalty",
        "repeat_penalty",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "n",
    ] {
        expect(field, Value::is_number, "a number")?;
    }
    serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        let param = ["model", "messages", "prompt", "input"]
            .into_iter()
            .find(|field| text.contains(&format!("`{field}`")));
        ApiError::invalid(
            format!("The request body is not a valid request: {text}"),
            param,
        )
    })
}

fn check_range(value: Option<f32>, name: &str, lo: f32, hi: f32) -> Result<(), ApiError> {
    match value {
        Some(v) if !(lo..=hi).contains(&v) || v.is_nan() => Err(ApiError::invalid(
            format!("`{name}` is {v}; it must be between {lo} and {hi}"),
            Some(name),
        )),
        _ => Ok(()),
    }
}

impl SamplingFields {
    /// The engine request for `prompt`, validated as OpenAI validates.
    pub(crate) fn to_request(
        &self,
        prompt: Vec<u32>,
        logprobs: Option<u8>,
    ) -> Result<GenerateRequest, ApiError> {
        if let Some(n) = self.n
            && n != 1
        {
            return Err(ApiError::invalid(
                format!(
                    "`n` is {n}; this server returns one choice per request (send several requests)"
                ),
                Some("n"),
            ));
        }
        check_range(self.temperature, "temperature", 0.0, 2.0)?;
        check_range(self.top_p, "top_p", 0.0, 1.0)?;
        check_range(self.min_p, "min_p", 0.0, 1.0)?;
        check_range(self.presence_penalty, "presence_penalty", -2.0, 2.0)?;
        check_range(self.frequency_penalty, "frequency_penalty", -2.0, 2.0)?;
        check_range(self.repeat_penalty, "repeat_penalty", 0.0, 10.0)?;
        if logprobs.is_some_and(|n| n > 20) {
            return Err(ApiError::invalid(
                "`top_logprobs` must be at most 20",
                Some("top_logprobs"),
            ));
        }
        let stop = match &self.stop {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s.clone()],
            Some(OneOrMany::Many(v)) => v.clone(),
        };
        if stop.len() > 16 {
            return Err(ApiError::invalid(
                "`stop` has more than 16 strings",
                Some("stop"),
            ));
        }
        let max_tokens = match (self.max_completion_tokens, self.max_tokens) {
            (Some(0), _) | (None, Some(0)) => {
                return Err(ApiError::invalid(
                    "`max_tokens` must be at least 1",
                    Some("max_tokens"),
                ));
            }
            (Some(m), _) | (None, Some(m)) => Some(m),
            (None, None) => None,
        };
        let constraint = self.constraint()?;
        let defaults = Sampling::default();
        Ok(GenerateRequest {
            prompt,
            max_tokens,
            stop,
            sampling: Sampling {
                temperature: self.temperature.unwrap_or(defaults.temperature),
                top_p: self.top_p.unwrap_or(defaults.top_p),
                top_k: self.top_k.unwrap_or(defaults.top_k).max(0),
                min_p: self.min_p.unwrap_or(defaults.min_p),
                presence_penalty: self.presence_penalty.unwrap_or(0.0),
                frequency_penalty: self.frequency_penalty.unwrap_or(0.0),
                repeat_penalty: self.repeat_penalty.unwrap_or(1.0),
                penalty_last_n: defaults.penalty_last_n,
                seed: self.seed.map(|s| s as u64),
            },
            constraint,
            logprobs,
        })
    }

    fn constraint(&self) -> Result<Option<Constraint>, ApiError> {
        if let Some(grammar) = &self.grammar {
            return Ok(Some(Constraint::Grammar(grammar.clone())));
        }
        let Some(format) = &self.response_format else {
            return Ok(None);
        };
        let bad = |m: &str| ApiError::invalid(m.to_owned(), Some("response_format"));
        match format.get("type").and_then(Value::as_str) {
            Some("text") | None => Ok(None),
            Some("json_object") => Ok(Some(Constraint::JsonObject)),
            Some("json_schema") => {
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .ok_or_else(|| bad("`response_format.json_schema.schema` is missing"))?;
                if !schema.is_object() {
                    return Err(bad(
                        "`response_format.json_schema.schema` must be a JSON Schema object",
                    ));
                }
                Ok(Some(Constraint::JsonSchema(schema.clone())))
            }
            Some(other) => Err(bad(&format!(
                "`response_format.type` is `{other}`; use `text`, `json_object` or `json_schema`"
            ))),
        }
    }

    pub(crate) fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }
}
