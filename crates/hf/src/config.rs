//! `config.json` and `generation_config.json`.

use serde_json::{Map, Value};

use crate::{Error, parse_object};

/// The architecture and shape a `config.json` declares.
///
/// Model families name the same quantity differently (`n_head`,
/// `num_heads`, `num_attention_heads`); each field reads every alias in use.
/// Multimodal configs keep the language model under `text_config` or
/// `llm_config`; fields missing at the top level are read from there.
/// Fields with the wrong JSON type are treated as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelConfig {
    /// `model_type`, e.g. `llama`, `bert`.
    pub model_type: Option<String>,
    /// `architectures`, e.g. `["LlamaForCausalLM"]`.
    pub architectures: Vec<String>,
    /// Width of the hidden state.
    pub hidden_size: Option<u64>,
    /// Number of transformer blocks.
    pub num_hidden_layers: Option<u64>,
    /// Attention (query) heads.
    pub num_attention_heads: Option<u64>,
    /// Key/value heads (grouped-query attention); `multi_query: true` means 1.
    pub num_key_value_heads: Option<u64>,
    /// Width of one attention head, when given explicitly.
    pub head_dim: Option<u64>,
    /// Width of the feed-forward layer.
    pub intermediate_size: Option<u64>,
    /// Longest context the model was trained for.
    pub max_position_embeddings: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// `torch_dtype` (or `dtype`), e.g. `bfloat16`.
    pub torch_dtype: Option<String>,
    /// `quantization_config`, when the weights are pre-quantized.
    pub quantization: Option<Quantization>,
    /// `auto_map`: class name → custom code reference (`module.Class` or
    /// `repo--module.Class`). Loading these requires `trust_remote_code`.
    pub auto_map: Vec<(String, String)>,
    /// The whole object, for fields not modelled here.
    pub raw: Map<String, Value>,
}

/// A `quantization_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quantization {
    /// `quant_method`, e.g. `gptq`, `awq`, `bitsandbytes`, `fp8`.
    pub method: Option<String>,
    /// `bits` (or 4/8 from bitsandbytes' `load_in_4bit` / `load_in_8bit`).
    pub bits: Option<u64>,
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.method, self.bits) {
            (Some(method), Some(bits)) => write!(f, "{method} {bits}-bit"),
            (Some(method), None) => f.write_str(method),
            (None, Some(bits)) => write!(f, "{bits}-bit"),
            (None, None) => f.write_str("quantized"),
        }
    }
}

/// Read the first unsigned integer found under any of `keys`.
fn first_u64(maps: &[&Map<String, Value>], keys: &[&str]) -> Option<u64> {
    maps.iter().find_map(|map| {
        keys.iter()
            .find_map(|key| map.get(*key).and_then(Value::as_u64))
    })
}

fn first_str(maps: &[&Map<String, Value>], keys: &[&str]) -> Option<String> {
    maps.iter().find_map(|map| {
        keys.iter()
            .find_map(|key| map.get(*key).and_then(Value::as_str).map(str::to_string))
    })
}

impl ModelConfig {
    /// Parse `config.json`.
    pub fn parse(bytes: &[u8]) -> Result<ModelConfig, Error> {
        let raw = parse_object(bytes, "config.json")?;
        let nested = ["text_config", "llm_config", "language_config"]
            .iter()
            .find_map(|key| raw.get(*key).and_then(Value::as_object));
        let mut maps = vec![&raw];
        maps.extend(nested);
        let maps = maps.as_slice();

        let architectures = maps
            .iter()
            .find_map(|map| map.get("architectures").and_then(Value::as_array))
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let multi_query = maps
            .iter()
            .any(|map| map.get("multi_query").and_then(Value::as_bool) == Some(true));
        let num_key_value_heads = first_u64(
            maps,
            &[
                "num_key_value_heads",
                "num_kv_heads",
                "n_head_kv",
                "multi_query_group_num",
            ],
        )
        .or(multi_query.then_some(1));
        let quantization = raw
            .get("quantization_config")
            .and_then(Value::as_object)
            .map(|q| Quantization {
                method: q
                    .get("quant_method")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                bits: q
                    .get("bits")
                    .and_then(Value::as_u64)
                    .or_else(|| {
                        (q.get("load_in_4bit").and_then(Value::as_bool) == Some(true)).then_some(4)
                    })
                    .or_else(|| {
                        (q.get("load_in_8bit").and_then(Value::as_bool) == Some(true)).then_some(8)
                    }),
            });
        let auto_map = raw
            .get("auto_map")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .flat_map(|(class, target)| match target {
                        Value::String(s) => vec![(class.clone(), s.clone())],
                        // Tokenizers map to [slow, fast] pairs.
                        Value::Array(list) => list
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|s| (class.clone(), s.to_string()))
                            .collect(),
                        _ => Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ModelConfig {
            model_type: first_str(maps, &["model_type"]),
            architectures,
            hidden_size: first_u64(maps, &["hidden_size", "n_embd", "d_model", "dim"]),
            num_hidden_layers: first_u64(
                maps,
                &["num_hidden_layers", "n_layer", "num_layers", "n_layers"],
            ),
            num_attention_heads: first_u64(
                maps,
                &["num_attention_heads", "n_head", "num_heads", "n_heads"],
            ),
            num_key_value_heads,
            head_dim: first_u64(maps, &["head_dim"]),
            intermediate_size: first_u64(maps, &["intermediate_size", "n_inner", "ffn_dim"]),
            max_position_embeddings: first_u64(
                maps,
                &[
                    "max_position_embeddings",
                    "n_positions",
                    "max_sequence_length",
                    "seq_length",
                    "n_ctx",
                ],
            ),
            vocab_size: first_u64(maps, &["vocab_size", "padded_vocab_size"]),
            torch_dtype: first_str(maps, &["torch_dtype", "dtype"]),
            quantization,
            auto_map,
            raw,
        })
    }
}

