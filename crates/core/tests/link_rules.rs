//! `linkGithubUser` against the rows around it: one attribution rule for earlier and later
//! rows (defect 6), a back-fill whose cost does not grow with the tables and that holds the
//! barrier only for what in-flight events write (defect 7), the barrier itself, and rows
//! already attributed staying with their user.

mod common;

use common::{delivery, job, push, TestDb};
use devmetrics_webhook_core::store::authors::{backfill_statements, BATCH_ROWS, LINK_BARRIER_LOCK};
use devmetrics_webhook_core::users::link::GithubAccount;
use devmetrics_webhook_core::{Status, WebhookProcessor};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use std::time::Duration;

const PR_OPENED: &str = include_str!("../../../__test__/fixtures/pull-request-opened.json");
const REPO: i64 = 186853002;
const OCTOCAT: i64 = 583231;

/// The fixture's pull request (by octocat) with another GitHub id, number and time.
fn pull_request(n: i64, updated_at: &str) -> Vec<u8> {
    let mut p: Value = serde_json::from_str(PR_OPENED).unwrap();
    p["pull_request"]["id"] = (1_000_000 + n).into();
    p["pull_request"]["number"] = (500 + n).into();
    p["pull_request"]["updated_at"] = updated_at.into();
    serde_json::to_vec(&p).unwrap()
}

fn account(id: Option<i64>, login: Option<&str>) -> GithubAccount {
    GithubAccount {
        id,
        login: login.map(str::to_owned),
        email: None,
    }
}

