//! Normalisation and tokenisation of license texts.
//!
//! The same function turns reference texts and untrusted inputs into word
//! tokens, so that anything it drops or folds is dropped or folded on both
//! sides. What survives reformatting:
//!
//! - case, Unicode quotes, dashes and every other punctuation mark (tokens are
//!   runs of letters and digits; a `.` between digits stays, so `3.1` is one
//!   token and differs from `3.2`);
//! - line wrapping and indentation (tokens flow across lines), and words
//!   hyphenated at a line end (`distri-` / `bution`: joined when the joined
//!   word is a reference word and the halves are not both reference words);
//! - Markdown: headings, quotes, bullets, emphasis and tables are punctuation;
//!   a link `[text](target)` keeps its text and drops its target;
//! - HTML tags (`<p>`, `</a>`, autolinks) and entities (`&amp;`, `&#39;`);
//! - URLs (`http://…`, `https://…`, `www.…`), which differ between copies of
//!   the same license (mirrors, redirects) more than they identify it;
//! - copyright statements (a line starting with "copyright", "(c)" or "©"
//!   that also holds a year, "(c)", "©" or "all rights reserved") and
//!   "Last updated/modified/revised" and "Effective date" lines.

/// One token of a text: where its lower-cased characters sit in the token
/// buffer, and the byte range in the original text it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    /// Start of the lower-cased token in [`Tokens::buffer`].
    buf_start: u32,
    /// End of the lower-cased token in [`Tokens::buffer`].
    buf_end: u32,
    /// Byte offset of the token's first character in the original text.
    pub(crate) src_start: u32,
    /// Byte offset just past the token's last character in the original text.
    pub(crate) src_end: u32,
}

/// The tokens of a text.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    buffer: String,
    pub(crate) tokens: Vec<Token>,
}

impl Tokens {
    /// The lower-cased text of the token at `idx` (empty if out of range).
    pub(crate) fn text(&self, idx: usize) -> &str {
        self.tokens
            .get(idx)
            .and_then(|t| self.buffer.get(t.buf_start as usize..t.buf_end as usize))
            .unwrap_or("")
    }

    /// Every token's text, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.tokens.len()).map(|idx| self.text(idx))
    }

    /// Number of tokens.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    fn push(&mut self, word: &str, src_start: usize, src_end: usize) {
        let buf_start = self.buffer.len();
        self.buffer.push_str(word);
        // Texts are capped far below 4 GiB before they get here.
        self.tokens.push(Token {
            buf_start: u32::try_from(buf_start).unwrap_or(u32::MAX),
            buf_end: u32::try_from(self.buffer.len()).unwrap_or(u32::MAX),
            src_start: u32::try_from(src_start).unwrap_or(u32::MAX),
            src_end: u32::try_from(src_end).unwrap_or(u32::MAX),
        });
    }

    /// Replace the last token by `word`, extending its source range to `src_end`.
    fn replace_last(&mut self, word: &str, src_end: usize) {
        if let Some(last) = self.tokens.last_mut() {
            self.buffer.truncate(last.buf_start as usize);
            self.buffer.push_str(word);
            last.buf_end = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
            last.src_end = u32::try_from(src_end).unwrap_or(u32::MAX);
        }
    }
}

/// Longest HTML tag skipped as markup, in bytes; a `<` without a `>` this
/// close is punctuation.
const MAX_TAG_BYTES: usize = 300;
/// Longest Markdown link target skipped, in bytes.
const MAX_LINK_TARGET_BYTES: usize = 2048;
/// Longest HTML entity, `&` to `;` inclusive.
const MAX_ENTITY_BYTES: usize = 12;
/// Longest line that can be a copyright statement or a date line.
const MAX_DROPPED_LINE_BYTES: usize = 200;

