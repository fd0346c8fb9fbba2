//! HDF5 files written by h5py (`tests/data/hdf5`, from
//! `scripts/testdata/make_hdf5.py`), each checked against h5py's own view
//! in the `<stem>.expected.json` beside it; then cut and corrupted copies,
//! which must return errors, not panic; then the limits.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use modelgate_hdf5::{AttributeValue, ChunkIndex, Error, File, Layout, Limits, LinkTarget};
use modelgate_testdata::variant;
use serde_json::{Value as Json, json};

fn read(relative: &str) -> Vec<u8> {
    modelgate_testdata::read("hdf5", relative)
}

fn parse(relative: &str) -> Result<File, Error> {
    File::parse(&read(relative), &Limits::default())
}

/// Our value in the generator's JSON form.
fn value_json(value: &AttributeValue) -> Json {
    let numbers: Option<Vec<f64>> = match value {
        AttributeValue::Ints(v) => Some(v.iter().map(|x| *x as f64).collect()),
        AttributeValue::UInts(v) => Some(v.iter().map(|x| *x as f64).collect()),
        AttributeValue::Floats(v) => Some(v.clone()),
        _ => None,
    };
    match (value, numbers) {
        (_, Some(n)) if n.len() > 64 => json!({"len": n.len(), "sum": n.iter().sum::<f64>()}),
        (AttributeValue::Ints(v), _) => json!(v),
        (AttributeValue::UInts(v), _) => json!(v),
        (AttributeValue::Floats(v), _) => json!(v),
        (AttributeValue::Strings(v), _) => json!(
            v.iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
        ),
        _ => Json::Null,
    }
}

