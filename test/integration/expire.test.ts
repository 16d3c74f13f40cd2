import { randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runExpire } from '../../src/passes/expire.ts';
import {
  captureLogger,
  createTestEnv,
  fulfillInProcess,
  listKeys,
  passDeps,
  requestRow,
  runCli,
  type TestEnv,
} from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { insertRequest, insertUser } from '../support/seed.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});
beforeEach(async () => {
  // Every test starts from an empty table and bucket of its own making.
  await env.admin.query('delete from data_export_requests');
  const deps = passDeps(env, captureLogger().log);
  for (const key of await listKeys(env)) await deps.storage.delete(key);
  deps.storage.destroy();
});

const DAY = 24 * 60 * 60 * 1000;

/** A ready request with a real archive, built by the real fulfill pass. */
async function readyRequest(): Promise<{ id: string; key: string; userId: string }> {
  const userId = await insertUser(env.admin);
  const id = await insertRequest(env.admin, userId);
  await fulfillInProcess(env, { requestIds: [id] });
  const row = (await requestRow(env, id))!;
  expect(row.status).toBe('ready');
  return { id, key: row.object_key, userId };
}

async function backdateExpiry(id: string) {
  await env.admin.query(`update data_export_requests set expires_at = now() - interval '1 minute' where id = $1`, [id]);
}

async function expire(options: { dryRun?: boolean; pruneAfterSeconds?: number; now?: Date } = {}, on: TestEnv = env) {
  const logger = captureLogger();
  const deps = passDeps(on, logger.log);
  if (options.now) deps.clock = { now: () => options.now! };
  const summary = await runExpire(deps, {
    dryRun: options.dryRun ?? false,
    pruneAfterSeconds: options.pruneAfterSeconds,
    signal: new AbortController().signal,
  });
  deps.storage.destroy();
  return { summary, logger };
}

async function putOrphan(key: string) {
  await env.s3Client.send(new PutObjectCommand({ Bucket: env.bucket, Key: key, Body: 'orphan' }));
}

