//! Validation of the payload values the entity processors store: times, numbers and
//! counts. A value the database could not hold, or that makes no sense, is
//! `INVALID_PAYLOAD` naming the field's path; text only loses its NUL characters.

use crate::error::{ProcessingError, Result};
use crate::time::{parse_github_time, Timestamp};

fn invalid(path: &str, what: &str) -> ProcessingError {
    ProcessingError::InvalidPayload(format!("{path} {what}"))
}

/// Longest part of a payload value an error message quotes.
const QUOTED_CHARS: usize = 32;

/// A payload value for an error message: debug-quoted and cut to a few characters, so a
/// huge value never becomes a huge message in logs, `lastError` and Bull's failed set.
pub fn quoted(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(QUOTED_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}… ({} bytes)", value.len())
    } else {
        format!("{head:?}")
    }
}

/// A required RFC 3339 time, in UTC.
pub fn time(path: &str, value: &str) -> Result<Timestamp> {
    parse_github_time(value).ok_or_else(|| invalid(path, "is not an RFC 3339 time"))
}

/// An optional (nullable) RFC 3339 time, in UTC.
pub fn optional_time(path: &str, value: Option<&str>) -> Result<Option<Timestamp>> {
    value.map(|v| time(path, v)).transpose()
}

/// An issue or pull request number: positive and within the `INTEGER` column.
pub fn number(path: &str, value: i64) -> Result<i32> {
    match i32::try_from(value) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(path, "is not a valid number")),
    }
}

/// A GitHub object id: positive (the `BIGINT` columns hold any `i64`, but GitHub's ids
/// start at 1, and 0 or a negative id is a broken payload).
pub fn github_id(path: &str, value: i64) -> Result<i64> {
    if value > 0 {
        Ok(value)
    } else {
        Err(invalid(path, "is not a valid id"))
    }
}

/// One of the known values of an enumerated field (a status or state): the stored
/// `&'static str`, or `INVALID_PAYLOAD` naming the value.
pub fn one_of(path: &str, value: &str, known: &[&'static str]) -> Result<&'static str> {
    known
        .iter()
        .find(|k| **k == value)
        .copied()
        .ok_or_else(|| invalid(path, &format!("is not a known value: {}", quoted(value))))
}

/// A line or file count: never negative; clamped to the `INTEGER` column (no real pull
/// request comes near it).
pub fn count(path: &str, value: i64) -> Result<i32> {
    if value < 0 {
        return Err(invalid(path, "is negative"));
    }
    Ok(i32::try_from(value).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_with_their_path() {
        assert!(time("a.b", "2024-01-01T00:00:00Z").is_ok());
        assert_eq!(
            time("a.b", "soon").unwrap_err().to_string(),
            "invalid payload: a.b is not an RFC 3339 time"
        );
        assert_eq!(optional_time("x", None).unwrap(), None);
        assert!(number("n", 0).is_err());
        assert!(number("n", i64::from(i32::MAX) + 1).is_err());
        assert_eq!(number("n", 7).unwrap(), 7);
        assert!(count("c", -1).is_err());
        assert_eq!(count("c", i64::MAX).unwrap(), i32::MAX);
        assert_eq!(quoted("open\0"), r#""open\0""#);
        assert_eq!(
            quoted(&"é".repeat(1000)),
            format!("{:?}… (2000 bytes)", "é".repeat(32))
        );
    }
}
