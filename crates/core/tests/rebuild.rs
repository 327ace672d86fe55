//! Two standing properties over random timelines (issue 22, "The invariant"):
//!
//! - **rebuild == live**: whatever happened live (deliveries of every tracked event type,
//!   links by GitHub id, login and email, users deleted and linked again, the repository
//!   deleted and registered again, duplicate deliveries, deliveries whose first attempt failed
//!   and which were redelivered later, NULs in values and in keys), deleting the entity rows
//!   and calling `reprocess_events` gives back every column of every row live left;
//! - **resumed == uninterrupted**: the same rebuild stopped at random points (`max_batches`,
//!   small batches) and started again until complete gives the same rows.
//!
//! **Adding an event type**: give it a renderer in [`EVENT_TYPES`] (a [`Draw`] to a payload)
//! and, if it writes a table of its own, an entry in [`ENTITY_TABLES`] (how to read every
//! column but row ids and write times). Both properties then cover it.
//!
//! `PROPTEST_CASES` sets the number of timelines per property (default 24).

mod common;
mod timeline;

use common::{push, TestDb};
use devmetrics_webhook_core::reprocess::ReprocessOptions;
use devmetrics_webhook_core::users::link::GithubAccount;
use devmetrics_webhook_core::{ErrorCode, Status, WebhookProcessor};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use timeline::{
    iso, issue_payload, pull_request_payload, review_payload, Account, Delivery, Issue, Pr, Review,
    BASE, REPO,
};

/// The people of every timeline: each has a GitHub account and a commit email.
const PEOPLE: [(Account, &str); 3] = [
    (Account::user(301, "ann"), "ann@home.example"),
    (Account::user(302, "bob"), "Bob@Home.example"),
    (Account::user(303, "cyd"), "cyd@home.example"),
];

/// What a delivery is drawn from: the entity (a small range, so entities get several
/// deliveries), a variant (the action, a review's state, which commits), and its time.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    pub entity: i64,
    pub variant: u8,
    pub at: i64,
    /// Put a `\u0000` into a text value (stripped, live and stored alike).
    pub nul_in_value: bool,
}

type Render = fn(&Draw) -> Vec<u8>;

/// Every tracked event type and how a draw becomes its payload. A new type joins here.
const EVENT_TYPES: &[(&str, Render)] = &[
    ("pull_request", pull_request),
    ("issues", issues),
    ("pull_request_review", pull_request_review),
    ("push", push_event),
    ("deployment", deployment),
    ("deployment_status", deployment_status),
    ("workflow_run", workflow_run),
    ("workflow_job", workflow_job),
    ("release", release),
];

/// Every table the event types write, and the query reading each row as JSON without what a
/// re-insert generates anew (row ids, creation times; a review names its pull request by
/// GitHub id). A new table joins here.
const ENTITY_TABLES: &[(&str, &str)] = &[
    (
        "pull_requests",
        r#"SELECT to_jsonb(t) - 'id' - 'createdAt' FROM pull_requests t ORDER BY "githubId""#,
    ),
    (
        "issues",
        r#"SELECT to_jsonb(t) - 'id' - 'createdAt' FROM issues t ORDER BY "githubId""#,
    ),
    (
        "pull_request_reviews",
        r#"SELECT to_jsonb(t) - 'id' - 'createdAt' - 'pullRequestId' || jsonb_build_object('pr', p."githubId")
           FROM pull_request_reviews t JOIN pull_requests p ON p.id = t."pullRequestId"
           ORDER BY t."githubId""#,
    ),
    (
        "commits",
        r#"SELECT to_jsonb(t) - 'id' - 'createdAt' FROM commits t ORDER BY "repoId", sha"#,
    ),
    // The delivery tables (docs/dora.md): their `createdAt` is GitHub's, so it is compared;
    // a status names its deployment by GitHub id.
    (
        "deployments",
        r#"SELECT to_jsonb(t) - 'id' FROM deployments t ORDER BY "githubId""#,
    ),
    (
        "deployment_statuses",
        r#"SELECT to_jsonb(t) - 'id' - 'deploymentId' || jsonb_build_object('deployment', d."githubId")
           FROM deployment_statuses t JOIN deployments d ON d.id = t."deploymentId"
           ORDER BY t."githubId""#,
    ),
    (
        "workflow_runs",
        r#"SELECT to_jsonb(t) - 'id' FROM workflow_runs t ORDER BY "githubId", "runAttempt""#,
    ),
    (
        "workflow_jobs",
        r#"SELECT to_jsonb(t) - 'id' FROM workflow_jobs t ORDER BY "githubId""#,
    ),
    (
        "releases",
        r#"SELECT to_jsonb(t) - 'id' FROM releases t ORDER BY "githubId""#,
    ),
];

