import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, spawnCli, type TestEnv, waitFor } from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { archiveOf, uploadKey, userWithFiles } from '../support/user-files.ts';

/*
 * A production database's guards: every session of the database ends a
 * statement after 1 s and a transaction left idle for 1 s. The export runs
 * under them with a statement that waits 2.5 s (for a lock a migration holds)
 * and a snapshot that waits 2.5 s between two queries (while the user's file
 * downloads). Before the exporter set its own guards, either ended the
 * snapshot (57014, 25P03) and every retry failed the same way.
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

describe("a database whose role settings end long statements and idle transactions", () => {
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
    await migration.query("set idle_in_transaction_session_timeout = 0; begin; lock table pipeline_runs in access exclusive mode");
    const download = proxy.hold((r) => r.method === 'GET' && r.url.includes(env.uploadsBucket));
    const cli = spawnCli(['fulfill', '--request', request], { ...env.cliEnv, EXPORT_SOURCE_UPLOADS_ENDPOINT: proxy.url });
    try {
      await waitFor(async () => {
        const { rows } = await env.admin.query(`select 1 from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and application_name = 'exporter'`, [database]);
        return rows.length > 0;
      }, 'the snapshot waiting for the lock');
      await sleep(2_500);
      await migration.query('commit');
      // The first file's download: the snapshot idles in its transaction meanwhile.
      const ended = cli.result.then((r) => {
        throw new Error(`the export ended (exit ${r.code}) before the file's download began: ${r.logs.map((l) => (l.err as { message?: string } | undefined)?.message ?? l.msg).slice(-3).join(' | ')}`);
      });
      await Promise.race([download.arrived, ended]);
      await sleep(2_500);
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
    // Held through the lock's wait and the download (5 s at least), and said.
    expect(ready.snapshotSeconds).toBeGreaterThanOrEqual(5);
    expect(ready.snapshotSeconds).toBeLessThanOrEqual(ready.seconds as number);
  });
});
