//! Runs of digits and the punctuation written inside numbers, found in one
//! hand-written pass and split into tokens: what the phone, card, SSN,
//! IPv4 and IBAN detectors start from.
//!
//! A run is what the regex `[+(]?[0-9][0-9 ().\-]*[0-9]` would find, plus
//! single digits: a digit, optionally after `+` or `(`, then digits, spaces,
//! `.`, `-` and parentheses, ending on a digit. One byte loop over the text
//! replaces five regex scans without a literal to search for, which is most
//! of the cost of masking a prompt full of dates and prices.

use std::ops::Range;

/// One token of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Plus,
    Open,
    Close,
    Sep(u8),
    Digits,
}

/// A token and its byte range in the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }
}

fn in_run(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b' ' | b'(' | b')' | b'.' | b'-')
}

/// Call `f` with the tokens of every run in `text`, in order. `tokens` is
/// scratch space, reused between runs.
pub(crate) fn for_each_run(text: &str, tokens: &mut Vec<Token>, mut f: impl FnMut(&[Token])) {
    let bytes = text.as_bytes();
    let mut pos = 0;
    while let Some(offset) = bytes
        .get(pos..)
        .and_then(|rest| rest.iter().position(u8::is_ascii_digit))
    {
        let first_digit = pos + offset;
        let start = match first_digit.checked_sub(1).and_then(|i| bytes.get(i)) {
            Some(b'+' | b'(') if first_digit > pos => first_digit - 1,
            _ => first_digit,
        };
        let mut end = first_digit;
        let mut last_digit_end = first_digit;
        while let Some(&b) = bytes.get(end) {
            if !in_run(b) {
                break;
            }
            end += 1;
            if b.is_ascii_digit() {
                last_digit_end = end;
            }
        }
        tokens.clear();
        tokenize(bytes, start, last_digit_end, tokens);
        f(tokens);
        pos = last_digit_end;
    }
}

/// Split `bytes[start..end]` (a run) into tokens.
fn tokenize(bytes: &[u8], start: usize, end: usize, tokens: &mut Vec<Token>) {
    let mut idx = start;
    while idx < end {
        let Some(&b) = bytes.get(idx) else {
            break;
        };
        let token_start = idx;
        let tok = match b {
            b'0'..=b'9' => {
                let len = bytes.get(idx..end).map_or(1, |rest| {
                    rest.iter().take_while(|d| d.is_ascii_digit()).count()
                });
                idx += len;
                tokens.push(Token {
                    tok: Tok::Digits,
                    start: token_start,
                    end: idx,
                });
                continue;
            }
            b'+' => Tok::Plus,
            b'(' => Tok::Open,
            b')' => Tok::Close,
            other => Tok::Sep(other),
        };
        idx += 1;
        tokens.push(Token {
            tok,
            start: token_start,
            end: idx,
        });
    }
}

/// Whether `window` is digit groups separated by single `sep` bytes
/// (`Digits, Sep(sep), Digits, ...`).
pub(crate) fn groups_separated_by(window: &[Token], sep: u8) -> bool {
    window.iter().enumerate().all(|(idx, token)| {
        if idx % 2 == 0 {
            token.tok == Tok::Digits
        } else {
            token.tok == Tok::Sep(sep)
        }
    })
}

/// The range a window of tokens covers.
pub(crate) fn range_of(window: &[Token]) -> Option<Range<usize>> {
    Some(window.first()?.start..window.last()?.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(text: &str) -> Vec<&str> {
        let mut tokens = Vec::new();
        let mut out = Vec::new();
        for_each_run(text, &mut tokens, |run| {
            if let Some(range) = range_of(run) {
                out.push(&text[range]);
            }
        });
        out
    }

    #[test]
    fn runs_are_what_the_regex_would_find() {
        assert_eq!(
            runs("Call +44(0)115 496 0914, or (555) 234-4567. x 7 a+1 (2"),
            ["+44(0)115 496 0914", "(555) 234-4567", "7", "+1 (2"]
        );
        assert_eq!(runs("no digits here"), Vec::<&str>::new());
        assert_eq!(runs("1.2.3. 4-"), ["1.2.3. 4"]);
    }
}
