import { type BenchContext, log } from './bench-context.ts';
import { waitUntil } from './bench-processes.ts';
import { averageMs, type Figures, median } from './bench-report.ts';
import { emptyRequests, readyCount, requeueAll, seedLightUsers } from './bench-requests.ts';
import { lightFloor } from './light-floor.ts';

/**
 * Throughput and scale-out: the same light requests built by one
 * `exporter fulfill`, by two side by side, and by `exporter work`, each
 * repetition requeueing them all before each of the three.
 */
export async function lightScenarios(ctx: BenchContext): Promise<Figures[]> {
  const { db, settings } = ctx;
  log(`\n[light] seeding ${settings.light} light users (a few dozen rows each)…`);
  await emptyRequests(db);
  const users = await seedLightUsers(db, settings.light);
  await db.query(`insert into data_export_requests (user_id) select unnest($1::uuid[])`, [users]);

  const one: number[] = [];
  const two: number[] = [];
  const work: number[] = [];
  const ratios: number[] = [];
  const rss: number[] = [];
  let breakdown: Record<string, number> = {};
  for (let i = 0; i < settings.repeat; i++) {
    const single = await oneProcess(ctx);
    one.push(single.seconds);
    breakdown = single.breakdown;
    if (single.osPeakRssMb !== undefined) rss.push(single.osPeakRssMb);
    // The floor beside it: the same reads and as many bytes stored, per request, at the same concurrency.
    const floor = await lightFloor(ctx.databaseUrl, ctx.s3, ctx.bucket, users, single.archiveBytes, ctx.concurrency);
    ratios.push(single.seconds / floor);
    log(
      `[light] floor: ${floor.toFixed(2)} s, ${(settings.light / floor).toFixed(1)} requests/s; the exporter ${(floor / single.seconds).toFixed(2)} of it`,
    );
    two.push(await twoProcesses(ctx));
    work.push(await continuousWork(ctx));
  }
  return lightFigures(settings.light, { one, two, work }, breakdown, { ratios, rss });
}

/** One `exporter fulfill` for every request: its wall seconds and the mean ms per step of a request. */
async function oneProcess(ctx: BenchContext) {
  const light = ctx.settings.light;
  await requeueAll(ctx.db);
  const run = await ctx.processes.exporter(['fulfill']);
  const ready = run.logs.filter((l) => l.msg === 'request ready');
  if (ready.length !== light) throw new Error(`[light] ${ready.length} of ${light} ready`);
  const breakdown = averageMs(ready.map((l) => l.ms as Record<string, number>));
  const archiveBytes = Math.round(ready.reduce((sum, l) => sum + Number(l.bytes), 0) / ready.length);
  log(
    `[light] 1 process: ${run.seconds.toFixed(2)} s, ${(light / run.seconds).toFixed(1)} requests/s, peak RSS ${run.osPeakRssMb ?? '?'} MB as the OS saw it; ms per request ${JSON.stringify(breakdown)}`,
  );
  return { seconds: run.seconds, breakdown, archiveBytes, osPeakRssMb: run.osPeakRssMb };
}

/** Two `exporter fulfill` at once: wall seconds, once every request was built exactly once between them. */
async function twoProcesses(ctx: BenchContext): Promise<number> {
  const light = ctx.settings.light;
  await requeueAll(ctx.db);
  const started = performance.now();
  const runs = await Promise.all([ctx.processes.exporter(['fulfill']), ctx.processes.exporter(['fulfill'])]);
  const seconds = (performance.now() - started) / 1000;
  const built = runs.reduce((n, r) => n + r.logs.filter((l) => l.msg === 'request ready').length, 0);
  const { rows: once } = await ctx.db.query(
    `select count(*)::int as n from data_export_requests where status = 'ready' and attempts = 1`,
  );
  if (built !== light || once[0].n !== light)
    throw new Error(`[scale-out] built ${built}, ready once ${once[0].n}, of ${light}`);
  log(
    `[light] 2 processes: ${seconds.toFixed(2)} s (${runs.map((r) => r.logs.filter((l) => l.msg === 'request ready').length).join(' + ')} requests), every request built exactly once`,
  );
  return seconds;
}

/** The same requests through `exporter work` (continuous mode), from start to the last one ready. */
async function continuousWork(ctx: BenchContext): Promise<number> {
  const light = ctx.settings.light;
  await requeueAll(ctx.db);
  const workStarted = performance.now();
  const worker = ctx.processes.startWork();
  await waitUntil(async () => (await readyCount(ctx.db)) === light);
  const workSeconds = (performance.now() - workStarted) / 1000;
  await worker.stop();
  log(`[light] work: ${workSeconds.toFixed(2)} s, ${(light / workSeconds).toFixed(1)} requests/s`);
  return workSeconds;
}

function lightFigures(
  light: number,
  seconds: { one: number[]; two: number[]; work: number[] },
  breakdown: Record<string, number>,
  beside: { ratios: number[]; rss: number[] },
): Figures[] {
  const rows = light * 39;
  const one = median(seconds.one);
  const two = median(seconds.two);
  const work = median(seconds.work);
  return [
    {
      scenario: `light: ${light} requests, 1 process`,
      seconds: one,
      rows,
      archiveBytes: 0,
      maxRssMb: beside.rss.length > 0 ? Math.max(...beside.rss) : 0,
      ratios: beside.ratios,
      note: `${(light / one).toFixed(1)} requests/s; ms per request: ${Object.entries(breakdown)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    },
    {
      scenario: `light: ${light} requests, 2 processes`,
      seconds: two,
      rows,
      archiveBytes: 0,
      maxRssMb: 0,
      note: `${((100 * two) / one).toFixed(0)}% of one process's time`,
    },
    {
      scenario: `light: ${light} requests, exporter work`,
      seconds: work,
      rows,
      archiveBytes: 0,
      maxRssMb: 0,
      note: `${(light / work).toFixed(1)} requests/s, ${((100 * work) / one).toFixed(0)}% of fulfill's time`,
    },
  ];
}
