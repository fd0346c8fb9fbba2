//! Identification of a license text by word-bigram similarity.
//!
//! In the manner of askalono: both sides are normalised and tokenised the
//! same way ([`crate::normalize`]), cut into word bigrams, and compared as
//! multisets with the Sørensen–Dice coefficient
//! `2·|input ∩ reference| / (|input| + |reference|)`.
//!
//! A text embedded in a longer file (a preamble, an appended use policy)
//! scores low on Dice over the whole file, so every reference that the input
//! largely contains (containment `|input ∩ reference| / |reference|`) is also
//! compared with its best-matching window of the input, a run of bigrams as
//! long as the reference (askalono's `optimize_bounds`, done as one linear
//! sliding window). The method that reached the threshold is reported.
//!
//! Licenses of one family differ in a few words (Llama 3.1 and 3.2 differ only
//! in the version number, dates and links), so a Dice gap between siblings is
//! tiny. The margin is therefore measured on what tells the best candidate
//! from the runner-up: the bigrams only one of them has. `margin = share of
//! the best's own bigrams found − share of the runner-up's own bigrams found`
//! (1 for an exact copy of either; near 0 when the input has neither's
//! distinguishing words, like the Llama 3 text against 3.1 and 3.2).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use serde::Serialize;

use crate::normalize::{Tokens, tokenize};
use crate::terms::{TEXTS, TermsKind, lookup};

/// Largest input compared, in bytes; longer texts are cut at this size (on a
/// character boundary) and reported as [`TextMatch::truncated`]. A license
/// file is rarely above 40 KiB; the cap bounds time and memory on hostile
/// inputs.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// Lowest similarity (Dice, over the whole input or over the best window)
/// that identifies a text. Measured (tests): every reference, re-wrapped,
/// turned into Markdown, given a copyright line, with 1 word in 60 changed and
/// 1 in 97 dropped, and all of these at once, scores at least 0.93; a README,
/// random license words and this crate's ATTRIBUTION.md score below 0.3. The
/// closest unrelated real text seen, the Llama 3.2 use policy against the
/// Llama 4 one, scores 0.90: key phrases, not this threshold, reject it.
pub const SCORE_THRESHOLD: f64 = 0.8;

/// Lowest margin (see the module docs) between the best candidate and the
/// runner-up for the best to be named. Measured (tests): every reference
/// identifies as itself, also after all the reformattings above, with a
/// margin of at least 0.82 (Apache-2.0 over the Falcon 2 license, which
/// copies most of it); Llama 3.1, 3.2, 3.3 and 4 over each other at least
/// 0.90. The Meta Llama 3 license, which has no reference, gets 0.0 between
/// 3.1 and 3.2.
pub const MIN_MARGIN: f64 = 0.5;

/// Containment above which a reference is also searched for as a window of a
/// longer input.
const WINDOW_CONTAINMENT: f64 = 0.5;

/// Phrases that restrict use. A text that matches a reference closely but
/// holds one of these where the reference does not (a "research only" copy
/// of a commercial license) is not that license: its terms were changed in
/// the few words that matter, so it is reported unknown.
const RESTRICTION_PHRASES: &[&[&str]] = &[
    &["non", "commercial"],
    &["noncommercial"],
    &["not", "for", "commercial"],
    &["no", "commercial", "use"],
    &["research", "purposes"],
    &["research", "only"],
    &["research", "use", "only"],
    &["evaluation", "purposes"],
    &["evaluation", "only"],
    &["non", "production"],
];

/// How a text was compared with the reference that scored best.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchMethod {
    /// Dice over the whole input.
    Whole,
    /// Dice over the window of the input that matched best: the license is
    /// embedded in a longer text.
    Embedded,
}

/// Why a text was not identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UnknownReason {
    /// The input has no words.
    Empty,
    /// The best candidate scored below [`SCORE_THRESHOLD`].
    BelowThreshold,
    /// The best candidate and the runner-up are too alike for this input:
    /// it lacks the words that tell them apart (margin below [`MIN_MARGIN`]).
    Ambiguous,
    /// The input holds the full texts of two or more different licenses.
    SeveralLicenses,
    /// The input is close to the candidate but has none of its key phrases
    /// (its version or vendor words): it is a relative of the candidate that
    /// has no reference text, such as an earlier version.
    KeyPhraseMissing,
    /// The input matches the candidate but adds a use restriction the
    /// candidate does not have (see [`TextMatch::added_restrictions`]).
    AddedRestriction,
}

