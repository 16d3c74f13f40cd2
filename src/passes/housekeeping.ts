import type { RunDeps } from '../building/types.ts';
import { runIfDue } from '../db/housekeeping.ts';
import type { Recipients } from '../db/notifications.ts';
import { failAbandoned } from '../db/requests.ts';
import type { Mailer } from '../email/mailer.ts';
import { type ExpireSummary, runExpire } from './expire.ts';
import { notifyOwed } from './notify.ts';

export interface HousekeepingOptions {
  intervalSeconds: number;
  maxAttempts: number;
  /** EXPORT_AUDIT_RETENTION. */
  auditRetentionSeconds: number;
  mailer?: Mailer;
  /** Where the email's address is (no email without it). */
  recipients?: Recipients;
  signal: AbortSignal;
}

export interface HousekeepingSummary {
  /** Requests a dead worker left processing on its last attempt, now failed. */
  abandoned: number;
  emailsSent: number;
  emailsFailed: number;
  expire: ExpireSummary;
}

/**
 * What a long-running worker does besides building, once per interval across
 * all workers (src/db/housekeeping.ts): fail the requests that dead workers
 * abandoned on their last attempt, send the emails earlier sends owed, and
 * run the expire pass (expired links, the storage sweep). The nightly batch
 * does the same at its own start and end.
 */
export async function housekeepIfDue(
  deps: RunDeps,
  options: HousekeepingOptions,
): Promise<HousekeepingSummary | undefined> {
  return runIfDue(deps.db, 'work', options.intervalSeconds, async () => {
    const log = deps.log.child({ pass: 'housekeeping' });
    const abandoned = await failAbandonedRequests(deps, options.maxAttempts);
    const owed =
      options.mailer && options.recipients
        ? await notifyOwed({ db: deps.db, mailer: options.mailer, log, recipients: options.recipients })
        : { sent: 0, failed: 0 };
    const expire = await runExpire(
      { ...deps, log },
      { dryRun: false, auditRetentionSeconds: options.auditRetentionSeconds, signal: options.signal },
    );
    const summary = { abandoned, emailsSent: owed.sent, emailsFailed: owed.failed, expire };
    log.info(summary, 'housekeeping finished');
    return summary;
  });
}

/** Ends failed the processing requests whose worker died on their last allowed attempt. */
export async function failAbandonedRequests(deps: RunDeps, maxAttempts: number): Promise<number> {
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
