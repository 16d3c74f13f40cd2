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
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { exporterEnvironment, SAMPLE_UPLOADS_BUCKET, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { copyFloor } from './lib/floor.ts';
import { createSampleSchema, seedUploads, seedUser } from './lib/sample-data.ts';

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
const LIGHT = quick ? 200 : Number(flags.light);
// Odd, so that a median is one run's figure, never the upper of two (BENCHMARKS.md: a verdict that could flatter).
const REPEAT = quick ? 1 : Number(flags.repeat) + (Number(flags.repeat) % 2 === 0 ? 1 : 0);
const CONCURRENCY = flags.concurrency;
const LATENCY = quick ? 50 : Number(flags.latency);
const FILE_MIB = quick ? 256 : Number(flags['file-mib']);
const SMALL_FILES = quick ? 1_000 : Number(flags['small-files']);

// The compiled build, as deployed (the sources through type stripping cost ~30 MB more RSS).
const BIN = new URL('../dist/main.js', import.meta.url).pathname;
const NAIVE = new URL('./lib/naive-export.ts', import.meta.url).pathname;
const BUCKET = 'bench';

interface Figures {
  scenario: string;
  seconds: number;
  rows: number;
  archiveBytes: number;
  maxRssMb: number;
  floorSeconds?: number;
  /** Each run's wall time over the floor measured just before it: the verdict is their median. */
  ratios?: number[];
  note?: string;
}
const results: Figures[] = [];
const log = (text: string) => process.stderr.write(`${text}\n`);

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

try {
  await db.connect();
  await createSampleSchema(db);
  await exporter(['migrate']);
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${(await db.query('select version()')).rows[0].version.split(',')[0]}`,
  );

  await heavyScenario('heavy', RUNS);
  if (BIG_RUNS > 0) await heavyScenario('heavy-big', BIG_RUNS);
  await lightScenarios();
  if (LATENCY > 0) await latencyScenario();
  if (FILE_MIB > 0) await filesScenario();
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
}

printTable();
printVerdicts();

/** Between scenarios, the last one's requests go: a truncate, which the table refuses (sql/000010) but to a superuser's session with triggers off. */
async function emptyRequests() {
  await db.query(
    'set session_replication_role = replica; truncate data_export_requests; set session_replication_role = origin',
  );
}

async function heavyScenario(name: string, runs: number) {
  log(`\n[${name}] seeding one user with ${runs} pipeline runs, 5000 features, 20000 releases, 50 projects…`);
  await emptyRequests();
  const userId = await seedUser(db, { projects: 50, features: 5_000, runs, releases: 20_000 });
  await db.query('vacuum analyze');
  const rows = runs + 5_000 + 20_000 + 50 + 1;

  const floors: number[] = [];
  const walls: number[] = [];
  const rss: number[] = [];
  let archiveBytes = 0;
  const requestId = (await db.query(`insert into data_export_requests (user_id) values ($1) returning id`, [userId]))
    .rows[0].id;
  for (let i = 0; i < REPEAT; i++) {
    floors.push(await copyFloor(postgres.url, userId));
    const run = await exporter(['fulfill', '--request', requestId]);
    const ready = run.logs.find((l) => l.msg === 'request ready');
    if (!ready) throw new Error(`[${name}] the export did not end ready:\n${run.stderr.slice(-2000)}`);
    walls.push(run.seconds);
    rss.push(Number(run.logs.find((l) => l.msg === 'fulfill finished')?.maxRssMb));
    archiveBytes = Number(ready.bytes);
    log(
      `[${name}] run ${i + 1}: exporter ${run.seconds.toFixed(2)} s (floor ${floors.at(-1)!.toFixed(2)} s), peak RSS ${rss.at(-1)} MB`,
    );
  }
  results.push({
    scenario: `${name}: exporter fulfill`,
    seconds: median(walls),
    rows,
    archiveBytes,
    maxRssMb: Math.max(...rss),
    floorSeconds: median(floors),
    ratios: walls.map((wall, i) => wall / floors[i]!),
  });

  const naive: number[] = [];
  const naiveRss: number[] = [];
  let naiveBytes = 0;
  for (let i = 0; i < (name === 'heavy' ? REPEAT : 0); i++) {
    const run = await child([NAIVE, userId]);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    naive.push(run.seconds);
    naiveRss.push(out.maxRssMb);
    naiveBytes = out.bytes;
    log(`[${name}] naive run ${i + 1}: ${run.seconds.toFixed(2)} s, peak RSS ${out.maxRssMb} MB`);
  }
  if (naive.length) {
    results.push({
      scenario: `${name}: naive (in memory)`,
      seconds: median(naive),
      rows,
      archiveBytes: naiveBytes,
      maxRssMb: Math.max(...naiveRss),
      floorSeconds: median(floors),
    });
  }
}

/** psql COPY of the same rows, CSV and row_to_json, to /dev/null: what the database alone costs. */
async function lightScenarios() {
  log(`\n[light] seeding ${LIGHT} light users (a few dozen rows each)…`);
  await emptyRequests();
  const users: string[] = [];
  for (let i = 0; i < LIGHT; i++) users.push(await seedUser(db, { projects: 1, features: 5, runs: 30, releases: 2 }));
  await db.query(`insert into data_export_requests (user_id) select unnest($1::uuid[])`, [users]);
  const rows = LIGHT * 39;

  const one: number[] = [];
  const two: number[] = [];
  const work: number[] = [];
  let breakdown: Record<string, number> = {};
  for (let i = 0; i < REPEAT; i++) {
    await requeueAll();
    const run = await exporter(['fulfill']);
    const ready = run.logs.filter((l) => l.msg === 'request ready');
    if (ready.length !== LIGHT) throw new Error(`[light] ${ready.length} of ${LIGHT} ready`);
    one.push(run.seconds);
    breakdown = averageMs(ready.map((l) => l.ms as Record<string, number>));
    log(
      `[light] 1 process: ${run.seconds.toFixed(2)} s, ${(LIGHT / run.seconds).toFixed(1)} requests/s; ms per request ${JSON.stringify(breakdown)}`,
    );

    await requeueAll();
    const started = performance.now();
    const runs = await Promise.all([exporter(['fulfill']), exporter(['fulfill'])]);
    const seconds = (performance.now() - started) / 1000;
    const built = runs.reduce((n, r) => n + r.logs.filter((l) => l.msg === 'request ready').length, 0);
    const { rows: once } = await db.query(
      `select count(*)::int as n from data_export_requests where status = 'ready' and attempts = 1`,
    );
    if (built !== LIGHT || once[0].n !== LIGHT)
      throw new Error(`[scale-out] built ${built}, ready once ${once[0].n}, of ${LIGHT}`);
    two.push(seconds);
    log(
      `[light] 2 processes: ${seconds.toFixed(2)} s (${runs.map((r) => r.logs.filter((l) => l.msg === 'request ready').length).join(' + ')} requests), every request built exactly once`,
    );

    // The same requests through `exporter work` (continuous mode), from start to the last one ready.
    await requeueAll();
    const workStarted = performance.now();
    const worker = startWork();
    await waitUntil(
      async () =>
        (await db.query(`select count(*)::int as n from data_export_requests where status = 'ready'`)).rows[0].n ===
        LIGHT,
    );
    const workSeconds = (performance.now() - workStarted) / 1000;
    await worker.stop();
    work.push(workSeconds);
    log(`[light] work: ${workSeconds.toFixed(2)} s, ${(LIGHT / workSeconds).toFixed(1)} requests/s`);
  }
  results.push({
    scenario: `light: ${LIGHT} requests, 1 process`,
    seconds: median(one),
    rows,
    archiveBytes: 0,
    maxRssMb: 0,
    note: `${(LIGHT / median(one)).toFixed(1)} requests/s; ms per request: ${Object.entries(breakdown)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  });
  results.push({
    scenario: `light: ${LIGHT} requests, 2 processes`,
    seconds: median(two),
    rows,
    archiveBytes: 0,
    maxRssMb: 0,
    note: `${((100 * median(two)) / median(one)).toFixed(0)}% of one process's time`,
  });
  results.push({
    scenario: `light: ${LIGHT} requests, exporter work`,
    seconds: median(work),
    rows,
    archiveBytes: 0,
    maxRssMb: 0,
    note: `${(LIGHT / median(work)).toFixed(1)} requests/s, ${((100 * median(work)) / median(one)).toFixed(0)}% of fulfill's time`,
  });
}