fn person(n: i64) -> &'static (Account, &'static str) {
    &PEOPLE[n.rem_euclid(PEOPLE.len() as i64) as usize]
}

fn title(base: String, draw: &Draw) -> String {
    if draw.nul_in_value {
        format!("{base}\u{0}!")
    } else {
        base
    }
}

/// A pull request's state as of the draw: its author is fixed by the entity.
fn pr_at(entity: i64, variant: u8, at: i64, nul: bool) -> (Pr, &'static str) {
    let created = BASE + entity * 10_000;
    let mut pr = Pr::opened(
        50_000 + entity,
        100 + entity,
        person(entity).0.clone(),
        created,
    );
    pr.updated_at = at.max(created);
    pr.title = title(
        pr.title,
        &Draw {
            entity,
            variant,
            at,
            nul_in_value: nul,
        },
    );
    let action = match variant % 4 {
        0 => "opened",
        1 => "edited",
        2 => {
            pr.open = false;
            pr.closed_at = Some(pr.updated_at);
            "closed"
        }
        _ => "reopened",
    };
    (pr, action)
}

fn pull_request(d: &Draw) -> Vec<u8> {
    let (pr, action) = pr_at(d.entity % 3, d.variant, d.at, d.nul_in_value);
    pull_request_payload(action, &pr, d.variant.is_multiple_of(2))
}

fn issues(d: &Draw) -> Vec<u8> {
    let entity = d.entity % 3;
    let created = BASE + entity * 10_000 + 7;
    let mut issue = Issue::opened(
        60_000 + entity,
        500 + entity,
        person(entity + 1).0.clone(),
        created,
    );
    issue.title = title(issue.title, d);
    let at = d.at.max(created);
    let action = match d.variant % 4 {
        0 => {
            issue.updated_at = at;
            "opened"
        }
        1 => {
            issue.close(at, "completed");
            "closed"
        }
        2 => {
            issue.reopen(at);
            "reopened"
        }
        _ => {
            issue.updated_at = at;
            "deleted"
        }
    };
    issue_payload(action, &issue)
}

fn pull_request_review(d: &Draw) -> Vec<u8> {
    // A review's pull request, reviewer and submission time are fixed by its id.
    let id = d.entity % 5;
    let (pr, _) = pr_at(id % 3, 0, d.at, false);
    let submitted = BASE + (id % 3) * 10_000 + 50 + id;
    let dismissed = d.variant % 4 == 3;
    let review = Review {
        id: 1_000 + id,
        user: Some(person(id + 2).0.clone()),
        state: match (dismissed, id % 3) {
            (true, _) => "dismissed",
            (_, 0) => "approved",
            (_, 1) => "commented",
            _ => "changes_requested",
        },
        submitted_at: Some(submitted),
    };
    let action = if dismissed { "dismissed" } else { "submitted" };
    review_payload(action, &review, &pr, d.variant.is_multiple_of(2))
}

fn push_event(d: &Draw) -> Vec<u8> {
    // A commit's content (author included) is fixed by its number, as a sha fixes a commit.
    let first = (d.entity % 4) * 10 + i64::from(d.variant % 3);
    let commits = (first..first + 2)
        .map(|n| {
            let (account, email) = person(n);
            push::commit(
                n as u64 + 1,
                &iso(BASE + n * 60),
                account.login,
                email,
                (n % 3 != 0).then_some(account.login),
            )
        })
        .collect();
    push::payload(REPO, commits)
}

// ---- delivery events (payloads like tests/deployments.rs) -----------------------------

/// The sender every delivery event names (the NUL-in-key step goes beside it).
fn sender() -> Value {
    PEOPLE[0].0.json()
}

