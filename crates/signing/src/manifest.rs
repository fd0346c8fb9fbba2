//! The manifest (every file or shard of a model with its SHA-256) and its
//! wire form, the in-toto Statement v1 with the model-signing v1.0
//! predicate.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::json::{Bounded, Cap};
use crate::keys::hex;

/// `_type` of the statement.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of a model signature, OMS v1.0.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// `predicateType` of the pre-1.0 format (model_signing 0.2), not verified here.
const PREDICATE_TYPE_V0_1: &str = "https://model_signing/Digests/v0.1";
/// The only `hash_type` produced and verified.
pub const HASH_TYPE: &str = "sha256";

/// Most entries in a manifest, signed or computed.
pub const MAX_RESOURCES: usize = 1_000_000;
/// Most `ignore_paths` a statement may list.
pub const MAX_IGNORE_PATHS: usize = 10_000;
/// Largest integer a JSON number read as a double still holds exactly.
const MAX_EXACT_JSON_INTEGER: f64 = 9_007_199_254_740_992.0;

/// How a model is cut into manifest entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serialization {
    /// One entry per file, named by its path relative to the model root
    /// (`.` for a single-file model).
    Files,
    /// One entry per `shard_size`-byte shard of each non-empty file, named
    /// `path:start:end`. Shards of one file hash in parallel.
    Shards {
        /// Shard size in bytes (model_signing's default is 1,000,000,000).
        shard_size: u64,
    },
}

impl Serialization {
    /// The statement's `method`: `files` or `shards`.
    pub fn method(&self) -> &'static str {
        match self {
            Serialization::Files => "files",
            Serialization::Shards { .. } => "shards",
        }
    }

    /// The `algorithm` of each resource: `sha256`, or
    /// `sha256-sharded-<shard_size>` as model_signing names shard digests.
    pub fn algorithm(&self) -> String {
        match self {
            Serialization::Files => HASH_TYPE.to_string(),
            Serialization::Shards { shard_size } => format!("{HASH_TYPE}-sharded-{shard_size}"),
        }
    }
}

/// The statement's `predicate.serialization`: everything needed to hash the
/// model again the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializationParams {
    /// Files or shards (hash type is always SHA-256).
    pub serialization: Serialization,
    /// Whether symbolic links were followed.
    pub allow_symlinks: bool,
    /// Paths relative to the model root that were left out (a directory
    /// leaves out everything below it).
    pub ignore_paths: Vec<String>,
}

/// One manifest entry: a file or a shard and its digest. Its `algorithm`
/// in the statement follows from the manifest's serialization
/// ([`Serialization::algorithm`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `path` (files) or `path:start:end` (shards), `/`-separated.
    pub name: String,
    /// SHA-256 of the file or shard.
    pub digest: [u8; 32],
}

impl Resource {
    /// The digest in lower-case hex.
    pub fn digest_hex(&self) -> String {
        hex(&self.digest)
    }

    /// The file this entry covers: the name itself, or the name without its
    /// `:start:end` in shards mode.
    pub fn file(&self, serialization: Serialization) -> &str {
        match serialization {
            Serialization::Files => &self.name,
            Serialization::Shards { .. } => {
                let mut parts = self.name.rsplitn(3, ':');
                let (_end, _start) = (parts.next(), parts.next());
                parts.next().unwrap_or(&self.name)
            }
        }
    }
}

/// A model's manifest: its name (informative only), how it was hashed, and
/// every entry in model_signing's canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The model directory's (or file's) name: the statement's subject name.
    pub model_name: String,
    /// How the entries were computed.
    pub params: SerializationParams,
    /// The entries, sorted by path component, then shard start.
    pub resources: Vec<Resource>,
}

impl Manifest {
    /// The subject digest: SHA-256 over the entries' raw digests, in order.
    pub fn root_digest(&self) -> [u8; 32] {
        root_digest(&self.resources)
    }

    /// The subject digest in lower-case hex.
    pub fn root_digest_hex(&self) -> String {
        hex(&self.root_digest())
    }

