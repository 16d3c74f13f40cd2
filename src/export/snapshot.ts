import type { Readable } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ExportEntity, UserTable } from './entities.ts';
import { sizeSql, userLiteral } from './queries.ts';

export interface EntitySize {
  rows: number;
  /** A rough size of the entity's JSON, to decide up front whether it needs numbered parts. */
  estimatedJsonBytes: number;
  /** Rows that point at one of the user's files. */
  rowsWithFiles: number;
}

/**
 * One consistent view of a user's data: every query of one export runs in a
 * single REPEATABLE READ, READ ONLY transaction on one connection, so the
 * counts, the JSON and the CSV all see the same rows.
 */
export class Snapshot {
  private readonly client: pg.PoolClient;
  private closed = false;
  /** The error that broke the connection between two queries (a killed backend): the root cause to report. */
  private broken: Error | undefined;
  private readonly onError = (error: Error) => (this.broken ??= error);
  /** The snapshot's time, ISO 8601 UTC with microseconds. */
  readonly asOf: string;

  private constructor(client: pg.PoolClient, asOf: string) {
    this.client = client;
    this.asOf = asOf;
    client.on('error', this.onError);
  }

  static async open(pool: pg.Pool): Promise<Snapshot> {
    const client = await pool.connect();
    try {
      await client.query('begin isolation level repeatable read, read only');
      const { rows } = await client.query<{ as_of: string }>(
        `select to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as as_of`,
      );
      return new Snapshot(client, rows[0]!.as_of);
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  async userExists(user: UserTable, userId: string): Promise<boolean> {
    const { rowCount } = await this.client.query(`select 1 from ${user.table} where ${user.idColumn} = ${userLiteral(userId)}`);
    return rowCount === 1;
  }

  /** Row counts and size estimates for every entity, in one round trip. */
  async sizes(entities: readonly ExportEntity[], userId: string): Promise<Map<string, EntitySize>> {
    const selects = entities.map((entity) => `select '${entity.name}' as entity, * from (${sizeSql(entity, userId)}) s`);
    const { rows } = await this.client.query<{ entity: string; n: string; bytes: string | null; files: string }>(selects.join(' union all '));
    return new Map(rows.map((r) => [r.entity, { rows: Number(r.n), estimatedJsonBytes: Number(r.bytes ?? 0), rowsWithFiles: Number(r.files) }]));
  }

  /** Streams the output of a COPY … TO STDOUT statement. */
  copy(sql: string): Readable {
    // Otherwise node-postgres says only "Client has encountered a connection error and is not queryable".
    if (this.broken) throw this.broken;
    return this.client.query(copyTo(sql));
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
    this.client.off('error', this.onError);
    if (error) {
      this.client.release(error);
      return;
    }
    try {
      await this.client.query('commit');
      this.client.release();
    } catch (commitError) {
      this.client.release(commitError as Error);
    }
  }
}

