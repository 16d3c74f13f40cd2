import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCopySql, csvHeader, jsonLinesCopySql, pairedCopySql } from '../../src/archive/queries.ts';
import { includedFileKey } from '../../src/archive/write-files.ts';
import type { ExportEntity } from '../../src/model/entities.ts';
import { BinaryTextColumns, BinaryTextRows } from '../../src/snapshot/binary-rows.ts';
import { createTestEnv, type TestEnv } from '../support/harness.ts';
import { EVERY_PLANE, SPREADSHEET_PAYLOADS } from '../support/hostile.ts';
import { withSnapshot } from '../support/snapshot.ts';
import { readAll } from '../support/streams.ts';

/*
 * A split entity's JSON and CSV come from one read (pairedCopySql), its CSV
 * records built in SQL. They must be byte for byte what the two COPYs of an
 * entity read whole write: the JSON's lines, and COPY's own CSV.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
  await env.admin.query(`
    create table every_kind (
      id uuid primary key, owner_id uuid not null, n integer, big bigint, amount numeric, flag boolean,
      note text, at timestamptz, data jsonb)`);
});
afterAll(async () => {
  await env?.close();
});

const ENTITY: ExportEntity = {
  name: 'every_kind',
  description: 'Every kind of column.',
  columns: [
    { name: 'id', kind: 'uuid', description: '' },
    { name: 'n', kind: 'integer', description: '' },
    { name: 'big', kind: 'bigint', description: '' },
    { name: 'amount', kind: 'numeric', description: '' },
    { name: 'flag', kind: 'boolean', description: '' },
    { name: 'note', kind: 'text', description: '' },
    { name: 'at', kind: 'timestamptz', description: '' },
    { name: 'data', kind: 'jsonb', description: '' },
    // A value computed by the definition's SQL, not a column.
    { name: 'note_length', kind: 'integer', sql: 'length(t.note)', description: '' },
  ],
  from: 'every_kind t where t.owner_id = :user',
  orderBy: 't.n, t.id',
  files: [],
};

describe('one read for both files of a split entity', () => {
  it("gives each row's JSON line and CSV record exactly as the entity's two COPYs do, for every kind of value and hostile text", async () => {
    const owner = randomUUID();
    const texts = [...SPREADSHEET_PAYLOADS, EVERY_PLANE, '', '"', '""', 'a,b', 'back\\slash', '\\.', 'NULL', null];
    const values = [
      // [n, big, amount, flag, at, data]
      [0, '9223372036854775807', 'NaN', true, 'infinity', '{"quote": "\\"", "nested": [1, "a,b"]}'],
      [-5, '-9223372036854775808', '-0.000001', false, '-infinity', '"just a string"'],
      [7, null, '12345678901234567890.123456789', null, '0001-01-01 00:00:00+00 BC', 'null'],
      [null, '0', null, true, '2026-11-23 12:34:56.789012+05:30', null],
      [42, '1', '1e-10', false, null, '[]'],
    ];
    let i = 0;
    for (const note of texts) {
      const [n, big, amount, flag, at, data] = values[i++ % values.length]!;
      await env.admin.query(`insert into every_kind values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
        randomUUID(),
        owner,
        n,
        big,
        amount,
        flag,
        note,
        at,
        data,
      ]);
    }

    await withSnapshot(env.handle.pool, async (snapshot) => {
      const columns = new BinaryTextColumns(2, { trackRows: true });
      const paired = columns.pushColumns(await readAll(snapshot.copy(pairedCopySql(ENTITY, owner))));
      columns.end();
      const lines = new BinaryTextRows();
      const json = lines.push(await readAll(snapshot.copy(jsonLinesCopySql(ENTITY, owner, 'ordered'))));
      lines.end();
      const csv = await readAll(snapshot.copy(csvCopySql(ENTITY, owner, 'ordered')));

      expect(paired.rowStarts).toHaveLength(2 * texts.length);
      expect(paired.columns[0]!.toString()).toBe(json.toString());
      expect(csvHeader(ENTITY) + paired.columns[1]!.toString()).toBe(csv.toString());
      // The hostile text did reach the CSV, quoted and made safe.
      expect(csv.toString()).toContain(`"'=1+1"`);
      expect(csv.toString()).toContain(`""""""`);
    });
  });

  it('keeps only the paths of files the archive includes, as the two COPYs do', async () => {
    const owner = randomUUID();
    await env.admin.query(
      `insert into every_kind (id, owner_id, n, note) values ($1, $3, 1, 'files/every_kind/a.txt'), ($2, $3, 2, 'files/every_kind/b.txt')`,
      [randomUUID(), randomUUID(), owner],
    );
    const entity: ExportEntity = {
      ...ENTITY,
      columns: ENTITY.columns.map((c) => (c.name === 'note' ? { ...c, fileLocator: 't.note' } : c)),
    };
    await withSnapshot(env.handle.pool, async (snapshot) => {
      // a.txt is included; b.txt is not (and another file at its path, read from elsewhere, does not make it so).
      await snapshot.keepFiles([
        includedFileKey('files/every_kind/a.txt', 'files/every_kind/a.txt'),
        includedFileKey('files/every_kind/b.txt', 'elsewhere/b.txt'),
      ]);
      const columns = new BinaryTextColumns(2, { trackRows: true });
      const paired = columns.pushColumns(await readAll(snapshot.copy(pairedCopySql(entity, owner, 'included'))));
      const csv = await readAll(snapshot.copy(csvCopySql(entity, owner, 'ordered', 'included')));
      expect(csvHeader(entity) + paired.columns[1]!.toString()).toBe(csv.toString());
      expect(paired.columns[0]!.toString()).toContain('"note":null');
      expect(paired.columns[0]!.toString()).toContain('"note":"files/every_kind/a.txt"');
    });
  });
});

describe('parallel workers for the paired read only', () => {
  it('the paired read is planned with the workers asked for; the queries after it on the same connection without any again', () =>
    withSnapshot(env.handle.pool, async (snapshot) => {
      const setting = `copy (select current_setting('max_parallel_workers_per_gather')) to stdout`;
      expect((await snapshot.copyWithWorkers(setting, 1, readAll)).toString()).toBe('1\n');
      expect((await readAll(snapshot.copy(setting))).toString()).toBe('0\n');
      await expect(snapshot.copyWithWorkers(setting, -1, readAll)).rejects.toThrow(/not a number of workers/);
    }));
});
