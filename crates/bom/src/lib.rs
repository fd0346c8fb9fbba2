//! CycloneDX 1.6 JSON AI-BOMs: what modelgate knows about a model, written
//! as a bill of materials other tools can read.
//!
//! The crate is pure: a [`ModelDescription`] (plain data the vet pipeline
//! fills in, storable as JSON) and [`BomOptions`] (the serial number and
//! time the caller chose) go in, a [`serde_json::Value`] comes out. It
//! reads no files, no clock and no random numbers, reaches no network, and
//! does not find facts itself: parsing cards, hashing files and judging
//! models happen upstream.
//! [`model_bom`] describes one model; [`inventory_bom`] lists many.
//!
//! # Invariants
//!
//! - **Every BOM validates** against the official `bom-1.6.schema.json`
//!   (committed under `tests/schema/` by `scripts/bom_schemas.py`, and used
//!   by the tests on every output). Text that would break a constraint is
//!   repaired or left out, never written: digests that are not hexadecimal
//!   of the algorithm's length are dropped, URLs are percent-encoded into
//!   IRI references (or dropped when no IRI can be made), purls not shaped
//!   like `pkg:type/name` are dropped (readers such as cyclonedx-python-lib
//!   refuse a BOM over one), blank text and empty lists and sections are
//!   omitted, versions are cut to 1024 characters. [`SerialNumber`] and
//!   [`Timestamp`] (`modelgate-vocab`'s, re-exported) are checked when
//!   made.
//! - **`bom-ref`s are unique** within a BOM: a repeated candidate gets
//!   `-2`, `-3`, ... appended.
//! - **SPDX means the schema's SPDX list**: a license id is written as
//!   `license.id` only when `spdx.schema.json` lists it (case-insensitively,
//!   written in its canonical case); anything else becomes `license.name`.
//! - Same description and options, same JSON: the serial number and the
//!   time are the caller's (the CLI draws a random serial number and reads
//!   the clock).
//!
//! # Shape
//!
//! `bomFormat: "CycloneDX"`, `specVersion: "1.6"`, `serialNumber`,
//! `version: 1`, `metadata` (`timestamp`, `tools.components` = modelgate)
//! and `components` = one `machine-learning-model` component per model. In
//! a single-model BOM, `metadata.component` names the subject with the
//! model's identity fields only (type, supplier, publisher, group, name,
//! version, purl) and no `bom-ref`, so the full component in `components`
//! is the one every reference points at. An inventory has no
//! `metadata.component`.
//!
//! Each model's files are `file` components nested in the model's
//! `components` (CycloneDX's assembly relation: the model consists of
//! them; `dependencies` would say the model *uses* them), named by path,
//! with their SHA-256 and `modelgate:size`/`modelgate:format` properties.
//! `file`, not `data`: they are concrete artifacts identified by a digest;
//! CycloneDX's `data` type describes datasets and configuration as
//! information. Datasets are written inline in `modelParameters.datasets`
//! as `{type: "dataset", name, contents.url}`.
//!
//! | [`ModelDescription`] field | CycloneDX (`components[]`) |
//! |---|---|
//! | `name`, `group`, `version`, `description`, `purl` | the same names |
//! | `publisher` | `publisher` and `supplier.name` |
//! | `purl` (else `model:[group/]name[@version]`) | `bom-ref` (files: `<model ref>#<path>`) |
//! | `source_url` | `externalReferences[{type: "distribution"}]` |
//! | `license` | `licenses[{license: {id}}]` or `{license: {name, url}}` |
//! | `hashes` | `hashes[{alg, content}]` |
//! | `files` | `components[{type: "file", name: path, hashes, properties}]` |
//! | `parameters` | `modelCard.modelParameters` (`approach.type`, `task`, `architectureFamily`, `modelArchitecture`, `datasets`, `inputs[].format`, `outputs[].format`) |
//! | `metrics` | `modelCard.quantitativeAnalysis.performanceMetrics[{type, value, slice: "task: dataset / slice", confidenceInterval}]` |
//! | `considerations` | `modelCard.considerations` (`users`, `useCases`, `technicalLimitations`, `performanceTradeoffs`, `ethicalConsiderations[{name, mitigationStrategy}]`, `environmentalConsiderations.properties`, `fairnessAssessments`) |
//! | `base_models` | `pedigree.ancestors[{type: "machine-learning-model", name, version, purl, externalReferences, properties: modelgate:base-model-relation}]` |
//! | `properties` | `properties[{name, value}]` |
//!
//! # Example
//!
//! ```
//! use modelgate_bom::{
//!     BomOptions, FileEntry, LicenseChoice, ModelDescription, Property, SerialNumber, Timestamp,
//!     model_bom, property,
//! };
//!
//! let mut model = ModelDescription::new("SmolLM2-135M-Instruct");
//! model.group = Some("HuggingFaceTB".into());
//! model.license = Some(LicenseChoice::Spdx { id: "apache-2.0".into() });
//! model.files.push(FileEntry {
//!     path: "model.safetensors".into(),
//!     size: 269_060_552,
//!     sha256: Some("5af571cbf074e6d21a03528d2330792e532ca608f24ac70a143f6b369968ab8c".into()),
//!     format: Some("safetensors".into()),
//! });
//! model.properties.push(Property::new(property::VERDICT, "allow"));
//!
//! let options = BomOptions::new(
//!     SerialNumber::from_random_bytes([7; 16]), // the caller's random bytes
//!     Timestamp::from_unix_seconds(1_795_379_320),
//!     "0.1.0",
//! );
//! let bom = model_bom(&model, &options);
//! assert_eq!(bom["serialNumber"], "urn:uuid:07070707-0707-4707-8707-070707070707");
//! assert_eq!(bom["metadata"]["timestamp"], "2026-11-22T20:28:40Z");
//! assert_eq!(bom["specVersion"], "1.6");
//! assert_eq!(bom["components"][0]["type"], "machine-learning-model");
//! assert_eq!(bom["components"][0]["licenses"][0]["license"]["id"], "Apache-2.0");
//! assert_eq!(bom["components"][0]["components"][0]["type"], "file");
//! assert_eq!(bom["components"][0]["components"][0]["hashes"][0]["alg"], "SHA-256");
//! println!("{}", serde_json::to_string_pretty(&bom).unwrap());
//! ```

