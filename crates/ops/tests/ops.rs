//! The use cases on small real files: a one-tensor safetensors model
//! vetted and recorded, its files changed behind the inventory's back, and
//! signatures made and checked with the signing crate's test keys.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};

use modelgate_bom::{BomOptions, SerialNumber, Timestamp};
use modelgate_inventory::{Approval, Store, VersionRef};
use modelgate_ops::{AddVersion, Anchors, Error, add_version, verify_signature, verify_stored};
use modelgate_policy::{Decision, Reviewer};
use modelgate_signing::{
    HashOptions, NoProgress, PrivateKey, PublicKey, Signer, VerifyOptions, default_signature_path,
};
use modelgate_vet::VetOptions;

/// A one-tensor safetensors model with a config and notes: no license and
/// no card, so its verdict is `needs-review` by legal and governance.
fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny");
    std::fs::create_dir_all(&model).unwrap();
    let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[7; 8]);
    std::fs::write(model.join("model.safetensors"), bytes).unwrap();
    std::fs::write(model.join("config.json"), r#"{"model_type": "tiny"}"#).unwrap();
    std::fs::write(model.join("notes.txt"), "made by the test\n").unwrap();
    model
}

fn reference(text: &str) -> VersionRef {
    text.parse().unwrap()
}

fn add(
    store: &mut Store,
    text: &str,
    path: &Path,
) -> Result<modelgate_inventory::VersionSummary, Error> {
    add_version(
        store,
        &AddVersion {
            reference: reference(text),
            variant_of: None,
            path,
            by: "alice",
            vet: &VetOptions::default(),
        },
    )
}

#[test]
fn vet_then_record_keeps_the_verdict_and_refuses_a_second_copy_before_vetting() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut store = Store::open(&dir.path().join("home")).unwrap();
    let summary = add(&mut store, "tiny@1", &model).unwrap();
    assert_eq!(summary.decision, Decision::NeedsReview);
    assert_eq!(summary.reviewers, [Reviewer::Legal, Reviewer::Governance]);
    assert_eq!(summary.n_files, 3);
    let detail = store.version(&reference("tiny@1")).unwrap();
    assert!(Path::new(&detail.source_path).is_absolute());
    assert_eq!(detail.report["verdict"]["decision"], "needs-review");
    // The existing version is refused without vetting: the path given does
    // not even exist.
    let again = add(&mut store, "tiny@1", &dir.path().join("nowhere"));
    assert!(
        matches!(
            again,
            Err(Error::Inventory(
                modelgate_inventory::Error::VersionExists { .. }
            ))
        ),
        "{again:?}"
    );
    // A path that is not a model is a vet error, and nothing is recorded.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        add(&mut store, "empty@1", &empty),
        Err(Error::Vet { .. })
    ));
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(store.events().unwrap().len(), 1);
}

#[test]
fn a_stored_version_is_verified_against_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut store = Store::open(&dir.path().join("home")).unwrap();
    add(&mut store, "tiny@1", &model).unwrap();
    let tiny = reference("tiny@1");

    let check = verify_stored(&store, &tiny, None, &NoProgress).unwrap();
    assert!(check.verified, "{check:?}");
    assert_eq!(check.comparison.n_files, 3);

    std::fs::write(model.join("config.json"), r#"{"model_type": "evil"}"#).unwrap();
    std::fs::write(model.join("extra.py"), "import os\n").unwrap();
    std::fs::remove_file(model.join("notes.txt")).unwrap();
    let check = verify_stored(&store, &tiny, None, &NoProgress).unwrap();
    assert!(!check.verified);
    assert_eq!(check.comparison.modified, ["config.json"]);
    assert_eq!(check.comparison.added, ["extra.py"]);
    assert_eq!(check.comparison.removed, ["notes.txt"]);
    let json = serde_json::to_value(&check).unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["modified"][0], "config.json");

    let moved = dir.path().join("moved");
    assert!(matches!(
        verify_stored(&store, &tiny, Some(&moved), &NoProgress),
        Err(Error::Hash { path, .. }) if path == moved
    ));
    assert!(matches!(
        verify_stored(&store, &reference("tiny@2"), None, &NoProgress),
        Err(Error::Inventory(
            modelgate_inventory::Error::UnknownVersion { .. }
        ))
    ));
}

