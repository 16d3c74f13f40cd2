import type pg from 'pg';
import type { FileSources } from '../files/sources.ts';
import type { Logger } from '../log.ts';
import type { DeletedWith, ErasedFiles, ErasureEntity } from '../model/erasure.ts';
import type { ErasureBatches } from './batches.ts';
import {
  anonymizeBatchSql,
  countSql,
  deleteBatchSql,
  deleteReferencedSql,
  type ErasureSecrets,
  fileKeysSql,
  sharedBatchSql,
} from './erasure-sql.ts';

/*
 * One entity's erasure, in steps: the person's files its rows point at
 * (before the rows that name them go), their memberships of shared things,
 * their side of rows they share with another person, and then their own rows
 * (deleted, anonymized, or kept). Each step records that it is done; a
 * resumed erasure skips it, and resumes a step under way at its cursor.
 */

export interface StepContext {
  batches: ErasureBatches;
  files: FileSources;
  secrets: ErasureSecrets;
  erasureId: string;
  batch: number;
  log: Logger;
  signal: AbortSignal;
}

type Counts = Record<string, number>;

export async function eraseEntity(e: ErasureEntity, c: StepContext): Promise<void> {
  c.batches.progress[e.name] ??= { done: [], counts: {} };
  const state = c.batches.progress[e.name]!;
  state.counts ??= {};
  const done = new Set(state.done);
  const counts = state.counts;
  const step = async (name: string, work: () => Promise<void>) => {
    if (done.has(name)) return;
    c.signal.throwIfAborted();
    await work();
    state.done = [...(state.done ?? []), name];
    delete state.cursor;
    await c.batches.saveAlone();
  };
  if (e.rule !== 'keep' && e.scope !== null)
    for (const f of e.files) await step(`files:${f.name}`, () => eraseFiles(e, f, counts, c));
  if (e.memberships)
    await step('memberships', () =>
      loop(c, counts, 'memberships', e.memberships!, {
        text: deleteBatchSql(e.memberships!.table, e.memberships!.where, c.batch),
      }),
    );
  if (e.shared) await step('shared', () => eraseShared(e, counts, c));
  for (const [i, reference] of (e.references ?? []).entries())
    await step(`references:${i}`, async () => {
      const { text, params } = sharedBatchSql({ ...e, shared: reference }, c.batch, c.secrets);
      await loop(c, counts, 'references', { table: e.table, where: reference.where }, { text, params });
    });
  // Rows their parent points at go with the parent's batches (deleteRows), not before.
  if (e.scope !== null && e.rule === 'delete' && !e.withParent) await step('rows', () => deleteRows(e, counts, c));
  if (e.scope !== null && e.rule === 'anonymize') await step('rows', () => anonymize(e, counts, c));
  // Counted now, not after: a row kept under a parent that is anonymized later (its owner the ghost) is no longer theirs then.
  if (e.scope !== null && e.rule === 'keep')
    await step('kept', async () => {
      const { rows } = await c.batches.read(countSql(e.table, e.scope!));
      counts.kept = Number((rows[0] as { n: string }).n);
    });
}

type Query = (text: string, params?: unknown[]) => Promise<pg.QueryResult>;

/**
 * Runs a statement a batch at a time, counting, until it changes no row or
 * has changed as many as `rows` held when it began: a trigger that puts a
 * row back cannot hold the erasure in a loop (the proof finds what it put).
 * `after` runs in each batch's transaction, with what the statement returned.
 */
async function loop(
  c: StepContext,
  counts: Counts,
  count: string,
  rows: { table: string; where: string },
  statement: { text: string; params?: unknown[] },
  after?: (query: Query, result: pg.QueryResult) => Promise<void>,
): Promise<void> {
  const { rows: found } = await c.batches.read(countSql(rows.table, rows.where));
  const at = Number((found[0] as { n: string }).n);
  let changedInAll = 0;
  while (changedInAll < at) {
    c.signal.throwIfAborted();
    const changed = await c.batches.run(async (query) => {
      const result = await query(statement.text, statement.params ?? []);
      const n = result.rowCount ?? 0;
      counts[count] = (counts[count] ?? 0) + n;
      if (after) await after(query, result);
      return n;
    });
    if (changed === 0) return;
    changedInAll += changed;
  }
}

