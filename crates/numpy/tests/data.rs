//! Headers written by numpy, compared with numpy's own reading
//! (`tests/data/numpy`, from `scripts/testdata/make_numpy.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use modelgate_archive::Limits;
use modelgate_numpy::{Error, Npy, Npz};
use serde_json::Value as Json;

fn path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/numpy")
        .join(relative)
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(path(relative)).unwrap()
}

#[test]
fn headers_match_numpy() {
    let expected: Json = serde_json::from_slice(&read("ok/headers.expected.json")).unwrap();
    let expected = expected.as_object().unwrap();
    assert_eq!(expected.len(), 12);
    for (name, theirs) in expected {
        let npy =
            Npy::parse(&read(&format!("ok/{name}.npy"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape: Vec<u64> = theirs["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(npy.shape, shape, "{name}");
        assert_eq!(
            npy.descr.to_string(),
            theirs["descr"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            npy.fortran_order,
            theirs["fortran_order"].as_bool().unwrap(),
            "{name}"
        );
        assert_eq!(npy.item_size, theirs["itemsize"].as_u64(), "{name}");
        assert_eq!(
            npy.data_offset,
            theirs["data_offset"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(npy.version.0),
            theirs["version"][0].as_u64().unwrap(),
            "{name}"
        );
        assert!(!npy.is_object);
    }
}

#[test]
fn archives_and_object_arrays() {
    for name in ["ok/stored.npz", "ok/compressed.npz"] {
        let npz = Npz::parse(&read(name), &Limits::default()).unwrap();
        assert!(npz.arrays.iter().all(|(_, a)| a.is_ok()), "{name}");
    }
    let npz = Npz::parse(&read("ok/compressed.npz"), &Limits::default()).unwrap();
    assert_eq!(npz.arrays[0].0, "weights");
    assert_eq!(npz.arrays[0].1.as_ref().unwrap().n_elements, 256);
    let object = Npy::parse(&read("malicious/object.npy")).unwrap();
    assert!(object.is_object);
    assert_eq!(object.item_size, None);
    // The payload is a pickle: it starts with PROTO.
    assert_eq!(
        read("malicious/object.npy")[usize::try_from(object.payload_offset).unwrap()],
        0x80
    );
    let npz = Npz::parse(&read("malicious/object.npz"), &Limits::default()).unwrap();
    assert!(
        npz.arrays
            .iter()
            .any(|(name, a)| name == "objects" && a.as_ref().unwrap().is_object)
    );
}

#[test]
fn malformed_headers_are_errors() {
    let err = |name: &str| Npy::parse(&read(&format!("err/{name}"))).unwrap_err();
    assert_eq!(err("bad_magic.npy"), Error::BadMagic);
    assert!(matches!(
        err("truncated_data.npy"),
        Error::Truncated {
            what: "array data",
            ..
        }
    ));
    assert!(
        matches!(err("bad_header.npy"), Error::BadHeader { ref message, .. } if message.contains("descr"))
    );
    assert!(
        matches!(err("negative_shape.npy"), Error::BadHeader { ref message, .. } if message.contains("negative"))
    );
    assert!(matches!(
        err("version9.npy"),
        Error::UnsupportedVersion { major: 9, .. }
    ));
    let good = read("ok/structured.npy");
    for len in 0..good.len() {
        assert!(Npy::parse(&good[..len]).is_err(), "prefix {len}");
    }
}
