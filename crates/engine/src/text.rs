//! Turning token pieces into the text a client sees: whole UTF-8 characters
//! only, and never any part of a stop string.
//!
//! A token's piece can end in the middle of a character (byte-level BPE
//! splits multi-byte characters), and a stop string can span several tokens.
//! [`TextAssembler`] holds back exactly the bytes that might still turn out to
//! be an incomplete character or the start of a stop string, and releases the
//! rest.

/// Assembles streamed token pieces into text, cutting at the first stop string.
#[derive(Debug, Default)]
pub struct TextAssembler {
    stops: Vec<String>,
    /// Bytes received but not yet valid UTF-8 (at most 3).
    partial: Vec<u8>,
    /// Decoded text not yet released (could begin a stop string).
    held: String,
    stopped: bool,
}

/// What one piece released.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Text safe to send to the client now.
    pub text: String,
    /// A stop string was matched: generation must end; `text` ends before it.
    pub stopped: bool,
}

impl TextAssembler {
    /// An assembler that ends at the first of `stops` (empty strings ignored).
    pub fn new(stops: impl IntoIterator<Item = String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            ..Self::default()
        }
    }

    /// Whether a stop string has been matched.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Feeds one token's bytes.
    pub fn push(&mut self, piece: &[u8]) -> Released {
        if self.stopped {
            return Released {
                text: String::new(),
                stopped: true,
            };
        }
        self.partial.extend_from_slice(piece);
        let valid = match std::str::from_utf8(&self.partial) {
            Ok(s) => s.len(),
            Err(e) => match e.error_len() {
                // Incomplete character at the end: keep it for the next piece.
                None => e.valid_up_to(),
                // Invalid bytes: replace them, as every client decoder would.
                Some(_) => self.partial.len(),
            },
        };
        let rest = self.partial.split_off(valid);
        let decoded = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial = rest;
        self.held.push_str(&decoded);
        self.release()
    }

    /// Ends the stream: releases whatever is held (a partial character is
    /// replaced by U+FFFD, as a lossy decoder would).
    pub fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        if !self.partial.is_empty() {
            let tail = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.held.push_str(&tail);
            let released = self.release();
            if released.stopped {
                return released.text;
            }
            let mut text = released.text;
            text.push_str(&std::mem::take(&mut self.held));
            return text;
        }
        std::mem::take(&mut self.held)
    }

    fn release(&mut self) -> Released {
        // A complete stop string anywhere in the held text ends generation.
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let mut text = std::mem::take(&mut self.held);
            text.truncate(at);
            self.stopped = true;
            self.partial.clear();
            return Released {
                text,
                stopped: true,
            };
        }
        // Hold back the longest suffix that is a proper prefix of a stop string.
        let keep = self
            .stops
            .iter()
            .map(|stop| longest_suffix_prefix(&self.held, stop))
            .max()
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let text = self.held[..cut].to_owned();
        self.held.drain(..cut);
        Released {
            text,
            stopped: false,
        }
    }
}

/// Length in bytes of the longest suffix of `text` that is a proper prefix of
/// `stop`, on character boundaries.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    let max = stop.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            let start = text.len() - n;
            text.is_char_boundary(start)
                && stop.is_char_boundary(n)
                && stop.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&[u8]]) -> (String, bool) {
        let mut a = TextAssembler::new(stops.iter().map(|s| s.to_string()));
        let mut out = String::new();
        for p in pieces {
            let r = a.push(p);
            out.push_str(&r.text);
            if r.stopped {
                return (out, true);
            }
        }
        out.push_str(&a.finish());
        (out, false)
    }

    #[test]
    fn stop_across_token_boundaries_is_never_emitted() {
        assert_eq!(
            run(&["</end>"], &[b"hello </", b"en", b"d> tail"]),
            ("hello ".into(), true)
        );
        assert_eq!(run(&["\n\n"], &[b"a\n", b"\nb"]), ("a".into(), true));
    }

    #[test]
    fn a_false_start_is_released() {
        assert_eq!(
            run(&["STOP"], &[b"ST", b"ART", b" ok"]),
            ("START ok".into(), false)
        );
        assert_eq!(run(&["abc"], &[b"ab"]), ("ab".into(), false));
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        assert_eq!(
            run(&["world", "lo w"], &[b"hello world"]),
            ("hel".into(), true)
        );
    }

    #[test]
    fn split_characters_are_joined() {
        let euro = "€".as_bytes();
        let (text, _) = run(&[], &[&euro[..1], &euro[1..2], &euro[2..], b"!"]);
        assert_eq!(text, "€!");
        // A stop string made of a multi-byte character split over tokens.
        let (text, stopped) = run(&["€"], &[b"x", &euro[..2], &euro[2..]]);
        assert_eq!((text.as_str(), stopped), ("x", true));
    }

    #[test]
    fn invalid_bytes_are_replaced_not_dropped() {
        assert_eq!(run(&[], &[b"a\xffb"]).0, "a\u{fffd}b");
        assert_eq!(run(&[], &[b"a\xe2\x82"]).0, "a\u{fffd}");
    }
}
