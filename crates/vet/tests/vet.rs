//! `vet` end to end on the real models (`scripts/fixtures.sh`) and on
//! repositories assembled from them with real license texts (the reference
//! texts in `crates/license/data/texts`, reformatted as publishers ship them).

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use modelgate_testdata::fixtures;
use std::path::Path;

use modelgate_policy::{Action, Decision, Policy, Reviewer, SignatureStatus};
use modelgate_vet::{VetOptions, VetReport, markdown, model_description, vet, vet_loaded};

fn license_text(id: &str) -> String {
    modelgate_license::reference_text(id)
        .unwrap_or_else(|| panic!("no reference text for {id}"))
        .to_string()
}

/// Re-wrap a text to `width` columns, as a LICENSE file in a repository is
/// often reflowed.
fn rewrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + word.len() + 1 > width {
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push_str("\n\n");
    }
    out
}

/// A repository holding the real MiniLM weights and config, with this card
/// and these extra files.
fn minilm_repo(dir: &Path, card: &str, files: &[(&str, String)]) {
    let minilm = fixtures().join("minilm");
    std::os::unix::fs::symlink(
        minilm.join("model.safetensors"),
        dir.join("model.safetensors"),
    )
    .unwrap();
    std::fs::copy(minilm.join("config.json"), dir.join("config.json")).unwrap();
    std::fs::write(dir.join("README.md"), card).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

const CARD_BODY: &str = "# tiny-encoder\n\n## Intended uses\nSentence embeddings for semantic search over internal documents.\n\n## Out-of-scope use\nNot for decisions about people.\n\n## Bias, risks and limitations\nTrained on English web text; quality drops on other languages and reflects web biases.\n\n## Training data\nThe sentence-transformers training pairs (1B pairs).\n\n## Evaluation\nSpearman correlation 0.82 on STS-B test, measured with the sentence-transformers evaluator.\n\n## Environmental impact\nTrained for 100 hours on 7 TPU v3-8 cores; emissions were not measured.\n";

fn card(front_matter: &str) -> String {
    format!(
        "---\n{front_matter}language: en\nbase_model: nreimers/MiniLM-L6-H384-uncased\n---\n{CARD_BODY}"
    )
}

fn rules(report: &VetReport) -> Vec<(&str, Action)> {
    report
        .verdict
        .reasons
        .iter()
        .map(|r| (r.rule.as_str(), r.action))
        .collect()
}

#[test]
fn minilm_snapshot_is_approved_under_the_default_policy() {
    let report = vet(&fixtures().join("minilm"), &VetOptions::default()).unwrap();
    assert_eq!(
        report.verdict.decision,
        Decision::Approved,
        "{:#?}",
        report.verdict.reasons
    );
    assert_eq!(report.license.license.as_deref(), Some("apache-2.0"));
    assert_eq!(report.card.score, 50);
    assert_eq!(report.model.parameters, Some(22_713_728));
    assert_eq!(report.model.task.as_deref(), Some("sentence-similarity"));
    let weights = report
        .files
        .iter()
        .find(|f| f.path == "model.safetensors")
        .unwrap();
    assert_eq!(weights.sha256.len(), 64);
    assert!(
        report
            .files
            .iter()
            .any(|f| f.path == "1_Pooling/config.json")
    );
    let record = markdown(&report);
    assert!(record.contains("Decision: **APPROVED**"));
    assert!(
        record.contains("| License | Apache License 2.0 (`apache-2.0`) |"),
        "{record}"
    );
    assert!(record.contains(&weights.sha256));
}

#[test]
fn smollm2_gguf_without_a_card_needs_governance_review() {
    let report = vet(
        &fixtures().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        &VetOptions::default(),
    )
    .unwrap();
    assert_eq!(report.license.license.as_deref(), Some("apache-2.0"));
    assert_eq!(report.model.parameters, Some(134_515_008));
    assert_eq!(
        report.provenance.publisher.as_ref().unwrap().value,
        "HuggingFaceTB"
    );
    assert_eq!(report.verdict.decision, Decision::NeedsReview);
    assert_eq!(report.verdict.reviewers, [Reviewer::Governance]);
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].path, "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(report.files[0].format.as_deref(), Some("gguf"));
    assert_eq!(
        report.model.primary_file.as_deref(),
        Some("SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert!(rules(&report).contains(&("card.score", Action::Review)));
}

#[test]
fn non_commercial_model_is_rejected_under_a_commercial_policy() {
    let dir = tempfile::tempdir().unwrap();
    minilm_repo(
        dir.path(),
        &card("license: cc-by-nc-4.0\n"),
        &[("LICENSE", rewrap(&license_text("cc-by-nc-4.0"), 72))],
    );
    let report = vet(dir.path(), &VetOptions::default()).unwrap();
    assert_eq!(report.license.license.as_deref(), Some("cc-by-nc-4.0"));
    assert_eq!(report.verdict.decision, Decision::Rejected);
    let blocking = report.verdict.blocking();
    assert_eq!(blocking[0].rule, "license.denied");
    // A research policy that does not deny it still cannot use it commercially.
    let research = Policy::from_toml("[license]\ndenied = []\n").unwrap();
    let report = vet(
        dir.path(),
        &VetOptions {
            policy: research,
            ..VetOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.verdict.blocking()[0].rule, "license.non-commercial");
    assert!(markdown(&report).contains("Decision: **REJECTED**"));
}

#[test]
fn llama_licensed_model_needs_legal_review_and_lists_its_duties() {
    let dir = tempfile::tempdir().unwrap();
    minilm_repo(
        dir.path(),
        &card("license: llama3.1\n"),
        &[
            ("LICENSE", license_text("llama3.1")),
            (
                "USE_POLICY.md",
                format!(
                    "# Llama 3.1 Acceptable Use Policy\n\n{}",
                    "Meta is committed to promoting safe and fair use of its tools and features, including Llama 3.1."
                ),
            ),
        ],
    );
    let report = vet(dir.path(), &VetOptions::default()).unwrap();
    assert_eq!(report.license.license.as_deref(), Some("llama3.1"));
    assert!(
        report.license.conflicts.is_empty(),
        "{:#?}",
        report.license.conflicts
    );
    assert_eq!(report.verdict.decision, Decision::NeedsReview);
    assert_eq!(report.verdict.reviewers, [Reviewer::Legal]);
    let duties = report.verdict.obligations.join("\n");
    assert!(duties.contains("Built with Llama"), "{duties}");
    assert!(
        duties.contains("700000000")
            || duties.contains("700,000,000")
            || duties.contains("700 million"),
        "{duties}"
    );
    let record = markdown(&report);
    assert!(record.contains("NEEDS REVIEW** by legal"), "{record}");
    assert!(record.contains("## Obligations if used"));
}

#[test]
fn conflicting_license_sources_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    minilm_repo(
        dir.path(),
        &card("license: apache-2.0\n"),
        &[("LICENSE", rewrap(&license_text("llama3.1"), 80))],
    );
    let report = vet(dir.path(), &VetOptions::default()).unwrap();
    assert_eq!(report.license.conflicts.len(), 1, "{:#?}", report.license);
    let message = &report.license.conflicts[0].message;
    assert!(
        message.contains("apache-2.0") && message.contains("LICENSE"),
        "{message}"
    );
    assert!(rules(&report).contains(&("license.conflict", Action::Review)));
    assert_ne!(report.verdict.decision, Decision::Approved);
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?}");
}

#[test]
fn signatures_verify_with_trusted_keys_and_tampering_rejects() {
    let keys = tempfile::tempdir().unwrap();
    let private = keys.path().join("key.pem");
    let public = keys.path().join("pub.pem");
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        private.to_str().unwrap(),
    ]);
    openssl(&[
        "ec",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    let dir = tempfile::tempdir().unwrap();
    minilm_repo(dir.path(), &card("license: apache-2.0\n"), &[]);
    let key = modelgate_signing::PrivateKey::from_pem(&std::fs::read_to_string(&private).unwrap())
        .unwrap();
    let hash_options = modelgate_signing::HashOptions {
        allow_symlinks: true,
        ignore_paths: vec!["model.sig".into()],
        ..Default::default()
    };
    let (_, bundle) = modelgate_signing::sign_model(
        dir.path(),
        &hash_options,
        &modelgate_signing::Signer::with_key(key),
        &modelgate_signing::NoProgress,
    )
    .unwrap();
    std::fs::write(dir.path().join("model.sig"), bundle).unwrap();

    let policy = Policy::from_toml(&format!(
        "[signature]\nrequired = true\ntrusted_keys = [\"{}\"]\n",
        public.display()
    ))
    .unwrap();
    let options = VetOptions {
        policy,
        ..VetOptions::default()
    };
    let report = vet(dir.path(), &options).unwrap();
    assert!(
        matches!(report.signature.status, SignatureStatus::Verified { .. }),
        "{:?}",
        report.signature
    );
    assert!(rules(&report).contains(&("signature.verified", Action::Allow)));
    // The digests come from the verification; they equal a fresh hash.
    let unchecked = vet(dir.path(), &VetOptions::default()).unwrap();
    assert_eq!(report.files, unchecked.files);
    assert_eq!(report.files.len(), 3);

    std::fs::write(dir.path().join("config.json"), "{\"tampered\": true}").unwrap();
    let report = vet(dir.path(), &options).unwrap();
    let SignatureStatus::Invalid { reason } = &report.signature.status else {
        panic!("{:?}", report.signature)
    };
    assert!(reason.contains("config.json"), "{reason}");
    assert_eq!(report.verdict.decision, Decision::Rejected);

    // Without trusted keys the signature is noted, not checked.
    let report = vet(dir.path(), &VetOptions::default()).unwrap();
    assert_eq!(report.signature.status, SignatureStatus::Unchecked);
}

#[test]
fn bom_description_carries_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let front = "license: apache-2.0\ndatasets:\n- sentence-transformers/embedding-training-data\npipeline_tag: sentence-similarity\nmodel-index:\n- name: tiny-encoder\n  results:\n  - task:\n      type: sentence-similarity\n    dataset:\n      name: STS-B\n      type: mteb/stsbenchmark-sts\n    metrics:\n    - type: cos_sim_spearman\n      value: 82.03\n";
    minilm_repo(dir.path(), &card(front), &[]);
    let report = vet(
        dir.path(),
        &VetOptions {
            hints: modelgate_provenance::Hints {
                source: Some("acme/tiny-encoder".into()),
                revision: Some("0123abc".into()),
                ..Default::default()
            },
            ..VetOptions::default()
        },
    )
    .unwrap();
    let description = model_description(&report);
    assert_eq!(
        description.purl.as_deref(),
        Some("pkg:huggingface/acme/tiny-encoder@0123abc")
    );
    assert_eq!(description.metrics.len(), 1);
    assert_eq!(description.metrics[0].value, "82.03");
    assert_eq!(
        description.base_models[0].name,
        "nreimers/MiniLM-L6-H384-uncased"
    );
    assert_eq!(description.hashes.len(), 1);
    assert_eq!(description.files.len(), 3);
    assert!(
        matches!(&description.license, Some(modelgate_bom::LicenseChoice::Spdx { id }) if id == "Apache-2.0")
    );
}

