import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, duplicateKeys, runCli, type TestEnv } from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';
import { freePort, startServer, toolAvailable } from '../support/tools.ts';

/**
 * Against the real Prometheus Pushgateway (Debian's prometheus-pushgateway):
 * a recorder of requests accepted pushes the real one refuses (a grouping key
 * that overrides a series' own label made nightly's series collide).
 */
describe.runIf(toolAvailable('prometheus-pushgateway'))('metrics', () => {
  let env: TestEnv;
  let gateway: Awaited<ReturnType<typeof startServer>>;
  let url: string;

  beforeAll(async () => {
    env = await createTestEnv();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    gateway = await startServer(
      'prometheus-pushgateway',
      [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=error'],
      async () => (await fetch(`${url}/-/ready`)).ok,
    );
  });
  afterAll(async () => {
    await gateway?.stop();
    await env?.close();
  });

  /** The gateway's /metrics, parsed: every exporter_* series with its labels and value. */
  type Series = { name: string; labels: Record<string, string>; value: number };
  const scrape = async (): Promise<Series[]> =>
    (await (await fetch(`${url}/metrics`)).text())
      .split('\n')
      .filter((l) => l.startsWith('exporter_'))
      .map((l) => {
        const m = /^(\w+)\{(.*)\} (\S+)$/.exec(l)!;
        const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
        // Prometheus writes infinities as +Inf and -Inf.
        return {
          name: m[1]!,
          labels,
          value: m[3] === '+Inf' ? Number.POSITIVE_INFINITY : m[3] === '-Inf' ? Number.NEGATIVE_INFINITY : Number(m[3]),
        };
      });
  /** The value of the one series with exactly these labels (besides job and instance), or undefined. */
  const series = (all: Series[], name: string, labels: Record<string, string>) =>
    all.find(
      (s) =>
        s.name === name &&
        JSON.stringify(Object.entries({ instance: '', job: 'exporter', ...labels }).sort()) ===
          JSON.stringify(Object.entries(s.labels).sort()),
    )?.value;

  it('nightly, fulfill and expire each push their figures, which the Pushgateway accepts; the documented alert series exists', async () => {
    const user = await insertUser(env.admin);
    await insertRequest(env.admin, user);
    const nightly = await runCli(['nightly'], { ...env.cliEnv, PUSHGATEWAY_URL: url });
    expect(nightly.code).toBe(0);
    expect(nightly.logs.filter((l) => l.level === 'error')).toEqual([]);

    let all = await scrape();
    const nightlyGroup = { pass: 'nightly' };
    // What the README tells operators to alert on.
    expect(series(all, 'exporter_last_success_timestamp_seconds', nightlyGroup)! * 1000).toBeGreaterThan(
      Date.now() - 60_000,
    );
    expect(series(all, 'exporter_requests', { ...nightlyGroup, outcome: 'ready' })).toBe(1);
    expect(series(all, 'exporter_last_run_success', nightlyGroup)).toBe(1);
    expect(series(all, 'exporter_pass_seconds', { ...nightlyGroup, phase: 'fulfill' })).toBeGreaterThan(0);
    expect(series(all, 'exporter_pass_seconds', { ...nightlyGroup, phase: 'expire' })).toBeGreaterThanOrEqual(0);
    expect(series(all, 'exporter_objects_deleted', { ...nightlyGroup, reason: 'orphan' })).toBe(0);
    expect(series(all, 'exporter_oldest_pending_seconds', nightlyGroup)).toBe(0);
    expect(series(all, 'exporter_bytes_written', nightlyGroup)).toBeGreaterThan(0);

    // The batch commands on their own push to their own group.
    const fulfill = await runCli(['fulfill'], { ...env.cliEnv, PUSHGATEWAY_URL: url });
    const expire = await runCli(['expire'], { ...env.cliEnv, PUSHGATEWAY_URL: url });
    expect([fulfill.code, expire.code]).toEqual([0, 0]);

    // One key, one value, on every line (debug level, "metrics pushed" included):
    // `command` says what was run, `pass` which part of it.
    for (const run of [nightly, fulfill, expire]) {
      const lines = run.stderr.split('\n').filter((l) => l.startsWith('{'));
      expect(lines.some((l) => l.includes('"metrics pushed"'))).toBe(true);
      expect(lines.flatMap(duplicateKeys)).toEqual([]);
    }
    expect(nightly.logs.find((l) => l.msg === 'request ready')).toMatchObject({ command: 'nightly', pass: 'fulfill' });
    expect(nightly.logs.find((l) => l.msg === 'expire finished')).toMatchObject({ command: 'nightly', pass: 'expire' });
    expect(fulfill.logs.find((l) => l.msg === 'fulfill finished')).toMatchObject({
      command: 'fulfill',
      pass: 'fulfill',
    });
    all = await scrape();
    expect(series(all, 'exporter_last_success_timestamp_seconds', { pass: 'fulfill' })).toBeGreaterThan(0);
    expect(series(all, 'exporter_pass_seconds', { pass: 'expire', phase: 'expire' })).toBeGreaterThanOrEqual(0);
    // Each group holds only its own run's series.
    expect(series(all, 'exporter_requests', { pass: 'expire', outcome: 'ready' })).toBeUndefined();
    expect(series(all, 'exporter_requests_expired', { pass: 'fulfill' })).toBeUndefined();
  });

  it('the legal deadline and the definition are pushed with each run: requests overdue, seconds to the earliest due date (+Inf when none is open), the definition ok', async () => {
    // A request received 40 days ago that cannot be built tonight (its retry is not due): overdue.
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user, {
      requestedAt: new Date(Date.now() - 40 * 86_400_000).toISOString(),
    });
    await env.admin.query(`update data_export_requests set not_before = now() + interval '1 hour' where id = $1`, [id]);
    expect((await runCli(['nightly'], { ...env.cliEnv, PUSHGATEWAY_URL: url })).code).toBe(0);
    let all = await scrape();
    expect(series(all, 'exporter_requests_overdue', { pass: 'nightly' })).toBe(1);
    expect(series(all, 'exporter_earliest_due_seconds', { pass: 'nightly' })).toBeLessThan(-9 * 86_400);
    expect(series(all, 'exporter_definition_ok', { pass: 'nightly' })).toBe(1);

    await env.admin.query(`update data_export_requests set status = 'failed' where id = $1`, [id]);
    // A definition that no longer matches: nothing built, exporter_definition_ok 0 (the alert after a day of it).
    await env.admin.query(`alter table users add column nickname_unclassified text`);
    try {
      expect((await runCli(['nightly'], { ...env.cliEnv, PUSHGATEWAY_URL: url })).code).toBe(2);
    } finally {
      await env.admin.query(`alter table users drop column nickname_unclassified`);
    }
    all = await scrape();
    expect(series(all, 'exporter_definition_ok', { pass: 'nightly' })).toBe(0);
    expect(series(all, 'exporter_requests_overdue', { pass: 'nightly' })).toBe(0);
    expect(series(all, 'exporter_earliest_due_seconds', { pass: 'nightly' })).toBe(Number.POSITIVE_INFINITY);
  });

  it('a Pushgateway that is down never fails the run, and says so', async () => {
    const result = await runCli(['expire'], { ...env.cliEnv, PUSHGATEWAY_URL: 'http://127.0.0.1:1' });
    expect(result.code).toBe(0);
    expect(result.logs.some((l) => l.msg === 'could not push metrics to the Pushgateway' && l.level === 'error')).toBe(
      true,
    );
  });
});
