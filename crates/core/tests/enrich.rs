//! GitHub API enrichment through `WebhookProcessor` into a real PostgreSQL: the follow-ups
//! a push leaves, commit line counts from a GraphQL answer, and a truncated push completed
//! from compare pages, each with what it must refuse.

mod common;

use common::push::{commit, payload, sha, simple_commit};
use common::{delivery, job, TestDb};
use devmetrics_webhook_core::{ErrorCode, FollowUpKind, MetricKind, Status};
use serde_json::{json, Value};

const REPO: i64 = 5151;

/// One commit's answer: (sha, Some((additions, deletions, changed files))), or None for a
/// commit GitHub cannot resolve.
type Answer = (String, Option<(i64, i64, Option<i64>)>);

/// A GraphQL answer of `entries`.
fn stats_answer(entries: &[Answer]) -> String {
    let mut repository = serde_json::Map::new();
    for (s, counts) in entries {
        let node = match counts {
            None => Value::Null,
            Some((a, d, f)) => {
                json!({ "oid": s, "additions": a, "deletions": d, "changedFilesIfAvailable": f })
            }
        };
        repository.insert(format!("c{s}"), node);
    }
    json!({ "data": { "repository": repository } }).to_string()
}

/// A compare item for commit `n` (as `GET /repos/{o}/{r}/compare/{basehead}` lists it).
fn compare_commit(n: u64, login: Option<&str>, email: &str) -> Value {
    json!({
        "sha": sha(n),
        "node_id": "C_x",
        "url": "https://api.github.com/repos/octo/repo/commits/x",
        "commit": {
            "message": format!("Commit {n}"),
            "author": { "name": "Some One", "email": email, "date": "2024-03-04T14:15:02Z" },
            "committer": { "name": "GitHub", "email": "noreply@github.com", "date": "2024-03-05T10:00:00Z" },
            "tree": { "sha": sha(n + 1_000_000), "url": "x" },
            "comment_count": 0
        },
        "author": login.map(|l| json!({ "login": l, "id": 99, "type": "User" })),
        "committer": null,
        "parents": []
    })
}

async fn stats_row(db: &TestDb, n: u64) -> (i32, i32, i32, bool, bool) {
    sqlx::query_as(
        r#"SELECT additions, deletions, "filesChanged", "statsFetchedAt" IS NOT NULL, "statsMissing"
           FROM commits WHERE sha = $1"#,
    )
    .bind(sha(n))
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_push_reports_its_commits_for_line_counts_and_a_redelivery_the_same_job() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let id = delivery();
    let body = payload(
        REPO,
        vec![simple_commit(3), simple_commit(1), simple_commit(2)],
    );
    let first = processor
        .process(job(&id, "push", body.clone()))
        .await
        .unwrap();
    assert_eq!(first.follow_ups.len(), 1);
    let f = &first.follow_ups[0];
    assert_eq!(f.kind, FollowUpKind::CommitStats);
    assert_eq!(f.job_id, format!("commitStats:{repo_id}:{id}"));
    assert_eq!(f.repository, "octo/repo");
    assert_eq!(f.shas, vec![sha(1), sha(2), sha(3)]);

    let again = processor.process(job(&id, "push", body)).await.unwrap();
    assert_eq!(again.status, Status::Duplicate);
    assert_eq!(
        again.follow_ups, first.follow_ups,
        "a redelivery re-derives the same job"
    );

    let tag = serde_json::to_vec(&json!({
        "ref": "refs/tags/v1", "before": sha(0), "after": sha(7), "commits": [], "head_commit": null,
        "repository": { "id": REPO, "full_name": "octo/repo" }
    }))
    .unwrap();
    let tag = processor
        .process(job(&delivery(), "push", tag))
        .await
        .unwrap();
    assert!(tag.follow_ups.is_empty(), "no commits, nothing to fetch");
}

