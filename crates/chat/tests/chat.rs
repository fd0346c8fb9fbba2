//! modelgate-chat against the reference: every real template in
//! `tests/data/chat` rendered for every conversation in `cases.jsonl`, and
//! every snippet in `features.jsonl`, must give exactly what Python's
//! `jinja2` gives when set up the way transformers sets it up
//! (`render_reference.py`, run with `$MODELGATE_PYTHON`). Where Python's
//! template raises, Rust must fail too, with the same message when it came
//! from `raise_exception`.
//!
//! Then the sandbox: fuel, recursion, output and loader limits, each with a
//! hostile template.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modelgate_chat::{ChatTemplate, Limits, RenderError, RenderInput, TemplateError};
use serde_json::{Value, json};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/chat")
}

fn read_data(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_jsonl(name: &str) -> Vec<Value> {
    read_data(name)
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(line_idx, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name} line {}: {e}", line_idx + 1))
        })
        .collect()
}

/// SmolLM2's template, as the real GGUF from `scripts/fixtures.sh` carries it.
fn smollm2_template_from_gguf() -> String {
    let path = modelgate_testdata::smollm2();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let gguf = modelgate_gguf::Gguf::parse(&bytes).unwrap();
    gguf.get_str("tokenizer.chat_template")
        .expect("SmolLM2's GGUF has tokenizer.chat_template")
        .to_owned()
}

/// One render to compare: which template, with what input.
struct Render {
    label: String,
    template: String,
    input: RenderInput,
}

/// What a renderer answered.
#[derive(Debug, PartialEq)]
enum Answer {
    Prompt(String),
    Raised(String),
    Failed(String),
}

fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("MODELGATE_PYTHON").unwrap_or_else(|| {
        panic!(
            "MODELGATE_PYTHON is not set: these tests compare with Python's jinja2. \
             Run scripts/test.sh, or `export MODELGATE_PYTHON=$(scripts/venv.sh)`"
        )
    }))
}

/// Python's answers for `renders`, in order.
fn python_answers(templates: &BTreeMap<String, String>, renders: &[Render]) -> Vec<Answer> {
    let request = json!({
        "templates": templates,
        "renders": renders.iter().map(|render| json!({
            "template": render.template,
            "messages": render.input.messages,
            "tools": render.input.tools,
            "add_generation_prompt": render.input.add_generation_prompt,
            "bos_token": render.input.bos_token,
            "eos_token": render.input.eos_token,
            "extra": render.input.extra,
        })).collect::<Vec<_>>(),
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render_reference.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run $MODELGATE_PYTHON: {e}; run scripts/venv.sh"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "render_reference.py failed (is jinja2 installed? run scripts/venv.sh):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Answer> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let answer: Value = serde_json::from_str(line).unwrap();
            if let Some(prompt) = answer["ok"].as_str() {
                Answer::Prompt(prompt.to_owned())
            } else if let Some(message) = answer["raised"].as_str() {
                Answer::Raised(message.to_owned())
            } else {
                Answer::Failed(answer["error"].as_str().unwrap().to_owned())
            }
        })
        .collect();
    assert_eq!(answers.len(), renders.len(), "one answer per render");
    answers
}

fn rust_answer(template: &ChatTemplate, input: &RenderInput) -> Answer {
    match template.render(input) {
        Ok(prompt) => Answer::Prompt(prompt),
        Err(RenderError::Raised { message }) => Answer::Raised(message),
        Err(err) => Answer::Failed(err.to_string()),
    }
}

