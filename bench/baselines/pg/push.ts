// push → commits, for the pg baseline: one `INSERT … SELECT FROM UNNEST` of parallel arrays per
// push (deduplicated and sorted by sha in the plan), existing [repoId, sha] pairs skipped.
// Push payloads carry no line counts (additions/deletions stay 0) and no numeric author id.

import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import type { WriteContext } from '../shared/pipeline'
import { commitIdentities, PlannedCommit } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import { sqlTimestamp } from '../shared/time'
import { firstUser, UserMap } from '../shared/users'
import { execute } from './pool'
import { statement } from './statement'

/** A whole 2048-commit push fits one statement (11 array parameters whatever its size). */
const BATCH = 2048

export const INSERT_COMMITS = statement(
  ['repoId', 'ids', 'shas', 'messages', 'authorIds', 'logins', 'names', 'emails', 'bots', 'files', 'times'] as const,
  `INSERT INTO commits (id, "repoId", sha, message, "authorId", "authorLogin", "authorName",
                        "authorEmail", "authorIsBot", "filesChanged", "committedAt")
   SELECT u.id, @repoId, u.sha, u.message,
          COALESCE(u.author_id,
                   (SELECT us.id FROM users us WHERE us."githubLogin" = u.login),
                   (SELECT us.id FROM users us WHERE us.email = u.email)),
          u.login, u.name, u.email, u.bot, u.files, u.at
   FROM UNNEST(@ids::text[], @shas::text[], @messages::text[], @authorIds::text[], @logins::text[], @names::text[],
               @emails::text[], @bots::bool[], @files::int4[], @times::timestamp[])
        AS u(id, sha, message, author_id, login, name, email, bot, files, at)
   ON CONFLICT ("repoId", sha) DO NOTHING`,
)
export type CommitParam = (typeof INSERT_COMMITS.params)[number]

/** The arrays of one batch, authors mapped. */
export function commitValues(repoId: string, commits: PlannedCommit[], users: UserMap): Record<CommitParam, unknown> {
  return {
    repoId,
    ids: commits.map(() => randomUUID()),
    shas: commits.map((c) => c.sha),
    messages: commits.map((c) => c.message),
    authorIds: commits.map((c) => firstUser(users, commitIdentities(c))?.id ?? null),
    logins: commits.map((c) => c.login),
    names: commits.map((c) => c.name),
    emails: commits.map((c) => c.email),
    bots: commits.map((c) => c.isBot),
    files: commits.map((c) => c.filesChanged),
    times: commits.map((c) => sqlTimestamp(c.committedAt)),
  }
}

export async function writePush(client: PoolClient, commits: PlannedCommit[], ctx: WriteContext): Promise<RecordCounts> {
  let inserted = 0
  for (let i = 0; i < commits.length; i += BATCH) {
    const values = commitValues(ctx.repo.id, commits.slice(i, i + BATCH), ctx.users)
    inserted += (await execute(client, INSERT_COMMITS, values)).rowCount ?? 0
  }
  return { ...NO_RECORDS, commits: inserted }
}
