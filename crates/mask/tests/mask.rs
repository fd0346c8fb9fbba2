//! The masker as the gateway uses it: configuration, findings across
//! classes, placeholders, restoring at once and across streamed chunks.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_mask::{
    BuiltinKind, CustomPattern, Error, Kind, MaskConfig, Masker, Span, StreamRestorer, Vault,
    WordList,
};

fn masker() -> Masker {
    Masker::new(&MaskConfig::default()).unwrap()
}

/// (label, text) of every finding.
fn found(masker: &Masker, text: &str) -> Vec<(String, String)> {
    masker
        .find(text)
        .into_iter()
        .map(|s| (s.kind.label().into_owned(), text[s.start..s.end].to_owned()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Prose with numbers of every sort and no personal data.
const NEGATIVES: &[&str] = &[
    "Released version 2.14.1 on 2024-01-15 at 10:30:00 UTC (build 2024.01.15.1234).",
    "Python 3.12.1, Rust 1.89.0, Node v20.11.0 and Windows 10.0.19045.3693 are supported.",
    "Unix time 1718035200 is 2024-06-10; in milliseconds 1718035200123.",
    "Order #48213 and #5913417776, invoice INV-2024-00731, tracking 1Z999AA10123456784.",
    "Request id 550e8400-e29b-41d4-a716-446655440000 failed.",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, md5 d41d8cd98f00b204e9800998ecf8427e, commit 4b825dc.",
    "Pi is 3.14159265358979323846, e is 2.718281828459045.",
    "ISBN 978-0-306-40615-7, ISBN 0-306-40615-2, ISBN 0306406152, EAN 4006381333931.",
    "Dates: 15.01.2024, 01/15/2024, January 15, 2024, 2024-01-15T10:30:00Z, 01.02.2024 15:30.",
    "Prices: $1,299.99, 1.299,00 EUR, 4 999 kr, 12.5% off, 3 x 250 g.",
    "The population grew from 8 336 817 to 8 804 190 between 2010 and 2020.",
    "Coordinates 52.520008, 13.404954; elevation 34 m; ZIP 62704-1234; sort code 12-34-56.",
    "Open hours 09:00-17:00, MAC 00:1a:2b:3c:4d:5e, see std::collections::HashMap and a::b.",
    "Use scikit-learn's sk-learn-compatible-estimators and hf_hub_download_with_retries.",
    "Scores 3-1 and 2-2; room 101; pages 123-145; values 0.5 0.25 0.125 0.0625.",
    "Mention @alice, email me later, npm i pkg@1.2.3, ssh root@localhost.",
    "Müllerstraße 5, 04317 Leipzig; 37, avenue Camille Perrier, 13551 Marseille.",
];

#[test]
fn prose_with_numbers_has_no_findings() {
    let masker = masker();
    for text in NEGATIVES {
        assert_eq!(found(&masker, text), pairs(&[]), "{text}");
        assert!(!masker.contains_any(text), "{text}");
    }
}

#[test]
fn a_bare_four_part_version_is_taken_for_an_ip_address() {
    // Documented in detect/ip.rs: a dotted quad cannot be told from an
    // address; a `v` prefix or a fifth part can.
    let masker = masker();
    assert_eq!(
        found(&masker, "version 1.2.3.4"),
        pairs(&[("IP", "1.2.3.4")])
    );
    assert_eq!(found(&masker, "v1.2.3.4 and 1.2.3.4.5"), pairs(&[]));
}

#[test]
fn finds_every_class_in_one_text() {
    let masker = masker();
    let text = "Jane (jane.doe@example.com, +44 20 7946 0018) paid with 4111 1111 1111 1111 \
                from DE89 3704 0044 0532 0130 00; SSN 112-33-8358; host 10.1.2.3 and \
                2001:db8::8a2e:370:7334; key sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f; \
                token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz.";
    assert_eq!(
        found(&masker, text),
        pairs(&[
            ("EMAIL", "jane.doe@example.com"),
            ("PHONE", "+44 20 7946 0018"),
            ("CARD", "4111 1111 1111 1111"),
            ("IBAN", "DE89 3704 0044 0532 0130 00"),
            ("NATIONAL_ID", "112-33-8358"),
            ("IP", "10.1.2.3"),
            ("IP", "2001:db8::8a2e:370:7334"),
            ("API_KEY", "sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f"),
            (
                "JWT",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz"
            ),
        ])
    );
}

#[test]
fn the_longest_finding_wins_an_overlap() {
    let masker = masker();
    // Digits inside a key are not a phone number.
    assert_eq!(
        found(&masker, "mg-5913417776abcdefGHIJKLmnopqrst"),
        pairs(&[("API_KEY", "mg-5913417776abcdefGHIJKLmnopqrst")])
    );
    // A card number is not also a phone number, nor an IBAN's digits.
    assert_eq!(
        found(&masker, "4111 1111 1111 1111"),
        pairs(&[("CARD", "4111 1111 1111 1111")])
    );
    assert_eq!(
        found(&masker, "IBAN DE89 3704 0044 0532 0130 00"),
        pairs(&[("IBAN", "DE89 3704 0044 0532 0130 00")])
    );
    // An email holding a phone number is one email.
    assert_eq!(
        found(&masker, "5913417776@example.com"),
        pairs(&[("EMAIL", "5913417776@example.com")])
    );
    // An IPv6 address with an IPv4 tail is one address.
    assert_eq!(
        found(&masker, "peer ::ffff:192.0.2.128 up"),
        pairs(&[("IP", "::ffff:192.0.2.128")])
    );
}

#[test]
fn spans_are_sorted_disjoint_and_on_char_boundaries() {
    let masker = masker();
    let text = "Grüße an jörg@example.com — ☎ +49 (0) 9141 777631, IBAN DE89370400440532013000 ✓";
    let spans = masker.find(text);
    assert_eq!(spans.len(), 3, "{spans:?}");
    assert_eq!(&text[spans[0].start..spans[0].end], "jörg@example.com");
    for pair in spans.windows(2) {
        assert!(pair[0].end <= pair[1].start);
    }
    for span in &spans {
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
}

#[test]
fn mask_numbers_placeholders_per_label_and_reuses_them() {
    let masker = masker();
    let masked = masker
        .mask("a@example.com, b@example.com, a@example.com, call 0115 496 0914 or 0115 496 0914");
    assert_eq!(
        masked.text,
        "[EMAIL_1], [EMAIL_2], [EMAIL_1], call [PHONE_1] or [PHONE_1]"
    );
    assert_eq!(masked.spans.len(), 5);
    assert_eq!(masked.vault.len(), 3);
    assert_eq!(masked.vault.original("[PHONE_1]"), Some("0115 496 0914"));
    assert_eq!(
        masked
            .vault
            .restore("Reply to [EMAIL_2] and [EMAIL_1], [PHONE_1]."),
        "Reply to b@example.com and a@example.com, 0115 496 0914."
    );
}

#[test]
fn messages_of_one_request_share_a_vault() {
    let masker = masker();
    let mut vault = Vault::new();
    let system = masker.mask_into("Support is support@example.com.", &mut vault);
    let user = masker.mask_into("I am bob@example.com, cc support@example.com", &mut vault);
    assert_eq!(system, "Support is [EMAIL_1].");
    assert_eq!(user, "I am [EMAIL_2], cc [EMAIL_1]");
}

#[test]
fn restore_of_mask_gives_the_text_back() {
    let masker = masker();
    let texts = NEGATIVES.iter().copied().chain([
        "Mail jane@example.com, call +1 (555) 234-5678 x42, card 378282246310005.",
        "IBAN GB82WEST12345698765432 and GB82 WEST 1234 5698 7654 32 and 10.0.0.1",
        "keys: AKIAIOSFODNN7EXAMPLE, ghp_Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7j",
        "",
    ]);
    for text in texts {
        let masked = masker.mask(text);
        assert_eq!(masked.vault.restore(&masked.text), text);
    }
}

fn streamed(vault: &Vault, chunks: &[&str]) -> String {
    let mut restorer = StreamRestorer::new(vault.clone());
    let mut out = String::new();
    for chunk in chunks {
        out.push_str(&restorer.push(chunk));
    }
    out + &restorer.finish()
}

#[test]
fn stream_restore_equals_one_shot_restore_at_every_split() {
    let masker = masker();
    let masked = masker.mask(
        "From jane@example.com (+44 20 7946 0018), card 4111-1111-1111-1111, key \
         sk-ant-api03-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7j, SSN 112-33-8358, ☎ ok",
    );
    let vault = &masked.vault;
    assert_eq!(vault.len(), 5);
    // A reply that uses the placeholders, breaks some, and has brackets of
    // its own and non-ASCII text.
    let reply = format!(
        "[Note] I wrote to {e} [EMAIL_1 and [EMAIL_9] about [CARD_1]]: ünïcødé [[PHONE_1]] \
         [API_KEY_1][NATIONAL_ID_1][ [] [EMAIL_1",
        e = "[EMAIL_1]",
    );
    let expected = vault.restore(&reply);
    assert!(expected.contains("jane@example.com about") || expected.contains("jane@example.com ["));
    assert!(expected.contains("about 4111-1111-1111-1111]:"));
    assert!(expected.ends_with("[EMAIL_1"));

    // Two chunks, split at every char boundary.
    for split in (0..=reply.len()).filter(|&i| reply.is_char_boundary(i)) {
        let (head, tail) = reply.split_at(split);
        assert_eq!(streamed(vault, &[head, tail]), expected, "split at {split}");
    }
    // One chunk per character.
    let chars: Vec<String> = reply.chars().map(String::from).collect();
    let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
    assert_eq!(streamed(vault, &chars), expected);
    // Three chunks, every pair of split points.
    let bounds: Vec<usize> = (0..=reply.len())
        .filter(|&i| reply.is_char_boundary(i))
        .collect();
    for (idx, &a) in bounds.iter().enumerate() {
        for &b in &bounds[idx..] {
            let parts = [&reply[..a], &reply[a..b], &reply[b..]];
            assert_eq!(streamed(vault, &parts), expected, "splits at {a}, {b}");
        }
    }
}

#[test]
fn stream_restorer_sends_text_without_placeholders_at_once() {
    let masked = masker().mask("jane@example.com");
    let mut restorer = masked.vault.into_stream_restorer();
    assert_eq!(restorer.push("Hello, "), "Hello, ");
    assert_eq!(restorer.push("[EMAIL_"), "");
    assert_eq!(restorer.push("1]!"), "jane@example.com!");
    assert_eq!(restorer.push(" [see above]"), " [see above]");
    assert_eq!(restorer.finish(), "");
}

#[test]
fn contains_any_agrees_with_find() {
    let masker = masker();
    let texts = NEGATIVES.iter().copied().chain([
        "jane@example.com",
        "call 0115 496 0914",
        "4111111111111111",
        "version 1.2.3.4",
        "GB82WEST12345698765432",
        "xoxb-123456789012-1234567890123-Ab3dEf6hIj9lMn2pQr5tUv8x",
    ]);
    for text in texts {
        assert_eq!(
            masker.contains_any(text),
            !masker.find(text).is_empty(),
            "{text}"
        );
    }
}

#[test]
fn configuration_reads_from_toml_and_refuses_unknown_keys() {
    let config: MaskConfig = toml::from_str(
        r#"
        kinds = ["email", "api_key"]

        [[patterns]]
        name = "employee_id"
        regex = 'EMP-[0-9]{6}'

        [[words]]
        name = "project"
        words = ["Bluebird", "Night Jar"]
        case_insensitive = true
        "#,
    )
    .unwrap();
    assert_eq!(config.kinds, [BuiltinKind::Email, BuiltinKind::ApiKey]);
    let masker = Masker::new(&config).unwrap();
    let masked = masker
        .mask("EMP-123456 on BLUEBIRD and night jar, phone 0115 496 0914, mail a@example.com");
    assert_eq!(
        masked.text,
        "[EMPLOYEE_ID_1] on [PROJECT_1] and [PROJECT_2], phone 0115 496 0914, mail [EMAIL_1]"
    );
    assert_eq!(
        masked.spans[0],
        Span {
            start: 0,
            end: 10,
            kind: Kind::Pattern("employee_id".into())
        }
    );
    assert_eq!(masked.spans[1].kind, Kind::Word("project".into()));

    let err = toml::from_str::<MaskConfig>("kinds = [\"email\"]\npatern = []").unwrap_err();
    assert!(err.to_string().contains("unknown field `patern`"), "{err}");
    let err = toml::from_str::<MaskConfig>("kinds = [\"emails\"]").unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `emails`"),
        "{err}"
    );

    // Missing keys: every built-in on, nothing else.
    let config: MaskConfig = toml::from_str("").unwrap();
    assert_eq!(config, MaskConfig::default());
    assert_eq!(config.kinds.len(), BuiltinKind::ALL.len());
    // An empty list turns the built-ins off.
    let config: MaskConfig = toml::from_str("kinds = []").unwrap();
    assert!(
        !Masker::new(&config)
            .unwrap()
            .contains_any("a@example.com 10.0.0.1")
    );
}

fn with_pattern(name: &str, regex: &str) -> MaskConfig {
    MaskConfig {
        patterns: vec![CustomPattern {
            name: name.into(),
            regex: regex.into(),
        }],
        ..MaskConfig::default()
    }
}

#[test]
fn bad_configurations_name_the_culprit() {
    let err = Masker::new(&with_pattern("ticket", "TCK-(\\d+")).unwrap_err();
    assert!(matches!(&err, Error::InvalidPattern { name, .. } if name == "ticket"));
    assert!(
        err.to_string()
            .starts_with("mask pattern `ticket`: invalid regex"),
        "{err}"
    );

    let err = Masker::new(&with_pattern("anything", "x*")).unwrap_err();
    assert!(
        matches!(&err, Error::PatternMatchesEmpty { name } if name == "anything"),
        "{err}"
    );

    let err = Masker::new(&with_pattern("bad name", "x")).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidName { name, .. } if name == "bad name"),
        "{err}"
    );
    let err = Masker::new(&with_pattern("", "x")).unwrap_err();
    assert!(matches!(&err, Error::InvalidName { .. }), "{err}");

    let mut config = with_pattern("client", "C-[0-9]+");
    config.words.push(WordList {
        name: "CLIENT".into(),
        words: vec!["Acme".into()],
        case_insensitive: false,
    });
    let err = Masker::new(&config).unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateName { name } if name == "CLIENT"),
        "{err}"
    );

    let config = MaskConfig {
        words: vec![WordList {
            name: "people".into(),
            words: vec!["Ann".into(), String::new()],
            case_insensitive: false,
        }],
        ..MaskConfig::default()
    };
    let err = Masker::new(&config).unwrap_err();
    assert!(
        matches!(&err, Error::EmptyWord { name, word_idx: 1 } if name == "people"),
        "{err}"
    );
}

