import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { sweepStorage } from '../../src/passes/sweep.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { captureLogger } from '../support/harness.ts';

/*
 * s3rver answers ListMultipartUploads with NotImplemented, so the multipart
 * half of the sweep is tested here at the SDK boundary (and for real against
 * MinIO where Docker exists). No database is needed: with no old objects the
 * orphan half never asks it anything.
 */
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const NOW = new Date('2026-06-15T01:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3600_000);
/** Keys shaped like the exporter's archives (`<user>/<request>/<claim>.zip`), and one that is somebody else's. */
const archive = (n: number) =>
  `exports/u${n}/00000000-0000-4000-8000-00000000000${n}/10000000-0000-4000-8000-00000000000${n}.zip`;
const NOT_OURS = 'exports/u/1';

function storage() {
  const config = parseConfig({ bucket: 'exports-bucket', databaseUrl: 'postgres://x@localhost/x' });
  return new S3Storage(config.storage);
}

describe('the multipart sweep', () => {
  it("aborts uploads of archives started more than 24 h ago under the prefix, page after page, and leaves fresh ones and other keys' uploads", async () => {
    s3.on(ListMultipartUploadsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: archive(2),
        NextUploadIdMarker: 'up-2',
        Uploads: [
          { Key: archive(1), UploadId: 'up-1', Initiated: hoursAgo(30) },
          { Key: NOT_OURS, UploadId: 'up-x', Initiated: hoursAgo(30) },
          { Key: archive(2), UploadId: 'up-2', Initiated: hoursAgo(2) },
        ],
      })
      .resolvesOnce({ IsTruncated: false, Uploads: [{ Key: archive(3), UploadId: 'up-3', Initiated: hoursAgo(25) }] });
    s3.on(AbortMultipartUploadCommand).resolves({});
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const logger = captureLogger();

    const summary = await sweepStorage(
      {
        db: undefined as never,
        pool: undefined as never,
        storage: storage(),
        log: logger.log,
        clock: { now: () => NOW },
      },
      { dryRun: false, signal: new AbortController().signal },
    );

    expect(summary).toMatchObject({ uploadsAborted: 2, multipartSweep: 'done', errors: 0 });
    const listCalls = s3.commandCalls(ListMultipartUploadsCommand).map((c) => c.args[0].input);
    expect(listCalls).toEqual([
      { Bucket: 'exports-bucket', Prefix: 'exports/', KeyMarker: undefined, UploadIdMarker: undefined },
      { Bucket: 'exports-bucket', Prefix: 'exports/', KeyMarker: archive(2), UploadIdMarker: 'up-2' },
    ]);
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'exports-bucket', Key: archive(1), UploadId: 'up-1' },
      { Bucket: 'exports-bucket', Key: archive(3), UploadId: 'up-3' },
    ]);
  });

  it('a dry run aborts nothing', async () => {
    s3.on(ListMultipartUploadsCommand).resolves({
      IsTruncated: false,
      Uploads: [{ Key: archive(1), UploadId: 'up-1', Initiated: hoursAgo(48) }],
    });
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const summary = await sweepStorage(
      {
        db: undefined as never,
        pool: undefined as never,
        storage: storage(),
        log: captureLogger().log,
        clock: { now: () => NOW },
      },
      { dryRun: true, signal: new AbortController().signal },
    );
    expect(summary.uploadsAborted).toBe(1);
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
  });
});
