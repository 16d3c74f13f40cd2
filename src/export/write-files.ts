import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as delay } from 'node:timers/promises';
import { formatBytes } from '../byte-sizes.ts';
import { ArchiveTooLargeError, FileSourceError } from './archive-errors.ts';
import { letGo } from '../memory-policy.ts';
import { isAlreadyCompressed } from '../files/compression.ts';
import { publicErrorText } from '../public-error.ts';
import { type FileBody, FileRefusedError, type FileSource, type FileSources, MISSING } from '../files/sources.ts';
import { BinaryTextRows } from '../snapshot/binary-rows.ts';
import type { ExportEntity, ExportFile } from './entities.ts';
import { fileListCopySql } from './queries.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import { ZIP32_MAX } from '../zip/zip-format.ts';
import type { ZipEntry, ZipWriter } from '../zip/zip-writer.ts';

/** What became of one of the user's files; manifest.json lists every one. */
export type FileOutcome = 'included' | 'missing' | 'too_large' | 'failed';

export interface UserFileRecord {
  /** Where the file is in the archive (for one not included: where it would have been). */
  path: string;
  entity: string;
  outcome: FileOutcome;
  /** included: its bytes in the archive; too_large: its size at the source. */
  bytes?: number;
  sha256?: string;
  /** Why it is not included, in plain words. */
  reason?: string;
}

export interface FileLimits {
  maxFileBytes: number;
  /** The request's last attempt: a file that cannot be read is listed as failed rather than failing the request again. */
  finalAttempt: boolean;
  /** EXPORT_MAX_ARCHIVE_BYTES: a file whose bytes would take the archive past it stops the archive before it is written. */
  maxArchiveBytes: number;
  /** Told why a file was not read or not included, with the detail the archive never holds (the error's message), for the log. */
  onNotIncluded?: (record: UserFileRecord, detail: string) => void;
}

interface FileRef {
  path: string;
  locator: string;
  content_type: string | null;
  /** The database's size, when it is a whole number of bytes (fileListCopySql): a hint, never trusted. */
  size: number | null;
  /** The key (or URL) is inside the prefix the definition binds it to. */
  owned: boolean;
}

/** The text of a file that is not the row owner's to read (its key outside key_prefix). */
const NOT_THE_USERS = "not the user's: it is stored outside the files of the row's owner";

/** Why a file is never read (not the owner's, or a key or URL no one meant), or undefined when it may be. */
function refusalOf(ref: FileRef, source: FileSource): string | undefined {
  return ref.owned ? source.refusal(ref.locator) : NOT_THE_USERS;
}

/** Tries per file (the first read and two more, each resuming where the last broke off). */
const TRIES = 3;
const RETRY_DELAY_MS = [0, 250, 1_000];
/** Small files are requested this many ahead, so that round trips overlap; their bodies wait in socket buffers. */
const READ_AHEAD = 8;
const SMALL_FILE_BYTES = 1 << 20;

/**
 * The user's files, before anything is written: how many bytes they add
 * (the database's size column, or a HEAD per file where there is none), to
 * size the upload's parts and refuse an archive over the limit up front.
 * Files above the per-file limit do not count: they will not be included.
 */
export async function plannedFileBytes(snapshot: Snapshot, entities: readonly ExportEntity[], userId: string, sources: FileSources, limits: FileLimits, signal: AbortSignal): Promise<number> {
  let total = 0;
  for (const entity of entities) {
    for (const file of entity.files) {
      const source = sources.get(file.source);
      const heads = new Set<Promise<void>>();
      for await (const ref of fileRefs(snapshot, entity, file, userId)) {
        if (refusalOf(ref, source) !== undefined) continue;
        if (ref.size !== null) {
          if (ref.size <= limits.maxFileBytes) total += ref.size;
          continue;
        }
        const head: Promise<void> = source
          .head(ref.locator, signal)
          .then((h) => {
            if (h !== MISSING && Number.isFinite(h.bytes) && h.bytes <= limits.maxFileBytes) total += h.bytes;
          })
          // A HEAD that fails only leaves the estimate short; the read itself retries and decides.
          .catch(() => {})
          .finally(() => heads.delete(head));
        heads.add(head);
        if (heads.size >= READ_AHEAD) await Promise.race(heads);
      }
      await Promise.all(heads);
    }
  }
  return total;
}

/**
 * Writes every file the user's rows point at into the archive, under
 * files/<entity>/…, each streamed from its source straight into its ZIP entry
 * (stored when already compressed, deflated otherwise) and hashed on the way.
 * Returns what became of each. A file the source says does not exist is
 * `missing`; one above the limit `too_large`; one that keeps failing throws a
 * FileSourceError (the request is retried later) except on the last attempt,
 * where it is `failed`, so the person gets everything else.
 */
