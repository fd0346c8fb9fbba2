//! Dispatching each file read by `modelgate-formats`, by content, to the
//! checks for its format. Containers are opened (within limits) and their members
//! scanned the same way.

use std::path::{Path, PathBuf};

use modelgate_formats::archive::stream::Compression;
use modelgate_formats::archive::tar::{TarArchive, TarKind};
use modelgate_formats::archive::zip::{AnomalyKind, ZipArchive};
use modelgate_formats::archive::{self, Limits};
use modelgate_formats::hf::{self, FileRole};
use modelgate_formats::{Format, LoadOptions, LoadedFile, sniff};
use rayon::prelude::*;

use crate::pickle::scan_pickle_stream;
use crate::{FileReport, Finding, Location, ScanReport, Severity, python, template};

/// How far a scan goes.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Size, ratio and nesting limits for containers and streams.
    pub limits: Limits,
    /// Directory walking limits.
    pub load: LoadOptions,
}

/// A path that could not be scanned at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Walking a directory failed.
    #[error(transparent)]
    Walk(#[from] modelgate_formats::Error),
}

/// File extensions that promise a model: an unrecognised format behind one
/// of them is a finding.
const MODEL_EXTENSIONS: &[&str] = &[
    "bin",
    "pt",
    "pth",
    "ckpt",
    "pkl",
    "pickle",
    "joblib",
    "npy",
    "npz",
    "h5",
    "hdf5",
    "keras",
    "onnx",
    "gguf",
    "safetensors",
    "model",
    "tar",
    "zip",
    "gz",
    "bz2",
    "xz",
    "lzma",
    "msgpack",
    "tflite",
    "pb",
    "mar",
    "nemo",
];

/// Extensions of scripts and executables.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "sh", "bash", "bat", "cmd", "ps1", "exe", "dll", "so", "dylib", "vbs", "scr",
];

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Scan files and directories. Each path is read once through
/// `modelgate-formats` ([`read_tree`](modelgate_formats::read_tree)) and its
/// files scanned in parallel.
pub fn scan_paths(paths: &[PathBuf], options: &ScanOptions) -> Result<ScanReport, Error> {
    let mut reports = Vec::new();
    for path in paths {
        let tree =
            modelgate_formats::read_tree(path, &options.load.walk_options()).map_err(|error| {
                match error {
                    modelgate_formats::Error::Io { path, source } => Error::Io { path, source },
                    other => Error::Walk(other),
                }
            })?;
        reports.extend(scan_files(
            &tree.files,
            tree.is_dir,
            &tree.failures,
            options,
        ));
    }
    Ok(ScanReport::new(reports))
}

/// Scan what [`modelgate_formats::load`] read: the very bytes its
/// artifacts were parsed from (and a caller hashes), so nothing is read
/// from disk again. Files that could not be read are `high` findings.
pub fn scan_loaded(loaded: &modelgate_formats::Loaded, options: &ScanOptions) -> ScanReport {
    // Beside a single file, repository files are read as context only:
    // their failures are not the scanned file's.
    let failures: Vec<&modelgate_formats::Failure> = loaded
        .failures
        .iter()
        .filter(|failure| loaded.is_dir || failure.path == loaded.root)
        .collect();
    ScanReport::new(scan_files(&loaded.files, loaded.is_dir, failures, options))
}

fn scan_files<'f>(
    files: &[LoadedFile],
    in_directory: bool,
    failures: impl IntoIterator<Item = &'f modelgate_formats::Failure>,
    options: &ScanOptions,
) -> Vec<FileReport> {
    let mut reports: Vec<FileReport> = failures
        .into_iter()
        .filter(|failure| failure.is_unread())
        .map(|failure| FileReport {
            path: failure.path.display().to_string(),
            format: "unreadable".to_string(),
            file_bytes: 0,
            findings: vec![Finding {
                rule: "format.unparseable",
                severity: Severity::High,
                message: format!(
                    "could not be read, so it was not scanned: {}",
                    failure.error
                ),
                location: Location::default(),
                evidence: None,
            }],
        })
        .collect();
    let scanned: Vec<FileReport> = files
        .par_iter()
        .map(|file| scan_loaded_file(file, in_directory, options))
        .collect();
    reports.extend(scanned);
    reports
}