describe('expire', () => {
  it('retires a ready request past its expiry: object gone, failed with error "expired", link cleared; an unexpired one is untouched', async () => {
    const old = await readyRequest();
    const fresh = await readyRequest();
    await backdateExpiry(old.id);

    const { summary, logger } = await expire();
    expect(summary).toMatchObject({ expired: 1, objectsDeleted: 1, errors: 0 });
    expect(await requestRow(env, old.id)).toMatchObject({ status: 'failed', error: 'expired', download_url: null });
    const freshRow = (await requestRow(env, fresh.id))!;
    expect(freshRow.status).toBe('ready');
    expect(freshRow.download_url).toBeTruthy();
    expect(await listKeys(env)).toEqual([fresh.key]);
    // One log line per changed request.
    const lines = logger.lines().map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.msg === 'request expired')).toEqual([expect.objectContaining({ requestId: old.id })]);
  });

  it('an archive that is already gone is fine, and a re-run after a crash finishes the job', async () => {
    const { id, key } = await readyRequest();
    await backdateExpiry(id);
    const deps = passDeps(env, captureLogger().log);
    await deps.storage.delete(key); // as if a crashed run deleted it before its update
    deps.storage.destroy();
    const { summary } = await expire();
    expect(summary.expired).toBe(1);
    expect(await requestRow(env, id)).toMatchObject({ status: 'failed', error: 'expired' });
    expect((await expire()).summary.expired).toBe(0);
  });

  it('--dry-run says what it would do and changes nothing', async () => {
    const { id, key } = await readyRequest();
    await backdateExpiry(id);
    const orphan = `exports/${env.bucket}/${randomUUID()}/${randomUUID()}.zip`;
    await putOrphan(orphan);
    const { summary, logger } = await expire({ dryRun: true, now: new Date(Date.now() + 2 * DAY) });
    expect(summary).toMatchObject({ expired: 1, orphansDeleted: 1, dryRun: true });
    expect(logger.text()).toContain('would expire');
    expect((await requestRow(env, id))!.status).toBe('ready');
    expect(await listKeys(env)).toEqual([key, orphan].sort());
  });

  it('the sweep deletes orphan archives older than a day, never a live archive, nothing younger, nothing outside the prefix, nothing not shaped like an archive', async () => {
    const live = await readyRequest();
    const expiredButNotYetRetired = await readyRequest();
    const orphan = `exports/${randomUUID()}/${randomUUID()}/${randomUUID()}.zip`;
    await putOrphan(orphan);
    await putOrphan('elsewhere/not-ours.zip');
    // Under the prefix but not this exporter's (an upload someone put there): never swept.
    const foreign = [
      'exports/someone/old-orphan.zip',
      `exports/avatars/${randomUUID()}/me.png`,
      `exports/${randomUUID()}/${randomUUID()}/notes.zip.txt`,
    ];
    for (const key of foreign) await putOrphan(key);

    // Today everything is younger than a day: nothing is swept.
    expect((await expire()).summary.orphansDeleted).toBe(0);
    expect(await listKeys(env)).toContain(orphan);

    // Two days later (the clock is set, not slept): the orphan goes; the ready archive stays.
    await env.admin.query(`update data_export_requests set expires_at = now() + interval '3 days' where id = $1`, [
      expiredButNotYetRetired.id,
    ]);
    const { summary } = await expire({ now: new Date(Date.now() + 2 * DAY) });
    expect(summary.orphansDeleted).toBe(1);
    expect(await listKeys(env)).toEqual(
      [live.key, expiredButNotYetRetired.key, 'elsewhere/not-ours.zip', ...foreign].sort(),
    );
  });

  it('storage without ListMultipartUploads (s3rver): the sweep warns once and goes on', async () => {
    const plain = await createTestEnv({ storage: 's3rver' });
    try {
      const { summary, logger } = await expire({}, plain);
      expect(summary.multipartSweep).toBe('unsupported');
      expect(summary.errors).toBe(0);
      expect(logger.lines().filter((l) => l.includes('does not list multipart uploads'))).toHaveLength(1);
    } finally {
      await plain.close();
    }
  });

  it('two expire runs at once retire each request exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await readyRequest()).id);
    await env.admin.query(`update data_export_requests set expires_at = now() - interval '1 minute'`);
    const [a, b] = await Promise.all([expire(), expire()]);
    expect(a.summary.errors + b.summary.errors).toBe(0);
    expect(a.summary.expired + b.summary.expired).toBe(12);
    const retiredLines = [...a.logger.lines(), ...b.logger.lines()].filter((l) => l.includes('"request expired"'));
    expect(retiredLines).toHaveLength(12);
    const { rows } = await env.admin.query(
      `select count(*)::int as n from data_export_requests where status = 'failed' and error = 'expired'`,
    );
    expect(rows[0].n).toBe(12);
    expect(await listKeys(env)).toEqual([]);
  });

  it('--prune-after deletes old failed rows only, never pending, processing or ready ones', async () => {
    const user = await insertUser(env.admin);
    const oldFailed = await insertRequest(env.admin, user, { status: 'failed', requestedAt: '2020-01-01T00:00:00Z' });
    const oldPending = await insertRequest(env.admin, user, { status: 'pending', requestedAt: '2020-01-01T00:00:00Z' });
    const recentFailed = await insertRequest(env.admin, user, { status: 'failed' });
    await env.admin.query(`update data_export_requests set completed_at = requested_at where status = 'failed'`);
    const { summary } = await expire({ pruneAfterSeconds: 90 * 86400 });
    expect(summary.pruned).toBe(1);
    expect(await requestRow(env, oldFailed)).toBeUndefined();
    expect(await requestRow(env, oldPending)).toBeDefined();
    expect(await requestRow(env, recentFailed)).toBeDefined();
  });
});

