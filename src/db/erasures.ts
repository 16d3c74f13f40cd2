import { sql } from 'kysely';
import type { Db, Tx } from './connect.ts';

/*
 * Query functions on data_export_erasures (sql/000011_erasure.sql): an
 * erasure's lifecycle, as an export's: pending (in its grace period,
 * cancellable) → processing (claimed, its claim renewed) → done, failed, or
 * cancelled. Every write after the claim is fenced on (id, claim_id).
 */

export type ErasureStatus = 'pending' | 'processing' | 'done' | 'failed' | 'cancelled';

/** Where each entity's erasure stands: its steps done, and the cursor of the one under way. */
export type ErasureProgress = Record<string, { done?: string[]; cursor?: unknown[]; counts?: Record<string, number> }>;

export interface ClaimedErasure {
  id: string;
  userId: string;
  claimId: string;
  attempts: number;
  reason: string;
  requestedBy: string;
  requestedAt: Date;
  progress: ErasureProgress;
}

export interface ErasureRow {
  id: string;
  userId: string;
  status: ErasureStatus;
  requestedAt: Date;
  notBefore: Date;
  dueAt: Date;
  reason: string;
  requestedBy: string;
  attempts: number;
  receipt: unknown;
  error: string | null;
  completedAt: Date | null;
}

/** Asks for an erasure through the SQL intake (the same function an application calls), as `by`. */
export async function requestErasure(
  db: Db,
  userId: string,
  options: { reason: string; by: string; graceSeconds: number; exportFirst: boolean },
): Promise<{
  id: string | null;
  outcome: 'created' | 'already-open' | 'already-erased' | 'no-such-user';
  exportRequestId: string | null;
}> {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config('exporter.actor', ${options.by}, true)`.execute(tx);
    const { rows } = await sql<{
      erasureId: string | null;
      outcome: 'created' | 'already-open' | 'already-erased' | 'no-such-user';
      exportRequestId: string | null;
    }>`
      select erasure_id, outcome, export_request_id
        from exporter_request_erasure(${userId}, ${options.reason}, make_interval(secs => ${options.graceSeconds}), ${options.exportFirst})`.execute(
      tx,
    );
    return { id: rows[0]!.erasureId, outcome: rows[0]!.outcome, exportRequestId: rows[0]!.exportRequestId };
  });
}

/** Cancels an erasure still in its grace period (pending, never started: one half done is carried to its end); the trail says who and why. */
export async function cancelErasure(db: Db, id: string, actor: { by: string; reason: string }): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config('exporter.actor', ${actor.by}, true), set_config('exporter.reason', ${actor.reason}, true)`.execute(
      tx,
    );
    const { rows } = await sql<{ id: string }>`
      update data_export_erasures set status = 'cancelled', completed_at = now()
       where id = ${id} and status = 'pending' and started_at is null returning id`.execute(tx);
    return rows.length > 0;
  });
}

/**
 * Takes the next erasure whose grace period is over (or one a dead worker
 * left processing, its claim lapsed), the earliest due first; undefined when
 * none may be taken. SKIP LOCKED: two workers never take the same one.
 */
export async function claimNextErasure(db: Db, claimTtlSeconds: number): Promise<ClaimedErasure | undefined> {
  const { rows } = await sql<ClaimedErasure>`
    update data_export_erasures e
       set status = 'processing', attempts = e.attempts + 1, claim_id = gen_random_uuid(),
           claim_expires_at = now() + make_interval(secs => ${claimTtlSeconds}), started_at = coalesce(e.started_at, now())
     where e.id = (select id from data_export_erasures
                    where (status = 'pending' and exporter_erasure_may_start(not_before, after_export, export_downloaded_at))
                       or (status = 'processing' and claim_expires_at < now())
                    order by due_at, requested_at limit 1 for update skip locked)
    returning e.id, e.user_id, e.claim_id, e.attempts, e.reason, e.requested_by, e.requested_at, e.progress`.execute(
    db,
  );
  return rows[0];
}

/** Keeps the claim alive; false when it was lost (taken over, or the erasure is gone). */
export async function renewErasureClaim(db: Db, e: ClaimedErasure, claimTtlSeconds: number): Promise<boolean> {
  const { rows } = await sql`
    update data_export_erasures set claim_expires_at = now() + make_interval(secs => ${claimTtlSeconds})
     where id = ${e.id} and claim_id = ${e.claimId} and status = 'processing' returning id`.execute(db);
  return rows.length > 0;
}

/** Records where the erasure stands, in the transaction that did the work it records. */
export async function saveErasureProgress(tx: Tx, e: ClaimedErasure, progress: ErasureProgress): Promise<void> {
  const { rows } = await sql`
    update data_export_erasures set progress = ${JSON.stringify(progress)}::jsonb
     where id = ${e.id} and claim_id = ${e.claimId} and status = 'processing' returning id`.execute(tx);
  if (rows.length === 0) throw new ErasureClaimLostError(`erasure ${e.id}: the claim was lost`);
}

export class ErasureClaimLostError extends Error {
  override name = 'ErasureClaimLostError';
}

/** Done: the receipt recorded, the person's key remembered by its hash (no export of them again), the values kept for the proof dropped. */
export async function finishErasure(db: Db, e: ClaimedErasure, receipt: unknown): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql`
      update data_export_erasures set status = 'done', receipt = ${JSON.stringify(receipt)}::jsonb, completed_at = now(),
             claim_id = null, claim_expires_at = null, error = null
       where id = ${e.id} and claim_id = ${e.claimId} and status = 'processing' returning id`.execute(tx);
    if (rows.length === 0) return false;
    await sql`insert into data_export_erased (user_sha256) values (encode(sha256(convert_to(${e.userId}, 'UTF8')), 'hex'))
              on conflict do nothing`.execute(tx);
    await sql`delete from data_export_erasure_values where erasure_id = ${e.id}`.execute(tx);
    return true;
  });
}

/** A failed attempt: back to pending after a backoff, or failed for good (`final`, or no attempts left). */
export async function failErasure(
  db: Db,
  e: ClaimedErasure,
  error: string,
  options: { final: boolean; maxAttempts: number; backoffSeconds: number },
): Promise<'pending' | 'failed' | 'lost'> {
  const { rows } = await sql<{ status: 'pending' | 'failed' }>`
    update data_export_erasures
       set status = case when ${options.final} or attempts >= ${options.maxAttempts} then 'failed' else 'pending' end,
           error = ${error}, claim_id = null, claim_expires_at = null,
           not_before = now() + make_interval(secs => ${options.backoffSeconds}),
           completed_at = case when ${options.final} or attempts >= ${options.maxAttempts} then now() end,
           receipt_email = case when ${options.final} or attempts >= ${options.maxAttempts} then null else receipt_email end
     where id = ${e.id} and claim_id = ${e.claimId} and status = 'processing' returning status`.execute(db);
  return rows[0]?.status ?? 'lost';
}

/** One erasure, for status and history. */
export async function findErasure(db: Db, id: string): Promise<ErasureRow | undefined> {
  const { rows } = await sql<ErasureRow>`
    select id, user_id, status, requested_at, not_before, due_at, reason, requested_by, attempts, receipt, error, completed_at
      from data_export_erasures where id = ${id}`.execute(db);
  return rows[0];
}