/// A deployment's own fields are fixed by its entity (0..3); its `updated_at` is the draw's.
fn deployment_json(entity: i64, d: &Draw) -> Value {
    let created = BASE + entity * 10_000 + 11;
    let env = ["production", "staging", "prod-eu"][entity as usize];
    json!({
        "id": 9_000 + entity, "sha": format!("{:040x}", 9_000 + entity), "ref": "main",
        "task": "deploy", "environment": env, "original_environment": env,
        "description": title("ship it".into(), d),
        "creator": person(entity).0.json(), "created_at": iso(created),
        "updated_at": iso(d.at.max(created)), "payload": {},
        "production_environment": (entity == 0).then_some(true)
    })
}

fn deployment(d: &Draw) -> Vec<u8> {
    let payload = json!({"action": "created", "deployment": deployment_json(d.entity % 3, d),
                         "repository": {"id": REPO}, "sender": sender()});
    serde_json::to_vec(&payload).unwrap()
}

fn deployment_status(d: &Draw) -> Vec<u8> {
    // A status is fixed by its id: its deployment, state and time; it embeds the deployment
    // as of the draw (a status may arrive before its deployment).
    let entity = d.entity % 3;
    let n = i64::from(d.variant % 4);
    let created = BASE + entity * 10_000 + 100 + n * 10;
    let state = ["queued", "in_progress", "success", "failure"][n as usize];
    let env = ["production", "staging", "prod-eu"][entity as usize];
    let status = json!({
        "id": (9_000 + entity) * 100 + n,
        "state": state,
        "environment": env,
        "creator": person(entity).0.json(), "created_at": iso(created), "updated_at": iso(created),
        "description": title("step".into(), d), "log_url": "https://ci.example/log",
        "environment_url": null
    });
    let payload = json!({"action": "created", "deployment_status": status,
                         "deployment": deployment_json(entity, d),
                         "repository": {"id": REPO}, "sender": sender()});
    serde_json::to_vec(&payload).unwrap()
}

fn workflow_run(d: &Draw) -> Vec<u8> {
    // Runs 0..2, attempts 1..2; the status from the variant, never from the action.
    let entity = d.entity % 2;
    let attempt = 1 + i64::from(d.variant % 2);
    let created = BASE + entity * 10_000 + 20 + attempt;
    let (status, conclusion) = match (d.variant / 2) % 4 {
        0 => ("requested", None),
        1 => ("queued", None),
        2 => ("in_progress", None),
        _ => (
            "completed",
            Some(if attempt == 1 { "failure" } else { "success" }),
        ),
    };
    let actions = ["requested", "in_progress", "completed"];
    let run = json!({
        "id": 70_000 + entity, "run_attempt": attempt, "workflow_id": 77,
        "name": title("CI".into(), d), "path": ".github/workflows/ci.yml", "event": "push",
        "head_sha": format!("{:040x}", 9_000 + entity), "head_branch": "main", "status": status,
        "conclusion": conclusion, "run_number": 12 + entity, "actor": person(entity + 1).0.json(),
        "created_at": iso(created), "run_started_at": iso(created),
        "updated_at": iso(d.at.max(created)), "pull_requests": [{"number": 100 + entity}]
    });
    let action = actions[usize::from(d.variant / 8) % 3];
    let payload = json!({"action": action, "workflow_run": run,
                         "repository": {"id": REPO}, "sender": sender()});
    serde_json::to_vec(&payload).unwrap()
}

fn workflow_job(d: &Draw) -> Vec<u8> {
    // Jobs 0..3 of run 0 or 1: queued (naming its environment) → in_progress → completed.
    let entity = d.entity % 3;
    let started = BASE + entity * 10_000 + 30;
    let (status, completed, conclusion) = match d.variant % 3 {
        0 => ("queued", None, None),
        1 => ("in_progress", None, None),
        _ => (
            "completed",
            Some(iso(d.at.max(started + 1))),
            Some("success"),
        ),
    };
    let job = json!({
        "id": 80_000 + entity, "run_id": 70_000 + entity % 2, "run_attempt": 1,
        "name": title("deploy".into(), d), "workflow_name": "CI",
        "head_sha": format!("{:040x}", 9_000 + entity % 2), "status": status,
        "conclusion": conclusion, "started_at": iso(started), "completed_at": completed
    });
    let mut payload = json!({"action": status, "workflow_job": job,
                             "repository": {"id": REPO}, "sender": sender()});
    if status == "queued" {
        payload["deployment"] = json!({"environment": "production"});
    }
    serde_json::to_vec(&payload).unwrap()
}

