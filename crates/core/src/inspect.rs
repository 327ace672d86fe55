//! Checks a delivery without a database: the same size limit, parse and planning that
//! `WebhookProcessor::process` applies before it writes, so an endpoint can answer a bad
//! payload at the door instead of queueing it, and read the repository id without a
//! second JSON parser. Also how `bench/` compares our parse with `JSON.parse`.

use crate::error::{ProcessingError, Result};
use crate::job::MAX_PAYLOAD_BYTES;
use crate::payload::{self, EventKind, Original};
use crate::processors;

/// What a delivery's payload says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Whether a processor handles this event type (others are stored as `ignored`).
    pub tracked: bool,
    pub action: Option<String>,
    /// GitHub id of the payload's repository, when it names one.
    pub repository_github_id: Option<i64>,
    /// GitHub id of the account that triggered the delivery.
    pub sender_github_id: Option<i64>,
}

/// Inspects `payload` as a delivery of `event`. Errors are those `process` would give for
/// the same bytes before touching the database: `PAYLOAD_TOO_LARGE`, `INVALID_PAYLOAD`.
/// `scratch` is consumed: simd-json unescapes in place; `original` gives the bytes again
/// only if a failure needs describing (see [`payload::Original`]).
pub fn inspect(event: &str, mut scratch: Vec<u8>, original: impl Original) -> Result<Inspection> {
    if scratch.len() > MAX_PAYLOAD_BYTES {
        return Err(ProcessingError::PayloadTooLarge {
            size: scratch.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    let Some(kind) = EventKind::from_name(event) else {
        let envelope = payload::parse_envelope(&mut scratch, original)?;
        return Ok(Inspection {
            tracked: false,
            action: envelope.action.map(str::to_owned),
            repository_github_id: envelope.repository.map(|r| r.id),
            sender_github_id: envelope.sender.map(|s| s.id),
        });
    };
    let parsed = payload::parse_tracked(kind, &mut scratch, original)?;
    processors::plan(&parsed)?;
    Ok(Inspection {
        tracked: true,
        action: parsed.action().map(str::to_owned),
        repository_github_id: Some(parsed.repository().id),
        sender_github_id: parsed.sender_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn reads_tracked_and_untracked_deliveries() {
        let pr = include_bytes!("../../../__test__/fixtures/pull-request-opened.json");
        let seen = inspect("pull_request", pr.to_vec(), &pr[..]).unwrap();
        assert!(seen.tracked);
        assert_eq!(seen.action.as_deref(), Some("opened"));
        assert_eq!(seen.repository_github_id, Some(186853002));
        assert_eq!(seen.sender_github_id, Some(583231));

        let star = br#"{"action":"created","repository":{"id":9}}"#;
        let seen = inspect("star", star.to_vec(), &star[..]).unwrap();
        assert!(!seen.tracked);
        assert_eq!(seen.repository_github_id, Some(9));
    }

    #[test]
    fn rejects_what_process_would_reject() {
        let code =
            |event: &str, body: &[u8]| inspect(event, body.to_vec(), body).unwrap_err().code();
        assert_eq!(code("push", b"{\"ref\":"), ErrorCode::InvalidPayload);
        assert_eq!(code("star", b"[1,2"), ErrorCode::InvalidPayload);
        assert_eq!(
            code(
                "issues",
                br#"{"action":"opened","repository":{"id":"seven"}}"#
            ),
            ErrorCode::InvalidPayload
        );
        let huge = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(
            inspect("push", huge.clone(), &huge).unwrap_err().code(),
            ErrorCode::PayloadTooLarge
        );
    }
}
