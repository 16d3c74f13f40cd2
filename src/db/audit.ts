import { sql } from 'kysely';
import type { Db } from './connect.ts';
import type { Tx } from './lifecycle.ts';
import type { AuditEventName } from './schema.ts';

/**
 * The audit trail (sql/000009): one row per thing that happened to a
 * request, written by triggers in the very statement that changed the
 * request, so nothing can change a request without a trace and no event
 * costs a round trip of its own. What the triggers cannot know (who ran an
 * operator command, and why) is said first, in the same transaction, by
 * `asActor`.
 */

/** Who is acting and why, for the events of one transaction. */
export interface Actor {
  /** The operator (--by), or a name for the program. */
  by: string;
  reason?: string;
  /** How a request was made (`exporter request`). */
  via?: string;
}

/** Runs `work` in a transaction whose events name `actor` (set_config(…, true): the setting ends with the transaction). */
export async function asActor<T>(db: Db, actor: Actor, work: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`select set_config('exporter.actor', ${actor.by}, true), set_config('exporter.reason', ${actor.reason ?? ''}, true), set_config('exporter.via', ${actor.via ?? ''}, true)`.execute(tx);
    return work(tx);
  });
}

export interface AuditEvent {
  id: string;
  requestId: string;
  userId: string;
  at: Date;
  event: AuditEventName;
  actor: string;
  detail: Record<string, unknown>;
}

/** A request's events, oldest first (they outlive the request row). */
export async function requestHistory(db: Db, requestId: string): Promise<AuditEvent[]> {
  return db.selectFrom('dataExportEvents').selectAll().where('requestId', '=', requestId).orderBy('id').execute();
}

/**
 * An operator signed a fresh link (`exporter link`): the one event no row
 * change carries. How long it works, by whom; never the link itself.
 */
export async function recordLinkSigned(db: Db, requestId: string, by: string, expiresAt: Date, seconds: number): Promise<void> {
  await sql`insert into data_export_events (request_id, user_id, event, actor, detail)
            select id, user_id, 'link_signed', ${by}, jsonb_build_object('expires_at', ${expiresAt.toISOString()}::timestamptz, 'seconds', ${seconds}::int, 'operator', true)
              from data_export_requests where id = ${requestId}`.execute(db);
}

/** An email no row change carries (the extension notice): who had it sent, and what it was. */
export async function recordEmailSent(db: Db, requestId: string, by: string, kind: string): Promise<void> {
  await sql`insert into data_export_events (request_id, user_id, event, actor, detail)
            select id, user_id, 'email_sent', ${by}, jsonb_build_object('kind', ${kind}::text)
              from data_export_requests where id = ${requestId}`.execute(db);
}

/** Deletes events older than the retention (EXPORT_AUDIT_RETENTION), in batches; the append-only trigger lets only these through. */
export async function pruneEvents(db: Db, retentionSeconds: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ cutoff: Date }>`select set_config('exporter.audit_prune_before', (now() - make_interval(secs => ${retentionSeconds}))::text, true)::timestamptz as cutoff`.execute(tx);
      const result = await tx
        .deleteFrom('dataExportEvents')
        .where('id', 'in', (eb) => eb.selectFrom('dataExportEvents').select('id').where('at', '<', rows[0]!.cutoff).limit(batch))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
    total += deleted;
    if (deleted < batch) return total;
  }
}
