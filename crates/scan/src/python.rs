//! Python source analysis: what custom modelling code (loaded with
//! `trust_remote_code=True`) imports and calls.
//!
//! A Hugging Face repository can ship `.py` files that `transformers` imports
//! when `auto_map` points at them. That code runs with the user's rights, so
//! the scanner reads it: a tokenizer that understands Python's comments and
//! every string form (so text in a docstring is not mistaken for a call),
//! import aliases (`import subprocess as sp; sp.run(…)`, `from os import
//! system`), and dotted call targets. It does not execute or fully parse
//! the code: obfuscated code (`getattr(__import__('o'+'s'), …)`) is caught by
//! the dynamic-import and `getattr` rules rather than resolved.

use std::collections::HashMap;

use crate::{Finding, Location, Severity};

/// Calls and the severity and reason they carry. Prefix entries end in `.`.
const CALL_RULES: &[(&str, Severity, &str, &str)] = &[
    (
        "os.system",
        Severity::Critical,
        "code.process",
        "runs a shell command",
    ),
    (
        "os.popen",
        Severity::Critical,
        "code.process",
        "runs a shell command",
    ),
    (
        "os.exec",
        Severity::Critical,
        "code.process",
        "replaces the process with another program",
    ),
    (
        "os.spawn",
        Severity::Critical,
        "code.process",
        "starts a program",
    ),
    (
        "os.posix_spawn",
        Severity::Critical,
        "code.process",
        "starts a program",
    ),
    (
        "subprocess.",
        Severity::Critical,
        "code.process",
        "starts a program",
    ),
    (
        "pty.spawn",
        Severity::Critical,
        "code.process",
        "starts a program on a terminal",
    ),
    (
        "eval",
        Severity::Critical,
        "code.eval",
        "evaluates code built at run time",
    ),
    (
        "exec",
        Severity::Critical,
        "code.eval",
        "executes code built at run time",
    ),
    (
        "compile",
        Severity::High,
        "code.eval",
        "compiles code built at run time",
    ),
    (
        "__import__",
        Severity::High,
        "code.dynamic-import",
        "imports a module chosen at run time",
    ),
    (
        "importlib.import_module",
        Severity::High,
        "code.dynamic-import",
        "imports a module chosen at run time",
    ),
    (
        "marshal.loads",
        Severity::Critical,
        "code.eval",
        "loads compiled code objects",
    ),
    (
        "pickle.load",
        Severity::High,
        "code.deserialize",
        "unpickles data, which can run code",
    ),
    (
        "pickle.loads",
        Severity::High,
        "code.deserialize",
        "unpickles data, which can run code",
    ),
    (
        "dill.load",
        Severity::High,
        "code.deserialize",
        "unpickles data, which can run code",
    ),
    (
        "dill.loads",
        Severity::High,
        "code.deserialize",
        "unpickles data, which can run code",
    ),
    (
        "ctypes.",
        Severity::High,
        "code.native",
        "calls native code",
    ),
    (
        "socket.",
        Severity::High,
        "code.network",
        "opens network connections",
    ),
    (
        "urllib.request.",
        Severity::High,
        "code.network",
        "fetches URLs at run time",
    ),
    (
        "requests.",
        Severity::High,
        "code.network",
        "fetches URLs at run time",
    ),
    (
        "httpx.",
        Severity::High,
        "code.network",
        "fetches URLs at run time",
    ),
    (
        "http.client.",
        Severity::High,
        "code.network",
        "opens HTTP connections",
    ),
    (
        "huggingface_hub.hf_hub_download",
        Severity::High,
        "code.download",
        "downloads files at run time",
    ),
    (
        "huggingface_hub.snapshot_download",
        Severity::High,
        "code.download",
        "downloads a repository at run time",
    ),
    (
        "torch.hub.load",
        Severity::High,
        "code.download",
        "downloads and runs code from a hub at run time",
    ),
    (
        "shutil.rmtree",
        Severity::High,
        "code.filesystem",
        "deletes directory trees",
    ),
    (
        "os.remove",
        Severity::High,
        "code.filesystem",
        "deletes files",
    ),
    (
        "os.unlink",
        Severity::High,
        "code.filesystem",
        "deletes files",
    ),
    (
        "os.environ",
        Severity::Medium,
        "code.environment",
        "reads or changes environment variables",
    ),
    (
        "getattr",
        Severity::Low,
        "code.reflection",
        "looks up attributes by name at run time",
    ),
];

