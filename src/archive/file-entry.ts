import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { formatBytes } from '../byte-sizes.ts';
import { isAlreadyCompressed } from '../files/compression.ts';
import { type FileBody, FileRefusedError, type FileSource, MISSING } from '../files/sources.ts';
import type { FileOutcome, UserFileRecord } from '../model/archive.ts';
import { publicErrorText } from '../public-error.ts';
import { ZIP32_MAX } from '../zip/zip-format.ts';
import type { ZipEntry, ZipWriter } from '../zip/zip-writer.ts';
import { ArchiveTooLargeError, FileSourceError } from './archive-errors.ts';

/*
 * One of the user's files into the archive: held to the limits (its own,
 * the archive's), retried where the source can resume, and what became of
 * it recorded for the manifest. writeFiles (write-files.ts) lists the files
 * and reads them ahead; this writes each.
 */

/** What became of one of the user's files; manifest.json lists every one. */
export interface FileLimits {
  maxFileBytes: number;
  /** The request's last attempt: a file that cannot be read is listed as failed rather than failing the request again. */
  finalAttempt: boolean;
  /** EXPORT_MAX_ARCHIVE_BYTES: a file whose bytes would take the archive past it stops the archive before it is written. */
  maxArchiveBytes: number;
  /** Told why a file was not read or not included, with the detail the archive never holds (the error's message), for the log. */
  onNotIncluded?: (record: UserFileRecord, detail: string) => void;
}

export interface FileRef {
  path: string;
  locator: string;
  content_type: string | null;
  /** The database's size, when it is a whole number of bytes (fileListCopySql): a hint, never trusted. */
  size: number | null;
  /** The key (or URL) is inside the prefix the definition binds it to. */
  owned: boolean;
}

