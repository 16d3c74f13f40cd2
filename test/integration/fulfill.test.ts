import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCopySql } from '../../src/archive/queries.ts';
import { EXPORTER_VERSION } from '../../src/version.ts';
import {
  createTestEnv,
  fulfillInProcess,
  getObject,
  headObject,
  listKeys,
  requestRow,
  type TestEnv,
} from '../support/harness.ts';
import {
  addMember,
  insertFeature,
  insertProject,
  insertRelease,
  insertRequest,
  insertRun,
  insertUser,
} from '../support/seed.ts';
import { parseJsonExact, readZip } from '../support/zip.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

const fulfill = (options: { requestIds?: string[]; limit?: number; dryRun?: boolean } = {}) =>
  fulfillInProcess(env, options);

const AWKWARD_TEXT = 'comma, "quotes", new\nline, crlf\r\nend, ünïcødé ✓, emoji 🎉, 𝔘 astral';
const BIG_JSON =
  '{"big": 12345678901234567890, "nested": {"list": [1, "two", null, {"deep": true}]}, "s": "=not a formula in json"}';

describe('fulfill', () => {
  it('builds the archive of a pending request with every value exact, uploads it, and marks it ready', async () => {
    const owner = await insertUser(env.admin, { email: 'owner@example.test', name: 'Ünïcødé Owner 🎉' });
    const other = await insertUser(env.admin, { email: 'other@example.test', name: 'Other' });
    const owned = await insertProject(env.admin, owner, { name: 'Owned, "quoted"', description: AWKWARD_TEXT });
    const shared = await insertProject(env.admin, other, { name: 'Shared', description: '' });
    const foreign = await insertProject(env.admin, other, { name: 'Not mine', description: 'private to other' });
    await addMember(env.admin, shared, owner, 'maintainer');
    const feature = await insertFeature(env.admin, owned, { title: '=HYPERLINK("http://evil")', metadata: BIG_JSON });
    await insertFeature(env.admin, shared, { title: null, metadata: null, key: '@SUM(A1)' });
    await insertFeature(env.admin, foreign, { title: 'foreign feature' });
    await insertRun(env.admin, owned, {
      featureId: feature,
      number: 1,
      durationMs: '9007199254740993',
      branch: '-1',
      startedAt: '2024-04-05T06:07:08.123456Z',
    });
    await insertRun(env.admin, owned, {
      number: 2,
      branch: '+cmd|calc',
      durationMs: '-5',
      metadata: '[]',
      startedAt: null,
    });
    await insertRun(env.admin, shared, { number: 1, branch: '\tTab' });
    await insertRun(env.admin, foreign, { number: 1, branch: 'foreign-branch' });
    await insertRelease(env.admin, owned, { version: '1.0.0', notes: AWKWARD_TEXT, createdBy: other });
    await insertRelease(env.admin, foreign, { version: '9.9.9', notes: 'foreign release' });
    const requestId = await insertRequest(env.admin, owner);

    const { summary, logger } = await fulfill({ requestIds: [requestId] });
    expect(summary).toMatchObject({ claimed: 1, ready: 1, failed: 0, retrying: 0 });

    const row = (await requestRow(env, requestId))!;
    expect(row.status).toBe('ready');
    expect(row.attempts).toBe(1);
    expect(row.error).toBeNull();
    expect(row.object_key).toMatch(new RegExp(`^exports/${owner}/${requestId}/[0-9a-f-]{36}\\.zip$`));
    expect(row.row_counts).toEqual({
      users: 1,
      projects: 2,
      features: 2,
      pipeline_runs: 3,
      releases: 1,
      avatars: 0,
      release_assets: 0,
    });
    const lifetime = (row.expires_at.getTime() - row.completed_at.getTime()) / 1000;
    expect(lifetime).toBeGreaterThan(604_800 - 120);
    expect(lifetime).toBeLessThanOrEqual(604_800);

    const head = await headObject(env, row.object_key);
    expect(head.ContentType).toBe('application/zip');
    expect(head.ContentDisposition).toMatch(/^attachment; filename="data-export-\d{4}-\d{2}-\d{2}\.zip"$/);
    expect(Number(head.ContentLength)).toBe(Number(row.archive_bytes));

    // The presigned link downloads the archive, under the friendly name.
    const res = await fetch(row.download_url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/filename="data-export-/);
    const zipBytes = Buffer.from(await res.arrayBuffer());
    expect(zipBytes.equals(await getObject(env, row.object_key))).toBe(true);

    const files = await readZip(zipBytes);
    const names = [...files.keys()].sort();
    expect(names).toEqual([
      'README.txt',
      'csv/avatars.csv',
      'csv/features.csv',
      'csv/pipeline_runs.csv',
      'csv/projects.csv',
      'csv/release_assets.csv',
      'csv/releases.csv',
      'csv/users.csv',
      'index.html',
      'json/avatars.json',
      'json/features.json',
      'json/pipeline_runs.json',
      'json/projects.json',
      'json/release_assets.json',
      'json/releases.json',
      'json/users.json',
      'manifest.json',
      'schema.json',
      // A light export's rows for the page ride in the overview's file.
      'viewer/archive.js',
      'viewer/data.css',
      'viewer/dom.js',
      'viewer/entities.js',
      'viewer/entity-pages.js',
      'viewer/file-view.js',
      'viewer/files-page.js',
      'viewer/links.js',
      'viewer/overview.js',
      'viewer/pager.js',
      'viewer/routing.js',
      'viewer/sealed-data.js',
      'viewer/start.js',
      'viewer/store.js',
      'viewer/table.js',
      'viewer/values.js',
      'viewer/viewer.css',
      'viewer/words.js',
    ]);

    // schema.json describes every record of every JSON file: names, types, nullability, meaning.
    const schema = JSON.parse(files.get('schema.json')!.toString('utf8'));
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const typeOf = (v: unknown) =>
      v === null ? 'null' : Number.isInteger(v) ? 'integer' : Array.isArray(v) ? 'array' : typeof v;
    for (const name of ['users', 'projects', 'features', 'pipeline_runs', 'releases']) {
      const def = schema.$defs[name];
      expect(def.description).toBeTruthy();
      for (const record of parseJsonExact(files.get(`json/${name}.json`)!.toString('utf8')) as Record<
        string,
        unknown
      >[]) {
        expect(Object.keys(record)).toEqual(def.required);
        for (const [column, value] of Object.entries(record)) {
          const declared = def.properties[column];
          expect(declared.description, `${name}.${column}`).toBeTruthy();
          if (declared.type === undefined) continue; // jsonb: any JSON
          const allowed = [declared.type].flat();
          const actual = typeof value === 'bigint' ? 'integer' : typeOf(value);
          expect(allowed, `${name}.${column} = ${String(value)}`).toContain(
            actual === 'integer' && allowed.includes('number') ? 'number' : actual,
          );
        }
      }
    }
    expect(schema.$defs.users.properties.id).toMatchObject({ type: 'string', format: 'uuid' });
    expect(schema.$defs.projects.properties.member_role.type).toEqual(['string', 'null']);

    // Nothing of another user's, nothing secret, anywhere in the archive.
    const everything = [...files.values()].map((b) => b.toString('utf8')).join('\n');
    expect(everything).not.toContain('SECRET-HASH-MUST-NOT-LEAK');
    expect(everything).not.toContain('password');
    expect(everything).not.toContain('foreign');
    expect(everything).not.toContain('other@example.test');
    expect(everything).not.toContain('X-Amz-Signature');

    // manifest: counts, sizes and checksums of every data file.
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(manifest).toMatchObject({
      format: 'data-export/3',
      request_id: requestId,
      user_id: owner,
      exporter_version: EXPORTER_VERSION,
      schema_version: env.schemaVersion,
    });
    expect(manifest.as_of).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(new Date(manifest.link_expires_at).getTime()).toBe(row.expires_at.getTime());
    for (const [name, entity] of Object.entries<any>(manifest.entities)) {
      expect(entity.rows).toBe(row.row_counts[name]);
      expect(entity.files.map((f: any) => f.path).sort()).toEqual([`csv/${name}.csv`, `json/${name}.json`]);
      for (const f of entity.files) {
        const data = files.get(f.path)!;
        expect(f.bytes).toBe(data.length);
        expect(f.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      }
    }
    const readme = files.get('README.txt')!.toString('utf8');
    expect(readme).toContain('pipeline_runs');
    expect(readme).toContain('SHA-256');
    expect(readme).toContain(row.expires_at.toISOString().slice(0, 10));

    // JSON: the exact copy, compared value by value with the database.
    const json = (name: string) => parseJsonExact(files.get(`json/${name}.json`)!.toString('utf8')) as any[];
    const users = json('users');
    expect(users).toEqual([
      { id: owner, email: 'owner@example.test', name: 'Ünïcødé Owner 🎉', created_at: expect.stringMatching(/Z$/) },
    ]);
    const projects = json('projects');
    const byName = Object.fromEntries(projects.map((p) => [p.name, p]));
    expect(byName['Owned, "quoted"']).toMatchObject({
      id: owned,
      description: AWKWARD_TEXT,
      relationship: 'owner',
      member_role: null,
      created_at: '2024-01-02T03:04:05.123456Z',
    });
    expect(byName.Shared).toMatchObject({
      id: shared,
      description: '',
      relationship: 'member',
      member_role: 'maintainer',
      member_since: '2024-02-03T04:05:06.654321Z',
    });
    const features = json('features');
    const mine = features.find((f) => f.id === feature);
    expect(mine.title).toBe('=HYPERLINK("http://evil")');
    expect(mine.metadata).toEqual({
      big: 12345678901234567890n,
      nested: { list: [1, 'two', null, { deep: true }] },
      s: '=not a formula in json',
    });
    expect(features.find((f) => f.id !== feature)).toMatchObject({ title: null, metadata: null });
    const runs = json('pipeline_runs');
    const run1 = runs.find((r) => r.number === 1 && r.project_id === owned);
    expect(run1.duration_ms).toBe(9007199254740993n);
    expect(run1.started_at).toBe('2024-04-05T06:07:08.123456Z');
    expect(runs.find((r) => r.number === 2 && r.project_id === owned)).toMatchObject({
      started_at: null,
      finished_at: null,
      metadata: [],
      duration_ms: -5,
    });
    expect(json('releases')).toEqual([
      expect.objectContaining({ version: '1.0.0', notes: AWKWARD_TEXT, created_by: other }),
    ]);

    // CSV: BOM, header, RFC 4180 quoting, formula-safe text, numbers left alone.
    const csvText = (name: string) => files.get(`csv/${name}.csv`)!;
    expect([...csvText('users').subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = (name: string) =>
      parseCsv(csvText(name).toString('utf8'), { bom: true, columns: true }) as Record<string, string>[];
    const csvProjects = csv('projects');
    expect(csvProjects.find((p) => p.id === owned)!.description).toBe(AWKWARD_TEXT);
    expect(csvProjects.find((p) => p.id === shared)!.description).toBe('');
    const csvFeatures = csv('features');
    expect(csvFeatures.find((f) => f.id === feature)!.title).toBe(`'=HYPERLINK("http://evil")`);
    expect(csvFeatures.find((f) => f.id !== feature)!.key).toBe(`'@SUM(A1)`);
    expect(JSON.parse(csvFeatures.find((f) => f.id === feature)!.metadata!)).toMatchObject({
      s: '=not a formula in json',
    });
    const csvRuns = csv('pipeline_runs');
    expect(csvRuns.find((r) => r.branch === '-1')!.duration_ms).toBe('9007199254740993');
    expect(csvRuns.find((r) => r.duration_ms === '-5')!.branch).toBe(`'+cmd|calc`);
    expect(csvRuns.find((r) => r.project_id === shared)!.branch).toBe(`'\tTab`);
    expect(csvRuns.find((r) => r.branch === '-1')!.started_at).toBe('2024-04-05T06:07:08.123456Z');

    // One line per request, and a presigned URL's signature never in the log.
    const lines = logger.lines().map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.msg === 'request ready')).toEqual([
      expect.objectContaining({ requestId, userId: owner, rows: row.row_counts, bytes: Number(row.archive_bytes) }),
    ]);
    expect(logger.text()).not.toContain('X-Amz-Signature=');
  });

  it('exports a user with no projects, and a user who is only a member', async () => {
    const loner = await insertUser(env.admin, { name: null });
    const owner = await insertUser(env.admin);
    const member = await insertUser(env.admin);
    const project = await insertProject(env.admin, owner);
    await addMember(env.admin, project, member, 'viewer');
    await insertRun(env.admin, project, { number: 7 });
    const lonerRequest = await insertRequest(env.admin, loner);
    const memberRequest = await insertRequest(env.admin, member);

    const { summary } = await fulfill({ requestIds: [lonerRequest, memberRequest] });
    expect(summary.ready).toBe(2);

    const lonerFiles = await readZip(await getObject(env, (await requestRow(env, lonerRequest))!.object_key));
    expect(JSON.parse(lonerFiles.get('json/projects.json')!.toString())).toEqual([]);
    expect(JSON.parse(lonerFiles.get('json/users.json')!.toString())[0].name).toBeNull();
    // A header row even with no rows.
    expect(lonerFiles.get('csv/pipeline_runs.csv')!.toString('utf8')).toBe(
      '\uFEFFid,project_id,feature_id,number,status,trigger,branch,commit_sha,started_at,finished_at,duration_ms,metadata\n',
    );

    // An entity with no rows is written without a query: byte for byte what PostgreSQL's COPY writes for it.
    const counts = (await requestRow(env, lonerRequest))!.row_counts as Record<string, number>;
    const empties = env.entities.filter((e) => counts[e.name] === 0);
    expect(empties.length).toBeGreaterThan(3);
    for (const entity of empties) {
      const copied: Buffer[] = [];
      const client = await env.admin.connect();
      try {
        for await (const chunk of client.query(copyTo(csvCopySql(entity, loner)))) copied.push(chunk as Buffer);
      } finally {
        client.release();
      }
      expect(lonerFiles.get(`csv/${entity.name}.csv`)!.toString('utf8'), entity.name).toBe(
        `\uFEFF${Buffer.concat(copied).toString('utf8')}`,
      );
    }

    const memberFiles = await readZip(await getObject(env, (await requestRow(env, memberRequest))!.object_key));
    expect(JSON.parse(memberFiles.get('json/projects.json')!.toString())).toEqual([
      expect.objectContaining({ id: project, relationship: 'member', member_role: 'viewer' }),
    ]);
    expect(JSON.parse(memberFiles.get('json/pipeline_runs.json')!.toString())).toEqual([
      expect.objectContaining({ number: 7 }),
    ]);
  });

  it('claims oldest first, honours --limit, and a dry run changes nothing', async () => {
    // Received in the past (a time in the future is refused as now: sql/000010), the newer inserted first.
    const newer = await insertRequest(env.admin, await insertUser(env.admin), {
      requestedAt: new Date(Date.now() - 60_000).toISOString(),
    });
    const older = await insertRequest(env.admin, await insertUser(env.admin), {
      requestedAt: new Date(Date.now() - 120_000).toISOString(),
    });
    // Other tests' requests are done by now; these two are the only pending ones.
    const before = await listKeys(env);
    const dry = await fulfill({ dryRun: true });
    expect(dry.summary.wouldBuild).toEqual([older, newer]);
    expect((await requestRow(env, older))!.status).toBe('pending');
    expect(await listKeys(env)).toEqual(before);

    const { summary } = await fulfill({ limit: 1 });
    expect(summary).toMatchObject({ claimed: 1, ready: 1 });
    expect((await requestRow(env, older))!.status).toBe('ready');
    expect((await requestRow(env, newer))!.status).toBe('pending');
    await fulfill({ limit: 1 });
    expect((await requestRow(env, newer))!.status).toBe('ready');
  });

  it('reprocesses a ready request with --request: a new archive, the old one deleted', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    await fulfill({ requestIds: [id] });
    const first = (await requestRow(env, id))!;
    await fulfill({ requestIds: [id] });
    const second = (await requestRow(env, id))!;
    expect(second.status).toBe('ready');
    expect(second.attempts).toBe(2);
    expect(second.object_key).not.toBe(first.object_key);
    const keys = await listKeys(env);
    expect(keys).toContain(second.object_key);
    expect(keys).not.toContain(first.object_key);
  });

  it('a ready request rebuilt with --request that fails for good keeps no link: url, expiry and key cleared, the old archive deleted', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    await fulfill({ requestIds: [id] });
    const first = (await requestRow(env, id))!;
    expect((await fetch(first.download_url)).status).toBe(200);
    // A rebuild that cannot succeed (over the archive limit: failed at once, for good).
    const { summary } = await fulfillInProcess(env, { requestIds: [id], config: env.config({ maxArchiveBytes: '1' }) });
    expect(summary).toMatchObject({ failed: 1 });
    expect(await requestRow(env, id)).toMatchObject({
      status: 'failed',
      download_url: null,
      expires_at: null,
      object_key: null,
    });
    expect(await listKeys(env)).not.toContain(first.object_key);
    expect((await fetch(first.download_url)).status).toBe(404);
  });

  it('fails the request of a user that no longer exists, and carries on with the others', async () => {
    const gone = await insertUser(env.admin);
    const kept = await insertUser(env.admin);
    // The user deleted without the exporter's trigger (it was not linked yet, or the rows went by TRUNCATE): the request outlives its user.
    await env.admin.query('alter table users disable trigger exporter_user_deleted');
    try {
      const goneRequest = await insertRequest(env.admin, gone);
      const keptRequest = await insertRequest(env.admin, kept);
      await env.admin.query('delete from users where id = $1', [gone]);
      const { summary } = await fulfill({ requestIds: [goneRequest, keptRequest] });
      expect(summary).toMatchObject({ ready: 1, failed: 1 });
      expect(await requestRow(env, goneRequest)).toMatchObject({
        status: 'failed',
        error: 'the user no longer exists',
        download_url: null,
      });
      expect((await listKeys(env)).some((k) => k.includes(gone))).toBe(false);
      expect((await requestRow(env, keptRequest))!.status).toBe('ready');
    } finally {
      await env.admin.query('delete from data_export_requests where user_id not in (select id::text from users)');
      await env.admin.query('alter table users enable trigger exporter_user_deleted');
    }
  });
});
