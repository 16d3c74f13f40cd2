import { sql } from 'kysely';
import type { Db, Tx } from './connect.ts';
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
    await sql`select set_config('exporter.actor', ${actor.by}, true), set_config('exporter.reason', ${actor.reason ?? ''}, true), set_config('exporter.via', ${actor.via ?? ''}, true)`.execute(
      tx,
    );
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
  /** The database role that made the change, whatever `actor` claims. */
  dbRole: string;
  detail: Record<string, unknown>;
}

/** A request's events, oldest first (they outlive the request row). */
export async function requestHistory(db: Db, requestId: string): Promise<AuditEvent[]> {
  return (await db
    .selectFrom('dataExportEvents')
    .select(['id', 'requestId', 'userId', 'at', 'event', 'actor', 'dbRole', 'detail'])
    .where('requestId', '=', requestId)
    .orderBy('seq')
    .execute()) as AuditEvent[];
}

/**
 * An operator signed a fresh link (`exporter link`): the one event no row
 * change carries. How long it works, by whom; never the link itself. Through
 * exporter_record_event(), the one way besides the triggers an event is
 * written (sql/000010).
 */
export async function recordLinkSigned(
  db: Db,
  requestId: string,
  actor: Actor,
  expiresAt: Date,
  seconds: number,
): Promise<void> {
  await sql`select exporter_record_event(${requestId}::uuid, 'link_signed', ${actor.by}, jsonb_strip_nulls(jsonb_build_object('expires_at', ${expiresAt.toISOString()}::timestamptz, 'seconds', ${seconds}::int, 'operator', true, 'reason', ${actor.reason ?? null}::text)))`.execute(
    db,
  );
}

/** An email no row change carries (the extension notice): who had it sent, and what it was. */
export async function recordEmailSent(db: Db, requestId: string, by: string, kind: string): Promise<void> {
  await sql`select exporter_record_event(${requestId}::uuid, 'email_sent', ${by}, jsonb_build_object('kind', ${kind}::text))`.execute(
    db,
  );
}

/**
 * Deletes events older than the retention (EXPORT_AUDIT_RETENTION), a batch
 * per call of exporter_prune_audit(), which alone may delete from the trail
 * and records each cut as an event of its own (sql/000010).
 */
export async function pruneEvents(db: Db, retentionSeconds: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await sql<{
      deleted: number;
    }>`select exporter_prune_audit(make_interval(secs => ${retentionSeconds}), ${batch}) as deleted`.execute(db);
    total += rows[0]!.deleted;
    if (rows[0]!.deleted < batch) return total;
  }
}
