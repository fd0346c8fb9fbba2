//! Identification of the real reference texts after the reformatting they
//! meet in model repositories, and reconciliation of license sources.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_license::{
    Commercial, LicenseSource, MIN_MARGIN, MatchMethod, SCORE_THRESHOLD, SourceKind, SourceRole,
    UnknownReason, all_terms, analyse, identify_text, reference_ids, reference_text, resolve_id,
    terms,
};

fn text(id: &str) -> &'static str {
    match reference_text(id) {
        Some(text) => text,
        None => panic!("no reference text for {id}"),
    }
}

// ---------------------------------------------------------------------------
// Reformatting, as people and tools do it to license files.

/// Paragraphs: runs of non-blank lines.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Re-wrap every paragraph to `width` columns, breaking after hyphens too
/// (as Python's textwrap does).
fn rewrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for paragraph in paragraphs(text) {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut pieces: Vec<String> = Vec::new();
            let mut piece = String::new();
            for ch in word.chars() {
                piece.push(ch);
                if ch == '-' && piece.chars().count() > 2 {
                    pieces.push(std::mem::take(&mut piece));
                }
            }
            if !piece.is_empty() {
                pieces.push(piece);
            }
            for (idx, piece) in pieces.iter().enumerate() {
                let sep = if idx == 0 && !line.is_empty() {
                    " "
                } else {
                    ""
                };
                if line.chars().count() + sep.len() + piece.chars().count() > width
                    && !line.is_empty()
                {
                    out.push_str(&line);
                    out.push('\n');
                    line.clear();
                    line.push_str(piece);
                } else {
                    line.push_str(sep);
                    line.push_str(piece);
                }
            }
        }
        out.push_str(&line);
        out.push_str("\n\n");
    }
    out
}

/// Convert to Markdown: a title heading, numbered sections as `##`
/// headings with bold titles, lettered clauses as bullets, some bold and
/// italic words, URLs as links, quotes as block quotes.
fn markdown(text: &str) -> String {
    let mut out = String::new();
    for (idx, paragraph) in paragraphs(text).iter().enumerate() {
        let first = paragraph.split(' ').next().unwrap_or("");
        let words: Vec<String> = paragraph
            .split(' ')
            .enumerate()
            .map(|(n, word)| {
                if word.starts_with("http") {
                    format!("[{word}]({word})")
                } else if n % 9 == 4 && word.chars().all(char::is_alphanumeric) {
                    format!("**{word}**")
                } else if n % 13 == 7 && word.chars().all(char::is_alphanumeric) {
                    format!("_{word}_")
                } else {
                    word.to_owned()
                }
            })
            .collect();
        let body = words.join(" ");
        if idx == 0 {
            out.push_str(&format!("# {body}\n\n"));
        } else if first.ends_with('.')
            && first
                .trim_end_matches('.')
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            out.push_str(&format!("## {body}\n\n"));
        } else if first.len() <= 4 && (first.ends_with('.') || first.ends_with(')')) {
            out.push_str(&format!("- {body}\n"));
        } else if idx % 7 == 3 {
            out.push_str(&format!("> {body}\n\n"));
        } else {
            out.push_str(&format!("{body}\n\n"));
        }
    }
    out
}

/// Add a copyright line at the top and a "last updated" line.
fn with_copyright(text: &str) -> String {
    format!(
        "Copyright (c) 2024 Example Labs, Inc. All rights reserved.\nLast updated: 2025-01-31\n\n{text}"
    )
}

/// Replace every 60th word by another word and drop every 97th.
fn edited(text: &str) -> String {
    let mut out = String::new();
    for (n, word) in text.split(' ').enumerate() {
        if n % 97 == 96 {
            continue;
        }
        if n % 60 == 59 {
            out.push_str("changed");
        } else {
            out.push_str(word);
        }
        out.push(' ');
    }
    out
}

/// Curly quotes to straight and back, dashes to hyphens, as editors do.
fn retyped(text: &str) -> String {
    text.replace(['“', '”'], "\"")
        .replace('’', "'")
        .replace(['—', '–'], "-")
}

