//! Sentence embeddings from BERT-family sentence-transformers snapshots.
//!
//! Purpose: given a vetted snapshot (`config.json`, `model.safetensors`,
//! `tokenizer.json`, `modules.json`, `1_Pooling/config.json`, optionally
//! `sentence_bert_config.json` and `config_sentence_transformers.json`, as
//! in all-MiniLM-L6-v2), compute the vectors sentence-transformers would:
//! tokenize (truncating at the snapshot's `max_seq_length`), run the BERT
//! encoder ([`candle_transformers`]' `bert` on the CPU, f32), pool the
//! token vectors as `1_Pooling/config.json` says (mean, CLS, max, …), and
//! L2-normalise when `modules.json` lists a Normalize module. Inputs are
//! texts or token ids, as OpenAI's `/v1/embeddings` accepts; each result
//! says how many tokens its input used, for usage accounting. Batches are
//! padded and masked, so a vector does not depend on what it was batched
//! with (up to float rounding).
//!
//! Non-purpose: vetting the snapshot (the caller hands over files that
//! passed the gate), downloading, GPUs, other architectures (RoBERTa,
//! XLM-R, DistilBERT, decoder models) and other sentence-transformers
//! modules (Dense): those are refused at load with an error naming the
//! file and field.
//!
//! Memory: the weights are read through `modelgate-formats` (memory-mapped
//! when large) and copied once into candle tensors; the map is released
//! after loading. all-MiniLM-L6-v2 holds about 90 MB.
//!
//! ```no_run
//! use modelgate_embed::{EmbedInput, SentenceEncoder};
//! let encoder = SentenceEncoder::load(std::path::Path::new("all-MiniLM-L6-v2"))?;
//! let out = encoder.encode(&[EmbedInput::Text("A cat sat on the mat.")])?;
//! assert_eq!(out.items[0].vector.len(), encoder.dimensions());
//! println!("{} tokens", out.total_tokens());
//! # Ok::<(), modelgate_embed::EmbedError>(())
//! ```

mod error;
mod pooling;
mod snapshot;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{
    PostProcessor, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

pub use error::EmbedError;
pub use pooling::PoolingMode;

use pooling::Pooling;
use snapshot::{Source, join};

/// Most sequences run through the model at once.
const MAX_BATCH: usize = 32;
/// Most (padded) tokens run through the model at once: bounds the
/// attention scores' memory (batch × heads × length², f32).
const MAX_BATCH_TOKENS: usize = 8192;

/// One input to embed: a text, or token ids of this model's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedInput<'a> {
    /// A text: the snapshot's default prompt (if it names one) is put in
    /// front, it is tokenized with the special tokens (`[CLS] … [SEP]`) and
    /// truncated at [`SentenceEncoder::max_tokens`].
    Text(&'a str),
    /// Token ids, used as given (no special tokens added, no prompt), cut
    /// to the first [`SentenceEncoder::max_tokens`] ids. Ids from
    /// [`SentenceEncoder::tokenize`] give the same vector as the text.
    Tokens(&'a [u32]),
}

impl<'a> From<&'a str> for EmbedInput<'a> {
    fn from(text: &'a str) -> Self {
        EmbedInput::Text(text)
    }
}

impl<'a> From<&'a String> for EmbedInput<'a> {
    fn from(text: &'a String) -> Self {
        EmbedInput::Text(text)
    }
}

impl<'a> From<&'a [u32]> for EmbedInput<'a> {
    fn from(tokens: &'a [u32]) -> Self {
        EmbedInput::Tokens(tokens)
    }
}

impl<'a> From<&'a Vec<u32>> for EmbedInput<'a> {
    fn from(tokens: &'a Vec<u32>) -> Self {
        EmbedInput::Tokens(tokens)
    }
}

/// The embedding of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// The vector, [`SentenceEncoder::dimensions`] long (unit length when
    /// the snapshot normalises).
    pub vector: Vec<f32>,
    /// Tokens the model read for this input, special tokens and prompt
    /// included, after truncation: what usage accounting charges.
    pub tokens: usize,
    /// Whether the input was longer than [`SentenceEncoder::max_tokens`]
    /// and cut.
    pub truncated: bool,
}

/// The embeddings of a request's inputs, in input order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embeddings {
    /// One per input, in the order given.
    pub items: Vec<Embedding>,
}

