/**
 * `npm run demo`: the nightly job end to end on a throwaway PostgreSQL and S3
 * server on this machine. Starts both, runs `exporter migrate`, adds sample
 * users with pending requests (and one user's uploaded files), runs `exporter nightly` (fulfill then expire)
 * exactly as cron would, then downloads one archive through its link and
 * shows what it holds. Everything is deleted when it ends.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import yauzl from 'yauzl';
import { exporterEnvironment, SAMPLE_UPLOADS_BUCKET, startEmbeddedPostgres, startS3rver } from './lib/embedded.ts';
import { createPendingRequest, createSampleSchema, demoUploads, seedUploads, seedUser } from './lib/sample-data.ts';

const BIN = new URL('../bin/exporter', import.meta.url).pathname;
const BUCKET = 'exports-demo';

const say = (text: string) => process.stdout.write(`\n== ${text}\n`);

const [postgres, s3] = await Promise.all([startEmbeddedPostgres(), startS3rver()]);
try {
  const env = {
    ...process.env,
    ...(await exporterEnvironment(postgres.url, s3.info, BUCKET)),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  // Asynchronous on purpose: the S3 server runs in this very process and must keep answering.
  const exporter = async (...args: string[]) => {
    process.stdout.write(`\n$ exporter ${args.join(' ')}\n`);
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    const [code] = (await once(child, 'close')) as [number | null];
    process.stdout.write(`(exit code ${code})\n`);
    return code;
  };

  say(`PostgreSQL at ${postgres.url.replace(/:[^:@/]+@/, ':***@')}, S3 API at ${s3.info.endpoint}`);
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  say(
    "the sample application's tables, as its own migrations would make them (definitions/sample-schema.sql, sample-files.sql)",
  );
  await createSampleSchema(db);
  if ((await exporter('migrate')) !== 0) throw new Error('migrate failed');

  say('sample data: three users, each with a pending export request; the first has uploaded files');
  const users = [
    await seedUser(db, { projects: 3, features: 40, runs: 2_000, releases: 12 }, 'ada@example.test'),
    await seedUser(db, { projects: 1, features: 5, runs: 30, releases: 2 }, 'grace@example.test'),
    await seedUser(db, { projects: 2, features: 0, runs: 0, releases: 0 }, 'linus@example.test'),
  ];
  await seedUploads(db, s3.info, SAMPLE_UPLOADS_BUCKET, users[0]!, demoUploads());
  const requests = [];
  for (const user of users) requests.push(await createPendingRequest(db, user));

  say('the nightly job, as cron runs it');
  await exporter('nightly');

  const { rows } = await db.query(
    `select id, status, archive_bytes, row_counts, expires_at, download_url from data_export_requests where id = $1`,
    [requests[0]],
  );
  const ready = rows[0];
  await db.end();
  if (ready?.status !== 'ready') throw new Error(`the first request is ${ready?.status}, not ready`);

  say(`request ${ready.id}: ready, ${ready.archive_bytes} bytes, link valid until ${ready.expires_at.toISOString()}`);
  process.stdout.write(`download link:\n${ready.download_url}\n`);

  const response = await fetch(ready.download_url);
  const archive = Buffer.from(await response.arrayBuffer());
  say(
    `downloaded through the link (HTTP ${response.status}, ${response.headers.get('content-disposition')}); the archive holds:`,
  );
  for (const entry of await listZip(archive)) {
    process.stdout.write(`  ${String(entry.size).padStart(10)}  ${entry.name}\n`);
  }
  process.stdout.write(`rows: ${JSON.stringify(ready.row_counts)}\n`);

  await exporter('status');
  say('done; the throwaway servers are stopped and their data deleted (so the link above stops working)');
} finally {
  await Promise.allSettled([s3.stop(), postgres.stop()]);
}

function listZip(buffer: Buffer): Promise<{ name: string; size: number }[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: false }, (err, zip) => {
      if (err || !zip) return reject(err);
      const entries: { name: string; size: number }[] = [];
      zip.on('entry', (e: yauzl.Entry) => entries.push({ name: e.fileName, size: e.uncompressedSize }));
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
    });
  });
}
