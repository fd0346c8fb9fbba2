//! License identification by text similarity, license terms as data, and
//! reconciliation of every license source of a model.
//!
//! A model's license is stated in several places that may disagree: the
//! model card's `license`, `license_name` and `license_link`, a `LICENSE`
//! file (sometimes with a preamble or the acceptable-use policy appended), a
//! `NOTICE` or `USE_POLICY.md` file, GGUF `general.license*` keys, a
//! safetensors header's `__metadata__`. This crate turns each into a license
//! id, says which one decides, reports every disagreement, and hands out the
//! license's terms (commercial use, user limits, attribution and naming
//! duties, use policies, territorial and output restrictions) from a
//! knowledge base kept as data in `data/terms.toml`.
//!
//! It is an analyser: strings in, facts out. It reads no files and reaches
//! no network; the reference texts (`data/texts/`, ScanCode license data
//! under CC-BY-4.0, see `data/ATTRIBUTION.md`) and the knowledge base are
//! embedded at build time. It judges nothing: whether a license is
//! acceptable is the policy's decision.
//!
//! Main items:
//! - [`analyse`]: every [`LicenseSource`] in, one [`LicenseReport`] out.
//! - [`identify_text`]: which reference a text is, with score, method,
//!   margin over the runner-up, or unknown ([`TextMatch`]).
//! - [`resolve_id`]: a declared identifier or name to its [`Terms`].
//! - [`terms`] and [`all_terms`]: the knowledge base.
//!
//! # Identifying texts
//!
//! Texts are normalised (case, Unicode punctuation, Markdown, HTML, URLs,
//! copyright and "last updated" lines, line wrapping and hyphenation), cut
//! into word bigrams and compared with every reference by Sørensen–Dice
//! similarity, over the whole text and over its best window (for a license
//! embedded in a longer file); see [`TextMatch`]. A text is identified when
//! its score reaches [`SCORE_THRESHOLD`] and its margin over the closest
//! other license, measured on the words that tell the two apart, reaches
//! [`MIN_MARGIN`]. Otherwise it is unknown, with the best candidate and its
//! score: never a guess. Inputs are capped at [`MAX_TEXT_BYTES`].
//!
//! # Reconciling sources
//!
//! [`analyse`] resolves each source (declared values by [`resolve_id`] rules,
//! simple SPDX `A OR B` / `A AND B` expressions, known license pages; files
//! and long values by their text), then decides by precedence:
//!
//! 1. a [`SourceKind::Flag`] (the operator's explicit statement);
//! 2. any full license text that was identified (a `LICENSE` file, or a
//!    license text in GGUF or safetensors metadata);
//! 3. declared identifiers: the card's `license` (or `license_name` when
//!    `license` is a placeholder such as `other`), `license_link`, GGUF and
//!    safetensors metadata.
//!
//! The highest tier with any resolved source decides if its sources agree;
//! if they disagree, the one a lower-tier source agrees with decides when
//! exactly one is corroborated; otherwise [`LicenseReport::license`] is
//! `None`. Every source that disagrees is listed in
//! [`LicenseReport::conflicts`]. A use policy (a `USE_POLICY.md`, or a policy
//! appended to a license text) is attached to a license, never a competing
//! one; it is a conflict only when it belongs to a different license. A
//! `NOTICE` file counts only if it matches a license text. A link to a
//! license file and a placeholder (`other`, `unknown`) identify nothing.
//!
//! ```
//! use modelgate_license::{LicenseSource, SourceKind, analyse, identify_text, reference_text};
//!
//! let llama = reference_text("llama3.1").unwrap();
//! let found = identify_text(llama);
//! assert_eq!(found.id.as_deref(), Some("llama3.1"));
//!
//! let report = analyse(&[
//!     LicenseSource { kind: SourceKind::CardLicense, location: "README.md: license".into(), value: "apache-2.0".into() },
//!     LicenseSource { kind: SourceKind::LicenseFile, location: "LICENSE".into(), value: llama.into() },
//! ]);
//! assert_eq!(report.license.as_deref(), Some("llama3.1"));
//! let terms = report.terms.as_ref().unwrap();
//! assert_eq!(terms.monthly_active_users_limit, Some(700_000_000));
//! assert_eq!(
//!     report.conflicts[0].message,
//!     "README.md: license says apache-2.0 but LICENSE is the Llama 3.1 Community License Agreement"
//! );
//! ```

mod analyse;
mod matcher;
mod normalize;
mod resolve;
mod terms;

pub use analyse::{
    Conflict, Expression, LicenseReport, LicenseSource, MAX_SOURCES, MAX_TOTAL_TEXT_BYTES, Method,
    SourceKind, SourceResult, SourceRole, UnknownSource,
};
#[doc(hidden)]
pub use matcher::reference_similarity;
pub use matcher::{
    MAX_TEXT_BYTES, MIN_MARGIN, MatchMethod, SCORE_THRESHOLD, TextMatch, UnknownReason,
};
pub use resolve::{MAX_DECLARED_BYTES, Operator};
pub use terms::{AcceptableUsePolicy, Commercial, Evidence, Family, Terms, TermsKind};

/// Reconcile every license statement of a model into one answer; see the
/// crate docs for the precedence rules.
pub fn analyse(sources: &[LicenseSource]) -> LicenseReport {
    analyse::analyse_sources(sources)
}

/// Identify a license (or use-policy) text by its wording.
pub fn identify_text(text: &str) -> TextMatch {
    matcher::identify(text)
}

/// Resolve a declared identifier or name: a Hugging Face id (`llama3.1`), an
/// SPDX id (`Apache-2.0`), a name (`Llama 3.1 Community License`), an alias
/// (`llama-3.1`, `apache 2.0`), a ScanCode key or `LicenseRef-scancode-` id,
/// or the URL of a license page. Case, punctuation and filler words
/// ("license", "version", "the") do not matter. Placeholders (`other`),
/// links to license files and expressions (`A OR B`) resolve to `None`:
/// [`analyse`] handles those.
pub fn resolve_id(id: &str) -> Option<&'static Terms> {
    match resolve::resolve_declared(id) {
        resolve::Declared::License(terms) => Some(terms),
        _ => None,
    }
}

/// The knowledge-base entry with exactly this id.
pub fn terms(id: &str) -> Option<&'static Terms> {
    terms::lookup(id)
}

/// Every knowledge-base entry, sorted by id.
pub fn all_terms() -> impl Iterator<Item = &'static Terms> {
    terms::KNOWLEDGE_BASE.iter()
}

/// The embedded reference text of a license or use policy, if it has one.
pub fn reference_text(id: &str) -> Option<&'static str> {
    terms::reference_text(id)
}

/// The ids that have an embedded reference text.
pub fn reference_ids() -> impl Iterator<Item = &'static str> {
    terms::TEXTS.iter().map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn knowledge_base_parses() {
        let parsed = crate::terms::parse_terms(crate::terms::TERMS_TOML);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
