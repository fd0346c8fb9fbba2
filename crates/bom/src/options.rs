//! What a BOM says about itself: serial number, time, and the tool.
//!
//! [`SerialNumber`] and [`Timestamp`] check their text when they are made, so
//! a BOM built from them always matches the schema's `serialNumber` pattern
//! and `date-time` format. Both come from the caller: the crate reads
//! neither the clock nor a random number generator, so the same inputs
//! give the same BOM.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use modelgate_vocab::Timestamp;

/// Settings of one BOM document: what makes this document this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BomOptions {
    /// The document's serial number (CycloneDX asks for a fresh one per
    /// BOM: see [`SerialNumber::from_random_bytes`]).
    pub serial_number: SerialNumber,
    /// When the BOM was made.
    pub timestamp: Timestamp,
    /// modelgate's version, written on the tool component (left out when
    /// empty).
    pub tool_version: String,
}

impl BomOptions {
    /// Options for a BOM with this serial number, made at `timestamp` by
    /// modelgate `tool_version`.
    pub fn new(
        serial_number: SerialNumber,
        timestamp: Timestamp,
        tool_version: impl Into<String>,
    ) -> Self {
        Self {
            serial_number,
            timestamp,
            tool_version: tool_version.into(),
        }
    }
}

/// Why a serial number was refused. (A timestamp's error is
/// [`modelgate_vocab::Error`].)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a UUID, with or without its `urn:uuid:` prefix.
    #[error(
        "serial number {value:?} is not a UUID (urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
    )]
    InvalidSerialNumber {
        /// The text given.
        value: String,
    },
}

/// A BOM serial number: `urn:uuid:` and a UUID in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SerialNumber(String);

impl SerialNumber {
    /// Checks a UUID, with or without the `urn:uuid:` prefix, in either
    /// case.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidSerialNumber {
            value: text.to_owned(),
        };
        let uuid = match text.get(..9) {
            Some(prefix) if prefix.eq_ignore_ascii_case("urn:uuid:") => text.get(9..).unwrap_or(""),
            _ => text,
        };
        let bytes = uuid.as_bytes();
        if bytes.len() != 36 {
            return Err(invalid());
        }
        for (byte_idx, byte) in bytes.iter().enumerate() {
            let ok = match byte_idx {
                8 | 13 | 18 | 23 => *byte == b'-',
                _ => byte.is_ascii_hexdigit(),
            };
            if !ok {
                return Err(invalid());
            }
        }
        Ok(Self(format!("urn:uuid:{}", uuid.to_ascii_lowercase())))
    }

    /// A version 4 (random) UUID made of 16 random bytes the caller drew
    /// (the crate draws none: it is pure); six of their bits are replaced
    /// by the version and variant.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        // RFC 9562 version 4: the version in the high nibble of byte 6, the
        // variant in the high bits of byte 8.
        let mut uuid = String::with_capacity(36);
        for (byte_idx, byte) in bytes.into_iter().enumerate() {
            let byte = match byte_idx {
                6 => (byte & 0x0f) | 0x40,
                8 => (byte & 0x3f) | 0x80,
                _ => byte,
            };
            if matches!(byte_idx, 4 | 6 | 8 | 10) {
                uuid.push('-');
            }
            // Writing to a String cannot fail.
            let _ = write!(uuid, "{byte:02x}");
        }
        Self(format!("urn:uuid:{uuid}"))
    }

    /// The serial number, `urn:uuid:...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SerialNumber {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_are_checked_and_lower_cased() {
        let serial = SerialNumber::parse("URN:UUID:3E671687-395B-41F5-A30F-A58921A69B79").unwrap();
        assert_eq!(
            serial.as_str(),
            "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
        );
        let bare = SerialNumber::parse("3e671687-395b-41f5-a30f-a58921a69b79").unwrap();
        assert_eq!(bare, serial);
        for bad in [
            "",
            "urn:uuid:",
            "urn:uuid:3e671687395b41f5a30fa58921a69b79",
            "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b7g",
        ] {
            assert_eq!(
                SerialNumber::parse(bad),
                Err(Error::InvalidSerialNumber {
                    value: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn serial_numbers_from_random_bytes_are_version_4_and_keep_the_rest() {
        let zeros = SerialNumber::from_random_bytes([0; 16]);
        assert_eq!(
            zeros.as_str(),
            "urn:uuid:00000000-0000-4000-8000-000000000000"
        );
        let ones = SerialNumber::from_random_bytes([0xff; 16]);
        assert_eq!(
            ones.as_str(),
            "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        let counting: [u8; 16] = std::array::from_fn(|idx| idx as u8);
        let serial = SerialNumber::from_random_bytes(counting);
        assert_eq!(
            serial.as_str(),
            "urn:uuid:00010203-0405-4607-8809-0a0b0c0d0e0f"
        );
        assert_eq!(SerialNumber::parse(serial.as_str()).unwrap(), serial);
    }
}
