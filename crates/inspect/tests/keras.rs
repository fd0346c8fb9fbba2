//! Keras parameter counts come from the HDF5 weight datasets and equal
//! h5py's count (`n_parameters` in `tests/data/keras/*/*.expected.json`,
//! written by `scripts/testdata/make_keras.py`), optimizer state excluded.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use modelgate_formats::{LoadOptions, load};
use modelgate_inspect::{InspectOptions, inspect};

/// `"n_parameters": N` from an expectation file (`None` for `null`).
fn expected_parameters(text: &str) -> Option<u64> {
    let rest = text.split("\"n_parameters\": ").nth(1)?;
    rest.split([',', '\n']).next()?.trim().parse().ok()
}

#[test]
fn keras_parameters_match_h5py() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/keras");
    let mut checked = 0;
    for sub in ["ok", "malicious"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".expected.json") {
                continue;
            }
            let stem = name.rsplit_once('.').unwrap().0;
            let text =
                std::fs::read_to_string(root.join(sub).join(format!("{stem}.expected.json")))
                    .unwrap();
            let Some(expected) = expected_parameters(&text) else {
                continue;
            };
            let report = inspect(
                &load(&path, &LoadOptions::default()).unwrap(),
                &InspectOptions::default(),
            );
            let artifact = &report.artifacts[0];
            assert_eq!(artifact.parameters, Some(expected), "{sub}/{name}");
            assert!(artifact.n_tensors.unwrap() > 0, "{sub}/{name}");
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}
