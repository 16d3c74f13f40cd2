import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { seedUser } from '../../scripts/lib/sample-data.ts';
import { exportRequest } from '../../src/building/request-build.ts';
import { claimNext } from '../../src/db/claims.ts';
import { runFulfill } from '../../src/passes/fulfill.ts';
import { EXPORTER_VERSION } from '../../src/version.ts';
import {
  captureLogger,
  createTestEnv,
  listKeys,
  passDeps,
  requestRow,
  runCli,
  spawnCli,
  type TestEnv,
  waitFor,
} from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { deleteAccount, insertRequest, insertUser } from '../support/seed.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

/*
 * The fault matrix: each fault made for real (signals to the real CLI, a
 * network cut, a killed database backend, concurrent processes) against the
 * real PostgreSQL and S3 API. Time is never waited out: claims are back-dated.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

/**
 * A user heavy enough that building their archive takes a few seconds through
 * the throttled S3 (store-only ZIP: ~70 MB, more than the ~40 MB the upload
 * buffers ahead, so the snapshot is still being read when parts first land).
 */
async function heavyRequest(runs = 100_000, features = 100): Promise<{ id: string; userId: string }> {
  const userId = await seedUser(env.admin, { projects: 2, features, runs, releases: 50 });
  return { id: await insertRequest(env.admin, userId), userId };
}

/**
 * S3 behind a proxy throttled to 4 MB/s a connection, and claims renewed
 * (with progress) every half second: an upload is then surely under way, and
 * seen to be, for a few seconds.
 */
let slowS3: TcpProxy;
beforeAll(async () => {
  slowS3 = await TcpProxy.start(inject('s3').endpoint, { bytesPerSecond: 4 * 1024 * 1024 });
});
afterAll(async () => {
  await slowS3?.cut();
});
const slow = () => ({ EXPORT_ZIP_LEVEL: '0', EXPORT_CLAIM_TTL: '2s', S3_ENDPOINT: slowS3.url });

/**
 * Parts are on their way and rows are still being written: the upload cannot
 * have completed. A part is reported uploaded only once answered, and the
 * first two go out together once 16 MiB are written, so a quarter of the rows
 * written (the JSON of 25,000 runs, 10 MB stored, then half of the CSV) also
 * counts: with the CSV read ahead in a spool, the rows after the JSON are
 * written in one go, and bytes uploaded may show only then.
 */
const uploading = (id: string) => async () => {
  const row = await requestRow(env, id);
  const written = Number(row?.rows_written);
  const total = Number(row?.rows_total);
  const midway =
    row?.status === 'processing' && (Number(row.bytes_uploaded) > 0 || written >= total / 4) && written < total;
  return midway ? row : undefined;
};

async function keysOf(requestId: string) {
  return (await listKeys(env)).filter((k) => k.includes(`/${requestId}/`));
}

async function expireClaim(id: string) {
  await env.admin.query(
    `update data_export_requests set claim_expires_at = now() - interval '1 second' where id = $1`,
    [id],
  );
}

