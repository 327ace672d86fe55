// Compares what two implementations wrote into two databases that were seeded alike and fed
// the same deliveries: every row of events, commits, pull_requests, issues,
// pull_request_reviews, deployments, deployment_statuses and workflow_runs, matched by natural
// key (deliveryId, repository + sha, GitHub id, GitHub id + run attempt), with
// the columns the semantics fix. Row ids differ between databases, so references are compared
// through what they point at: a repository by its GitHub id, a user by email, a pull request by
// its GitHub id, a deployment by its GitHub id. Processing-time columns (createdAt, processedAt, the received times standing in
// for deletedAt / dismissedAt) are compared as present or absent only; lastError by its code.

import { Client } from 'pg'

interface TableSpec {
  table: string
  /** Selects `key` plus the compared columns, all as JSON-friendly values (bigints as text). */
  sql: string
}

const TABLES: TableSpec[] = [
  {
    table: 'events',
    sql: `SELECT e."deliveryId" AS key, r."githubId"::text AS repo, e.type, e.action, e."senderGithubId"::text AS sender,
                 e.processed, e."processedAt" IS NOT NULL AS "hasProcessedAt", e.attempts,
                 split_part(e."lastError", ':', 1) AS "errorCode", md5(e.payload::text) AS payload
          FROM events e LEFT JOIN repositories r ON r.id = e."repoId"`,
  },
  {
    table: 'commits',
    sql: `SELECT r."githubId"::text || '/' || c.sha AS key, c.message, u.email AS author, c."authorLogin", c."authorName",
                 c."authorEmail", c."authorIsBot", c.additions, c.deletions, c."filesChanged", c."committedAt"::text AS "committedAt"
          FROM commits c JOIN repositories r ON r.id = c."repoId" LEFT JOIN users u ON u.id = c."authorId"`,
  },
  {
    table: 'pull_requests',
    sql: `SELECT p."githubId"::text AS key, r."githubId"::text AS repo, p.number, p.title, p.state::text AS state, p.draft,
                 p."draftUpdatedAt"::text AS "draftUpdatedAt", u.email AS author, p."authorGithubId"::text AS "authorGithubId",
                 p."authorLogin", p."authorIsBot", p."headRef", p."baseRef", p.additions, p.deletions, p."filesChanged",
                 p."countsUpdatedAt"::text AS "countsUpdatedAt", p."mergedAt"::text AS "mergedAt", p."closedAt"::text AS "closedAt",
                 p."createdAt"::text AS "createdAt", p."updatedAt"::text AS "updatedAt", p."firstReviewAt"::text AS "firstReviewAt",
                 p."cycleTimeSeconds", p."mergeCommitSha", p."headSha"
          FROM pull_requests p JOIN repositories r ON r.id = p."repoId" LEFT JOIN users u ON u.id = p."authorId"`,
  },
  {
    table: 'issues',
    sql: `SELECT i."githubId"::text AS key, r."githubId"::text AS repo, i.number, i.title, i.state::text AS state, i."stateReason",
                 u.email AS author, i."authorGithubId"::text AS "authorGithubId", i."authorLogin", i."authorIsBot",
                 i."closedAt"::text AS "closedAt", i."createdAt"::text AS "createdAt", i."updatedAt"::text AS "updatedAt",
                 i."resolutionTimeSeconds", i."deletedAt" IS NOT NULL AS deleted, i.labels,
                 i."labelsUpdatedAt"::text AS "labelsUpdatedAt"
          FROM issues i JOIN repositories r ON r.id = i."repoId" LEFT JOIN users u ON u.id = i."authorId"`,
  },
  {
    table: 'pull_request_reviews',
    sql: `SELECT v."githubId"::text AS key, r."githubId"::text AS repo, p."githubId"::text AS "pullRequest", u.email AS reviewer,
                 v."reviewerGithubId"::text AS "reviewerGithubId", v."reviewerLogin", v."reviewerIsBot", v.state::text AS state,
                 v."commitId", v."submittedAt"::text AS "submittedAt", v."dismissedAt" IS NOT NULL AS dismissed, v."turnaroundSeconds"
          FROM pull_request_reviews v JOIN repositories r ON r.id = v."repoId" JOIN pull_requests p ON p.id = v."pullRequestId"
               LEFT JOIN users u ON u.id = v."reviewerId"`,
  },
  {
    table: 'deployments',
    // Every column the webhook path writes, derived ones included; the deploymentChanges job's
    // columns (isRollback, changesBaseSha, changesCompletedAt) must stay at their defaults.
    sql: `SELECT d."githubId"::text AS key, r."githubId"::text AS repo, d.sha, d.ref, d.task, d.environment,
                 d."originalEnvironment", d."deploymentEnvironment", d."productionEnvironment", d."isProduction",
                 d."productionReason", d."transientEnvironment", d.description, u.email AS creator,
                 d."creatorGithubId"::text AS "creatorGithubId", d."creatorLogin", d."creatorIsBot",
                 d."workflowRunId"::text AS "workflowRunId", d."createdAt"::text AS "createdAt", d."updatedAt"::text AS "updatedAt",
                 d.state, d."firstSuccessAt"::text AS "firstSuccessAt", d."failedAt"::text AS "failedAt",
                 d."finishedAt"::text AS "finishedAt", d."isRollback", d."changesBaseSha", d."changesCompletedAt"::text AS "changesCompletedAt"
          FROM deployments d JOIN repositories r ON r.id = d."repoId" LEFT JOIN users u ON u.id = d."creatorId"`,
  },
  {
    table: 'deployment_statuses',
    sql: `SELECT s."githubId"::text AS key, r."githubId"::text AS repo, d."githubId"::text AS deployment, s.state, s.environment,
                 s."environmentUrl", s."logUrl", s.description, s."creatorLogin", s."createdAt"::text AS "createdAt"
          FROM deployment_statuses s JOIN repositories r ON r.id = s."repoId" JOIN deployments d ON d.id = s."deploymentId"`,
  },
  {
    table: 'workflow_runs',
    sql: `SELECT w."githubId"::text || '/' || w."runAttempt" AS key, r."githubId"::text AS repo, w."workflowId"::text AS "workflowId",
                 w.name, w.path, w.event, w."headSha", w."headBranch", w.status, w.conclusion, w."runNumber", u.email AS actor,
                 w."actorGithubId"::text AS "actorGithubId", w."actorLogin", w."actorIsBot", w."createdAt"::text AS "createdAt",
                 w."runStartedAt"::text AS "runStartedAt", w."updatedAt"::text AS "updatedAt",
                 w."completedAt"::text AS "completedAt", w."pullRequestNumbers"
          FROM workflow_runs w JOIN repositories r ON r.id = w."repoId" LEFT JOIN users u ON u.id = w."actorId"`,
  },
]

