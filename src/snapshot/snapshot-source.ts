import type pg from 'pg';

/**
 * Where one build's snapshots connect: the application's primary, or a hot
 * standby that has replayed past the build's claim (replica-reads.ts). A
 * connection it hands out sees, in the next transaction begun on it, every
 * commit made before the request was claimed: a row written just before the
 * request is never missed.
 */
export interface SnapshotSource {
  /** A connection, and the pool it came from (a snapshot's second reader is taken from the same pool, so from the same server). */
  connect(): Promise<{ client: pg.PoolClient; pool: pg.Pool }>;
}

/** The primary: everything committed before the claim is there already. */
export function primarySource(pool: pg.Pool): SnapshotSource {
  return { connect: async () => ({ client: await pool.connect(), pool }) };
}