mod convert;
mod cyclonedx;
mod license;
mod model;
mod options;
mod sanitize;

use serde_json::Value;

pub use license::spdx_license_id;
pub use model::{
    Approach, BaseModel, BaseModelRelation, ConfidenceInterval, Considerations, Dataset,
    EnvironmentalConsiderations, EthicalConsideration, FairnessAssessment, FileEntry, Hash,
    HashAlgorithm, LicenseChoice, Metric, ModelDescription, ModelParameters, Property,
};
pub use modelgate_vocab::Timestamp;
pub use options::{BomOptions, Error, SerialNumber};

/// Names of the properties modelgate writes (CycloneDX properties are
/// namespaced `name: value` pairs).
pub mod property {
    /// modelgate's verdict on the model, e.g. `allow`, `warn`, `block`.
    pub const VERDICT: &str = "modelgate:verdict";
    /// The format of the model's weights, or of one file.
    pub const FORMAT: &str = "modelgate:format";
    /// The exact parameter count.
    pub const PARAMETERS: &str = "modelgate:parameters";
    /// The quantization, e.g. `Q4_1`.
    pub const QUANTIZATION: &str = "modelgate:quantization";
    /// The state of the model's signature, e.g. `verified`.
    pub const SIGNATURE: &str = "modelgate:signature";
    /// A file's size in bytes (written by this crate).
    pub const SIZE: &str = "modelgate:size";
    /// How a model derives from a base model: `finetune`, `quantized`,
    /// `merge` or `adapter` (written by this crate).
    pub const BASE_MODEL_RELATION: &str = "modelgate:base-model-relation";
    /// Energy used, as text (written by this crate).
    pub const ENERGY_CONSUMPTION: &str = "modelgate:energy-consumption";
    /// CO2-equivalent emissions, as text (written by this crate).
    pub const CO2_EQ_EMISSIONS: &str = "modelgate:co2-eq-emissions";
}

/// The BOM of one model: the model in `components`, its identity in
/// `metadata.component`.
pub fn model_bom(model: &ModelDescription, options: &BomOptions) -> Value {
    let mut refs = convert::Refs::default();
    let component = convert::model_component(model, &mut refs);
    document(options, Some(convert::identity(model)), vec![component])
}

/// The BOM of many models, e.g. an inventory: one component per model, in
/// the order given, and no `metadata.component`.
pub fn inventory_bom(models: &[ModelDescription], options: &BomOptions) -> Value {
    let mut refs = convert::Refs::default();
    let components = models
        .iter()
        .map(|model| convert::model_component(model, &mut refs))
        .collect();
    document(options, None, components)
}

fn document(
    options: &BomOptions,
    subject: Option<cyclonedx::Component>,
    components: Vec<cyclonedx::Component>,
) -> Value {
    let bom = cyclonedx::Bom {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: options.serial_number.to_string(),
        version: 1,
        metadata: cyclonedx::Metadata {
            timestamp: options.timestamp.to_string(),
            tools: cyclonedx::Tools {
                components: vec![convert::tool_component(&options.tool_version)],
            },
            component: subject,
        },
        components,
    };
    // Serializing structs of strings, integers and vectors cannot fail
    // (serde_json fails only on non-string map keys and custom errors).
    serde_json::to_value(bom).unwrap_or(Value::Null)
}
