//! Deployment data from webhooks (docs/dora.md): `deployment`, `deployment_status`,
//! `workflow_run`, `workflow_job` and `release` deliveries become rows whose fields are the
//! payload's; bad input writes nothing; and a deployment with its statuses, a run with its
//! re-run, jobs and a release's life end in the same rows in every order, all at once, and
//! when rebuilt by `reprocess_events`.

mod common;
mod timeline;

use common::TestDb;
use devmetrics_webhook_core::reprocess::ReprocessOptions;
use devmetrics_webhook_core::{ErrorCode, WebhookJob, WebhookProcessor};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::sync::Arc;
use timeline::{iso, naive, Account, Delivery, BASE, REPO};

const TABLES: &str = "DELETE FROM deployment_statuses; DELETE FROM deployments; \
                      DELETE FROM workflow_jobs; DELETE FROM workflow_runs; DELETE FROM releases; \
                      DELETE FROM events";

fn job(id: &str, event: &str, payload: &Value) -> WebhookJob {
    WebhookJob {
        delivery_id: id.to_owned(),
        event: event.to_owned(),
        payload: serde_json::to_vec(payload).unwrap(),
        repo_id: None,
        received_at: Some(naive(BASE)),
    }
}

/// The JSON of a stored timestamp column (`to_jsonb` of a `timestamp(3)`) for a GitHub time.
fn ts(github: &Value) -> Value {
    match github.as_str() {
        None => Value::Null,
        Some(s) => {
            let t = chrono::DateTime::parse_from_rfc3339(s).unwrap().naive_utc();
            Value::String(t.format("%Y-%m-%dT%H:%M:%S").to_string())
        }
    }
}

async fn row(db: &TestDb, table: &str, github_id: i64) -> Value {
    sqlx::query_scalar(&format!(
        r#"SELECT to_jsonb(t) FROM {table} t WHERE "githubId" = $1 ORDER BY 1 LIMIT 1"#
    ))
    .bind(github_id)
    .fetch_one(&db.pool)
    .await
    .unwrap_or_else(|e| panic!("a {table} row {github_id}: {e}"))
}

fn examples() -> Vec<(String, Value)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/@octokit/webhooks-examples/api.github.com/index.json"
    );
    let all: Vec<Value> =
        serde_json::from_slice(&std::fs::read(path).expect("npm install has run")).unwrap();
    let mut out = Vec::new();
    for event in all {
        let name = event["name"].as_str().unwrap().to_owned();
        if [
            "deployment",
            "deployment_status",
            "workflow_run",
            "workflow_job",
            "release",
        ]
        .contains(&name.as_str())
        {
            for example in event["examples"].as_array().unwrap() {
                out.push((name.clone(), example.clone()));
            }
        }
    }
    out
}