/// The result of [`crate::identify_text`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TextMatch {
    /// The identified license (or use policy) id; `None` when unknown.
    pub id: Option<String>,
    /// The best-scoring reference, identified or not.
    pub candidate: Option<String>,
    /// The candidate's score by [`TextMatch::method`], 0 to 1.
    pub score: f64,
    /// Which comparison produced [`TextMatch::score`].
    pub method: MatchMethod,
    /// Dice between the whole input and the candidate.
    pub dice: f64,
    /// Share of the candidate's bigrams that the input contains.
    pub containment: f64,
    /// The closest reference with a different id.
    pub runner_up: Option<String>,
    /// The runner-up's score.
    pub runner_up_score: f64,
    /// Margin between candidate and runner-up (see the module docs), -1 to 1.
    pub margin: f64,
    /// Byte range of the input that matched, for [`MatchMethod::Embedded`].
    pub span: Option<Range<usize>>,
    /// Use policies whose full text the input also contains (a LICENSE with
    /// the acceptable-use policy appended).
    pub also_contains: Vec<String>,
    /// Restricting phrases ("non commercial", "research purposes") in the
    /// matched text that the candidate's reference does not contain.
    pub added_restrictions: Vec<String>,
    /// Why the text is unknown; `None` when identified.
    pub unknown_reason: Option<UnknownReason>,
    /// Whether the input was longer than [`MAX_TEXT_BYTES`] and cut.
    pub truncated: bool,
}

/// A reference text, as bigram counts.
struct Reference {
    id: &'static str,
    kind: TermsKind,
    /// `(bigram index, count)`, sorted by bigram index.
    counts: Vec<(u32, u32)>,
    /// Number of bigrams (sum of counts).
    total: u32,
    /// Which of [`RESTRICTION_PHRASES`] the reference contains.
    restrictions: Vec<bool>,
    /// The entry's key phrases, tokenised; one must occur in a match.
    key_phrases: Vec<Vec<String>>,
}

impl Reference {
    /// How often the reference has the bigram `dense`.
    fn count(&self, dense: u32) -> u32 {
        self.counts
            .binary_search_by_key(&dense, |&(bigram, _)| bigram)
            .ok()
            .and_then(|idx| self.counts.get(idx))
            .map_or(0, |&(_, count)| count)
    }
}

/// Every reference, with the vocabulary and bigram index they share.
struct Index {
    /// Reference words to word ids.
    words: HashMap<Box<str>, u32>,
    /// Pairs of word ids to dense bigram indices.
    bigrams: HashMap<u64, u32>,
    references: Vec<Reference>,
}

impl Index {
    fn build() -> Index {
        let mut words: HashMap<Box<str>, u32> = HashMap::new();
        let mut bigrams: HashMap<u64, u32> = HashMap::new();
        let mut references = Vec::with_capacity(TEXTS.len());
        for (id, text) in TEXTS {
            let tokens = tokenize(text, None);
            let ids: Vec<u32> = tokens
                .iter()
                .map(|word| {
                    let next = u32::try_from(words.len()).unwrap_or(u32::MAX);
                    *words.entry(word.into()).or_insert(next)
                })
                .collect();
            let mut counts: HashMap<u32, u32> = HashMap::new();
            for pair in ids.windows(2) {
                if let [a, b] = pair {
                    let next = u32::try_from(bigrams.len()).unwrap_or(u32::MAX);
                    let dense = *bigrams.entry(bigram_key(*a, *b)).or_insert(next);
                    *counts.entry(dense).or_insert(0) += 1;
                }
            }
            let mut counts: Vec<(u32, u32)> = counts.into_iter().collect();
            counts.sort_unstable();
            let total = counts.iter().map(|(_, count)| count).sum();
            let entry = lookup(id);
            let kind = entry.map_or(TermsKind::License, |terms| terms.kind);
            let key_phrases = entry
                .map(|terms| {
                    terms
                        .key_phrases
                        .iter()
                        .map(|phrase| tokenize(phrase, None).iter().map(str::to_owned).collect())
                        .collect()
                })
                .unwrap_or_default();
            let restrictions = RESTRICTION_PHRASES
                .iter()
                .map(|phrase| contains_phrase(&tokens, 0..tokens.len(), phrase))
                .collect();
            references.push(Reference {
                id,
                kind,
                counts,
                total,
                restrictions,
                key_phrases,
            });
        }
        Index {
            words,
            bigrams,
            references,
        }
    }
}

