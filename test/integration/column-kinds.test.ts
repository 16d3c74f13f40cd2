import { randomUUID } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveSchema } from '../../src/archive/json-schema.ts';
import { csvCopySql, csvHeader, jsonLinesCopySql, pairedCopySql } from '../../src/archive/queries.ts';
import { findTable, readCatalog } from '../../src/definition/catalog.ts';
import { COLUMN_KINDS, kindOfType } from '../../src/model/column-kinds.ts';
import type { ExportEntity } from '../../src/model/entities.ts';
import { BinaryTextColumns, BinaryTextRows } from '../../src/snapshot/binary-rows.ts';
import { createTestEnv, type TestEnv } from '../support/harness.ts';
import { withSnapshot } from '../support/snapshot.ts';
import { readAll } from '../support/streams.ts';

/*
 * The column types an application that is not ours has: floats, dates,
 * times, intervals, timestamps without a zone, enums, domains, composites,
 * network addresses, money, bits, arrays (nested, of enums, with NULLs and
 * quotes), bytea. Each is exported as the same text in JSON and CSV, whatever
 * the database's DateStyle, IntervalStyle and TimeZone; the paired read
 * builds the same bytes as the two COPYs; text a user wrote (an enum label,
 * a domain, a composite) is formula-safe in CSV; schema.json's types hold.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
  await env.admin.query(`
    create type mood as enum ('happy', 'a,b', '"quoted"', '=1+1', '-minus');
    create domain short_note as text check (length(value) < 100);
    create type pair as (label text, n integer);
    create table new_kinds (
      id uuid primary key, owner_id uuid not null, n integer not null,
      f4 real, f8 double precision, amount numeric, d date, t time, tz timetz, iv interval, ts timestamp,
      addr inet, net cidr, mac macaddr, cash money, bits bit varying(8),
      e mood, dom short_note, pr pair, ints integer[], texts text[], grid integer[][], moods mood[], stamps timestamptz[], raw bytea, at timestamptz)`);
});
afterAll(async () => {
  await env?.close();
});

const ROWS = [
  `(1, 'NaN', 'Infinity', 'NaN', 'infinity', '24:00', '23:59:59.999999+05:30', '-1 day +02:00:00', 'infinity', '::1', '10.0.0.0/8', '08:00:2b:01:02:03', 12.5, B'101',
    'a,b', '=HYPERLINK("http://x")', '("a,""b",1)', '{1,NULL,3}', '{"a,b",NULL,"\\"q\\"","=1+1",""}', '{{1,2},{3,4}}', '{happy,=1+1}', '{"2026-01-02 03:04:05+02"}', '\\x00ff', 'infinity')`,
  `(2, '-Infinity', '-0', '-Infinity', '0044-03-15 BC', '00:00', '00:00+00', '1 year 2 mons 3 days 04:05:06.7', '2026-01-02 03:04:05.123456', '192.168.0.1/24', '192.168.0.0/24', null, -3, B'',
    '"quoted"', '+15551234567', '(,)', '{}', '{}', null, '{}', '{}', '', '0044-03-15 12:00:00+00 BC')`,
  `(3, 1.5, 1e-300, 12345678901234567890.5, '2026-02-28', '12:34:56.789', null, '0', '-infinity', null, null, null, null, null,
    '-minus', '', null, null, null, null, null, null, '\\x', '2026-11-23 12:34:56.789012+05:30')`,
];

/** The table as an entity, each column of the kind kindOfType gives its live type (as the definition's resolve does). */
async function entityOfTable(): Promise<ExportEntity> {
  const table = findTable(await readCatalog(env.handle.db), 'new_kinds')!.columns;
  const columns = [...table.entries()]
    .filter(([name]) => name !== 'owner_id')
    .map(([name, c]) => ({ name, kind: kindOfType(c.type)!, description: `${name}.`, nullable: c.nullable }));
  expect(columns.filter((c) => c.kind === undefined)).toEqual([]);
  return {
    name: 'new_kinds',
    description: 'New kinds.',
    columns,
    from: 'new_kinds t where t.owner_id = :user',
    orderBy: 't.n',
    files: [],
  };
}

