//! The five DORA metrics (DESIGN.md, third part, "The five metrics"; docs/dora.md): deployment
//! frequency, change lead time, change fail rate, failed deployment recovery time and
//! deployment rework rate, over the successful production deployments of a time window.
//!
//! Why two statements and no loop in Rust: every figure is an aggregate over the window's
//! deployments, each joined to a bounded number of rows found through an index (its "next"
//! deployment, its first failure status after success, its first incident), so the cost grows
//! with the deployments of the window, not with the tables. Percentiles are PostgreSQL's
//! `percentile_cont`, as the contract says. The first statement judges every deployment
//! (frequency, change fail rate, recovery time, rework rate in one pass); the second joins the
//! deployments to what they shipped (lead time).
//!
//! The rules, precisely (docs/dora.md explains each choice):
//! - A deployment is measured when it is production (`isProduction`, or its environment is
//!   the `environment` option) and succeeded; a (repository, environment, sha) counts once, at
//!   its earliest `firstSuccessAt`, and is in the window when that instant is.
//! - "Next" of D: the earliest successful deployment of the same repository and environment
//!   with a later `firstSuccessAt` and another sha (a redeploy of D's own sha is D again).
//! - D failed when (a) D has a `failure`/`error` status after its first success and before
//!   the next; (b) an issue of D's repository labelled with an incident label was opened
//!   at or after D's first success, before the next, within `failureWindowHours` (D is live
//!   over `[first success, next's first success)`); (c) the next is a
//!   rollback (`isRollback`, set by the deploymentChanges job; or, with no changes recorded, so
//!   not compared or GitHub's API off, a redeploy of a sha live before D). The earliest cause
//!   (its start of recovery) decides D's recovery time. Rework counts each restoring
//!   deployment once, though it may restore two failed ones live from the same instant.

use crate::error::{ProcessingError, Result};
use crate::store::connections::Connections;
use crate::time::Timestamp;

/// What `doraMetrics` measures. `since`/`until` bound `firstSuccessAt` (half-open).
#[derive(Debug, Clone)]
pub struct DoraOptions {
    pub since: Timestamp,
    pub until: Timestamp,
    /// GitHub ids of the repositories; `None` for every repository (an empty list measures
    /// none).
    pub repository_github_ids: Option<Vec<i64>>,
    /// A team: its repositories (`repositories.teamId`). With `repository_github_ids`, the
    /// repositories in both.
    pub team_id: Option<String>,
    /// Measure this environment (exact name) instead of production.
    pub environment: Option<String>,
    /// Labels that make an issue an incident, compared case-insensitively.
    pub incident_labels: Vec<String>,
    /// How long after a deployment's first success an incident is blamed on it.
    pub failure_window_hours: f64,
}

impl DoraOptions {
    pub const DEFAULT_INCIDENT_LABEL: &'static str = "incident";
    pub const DEFAULT_FAILURE_WINDOW_HOURS: f64 = 168.0;
    /// Ten years: a bound that keeps the interval arithmetic in range.
    pub const MAX_FAILURE_WINDOW_HOURS: f64 = 87_600.0;

    /// A window with the contract's defaults for everything else.
    pub fn new(since: Timestamp, until: Timestamp) -> Self {
        DoraOptions {
            since,
            until,
            repository_github_ids: None,
            team_id: None,
            environment: None,
            incident_labels: vec![Self::DEFAULT_INCIDENT_LABEL.to_owned()],
            failure_window_hours: Self::DEFAULT_FAILURE_WINDOW_HOURS,
        }
    }

    /// `CONFIG_ERROR` for options that measure nothing meaningful.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(ProcessingError::Config(format!("doraMetrics: {m}")));
        if self.since >= self.until {
            return bad("since must be before until");
        }
        if !(self.failure_window_hours.is_finite()
            && self.failure_window_hours > 0.0
            && self.failure_window_hours <= Self::MAX_FAILURE_WINDOW_HOURS)
        {
            return bad("failureWindowHours must be a positive number of hours, at most 87600");
        }
        if self.team_id.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return bad("teamId must be a non-empty string");
        }
        if self
            .environment
            .as_deref()
            .is_some_and(|e| e.trim().is_empty())
        {
            return bad("environment must be a non-empty string");
        }
        if self.incident_labels.iter().any(|l| l.trim().is_empty()) {
            return bad("incidentLabels must hold non-empty strings");
        }
        if self
            .repository_github_ids
            .as_ref()
            .is_some_and(|ids| ids.iter().any(|&id| id < 1))
        {
            return bad("repositoryGithubIds must hold positive integers");
        }
        Ok(())
    }
}

