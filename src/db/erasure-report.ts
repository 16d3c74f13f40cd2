import { sql } from 'kysely';
import type { Db } from './connect.ts';

/** The erasures received in a period (exporter report), judged as its export figures are: from the audit trail alone. */
export interface ErasureFigures {
  received: number;
  /** Done (erased, proven, receipt given) by asOf. */
  done: number;
  /** Done by the due date in force then (extensions counted). */
  doneOnTime: number;
  doneLate: number;
  /** Neither done, failed nor cancelled by asOf… */
  stillOpen: number;
  /** …of which past their due date at asOf. */
  overdue: number;
  /** Failed for good (a residue the proof found, or no attempts left). */
  failed: number;
  /** Cancelled in their grace period. */
  cancelled: number;
}

/**
 * The erasures received in [from, to), as of `asOf` (already bounded by the
 * period's end): each erasure_requested event, its erased, erasure_failed or
 * erasure_cancelled event by then, and the due date in force then.
 */
export async function erasureFigures(db: Db, from: Date, to: Date, asOf: Date): Promise<ErasureFigures> {
  const { rows } = await sql<ErasureFigures>`
    with received as (
      select e.request_id
        from data_export_events e
       where e.event = 'erasure_requested'
         and coalesce((e.detail->>'requested_at')::timestamptz, e.at) >= ${from.toISOString()}::timestamptz
         and coalesce((e.detail->>'requested_at')::timestamptz, e.at) < ${to.toISOString()}::timestamptz
    ),
    judged as (
      select r.request_id,
             (select min(e.at) from data_export_events e
               where e.request_id = r.request_id and e.event = 'erased' and e.at <= ${asOf.toISOString()}::timestamptz) as done_at,
             (select e.event from data_export_events e
               where e.request_id = r.request_id and e.event in ('erasure_failed', 'erasure_cancelled')
                 and e.at <= ${asOf.toISOString()}::timestamptz order by e.id desc limit 1) as ended
        from received r
    ),
    dated as (
      -- The due date in force when it was done (or at asOf): the last one set by then, extensions counted.
      select j.*,
             (select (e.detail->>'due_at')::timestamptz from data_export_events e
               where e.request_id = j.request_id and e.event in ('erasure_requested', 'extended')
                 and e.at <= coalesce(j.done_at, ${asOf.toISOString()}::timestamptz)
               order by e.id desc limit 1) as due_at
        from judged j
    )
    select count(*)::int as received,
           count(done_at)::int as done,
           count(*) filter (where done_at <= due_at)::int as "doneOnTime",
           count(*) filter (where done_at > due_at)::int as "doneLate",
           count(*) filter (where done_at is null and ended is null)::int as "stillOpen",
           count(*) filter (where done_at is null and ended is null and due_at < ${asOf.toISOString()}::timestamptz)::int as overdue,
           count(*) filter (where done_at is null and ended = 'erasure_failed')::int as failed,
           count(*) filter (where done_at is null and ended = 'erasure_cancelled')::int as cancelled
      from dated`.execute(db);
  return rows[0]!;
}
