//! The DORA scenario with hand-computed answers (docs/dora.md, "The five metrics"), as data, so
//! that it can be stored directly with SQL (tests/dora.rs) or delivered as webhooks in any
//! order (tests/dora_webhooks.rs) and give the same figures.
//!
//! A week (2026-11-02 .. 11-09) of team "payments" (repositories 1 and 2) beside team "search"
//! (repository 3): production and staging deployments, a re-run of the same sha, a deployment
//! that never succeeds (twice), one that fails after its success, incidents, a rollback, a
//! first deployment with no predecessor, a commit whose date only `commits` knows, a pull request
//! whose merge commit ships. Each line's comment gives its part of the answer.

use super::push::sha;
use devmetrics_webhook_core::dora::{
    ChangeFailRate, DeploymentFrequency, DoraMetrics, LeadTime, RecoveryTime, ReworkRate,
};

/// One deployment and its statuses (`(state, created_at)`, any order).
pub struct Dep {
    pub github_id: i64,
    /// 1, 2 or 3: the repository's GitHub id.
    pub repo: i64,
    /// The commit deployed, as `push::sha(n)`.
    pub sha: u64,
    pub environment: &'static str,
    pub production: bool,
    pub created: &'static str,
    pub statuses: &'static [(&'static str, &'static str)],
    /// What the deploymentChanges job says: compare `behind`.
    pub is_rollback: bool,
    /// What it shipped: (`push::sha(n)`, committedAt; None leaves it to `commits`).
    pub changes: &'static [(u64, Option<&'static str>)],
}

/// One issue of a repository.
pub struct Issue {
    pub repo: i64,
    pub github_id: i64,
    pub labels: &'static [&'static str],
    pub created: &'static str,
    pub closed: Option<&'static str>,
}

pub const D0: i64 = 100;
pub const D1: i64 = 101;
pub const D1_RERUN: i64 = 102;
pub const D2: i64 = 103;
pub const D3: i64 = 104;
pub const DX: i64 = 105;
pub const DX_RERUN: i64 = 106;
pub const D4: i64 = 107;
pub const D5: i64 = 108;
pub const ROLLBACK: i64 = 109;
pub const D6: i64 = 110;
pub const D2_RERUN: i64 = 111;
pub const E1: i64 = 201;
pub const F1: i64 = 301;
pub const S1: i64 = 401;
pub const S2: i64 = 402;

const fn prod(
    github_id: i64,
    sha: u64,
    created: &'static str,
    statuses: &'static [(&'static str, &'static str)],
    changes: &'static [(u64, Option<&'static str>)],
) -> Dep {
    Dep {
        github_id,
        repo: 1,
        sha,
        environment: "production",
        production: true,
        created,
        statuses,
        is_rollback: false,
        changes,
    }
}

/// The commit that only `commits` dates (2026-11-05T07:00:00Z).
pub const UNDATED_CHANGE: u64 = 0xc6a;
pub const UNDATED_CHANGE_AT: &str = "2026-11-05T07:00:00Z";
/// The merge commit of pull request #7, shipped by D3.
pub const MERGE_COMMIT: u64 = 0xc3a;