/// `deploymentFrequency`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentFrequency {
    pub deployments: i64,
    /// Distinct UTC dates with at least one deployment.
    pub days: i64,
    /// deployments / ((until − since) / 7 days).
    pub per_week: f64,
    /// Production deployments that failed (a `failure`/`error` status) and never succeeded,
    /// by the time they failed, a (repository, environment, sha) once.
    pub failed_to_deploy: i64,
    /// GitHub ids of the deployments counted, by firstSuccessAt.
    pub deployment_ids: Vec<String>,
    /// GitHub ids of the deployments counted in `failed_to_deploy`.
    pub failed_to_deploy_ids: Vec<String>,
}

/// `leadTime`: firstSuccessAt − committedAt over the changes the deployments shipped.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadTime {
    pub commits: i64,
    pub median_seconds: Option<f64>,
    pub p75_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub deployment_ids: Vec<String>,
}

/// `changeFailRate`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeFailRate {
    pub failed: i64,
    pub total: i64,
    /// failed / total; `None` when total is 0.
    pub rate: Option<f64>,
    /// The failed deployments.
    pub deployment_ids: Vec<String>,
}

/// `recoveryTime`, over the failed deployments that recovered.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryTime {
    pub count: i64,
    pub median_seconds: Option<f64>,
    pub p75_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    /// The failed deployments whose recovery is measured.
    pub deployment_ids: Vec<String>,
}

/// `reworkRate`: deployments that restored a failed one, over all.
#[derive(Debug, Clone, PartialEq)]
pub struct ReworkRate {
    pub rework: i64,
    pub total: i64,
    pub rate: Option<f64>,
    /// The restoring deployments ("next" of the window's failed ones).
    pub deployment_ids: Vec<String>,
}

/// What `doraMetrics` resolves.
#[derive(Debug, Clone, PartialEq)]
pub struct DoraMetrics {
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_fail_rate: ChangeFailRate,
    pub recovery_time: RecoveryTime,
    pub rework_rate: ReworkRate,
}

