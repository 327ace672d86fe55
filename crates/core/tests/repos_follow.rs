//! Repositories follow GitHub (`follow`): installation events register and untrack
//! repositories, repository events keep the row current, an unknown repository under an
//! installation is registered by its own delivery, and every order of those deliveries (with
//! ordinary events between them) ends in the same rows.
//!
//! Payloads: every `installation`, `installation_repositories` and `repository` example of
//! `@octokit/webhooks-examples`; the package has none for `repository` archived, unarchived
//! and deleted, so those are its `privatized` example with the action and the flags GitHub
//! sets for them. The convergence property uses generated payloads (a coherent timeline).

mod common;

use common::{job, TestDb};
use devmetrics_webhook_core::{
    ErrorCode, FollowOptions, ProcessingResult, Status, WebhookJob, WebhookProcessor,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::path::PathBuf;

fn examples(event: &str) -> Vec<Value> {
    let index = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    let text = std::fs::read(&index).expect("webhooks-examples (run npm ci)");
    let groups: Vec<Value> = serde_json::from_slice(&text).unwrap();
    groups
        .into_iter()
        .find(|g| g["name"] == event)
        .map(|g| g["examples"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn example(event: &str, action: &str) -> Value {
    examples(event)
        .into_iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {event}.{action} example"))
}

async fn auto_processor(db: &TestDb) -> WebhookProcessor {
    let mut options = db.options();
    options.follow = FollowOptions {
        auto_register: true,
        owner_teams: [("codertocat".to_owned(), "Octo team".to_owned())].into(),
    };
    WebhookProcessor::connect(options).await.expect("connect")
}

fn received(job: WebhookJob, secs: i64) -> WebhookJob {
    WebhookJob {
        received_at: Some(
            chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0)
                .unwrap()
                .naive_utc(),
        ),
        ..job
    }
}

async fn send(p: &WebhookProcessor, event: &str, payload: &Value, at: i64) -> ProcessingResult {
    p.process(received(
        job(
            &common::delivery(),
            event,
            serde_json::to_vec(payload).unwrap(),
        ),
        at,
    ))
    .await
    .unwrap_or_else(|e| panic!("{event}: {e}"))
}

/// The followed columns of a repository, as one JSON object (null without a row).
async fn repo_row(db: &TestDb, github_id: i64) -> Value {
    sqlx::query_scalar::<_, Option<Value>>(
        r#"SELECT (SELECT to_jsonb(r) - 'id' - 'createdAt' - 'updatedAt' FROM
                     (SELECT r."githubId", r."fullName", r.owner, r.private, r."archivedAt", r."deletedAt",
                             r."trackingStoppedAt", r."suspendedAt", r."installationId", t.name AS team
                        FROM repositories r LEFT JOIN teams t ON t.id = r."teamId"
                       WHERE r."githubId" = $1) r)"#,
    )
    .bind(github_id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
    .unwrap_or(Value::Null)
}

#[tokio::test]
async fn every_installation_example_is_processed_and_registers_or_untracks_its_repositories() {
    let db = TestDb::migrated().await;
    db.insert_team("Octo team").await;
    let p = auto_processor(&db).await;

    // created: the listed repository is registered under the installation, in the team its
    // owner maps to.
    let created = example("installation", "created");
    let r = send(&p, "installation", &created, 0).await;
    assert_eq!(r.status, Status::Processed);
    let listed = &created["repositories"][0];
    let row = repo_row(&db, listed["id"].as_i64().unwrap()).await;
    assert_eq!(row["fullName"], listed["full_name"]);
    assert_eq!(row["installationId"], created["installation"]["id"]);
    assert_eq!(row["trackingStoppedAt"], Value::Null);
    assert_eq!(row["team"], "Octo team", "{row}");

    // installation_repositories added / removed (a removal of a tracked repository keeps it
    // and its data, stopped).
    for added in examples("installation_repositories")
        .iter()
        .filter(|e| e["action"] == "added")
    {
        assert_eq!(
            send(&p, "installation_repositories", added, 10)
                .await
                .status,
            Status::Processed
        );
        for repo in added["repositories_added"].as_array().unwrap() {
            let row = repo_row(&db, repo["id"].as_i64().unwrap()).await;
            assert_eq!(row["trackingStoppedAt"], Value::Null, "{row}");
            assert_eq!(row["installationId"], added["installation"]["id"]);
        }
    }
    let removed = example("installation_repositories", "removed");
    let gone = removed["repositories_removed"][0]["id"].as_i64().unwrap();
    // Register it first by hand, as a token setup would have.
    db.insert_repository(gone, None).await;
    assert_eq!(
        send(&p, "installation_repositories", &removed, 20)
            .await
            .status,
        Status::Processed
    );
    assert_ne!(repo_row(&db, gone).await["trackingStoppedAt"], Value::Null);

    // suspend / unsuspend pause and resume the installation's repositories.
    let suspend = example("installation", "suspend");
    let installation = suspend["installation"]["id"].as_i64().unwrap();
    let mut added = example("installation_repositories", "added");
    added["installation"]["id"] = json!(installation);
    added["repositories_added"][0]["id"] = json!(77);
    added["repositories_added"][0]["full_name"] = json!("octo/suspended");
    send(&p, "installation_repositories", &added, 30).await;
    send(&p, "installation", &suspend, 40).await;
    assert_ne!(repo_row(&db, 77).await["suspendedAt"], Value::Null);
    send(
        &p,
        "installation",
        &example("installation", "unsuspend"),
        50,
    )
    .await;
    assert_eq!(repo_row(&db, 77).await["suspendedAt"], Value::Null);
    // new_permissions_accepted changes no repository.
    let before = repo_row(&db, 77).await;
    let r = send(
        &p,
        "installation",
        &example("installation", "new_permissions_accepted"),
        55,
    )
    .await;
    assert_eq!(r.status, Status::Processed);
    assert_eq!(repo_row(&db, 77).await, before);

    // deleted (uninstalled): every repository of the installation stops being tracked,
    // including one the payload does not list.
    let mut deleted = example("installation", "deleted");
    deleted["installation"]["id"] = json!(installation);
    send(&p, "installation", &deleted, 60).await;
    let row = repo_row(&db, 77).await;
    assert_eq!(
        row["trackingStoppedAt"],
        json!("2023-11-14T22:14:20"),
        "{row}"
    );
    // Data kept: the row is still there.
    assert_eq!(row["fullName"], "octo/suspended");

    // Redelivered: a duplicate, nothing changes.
    let id = common::delivery();
    let job1 = received(
        job(&id, "installation", serde_json::to_vec(&deleted).unwrap()),
        70,
    );
    assert_eq!(
        p.process(job1.clone()).await.unwrap().status,
        Status::Processed
    );
    assert_eq!(p.process(job1).await.unwrap().status, Status::Duplicate);
    p.close().await;
}

/// `repository` payloads for every action: the examples, and archived / unarchived /
/// deleted made from the `privatized` example.
fn repository_payloads() -> Vec<(String, Value)> {
    let mut all: Vec<(String, Value)> = examples("repository")
        .into_iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e))
        .collect();
    let base = example("repository", "privatized");
    for (action, archived, at) in [
        ("archived", true, "2019-05-15T15:22:00Z"),
        ("unarchived", false, "2019-05-15T15:23:00Z"),
        ("deleted", false, "2019-05-15T15:24:00Z"),
    ] {
        let mut e = base.clone();
        e["action"] = json!(action);
        e["repository"]["archived"] = json!(archived);
        e["repository"]["updated_at"] = json!(at);
        all.push((action.to_owned(), e));
    }
    all
}

#[tokio::test]
async fn every_repository_action_is_followed_by_the_row_matched_on_its_github_id() {
    let db = TestDb::migrated().await;
    let p = db.processor().await;
    let payloads = repository_payloads();
    for action in [
        "renamed",
        "transferred",
        "archived",
        "unarchived",
        "privatized",
        "publicized",
        "deleted",
        "edited",
    ] {
        assert!(payloads.iter().any(|(a, _)| a == action), "{action}");
    }
    // Registered under an old name: the row follows the payload's name, by GitHub id.
    for id in [186853261_i64, 186853002] {
        db.insert_repository(id, None).await;
    }
    let mut at = 0;
    for (action, payload) in &payloads {
        if action == "deleted" {
            continue;
        }
        at += 1;
        let r = send(&p, "repository", payload, at).await;
        assert_eq!(r.status, Status::Processed, "{action}");
        assert!(r.repo_id.is_some(), "{action}");
    }
    let row = repo_row(&db, 186853261).await;
    assert_eq!(row["fullName"], "Octocoders/Hello-World");
    assert_eq!(row["owner"], "Octocoders");
    let row = repo_row(&db, 186853002).await;
    assert_eq!(row["fullName"], "Codertocat/Hello-World");
    // The newest payload (unarchived at 15:23) wins over the archived one.
    assert_eq!(row["archivedAt"], Value::Null, "{row}");
    assert_eq!(row["private"], json!(true));

    // archived, delivered alone to a fresh row, sets archivedAt.
    let (_, archived) = payloads.iter().find(|(a, _)| a == "archived").unwrap();
    let mut other = archived.clone();
    other["repository"]["id"] = json!(5);
    db.insert_repository(5, None).await;
    send(&p, "repository", &other, 100).await;
    assert_eq!(
        repo_row(&db, 5).await["archivedAt"],
        json!("2019-05-15T15:22:00")
    );

    // deleted is terminal: an older payload delivered later does not revive the row.
    let (_, deleted) = payloads.iter().find(|(a, _)| a == "deleted").unwrap();
    send(&p, "repository", deleted, 200).await;
    let (_, publicized) = payloads.iter().find(|(a, _)| a == "publicized").unwrap();
    send(&p, "repository", publicized, 300).await;
    let row = repo_row(&db, 186853002).await;
    assert_eq!(row["deletedAt"], json!("2023-11-14T22:16:40"), "{row}");
    p.close().await;
}

fn issue_payload(repo: i64, full_name: &str, installation: Option<i64>, issue: i64) -> Value {
    let mut e = example("issues", "opened");
    e["repository"]["id"] = json!(repo);
    e["repository"]["full_name"] = json!(full_name);
    e["issue"]["id"] = json!(issue);
    e["issue"]["number"] = json!(issue % 1000);
    match installation {
        Some(id) => e["installation"] = json!({ "id": id, "node_id": "MDIz" }),
        None => {
            e.as_object_mut().unwrap().remove("installation");
        }
    }
    e
}

#[tokio::test]
async fn an_unknown_repository_under_an_installation_is_registered_by_its_own_delivery() {
    let db = TestDb::migrated().await;
    let auto = auto_processor(&db).await;
    let plain = db.processor().await;

    // Without auto-registration, as before: UNKNOWN_REPOSITORY.
    let payload = issue_payload(900, "octocoders/new", Some(42), 9001);
    let err = plain
        .process(received(
            job(
                &common::delivery(),
                "issues",
                serde_json::to_vec(&payload).unwrap(),
            ),
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownRepository);

    let r = send(&auto, "issues", &payload, 0).await;
    assert_eq!(r.status, Status::Processed);
    assert_eq!(r.records.issues, 1);
    let row = repo_row(&db, 900).await;
    assert_eq!(row["installationId"], json!(42));
    assert_eq!(row["fullName"], "octocoders/new");

    // No installation in the payload (a repository hook): still UNKNOWN_REPOSITORY.
    let payload = issue_payload(901, "octocoders/other", None, 9002);
    let err = auto
        .process(job(
            &common::delivery(),
            "issues",
            serde_json::to_vec(&payload).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownRepository);
    auto.close().await;
    plain.close().await;
}

#[tokio::test]
async fn a_delivery_received_after_its_repository_was_removed_is_stored_as_ignored_with_a_reason() {
    let db = TestDb::migrated().await;
    let p = auto_processor(&db).await;
    send(
        &p,
        "installation_repositories",
        &membership(7, 500, "octo/gone", true),
        10,
    )
    .await;
    send(
        &p,
        "installation_repositories",
        &membership(7, 500, "octo/gone", false),
        20,
    )
    .await;

    // Received before the removal (processed late): processed, it happened while tracked.
    let r = send(
        &p,
        "issues",
        &issue_payload(500, "octo/gone", Some(7), 5001),
        15,
    )
    .await;
    assert_eq!(r.status, Status::Processed);
    // Received after: ignored, stored with the reason.
    let r = send(
        &p,
        "issues",
        &issue_payload(500, "octo/gone", Some(7), 5002),
        25,
    )
    .await;
    assert_eq!(r.status, Status::Ignored);
    let reason = r.reason.clone().expect("a reason");
    assert!(reason.contains("removed from tracking"), "{reason}");
    let stored: (bool, Option<String>) =
        sqlx::query_as(r#"SELECT processed, "ignoredReason" FROM events WHERE id = $1"#)
            .bind(r.event_id.unwrap())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(stored, (true, Some(reason)));
    assert_eq!(db.count("issues").await, 1);
    p.close().await;
}

fn membership(installation: i64, repo: i64, full_name: &str, added: bool) -> Value {
    let listed = json!([{ "id": repo, "node_id": "R", "name": full_name.split('/').nth(1).unwrap(),
                          "full_name": full_name, "private": false }]);
    json!({
        "action": if added { "added" } else { "removed" },
        "installation": { "id": installation, "account": { "login": "octo", "id": 1, "type": "Organization" },
                          "repository_selection": "selected" },
        "repository_selection": "selected",
        "repositories_added": if added { listed.clone() } else { json!([]) },
        "repositories_removed": if added { json!([]) } else { listed },
        "sender": { "login": "octo", "id": 1, "type": "User" }
    })
}

fn repository_event(
    action: &str,
    installation: i64,
    repo: i64,
    full_name: &str,
    updated_at: &str,
) -> Value {
    let mut e = example("repository", "renamed");
    e["action"] = json!(action);
    e["installation"] = json!({ "id": installation, "node_id": "I" });
    e["repository"]["id"] = json!(repo);
    e["repository"]["full_name"] = json!(full_name);
    e["repository"]["owner"]["login"] = json!(full_name.split('/').next().unwrap());
    e["repository"]["updated_at"] = json!(updated_at);
    e
}

/// One run's deliveries, for a repository and installation of its own (so many runs share
/// one database): added, renamed, an issue, transferred, a second issue, removed, and
/// optionally the repository deleted.
fn timeline(run: i64, deleted: bool) -> Vec<(&'static str, Value, i64)> {
    let inst = 10_000 + run;
    let repo = 20_000 + run;
    let mut t = vec![
        (
            "installation_repositories",
            membership(inst, repo, "octo/one", true),
            1,
        ),
        (
            "repository",
            repository_event("renamed", inst, repo, "octo/two", "2024-01-01T00:00:02Z"),
            2,
        ),
        (
            "issues",
            issue_payload(repo, "octo/two", Some(inst), repo * 10 + 1),
            3,
        ),
        (
            "repository",
            repository_event(
                "transferred",
                inst,
                repo,
                "other/two",
                "2024-01-01T00:00:04Z",
            ),
            4,
        ),
        (
            "issues",
            issue_payload(repo, "other/two", Some(inst), repo * 10 + 2),
            5,
        ),
        (
            "installation_repositories",
            membership(inst, repo, "other/two", false),
            6,
        ),
    ];
    if deleted {
        t.push((
            "repository",
            repository_event("deleted", inst, repo, "other/two", "2024-01-01T00:00:07Z"),
            7,
        ));
    }
    t
}

/// Everything a run's deliveries leave, with its own ids taken out.
async fn outcome(db: &TestDb, run: i64) -> Value {
    let repo = 20_000 + run;
    let mut row = repo_row(db, repo).await;
    row["githubId"] = Value::Null;
    row["installationId"] = json!(row["installationId"].as_i64().map(|i| i - run));
    let issues: Vec<(i64, String)> = sqlx::query_as(
        r#"SELECT i."githubId" - $1 * 10, i.title FROM issues i JOIN repositories r ON r.id = i."repoId"
            WHERE r."githubId" = $1 ORDER BY 1"#,
    )
    .bind(repo)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    json!({ "repository": row, "issues": issues.iter().map(|(n, t)| json!([n, t])).collect::<Vec<_>>() })
}

#[test]
fn any_order_of_membership_repository_and_ordinary_deliveries_ends_in_the_same_rows() {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (db, p) = runtime.block_on(async {
        let db = TestDb::migrated().await;
        let p = auto_processor(&db).await;
        (db, p)
    });
    let mut expected = [Value::Null, Value::Null];
    // The chronological order first: what the rows must be.
    for (slot, deleted) in [(0usize, false), (1, true)] {
        let run = slot as i64;
        runtime.block_on(async {
            for (event, payload, at) in timeline(run, deleted) {
                send(&p, event, &payload, at).await;
            }
            expected[slot] = outcome(&db, run).await;
        });
    }
    assert_eq!(expected[0]["repository"]["fullName"], "other/two");
    assert_eq!(expected[0]["repository"]["owner"], "other");
    assert_ne!(expected[0]["repository"]["trackingStoppedAt"], Value::Null);
    assert_eq!(expected[0]["issues"].as_array().unwrap().len(), 2);
    assert_ne!(expected[1]["repository"]["deletedAt"], Value::Null);

    let run = std::sync::atomic::AtomicI64::new(2);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let strategy = (
        any::<bool>(),
        Just((0..7usize).collect::<Vec<_>>()).prop_shuffle(),
    );
    runner
        .run(&strategy, |(deleted, order)| {
            let run = run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let deliveries = timeline(run, deleted);
            let got = runtime.block_on(async {
                for i in order.iter().filter(|&&i| i < deliveries.len()) {
                    let (event, payload, at) = &deliveries[*i];
                    send(&p, event, payload, *at).await;
                }
                outcome(&db, run).await
            });
            let want = &expected[usize::from(deleted)];
            if &got != want {
                return Err(TestCaseError::fail(format!(
                    "order {order:?}: {got} != {want}"
                )));
            }
            Ok(())
        })
        .unwrap();
    runtime.block_on(p.close());
}
