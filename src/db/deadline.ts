import { sql } from 'kysely';
import { type Actor, asActor } from './audit.ts';
import type { Db, Tx } from './connect.ts';

/** GDPR Art. 12(3): the deadline may be extended "by two further months" in total. */
export const MAX_EXTENSION_MONTHS = 2;

/** What is extended: an export request, or an erasure (the same clock, the same rules). */
export type Extended = 'request' | 'erasure';
const TABLES: Record<Extended, string> = { request: 'data_export_requests', erasure: 'data_export_erasures' };

export type ExtendResult =
  | { kind: 'extended'; dueAt: Date; extendedMonths: number }
  | { kind: 'refused'; reason: string };

/**
 * Moves a request's due date `months` further (`exporter extend`): at most
 * MAX_EXTENSION_MONTHS beyond the original in total, over one or two
 * extensions, only while the original due date has not passed (the person
 * must be told within the first month) and only for a request still open.
 * The database computes the date (exporter_due_at: calendar months, UTC);
 * the `extended` event carries the actor and the reason.
 */
export async function extendDeadline(
  db: Db,
  id: string,
  months: number,
  actor: Actor,
  what: Extended = 'request',
): Promise<ExtendResult> {
  return asActor(db, actor, async (tx) => {
    const { rows } = await sql<{ dueAt: Date; extendedMonths: number }>`
      update ${sql.table(TABLES[what])}
         set extended_months = extended_months + ${months},
             due_at = exporter_due_at(requested_at, 1 + extended_months + ${months})
       where id = ${id}
         and status in ('pending', 'processing')
         and extended_months + ${months} <= ${MAX_EXTENSION_MONTHS}
         and now() < exporter_due_at(requested_at, 1)
      returning due_at as "dueAt", extended_months as "extendedMonths"`.execute(tx);
    if (rows[0]) return { kind: 'extended', ...rows[0] };
    return { kind: 'refused', reason: await whyNotExtended(tx, id, months, what) };
  });
}

async function whyNotExtended(db: Tx, id: string, months: number, what: Extended): Promise<string> {
  const { rows } = await sql<{ status: string; extendedMonths: number; originalDueAt: Date; passed: boolean }>`
    select status, extended_months as "extendedMonths", exporter_due_at(requested_at, 1) as "originalDueAt", now() >= exporter_due_at(requested_at, 1) as passed
      from ${sql.table(TABLES[what])} where id = ${id}`.execute(db);
  const row = rows[0];
  if (!row) return `no such ${what}`;
  if (row.status === 'ready' || row.status === 'done') return `it is answered already (${row.status})`;
  if (row.status === 'failed')
    return what === 'erasure' ? 'it has ended (failed)' : 'it has ended (failed); requeue it first';
  if (row.status === 'cancelled') return 'it was cancelled';
  if (row.passed)
    return `its original due date (${row.originalDueAt.toISOString()}) has passed: an extension must be decided, and the person told, within the first month`;
  return `it is extended by ${row.extendedMonths} month(s) already; ${months} more would pass the ${MAX_EXTENSION_MONTHS} months the law allows`;
}

/** Whether an id is an erasure's (exporter extend takes either). */
export async function isErasure(db: Db, id: string): Promise<boolean> {
  const { rows } = await sql`select 1 from data_export_erasures where id = ${id}`.execute(db);
  return rows.length > 0;
}
