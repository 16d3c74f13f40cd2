import type pg from 'pg';
import type { ExportEntity } from '../model/entities.ts';
import type { SnapshotSource } from '../snapshot/snapshot-source.ts';
import { isRowDataError, RowNotWritableError } from './archive-errors.ts';
import { columnProbeSql, entityProbeSql } from './queries.ts';

/**
 * After a read failed with a data error: which entity, and which of its
 * columns, PostgreSQL cannot write for the user's rows. The entity being
 * written first, then the others (small entities are read in one round trip,
 * and one's error may surface while another is written). Asked outside the
 * failed snapshot (its transaction is over), on a connection from where it read: an
 * entity's rows whole, as the export reads them, must fail the same way (else
 * the error was no row's, and is thrown as it came, to be retried), then each
 * column alone. Runs only on a failing request, once per attempt.
 */
export async function unwritableRow(
  source: SnapshotSource,
  entities: readonly ExportEntity[],
  first: ExportEntity,
  userId: string,
  error: unknown,
): Promise<unknown> {
  if (!isRowDataError(error)) return error;
  const { client } = await source.connect();
  try {
    for (const entity of [first, ...entities.filter((e) => e !== first)]) {
      if ((await refusal(client, entityProbeSql(entity, userId))) === undefined) continue;
      for (const column of entity.columns) {
        const refused = await refusal(client, columnProbeSql(entity, column, userId));
        if (refused) return new RowNotWritableError(entity.name, column.name, refused);
      }
      return new RowNotWritableError(entity.name, undefined, error);
    }
    return error;
  } finally {
    client.release();
  }
}

/** The data error a query ends with, or undefined when it runs (any other error is not a row's, and is not an answer). */
async function refusal(client: pg.PoolClient, sql: string): Promise<{ code: string; message: string } | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return isRowDataError(error) ? error : undefined;
  }
}
