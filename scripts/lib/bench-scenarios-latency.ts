import { type BenchContext, log } from './bench-context.ts';
import { waitUntil } from './bench-processes.ts';
import type { Figures } from './bench-report.ts';
import { emptyRequests, readyCount, seedLightUsers } from './bench-requests.ts';

/**
 * Latency of `exporter work` from insert to ready: an idle worker, light
 * users, one request inserted every 100 ms. Measured by the database's own
 * clock (requested_at at insert, completed_at at the ready update).
 */
export async function latencyScenario(ctx: BenchContext): Promise<Figures> {
  const { db } = ctx;
  const count = ctx.settings.latency;
  log(`\n[latency] ${count} light requests inserted one every 100 ms for an idle exporter work…`);
  await emptyRequests(db);
  const users = await seedLightUsers(db, count);
  const worker = ctx.processes.startWork();
  await waitUntil(async () => worker.stderr().includes('listening for new requests'));
  for (const user of users) {
    await db.query(`insert into data_export_requests (user_id) values ($1)`, [user]);
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitUntil(async () => (await readyCount(db)) === count);
  await worker.stop();
  const { rows } = await db.query<{ ms: number }>(
    `select extract(epoch from completed_at - requested_at)::float8 * 1000 as ms from data_export_requests order by 1`,
  );
  const ms = rows.map((r) => r.ms);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  log(
    `[latency] insert to ready: median ${p(0.5).toFixed(0)} ms, p95 ${p(0.95).toFixed(0)} ms, max ${ms.at(-1)!.toFixed(0)} ms`,
  );
  return {
    scenario: `latency: ${count} requests, one per 100 ms, exporter work`,
    seconds: (ms.at(-1) ?? 0) / 1000,
    rows: count * 39,
    archiveBytes: 0,
    maxRssMb: 0,
    note: `insert to ready: median ${p(0.5).toFixed(0)} ms, p95 ${p(0.95).toFixed(0)} ms (goal: median under 1 s)`,
  };
}
