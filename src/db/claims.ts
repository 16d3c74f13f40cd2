import { type ExpressionBuilder, sql } from 'kysely';
import type { Db } from './connect.ts';
import type { Database } from './schema.ts';

/**
 * The two rules of a claim, each said once.
 *
 * A stuck claim: the request is processing, and its worker stopped renewing
 * the claim before it lapsed (it died, hung, or lost its database). Another
 * worker may take the request over; status and requeue list and reset it.
 */
export function stuckClaim(eb: ExpressionBuilder<Database, 'dataExportRequests'>) {
  return eb.and([eb('status', '=', 'processing'), eb('claimExpiresAt', '<', sql<Date>`now()`)]);
}

/**
 * An update of a request this worker still holds: every write a worker makes
 * after claiming goes through here, fenced on (id, claim_id) while it is
 * processing. If the claim lapsed and another worker took the request over,
 * or it was revoked or deleted, the update matches no row and the late
 * worker knows it lost.
 */
export function updateHeld(db: Db, id: string, claimId: string) {
  return db
    .updateTable('dataExportRequests')
    .where('id', '=', id)
    .where('claimId', '=', claimId)
    .where('status', '=', 'processing');
}
