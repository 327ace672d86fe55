//! Payloads of the delivery events whose rows name a person (docs/dora.md): a deployment
//! (its creator), a workflow run (its actor) and a release (its author), for the tests of
//! how those people map.

use serde_json::{json, Value};

/// The GitHub ids of delivery rows `n`: the deployment's, the run's, the release's.
pub fn ids(n: i64) -> [i64; 3] {
    [7_000 + n, 8_000 + n, 9_000 + n]
}

/// A deployment, a workflow run and a release in repository `repo`, numbered `n`, each by
/// the account (`id`, `login`): `(event, payload)`.
pub fn by(repo: i64, n: i64, id: i64, login: &str) -> Vec<(&'static str, Vec<u8>)> {
    let at = "2024-03-04T15:15:02Z";
    let person = json!({"login": login, "id": id, "type": "User", "site_admin": false});
    let [deployment_id, run_id, release_id] = ids(n);
    let deployment = json!({"action": "created", "repository": {"id": repo},
        "deployment": {"id": deployment_id, "sha": format!("{n:040x}"), "ref": "main",
            "task": "deploy", "environment": "production", "original_environment": "production",
            "description": null, "creator": person, "created_at": at, "updated_at": at,
            "payload": {}}});
    let run = json!({"action": "completed", "repository": {"id": repo},
        "workflow_run": {"id": run_id, "run_attempt": 1, "workflow_id": 77, "name": "CI",
            "path": ".github/workflows/ci.yml", "event": "push", "head_sha": "abc",
            "head_branch": "main", "status": "completed", "conclusion": "success",
            "run_number": 1, "actor": person, "created_at": at, "run_started_at": at,
            "updated_at": at, "pull_requests": []}});
    let release = json!({"action": "published", "repository": {"id": repo},
        "release": {"id": release_id, "tag_name": format!("v{n}"), "name": "v",
            "target_commitish": "main", "draft": false, "prerelease": false, "author": person,
            "created_at": at, "published_at": at}});
    let bytes = |v: Value| serde_json::to_vec(&v).unwrap();
    vec![
        ("deployment", bytes(deployment)),
        ("workflow_run", bytes(run)),
        ("release", bytes(release)),
    ]
}

/// The user ids of delivery rows `n`: the deployment's creator, the run's actor, the
/// release's author.
pub async fn users(pool: &sqlx::PgPool, n: i64) -> [Option<String>; 3] {
    let [deployment_id, run_id, release_id] = ids(n);
    let mut out: [Option<String>; 3] = Default::default();
    for (i, (sql, id)) in [
        (
            r#"SELECT "creatorId" FROM deployments WHERE "githubId" = $1"#,
            deployment_id,
        ),
        (
            r#"SELECT "actorId" FROM workflow_runs WHERE "githubId" = $1"#,
            run_id,
        ),
        (
            r#"SELECT "authorId" FROM releases WHERE "githubId" = $1"#,
            release_id,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        out[i] = sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    }
    out
}
