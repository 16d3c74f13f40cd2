import type { Readable } from 'node:stream';
import type pg from 'pg';
import { isoTimestamp } from '../model/iso-timestamp.ts';
import { CopyBatch } from './copy-batch.ts';
import { type CopyOut, copyOut } from './copy-out.ts';
import { primarySource, type SnapshotSource } from './snapshot-source.ts';

/**
 * The transaction-local setting that holds the files an archive includes,
 * one per line (keepFiles; the rows' queries look them up).
 */
export const INCLUDED_SETTING = 'exporter.included';

/**
 * Two scans of the same rows list them in the same order. Every scan starts
 * at the table's first block: with synchronized scans (on by default) a
 * second scan of a big table joins one under way midway. And no parallel
 * plan: a Gather hands on its workers' rows in whatever order they come.
 * Otherwise the JSON and CSV of an entity, read at once on two connections
 * or one after the other, could list the same rows in different orders.
 * (copyWithWorkers is the exception: one read that serves both files.)
 */
const SAME_ORDER = 'set local synchronize_seqscans = off; set local max_parallel_workers_per_gather = 0';
/** One consistent view that never writes. */
const BEGIN = 'begin isolation level repeatable read, read only';
/**
 * The snapshot's own session guards, whatever the role's or database's
 * settings (docs/performance.md). A production role's
 * statement_timeout (say 30 s) would end a heavy user's COPY, and its
 * idle_in_transaction_session_timeout would end the snapshot while the user's
 * files download between two of its queries: every retry would fail the same
 * way. Neither is bounded here by time, because a big export is long by
 * right; the build's stall watchdog (EXPORT_STALL_TIMEOUT) ends a read that
 * makes no progress, closing this connection, and the claim's lease bounds a
 * build whose process died. A lock is waited for at most a minute: the
 * snapshot only reads, so it waits only behind DDL on the application's
 * tables, and the request is better retried than left hanging behind a
 * migration (which would itself queue every later reader of that table).
 * SET LOCAL: they end with the transaction, and hold behind a pooler. And
 * standard_conforming_strings, for the rest of the transaction's statements
 * (the user id is inlined as an escape string literal, which needs none:
 * textLiteral; a setting made in a message does nothing for that message,
 * which PostgreSQL reads whole before it runs it). And the text of dates,
 * times and intervals, whatever the role's settings: ISO 8601, in UTC
 * (column-kinds.ts: as_text, array).
 */
const GUARDS =
  "set local statement_timeout = 0; set local idle_in_transaction_session_timeout = 0; set local lock_timeout = '60s'; set local standard_conforming_strings = on; " +
  "set local datestyle = 'ISO, YMD'; set local intervalstyle = 'iso_8601'; set local timezone = 'UTC'";

/**
 * One consistent view of a user's data: every query of one export runs in a
 * single REPEATABLE READ, READ ONLY transaction on one connection, so the
 * counts, the JSON and the CSV all see the same rows.
 */
export class Snapshot {
  private readonly client: pg.PoolClient;
  private readonly pool: pg.Pool;
  private closed = false;
  /** A second connection on this snapshot, once one was asked for (null: the pool had none to spare). */
  private second: Promise<Snapshot | null> | undefined;
  /** The error that broke the connection between two queries (a killed backend): the root cause to report. */
  private broken: Error | undefined;
  /** The files the archive includes (keepFiles), for the reader opened after. */
  private included: readonly string[] | undefined;
  private readonly onError = (error: Error) => (this.broken ??= error);
  /** The snapshot's time, ISO 8601 UTC with microseconds. */
  readonly asOf: string;
  /** What its source said a snapshot of it must show (SnapshotSource): its second reader shows it too, or is not used. */
  private readonly proof: string | undefined;
  /** When its transaction began (performance.now()), and how long it was held once closed. */
  private readonly began: number;
  private heldMs: number | undefined;

  private constructor(pool: pg.Pool, client: pg.PoolClient, asOf: string, began: number, proof?: string) {
    this.pool = pool;
    this.client = client;
    this.asOf = asOf;
    this.began = began;
    this.proof = proof;
    client.on('error', this.onError);
  }

  static async open(pool: pg.Pool): Promise<Snapshot> {
    return (await Snapshot.openWith(primarySource(pool), [])).snapshot;
  }

  /**
   * BEGIN, the settings and the snapshot's time, then `statements` (one
   * result each), in one message: a light request's time is mostly round
   * trips (BENCHMARKS.md). On a connection from `source`: the primary, or a
   * replica whose snapshot must show the claim (its proof).
   */
  static async openWith(
    source: SnapshotSource,
    statements: readonly string[],
  ): Promise<{ snapshot: Snapshot; results: pg.QueryResult[] }> {
    for (;;) {
      const { client, pool, proof } = await source.connect();
      const began = performance.now();
      const checks = proof ? [proof] : [];
      let results: pg.QueryResult[];
      try {
        results = (await client.query(
          [BEGIN, GUARDS, SAME_ORDER, `select ${isoTimestamp('now()')} as as_of`, ...checks, ...statements].join('; '),
        )) as unknown as pg.QueryResult[];
        if (proof && results.at(-1 - statements.length)!.rowCount !== 1) await client.query('rollback');
      } catch (error) {
        client.release(error as Error);
        throw error;
      }
      if (proof && results.at(-1 - statements.length)!.rowCount !== 1) {
        client.release();
        await source.behind();
        continue;
      }
      const asOf = (results.at(-1 - statements.length - checks.length) as pg.QueryResult<{ as_of: string }>).rows[0]!
        .as_of;
      return {
        snapshot: new Snapshot(pool, client, asOf, began, proof),
        results: results.slice(results.length - statements.length),
      };
    }
  }