/// Split `text` into normalised tokens.
///
/// `is_word` tells whether a lower-cased word is a reference word; it decides
/// whether a word hyphenated at a line end is joined. Pass `None` to never
/// join (the reference texts themselves).
pub(crate) fn tokenize(text: &str, is_word: Option<&dyn Fn(&str) -> bool>) -> Tokens {
    let mut out = Tokens {
        buffer: String::with_capacity(text.len()),
        tokens: Vec::with_capacity(text.len() / 6),
    };
    let mut word = String::new();
    // Index of the token that ended a line with a hyphen, waiting for the
    // first token of the next line.
    let mut hyphen_pending: Option<usize> = None;
    let mut line_start = 0usize;
    for line in text.split_inclusive('\n') {
        let offset = line_start;
        line_start += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() {
            hyphen_pending = None;
            continue;
        }
        if is_dropped_line(content) {
            continue;
        }
        let n_before = out.len();
        scan_line(
            content,
            offset,
            &mut out,
            &mut word,
            &mut hyphen_pending,
            is_word,
        );
        if ends_with_hyphen_break(content) && out.len() > n_before {
            hyphen_pending = Some(out.len() - 1);
        } else if out.len() > n_before {
            hyphen_pending = None;
        }
    }
    out
}

/// Tokenise one line, appending to `out`.
fn scan_line(
    line: &str,
    offset: usize,
    out: &mut Tokens,
    word: &mut String,
    hyphen_pending: &mut Option<usize>,
    is_word: Option<&dyn Fn(&str) -> bool>,
) {
    let bytes = line.as_bytes();
    let mut closers = Closers::new();
    let mut word_start: Option<usize> = None;
    let mut idx = 0usize;
    let mut prev_char: Option<char> = None;
    while let Some(ch) = line.get(idx..).and_then(|rest| rest.chars().next()) {
        let width = ch.len_utf8();
        // Markup and URLs are skipped as a whole; they also end a word.
        if let Some(skip) = markup_len(line, idx, prev_char, &mut closers) {
            finish_word(
                out,
                word,
                &mut word_start,
                offset + idx,
                hyphen_pending,
                is_word,
            );
            idx += skip.max(1);
            prev_char = None;
            continue;
        }
        if ch == '\u{ad}' {
            // Soft hyphen: invisible, never a word break.
            idx += width;
            continue;
        }
        if ch.is_alphanumeric() {
            if word_start.is_none() {
                word_start = Some(offset + idx);
            }
            push_lower(word, ch);
        } else if ch == '.'
            && word_start.is_some()
            && prev_char.is_some_and(|p| p.is_ascii_digit())
            && bytes.get(idx + 1).is_some_and(|b| b.is_ascii_digit())
        {
            word.push('.');
        } else {
            finish_word(
                out,
                word,
                &mut word_start,
                offset + idx,
                hyphen_pending,
                is_word,
            );
        }
        prev_char = Some(ch);
        idx += width;
    }
    finish_word(
        out,
        word,
        &mut word_start,
        offset + line.len(),
        hyphen_pending,
        is_word,
    );
}

/// Push the lower-case form of `ch`, folding the ligatures PDFs produce.
fn push_lower(word: &mut String, ch: char) {
    match ch {
        'ﬁ' => word.push_str("fi"),
        'ﬂ' => word.push_str("fl"),
        'ﬀ' => word.push_str("ff"),
        _ if ch.is_ascii() => word.push(ch.to_ascii_lowercase()),
        _ => word.extend(ch.to_lowercase()),
    }
}

/// End the word being built, if any, and emit it (or join it to a word
/// hyphenated at the end of the previous line).
fn finish_word(
    out: &mut Tokens,
    word: &mut String,
    word_start: &mut Option<usize>,
    src_end: usize,
    hyphen_pending: &mut Option<usize>,
    is_word: Option<&dyn Fn(&str) -> bool>,
) {
    let Some(start) = word_start.take() else {
        return;
    };
    let pending = hyphen_pending.take();
    if let (Some(prev_idx), Some(is_word)) = (pending, is_word)
        && prev_idx + 1 == out.len()
        && word.chars().next().is_some_and(char::is_lowercase)
    {
        let prev = out.text(prev_idx);
        let joined = format!("{prev}{word}");
        if is_word(&joined) && !(is_word(prev) && is_word(word)) {
            out.replace_last(&joined, src_end);
            word.clear();
            return;
        }
    }
    out.push(word, start, src_end);
    word.clear();
}

