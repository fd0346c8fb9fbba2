//! End-to-end tests of `modelgate sign` and `modelgate verify`: real model
//! directories, the test keys and certificates of crates/signing, exit codes
//! and JSON, and the `model-signing` package's CLI in both directions
//! (`$MODELGATE_PYTHON`, see scripts/venv.sh).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn key(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signing/tests/data/keys")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// A small snapshot: two weight shards, a config, a nested tokenizer file,
/// and a .git directory that signing leaves out.
fn model_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny-model");
    fs::create_dir_all(model.join("tokenizer")).unwrap();
    fs::create_dir_all(model.join(".git")).unwrap();
    fs::write(model.join("config.json"), br#"{"model_type": "llama"}"#).unwrap();
    let weights: Vec<u8> = (0..250_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(model.join("model-00001-of-00002.safetensors"), &weights).unwrap();
    fs::write(
        model.join("model-00002-of-00002.safetensors"),
        &weights[..1000],
    )
    .unwrap();
    fs::write(model.join("tokenizer/tokenizer.json"), b"{}").unwrap();
    fs::write(model.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    (tmp, model)
}

fn modelgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", describe(output)))
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

#[test]
fn sign_then_verify_with_a_key() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    let output = modelgate(tmp.path(), &["sign", m, "--key", &key("p256.pem")]);
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert!(stdout(&output).contains("signed"), "{}", describe(&output));
    assert!(model.join("model.sig").is_file());

    let output = modelgate(
        tmp.path(),
        &["verify", m, "--public-key", &key("p256.pub.pem")],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert!(
        stdout(&output).starts_with("verified"),
        "{}",
        describe(&output)
    );

    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--public-key",
            &key("p256.pub.pem"),
            "--format",
            "json",
        ],
    );
    let report = json(&output);
    assert_eq!(report["verified"], true);
    assert_eq!(report["serialization"], "files");
    assert_eq!(report["files"], 4);
    assert_eq!(report["signed_by"]["method"], "key");
    assert_eq!(report["signed_by"]["public_key"], key("p256.pub.pem"));
}

#[test]
fn verify_names_every_modified_added_and_removed_file() {
    for serialization in ["files", "shards"] {
        let (tmp, model) = model_dir();
        let m = model.to_str().unwrap();
        let output = modelgate(
            tmp.path(),
            &[
                "sign",
                m,
                "--key",
                &key("p384.pem"),
                "--serialization",
                serialization,
                "--shard-size",
                "100000",
            ],
        );
        assert_eq!(code(&output), 0, "{}", describe(&output));
        fs::write(model.join("model-00002-of-00002.safetensors"), b"tampered").unwrap();
        fs::write(model.join("tokenizer/extra.py"), b"import os").unwrap();
        fs::remove_file(model.join("config.json")).unwrap();

        let output = modelgate(
            tmp.path(),
            &["verify", m, "--public-key", &key("p384.pub.pem")],
        );
        assert_eq!(code(&output), 1, "{}", describe(&output));
        let text = stdout(&output);
        for expected in [
            "NOT VERIFIED",
            "modified  model-00002-of-00002.safetensors",
            "added     tokenizer/extra.py",
            "removed   config.json",
            "Do not use this model",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} in {}",
                describe(&output)
            );
        }

        let output = modelgate(
            tmp.path(),
            &[
                "verify",
                m,
                "--public-key",
                &key("p384.pub.pem"),
                "--format",
                "json",
            ],
        );
        assert_eq!(code(&output), 1);
        let report = json(&output);
        assert_eq!(report["verified"], false);
        assert_eq!(
            report["modified"],
            serde_json::json!(["model-00002-of-00002.safetensors"])
        );
        assert_eq!(report["added"], serde_json::json!(["tokenizer/extra.py"]));
        assert_eq!(report["removed"], serde_json::json!(["config.json"]));
    }
}

