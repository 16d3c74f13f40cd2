import type { ClaimedRequest } from '../db/claims.ts';
import type { Logger } from '../log.ts';
import { primarySource, type SnapshotSource } from '../snapshot/snapshot-source.ts';
import type { RunDeps } from './types.ts';

/** Where one build read the person's data from, for its ready line (none: no replica is set). */
export type ReadFrom = 'replica' | 'primary' | undefined;

/**
 * Where one build's snapshots read: the primary, or the replica once it has
 * shown the claim (snapshot/replica-reads.ts). A build left to the
 * primary says why, once, as a warning: the replica is lagging past
 * EXPORT_REPLICA_MAX_LAG, cannot be reached, or is not a standby.
 */
export function buildReads(
  deps: RunDeps,
  request: ClaimedRequest,
  signal: AbortSignal,
  log: Logger,
): { source: SnapshotSource; readFrom: () => ReadFrom } {
  if (!deps.replica) return { source: primarySource(deps.pool), readFrom: () => undefined };
  let readFrom: ReadFrom = 'replica';
  const source = deps.replica.forBuild(request, signal, ({ error, ...fallback }) => {
    readFrom = 'primary';
    log.warn(
      { replicaFallback: fallback, ...(error === undefined ? {} : { err: error }) },
      fallback.reason === 'lagging'
        ? "the replica had not shown this build's claim within EXPORT_REPLICA_MAX_LAG (lagging, or not a standby of DATABASE_URL); reading from the primary"
        : fallback.reason === 'unreachable'
          ? 'the replica could not be reached; reading from the primary'
          : 'EXPORT_READ_DATABASE_URL is not a standby (promoted, or a primary); reading from the primary',
    );
  });
  return { source, readFrom: () => readFrom };
}
