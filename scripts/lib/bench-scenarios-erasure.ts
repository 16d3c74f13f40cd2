import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { type Application, startApplication, type WriteSample } from './bench-application.ts';
import { log } from './bench-context.ts';
import { othersCounts, type Person, personLeft, seedPerson, targetsFor, writtenLeft } from './bench-erasure-world.ts';
import type { S3Info } from './embedded.ts';
import { runNode } from './run-node.ts';

/** How one erasure run goes: the exporter, the database, what the application does beside it. */
export interface ErasureBench {
  db: pg.Client;
  databaseUrl: string;
  s3: S3Info;
  bin: string;
  env: NodeJS.ProcessEnv;
  neighbour: string;
  /** The person's pipeline runs (their rows are this plus 25,000-odd). */
  runs: number;
  connections: number;
  /** Writes per second, all connections together. */
  rate: number;
  /** Seconds of writes before the erasure starts: the latencies without it. */
  baselineSeconds: number;
}

export interface LatencyFigures {
  count: number;
  p50: number;
  p99: number;
  max: number;
  over1s: number;
}

/** One run's figures. */
export interface ErasureFigures {
  /** `exporter nightly`'s wall time, from its start to its exit. */
  wallSeconds: number;
  /** The erasure's own time: its row's started_at to completed_at. */
  erasureSeconds: number;
  /** The person's rows the receipt counts as deleted or changed. */
  rows: number;
  peakRssMb: number;
  during: LatencyFigures;
  baseline: LatencyFigures;
  /** Rows the application wrote (inserted and updated), each found afterwards. */
  written: number;
  errors: number;
}

export function latencies(samples: WriteSample[]): LatencyFigures {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  return {
    count: ms.length,
    p50: at(0.5),
    p99: at(0.99),
    max: ms.at(-1) ?? 0,
    over1s: ms.filter((m) => m > 1000).length,
  };
}

/**
 * One erasure of a fresh person of `runs` rows: seeded, the database vacuumed
 * and analyzed, the application started writing; after the baseline,
 * `exporter erase <person> --reason bench` and `exporter nightly` (which
 * carries it out) as child processes, the nightly's peak RSS polled; then
 * the application stopped and everything counted.
 */
