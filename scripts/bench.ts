/**
 * `npm run bench [-- options]`: the performance figures behind BENCHMARKS.md.
 *
 * Makes the data in a throwaway database (embedded PostgreSQL, or
 * BENCH_DATABASE_URL), runs each scenario against a real S3 API (s3rver), the
 * exporter always as the real CLI in a child process, and prints per scenario:
 * median wall seconds, rows/s, MB/s, archive bytes, peak RSS, and the ratio to
 * the floor (psql COPY of the same rows, measured in the same run).
 *
 *   --runs N        pipeline_runs of the heavy user (default 1000000)
 *   --big-runs N    pipeline_runs of the second heavy user, for the memory check (default 3000000; 0 skips)
 *   --light N       light requests for the throughput and scale-out scenarios (default 2000)
 *   --repeat N      runs per scenario, made odd (default 3); the median is reported, and a ratio to the floor is the median of each run's ratio to the floor measured beside it
 *   --concurrency N requests in parallel per exporter process (default 2)
 *   --latency N     requests inserted one every 100 ms for an idle `exporter work` (default 200; 0 skips)
 *   --file-mib N    the size of the one large file of the files scenario, in MiB (default 2048; 0 skips the scenario)
 *   --small-files N the small files of the files scenario (default 10000)
 *   --pg-major N    run on that PostgreSQL major version's embedded server (14 to 17, installed by
 *                   scripts/install-postgres-versions.sh; default: the project's own, 18)
 *   --quick         --runs 100000 --big-runs 0 --light 200 --latency 50 --file-mib 256 --small-files 1000 --repeat 1: about a minute
 *
 * The scenarios live in scripts/lib/bench-scenarios-*.ts, the table and the
 * verdicts in scripts/lib/bench-report.ts; each is handed a BenchContext.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type BenchContext, type BenchSettings, log } from './lib/bench-context.ts';
import { exporterProcesses } from './lib/bench-processes.ts';
import { type Figures, printTable, printVerdicts } from './lib/bench-report.ts';
import { filesScenario } from './lib/bench-scenarios-files.ts';
import { heavyScenario } from './lib/bench-scenarios-heavy.ts';
import { latencyScenario } from './lib/bench-scenarios-latency.ts';
import { lightScenarios } from './lib/bench-scenarios-light.ts';
import { exporterEnvironment, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { createSampleSchema } from './lib/sample-data.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    'big-runs': { type: 'string', default: '3000000' },
    light: { type: 'string', default: '2000' },
    repeat: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '2' },
    latency: { type: 'string', default: '200' },
    'file-mib': { type: 'string', default: '2048' },
    'small-files': { type: 'string', default: '10000' },
    quick: { type: 'boolean', default: false },
    'pg-major': { type: 'string' },
  },
});
// Read by the embedded server's process (scripts/lib/postgres-process.ts), which inherits this environment.
if (flags['pg-major'] !== undefined) {
  if (!/^1[4-7]$/.test(flags['pg-major']))
    throw new Error(`--pg-major: ${flags['pg-major']} is not 14, 15, 16 or 17 (18 is the default)`);
  process.env.EXPORTER_PG_MAJOR = flags['pg-major'];
}
const quick = flags.quick;
const RUNS = quick ? 100_000 : Number(flags.runs);
const BIG_RUNS = quick ? 0 : Number(flags['big-runs']);
const settings: BenchSettings = {
  light: quick ? 200 : Number(flags.light),
  // Odd, so that a median is one run's figure, never the upper of two (BENCHMARKS.md: a verdict that could flatter).
  repeat: quick ? 1 : Number(flags.repeat) + (Number(flags.repeat) % 2 === 0 ? 1 : 0),
  latency: quick ? 50 : Number(flags.latency),
  fileMib: quick ? 256 : Number(flags['file-mib']),
  smallFiles: quick ? 1_000 : Number(flags['small-files']),
};
const CONCURRENCY = flags.concurrency;

// As an operator starts it: bin/exporter, which runs the build made just below (stamped with these
// sources) as the image does; the sources through type stripping would cost ~30 MB more RSS.
const BIN = new URL('../bin/exporter', import.meta.url).pathname;
const BUCKET = 'bench';

const results: Figures[] = [];

const postgres = process.env.BENCH_DATABASE_URL
  ? { url: process.env.BENCH_DATABASE_URL, stop: async () => {} }
  : await startEmbeddedPostgres();
const s3 = await startS3rver();
const env = {
  ...process.env,
  ...(await exporterEnvironment(postgres.url, s3.info, BUCKET)),
  LOG_LEVEL: 'info',
  EXPORT_CONCURRENCY: CONCURRENCY,
  // No NODE_OPTIONS: the exporter sets the V8 flags it needs itself (src/v8-flags.ts), however it is started.
  NODE_OPTIONS: '',
};
const db = new pg.Client({ connectionString: postgres.url });
execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
const ctx: BenchContext = {
  db,
  databaseUrl: postgres.url,
  s3: s3.info,
  bucket: BUCKET,
  concurrency: Number(CONCURRENCY),
  settings,
  processes: exporterProcesses(BIN, env),
};

try {
  await db.connect();
  await createSampleSchema(db);
  await ctx.processes.exporter(['migrate']);
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${(await db.query('select version()')).rows[0].version.split(',')[0]}`,
  );

  results.push(...(await heavyScenario(ctx, 'heavy', RUNS)));
  if (BIG_RUNS > 0) results.push(...(await heavyScenario(ctx, 'heavy-big', BIG_RUNS)));
  results.push(...(await lightScenarios(ctx)));
  if (settings.latency > 0) results.push(await latencyScenario(ctx));
  if (settings.fileMib > 0) results.push(...(await filesScenario(ctx)));
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
}

printTable(results);
printVerdicts(results, settings);
