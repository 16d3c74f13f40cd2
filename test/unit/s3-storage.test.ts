import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import type { RawSettings } from '../../src/settings.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';

/*
 * What s3rver cannot show (it stores no encryption headers and checks no
 * signatures), checked at the SDK boundary: the request the SDK is asked to
 * send, and the URL it signs.
 */
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
function storage(raw: RawSettings = {}, creds: unknown = credentials) {
  const config = parseConfig({ bucket: 'exports-bucket', databaseUrl: 'postgres://x@localhost/x', ...raw });
  return new S3Storage({ ...config.storage, credentials: creds as never });
}
const upload = (st: S3Storage, bytes: number) =>
  st.upload('exports/u/r/c.zip', Readable.from([Buffer.alloc(bytes)]), {
    contentDisposition: 'attachment; filename="a.zip"',
    signal: new AbortController().signal,
  });

describe('every archive is written with server-side encryption', () => {
  it('AES256 by default, on a single PUT', async () => {
    s3.on(PutObjectCommand).resolves({});
    await upload(storage(), 1024);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'exports-bucket',
      Key: 'exports/u/r/c.zip',
      ContentType: 'application/zip',
      ContentDisposition: 'attachment; filename="a.zip"',
      ServerSideEncryption: 'AES256',
    });
  });

  it('aws:kms with the key id, on a multipart upload', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u1' });
    s3.on(UploadPartCommand).resolves({ ETag: '"e"' });
    s3.on(CompleteMultipartUploadCommand).resolves({});
    await upload(
      storage({ sse: 'aws:kms', sseKmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc' }),
      20 * 1024 * 1024,
    );
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toMatchObject({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
    });
    expect(s3.commandCalls(UploadPartCommand).length).toBeGreaterThan(1);
  });
});

describe('presigned links', () => {
  const signedAt = new Date('2026-11-22T01:00:00Z');

  it('are signed for exactly one object: another key gets another signature', async () => {
    const st = storage();
    const a = new URL(
      (await st.presign('exports/u/r/a.zip', { ttlSeconds: 604_800, signedAt, filename: 'f.zip' })).url,
    );
    const b = new URL(
      (await st.presign('exports/u/r/b.zip', { ttlSeconds: 604_800, signedAt, filename: 'f.zip' })).url,
    );
    expect(a.pathname).toBe('/exports/u/r/a.zip');
    expect(a.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(a.searchParams.get('X-Amz-Expires')).toBe('604800');
    expect(a.searchParams.get('response-content-disposition')).toBe('attachment; filename="f.zip"');
    expect(a.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(a.searchParams.get('X-Amz-Signature')).not.toBe(b.searchParams.get('X-Amz-Signature'));
  });

  it('die with temporary credentials: the real expiry is reported, not the lifetime asked for', async () => {
    const expiration = new Date(signedAt.getTime() + 3600_000);
    const st = storage({}, async () => ({ ...credentials, sessionToken: 'FwoGZXIvYXdzEJr', expiration }));
    const link = await st.presign('exports/u/r/a.zip', { ttlSeconds: 604_800, signedAt, filename: 'f.zip' });
    expect(link.credentialsExpireFirst).toBe(true);
    expect(link.expiresAt).toEqual(expiration);

    const longLived = await storage().presign('exports/u/r/a.zip', {
      ttlSeconds: 604_800,
      signedAt,
      filename: 'f.zip',
    });
    expect(longLived.credentialsExpireFirst).toBe(false);
    expect(longLived.expiresAt).toEqual(new Date(signedAt.getTime() + 604_800_000));
  });

  it('are signed for S3_PUBLIC_ENDPOINT when users reach storage at another address', async () => {
    const st = storage({
      s3Endpoint: 'http://minio.internal:9000',
      s3PublicEndpoint: 'https://files.example.com',
      s3ForcePathStyle: 'true',
    });
    const url = new URL((await st.presign('exports/u/r/a.zip', { ttlSeconds: 900, signedAt, filename: 'f.zip' })).url);
    expect(url.origin).toBe('https://files.example.com');
    expect(url.pathname).toBe('/exports-bucket/exports/u/r/a.zip');
  });
});

describe('an archive key from a user id of any key type', () => {
  const storage = () =>
    new S3Storage(parseConfig({ databaseUrl: 'postgres://x@localhost/db', bucket: 'exports-bucket' }).storage);
  const request = '00000000-0000-4000-8000-000000000001';
  it('keeps a uuid or a number as it is, and makes any other text one segment that no server resolves', () => {
    const s = storage();
    expect(s.objectKey('c0ffee00-0000-4000-8000-000000000000', request, request)).toBe(
      `exports/c0ffee00-0000-4000-8000-000000000000/${request}/${request}.zip`,
    );
    expect(s.objectKey('42', request, request)).toBe(`exports/42/${request}/${request}.zip`);
    for (const hostile of ['..', '.', 'a/../../b', 'a/b', '../exports-other', 'ünï cødé', '%2F']) {
      const key = s.objectKey(hostile, request, request);
      expect(key.split('/'), hostile).toHaveLength(4);
      expect(key.split('/')[1], hostile).not.toMatch(/^\.{1,2}$|\//);
      expect(s.isArchiveKey(key), hostile).toBe(true);
    }
    expect(s.objectKey('x'.repeat(500), request, request)).toMatch(/^exports\/sha256-[0-9a-f]{64}\//);
  });
});