/// Does the token range hold `phrase` as consecutive tokens?
fn contains_phrase(tokens: &Tokens, range: Range<usize>, phrase: &[impl AsRef<str>]) -> bool {
    let Some(first) = phrase.first() else {
        return false;
    };
    range.clone().any(|start| {
        tokens.text(start) == first.as_ref()
            && phrase.iter().enumerate().skip(1).all(|(offset, word)| {
                start + offset < range.end && tokens.text(start + offset) == word.as_ref()
            })
    })
}

fn bigram_key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

static INDEX: LazyLock<Index> = LazyLock::new(Index::build);

/// An input, as bigrams over the reference index.
struct Input {
    tokens: Tokens,
    /// The dense bigram index of each consecutive token pair, or `None` when
    /// no reference has that bigram.
    sequence: Vec<Option<u32>>,
    /// How often each dense bigram occurs, indexed by dense bigram index.
    counts: Vec<u32>,
}

impl Input {
    fn new(text: &str, index: &Index) -> Input {
        let is_word = |word: &str| index.words.contains_key(word);
        let tokens = tokenize(text, Some(&is_word));
        let word_ids: Vec<Option<u32>> = tokens
            .iter()
            .map(|word| index.words.get(word).copied())
            .collect();
        let mut counts = vec![0u32; index.bigrams.len()];
        let sequence: Vec<Option<u32>> = word_ids
            .windows(2)
            .map(|pair| match pair {
                [Some(a), Some(b)] => index.bigrams.get(&bigram_key(*a, *b)).copied(),
                _ => None,
            })
            .collect();
        for dense in sequence.iter().flatten() {
            if let Some(count) = counts.get_mut(*dense as usize) {
                *count = count.saturating_add(1);
            }
        }
        Input {
            tokens,
            sequence,
            counts,
        }
    }

    fn total(&self) -> usize {
        self.sequence.len()
    }

    fn count(&self, dense: u32) -> u32 {
        self.counts.get(dense as usize).copied().unwrap_or(0)
    }

    fn intersection(&self, reference: &Reference) -> u64 {
        reference
            .counts
            .iter()
            .map(|&(dense, count)| u64::from(count.min(self.count(dense))))
            .sum()
    }
}

/// How one reference compares with the input.
#[derive(Clone, Debug)]
struct Scored {
    reference_idx: usize,
    dice: f64,
    containment: f64,
    /// Best window: score and token range.
    window: Option<(f64, Range<usize>)>,
}

impl Scored {
    /// The score used for ranking and the threshold, with its method.
    fn best(&self) -> (f64, MatchMethod) {
        match &self.window {
            Some((window, _)) if self.dice < SCORE_THRESHOLD && *window > self.dice => {
                (*window, MatchMethod::Embedded)
            }
            _ => (self.dice, MatchMethod::Whole),
        }
    }

    /// The tokens the score covers: the window for an embedded match, else all.
    fn token_range(&self, input: &Input) -> Range<usize> {
        match (self.best().1, &self.window) {
            (MatchMethod::Embedded, Some((_, tokens))) => tokens.clone(),
            _ => 0..input.tokens.len(),
        }
    }
}

