import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { seedUser } from '../../scripts/lib/sample-data.ts';
import {
  createTestEnv,
  duplicateKeys,
  listKeys,
  requestRow,
  spawnCli,
  type TestEnv,
  waitFor,
} from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { insertRequest, insertUser } from '../support/seed.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { freePort } from '../support/tools.ts';

/*
 * `exporter work` as a child process against the real PostgreSQL and S3 API.
 * The poll interval is set to minutes, so a request built within seconds can
 * only have been woken by its notification (or by the poll that follows a
 * reconnect). Nothing sleeps to let time pass.
 */
let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

const SLOW_POLLS = { EXPORT_POLL_INTERVAL: '10m', EXPORT_HOUSEKEEPING_INTERVAL: '1h' };

/**
 * Starts `work` on an empty queue (what earlier tests left is failed first);
 * it is stopped with SIGTERM when the test ends (if it has not been).
 */
async function startWork(extra: Record<string, string> = {}) {
  await env.admin.query(
    `update data_export_requests set status = 'failed', error = 'cleared by the test', claim_id = null where status in ('pending', 'processing')`,
  );
  const run = spawnCli(['work'], { ...env.cliEnv, ...SLOW_POLLS, ...extra });
  onTestFinished(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM');
      await run.result;
    }
  });
  if (extra.EXPORT_POLL_ONLY !== 'true')
    await waitFor(async () => run.stderr().includes('listening for new requests'), 'work to listen');
  else await waitFor(async () => run.stderr().includes('work started'), 'work to start');
  return run;
}

/** S3 behind a proxy that holds every uploaded part until released (released when the test ends). */
async function storageHoldingParts() {
  const proxy = await S3Proxy.start(env.s3.endpoint);
  const parts = proxy.hold((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url), { every: true });
  onTestFinished(async () => {
    parts.release();
    await proxy.close();
  });
  return { proxy, parts };
}

async function stop(run: Awaited<ReturnType<typeof startWork>>) {
  run.child.kill('SIGTERM');
  return run.result;
}

const ready = (id: string, what = 'the request to be ready', timeoutMs = 15_000) =>
  waitFor(async () => (await requestRow(env, id))?.status === 'ready', what, timeoutMs);

