//! `modelgate eval`, `quantize` and `cost` on the real SmolLM2 GGUF: suites
//! of each kind, stored runs and the production gate, variants written by
//! llama.cpp's quantizer and their divergence, and agreement with
//! `llama-perplexity --hellaswag` on the same items.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::inventory::Inventory;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// SmolLM2 recorded and approved as smollm2@1.0.
fn recorded() -> Inventory {
    let inventory = Inventory::new();
    let file = inventory
        .dir("gguf")
        .join("SmolLM2-135M-Instruct.Q4_1.gguf");
    std::fs::copy(modelgate_testdata::smollm2(), &file).unwrap();
    inventory.expect(
        0,
        &[
            "models",
            "add",
            s(&file),
            "--name",
            "smollm2",
            "--version",
            "1.0",
        ],
    );
    let (code, out, err) = inventory.run(&["models", "approve", "smollm2@1.0", "--by", "ann"]);
    if code != 0 {
        inventory.expect(
            0,
            &[
                "models",
                "approve",
                "smollm2@1.0",
                "--by",
                "ann",
                "--override",
                "--note",
                "test: reviewed by hand",
            ],
        );
    }
    let _ = (out, err);
    inventory
}

fn generation_suite(dir: &Path, threshold: f64) -> PathBuf {
    write(
        dir,
        "cases.jsonl",
        concat!(
            r#"{"id": "capital", "prompt": "What is the capital of France? Answer in one word.", "assert": [{"type": "icontains", "value": "paris"}, {"type": "not-is-refusal"}]}"#,
            "\n",
            r#"{"id": "count", "prompt": "Count from 1 to 5, separated by commas.", "assert": [{"type": "contains-all", "value": ["1", "2", "3"]}, {"type": "latency", "threshold": 600000}]}"#,
            "\n",
            r#"{"id": "never", "prompt": "Say hello.", "assert": [{"type": "equals", "value": "this exact sentence will not be produced"}]}"#,
            "\n",
        ),
    );
    write(
        dir,
        "suite.toml",
        &format!(
            "name = \"smoke\"\nkind = \"generation\"\ncases = \"cases.jsonl\"\nthreshold = {threshold}\n[defaults]\nmax_tokens = 24\ntemperature = 0.0\n"
        ),
    )
}

