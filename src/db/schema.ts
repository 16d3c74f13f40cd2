import type { ColumnType, Generated } from 'kysely';

/** A request's lifecycle: pending → processing → ready → failed (expired, revoked) or back to pending. */
export type RequestStatus = 'pending' | 'processing' | 'ready' | 'failed';

/** Rows written per entity, as stored in `row_counts`. */
export type RowCounts = Record<string, number>;

/**
 * Only the table the exporter writes is typed here. The application's tables
 * are read through the column allowlist in src/model/entities.ts, never through
 * Kysely, so that no query can `select *` a secret by accident.
 */
export interface DataExportRequestsTable {
  id: Generated<string>;
  userId: string;
  status: ColumnType<RequestStatus, RequestStatus | undefined, RequestStatus>;
  requestedAt: ColumnType<Date, Date | undefined, Date>;
  startedAt: Date | null;
  completedAt: Date | null;
  attempts: ColumnType<number, number | undefined, number>;
  downloadUrl: string | null;
  expiresAt: Date | null;
  objectKey: string | null;
  // pg returns int8 as a string; archives stay far below 2^53 bytes.
  archiveBytes: ColumnType<string | null, number | null, number | null>;
  rowCounts: ColumnType<RowCounts | null, string | null, string | null>;
  error: string | null;
  claimId: string | null;
  claimExpiresAt: Date | null;
  rowsTotal: ColumnType<string | null, number | null, number | null>;
  rowsWritten: ColumnType<string | null, number | null, number | null>;
  bytesUploaded: ColumnType<string | null, number | null, number | null>;
  fileBytesTotal: ColumnType<string | null, number | null, number | null>;
  fileBytesWritten: ColumnType<string | null, number | null, number | null>;
  progressUpdatedAt: Date | null;
  notifiedAt: Date | null;
  notifyAttempts: ColumnType<number, number | undefined, number>;
  notifyClaimedAt: Date | null;
  notifyError: string | null;
  /** A request that failed for a passing reason is not claimed again before this. */
  notBefore: Date | null;
  /** The legal deadline (GDPR Art. 12(3)): a month after receipt, set by the database, moved by `exporter extend`. */
  dueAt: ColumnType<Date, never, Date>;
  /** Months the deadline was extended by (at most 2). */
  extendedMonths: ColumnType<number, never, number>;
  /** The SHA-256 of the archive as uploaded, computed while it streamed. */
  archiveSha256: string | null;
}

/**
 * One thing that happened to a request (sql/000009), or to the trail itself
 * (a retention cut: no request): written by triggers in the statement that
 * changed the row, never changed, chained by its hash to the one before
 * (sql/000010: seq, prev_sha256 and sha256 are set by the database).
 */
export interface DataExportEventsTable {
  id: Generated<string>;
  requestId: string | null;
  userId: string | null;
  at: ColumnType<Date, never, never>;
  event: AuditEventName;
  actor: string;
  detail: ColumnType<Record<string, unknown>, string, never>;
  seq: ColumnType<string, never, never>;
  prevSha256: ColumnType<string, never, never>;
  sha256: ColumnType<string, never, never>;
  /** The database role that made the change (session_user), whatever the actor says. */
  dbRole: ColumnType<string, never, never>;
}

export type AuditEventName =
  | 'requested'
  | 'claimed'
  | 'built'
  | 'link_signed'
  | 'email_sent'
  | 'retrying'
  | 'failed'
  | 'revoked'
  | 'expired'
  | 'requeued'
  | 'extended'
  | 'deleted'
  | 'changed'
  | 'pruned';

/** Archives of request rows that were deleted while their archive lived (filled by a trigger). */
export interface DataExportDeletedObjectsTable {
  objectKey: string;
  deletedAt: ColumnType<Date, never, never>;
}

/** When each housekeeping task last ran, across all workers. */
export interface DataExportHousekeepingTable {
  name: string;
  lastRunAt: Date;
}

export interface Database {
  dataExportHousekeeping: DataExportHousekeepingTable;
  dataExportRequests: DataExportRequestsTable;
  dataExportDeletedObjects: DataExportDeletedObjectsTable;
  dataExportEvents: DataExportEventsTable;
}
