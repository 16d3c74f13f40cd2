/**
 * `npm run bench:ab -- --a dist-a --b dist-b [--pairs 5] [--runs 1000000 | --light 2000] [--a-sql … --b-sql …]`:
 * two builds of the exporter, interleaved (A, B, A, B, …) on the same heavy
 * user, each run against the floor (psql COPY of the same rows) measured just before it:
 * what a change costs or gains, beyond this machine's noise (BENCHMARKS.md).
 * With --light N: N light users (a few dozen rows each), every request built
 * by one `fulfill` per run; a run's figure is its requests per second, and
 * the pair's ratio compares the two builds' times side by side.
 *
 * Build the two with `npx tsc -p tsconfig.json --outDir dist` in each
 * checkout and name each build's folder (absolute, or from this repository's
 * root): a build finds its own definitions/ and sql/ beside it, by relative
 * path, so an older checkout's build runs with its own.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { exporterEnvironment, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { copyFloor } from './lib/floor.ts';
import { runNode } from './lib/run-node.ts';
import { createSampleSchema, seedUser } from './lib/sample-data.ts';

const { values: flags } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    pairs: { type: 'string', default: '5' },
    runs: { type: 'string', default: '1000000' },
    light: { type: 'string' },
    'a-sql': { type: 'string' },
    'b-sql': { type: 'string' },
  },
});
/**
 * SQL run before each run of A or B: both builds share one database migrated
 * to the newer's schema, so a change in the database itself (a trigger) is
 * compared by turning it off for A (`--a-sql "alter table … disable trigger user"`).
 */
const before = async (which: 'A' | 'B') => {
  const text = flags[which === 'A' ? 'a-sql' : 'b-sql'];
  if (text) await db.query(text);
};
if (!flags.a || !flags.b) throw new Error('--a and --b name the two builds (folders at the repository root)');
const root = new URL('..', import.meta.url).pathname;
const builds = { A: path.resolve(root, flags.a, 'main.js'), B: path.resolve(root, flags.b, 'main.js') };
const log = (text: string) => process.stderr.write(`${text}\n`);

const postgres = await startEmbeddedPostgres();
const s3 = await startS3rver();
const shared = {
  ...process.env,
  ...(await exporterEnvironment(postgres.url, s3.info, 'bench')),
  LOG_LEVEL: 'info',
  NODE_OPTIONS: '',
};
/** Each build with its own checkout's definition of the sample with its files (an older checkout has only sample.yaml). */
const envOf = (which: 'A' | 'B') => {
  const definitions = path.resolve(path.dirname(builds[which]), '..', 'definitions');
  const withFiles = path.join(definitions, 'sample-files.yaml');
  return { ...shared, EXPORT_DEFINITION: existsSync(withFiles) ? withFiles : path.join(definitions, 'sample.yaml') };
};
const db = new pg.Client({ connectionString: postgres.url });
const figures: Record<'A' | 'B', { seconds: number; rss: number; ratio: number }[]> = { A: [], B: [] };
try {
  await db.connect();
  await createSampleSchema(db);
  // Both builds' migrations, A's first: B may be the newer (and link what A never knew of).
  await runNode(builds.A, ['migrate'], envOf('A'));
  await runNode(builds.B, ['migrate'], envOf('B'));
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}; node ${process.version}; ${(await db.query('select version()')).rows[0].version.split(',')[0]}`,
  );
  if (flags.light) await lightPairs(Number(flags.light));
  else await heavyPairs();
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
}

async function heavyPairs() {
  const user = await seedUser(db, { projects: 50, features: 5_000, runs: Number(flags.runs), releases: 20_000 });
  await db.query('vacuum analyze');
  const request = (await db.query(`insert into data_export_requests (user_id) values ($1) returning id`, [user]))
    .rows[0].id;
  for (let pair = 1; pair <= Number(flags.pairs); pair++) {
    // Alternate which goes first, so neither always runs on a warmer cache.
    for (const which of pair % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const floor = await copyFloor(postgres.url, user);
      await before(which);
      const result = await runNode(builds[which], ['fulfill', '--request', request], envOf(which));
      const rss = Number(result.logs.find((l) => l.msg === 'fulfill finished')?.maxRssMb);
      figures[which].push({ seconds: result.seconds, rss, ratio: result.seconds / floor });
      log(
        `pair ${pair} ${which}: ${result.seconds.toFixed(2)} s (floor ${floor.toFixed(2)} s, ${(result.seconds / floor).toFixed(2)}x), peak RSS ${rss} MB`,
      );
    }
  }
}

async function lightPairs(count: number) {
  const users: string[] = [];
  for (let i = 0; i < count; i++) users.push(await seedUser(db, { projects: 1, features: 5, runs: 30, releases: 2 }));
  await db.query(`insert into data_export_requests (user_id) select unnest($1::uuid[])`, [users]);
  await db.query('vacuum analyze');
  for (let pair = 1; pair <= Number(flags.pairs); pair++) {
    for (const which of pair % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      await db.query(
        `update data_export_requests set status = 'pending', attempts = 0, claim_id = null, claim_expires_at = null, not_before = null`,
      );
      await before(which);
      const result = await runNode(builds[which], ['fulfill', '--limit', String(count)], envOf(which));
      const ready = result.logs.filter((l) => l.msg === 'request ready').length;
      if (ready !== count) throw new Error(`${which}: ${ready} of ${count} requests ready`);
      const rss = Number(result.logs.find((l) => l.msg === 'fulfill finished')?.maxRssMb);
      // No floor: the ratio is a rate (requests per second), and B/A compares the two side by side.
      figures[which].push({ seconds: result.seconds, rss, ratio: count / result.seconds });
      log(
        `pair ${pair} ${which}: ${result.seconds.toFixed(2)} s, ${(count / result.seconds).toFixed(1)} requests/s, peak RSS ${rss} MB`,
      );
    }
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
for (const which of ['A', 'B'] as const) {
  const f = figures[which];
  process.stdout.write(
    `${which} (${flags[which === 'A' ? 'a' : 'b']}): median ${median(f.map((x) => x.seconds)).toFixed(2)} s (${f.map((x) => x.seconds.toFixed(2)).join(', ')}), ` +
      `${flags.light ? `${median(f.map((x) => x.ratio)).toFixed(1)} requests/s` : `ratio to floor ${median(f.map((x) => x.ratio)).toFixed(2)}x`}, peak RSS ${Math.max(...f.map((x) => x.rss))} MB\n`,
  );
}
const pairs = figures.A.map((a, i) => figures.B[i]!.seconds / a.seconds);
process.stdout.write(
  `B/A per pair: ${pairs.map((r) => r.toFixed(3)).join(', ')}; median ${median(pairs).toFixed(3)}\n`,
);
