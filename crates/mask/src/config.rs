//! What to look for: the `[mask]`-style section of a configuration file.

use serde::Deserialize;

use crate::kind::BuiltinKind;

/// Which data classes a [`Masker`](crate::Masker) finds.
///
/// Deserialises from a table such as
///
/// ```toml
/// kinds = ["email", "phone", "payment_card", "api_key"]
///
/// [[patterns]]
/// name = "employee_id"
/// regex = 'EMP-[0-9]{6}'
///
/// [[words]]
/// name = "project"
/// words = ["Bluebird", "Nightjar"]
/// case_insensitive = true
/// ```
///
/// Every field is optional; a missing `kinds` means every built-in class.
/// Unknown fields are refused, so a misspelt key is an error rather than a
/// silently ignored setting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskConfig {
    /// The built-in detectors that are on (default: all of them).
    pub kinds: Vec<BuiltinKind>,
    /// Extra regular expressions, each a data class of its own.
    pub patterns: Vec<CustomPattern>,
    /// Lists of words (names, code names, customers), each a data class of
    /// its own.
    pub words: Vec<WordList>,
}

impl Default for MaskConfig {
    /// Every built-in detector, no patterns, no words.
    fn default() -> MaskConfig {
        MaskConfig {
            kinds: BuiltinKind::ALL.to_vec(),
            patterns: Vec::new(),
            words: Vec::new(),
        }
    }
}

/// A configured regular expression (Rust `regex` syntax).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// The class name: ASCII letters, digits and `_`, at most
    /// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes; upper-cased it becomes the
    /// placeholder label (`employee_id` gives `[EMPLOYEE_ID_1]`).
    pub name: String,
    /// The expression; every non-empty match is masked as it stands (no
    /// word boundaries are added).
    pub regex: String,
}

/// A configured list of words masked wherever they stand as whole words.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordList {
    /// The class name, with the same rules as [`CustomPattern::name`].
    pub name: String,
    /// The words or phrases. A match must not be glued to a letter or digit
    /// on either side (`Ann` does not match inside `Annual`).
    pub words: Vec<String>,
    /// Match ignoring ASCII case (`acme` matches `ACME`); letters outside
    /// ASCII still match only as written.
    #[serde(default)]
    pub case_insensitive: bool,
}
