// The seeded organisation of `npm run bench:dora` (bench/dora.ts), as SQL statements: per
// repository and day one production deployment (with 4–12 shipped commits) and one staging
// deployment of the same sha; every 15th day a re-run of the same sha, every 20th a failure
// status after success, every 25th an incident issue, every 30th a deployment that never
// succeeds, every 50th a rollback; a `bug` issue every 10th day. Teams of 10 repositories.
// generate_series, so a million rows take seconds, not the hours webhooks would.

/** The organisation's rows for `repositories` repositories, one statement per table. */
export function seedSql(repositories: number): string[] {
  const sha = (expr: string) => `md5(${expr})`
  return [
    `INSERT INTO teams (id, name) SELECT 'team-' || t, 'Team ' || t FROM generate_series(1, ${repositories / 10}) t`,
    `INSERT INTO repositories (id, "githubId", "fullName", "teamId")
       SELECT 'repo-' || r, r, 'org/repo-' || r, 'team-' || ((r - 1) / 10 + 1) FROM generate_series(1, ${repositories}) r`,
    `CREATE TEMP TABLE plan AS
       SELECT r, d, timestamp '2026-01-01' + d * interval '1 day' + ((r * 37) % 600 + 60) * interval '1 minute' AS fs
       FROM generate_series(1, ${repositories}) r, generate_series(0, 364) d`,
    // slot 0 production, 1 staging, 2 re-run, 3 rollback, 4 never succeeded
    `CREATE TEMP TABLE dep AS
       SELECT 'd-' || r || '-' || d || '-0' AS id, r, d, ((r * 400 + d) * 8)::int8 AS gid, ${sha(`r || '-' || d`)} AS sha,
              'production' AS env, true AS prod, fs - interval '10 minutes' AS created, fs,
              CASE WHEN d % 20 = 5 THEN fs + interval '1 hour' END AS failed, false AS rollback FROM plan
       UNION ALL
       SELECT 'd-' || r || '-' || d || '-1', r, d, (r * 400 + d) * 8 + 1, ${sha(`r || '-' || d`)},
              'staging', false, fs - interval '190 minutes', fs - interval '3 hours', NULL, false FROM plan
       UNION ALL
       SELECT 'd-' || r || '-' || d || '-2', r, d, (r * 400 + d) * 8 + 2, ${sha(`r || '-' || d`)},
              'production', true, fs + interval '20 minutes', fs + interval '30 minutes', NULL, false FROM plan WHERE d % 15 = 3
       UNION ALL
       SELECT 'd-' || r || '-' || d || '-3', r, d, (r * 400 + d) * 8 + 3, ${sha(`r || '-' || (d - 1)`)},
              'production', true, fs + interval '290 minutes', fs + interval '5 hours', NULL, true FROM plan WHERE d % 50 = 7
       UNION ALL
       SELECT 'd-' || r || '-' || d || '-4', r, d, (r * 400 + d) * 8 + 4, ${sha(`r || 'x' || d`)},
              'production', true, fs - interval '70 minutes', NULL, fs - interval '1 hour', false FROM plan WHERE d % 30 = 11`,
    `INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment",
       "isProduction", "productionReason", "createdAt", "updatedAt", state, "firstSuccessAt", "failedAt", "finishedAt", "isRollback")
     SELECT id, 'repo-' || r, gid, sha, 'main', 'deploy', env, env, prod, CASE WHEN prod THEN 'github_flag' END,
            created, created, CASE WHEN failed IS NOT NULL THEN 'failure' ELSE 'success' END, fs, failed, coalesce(fs, failed), rollback
     FROM dep`,
    `INSERT INTO deployment_statuses (id, "githubId", "repoId", "deploymentId", state, environment, "createdAt")
       SELECT 's-' || id, gid * 2, 'repo-' || r, id, 'success', env, fs FROM dep WHERE fs IS NOT NULL
       UNION ALL
       SELECT 'f-' || id, gid * 2 + 1, 'repo-' || r, id, 'failure', env, failed FROM dep WHERE failed IS NOT NULL`,
    `INSERT INTO deployment_changes ("deploymentId", "commitSha", "repoId", "committedAt")
       SELECT 'd-' || r || '-' || d || '-0', ${sha(`r || '-' || d || '-' || i`)}, 'repo-' || r,
              fs - (i * 47 + (r * d) % 300) * interval '1 minute'
       FROM plan, generate_series(1, 4 + (r + d) % 9) i WHERE d > 0`,
    `INSERT INTO issues (id, "repoId", "githubId", number, title, state, "createdAt", "updatedAt", "closedAt", labels)
       SELECT 'i-' || r || '-' || d, 'repo-' || r, r * 1000 + d * 2 + 1, d * 2 + 1, 'outage', 'CLOSED'::"IssueState",
              fs + interval '2 hours', fs + interval '4 hours', fs + interval '4 hours', ARRAY['incident']
       FROM plan WHERE d % 25 = 9
       UNION ALL
       SELECT 'b-' || r || '-' || d, 'repo-' || r, r * 1000 + d * 2 + 2, d * 2 + 2, 'bug', 'OPEN'::"IssueState",
              fs + interval '3 hours', fs + interval '3 hours', NULL, ARRAY['bug']
       FROM plan WHERE d % 10 = 1`,
    'ANALYZE',
  ]
}

