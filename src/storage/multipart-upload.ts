import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface StreamUploadOptions {
  client: S3Client;
  /** Bucket, key and the object's headers (content type, disposition, encryption). */
  params: Omit<PutObjectCommandInput, 'Body'> & { Bucket: string; Key: string };
  /** The smallest part (but the last). */
  basePartBytes: number;
  /** The body's expected size, asked again for each part: the caller may learn it after the upload started, but before its first byte. */
  expectedBytes?: () => number | undefined;
  /** Parts in flight at once: memory is about (queueSize + 1) × partSizeBytes. */
  queueSize: number;
  signal: AbortSignal;
  onProgress?: (bytesUploaded: number) => void;
}

/**
 * Streams `body` into one object: a single PUT when it fits in one part, else
 * a multipart upload with `queueSize` parts in flight.
 *
 * The promise settles only once no request of this upload is in flight, so
 * the caller may trust what it sees afterwards. That is why this is not
 * lib-storage's `Upload`: its `done()` rejects the moment it is aborted while
 * a `CompleteMultipartUpload` may still be on its way, which then creates the
 * object after the caller has deleted it (an archive that outlived its
 * revocation). For the same reason the two requests that create the object,
 * the complete and a single PUT, are never aborted midway: an aborted request
 * whose body has left may still be carried out by the storage (or a proxy in
 * between) after the client gave up on it, so once sent it runs to its answer
 * (or the request timeout), and a caller that gives up on the archive deletes
 * the object after this settles. Parts may be aborted: no object exists
 * without a complete, and AbortMultipartUpload follows.
 */
export async function uploadStream(body: Readable, options: StreamUploadOptions): Promise<void> {
  const { client, params, signal } = options;
  const onAbort = () => body.destroy(abortReason(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  const upload = new PartsInFlight(body, options);
  try {
    let first: Buffer | undefined;
    let count = 0;
    const partSize = (sent: number, partsSent: number) =>
      nextPartSize(options.basePartBytes, options.expectedBytes?.(), sent, partsSent);
    for await (const part of partsOf(body, partSize, (size) => upload.take(size))) {
      upload.throwIfFailed();
      count++;
      if (count === 1) {
        first = part; // one part only? then a single PUT, decided when the second arrives or the body ends
        continue;
      }
      if (count === 2) {
        const created = await client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal });
        upload.uploadId = created.UploadId;
        upload.send(1, first!);
        first = undefined;
      }
      upload.send(count, part);
      await upload.room(options.queueSize);
    }
    if (upload.uploadId === undefined) {
      const data = first ?? Buffer.alloc(0);
      signal.throwIfAborted();
      // No abort signal either: like a complete, a PUT whose body has left may still land after the client gave up on it.
      await client.send(new PutObjectCommand({ ...params, Body: data, ContentLength: data.length }));
      options.onProgress?.(data.length);
      return;
    }
    await upload.complete();
  } catch (error) {
    // Settle everything this upload started before reporting, and leave no parts behind.
    await upload.abandon();
    throw signal.aborted ? abortReason(signal) : error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** One multipart upload's parts on their way: at most queueSize at once, their buffers reused, the first failure kept. */
class PartsInFlight {
  uploadId: string | undefined;
  private readonly done: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  // Buffers of parts whose upload has finished, filled again by the next
  // parts: a new 8 MiB buffer per part left dead parts for V8 to find only
  // at its next full collection (tens of MB more at the peak of a large archive).
  private readonly spare: Buffer[] = [];
  private failure: unknown;
  private uploaded = 0;
  private readonly body: Readable;
  private readonly options: StreamUploadOptions;

  constructor(body: Readable, options: StreamUploadOptions) {
    this.body = body;
    this.options = options;
  }

  /** A buffer for the next part: one a finished part let go, when its size is right. */
  take(size: number): Buffer {
    const reused = this.spare.pop();
    return reused?.length === size ? reused : Buffer.allocUnsafe(size);
  }

  send(partNumber: number, data: Buffer): void {
    const { client, params, signal } = this.options;
    const sent = client
      .send(
        new UploadPartCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: this.uploadId,
          PartNumber: partNumber,
          Body: data,
          ContentLength: data.length,
        }),
        {
          abortSignal: signal,
        },
      )
      .then(
        (res) => {
          this.done.push({ PartNumber: partNumber, ETag: res.ETag });
          this.uploaded += data.length;
          this.options.onProgress?.(this.uploaded);
          this.spare.push(data); // answered: the request is done with it
        },
        (error: unknown) => {
          this.failure ??= error;
          this.body.destroy(error as Error); // stop the writer now, not when it next hands over a part
        },
      )
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  /** Resolves once fewer than `queueSize` parts are in flight (or one has failed). */
  async room(queueSize: number): Promise<void> {
    while (this.inFlight.size >= queueSize && !this.failure) await Promise.race(this.inFlight);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Every part answered, then the complete (no abort signal: see uploadStream). */
  async complete(): Promise<void> {
    const { client, params, signal } = this.options;
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    signal.throwIfAborted();
    this.done.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: params.Bucket,
        Key: params.Key,
        UploadId: this.uploadId,
        MultipartUpload: { Parts: this.done },
      }),
    );
    this.uploadId = undefined;
  }

  /** Every request settled, and the upload aborted if it was started and not completed. */
  async abandon(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.uploadId === undefined) return;
    const { client, params } = this.options;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: this.uploadId }))
      .catch(() => {});
  }
}