/// Which deployments are "production" in the statements: a fixed fragment per mode (values
/// are bound), so each mode's statement has a plan that can use its partial index.
fn production(alias: &str, by_environment: bool) -> String {
    if by_environment {
        format!(r#"{alias}.environment = $4"#)
    } else {
        format!(r#"{alias}."isProduction""#)
    }
}

/// The repositories measured and the window's counted deployments, shared by both statements.
/// `scope` is materialized so the planner walks the few repositories' index ranges instead of
/// hashing a scan of every deployment.
/// Binds: $1 since, $2 until, $3 repository GitHub ids (or NULL), $4 environment (or NULL),
/// $7 team id (or NULL).
fn counted_ctes(by_environment: bool) -> String {
    let p = |a| production(a, by_environment);
    format!(
        r#"scope AS MATERIALIZED (
    SELECT r.id FROM repositories r
    WHERE ($3::int8[] IS NULL OR r."githubId" = ANY($3::int8[]))
      AND ($7::text IS NULL OR r."teamId" = $7::text)
),
counted AS (
    SELECT d.id, d."githubId", d."repoId", d.environment, d.sha, d."firstSuccessAt" AS fs
    FROM scope s JOIN deployments d ON d."repoId" = s.id
    WHERE {pd} AND d."firstSuccessAt" >= $1 AND d."firstSuccessAt" < $2
      AND NOT EXISTS (
          SELECT 1 FROM deployments e
          WHERE e."repoId" = d."repoId" AND e.environment = d.environment AND e.sha = d.sha
            AND {pe} AND e."firstSuccessAt" IS NOT NULL
            AND (e."firstSuccessAt" < d."firstSuccessAt"
                 OR (e."firstSuccessAt" = d."firstSuccessAt" AND e."githubId" < d."githubId")))
)"#,
        pd = p("d"),
        pe = p("e"),
    )
}

/// Frequency, change fail rate, recovery time and rework rate in one pass.
/// Extra binds: $5 incident labels (lower case), $6 failure window in hours.
fn judged_sql(by_environment: bool) -> String {
    let p = |a| production(a, by_environment);
    format!(
        r#"WITH {counted},
linked AS MATERIALIZED (
    SELECT c.*, n."githubId" AS next_id, n."firstSuccessAt" AS next_fs,
           (n.id IS NOT NULL AND (n."isRollback" OR (
               NOT EXISTS (SELECT 1 FROM deployment_changes x WHERE x."deploymentId" = n.id)
               AND EXISTS (
                   SELECT 1 FROM deployments o
                   WHERE o."repoId" = n."repoId" AND o.environment = n.environment
                     AND o.sha = n.sha AND {po} AND o."firstSuccessAt" IS NOT NULL
                     AND o."firstSuccessAt" < c.fs)))) AS rollback
    FROM counted c
    LEFT JOIN LATERAL (
        SELECT n.id, n."githubId", n."firstSuccessAt", n.sha, n."isRollback", n."repoId", n.environment
        FROM deployments n
        WHERE n."repoId" = c."repoId" AND n.environment = c.environment AND {pn}
          AND n."firstSuccessAt" > c.fs AND n.sha <> c.sha
        ORDER BY n."firstSuccessAt", n."githubId" LIMIT 1
    ) n ON true
),
caused AS (
    SELECT l.*, a.at AS a_at, b.at AS b_at, b.closed AS b_closed
    FROM linked l
    LEFT JOIN LATERAL (
        SELECT s."createdAt" AS at FROM deployment_statuses s
        WHERE s."deploymentId" = l.id AND lower(s.state) IN ('failure', 'error')
          AND (s."createdAt" > l.fs OR (s."createdAt" = l.fs AND EXISTS (
              SELECT 1 FROM deployment_statuses w
              WHERE w."deploymentId" = l.id AND w.state = 'success' AND w."createdAt" = l.fs
                AND w."githubId" < s."githubId")))
          AND (l.next_fs IS NULL OR s."createdAt" < l.next_fs)
        ORDER BY s."createdAt" LIMIT 1
    ) a ON true
    LEFT JOIN LATERAL (
        SELECT i."createdAt" AS at, i."closedAt" AS closed FROM issues i
        WHERE i."repoId" = l."repoId" AND cardinality(i.labels) > 0
          AND i."createdAt" >= l.fs AND i."createdAt" <= l.fs + $6::float8 * interval '1 hour'
          AND (l.next_fs IS NULL OR i."createdAt" < l.next_fs)
          AND i."deletedAt" IS NULL
          AND EXISTS (SELECT 1 FROM unnest(i.labels) x WHERE lower(x) = ANY($5::text[]))
        ORDER BY i."createdAt", i."githubId" LIMIT 1
    ) b ON true
),
judged AS (
    SELECT c.*,
           (c.rollback OR c.a_at IS NOT NULL OR c.b_at IS NOT NULL) AS failed,
           (CASE
                WHEN c.rollback THEN extract(epoch FROM c.next_fs - c.fs)
                WHEN c.a_at IS NOT NULL AND (c.b_at IS NULL OR c.a_at <= c.b_at)
                    THEN extract(epoch FROM c.next_fs - c.a_at)
                WHEN c.b_at IS NOT NULL THEN extract(epoch FROM least(c.next_fs, c.b_closed) - c.b_at)
            END)::float8 AS recovery
    FROM caused c
),
rework AS (
    SELECT DISTINCT j.next_id, j.next_fs FROM judged j WHERE j.failed AND j.next_id IS NOT NULL
),
failed_to_deploy AS (
    SELECT DISTINCT ON (d."repoId", d.environment, d.sha) d."githubId", d."failedAt"
    FROM scope s JOIN deployments d ON d."repoId" = s.id
    WHERE {pd} AND d."firstSuccessAt" IS NULL AND d."failedAt" >= $1 AND d."failedAt" < $2
    ORDER BY d."repoId", d.environment, d.sha, d."failedAt", d."githubId"
)
SELECT count(*),
       count(DISTINCT j.fs::date),
       coalesce(array_agg(j."githubId"::text ORDER BY j.fs, j."githubId"), '{{}}'),
       (SELECT count(*) FROM failed_to_deploy),
       (SELECT coalesce(array_agg(f."githubId"::text ORDER BY f."failedAt", f."githubId"), '{{}}')
          FROM failed_to_deploy f),
       count(*) FILTER (WHERE j.failed),
       coalesce(array_agg(j."githubId"::text ORDER BY j.fs, j."githubId") FILTER (WHERE j.failed), '{{}}'),
       count(j.recovery),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.recovery),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY j.recovery),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY j.recovery),
       coalesce(array_agg(j."githubId"::text ORDER BY j.fs, j."githubId")
                FILTER (WHERE j.recovery IS NOT NULL), '{{}}'),
       (SELECT count(*) FROM rework),
       (SELECT coalesce(array_agg(r.next_id::text ORDER BY r.next_fs, r.next_id), '{{}}')
          FROM rework r)
FROM judged j"#,
        counted = counted_ctes(by_environment),
        po = p("o"),
        pn = p("n"),
        pd = p("d"),
    )
}

