//! What the inventory stores and returns: plain data, serializable as the
//! JSON interface of `modelgate models`, `teams` and `audit`.

use std::fmt;
use std::str::FromStr;

use modelgate_bom::ModelDescription;
use modelgate_policy::{Decision, Reviewer, SignatureStatus};
use modelgate_vet::VetReport;
use serde::Serialize;
use serde_json::Value;

use crate::{Error, Stage};

/// Longest model name, version, team or actor, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest note, reason or purpose, in bytes.
pub const MAX_NOTE_BYTES: usize = 10_000;

/// A version of a model: `NAME@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct VersionRef {
    /// The model's name in the inventory.
    pub name: String,
    /// The version.
    pub version: String,
}

impl VersionRef {
    /// A reference from its parts, checked.
    pub fn new(name: &str, version: &str) -> Result<VersionRef, Error> {
        Ok(VersionRef {
            name: check_name("model name", name)?.to_string(),
            version: check_name("version", version)?.to_string(),
        })
    }
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl FromStr for VersionRef {
    type Err = Error;

    /// `NAME@VERSION`; names may contain `/` (`org/model@1.0`), neither part
    /// may contain `@`.
    fn from_str(text: &str) -> Result<VersionRef, Error> {
        let (name, version) = text.split_once('@').ok_or_else(|| Error::BadReference {
            text: text.to_string(),
        })?;
        VersionRef::new(name, version)
    }
}

/// Checks a model name, version or team: not blank, no `@`, no
/// control characters, no surrounding spaces, at most [`MAX_NAME_BYTES`].
pub fn check_name<'a>(kind: &'static str, text: &'a str) -> Result<&'a str, Error> {
    let bad = |reason| Error::BadName {
        kind,
        text: text.to_string(),
        reason,
    };
    if text.trim().is_empty() {
        return Err(bad("it is empty"));
    }
    if text.len() > MAX_NAME_BYTES {
        return Err(bad("it is longer than 256 bytes"));
    }
    if text.trim() != text {
        return Err(bad("it starts or ends with a space"));
    }
    if text.chars().any(char::is_control) {
        return Err(bad("it contains a control character"));
    }
    if text.contains('@') {
        return Err(bad("it contains '@', which separates NAME@VERSION"));
    }
    Ok(text)
}

/// Checks a name that may also be a version reference, such as a route or
/// a usage record's target: a name as [`check_name`] wants it, or two of
/// them joined by one `@`.
pub(crate) fn check_name_or_ref<'a>(kind: &'static str, text: &'a str) -> Result<&'a str, Error> {
    match text.split_once('@') {
        None => check_name(kind, text),
        Some((name, version)) => {
            let whole = |error| match error {
                Error::BadName { kind, reason, .. } => Error::BadName {
                    kind,
                    text: text.to_string(),
                    reason,
                },
                other => other,
            };
            check_name(kind, name).map_err(whole)?;
            check_name(kind, version).map_err(whole)?;
            Ok(text)
        }
    }
}

/// Checks who did something (`--by`): not blank, no control characters, at
/// most [`MAX_NAME_BYTES`]; `@` is fine (e-mail addresses). Surrounding
/// spaces are trimmed.
pub fn check_actor(field: &'static str, text: &str) -> Result<String, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Missing { field });
    }
    let bad = |reason| Error::BadName {
        kind: field,
        text: text.to_string(),
        reason,
    };
    if text.len() > MAX_NAME_BYTES {
        return Err(bad("it is longer than 256 bytes"));
    }
    if text.chars().any(char::is_control) {
        return Err(bad("it contains a control character"));
    }
    Ok(text.to_string())
}

/// Checks a free text (note, reason, purpose): trimmed, at most
/// [`MAX_NOTE_BYTES`]; `None` when blank.
pub(crate) fn check_note(field: &'static str, text: Option<&str>) -> Result<Option<String>, Error> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.len() > MAX_NOTE_BYTES => Err(Error::BadName {
            kind: field,
            text: text.chars().take(40).collect(),
            reason: "it is longer than 10000 bytes",
        }),
        Some(text) => Ok(Some(text.to_string())),
    }
}

/// One file of a version: the OMS manifest's entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FileRecord {
    /// Path relative to the model root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// Where a version came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProvenanceRecord {
    /// Who published it.
    pub publisher: Option<String>,
    /// Where it was downloaded from.
    pub source: Option<String>,
    /// The revision downloaded.
    pub revision: Option<String>,
    /// The models it derives from.
    pub base_models: Vec<String>,
    /// Tools that wrote the files, and who quantized it.
    pub toolchain: Vec<String>,
}

