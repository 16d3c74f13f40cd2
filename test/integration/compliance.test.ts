import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SAMPLE_FILES_DEFINITION } from '../../scripts/lib/sample-data.ts';
import { LiveMetrics } from '../../src/live-metrics.ts';
import { createTestEnv, getObject, requestRow, runCli, type TestEnv } from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';
import { startSmtp } from '../support/smtp.ts';
import { readZip } from '../support/zip.ts';

/**
 * The record a regulator asks for (README): the legal deadline, the Art. 15
 * information in the archive, the audit trail, and the privacy officer's
 * report, against the real database and the real CLI.
 */
let env: TestEnv;
let dir: string;
beforeAll(async () => {
  env = await createTestEnv();
  dir = mkdtempSync(path.join(tmpdir(), 'exporter-compliance-'));
});
afterAll(async () => {
  await env.close();
  rmSync(dir, { recursive: true, force: true });
});

const dueOf = async (id: string) => ((await requestRow(env, id))!.due_at as Date).toISOString();

describe('the due date', () => {
  it('is one calendar month after receipt, in UTC, computed by the database: month ends and leap years', async () => {
    const cases: [string, string][] = [
      ['2026-01-31T10:00:00Z', '2026-02-28T10:00:00.000Z'],
      ['2028-01-31T23:59:59Z', '2028-02-29T23:59:59.000Z'],
      ['2026-03-31T00:00:00Z', '2026-04-30T00:00:00.000Z'],
      ['2026-12-15T08:30:00Z', '2027-01-15T08:30:00.000Z'],
      ['2026-02-28T12:00:00Z', '2026-03-28T12:00:00.000Z'],
      // 23:30 UTC is already the next day in Berlin: the day counted is UTC's.
      ['2026-05-31T23:30:00Z', '2026-06-30T23:30:00.000Z'],
    ];
    // A session in another time zone computes the same dates.
    await env.admin.query(
      `alter database ${new URL(env.databaseUrl).pathname.slice(1)} set timezone = 'Pacific/Auckland'`,
    );
    try {
      for (const [requestedAt, due] of cases) {
        // The database's own arithmetic, for every case; a request made then (never later than now) gets that date.
        const computed = (
          await env.admin.query<{ due: Date }>('select exporter_due_at($1::timestamptz) as due', [requestedAt])
        ).rows[0]!.due;
        expect(computed.toISOString(), requestedAt).toBe(due);
        if (Date.parse(requestedAt) > Date.now()) continue;
        const user = await insertUser(env.admin);
        const id = await insertRequest(env.admin, user, { requestedAt, status: 'failed' });
        expect(await dueOf(id), requestedAt).toBe(due);
      }
      // A request dated in the future is received now: an application cannot give itself a later due date.
      const future = await insertRequest(env.admin, await insertUser(env.admin), {
        requestedAt: '2031-01-01T00:00:00Z',
        status: 'failed',
      });
      const { rows } = await env.admin.query<{ requested_at: Date }>(
        'select requested_at from data_export_requests where id = $1',
        [future],
      );
      expect(Math.abs(rows[0]!.requested_at.getTime() - Date.now())).toBeLessThan(60_000);
    } finally {
      await env.admin.query(`alter database ${new URL(env.databaseUrl).pathname.slice(1)} reset timezone`);
    }
  });

  it('extend: by 1 then 1 more within the first month, never past 2 in all, never once the original has passed; the person is told the date and the reason', async () => {
    const smtp = await startSmtp();
    try {
      const mail = { ...env.cliEnv, SMTP_URL: smtp.url, MAIL_FROM: 'Exports <no-reply@example.test>' };
      const user = await insertUser(env.admin, { email: 'ext@example.test', name: 'Ext' });
      const id = await insertRequest(env.admin, user, {
        requestedAt: new Date(Date.now() - 5 * 86_400_000).toISOString(),
      });
      const original = await dueOf(id);

      const first = await runCli(
        ['extend', id, '--months', '1', '--reason', 'Your data spans three systems.', '--by', 'alice'],
        mail,
      );
      expect(first.code, first.stderr).toBe(0);
      const extended = await dueOf(id);
      const { rows } = await env.admin.query(
        `select exporter_due_at(requested_at, 2) as d from data_export_requests where id = $1`,
        [id],
      );
      expect(extended).toBe((rows[0].d as Date).toISOString());
      expect(extended > original).toBe(true);
      expect(smtp.received.filter((m) => m.to === 'ext@example.test')).toHaveLength(1);
      const notice = smtp.received.find((m) => m.to === 'ext@example.test')!;
      expect(notice.text).toContain(extended.slice(0, 10));
      expect(notice.text).toContain('Your data spans three systems.');

      const tooMuch = await runCli(['extend', id, '--months', '2', '--reason', 'more', '--by', 'alice'], env.cliEnv);
      expect(tooMuch.code).toBe(2);
      expect(tooMuch.stderr).toMatch(
        /^exporter: extend: .* not extended: it is extended by 1 month\(s\) already; 2 more would pass the 2 months the law allows\n$/,
      );
      const second = await runCli(['extend', id, '--months', '1', '--reason', 'still more', '--by', 'bob'], env.cliEnv);
      expect(second.code, second.stderr).toBe(0);
      const { rows: three } = await env.admin.query(
        `select exporter_due_at(requested_at, 3) as d from data_export_requests where id = $1`,
        [id],
      );
      expect(await dueOf(id)).toBe((three[0].d as Date).toISOString());
      expect((await runCli(['extend', id, '--months', '1', '--reason', 'x'], env.cliEnv)).code).toBe(2);

      // The original due date has passed: too late to extend.
      const late = await insertRequest(env.admin, await insertUser(env.admin), {
        requestedAt: new Date(Date.now() - 40 * 86_400_000).toISOString(),
      });
      const refused = await runCli(['extend', late, '--months', '1', '--reason', 'x'], env.cliEnv);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/its original due date \(.*\) has passed/);
      expect((await runCli(['extend', late, '--months', '3', '--reason', 'x'], env.cliEnv)).stderr).toMatch(
        /--months must be 1 or 2/,
      );

      const history = JSON.parse((await runCli(['history', id, '--json'], env.cliEnv)).stdout) as {
        event: string;
        actor: string;
        detail: Record<string, unknown>;
      }[];
      expect(
        history.filter((e) => e.event === 'extended').map((e) => [e.actor, e.detail.months, e.detail.reason]),
      ).toEqual([
        ['alice', 1, 'Your data spans three systems.'],
        ['bob', 1, 'still more'],
      ]);
      expect(history.some((e) => e.event === 'email_sent' && e.detail.kind === 'extension')).toBe(true);
    } finally {
      await smtp.close();
    }
  });

  it('overdue: counted by status, served at /metrics, pushed with each run', async () => {
    await env.admin.query(
      `update data_export_requests set status = 'failed' where status in ('pending', 'processing')`,
    );
    const user = await insertUser(env.admin);
    const overdue = await insertRequest(env.admin, user, {
      requestedAt: new Date(Date.now() - 45 * 86_400_000).toISOString(),
    });
    const soon = await insertRequest(env.admin, await insertUser(env.admin), {
      requestedAt: new Date(Date.now() - 27 * 86_400_000).toISOString(),
    });
    // An erasure on the same clock: asked 45 days ago, still open.
    const erasureOf = await insertUser(env.admin);
    const late = (
      await env.admin.query(
        `insert into data_export_erasures (user_id, reason, requested_by, requested_at) values ($1, 'asked', 'test', now() - interval '45 days') returning id`,
        [erasureOf],
      )
    ).rows[0].id as string;
    const status = JSON.parse((await runCli(['status', '--json'], env.cliEnv)).stdout);
    expect(status.overdue).toBe(1);
    expect(status.erasures).toMatchObject({ overdue: 1, counts: { pending: 1 }, unresolved: [] });
    expect(status.earliestDueSeconds).toBeLessThan(-13 * 86_400);
    expect(status.dueSoon.map((d: { id: string; overdue: boolean }) => [d.id, d.overdue])).toEqual([
      [overdue, true],
      [soon, false],
    ]);
    const text = await runCli(['status'], env.cliEnv);
    expect(text.stdout).toMatch(/^overdue {5}1 {3}\(1 more due within 7 days/m);
    expect(text.stdout).toContain(`overdue: ${overdue}`);
    expect(text.stdout).toMatch(/^erasures {4}1 pending, 0 processing, 0 done, 0 failed, 0 cancelled; 1 overdue$/m);

    const live = new LiveMetrics(env.handle.db, () => true);
    const scraped = await live.registry.metrics();
    expect(scraped).toMatch(/^exporter_requests_overdue 1$/m);
    expect(Number(/^exporter_earliest_due_seconds (-?\d+)$/m.exec(scraped)![1])).toBeLessThan(-13 * 86_400);
    expect(scraped).toMatch(/^exporter_erasures_overdue 1$/m);
    expect(scraped).toMatch(/^exporter_erasures_failed 0$/m);
    await env.admin.query(`update data_export_requests set status = 'failed' where id in ($1, $2)`, [overdue, soon]);
    await env.admin.query(`update data_export_erasures set status = 'cancelled' where id = $1`, [late]);
    const none = await new LiveMetrics(env.handle.db, () => true).registry.metrics();
    expect(none).toMatch(/^exporter_requests_overdue 0$/m);
    expect(none).toMatch(/^exporter_earliest_due_seconds \+Inf$/m);
    expect(none).toMatch(/^exporter_erasures_overdue 0$/m);
  });
});

