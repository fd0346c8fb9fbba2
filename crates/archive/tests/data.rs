//! Containers written by Python's zipfile, tarfile, gzip, bz2, lzma and zlib
//! (`tests/data/archive`, from `scripts/testdata/make_archive.py`), each checked
//! against the `<stem>.expected.json` beside it: what Python's readers report,
//! plus the anomalies and errors the generator planted.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_archive::stream::{self, Compression};
use modelgate_archive::tar::{TarArchive, TarKind};
use modelgate_archive::zip::ZipArchive;
use modelgate_archive::{Error, Limits};
use modelgate_testdata::variant;
use serde_json::Value as Json;

fn read(relative: &str) -> Vec<u8> {
    modelgate_testdata::read("archive", relative)
}

fn tight() -> Limits {
    Limits {
        max_member_bytes: 1 << 20,
        max_ratio: u64::MAX,
        ..Limits::default()
    }
}

fn crc32(data: &[u8]) -> u64 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    u64::from(crc.sum())
}

/// Check one input against its expected JSON; returns the container kind.
fn check(relative: &str, expected: &Json) {
    let bytes = read(relative);
    match expected["container"].as_str().unwrap() {
        "zip" => check_zip(relative, &bytes, expected),
        "tar" => check_tar(relative, &bytes, expected),
        "stream" => check_stream(relative, &bytes, expected),
        other => panic!("{relative}: unknown container {other}"),
    }
}

fn check_zip(relative: &str, bytes: &[u8], expected: &Json) {
    let zip = match ZipArchive::parse(bytes) {
        Ok(zip) => zip,
        Err(error) => {
            assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            );
            return;
        }
    };
    assert!(expected["error"].is_null(), "{relative} parsed");
    if let Some(members) = expected["members"].as_array() {
        assert_eq!(zip.members().len(), members.len(), "{relative}");
        for (ours, theirs) in zip.members().iter().zip(members) {
            assert_eq!(ours.name, theirs["name"].as_str().unwrap(), "{relative}");
            let name = &ours.name;
            assert_eq!(
                u64::from(ours.method),
                theirs["method"].as_u64().unwrap(),
                "{relative} {name}"
            );
            assert_eq!(
                u64::from(ours.flags),
                theirs["flags"].as_u64().unwrap(),
                "{relative} {name}"
            );
            assert_eq!(
                u64::from(ours.crc32),
                theirs["crc32"].as_u64().unwrap(),
                "{relative} {name}"
            );
            assert_eq!(
                ours.compressed_size,
                theirs["compressed_size"].as_u64().unwrap(),
                "{relative} {name}"
            );
            assert_eq!(
                ours.uncompressed_size,
                theirs["uncompressed_size"].as_u64().unwrap(),
                "{relative} {name}"
            );
            assert_eq!(
                ours.local_header_offset,
                theirs["header_offset"].as_u64().unwrap(),
                "{relative} {name}"
            );
            assert_eq!(
                ours.data_offset,
                theirs["data_offset"].as_u64().unwrap(),
                "{relative} {name}"
            );
        }
    }
    let mut anomalies: Vec<String> = zip.anomalies().iter().map(|a| variant(&a.kind)).collect();
    anomalies.sort();
    let planted: Vec<&str> = expected["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(anomalies, planted, "{relative}: {:?}", zip.anomalies());
    for anomaly in zip.anomalies() {
        assert!(!anomaly.to_string().is_empty());
    }
    let reads = expected["reads"].as_array().unwrap();
    assert_eq!(reads.len(), zip.members().len(), "{relative}");
    for (member, read) in zip.members().iter().zip(reads) {
        match zip.read(bytes, member, &Limits::default()) {
            Ok(data) => {
                assert_eq!(
                    Some(u64::try_from(data.len()).unwrap()),
                    read["size"].as_u64(),
                    "{relative} {}",
                    member.name
                );
                assert_eq!(Some(crc32(&data)), read["crc32"].as_u64());
                // Stored members are borrowed, not copied.
                assert_eq!(
                    matches!(data, std::borrow::Cow::Borrowed(_)),
                    member.method == 0
                );
            }
            Err(error) => assert_eq!(
                Some(variant(&error).as_str()),
                read["error"].as_str(),
                "{relative} {}: {error}",
                member.name
            ),
        }
    }
}

