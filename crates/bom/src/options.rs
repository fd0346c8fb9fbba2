//! What a BOM says about itself: serial number, time, and the tool.
//!
//! [`SerialNumber`] and [`Timestamp`] check their text when they are made, so
//! a BOM built from them always matches the schema's `serialNumber` pattern
//! and `date-time` format.

use std::collections::hash_map::RandomState;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Settings of one BOM document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BomOptions {
    /// The document's serial number; a random (version 4) one when `None`.
    pub serial_number: Option<SerialNumber>,
    /// When the BOM was made; the current time when `None`.
    pub timestamp: Option<Timestamp>,
    /// modelgate's version, written on the tool component (left out when
    /// empty).
    pub tool_version: String,
}

impl BomOptions {
    /// Options with a fresh serial number and the current time.
    pub fn new(tool_version: impl Into<String>) -> Self {
        Self {
            serial_number: None,
            timestamp: None,
            tool_version: tool_version.into(),
        }
    }
}

/// Why a serial number or timestamp was refused.
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
    /// The text is not an RFC 3339 date-time.
    #[error("timestamp {value:?} is not an RFC 3339 date-time: {reason}")]
    InvalidTimestamp {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
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

    /// A random (version 4) UUID, from the operating system's generator.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No system generator: std's hasher keys are random per process
            // and per `RandomState`; a serial number needs uniqueness, not
            // secrecy.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            for (chunk_idx, chunk) in bytes.chunks_mut(8).enumerate() {
                let mut hasher = RandomState::new().build_hasher();
                hasher.write_u128(nanos);
                hasher.write_usize(chunk_idx);
                hasher.write_u32(std::process::id());
                chunk.copy_from_slice(&hasher.finish().to_le_bytes());
            }
        }
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

/// An RFC 3339 date-time such as `2026-11-22T20:28:40Z` or
/// `2026-11-22T21:28:40.5+01:00`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(String);

impl Timestamp {
    /// Checks an RFC 3339 `date-time` (the `T` and `Z` in either case; they
    /// are stored in upper case). Leap seconds (`:60`) are refused.
    pub fn parse(text: &str) -> Result<Self, Error> {
        check_rfc3339(text.as_bytes()).map_err(|reason| Error::InvalidTimestamp {
            value: text.to_owned(),
            reason,
        })?;
        Ok(Self(text.to_ascii_uppercase()))
    }

    /// The current time, in UTC, to the second.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::from_unix_seconds(secs)
    }

    /// A time given as seconds since 1970-01-01T00:00:00Z, in UTC (capped at
    /// the end of year 9999, the last RFC 3339 can write).
    pub fn from_unix_seconds(secs: u64) -> Self {
        const MAX_SECS: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let secs = secs.min(MAX_SECS);
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        Self(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ))
    }

    /// The date-time text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Year, month and day of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days >= 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// `date-fullyear "-" date-month "-" date-mday "T" time-hour ":"
/// time-minute ":" time-second [time-secfrac] time-offset`.
fn check_rfc3339(text: &[u8]) -> Result<(), &'static str> {
    let mut cursor = Cursor { text, pos: 0 };
    let year = cursor.digits(4).ok_or("expected a four-digit year")?;
    cursor.expect(b'-').ok_or("expected '-' after the year")?;
    let month = cursor.digits(2).ok_or("expected a two-digit month")?;
    cursor.expect(b'-').ok_or("expected '-' after the month")?;
    let day = cursor.digits(2).ok_or("expected a two-digit day")?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    let days_in_month = match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days_in_month).contains(&day) {
        return Err("day out of range");
    }
    cursor
        .expect_either(b'T')
        .ok_or("expected 'T' between date and time")?;
    let hour = cursor.digits(2).ok_or("expected a two-digit hour")?;
    cursor.expect(b':').ok_or("expected ':' after the hour")?;
    let minute = cursor.digits(2).ok_or("expected two-digit minutes")?;
    cursor
        .expect(b':')
        .ok_or("expected ':' after the minutes")?;
    let second = cursor.digits(2).ok_or("expected two-digit seconds")?;
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time out of range");
    }
    if cursor.expect(b'.').is_some() && cursor.digits_at_least_one().is_none() {
        return Err("expected digits after '.'");
    }
    if cursor.expect_either(b'Z').is_none() {
        if cursor.expect(b'+').is_none() && cursor.expect(b'-').is_none() {
            return Err("expected 'Z' or a '+hh:mm'/'-hh:mm' offset");
        }
        let offset_hour = cursor.digits(2).ok_or("expected a two-digit offset hour")?;
        cursor.expect(b':').ok_or("expected ':' in the offset")?;
        let offset_minute = cursor
            .digits(2)
            .ok_or("expected two-digit offset minutes")?;
        if offset_hour > 23 || offset_minute > 59 {
            return Err("offset out of range");
        }
    }
    if cursor.pos != text.len() {
        return Err("unexpected text after the offset");
    }
    Ok(())
}

struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.text.get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    /// `byte` in upper or lower case.
    fn expect_either(&mut self, byte: u8) -> Option<()> {
        let found = self.text.get(self.pos)?;
        found.eq_ignore_ascii_case(&byte).then(|| self.pos += 1)
    }

    fn digits(&mut self, n_digits: usize) -> Option<u32> {
        let slice = self.text.get(self.pos..self.pos.checked_add(n_digits)?)?;
        let mut value = 0u32;
        for byte in slice {
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        self.pos += n_digits;
        Some(value)
    }

    fn digits_at_least_one(&mut self) -> Option<()> {
        let start = self.pos;
        while self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        (self.pos > start).then_some(())
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
    fn random_serial_numbers_are_version_4_and_differ() {
        let first = SerialNumber::random();
        let second = SerialNumber::random();
        assert_ne!(first, second);
        assert_eq!(SerialNumber::parse(first.as_str()).unwrap(), first);
        let uuid = first.as_str().strip_prefix("urn:uuid:").unwrap();
        assert_eq!(uuid.get(14..15), Some("4"));
        assert!(matches!(uuid.get(19..20), Some("8" | "9" | "a" | "b")));
    }

    #[test]
    fn timestamps_follow_rfc_3339() {
        for good in [
            "2026-11-22T20:28:40Z",
            "2024-02-29t00:00:00.123456z",
            "1999-12-31T23:59:59+14:00",
            "2000-01-01T00:00:00-00:30",
        ] {
            assert_eq!(
                Timestamp::parse(good).unwrap().as_str(),
                good.to_ascii_uppercase()
            );
        }
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22 20:28:40Z",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T23:59:60Z",
            "2026-11-22T20:28:40",
            "2026-11-22T20:28:40.Z",
            "2026-11-22T20:28:40+0100",
            "2026-11-22T20:28:40Zjunk",
            "٢٠٢٦-11-22T20:28:40Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unix_seconds_become_utc_dates() {
        assert_eq!(
            Timestamp::from_unix_seconds(0).as_str(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(951_782_400).as_str(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(1_795_379_320).as_str(),
            "2026-11-22T20:28:40Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(u64::MAX).as_str(),
            "9999-12-31T23:59:59Z"
        );
        assert!(Timestamp::parse(Timestamp::now().as_str()).is_ok());
    }
}