async fn pr_author(db: &TestDb, n: i64) -> Option<String> {
    sqlx::query_scalar(r#"SELECT "authorId" FROM pull_requests WHERE "githubId" = $1"#)
        .bind(1_000_000 + n)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn commit_author(db: &TestDb, n: u64) -> Option<String> {
    sqlx::query_scalar(r#"SELECT "authorId" FROM commits WHERE sha = $1"#)
        .bind(push::sha(n))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn send_commit(p: &WebhookProcessor, n: u64, login: &str) -> Vec<String> {
    let commit = push::commit(
        n,
        "2024-03-04T15:15:02Z",
        "Someone",
        "someone@corp.example",
        Some(login),
    );
    let r = p
        .process(job(
            &format!("push-{n}"),
            "push",
            push::payload(REPO, vec![commit]),
        ))
        .await
        .unwrap();
    assert_eq!(r.status, Status::Processed);
    r.unmapped_users
}

async fn send_pr(p: &WebhookProcessor, n: i64) -> Vec<String> {
    let r = p
        .process(job(
            &format!("pr-{n}"),
            "pull_request",
            pull_request(n, "2024-03-04T15:15:02Z"),
        ))
        .await
        .unwrap();
    assert_eq!(r.status, Status::Processed);
    r.unmapped_users
}

#[tokio::test]
async fn a_login_only_link_attributes_commits_old_and_new_and_pull_requests_neither() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let processor = db.processor().await;
    send_commit(&processor, 1, "octocat").await;
    send_pr(&processor, 1).await;

    let link = processor
        .link_github_user(&user, &account(None, Some("octocat")))
        .await
        .unwrap();
    assert_eq!(
        (link.backfilled.commits, link.backfilled.pull_requests),
        (1, 0)
    );

    // Commits map by login: the earlier one and the next one.
    assert!(send_commit(&processor, 2, "OctoCat").await.is_empty());
    assert_eq!(commit_author(&db, 1).await.as_deref(), Some(user.as_str()));
    assert_eq!(commit_author(&db, 2).await.as_deref(), Some(user.as_str()));
    // Pull requests map by GitHub id, which this link did not give: neither the earlier
    // one nor the next one is the user's, and the next one reports the login unmapped.
    assert_eq!(send_pr(&processor, 2).await, ["octocat"]);
    assert_eq!(pr_author(&db, 1).await, None);
    assert_eq!(pr_author(&db, 2).await, None);
}

#[tokio::test]
async fn an_id_link_attributes_pull_requests_old_and_new() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let processor = db.processor().await;
    send_pr(&processor, 1).await;

    let link = processor
        .link_github_user(&user, &account(Some(OCTOCAT), None))
        .await
        .unwrap();
    assert_eq!(link.backfilled.pull_requests, 1);
    assert!(send_pr(&processor, 2).await.is_empty());
    assert_eq!(pr_author(&db, 1).await.as_deref(), Some(user.as_str()));
    assert_eq!(pr_author(&db, 2).await.as_deref(), Some(user.as_str()));
}

#[tokio::test]
async fn rows_already_attributed_stay_with_their_user() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let first = db
        .insert_user("first@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    let processor = db.processor().await;
    send_commit(&processor, 1, "octocat").await;
    send_pr(&processor, 1).await;
    assert_eq!(pr_author(&db, 1).await.as_deref(), Some(first.as_str()));

    // The account moves to another user: the back-fill leaves attributed rows alone…
    sqlx::query(r#"UPDATE users SET "githubId" = NULL, "githubLogin" = NULL WHERE id = $1"#)
        .bind(&first)
        .execute(&db.pool)
        .await
        .unwrap();
    let second = db.insert_user("second@corp.example", None, None, &[]).await;
    let link = processor
        .link_github_user(&second, &account(Some(OCTOCAT), Some("octocat")))
        .await
        .unwrap();
    assert_eq!(
        (link.backfilled.commits, link.backfilled.pull_requests),
        (0, 0)
    );
    assert_eq!(commit_author(&db, 1).await.as_deref(), Some(first.as_str()));

    // …and a later payload of the same pull request, now mapping to the second user, does
    // not replace the author set first (authorId is filled once).
    let newer = processor
        .process(job(
            "pr-1-newer",
            "pull_request",
            pull_request(1, "2024-03-05T15:15:02Z"),
        ))
        .await
        .unwrap();
    assert_eq!(
        newer.records.pull_requests, 1,
        "the newer payload updated the row"
    );
    assert_eq!(pr_author(&db, 1).await.as_deref(), Some(first.as_str()));
}

/// A deployment, a workflow run and a release by octocat, numbered `n`.
async fn send_delivery_rows(p: &WebhookProcessor, n: i64) {
    for (event, payload) in delivery::by(REPO, n, OCTOCAT, "octocat") {
        let r = p
            .process(job(&format!("{event}-{n}"), event, payload))
            .await
            .unwrap();
        assert_eq!(r.status, Status::Processed, "{event}");
    }
}

async fn delivery_row_users(db: &TestDb, n: i64) -> [Option<String>; 3] {
    delivery::users(&db.pool, n).await
}

#[tokio::test]
async fn an_id_link_attributes_deployments_runs_and_releases_old_and_new() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let processor = db.processor().await;
    send_delivery_rows(&processor, 1).await;
    assert_eq!(delivery_row_users(&db, 1).await, [None, None, None]);

    let link = processor
        .link_github_user(&user, &account(Some(OCTOCAT), None))
        .await
        .unwrap();
    let b = &link.backfilled;
    assert_eq!((b.deployments, b.workflow_runs, b.releases), (1, 1, 1));
    assert!(
        !link.metric_jobs.is_empty(),
        "the attributed rows' activity"
    );
    send_delivery_rows(&processor, 2).await;
    let mapped = Some(user.clone());
    let all = [mapped.clone(), mapped.clone(), mapped];
    assert_eq!(delivery_row_users(&db, 1).await, all);
    assert_eq!(delivery_row_users(&db, 2).await, all);
}

#[tokio::test]
async fn attributed_deployments_runs_and_releases_stay_with_their_user() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let first = db
        .insert_user("first@corp.example", Some("octocat"), Some(OCTOCAT), &[])
        .await;
    let processor = db.processor().await;
    send_delivery_rows(&processor, 1).await;
    sqlx::query(r#"UPDATE users SET "githubId" = NULL, "githubLogin" = NULL WHERE id = $1"#)
        .bind(&first)
        .execute(&db.pool)
        .await
        .unwrap();
    let second = db.insert_user("second@corp.example", None, None, &[]).await;
    let link = processor
        .link_github_user(&second, &account(Some(OCTOCAT), None))
        .await
        .unwrap();
    let b = &link.backfilled;
    assert_eq!((b.deployments, b.workflow_runs, b.releases), (0, 0, 0));
    let kept = Some(first.clone());
    assert_eq!(
        delivery_row_users(&db, 1).await,
        [kept.clone(), kept.clone(), kept]
    );
}

/// Polls until `probe` is true (at most 30 s).
async fn until<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        // Polling pace, not synchronisation.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether a session waits for the barrier exclusively (a link's back-fill).
async fn link_waits_for_the_barrier(db: &TestDb) -> bool {
    let key = LINK_BARRIER_LOCK;
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND mode = 'ExclusiveLock' AND classid = ($1 >> 32)::oid AND objid = ($1 & 4294967295)::oid)",
    )
    .bind(key)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// An event transaction of another worker, as `store::writes` runs one for an unmapped
/// person: the shared barrier, then an unattributed row, not committed yet.
async fn in_flight_event(db: &TestDb, sha_n: u64) -> PgConnection {
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock_shared({LINK_BARRIER_LOCK});"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO commits (id, "repoId", sha, message, "authorLogin", "authorName", "authorEmail", "committedAt")
           SELECT gen_random_uuid()::text, id, $1, 'm', 'octocat', 'Someone', 'someone@corp.example', now()
           FROM repositories LIMIT 1"#,
    )
    .bind(push::sha(sha_n))
    .execute(&mut conn)
    .await
    .unwrap();
    conn
}