#[tokio::test]
async fn a_push_of_2048_commits_is_completed_unless_it_opened_the_branch() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let commits: Vec<_> = (1..=2048).map(simple_commit).collect();
    let result = processor
        .process(job(&delivery(), "push", payload(REPO, commits.clone())))
        .await
        .unwrap();
    let kinds: Vec<_> = result.follow_ups.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [FollowUpKind::CompletePush],
        "one job for the range, counts included"
    );
    let complete = &result.follow_ups[0];
    assert_eq!(
        complete.shas.len(),
        2048,
        "the listed commits, for a range GitHub lost"
    );
    assert_eq!(complete.before.as_deref(), Some(sha(999_999_999).as_str()));
    assert_eq!(complete.after.as_deref(), Some(sha(2048).as_str()));
    assert_eq!(
        complete.job_id,
        format!("completePush:{repo_id}:{}:{}", sha(999_999_999), sha(2048))
    );
    assert_eq!(
        complete.forced,
        Some(false),
        "the payload's forced, carried"
    );

    // A forced push, and one whose payload lacks `forced`: the same job id (the id names the
    // range, not how it was pushed), `forced` as the payload says.
    for (forced, expected) in [(json!(true), Some(true)), (Value::Null, None)] {
        let mut body: Value = serde_json::from_slice(&payload(REPO, commits.clone())).unwrap();
        if forced.is_null() {
            body.as_object_mut().unwrap().remove("forced");
        } else {
            body["forced"] = forced;
        }
        let result = processor
            .process(job(&delivery(), "push", serde_json::to_vec(&body).unwrap()))
            .await
            .unwrap();
        assert_eq!(result.follow_ups.len(), 1);
        assert_eq!(result.follow_ups[0].forced, expected);
        assert_eq!(result.follow_ups[0].job_id, complete.job_id);
    }

    let mut new_branch: Value = serde_json::from_slice(&payload(REPO, commits)).unwrap();
    new_branch["before"] = json!("0".repeat(40));
    new_branch["created"] = json!(true);
    let result = processor
        .process(job(
            &delivery(),
            "push",
            serde_json::to_vec(&new_branch).unwrap(),
        ))
        .await
        .unwrap();
    let kinds: Vec<_> = result.follow_ups.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FollowUpKind::CommitStats], "no range to compare");
    assert_eq!(result.follow_ups[0].forced, None);
}

#[tokio::test]
async fn line_counts_land_in_one_batch_and_an_unresolvable_commit_is_marked() {
    let db = TestDb::migrated().await;
    let team = db.insert_team("core").await;
    let repo_id = db.insert_repository(REPO, None).await;
    let alice = db
        .insert_user("alice@example.com", Some("alice"), None, &[&team])
        .await;
    let processor = db.processor().await;
    let commits = vec![
        commit(
            1,
            "2024-03-04T10:00:00Z",
            "Alice",
            "alice@example.com",
            Some("alice"),
        ),
        commit(2, "2024-03-05T10:00:00Z", "Bob", "bob@example.com", None),
        simple_commit(3),
    ];
    processor
        .process(job(&delivery(), "push", payload(REPO, commits)))
        .await
        .unwrap();
    let all = vec![sha(1), sha(2), sha(3)];
    assert_eq!(
        processor
            .commits_lacking_stats(&repo_id, &all)
            .await
            .unwrap(),
        all
    );
    assert_eq!(
        stats_row(&db, 1).await,
        (0, 0, 4, false, false),
        "unknown, not zero"
    );

    let answer = stats_answer(&[
        (sha(1), Some((120, 7, Some(9)))),
        (sha(2), None),
        (sha(3), Some((0, 3, None))),
        (sha(4), Some((1, 1, Some(1)))),
    ]);
    let outcome = processor
        .apply_commit_stats(&repo_id, answer.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (outcome.updated, outcome.missing, outcome.unknown),
        (2, 1, 1)
    );
    assert_eq!(stats_row(&db, 1).await, (120, 7, 9, true, false));
    assert_eq!(
        stats_row(&db, 2).await,
        (0, 0, 4, true, true),
        "marked, counts untouched"
    );
    assert_eq!(
        stats_row(&db, 3).await,
        (0, 3, 4, true, false),
        "no changedFilesIfAvailable: the push's file count stands"
    );
    let jobs: Vec<_> = outcome
        .metric_jobs
        .iter()
        .map(|j| (j.kind, j.id.clone(), j.date.clone()))
        .collect();
    assert_eq!(
        jobs,
        [
            (MetricKind::Developer, alice, "2024-03-04".to_owned()),
            (MetricKind::Team, team, "2024-03-04".to_owned()),
        ]
    );
    // GitHub later loses a commit it answered before: its counts stay.
    let later = stats_answer(&[(sha(1), None)]);
    let outcome = processor
        .apply_commit_stats(&repo_id, later.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (outcome.updated, outcome.missing, outcome.unknown),
        (0, 0, 1)
    );
    assert_eq!(stats_row(&db, 1).await, (120, 7, 9, true, false));
    assert!(
        processor
            .commits_lacking_stats(&repo_id, &all)
            .await
            .unwrap()
            .is_empty(),
        "the unresolvable commit is not asked for again"
    );
}