/** The person's rows, a batch at a time; in each batch's transaction, the rows of others they pointed at (deletesWith). */
async function deleteRows(e: ErasureEntity, counts: Counts, c: StepContext): Promise<void> {
  const withThem = e.deletesWith ?? [];
  const text = deleteBatchSql(e.table, e.scope!, c.batch, [...new Set(withThem.flatMap((w) => w.refs))]);
  await loop(c, counts, 'deleted', { table: e.table, where: e.scope! }, { text }, (query, result) =>
    deleteReferenced(query, result.rows, withThem, c),
  );
}

/** Each `w` the deleted rows pointed at and nothing points at now, and what those pointed at in turn; counted as theirs. */
async function deleteReferenced(
  query: Query,
  deleted: Record<string, string | null>[],
  withThem: readonly DeletedWith[],
  c: StepContext,
): Promise<void> {
  for (const w of withThem) {
    const keys = deleted.map((row) => w.refs.map((r) => row[r] ?? null)).filter((k) => k.every((v) => v !== null));
    if (keys.length === 0) continue;
    const result = await query(deleteReferencedSql(w, [...new Set(w.andThen.flatMap((t) => t.refs))]), [
      JSON.stringify(keys),
    ]);
    c.batches.progress[w.entity] ??= { done: [], counts: {} };
    const state = c.batches.progress[w.entity]!;
    state.counts = { ...state.counts, deleted: (state.counts?.deleted ?? 0) + (result.rowCount ?? 0) };
    await deleteReferenced(query, result.rows, w.andThen, c);
  }
}

async function eraseShared(e: ErasureEntity, counts: Counts, c: StepContext): Promise<void> {
  const { text, params } = sharedBatchSql(e, c.batch, c.secrets);
  await loop(c, counts, 'shared', { table: e.table, where: e.shared!.where }, { text, params });
}

/** The rows kept with their columns changed: the next batch after the cursor, the cursor moved with it. */
async function anonymize(e: ErasureEntity, counts: Counts, c: StepContext): Promise<void> {
  const state = c.batches.progress[e.name]!;
  for (;;) {
    c.signal.throwIfAborted();
    const changed = await c.batches.run(async (query) => {
      const { text, params } = anonymizeBatchSql(
        e,
        state.cursor as unknown[] | undefined,
        c.batch,
        c.secrets,
        c.erasureId,
      );
      const row = (await query(text, params)).rows[0] as { n: string; last: unknown[] | null };
      const n = Number(row.n);
      counts.anonymized = (counts.anonymized ?? 0) + n;
      if (row.last) state.cursor = row.last;
      return n;
    });
    if (changed === 0) return;
  }
}

/**
 * The person's files the rows point at, bound to them by the key prefix the
 * definition gives: each deleted from its bucket and asked for again (it
 * must answer "not found"), a page of keys at a time, the last key recorded.
 */
async function eraseFiles(e: ErasureEntity, f: ErasedFiles, counts: Counts, c: StepContext): Promise<void> {
  const state = c.batches.progress[e.name]!;
  const source = c.files.get(f.source);
  if (!source.remove) throw new Error(`file source ${f.source}: the exporter cannot delete from it`);
  for (;;) {
    const after = (state.cursor?.[0] as string | undefined) ?? '';
    const { rows } = await c.batches.read(fileKeysSql(e, f, e.scope!, c.batch), [after]);
    if (rows.length === 0) return;
    // Counted where the object was there: a page done again after a crash counts none twice.
    for (const { key } of rows as { key: string }[])
      if (await source.remove(key, c.signal)) counts.files = (counts.files ?? 0) + 1;
    state.cursor = [(rows.at(-1) as { key: string }).key];
    await c.batches.saveAlone();
  }
}