#[test]
fn a_generation_run_is_judged_stored_and_gates_production() {
    let inventory = recorded();
    let dir = inventory.dir("suite");
    let suite = generation_suite(&dir, 0.6);
    let policy = write(
        &dir,
        "policy.toml",
        "[evaluation]\nrequired_for_production = [\"smoke\"]\n",
    );

    // No passing run yet: production is refused, naming the suite and the fix.
    let (code, _, err) = inventory.run(&[
        "models",
        "promote",
        "smollm2@1.0",
        "--by",
        "ann",
        "--policy",
        s(&policy),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("smoke") && err.contains("modelgate eval"),
        "{err}"
    );

    let out = inventory.expect(
        0,
        &[
            "eval",
            "smollm2@1.0",
            "--suite",
            s(&suite),
            "--threads",
            "2",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let passed = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap()["passed"].as_bool();
    assert_eq!(passed("capital"), Some(true), "{report:#}");
    assert_eq!(passed("never"), Some(false));
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");
    assert_eq!(report["threshold_met"], true);
    let wilson = report["summary"]["wilson95"].as_array().unwrap();
    assert!(wilson[0].as_f64().unwrap() < 0.67 && wilson[1].as_f64().unwrap() > 0.67);
    assert!(report["summary"]["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["summary"]["ttft_p50_ms"].as_f64().unwrap() > 0.0);
    assert!(report["suite"]["digest"].as_str().unwrap().len() == 64);

    // Stored with the version, as an audit event; the gate now lets it through.
    let runs = inventory.json(&["eval", "list", "smollm2@1.0"]);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs:#}");
    let id = runs[0]["id"].as_i64().unwrap().to_string();
    let shown = inventory.json(&["eval", "show", &id]);
    assert_eq!(shown["summary"]["passed"], 2);
    inventory.expect(0, &["audit", "verify"]);
    inventory.expect(
        0,
        &[
            "models",
            "promote",
            "smollm2@1.0",
            "--by",
            "ann",
            "--policy",
            s(&policy),
        ],
    );

    // A stricter threshold fails: exit 1, and JUnit shows the failures.
    let strict = generation_suite(&inventory.dir("strict"), 0.9);
    let (code, junit, _) = inventory.run(&[
        "eval",
        "smollm2@1.0",
        "--suite",
        s(&strict),
        "--threads",
        "2",
        "--format",
        "junit",
    ]);
    assert_eq!(code, 1, "{junit}");
    assert!(
        junit.starts_with("<?xml") && junit.contains("<testsuite"),
        "{junit}"
    );
    assert!(junit.contains("<failure"), "{junit}");

    // The two runs compared on their shared items.
    let cmp = inventory.json(&[
        "eval",
        "compare",
        &id,
        &(id.parse::<i64>().unwrap() + 1).to_string(),
    ]);
    assert_eq!(cmp["paired"]["shared"], 3, "{cmp:#}");
    assert_eq!(cmp["paired"]["significant"], false);
}

#[test]
fn multiple_choice_and_perplexity_run_on_a_file() {
    let inventory = Inventory::new();
    let dir = inventory.dir("mc");
    write(
        &dir,
        "items.jsonl",
        concat!(
            r#"{"id": "fr", "context": "The capital of France is", "choices": [" Paris", " a banana", " purple"], "gold": 0}"#,
            "\n",
            r#"{"id": "num", "context": "1, 2, 3, 4,", "choices": [" 5", " cat", " Monday"], "gold": 0}"#,
            "\n",
            r#"{"id": "sky", "context": "On a clear day the sky is", "choices": [" blue", " made of cheese"], "gold": 0}"#,
            "\n",
        ),
    );
    let suite = write(
        &dir,
        "suite.toml",
        "name = \"obvious\"\nkind = \"multiple_choice\"\ncases = \"items.jsonl\"\nthreshold = 0.6\n",
    );
    let model = modelgate_testdata::smollm2();
    let out = inventory.expect(
        0,
        &[
            "eval",
            s(&model),
            "--suite",
            s(&suite),
            "--threads",
            "2",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["summary"]["acc"], 1.0, "{report:#}");
    assert!(report["summary"]["acc_norm"].as_f64().unwrap() >= 2.0 / 3.0);

    let corpus: String = (0..60)
        .map(|i| format!("Line {i}: the quick brown fox jumps over the lazy dog. "))
        .collect();
    write(&dir, "corpus.txt", &corpus);
    let ppl_suite = write(
        &dir,
        "ppl.toml",
        "name = \"repeat\"\nkind = \"perplexity\"\ncorpus = \"corpus.txt\"\nthreshold = 50.0\n",
    );
    let out = inventory.expect(
        0,
        &[
            "eval",
            s(&model),
            "--suite",
            s(&ppl_suite),
            "--window",
            "128",
            "--threads",
            "2",
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    let ppl = report["summary"]["perplexity"].as_f64().unwrap();
    // Repeated text is easy to predict: well under the threshold, above 1.
    assert!(ppl > 1.0 && ppl < 10.0, "{ppl}");
}

#[test]
fn quantized_variants_are_recorded_and_diverge_in_order() {
    let inventory = recorded();
    inventory.expect(
        0,
        &[
            "quantize",
            "smollm2@1.0",
            "--to",
            "F16",
            "--allow-requantize",
            "--threads",
            "2",
        ],
    );
    let out = inventory.json(&[
        "quantize",
        "smollm2@1.0-f16",
        "--to",
        "Q8_0,Q2_K",
        "--threads",
        "2",
    ]);
    assert_eq!(out.as_array().unwrap().len(), 2, "{out:#}");
    let q8 = inventory.json(&["models", "show", "smollm2@1.0-f16-q8_0"]);
    assert_eq!(q8["quantization"], "Q8_0", "{q8:#}");
    let variants = q8["variants"].as_array().unwrap();
    assert!(
        variants
            .iter()
            .any(|v| v["version"] == "1.0-f16" && v["link"] == "variant-of"),
        "{q8:#}"
    );
    let toolchain = q8["provenance"]["toolchain"].to_string();
    assert!(toolchain.contains("llama.cpp quantizer"), "{toolchain}");
    inventory.expect(0, &["audit", "verify"]);

    let dir = inventory.dir("quant");
    let corpus: String = (0..400)
        .map(|i| format!("Sentence {i} tells of ships, of kings and of the sea at dawn. "))
        .collect();
    let corpus = write(&dir, "corpus.txt", &corpus);
    let out_dir = dir.join("report");
    // The thresholds come from the policy; a flag overrides one of them.
    let policy = write(
        &dir,
        "policy.toml",
        "[evaluation.quantization]\nmax_kld = 10.0\nmin_top1 = 0.999\n",
    );
    let (code, stdout, stderr) = inventory.run(&[
        "eval",
        "quant",
        "smollm2",
        "--corpus",
        s(&corpus),
        "--ctx",
        "128",
        "--chunks",
        "3",
        "--threads",
        "2",
        "--policy",
        s(&policy),
        "--min-top1",
        "0",
        "--out",
        s(&out_dir),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let table: Value = serde_json::from_str(&stdout).unwrap();
    let kld = |version: &str| {
        table["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["version"] == version)
            .unwrap_or_else(|| panic!("{version} missing: {table:#}"))["kld_mean"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(table["base"], "smollm2@1.0-f16");
    assert!(kld("smollm2@1.0-f16") < 1e-9, "the base against itself");
    assert!(
        kld("smollm2@1.0-f16-q8_0") < kld("smollm2@1.0-f16-q2_k"),
        "{table:#}"
    );
    // With loose thresholds the smallest variant is chosen.
    assert_eq!(table["thresholds"]["max_kld"], 10.0, "from the policy");
    assert_eq!(table["thresholds"]["min_top1"], 0.0, "the flag overrides");
    assert_eq!(table["chosen"], "smollm2@1.0-f16-q2_k", "{table:#}");
    let png = std::fs::read(out_dir.join("quant.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let svg = std::fs::read_to_string(out_dir.join("quant.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("Q2_K"), "{svg}");
}

#[test]
fn cost_compares_self_hosting_with_listed_apis() {
    let inventory = recorded();
    let report = inventory.json(&[
        "cost",
        "smollm2@1.0",
        "--hardware-usd-hour",
        "0.5",
        "--tokens-per-s",
        "100",
        "--utilization",
        "0.5",
        "--compare",
        "gpt-4o-mini",
        "--volume",
        "1000000",
    ]);
    let text = report.to_string();
    // 0.5 USD / (100 tokens/s × 3600 s × 0.5) × 1e6 = 2.78 USD per million tokens.
    assert!(text.contains("2.77") || text.contains("2.78"), "{report:#}");
    assert!(text.contains("gpt-4o-mini"), "{report:#}");
    // No stored generation run: the measured speed is missing, and it says how to get it.
    let (code, _, err) = inventory.run(&["cost", "smollm2@1.0", "--hardware-usd-hour", "0.5"]);
    assert_eq!(code, 2);
    assert!(err.contains("--tokens-per-s"), "{err}");
}

/// llama.cpp's tools, when built (scripts/llama-tools.sh); `.ci/run` builds
/// them and sets MODELGATE_REQUIRE_LLAMA_TOOLS=1 so the comparison cannot be
/// skipped there.
fn llama_tools() -> Option<PathBuf> {
    let dir = std::env::var_os("MODELGATE_LLAMA_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/modelgate/llama-tools")
        })
        .join("bin");
    let found = dir.join("llama-perplexity").is_file();
    if !found && std::env::var_os("MODELGATE_REQUIRE_LLAMA_TOOLS").is_some() {
        panic!("{} is missing: run scripts/llama-tools.sh", dir.display());
    }
    found.then_some(dir)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn hellaswag_agrees_with_llama_perplexity_on_the_same_items() {
    let Some(tools) = llama_tools() else {
        eprintln!("skipped: llama.cpp's tools are not built (scripts/llama-tools.sh)");
        return;
    };
    let root = repo_root();
    let suites = Command::new("bash")
        .arg(root.join("scripts/eval-data.sh"))
        .output()
        .unwrap();
    assert!(
        suites.status.success(),
        "{}",
        String::from_utf8_lossy(&suites.stderr)
    );
    let suite_dir =
        PathBuf::from(String::from_utf8(suites.stdout).unwrap().trim()).join("hellaswag");
    let n = "100";
    let work = tempfile::tempdir().unwrap();
    let tasks = work.path().join("hellaswag.txt");
    let convert = Command::new("python3")
        .arg(root.join("scripts/hellaswag_to_llama.py"))
        .args([s(&suite_dir), "--limit", n, "-o", s(&tasks)])
        .output()
        .unwrap();
    assert!(
        convert.status.success(),
        "{}",
        String::from_utf8_lossy(&convert.stderr)
    );
    let model = modelgate_testdata::smollm2();
    let llama = Command::new(tools.join("llama-perplexity"))
        .args([
            "-m",
            s(&model),
            "-f",
            s(&tasks),
            "--hellaswag",
            "--hellaswag-tasks",
            n,
            "-t",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        llama.status.success(),
        "{}",
        String::from_utf8_lossy(&llama.stderr)
    );
    // The last task line: "100\t43.00000000%\t[...]".
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&llama.stdout),
        String::from_utf8_lossy(&llama.stderr)
    );
    let theirs: f64 = all
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{n}\t")))
        .filter_map(|rest| rest.split('%').next()?.trim().parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no final line in llama-perplexity's output:\n{all}"));

    let inventory = Inventory::new();
    let out = inventory.run(&[
        "eval",
        s(&model),
        "--suite",
        s(&suite_dir.join("suite.toml")),
        "--limit",
        n,
        "--threads",
        "2",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&out.1).unwrap_or_else(|e| panic!("{e}: {}", out.2));
    let ours = report["summary"]["acc_per_token"].as_f64().unwrap() * 100.0;
    assert!(
        (ours - theirs).abs() <= 0.5,
        "acc_per_token {ours:.2} vs llama-perplexity {theirs:.2}"
    );
    // The lm-evaluation-harness metrics are reported beside it.
    assert!(report["summary"]["acc"].as_f64().is_some());
    assert!(report["summary"]["acc_norm"].as_f64().is_some());
}

/// The ready-made suites' folder (scripts/eval-data.sh).
fn eval_data() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/eval-data.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// `name: value` from llama-perplexity's output, e.g. "Mean    KLD:   0.061328 ±   0.001".
fn llama_value(output: &str, label: &str) -> f64 {
    output
        .lines()
        .find_map(|l| {
            let rest = l.trim_start().strip_prefix(label)?;
            let rest = rest.trim_start().strip_prefix(':')?;
            rest.split_whitespace()
                .next()?
                .trim_end_matches('%')
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {label:?} in llama-perplexity's output:\n{output}"))
}

#[test]
fn quantizer_output_and_divergence_agree_with_llama_cpps_tools() {
    let Some(tools) = llama_tools() else {
        eprintln!("skipped: llama.cpp's tools are not built (scripts/llama-tools.sh)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let f16 = work.path().join("f16.gguf");
    let ours = work.path().join("ours-q4_k_m.gguf");
    let theirs = work.path().join("theirs-q4_k_m.gguf");
    let q = |input: &Path, output: &Path, to, allow| {
        modelgate_engine::quantize(
            input,
            output,
            modelgate_engine::QuantizeOptions {
                to,
                allow_requantize: allow,
                threads: 2,
            },
            &mut |_| {},
        )
        .unwrap();
    };
    q(
        &modelgate_testdata::smollm2(),
        &f16,
        modelgate_engine::QuantType::F16,
        true,
    );
    q(&f16, &ours, modelgate_engine::QuantType::Q4KM, false);
    let status = Command::new(tools.join("llama-quantize"))
        .args([s(&f16), s(&theirs), "Q4_K_M", "2"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    // The same tensor types and sizes as llama-quantize writes.
    let types = |path: &Path| -> Vec<(String, String, u64)> {
        let bytes = std::fs::read(path).unwrap();
        let gguf = modelgate_gguf::Gguf::parse(&bytes).unwrap();
        gguf.tensors
            .iter()
            .map(|t| (t.name.clone(), format!("{:?}", t.ggml_type), t.n_bytes))
            .collect()
    };
    assert_eq!(types(&ours), types(&theirs));

    // Divergence from the base on the same text, windows and chunks.
    let corpus = eval_data().join("shakespeare/corpus.txt");
    let kld_base = work.path().join("base.kld");
    let run = |args: &[&str]| {
        let out = Command::new(tools.join("llama-perplexity"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        text
    };
    run(&[
        "-m",
        s(&f16),
        "-f",
        s(&corpus),
        "-c",
        "512",
        "--chunks",
        "4",
        "-t",
        "2",
        "--kl-divergence-base",
        s(&kld_base),
    ]);
    let llama = run(&[
        "-m",
        s(&ours),
        "-c",
        "512",
        "--chunks",
        "4",
        "-t",
        "2",
        "--kl-divergence-base",
        s(&kld_base),
        "--kl-divergence",
    ]);
    let inventory = Inventory::new();
    let report = inventory.json(&[
        "eval",
        "divergence",
        s(&f16),
        s(&ours),
        "--corpus",
        s(&corpus),
        "--ctx",
        "512",
        "--chunks",
        "4",
        "--threads",
        "2",
    ]);
    let kld = report["kld_mean"].as_f64().unwrap();
    let top1 = report["same_top1"].as_f64().unwrap();
    let their_kld = llama_value(&llama, "Mean    KLD");
    let their_top1 = llama_value(&llama, "Same top p") / 100.0;
    assert!(
        (kld - their_kld).abs() <= 0.02 * their_kld,
        "KLD {kld} vs llama {their_kld}"
    );
    assert!(
        (top1 - their_top1).abs() <= 0.02 * their_top1,
        "top-1 {top1} vs llama {their_top1}"
    );
    assert_eq!(report["tokens"], 4 * (512 - 1 - 256), "{report:#}");
}
