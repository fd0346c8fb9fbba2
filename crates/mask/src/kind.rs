//! What a finding is: its data class and where it sits in the text.

use std::borrow::Cow;

use serde::Deserialize;

/// The class of a piece of personal or secret data.
///
/// The built-in classes each have a detector; [`Kind::Pattern`] and
/// [`Kind::Word`] carry the name of a configured regex or word list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An email address (`local@domain.tld`, ASCII).
    Email,
    /// A phone number: international (`+CC`, `00CC`), NANP (US/Canada) or
    /// a European national number with its trunk `0`.
    Phone,
    /// A payment card number of a known brand and length that passes the
    /// Luhn check.
    PaymentCard,
    /// An IBAN of a known country's length that passes the mod-97 check.
    Iban,
    /// A national identity number; today a US Social Security number.
    NationalId,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// An API key or access token with a vendor's known prefix.
    ApiKey,
    /// A JSON Web Token (`eyJ...` header, `eyJ...` payload, signature).
    Jwt,
    /// A match of the configured regex of this name.
    Pattern(String),
    /// A word from the configured word list of this name.
    Word(String),
}

impl Kind {
    /// The stable upper-case label used in placeholders (`[EMAIL_1]`) and
    /// logs: `EMAIL`, `PHONE`, `CARD`, `IBAN`, `NATIONAL_ID`, `IP`,
    /// `API_KEY`, `JWT`, or a configured pattern's or word list's name in
    /// upper case.
    pub fn label(&self) -> Cow<'_, str> {
        match self {
            Kind::Email => Cow::Borrowed("EMAIL"),
            Kind::Phone => Cow::Borrowed("PHONE"),
            Kind::PaymentCard => Cow::Borrowed("CARD"),
            Kind::Iban => Cow::Borrowed("IBAN"),
            Kind::NationalId => Cow::Borrowed("NATIONAL_ID"),
            Kind::IpAddress => Cow::Borrowed("IP"),
            Kind::ApiKey => Cow::Borrowed("API_KEY"),
            Kind::Jwt => Cow::Borrowed("JWT"),
            Kind::Pattern(name) | Kind::Word(name) => {
                if name.bytes().any(|b| b.is_ascii_lowercase()) {
                    Cow::Owned(name.to_ascii_uppercase())
                } else {
                    Cow::Borrowed(name)
                }
            }
        }
    }

    /// Which of two findings of the same length wins an overlap: lower
    /// ranks win. Configured patterns and words come first (the operator
    /// asked for them by name), then the most specific built-ins.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Kind::Pattern(_) => 0,
            Kind::Word(_) => 1,
            Kind::Jwt => 2,
            Kind::ApiKey => 3,
            Kind::Iban => 4,
            Kind::PaymentCard => 5,
            Kind::NationalId => 6,
            Kind::Email => 7,
            Kind::IpAddress => 8,
            Kind::Phone => 9,
        }
    }
}

/// A built-in data class, as named in the configuration
/// (`kinds = ["email", "phone", ...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinKind {
    /// `email`: [`Kind::Email`].
    Email,
    /// `phone`: [`Kind::Phone`].
    Phone,
    /// `payment_card`: [`Kind::PaymentCard`].
    PaymentCard,
    /// `iban`: [`Kind::Iban`].
    Iban,
    /// `national_id`: [`Kind::NationalId`].
    NationalId,
    /// `ip_address`: [`Kind::IpAddress`].
    IpAddress,
    /// `api_key`: [`Kind::ApiKey`].
    ApiKey,
    /// `jwt`: [`Kind::Jwt`].
    Jwt,
}

impl BuiltinKind {
    /// Every built-in class, in a fixed order.
    pub const ALL: [BuiltinKind; 8] = [
        BuiltinKind::Email,
        BuiltinKind::Phone,
        BuiltinKind::PaymentCard,
        BuiltinKind::Iban,
        BuiltinKind::NationalId,
        BuiltinKind::IpAddress,
        BuiltinKind::ApiKey,
        BuiltinKind::Jwt,
    ];
}

impl From<BuiltinKind> for Kind {
    fn from(kind: BuiltinKind) -> Kind {
        match kind {
            BuiltinKind::Email => Kind::Email,
            BuiltinKind::Phone => Kind::Phone,
            BuiltinKind::PaymentCard => Kind::PaymentCard,
            BuiltinKind::Iban => Kind::Iban,
            BuiltinKind::NationalId => Kind::NationalId,
            BuiltinKind::IpAddress => Kind::IpAddress,
            BuiltinKind::ApiKey => Kind::ApiKey,
            BuiltinKind::Jwt => Kind::Jwt,
        }
    }
}

/// One finding: the byte range `start..end` of the text holds data of
/// class `kind`. Both ends are on `char` boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// What the bytes are.
    pub kind: Kind,
}

impl Span {
    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span is empty (never true for a finding).
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}
