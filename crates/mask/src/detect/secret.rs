//! API keys and tokens with a vendor's known prefix, and JSON Web Tokens.
//!
//! Keys: OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-`), Anthropic
//! (`sk-ant-`), GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`,
//! `github_pat_`), AWS access key ids (`AKIA`, `ASIA`), Slack (`xoxa-`,
//! `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-`), Google (`AIza`), GitLab (`glpat-`),
//! Hugging Face (`hf_`), Stripe (`sk_live_`, `rk_live_`, `sk_test_`,
//! `rk_test_`) and modelgate's own keys (`mg-` and at least 24 characters).
//! The part after the prefix must be long enough and mix at least two of
//! lower case, upper case and digits, as random keys do and identifiers
//! (`sk-learn-compatible-estimator`) do not; AWS ids are exact in length
//! and alphabet and need no such mix.
//!
//! JWTs: three base64url parts split by dots, the first two starting with
//! `eyJ` (the encoding of `{"`); the signature may be empty (`alg: none`).

use std::ops::Range;

use regex::Regex;

use crate::boundary::{byte_at, token_ends_free, token_starts_free};

pub(crate) const KEY_PATTERN: &str = concat!(
    r"sk-ant-[A-Za-z0-9_\-]{20,}",
    r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    r"|gh[pousr]_[A-Za-z0-9]{30,}",
    r"|github_pat_[A-Za-z0-9_]{30,}",
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}",
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}",
    r"|AIza[A-Za-z0-9_\-]{35}",
    r"|glpat-[A-Za-z0-9_\-]{20,}",
    r"|hf_[A-Za-z0-9]{30,}",
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{20,}",
    r"|mg-[A-Za-z0-9_\-]{24,}",
);

pub(crate) const JWT_PATTERN: &str =
    r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*";

pub(crate) fn find_keys(regex: &Regex, text: &str, out: &mut Vec<Range<usize>>) {
    for m in regex.find_iter(text) {
        let key = m.as_str();
        let exact_alphabet = key.starts_with("AKIA") || key.starts_with("ASIA");
        if !token_starts_free(text, m.start(), b"-")
            || !token_ends_free(text, m.end(), b"-")
            || !(exact_alphabet || mixes_classes(key_body(key)))
        {
            continue;
        }
        out.push(m.range());
    }
}

/// The key after its vendor prefix (after the last of the leading
/// `-`/`_`-separated words that are all letters).
fn key_body(key: &str) -> &str {
    let mut body = key;
    while let Some(idx) = body.find(['-', '_']) {
        let (word, rest) = body.split_at(idx);
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_alphabetic()) || word.len() > 8 {
            break;
        }
        body = rest.get(1..).unwrap_or("");
    }
    body
}

/// Whether `body` has at least two of lower case, upper case and digits.
fn mixes_classes(body: &str) -> bool {
    let lower = body.bytes().any(|b| b.is_ascii_lowercase());
    let upper = body.bytes().any(|b| b.is_ascii_uppercase());
    let digit = body.bytes().any(|b| b.is_ascii_digit());
    usize::from(lower) + usize::from(upper) + usize::from(digit) >= 2
}

pub(crate) fn find_jwts(regex: &Regex, text: &str, out: &mut Vec<Range<usize>>) {
    for m in regex.find_iter(text) {
        // A dot may end the sentence after the token, not continue it.
        let continues = byte_at(text, m.end()) == Some(b'.')
            && byte_at(text, m.end() + 1).is_some_and(|b| b.is_ascii_alphanumeric());
        if token_starts_free(text, m.start(), b"-.")
            && token_ends_free(text, m.end(), b"-")
            && !continues
        {
            out.push(m.range());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<&str> {
        let regex = Regex::new(KEY_PATTERN).expect("pattern compiles");
        let mut out = Vec::new();
        find_keys(&regex, text, &mut out);
        out.into_iter().filter_map(|r| text.get(r)).collect()
    }

    fn jwts(text: &str) -> Vec<&str> {
        let regex = Regex::new(JWT_PATTERN).expect("pattern compiles");
        let mut out = Vec::new();
        find_jwts(&regex, text, &mut out);
        out.into_iter().filter_map(|r| text.get(r)).collect()
    }

    #[test]
    fn finds_keys_of_every_vendor() {
        for key in [
            "sk-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0nOp3rSt6v",
            "sk-proj-Ab3dEf6hIj9l_Mn2pQr5tUv8-xYz1bCd4fGh7jKl0nOp3rSt6v",
            "sk-ant-api03-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0nOp3rSt6vAA",
            "ghp_Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7j",
            "gho_Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7j",
            "github_pat_11ABCDEFG0Ab3dEf6hIj9l_Mn2pQr5tUv8xYz1bCd4fGh7jKl0nOp3rSt6v",
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAABCDEFGHIJKLMNOP",
            "xoxb-123456789012-1234567890123-Ab3dEf6hIj9lMn2pQr5tUv8x",
            "AIzaSyAb3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fG",
            "glpat-Ab3dEf6hIj9lMn2pQr5t",
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
            "sk_live_Ab3dEf6hIj9lMn2pQr5tUv8x",
            "rk_live_Ab3dEf6hIj9lMn2pQr5tUv8x",
            "mg-Ab3dEf6hIj9lMn2pQr5tUv8xYz1b",
        ] {
            assert_eq!(keys(&format!("key={key}\n")), [key], "{key}");
        }
    }

    #[test]
    fn skips_identifiers_with_key_prefixes() {
        for text in [
            "pip install sk-learn-compatible-estimators-for-all",
            "the task-abcdefghijklmnopqrstuvwxyz0123 id",
            "hf_hub_download_with_retries_and_backoff_enabled",
            "500mg-Ab3dEf6hIj9lMn2pQr5tUv8xYz1b",
            "AKIAIOSFODNN7EXAMPLEX",
            "ghp_short1",
        ] {
            assert!(keys(text).is_empty(), "{text}: {:?}", keys(text));
        }
    }

    #[test]
    fn finds_jwts_with_or_without_signature() {
        let signed = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        assert_eq!(jwts(&format!("Bearer {signed}.")), [signed]);
        assert_eq!(jwts(&format!("token: {unsigned} ok")), [unsigned]);
        assert!(jwts("eyJhbGciOiJIUzI1NiJ9.notapayload.sig").is_empty());
    }
}
