import type pg from 'pg';
import type { ErasureProgress } from '../db/erasures.ts';

/**
 * Where an erasure's batches run: one pooled connection per batch, each
 * batch its own short transaction under a lock timeout (a row the
 * application holds makes the batch wait at most that long, then fail and
 * be retried, never hold the application up), with the erasure's progress
 * written in the same transaction as the work it records: a crash between
 * two batches resumes after the last one that committed, and a batch is
 * never applied twice.
 */
export class ErasureBatches {
  private readonly pool: pg.Pool;
  private readonly erasure: { id: string; claimId: string };
  private readonly userId: string;
  private readonly lockTimeoutMs: number;
  private readonly claimTtlSeconds: number;
  readonly progress: ErasureProgress;

  constructor(
    pool: pg.Pool,
    erasure: { id: string; claimId: string; userId: string; progress: ErasureProgress },
    options: { lockTimeoutMs: number; claimTtlSeconds: number },
  ) {
    this.pool = pool;
    this.erasure = erasure;
    this.userId = erasure.userId;
    this.progress = structuredClone(erasure.progress);
    this.lockTimeoutMs = options.lockTimeoutMs;
    this.claimTtlSeconds = options.claimTtlSeconds;
  }

  /** One batch: `work` runs with $1 the person's key, then the progress (as `work` changed it) is saved; all or nothing. */
  async run<T>(work: (query: (text: string, params?: unknown[]) => Promise<pg.QueryResult>) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      // A row the application holds makes the batch give up after lock_timeout. No statement_timeout: a batch slowed
      // by the application's unindexed foreign key (minutes, BENCHMARKS.md) would be cancelled and the same batch
      // tried again for ever; its locks are on the person's own rows, which the application does not wait on.
      await client.query(`select set_config('lock_timeout', $1, true), set_config('statement_timeout', '0', true)`, [
        `${this.lockTimeoutMs}ms`,
      ]);
      const result = await work((text, params = []) => client.query(text, [this.userId, ...params]));
      await this.save(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** A read outside any batch ($1 the person's key). */
  async read(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return this.pool.query(text, [this.userId, ...params]);
  }

  /** Saves the progress alone (after work outside the database: objects deleted from a bucket). */
  async saveAlone(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await this.save(client);
    } finally {
      client.release();
    }
  }

  /** Fenced on the claim, and renews it: a worker that lost the erasure stops at its next batch. */
  private async save(client: pg.PoolClient): Promise<void> {
    const { rowCount } = await client.query(
      `update data_export_erasures set progress = $1::jsonb, claim_expires_at = now() + make_interval(secs => $4)
        where id = $2 and claim_id = $3 and status = 'processing'`,
      [JSON.stringify(this.progress), this.erasure.id, this.erasure.claimId, this.claimTtlSeconds],
    );
    if (rowCount === 0) throw new Error(`erasure ${this.erasure.id}: the claim was lost (taken over, or cancelled)`);
  }
}
