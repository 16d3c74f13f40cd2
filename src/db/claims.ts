import { type ExpressionBuilder, sql } from 'kysely';
import type { Db } from './connect.ts';
import { isUniqueViolation } from './connect.ts';
import type { Database } from './schema.ts';

/*
 * Claims: how a worker takes a request (the next claimable one, or given
 * ids), and the two rules of a claim, each said once.
 */

/**
 * The two rules of a claim.
 *
 * A stuck claim: the request is processing, and its worker stopped renewing
 * the claim before it lapsed (it died, hung, or lost its database). Another
 * worker may take the request over; status and requeue list and reset it.
 */
export function stuckClaim(eb: ExpressionBuilder<Database, 'dataExportRequests'>) {
  return eb.and([eb('status', '=', 'processing'), eb('claimExpiresAt', '<', sql<Date>`now()`)]);
}

/**
 * An update of a request this worker still holds: every write a worker makes
 * after claiming goes through here, fenced on (id, claim_id) while it is
 * processing. If the claim lapsed and another worker took the request over,
 * or it was revoked or deleted, the update matches no row and the late
 * worker knows it lost.
 */
export function updateHeld(db: Db, id: string, claimId: string) {
  return db
    .updateTable('dataExportRequests')
    .where('id', '=', id)
    .where('claimId', '=', claimId)
    .where('status', '=', 'processing');
}

export interface ClaimedRequest {
  id: string;
  userId: string;
  attempts: number;
  claimId: string;
  /** The archive of an earlier fulfilment (a reprocessed ready request), deleted once the new one is ready. */
  previousObjectKey: string | null;
}

const claimedColumns = ['id', 'userId', 'attempts', 'claimId', 'objectKey as previousObjectKey'] as const;

function claimSet(claimTtlSeconds: number) {
  return {
    status: 'processing' as const,
    startedAt: sql<Date>`now()`,
    attempts: sql<number>`attempts + 1`,
    claimId: sql<string>`gen_random_uuid()`,
    claimExpiresAt: sql<Date>`now() + make_interval(secs => ${claimTtlSeconds})`,
    rowsTotal: null,
    rowsWritten: null,
    fileBytesTotal: null,
    fileBytesWritten: null,
    bytesUploaded: null,
    progressUpdatedAt: null,
    notBefore: null,
  };
}

/**
 * What may be claimed now, in the order it is claimed: first a processing
 * request whose worker died (its claim expired) and that has attempts left,
 * longest dead first; then a pending one whose retry time has come, oldest
 * first. The claim and the dry run both use these two queries, so a dry run
 * lists exactly what a real run would take, in the same order.
 */
function claimableQueries(db: Db, maxAttempts: number) {
  const takeOver = db
    .selectFrom('dataExportRequests')
    .where(stuckClaim)
    .where('attempts', '<', maxAttempts)
    .orderBy('claimExpiresAt');
  const pending = db
    .selectFrom('dataExportRequests')
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('notBefore', 'is', null), eb('notBefore', '<=', sql<Date>`now()`)]))
    .orderBy('requestedAt');
  return [takeOver, pending] as const;
}

/**
 * Claims the next claimable request. SKIP LOCKED lets any number of workers
 * claim at once without waiting on, or ever sharing, a request. A request
 * that failed is not claimable again before its `not_before` (the backoff),
 * which is what keeps a batch run from retrying it at once.
 */
export async function claimNext(
  db: Db,
  claimTtlSeconds: number,
  maxAttempts: number,
): Promise<ClaimedRequest | undefined> {
  for (const candidates of claimableQueries(db, maxAttempts)) {
    const candidate = candidates.select('id').limit(1).forUpdate().skipLocked();
    const row = await db
      .updateTable('dataExportRequests')
      .set(claimSet(claimTtlSeconds))
      .where('id', '=', (eb) => eb.selectFrom(candidate.as('c')).select('c.id'))
      .returning(claimedColumns)
      .executeTakeFirst();
    if (row) return row as ClaimedRequest;
  }
  return undefined;
}

/** What a dry run would claim: the same queries and order as claimNext, without locking anything. */
export async function listClaimable(db: Db, limit: number, maxAttempts: number) {
  const listed = [];
  for (const candidates of claimableQueries(db, maxAttempts)) {
    if (listed.length >= limit) break;
    listed.push(
      ...(await candidates
        .select(['id', 'userId', 'status', 'attempts', 'requestedAt'])
        .limit(limit - listed.length)
        .execute()),
    );
  }
  return listed;
}

/** The soonest time a pending request waiting out its backoff becomes claimable (a worker sleeps until then). */
export async function nextRetryAt(db: Db): Promise<Date | undefined> {
  const row = await db
    .selectFrom('dataExportRequests')
    .select((eb) => eb.fn.min('notBefore').as('at'))
    .where('status', '=', 'pending')
    .where('notBefore', '>', sql<Date>`now()`)
    .executeTakeFirst();
  return row?.at ?? undefined;
}

/**
 * Claims exactly these requests, whatever their status, unless a live worker
 * holds one, or its user has another open request (at most one is allowed).
 * Returns the claimed ones; the caller reports the rest.
 */
export async function claimByIds(db: Db, ids: readonly string[], claimTtlSeconds: number): Promise<ClaimedRequest[]> {
  const claimed: ClaimedRequest[] = [];
  for (const id of ids) {
    try {
      const row = await db
        .updateTable('dataExportRequests')
        .set(claimSet(claimTtlSeconds))
        .where('id', '=', id)
        // Not one a live worker holds: anything but processing, or a stuck claim.
        .where((eb) => eb.or([eb('status', '<>', 'processing'), stuckClaim(eb)]))
        .returning(claimedColumns)
        .executeTakeFirst();
      if (row) claimed.push(row as ClaimedRequest);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
  }
  return claimed;
}
