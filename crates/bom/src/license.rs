//! Which license identifiers are SPDX identifiers: exactly those the
//! CycloneDX schema's own SPDX list (`spdx.schema.json`) accepts as
//! `license.id`, so an id this crate writes can never fail validation.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The SPDX list the CycloneDX 1.6 schema validates `license.id` against,
/// extracted from cyclonedx-python-lib by `scripts/bom_schemas.py`.
const SPDX_SCHEMA: &str = include_str!("../tests/schema/spdx.schema.json");

#[derive(Deserialize)]
struct SpdxSchema {
    #[serde(rename = "enum")]
    ids: Vec<String>,
}

/// Lower-cased identifier to its canonical spelling.
fn spdx_ids() -> &'static HashMap<String, String> {
    static IDS: OnceLock<HashMap<String, String>> = OnceLock::new();
    IDS.get_or_init(|| {
        // The file is committed and checked by this crate's tests; were it
        // unreadable, every license would be written by name, still valid.
        let ids = serde_json::from_str::<SpdxSchema>(SPDX_SCHEMA)
            .map_or_else(|_| Vec::new(), |schema| schema.ids);
        ids.into_iter()
            .map(|id| (id.to_ascii_lowercase(), id))
            .collect()
    })
}

/// The canonical SPDX identifier for `id`, matched without regard to case
/// (`apache-2.0` gives `Apache-2.0`), or `None` when the CycloneDX 1.6
/// schema's SPDX list does not have it (AI licenses such as `llama3.1` or
/// `openrail`, and SPDX expressions).
pub fn spdx_license_id(id: &str) -> Option<&'static str> {
    spdx_ids()
        .get(&id.trim().to_ascii_lowercase())
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spdx_list_is_the_schemas() {
        let n_ids = spdx_ids().len();
        assert!(n_ids > 600, "{n_ids}");
        assert_eq!(spdx_license_id("apache-2.0"), Some("Apache-2.0"));
        assert_eq!(spdx_license_id(" MIT "), Some("MIT"));
        assert_eq!(spdx_license_id("cc-by-nc-4.0"), Some("CC-BY-NC-4.0"));
        assert_eq!(spdx_license_id("llama3.1"), None);
        assert_eq!(spdx_license_id("openrail"), None);
        assert_eq!(spdx_license_id("MIT OR Apache-2.0"), None);
        assert_eq!(spdx_license_id(""), None);
    }
}
