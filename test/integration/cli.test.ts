import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, listKeys, requestRow, runCli, type TestEnv } from '../support/harness.ts';
import { S3Proxy } from '../support/s3-proxy.ts';
import { insertProject, insertRequest, insertRun, insertUser } from '../support/seed.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

/** A local port with nothing listening: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('the CLI', () => {
  it('sets its V8 flags itself, however it is started: node bin/exporter without NODE_OPTIONS, same process id', async () => {
    const plain = await runCli(['status'], { ...env.cliEnv, LOG_LEVEL: 'trace' });
    expect(plain.code).toBe(0);
    const started = plain.logs.find((l) => l.msg === 'started')!;
    expect(started.execArgv).toEqual(expect.arrayContaining(['--max-semi-space-size=2', '--no-incremental-marking']));
    // A flag given by the operator wins; only what is missing is added.
    const one = await runCli(['status'], {
      ...env.cliEnv,
      LOG_LEVEL: 'trace',
      NODE_OPTIONS: '--max-semi-space-size=4',
    });
    expect(one.logs.find((l) => l.msg === 'started')!.execArgv).toEqual(['--no-incremental-marking']);
    // Both given (on node's command line: NODE_OPTIONS may not carry the second): nothing is re-executed.
    const both = await runCli(['status'], { ...env.cliEnv, LOG_LEVEL: 'trace' }, [
      '--max-semi-space-size=4',
      '--incremental-marking',
    ]);
    expect(both.logs.find((l) => l.msg === 'started')!.execArgv).toEqual([
      '--max-semi-space-size=4',
      '--incremental-marking',
    ]);
  });

  it('fulfill: exit 0, one line per request and a summary, stdout empty, no secret in the log', async () => {
    const user = await insertUser(env.admin);
    const project = await insertProject(env.admin, user);
    await insertRun(env.admin, project);
    const id = await insertRequest(env.admin, user);

    const result = await runCli(['fulfill', '--request', id], env.cliEnv);
    expect(result.stderr).toBeTruthy();
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    const perRequest = result.logs.filter((l) => l.msg === 'request ready');
    expect(perRequest).toEqual([
      expect.objectContaining({
        requestId: id,
        userId: user,
        pass: 'fulfill',
        rows: expect.any(Object),
        bytes: expect.any(Number),
        seconds: expect.any(Number),
      }),
    ]);
    expect(result.logs.filter((l) => l.msg === 'fulfill finished')).toEqual([
      expect.objectContaining({ claimed: 1, ready: 1 }),
    ]);
    expect(result.stderr).not.toContain(env.s3.secretAccessKey);
    expect(result.stderr).not.toContain('X-Amz-Signature=');
    expect(result.stderr).not.toMatch(/postgres:\/\/[^:]+:[^*][^@]*@/);
    expect((await requestRow(env, id))!.status).toBe('ready');
  });

  it('exit 1 when a request does not end ready', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    // The storage refuses every upload (a table renamed away would now be refused earlier, as drift: exit 2).
    const storage = await S3Proxy.start(env.s3.endpoint);
    storage.fail((r) => r.method === 'PUT');
    let result: Awaited<ReturnType<typeof runCli>>;
    try {
      result = await runCli(['fulfill', '--request', id, '--max-attempts', '5'], {
        ...env.cliEnv,
        S3_ENDPOINT: storage.url,
      });
    } finally {
      await storage.close();
    }
    expect(result.code).toBe(1);
    expect(await requestRow(env, id)).toMatchObject({
      status: 'pending',
      error: expect.stringMatching(/^storage error/),
    });
  });

  it.each([
    [['fulfill', '--link-ttl', '8d'], /EXPORT_LINK_TTL \(--link-ttl\) must be at most 7d/],
    [['fulfill', '--concurrency', '0'], /EXPORT_CONCURRENCY \(--concurrency\) must be a whole number from 1 to 64/],
    [['fulfill', '--concurrency', '-3'], /EXPORT_CONCURRENCY/],
    [['fulfill', '--database-url', 'not a url'], /DATABASE_URL \(--database-url\) is not a valid postgres:\/\/ URL/],
    [['fulfill', '--s3-endpoint', 'ftp://x'], /S3_ENDPOINT \(--s3-endpoint\) is not a valid http or https URL/],
    [['fulfill', '--bogus'], /unknown option '--bogus'/],
    [['fulfill', '--limit', 'ten'], /--limit/],
    [['fulfill', '--request', 'not-a-uuid'], /--request: "not-a-uuid" is not a request id/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('exit 2 before any work, one line naming the problem: %j', async (args, message) => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    const result = await runCli(args, env.cliEnv);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^exporter: /);
    expect(lines[0]).toMatch(message);
    expect((await requestRow(env, id))!.status).toBe('pending');
    await env.admin.query('delete from data_export_requests where id = $1', [id]);
  });

  it('a missing required setting is named, with every other problem, on one line', async () => {
    const result = await runCli(['fulfill'], { S3_ENDPOINT: 'http://127.0.0.1:1', EXPORT_MAX_ATTEMPTS: '0' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'exporter: invalid configuration: DATABASE_URL (--database-url) is required; S3_BUCKET (--bucket) is required; EXPORT_MAX_ATTEMPTS (--max-attempts) must be a whole number from 1 to 100, got "0"',
    );
  });

  it('an unreachable database: one clear line within a few seconds, exit 1, nothing changed', async () => {
    const port = await closedPort();
    const started = Date.now();
    const result = await runCli(['fulfill'], {
      ...env.cliEnv,
      DATABASE_URL: `postgres://app:hunter2-secret@127.0.0.1:${port}/app`,
    });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^exporter: database unreachable \(DATABASE_URL\): .*ECONNREFUSED/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toContain('hunter2-secret');
  });

  it('unreachable storage: one clear line within a few seconds, exit 1, no request claimed', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    const port = await closedPort();
    const before = await listKeys(env);
    const started = Date.now();
    const result = await runCli(['fulfill'], { ...env.cliEnv, S3_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^exporter: storage unreachable \(bucket b-[0-9a-f-]+\): /);
    expect(await requestRow(env, id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await listKeys(env)).toEqual(before);
    await env.admin.query('delete from data_export_requests where id = $1', [id]);
  });

  it('migrate is idempotent', async () => {
    const first = await runCli(['migrate'], env.cliEnv);
    expect(first.code).toBe(0);
    expect(first.logs).toEqual([
      expect.objectContaining({ msg: 'schema up to date', applied: [] }),
      expect.objectContaining({ msg: 'linked to the user table', userTable: 'users', userKey: 'id', keyType: 'uuid' }),
    ]);
  });
});
