import type { Tx } from '../db/connect.ts';
import { markRetired, type RetiringRequest } from '../db/lifecycle.ts';
import type { Logger } from '../log.ts';
import type { S3Storage } from '../storage/s3-storage.ts';

export interface RetireResult {
  retired: RetiringRequest[];
  /** Objects deleted (a request whose archive was already gone counts as retired, not here). */
  objectsDeleted: number;
  errors: number;
}

/**
 * Deletes the archives of locked requests, then marks those requests failed
 * with `reason`, in the caller's transaction. A request whose archive could
 * not be deleted is left as it was, for the next run.
 */
export async function retireLocked(
  tx: Tx,
  storage: S3Storage,
  log: Logger,
  rows: readonly RetiringRequest[],
  reason: 'expired' | 'revoked',
): Promise<RetireResult> {
  const result: RetireResult = { retired: [], objectsDeleted: 0, errors: 0 };
  await forEachLimited(rows, 8, async (row) => {
    try {
      if (row.objectKey) {
        await storage.delete(row.objectKey);
        result.objectsDeleted++;
      }
      result.retired.push(row);
    } catch (error) {
      result.errors++;
      log.error(
        { requestId: row.id, userId: row.userId, err: error },
        `could not delete the archive; the request stays ${row.status} until the next run`,
      );
    }
  });
  await markRetired(
    tx,
    result.retired.map((r) => r.id),
    reason,
  );
  for (const row of result.retired) {
    log.info(
      { requestId: row.id, userId: row.userId, outcome: reason, previousStatus: row.status },
      `request ${reason}`,
    );
  }
  return result;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
