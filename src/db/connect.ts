import { CamelCasePlugin, Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
/** A transaction on it: what a statement that must hold with others takes. */
export type Tx = Transaction<Database>;

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface ConnectOptions {
  url: string;
  /** Connections in the pool; the snapshot readers take one each, plus one for bookkeeping. */
  maxConnections: number;
  /** How long to wait for a connection before giving up (an unreachable database must fail fast). */
  connectTimeoutMs?: number;
  applicationName?: string;
}

/**
 * One pool serves both Kysely (request bookkeeping) and the raw snapshot
 * readers (COPY streams, which Kysely cannot express).
 */
export function connect(options: ConnectOptions): DbHandle {
  const pool = newPool(options);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    // Nested keys are data (row_counts' entity names), not columns: leave them as they are.
    plugins: [new CamelCasePlugin({ maintainNestedObjectKeys: true })],
  });
  return {
    db,
    pool,
    async close() {
      await db.destroy();
    },
  };
}

/** A pool of raw connections (the snapshot readers' own, for a replica), whose broken connections never crash the process. */
export function newPool(options: ConnectOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'exporter',
    // A killed backend surfaces as an error on the pool; it must not crash the
    // process unhandled. The query that used the connection reports it.
  });
  pool.on('error', () => {});
  // A connection killed while checked out but between two queries reports on
  // the client itself; unheard, that 'error' crashes the process. The next
  // query on the client fails with the same error, which is where it is handled.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** The database refused a second open request for one user (the partial unique index). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === '23505';
}