/// Imports that are findings on their own (the module's only purpose is a
/// capability model code should not need).
const IMPORT_RULES: &[(&str, Severity, &str, &str)] = &[
    (
        "subprocess",
        Severity::High,
        "code.process",
        "process execution",
    ),
    (
        "pty",
        Severity::High,
        "code.process",
        "process execution on a terminal",
    ),
    (
        "socket",
        Severity::High,
        "code.network",
        "raw network access",
    ),
    ("ctypes", Severity::High, "code.native", "native code"),
    (
        "marshal",
        Severity::High,
        "code.eval",
        "compiled code objects",
    ),
    (
        "paramiko",
        Severity::High,
        "code.network",
        "SSH connections",
    ),
    ("ftplib", Severity::High, "code.network", "FTP connections"),
    ("smtplib", Severity::High, "code.network", "sending e-mail"),
];

/// Analyse one Python file. `path` is its repository-relative path.
pub fn analyse(source: &str, path: &str) -> Vec<Finding> {
    let tokens = tokenize(source);
    let mut aliases: HashMap<String, String> = HashMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut push =
        |rule: &'static str, severity: Severity, message: String, line: u64, evidence: String| {
            if findings
                .iter()
                .any(|f| f.rule == rule && f.evidence.as_deref() == Some(evidence.as_str()))
            {
                return;
            }
            findings.push(Finding {
                rule,
                severity,
                message,
                location: Location {
                    member: Some(path.to_string()),
                    line: Some(line),
                    ..Location::default()
                },
                evidence: Some(evidence),
            });
        };
    let mut index = 0;
    while let Some(token) = tokens.get(index) {
        match token.text.as_str() {
            "import" if token.starts_statement => {
                // import a.b as c, d
                let mut cursor = index + 1;
                loop {
                    let (module, next) = dotted(&tokens, cursor);
                    if module.is_empty() {
                        break;
                    }
                    cursor = next;
                    let mut bound = module.split('.').next().unwrap_or_default().to_string();
                    let mut target = bound.clone();
                    if tokens.get(cursor).is_some_and(|t| t.text == "as")
                        && let Some(alias) = tokens.get(cursor + 1)
                    {
                        bound = alias.text.clone();
                        target = module.clone();
                        cursor += 2;
                    }
                    aliases.insert(bound, target);
                    check_import(&module, token.line, &mut push);
                    if tokens.get(cursor).is_some_and(|t| t.text == ",") {
                        cursor += 1;
                    } else {
                        break;
                    }
                }
                index = cursor;
                continue;
            }
            "from" if token.starts_statement => {
                let (module, mut cursor) = dotted(&tokens, index + 1);
                if tokens.get(cursor).is_some_and(|t| t.text == "import") {
                    cursor += 1;
                    check_import(&module, token.line, &mut push);
                    while let Some(name) = tokens.get(cursor) {
                        if name.text == "(" || name.text == "," || name.text == ")" {
                            cursor += 1;
                            continue;
                        }
                        if !is_identifier(&name.text) || name.text == "as" {
                            break;
                        }
                        let mut bound = name.text.clone();
                        let target = format!("{module}.{}", name.text);
                        cursor += 1;
                        if tokens.get(cursor).is_some_and(|t| t.text == "as")
                            && let Some(alias) = tokens.get(cursor + 1)
                        {
                            bound = alias.text.clone();
                            cursor += 2;
                        }
                        check_import(&target, name.line, &mut push);
                        aliases.insert(bound, target);
                        if tokens.get(cursor).is_none_or(|t| t.starts_statement) {
                            break;
                        }
                    }
                }
                index = cursor;
                continue;
            }
            _ => {}
        }
        let after_dot = index
            .checked_sub(1)
            .and_then(|i| tokens.get(i))
            .is_some_and(|t| t.text == ".");
        if is_identifier(&token.text) && !after_dot {
            let (name, next) = dotted(&tokens, index);
            let resolved = match name.split_once('.') {
                Some((head, rest)) => match aliases.get(head) {
                    Some(target) => format!("{target}.{rest}"),
                    None => name.clone(),
                },
                None => aliases.get(&name).cloned().unwrap_or_else(|| name.clone()),
            };
            let called = tokens.get(next).is_some_and(|t| t.text == "(");
            let defined = index
                .checked_sub(1)
                .and_then(|i| tokens.get(i))
                .is_some_and(|t| t.text == "def" || t.text == "class");
            if !defined {
                for (pattern, severity, rule, why) in CALL_RULES {
                    let matches = match pattern.strip_suffix('.') {
                        Some(module) => {
                            resolved.starts_with(*pattern) || (resolved == module && called)
                        }
                        None => {
                            resolved == *pattern
                                || (pattern.starts_with("os.") && resolved.starts_with(pattern))
                        }
                    };
                    let needs_call = !pattern.contains('.') || *rule == "code.deserialize";
                    if matches && (called || !needs_call) {
                        let evidence = if called {
                            format!("{resolved}(…)")
                        } else {
                            resolved.clone()
                        };
                        push(
                            rule,
                            *severity,
                            format!("{path} {why}: `{resolved}`"),
                            token.line,
                            evidence,
                        );
                    }
                }
            }
            index = next.max(index + 1);
            continue;
        }
        index += 1;
    }
    findings
}

