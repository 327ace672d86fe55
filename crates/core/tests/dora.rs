//! `doraMetrics` on a scenario whose every figure is computed by hand (docs/dora.md, "The five
//! metrics"): a week of production deployments of two repositories of one team, staging beside
//! them, a re-run of the same sha, a deployment that never succeeds (twice), one that fails
//! after its success, one followed by an incident, one followed by a rollback, a first
//! deployment with no predecessor, a commit whose date only `commits` knows, a pull request
//! whose merge commit ships, and a third repository of another team.
//!
//! The rows are seeded with SQL, as the deployment processors and the deploymentChanges job
//! leave them (derived fields as aggregates of the statuses).

mod common;

use common::{new_id, TestDb};
use devmetrics_webhook_core::dora::{DoraMetrics, DoraOptions};
use devmetrics_webhook_core::time::{parse_github_time, Timestamp};

fn at(s: &str) -> Timestamp {
    parse_github_time(s).unwrap_or_else(|| panic!("bad time {s}"))
}

/// One seeded deployment: its statuses decide firstSuccessAt / failedAt / finishedAt / state.
struct Dep<'a> {
    github_id: i64,
    repo: &'a str,
    sha: &'a str,
    environment: &'a str,
    production: bool,
    created: &'a str,
    /// (state, createdAt) in any order.
    statuses: &'a [(&'a str, &'a str)],
    is_rollback: Option<bool>,
}

struct Seed<'a> {
    db: &'a TestDb,
    next_status: i64,
}

impl Seed<'_> {
    async fn deployment(&mut self, d: Dep<'_>) -> String {
        let id = new_id();
        let mut sorted: Vec<(Timestamp, &str)> =
            d.statuses.iter().map(|(s, t)| (at(t), *s)).collect();
        sorted.sort();
        let first_success = sorted.iter().find(|(_, s)| *s == "success").map(|x| x.0);
        let failed = sorted
            .iter()
            .find(|(_, s)| *s == "failure" || *s == "error")
            .map(|x| x.0);
        let state = sorted.last().map(|x| x.1.to_owned());
        sqlx::query(
            r#"INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment,
                 "originalEnvironment", "isProduction", "productionReason", "createdAt", "updatedAt",
                 state, "firstSuccessAt", "failedAt", "finishedAt", "isRollback")
               VALUES ($1, $2, $3, $4, 'main', 'deploy', $5, $5, $6, $7, $8, $8, $9, $10, $11,
                 coalesce($10, $11), $12)"#,
        )
        .bind(&id)
        .bind(d.repo)
        .bind(d.github_id)
        .bind(d.sha)
        .bind(d.environment)
        .bind(d.production)
        .bind(d.production.then_some("environment_pattern"))
        .bind(at(d.created))
        .bind(state)
        .bind(first_success)
        .bind(failed)
        .bind(d.is_rollback.unwrap_or(false))
        .execute(&self.db.pool)
        .await
        .expect("insert deployment");
        for (state, created) in d.statuses {
            self.next_status += 1;
            sqlx::query(
                r#"INSERT INTO deployment_statuses (id, "githubId", "repoId", "deploymentId", state,
                     environment, "createdAt") VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
            )
            .bind(new_id())
            .bind(self.next_status)
            .bind(d.repo)
            .bind(&id)
            .bind(state)
            .bind(d.environment)
            .bind(at(created))
            .execute(&self.db.pool)
            .await
            .expect("insert status");
        }
        id
    }

    /// A shipped commit; `committed` None leaves the date to the `commits` row.
    async fn change(&self, deployment: &str, repo: &str, sha: &str, committed: Option<&str>) {
        sqlx::query(
            r#"INSERT INTO deployment_changes ("deploymentId", "commitSha", "repoId", "committedAt")
               VALUES ($1, $2, $3, $4)"#,
        )
        .bind(deployment)
        .bind(sha)
        .bind(repo)
        .bind(committed.map(at))
        .execute(&self.db.pool)
        .await
        .expect("insert change");
    }

    async fn commit(&self, repo: &str, sha: &str, committed: &str) {
        sqlx::query(
            r#"INSERT INTO commits (id, "repoId", sha, message, "authorName", "authorEmail", "committedAt")
               VALUES ($1, $2, $3, 'm', 'a', 'a@example.com', $4)"#,
        )
        .bind(new_id())
        .bind(repo)
        .bind(sha)
        .bind(at(committed))
        .execute(&self.db.pool)
        .await
        .expect("insert commit");
    }

    async fn issue(
        &self,
        repo: &str,
        github_id: i64,
        labels: &[&str],
        created: &str,
        closed: Option<&str>,
    ) {
        sqlx::query(
            r#"INSERT INTO issues (id, "repoId", "githubId", number, title, state, "createdAt",
                 "updatedAt", "closedAt", labels)
               VALUES ($1, $2, $3, $3, 'outage', $4::"IssueState", $5, $5, $6, $7)"#,
        )
        .bind(new_id())
        .bind(repo)
        .bind(github_id)
        .bind(if closed.is_some() { "CLOSED" } else { "OPEN" })
        .bind(at(created))
        .bind(closed.map(at))
        .bind(labels)
        .execute(&self.db.pool)
        .await
        .expect("insert issue");
    }
}

