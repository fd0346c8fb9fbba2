//! Time as the inventory stores it: RFC 3339 UTC text to the second, and
//! calendar dates as `YYYY-MM-DD`. Both sort correctly as text, so the
//! database compares them without date functions (portable SQL).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// A moment, in UTC, to the second: `2026-11-22T20:28:40Z`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(String);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_unix_seconds(seconds)
    }

    /// The time `seconds` after 1970-01-01T00:00:00Z (clamped to years
    /// 0000..=9999).
    pub fn from_unix_seconds(seconds: i64) -> Timestamp {
        // 0000-01-01 and 9999-12-31T23:59:59, in Unix seconds.
        let seconds = seconds.clamp(-62_167_219_200, 253_402_300_799);
        let days = seconds.div_euclid(86_400);
        let in_day = seconds.rem_euclid(86_400);
        let date = Date::from_days(days);
        Timestamp(format!(
            "{date}T{:02}:{:02}:{:02}Z",
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60
        ))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The calendar date (UTC).
    pub fn date(&self) -> Date {
        self.0
            .get(..10)
            .and_then(|text| text.parse().ok())
            .unwrap_or(Date {
                year: 1970,
                month: 1,
                day: 1,
            })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A calendar date, `YYYY-MM-DD` (years 0000 to 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// Today, in UTC.
    pub fn today() -> Date {
        Timestamp::now().date()
    }

    /// The date `n_days` later (earlier when negative), clamped to the
    /// supported years.
    pub fn add_days(self, n_days: i64) -> Date {
        Date::from_days(self.days().saturating_add(n_days))
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    fn days(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5
            + i64::from(self.day)
            - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` after 1970-01-01 (`civil_from_days`), clamped to
    /// years 0000..=9999.
    fn from_days(days: i64) -> Date {
        let days = days.clamp(-719_528, 2_932_896);
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(1970),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl FromStr for Date {
    type Err = Error;

    /// Exactly `YYYY-MM-DD`, a real day of the calendar.
    fn from_str(text: &str) -> Result<Date, Error> {
        let bad = || Error::BadDate {
            text: text.to_string(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, Error> {
            let part = text.get(range).ok_or_else(bad)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let year = i32::try_from(number(0..4)?).map_err(|_| bad())?;
        let month = number(5..7)?;
        let day = number(8..10)?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(bad());
        }
        Ok(Date { year, month, day })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_unix_seconds(0).as_str(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(1_795_379_320).as_str(),
            "2026-11-22T20:28:40Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(951_782_400).as_str(),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn dates_parse_strictly_and_round_trip_through_days() {
        for text in ["2024-02-29", "2000-01-01", "1999-12-31", "2026-11-22"] {
            let date: Date = text.parse().expect("valid date");
            assert_eq!(date.to_string(), text);
            assert_eq!(Date::from_days(date.days()), date);
        }
        for text in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-32",
            "2024-00-10",
            "next week",
            "+024-01-01",
        ] {
            assert!(text.parse::<Date>().is_err(), "{text}");
        }
        let date: Date = "2024-12-31".parse().expect("valid date");
        assert_eq!(date.add_days(1).to_string(), "2025-01-01");
        assert_eq!(date.add_days(-366).to_string(), "2023-12-31");
    }
}