/// Lower-case hex SHA-256, computed here independently of the signing crate.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issue 9: vet reads the model once. Once loaded, what the disk holds no
/// longer matters: files replaced by a rename, rewritten in place (small,
/// so copied when loaded) or deleted are still vetted and recorded as they
/// were loaded.
#[test]
fn vet_judges_and_records_the_bytes_it_loaded_whatever_the_disk_holds_later() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    minilm_repo(
        root,
        &card("license: apache-2.0\n"),
        &[("LICENSE", license_text("apache-2.0"))],
    );
    std::fs::write(
        root.join("extra.pkl"),
        modelgate_testdata::read("scan", "malicious/subprocess.pkl"),
    )
    .unwrap();
    // What the disk holds now, read independently of modelgate.
    let mut original = std::collections::BTreeMap::new();
    for name in [
        "README.md",
        "LICENSE",
        "config.json",
        "extra.pkl",
        "model.safetensors",
    ] {
        let bytes = std::fs::read(root.join(name)).unwrap();
        original.insert(name.to_string(), (bytes.len() as u64, sha256_hex(&bytes)));
    }

    let loaded = modelgate_formats::load(root, &modelgate_formats::LoadOptions::default()).unwrap();

    // Change everything on disk before vetting what was loaded.
    let replace = |name: &str, bytes: &[u8]| {
        let temporary = root.join(format!("{name}.incoming"));
        std::fs::write(&temporary, bytes).unwrap();
        std::fs::rename(&temporary, root.join(name)).unwrap();
    };
    replace(
        "extra.pkl",
        &modelgate_testdata::read("scan", "benign/plain_data.pkl"),
    );
    replace("model.safetensors", b"not the weights");
    std::fs::write(
        root.join("README.md"),
        card("license: cc-by-nc-4.0\n").as_bytes(),
    )
    .unwrap();
    std::fs::remove_file(root.join("config.json")).unwrap();

    let report = vet_loaded(&loaded, &VetOptions::default()).unwrap();
    let recorded: std::collections::BTreeMap<String, (u64, String)> = report
        .files
        .iter()
        .map(|file| (file.path.clone(), (file.size, file.sha256.clone())))
        .collect();
    assert_eq!(recorded, original);
    // The findings describe the loaded bytes too.
    let pickle = report
        .scan
        .files
        .iter()
        .find(|file| file.path.ends_with("extra.pkl"))
        .unwrap();
    assert!(
        pickle
            .findings
            .iter()
            .any(|finding| finding.rule == "pickle.dangerous-import"),
        "{pickle:?}"
    );
    assert_eq!(report.license.license.as_deref(), Some("apache-2.0"));
    assert_eq!(report.model.parameters, Some(22_713_728));
    assert_eq!(report.verdict.decision, Decision::Rejected);
}

