//! Whether a candidate stands on its own in the text or is a piece of
//! something longer (a longer number, a word, a dotted version).
//!
//! The detectors work on ASCII shapes, so the checks look at bytes: a byte
//! of a multi-byte character is neither a letter nor a digit here, which
//! lets a number stand next to non-Latin text.

/// The byte before `pos`, if any.
pub(crate) fn byte_before(text: &str, pos: usize) -> Option<u8> {
    pos.checked_sub(1)
        .and_then(|idx| text.as_bytes().get(idx).copied())
}

/// The byte at `pos`, if any.
pub(crate) fn byte_at(text: &str, pos: usize) -> Option<u8> {
    text.as_bytes().get(pos).copied()
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Separators that glue two numbers into one (`1.2`, `3-4`, `5/6`, `7:8`).
fn is_number_glue(b: u8) -> bool {
    matches!(b, b'.' | b'-' | b'/' | b':')
}

/// Whether a number starting at `start` is not the tail of a longer token:
/// the byte before is no letter, digit or `_`, and not a `.`, `-`, `/` or
/// `:` right after a digit.
pub(crate) fn number_starts_free(text: &str, start: usize) -> bool {
    match byte_before(text, start) {
        None => true,
        Some(b) if is_word_byte(b) => false,
        Some(b) if is_number_glue(b) => {
            !matches!(byte_before(text, start - 1), Some(d) if d.is_ascii_digit())
        }
        Some(_) => true,
    }
}

/// Whether a number ending at `end` is not the head of a longer token: the
/// byte after is no letter, digit or `_`, and not a `.`, `-`, `/` or `:`
/// followed by a digit.
pub(crate) fn number_ends_free(text: &str, end: usize) -> bool {
    match byte_at(text, end) {
        None => true,
        Some(b) if is_word_byte(b) => false,
        Some(b) if is_number_glue(b) => {
            !matches!(byte_at(text, end + 1), Some(d) if d.is_ascii_digit())
        }
        Some(_) => true,
    }
}

/// Whether a token starting at `start` is not glued to a letter, digit or
/// any of `extra` before it.
pub(crate) fn token_starts_free(text: &str, start: usize, extra: &[u8]) -> bool {
    match byte_before(text, start) {
        None => true,
        Some(b) => !(is_word_byte(b) || extra.contains(&b)),
    }
}

/// Whether a token ending at `end` is not glued to a letter, digit or any
/// of `extra` after it.
pub(crate) fn token_ends_free(text: &str, end: usize, extra: &[u8]) -> bool {
    match byte_at(text, end) {
        None => true,
        Some(b) => !(is_word_byte(b) || extra.contains(&b)),
    }
}

/// Whether the `n` bytes before `pos` (fewer at the start of the text)
/// contain `word` as a whole word (no ASCII letter or digit glued to it),
/// compared ignoring ASCII case.
pub(crate) fn preceded_within(text: &str, pos: usize, n: usize, word: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let from = pos.saturating_sub(n);
    let Some(window) = bytes.get(from..pos) else {
        return false;
    };
    window
        .windows(word.len())
        .enumerate()
        .filter(|(_, w)| w.eq_ignore_ascii_case(word))
        .any(|(idx, _)| {
            let start = from + idx;
            let end = start + word.len();
            let glued = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
            !glued(start.checked_sub(1).and_then(|i| bytes.get(i))) && !glued(bytes.get(end))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_glued_by_dots_or_dashes_are_not_free() {
        assert!(number_starts_free("call 555", 5));
        assert!(!number_starts_free("1.555", 2));
        assert!(!number_starts_free("a555", 1));
        assert!(number_starts_free("-555", 1));
        assert!(number_ends_free("555.", 3));
        assert!(!number_ends_free("555.1", 3));
        assert!(!number_ends_free("555x", 3));
        assert!(number_ends_free("555é", 3));
    }

    #[test]
    fn preceding_keyword_is_found_ignoring_case() {
        let text = "isbn: 0306406152";
        assert!(preceded_within(text, 6, 12, b"ISBN"));
        assert!(!preceded_within(text, 6, 3, b"ISBN"));
        assert!(!preceded_within(
            "Rousseau-Jean at 0306406152",
            17,
            16,
            b"EAN"
        ));
        assert!(preceded_within("EAN-13 0306406152", 7, 16, b"EAN"));
    }
}
