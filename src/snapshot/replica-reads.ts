import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { primarySource, type SnapshotSource } from './snapshot-source.ts';

/** Why a build read from the primary although a replica is set. */
export type FallbackReason = 'lagging' | 'unreachable' | 'not_a_standby';

export interface ReplicaFallback {
  reason: FallbackReason;
  /** How long the build waited on the replica first. */
  waitedSeconds: number;
  /** How far the replica had replayed, where it said (the operator's log only). */
  replayedLsn: string | null;
  /** What failed, for `unreachable` (the operator's log only). */
  error?: unknown;
}

/** The claim a build holds: the one row a snapshot that has caught up with it must show. */
export interface HeldClaim {
  id: string;
  claimId: string;
}

/** The first wait between two looks at the replica; doubled up to MAX_PAUSE_MS. */
const FIRST_PAUSE_MS = 20;
const MAX_PAUSE_MS = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A hot standby that the builds read the people's rows and file lists from
 * (EXPORT_READ_DATABASE_URL), so that a heavy user's scan never runs on the
 * database the application serves from. Claims, progress, publishing and
 * the trail stay on the primary.
 *
 * A standby is behind its primary by what it has not replayed yet: a row
 * written just before the request could be missing there. The build's own
 * claim is the proof that it is not: the claim was committed after every
 * row the request must see, so a snapshot that shows the request with this
 * build's claim_id shows them all. Each snapshot checks that in its own
 * transaction (SnapshotSource's proof), so no pooler, load balancer, other
 * timeline or other cluster can slip a standby in that has not caught up;
 * a cheap look on the same connection first waits for it without reading
 * anything. A standby that has not shown the claim within
 * EXPORT_REPLICA_MAX_LAG, that cannot be reached, or that is no longer a
 * standby leaves the build to the primary, and one found behind leaves the
 * next builds to it for as long again, before it is tried anew: a late or
 * primary-read archive is acceptable, one that misses data is not. One that
 * fails while it is read from fails the build, which is retried, as a
 * failing primary would.
 */
export class ReplicaReads {
  /** Builds that read from the primary instead, since the process started, by reason. */
  readonly fallbacks: Record<FallbackReason, number> = { lagging: 0, unreachable: 0, not_a_standby: 0 };
  private readonly pool: pg.Pool;
  private readonly primary: pg.Pool;
  private readonly maxLagMs: number;
  /** Until when builds skip a standby found behind (performance.now()). */
  private behindUntil = 0;

  constructor(replica: pg.Pool, primary: pg.Pool, maxLagSeconds: number) {
    this.pool = replica;
    this.primary = primary;
    this.maxLagMs = maxLagSeconds * 1000;
  }

  /** Where one build reads: the replica, in snapshots that show its claim; the primary from the first fallback on, which `onFallback` hears of once. */
  forBuild(claim: HeldClaim, signal: AbortSignal, onFallback: (fallback: ReplicaFallback) => void): SnapshotSource {
    if (!UUID.test(claim.id) || !UUID.test(claim.claimId)) throw new Error('a claim is named by two uuids');
    const proof = `select 1 from data_export_requests where id = '${claim.id}' and claim_id = '${claim.claimId}'`;
    const primary = primarySource(this.primary);
    const started = performance.now();
    let fellBack = false;
    const fallBack = (fallback: ReplicaFallback) => {
      fellBack = true;
      this.fallbacks[fallback.reason]++;
      if (fallback.reason === 'lagging') this.behindUntil = performance.now() + this.maxLagMs;
      onFallback(fallback);
    };
    const waited = () => Math.round(performance.now() - started) / 1000;
    return {
      connect: async () => {
        if (!fellBack && performance.now() < this.behindUntil)
          fallBack({ reason: 'lagging', waitedSeconds: 0, replayedLsn: null });
        if (fellBack) return primary.connect();
        const shown = await this.showing(claim, started, signal);
        if ('client' in shown) return { client: shown.client, pool: this.pool, proof };
        fallBack({ ...shown, waitedSeconds: waited() });
        return primary.connect();
      },
      behind: async () => {
        // The look said yes and the snapshot no: another server behind the same address. Again, within the same time.
        if (performance.now() - started >= this.maxLagMs)
          fallBack({ reason: 'lagging', waitedSeconds: waited(), replayedLsn: null });
        else await sleep(MAX_PAUSE_MS, undefined, { signal });
      },
    };
  }

  /** A replica connection that has shown the claim (outside any snapshot), or why there is none. */
  private async showing(
    claim: HeldClaim,
    started: number,
    signal: AbortSignal,
  ): Promise<{ client: pg.PoolClient } | Omit<ReplicaFallback, 'waitedSeconds'>> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      signal.throwIfAborted();
      return { reason: 'unreachable', replayedLsn: null, error };
    }
    try {
      for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
        const { rows } = await client.query<{ standby: boolean; shown: boolean; replayed: string | null }>(
          `select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replayed,
                  exists (select 1 from data_export_requests where id = $1 and claim_id = $2) as shown`,
          [claim.id, claim.claimId],
        );
        const { standby, shown, replayed } = rows[0]!;
        if (shown && standby) return { client };
        const waitedMs = performance.now() - started;
        if (!standby || waitedMs >= this.maxLagMs) {
          client.release();
          return { reason: standby ? 'lagging' : 'not_a_standby', replayedLsn: replayed };
        }
        await sleep(Math.min(pause, this.maxLagMs - waitedMs), undefined, { signal });
      }
    } catch (error) {
      client.release(error as Error);
      if (signal.aborted) throw error;
      return { reason: 'unreachable', replayedLsn: null, error };
    }
  }
}
