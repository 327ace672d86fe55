//! Event records: idempotency on deliveryId (sequential and concurrent), failure rows and
//! their retry, ignored event types, unknown repositories.

mod common;

use chrono::NaiveDateTime;
use common::push::{commit, payload, simple_commit};
use common::{delivery, job, TestDb};
use devmetrics_webhook_core::{ErrorCode, Status, WebhookProcessor};
use serde_json::json;
use std::sync::Arc;

const REPO: i64 = 777;

/// (processed, attempts, lastError, processedAt is set) of a delivery's event rows.
async fn event_rows(db: &TestDb, delivery_id: &str) -> Vec<(bool, i32, Option<String>, bool)> {
    sqlx::query_as(
        r#"SELECT processed, attempts, "lastError", "processedAt" IS NOT NULL
           FROM events WHERE "deliveryId" = $1"#,
    )
    .bind(delivery_id)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_same_delivery_twice_is_one_event_row_and_a_duplicate() {
    let db = TestDb::migrated().await;
    let team = db.insert_team("T").await;
    db.insert_repository(REPO, Some(&team)).await;
    db.insert_user("a@corp.example", Some("alice"), None, &[])
        .await;
    let processor = db.processor().await;
    let body = payload(
        REPO,
        vec![
            commit(1, "2024-05-01T10:00:00Z", "A", "a@x", Some("alice")),
            simple_commit(2),
        ],
    );
    let d = delivery();

    let first = processor
        .process(job(&d, "push", body.clone()))
        .await
        .unwrap();
    assert_eq!(first.status, Status::Processed);
    assert_eq!(first.records.commits, 2);
    let second = processor.process(job(&d, "push", body)).await.unwrap();
    assert_eq!(second.status, Status::Duplicate);
    assert_eq!(second.event_id, first.event_id);
    assert_eq!(
        second.records,
        Default::default(),
        "a duplicate writes nothing"
    );
    // Metric jobs are re-derived from the stored payload (a crash before enqueue loses none).
    let keys = |r: &devmetrics_webhook_core::ProcessingResult| -> Vec<(String, String)> {
        r.metric_jobs
            .iter()
            .map(|j| (j.id.clone(), j.date.clone()))
            .collect()
    };
    assert!(!first.metric_jobs.is_empty());
    assert_eq!(keys(&second), keys(&first));
    assert_eq!(second.unmapped_users, first.unmapped_users);

    assert_eq!(event_rows(&db, &d).await, [(true, 1, None, true)]);
    assert_eq!(db.count("commits").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_delivery_processed_concurrently_is_processed_exactly_once() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = Arc::new(db.processor().await);
    let body = payload(REPO, (1..=50).map(simple_commit).collect());
    let d = delivery();

    const TASKS: usize = 8;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (processor, start, j) = (
                processor.clone(),
                start.clone(),
                job(&d, "push", body.clone()),
            );
            tokio::spawn(async move {
                start.wait().await;
                processor.process(j).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut event_ids = Vec::new();
    let mut commits = 0;
    for task in tasks {
        let result = task.await.unwrap().expect("no call fails");
        statuses.push(result.status);
        event_ids.push(result.event_id.unwrap());
        commits += result.records.commits;
    }
    let processed = statuses.iter().filter(|s| **s == Status::Processed).count();
    let duplicates = statuses.iter().filter(|s| **s == Status::Duplicate).count();
    assert_eq!((processed, duplicates), (1, TASKS - 1), "{statuses:?}");
    assert_eq!(commits, 50, "only the processed call inserted");
    event_ids.dedup();
    assert_eq!(event_ids.len(), 1, "every call names the same event row");
    assert_eq!(event_rows(&db, &d).await, [(true, 1, None, true)]);
    assert_eq!(db.count("commits").await, 50);
}

#[tokio::test]
async fn a_failed_attempt_leaves_a_visible_row_and_no_entities_and_a_later_attempt_processes_it() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let d = delivery();
    let bad = payload(
        REPO,
        vec![
            simple_commit(1),
            commit(2, "not a time", "A", "a@x", Some("a")),
        ],
    );

    for attempt in 1..=2 {
        let err = processor
            .process(job(&d, "push", bad.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPayload);
        let rows = event_rows(&db, &d).await;
        assert_eq!(rows.len(), 1);
        let (processed, attempts, last_error, processed_at) = &rows[0];
        assert!(!processed);
        assert_eq!(*attempts, attempt);
        assert!(!processed_at);
        let last_error = last_error.as_deref().unwrap();
        assert!(
            last_error.starts_with("INVALID_PAYLOAD")
                && last_error.contains("commits[1].timestamp"),
            "{last_error}"
        );
        assert_eq!(
            db.count("commits").await,
            0,
            "a failed attempt writes no entity rows"
        );
    }

    let good = payload(REPO, vec![simple_commit(1), simple_commit(2)]);
    let result = processor
        .process(job(&d, "push", good.clone()))
        .await
        .unwrap();
    assert_eq!(result.status, Status::Processed);
    assert_eq!(result.records.commits, 2);
    assert_eq!(event_rows(&db, &d).await, [(true, 3, None, true)]);
    assert_eq!(db.count("commits").await, 2);

    // The stored payload is the one that was processed, so a redelivery is a duplicate
    // whose metric jobs re-derive from it.
    let stored_ts: String = sqlx::query_scalar(
        r#"SELECT payload->'commits'->1->>'timestamp' FROM events WHERE "deliveryId" = $1"#,
    )
    .bind(&d)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored_ts, "2024-03-04T15:15:02+01:00");
    let again = processor.process(job(&d, "push", good)).await.unwrap();
    assert_eq!(again.status, Status::Duplicate);
    assert_eq!(event_rows(&db, &d).await, [(true, 3, None, true)]);
}

#[tokio::test]
async fn a_wrong_typed_field_for_a_known_repository_leaves_a_failure_row() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let d = delivery();
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "commits": [{ "id": 5 }],
        "repository": { "id": REPO },
        "sender": { "login": "octocat", "id": 1 }
    }))
    .unwrap();
    let err = processor.process(job(&d, "push", body)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidPayload);
    assert!(!err.code().retryable());
    let rows = event_rows(&db, &d).await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0);
    assert!(
        rows[0].2.as_deref().unwrap().contains("commits[0].id"),
        "{rows:?}"
    );
    assert_eq!(db.count("commits").await, 0);

    // Not JSON at all: no repository to file it under, nothing stored.
    let err = processor
        .process(job(&delivery(), "push", "{\"ref\": "))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidPayload);
    assert_eq!(db.count("events").await, 1);
}

