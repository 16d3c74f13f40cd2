import { createHash } from 'node:crypto';
import { PassThrough, pipeline, Transform } from 'node:stream';
import { ArchiveTooLargeError, RowNotWritableError } from '../archive/archive-errors.ts';
import type { S3Storage } from '../storage/s3-storage.ts';
import { ArchiveClosedError, ZipWriter } from '../zip/zip-writer.ts';
import { asError } from './stop.ts';

/**
 * An archive on its way to storage: the ZIP writer, its bytes counted, and
 * the one multipart upload that takes them. Either side failing ends the
 * other. Whichever failed first is the cause; the other only echoes it (a
 * failed upload ends the archive early; a failed query aborts the upload).
 */
export class ArchivePipeline {
  readonly zip: ZipWriter;
  /** Bytes the archive has made so far: its size once finalized. */
  archiveBytes = 0;
  bytesUploaded = 0;
  /** The SHA-256 of the archive's bytes as they go to storage (the audit trail records it). */
  private readonly hash = createHash('sha256');
  /** The archive's expected size once the survey knows it: the upload sizes its parts by it. */
  expectedBytes: number | undefined;
  private readonly upload: Promise<void>;
  private firstFailure: unknown;
  /** The limit holds for what is written, not only for the estimate checked up front (writeArchive). */
  private tooLarge: ArchiveTooLargeError | undefined;

  constructor(
    storage: S3Storage,
    key: string,
    options: { filename: string; level: number; date: Date; maxArchiveBytes: number; signal: AbortSignal },
  ) {
    this.zip = new ZipWriter({
      level: options.level,
      date: options.date,
      limit: {
        maxBytes: options.maxArchiveBytes,
        tooLarge: (bytes) => (this.tooLarge = ArchiveTooLargeError.written(bytes, options.maxArchiveBytes)),
      },
    });
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.archiveBytes += chunk.length;
        this.hash.update(chunk);
        done(null, chunk);
      },
    });
    const body = new PassThrough();
    pipeline(this.zip.output, counter, body, () => {});
    this.upload = storage
      .upload(key, body, {
        contentDisposition: `attachment; filename="${options.filename}"`,
        signal: options.signal,
        onProgress: (bytes) => (this.bytesUploaded = bytes),
        expectedBytes: () => this.expectedBytes,
      })
      .catch((error: unknown) => {
        this.firstFailure ??= error;
        this.zip.abort(error as Error);
        throw error;
      });
    // Never leave a rejection unobserved while the archive is still being written.
    this.upload.catch(() => {});
    options.signal.addEventListener('abort', () => this.zip.abort(asError(options.signal.reason)), { once: true });
  }

  /** The archive's SHA-256, once it is whole. */
  sha256(): string {
    return this.hash.copy().digest('hex');
  }

  /** Resolves once the whole archive is in storage. */
  uploaded(): Promise<void> {
    return this.upload;
  }

  /**
   * After a failure of the build (`error`, or the reason it was stopped):
   * ends the archive and waits until no request of the upload is in flight,
   * so that a delete of the key afterwards is final (a complete that lands
   * later cannot resurrect it). Returns the cause: an archive over its limit
   * says so; a build stopped on purpose says why; an archive only cut short
   * because its upload died reports the upload's error.
   */
  async fail(error: unknown, stopped: { onPurpose: boolean; reason: unknown }): Promise<unknown> {
    this.firstFailure ??= error;
    this.zip.abort(error as Error);
    const uploadError: unknown = await this.upload.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (this.tooLarge) return this.tooLarge;
    if (stopped.onPurpose) return stopped.reason;
    // Found after the query failed (the same error had already ended the upload): it says which row and column, and that no retry helps.
    if (error instanceof RowNotWritableError) return error;
    return isEcho(this.firstFailure) ? (uploadError ?? this.firstFailure) : this.firstFailure;
  }
}

/** The errors a stream sees when another stage of the pipeline ended it. */
function isEcho(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (
    code === 'ABORT_ERR' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ERR_STREAM_DESTROYED' ||
    error instanceof ArchiveClosedError
  );
}
