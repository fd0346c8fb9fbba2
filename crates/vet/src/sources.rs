//! Gathering the inputs of the analysers from what was loaded.

use modelgate_formats::{Content, Loaded};
use modelgate_license::{LicenseSource, SourceKind, SourceResult};
use modelgate_provenance::{Fact, Hints};

/// Most bytes of a download-metadata or version file looked at.
const MAX_SMALL_FILE_BYTES: usize = 64 * 1024;
/// Where `huggingface-cli download --local-dir` keeps its metadata.
const DOWNLOAD_METADATA_DIR: &str = ".cache/huggingface/download/";

/// Every place a license can be stated: card front matter, license and
/// notice files, GGUF `general.license*`, safetensors `__metadata__`.
pub(crate) fn license_sources(loaded: &Loaded) -> Vec<LicenseSource> {
    let mut sources = Vec::new();
    let mut push = |kind, location: String, value: &str| {
        if !value.trim().is_empty() {
            sources.push(LicenseSource {
                kind,
                location,
                value: value.to_string(),
            });
        }
    };
    if let Some(card) = &loaded.snapshot.card {
        if let Some(license) = &card.license {
            push(
                SourceKind::CardLicense,
                "README.md: license".into(),
                license,
            );
        }
        if let Some(name) = &card.license_name {
            push(
                SourceKind::CardLicenseName,
                "README.md: license_name".into(),
                name,
            );
        }
        if let Some(link) = &card.license_link {
            push(
                SourceKind::CardLicenseLink,
                "README.md: license_link".into(),
                link,
            );
        }
    }
    for (relative, text) in &loaded.snapshot.license_files {
        let file = relative
            .rsplit('/')
            .next()
            .unwrap_or(relative)
            .to_ascii_uppercase();
        let kind = if file.starts_with("NOTICE") {
            SourceKind::NoticeFile
        } else if file.starts_with("USE_POLICY") || file.contains("ACCEPTABLE") {
            SourceKind::UsePolicyFile
        } else {
            SourceKind::LicenseFile
        };
        push(kind, relative.clone(), text);
    }
    for artifact in &loaded.artifacts {
        let file = &artifact.relative_path;
        match &artifact.content {
            Content::Gguf(gguf) => {
                for key in [
                    "general.license",
                    "general.license.name",
                    "general.license.link",
                ] {
                    if let Some(value) = gguf.get_str(key) {
                        push(SourceKind::GgufMetadata, format!("{file}: {key}"), value);
                    }
                }
            }
            Content::Safetensors(st) => {
                for (key, value) in &st.metadata {
                    if key.eq_ignore_ascii_case("license") {
                        push(
                            SourceKind::SafetensorsMetadata,
                            format!("{file}: __metadata__.{key}"),
                            value,
                        );
                    }
                }
            }
            _ => {}
        }
    }
    sources
}

/// Revision and toolchain facts written by download tools and libraries:
/// `huggingface-cli download --local-dir` metadata and
/// `config_sentence_transformers.json`, read from the loaded files.
pub(crate) fn download_hints(loaded: &Loaded, hints: &mut Hints) {
    if !loaded.is_dir {
        return;
    }
    if hints.download_revision.is_none() {
        // The files are sorted by relative path: the first metadata file.
        let first = loaded.files.iter().find(|file| {
            file.relative_path
                .strip_prefix(DOWNLOAD_METADATA_DIR)
                .is_some_and(|name| !name.contains('/') && name.ends_with(".metadata"))
        });
        if let Some(file) = first {
            let text = small_text(&file.bytes);
            let commit = text.lines().next().unwrap_or_default().trim();
            if commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()) {
                hints.download_revision = Some(Fact {
                    value: commit.to_string(),
                    origin: format!("{}: huggingface download metadata", file.relative_path),
                });
            }
        }
    }
    let config = loaded
        .files
        .iter()
        .find(|file| file.relative_path == "config_sentence_transformers.json");
    if let Some(file) = config
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(&small_text(&file.bytes))
        && let Some(version) = value
            .get("__version__")
            .and_then(|v| v.get("sentence_transformers"))
            .and_then(|v| v.as_str())
    {
        hints.toolchain.push(Fact {
            value: format!("sentence-transformers {version}"),
            origin: "config_sentence_transformers.json: __version__".into(),
        });
    }
}

/// The first [`MAX_SMALL_FILE_BYTES`] of a file as text.
fn small_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = bytes.len().min(MAX_SMALL_FILE_BYTES);
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default())
}

/// A source and what it resolved to, in a phrase.
pub(crate) fn describe_source(source: &SourceResult) -> String {
    match (&source.resolved, source.score) {
        (Some(id), Some(score)) => {
            format!("{}: text matches {id} (score {score:.2})", source.location)
        }
        (Some(id), None) => format!("{}: {id}", source.location),
        (None, Some(score)) => format!(
            "{}: unidentified text (best score {score:.2})",
            source.location
        ),
        (None, None) => format!(
            "{}: \"{}\" not recognised",
            source.location, source.declared
        ),
    }
}