/// A vetted version to record.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Its name and version.
    pub reference: VersionRef,
    /// The path that was vetted.
    pub source_path: String,
    /// Format of the primary artifact.
    pub format: Option<String>,
    /// Architecture.
    pub architecture: Option<String>,
    /// Parameters.
    pub parameters: Option<u64>,
    /// Quantization (`Q4_1`, `F16`, ...).
    pub quantization: Option<String>,
    /// The vet verdict.
    pub decision: Decision,
    /// Who must review, for `needs-review`.
    pub reviewers: Vec<Reviewer>,
    /// License id.
    pub license: Option<String>,
    /// License name.
    pub license_name: Option<String>,
    /// The license's terms (JSON).
    pub license_terms: Option<Value>,
    /// Provenance.
    pub provenance: ProvenanceRecord,
    /// `unsigned`, `unchecked`, `verified` or `invalid`.
    pub signature: String,
    /// The trusted key or certificate that verified the signature.
    pub signer: Option<String>,
    /// Every file with its digest.
    pub files: Vec<FileRecord>,
    /// The full vet report: the evidence.
    pub report: Value,
    /// The AI-BOM's description of the model.
    pub description: ModelDescription,
    /// An explicit link: this version is a variant of that one.
    pub variant_of: Option<VersionRef>,
}

impl NewVersion {
    /// A version with only a verdict: for tests and synthetic stores.
    pub fn new(reference: VersionRef, decision: Decision) -> NewVersion {
        NewVersion {
            description: ModelDescription::new(reference.name.clone()),
            reference,
            source_path: String::new(),
            format: None,
            architecture: None,
            parameters: None,
            quantization: None,
            decision,
            reviewers: Vec::new(),
            license: None,
            license_name: None,
            license_terms: None,
            provenance: ProvenanceRecord::default(),
            signature: "unsigned".to_string(),
            signer: None,
            files: Vec::new(),
            report: Value::Object(serde_json::Map::new()),
            variant_of: None,
        }
    }

    /// The version `modelgate vet` described in `report`.
    pub fn from_report(reference: VersionRef, report: &VetReport) -> Result<NewVersion, Error> {
        let json = serde_json::to_value(report).map_err(|error| Error::Corrupt {
            what: format!("the vet report cannot be written as JSON: {error}"),
        })?;
        let terms = report.license.terms.as_ref();
        let provenance = &report.provenance;
        let fact =
            |fact: &Option<modelgate_provenance::Fact>| fact.as_ref().map(|f| f.value.clone());
        let mut toolchain: Vec<String> = provenance
            .toolchain
            .iter()
            .map(|f| f.value.clone())
            .collect();
        if let Some(quantizer) = &provenance.quantized_by {
            toolchain.push(format!("quantized by {}", quantizer.value));
        }
        Ok(NewVersion {
            source_path: report.path.clone(),
            format: report.model.format.clone(),
            architecture: report.model.architecture.clone(),
            parameters: report.model.parameters,
            quantization: report.model.quantization.clone(),
            decision: report.verdict.decision,
            reviewers: report.verdict.reviewers.clone(),
            license: report.license.license.clone(),
            license_name: terms.map(|t| t.name.clone()),
            license_terms: terms.and_then(|t| serde_json::to_value(t).ok()),
            provenance: ProvenanceRecord {
                publisher: fact(&provenance.publisher),
                source: fact(&provenance.source),
                revision: fact(&provenance.revision),
                base_models: provenance
                    .base_models
                    .iter()
                    .map(|b| b.name.clone())
                    .collect(),
                toolchain,
            },
            signature: signature_name(&report.signature.status).to_string(),
            signer: match &report.signature.status {
                SignatureStatus::Verified { signer } => Some(signer.clone()),
                _ => None,
            },
            files: report
                .files
                .iter()
                .map(|f| FileRecord {
                    path: f.path.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                })
                .collect(),
            description: modelgate_vet::model_description(report),
            report: json,
            reference,
            variant_of: None,
        })
    }
}

/// `unsigned`, `unchecked`, `verified` or `invalid`.
pub fn signature_name(status: &SignatureStatus) -> &'static str {
    match status {
        SignatureStatus::Unsigned => "unsigned",
        SignatureStatus::Unchecked => "unchecked",
        SignatureStatus::Verified { .. } => "verified",
        SignatureStatus::Invalid { .. } => "invalid",
    }
}