    /// The distinct files the manifest covers, in order.
    pub fn files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = Vec::new();
        for resource in &self.resources {
            let file = resource.file(self.params.serialization);
            if files.last() != Some(&file) {
                files.push(file);
            }
        }
        files
    }

    /// The in-toto statement, as the DSSE payload: pretty JSON with two-space
    /// indentation like model_signing's, `shard_size` as an integer.
    pub fn statement_json(&self) -> Vec<u8> {
        let algorithm = self.params.serialization.algorithm();
        let serialization = SerializationOut {
            method: self.params.serialization.method(),
            hash_type: HASH_TYPE,
            shard_size: match self.params.serialization {
                Serialization::Files => None,
                Serialization::Shards { shard_size } => Some(shard_size),
            },
            allow_symlinks: self.params.allow_symlinks,
            ignore_paths: &self.params.ignore_paths,
        };
        let statement = StatementOut {
            type_: STATEMENT_TYPE,
            subject: [SubjectOut {
                name: &self.model_name,
                digest: DigestOut {
                    sha256: self.root_digest_hex(),
                },
            }],
            predicate_type: PREDICATE_TYPE,
            predicate: PredicateOut {
                serialization,
                resources: self
                    .resources
                    .iter()
                    .map(|r| ResourceOut {
                        name: &r.name,
                        algorithm: &algorithm,
                        digest: r.digest_hex(),
                    })
                    .collect(),
            },
        };
        // Serializing plain structs of strings, bools and integers cannot fail.
        serde_json::to_vec_pretty(&statement).unwrap_or_default()
    }

    /// Read a statement (a DSSE payload). The payload is untrusted until its
    /// signature is verified; this checks its shape, the entries against
    /// the serialization, and the subject digest against the entries.
    pub fn from_statement_json(payload: &[u8]) -> Result<Manifest, Error> {
        let statement: StatementIn = serde_json::from_slice(payload)
            .map_err(|e| Error::statement("payload", format!("not a statement: {e}")))?;
        let statement_type = required(statement.type_, "_type")?;
        if statement_type != STATEMENT_TYPE {
            return Err(Error::statement(
                "_type",
                format!("{statement_type:?}, expected {STATEMENT_TYPE}"),
            ));
        }
        let predicate_type = required(statement.predicate_type, "predicateType")?;
        if predicate_type != PREDICATE_TYPE {
            return Err(Error::UnsupportedPredicate {
                predicate_type: if predicate_type == PREDICATE_TYPE_V0_1 {
                    format!("{predicate_type} (model_signing 0.2; re-sign with 1.x)")
                } else {
                    predicate_type
                },
                expected: PREDICATE_TYPE,
            });
        }
        let subjects = required(statement.subject, "subject")?.0;
        let n_subjects = subjects.len();
        let Ok([subject]) = <[SubjectIn; 1]>::try_from(subjects) else {
            return Err(Error::statement(
                "subject",
                format!("{n_subjects} subjects, expected exactly 1"),
            ));
        };
        let model_name = required(subject.name, "subject[0].name")?;
        let subject_digest = required(
            required(subject.digest, "subject[0].digest")?.sha256,
            "subject[0].digest.sha256",
        )?;
        let expected_root = parse_digest(&subject_digest, "subject[0].digest.sha256")?;

        let predicate = required(statement.predicate, "predicate")?;
        let params = parse_serialization(required(
            predicate.serialization,
            "predicate.serialization",
        )?)?;
        let algorithm = params.serialization.algorithm();

        let entries = required(predicate.resources, "predicate.resources")?.0;
        let mut resources = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            let field = |name: &str| format!("predicate.resources[{index}].{name}");
            let name = required(entry.name, &field("name"))?;
            if name.is_empty() {
                return Err(Error::statement(field("name"), "empty"));
            }
            if let Serialization::Shards { shard_size } = params.serialization {
                check_shard_name(&name, shard_size)
                    .map_err(|r| Error::statement(field("name"), r))?;
            }
            let entry_algorithm = required(entry.algorithm, &field("algorithm"))?;
            if entry_algorithm != algorithm {
                return Err(Error::statement(
                    field("algorithm"),
                    format!("{entry_algorithm:?}, expected {algorithm:?} for this serialization"),
                ));
            }
            let digest =
                parse_digest(&required(entry.digest, &field("digest"))?, &field("digest"))?;
            resources.push(Resource { name, digest });
        }
        let mut names = HashSet::with_capacity(resources.len());
        for (index, resource) in resources.iter().enumerate() {
            if !names.insert(resource.name.as_str()) {
                return Err(Error::statement(
                    format!("predicate.resources[{index}].name"),
                    format!("{:?} appears twice", resource.name),
                ));
            }
        }
        let computed = root_digest(&resources);
        if computed != expected_root {
            return Err(Error::RootDigestMismatch {
                expected: hex(&expected_root),
                computed: hex(&computed),
            });
        }
        Ok(Manifest {
            model_name,
            params,
            resources,
        })
    }
}

fn root_digest(resources: &[Resource]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for resource in resources {
        hasher.update(resource.digest);
    }
    hasher.finalize().into()
}