/// Identify `text`; see [`crate::identify_text`].
pub(crate) fn identify(text: &str) -> TextMatch {
    let (text, truncated) = cap(text);
    let index = &*INDEX;
    let input = Input::new(text, index);
    let mut result = TextMatch {
        id: None,
        candidate: None,
        score: 0.0,
        method: MatchMethod::Whole,
        dice: 0.0,
        containment: 0.0,
        runner_up: None,
        runner_up_score: 0.0,
        margin: 0.0,
        span: None,
        also_contains: Vec::new(),
        added_restrictions: Vec::new(),
        unknown_reason: Some(UnknownReason::Empty),
        truncated,
    };
    if input.total() == 0 {
        return result;
    }
    let mut scored: Vec<Scored> = index
        .references
        .iter()
        .enumerate()
        .map(|(reference_idx, reference)| score(&input, reference, reference_idx))
        .collect();
    // Licenses before use policies at equal score: a LICENSE with its policy
    // appended is the license.
    scored.sort_by(|a, b| {
        let kind = |s: &Scored| {
            index
                .references
                .get(s.reference_idx)
                .map(|r| r.kind == TermsKind::UsePolicy)
        };
        b.best()
            .0
            .total_cmp(&a.best().0)
            .then_with(|| kind(a).cmp(&kind(b)))
    });
    let reference = |s: &Scored| index.references.get(s.reference_idx);
    // The best license; a use policy only when no license reaches the threshold.
    let best_license = scored
        .iter()
        .find(|s| reference(s).is_some_and(|r| r.kind == TermsKind::License));
    let best = match (best_license, scored.first()) {
        (Some(license), _) if license.best().0 >= SCORE_THRESHOLD => license,
        (_, Some(first)) => first,
        (_, None) => return result,
    };
    let Some(best_ref) = reference(best) else {
        return result;
    };
    let runner_up = scored
        .iter()
        .find(|s| reference(s).is_some_and(|r| r.id != best_ref.id && r.kind == best_ref.kind));
    let (score, method) = best.best();
    result.candidate = Some(best_ref.id.to_owned());
    result.score = round(score);
    result.method = method;
    result.dice = round(best.dice);
    result.containment = round(best.containment);
    let token_range = best.token_range(&input);
    if method == MatchMethod::Embedded {
        let first = input.tokens.tokens.get(token_range.start);
        let last = token_range
            .end
            .checked_sub(1)
            .and_then(|idx| input.tokens.tokens.get(idx));
        if let (Some(first), Some(last)) = (first, last) {
            result.span = Some(first.src_start as usize..last.src_end as usize);
        }
    }
    result.added_restrictions = RESTRICTION_PHRASES
        .iter()
        .zip(&best_ref.restrictions)
        .filter(|(phrase, in_reference)| {
            !**in_reference && contains_phrase(&input.tokens, token_range.clone(), phrase)
        })
        .map(|(phrase, _)| phrase.join(" "))
        .collect();
    result.also_contains = scored
        .iter()
        .filter(|s| s.best().0 >= SCORE_THRESHOLD)
        .filter_map(|s| Some((s, reference(s)?)))
        .filter(|(s, r)| {
            r.kind == TermsKind::UsePolicy
                && r.id != best_ref.id
                && has_key_phrase(&input, r, s.token_range(&input))
        })
        .map(|(_, r)| r.id.to_owned())
        .collect();
    let mut runner_up_found = 0.0;
    if let Some(runner) = runner_up
        && let Some(runner_ref) = reference(runner)
    {
        let (found_best, found_runner) = distinguishing_found(&input, best_ref, runner_ref);
        result.runner_up = Some(runner_ref.id.to_owned());
        result.runner_up_score = round(runner.best().0);
        result.margin = round(found_best - found_runner);
        runner_up_found = found_runner;
    } else {
        result.margin = 1.0;
    }
    result.unknown_reason = if score < SCORE_THRESHOLD {
        Some(UnknownReason::BelowThreshold)
    } else if !result.added_restrictions.is_empty() {
        Some(UnknownReason::AddedRestriction)
    } else if !has_key_phrase(&input, best_ref, token_range.clone()) {
        Some(UnknownReason::KeyPhraseMissing)
    } else if result.margin < MIN_MARGIN {
        if runner_up_found >= MIN_MARGIN && result.runner_up_score >= SCORE_THRESHOLD {
            Some(UnknownReason::SeveralLicenses)
        } else {
            Some(UnknownReason::Ambiguous)
        }
    } else {
        None
    };
    if result.unknown_reason.is_none() {
        result.id = result.candidate.clone();
    }
    result
}

/// Does the token range hold one of the reference's key phrases (or has the
/// reference none)?
fn has_key_phrase(input: &Input, reference: &Reference, range: Range<usize>) -> bool {
    reference.key_phrases.is_empty()
        || reference
            .key_phrases
            .iter()
            .any(|phrase| contains_phrase(&input.tokens, range.clone(), phrase))
}

