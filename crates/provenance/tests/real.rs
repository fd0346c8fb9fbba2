//! Provenance of the two real models (`scripts/fixtures.sh`), as downloaded
//! and as laid out in a Hugging Face cache.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_testdata::fixtures;
use std::path::Path;

use modelgate_formats::{LoadOptions, load};
use modelgate_provenance::{Fact, Hints, provenance};

fn values(facts: &[Fact]) -> Vec<&str> {
    facts.iter().map(|f| f.value.as_str()).collect()
}

#[test]
fn smollm2_gguf_names_its_organization_and_writer() {
    let loaded = load(
        &fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        &LoadOptions::default(),
    )
    .unwrap();
    let found = provenance(&loaded, &Hints::default());
    let publisher = found.publisher.unwrap();
    assert_eq!(publisher.value, "HuggingFaceTB");
    assert_eq!(
        publisher.origin,
        "SmolLM2-135M-Instruct.Q4_1.gguf: general.organization"
    );
    assert_eq!(found.name.unwrap().value, "Smollm2 135M 8k Lc100K Mix1 Ep2");
    assert_eq!(
        values(&found.toolchain),
        ["GGUF quantization_version 2 (v3)"]
    );
    assert!(found.conflicts.is_empty());
}

#[test]
fn minilm_snapshot_in_a_hub_cache_layout() {
    let cache = tempfile::tempdir().unwrap();
    let snapshot = cache.path().join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots/c9745ed1d9f207416be6d2e6f8de32d1f16199bf");
    std::fs::create_dir_all(&snapshot).unwrap();
    for name in ["README.md", "config.json", "model.safetensors"] {
        std::os::unix::fs::symlink(fixtures().join("minilm").join(name), snapshot.join(name))
            .unwrap();
    }
    let loaded = load(&snapshot, &LoadOptions::default()).unwrap();
    let hints = Hints {
        toolchain: vec![Fact {
            value: "sentence-transformers 2.0.0".into(),
            origin: "config_sentence_transformers.json".into(),
        }],
        ..Hints::default()
    };
    let found = provenance(&loaded, &hints);
    assert_eq!(
        found.source.as_ref().unwrap().value,
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert_eq!(
        found.publisher.as_ref().unwrap().value,
        "sentence-transformers"
    );
    assert_eq!(
        found.revision.as_ref().unwrap().value,
        "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
    );
    assert_eq!(
        found.revision.unwrap().origin,
        "path: Hugging Face cache layout"
    );
    assert_eq!(found.base_models.len(), 1);
    assert_eq!(found.base_models[0].name, "nreimers/MiniLM-L6-H384-uncased");
    assert_eq!(found.base_models[0].origin, "config.json: _name_or_path");
    assert_eq!(
        values(&found.toolchain),
        [
            "sentence-transformers",
            "transformers 4.8.2",
            "sentence-transformers 2.0.0",
            "safetensors format=pt"
        ]
    );
    assert_eq!(found.name.unwrap().value, "all-MiniLM-L6-v2");
}

#[test]
fn flags_win_and_disagreeing_sources_are_conflicts() {
    let loaded = load(
        Path::new(&fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")),
        &LoadOptions::default(),
    )
    .unwrap();
    let hints = Hints {
        publisher: Some("Mirror Inc".into()),
        revision: Some("v1".into()),
        ..Hints::default()
    };
    let found = provenance(&loaded, &hints);
    assert_eq!(found.publisher.unwrap().origin, "flag: --publisher");
    assert_eq!(found.revision.unwrap().value, "v1");
    assert_eq!(
        found.conflicts,
        [
            "publisher: flag: --publisher says \"Mirror Inc\" but SmolLM2-135M-Instruct.Q4_1.gguf: general.organization says \"HuggingFaceTB\""
        ]
    );
}