describe('Article 15 information', () => {
  const sample = readFileSync(SAMPLE_FILES_DEFINITION, 'utf8');
  const ART15 = [
    'compliance: gdpr',
    'purposes: "To run your account and your projects."',
    'legal_basis: "Contract (Art. 6(1)(b))."',
    'recipients: ["Hosting: Example Cloud GmbH (Frankfurt)", "Email delivery: Mailer Inc."]',
    'retention: "While your account exists, and 30 days after."',
    'source: "From you, and generated by the service as you use it."',
    'automated_decisions: "None."',
    'transfers: "Mailer Inc. in the USA, under the EU Standard Contractual Clauses."',
  ].join('\n');
  const write = (name: string, text: string) => {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, text);
    return file;
  };

  it('compliance: gdpr without a field fails check (exit 2), one line per entity and field', async () => {
    const lacking = write(
      'lacking',
      sample.replace(
        'user_name: name\n',
        `user_name: name\n${ART15.replace(/^retention: .*\n/m, '').replace(/^transfers: .*\n?/m, '')}\n`,
      ),
    );
    const check = await runCli(['check'], { ...env.cliEnv, EXPORT_DEFINITION: lacking });
    expect(check.code, check.stderr).toBe(2);
    const lines = check.stderr.split('\n').filter((l) => l.includes('compliance: gdpr'));
    expect(lines).toHaveLength(2 * 7); // 7 entities, each without retention and transfers
    expect(check.stderr).toMatch(/^exporter: invalid definition \(14 problems\):\n {2}\//);
    expect(lines[0]).toMatch(
      /^ {2}.*lacking\.yaml:\d+: entities\.users: no retention \(compliance: gdpr, Art\. 15\(1\)\(d\)\); give it here or at the top of the file/,
    );
    // Given per entity where the top lacks it: that entity passes.
    const fixed = write('fixed', sample.replace('user_name: name\n', `user_name: name\n${ART15}\n`));
    expect((await runCli(['check'], { ...env.cliEnv, EXPORT_DEFINITION: fixed })).code).toBe(0);
  });

  it("the archive carries every field: README.txt's section, manifest.json's processing, an entity's own over the file's", async () => {
    const file = write(
      'art15',
      sample
        .replace('user_name: name\n', `user_name: name\n${ART15}\n`)
        .replace(
          '    description: Your profile picture.\n',
          '    description: Your profile picture.\n    recipients: ["Nobody: it is shown only to you."]\n',
        ),
    );
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    const built = await runCli(['fulfill', '--request', id], { ...env.cliEnv, EXPORT_DEFINITION: file });
    expect(built.code, built.stderr).toBe(0);
    const files = await readZip(await getObject(env, (await requestRow(env, id))!.object_key));
    const readme = files.get('README.txt')!.toString();
    const section = readme
      .split('HOW THIS DATA IS USED\n---------------------\n')[1]!
      .split('\n\nYOUR FILES')[0]!
      .split('\n\nCHECKING')[0]!;
    expect(section).toContain(
      'users:\n  Why we use it: To run your account and your projects.\n  Legal basis: Contract (Art. 6(1)(b)).\n  Who receives it: Hosting: Example Cloud GmbH (Frankfurt); Email delivery: Mailer Inc.\n  How long we keep it: While your account exists, and 30 days after.\n  Where it comes from: From you, and generated by the service as you use it.\n  Automated decisions: None.\n  Transfers outside the EEA: Mailer Inc. in the USA, under the EU Standard Contractual Clauses.',
    );
    expect(section).toContain(
      'avatars:\n  Why we use it: To run your account and your projects.\n  Legal basis: Contract (Art. 6(1)(b)).\n  Who receives it: Nobody: it is shown only to you.',
    );
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    expect(Object.keys(manifest.processing)).toEqual(Object.keys(manifest.entities));
    expect(manifest.processing.users).toEqual({
      purposes: 'To run your account and your projects.',
      legal_basis: 'Contract (Art. 6(1)(b)).',
      recipients: ['Hosting: Example Cloud GmbH (Frankfurt)', 'Email delivery: Mailer Inc.'],
      retention: 'While your account exists, and 30 days after.',
      source: 'From you, and generated by the service as you use it.',
      automated_decisions: 'None.',
      transfers: 'Mailer Inc. in the USA, under the EU Standard Contractual Clauses.',
    });
    expect(manifest.processing.avatars.recipients).toEqual(['Nobody: it is shown only to you.']);
    // The viewer has it too, in its words.
    expect(files.get('viewer/entities.js')!.toString()).toContain(
      '{"field":"transfers","value":"Mailer Inc. in the USA, under the EU Standard Contractual Clauses."}',
    );
  });
});

