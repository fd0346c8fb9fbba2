use modelgate_eval::assert::{REFUSAL_PHRASES, evaluate_assertions, is_refusal};
use modelgate_eval::{Assertion, AssertionError, Cases, Observation, Suite, evaluate};
use serde_json::{Value, json};

fn assertion(json: Value) -> Assertion {
    Assertion::from_json(&json).unwrap()
}

fn seen(output: &str) -> Observation {
    Observation {
        output: output.to_owned(),
        latency_ms: 250.0,
        cost_usd: Some(0.002),
    }
}

/// Checks `spec` passes on `yes` and fails on `no`, and that its `not-` form
/// does the opposite on both.
fn both_ways(spec: Value, yes: &Observation, no: &Observation) {
    let positive = assertion(spec.clone());
    let outcome = positive.check(yes);
    assert!(outcome.passed, "{spec} on {yes:?}: {}", outcome.reason);
    let outcome = positive.check(no);
    assert!(!outcome.passed, "{spec} on {no:?}: {}", outcome.reason);

    let mut negated = spec.clone();
    let name = negated["type"].as_str().unwrap().to_owned();
    negated["type"] = Value::String(format!("not-{name}"));
    let negative = assertion(negated.clone());
    assert_eq!(negative.name(), format!("not-{name}"));
    let outcome = negative.check(yes);
    assert!(!outcome.passed, "{negated} on {yes:?}: {}", outcome.reason);
    assert!(outcome.reason.contains("not to"), "{}", outcome.reason);
    assert_eq!(outcome.kind, format!("not-{name}"));
    let outcome = negative.check(no);
    assert!(outcome.passed, "{negated} on {no:?}: {}", outcome.reason);
}

