//! Email addresses: `local@domain.tld` in ASCII.
//!
//! Not found: addresses without a dot in the domain (`root@localhost`),
//! domains outside ASCII (`info@bücher.de`; local parts outside ASCII, as
//! in `jörg@example.de`, are found), and quoted local parts.

use std::ops::Range;

use regex::Regex;

use crate::boundary::token_ends_free;

/// Local part, `@`, dot-separated labels, a top-level domain of letters.
pub(crate) const PATTERN: &str =
    r"[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}";

/// The longest local part RFC 5321 allows.
const MAX_LOCAL_LEN: usize = 64;

pub(crate) fn find(regex: &Regex, text: &str, out: &mut Vec<Range<usize>>) {
    for m in regex.find_iter(text) {
        let candidate = m.as_str();
        let Some(at) = candidate.find('@') else {
            continue;
        };
        // Trim dots a sentence put before the address ("see:.bob@x.org").
        let lead = candidate.bytes().take_while(|&b| b == b'.').count();
        // The regex stops at a letter outside ASCII (`jörg@`): take the
        // whole local part rather than its ASCII tail.
        let start = if lead == 0 {
            extend_left(text, m.start())
        } else {
            m.start() + lead
        };
        let local = text.get(start..m.start() + at).unwrap_or("");
        if local.is_empty()
            || local.len() > MAX_LOCAL_LEN
            || local.ends_with('.')
            || local.contains("..")
        {
            continue;
        }
        if !token_ends_free(text, m.end(), b"-") {
            continue;
        }
        out.push(start..m.end());
    }
}

/// Where a local part that the regex found from `start` really begins,
/// going back over letters and digits of any script and `._%+-`.
fn extend_left(text: &str, start: usize) -> usize {
    let Some(before) = text.get(..start) else {
        return start;
    };
    let n_bytes: usize = before
        .chars()
        .rev()
        .take_while(|&c| c.is_alphanumeric() || "._%+-".contains(c))
        // One more than a local part may have is enough to refuse it.
        .take(MAX_LOCAL_LEN + 1)
        .map(char::len_utf8)
        .sum();
    start - n_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let regex = Regex::new(PATTERN).expect("pattern compiles");
        let mut out = Vec::new();
        find(&regex, text, &mut out);
        out.into_iter().filter_map(|r| text.get(r)).collect()
    }

    #[test]
    fn finds_addresses_in_prose() {
        assert_eq!(
            found("Write to jane.doe+news@mail.example.co.uk, or de-rooisis@example.net."),
            ["jane.doe+news@mail.example.co.uk", "de-rooisis@example.net"]
        );
        assert_eq!(
            found("An jörg.müller@example.de."),
            ["jörg.müller@example.de"]
        );
    }

    #[test]
    fn skips_mentions_versions_and_hosts() {
        assert!(found("ping @alice about pkg@1.2.3 on root@localhost").is_empty());
        assert!(found("a..b@example.com and .@example.com").is_empty());
    }
}
