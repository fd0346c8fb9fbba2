//! Finds personal and secret data in text and masks it with placeholders
//! that can be put back: the gateway masks each request's messages before
//! they leave for a model, and restores the originals in the reply.
//!
//! Found by default: email addresses, phone numbers (international, NANP,
//! European national formats), payment card numbers (known brands, Luhn
//! check), IBANs (country length, mod-97 check), US Social Security
//! numbers, IPv4 and IPv6 addresses, API keys and tokens with a vendor's
//! known prefix (OpenAI, Anthropic, GitHub, AWS, Slack, Google, GitLab,
//! Hugging Face, Stripe, modelgate) and JSON Web Tokens; plus the
//! configuration's own regexes and word lists. Each detector's module
//! documents exactly what it takes and what it leaves; the choices that
//! trade recall for precision are there too.
//!
//! Not here: names, postal addresses and other free-form personal data
//! (that needs a language model, not patterns), reading configuration
//! files, and any I/O. Text goes in, findings and masked text come out.
//!
//! # Main types
//!
//! - [`MaskConfig`]: which built-in classes are on, extra patterns and
//!   word lists (deserialises from a TOML table, refusing unknown keys).
//! - [`Masker`]: the compiled configuration, built once and shared;
//!   [`Masker::find`] gives [`Span`]s, [`Masker::mask`] a [`Masked`] text,
//!   [`Masker::contains_any`] a yes or no.
//! - [`Kind`]: a finding's class and its placeholder label.
//! - [`Vault`]: placeholders and originals of one request;
//!   [`Vault::restore`] puts the originals back, [`StreamRestorer`] does it
//!   across the chunks of a streamed reply.
//! - [`Error`]: a configuration that cannot be built, naming the culprit.
//!
//! # Design
//!
//! One hand-written pass over the text finds the runs of digits and the
//! punctuation inside numbers, which feed the phone, card, SSN, IPv4 and
//! IBAN validators (numbering plans, Luhn, mod-97, octet ranges). Email,
//! IPv6, key and JWT candidates come from regexes that each start from a
//! literal (`@`, `:`, a vendor prefix, `eyJ`) the `regex` crate searches
//! for first; configured patterns share one `RegexSet` pass that says which
//! of them match at all; word lists run through Aho-Corasick. Overlapping
//! findings are resolved last: the longest wins, so a key or card number
//! containing digits is not also a phone number. A 2 KB prompt without
//! personal data takes a few microseconds (`benches/mask.rs`).
//!
//! Offsets are bytes and always on `char` boundaries; untrusted text never
//! makes it panic, and nothing backtracks: the work grows with the text's
//! length, not faster.
//!
//! Placeholders are `[LABEL_N]` (`[EMAIL_1]`, `[PHONE_2]`): the same
//! value gets the same placeholder within one [`Vault`], and
//! [`Masker::mask_into`] lets the messages of one request share it.
//!
//! # Example
//!
//! ```
//! use modelgate_mask::{MaskConfig, Masker};
//!
//! let masker = Masker::new(&MaskConfig::default())?;
//! let masked = masker.mask("Mail jane@example.com or call +1 (555) 234-5678, jane@example.com.");
//! assert_eq!(masked.text, "Mail [EMAIL_1] or call [PHONE_1], [EMAIL_1].");
//!
//! let reply = "I wrote to [EMAIL_1].";
//! assert_eq!(masked.vault.restore(reply), "I wrote to jane@example.com.");
//!
//! let mut stream = masked.vault.into_stream_restorer();
//! let mut out = stream.push("Calling [PHO");
//! out += &stream.push("NE_1] now");
//! out += &stream.finish();
//! assert_eq!(out, "Calling +1 (555) 234-5678 now");
//! # Ok::<(), modelgate_mask::Error>(())
//! ```

mod boundary;
mod config;
mod detect;
mod error;
mod kind;
mod masker;
mod vault;
mod words;

pub use config::{CustomPattern, MaskConfig, WordList};
pub use error::Error;
pub use kind::{BuiltinKind, Kind, Span};
pub use masker::{MAX_NAME_LEN, Masker};
pub use vault::{Masked, StreamRestorer, Vault};
