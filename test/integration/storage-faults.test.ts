import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { seedUser } from '../../scripts/lib/sample-data.ts';
import { createTestEnv, listKeys, requestRow, runCli, spawnCli, type TestEnv, waitFor } from '../support/harness.ts';
import { isAbortMultipart, isComplete, S3Proxy } from '../support/s3-proxy.ts';
import { deleteAccount, insertRequest } from '../support/seed.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

/*
 * Faults at one precise S3 request, made with an HTTP proxy in front of the
 * real S3 API: the CompleteMultipartUpload held while the request is revoked,
 * storage that vanishes just before it, uploads that hang. The CLI runs as a
 * child process; nothing sleeps to let time pass.
 */
let env: TestEnv;
let proxy: S3Proxy;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

/** A store-only archive of ~16 MB: two 8 MiB parts, so the upload is multipart and ends with a complete. */
async function multipartRequest(): Promise<{ id: string; userId: string }> {
  const userId = await seedUser(env.admin, { projects: 1, features: 2, runs: 20_000, releases: 1 });
  return { id: await insertRequest(env.admin, userId), userId };
}

const keysOf = async (id: string) => (await listKeys(env)).filter((k) => k.split('/')[2] === id);
const throughProxy = (extra: Record<string, string> = {}) => ({
  ...env.cliEnv,
  S3_ENDPOINT: proxy.url,
  EXPORT_ZIP_LEVEL: '0',
  EXPORT_CLAIM_TTL: '2s',
  ...extra,
});

