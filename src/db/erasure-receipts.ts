import { sql } from 'kysely';
import { quoteIdent } from '../model/identifiers.ts';
import type { Db } from './connect.ts';
import type { ClaimedErasure } from './erasures.ts';
import type { Recipients } from './notifications.ts';

/*
 * The receipt by email (docs/erasure.md): the address is read from the
 * person's row before anything is erased and kept on the erasure only until
 * the receipt is sent or given up on; then it is dropped.
 */

export interface OwedReceipt {
  id: string;
  email: string;
  receipt: { entities?: Record<string, { rule?: string; why?: string; counts?: Record<string, number> }> } | null;
  requestedAt: Date;
  completedAt: Date;
  attempts: number;
}

/** Reads and keeps the person's address on their claimed erasure, once (a resumed erasure has it already). */
export async function rememberReceiptAddress(db: Db, e: ClaimedErasure, user: Recipients): Promise<void> {
  await sql`
    update data_export_erasures x set receipt_email = u.${sql.raw(quoteIdent(user.emailColumn))}
      from ${sql.raw(user.table)} u
     where x.id = ${e.id} and x.claim_id = ${e.claimId} and x.receipt_email is null and x.receipt_sent_at is null
       and x.receipt_email_attempts = 0 and u.${sql.raw(quoteIdent(user.idColumn))} = x.user_id::${sql.raw(user.keyType)}`.execute(
    db,
  );
}

/** Done erasures whose receipt is still to be sent, oldest first, each counted as an attempt. */
export async function owedReceipts(db: Db, limit = 100): Promise<OwedReceipt[]> {
  const { rows } = await sql<OwedReceipt>`
    update data_export_erasures x set receipt_email_attempts = x.receipt_email_attempts + 1
     where x.id in (select id from data_export_erasures where status = 'done' and receipt_email is not null
                     order by completed_at limit ${limit} for update skip locked)
    returning x.id, x.receipt_email as email, x.receipt, x.requested_at, x.completed_at, x.receipt_email_attempts as attempts`.execute(
    db,
  );
  return rows;
}

/** Sent, or given up on: either way the address goes. */
export async function dropReceiptAddress(db: Db, id: string, sent: boolean): Promise<void> {
  await sql`update data_export_erasures set receipt_email = null,
                   receipt_sent_at = case when ${sent} then now() else receipt_sent_at end
             where id = ${id}`.execute(db);
}
