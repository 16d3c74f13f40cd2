import type { BuildContext, RunDeps } from '../building/types.ts';
import { rememberReceiptAddress } from '../db/erasure-receipts.ts';
import { type ClaimedErasure, claimNextErasure, failErasure, finishErasure } from '../db/erasures.ts';
import { recipientsOf } from '../db/notifications.ts';
import type { Mailer } from '../email/mailer.ts';
import { refuseGhostProblems } from '../erasure/ghost.ts';
import { ResidueError } from '../erasure/proof.ts';
import { eraseClaimed } from '../erasure/run-erasure.ts';
import type { ErasurePlan } from '../model/erasure.ts';
import { sendErasureReceipts } from './erasure-receipts.ts';
import { revokeRequests } from './revoke.ts';

export interface EraseOptions {
  maxAttempts: number;
  backoffSeconds: number;
  claimTtlSeconds: number;
  batch: number;
  hmacKey?: string;
  signal: AbortSignal;
  /** At most this many erasures in this run. */
  limit?: number;
  /** Where email is on: the person's receipt (docs/erasure.md). */
  mailer?: Mailer;
}

export interface EraseSummary {
  done: number;
  retrying: number;
  failed: number;
  lost: number;
  /** Erasures due that wait because the definition's erase rules are missing or cannot hold: none is claimed. */
  blocked: number;
  receiptsSent: number;
  receiptsFailed: number;
}

/** A row an application holds makes an erasure's batch wait at most this long, then the batch is tried again later. */
const LOCK_TIMEOUT_MS = 1_000;

/**
 * The erase pass (nightly, and work's housekeeping): every erasure whose
 * grace period is over, one at a time. The person's exports are revoked
 * first (their archives deleted at once), then the definition's rules are
 * carried out and proven (src/erasure/). A failure is retried after its
 * backoff; a residue the proof found fails the erasure for good, naming it.
 */
export async function runErasures(deps: RunDeps, ctx: BuildContext, options: EraseOptions): Promise<EraseSummary> {
  const summary: EraseSummary = {
    done: 0,
    retrying: 0,
    failed: 0,
    lost: 0,
    blocked: 0,
    receiptsSent: 0,
    receiptsFailed: 0,
  };
  const plan = ctx.erasure;
  if (!plan) return { ...summary, blocked: await blockedErasures(deps, ctx) };
  await eraseDue(deps, ctx, plan, options, summary);
  const receipts = await sendErasureReceipts(deps, options.mailer);
  return { ...summary, receiptsSent: receipts.sent, receiptsFailed: receipts.failed };
}

/** Every erasure due, one at a time, as long as the run is not stopped. */
async function eraseDue(
  deps: RunDeps,
  ctx: BuildContext,
  plan: ErasurePlan,
  options: EraseOptions,
  summary: EraseSummary,
): Promise<void> {
  const recipients = recipientsOf(ctx.user);
  for (let n = 0; n < (options.limit ?? Number.MAX_SAFE_INTEGER) && !options.signal.aborted; n++) {
    const claimed = await claimNextErasure(deps.db, options.claimTtlSeconds);
    if (!claimed) break;
    const log = deps.log.child({ erasureId: claimed.id, userId: claimed.userId, attempt: claimed.attempts });
    try {
      // The ghost user is never erased, nor are its exports revoked (src/erasure/ghost.ts).
      await refuseGhostProblems(plan, (text, params) => deps.pool.query(text, params), claimed.userId);
      // The address the receipt goes to, read before anything is erased (and dropped once it is sent).
      if (options.mailer && recipients) await rememberReceiptAddress(deps.db, claimed, recipients);
      await revokeExports(deps, claimed);
      const run = {
        pool: deps.pool,
        log,
        files: ctx.files,
        plan,
        exported: ctx.entities,
        hmacKey: options.hmacKey,
        batch: options.batch,
        lockTimeoutMs: LOCK_TIMEOUT_MS,
        claimTtlSeconds: options.claimTtlSeconds,
        signal: options.signal,
      };
      const receipt = await eraseClaimed(run, claimed);
      // Again: one asked for as the erasure was claimed (before it was processing) must not outlive it.
      await revokeExports(deps, claimed);
      if (await finishErasure(deps.db, claimed, receipt)) {
        summary.done++;
        log.info({ outcome: 'erased', receipt: receipt.entities }, 'erasure done');
      } else summary.lost++;
    } catch (error) {
      await settle(deps, claimed, error, options, summary);
    }
  }
}

/**
 * Without a plan (erase rules missing or that cannot hold) nothing is claimed: the erasures due wait, pending,
 * and are carried out by the first run after the definition is fixed. Said once a run, naming why.
 */
async function blockedErasures(deps: RunDeps, ctx: BuildContext): Promise<number> {
  const { rows } = await deps.pool.query<{ n: number }>(
    `select count(*)::int as n from data_export_erasures
      where (status = 'pending' and exporter_erasure_may_start(not_before, after_export, export_downloaded_at))
         or (status = 'processing' and claim_expires_at < now())`,
  );
  const waiting = rows[0]?.n ?? 0;
  if (waiting > 0)
    deps.log.error(
      { waiting, problems: ctx.erasureProblems?.length ? ctx.erasureProblems : ['no entity has an erase rule'] },
      'erasures wait: the definition has no erase rules that hold (exporter check names why); nothing was erased',
    );
  return waiting;
}

/** The person's exports, pending, being built or ready: revoked, their archives deleted. */
async function revokeExports(deps: RunDeps, e: ClaimedErasure): Promise<void> {
  const { rows } = await deps.pool.query<{ id: string }>(
    `select id from data_export_requests where user_id = $1 and status in ('pending', 'processing', 'ready')`,
    [e.userId],
  );
  if (rows.length > 0)
    await revokeRequests(
      deps,
      rows.map((r) => r.id),
      { by: 'exporter', reason: `erasure ${e.id}` },
    );
}

async function settle(deps: RunDeps, e: ClaimedErasure, error: unknown, options: EraseOptions, summary: EraseSummary) {
  const message = error instanceof Error ? error.message : String(error);
  const final = error instanceof ResidueError;
  const backoffSeconds = options.backoffSeconds * 2 ** Math.max(0, e.attempts - 1);
  const status = await failErasure(deps.db, e, message.slice(0, 1000), {
    final,
    maxAttempts: options.maxAttempts,
    backoffSeconds,
  });
  summary[status === 'failed' ? 'failed' : status === 'pending' ? 'retrying' : 'lost']++;
  deps.log[status === 'failed' ? 'error' : 'warn'](
    { erasureId: e.id, outcome: status, err: error },
    status === 'failed' ? 'erasure failed' : 'erasure will be retried',
  );
}