struct World {
    db: TestDb,
    team: String,
    r1: String,
    rollback: String,
}

/// GitHub ids of the deployments, named as in the module doc's story.
const D0: i64 = 100;
const D1: i64 = 101;
const D1_RERUN: i64 = 102;
const D2: i64 = 103;
const D3: i64 = 104;
const DX: i64 = 105;
const DX_RERUN: i64 = 106;
const D4: i64 = 107;
const D5: i64 = 108;
const ROLLBACK: i64 = 109;
const D6: i64 = 110;
const E1: i64 = 201;
const F1: i64 = 301;
const S1: i64 = 401;
const S2: i64 = 402;

async fn world() -> World {
    let db = TestDb::migrated().await;
    let team = db.insert_team("payments").await;
    let other = db.insert_team("search").await;
    let r1 = db.insert_repository(1, Some(&team)).await;
    let r2 = db.insert_repository(2, Some(&team)).await;
    let r3 = db.insert_repository(3, Some(&other)).await;
    let mut s = Seed {
        db: &db,
        next_status: 0,
    };
    let prod = |github_id, repo, sha, created, statuses, is_rollback| Dep {
        github_id,
        repo,
        sha,
        environment: "production",
        production: true,
        created,
        statuses,
        is_rollback,
    };

    // Before the window: the predecessor of D1.
    s.deployment(prod(
        D0,
        &r1,
        "s0",
        "2026-11-01T09:50:00Z",
        &[("success", "2026-11-01T10:00:00Z")],
        None,
    ))
    .await;
    // D1: an error, then its success (an error before success is no failure).
    let d1 = s
        .deployment(prod(
            D1,
            &r1,
            "s1",
            "2026-11-02T09:50:00Z",
            &[
                ("error", "2026-11-02T09:55:00Z"),
                ("success", "2026-11-02T10:00:00Z"),
            ],
            Some(false),
        ))
        .await;
    s.change(&d1, &r1, "c1a", Some("2026-11-01T22:00:00Z"))
        .await; // 43200 s
    s.change(&d1, &r1, "c1b", Some("2026-11-02T08:00:00Z"))
        .await; // 7200 s
                // A re-run of s1: counted once, not D1's "next", its changes not counted again.
    let d1r = s
        .deployment(prod(
            D1_RERUN,
            &r1,
            "s1",
            "2026-11-02T10:50:00Z",
            &[("success", "2026-11-02T11:00:00Z")],
            Some(false),
        ))
        .await;
    s.change(&d1r, &r1, "c1a", Some("2026-11-01T22:00:00Z"))
        .await;
    s.change(&d1r, &r1, "c1b", Some("2026-11-02T08:00:00Z"))
        .await;
    // D2 fails after its success (12:00); D3 restores it at 15:00: recovery 10800 s.
    let d2 = s
        .deployment(prod(
            D2,
            &r1,
            "s2",
            "2026-11-03T09:50:00Z",
            &[
                ("success", "2026-11-03T10:00:00Z"),
                ("failure", "2026-11-03T12:00:00Z"),
            ],
            Some(false),
        ))
        .await;
    s.change(&d2, &r1, "c2a", Some("2026-11-03T09:00:00Z"))
        .await; // 3600 s
    s.change(&d2, &r1, "c2b", Some("2026-11-03T11:00:00Z"))
        .await; // negative: left out
    let d3 = s
        .deployment(prod(
            D3,
            &r1,
            "s3",
            "2026-11-03T14:50:00Z",
            &[("success", "2026-11-03T15:00:00Z")],
            Some(false),
        ))
        .await;
    // c3a is the merge commit of pull request #7.
    let pr = new_id();
    sqlx::query(
        r#"INSERT INTO pull_requests (id, "repoId", "githubId", number, title, state, "createdAt",
             "updatedAt", "mergedAt", "mergeCommitSha")
           VALUES ($1, $2, 7007, 7, 'fix', 'MERGED', $3, $4, $4, 'c3a')"#,
    )
    .bind(&pr)
    .bind(&r1)
    .bind(at("2026-11-03T11:00:00Z"))
    .bind(at("2026-11-03T13:00:00Z"))
    .execute(&db.pool)
    .await
    .expect("insert pull request");
    s.change(&d3, &r1, "c3a", Some("2026-11-03T13:00:00Z"))
        .await; // 7200 s
    sqlx::query(r#"UPDATE deployment_changes SET "pullRequestId" = $1 WHERE "commitSha" = 'c3a'"#)
        .bind(&pr)
        .execute(&db.pool)
        .await
        .expect("link pull request");
    // s4 never deploys, twice: failed to deploy once.
    s.deployment(prod(
        DX,
        &r1,
        "s4",
        "2026-11-04T08:50:00Z",
        &[
            ("in_progress", "2026-11-04T08:55:00Z"),
            ("failure", "2026-11-04T09:00:00Z"),
        ],
        None,
    ))
    .await;
    s.deployment(prod(
        DX_RERUN,
        &r1,
        "s4",
        "2026-11-04T09:20:00Z",
        &[("error", "2026-11-04T09:30:00Z")],
        None,
    ))
    .await;
    // D4 is followed by an incident (label "Incident") at 14:00, closed 16:00: 7200 s.
    let d4 = s
        .deployment(prod(
            D4,
            &r1,
            "s5",
            "2026-11-04T09:50:00Z",
            &[("success", "2026-11-04T10:00:00Z")],
            Some(false),
        ))
        .await;
    s.change(&d4, &r1, "c5a", Some("2026-11-04T06:00:00Z"))
        .await; // 14400 s
    s.issue(&r1, 9001, &["bug"], "2026-11-04T12:00:00Z", None)
        .await;
    s.issue(
        &r1,
        9002,
        &["Incident", "sev1"],
        "2026-11-04T14:00:00Z",
        Some("2026-11-04T16:00:00Z"),
    )
    .await;
    // D5 is rolled back to s5 at 18:00: failed (c), live 28800 s.
    let d5 = s
        .deployment(prod(
            D5,
            &r1,
            "s6",
            "2026-11-05T09:50:00Z",
            &[("success", "2026-11-05T10:00:00Z")],
            Some(false),
        ))
        .await;
    s.commit(&r1, "c6a", "2026-11-05T07:00:00Z").await;
    s.change(&d5, &r1, "c6a", None).await; // 10800 s, from commits
    s.change(&d5, &r1, "c6b", Some("2026-11-05T09:00:00Z"))
        .await; // 3600 s
    let rollback = s
        .deployment(prod(
            ROLLBACK,
            &r1,
            "s5",
            "2026-11-05T17:50:00Z",
            &[("success", "2026-11-05T18:00:00Z")],
            Some(true),
        ))
        .await;
    // D6: an incident 169 h later is outside the default week.
    let d6 = s
        .deployment(prod(
            D6,
            &r1,
            "s7",
            "2026-11-06T09:50:00Z",
            &[("success", "2026-11-06T10:00:00Z")],
            Some(false),
        ))
        .await;
    s.change(&d6, &r1, "c7a", Some("2026-11-06T09:00:00Z"))
        .await; // 3600 s
    s.issue(&r1, 9003, &["incident"], "2026-11-13T11:00:00Z", None)
        .await;
    // Staging of r1: never production.
    s.deployment(Dep {
        github_id: S1,
        repo: &r1,
        sha: "s2",
        environment: "staging",
        production: false,
        created: "2026-11-03T07:50:00Z",
        statuses: &[("success", "2026-11-03T08:00:00Z")],
        is_rollback: None,
    })
    .await;
    s.deployment(Dep {
        github_id: S2,
        repo: &r1,
        sha: "s3",
        environment: "staging",
        production: false,
        created: "2026-11-03T13:50:00Z",
        statuses: &[
            ("success", "2026-11-03T14:00:00Z"),
            ("failure", "2026-11-03T14:30:00Z"),
        ],
        is_rollback: None,
    })
    .await;
    // r2's first production deployment: no predecessor, so no changes.
    s.deployment(prod(
        E1,
        &r2,
        "t1",
        "2026-11-07T09:50:00Z",
        &[("success", "2026-11-07T10:00:00Z")],
        None,
    ))
    .await;
    // Another team's repository.
    s.deployment(prod(
        F1,
        &r3,
        "u1",
        "2026-11-05T09:50:00Z",
        &[("success", "2026-11-05T10:00:00Z")],
        None,
    ))
    .await;
    World {
        db,
        team,
        r1,
        rollback,
    }
}

