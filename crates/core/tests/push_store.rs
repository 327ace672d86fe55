//! The push processor through `WebhookProcessor::process` into a real PostgreSQL: bulk
//! commits, dedupe, tag pushes and branch deletes, NUL characters, author mapping and
//! metric jobs.

mod common;

use chrono::NaiveDateTime;
use common::push::{commit, payload, sha, simple_commit};
use common::{delivery, job, TestDb};
use devmetrics_webhook_core::{MetricKind, Status};
use serde_json::json;

const REPO: i64 = 4242;

fn utc(s: &str) -> NaiveDateTime {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().naive_utc()
}

#[tokio::test]
async fn a_2048_commit_push_lands_as_2048_rows_in_one_call() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let processor = db.processor().await;

    let commits: Vec<_> = (1..=2048).map(simple_commit).collect();
    let body = payload(REPO, commits);
    assert!(
        body.len() > 1_250_000,
        "a maximum push is about 1.3 MB, this one is {} bytes",
        body.len()
    );
    let result = processor
        .process(job(&delivery(), "push", body))
        .await
        .unwrap();
    assert_eq!(result.status, Status::Processed);
    assert_eq!(result.records.commits, 2048);
    assert_eq!(result.repo_id.as_deref(), Some(repo_id.as_str()));

    let (rows, distinct, repos, files): (i64, i64, i64, i64) = sqlx::query_as(
        r#"SELECT count(*), count(DISTINCT sha), count(DISTINCT "repoId"), sum("filesChanged")::int8
           FROM commits"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((rows, distinct, repos), (2048, 2048, 1));
    assert_eq!(
        files,
        2048 * 4,
        "one added + three modified files per commit"
    );
    assert_eq!(db.count("events").await, 1);
    let last: (String, String) = sqlx::query_as("SELECT sha, message FROM commits WHERE sha = $1")
        .bind(sha(2048))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        last.1,
        "Commit 2048: change the widget\n\nLonger description of change 2048, and why it was needed."
    );
}

#[tokio::test]
async fn commits_dedupe_on_repo_and_sha_across_pushes_and_within_one() {
    let db = TestDb::migrated().await;
    let repo_id = db.insert_repository(REPO, None).await;
    let fork_id = db.insert_repository(REPO + 1, None).await;
    let processor = db.processor().await;

    let first = processor
        .process(job(
            &delivery(),
            "push",
            payload(REPO, vec![simple_commit(1), simple_commit(2)]),
        ))
        .await
        .unwrap();
    assert_eq!(first.records.commits, 2);

    // Commit 2 again (with another message: the first row stays), commit 3 twice in one push.
    let mut again = simple_commit(2);
    again["message"] = json!("rewritten");
    let second = processor
        .process(job(
            &delivery(),
            "push",
            payload(REPO, vec![again, simple_commit(3), simple_commit(3)]),
        ))
        .await
        .unwrap();
    assert_eq!(second.status, Status::Processed);
    assert_eq!(second.records.commits, 1, "only commit 3 is new");

    // The same SHA in a fork is another row.
    let fork = processor
        .process(job(
            &delivery(),
            "push",
            payload(REPO + 1, vec![simple_commit(1)]),
        ))
        .await
        .unwrap();
    assert_eq!(fork.records.commits, 1);

    let rows: Vec<(String, String, String)> = sqlx::query_as(
        r#"SELECT "repoId", sha, message FROM commits ORDER BY "repoId" = $1 DESC, sha"#,
    )
    .bind(&repo_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let msg = |n: u64| {
        format!("Commit {n}: change the widget\n\nLonger description of change {n}, and why it was needed.")
    };
    assert_eq!(
        rows,
        [
            (repo_id.clone(), sha(1), msg(1)),
            (repo_id.clone(), sha(2), msg(2)),
            (repo_id.clone(), sha(3), msg(3)),
            (fork_id, sha(1), msg(1)),
        ]
    );
    assert_eq!(db.count("events").await, 3);
}

#[tokio::test]
async fn tag_pushes_and_branch_deletes_are_processed_with_no_commits() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;

    let tag = json!({
        "ref": "refs/tags/v1.0.0", "before": sha(0), "after": sha(7),
        "created": true, "deleted": false, "forced": false, "base_ref": "refs/heads/main",
        "commits": [], "head_commit": simple_commit(7),
        "repository": { "id": REPO }, "sender": { "login": "octocat", "id": 1, "type": "User" }
    });
    let delete = json!({
        "ref": "refs/heads/feature", "before": sha(8), "after": "0".repeat(40),
        "created": false, "deleted": true, "forced": false, "base_ref": null,
        "commits": [], "head_commit": null,
        "repository": { "id": REPO }, "sender": { "login": "octocat", "id": 1, "type": "User" }
    });
    for body in [tag, delete] {
        let d = delivery();
        let result = processor
            .process(job(&d, "push", serde_json::to_vec(&body).unwrap()))
            .await
            .unwrap();
        assert_eq!(result.status, Status::Processed, "{}", body["ref"]);
        assert_eq!(result.records.commits, 0);
        assert!(result.metric_jobs.is_empty());
        assert!(result.unmapped_users.is_empty());
        let processed: bool =
            sqlx::query_scalar(r#"SELECT processed FROM events WHERE "deliveryId" = $1"#)
                .bind(&d)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert!(processed);
    }
    assert_eq!(db.count("commits").await, 0);
}

#[tokio::test]
async fn nul_characters_are_stripped_from_text_and_payload_and_stored() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let mona = db
        .insert_user("mona@corp.example", Some("octocat"), None, &[])
        .await;
    let processor = db.processor().await;

    let mut c = commit(
        1,
        "2024-03-04T15:15:02+01:00",
        "Mo\u{0}na",
        "mona@exam\u{0}ple.com",
        Some("octo\u{0}cat"),
    );
    c["message"] = json!("fix\u{0}: the \u{0}bug");
    let body = payload(REPO, vec![c]);
    assert!(
        std::str::from_utf8(&body).unwrap().contains("\\u0000"),
        "serde_json escapes NUL as \\u0000, as GitHub does"
    );
    let d = delivery();
    let result = processor.process(job(&d, "push", body)).await.unwrap();
    assert_eq!(result.status, Status::Processed);
    assert_eq!(result.records.commits, 1);

    let row: (String, String, String, Option<String>, Option<String>) = sqlx::query_as(
        r#"SELECT message, "authorName", "authorEmail", "authorLogin", "authorId" FROM commits"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            "fix: the bug".into(),
            "Mona".into(),
            "mona@example.com".into(),
            Some("octocat".into()),
            Some(mona), // the cleaned login maps
        )
    );
    let (message, has_escape): (String, bool) = sqlx::query_as(
        r#"SELECT payload->'commits'->0->>'message', position('\u0000' in payload::text) > 0
           FROM events WHERE "deliveryId" = $1"#,
    )
    .bind(&d)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(message, "fix: the bug");
    assert!(!has_escape);
}