fn release(d: &Draw) -> Vec<u8> {
    // Releases 0..2: created (draft) → published → edited → deleted.
    let entity = d.entity % 2;
    let created = BASE + entity * 10_000 + 40;
    let published = d.at.max(created + 1);
    let (action, draft, published_at, name) = match d.variant % 4 {
        0 => ("created", true, None, "v1"),
        1 => ("published", false, Some(published), "v1"),
        2 => ("edited", false, Some(published), "v1 final"),
        _ => ("deleted", false, Some(published), "v1 final"),
    };
    let release = json!({
        "id": 90_000 + entity, "tag_name": format!("v1.{entity}"),
        "name": title(name.into(), d), "target_commitish": "main", "draft": draft,
        "prerelease": false, "author": person(entity + 2).0.json(),
        "created_at": iso(created), "published_at": published_at.map(iso)
    });
    let payload = json!({"action": action, "release": release,
                         "repository": {"id": REPO}, "sender": sender()});
    serde_json::to_vec(&payload).unwrap()
}

/// How a link names the person.
#[derive(Debug, Clone, Copy)]
enum LinkBy {
    Id,
    Login,
    Email,
}

#[derive(Debug, Clone)]
enum Step {
    Deliver {
        kind: usize,
        draw: Draw,
        /// The first attempt fails inside its transaction; redelivered later.
        fails_first: bool,
        /// A `\u0000` inside a key: refused live, so never stored.
        nul_in_key: bool,
    },
    /// An earlier delivery again (a duplicate).
    Redeliver(usize),
    /// The deliveries whose first attempt failed, redelivered now.
    RedeliverFailed,
    Link {
        person: usize,
        by: LinkBy,
    },
    /// The backend deletes the person's user.
    DeleteUser(usize),
    /// The backend deletes the repository and registers it again (a new row).
    ReRegisterRepository,
}

fn step() -> impl Strategy<Value = Step> {
    let draw = (0i64..6, any::<u8>(), 0i64..4, prop::bool::weighted(0.1)).prop_map(
        |(entity, variant, gap, nul_in_value)| Draw {
            entity,
            variant,
            at: gap,
            nul_in_value,
        },
    );
    prop_oneof![
        12 => (0..EVENT_TYPES.len(), draw, prop::bool::weighted(0.1), prop::bool::weighted(0.05))
            .prop_map(|(kind, draw, fails_first, nul_in_key)| Step::Deliver {
                kind,
                draw,
                fails_first,
                nul_in_key,
            }),
        1 => any::<usize>().prop_map(Step::Redeliver),
        1 => Just(Step::RedeliverFailed),
        3 => (0..PEOPLE.len(), prop_oneof![Just(LinkBy::Id), Just(LinkBy::Login), Just(LinkBy::Email)])
            .prop_map(|(person, by)| Step::Link { person, by }),
        1 => (0..PEOPLE.len()).prop_map(Step::DeleteUser),
        1 => Just(Step::ReRegisterRepository),
    ]
}

/// How a rebuild runs.
#[derive(Debug, Clone)]
enum Rebuild {
    Uninterrupted,
    /// Batches of `batch_size` events, and calls stopped after each of `stops` batches before
    /// a last call without a limit.
    Resumed {
        batch_size: u32,
        stops: Vec<u32>,
    },
}

/// Every entity row, by table.
async fn snapshot(db: &TestDb) -> Vec<(&'static str, Vec<Value>)> {
    let mut all = Vec::new();
    for (table, sql) in ENTITY_TABLES {
        let rows: Vec<Value> = sqlx::query_scalar(sql)
            .fetch_all(&db.pool)
            .await
            .expect("read the entity rows");
        all.push((*table, rows));
    }
    all
}

async fn delete_entity_rows(db: &TestDb) {
    // Children first (reviews name their pull request).
    for (table, _) in ENTITY_TABLES.iter().rev() {
        sqlx::raw_sql(&format!("DELETE FROM {table}"))
            .execute(&db.pool)
            .await
            .expect("delete the entity rows");
    }
}

