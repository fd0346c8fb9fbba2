//! The vocabulary modelgate's crates share: small plain types that several
//! stages name, kept apart so that naming a word does not pull in the
//! stage that first used it (the way `axum-core` holds what `axum` and its
//! extensions share).
//!
//! Purpose: [`Severity`] (how bad a scan finding is; the scanner reports
//! it, the policy sets thresholds in it, edges render it) and
//! [`Timestamp`] (a checked RFC 3339 date-time; the AI-BOM writes it, the
//! inventory stores it, the audit trail hashes it).
//!
//! Non-purpose: behaviour. Nothing here parses a model, judges one, or
//! touches files, the network or a database; the only outside state read
//! is the clock, by [`Timestamp::now`], which only the edges and the store
//! call (pure crates such as `modelgate-bom` take a timestamp from their
//! caller).
//!
//! Main types: [`Severity`], [`Timestamp`], and [`Error`] (why a text is
//! not a timestamp).
//!
//! ```
//! use modelgate_vocab::{Severity, Timestamp};
//!
//! assert!(Severity::Critical > Severity::High);
//! assert_eq!(Severity::Medium.name(), "medium");
//! let at: Timestamp = "2026-11-22t20:28:40z".parse()?;
//! assert_eq!(at.as_str(), "2026-11-22T20:28:40Z");
//! assert_eq!(Timestamp::from_unix_seconds(1_795_379_320), at);
//! # Ok::<(), modelgate_vocab::Error>(())
//! ```

mod severity;
mod time;

pub use severity::Severity;
pub use time::Timestamp;

/// Why a text is not one of the vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not an RFC 3339 date-time.
    #[error("timestamp {value:?} is not an RFC 3339 date-time: {reason}")]
    InvalidTimestamp {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
