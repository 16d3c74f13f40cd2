import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, runCli, type TestEnv } from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';

let env: TestEnv;
let gateway: http.Server;
const pushes: { method: string; url: string; body: string }[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  // A real HTTP endpoint standing in for the Pushgateway: it records what it is sent.
  gateway = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      pushes.push({ method: req.method!, url: req.url!, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  gateway?.close();
  await env?.close();
});

describe('metrics', () => {
  it('each run pushes its figures to the Pushgateway with PUT, grouped by pass', async () => {
    const user = await insertUser(env.admin);
    await insertRequest(env.admin, user);
    const { port } = gateway.address() as { port: number };
    const result = await runCli(['nightly'], { ...env.cliEnv, PUSHGATEWAY_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(0);
    expect(pushes).toHaveLength(1);
    const push = pushes[0]!;
    expect(push.method).toBe('PUT');
    expect(push.url).toBe('/metrics/job/exporter/pass/nightly');
    expect(push.body).toMatch(/^exporter_requests\{outcome="ready"\} 1$/m);
    expect(push.body).toMatch(/^exporter_last_run_success 1$/m);
    expect(push.body).toMatch(/^exporter_last_success_timestamp_seconds \d+/m);
    expect(push.body).toMatch(/^exporter_bytes_written [1-9]\d*$/m);
    expect(push.body).toMatch(/^exporter_pass_seconds\{pass="expire"\} /m);
    expect(push.body).toMatch(/^exporter_objects_deleted\{reason="orphan"\} 0$/m);
    expect(push.body).toMatch(/^exporter_oldest_pending_seconds 0$/m);
  });

  it('a Pushgateway that is down never fails the run', async () => {
    const result = await runCli(['expire'], { ...env.cliEnv, PUSHGATEWAY_URL: 'http://127.0.0.1:1' });
    expect(result.code).toBe(0);
    expect(result.logs.some((l) => l.msg === 'could not push metrics to the Pushgateway')).toBe(true);
  });
});