/// The digest recorded for each file is the SHA-256 of the very bytes the
/// scanner read, and every file scanned is recorded.
#[test]
fn the_digest_recorded_is_the_sha256_of_the_bytes_scanned() {
    let loaded = modelgate_formats::load(&fixtures().join("minilm"), &Default::default()).unwrap();
    let report = vet_loaded(&loaded, &VetOptions::default()).unwrap();
    let mut n_checked = 0;
    for file in &loaded.files {
        let scanned = report
            .scan
            .files
            .iter()
            .find(|scanned| scanned.path == file.path.display().to_string())
            .unwrap_or_else(|| panic!("{} was not scanned", file.relative_path));
        assert_eq!(scanned.file_bytes, file.bytes.len() as u64);
        if modelgate_signing::GIT_PATHS.contains(&file.relative_path.as_str()) {
            continue;
        }
        let recorded = report
            .files
            .iter()
            .find(|recorded| recorded.path == file.relative_path)
            .unwrap_or_else(|| panic!("{} has no digest", file.relative_path));
        assert_eq!(
            recorded.sha256,
            sha256_hex(&file.bytes),
            "{}",
            file.relative_path
        );
        assert_eq!(recorded.size, file.bytes.len() as u64);
        n_checked += 1;
    }
    assert_eq!(n_checked, report.files.len());
    assert!(n_checked >= 10, "{n_checked}");
}

