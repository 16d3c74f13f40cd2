/**
 * `npm run bench:ab -- --a dist-a --b dist-b [--pairs 5] [--runs 1000000]`:
 * two builds of the exporter, interleaved (A, B, A, B, …) on the same heavy
 * user, each run against the floor (psql COPY of the same rows) measured just before it:
 * what a change costs or gains, beyond this machine's noise (BENCHMARKS.md).
 *
 * Build the two with `npx tsc -p tsconfig.json --outDir dist-a` (and
 * dist-b, from the other checkout or patch): a build's folder must sit at the
 * repository's root, beside definitions/ and sql/, which it finds by relative
 * path.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { exporterEnvironment, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { copyFloor } from './lib/floor.ts';
import { runNode } from './lib/run-node.ts';
import { createSampleFileTables, seedUser } from './lib/sample-data.ts';

const { values: flags } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    pairs: { type: 'string', default: '5' },
    runs: { type: 'string', default: '1000000' },
  },
});
if (!flags.a || !flags.b) throw new Error('--a and --b name the two builds (folders at the repository root)');
const root = new URL('..', import.meta.url).pathname;
const builds = { A: path.resolve(root, flags.a, 'main.js'), B: path.resolve(root, flags.b, 'main.js') };
const log = (text: string) => process.stderr.write(`${text}\n`);

const postgres = await startEmbeddedPostgres();
const s3 = await startS3rver();
const env = { ...process.env, ...(await exporterEnvironment(postgres.url, s3.info, 'bench')), LOG_LEVEL: 'info', NODE_OPTIONS: '' };
const db = new pg.Client({ connectionString: postgres.url });
const figures: Record<'A' | 'B', { seconds: number; rss: number; ratio: number }[]> = { A: [], B: [] };
try {
  await runNode(builds.A, ['migrate'], env);
  await db.connect();
  await createSampleFileTables(db);
  log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}; node ${process.version}; ${(await db.query('select version()')).rows[0].version.split(',')[0]}`);
  const user = await seedUser(db, { projects: 50, features: 5_000, runs: Number(flags.runs), releases: 20_000 });
  await db.query('vacuum analyze');
  const request = (await db.query(`insert into data_export_requests (user_id) values ($1) returning id`, [user])).rows[0].id;
  for (let pair = 1; pair <= Number(flags.pairs); pair++) {
    // Alternate which goes first, so neither always runs on a warmer cache.
    for (const which of pair % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const floor = await copyFloor(postgres.url, user);
      const result = await runNode(builds[which], ['fulfill', '--request', request], env);
      const rss = Number(result.logs.find((l) => l.msg === 'fulfill finished')?.maxRssMb);
      figures[which].push({ seconds: result.seconds, rss, ratio: result.seconds / floor });
      log(`pair ${pair} ${which}: ${result.seconds.toFixed(2)} s (floor ${floor.toFixed(2)} s, ${(result.seconds / floor).toFixed(2)}x), peak RSS ${rss} MB`);
    }
  }
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
for (const which of ['A', 'B'] as const) {
  const f = figures[which];
  process.stdout.write(
    `${which} (${flags[which === 'A' ? 'a' : 'b']}): median ${median(f.map((x) => x.seconds)).toFixed(2)} s (${f.map((x) => x.seconds.toFixed(2)).join(', ')}), ` +
      `ratio to floor ${median(f.map((x) => x.ratio)).toFixed(2)}x, peak RSS ${Math.max(...f.map((x) => x.rss))} MB\n`,
  );
}
const pairs = figures.A.map((a, i) => figures.B[i]!.seconds / a.seconds);
process.stdout.write(`B/A per pair: ${pairs.map((r) => r.toFixed(3)).join(', ')}; median ${median(pairs).toFixed(3)}\n`);