/**
 * Latency of `exporter work` from insert to ready: an idle worker, light
 * users, one request inserted every 100 ms. Measured by the database's own
 * clock (requested_at at insert, completed_at at the ready update).
 */
async function latencyScenario() {
  log(`\n[latency] ${LATENCY} light requests inserted one every 100 ms for an idle exporter work…`);
  await emptyRequests();
  const users: string[] = [];
  for (let i = 0; i < LATENCY; i++) users.push(await seedUser(db, { projects: 1, features: 5, runs: 30, releases: 2 }));
  const worker = startWork();
  await waitUntil(async () => worker.stderr().includes('listening for new requests'));
  for (const user of users) {
    await db.query(`insert into data_export_requests (user_id) values ($1)`, [user]);
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitUntil(
    async () =>
      (await db.query(`select count(*)::int as n from data_export_requests where status = 'ready'`)).rows[0].n ===
      LATENCY,
  );
  await worker.stop();
  const { rows } = await db.query<{ ms: number }>(
    `select extract(epoch from completed_at - requested_at)::float8 * 1000 as ms from data_export_requests order by 1`,
  );
  const ms = rows.map((r) => r.ms);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  log(
    `[latency] insert to ready: median ${p(0.5).toFixed(0)} ms, p95 ${p(0.95).toFixed(0)} ms, max ${ms.at(-1)!.toFixed(0)} ms`,
  );
  results.push({
    scenario: `latency: ${LATENCY} requests, one per 100 ms, exporter work`,
    seconds: (ms.at(-1) ?? 0) / 1000,
    rows: LATENCY * 39,
    archiveBytes: 0,
    maxRssMb: 0,
    note: `insert to ready: median ${p(0.5).toFixed(0)} ms, p95 ${p(0.95).toFixed(0)} ms (goal: median under 1 s)`,
  });
}

/**
 * The user's files: peak RSS and time for a light user with no files, the
 * same with one large file (stored: video), and with many small text files
 * (deflated), each built alone by `exporter fulfill --request`.
 */
async function filesScenario() {
  const shape = { projects: 1, features: 5, runs: 30, releases: 2 };
  const bigBytes = FILE_MIB * 2 ** 20;
  log(`\n[files] seeding: no files; one file of ${FILE_MIB} MiB; ${SMALL_FILES} small files…`);
  await emptyRequests();
  const none = await seedUser(db, shape);
  const big = await seedUser(db, shape);
  await seedUploads(db, s3.info, SAMPLE_UPLOADS_BUCKET, big, {
    assets: [{ name: 'talk.mp4', contentType: 'video/mp4', bytes: bigBytes, body: () => pseudoRandom(bigBytes) }],
  });
  const many = await seedUser(db, shape);
  const smallText = (i: number) =>
    Buffer.from(`note ${i}: ${'some words that compress well. '.repeat(10 + (i % 100))}\n`);
  await seedUploads(db, s3.info, SAMPLE_UPLOADS_BUCKET, many, {
    assets: Array.from({ length: SMALL_FILES }, (_, i) => ({
      name: `note-${i}.txt`,
      contentType: 'text/plain',
      bytes: smallText(i).length,
      body: smallText(i),
    })),
  });
  for (const [label, userId, files] of [
    ['no files', none, 0],
    [`one ${FILE_MIB} MiB file`, big, 1],
    [`${SMALL_FILES} small files`, many, SMALL_FILES],
  ] as const) {
    const secondsList: number[] = [];
    const rssList: number[] = [];
    let archiveBytes = 0;
    const requestId = (await db.query(`insert into data_export_requests (user_id) values ($1) returning id`, [userId]))
      .rows[0].id;
    for (let i = 0; i < REPEAT; i++) {
      await requeueAll();
      const run = await exporter(['fulfill', '--request', requestId]);
      const finished = run.logs.find((l) => l.msg === 'fulfill finished')!;
      const ready = run.logs.find((l) => l.msg === 'request ready');
      if (!ready) throw new Error(`[files] ${label}: not ready`);
      secondsList.push(run.seconds);
      rssList.push(finished.maxRssMb as number);
      archiveBytes = ready.bytes as number;
      log(
        `[files] ${label}: ${run.seconds.toFixed(2)} s, peak RSS ${finished.maxRssMb} MB, archive ${(archiveBytes / 2 ** 20).toFixed(1)} MB`,
      );
    }
    results.push({
      scenario: `files: ${label}`,
      seconds: median(secondsList),
      rows: shape.projects + shape.features + shape.runs + shape.releases + 1 + files,
      archiveBytes,
      maxRssMb: Math.max(...rssList),
      note: files ? `${files} file(s) in files/` : 'baseline',
    });
  }
}

/** `bytes` of incompressible content without holding it: a 16 MiB random block, repeated (stored, never deflated, so repetition costs nothing). */
function pseudoRandom(bytes: number): Readable {
  const block = randomBytes(16 * 2 ** 20);
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const chunk = block.subarray(0, Math.min(left, block.length));
      left -= chunk.length;
      this.push(chunk);
    },
  });
}

