import { sql } from 'kysely';
import type { Db } from './connect.ts';

export type IntakeResult =
  | { kind: 'created'; id: string; requestedAt: Date }
  | { kind: 'rate-limited'; previousId: string; previousRequestedAt: Date; retryAfter: Date }
  | { kind: 'no-such-user' };

/**
 * The one way a request is created, for the application and the CLI alike.
 * At most one request that has not failed per user within `windowSeconds`:
 * the check and the insert run under a transaction-scoped advisory lock on
 * the user, so two requests at the same instant are serialized and the second
 * sees the first. The partial unique index on open requests backs it up.
 */
export async function createRequest(db: Db, userId: string, windowSeconds: number): Promise<IntakeResult> {
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended('exporter:intake:' || ${userId}::text, 0))`.execute(tx);
    const user = await tx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
    if (!user) return { kind: 'no-such-user' };
    const previous = await tx
      .selectFrom('dataExportRequests')
      .select(['id', 'requestedAt', sql<Date>`requested_at + make_interval(secs => ${windowSeconds})`.as('retryAfter')])
      .where('userId', '=', userId)
      .where((eb) =>
        eb.or([
          eb('status', 'in', ['pending', 'processing']),
          eb.and([eb('status', '=', 'ready'), eb('requestedAt', '>', sql<Date>`now() - make_interval(secs => ${windowSeconds})`)]),
        ]),
      )
      .orderBy('requestedAt', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (previous) {
      // An open request blocks until it ends, even past the window.
      const retryAfter = previous.retryAfter > new Date() ? previous.retryAfter : new Date();
      return { kind: 'rate-limited', previousId: previous.id, previousRequestedAt: previous.requestedAt, retryAfter };
    }
    const row = await tx.insertInto('dataExportRequests').values({ userId }).returning(['id', 'requestedAt']).executeTakeFirstOrThrow();
    return { kind: 'created', id: row.id, requestedAt: row.requestedAt };
  });
}