/// Percentiles to the microsecond: `percentile_cont` interpolates in floating point (0.9 × 7 is
/// 6.2999…), so 23040 comes back as 23039.999999999996.
fn rounded(mut m: DoraMetrics) -> DoraMetrics {
    let r = |x: &mut Option<f64>| *x = x.map(|v| (v * 1e6).round() / 1e6);
    r(&mut m.lead_time.median_seconds);
    r(&mut m.lead_time.p75_seconds);
    r(&mut m.lead_time.p90_seconds);
    r(&mut m.recovery_time.median_seconds);
    r(&mut m.recovery_time.p75_seconds);
    r(&mut m.recovery_time.p90_seconds);
    m
}

fn ids(list: &[i64]) -> Vec<String> {
    list.iter().map(i64::to_string).collect()
}

fn week(team: &str) -> DoraOptions {
    let mut o = DoraOptions::new(at("2026-11-02T00:00:00Z"), at("2026-11-09T00:00:00Z"));
    o.team_id = Some(team.to_owned());
    o
}

/// The hand-computed answer for the team's week (see each seed line's comment).
fn expected_week() -> DoraMetrics {
    use devmetrics_webhook_core::dora::*;
    DoraMetrics {
        deployment_frequency: DeploymentFrequency {
            deployments: 7,
            days: 6,
            per_week: 7.0,
            failed_to_deploy: 1,
            deployment_ids: ids(&[D1, D2, D3, D4, D5, D6, E1]),
            failed_to_deploy_ids: ids(&[DX]),
        },
        // Spans 3600 ×3, 7200 ×2, 10800, 14400, 43200 (percentile_cont: positions 3.5, 5.25, 6.3).
        lead_time: LeadTime {
            commits: 8,
            median_seconds: Some(7200.0),
            p75_seconds: Some(11700.0),
            p90_seconds: Some(23040.0),
            deployment_ids: ids(&[D1, D2, D3, D4, D5, D6]),
        },
        change_fail_rate: ChangeFailRate {
            failed: 3,
            total: 7,
            rate: Some(3.0 / 7.0),
            deployment_ids: ids(&[D2, D4, D5]),
        },
        // 7200 (incident), 10800 (status), 28800 (rollback).
        recovery_time: RecoveryTime {
            count: 3,
            median_seconds: Some(10800.0),
            p75_seconds: Some(19800.0),
            p90_seconds: Some(25200.0),
            deployment_ids: ids(&[D2, D4, D5]),
        },
        rework_rate: ReworkRate {
            rework: 3,
            total: 7,
            rate: Some(3.0 / 7.0),
            deployment_ids: ids(&[D3, D5, ROLLBACK]),
        },
    }
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

    // Staging by the same rules: S2 fails after success and nothing restores it.
    let mut staging = week(&w.team);
    staging.environment = Some("staging".into());
    let got = p.dora_metrics(&staging).await.unwrap();
    assert_eq!(got.deployment_frequency.deployment_ids, ids(&[S1, S2]));
    assert_eq!(got.deployment_frequency.days, 1);
    assert_eq!(got.change_fail_rate.deployment_ids, ids(&[S2]));
    assert_eq!(got.recovery_time.count, 0);
    assert_eq!(got.rework_rate.rework, 0);

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
