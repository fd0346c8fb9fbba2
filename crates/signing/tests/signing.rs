//! Signing and verifying real model directories with real keys and
//! certificates (tests/data/keys, written by tests/data/make_keys.py),
//! model_signing's own signatures (tests/data/upstream), and the
//! `model-signing` package itself (`$MODELGATE_PYTHON`, see
//! scripts/venv.sh) in both directions.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use modelgate_signing::{
    Bundle, Certificate, Error, HashOptions, MAX_CERTIFICATE_EXTENSIONS, Manifest, ModelMismatch,
    NoProgress, PrivateKey, Progress, PublicKey, Serialization, SignedBy, Signer, SignerInfo,
    Trust, Verified, VerifyOptions, default_signature_path, hash_model, path_within_model,
    sign_manifest, sign_model, verify, verify_with_certificates, verify_with_keys,
};

// ---------------------------------------------------------------------------
// Helpers

fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

fn key(name: &str) -> PrivateKey {
    PrivateKey::from_pem(&fs::read_to_string(data(&format!("keys/{name}"))).unwrap()).unwrap()
}

fn public(name: &str) -> PublicKey {
    PublicKey::from_pem(&fs::read_to_string(data(&format!("keys/{name}"))).unwrap()).unwrap()
}

fn certs(name: &str) -> Vec<Certificate> {
    Certificate::from_pem(&fs::read_to_string(data(&format!("keys/{name}"))).unwrap()).unwrap()
}

