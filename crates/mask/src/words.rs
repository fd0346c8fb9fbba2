//! Configured word lists, found with Aho-Corasick automata (one for the
//! lists matched as written, one for those matched ignoring ASCII case).

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::config::WordList;
use crate::error::Error;

/// The automata over every configured word, with the list each word
/// belongs to.
#[derive(Debug)]
pub(crate) struct Words {
    exact: Option<Automaton>,
    folded: Option<Automaton>,
}

#[derive(Debug)]
struct Automaton {
    searcher: AhoCorasick,
    /// The index of the list of each pattern, by pattern id.
    list_of_word: Vec<usize>,
}

impl Words {
    pub(crate) fn new(lists: &[WordList]) -> Result<Words, Error> {
        for list in lists {
            if let Some(word_idx) = list.words.iter().position(|w| w.trim().is_empty()) {
                return Err(Error::EmptyWord {
                    name: list.name.clone(),
                    word_idx,
                });
            }
        }
        Ok(Words {
            exact: Automaton::new(lists, false)?,
            folded: Automaton::new(lists, true)?,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.exact.is_none() && self.folded.is_none()
    }

    /// Every whole-word match, as (list index, byte range).
    pub(crate) fn find(&self, text: &str, out: &mut Vec<(usize, Range<usize>)>) {
        for automaton in [&self.exact, &self.folded].into_iter().flatten() {
            automaton.find(text, out);
        }
    }
}

impl Automaton {
    fn new(lists: &[WordList], case_insensitive: bool) -> Result<Option<Automaton>, Error> {
        let mut words = Vec::new();
        let mut list_of_word = Vec::new();
        for (list_idx, list) in lists.iter().enumerate() {
            if list.case_insensitive == case_insensitive {
                for word in &list.words {
                    words.push(word.as_str());
                    list_of_word.push(list_idx);
                }
            }
        }
        if words.is_empty() {
            return Ok(None);
        }
        let searcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(case_insensitive)
            .build(&words)
            .map_err(|source| Error::WordsTooLarge { source })?;
        Ok(Some(Automaton {
            searcher,
            list_of_word,
        }))
    }

    fn find(&self, text: &str, out: &mut Vec<(usize, Range<usize>)>) {
        // Overlapping candidates are needed: "Ann" glued in "Annual" must
        // not hide a whole word "Ann" later in the same run, but
        // leftmost-longest never overlaps, so a refused match is retried
        // one character on.
        let mut pos = 0;
        while pos < text.len() {
            let input = aho_corasick::Input::new(text).span(pos..text.len());
            let Some(m) = self.searcher.find(input) else {
                break;
            };
            if stands_alone(text, m.start(), m.end()) {
                if let Some(&list_idx) = self.list_of_word.get(m.pattern().as_usize()) {
                    out.push((list_idx, m.start()..m.end()));
                }
                pos = m.end();
            } else {
                pos = next_char(text, m.start());
            }
        }
    }
}

/// The offset of the character after the one at `pos`.
fn next_char(text: &str, pos: usize) -> usize {
    text.get(pos..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len(), |c| pos + c.len_utf8())
}

/// Whether `start..end` is not glued to a letter or digit (of any script)
/// on a side where the word itself ends in one.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let (Some(before), Some(word), Some(after)) =
        (text.get(..start), text.get(start..end), text.get(end..))
    else {
        return false;
    };
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    let glued_before = word.chars().next().is_some_and(is_word_char)
        && before.chars().next_back().is_some_and(is_word_char);
    let glued_after = word.chars().next_back().is_some_and(is_word_char)
        && after.chars().next().is_some_and(is_word_char);
    !glued_before && !glued_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, words: &[&str], case_insensitive: bool) -> WordList {
        WordList {
            name: name.into(),
            words: words.iter().map(|w| w.to_string()).collect(),
            case_insensitive,
        }
    }

    fn found<'t>(words: &Words, text: &'t str) -> Vec<(usize, &'t str)> {
        let mut out = Vec::new();
        words.find(text, &mut out);
        out.sort_by_key(|(_, r)| r.start);
        out.into_iter()
            .filter_map(|(idx, r)| Some((idx, text.get(r)?)))
            .collect()
    }

    #[test]
    fn finds_whole_words_only() {
        let words = Words::new(&[
            list("person", &["Ann", "Jörg Müller"], false),
            list("project", &["bluebird"], true),
        ])
        .expect("builds");
        assert_eq!(
            found(
                &words,
                "Annual report by Ann and Jörg Müller on BlueBird, not bluebirds."
            ),
            [(0, "Ann"), (0, "Jörg Müller"), (1, "BlueBird")]
        );
        assert!(found(&words, "ann").is_empty());
    }

    #[test]
    fn refuses_empty_words() {
        let err = Words::new(&[list("person", &["Ann", " "], false)]).expect_err("refused");
        assert!(matches!(err, Error::EmptyWord { word_idx: 1, .. }), "{err}");
    }
}
