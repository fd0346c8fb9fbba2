//! Untrusted text made fit to draw.

/// Text cleaned for drawing: control characters (newlines, escapes, NUL,
/// which XML cannot hold) dropped, whitespace runs collapsed, and cut to
/// `max_chars` with an ellipsis.
pub(crate) fn clean(text: &str, max_chars: usize) -> String {
    let mut cleaned = String::new();
    let mut n_chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = n_chars > 0;
            continue;
        }
        if c.is_control() || is_noncharacter(c) {
            continue;
        }
        let needed = usize::from(pending_space) + 1;
        if n_chars + needed > max_chars {
            cleaned.push('…');
            return cleaned;
        }
        if pending_space {
            cleaned.push(' ');
            pending_space = false;
        }
        cleaned.push(c);
        n_chars += needed;
    }
    cleaned
}

/// Unicode noncharacters (U+FFFE, U+FFFF and the like), which XML
/// forbids.
fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("Q4_K_M", 40), "Q4_K_M");
        assert_eq!(clean("  a\n\tb\u{0}c\u{1b}[31m  ", 40), "a bc[31m");
        assert_eq!(clean("abcdef", 4), "abcd…");
        assert_eq!(clean("ab cd", 4), "ab c…");
        assert_eq!(clean("\u{FFFF}x\u{FDD0}", 4), "x");
        assert_eq!(clean("", 4), "");
    }
}
