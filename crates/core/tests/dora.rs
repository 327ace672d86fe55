//! `doraMetrics` on the scenario with hand-computed answers (tests/common/dora.rs), stored
//! directly with SQL as the deployment processors and the deploymentChanges job leave the rows
//! (the derived deployment fields as aggregates of the statuses). tests/dora_webhooks.rs
//! delivers the same scenario as webhooks.

mod common;

use common::dora::*;
use common::{new_id, push::sha, TestDb};
use devmetrics_webhook_core::dora::DoraOptions;
use devmetrics_webhook_core::time::Timestamp;

struct World {
    db: TestDb,
    team: String,
    r1: String,
    rollback: String,
}

/// The scenario's rows, written directly.
async fn world() -> World {
    let db = TestDb::migrated().await;
    let teams = teams(&db).await;
    let mut status_id = 0;
    for d in DEPLOYMENTS {
        let repo = &teams.repos[(d.repo - 1) as usize];
        let mut sorted: Vec<(Timestamp, &str)> =
            d.statuses.iter().map(|(s, t)| (at(t), *s)).collect();
        sorted.sort();
        let first_success = sorted.iter().find(|(_, s)| *s == "success").map(|x| x.0);
        let failed = sorted
            .iter()
            .find(|(_, s)| *s == "failure" || *s == "error")
            .map(|x| x.0);
        let id = new_id();
        sqlx::query(
            r#"INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment,
                 "originalEnvironment", "isProduction", "productionReason", "createdAt", "updatedAt",
                 state, "firstSuccessAt", "failedAt", "finishedAt")
               VALUES ($1, $2, $3, $4, 'main', 'deploy', $5, $5, $6, $7, $8, $8, $9, $10, $11,
                 coalesce($10, $11))"#,
        )
        .bind(&id)
        .bind(repo)
        .bind(d.github_id)
        .bind(sha(d.sha))
        .bind(d.environment)
        .bind(d.production)
        .bind(d.production.then_some("github_flag"))
        .bind(at(d.created))
        .bind(sorted.last().map(|x| x.1))
        .bind(first_success)
        .bind(failed)
        .execute(&db.pool)
        .await
        .expect("insert deployment");
        for (state, created) in d.statuses {
            status_id += 1;
            sqlx::query(
                r#"INSERT INTO deployment_statuses (id, "githubId", "repoId", "deploymentId", state,
                     environment, "createdAt") VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
            )
            .bind(new_id())
            .bind(status_id)
            .bind(repo)
            .bind(&id)
            .bind(state)
            .bind(d.environment)
            .bind(at(created))
            .execute(&db.pool)
            .await
            .expect("insert status");
        }
    }
    for i in ISSUES {
        sqlx::query(
            r#"INSERT INTO issues (id, "repoId", "githubId", number, title, state, "createdAt",
                 "updatedAt", "closedAt", labels)
               VALUES ($1, $2, $3, $3, 'outage', $4::"IssueState", $5, $5, $6, $7)"#,
        )
        .bind(new_id())
        .bind(&teams.repos[(i.repo - 1) as usize])
        .bind(i.github_id)
        .bind(if i.closed.is_some() { "CLOSED" } else { "OPEN" })
        .bind(at(i.created))
        .bind(i.closed.map(at))
        .bind(i.labels)
        .execute(&db.pool)
        .await
        .expect("insert issue");
    }
    store_changes(&db, &teams).await;
    let rollback = sqlx::query_scalar(r#"SELECT id FROM deployments WHERE "githubId" = $1"#)
        .bind(ROLLBACK)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    World {
        team: teams.payments,
        r1: teams.repos[0].clone(),
        rollback,
        db,
    }
}

fn week(team: &str) -> DoraOptions {
    let mut o = DoraOptions::new(at("2026-11-02T00:00:00Z"), at("2026-11-09T00:00:00Z"));
    o.team_id = Some(team.to_owned());
    o
}

