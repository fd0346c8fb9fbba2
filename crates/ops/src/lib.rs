//! The use cases of modelgate: what a person or a program asks for, done
//! the same way whichever edge asked (the `modelgate` CLI today, the HTTP
//! server next). An edge turns its input (arguments, a request) into the
//! options here, calls one function, and renders the plain data it returns
//! (text, JSON, a response) with its own exit code or status.
//!
//! Purpose: the steps that span crates and that no single stage owns.
//! [`add_version`] vets a model, copies its files into the inventory's
//! blob store (refusing the version when a file changed since the vet) and
//! records the report (refusing an existing version before the slow vet);
//! [`verify_stored`] re-hashes a recorded version's files and its stored
//! copies and compares them with the stored manifest; [`sign`] and [`verify_signature`] sign a
//! model (returning the signature's bytes, for the edge to write or send)
//! and check a signature, with the JSON reports ([`SignReport`],
//! [`VerifyReport`]) that are part of modelgate's interface;
//! [`model_bom`] and [`inventory_bom`] write AI-BOMs of a model or of
//! every version in use.
//!
//! Non-purpose: parsing, judging, hashing or storing (the stages do that:
//! `modelgate-vet`, `-signing`, `-inventory`, `-bom`); touching the file
//! system itself (the stages read models through `modelgate-formats`; the
//! edge reads the key and policy files it is given and writes the
//! signature); rendering, advice worded for one edge, exit codes. The clock
//! and random numbers for a BOM come from the caller too.
//!
//! Main types: [`AddVersion`], [`StoredVerification`], [`Signed`], [`SignReport`],
//! [`VerifyReport`], [`SignatureCheck`], [`Anchors`], and [`Error`].
//!
//! ```no_run
//! use modelgate_inventory::{Store, VersionRef};
//! use modelgate_vet::VetOptions;
//!
//! let mut store = Store::open(std::path::Path::new("/var/lib/modelgate"))?;
//! let summary = modelgate_ops::add_version(
//!     &mut store,
//!     &modelgate_ops::AddVersion {
//!         reference: "all-MiniLM-L6-v2@1.0".parse()?,
//!         variant_of: None,
//!         path: std::path::Path::new("./all-MiniLM-L6-v2"),
//!         by: "alice",
//!         vet: &VetOptions::default(),
//!         copy_progress: &modelgate_inventory::NoCopyProgress,
//!     },
//! )?;
//! println!("{} is a candidate; verdict {}", summary.name, summary.decision.name());
//! let minilm: VersionRef = "all-MiniLM-L6-v2@1.0".parse()?;
//! let check = modelgate_ops::verify_stored(&store, &minilm, None, &modelgate_signing::NoProgress)?;
//! assert!(check.verified);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bom;
mod models;
mod signatures;

use std::path::PathBuf;

pub use bom::{inventory_bom, model_bom};
pub use models::{AddVersion, StoredVerification, add_version, verify_stored};
pub use signatures::{
    Anchors, CertificateJson, SignReport, SignatureCheck, Signed, SignedByJson, SignerJson,
    Summary, VerifyReport, ignored_paths, sign, verify_signature,
};

/// Why a use case could not be carried out. A model that fails its checks
/// (a rejected verdict, changed files, a signature that does not verify) is
/// an answer, not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The inventory refused or failed.
    #[error(transparent)]
    Inventory(#[from] modelgate_inventory::Error),
    /// The model could not be vetted.
    #[error("cannot vet {path}")]
    Vet {
        /// The model.
        path: PathBuf,
        /// Why.
        #[source]
        source: modelgate_vet::Error,
    },
    /// The model's files could not be hashed (or are not there).
    #[error("cannot hash {path}")]
    Hash {
        /// The model.
        path: PathBuf,
        /// Why.
        #[source]
        source: modelgate_vet::Error,
    },
    /// Signing failed.
    #[error("cannot sign {path}")]
    Sign {
        /// The model.
        path: PathBuf,
        /// Why.
        #[source]
        source: modelgate_signing::Error,
    },
    /// The signature could not be checked at all (an unreadable signature
    /// or model; not a signature that fails to verify).
    #[error("cannot verify {path}")]
    Verify {
        /// The model.
        path: PathBuf,
        /// Why.
        #[source]
        source: modelgate_signing::Error,
    },
}
