import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seedUser } from '../../scripts/lib/sample-data.ts';
import { createRequest } from '../../src/db/intake.ts';
import { createTestEnv, requestRow, runCli, spawnCli, type TestEnv, waitFor } from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';
import { startSmtp } from '../support/smtp.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.close();
});

describe('intake', () => {
  it('request creates a pending request and prints its id; a second within the window is refused with exit 3 and when to retry', async () => {
    const user = await insertUser(env.admin);
    const first = await runCli(['request', user], env.cliEnv);
    expect(first.code).toBe(0);
    const id = first.stdout.trim();
    expect(await requestRow(env, id)).toMatchObject({ user_id: user, status: 'pending' });

    const second = await runCli(['request', user, '--json'], env.cliEnv);
    expect(second.code).toBe(3);
    const retryAfter = new Date(JSON.parse(second.stdout).retryAfter);
    const requestedAt = (await requestRow(env, id))!.requested_at as Date;
    expect(retryAfter.getTime()).toBe(requestedAt.getTime() + 24 * 3600_000);
    expect(second.stderr).toContain(`they may ask again after ${retryAfter.toISOString()}`);
    const { rows } = await env.admin.query('select count(*)::int as n from data_export_requests where user_id = $1', [
      user,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it('a ready request inside the window also blocks; a failed one does not', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user, { status: 'ready' });
    expect((await createRequest(env.handle.db, user, 86_400)).kind).toBe('rate-limited');
    await env.admin.query(`update data_export_requests set status = 'failed' where id = $1`, [id]);
    expect((await createRequest(env.handle.db, user, 86_400)).kind).toBe('created');
  });

  it('twenty requests for one user at the same instant: exactly one gets in', async () => {
    const user = await insertUser(env.admin);
    const results = await Promise.all(Array.from({ length: 20 }, () => createRequest(env.handle.db, user, 86_400)));
    expect(results.filter((r) => r.kind === 'created')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'rate-limited')).toHaveLength(19);
    const both = await Promise.all([
      runCli(['request', await insertUser(env.admin)], env.cliEnv),
      runCli(['request', user], env.cliEnv),
    ]);
    expect(both.map((r) => r.code)).toEqual([0, 3]);
  });

  it('the database itself refuses a second open request for a user', async () => {
    const user = await insertUser(env.admin);
    await insertRequest(env.admin, user);
    await expect(insertRequest(env.admin, user)).rejects.toThrow(/data_export_requests_one_open_per_user/);
  });

  it('a user that does not exist: a clear message, exit 2, nothing written', async () => {
    const ghost = '00000000-0000-4000-8000-000000000000';
    const result = await runCli(['request', ghost], env.cliEnv);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`exporter: request: no user with id ${ghost}`);
  });
});

describe('progress', () => {
  it('moves during a large export, is visible to the app and to `status <id>`, and ends at 100%', async () => {
    const user = await seedUser(env.admin, { projects: 2, features: 10, runs: 40_000, releases: 10 });
    const id = await insertRequest(env.admin, user);
    const slowS3 = await TcpProxy.start(inject('s3').endpoint, { bytesPerSecond: 8 * 1024 * 1024 });
    try {
      const run = spawnCli(['fulfill', '--request', id], {
        ...env.cliEnv,
        S3_ENDPOINT: slowS3.url,
        EXPORT_ZIP_LEVEL: '0',
        EXPORT_CLAIM_TTL: '2s',
      });
      const seen: { rows: number; bytes: number }[] = [];
      await waitFor(async () => {
        const row = (await requestRow(env, id))!;
        if (row.rows_written !== null) seen.push({ rows: Number(row.rows_written), bytes: Number(row.bytes_uploaded) });
        return row.status === 'ready';
      }, 'the export to finish');
      const result = await run.result;
      expect(result.code).toBe(0);
      // It moved, in steps: rows first (the upload buffers up to 4 parts of 8 MiB
      // behind them), then bytes; neither ever goes back.
      const distinct = [...new Set(seen.map((s) => `${s.rows}/${s.bytes}`))];
      expect(distinct.length).toBeGreaterThan(2);
      const rows = seen.map((s) => s.rows);
      const bytes = seen.map((s) => s.bytes);
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
      expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
      const row = (await requestRow(env, id))!;
      expect(Number(row.rows_total)).toBe(2 * (1 + 2 + 10 + 40_000 + 10));
      expect(row.rows_written).toBe(row.rows_total);
      expect(Number(row.bytes_uploaded)).toBe(Number(row.archive_bytes));
      // No terminal: the same facts go to the JSON log, every renewal, not every row.
      const progressLines = result.logs.filter((l) => l.msg === 'progress');
      expect(progressLines.length).toBeGreaterThan(1);
      expect(progressLines.length).toBeLessThan(100);

      const status = await runCli(['status', id, '--json'], env.cliEnv);
      expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'ready', percent: 100 });
    } finally {
      await slowS3.cut();
    }
  });
});