/// A version in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    /// The model's name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its stage.
    pub stage: Stage,
    /// The vet verdict recorded when it was added.
    pub decision: Decision,
    /// Who must review, for `needs-review`.
    pub reviewers: Vec<Reviewer>,
    /// Format of the primary artifact.
    pub format: Option<String>,
    /// Architecture.
    pub architecture: Option<String>,
    /// Parameters.
    pub parameters: Option<u64>,
    /// Quantization.
    pub quantization: Option<String>,
    /// Bytes over all files.
    pub total_bytes: u64,
    /// Number of files.
    pub n_files: u64,
    /// License id.
    pub license: Option<String>,
    /// Signature status.
    pub signature: String,
    /// When it was added (RFC 3339 UTC).
    pub added_at: String,
    /// Who added it.
    pub added_by: String,
    /// When it entered its stage.
    pub stage_at: String,
    /// Who moved it there.
    pub stage_by: String,
    /// When it must be reviewed again (`YYYY-MM-DD`).
    pub review_by: Option<String>,
    /// In use (approved or production) and the review-by date has come.
    pub review_due: bool,
}

impl VersionSummary {
    /// `NAME@VERSION`.
    pub fn reference(&self) -> VersionRef {
        VersionRef {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

/// A reviewer's sign-off on a `needs-review` verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignOff {
    /// Which review.
    pub reviewer: Reviewer,
    /// Who signed.
    pub by: String,
}

impl FromStr for SignOff {
    type Err = Error;

    /// `ROLE=WHO`, e.g. `legal=alice@example.com`.
    fn from_str(text: &str) -> Result<SignOff, Error> {
        let (role, by) = text.split_once('=').ok_or_else(|| Error::BadReviewer {
            text: text.to_string(),
        })?;
        Ok(SignOff {
            reviewer: parse_reviewer(role.trim())?,
            by: check_actor("sign-off", by)?,
        })
    }
}

pub(crate) fn parse_reviewer(text: &str) -> Result<Reviewer, Error> {
    [Reviewer::Legal, Reviewer::Security, Reviewer::Governance]
        .into_iter()
        .find(|r| r.name() == text)
        .ok_or_else(|| Error::BadReviewer {
            text: text.to_string(),
        })
}

/// An approval: who, until when, and on what grounds.
#[derive(Debug, Clone, Default)]
pub struct Approval {
    /// Who approves.
    pub by: String,
    /// When it must be reviewed again; default a year from today.
    pub review_by: Option<crate::Date>,
    /// Why (required with an override).
    pub note: Option<String>,
    /// Approve even though the verdict does not allow it.
    pub override_verdict: bool,
    /// Sign-offs of the reviewers a `needs-review` verdict names.
    pub sign_offs: Vec<SignOff>,
}

/// One change of stage, from the version's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageChange {
    /// The model.
    pub name: String,
    /// The version.
    pub version: String,
    /// The stage before; `None` when the version was added.
    pub from: Option<Stage>,
    /// The stage after.
    pub to: Stage,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who.
    pub by: String,
    /// Why.
    pub note: Option<String>,
    /// Whether the verdict was overridden.
    #[serde(rename = "override")]
    pub override_verdict: bool,
    /// Reviewers' sign-offs.
    pub sign_offs: Vec<SignOff>,
    /// The review-by date set by an approval.
    pub review_by: Option<String>,
    /// The audit event that records it.
    pub event_seq: u64,
}

/// A team using a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    /// The team.
    pub team: String,
    /// The model.
    pub name: String,
    /// The version.
    pub version: String,
    /// The version's stage now.
    pub stage: Stage,
    /// What the team uses it for.
    pub purpose: String,
    /// When.
    pub assigned_at: String,
    /// Who recorded it.
    pub assigned_by: String,
}

impl Assignment {
    /// The version assigned, `NAME@VERSION`.
    pub fn reference(&self) -> VersionRef {
        VersionRef {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

/// A revoked version and the teams that must stop using it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// The stage change.
    pub change: StageChange,
    /// Teams assigned to the version.
    pub affected: Vec<Assignment>,
}

/// Another version that is the same model in another form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    /// The model.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its quantization.
    pub quantization: Option<String>,
    /// Its stage.
    pub stage: Stage,
    /// `variant-of` (this version was added as a variant of it),
    /// `has-variant` (it was added as a variant of this one), or
    /// `same-model` (same model name, another quantization).
    pub link: &'static str,
}

/// Everything recorded about one version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionDetail {
    /// The list entry.
    #[serde(flatten)]
    pub summary: VersionSummary,
    /// Why it is in its stage.
    pub stage_note: Option<String>,
    /// The path vetted.
    pub source_path: String,
    /// License name.
    pub license_name: Option<String>,
    /// License terms.
    pub license_terms: Option<Value>,
    /// Provenance.
    pub provenance: ProvenanceRecord,
    /// Who signed it, when the signature verified.
    pub signer: Option<String>,
    /// Every file and its digest.
    pub files: Vec<FileRecord>,
    /// Other quantizations and explicit variants.
    pub variants: Vec<Variant>,
    /// Every stage it has been in.
    pub history: Vec<StageChange>,
    /// Teams using it.
    pub assignments: Vec<Assignment>,
    /// The full vet report.
    pub report: Value,
}

