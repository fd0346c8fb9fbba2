//! Verifying: the bundle's signature against a trusted key or CA, then the
//! model's files (read from disk, or already in memory) against the signed
//! manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bundle::{Material, PAYLOAD_TYPE, pae};
use crate::certificate::{self, Certificate, CertificateInfo};
use crate::error::ModelMismatch;
use crate::hashing::{
    HashOptions, ModelFile, NoProgress, Progress, hash_files, ignore_paths, model_files, read_model,
};
use crate::{Bundle, Error, MAX_SIGNATURE_BYTES, Manifest, PublicKey};

/// What a verifier trusts.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Key method: any of these public keys.
    Keys(&'a [PublicKey]),
    /// Certificate method: chains ending at any of these certificates.
    CertificateAuthorities(&'a [Certificate]),
}

/// Which trusted key or certificate chain a verified bundle was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// A trusted public key.
    Key {
        /// Its position in the trusted keys.
        key_index: usize,
        /// Its hint (hex SHA-256 of its PEM).
        hint: String,
    },
    /// A certificate chain.
    Certificate {
        /// The verified path: signing certificate first, trusted
        /// certificate last.
        chain: Vec<CertificateInfo>,
        /// The trusted certificate's position among the authorities.
        anchor_index: usize,
    },
}

/// A verified model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed manifest, which the files on disk match.
    pub manifest: Manifest,
    /// Who signed it.
    pub signed_by: SignedBy,
}

/// What verification leaves out besides what the statement lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Paths relative to the model root to leave out, typically the
    /// signature file when it lives inside the model (see
    /// [`path_within_model`]).
    pub ignore_paths: Vec<String>,
    /// Leave out `.git`, `.gitattributes`, `.github`, `.gitignore` (as
    /// model_signing's verifier does by default).
    pub ignore_git_paths: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
        }
    }
}

/// Where a signature lives by default: `MODEL/model.sig` for a directory
/// (inside the model, and left out of its manifest), `MODEL.sig` beside a
/// single file.
pub fn default_signature_path(model: &Path) -> PathBuf {
    if modelgate_formats::is_directory(model) {
        model.join("model.sig")
    } else {
        let mut name = model.as_os_str().to_os_string();
        name.push(".sig");
        PathBuf::from(name)
    }
}

/// `path` relative to the model directory (`/`-separated) when it lies
/// inside it, so that it can be left out; `None` otherwise. Both paths are
/// resolved (symbolic links, `..`); `path` need not exist yet.
pub fn path_within_model(model: &Path, path: &Path) -> Option<String> {
    modelgate_formats::path_within(model, path)
}

/// Read a signature file, refusing one larger than [`MAX_SIGNATURE_BYTES`].
pub fn read_signature(path: &Path) -> Result<Vec<u8>, Error> {
    match modelgate_formats::read_small_file(path, MAX_SIGNATURE_BYTES) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no signature file"),
        )),
        Err(modelgate_formats::Error::TooLarge { size, .. }) => Err(Error::SignatureTooLarge {
            size,
            limit: MAX_SIGNATURE_BYTES,
        }),
        Err(modelgate_formats::Error::Io { path, source }) => Err(Error::io(path, source)),
        Err(other) => Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        )),
    }
}

/// Check a bundle's signature against `trust` and read its statement.
/// The model is not looked at.
pub fn verify_bundle(bundle: &Bundle, trust: Trust<'_>) -> Result<(Manifest, SignedBy), Error> {
    let message = pae(&bundle.payload);
    let signed_by = match (&bundle.material, trust) {
        (Material::PublicKey { hint }, Trust::Keys(keys)) => {
            let candidates: Vec<(usize, &PublicKey)> = match hint {
                Some(hint) => keys
                    .iter()
                    .enumerate()
                    .filter(|(_, key)| key.hint() == *hint)
                    .collect(),
                // Bundles from model_signing before 1.0 carry no hint.
                None => keys.iter().enumerate().collect(),
            };
            if candidates.is_empty() {
                return Err(Error::UntrustedKey {
                    hint: hint
                        .clone()
                        .unwrap_or_else(|| "(no trusted key given)".to_string()),
                });
            }
            let signer = candidates
                .iter()
                .find(|(_, key)| key.verify(&message, &bundle.signature));
            match signer {
                Some((key_index, key)) => SignedBy::Key {
                    key_index: *key_index,
                    hint: key.hint(),
                },
                None => {
                    return Err(Error::BadSignature {
                        signer: match hint {
                            Some(hint) => format!("key {hint}"),
                            None => "any trusted key".to_string(),
                        },
                    });
                }
            }
        }
        (Material::CertificateChain(chain), Trust::CertificateAuthorities(authorities)) => {
            let verified = certificate::verify_chain(chain, authorities)?;
            if !verified.signing_key.verify(&message, &bundle.signature) {
                return Err(Error::BadSignature {
                    signer: verified
                        .path
                        .first()
                        .map(|c| format!("certificate {}", c.subject))
                        .unwrap_or_default(),
                });
            }
            SignedBy::Certificate {
                chain: verified.path,
                anchor_index: verified.anchor_index,
            }
        }
        (Material::PublicKey { .. }, Trust::CertificateAuthorities(_)) => {
            return Err(Error::WrongVerificationMaterial {
                found: "a public key",
                given: "certificate authorities",
            });
        }
        (Material::CertificateChain(_), Trust::Keys(_)) => {
            return Err(Error::WrongVerificationMaterial {
                found: "a certificate chain",
                given: "public keys",
            });
        }
    };
    if bundle.payload_type != PAYLOAD_TYPE {
        return Err(Error::bundle(
            "dsseEnvelope.payloadType",
            format!("{:?}, expected {PAYLOAD_TYPE}", bundle.payload_type),
        ));
    }
    let manifest = Manifest::from_statement_json(&bundle.payload)?;
    Ok((manifest, signed_by))
}