/// Renders everything with both and fails listing every difference. Returns
/// Python's answers, for the caller's own checks.
fn check(templates: &BTreeMap<String, String>, renders: &[Render]) -> Vec<Answer> {
    let compiled: BTreeMap<&str, Result<ChatTemplate, TemplateError>> = templates
        .iter()
        .map(|(name, source)| (name.as_str(), ChatTemplate::new(source)))
        .collect();
    let expected = python_answers(templates, renders);
    let mut differences = Vec::new();
    for (render, python) in renders.iter().zip(&expected) {
        let rust = match &compiled[render.template.as_str()] {
            Ok(template) => rust_answer(template, &render.input),
            Err(err) => Answer::Failed(err.to_string()),
        };
        let same = match (&rust, python) {
            // Other failures only have to be failures: the engines word them differently.
            (Answer::Failed(_), Answer::Failed(_)) => true,
            (rust, python) => rust == python,
        };
        if !same {
            differences.push(format!(
                "{}:\n  python: {python:?}\n  rust:   {rust:?}",
                render.label
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} renders differ from jinja2:\n{}",
        differences.len(),
        renders.len(),
        differences.join("\n")
    );
    expected
}

fn input_from_case(case: &Value, bos_token: &str, eos_token: &str) -> RenderInput {
    RenderInput {
        messages: case["messages"].as_array().cloned().unwrap_or_default(),
        add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap_or(true),
        bos_token: bos_token.to_owned(),
        eos_token: eos_token.to_owned(),
        tools: case["tools"].as_array().cloned(),
        extra: case["extra"].as_object().cloned().unwrap_or_default(),
    }
}

#[test]
fn committed_smollm2_template_is_the_one_in_the_gguf() {
    assert_eq!(read_data("smollm2.jinja"), smollm2_template_from_gguf());
}

#[test]
fn real_templates_render_like_jinja2() {
    let tokens: BTreeMap<String, Value> =
        serde_json::from_str(&read_data("templates.json")).unwrap();
    let mut templates = BTreeMap::new();
    for name in tokens.keys() {
        let source = if name == "smollm2" {
            smollm2_template_from_gguf()
        } else {
            read_data(&format!("{name}.jinja"))
        };
        templates.insert(name.clone(), source);
    }
    let cases = read_jsonl("cases.jsonl");
    let mut renders = Vec::new();
    for (name, special) in &tokens {
        for case in &cases {
            renders.push(Render {
                label: format!("{name} × {}", case["name"].as_str().unwrap()),
                template: name.clone(),
                input: input_from_case(
                    case,
                    special["bos_token"].as_str().unwrap(),
                    special["eos_token"].as_str().unwrap(),
                ),
            });
        }
    }
    let answers = check(&templates, &renders);

    // The comparison must not pass by everything failing alike.
    for name in tokens.keys() {
        let n_prompts = renders
            .iter()
            .zip(&answers)
            .filter(|(render, answer)| {
                &render.template == name && matches!(answer, Answer::Prompt(_))
            })
            .count();
        assert!(n_prompts >= 10, "only {n_prompts} prompts for {name}");
    }
    let gemma_alternation = renders
        .iter()
        .zip(&answers)
        .find(|(render, _)| render.label == "gemma3 × roles_not_alternating")
        .map(|(_, answer)| answer);
    assert_eq!(
        gemma_alternation,
        Some(&Answer::Raised(
            "Conversation roles must alternate user/assistant/user/assistant/...".to_owned()
        ))
    );
}

#[test]
fn features_render_like_jinja2() {
    let default_messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
    ]);
    let mut templates = BTreeMap::new();
    let mut renders = Vec::new();
    for feature in read_jsonl("features.jsonl") {
        let name = feature["name"].as_str().unwrap().to_owned();
        templates.insert(
            name.clone(),
            feature["template"].as_str().unwrap().to_owned(),
        );
        let mut case = feature.clone();
        if case["messages"].is_null() {
            case["messages"] = default_messages.clone();
        }
        renders.push(Render {
            label: name.clone(),
            template: name,
            input: input_from_case(&case, "<s>", "</s>"),
        });
    }
    let answers = check(&templates, &renders);
    let n_prompts = answers
        .iter()
        .filter(|answer| matches!(answer, Answer::Prompt(_)))
        .count();
    assert!(n_prompts >= 30, "only {n_prompts} of the features rendered");
}

fn user_says(text: &str) -> RenderInput {
    RenderInput {
        messages: vec![json!({"role": "user", "content": text})],
        ..RenderInput::default()
    }
}

#[test]
fn raise_exception_carries_the_templates_message() {
    let template = ChatTemplate::new(
        "{% for m in messages %}{% if m.role != 'user' %}\
         {{ raise_exception('Only user messages, not ' + m.role) }}{% endif %}{% endfor %}",
    )
    .unwrap();
    let mut input = user_says("hi");
    input.messages.push(json!({"role": "tool", "content": "x"}));
    let err = template.render(&input).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the chat template rejected the messages: Only user messages, not tool"
    );
    assert!(
        matches!(err, RenderError::Raised { ref message } if message == "Only user messages, not tool")
    );
}

