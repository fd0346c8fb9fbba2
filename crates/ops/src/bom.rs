//! AI-BOMs of a model (vetted now) or of the inventory (as recorded).

use std::path::Path;

use modelgate_bom::BomOptions;
use modelgate_inventory::Store;
use modelgate_vet::VetOptions;
use serde_json::Value;

use crate::Error;

/// Vet the model at `path` and write its CycloneDX BOM from the report.
/// `options` carry the caller's serial number and time.
pub fn model_bom(path: &Path, vet: &VetOptions, options: &BomOptions) -> Result<Value, Error> {
    let report = modelgate_vet::vet(path, vet).map_err(|source| Error::Vet {
        path: path.to_path_buf(),
        source,
    })?;
    let description = modelgate_vet::model_description(&report);
    Ok(modelgate_bom::model_bom(&description, options))
}

/// One BOM of every approved and production version in the inventory,
/// from the descriptions stored when each was added (with its inventory
/// version, stage and review date as properties).
pub fn inventory_bom(store: &Store, options: &BomOptions) -> Result<Value, Error> {
    let descriptions = store.in_use_descriptions()?;
    Ok(modelgate_bom::inventory_bom(&descriptions, options))
}