/// Lead time: the counted deployments joined to what they shipped.
fn lead_time_sql(by_environment: bool) -> String {
    format!(
        r#"WITH {counted},
spans AS (
    SELECT c."githubId", c.fs,
           extract(epoch FROM c.fs - coalesce(ch."committedAt", (
               SELECT cm."committedAt" FROM commits cm
               WHERE cm."repoId" = ch."repoId" AND cm.sha = ch."commitSha")))::float8 AS span
    FROM counted c
    JOIN deployment_changes ch ON ch."deploymentId" = c.id
),
kept AS (SELECT * FROM spans WHERE span >= 0)
SELECT count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY span),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY span),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY span),
       (SELECT coalesce(array_agg(g::text ORDER BY f, g), '{{}}')
          FROM (SELECT DISTINCT k."githubId" AS g, k.fs AS f FROM kept k) d)
FROM kept"#,
        counted = counted_ctes(by_environment),
    )
}

type JudgedRow = (
    i64,
    i64,
    Vec<String>,
    i64,
    Vec<String>,
    i64,
    Vec<String>,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Vec<String>,
    i64,
    Vec<String>,
);

type LeadRow = (i64, Option<f64>, Option<f64>, Option<f64>, Vec<String>);

fn rate(part: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| part as f64 / total as f64)
}

/// Computes the five metrics (see the module doc). Reads only; safe to run again on another
/// connection when one breaks.
pub async fn compute(db: &Connections, options: &DoraOptions) -> Result<DoraMetrics> {
    options.validate()?;
    let by_environment = options.environment.is_some();
    let labels: Vec<String> = options
        .incident_labels
        .iter()
        .map(|l| l.to_lowercase())
        .collect();
    let judged = judged_sql(by_environment);
    let lead = lead_time_sql(by_environment);
    let mut tries = db.tries();
    let (j, l) = loop {
        let mut conn = tries.lease().await?;
        let result = async {
            let j: JudgedRow = sqlx::query_as(&judged)
                .bind(options.since)
                .bind(options.until)
                .bind(options.repository_github_ids.as_deref())
                .bind(options.environment.as_deref())
                .bind(&labels)
                .bind(options.failure_window_hours)
                .bind(options.team_id.as_deref())
                .fetch_one(&mut *conn)
                .await?;
            let l: LeadRow = sqlx::query_as(&lead)
                .bind(options.since)
                .bind(options.until)
                .bind(options.repository_github_ids.as_deref())
                .bind(options.environment.as_deref())
                .bind(None::<Vec<String>>)
                .bind(None::<f64>)
                .bind(options.team_id.as_deref())
                .fetch_one(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>((j, l))
        }
        .await;
        if let Some(rows) = tries.finish(conn, result)? {
            break rows;
        }
    };
    let window_weeks =
        (options.until - options.since).num_milliseconds() as f64 / (7.0 * 24.0 * 3600.0 * 1000.0);
    let total = j.0;
    Ok(DoraMetrics {
        deployment_frequency: DeploymentFrequency {
            deployments: total,
            days: j.1,
            per_week: total as f64 / window_weeks,
            failed_to_deploy: j.3,
            deployment_ids: j.2,
            failed_to_deploy_ids: j.4,
        },
        lead_time: LeadTime {
            commits: l.0,
            median_seconds: l.1,
            p75_seconds: l.2,
            p90_seconds: l.3,
            deployment_ids: l.4,
        },
        change_fail_rate: ChangeFailRate {
            failed: j.5,
            total,
            rate: rate(j.5, total),
            deployment_ids: j.6,
        },
        recovery_time: RecoveryTime {
            count: j.7,
            median_seconds: j.8,
            p75_seconds: j.9,
            p90_seconds: j.10,
            deployment_ids: j.11,
        },
        rework_rate: ReworkRate {
            rework: j.12,
            total,
            rate: rate(j.12, total),
            deployment_ids: j.13,
        },
    })
}

/// The statements as PostgreSQL plans them (`EXPLAIN`), for the bench and docs.
pub fn statements(by_environment: bool) -> [String; 2] {
    [judged_sql(by_environment), lead_time_sql(by_environment)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        crate::time::parse_github_time(s).unwrap()
    }

    #[test]
    fn options_are_checked() {
        let ok = DoraOptions::new(at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"));
        assert!(ok.validate().is_ok());
        let mut o = ok.clone();
        o.until = o.since;
        assert!(o.validate().is_err());
        let mut o = ok.clone();
        o.failure_window_hours = 0.0;
        assert!(o.validate().is_err());
        let mut o = ok.clone();
        o.failure_window_hours = f64::NAN;
        assert!(o.validate().is_err());
        let mut o = ok.clone();
        o.incident_labels = vec![" ".into()];
        assert!(o.validate().is_err());
        let mut o = ok;
        o.repository_github_ids = Some(vec![0]);
        let e = o.validate().unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::ConfigError);
    }

    #[test]
    fn rates_are_null_without_a_total() {
        assert_eq!(rate(0, 0), None);
        assert_eq!(rate(1, 4), Some(0.25));
    }
}