#[tokio::test]
async fn every_figure_of_the_week_equals_the_hand_computed_one() {
    let w = world().await;
    let p = w.db.processor().await;
    let got = p.dora_metrics(&week(&w.team)).await.expect("doraMetrics");
    assert_eq!(rounded(got), expected_week());
    // The same repositories named by GitHub id.
    let mut by_ids = week(&w.team);
    by_ids.team_id = None;
    by_ids.repository_github_ids = Some(vec![1, 2]);
    assert_eq!(
        rounded(p.dora_metrics(&by_ids).await.unwrap()),
        expected_week()
    );
    p.close().await;
}

#[tokio::test]
async fn the_scope_the_environment_and_the_incident_options() {
    let w = world().await;
    let p = w.db.processor().await;

    // Every repository: the other team's deployment too.
    let mut all = week(&w.team);
    all.team_id = None;
    let got = p.dora_metrics(&all).await.unwrap();
    assert_eq!(got.deployment_frequency.deployments, 8);
    assert_eq!(
        got.deployment_frequency.deployment_ids,
        ids(&[D1, D2, D3, D4, D5, F1, D6, E1])
    );
    // Team and ids together: the repositories in both.
    let mut both = week(&w.team);
    both.repository_github_ids = Some(vec![2, 3]);
    assert_eq!(
        p.dora_metrics(&both)
            .await
            .unwrap()
            .deployment_frequency
            .deployment_ids,
        ids(&[E1])
    );
    // An empty list measures nothing: zeros and null rates.
    let mut none = week(&w.team);
    none.repository_github_ids = Some(vec![]);
    let got = p.dora_metrics(&none).await.unwrap();
    assert_eq!(got.deployment_frequency.deployments, 0);
    assert_eq!(got.change_fail_rate.rate, None);
    assert_eq!(got.rework_rate.rate, None);
    assert_eq!(got.lead_time.median_seconds, None);
    assert_eq!(got.recovery_time.median_seconds, None);

    // Staging by the same rules (incidents are the repository's): S1 is live when the 10:30
    // incident opens (closed 11:30, before S2): 3600 s; S2 fails after success, unrestored.
    let mut staging = week(&w.team);
    staging.environment = Some("staging".into());
    let got = p.dora_metrics(&staging).await.unwrap();
    assert_eq!(got.deployment_frequency.deployment_ids, ids(&[S1, S2]));
    assert_eq!(got.deployment_frequency.days, 1);
    assert_eq!(got.change_fail_rate.deployment_ids, ids(&[S1, S2]));
    assert_eq!(got.recovery_time.deployment_ids, ids(&[S1]));
    assert_eq!(got.recovery_time.median_seconds, Some(3600.0));
    assert_eq!(got.rework_rate.deployment_ids, ids(&[S2]));

    // Other incident labels (compared case-insensitively): D4's incident no longer counts.
    let mut labels = week(&w.team);
    labels.incident_labels = vec!["SEV2".into()];
    let got = p.dora_metrics(&labels).await.unwrap();
    assert_eq!(got.change_fail_rate.deployment_ids, ids(&[D2, D5]));
    labels.incident_labels = vec!["SEV1".into()];
    let got = p.dora_metrics(&labels).await.unwrap();
    assert_eq!(got.change_fail_rate.deployment_ids, ids(&[D2, D4, D5]));

    // A 2-hour window misses D4's incident (4 h after); a 200-hour one reaches D6's (169 h
    // after), which nothing has restored: failed, without a recovery time.
    let mut short = week(&w.team);
    short.failure_window_hours = 2.0;
    assert_eq!(
        p.dora_metrics(&short)
            .await
            .unwrap()
            .change_fail_rate
            .deployment_ids,
        ids(&[D2, D5])
    );
    let mut long = week(&w.team);
    long.failure_window_hours = 200.0;
    let got = p.dora_metrics(&long).await.unwrap();
    assert_eq!(got.change_fail_rate.deployment_ids, ids(&[D2, D4, D5, D6]));
    assert_eq!(got.recovery_time.deployment_ids, ids(&[D2, D4, D5]));
    assert_eq!(got.rework_rate.deployment_ids, ids(&[D3, D5, ROLLBACK]));
    p.close().await;
}

