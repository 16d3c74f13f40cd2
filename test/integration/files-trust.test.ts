import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import { checkedDefinition } from '../../src/definition/checked-definition.ts';
import { loadDefinition } from '../../src/definition/parse.ts';
import { openFileSources } from '../../src/files/sources.ts';
import { archiveOf, createTestEnv, fulfillInProcess, listKeys, runCli, type TestEnv } from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';
import { putUpload, type Upload, uploadKey, userWithFiles } from '../support/user-files.ts';

/**
 * The user's files at the trust boundary: a key comes from a row a user may
 * have written, so it must never reach another user's objects or the
 * archives themselves.
 */
describe("the user's files at the trust boundary", () => {
  let env: TestEnv;
  let dir: string;
  beforeAll(async () => {
    env = await createTestEnv();
    dir = mkdtempSync(path.join(tmpdir(), 'exporter-trust-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await env.close();
  });

  it("a key set to another user's upload is not read: failed as not the user's, the owner's bytes nowhere in the archive", async () => {
    const bobAvatar: Upload = { key: uploadKey('bob.png'), body: randomBytes(4000), name: 'bob.png' };
    const bobAsset: Upload = { key: uploadKey('bob-notes.txt'), body: Buffer.from('bob private notes') };
    await userWithFiles(env, bobAvatar, [bobAsset]);
    // Alice's rows name Bob's keys, as a client that reports its own upload key could.
    const mine: Upload = { key: uploadKey('mine.txt'), body: Buffer.from('alice') };
    const alice = await userWithFiles(env, { ...bobAvatar, raw: true, name: 'face.png' }, [
      mine,
      { ...bobAsset, raw: true, name: 'notes.txt' },
    ]);

    const { summary, logger } = await fulfillInProcess(env, { requestIds: [alice.request] });
    expect(summary).toMatchObject({ ready: 1 });
    const { files, manifest, readme } = await archiveOf(env, alice.request);
    expect(manifest.file_counts).toEqual({ included: 1, missing: 0, too_large: 0, failed: 2 });
    const failed = manifest.files.filter((f: { outcome: string }) => f.outcome === 'failed');
    expect(failed.map((f: { reason: string }) => f.reason)).toEqual([
      expect.stringMatching(/^not the user's/),
      expect.stringMatching(/^not the user's/),
    ]);
    for (const f of failed) expect(readme).toContain(`${f.path}: could not be read from our storage (not the user's`);
    for (const body of [bobAvatar.body, bobAsset.body])
      expect([...files.values()].some((b) => b.includes(body))).toBe(false);
    // Their rows say the file is not here.
    const avatars = JSON.parse(files.get('json/avatars.json')!.toString());
    expect(avatars[0].file_path).toBeNull();
    expect(logger.text()).not.toContain(bobAvatar.key);
  });

  it('keys that climb out of their prefix, start with "/", have empty segments or control characters are never read', async () => {
    const other = await userWithFiles(env, undefined, [
      { key: uploadKey('secret.txt'), body: Buffer.from('the other release') },
    ]);
    const mine: Upload = { key: uploadKey('mine.txt'), body: Buffer.from('mine') };
    const alice = await userWithFiles(env, undefined, [mine]);
    const base = `releases/${alice.release}/`;
    const otherKey = (
      await env.admin.query<{ object_key: string }>('select object_key from release_assets where release_id = $1', [
        other.release,
      ])
    ).rows[0]!.object_key;
    const hostile: Record<string, string> = {
      'dots.txt': `${base}../${otherKey.slice('releases/'.length)}`,
      'one-dot.txt': `${base}x/./y.txt`,
      'empty.txt': `${base}/x.txt`,
      'control.txt': `${base}a\u0001b.txt`,
      'slash.txt': `/${base}x.txt`,
    };
    // Every one of them exists where a lax server might resolve it.
    await putUpload(env, { key: `${base}x/y.txt`, body: Buffer.from('normalised') });
    await putUpload(env, { key: `${base}x.txt`, body: Buffer.from('normalised') });
    for (const [name, key] of Object.entries(hostile)) {
      await env.admin.query(
        'insert into release_assets (id, release_id, object_key, file_name) values ($1, $2, $3, $4)',
        [randomUUID(), alice.release, key, name],
      );
    }
    const { summary } = await fulfillInProcess(env, { requestIds: [alice.request] });
    expect(summary).toMatchObject({ ready: 1 });
    const { files, manifest } = await archiveOf(env, alice.request);
    const reasons = Object.fromEntries(
      manifest.files.map((f: { path: string; outcome: string; reason?: string }) => [
        path.basename(f.path),
        `${f.outcome}: ${f.reason ?? ''}`,
      ]),
    );
    expect(reasons).toEqual({
      'mine.txt': 'included: ',
      'dots.txt': 'failed: its key has a "." or ".." segment',
      'one-dot.txt': 'failed: its key has a "." or ".." segment',
      'empty.txt': 'failed: its key has an empty segment',
      'control.txt': 'failed: its key holds a control character',
      'slash.txt': expect.stringMatching(/^failed: not the user's/),
    });
    expect([...files.values()].some((b) => b.toString() === 'the other release' || b.toString() === 'normalised')).toBe(
      false,
    );
  });

  it('a source that overlaps the archives is refused at start (exit 2, named); one beside them can never reach an archive', async () => {
    for (const [prefix, overlaps] of [
      ['', true],
      ['exports/', true],
      ['exports/uploads/', true],
      ['uploads/', false],
    ] as const) {
      const result = await runCli(['fulfill', '--dry-run'], {
        ...env.cliEnv,
        EXPORT_SOURCE_UPLOADS_BUCKET: env.bucket,
        ...(prefix ? { EXPORT_SOURCE_UPLOADS_PREFIX: prefix } : {}),
      });
      if (overlaps) {
        expect(result.code, prefix).toBe(2);
        expect(result.stderr).toMatch(
          /file source uploads \(bucket \S+, prefix ".*"\) overlaps the export area \(S3_BUCKET \S+, S3_PREFIX "exports\/"\)/,
        );
      } else expect(result.code, `${prefix}: ${result.stderr}`).toBe(0);
    }

    // The same server spelled otherwise: refused all the same.
    const url = new URL(env.s3.endpoint);
    const port = url.port;
    const spellings = [
      `${env.s3.endpoint}/`,
      `http://localhost:${port}`,
      `http://LOCALHOST.:${port}/`,
      `http://[::1]:${port}`,
      `http://127.1:${port}`,
      `http://[::ffff:127.0.0.1]:${port}`,
    ];
    expect(url.hostname).toBe('127.0.0.1');
    for (const endpoint of spellings) {
      const result = await runCli(['fulfill', '--dry-run'], {
        ...env.cliEnv,
        EXPORT_SOURCE_UPLOADS_BUCKET: env.bucket,
        EXPORT_SOURCE_UPLOADS_ENDPOINT: endpoint,
      });
      expect(result.code, endpoint).toBe(2);
      expect(result.stderr, endpoint).toMatch(/file source uploads \(bucket \S+, prefix ""\) overlaps the export area/);
    }
    // Another server (a port nothing listens on) with a bucket of the export bucket's name: started, but no key under S3_PREFIX is ever asked for.
    const elsewhere = openFileSources(loadDefinition(SAMPLE_FILES_DEFINITION).fileSources, env.config().storage, {
      EXPORT_SOURCE_UPLOADS_BUCKET: env.bucket,
      EXPORT_SOURCE_UPLOADS_ENDPOINT: 'http://127.0.0.1:9',
    });
    try {
      const source = elsewhere.get('uploads');
      expect(source.refusal('exports/someone/archive.zip')).toBe('its key points at the exported archives');
      expect(source.refusal('releases/x/ok.txt')).toBeUndefined();
    } finally {
      elsewhere.destroy();
    }

    // Bob's archive, and Alice's key climbing from the source's prefix to it.
    const bob = await userWithFiles(env, undefined, [{ key: uploadKey('bob.txt'), body: Buffer.from('bob') }]);
    await fulfillInProcess(env, { requestIds: [bob.request] });
    const bobArchive = (await listKeys(env)).find((k) => k.includes(bob.user))!;
    expect(bobArchive).toMatch(/^exports\//);
    const sharedBucket = openFileSources(loadDefinition(SAMPLE_FILES_DEFINITION).fileSources, env.config().storage, {
      EXPORT_SOURCE_UPLOADS_BUCKET: env.bucket,
      EXPORT_SOURCE_UPLOADS_PREFIX: 'uploads/',
    });
    try {
      const alice = await userWithFiles(env, undefined, []);
      await env.s3Client.send(
        new PutObjectCommand({ Bucket: env.bucket, Key: `uploads/releases/${alice.release}/ok.txt`, Body: 'ok' }),
      );
      for (const [name, key] of [
        ['ok.txt', `releases/${alice.release}/ok.txt`],
        ['archive.zip', `releases/${alice.release}/../../../${bobArchive}`],
      ]) {
        await env.admin.query(
          'insert into release_assets (id, release_id, object_key, file_name) values ($1, $2, $3, $4)',
          [randomUUID(), alice.release, key, name],
        );
      }
      await fulfillInProcess(env, { requestIds: [alice.request], files: sharedBucket });
      const { manifest } = await archiveOf(env, alice.request);
      expect(
        manifest.files.map((f: { path: string; outcome: string }) => `${path.basename(f.path)} ${f.outcome}`).sort(),
      ).toEqual(['archive.zip failed', 'ok.txt included']);
    } finally {
      sharedBucket.destroy();
    }
  });

  it('keys that make the same name (a:b and a_b, NFD and NFC, . and .., long slugs) get a folder each: every entry unique, each row naming its own file', async () => {
    await env.admin.query(
      `create table notes (slug text primary key, owner_id uuid not null references users on delete cascade, object_key text, file_name text)`,
    );
    // The shipped definition, which the other tests use, leaves no table that references users undecided.
    onTestFinished(() => env.admin.query('drop table notes').then(() => undefined));
    const sample = readFileSync(new URL('../../definitions/sample-files.yaml', import.meta.url), 'utf8');
    const file = path.join(dir, 'notes.yaml');
    writeFileSync(
      file,
      sample.replace(
        '# Tables that reference users',
        `  notes:
    description: Notes, keyed by a slug the user chose.
    owner: { column: owner_id }
    order_by: [slug]
    columns:
      slug: { export: The note's slug. }
      owner_id: { export: Its owner. }
      object_key: { omit: where it is stored }
      file_name: { export: Its file's name. }
    files:
      file_path:
        source: uploads
        key: object_key
        key_prefix: "notes/{owner_id}/"
        name: file_name
        export: Where its file is.

# Tables that reference users`,
      ),
    );
    const user = await insertUser(env.admin);
    const slugs = [
      'a:b',
      'a_b',
      'e\u0301te\u0301',
      '\u00e9t\u00e9',
      '.',
      '..',
      `${'x'.repeat(299)}1`,
      `${'x'.repeat(299)}2`,
      'plain~0123456789ab',
      'plain',
    ];
    for (const [i, slug] of slugs.entries()) {
      const key = `notes/${user}/${i}`;
      await putUpload(env, { key, body: Buffer.from(`note ${i}`) });
      await env.admin.query('insert into notes (slug, owner_id, object_key, file_name) values ($1, $2, $3, $4)', [
        slug,
        user,
        key,
        'note.txt',
      ]);
    }
    const request = await insertRequest(env.admin, user);
    const { entities } = await checkedDefinition(env.handle.db, file);
    const { summary } = await fulfillInProcess(env, { requestIds: [request], entities });
    expect(summary).toMatchObject({ ready: 1 });
    const { zip, files, manifest } = await archiveOf(env, request);
    const paths = manifest.files.map((f: { path: string }) => f.path);
    expect(manifest.file_counts.included).toBe(slugs.length);
    expect(new Set(paths).size).toBe(slugs.length);
    // Each row's path names its own file.
    const rows = JSON.parse(files.get('json/notes.json')!.toString()) as { slug: string; file_path: string }[];
    for (const row of rows)
      expect(files.get(row.file_path)!.toString(), row.slug).toBe(`note ${slugs.indexOf(row.slug)}`);
    expect(rows.find((r) => r.slug === 'plain')!.file_path).toBe('files/notes/plain/note.txt');
    expect(rows.find((r) => r.slug === 'a_b')!.file_path).toBe('files/notes/a_b/note.txt');
    expect(rows.find((r) => r.slug === 'a:b')!.file_path).toMatch(/^files\/notes\/a_b~[0-9a-f]{12}\/note\.txt$/);
    // And every one unpacks as a file of its own.
    const out = mkdtempSync(path.join(dir, 'unzipped-'));
    writeFileSync(`${out}.zip`, zip);
    execFileSync('unzip', ['-q', `${out}.zip`, '-d', out]);
    expect(readdirSync(path.join(out, 'files/notes'))).toHaveLength(slugs.length);
  });

  it('exporter check refuses a file column bound to no owner unless the definition says why in words; a prefix naming no column is refused', async () => {
    const sample = readFileSync(new URL('../../definitions/sample-files.yaml', import.meta.url), 'utf8');
    const unbound = path.join(dir, 'unbound.yaml');
    writeFileSync(unbound, sample.replace(/^ *key_prefix: "avatars\/\{user_id\}\/"\n/m, ''));
    const result = await runCli(['check'], { DATABASE_URL: env.databaseUrl, EXPORT_DEFINITION: unbound });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /entities\.avatars\.files\.file_path: its keys are not bound to the row's owner; add key_prefix: "…\/\{user_id\}\/"/,
    );
    expect(result.stderr).not.toMatch(/release_assets/);
    // The work commands refuse it too: nothing is built from it.
    const fulfill = await runCli(['fulfill', '--dry-run'], { ...env.cliEnv, EXPORT_DEFINITION: unbound });
    expect(fulfill.code).toBe(2);
    expect(fulfill.stderr).toMatch(/its keys are not bound to the row's owner/);

    const said = path.join(dir, 'owner-bound.yaml');
    writeFileSync(
      said,
      sample.replace(
        /^( *)key_prefix: "avatars\/\{user_id\}\/"\n/m,
        '$1owner_bound: "the server names each avatar after its row\'s id; users never write keys"\n',
      ),
    );
    const passes = await runCli(['check', '--json'], { DATABASE_URL: env.databaseUrl, EXPORT_DEFINITION: said });
    expect(passes.code, passes.stderr).toBe(0);
    expect(JSON.parse(passes.stdout)).toMatchObject({ ok: true, warnings: [] });
    const both = path.join(dir, 'both.yaml');
    writeFileSync(
      both,
      sample.replace(
        /^( *)key_prefix: "avatars\/\{user_id\}\/"\n/m,
        '$&$1owner_bound: "the server names each avatar after its row\'s id"\n',
      ),
    );
    expect((await runCli(['check'], { DATABASE_URL: env.databaseUrl, EXPORT_DEFINITION: both })).stderr).toMatch(
      /owner_bound: says why the keys need no prefix, but key_prefix binds them: keep one/,
    );

    const wrong = path.join(dir, 'wrong.yaml');
    writeFileSync(
      wrong,
      sample
        .replace('key_prefix: "avatars/{user_id}/"', 'key_prefix: "avatars/{uploader}/"')
        .replace('key_prefix: "releases/{release_id}/"', 'key_prefix: "releases/{release_id}"'),
    );
    const refused = await runCli(['check'], { DATABASE_URL: env.databaseUrl, EXPORT_DEFINITION: wrong });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/entities\.release_assets\.files\.file_path\.key_prefix: must end with "\/"/);
  });

  it('a file that cannot be read on the last attempt is failed with a category and a code; the address stays in the log', async () => {
    const down = openFileSources(loadDefinition(SAMPLE_FILES_DEFINITION).fileSources, env.config().storage, {
      EXPORT_SOURCE_UPLOADS_BUCKET: env.uploadsBucket,
      EXPORT_SOURCE_UPLOADS_ENDPOINT: 'http://127.0.0.1:9',
    });
    try {
      const alice = await userWithFiles(env, undefined, [
        { key: uploadKey('unreachable.txt'), body: Buffer.from('x') },
      ]);
      const { summary, logger } = await fulfillInProcess(env, {
        requestIds: [alice.request],
        files: down,
        config: env.config({ maxAttempts: '1' }),
      });
      expect(summary).toMatchObject({ ready: 1 });
      const { manifest, readme } = await archiveOf(env, alice.request);
      expect(manifest.files).toEqual([
        expect.objectContaining({ outcome: 'failed', reason: 'storage error while reading it (ECONNREFUSED)' }),
      ]);
      for (const text of [JSON.stringify(manifest), readme]) expect(text).not.toMatch(/127\.0\.0\.1|:9\b/);
      expect(logger.text()).toMatch(/"detail":"[^"]*127\.0\.0\.1:9/);
    } finally {
      down.destroy();
    }
  });
});