#[tokio::test]
async fn an_answer_it_cannot_trust_is_invalid_payload_and_writes_nothing() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    processor
        .process(job(
            &delivery(),
            "push",
            payload(REPO, vec![simple_commit(1), simple_commit(2)]),
        ))
        .await
        .unwrap();
    let good = format!(
        r#""c{s}":{{"oid":"{s}","additions":1,"deletions":1}}"#,
        s = sha(1)
    );
    let bad = [
        format!(
            r#"{{"data":{{"repository":{{{good},"c{s}":{{"oid":"{s}","additions":-4,"deletions":1}}}}}}}}"#,
            s = sha(2)
        ),
        format!(r#"{{"data":{{"repository":{{{good}, "c{s}": "#, s = sha(2)),
        r#"{"data":{"repository":null},"errors":[{"type":"NOT_FOUND"}]}"#.to_owned(),
        format!(r#"{{"data":{{"repository":{{{good},"__typename":"Repository"}}}}}}"#),
    ];
    for body in bad {
        let err = processor
            .apply_commit_stats(&repo_id, body.as_bytes())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPayload, "{body}: {err}");
    }
    let fetched: i64 = sqlx::query_scalar(
        r#"SELECT count(*) FROM commits WHERE "statsFetchedAt" IS NOT NULL OR additions <> 0"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(fetched, 0);
    let err = processor
        .apply_commit_stats("no-such-repo", stats_answer(&[]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownRepository);
}

#[tokio::test]
async fn a_truncated_push_is_completed_from_compare_pages_once_each_with_the_push_mapping() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let someone = db
        .insert_user("someone@example.com", Some("someone"), None, &[])
        .await;
    let processor = db.processor().await;
    // GitHub listed 2048 of the range's 2100 commits (here the last 2048).
    let listed: Vec<_> = (53..=2100).map(simple_commit).collect();
    processor
        .process(job(&delivery(), "push", payload(REPO, listed)))
        .await
        .unwrap();
    assert_eq!(db.count("commits").await, 2048);

    let mut inserted = 0;
    let mut needing = Vec::new();
    for page in (1..=2100u64).collect::<Vec<_>>().chunks(250) {
        let commits: Vec<_> = page
            .iter()
            .map(|&n| {
                compare_commit(
                    n,
                    Some("someone"),
                    "1234567+someone@users.noreply.github.com",
                )
            })
            .collect();
        let body =
            json!({ "status": "ahead", "total_commits": 2100, "commits": commits, "files": [] });
        let outcome = processor
            .complete_push(&repo_id, body.to_string().as_bytes())
            .await
            .unwrap();
        inserted += outcome.inserted;
        needing.extend(outcome.shas_needing_stats);
    }
    assert_eq!(inserted, 52);
    assert_eq!(
        needing.len(),
        2100,
        "every commit of the range still lacks counts"
    );
    assert_eq!(db.count("commits").await, 2100);
    let (author, login, at): (Option<String>, Option<String>, chrono::NaiveDateTime) =
        sqlx::query_as(
            r#"SELECT "authorId", "authorLogin", "committedAt" FROM commits WHERE sha = $1"#,
        )
        .bind(sha(1))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        author.as_deref(),
        Some(someone.as_str()),
        "mapped by login like a push"
    );
    assert_eq!(login.as_deref(), Some("someone"));
    assert_eq!(at.to_string(), "2024-03-04 14:15:02", "the author date");

    // A page again (a retried job), as the bare `commits` array: nothing new.
    let page: Vec<_> = (1..=10)
        .map(|n| compare_commit(n, None, "x@example.com"))
        .collect();
    let again = processor
        .complete_push(&repo_id, Value::Array(page).to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(again.shas_needing_stats.len(), 10);
    assert_eq!(db.count("commits").await, 2100);
}

#[tokio::test]
async fn a_compare_page_it_cannot_read_is_invalid_payload_and_writes_nothing() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let good = compare_commit(1, None, "a@example.com");
    let mut bad_sha = compare_commit(2, None, "a@example.com");
    bad_sha["sha"] = json!("not-a-sha");
    let mut no_date = compare_commit(3, None, "a@example.com");
    no_date["commit"]["author"] = Value::Null;
    no_date["commit"]["committer"] = Value::Null;
    for body in [
        json!({ "commits": [good.clone(), bad_sha] }).to_string(),
        json!([good.clone(), no_date]).to_string(),
        json!({ "message": "Not Found" }).to_string(),
        "[{\"sha\":".to_owned(),
    ] {
        let err = processor
            .complete_push(&repo_id, body.as_bytes())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPayload, "{body}: {err}");
    }
    assert_eq!(db.count("commits").await, 0);
}
