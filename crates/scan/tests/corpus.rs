//! The scanner against its corpus (`tests/data/scan/expected.json`, written
//! by `scripts/testdata/make_scan_corpus.py` with the real writers), every
//! entry of the rule lists, and the two real models.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use modelgate_scan::rules::pickle_rules;
use modelgate_scan::{RULES, ScanOptions, Severity, scan_bytes, scan_file, scan_paths};
use serde_json::Value as Json;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

#[test]
fn corpus_reports_the_expected_rules() {
    let expected: Json =
        serde_json::from_slice(&std::fs::read(data().join("scan/expected.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    for (relative, rules) in expected.as_object().unwrap() {
        let path = data().join(relative);
        // Files inside a repository directory are scanned as part of it.
        let in_repo = relative.contains("_repo/");
        let name = if in_repo {
            relative.rsplit('/').next().unwrap()
        } else {
            path.file_name().unwrap().to_str().unwrap()
        };
        let report = scan_file(&path, name, in_repo, &ScanOptions::default());
        let found: BTreeSet<&str> = report.findings.iter().map(|f| f.rule).collect();
        let wanted: BTreeSet<&str> = rules
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        // Exactly the expected rules: a missing one is a miss, an extra one
        // a false alarm (or an expectation to update on purpose).
        if wanted != found {
            let detail: Vec<String> = report
                .findings
                .iter()
                .map(|f| format!("{} {}: {}", f.severity, f.rule, f.message))
                .collect();
            failures.push(format!(
                "{relative}: expected {wanted:?}, got {found:?} {detail:#?}"
            ));
        }
        for finding in &report.findings {
            assert!(
                RULES.iter().any(|r| r.id == finding.rule),
                "{relative}: rule {} is not in the catalogue",
                finding.rule
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_sample() {
    let expected: Json =
        serde_json::from_slice(&std::fs::read(data().join("scan/expected.json")).unwrap()).unwrap();
    let covered: BTreeSet<&str> = expected
        .as_object()
        .unwrap()
        .values()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_str().unwrap()))
        .collect();
    // Rules exercised by unit tests of their analysers instead: each must
    // appear in the `#[cfg(test)]` part of the analyser's source.
    let unit_tested = [
        ("template.dynamic-attribute", "template.rs"),
        ("template.obfuscated-string", "template.rs"),
        ("template.file-access", "template.rs"),
        ("template.unparseable", "template.rs"),
        ("code.eval", "python.rs"),
        ("code.dynamic-import", "python.rs"),
        ("code.network", "python.rs"),
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (rule, file) in unit_tested {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let tests = text.split("#[cfg(test)]").nth(1).unwrap_or_default();
        assert!(
            tests.contains(&format!("\"{rule}\"")),
            "{rule} is exempt from the corpus but no unit test in {file} names it"
        );
    }
    let missing: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !covered.contains(id) && !unit_tested.iter().any(|(r, _)| r == id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a corpus sample: {missing:?}"
    );
}

/// A protocol-0 pickle that imports `module.name` and calls it.
fn import_pickle(module: &str, name: &str) -> Vec<u8> {
    format!("c{module}\n{name}\n(tR.").into_bytes()
}

#[test]
fn every_dangerous_entry_is_critical() {
    for entry in &pickle_rules().dangerous {
        for name in &entry.names {
            let name = if name == "*" { "anything" } else { name };
            let (_, findings) = scan_bytes(
                &import_pickle(&entry.name, name),
                "x.pkl",
                &ScanOptions::default(),
            );
            assert!(
                findings.iter().any(
                    |f| f.rule == "pickle.dangerous-import" && f.severity == Severity::Critical
                ),
                "{}.{name}: {findings:?}",
                entry.name
            );
        }
    }
}

#[test]
fn every_safe_entry_is_clean() {
    for entry in &pickle_rules().safe {
        for name in &entry.names {
            let (_, findings) = scan_bytes(
                &import_pickle(&entry.name, name),
                "x.pkl",
                &ScanOptions::default(),
            );
            assert!(findings.is_empty(), "{}.{name}: {findings:?}", entry.name);
        }
    }
}

#[test]
fn attribute_paths_into_internals_are_critical() {
    for (module, name) in [
        ("numpy", "prod.__globals__"),
        ("collections", "OrderedDict.__init__.__globals__"),
        ("builtins", "dict.__class__"),
    ] {
        let (_, findings) = scan_bytes(
            &import_pickle(module, name),
            "x.pkl",
            &ScanOptions::default(),
        );
        assert!(
            findings.iter().any(|f| f.severity == Severity::Critical),
            "{module}.{name}: {findings:?}"
        );
    }
}

#[test]
fn real_models_are_clean() {
    let fixtures = std::env::var_os("MODELGATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/fixtures")
        });
    assert!(fixtures.join("minilm").is_dir(), "run scripts/fixtures.sh");
    let report = scan_paths(
        &[
            fixtures.join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            fixtures.join("minilm"),
        ],
        &ScanOptions::default(),
    )
    .unwrap();
    let noisy: Vec<String> = report
        .files
        .iter()
        .flat_map(|f| {
            f.findings
                .iter()
                .filter(|x| x.severity >= Severity::Low)
                .map(move |x| format!("{}: {} {}", f.path, x.rule, x.message))
        })
        .collect();
    assert!(noisy.is_empty(), "{noisy:?}");
    assert!(report.files.iter().any(|f| f.format == "gguf"));
    assert!(report.files.iter().any(|f| f.format == "safetensors"));
}

#[test]
fn directories_are_walked_and_sarif_is_valid_shape() {
    let report = scan_paths(
        &[data().join("scan/malicious/remote_code_repo")],
        &ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(report.summary.files, 4);
    assert!(report.fails(Severity::High));
    let sarif = modelgate_scan::to_sarif(&report, "test");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.len() as u64,
        report.summary.critical
            + report.summary.high
            + report.summary.medium
            + report.summary.low
            + report.summary.info
    );
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            sarif["runs"][0]["tool"]["driver"]["rules"][index]["id"],
            result["ruleId"]
        );
    }
}
