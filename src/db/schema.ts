import type { ColumnType, Generated } from 'kysely';

/** A request's lifecycle: pending → processing → ready → failed (expired, revoked) or back to pending. */
export type RequestStatus = 'pending' | 'processing' | 'ready' | 'failed';

/** Rows written per entity, as stored in `row_counts`. */
export type RowCounts = Record<string, number>;

/**
 * Only the table the exporter writes is typed here. The application's tables
 * are read through the column allowlist in src/export/entities.ts, never through
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
}

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
}
