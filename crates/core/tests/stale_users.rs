//! A stale cache entry never costs an event (DESIGN.md, "Lifecycle"): a user the backend
//! deleted after the processor cached it is resolved again, never a foreign-key failure.

mod common;

use common::{delivery, job, push, TestDb};
use devmetrics_webhook_core::Status;
use serde_json::Value;

const PR_OPENED: &str = include_str!("../../../__test__/fixtures/pull-request-opened.json");
/// The fixture's repository and author (octocat).
const REPO: i64 = 186853002;
const OCTOCAT: i64 = 583231;

/// The fixture's pull request with another GitHub id and number.
fn pull_request(n: i64) -> Vec<u8> {
    let mut p: Value = serde_json::from_str(PR_OPENED).unwrap();
    p["pull_request"]["id"] = (1_000_000 + n).into();
    p["pull_request"]["number"] = (500 + n).into();
    serde_json::to_vec(&p).unwrap()
}

#[tokio::test]
async fn a_cached_user_deleted_by_the_backend_is_resolved_again() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db
        .insert_user("mona@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    let processor = db.processor().await;

    // Cached: the author maps, by GitHub id (pull request) and by login (commit).
    let first = processor
        .process(job("pr-1", "pull_request", pull_request(1)))
        .await
        .unwrap();
    assert_eq!(first.status, Status::Processed);
    assert!(first.unmapped_users.is_empty());
    let commit = push::commit(
        1,
        "2024-03-04T15:15:02Z",
        "Mona",
        "mona@corp.example",
        Some("octocat"),
    );
    let pushed = processor
        .process(job("push-1", "push", push::payload(REPO, vec![commit])))
        .await
        .unwrap();
    assert_eq!(pushed.records.commits, 1);
    assert!(pushed.unmapped_users.is_empty());

    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&user)
        .execute(&db.pool)
        .await
        .unwrap();

    // The next deliveries by the same person are processed, now unmapped.
    let second = processor
        .process(job("pr-2", "pull_request", pull_request(2)))
        .await
        .expect("a stale cached user must not fail the event");
    assert_eq!(second.status, Status::Processed);
    assert_eq!(second.unmapped_users, ["octocat"]);
    let commit = push::commit(
        2,
        "2024-03-04T16:15:02Z",
        "Mona",
        "mona@corp.example",
        Some("octocat"),
    );
    let pushed = processor
        .process(job("push-2", "push", push::payload(REPO, vec![commit])))
        .await
        .expect("a stale cached login must not fail the event");
    assert_eq!(pushed.records.commits, 1);
    assert_eq!(pushed.unmapped_users, ["octocat"]);

    let authored: i64 =
        sqlx::query_scalar(r#"SELECT count(*) FROM pull_requests WHERE "authorId" IS NOT NULL"#)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(authored, 0);
    assert_eq!(db.count("pull_requests").await, 2);
    assert_eq!(processor.stats().failed, 0);

    // And once the backend links someone else to the account, events map to them.
    let again = db
        .insert_user("new@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    processor.close().await;
    let fresh = db.processor().await;
    fresh
        .process(job("pr-3", "pull_request", pull_request(3)))
        .await
        .unwrap();
    let author: Option<String> =
        sqlx::query_scalar(r#"SELECT "authorId" FROM pull_requests WHERE "githubId" = 1000003"#)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(author.as_deref(), Some(again.as_str()));
    fresh.close().await;
}

#[tokio::test]
async fn a_cached_creator_actor_or_release_author_deleted_since_is_resolved_again() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db
        .insert_user("mona@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    let processor = db.processor().await;
    let send = |n: i64| {
        let processor = &processor;
        async move {
            let mut unmapped = Vec::new();
            for (event, payload) in delivery::by(REPO, n, OCTOCAT, "octocat") {
                let r = processor
                    .process(job(&format!("{event}-{n}"), event, payload))
                    .await
                    .unwrap_or_else(|e| panic!("{event} {n}: {e}"));
                assert_eq!(r.status, Status::Processed, "{event}");
                unmapped.extend(r.unmapped_users);
            }
            unmapped
        }
    };
    // Cached: the creator, the actor and the author map by GitHub id.
    assert!(send(1).await.is_empty());
    let mapped = Some(user.clone());
    assert_eq!(
        delivery::users(&db.pool, 1).await,
        [mapped.clone(), mapped.clone(), mapped]
    );

    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&user)
        .execute(&db.pool)
        .await
        .unwrap();

    // The next deliveries by the same person are processed, now unmapped.
    assert_eq!(send(2).await, ["octocat", "octocat", "octocat"]);
    assert_eq!(delivery::users(&db.pool, 2).await, [None, None, None]);
}

#[tokio::test]
async fn a_backfill_page_by_a_cached_user_deleted_since_is_written_unmapped() {
    use devmetrics_webhook_core::rest::{RestKind, RestPage};
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let user = db
        .insert_user("mona@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    let processor = db.processor().await;
    // Cached by a delivery.
    let first = processor
        .process(job("pr-1", "pull_request", pull_request(1)))
        .await
        .unwrap();
    assert!(first.unmapped_users.is_empty());
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&user)
        .execute(&db.pool)
        .await
        .unwrap();

    // A REST pulls page (REST's pull request is the webhook's object) by the same author.
    let delivered: Value = serde_json::from_slice(&pull_request(2)).unwrap();
    let page = serde_json::to_vec(&vec![delivered["pull_request"].clone()]).unwrap();
    let applied = processor
        .apply_rest_page(RestPage {
            repo_id,
            kind: RestKind::Pulls,
            body: page,
            pull_request: None,
        })
        .await
        .expect("a stale cached user must not fail a backfill page");
    assert_eq!(applied.records.pull_requests, 1);
    assert_eq!(applied.unmapped_users, ["octocat"]);
    processor.close().await;
}

#[tokio::test]
async fn a_reprocess_by_a_cached_user_deleted_since_writes_the_rows_unmapped() {
    use devmetrics_webhook_core::reprocess::ReprocessOptions;
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db
        .insert_user("mona@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    let processor = db.processor().await;
    // Cached by the delivery that is then reprocessed.
    let first = processor
        .process(job("pr-1", "pull_request", pull_request(1)))
        .await
        .unwrap();
    assert!(first.unmapped_users.is_empty());
    sqlx::raw_sql("DELETE FROM pull_requests")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&user)
        .execute(&db.pool)
        .await
        .unwrap();

    let report = processor
        .reprocess_events(ReprocessOptions::default(), None)
        .await
        .expect("a stale cached user must not fail a reprocess batch");
    assert_eq!((report.events, report.skipped), (1, 0));
    let author: Option<String> = sqlx::query_scalar(r#"SELECT "authorId" FROM pull_requests"#)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(author, None);
    processor.close().await;
}

/// A repository the backend deleted and registered again (a new row, a new id, the same
/// GitHub id) after the processor cached it: the next deliveries are written to the new
/// row, not rejected on `events_repoId_fkey` (issue 22, item 1).
#[tokio::test]
async fn a_cached_repository_deleted_and_registered_again_is_looked_up_again() {
    let db = TestDb::migrated().await;
    let old = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let first = processor
        .process(job("pr-1", "pull_request", pull_request(1)))
        .await
        .unwrap();
    assert_eq!(first.repo_id.as_deref(), Some(old.as_str()));

    sqlx::query("DELETE FROM repositories WHERE id = $1")
        .bind(&old)
        .execute(&db.pool)
        .await
        .unwrap();
    let new = db.insert_repository(REPO, None).await;

    let second = processor
        .process(job("pr-2", "pull_request", pull_request(2)))
        .await
        .expect("a stale cached repository must not fail the event");
    assert_eq!(second.status, Status::Processed);
    assert_eq!(second.repo_id.as_deref(), Some(new.as_str()));
    let commit = push::commit(3, "2024-03-04T15:15:02Z", "Mona", "m@x.example", None);
    let pushed = processor
        .process(job("push-1", "push", push::payload(REPO, vec![commit])))
        .await
        .expect("a push to the re-registered repository");
    assert_eq!(pushed.records.commits, 1);
    // An event type no processor tracks is stored against the new row as well.
    let mut star: Value = serde_json::from_slice(&pull_request(4)).unwrap();
    star["action"] = "created".into();
    let ignored = processor
        .process(job("star-1", "star", serde_json::to_vec(&star).unwrap()))
        .await
        .expect("an ignored event of the re-registered repository");
    assert_eq!(ignored.status, Status::Ignored);
    assert!(ignored.event_id.is_some());

    let rows: Vec<(String, i64)> = sqlx::query_as(
        r#"SELECT "repoId", count(*) FROM events WHERE "repoId" IS NOT NULL GROUP BY 1"#,
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![(new.clone(), 3)]);
    let prs: Vec<String> = sqlx::query_scalar(r#"SELECT "repoId" FROM pull_requests"#)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(prs, vec![new]);
    assert_eq!(processor.stats().failed, 0);
    processor.close().await;
}
