//! The `events` table: one row per delivery, keyed by `deliveryId`.
//!
//! A successful call inserts (or takes over an unprocessed) row with `processed = true`
//! inside the event's transaction, so entity rows and the processed mark commit together.
//! A failed call records `attempts` and `lastError` outside it, so failures stay visible.

use super::connections::Connections;
use super::statement::Args;
use super::JsonbText;
use crate::error::Result;
use crate::time::Timestamp;

/// The columns of an event row that come from the delivery.
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    pub repo_id: Option<&'a str>,
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    pub action: Option<&'a str>,
    pub sender_github_id: Option<i64>,
    /// JSON text, NUL escapes already stripped.
    pub payload: &'a [u8],
    pub received_at: Timestamp,
}

impl<'a> EventRecord<'a> {
    /// A delivery's row before anything in its payload is read: no repository, action or
    /// sender (follow events, auto-registration); [`EventRecord::in_repository`] adds them.
    pub fn of_delivery(
        delivery_id: &'a str,
        event_type: &'a str,
        payload: &'a [u8],
        received_at: Timestamp,
    ) -> Self {
        EventRecord {
            repo_id: None,
            delivery_id,
            event_type,
            action: None,
            sender_github_id: None,
            payload,
            received_at,
        }
    }

    /// The same row in a known repository, with the action and sender its payload names.
    pub fn in_repository(
        self,
        repo_id: &'a str,
        action: Option<&'a str>,
        sender_github_id: Option<i64>,
    ) -> Self {
        EventRecord {
            repo_id: Some(repo_id),
            action,
            sender_github_id,
            ..self
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Inserts the event as processed, or marks an earlier unprocessed attempt processed; no
/// row for a delivery already processed (a duplicate). Values: [`claim_args`]. Composed
/// with the event's entity writes into one statement by [`super::writes`], which adds the
/// `RETURNING`.
pub const CLAIM: &str = r#"INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                               processed, "processedAt", attempts, "receivedAt", "createdAt")
           VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, 1, $9, $8)
           ON CONFLICT ("deliveryId") DO UPDATE
             SET processed = true, "processedAt" = EXCLUDED."processedAt",
                 attempts = events.attempts + 1, "lastError" = NULL,
                 -- The row holds what was processed: a duplicate re-derives its metric
                 -- jobs from this payload, not from an earlier attempt's.
                 payload = EXCLUDED.payload, "repoId" = EXCLUDED."repoId", type = EXCLUDED.type,
                 action = EXCLUDED.action, "senderGithubId" = EXCLUDED."senderGithubId",
                 -- The time the entity writes used (a redelivery's, not the failed
                 -- attempt's): a reprocess of this row must write what live wrote.
                 "receivedAt" = EXCLUDED."receivedAt"
             WHERE events.processed = false"#;

/// Binds [`CLAIM`]'s values, after whatever `args` already holds.
pub fn claim_args(args: &mut Args, ev: &EventRecord<'_>, now: Timestamp) {
    args.add(new_id())
        .add(ev.repo_id)
        .add(ev.delivery_id)
        .add(ev.event_type)
        .add(ev.action)
        .add(ev.sender_github_id)
        .add(JsonbText(ev.payload))
        .add(now)
        .add(ev.received_at);
}

/// Stores an event no processor tracks as processed. A redelivery only counts the attempt.
pub async fn record_ignored(
    db: &Connections,
    ev: &EventRecord<'_>,
    now: Timestamp,
) -> Result<String> {
    // Safe to run again: a second run only counts one more attempt.
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let id = sqlx::query_scalar(
            r#"INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                                   processed, "processedAt", attempts, "receivedAt", "createdAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, 1, $9, $8)
               ON CONFLICT ("deliveryId") DO UPDATE SET attempts = events.attempts + 1
               RETURNING id"#,
        )
        .bind(new_id())
        .bind(ev.repo_id)
        .bind(ev.delivery_id)
        .bind(ev.event_type)
        .bind(ev.action)
        .bind(ev.sender_github_id)
        .bind(JsonbText(ev.payload))
        .bind(now)
        .bind(ev.received_at)
        .fetch_one(&mut *conn)
        .await;
        if let Some(id) = tries.finish(conn, id)? {
            return Ok(id);
        }
    }
}

/// Leaves a visible failure: `processed = false`, one more attempt, the error's text.
/// Never touches a row that is already processed.
pub async fn record_failure(
    db: &Connections,
    ev: &EventRecord<'_>,
    error: &str,
    now: Timestamp,
) -> Result<()> {
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let done = sqlx::query(
            r#"INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                                   processed, attempts, "lastError", "receivedAt", "createdAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7, false, 1, $8, $9, $10)
               ON CONFLICT ("deliveryId") DO UPDATE
                 SET attempts = events.attempts + 1, "lastError" = EXCLUDED."lastError",
                     payload = EXCLUDED.payload, "repoId" = EXCLUDED."repoId", type = EXCLUDED.type,
                     action = EXCLUDED.action, "senderGithubId" = EXCLUDED."senderGithubId"
                 WHERE events.processed = false"#,
        )
        .bind(new_id())
        .bind(ev.repo_id)
        .bind(ev.delivery_id)
        .bind(ev.event_type)
        .bind(ev.action)
        .bind(ev.sender_github_id)
        .bind(JsonbText(ev.payload))
        .bind(crate::text::clean(error))
        .bind(ev.received_at)
        .bind(now)
        .execute(&mut *conn)
        .await;
        if tries.finish(conn, done.map(drop))?.is_some() {
            return Ok(());
        }
    }
}

/// A processed delivery as stored, for re-deriving a duplicate's metric jobs.
#[derive(Debug)]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub repo_id: Option<String>,
    pub payload: String,
}

pub async fn find_processed(db: &Connections, delivery_id: &str) -> Result<Option<StoredEvent>> {
    let mut tries = db.tries();
    let row: Option<(String, String, Option<String>, String)> = loop {
        let mut conn = tries.lease().await?;
        let row = sqlx::query_as(
            r#"SELECT id, type, "repoId", payload::text FROM events WHERE "deliveryId" = $1 AND processed"#,
        )
        .bind(delivery_id)
        .fetch_optional(&mut *conn)
        .await;
        if let Some(row) = tries.finish(conn, row)? {
            break row;
        }
    };
    Ok(row.map(|(id, event_type, repo_id, payload)| StoredEvent {
        id,
        event_type,
        repo_id,
        payload,
    }))
}
