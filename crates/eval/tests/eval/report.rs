use modelgate_eval::report::{MAX_OUTPUT_BYTES, escape_xml, truncate_output};
use modelgate_eval::{
    CaseResult, Cases, ChoiceScore, Observation, RunInfo, RunReport, Suite, SuiteKind, SuiteRef,
    evaluate, render_json, render_junit, render_markdown, render_text, score_item,
};

fn run_info() -> RunInfo {
    RunInfo {
        model: "qwen2.5-0.5b@1".to_owned(),
        target: "engine".to_owned(),
        settings: serde_json::json!({"n_ctx": 2048}),
        seed: Some(42),
        started: "2025-01-02T03:04:05Z".to_owned(),
        duration_s: 12.5,
    }
}

const HOSTILE: &str = "</failure><x a=\"b\" c='d'>&amp; \u{0}\u{1b}[31m\u{7}\t\r\n\u{fffe}ok";

fn generation_report(threshold: Option<f64>) -> RunReport {
    let toml = "name = \"refunds\"\nkind = \"generation\"\ncases = \"c.jsonl\"\n";
    let cases = concat!(
        "{\"id\": \"r1\", \"prompt\": \"p\", \"assert\": [{\"type\": \"icontains\", \"value\": \"refund\"}]}\n",
        "{\"id\": \"r2\", \"prompt\": \"p\", \"assert\": [{\"type\": \"icontains\", \"value\": \"refund\"}, {\"type\": \"latency\", \"threshold\": 100}]}\n",
    );
    let suite = Suite::from_parts(toml, cases.as_bytes()).unwrap();
    let Cases::Generation(cases) = &suite.cases else {
        panic!("generation");
    };
    let observations = [
        Observation {
            output: "Your refund is on its way.".to_owned(),
            latency_ms: 80.0,
            cost_usd: Some(0.001),
        },
        Observation {
            output: format!("refund {HOSTILE}{}", "é".repeat(3000)),
            latency_ms: 400.0,
            cost_usd: Some(0.003),
        },
    ];
    let results: Vec<CaseResult> = cases
        .iter()
        .zip(&observations)
        .map(|(case, observation)| {
            let mut result = CaseResult::generation(case, observation, evaluate(case, observation));
            result.ttft_ms = Some(observation.latency_ms / 4.0);
            result.completion_tokens = Some(20);
            result.prompt_tokens = Some(10);
            result
        })
        .collect();
    let mut suite_ref = SuiteRef::from_suite(&suite);
    suite_ref.name = format!("refunds{HOSTILE}");
    RunReport::new(suite_ref, run_info(), results, None, threshold)
}

#[test]
fn summary_of_generation_cases() {
    let report = generation_report(Some(0.5));
    let summary = &report.summary;
    assert_eq!((summary.cases, summary.passed), (2, 1));
    assert_eq!(summary.pass_rate, 0.5);
    assert!(summary.wilson95[0] < 0.5 && summary.wilson95[1] > 0.5);
    assert_eq!(summary.latency_p50_ms, Some(240.0));
    assert_eq!(summary.latency_p95_ms, Some(384.0));
    assert_eq!(summary.ttft_p50_ms, Some(60.0));
    assert!((summary.tokens_per_s.unwrap() - 40.0 / 0.48).abs() < 1e-9);
    assert!((summary.cost_per_1k_requests_usd.unwrap() - 2.0).abs() < 1e-12);
    assert_eq!(summary.acc, None);
    assert!(report.threshold_met);
    assert!(report.cases[1].output.len() <= MAX_OUTPUT_BYTES);
    assert!(report.cases[1].output.starts_with("refund </failure>"));
    assert!(!generation_report(Some(0.6)).threshold_met);
}

