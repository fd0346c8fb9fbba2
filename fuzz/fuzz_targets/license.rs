#![no_main]
//! License identification and reconciliation over arbitrary bytes: the
//! whole input as one text, then split at NUL bytes into sources of every
//! kind (declared ids, links, texts). Besides not panicking, the results
//! must hold together: an id exactly when no reason for unknown, scores and
//! margins in range, a span that is a slice of the input, one result per
//! source.
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
    let found = identify_text(&text);
    assert_eq!(
        found.id.is_some(),
        found.unknown_reason.is_none(),
        "{found:?}"
    );
    assert!((0.0..=1.0).contains(&found.score), "{found:?}");
    assert!((-1.0..=1.0).contains(&found.margin), "{found:?}");
    if let Some(span) = &found.span {
        assert!(text.get(span.clone()).is_some(), "{found:?}");
    }
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
    let report = analyse(&sources);
    assert_eq!(report.sources.len(), sources.len());
    assert_eq!(
        report.license.is_some(),
        report.decided_by.is_some(),
        "{report:?}"
    );
});
