//! Files written by the real `joblib.dump` around scikit-learn estimators
//! (`tests/data/joblib`, from `scripts/testdata/make_joblib.py`): joblib
//! 1.6.0 plain and with every compressor it offers (zlib, gzip, bz2, lzma,
//! xz, lz4) at several levels, joblib 0.11 files, and joblib 0.9.4 files
//! (`.npy` side files, `ZF` files and `.npy.z` side files). Each must be
//! recognised by its bytes alone and decompress to exactly the bytes joblib's
//! own reader gets (SHA-256 recorded by the generator); truncated, corrupted
//! and hostile copies must fail the way the expected JSON says, never panic.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_archive::stream::{self, Compression};
use modelgate_archive::{Error, Limits};
use modelgate_testdata::variant;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

fn read(relative: &str) -> Vec<u8> {
    modelgate_testdata::read("joblib", relative)
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 1 MiB per member, no ratio limit: what the generator's `tight_error` means.
fn tight() -> Limits {
    Limits {
        max_member_bytes: 1 << 20,
        max_ratio: u64::MAX,
        ..Limits::default()
    }
}

fn layers(expected: &Json) -> Vec<&str> {
    expected["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

/// Peel every compression layer the expected JSON names, checking each is
/// detected from the bytes; returns the innermost bytes.
fn peel(relative: &str, bytes: &[u8], names: &[&str], limits: &Limits) -> Result<Vec<u8>, Error> {
    let mut current = bytes.to_vec();
    for name in names {
        let kind = stream::detect(&current).unwrap_or_else(|| panic!("{relative}: not detected"));
        assert_eq!(kind.name(), *name, "{relative}");
        current = stream::decompress(&current, kind, limits)?;
    }
    Ok(current)
}

fn check(relative: &str, expected: &Json) {
    let bytes = read(relative);
    let names = layers(expected);
    let result = peel(relative, &bytes, &names, &Limits::default());
    if let Some(error) = expected["error"].as_str() {
        let found = result.expect_err(relative);
        assert_eq!(variant(&found), error, "{relative}: {found}");
        assert!(!found.to_string().is_empty());
        if let Some(tight_error) = expected["tight_error"].as_str() {
            let found = peel(relative, &bytes, &names, &tight()).expect_err(relative);
            assert_eq!(variant(&found), tight_error, "{relative}");
            assert!(
                matches!(found, Error::LimitExceeded { limit, .. } if limit == 1 << 20),
                "{relative}: {found}"
            );
        }
        return;
    }
    let inner = result.unwrap_or_else(|e| panic!("{relative}: {e}"));
    assert_eq!(
        stream::detect(&inner),
        None,
        "{relative}: more layers than {names:?}"
    );
    assert_eq!(
        sha256(&inner),
        expected["inner_sha256"].as_str().unwrap(),
        "{relative}"
    );
    if let Some(size) = expected["inner_size"].as_u64() {
        assert_eq!(u64::try_from(inner.len()).unwrap(), size, "{relative}");
    }
    match expected["inner"].as_str() {
        Some("pickle") => assert!(
            matches!(inner.as_slice(), [0x80, 2..=5, ..]),
            "{relative}: not a protocol 2+ pickle"
        ),
        Some("npy") => assert!(inner.starts_with(b"\x93NUMPY"), "{relative}"),
        Some("raw") | None => {}
        Some(other) => panic!("{relative}: inner {other}"),
    }
    // Where joblib's reader found each array's bytes: right after the
    // wrapper's BUILD opcode, behind a pad-length byte and 0xff padding.
    for array in expected["arrays"].as_array().into_iter().flatten() {
        let offset = usize::try_from(array["offset"].as_u64().unwrap()).unwrap();
        let data_offset = usize::try_from(array["data_offset"].as_u64().unwrap()).unwrap();
        let end = usize::try_from(array["end"].as_u64().unwrap()).unwrap();
        assert_eq!(
            inner[offset - 1],
            b'b',
            "{relative}: no BUILD before {offset}"
        );
        assert!(offset <= data_offset && data_offset <= end && end <= inner.len());
        if let Some(pad) = array["pad"].as_u64() {
            assert_eq!(u64::from(inner[offset]), pad, "{relative} {offset}");
            assert!(inner[offset + 1..data_offset].iter().all(|b| *b == 0xff));
        }
        if array["object"].as_bool().unwrap() {
            // A nested pickle, ending with STOP.
            assert_eq!(inner[offset], 0x80, "{relative} {offset}");
            assert_eq!(inner[end - 1], b'.', "{relative} {offset}");
        }
    }
}

#[test]
fn every_file_matches_its_expected_json() {
    let cases = modelgate_testdata::cases("joblib");
    for case in &cases {
        check(&case.relative, &case.expected);
    }
    assert_eq!(cases.len(), 52);
}

#[test]
fn every_compressor_joblib_offers_is_in_the_corpus() {
    let cases = modelgate_testdata::cases("joblib");
    let mut kinds: Vec<&str> = cases
        .iter()
        .filter(|case| case.relative.starts_with("ok/"))
        .flat_map(|case| layers(&case.expected))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        ["bzip2", "gzip", "joblib-zf", "lz4", "lzma", "xz", "zlib"]
    );
}

/// Cut every compressed file at many lengths: each prefix is an error or,
/// never the whole content. A cut never panics.
#[test]
fn cut_files_never_pass_for_whole_ones() {
    for case in modelgate_testdata::cases("joblib") {
        let names = layers(&case.expected);
        if !case.relative.starts_with("ok/") || names.is_empty() {
            continue;
        }
        let bytes = read(&case.relative);
        let whole = peel(&case.relative, &bytes, &names, &Limits::default()).unwrap();
        let mut cuts: Vec<usize> = (0..40).map(|i| bytes.len() * i / 40).collect();
        cuts.extend(bytes.len().saturating_sub(16)..bytes.len());
        for len in cuts {
            let prefix = &bytes[..len];
            let Some(kind) = stream::detect(prefix) else {
                continue;
            };
            match stream::decompress(prefix, kind, &Limits::default()) {
                Ok(data) => assert_ne!(data, whole, "{} cut at {len}", case.relative),
                Err(error) => assert!(
                    matches!(error, Error::BadData { .. } | Error::Corrupt { .. }),
                    "{} cut at {len}: {error}",
                    case.relative
                ),
            }
        }
    }
}

/// Flip bytes all over every compressed file: errors or some output, never a
/// panic, never past the limits.
#[test]
fn corrupted_files_fail_without_panicking() {
    let limits = Limits {
        max_member_bytes: 4 << 20,
        ..Limits::default()
    };
    for case in modelgate_testdata::cases("joblib") {
        let names = layers(&case.expected);
        if !case.relative.starts_with("ok/") || names.is_empty() {
            continue;
        }
        let bytes = read(&case.relative);
        for i in 0..32 {
            let at = bytes.len() * i / 32;
            let mut corrupt = bytes.clone();
            corrupt[at] ^= 0xa5;
            if let Some(kind) = stream::detect(&corrupt)
                && let Ok(data) = stream::decompress(&corrupt, kind, &limits)
            {
                assert!(data.len() <= 4 << 20);
            }
        }
    }
}

#[test]
fn zf_declared_length_is_refused_before_inflating() {
    let bytes = read("malicious/zf_declares_16g.joblib");
    let error = stream::decompress(&bytes, Compression::JoblibZf, &Limits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "joblib-zf stream: header declares 17179869184 bytes (limit 4294967296); raise the limit only for trusted files"
    );
    // Within a limit that allows it, the one real byte is not 16 GiB.
    let generous = Limits {
        max_member_bytes: 32 << 30,
        ..Limits::default()
    };
    assert!(matches!(
        stream::decompress(&bytes, Compression::JoblibZf, &generous),
        Err(Error::BadData { .. })
    ));
}

#[test]
fn side_files_of_joblib_094_are_zf_of_raw_bytes() {
    let main = read("ok/lr_joblib094_zf_side.pkl");
    let expected: Json =
        serde_json::from_slice(&read("ok/lr_joblib094_zf_side.expected.json")).unwrap();
    let side_files = expected["side_files"].as_array().unwrap();
    assert_eq!(side_files.len(), 4);
    for name in side_files {
        let name = name.as_str().unwrap();
        // The main pickle names each side file it reads.
        let stem = name.rsplit_once('/').map_or(name, |(_, n)| n);
        assert!(
            stream::decompress(&main, Compression::JoblibZf, &Limits::default())
                .unwrap()
                .windows(stem.len())
                .any(|w| w == stem.as_bytes()),
            "{name}"
        );
        let side = read(&format!("ok/{name}"));
        assert_eq!(stream::detect(&side), Some(Compression::JoblibZf), "{name}");
    }
}