describe('operator commands', () => {
  it('status counts per status, the oldest pending, stuck ones and links expiring soon (--json)', async () => {
    await insertRequest(env.admin, await insertUser(env.admin), {
      requestedAt: new Date(Date.now() - 3600_000).toISOString(),
    });
    await insertRequest(env.admin, await insertUser(env.admin));
    const stuck = await insertRequest(env.admin, await insertUser(env.admin), { status: 'processing' });
    await env.admin.query(
      `update data_export_requests set claim_expires_at = now() - interval '10 minutes', attempts = 1 where id = $1`,
      [stuck],
    );
    const soon = await readyRequest();
    await env.admin.query(`update data_export_requests set expires_at = now() + interval '2 hours' where id = $1`, [
      soon.id,
    ]);

    const result = await runCli(['status', '--json'], env.cliEnv);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.counts).toEqual({ pending: 2, processing: 1, ready: 1, failed: 0 });
    expect(report.oldestPendingSeconds).toBeGreaterThanOrEqual(3599);
    expect(report.oldestPendingSeconds).toBeLessThan(3700);
    expect(report.stuck).toEqual([expect.objectContaining({ id: stuck, attempts: 1 })]);
    expect(report.expiringWithin24h).toBe(1);

    const human = await runCli(['status'], env.cliEnv);
    expect(human.stdout).toMatch(/^pending\s+2\s+\(oldest waiting 60 min\)/m);
    expect(human.stdout).toContain(`stuck: ${stuck}`);
  });

  it('requeue puts failed and stuck requests back to pending with attempts reset, logs who and why, and refuses the rest', async () => {
    const failed = await insertRequest(env.admin, await insertUser(env.admin), { status: 'failed' });
    const stuck = await insertRequest(env.admin, await insertUser(env.admin), { status: 'processing' });
    const live = await insertRequest(env.admin, await insertUser(env.admin), { status: 'processing' });
    await env.admin.query(`update data_export_requests set attempts = 3, error = 'storage error' where id = $1`, [
      failed,
    ]);
    await env.admin.query(
      `update data_export_requests set claim_expires_at = now() - interval '1 minute' where id = $1`,
      [stuck],
    );
    await env.admin.query(
      `update data_export_requests set claim_expires_at = now() + interval '5 minutes' where id = $1`,
      [live],
    );

    const result = await runCli(
      ['requeue', failed, stuck, live, '--reason', 'S3 outage fixed', '--by', 'alice'],
      env.cliEnv,
    );
    expect(result.code).toBe(1);
    expect(await requestRow(env, failed)).toMatchObject({ status: 'pending', attempts: 0, error: null });
    expect(await requestRow(env, stuck)).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await requestRow(env, live))!.status).toBe('processing');
    expect(result.logs.filter((l) => l.msg === 'request requeued')).toEqual([
      expect.objectContaining({ requestId: failed, by: 'alice', reason: 'S3 outage fixed' }),
      expect.objectContaining({ requestId: stuck, by: 'alice', reason: 'S3 outage fixed' }),
    ]);
    expect(result.stdout).toContain(`${live} not requeued: a live worker is building it`);

    expect((await runCli(['requeue', failed], env.cliEnv)).code).toBe(2); // --reason is required
  });

  it('link prints a fresh short-lived URL that downloads the archive, and refuses a request that is not ready', async () => {
    const { id } = await readyRequest();
    const result = await runCli(['link', id, '--ttl', '15m', '--json'], env.cliEnv);
    expect(result.code).toBe(0);
    const { url, expiresAt } = JSON.parse(result.stdout);
    expect(url).toContain('X-Amz-Expires=900');
    expect(Math.abs(new Date(expiresAt).getTime() - (Date.now() + 900_000))).toBeLessThan(60_000);
    expect((await fetch(url)).status).toBe(200);
    expect(result.stderr).not.toContain('X-Amz-Signature');

    const user = await insertUser(env.admin);
    const pending = await insertRequest(env.admin, user);
    const refused = await runCli(['link', pending], env.cliEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the request is pending, not ready');
    expect(refused.stdout).toBe('');
  });

  it('revoke deletes the archive at once and ends the request failed with error "revoked"', async () => {
    const { id, key } = await readyRequest();
    const url = (await requestRow(env, id))!.download_url;
    const result = await runCli(['revoke', id, '--reason', 'link leaked'], env.cliEnv);
    expect(result.code).toBe(0);
    expect(await requestRow(env, id)).toMatchObject({ status: 'failed', error: 'revoked', download_url: null });
    expect(await listKeys(env)).not.toContain(key);
    expect((await fetch(url)).status).toBe(404);
  });

  it('nightly runs fulfill then expire in one process, and reports both in its exit code', async () => {
    const old = await readyRequest();
    await backdateExpiry(old.id);
    const user = await insertUser(env.admin);
    const pending = await insertRequest(env.admin, user);
    const result = await runCli(['nightly'], env.cliEnv);
    expect(result.code).toBe(0);
    expect((await requestRow(env, pending))!.status).toBe('ready');
    expect((await requestRow(env, old.id))!.status).toBe('failed');
    expect(result.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['fulfill finished', 'expire finished', 'nightly finished']),
    );

    // A request that cannot be built makes the night exit 1, and expire still runs.
    const another = await readyRequest();
    await backdateExpiry(another.id);
    const doomed = await insertRequest(env.admin, await insertUser(env.admin));
    const storage = await S3Proxy.start(env.s3.endpoint);
    storage.fail((r) => r.method === 'PUT'); // every upload refused; deletes and listings still work
    let failing: Awaited<ReturnType<typeof runCli>>;
    try {
      failing = await runCli(['nightly'], { ...env.cliEnv, S3_ENDPOINT: storage.url });
    } finally {
      await storage.close();
    }
    expect(failing.code).toBe(1);
    // Tried once this night, not three times in a row.
    expect(await requestRow(env, doomed)).toMatchObject({ status: 'pending', attempts: 1 });
    expect((await requestRow(env, another.id))!.status).toBe('failed');
    expect(failing.logs.find((l) => l.msg === 'nightly finished')).toMatchObject({
      fulfillExitCode: 1,
      expireExitCode: 0,
      exitCode: 1,
    });
  });
});
