#![no_main]
//! License identification and reconciliation over arbitrary bytes: the
//! whole input as one text, then split at NUL bytes into sources of every
//! kind (declared ids, links, texts).
use libfuzzer_sys::fuzz_target;
use modelgate_license::{LicenseSource, SourceKind, analyse, identify_text, resolve_id};

const KINDS: [SourceKind; 9] = [
    SourceKind::CardLicense,
    SourceKind::CardLicenseName,
    SourceKind::CardLicenseLink,
    SourceKind::LicenseFile,
    SourceKind::NoticeFile,
    SourceKind::UsePolicyFile,
    SourceKind::GgufMetadata,
    SourceKind::SafetensorsMetadata,
    SourceKind::Flag,
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = identify_text(&text);
    let sources: Vec<LicenseSource> = text
        .split('\0')
        .take(32)
        .enumerate()
        .map(|(idx, value)| {
            let _ = resolve_id(value);
            LicenseSource {
                kind: KINDS[idx % KINDS.len()],
                location: format!("source {idx}"),
                value: value.to_owned(),
            }
        })
        .collect();
    let _ = analyse(&sources);
});