/// Every reformatting, and all of them together.
fn variants(original: &str) -> Vec<(&'static str, String)> {
    vec![
        ("as is", original.to_owned()),
        ("rewrapped to 60 columns", rewrap(original, 60)),
        ("Markdown", markdown(original)),
        ("copyright line added", with_copyright(original)),
        ("words edited", edited(original)),
        ("retyped punctuation", retyped(original)),
        (
            "all together",
            with_copyright(&markdown(&rewrap(&edited(&retyped(original)), 72))),
        ),
    ]
}

// ---------------------------------------------------------------------------
// Identification

#[test]
fn every_reference_identifies_as_itself_after_reformatting() {
    let mut lowest_score = (1.0f64, String::new());
    let mut lowest_margin = (1.0f64, String::new());
    for id in reference_ids() {
        let (mut id_score, mut id_margin) = (1.0f64, 1.0f64);
        for (how, input) in variants(text(id)) {
            let found = identify_text(&input);
            assert_eq!(found.id.as_deref(), Some(id), "{id}, {how}: {found:?}");
            assert_eq!(found.method, MatchMethod::Whole, "{id}, {how}");
            assert!(
                found.score >= SCORE_THRESHOLD && found.margin >= MIN_MARGIN,
                "{id}, {how}: {found:?}"
            );
            id_score = id_score.min(found.score);
            id_margin = id_margin.min(found.margin);
            if found.score < lowest_score.0 {
                lowest_score = (found.score, format!("{id} ({how})"));
            }
            if found.margin < lowest_margin.0 {
                lowest_margin = (
                    found.margin,
                    format!("{id} over {:?} ({how})", found.runner_up),
                );
            }
        }
        println!("{id:<30} lowest score {id_score:.4}, lowest margin {id_margin:.4}");
    }
    println!("lowest score {lowest_score:?}, lowest margin {lowest_margin:?}");
    assert!(lowest_score.0 >= 0.9, "{lowest_score:?}");
    assert!(lowest_margin.0 >= 0.75, "{lowest_margin:?}");
}

#[test]
fn llama_versions_are_told_apart() {
    for id in ["llama3.1", "llama3.2", "llama3.3", "llama4", "llama2"] {
        for (how, input) in variants(text(id)) {
            let found = identify_text(&input);
            assert_eq!(found.id.as_deref(), Some(id), "{id}, {how}");
            assert!(
                found
                    .runner_up
                    .as_deref()
                    .is_some_and(|r| r.starts_with("llama")),
                "{found:?}"
            );
            assert!(found.margin >= 0.75, "{id}, {how}: margin {}", found.margin);
        }
    }
}

#[test]
fn openrail_siblings_are_told_apart() {
    for id in [
        "creativeml-openrail-m",
        "openrail++",
        "bigscience-openrail-m",
        "bigscience-bloom-rail-1.0",
        "deepseek",
    ] {
        let found = identify_text(&rewrap(&edited(text(id)), 60));
        assert_eq!(found.id.as_deref(), Some(id), "{found:?}");
        assert!(found.margin >= 0.75, "{id}: {found:?}");
    }
}

#[test]
fn license_with_preamble_and_appended_policy_is_embedded() {
    let input = format!(
        "This repository hosts fine-tuned weights. Their use is governed by the license below; read it before \
         downloading.\n\n{}\n\n{}",
        rewrap(text("llama4"), 70),
        text("llama4-acceptable-use-policy")
    );
    let found = identify_text(&input);
    assert_eq!(found.id.as_deref(), Some("llama4"), "{found:?}");
    assert_eq!(found.method, MatchMethod::Embedded);
    assert_eq!(found.also_contains, ["llama4-acceptable-use-policy"]);
    let span = found.span.clone().unwrap_or_default();
    assert!(
        input
            .get(span.clone())
            .is_some_and(|s| s.starts_with("LLAMA 4")),
        "{span:?}"
    );
    assert!(
        found.dice < SCORE_THRESHOLD,
        "whole-text Dice {} alone would not identify it",
        found.dice
    );
}

#[test]
fn a_use_policy_alone_is_the_policy() {
    let found = identify_text(&markdown(text("gemma-prohibited-use-policy")));
    assert_eq!(
        found.id.as_deref(),
        Some("gemma-prohibited-use-policy"),
        "{found:?}"
    );
}

