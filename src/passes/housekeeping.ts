import type { BuildContext, RunDeps } from '../building/types.ts';
import { runIfDue } from '../db/housekeeping.ts';
import type { Recipients } from '../db/notifications.ts';
import { failAbandoned } from '../db/requests.ts';
import type { Mailer } from '../email/mailer.ts';
import { sleep } from '../worker/sleep.ts';
import { type EraseOptions, type EraseSummary, runErasures } from './erase.ts';
import { type ExpireSummary, runExpire } from './expire.ts';
import { notifyOwed } from './notify.ts';

/*
 * The housekeeping, said once for the batch and for `work`: what earlier
 * runs left (the "ready" emails they owe, the requests dead workers
 * abandoned on their last attempt), the erasures whose grace period is over,
 * then the expire pass (expired links,
 * the storage sweep, the trail's retention and anchor). The batch settles
 * at fulfill's start and expires at nightly's end; `work` does both once
 * per interval across all its workers.
 */

export interface EarlierRunsOptions {
  maxAttempts: number;
  mailer?: Mailer;
  /** Where the email's address is (no email without it). */
  recipients?: Recipients;
}

export interface EarlierRunsSummary {
  /** Requests a dead worker left processing on its last attempt, now failed. */
  abandoned: number;
  emailsSent: number;
  emailsFailed: number;
}

export interface HousekeepingOptions extends EarlierRunsOptions {
  intervalSeconds: number;
  /** EXPORT_AUDIT_RETENTION. */
  auditRetentionSeconds: number;
  signal: AbortSignal;
  /** The erasures whose grace period is over, carried out where the definition gives every entity an erase rule. */
  erase?: { context: BuildContext; options: Omit<EraseOptions, 'signal'> };
}

export interface HousekeepingSummary extends EarlierRunsSummary {
  erase?: EraseSummary;
  expire: ExpireSummary;
}

/** The "ready" emails earlier runs owe, sent; the requests a dead worker left on their last attempt, failed. */
export async function settleEarlierRuns(deps: RunDeps, options: EarlierRunsOptions): Promise<EarlierRunsSummary> {
  const { mailer, recipients } = options;
  const owed =
    mailer && recipients
      ? await notifyOwed({ db: deps.db, mailer, log: deps.log, recipients })
      : { sent: 0, failed: 0 };
  const abandoned = await failAbandonedRequests(deps, options.maxAttempts);
  return { abandoned, emailsSent: owed.sent, emailsFailed: owed.failed };
}

/** What earlier runs left, then the expire pass, where the interval has passed since any worker last did it. */
export async function housekeepIfDue(
  deps: RunDeps,
  options: HousekeepingOptions,
): Promise<HousekeepingSummary | undefined> {
  return runIfDue(deps.db, 'work', options.intervalSeconds, async () => {
    const log = deps.log.child({ pass: 'housekeeping' });
    const settled = await settleEarlierRuns({ ...deps, log }, options);
    const erase = options.erase
      ? await runErasures({ ...deps, log }, options.erase.context, { ...options.erase.options, signal: options.signal })
      : undefined;
    const expire = await runExpire(
      { ...deps, log },
      { dryRun: false, auditRetentionSeconds: options.auditRetentionSeconds, signal: options.signal },
    );
    const summary = { ...settled, ...(erase ? { erase } : {}), expire };
    log.info(summary, 'housekeeping finished');
    return summary;
  });
}

/** Checks every so often, until stopped, whether the housekeeping is due (it runs once per interval across all workers). */
export async function keepHouseEvery(deps: RunDeps, options: HousekeepingOptions): Promise<void> {
  const checkEveryMs = Math.min(Math.max(1_000, (options.intervalSeconds * 1000) / 4), 300_000);
  while (!options.signal.aborted) {
    await housekeepIfDue(deps, options).catch((error: unknown) =>
      deps.log.error({ err: error }, 'housekeeping failed; it is retried at the next check'),
    );
    await sleep(checkEveryMs, options.signal);
  }
}

/** Ends failed the processing requests whose worker died on their last allowed attempt. */
async function failAbandonedRequests(deps: RunDeps, maxAttempts: number): Promise<number> {
  const abandoned = await failAbandoned(
    deps.db,
    maxAttempts,
    `gave up after ${maxAttempts} attempts: the worker stopped each time`,
  );
  for (const r of abandoned)
    deps.log.error(
      { requestId: r.id, userId: r.userId, outcome: 'failed' },
      'request abandoned by dead workers; failed',
    );
  return abandoned.length;
}
