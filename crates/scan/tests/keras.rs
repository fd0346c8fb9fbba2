//! Keras and HDF5 files through the scanner: every readable model and
//! weights file written by Keras or h5py (`tests/data/keras`,
//! `tests/data/hdf5`) scans clean at the default gate, code in Lambda
//! layers or hidden in HDF5 attributes is critical, and HDF5 files that
//! cannot be walked fail closed with the offset or the limit named.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use modelgate_scan::{Finding, ScanOptions, Severity, scan_file};
use serde_json::Value as Json;

fn data_dir(format: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(format)
}

/// Every input of a corpus with its expected answer (`ok/x.h5`, …).
fn cases(format: &str) -> Vec<(String, Json)> {
    let mut cases = Vec::new();
    for sub in ["ok", "err", "malicious"] {
        let Ok(entries) = std::fs::read_dir(data_dir(format).join(sub)) else {
            continue;
        };
        for entry in entries {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".expected.json") {
                continue;
            }
            let stem = name.rsplit_once('.').unwrap().0;
            let expected = std::fs::read(
                data_dir(format)
                    .join(sub)
                    .join(format!("{stem}.expected.json")),
            )
            .unwrap();
            cases.push((
                format!("{sub}/{name}"),
                serde_json::from_slice(&expected).unwrap(),
            ));
        }
    }
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

fn scan(format: &str, relative: &str) -> Vec<Finding> {
    let path = data_dir(format).join(relative);
    let name = relative.rsplit('/').next().unwrap();
    scan_file(&path, name, false, &ScanOptions::default()).findings
}

fn gating(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Low)
        .map(|f| format!("{} {}", f.rule, f.message))
        .collect()
}

#[test]
fn every_readable_keras_and_hdf5_file_scans_clean() {
    let mut n = 0;
    for format in ["keras", "hdf5"] {
        for (relative, _) in cases(format) {
            if !relative.starts_with("ok/") {
                continue;
            }
            n += 1;
            let findings = scan(format, &relative);
            assert!(
                gating(&findings).is_empty(),
                "{format}/{relative}: {:?}",
                gating(&findings)
            );
        }
    }
    assert_eq!(n, 21);
}

#[test]
fn lambda_code_is_critical_wherever_it_is() {
    for (name, n_expected) in [
        ("malicious/lambda.keras", 1),
        ("malicious/legacy_lambda.h5", 1),
        ("malicious/keras3_lambda.keras", 1),
        ("malicious/keras3_lambda_h5.h5", 1),
        ("malicious/hidden_code.h5", 2),
    ] {
        let findings = scan("keras", name);
        let lambdas: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule == "keras.lambda-layer")
            .collect();
        assert_eq!(lambdas.len(), n_expected, "{name}: {findings:?}");
        assert!(
            lambdas
                .iter()
                .all(|f| f.severity == Severity::Critical && f.evidence.is_some())
        );
    }
    let findings = scan("keras", "malicious/hidden_code.h5");
    let keys: Vec<&str> = findings
        .iter()
        .filter_map(|f| f.location.key.as_deref())
        .collect();
    assert!(
        keys.contains(&"model_weights/dense/dense/kernel:0@note"),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"@training_config/loss/config/code"),
        "{keys:?}"
    );
}

#[test]
fn custom_objects_are_reported() {
    let findings = scan("keras", "malicious/custom_object.keras");
    assert!(
        findings.iter().any(|f| f.rule == "keras.custom-object"),
        "{findings:?}"
    );
}

#[test]
fn unreadable_hdf5_fails_closed_with_the_offset() {
    for (relative, expected) in cases("hdf5") {
        if !relative.starts_with("err/") {
            continue;
        }
        let findings = scan("hdf5", &relative);
        let high: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity >= Severity::High)
            .collect();
        assert!(!high.is_empty(), "{relative}: {findings:?}");
        let rule = high[0].rule;
        match expected["error"].as_str().unwrap() {
            "NoSignature" => assert_eq!(rule, "format.unknown", "{relative}"),
            "LimitExceeded" => {
                assert_eq!(rule, "format.limit-exceeded");
                assert!(high[0].message.contains("max_depth"), "{}", high[0].message);
                assert!(high[0].location.offset.is_some());
            }
            _ => {
                assert_eq!(rule, "format.unparseable", "{relative}");
                assert!(high[0].location.offset.is_some(), "{relative}");
                assert!(high[0].message.contains("offset"), "{}", high[0].message);
            }
        }
    }
}

#[test]
fn a_broken_weights_member_fails_the_keras_archive() {
    // A .keras zip whose model.weights.h5 is cut: the member is reported.
    let path = data_dir("keras").join("ok/keras3_sequential.keras");
    let bytes = std::fs::read(&path).unwrap();
    let mut out = Vec::new();
    {
        let zip = modelgate_formats::archive::zip::ZipArchive::parse(&bytes).unwrap();
        let mut writer = std::io::Cursor::new(&mut out);
        // Rebuild by hand: stored members, the weights cut in half.
        let mut entries = Vec::new();
        for member in zip.members() {
            let data = zip
                .read(&bytes, member, &Default::default())
                .unwrap()
                .into_owned();
            let data = if member.name == "model.weights.h5" {
                data[..data.len() / 2].to_vec()
            } else {
                data
            };
            entries.push((member.name.clone(), data));
        }
        write_stored_zip(&mut writer, &entries);
    }
    let (_, findings) = modelgate_scan::scan_bytes(&out, "cut.keras", &ScanOptions::default());
    let broken: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "format.unparseable")
        .collect();
    assert_eq!(broken.len(), 1, "{findings:?}");
    assert_eq!(
        broken[0].location.member.as_deref(),
        Some("model.weights.h5")
    );
}

/// A minimal zip of stored members (local headers, central directory, end record).
fn write_stored_zip(out: &mut impl std::io::Write, entries: &[(String, Vec<u8>)]) {
    let mut central = Vec::new();
    let mut offset = 0u32;
    for (name, data) in entries {
        let crc = crc32(data);
        let mut local = Vec::new();
        local.extend_from_slice(b"PK\x03\x04");
        local.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(data.len() as u32).to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name.as_bytes());
        out.write_all(&local).unwrap();
        out.write_all(data).unwrap();
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        offset += (local.len() + data.len()) as u32;
    }
    out.write_all(&central).unwrap();
    out.write_all(b"PK\x05\x06\0\0\0\0").unwrap();
    out.write_all(&(entries.len() as u16).to_le_bytes())
        .unwrap();
    out.write_all(&(entries.len() as u16).to_le_bytes())
        .unwrap();
    out.write_all(&(central.len() as u32).to_le_bytes())
        .unwrap();
    out.write_all(&offset.to_le_bytes()).unwrap();
    out.write_all(&0u16.to_le_bytes()).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
