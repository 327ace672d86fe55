//! The job envelope as the processor receives it, and its validation.

use crate::error::{ProcessingError, Result};
use crate::time::Timestamp;

/// GitHub never sends more than 25 MB; anything larger did not come from GitHub.
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;

/// One webhook delivery to process.
#[derive(Debug, Clone)]
pub struct WebhookJob {
    /// `X-GitHub-Delivery`: the idempotency key.
    pub delivery_id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The raw JSON body.
    pub payload: Vec<u8>,
    /// DevMetrics `repositories.id`, when the endpoint resolved it (wins over the payload).
    pub repo_id: Option<String>,
    /// When the endpoint received the delivery; now when absent.
    pub received_at: Option<Timestamp>,
}

impl WebhookJob {
    /// Envelope and size checks, the first two steps of the order of checks.
    pub fn validate(&self) -> Result<()> {
        check_field("deliveryId", &self.delivery_id, 200)?;
        check_field("event", &self.event, 100)?;
        if !self
            .event
            .bytes()
            // Names carry digits too (`projects_v2_item`).
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(ProcessingError::InvalidJob(
                "event must be a GitHub event name like `push`".into(),
            ));
        }
        if let Some(repo_id) = &self.repo_id {
            check_field("repoId", repo_id, 200)?;
        }
        if self
            .received_at
            .is_some_and(|t| !crate::time::in_database_range(t))
        {
            return Err(ProcessingError::InvalidJob(
                "receivedAt is before the earliest time the database holds (4714 BC)".into(),
            ));
        }
        if self.payload.is_empty() {
            return Err(ProcessingError::InvalidJob("payload is empty".into()));
        }
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(ProcessingError::PayloadTooLarge {
                size: self.payload.len(),
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        Ok(())
    }
}

fn check_field(name: &str, value: &str, max_len: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(ProcessingError::InvalidJob(format!("{name} is empty")));
    }
    if value.len() > max_len || value.contains('\0') {
        return Err(ProcessingError::InvalidJob(format!(
            "{name} is not a plausible value"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn job() -> WebhookJob {
        WebhookJob {
            delivery_id: "d-1".into(),
            event: "push".into(),
            payload: b"{}".to_vec(),
            repo_id: None,
            received_at: None,
        }
    }

    #[test]
    fn envelope_checks() {
        assert!(job().validate().is_ok());
        let projects = WebhookJob {
            event: "projects_v2_item".into(),
            ..job()
        };
        assert!(projects.validate().is_ok(), "event names may carry digits");
        let code = |j: WebhookJob| j.validate().unwrap_err().code();
        assert_eq!(
            code(WebhookJob {
                delivery_id: " ".into(),
                ..job()
            }),
            ErrorCode::InvalidJob
        );
        assert_eq!(
            code(WebhookJob {
                event: "Push!".into(),
                ..job()
            }),
            ErrorCode::InvalidJob
        );
        assert_eq!(
            code(WebhookJob {
                payload: vec![],
                ..job()
            }),
            ErrorCode::InvalidJob
        );
        assert_eq!(
            code(WebhookJob {
                repo_id: Some(String::new()),
                ..job()
            }),
            ErrorCode::InvalidJob
        );
        assert_eq!(
            code(WebhookJob {
                payload: vec![b' '; MAX_PAYLOAD_BYTES + 1],
                ..job()
            }),
            ErrorCode::PayloadTooLarge
        );
    }
}
