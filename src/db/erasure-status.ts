import { sql } from 'kysely';
import type { Db } from './connect.ts';
import type { ErasureStatus } from './erasures.ts';

/** Where the erasures stand (exporter status, the pushed and scraped gauges, the alerts). */
export interface ErasureStatusReport {
  counts: Record<ErasureStatus, number>;
  /** Open (pending, processing) erasures past their legal due date. */
  overdue: number;
  /** Seconds until the earliest due date of an open erasure (negative: overdue); null when none is open. */
  earliestDueSeconds: number | null;
  /**
   * Erasures failed for good (a residue the proof found, or no attempts left) that no later
   * erasure of the same person has answered or is answering: each needs a person to act.
   */
  unresolved: { id: string; userId: string; error: string | null; failedAt: Date | null }[];
}

export async function erasureStatus(db: Db): Promise<ErasureStatusReport> {
  const counts: Record<ErasureStatus, number> = { pending: 0, processing: 0, done: 0, failed: 0, cancelled: 0 };
  const { rows: byStatus } = await sql<{ status: ErasureStatus; n: number }>`
    select status, count(*)::int as n from data_export_erasures group by status`.execute(db);
  for (const row of byStatus) counts[row.status] = row.n;
  const { rows: due } = await sql<{ overdue: number; earliest: number | null }>`
    select count(*) filter (where due_at < now())::int as overdue, extract(epoch from min(due_at) - now())::float8 as earliest
      from data_export_erasures where status in ('pending', 'processing')`.execute(db);
  const { rows: unresolved } = await sql<ErasureStatusReport['unresolved'][number]>`
    select f.id, f.user_id, f.error, f.completed_at as failed_at from data_export_erasures f
     where f.status = 'failed'
       and not exists (select 1 from data_export_erasures later
                        where later.user_id = f.user_id and later.requested_at > f.requested_at
                          and later.status in ('pending', 'processing', 'done'))
     order by f.completed_at limit 100`.execute(db);
  const earliest = due[0]?.earliest ?? null;
  return {
    counts,
    overdue: due[0]?.overdue ?? 0,
    earliestDueSeconds: earliest === null ? null : Math.round(earliest),
    unresolved,
  };
}
