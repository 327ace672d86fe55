//! What a rebuild (`reprocess_events` over stored deliveries) must give: the rows live
//! processing gave. Each test here is one way they differed (issue 22); the standing property
//! over random timelines is `rebuild.rs`.

mod common;
mod timeline;

use common::TestDb;
use devmetrics_webhook_core::reprocess::ReprocessOptions;
use devmetrics_webhook_core::{ErrorCode, Status, WebhookProcessor};
use timeline::{issue_payload, naive, Account, Delivery, Issue, BASE, REPO};

const MONA: Account = Account::user(201, "mona");

async fn reprocess(
    processor: &WebhookProcessor,
) -> devmetrics_webhook_core::reprocess::ReprocessReport {
    processor
        .reprocess_events(ReprocessOptions::default(), None)
        .await
        .expect("reprocess")
}

async fn issue_deleted_at(db: &TestDb) -> Option<chrono::NaiveDateTime> {
    sqlx::query_scalar(r#"SELECT "deletedAt" FROM issues"#)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// A delivery whose first attempt (at T1) failed and which GitHub redelivered (at T2): the
/// writes used T2, so the stored event says T2 and a rebuild writes T2 too (item 10).
#[tokio::test]
async fn a_redelivery_after_a_failed_attempt_rebuilds_with_the_time_the_writes_used() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let mut issue = Issue::opened(60_001, 501, MONA, BASE);
    processor
        .process(Delivery::new("open", "issues", issue_payload("opened", &issue), BASE + 1).job())
        .await
        .unwrap();
    issue.updated_at = BASE + 100;
    let deleted = issue_payload("deleted", &issue);

    // The first attempt fails inside its transaction (a database error), leaving a failure row.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON issues FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (t1, t2) = (BASE + 200, BASE + 5_000);
    processor
        .process(Delivery::new("delete", "issues", deleted.clone(), t1).job())
        .await
        .expect_err("the first attempt fails");
    sqlx::raw_sql("DROP TRIGGER refuse ON issues")
        .execute(&db.pool)
        .await
        .unwrap();
    let redelivered = processor
        .process(Delivery::new("delete", "issues", deleted, t2).job())
        .await
        .unwrap();
    assert_eq!(redelivered.status, Status::Processed);
    assert_eq!(issue_deleted_at(&db).await, Some(naive(t2)));

    // Over the rows live left, and over deleted rows: the same time.
    assert_eq!(reprocess(&processor).await.events, 2);
    assert_eq!(issue_deleted_at(&db).await, Some(naive(t2)));
    sqlx::raw_sql("DELETE FROM issues")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(reprocess(&processor).await.events, 2);
    assert_eq!(issue_deleted_at(&db).await, Some(naive(t2)));
    processor.close().await;
}

/// A `\u0000` inside a JSON key: stripping it for storage would turn `"ti\u0000tle"` into a
/// second `"title"`, and a rebuild would read that one. Such a delivery is refused
/// `INVALID_PAYLOAD` and writes nothing (item 11); a NUL inside a value is still stripped.
#[tokio::test]
async fn a_nul_inside_a_json_key_is_refused_and_writes_nothing() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let issue = Issue::opened(60_002, 502, MONA, BASE);
    let text = String::from_utf8(issue_payload("opened", &issue)).unwrap();
    let with_key = text.replacen(
        r#""title":"#,
        r#""ti\u0000tle":"Another title","title":"#,
        1,
    );
    assert_ne!(with_key, text);
    let err = processor
        .process(Delivery::new("nul-key", "issues", with_key.into_bytes(), BASE).job())
        .await
        .expect_err("a NUL inside a key is refused");
    assert_eq!(err.code(), ErrorCode::InvalidPayload);
    assert_eq!(db.count("events").await, 0);
    assert_eq!(db.count("issues").await, 0);

    let in_value = text.replacen(r#""title":""#, r#""title":"Wid\u0000"#, 1);
    assert_ne!(in_value, text);
    let ok = processor
        .process(Delivery::new("nul-value", "issues", in_value.into_bytes(), BASE).job())
        .await
        .unwrap();
    assert_eq!(ok.status, Status::Processed);
    let title: String = sqlx::query_scalar("SELECT title FROM issues")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sqlx::raw_sql("DELETE FROM issues")
        .execute(&db.pool)
        .await
        .unwrap();
    reprocess(&processor).await;
    let rebuilt: String = sqlx::query_scalar("SELECT title FROM issues")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rebuilt, title);
    processor.close().await;
}

