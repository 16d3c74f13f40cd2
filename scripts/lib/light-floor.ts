import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import type { S3Info } from './embedded.ts';
import { entitySelects } from './floor.ts';

/**
 * The floor for light requests: per request, only what cannot be avoided,
 * at the exporter's concurrency in one process: the person's rows read in
 * one snapshot (every entity's rows as CSV and as JSON, in one round trip
 * with the transaction's begin and end), then one PutObject of as many bytes
 * as the exporter's archive of them. No claim, no progress, no manifest, no
 * ZIP, no link: the light figure is the exporter's throughput over this one's
 * (BENCHMARKS.md).
 */
export async function lightFloor(
  databaseUrl: string,
  s3: S3Info,
  bucket: string,
  users: readonly string[],
  archiveBytes: number,
  concurrency: number,
): Promise<number> {
  const selects = await entitySelects(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const body = Buffer.alloc(archiveBytes, 7);
  const queue = [...users];
  const started = performance.now();
  try {
    const slot = async () => {
      for (let user = queue.shift(); user !== undefined; user = queue.shift()) {
        const literal = `'${user}'::uuid`;
        const reads = selects.flatMap((select) => {
          const rows = select.replaceAll(':user', literal);
          return [rows, `select row_to_json(r)::text from (${rows}) r`];
        });
        await pool.query(['begin isolation level repeatable read, read only', ...reads, 'commit'].join(';\n'));
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `floor/${user}.zip`, Body: body }));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, slot));
    return (performance.now() - started) / 1000;
  } finally {
    await pool.end();
    client.destroy();
  }
}
