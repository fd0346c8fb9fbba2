//! Payment card numbers.
//!
//! A card number is 14 to 19 digits, bare or in groups split by one kind of
//! separator (space or `-`): groups of four with a shorter last group
//! (`4111 1111 1111 1111`), or American Express and Diners' `4-6-5` and
//! `4-6-4`. Its leading digits and length must be those of a known brand
//! (Visa, Mastercard, American Express, Discover, Diners Club, JCB,
//! UnionPay, Maestro, Mir), and it must pass the Luhn check.
//!
//! Not found: 12- and 13-digit numbers (old Visa and short Maestro cards):
//! with one number in ten passing the Luhn check, 13-digit EAN barcodes and
//! such would be masked too often.

use std::ops::Range;

use super::numbers::{Tok, Token};
use crate::boundary::{number_ends_free, number_starts_free};

const MIN_DIGITS: usize = 14;
const MAX_DIGITS: usize = 19;
/// The most groups of one written card number (`4-4-4-4-3`).
const MAX_GROUPS: usize = 5;

/// A run of digits inside a candidate, with the separator before it.
#[derive(Debug, Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
    sep_before: Option<u8>,
}

/// Add the card numbers in a run of tokens (see [`numbers`](super::numbers)):
/// in each stretch of digit groups split by single spaces or dashes.
pub(crate) fn find_in_run(text: &str, tokens: &[Token], out: &mut Vec<Range<usize>>) {
    let n_run_digits: usize = tokens
        .iter()
        .filter(|t| t.tok == Tok::Digits)
        .map(Token::len)
        .sum();
    if n_run_digits < MIN_DIGITS {
        return;
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut sep_before = None;
    let mut n_digits = 0;
    let mut flush = |groups: &mut Vec<Group>, n_digits: &mut usize| {
        if *n_digits >= MIN_DIGITS {
            find_in_groups(text, groups, out);
        }
        groups.clear();
        *n_digits = 0;
    };
    for token in tokens {
        match token.tok {
            Tok::Digits => {
                groups.push(Group {
                    start: token.start,
                    end: token.end,
                    sep_before: sep_before.take(),
                });
                n_digits += token.len();
            }
            Tok::Sep(sep @ (b' ' | b'-')) if sep_before.is_none() && !groups.is_empty() => {
                sep_before = Some(sep);
            }
            _ => {
                sep_before = None;
                flush(&mut groups, &mut n_digits);
            }
        }
    }
    flush(&mut groups, &mut n_digits);
}

fn find_in_groups(text: &str, groups: &[Group], out: &mut Vec<Range<usize>>) {
    let mut first = 0;
    while first < groups.len() {
        let last_limit = (first + MAX_GROUPS).min(groups.len());
        let found = (first..last_limit).rev().find_map(|last| {
            let window = groups.get(first..=last)?;
            accept(text, window).map(|span| (last, span))
        });
        match found {
            Some((last, span)) => {
                out.push(span);
                first = last + 1;
            }
            None => first += 1,
        }
    }
}

fn accept(text: &str, window: &[Group]) -> Option<Range<usize>> {
    let (head, tail) = window.split_first()?;
    // A number glued to a group before it by `-` is refused below, one
    // after a space stands on its own.
    let start = head.start;
    let end = window.last()?.end;
    let lengths: Vec<usize> = window.iter().map(|g| g.end - g.start).collect();
    let n_digits: usize = lengths.iter().sum();
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&n_digits) {
        return None;
    }
    let sep = tail.first().and_then(|g| g.sep_before);
    if tail.iter().any(|g| g.sep_before != sep) || !layout_ok(&lengths) {
        return None;
    }
    if !number_starts_free(text, start) || !number_ends_free(text, end) {
        return None;
    }
    let digits: Vec<u8> = text
        .get(start..end)?
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|d| d - b'0')
        .collect();
    (brand_allows(&digits) && luhn(&digits)).then_some(start..end)
}

/// Bare, groups of four with a last group of one to four, or `4-6-4/5`.
fn layout_ok(lengths: &[usize]) -> bool {
    match lengths {
        [_] => true,
        [4, 6, 4] | [4, 6, 5] => true,
        [init @ .., last] => init.iter().all(|&l| l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// The number made of the first `n` digits.
fn prefix(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0, |acc, &d| acc * 10 + u32::from(d))
}

/// Whether a card brand issues numbers with these leading digits and
/// this length.
fn brand_allows(digits: &[u8]) -> bool {
    let len = digits.len();
    let p1 = prefix(digits, 1);
    let p2 = prefix(digits, 2);
    let p3 = prefix(digits, 3);
    let p4 = prefix(digits, 4);
    let long = (16..=19).contains(&len);
    // Visa.
    (p1 == 4 && (len == 16 || len == 19))
        // Mastercard.
        || (((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16)
        // American Express.
        || ((p2 == 34 || p2 == 37) && len == 15)
        // Discover, UnionPay.
        || ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || p2 == 62) && long)
        // Diners Club.
        || (((300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)
            && (14..=19).contains(&len))
        // JCB: its block is 35, registered 3528–3589; the rest of the block
        // is taken too, as test generators (Faker) use all of it.
        || (p2 == 35 && long)
        || ((p4 == 1800 || p4 == 2131) && len == 15)
        // Maestro.
        || (matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763) && long)
        // Mir.
        || ((2200..=2204).contains(&p4) && long)
}

/// The Luhn check over decimal digits (each 0–9).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(idx, &d)| {
            let d = u32::from(d);
            if idx % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
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
    fn luhn_accepts_known_test_numbers() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&digits("4111111111111111")));
        assert!(luhn(&digits("79927398713")));
        assert!(!luhn(&digits("4111111111111112")));
    }

    #[test]
    fn finds_cards_of_each_brand_and_layout() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4437859150310904938",
            "5555555555554444",
            "2720145704789047",
            "378282246310005",
            "3782 822463 10005",
            "6011111111111117",
            "30569309025904",
            "3056 930902 5904",
            "3530111333300000",
            "180063109707455",
            "213127948619915",
        ] {
            assert_eq!(found(&format!("card: {card}.")), [card], "{card}");
        }
    }

    #[test]
    fn finds_a_card_next_to_other_numbers() {
        assert_eq!(
            found("ref 12 4111 1111 1111 1111 2025"),
            ["4111 1111 1111 1111"]
        );
    }

    #[test]
    fn skips_numbers_that_fail_luhn_brand_or_layout() {
        for text in [
            "4111111111111112",
            "9780306406157",
            "ISBN 978-0-306-40615-7",
            "EAN 4006381333931",
            "1234567812345670",
            "41111 11111 11111 1",
            "4111 1111-1111 1111",
            "ms 1718035200123",
            "x4111111111111111",
            "1.4111111111111111",
            "41111111111111110",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
