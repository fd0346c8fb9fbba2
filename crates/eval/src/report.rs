//! Run reports: per-case results, the summary, the threshold verdict, and
//! renderers for text, Markdown, JUnit XML and JSON.
//!
//! [`RunReport::new`] computes the [`Summary`] and the threshold verdict from
//! the case results and caps every case's output at [`MAX_OUTPUT_BYTES`]. The
//! JSON form (serde) is the stored and `--format json` form; its field names
//! are stable.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::assert::{AssertionOutcome, CaseOutcome, Observation};
use crate::choice::ItemScore;
use crate::stats::{percentile, wilson95};
use crate::suite::{ChoiceItem, GenerationCase, Suite, SuiteKind};

/// Most bytes of a case's output kept in a report.
pub const MAX_OUTPUT_BYTES: usize = 4096;

/// Which suite a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRef {
    /// Suite name.
    pub name: String,
    /// [`Suite::digest`].
    pub digest: String,
    /// What it measures.
    pub kind: SuiteKind,
    /// Where its data came from.
    pub source: Option<String>,
    /// SPDX id of its data's license.
    pub license: Option<String>,
}

impl SuiteRef {
    /// The reference to `suite`.
    pub fn from_suite(suite: &Suite) -> SuiteRef {
        SuiteRef {
            name: suite.name.clone(),
            digest: suite.digest().to_owned(),
            kind: suite.kind,
            source: suite.source.clone(),
            license: suite.license.clone(),
        }
    }
}

/// The multiple-choice part of a case result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceResult {
    /// The right choice.
    pub gold: usize,
    /// The highest log-probability choice.
    pub pred: Option<usize>,
    /// The highest log-probability-per-byte choice.
    pub pred_norm: Option<usize>,
    /// `pred == gold`.
    pub acc: bool,
    /// `pred_norm == gold`.
    pub acc_norm: bool,
    /// The choice llama.cpp's normalisation picks equals gold.
    #[serde(default)]
    pub acc_per_token: bool,
}

/// The result of one case or item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Generation: the case passed; multiple choice: `acc_norm` was right.
    pub passed: bool,
    /// From 0 to 1.
    pub score: f64,
    /// The generated text (multiple choice: the `acc_norm` choice), at most
    /// [`MAX_OUTPUT_BYTES`].
    pub output: String,
    /// Wall-clock time of the request, ms.
    pub latency_ms: f64,
    /// Time to the first token, ms.
    #[serde(default)]
    pub ttft_ms: Option<f64>,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    /// Generated tokens.
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    /// What the request cost, when priced.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// One outcome per assertion (generation).
    #[serde(default)]
    pub assertions: Vec<AssertionOutcome>,
    /// The scoring of a multiple-choice item.
    #[serde(default)]
    pub choice: Option<ChoiceResult>,
}

impl CaseResult {
    /// The result of a generation case from what was observed and its
    /// [`crate::evaluate`] outcome; `ttft_ms` and token counts are left for
    /// the runner to fill.
    pub fn generation(
        case: &GenerationCase,
        observation: &Observation,
        outcome: CaseOutcome,
    ) -> CaseResult {
        CaseResult {
            id: case.id.clone(),
            passed: outcome.passed,
            score: outcome.score,
            output: truncate_output(&observation.output),
            latency_ms: observation.latency_ms,
            ttft_ms: None,
            prompt_tokens: None,
            completion_tokens: None,
            cost_usd: observation.cost_usd,
            assertions: outcome.assertions,
            choice: None,
        }
    }

    /// The result of a multiple-choice item: passed and score follow
    /// `acc_norm`; the output is the `acc_norm` choice.
    pub fn multiple_choice(item: &ChoiceItem, score: &ItemScore, latency_ms: f64) -> CaseResult {
        let output = score
            .pred_norm
            .and_then(|index| item.choices.get(index))
            .map(|text| truncate_output(text))
            .unwrap_or_default();
        CaseResult {
            id: item.id.clone(),
            passed: score.acc_norm,
            score: if score.acc_norm { 1.0 } else { 0.0 },
            output,
            latency_ms,
            ttft_ms: None,
            prompt_tokens: None,
            completion_tokens: None,
            cost_usd: None,
            assertions: Vec::new(),
            choice: Some(ChoiceResult {
                gold: item.gold,
                pred: score.pred,
                pred_norm: score.pred_norm,
                acc: score.acc,
                acc_norm: score.acc_norm,
                acc_per_token: score.acc_per_token,
            }),
        }
    }
}

