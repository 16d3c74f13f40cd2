import type pg from 'pg';
import type { Clock } from '../clock.ts';
import type { ExportConfig } from '../config.ts';
import type { Db } from '../db/connect.ts';
import type { BuildProgress } from '../db/requests.ts';
import type { FileSources } from '../files/sources.ts';
import type { Logger } from '../log.ts';
import type { ExportEntity, UserTable } from '../model/entities.ts';
import type { ErasurePlan } from '../model/erasure.ts';
import type { ReplicaReads } from '../snapshot/replica-reads.ts';
import type { S3Storage } from '../storage/s3-storage.ts';

/*
 * What one request's build is given and what it ends as: the types the
 * stages (build/) share with the passes that run them (passes/), here so
 * that neither side imports the other for them.
 */

/** The database, the storage, the log and the clock a run works with. */
export interface RunDeps {
  db: Db;
  pool: pg.Pool;
  /** The replica the builds read people's data from (EXPORT_READ_DATABASE_URL); the primary's pool when unset. */
  replica?: ReplicaReads;
  storage: S3Storage;
  log: Logger;
  clock: Clock;
}

/**
 * What every build of a run builds with, the same for each request: the
 * definition checked against the database at start (its entities and user
 * table), its file sources, the export settings and the versions.
 */
export interface BuildContext {
  config: ExportConfig;
  entities: readonly ExportEntity[];
  user: UserTable;
  /** Where the users' files are read from (the definition's file_sources). */
  files: FileSources;
  exporterVersion: string;
  schemaVersion: string;
  /** What an erasure does, where every entity has an erase rule: the erase pass's, from the same checked definition. */
  erasure?: ErasurePlan;
  /** Why there is no erasure plan, where the rules cannot hold (the erase pass names them and erases nothing). */
  erasureProblems?: readonly string[];
}

/** What one build is told by the run that starts it. */
export interface BuildOptions {
  /** Aborted when the build must stop (the process is asked to). */
  signal: AbortSignal;
  /** How often the claim is renewed (and progress reported). */
  heartbeatMs: number;
  onProgress?: (requestId: string, progress: BuildProgress) => void;
}

export type RequestOutcome =
  | { kind: 'ready'; rows: number; bytes: number; seconds: number; rowCounts: Record<string, number> }
  | { kind: 'retry' | 'failed'; error: string }
  /** The claim was taken over, or the request (or its user) was deleted: nothing of ours remains. */
  | { kind: 'lost' }
  /** Stopped by a signal; the request is pending again. */
  | { kind: 'released' };

/** One build's whole context: the run's, and what it is told. */
export type BuildRun = BuildContext & BuildOptions;
