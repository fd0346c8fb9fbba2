//! Phone numbers.
//!
//! A candidate is a run of digits, single separators (space, `.`, `-`) and
//! parentheses, optionally after a `+`. Every run of groups inside it is
//! tried, longest first, against three numbering plans:
//!
//! - **international**: `+CC …` or `00CC …`, 8 to 15 digits after the
//!   prefix (a `(0)` trunk marker after the country code is allowed and not
//!   counted), optionally an area code in parentheses after the country code;
//! - **NANP** (US, Canada): `NXX NXX XXXX` with the area code optionally in
//!   parentheses and an optional leading `1`, or ten bare digits `NXXNXXXXXX`
//!   (`N` is 2–9);
//! - **national with trunk `0`** (UK, Germany, France, the Netherlands, …):
//!   a first group starting with `0` (optionally in parentheses), every group
//!   at least two digits, 9 to 12 digits in all, or 10 or 11 bare digits.
//!
//! The separators after the prefix must agree (`555-123-4567` and
//! `01 83 41 77 76`, not `0.5 0.25 0.125`); a number glued to a longer
//! token (`v555…`, `1.0555…`, `…123-4`) is not one, nor is one led by `#`
//! (an order number) or following `ISBN`, `EAN`, `GTIN` or `UPC`, nor a
//! date (`01.02.2024.1530`).
//! An extension (`x123`, ` ext. 123`) is part of the span.
//!
//! Bare digits are ambiguous: ten shaped like a NANP number (`5913417776`)
//! and ten or eleven starting with `0` (`01134960123`) are taken for phone
//! numbers, so an order or account number of that shape is masked too
//! unless `#` leads it; a Unix timestamp (ten digits starting with `1`) is
//! not.
//!
//! Not found: local numbers without an area code (`555-1234`), national
//! numbers of plans without a trunk `0` written without `+CC` (most of Asia),
//! and numbers split by other characters (`555/123 45`).

use std::ops::Range;

use super::numbers::{Tok, Token};
use crate::boundary::{
    byte_at, byte_before, number_ends_free, number_starts_free, preceded_within,
};

/// The fewest digits of a number (`+CC` and 6 more).
const MIN_DIGITS: usize = 8;
/// The most digits of a number, prefix, `(0)` and all (`00` + 15 + `0`).
const MAX_DIGITS: usize = 18;
/// The most tokens (digit groups, separators, parentheses, `+`) one number
/// may span: `+33 (0)1 41 63 60 83` has 16.
const MAX_WINDOW_TOKENS: usize = 20;
/// The most digit groups of one number.
const MAX_GROUPS: usize = 8;
/// Words that say the number after them (within 16 bytes) is a book or
/// product number, not a phone number.
const LABELS_OF_OTHER_NUMBERS: [&[u8]; 4] = [b"ISBN", b"EAN", b"GTIN", b"UPC"];
/// The longest extension, in digits.
const MAX_EXTENSION_DIGITS: usize = 6;

/// Add the phone numbers in a run of tokens (see [`numbers`](super::numbers)).
pub(crate) fn find_in_run(text: &str, tokens: &[Token], out: &mut Vec<Range<usize>>) {
    let n_digits: usize = tokens
        .iter()
        .filter(|t| t.tok == Tok::Digits)
        .map(Token::len)
        .sum();
    if n_digits >= MIN_DIGITS {
        find_in_tokens(text, tokens, out);
    }
}