describe('column types beyond the sample’s', () => {
  it('every type is exported as the same text in JSON and CSV, the paired read byte for byte, under a database whose DateStyle, IntervalStyle and TimeZone are not ISO or UTC', async () => {
    const owner = randomUUID();
    for (const row of ROWS) {
      const values = row.replace(/^\((\d+),/, `('${randomUUID()}', '${owner}', $1,`);
      await env.admin.query(
        `insert into new_kinds (id, owner_id, n, f4, f8, amount, d, t, tz, iv, ts, addr, net, mac, cash, bits, e, dom, pr, ints, texts, grid, moods, stamps, raw, at) values ${values}`,
      );
    }
    const database = new URL(env.databaseUrl).pathname.slice(1);
    await env.admin.query(`alter database ${database} set datestyle = 'SQL, DMY'`);
    await env.admin.query(`alter database ${database} set intervalstyle = 'postgres_verbose'`);
    await env.admin.query(`alter database ${database} set timezone = 'America/New_York'`);
    const entity = await entityOfTable();
    expect(Object.fromEntries(entity.columns.map((c) => [c.name, c.kind]))).toMatchObject({
      f4: 'float',
      f8: 'float',
      amount: 'numeric',
      d: 'as_text',
      t: 'as_text',
      tz: 'as_text',
      iv: 'as_text',
      ts: 'timestamp',
      at: 'timestamptz',
      addr: 'as_text',
      cash: 'as_text',
      bits: 'as_text',
      e: 'as_text',
      dom: 'text',
      pr: 'as_text',
      ints: 'array',
      texts: 'array',
      grid: 'array',
      moods: 'array',
      stamps: 'array',
      raw: 'bytea',
    });

    // New connections, which take the database's settings.
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
    try {
      await withSnapshot(pool, async (snapshot) => {
        const columns = new BinaryTextColumns(2, { trackRows: true });
        const paired = columns.pushColumns(await readAll(snapshot.copy(pairedCopySql(entity, owner))));
        columns.end();
        const lines = new BinaryTextRows();
        const json = lines.push(await readAll(snapshot.copy(jsonLinesCopySql(entity, owner, 'ordered'))));
        lines.end();
        const csv = await readAll(snapshot.copy(csvCopySql(entity, owner, 'ordered')));
        expect(paired.columns[0]!.toString()).toBe(json.toString());
        expect(csvHeader(entity) + paired.columns[1]!.toString()).toBe(csv.toString());

        const records = json
          .toString()
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(records[0]).toMatchObject({
          f4: 'NaN',
          f8: 'Infinity',
          amount: 'NaN',
          d: 'infinity',
          t: '24:00:00',
          tz: '23:59:59.999999+05:30',
          iv: 'P-1DT2H',
          addr: '::1/128',
          net: '10.0.0.0/8',
          mac: '08:00:2b:01:02:03',
          bits: '101',
          e: 'a,b',
          dom: '=HYPERLINK("http://x")',
          pr: '("a,""b",1)',
          ints: [1, null, 3],
          texts: ['a,b', null, '"q"', '=1+1', ''],
          grid: [
            [1, 2],
            [3, 4],
          ],
          moods: ['happy', '=1+1'],
          stamps: ['2026-01-02T01:04:05+00:00'],
          raw: '\\x00ff',
          ts: 'infinity',
          at: 'infinity',
        });
        expect(records[1]).toMatchObject({
          f4: '-Infinity',
          f8: -0,
          amount: '-Infinity',
          d: '0044-03-15 BC',
          iv: 'P1Y2M3DT4H5M6.7S',
          ts: '2026-01-02T03:04:05.123456',
          e: '"quoted"',
          pr: '(,)',
          ints: [],
          raw: '\\x',
          at: '0044-03-15T12:00:00.000000Z BC',
        });
        expect(records[2]).toMatchObject({
          f4: 1.5,
          f8: 1e-300,
          d: '2026-02-28',
          t: '12:34:56.789',
          iv: 'PT0S',
          e: '-minus',
          dom: '',
          raw: '\\x',
          ts: '-infinity',
          at: '2026-11-23T07:04:56.789012Z',
        });

        // CSV: the same values, text a user wrote made formula-safe, arrays as their JSON.
        const cells = parseCsv(csv, { columns: true }) as Record<string, string>[];
        expect(cells[0]).toMatchObject({
          f4: 'NaN',
          d: 'infinity',
          iv: 'P-1DT2H',
          e: 'a,b',
          dom: `'=HYPERLINK("http://x")`,
          texts: '["a,b", null, "\\"q\\"", "=1+1", ""]',
          raw: '\\x00ff',
        });
        expect(cells[1]).toMatchObject({
          f8: '-0',
          d: '0044-03-15 BC',
          ts: '2026-01-02T03:04:05.123456',
          dom: "'+15551234567",
        });
        expect(cells[2]).toMatchObject({ e: "'-minus", f8: '1e-300' });

        // schema.json: each value is of a type its column's schema allows.
        const properties = (
          archiveSchema([entity]).$defs as Record<
            string,
            { properties: Record<string, { type?: string | string[]; pattern?: string }> }
          >
        ).new_kinds!.properties;
        const jsonType = (v: unknown) =>
          v === null
            ? 'null'
            : Array.isArray(v)
              ? 'array'
              : typeof v === 'string'
                ? 'string'
                : typeof v === 'boolean'
                  ? 'boolean'
                  : 'number';
        for (const record of records) {
          for (const [name, value] of Object.entries(record)) {
            const allowed = [properties[name]!.type].flat();
            const type =
              jsonType(value) === 'number' && Number.isInteger(value) && allowed.includes('integer')
                ? 'integer'
                : jsonType(value);
            expect(allowed, `${name}: ${JSON.stringify(value)}`).toContain(type);
            const pattern = properties[name]!.pattern;
            if (pattern && typeof value === 'string') expect(value, name).toMatch(new RegExp(pattern));
          }
        }
      });
    } finally {
      await pool.end();
      for (const setting of ['datestyle', 'intervalstyle', 'timezone'])
        await env.admin.query(`alter database ${database} reset ${setting}`);
    }
  });

  it('json as written (line breaks, CR, U+2028, duplicate keys, numbers past 2^53, deep nesting, whitespace around it) stays one record per line with its meaning: JSON, CSV and the paired read agree', async () => {
    await env.admin.query(`
      create domain json_note as json;
      create table json_values (id uuid primary key, owner_id uuid not null, n integer not null, j json, d json_note, ja json[], jb jsonb)`);
    const owner = randomUUID();
    const deep = `${'['.repeat(2000)}1${']'.repeat(2000)}`;
    // As the application wrote them, raw line breaks, CR and U+2028 included.
    const values: [string | null, string | null][] = [
      ['{\n  "a": 1,\r\n  "a": 2,\n  "big": 12345678901234567890123\n}', '[\n1,\n2\n]'],
      ['"line\u2028sep\u2029end"', '" =1+1 "'],
      [deep, null],
      ['  \n -12.5e3 \n ', '\n{"x": "=cmd|\\"/c calc\\"!A1"}\n'],
      [null, 'null'],
    ];
    for (const [i, [j, d]] of values.entries()) {
      await env.admin.query(
        `insert into json_values (id, owner_id, n, j, d, ja, jb) values ($1, $2, $3, $4, $5, array[E'{\\n"k":\\n1}']::json[], '{"k": [1, 2]}')`,
        [randomUUID(), owner, i, j, d],
      );
    }
    const table = findTable(await readCatalog(env.handle.db), 'json_values')!.columns;
    const columns = [...table.entries()]
      .filter(([name]) => name !== 'owner_id')
      .map(([name, c]) => ({ name, kind: kindOfType(c.type)!, description: `${name}.`, nullable: c.nullable }));
    expect(Object.fromEntries(columns.map((c) => [c.name, c.kind]))).toMatchObject({
      j: 'json',
      d: 'json',
      ja: 'array',
      jb: 'jsonb',
    });
    const entity: ExportEntity = {
      name: 'json_values',
      description: 'JSON.',
      columns,
      from: 'json_values t where t.owner_id = :user',
      orderBy: 't.n',
      files: [],
    };
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
    try {
      await withSnapshot(pool, async (snapshot) => {
        // As the export reads an entity with a json column: its line breaks made spaces as the rows are read (write-entity.ts).
        const columns2 = new BinaryTextColumns(2, { trackRows: true, oneLine: [0] });
        const paired = columns2.pushColumns(await readAll(snapshot.copy(pairedCopySql(entity, owner))));
        columns2.end();
        const lines = new BinaryTextRows({ oneLine: true });
        const json = lines.push(await readAll(snapshot.copy(jsonLinesCopySql(entity, owner, 'ordered'))));
        lines.end();
        const csv = await readAll(snapshot.copy(csvCopySql(entity, owner, 'ordered')));
        expect(paired.columns[0]!.toString()).toBe(json.toString());
        expect(csvHeader(entity) + paired.columns[1]!.toString()).toBe(csv.toString());

        // One record per line, each a JSON text.
        const jsonLines = json.toString().split('\n').slice(0, -1);
        expect(jsonLines).toHaveLength(values.length);
        const records = jsonLines.map((l) => JSON.parse(l) as Record<string, unknown>);
        // The text as written: both duplicate keys, every digit, the nesting.
        expect(jsonLines[0]).toContain('"j":{   "a": 1,    "a": 2,   "big": 12345678901234567890123 }');
        expect(jsonLines[1]).toContain('"j":"line\u2028sep\u2029end"');
        expect(JSON.parse(jsonLines[1]!).j).toBe('line\u2028sep\u2029end');
        expect(jsonLines[2]).toContain(`"j":${deep}`);
        expect(records[3]).toMatchObject({ j: -12500, d: { x: '=cmd|"/c calc"!A1' } });
        expect(records[4]).toMatchObject({ j: null, d: null });
        expect(records[0]).toMatchObject({ d: [1, 2], ja: [{ k: 1 }], jb: { k: [1, 2] } });

        // CSV: the same text, one line per record (no line break left inside a cell), never a formula.
        expect(csv.toString().trim().split('\n')).toHaveLength(values.length + 1);
        const cells = parseCsv(csv, { columns: true }) as Record<string, string>[];
        expect(cells[0]!.j).toBe('{   "a": 1,    "a": 2,   "big": 12345678901234567890123 }');
        expect(cells[1]!.d).toBe('" =1+1 "');
        expect(cells[3]!.j).toBe('-12.5e3');
        expect(cells[2]!.j).toBe(deep);
      });
    } finally {
      await pool.end();
    }
  });

  it('every kind of the table is a row of COLUMN_KINDS with the rules a kind must decide', () => {
    for (const [kind, rules] of Object.entries(COLUMN_KINDS)) {
      expect(rules.databaseTypes.length, kind).toBeGreaterThan(0);
      // No database type is claimed by two kinds.
      for (const type of rules.databaseTypes) expect(kindOfType(type), type).toBe(kind);
    }
  });
});