pub const DEPLOYMENTS: &[Dep] = &[
    // Before the window: the predecessor of D1.
    prod(
        D0,
        0x50,
        "2026-11-01T09:50:00Z",
        &[("success", "2026-11-01T10:00:00Z")],
        &[],
    ),
    // An error, then its success: an error before success is no failure.
    prod(
        D1,
        0x51,
        "2026-11-02T09:50:00Z",
        &[
            ("error", "2026-11-02T09:55:00Z"),
            ("success", "2026-11-02T10:00:00Z"),
        ],
        &[
            (0xc1a, Some("2026-11-01T22:00:00Z")), // 43200 s
            (0xc1b, Some("2026-11-02T08:00:00Z")), // 7200 s
        ],
    ),
    // A re-run of s1: counted once, not D1's next, its changes not counted again.
    prod(
        D1_RERUN,
        0x51,
        "2026-11-02T10:50:00Z",
        &[("success", "2026-11-02T11:00:00Z")],
        &[
            (0xc1a, Some("2026-11-01T22:00:00Z")),
            (0xc1b, Some("2026-11-02T08:00:00Z")),
        ],
    ),
    // D2 fails after its success (12:00), but the incident opened at 10:30 (closed 11:30) is its
    // earliest cause: recovery 3600 s (and not D1's: D2 was live by then).
    prod(
        D2,
        0x52,
        "2026-11-03T09:50:00Z",
        &[
            ("success", "2026-11-03T10:00:00Z"),
            ("failure", "2026-11-03T12:00:00Z"),
        ],
        &[
            (0xc2a, Some("2026-11-03T09:00:00Z")), // 3600 s
            (0xc2b, Some("2026-11-03T11:00:00Z")), // after the deploy: left out
        ],
    ),
    // A re-run of s2 at 11:00 does not end D2's time live; D3 (15:00) is its next.
    prod(
        D2_RERUN,
        0x52,
        "2026-11-03T10:50:00Z",
        &[("success", "2026-11-03T11:00:00Z")],
        &[],
    ),
    // D3 restores D2. Its failure status comes after D4 went live: it fails nothing.
    prod(
        D3,
        0x53,
        "2026-11-03T14:50:00Z",
        &[
            ("success", "2026-11-03T15:00:00Z"),
            ("failure", "2026-11-04T11:00:00Z"),
        ],
        &[(MERGE_COMMIT, Some("2026-11-03T13:00:00Z"))], // 7200 s
    ),
    // s4 never deploys, twice: failed to deploy once.
    prod(
        DX,
        0x54,
        "2026-11-04T08:50:00Z",
        &[
            ("in_progress", "2026-11-04T08:55:00Z"),
            ("failure", "2026-11-04T09:00:00Z"),
        ],
        &[],
    ),
    prod(
        DX_RERUN,
        0x54,
        "2026-11-04T09:20:00Z",
        &[("error", "2026-11-04T09:30:00Z")],
        &[],
    ),
    // D4 is followed by an incident at 14:00, closed 16:00: 7200 s.
    prod(
        D4,
        0x55,
        "2026-11-04T09:50:00Z",
        &[("success", "2026-11-04T10:00:00Z")],
        &[(0xc5a, Some("2026-11-04T06:00:00Z"))], // 14400 s
    ),
    // D5 is rolled back to s5 at 18:00: failed (c), live 28800 s.
    prod(
        D5,
        0x56,
        "2026-11-05T09:50:00Z",
        &[("success", "2026-11-05T10:00:00Z")],
        &[
            (UNDATED_CHANGE, None),                // 10800 s, from commits
            (0xc6b, Some("2026-11-05T09:00:00Z")), // 3600 s
        ],
    ),
    Dep {
        is_rollback: true,
        ..prod(
            ROLLBACK,
            0x55,
            "2026-11-05T17:50:00Z",
            &[("success", "2026-11-05T18:00:00Z")],
            &[],
        )
    },
    // D6: an incident 169 h later is outside the default week.
    prod(
        D6,
        0x57,
        "2026-11-06T09:50:00Z",
        &[("success", "2026-11-06T10:00:00Z")],
        &[(0xc7a, Some("2026-11-06T09:00:00Z"))], // 3600 s
    ),
    // Staging of repository 1: never production.
    Dep {
        environment: "staging",
        production: false,
        ..prod(
            S1,
            0x52,
            "2026-11-03T07:50:00Z",
            &[("success", "2026-11-03T08:00:00Z")],
            &[],
        )
    },
    Dep {
        environment: "staging",
        production: false,
        ..prod(
            S2,
            0x53,
            "2026-11-03T13:50:00Z",
            &[
                ("success", "2026-11-03T14:00:00Z"),
                ("failure", "2026-11-03T14:30:00Z"),
            ],
            &[],
        )
    },
    // Repository 2's first production deployment: no predecessor, so no changes.
    Dep {
        repo: 2,
        ..prod(
            E1,
            0x71,
            "2026-11-07T09:50:00Z",
            &[("success", "2026-11-07T10:00:00Z")],
            &[],
        )
    },
    // Another team's repository.
    Dep {
        repo: 3,
        ..prod(
            F1,
            0x81,
            "2026-11-05T09:50:00Z",
            &[("success", "2026-11-05T10:00:00Z")],
            &[],
        )
    },
];

pub const ISSUES: &[Issue] = &[
    Issue {
        repo: 1,
        github_id: 9000,
        labels: &["incident"],
        created: "2026-11-03T10:30:00Z",
        closed: Some("2026-11-03T11:30:00Z"),
    },
    Issue {
        repo: 1,
        github_id: 9001,
        labels: &["bug"],
        created: "2026-11-04T12:00:00Z",
        closed: None,
    },
    Issue {
        repo: 1,
        github_id: 9002,
        labels: &["Incident", "sev1"],
        created: "2026-11-04T14:00:00Z",
        closed: Some("2026-11-04T16:00:00Z"),
    },
    Issue {
        repo: 1,
        github_id: 9003,
        labels: &["incident"],
        created: "2026-11-13T11:00:00Z",
        closed: None,
    },
];

