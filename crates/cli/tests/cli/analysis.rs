//! End-to-end tests of the `modelgate` binary: real models, real files, and
//! the documented exit codes and JSON interface.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelgate_testdata::{fixtures, minilm, smollm2};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap()
}

fn test_data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(relative)
}

/// Run modelgate with `args`; NO_COLOR is set so text output is plain.
fn modelgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn inspect_json(path: &Path, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["inspect", "--format", "json", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = modelgate(&args);
    (json_of(&output), output.status.code().unwrap())
}

#[test]
fn smollm2_gguf_facts_match_the_gguf_package() {
    let (report, code) = inspect_json(&smollm2(), &[]);
    assert_eq!(code, 0, "{report:#}");
    let artifact = &report["artifacts"][0];
    assert_eq!(artifact["format"], "gguf");
    assert_eq!(artifact["architecture"], "llama");
    assert_eq!(artifact["parameters"], reference()["smollm2"]["parameters"]);
    assert_eq!(artifact["n_tensors"], reference()["smollm2"]["n_tensors"]);
    assert_eq!(artifact["quantization"], "Q4_1");
    assert_eq!(artifact["context_length"], 8192);
    assert_eq!(artifact["layers"], 30);
    assert_eq!(artifact["attention_heads"], 9);
    assert_eq!(artifact["kv_heads"], 3);
    assert_eq!(artifact["head_dim"], 64);
    assert_eq!(artifact["vocab_size"], 49152);
    assert_eq!(artifact["chat_template"], true);
    assert!(
        artifact["runtimes"]
            .as_array()
            .unwrap()
            .contains(&Value::from("llama.cpp"))
    );
}

#[test]
fn smollm2_memory_follows_the_kv_cache_formula() {
    let (report, _) = inspect_json(&smollm2(), &["--context", "2048"]);
    let memory = &report["memory"];
    // 2 (K and V) × 30 layers × 3 KV heads × 64 head dim × 2048 tokens × 2 bytes.
    let kv = 2 * 30 * 3 * 64 * 2048 * 2;
    assert_eq!(memory["context_length"], 2048);
    assert_eq!(memory["kv_cache_bytes"], kv);
    let weights = memory["weights_bytes"].as_u64().unwrap();
    assert_eq!(memory["total_bytes"].as_u64().unwrap(), weights + kv);
    // Weights are the tensor data: the file minus its header, give or take alignment.
    let file = std::fs::metadata(smollm2()).unwrap().len();
    assert!(
        weights < file && weights > file - 8 * 1024 * 1024,
        "weights {weights} vs file {file}"
    );
    assert_eq!(memory["fits"], true);
}

#[test]
fn minilm_snapshot_facts_match_the_safetensors_package() {
    let (report, code) = inspect_json(&minilm(), &[]);
    assert_eq!(code, 0, "{report:#}");
    let artifacts = report["artifacts"].as_array().unwrap();
    let safetensors = artifacts
        .iter()
        .find(|a| a["format"] == "safetensors")
        .unwrap();
    assert_eq!(
        safetensors["parameters"],
        reference()["minilm"]["parameters"]
    );
    assert_eq!(safetensors["n_tensors"], reference()["minilm"]["n_tensors"]);
    assert_eq!(safetensors["architecture"], "BertModel");
    assert_eq!(safetensors["layers"], 6);
    assert_eq!(safetensors["attention_heads"], 12);
    assert_eq!(safetensors["vocab_size"], 30522);
    assert_eq!(safetensors["context_length"], 512);
    assert_eq!(safetensors["metadata"]["license"], "apache-2.0");
    // Every byte after the header is tensor data (F32 weights and one I64
    // position_ids buffer).
    let file = std::fs::read(fixtures().join("minilm/model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(file[..8].try_into().unwrap());
    assert_eq!(
        safetensors["weights_bytes"],
        file.len() as u64 - 8 - header_len
    );
    // 2 × 6 layers × 12 heads × 32 head dim × 512 tokens × 2 bytes.
    assert_eq!(
        report["memory"]["kv_cache_bytes"],
        2 * 6 * 12 * 32 * 512 * 2
    );
}

#[test]
fn a_single_file_uses_the_config_beside_it() {
    let (report, _) = inspect_json(&minilm().join("model.safetensors"), &[]);
    assert_eq!(report["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(report["artifacts"][0]["architecture"], "BertModel");
}

#[test]
fn text_output_is_a_readable_summary() {
    let output = modelgate(&["inspect", smollm2().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("architecture    llama"), "{text}");
    assert!(
        text.contains("parameters      134.5M (134,515,008)"),
        "{text}"
    );
    assert!(text.contains("Memory at context 8,192"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "NO_COLOR must disable escapes: {text}"
    );
}

#[test]
fn extension_does_not_decide_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let disguised = dir.path().join("weights.safetensors");
    std::fs::copy(smollm2(), &disguised).unwrap();
    let (report, code) = inspect_json(&disguised, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["artifacts"][0]["format"], "gguf");
}

#[test]
fn a_corrupt_file_is_an_error_naming_the_file_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("broken.gguf");
    let mut bytes = std::fs::read(smollm2()).unwrap();
    bytes.truncate(4096);
    std::fs::write(&corrupt, bytes).unwrap();
    let (report, code) = inspect_json(&corrupt, &[]);
    assert_eq!(code, 1);
    let error = report["errors"][0]["error"].as_str().unwrap();
    assert!(error.contains("broken.gguf"), "{error}");
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let output = modelgate(&["inspect", "/nonexistent/model.gguf"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("/nonexistent/model.gguf"), "{stderr}");
}

#[test]
fn a_directory_without_models_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let output = modelgate(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("no model artifact found")
    );
}

#[test]
fn bad_arguments_exit_2_and_help_documents_exit_codes() {
    assert_eq!(modelgate(&["inspect"]).status.code(), Some(2));
    assert_eq!(
        modelgate(&["inspect", "x", "--context", "0"]).status.code(),
        Some(2)
    );
    let help = modelgate(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.contains("Exit codes:") && text.contains("NO_COLOR"),
        "{text}"
    );
}

#[test]
fn gzip_wrapped_model_is_opened_and_reported_as_such() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let source = test_data("numpy/ok");
    let npy = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "npy"))
        .expect("tests/data/numpy/ok has a .npy sample");
    let gz_path = dir.path().join("array.npy.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(&std::fs::read(&npy).unwrap()).unwrap();
    encoder.finish().unwrap();
    let (report, code) = inspect_json(&gz_path, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["artifacts"][0]["format"], "npy");
    assert_eq!(report["artifacts"][0]["compression"][0], "gzip");
}

#[test]
fn scan_fails_on_malicious_pickles_with_rule_and_evidence() {
    let path = test_data("pickle/malicious/global_reduce.pkl");
    let output = modelgate(&["scan", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json_of(&output);
    let finding = &report["files"][0]["findings"][0];
    assert_eq!(finding["rule"], "pickle.dangerous-import");
    assert_eq!(finding["severity"], "critical");
    assert_eq!(finding["evidence"], "os.system('echo pwned')");
    assert_eq!(finding["location"]["offset"], 0);
    assert_eq!(report["summary"]["critical"], 1);
    let text = modelgate(&["scan", path.to_str().unwrap(), "--color", "never"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("CRITICAL")
            && text.contains("evidence: os.system('echo pwned')")
            && text.contains("FAIL"),
        "{text}"
    );
}

#[test]
fn scan_threshold_and_clean_models() {
    // An unlisted name only referenced is medium: under the default gate.
    let referenced = test_data("scan/malicious/referenced_only.pkl");
    assert_eq!(
        modelgate(&["scan", referenced.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        modelgate(&["scan", referenced.to_str().unwrap(), "--fail-on", "medium"])
            .status
            .code(),
        Some(1)
    );
    // The same kind of name invoked fails the default gate.
    let invoked = test_data("scan/malicious/unknown_import.pkl");
    assert_eq!(
        modelgate(&["scan", invoked.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    let output = modelgate(&[
        "scan",
        smollm2().to_str().unwrap(),
        minilm().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(modelgate(&["scan", "/no/such/path"]).status.code(), Some(2));
}

#[test]
fn scan_writes_sarif() {
    let path = test_data("keras/malicious/lambda.keras");
    let output = modelgate(&["scan", path.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(output.status.code(), Some(1));
    let sarif = json_of(&output);
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"][0]["ruleId"],
        "keras.lambda-layer"
    );
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
    // SARIF is for scan only.
    assert_eq!(
        modelgate(&["inspect", path.to_str().unwrap(), "--format", "sarif"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn vet_exit_codes_follow_the_verdict() {
    // Approved: the MiniLM snapshot (Apache-2.0, clean, card at the minimum).
    let output = modelgate(&["vet", minilm().to_str().unwrap(), "--format", "json"]);
    let report = json_of(&output);
    assert_eq!(report["verdict"]["decision"], "approved", "{report:#}");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(report["license"]["license"], "apache-2.0");

    // Needs review: the GGUF file alone has no model card.
    let output = modelgate(&["vet", smollm2().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("NEEDS REVIEW by governance"), "{text}");
    assert!(
        text.contains("REVIEW (governance)  card.score  there is no model card"),
        "{text}"
    );

    // Rejected: a policy that denies Apache-2.0.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[license]\nallowed = []\ndenied = [\"apache-2.0\"]\n",
    )
    .unwrap();
    let output = modelgate(&[
        "vet",
        minilm().to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    let record = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{record}");
    assert!(record.contains("Decision: **REJECTED**"), "{record}");
    assert!(record.contains("- **REJECT** `license.denied`"), "{record}");
}

#[test]
fn vet_usage_errors_are_exit_2_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[license]\nalowed = []\n").unwrap();
    let output = modelgate(&[
        "vet",
        minilm().to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("policy.toml")
            && stderr.contains("alowed")
            && stderr.contains("--print-default-policy"),
        "{stderr}"
    );

    let output = modelgate(&["vet", "/nonexistent/model"]);
    assert_eq!(output.status.code(), Some(2));
    let output = modelgate(&["vet"]);
    assert_eq!(output.status.code(), Some(2));
    let output = modelgate(&[
        "inspect",
        smollm2().to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_printed_default_policy_is_the_default() {
    let output = modelgate(&["vet", "--print-default-policy"]);
    assert_eq!(output.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, &output.stdout).unwrap();
    let with_file = json_of(&modelgate(&[
        "vet",
        minilm().to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let without = json_of(&modelgate(&[
        "vet",
        minilm().to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(with_file["policy"], without["policy"]);
    assert_eq!(with_file["verdict"], without["verdict"]);
}

#[test]
fn bom_of_the_real_model_is_cyclonedx_1_6() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bom.json");
    let output = modelgate(&[
        "bom",
        minilm().to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bom: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    let model = &bom["components"][0];
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(model["licenses"][0]["license"]["id"], "Apache-2.0");
    let weights_sha = model["hashes"][0]["content"].as_str().unwrap();
    assert_eq!(weights_sha.len(), 64);
    assert_eq!(model["components"].as_array().unwrap().len(), 12);

    // The reference implementation's strict 1.6 validator accepts it.
    let python = std::env::var("MODELGATE_PYTHON").expect(
        "MODELGATE_PYTHON is not set: run the tests with scripts/test.sh, or set it to the interpreter scripts/venv.sh prints",
    );
    let script = "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\nerror = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nsys.exit(f'invalid: {error}' if error else 0)\n";
    let output = Command::new(python)
        .args(["-c", script, out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
