//! The use cases on small real files: a one-tensor safetensors model
//! vetted and recorded, its files changed behind the inventory's back, and
//! signatures made and checked with the signing crate's test keys.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};

use modelgate_bom::{BomOptions, SerialNumber, Timestamp};
use modelgate_inventory::{Approval, Database, Store, VersionRef};
use modelgate_ops::{AddVersion, Anchors, Error, add_version, verify_signature, verify_stored};
use modelgate_policy::{Decision, Reviewer};
use modelgate_signing::{
    HashOptions, NoProgress, PrivateKey, PublicKey, Signer, VerifyOptions, default_signature_path,
};
use modelgate_vet::VetOptions;

/// The store in `home`: SQLite, or a schema on the test PostgreSQL with
/// `MODELGATE_TEST_BACKEND=postgres` (see `modelgate_testdata::postgres`).
fn open_store(home: &std::path::Path) -> Store {
    match modelgate_testdata::postgres::backend_for(home) {
        Some(url) => Store::open_database(&Database::parse(&url).unwrap(), home).unwrap(),
        None => Store::open(home).unwrap(),
    }
}

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
            copy_progress: &modelgate_inventory::NoCopyProgress,
        },
    )
}

#[test]
fn vet_then_record_keeps_the_verdict_and_refuses_a_second_copy_before_vetting() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut store = open_store(&dir.path().join("home"));
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
    // version.added and version.stored of the first version only.
    assert_eq!(store.events().unwrap().len(), 2);
}

#[test]
fn a_stored_version_is_verified_against_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut store = open_store(&dir.path().join("home"));
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
    let mut store = open_store(&dir.path().join("home"));
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

// The artifact store: `add_version` copies the vetted files into the
// content-addressed blob store under the home; legacy versions are imported
// on first use.

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The names in a directory (empty when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Record a version the way a modelgate before the blob store did: vetted
/// and recorded, nothing copied.
fn add_legacy(store: &mut Store, text: &str, path: &Path) {
    let report = modelgate_vet::vet(path, &VetOptions::default()).unwrap();
    let new = modelgate_inventory::NewVersion::from_report(reference(text), &report).unwrap();
    store.add_version(&new, "alice").unwrap();
}

#[test]
fn adding_minilm_stores_read_only_blobs_with_the_recorded_digests() {
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    add(&mut store, "minilm@1", &modelgate_testdata::minilm()).unwrap();
    let minilm = reference("minilm@1");
    assert!(store.is_stored(&minilm).unwrap());
    let detail = store.version(&minilm).unwrap();
    assert!(detail.files.len() >= 9, "{:?}", detail.files);
    let stored = store
        .ensure_stored(&minilm, "server", &modelgate_inventory::NoCopyProgress)
        .unwrap();
    assert!(!stored.imported_now);
    assert_eq!(stored.files.len(), detail.files.len());
    let sha_dir = home.path().join("blobs/sha256");
    for (file, blob) in detail.files.iter().zip(&stored.files) {
        assert_eq!(blob.path, file.path);
        assert_eq!(blob.blob, sha_dir.join(&file.sha256));
        let bytes = std::fs::read(&blob.blob).unwrap();
        assert_eq!(sha256_hex(&bytes), file.sha256, "{}", file.path);
        assert_eq!(bytes.len() as u64, file.size);
        let source = std::fs::read(modelgate_testdata::minilm().join(&file.path)).unwrap();
        assert_eq!(bytes, source, "{}", file.path);
        let permissions = std::fs::metadata(&blob.blob).unwrap().permissions();
        assert!(permissions.readonly(), "{} is writable", file.path);
    }
    assert!(entries(&home.path().join("blobs/tmp")).is_empty());
    let check = verify_stored(&store, &minilm, None, &NoProgress).unwrap();
    assert!(check.verified && check.stored && check.blob_problems.is_empty());
    let audit = store.verify_audit().unwrap();
    assert!(audit.ok, "{audit:?}");
    let stored_event = store.events().unwrap().into_iter().last().unwrap();
    assert_eq!(stored_event.action, "version.stored");
    assert_eq!(stored_event.details["imported"], false);
}

#[test]
fn a_file_shared_by_two_versions_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = tiny_model(dir.path());
    let second = dir.path().join("second");
    std::fs::create_dir_all(&second).unwrap();
    for name in ["model.safetensors", "config.json"] {
        std::fs::copy(first.join(name), second.join(name)).unwrap();
    }
    std::fs::write(second.join("notes.txt"), "another version\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    add(&mut store, "tiny@1", &first).unwrap();
    add(&mut store, "tiny@2", &second).unwrap();
    let mut digests: Vec<String> = ["tiny@1", "tiny@2"]
        .iter()
        .flat_map(|text| store.version(&reference(text)).unwrap().files)
        .map(|file| file.sha256)
        .collect();
    assert_eq!(digests.len(), 6);
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), 4);
    assert_eq!(entries(&home.path().join("blobs/sha256")), digests);
    for text in ["tiny@1", "tiny@2"] {
        assert!(
            verify_stored(&store, &reference(text), None, &NoProgress)
                .unwrap()
                .verified
        );
    }
}