pub fn ids(list: &[i64]) -> Vec<String> {
    list.iter().map(i64::to_string).collect()
}

/// Percentiles to the microsecond: `percentile_cont` interpolates in floating point (0.9 × 7 is
/// 6.2999…), so 23040 comes back as 23039.999999999996.
pub fn rounded(mut m: DoraMetrics) -> DoraMetrics {
    let r = |x: &mut Option<f64>| *x = x.map(|v| (v * 1e6).round() / 1e6);
    r(&mut m.lead_time.median_seconds);
    r(&mut m.lead_time.p75_seconds);
    r(&mut m.lead_time.p90_seconds);
    r(&mut m.recovery_time.median_seconds);
    r(&mut m.recovery_time.p75_seconds);
    r(&mut m.recovery_time.p90_seconds);
    m
}

/// The hand-computed answer for team "payments" over the week.
pub fn expected_week() -> DoraMetrics {
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
        // 3600 (D2's incident, earlier than its failure status), 7200 (D4's incident, closed
        // before the next deployment), 28800 (D5, rolled back): positions 1, 1.5, 1.8.
        recovery_time: RecoveryTime {
            count: 3,
            median_seconds: Some(7200.0),
            p75_seconds: Some(18000.0),
            p90_seconds: Some(24480.0),
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

/// GitHub ids of the repositories' rows, and the teams.
pub struct Teams {
    pub payments: String,
    /// DevMetrics ids of repositories 1, 2, 3.
    pub repos: [String; 3],
}

/// Teams and repositories 1–3.
pub async fn teams(db: &super::TestDb) -> Teams {
    let payments = db.insert_team("payments").await;
    let search = db.insert_team("search").await;
    let repos = [
        db.insert_repository(1, Some(&payments)).await,
        db.insert_repository(2, Some(&payments)).await,
        db.insert_repository(3, Some(&search)).await,
    ];
    Teams { payments, repos }
}

/// What the deploymentChanges job leaves: `deployment_changes` rows, `isRollback`, the commit
/// only `commits` dates, and the pull request whose merge commit D3 shipped. Run after the
/// deployments exist.
pub async fn store_changes(db: &super::TestDb, teams: &Teams) {
    let repo1 = &teams.repos[0];
    sqlx::query(
        r#"INSERT INTO commits (id, "repoId", sha, message, "authorName", "authorEmail", "committedAt")
           VALUES ($1, $2, $3, 'm', 'a', 'a@example.com', $4)"#,
    )
    .bind(super::new_id())
    .bind(repo1)
    .bind(sha(UNDATED_CHANGE))
    .bind(at(UNDATED_CHANGE_AT))
    .execute(&db.pool)
    .await
    .expect("insert commit");
    let pr = super::new_id();
    sqlx::query(
        r#"INSERT INTO pull_requests (id, "repoId", "githubId", number, title, state, "createdAt",
             "updatedAt", "mergedAt", "mergeCommitSha")
           VALUES ($1, $2, 7007, 7, 'fix', 'MERGED', $3, $4, $4, $5)"#,
    )
    .bind(&pr)
    .bind(repo1)
    .bind(at("2026-11-03T11:00:00Z"))
    .bind(at("2026-11-03T13:00:00Z"))
    .bind(sha(MERGE_COMMIT))
    .execute(&db.pool)
    .await
    .expect("insert pull request");
    for d in DEPLOYMENTS {
        let id: String = sqlx::query_scalar(r#"SELECT id FROM deployments WHERE "githubId" = $1"#)
            .bind(d.github_id)
            .fetch_one(&db.pool)
            .await
            .expect("the deployment is stored");
        sqlx::query(r#"UPDATE deployments SET "isRollback" = $2 WHERE id = $1"#)
            .bind(&id)
            .bind(d.is_rollback)
            .execute(&db.pool)
            .await
            .expect("mark rollback");
        for (commit, committed) in d.changes {
            sqlx::query(
                r#"INSERT INTO deployment_changes ("deploymentId", "commitSha", "repoId", "committedAt", "pullRequestId")
                   VALUES ($1, $2, $3, $4, $5)"#,
            )
            .bind(&id)
            .bind(sha(*commit))
            .bind(&teams.repos[(d.repo - 1) as usize])
            .bind(committed.map(at))
            .bind((*commit == MERGE_COMMIT).then_some(&pr))
            .execute(&db.pool)
            .await
            .expect("insert change");
        }
    }
}

pub fn at(s: &str) -> devmetrics_webhook_core::time::Timestamp {
    devmetrics_webhook_core::time::parse_github_time(s).unwrap_or_else(|| panic!("bad time {s}"))
}
