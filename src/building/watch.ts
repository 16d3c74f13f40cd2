import type { ExportConfig } from '../config.ts';
import type { ClaimedRequest } from '../db/claims.ts';
import type { Db } from '../db/connect.ts';
import { type BuildProgress, renewClaim } from '../db/requests.ts';
import type { Logger } from '../log.ts';
import type { BuildStop } from './stop.ts';

/** The claim was taken over, revoked, or the request deleted: the build stops and leaves nothing. */
export class ClaimLostError extends Error {
  override name = 'ClaimLostError';
}

/** No row written and no byte uploaded for EXPORT_STALL_TIMEOUT (a hung connection). */
export class StallError extends Error {
  override name = 'TimeoutError';
}

/**
 * A build's heartbeat, every `heartbeatMs` (and at once on `beat()`): it
 * reports the build's progress, renews the claim with it (a claim found lost
 * stops the build), and stops a build that has not moved for
 * EXPORT_STALL_TIMEOUT: a connection that died silently can leave any stage
 * waiting.
 */
export function watchBuild(input: {
  db: Db;
  request: ClaimedRequest;
  config: ExportConfig;
  heartbeatMs: number;
  log: Logger;
  stop: BuildStop;
  progress: () => BuildProgress;
  onProgress?: (requestId: string, progress: BuildProgress) => void;
}): { beat(): void; clear(): void } {
  const { db, request, config, log, stop } = input;
  let lastMove = { at: performance.now(), rows: -1, bytes: -1, fileBytes: -1 };
  const beat = () => {
    const now = performance.now();
    const progress = input.progress();
    if (
      progress.rowsWritten !== lastMove.rows ||
      progress.bytesUploaded !== lastMove.bytes ||
      progress.fileBytesWritten !== lastMove.fileBytes
    ) {
      lastMove = {
        at: now,
        rows: progress.rowsWritten,
        bytes: progress.bytesUploaded,
        fileBytes: progress.fileBytesWritten,
      };
    } else if (now - lastMove.at > config.stallTimeoutSeconds * 1000) {
      stop.stop(new StallError(`no progress for ${config.stallTimeoutSeconds} s`));
    }
    input.onProgress?.(request.id, progress);
    renewClaim(db, request.id, request.claimId, config.claimTtlSeconds, progress)
      .then((held) => {
        if (held || stop.signal.aborted) return;
        log.warn('the claim was lost (revoked, taken over, or the request deleted); stopping the build');
        stop.stop(new ClaimLostError('the claim was taken over or the request deleted'));
      })
      .catch((error: unknown) => log.warn({ err: error }, 'could not renew the claim'));
  };
  const timer = setInterval(beat, input.heartbeatMs);
  return { beat, clear: () => clearInterval(timer) };
}