fn check_tar(relative: &str, bytes: &[u8], expected: &Json) {
    let tar = match TarArchive::parse(bytes) {
        Ok(tar) => tar,
        Err(error) => {
            assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            );
            return;
        }
    };
    let members = expected["members"].as_array().unwrap();
    assert_eq!(tar.members().len(), members.len(), "{relative}");
    for (ours, theirs) in tar.members().iter().zip(members) {
        // tarfile drops the trailing slash of directory names.
        assert_eq!(
            ours.name.trim_end_matches('/'),
            theirs["name"].as_str().unwrap(),
            "{relative}"
        );
        let name = &ours.name;
        assert_eq!(
            ours.size,
            theirs["size"].as_u64().unwrap(),
            "{relative} {name}"
        );
        assert_eq!(
            ours.data_offset,
            theirs["data_offset"].as_u64().unwrap(),
            "{relative} {name}"
        );
        let (kind, target) = match &ours.kind {
            TarKind::File => ("file", None),
            TarKind::Directory => ("directory", None),
            TarKind::Symlink { target } => ("symlink", Some(target.as_str())),
            TarKind::Hardlink { target } => ("hardlink", Some(target.as_str())),
            TarKind::Other(_) => ("other", None),
        };
        assert_eq!(kind, theirs["kind"].as_str().unwrap(), "{relative} {name}");
        assert_eq!(target, theirs["target"].as_str(), "{relative} {name}");
        let data = tar.read(bytes, ours).unwrap();
        assert_eq!(u64::try_from(data.len()).unwrap(), ours.size);
    }
}

fn check_stream(relative: &str, bytes: &[u8], expected: &Json) {
    let kind = stream::detect(bytes).unwrap_or_else(|| panic!("{relative}: not detected"));
    assert_eq!(
        kind.name(),
        expected["kind"].as_str().unwrap(),
        "{relative}"
    );
    match stream::decompress(bytes, kind, &Limits::default()) {
        Ok(data) => {
            assert_eq!(
                Some(u64::try_from(data.len()).unwrap()),
                expected["size"].as_u64(),
                "{relative}"
            );
            assert_eq!(Some(crc32(&data)), expected["crc32"].as_u64(), "{relative}");
        }
        Err(error) => {
            assert_eq!(
                Some(variant(&error).as_str()),
                expected["error"].as_str(),
                "{relative}: {error}"
            );
            if let Error::LimitExceeded { limit, .. } = error {
                assert_eq!(limit, Limits::default().max_ratio, "{relative}");
            }
        }
    }
    if let Some(tight_error) = expected["tight_error"].as_str() {
        let error = stream::decompress(bytes, kind, &tight()).unwrap_err();
        assert_eq!(variant(&error), tight_error, "{relative}");
        assert!(
            matches!(error, Error::LimitExceeded { limit, .. } if limit == 1 << 20),
            "{relative}: {error}"
        );
    }
}

#[test]
fn every_input_matches_its_expected_json() {
    let cases = modelgate_testdata::cases("archive");
    for case in &cases {
        check(&case.relative, &case.expected);
    }
    assert_eq!(cases.len(), 46);
}

#[test]
fn anomalies_name_their_member_and_offset() {
    let bytes = read("malicious/mismatch_name.zip");
    let zip = ZipArchive::parse(&bytes).unwrap();
    let anomaly = &zip.anomalies()[0];
    assert_eq!(anomaly.member.as_deref(), Some("benign.pkl"));
    assert_eq!(anomaly.offset, 0);
    assert_eq!(
        anomaly.to_string(),
        "member 'benign.pkl': local header name evil00.pkl differs from the central directory's benign.pkl (offset 0)"
    );
    let prepended = read("malicious/prepended.zip");
    let zip = ZipArchive::parse(&prepended).unwrap();
    assert!(matches!(
        zip.anomalies()[0].kind,
        modelgate_archive::zip::AnomalyKind::PrependedData { bytes: 18 }
    ));
    let trailing = read("malicious/trailing.zip");
    assert!(matches!(
        ZipArchive::parse(&trailing).unwrap().anomalies()[0].kind,
        modelgate_archive::zip::AnomalyKind::TrailingData { bytes: 25 }
    ));
}