#[tokio::test]
async fn a_rollback_is_known_from_the_compare_or_else_from_a_sha_live_before() {
    let w = world().await;
    let p = w.db.processor().await;
    // Not compared (no changes recorded): the rollback redeploys s5, live before D5, so it is one.
    sqlx::query(r#"UPDATE deployments SET "isRollback" = false WHERE id = $1"#)
        .bind(&w.rollback)
        .execute(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(
        rounded(p.dora_metrics(&week(&w.team)).await.unwrap()),
        expected_week()
    );
    // Compared, not behind (diverged: it shipped a commit): D5 did not fail.
    sqlx::query(
        r#"INSERT INTO deployment_changes ("deploymentId", "commitSha", "repoId", "committedAt")
           VALUES ($1, 'hotfix', $2, $3)"#,
    )
    .bind(&w.rollback)
    .bind(&w.r1)
    .bind(at("2026-11-05T17:00:00Z"))
    .execute(&w.db.pool)
    .await
    .unwrap();
    let got = p.dora_metrics(&week(&w.team)).await.unwrap();
    assert_eq!(got.change_fail_rate.deployment_ids, ids(&[D2, D4]));
    assert_eq!(got.rework_rate.deployment_ids, ids(&[D3, D5]));
    assert_eq!(got.recovery_time.count, 2);
    p.close().await;
}

#[tokio::test]
async fn bad_options_are_config_errors() {
    let w = world().await;
    let p = w.db.processor().await;
    let mut o = week(&w.team);
    o.until = o.since;
    let e = p.dora_metrics(&o).await.unwrap_err();
    assert_eq!(e.code().as_str(), "CONFIG_ERROR");
    let mut o = week(&w.team);
    o.failure_window_hours = -1.0;
    assert_eq!(
        p.dora_metrics(&o).await.unwrap_err().code().as_str(),
        "CONFIG_ERROR"
    );
    p.close().await;
}

/// One production deployment of `repo` with its statuses `(state, createdAt)`; the derived
/// columns as the processors leave them.
async fn deploy(db: &TestDb, repo: &str, github_id: i64, sha_n: u64, statuses: &[(&str, &str)]) {
    let first = |want: &[&str]| {
        statuses
            .iter()
            .filter(|(s, _)| want.contains(s))
            .map(|(_, t)| at(t))
            .min()
    };
    let fs = first(&["success"]);
    let failed = first(&["failure", "error"]);
    let id = new_id();
    sqlx::query(
        r#"INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment,
             "originalEnvironment", "isProduction", "productionReason", "createdAt", "updatedAt",
             state, "firstSuccessAt", "failedAt", "finishedAt")
           VALUES ($1, $2, $3, $4, 'main', 'deploy', 'production', 'production', true,
             'github_flag', $5, $5, 'success', $6, $7, coalesce($6, $7))"#,
    )
    .bind(&id)
    .bind(repo)
    .bind(github_id)
    .bind(sha(sha_n))
    .bind(at(statuses[0].1))
    .bind(fs)
    .bind(failed)
    .execute(&db.pool)
    .await
    .expect("insert deployment");
    for (n, (state, created)) in statuses.iter().enumerate() {
        sqlx::query(
            r#"INSERT INTO deployment_statuses (id, "githubId", "repoId", "deploymentId", state,
                 environment, "createdAt") VALUES ($1, $2, $3, $4, $5, 'production', $6)"#,
        )
        .bind(new_id())
        .bind(github_id * 100 + n as i64)
        .bind(repo)
        .bind(&id)
        .bind(state)
        .bind(at(created))
        .execute(&db.pool)
        .await
        .expect("insert status");
    }
}

async fn incident(db: &TestDb, repo: &str, github_id: i64, created: &str, label: &str) {
    sqlx::query(
        r#"INSERT INTO issues (id, "repoId", "githubId", number, title, state, "createdAt",
             "updatedAt", labels)
           VALUES ($1, $2, $3, $3, 'outage', 'OPEN'::"IssueState", $4, $4, $5)"#,
    )
    .bind(new_id())
    .bind(repo)
    .bind(github_id)
    .bind(at(created))
    .bind(vec![label.to_owned()])
    .execute(&db.pool)
    .await
    .expect("insert issue");
}

fn window() -> DoraOptions {
    DoraOptions::new(at("2026-11-01T00:00:00Z"), at("2026-11-08T00:00:00Z"))
}