/// Does the line end with a letter followed by a hyphen (a word broken at
/// the line end)?
fn ends_with_hyphen_break(line: &str) -> bool {
    let mut rev = line.trim_end().chars().rev();
    matches!(rev.next(), Some('-' | '\u{2010}')) && rev.next().is_some_and(char::is_alphabetic)
}

/// Where the next `)` (closing a Markdown link target) and `>` (closing an
/// HTML tag) of a line are. Each is searched for once per stretch of the line
/// and remembered, so a line of markup that never closes (`](](](…`,
/// `<a<a<a…`) costs time linear in its length, not in its length times the
/// search limit.
struct Closers {
    paren: NextByte,
    angle: NextByte,
}

impl Closers {
    fn new() -> Closers {
        Closers {
            paren: NextByte::new(b')', MAX_LINK_TARGET_BYTES),
            angle: NextByte::new(b'>', MAX_TAG_BYTES),
        }
    }
}

/// The next occurrence of one byte in a line, remembered from the last search.
struct NextByte {
    needle: u8,
    /// Farthest distance that counts as found.
    limit: usize,
    /// Where the last search found it; the line's length when it found none.
    at: Option<usize>,
}

impl NextByte {
    fn new(needle: u8, limit: usize) -> NextByte {
        NextByte {
            needle,
            limit,
            at: None,
        }
    }

    /// Distance from `idx` to the next needle in `line`, if below the limit.
    /// `idx` must not decrease between calls on one line.
    fn distance(&mut self, line: &[u8], idx: usize) -> Option<usize> {
        let at = match self.at {
            Some(at) if at >= idx => at,
            _ => {
                let at = line
                    .get(idx..)
                    .and_then(|rest| rest.iter().position(|&b| b == self.needle))
                    .map_or(line.len(), |offset| idx + offset);
                self.at = Some(at);
                at
            }
        };
        (at < line.len())
            .then(|| at - idx)
            .filter(|&distance| distance < self.limit)
    }
}