#[test]
fn sign_then_verify_with_a_certificate_in_shards() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    let signature = tmp.path().join("release.sig");
    let s = signature.to_str().unwrap();
    let output = modelgate(
        tmp.path(),
        &[
            "sign",
            m,
            "--key",
            &key("leaf.pem"),
            "--signing-certificate",
            &key("leaf.cert.pem"),
            "--certificate-chain",
            &key("intermediate.pem"),
            "--serialization",
            "shards",
            "--shard-size",
            "65536",
            "--signature",
            s,
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let report = json(&output);
    assert_eq!(report["resources"], 7);
    assert_eq!(
        report["signer"]["chain"][0]["subject"],
        "CN=modelgate test signer"
    );

    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--certificate-chain",
            &key("root.pem"),
            "--signature",
            s,
        ],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert!(stdout(&output).contains("CN=modelgate test root"));

    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--certificate-chain",
            &key("other_root.pem"),
            "--signature",
            s,
        ],
    );
    assert_eq!(code(&output), 1, "{}", describe(&output));
    assert!(
        stdout(&output).contains("--certificate-chain"),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_single_file_is_signed_beside_itself() {
    let (tmp, model) = model_dir();
    let file = model.join("model-00001-of-00002.safetensors");
    let f = file.to_str().unwrap();
    let output = modelgate(tmp.path(), &["sign", f, "--key", &key("p521.pem")]);
    assert_eq!(code(&output), 0, "{}", describe(&output));
    assert!(model.join("model-00001-of-00002.safetensors.sig").is_file());
    let output = modelgate(
        tmp.path(),
        &["verify", f, "--public-key", &key("p521.pub.pem")],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
}

#[test]
fn wrong_keys_and_broken_signatures_fail_with_exit_1() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    assert_eq!(
        code(&modelgate(
            tmp.path(),
            &["sign", m, "--key", &key("p256.pem")]
        )),
        0
    );

    let output = modelgate(
        tmp.path(),
        &["verify", m, "--public-key", &key("other.pub.pem")],
    );
    assert_eq!(code(&output), 1, "{}", describe(&output));
    assert!(
        stdout(&output).contains("not a trusted key"),
        "{}",
        describe(&output)
    );

    let signature = model.join("model.sig");
    let bytes = fs::read(&signature).unwrap();
    for garbled in [
        bytes[..bytes.len() / 2].to_vec(),
        b"{}".to_vec(),
        b"\xff\xfe not json".to_vec(),
        bytes
            .iter()
            .map(|b| if *b == b'A' { b'B' } else { *b })
            .collect(),
    ] {
        fs::write(&signature, &garbled).unwrap();
        let output = modelgate(
            tmp.path(),
            &["verify", m, "--public-key", &key("p256.pub.pem")],
        );
        assert_eq!(code(&output), 1, "{}", describe(&output));
        assert!(
            stdout(&output).contains("NOT VERIFIED"),
            "{}",
            describe(&output)
        );
    }
}

#[test]
fn usage_errors_and_unreadable_inputs_exit_2() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    // No signature yet.
    let output = modelgate(
        tmp.path(),
        &["verify", m, "--public-key", &key("p256.pub.pem")],
    );
    assert_eq!(code(&output), 2, "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("model.sig"),
        "{}",
        describe(&output)
    );
    // Neither a key nor a CA.
    assert_eq!(code(&modelgate(tmp.path(), &["verify", m])), 2);
    // Both.
    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--public-key",
            &key("p256.pub.pem"),
            "--certificate-chain",
            &key("root.pem"),
        ],
    );
    assert_eq!(code(&output), 2);
    // A public key where a private key belongs.
    let output = modelgate(tmp.path(), &["sign", m, "--key", &key("p256.pub.pem")]);
    assert_eq!(code(&output), 2, "{}", describe(&output));
    // A chain without a signing certificate.
    let output = modelgate(
        tmp.path(),
        &[
            "sign",
            m,
            "--key",
            &key("leaf.pem"),
            "--certificate-chain",
            &key("intermediate.pem"),
        ],
    );
    assert_eq!(code(&output), 2);
    // A certificate that does not certify the key.
    let output = modelgate(
        tmp.path(),
        &[
            "sign",
            m,
            "--key",
            &key("p256.pem"),
            "--signing-certificate",
            &key("leaf.cert.pem"),
        ],
    );
    assert_eq!(code(&output), 2, "{}", describe(&output));
    // A missing model.
    let output = modelgate(
        tmp.path(),
        &["sign", "no-such-model", "--key", &key("p256.pem")],
    );
    assert_eq!(code(&output), 2);
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    for command in ["sign", "verify"] {
        let output = modelgate(tmp.path(), &[command, "--help"]);
        assert_eq!(code(&output), 0);
        let text = stdout(&output);
        assert!(text.contains("Examples:"), "{text}");
        assert!(text.contains("Exit codes:"), "{text}");
        assert!(text.contains(&format!("modelgate {command} ")), "{text}");
    }
}

