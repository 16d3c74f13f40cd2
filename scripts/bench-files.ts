/**
 * `npm run bench:files [-- options]`: one user with many small files, the
 * figures behind EXPORT_MAX_FILES in BENCHMARKS.md: time, peak RSS, and
 * peak RSS per file against the same user with no files.
 *
 * Makes the data in a throwaway embedded PostgreSQL and s3rver (as
 * `npm run bench` does), then builds each user's archive once with the real
 * CLI (`exporter fulfill --request`, EXPORT_MAX_FILES raised to fit).
 *
 *   --files N[,N…]  the small files of each user measured (default 100000)
 *   --bytes N       each file's size (default 200; text, deflated)
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { exporterEnvironment, SAMPLE_UPLOADS_BUCKET, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { runNode } from './lib/run-node.ts';
import { createSampleSchema, seedUploads, seedUser } from './lib/sample-data.ts';

const { values: flags } = parseArgs({
  options: {
    files: { type: 'string', default: '100000' },
    bytes: { type: 'string', default: '200' },
  },
});
const COUNTS = flags.files.split(',').map(Number);
const BYTES = Number(flags.bytes);
const BIN = new URL('../dist/main.js', import.meta.url).pathname;
const log = (text: string) => process.stderr.write(`${text}\n`);

const postgres = await startEmbeddedPostgres();
const s3 = await startS3rver();
const env = {
  ...process.env,
  ...(await exporterEnvironment(postgres.url, s3.info, 'bench')),
  LOG_LEVEL: 'info',
  NODE_OPTIONS: '',
  EXPORT_MAX_FILES: String(Math.max(...COUNTS)),
};
const db = new pg.Client({ connectionString: postgres.url });
execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
const lines: string[] = [];
try {
  await db.connect();
  await createSampleSchema(db);
  await runNode(BIN, ['migrate'], env);
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${(await db.query('select version()')).rows[0].version.split(',')[0]}`,
  );
  const shape = { projects: 1, features: 5, runs: 30, releases: 2 };
  const baseline = await measure('no files', await seedUser(db, shape), 0);
  for (const count of COUNTS) {
    const user = await seedUser(db, shape);
    const started = performance.now();
    const body = (i: number) => Buffer.from(`file ${i} `.padEnd(BYTES, 'abc '));
    await seedUploads(db, s3.info, SAMPLE_UPLOADS_BUCKET, user, {
      assets: Array.from({ length: count }, (_, i) => ({
        name: `f-${i}.txt`,
        contentType: 'text/plain',
        bytes: body(i).length,
        body: body(i),
      })),
    });
    log(`[files] seeded ${count} files in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    const figures = await measure(`${count} files`, user, count);
    lines.push(
      `${count} files of ${BYTES} bytes: ${figures.seconds.toFixed(1)} s (${Math.round(count / figures.seconds)} files/s), peak RSS ${figures.maxRssMb} MB, ` +
        `${Math.round(((figures.maxRssMb - baseline.maxRssMb) * 2 ** 20) / count)} bytes per file above no files (${baseline.maxRssMb} MB), archive ${(figures.archiveBytes / 2 ** 20).toFixed(1)} MB`,
    );
  }
} finally {
  await db.end().catch(() => {});
  await s3.stop();
  await postgres.stop();
}
for (const line of lines) process.stdout.write(`${line}\n`);

async function measure(label: string, userId: string, files: number) {
  const requestId = (await db.query(`insert into data_export_requests (user_id) values ($1) returning id`, [userId]))
    .rows[0].id;
  const result = await runNode(BIN, ['fulfill', '--request', requestId], env);
  const ready = result.logs.find((l) => l.msg === 'request ready');
  if (!ready) throw new Error(`${label}: not ready\n${result.stderr.slice(-2000)}`);
  const maxRssMb = Number(result.logs.find((l) => l.msg === 'fulfill finished')?.maxRssMb);
  log(`[files] ${label}: ${result.seconds.toFixed(2)} s, peak RSS ${maxRssMb} MB, ${files} files`);
  return { seconds: result.seconds, maxRssMb, archiveBytes: Number(ready.bytes) };
}