#[test]
fn unrelated_texts_are_unknown() {
    let readme = "# SmolLM2\n\nSmolLM2 is a family of compact language models available in three sizes: 135M, \
                  360M, and 1.7B parameters. They are capable of solving a wide range of tasks while being \
                  lightweight enough to run on-device. Use it with transformers: load the tokenizer and the \
                  model, apply the chat template and generate. The license of this model is Apache 2.0; see the \
                  LICENSE file. Evaluation results are in the table below.";
    let attribution = include_str!("../data/ATTRIBUTION.md");
    for (what, input) in [
        ("README paragraph", readme.to_owned()),
        ("attribution file", attribution.to_owned()),
    ] {
        let found = identify_text(&input);
        assert_eq!(found.id, None, "{what}: {found:?}");
        assert_eq!(
            found.unknown_reason,
            Some(UnknownReason::BelowThreshold),
            "{what}"
        );
        assert!(found.score < 0.3, "{what}: {found:?}");
    }
}

#[test]
fn random_license_words_are_unknown() {
    // Words drawn from every reference, in a pseudo-random order.
    let words: Vec<&str> = reference_ids()
        .flat_map(|id| text(id).split_whitespace())
        .collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut input = String::new();
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        input.push_str(
            words
                .get((state % words.len() as u64) as usize)
                .copied()
                .unwrap_or(""),
        );
        input.push(' ');
    }
    let found = identify_text(&input);
    assert_eq!(found.id, None, "{found:?}");
    assert!(found.score < 0.2, "{found:?}");
}

#[test]
fn a_fragment_of_a_license_is_unknown() {
    let apache = text("apache-2.0");
    let fragment: String = apache.chars().take(apache.len() / 3).collect();
    let found = identify_text(&fragment);
    assert_eq!(found.id, None, "{found:?}");
    assert_eq!(found.candidate.as_deref(), Some("apache-2.0"));
}