/// Scan one file, read through `modelgate-formats`. `relative` is its path
/// inside the scanned directory (or its name); `in_directory` says whether
/// it was found by walking, so repository files (configs, code) are judged
/// as part of a repository.
pub fn scan_file(
    path: &Path,
    relative: &str,
    in_directory: bool,
    options: &ScanOptions,
) -> FileReport {
    match modelgate_formats::read_file(path) {
        Ok(mut file) => {
            file.relative_path = relative.to_string();
            scan_loaded_file(&file, in_directory, options)
        }
        Err(error) => FileReport {
            path: path.display().to_string(),
            format: "unreadable".to_string(),
            file_bytes: 0,
            findings: vec![finding(
                "format.unparseable",
                Severity::High,
                format!("cannot read the file, so it was not scanned: {error}"),
                Location::default(),
                None,
            )],
        },
    }
}

/// Scan one file already read (see [`scan_file`] for `in_directory`).
pub fn scan_loaded_file(
    file: &LoadedFile,
    in_directory: bool,
    options: &ScanOptions,
) -> FileReport {
    let bytes: &[u8] = &file.bytes;
    let relative = file.relative_path.as_str();
    let name = relative.rsplit('/').next().unwrap_or(relative);
    let mut findings = Vec::new();
    let format = scan_repository_file(bytes, relative, &mut findings).unwrap_or_else(|| {
        scan_bytes(
            bytes,
            name,
            !in_directory,
            0,
            "",
            &options.limits,
            &mut findings,
        )
    });
    if let Some(finding) = extension_mismatch(name, &format) {
        findings.push(finding);
    }
    FileReport {
        path: file.path.display().to_string(),
        format,
        file_bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        findings: dedupe(findings),
    }
}

/// Extensions that name one format with a signature, and that format.
const EXTENSION_FORMATS: &[(&str, &str)] = &[
    ("safetensors", "safetensors"),
    ("gguf", "gguf"),
    ("npy", "npy"),
    ("npz", "npz"),
    ("onnx", "onnx"),
    ("keras", "keras"),
    ("h5", "hdf5"),
    ("hdf5", "hdf5"),
];

/// A file whose extension names a format its content is not (a pickle
/// named `.safetensors`): loaders that trust the name pick the wrong
/// reader. The content was scanned as what it is; this only says so.
fn extension_mismatch(name: &str, format: &str) -> Option<Finding> {
    let extension = extension(name);
    let (_, expected) = EXTENSION_FORMATS
        .iter()
        .find(|(ext, _)| *ext == extension)?;
    let layers: Vec<&str> = format.split('+').collect();
    if layers.contains(expected) || layers.contains(&"unknown") {
        return None;
    }
    Some(finding(
        "format.extension-mismatch",
        Severity::Low,
        format!(
            "'{name}' is named like {expected} but its content is {format}; it was scanned as {format}"
        ),
        Location::default(),
        Some(format!("extension .{extension}, content {format}")),
    ))
}

/// One finding per rule and place: the same rule at the same offset of
/// the same member is one finding (the most severe, first reported).
fn dedupe(findings: Vec<Finding>) -> Vec<Finding> {
    let mut best: std::collections::HashMap<(&'static str, Location), usize> =
        std::collections::HashMap::new();
    let mut kept: Vec<Option<Finding>> = Vec::with_capacity(findings.len());
    for finding in findings {
        let key = (finding.rule, finding.location.clone());
        match best.get(&key).and_then(|i| kept.get_mut(*i)) {
            Some(Some(existing)) => {
                if finding.severity > existing.severity {
                    *existing = finding;
                }
            }
            _ => {
                best.insert(key, kept.len());
                kept.push(Some(finding));
            }
        }
    }
    kept.into_iter().flatten().collect()
}

pub(crate) fn finding(
    rule: &'static str,
    severity: Severity,
    message: String,
    location: Location,
    evidence: Option<String>,
) -> Finding {
    Finding {
        rule,
        severity,
        message,
        location,
        evidence,
    }
}

fn at_member(member: &str) -> Location {
    Location {
        member: (!member.is_empty()).then(|| member.to_string()),
        ..Location::default()
    }
}

fn join_member(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}!{name}")
    }
}

