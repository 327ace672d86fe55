// The event-record service of the original plan (TASK-021: createEvent, markEventProcessed),
// with Prisma Client: the event row is created (or an earlier failed attempt taken over) at the
// start of the event's interactive transaction and marked processed at its end, so both commit
// together with the entity rows. A processed row makes the delivery a duplicate.

import type { EventRecord } from '../shared/pipeline'
import type { PrismaDb } from './client'

function columns(ev: EventRecord) {
  return {
    repoId: ev.repoId,
    type: ev.type,
    action: ev.action,
    senderGithubId: ev.senderGithubId === null ? null : BigInt(ev.senderGithubId),
    payload: ev.payload(),
  }
}

/** The event's id, or null when the delivery was already processed. */
export async function createEvent(tx: PrismaDb, ev: EventRecord, now: number): Promise<string | null> {
  const existing = await tx.event.findUnique({ where: { deliveryId: ev.deliveryId }, select: { id: true, processed: true } })
  if (existing?.processed) return null
  if (existing) {
    await tx.event.update({ where: { id: existing.id }, data: { ...columns(ev), attempts: { increment: 1 }, lastError: null } })
    return existing.id
  }
  const created = await tx.event.create({
    data: { ...columns(ev), deliveryId: ev.deliveryId, attempts: 1, receivedAt: new Date(ev.receivedAt), createdAt: new Date(now) },
    select: { id: true },
  })
  return created.id
}

export async function markEventProcessed(tx: PrismaDb, id: string, now: number): Promise<void> {
  await tx.event.update({ where: { id }, data: { processed: true, processedAt: new Date(now) } })
}

/** An untracked event, stored processed; a redelivery only counts the attempt. */
export async function recordIgnored(prisma: PrismaDb, ev: EventRecord, now: number): Promise<string> {
  const row = await prisma.event.upsert({
    where: { deliveryId: ev.deliveryId },
    create: {
      ...columns(ev),
      deliveryId: ev.deliveryId,
      processed: true,
      processedAt: new Date(now),
      attempts: 1,
      receivedAt: new Date(ev.receivedAt),
      createdAt: new Date(now),
    },
    update: { attempts: { increment: 1 } },
    select: { id: true },
  })
  return row.id
}

/** Leaves a visible failure on an unprocessed (or new) row; never touches a processed one. */
export async function recordFailure(prisma: PrismaDb, ev: EventRecord, message: string, now: number): Promise<void> {
  const { count } = await prisma.event.updateMany({
    where: { deliveryId: ev.deliveryId, processed: false },
    data: { ...columns(ev), attempts: { increment: 1 }, lastError: message },
  })
  if (count > 0) return
  await prisma.event
    .create({
      data: { ...columns(ev), deliveryId: ev.deliveryId, attempts: 1, lastError: message, receivedAt: new Date(ev.receivedAt), createdAt: new Date(now) },
    })
    // The row exists and is processed: nothing to record.
    .catch((e: { code?: string }) => {
      if (e.code !== 'P2002') throw e
    })
}
