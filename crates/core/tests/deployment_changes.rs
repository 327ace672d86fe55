//! What each production deployment shipped, on the store side (`enrich::deployment_changes`,
//! through `WebhookProcessor`), into a real PostgreSQL: the previous deployment found when the
//! job starts, compare pages written once whatever the repetition, a different base deleting
//! and recomputing, a rollback, and the later deployments a late one makes stale.

mod common;

use common::push::sha;
use common::{new_id, TestDb};
use devmetrics_webhook_core::{ErrorCode, WebhookProcessor};
use serde_json::{json, Value};

const REPO: i64 = 6262;

/// A compare page: `status` and commits `ns` (author date = 2026-03-01 + n hours).
fn page(status: &str, ns: &[u64]) -> String {
    let commits: Vec<Value> = ns
        .iter()
        .map(|n| {
            let date = format!("2026-03-01T{:02}:00:00Z", n % 24);
            json!({
                "sha": sha(*n),
                "commit": {
                    "message": format!("Commit {n}"),
                    "author": { "name": "Dev", "email": "dev@example.test", "date": date },
                    "committer": { "name": "Dev", "email": "dev@example.test", "date": date }
                },
                "author": null,
                "parents": []
            })
        })
        .collect();
    json!({ "status": status, "ahead_by": ns.len(), "behind_by": 0, "total_commits": ns.len(), "commits": commits })
        .to_string()
}