#[test]
fn a_file_changed_between_vet_and_copy_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let report = modelgate_vet::vet(&model, &VetOptions::default()).unwrap();
    let new = modelgate_inventory::NewVersion::from_report(reference("tiny@1"), &report).unwrap();
    let vetted = new
        .files
        .iter()
        .find(|file| file.path == "model.safetensors")
        .unwrap()
        .sha256
        .clone();
    // The seam: the files change after vet recorded their digests.
    let mut bytes = std::fs::read(model.join("model.safetensors")).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    std::fs::write(model.join("model.safetensors"), &bytes).unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    let error = store
        .add_stored_version(&new, "alice", &modelgate_inventory::NoCopyProgress)
        .unwrap_err();
    match &error {
        modelgate_inventory::Error::FileChanged {
            file,
            recorded,
            copied,
        } => {
            assert_eq!(file, "model.safetensors");
            assert_eq!(recorded, &vetted);
            assert_eq!(copied, &sha256_hex(&bytes));
        }
        other => panic!("expected FileChanged, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("model.safetensors") && message.contains("run vet again"));
    assert!(entries(&home.path().join("blobs/sha256")).is_empty());
    assert!(entries(&home.path().join("blobs/tmp")).is_empty());
    assert!(store.version(&reference("tiny@1")).is_err());
    assert!(store.events().unwrap().is_empty());
}

#[test]
fn verify_finds_a_tampered_and_a_missing_stored_copy() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    add(&mut store, "tiny@1", &model).unwrap();
    let tiny = reference("tiny@1");
    let files = store.version(&tiny).unwrap().files;
    let digest = |name: &str| {
        files
            .iter()
            .find(|file| file.path == name)
            .unwrap()
            .sha256
            .clone()
    };
    let notes_blob = home.path().join("blobs/sha256").join(digest("notes.txt"));
    let mut permissions = std::fs::metadata(&notes_blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&notes_blob, permissions).unwrap();
    std::fs::write(&notes_blob, "altered in the store\n").unwrap();
    std::fs::remove_file(home.path().join("blobs/sha256").join(digest("config.json"))).unwrap();
    let check = verify_stored(&store, &tiny, None, &NoProgress).unwrap();
    assert!(!check.verified);
    assert!(check.comparison.matches(), "the source is unchanged");
    let mut problems: Vec<(&str, Option<&str>)> = check
        .blob_problems
        .iter()
        .map(|p| (p.path.as_str(), p.found.as_deref()))
        .collect();
    problems.sort_unstable();
    let altered = sha256_hex(b"altered in the store\n");
    assert_eq!(
        problems,
        [("config.json", None), ("notes.txt", Some(altered.as_str()))]
    );
}

#[test]
fn a_legacy_version_is_imported_on_first_use_when_its_files_still_match() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    add_legacy(&mut store, "tiny@1", &model);
    let tiny = reference("tiny@1");
    assert!(!store.is_stored(&tiny).unwrap());
    let check = verify_stored(&store, &tiny, None, &NoProgress).unwrap();
    assert!(check.verified && !check.stored);
    let progress = modelgate_inventory::NoCopyProgress;
    let imported = store.ensure_stored(&tiny, "server", &progress).unwrap();
    assert!(imported.imported_now);
    for file in &imported.files {
        let bytes = std::fs::read(&file.blob).unwrap();
        assert_eq!(bytes, std::fs::read(model.join(&file.path)).unwrap());
        assert_eq!(sha256_hex(&bytes), file.sha256);
    }
    assert!(store.is_stored(&tiny).unwrap());
    let again = store.ensure_stored(&tiny, "server", &progress).unwrap();
    assert!(!again.imported_now);
    assert_eq!(again.files, imported.files);
    let events = store.events().unwrap();
    let stored: Vec<_> = events
        .iter()
        .filter(|event| event.action == "version.stored")
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].details["imported"], true);
    assert!(store.verify_audit().unwrap().ok);
}

#[test]
fn a_legacy_version_whose_files_changed_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let home = tempfile::tempdir().unwrap();
    let mut store = open_store(home.path());
    add_legacy(&mut store, "tiny@1", &model);
    std::fs::write(model.join("config.json"), r#"{"model_type": "other"}"#).unwrap();
    let tiny = reference("tiny@1");
    let error = store
        .ensure_stored(&tiny, "server", &modelgate_inventory::NoCopyProgress)
        .unwrap_err();
    let modelgate_inventory::Error::Import { source, .. } = &error else {
        panic!("expected Import, got {error:?}");
    };
    assert!(
        matches!(&**source, modelgate_inventory::Error::FileChanged { file, .. } if file == "config.json"),
        "{source:?}"
    );
    assert!(
        error
            .to_string()
            .contains("add the model again as a new version")
    );
    assert!(
        source
            .to_string()
            .contains("config.json changed since it was vetted")
    );
    assert!(!store.is_stored(&tiny).unwrap());
    assert!(entries(&home.path().join("blobs/sha256")).is_empty());
    assert!(entries(&home.path().join("blobs/tmp")).is_empty());
    // A file gone from the recorded path is refused too.
    std::fs::remove_file(model.join("notes.txt")).unwrap();
    std::fs::write(model.join("config.json"), r#"{"model_type": "tiny"}"#).unwrap();
    let error = store
        .ensure_stored(&tiny, "server", &modelgate_inventory::NoCopyProgress)
        .unwrap_err();
    let modelgate_inventory::Error::Import { source, .. } = &error else {
        panic!("expected Import, got {error:?}");
    };
    assert!(source.to_string().contains("notes.txt"), "{source}");
}
