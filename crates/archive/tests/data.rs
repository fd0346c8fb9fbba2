//! Containers written by Python's zipfile, tarfile, gzip, bz2, lzma and zlib
//! (`tests/data/archive`, from `scripts/testdata/make_archive.py`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use modelgate_archive::stream::{self, Compression};
use modelgate_archive::tar::{TarArchive, TarKind};
use modelgate_archive::zip::{AnomalyKind, ZipArchive};
use modelgate_archive::{Error, Limits};
use serde_json::Value as Json;

fn read(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/archive")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const PAYLOAD_REPEAT: &[u8] = b"model bytes ";

fn payload() -> Vec<u8> {
    PAYLOAD_REPEAT.repeat(50)
}

#[test]
fn zips_match_python() {
    let expected: Json = serde_json::from_slice(&read("ok/zip.expected.json")).unwrap();
    for (name, members) in expected.as_object().unwrap() {
        let bytes = read(&format!("ok/{name}"));
        let zip = ZipArchive::parse(&bytes).unwrap();
        assert!(zip.anomalies().is_empty(), "{name}: {:?}", zip.anomalies());
        let members = members.as_array().unwrap();
        assert_eq!(zip.members().len(), members.len());
        for (ours, theirs) in zip.members().iter().zip(members) {
            assert_eq!(ours.name, theirs["name"].as_str().unwrap());
            assert_eq!(u64::from(ours.method), theirs["method"].as_u64().unwrap());
            assert_eq!(ours.uncompressed_size, theirs["size"].as_u64().unwrap());
            assert_eq!(ours.compressed_size, theirs["compressed"].as_u64().unwrap());
            assert_eq!(u64::from(ours.crc32), theirs["crc"].as_u64().unwrap());
            let data = zip.read(&bytes, ours, &Limits::default()).unwrap();
            assert_eq!(data.len() as u64, ours.uncompressed_size);
        }
    }
    let bytes = read("ok/plain.zip");
    let zip = ZipArchive::parse(&bytes).unwrap();
    assert_eq!(
        &*zip
            .read(
                &bytes,
                zip.find("archive/data/0").unwrap(),
                &Limits::default()
            )
            .unwrap(),
        payload()
    );
    let nested = read("ok/nested.zip");
    let outer = ZipArchive::parse(&nested).unwrap();
    let inner = outer
        .read(&nested, &outer.members()[0], &Limits::default())
        .unwrap();
    assert_eq!(ZipArchive::parse(&inner).unwrap().members().len(), 3);
}

fn anomalies(name: &str) -> Vec<AnomalyKind> {
    let bytes = read(&format!("malicious/{name}"));
    ZipArchive::parse(&bytes)
        .unwrap()
        .anomalies()
        .iter()
        .map(|a| a.kind.clone())
        .collect()
}

#[test]
fn zip_anomalies_are_reported() {
    assert!(anomalies("duplicate.zip").contains(&AnomalyKind::DuplicateName));
    assert_eq!(
        anomalies("traversal.zip")
            .iter()
            .filter(|k| **k == AnomalyKind::UnsafeName)
            .count(),
        3
    );
    assert!(anomalies("mismatch.zip").iter().any(|k| matches!(k, AnomalyKind::HeaderMismatch { field: "name", local, .. } if local == "evil00.pkl")));
    assert!(anomalies("encrypted.zip").contains(&AnomalyKind::Encrypted));
    assert!(
        anomalies("prepended.zip")
            .iter()
            .any(|k| matches!(k, AnomalyKind::PrependedData { bytes: 18 }))
    );
    assert!(
        anomalies("trailing.zip")
            .iter()
            .any(|k| matches!(k, AnomalyKind::TrailingData { bytes: 25 }))
    );
    // Prepended data is skipped the way zipfile does: members still read.
    let bytes = read("malicious/prepended.zip");
    let zip = ZipArchive::parse(&bytes).unwrap();
    assert_eq!(
        &*zip
            .read(
                &bytes,
                zip.find("archive/data.pkl").unwrap(),
                &Limits::default()
            )
            .unwrap(),
        payload()
    );
    let encrypted = read("malicious/encrypted.zip");
    let zip = ZipArchive::parse(&encrypted).unwrap();
    assert!(matches!(
        zip.read(&encrypted, &zip.members()[0], &Limits::default()),
        Err(Error::Encrypted { .. })
    ));
}

#[test]
fn bombs_stop_at_the_limits() {
    let tight = Limits {
        max_member_bytes: 1 << 20,
        ..Limits::default()
    };
    let bytes = read("malicious/bomb.zip");
    let zip = ZipArchive::parse(&bytes).unwrap();
    assert!(matches!(
        zip.read(&bytes, &zip.members()[0], &tight),
        Err(Error::LimitExceeded { .. })
    ));
    let ratio = Limits::default();
    assert!(matches!(
        zip.read(&bytes, &zip.members()[0], &ratio),
        Err(Error::LimitExceeded { .. })
    ));
    let gz = read("malicious/bomb.gz");
    assert!(matches!(
        stream::decompress(&gz, Compression::Gzip, &ratio),
        Err(Error::LimitExceeded { .. })
    ));
}

#[test]
fn streams_decompress() {
    for (name, kind) in [
        ("payload.gz", Compression::Gzip),
        ("payload.bz2", Compression::Bzip2),
        ("payload.xz", Compression::Xz),
        ("payload.lzma", Compression::Lzma),
        ("payload.zlib", Compression::Zlib),
    ] {
        let bytes = read(&format!("ok/{name}"));
        assert_eq!(stream::detect(&bytes), Some(kind), "{name}");
        assert_eq!(
            stream::decompress(&bytes, kind, &Limits::default()).unwrap(),
            payload(),
            "{name}"
        );
    }
    assert_eq!(stream::detect(&payload()), None);
    assert!(
        stream::decompress(
            &read("err/truncated.gz"),
            Compression::Gzip,
            &Limits::default()
        )
        .is_err()
    );
}

#[test]
fn tars_parse() {
    for name in ["ok/gnu.tar", "ok/pax.tar"] {
        let bytes = read(name);
        let tar = TarArchive::parse(&bytes).unwrap();
        let names: Vec<&str> = tar.members().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["storages", &format!("{}/long_name.pkl", "d".repeat(120))],
            "{name}"
        );
        assert_eq!(
            tar.read(&bytes, tar.find("storages").unwrap()).unwrap(),
            payload()
        );
    }
    let bytes = read("malicious/symlink.tar");
    let tar = TarArchive::parse(&bytes).unwrap();
    assert_eq!(
        tar.members()[2].kind,
        TarKind::Symlink {
            target: "/etc/passwd".into()
        }
    );
    assert!(matches!(
        TarArchive::parse(&read("err/bad_checksum.tar")),
        Err(Error::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn truncations_never_panic() {
    for name in [
        "ok/plain.zip",
        "ok/zip64.zip",
        "ok/gnu.tar",
        "ok/payload.xz",
    ] {
        let bytes = read(name);
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            if let Ok(zip) = ZipArchive::parse(prefix) {
                for member in zip.members() {
                    let _ = zip.read(prefix, member, &Limits::default());
                }
            }
            let _ = TarArchive::parse(prefix);
            if let Some(kind) = stream::detect(prefix) {
                let _ = stream::decompress(prefix, kind, &Limits::default());
            }
        }
    }
}