describe('the "your export is ready" email', () => {
  it('arrives once, after ready, with a working link, the expiry in UTC and what the archive holds', async () => {
    const smtp = await startSmtp();
    try {
      const user = await seedUser(env.admin, { projects: 1, features: 3, runs: 12, releases: 1 }, 'zoe@example.test');
      const id = await insertRequest(env.admin, user);
      const mailEnv = { ...env.cliEnv, SMTP_URL: smtp.url, MAIL_FROM: 'Exports <no-reply@example.test>' };
      const result = await runCli(['fulfill', '--request', id], mailEnv);
      expect(result.code).toBe(0);
      // (Emails still owed for earlier tests' ready requests go out too: they were never sent.)
      const toZoe = () => smtp.received.filter((m) => m.to === 'zoe@example.test');
      expect(toZoe()).toHaveLength(1);
      const mail = toZoe()[0]!;
      const row = (await requestRow(env, id))!;
      expect(mail.to).toBe('zoe@example.test');
      expect(mail.subject).toBe('Your data export is ready');
      expect(mail.text).toContain(row.download_url);
      const iso = row.expires_at.toISOString();
      expect(mail.text).toContain(`${iso.slice(0, 10)} at ${iso.slice(11, 16)} UTC`);
      expect(mail.text).toContain('12 pipeline runs');
      expect(mail.html).toContain('Download your data');
      expect((await fetch(mail.text.match(/http\S+/)![0])).status).toBe(200);
      expect(row.notified_at).toBeInstanceOf(Date);
      expect(row.notified_at.getTime()).toBeGreaterThanOrEqual(row.completed_at.getTime());
      // The link never reaches the log.
      expect(result.stderr).not.toContain('X-Amz-Signature=');

      const again = await runCli(['fulfill'], mailEnv);
      expect(again.code).toBe(0);
      expect(toZoe()).toHaveLength(1);
    } finally {
      await smtp.close();
    }
  });

  it('an SMTP outage leaves the request ready; the next run sends it', async () => {
    const user = await insertUser(env.admin, { email: 'outage@example.test' });
    const id = await insertRequest(env.admin, user);
    const down = await runCli(['fulfill', '--request', id], {
      ...env.cliEnv,
      SMTP_URL: 'smtp://127.0.0.1:1',
      MAIL_FROM: 'no-reply@example.test',
    });
    expect(down.code).toBe(0);
    expect(await requestRow(env, id)).toMatchObject({
      status: 'ready',
      notified_at: null,
      notify_attempts: 1,
      notify_error: null,
    });
    expect(down.logs.find((l) => l.msg === 'email not sent; the next run retries')).toBeDefined();

    const smtp = await startSmtp();
    try {
      const up = await runCli(['fulfill'], { ...env.cliEnv, SMTP_URL: smtp.url, MAIL_FROM: 'no-reply@example.test' });
      expect(up.code).toBe(0);
      expect(smtp.received.filter((m) => m.to === 'outage@example.test')).toHaveLength(1);
      expect((await requestRow(env, id))!.notified_at).toBeInstanceOf(Date);
    } finally {
      await smtp.close();
    }
  });

  it('an address that is not an email address is skipped, logged, and not retried', async () => {
    const smtp = await startSmtp();
    try {
      const user = await insertUser(env.admin, { email: 'not an address' });
      const id = await insertRequest(env.admin, user);
      const mailEnv = { ...env.cliEnv, SMTP_URL: smtp.url, MAIL_FROM: 'no-reply@example.test' };
      const result = await runCli(['fulfill', '--request', id], mailEnv);
      expect(result.code).toBe(0);
      expect(await requestRow(env, id)).toMatchObject({
        status: 'ready',
        notified_at: null,
        notify_error: 'not a valid email address',
      });
      await runCli(['fulfill'], mailEnv);
      expect(smtp.received.filter((m) => m.to === 'not an address')).toHaveLength(0);
      expect((await requestRow(env, id))!.notify_attempts).toBe(1);
    } finally {
      await smtp.close();
    }
  });

  it('without SMTP_URL nothing is sent and nothing fails; MAIL_FROM is required with it', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    expect((await runCli(['fulfill', '--request', id], env.cliEnv)).code).toBe(0);
    expect(await requestRow(env, id)).toMatchObject({ status: 'ready', notified_at: null, notify_attempts: 0 });
    const bad = await runCli(['fulfill'], { ...env.cliEnv, SMTP_URL: 'smtp://mail.example.test:25' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('MAIL_FROM (--mail-from) is required when SMTP_URL is set');
  });
});

describe('intake as a SQL function, for applications in any language', () => {
  const call = async (userId: string, window = '24 hours') =>
    (await env.admin.query(`select * from exporter_request_export($1, $2::interval)`, [userId, window])).rows[0] as {
      outcome: string;
      request_id: string | null;
      requested_at: Date | null;
      retry_after: Date | null;
      previous_request_id: string | null;
    };

  it('creates a request, refuses a second within the window with when to ask again, refuses an unknown user', async () => {
    const user = await insertUser(env.admin);
    const created = await call(user);
    expect(created).toMatchObject({ outcome: 'created', retry_after: null, previous_request_id: null });
    expect(await requestRow(env, created.request_id!)).toMatchObject({ user_id: user, status: 'pending' });
    const refused = await call(user);
    expect(refused).toMatchObject({
      outcome: 'rate-limited',
      request_id: null,
      previous_request_id: created.request_id,
    });
    expect(refused.retry_after!.getTime()).toBe(created.requested_at!.getTime() + 24 * 3600_000);
    expect(await call('00000000-0000-4000-8000-000000000000')).toMatchObject({
      outcome: 'no-such-user',
      request_id: null,
    });
    // A failed request does not count; a ready one past the window does not either.
    await env.admin.query(
      `update data_export_requests set status = 'ready', requested_at = now() - interval '2 hours' where id = $1`,
      [created.request_id],
    );
    expect((await call(user, '1 hour')).outcome).toBe('created');
  });

  it('twenty calls at the same instant on twenty connections: exactly one request', async () => {
    const user = await insertUser(env.admin);
    const clients = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const c = new pg.Client({ connectionString: env.databaseUrl });
        await c.connect();
        return c;
      }),
    );
    try {
      const outcomes = await Promise.all(
        clients.map(
          async (c) =>
            (await c.query(`select outcome from exporter_request_export($1)`, [user])).rows[0].outcome as string,
        ),
      );
      expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'rate-limited')).toHaveLength(19);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const { rows } = await env.admin.query('select count(*)::int as n from data_export_requests where user_id = $1', [
      user,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it('wakes the workers: a LISTEN on exporter_requests hears the new request at commit', async () => {
    const listener = new pg.Client({ connectionString: env.databaseUrl });
    await listener.connect();
    try {
      await listener.query('listen exporter_requests');
      const heard = new Promise<string>((resolve) => listener.once('notification', (n) => resolve(n.channel)));
      expect((await call(await insertUser(env.admin))).outcome).toBe('created');
      expect(await heard).toBe('exporter_requests');
    } finally {
      await listener.end();
    }
  });
});
