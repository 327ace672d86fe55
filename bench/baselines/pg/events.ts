// The `events` table for the pg baseline: one row per delivery, keyed by deliveryId. The claim
// runs first in the event's transaction and marks the row processed, so entity rows and the
// processed flag commit together; an earlier failed attempt (processed = false) is taken over.

import { randomUUID } from 'node:crypto'
import type { Pool, PoolClient } from 'pg'
import type { EventRecord } from '../shared/pipeline'
import { sqlTimestamp } from '../shared/time'
import { execute } from './pool'
import { statement } from './statement'

const COLUMNS = ['id', 'repoId', 'deliveryId', 'type', 'action', 'senderGithubId', 'payload', 'now', 'receivedAt'] as const
export type EventParam = (typeof COLUMNS)[number]

/** Inserts the event processed, or takes over an unprocessed attempt; no row back for a duplicate. */
export const CLAIM_EVENT = statement(
  COLUMNS,
  `INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                       processed, "processedAt", attempts, "receivedAt", "createdAt")
   VALUES (@id, @repoId, @deliveryId, @type, @action, @senderGithubId, @payload::jsonb, true, @now, 1, @receivedAt, @now)
   ON CONFLICT ("deliveryId") DO UPDATE
     SET processed = true, "processedAt" = EXCLUDED."processedAt", attempts = events.attempts + 1, "lastError" = NULL,
         payload = EXCLUDED.payload, "repoId" = EXCLUDED."repoId", type = EXCLUDED.type,
         action = EXCLUDED.action, "senderGithubId" = EXCLUDED."senderGithubId"
     WHERE events.processed = false
   RETURNING id`,
)

/** An untracked event, stored processed; a redelivery only counts the attempt. */
export const RECORD_IGNORED = statement(
  COLUMNS,
  `INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                       processed, "processedAt", attempts, "receivedAt", "createdAt")
   VALUES (@id, @repoId, @deliveryId, @type, @action, @senderGithubId, @payload::jsonb, true, @now, 1, @receivedAt, @now)
   ON CONFLICT ("deliveryId") DO UPDATE SET attempts = events.attempts + 1
   RETURNING id`,
)

const RECORD_FAILURE = statement(
  [...COLUMNS, 'lastError'] as const,
  `INSERT INTO events (id, "repoId", "deliveryId", type, action, "senderGithubId", payload,
                       processed, attempts, "lastError", "receivedAt", "createdAt")
   VALUES (@id, @repoId, @deliveryId, @type, @action, @senderGithubId, @payload::jsonb, false, 1, @lastError, @receivedAt, @now)
   ON CONFLICT ("deliveryId") DO UPDATE
     SET attempts = events.attempts + 1, "lastError" = EXCLUDED."lastError",
         payload = EXCLUDED.payload, "repoId" = EXCLUDED."repoId", type = EXCLUDED.type,
         action = EXCLUDED.action, "senderGithubId" = EXCLUDED."senderGithubId"
     WHERE events.processed = false`,
)

/** The values of an events row (a fresh id each call). */
export function eventValues(ev: EventRecord, now: number): Record<EventParam, unknown> {
  return {
    id: randomUUID(),
    repoId: ev.repoId,
    deliveryId: ev.deliveryId,
    type: ev.type,
    action: ev.action,
    senderGithubId: ev.senderGithubId,
    payload: ev.payloadText,
    now: sqlTimestamp(now),
    receivedAt: sqlTimestamp(ev.receivedAt),
  }
}

export async function claimEvent(client: PoolClient, ev: EventRecord, now: number): Promise<string | null> {
  const { rows } = await execute<EventParam, { id: string }>(client, CLAIM_EVENT, eventValues(ev, now))
  return rows[0]?.id ?? null
}

export async function recordIgnored(pool: Pool, ev: EventRecord, now: number): Promise<string> {
  const { rows } = await execute<EventParam, { id: string }>(pool, RECORD_IGNORED, eventValues(ev, now))
  return rows[0].id
}

export async function recordFailure(pool: Pool, ev: EventRecord, message: string, now: number): Promise<void> {
  await execute(pool, RECORD_FAILURE, { ...eventValues(ev, now), lastError: message })
}