impl Embeddings {
    /// Tokens read over all inputs.
    pub fn total_tokens(&self) -> usize {
        self.items.iter().map(|item| item.tokens).sum()
    }
}

/// The prompt put in front of every text.
#[derive(Debug, Clone)]
struct Prompt {
    text: String,
    /// Its length in tokens as sentence-transformers counts it (tokenized
    /// alone, minus the final special token): the leading rows left out of
    /// the pooling when the Pooling module excludes the prompt.
    tokens: usize,
}

/// A loaded sentence-embedding model: BERT encoder, tokenizer, pooling.
///
/// Loading reads and checks every file; encoding never touches the file
/// system. The encoder is `Send + Sync`: share one behind an `Arc` and call
/// [`encode`](Self::encode) from several threads (each call runs on the
/// calling thread and candle's thread pool).
pub struct SentenceEncoder {
    model: BertModel,
    device: Device,
    /// Truncates at `max_tokens`, no padding: what `encode` uses.
    tokenizer: Tokenizer,
    /// The same without truncation: what `count_tokens` uses.
    counter: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    max_tokens: usize,
    vocab_size: usize,
    hidden_size: usize,
    prompt: Option<Prompt>,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("dimensions", &self.dimensions())
            .field("max_tokens", &self.max_tokens)
            .field("pooling", &self.pooling.modes)
            .field("normalize", &self.normalize)
            .field("vocab_size", &self.vocab_size)
            .field("prompt", &self.prompt.as_ref().map(|p| &p.text))
            .finish_non_exhaustive()
    }
}

impl SentenceEncoder {
    /// Load the snapshot in directory `dir` (its files at the relative
    /// paths `modules.json` and the Hugging Face layout name).
    pub fn load(dir: &Path) -> Result<SentenceEncoder, EmbedError> {
        SentenceEncoder::from_source(&Source::Dir(dir))
    }

    /// Load a snapshot whose files are stored elsewhere (a
    /// content-addressed store): `files` maps each snapshot-relative path
    /// (`"config.json"`, `"1_Pooling/config.json"`, `"model.safetensors"`,
    /// `"tokenizer.json"`, `"modules.json"`, …) to the file holding its
    /// bytes. Paths not in the map are treated as absent.
    pub fn load_files(files: &BTreeMap<String, PathBuf>) -> Result<SentenceEncoder, EmbedError> {
        SentenceEncoder::from_source(&Source::Files(files))
    }

    fn from_source(source: &Source<'_>) -> Result<SentenceEncoder, EmbedError> {
        let modules = snapshot::modules(source)?;
        let module = modules.transformer.as_str();
        let config = bert_config(source, module)?;
        let pooling = snapshot::pooling(source, &modules.pooling)?;
        if pooling.word_embedding_dimension != config.hidden_size {
            return Err(EmbedError::Invalid {
                file: join(&modules.pooling, "config.json"),
                field: "word_embedding_dimension".to_string(),
                problem: format!(
                    "is {}, but the model's hidden_size (config.json) is {}; the pooling \
                     configuration belongs to another model",
                    pooling.word_embedding_dimension, config.hidden_size
                ),
            });
        }
        let max_tokens = snapshot::max_seq_length(source, module, config.max_position_embeddings)?;
        let (tokenizer, counter) = tokenizers(source, module, max_tokens)?;
        let prompt = match snapshot::default_prompt(source)? {
            Some(text) => {
                let encoding =
                    counter
                        .encode(text.as_str(), true)
                        .map_err(|e| EmbedError::Tokenizer {
                            file: "config_sentence_transformers.json".to_string(),
                            message: format!("cannot tokenize the default prompt: {e}"),
                        })?;
                Some(Prompt {
                    text,
                    tokens: encoding.len().saturating_sub(1),
                })
            }
            None => None,
        };
        let device = Device::Cpu;
        let model = load_model(source, module, &config, &device)?;
        Ok(SentenceEncoder {
            model,
            device,
            tokenizer,
            counter,
            pooling,
            normalize: modules.normalize,
            max_tokens,
            vocab_size: config.vocab_size,
            hidden_size: config.hidden_size,
            prompt,
        })
    }

    /// The length of every vector: the hidden size times the number of
    /// pooling modes (384 for all-MiniLM-L6-v2).
    pub fn dimensions(&self) -> usize {
        self.hidden_size * self.pooling.modes.len()
    }

