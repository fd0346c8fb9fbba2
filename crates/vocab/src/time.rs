//! [`Timestamp`]: an RFC 3339 date-time, checked when made, so text built
//! from one always matches JSON Schema's `date-time` format; and the civil
//! calendar arithmetic that turns seconds since 1970 into one.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

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

    /// The current time, in UTC, to the second. Reads the clock: for the
    /// edges and the store; pure crates take a timestamp from their caller.
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
