import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { primarySource, type SnapshotSource } from './snapshot-source.ts';

/** Why a build read from the primary although a replica is set. */
export type FallbackReason = 'lagging' | 'unreachable' | 'not_a_standby';

export interface ReplicaFallback {
  reason: FallbackReason;
  /** How long the build waited on the replica first. */
  waitedSeconds: number;
  /** The primary's WAL position at the claim, and how far the replica had replayed (null: unknown). */
  claimLsn: string;
  replayedLsn: string | null;
  /** What failed, for `unreachable` (the operator's log only). */
  error?: unknown;
}

/** The first wait between two looks at the replica's replay position; doubled up to MAX_PAUSE_MS. */
const FIRST_PAUSE_MS = 20;
const MAX_PAUSE_MS = 500;

/**
 * A hot standby that the builds read the people's rows and file lists from
 * (EXPORT_READ_DATABASE_URL), so that a heavy user's scan never runs on the
 * database the application serves from. Claims, progress, publishing and
 * the trail stay on the primary.
 *
 * A standby is behind its primary by however much it has not replayed yet:
 * a row written just before the request could be missing there. So a build
 * reads from it only once it has replayed past the primary's WAL position
 * taken at the claim (`pg_current_wal_insert_lsn()`, claims.ts), checked on
 * the very connection the snapshot then begins on (behind a load balancer,
 * two connections may reach two standbys). A standby that has not caught up
 * within EXPORT_REPLICA_MAX_LAG, that cannot be reached, or that is no
 * longer a standby (promoted, or the URL names a primary) is left for the
 * primary, for the rest of that build: a late archive is acceptable, one
 * that misses data is not. One that fails while it is read from fails the
 * build, which is retried, as a failing primary would.
 */
export class ReplicaReads {
  /** Builds that read from the primary instead, since the process started, by reason. */
  readonly fallbacks: Record<FallbackReason, number> = { lagging: 0, unreachable: 0, not_a_standby: 0 };
  private readonly pool: pg.Pool;
  private readonly primary: pg.Pool;
  private readonly maxLagMs: number;

  constructor(replica: pg.Pool, primary: pg.Pool, maxLagSeconds: number) {
    this.pool = replica;
    this.primary = primary;
    this.maxLagMs = maxLagSeconds * 1000;
  }

  /**
   * Where one build reads: the replica, on a connection that has replayed past
   * `claimLsn`; else the primary, from the first fallback on, which
   * `onFallback` hears of once.
   */
  forBuild(claimLsn: string, signal: AbortSignal, onFallback: (fallback: ReplicaFallback) => void): SnapshotSource {
    const primary = primarySource(this.primary);
    let fellBack = false;
    return {
      connect: async () => {
        if (fellBack) return primary.connect();
        const caughtUp = await this.caughtUp(claimLsn, signal);
        if ('client' in caughtUp) return { client: caughtUp.client, pool: this.pool };
        fellBack = true;
        this.fallbacks[caughtUp.reason]++;
        onFallback(caughtUp);
        return primary.connect();
      },
    };
  }

  /** A replica connection whose next transaction sees everything up to `claimLsn`, or why there is none. */
  private async caughtUp(claimLsn: string, signal: AbortSignal): Promise<{ client: pg.PoolClient } | ReplicaFallback> {
    const started = performance.now();
    const fallback = (reason: FallbackReason, replayedLsn: string | null, error?: unknown): ReplicaFallback => ({
      reason,
      waitedSeconds: Math.round(performance.now() - started) / 1000,
      claimLsn,
      replayedLsn,
      ...(error === undefined ? {} : { error }),
    });
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      signal.throwIfAborted();
      return fallback('unreachable', null, error);
    }
    try {
      for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
        const { rows } = await client.query<{ standby: boolean; caught_up: boolean | null; replayed: string | null }>(
          'select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn() >= $1::pg_lsn as caught_up, pg_last_wal_replay_lsn()::text as replayed',
          [claimLsn],
        );
        const { standby, caught_up, replayed } = rows[0]!;
        if (caught_up && standby) return { client };
        const waitedMs = performance.now() - started;
        if (!standby || waitedMs >= this.maxLagMs) {
          client.release();
          return fallback(standby ? 'lagging' : 'not_a_standby', replayed);
        }
        await sleep(Math.min(pause, this.maxLagMs - waitedMs), undefined, { signal });
      }
    } catch (error) {
      client.release(error as Error);
      if (signal.aborted) throw error;
      return fallback('unreachable', null, error);
    }
  }
}