export async function writeFiles(
  snapshot: Snapshot,
  zip: ZipWriter,
  entities: readonly ExportEntity[],
  userId: string,
  sources: FileSources,
  limits: FileLimits,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<UserFileRecord[]> {
  const records: UserFileRecord[] = [];
  for (const entity of entities) {
    for (const file of entity.files) {
      const source = sources.get(file.source);
      // Reads started ahead of the one being written, oldest first; a file never read waits its turn with its reason.
      const ahead: { ref: FileRef; first: Promise<FileBody | typeof MISSING>; refused?: string }[] = [];
      const startRead = (ref: FileRef) => {
        const refused = refusalOf(ref, source);
        if (refused !== undefined) return void ahead.push({ ref, first: Promise.resolve(MISSING), refused });
        const first = source.read(ref.locator, { signal });
        first.catch(() => {}); // observed when its turn comes
        ahead.push({ ref, first });
      };
      const writeNext = async () => {
        const { ref, first, refused } = ahead.shift()!;
        if (refused !== undefined) {
          const record: UserFileRecord = { path: ref.path, entity: entity.name, outcome: 'failed', reason: refused };
          limits.onNotIncluded?.(record, refused);
          records.push(record);
        } else records.push(await writeOne(zip, source, entity.name, ref, first, limits, signal, onBytes));
        letGo({ files: 1 }); // each file's GET leaves garbage V8 is slow to reclaim (src/memory-policy.ts)
      };
      try {
        for await (const ref of fileRefs(snapshot, entity, file, userId)) {
          // Big or unknown sizes are read one at a time; small ones overlap their round trips.
          const alone = ref.size === null || ref.size > SMALL_FILE_BYTES;
          if (alone) while (ahead.length > 0) await writeNext();
          startRead(ref);
          if (alone || ahead.length >= READ_AHEAD) await writeNext();
        }
        while (ahead.length > 0) await writeNext();
      } finally {
        // Reads started ahead of a failure: close their connections.
        for (const { first } of ahead.splice(0)) void first.then((got) => got !== MISSING && got.body.destroy(), () => {});
      }
    }
  }
  return records;
}

async function writeOne(
  zip: ZipWriter,
  source: FileSource,
  entity: string,
  ref: FileRef,
  first: Promise<FileBody | typeof MISSING>,
  limits: FileLimits,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<UserFileRecord> {
  const record = (outcome: FileOutcome, extra: Partial<UserFileRecord> = {}): UserFileRecord => ({ path: ref.path, entity, outcome, ...extra });
  const tooLarge = (bytes?: number) =>
    record('too_large', {
      ...(bytes === undefined ? {} : { bytes }),
      reason: `it is larger${bytes === undefined ? '' : ` (${formatBytes(bytes)})`} than the ${formatBytes(limits.maxFileBytes)} one file in an archive may be`,
    });
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
        if (!Number.isFinite(got.bytes)) {
          // No length the bytes can be held to (no Content-Length, or a body the
          // server compressed): counted first, never past the limit, then read
          // again into the archive and held to that count.
          const counted = await countUpTo(got.body, limits.maxFileBytes);
          if (counted === undefined) return tooLarge();
          got = await source.read(ref.locator, { signal });
          if (got === MISSING) return record('missing', { reason: 'it no longer exists where it was stored' });
          got.bytes = counted;
        }
        if (got.bytes > limits.maxFileBytes) {
          got.body.destroy();
          return tooLarge(got.bytes);
        }
        // The archive's limit holds for the bytes that come, whatever the database said of the file's size.
        if (zip.inputBytes + got.bytes > limits.maxArchiveBytes) {
          throw new ArchiveWriteError('over the limit', { cause: ArchiveTooLargeError.written(zip.inputBytes + got.bytes, limits.maxArchiveBytes) });
        }
        await zip.drained().catch((error: unknown) => {
          throw new ArchiveWriteError('the archive failed', { cause: error });
        });
        entry = zip.openEntry(ref.path, {
          store: isAlreadyCompressed(ref.content_type ?? got.contentType, ref.path),
          // Near 4 GiB (deflate may add a little): ZIP64 sizes from the local header on.
          large: !(got.bytes < ZIP32_MAX * 0.99),
        });
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
          const failed = record('failed', { reason: permanent ? error.publicText : publicErrorText(error, 'reading it') });
          limits.onNotIncluded?.(failed, (error as Error).message);
          return failed;
        }
        throw new FileSourceError(source.name, error);
      }
      await delay(RETRY_DELAY_MS[attempt] ?? 1_000, undefined, { signal });
    }
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
async function copyInto(entry: ZipEntry, body: Readable, progress: { written: number }, expected: number, onBytes: (bytes: number) => void): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (progress.written + chunk.length > expected) throw new Error(`the source sent more than the ${expected} bytes it announced`);
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
async function* fileRefs(snapshot: Snapshot, entity: ExportEntity, file: ExportFile, userId: string): AsyncGenerator<FileRef> {
  let rest = '';
  const rows = new BinaryTextRows();
  const utf8 = new StringDecoder('utf8'); // a character may span two chunks
  for await (const chunk of snapshot.copy(fileListCopySql(entity, file, userId)) as AsyncIterable<Buffer>) {
    const lines = (rest + utf8.write(rows.push(chunk))).split('\n');
    rest = lines.pop()!;
    for (const line of lines) yield JSON.parse(line) as FileRef;
  }
  rows.end();
}
