import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import { csvCopySql, jsonLinesCopySql, sizeSql } from '../../src/archive/queries.ts';
import { createTestEnv, fulfillInProcess, getObject, requestRow, runCli, type TestEnv } from '../support/harness.ts';
import { LEGACY_ENTITIES } from '../support/legacy-entities.ts';
import {
  addMember,
  insertFeature,
  insertProject,
  insertRelease,
  insertRequest,
  insertRun,
  insertUser,
} from '../support/seed.ts';
import { readZip } from '../support/zip.ts';

let env: TestEnv;
let dir: string;
beforeAll(async () => {
  env = await createTestEnv();
  dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-definition-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await env?.close();
});

const SAMPLE = readFileSync(SAMPLE_FILES_DEFINITION, 'utf8');
/** The shipped definition with `edit` applied, written to a file of its own. */
function definitionFile(name: string, edit: (text: string) => string): string {
  const file = path.join(dir, `${name}.yaml`);
  const text = edit(SAMPLE);
  if (text === SAMPLE && name !== 'same') throw new Error(`the edit for ${name} changed nothing`);
  writeFileSync(file, text);
  return file;
}
const replace = (from: string, to: string) => (text: string) => text.replace(from, to);

async function seededUser(): Promise<string> {
  const user = await insertUser(env.admin, { name: 'Ada' });
  const other = await insertUser(env.admin);
  const owned = await insertProject(env.admin, user, { name: 'mine' });
  const shared = await insertProject(env.admin, other, { name: 'theirs' });
  await addMember(env.admin, shared, user, 'maintainer');
  for (const project of [owned, shared]) {
    const feature = await insertFeature(env.admin, project, {
      key: `k-${project.slice(0, 4)}`,
      metadata: '{"a": [1, 2]}',
    });
    for (let n = 1; n <= 5; n++) await insertRun(env.admin, project, { number: n, featureId: n % 2 ? feature : null });
    await insertRelease(env.admin, project, { version: '1.0.0', createdBy: user });
  }
  return user;
}

