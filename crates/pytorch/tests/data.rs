//! Checkpoints in torch.save's layouts (`tests/data/pytorch`, from
//! `scripts/testdata/make_pytorch.py`, which reproduces
//! `torch/serialization.py` without torch).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use modelgate_archive::Limits;
use modelgate_pytorch::{Checkpoint, CheckpointKind, Error, parse};
use serde_json::Value as Json;

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/pytorch")
            .join(relative),
    )
    .unwrap()
}

type Tensor = (String, String, Vec<u64>, String, u64);

fn expected(name: &str) -> Vec<Tensor> {
    let json: Json = serde_json::from_slice(&read(name)).unwrap();
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

fn tensors(checkpoint: &Checkpoint) -> Vec<Tensor> {
    checkpoint
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
        .collect()
}

/// Parse one sample; check its layout, tensors and pickle members.
fn check(name: &str, kind: CheckpointKind, expected_json: &str, members: &[&str]) -> Checkpoint {
    let checkpoint =
        parse(&read(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(checkpoint.kind, kind, "{name}");
    let mut want = expected(expected_json);
    let mut got = tensors(&checkpoint);
    if kind == CheckpointKind::Legacy {
        // Legacy storage keys are str(storage._cdata).
        for tensor in want.iter_mut() {
            let key: u64 = tensor.3.parse().unwrap();
            tensor.3 = (94_000_000_000_000 + 4096 * key).to_string();
        }
    }
    if kind == CheckpointKind::Tar {
        // Tar storage keys are the storages' _cdata.
        for tensor in want.iter_mut() {
            let key: u64 = tensor.3.parse().unwrap();
            tensor.3 = (150_000_000 + 64 * key).to_string();
        }
        got.sort();
        want.sort();
    }
    assert_eq!(got, want, "{name}");
    let names: Vec<&str> = checkpoint.pickles.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, members, "{name}");
    checkpoint
}

#[test]
fn every_layout_yields_the_tensors() {
    let zip = |prefix: &str| CheckpointKind::Zip {
        prefix: prefix.into(),
    };
    let state_dict = "ok/tensors.expected.json";
    let archive = check(
        "ok/archive.pt",
        zip("archive"),
        state_dict,
        &["archive/data.pkl"],
    );
    assert_eq!(archive.byteorder.as_deref(), Some("little"));
    assert_eq!(archive.tensors[0].n_elements(), 12);
    assert_eq!(archive.tensors[0].element_size(), Some(4));
    check(
        "ok/renamed_folder.bin",
        zip("my_model-v2"),
        state_dict,
        &["my_model-v2/data.pkl"],
    );
    check(
        "ok/nested.pt",
        zip("nested"),
        "ok/nested.expected.json",
        &["nested/data.pkl"],
    );
    check(
        "ok/model.pt",
        zip("model"),
        "ok/model.expected.json",
        &["model/data.pkl"],
    );
    let script = check(
        "ok/torchscript.pt",
        CheckpointKind::TorchScript {
            prefix: "net".into(),
        },
        "ok/model.expected.json",
        &["net/data.pkl", "net/constants.pkl"],
    );
    assert_eq!(script.byteorder.as_deref(), Some("little"));
    let stream = ["stream@0", "stream@15", "stream@21", "stream@137"];
    let legacy = check(
        "ok/legacy.pt",
        CheckpointKind::Legacy,
        state_dict,
        &[stream[0], stream[1], stream[2], stream[3], "stream@689"],
    );
    assert_eq!(legacy.byteorder, None);
    // Legacy 6-tuple storage ids keyed by str(storage._cdata).
    assert_eq!(
        legacy.tensors[0].storage_key,
        (94_000_000_000_000u64).to_string()
    );
    check(
        "ok/model_legacy.pt",
        CheckpointKind::Legacy,
        "ok/model.expected.json",
        &[stream[0], stream[1], stream[2], stream[3], "stream@823"],
    );
    let tar = check(
        "ok/legacy.tar",
        CheckpointKind::Tar,
        state_dict,
        &["sys_info", "pickle", "tensors", "storages"],
    );
    // Every pickle torch.load would unpickle: count + one per tensor;
    // count + one per storage + the views.
    assert_eq!(tar.pickles[2].pickles.len(), 1 + 4);
    assert_eq!(tar.pickles[3].pickles.len(), 1 + 3 + 1);
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
    // A legacy stream cut after its magic number.
    let legacy = read("ok/legacy.pt");
    assert_eq!(
        parse(&legacy[..15], &Limits::default()),
        Err(Error::NotACheckpoint {
            reason: "legacy checkpoint ends at offset 15, before its protocol version pickle"
                .into()
        })
    );
    // A tar storage whose size runs past the member.
    let tar = read("ok/legacy.tar");
    let storages = tar
        .windows(16)
        .position(|w| w == [12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    let mut broken = tar.clone();
    broken[storages] = 0xff;
    assert!(
        matches!(
            parse(&broken, &Limits::default()),
            Err(Error::BadRecord { ref member, ref message, .. })
                if member == "storages" && message.starts_with("storage data needs 1020 bytes")
        ),
        "{:?}",
        parse(&broken, &Limits::default())
    );
}

#[test]
fn malicious_checkpoints_are_bounded_and_complete() {
    // 2^60 paths through shared lists: each barren list is walked once
    // (bench/pytorch_bombs.py measures how long that takes).
    let bomb = parse(&read("malicious/shared_bomb.pt"), &Limits::default()).unwrap();
    assert!(bomb.tensors.is_empty());
    // Found by the fuzzer: lists appended into themselves (cycles) under
    // the shared-list bomb. It ends, with a value or an error.
    let _ = parse(&read("malicious/fuzz_cyclic_lists.pt"), &Limits::default());
    // A payload in the storages member (unpickled by torch.load before the
    // main pickle) is among the pickles handed to scanners.
    let tar = parse(
        &read("malicious/tar_storages_payload.tar"),
        &Limits::default(),
    )
    .unwrap();
    let storages = &tar.pickles[3];
    assert_eq!(storages.name, "storages");
    let last = storages.pickles.last().unwrap();
    let evaluation = modelgate_pickle::evaluate(last);
    assert_eq!(evaluation.imports[0].module, "os");
    assert_eq!(evaluation.imports[0].name, "system");
}

/// Where the last member's data ends in a tar: its headers' sizes (octal,
/// bytes 124..136 of each 512-byte header) walked up to the first zero
/// block. What follows is padding and the end-of-archive blocks.
fn tar_members_end(tar: &[u8]) -> usize {
    let mut header_at = 0;
    let mut end = 0;
    while let Some(header) = tar.get(header_at..header_at + 512) {
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let size = std::str::from_utf8(&header[124..136])
            .unwrap()
            .trim_matches(|c: char| c == '\0' || c == ' ');
        let size = usize::from_str_radix(size, 8).unwrap();
        end = header_at + 512 + size;
        header_at += 512 + size.div_ceil(512) * 512;
    }
    end
}

/// Every input cut short of the bytes its reader needs is an error; from
/// there on it gives the whole state dict. What a reader needs: a zip, its
/// central directory at the very end (every shorter prefix); a legacy
/// stream, its five pickles (the storages' raw bytes after them are not
/// read); a tar, every member (not the end-of-archive padding).
#[test]
fn truncations_are_errors() {
    for name in [
        "ok/archive.pt",
        "ok/legacy.pt",
        "ok/legacy.tar",
        "ok/model_legacy.pt",
    ] {
        let bytes = read(name);
        let complete = parse(&bytes, &Limits::default()).unwrap();
        let needed = match complete.kind {
            CheckpointKind::Zip { .. } | CheckpointKind::TorchScript { .. } => bytes.len(),
            CheckpointKind::Legacy => {
                assert_eq!(complete.pickles.len(), 5, "{name}");
                usize::try_from(complete.pickles[4].pickles[0].end).unwrap()
            }
            CheckpointKind::Tar => tar_members_end(&bytes),
        };
        assert!(
            needed > bytes.len() / 4 && needed <= bytes.len(),
            "{name}: needs {needed} of {} bytes",
            bytes.len()
        );
        for len in 0..needed {
            assert!(
                parse(&bytes[..len], &Limits::default()).is_err(),
                "{name} cut to {len} of {needed} bytes parsed"
            );
        }
        for len in needed..bytes.len() {
            let prefix = parse(&bytes[..len], &Limits::default())
                .unwrap_or_else(|e| panic!("{name} cut to {len} (needs {needed}): {e}"));
            assert_eq!(tensors(&prefix), tensors(&complete), "{name} cut to {len}");
        }
    }
}
