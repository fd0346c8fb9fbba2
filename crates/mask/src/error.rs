//! Why a [`MaskConfig`](crate::MaskConfig) cannot be built into a masker.

/// A configuration that [`Masker::new`](crate::Masker::new) refused. Each
/// variant names the pattern or word list at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pattern's or word list's name is empty, too long, or has a
    /// character other than an ASCII letter, digit or `_`.
    #[error(
        "mask {what} name `{name}` is not usable as a placeholder label: use 1 to {max} ASCII \
         letters, digits or `_`"
    )]
    InvalidName {
        /// `pattern` or `word list`.
        what: &'static str,
        /// The name as configured.
        name: String,
        /// The longest name allowed.
        max: usize,
    },
    /// Two patterns, two word lists, or a pattern and a word list share a
    /// name (compared in upper case, as the placeholder label).
    #[error("mask name `{name}` is used twice: give each pattern and word list its own name")]
    DuplicateName {
        /// The second use of the name.
        name: String,
    },
    /// A pattern is not a valid regular expression, or compiles to more
    /// than the size limit.
    #[error("mask pattern `{name}`: invalid regex: {source}")]
    InvalidPattern {
        /// The pattern's name.
        name: String,
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },
    /// A pattern matches the empty string, so it would match everywhere.
    #[error(
        "mask pattern `{name}` matches the empty string: make it require at least one character"
    )]
    PatternMatchesEmpty {
        /// The pattern's name.
        name: String,
    },
    /// A word list holds an empty word (or one of only white space).
    #[error("mask word list `{name}` has an empty word at index {word_idx}: remove it")]
    EmptyWord {
        /// The list's name.
        name: String,
        /// The 0-based index of the word.
        word_idx: usize,
    },
    /// The patterns together are too large to compile into one set.
    #[error("mask patterns together are too large to compile: {source}; use fewer or simpler ones")]
    PatternsTooLarge {
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },
    /// The word lists together could not be compiled into an automaton.
    #[error("mask word lists could not be compiled: {source}; use fewer or shorter words")]
    WordsTooLarge {
        /// The automaton builder's error.
        #[source]
        source: aho_corasick::BuildError,
    },
}