describe('the definition', () => {
  it('the shipped definition produces the archive the TypeScript entity list produced, byte for byte in every data file', async () => {
    const user = await seededUser();
    const id = await insertRequest(env.admin, user);
    await fulfillInProcess(env, { requestIds: [id] });
    const fromDefinition = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
    await fulfillInProcess(env, { requestIds: [id], entities: LEGACY_ENTITIES });
    const fromLegacy = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));

    // The entities the TypeScript list had; the sample has since gained two with files (avatars, release_assets).
    const legacy = new Set(LEGACY_ENTITIES.map((e) => e.name));
    const dataFiles = (files: Map<string, Buffer>) =>
      [...files.keys()]
        .filter((k) => /^(json|csv)\/([a-z_]+)\./.exec(k) && legacy.has(/^(json|csv)\/([a-z_]+)\./.exec(k)![2]!))
        .sort();
    expect(dataFiles(fromDefinition)).toEqual(dataFiles(fromLegacy));
    expect(dataFiles(fromDefinition)).toHaveLength(10);
    for (const name of dataFiles(fromLegacy))
      expect(fromDefinition.get(name)!.equals(fromLegacy.get(name)!), name).toBe(true);
    // README.txt's data dictionary too, entity by entity (its first lines carry the times of each build).
    const dictionary = (files: Map<string, Buffer>, entity: string) =>
      files.get('README.txt')!.toString().split('WHAT EACH FILE HOLDS')[1]!.split(`\n${entity}: `)[1]!.split('\n\n')[0];
    for (const entity of legacy)
      expect(dictionary(fromDefinition, entity), entity).toBe(dictionary(fromLegacy, entity));
  });

  it('the shipped definition makes the same queries as the TypeScript entity list: the same plans, so the same speed', () => {
    const USER = '3f0c5b8e-1d2a-4c6b-9e7f-0a1b2c3d4e5f';
    // The same SQL up to quoting: the definition's quotes every name and qualifies every table, which plain lower-case names need not.
    const flat = (sql: string) =>
      sql
        .replace(/\s+/g, ' ')
        .replace(/"([a-z_][a-z0-9_]*)"/g, '$1')
        .replaceAll('public.', '');
    const shipped = env.entities.filter((e) => LEGACY_ENTITIES.some((l) => l.name === e.name));
    expect(shipped.map((e) => e.name)).toEqual(LEGACY_ENTITIES.map((e) => e.name));
    for (const [i, legacy] of LEGACY_ENTITIES.entries()) {
      const entity = shipped[i]!;
      for (const order of ['scan', 'ordered'] as const) {
        expect(flat(jsonLinesCopySql(entity, USER, order)), entity.name).toBe(
          flat(jsonLinesCopySql(legacy, USER, order)),
        );
        expect(flat(csvCopySql(entity, USER, order)), entity.name).toBe(flat(csvCopySql(legacy, USER, order)));
      }
      expect(flat(sizeSql(entity, USER))).toBe(flat(sizeSql(legacy, USER)));
    }
  });

  it('a column added by a migration: check names it (exit 2), fulfill refuses before claiming; classified omit, both pass and it is nowhere in the archive', async () => {
    await env.admin.query(`alter table users add column api_token text default 'tok_live_MUST_NOT_LEAK'`);
    try {
      const check = await runCli(['check'], env.cliEnv);
      expect(check.code).toBe(2);
      expect(check.stderr).toMatch(/^ {2}users\.api_token: neither exported nor omitted/m);
      const json = await runCli(['check', '--json'], env.cliEnv);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        problems: [expect.stringMatching(/^users\.api_token: /)],
      });

      const user = await insertUser(env.admin);
      const id = await insertRequest(env.admin, user);
      const refused = await runCli(['fulfill'], env.cliEnv);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/the definition does not match the database \(1 problem\):\n {2}users\.api_token/);
      expect(await requestRow(env, id)).toMatchObject({ status: 'pending', attempts: 0, claim_id: null });

      const classified = definitionFile(
        'api-token-omitted',
        replace(
          '      password_hash: { omit: password hash }',
          '      password_hash: { omit: password hash }\n      api_token: { omit: a credential }',
        ),
      );
      const cliEnv = { ...env.cliEnv, EXPORT_DEFINITION: classified };
      expect((await runCli(['check'], cliEnv)).code).toBe(0);
      expect((await runCli(['fulfill'], cliEnv)).code).toBe(0);
      const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
      const everything = [...files.values()].map((b) => b.toString('utf8')).join('\n');
      expect(everything).not.toContain('api_token');
      expect(everything).not.toContain('tok_live_MUST_NOT_LEAK');
    } finally {
      await env.admin.query('alter table users drop column api_token');
    }
  });

  it("a file's columns checked against the database: a size that is not a number and a name column that does not exist, each named", async () => {
    const file = definitionFile('file-columns', (text) =>
      text
        .replace('        size: byte_size\n', '        size: file_name\n')
        .replace('        name: file_name\n', '        name: original_name\n'),
    );
    const check = await runCli(['check', '--json'], { ...env.cliEnv, EXPORT_DEFINITION: file });
    expect(check.code).toBe(2);
    expect(JSON.parse(check.stdout).problems).toEqual([
      expect.stringMatching(
        /^avatars\.original_name: the file's name column does not exist \(.*file-columns\.yaml:\d+\)$/,
      ),
      expect.stringMatching(
        /^avatars\.file_name: the file's size column is text, expected integer or bigint or numeric /,
      ),
    ]);
  });

  it('a dropped column, a path that follows no foreign key, a secret exported, a table nobody decided on: each named, all in one run', async () => {
    await env.admin.query(
      `create table user_notes (id uuid primary key, user_id uuid not null references users, body text)`,
    );
    try {
      const file = definitionFile('many-problems', (text) =>
        text
          .replace('      password_hash: { omit: password hash }', '      password_hash: { export: How you sign in. }')
          .replace(/( {6}commit_sha: .*\n)/, '$1      runner: { export: Where it ran. }\n')
          .replace(
            '    label: version\n    through: { entity: projects, column: project_id }',
            '    label: version\n    through: { entity: projects, column: created_by }',
          ),
      );
      const check = await runCli(['check', '--json'], { ...env.cliEnv, EXPORT_DEFINITION: file });
      expect(check.code).toBe(2);
      const problems = JSON.parse(check.stdout).problems as string[];
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^users\.password_hash: looks secret and is exported/),
          expect.stringMatching(/^pipeline_runs\.runner: classified but does not exist \(.*many-problems\.yaml:\d+\)$/),
          expect.stringMatching(
            /^releases\.created_by: the "through" column has no foreign key to projects \(entity projects\) \(id\); add one, or declare the relation/,
          ),
          expect.stringMatching(
            /^user_notes: references users \(user_notes\.user_id\) but is neither exported nor listed in left_out/,
          ),
        ]),
      );
      expect(problems).toHaveLength(4);
    } finally {
      await env.admin.query('drop table user_notes');
    }
  });

  it.each([
    [
      'bad YAML',
      replace('  users:\n    description: Your account.', '  users:\n    description: "Your account.\n'),
      /bad-yaml\.yaml:\d+: /,
    ],
    [
      'an unknown key',
      replace('    order_by: [id]\n', '    order_by: [id]\n    primary: id\n'),
      /unknown-key\.yaml:32: entities\.users: unknown key "primary"/,
    ],
    [
      'a wrong type',
      replace('    order_by: [id]\n', '    order_by: id\n'),
      /wrong-type\.yaml:31: entities\.users\.order_by: must be a non-empty list of column names/,
    ],
    [
      'a duplicate entity',
      (t: string) => t.replace('  releases:\n', '  users:\n'),
      /duplicate-entity\.yaml:\d+: Map keys must be unique/,
    ],
    [
      'an unknown file source',
      replace('        source: uploads\n', '        source: attachments\n'),
      /unknown-file-source\.yaml:\d+: entities\.avatars\.files\.file_path\.source: no file source named "attachments"/,
    ],
    [
      'a file with both key and url',
      replace('        key: object_key\n', '        key: object_key\n        url: file_name\n'),
      /both-key-and-url\.yaml:\d+: entities\.avatars\.files\.file_path: needs either "key"/,
    ],
    [
      'a column neither exported nor omitted',
      replace('      name: { export: Your display name. }', '      name: { description: Your display name. }'),
      /neither-exported\.yaml:35: entities\.users\.columns\.name: unknown key "description"/,
    ],
    [
      'a label that is not an exported column',
      replace('    label: name\n', '    label: password_hash\n'),
      /label-that-is-not-an-exported-column\.yaml:28: entities\.users\.label: must name one of its exported columns, not "password_hash"/,
    ],
  ])('a malformed file (%s): exit 2, the file and the line named', async (what, edit, message) => {
    const file = definitionFile(
      what
        .toLowerCase()
        .replaceAll(' ', '-')
        .replace(/^an?-/, '')
        .replace('column-neither-exported-nor-omitted', 'neither-exported')
        .replace('file-with-both-key-and-url', 'both-key-and-url'),
      edit,
    );
    const result = await runCli(['check'], { ...env.cliEnv, EXPORT_DEFINITION: file });
    expect(result.code).toBe(2);
    // One problem on the line; several, one per line.
    expect(result.stderr).toMatch(/^exporter: invalid definition(: | \(\d+ problems\):\n {2})/);
    expect(result.stderr).toMatch(message);
  });

  it('nightly with a definition that no longer matches: nothing is built, expire still runs, exit 2', async () => {
    await env.admin.query(`alter table releases add column internal_flag boolean`);
    try {
      const user = await insertUser(env.admin);
      const id = await insertRequest(env.admin, user);
      const result = await runCli(['nightly'], env.cliEnv);
      expect(result.code).toBe(2);
      expect(result.logs.find((l) => l.msg === 'definition drift: nothing was built')).toMatchObject({
        problem: expect.stringMatching(/^releases\.internal_flag: /),
      });
      expect(result.logs.find((l) => l.msg === 'expire finished')).toBeDefined();
      expect((await requestRow(env, id))!.status).toBe('pending');
    } finally {
      await env.admin.query('alter table releases drop column internal_flag');
    }
  });
});