async fn commit_authors(db: &TestDb) -> Vec<(String, Option<String>)> {
    sqlx::query_as(r#"SELECT sha, "authorId" FROM commits ORDER BY sha"#)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// A link by email is stored: a later push by that address maps like the commits the link
/// back-filled, and a rebuild maps them all (item 2). An address is one user's.
#[tokio::test]
async fn a_link_by_email_maps_later_pushes_and_rebuilds() {
    use common::push;
    use devmetrics_webhook_core::users::link::GithubAccount;
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("mona@corp.example", None, None, &[]).await;
    let other = db.insert_user("lisa@corp.example", None, None, &[]).await;
    let processor = db.processor().await;
    let by_email =
        |n: u64| push::commit(n, "2024-05-01T10:00:00Z", "Mona", "Mona@Home.example", None);
    let e1 = processor
        .process(common::job(
            "p1",
            "push",
            push::payload(REPO, vec![by_email(1)]),
        ))
        .await
        .unwrap();
    assert_eq!(e1.unmapped_users, ["Mona@Home.example"]);

    let account = GithubAccount {
        email: Some("mona@home.example".into()),
        ..Default::default()
    };
    let linked = processor.link_github_user(&user, &account).await.unwrap();
    assert_eq!(linked.backfilled.commits, 1);

    let e2 = processor
        .process(common::job(
            "p2",
            "push",
            push::payload(REPO, vec![by_email(2)]),
        ))
        .await
        .unwrap();
    assert!(e2.unmapped_users.is_empty(), "{:?}", e2.unmapped_users);
    let live = commit_authors(&db).await;
    assert_eq!(
        live.iter().map(|(_, a)| a.as_deref()).collect::<Vec<_>>(),
        [Some(user.as_str()), Some(user.as_str())]
    );

    sqlx::raw_sql("DELETE FROM commits")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(reprocess(&processor).await.events, 2);
    assert_eq!(commit_authors(&db).await, live);

    // The address is Mona's: linking it to someone else, or linking Lisa's own address to
    // Mona, is refused.
    let err = processor
        .link_github_user(&other, &account)
        .await
        .expect_err("an address linked to another user");
    assert_eq!(err.code(), ErrorCode::ConstraintViolation);
    let err = processor
        .link_github_user(
            &user,
            &GithubAccount {
                email: Some("LISA@corp.example".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("another user's own address");
    assert_eq!(err.code(), ErrorCode::ConstraintViolation);
    processor.close().await;
}

/// A repository deleted while a run is under way: its events are counted in `skipped`, and
/// the run is complete with every planned event accounted for (item 14).
#[tokio::test]
async fn events_of_a_repository_deleted_mid_run_are_counted_as_skipped() {
    let db = TestDb::migrated().await;
    let first = db.insert_repository(REPO, None).await;
    let second = db.insert_repository(REPO + 1, None).await;
    let processor = db.processor().await;
    for (n, repo) in [(1, REPO), (2, REPO), (3, REPO + 1), (4, REPO + 1)] {
        let issue = Issue::opened(70_000 + n, n, MONA, BASE + n);
        let body = String::from_utf8(issue_payload("opened", &issue))
            .unwrap()
            .replace(&format!(r#""id":{REPO},"#), &format!(r#""id":{repo},"#));
        processor
            .process(Delivery::new(format!("d{n}"), "issues", body.into_bytes(), BASE + n).job())
            .await
            .unwrap();
    }
    let repos: Vec<String> =
        sqlx::query_scalar(r#"SELECT "repoId" FROM issues ORDER BY "githubId""#)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        repos,
        [first.clone(), first.clone(), second.clone(), second.clone()]
    );

    // One batch per repository: the first call applies one of them.
    let options = ReprocessOptions {
        max_batches: Some(1),
        ..Default::default()
    };
    let one = processor.reprocess_events(options, None).await.unwrap();
    assert_eq!((one.total_events, one.events, one.complete), (4, 2, false));
    // Delete the repository of the batch left.
    let left: String =
        sqlx::query_scalar(r#"SELECT "repoId" FROM reprocess_batches WHERE "finishedAt" IS NULL"#)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    sqlx::query("DELETE FROM repositories WHERE id = $1")
        .bind(&left)
        .execute(&db.pool)
        .await
        .unwrap();
    let rest = reprocess(&processor).await;
    assert!(rest.resumed);
    assert_eq!((rest.events, rest.skipped, rest.complete), (0, 2, true));
    processor.close().await;
}

/// Batches are bounded by payload bytes too, not only by count: large payloads make more,
/// smaller batches (item 12), and the rows are the same.
#[tokio::test]
async fn large_payloads_make_smaller_batches() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let mut sizes = Vec::new();
    for n in 0..6 {
        let mut issue = Issue::opened(80_000 + n, 600 + n, MONA, BASE + n);
        issue.title = format!("{n} {}", "x".repeat(20_000));
        let body = issue_payload("opened", &issue);
        sizes.push(body.len());
        processor
            .process(Delivery::new(format!("big{n}"), "issues", body, BASE + n).job())
            .await
            .unwrap();
    }
    let live: Vec<String> = sqlx::query_scalar(r#"SELECT title FROM issues ORDER BY "githubId""#)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    sqlx::raw_sql("DELETE FROM issues")
        .execute(&db.pool)
        .await
        .unwrap();

    // Two payloads' bytes per batch (as stored, which is what a batch reads): three batches
    // of two, although 200 events would fit.
    let stored: Vec<i32> = sqlx::query_scalar("SELECT octet_length(payload::text) FROM events")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(stored
        .iter()
        .all(|&n| n == stored[0] && n as usize >= sizes[0]));
    let per_batch = (stored[0] * 2) as u32;
    let report = processor
        .reprocess_events(
            ReprocessOptions {
                batch_bytes: Some(per_batch),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((report.events, report.complete), (6, true));
    let batches: Vec<i32> = sqlx::query_scalar("SELECT events FROM reprocess_batches ORDER BY seq")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(batches, [2, 2, 2]);
    let rebuilt: Vec<String> =
        sqlx::query_scalar(r#"SELECT title FROM issues ORDER BY "githubId""#)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(rebuilt, live);
    processor.close().await;
}

/// Whether a session of the test database waits for a lock of this type.
async fn waiting_lock(db: &TestDb, locktype: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                        WHERE NOT l.granted AND l.locktype = $1 AND a.datname = current_database())",
    )
    .bind(locktype)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// A `linkGithubUser` while a reprocess batch is held up mid-transaction (here by a row lock
/// of another session) completes without waiting for the batch: the batch takes the link
/// barrier only at its end (item 13). And the person the link maps, whom the batch had
/// already written unmapped, is attributed once the batch commits.
#[tokio::test]
async fn a_link_does_not_wait_for_a_reprocess_batch() {
    use devmetrics_webhook_core::users::link::GithubAccount;
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let user = db.insert_user("ann@corp.example", None, None, &[]).await;
    let processor = std::sync::Arc::new(db.processor().await);
    let ann = Account::user(301, "ann");
    let bob = Account::user(302, "bob");
    // Issue A by Ann (lower id: written first in a batch), issue B by Bob.
    for (n, author) in [(1, ann.clone()), (2, bob.clone())] {
        let issue = Issue::opened(90_000 + n, 700 + n, author, BASE + n);
        processor
            .process(
                Delivery::new(
                    format!("i{n}"),
                    "issues",
                    issue_payload("opened", &issue),
                    BASE + n,
                )
                .job(),
            )
            .await
            .unwrap();
    }
    // A is rebuilt (its row deleted); B's row is held by another session, so the batch
    // stops on it after writing A.
    sqlx::query(r#"DELETE FROM issues WHERE "githubId" = 90001"#)
        .execute(&db.pool)
        .await
        .unwrap();
    let mut holder = db.pool.begin().await.unwrap();
    sqlx::query(r#"SELECT 1 FROM issues WHERE "githubId" = 90002 FOR UPDATE"#)
        .execute(&mut *holder)
        .await
        .unwrap();
    let run = tokio::spawn({
        let processor = processor.clone();
        async move {
            processor
                .reprocess_events(ReprocessOptions::default(), None)
                .await
        }
    });
    while !waiting_lock(&db, "transactionid").await {
        tokio::task::yield_now().await;
    }

    let account = GithubAccount {
        id: Some(ann.id),
        ..Default::default()
    };
    let link = processor.link_github_user(&user, &account);
    tokio::pin!(link);
    let linked = loop {
        tokio::select! {
            linked = &mut link => break linked.unwrap(),
            waits = waiting_lock(&db, "advisory") => {
                if waits {
                    holder.rollback().await.unwrap();
                    panic!("the link waits for the reprocess batch's transaction");
                }
            }
        }
    };
    assert_eq!(linked.backfilled.issues, 0, "A is not committed yet");
    holder.rollback().await.unwrap();
    let report = run.await.unwrap().unwrap();
    assert_eq!((report.events, report.complete), (2, true));
    let authors: Vec<(i64, Option<String>)> =
        sqlx::query_as(r#"SELECT "githubId", "authorId" FROM issues ORDER BY "githubId""#)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(authors, [(90_001, Some(user.clone())), (90_002, None)]);
    processor.close().await;
}