/** S3 takes at most 10,000 parts of at most 5 GiB. */
export const MAX_PARTS = 10_000;
const MAX_PART_BYTES = 5 * 2 ** 30;

const MiB = 2 ** 20;

/**
 * The part size for an upload expected to be `expectedBytes` long: the base
 * size, or larger so that it fits in 9,000 parts (an archive of 200 GB needs
 * parts of about 22 MiB), leaving room for an estimate that falls short.
 */
export function partSizeFor(expectedBytes: number | undefined, baseBytes: number): number {
  if (!expectedBytes) return baseBytes;
  const needed = Math.ceil(expectedBytes / 9_000 / MiB) * MiB;
  return Math.min(MAX_PART_BYTES, Math.max(baseBytes, needed));
}

/**
 * The size of the next part, once `sentBytes` went out in `partsSent` parts:
 * as planned (partSizeFor), until more than the expected size has been sent.
 * Then the estimate was short (a size the application's database understated,
 * an archive never estimated), and each part is large enough that the parts
 * left could carry as much again as has been sent so far: parts grow only
 * as far as that needs, and the upload does not run out of S3's 10,000 parts
 * before 1 TiB, whatever the estimate (S3's 5 GiB parts cap it near 2 TiB;
 * the writer stops an archive at EXPORT_MAX_ARCHIVE_BYTES long before).
 */
export function nextPartSize(
  baseBytes: number,
  expectedBytes: number | undefined,
  sentBytes: number,
  partsSent: number,
): number {
  const planned = partSizeFor(expectedBytes, baseBytes);
  if (sentBytes < (expectedBytes ?? 0)) return planned;
  const partsLeft = Math.max(1, MAX_PARTS - partsSent - 1);
  const needed = Math.ceil(sentBytes / partsLeft / MiB) * MiB;
  return Math.min(MAX_PART_BYTES, Math.max(planned, needed));
}

/**
 * Cuts a stream into buffers of exactly the part size (the last may be
 * shorter), copying each chunk into the part as it arrives. Holding the
 * chunks until a part is full would hold whatever memory each one is a view
 * of: the archive's small chunks (a ZIP header, a small file) can each keep a
 * 64 KiB block alive, and ten thousand small files held 210 MB that way
 * (measured with a heap snapshot). The first part starts small and doubles:
 * most archives are a few KB, and 8 MiB allocated per request made V8 run a
 * full collection every few requests (light requests went from 42 to 22 per
 * second until it did).
 */
export async function* partsOf(
  body: Readable,
  partSize: (sentBytes: number, partsSent: number) => number,
  take: (size: number) => Buffer,
): AsyncGenerator<Buffer> {
  let size = 0;
  let part: Buffer | undefined;
  let filled = 0;
  let parts = 0;
  let sent = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      // Each part sized as it starts: by the first byte the writer has told how large the archive will be, and a part may grow if that was short.
      if (!part) size = partSize(sent, parts);
      part ??= parts === 0 ? Buffer.allocUnsafe(Math.min(size, FIRST_BUFFER_BYTES)) : take(size);
      if (filled === part.length) part = grown(part, size);
      const n = Math.min(chunk.length - offset, part.length - filled);
      chunk.copy(part, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === size) {
        if (++parts >= MAX_PARTS) throw new Error(`the archive needs more than ${MAX_PARTS} parts of ${size} bytes`);
        sent += size;
        yield part;
        part = undefined;
        filled = 0;
      }
    }
  }
  if (part && filled > 0) yield part.subarray(0, filled);
}

const FIRST_BUFFER_BYTES = 64 * 1024;

/** The buffer twice as large (at most `max`), with its bytes. */
function grown(buffer: Buffer, max: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.min(max, buffer.length * 2));
  buffer.copy(bigger);
  return bigger;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : Object.assign(new Error('the upload was aborted'), { name: 'AbortError' });
}