fn find_in_tokens(text: &str, tokens: &[Token], out: &mut Vec<Range<usize>>) {
    // digits_before[idx]: the digits in tokens[..idx], to skip windows with
    // too few or too many digits without parsing them.
    let mut digits_before = Vec::with_capacity(tokens.len() + 1);
    let mut n = 0;
    digits_before.push(0);
    for token in tokens {
        if token.tok == Tok::Digits {
            n += token.end - token.start;
        }
        digits_before.push(n);
    }
    let mut first = 0;
    while first < tokens.len() {
        let starts_number = tokens
            .get(first)
            .is_some_and(|t| matches!(t.tok, Tok::Plus | Tok::Open | Tok::Digits));
        if starts_number {
            let last_limit = (first + MAX_WINDOW_TOKENS).min(tokens.len());
            let found = (first..last_limit).rev().find_map(|last| {
                let n_window = digits_before.get(last + 1)? - digits_before.get(first)?;
                if !(MIN_DIGITS..=MAX_DIGITS).contains(&n_window) {
                    return None;
                }
                let window = tokens.get(first..=last)?;
                accept(text, window).map(|span| (last, span))
            });
            if let Some((last, span)) = found {
                out.push(span);
                first = last + 1;
                continue;
            }
        }
        first += 1;
    }
}

/// One digit group of a number, as parsed from a window of tokens.
#[derive(Debug, Clone, Copy)]
struct Group<'t> {
    digits: &'t [u8],
    paren: bool,
    sep_before: Option<u8>,
}

/// The span of the phone number `window` makes, extension included, if
/// it makes one.
fn accept(text: &str, window: &[Token]) -> Option<Range<usize>> {
    let first = window.first()?;
    let last = window.last()?;
    if last.tok != Tok::Digits {
        return None;
    }
    let mut groups = [Group {
        digits: &[],
        paren: false,
        sep_before: None,
    }; MAX_GROUPS];
    let (plus, n_groups) = parse(text, window, &mut groups)?;
    let groups = groups.get(..n_groups)?;
    let plan_fits = if plus {
        international(groups, true)
    } else {
        international(groups, false) || nanp(groups) || trunk(groups)
    };
    if !plan_fits {
        return None;
    }
    let (start, base_end) = (first.start, last.end);
    if !number_starts_free(text, start)
        || byte_before(text, start) == Some(b'#')
        || byte_before(text, start) == Some(b'+')
        || LABELS_OF_OTHER_NUMBERS
            .iter()
            .any(|label| preceded_within(text, start, 16, label))
    {
        return None;
    }
    let end = extension_end(text, base_end).unwrap_or(base_end);
    number_ends_free(text, end).then_some(start..end)
}

/// Parse a window into digit groups; `None` where its punctuation is not
/// that of a phone number (two separators in a row, an unmatched
/// parenthesis, a `+` inside).
fn parse<'t>(
    text: &'t str,
    window: &[Token],
    groups: &mut [Group<'t>; MAX_GROUPS],
) -> Option<(bool, usize)> {
    let bytes = text.as_bytes();
    let mut plus = false;
    let mut n_groups = 0;
    let mut pending_sep: Option<u8> = None;
    let mut idx = 0;
    while let Some(token) = window.get(idx) {
        match token.tok {
            Tok::Plus => {
                // Only first, and glued to the country code.
                if idx != 0 || window.get(1).map(|t| t.tok) != Some(Tok::Digits) {
                    return None;
                }
                plus = true;
                idx += 1;
            }
            Tok::Sep(sep) => {
                if pending_sep.is_some() || n_groups == 0 {
                    return None;
                }
                pending_sep = Some(sep);
                idx += 1;
            }
            Tok::Open => {
                let digits = window.get(idx + 1)?;
                let close = window.get(idx + 2)?;
                if digits.tok != Tok::Digits || close.tok != Tok::Close {
                    return None;
                }
                *groups.get_mut(n_groups)? = Group {
                    digits: bytes.get(digits.start..digits.end)?,
                    paren: true,
                    sep_before: pending_sep.take(),
                };
                n_groups += 1;
                idx += 3;
            }
            Tok::Digits => {
                *groups.get_mut(n_groups)? = Group {
                    digits: bytes.get(token.start..token.end)?,
                    paren: false,
                    sep_before: pending_sep.take(),
                };
                n_groups += 1;
                idx += 1;
            }
            Tok::Close => return None,
        }
    }
    if pending_sep.is_some() || n_groups == 0 {
        return None;
    }
    Some((plus, n_groups))
}

