import { randomUUID } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runExpire } from '../../src/passes/expire.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import {
  captureLogger,
  createTestEnv,
  headObject,
  passDeps,
  requestRow,
  runCli,
  type TestEnv,
} from '../support/harness.ts';
import { insertRequest, insertUser } from '../support/seed.ts';

/*
 * What users and operators rely on from the storage, proven against an S3 API
 * that checks: signatures (headers and presigned queries), link expiry and
 * scope, encryption stored, multipart uploads listed with their real times.
 * s3rver checks none of it, so these tests refuse to run against it (and CI
 * never runs on it: the setup requires the RADOS Gateway there).
 */
const s3 = inject('s3');

describe.skipIf(s3.kind === 's3rver')(`storage that checks (${s3.kind})`, () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  const client = (accessKeyId: string, secretAccessKey: string) =>
    new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
    });
  const status = async (url: string) => (await fetch(url)).status;
  /** The URL with one query parameter changed (or added). */
  const withParam = (url: string, name: string, value: string) => {
    const u = new URL(url);
    u.searchParams.set(name, value);
    return u.toString();
  };

  it('the server refuses a wrong secret and an unknown access key: the suite can never fall back to one that checks nothing', async () => {
    const list = (c: S3Client) => c.send(new ListObjectsV2Command({ Bucket: env.bucket })).finally(() => c.destroy());
    await expect(list(client(s3.accessKeyId, `${s3.secretAccessKey}x`))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    await expect(list(client('AKIDONTKNOWTHIS', s3.secretAccessKey))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
    });
    await expect(list(client(s3.accessKeyId, s3.secretAccessKey))).resolves.toBeDefined();
  });

  it('an archive written with aws:kms keeps its encryption, type and file name; its link works as signed and not otherwise', async () => {
    expect(s3.kmsKeyId).toBeDefined();
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    const result = await runCli(['fulfill'], { ...env.cliEnv, S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: s3.kmsKeyId! });
    expect(result.code).toBe(0);
    const row = (await requestRow(env, id))!;
    const head = await headObject(env, row.object_key);
    const filename = `data-export-${new Date().toISOString().slice(0, 10)}.zip`;
    expect(head).toMatchObject({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: s3.kmsKeyId,
      ContentType: 'application/zip',
      ContentDisposition: `attachment; filename="${filename}"`,
    });

    const url: string = row.download_url;
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${filename}"`);
    expect(
      Buffer.from(await download.arrayBuffer())
        .subarray(0, 2)
        .toString(),
    ).toBe('PK');

    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    expect(
      await status(
        withParam(url, 'X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`),
      ),
    ).toBe(403);
    expect(await status(withParam(url, 'X-Amz-Expires', '604799'))).toBe(403);
    expect(await status(withParam(url, 'response-content-disposition', 'attachment; filename="other.zip"'))).toBe(403);
    const otherHost = new URL(url);
    otherHost.hostname = otherHost.hostname === '127.0.0.1' ? 'localhost' : '127.0.0.1';
    expect(await status(otherHost.toString())).toBe(403);

    // revoke: the archive is gone at once, so the link that was sent stops working.
    expect((await runCli(['revoke', id, '--reason', 'test'], env.cliEnv)).code).toBe(0);
    expect(await status(url)).toBe(404);
  });

  it('a link past its expiry is refused; `link --ttl` signs one that works, for the public endpoint when one is set', async () => {
    const user = await insertUser(env.admin);
    const id = await insertRequest(env.admin, user);
    expect((await runCli(['fulfill'], env.cliEnv)).code).toBe(0);
    const row = (await requestRow(env, id))!;

    // Our own signing, eight days ago with a seven-day lifetime: expired.
    const storage = new S3Storage(env.config().storage);
    const old = await storage.presign(row.object_key, {
      ttlSeconds: 7 * 86_400,
      signedAt: new Date(Date.now() - 8 * 86_400_000),
      filename: 'x.zip',
    });
    const fresh = await storage.presign(row.object_key, { ttlSeconds: 60, signedAt: new Date(), filename: 'x.zip' });
    storage.destroy();
    expect(await status(old.url)).toBe(403);
    expect(await status(fresh.url)).toBe(200);

    const link = await runCli(['link', id, '--ttl', '15m', '--json'], env.cliEnv);
    expect(link.code).toBe(0);
    const short = JSON.parse(link.stdout) as { url: string; expiresAt: string };
    expect(new URL(short.url).searchParams.get('X-Amz-Expires')).toBe('900');
    expect(await status(short.url)).toBe(200);

    // Users reach the storage at another address: the link is signed for it, and only for it.
    const publicEndpoint = s3.endpoint.replace('127.0.0.1', 'localhost');
    const viaPublic = await runCli(['link', id, '--json'], { ...env.cliEnv, S3_PUBLIC_ENDPOINT: publicEndpoint });
    const publicUrl = new URL((JSON.parse(viaPublic.stdout) as { url: string }).url);
    expect(publicUrl.host).toBe(new URL(publicEndpoint).host);
    expect(await status(publicUrl.toString())).toBe(200);
    publicUrl.hostname = '127.0.0.1';
    expect(await status(publicUrl.toString())).toBe(403);
  });

  it('the sweep lists multipart uploads with their real start times: one abandoned a day ago is aborted, a fresh one is left', async () => {
    // Shaped like an archive's key (the sweep touches nothing else).
    const abandoned = `exports/u/${randomUUID()}/${randomUUID()}.zip`;
    await env.s3Client.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: abandoned }));
    const pending = async () =>
      ((await env.s3Client.send(new ListMultipartUploadsCommand({ Bucket: env.bucket }))).Uploads ?? []).map(
        (u) => u.Key,
      );
    const sweep = async (now: Date) => {
      const deps = passDeps(env, captureLogger().log);
      deps.clock = { now: () => now };
      const summary = await runExpire(deps, { dryRun: false, signal: new AbortController().signal });
      deps.storage.destroy();
      return summary;
    };
    expect(await sweep(new Date())).toMatchObject({ uploadsAborted: 0, multipartSweep: 'done', errors: 0 });
    expect(await pending()).toEqual([abandoned]);
    // Two days later (the clock is set, not slept): it is aborted.
    expect(await sweep(new Date(Date.now() + 2 * 86_400_000))).toMatchObject({
      uploadsAborted: 1,
      multipartSweep: 'done',
      errors: 0,
    });
    expect(await pending()).toEqual([]);
  });
});