  /**
   * A second reader of this same snapshot, on another connection
   * (`pg_export_snapshot()` here, `SET TRANSACTION SNAPSHOT` there, as
   * pg_dump's parallel mode does), so that PostgreSQL serializes two files at
   * once on two cores. Opened once and closed with this one. None when the
   * pool is at its limit with no connection to spare: the caller then reads
   * in turn rather than waiting on builds that wait in their turn.
   */
  reader(): Promise<Snapshot | null> {
    this.second ??= this.openReader();
    return this.second;
  }

  private async openReader(): Promise<Snapshot | null> {
    const pool = this.pool;
    // At its limit with no idle connection beyond those already promised to waiters: read in turn instead.
    if (pool.totalCount >= (pool.options.max ?? 10) && pool.idleCount <= pool.waitingCount) return null;
    const { rows } = await this.client.query<{ id: string }>('select pg_export_snapshot() as id');
    const id = rows[0]!.id;
    if (!/^[0-9A-F-]+$/i.test(id)) throw new Error(`unexpected snapshot id ${JSON.stringify(id)}`);
    // A second connection that cannot join the snapshot (a pooler that sends it
    // to another server, say) costs only the parallelism: the caller reads in turn.
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch {
      return null;
    }
    const began = performance.now();
    try {
      await client.query(`${BEGIN}; set transaction snapshot '${id}'; ${GUARDS}; ${SAME_ORDER}`);
      // Behind a load balancer another server could know a snapshot of that id: this one must show the same proof.
      if (this.proof && (await client.query(this.proof)).rowCount !== 1) throw new Error('not the same snapshot');
    } catch (error) {
      client.release(error as Error);
      return null;
    }
    // Closed while it was being opened (the build was stopped): close it too.
    const reader = new Snapshot(pool, client, this.asOf, began, this.proof);
    if (this.included !== undefined) await reader.keepFiles(this.included);
    if (this.closed) await reader.close(new Error('the snapshot was closed'));
    return reader;
  }

  /**
   * The files the archive includes (includedFileKey, write-files.ts), for
   * the rows' queries on this connection (and on its reader, opened after):
   * held in the transaction's INCLUDED_SETTING, sent once as a parameter, so
   * that no query's text grows with them (queries.ts, PathsKept).
   */
  async keepFiles(included: readonly string[]): Promise<void> {
    if (this.second) throw new Error('keepFiles() after the reader was opened');
    this.included = included;
    await this.client.query('select set_config($1, $2, true)', [INCLUDED_SETTING, included.join('\n')]);
  }

  /** How long its transaction was open, in seconds (to the millisecond, as the ready line's other times), once closed: what it held back of vacuum on the application's primary. */
  get heldSeconds(): number | undefined {
    return this.heldMs === undefined ? undefined : Math.round(this.heldMs) / 1000;
  }

  /** Streams the output of a COPY … TO STDOUT statement. */
  copy(sql: string): CopyOut {
    // Otherwise node-postgres says only "Client has encountered a connection error and is not queryable".
    if (this.broken) throw this.broken;
    return this.client.query(copyOut(sql));
  }

  /**
   * Reads the output of a COPY … TO STDOUT statement that PostgreSQL may plan
   * with up to `workers` parallel workers beside this connection's backend:
   * only for a query that reads its rows once, in a total order (a split
   * entity's paired read), so that the order a Gather hands rows on in cannot
   * set two reads apart. Every other query is planned without (SAME_ORDER):
   * the setting is made before the COPY and taken back once `consume` has
   * read it to its end, each in its own round trip (two for a read of
   * hundreds of MB), so that no query ever waits in node-postgres's queue
   * behind another (which pg@9 no longer allows).
   */
  async copyWithWorkers<T>(sql: string, workers: number, consume: (out: CopyOut) => Promise<T>): Promise<T> {
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`not a number of workers: ${workers}`);
    if (this.broken) throw this.broken;
    await this.client.query(`set local max_parallel_workers_per_gather = ${workers}`);
    const result = await consume(this.client.query(copyOut(sql)));
    await this.client.query('set local max_parallel_workers_per_gather = 0');
    return result;
  }

  /**
   * Streams the outputs of several small COPY … TO STDOUT statements sent in
   * one round trip (CopyBatch): to be read in order, and the connection is
   * busy until the last has ended.
   */
  copyBatch(statements: readonly string[]): readonly Readable[] {
    if (this.broken) throw this.broken;
    return this.client.query(new CopyBatch(statements)).outputs;
  }

  /**
   * Ends the transaction; a connection that saw an error is discarded rather
   * than reused. Closing with an error while a query runs ends that query
   * (its connection is closed), which is how an aborted build stops a COPY
   * that would otherwise wait on the database forever. Closing twice is a no-op.
   */
  async close(error?: Error): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.heldMs = performance.now() - this.began;
    this.client.off('error', this.onError);
    if (error) {
      this.client.release(error);
    } else {
      try {
        await this.client.query('commit');
        this.client.release();
      } catch (commitError) {
        this.client.release(commitError as Error);
      }
    }
    // The second reader after the first: an abort ends the first one's query at once.
    const second = await this.second?.catch(() => null);
    await second?.close(error);
  }
}
