//! Signing a model and checking its signature (OpenSSF Model Signing),
//! with the JSON reports of `modelgate sign` and `modelgate verify`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use modelgate_signing::{
    Certificate, CertificateInfo, HashOptions, Manifest, Progress, PublicKey, Serialization,
    SignedBy, Signer, SignerInfo, Trust, VerifyOptions, path_within_model, read_signature,
    sign_model, verify,
};
use serde::Serialize;

use crate::Error;

/// A signed model: the JSON of `modelgate sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignReport {
    /// The model, as given.
    pub model: String,
    /// Where the signature was written.
    pub signature: String,
    /// What was signed.
    #[serde(flatten)]
    pub summary: Summary,
    /// Who signed.
    pub signer: SignerJson,
}

/// A checked signature: the JSON of `modelgate verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The model, as given.
    pub model: String,
    /// The signature checked.
    pub signature: String,
    /// The signature is trusted and the files match it.
    pub verified: bool,
    /// What was verified (when verified).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Which trusted key or authority signed (when verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<SignedByJson>,
    /// Why it did not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about it, in the edge's words (filled in by the edge from
    /// [`SignatureCheck::failure`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// Files whose content differs from what was signed.
    pub modified: Vec<String>,
    /// Files present that were not signed.
    pub added: Vec<String>,
    /// Files signed that are absent.
    pub removed: Vec<String>,
}

/// What a signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `files` or `shards`.
    pub serialization: &'static str,
    /// The shard size, for `shards`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_size: Option<u64>,
    /// Files covered.
    pub files: usize,
    /// Digests in the manifest (files, or shards of files).
    pub resources: usize,
    /// Bytes over the files.
    pub bytes: u64,
    /// The manifest's root digest (hex).
    pub root_digest: String,
}

impl Summary {
    /// The summary of `manifest`, whose files held `bytes` bytes.
    fn of(manifest: &Manifest, bytes: u64) -> Summary {
        let files = manifest.files();
        Summary {
            serialization: manifest.params.serialization.method(),
            shard_size: match manifest.params.serialization {
                Serialization::Files => None,
                Serialization::Shards { shard_size } => Some(shard_size),
            },
            files: files.len(),
            resources: manifest.resources.len(),
            bytes,
            root_digest: manifest.root_digest_hex(),
        }
    }
}

/// Who signed, as the signature says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum SignerJson {
    /// Key method.
    Key {
        /// The key's hint (hex SHA-256 of its PEM).
        hint: Option<String>,
    },
    /// Certificate method.
    Certificate {
        /// The chain carried, signing certificate first.
        chain: Vec<CertificateJson>,
    },
}

impl SignerJson {
    fn from_info(info: &SignerInfo) -> SignerJson {
        match info {
            SignerInfo::Certificate { chain } => SignerJson::Certificate {
                chain: chain.iter().map(CertificateJson::from).collect(),
            },
            SignerInfo::Key { hint } => SignerJson::Key { hint: hint.clone() },
            _ => SignerJson::Key { hint: None },
        }
    }
}

/// Which trusted key or authority a verified signature was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum SignedByJson {
    /// A trusted public key.
    Key {
        /// Its hint.
        hint: String,
        /// Where the trusted key came from (its file).
        public_key: String,
    },
    /// A certificate chain ending at a trusted authority.
    Certificate {
        /// The verified chain, signing certificate first.
        chain: Vec<CertificateJson>,
        /// Where the trusted certificate came from (its file).
        trusted_file: String,
    },
}

/// A certificate in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateJson {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// SHA-256 of the DER (hex).
    pub sha256_fingerprint: String,
    /// Valid from (seconds since 1970).
    pub not_before: u64,
    /// Valid until (seconds since 1970).
    pub not_after: u64,
}

impl From<&CertificateInfo> for CertificateJson {
    fn from(info: &CertificateInfo) -> CertificateJson {
        CertificateJson {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            serial: info.serial.clone(),
            sha256_fingerprint: info.sha256_fingerprint.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
        }
    }
}

/// Forwards progress to the caller's, keeping the bytes to hash (the sum
/// of the files' sizes, told once before hashing): the report's `bytes`,
/// without asking the file system again.
struct Measured<'a> {
    inner: &'a dyn Progress,
    total_bytes: AtomicU64,
}

impl<'a> Measured<'a> {
    fn new(inner: &'a dyn Progress) -> Measured<'a> {
        Measured {
            inner,
            total_bytes: AtomicU64::new(0),
        }
    }

    fn total_bytes(&self) -> u64 {
        self.total_bytes.load(Ordering::Relaxed)
    }
}

impl Progress for Measured<'_> {
    fn start(&self, total_bytes: u64) {
        self.total_bytes.store(total_bytes, Ordering::Relaxed);
        self.inner.start(total_bytes);
    }

    fn advance(&self, bytes_done: u64) {
        self.inner.advance(bytes_done);
    }
}

