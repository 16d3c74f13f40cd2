import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
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
  partSizeBytes: number;
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
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let uploadId: string | undefined;
  let failure: unknown;
  let uploaded = 0;

  const sendPart = (partNumber: number, data: Buffer) => {
    const sent = client
      .send(new UploadPartCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length }), {
        abortSignal: signal,
      })
      .then(
        (res) => {
          parts.push({ PartNumber: partNumber, ETag: res.ETag });
          uploaded += data.length;
          options.onProgress?.(uploaded);
        },
        (error: unknown) => {
          failure ??= error;
          body.destroy(error as Error); // stop the writer now, not when it next hands over a part
        },
      )
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
  };

  try {
    let first: Buffer | undefined;
    let count = 0;
    for await (const part of partsOf(body, options.partSizeBytes)) {
      if (failure) throw failure;
      count++;
      if (count === 1) {
        first = part; // one part only? then a single PUT, decided when the second arrives or the body ends
        continue;
      }
      if (count === 2) {
        const created = await client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal });
        uploadId = created.UploadId;
        sendPart(1, first!);
        first = undefined;
      }
      sendPart(count, part);
      while (inFlight.size >= options.queueSize && !failure) await Promise.race(inFlight);
    }
    if (uploadId === undefined) {
      const data = first ?? Buffer.alloc(0);
      signal.throwIfAborted();
      // No abort signal either: like a complete, a PUT whose body has left may still land after the client gave up on it.
      await client.send(new PutObjectCommand({ ...params, Body: data, ContentLength: data.length }));
      options.onProgress?.(data.length);
      return;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    signal.throwIfAborted();
    parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
    // No abort signal: see above.
    await client.send(new CompleteMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    uploadId = undefined;
  } catch (error) {
    // Settle everything this upload started before reporting, and leave no parts behind.
    await Promise.all(inFlight);
    if (uploadId !== undefined) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId })).catch(() => {});
    }
    throw signal.aborted ? abortReason(signal) : error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Cuts a stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* partsOf(body: Readable, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    held.push(chunk);
    heldBytes += chunk.length;
    while (heldBytes >= size) {
      const all = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
      yield all.subarray(0, size);
      const rest = all.subarray(size);
      held = rest.length > 0 ? [rest] : [];
      heldBytes = rest.length;
    }
  }
  if (heldBytes > 0) yield Buffer.concat(held, heldBytes);
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the upload was aborted'), { name: 'AbortError' });
}
