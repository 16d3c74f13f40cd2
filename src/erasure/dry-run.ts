import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../db/connect.ts';
import { UsageError } from '../errors.ts';
import type { ErasureEntity, ErasurePlan } from '../model/erasure.ts';
import { countSql } from './erasure-sql.ts';
import { ghostProblems, ghostProblemText } from './ghost.ts';

export interface PlannedEntity {
  entity: string;
  rule: string;
  /** The person's rows the rule applies to. */
  rows: number;
  shared: number;
  memberships: number;
  /** In words, for the plan `erase --dry-run` prints. */
  says: string;
}

/** What an erasure of `userId` would do, entity by entity, in the order it would: counted, nothing changed. */
export async function planCounts(db: Db, plan: ErasurePlan, userId: string): Promise<PlannedEntity[]> {
  // An erasure the run would refuse (the ghost user itself), or could not carry out (no ghost): said before the plan.
  const ghost = await ghostProblems(plan, (text, params) =>
    db.executeQuery(CompiledQuery.raw(text, [userId, ...params])),
  );
  const problem = ghostProblemText(plan, ghost);
  if (problem) throw new UsageError(`erase: ${problem}`);
  const out: PlannedEntity[] = [];
  for (const e of plan.entities) {
    const rows = e.scope === null ? 0 : await countWith(db, e.table, e.scope, userId);
    const shared = e.shared ? await countWith(db, e.table, e.shared.where, userId) : 0;
    const memberships = e.memberships ? await countWith(db, e.memberships.table, e.memberships.where, userId) : 0;
    out.push({ entity: e.name, rule: e.rule, rows, shared, memberships, says: inWords(e, rows, shared, memberships) });
  }
  return out;
}

function inWords(e: ErasureEntity, rows: number, shared: number, memberships: number): string {
  const s = (n: number) => (n === 1 ? '' : 's');
  const verb =
    e.rule === 'delete'
      ? 'delete'
      : e.rule === 'anonymize'
        ? `anonymize (${e.columns.map((c) => `${c.name}: ${c.strategy.kind}`).join(', ')})`
        : `keep (${e.why})`;
  const parts = [`${verb} ${rows} row${s(rows)}`];
  if (e.shared) parts.push(`their side of ${shared} shared row${s(shared)}`);
  if (e.memberships) parts.push(`remove ${memberships} membership${s(memberships)}`);
  if (e.files.length > 0 && e.rule !== 'keep')
    parts.push(`delete their files (${e.files.map((f) => f.name).join(', ')})`);
  if (e.filesElsewhere.length > 0) parts.push(`files stored elsewhere, not deletable: ${e.filesElsewhere.join(', ')}`);
  return parts.join('; ');
}

/** count(*) of `where`, the person's key bound where the text says $1. */
async function countWith(db: Db, table: string, where: string, userId: string): Promise<number> {
  const parts = countSql(table, where)
    .split('$1')
    .map((part) => sql.raw(part));
  const { rows } = await sql<{ n: string }>`${sql.join(parts, sql`${userId}`)}`.execute(db);
  return Number(rows[0]!.n);
}