    /// The most tokens the model reads of one input (special tokens and
    /// prompt included); longer inputs are truncated. The snapshot's
    /// `max_seq_length` (256 for all-MiniLM-L6-v2), capped by the model's
    /// position embeddings.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// How `1_Pooling/config.json` pools, in concatenation order.
    pub fn pooling_modes(&self) -> &[PoolingMode] {
        &self.pooling.modes
    }

    /// Whether vectors are scaled to unit length (a Normalize module).
    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    /// The prompt put in front of every text, if the snapshot's
    /// `config_sentence_transformers.json` names a default one.
    pub fn default_prompt(&self) -> Option<&str> {
        self.prompt.as_ref().map(|prompt| prompt.text.as_str())
    }

    /// The tokens `text` takes *before* truncation: special tokens and the
    /// default prompt included. More than [`max_tokens`](Self::max_tokens)
    /// means [`encode`](Self::encode) would cut it.
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        let text = self.with_prompt(text);
        let encoding = self
            .counter
            .encode(text.as_ref(), true)
            .map_err(|e| tokenize_error(0, &e))?;
        Ok(encoding.len())
    }

    /// The token ids [`encode`](Self::encode) feeds the model for `text`
    /// (prompt and special tokens included, truncated).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let text = self.with_prompt(text);
        let encoding = self
            .tokenizer
            .encode(text.as_ref(), true)
            .map_err(|e| tokenize_error(0, &e))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Embed `inputs`, returning one [`Embedding`] per input in order.
    ///
    /// Inputs are sorted by length and run in padded, masked batches of up
    /// to 32; the vectors do not depend on the batching beyond float
    /// rounding. An empty slice gives no embeddings. Errors name the input
    /// (its index) when one is at fault: an empty or out-of-vocabulary
    /// token list, or a text the tokenizer rejects.
    pub fn encode(&self, inputs: &[EmbedInput<'_>]) -> Result<Embeddings, EmbedError> {
        let sequences = inputs
            .iter()
            .enumerate()
            .map(|(index, input)| self.sequence(index, input))
            .collect::<Result<Vec<_>, _>>()?;
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| {
            std::cmp::Reverse(sequences.get(i).map_or(0, |sequence| sequence.ids.len()))
        });
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; sequences.len()];
        let mut rest = order.as_slice();
        while !rest.is_empty() {
            let longest = rest
                .first()
                .and_then(|&i| sequences.get(i))
                .map_or(1, |sequence| sequence.ids.len().max(1));
            let size = (MAX_BATCH_TOKENS / longest)
                .clamp(1, MAX_BATCH)
                .min(rest.len());
            let (batch, after) = rest.split_at(size);
            rest = after;
            let members: Vec<&Sequence> = batch.iter().filter_map(|&i| sequences.get(i)).collect();
            for (&i, vector) in batch.iter().zip(self.run_batch(&members)?) {
                if let Some(slot) = vectors.get_mut(i) {
                    *slot = Some(vector);
                }
            }
        }
        let items = sequences
            .into_iter()
            .zip(vectors)
            .map(|(sequence, vector)| Embedding {
                vector: vector.unwrap_or_default(),
                tokens: sequence.ids.len(),
                truncated: sequence.truncated,
            })
            .collect();
        Ok(Embeddings { items })
    }

    fn with_prompt<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.prompt {
            Some(prompt) => Cow::Owned(format!("{}{text}", prompt.text)),
            None => Cow::Borrowed(text),
        }
    }

    /// The ids the model reads for one input, checked.
    fn sequence(&self, index: usize, input: &EmbedInput<'_>) -> Result<Sequence, EmbedError> {
        let sequence = match input {
            EmbedInput::Text(text) => {
                let text = self.with_prompt(text);
                let encoding = self
                    .tokenizer
                    .encode(text.as_ref(), true)
                    .map_err(|e| tokenize_error(index, &e))?;
                let skip = match &self.prompt {
                    Some(prompt) if !self.pooling.include_prompt => prompt.tokens,
                    _ => 0,
                };
                Sequence {
                    ids: encoding.get_ids().to_vec(),
                    truncated: !encoding.get_overflowing().is_empty(),
                    skip,
                }
            }
            EmbedInput::Tokens(tokens) => {
                if tokens.is_empty() {
                    return Err(EmbedError::EmptyTokens { input: index });
                }
                let kept = tokens.get(..self.max_tokens).unwrap_or(tokens);
                Sequence {
                    ids: kept.to_vec(),
                    truncated: kept.len() < tokens.len(),
                    skip: 0,
                }
            }
        };
        if sequence.ids.is_empty() {
            // A tokenizer without special tokens and an empty text.
            return Err(EmbedError::Tokenizer {
                file: format!("input {index}"),
                message: "the text gives no tokens (tokenizer.json adds no special tokens); \
                          send a non-empty text"
                    .to_string(),
            });
        }
        if let Some((position, &id)) = sequence
            .ids
            .iter()
            .enumerate()
            .find(|(_, id)| usize::try_from(**id).unwrap_or(usize::MAX) >= self.vocab_size)
        {
            return Err(EmbedError::TokenOutOfRange {
                input: index,
                position,
                id,
                max_id: self.vocab_size.saturating_sub(1),
            });
        }
        Ok(sequence)
    }

    /// Run one batch through the model and pool each sequence.
    fn run_batch(&self, batch: &[&Sequence]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let length = batch.iter().map(|s| s.ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * length);
        let mut mask = Vec::with_capacity(batch.len() * length);
        for sequence in batch {
            let padding = length - sequence.ids.len();
            ids.extend_from_slice(&sequence.ids);
            // Any valid id will do: padded positions are masked out.
            ids.extend(std::iter::repeat_n(0u32, padding));
            mask.extend(std::iter::repeat_n(1u32, sequence.ids.len()));
            mask.extend(std::iter::repeat_n(0u32, padding));
        }
        let hidden = self
            .forward(ids, mask, (batch.len(), length))
            .map_err(EmbedError::Compute)?;
        let stride = length * self.hidden_size;
        let mut vectors = Vec::with_capacity(batch.len());
        for (b, sequence) in batch.iter().enumerate() {
            let start = b * stride;
            let rows = hidden
                .get(start..start + sequence.ids.len() * self.hidden_size)
                .unwrap_or(&[]);
            let mut vector = self.pooling.pool(rows, self.hidden_size, sequence.skip);
            if self.normalize {
                pooling::normalize(&mut vector);
            }
            vectors.push(vector);
        }
        Ok(vectors)
    }
}