#[test]
fn the_inventory_bom_lists_versions_in_use_with_the_callers_serial_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut store = Store::open(&dir.path().join("home")).unwrap();
    add(&mut store, "tiny@1", &model).unwrap();
    let options = BomOptions::new(
        SerialNumber::from_random_bytes([1; 16]),
        Timestamp::from_unix_seconds(1_795_379_320),
        "0.1.0",
    );
    let empty = modelgate_ops::inventory_bom(&store, &options).unwrap();
    assert_eq!(empty["components"], serde_json::json!(null));
    store
        .approve(
            &reference("tiny@1"),
            &Approval {
                by: "bob".into(),
                sign_offs: vec![
                    "legal=lena".parse().unwrap(),
                    "governance=gus".parse().unwrap(),
                ],
                ..Approval::default()
            },
        )
        .unwrap();
    let bom = modelgate_ops::inventory_bom(&store, &options).unwrap();
    assert_eq!(
        bom["serialNumber"],
        "urn:uuid:01010101-0101-4101-8101-010101010101"
    );
    assert_eq!(bom["metadata"]["timestamp"], "2026-11-22T20:28:40Z");
    assert_eq!(bom["components"].as_array().unwrap().len(), 1);
    assert_eq!(modelgate_ops::inventory_bom(&store, &options).unwrap(), bom);
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../signing/tests/data/keys")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_signature_is_made_checked_and_names_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let signer = Signer::with_key(PrivateKey::from_pem(&key_text("p256.pem")).unwrap());
    let signature = default_signature_path(&model);
    let options = HashOptions {
        ignore_paths: modelgate_ops::ignored_paths(&model, &[], &signature),
        ..HashOptions::default()
    };
    assert_eq!(options.ignore_paths, ["model.sig"]);
    let signed = modelgate_ops::sign(&model, &signer, &options, &signature, &NoProgress).unwrap();
    assert_eq!(signed.report.summary.files, 3);
    // The bytes over the files: 8 + 54 of header + 8 of data, 22 of config, 17
    // of notes.
    assert_eq!(signed.report.summary.bytes, 70 + 22 + 17);
    std::fs::write(&signature, &signed.bundle).unwrap();

    let keys = [PublicKey::from_pem(&key_text("p256.pub.pem")).unwrap()];
    let sources = ["publisher.pub".to_string()];
    let anchors = Anchors::Keys {
        keys: &keys,
        sources: &sources,
    };
    let verify_options = VerifyOptions {
        ignore_paths: vec!["model.sig".into()],
        ignore_git_paths: true,
    };
    let check =
        verify_signature(&model, &signature, anchors, &verify_options, &NoProgress).unwrap();
    assert!(
        check.report.verified && check.failure.is_none(),
        "{check:?}"
    );
    let json = serde_json::to_value(&check.report).unwrap();
    assert_eq!(json["signed_by"]["method"], "key");
    assert_eq!(json["signed_by"]["public_key"], "publisher.pub");
    assert_eq!(json["files"], 3);
    assert_eq!(json["bytes"], 70 + 22 + 17);

    std::fs::write(model.join("notes.txt"), "changed\n").unwrap();
    let check =
        verify_signature(&model, &signature, anchors, &verify_options, &NoProgress).unwrap();
    assert!(!check.report.verified);
    assert_eq!(check.report.modified, ["notes.txt"]);
    assert!(matches!(
        check.failure,
        Some(modelgate_signing::Error::ModelMismatch(_))
    ));

    // No signature file at all is an error, not an answer.
    assert!(matches!(
        verify_signature(
            &model,
            &dir.path().join("none.sig"),
            anchors,
            &verify_options,
            &NoProgress
        ),
        Err(Error::Verify { .. })
    ));
}