type Row = Record<string, unknown>

async function readTables(url: string): Promise<Map<string, Map<string, Row>>> {
  const client = new Client({ connectionString: url, options: '-c TimeZone=UTC' })
  await client.connect()
  try {
    const out = new Map<string, Map<string, Row>>()
    for (const spec of TABLES) {
      const { rows } = await client.query<Row>(spec.sql)
      out.set(spec.table, new Map(rows.map((r) => [String(r.key), r])))
    }
    return out
  } finally {
    await client.end()
  }
}

/** Differences per table beyond which only a count is reported. */
const MAX_PER_TABLE = 20

/** The differences between what two databases hold (empty when they agree), as readable lines. */
export async function compareDatabases(urlA: string, urlB: string): Promise<string[]> {
  const [a, b] = await Promise.all([readTables(urlA), readTables(urlB)])
  const out: string[] = []
  for (const { table } of TABLES) {
    const rowsA = a.get(table)!
    const rowsB = b.get(table)!
    const diffs: string[] = []
    if (rowsA.size !== rowsB.size) diffs.push(`${table}: ${rowsA.size} rows in A, ${rowsB.size} in B`)
    for (const [key, rowA] of rowsA) {
      const rowB = rowsB.get(key)
      if (!rowB) {
        diffs.push(`${table} ${key}: only in A`)
        continue
      }
      for (const column of Object.keys(rowA)) {
        const va = JSON.stringify(rowA[column])
        const vb = JSON.stringify(rowB[column])
        if (va !== vb) diffs.push(`${table} ${key}: ${column} A=${va} B=${vb}`)
      }
    }
    for (const key of rowsB.keys()) if (!rowsA.has(key)) diffs.push(`${table} ${key}: only in B`)
    out.push(...diffs.slice(0, MAX_PER_TABLE))
    if (diffs.length > MAX_PER_TABLE) out.push(`${table}: … and ${diffs.length - MAX_PER_TABLE} more differences`)
  }
  return out
}