/// Repository files judged by role (config, tokenizer config, templates,
/// code, executables). Returns the format name when the file was handled.
fn scan_repository_file(
    bytes: &[u8],
    relative: &str,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let role = hf::classify(relative);
    let location = Location {
        member: Some(relative.to_string()),
        ..Location::default()
    };
    match role {
        FileRole::Config => {
            if let Ok(config) = hf::ModelConfig::parse(bytes) {
                for (class, target) in &config.auto_map {
                    findings.push(finding(
                        "hf.remote-code",
                        Severity::High,
                        format!("config.json maps {class} to repository code: loading needs trust_remote_code=True, which runs it"),
                        location.clone(),
                        Some(format!("auto_map: {class} -> {target}")),
                    ));
                }
            }
            Some("config".to_string())
        }
        FileRole::TokenizerConfig => {
            match hf::TokenizerConfig::parse(bytes) {
                Ok(config) => {
                    for template in &config.chat_templates {
                        findings.extend(template::analyse(&template.source, &format!("{relative}:chat_template[{}]", template.name)));
                    }
                    for (class, target) in &config.auto_map {
                        findings.push(finding(
                            "hf.remote-code",
                            Severity::High,
                            format!("tokenizer_config.json maps {class} to repository code: loading needs trust_remote_code=True"),
                            location.clone(),
                            Some(format!("auto_map: {class} -> {target}")),
                        ));
                    }
                }
                Err(error) => findings.push(finding("template.unparseable", Severity::High, format!("tokenizer config cannot be parsed, so its chat template was not verified: {error}"), location, None)),
            }
            Some("tokenizer-config".to_string())
        }
        FileRole::ChatTemplate => {
            match hf::ChatTemplate::from_file(relative, bytes) {
                Ok(templates) => {
                    for template in templates {
                        findings.extend(template::analyse(
                            &template.source,
                            &format!("{relative}[{}]", template.name),
                        ));
                    }
                }
                Err(error) => findings.push(finding(
                    "template.unparseable",
                    Severity::High,
                    format!("chat template file cannot be parsed: {error}"),
                    location,
                    None,
                )),
            }
            Some("chat-template".to_string())
        }
        FileRole::PythonCode => {
            findings.push(finding("hf.custom-code", Severity::Medium, format!("the repository ships Python code ({relative}); it runs if loaded with trust_remote_code=True"), location, None));
            findings.extend(python::analyse(&String::from_utf8_lossy(bytes), relative));
            Some("python".to_string())
        }
        FileRole::ModelCard | FileRole::License | FileRole::Tokenizer => Some("text".to_string()),
        _ => {
            let name = relative.rsplit('/').next().unwrap_or(relative);
            if let Some(kind) = executable_kind(bytes, name) {
                findings.push(finding(
                    "hf.executable",
                    Severity::High,
                    format!("{relative} is {kind}; model repositories do not need executables"),
                    location,
                    None,
                ));
                // A script with a zip behind it (self-extracting stubs,
                // polyglots) is also read by zip readers: scan that too.
                if archive::zip::looks_like_zip(bytes) {
                    return None;
                }
                return Some("executable".to_string());
            }
            None
        }
    }
}

fn executable_kind(bytes: &[u8], name: &str) -> Option<&'static str> {
    if bytes.starts_with(b"\x7fELF") {
        return Some("an ELF executable");
    }
    if bytes.starts_with(b"MZ") && bytes.len() > 64 {
        return Some("a Windows executable");
    }
    if matches!(
        bytes.get(..4),
        Some(
            [0xfe, 0xed, 0xfa, 0xce | 0xcf]
                | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
                | [0xca, 0xfe, 0xba, 0xbe]
        )
    ) {
        return Some("a Mach-O executable");
    }
    if bytes.starts_with(b"#!") {
        return Some("a script");
    }
    EXECUTABLE_EXTENSIONS
        .contains(&extension(name).as_str())
        .then_some("a script or executable")
}