/** Tries per file (the first read and two more, each resuming where the last broke off). */
const TRIES = 3;
const RETRY_DELAY_MS = [0, 250, 1_000];
export async function writeOne(
  zip: ZipWriter,
  source: FileSource,
  entity: string,
  ref: FileRef,
  first: Promise<FileBody | typeof MISSING>,
  limits: FileLimits,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<UserFileRecord> {
  const record: RecordOf = (outcome, extra = {}) => ({ path: ref.path, entity, outcome, ...extra });
  let entry: ZipEntry | undefined;
  let etag: string | undefined;
  let resumable = false;
  let expected = 0;
  const progress = { written: 0 };
  for (let attempt = 1; ; attempt++) {
    let got: FileBody | typeof MISSING | undefined;
    try {
      got = attempt === 1 ? await first : await source.read(ref.locator, { from: progress.written, etag, signal });
      if (got === MISSING) {
        if (entry) throw new Error('the file disappeared while it was being read');
        return record('missing', { reason: 'it no longer exists where it was stored' });
      }
      if (!entry) {
        const opened = await openEntryFor(zip, source, ref, got, limits, signal, record);
        if (!('entry' in opened)) return opened;
        ({ entry, got } = opened);
        etag = got.etag;
        expected = got.bytes;
        resumable = got.resumable;
      }
      await copyInto(entry, got.body, progress, expected, onBytes);
      if (progress.written !== expected) throw new Error(`the source sent ${progress.written} of ${expected} bytes`);
      const file = entry.end();
      return record('included', { bytes: file.bytes, sha256: file.sha256 });
    } catch (error) {
      if (got && got !== MISSING) got.body.destroy();
      // The archive itself failed, or the build was stopped: nothing to retry here.
      if (error instanceof ArchiveWriteError) throw error.cause;
      if (signal.aborted) throw error;
      const permanent = error instanceof FileRefusedError;
      // A half-written entry goes on only where the source can resume at a byte offset; it cannot be taken back out of a streamed archive.
      if (attempt >= TRIES || permanent || (entry && !resumable)) {
        if (!entry && (limits.finalAttempt || permanent)) {
          // The person gets a category and a short code; the message (an address, a host) goes to the log only.
          const failed = record('failed', {
            reason: permanent ? error.publicText : publicErrorText(error, 'reading it'),
          });
          limits.onNotIncluded?.(failed, (error as Error).message);
          return failed;
        }
        throw new FileSourceError(source.name, error);
      }
      await delay(RETRY_DELAY_MS[attempt] ?? 1_000, undefined, { signal });
    }
  }
}

type RecordOf = (outcome: FileOutcome, extra?: Partial<UserFileRecord>) => UserFileRecord;

/**
 * A file's first body held to the limits and opened as its entry; or the
 * record that says why the file is not in the archive. A body of no length
 * the bytes can be held to (no Content-Length, or one the server compressed)
 * is counted first, never past the limit, then read again and held to that
 * count. The archive's own limit holds for the bytes that come, whatever the
 * database said of the file's size.
 */
async function openEntryFor(
  zip: ZipWriter,
  source: FileSource,
  ref: FileRef,
  first: FileBody,
  limits: FileLimits,
  signal: AbortSignal,
  record: RecordOf,
): Promise<{ entry: ZipEntry; got: FileBody } | UserFileRecord> {
  const tooLarge = (bytes?: number) =>
    record('too_large', {
      ...(bytes === undefined ? {} : { bytes }),
      reason: `it is larger${bytes === undefined ? '' : ` (${formatBytes(bytes)})`} than the ${formatBytes(limits.maxFileBytes)} one file in an archive may be`,
    });
  let got = first;
  if (!Number.isFinite(got.bytes)) {
    const counted = await countUpTo(got.body, limits.maxFileBytes);
    if (counted === undefined) return tooLarge();
    const again = await source.read(ref.locator, { signal });
    if (again === MISSING) return record('missing', { reason: 'it no longer exists where it was stored' });
    got = { ...again, bytes: counted };
  }
  try {
    if (got.bytes > limits.maxFileBytes) {
      got.body.destroy();
      return tooLarge(got.bytes);
    }
    if (zip.inputBytes + got.bytes > limits.maxArchiveBytes) {
      throw new ArchiveWriteError('over the limit', {
        cause: ArchiveTooLargeError.written(zip.inputBytes + got.bytes, limits.maxArchiveBytes),
      });
    }
    await zip.drained().catch((error: unknown) => {
      throw new ArchiveWriteError('the archive failed', { cause: error });
    });
    const entry = zip.openEntry(ref.path, {
      store: isAlreadyCompressed(ref.content_type ?? got.contentType, ref.path),
      // Near 4 GiB (deflate may add a little): ZIP64 sizes from the local header on.
      large: !(got.bytes < ZIP32_MAX * 0.99),
    });
    return { entry, got };
  } catch (error) {
    got.body.destroy();
    throw error;
  }
}

/** Reads a body to its end, counting: its length, or undefined (and the body let go) once it passes `limit`. */
async function countUpTo(body: Readable, limit: number): Promise<number | undefined> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > limit) {
      body.destroy();
      return undefined;
    }
  }
  return bytes;
}

/** An error of the archive, not of the source: it ends the build rather than being retried. */
class ArchiveWriteError extends Error {
  override name = 'ArchiveWriteError';
}

/**
 * Copies a body into the entry; `progress.written` counts what is in, so a
 * read that breaks off resumes from there. Never more than `expected` bytes:
 * a source that sends more than it announced is cut off before the excess.
 */
async function copyInto(
  entry: ZipEntry,
  body: Readable,
  progress: { written: number },
  expected: number,
  onBytes: (bytes: number) => void,
): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (progress.written + chunk.length > expected)
      throw new Error(`the source sent more than the ${expected} bytes it announced`);
    try {
      await entry.write(chunk);
    } catch (error) {
      throw new ArchiveWriteError('the archive failed', { cause: error });
    }
    progress.written += chunk.length;
    onBytes(chunk.length);
  }
}

/** The rows' files, read from the snapshot one line at a time (a user with many files is never held whole). */