#[test]
fn every_text_assertion_and_its_negation() {
    let cases = [
        (
            json!({"type": "equals", "value": "Paris"}),
            "Paris",
            "Paris.",
        ),
        (
            json!({"type": "contains", "value": "refund"}),
            "a refund is due",
            "a Refund is due",
        ),
        (
            json!({"type": "icontains", "value": "REFUND"}),
            "a Refund is due",
            "no money back",
        ),
        (
            json!({"type": "contains-any", "value": ["refund", "credit"]}),
            "store credit",
            "nothing",
        ),
        (
            json!({"type": "contains-all", "value": ["refund", "credit"]}),
            "refund or credit",
            "refund only",
        ),
        (
            json!({"type": "icontains-any", "value": ["REFUND", "Credit"]}),
            "CREDIT note",
            "nothing",
        ),
        (
            json!({"type": "icontains-all", "value": ["REFUND", "Credit"]}),
            "refund, credit",
            "credit",
        ),
        (
            json!({"type": "starts-with", "value": "Yes"}),
            "Yes, sure",
            " Yes, sure",
        ),
        (
            json!({"type": "regex", "value": "^order #[0-9]{4}$"}),
            "order #1234",
            "order #12345",
        ),
        (
            json!({"type": "is-json"}),
            " {\"a\": 1}\n",
            "```json\n{\"a\": 1}\n```",
        ),
        (
            json!({"type": "is-json", "value": {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer", "minimum": 0}}}}),
            "{\"age\": 30}",
            "{\"age\": -3}",
        ),
        (
            json!({"type": "is-refusal"}),
            "I'm sorry, but I can't help with that.",
            "Here is your refund form.",
        ),
    ];
    for (spec, yes, no) in cases {
        both_ways(spec, &seen(yes), &seen(no));
    }
}

#[test]
fn latency_and_cost_both_ways_and_unknown_cost_fails() {
    let fast = Observation {
        output: String::new(),
        latency_ms: 400.0,
        cost_usd: Some(0.001),
    };
    let slow = Observation {
        output: String::new(),
        latency_ms: 900.0,
        cost_usd: Some(0.05),
    };
    both_ways(json!({"type": "latency", "threshold": 500}), &fast, &slow);
    both_ways(json!({"type": "max-cost", "threshold": 0.01}), &fast, &slow);

    let unpriced = Observation {
        cost_usd: None,
        ..fast.clone()
    };
    for spec in [
        json!({"type": "max-cost", "threshold": 0.01}),
        json!({"type": "not-max-cost", "threshold": 0.01}),
    ] {
        let outcome = assertion(spec).check(&unpriced);
        assert!(!outcome.passed);
        assert!(
            outcome.reason.contains("the cost is unknown"),
            "{}",
            outcome.reason
        );
    }
    let outcome = assertion(json!({"type": "latency", "threshold": 500})).check(&slow);
    assert_eq!(
        outcome.reason,
        "expected latency to be at most 500 ms (it was 900 ms)"
    );
}

#[test]
fn reasons_read_as_sentences() {
    let outcome = assertion(json!({"type": "contains", "value": "refund"})).check(&seen("no"));
    assert_eq!(outcome.reason, "expected output to contain \"refund\"");
    let outcome =
        assertion(json!({"type": "not-icontains", "value": "sorry"})).check(&seen("Sorry"));
    assert_eq!(
        outcome.reason,
        "expected output not to contain \"sorry\" (ignoring case)"
    );
    let outcome =
        assertion(json!({"type": "contains-all", "value": ["a", "b", "c"]})).check(&seen("a"));
    assert!(
        outcome.reason.ends_with("(missing \"b\", \"c\")"),
        "{}",
        outcome.reason
    );
    let outcome = assertion(json!({"type": "equals", "value": "x"})).check(&seen("y\u{1b}[31m"));
    assert!(
        outcome.reason.contains("it was \"y\\u{1b}[31m\""),
        "{}",
        outcome.reason
    );
    let outcome = assertion(json!({"type": "is-json", "value": {"type": "object", "properties": {"age": {"type": "integer"}}}}))
        .check(&seen("{\"age\": \"old\"}"));
    assert!(outcome.reason.contains("/age"), "{}", outcome.reason);
}

#[test]
fn refusals_are_recognised_near_the_start_only() {
    assert!(is_refusal(""));
    assert!(is_refusal("  \n "));
    for phrase in REFUSAL_PHRASES {
        let sentence = format!("{} do that.", phrase.to_uppercase());
        assert!(is_refusal(&sentence), "{sentence}");
    }
    assert!(is_refusal("I can\u{2019}t share that."));
    assert!(is_refusal("As an AI language model, I have no opinions."));
    assert!(!is_refusal("Your refund has been issued."));
    let late = format!(
        "{} I cannot go further.",
        "Here is the long answer. ".repeat(10)
    );
    assert!(
        !is_refusal(&late),
        "a phrase past the window does not count"
    );
}

#[test]
fn invalid_assertions_are_refused_with_the_field() {
    let cases: [(Value, &str); 12] = [
        (json!("contains"), ""),
        (json!({"value": "a"}), "type"),
        (json!({"type": "similar", "value": "a"}), "type"),
        (json!({"type": "contains", "value": 3}), "value"),
        (json!({"type": "contains-any", "value": []}), "value"),
        (json!({"type": "contains-any", "value": ["a", 1]}), "value"),
        (
            json!({"type": "regex", "value": "a{1000}{1000}{1000}"}),
            "value",
        ),
        (json!({"type": "is-json", "value": "schema"}), "value"),
        (json!({"type": "is-refusal", "value": "x"}), "value"),
        (json!({"type": "latency", "threshold": -1}), "threshold"),
        (
            json!({"type": "contains", "value": "a", "threshold": 1}),
            "threshold",
        ),
        (
            json!({"type": "contains", "value": "a", "weight": -1}),
            "weight",
        ),
    ];
    for (spec, field) in cases {
        let error = Assertion::from_json(&spec).unwrap_err();
        assert_eq!(error.field(), field, "{spec}: {error}");
    }
    let error = Assertion::from_json(&json!({"type": "not-similar"})).unwrap_err();
    match &error {
        AssertionError::UnknownType { name, valid } => {
            assert_eq!(name, "not-similar");
            assert!(valid.contains("equals") && valid.contains("max-cost"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn case_score_is_weighted_and_threshold_decides() {
    let toml = "name = \"s\"\nkind = \"generation\"\ncases = \"c.jsonl\"\n";
    let cases = concat!(
        "{\"id\": \"strict\", \"prompt\": \"p\", \"assert\": [{\"type\": \"icontains\", \"value\": \"refund\"}, {\"type\": \"not-is-refusal\", \"weight\": 3}]}\n",
        "{\"id\": \"lenient\", \"prompt\": \"p\", \"threshold\": 0.7, \"assert\": [{\"type\": \"icontains\", \"value\": \"refund\"}, {\"type\": \"not-is-refusal\", \"weight\": 3}]}\n",
        "{\"id\": \"none\", \"prompt\": \"p\"}\n",
    );
    let suite = Suite::from_parts(toml, cases.as_bytes()).unwrap();
    let Cases::Generation(cases) = &suite.cases else {
        panic!("generation");
    };
    let answer = seen("We can send a replacement.");
    let strict = evaluate(&cases[0], &answer);
    assert_eq!(strict.score, 0.75);
    assert!(
        !strict.passed,
        "without a threshold every assertion must pass"
    );
    let lenient = evaluate(&cases[1], &answer);
    assert_eq!(lenient.score, 0.75);
    assert!(lenient.passed);
    assert_eq!(lenient.assertions.len(), 2);
    assert!(!lenient.assertions[0].passed && lenient.assertions[1].passed);
    let none = evaluate(&cases[2], &answer);
    assert!(none.passed && none.score == 1.0);

    let zero = vec![assertion(
        json!({"type": "contains", "value": "x", "weight": 0}),
    )];
    let outcome = evaluate_assertions(&zero, None, &answer);
    assert!(!outcome.passed && outcome.score == 0.0);
}
