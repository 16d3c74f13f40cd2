import { sql } from 'kysely';
import { sealTrail, trailHead } from '../db/audit-chain.ts';
import type { Db } from '../db/connect.ts';
import type { Logger } from '../log.ts';
import type { S3Storage } from '../storage/s3-storage.ts';
import { EXPORTER_VERSION } from '../version.ts';

/**
 * The audit trail's anchor: once a day, the head of its hash chain (the
 * newest event's number and SHA-256) written to object storage as
 * `<S3_PREFIX>audit/<date>.json`, where nobody who can change the database
 * can change it too. With S3 Object Lock on the bucket, each anchor is kept
 * in compliance mode for EXPORT_AUDIT_RETENTION: nobody can delete or
 * overwrite it, the bucket's owner included. A history rewritten after an
 * anchor (every hash after an edited event recomputed) no longer reaches the
 * hash the anchor holds: `exporter audit verify` says so.
 */

export const ANCHOR_FOLDER = 'audit/';

export interface Anchor {
  trail: 'data_export_events';
  database: string;
  /** The newest event when it was written, as text (a bigint). */
  seq: string;
  sha256: string;
  /** When that event was written: a retention cut may delete it only once it is older than the retention. */
  event_at?: string;
  anchored_at: string;
  exporter_version: string;
}

export type AnchorOutcome = 'written' | 'exists' | 'empty';

/** The anchor's key for a day (UTC). */
export function anchorKey(storage: S3Storage, day: Date): string {
  return `${storage.config.prefix}${ANCHOR_FOLDER}${day.toISOString().slice(0, 10)}.json`;
}

/** Writes today's anchor unless it is written already (nightly and every worker's housekeeping ask; the first does it). */
export async function anchorTrail(
  db: Db,
  storage: S3Storage,
  log: Logger,
  options: { now: Date; retentionSeconds: number },
): Promise<AnchorOutcome> {
  const key = anchorKey(storage, options.now);
  if (await storage.exists(key)) return 'exists';
  await sealTrail(db);
  const head = await trailHead(db);
  if (head.seq === 0n) return 'empty';
  const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(db);
  const anchor: Anchor = {
    trail: 'data_export_events',
    database: rows[0]!.name,
    seq: head.seq.toString(),
    sha256: head.sha256,
    ...(head.at ? { event_at: head.at.toISOString() } : {}),
    anchored_at: options.now.toISOString(),
    exporter_version: EXPORTER_VERSION,
  };
  const locked = await storage.objectLockEnabled();
  const retainUntil = locked ? new Date(options.now.getTime() + options.retentionSeconds * 1000) : undefined;
  await storage.putSmall(key, `${JSON.stringify(anchor, null, 2)}\n`, { contentType: 'application/json', retainUntil });
  log.info({ key, seq: anchor.seq, objectLock: locked, retainUntil }, 'anchored the audit trail');
  return 'written';
}

/** Every anchor under the prefix, oldest first; one that cannot be read is named, never skipped. */
export async function* readAnchors(storage: S3Storage): AsyncGenerator<{ key: string; anchor?: Anchor }> {
  const keys: string[] = [];
  for await (const object of storage.listObjects(ANCHOR_FOLDER))
    if (/\/\d{4}-\d{2}-\d{2}\.json$/.test(object.key)) keys.push(object.key);
  for (const key of keys.sort()) {
    const text = await storage.getSmall(key);
    try {
      const anchor = JSON.parse(text ?? '') as Anchor;
      if (!/^\d+$/.test(anchor.seq) || !/^[0-9a-f]{64}$/.test(anchor.sha256)) throw new Error('not an anchor');
      yield { key, anchor };
    } catch {
      yield { key };
    }
  }
}