/// `text` cut at a character boundary to at most [`MAX_OUTPUT_BYTES`] bytes.
pub fn truncate_output(text: &str) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text.to_owned();
    }
    let mut cut = MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.get(..cut).unwrap_or_default().to_owned()
}

/// Aggregates over a run's cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases run.
    pub cases: usize,
    /// Cases passed.
    pub passed: usize,
    /// `passed / cases` (0 without cases).
    pub pass_rate: f64,
    /// 95% Wilson interval of the pass rate.
    pub wilson95: [f64; 2],
    /// Multiple choice: fraction with the right `acc` choice.
    pub acc: Option<f64>,
    /// Multiple choice: fraction with the right `acc_norm` choice.
    pub acc_norm: Option<f64>,
    /// Multiple choice: fraction right under llama.cpp's per-token
    /// normalisation (what `llama-perplexity --hellaswag` reports).
    #[serde(default)]
    pub acc_per_token: Option<f64>,
    /// Perplexity suites: the corpus perplexity.
    pub perplexity: Option<f64>,
    /// Median latency, ms.
    pub latency_p50_ms: Option<f64>,
    /// 95th-percentile latency, ms.
    pub latency_p95_ms: Option<f64>,
    /// Median time to first token, ms.
    pub ttft_p50_ms: Option<f64>,
    /// Generated tokens per second of request time: the sum of
    /// `completion_tokens` over the sum of latencies, over the cases that
    /// report tokens.
    pub tokens_per_s: Option<f64>,
    /// Mean cost of a case times 1,000; `None` unless every case has a cost.
    pub cost_per_1k_requests_usd: Option<f64>,
}

impl Summary {
    /// Aggregates `cases` (percentiles by linear interpolation, see
    /// [`percentile`]); `perplexity` is the corpus perplexity of a perplexity
    /// run.
    pub fn compute(cases: &[CaseResult], perplexity: Option<f64>) -> Summary {
        let n = cases.len();
        let passed = cases.iter().filter(|case| case.passed).count();
        let pass_rate = if n == 0 {
            0.0
        } else {
            passed as f64 / n as f64
        };
        let (lo, hi) = wilson95(passed as u64, n as u64);
        let choices: Vec<&ChoiceResult> = cases
            .iter()
            .filter_map(|case| case.choice.as_ref())
            .collect();
        let rate = |count: usize| count as f64 / choices.len() as f64;
        let (acc, acc_norm, acc_per_token) = if choices.is_empty() {
            (None, None, None)
        } else {
            (
                Some(rate(choices.iter().filter(|c| c.acc).count())),
                Some(rate(choices.iter().filter(|c| c.acc_norm).count())),
                Some(rate(choices.iter().filter(|c| c.acc_per_token).count())),
            )
        };
        let latencies: Vec<f64> = cases.iter().map(|case| case.latency_ms).collect();
        let ttfts: Vec<f64> = cases.iter().filter_map(|case| case.ttft_ms).collect();
        let (tokens, seconds) = cases
            .iter()
            .filter_map(|case| {
                case.completion_tokens
                    .map(|tokens| (tokens as f64, case.latency_ms / 1000.0))
            })
            .fold((0.0, 0.0), |(t, s), (tokens, secs)| (t + tokens, s + secs));
        let tokens_per_s = (seconds > 0.0 && seconds.is_finite()).then(|| tokens / seconds);
        let costs: Option<Vec<f64>> = cases.iter().map(|case| case.cost_usd).collect();
        let cost_per_1k_requests_usd = costs
            .filter(|costs| !costs.is_empty())
            .map(|costs| costs.iter().sum::<f64>() / costs.len() as f64 * 1000.0);
        Summary {
            cases: n,
            passed,
            pass_rate,
            wilson95: [lo, hi],
            acc,
            acc_norm,
            acc_per_token,
            perplexity,
            latency_p50_ms: percentile(&latencies, 50.0),
            latency_p95_ms: percentile(&latencies, 95.0),
            ttft_p50_ms: percentile(&ttfts, 50.0),
            tokens_per_s,
            cost_per_1k_requests_usd,
        }
    }
}

/// What describes a run besides its suite and cases.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The model (`NAME@VER`, a path, or an endpoint's model id).
    pub model: String,
    /// Where it ran: `"engine"` or the endpoint URL.
    pub target: String,
    /// Engine or request settings, as given.
    pub settings: serde_json::Value,
    /// Sampling seed.
    pub seed: Option<u64>,
    /// When the run started (RFC 3339).
    pub started: String,
    /// Wall-clock duration of the run, seconds.
    pub duration_s: f64,
}

