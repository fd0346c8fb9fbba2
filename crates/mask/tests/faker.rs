//! Precision and recall on a labelled set generated with Faker.
//!
//! `scripts/testdata/make_pii_set.py` (run with `$MODELGATE_PYTHON`, the
//! test venv of `scripts/venv.sh`, which has Faker) writes 2,000 sentences
//! with personal and secret data, each value labelled with its byte range,
//! and 2,000 control sentences without any. The masker must reach a
//! precision and a recall of at least 0.99 for every built-in class on the
//! first, and find nothing at all in the second.
//!
//! A detection counts as correct when it has the labelled kind and the
//! labelled range exactly, except for phone numbers: Faker writes them with
//! extensions and prefixes (`x123`, `001-`) whose extent is a matter of
//! taste, so a phone detection counts when the digits the two ranges share
//! are at least 80% of the digits of each of them.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use modelgate_mask::{MaskConfig, Masker, Span};
use serde::Deserialize;

const N_RECORDS: usize = 2000;
/// The generator's seed; `MASK_FAKER_SEED` overrides it to try others.
const SEED: u64 = 20240115;
const MIN_PRECISION: f64 = 0.99;
const MIN_RECALL: f64 = 0.99;
/// The share of digits a phone detection and its label must have in common.
const PHONE_DIGIT_OVERLAP: f64 = 0.8;

#[derive(Debug, Deserialize)]
struct Record {
    text: String,
    spans: Vec<Label>,
}

#[derive(Debug, Clone, Deserialize)]
struct Label {
    start: usize,
    end: usize,
    kind: String,
}

fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("MODELGATE_PYTHON").unwrap_or_else(|| {
        panic!(
            "MODELGATE_PYTHON is not set: this test generates its data with Faker. \
             Run scripts/test.sh, or `export MODELGATE_PYTHON=$(scripts/venv.sh)`"
        )
    }))
}

fn seed() -> String {
    std::env::var("MASK_FAKER_SEED").unwrap_or_else(|_| SEED.to_string())
}

fn generate(dir: &Path) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testdata/make_pii_set.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(dir)
        .args(["--n", &N_RECORDS.to_string(), "--seed", &seed()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run $MODELGATE_PYTHON: {e}; run scripts/venv.sh"));
    assert!(
        output.status.success(),
        "make_pii_set.py failed (is faker installed? run scripts/venv.sh):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(path: &Path) -> Vec<Record> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(file)
        .lines()
        .map(|line| {
            let line = line.expect("readable line");
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display()))
        })
        .collect()
}

fn digits_in(text: &str, start: usize, end: usize) -> usize {
    text.get(start..end)
        .map_or(0, |s| s.bytes().filter(u8::is_ascii_digit).count())
}

/// Whether a detection matches a label, by the rule in the module docs.
fn matches(text: &str, label: &Label, span: &Span) -> bool {
    if span.kind.label() != label.kind {
        return false;
    }
    if label.kind != "PHONE" {
        return span.start == label.start && span.end == label.end;
    }
    let (start, end) = (span.start.max(label.start), span.end.min(label.end));
    if start >= end {
        return false;
    }
    let shared = digits_in(text, start, end) as f64;
    shared >= PHONE_DIGIT_OVERLAP * digits_in(text, label.start, label.end) as f64
        && shared >= PHONE_DIGIT_OVERLAP * digits_in(text, span.start, span.end) as f64
}

#[derive(Debug, Default)]
struct Tally {
    n_labels: usize,
    n_recalled: usize,
    n_detections: usize,
    n_correct: usize,
    misses: Vec<String>,
    false_positives: Vec<String>,
}

#[test]
fn precision_and_recall_per_kind_on_faker_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path());
    let positives = read(&dir.path().join("positives.jsonl"));
    let control = read(&dir.path().join("control.jsonl"));
    assert_eq!(positives.len(), N_RECORDS);
    assert_eq!(control.len(), N_RECORDS);

    let masker = Masker::new(&MaskConfig::default()).expect("default config builds");
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for record in &positives {
        let text = &record.text;
        let found = masker.find(text);
        for label in &record.spans {
            assert!(
                text.get(label.start..label.end).is_some(),
                "label {label:?} is not a char range of {text:?}"
            );
            let tally = tallies.entry(label.kind.clone()).or_default();
            tally.n_labels += 1;
            if found.iter().any(|span| matches(text, label, span)) {
                tally.n_recalled += 1;
            } else {
                tally.misses.push(format!(
                    "{:?} in {text:?} (found {:?})",
                    &text[label.start..label.end],
                    found
                        .iter()
                        .map(|s| (s.kind.label().into_owned(), &text[s.start..s.end]))
                        .collect::<Vec<_>>()
                ));
            }
        }
        for span in &found {
            let tally = tallies.entry(span.kind.label().into_owned()).or_default();
            tally.n_detections += 1;
            if record.spans.iter().any(|label| matches(text, label, span)) {
                tally.n_correct += 1;
            } else {
                tally
                    .false_positives
                    .push(format!("{:?} in {text:?}", &text[span.start..span.end]));
            }
        }
    }

    let mut failures = Vec::new();
    println!("kind          labels  recall  detections  precision");
    for (kind, tally) in &tallies {
        let recall = tally.n_recalled as f64 / tally.n_labels.max(1) as f64;
        let precision = tally.n_correct as f64 / tally.n_detections.max(1) as f64;
        println!(
            "{kind:<12} {:>7} {recall:>7.4} {:>11} {precision:>10.4}",
            tally.n_labels, tally.n_detections
        );
        for miss in tally.misses.iter().take(5) {
            println!("  {kind} missed: {miss}");
        }
        for false_positive in tally.false_positives.iter().take(5) {
            println!("  {kind} false positive: {false_positive}");
        }
        if tally.n_labels < 100 {
            failures.push(format!("{kind}: only {} labels in the set", tally.n_labels));
        }
        if recall < MIN_RECALL {
            failures.push(format!(
                "{kind}: recall {recall:.4} < {MIN_RECALL}; first misses:\n  {}",
                tally
                    .misses
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
        if precision < MIN_PRECISION {
            failures.push(format!(
                "{kind}: precision {precision:.4} < {MIN_PRECISION}; first false positives:\n  {}",
                tally
                    .false_positives
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
    }
    for kind in [
        "EMAIL",
        "PHONE",
        "CARD",
        "IBAN",
        "NATIONAL_ID",
        "IP",
        "API_KEY",
        "JWT",
    ] {
        if !tallies.contains_key(kind) {
            failures.push(format!("{kind}: no labels in the set"));
        }
    }

    let control_findings: Vec<String> = control
        .iter()
        .flat_map(|record| {
            let text = &record.text;
            masker
                .find(text)
                .into_iter()
                .map(move |s| format!("{} {:?} in {text:?}", s.kind.label(), &text[s.start..s.end]))
        })
        .collect();
    println!(
        "control: {} findings in {} sentences",
        control_findings.len(),
        control.len()
    );
    if !control_findings.is_empty() {
        failures.push(format!(
            "{} findings in the control set; first ones:\n  {}",
            control_findings.len(),
            control_findings
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