fn check(relative: &str, expected: &Json) {
    let file = match parse(relative) {
        Ok(file) => file,
        Err(error) => {
            assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            );
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    assert!(expected["error"].is_null(), "{relative} parsed");
    assert_eq!(
        u64::from(file.superblock.version),
        expected["superblock"].as_u64().unwrap(),
        "{relative}"
    );
    let mut groups: Vec<&str> = file.groups.iter().map(|g| g.path.as_str()).collect();
    groups.sort_unstable();
    let theirs: Vec<&str> = expected["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(groups, theirs, "{relative}: groups");

    let mut datasets = BTreeMap::new();
    for dataset in &file.datasets {
        let (chunks, n_chunks, stored) = match &dataset.layout {
            Layout::Chunked {
                chunk_dims,
                index,
                chunks,
                ..
            } => {
                if matches!(
                    index,
                    ChunkIndex::BTreeV1 | ChunkIndex::SingleChunk | ChunkIndex::FixedArray
                ) {
                    assert!(
                        chunks.is_some(),
                        "{relative}: {} chunks not counted",
                        dataset.path
                    );
                }
                (json!(chunk_dims), chunks.map(|c| c.0), chunks.map(|c| c.1))
            }
            _ => (Json::Null, None, None),
        };
        let entry = &expected["datasets"][&dataset.path];
        assert!(
            entry.is_object(),
            "{relative}: {} not in h5py's view",
            dataset.path
        );
        if let Some(n) = n_chunks {
            assert_eq!(
                Some(n),
                entry["n_chunks"].as_u64(),
                "{relative}: {} chunks",
                dataset.path
            );
            assert_eq!(
                stored,
                entry["stored_bytes"].as_u64(),
                "{relative}: {} bytes",
                dataset.path
            );
        }
        datasets.insert(
            dataset.path.clone(),
            json!({
                "shape": dataset.shape(),
                "dtype": dataset.datatype.numpy_str(),
                "layout": dataset.layout.name(),
                "chunks": chunks,
                "filters": dataset.filters.iter().map(|f| f.id).collect::<Vec<_>>(),
            }),
        );
    }
    let theirs: BTreeMap<String, Json> = expected["datasets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, d)| {
            let mut d = d.clone();
            let map = d.as_object_mut().unwrap();
            map.remove("n_chunks");
            map.remove("stored_bytes");
            (path.clone(), d)
        })
        .collect();
    assert_eq!(datasets, theirs, "{relative}: datasets");

    let mut attributes = BTreeMap::new();
    for (path, attribute) in file.attributes() {
        let key = format!("{path}@{}", attribute.name);
        let theirs = &expected["attributes"][&key];
        let mut value = value_json(&attribute.value);
        if theirs["value"].is_null() {
            value = Json::Null;
        }
        attributes.insert(
            key,
            json!({
                "dtype": attribute.datatype.numpy_str(),
                "shape": attribute.dataspace.dims,
                "value": value,
            }),
        );
    }
    let theirs: BTreeMap<String, Json> = expected["attributes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(attributes, theirs, "{relative}: attributes");

    let links: BTreeMap<String, Json> = file
        .links
        .iter()
        .map(|link| {
            let target = match &link.target {
                LinkTarget::Soft(path) => json!(["soft", path]),
                LinkTarget::External { file, object } => json!(["external", file, object]),
                other => json!([format!("{other:?}")]),
            };
            (link.path.clone(), target)
        })
        .collect();
    let theirs: BTreeMap<String, Json> = expected["links"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(links, theirs, "{relative}: links");
}

#[test]
fn every_input_matches_h5py() {
    let cases = modelgate_testdata::cases("hdf5");
    for case in &cases {
        check(&case.relative, &case.expected);
    }
    assert_eq!(cases.len(), 21);
}

#[test]
fn storage_styles_are_the_ones_h5py_chose() {
    use modelgate_hdf5::GroupStorage::{Compact, Dense, SymbolTable};
    let storage = |file: &str, group: &str| parse(file).unwrap().group(group).unwrap().storage;
    assert_eq!(storage("ok/earliest.h5", "types"), SymbolTable);
    assert_eq!(storage("ok/latest.h5", "model"), Compact);
    assert_eq!(storage("ok/latest.h5", "types"), Dense);
    assert_eq!(storage("ok/dense.h5", "many"), Dense);
    assert_eq!(storage("ok/track_order.h5", "ordered"), Dense);
    let userblock = parse("ok/userblock.h5").unwrap();
    assert_eq!(userblock.superblock.offset, 1024);
    // Addresses are absolute: the data lies after the user block.
    match userblock.dataset("x").unwrap().layout {
        Layout::Contiguous { address, size } => {
            assert!(address.unwrap() > 1024);
            assert_eq!(size, 16);
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn cycles_end_and_every_object_is_listed_once() {
    // links.h5 holds data/loop, a hard link back to the root.
    let file = parse("ok/links.h5").unwrap();
    assert_eq!(file.groups.len(), 2);
    assert_eq!(file.datasets.len(), 1);
}

#[test]
fn named_datatypes_are_resolved() {
    let file = parse("ok/named_type.h5").unwrap();
    assert_eq!(file.named_datatypes.len(), 1);
    assert_eq!(file.named_datatypes[0].0, "vector_t");
    let points = file.dataset("points").unwrap();
    assert_eq!(points.datatype, file.named_datatypes[0].1);
}

/// Overwrite the end-of-file address of a version-0 superblock, so a cut
/// copy reaches the structures beyond the cut instead of stopping at the
/// superblock's own check.
fn with_eof(bytes: &[u8], eof: usize) -> Vec<u8> {
    let mut cut = bytes[..eof].to_vec();
    assert_eq!(cut[8], 0);
    cut[40..48].copy_from_slice(&(eof as u64).to_le_bytes());
    cut
}

#[test]
fn every_prefix_fails_cleanly() {
    let limits = Limits::default();
    for name in [
        "ok/earliest.h5",
        "ok/chunked_earliest.h5",
        "ok/links.h5",
        "ok/track_order.h5",
    ] {
        let bytes = read(name);
        let mut failures = 0;
        for len in (0..bytes.len()).step_by(3) {
            assert!(
                File::parse(&bytes[..len], &limits).is_err(),
                "{name} prefix {len}"
            );
            if len >= 96 && File::parse(&with_eof(&bytes, len), &limits).is_err() {
                failures += 1;
            }
        }
        // Cuts inside the raw data still parse; cuts in metadata do not.
        assert!(failures > 0, "{name}");
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let limits = Limits {
        verify_checksums: false,
        ..Limits::default()
    };
    for case in modelgate_testdata::cases("hdf5") {
        let bytes = read(&case.relative);
        let stride = (bytes.len() / 250).max(1);
        for at in (0..bytes.len()).step_by(stride) {
            for flip in [0x01u8, 0xff] {
                let mut copy = bytes.clone();
                copy[at] ^= flip;
                if let Err(error) = File::parse(&copy, &limits) {
                    assert!(!error.to_string().is_empty());
                }
            }
        }
    }
}

#[test]
fn limits_stop_the_walk() {
    let bytes = read("ok/dense.h5");
    let limited = |limits: Limits| File::parse(&bytes, &limits).unwrap_err();
    let error = limited(Limits {
        max_objects: 10,
        ..Limits::default()
    });
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: "max_objects",
                max: 10,
                ..
            }
        ),
        "{error}"
    );
    let error = limited(Limits {
        max_bytes: 4096,
        ..Limits::default()
    });
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: "max_bytes",
                ..
            }
        ),
        "{error}"
    );
    let error = limited(Limits {
        max_attributes: 5,
        ..Limits::default()
    });
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: "max_attributes",
                ..
            }
        ),
        "{error}"
    );
    let error = limited(Limits {
        max_links: 5,
        ..Limits::default()
    });
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: "max_links",
                ..
            }
        ),
        "{error}"
    );
    let error = limited(Limits {
        max_depth: 0,
        ..Limits::default()
    });
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: "max_depth",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.offset().is_some());
    // An attribute above max_attribute_bytes is kept, not decoded.
    let file = File::parse(
        &bytes,
        &Limits {
            max_attribute_bytes: 1024,
            ..Limits::default()
        },
    )
    .unwrap();
    let huge = file
        .root()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.name == "huge")
        .unwrap();
    assert!(
        matches!(huge.value, AttributeValue::NotRead { .. }),
        "{:?}",
        huge.value
    );
}
