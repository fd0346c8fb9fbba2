//! The one error type of the crate.

use std::fmt;
use std::path::PathBuf;

/// Why hashing, signing or verifying a model failed.
///
/// Variants carry the file, field or certificate they are about; the CLI
/// adds what to do. [`Error::is_verification_failure`] separates "the
/// signature or the model failed a check" from "an input could not be read".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory (of the model, or a key, certificate or signature
    /// file) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A path is neither a regular file nor a directory: a socket, pipe,
    /// device, or a symbolic link to nothing.
    #[error("{path} is neither a regular file nor a directory")]
    NotFileOrDirectory {
        /// The path.
        path: PathBuf,
    },
    /// A symbolic link was met while symbolic links are not allowed.
    #[error("{path} is a symbolic link, and symbolic links are not allowed")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A name inside the model is not valid UTF-8 (manifest names are text).
    #[error("{path}: file name is not valid UTF-8")]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },
    /// Directories are nested deeper than [`crate::MAX_DIR_DEPTH`].
    #[error("{path}: directories nested deeper than {limit} levels")]
    TooDeep {
        /// The directory that is too deep.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// The model (or a signed statement) has more entries than
    /// [`crate::MAX_RESOURCES`], or a walk met more directory entries than
    /// it allows.
    #[error("{what}: more than {limit} entries")]
    TooManyEntries {
        /// What was being counted (a path, or a statement field).
        what: String,
        /// The limit.
        limit: usize,
    },
    /// A file whose name contains `:` cannot be named in `shards` mode, whose
    /// resource names are `path:start:end`.
    #[error(
        "{path}: a file name containing ':' cannot be signed in shards mode (resources are named path:start:end)"
    )]
    ColonInShardedPath {
        /// The file, relative to the model root.
        path: String,
    },
    /// An ignore path names the model root itself (`.`, `/`, or empty),
    /// which would leave every file out.
    #[error("ignore path {path:?} names the model root")]
    IgnoresRoot {
        /// The path as given.
        path: String,
    },
    /// A shard size of zero.
    #[error("shard size must be at least 1 byte")]
    ZeroShardSize,
    /// A file changed size between listing and hashing.
    #[error("{path} changed size while it was being hashed")]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// The signature file is larger than [`crate::MAX_SIGNATURE_BYTES`].
    #[error("signature is {size} bytes, more than the {limit}-byte limit")]
    SignatureTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The signature file is not a Sigstore bundle of the expected shape.
    #[error("signature is not a model-signing Sigstore bundle: {field}: {reason}")]
    Bundle {
        /// The JSON field, e.g. `dsseEnvelope.signatures[0].sig`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signed in-toto statement is malformed.
    #[error("signed statement: {field}: {reason}")]
    Statement {
        /// The JSON field, e.g. `predicate.resources[3].digest`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The statement's subject digest is not the digest of its resources.
    #[error(
        "signed statement is inconsistent: its resources hash to {computed}, but its subject says {expected}"
    )]
    RootDigestMismatch {
        /// The subject's `sha256`.
        expected: String,
        /// SHA-256 over the resources' digests.
        computed: String,
    },
    /// The statement uses a predicate this crate does not verify (e.g. the
    /// pre-1.0 `https://model_signing/Digests/v0.1`).
    #[error("unsupported predicate type {predicate_type:?} (expected {expected})")]
    UnsupportedPredicate {
        /// The statement's `predicateType`.
        predicate_type: String,
        /// The supported one.
        expected: &'static str,
    },
    /// The statement's serialization uses a hash other than SHA-256, or a
    /// method other than `files` and `shards`.
    #[error("unsupported serialization {field} {value:?}")]
    UnsupportedSerialization {
        /// `hash_type` or `method`.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A key could not be read from its PEM text.
    #[error("{what}: {reason}")]
    Key {
        /// Which key: `private key` or `public key`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A certificate could not be parsed.
    #[error("certificate {index} ({origin}): {reason}")]
    Certificate {
        /// Where it came from: a file name, or `signature`.
        origin: String,
        /// Its position there, from 0.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The signing certificate does not certify the private key.
    #[error("the signing certificate's public key is not the private key's public key")]
    CertificateKeyMismatch,
    /// The bundle was made with one kind of verification material (a key or
    /// a certificate chain) and verification was given the other.
    #[error("the signature was made with {found}, but verification was given {given}")]
    WrongVerificationMaterial {
        /// What the bundle carries.
        found: &'static str,
        /// What the caller trusted.
        given: &'static str,
    },
    /// The bundle names (by hint) a key that is not among the trusted keys.
    #[error("the signature was made with key {hint}, which is not a trusted key")]
    UntrustedKey {
        /// The bundle's `verificationMaterial.publicKey.hint`.
        hint: String,
    },
    /// The DSSE signature does not verify with the trusted key or the signing
    /// certificate.
    #[error("the signature does not verify with {signer}")]
    BadSignature {
        /// The key hint or certificate subject tried.
        signer: String,
    },
    /// The certificate chain does not lead to a trusted certificate, or a
    /// certificate in it fails a check (validity, CA flag, key usage).
    #[error("certificate chain of {subject}: {reason}")]
    UntrustedChain {
        /// The subject of the certificate where the chain failed.
        subject: String,
        /// Why.
        reason: String,
    },
    /// The files on disk do not match the signed manifest.
    #[error("{0}")]
    ModelMismatch(Box<ModelMismatch>),
}

impl Error {
    /// Whether this error means "the signature, its statement, its
    /// certificates or the model failed a check" (a verification failure),
    /// as opposed to an input that could not be read or a bad argument.
    pub fn is_verification_failure(&self) -> bool {
        !matches!(
            self,
            Error::Io { .. }
                | Error::NotFileOrDirectory { .. }
                | Error::NonUtf8Path { .. }
                | Error::TooDeep { .. }
                | Error::ZeroShardSize
                | Error::ColonInShardedPath { .. }
                | Error::FileChanged { .. }
                | Error::Key { .. }
                | Error::CertificateKeyMismatch
        ) && !matches!(self, Error::Certificate { origin, .. } if origin != "signature")
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bundle(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Bundle {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn statement(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Statement {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// How the files on disk differ from the signed manifest, by file (a file
/// in `shards` mode is modified when any of its shards is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelMismatch {
    /// Files whose content differs from what was signed.
    pub modified: Vec<String>,
    /// Files on disk that the signature does not cover.
    pub added: Vec<String>,
    /// Signed files that are missing from disk.
    pub removed: Vec<String>,
}

impl ModelMismatch {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.modified.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

impl fmt::Display for ModelMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the model does not match its signature")?;
        for (label, files) in [
            ("modified", &self.modified),
            ("added", &self.added),
            ("removed", &self.removed),
        ] {
            if !files.is_empty() {
                write!(f, "; {label}: {}", files.join(", "))?;
            }
        }
        Ok(())
    }
}
