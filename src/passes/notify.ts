import type { Db } from '../db/connect.ts';
import {
  claimNotification,
  listUnnotified,
  markNotified,
  markNotifyFailed,
  type Recipients,
} from '../db/notifications.ts';
import type { Mailer } from '../email/mailer.ts';
import { readyEmail } from '../email/ready-email.ts';
import type { Logger } from '../log.ts';

/** Sends stop after this many failed attempts (over several runs). */
export const MAX_EMAIL_ATTEMPTS = 5;

/** What a "ready" email or an erasure receipt may be sent to: one address, nothing a mail header could be made of. */
export const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

export type EmailOutcome = 'sent' | 'failed' | 'skipped' | 'not-due';

export interface NotifyDeps {
  db: Db;
  mailer: Mailer;
  log: Logger;
  /** Where the address and name are (the definition's user_table, user_email, user_name). */
  recipients: Recipients;
}

/**
 * Sends one request's "ready" email, once: only after the ready update has
 * committed (the caller's), only if no other worker has sent or is sending
 * it. A failed send never touches the request's status; it is retried by a
 * later run, up to MAX_EMAIL_ATTEMPTS. An address that is not an email
 * address is skipped for good.
 */
export async function notifyReady(deps: NotifyDeps, requestId: string): Promise<EmailOutcome> {
  const { db, mailer } = deps;
  const email = await claimNotification(db, requestId, deps.recipients);
  if (!email) return 'not-due';
  const log = deps.log.child({ requestId, userId: email.userId });
  if (!EMAIL.test(email.email)) {
    await markNotifyFailed(db, requestId, 'not a valid email address');
    log.warn({ outcome: 'skipped' }, 'email not sent: the address is not a valid email address');
    return 'skipped';
  }
  try {
    await mailer.send({ to: email.email, ...readyEmail(email) });
  } catch (error) {
    const giveUp =
      email.notifyAttempts >= MAX_EMAIL_ATTEMPTS ? `not sent after ${email.notifyAttempts} attempts` : null;
    await markNotifyFailed(db, requestId, giveUp);
    log.warn(
      { err: error, attempt: email.notifyAttempts, outcome: 'failed' },
      giveUp ? 'email not sent; giving up' : 'email not sent; the next run retries',
    );
    return 'failed';
  }
  await markNotified(db, requestId);
  log.info({ outcome: 'sent' }, 'email sent');
  return 'sent';
}

/** Retries the emails that earlier runs could not send. */
export async function notifyOwed(deps: NotifyDeps, limit = 1000): Promise<Record<EmailOutcome, number>> {
  const counts: Record<EmailOutcome, number> = { sent: 0, failed: 0, skipped: 0, 'not-due': 0 };
  for (const id of await listUnnotified(deps.db, limit)) counts[await notifyReady(deps, id)]++;
  return counts;
}