fn cert(name: &str) -> Certificate {
    certs(name).remove(0)
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A small Hugging Face style snapshot, with git files that must be left out.
fn model_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-model");
    fs::create_dir_all(model.join("tokenizer")).unwrap();
    fs::create_dir_all(model.join(".git")).unwrap();
    fs::write(model.join("config.json"), br#"{"model_type": "llama"}"#).unwrap();
    fs::write(
        model.join("model-00001-of-00002.safetensors"),
        noise(300_000, 1),
    )
    .unwrap();
    fs::write(
        model.join("model-00002-of-00002.safetensors"),
        noise(70_001, 2),
    )
    .unwrap();
    fs::write(model.join("tokenizer/tokenizer.json"), b"{}").unwrap();
    fs::write(model.join("empty.txt"), b"").unwrap();
    fs::write(model.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    fs::write(model.join(".gitattributes"), b"*.safetensors filter=lfs\n").unwrap();
    (tmp, model)
}

fn shards(shard_size: u64) -> HashOptions {
    HashOptions {
        serialization: Serialization::Shards { shard_size },
        ..HashOptions::default()
    }
}

/// Sign `model` into its default signature path, as `modelgate sign` does.
fn sign_into(model: &Path, options: &HashOptions, signer: &Signer) -> PathBuf {
    let signature = default_signature_path(model);
    let mut options = options.clone();
    options
        .ignore_paths
        .extend(path_within_model(model, &signature));
    let (_, bundle) = sign_model(model, &options, signer, &NoProgress).unwrap();
    fs::write(&signature, bundle).unwrap();
    signature
}

/// The key-method signer most tests use; its public key is `p256.pub.pem`.
fn p256_signer() -> Signer {
    Signer::with_key(key("p256.pem"))
}

/// Verify with `p256.pub.pem` as the only trusted key.
fn verify_p256(model: &Path, signature: &Path) -> Result<Verified, Error> {
    verify_with_keys(model, signature, &[public("p256.pub.pem")])
}

/// The certificate-method signer: the leaf key and certificate, with the
/// intermediate that links it to `root.pem`.
fn leaf_signer() -> Signer {
    Signer::with_certificate(
        key("leaf.pem"),
        cert("leaf.cert.pem"),
        certs("intermediate.pem"),
    )
    .unwrap()
}

fn mismatch(error: Error) -> ModelMismatch {
    match error {
        Error::ModelMismatch(mismatch) => *mismatch,
        other => panic!("expected a model mismatch, got: {other}"),
    }
}

fn names(manifest: &Manifest) -> Vec<&str> {
    manifest.resources.iter().map(|r| r.name.as_str()).collect()
}

// ---------------------------------------------------------------------------
// Hashing

#[test]
fn files_manifest_lists_every_file_in_model_signing_order_without_git_paths() {
    let (_tmp, model) = model_dir();
    let manifest = hash_model(&model, &HashOptions::default(), &NoProgress).unwrap();
    assert_eq!(
        names(&manifest),
        [
            "config.json",
            "empty.txt",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "tokenizer/tokenizer.json",
        ]
    );
    assert_eq!(manifest.model_name, "tiny-model");
    assert_eq!(
        manifest.params.ignore_paths,
        [".git", ".gitattributes", ".github", ".gitignore"]
    );
    // The empty file's digest is SHA-256 of nothing.
    assert_eq!(
        manifest.resources[1].digest_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn paths_sort_by_component_like_pathlib() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a.bin", "a.b", "a/b", "B", "a/a/z"] {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, name).unwrap();
    }
    let manifest = hash_model(tmp.path(), &HashOptions::default(), &NoProgress).unwrap();
    // Component-wise: ["a", ...] sorts before ["a.b"]; byte order would not.
    assert_eq!(names(&manifest), ["B", "a/a/z", "a/b", "a.b", "a.bin"]);
}

#[test]
fn shards_cover_each_non_empty_file_in_shard_size_pieces() {
    let (_tmp, model) = model_dir();
    let manifest = hash_model(&model, &shards(100_000), &NoProgress).unwrap();
    assert_eq!(
        names(&manifest),
        [
            "config.json:0:23",
            "model-00001-of-00002.safetensors:0:100000",
            "model-00001-of-00002.safetensors:100000:200000",
            "model-00001-of-00002.safetensors:200000:300000",
            "model-00002-of-00002.safetensors:0:70001",
            "tokenizer/tokenizer.json:0:2",
        ]
    );
    assert_eq!(
        manifest.params.serialization.algorithm(),
        "sha256-sharded-100000"
    );
    // A shard's digest is the SHA-256 of its bytes: a whole small file's
    // shard equals the file's digest.
    let files = hash_model(&model, &HashOptions::default(), &NoProgress).unwrap();
    assert_eq!(manifest.resources[0].digest, files.resources[0].digest);
}

#[test]
fn a_single_file_model_is_named_dot() {
    let (_tmp, model) = model_dir();
    let file = model.join("model-00002-of-00002.safetensors");
    let manifest = hash_model(&file, &HashOptions::default(), &NoProgress).unwrap();
    assert_eq!(names(&manifest), ["."]);
    assert_eq!(manifest.model_name, "model-00002-of-00002.safetensors");
    let manifest = hash_model(&file, &shards(65_536), &NoProgress).unwrap();
    assert_eq!(names(&manifest), [".:0:65536", ".:65536:70001"]);
    assert_eq!(
        default_signature_path(&file),
        model.join("model-00002-of-00002.safetensors.sig")
    );
    assert_eq!(default_signature_path(&model), model.join("model.sig"));
}

#[test]
fn symlinks_are_refused_unless_allowed() {
    let (_tmp, model) = model_dir();
    std::os::unix::fs::symlink("config.json", model.join("link.json")).unwrap();
    let error = hash_model(&model, &HashOptions::default(), &NoProgress).unwrap_err();
    assert!(
        matches!(&error, Error::Symlink { path } if path.ends_with("link.json")),
        "{error}"
    );
    let options = HashOptions {
        allow_symlinks: true,
        ..HashOptions::default()
    };
    let manifest = hash_model(&model, &options, &NoProgress).unwrap();
    let digest = |name: &str| {
        manifest
            .resources
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .digest
    };
    assert_eq!(digest("link.json"), digest("config.json"));
}

#[test]
fn ignore_paths_leave_out_files_and_directories() {
    let (_tmp, model) = model_dir();
    let options = HashOptions {
        ignore_paths: vec!["tokenizer/".to_string(), "./empty.txt".to_string()],
        ..HashOptions::default()
    };
    let manifest = hash_model(&model, &options, &NoProgress).unwrap();
    assert_eq!(
        names(&manifest),
        [
            "config.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ]
    );
    assert_eq!(
        manifest.params.ignore_paths[..2],
        ["tokenizer", "empty.txt"]
    );
    let options = HashOptions {
        ignore_paths: vec!["./".to_string()],
        ..HashOptions::default()
    };
    let error = hash_model(&model, &options, &NoProgress).unwrap_err();
    assert!(matches!(error, Error::IgnoresRoot { .. }), "{error}");
}

#[test]
fn shards_mode_refuses_names_with_a_colon() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("a:b"), b"x").unwrap();
    let error = hash_model(tmp.path(), &shards(10), &NoProgress).unwrap_err();
    assert!(matches!(error, Error::ColonInShardedPath { .. }), "{error}");
    let error = hash_model(tmp.path(), &shards(0), &NoProgress).unwrap_err();
    assert!(matches!(error, Error::ZeroShardSize), "{error}");
}

#[derive(Default)]
struct Counter {
    total: AtomicU64,
    last: AtomicU64,
}

impl Progress for Counter {
    fn start(&self, total_bytes: u64) {
        self.total.store(total_bytes, Ordering::Relaxed);
    }
    fn advance(&self, bytes_done: u64) {
        self.last.fetch_max(bytes_done, Ordering::Relaxed);
    }
}

#[test]
fn progress_reaches_the_total() {
    let (_tmp, model) = model_dir();
    let counter = Counter::default();
    hash_model(&model, &shards(50_000), &counter).unwrap();
    let total = counter.total.load(Ordering::Relaxed);
    assert_eq!(total, 23 + 300_000 + 70_001 + 2);
    assert_eq!(counter.last.load(Ordering::Relaxed), total);
}

// ---------------------------------------------------------------------------
// Round trips

#[test]
fn key_method_round_trips_for_every_curve_and_both_serializations() {
    for (private, public_name) in [
        ("p256.pem", "p256.pub.pem"),
        ("p256.sec1.pem", "p256.pub.pem"),
        ("p384.pem", "p384.pub.pem"),
        ("p521.pem", "p521.pub.pem"),
    ] {
        for options in [HashOptions::default(), shards(100_000)] {
            let (_tmp, model) = model_dir();
            let signature = sign_into(&model, &options, &Signer::with_key(key(private)));
            let trusted = [public("other.pub.pem"), public(public_name)];
            let verified = verify_with_keys(&model, &signature, &trusted)
                .unwrap_or_else(|e| panic!("{private} {options:?}: {e}"));
            assert_eq!(
                verified.signed_by,
                SignedBy::Key {
                    key_index: 1,
                    hint: trusted[1].hint()
                }
            );
            assert_eq!(
                verified.manifest.params.serialization,
                options.serialization
            );
            assert!(
                verified
                    .manifest
                    .params
                    .ignore_paths
                    .contains(&"model.sig".to_string())
            );
        }
    }
}

#[test]
fn certificate_method_round_trips_and_reports_the_chain() {
    for options in [HashOptions::default(), shards(64 * 1024)] {
        let (_tmp, model) = model_dir();
        let signature = sign_into(&model, &options, &leaf_signer());
        let authorities = [cert("other_root.pem"), cert("root.pem")];
        let verified = verify_with_certificates(&model, &signature, &authorities).unwrap();
        let SignedBy::Certificate {
            chain,
            anchor_index,
        } = verified.signed_by
        else {
            panic!("signed by a key")
        };
        assert_eq!(anchor_index, 1);
        let subjects: Vec<&str> = chain.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "CN=modelgate test signer",
                "CN=modelgate test intermediate",
                "CN=modelgate test root"
            ]
        );
    }
}

