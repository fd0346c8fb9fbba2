#![no_main]
//! PII masking over arbitrary text (bytes read as UTF-8, lossily), with
//! the built-in detectors plus a configured pattern and word list. Besides
//! not panicking: findings are sorted, disjoint, non-empty and on char
//! boundaries; `contains_any` agrees with `find`; masking then restoring
//! gives the text back when it has no `[` of its own; and restoring a
//! stream split anywhere equals restoring it at once.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modelgate_mask::{CustomPattern, MaskConfig, Masker, StreamRestorer, WordList};

fn masker() -> &'static Masker {
    static MASKER: OnceLock<Masker> = OnceLock::new();
    MASKER.get_or_init(|| {
        let config = MaskConfig {
            patterns: vec![CustomPattern {
                name: "ticket".into(),
                regex: "TCK-[0-9]{4,}".into(),
            }],
            words: vec![WordList {
                name: "project".into(),
                words: vec!["Bluebird".into(), "Jörg".into()],
                case_insensitive: true,
            }],
            ..MaskConfig::default()
        };
        Masker::new(&config).expect("the fuzz configuration builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let masker = masker();
    let spans = masker.find(&text);
    let mut last_end = 0;
    for span in &spans {
        assert!(span.start < span.end, "{span:?}");
        assert!(span.start >= last_end, "{spans:?}");
        assert!(span.end <= text.len(), "{span:?}");
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "{span:?}");
        last_end = span.end;
    }
    assert_eq!(masker.contains_any(&text), !spans.is_empty());

    let masked = masker.mask(&text);
    assert_eq!(masked.spans, spans);
    let restored = masked.vault.restore(&masked.text);
    if !text.contains('[') {
        assert_eq!(restored, text);
    }

    let split = data.first().map_or(0, |&b| usize::from(b)) % (masked.text.len() + 1);
    let split = (0..=split).rev().find(|&i| masked.text.is_char_boundary(i)).unwrap_or(0);
    let (head, tail) = masked.text.split_at(split);
    let mut restorer = StreamRestorer::new(masked.vault.clone());
    let mut streamed = restorer.push(head);
    streamed.push_str(&restorer.push(tail));
    streamed.push_str(&restorer.finish());
    assert_eq!(streamed, restored);
});
