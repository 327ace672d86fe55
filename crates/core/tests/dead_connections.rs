//! Every query path survives connections the server closed (a restart, a failover, a
//! pooler or an idle timeout ending sessions), with the caches cold so each path really
//! queries: lookups, ignored events, the duplicate path, failure rows, the seed's lookup
//! and links. And idle connections age out.

mod common;

use common::{job, TestDb};
use devmetrics_webhook_core::users::link::GithubAccount;
use devmetrics_webhook_core::{ErrorCode, ProcessorOptions, Status, WebhookProcessor};
use serde_json::Value;
use std::time::Duration;

const PR_OPENED: &str = include_str!("../../../__test__/fixtures/pull-request-opened.json");
const REPO: i64 = 186853002;
const MAX: u32 = 3;

async fn processor_sessions(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// Fills the processor's idle list with `MAX` connections (lookups of accounts no test
/// payload names, so no cache the next step reads is warmed), then ends every session.
async fn kill_every_session(db: &TestDb, processor: &WebhookProcessor, round: i64) {
    let base = 9_000_000 + round * 10;
    let (a, b, c) = tokio::join!(
        processor.user_id_by_github_id(base + 1),
        processor.user_id_by_github_id(base + 2),
        processor.user_id_by_github_id(base + 3),
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor') t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(killed >= 1, "round {round}: no session to end");
    // The server ends a backend just after it is signalled: wait until they are gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while processor_sessions(db).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sessions still alive"
        );
        // Polling pace, not synchronisation.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn pr(id: i64) -> Vec<u8> {
    let mut p: Value = serde_json::from_str(PR_OPENED).unwrap();
    p["pull_request"]["id"] = id.into();
    p["pull_request"]["number"] = (id % 1000).into();
    // An author no cache has seen.
    p["pull_request"]["user"]["id"] = (id + 77).into();
    serde_json::to_vec(&p).unwrap()
}

#[tokio::test]
async fn every_query_path_takes_another_connection_when_the_server_closed_them() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db
        .insert_user("someone@corp.example", None, None, &[])
        .await;
    let mut options = db.options();
    options.max_connections = MAX;
    let processor = WebhookProcessor::connect(options).await.unwrap();

    // The seed's lookup.
    kill_every_session(&db, &processor, 1).await;
    assert_eq!(processor.user_id_by_github_id(4242).await.unwrap(), None);

    // An ignored event: the repository lookup (cold) and its row.
    kill_every_session(&db, &processor, 2).await;
    let star = format!(
        r#"{{"action":"created","repository":{{"id":{REPO}}},"sender":{{"id":1,"login":"x"}}}}"#
    );
    let ignored = processor
        .process(job("star-1", "star", star))
        .await
        .unwrap();
    assert_eq!(ignored.status, Status::Ignored);
    assert!(ignored.event_id.is_some());

    // A tracked event: its author's lookup (cold) and the write.
    kill_every_session(&db, &processor, 3).await;
    let first = processor
        .process(job("pr-1", "pull_request", pr(4001)))
        .await
        .unwrap();
    assert_eq!(first.status, Status::Processed);

    // The duplicate path: the stored event, read again.
    kill_every_session(&db, &processor, 4).await;
    let again = processor
        .process(job("pr-1", "pull_request", pr(4001)))
        .await
        .unwrap();
    assert_eq!(again.status, Status::Duplicate);

    // A failure row: a payload the processor rejects still leaves its visible row.
    kill_every_session(&db, &processor, 5).await;
    let mut bad: Value = serde_json::from_slice(&pr(4002)).unwrap();
    bad["pull_request"]["created_at"] = "not a time".into();
    let rejected = processor
        .process(job(
            "pr-bad",
            "pull_request",
            serde_json::to_vec(&bad).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(rejected.code(), ErrorCode::InvalidPayload);
    let failure_rows: i64 = sqlx::query_scalar(
        r#"SELECT count(*) FROM events WHERE "deliveryId" = 'pr-bad' AND NOT processed"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(failure_rows, 1);

    // A link: the mapping and the back-fill.
    kill_every_session(&db, &processor, 6).await;
    let link = processor
        .link_github_user(
            &user,
            &GithubAccount {
                id: Some(4001 + 77),
                login: None,
                email: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(link.backfilled.pull_requests, 1);

    let stats = processor.stats();
    assert_eq!(stats.failed, 1, "only the invalid payload failed");
    processor.close().await;
}

#[tokio::test]
async fn idle_connections_age_out() {
    let db = TestDb::migrated().await;
    let options = ProcessorOptions {
        max_connections: MAX,
        idle_timeout: Duration::from_millis(200),
        ..db.options()
    };
    let processor = WebhookProcessor::connect(options).await.unwrap();
    let (a, b) = tokio::join!(
        processor.user_id_by_github_id(1),
        processor.user_id_by_github_id(2)
    );
    a.unwrap();
    b.unwrap();
    assert!(processor_sessions(&db).await > 0);
    // Nothing uses the processor now: its sessions must end on their own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while processor_sessions(&db).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "idle sessions outlived the idle timeout"
        );
        // Polling pace, not synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the processor still works.
    assert_eq!(processor.user_id_by_github_id(3).await.unwrap(), None);
    processor.close().await;
}

#[tokio::test]
async fn the_ageing_options_must_be_positive() {
    let db = TestDb::migrated().await;
    for options in [
        ProcessorOptions {
            idle_timeout: Duration::ZERO,
            ..db.options()
        },
        ProcessorOptions {
            max_lifetime: Duration::ZERO,
            ..db.options()
        },
    ] {
        let err = WebhookProcessor::connect(options).await.err().unwrap();
        assert_eq!(err.code(), ErrorCode::ConfigError);
    }
}
