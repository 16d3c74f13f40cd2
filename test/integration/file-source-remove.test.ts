import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MISSING } from '../../src/files/file-source.ts';
import { S3FileSource } from '../../src/files/s3-source.ts';

/**
 * An erasure's delete of a person's file on a store with no versions API
 * (s3rver refuses ListObjectVersions with 405, as some S3-compatible services
 * do): it keeps no versions, so the delete is the whole of it, and the
 * erasure is not failed for asking. The versioned case runs on the RADOS
 * Gateway in erasure.test.ts.
 */
describe('a file source without a versions API', () => {
  const s3 = inject('s3rver');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  afterAll(() => client.destroy());

  it('deletes the file, finds it gone, and says whether it was there', async () => {
    const bucket = `r-${randomUUID().slice(0, 18)}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'uploads/a/one.png', Body: 'one' }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'uploads/a/one.png.kept', Body: 'kept' }));
    const source = new S3FileSource('uploads', client, bucket, 'uploads/', undefined);
    const signal = new AbortController().signal;
    expect(await source.remove('a/one.png', signal)).toBe(true);
    expect(await source.head('a/one.png', signal)).toBe(MISSING);
    expect(await source.head('a/one.png.kept', signal)).not.toBe(MISSING);
    expect(await source.remove('a/one.png', signal)).toBe(false);
  });
});
