//! The policy file and every rule of `judge`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use modelgate_policy::*;

fn apache() -> Facts {
    Facts {
        license: LicenseFacts {
            id: Some("apache-2.0".into()),
            name: Some("Apache License 2.0".into()),
            commercial: Some(Commercial::Yes),
            ..LicenseFacts::default()
        },
        card_score: Some(75),
        publisher: Some("sentence-transformers".into()),
        ..Facts::default()
    }
}

fn llama() -> LicenseFacts {
    LicenseFacts {
        id: Some("llama3.1".into()),
        name: Some("Llama 3.1 Community License".into()),
        commercial: Some(Commercial::Conditional),
        monthly_active_users_limit: Some(700_000_000),
        duties: vec!["display \"Built with Llama\"".into()],
        ..LicenseFacts::default()
    }
}

fn rules(verdict: &Verdict) -> Vec<(&str, Action)> {
    verdict
        .reasons
        .iter()
        .map(|r| (r.rule.as_str(), r.action))
        .collect()
}

#[test]
fn the_commented_default_file_is_the_default() {
    assert_eq!(
        Policy::from_toml(DEFAULT_POLICY_TOML).unwrap(),
        Policy::default()
    );
    assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
}

#[test]
fn typos_and_bad_values_are_errors_that_name_the_key() {
    let error = Policy::from_toml("[license]\nalowed = [\"mit\"]\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("alowed"), "{error}");
    let error = Policy::from_toml("[scan]\nreject_at = \"severe\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("severe"), "{error}");
    let error = Policy::from_toml("[scan]\nreject_at = \"medium\"\nreview_at = \"high\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("review_at (high) is more severe than scan.reject_at (medium)"),
        "{error}"
    );
    assert!(Policy::from_toml("[card]\nmin_score = 101\n").is_err());
}

#[test]
fn a_clean_permissive_model_is_approved() {
    let verdict = judge(&Policy::default(), &apache());
    assert_eq!(verdict.decision, Decision::Approved);
    assert!(verdict.reviewers.is_empty());
    assert_eq!(
        rules(&verdict),
        [
            ("license.allowed", Action::Allow),
            ("scan.findings", Action::Allow),
            ("card.score", Action::Allow)
        ]
    );
}

#[test]
fn non_commercial_license_is_rejected_under_a_commercial_policy_only() {
    let mut facts = apache();
    facts.license = LicenseFacts {
        id: Some("cc-by-nc-sa-3.0".into()),
        commercial: Some(Commercial::No),
        ..LicenseFacts::default()
    };
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(verdict.decision, Decision::Rejected);
    assert_eq!(verdict.blocking()[0].rule, "license.non-commercial");
    let research = Policy::from_toml("[use]\ncommercial = false\n").unwrap();
    let verdict = judge(&research, &facts);
    assert_eq!(verdict.blocking()[0].rule, "license.other");
    assert_eq!(verdict.decision, Decision::NeedsReview);
}

#[test]
fn llama_needs_legal_review_and_lists_its_duties() {
    let mut facts = apache();
    facts.license = llama();
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(verdict.decision, Decision::NeedsReview);
    assert_eq!(verdict.reviewers, [Reviewer::Legal]);
    let reason = verdict.blocking()[0];
    assert_eq!(reason.rule, "license.conditional-commercial");
    assert!(
        reason.message.contains("700000000 monthly active users"),
        "{}",
        reason.message
    );
    assert_eq!(verdict.obligations, ["display \"Built with Llama\""]);
}

#[test]
fn user_threshold_rejects() {
    let mut facts = apache();
    facts.license = llama();
    let big = Policy::from_toml("[use]\nmonthly_active_users = 800000000\n").unwrap();
    let verdict = judge(&big, &facts);
    assert_eq!(verdict.decision, Decision::Rejected);
    assert_eq!(verdict.blocking()[0].rule, "license.user-threshold");
}

#[test]
fn denied_unknown_and_conflicting_licenses() {
    let mut facts = apache();
    facts.license.id = Some("CC-BY-NC-4.0".into());
    assert_eq!(
        judge(&Policy::default(), &facts).blocking()[0].rule,
        "license.denied"
    );

    facts.license = LicenseFacts::default();
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(verdict.blocking()[0].rule, "license.unknown");
    assert_eq!(verdict.reviewers, [Reviewer::Legal]);
    let strict = Policy::from_toml("[license]\nunknown = \"reject\"\n").unwrap();
    assert_eq!(judge(&strict, &facts).decision, Decision::Rejected);

    facts = apache();
    facts.license.conflicts = vec!["README.md says apache-2.0 but LICENSE is llama3.1".into()];
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(rules(&verdict)[0], ("license.conflict", Action::Review));
    assert_eq!(verdict.reasons[0].evidence, facts.license.conflicts);
}

#[test]
fn scan_findings_by_threshold() {
    let finding = |severity| ScanFinding {
        rule: "pickle.dangerous-import".into(),
        severity,
        file: "model.bin".into(),
        message: "os.system".into(),
    };
    let mut facts = apache();
    facts.findings = vec![finding(Severity::Critical), finding(Severity::Low)];
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(verdict.decision, Decision::Rejected);
    let reason = verdict.blocking()[0];
    assert_eq!(
        reason.evidence,
        ["critical pickle.dangerous-import in model.bin: os.system"]
    );
    facts.findings = vec![finding(Severity::Medium)];
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(
        (verdict.decision, verdict.reviewers.clone()),
        (Decision::NeedsReview, vec![Reviewer::Security])
    );
    facts.findings = vec![finding(Severity::Low)];
    assert_eq!(
        judge(&Policy::default(), &facts).decision,
        Decision::Approved
    );
}

#[test]
fn pickle_card_signature_provenance_and_limits() {
    let mut facts = apache();
    facts.pickle_files = vec!["pytorch_model.bin".into()];
    facts.card_score = Some(25);
    let verdict = judge(&Policy::default(), &facts);
    assert_eq!(
        verdict.reviewers,
        [Reviewer::Security, Reviewer::Governance]
    );
    assert!(rules(&verdict).contains(&("format.pickle", Action::Review)));
    assert!(rules(&verdict).contains(&("card.score", Action::Review)));
    facts.card_score = None;
    assert_eq!(
        judge(&Policy::default(), &facts)
            .reasons
            .iter()
            .find(|r| r.rule == "card.score")
            .unwrap()
            .message,
        "there is no model card"
    );

    let policy = Policy::from_toml(
        "[signature]\nrequired = true\n[provenance]\ntrusted_publishers = [\"meta-llama\"]\n[limits]\nmax_parameters = 1000\nmax_memory_bytes = 10\n",
    ).unwrap();
    let mut facts = apache();
    facts.parameters = Some(1001);
    facts.memory_bytes = Some(11);
    let verdict = judge(&policy, &facts);
    let got: BTreeSet<&str> = verdict.blocking().iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        got,
        BTreeSet::from([
            "signature.missing",
            "provenance.untrusted-publisher",
            "limits.parameters",
            "limits.memory"
        ])
    );
    facts.signature = SignatureStatus::Invalid {
        reason: "model.safetensors: digest mismatch".into(),
    };
    facts.publisher = None;
    let verdict = judge(&policy, &facts);
    let got: Vec<&str> = verdict.blocking().iter().map(|r| r.rule.as_str()).collect();
    assert!(
        got.contains(&"signature.invalid") && got.contains(&"provenance.unknown-publisher"),
        "{got:?}"
    );
    facts.signature = SignatureStatus::Unchecked;
    facts.publisher = Some("Meta-Llama".into());
    let verdict = judge(&policy, &facts);
    assert!(rules(&verdict).contains(&("signature.untrusted", Action::Reject)));
    assert!(rules(&verdict).contains(&("provenance.trusted-publisher", Action::Allow)));
    facts.signature = SignatureStatus::Verified {
        signer: "publisher.pub".into(),
    };
    assert!(rules(&judge(&policy, &facts)).contains(&("signature.verified", Action::Allow)));
}

#[test]
fn the_catalogue_is_exactly_the_rules_judge_emits() {
    let strict = Policy::from_toml(
        "[use]\nmonthly_active_users = 800000000\n[signature]\nrequired = true\n[provenance]\ntrusted_publishers = [\"acme\"]\n[limits]\nmax_parameters = 1\nmax_memory_bytes = 1\n",
    )
    .unwrap();
    let finding = ScanFinding {
        rule: "pickle.dangerous-import".into(),
        severity: Severity::Critical,
        file: "model.bin".into(),
        message: "os.system".into(),
    };
    let with = |change: &dyn Fn(&mut Facts)| {
        let mut facts = apache();
        change(&mut facts);
        facts
    };
    let scenarios = [
        (Policy::default(), apache()),
        (
            Policy::default(),
            with(&|f| f.license.conflicts = vec!["x".into()]),
        ),
        (
            Policy::default(),
            with(&|f| f.license = LicenseFacts::default()),
        ),
        (
            Policy::default(),
            with(&|f| f.license.id = Some("cc-by-nc-4.0".into())),
        ),
        (
            Policy::default(),
            with(&|f| {
                f.license = LicenseFacts {
                    id: Some("x".into()),
                    commercial: Some(Commercial::No),
                    ..LicenseFacts::default()
                }
            }),
        ),
        (Policy::default(), with(&|f| f.license = llama())),
        (
            Policy::default(),
            with(&|f| f.license.id = Some("openrail".into())),
        ),
        (strict.clone(), with(&|f| f.license = llama())),
        (
            strict.clone(),
            with(&|f| {
                f.findings = vec![finding.clone()];
                f.pickle_files = vec!["model.bin".into()];
                f.parameters = Some(2);
                f.memory_bytes = Some(2);
            }),
        ),
        (
            strict.clone(),
            with(&|f| f.signature = SignatureStatus::Invalid { reason: "x".into() }),
        ),
        (
            strict.clone(),
            with(&|f| f.signature = SignatureStatus::Unchecked),
        ),
        (
            strict.clone(),
            with(&|f| {
                f.signature = SignatureStatus::Verified { signer: "k".into() };
                f.publisher = Some("acme".into());
            }),
        ),
        (strict.clone(), with(&|f| f.publisher = None)),
    ];
    let emitted: BTreeSet<String> = scenarios
        .iter()
        .flat_map(|(policy, facts)| judge(policy, facts).reasons)
        .map(|reason| reason.rule)
        .collect();
    let catalogue: BTreeSet<String> = RULES.iter().map(|rule| rule.to_string()).collect();
    assert_eq!(emitted, catalogue);
}

#[test]
fn evaluation_requirements_are_read_checked_and_named_when_missing() {
    assert!(
        Policy::default()
            .evaluation
            .required_for_production
            .is_empty()
    );
    let policy = Policy::from_toml(
        "[evaluation]\nrequired_for_production = [\"support-bot\", \"hellaswag\", \"ppl.wiki_2\"]\n",
    )
    .unwrap();
    let required = &policy.evaluation;
    assert_eq!(
        required.required_for_production,
        ["support-bot", "hellaswag", "ppl.wiki_2"]
    );
    // Named in the policy's order; asked once per suite.
    let mut asked = Vec::new();
    let missing = required.missing_for_production(|suite| {
        asked.push(suite.to_string());
        suite == "hellaswag"
    });
    assert_eq!(missing, ["support-bot", "ppl.wiki_2"]);
    assert_eq!(asked, ["support-bot", "hellaswag", "ppl.wiki_2"]);
    assert!(required.missing_for_production(|_| true).is_empty());
    assert!(
        EvaluationPolicy::default()
            .missing_for_production(|_| false)
            .is_empty()
    );

    let error = Policy::from_toml("[evaluation]\nrequired = [\"x\"]\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("required"), "{error}");
    for (toml, expected) in [
        (
            "required_for_production = [\"Support Bot\"]",
            "evaluation.required_for_production: \"Support Bot\" is not a suite name",
        ),
        (
            "required_for_production = [\"\"]",
            "evaluation.required_for_production: \"\" is not a suite name",
        ),
        (
            "required_for_production = [\"a\", \"b\", \"a\"]",
            "evaluation.required_for_production: \"a\" is listed twice",
        ),
    ] {
        let error = Policy::from_toml(&format!("[evaluation]\n{toml}\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{toml}: {error}");
    }
    let long = "a".repeat(MAX_SUITE_NAME_BYTES + 1);
    assert!(
        Policy::from_toml(&format!(
            "[evaluation]\nrequired_for_production = [\"{long}\"]\n"
        ))
        .is_err()
    );
    assert!(is_suite_name(&long[1..]));
    assert!(!is_suite_name("support/bot"));
}

#[test]
fn quantization_thresholds_default_and_are_checked() {
    let policy = Policy::default();
    assert_eq!(policy.evaluation.quantization.max_kld, 0.1);
    assert_eq!(policy.evaluation.quantization.min_top1, 0.85);
    let set = Policy::from_toml("[evaluation.quantization]\nmax_kld = 0.05\nmin_accuracy = 0.6\n")
        .unwrap();
    assert_eq!(set.evaluation.quantization.max_kld, 0.05);
    assert_eq!(set.evaluation.quantization.min_top1, 0.85);
    assert_eq!(set.evaluation.quantization.min_accuracy, Some(0.6));
    for bad in [
        "max_kld = -1.0",
        "min_top1 = 1.5",
        "min_accuracy = 2.0",
        "max_kld = nan",
    ] {
        let error = Policy::from_toml(&format!("[evaluation.quantization]\n{bad}\n")).unwrap_err();
        assert!(
            error.to_string().contains("evaluation.quantization."),
            "{bad}: {error}"
        );
    }
    assert!(Policy::from_toml("[evaluation.quantization]\nmax_kl = 1.0\n").is_err());
}
