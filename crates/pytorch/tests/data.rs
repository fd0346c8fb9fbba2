//! Checkpoints in torch.save's three layouts (`tests/data/pytorch`, from
//! `scripts/testdata/make_pytorch.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use modelgate_archive::Limits;
use modelgate_pytorch::{CheckpointKind, Error, parse};
use serde_json::Value as Json;

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/pytorch")
            .join(relative),
    )
    .unwrap()
}

fn expected() -> Vec<(String, String, Vec<u64>, String, u64)> {
    let json: Json = serde_json::from_slice(&read("ok/tensors.expected.json")).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["dtype"].as_str().unwrap().to_string(),
                t["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap())
                    .collect(),
                t["storage_key"].as_str().unwrap().to_string(),
                t["storage_offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_layout_yields_the_state_dict() {
    for (name, kind) in [
        (
            "ok/archive.pt",
            CheckpointKind::Zip {
                prefix: "archive".into(),
            },
        ),
        (
            "ok/renamed_folder.bin",
            CheckpointKind::Zip {
                prefix: "my_model-v2".into(),
            },
        ),
        ("ok/legacy.pt", CheckpointKind::Legacy),
        ("ok/legacy.tar", CheckpointKind::Tar),
    ] {
        let checkpoint =
            parse(&read(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(checkpoint.kind, kind, "{name}");
        let tensors: Vec<_> = checkpoint
            .tensors
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.dtype.clone(),
                    t.shape.clone(),
                    t.storage_key.clone(),
                    t.storage_offset,
                )
            })
            .collect();
        assert_eq!(tensors, expected(), "{name}");
        assert!(!checkpoint.pickles.is_empty());
    }
    let zip = parse(&read("ok/archive.pt"), &Limits::default()).unwrap();
    assert_eq!(zip.byteorder.as_deref(), Some("little"));
    assert_eq!(zip.pickles.len(), 1);
    assert_eq!(zip.tensors[0].n_elements(), 12);
    assert_eq!(zip.tensors[0].element_size(), Some(4));
    let legacy = parse(&read("ok/legacy.pt"), &Limits::default()).unwrap();
    assert_eq!(legacy.pickles.len(), 5);
}

#[test]
fn non_checkpoints_are_errors() {
    assert!(matches!(
        parse(&read("err/no_data_pkl.zip"), &Limits::default()),
        Err(Error::NotACheckpoint { .. })
    ));
    assert!(matches!(
        parse(&read("err/bad_magic.pt"), &Limits::default()),
        Err(Error::NotACheckpoint { .. })
    ));
}

#[test]
fn truncations_never_panic() {
    for name in ["ok/archive.pt", "ok/legacy.pt", "ok/legacy.tar"] {
        let bytes = read(name);
        for len in 0..bytes.len() {
            let _ = parse(&bytes[..len], &Limits::default());
        }
    }
}
