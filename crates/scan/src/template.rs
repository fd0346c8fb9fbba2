//! Chat template analysis: Jinja syntax read for server-side template
//! injection (SSTI).
//!
//! Inference servers render a model's chat template with Jinja2 (often not
//! sandboxed, e.g. llama-cpp-python before 0.2.72, CVE-2024-34359). A
//! template can then walk from any object to `__globals__` and
//! `__builtins__` and run code. Real chat templates only loop over messages,
//! test roles and print strings, so every route to Python internals is a
//! finding:
//!
//! - attribute or subscript access to dunder names (`__class__`,
//!   `__globals__`, `__subclasses__`, `__builtins__`, …), also when the name
//!   is spelled with escapes (`'\x5f\x5fclass\x5f\x5f'`);
//! - names computed at render time and fed to `attr` or `[]` (`'_'*2 ~
//!   'class'`, `'%c'|format(95)`, `|join`);
//! - attribute access on Jinja's global gadget objects (`cycler`, `joiner`,
//!   `lipsum`, `namespace`, `self`, and Flask's `request`, `config`, …),
//!   the usual starting points of published payloads;
//! - template loading (`include`, `import`, `extends`), which reads files;
//! - syntax that cannot be parsed: a renderer may read it differently from
//!   us, so it fails closed.
//!
//! The analysis is lexical over Jinja's own token grammar, not regular
//! expressions over the text: strings are decoded (so escapes cannot hide
//! a name), comments and `raw` blocks are skipped as Jinja skips them.

use crate::{Finding, Location, Severity};

/// Jinja globals (and the Flask globals often exposed beside them) used as
/// the first step of template injection payloads.
const GADGETS: &[&str] = &[
    "cycler",
    "joiner",
    "lipsum",
    "namespace",
    "self",
    "request",
    "config",
    "url_for",
    "get_flashed_messages",
    "g",
    "session",
];

/// Attribute names that only appear in payloads that reached Python
/// internals.
const DANGEROUS_ATTRIBUTES: &[&str] = &[
    "mro",
    "popen",
    "system",
    "eval",
    "exec",
    "import_module",
    "load_module",
    "func_globals",
    "f_globals",
    "f_back",
    "gi_frame",
    "cr_frame",
    "tb_frame",
    "co_code",
    "environ",
];

/// Longest evidence excerpt, in characters.
const MAX_EVIDENCE_CHARS: usize = 160;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// A string literal, decoded, and whether it used escapes.
    Str {
        value: String,
        escaped: bool,
    },
    Number,
    Op(char),
}

/// A tag's source and where it starts.
struct Tag<'a> {
    text: &'a str,
    line: u64,
    /// `{%` statement (true) or `{{` expression (false).
    statement: bool,
}

/// Analyse one template. `key` names where it came from (a GGUF metadata
/// key or `tokenizer_config.json:chat_template[tool_use]`) and is put in
/// each finding's location.
pub fn analyse(source: &str, key: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let location = |line: u64| Location {
        key: Some(key.to_string()),
        line: Some(line),
        ..Location::default()
    };
    let (tags, error) = split_tags(source);
    if let Some((line, message)) = error {
        findings.push(Finding {
            rule: "template.unparseable",
            severity: Severity::High,
            message: format!(
                "chat template cannot be parsed ({message}); a renderer may read it differently, so it was not verified"
            ),
            location: location(line),
            evidence: None,
        });
    }
    for tag in tags {
        let tokens = match tokenize(tag.text) {
            Ok(tokens) => tokens,
            Err(message) => {
                findings.push(Finding {
                    rule: "template.unparseable",
                    severity: Severity::High,
                    message: format!("chat template expression cannot be parsed: {message}"),
                    location: location(tag.line),
                    evidence: Some(excerpt(tag.text)),
                });
                continue;
            }
        };
        for (rule, severity, message) in check_tag(&tokens, tag.statement) {
            findings.push(Finding {
                rule,
                severity,
                message,
                location: location(tag.line),
                evidence: Some(excerpt(tag.text)),
            });
        }
    }
    findings
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_EVIDENCE_CHARS {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_EVIDENCE_CHARS).collect();
        format!("{cut}…")
    }
}