/// A fresh start for the next timeline: no rows of any kind, the repository registered.
async fn reset(db: &TestDb) {
    sqlx::raw_sql(
        "DELETE FROM reprocess_runs; DELETE FROM events; DELETE FROM repositories; \
         DELETE FROM users; UPDATE refuse_flag SET refuse = false",
    )
    .execute(&db.pool)
    .await
    .expect("reset");
    db.insert_repository(REPO, None).await;
}

/// Triggers that make every entity insert fail while `refuse_flag.refuse` is set: a
/// delivery's attempt then fails inside its transaction, leaving a failure row.
async fn install_refusal(db: &TestDb) {
    let mut sql = String::from(
        "CREATE TABLE refuse_flag (refuse boolean NOT NULL); INSERT INTO refuse_flag VALUES (false);
         CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF (SELECT refuse FROM refuse_flag) THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;",
    );
    for (table, _) in ENTITY_TABLES {
        sql.push_str(&format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse();"
        ));
    }
    sqlx::raw_sql(&sql)
        .execute(&db.pool)
        .await
        .expect("install the refusal triggers");
}

async fn set_refusal(db: &TestDb, refuse: bool) {
    sqlx::query("UPDATE refuse_flag SET refuse = $1")
        .bind(refuse)
        .execute(&db.pool)
        .await
        .expect("set the refusal flag");
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

/// Runs the timeline live.
async fn live(
    db: &TestDb,
    processor: &WebhookProcessor,
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let mut t = BASE + 100_000;
    let mut delivered: Vec<Delivery> = Vec::new();
    let mut failed: Vec<Delivery> = Vec::new();
    let mut users: [Option<String>; PEOPLE.len()] = Default::default();
    let mut generation = 0;
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Deliver {
                kind,
                draw,
                fails_first,
                nul_in_key,
            } => {
                t += draw.at;
                let (event, render) = EVENT_TYPES[*kind];
                let draw = Draw { at: t, ..*draw };
                let mut payload = render(&draw);
                if *nul_in_key {
                    let text = String::from_utf8(payload).expect("JSON text");
                    payload = text
                        .replacen(r#""sender":"#, r#""sen\u0000der":null,"sender":"#, 1)
                        .into_bytes();
                }
                let delivery = Delivery::new(format!("d{n}"), event, payload, t);
                if *nul_in_key {
                    let err = processor
                        .process(delivery.job())
                        .await
                        .expect_err("a NUL inside a key is refused");
                    prop_assert_eq!(err.code(), ErrorCode::InvalidPayload);
                    continue;
                }
                if *fails_first {
                    set_refusal(db, true).await;
                    let first = processor.process(delivery.job()).await;
                    set_refusal(db, false).await;
                    // A delivery whose writes change nothing still fails: every entity
                    // statement inserts (or tries to).
                    prop_assert!(first.is_err(), "the refused attempt fails: {:?}", first);
                    failed.push(delivery);
                    continue;
                }
                let r = processor
                    .process(delivery.job())
                    .await
                    .map_err(|e| fail(format!("{event} d{n}: {e}")))?;
                prop_assert_eq!(r.status, Status::Processed);
                delivered.push(delivery);
            }
            Step::Redeliver(i) if !delivered.is_empty() => {
                t += 1;
                let again = &delivered[i % delivered.len()];
                let again = Delivery::new(again.id.clone(), again.event, again.payload.clone(), t);
                let r = processor
                    .process(again.job())
                    .await
                    .map_err(|e| fail(format!("redelivery {}: {e}", again.id)))?;
                prop_assert_eq!(r.status, Status::Duplicate);
            }
            Step::Redeliver(_) => {}
            Step::RedeliverFailed => {
                for d in failed.drain(..) {
                    t += 1;
                    let again = Delivery::new(d.id.clone(), d.event, d.payload.clone(), t);
                    processor
                        .process(again.job())
                        .await
                        .map_err(|e| fail(format!("redelivery {}: {e}", again.id)))?;
                    delivered.push(again);
                }
            }
            Step::Link { person, by } => {
                let (account, email) = &PEOPLE[*person];
                let user = match &users[*person] {
                    Some(user) => user.clone(),
                    None => {
                        generation += 1;
                        let user = db
                            .insert_user(&format!("u{generation}@corp.example"), None, None, &[])
                            .await;
                        users[*person] = Some(user.clone());
                        user
                    }
                };
                let link = match by {
                    LinkBy::Id => GithubAccount {
                        id: Some(account.id),
                        ..Default::default()
                    },
                    LinkBy::Login => GithubAccount {
                        login: Some(account.login.to_owned()),
                        ..Default::default()
                    },
                    LinkBy::Email => GithubAccount {
                        email: Some(email.to_string()),
                        ..Default::default()
                    },
                };
                processor
                    .link_github_user(&user, &link)
                    .await
                    .map_err(|e| fail(format!("link {person} by {by:?}: {e}")))?;
            }
            Step::DeleteUser(person) => {
                if let Some(user) = users[*person].take() {
                    sqlx::query("DELETE FROM users WHERE id = $1")
                        .bind(&user)
                        .execute(&db.pool)
                        .await
                        .expect("delete a user");
                }
            }
            Step::ReRegisterRepository => {
                sqlx::query(r#"DELETE FROM repositories WHERE "githubId" = $1"#)
                    .bind(REPO)
                    .execute(&db.pool)
                    .await
                    .expect("delete the repository");
                db.insert_repository(REPO, None).await;
            }
        }
    }
    // What is still waiting for its redelivery arrives now.
    for d in failed {
        t += 1;
        let again = Delivery::new(d.id.clone(), d.event, d.payload.clone(), t);
        processor
            .process(again.job())
            .await
            .map_err(|e| fail(format!("redelivery {}: {e}", again.id)))?;
    }
    Ok(())
}

async fn rebuild(processor: &WebhookProcessor, how: &Rebuild) -> Result<(), TestCaseError> {
    let report = match how {
        Rebuild::Uninterrupted => processor
            .reprocess_events(ReprocessOptions::default(), None)
            .await
            .map_err(|e| fail(format!("reprocess: {e}")))?,
        Rebuild::Resumed { batch_size, stops } => {
            for &max in stops {
                let options = ReprocessOptions {
                    batch_size: Some(*batch_size),
                    max_batches: Some(max),
                    ..Default::default()
                };
                processor
                    .reprocess_events(options, None)
                    .await
                    .map_err(|e| fail(format!("reprocess stopped after {max}: {e}")))?;
            }
            let options = ReprocessOptions {
                batch_size: Some(*batch_size),
                ..Default::default()
            };
            processor
                .reprocess_events(options, None)
                .await
                .map_err(|e| fail(format!("reprocess resumed: {e}")))?
        }
    };
    prop_assert!(report.complete);
    prop_assert_eq!(report.skipped, 0);
    Ok(())
}

fn check(rebuilds: impl Strategy<Value = Rebuild>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(async {
        let db = TestDb::migrated().await;
        install_refusal(&db).await;
        db
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 300,
        ..Config::default()
    });
    let strategy = (proptest::collection::vec(step(), 1..40), rebuilds);
    let outcome = runner.run(&strategy, |(steps, how)| {
        runtime.block_on(async {
            reset(&db).await;
            let processor = db.processor().await;
            let result = async {
                live(&db, &processor, &steps).await?;
                let mut expected = snapshot(&db).await;
                if let Rebuild::Resumed { .. } = how {
                    // What the uninterrupted rebuild gives (equal to live, by the other
                    // property) is what the resumed one must give.
                    delete_entity_rows(&db).await;
                    rebuild(&processor, &Rebuild::Uninterrupted).await?;
                    expected = snapshot(&db).await;
                }
                delete_entity_rows(&db).await;
                rebuild(&processor, &how).await?;
                let rebuilt = snapshot(&db).await;
                for ((table, expected), (_, rebuilt)) in expected.iter().zip(&rebuilt) {
                    prop_assert_eq!(rebuilt, expected, "table {} ({:?})", table, how);
                }
                Ok(())
            }
            .await;
            processor.close().await;
            result
        })
    });
    drop(runtime);
    if let Err(e) = outcome {
        panic!("{e}");
    }
    drop(db);
}

#[test]
fn a_rebuild_equals_live() {
    check(Just(Rebuild::Uninterrupted));
}

#[test]
fn a_resumed_rebuild_equals_an_uninterrupted_one() {
    check(
        (1u32..4, proptest::collection::vec(1u32..3, 1..4))
            .prop_map(|(batch_size, stops)| Rebuild::Resumed { batch_size, stops }),
    );
}