describe('the audit trail', () => {
  it('records every step and every operator command with its actor and reason, outlives the row, holds no link or secret, and cannot be changed', async () => {
    const user = await insertUser(env.admin);
    const made = await runCli(['request', user, '--by', 'support-desk'], env.cliEnv);
    expect(made.code, made.stderr).toBe(0);
    const id = made.stdout.trim();
    expect((await runCli(['fulfill', '--request', id], env.cliEnv)).code).toBe(0);
    const row = (await requestRow(env, id))!;
    const { createHash } = await import('node:crypto');
    const archiveSha256 = createHash('sha256')
      .update(await getObject(env, row.object_key))
      .digest('hex');
    const link = await runCli(['link', id, '--by', 'alice', '--ttl', '600'], env.cliEnv);
    expect(link.code, link.stderr).toBe(0);
    expect(link.stdout).toContain('X-Amz-Signature=');
    expect((await runCli(['revoke', id, '--by', 'bob', '--reason', 'the user asked by phone'], env.cliEnv)).code).toBe(
      0,
    );
    expect((await runCli(['requeue', id, '--by', 'carol', '--reason', 'asked again'], env.cliEnv)).code).toBe(0);
    expect((await runCli(['fulfill', '--request', id], env.cliEnv)).code).toBe(0);
    // The link expires: expire retires it, and --prune-after deletes the row.
    await env.admin.query(`update data_export_requests set expires_at = now() - interval '1 second' where id = $1`, [
      id,
    ]);
    expect((await runCli(['expire'], env.cliEnv)).code).toBe(0);
    await env.admin.query(`update data_export_requests set completed_at = now() - interval '100 days' where id = $1`, [
      id,
    ]);
    expect((await runCli(['expire', '--prune-after', '90d'], env.cliEnv)).code).toBe(0);
    expect(await requestRow(env, id)).toBeUndefined();

    const history = await runCli(['history', id, '--json'], env.cliEnv);
    expect(history.code, history.stderr).toBe(0);
    const events = JSON.parse(history.stdout) as {
      event: string;
      actor: string;
      detail: Record<string, unknown>;
      userId: string;
    }[];
    expect(events.map((e) => `${e.event} by ${e.actor}`)).toEqual([
      'requested by support-desk',
      'claimed by exporter',
      'built by exporter',
      'link_signed by exporter',
      'link_signed by alice',
      'revoked by bob',
      'requeued by carol',
      'claimed by exporter',
      'built by exporter',
      'link_signed by exporter',
      // The test's own back-dating of the link, as anyone's change of a ready request: traced, with the database role that made it.
      'changed by unknown',
      'expired by exporter',
      'deleted by exporter',
    ]);
    expect(events[10]!.detail).toMatchObject({ expires_at: { from: expect.any(String), to: expect.any(String) } });
    expect((events[10] as unknown as { dbRole: string }).dbRole).toBe(new URL(env.databaseUrl).username);
    expect(events[0]!.detail).toMatchObject({ via: 'exporter request' });
    expect(events[2]!.detail).toMatchObject({
      rows: expect.any(Number),
      bytes: Number(row.archive_bytes),
      sha256: row.archive_sha256,
    });
    expect(String(row.archive_sha256)).toMatch(/^[0-9a-f]{64}$/);
    // The SHA-256 is the archive's, as stored.
    expect(archiveSha256).toBe(row.archive_sha256);
    expect(events[4]!.detail).toMatchObject({ operator: true, seconds: expect.any(Number) });
    expect(events[5]!.detail).toEqual({ reason: 'the user asked by phone' });
    expect(events[6]!.detail).toMatchObject({ reason: 'asked again', from: 'failed' });
    const text = await runCli(['history', id], env.cliEnv);
    expect(text.stdout).toMatch(/ revoked {5} by bob {2}reason=the user asked by phone\n/);

    // Nothing stored is a link, a signature or a secret.
    const { rows: all } = await env.admin.query(`select e::text as line from data_export_events e`);
    const stored = all.map((r) => r.line as string).join('\n');
    expect(stored).not.toMatch(/X-Amz-Signature|X-Amz-Credential|https?:\/\//i);
    expect(stored).not.toContain(env.cliEnv.AWS_SECRET_ACCESS_KEY!);
    expect(stored).not.toContain('SECRET-HASH-MUST-NOT-LEAK');

    // Append-only: no update, no delete but the retention's.
    await expect(
      env.admin.query(`update data_export_events set actor = 'mallory' where request_id = $1`, [id]),
    ).rejects.toThrow(/append-only \(update refused\)/);
    await expect(env.admin.query(`delete from data_export_events where request_id = $1`, [id])).rejects.toThrow(
      /append-only \(delete refused\)/,
    );
    // The retention: events older than EXPORT_AUDIT_RETENTION go with the next expire, the rest stay.
    await env.admin.query(`alter table data_export_events disable trigger data_export_events_append_only`);
    await env.admin.query(
      `update data_export_events set at = at - interval '4 years' where request_id = $1 and event = 'requested'`,
      [id],
    );
    await env.admin.query(`alter table data_export_events enable trigger data_export_events_append_only`);
    expect((await runCli(['expire'], env.cliEnv)).code).toBe(0);
    const left = JSON.parse((await runCli(['history', id, '--json'], env.cliEnv)).stdout) as { event: string }[];
    expect(left.map((e) => e.event)).toEqual(events.slice(1).map((e) => e.event));
  });
});

describe('the audit trail: how a request was made', () => {
  it('says through what: the intake function, `exporter request`, or a plain insert by the application', async () => {
    const viaOf = async (id: string) =>
      JSON.parse((await runCli(['history', id, '--json'], env.cliEnv)).stdout)[0] as {
        event: string;
        actor: string;
        detail: { via: string };
      };
    const { rows } = await env.admin.query(`select request_id from exporter_request_export($1::text)`, [
      await insertUser(env.admin),
    ]);
    expect(await viaOf(rows[0].request_id)).toMatchObject({
      event: 'requested',
      actor: 'application',
      detail: { via: 'exporter_request_export()' },
    });
    const plain = await insertRequest(env.admin, await insertUser(env.admin));
    expect(await viaOf(plain)).toMatchObject({ event: 'requested', actor: 'application', detail: { via: 'insert' } });
  });
});

describe("the privacy officer's report", () => {
  it('gives, for a fixed set of events, the figures counted by hand, the same on every run', async () => {
    // A period of its own, far from every other test's requests: November 2030.
    // Events at fixed times: written past the trail's guards, as only a superuser can (triggers off; `audit verify` would name them).
    const fixture = await env.admin.connect();
    onTestFinished(() => fixture.release(true));
    await fixture.query('set session_replication_role = replica');
    let n = 0;
    const ev = async (
      request: string,
      at: string,
      event: string,
      detail: Record<string, unknown> = {},
      actor = 'exporter',
    ) =>
      fixture.query(
        `insert into data_export_events (request_id, user_id, at, event, actor, detail, seq, prev_sha256, sha256, db_role) values ($1, 'u', $2, $3, $4, $5, $6, 'fixture', 'fixture', 'fixture')`,
        [request, at, event, actor, JSON.stringify(detail), 1_000_000_000_000 + ++n],
      );
    const r = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const requested = (n: number, at: string, due: string) =>
      ev(r(n), at, 'requested', { via: 'insert', requested_at: at, due_at: due });
    // 1: answered in 2 days, on time.
    await requested(1, '2030-11-01T00:00:00Z', '2030-12-01T00:00:00Z');
    await ev(r(1), '2030-11-03T00:00:00Z', 'built', { rows: 10 });
    // 2: answered after its due date: late.
    await requested(2, '2030-11-02T00:00:00Z', '2030-12-02T00:00:00Z');
    await ev(r(2), '2030-12-05T00:00:00Z', 'built');
    // 3: extended, then answered after the original due date but before the new one: on time.
    await requested(3, '2030-11-03T00:00:00Z', '2030-12-03T00:00:00Z');
    await ev(r(3), '2030-11-20T00:00:00Z', 'extended', { due_at: '2031-01-03T00:00:00Z', months: 1 }, 'alice');
    await ev(r(3), '2030-12-20T00:00:00Z', 'built');
    // 4: revoked before it was built; 5: failed for good; 6: failed, then requeued and still open (overdue by the as-of).
    await requested(4, '2030-11-04T00:00:00Z', '2030-12-04T00:00:00Z');
    await ev(r(4), '2030-11-04T01:00:00Z', 'revoked', { reason: 'asked by phone' }, 'bob');
    await requested(5, '2030-11-05T00:00:00Z', '2030-12-05T00:00:00Z');
    await ev(r(5), '2030-11-06T00:00:00Z', 'failed', {
      reason: 'the archive would be larger than EXPORT_MAX_ARCHIVE_BYTES',
    });
    await requested(6, '2030-11-06T00:00:00Z', '2030-12-06T00:00:00Z');
    await ev(r(6), '2030-11-07T00:00:00Z', 'failed', { reason: 'storage unreachable' });
    await ev(r(6), '2030-11-08T00:00:00Z', 'requeued', {}, 'carol');
    // 7: open and not yet due at the as-of.
    await requested(7, '2030-11-29T00:00:00Z', '2030-12-29T00:00:00Z');
    // 8: received just before the period, 9: at its end (exclusive): neither counts.
    await requested(8, '2030-10-31T23:59:59Z', '2030-11-30T23:59:59Z');
    await requested(9, '2030-12-01T00:00:00Z', '2031-01-01T00:00:00Z');
    // 1 again: a link signed by an operator; 2: a built after the as-of is not seen.
    await ev(r(1), '2030-11-10T00:00:00Z', 'link_signed', { operator: true, seconds: 900 }, 'alice');
    // Erasures, on the same clock: 21 done on time, 22 done late, 23 failed for good, 24 cancelled, 25 open and overdue
    // at the period's end, 26 open and not yet due, 27 done only after the as-of (open then), 28 received after the period.
    const erasure = async (n: number, at: string, due: string, end?: [string, string]) => {
      await ev(r(n), at, 'erasure_requested', { reason: 'asked', requested_at: at, due_at: due });
      if (end) await ev(r(n), end[1], end[0], {});
    };
    await erasure(21, '2030-11-10T00:00:00Z', '2030-12-10T00:00:00Z', ['erased', '2030-11-20T00:00:00Z']);
    await erasure(22, '2030-11-01T00:00:00Z', '2030-11-20T00:00:00Z', ['erased', '2030-11-25T00:00:00Z']);
    // 29: extended before its due date, then done after the original and before the new one: on time.
    await erasure(29, '2030-11-03T00:00:00Z', '2030-11-25T00:00:00Z');
    await ev(r(29), '2030-11-10T00:00:00Z', 'extended', { due_at: '2030-12-25T00:00:00Z', months: 1 }, 'alice');
    await ev(r(29), '2030-11-28T00:00:00Z', 'erased', {});
    await erasure(23, '2030-11-11T00:00:00Z', '2030-12-11T00:00:00Z', ['erasure_failed', '2030-11-12T00:00:00Z']);
    await erasure(24, '2030-11-12T00:00:00Z', '2030-12-12T00:00:00Z', ['erasure_cancelled', '2030-11-13T00:00:00Z']);
    await erasure(25, '2030-11-02T00:00:00Z', '2030-11-30T00:00:00Z');
    await erasure(26, '2030-11-20T00:00:00Z', '2030-12-20T00:00:00Z');
    await erasure(27, '2030-11-21T00:00:00Z', '2030-12-21T00:00:00Z', ['erased', '2030-12-02T00:00:00Z']);
    await erasure(28, '2030-12-01T00:00:00Z', '2031-01-01T00:00:00Z');

    const run = async () => {
      const result = await runCli(
        ['report', '--from', '2030-11-01', '--to', '2030-12-01', '--as-of', '2030-12-10T00:00:00Z', '--json'],
        env.cliEnv,
      );
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout);
    };
    const report = await run();
    expect(report).toEqual({
      from: '2030-11-01T00:00:00.000Z',
      to: '2030-12-01T00:00:00.000Z',
      // Judged at the earlier of the period's end and the as-of.
      asOf: '2030-12-01T00:00:00.000Z',
      received: 7,
      answered: 1,
      answeredOnTime: 1,
      answeredLate: 0,
      stillOpen: 4,
      overdue: 0,
      givenUp: 2,
      givenUpReasons: { revoked: 1, 'the archive would be larger than EXPORT_MAX_ARCHIVE_BYTES': 1 },
      medianSecondsToReady: 172_800,
      p95SecondsToReady: 172_800,
      linksSignedByOperators: 1,
      revoked: 1,
      extended: 1,
      erasures: {
        received: 8,
        done: 3,
        doneOnTime: 2,
        doneLate: 1,
        stillOpen: 3,
        overdue: 1,
        failed: 1,
        cancelled: 1,
      },
    });
    expect(await run()).toEqual(report);

    // Judged earlier: the same, as of the 30th.
    const later = JSON.parse(
      (
        await runCli(
          ['report', '--from', '2030-11-01', '--to', '2030-12-01', '--as-of', '2030-11-30T00:00:00Z', '--json'],
          env.cliEnv,
        )
      ).stdout,
    );
    expect(later).toMatchObject({
      asOf: '2030-11-30T00:00:00.000Z',
      received: 7,
      answered: 1,
      stillOpen: 4,
      overdue: 0,
    });
    // A longer period, judged on 10 January: 2 was late, 3 on time thanks to its extension, 6, 7 and 9 are overdue.
    const spanning = JSON.parse(
      (
        await runCli(
          ['report', '--from', '2030-11-01', '--to', '2031-02-01', '--as-of', '2031-01-10T00:00:00Z', '--json'],
          env.cliEnv,
        )
      ).stdout,
    );
    expect(spanning).toMatchObject({
      received: 8,
      answered: 3,
      answeredOnTime: 2,
      answeredLate: 1,
      stillOpen: 3,
      overdue: 3,
      givenUp: 2,
      // 2, 33 and 47 days.
      medianSecondsToReady: 33 * 86_400,
      // 27 done by then, on time (and 29, thanks to its extension); 25, 26 and 28 open and past their due dates.
      erasures: { received: 9, done: 4, doneOnTime: 3, doneLate: 1, stillOpen: 3, overdue: 3, failed: 1, cancelled: 1 },
    });
    const csv = await runCli(
      ['report', '--from', '2030-11-01', '--to', '2030-12-01', '--as-of', '2030-12-10T00:00:00Z', '--csv'],
      env.cliEnv,
    );
    expect(csv.stdout).toContain('figure,value\r\n');
    expect(csv.stdout).toContain('answeredOnTime,1\r\n');
    expect(csv.stdout).toContain('"given up: revoked",1\r\n');
    expect(csv.stdout).toContain('erasures.doneLate,1\r\n');
  });
});