#[tokio::test]
async fn a_link_waits_for_in_flight_events_and_attributes_their_rows() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let processor = db.processor().await;
    let mut event = in_flight_event(&db, 7).await;

    let linking = tokio::spawn({
        let url = db.url.clone();
        let user = user.clone();
        async move {
            let p = WebhookProcessor::connect(devmetrics_webhook_core::ProcessorOptions::new(url))
                .await
                .unwrap();
            let r = p
                .link_github_user(&user, &account(None, Some("octocat")))
                .await;
            p.close().await;
            r
        }
    });
    until("the link waits for the barrier", || {
        link_waits_for_the_barrier(&db)
    })
    .await;
    assert!(!linking.is_finished());
    sqlx::query("COMMIT").execute(&mut event).await.unwrap();
    let link = linking.await.unwrap().unwrap();
    assert_eq!(link.backfilled.commits, 1);
    assert_eq!(commit_author(&db, 7).await.as_deref(), Some(user.as_str()));
    processor.close().await;
}

#[tokio::test]
async fn earlier_rows_are_attributed_in_batches_before_the_barrier_is_taken() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let old = BATCH_ROWS * 2 + 500;
    sqlx::query(
        r#"INSERT INTO commits (id, "repoId", sha, message, "authorLogin", "authorName", "authorEmail", "committedAt")
           SELECT gen_random_uuid()::text, r.id, lpad(to_hex(n), 40, '0'), 'm', 'OctoCat', 'Someone', 'x@corp.example', now()
           FROM repositories r, generate_series(100000, 100000 + $1 - 1) n"#,
    )
    .bind(old)
    .execute(&db.pool)
    .await
    .unwrap();
    // Another worker's event holds the shared barrier for as long as this test wants.
    let mut event = in_flight_event(&db, 7).await;
    let processor = db.processor().await;
    let linking = tokio::spawn({
        let url = db.url.clone();
        let user = user.clone();
        async move {
            let p = WebhookProcessor::connect(devmetrics_webhook_core::ProcessorOptions::new(url))
                .await
                .unwrap();
            let r = p
                .link_github_user(&user, &account(None, Some("octocat")))
                .await;
            p.close().await;
            r
        }
    });
    // Every earlier committed row is attributed while the event still runs: the barrier
    // is taken only for what in-flight events write.
    until("earlier rows attributed before the barrier", || async {
        let n: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM commits WHERE "authorId" = $1"#)
            .bind(&user)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        n == old
    })
    .await;
    until("the link waits for the barrier", || {
        link_waits_for_the_barrier(&db)
    })
    .await;
    sqlx::query("COMMIT").execute(&mut event).await.unwrap();
    let link = linking.await.unwrap().unwrap();
    assert_eq!(i64::from(link.backfilled.commits), old + 1);
    processor.close().await;
}

#[tokio::test]
async fn every_back_fill_statement_is_served_by_an_index() {
    let db = TestDb::migrated().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    // With sequential scans priced out, a plan still shows one only where no index serves.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();
    for statement in backfill_statements() {
        let explain = format!("EXPLAIN {statement}");
        let mut query = sqlx::query_scalar::<_, String>(&explain).bind("user-id");
        query = if statement.starts_with("UPDATE commits") {
            query
                .bind("octocat")
                .bind("x@corp.example")
                .bind(BATCH_ROWS)
        } else {
            query.bind(OCTOCAT).bind(BATCH_ROWS)
        };
        let plan = query.fetch_all(&mut conn).await.unwrap().join("\n");
        assert!(!plan.contains("Seq Scan"), "{statement}\n{plan}");
        assert!(plan.contains("unattributed"), "{statement}\n{plan}");
    }
}