#[test]
fn kinds_have_stable_labels() {
    let labels: Vec<String> = BuiltinKind::ALL
        .into_iter()
        .map(|k| Kind::from(k).label().into_owned())
        .collect();
    assert_eq!(
        labels,
        [
            "EMAIL",
            "PHONE",
            "CARD",
            "IBAN",
            "NATIONAL_ID",
            "IP",
            "API_KEY",
            "JWT"
        ]
    );
    assert_eq!(Kind::Pattern("employee_id".into()).label(), "EMPLOYEE_ID");
    assert_eq!(Kind::Word("Project".into()).label(), "PROJECT");
}

#[test]
fn masker_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Masker>();
    let masker = masker();
    let handles: Vec<_> = (0..4)
        .map(|idx| {
            let masker = masker.clone();
            std::thread::spawn(move || masker.mask(&format!("user{idx}@example.com")).text)
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), "[EMAIL_1]");
    }
}

/// A small deterministic generator (xorshift64*), so the property test
/// below needs no dependency and fails the same way every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_texts_keep_the_invariants() {
    // Fragments that make detectors fire, almost fire, and collide.
    const FRAGMENTS: &[&str] = &[
        "0",
        "1",
        "4",
        "5",
        "9",
        "00",
        "555",
        "0115",
        "4111",
        "1111",
        " ",
        "  ",
        "-",
        ".",
        "(",
        ")",
        "+",
        "+44",
        "(0)",
        "x",
        "x12",
        " ext. ",
        "@",
        "a",
        "Z",
        "_",
        ":",
        "::",
        "ff",
        "e2",
        "[",
        "]",
        "EMAIL_1",
        "[EMAIL_1]",
        "[PHONE_1]",
        "sk-",
        "ghp_",
        "AKIA",
        "eyJ",
        "hf_",
        "DE89",
        "3704",
        "GB82",
        "WEST",
        "ISBN ",
        "#",
        "ö",
        "☎",
        "\n",
        "jane@example.com",
        "example.com",
        "112-33-8358",
        "10.0.0.1",
        "2001:db8::1",
        "Ab3dEf6hIj9lMn2p",
    ];
    let masker = masker();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let n_fragments = rng.below(40);
        let text: String = (0..n_fragments)
            .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
            .collect();
        let spans = masker.find(&text);
        let mut last_end = 0;
        for span in &spans {
            assert!(
                span.start < span.end && span.start >= last_end,
                "{text:?}: {spans:?}"
            );
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            last_end = span.end;
        }
        assert!(last_end <= text.len());
        assert_eq!(masker.contains_any(&text), !spans.is_empty(), "{text:?}");

        let masked = masker.mask(&text);
        let restored = masked.vault.restore(&masked.text);
        if !text.contains('[') {
            assert_eq!(restored, text);
        }
        let bounds: Vec<usize> = (0..=masked.text.len())
            .filter(|&i| masked.text.is_char_boundary(i))
            .collect();
        let mut cuts = [
            bounds[rng.below(bounds.len())],
            bounds[rng.below(bounds.len())],
        ];
        cuts.sort_unstable();
        let parts = [
            &masked.text[..cuts[0]],
            &masked.text[cuts[0]..cuts[1]],
            &masked.text[cuts[1]..],
        ];
        assert_eq!(
            streamed(&masked.vault, &parts),
            restored,
            "{text:?} cut at {cuts:?}"
        );
    }
}