/// If markup or a URL starts at byte `idx` of `line`, its length in bytes.
/// Every search is bounded, and the closing brackets are found once per
/// stretch of the line ([`Closers`]), so hostile lines cost linear time.
fn markup_len(
    line: &str,
    idx: usize,
    prev_char: Option<char>,
    closers: &mut Closers,
) -> Option<usize> {
    let rest = line.get(idx..)?.as_bytes();
    let first = rest.first().copied()?;
    let starts_with = |prefix: &[u8]| {
        rest.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    match first {
        b'h' | b'H' | b'w' | b'W' if !prev_char.is_some_and(char::is_alphanumeric) => {
            (starts_with(b"http://") || starts_with(b"https://") || starts_with(b"www."))
                .then(|| url_len(rest))
        }
        // `](target)`: the target of a Markdown link.
        b']' if rest.get(1) == Some(&b'(') => Some(
            closers
                .paren
                .distance(line.as_bytes(), idx)
                .map_or(1, |end| end + 1),
        ),
        b'<' => {
            let next = rest.get(1).copied()?;
            if next.is_ascii_alphabetic() || next == b'/' || next == b'!' {
                closers
                    .angle
                    .distance(line.as_bytes(), idx)
                    .map(|end| end + 1)
            } else {
                None
            }
        }
        b'&' => entity_len(rest),
        _ => None,
    }
}

/// Position of `needle` within the first `limit` bytes of `haystack`.
fn find_byte(haystack: &[u8], needle: u8, limit: usize) -> Option<usize> {
    haystack.iter().take(limit).position(|&b| b == needle)
}

/// Length of the URL at the start of `rest`: up to whitespace, a closing
/// bracket or quote, or any non-ASCII character (a curly quote). The end is
/// always a char boundary.
fn url_len(rest: &[u8]) -> usize {
    rest.iter()
        .position(|&b| {
            b.is_ascii_whitespace()
                || matches!(b, b')' | b']' | b'>' | b'<' | b'"' | b'\'')
                || b >= 0x80
        })
        .unwrap_or(rest.len())
}

/// Length of an HTML entity (`&amp;`, `&#39;`, `&#x2019;`) at the start of `rest`.
fn entity_len(rest: &[u8]) -> Option<usize> {
    let end = find_byte(rest, b';', MAX_ENTITY_BYTES)?;
    let name = rest.get(1..end)?;
    let valid = match name {
        [b'#', b'x' | b'X', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => name.len() >= 2 && name.iter().all(u8::is_ascii_alphabetic),
    };
    valid.then_some(end + 1)
}

/// Is this line a copyright statement or a date stamp, which copies of the
/// same license change freely?
fn is_dropped_line(line: &str) -> bool {
    if line.len() > MAX_DROPPED_LINE_BYTES {
        return false;
    }
    let stripped = line.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '#' | '>' | '*' | '-' | '+' | '_' | '|' | '`' | '/' | ';')
    });
    let lower = stripped.to_lowercase();
    let is_copyright_start =
        lower.starts_with("copyright") || lower.starts_with("(c)") || lower.starts_with('©');
    if is_copyright_start {
        let has_year = lower
            .as_bytes()
            .windows(4)
            .any(|w| w.iter().all(u8::is_ascii_digit));
        return has_year
            || lower.contains("(c)")
            || lower.contains('©')
            || lower.contains("all rights reserved");
    }
    if lower.trim_end_matches(['.', ' ']) == "all rights reserved" {
        return true;
    }
    let is_date_line = [
        "last updated",
        "last modified",
        "last revised",
        "effective date",
    ]
    .iter()
    .any(|prefix| lower.starts_with(prefix));
    is_date_line && lower.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text, None).iter().map(str::to_owned).collect()
    }

    #[test]
    fn punctuation_case_and_versions() {
        assert_eq!(
            words("“Llama 3.1” means—the MODEL’s 1.b.i; v2.0."),
            [
                "llama", "3.1", "means", "the", "model", "s", "1", "b", "i", "v2.0"
            ]
        );
    }

    #[test]
    fn markdown_html_and_urls() {
        assert_eq!(
            words(
                "## **Grant** of _Rights_\n> - see [the policy](https://x.y/p) <b>now</b> &amp; www.llama.com/x."
            ),
            ["grant", "of", "rights", "see", "the", "policy", "now"]
        );
    }

    #[test]
    fn copyright_and_date_lines_are_dropped() {
        assert_eq!(
            words(
                "Copyright (c) 2024 Meta\nLast updated: May 1, 2024\nThe above copyright notice\n© Google\nAll Rights Reserved."
            ),
            ["the", "above", "copyright", "notice"]
        );
        assert_eq!(
            words("copyright notice and this permission"),
            ["copyright", "notice", "and", "this", "permission"]
        );
    }

    #[test]
    fn hyphenated_line_ends_join_only_into_known_words() {
        let known = |w: &str| ["distribution", "non", "exclusive", "nonexclusive"].contains(&w);
        let tokens = tokenize("the distri-\nbution is non-\nexclusive", Some(&known));
        let words: Vec<&str> = tokens.iter().collect();
        assert_eq!(words, ["the", "distribution", "is", "non", "exclusive"]);
        let first = tokens.tokens.get(1).copied();
        assert_eq!(first.map(|t| (t.src_start, t.src_end)), Some((4, 18)));
    }

    #[test]
    fn a_link_target_closed_far_away_is_text_but_a_later_one_is_skipped() {
        // The first `](` has no `)` within the limit: punctuation. The search
        // that found the far `)` is reused for the second `](`, whose target
        // it closes.
        let far = "x".repeat(MAX_LINK_TARGET_BYTES + 10);
        assert_eq!(
            words(&format!("a ](b{far}](target) c")),
            ["a", &format!("b{far}"), "c"]
        );
        let far = "x".repeat(MAX_TAG_BYTES + 10);
        assert_eq!(
            words(&format!("<a{far}<b>c")),
            [format!("a{far}"), "c".to_owned()]
        );
    }

    #[test]
    fn hostile_fragments_do_not_panic() {
        for text in [
            "<", "&", "&#;", "&#x;", "](", "http", "é-\nb", "3.", ".3", "\u{ad}", "a\r\n-\n",
        ] {
            let _ = words(text);
        }
    }
}
