import { sql } from 'kysely';
import type pg from 'pg';
import type { Config } from './config.ts';
import { trailGuardRefusal } from './db/audit-chain.ts';
import { connect, type Db, type DbHandle } from './db/connect.ts';
import { currentSchemaVersion } from './db/migrate.ts';
import { errorMessage, UsageError } from './errors.ts';
import type { Logger } from './log.ts';
import { registerSecret } from './redact.ts';
import { postgresPassword } from './setting-reader.ts';
import { S3Storage } from './storage/s3-storage.ts';

/** What a pass needs from the outside world, opened and checked. */
export interface RuntimeDeps {
  db: Db;
  pool: pg.Pool;
  storage: S3Storage;
}

/** A dependency that cannot be reached at start: one clear line, exit 1, nothing changed. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

const START_CHECK_MS = 5_000;

/** Connects to the database and checks it answers within a few seconds. */
export async function openDatabase(config: Config, connections: number): Promise<DbHandle> {
  registerSecret(postgresPassword(config.databaseUrl));
  const handle = connect({ url: config.databaseUrl, maxConnections: connections, connectTimeoutMs: START_CHECK_MS });
  try {
    await sql`select 1`.execute(handle.db);
  } catch (error) {
    await handle.close().catch(() => {});
    throw new UnavailableError(`database unreachable (DATABASE_URL): ${errorMessage(error)}`, { cause: error });
  }
  return handle;
}

/**
 * The schema version, or a clear line when `exporter migrate` has not been
 * run; and the audit trail's guards hold (sql/000010): else one line saying
 * what to do, exit 2, before anything is claimed.
 */
export async function requireSchema(handle: DbHandle): Promise<string> {
  const version = await currentSchemaVersion(handle.db);
  // Not an outage: the setup is not done yet (exit 2, what to run).
  if (!version) throw new UsageError('the database has no exporter schema: run `exporter migrate` first');
  const refusal = version >= '000010' ? await trailGuardRefusal(handle.db) : undefined;
  if (refusal) throw new UsageError(refusal);
  return version;
}

/** Opens storage and checks the bucket answers within a few seconds. */
export async function openStorage(config: Config, log: Logger): Promise<S3Storage> {
  registerSecret(process.env.AWS_SECRET_ACCESS_KEY);
  registerSecret(process.env.AWS_SESSION_TOKEN);
  if (config.storage.sse === 'none') {
    log.warn(
      'S3_SSE=none: archives are written without server-side encryption headers; the bucket must encrypt by itself',
    );
  }
  const storage = new S3Storage(config.storage);
  try {
    await storage.checkReachable(AbortSignal.timeout(START_CHECK_MS));
  } catch (error) {
    storage.destroy();
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    const why = e.$metadata?.httpStatusCode ? `${e.name} (HTTP ${e.$metadata.httpStatusCode})` : errorMessage(error);
    throw new UnavailableError(`storage unreachable (bucket ${config.storage.bucket}): ${why}`, { cause: error });
  }
  return storage;
}
