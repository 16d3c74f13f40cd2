import type { ClaimedRequest } from '../db/claims.ts';
import { releaseAfterFailure, releaseClaim } from '../db/requests.ts';
import type { Logger } from '../log.ts';
import { classifyFailure } from './failure-causes.ts';
import type { BuildRun, RequestOutcome, RunDeps } from './types.ts';
import { ClaimLostError } from './watch.ts';

/**
 * A failed attempt, recorded: a lost claim leaves the request to whoever
 * holds it now; a stop (a signal) hands it back untouched; anything else is
 * retried after its backoff or failed for good (classifyFailure), and a
 * rebuilt request's earlier archive goes with its link.
 */
export async function settleFailure(
  deps: RunDeps,
  request: ClaimedRequest,
  ctx: BuildRun,
  error: unknown,
  log: Logger,
  secs: number,
): Promise<RequestOutcome> {
  const { db } = deps;
  if (error instanceof ClaimLostError) {
    log.warn({ outcome: 'lost', seconds: secs }, 'claim lost while building; stopped');
    return { kind: 'lost' };
  }
  if (ctx.signal.aborted) {
    const released = await releaseClaim(db, request.id, request.claimId, 'interrupted; will be retried');
    log.warn({ outcome: released ? 'released' : 'lost', seconds: secs }, 'stopped; the request is pending again');
    return released ? { kind: 'released' } : { kind: 'lost' };
  }
  const { final, publicText: text } = classifyFailure(error);
  const status = await releaseAfterFailure(db, request.id, request.claimId, text, {
    maxAttempts: ctx.config.maxAttempts,
    backoffSeconds: ctx.config.retryBackoffSeconds,
    final,
  });
  if (status === 'lost') {
    log.warn({ outcome: 'lost', err: error, seconds: secs }, 'request gone or taken over after a failure');
    return { kind: 'lost' };
  }
  if (request.previousObjectKey) {
    // A ready request being rebuilt: its row no longer points at the earlier archive, whose link must stop working now, not at the sweep.
    await deps.storage.delete(request.previousObjectKey).catch((deleteError: unknown) => {
      log.warn({ err: deleteError }, 'could not delete the earlier archive of a rebuilt request; the sweep will');
    });
  }
  const kind = status === 'failed' ? 'failed' : 'retry';
  log.error(
    { outcome: kind, err: error, seconds: secs },
    kind === 'failed' ? 'request failed' : 'request failed; will be retried',
  );
  return { kind, error: text };
}

/**
 * A killed database connection fails the next query on each pooled client
 * it took down; the pool drops such clients as their errors arrive, so a
 * short pause and a few tries reach a fresh connection.
 */
export async function retryBriefly<T>(fn: () => Promise<T>, tries = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