describe('faults', () => {
  it('SIGKILL in the middle of an upload: the next run finishes the request; one object, one ready row', async () => {
    const { id } = await heavyRequest();
    // The second part is held at the storage: the upload is surely under way, and cannot complete.
    const proxy = await S3Proxy.start(env.s3.endpoint);
    onTestFinished(() => proxy.close());
    const part = proxy.hold((r) => r.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(r.url));
    const run = spawnCli(['fulfill', '--request', id], {
      ...env.cliEnv,
      EXPORT_ZIP_LEVEL: '0',
      S3_ENDPOINT: proxy.url,
    });
    await part.arrived;
    run.child.kill('SIGKILL');
    expect((await run.result).signal).toBe('SIGKILL');
    const left = (await requestRow(env, id))!;
    expect(left.status).toBe('processing'); // the dead worker's claim, until it lapses

    await expireClaim(id); // as if EXPORT_CLAIM_TTL had passed
    const next = await runCli(['fulfill'], env.cliEnv);
    expect(next.code).toBe(0);
    const row = (await requestRow(env, id))!;
    expect(row).toMatchObject({ status: 'ready', attempts: 2 });
    expect(await keysOf(id)).toEqual([row.object_key]);
    // The killed worker's multipart upload is aborted by the sweep a day later (tested at the SDK
    // boundary in sweep-multipart.test.ts; s3rver cannot list multipart uploads).
  });

  it('SIGTERM: stops claiming, aborts the uploads in flight, hands its requests back to pending, exits 143 within 10 s', async () => {
    const a = await heavyRequest();
    const b = await heavyRequest();
    const c = await heavyRequest();
    const run = spawnCli(['fulfill', '--concurrency', '2', '--request', a.id, b.id, c.id], {
      ...env.cliEnv,
      ...slow(),
    });
    await waitFor(uploading(a.id), 'an upload to be under way');
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const result = await run.result;
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect(result.code).toBe(143);
    expect(result.stderr).toContain('SIGTERM received');
    for (const { id } of [a, b, c]) {
      const row = (await requestRow(env, id))!;
      if (row.status === 'ready') continue; // finished before the signal
      expect(row).toMatchObject({ status: 'pending', claim_id: null, attempts: 0 });
      expect(await keysOf(id)).toEqual([]);
    }
    expect((await requestRow(env, a.id))!.status).toBe('pending');
    const next = await runCli(['fulfill'], env.cliEnv);
    expect(next.code).toBe(0);
    for (const { id } of [a, b, c]) expect((await requestRow(env, id))!.status).toBe('ready');
  });

  it('the S3 endpoint goes away during a run: bounded retries, back to pending with the error, exit 1; the next run finishes it', async () => {
    const { id } = await heavyRequest();
    const proxy = await TcpProxy.start(env.s3.endpoint, { bytesPerSecond: 4 * 1024 * 1024 });
    try {
      // A connection that dies mid-part can leave the SDK waiting forever: the stall watchdog ends it.
      const run = spawnCli(['fulfill', '--request', id], {
        ...env.cliEnv,
        ...slow(),
        S3_ENDPOINT: proxy.url,
        EXPORT_STALL_TIMEOUT: '5s',
      });
      await waitFor(uploading(id), 'the upload to be under way');
      await proxy.cut();
      const started = Date.now();
      const result = await run.result;
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(result.code).toBe(1);
      const row = (await requestRow(env, id))!;
      expect(row).toMatchObject({ status: 'pending', attempts: 1, download_url: null });
      expect(row.error).toMatch(/^(storage error|network error|timeout) while building the export/);

      await proxy.restore();
      // Not before its retry time (EXPORT_RETRY_BACKOFF): back-dated here, not waited for.
      expect(row.not_before.getTime()).toBeGreaterThan(Date.now());
      expect(
        (await runCli(['fulfill', '--dry-run'], { ...env.cliEnv, S3_ENDPOINT: proxy.url })).logs.some(
          (l) => l.msg === 'would build',
        ),
      ).toBe(false);
      await env.admin.query(`update data_export_requests set not_before = now() - interval '1 second' where id = $1`, [
        id,
      ]);
      const next = await runCli(['fulfill'], { ...env.cliEnv, S3_ENDPOINT: proxy.url });
      expect(next.code).toBe(0);
      expect(await requestRow(env, id)).toMatchObject({ status: 'ready', attempts: 2, error: null });
      expect(await keysOf(id)).toHaveLength(1);
    } finally {
      await proxy.cut();
    }
  });

  it('the database connection is killed mid-run: exit non-zero with a clear line; nothing stays processing', async () => {
    const { id } = await heavyRequest();
    // Every part after the first is held at the storage: the archive (~70 MB) cannot
    // drain past the upload's buffers (~40 MB), so the snapshot is surely still being
    // read when its connection is killed; then the parts go on.
    const proxy = await S3Proxy.start(env.s3.endpoint);
    const parts = proxy.hold((r) => r.method === 'PUT' && /[?&]partNumber=([2-9]|\d\d)(&|$)/.test(r.url), {
      every: true,
    });
    onTestFinished(async () => {
      parts.release();
      await proxy.close();
    });
    const run = spawnCli(['fulfill', '--request', id], {
      ...env.cliEnv,
      EXPORT_ZIP_LEVEL: '0',
      S3_ENDPOINT: proxy.url,
    });
    await parts.arrived;
    await waitFor(async () => Number((await requestRow(env, id))?.rows_written) > 0, 'rows to be written');
    await env.admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'exporter' and datname = current_database()`,
    );
    parts.release();
    const result = await run.result;
    expect(result.code).toBe(1);
    // The line that says what happened: the request's error log line (or, had the pass itself
    // failed, the one-line report of the run).
    const line =
      result.logs.find((l) => l.requestId === id && l.level === 'error') ??
      result.stderr.split('\n').find((l) => l.startsWith('exporter: '));
    // PostgreSQL's own words, or node-postgres' when the socket's end is read first.
    expect(JSON.stringify(line)).toMatch(
      /terminating connection due to administrator command|Connection terminated unexpectedly/,
    );
    // Handed back to pending; or, had the hand-back failed too, left processing only until its claim lapses.
    const row = (await requestRow(env, id))!;
    if (row.status === 'processing') expect(row.claim_expires_at.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
    else expect(row.status).toBe('pending');
    expect(await keysOf(id)).toEqual([]);
  });

  it('4 worker processes over 400 pending requests: every request built exactly once, all ready, no error', async () => {
    await env.admin.query(`delete from data_export_requests`);
    const users: string[] = [];
    for (let i = 0; i < 400; i++)
      users.push(await seedUser(env.admin, { projects: 1, features: 3, runs: 10, releases: 1 }));
    await env.admin.query(`insert into data_export_requests (user_id) select unnest($1::uuid[])`, [users]);
    const results = await Promise.all([1, 2, 3, 4].map(() => runCli(['fulfill', '--concurrency', '2'], env.cliEnv)));
    for (const r of results) {
      expect(r.code).toBe(0);
      expect(r.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    }
    const built = results.map((r) => r.logs.filter((l) => l.msg === 'request ready').length);
    expect(built.reduce((a, b) => a + b, 0)).toBe(400);
    expect(built.filter((n) => n > 0).length).toBeGreaterThan(1); // the work was shared
    const { rows } = await env.admin.query(`select status, attempts, object_key from data_export_requests`);
    expect(rows).toHaveLength(400);
    expect(rows.every((r) => r.status === 'ready' && r.attempts === 1)).toBe(true);
    // Exactly one upload per request: one object under each request's key, and no other.
    const keys = await listKeys(env);
    const perRequest = new Map<string, number>();
    for (const k of keys) {
      const requestId = k.split('/')[2]!;
      perRequest.set(requestId, (perRequest.get(requestId) ?? 0) + 1);
    }
    for (const r of rows) expect(perRequest.get(r.object_key.split('/')[2])).toBe(1);
  });

  it('a worker whose claim expired and was taken over finishes late: it cannot overwrite the newer result', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    const deps = passDeps(env, captureLogger().log);
    const ctx = {
      config: deps.config.export,
      entities: env.entities,
      user: env.user,
      files: env.files,
      exporterVersion: EXPORTER_VERSION,
      schemaVersion: env.schemaVersion,
      signal: new AbortController().signal,
      heartbeatMs: 60_000,
    };
    await env.admin.query(`update data_export_requests set requested_at = now() - interval '10 years' where id = $1`, [
      id,
    ]);

    const stale = (await claimNext(env.handle.db, 300, 3))!;
    expect(stale.id).toBe(id);
    await expireClaim(id); // worker A stalls past its claim...
    const summary = await runFulfill(deps, ctx, {
      limit: 1,
      concurrency: 1,
      requestIds: undefined,
      dryRun: false,
      signal: ctx.signal,
    });
    expect(summary.ready).toBe(1); // ...worker B takes it over and finishes
    const newer = (await requestRow(env, id))!;

    const late = await exportRequest(deps, stale, ctx); // then A finishes
    expect(late.kind).toBe('lost');
    const after = (await requestRow(env, id))!;
    expect(after).toMatchObject({
      status: 'ready',
      object_key: newer.object_key,
      download_url: newer.download_url,
      attempts: 2,
    });
    expect(await keysOf(id)).toEqual([newer.object_key]);
    deps.storage.destroy();
  });

  it('the user is deleted while their export is being built: the request disappears with them and no archive stays', async () => {
    // No features: deleting one checks every pipeline run for a reference (pipeline_runs.feature_id has no index).
    const { id, userId } = await heavyRequest(100_000, 0);
    // Slower still: the account deletion below takes a moment.
    const verySlowS3 = await TcpProxy.start(inject('s3').endpoint, { bytesPerSecond: 3 * 1024 * 1024 });
    onTestFinished(() => verySlowS3.cut());
    const deps = passDeps(env, captureLogger().log, env.config({ zipLevel: '0', s3Endpoint: verySlowS3.url }));
    const ctx = {
      config: deps.config.export,
      entities: env.entities,
      user: env.user,
      files: env.files,
      exporterVersion: EXPORTER_VERSION,
      schemaVersion: env.schemaVersion,
      signal: new AbortController().signal,
      heartbeatMs: 100,
    };
    const building = runFulfill(deps, ctx, {
      limit: 1,
      concurrency: 1,
      requestIds: [id],
      dryRun: false,
      signal: ctx.signal,
      heartbeatMs: 100,
    });
    await waitFor(uploading(id), 'the upload to be under way');
    // The application deletes the account and everything in it.
    await deleteAccount(env.admin, userId);
    const summary = await building;
    expect(summary.lost).toBe(1);
    expect(await requestRow(env, id)).toBeUndefined();
    expect((await listKeys(env)).filter((k) => k.includes(userId))).toEqual([]);
    deps.storage.destroy();
  });

  it('the user is deleted just after their export became ready: the next expire deletes the archive at once', async () => {
    const userId = await insertUser(env.admin);
    const id = await insertRequest(env.admin, userId);
    const deps = passDeps(env, captureLogger().log);
    const ctx = {
      config: deps.config.export,
      entities: env.entities,
      user: env.user,
      files: env.files,
      exporterVersion: EXPORTER_VERSION,
      schemaVersion: env.schemaVersion,
      signal: new AbortController().signal,
      heartbeatMs: 60_000,
    };
    await runFulfill(deps, ctx, { limit: 1, concurrency: 1, requestIds: [id], dryRun: false, signal: ctx.signal });
    deps.storage.destroy();
    const key = (await requestRow(env, id))!.object_key;
    await env.admin.query('delete from users where id = $1', [userId]); // the request row goes with it (cascade)
    expect(await requestRow(env, id)).toBeUndefined();
    expect(await listKeys(env)).toContain(key);

    const result = await runCli(['expire'], env.cliEnv);
    expect(result.code).toBe(0);
    expect(result.logs.find((l) => l.msg === 'expire finished')!.objectsOfDeletedRequests).toBeGreaterThanOrEqual(1);
    expect(result.logs.filter((l) => l.msg === 'deleted the archive of a deleted request').map((l) => l.key)).toContain(
      key,
    );
    expect(await listKeys(env)).not.toContain(key);
  });
});