/// The deployment row says what the payload's deployment says.
fn assert_deployment(row: &Value, d: &Value, status: Option<&Value>, run: Option<i64>) {
    assert_eq!(row["sha"], d["sha"]);
    assert_eq!(row["ref"], d["ref"]);
    assert_eq!(row["task"], d["task"]);
    assert_eq!(row["deploymentEnvironment"], d["environment"]);
    assert_eq!(
        &row["originalEnvironment"],
        if d["original_environment"].is_string() {
            &d["original_environment"]
        } else {
            &d["environment"]
        }
    );
    assert_eq!(
        row["productionEnvironment"],
        d.get("production_environment")
            .cloned()
            .unwrap_or(Value::Null)
    );
    assert_eq!(
        row["transientEnvironment"],
        d.get("transient_environment")
            .cloned()
            .unwrap_or(Value::Null)
    );
    assert_eq!(row["description"], d["description"]);
    assert_eq!(row["creatorGithubId"], d["creator"]["id"]);
    assert_eq!(row["creatorLogin"], d["creator"]["login"]);
    assert_eq!(row["creatorIsBot"], json!(d["creator"]["type"] == "Bot"));
    assert_eq!(row["createdAt"], ts(&d["created_at"]));
    assert_eq!(row["updatedAt"], ts(&d["updated_at"]));
    assert_eq!(row["workflowRunId"], run.map_or(Value::Null, Value::from));
    match status {
        None => {
            assert_eq!(row["state"], Value::Null);
            assert_eq!(row["environment"], d["environment"]);
            assert_eq!(row["finishedAt"], Value::Null);
        }
        Some(s) => {
            assert_eq!(row["state"], s["state"]);
            assert_eq!(row["environment"], s["environment"]);
            let success = s["state"] == "success";
            assert_eq!(
                row["firstSuccessAt"],
                if success {
                    ts(&s["created_at"])
                } else {
                    Value::Null
                }
            );
            assert_eq!(row["finishedAt"], row["firstSuccessAt"]);
        }
    }
    let env = row["environment"].as_str().unwrap().to_lowercase();
    let by_pattern = ["prod", "production", "live"].iter().any(|p| env == *p);
    match d.get("production_environment").and_then(Value::as_bool) {
        Some(flag) => {
            assert_eq!(row["isProduction"], json!(flag));
            assert_eq!(
                row["productionReason"],
                if flag {
                    json!("github_flag")
                } else {
                    Value::Null
                }
            );
        }
        None => {
            assert_eq!(row["isProduction"], json!(by_pattern));
            assert_eq!(
                row["productionReason"],
                if by_pattern {
                    json!("environment_pattern")
                } else {
                    Value::Null
                }
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_becomes_rows_with_the_payloads_fields() {
    let db = TestDb::migrated().await;
    let processor = db.processor().await;
    let mut repos = std::collections::HashSet::new();
    for (i, (event, p)) in examples().into_iter().enumerate() {
        sqlx::raw_sql(TABLES).execute(&db.pool).await.unwrap();
        let repo = p["repository"]["id"].as_i64().unwrap();
        if repos.insert(repo) {
            db.insert_repository(repo, None).await;
        }
        let result = processor
            .process(job(&format!("ex{i}"), &event, &p))
            .await
            .unwrap_or_else(|e| panic!("{event} example {i}: {e}"));
        let r = &result.records;
        let run_id = p["workflow_run"]["id"].as_i64();
        match event.as_str() {
            "deployment" => {
                assert_eq!(r.deployments, 1);
                let d = &p["deployment"];
                assert_deployment(
                    &row(&db, "deployments", d["id"].as_i64().unwrap()).await,
                    d,
                    None,
                    run_id,
                );
            }
            "deployment_status" => {
                assert_eq!((r.deployments, r.deployment_statuses), (1, 1));
                let (d, s) = (&p["deployment"], &p["deployment_status"]);
                assert_deployment(
                    &row(&db, "deployments", d["id"].as_i64().unwrap()).await,
                    d,
                    Some(s),
                    run_id,
                );
                let stored = row(&db, "deployment_statuses", s["id"].as_i64().unwrap()).await;
                assert_eq!(stored["state"], s["state"]);
                assert_eq!(stored["environment"], s["environment"]);
                let nonempty = |v: &Value| {
                    v.as_str()
                        .filter(|s| !s.is_empty())
                        .map_or(Value::Null, Value::from)
                };
                assert_eq!(stored["environmentUrl"], nonempty(&s["environment_url"]));
                let log = nonempty(&s["log_url"]);
                assert_eq!(
                    stored["logUrl"],
                    if log.is_null() {
                        nonempty(&s["target_url"])
                    } else {
                        log
                    }
                );
                assert_eq!(stored["description"], s["description"]);
                assert_eq!(stored["creatorLogin"], s["creator"]["login"]);
                assert_eq!(stored["createdAt"], ts(&s["created_at"]));
            }
            "workflow_run" => {
                assert_eq!(r.workflow_runs, 1);
                let w = &p["workflow_run"];
                let stored = row(&db, "workflow_runs", w["id"].as_i64().unwrap()).await;
                for (col, field) in [
                    ("runAttempt", "run_attempt"),
                    ("workflowId", "workflow_id"),
                    ("name", "name"),
                    ("event", "event"),
                    ("headSha", "head_sha"),
                    ("headBranch", "head_branch"),
                    ("status", "status"),
                    ("conclusion", "conclusion"),
                    ("runNumber", "run_number"),
                ] {
                    assert_eq!(stored[col], w[field], "{col}");
                }
                assert_eq!(
                    stored["path"],
                    w.get("path").cloned().unwrap_or(Value::Null)
                );
                assert_eq!(stored["actorGithubId"], w["actor"]["id"]);
                assert_eq!(stored["actorLogin"], w["actor"]["login"]);
                assert_eq!(stored["createdAt"], ts(&w["created_at"]));
                assert_eq!(stored["runStartedAt"], ts(&w["run_started_at"]));
                assert_eq!(stored["updatedAt"], ts(&w["updated_at"]));
                let completed = w["status"] == "completed";
                assert_eq!(
                    stored["completedAt"],
                    if completed {
                        ts(&w["updated_at"])
                    } else {
                        Value::Null
                    }
                );
                let numbers: Vec<Value> = w["pull_requests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["number"].clone())
                    .collect();
                assert_eq!(stored["pullRequestNumbers"], Value::Array(numbers));
            }
            "workflow_job" => {
                assert_eq!(r.workflow_jobs, 1);
                let j = &p["workflow_job"];
                let stored = row(&db, "workflow_jobs", j["id"].as_i64().unwrap()).await;
                assert_eq!(stored["runGithubId"], j["run_id"]);
                assert_eq!(
                    stored["runAttempt"],
                    j.get("run_attempt").cloned().unwrap_or(json!(1))
                );
                for (col, field) in [
                    ("name", "name"),
                    ("status", "status"),
                    ("conclusion", "conclusion"),
                    ("headSha", "head_sha"),
                ] {
                    assert_eq!(stored[col], j[field], "{col}");
                }
                assert_eq!(
                    stored["workflowName"],
                    j.get("workflow_name").cloned().unwrap_or(Value::Null)
                );
                assert_eq!(stored["startedAt"], ts(&j["started_at"]));
                assert_eq!(stored["completedAt"], ts(&j["completed_at"]));
                assert_eq!(
                    stored["environment"],
                    p["deployment"]["environment"].clone()
                );
            }
            "release" => {
                assert_eq!(r.releases, 1);
                let l = &p["release"];
                let stored = row(&db, "releases", l["id"].as_i64().unwrap()).await;
                for (col, field) in [
                    ("tagName", "tag_name"),
                    ("name", "name"),
                    ("targetCommitish", "target_commitish"),
                    ("draft", "draft"),
                    ("prerelease", "prerelease"),
                ] {
                    assert_eq!(stored[col], l[field], "{col}");
                }
                assert_eq!(stored["authorGithubId"], l["author"]["id"]);
                assert_eq!(stored["authorLogin"], l["author"]["login"]);
                assert_eq!(stored["createdAt"], ts(&l["created_at"]));
                assert_eq!(stored["publishedAt"], ts(&l["published_at"]));
                let deleted = p["action"] == "deleted";
                assert_eq!(stored["deletedAt"].is_null(), !deleted);
            }
            other => unreachable!("{other}"),
        }
        // A team job for the repository's activity is not asked for (no team); nobody is
        // mapped, so no developer job either.
        assert!(result.metric_jobs.is_empty());
    }
    processor.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_invalid_payload_and_writes_nothing() {
    let db = TestDb::migrated().await;
    db.insert_repository(REPO, None).await;
    let processor = db.processor().await;
    let deployment = deployment_json(7, "production", &Account::user(1, "mona"), BASE, BASE);
    let status = |state: &str| json!({"id": 70, "state": state, "environment": "production", "created_at": iso(BASE)});
    let run = run_json(9, 1, "completed", Some("success"), BASE);
    let cases: Vec<(&str, Value)> = vec![
        (
            "deployment_status",
            json!({"action": "created", "deployment_status": status("success"), "repository": {"id": REPO}}),
        ),
        (
            "deployment_status",
            json!({"action": "created", "deployment_status": status("exploded"), "deployment": deployment, "repository": {"id": REPO}}),
        ),
        (
            "deployment",
            json!({"action": "created", "deployment": deployment_json(0, "production", &Account::user(1, "mona"), BASE, BASE), "repository": {"id": REPO}}),
        ),
        ("workflow_run", {
            let mut r = run.clone();
            r.as_object_mut().unwrap().remove("run_attempt");
            json!({"action": "completed", "workflow_run": r, "repository": {"id": REPO}})
        }),
        ("workflow_run", {
            let mut r = run.clone();
            r["status"] = json!("exploded");
            json!({"action": "completed", "workflow_run": r, "repository": {"id": REPO}})
        }),
        ("workflow_run", {
            let mut r = run.clone();
            r["run_attempt"] = json!(i64::from(i32::MAX) + 1);
            json!({"action": "completed", "workflow_run": r, "repository": {"id": REPO}})
        }),
        (
            "workflow_job",
            json!({"action": "queued", "workflow_job": {"id": 5, "run_id": 9, "run_attempt": 1, "name": "x", "status": "sleeping"}, "repository": {"id": REPO}}),
        ),
        (
            "release",
            json!({"action": "published", "release": {"id": -4, "tag_name": "v1", "target_commitish": "main", "created_at": iso(BASE)}, "repository": {"id": REPO}}),
        ),
    ];
    for (i, (event, payload)) in cases.iter().enumerate() {
        let err = processor
            .process(job(&format!("bad{i}"), event, payload))
            .await
            .expect_err("bad input");
        assert_eq!(err.code(), ErrorCode::InvalidPayload, "case {i}: {err}");
    }
    for table in [
        "deployments",
        "deployment_statuses",
        "workflow_runs",
        "workflow_jobs",
        "releases",
    ] {
        assert_eq!(db.count(table).await, 0, "{table}");
    }
    processor.close().await;
}

fn deployment_json(id: i64, env: &str, creator: &Account, created: i64, updated: i64) -> Value {
    json!({
        "id": id, "sha": format!("{:040x}", id), "ref": "main", "task": "deploy",
        "environment": env, "original_environment": env, "description": null,
        "creator": creator.json(), "created_at": iso(created), "updated_at": iso(updated),
        "payload": {}
    })
}

fn run_json(id: i64, attempt: i64, status: &str, conclusion: Option<&str>, updated: i64) -> Value {
    json!({
        "id": id, "run_attempt": attempt, "workflow_id": 77, "name": "CI", "path": ".github/workflows/ci.yml",
        "event": "push", "head_sha": "abc", "head_branch": "main", "status": status,
        "conclusion": conclusion, "run_number": 12, "actor": Account::user(201, "mona").json(),
        "created_at": iso(BASE), "run_started_at": iso(BASE), "updated_at": iso(updated),
        "pull_requests": [{"number": 3}]
    })
}

// ---- timelines -------------------------------------------------------------------------

const MONA: Account = Account::user(201, "mona");

/// One status: its state and the seconds after the deployment's creation it was created.
#[derive(Debug, Clone)]
struct StatusStep {
    state: &'static str,
    gap: i64,
    env: Option<&'static str>,
}

fn status_step() -> impl Strategy<Value = StatusStep> {
    (
        prop_oneof![
            Just("queued"),
            Just("in_progress"),
            Just("success"),
            Just("failure"),
            Just("error"),
            Just("pending")
        ],
        prop_oneof![2 => Just(0i64), 2 => Just(1i64), 2 => 2i64..600],
        prop_oneof![3 => Just(None), 1 => Just(Some("production")), 1 => Just(Some("staging"))],
    )
        .prop_map(|(state, gap, env)| StatusStep { state, gap, env })
}

#[derive(Debug, Clone)]
struct Life {
    env: &'static str,
    flag: Option<bool>,
    statuses: Vec<StatusStep>,
    run_gaps: [i64; 4],
    rerun: bool,
    release_edit: bool,
}

fn life() -> impl Strategy<Value = Life> {
    (
        prop_oneof![
            Just("production"),
            Just("Prod-EU"),
            Just("staging"),
            Just("live")
        ],
        prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        proptest::collection::vec(status_step(), 0..5),
        proptest::array::uniform4(prop_oneof![Just(0i64), Just(1i64), 2i64..300]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(env, flag, statuses, run_gaps, rerun, release_edit)| Life {
                env,
                flag,
                statuses,
                run_gaps,
                rerun,
                release_edit,
            },
        )
}

/// The deliveries of a life, chronological, and the deployment's expected derived fields.
fn deliveries(n: i64, life: &Life) -> (Vec<Delivery>, Value) {
    let mut out: Vec<(&'static str, Value, i64)> = Vec::new();
    let created = BASE + n * 100_000;
    let dep_id = 9_000 + n;
    let mut dep = deployment_json(dep_id, life.env, &MONA, created, created);
    if let Some(flag) = life.flag {
        dep["production_environment"] = json!(flag);
    }
    out.push((
        "deployment",
        json!({"action": "created", "deployment": dep.clone(), "repository": {"id": REPO}}),
        created + 1,
    ));
    let mut t = created;
    let mut stored: Vec<(i64, i64, &str, Option<&str>)> = Vec::new();
    for (i, s) in life.statuses.iter().enumerate() {
        t += s.gap;
        let sid = dep_id * 100 + i as i64;
        let mut embedded = dep.clone();
        embedded["updated_at"] = json!(iso(t));
        if let Some(env) = s.env {
            embedded["environment"] = json!(env);
        }
        let status = json!({"id": sid, "state": s.state, "environment": s.env.unwrap_or(life.env),
                            "creator": MONA.json(), "created_at": iso(t), "updated_at": iso(t),
                            "description": "", "log_url": "https://ci.example/log"});
        stored.push((t, sid, s.state, Some(s.env.unwrap_or(life.env))));
        out.push((
            "deployment_status",
            json!({"action": "created", "deployment_status": status,
                  "deployment": embedded, "repository": {"id": REPO}}),
            t + 2,
        ));
    }
    // A run: requested → in_progress → completed, and maybe a re-run (attempt 2).
    let run_id = 70_000 + n;
    let [g1, g2, g3, g4] = life.run_gaps;
    let mut rt = created;
    for (status, conclusion, gap) in [
        ("requested", None, 0),
        ("in_progress", None, g1),
        ("completed", Some("failure"), g2),
    ] {
        rt += gap;
        // GitHub's own examples disagree with themselves: the action is never trusted.
        let action = if status == "requested" {
            "completed"
        } else {
            status
        };
        out.push(("workflow_run", json!({"action": action, "workflow_run": run_json(run_id, 1, status, conclusion, rt), "repository": {"id": REPO}}), rt + 1));
    }
    if life.rerun {
        for (status, conclusion, gap) in [("queued", None, g3), ("completed", Some("success"), g4)]
        {
            rt += gap;
            out.push(("workflow_run", json!({"action": status, "workflow_run": run_json(run_id, 2, status, conclusion, rt), "repository": {"id": REPO}}), rt + 1));
        }
    }
    // A job: queued (with its environment) → in_progress → completed.
    let job_id = 80_000 + n;
    let job = |status: &str,
               started: Option<i64>,
               completed: Option<i64>,
               conclusion: Option<&str>| {
        json!({"id": job_id, "run_id": run_id, "run_attempt": 1, "name": "deploy", "workflow_name": "CI",
               "head_sha": "abc", "status": status, "conclusion": conclusion,
               "started_at": started.map(iso), "completed_at": completed.map(iso)})
    };
    out.push(("workflow_job", json!({"action": "queued", "workflow_job": job("queued", Some(created), None, None), "deployment": {"environment": life.env}, "repository": {"id": REPO}}), created + 3));
    out.push(("workflow_job", json!({"action": "in_progress", "workflow_job": job("in_progress", Some(created + g1), None, None), "repository": {"id": REPO}}), created + g1 + 3));
    out.push(("workflow_job", json!({"action": "completed", "workflow_job": job("completed", Some(created + g1), Some(created + g1 + g2), Some("success")), "repository": {"id": REPO}}), created + g1 + g2 + 3));
    // A release: created (draft) → published → edited → deleted.
    let rel_id = 90_000 + n;
    let release = |name: &str, draft: bool, published: Option<i64>| {
        json!({"id": rel_id, "tag_name": "v1.0", "name": name, "target_commitish": "main", "draft": draft,
               "prerelease": false, "author": MONA.json(), "created_at": iso(created), "published_at": published.map(iso)})
    };
    out.push(("release", json!({"action": "created", "release": release("v1", true, None), "repository": {"id": REPO}}), created + 10));
    out.push(("release", json!({"action": "published", "release": release("v1", false, Some(created + 20)), "repository": {"id": REPO}}), created + 20));
    if life.release_edit {
        out.push(("release", json!({"action": "edited", "release": release("v1 final", false, Some(created + 20)), "repository": {"id": REPO}}), created + 30));
    }
    out.push(("release", json!({"action": "deleted", "release": release(if life.release_edit { "v1 final" } else { "v1" }, false, Some(created + 20)), "repository": {"id": REPO}}), created + 40));

    // Expected derived fields.
    let latest = stored.iter().max_by_key(|(t, id, _, _)| (*t, *id));
    let first = |states: &[&str]| {
        stored
            .iter()
            .filter(|s| states.contains(&s.2))
            .map(|s| s.0)
            .min()
    };
    let first_success = first(&["success"]);
    let failed = first(&["failure", "error"]);
    let env = latest.and_then(|l| l.3).unwrap_or(life.env);
    let expected = json!({
        "state": latest.map(|l| l.2),
        "environment": env,
        "firstSuccessAt": first_success.map(|t| naive(t).format("%Y-%m-%dT%H:%M:%S").to_string()),
        "failedAt": failed.map(|t| naive(t).format("%Y-%m-%dT%H:%M:%S").to_string()),
    });
    let deliveries = out
        .into_iter()
        .enumerate()
        .map(|(i, (event, payload, received))| {
            Delivery::new(
                format!("n{n}d{i}"),
                event,
                serde_json::to_vec(&payload).unwrap(),
                received,
            )
        })
        .collect();
    (deliveries, expected)
}

async fn snapshot(db: &TestDb) -> Vec<Value> {
    sqlx::query_scalar(
        r#"SELECT jsonb_build_object('deployment', to_jsonb(d) - 'id' - 'repoId') FROM deployments d
           UNION ALL
           SELECT jsonb_build_object('status', to_jsonb(s) - 'id' - 'repoId' - 'deploymentId'
                                               || jsonb_build_object('deployment', d."githubId"))
           FROM deployment_statuses s JOIN deployments d ON d.id = s."deploymentId"
           UNION ALL SELECT jsonb_build_object('run', to_jsonb(r) - 'id' - 'repoId') FROM workflow_runs r
           UNION ALL SELECT jsonb_build_object('job', to_jsonb(j) - 'id' - 'repoId') FROM workflow_jobs j
           UNION ALL SELECT jsonb_build_object('release', to_jsonb(l) - 'id' - 'repoId') FROM releases l
           ORDER BY 1"#,
    )
    .fetch_all(&db.pool)
    .await
    .expect("snapshot")
}

async fn run_in_order(
    p: &WebhookProcessor,
    db: &TestDb,
    ds: &[&Delivery],
) -> Result<Vec<Value>, TestCaseError> {
    sqlx::raw_sql(TABLES).execute(&db.pool).await.unwrap();
    for d in ds {
        p.process(d.job())
            .await
            .map_err(|e| TestCaseError::fail(format!("{} {}: {e}", d.event, d.id)))?;
    }
    Ok(snapshot(db).await)
}

async fn run_at_once(
    p: &Arc<WebhookProcessor>,
    db: &TestDb,
    ds: &[Delivery],
) -> Result<Vec<Value>, TestCaseError> {
    sqlx::raw_sql(TABLES).execute(&db.pool).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for d in ds.iter().cloned() {
        let p = p.clone();
        tasks.spawn(async move {
            p.process(d.job())
                .await
                .map_err(|e| format!("{} {}: {e}", d.event, d.id))
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| TestCaseError::fail(e.to_string()))?
            .map_err(TestCaseError::fail)?;
    }
    Ok(snapshot(db).await)
}

fn shuffled(ds: &[Delivery], seed: u64) -> Vec<&Delivery> {
    let mut order: Vec<&Delivery> = ds.iter().collect();
    let mut state = seed | 1;
    for i in (1..order.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let j = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[test]
fn deployment_timelines_end_in_the_same_rows_in_any_order() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(async {
        let db = TestDb::migrated().await;
        let team = db.insert_team("Ship").await;
        db.insert_repository(REPO, Some(&team)).await;
        db.insert_user("mona@example.com", Some("mona"), Some(MONA.id), &[&team])
            .await;
        db
    });
    let processor = Arc::new(runtime.block_on(db.processor()));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(32);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 100,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(life(), 1..3),
        proptest::collection::vec(any::<u64>(), 12),
    );
    let outcome = runner.run(&strategy, |(lives, seeds)| {
        let mut all = Vec::new();
        let mut expected = Vec::new();
        for (n, l) in lives.iter().enumerate() {
            let (ds, e) = deliveries(n as i64, l);
            all.extend(ds);
            expected.push((9_000 + n as i64, l.clone(), e));
        }
        runtime.block_on(async {
            let reference = run_in_order(&processor, &db, &all.iter().collect::<Vec<_>>()).await?;
            for (id, l, e) in &expected {
                let d = reference.iter().filter_map(|r| r.get("deployment")).find(|d| d["githubId"] == json!(id)).unwrap();
                for k in ["state", "environment", "firstSuccessAt", "failedAt"] {
                    prop_assert_eq!(&d[k], &e[k], "{} of deployment {}", k, id);
                }
                let env = e["environment"].as_str().unwrap().to_lowercase();
                let pattern = env == "production" || env == "live" || env.starts_with("prod-");
                prop_assert_eq!(&d["isProduction"], &json!(l.flag.unwrap_or(pattern)));
                let n = id - 9_000;
                let run = |attempt: i64| {
                    reference
                        .iter()
                        .filter_map(|r| r.get("run"))
                        .find(|r| r["githubId"] == json!(70_000 + n) && r["runAttempt"] == json!(attempt))
                        .cloned()
                };
                prop_assert_eq!(&run(1).unwrap()["status"], "completed");
                prop_assert_eq!(run(2).is_some(), l.rerun);
                let job = reference
                    .iter()
                    .filter_map(|r| r.get("job"))
                    .find(|j| j["githubId"] == json!(80_000 + n))
                    .unwrap();
                prop_assert_eq!(&job["status"], "completed");
                prop_assert_eq!(&job["environment"], l.env);
                let release = reference
                    .iter()
                    .filter_map(|r| r.get("release"))
                    .find(|r| r["githubId"] == json!(90_000 + n))
                    .unwrap();
                prop_assert_eq!(&release["name"], if l.release_edit { "v1 final" } else { "v1" });
                prop_assert!(!release["deletedAt"].is_null());
                prop_assert_eq!(&release["draft"], false);
            }
            for seed in &seeds {
                let rows = run_in_order(&processor, &db, &shuffled(&all, *seed)).await?;
                prop_assert_eq!(&rows, &reference, "order with seed {}", seed);
            }
            for run in 0..2 {
                let rows = run_at_once(&processor, &db, &all).await?;
                prop_assert_eq!(&rows, &reference, "concurrent run {}", run);
            }
            sqlx::raw_sql("DELETE FROM deployment_statuses; DELETE FROM deployments; DELETE FROM workflow_jobs; DELETE FROM workflow_runs; DELETE FROM releases")
                .execute(&db.pool).await.unwrap();
            for pass in 0..2 {
                let report = processor.reprocess_events(ReprocessOptions::default(), None).await
                    .map_err(|e| TestCaseError::fail(format!("reprocess: {e}")))?;
                prop_assert_eq!((report.events, report.skipped), (all.len() as u64, 0));
                prop_assert_eq!(&snapshot(&db).await, &reference, "reprocess pass {}", pass);
            }
            Ok(())
        })
    });
    runtime.block_on(processor.close());
    drop(runtime);
    if let Err(e) = outcome {
        panic!("{e}");
    }
    drop(db);
}
