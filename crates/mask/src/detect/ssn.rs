//! US Social Security numbers, written `AAA-GG-SSSS`.
//!
//! The area is not `000`, `666` or `9xx` (those are never issued; `9xx` are
//! ITINs), the group not `00`, the serial not `0000`. Nine bare digits are
//! not taken for an SSN: too many other numbers look like that.

use std::ops::Range;

use super::numbers::{Token, groups_separated_by, range_of};
use crate::boundary::{number_ends_free, number_starts_free};

/// Add the SSNs in a run of tokens (see [`numbers`](super::numbers)).
pub(crate) fn find_in_run(text: &str, tokens: &[Token], out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    for window in tokens.windows(5) {
        if !groups_separated_by(window, b'-') {
            continue;
        }
        let [area, _, group, _, serial] = window else {
            continue;
        };
        if area.len() != 3 || group.len() != 2 || serial.len() != 4 {
            continue;
        }
        let digits = |t: &Token| bytes.get(t.start..t.end).unwrap_or(&[]);
        let (area, group, serial) = (digits(area), digits(group), digits(serial));
        let valid = area != b"000"
            && area != b"666"
            && area.first() != Some(&b'9')
            && group != b"00"
            && serial != b"0000";
        let Some(range) = range_of(window) else {
            continue;
        };
        if valid && number_starts_free(text, range.start) && number_ends_free(text, range.end) {
            out.push(range);
        }
    }
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
    fn finds_issued_numbers() {
        assert_eq!(
            found("SSN 112-33-8358; spouse 019-51-2400."),
            ["112-33-8358", "019-51-2400"]
        );
    }

    #[test]
    fn skips_never_issued_and_glued_numbers() {
        for text in [
            "000-12-3456",
            "666-12-3456",
            "934-81-7613",
            "123-00-4567",
            "123-45-0000",
            "1123-45-6789",
            "123-45-67890",
            "2024-123-45-6789",
            "123456789",
            "call 123-45-6789-0",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }
}