// ---------------------------------------------------------------------------
// With the model-signing package's own CLI

fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("MODELGATE_PYTHON").unwrap_or_else(|| {
        panic!(
            "MODELGATE_PYTHON is not set: these tests run model-signing 1.1.1. \
             Run `export MODELGATE_PYTHON=$(scripts/venv.sh)` (scripts/test.sh does this)"
        )
    }))
}

fn model_signing(dir: &Path, args: &[&str]) -> Output {
    Command::new(python())
        .args(["-m", "model_signing"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run $MODELGATE_PYTHON: {e}; run scripts/venv.sh"))
}

#[test]
fn interop_model_signing_verifies_what_modelgate_signs() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    let sig = model.join("model.sig");
    let s = sig.to_str().unwrap();
    assert_eq!(
        code(&modelgate(
            tmp.path(),
            &["sign", m, "--key", &key("p256.pem")]
        )),
        0
    );
    let output = model_signing(
        tmp.path(),
        &[
            "verify",
            "key",
            m,
            "--signature",
            s,
            "--public_key",
            &key("p256.pub.pem"),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));

    let output = modelgate(
        tmp.path(),
        &[
            "sign",
            m,
            "--key",
            &key("leaf.pem"),
            "--signing-certificate",
            &key("leaf.cert.pem"),
            "--certificate-chain",
            &key("intermediate.pem"),
        ],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let output = model_signing(
        tmp.path(),
        &[
            "verify",
            "certificate",
            m,
            "--signature",
            s,
            "--certificate_chain",
            &key("root.pem"),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
}

#[test]
fn interop_modelgate_verifies_what_model_signing_signs() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    // model_signing's default signature is ./model.sig in the working
    // directory, outside the model.
    let output = model_signing(
        tmp.path(),
        &["sign", "key", m, "--private_key", &key("p384.pem")],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--public-key",
            &key("p384.pub.pem"),
            "--signature",
            "model.sig",
        ],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));

    let output = model_signing(
        tmp.path(),
        &[
            "sign",
            "certificate",
            m,
            "--private_key",
            &key("leaf.pem"),
            "--signing_certificate",
            &key("leaf.cert.pem"),
            "--certificate_chain",
            &key("intermediate.pem"),
            "--signature",
            "cert.sig",
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--certificate-chain",
            &key("root.pem"),
            "--signature",
            "cert.sig",
        ],
    );
    assert_eq!(code(&output), 0, "{}", describe(&output));
    fs::write(model.join("config.json"), b"{}").unwrap();
    let output = modelgate(
        tmp.path(),
        &[
            "verify",
            m,
            "--certificate-chain",
            &key("root.pem"),
            "--signature",
            "cert.sig",
        ],
    );
    assert_eq!(code(&output), 1, "{}", describe(&output));
    assert!(
        stdout(&output).contains("modified  config.json"),
        "{}",
        describe(&output)
    );
}