#[test]
fn text_report_ends_with_the_verdict() {
    let text = render_text(&generation_report(Some(0.5)));
    let last = text.lines().last().unwrap();
    assert_eq!(
        last,
        "PASS: pass rate 50.0% (1/2 cases passed) meets the threshold 50.0%"
    );
    assert!(text.contains("FAIL r2"), "{text}");
    assert!(
        text.contains("expected latency to be at most 100 ms (it was 400 ms)"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "terminal escapes are neutralised");
    let text = render_text(&generation_report(Some(0.75)));
    assert_eq!(
        text.lines().last().unwrap(),
        "FAIL: pass rate 50.0% (1/2 cases passed) is below the threshold 75.0%"
    );
    let text = render_text(&generation_report(None));
    assert!(
        text.trim_end()
            .ends_with("PASS: 1/2 cases passed; no threshold set"),
        "{text}"
    );
}

#[test]
fn multiple_choice_results_fill_acc_and_acc_norm() {
    let toml = "name = \"mc\"\nkind = \"multiple_choice\"\ncases = \"i.jsonl\"\nthreshold = 0.5\n";
    let items = "{\"context\": \"c\", \"choices\": [\" a\", \" bbbbbbbbbb\"], \"gold\": 1}\n{\"context\": \"c\", \"choices\": [\" a\", \" b\"], \"gold\": 0}\n";
    let suite = Suite::from_parts(toml, items.as_bytes()).unwrap();
    let Cases::MultipleChoice(items) = &suite.cases else {
        panic!("multiple choice");
    };
    let scores = [
        [(-2.0, 2), (-5.0, 11)], // acc wrong, acc_norm right
        [(-3.0, 2), (-1.0, 2)],  // both wrong
    ];
    let results: Vec<CaseResult> = items
        .iter()
        .zip(scores)
        .map(|(item, pair)| {
            let choices: Vec<ChoiceScore> = pair
                .iter()
                .map(|&(logprob, bytes)| ChoiceScore {
                    logprob,
                    tokens: 1,
                    bytes,
                    greedy: false,
                    mean_after_shared: logprob,
                })
                .collect();
            CaseResult::multiple_choice(item, &score_item(item.gold, &choices), 10.0)
        })
        .collect();
    assert!(results[0].passed && results[0].output == " bbbbbbbbbb");
    let report = RunReport::new(
        SuiteRef::from_suite(&suite),
        run_info(),
        results,
        None,
        suite.threshold,
    );
    assert_eq!(report.summary.acc, Some(0.0));
    assert_eq!(report.summary.acc_norm, Some(0.5));
    assert!(report.threshold_met);
    let text = render_text(&report);
    assert!(text.contains("acc 0.0%, acc_norm 50.0%"), "{text}");
    assert!(
        text.ends_with("PASS: acc_norm 50.0% meets the threshold 50.0%\n"),
        "{text}"
    );
}

#[test]
fn perplexity_verdicts() {
    let suite_ref = SuiteRef {
        name: "wiki".to_owned(),
        digest: "ab".repeat(32),
        kind: SuiteKind::Perplexity,
        source: None,
        license: None,
    };
    let report = RunReport::new(
        suite_ref.clone(),
        run_info(),
        Vec::new(),
        Some(12.5),
        Some(10.0),
    );
    assert!(!report.threshold_met);
    assert!(render_text(&report).ends_with("FAIL: perplexity 12.500 is above the maximum 10\n"));
    let junit = render_junit(&report);
    assert!(
        junit.contains("<testcase classname=\"wiki\" name=\"perplexity\""),
        "{junit}"
    );
    assert!(junit.contains("failures=\"1\""), "{junit}");
    let report = RunReport::new(suite_ref, run_info(), Vec::new(), Some(8.0), Some(10.0));
    assert!(report.threshold_met);
}

#[test]
fn xml_escaping_of_hostile_text() {
    assert_eq!(
        escape_xml("a<b>&\"c\"'d'"),
        "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
    );
    assert_eq!(escape_xml("\t\n\r"), "&#9;&#10;&#13;");
    assert_eq!(
        escape_xml("\u{0}\u{1b}\u{8}\u{fffe}\u{ffff}"),
        "\u{fffd}".repeat(5)
    );
    assert_eq!(escape_xml("é中😀\u{85}"), "é中😀\u{85}");
}

/// Checks the XML is well formed as far as a test can without a parser:
/// every tag closes in order, attribute values hold no raw `<`, `&` only
/// starts an entity, and no character XML 1.0 forbids appears.
fn assert_well_formed(xml: &str) {
    for c in xml.chars() {
        let allowed = matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}';
        assert!(allowed, "forbidden character {c:?}");
    }
    for (index, _) in xml.match_indices('&') {
        let rest = &xml[index..];
        assert!(
            [
                "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#9;", "&#10;", "&#13;"
            ]
            .iter()
            .any(|entity| rest.starts_with(entity)),
            "bare & at {index}: {}",
            &rest[..rest.len().min(20)]
        );
    }
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .unwrap();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        assert!(
            !rest[..start].contains('>'),
            "raw > in text: {}",
            &rest[..start]
        );
        let end = rest[start..].find('>').unwrap() + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "raw < inside a tag: {tag}");
        let quotes = tag.matches('"').count();
        assert_eq!(quotes % 2, 0, "unbalanced quotes in {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
        } else if !tag.ends_with('/') {
            stack.push(tag.split(' ').next().unwrap().to_owned());
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

#[test]
fn junit_is_well_formed_with_hostile_names_and_outputs() {
    let report = generation_report(Some(0.75));
    let junit = render_junit(&report);
    assert_well_formed(&junit);
    assert!(
        junit.contains(
            "<testsuites name=\"modelgate eval\" tests=\"3\" failures=\"2\" time=\"12.500\">"
        ),
        "{junit}"
    );
    assert!(
        junit.contains("<testcase classname=\"refunds&lt;/failure&gt;&lt;x a=&quot;b&quot;"),
        "{junit}"
    );
    assert!(junit.contains("<testcase classname=\"refunds"), "{junit}");
    assert!(junit.contains("name=\"r1\" time=\"0.080\"/>"), "{junit}");
    assert!(
        junit.contains(
            "<failure message=\"expected latency to be at most 100 ms (it was 400 ms)\">"
        ),
        "{junit}"
    );
    assert!(junit.contains("name=\"threshold\""), "{junit}");
    assert!(junit.contains("is below the threshold 75.0%"), "{junit}");
}

#[test]
fn markdown_escapes_table_cells() {
    let report = generation_report(Some(0.5));
    let markdown = render_markdown(&report);
    assert!(
        markdown.starts_with("## Eval: refunds&lt;/failure&gt;"),
        "{markdown}"
    );
    assert!(markdown.contains("**PASS: pass rate 50.0%"), "{markdown}");
    assert!(
        markdown.contains("| r2 | **fail** | 0.50 | 400 ms | expected latency"),
        "{markdown}"
    );
    for line in markdown.lines().filter(|line| line.starts_with('|')) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells == 3 || cells == 6, "{line}");
    }
}

#[test]
fn json_round_trips() {
    let report = generation_report(Some(0.5));
    let json = render_json(&report).unwrap();
    let back: RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["suite"]["kind"], "generation");
    assert_eq!(value["summary"]["wilson95"].as_array().unwrap().len(), 2);
    assert_eq!(value["cases"][1]["assertions"][1]["kind"], "latency");
}

#[test]
fn outputs_are_cut_at_a_character_boundary() {
    let long = "é".repeat(MAX_OUTPUT_BYTES);
    let cut = truncate_output(&long);
    assert!(cut.len() <= MAX_OUTPUT_BYTES && cut.len() >= MAX_OUTPUT_BYTES - 1);
    assert!(cut.chars().all(|c| c == 'é'));
    assert_eq!(truncate_output("short"), "short");
}
