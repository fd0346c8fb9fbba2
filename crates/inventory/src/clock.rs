//! Time as the inventory stores it: RFC 3339 UTC text to the second
//! ([`Timestamp`], the shared vocabulary's type, so the civil-date arithmetic
//! lives in one place), and calendar dates as `YYYY-MM-DD` ([`Date`]). Both
//! sort correctly as text, so the database compares them without date
//! functions (portable SQL).

use std::fmt;
use std::str::FromStr;

pub use modelgate_vocab::Timestamp;

use crate::Error;

/// Seconds in a day.
const DAY_SECONDS: i64 = 86_400;
/// 9999-12-31, the last day a [`Timestamp`] can write, in days since
/// 1970-01-01.
const LAST_DAY: i64 = 2_932_896;

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
        Date::of(&Timestamp::now())
    }

    /// The date a timestamp is on (UTC for the ones the inventory makes).
    pub fn of(timestamp: &Timestamp) -> Date {
        // A Timestamp is checked RFC 3339, so it starts with a valid date.
        timestamp
            .as_str()
            .get(..10)
            .and_then(|text| text.parse().ok())
            .unwrap_or(Date {
                year: 1970,
                month: 1,
                day: 1,
            })
    }

    /// The date `n_days` later (earlier when negative), clamped to
    /// 1970-01-01..=9999-12-31.
    pub fn add_days(self, n_days: i64) -> Date {
        let days = self.days().saturating_add(n_days).clamp(0, LAST_DAY);
        let seconds = u64::try_from(days * DAY_SECONDS).unwrap_or(0);
        Date::of(&Timestamp::from_unix_seconds(seconds))
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`; the
    /// inverse is the AI-BOM's [`Timestamp::from_unix_seconds`]).
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
}

impl FromStr for Date {
    type Err = Error;

    /// Exactly `YYYY-MM-DD`, a real day of the calendar.
    fn from_str(text: &str) -> Result<Date, Error> {
        let bad = || Error::BadDate {
            text: text.to_string(),
        };
        // The RFC 3339 check knows the calendar; the length check keeps it
        // from reading a time or an offset in `text`.
        if text.len() != 10 || Timestamp::parse(&format!("{text}T00:00:00Z")).is_err() {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, Error> {
            text.get(range)
                .and_then(|part| part.parse().ok())
                .ok_or_else(bad)
        };
        Ok(Date {
            year: i32::try_from(number(0..4)?).map_err(|_| bad())?,
            month: number(5..7)?,
            day: number(8..10)?,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `timestamp` is written as the inventory writes times: UTC, to
/// the second (`2026-11-22T20:28:40Z`), so that times sort as text.
pub(crate) fn is_utc_seconds(timestamp: &Timestamp) -> bool {
    let text = timestamp.as_str();
    text.len() == 20 && text.ends_with('Z')
}

/// A [`Timestamp`] in serde as its RFC 3339 text (`#[serde(with =
/// "crate::clock::timestamp_text")]`): the shared type has no serde of its
/// own.
pub(crate) mod timestamp_text {
    use super::Timestamp;

    pub(crate) fn serialize<S: serde::Serializer>(
        timestamp: &Timestamp,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(timestamp.as_str())
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_strictly_and_round_trip_through_days() {
        for text in ["2024-02-29", "2000-01-01", "1999-12-31", "2026-11-22"] {
            let date: Date = text.parse().expect("valid date");
            assert_eq!(date.to_string(), text);
            assert_eq!(date.add_days(0), date);
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
            "2024-01-0Z",
            "2024-01-01T00:00:00Z",
        ] {
            assert!(text.parse::<Date>().is_err(), "{text}");
        }
        let date: Date = "2024-12-31".parse().expect("valid date");
        assert_eq!(date.add_days(1).to_string(), "2025-01-01");
        assert_eq!(date.add_days(-366).to_string(), "2023-12-31");
        assert_eq!(date.add_days(i64::MAX).to_string(), "9999-12-31");
        assert_eq!(date.add_days(i64::MIN).to_string(), "1970-01-01");
    }

    #[test]
    fn dates_and_timestamps_round_trip_through_serde() {
        let date: Date = "2026-02-28".parse().expect("valid date");
        let json = serde_json::to_string(&date).expect("serializes");
        assert_eq!(json, r#""2026-02-28""#);
        assert_eq!(serde_json::from_str::<Date>(&json).expect("parses"), date);
        assert!(serde_json::from_str::<Date>(r#""2026-02-30""#).is_err());
        assert!(is_utc_seconds(&Timestamp::from_unix_seconds(1)));
        for other in ["2026-11-22T20:28:40.5Z", "2026-11-22T21:28:40+01:00"] {
            let timestamp = Timestamp::parse(other).expect("valid RFC 3339");
            assert!(!is_utc_seconds(&timestamp), "{other}");
        }
    }

    #[test]
    fn a_timestamp_is_on_its_utc_date() {
        let timestamp = Timestamp::from_unix_seconds(1_795_379_320);
        assert_eq!(timestamp.as_str(), "2026-11-22T20:28:40Z");
        assert_eq!(Date::of(&timestamp).to_string(), "2026-11-22");
    }
}