#[test]
fn nested_zip_reads_through() {
    let nested = read("ok/nested.zip");
    let outer = ZipArchive::parse(&nested).unwrap();
    let inner = outer
        .read(&nested, &outer.members()[0], &Limits::default())
        .unwrap();
    let inner_zip = ZipArchive::parse(&inner).unwrap();
    assert_eq!(inner_zip.members().len(), 3);
    assert_eq!(
        &*inner_zip
            .read(
                &inner,
                inner_zip.find("archive/data/0").unwrap(),
                &Limits::default()
            )
            .unwrap(),
        b"model bytes ".repeat(50)
    );
}

#[test]
fn zip_bomb_stops_at_both_limits() {
    let bytes = read("malicious/zip_bomb.zip");
    let zip = ZipArchive::parse(&bytes).unwrap();
    let member = &zip.members()[0];
    assert!(matches!(
        zip.read(&bytes, member, &tight()),
        Err(Error::LimitExceeded { limit, .. }) if limit == 1 << 20
    ));
    assert!(matches!(
        zip.read(&bytes, member, &Limits::default()),
        Err(Error::LimitExceeded { limit: 200, .. })
    ));
    // Within generous limits it is only zeros.
    let generous = Limits {
        max_ratio: u64::MAX,
        ..Limits::default()
    };
    let data = zip.read(&bytes, member, &generous).unwrap();
    assert_eq!(data.len(), 10_000_000);
}

#[test]
fn detection_needs_real_magic() {
    for text in [
        b"model bytes".as_slice(),
        b"HK text",
        b"x^ looks like zlib but",
        b"",
        b"\x1f",
        b"BZh",
    ] {
        let detected = stream::detect(text);
        assert!(
            detected.is_none() || text.starts_with(b"x^"),
            "{text:?}: {detected:?}"
        );
    }
    assert_eq!(stream::detect(b"x\x9c"), Some(Compression::Zlib));
    assert_eq!(stream::detect(b"HK"), None);
    for kind in [
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Lzma,
        Compression::Zlib,
        Compression::Lz4,
    ] {
        assert!(
            matches!(
                stream::decompress(b"", kind, &Limits::default()),
                Err(Error::BadData { .. })
            ),
            "{kind}"
        );
    }
}

#[test]
fn every_prefix_is_an_error_or_a_shorter_reading() {
    for name in [
        "ok/plain.zip",
        "ok/zip64.zip",
        "ok/data_descriptor.zip",
        "ok/gnu.tar",
        "ok/pax.tar",
        "ok/gzip.gz",
        "ok/bzip2.bz2",
        "ok/xz.xz",
        "ok/lzma.lzma",
        "ok/zlib.zlib",
    ] {
        let bytes = read(name);
        let full = stream::detect(&bytes)
            .map(|kind| stream::decompress(&bytes, kind, &Limits::default()).unwrap());
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            // A zip's end record is at the end: no prefix parses.
            assert!(
                !name.ends_with(".zip") || ZipArchive::parse(prefix).is_err(),
                "{name} prefix {len}"
            );
            if let Ok(tar) = TarArchive::parse(prefix) {
                for member in tar.members() {
                    tar.read(prefix, member).unwrap();
                }
            }
            if let (Some(kind), Some(full)) = (stream::detect(prefix), &full) {
                // A cut stream never passes for the whole one.
                match stream::decompress(prefix, kind, &Limits::default()) {
                    Ok(data) => assert_ne!(&data, full, "{name} prefix {len}"),
                    Err(error) => assert!(
                        matches!(error, Error::BadData { .. }),
                        "{name} prefix {len}: {error}"
                    ),
                }
            }
        }
    }
}
