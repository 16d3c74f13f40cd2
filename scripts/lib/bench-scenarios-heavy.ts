import { type BenchContext, log } from './bench-context.ts';
import { type Figures, median } from './bench-report.ts';
import { emptyRequests, insertRequest } from './bench-requests.ts';
import { copyFloor } from './floor.ts';
import { seedUser } from './sample-data.ts';

const NAIVE = new URL('./naive-export.ts', import.meta.url).pathname;

/**
 * One heavy user, `runs` pipeline runs: `exporter fulfill --request` against
 * the floor measured just before each run, then (for `heavy` only) the naive
 * in-memory export of the same user.
 */
export async function heavyScenario(ctx: BenchContext, name: string, runs: number): Promise<Figures[]> {
  const { db } = ctx;
  log(`\n[${name}] seeding one user with ${runs} pipeline runs, 5000 features, 20000 releases, 50 projects…`);
  await emptyRequests(db);
  const userId = await seedUser(db, { projects: 50, features: 5_000, runs, releases: 20_000 });
  await db.query('vacuum analyze');
  const rows = runs + 5_000 + 20_000 + 50 + 1;
  const exporter = await exporterRuns(ctx, name, userId, rows);
  const naive = await naiveRuns(ctx, name, userId, rows, exporter.floorSeconds!);
  return naive ? [exporter, naive] : [exporter];
}

async function exporterRuns(ctx: BenchContext, name: string, userId: string, rows: number): Promise<Figures> {
  const floors: number[] = [];
  const walls: number[] = [];
  const rss: number[] = [];
  const osRss: number[] = [];
  let archiveBytes = 0;
  const requestId = await insertRequest(ctx.db, userId);
  for (let i = 0; i < ctx.settings.repeat; i++) {
    // psql COPY of the same rows, CSV and row_to_json, to /dev/null: what the database alone costs.
    floors.push(await copyFloor(ctx.databaseUrl, userId));
    const run = await ctx.processes.exporter(['fulfill', '--request', requestId]);
    const ready = run.logs.find((l) => l.msg === 'request ready');
    if (!ready) throw new Error(`[${name}] the export did not end ready:\n${run.stderr.slice(-2000)}`);
    walls.push(run.seconds);
    rss.push(Number(run.logs.find((l) => l.msg === 'fulfill finished')?.maxRssMb));
    if (run.osPeakRssMb !== undefined) osRss.push(run.osPeakRssMb);
    archiveBytes = Number(ready.bytes);
    log(
      `[${name}] run ${i + 1}: exporter ${run.seconds.toFixed(2)} s (floor ${floors.at(-1)!.toFixed(2)} s), peak RSS ${osRss.at(-1) ?? '?'} MB as the OS saw it, ${rss.at(-1)} MB by its own count`,
    );
  }
  return {
    scenario: `${name}: exporter fulfill`,
    seconds: median(walls),
    rows,
    archiveBytes,
    // As the operating system saw the process (/usr/bin/time), where it could; else the process's own figure.
    maxRssMb: osRss.length > 0 ? Math.max(...osRss) : Math.max(...rss),
    note: `peak RSS by the process's own count ${Math.max(...rss)} MB${osRss.length > 0 ? "; the column is the OS's (/usr/bin/time)" : ''}`,
    floorSeconds: median(floors),
    ratios: walls.map((wall, i) => wall / floors[i]!),
  };
}

/** The naive export (scripts/lib/naive-export.ts) of the heavy user only; undefined for any other. */
async function naiveRuns(
  ctx: BenchContext,
  name: string,
  userId: string,
  rows: number,
  floorSeconds: number,
): Promise<Figures | undefined> {
  const naive: number[] = [];
  const naiveRss: number[] = [];
  let naiveBytes = 0;
  for (let i = 0; i < (name === 'heavy' ? ctx.settings.repeat : 0); i++) {
    const run = await ctx.processes.child([NAIVE, userId]);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    naive.push(run.seconds);
    naiveRss.push(out.maxRssMb);
    naiveBytes = out.bytes;
    log(`[${name}] naive run ${i + 1}: ${run.seconds.toFixed(2)} s, peak RSS ${out.maxRssMb} MB`);
  }
  if (!naive.length) return undefined;
  return {
    scenario: `${name}: naive (in memory)`,
    seconds: median(naive),
    rows,
    archiveBytes: naiveBytes,
    maxRssMb: Math.max(...naiveRss),
    floorSeconds,
  };
}
