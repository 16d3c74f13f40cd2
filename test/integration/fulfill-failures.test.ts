import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedUser } from '../../scripts/lib/sample-data.ts';
import type { ExportEntity } from '../../src/model/entities.ts';
import type { RawSettings } from '../../src/settings.ts';
import { Snapshot } from '../../src/snapshot/snapshot.ts';
import {
  type ConfigDraft,
  createTestEnv,
  fulfillInProcess,
  getObject,
  listKeys,
  requestRow,
  type TestEnv,
} from '../support/harness.ts';
import { insertProject, insertRequest, insertRun, insertUser } from '../support/seed.ts';
import { parseJsonExact, readZip } from '../support/zip.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

/** The `request ready` log line of a run (one request). */
function readyLine(logger: { lines: () => string[] }) {
  return logger
    .lines()
    .map((l) => JSON.parse(l))
    .find((l) => l.msg === 'request ready');
}

/** One run over these requests, one at a time, with these settings (and what no setting can say). */
const fulfill = (requestIds: string[], settings: RawSettings = {}, tweak?: (c: ConfigDraft) => void) =>
  fulfillInProcess(env, { requestIds, settings, tweak, concurrency: 1 });

describe('fulfill when things go wrong', () => {
  it('a storage failure puts the request back to pending with a short error, then failed after the last attempt', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);

    const first = await fulfill([id], { bucket: 'no-such-bucket-here', maxAttempts: '2' });
    expect(first.summary).toMatchObject({ ready: 0, retrying: 1 });
    const afterFirst = (await requestRow(env, id))!;
    expect(afterFirst).toMatchObject({ status: 'pending', attempts: 1, download_url: null, claim_id: null });
    expect(afterFirst.error).toBe('storage error while building the export (NoSuchBucket)');
    // The log has the whole story; the stored error has none of the details.
    expect(first.logger.text()).toContain('NoSuchBucket');

    const second = await fulfill([id], { bucket: 'no-such-bucket-here', maxAttempts: '2' });
    expect(second.summary).toMatchObject({ failed: 1 });
    expect(await requestRow(env, id)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('a query that fails mid-archive aborts the upload: nothing is stored and nothing is marked ready', async () => {
    const user = await insertUser(env.admin);
    const project = await insertProject(env.admin, user);
    await insertRun(env.admin, project);
    const id = await insertRequest(env.admin, user);
    const before = await listKeys(env);
    await env.admin.query('alter table pipeline_runs rename column metadata to metadata_moved');
    try {
      const { summary } = await fulfill([id]);
      expect(summary.retrying).toBe(1);
    } finally {
      await env.admin.query('alter table pipeline_runs rename column metadata_moved to metadata');
    }
    const row = (await requestRow(env, id))!;
    expect(row).toMatchObject({ status: 'pending', download_url: null, object_key: null });
    expect(row.error).toMatch(/^database error while building the export/);
    expect(row.error).not.toMatch(/select|pipeline_runs|metadata/);
    expect(await listKeys(env)).toEqual(before);

    // The next run, with the cause gone, finishes it.
    const { summary } = await fulfill([id]);
    expect(summary.ready).toBe(1);
  });

  it('a json value written with line breaks, nested however deep, is exported, one record per line; a value PostgreSQL cannot write fails the request for good at once, naming the entity and the column', async () => {
    await env.admin.query(
      'create table json_notes (id uuid primary key default gen_random_uuid(), user_id uuid not null, n integer not null, body json)',
    );
    const notes: ExportEntity = {
      name: 'json_notes',
      description: 'Notes as JSON.',
      columns: [
        { name: 'n', kind: 'integer', description: 'Number.' },
        { name: 'body', kind: 'json', description: 'Body.' },
      ],
      from: 'json_notes t where t.user_id = :user::uuid',
      orderBy: 't.n',
      files: [],
    };
    const entities = [...env.entities, notes];
    const user = await insertUser(env.admin);
    await env.admin.query(`insert into json_notes (user_id, n, body) values ($1, 1, $2), ($1, 2, $3)`, [
      user,
      '{\n  "title": "a",\r\n  "title": "b"\n}',
      '[9007199254740993,\n 1]',
    ]);
    const id = await insertRequest(env.admin, user);
    const first = await fulfillInProcess(env, { requestIds: [id], entities, concurrency: 1 });
    expect(first.summary).toMatchObject({ ready: 1 });
    const zip = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
    const lines = zip.get('json/json_notes.json')!.toString();
    const parsed = parseJsonExact(lines) as { n: number; body: unknown }[];
    expect(parsed.map((r) => r.n)).toEqual([1, 2]);
    expect(lines).toContain('"body":{   "title": "a",    "title": "b" }');
    expect(lines).toContain('[9007199254740993,  1]');
    const csv = parseCsv(zip.get('csv/json_notes.csv')!, { columns: true, bom: true }) as Record<string, string>[];
    expect(csv.map((r) => r.body)).toEqual(['{   "title": "a",    "title": "b" }', '[9007199254740993,  1]']);

    // Nested deeper than the exporter's session could parse (written under a larger max_stack_depth), with a line break: exported
    // 40,000 levels: measured, the default 2MB parses at most 16,195 (PostgreSQL 14, 15) or 21,649 (16-18), and 7MB 57,109 or 76,201.
    // all the same (its line breaks become spaces as the rows are read, never by parsing it again).
    const DEEP = 40000;
    const admin = await env.admin.connect();
    try {
      await admin.query("set max_stack_depth = '7MB'");
      await admin.query('insert into json_notes (user_id, n, body) values ($1, 3, $2)', [
        user,
        `${'['.repeat(DEEP)}\n1${']'.repeat(DEEP)}`,
      ]);
      await admin.query('alter table json_notes add column tags json[]');
      await admin.query('insert into json_notes (user_id, n, tags) values ($1, 4, array[$2::json])', [
        user,
        `${'['.repeat(DEEP)}1${']'.repeat(DEEP)}`,
      ]);
    } finally {
      admin.release(true);
    }
    await env.admin.query("update data_export_requests set status = 'failed', error = 'expired' where id = $1", [id]);
    const deep = await insertRequest(env.admin, user);
    const withTags = {
      ...notes,
      columns: [...notes.columns, { name: 'tags', kind: 'array' as const, description: 'Tags.' }],
    };
    const withoutTags = entities.map((e) =>
      e === notes ? { ...notes, from: 'json_notes t where t.user_id = :user::uuid and t.tags is null' } : e,
    );
    expect(
      (await fulfillInProcess(env, { requestIds: [deep], entities: withoutTags, concurrency: 1 })).summary,
    ).toMatchObject({ ready: 1 });
    const deepLines = (await readZip(await getObject(env, (await requestRow(env, deep))!.object_key)))
      .get('json/json_notes.json')!
      .toString();
    expect(deepLines.split('\n').filter((l) => l.startsWith('{')).length).toBe(3);
    expect(deepLines).toContain(`"body":${'['.repeat(DEEP)} 1${']'.repeat(DEEP)}}`);

    // An array of json is turned into JSON by PostgreSQL (to_jsonb), which must parse each element: too deep, it cannot be written.
    // Every attempt would stop at that row, so the request fails for good at once, naming the entity and the column.
    await env.admin.query("update data_export_requests set status = 'failed', error = 'expired' where id = $1", [deep]);
    const again = await insertRequest(env.admin, user);
    const second = await fulfillInProcess(env, {
      requestIds: [again],
      entities: entities.map((e) => (e === notes ? withTags : e)),
      concurrency: 1,
      config: env.config({ maxAttempts: '5' }),
    });
    expect(second.summary).toMatchObject({ failed: 1 });
    const row = (await requestRow(env, again))!;
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.error).toBe('a row of json_notes cannot be exported (column tags): database error 54001');
  });

  it('splits an entity larger than the entry limit into numbered parts with the same rows in JSON and CSV', async () => {
    const user = await insertUser(env.admin);
    const project = await insertProject(env.admin, user);
    for (let n = 1; n <= 60; n++)
      await insertRun(env.admin, project, { number: n, branch: `branch-${'x'.repeat(200)}-${n}` });
    const id = await insertRequest(env.admin, user);

    const { summary } = await fulfill([id], {}, (c) => (c.export.maxEntryBytes = 8 * 1024));
    expect(summary.ready).toBe(1);
    const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
    const jsonParts = [...files.keys()].filter((k) => k.startsWith('json/pipeline_runs')).sort();
    const csvParts = [...files.keys()].filter((k) => k.startsWith('csv/pipeline_runs')).sort();
    expect(jsonParts.length).toBeGreaterThan(2);
    expect(jsonParts[0]).toBe('json/pipeline_runs-0001.json');
    expect(csvParts).toEqual(jsonParts.map((p) => p.replace('json', 'csv').replace('.json', '.csv')));

    const numbers: number[] = [];
    for (const [i, part] of jsonParts.entries()) {
      const rows = parseJsonExact(files.get(part)!.toString()) as { number: number }[];
      // Each part holds whole rows and stays near the limit (it closes at the first row boundary past it).
      expect(files.get(part)!.length).toBeLessThan(8 * 1024 + 1024);
      const csvLines = files.get(csvParts[i]!)!.toString().trim().split('\n');
      expect(csvLines.length - 1).toBe(rows.length);
      numbers.push(...rows.map((r) => r.number));
    }
    expect(numbers).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest.entities.pipeline_runs.rows).toBe(60);
    expect(manifest.entities.pipeline_runs.files.map((f: any) => f.path).sort()).toEqual(
      [...csvParts, ...jsonParts].sort(),
    );
  });

  it('a big entity has its CSV read on a second connection of the same snapshot while its JSON is written: the same rows, in the same order', async () => {
    const user = await insertUser(env.admin);
    const project = await insertProject(env.admin, user);
    // Inserted backwards, then some rows rewritten: the table's physical order is neither the export's nor the insert's.
    for (let n = 300; n >= 1; n--) await insertRun(env.admin, project, { number: n, branch: `branch-${n}` });
    await env.admin.query(`update pipeline_runs set status = 'rewritten' where project_id = $1 and number % 7 = 0`, [
      project,
    ]);
    const id = await insertRequest(env.admin, user);

    // Every entity with rows counts as big here.
    const spoolDir = mkdtempSync(path.join(os.tmpdir(), 'exporter-spool-test-'));
    const { summary, logger } = await fulfill([id], {}, (c) => {
      c.export.parallelFromBytes = 0;
      c.export.spoolDir = spoolDir;
    });
    expect(summary.ready).toBe(1);
    const ready = readyLine(logger);
    expect(ready.csvReadAhead).toEqual({ users: 'disk', projects: 'disk', pipeline_runs: 'disk' });
    expect(readdirSync(spoolDir)).toEqual([]); // each spool file was deleted as soon as it was opened
    const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
    const jsonNumbers = (parseJsonExact(files.get('json/pipeline_runs.json')!.toString()) as { number: number }[]).map(
      (r) => r.number,
    );
    const csvRows = parseCsv(files.get('csv/pipeline_runs.csv')!.toString(), { bom: true, columns: true }) as {
      number: string;
      status: string;
    }[];
    expect(csvRows.map((r) => Number(r.number))).toEqual(jsonNumbers);
    expect([...jsonNumbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(csvRows.filter((r) => r.status === 'rewritten')).toHaveLength(42);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(manifest.entities.pipeline_runs.files.map((f: { path: string }) => f.path)).toEqual([
      'json/pipeline_runs.json',
      'csv/pipeline_runs.csv',
    ]);
  });

  it('the second reader sees the snapshot, not rows written after it began', async () => {
    const user = await insertUser(env.admin);
    const project = await insertProject(env.admin, user);
    await insertRun(env.admin, project, { number: 1 });
    const snapshot = await Snapshot.open(env.handle.pool);
    try {
      await insertRun(env.admin, project, { number: 2 }); // committed after the snapshot began
      const reader = await snapshot.reader();
      expect(reader).not.toBeNull();
      const count = async (s: Snapshot) =>
        (
          await text(s.copy(`copy (select count(*) from pipeline_runs where project_id = '${project}') to stdout`))
        ).trim();
      expect(await count(reader!)).toBe('1');
      expect(await count(snapshot)).toBe('1');
      expect(await snapshot.reader()).toBe(reader); // one per snapshot
      // Both list rows in the same order: no synchronized scans joining midway, no parallel plans.
      const setting = async (s: Snapshot, name: string) =>
        (await text(s.copy(`copy (select current_setting('${name}')) to stdout`))).trim();
      for (const s of [snapshot, reader!]) {
        expect(await setting(s, 'synchronize_seqscans')).toBe('off');
        expect(await setting(s, 'max_parallel_workers_per_gather')).toBe('0');
      }
    } finally {
      await snapshot.close();
    }
  });

  it('an entity the estimate called small that needs parts after all: the CSV read ahead is dropped and read again part by part, the same rows as the JSON parts', async () => {
    // Control characters are one byte stored and six in JSON (\u0001): the estimate falls far short.
    const { ready, parts, numbers } = await runsExportedInParts((n) => `${'\u0001'.repeat(400)}-${n}`, 128 * 1024, {
      spoolDir: null, // in memory: the CSV read ahead waits for the JSON once 4 MiB are held
    });
    expect(ready.csvReadAhead).toEqual({ users: 'memory', projects: 'memory', pipeline_runs: 'dropped' });
    expect(parts.length).toBeGreaterThan(1);
    expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('a split entity whose JSON outgrows its planned parts: its parts are cut at the limit, each CSV part with its JSON part, from one read', async () => {
    // Control characters are one byte stored and six in JSON: each planned part holds more than the entry limit.
    const { ready, files, parts, numbers } = await runsExportedInParts(
      (n) => `${'\u0001'.repeat(400)}-${n}`,
      16 * 1024,
    );
    expect(ready.csvReadAhead.pipeline_runs).toBe('paired');
    expect(parts.length).toBeGreaterThan(3); // more than the plan's parts
    for (const part of parts) expect(files.get(part)!.length).toBeLessThan(16 * 1024 + 4096);
    expect(numbers).toEqual(Array.from({ length: 60 }, (_, i) => i + 1)); // in the export's order
  });

  it('the same without a disk to wait on: the CSV read ahead in memory is dropped and cut at the parts the JSON really has', async () => {
    const { ready, files, parts, numbers } = await runsExportedInParts(
      (n) => `${'\u0001'.repeat(400)}-${n}`,
      16 * 1024,
      { spoolDir: null },
    );
    expect(ready.csvReadAhead.pipeline_runs).toBe('dropped');
    for (const part of parts) expect(files.get(part)!.length).toBeLessThan(16 * 1024 + 4096);
    expect(numbers).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it("a split entity's one read killed on the database: back to pending, nothing stored, no spool file left; the next run finishes it", async () => {
    const user = await seedUser(env.admin, { projects: 2, features: 10, runs: 60_000, releases: 5 });
    const id = await insertRequest(env.admin, user);
    const before = await listKeys(env);
    const spoolDir = mkdtempSync(path.join(os.tmpdir(), 'exporter-spool-test-'));
    const split = (c: any) => {
      c.export.maxEntryBytes = 4 * 1024 * 1024;
      c.export.spoolDir = spoolDir;
    };
    // The paired read (JSON and CSV in one COPY) is killed as soon as it is seen running.
    let killed = 0;
    const killer = (async () => {
      for (let i = 0; i < 500 && killed === 0; i++) {
        const { rowCount } = await env.admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where query like 'copy (select row_to_json(r)::text, coalesce(%' and backend_type = 'client backend' and pid <> pg_backend_pid()`,
        );
        killed = rowCount ?? 0;
        if (killed === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const { summary } = await fulfill([id], {}, split);
    await killer;
    expect(killed).toBe(1);
    expect(summary.retrying).toBe(1);
    const row = (await requestRow(env, id))!;
    expect(row).toMatchObject({ status: 'pending', download_url: null, object_key: null });
    expect(row.error).toMatch(/^database error while building the export/);
    expect(await listKeys(env)).toEqual(before);
    expect(readdirSync(spoolDir)).toEqual([]);

    await env.admin.query(`update data_export_requests set not_before = now() - interval '1 second' where id = $1`, [
      id,
    ]);
    const next = await fulfill([id], {}, split);
    expect(next.summary.ready).toBe(1);
    expect(readyLine(next.logger).csvReadAhead.pipeline_runs).toBe('paired');
    const { parts, numbers } = runsInParts(
      await readZip(await getObject(env, (await requestRow(env, id))!.object_key)),
    );
    expect(parts.length).toBeGreaterThan(2);
    expect(numbers).toHaveLength(60_000);
  });

  for (const spoolDir of [undefined, null]) {
    const how =
      spoolDir === null
        ? 'without a disk to wait on, the CSV read ahead in memory'
        : 'both from one read, the CSV waiting on disk';
    it(`parts hold the same rows in JSON and CSV even when the table's physical order is not the export's order: ${how}`, async () => {
      // Inserted backwards, then some rows rewritten: a scan meets them in neither order.
      const { ready, parts, numbers } = await runsExportedInParts((n) => `branch-${'y'.repeat(200)}-${n}`, 8 * 1024, {
        ...(spoolDir === null ? { spoolDir } : {}),
        afterInsert: (project) =>
          env.admin.query(`update pipeline_runs set status = 'rewritten' where project_id = $1 and number % 7 = 0`, [
            project,
          ]),
      });
      expect(ready.csvReadAhead.pipeline_runs).toBe(spoolDir === null ? 'memory' : 'paired');
      expect(parts.length).toBeGreaterThan(2);
      expect(numbers).toEqual(Array.from({ length: 60 }, (_, i) => i + 1)); // in the export's order
    });
  }
});

/**
 * One user's 60 pipeline runs, inserted backwards (numbers 60 to 1, each
 * with the given branch), exported with the given entry limit and every
 * entity's CSV read ahead: the `request ready` line, the archive, and the
 * runs' parts (runsInParts). The export must be ready.
 */
async function runsExportedInParts(
  branch: (n: number) => string,
  maxEntryBytes: number,
  options: { spoolDir?: null; afterInsert?: (project: string) => Promise<unknown> } = {},
) {
  const user = await insertUser(env.admin);
  const project = await insertProject(env.admin, user);
  for (let n = 60; n >= 1; n--) await insertRun(env.admin, project, { number: n, branch: branch(n) });
  await options.afterInsert?.(project);
  const id = await insertRequest(env.admin, user);
  const { summary, logger } = await fulfill([id], {}, (c) => {
    c.export.maxEntryBytes = maxEntryBytes;
    c.export.parallelFromBytes = 0;
    if ('spoolDir' in options) c.export.spoolDir = options.spoolDir ?? null;
  });
  expect(summary.ready).toBe(1);
  const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
  return { ready: readyLine(logger), files, ...runsInParts(files) };
}

/**
 * The pipeline runs' JSON parts and their run numbers, in archive order,
 * checked against the CSV part of the same number: the same rows, in the
 * same order.
 */
function runsInParts(files: Map<string, Buffer>): { parts: string[]; numbers: number[] } {
  const parts = [...files.keys()].filter((k) => k.startsWith('json/pipeline_runs')).sort();
  const csvParts = [...files.keys()].filter((k) => k.startsWith('csv/pipeline_runs')).sort();
  expect(csvParts).toEqual(parts.map((p) => p.replace('json', 'csv').replace('.json', '.csv')));
  const numbers: number[] = [];
  for (const [i, part] of parts.entries()) {
    const jsonNumbers = (parseJsonExact(files.get(part)!.toString()) as { number: number }[]).map((r) => r.number);
    const csvNumbers = (
      parseCsv(files.get(csvParts[i]!)!.toString(), { bom: true, columns: true }) as { number: string }[]
    ).map((r) => Number(r.number));
    expect(csvNumbers, csvParts[i]).toEqual(jsonNumbers);
    numbers.push(...jsonNumbers);
  }
  return { parts, numbers };
}

describe('what is claimed, and when', () => {
  it('a dry run lists exactly what a real run claims, in the same order; a request waiting out its backoff is in neither', async () => {
    await env.admin.query(
      `update data_export_requests set status = 'failed', claim_id = null where status in ('pending', 'processing')`,
    );
    const ids: Record<string, string> = {};
    ids.oldest = await insertRequest(env.admin, await insertUser(env.admin), { requestedAt: '2020-01-01T00:00:00Z' });
    ids.newer = await insertRequest(env.admin, await insertUser(env.admin), { requestedAt: '2021-01-01T00:00:00Z' });
    ids.backingOff = await insertRequest(env.admin, await insertUser(env.admin), {
      requestedAt: '2019-01-01T00:00:00Z',
    });
    await env.admin.query(
      `update data_export_requests set not_before = now() + interval '1 hour', attempts = 1 where id = $1`,
      [ids.backingOff],
    );
    // A request whose worker died: taken over first, before any pending one.
    ids.deadWorker = await insertRequest(env.admin, await insertUser(env.admin), {
      requestedAt: '2022-01-01T00:00:00Z',
    });
    await env.admin.query(
      `update data_export_requests set status = 'processing', attempts = 1, claim_id = gen_random_uuid(), claim_expires_at = now() - interval '1 minute' where id = $1`,
      [ids.deadWorker],
    );

    const dry = await fulfillInProcess(env, { dryRun: true, concurrency: 1 });
    expect(dry.summary.wouldBuild).toEqual([ids.deadWorker, ids.oldest, ids.newer]);
    const real = await fulfillInProcess(env, { concurrency: 1 });
    const claimedInOrder = real.logger
      .lines()
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'request ready')
      .map((l) => l.requestId);
    expect(claimedInOrder).toEqual(dry.summary.wouldBuild);
    expect(await requestRow(env, ids.backingOff)).toMatchObject({ status: 'pending', attempts: 1 });

    // Its backoff over (back-dated, not slept), it is claimed like any other.
    await env.admin.query(`update data_export_requests set not_before = now() - interval '1 second' where id = $1`, [
      ids.backingOff,
    ]);
    expect((await fulfillInProcess(env, { dryRun: true })).summary.wouldBuild).toEqual([ids.backingOff]);
  });

  it('a failed attempt sets the retry time: the backoff doubles with each attempt', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    for (const [attempt, backoffSeconds] of [
      [1, 60],
      [2, 120],
    ] as const) {
      await fulfill([id], { bucket: 'no-such-bucket-here', retryBackoff: '1m', maxAttempts: '5' });
      const { rows } = await env.admin.query(
        `select attempts, extract(epoch from not_before - now())::float8 as wait from data_export_requests where id = $1`,
        [id],
      );
      expect(rows[0].attempts).toBe(attempt);
      expect(rows[0].wait).toBeGreaterThan(backoffSeconds - 5);
      expect(rows[0].wait).toBeLessThanOrEqual(backoffSeconds);
    }
  });
});