/// Paths relative to the model root to leave out of hashing: those of
/// `given` inside the model, and the signature file when it is inside.
pub fn ignored_paths(model: &Path, given: &[PathBuf], signature: &Path) -> Vec<String> {
    given
        .iter()
        .map(PathBuf::as_path)
        .chain([signature])
        .filter_map(|path| path_within_model(model, path))
        .collect()
}

/// A signed model: the report, and the signature (a Sigstore bundle) for
/// the edge to store or send.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The report.
    pub report: SignReport,
    /// The signature file's bytes.
    pub bundle: Vec<u8>,
}

/// Hash `model` and sign its manifest with `signer`. `signature_path` is
/// where the edge will write the signature (it is named in the report and
/// should be among `options.ignore_paths` when inside the model: see
/// [`ignored_paths`]).
pub fn sign(
    model: &Path,
    signer: &Signer,
    options: &HashOptions,
    signature_path: &Path,
    progress: &dyn Progress,
) -> Result<Signed, Error> {
    let measured = Measured::new(progress);
    let (manifest, bundle) =
        sign_model(model, options, signer, &measured).map_err(|source| Error::Sign {
            path: model.to_path_buf(),
            source,
        })?;
    Ok(Signed {
        report: SignReport {
            model: model.display().to_string(),
            signature: signature_path.display().to_string(),
            summary: Summary::of(&manifest, measured.total_bytes()),
            signer: SignerJson::from_info(&signer.info()),
        },
        bundle,
    })
}

/// What a verifier trusts, each anchor with where it came from (a file
/// name, a configuration key), named in the report.
#[derive(Debug, Clone, Copy)]
pub enum Anchors<'a> {
    /// Key method: any of these public keys.
    Keys {
        /// The keys.
        keys: &'a [PublicKey],
        /// Where each came from, in the same order.
        sources: &'a [String],
    },
    /// Certificate method: chains ending at any of these certificates.
    Authorities {
        /// The trusted certificates.
        certificates: &'a [Certificate],
        /// Where each came from, in the same order.
        sources: &'a [String],
    },
}

/// A signature checked: the report, and the failure when it did not
/// verify (for the edge's advice).
#[derive(Debug)]
pub struct SignatureCheck {
    /// The report.
    pub report: VerifyReport,
    /// Why the signature did not verify; `None` when it did.
    pub failure: Option<modelgate_signing::Error>,
}

/// Check the signature at `signature_path` against `anchors`, then the
/// model's files against the signature. A signature that does not verify
/// (untrusted, altered, malformed, too large, files changed) is an answer
/// ([`SignatureCheck::failure`]); an unreadable model or signature file is
/// an [`Error`].
pub fn verify_signature(
    model: &Path,
    signature_path: &Path,
    anchors: Anchors<'_>,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<SignatureCheck, Error> {
    let trust = match anchors {
        Anchors::Keys { keys, .. } => Trust::Keys(keys),
        Anchors::Authorities { certificates, .. } => Trust::CertificateAuthorities(certificates),
    };
    // An oversized signature file is a failed verification, like any other
    // malformed one; an unreadable one is an error.
    let measured = Measured::new(progress);
    let result = read_signature(signature_path)
        .and_then(|bytes| verify(model, &bytes, trust, options, &measured));
    let mut report = VerifyReport {
        model: model.display().to_string(),
        signature: signature_path.display().to_string(),
        verified: false,
        summary: None,
        signed_by: None,
        error: None,
        advice: None,
        modified: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
    };
    let source_of = |sources: &[String], idx: usize| sources.get(idx).cloned().unwrap_or_default();
    match result {
        Ok(verified) => {
            report.verified = true;
            report.summary = Some(Summary::of(&verified.manifest, measured.total_bytes()));
            report.signed_by = Some(match (&verified.signed_by, anchors) {
                (SignedBy::Key { key_index, hint }, Anchors::Keys { sources, .. }) => {
                    SignedByJson::Key {
                        hint: hint.clone(),
                        public_key: source_of(sources, *key_index),
                    }
                }
                (SignedBy::Key { hint, .. }, Anchors::Authorities { .. }) => SignedByJson::Key {
                    hint: hint.clone(),
                    public_key: String::new(),
                },
                (
                    SignedBy::Certificate {
                        chain,
                        anchor_index,
                    },
                    anchors,
                ) => SignedByJson::Certificate {
                    chain: chain.iter().map(CertificateJson::from).collect(),
                    trusted_file: match anchors {
                        Anchors::Authorities { sources, .. } => source_of(sources, *anchor_index),
                        Anchors::Keys { .. } => String::new(),
                    },
                },
            });
            Ok(SignatureCheck {
                report,
                failure: None,
            })
        }
        Err(error) if error.is_verification_failure() => {
            if let modelgate_signing::Error::ModelMismatch(mismatch) = &error {
                report.modified.clone_from(&mismatch.modified);
                report.added.clone_from(&mismatch.added);
                report.removed.clone_from(&mismatch.removed);
            }
            report.error = Some(error.to_string());
            Ok(SignatureCheck {
                report,
                failure: Some(error),
            })
        }
        Err(source) => Err(Error::Verify {
            path: model.to_path_buf(),
            source,
        }),
    }
}