#[test]
fn the_bundle_says_who_signed_it() {
    let (_tmp, model) = model_dir();
    let manifest = hash_model(&model, &HashOptions::default(), &NoProgress).unwrap();
    let bundle = sign_manifest(&manifest, &Signer::with_key(key("p384.pem"))).unwrap();
    let parsed = Bundle::parse(&bundle).unwrap();
    assert_eq!(
        parsed.signer(),
        SignerInfo::Key {
            hint: Some(public("p384.pub.pem").hint())
        }
    );
    assert_eq!(parsed.unverified_manifest().unwrap(), manifest);

    let signer = Signer::with_certificate(key("leaf.pem"), cert("leaf.cert.pem"), vec![]).unwrap();
    let parsed = Bundle::parse(&sign_manifest(&manifest, &signer).unwrap()).unwrap();
    let SignerInfo::Certificate { chain } = parsed.signer() else {
        panic!("not a certificate bundle")
    };
    assert_eq!(chain[0].subject, "CN=modelgate test signer");
    assert_eq!(chain[0].issuer, "CN=modelgate test intermediate");
    assert_eq!(chain[0].serial, "03");
}

#[test]
fn bundle_json_has_model_signing_shape() {
    let (_tmp, model) = model_dir();
    let manifest = hash_model(&model, &shards(1_000_000), &NoProgress).unwrap();
    let bundle = sign_manifest(&manifest, &p256_signer()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        json["verificationMaterial"]["publicKey"]["hint"],
        public("p256.pub.pem").hint()
    );
    assert_eq!(
        json["verificationMaterial"]["tlogEntries"],
        serde_json::json!([])
    );
    assert_eq!(
        json["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    let statement: serde_json::Value =
        serde_json::from_slice(Bundle::parse(&bundle).unwrap().payload()).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        statement["predicateType"],
        "https://model_signing/signature/v1.0"
    );
    assert_eq!(statement["subject"][0]["name"], "tiny-model");
    let serialization = &statement["predicate"]["serialization"];
    assert_eq!(serialization["method"], "shards");
    assert_eq!(serialization["hash_type"], "sha256");
    assert_eq!(serialization["shard_size"], 1_000_000);
    assert_eq!(serialization["allow_symlinks"], false);
    assert_eq!(
        statement["predicate"]["resources"][0]["algorithm"],
        "sha256-sharded-1000000"
    );
}

#[test]
fn the_hint_is_the_sha256_of_the_public_key_pem() {
    use sha2::Digest;
    // sha256sum of the PEM file as `cryptography` writes it.
    let pem = fs::read(data("keys/p256.pub.pem")).unwrap();
    let expected: String = sha2::Sha256::digest(&pem)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(public("p256.pub.pem").hint(), expected);
    assert_eq!(public("p256.pub.pem").to_pem().as_bytes(), pem);
    // The private keys derive the same public key.
    assert_eq!(key("p256.pem").public_key(), &public("p256.pub.pem"));
    assert_eq!(key("p256.sec1.pem").public_key(), &public("p256.pub.pem"));
    assert_eq!(key("p521.pem").public_key(), &public("p521.pub.pem"));
}

// ---------------------------------------------------------------------------
// Tampering

#[test]
fn a_tampered_file_is_named() {
    for options in [HashOptions::default(), shards(100_000)] {
        let (_tmp, model) = model_dir();
        let signature = sign_into(&model, &options, &p256_signer());
        let path = model.join("model-00001-of-00002.safetensors");
        let mut bytes = fs::read(&path).unwrap();
        bytes[150_000] ^= 1;
        fs::write(&path, bytes).unwrap();
        let error = verify_p256(&model, &signature).unwrap_err();
        assert!(error.is_verification_failure());
        assert!(
            error
                .to_string()
                .contains("modified: model-00001-of-00002.safetensors"),
            "{error}"
        );
        assert_eq!(
            mismatch(error),
            ModelMismatch {
                modified: vec!["model-00001-of-00002.safetensors".to_string()],
                ..ModelMismatch::default()
            }
        );
    }
}

#[test]
fn added_removed_and_modified_files_are_all_named() {
    for options in [HashOptions::default(), shards(100_000)] {
        let (_tmp, model) = model_dir();
        let signature = sign_into(&model, &options, &p256_signer());
        fs::write(model.join("tokenizer/added.py"), b"import os").unwrap();
        fs::remove_file(model.join("config.json")).unwrap();
        // A size change moves shard boundaries: still one modified file.
        fs::write(
            model.join("model-00002-of-00002.safetensors"),
            noise(170_001, 2),
        )
        .unwrap();
        let error = verify_p256(&model, &signature).unwrap_err();
        assert_eq!(
            mismatch(error),
            ModelMismatch {
                modified: vec!["model-00002-of-00002.safetensors".to_string()],
                added: vec!["tokenizer/added.py".to_string()],
                removed: vec!["config.json".to_string()],
            },
            "{options:?}"
        );
    }
}

#[test]
fn git_files_and_the_signature_itself_may_change() {
    let (_tmp, model) = model_dir();
    let signature = sign_into(&model, &HashOptions::default(), &p256_signer());
    fs::write(model.join(".git/HEAD"), b"changed").unwrap();
    fs::write(model.join(".gitignore"), b"*.tmp").unwrap();
    verify_p256(&model, &signature).unwrap();
}

#[test]
fn the_wrong_key_is_refused() {
    let (_tmp, model) = model_dir();
    let signature = sign_into(&model, &HashOptions::default(), &p256_signer());
    let error = verify_with_keys(&model, &signature, &[public("other.pub.pem")]).unwrap_err();
    assert!(
        matches!(&error, Error::UntrustedKey { hint } if *hint == public("p256.pub.pem").hint()),
        "{error}"
    );
    let error = verify_with_certificates(&model, &signature, &certs("root.pem")).unwrap_err();
    assert!(
        matches!(error, Error::WrongVerificationMaterial { .. }),
        "{error}"
    );
}

#[test]
fn a_bundle_without_hint_is_checked_against_every_trusted_key() {
    let (_tmp, model) = model_dir();
    let signature = sign_into(&model, &HashOptions::default(), &p256_signer());
    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(&signature).unwrap()).unwrap();
    json["verificationMaterial"]["publicKey"]
        .as_object_mut()
        .unwrap()
        .remove("hint");
    fs::write(&signature, serde_json::to_vec(&json).unwrap()).unwrap();
    verify_with_keys(
        &model,
        &signature,
        &[public("other.pub.pem"), public("p256.pub.pem")],
    )
    .unwrap();
    let error = verify_with_keys(&model, &signature, &[public("other.pub.pem")]).unwrap_err();
    assert!(matches!(error, Error::BadSignature { .. }), "{error}");
}

