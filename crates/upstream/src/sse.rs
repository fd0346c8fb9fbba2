//! A server-sent events parser: bytes in, as they arrive, events out.
//!
//! It follows the HTML standard's event-stream rules: lines end in `\r\n`,
//! `\n` or `\r` (also when a `\r\n` is split between two reads), a leading
//! byte-order mark is dropped, lines starting with `:` are comments, `data:`
//! lines of one event are joined with `\n`, one space after the colon is
//! dropped, and a blank line ends the event (one without data is not
//! dispatched). `retry` and unknown fields are ignored.
//!
//! The peer is untrusted: a line longer than [`SseLimits::max_line_bytes`]
//! or an event larger than [`SseLimits::max_event_bytes`] is an error
//! before the bytes are kept, and a line that is not UTF-8 is an error.

/// The caps of one parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// The longest line, without its line end.
    pub max_line_bytes: usize,
    /// The largest event: its data (with the joining newlines) plus its
    /// event type and id.
    pub max_event_bytes: usize,
}

/// The default cap on a line and on an event: 1 MiB.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

impl Default for SseLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_BYTES,
            max_event_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty when the event had none (the standard's
    /// `message`).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last `id:` seen in the stream so far, if any.
    pub id: Option<String>,
}

/// The stream broke a rule or a cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line is longer than the cap.
    #[error("SSE line {line} is longer than {limit} bytes")]
    LineTooLong {
        /// The 1-based line number.
        line: u64,
        /// The cap.
        limit: usize,
    },
    /// An event is larger than the cap.
    #[error("SSE event ending by line {line} is larger than {limit} bytes")]
    EventTooLarge {
        /// The 1-based number of the line that crossed the cap.
        line: u64,
        /// The cap.
        limit: usize,
    },
    /// A line is not UTF-8.
    #[error("SSE line {line} is not UTF-8")]
    NotUtf8 {
        /// The 1-based line number.
        line: u64,
    },
}

/// The incremental parser. Feed it bytes with [`SseParser::push`]; after an
/// error it must not be fed again.
#[derive(Debug, Default)]
pub struct SseParser {
    limits: SseLimits,
    /// The bytes of the line not yet ended.
    partial_line: Vec<u8>,
    /// The previous read ended in `\r`: a `\n` starting the next one belongs
    /// to that line end.
    after_cr: bool,
    /// Lines completed so far.
    n_lines: u64,
    data: String,
    has_data: bool,
    event: String,
    last_id: Option<String>,
}

