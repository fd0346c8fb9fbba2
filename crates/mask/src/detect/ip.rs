//! IP addresses, version 4 and 6.
//!
//! IPv4: four decimal octets of at most 255, without leading zeros. A
//! dotted quad is an address wherever it stands on its own, so a four-part
//! version number written bare (`1.2.3.4`) is masked as one; `v1.2.3.4`
//! and five-part versions (`1.2.3.4.5`) are not.
//!
//! IPv6: whatever Rust's standard parser accepts (full, `::`-compressed,
//! with an embedded IPv4 tail), provided it has at least two groups, four
//! hex digits and one decimal digit, so that `::`, `::1` and the `a::b` of
//! a code path are left alone. Clock times (`10:30:00`) and MAC addresses
//! (`00:1a:2b:3c:4d:5e`) do not parse as IPv6.

use std::net::Ipv6Addr;
use std::ops::Range;

use regex::Regex;

use super::numbers::{Token, groups_separated_by, range_of};
use crate::boundary::{byte_at, number_starts_free, token_ends_free, token_starts_free};

pub(crate) const V6_PATTERN: &str =
    r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})?";

/// Add the IPv4 addresses in a run of tokens (see [`numbers`](super::numbers)).
pub(crate) fn find_v4_in_run(text: &str, tokens: &[Token], out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    for window in tokens.windows(7) {
        if !groups_separated_by(window, b'.') {
            continue;
        }
        let octets_ok = window.iter().step_by(2).all(|octet| {
            let digits = bytes.get(octet.start..octet.end).unwrap_or(&[]);
            (1..=3).contains(&digits.len())
                && !(digits.len() > 1 && digits.first() == Some(&b'0'))
                && digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
                    <= 255
        });
        let Some(range) = range_of(window) else {
            continue;
        };
        // A port may follow (`10.0.0.1:8080`), a fifth part may not.
        let continues = byte_at(text, range.end) == Some(b'.')
            && byte_at(text, range.end + 1).is_some_and(|b| b.is_ascii_digit());
        if octets_ok
            && number_starts_free(text, range.start)
            && token_ends_free(text, range.end, &[])
            && !continues
        {
            out.push(range);
        }
    }
}

pub(crate) fn find_v6(regex: &Regex, text: &str, out: &mut Vec<Range<usize>>) {
    for m in regex.find_iter(text) {
        let candidate = m.as_str();
        let n_groups = candidate.split(':').filter(|g| !g.is_empty()).count();
        let n_hex = candidate.bytes().filter(u8::is_ascii_hexdigit).count();
        let has_decimal = candidate.bytes().any(|b| b.is_ascii_digit());
        if n_groups >= 2
            && n_hex >= 4
            && has_decimal
            && token_starts_free(text, m.start(), b":.")
            && token_ends_free(text, m.end(), b":")
            && candidate.parse::<Ipv6Addr>().is_ok()
        {
            out.push(m.range());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::numbers;
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let v6 = Regex::new(V6_PATTERN).expect("pattern compiles");
        let mut out = Vec::new();
        numbers::for_each_run(text, &mut Vec::new(), |run| {
            find_v4_in_run(text, run, &mut out)
        });
        find_v6(&v6, text, &mut out);
        // As the masker does: a span inside a longer one gives way.
        let all = out.clone();
        out.retain(|r| {
            !all.iter()
                .any(|o| o != r && o.start <= r.start && r.end <= o.end)
        });
        out.sort_by_key(|r| r.start);
        out.into_iter().filter_map(|r| text.get(r)).collect()
    }

    #[test]
    fn finds_v4_and_v6_addresses() {
        assert_eq!(
            found("from 192.168.1.1:8080 and 10.0.0.255."),
            ["192.168.1.1", "10.0.0.255"]
        );
        for v6 in [
            "2001:db8::1",
            "fe80::1ff:fe23:4567:890a",
            "be86:e2aa:463f:b7d6:3314:ecfc:cd35:20db",
            "3105:c746:9489:7966:9613:6e:ebe0:7a9",
            "::ffff:192.0.2.128",
        ] {
            assert_eq!(found(&format!("peer {v6} connected")), [v6], "{v6}");
        }
    }

    #[test]
    fn a_bare_dotted_quad_version_is_an_address() {
        // Documented choice: indistinguishable from an address.
        assert_eq!(found("version 1.2.3.4"), ["1.2.3.4"]);
        assert!(found("v1.2.3.4 and 1.2.3.4.5").is_empty());
    }

    #[test]
    fn skips_lookalikes() {
        for text in [
            "256.1.1.1",
            "01.02.03.04",
            "3.14.15.92.65",
            "at 10:30:00 today",
            "mac 00:1a:2b:3c:4d:5e",
            "use std::io::Read and a::b",
            "::1 is loopback, :: is unspecified",
            "dead::beef",
            "2024-01-15T10:30:00Z",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
