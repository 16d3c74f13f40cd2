import { sql } from 'kysely';
import type { RunDeps } from '../building/types.ts';
import { dropReceiptAddress, owedReceipts } from '../db/erasure-receipts.ts';
import { erasureReceiptEmail } from '../email/erasure-receipt.ts';
import type { Mailer } from '../email/mailer.ts';
import { EMAIL, MAX_EMAIL_ATTEMPTS } from './notify.ts';

/**
 * Sends every receipt owed (the erasures just done, and those whose send
 * failed before), each once; an address is dropped once its receipt is sent,
 * is not an email address, or failed MAX_EMAIL_ATTEMPTS times. Without a
 * mailer (email turned off since), the addresses kept for it are dropped.
 */
export async function sendErasureReceipts(
  deps: RunDeps,
  mailer: Mailer | undefined,
): Promise<{ sent: number; failed: number }> {
  const counts = { sent: 0, failed: 0 };
  if (!mailer) {
    await sql`update data_export_erasures set receipt_email = null where status = 'done' and receipt_email is not null`.execute(
      deps.db,
    );
    return counts;
  }
  for (const owed of await owedReceipts(deps.db)) {
    const log = deps.log.child({ erasureId: owed.id });
    if (!EMAIL.test(owed.email)) {
      await dropReceiptAddress(deps.db, owed.id, false);
      log.warn({ outcome: 'skipped' }, 'erasure receipt not sent: the address is not an email address');
      continue;
    }
    try {
      await mailer.send({ to: owed.email, ...erasureReceiptEmail(owed) });
      await dropReceiptAddress(deps.db, owed.id, true);
      counts.sent++;
      log.info({ outcome: 'sent' }, 'erasure receipt sent; the address is dropped');
    } catch (error) {
      counts.failed++;
      const giveUp = owed.attempts >= MAX_EMAIL_ATTEMPTS;
      if (giveUp) await dropReceiptAddress(deps.db, owed.id, false);
      log.warn(
        { err: error, attempt: owed.attempts, outcome: 'failed' },
        giveUp
          ? 'erasure receipt not sent; giving up, the address is dropped'
          : 'erasure receipt not sent; the next run retries',
      );
    }
  }
  return counts;
}