/// Scan bytes by content. `expect_model` makes an unrecognised format a
/// finding (a file given directly, or behind a model extension). Returns
/// the format name.
pub(crate) fn scan_bytes(
    bytes: &[u8],
    name: &str,
    expect_model: bool,
    depth: u32,
    member: &str,
    limits: &Limits,
    findings: &mut Vec<Finding>,
) -> String {
    let format = sniff(bytes, name);
    let location = at_member(member);
    let unparseable = |findings: &mut Vec<Finding>, what: &str, error: &dyn std::fmt::Display| {
        findings.push(finding(
            "format.unparseable",
            Severity::High,
            format!("{what} cannot be parsed, so it was not verified: {error}"),
            location.clone(),
            None,
        ));
    };
    match format {
        Format::Gguf => {
            match modelgate_formats::gguf::Gguf::parse(bytes) {
                Ok(gguf) => {
                    for entry in &gguf.metadata {
                        if (entry.key == "tokenizer.chat_template"
                            || entry.key.starts_with("tokenizer.chat_template."))
                            && let Some(source) = entry.value.as_str()
                        {
                            findings.extend(template::analyse(source, &entry.key));
                        }
                    }
                    for (a, b) in gguf.overlapping_tensors() {
                        let name = |i: usize| {
                            gguf.tensors
                                .get(i)
                                .map(|t| t.name.clone())
                                .unwrap_or_default()
                        };
                        findings.push(finding("gguf.structure", Severity::High, format!("tensors '{}' and '{}' overlap: the same bytes are read as two tensors", name(a), name(b)), location.clone(), None));
                    }
                    let duplicates = gguf
                        .duplicate_keys()
                        .into_iter()
                        .map(|name| (name, "metadata key"))
                        .chain(
                            gguf.duplicate_tensor_names()
                                .into_iter()
                                .map(|name| (name, "tensor name")),
                        );
                    for (duplicate, what) in duplicates {
                        findings.push(finding("gguf.duplicate-key", Severity::Medium, format!("{what} '{duplicate}' appears more than once; readers may use different copies"), Location { key: Some(duplicate.to_string()), ..location.clone() }, None));
                    }
                }
                Err(error) => findings.push(finding(
                    "gguf.structure",
                    Severity::High,
                    format!("GGUF header is invalid, so the file was not verified: {error}"),
                    location.clone(),
                    None,
                )),
            }
        }
        Format::Safetensors => {
            match modelgate_formats::safetensors::SafeTensors::parse_lenient(bytes) {
                Ok((_, anomalies)) => {
                    for anomaly in anomalies {
                        findings.push(finding(
                            "safetensors.structure",
                            Severity::High,
                            format!("{anomaly}"),
                            Location {
                                key: anomaly.tensor.clone(),
                                ..location.clone()
                            },
                            None,
                        ));
                    }
                }
                Err(error) => findings.push(finding(
                    "safetensors.structure",
                    Severity::High,
                    format!("safetensors header is invalid: {error}"),
                    location.clone(),
                    None,
                )),
            }
        }
        Format::ShardIndex => match modelgate_formats::safetensors::ShardIndex::parse(bytes) {
            Ok(index) => {
                for path in index.unsafe_shard_paths() {
                    findings.push(finding("shards.path-escape", Severity::Critical, "a shard index points outside the model directory: a loader would read that file".to_string(), location.clone(), Some(path.to_string())));
                }
            }
            Err(error) => unparseable(findings, "shard index", &error),
        },
        Format::Onnx => {
            match modelgate_formats::onnx::OnnxModel::parse(bytes) {
                Ok(model) => {
                    for initializer in model.external_tensors() {
                        if let Some(external) = &initializer.external
                            && (external.is_unsafe_location() || external.location.is_empty())
                        {
                            findings.push(finding(
                                "onnx.external-data-escape",
                                Severity::Critical,
                                format!("initializer '{}' reads its data from outside the model directory", initializer.name),
                                Location { key: Some(initializer.name.clone()), ..location.clone() },
                                Some(format!("external_data location: {}", external.location)),
                            ));
                        }
                    }
                    for domain in &model.custom_domains {
                        findings.push(finding("onnx.custom-domain", Severity::Medium, format!("operators from custom domain '{domain}' need a native library to run"), location.clone(), Some(domain.clone())));
                    }
                }
                Err(error) => unparseable(findings, "ONNX model", &error),
            }
        }
        Format::Pickle => scan_pickle_stream(bytes, member, 0, findings),
        Format::PyTorchLegacy => match modelgate_formats::pytorch::parse(bytes, limits) {
            Ok(checkpoint) => {
                for pickles in &checkpoint.pickles {
                    for pickle in &pickles.pickles {
                        crate::pickle::judge(pickle, member, findings);
                    }
                }
            }
            Err(error) => {
                // Scan what can be read, then report why the rest could not be.
                scan_pickle_stream(bytes, member, 0, findings);
                unparseable(findings, "legacy PyTorch checkpoint", &error);
            }
        },
        Format::PyTorchZip | Format::Zip | Format::Npz | Format::Keras => {
            if format == Format::Keras {
                scan_keras(bytes, &location, limits, findings);
            }
            scan_zip(
                bytes,
                format == Format::PyTorchZip,
                depth,
                member,
                limits,
                findings,
            );
        }
        Format::Hdf5 => scan_keras(bytes, &location, limits, findings),
        Format::PyTorchTar => {
            // `storages` and `tensors` interleave pickles with raw data: the
            // checkpoint reader knows the layout and returns every pickle.
            match modelgate_formats::pytorch::parse(bytes, limits) {
                Ok(checkpoint) => {
                    for pickles in &checkpoint.pickles {
                        let inner_member = join_member(member, &pickles.name);
                        for pickle in &pickles.pickles {
                            crate::pickle::judge(pickle, &inner_member, findings);
                        }
                    }
                }
                Err(error) => unparseable(findings, "legacy PyTorch tar checkpoint", &error),
            }
            scan_tar(bytes, depth, member, TORCH_TAR_MEMBERS, limits, findings);
        }
        Format::Tar => scan_tar(bytes, depth, member, &[], limits, findings),
        Format::Npy => match modelgate_formats::numpy::Npy::parse(bytes) {
            Ok(npy) if npy.is_object => {
                findings.push(finding("numpy.object-array", Severity::Low, "the array has object dtype: loading it needs allow_pickle=True, which unpickles its data (judged below like any pickle)".to_string(), location.clone(), Some(format!("dtype {}", npy.descr))));
                let payload = usize::try_from(npy.payload_offset)
                    .ok()
                    .and_then(|o| bytes.get(o..))
                    .unwrap_or_default();
                scan_pickle_stream(payload, member, npy.payload_offset, findings);
            }
            Ok(_) => {}
            Err(error) => unparseable(findings, "NumPy array", &error),
        },
        Format::Compressed(kind) if !too_deep(depth, member, limits, findings) => {
            match archive::stream::decompress(bytes, kind, limits) {
                // joblib 0.9 writes each array's raw bytes into its own `ZF`
                // side file and reads them back with numpy.frombuffer: data
                // that is never unpickled.
                Ok(inner)
                    if kind == Compression::JoblibZf && sniff(&inner, name) == Format::Unknown =>
                {
                    return "joblib-zf+array-data".to_string();
                }
                Ok(inner) => {
                    let inner_name = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
                    let inner_member = join_member(member, &format!("<{}>", kind.name()));
                    // A compressed table or document (`data.csv.gz`) is not a
                    // model: its content is still sniffed and scanned, but an
                    // unknown format there is no finding.
                    let inner_format = scan_bytes(
                        &inner,
                        inner_name,
                        !is_data_name(inner_name),
                        depth + 1,
                        &inner_member,
                        limits,
                        findings,
                    );
                    return format!("{}+{inner_format}", compression_name(kind));
                }
                Err(error @ archive::Error::LimitExceeded { .. }) => {
                    findings.push(finding("format.limit-exceeded", Severity::High, format!("decompression stopped at a limit, so the content was not verified: {error}"), location.clone(), None));
                }
                Err(error) => unparseable(findings, &format!("{} stream", kind.name()), &error),
            }
        }
        Format::Unknown => {
            if expect_model || MODEL_EXTENSIONS.contains(&extension(name).as_str()) {
                findings.push(finding("format.unknown", Severity::High, format!("'{name}' is not a model format modelgate recognises, so it was not verified"), location.clone(), None));
            }
            return "unknown".to_string();
        }
        _ => {}
    }
    format.name().to_string()
}