/// One evaluation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The suite.
    pub suite: SuiteRef,
    /// The model.
    pub model: String,
    /// `"engine"` or the endpoint URL.
    pub target: String,
    /// Engine or request settings.
    pub settings: serde_json::Value,
    /// Sampling seed.
    pub seed: Option<u64>,
    /// Start time (RFC 3339).
    pub started: String,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Per-case results.
    pub cases: Vec<CaseResult>,
    /// Aggregates.
    pub summary: Summary,
    /// The suite's threshold.
    pub threshold: Option<f64>,
    /// Whether the threshold was met (true without one).
    pub threshold_met: bool,
}

impl RunReport {
    /// Builds the report: outputs capped, summary computed, threshold judged
    /// (generation: pass rate >= threshold; multiple choice: acc_norm >=
    /// threshold; perplexity: perplexity <= threshold).
    pub fn new(
        suite: SuiteRef,
        run: RunInfo,
        mut cases: Vec<CaseResult>,
        perplexity: Option<f64>,
        threshold: Option<f64>,
    ) -> RunReport {
        for case in &mut cases {
            if case.output.len() > MAX_OUTPUT_BYTES {
                case.output = truncate_output(&case.output);
            }
        }
        let summary = Summary::compute(&cases, perplexity);
        let threshold_met = judge(suite.kind, threshold, &summary).0;
        RunReport {
            suite,
            model: run.model,
            target: run.target,
            settings: run.settings,
            seed: run.seed,
            started: run.started,
            duration_s: run.duration_s,
            cases,
            summary,
            threshold,
            threshold_met,
        }
    }

    /// The last line of the text report: `PASS: ...` or `FAIL: ...`, and why.
    pub fn verdict_line(&self) -> String {
        let (met, why) = judge(self.suite.kind, self.threshold, &self.summary);
        format!("{}: {why}", if met { "PASS" } else { "FAIL" })
    }
}

/// Whether the threshold is met, and a sentence saying why.
fn judge(kind: SuiteKind, threshold: Option<f64>, summary: &Summary) -> (bool, String) {
    let counts = format!("{}/{} cases passed", summary.passed, summary.cases);
    match (kind, threshold) {
        (SuiteKind::Perplexity, None) => match summary.perplexity {
            Some(ppl) => (true, format!("perplexity {ppl:.3}; no threshold set")),
            None => (true, "no perplexity measured; no threshold set".to_owned()),
        },
        (SuiteKind::Perplexity, Some(max)) => match summary.perplexity {
            Some(ppl) if ppl <= max => (
                true,
                format!("perplexity {ppl:.3} is at or below the maximum {max}"),
            ),
            Some(ppl) => (
                false,
                format!("perplexity {ppl:.3} is above the maximum {max}"),
            ),
            None => (false, format!("no perplexity was measured (maximum {max})")),
        },
        (_, None) => (true, format!("{counts}; no threshold set")),
        (SuiteKind::Generation, Some(min)) => {
            let rate = summary.pass_rate;
            if rate >= min {
                (
                    true,
                    format!(
                        "pass rate {} ({counts}) meets the threshold {}",
                        pct(rate),
                        pct(min)
                    ),
                )
            } else {
                (
                    false,
                    format!(
                        "pass rate {} ({counts}) is below the threshold {}",
                        pct(rate),
                        pct(min)
                    ),
                )
            }
        }
        (SuiteKind::MultipleChoice, Some(min)) => {
            let acc_norm = summary.acc_norm.unwrap_or(0.0);
            if summary.acc_norm.is_some() && acc_norm >= min {
                (
                    true,
                    format!(
                        "acc_norm {} meets the threshold {}",
                        pct(acc_norm),
                        pct(min)
                    ),
                )
            } else {
                (
                    false,
                    format!(
                        "acc_norm {} is below the threshold {}",
                        pct(acc_norm),
                        pct(min)
                    ),
                )
            }
        }
    }
}

fn pct(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"))
}

/// `text` on one line with control characters (terminal escapes included)
/// shown escaped, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let mut line = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            line.push('…');
            break;
        }
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

