/**
 * The naive exporter, for the benchmark's comparison only: every row in
 * memory, JSON.stringify and csv-stringify in JavaScript, the whole ZIP in
 * memory, one PutObject. Run as a child process so that its memory is its own.
 * Prints {seconds, maxRssMb, bytes} as JSON.
 * Usage: node scripts/lib/naive-export.ts <user-id>   (settings from the environment, as for the CLI)
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ZipArchive } from 'archiver';
import { stringify } from 'csv-stringify/sync';
import pg from 'pg';
import { connect } from '../../src/db/connect.ts';
import { checkedDefinition } from '../../src/definition/checked-definition.ts';

const userId = process.argv[2]!;
const started = performance.now();
const handle = connect({ url: process.env.DATABASE_URL!, maxConnections: 1 });
const { entities } = await checkedDefinition(handle.db, process.env.EXPORT_DEFINITION);
await handle.close();
const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
await db.connect();
const zip = new ZipArchive({ zlib: { level: 1 } });
const chunks: Buffer[] = [];
zip.on('data', (c: Buffer) => chunks.push(c));
const ended = new Promise((r) => zip.on('end', r));
for (const entity of entities) {
  const user = `'${userId}'::uuid`;
  const columns = entity.columns
    .map((c) => `${(c.sql ?? `t.${c.name}`).replaceAll(':user', user)} as "${c.name}"`)
    .join(', ');
  const { rows } = await db.query(`select ${columns} from ${entity.from.replaceAll(':user', user)}`);
  zip.append(JSON.stringify(rows), { name: `json/${entity.name}.json` });
  zip.append(
    stringify(rows, {
      header: true,
      columns: entity.columns.map((c) => c.name),
      cast: { object: (o) => JSON.stringify(o), date: (d) => d.toISOString() },
    }),
    {
      name: `csv/${entity.name}.csv`,
    },
  );
}
await zip.finalize();
await ended;
await db.end();
const body = Buffer.concat(chunks);
const s3 = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  region: process.env.AWS_REGION ?? 'us-east-1',
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
});
await s3.send(new PutObjectCommand({ Bucket: process.env.S3_BUCKET, Key: `naive/${userId}.zip`, Body: body }));
s3.destroy();
process.stdout.write(
  `${JSON.stringify({ seconds: (performance.now() - started) / 1000, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), bytes: body.length })}\n`,
);