fn is_dunder(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// Whether a string value would, used as an attribute name, reach Python
/// internals.
fn is_private_name(name: &str) -> bool {
    name.starts_with('_') && name.len() > 1 || name.contains("__")
}

type Issue = (&'static str, Severity, String);

fn check_tag(tokens: &[Token], statement: bool) -> Vec<Issue> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut push = |rule: &'static str, severity: Severity, message: String| {
        if !issues.iter().any(|(r, _, m)| *r == rule && *m == message) {
            issues.push((rule, severity, message));
        }
    };
    if let (true, Some(Token::Ident(keyword))) = (statement, tokens.first())
        && matches!(keyword.as_str(), "include" | "import" | "extends" | "from")
    {
        push(
            "template.file-access",
            Severity::High,
            format!("`{keyword}` loads another template from the server's file system"),
        );
    }
    let mut depth_brackets: Vec<usize> = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let previous = index.checked_sub(1).and_then(|i| tokens.get(i));
        let next = tokens.get(index + 1);
        match token {
            Token::Ident(name) => {
                let after_dot = previous == Some(&Token::Op('.'));
                if after_dot && (is_dunder(name) || name.starts_with('_')) {
                    push(
                        "template.dunder-access",
                        Severity::Critical,
                        format!(
                            "attribute `{name}` reaches Python internals (the route to code execution from a template)"
                        ),
                    );
                } else if after_dot && DANGEROUS_ATTRIBUTES.contains(&name.as_str()) {
                    push(
                        "template.dunder-access",
                        Severity::Critical,
                        format!("attribute `{name}` is only used by code-execution payloads"),
                    );
                } else if is_dunder(name) {
                    push(
                        "template.dunder-access",
                        Severity::Critical,
                        format!("name `{name}` reaches Python internals"),
                    );
                }
                let is_global = !after_dot && previous != Some(&Token::Op('|'));
                if is_global
                    && GADGETS.contains(&name.as_str())
                    && (matches!(next, Some(Token::Op('.' | '[')))
                        || (next == Some(&Token::Op('|'))
                            && tokens.get(index + 2) == Some(&Token::Ident("attr".to_string()))))
                {
                    push(
                        "template.gadget-access",
                        Severity::Critical,
                        format!(
                            "attribute access on the global `{name}`, the starting point of published template-injection payloads"
                        ),
                    );
                }
                if previous == Some(&Token::Op('|')) && name == "attr" {
                    // `|attr(<literal>)` with a safe literal is fine; anything else is computed.
                    let argument = (
                        tokens.get(index + 1),
                        tokens.get(index + 2),
                        tokens.get(index + 3),
                    );
                    match argument {
                        (Some(Token::Op('(')), Some(Token::Str { .. }), Some(Token::Op(')'))) => {}
                        _ => push(
                            "template.dynamic-attribute",
                            Severity::Critical,
                            "`attr` filter with a name computed at render time".to_string(),
                        ),
                    }
                }
                if previous == Some(&Token::Op('|')) && name == "format" {
                    let formats_char = tokens.get(index.saturating_sub(2)).is_some_and(
                        |t| matches!(t, Token::Str { value, .. } if value.contains("%c")),
                    );
                    if formats_char {
                        push(
                            "template.dynamic-attribute",
                            Severity::Critical,
                            "string built from character codes (`'%c'|format(…)`), a way to spell forbidden names".to_string(),
                        );
                    }
                }
            }
            Token::Str { value, escaped } => {
                if is_private_name(value)
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    push(
                        "template.dunder-access",
                        Severity::Critical,
                        format!("string `{value}` names a Python internal attribute"),
                    );
                }
                if *escaped && value.contains('_') {
                    push(
                        "template.obfuscated-string",
                        Severity::Critical,
                        format!("string literal spells `{value}` with escape sequences"),
                    );
                }
            }
            Token::Op('[') => depth_brackets.push(index),
            Token::Op(']') => {
                if let Some(open) = depth_brackets.pop() {
                    let inside = tokens.get(open + 1..index).unwrap_or_default();
                    let computed = inside
                        .iter()
                        .any(|t| matches!(t, Token::Op('~' | '+' | '*' | '%' | '|')));
                    let underscores = inside
                        .iter()
                        .any(|t| matches!(t, Token::Str { value, .. } if value.contains('_')));
                    let subscript = open
                        .checked_sub(1)
                        .and_then(|i| tokens.get(i))
                        .is_some_and(|t| matches!(t, Token::Ident(_) | Token::Op(')' | ']')));
                    if subscript && computed && underscores {
                        push(
                            "template.dynamic-attribute",
                            Severity::Critical,
                            "subscript with a name computed from underscores at render time"
                                .to_string(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    issues
}

/// Split a template into `{{ }}` and `{% %}` tags, skipping text, comments
/// and `raw` blocks. Returns the tags and the first syntax error.
fn split_tags(source: &str) -> (Vec<Tag<'_>>, Option<(u64, String)>) {
    let mut tags = Vec::new();
    let bytes = source.as_bytes();
    let mut position = 0;
    let mut line: u64 = 1;
    let mut counted = 0;
    let mut in_raw = false;
    while let Some(found) = source.get(position..).and_then(|rest| rest.find('{')) {
        let start = position + found;
        line += count_lines(source.get(counted..start).unwrap_or_default());
        counted = start;
        let kind = bytes.get(start + 1).copied();
        let close = match kind {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => "#}",
            _ => {
                position = start + 1;
                continue;
            }
        };
        let body_start = start + 2;
        let Some(end) = find_close(source, body_start, close) else {
            return (
                tags,
                Some((
                    line,
                    format!(
                        "`{{{}` opened on line {line} is never closed",
                        kind.map(char::from).unwrap_or('{')
                    ),
                )),
            );
        };
        position = end + 2;
        let body = source.get(body_start..end).unwrap_or_default();
        let body = body
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+']);
        match kind {
            Some(b'%') => {
                let keyword = body.split_whitespace().next().unwrap_or_default();
                if in_raw {
                    if keyword == "endraw" {
                        in_raw = false;
                    }
                    continue;
                }
                if keyword == "raw" {
                    in_raw = true;
                    continue;
                }
                tags.push(Tag {
                    text: body,
                    line,
                    statement: true,
                });
            }
            Some(b'{') if !in_raw => tags.push(Tag {
                text: body,
                line,
                statement: false,
            }),
            _ => {}
        }
    }
    if in_raw {
        return (
            tags,
            Some((
                line,
                "`{% raw %}` is never closed by `{% endraw %}`".to_string(),
            )),
        );
    }
    (tags, None)
}

fn count_lines(text: &str) -> u64 {
    u64::try_from(text.bytes().filter(|b| *b == b'\n').count()).unwrap_or(u64::MAX)
}

/// Find `close` after `from`, skipping string literals (a `}}` inside a
/// string does not end the tag).
fn find_close(source: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let comment = close == "#}";
    let mut index = from;
    let mut quote: Option<u8> = None;
    while let Some(&byte) = bytes.get(index) {
        match quote {
            Some(q) => {
                if byte == b'\\' {
                    index += 1;
                } else if byte == q {
                    quote = None;
                }
            }
            None => {
                if !comment && (byte == b'"' || byte == b'\'') {
                    quote = Some(byte);
                } else if source
                    .get(index..)
                    .is_some_and(|rest| rest.starts_with(close))
                {
                    return Some(index);
                }
            }
        }
        index += 1;
    }
    None
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut name = String::from(c);
            while let Some(&(_, next)) = chars.peek() {
                if next.is_alphanumeric() || next == '_' {
                    name.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Ident(name));
        } else if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|&(_, n)| n.is_ascii_alphanumeric() || n == '_' || n == '.')
            {
                chars.next();
            }
            tokens.push(Token::Number);
        } else if c == '"' || c == '\'' {
            let mut raw = String::new();
            let mut closed = false;
            while let Some((_, next)) = chars.next() {
                if next == '\\' {
                    raw.push(next);
                    if let Some((_, escaped)) = chars.next() {
                        raw.push(escaped);
                    }
                } else if next == c {
                    closed = true;
                    break;
                } else {
                    raw.push(next);
                }
            }
            if !closed {
                return Err("unterminated string literal".to_string());
            }
            let (value, escaped) = decode_escapes(&raw);
            tokens.push(Token::Str { value, escaped });
        } else {
            tokens.push(Token::Op(c));
        }
    }
    Ok(tokens)
}

/// Decode Python string escapes (`\x5f`, `\u005f`, `\U0000005f`, octal
/// `\137`, `\N{LOW LINE}`). Returns the value and whether any escape
/// produced a character.
fn decode_escapes(raw: &str) -> (String, bool) {
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        let Some(kind) = chars.next() else {
            value.push('\\');
            break;
        };
        let mut hex = |n: usize| -> Option<char> {
            let digits: String = (0..n).filter_map(|_| chars.next()).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
        };
        let decoded = match kind {
            'x' => hex(2),
            'u' => hex(4),
            'U' => hex(8),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '0'..='7' => {
                let mut digits = String::from(kind);
                while digits.len() < 3 && chars.peek().is_some_and(|d| ('0'..='7').contains(d)) {
                    if let Some(d) = chars.next() {
                        digits.push(d);
                    }
                }
                u32::from_str_radix(&digits, 8)
                    .ok()
                    .and_then(char::from_u32)
            }
            'N' => {
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                match name.trim_start_matches('{') {
                    "LOW LINE" | "low line" => Some('_'),
                    _ => Some('\u{fffd}'),
                }
            }
            other => {
                value.push('\\');
                Some(other)
            }
        };
        if let Some(decoded) = decoded {
            if !matches!(kind, 'n' | 't' | 'r' | '\\' | '\'' | '"') {
                escaped = true;
            }
            value.push(decoded);
        }
    }
    (value, escaped)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rules(source: &str) -> Vec<&'static str> {
        let mut rules: Vec<&'static str> = analyse(source, "t").iter().map(|f| f.rule).collect();
        rules.dedup();
        rules
    }

    #[test]
    fn ordinary_templates_are_clean() {
        // Shapes of real chat templates (ChatML, Llama 3 with namespace, Gemma).
        for source in [
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
            "{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ bos_token }}",
            "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ message['content'] | trim }}{{ '<start_of_turn>model\n' }}",
            "{# a comment with __class__ #}{% raw %}{{ ''.__class__ }}{% endraw %}{{ 'a}}b' }}",
            "{{ message.tool_calls | tojson }}{{ (messages|selectattr('role','equalto','user')|list)[-1]['content'] }}",
        ] {
            assert_eq!(rules(source), Vec::<&str>::new(), "{source}");
        }
    }

    #[test]
    fn published_payload_families_are_critical() {
        for (source, rule) in [
            (
                "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                "template.dunder-access",
            ),
            (
                "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
                "template.dunder-access",
            ),
            (
                "{{ self._TemplateReference__context }}",
                "template.dunder-access",
            ),
            ("{{ joiner.__init__ }}", "template.gadget-access"),
            ("{{ lipsum['__globals__'] }}", "template.gadget-access"),
            (
                "{{ request|attr('application') }}",
                "template.gadget-access",
            ),
            ("{{ ''|attr('__class__') }}", "template.dunder-access"),
            (
                "{{ ''|attr('_'*2 ~ 'class' ~ '_'*2) }}",
                "template.dynamic-attribute",
            ),
            (
                "{{ x['\\x5f\\x5fclass\\x5f\\x5f'] }}",
                "template.obfuscated-string",
            ),
            (
                "{{ x['_' ~ '_cla' ~ 'ss__'] }}",
                "template.dynamic-attribute",
            ),
            ("{{ ('%c'|format(95))*2 }}", "template.dynamic-attribute"),
            ("{% include '/etc/passwd' %}", "template.file-access"),
            ("{{ x.mro() }}", "template.dunder-access"),
            ("{% for m in messages %}{{ m", "template.unparseable"),
        ] {
            assert!(
                rules(source).contains(&rule),
                "{source}: {:?}",
                rules(source)
            );
        }
    }

    #[test]
    fn findings_name_the_line() {
        let findings = analyse(
            "line one\n{{ 'ok' }}\n\n{{ x.__class__ }}",
            "tokenizer.chat_template",
        );
        assert_eq!(findings[0].location.line, Some(4));
        assert_eq!(
            findings[0].location.key.as_deref(),
            Some("tokenizer.chat_template")
        );
        assert_eq!(findings[0].evidence.as_deref(), Some("x.__class__"));
    }
}