#[tokio::test]
async fn authors_map_by_username_case_insensitively_then_by_email() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let mona = db
        .insert_user("mona@corp.example", Some("OctoCat"), Some(583231), &[])
        .await;
    let hubot = db.insert_user("Hubot@Example.com", None, None, &[]).await;
    let carol = db
        .insert_user("carol@corp.example", Some("carol"), None, &[])
        .await;
    let processor = db.processor().await;

    let t = "2024-03-04T10:00:00Z";
    let commits = vec![
        // username matches githubLogin, whatever the case
        commit(1, t, "Mona", "mona@personal.example", Some("octocat")),
        // no username: the email matches, whatever the case
        commit(2, t, "Hubot", "hubot@EXAMPLE.com", None),
        // an unknown username falls back to the email
        commit(3, t, "Carol", "CAROL@corp.example", Some("carol-old-login")),
        // the username wins over an email that maps to someone else
        commit(4, t, "Mona", "carol@corp.example", Some("OCTOCAT")),
        // unmapped: listed by login, or by email when there is none
        commit(5, t, "Stranger", "stranger@example.com", Some("stranger")),
        commit(6, t, "Nobody", "nobody@example.com", None),
        // bots are flagged and not listed as unmapped people
        commit(
            7,
            t,
            "dependabot[bot]",
            "49699333+dependabot[bot]@users.noreply.github.com",
            Some("dependabot[bot]"),
        ),
    ];
    let result = processor
        .process(job(&delivery(), "push", payload(REPO, commits)))
        .await
        .unwrap();
    assert_eq!(result.records.commits, 7);
    assert_eq!(
        result.unmapped_users,
        ["nobody@example.com", "stranger"],
        "sorted, bots left out"
    );

    let rows: Vec<(String, Option<String>, bool)> =
        sqlx::query_as(r#"SELECT sha, "authorId", "authorIsBot" FROM commits ORDER BY sha"#)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (sha(1), Some(mona.clone()), false),
            (sha(2), Some(hubot.clone()), false),
            (sha(3), Some(carol.clone()), false),
            (sha(4), Some(mona.clone()), false),
            (sha(5), None, false),
            (sha(6), None, false),
            (sha(7), None, true),
        ]
    );
    let developers: Vec<&str> = result
        .metric_jobs
        .iter()
        .filter(|j| j.kind == MetricKind::Developer)
        .map(|j| j.id.as_str())
        .collect();
    let mut expected = vec![mona.as_str(), hubot.as_str(), carol.as_str()];
    expected.sort();
    assert_eq!(developers, expected);
}

