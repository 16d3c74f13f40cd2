import type { ExportEntity } from '../model/entities.ts';
import type { ErasureEntity, ErasurePlan } from '../model/erasure.ts';
import type { ErasureBatches } from './batches.ts';
import { countSql, residueSql, unchangedSql } from './erasure-sql.ts';

/** What the proof found left of the person: each an entity and why; the erasure fails, naming the first. */
export class ResidueError extends Error {
  override name = 'ResidueError';
}

/**
 * After the last batch, the person looked for again, as their export would:
 * no row of an entity erased by deletion may remain, no membership, no shared
 * row still naming them, no anonymized column may hold their key or any
 * value it held before (the values were kept, as hashes, for this). A
 * trigger that put a row back, a write that raced the last batch: found here,
 * and named. (What was kept is counted as each entity is erased, steps.ts:
 * after, a row kept under a parent whose owner became the ghost is no longer
 * theirs to count.)
 */
export async function prove(
  plan: ErasurePlan,
  exported: readonly ExportEntity[],
  batches: ErasureBatches,
  erasureId: string,
): Promise<void> {
  const left: string[] = [];
  const count = async (text: string, params: unknown[] = []) =>
    Number((await batches.read(text, params)).rows[0]!.n as string);
  for (const e of plan.entities) left.push(...(await residueOf(e, exported, count, erasureId, plan.ghostUser)));
  if (left.length > 0) throw new ResidueError(`the person is still there after the erasure: ${left.join('; ')}`);
}

async function residueOf(
  e: ErasureEntity,
  exported: readonly ExportEntity[],
  count: (text: string, params?: unknown[]) => Promise<number>,
  erasureId: string,
  ghostUser: string | undefined,
): Promise<string[]> {
  const left: string[] = [];
  const say = (n: number, what: string) => n > 0 && left.push(`${e.name}: ${n} ${what}`);
  if (e.rule === 'delete' && e.scope !== null) {
    say(await count(countSql(e.table, e.scope)), 'rows of theirs remain (a trigger or a write put them back?)');
    const asExported = exported.find((x) => x.name === e.name);
    if (asExported)
      say(
        await count(`select count(*)::bigint as n from ${asExported.from.replaceAll(':user', '$1')}`),
        'rows their export still reads',
      );
  }
  if (e.memberships) say(await count(countSql(e.memberships.table, e.memberships.where)), 'memberships remain');
  if (e.shared) say(await count(countSql(e.table, e.shared.where)), 'shared rows still name them');
  for (const r of e.references ?? [])
    say(
      await count(countSql(e.table, r.where)),
      `rows whose ${r.columns.map((c) => c.name).join(', ')} still point at them`,
    );
  if (e.rule === 'anonymize')
    for (const c of e.columns) {
      const fixed = c.strategy.kind === 'text' ? c.strategy.text : null;
      say(
        await count(residueSql(e, c), [erasureId, e.name, c.name, fixed]),
        `rows whose ${c.name} still holds what it held, or their key`,
      );
      const unchanged = unchangedSql(e, c, ghostUser);
      say(await count(unchanged.text, unchanged.params), `rows of theirs whose ${c.name} was never anonymized`);
    }
  return left;
}
