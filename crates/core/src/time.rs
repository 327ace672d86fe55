//! GitHub timestamps to the database's clock: Prisma's `DateTime` is `TIMESTAMP(3)` holding
//! UTC, so every instant is converted to a naive UTC value before it is bound.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A UTC instant as Prisma stores it.
pub type Timestamp = NaiveDateTime;

/// Parses an RFC 3339 timestamp with any offset (`2019-05-15T15:20:30-05:00`, `…Z`) into UTC.
pub fn parse_github_time(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc).naive_utc())
}

/// The earliest instant PostgreSQL's `timestamp` holds: 4714-11-24 BC 00:00 (Julian day 0),
/// in milliseconds since the epoch. The latest it holds (294276 AD) is past chrono's range.
pub const EARLIEST_DATABASE_MILLIS: i64 = -210_866_803_200_000;

/// Whether the database can store the instant (see [`EARLIEST_DATABASE_MILLIS`]): an
/// instant it cannot is a bad argument of the caller, refused before any statement runs.
pub fn in_database_range(t: Timestamp) -> bool {
    t.and_utc().timestamp_millis() >= EARLIEST_DATABASE_MILLIS
}

/// Milliseconds since the epoch into UTC, a fraction dropped; `None` when not finite or out
/// of the database's range ([`in_database_range`]).
pub fn from_epoch_millis(ms: f64) -> Option<Timestamp> {
    if !ms.is_finite() || ms < EARLIEST_DATABASE_MILLIS as f64 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(ms as i64).map(|t| t.naive_utc())
}

/// Like [`from_epoch_millis`] but a fraction rounds up: the first whole millisecond not
/// before `ms`. For the bounds of a selection of stored times (millisecond precision):
/// `t >= ceil(ms)` and `t < ceil(ms)` are exactly `t >= ms` and `t < ms`, where truncating
/// would select the millisecond before a fractional `since`.
pub fn from_epoch_millis_up(ms: f64) -> Option<Timestamp> {
    from_epoch_millis(ms.ceil())
}

/// The current instant, truncated to the database's millisecond precision.
pub fn now() -> Timestamp {
    let t = Utc::now();
    DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or(t)
        .naive_utc()
}

/// The UTC calendar date of an instant, as `YYYY-MM-DD` (metric jobs are per UTC day).
pub fn utc_date(t: Timestamp) -> NaiveDate {
    t.date()
}

/// Whole seconds from `from` to `to`, clamped at zero (clock skew in payloads must not
/// produce negative durations) and at `i32::MAX`.
pub fn seconds_between(from: Timestamp, to: Timestamp) -> i32 {
    (to - from).num_seconds().clamp(0, i32::MAX as i64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_utc() {
        let t = parse_github_time("2019-05-15T15:20:30-05:00").unwrap();
        assert_eq!(t.to_string(), "2019-05-15 20:20:30");
        assert_eq!(utc_date(t).to_string(), "2019-05-15");
        assert!(parse_github_time("yesterday").is_none());
    }

    #[test]
    fn durations_are_clamped() {
        let a = parse_github_time("2020-01-01T00:00:00Z").unwrap();
        let b = parse_github_time("2020-01-01T01:00:00Z").unwrap();
        assert_eq!(seconds_between(a, b), 3600);
        assert_eq!(seconds_between(b, a), 0);
    }

    #[test]
    fn epoch_millis() {
        assert_eq!(
            from_epoch_millis(0.0).unwrap().to_string(),
            "1970-01-01 00:00:00"
        );
        assert!(from_epoch_millis(f64::NAN).is_none());
        assert!(from_epoch_millis(1e300).is_none());
        // Within JavaScript's Date range but before PostgreSQL's.
        assert!(from_epoch_millis(-8e15).is_none());
        let earliest = from_epoch_millis(EARLIEST_DATABASE_MILLIS as f64).unwrap();
        assert!(in_database_range(earliest));
        assert!(!in_database_range(
            earliest - chrono::Duration::milliseconds(1)
        ));
        assert_eq!(
            from_epoch_millis_up(1000.5),
            from_epoch_millis(1001.0),
            "a fractional bound rounds up"
        );
        assert_eq!(from_epoch_millis(1000.5), from_epoch_millis(1000.0));
    }
}
