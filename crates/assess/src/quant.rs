//! Quantized variants of a recorded version.
//!
//! Each variant is written by llama.cpp's quantizer from the source's
//! verified blob, vetted like any other file, and recorded as a variant of
//! its source. What the quantized file cannot say for itself is inherited
//! from the source: its license and terms when the file names none, and its
//! provenance, with the quantizer added to the toolchain and the source
//! named as base model.

use std::path::Path;

use modelgate_engine::{QuantType, QuantizeOptions, TensorProgress, quantize};
use modelgate_inventory::{CopyProgress, NewVersion, Store, VersionRef, VersionSummary};
use modelgate_vet::VetOptions;

use crate::Error;

/// What to quantize.
pub struct QuantizeRequest<'a> {
    /// The recorded version to start from.
    pub source: VersionRef,
    /// The types to write, each a new version.
    pub to: Vec<QuantType>,
    /// Quantize an already quantized source (precision lost for good).
    pub allow_requantize: bool,
    /// Threads (0: all cores).
    pub threads: u32,
    /// Where the files are written before they are copied into the blob
    /// store (the caller removes it).
    pub work_dir: &'a Path,
    /// Who records the variants.
    pub by: &'a str,
    /// How to vet each output.
    pub vet: &'a VetOptions,
    /// Told how the copies into the blob store go.
    pub copy_progress: &'a dyn CopyProgress,
}

impl std::fmt::Debug for QuantizeRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantizeRequest")
            .field("source", &self.source)
            .field("to", &self.to)
            .field("allow_requantize", &self.allow_requantize)
            .finish_non_exhaustive()
    }
}

/// One variant written and recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// The type.
    pub to: QuantType,
    /// The recorded version.
    pub version: VersionSummary,
}

/// The reference a variant of `source` in `to` is recorded under:
/// `NAME@VERSION-q4_k_m`.
pub fn variant_reference(source: &VersionRef, to: QuantType) -> Result<VersionRef, Error> {
    Ok(VersionRef::new(
        &source.name,
        &format!("{}-{}", source.version, to.name().to_ascii_lowercase()),
    )?)
}

/// Writes and records each requested variant of `request.source`, calling
/// `progress` as llama.cpp starts each tensor. Variants already recorded
/// are refused before any work (versions are immutable).
pub fn quantize_version(
    store: &mut Store,
    request: &QuantizeRequest<'_>,
    progress: &mut dyn FnMut(QuantType, TensorProgress),
) -> Result<Vec<Quantized>, Error> {
    let source_detail = store.version(&request.source)?;
    let targets: Vec<(QuantType, VersionRef)> = request
        .to
        .iter()
        .map(|&t| variant_reference(&request.source, t).map(|r| (t, r)))
        .collect::<Result<_, _>>()?;
    for (_, reference) in &targets {
        if store.version(reference).is_ok() {
            return Err(modelgate_inventory::Error::VersionExists {
                reference: reference.clone(),
            }
            .into());
        }
    }
    let input = modelgate_serving::stored_gguf(store, &request.source, request.by)?;
    let mut done = Vec::new();
    for (to, reference) in targets {
        let output = request.work_dir.join(format!(
            "{}-{}.gguf",
            request.source.name, reference.version
        ));
        quantize(
            &input,
            &output,
            QuantizeOptions {
                to,
                allow_requantize: request.allow_requantize,
                threads: request.threads,
            },
            &mut |p| progress(to, p),
        )?;
        let report = modelgate_vet::vet(&output, request.vet).map_err(|e| Error::Vet {
            path: output.clone(),
            reason: e.to_string(),
        })?;
        let mut new = NewVersion::from_report(reference.clone(), &report)?;
        new.variant_of = Some(request.source.clone());
        inherit(&mut new, &source_detail, &request.source, to);
        let version = store.add_stored_version(&new, request.by, request.copy_progress)?;
        done.push(Quantized { to, version });
    }
    Ok(done)
}

fn inherit(
    new: &mut NewVersion,
    source: &modelgate_inventory::VersionDetail,
    reference: &VersionRef,
    to: QuantType,
) {
    if new.license.is_none() {
        new.license.clone_from(&source.summary.license);
        new.license_name.clone_from(&source.license_name);
        new.license_terms.clone_from(&source.license_terms);
    }
    let from = &source.provenance;
    let p = &mut new.provenance;
    if p.publisher.is_none() {
        p.publisher.clone_from(&from.publisher);
    }
    if p.source.is_none() {
        p.source.clone_from(&from.source);
    }
    if p.revision.is_none() {
        p.revision.clone_from(&from.revision);
    }
    for base in &from.base_models {
        if !p.base_models.contains(base) {
            p.base_models.push(base.clone());
        }
    }
    let own = reference.to_string();
    if !p.base_models.contains(&own) {
        p.base_models.push(own);
    }
    for tool in &from.toolchain {
        if !p.toolchain.contains(tool) {
            p.toolchain.push(tool.clone());
        }
    }
    p.toolchain.push(format!(
        "modelgate quantize: llama.cpp quantizer (llama-cpp-sys-2 0.1.161), {} from {reference}",
        to.name()
    ));
}
