//! OpenSSF Model Signing (OMS) v1.0: sign a model directory or file, and
//! verify it, in the format of the `model-signing` Python package (1.1.1).
//!
//! Purpose: hash every file of a model (or every shard of every file) into a
//! [`Manifest`], sign the manifest as an in-toto statement in a DSSE
//! envelope inside a Sigstore bundle (the `model.sig` file), and later
//! check such a bundle against a trusted key or CA and the model against
//! the signed manifest. Signatures made here verify with `model_signing`
//! and its signatures verify here, for the key and certificate methods and
//! both serializations (`files` and `shards`).
//!
//! Non-purpose: Sigstore keyless signing (Fulcio certificates, Rekor
//! transparency log) and PKCS #11 keys; anything that needs a network.
//! This crate opens no file itself: [`hash_model`], [`verify`] and
//! [`read_signature`] have `modelgate-formats` read the model (walked the
//! way model_signing walks it) and the signature, and [`hash_files`] and
//! [`verify_files`] work on bytes a caller already holds, so that a caller
//! that scanned those bytes signs or verifies exactly what it judged.
//!
//! Main types: [`HashOptions`], [`ModelFile`] (a file's name and bytes),
//! [`hash_files`] (hash in parallel across files and shards, over bytes
//! already read) and [`hash_model`] (read a path, then the same);
//! [`Manifest`] (entries in model_signing's order, the statement JSON);
//! [`PrivateKey`], [`PublicKey`] (ECDSA P-256/P-384/P-521 from PEM) and
//! [`Certificate`]; [`Signer`] and [`sign_model`]; [`Bundle`] (a parsed,
//! untrusted signature file, and [`Bundle::signer`] to ask who signed it);
//! [`verify`], [`verify_files`], [`verify_with_keys`],
//! [`verify_with_certificates`] and [`Verified`]. [`Error::ModelMismatch`] names every modified, added and
//! removed file.
//!
//! The signature file is untrusted: its size, its certificate and entry
//! counts are capped, every field is checked by name, and the model is
//! hashed only after the signature and the statement's consistency (its
//! subject digest over its entries) have been checked.
//!
//! ```no_run
//! use std::path::Path;
//! use modelgate_signing::{
//!     HashOptions, NoProgress, PrivateKey, PublicKey, Signer, sign_model, verify_with_keys,
//! };
//!
//! let model = Path::new("./my-model");
//! let key = PrivateKey::from_pem(&std::fs::read_to_string("key.pem")?)?;
//! let (_manifest, bundle) =
//!     sign_model(model, &HashOptions::default(), &Signer::with_key(key), &NoProgress)?;
//! std::fs::write(model.join("model.sig"), bundle)?;
//!
//! let trusted = PublicKey::from_pem(&std::fs::read_to_string("key.pub")?)?;
//! let verified = verify_with_keys(model, &model.join("model.sig"), &[trusted])?;
//! println!("{} entries verified", verified.manifest.resources.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bundle;
mod certificate;
mod error;
mod hashing;
mod json;
mod keys;
mod manifest;
mod pem;
mod sign;
mod verify;

pub use bundle::{BUNDLE_MEDIA_TYPE, Bundle, MAX_SIGNATURE_BYTES, PAYLOAD_TYPE, SignerInfo};
pub use certificate::{
    Certificate, CertificateInfo, MAX_BUNDLE_CERTIFICATES, MAX_CERTIFICATE_EXTENSIONS,
    MAX_CHAIN_LENGTH,
};
pub use error::{Error, ModelMismatch};
pub use hashing::{
    DEFAULT_SHARD_SIZE, GIT_PATHS, HashOptions, MAX_DIR_DEPTH, MAX_DIR_ENTRIES, ModelFile,
    NoProgress, Progress, hash_files, hash_model,
};
pub use keys::{Curve, PrivateKey, PublicKey};
pub use manifest::{
    HASH_TYPE, MAX_IGNORE_PATHS, MAX_RESOURCES, Manifest, PREDICATE_TYPE, Resource, STATEMENT_TYPE,
    Serialization, SerializationParams,
};
pub use sign::{Signer, sign_manifest, sign_model};
pub use verify::{
    SignedBy, Trust, Verified, VerifyOptions, default_signature_path, path_within_model,
    read_signature, verify, verify_bundle, verify_files, verify_with_certificates,
    verify_with_keys,
};