/// A plain-text report for a terminal; it ends with the [`RunReport::verdict_line`].
pub fn render_text(report: &RunReport) -> String {
    let mut out = String::new();
    let summary = &report.summary;
    let digest: String = report.suite.digest.chars().take(12).collect();
    let _ = writeln!(
        out,
        "suite {} ({}, sha256 {digest}) on {} via {}",
        one_line(&report.suite.name, 200),
        report.suite.kind,
        one_line(&report.model, 200),
        one_line(&report.target, 200)
    );
    for case in &report.cases {
        let _ = writeln!(
            out,
            "  {} {}  score {:.2}  {}",
            if case.passed { "PASS" } else { "FAIL" },
            one_line(&case.id, 120),
            case.score,
            ms(Some(case.latency_ms))
        );
        if !case.passed {
            for assertion in case.assertions.iter().filter(|a| !a.passed) {
                let _ = writeln!(out, "      - {}", one_line(&assertion.reason, 300));
            }
            if let Some(choice) = &case.choice {
                let _ = writeln!(
                    out,
                    "      - gold {}, picked {} (acc_norm), {} (acc)",
                    choice.gold,
                    choice.pred_norm.map_or("-".to_owned(), |p| p.to_string()),
                    choice.pred.map_or("-".to_owned(), |p| p.to_string())
                );
            }
        }
    }
    if report.suite.kind != SuiteKind::Perplexity || summary.cases > 0 {
        let _ = writeln!(
            out,
            "cases {}, passed {}, pass rate {} (95% CI {}–{})",
            summary.cases,
            summary.passed,
            pct(summary.pass_rate),
            pct(summary.wilson95[0]),
            pct(summary.wilson95[1])
        );
    }
    if let (Some(acc), Some(acc_norm)) = (summary.acc, summary.acc_norm) {
        let _ = writeln!(out, "acc {}, acc_norm {}", pct(acc), pct(acc_norm));
        if let Some(per_token) = summary.acc_per_token {
            let _ = writeln!(
                out,
                "acc_per_token {} (llama.cpp's normalisation)",
                pct(per_token)
            );
        }
    }
    if let Some(ppl) = summary.perplexity {
        let _ = writeln!(out, "perplexity {ppl:.3}");
    }
    let _ = writeln!(
        out,
        "latency p50 {}, p95 {}; ttft p50 {}; {}; {}",
        ms(summary.latency_p50_ms),
        ms(summary.latency_p95_ms),
        ms(summary.ttft_p50_ms),
        summary
            .tokens_per_s
            .map_or("tokens/s -".to_owned(), |t| format!("{t:.1} tokens/s")),
        summary
            .cost_per_1k_requests_usd
            .map_or("cost unknown".to_owned(), |c| format!(
                "${c:.4} per 1,000 requests"
            ))
    );
    let _ = writeln!(out, "{}", report.verdict_line());
    out
}

/// `text` safe in a Markdown table cell.
fn md_cell(text: &str, max: usize) -> String {
    let mut cell = String::new();
    for c in one_line(text, max).chars() {
        match c {
            '|' => cell.push_str("\\|"),
            '<' => cell.push_str("&lt;"),
            '>' => cell.push_str("&gt;"),
            '&' => cell.push_str("&amp;"),
            '`' => cell.push_str("\\`"),
            _ => cell.push(c),
        }
    }
    cell
}

fn opt_md(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), format)
}

/// A Markdown report (for pull requests and step summaries).
pub fn render_markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let summary = &report.summary;
    let verdict = report.verdict_line();
    let _ = writeln!(out, "## Eval: {}\n", md_cell(&report.suite.name, 200));
    let _ = writeln!(out, "**{}**\n", md_cell(&verdict, 500));
    let _ = writeln!(out, "| | |\n| --- | --- |");
    let _ = writeln!(out, "| model | {} |", md_cell(&report.model, 200));
    let _ = writeln!(out, "| target | {} |", md_cell(&report.target, 200));
    let _ = writeln!(
        out,
        "| suite | {} ({}) |",
        md_cell(&report.suite.name, 200),
        report.suite.kind
    );
    let _ = writeln!(out, "| digest | {} |", md_cell(&report.suite.digest, 80));
    let _ = writeln!(
        out,
        "| pass rate | {} ({}/{}; 95% CI {}–{}) |",
        pct(summary.pass_rate),
        summary.passed,
        summary.cases,
        pct(summary.wilson95[0]),
        pct(summary.wilson95[1])
    );
    if summary.acc.is_some() {
        let _ = writeln!(out, "| acc | {} |", opt_md(summary.acc, pct));
        let _ = writeln!(out, "| acc_norm | {} |", opt_md(summary.acc_norm, pct));
        let _ = writeln!(
            out,
            "| acc_per_token | {} |",
            opt_md(summary.acc_per_token, pct)
        );
    }
    if summary.perplexity.is_some() {
        let _ = writeln!(
            out,
            "| perplexity | {} |",
            opt_md(summary.perplexity, |p| format!("{p:.3}"))
        );
    }
    let _ = writeln!(
        out,
        "| latency p50 / p95 | {} / {} |",
        ms(summary.latency_p50_ms),
        ms(summary.latency_p95_ms)
    );
    let _ = writeln!(out, "| TTFT p50 | {} |", ms(summary.ttft_p50_ms));
    let _ = writeln!(
        out,
        "| tokens/s | {} |",
        opt_md(summary.tokens_per_s, |t| format!("{t:.1}"))
    );
    let _ = writeln!(
        out,
        "| cost per 1,000 requests | {} |",
        opt_md(summary.cost_per_1k_requests_usd, |c| format!("${c:.4}"))
    );
    if !report.cases.is_empty() {
        let _ = writeln!(
            out,
            "\n| case | result | score | latency | why |\n| --- | --- | --- | --- | --- |"
        );
        for case in &report.cases {
            let reasons: Vec<String> = case
                .assertions
                .iter()
                .filter(|a| !a.passed)
                .map(|a| md_cell(&a.reason, 200))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} | {} |",
                md_cell(&case.id, 120),
                if case.passed { "pass" } else { "**fail**" },
                case.score,
                ms(Some(case.latency_ms)),
                reasons.join("; ")
            );
        }
    }
    out
}