fn compression_name(kind: Compression) -> &'static str {
    kind.name()
}

fn scan_keras(bytes: &[u8], location: &Location, limits: &Limits, findings: &mut Vec<Finding>) {
    match modelgate_formats::keras::KerasModel::parse(bytes, limits) {
        Ok(model) => {
            // Attributes are reported where the HDF5 file is scanned: the
            // file itself, or the zip's weights member when the scan of the
            // zip reaches it (its read errors are reported there too).
            if model.format == modelgate_formats::keras::KerasFormat::Hdf5 {
                for code in &model.code_attributes {
                    let key = format!("{}@{}{}", code.object, code.attribute, code.pointer);
                    findings.push(finding(
                        "keras.lambda-layer",
                        Severity::Critical,
                        format!(
                            "HDF5 attribute '{}' of '/{}' carries marshaled Python code",
                            code.attribute, code.object
                        ),
                        Location {
                            key: Some(key),
                            ..location.clone()
                        },
                        Some(code.evidence.clone()),
                    ));
                }
            }
            for layer in &model.layers {
                let name = layer.name.clone().unwrap_or_default();
                if layer.class_name == "Lambda"
                    || layer.class_name == "TFOpLambda"
                        && layer.config.get("function").is_some_and(|f| !f.is_string())
                {
                    let code = layer
                        .config
                        .get("function")
                        .map(|f| f.to_string())
                        .unwrap_or_default();
                    let evidence: String = code.chars().take(160).collect();
                    findings.push(finding("keras.lambda-layer", Severity::Critical, format!("Lambda layer '{name}' carries Python code that runs when the model loads"), Location { key: Some(name.clone()), ..location.clone() }, Some(evidence)));
                    continue;
                }
                let module = layer.module.as_deref().unwrap_or("keras");
                let custom = layer
                    .registered_name
                    .as_deref()
                    .is_some_and(|r| r.contains('>'))
                    || !(module == "keras"
                        || module.starts_with("keras.")
                        || module.starts_with("tensorflow.keras")
                        || module.starts_with("tf_keras"));
                if custom {
                    findings.push(finding("keras.custom-object", Severity::Medium, format!("layer '{name}' is a custom class ({module}.{}): loading imports code outside Keras", layer.class_name), Location { key: Some(name), ..location.clone() }, layer.registered_name.clone()));
                }
            }
        }
        Err(modelgate_formats::keras::Error::Hdf5(error)) => {
            // Fail closed: an HDF5 file that cannot be walked to the end may
            // hide attributes; name where the walk stopped.
            let location = Location {
                offset: error.offset(),
                ..location.clone()
            };
            let (rule, what) = match error {
                modelgate_formats::keras::hdf5::Error::LimitExceeded { .. } => {
                    ("format.limit-exceeded", "HDF5 file stopped at a limit")
                }
                _ => ("format.unparseable", "HDF5 file cannot be parsed"),
            };
            findings.push(finding(
                rule,
                Severity::High,
                format!("{what}, so it was not verified: {error}"),
                location,
                None,
            ));
        }
        Err(error) => findings.push(finding(
            "format.unparseable",
            Severity::High,
            format!("Keras model cannot be parsed, so it was not verified: {error}"),
            location.clone(),
            None,
        )),
    }
}