fn n_digits(groups: &[Group<'_>]) -> usize {
    groups.iter().map(|g| g.digits.len()).sum()
}

fn first_digit(group: &Group<'_>) -> u8 {
    group.digits.first().copied().unwrap_or(b'x')
}

/// Whether the separators between plain groups agree, not counting the
/// first `skip` groups' separators and the ones next to a parenthesis.
fn separators_agree(groups: &[Group<'_>], skip: usize) -> bool {
    let mut seen: Option<u8> = None;
    for (idx, group) in groups.iter().enumerate().skip(skip.max(1)) {
        let after_paren = groups.get(idx - 1).is_some_and(|g| g.paren);
        if group.paren || after_paren {
            continue;
        }
        match (seen, group.sep_before) {
            (_, None) => return false,
            (None, Some(sep)) => seen = Some(sep),
            (Some(before), Some(sep)) if before != sep => return false,
            _ => {}
        }
    }
    true
}

/// `+CC …` (`plus`) or `00CC …`.
fn international(groups: &[Group<'_>], plus: bool) -> bool {
    let Some(country) = groups.first() else {
        return false;
    };
    if country.paren {
        return false;
    }
    let prefix_len = if plus {
        if first_digit(country) == b'0' {
            return false;
        }
        0
    } else {
        if !country.digits.starts_with(b"00") {
            return false;
        }
        2
    };
    // At most one parenthesised group, right after the country code: a
    // trunk marker `(0)` (not counted) or an area code.
    let mut n_counted = n_digits(groups);
    for (idx, group) in groups.iter().enumerate() {
        if group.paren {
            if idx != 1 {
                return false;
            }
            if group.digits == b"0" {
                n_counted -= 1;
            } else if group.digits.len() > 5 {
                return false;
            }
        }
    }
    let n_national = n_counted.saturating_sub(prefix_len);
    let last_ok = groups.last().is_some_and(|g| g.digits.len() >= 2);
    let bare_ok = groups.len() > 1 || plus || country.digits.len() >= 10;
    (8..=15).contains(&n_national)
        && last_ok
        && bare_ok
        && country.digits.len() > prefix_len
        && separators_agree(groups, 2)
}

/// `NXX NXX XXXX`, `(NXX) NXX-XXXX`, `1-NXX-NXX-XXXX` or `NXXNXXXXXX`.
fn nanp(groups: &[Group<'_>]) -> bool {
    let groups = match groups {
        [one, rest @ ..] if one.digits == b"1" && !one.paren && rest.len() == 3 => rest,
        _ => groups,
    };
    let n_x_x = |digits: &[u8]| matches!(digits.first(), Some(b'2'..=b'9'));
    match groups {
        [bare] => {
            !bare.paren
                && bare.digits.len() == 10
                && n_x_x(bare.digits)
                && bare.digits.get(3..).is_some_and(n_x_x)
        }
        [area, exchange, line] => {
            area.digits.len() == 3
                && exchange.digits.len() == 3
                && line.digits.len() == 4
                && n_x_x(area.digits)
                && n_x_x(exchange.digits)
                && !exchange.paren
                && !line.paren
                && line.sep_before.is_some()
                && (area.paren || exchange.sep_before == line.sep_before)
        }
        _ => false,
    }
}

/// A national number with a trunk `0`: `0115 496 0914`, `(030) 1234567`,
/// `01 83 41 77 76`, `0232781286`.
fn trunk(groups: &[Group<'_>]) -> bool {
    let Some(head) = groups.first() else {
        return false;
    };
    if first_digit(head) != b'0' || groups.len() > 6 {
        return false;
    }
    if groups.iter().skip(1).any(|g| g.paren) || groups.iter().any(|g| g.digits.len() < 2) {
        return false;
    }
    let n = n_digits(groups);
    let length_ok = if groups.len() == 1 {
        (10..=11).contains(&n)
    } else {
        (9..=12).contains(&n)
    };
    length_ok && separators_agree(groups, 1) && !looks_like_date(groups)
}

/// `DD MM YYYY …` with a plausible day, month and year.
fn looks_like_date(groups: &[Group<'_>]) -> bool {
    let [day, month, year, ..] = groups else {
        return false;
    };
    let value = |digits: &[u8]| {
        digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    day.digits.len() == 2
        && month.digits.len() == 2
        && year.digits.len() == 4
        && (1..=31).contains(&value(day.digits))
        && (1..=12).contains(&value(month.digits))
        && (1900..=2099).contains(&value(year.digits))
}

/// The end of an extension written right after a number ending at `end`:
/// `x123`, ` x 123`, ` ext. 123`, ` extension 123`.
fn extension_end(text: &str, end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut idx = end;
    if byte_at(text, idx) == Some(b' ') {
        idx += 1;
    }
    let rest = bytes.get(idx..)?;
    let word_len = [&b"extension"[..], b"ext.", b"ext", b"x"]
        .iter()
        .find(|word| {
            rest.get(..word.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(word))
        })?
        .len();
    idx += word_len;
    if byte_at(text, idx) == Some(b' ') {
        idx += 1;
    }
    let n_digits = bytes
        .get(idx..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (1..=MAX_EXTENSION_DIGITS)
        .contains(&n_digits)
        .then_some(idx + n_digits)
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
    fn finds_us_numbers_with_extensions() {
        for phone in [
            "(591)341-7776",
            "206.269.0743x9150",
            "+1-780-563-6083x7783",
            "001-537-640-6812x41586",
            "797-386-9073",
            "5913417776",
            "(555) 234-4567",
            "1-800-555-0199",
            "+1 (555) 123-4567 ext. 12",
        ] {
            assert_eq!(found(&format!("Call {phone}, thanks.")), [phone], "{phone}");
        }
    }

    #[test]
    fn finds_european_numbers() {
        for phone in [
            "+44(0)115 4960914",
            "+44115 496 0777",
            "(0161) 4960066",
            "(029)2018374",
            "07700 900 123",
            "+49 (0) 9141 777631",
            "00669 074391",
            "+49(0)6812415868",
            "(03449) 78690",
            "+33 (0)1 41 63 60 83",
            "04 15 39 15 00",
            "0232781286",
            "+31(0)83-4497869",
            "(0406)-812415",
            "+3170 6690743",
        ] {
            assert_eq!(found(&format!("Tel. {phone}.")), [phone], "{phone}");
        }
    }

    #[test]
    fn finds_a_number_after_unrelated_digits() {
        assert_eq!(found("Room 12 555-234-4567"), ["555-234-4567"]);
        assert_eq!(
            found("call 0115 496 0914 or 0115 496 0915"),
            ["0115 496 0914", "0115 496 0915"]
        );
    }

    #[test]
    fn skips_numbers_that_are_not_phones() {
        for text in [
            "released 2024-01-15 at 10:30",
            "on 15.01.2024 and 01.02.2024 1530",
            "pi is 3.14159265358979",
            "timestamp 1718035200",
            "order #5913417776",
            "ISBN 0306406152 and ISBN 0-306-40615-2",
            "ISBN 978-3-16-148410-0",
            "EAN 0088496594005",
            "Windows 10.0.19045.3693",
            "values 0.5 0.25 0.125 0.0625",
            "v5913417776",
            "zip 62704-1234",
            "123-45-6789",
            "a total of 1 234 567 890 units",
            "uuid 550e8400-e29b-41d4-a716-446655440000",
            "sha 5913417776aa",
            "local 555-1234",
            "exchange 555-123-4567 starts with 1",
            "3.5913417776",
            "192.168.100.200",
            "sort code 12-34-56, account 12345678",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
