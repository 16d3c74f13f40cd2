/**
 * `npm run bench:erasure [-- options]`: a person of a million rows erased in
 * batches while the application keeps writing other people's rows (issue
 * #34): the erasure's time and peak RSS, and every write's latency, none of
 * which may exceed 1 s.
 *
 * Makes the data in a throwaway embedded PostgreSQL and s3rver (as
 * `npm run bench` does), with the sample definition given `erase: delete`
 * for every entity and a ghost user. Each run seeds a fresh person (the
 * bench's heavy user: 50 projects, 5,000 features, 20,000 releases, --runs
 * pipeline runs; an avatar and 20 files; a project shared with a neighbour;
 * a membership of the neighbour's), starts the application's writers, and
 * after a baseline runs `exporter erase <person> --reason bench` and
 * `exporter nightly` (the compiled build, as child processes). Then it
 * asserts that nothing of the person is left, that every other person's row
 * is still there, and that every row the application wrote is found.
 *
 *   --runs N          the person's pipeline runs (default 1000000)
 *   --repeat N        runs, made odd (default 3): each figure's median is reported
 *   --others N        light users beside the person (default 200)
 *   --neighbour-runs N the neighbour's pipeline runs (default 200000)
 *   --connections N   the application's connections (default 4)
 *   --rate N          the application's writes per second, all connections together (default 200)
 *   --baseline N      seconds of writes before each erasure starts (default 5)
 *   --batch N         EXPORT_ERASE_BATCH (default: the exporter's, 1000)
 *   --sql "…"         SQL run once after the sample schema is made: a change to the application's
 *                     schema measured (an index), e.g. --sql "create index on pipeline_runs (feature_id)"
 *   --build DIR       the compiled exporter in DIR (with its checkout's sql/ beside it, as bench:ab's builds)
 *                     instead of building this checkout: a commit measured while the tree changes
 *   --quick           --runs 50000 --others 50 --neighbour-runs 20000 --repeat 1
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { log } from './lib/bench-context.ts';
import { erasureDefinition, seedOthers } from './lib/bench-erasure-world.ts';
import { median } from './lib/bench-report.ts';
import { describe, type ErasureBench, type ErasureFigures, erasureRun } from './lib/bench-scenarios-erasure.ts';
import { exporterEnvironment, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { runNode } from './lib/run-node.ts';
import { createSampleSchema } from './lib/sample-data.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '3' },
    others: { type: 'string', default: '200' },
    'neighbour-runs': { type: 'string', default: '200000' },
    connections: { type: 'string', default: '4' },
    rate: { type: 'string', default: '200' },
    baseline: { type: 'string', default: '5' },
    batch: { type: 'string' },
    sql: { type: 'string' },
    build: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = flags.quick;
const RUNS = quick ? 50_000 : Number(flags.runs);
const REPEAT = quick ? 1 : Number(flags.repeat) + (Number(flags.repeat) % 2 === 0 ? 1 : 0);
const OTHERS = quick ? 50 : Number(flags.others);
const NEIGHBOUR_RUNS = quick ? 20_000 : Number(flags['neighbour-runs']);
const BIN = flags.build
  ? path.resolve(new URL('..', import.meta.url).pathname, flags.build, 'main.js')
  : new URL('../dist/main.js', import.meta.url).pathname;

const dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-bench-erasure-'));
const postgres = await startEmbeddedPostgres();
const s3 = await startS3rver();
const db = new pg.Client({ connectionString: postgres.url });
if (!flags.build) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
const results: ErasureFigures[] = [];
try {
  await db.connect();
  await createSampleSchema(db);
  if (flags.sql) await db.query(flags.sql);
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${(await db.query('select version()')).rows[0].version.split(',')[0]}`,
  );
  log(`[erasure] seeding ${OTHERS} light users and a neighbour with ${NEIGHBOUR_RUNS} runs…`);
  const { ghost, neighbour } = await seedOthers(db, OTHERS, NEIGHBOUR_RUNS);
  const env = {
    ...process.env,
    ...(await exporterEnvironment(postgres.url, s3.info, 'bench')),
    EXPORT_DEFINITION: erasureDefinition(dir, ghost),
    ...(flags.batch ? { EXPORT_ERASE_BATCH: flags.batch } : {}),
    LOG_LEVEL: 'info',
    NODE_OPTIONS: '',
  };
  await runNode(BIN, ['migrate'], env);
  const bench: ErasureBench = {
    db,
    databaseUrl: postgres.url,
    s3: s3.info,
    bin: BIN,
    env,
    neighbour,
    runs: RUNS,
    connections: Number(flags.connections),
    rate: Number(flags.rate),
    baselineSeconds: Number(flags.baseline),
  };
  for (let i = 0; i < REPEAT; i++) results.push(await erasureRun(bench, `erasure run ${i + 1}`));
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
}
report(results);

function report(runs: ErasureFigures[]) {
  const m = (f: (r: ErasureFigures) => number) => median(runs.map(f));
  const out = [
    `person of ${RUNS} pipeline runs; ${flags.connections} connections writing ${flags.rate}/s; batch ${flags.batch ?? 'default (1000)'}` +
      (flags.sql ? `; schema changed by: ${flags.sql}` : '') +
      (flags.build ? `; build ${BIN}` : ''),
    ...runs.map((r, i) => `run ${i + 1}: ${describe(r)}`),
    `median of ${runs.length}: nightly ${m((r) => r.wallSeconds).toFixed(1)} s, erasure ${m((r) => r.erasureSeconds).toFixed(1)} s, ` +
      `${Math.round(m((r) => r.rows / r.erasureSeconds))} rows/s, peak RSS ${m((r) => r.peakRssMb)} MB; writes during it: ` +
      `p50 ${m((r) => r.during.p50).toFixed(1)} ms, p99 ${m((r) => r.during.p99).toFixed(1)} ms, max ${m((r) => r.during.max).toFixed(0)} ms`,
  ];
  const worst = Math.max(...runs.map((r) => r.during.max));
  const over = runs.reduce((n, r) => n + r.during.over1s, 0);
  const writes = runs.reduce((n, r) => n + r.during.count, 0);
  out.push(
    `${over === 0 ? 'met' : 'NOT MET'}: no write of the application waits more than 1 s during the erasure: ` +
      `${over} of ${writes} over 1 s, the slowest ${worst.toFixed(0)} ms`,
  );
  process.stdout.write(`\n${out.join('\n')}\n`);
  if (over > 0) process.exitCode = 1;
}