/// A model and its versions.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOverview {
    /// The model's name.
    pub name: String,
    /// When its first version was added.
    pub created_at: String,
    /// Its versions, oldest first.
    pub versions: Vec<VersionSummary>,
}

/// Recorded files against files on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileComparison {
    /// Files compared.
    pub n_files: u64,
    /// Recorded, present, different content.
    pub modified: Vec<String>,
    /// Present, not recorded.
    pub added: Vec<String>,
    /// Recorded, absent.
    pub removed: Vec<String>,
}

impl FileComparison {
    /// Nothing changed.
    pub fn matches(&self) -> bool {
        self.modified.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compare the recorded manifest with the current one (paths and
/// digests; sizes follow the digests).
pub fn compare_files(recorded: &[FileRecord], current: &[FileRecord]) -> FileComparison {
    use std::collections::BTreeMap;
    let recorded: BTreeMap<&str, &str> = recorded
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let current: BTreeMap<&str, &str> = current
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut comparison = FileComparison {
        n_files: u64::try_from(current.len()).unwrap_or(u64::MAX),
        ..FileComparison::default()
    };
    for (path, digest) in &current {
        match recorded.get(path) {
            None => comparison.added.push(path.to_string()),
            Some(old) if old != digest => comparison.modified.push(path.to_string()),
            Some(_) => {}
        }
    }
    for path in recorded.keys() {
        if !current.contains_key(path) {
            comparison.removed.push(path.to_string());
        }
    }
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_names_with_slashes_and_refuse_the_rest() {
        let r: VersionRef = "org/model@1.0-q4".parse().expect("valid");
        assert_eq!(
            (r.name.as_str(), r.version.as_str()),
            ("org/model", "1.0-q4")
        );
        assert_eq!(r.to_string(), "org/model@1.0-q4");
        for bad in ["model", "@1.0", "model@", "a@b@c", " model@1", "mo\ndel@1"] {
            assert!(bad.parse::<VersionRef>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sign_offs_name_a_known_reviewer() {
        let s: SignOff = "legal=alice@example.com".parse().expect("valid");
        assert_eq!(s.reviewer, Reviewer::Legal);
        assert_eq!(s.by, "alice@example.com");
        assert!("lawyers=bob".parse::<SignOff>().is_err());
        assert!("legal".parse::<SignOff>().is_err());
        assert!("legal=".parse::<SignOff>().is_err());
    }

    #[test]
    fn file_comparison_names_every_change() {
        let file = |path: &str, sha: &str| FileRecord {
            path: path.into(),
            size: 1,
            sha256: sha.into(),
        };
        let recorded = [file("a", "1"), file("b", "2"), file("c", "3")];
        let current = [file("a", "1"), file("b", "9"), file("d", "4")];
        let comparison = compare_files(&recorded, &current);
        assert_eq!(comparison.modified, ["b"]);
        assert_eq!(comparison.added, ["d"]);
        assert_eq!(comparison.removed, ["c"]);
        assert!(!comparison.matches());
        assert!(compare_files(&recorded, &recorded).matches());
    }
}

/// A version in the catalogue (approved or production), with what a
/// person choosing a model filters on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueEntry {
    /// The list entry.
    #[serde(flatten)]
    pub summary: VersionSummary,
    /// The license's family (`permissive`, `copyleft`, `open-rail`,
    /// `community`, `non-commercial`, ...), from the stored terms.
    pub license_family: Option<String>,
    /// Whether commercial use is allowed (`yes`, `no`, `conditional`, ...),
    /// from the stored terms.
    pub commercial: Option<String>,
    /// The task, from the model card (`text-generation`, ...).
    pub task: Option<String>,
    /// What it is for: the card's first intended use, else its
    /// description.
    pub purpose: Option<String>,
    /// Teams using it.
    pub teams: Vec<String>,
}
