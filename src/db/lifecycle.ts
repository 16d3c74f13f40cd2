import { sql } from 'kysely';
import { type Actor, asActor } from './audit.ts';
import { stuckClaim } from './claims.ts';
import type { Db, Tx } from './connect.ts';
import { isUniqueViolation } from './connect.ts';
import type { RequestStatus } from './schema.ts';

/**
 * The end of a request's life: expiry, revocation, requeue and pruning.
 * Retiring a request deletes its archive *before* the row says so, inside the
 * transaction that locks the row: a crash in between leaves a row that the
 * next run retires again (deleting an object twice is harmless), never a row
 * that says "gone" over an object that is still there.
 */

export interface RetiringRequest {
  id: string;
  userId: string;
  objectKey: string | null;
  status: RequestStatus;
}

/**
 * Locks up to `limit` ready requests whose link has expired by the database's
 * clock, skipping any that another expire run holds, and passes them to
 * `retire` inside the transaction.
 */
export async function withExpiredBatch<T>(
  db: Db,
  limit: number,
  retire: (tx: Tx, rows: RetiringRequest[]) => Promise<T>,
): Promise<T> {
  return db
    .transaction()
    .execute(async (tx) => retire(tx, await expired(tx, limit).forUpdate().skipLocked().execute()));
}

/** What expire would do, without locking: for --dry-run. */
export async function listExpired(db: Db, limit: number): Promise<RetiringRequest[]> {
  return expired(db, limit).execute();
}

function expired(db: Db | Tx, limit: number) {
  return db
    .selectFrom('dataExportRequests')
    .select(['id', 'userId', 'objectKey', 'status'])
    .where('status', '=', 'ready')
    .where('expiresAt', '<', sql<Date>`now()`)
    .orderBy('expiresAt')
    .limit(limit);
}

/** Locks the given requests (waiting for a worker's short updates, never for a whole build). */
export async function lockRequests(tx: Tx, ids: readonly string[]): Promise<RetiringRequest[]> {
  if (ids.length === 0) return [];
  return tx
    .selectFrom('dataExportRequests')
    .select(['id', 'userId', 'objectKey', 'status'])
    .where('id', 'in', ids)
    .forUpdate()
    .execute();
}

/** Ends requests as failed with `error` ('expired', 'revoked'); the link is cleared. */
export async function markRetired(tx: Tx, ids: readonly string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .updateTable('dataExportRequests')
    .set({
      status: 'failed',
      error,
      downloadUrl: null,
      claimId: null,
      claimExpiresAt: null,
      completedAt: sql<Date>`coalesce(completed_at, now())`,
    })
    .where('id', 'in', ids)
    .execute();
}

/** Which of these keys a request still needs: ready ones, and processing ones (a rebuild in flight). */
export async function keysInUse(db: Db, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .selectFrom('dataExportRequests')
    .select('objectKey')
    .where('objectKey', 'in', keys)
    .where('status', 'in', ['ready', 'processing'])
    .execute();
  return new Set(rows.map((r) => r.objectKey!));
}

export type RequeueResult = { id: string; outcome: 'requeued' } | { id: string; outcome: 'refused'; reason: string };

/**
 * A failed request, or one stuck in processing (its claim expired), back to
 * pending with its attempts reset. Ready, pending and live requests are left alone.
 */
export async function requeue(db: Db, ids: readonly string[], actor: Actor): Promise<RequeueResult[]> {
  const requeued = new Set<string>();
  const blocked = new Set<string>();
  for (const id of ids) {
    try {
      // Its own transaction each: one refused by the unique index leaves the others requeued (and their events with the actor).
      const row = await asActor(db, actor, (tx) =>
        tx
          .updateTable('dataExportRequests')
          .set({
            status: 'pending',
            attempts: 0,
            error: null,
            claimId: null,
            claimExpiresAt: null,
            startedAt: null,
            completedAt: null,
            downloadUrl: null,
            notBefore: null,
          })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('status', '=', 'failed'), stuckClaim(eb)]))
          .returning('id')
          .executeTakeFirst(),
      );
      if (row) requeued.add(row.id);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      blocked.add(id);
    }
  }
  const refused = ids.filter((id) => !requeued.has(id));
  const others =
    refused.length === 0
      ? []
      : await db.selectFrom('dataExportRequests').select(['id', 'status']).where('id', 'in', refused).execute();
  const statusOf = new Map(others.map((r) => [r.id, r.status]));
  return ids.map((id): RequeueResult => {
    if (requeued.has(id)) return { id, outcome: 'requeued' };
    if (blocked.has(id)) return { id, outcome: 'refused', reason: 'the user has another open request' };
    const status = statusOf.get(id);
    const reason =
      status === undefined
        ? 'no such request'
        : status === 'processing'
          ? 'a live worker is building it'
          : status === 'ready'
            ? 'it is ready (use `fulfill --request` to rebuild it, or `revoke`)'
            : 'it is already pending';
    return { id, outcome: 'refused', reason };
  });
}

/**
 * Deletes failed request rows older than the cut-off, in batches. Pending,
 * processing and ready requests are never pruned.
 */
export async function pruneFailed(db: Db, olderThanSeconds: number, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom('dataExportRequests')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('dataExportRequests')
          .select('id')
          .where('status', '=', 'failed')
          .where(
            sql<Date>`coalesce(completed_at, requested_at)`,
            '<',
            sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`,
          )
          .limit(batch),
      )
      .executeTakeFirst();
    const n = Number(result.numDeletedRows);
    total += n;
    if (n < batch) return total;
  }
}

export async function countPrunable(db: Db, olderThanSeconds: number): Promise<number> {
  const row = await db
    .selectFrom('dataExportRequests')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('status', '=', 'failed')
    .where(
      sql<Date>`coalesce(completed_at, requested_at)`,
      '<',
      sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`,
    )
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Locks up to `limit` remembered archives of deleted requests and passes
 * their keys to `remove`; those it returns are forgotten when the
 * transaction commits.
 */
export async function withDeletedObjects(
  db: Db,
  limit: number,
  remove: (keys: string[]) => Promise<string[]>,
): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('dataExportDeletedObjects')
      .select('objectKey')
      .orderBy('deletedAt')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    const removed = await remove(rows.map((r) => r.objectKey));
    if (removed.length > 0) await tx.deleteFrom('dataExportDeletedObjects').where('objectKey', 'in', removed).execute();
    return removed.length;
  });
}

export async function listDeletedObjects(db: Db, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('dataExportDeletedObjects')
    .select('objectKey')
    .orderBy('deletedAt')
    .limit(limit)
    .execute();
  return rows.map((r) => r.objectKey);
}