fn parse_serialization(value: SerializationIn) -> Result<SerializationParams, Error> {
    const FIELD: &str = "predicate.serialization";
    let method = required(value.method, &format!("{FIELD}.method"))?;
    let hash_type = required(value.hash_type, &format!("{FIELD}.hash_type"))?;
    if hash_type != HASH_TYPE {
        return Err(Error::UnsupportedSerialization {
            field: "hash_type",
            value: hash_type,
        });
    }
    let allow_symlinks = required(value.allow_symlinks, &format!("{FIELD}.allow_symlinks"))?;
    let serialization = match method.as_str() {
        "files" => Serialization::Files,
        "shards" => {
            let field = format!("{FIELD}.shard_size");
            let shard_size = required(value.shard_size, &field)?;
            // model_signing writes the statement through a protobuf Struct,
            // whose numbers are doubles: `1000000000.0`.
            let shard_size = match (shard_size.as_u64(), shard_size.as_f64()) {
                (Some(n), _) => n,
                (None, Some(f))
                    if f.fract() == 0.0 && (1.0..=MAX_EXACT_JSON_INTEGER).contains(&f) =>
                {
                    // Exact: an integral double below 2^53.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let n = f as u64;
                    n
                }
                _ => return Err(Error::statement(field, "not a positive integer")),
            };
            if shard_size == 0 {
                return Err(Error::statement(field, "zero"));
            }
            Serialization::Shards { shard_size }
        }
        _ => {
            return Err(Error::UnsupportedSerialization {
                field: "method",
                value: method,
            });
        }
    };
    let ignore_paths = value.ignore_paths.map(|list| list.0).unwrap_or_default();
    if let Some(path) = ignore_paths
        .iter()
        .find(|path| crate::hashing::normalize_ignore_path(path).is_none())
    {
        return Err(Error::IgnoresRoot { path: path.clone() });
    }
    Ok(SerializationParams {
        serialization,
        allow_symlinks,
        ignore_paths,
    })
}

/// `path:start:end` with `start < end` and at most one shard long.
fn check_shard_name(name: &str, shard_size: u64) -> Result<(), String> {
    let mut parts = name.rsplitn(3, ':');
    let (Some(end), Some(start), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{name:?} is not path:start:end"));
    };
    let parse = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()
    };
    let (Some(start), Some(end)) = (parse(start), parse(end)) else {
        return Err(format!("{name:?}: start and end must be integers"));
    };
    if path.is_empty() || end <= start || end - start > shard_size {
        return Err(format!("{name:?} is not a valid shard"));
    }
    Ok(())
}

fn parse_digest(text: &str, field: &str) -> Result<[u8; 32], Error> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(Error::statement(
            field,
            format!("{} hex digits, expected 64", bytes.len()),
        ));
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        let (Some(high), Some(low)) = (
            pair.first().and_then(|c| hex_value(*c)),
            pair.get(1).and_then(|c| hex_value(*c)),
        ) else {
            return Err(Error::statement(field, "not hexadecimal"));
        };
        *byte = high << 4 | low;
    }
    Ok(digest)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::statement(field, "missing"))
}

// The statement as read: every field optional (presence is checked with its
// name), unknown fields skipped, arrays capped.

struct SubjectCap;
impl Cap for SubjectCap {
    const MAX: usize = 16;
    const FIELD: &'static str = "subject";
}

struct ResourcesCap;
impl Cap for ResourcesCap {
    const MAX: usize = MAX_RESOURCES;
    const FIELD: &'static str = "predicate.resources";
}

struct IgnorePathsCap;
impl Cap for IgnorePathsCap {
    const MAX: usize = MAX_IGNORE_PATHS;
    const FIELD: &'static str = "predicate.serialization.ignore_paths";
}

#[derive(Deserialize)]
struct StatementIn {
    #[serde(rename = "_type")]
    type_: Option<String>,
    subject: Option<Bounded<SubjectIn, SubjectCap>>,
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
    predicate: Option<PredicateIn>,
}

#[derive(Deserialize)]
struct SubjectIn {
    name: Option<String>,
    digest: Option<DigestIn>,
}

#[derive(Deserialize)]
struct DigestIn {
    sha256: Option<String>,
}

#[derive(Deserialize)]
struct PredicateIn {
    serialization: Option<SerializationIn>,
    resources: Option<Bounded<ResourceIn, ResourcesCap>>,
}

#[derive(Deserialize)]
struct SerializationIn {
    method: Option<String>,
    hash_type: Option<String>,
    allow_symlinks: Option<bool>,
    shard_size: Option<serde_json::Number>,
    ignore_paths: Option<Bounded<String, IgnorePathsCap>>,
}

#[derive(Deserialize)]
struct ResourceIn {
    name: Option<String>,
    algorithm: Option<String>,
    digest: Option<String>,
}

#[derive(Serialize)]
struct StatementOut<'a> {
    #[serde(rename = "_type")]
    type_: &'static str,
    subject: [SubjectOut<'a>; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'static str,
    predicate: PredicateOut<'a>,
}

#[derive(Serialize)]
struct SubjectOut<'a> {
    name: &'a str,
    digest: DigestOut,
}

#[derive(Serialize)]
struct DigestOut {
    sha256: String,
}

#[derive(Serialize)]
struct PredicateOut<'a> {
    serialization: SerializationOut<'a>,
    resources: Vec<ResourceOut<'a>>,
}

#[derive(Serialize)]
struct SerializationOut<'a> {
    method: &'static str,
    hash_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_size: Option<u64>,
    allow_symlinks: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ignore_paths: &'a [String],
}

#[derive(Serialize)]
struct ResourceOut<'a> {
    name: &'a str,
    algorithm: &'a str,
    digest: String,
}
