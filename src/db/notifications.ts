import { sql } from 'kysely';
import type { UserTable } from '../model/entities.ts';
import { quoteIdent } from '../model/identifiers.ts';
import type { Db } from './connect.ts';
import type { RowCounts } from './schema.ts';

/** The user table with the column the email goes to (the definition's user_email). */
export type Recipients = UserTable & { emailColumn: string };

/** The user table with its email column, or undefined when the definition names none (then no email is sent). */
export function recipientsOf(user: UserTable): Recipients | undefined {
  return user.emailColumn === undefined ? undefined : { ...user, emailColumn: user.emailColumn };
}

export interface EmailToSend {
  id: string;
  userId: string;
  email: string;
  name: string | null;
  downloadUrl: string;
  expiresAt: Date;
  rowCounts: RowCounts | null;
  archiveBytes: number | null;
  notifyAttempts: number;
}

/** A claim on a notification outlives a worker that died mid-send by this long. */
const NOTIFY_CLAIM_SECONDS = 600;

/**
 * Takes the right to send one request's email: only a ready, unexpired
 * request whose email was neither sent nor given up on, and that no other
 * worker is sending right now. Counts the attempt.
 */
export async function claimNotification(db: Db, id: string, user: Recipients): Promise<EmailToSend | undefined> {
  const { users, key, name, email } = recipientSql(user);
  const { rows } = await sql<EmailToSend>`
    update data_export_requests r
       set notify_attempts = r.notify_attempts + 1, notify_claimed_at = now()
      from ${users} u
     where r.id = ${id} and ${key}
       and r.status = 'ready' and r.expires_at > now()
       and r.notified_at is null and r.notify_error is null
       and (r.notify_claimed_at is null or r.notify_claimed_at < now() - make_interval(secs => ${NOTIFY_CLAIM_SECONDS}))
    returning r.id, r.user_id as "userId", ${email} as email, ${name} as name, r.download_url as "downloadUrl", r.expires_at as "expiresAt",
              r.row_counts as "rowCounts", r.archive_bytes::float8 as "archiveBytes", r.notify_attempts as "notifyAttempts"`.execute(
    db,
  );
  return rows[0];
}

/** The user table and its columns as SQL, joined as `u` to a request `r`: the table's quoted, qualified name and quoted columns, whatever their names. */
function recipientSql(user: Recipients) {
  return {
    users: sql.raw(user.table),
    key: sql.raw(`u.${quoteIdent(user.idColumn)} = r.user_id::${user.keyType}`),
    name: sql.raw(user.nameColumn ? `u.${quoteIdent(user.nameColumn)}` : 'null::text'),
    email: sql.raw(`u.${quoteIdent(user.emailColumn)}`),
  };
}

/** Where a request's (or an erasure's) person is reached, whatever its status (`exporter extend` tells them of the new date). */
export async function recipientOf(
  db: Db,
  id: string,
  user: Recipients,
  table: 'data_export_requests' | 'data_export_erasures' = 'data_export_requests',
): Promise<{ email: string | null; name: string | null; requestedAt: Date } | undefined> {
  const { users, key, name, email } = recipientSql(user);
  const { rows } = await sql<{ email: string | null; name: string | null; requestedAt: Date }>`
    select ${email}::text as email, ${name}::text as name, r.requested_at as "requestedAt"
      from ${sql.table(table)} r join ${users} u on ${key}
     where r.id = ${id}`.execute(db);
  return rows[0];
}

/** Ready requests whose email is still owed (a failed send of an earlier run), oldest first. */
export async function listUnnotified(db: Db, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('dataExportRequests')
    .select('id')
    .where('status', '=', 'ready')
    .where('notifiedAt', 'is', null)
    .where('notifyError', 'is', null)
    .where('expiresAt', '>', sql<Date>`now()`)
    .orderBy('completedAt')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export async function markNotified(db: Db, id: string): Promise<void> {
  await db
    .updateTable('dataExportRequests')
    .set({ notifiedAt: sql<Date>`now()`, notifyClaimedAt: null })
    .where('id', '=', id)
    .execute();
}

/** A send failed: free it for the next run, or stop trying with `giveUp` as the reason. */
export async function markNotifyFailed(db: Db, id: string, giveUp: string | null): Promise<void> {
  await db
    .updateTable('dataExportRequests')
    .set({ notifyClaimedAt: null, notifyError: giveUp })
    .where('id', '=', id)
    .execute();
}
