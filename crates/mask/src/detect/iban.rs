//! International Bank Account Numbers.
//!
//! Two letters of a country that uses IBANs, two check digits, then the
//! account: compact (`DE89370400440532013000`) or in the printed groups of
//! four (`DE89 3704 0044 0532 0130 00`). The length must be the country's
//! and the whole must pass the ISO 13616 mod-97 check, computed digit by
//! digit without big integers. Letters may be upper or lower case.

use std::ops::Range;

use super::numbers::{Tok, Token};
use crate::boundary::{token_ends_free, token_starts_free};

/// IBAN lengths by country (SWIFT's IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// The IBAN length of a country, by its upper-case code.
fn country_length(code: [u8; 2]) -> Option<usize> {
    LENGTHS
        .binary_search_by(|(c, _)| c.as_slice().cmp(code.as_slice()))
        .ok()
        .and_then(|idx| LENGTHS.get(idx))
        .map(|&(_, len)| len)
}

/// Add the IBAN whose check digits start a run of tokens (see
/// [`numbers`](super::numbers)), if there is one: the country code is the
/// two letters right before the run.
pub(crate) fn find_in_run(text: &str, tokens: &[Token], out: &mut Vec<Range<usize>>) {
    let Some(first) = tokens.first() else {
        return;
    };
    let Some(start) = first.start.checked_sub(2) else {
        return;
    };
    if first.tok != Tok::Digits || first.len() < 2 {
        return;
    }
    if let Some(end) = accept(text, start) {
        out.push(start..end);
    }
}

/// The end of the IBAN starting at `start`, if one does.
fn accept(text: &str, start: usize) -> Option<usize> {
    if !token_starts_free(text, start, &[]) {
        return None;
    }
    let bytes = text.as_bytes();
    let head = bytes.get(start..start + 2)?;
    let code = [
        head.first()?.to_ascii_uppercase(),
        head.get(1)?.to_ascii_uppercase(),
    ];
    let length = country_length(code)?;
    let grouped = bytes.get(start + 4) == Some(&b' ');
    // Walk the characters, skipping the single spaces between groups.
    let mut chars = Vec::with_capacity(length);
    let mut idx = start;
    while chars.len() < length {
        if grouped && !chars.is_empty() && chars.len() % 4 == 0 {
            if bytes.get(idx) != Some(&b' ') {
                return None;
            }
            idx += 1;
        }
        let b = *bytes.get(idx)?;
        if !b.is_ascii_alphanumeric() {
            return None;
        }
        chars.push(b.to_ascii_uppercase());
        idx += 1;
    }
    (token_ends_free(text, idx, &[]) && mod97(&chars) == 1).then_some(idx)
}

/// The IBAN's remainder mod 97 with the first four characters moved to
/// the end and letters read as 10..=35, as ISO 13616 computes it.
fn mod97(chars: &[u8]) -> u32 {
    let (head, tail) = chars.split_at(chars.len().min(4));
    tail.iter().chain(head).fold(0, |rem, &c| match c {
        b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
        _ => (rem * 100 + u32::from(c - b'A') + 10) % 97,
    })
}

#[cfg(test)]
mod tests {
    use super::super::numbers;
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        numbers::for_each_run(text, &mut Vec::new(), |run| {
            find_in_run(text, run, &mut out)
        });
        out.into_iter().filter_map(|r| text.get(r)).collect()
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(LENGTHS.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        assert_eq!(country_length(*b"NL"), Some(18));
        assert_eq!(country_length(*b"US"), None);
    }

    #[test]
    fn finds_compact_and_grouped_ibans() {
        for iban in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB82 WEST 1234 5698 7654 32",
            "gb82west12345698765432",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "BE68539007547034",
            "NO9386011117947",
        ] {
            assert_eq!(found(&format!("pay to {iban}, thanks")), [iban], "{iban}");
        }
        assert_eq!(
            found("GB82 WEST 1234 5698 7654 32 for rent"),
            ["GB82 WEST 1234 5698 7654 32"]
        );
        assert_eq!(
            found("ref AB12 foo DE89370400440532013000"),
            ["DE89370400440532013000"]
        );
    }

    #[test]
    fn skips_wrong_checksums_lengths_and_glued_text() {
        for text in [
            "DE88370400440532013000",
            "DE8937040044053201300",
            "DE893704004405320130001",
            "XDE89370400440532013000",
            "US12345678901234567890",
            "DE89 3704 0044 0532 013000",
            "AB12 CDEF GHIJ KLMN",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