#[test]
fn a_huge_loop_runs_out_of_fuel_quickly() {
    let template = ChatTemplate::new(
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    )
    .unwrap();
    let started = Instant::now();
    let err = template.render(&user_says("hi")).unwrap_err();
    assert!(
        matches!(err, RenderError::OutOfFuel { line: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_doubling_string_runs_out_of_fuel_before_memory() {
    let template = ChatTemplate::new(
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
    )
    .unwrap();
    let err = template.render(&user_says("hi")).unwrap_err();
    assert!(matches!(err, RenderError::OutOfFuel { .. }), "{err:?}");
}

#[test]
fn fuel_grows_with_the_input() {
    let template = ChatTemplate::with_limits(
        "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}",
        Limits {
            fuel: 10_000,
            ..Limits::default()
        },
    )
    .unwrap();
    // A megabyte of conversation still renders on a small base budget.
    let long_text = "word ".repeat(200_000);
    let input = user_says(&long_text);
    let prompt = template.render(&input).unwrap();
    assert_eq!(
        prompt.len(),
        long_text.len() + "<|im_start|>user\n<|im_end|>\n".len()
    );

    // Without the per-byte fuel it would not.
    let stingy = ChatTemplate::with_limits(
        "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}",
        Limits {
            fuel: 10_000,
            fuel_per_input_byte: 0,
            ..Limits::default()
        },
    )
    .unwrap();
    assert!(matches!(
        stingy.render(&input),
        Err(RenderError::OutOfFuel { .. })
    ));
}

#[test]
fn deep_recursion_hits_the_recursion_limit() {
    let template =
        ChatTemplate::new("{% macro down(n) %}{{ down(n + 1) }}{% endmacro %}{{ down(0) }}")
            .unwrap();
    let err = template.render(&user_says("hi")).unwrap_err();
    assert!(
        matches!(
            err,
            RenderError::RecursionLimit {
                limit: 200,
                line: 1
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("recursed deeper than the limit of 200"),
        "{err}"
    );
}

#[test]
fn the_output_cap_stops_a_render() {
    let limits = Limits {
        max_output_bytes: 1000,
        ..Limits::default()
    };
    let template = ChatTemplate::with_limits(
        "{% for i in range(2000) %}{{ messages[0].content }}{% endfor %}",
        limits.clone(),
    )
    .unwrap();
    let err = template.render(&user_says("0123456789")).unwrap_err();
    assert!(
        matches!(err, RenderError::OutputTooLarge { limit: 1000 }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("longer than the limit of 1000 bytes"),
        "{err}"
    );

    // Exactly at the limit is fine.
    let template = ChatTemplate::with_limits(
        "{% for i in range(100) %}{{ messages[0].content }}{% endfor %}",
        limits.clone(),
    )
    .unwrap();
    assert_eq!(
        template.render(&user_says("0123456789")).unwrap().len(),
        1000
    );

    // A value built inside a filter counts too.
    let template =
        ChatTemplate::with_limits("{% set s = messages | tojson(indent=5000) %}", limits).unwrap();
    let err = template.render(&user_says("hi")).unwrap_err();
    assert!(
        matches!(err, RenderError::OutputTooLarge { limit: 1000 }),
        "{err:?}"
    );
}

#[test]
fn templates_cannot_load_other_templates() {
    for (source, statement) in [
        ("{% include 'other.jinja' %}", "include"),
        ("x\n{% import 'macros.jinja' as m %}", "import"),
        ("{% from 'macros.jinja' import show %}", "from"),
        ("{% extends 'base.jinja' %}", "extends"),
        ("{% include 'chat_template' %}", "include"),
    ] {
        let err = ChatTemplate::new(source).unwrap_err();
        let TemplateError::LoadsOtherTemplate {
            statement: found,
            line,
        } = &err
        else {
            panic!("{source}: {err:?}");
        };
        assert_eq!(found, statement);
        assert_eq!(*line, if statement == "import" { 2 } else { 1 });
        assert!(err.to_string().contains("must be self-contained"), "{err}");
    }
}

#[test]
fn syntax_errors_name_their_line() {
    let err =
        ChatTemplate::new("{{ bos_token }}\n{% for m in messages %}\n{{ m.content }\n{% endfor %}")
            .unwrap_err();
    assert!(
        matches!(err, TemplateError::Syntax { line: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("chat template line 3: syntax error:"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());

    // transformers' own `{% generation %}` tag is not Jinja.
    let err = ChatTemplate::new("{% generation %}{{ m }}{% endgeneration %}").unwrap_err();
    assert!(
        matches!(err, TemplateError::Syntax { line: 1, ref detail, .. } if detail.contains("generation")),
        "{err:?}"
    );
}

#[test]
fn oversized_templates_are_refused() {
    let source = "x".repeat(modelgate_chat::MAX_TEMPLATE_BYTES + 1);
    let err = ChatTemplate::new(&source).unwrap_err();
    assert!(matches!(err, TemplateError::TooLarge { .. }), "{err:?}");
}

#[test]
fn self_referencing_values_are_errors_not_crashes() {
    for source in [
        "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | tojson }}",
        "{% set ns = namespace(items=[]) %}{% set ns.me = ns %}{{ ns.me | string }}",
        "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}",
    ] {
        let template = ChatTemplate::new(source).unwrap();
        let result = template.render(&user_says("hi"));
        assert!(result.is_err(), "{source}: {result:?}");
    }
}

#[test]
fn input_mistakes_are_named() {
    let template = ChatTemplate::new("{{ messages | length }}").unwrap();
    let input = RenderInput {
        messages: vec![json!({"role": "user", "content": "a"}), json!("just text")],
        ..RenderInput::default()
    };
    let err = template.render(&input).unwrap_err();
    assert!(
        matches!(
            err,
            RenderError::MessageNotObject {
                index: 1,
                found: "string"
            }
        ),
        "{err:?}"
    );

    let mut input = user_says("hi");
    input.extra.insert("bos_token".to_owned(), json!("<x>"));
    let err = template.render(&input).unwrap_err();
    assert!(
        matches!(err, RenderError::ReservedVariable { ref name } if name == "bos_token"),
        "{err:?}"
    );
}

#[test]
fn templates_are_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ChatTemplate>();

    let template = ChatTemplate::new("{{ messages[0].content }}").unwrap();
    std::thread::scope(|scope| {
        for thread_idx in 0..4 {
            let template = &template;
            scope.spawn(move || {
                let text = format!("thread {thread_idx}");
                assert_eq!(template.render(&user_says(&text)).unwrap(), text);
            });
        }
    });
}
