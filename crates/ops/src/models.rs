//! The inventory's use cases that read models: vet then record, and verify
//! a recorded version against its files.

use std::path::{Path, PathBuf};

use modelgate_inventory::{
    BlobProblem, CopyProgress, FileComparison, FileRecord, NewVersion, Store, VersionRef,
    VersionSummary, compare_files,
};
use modelgate_signing::Progress;
use modelgate_vet::VetOptions;
use serde::Serialize;

use crate::Error;

/// What to vet and record.
pub struct AddVersion<'a> {
    /// The name and version to record it under.
    pub reference: VersionRef,
    /// An explicit link: the new version is a variant (e.g. another
    /// quantization) of this recorded one.
    pub variant_of: Option<VersionRef>,
    /// The model file or repository directory.
    pub path: &'a Path,
    /// Who records it.
    pub by: &'a str,
    /// How to vet it (policy, origin hints, progress).
    pub vet: &'a VetOptions,
    /// Told how far the copy into the blob store has got.
    pub copy_progress: &'a dyn CopyProgress,
}

/// Vet a model, copy its files into the inventory's blob store and record
/// it as a `candidate` with the whole report as evidence. Refused before
/// vetting when the version is already recorded (versions are immutable),
/// and refused with nothing stored when a file changed between the vet
/// and the copy (its digest is not the one vet recorded); the path is
/// recorded absolute, so that [`verify_stored`] finds the files from
/// anywhere.
pub fn add_version(store: &mut Store, request: &AddVersion<'_>) -> Result<VersionSummary, Error> {
    if store.version(&request.reference).is_ok() {
        return Err(modelgate_inventory::Error::VersionExists {
            reference: request.reference.clone(),
        }
        .into());
    }
    let path = std::path::absolute(request.path).unwrap_or_else(|_| request.path.to_path_buf());
    let report = modelgate_vet::vet(&path, request.vet).map_err(|source| Error::Vet {
        path: request.path.to_path_buf(),
        source,
    })?;
    let mut new = NewVersion::from_report(request.reference.clone(), &report)?;
    new.variant_of.clone_from(&request.variant_of);
    Ok(store.add_stored_version(&new, request.by, request.copy_progress)?)
}

/// A recorded version's files compared with the files on disk: the JSON
/// of `modelgate models verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredVerification {
    /// The model.
    pub name: String,
    /// The version.
    pub version: String,
    /// Where the files were read.
    pub path: String,
    /// Every recorded file is there with its recorded digest, and nothing
    /// else is; and every stored copy in the blob store is intact.
    pub verified: bool,
    /// Whether the version's files are in the blob store (false for a
    /// version recorded before it existed and not yet imported).
    pub stored: bool,
    /// Stored copies that are missing or not the recorded bytes.
    pub blob_problems: Vec<BlobProblem>,
    /// What changed.
    #[serde(flatten)]
    pub comparison: FileComparison,
}

/// Hash the files of a recorded version (at `path`, default the path
/// recorded when it was added) and compare them with the stored manifest;
/// then re-hash its copies in the blob store.
/// Files that are not there at all are [`Error::Hash`].
pub fn verify_stored(
    store: &Store,
    reference: &VersionRef,
    path: Option<&Path>,
    progress: &dyn Progress,
) -> Result<StoredVerification, Error> {
    let detail = store.version(reference)?;
    let path = path.map_or_else(|| PathBuf::from(&detail.source_path), Path::to_path_buf);
    let signature = modelgate_signing::default_signature_path(&path);
    let current: Vec<FileRecord> = modelgate_vet::digests(&path, &signature, progress)
        .map_err(|source| Error::Hash {
            path: path.clone(),
            source,
        })?
        .into_iter()
        .map(|digest| FileRecord {
            path: digest.path,
            size: digest.size,
            sha256: digest.sha256,
        })
        .collect();
    let comparison = compare_files(&detail.files, &current);
    let blobs = store.check_blobs(reference)?;
    let stored = blobs.is_some();
    let blob_problems = blobs.unwrap_or_default();
    Ok(StoredVerification {
        name: reference.name.clone(),
        version: reference.version.clone(),
        path: path.display().to_string(),
        verified: comparison.matches() && blob_problems.is_empty(),
        stored,
        blob_problems,
        comparison,
    })
}