#[test]
fn a_changed_payload_breaks_the_signature() {
    let (_tmp, model) = model_dir();
    let signature = sign_into(&model, &HashOptions::default(), &p256_signer());
    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(&signature).unwrap()).unwrap();
    let payload = Bundle::parse(&fs::read(&signature).unwrap())
        .unwrap()
        .payload()
        .to_vec();
    // Drop a resource and fix the root digest: consistent, but not signed.
    let mut statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    statement["predicate"]["resources"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let forged = Manifest::from_statement_json(&serde_json::to_vec(&statement).unwrap());
    assert!(matches!(forged, Err(Error::RootDigestMismatch { .. })));
    use base64::Engine as _;
    json["dsseEnvelope"]["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&statement).unwrap())
        .into();
    fs::write(&signature, serde_json::to_vec(&json).unwrap()).unwrap();
    let error = verify_p256(&model, &signature).unwrap_err();
    assert!(matches!(error, Error::BadSignature { .. }), "{error}");
}

#[test]
fn truncated_or_garbled_bundles_are_clean_errors() {
    let (_tmp, model) = model_dir();
    let manifest = hash_model(&model, &HashOptions::default(), &NoProgress).unwrap();
    let bundle = sign_manifest(&manifest, &leaf_signer()).unwrap();
    let trust = [cert("root.pem")];
    for end in (0..bundle.len()).step_by(5) {
        let result = verify(
            &model,
            &bundle[..end],
            Trust::CertificateAuthorities(&trust),
            &VerifyOptions::default(),
            &NoProgress,
        );
        let error = result.unwrap_err();
        assert!(error.is_verification_failure(), "{end}: {error}");
    }
    // Flip each byte of the first kilobyte in turn (the media type and the
    // certificates): never a panic, and never a success.
    for index in 0..bundle.len().min(1024) {
        let mut garbled = bundle.clone();
        garbled[index] = garbled[index].wrapping_add(1);
        let result = verify(
            &model,
            &garbled,
            Trust::CertificateAuthorities(&trust),
            &VerifyOptions::default(),
            &NoProgress,
        );
        assert!(result.is_err(), "byte {index} changed, and still verified");
    }
    for text in ["", "{}", "[]", "null", "{\"mediaType\": 3}", "\u{0}"] {
        assert!(Bundle::parse(text.as_bytes()).is_err(), "{text:?}");
    }
    // Arrays are capped while they are read.
    let many = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{}}}},"dsseEnvelope":{{"payload":"","payloadType":"","signatures":[{}{{}}]}}}}"#,
        "{},".repeat(16)
    );
    let error = Bundle::parse(many.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("more than 16"), "{error}");
    let subjects = format!(r#"{{"subject":[{}{{}}]}}"#, "{},".repeat(16));
    let error = Manifest::from_statement_json(subjects.as_bytes()).unwrap_err();
    assert!(
        error.to_string().contains("subject: more than 16"),
        "{error}"
    );
    let error = Bundle::parse(br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":""}},"dsseEnvelope":{}}"#).unwrap_err();
    assert!(error.to_string().contains("keyless"), "{error}");
}

#[test]
fn a_statement_naming_a_file_twice_is_refused() {
    let (_tmp, model) = model_dir();
    let mut manifest = hash_model(&model, &HashOptions::default(), &NoProgress).unwrap();
    let first = manifest.resources[0].clone();
    manifest.resources.push(first);
    // statement_json writes a subject digest that matches the entries.
    let error = Manifest::from_statement_json(&manifest.statement_json()).unwrap_err();
    assert!(
        matches!(&error, Error::Statement { field, .. } if field == "predicate.resources[5].name"),
        "{error}"
    );
}

#[test]
fn shard_size_written_as_a_double_is_read() {
    // model_signing writes statements through a protobuf Struct: numbers
    // come out as doubles ("shard_size": 1024.0).
    let (_tmp, model) = model_dir();
    let manifest = hash_model(&model, &shards(1024), &NoProgress).unwrap();
    let json = String::from_utf8(manifest.statement_json()).unwrap();
    let as_double = json.replace("\"shard_size\": 1024,", "\"shard_size\": 1024.0,");
    assert_ne!(json, as_double);
    assert_eq!(
        Manifest::from_statement_json(as_double.as_bytes()).unwrap(),
        manifest
    );
    for bad in ["1024.5", "-1024", "0", "\"1024\"", "1e300"] {
        let text = json.replace("\"shard_size\": 1024,", &format!("\"shard_size\": {bad},"));
        assert!(
            Manifest::from_statement_json(text.as_bytes()).is_err(),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------
// Certificates

fn sign_with_leaf(model: &Path, leaf: &str, chain: &[&str]) -> PathBuf {
    let chain = chain.iter().flat_map(|name| certs(name)).collect();
    let signer = Signer::with_certificate(key("leaf.pem"), cert(leaf), chain).unwrap();
    sign_into(model, &HashOptions::default(), &signer)
}

fn chain_error(leaf: &str, chain: &[&str], roots: &str) -> String {
    let (_tmp, model) = model_dir();
    let signature = sign_with_leaf(&model, leaf, chain);
    let error = verify_with_certificates(&model, &signature, &certs(roots)).unwrap_err();
    assert!(error.is_verification_failure(), "{error}");
    assert!(matches!(error, Error::UntrustedChain { .. }), "{error}");
    error.to_string()
}

#[test]
fn chains_that_model_signing_refuses_are_refused() {
    let error = chain_error("leaf.cert.pem", &["intermediate.pem"], "other_root.pem");
    assert!(
        error.contains("neither trusted nor in the signature"),
        "{error}"
    );
    let error = chain_error("leaf.cert.pem", &[], "root.pem");
    assert!(error.contains("modelgate test intermediate"), "{error}");
    let error = chain_error("leaf_no_usage.cert.pem", &["intermediate.pem"], "root.pem");
    assert!(error.contains("cannot be used for signing"), "{error}");
    let error = chain_error("leaf_under_not_ca.cert.pem", &["not_ca.pem"], "root.pem");
    assert!(error.contains("is not a CA"), "{error}");
    let error = chain_error(
        "leaf_under_expired.cert.pem",
        &["expired_intermediate.pem"],
        "root.pem",
    );
    assert!(error.contains("not valid at"), "{error}");
}

#[test]
fn validity_is_checked_when_the_signing_certificate_was_issued() {
    // model_signing checks the chain at the signing certificate's notBefore:
    // a long-expired signing certificate still verifies.
    let (_tmp, model) = model_dir();
    let signature = sign_with_leaf(&model, "leaf_old.cert.pem", &["intermediate.pem"]);
    verify_with_certificates(&model, &signature, &certs("root.pem")).unwrap();
}

#[test]
fn rsa_certificate_authorities_are_supported() {
    let (_tmp, model) = model_dir();
    let signature = sign_with_leaf(&model, "leaf_under_rsa.cert.pem", &[]);
    let verified = verify_with_certificates(&model, &signature, &certs("rsa_root.pem")).unwrap();
    assert!(matches!(verified.signed_by, SignedBy::Certificate { .. }));
}

#[test]
fn an_intermediate_can_be_the_trusted_certificate() {
    let (_tmp, model) = model_dir();
    let signature = sign_with_leaf(&model, "leaf.cert.pem", &["intermediate.pem"]);
    verify_with_certificates(&model, &signature, &certs("intermediate.pem")).unwrap();
}

#[test]
fn the_signing_certificate_must_certify_the_key() {
    let error =
        Signer::with_certificate(key("p256.pem"), cert("leaf.cert.pem"), vec![]).unwrap_err();
    assert!(matches!(error, Error::CertificateKeyMismatch), "{error}");
}

#[test]
fn a_certificate_with_too_many_extensions_is_refused() {
    use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
    use x509_cert::der::{Decode, Encode};
    let der = cert("leaf.cert.pem").to_der().to_vec();
    let with_extensions = |n_extra: u32| {
        let mut parsed = x509_cert::Certificate::from_der(&der).unwrap();
        let extensions = parsed.tbs_certificate.extensions.get_or_insert_default();
        for arc in 0..n_extra {
            extensions.push(x509_cert::ext::Extension {
                extn_id: ObjectIdentifier::new(&format!("1.3.6.1.4.1.99999.{arc}")).unwrap(),
                critical: false,
                extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
            });
        }
        parsed.to_der().unwrap()
    };
    let n_present = x509_cert::Certificate::from_der(&der)
        .unwrap()
        .tbs_certificate
        .extensions
        .map_or(0, |e| e.len());
    let n_extra = u32::try_from(MAX_CERTIFICATE_EXTENSIONS - n_present).unwrap();
    Certificate::from_der(&with_extensions(n_extra)).unwrap();
    let error = Certificate::from_der(&with_extensions(n_extra + 1)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("more than {MAX_CERTIFICATE_EXTENSIONS}")),
        "{error}"
    );
}

#[test]
fn keys_and_certificates_that_are_not_pem_are_errors() {
    assert!(PublicKey::from_pem("").is_err());
    assert!(PublicKey::from_pem(&fs::read_to_string(data("keys/p256.pem")).unwrap()).is_err());
    assert!(PrivateKey::from_pem(&fs::read_to_string(data("keys/p256.pub.pem")).unwrap()).is_err());
    let error = PublicKey::from_pem(
        &fs::read_to_string(data("keys/rsa_root.pem"))
            .unwrap()
            .replace("CERTIFICATE", "PUBLIC KEY"),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Key { .. }), "{error}");
    assert!(
        Certificate::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    assert!(Certificate::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
}

// ---------------------------------------------------------------------------
// model_signing's own signatures (committed)

#[test]
fn model_signing_key_signatures_verify() {
    for version in ["v1.0.1", "v1.1.0"] {
        let model = data(&format!("upstream/{version}-elliptic-key"));
        let trusted = PublicKey::from_pem(
            &fs::read_to_string(data("upstream/keys/signing-key-pub.pem")).unwrap(),
        )
        .unwrap();
        let options = VerifyOptions {
            ignore_paths: vec!["model.sig".to_string(), "ignore-me".to_string()],
            ..VerifyOptions::default()
        };
        let bytes = fs::read(model.join("model.sig")).unwrap();
        let verified = verify(
            &model,
            &bytes,
            Trust::Keys(&[trusted]),
            &options,
            &NoProgress,
        )
        .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(names(&verified.manifest), ["signme-1", "signme-2"]);
    }
}

#[test]
fn model_signing_certificate_signatures_with_rsa_chains_verify() {
    for version in ["v1.0.1", "v1.1.0"] {
        let model = data(&format!("upstream/{version}-certificate"));
        let authorities =
            Certificate::from_pem(&fs::read_to_string(data("upstream/keys/ca-cert.pem")).unwrap())
                .unwrap();
        let options = VerifyOptions {
            ignore_paths: vec!["model.sig".to_string(), "ignore-me".to_string()],
            ..VerifyOptions::default()
        };
        let bytes = fs::read(model.join("model.sig")).unwrap();
        let verified = verify(
            &model,
            &bytes,
            Trust::CertificateAuthorities(&authorities),
            &options,
            &NoProgress,
        )
        .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(names(&verified.manifest), ["signme-1", "signme-2"]);
    }
}

// ---------------------------------------------------------------------------
// Interoperability with the model-signing package, both directions

fn python() -> PathBuf {
    let python = std::env::var_os("MODELGATE_PYTHON").unwrap_or_else(|| {
        panic!(
            "MODELGATE_PYTHON is not set: the interop tests run model-signing 1.1.1. \
             Run `export MODELGATE_PYTHON=$(scripts/venv.sh)` (scripts/test.sh does this)"
        )
    });
    PathBuf::from(python)
}

/// Run `python ARGS` in `dir`; panic with its output unless it succeeds.
fn run_python(dir: &Path, args: &[&str]) {
    let output = Command::new(python())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run $MODELGATE_PYTHON: {e}; run scripts/venv.sh"));
    assert!(
        output.status.success(),
        "python {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn key_path(name: &str) -> String {
    data(&format!("keys/{name}")).to_str().unwrap().to_string()
}

#[test]
fn interop_model_signing_cli_verifies_our_key_signatures() {
    for (private, public_name) in [("p256.pem", "p256.pub.pem"), ("p384.pem", "p384.pub.pem")] {
        let (tmp, model) = model_dir();
        let signature = sign_into(
            &model,
            &HashOptions::default(),
            &Signer::with_key(key(private)),
        );
        run_python(
            tmp.path(),
            &[
                "-m",
                "model_signing",
                "verify",
                "key",
                model.to_str().unwrap(),
                "--signature",
                signature.to_str().unwrap(),
                "--public_key",
                &key_path(public_name),
            ],
        );
    }
}

#[test]
fn interop_model_signing_cli_verifies_our_certificate_signatures() {
    let (tmp, model) = model_dir();
    let signature = sign_with_leaf(&model, "leaf.cert.pem", &["intermediate.pem"]);
    run_python(
        tmp.path(),
        &[
            "-m",
            "model_signing",
            "verify",
            "certificate",
            model.to_str().unwrap(),
            "--signature",
            signature.to_str().unwrap(),
            "--certificate_chain",
            &key_path("root.pem"),
        ],
    );
}

/// model_signing's CLI has no shards option (its `verify` always hashes
/// files), so shards go through its Python API, which reads the
/// serialization from the signature.
const PY_VERIFY_SHARDS: &str = r#"
import sys, model_signing
model, signature, method, trusted = sys.argv[1:5]
config = model_signing.verifying.Config()
if method == "key":
    config = config.use_elliptic_key_verifier(public_key=trusted)
else:
    config = config.use_certificate_verifier(certificate_chain=[trusted])
config.verify(model, signature)
"#;

#[test]
fn interop_model_signing_verifies_our_shard_signatures() {
    let (tmp, model) = model_dir();
    let signature = sign_into(&model, &shards(100_000), &p256_signer());
    run_python(
        tmp.path(),
        &[
            "-c",
            PY_VERIFY_SHARDS,
            model.to_str().unwrap(),
            signature.to_str().unwrap(),
            "key",
            &key_path("p256.pub.pem"),
        ],
    );
    let (tmp, model) = model_dir();
    let signature = sign_into(&model, &shards(65_536), &leaf_signer());
    run_python(
        tmp.path(),
        &[
            "-c",
            PY_VERIFY_SHARDS,
            model.to_str().unwrap(),
            signature.to_str().unwrap(),
            "certificate",
            &key_path("root.pem"),
        ],
    );
}

#[test]
fn interop_model_signing_cli_detects_what_we_detect() {
    let (tmp, model) = model_dir();
    let signature = sign_into(&model, &HashOptions::default(), &p256_signer());
    fs::write(model.join("config.json"), b"{}").unwrap();
    let output = Command::new(python())
        .args(["-m", "model_signing", "verify", "key"])
        .arg(&model)
        .arg("--signature")
        .arg(&signature)
        .arg("--public_key")
        .arg(key_path("p256.pub.pem"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("config.json"));
}

#[test]
fn interop_we_verify_model_signing_cli_signatures() {
    // Key method, files (the CLI's only serialization), P-256 and P-384.
    for (private, public_name) in [("p256.pem", "p256.pub.pem"), ("p384.pem", "p384.pub.pem")] {
        let (tmp, model) = model_dir();
        let signature = model.join("model.sig");
        run_python(
            tmp.path(),
            &[
                "-m",
                "model_signing",
                "sign",
                "key",
                model.to_str().unwrap(),
                "--signature",
                signature.to_str().unwrap(),
                "--private_key",
                &key_path(private),
            ],
        );
        let verified = verify_with_keys(&model, &signature, &[public(public_name)]).unwrap();
        assert_eq!(verified.manifest.resources.len(), 5);
        assert_eq!(
            verified.manifest,
            hash_model(
                &model,
                &HashOptions {
                    ignore_paths: vec!["model.sig".to_string()],
                    ..HashOptions::default()
                },
                &NoProgress
            )
            .map(|mut m| {
                // Their ignore_paths come from a Python set: any order.
                m.params.ignore_paths = verified.manifest.params.ignore_paths.clone();
                m
            })
            .unwrap()
        );
        // And it fails on a change, naming the file.
        fs::write(model.join("tokenizer/tokenizer.json"), b"[]").unwrap();
        let error = verify_with_keys(&model, &signature, &[public(public_name)]).unwrap_err();
        assert_eq!(mismatch(error).modified, ["tokenizer/tokenizer.json"]);
    }
    // Certificate method.
    let (tmp, model) = model_dir();
    let signature = tmp.path().join("outside.sig");
    run_python(
        tmp.path(),
        &[
            "-m",
            "model_signing",
            "sign",
            "certificate",
            model.to_str().unwrap(),
            "--signature",
            signature.to_str().unwrap(),
            "--private_key",
            &key_path("leaf.pem"),
            "--signing_certificate",
            &key_path("leaf.cert.pem"),
            "--certificate_chain",
            &key_path("intermediate.pem"),
        ],
    );
    let verified = verify_with_certificates(&model, &signature, &certs("root.pem")).unwrap();
    assert!(matches!(verified.signed_by, SignedBy::Certificate { .. }));
}

const PY_SIGN_SHARDS: &str = r#"
import sys, model_signing
model, signature, method, shard_size = sys.argv[1:5]
keys = sys.argv[5:]
config = model_signing.signing.Config()
if method == "key":
    config = config.use_elliptic_key_signer(private_key=keys[0])
else:
    config = config.use_certificate_signer(
        private_key=keys[0], signing_certificate=keys[1], certificate_chain=keys[2:])
config.set_hashing_config(
    model_signing.hashing.Config()
    .use_shard_serialization(shard_size=int(shard_size))
    .set_ignored_paths(paths=["model.sig"])
).sign(model, signature)
"#;

#[test]
fn interop_we_verify_model_signing_shard_signatures() {
    let (tmp, model) = model_dir();
    let signature = model.join("model.sig");
    run_python(
        tmp.path(),
        &[
            "-c",
            PY_SIGN_SHARDS,
            model.to_str().unwrap(),
            signature.to_str().unwrap(),
            "key",
            "100000",
            &key_path("p256.pem"),
        ],
    );
    let verified = verify_p256(&model, &signature).unwrap();
    assert_eq!(
        verified.manifest.params.serialization,
        Serialization::Shards {
            shard_size: 100_000
        }
    );
    assert_eq!(verified.manifest.resources.len(), 6);

    let (tmp, model) = model_dir();
    let signature = model.join("model.sig");
    run_python(
        tmp.path(),
        &[
            "-c",
            PY_SIGN_SHARDS,
            model.to_str().unwrap(),
            signature.to_str().unwrap(),
            "certificate",
            "65536",
            &key_path("leaf.pem"),
            &key_path("leaf.cert.pem"),
            &key_path("intermediate.pem"),
        ],
    );
    verify_with_certificates(&model, &signature, &certs("root.pem")).unwrap();
    fs::remove_file(model.join("empty.txt")).unwrap();
    // An empty file has no shard: removing it changes nothing, as in
    // model_signing.
    verify_with_certificates(&model, &signature, &certs("root.pem")).unwrap();
    fs::write(model.join("model-00002-of-00002.safetensors"), b"x").unwrap();
    let error = verify_with_certificates(&model, &signature, &certs("root.pem")).unwrap_err();
    assert_eq!(
        mismatch(error).modified,
        ["model-00002-of-00002.safetensors"]
    );
}