export async function erasureRun(b: ErasureBench, label: string): Promise<ErasureFigures> {
  const { db } = b;
  let started = performance.now();
  const person = await seedPerson(db, b.s3, b.runs, b.neighbour);
  await db.query('vacuum analyze');
  log(`[${label}] seeded the person (${person.id}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const before = await othersCounts(db, person);
  const app = await startApplication(b.databaseUrl, await targetsFor(db, person, b.neighbour), {
    connections: b.connections,
    rate: b.rate,
  });
  let nightly: { seconds: number; peakRssMb: number; stderr: string };
  let steps: Record<string, number>;
  try {
    await new Promise((r) => setTimeout(r, b.baselineSeconds * 1000));
    await runNode(b.bin, ['erase', person.id, '--reason', 'bench'], b.env);
    started = performance.now();
    const watch = watchSteps(db, person.id);
    nightly = await withPeakRss(b.bin, ['nightly'], b.env).finally(() => watch.stop());
    steps = await watch.steps;
  } finally {
    await app.stop();
  }
  log(`[${label}] steps done at, seconds after the nightly started: ${JSON.stringify(steps)}`);
  const ended = started + nightly.seconds * 1000;
  return await figuresOf(b, label, { person, app, before, nightly, window: [started, ended] });
}

/**
 * When each step of the erasure was first seen done (its progress, polled
 * every 250 ms on `db`, idle otherwise), by entity:step: seconds since the
 * nightly started, in the order they were seen.
 */
function watchSteps(db: pg.Client, userId: string) {
  let stopped = false;
  const steps = (async () => {
    const doneAt = new Map<string, number>();
    const started = performance.now();
    while (!stopped) {
      const { rows } = await db.query(`select progress from data_export_erasures where user_id = $1`, [userId]);
      const progress = (rows[0]?.progress ?? {}) as Record<string, { done?: string[] }>;
      for (const [entity, state] of Object.entries(progress))
        for (const step of state.done ?? [])
          if (!doneAt.has(`${entity}:${step}`))
            doneAt.set(`${entity}:${step}`, Math.round((performance.now() - started) / 100) / 10);
      await new Promise((r) => setTimeout(r, 250));
    }
    return Object.fromEntries([...doneAt].sort((x, y) => x[1] - y[1]));
  })();
  return {
    steps,
    stop: () => {
      stopped = true;
    },
  };
}

/** After the run: the erasure's row, what is left of the person, everyone else's rows, the application's, the latencies. */
async function figuresOf(
  b: ErasureBench,
  label: string,
  run: {
    person: Person;
    app: Application;
    before: Record<string, number>;
    nightly: { seconds: number; peakRssMb: number; stderr: string };
    window: [number, number];
  },
): Promise<ErasureFigures> {
  const { db } = b;
  const { person, app, nightly } = run;
  const erasure = (
    await db.query(
      `select status, error, receipt, extract(epoch from completed_at - started_at)::float8 as seconds
         from data_export_erasures where user_id = $1`,
      [person.id],
    )
  ).rows[0];
  if (erasure?.status !== 'done')
    throw new Error(`[${label}] the erasure is ${erasure?.status}: ${erasure?.error}\n${nightly.stderr.slice(-3000)}`);
  const problems = [...(await personLeft(db, person)).map((what) => `the person: ${what} left`)];
  const after = await othersCounts(db, person);
  for (const [table, n] of Object.entries(run.before)) {
    const expected = n + (app.written.inserted[table]?.length ?? 0);
    if (after[table] !== expected) problems.push(`${table}: ${after[table]} rows of others, expected ${expected}`);
  }
  const written = await writtenLeft(db, app.written);
  problems.push(...written.missing);
  if (app.errors.length > 0) problems.push(`${app.errors.length} writes failed, first: ${app.errors[0]}`);
  if (problems.length > 0) throw new Error(`[${label}] ${problems.join('; ')}`);
  const [from, to] = run.window;
  const figures: ErasureFigures = {
    wallSeconds: nightly.seconds,
    erasureSeconds: erasure.seconds,
    rows: receiptRows(erasure.receipt),
    peakRssMb: nightly.peakRssMb,
    during: latencies(app.samples.filter((s) => s.at >= from && s.at <= to)),
    baseline: latencies(app.samples.filter((s) => s.at < from)),
    written: written.rows,
    errors: app.errors.length,
  };
  log(`[${label}] ${describe(figures)}`);
  return figures;
}

/** The rows the receipt counts (deleted, shared, memberships, references; files are not rows). */
function receiptRows(receipt: { entities: Record<string, { counts: Record<string, number> }> }): number {
  let rows = 0;
  for (const { counts } of Object.values(receipt.entities))
    for (const [what, n] of Object.entries(counts)) if (what !== 'files' && what !== 'kept') rows += n;
  return rows;
}

export function describe(f: ErasureFigures): string {
  const ms = (l: LatencyFigures) =>
    `${l.count} writes, p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(0)} ms, over 1 s ${l.over1s}`;
  return (
    `nightly ${f.wallSeconds.toFixed(1)} s (erasure ${f.erasureSeconds.toFixed(1)} s), ${f.rows} rows, ` +
    `${Math.round(f.rows / f.erasureSeconds)} rows/s, peak RSS ${f.peakRssMb} MB; during: ${ms(f.during)}; ` +
    `before: ${ms(f.baseline)}; ${f.written} application rows all found`
  );
}

/**
 * A child process to its end, with its peak resident set as the kernel
 * counts it (VmHWM of /proc/<pid>/status, polled every 20 ms: a high-water
 * mark, so a poll late by a few ms still sees the peak before it).
 */
export async function withPeakRss(bin: string, args: string[], env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const proc = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-200_000)));
  let peakKb = 0;
  const poll = () => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // gone: the last poll's figure stands
    }
  };
  const timer = setInterval(poll, 20);
  const [code] = (await once(proc, 'close')) as [number];
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${troubleOf(stderr)}\n${stderr.slice(-3000)}`);
  return { seconds, peakRssMb: Math.round(peakKb / 1024), stderr };
}

/** The warnings and errors a run logged (an erasure to be retried says why there), one line each. */
function troubleOf(stderr: string): string {
  return stderr
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { level?: string; msg?: string; err?: { message?: string } }];
      } catch {
        return []; // not a log line, or one cut by the 200,000 characters kept
      }
    })
    .filter((l) => l.level === 'warn' || l.level === 'error')
    .map((l) => `${l.msg}${l.err?.message ? `: ${l.err.message}` : ''}`)
    .join('; ');
}