impl SseParser {
    /// A parser with the default caps (1 MiB per line and per event).
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with the given caps.
    pub fn with_limits(limits: SseLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Parses the next bytes of the stream and returns the events they
    /// complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(after) = rest.strip_prefix(b"\n") {
                rest = after;
            }
        }
        while !rest.is_empty() {
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.check_line_length(rest.len())?;
                self.partial_line.extend_from_slice(rest);
                break;
            };
            let (line_part, terminator_and_after) = rest.split_at(end);
            self.check_line_length(line_part.len())?;
            self.partial_line.extend_from_slice(line_part);
            let was_cr = terminator_and_after.first() == Some(&b'\r');
            rest = terminator_and_after.get(1..).unwrap_or_default();
            if was_cr {
                if let Some(after) = rest.strip_prefix(b"\n") {
                    rest = after;
                } else if rest.is_empty() {
                    self.after_cr = true;
                }
            }
            let line = std::mem::take(&mut self.partial_line);
            self.n_lines = self.n_lines.saturating_add(1);
            self.process_line(&line, &mut events)?;
            // Reuse the allocation for the next line.
            self.partial_line = line;
            self.partial_line.clear();
        }
        Ok(events)
    }

    /// Whether bytes of an unfinished line or event are held: at the end
    /// of the stream, they are an event the peer never finished.
    pub fn has_pending(&self) -> bool {
        !self.partial_line.is_empty() || self.has_data
    }

    fn check_line_length(&self, adding: usize) -> Result<(), SseError> {
        let length = self.partial_line.len().saturating_add(adding);
        if length > self.limits.max_line_bytes {
            return Err(SseError::LineTooLong {
                line: self.n_lines.saturating_add(1),
                limit: self.limits.max_line_bytes,
            });
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let line = if self.n_lines == 1 {
            line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            self.dispatch(events);
            return Ok(());
        }
        if line.first() == Some(&b':') {
            return Ok(());
        }
        let line =
            std::str::from_utf8(line).map_err(|_| SseError::NotUtf8 { line: self.n_lines })?;
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                let separator = usize::from(self.has_data);
                self.check_event_size(separator.saturating_add(value.len()))?;
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                let size = self
                    .event_size()
                    .saturating_sub(self.event.len())
                    .saturating_add(value.len());
                self.check_total(size)?;
                self.event.clear();
                self.event.push_str(value);
            }
            "id" if !value.contains('\0') => {
                let size = self
                    .event_size()
                    .saturating_sub(self.last_id.as_ref().map_or(0, String::len))
                    .saturating_add(value.len());
                self.check_total(size)?;
                self.last_id = Some(value.to_owned());
            }
            _ => {}
        }
        Ok(())
    }

    fn event_size(&self) -> usize {
        self.data
            .len()
            .saturating_add(self.event.len())
            .saturating_add(self.last_id.as_ref().map_or(0, String::len))
    }

    fn check_event_size(&self, adding: usize) -> Result<(), SseError> {
        self.check_total(self.event_size().saturating_add(adding))
    }

    fn check_total(&self, size: usize) -> Result<(), SseError> {
        if size > self.limits.max_event_bytes {
            return Err(SseError::EventTooLarge {
                line: self.n_lines,
                limit: self.limits.max_event_bytes,
            });
        }
        Ok(())
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return;
        }
        self.has_data = false;
        events.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(parser.push(chunk)?);
        }
        Ok(events)
    }

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: name.into(),
            data: data.into(),
            id: None,
        }
    }

    const STREAM: &str = "event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: x\ndata:y\ndata:  z\n\nevent: end\ndata\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            event("message_start", "{\"a\":1}"),
            event("", "x\ny\n z"),
            event("end", ""),
        ]
    }

    #[test]
    fn parses_fields_comments_and_multiline_data() {
        assert_eq!(parse_all(&[STREAM.as_bytes()]), Ok(expected()));
    }

    #[test]
    fn every_split_and_every_line_end_gives_the_same_events() {
        for line_end in ["\n", "\r\n", "\r"] {
            let text = STREAM.replace('\n', line_end);
            let bytes = text.as_bytes();
            for split in 0..=bytes.len() {
                let (a, b) = bytes.split_at(split);
                assert_eq!(
                    parse_all(&[a, b]),
                    Ok(expected()),
                    "split at {split}, {line_end:?}"
                );
            }
            let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(parse_all(&one_by_one), Ok(expected()));
        }
    }

    #[test]
    fn crlf_split_between_reads_is_one_line_end() {
        // A "\r" then "\n" must not make an empty line that dispatches early.
        let events = parse_all(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(events, Ok(vec![event("", "a\nb")]));
    }

    #[test]
    fn bom_dropped_and_event_without_data_not_dispatched() {
        let events = parse_all(&["\u{feff}event: ping\n\ndata: 1\n\n".as_bytes()]);
        assert_eq!(events, Ok(vec![event("", "1")]));
    }

    #[test]
    fn id_is_kept_across_events() {
        let events =
            parse_all(&[b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"]).unwrap_or_default();
        let ids: Vec<Option<&str>> = events.iter().map(|e| e.id.as_deref()).collect();
        assert_eq!(ids, [Some("7"), Some("7"), Some("")]);
    }

    #[test]
    fn unfinished_event_is_pending() {
        let mut parser = SseParser::new();
        assert_eq!(parser.push(b"data: half"), Ok(vec![]));
        assert!(parser.has_pending());
        assert_eq!(parser.push(b"\n"), Ok(vec![]));
        assert!(parser.has_pending());
        assert_eq!(parser.push(b"\n").map(|e| e.len()), Ok(1));
        assert!(!parser.has_pending());
    }

    #[test]
    fn long_line_refused_before_it_is_kept() {
        let limits = SseLimits {
            max_line_bytes: 16,
            max_event_bytes: 64,
        };
        let mut parser = SseParser::with_limits(limits);
        assert_eq!(parser.push(b"data: 0123456789"), Ok(vec![]));
        assert_eq!(
            parser.push(b"x"),
            Err(SseError::LineTooLong { line: 1, limit: 16 })
        );
        let mut parser = SseParser::with_limits(limits);
        assert_eq!(
            parser.push(&[b'a'; 100]),
            Err(SseError::LineTooLong { line: 1, limit: 16 })
        );
    }

    #[test]
    fn large_event_of_short_lines_refused() {
        let limits = SseLimits {
            max_line_bytes: 16,
            max_event_bytes: 20,
        };
        let mut parser = SseParser::with_limits(limits);
        assert_eq!(parser.push(b"data: 0123456789\n").map(|e| e.len()), Ok(0));
        assert_eq!(
            parser.push(b"data: 0123456789\n"),
            Err(SseError::EventTooLarge { line: 2, limit: 20 })
        );
    }

    #[test]
    fn exactly_at_the_caps_is_accepted() {
        let limits = SseLimits {
            max_line_bytes: 16,
            max_event_bytes: 10,
        };
        let mut parser = SseParser::with_limits(limits);
        let events = parser.push(b"data: 0123456789\n\n");
        assert_eq!(events, Ok(vec![event("", "0123456789")]));
    }

    #[test]
    fn splitting_never_changes_the_outcome() {
        // Pseudo-random streams over the bytes that matter, small caps.
        let alphabet = b"data:event:id: x\r\n\n\r:\xef\xbb\xbf\xff";
        let limits = SseLimits {
            max_line_bytes: 24,
            max_event_bytes: 40,
        };
        let parse = |pieces: &[&[u8]]| {
            let mut parser = SseParser::with_limits(limits);
            let mut events = Vec::new();
            for piece in pieces {
                events.extend(parser.push(piece)?);
            }
            Ok::<_, SseError>(events)
        };
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut n_ok, mut n_err) = (0, 0);
        for _ in 0..2000 {
            let len = usize::try_from(next() % 120).unwrap_or(0);
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let idx = usize::try_from(next()).unwrap_or(0) % alphabet.len();
                    alphabet.get(idx).copied().unwrap_or(b'x')
                })
                .collect();
            let whole = parse(&[&input]);
            let step = usize::try_from(next() % 7).unwrap_or(0) + 1;
            let pieces: Vec<&[u8]> = input.chunks(step).collect();
            assert_eq!(whole, parse(&pieces), "{input:?} split every {step}");
            if whole.is_ok() { n_ok += 1 } else { n_err += 1 }
        }
        assert!(n_ok > 100 && n_err > 100, "{n_ok} ok, {n_err} errors");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert_eq!(
            parse_all(&[b"data: ok\n\ndata: \xff\n\n"]),
            Err(SseError::NotUtf8 { line: 3 })
        );
    }
}
