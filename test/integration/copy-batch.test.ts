import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchedCopies } from '../../src/archive/batched-copies.ts';
import { csvCopySql, jsonLinesCopySql } from '../../src/archive/queries.ts';
import type { EntitySize } from '../../src/archive/survey.ts';
import { CopyBatch } from '../../src/snapshot/copy-batch.ts';
import { createTestEnv, type TestEnv, waitFor } from '../support/harness.ts';
import { withSnapshot } from '../support/snapshot.ts';
import { readAll } from '../support/streams.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** About 4 MB of text: far more than an output's buffer holds. */
const BIG = `copy (select i, repeat('y', 200) from generate_series(1, 20000) i) to stdout`;

const STATEMENTS = [
  `copy (select row_to_json(r)::text from (select i as n, 'line' || chr(10) || i as s, now() as t from generate_series(1, 500) i) r) to stdout with (format binary)`,
  `copy (select i, 'a,b "quoted"' as s from generate_series(1, 300) i) to stdout with (format csv, header true, force_quote (s))`,
  `copy (select 1 where false) to stdout with (format csv, header true)`,
  BIG,
  `copy (select 'last') to stdout`,
];

describe('several COPYs in one round trip', () => {
  it('each output holds byte for byte what its COPY alone gives, in the same snapshot, and the connection answers the next query', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const outputs = snapshot.copyBatch(STATEMENTS);
      expect(outputs).toHaveLength(STATEMENTS.length);
      const batched: Buffer[] = [];
      for (const output of outputs) batched.push(await readAll(output));
      for (const [index, sql] of STATEMENTS.entries()) {
        const alone = await readAll(snapshot.copy(sql));
        expect(sha256(batched[index]!), `statement ${index + 1}`).toBe(sha256(alone));
      }
      expect(batched[2]!.toString()).toBe('?column?\n');
      expect(batched[4]!.toString()).toBe('last\n');
      expect(batched[3]!.length).toBeGreaterThan(4_000_000);
    }));

  it('keeps its backpressure: unread outputs do not pile up in memory, and a reader that starts late still gets every byte', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const backend = Number((await readAll(snapshot.copy('copy (select pg_backend_pid()) to stdout'))).toString());
      // The backend waits to write because the exporter stopped reading: not a timer, the server's own word (pg_stat_activity).
      const serverBlocked = () =>
        waitFor(
          async () =>
            (await env.admin.query(`select wait_event from pg_stat_activity where pid = $1`, [backend])).rows[0]
              ?.wait_event === 'ClientWrite',
          'the backend to wait on its client',
        );
      // Larger than every buffer between the backend and us (loopback's can grow to several MB).
      const HUGE = `copy (select i, repeat('y', 200) from generate_series(1, 200000) i) to stdout`;
      const outputs = snapshot.copyBatch([HUGE, HUGE]);
      // Nobody reads: the backend has more to send and waits, and what was taken stays bounded.
      await serverBlocked();
      const buffered = outputs.reduce((sum, o) => sum + o.readableLength, 0);
      expect(buffered).toBeLessThan(1024 * 1024);
      const first = await readAll(outputs[0]!);
      await serverBlocked();
      expect(outputs[1]!.readableLength).toBeLessThan(1024 * 1024);
      const second = await readAll(outputs[1]!);
      expect(sha256(first)).toBe(sha256(second));
      expect(first.length).toBeGreaterThan(40_000_000);
      expect((await readAll(snapshot.copy('copy (select 42) to stdout'))).toString()).toBe('42\n');
    }));

  it('a statement that fails: the outputs before it are whole, it and every one after it report the database error, and the connection stays in step', () =>
    withSnapshot(
      env.handle.pool,
      async (snapshot) => {
        const outputs = snapshot.copyBatch([
          `copy (select i from generate_series(1, 1000) i) to stdout`,
          `copy (select case when i = 900 then i / 0 else i end from generate_series(1, 1000) i) to stdout`,
          `copy (select 'never') to stdout`,
        ]);
        const first = await readAll(outputs[0]!);
        expect(first.toString().split('\n')).toHaveLength(1001);
        await expect(readAll(outputs[1]!)).rejects.toThrow(/division by zero/);
        await expect(readAll(outputs[2]!)).rejects.toThrow(/division by zero/);
        // The server's next answer is to the next query: the transaction is aborted, and it says so.
        await expect(readAll(snapshot.copy('copy (select 1) to stdout'))).rejects.toThrow(
          /current transaction is aborted/,
        );
      },
      new Error('test over'),
    ));

  it('an error while the outputs wait unread reaches them when they are read, and crashes nothing', async () => {
    const client = await env.handle.pool.connect();
    try {
      const batch = client.query(new CopyBatch([`copy (select 1) to stdout`, `copy (select 1 / 0) to stdout`]));
      // The error has arrived (nothing read yet): not a timer, the output's own state.
      await waitFor(async () => batch.outputs[1]!.errored !== null, 'the error to reach the unread output');
      expect((await readAll(batch.outputs[0]!)).toString()).toBe('1\n');
      await expect(readAll(batch.outputs[1]!)).rejects.toThrow(/division by zero/);
      // Outside a transaction the connection simply answers the next query.
      expect((await client.query('select 7 as n')).rows).toEqual([{ n: 7 }]);
    } finally {
      client.release();
    }
  });

  it('refuses anything but COPY … TO STDOUT, and an empty batch', () => {
    expect(() => new CopyBatch([])).toThrow(/at least one/);
    expect(() => new CopyBatch(['select 1'])).toThrow(/not a COPY/);
    expect(() => new CopyBatch(['copy t from stdin'])).toThrow(/not a COPY/);
  });

  it('a statement that returns rows instead of COPY data fails its output and the ones after it', async () => {
    const client = await env.handle.pool.connect();
    try {
      // Two statements in one string: the batch sees a result it did not ask for.
      const batch = client.query(new CopyBatch([`copy (select 1) to stdout; select 2`, `copy (select 3) to stdout`]));
      expect((await readAll(batch.outputs[0]!)).toString()).toBe('1\n');
      await expect(readAll(batch.outputs[1]!)).rejects.toThrow(/returned rows, not COPY data/);
      expect((await client.query('select 8 as n')).rows).toEqual([{ n: 8 }]);
    } finally {
      client.release();
    }
  });
});