#[tokio::test]
async fn metric_jobs_per_user_and_team_and_utc_date() {
    let db = TestDb::migrated().await;
    let repo_team = db.insert_team("Repo team").await;
    let t2 = db.insert_team("Platform").await;
    let t3 = db.insert_team("Guild").await;
    db.insert_repository(REPO, Some(&repo_team)).await;
    let a = db
        .insert_user("a@corp.example", Some("alice"), None, &[&t2])
        .await;
    let b = db
        .insert_user("b@corp.example", Some("bob"), None, &[&t2, &t3])
        .await;
    let processor = db.processor().await;

    let commits = vec![
        // 2024-03-02 in UTC, 03-01 at the author's offset
        commit(1, "2024-03-01T23:30:00-02:00", "A", "a@x", Some("alice")),
        commit(2, "2024-03-02T08:00:00Z", "A", "a@x", Some("alice")),
        // 2024-03-02 in UTC, 03-03 at the author's offset
        commit(3, "2024-03-03T00:30:00+01:00", "B", "b@x", Some("bob")),
        // unmapped, another day: only the repository's team job
        commit(4, "2024-03-04T12:00:00Z", "C", "c@x", Some("carl")),
    ];
    let result = processor
        .process(job(&delivery(), "push", payload(REPO, commits)))
        .await
        .unwrap();

    let mut jobs: Vec<(String, String, String)> = result
        .metric_jobs
        .iter()
        .map(|j| (j.kind.as_str().to_owned(), j.id.clone(), j.date.clone()))
        .collect();
    jobs.sort();
    let job = |k: &str, id: &str, d: &str| (k.to_owned(), id.to_owned(), d.to_owned());
    let mut expected = vec![
        job("developer", &a, "2024-03-02"),
        job("developer", &b, "2024-03-02"),
        job("team", &repo_team, "2024-03-02"),
        job("team", &repo_team, "2024-03-04"),
        job("team", &t2, "2024-03-02"),
        job("team", &t3, "2024-03-02"),
    ];
    expected.sort();
    assert_eq!(jobs, expected, "one job per key, deduplicated");
    for j in &result.metric_jobs {
        let prefix = format!("{}:{}:{}:", j.kind.as_str(), j.id, j.date);
        let minute = j.job_id.strip_prefix(&prefix).expect("jobId prefix");
        assert!(minute.parse::<i64>().is_ok(), "{}", j.job_id);
    }

    // Stored times are the UTC instants.
    let at: NaiveDateTime =
        sqlx::query_scalar(r#"SELECT "committedAt" FROM commits WHERE sha = $1"#)
            .bind(sha(1))
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(at, utc("2024-03-02T01:30:00Z"));
}

#[tokio::test]
async fn the_jobs_repo_id_wins_over_the_payloads_repository() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let other = db.insert_repository(REPO + 7, None).await;
    let processor = db.processor().await;
    let mut j = job(&delivery(), "push", payload(REPO, vec![simple_commit(1)]));
    j.repo_id = Some(other.clone());
    let result = processor.process(j).await.unwrap();
    assert_eq!(result.repo_id.as_deref(), Some(other.as_str()));
    let repos: Vec<String> =
        sqlx::query_scalar(r#"SELECT "repoId" FROM commits UNION ALL SELECT "repoId" FROM events"#)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(repos, [other.clone(), other]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_sharing_commits_store_each_commit_once() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = std::sync::Arc::new(db.processor().await);

    // Eight deliveries (a branch push and its merges, say) share commits 1..=100, in
    // different orders, and each brings one commit of its own.
    const PUSHES: u64 = 8;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(PUSHES as usize));
    let tasks: Vec<_> = (0..PUSHES)
        .map(|i| {
            let mut commits: Vec<_> = (1..=100).map(simple_commit).collect();
            if i % 2 == 1 {
                commits.reverse();
            }
            commits.push(simple_commit(1000 + i));
            let j = job(&delivery(), "push", payload(REPO, commits));
            let (processor, start) = (processor.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                processor.process(j).await
            })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        let result = task.await.unwrap().expect("no push fails");
        assert_eq!(result.status, Status::Processed);
        inserted += result.records.commits;
    }
    assert_eq!(inserted, 100 + PUSHES as u32, "each commit counted once");
    assert_eq!(db.count("commits").await, 100 + PUSHES as i64);
    assert_eq!(db.count("events").await, PUSHES as i64);
}