#[tokio::test]
async fn untracked_event_types_are_stored_processed_only_for_known_repositories() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let star = |repo: i64| {
        serde_json::to_vec(&json!({
            "action": "created",
            "starred_at": "2024-05-01T10:00:00Z",
            "repository": { "id": repo, "full_name": "octo/repo" },
            "sender": { "login": "fan", "id": 99, "type": "User" }
        }))
        .unwrap()
    };

    let d = delivery();
    let mut j = job(&d, "star", star(REPO));
    j.received_at = Some(
        chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:01.250Z")
            .unwrap()
            .naive_utc(),
    );
    let known = processor.process(j).await.unwrap();
    assert_eq!(known.status, Status::Ignored);
    assert_eq!(known.action.as_deref(), Some("created"));
    assert_eq!(known.repo_id.as_deref(), Some(repo_id.as_str()));
    assert!(known.event_id.is_some());
    assert!(known.metric_jobs.is_empty());
    let row: (
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        bool,
        NaiveDateTime,
        String,
    ) = sqlx::query_as(
        r#"SELECT type, action, "repoId", "senderGithubId", processed, "receivedAt",
                      payload->'sender'->>'login'
               FROM events WHERE id = $1"#,
    )
    .bind(known.event_id.as_deref().unwrap())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "star".into(),
            Some("created".into()),
            Some(repo_id),
            Some(99),
            true,
            chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:01.250Z")
                .unwrap()
                .naive_utc(),
            "fan".into(),
        )
    );
    // A redelivery is still one row.
    let again = processor
        .process(job(&d, "star", star(REPO)))
        .await
        .unwrap();
    assert_eq!(again.status, Status::Ignored);
    assert_eq!(again.event_id, known.event_id);

    // An unknown repository, or none at all: ignored and not stored, never an error.
    let unknown = processor
        .process(job(&delivery(), "star", star(REPO + 1)))
        .await
        .unwrap();
    assert_eq!(unknown.status, Status::Ignored);
    assert_eq!(unknown.event_id, None);
    assert_eq!(unknown.repo_id, None);
    let ping = processor
        .process(job(
            &delivery(),
            "ping",
            r#"{"zen":"Keep it logically awesome.","hook_id":1}"#,
        ))
        .await
        .unwrap();
    assert_eq!(ping.status, Status::Ignored);
    assert_eq!(ping.event_id, None);

    assert_eq!(db.count("events").await, 1);
}

#[tokio::test]
async fn a_tracked_event_of_an_unknown_repository_is_rejected_and_writes_nothing() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor: WebhookProcessor = db.processor().await;

    let err = processor
        .process(job(
            &delivery(),
            "push",
            payload(REPO + 1, vec![simple_commit(1)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownRepository);
    assert!(!err.code().retryable());

    // A repoId from the endpoint that names no repository is unknown too, even though
    // the payload's repository exists.
    let mut j = job(&delivery(), "push", payload(REPO, vec![simple_commit(1)]));
    j.repo_id = Some(common::new_id());
    let err = processor.process(j).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownRepository);

    assert_eq!(db.count("events").await, 0);
    assert_eq!(db.count("commits").await, 0);
    let stats = processor.stats();
    assert_eq!(stats.failed, 2, "{stats:?}");
}