/// A memory-mapped file written in place while it is vetted may mix old and
/// new bytes: vet refuses to record a verdict on it.
#[test]
fn a_mapped_file_written_in_place_while_vetted_is_an_error() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::copy(fixtures().join("minilm/model.safetensors"), &weights).unwrap();
    std::fs::copy(
        fixtures().join("minilm/config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    // An old modification time, so that the write below changes it even
    // on file systems with coarse timestamps.
    let file = std::fs::File::options().write(true).open(&weights).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000))
        .unwrap();
    drop(file);

    let loaded = modelgate_formats::load(dir.path(), &Default::default()).unwrap();
    let mapped = loaded
        .files
        .iter()
        .find(|file| file.relative_path == "model.safetensors")
        .unwrap();
    assert!(mapped.bytes.is_mapped());
    // Tensor data, past the header: the same size, other bytes.
    let mut file = std::fs::File::options().write(true).open(&weights).unwrap();
    file.seek(SeekFrom::Start(1_000_000)).unwrap();
    file.write_all(&[0x5a; 4096]).unwrap();
    drop(file);

    let error = vet_loaded(&loaded, &VetOptions::default()).unwrap_err();
    assert!(
        matches!(&error, modelgate_vet::Error::ModifiedWhileVetting { files, .. }
            if files == &["model.safetensors".to_string()]),
        "{error}"
    );
}