fn scan_zip(
    bytes: &[u8],
    torch: bool,
    depth: u32,
    member: &str,
    limits: &Limits,
    findings: &mut Vec<Finding>,
) {
    let zip = match ZipArchive::parse(bytes) {
        Ok(zip) => zip,
        Err(error) => {
            findings.push(finding(
                "format.unparseable",
                Severity::High,
                format!("zip archive cannot be parsed, so it was not verified: {error}"),
                at_member(member),
                None,
            ));
            return;
        }
    };
    for anomaly in zip.anomalies() {
        let (rule, severity) = match anomaly.kind {
            AnomalyKind::UnsafeName => ("archive.traversal", Severity::Critical),
            AnomalyKind::HeaderMismatch { .. } | AnomalyKind::Overlap { .. } => {
                ("archive.header-mismatch", Severity::High)
            }
            AnomalyKind::DuplicateName => ("archive.duplicate-member", Severity::High),
            AnomalyKind::Encrypted | AnomalyKind::UnusualFlags { .. } => {
                ("archive.unusual-flags", Severity::Medium)
            }
            AnomalyKind::OutOfBounds => ("format.unparseable", Severity::High),
            _ => ("archive.anomaly", Severity::Medium),
        };
        let location = Location {
            member: anomaly
                .member
                .as_ref()
                .map(|m| join_member(member, m))
                .or_else(|| at_member(member).member),
            offset: Some(anomaly.offset),
            ..Location::default()
        };
        findings.push(finding(rule, severity, anomaly.to_string(), location, None));
    }
    if zip.members().len() > limits.max_members {
        findings.push(finding(
            "format.limit-exceeded",
            Severity::High,
            format!(
                "{} members, more than the limit of {}",
                zip.members().len(),
                limits.max_members
            ),
            at_member(member),
            None,
        ));
        return;
    }
    if too_deep(depth, member, limits, findings) {
        return;
    }
    let mut total: u64 = 0;
    for entry in zip.members() {
        if entry.name.ends_with('/') {
            continue;
        }
        // Tensor storages of a torch checkpoint are read as raw bytes by the
        // loader, never unpickled: skip them rather than reading gigabytes.
        if torch && is_torch_storage(&entry.name) {
            continue;
        }
        let inner_member = join_member(member, &entry.name);
        total = total.saturating_add(entry.uncompressed_size);
        if total > limits.max_total_bytes {
            findings.push(finding(
                "format.limit-exceeded",
                Severity::High,
                format!(
                    "archive expands to more than {} bytes; the rest was not scanned",
                    limits.max_total_bytes
                ),
                at_member(member),
                None,
            ));
            return;
        }
        match zip.read(bytes, entry, limits) {
            Ok(data) => {
                let name = entry.name.rsplit('/').next().unwrap_or(&entry.name);
                let expect = name.ends_with(".pkl")
                    || torch
                        && !matches!(
                            name,
                            "version"
                                | "byteorder"
                                | "serialization_id"
                                | ".format_version"
                                | ".storage_alignment"
                        );
                // TorchScript archives carry their compiled model's source
                // (`code/…/*.py`, compiled by torch.jit, never run by
                // Python) and arbitrary user files (`extra/`).
                let torch_text = torch
                    && (entry.name.contains("/extra/")
                        || (entry.name.contains("/code/") && name.ends_with(".py")));
                let inner_format = scan_bytes(
                    &data,
                    name,
                    expect && !is_text_member(name) && !torch_text,
                    depth + 1,
                    &inner_member,
                    limits,
                    findings,
                );
                if torch && name.ends_with(".pkl") && inner_format != "pickle" {
                    findings.push(finding(
                        "format.unparseable",
                        Severity::High,
                        format!("'{}' should be a pickle but is {inner_format}", entry.name),
                        at_member(&inner_member),
                        None,
                    ));
                }
            }
            Err(error @ archive::Error::LimitExceeded { .. }) => findings.push(finding(
                "format.limit-exceeded",
                Severity::High,
                format!("member stopped at a limit, so it was not verified: {error}"),
                at_member(&inner_member),
                None,
            )),
            Err(error) => findings.push(finding(
                "format.unparseable",
                Severity::High,
                format!("member cannot be read, so it was not verified: {error}"),
                at_member(&inner_member),
                None,
            )),
        }
    }
}