/** `exporter work` as a child process, with slow polls: only notifications (and the start's poll) wake it. */
function startWork() {
  const proc = spawn(process.execPath, [BIN, 'work'], {
    env: { ...env, EXPORT_POLL_INTERVAL: '10m' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-100_000)));
  const closed = once(proc, 'close');
  return {
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      const [code] = (await closed) as [number];
      if (code !== 143) throw new Error(`exporter work exited ${code}:\n${stderr.slice(-2000)}`);
    },
  };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function requeueAll() {
  await db.query(
    `update data_export_requests set status = 'pending', attempts = 0, claim_id = null, claim_expires_at = null, not_before = null`,
  );
}

function averageMs(list: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const ms of list) for (const [k, v] of Object.entries(ms)) sum[k] = (sum[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Math.round((v / list.length) * 10) / 10]));
}

async function exporter(args: string[]) {
  return child([BIN, ...args]);
}

async function child(args: string[]) {
  const started = performance.now();
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(proc, 'close')) as [number];
  const seconds = (performance.now() - started) / 1000;
  const logs = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`);
  return { seconds, stdout, stderr, logs };
}

/** The middle value (REPEAT is odd; of an even count, the mean of the two middle ones). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * One line per goal of BENCHMARKS.md (issue #13), met or not, with the figure,
 * so that anyone can re-run the benchmark and read where it stands.
 */
function printVerdicts() {
  const find = (prefix: string) => results.find((r) => r.scenario.startsWith(prefix));
  const lines: string[] = [];
  const verdict = (goal: string, met: boolean | undefined, figure: string) =>
    lines.push(`${met === undefined ? 'not measured' : met ? 'met' : 'NOT MET'}: ${goal}: ${figure}`);
  const heavy = find('heavy: exporter');
  const big = find('heavy-big: exporter');
  const light = find('light: ');
  verdict(
    'peak RSS of the 1M-row user at most 160 MB, without NODE_OPTIONS',
    heavy && heavy.maxRssMb <= 160,
    heavy ? `${heavy.maxRssMb} MB` : 'no heavy run',
  );
  verdict(
    'peak RSS of the 3M-row user within 10% of the 1M-row user',
    big && heavy && big.maxRssMb <= heavy.maxRssMb * 1.1,
    big && heavy ? `${big.maxRssMb} MB vs ${heavy.maxRssMb} MB` : 'no 3M run',
  );
  // The median of per-run ratios, each run against the floor measured beside it, with their spread: never one run's time over another's floor.
  const ratio = (f: Figures) => median(f.ratios!);
  const spread = (f: Figures) =>
    `${ratio(f).toFixed(2)}x (runs ${[...f.ratios!]
      .sort((a, b) => a - b)
      .map((r) => r.toFixed(2))
      .join(', ')})`;
  verdict('heavy user at most 1.3x the floor', heavy && ratio(heavy) <= 1.3, heavy ? spread(heavy) : 'no heavy run');
  verdict('3M-row user at most 1.5x the floor', big && ratio(big) <= 1.5, big ? spread(big) : 'no 3M run');
  verdict(
    'at least 80 light requests/s in one process',
    light && LIGHT / light.seconds >= 80,
    light ? `${(LIGHT / light.seconds).toFixed(1)} requests/s` : 'no light run',
  );
  const noFiles = find('files: no files');
  const oneBig = find('files: one ');
  const smallFiles = find(`files: ${SMALL_FILES} small`);
  verdict(
    `peak RSS with one ${FILE_MIB} MiB file within 10% of no files (#11)`,
    noFiles && oneBig && oneBig.maxRssMb <= noFiles.maxRssMb * 1.1,
    noFiles && oneBig ? `${oneBig.maxRssMb} MB vs ${noFiles.maxRssMb} MB` : 'no files run',
  );
  verdict(
    `peak RSS with ${SMALL_FILES} small files within 10% of no files (#11)`,
    noFiles && smallFiles && smallFiles.maxRssMb <= noFiles.maxRssMb * 1.1,
    noFiles && smallFiles ? `${smallFiles.maxRssMb} MB vs ${noFiles.maxRssMb} MB` : 'no files run',
  );
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

function printTable() {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [
    line([
      'scenario',
      'wall s (median)',
      'rows/s',
      'archive MB/s',
      'archive MB',
      'peak RSS MB',
      'floor s',
      'ratio to floor',
      'note',
    ]),
    line(Array(9).fill('---')),
  ];
  for (const r of results) {
    out.push(
      line([
        r.scenario,
        r.seconds.toFixed(2),
        Math.round(r.rows / r.seconds).toLocaleString('en'),
        r.archiveBytes ? (r.archiveBytes / 2 ** 20 / r.seconds).toFixed(1) : '',
        r.archiveBytes ? (r.archiveBytes / 2 ** 20).toFixed(1) : '',
        r.maxRssMb ? String(r.maxRssMb) : '',
        r.floorSeconds ? r.floorSeconds.toFixed(2) : '',
        r.floorSeconds ? `${(r.seconds / r.floorSeconds).toFixed(2)}x` : '',
        r.note ?? '',
      ]),
    );
  }
  process.stdout.write(`\n${out.join('\n')}\n`);
}
