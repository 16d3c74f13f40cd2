import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMUNITY_DEFINITION, COMMUNITY_SCHEMA } from '../support/community.ts';
import { createTestEnv, getObject, requestRow, runCli, type TestEnv } from '../support/harness.ts';
import { insertRequest } from '../support/seed.ts';
import { parseJsonExact, readZip } from '../support/zip.ts';

/*
 * A schema unlike the sample one (test/fixtures/community.yaml): another user
 * table, messages that belong to two people, photos through albums. The CLI
 * builds it from the definition alone.
 */
const DEFINITION = COMMUNITY_DEFINITION;
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
  await env.admin.query(COMMUNITY_SCHEMA);
  // The exporter linked to this application's user table (accounts), as `exporter migrate` does with its definition.
  const migrated = await runCli(['migrate'], { ...env.cliEnv, EXPORT_DEFINITION: DEFINITION });
  expect(migrated.code, migrated.stderr).toBe(0);
});
afterAll(async () => {
  await env?.close();
});

async function account(handle: string): Promise<string> {
  const id = randomUUID();
  await env.admin.query(`insert into accounts values ($1, $2, $3, 'DIGEST-MUST-NOT-LEAK')`, [
    id,
    handle,
    `${handle}@example.test`,
  ]);
  await env.admin.query(`insert into profiles values ($1, $2, 'Lisbon')`, [id, `I am ${handle}`]);
  return id;
}

async function exportOf(accountId: string) {
  const id = await insertRequest(env.admin, accountId);
  const result = await runCli(['fulfill', '--request', id], { ...env.cliEnv, EXPORT_DEFINITION: DEFINITION });
  expect(result.code, result.stderr).toBe(0);
  const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
  const json = (name: string) =>
    parseJsonExact(files.get(`json/${name}.json`)!.toString('utf8')) as Record<string, any>[];
  return { files, json };
}

describe('a second schema (a community app)', () => {
  it('complete, exact and private: each person gets their own rows, and a message between two people is in both exports, nobody else’s', async () => {
    const [ana, ben, cy] = [await account('ana'), await account('ben'), await account('cy')];
    const message = async (from: string, to: string, body: string, at: string) =>
      env.admin.query(`insert into messages values ($1, $2, $3, $4, $5)`, [randomUUID(), from, to, body, at]);
    await message(ana, ben, 'hi ben', '2026-01-01T10:00:00.123456Z');
    await message(ben, ana, 'hi ana', '2026-01-01T10:01:00Z');
    await message(ben, cy, 'a secret between ben and cy', '2026-01-01T10:02:00Z');
    await env.admin.query(`insert into contacts values ($1, $2, $3, 'Benny'), ($4, $5, $6, 'Cyrus')`, [
      randomUUID(),
      ana,
      ben,
      randomUUID(),
      ben,
      cy,
    ]);
    const album = randomUUID();
    const bensAlbum = randomUUID();
    await env.admin.query(
      `insert into albums values ($1, $2, 'Holidays', '2025-08-01T00:00:00Z'), ($3, $4, 'Ben only', '2025-09-01T00:00:00Z')`,
      [album, ana, bensAlbum, ben],
    );
    await env.admin.query(
      `insert into photos values ($1, $2, 'beach', '2025-08-02T12:00:00Z'), ($3, $4, 'not ana''s', null)`,
      [randomUUID(), album, randomUUID(), bensAlbum],
    );

    expect((await runCli(['check', '--definition', DEFINITION], env.cliEnv)).code).toBe(0);
    const a = await exportOf(ana);
    expect([...a.files.keys()].filter((k) => k.startsWith('json/')).sort()).toEqual(
      ['account', 'albums', 'contacts', 'messages', 'photos', 'profile'].map((n) => `json/${n}.json`),
    );
    expect(a.json('account')).toEqual([{ id: ana, handle: 'ana', email: 'ana@example.test' }]);
    expect(a.json('profile')).toEqual([{ account_id: ana, bio: 'I am ana', location: 'Lisbon' }]);
    expect(a.json('contacts').map((c) => c.nickname)).toEqual(['Benny']);
    expect(a.json('messages').map((m) => m.body)).toEqual(['hi ben', 'hi ana']);
    expect(a.json('messages')[0]!.sent_at).toBe('2026-01-01T10:00:00.123456Z');
    expect(a.json('albums').map((x) => x.title)).toEqual(['Holidays']);
    expect(a.json('photos')).toEqual([
      expect.objectContaining({ album_id: album, caption: 'beach', taken_at: '2025-08-02T12:00:00.000000Z' }),
    ]);
    const everything = [...a.files.values()].map((b) => b.toString('utf8')).join('\n');
    expect(everything).not.toContain('DIGEST-MUST-NOT-LEAK');
    expect(everything).not.toContain('password_digest');
    expect(everything).not.toContain('a secret between ben and cy');
    expect(everything).not.toContain('Cyrus');
    expect(everything).not.toContain("not ana's");
    // The same definition describes the archive: schema.json, README.txt, the manifest.
    const schema = JSON.parse(a.files.get('schema.json')!.toString());
    expect(Object.keys(schema.$defs).sort()).toEqual([
      'account',
      'albums',
      'contacts',
      'messages',
      'photos',
      'profile',
    ]);
    expect(schema.$defs.messages.properties.sent_at).toMatchObject({
      type: 'string',
      format: 'date-time',
      description: 'When it was sent.',
    });
    expect(schema.$defs.photos.properties.taken_at.type).toEqual(['string', 'null']);
    expect(a.files.get('README.txt')!.toString()).toContain('messages: The messages you sent or received. (2 rows)');
    expect(JSON.parse(a.files.get('manifest.json')!.toString()).entities.messages.rows).toBe(2);

    const b = await exportOf(ben);
    expect(b.json('messages').map((m) => m.body)).toEqual(['hi ben', 'hi ana', 'a secret between ben and cy']);
    expect(b.json('photos').map((p) => p.caption)).toEqual(["not ana's"]);
    expect(b.json('contacts').map((c) => c.nickname)).toEqual(['Cyrus']);

    const printed = await runCli(['schema', '--definition', DEFINITION], env.cliEnv);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(schema);
  });
});