/// Compare the input with one reference.
fn score(input: &Input, reference: &Reference, reference_idx: usize) -> Scored {
    let shared = input.intersection(reference) as f64;
    let total = reference.total as f64;
    let dice = if total > 0.0 {
        2.0 * shared / (input.total() as f64 + total)
    } else {
        0.0
    };
    let containment = if total > 0.0 { shared / total } else { 0.0 };
    let window = if containment >= WINDOW_CONTAINMENT && input.total() > reference.total as usize {
        best_window(input, reference)
    } else {
        None
    };
    Scored {
        reference_idx,
        dice,
        containment,
        window,
    }
}

/// The window of the input, as long as the reference, with the highest Dice
/// against it, and the range of tokens it covers. One pass: counts enter and
/// leave the window as it slides, kept in vectors indexed by dense bigram.
fn best_window(input: &Input, reference: &Reference) -> Option<(f64, Range<usize>)> {
    let len = reference.total as usize;
    if len == 0 || input.total() < len {
        return None;
    }
    let n_bigrams = input.counts.len();
    let mut wanted = vec![0u32; n_bigrams];
    for &(dense, count) in &reference.counts {
        if let Some(slot) = wanted.get_mut(dense as usize) {
            *slot = count;
        }
    }
    let mut in_window = vec![0u32; n_bigrams];
    let mut shared = 0usize;
    let mut best = (0usize, 0usize);
    for (position, entering) in input.sequence.iter().enumerate() {
        if let Some(dense) = *entering
            && let (Some(&want), Some(have)) = (
                wanted.get(dense as usize),
                in_window.get_mut(dense as usize),
            )
            && want > 0
        {
            if *have < want {
                shared += 1;
            }
            *have += 1;
        }
        if let Some(leaving) = position.checked_sub(len)
            && let Some(Some(dense)) = input.sequence.get(leaving)
            && let (Some(&want), Some(have)) = (
                wanted.get(*dense as usize),
                in_window.get_mut(*dense as usize),
            )
            && want > 0
        {
            *have = have.saturating_sub(1);
            if *have < want {
                shared = shared.saturating_sub(1);
            }
        }
        if position + 1 >= len && shared > best.0 {
            best = (shared, position + 1 - len);
        }
    }
    let (shared, start) = best;
    // Bigram i spans tokens i and i + 1.
    Some((shared as f64 / len as f64, start..start + len + 1))
}

/// Share of each reference's own bigrams (those the other lacks, as
/// multisets) that the input contains: `(best, runner_up)`.
fn distinguishing_found(input: &Input, best: &Reference, runner_up: &Reference) -> (f64, f64) {
    let found = |own: &Reference, other: &Reference| {
        let (mut wanted, mut hits) = (0u64, 0u64);
        for &(dense, count) in &own.counts {
            let common = other.count(dense).min(count);
            let excess = count - common;
            if excess > 0 {
                wanted += u64::from(excess);
                hits += u64::from(excess.min(input.count(dense).saturating_sub(common)));
            }
        }
        if wanted == 0 {
            0.0
        } else {
            hits as f64 / wanted as f64
        }
    };
    (found(best, runner_up), found(runner_up, best))
}

/// Cut `text` to [`MAX_TEXT_BYTES`] on a character boundary.
fn cap(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT_BYTES {
        return (text, false);
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text.get(..end).unwrap_or(""), true)
}

/// Round to four decimals, so reports are stable and readable.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// Similarity of every pair of reference texts (Dice), for diagnostics.
#[doc(hidden)]
pub fn reference_similarity() -> Vec<(String, String, f64)> {
    let index = &*INDEX;
    let mut out = Vec::new();
    for (a_idx, a) in index.references.iter().enumerate() {
        for b in index.references.iter().skip(a_idx + 1) {
            let shared: u64 = b
                .counts
                .iter()
                .map(|&(dense, count)| u64::from(count.min(a.count(dense))))
                .sum();
            let dice = 2.0 * shared as f64 / (f64::from(a.total) + f64::from(b.total));
            out.push((a.id.to_owned(), b.id.to_owned(), round(dice)));
        }
    }
    out
}
