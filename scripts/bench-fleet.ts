/**
 * `npm run bench:fleet -- --workers 1,2,4,8 --requests 5000`: a fleet of
 * `exporter work` processes against one database, each fleet started on the
 * same backlog of light requests (one per user, a few dozen rows each) and
 * timed until every request is ready. Per fleet: throughput, each claim's
 * time (p50, p99, from the ready lines), CPU per request of the exporter
 * processes and of the whole machine (PostgreSQL and the S3 API included,
 * from /proc/stat), the cores busy on average, the largest worker's peak RSS
 * as the OS sees it (VmHWM); and a check that every request was built
 * exactly once (one ready line, one attempt, one object each). BENCHMARKS.md
 * says where one machine saturates.
 *
 *   --workers N,N…   fleet sizes, in order (default 1,2,4,8)
 *   --requests N     the backlog (default 5000)
 *   --concurrency N  EXPORT_CONCURRENCY of each worker (default 2)
 *   --quick          --workers 1,2 --requests 200
 *   EXPORTER_PG_MAJOR=14 (…17): that version's embedded server
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { log } from './lib/bench-context.ts';
import { type FleetFigures, fleetRun } from './lib/bench-fleet-run.ts';
import { seedLightUsers } from './lib/bench-requests.ts';
import { exporterEnvironment, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { runNode } from './lib/run-node.ts';
import { createSampleSchema } from './lib/sample-data.ts';

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4,8' },
    requests: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '2' },
    quick: { type: 'boolean', default: false },
  },
});
const WORKERS = (flags.quick ? '1,2' : flags.workers).split(',').map(Number);
const REQUESTS = flags.quick ? 200 : Number(flags.requests);
const BIN = new URL('../dist/main.js', import.meta.url).pathname;

execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
const postgres = await startEmbeddedPostgres();
const s3 = await startS3rver();
const db = new pg.Client({ connectionString: postgres.url });
const results: FleetFigures[] = [];
let server = '';
try {
  await db.connect();
  await createSampleSchema(db);
  server = (await db.query('select version()')).rows[0].version.split(',')[0];
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${server}`,
  );
  const env = {
    ...process.env,
    ...(await exporterEnvironment(postgres.url, s3.info, 'bench')),
    EXPORT_CONCURRENCY: flags.concurrency,
    NODE_OPTIONS: '',
  };
  await runNode(BIN, ['migrate'], env);
  log(`[fleet] seeding ${REQUESTS} light users…`);
  const users = await seedLightUsers(db, REQUESTS);
  for (const workers of WORKERS) {
    const figures = await fleetRun(db, users, workers, BIN, env);
    log(`[fleet] ${line(figures)}`);
    results.push(figures);
  }
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
}
const base = results[0]!;
process.stdout.write(
  `\n${REQUESTS} light requests, EXPORT_CONCURRENCY ${flags.concurrency} per worker; ${os.cpus().length} cores shared by PostgreSQL (${server}), the S3 API and the workers\n` +
    `${results.map((r) => `${line(r)}; ${(base.seconds / r.seconds).toFixed(2)}x one worker's throughput`).join('\n')}\n`,
);

function line(r: FleetFigures): string {
  return (
    `${r.workers} worker(s): ${r.seconds.toFixed(1)} s, ${(r.requests / r.seconds).toFixed(1)} requests/s, every one built once; ` +
    `claim p50 ${r.claimP50.toFixed(1)} ms, p99 ${r.claimP99.toFixed(1)} ms; CPU per request: exporter ${r.exporterCpuMs.toFixed(1)} ms, ` +
    `machine ${r.machineCpuMs.toFixed(1)} ms; ${r.busyCores.toFixed(2)} cores busy; largest worker ${r.peakRssMb} MB`
  );
}