/// Escapes `text` for XML 1.0 character data and attribute values: `& < > "
/// '` become entities, tab, newline and carriage return become character
/// references (so attribute values keep them), and the characters XML 1.0
/// forbids (other C0 controls, U+FFFE, U+FFFF) become U+FFFD.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// A JUnit XML report: one `<testcase>` per case (failed cases carry a
/// `<failure>` with the failed assertions and the output), plus a `threshold`
/// test case when the suite has a threshold (and a `perplexity` one for
/// perplexity suites).
pub fn render_junit(report: &RunReport) -> String {
    struct TestCase {
        name: String,
        time_s: f64,
        failure: Option<(String, String)>,
    }
    let mut tests: Vec<TestCase> = report
        .cases
        .iter()
        .map(|case| {
            let failure = (!case.passed).then(|| {
                let reasons: Vec<&str> = case
                    .assertions
                    .iter()
                    .filter(|a| !a.passed)
                    .map(|a| a.reason.as_str())
                    .collect();
                let message = match (&case.choice, reasons.is_empty()) {
                    (Some(choice), _) => format!(
                        "gold {}, picked {}",
                        choice.gold,
                        choice.pred_norm.map_or("-".to_owned(), |p| p.to_string())
                    ),
                    (None, false) => reasons.join("; "),
                    (None, true) => format!("score {:.2}", case.score),
                };
                let body = format!("{}\n\noutput:\n{}", reasons.join("\n"), case.output);
                (message, body)
            });
            TestCase {
                name: case.id.clone(),
                time_s: case.latency_ms / 1000.0,
                failure,
            }
        })
        .collect();
    if report.threshold.is_some() || report.suite.kind == SuiteKind::Perplexity {
        let verdict = report.verdict_line();
        tests.push(TestCase {
            name: if report.suite.kind == SuiteKind::Perplexity {
                "perplexity".to_owned()
            } else {
                "threshold".to_owned()
            },
            time_s: 0.0,
            failure: (!report.threshold_met).then(|| (verdict.clone(), verdict)),
        });
    }
    let failures = tests.iter().filter(|t| t.failure.is_some()).count();
    let name = escape_xml(&report.suite.name);
    let time = finite_or_zero(report.duration_s);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"modelgate eval\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
        tests.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">",
        tests.len()
    );
    let _ = writeln!(out, "    <properties>");
    for (key, value) in [
        ("model", report.model.as_str()),
        ("target", report.target.as_str()),
        ("suite.digest", report.suite.digest.as_str()),
        ("started", report.started.as_str()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{key}\" value=\"{}\"/>",
            escape_xml(value)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for test in &tests {
        let open = format!(
            "    <testcase classname=\"{name}\" name=\"{}\" time=\"{:.3}\"",
            escape_xml(&test.name),
            finite_or_zero(test.time_s)
        );
        match &test.failure {
            None => {
                let _ = writeln!(out, "{open}/>");
            }
            Some((message, body)) => {
                let _ = writeln!(
                    out,
                    "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape_xml(message),
                    escape_xml(body)
                );
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>\n</testsuites>");
    out
}

fn finite_or_zero(value: f64) -> f64 {
    if value.is_finite() && value >= 0.0 {
        value
    } else {
        0.0
    }
}

/// The report as pretty-printed JSON (non-finite numbers become `null`).
pub fn render_json(report: &RunReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