describe("an export's small entities, read in one batch", () => {
  const userId = '00000000-0000-4000-8000-000000000001';
  const limits = { maxEntryBytes: 64 * 1024 * 1024, parallelFromBytes: 8 * 1024 * 1024 };
  const sized = (sizes: Record<string, Partial<EntitySize>>) => (entity: { name: string }) => ({
    rows: 1,
    estimatedJsonBytes: 1000,
    files: 0,
    ...sizes[entity.name],
  });

  it('takes the small entities up to the first big one (empty ones cost no statement) and hands out their COPYs only in the order sent', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const [a, b, c, d] = env.entities;
      const sizeOf = sized({
        [b!.name]: { rows: 0, estimatedJsonBytes: 0 },
        [d!.name]: { estimatedJsonBytes: 2 * 1024 * 1024 },
      });
      const batch = BatchedCopies.start(snapshot, env.entities, sizeOf, limits, userId, 'all')!;
      expect([a, b, c, d].map((e) => batch.covers(e!))).toEqual([true, true, true, false]);
      // A's CSV before its JSON: refused, nothing is handed out.
      expect(() => batch.copy(csvCopySql(a!, userId))).toThrow(/out of order/);
      for (const entity of [a!, c!]) {
        await readAll(batch.copy(jsonLinesCopySql(entity, userId)));
        await readAll(batch.copy(csvCopySql(entity, userId)));
      }
      expect(() => batch.copy(jsonLinesCopySql(d!, userId))).toThrow(/not in it/);
      // The batch has ended: the connection is free for the big entity.
      expect((await readAll(snapshot.copy('copy (select 5) to stdout'))).toString()).toBe('5\n');
      // No batch when the first entity is big, or split into parts by a small entry limit.
      expect(BatchedCopies.start(snapshot, [d!], sizeOf, limits, userId, 'all')).toBeUndefined();
      expect(
        BatchedCopies.start(snapshot, [a!], sizeOf, { ...limits, maxEntryBytes: 1000 }, userId, 'all'),
      ).toBeUndefined();
      expect(
        BatchedCopies.start(snapshot, [a!], sizeOf, { ...limits, parallelFromBytes: 1000 }, userId, 'all'),
      ).toBeUndefined();
    }));
});
