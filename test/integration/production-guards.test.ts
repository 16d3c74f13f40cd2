import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveOf, createTestEnv, spawnCli, type TestEnv, waitFor } from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { putUpload, uploadKey, userWithFiles } from '../support/user-files.ts';

/*
 * A production database's guards: every session of the database ends a
 * statement after 1 s and a transaction left idle for 1 s. The export runs
 * under them with a statement that waits 2.5 s (for a lock a migration holds)
 * and a file whose download takes 2.5 s. Before the exporter set its own
 * guards, the first ended the snapshot (57014); before it closed the
 * snapshot while files download, the second did (25P03), and every retry
 * failed the same way.
 */
let env: TestEnv;
let proxy: S3Proxy;
beforeAll(async () => {
  env = await createTestEnv();
  proxy = await S3Proxy.start(env.s3.endpoint);
});
afterAll(async () => {
  await proxy?.close();
  await env?.close();
});

describe('a database whose role settings end long statements and idle transactions', () => {
  it('builds the whole archive with files, and the ready line says how long the snapshot was held', async () => {
    const avatar = { key: uploadKey('me.png'), body: Buffer.from('a picture') };
    const asset = { key: uploadKey('notes.txt'), body: Buffer.from('release notes\n'.repeat(100)) };
    const { request } = await userWithFiles(env, avatar, [asset]);
    const database = new URL(env.databaseUrl).pathname.slice(1);
    await env.admin.query(`alter database ${database} set statement_timeout = '1s'`);
    await env.admin.query(`alter database ${database} set idle_in_transaction_session_timeout = '1s'`);

    // A migration holds the user's runs: the snapshot's first statement waits for it.
    const migration = new pg.Client({ connectionString: env.databaseUrl });
    await migration.connect();
    await migration.query(
      'set idle_in_transaction_session_timeout = 0; begin; lock table pipeline_runs in access exclusive mode',
    );
    const download = proxy.hold((r) => r.method === 'GET' && r.url.includes(env.uploadsBucket));
    const cli = spawnCli(['fulfill', '--request', request], {
      ...env.cliEnv,
      EXPORT_SOURCE_UPLOADS_ENDPOINT: proxy.url,
    });
    try {
      await waitFor(async () => {
        const { rows } = await env.admin.query(
          `select 1 from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and application_name = 'exporter'`,
          [database],
        );
        return rows.length > 0;
      }, 'the snapshot waiting for the lock');
      await sleep(2_500);
      await migration.query('commit');
      // The first file's download: no transaction of the exporter's is open meanwhile.
      const ended = cli.result.then((r) => {
        throw new Error(
          `the export ended (exit ${r.code}) before the file's download began: ${r.logs
            .map((l) => (l.err as { message?: string } | undefined)?.message ?? l.msg)
            .slice(-3)
            .join(' | ')}`,
        );
      });
      await Promise.race([download.arrived, ended]);
      await sleep(1_500);
      expect(await openTransactions(database)).toEqual([]);
      await sleep(1_000);
    } finally {
      download.release();
      await migration.end();
    }
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);

    const { row, files, manifest } = await archiveOf(env, request);
    expect(row.status).toBe('ready');
    expect(manifest.files.map((f: { outcome: string }) => f.outcome)).toEqual(['included', 'included']);
    expect([...files.keys()].filter((name) => name.startsWith('files/'))).toHaveLength(2);
    const ready = result.logs.find((l) => l.msg === 'request ready')!;
    // Held through the lock's wait (2.5 s), not the download (2.5 s more), and said.
    expect(ready.snapshotSeconds).toBeGreaterThanOrEqual(2.5);
    expect(ready.snapshotSeconds).toBeLessThanOrEqual((ready.seconds as number) - 2.5);
  });

  it('a row whose file changed while the files downloaded, and a row added meanwhile, name no file; the others name theirs', async () => {
    const avatar = { key: uploadKey('me.png'), body: Buffer.from('a picture') };
    const kept = { key: uploadKey('kept.txt'), body: Buffer.from('kept') };
    const replaced = { key: uploadKey('old.txt'), body: Buffer.from('the old file') };
    const { request, release, assetIds } = await userWithFiles(env, avatar, [kept, replaced]);
    const newer = { key: `releases/${release}/${uploadKey('new.txt')}`, body: Buffer.from('the new file') };
    await putUpload(env, newer);

    const download = proxy.hold((r) => r.method === 'GET' && r.url.includes(env.uploadsBucket));
    const cli = spawnCli(['fulfill', '--request', request], {
      ...env.cliEnv,
      EXPORT_SOURCE_UPLOADS_ENDPOINT: proxy.url,
    });
    try {
      await download.arrived;
      // The list was read and its snapshot closed: the application goes on.
      await env.admin.query('update release_assets set object_key = $2, file_name = $3 where id = $1', [
        assetIds[1],
        newer.key,
        'old.txt',
      ]);
      await env.admin.query(
        `insert into release_assets (id, release_id, object_key, file_name) values ($1, $2, $3, 'added.txt')`,
        [randomUUID(), release, newer.key],
      );
    } finally {
      download.release();
    }
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);

    const { files, manifest } = await archiveOf(env, request);
    const assets = JSON.parse(files.get('json/release_assets.json')!.toString()) as {
      id: string;
      file_path: string | null;
      file_name: string;
    }[];
    const fileOf = (name: string) => assets.find((a) => a.file_name === name)!.file_path;
    expect(fileOf('kept.txt')).toMatch(/^files\/release_assets\/.*\/kept\.txt$/);
    expect(files.get(fileOf('kept.txt')!)!.toString()).toBe('kept');
    // Its key changed after the list was read: the file in the archive is the old one, which the row no longer names.
    expect(fileOf('old.txt')).toBeNull();
    expect(fileOf('added.txt')).toBeNull();
    const avatars = JSON.parse(files.get('json/avatars.json')!.toString()) as { file_path: string | null }[];
    expect(files.get(avatars[0]!.file_path!)!.toString()).toBe('a picture');
    // The three files listed were all downloaded; no row's path names a file the archive does not hold.
    expect(manifest.files.map((f: { outcome: string }) => f.outcome)).toEqual(['included', 'included', 'included']);
    for (const a of assets) if (a.file_path !== null) expect(files.has(a.file_path)).toBe(true);
  });
});

/** The exporter's sessions inside a transaction: idle in one, or in one for over a second. */
async function openTransactions(database: string): Promise<string[]> {
  const { rows } = await env.admin.query<{ state: string }>(
    `select state from pg_stat_activity where datname = $1 and application_name = 'exporter'
       and (state like 'idle in transaction%' or xact_start < now() - interval '1 second')`,
    [database],
  );
  return rows.map((r) => r.state);
}