fn check_import(
    module: &str,
    line: u64,
    push: &mut impl FnMut(&'static str, Severity, String, u64, String),
) {
    for (name, severity, rule, why) in IMPORT_RULES {
        if module == *name || module.starts_with(&format!("{name}.")) {
            push(
                rule,
                *severity,
                format!("imports `{module}` ({why})"),
                line,
                format!("import {module}"),
            );
        }
    }
}

fn is_identifier(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Read `a.b.c` starting at `start`; returns the name and the index after it.
fn dotted(tokens: &[Tok], start: usize) -> (String, usize) {
    let mut name = String::new();
    let mut cursor = start;
    // Relative imports: `from . import x`, `from ..m import y`.
    while tokens.get(cursor).is_some_and(|t| t.text == ".") && name.chars().all(|c| c == '.') {
        name.push('.');
        cursor += 1;
    }
    while let Some(token) = tokens.get(cursor) {
        if !is_identifier(&token.text) || token.text == "import" || token.text == "as" {
            break;
        }
        name.push_str(&token.text);
        cursor += 1;
        if tokens.get(cursor).is_some_and(|t| t.text == ".")
            && tokens
                .get(cursor + 1)
                .is_some_and(|t| is_identifier(&t.text))
        {
            name.push('.');
            cursor += 1;
        } else {
            break;
        }
    }
    (name, cursor)
}

/// A Python token: identifiers, numbers and punctuation (strings and
/// comments are dropped).
struct Tok {
    text: String,
    line: u64,
    /// First token of a logical line.
    starts_statement: bool,
}

fn tokenize(source: &str) -> Vec<Tok> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    let mut line: u64 = 1;
    let mut depth: u32 = 0;
    let mut at_statement_start = true;
    while let Some(&c) = chars.get(i) {
        if c == '\n' {
            line += 1;
            if depth == 0 {
                at_statement_start = true;
            }
            i += 1;
            continue;
        }
        if c == ';' {
            at_statement_start = true;
            i += 1;
            continue;
        }
        if c == '\\' && chars.get(i + 1) == Some(&'\n') {
            line += 1;
            i += 2;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            while chars.get(i).is_some_and(|c| *c != '\n') {
                i += 1;
            }
            continue;
        }
        // String literal, with optional prefix (r, b, f, u and pairs).
        let mut prefix_len = 0;
        while prefix_len < 2
            && chars
                .get(i + prefix_len)
                .is_some_and(|c| "rRbBfFuU".contains(*c))
        {
            prefix_len += 1;
        }
        if let Some(&quote) = chars
            .get(i + prefix_len)
            .filter(|q| **q == '"' || **q == '\'')
        {
            let raw = chars
                .get(i..i + prefix_len)
                .is_some_and(|p| p.iter().any(|c| *c == 'r' || *c == 'R'));
            let start = i + prefix_len;
            let triple =
                chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
            let mut j = if triple { start + 3 } else { start + 1 };
            while let Some(&d) = chars.get(j) {
                if d == '\\' && !raw {
                    if chars.get(j + 1) == Some(&'\n') {
                        line += 1;
                    }
                    j += 2;
                    continue;
                }
                if d == '\n' {
                    line += 1;
                    if !triple {
                        j += 1;
                        break;
                    }
                }
                if d == quote {
                    if !triple {
                        j += 1;
                        break;
                    }
                    if chars.get(j + 1) == Some(&quote) && chars.get(j + 2) == Some(&quote) {
                        j += 3;
                        break;
                    }
                }
                j += 1;
            }
            // A string is a token for statement boundaries, not for calls.
            tokens.push(Tok {
                text: "\"…\"".to_string(),
                line,
                starts_statement: at_statement_start,
            });
            at_statement_start = false;
            i = j;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            let text: String = chars.get(start..i).unwrap_or_default().iter().collect();
            tokens.push(Tok {
                text,
                line,
                starts_statement: at_statement_start,
            });
            at_statement_start = false;
            continue;
        }
        match c {
            '(' | '[' | '{' => depth = depth.saturating_add(1),
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        tokens.push(Tok {
            text: c.to_string(),
            line,
            starts_statement: at_statement_start,
        });
        at_statement_start = false;
        i += 1;
    }
    tokens
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rules(source: &str) -> Vec<(&'static str, String)> {
        analyse(source, "modeling.py")
            .into_iter()
            .map(|f| (f.rule, f.evidence.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn ordinary_modelling_code_is_clean() {
        let source = r#"
import math
import torch
from torch import nn
from .configuration_x import XConfig
"""Docstring that mentions os.system('rm -rf /') and eval(x)."""
class XModel(nn.Module):
    def forward(self, x):  # eval(x) in a comment
        s = "subprocess.run(['ls'])"
        return torch.relu(x) * math.sqrt(2)
    def eval(self):
        return self
"#;
        assert_eq!(rules(source), Vec::<(&str, String)>::new());
    }

    #[test]
    fn calls_through_aliases_are_resolved() {
        let source = "import subprocess as sp\nfrom os import system as run_it\nimport urllib.request\n\ndef f():\n    sp.run(['id'])\n    run_it('id')\n    eval(compile('1', 'f', 'eval'))\n    urllib.request.urlopen('http://x')\n    __import__('o' + 's')\n";
        let found = rules(source);
        for (rule, evidence) in [
            ("code.process", "import subprocess"),
            ("code.process", "subprocess.run(…)"),
            ("code.process", "os.system(…)"),
            ("code.eval", "eval(…)"),
            ("code.eval", "compile(…)"),
            ("code.network", "urllib.request.urlopen(…)"),
            ("code.dynamic-import", "__import__(…)"),
        ] {
            assert!(
                found.contains(&(rule, evidence.to_string())),
                "{rule} {evidence}: {found:?}"
            );
        }
        let lines: Vec<u64> = analyse(source, "m.py")
            .iter()
            .filter_map(|f| f.location.line)
            .collect();
        assert!(lines.contains(&6) && lines.contains(&7));
    }
}
