//! Files written by numpy, each checked against the `<stem>.expected.json`
//! beside it: numpy's own reading of the header, or the error variant the
//! generator planted (`tests/data/numpy`, from `scripts/testdata/make_numpy.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_archive::Limits;
use modelgate_numpy::{Error, Npy, Npz};
use modelgate_testdata::variant;
use serde_json::Value as Json;

fn read(relative: &str) -> Vec<u8> {
    modelgate_testdata::read("numpy", relative)
}

/// Compare a parsed header with numpy's reading of it.
fn check_npy(what: &str, bytes: &[u8], npy: &Npy, theirs: &Json) {
    let shape: Vec<u64> = theirs["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    assert_eq!(npy.shape, shape, "{what}");
    assert_eq!(
        npy.descr.to_string(),
        theirs["descr"].as_str().unwrap(),
        "{what}"
    );
    assert_eq!(
        npy.fortran_order,
        theirs["fortran_order"].as_bool().unwrap(),
        "{what}"
    );
    assert_eq!(npy.item_size, theirs["itemsize"].as_u64(), "{what}");
    assert_eq!(npy.is_object, theirs["object"].as_bool().unwrap(), "{what}");
    assert_eq!(
        npy.data_offset,
        theirs["data_offset"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        npy.n_elements,
        theirs["n_elements"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        [u64::from(npy.version.0), u64::from(npy.version.1)],
        [
            theirs["version"][0].as_u64().unwrap(),
            theirs["version"][1].as_u64().unwrap()
        ],
        "{what}"
    );
    let header_start = if npy.version.0 == 1 { 10 } else { 12 };
    assert_eq!(npy.data_offset, header_start + npy.header_len, "{what}");
    if npy.is_object {
        // The payload is a pickle: it starts with PROTO.
        assert_eq!(npy.payload_offset, npy.data_offset);
        assert_eq!(
            bytes[usize::try_from(npy.payload_offset).unwrap()],
            0x80,
            "{what}"
        );
    } else {
        let data_len = npy.item_size.unwrap() * npy.n_elements;
        assert_eq!(
            npy.data_offset + data_len,
            u64::try_from(bytes.len()).unwrap(),
            "{what}"
        );
    }
}

fn check(relative: &str, expected: &Json) {
    let bytes = read(relative);
    if relative.ends_with(".npz") {
        match Npz::parse(&bytes, &Limits::default()) {
            Ok(npz) => {
                let arrays = expected["arrays"].as_array().unwrap();
                assert_eq!(npz.arrays.len(), arrays.len(), "{relative}");
                let zip = modelgate_archive::zip::ZipArchive::parse(&bytes).unwrap();
                for (((name, parsed), theirs), member) in
                    npz.arrays.iter().zip(arrays).zip(zip.members())
                {
                    assert_eq!(name, theirs["name"].as_str().unwrap(), "{relative}");
                    let data = zip.read(&bytes, member, &Limits::default()).unwrap();
                    check_npy(
                        &format!("{relative} {name}"),
                        &data,
                        parsed.as_ref().unwrap(),
                        theirs,
                    );
                }
            }
            Err(error) => assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            ),
        }
        return;
    }
    match Npy::parse(&bytes) {
        Ok(npy) => {
            assert!(expected["error"].is_null(), "{relative} parsed: {npy:?}");
            check_npy(relative, &bytes, &npy, expected);
        }
        Err(error) => {
            assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            );
            assert!(!error.to_string().ends_with('.'));
        }
    }
}

#[test]
fn every_input_matches_its_expected_json() {
    let cases = modelgate_testdata::cases("numpy");
    for case in &cases {
        check(&case.relative, &case.expected);
    }
    assert_eq!(cases.len(), 51);
}

#[test]
fn errors_say_where() {
    let err = |name: &str| Npy::parse(&read(&format!("err/{name}"))).unwrap_err();
    assert_eq!(err("bad_magic.npy"), Error::BadMagic);
    assert_eq!(
        err("truncated_data.npy"),
        Error::Truncated {
            what: "array data",
            needed: 128 + 48,
            size: 128 + 44
        }
    );
    assert_eq!(
        err("version9.npy"),
        Error::UnsupportedVersion { major: 9, minor: 0 }
    );
    assert!(
        matches!(err("bad_header.npy"), Error::BadHeader { ref message, .. } if message.contains("descr"))
    );
    assert!(
        matches!(err("negative_shape.npy"), Error::BadHeader { ref message, .. } if message.contains("negative"))
    );
    assert!(
        matches!(err("call_in_header.npy"), Error::BadHeader { offset, .. } if offset == 10 + 10)
    );
    assert_eq!(
        err("huge_header_len.npy").to_string(),
        "header at offset 8: header length 4294967280 exceeds the 1048576-byte limit"
    );
}

#[test]
fn every_prefix_is_an_error() {
    for name in [
        "ok/structured_nested.npy",
        "ok/version3.npy",
        "ok/f64_scalar.npy",
    ] {
        let good = read(name);
        for len in 0..good.len() {
            assert!(Npy::parse(&good[..len]).is_err(), "{name} prefix {len}");
        }
    }
    // Object arrays end in a pickle the header does not size: a cut inside
    // the pickle still parses, and scanners read the pickle themselves.
    let object = read("malicious/object.npy");
    let npy = Npy::parse(&object).unwrap();
    for len in 0..usize::try_from(npy.data_offset).unwrap() {
        assert!(Npy::parse(&object[..len]).is_err(), "object prefix {len}");
    }
    for name in ["ok/stored.npz", "ok/compressed.npz"] {
        let good = read(name);
        for len in 0..good.len() {
            assert!(
                Npz::parse(&good[..len], &Limits::default()).is_err(),
                "{name} prefix {len}"
            );
        }
    }
}

#[test]
fn npz_members_respect_the_limits() {
    let bytes = read("ok/compressed.npz");
    let tight = Limits {
        max_member_bytes: 100,
        ..Limits::default()
    };
    let npz = Npz::parse(&bytes, &tight).unwrap();
    assert!(npz.arrays.iter().all(|(_, a)| matches!(
        a,
        Err(Error::Archive(
            modelgate_archive::Error::LimitExceeded { .. }
        ))
    )));
    let few = Limits {
        max_members: 1,
        ..Limits::default()
    };
    assert!(matches!(
        Npz::parse(&bytes, &few),
        Err(Error::Archive(modelgate_archive::Error::TooManyMembers {
            count: 2,
            max: 1
        }))
    ));
}