describe('work', () => {
  it('a request inserted while work is idle is ready within seconds, with the poll interval at ten minutes: the notification woke it', async () => {
    const run = await startWork();
    const user = await insertUser(env.admin);
    const started = Date.now();
    const id = await insertRequest(env.admin, user);
    await ready(id);
    expect(Date.now() - started).toBeLessThan(10_000);
    const result = await stop(run);
    expect(result.code).toBe(143);
    expect(result.logs.find((l) => l.msg === 'request ready')).toMatchObject({
      requestId: id,
      command: 'work',
      pass: 'fulfill',
    });
  });

  it('the listening connection is killed: work reconnects, polls at once, and a request inserted afterwards is ready', async () => {
    const run = await startWork();
    const listeningLines = () => run.stderr().split('listening for new requests').length - 1;
    await env.admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'exporter-listener' and datname = current_database()`,
    );
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    await ready(id);
    await waitFor(async () => listeningLines() >= 2, 'work to listen again');
    // Listening again: a request made now is woken by its notification.
    const later = await insertRequest(env.admin, await insertUser(env.admin));
    await ready(later);
    expect((await stop(run)).code).toBe(143);
  });

  it('4 work processes and 400 requests inserted in bursts: each built exactly once, no deadlock, the housekeeping ran once, not four times', async () => {
    await env.admin.query(`delete from data_export_requests`);
    await env.admin.query(`delete from data_export_housekeeping`);
    const runs = await Promise.all([1, 2, 3, 4].map(() => startWork({ EXPORT_CONCURRENCY: '2' })));
    const users: string[] = [];
    for (let i = 0; i < 400; i++)
      users.push(await seedUser(env.admin, { projects: 1, features: 2, runs: 5, releases: 1 }));
    for (let burst = 0; burst < 8; burst++) {
      await env.admin.query(`insert into data_export_requests (user_id) select unnest($1::uuid[])`, [
        users.slice(burst * 50, burst * 50 + 50),
      ]);
    }
    await waitFor(
      async () =>
        (await env.admin.query(`select count(*)::int as n from data_export_requests where status = 'ready'`)).rows[0]
          .n === 400,
      'all 400 requests to be ready',
      60_000,
    );
    const results = await Promise.all(runs.map(stop));
    for (const r of results) {
      expect(r.code).toBe(143);
      expect(r.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
      expect(
        r.stderr
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .flatMap(duplicateKeys),
      ).toEqual([]);
    }
    const built = results.map((r) => r.logs.filter((l) => l.msg === 'request ready').length);
    expect(built.reduce((a, b) => a + b, 0)).toBe(400);
    expect(built.filter((n) => n > 0).length).toBeGreaterThan(1);
    const { rows } = await env.admin.query(`select status, attempts, object_key from data_export_requests`);
    expect(rows.every((r) => r.status === 'ready' && r.attempts === 1)).toBe(true);
    // One archive per request (the housekeeping's anchor of the audit trail beside them, under audit/).
    expect(new Set((await listKeys(env)).filter((k) => k.endsWith('.zip')).map((k) => k.split('/')[2])).size).toBe(400);
    expect((await listKeys(env)).filter((k) => !k.endsWith('.zip'))).toEqual([
      expect.stringMatching(/^exports\/audit\/\d{4}-\d\d-\d\d\.json$/),
    ]);
    const housekeeping = results.flatMap((r) => r.logs.filter((l) => l.msg === 'housekeeping finished'));
    expect(housekeeping).toHaveLength(1);
  });

  it('a request failing for a passing reason is retried after its backoff by the same process, and ends failed after EXPORT_MAX_ATTEMPTS', async () => {
    const proxy = await S3Proxy.start(env.s3.endpoint);
    onTestFinished(() => proxy.close());
    proxy.fail((r) => r.method === 'PUT'); // the storage refuses every upload (HTTP 503)
    const run = await startWork({ S3_ENDPOINT: proxy.url, EXPORT_RETRY_BACKOFF: '1s', EXPORT_MAX_ATTEMPTS: '3' });
    const id = await insertRequest(env.admin, await insertUser(env.admin));
    await waitFor(async () => (await requestRow(env, id))?.status === 'failed', 'the request to fail for good', 30_000);
    const result = await stop(run);
    expect(result.code).toBe(143);
    expect(await requestRow(env, id)).toMatchObject({ status: 'failed', attempts: 3 });
    const failures = result.logs.filter((l) => l.requestId === id && l.level === 'error');
    expect(failures.map((l) => l.msg)).toEqual([
      'request failed; will be retried',
      'request failed; will be retried',
      'request failed',
    ]);
    // Each retry waited out its backoff: 1 s, then 2 s.
    const at = failures.map((l) => Date.parse(l.time as string));
    const claims = result.logs
      .filter((l) => l.requestId === id && l.msg === 'progress')
      .map((l) => Date.parse(l.time as string));
    expect(claims.length).toBeGreaterThanOrEqual(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(1_000);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(2_000);
  });

  it('SIGTERM while two builds are in flight: claiming stops, the builds get the grace period, then are handed back; exit 143, nothing left processing', async () => {
    const { proxy } = await storageHoldingParts();
    const run = await startWork({
      S3_ENDPOINT: proxy.url,
      EXPORT_ZIP_LEVEL: '0',
      EXPORT_SHUTDOWN_GRACE: '2s',
      EXPORT_CONCURRENCY: '2',
    });
    const ids = [];
    for (let i = 0; i < 2; i++)
      ids.push(
        await insertRequest(
          env.admin,
          await seedUser(env.admin, { projects: 1, features: 2, runs: 20_000, releases: 1 }),
        ),
      );
    await waitFor(
      async () => proxy.seen.filter((r) => /partNumber=1(&|$)/.test(r.url)).length >= 2,
      'both uploads to be under way',
    );
    const waiting = await insertRequest(env.admin, await insertUser(env.admin));
    run.child.kill('SIGTERM');
    const stoppedAt = Date.now();
    const result = await run.result;
    expect(result.code).toBe(143);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1_500); // the builds had their grace period
    expect(Date.now() - stoppedAt).toBeLessThan(12_000);
    for (const id of ids)
      expect(await requestRow(env, id)).toMatchObject({ status: 'pending', attempts: 0, claim_id: null });
    expect((await requestRow(env, waiting))!.status).toBe('pending');
    const { rows } = await env.admin.query(
      `select count(*)::int as n from data_export_requests where status = 'processing'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('SIGTERM while a build can finish within the grace period: it finishes, ready, and the process exits 143', async () => {
    const { proxy, parts } = await storageHoldingParts();
    const run = await startWork({ S3_ENDPOINT: proxy.url, EXPORT_ZIP_LEVEL: '0', EXPORT_SHUTDOWN_GRACE: '20s' });
    const id = await insertRequest(
      env.admin,
      await seedUser(env.admin, { projects: 1, features: 2, runs: 20_000, releases: 1 }),
    );
    await parts.arrived;
    run.child.kill('SIGTERM');
    await waitFor(async () => run.stderr().includes('letting builds in flight finish'), 'the stop to begin');
    parts.release();
    const result = await run.result;
    expect(result.code).toBe(143);
    expect((await requestRow(env, id))!.status).toBe('ready');
  });

  it('/livez, /readyz (503 while the database is gone) and /metrics in Prometheus text with the documented names', async () => {
    const port = await freePort();
    const db = new URL(env.databaseUrl);
    const dbProxy = await TcpProxy.start(`http://${db.hostname}:${db.port}`);
    onTestFinished(() => dbProxy.cut());
    const viaProxy = new URL(env.databaseUrl);
    viaProxy.port = String(dbProxy.port);
    const run = await startWork({ EXPORT_HTTP_PORT: String(port), DATABASE_URL: viaProxy.toString() });
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
    };
    const id = await insertRequest(env.admin, await insertUser(env.admin));
    await ready(id);

    expect(await get('/livez')).toMatchObject({ status: 200 });
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    const metrics = await get('/metrics');
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const series = new Map(
      metrics.body
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
    );
    expect(series.get('exporter_requests_total{outcome="ready"}')).toBe(1);
    expect(series.get('exporter_rows_written_total')).toBeGreaterThan(0);
    expect(series.get('exporter_bytes_written_total')).toBeGreaterThan(0);
    expect(series.get('exporter_build_seconds_count')).toBe(1);
    expect(series.get('exporter_builds_in_flight')).toBe(0);
    expect(series.get('exporter_oldest_pending_seconds')).toBe(0);
    expect(series.get('exporter_listen_healthy')).toBe(1);
    for (const line of metrics.body.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(
        /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|\+Inf|-Inf)$/,
      );
    }

    await dbProxy.cut(); // the database is gone
    const notReady = await get('/readyz');
    expect(notReady.status).toBe(503);
    // The driver's text (hosts, ports) is for the log, not for whoever can reach the port.
    expect(notReady.body).toBe('not ready: the database does not answer\n');
    expect((await get('/livez')).status).toBe(200); // alive all the same: a restart would not bring the database back
    await dbProxy.restore();
    await waitFor(async () => (await get('/readyz')).status === 200, 'ready again once the database is back', 30_000);
    expect((await stop(run)).code).toBe(143);
  });

  it('EXPORT_POLL_ONLY (PgBouncer in transaction mode): no LISTEN, and a request is still ready within a few seconds', async () => {
    const run = await startWork({ EXPORT_POLL_ONLY: 'true' });
    const id = await insertRequest(env.admin, await insertUser(env.admin));
    await ready(id);
    const result = await stop(run);
    expect(result.code).toBe(143);
    expect(result.stderr).not.toContain('listening for new requests');
  });
});