/// Report, and return true, when containers are nested past the limit.
fn too_deep(depth: u32, member: &str, limits: &Limits, findings: &mut Vec<Finding>) -> bool {
    if depth < limits.max_depth {
        return false;
    }
    findings.push(finding(
        "format.limit-exceeded",
        Severity::High,
        format!(
            "containers nested more than {} deep; the inner content was not scanned",
            limits.max_depth
        ),
        at_member(member),
        None,
    ));
    true
}

/// Names of tables and documents, which no loader takes for a model.
fn is_data_name(name: &str) -> bool {
    is_text_member(name)
        || matches!(
            extension(name).as_str(),
            "csv" | "tsv" | "arff" | "svmlight" | "libsvm" | "xml" | "html" | "jsonl"
        )
}

fn is_text_member(name: &str) -> bool {
    matches!(
        extension(name).as_str(),
        "json" | "txt" | "md" | "yaml" | "yml"
    )
}

/// `<folder>/data/<key>` in a torch zip.
fn is_torch_storage(name: &str) -> bool {
    let mut parts = name.rsplit('/');
    let key = parts.next().unwrap_or_default();
    parts.next() == Some("data") && !key.is_empty() && !key.contains('.')
}

/// Members of a legacy torch tar checkpoint read by the checkpoint reader.
const TORCH_TAR_MEMBERS: &[&str] = &["sys_info", "pickle", "tensors", "storages"];