async fn deployment(
    db: &TestDb,
    repo_id: &str,
    github_id: i64,
    sha: &str,
    first_success: Option<&str>,
) {
    sqlx::query(
        r#"INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment",
                                   "isProduction", "createdAt", "updatedAt", "firstSuccessAt")
           VALUES ($1, $2, $3, $4, 'main', 'deploy', 'production', 'production', true,
                   '2026-03-01', '2026-03-01', $5::timestamp)"#,
    )
    .bind(new_id())
    .bind(repo_id)
    .bind(github_id)
    .bind(sha)
    .bind(first_success)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn changes(db: &TestDb, github_id: i64) -> Vec<String> {
    sqlx::query_scalar(
        r#"SELECT c."commitSha" FROM deployment_changes c JOIN deployments d ON d.id = c."deploymentId"
           WHERE d."githubId" = $1 ORDER BY c."commitSha""#,
    )
    .bind(github_id)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// One whole run of the job for a deployment, with `pages` as GitHub's answer; returns the
/// stale later deployments.
async fn run(p: &WebhookProcessor, repo_id: &str, id: i64, pages: &[String]) -> Vec<i64> {
    let start = p
        .deployment_changes_start(repo_id, id)
        .await
        .unwrap()
        .unwrap();
    assert!(start.eligible);
    if start.complete {
        return Vec::new();
    }
    let mut behind = false;
    if let Some(base) = start.base_sha.as_deref() {
        for text in pages {
            let written = p
                .apply_deployment_changes(repo_id, id, base, text.as_bytes())
                .await
                .unwrap();
            assert!(written.current);
            behind = written.status == "behind";
        }
    }
    let (marked, stale) = p
        .finish_deployment_changes(repo_id, id, start.base_sha.as_deref(), behind)
        .await
        .unwrap();
    assert!(marked);
    stale.into_iter().map(|s| s.github_id).collect()
}

#[tokio::test]
async fn pages_written_twice_change_nothing_and_a_complete_deployment_is_not_asked_again() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let p = db.processor().await;
    deployment(&db, &repo_id, 1, &sha(10), Some("2026-03-01 10:00")).await;
    deployment(&db, &repo_id, 2, &sha(13), Some("2026-03-02 10:00")).await;

    let first = p
        .deployment_changes_start(&repo_id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.base_sha, None); // the first production deployment: no predecessor
    run(&p, &repo_id, 1, &[]).await;
    assert!(changes(&db, 1).await.is_empty());

    let start = p
        .deployment_changes_start(&repo_id, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.base_sha.as_deref(), Some(sha(10).as_str()));
    assert_eq!(start.base_github_id, Some(1));
    let text = page("ahead", &[11, 12, 13]);
    let once = p
        .apply_deployment_changes(&repo_id, 2, &sha(10), text.as_bytes())
        .await
        .unwrap();
    assert_eq!((once.changes, once.commits.inserted), (3, 3));
    let twice = p
        .apply_deployment_changes(&repo_id, 2, &sha(10), text.as_bytes())
        .await
        .unwrap();
    assert_eq!((twice.changes, twice.commits.inserted), (0, 0));
    p.finish_deployment_changes(&repo_id, 2, Some(&sha(10)), false)
        .await
        .unwrap();
    assert_eq!(changes(&db, 2).await, vec![sha(11), sha(12), sha(13)]);

    let again = p
        .deployment_changes_start(&repo_id, 2)
        .await
        .unwrap()
        .unwrap();
    assert!(again.complete && !again.reset);
    // A page of a run that is over writes nothing.
    let late = p
        .apply_deployment_changes(&repo_id, 2, &sha(10), page("ahead", &[14]).as_bytes())
        .await
        .unwrap();
    assert!(!late.current);
    assert_eq!(changes(&db, 2).await, vec![sha(11), sha(12), sha(13)]);
    assert_eq!(
        p.deployments_lacking_changes(&repo_id).await.unwrap(),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn a_late_predecessor_makes_the_next_deployment_stale_and_its_rows_are_recomputed() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let p = db.processor().await;
    deployment(&db, &repo_id, 1, &sha(10), Some("2026-03-01 10:00")).await;
    deployment(&db, &repo_id, 3, &sha(30), Some("2026-03-03 10:00")).await;
    run(&p, &repo_id, 1, &[]).await;
    run(&p, &repo_id, 3, &[page("ahead", &[20, 21, 30])]).await;

    deployment(&db, &repo_id, 2, &sha(21), Some("2026-03-02 10:00")).await;
    let stale = run(&p, &repo_id, 2, &[page("ahead", &[20, 21])]).await;
    assert_eq!(stale, vec![3]);
    let again = p
        .deployment_changes_start(&repo_id, 3)
        .await
        .unwrap()
        .unwrap();
    assert!(again.reset && !again.complete);
    assert!(changes(&db, 3).await.is_empty()); // the old base's rows are gone
    run(&p, &repo_id, 3, &[page("ahead", &[30])]).await;
    assert_eq!(changes(&db, 3).await, vec![sha(30)]);
    assert_eq!(changes(&db, 2).await, vec![sha(20), sha(21)]);
}

#[tokio::test]
async fn a_rollback_keeps_no_rows_and_is_marked_and_bad_pages_write_nothing() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let p = db.processor().await;
    deployment(&db, &repo_id, 1, &sha(10), Some("2026-03-01 10:00")).await;
    deployment(&db, &repo_id, 2, &sha(12), Some("2026-03-02 10:00")).await;
    deployment(&db, &repo_id, 3, &sha(10), Some("2026-03-03 10:00")).await;
    run(&p, &repo_id, 1, &[]).await;
    run(&p, &repo_id, 2, &[page("ahead", &[11, 12])]).await;
    let start = p
        .deployment_changes_start(&repo_id, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.base_sha.as_deref(), Some(sha(12).as_str()));
    for bad in [
        "{\"commits\": []}",
        "{\"status\": \"sideways\", \"commits\": []}",
        "[1",
    ] {
        let err = p
            .apply_deployment_changes(&repo_id, 3, &sha(12), bad.as_bytes())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPayload, "{bad}");
    }
    run(&p, &repo_id, 3, &[page("behind", &[])]).await;
    let rollback: (bool, bool) = sqlx::query_as(
        r#"SELECT "isRollback", "changesCompletedAt" IS NOT NULL FROM deployments WHERE "githubId" = 3"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(rollback, (true, true));
    assert!(changes(&db, 3).await.is_empty());
    // A deployment that never succeeded is no predecessor and has nothing to record.
    deployment(&db, &repo_id, 4, &sha(40), None).await;
    let never = p
        .deployment_changes_start(&repo_id, 4)
        .await
        .unwrap()
        .unwrap();
    assert!(!never.eligible);
    assert!(p
        .deployment_changes_start(&repo_id, 99)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_finish_after_a_late_predecessor_landed_marks_nothing_and_names_itself_and_a_complete_finish_names_the_stale_again(
) {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let p = db.processor().await;
    deployment(&db, &repo_id, 1, &sha(10), Some("2026-03-01 10:00")).await;
    deployment(&db, &repo_id, 3, &sha(30), Some("2026-03-03 10:00")).await;
    run(&p, &repo_id, 1, &[]).await;

    // 3's job chose 1 as its base and wrote a page; then 2's success landed and 2's job ran.
    let start = p
        .deployment_changes_start(&repo_id, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.base_sha, Some(sha(10)));
    p.apply_deployment_changes(
        &repo_id,
        3,
        &sha(10),
        page("ahead", &[20, 21, 30]).as_bytes(),
    )
    .await
    .unwrap();
    deployment(&db, &repo_id, 2, &sha(21), Some("2026-03-02 10:00")).await;
    assert_eq!(
        run(&p, &repo_id, 2, &[page("ahead", &[20, 21])]).await,
        Vec::<i64>::new()
    );
    let (marked, stale) = p
        .finish_deployment_changes(&repo_id, 3, Some(&sha(10)), false)
        .await
        .unwrap();
    assert!(!marked);
    assert_eq!(
        stale
            .iter()
            .map(|s| (s.github_id, s.base_sha.clone()))
            .collect::<Vec<_>>(),
        vec![(3, Some(sha(21)))]
    );
    run(&p, &repo_id, 3, &[page("ahead", &[30])]).await;
    assert_eq!(changes(&db, 3).await, vec![sha(30)]);

    // 2 complete; 3 made stale behind its back (its base rewritten to 1's): finishing 2 again
    // marks nothing new and names 3.
    sqlx::query(r#"UPDATE deployments SET "changesBaseSha" = $1 WHERE "githubId" = 3"#)
        .bind(sha(10))
        .execute(&db.pool)
        .await
        .unwrap();
    let (marked, stale) = p
        .finish_deployment_changes(&repo_id, 2, Some(&sha(10)), false)
        .await
        .unwrap();
    assert!(marked);
    assert_eq!(
        stale.iter().map(|s| s.github_id).collect::<Vec<_>>(),
        vec![3]
    );
    assert_eq!(changes(&db, 2).await, vec![sha(20), sha(21)]);
}
