//! The built-in detectors. Email addresses, IPv6 addresses, keys and JWTs
//! have a candidate regex each (all in one `RegexSet` pass with the
//! configured patterns); phone, card, SSN, IPv4 and IBAN candidates come
//! from one hand-written pass over the runs of digits
//! ([`numbers`]). Validators turn candidates into findings.

pub(crate) mod card;
pub(crate) mod email;
pub(crate) mod iban;
pub(crate) mod ip;
pub(crate) mod numbers;
pub(crate) mod phone;
pub(crate) mod secret;
pub(crate) mod ssn;