/// Two deployments of different shas live at the same instant, both failed (a failure status
/// each): the one deployment that follows restores both, but it is one deployment of rework,
/// listed once.
#[tokio::test]
async fn a_deployment_restoring_two_failed_ones_is_one_rework() {
    let db = TestDb::migrated().await;
    let repo = db.insert_repository(1, None).await;
    let both = "2026-11-02T10:00:00Z";
    deploy(
        &db,
        &repo,
        1,
        1,
        &[("success", both), ("failure", "2026-11-02T10:05:00Z")],
    )
    .await;
    deploy(
        &db,
        &repo,
        2,
        2,
        &[("success", both), ("error", "2026-11-02T10:06:00Z")],
    )
    .await;
    deploy(&db, &repo, 3, 3, &[("success", "2026-11-02T11:00:00Z")]).await;
    let m = db.processor().await.dora_metrics(&window()).await.unwrap();
    assert_eq!(m.deployment_frequency.deployments, 3);
    assert_eq!(m.change_fail_rate.failed, 2);
    assert_eq!(m.change_fail_rate.deployment_ids, vec!["1", "2"]);
    assert_eq!(m.recovery_time.count, 2);
    assert_eq!(m.rework_rate.rework, 1);
    assert_eq!(m.rework_rate.deployment_ids, vec!["3"]);
    assert_eq!(m.rework_rate.rate, Some(1.0 / 3.0));
}

/// An incident opened in the very second the next deployment went live: GitHub's times are
/// whole seconds, so this happens. That deployment is live from its first success on (the
/// window's own `[since, until)` rule), so the incident is its own, not lost to both.
#[tokio::test]
async fn an_incident_at_a_deployments_first_success_is_blamed_on_it() {
    let db = TestDb::migrated().await;
    let repo = db.insert_repository(1, None).await;
    deploy(&db, &repo, 1, 1, &[("success", "2026-11-02T10:00:00Z")]).await;
    deploy(&db, &repo, 2, 2, &[("success", "2026-11-02T12:00:00Z")]).await;
    deploy(&db, &repo, 3, 3, &[("success", "2026-11-02T15:00:00Z")]).await;
    incident(&db, &repo, 50, "2026-11-02T12:00:00Z", "Incident").await;
    let m = db.processor().await.dora_metrics(&window()).await.unwrap();
    assert_eq!(m.change_fail_rate.failed, 1);
    assert_eq!(m.change_fail_rate.deployment_ids, vec!["2"]);
    assert_eq!(m.recovery_time.count, 1);
    // From the incident's opening to deployment 3's first success: three hours.
    assert_eq!(m.recovery_time.median_seconds, Some(3.0 * 3600.0));
    assert_eq!(m.rework_rate.deployment_ids, vec!["3"]);
}

/// A failure status in the same second as the first success: GitHub's times are whole seconds,
/// so statuses are ordered by (createdAt, GitHub id), as the deployment's `state` is. A failure
/// after the success in that order fails the deployment (its state is `failure`); one before it
/// is an attempt the success then superseded.
#[tokio::test]
async fn a_failure_in_the_second_of_the_success_counts_when_it_came_after_it() {
    let db = TestDb::migrated().await;
    let repo = db.insert_repository(1, None).await;
    let t1 = "2026-11-02T10:00:00Z";
    let t2 = "2026-11-02T12:00:00Z";
    deploy(&db, &repo, 1, 1, &[("failure", t1), ("success", t1)]).await;
    deploy(&db, &repo, 2, 2, &[("success", t2), ("failure", t2)]).await;
    deploy(&db, &repo, 3, 3, &[("success", "2026-11-02T13:30:00Z")]).await;
    let m = db.processor().await.dora_metrics(&window()).await.unwrap();
    assert_eq!(m.change_fail_rate.deployment_ids, vec!["2"]);
    assert_eq!(m.recovery_time.deployment_ids, vec!["2"]);
    assert_eq!(m.recovery_time.median_seconds, Some(1.5 * 3600.0));
    assert_eq!(m.rework_rate.deployment_ids, vec!["3"]);
}
