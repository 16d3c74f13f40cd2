import { sql } from 'kysely';
import { stuckClaim, updateHeld } from './claims.ts';
import type { Db } from './connect.ts';
import type { RowCounts } from './schema.ts';

/**
 * Query functions on data_export_requests. Each takes the database first.
 * Every write a worker makes after claiming is fenced on (id, claim_id)
 * (updateHeld, src/db/claims.ts): if the claim expired and another worker
 * took the request over, the write matches no row and the late worker knows
 * it lost.
 */

/** Processing requests whose worker died on the last allowed attempt: they end failed. */
export async function failAbandoned(
  db: Db,
  maxAttempts: number,
  error: string,
): Promise<{ id: string; userId: string }[]> {
  return db
    .updateTable('dataExportRequests')
    .set({ status: 'failed', error, completedAt: sql<Date>`now()`, claimId: null, claimExpiresAt: null })
    .where(stuckClaim)
    .where('attempts', '>=', maxAttempts)
    .returning(['id', 'userId'])
    .execute();
}

export interface BuildProgress {
  rowsTotal: number;
  rowsWritten: number;
  /** The user's files: bytes to read, and read so far. */
  fileBytesTotal: number;
  fileBytesWritten: number;
  bytesUploaded: number;
}

/**
 * Extends a live claim and records how far the build is. False when the
 * claim was lost (taken over, revoked, or the row is gone).
 */
export async function renewClaim(
  db: Db,
  id: string,
  claimId: string,
  claimTtlSeconds: number,
  progress?: BuildProgress,
): Promise<boolean> {
  const result = await updateHeld(db, id, claimId)
    .set({
      claimExpiresAt: sql<Date>`now() + make_interval(secs => ${claimTtlSeconds})`,
      ...(progress ? { ...progress, progressUpdatedAt: sql<Date>`now()` } : {}),
    })
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface ReadyResult {
  downloadUrl: string;
  expiresAt: Date;
  objectKey: string;
  archiveBytes: number;
  /** The SHA-256 of the archive as uploaded. */
  archiveSha256: string;
  rowCounts: RowCounts;
}

/**
 * The one update that publishes an archive. Returns false when the claim was
 * lost: the caller must then delete its own object, which nothing points at.
 */
export async function markReady(db: Db, id: string, claimId: string, result: ReadyResult): Promise<boolean> {
  const row = await updateHeld(db, id, claimId)
    .set({
      status: 'ready',
      downloadUrl: result.downloadUrl,
      expiresAt: result.expiresAt,
      objectKey: result.objectKey,
      archiveBytes: result.archiveBytes,
      archiveSha256: result.archiveSha256,
      rowCounts: JSON.stringify(result.rowCounts),
      rowsWritten: sql`rows_total`,
      fileBytesWritten: sql`file_bytes_total`,
      bytesUploaded: result.archiveBytes,
      progressUpdatedAt: sql<Date>`now()`,
      completedAt: sql<Date>`now()`,
      error: null,
      claimId: null,
      claimExpiresAt: null,
    })
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export type ReleaseOutcome = 'pending' | 'failed' | 'lost';

/** The longest a failed request waits before its next attempt, however many it had. */
export const MAX_RETRY_BACKOFF_SECONDS = 6 * 3600;

/**
 * After a failure: back to pending, claimable again after a backoff that
 * doubles with each attempt (backoffSeconds, then twice that, …, at most six
 * hours), or failed once the attempts are used up (or when `final`). `error`
 * is the short, public text. The link of an earlier archive (a ready request
 * being rebuilt) is cleared; the caller deletes that archive.
 */
export async function releaseAfterFailure(
  db: Db,
  id: string,
  claimId: string,
  error: string,
  options: { maxAttempts: number; final: boolean; backoffSeconds: number },
): Promise<ReleaseOutcome> {
  const failNow = options.final ? sql<boolean>`true` : sql<boolean>`attempts >= ${options.maxAttempts}`;
  const backoff = sql`least(${options.backoffSeconds}::float8 * power(2, greatest(attempts - 1, 0)), ${MAX_RETRY_BACKOFF_SECONDS})`;
  const row = await updateHeld(db, id, claimId)
    .set({
      status: sql`case when ${failNow} then 'failed' else 'pending' end`,
      completedAt: sql`case when ${failNow} then now() else null end`,
      notBefore: sql`case when ${failNow} then null else now() + make_interval(secs => ${backoff}) end`,
      error,
      claimId: null,
      claimExpiresAt: null,
      // A rebuilt ready request keeps no link to its earlier archive (which the caller deletes): only a ready row has one.
      downloadUrl: null,
      expiresAt: null,
      objectKey: null,
    })
    .returning('status')
    .executeTakeFirst();
  return row ? (row.status as 'pending' | 'failed') : 'lost';
}

/**
 * Hands a claim back untouched (the worker is being stopped): pending again,
 * and the attempt does not count, since the request did nothing wrong.
 */
export async function releaseClaim(db: Db, id: string, claimId: string, error: string): Promise<boolean> {
  const result = await updateHeld(db, id, claimId)
    .set({
      status: 'pending',
      attempts: sql<number>`greatest(attempts - 1, 0)`,
      notBefore: null,
      error,
      claimId: null,
      claimExpiresAt: null,
    })
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function findRequests(db: Db, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db.selectFrom('dataExportRequests').selectAll().where('id', 'in', ids).execute();
}
