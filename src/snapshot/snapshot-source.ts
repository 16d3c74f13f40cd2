import type pg from 'pg';

/**
 * Where one build's snapshots connect: the application's primary, or a hot
 * standby that has caught up with the build's claim (replica-reads.ts). A
 * snapshot begun on a connection it hands out sees every commit made before
 * the request was claimed, a row written just before the request included:
 * where that cannot be taken for granted, the source names a `proof`, a
 * query that returns a row only in such a snapshot, which the snapshot runs
 * in its own transaction; one that fails it is begun again once `behind()`
 * has waited (or left the build to the primary).
 */
export interface SnapshotSource {
  /** A connection, the pool it came from (a snapshot's second reader comes from the same pool), and the proof its snapshot must pass, if any. */
  connect(): Promise<{ client: pg.PoolClient; pool: pg.Pool; proof?: string }>;
  /** The snapshot just begun failed its proof: wait before the next connect(), or make it the primary's. */
  behind(): Promise<void>;
}

/** The primary: everything committed before the claim is there already. */
export function primarySource(pool: pg.Pool): SnapshotSource {
  return {
    connect: async () => ({ client: await pool.connect(), pool }),
    behind: () => Promise.reject(new Error('a snapshot of the primary has no proof to fail')),
  };
}
