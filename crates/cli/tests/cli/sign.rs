//! End-to-end tests of `modelgate sign` and `modelgate verify`: real model
//! directories, the test keys and certificates of crates/signing, exit codes
//! and JSON, and the `model-signing` package's CLI in both directions
//! (`$MODELGATE_PYTHON`, see scripts/venv.sh).

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

/// Run `modelgate ARGS` in `dir` and check its exit code; on a mismatch,
/// show the command and everything it printed.
fn run(dir: &Path, args: &[&str], expected_code: i32) -> Output {
    let output = modelgate(dir, args);
    assert_eq!(
        code(&output),
        expected_code,
        "modelgate {}\n{}",
        args.join(" "),
        describe(&output)
    );
    output
}

fn assert_stdout_contains(output: &Output, expected: &str) {
    assert!(
        stdout(output).contains(expected),
        "{expected:?} not in {}",
        describe(output)
    );
}

#[test]
fn sign_then_verify_with_a_key() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    let output = run(tmp.path(), &["sign", m, "--key", &key("p256.pem")], 0);
    assert_stdout_contains(&output, "signed");
    assert!(model.join("model.sig").is_file());

    let verify = ["verify", m, "--public-key", &key("p256.pub.pem")];
    let output = run(tmp.path(), &verify, 0);
    assert!(
        stdout(&output).starts_with("verified"),
        "{}",
        describe(&output)
    );

    let report = json(&run(
        tmp.path(),
        &[&verify[..], &["--format", "json"]].concat(),
        0,
    ));
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
        let sign = [
            "sign",
            m,
            "--key",
            &key("p384.pem"),
            "--serialization",
            serialization,
            "--shard-size",
            "100000",
        ];
        run(tmp.path(), &sign, 0);
        fs::write(model.join("model-00002-of-00002.safetensors"), b"tampered").unwrap();
        fs::write(model.join("tokenizer/extra.py"), b"import os").unwrap();
        fs::remove_file(model.join("config.json")).unwrap();

        let verify = ["verify", m, "--public-key", &key("p384.pub.pem")];
        let output = run(tmp.path(), &verify, 1);
        for expected in [
            "NOT VERIFIED",
            "modified  model-00002-of-00002.safetensors",
            "added     tokenizer/extra.py",
            "removed   config.json",
            "Do not use this model",
        ] {
            assert_stdout_contains(&output, expected);
        }

        let report = json(&run(
            tmp.path(),
            &[&verify[..], &["--format", "json"]].concat(),
            1,
        ));
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
    let sign = [
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
    ];
    let report = json(&run(tmp.path(), &sign, 0));
    assert_eq!(report["resources"], 7);
    assert_eq!(
        report["signer"]["chain"][0]["subject"],
        "CN=modelgate test signer"
    );

    let verify_with_ca = |ca: &str, expected_code: i32| {
        run(
            tmp.path(),
            &[
                "verify",
                m,
                "--certificate-chain",
                &key(ca),
                "--signature",
                s,
            ],
            expected_code,
        )
    };
    assert_stdout_contains(&verify_with_ca("root.pem", 0), "CN=modelgate test root");
    assert_stdout_contains(&verify_with_ca("other_root.pem", 1), "--certificate-chain");
}

#[test]
fn a_single_file_is_signed_beside_itself() {
    let (tmp, model) = model_dir();
    let file = model.join("model-00001-of-00002.safetensors");
    let f = file.to_str().unwrap();
    run(tmp.path(), &["sign", f, "--key", &key("p521.pem")], 0);
    assert!(model.join("model-00001-of-00002.safetensors.sig").is_file());
    run(
        tmp.path(),
        &["verify", f, "--public-key", &key("p521.pub.pem")],
        0,
    );
}

#[test]
fn wrong_keys_and_broken_signatures_fail_with_exit_1() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    run(tmp.path(), &["sign", m, "--key", &key("p256.pem")], 0);

    let output = run(
        tmp.path(),
        &["verify", m, "--public-key", &key("other.pub.pem")],
        1,
    );
    assert_stdout_contains(&output, "not a trusted key");

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
        let output = run(
            tmp.path(),
            &["verify", m, "--public-key", &key("p256.pub.pem")],
            1,
        );
        assert_stdout_contains(&output, "NOT VERIFIED");
    }
}

#[test]
fn an_oversized_signature_and_a_symlink_fail_with_exit_1_and_their_own_advice() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    run(tmp.path(), &["sign", m, "--key", &key("p256.pem")], 0);
    let verify = ["verify", m, "--public-key", &key("p256.pub.pem")];

    std::os::unix::fs::symlink("config.json", model.join("link.json")).unwrap();
    let output = run(tmp.path(), &verify, 1);
    assert_stdout_contains(&output, "link.json is a symbolic link");
    assert_stdout_contains(&output, "without following symbolic links");
    fs::remove_file(model.join("link.json")).unwrap();

    // Sparse: the size is refused before anything is read.
    let size = 200_000_000;
    fs::File::create(model.join("model.sig"))
        .unwrap()
        .set_len(size)
        .unwrap();
    let output = run(tmp.path(), &verify, 1);
    assert_stdout_contains(&output, &format!("signature is {size} bytes"));
    assert_stdout_contains(&output, "is not a valid model signature");
}

#[test]
fn usage_errors_and_unreadable_inputs_exit_2() {
    let (tmp, model) = model_dir();
    let m = model.to_str().unwrap();
    // No signature yet.
    let output = run(
        tmp.path(),
        &["verify", m, "--public-key", &key("p256.pub.pem")],
        2,
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("model.sig"),
        "{}",
        describe(&output)
    );
    // Neither a key nor a CA.
    run(tmp.path(), &["verify", m], 2);
    // Both.
    run(
        tmp.path(),
        &[
            "verify",
            m,
            "--public-key",
            &key("p256.pub.pem"),
            "--certificate-chain",
            &key("root.pem"),
        ],
        2,
    );
    // A public key where a private key belongs.
    run(tmp.path(), &["sign", m, "--key", &key("p256.pub.pem")], 2);
    // A chain without a signing certificate.
    run(
        tmp.path(),
        &[
            "sign",
            m,
            "--key",
            &key("leaf.pem"),
            "--certificate-chain",
            &key("intermediate.pem"),
        ],
        2,
    );
    // A certificate that does not certify the key.
    run(
        tmp.path(),
        &[
            "sign",
            m,
            "--key",
            &key("p256.pem"),
            "--signing-certificate",
            &key("leaf.cert.pem"),
        ],
        2,
    );
    // A missing model.
    run(
        tmp.path(),
        &["sign", "no-such-model", "--key", &key("p256.pem")],
        2,
    );
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    for command in ["sign", "verify"] {
        let output = run(tmp.path(), &[command, "--help"], 0);
        for expected in ["Examples:", "Exit codes:", &format!("modelgate {command} ")] {
            assert_stdout_contains(&output, expected);
        }
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
    run(tmp.path(), &["sign", m, "--key", &key("p256.pem")], 0);
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

    run(
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
        0,
    );
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
    run(
        tmp.path(),
        &[
            "verify",
            m,
            "--public-key",
            &key("p384.pub.pem"),
            "--signature",
            "model.sig",
        ],
        0,
    );

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
    let verify = [
        "verify",
        m,
        "--certificate-chain",
        &key("root.pem"),
        "--signature",
        "cert.sig",
    ];
    run(tmp.path(), &verify, 0);
    fs::write(model.join("config.json"), b"{}").unwrap();
    assert_stdout_contains(&run(tmp.path(), &verify, 1), "modified  config.json");
}
