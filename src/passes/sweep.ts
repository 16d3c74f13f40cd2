import type { RunDeps } from '../building/types.ts';
import { keysInUse } from '../db/lifecycle.ts';
import { forEachLimited } from './retire.ts';

/** Anything younger than this may belong to a run in progress, and is never swept. */
export const SWEEP_MIN_AGE_MS = 24 * 60 * 60 * 1000;

export interface SweepSummary {
  /** Multipart uploads older than a day, aborted. */
  uploadsAborted: number;
  /** Objects older than a day that no ready or processing request points at, deleted. */
  orphansDeleted: number;
  /** 'unsupported' where the server has no ListMultipartUploads (s3rver). */
  multipartSweep: 'done' | 'unsupported';
}

/**
 * Cleans up after crashed runs, under the prefix and only keys shaped like
 * this exporter's archives (S3Storage.isArchiveKey): aborts multipart
 * uploads started more than a day ago, and deletes objects older than a day
 * that no request needs. An object that a ready request points at is never
 * touched, expired or not (expiry is the expire pass's job), and nothing
 * younger than a day is, so an upload being written right now is safe.
 */
export async function sweepStorage(
  deps: RunDeps,
  options: { dryRun: boolean; signal: AbortSignal },
): Promise<SweepSummary & { errors: number }> {
  const { db, storage, clock } = deps;
  const log = deps.log.child({ step: 'sweep' });
  const cutoff = clock.now().getTime() - SWEEP_MIN_AGE_MS;
  const summary = { uploadsAborted: 0, orphansDeleted: 0, multipartSweep: 'done' as 'done' | 'unsupported', errors: 0 };

  try {
    for await (const upload of storage.listPendingUploads()) {
      if (options.signal.aborted) break;
      if (upload.initiated.getTime() >= cutoff || !storage.isArchiveKey(upload.key)) continue;
      if (options.dryRun) {
        log.info(
          { key: upload.key, initiated: upload.initiated, dryRun: true },
          'would abort an abandoned multipart upload',
        );
      } else {
        await storage.abortUpload(upload.key, upload.uploadId);
        log.info({ key: upload.key, initiated: upload.initiated }, 'aborted an abandoned multipart upload');
      }
      summary.uploadsAborted++;
    }
  } catch (error) {
    if ((error as { name?: string }).name === 'NotImplemented') {
      summary.multipartSweep = 'unsupported';
      log.warn('the storage does not list multipart uploads; abandoned uploads are left to the bucket lifecycle rule');
    } else {
      summary.errors++;
      log.error({ err: error }, 'could not sweep multipart uploads');
    }
  }

  try {
    let old: string[] = [];
    const settle = async () => {
      const inUse = await keysInUse(db, old);
      const orphans = old.filter((k) => !inUse.has(k));
      old = [];
      await forEachLimited(orphans, 8, async (key) => {
        if (options.dryRun) {
          log.info({ key, dryRun: true }, 'would delete an orphan archive');
        } else {
          await storage.delete(key);
          log.info({ key }, 'deleted an orphan archive');
        }
        summary.orphansDeleted++;
      });
    };
    for await (const object of storage.listObjects()) {
      if (options.signal.aborted) break;
      // Only what this exporter writes: anything else under the prefix is someone else's (never ours to delete).
      if (object.lastModified.getTime() >= cutoff || !storage.isArchiveKey(object.key)) continue;
      old.push(object.key);
      if (old.length >= 500) await settle();
    }
    await settle();
  } catch (error) {
    summary.errors++;
    log.error({ err: error }, 'could not sweep orphan archives');
  }
  return summary;
}