/// `generation_config.json`: decoding defaults shipped with the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationConfig {
    /// Longest generation by default (`max_length` or `max_new_tokens`).
    pub max_length: Option<u64>,
    /// Default sampling temperature.
    pub temperature: Option<f64>,
    /// Default nucleus sampling threshold.
    pub top_p: Option<f64>,
    /// End-of-sequence token ids.
    pub eos_token_ids: Vec<u64>,
    /// The whole object.
    pub raw: Map<String, Value>,
}

impl GenerationConfig {
    /// Parse `generation_config.json`.
    pub fn parse(bytes: &[u8]) -> Result<GenerationConfig, Error> {
        let raw = parse_object(bytes, "generation_config.json")?;
        let eos_token_ids = match raw.get("eos_token_id") {
            Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_u64).collect(),
            _ => Vec::new(),
        };
        Ok(GenerationConfig {
            max_length: first_u64(&[&raw], &["max_length", "max_new_tokens"]),
            temperature: raw.get("temperature").and_then(Value::as_f64),
            top_p: raw.get("top_p").and_then(Value::as_f64),
            eos_token_ids,
            raw,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_nested_text_config() {
        let config = ModelConfig::parse(
            br#"{"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
                "text_config": {"hidden_size": 4096, "num_hidden_layers": 32,
                "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32064},
                "quantization_config": {"load_in_4bit": true, "quant_method": "bitsandbytes"},
                "auto_map": {"AutoModel": "modeling.Model", "AutoTokenizer": ["tok.Slow", null]}}"#,
        )
        .unwrap();
        assert_eq!(config.model_type.as_deref(), Some("llava"));
        assert_eq!(config.hidden_size, Some(4096));
        assert_eq!(config.num_key_value_heads, Some(8));
        assert_eq!(config.vocab_size, Some(32064));
        assert_eq!(
            config.quantization.unwrap().to_string(),
            "bitsandbytes 4-bit"
        );
        assert_eq!(
            config.auto_map,
            [
                ("AutoModel".to_string(), "modeling.Model".to_string()),
                ("AutoTokenizer".to_string(), "tok.Slow".to_string())
            ]
        );
    }

    #[test]
    fn gpt2_and_falcon_names() {
        let gpt2 = ModelConfig::parse(
            br#"{"n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}"#,
        )
        .unwrap();
        assert_eq!(
            (
                gpt2.hidden_size,
                gpt2.num_hidden_layers,
                gpt2.num_attention_heads,
                gpt2.max_position_embeddings
            ),
            (Some(768), Some(12), Some(12), Some(1024))
        );
        let falcon = ModelConfig::parse(br#"{"n_head": 71, "multi_query": true}"#).unwrap();
        assert_eq!(falcon.num_key_value_heads, Some(1));
    }

    #[test]
    fn wrong_types_are_absent_and_bad_json_names_the_position() {
        let config =
            ModelConfig::parse(br#"{"num_hidden_layers": "six", "vocab_size": -1}"#).unwrap();
        assert_eq!(config.num_hidden_layers, None);
        assert_eq!(config.vocab_size, None);
        match ModelConfig::parse(b"{\n  \"a\": 1,\n  oops\n}") {
            Err(Error::Json {
                file: "config.json",
                line: 3,
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            ModelConfig::parse(b"[1]"),
            Err(Error::NotAnObject {
                found: "an array",
                ..
            })
        ));
    }

    #[test]
    fn generation_config() {
        let config = GenerationConfig::parse(
            br#"{"eos_token_id": [2, 7], "temperature": 0.6, "max_new_tokens": 256}"#,
        )
        .unwrap();
        assert_eq!(config.eos_token_ids, [2, 7]);
        assert_eq!(config.temperature, Some(0.6));
        assert_eq!(config.max_length, Some(256));
    }
}
