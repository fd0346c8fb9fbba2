//! Resolution of declared license identifiers, names, SPDX expressions and
//! links to knowledge-base entries.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

use crate::terms::{KNOWLEDGE_BASE, Terms};

/// Longest declared identifier or link resolved, in bytes; a longer value is
/// a text, not an identifier.
pub const MAX_DECLARED_BYTES: usize = 512;

/// Most operands in an SPDX expression.
const MAX_OPERANDS: usize = 16;

/// Words that do not tell licenses apart in a name.
const FILLER_WORDS: &[&str] = &[
    "the",
    "license",
    "licence",
    "licensed",
    "agreement",
    "version",
    "community",
    "terms",
    "of",
    "use",
    "v",
];

/// Declared values that name no license: they defer to another field
/// (`license: other` with `license_name`) or say nothing.
const PLACEHOLDERS: &[&str] = &[
    "other",
    "unknown",
    "custom",
    "none",
    "noassertion",
    "unlicensed",
    "n-a",
];

/// The operator of a simple SPDX expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operator {
    /// Any one of the licenses may be chosen.
    Or,
    /// All of the licenses apply.
    And,
}

/// What a declared value resolved to.
#[derive(Clone, Debug)]
pub(crate) enum Declared {
    /// One license.
    License(&'static Terms),
    /// A simple SPDX expression (`A OR B`, `A AND B AND C`).
    Expression(Operator, Vec<&'static Terms>),
    /// A placeholder (`other`, `unknown`) that names no license.
    Placeholder,
    /// A link or path to a license file, which identifies nothing until its
    /// text is read.
    FileLink,
    /// Nothing we know.
    Unknown,
}

/// Canonical form of a license name or identifier: lower case, words split
/// at punctuation and at letter-to-digit changes, filler words dropped,
/// trailing `.0` of version numbers dropped, joined with `-`.
///
/// `Apache License, Version 2.0`, `apache-2.0` and `Apache 2` all become
/// `apache-2`; `Llama 3.1 Community License` and `llama3.1` become
/// `llama-3.1`.
pub(crate) fn canonical(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    let mut chars = name.chars().peekable();
    while let Some(ch) = chars.next() {
        let keep_dot = ch == '.'
            && prev.is_some_and(|p| p.is_ascii_digit())
            && chars.peek().is_some_and(char::is_ascii_digit);
        if ch.is_alphanumeric() || ch == '+' || keep_dot {
            let letter_to_digit = ch.is_ascii_digit() && prev.is_some_and(char::is_alphabetic);
            if letter_to_digit && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            current.extend(ch.to_lowercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev = Some(ch);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .into_iter()
        .filter(|word| !FILLER_WORDS.contains(&word.as_str()))
        .map(|word| {
            let mut word = word.as_str();
            while word.len() > 2
                && word.ends_with(".0")
                && word.bytes().next().is_some_and(|b| b.is_ascii_digit())
            {
                word = word.get(..word.len() - 2).unwrap_or(word);
            }
            word.to_owned()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Canonical form of a URL: no scheme, no `www.`, no query or fragment, no
/// trailing slash, lower case.
pub(crate) fn canonical_url(url: &str) -> String {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let rest = rest.split(['#', '?']).next().unwrap_or(rest);
    rest.trim_end_matches('/').to_owned()
}

/// Canonical names and URLs of every entry.
struct Names {
    by_name: HashMap<String, &'static Terms>,
    by_url: HashMap<String, &'static Terms>,
}

static NAMES: LazyLock<Names> = LazyLock::new(|| {
    let mut by_name = HashMap::new();
    let mut by_url = HashMap::new();
    for terms in KNOWLEDGE_BASE.iter() {
        for name in names_of(terms) {
            by_name.entry(canonical(&name)).or_insert(terms);
        }
        for url in terms.urls.iter().chain(std::iter::once(&terms.source_url)) {
            by_url.entry(canonical_url(url)).or_insert(terms);
        }
    }
    Names { by_name, by_url }
});

/// Every name that declares `terms`: id, name, SPDX id, ScanCode key and
/// its `LicenseRef-scancode-` form, and the aliases.
pub(crate) fn names_of(terms: &Terms) -> Vec<String> {
    let mut names = vec![terms.id.clone(), terms.name.clone()];
    names.extend(terms.spdx.iter().cloned());
    if let Some(key) = &terms.scancode_key {
        names.push(key.clone());
        names.push(format!("LicenseRef-scancode-{key}"));
    }
    names.extend(terms.aliases.iter().cloned());
    names
}

/// Resolve one declared identifier or name (not an expression).
pub(crate) fn resolve_name(value: &str) -> Option<&'static Terms> {
    if value.len() > MAX_DECLARED_BYTES {
        return None;
    }
    let key = canonical(value);
    if key.is_empty() {
        return None;
    }
    NAMES.by_name.get(&key).copied()
}

/// Resolve a declared value: an identifier, a name, a simple SPDX
/// expression, or a link.
pub(crate) fn resolve_declared(value: &str) -> Declared {
    let value = value.trim();
    if value.len() > MAX_DECLARED_BYTES {
        return Declared::Unknown;
    }
    if looks_like_link(value) {
        return resolve_link(value);
    }
    if PLACEHOLDERS.contains(&canonical(value).as_str()) || value.is_empty() {
        return Declared::Placeholder;
    }
    if let Some(terms) = resolve_name(value) {
        return Declared::License(terms);
    }
    if let Some((operator, operands)) = split_expression(value) {
        let resolved: Option<Vec<&'static Terms>> = operands
            .iter()
            .map(|operand| resolve_name(operand))
            .collect();
        return match resolved {
            Some(mut all) => {
                all.dedup_by(|a, b| a.id == b.id);
                match all.as_slice() {
                    [one] => Declared::License(one),
                    _ => Declared::Expression(operator, all),
                }
            }
            None => Declared::Unknown,
        };
    }
    Declared::Unknown
}

/// Resolve a `license_link`: a known license page, or a link to a file.
pub(crate) fn resolve_link(value: &str) -> Declared {
    let url = canonical_url(value);
    if let Some(terms) = NAMES.by_url.get(&url) {
        return Declared::License(terms);
    }
    let last = url.rsplit('/').next().unwrap_or("");
    let is_file = [
        "license",
        "licence",
        "notice",
        "use_policy",
        "use-policy",
        "copying",
    ]
    .iter()
    .any(|stem| last.starts_with(stem));
    if is_file {
        Declared::FileLink
    } else {
        Declared::Unknown
    }
}

fn looks_like_link(value: &str) -> bool {
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("www.")
        || lower.starts_with("./")
        || ((value.contains('/') || value.contains('.')) && {
            let upper = value.to_ascii_uppercase();
            let last = upper.rsplit('/').next().unwrap_or("");
            (last.starts_with("LICENSE")
                || last.starts_with("LICENCE")
                || last.starts_with("USE_POLICY"))
                && !value.contains(' ')
        })
        || value.eq_ignore_ascii_case("LICENSE")
}

/// Split a simple SPDX expression: one operator, no nesting.
fn split_expression(value: &str) -> Option<(Operator, Vec<&str>)> {
    let inner = value.trim();
    let inner = inner
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(inner);
    if inner.contains(['(', ')']) {
        return None;
    }
    let words: Vec<&str> = inner.split_whitespace().collect();
    let has = |op: &str| words.iter().any(|w| w.eq_ignore_ascii_case(op));
    let operator = match (has("OR"), has("AND")) {
        (true, false) => Operator::Or,
        (false, true) => Operator::And,
        _ => return None,
    };
    if has("WITH") {
        return None;
    }
    let op_word = match operator {
        Operator::Or => "OR",
        Operator::And => "AND",
    };
    let mut operands = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    for word in inner.split_whitespace() {
        let offset = word.as_ptr() as usize - inner.as_ptr() as usize;
        if word.eq_ignore_ascii_case(op_word) {
            operands.push(inner.get(start?..end)?);
            start = None;
        } else {
            start.get_or_insert(offset);
            end = offset + word.len();
        }
    }
    operands.push(inner.get(start?..end)?);
    (operands.len() >= 2 && operands.len() <= MAX_OPERANDS).then_some((operator, operands))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("Apache License, Version 2.0"), "apache-2");
        assert_eq!(canonical("apache-2.0"), "apache-2");
        assert_eq!(
            canonical("Llama 3.1 Community License Agreement"),
            "llama-3.1"
        );
        assert_eq!(canonical("llama3.1"), "llama-3.1");
        assert_eq!(canonical("openrail++"), "openrail++");
        assert_eq!(canonical("CC BY-NC 4.0"), "cc-by-nc-4");
        assert_eq!(canonical("falcon2-11b-license"), "falcon-2-11b");
        assert_eq!(canonical("GPL-3.0-or-later"), "gpl-3-or-later");
        assert_eq!(canonical("Gemma Terms of Use"), "gemma");
    }

    #[test]
    fn urls() {
        assert_eq!(
            canonical_url("https://www.Apache.org/licenses/LICENSE-2.0/?x#y"),
            "apache.org/licenses/license-2.0"
        );
    }

    #[test]
    fn expressions() {
        assert_eq!(
            split_expression("MIT OR Apache-2.0"),
            Some((Operator::Or, vec!["MIT", "Apache-2.0"]))
        );
        assert_eq!(
            split_expression("(llama 3.1 and cc by 4.0)"),
            Some((Operator::And, vec!["llama 3.1", "cc by 4.0"]))
        );
        assert_eq!(split_expression("MIT OR Apache-2.0 AND BSD"), None);
        assert_eq!(split_expression("GPL-2.0 WITH Classpath OR MIT"), None);
        assert_eq!(split_expression("OR"), None);
        assert_eq!(split_expression("MIT OR"), None);
    }
}