impl SentenceEncoder {
    /// The encoder's last hidden states for a padded batch (`shape`:
    /// sequences × length), flattened: sequence, then token, then feature.
    fn forward(
        &self,
        ids: Vec<u32>,
        mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Vec<f32>> {
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let types = ids.zeros_like()?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        hidden.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
    }
}

/// One input as the model reads it.
#[derive(Debug)]
struct Sequence {
    ids: Vec<u32>,
    truncated: bool,
    /// Leading rows left out of the pooling (the prompt).
    skip: usize,
}

fn tokenize_error(index: usize, error: &tokenizers::Error) -> EmbedError {
    EmbedError::Tokenizer {
        file: format!("input {index}"),
        message: format!("cannot tokenize: {error}"),
    }
}

/// `config.json`, checked to be a BERT model candle's `bert` implements.
fn bert_config(source: &Source<'_>, module: &str) -> Result<BertConfig, EmbedError> {
    let file = join(module, "config.json");
    let mut value: serde_json::Value = source.json(&file)?.ok_or_else(|| EmbedError::Missing {
        file: file.clone(),
        hint: "it describes the transformer (sizes, layers); re-download the snapshot",
    })?;
    let unsupported = |field: &str, what: String, hint| EmbedError::Unsupported {
        file: file.clone(),
        field: field.to_string(),
        what,
        hint,
    };
    match value.get("model_type").and_then(|v| v.as_str()) {
        Some("bert") | None => {}
        Some(other) => {
            return Err(unsupported(
                "model_type",
                format!("{other:?}"),
                "only BERT encoders (model_type \"bert\") are implemented; RoBERTa, XLM-R, \
                 DistilBERT and other architectures are not",
            ));
        }
    }
    // Hugging Face names the tanh approximation of GELU several ways;
    // candle's enum spells it `geluapproximate`.
    let act = value.get("hidden_act").and_then(|v| v.as_str());
    let candle_act = match act {
        Some("gelu") | None => "gelu",
        Some("gelu_new" | "gelu_pytorch_tanh" | "gelu_fast") => "geluapproximate",
        Some("relu") => "relu",
        Some(other) => {
            return Err(unsupported(
                "hidden_act",
                format!("{other:?}"),
                "the activation must be gelu, gelu_new, gelu_pytorch_tanh, gelu_fast or relu",
            ));
        }
    };
    if let Some(object) = value.as_object_mut() {
        object.insert("hidden_act".into(), candle_act.into());
    }
    match value
        .get("position_embedding_type")
        .and_then(|v| v.as_str())
    {
        Some("absolute") | None => {}
        Some(other) => {
            return Err(unsupported(
                "position_embedding_type",
                format!("{other:?}"),
                "only absolute position embeddings are implemented",
            ));
        }
    }
    let config: BertConfig = serde_json::from_value(value).map_err(|source| EmbedError::Json {
        file: file.clone(),
        source,
    })?;
    let invalid = |field: &str, problem: String| EmbedError::Invalid {
        file: file.clone(),
        field: field.to_string(),
        problem,
    };
    for (field, size) in [
        ("vocab_size", config.vocab_size),
        ("hidden_size", config.hidden_size),
        ("num_attention_heads", config.num_attention_heads),
        ("max_position_embeddings", config.max_position_embeddings),
        ("type_vocab_size", config.type_vocab_size),
    ] {
        if size == 0 {
            return Err(invalid(
                field,
                "is 0; the configuration is broken, re-download the snapshot".to_string(),
            ));
        }
    }
    if !config
        .hidden_size
        .is_multiple_of(config.num_attention_heads)
    {
        return Err(invalid(
            "num_attention_heads",
            format!(
                "{} does not divide hidden_size {}; the configuration is broken",
                config.num_attention_heads, config.hidden_size
            ),
        ));
    }
    Ok(config)
}

/// `tokenizer.json`, twice: truncating at `max_tokens` and not truncating.
/// Padding configured in the file is switched off (batches are padded
/// here).
fn tokenizers(
    source: &Source<'_>,
    module: &str,
    max_tokens: usize,
) -> Result<(Tokenizer, Tokenizer), EmbedError> {
    let file = join(module, "tokenizer.json");
    let bytes = source
        .read_small(&file)?
        .ok_or_else(|| EmbedError::Missing {
            file: file.clone(),
            hint: "the fast-tokenizer file is needed (vocab.txt alone is not read); save the \
               tokenizer with a recent transformers or tokenizers release",
        })?;
    let mut counter = Tokenizer::from_bytes(&bytes).map_err(|e| EmbedError::Tokenizer {
        file: file.clone(),
        message: format!("not a valid tokenizer: {e}"),
    })?;
    counter.with_padding(None);
    let mut tokenizer = counter.clone();
    counter
        .with_truncation(None)
        .map_err(|e| EmbedError::Tokenizer {
            file: file.clone(),
            message: e.to_string(),
        })?;
    let special = tokenizer
        .get_post_processor()
        .map_or(0, |processor| processor.added_tokens(false));
    if max_tokens <= special {
        return Err(EmbedError::Invalid {
            file: join(module, "sentence_bert_config.json"),
            field: "max_seq_length".to_string(),
            problem: format!(
                "{max_tokens} leaves no room for text after the {special} special tokens; raise it"
            ),
        });
    }
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| EmbedError::Tokenizer {
            file: file.clone(),
            message: e.to_string(),
        })?;
    Ok((tokenizer, counter))
}

/// The BERT weights, from `model.safetensors` or its shards.
fn load_model(
    source: &Source<'_>,
    module: &str,
    config: &BertConfig,
    device: &Device,
) -> Result<BertModel, EmbedError> {
    let files = snapshot::weight_files(source, module)?;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for file in &files {
        let bytes = source
            .read_large(file)?
            .ok_or_else(|| EmbedError::Missing {
                file: file.clone(),
                hint: "a weights shard listed in model.safetensors.index.json; re-download the \
                   snapshot",
            })?;
        let shard = candle_core::safetensors::load_buffer(&bytes, device).map_err(|source| {
            EmbedError::Weights {
                file: file.clone(),
                source,
            }
        })?;
        tensors.extend(shard);
    }
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    BertModel::load(vb, config).map_err(|source| EmbedError::Weights {
        file: files.join(", "),
        source,
    })
}