/// The Meta Llama 3 license (with its use policy appended) has no reference
/// text; it must not pass for Llama 3.1 or 3.2, which differ from it in a few
/// words.
#[test]
fn an_earlier_llama_without_a_reference_is_unknown() {
    let llama3 = include_str!("data/llama3-LICENSE.txt");
    let found = identify_text(llama3);
    assert_eq!(found.id, None, "{found:?}");
    assert!(
        found
            .candidate
            .as_deref()
            .is_some_and(|c| c.starts_with("llama3.")),
        "{found:?}"
    );
    assert_eq!(found.unknown_reason, Some(UnknownReason::KeyPhraseMissing));
    assert!(found.margin < MIN_MARGIN, "{found:?}");

    // The card's declared id then decides, and the file is listed as unknown.
    let report = analyse(&[
        source(SourceKind::CardLicense, "README.md: license", "llama3"),
        source(SourceKind::LicenseFile, "LICENSE", llama3),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama3"));
    assert_eq!(report.unknown.len(), 1);
    assert!(
        report.unknown[0].reason.contains("llama3."),
        "{:?}",
        report.unknown
    );
}

/// The Llama 3.2 use policy is 0.90 similar to the Llama 4 one; without a
/// reference of its own it is unknown, not the Llama 4 policy.
#[test]
fn a_sibling_use_policy_without_a_reference_is_unknown() {
    let policy = include_str!("data/llama3_2-USE_POLICY.md");
    let found = identify_text(policy);
    assert_eq!(found.id, None, "{found:?}");
    assert_eq!(
        found.candidate.as_deref(),
        Some("llama4-acceptable-use-policy")
    );
    assert!(found.score >= SCORE_THRESHOLD, "{found:?}");
    assert_eq!(found.unknown_reason, Some(UnknownReason::KeyPhraseMissing));

    let report = analyse(&[
        source(SourceKind::LicenseFile, "LICENSE", text("llama3.2")),
        source(SourceKind::UsePolicyFile, "USE_POLICY.md", policy),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama3.2"));
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);

    // Appended to the license, it is not reported as the Llama 4 policy either.
    let appended = format!("{}\n\n{policy}", text("llama3.2"));
    let found = identify_text(&appended);
    assert_eq!(found.id.as_deref(), Some("llama3.2"), "{found:?}");
    assert!(found.also_contains.is_empty(), "{found:?}");
}

#[test]
fn the_gpl_is_not_a_permissive_license() {
    let found = identify_text(&rewrap(text("gpl-3.0"), 60));
    assert_eq!(found.id.as_deref(), Some("gpl-3.0"));
    let terms = terms("gpl-3.0").map(|t| t.share_alike);
    assert_eq!(terms, Some(true));
}

#[test]
fn a_commercial_license_turned_research_only_is_unknown() {
    // The Qwen license with its grant limited to research: the words that
    // matter changed, so it is not the Qwen license.
    let changed = text("qwen").replace(
        "to use, reproduce, distribute, copy, create derivative works of, and make modifications to the Materials.",
        "to use, reproduce, distribute, copy, create derivative works of, and make modifications to the Materials \
         for non-commercial research purposes only.",
    );
    assert_ne!(changed, text("qwen"));
    let found = identify_text(&changed);
    assert_eq!(found.id, None, "{found:?}");
    assert_eq!(found.candidate.as_deref(), Some("qwen"));
    assert_eq!(found.unknown_reason, Some(UnknownReason::AddedRestriction));
    assert_eq!(
        found.added_restrictions,
        ["non commercial", "research purposes"]
    );
}

#[test]
fn two_licenses_in_one_file_are_not_one_license() {
    let input = format!("{}\n\n{}", text("apache-2.0"), text("gpl-3.0"));
    let found = identify_text(&input);
    assert_eq!(found.id, None, "{found:?}");
    assert_eq!(found.unknown_reason, Some(UnknownReason::SeveralLicenses));
}

#[test]
fn empty_and_oversized_inputs() {
    assert_eq!(identify_text("").unknown_reason, Some(UnknownReason::Empty));
    assert_eq!(
        identify_text(" \n*** ---").unknown_reason,
        Some(UnknownReason::Empty)
    );
    let mut big = String::from(text("mit"));
    while big.len() <= modelgate_license::MAX_TEXT_BYTES {
        big.push_str("é lorem ipsum ");
    }
    let found = identify_text(&big);
    assert!(found.truncated);
    // The MIT text is still found, embedded at the start.
    assert_eq!(found.id.as_deref(), Some("mit"));
    assert_eq!(found.method, MatchMethod::Embedded);
}

// ---------------------------------------------------------------------------
// Declared identifiers

#[test]
fn declared_identifiers_resolve() {
    let cases = [
        ("Apache-2.0", "apache-2.0"),
        ("apache-2.0", "apache-2.0"),
        ("apache 2.0", "apache-2.0"),
        ("Apache License, Version 2.0", "apache-2.0"),
        ("https://www.apache.org/licenses/LICENSE-2.0", "apache-2.0"),
        ("MIT", "mit"),
        ("MIT License", "mit"),
        ("BSD-3-Clause", "bsd-3-clause"),
        ("GPL-3.0-or-later", "gpl-3.0"),
        ("CC-BY-NC-4.0", "cc-by-nc-4.0"),
        ("cc-by-nc-sa-4.0", "cc-by-nc-sa-4.0"),
        ("llama2", "llama2"),
        ("llama3", "llama3"),
        ("Meta Llama 3 Community License Agreement", "llama3"),
        ("llama3.1", "llama3.1"),
        ("llama-3.1", "llama3.1"),
        ("Llama 3.1 Community License", "llama3.1"),
        ("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT", "llama3.2"),
        ("llama3.3", "llama3.3"),
        ("llama4", "llama4"),
        ("LicenseRef-scancode-llama-4-cla-2025", "llama4"),
        ("gemma", "gemma"),
        ("Gemma Terms of Use", "gemma"),
        ("https://ai.google.dev/gemma/terms", "gemma"),
        ("qwen", "qwen"),
        ("tongyi-qianwen", "tongyi-qianwen"),
        ("qwen-research", "qwen-research"),
        ("deepseek", "deepseek"),
        ("DeepSeek License Agreement", "deepseek"),
        ("bigscience-openrail-m", "bigscience-openrail-m"),
        ("bigscience-bloom-rail-1.0", "bigscience-bloom-rail-1.0"),
        ("creativeml-openrail-m", "creativeml-openrail-m"),
        ("openrail++", "openrail++"),
        ("bigcode-openrail-m", "bigcode-openrail-m"),
        ("falcon2-11b-license", "falcon2-11b-license"),
    ];
    for (declared, id) in cases {
        assert_eq!(
            resolve_id(declared).map(|t| t.id.as_str()),
            Some(id),
            "{declared}"
        );
    }
    for nothing in [
        "other",
        "unknown",
        "",
        "my-custom-license",
        "llama",
        "LICENSE",
        "Apache-2.0 OR MIT",
    ] {
        assert_eq!(
            resolve_id(nothing).map(|t| t.id.as_str()),
            None,
            "{nothing}"
        );
    }
}

fn source(kind: SourceKind, location: &str, value: &str) -> LicenseSource {
    LicenseSource {
        kind,
        location: location.to_owned(),
        value: value.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Reconciliation

#[test]
fn a_license_text_outranks_a_card_id() {
    let report = analyse(&[
        source(SourceKind::CardLicense, "README.md: license", "apache-2.0"),
        source(
            SourceKind::LicenseFile,
            "LICENSE",
            &markdown(text("llama3.1")),
        ),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama3.1"));
    assert_eq!(report.decided_by.as_deref(), Some("LICENSE"));
    assert_eq!(
        report.terms.as_ref().map(|t| t.commercial),
        Some(Commercial::Conditional)
    );
    assert_eq!(report.conflicts.len(), 1);
    let conflict = report.conflicts.first().map(|c| c.message.as_str());
    assert_eq!(
        conflict,
        Some(
            "README.md: license says apache-2.0 but LICENSE is the Llama 3.1 Community License Agreement"
        )
    );
    assert!(report.unknown.is_empty());
    let json = serde_json::to_value(&report).unwrap_or_default();
    assert_eq!(json["terms"]["commercial"], "conditional");
    assert_eq!(json["terms"]["monthly_active_users_limit"], 700_000_000);
    assert_eq!(json["sources"][1]["method"], "text");
}

#[test]
fn other_with_license_name() {
    let report = analyse(&[
        source(SourceKind::CardLicense, "README.md: license", "other"),
        source(
            SourceKind::CardLicenseName,
            "README.md: license_name",
            "qwen",
        ),
        source(
            SourceKind::CardLicenseLink,
            "README.md: license_link",
            "https://huggingface.co/Qwen/Qwen2.5-72B-Instruct/blob/main/LICENSE",
        ),
    ]);
    assert_eq!(report.license.as_deref(), Some("qwen"));
    assert_eq!(
        report
            .terms
            .as_ref()
            .and_then(|t| t.monthly_active_users_limit),
        Some(100_000_000)
    );
    assert!(
        report.conflicts.is_empty() && report.unknown.is_empty(),
        "{report:?}"
    );
    let roles: Vec<SourceRole> = report.sources.iter().map(|s| s.role).collect();
    assert_eq!(
        roles,
        [
            SourceRole::Placeholder,
            SourceRole::License,
            SourceRole::FileReference
        ]
    );
}

#[test]
fn gguf_declared_ids_and_embedded_text() {
    let report = analyse(&[
        source(
            SourceKind::GgufMetadata,
            "model.gguf: general.license",
            "llama3.2",
        ),
        source(
            SourceKind::GgufMetadata,
            "model.gguf: general.license.name",
            "Llama 3.2 Community License",
        ),
        source(
            SourceKind::GgufMetadata,
            "model.gguf: general.license.link",
            "https://www.llama.com/llama3_2/license/",
        ),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama3.2"));
    assert!(report.conflicts.is_empty(), "{report:?}");
    assert_eq!(
        report
            .terms
            .as_ref()
            .map(|t| t.territorial_exclusions.len()),
        Some(1)
    );

    // GGUF files converted by some tools carry the whole license text.
    let report = analyse(&[
        source(
            SourceKind::GgufMetadata,
            "model.gguf: general.license",
            text("gemma"),
        ),
        source(
            SourceKind::SafetensorsMetadata,
            "model.safetensors: __metadata__.license",
            "gemma",
        ),
    ]);
    assert_eq!(report.license.as_deref(), Some("gemma"));
    assert_eq!(
        report.decided_by.as_deref(),
        Some("model.gguf: general.license")
    );
}

#[test]
fn expressions() {
    let report = analyse(&[source(
        SourceKind::CardLicense,
        "README.md: license",
        "Apache-2.0 OR MIT",
    )]);
    assert_eq!(report.license.as_deref(), Some("apache-2.0 OR mit"));
    assert_eq!(report.terms, None);
    assert_eq!(report.expression.as_ref().map(|e| e.ids.len()), Some(2));

    // A LICENSE that is one of the alternatives agrees with the expression.
    let report = analyse(&[
        source(
            SourceKind::CardLicense,
            "README.md: license",
            "Apache-2.0 OR MIT",
        ),
        source(SourceKind::LicenseFile, "LICENSE", text("mit")),
    ]);
    assert_eq!(report.license.as_deref(), Some("mit"));
    assert!(report.conflicts.is_empty());
}

#[test]
fn use_policies_are_attached_not_competing() {
    let report = analyse(&[
        source(SourceKind::CardLicense, "README.md: license", "llama4"),
        source(SourceKind::LicenseFile, "LICENSE", text("llama4")),
        source(
            SourceKind::UsePolicyFile,
            "USE_POLICY.md",
            &markdown(text("llama4-acceptable-use-policy")),
        ),
        source(
            SourceKind::NoticeFile,
            "NOTICE",
            "Llama 4 is licensed under the Llama 4 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved.",
        ),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama4"));
    assert_eq!(report.use_policies, ["llama4-acceptable-use-policy"]);
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert!(report.unknown.is_empty(), "{:?}", report.unknown);
    assert_eq!(
        report.sources.get(3).map(|s| s.role),
        Some(SourceRole::Notice)
    );

    let report = analyse(&[
        source(SourceKind::LicenseFile, "LICENSE", text("llama3.3")),
        source(
            SourceKind::UsePolicyFile,
            "USE_POLICY.md",
            text("gemma-prohibited-use-policy"),
        ),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama3.3"));
    assert_eq!(report.conflicts.len(), 1, "{:?}", report.conflicts);
}

#[test]
fn disagreeing_texts_need_corroboration() {
    let code_and_model = [
        source(SourceKind::LicenseFile, "LICENSE-CODE", text("mit")),
        source(SourceKind::LicenseFile, "LICENSE-MODEL", text("deepseek")),
    ];
    let report = analyse(&code_and_model);
    assert_eq!(report.license, None);
    assert_eq!(report.conflicts.len(), 1, "{:?}", report.conflicts);

    let mut with_card = code_and_model.to_vec();
    with_card.push(source(
        SourceKind::CardLicense,
        "README.md: license",
        "other",
    ));
    with_card.push(source(
        SourceKind::CardLicenseName,
        "README.md: license_name",
        "deepseek",
    ));
    let report = analyse(&with_card);
    assert_eq!(report.license.as_deref(), Some("deepseek"));
    assert_eq!(report.decided_by.as_deref(), Some("LICENSE-MODEL"));
    assert_eq!(report.conflicts.len(), 1);
}

#[test]
fn declared_ids_that_disagree_decide_nothing() {
    let report = analyse(&[
        source(SourceKind::CardLicense, "README.md: license", "apache-2.0"),
        source(
            SourceKind::GgufMetadata,
            "model.gguf: general.license",
            "llama3.1",
        ),
    ]);
    assert_eq!(report.license, None);
    assert_eq!(report.conflicts.len(), 1);
    // An operator's flag decides.
    let report = analyse(&[
        source(SourceKind::CardLicense, "README.md: license", "apache-2.0"),
        source(SourceKind::Flag, "--license", "llama3.1"),
    ]);
    assert_eq!(report.license.as_deref(), Some("llama3.1"));
}

#[test]
fn unknown_sources_are_listed() {
    let report = analyse(&[
        source(
            SourceKind::CardLicense,
            "README.md: license",
            "my-custom-license",
        ),
        source(
            SourceKind::LicenseFile,
            "LICENSE",
            "All weights are the property of Example Corp. Ask us before you use them for anything.\nThank you.",
        ),
    ]);
    assert_eq!(report.license, None);
    assert_eq!(report.unknown.len(), 2, "{:?}", report.unknown);
    assert!(report.conflicts.is_empty());
}

#[test]
fn a_link_to_an_unknown_page_says_so() {
    let report = analyse(&[source(
        SourceKind::CardLicenseLink,
        "README.md: license_link",
        "https://example.com/our-terms",
    )]);
    assert_eq!(report.license, None);
    assert_eq!(report.unknown.len(), 1, "{:?}", report.unknown);
    assert_eq!(
        report.unknown[0].reason,
        "a link that is not a known license page"
    );
}

/// The same text in many sources (the license in every shard of a GGUF
/// model) is compared once and charged to the text budget once.
#[test]
fn a_text_repeated_in_many_sources_is_compared_once() {
    let mut big = String::from(text("mit"));
    while big.len() <= modelgate_license::MAX_TEXT_BYTES {
        big.push_str("lorem ipsum ");
    }
    let n_shards = modelgate_license::MAX_TOTAL_TEXT_BYTES / modelgate_license::MAX_TEXT_BYTES + 4;
    let shards: Vec<LicenseSource> = (0..n_shards)
        .map(|shard| {
            source(
                SourceKind::GgufMetadata,
                &format!("model-{shard:05}.gguf: general.license"),
                &big,
            )
        })
        .collect();
    let report = analyse(&shards);
    assert_eq!(report.license.as_deref(), Some("mit"));
    assert!(report.unknown.is_empty(), "{:?}", report.unknown);
    assert!(
        report
            .sources
            .iter()
            .all(|s| s.resolved.as_deref() == Some("mit"))
    );
}

/// Sources that all disagree: every distinct pair is one conflict, and the
/// work stays proportional to the pairs (256 sources once took minutes).
#[test]
fn many_disagreeing_sources_report_each_pair_once() {
    let report = analyse(&[
        source(SourceKind::CardLicense, "a1", "apache-2.0"),
        source(SourceKind::CardLicense, "m1", "mit"),
        source(SourceKind::CardLicense, "a2", "apache-2.0"),
        source(SourceKind::CardLicense, "g1", "gpl-3.0"),
        source(SourceKind::CardLicense, "m2", "mit"),
    ]);
    assert_eq!(report.license, None);
    let pairs: Vec<(&str, &str)> = report
        .conflicts
        .iter()
        .map(|c| (c.location.as_str(), c.other_location.as_str()))
        .collect();
    assert_eq!(pairs, [("a1", "m1"), ("a1", "g1"), ("m1", "g1")]);

    let ids: Vec<&str> = all_terms()
        .filter(|t| t.kind == modelgate_license::TermsKind::License)
        .map(|t| t.id.as_str())
        .collect();
    let expressions: Vec<String> = ids
        .iter()
        .enumerate()
        .flat_map(|(idx, a)| ids.iter().skip(idx + 1).map(move |b| format!("{a} OR {b}")))
        .take(modelgate_license::MAX_SOURCES)
        .collect();
    assert_eq!(expressions.len(), modelgate_license::MAX_SOURCES);
    let sources: Vec<LicenseSource> = expressions
        .iter()
        .map(|value| source(SourceKind::CardLicense, value, value))
        .collect();
    let report = analyse(&sources);
    assert_eq!(report.license, None);
    let n = expressions.len();
    assert_eq!(report.conflicts.len(), n * (n - 1) / 2);
}

#[test]
fn every_reference_text_has_terms_and_every_terms_entry_resolves() {
    for id in reference_ids() {
        assert!(terms(id).is_some(), "{id}: a text without terms");
    }
    for entry in all_terms() {
        assert_eq!(
            resolve_id(&entry.id).map(|t| t.id.as_str()),
            Some(entry.id.as_str())
        );
        assert_eq!(
            resolve_id(&entry.name).map(|t| t.id.as_str()),
            Some(entry.id.as_str()),
            "{}",
            entry.name
        );
    }
}
