import type { RunDeps } from '../building/types.ts';
import { archiveFilename } from '../model/archive.ts';

export type FreshLink = { kind: 'link'; url: string; expiresAt: Date } | { kind: 'refused'; reason: string };

/**
 * A new short-lived link to a ready, unexpired archive (for a download route
 * behind the app's login, or for support). It never outlives the request's
 * own expiry, when the archive is deleted.
 */
export async function freshLink(deps: RunDeps, id: string, ttlSeconds: number): Promise<FreshLink> {
  const row = await deps.db
    .selectFrom('dataExportRequests')
    .select(['status', 'objectKey', 'expiresAt', 'completedAt'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return { kind: 'refused', reason: 'no such request' };
  if (row.status !== 'ready' || !row.objectKey || !row.expiresAt)
    return { kind: 'refused', reason: `the request is ${row.status}, not ready` };
  const now = deps.clock.now();
  const remaining = Math.floor((row.expiresAt.getTime() - now.getTime()) / 1000);
  if (remaining <= 0) return { kind: 'refused', reason: 'the request has expired' };
  const filename = archiveFilename(row.completedAt ?? now);
  const link = await deps.storage.presign(row.objectKey, {
    ttlSeconds: Math.min(ttlSeconds, remaining),
    signedAt: now,
    filename,
  });
  return { kind: 'link', url: link.url, expiresAt: link.expiresAt };
}
