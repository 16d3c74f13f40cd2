import type { RunDeps } from '../building/types.ts';
import { pruneEvents } from '../db/audit.ts';
import {
  countPrunable,
  listDeletedObjects,
  listExpired,
  pruneFailed,
  withDeletedObjects,
  withExpiredBatch,
} from '../db/lifecycle.ts';
import { type AnchorOutcome, anchorTrail } from './anchor.ts';
import { forEachLimited, retireLocked } from './retire.ts';
import { type SweepSummary, sweepStorage } from './sweep.ts';

export interface ExpireOptions {
  dryRun: boolean;
  /** Delete failed request rows older than this; off when undefined. */
  pruneAfterSeconds?: number;
  /** Delete audit events older than this (EXPORT_AUDIT_RETENTION); kept when undefined. */
  auditRetentionSeconds?: number;
  /** Requests retired per transaction. */
  batchSize?: number;
  signal: AbortSignal;
}

export interface ExpireSummary extends SweepSummary {
  /** Ready requests whose link expired, now failed with error 'expired'. */
  expired: number;
  /** Archives of those requests deleted. */
  objectsDeleted: number;
  /** Archives of request rows that were deleted (a user deleting their account), deleted. */
  objectsOfDeletedRequests: number;
  /** Failed request rows deleted by --prune-after. */
  pruned: number;
  /** Audit events past EXPORT_AUDIT_RETENTION deleted. */
  eventsPruned: number;
  /** Today's anchor of the audit trail: written now, there already, or nothing to anchor; undefined when not asked (a dry run, no retention given). */
  anchor?: AnchorOutcome | 'failed';
  errors: number;
  dryRun: boolean;
  seconds: number;
}

/**
 * The expire pass: retire every ready request past its expiry (archive first,
 * then the row), sweep what crashed runs left in the bucket, and optionally
 * prune old failed rows. Safe beside another expire or fulfill, and safe to
 * re-run after a crash: each step only looks at what is still to be done.
 */
export async function runExpire(deps: RunDeps, options: ExpireOptions): Promise<ExpireSummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 100;
  const summary = emptySummary(options.dryRun);
  const going = () => !options.signal.aborted;
  await retireExpired(deps, options, batchSize, summary);
  if (going()) {
    const removed = await removeObjectsOfDeletedRequests(deps, options.dryRun, batchSize);
    summary.objectsOfDeletedRequests = removed.count;
    summary.errors += removed.errors;
  }
  if (going()) {
    const sweep = await sweepStorage(deps, { dryRun: options.dryRun, signal: options.signal });
    const { uploadsAborted, orphansDeleted, multipartSweep } = sweep;
    Object.assign(summary, { uploadsAborted, orphansDeleted, multipartSweep });
    summary.errors += sweep.errors;
  }
  if (options.pruneAfterSeconds !== undefined && going())
    await pruneOldFailed(deps, options.dryRun, options.pruneAfterSeconds, summary);
  if (options.auditRetentionSeconds !== undefined && !options.dryRun && going())
    await keepTrail(deps, options.auditRetentionSeconds, summary);
  summary.seconds = Math.round(performance.now() - started) / 1000;
  return summary;
}

function emptySummary(dryRun: boolean): ExpireSummary {
  return {
    expired: 0,
    objectsDeleted: 0,
    objectsOfDeletedRequests: 0,
    pruned: 0,
    eventsPruned: 0,
    uploadsAborted: 0,
    orphansDeleted: 0,
    multipartSweep: 'done',
    errors: 0,
    dryRun,
    seconds: 0,
  };
}

/** Every ready request past its expiry retired, a batch at a time (a dry run lists them). */
async function retireExpired(deps: RunDeps, options: ExpireOptions, batchSize: number, summary: ExpireSummary) {
  const { db, storage, log } = deps;
  if (options.dryRun) {
    for (const row of await listExpired(db, 100_000)) {
      summary.expired++;
      if (row.objectKey) summary.objectsDeleted++;
      log.info({ requestId: row.id, userId: row.userId, dryRun: true }, 'would expire');
    }
    return;
  }
  while (!options.signal.aborted) {
    const batch = await withExpiredBatch(db, batchSize, (tx, rows) => retireLocked(tx, storage, log, rows, 'expired'));
    summary.expired += batch.retired.length;
    summary.objectsDeleted += batch.objectsDeleted;
    summary.errors += batch.errors;
    // A batch that retired nothing (every row failed to delete) would repeat forever.
    if (batch.retired.length === 0) break;
  }
}

/** --prune-after: failed requests older than that deleted (a dry run counts them). */
async function pruneOldFailed(deps: RunDeps, dryRun: boolean, afterSeconds: number, summary: ExpireSummary) {
  summary.pruned = dryRun ? await countPrunable(deps.db, afterSeconds) : await pruneFailed(deps.db, afterSeconds);
  if (summary.pruned > 0)
    deps.log.info(
      { pruned: summary.pruned, dryRun: dryRun || undefined },
      dryRun ? 'would prune old failed requests' : 'pruned old failed requests',
    );
}

/** The trail's retention, then its anchor of the day. */
async function keepTrail(deps: RunDeps, retentionSeconds: number, summary: ExpireSummary) {
  const { db, storage, log } = deps;
  // A retention that cannot run (a row somewhere pointing at an event) never stops the day's anchor.
  try {
    summary.eventsPruned = await pruneEvents(db, retentionSeconds);
    if (summary.eventsPruned > 0)
      log.info({ eventsPruned: summary.eventsPruned }, 'deleted audit events past their retention');
  } catch (error) {
    summary.errors++;
    log.error({ err: error }, 'could not delete audit events past their retention; the next run will try again');
  }
  // After the cut, so the anchor holds the chain as it now stands (the cut is an event of its own); it seals what is unsealed first.
  summary.anchor = await anchorTrail(db, storage, log, { now: deps.clock.now(), retentionSeconds }).catch(
    (error: unknown) => {
      summary.errors++;
      log.error({ err: error }, 'could not anchor the audit trail; the next run will');
      return 'failed' as const;
    },
  );
}

async function removeObjectsOfDeletedRequests(
  deps: RunDeps,
  dryRun: boolean,
  batchSize: number,
): Promise<{ count: number; errors: number }> {
  const { db, storage, log } = deps;
  if (dryRun) {
    const keys = await listDeletedObjects(db, 100_000);
    for (const key of keys) log.info({ key, dryRun: true }, 'would delete the archive of a deleted request');
    return { count: keys.length, errors: 0 };
  }
  let count = 0;
  let errors = 0;
  for (;;) {
    const removed = await withDeletedObjects(db, batchSize, async (keys) => {
      const done: string[] = [];
      await forEachLimited(keys, 8, async (key) => {
        try {
          await storage.delete(key);
          done.push(key);
          log.info({ key }, 'deleted the archive of a deleted request');
        } catch (error) {
          errors++;
          log.error({ key, err: error }, 'could not delete the archive of a deleted request; the next run will');
        }
      });
      return done;
    });
    count += removed;
    if (removed === 0) return { count, errors };
  }
}
