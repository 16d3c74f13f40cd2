import { sql } from 'kysely';
import type { Db } from './connect.ts';

export type IntakeResult =
  | { kind: 'created'; id: string; requestedAt: Date }
  | { kind: 'rate-limited'; previousId: string; previousRequestedAt: Date; retryAfter: Date }
  | { kind: 'no-such-user' };

/**
 * The one way a request is created, for the application and the CLI alike:
 * the SQL function `exporter_request_export` (sql/000008_any_user_key.sql), which an
 * application in any language can call too. At most one request that has
 * not failed per user within `windowSeconds`, serialized per user under an
 * advisory lock; the insert wakes idle workers. The user id is any key of
 * the linked user table, as text (an integer key: '42').
 */
export async function createRequest(db: Db, userId: string, windowSeconds: number): Promise<IntakeResult> {
  const { rows } = await sql<{
    outcome: string;
    requestId: string | null;
    requestedAt: Date | null;
    retryAfter: Date | null;
    previousRequestId: string | null;
  }>`
    select * from exporter_request_export(${userId}::text, make_interval(secs => ${windowSeconds}))`.execute(db);
  const row = rows[0]!;
  if (row.outcome === 'created') return { kind: 'created', id: row.requestId!, requestedAt: row.requestedAt! };
  if (row.outcome === 'rate-limited')
    return {
      kind: 'rate-limited',
      previousId: row.previousRequestId!,
      previousRequestedAt: row.requestedAt!,
      retryAfter: row.retryAfter!,
    };
  return { kind: 'no-such-user' };
}
