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

/// Milliseconds since the epoch into UTC; `None` when out of chrono's range or not finite.
pub fn from_epoch_millis(ms: f64) -> Option<Timestamp> {
    if !ms.is_finite() {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(ms as i64).map(|t| t.naive_utc())
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
    }
}
