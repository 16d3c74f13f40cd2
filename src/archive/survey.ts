import type pg from 'pg';
import type { ExportEntity, UserTable } from '../model/entities.ts';
import { quoteIdent } from '../model/identifiers.ts';
import { Snapshot } from '../snapshot/snapshot.ts';
import type { SnapshotSource } from '../snapshot/snapshot-source.ts';
import { sizeSql, userLiteral } from './queries.ts';

export interface EntitySize {
  rows: number;
  /** A rough size of the entity's JSON, to decide up front whether it needs numbered parts. */
  estimatedJsonBytes: number;
  /** The user's files its rows point at (one per file column that holds one). */
  files: number;
}

/**
 * Opens the export's snapshot and, in the same round trip (a light
 * request's time is mostly round trips, BENCHMARKS.md), learns whether the
 * user still exists and every entity's row count, size estimate and files;
 * sizes null when the user is gone.
 */
export async function openSurveyed(
  source: SnapshotSource,
  user: UserTable,
  userId: string,
  entities: readonly ExportEntity[],
): Promise<{ snapshot: Snapshot; sizes: Map<string, EntitySize> | null }> {
  const exists = `select 1 from ${user.table} where ${quoteIdent(user.idColumn)} = (${userLiteral(userId)})::${user.keyType}`;
  const selects = entities.map((entity) => `select '${entity.name}' as entity, * from (${sizeSql(entity, userId)}) s`);
  const { snapshot, results } = await Snapshot.openWith(
    source,
    selects.length > 0 ? [exists, selects.join(' union all ')] : [exists],
  );
  type SizeRow = { entity: string; n: string; bytes: string | null; files: string };
  const [found, sizes] = results as [pg.QueryResult, pg.QueryResult<SizeRow> | undefined];
  if (found.rowCount !== 1) return { snapshot, sizes: null };
  const byEntity = new Map(
    (sizes?.rows ?? []).map((r) => [
      r.entity,
      { rows: Number(r.n), estimatedJsonBytes: Number(r.bytes ?? 0), files: Number(r.files) },
    ]),
  );
  return { snapshot, sizes: byEntity };
}