/// Verify the model at `model` against a signature file's bytes.
///
/// First the bundle (shape, signature, trust, statement); only then is the
/// model read (once, through `modelgate-formats`) and hashed, with the
/// statement's serialization and ignore paths plus `options'`. Fails with
/// [`Error::ModelMismatch`] naming every modified, added and removed file.
pub fn verify(
    model: &Path,
    signature: &[u8],
    trust: Trust<'_>,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<Verified, Error> {
    let bundle = Bundle::parse(signature)?;
    let (expected, signed_by) = verify_bundle(&bundle, trust)?;
    let hash_options = hash_options(&expected, options);
    let tree = read_model(
        model,
        hash_options.allow_symlinks,
        &ignore_paths(&hash_options)?,
    )?;
    let actual = hash_files(&tree.name, &model_files(&tree), &hash_options, progress)?;
    check(expected, signed_by, &actual)
}

/// Verify a model whose files are already in memory (`files`, as
/// [`hash_files`] takes them) against a signature file's bytes: the same
/// checks as [`verify`], over exactly these bytes, so that a caller that
/// scanned them knows the signature covers what it judged.
pub fn verify_files(
    model_name: &str,
    files: &[ModelFile<'_>],
    signature: &[u8],
    trust: Trust<'_>,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<Verified, Error> {
    let bundle = Bundle::parse(signature)?;
    let (expected, signed_by) = verify_bundle(&bundle, trust)?;
    let actual = hash_files(
        model_name,
        files,
        &hash_options(&expected, options),
        progress,
    )?;
    check(expected, signed_by, &actual)
}

/// How to hash the model to compare it with `expected`: its serialization
/// and ignore paths, plus the verifier's.
fn hash_options(expected: &Manifest, options: &VerifyOptions) -> HashOptions {
    let mut ignore_paths = expected.params.ignore_paths.clone();
    ignore_paths.extend(options.ignore_paths.iter().cloned());
    HashOptions {
        serialization: expected.params.serialization,
        allow_symlinks: expected.params.allow_symlinks,
        ignore_paths,
        ignore_git_paths: options.ignore_git_paths,
    }
}

fn check(expected: Manifest, signed_by: SignedBy, actual: &Manifest) -> Result<Verified, Error> {
    let mismatch = compare(&expected, actual);
    if !mismatch.is_empty() {
        return Err(Error::ModelMismatch(Box::new(mismatch)));
    }
    Ok(Verified {
        manifest: expected,
        signed_by,
    })
}

/// Verify `model` against the signature file at `signature` with trusted
/// public keys (the key method). A signature file inside the model is left
/// out. For `modelgate vet` and other callers that want one call.
pub fn verify_with_keys(
    model: &Path,
    signature: &Path,
    keys: &[PublicKey],
) -> Result<Verified, Error> {
    verify_file(model, signature, Trust::Keys(keys))
}

/// Verify `model` against the signature file at `signature` with trusted
/// CA certificates (the certificate method).
pub fn verify_with_certificates(
    model: &Path,
    signature: &Path,
    authorities: &[Certificate],
) -> Result<Verified, Error> {
    verify_file(model, signature, Trust::CertificateAuthorities(authorities))
}

fn verify_file(model: &Path, signature: &Path, trust: Trust<'_>) -> Result<Verified, Error> {
    let bytes = read_signature(signature)?;
    let options = VerifyOptions {
        ignore_paths: path_within_model(model, signature).into_iter().collect(),
        ..VerifyOptions::default()
    };
    verify(model, &bytes, trust, &options, &NoProgress)
}

/// Compare by file: a file is modified when its entries (one, or its
/// shards) differ.
fn compare(expected: &Manifest, actual: &Manifest) -> ModelMismatch {
    type ByFile<'m> = BTreeMap<&'m str, Vec<(&'m str, &'m [u8; 32])>>;
    fn by_file(manifest: &Manifest) -> ByFile<'_> {
        let mut files: ByFile<'_> = BTreeMap::new();
        for resource in &manifest.resources {
            files
                .entry(resource.file(manifest.params.serialization))
                .or_default()
                .push((resource.name.as_str(), &resource.digest));
        }
        for entries in files.values_mut() {
            entries.sort_unstable();
        }
        files
    }
    let expected = by_file(expected);
    let actual = by_file(actual);
    let mut mismatch = ModelMismatch::default();
    for (file, entries) in &expected {
        match actual.get(file) {
            None => mismatch.removed.push(file.to_string()),
            Some(found) if found != entries => mismatch.modified.push(file.to_string()),
            Some(_) => {}
        }
    }
    for file in actual.keys() {
        if !expected.contains_key(file) {
            mismatch.added.push(file.to_string());
        }
    }
    mismatch
}