fn scan_tar(
    bytes: &[u8],
    depth: u32,
    member: &str,
    read_elsewhere: &[&str],
    limits: &Limits,
    findings: &mut Vec<Finding>,
) {
    let tar = match TarArchive::parse(bytes) {
        Ok(tar) => tar,
        Err(error) => {
            findings.push(finding(
                "format.unparseable",
                Severity::High,
                format!("tar archive cannot be parsed, so it was not verified: {error}"),
                at_member(member),
                None,
            ));
            return;
        }
    };
    if too_deep(depth, member, limits, findings) {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for entry in tar.members() {
        let inner_member = join_member(member, &entry.name);
        let location = Location {
            member: Some(inner_member.clone()),
            offset: Some(entry.header_offset),
            ..Location::default()
        };
        if archive::is_unsafe_member_name(&entry.name) {
            findings.push(finding(
                "archive.traversal",
                Severity::Critical,
                "tar member name is absolute or leaves the extraction directory".to_string(),
                location.clone(),
                Some(entry.name.clone()),
            ));
        }
        if !seen.insert(entry.name.as_str()) {
            findings.push(finding(
                "archive.duplicate-member",
                Severity::High,
                "tar member name appears more than once".to_string(),
                location.clone(),
                Some(entry.name.clone()),
            ));
        }
        match &entry.kind {
            TarKind::Symlink { target } | TarKind::Hardlink { target } => {
                findings.push(finding("archive.link", Severity::High, "tar member is a link: extracting it can expose or overwrite files outside the model".to_string(), location, Some(format!("{} -> {target}", entry.name))));
            }
            TarKind::File if read_elsewhere.contains(&entry.name.trim_start_matches("./")) => {}
            TarKind::File => {
                if let Ok(data) = tar.read(bytes, entry) {
                    let name = entry.name.rsplit('/').next().unwrap_or(&entry.name);
                    scan_bytes(
                        data,
                        name,
                        false,
                        depth + 1,
                        &inner_member,
                        limits,
                        findings,
                    );
                }
            }
            _ => {}
        }
    }
}