describe('storage faults at one request', () => {
  beforeAll(async () => {
    proxy = await S3Proxy.start(env.s3.endpoint);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('revoked while CompleteMultipartUpload is in flight: the worker waits for the upload to settle, then deletes; no archive outlives the revocation', async () => {
    const { id } = await multipartRequest();
    // The complete is under way at the storage when the worker learns of the
    // revocation: an abort of the upload is acknowledged but cannot stop it.
    const complete = proxy.hold(isComplete);
    proxy.swallow(isAbortMultipart);
    onTestFinished(() => proxy.restore());
    const run = spawnCli(['fulfill', '--request', id], throughProxy());
    await complete.arrived;

    const revoked = await runCli(['revoke', id, '--reason', 'the user asked'], env.cliEnv);
    expect(revoked.code).toBe(0);
    await waitFor(async () => run.stderr().includes('the claim was lost'), 'the worker to notice the revocation');
    // Give a worker that does not wait for its upload the chance to delete
    // first (as it used to: then the complete landed after the delete).
    await waitFor(async () => proxy.seen.some((r) => r.method === 'DELETE'), 'an early delete', 2_000).catch(() => {});
    complete.release(); // the complete reaches the storage, which creates the object

    const result = await run.result;
    expect(result.logs.find((l) => l.msg === 'claim lost while building; stopped')).toBeDefined();
    expect(await requestRow(env, id)).toMatchObject({ status: 'failed', error: 'revoked', object_key: null });
    expect(await keysOf(id)).toEqual([]);
  });

  it('storage vanishes between the last part and CompleteMultipartUpload: no ready row and no object; the next run finishes it', async () => {
    const { id } = await multipartRequest();
    proxy.vanishAt(isComplete);
    try {
      const result = await runCli(['fulfill', '--request', id], throughProxy());
      expect(result.code).toBe(1);
      const row = (await requestRow(env, id))!;
      expect(row).toMatchObject({ status: 'pending', download_url: null, object_key: null });
      expect(row.error).toMatch(/^storage error while building the export/);
      expect(await keysOf(id)).toEqual([]);
    } finally {
      proxy.restore();
    }
    const again = await runCli(['fulfill', '--request', id], throughProxy());
    expect(again.code).toBe(0);
    const row = (await requestRow(env, id))!;
    expect(row.status).toBe('ready');
    expect(await keysOf(id)).toEqual([row.object_key]);
  });

  it('an upload that hangs (parts never answered): the stall watchdog ends the build, the request goes back to pending, the run ends', async () => {
    const { id } = await multipartRequest();
    const part = proxy.hold((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url));
    try {
      const run = spawnCli(['fulfill', '--request', id, '--stall-timeout', '2s'], throughProxy());
      const result = await run.result;
      expect(result.code).toBe(1);
      expect(result.logs.find((l) => l.msg === 'request failed; will be retried')).toMatchObject({
        err: { message: 'no progress for 2 s' },
      });
      expect(await requestRow(env, id)).toMatchObject({ status: 'pending', claim_id: null });
      expect(await keysOf(id)).toEqual([]);
    } finally {
      part.release();
    }
  });

  it('30 accounts deleted while one fulfill --claim-ttl 1s run builds them, at every stage: the run ends, nothing stays processing, no archive of a deleted request remains', {
    timeout: 120_000,
  }, async () => {
    await env.admin.query(
      `update data_export_requests set status = 'failed', claim_id = null where status in ('pending', 'processing')`,
    );
    const users: string[] = [];
    for (let i = 0; i < 30; i++)
      users.push(await seedUser(env.admin, { projects: 1, features: 0, runs: 3_000, releases: 1 }));
    const requests = new Map<string, string>();
    for (const user of users) requests.set(await insertRequest(env.admin, user), user);
    // Uploads throttled so that deletions land in every stage of a build: rows, upload, finalize, complete.
    const slow = await TcpProxy.start(env.s3.endpoint, { bytesPerSecond: 2 * 1024 * 1024 });
    onTestFinished(() => slow.cut());
    const run = spawnCli(['fulfill', '--claim-ttl', '1s', '--stall-timeout', '5s', '--concurrency', '2'], {
      ...env.cliEnv,
      S3_ENDPOINT: slow.url,
      EXPORT_ZIP_LEVEL: '0',
    });
    const deleted = new Set<string>();
    let finished = false;
    const end = () => (finished = true);
    void run.result.then(end, end);
    while (!finished && deleted.size < 30) {
      const { rows } = await env.admin.query(
        `select id, user_id from data_export_requests where status = 'processing' and user_id <> all($1::text[])`,
        [[...deleted]],
      );
      for (const row of rows) {
        await deleteAccount(env.admin, row.user_id);
        deleted.add(row.user_id);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const result = await run.result;
    expect([0, 1]).toContain(result.code);
    // The run ends by itself, not by a crash: an exit code 1 also comes from an
    // unhandled rejection, which is how a build stopped mid-viewer ended the
    // process before (seal.ts; test/unit/seal.test.ts).
    expect(result.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'))).toEqual([]);
    expect(result.logs.at(-1)).toMatchObject({ msg: 'fulfill finished' });
    expect(deleted.size).toBeGreaterThan(5);
    const { rows: stuck } = await env.admin.query(
      `select count(*)::int as n from data_export_requests where status = 'processing'`,
    );
    expect(stuck[0].n).toBe(0);
    // An account deleted just after its export became ready leaves a key the
    // trigger remembered: the next expire deletes it at once (no day's grace).
    const { rows: remembered } = await env.admin.query(`select object_key from data_export_deleted_objects`);
    const leftBehind = (await listKeys(env)).filter((k) => deleted.has(k.split('/')[1]!));
    const orphans = leftBehind.filter((k) => !remembered.some((r) => r.object_key === k));
    expect(orphans, 'archives of deleted requests nobody will delete').toEqual([]);
    expect((await runCli(['expire'], env.cliEnv)).code).toBe(0);
    const keys = await listKeys(env);
    for (const [requestId, user] of requests) {
      const row = await requestRow(env, requestId);
      if (deleted.has(user)) {
        expect(row).toBeUndefined();
        expect(
          keys.filter((k) => k.split('/')[2] === requestId),
          `archive of deleted request ${requestId}`,
        ).toEqual([]);
      } else if (row?.status === 'ready') {
        expect(keys).toContain(row.object_key);
      }
    }
  });
});
