import { sql } from 'kysely';
import { stuckClaim } from './claims.ts';
import type { Db } from './connect.ts';
import { type ErasureStatusReport, erasureStatus } from './erasure-status.ts';
import type { RequestStatus } from './schema.ts';

export interface StatusReport {
  counts: Record<RequestStatus, number>;
  /** Age of the oldest pending request, in seconds; null when none is pending. */
  oldestPendingSeconds: number | null;
  /** Processing requests whose claim expired: their worker died; the next fulfill takes them over. */
  stuck: { id: string; userId: string; attempts: number; claimExpiredSeconds: number }[];
  /** Ready requests whose link expires within 24 hours. */
  expiringWithin24h: number;
  /** Open (pending, processing) requests past their legal due date. */
  overdue: number;
  /** Seconds until the earliest due date of an open request (negative: overdue); null when none is open. */
  earliestDueSeconds: number | null;
  /** Open requests due within 7 days or overdue, earliest first (at most 100). */
  dueSoon: { id: string; userId: string; dueAt: Date; extendedMonths: number; overdue: boolean }[];
  /** The erasures (exporter erase), on the same clock. */
  erasures: ErasureStatusReport;
}

/** What an operator (or a monitoring probe) wants to know, in a few cheap queries. */
export async function statusReport(db: Db): Promise<StatusReport> {
  const counts: Record<RequestStatus, number> = { pending: 0, processing: 0, ready: 0, failed: 0 };
  const byStatus = await db
    .selectFrom('dataExportRequests')
    .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('status')
    .execute();
  for (const row of byStatus) counts[row.status] = Number(row.n);

  const oldest = await db
    .selectFrom('dataExportRequests')
    .select(sql<number | null>`extract(epoch from now() - min(requested_at))::float8`.as('seconds'))
    .where('status', '=', 'pending')
    .executeTakeFirst();

  const stuck = await db
    .selectFrom('dataExportRequests')
    .select([
      'id',
      'userId',
      'attempts',
      sql<number>`extract(epoch from now() - claim_expires_at)::float8`.as('claimExpiredSeconds'),
    ])
    .where(stuckClaim)
    .orderBy('claimExpiresAt')
    .limit(100)
    .execute();

  const expiring = await db
    .selectFrom('dataExportRequests')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('status', '=', 'ready')
    .where('expiresAt', '>=', sql<Date>`now()`)
    .where('expiresAt', '<', sql<Date>`now() + interval '24 hours'`)
    .executeTakeFirstOrThrow();

  return {
    ...(await requestsDue(db)),
    counts,
    oldestPendingSeconds: oldest?.seconds == null ? null : Math.round(oldest.seconds),
    stuck: stuck.map((s) => ({ ...s, claimExpiredSeconds: Math.round(s.claimExpiredSeconds) })),
    expiringWithin24h: Number(expiring.n),
    erasures: await erasureStatus(db),
  };
}

/** The legal deadline of the open requests: how many are past it, the earliest, and those due within 7 days. */
async function requestsDue(db: Db): Promise<Pick<StatusReport, 'overdue' | 'earliestDueSeconds' | 'dueSoon'>> {
  const due = await db
    .selectFrom('dataExportRequests')
    .select([
      sql<string>`count(*) filter (where due_at < now())`.as('overdue'),
      sql<number | null>`extract(epoch from min(due_at) - now())::float8`.as('earliest'),
    ])
    .where('status', 'in', ['pending', 'processing'])
    .executeTakeFirstOrThrow();
  const dueSoon = await db
    .selectFrom('dataExportRequests')
    .select(['id', 'userId', 'dueAt', 'extendedMonths', sql<boolean>`due_at < now()`.as('overdue')])
    .where('status', 'in', ['pending', 'processing'])
    .where('dueAt', '<', sql<Date>`now() + interval '7 days'`)
    .orderBy('dueAt')
    .limit(100)
    .execute();

  return {
    overdue: Number(due.overdue),
    earliestDueSeconds: due.earliest === null ? null : Math.round(due.earliest),
    dueSoon,
  };
}

export interface RequestProgress {
  id: string;
  userId: string;
  status: string;
  attempts: number;
  requestedAt: Date;
  rowsTotal: number | null;
  rowsWritten: number | null;
  /** The user's files: bytes to read, and read so far. */
  fileBytesTotal: number | null;
  fileBytesWritten: number | null;
  bytesUploaded: number | null;
  /** rows_written of rows_total, 0–100 (half rows, half file bytes when there are files); null before the build counted them. */
  percent: number | null;
  progressUpdatedAt: Date | null;
  archiveBytes: number | null;
  expiresAt: Date | null;
  notifiedAt: Date | null;
  notifyError: string | null;
  error: string | null;
}

/** One request as the application (or an operator) sees it, progress included. */
export async function requestProgress(db: Db, id: string): Promise<RequestProgress | undefined> {
  const r = await db
    .selectFrom('dataExportRequests')
    .select([
      'id',
      'userId',
      'status',
      'attempts',
      'requestedAt',
      'rowsTotal',
      'rowsWritten',
      'fileBytesTotal',
      'fileBytesWritten',
      'bytesUploaded',
      'progressUpdatedAt',
      'archiveBytes',
      'expiresAt',
      'notifiedAt',
      'notifyError',
      'error',
    ])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!r) return undefined;
  const num = (v: string | null) => (v === null ? null : Number(v));
  const total = num(r.rowsTotal);
  const written = num(r.rowsWritten);
  const fileTotal = num(r.fileBytesTotal);
  const fileWritten = num(r.fileBytesWritten);
  return {
    ...r,
    rowsTotal: total,
    rowsWritten: written,
    fileBytesTotal: fileTotal,
    fileBytesWritten: fileWritten,
    bytesUploaded: num(r.bytesUploaded),
    archiveBytes: num(r.archiveBytes),
    percent: total ? buildPercent(written ?? 0, total, fileWritten ?? 0, fileTotal ?? 0) : null,
  };
}

/** How far a build is, 0–100: its rows, or half rows and half file bytes when it has files. */
export function buildPercent(
  rowsWritten: number,
  rowsTotal: number,
  fileBytesWritten: number,
  fileBytesTotal: number,
): number {
  const rows = rowsTotal > 0 ? rowsWritten / rowsTotal : 1;
  const share = fileBytesTotal > 0 ? (rows + fileBytesWritten / fileBytesTotal) / 2 : rows;
  return Math.min(100, Math.floor(100 * share));
}
