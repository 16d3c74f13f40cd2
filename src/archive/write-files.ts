import { createHash } from 'node:crypto';
import { type FileBody, type FileSource, type FileSources, MISSING } from '../files/sources.ts';
import { letGo } from '../memory-policy.ts';
import type { UserFileRecord } from '../model/archive.ts';
import type { ZipWriter } from '../zip/zip-writer.ts';
import { type FileLimits, type FileRef, writeOne } from './file-entry.ts';
import type { FileList } from './file-list.ts';

/** The text of a file that is not the row owner's to read (its key outside key_prefix). */
const NOT_THE_USERS = "not the user's: it is stored outside the files of the row's owner";

/** Why a file is never read (not the owner's, or a key or URL no one meant), or undefined when it may be. */
function refusalOf(ref: FileRef, source: FileSource): string | undefined {
  return ref.owned ? source.refusal(ref.locator) : NOT_THE_USERS;
}

/** Small files are requested this many ahead, so that round trips overlap; their bodies wait in socket buffers. */
const READ_AHEAD = 8;
const SMALL_FILE_BYTES = 1 << 20;

/**
 * The user's files, before anything is written: how many bytes they add
 * (the database's size column, or a HEAD per file where there is none), to
 * size the upload's parts and refuse an archive over the limit up front.
 * Files above the per-file limit do not count: they will not be included.
 */
export async function plannedFileBytes(
  list: FileList,
  sources: FileSources,
  limits: FileLimits,
  signal: AbortSignal,
): Promise<number> {
  let total = 0;
  const heads = new Set<Promise<void>>();
  for await (const { file, ref } of list.entries()) {
    const source = sources.get(file.source);
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
  return total;
}

/**
 * The files of a row that the archive holds, each as its path and a digest
 * of the key or URL it was read from: a row read later (in the rows'
 * snapshot, after the downloads) names its file only where both match, so
 * that a row whose file changed meanwhile, or that is new, names none
 * rather than a file that is not its own (queries.ts, PathsKept). A digest,
 * not the locator itself: a URL may carry a signature, and the set is sent
 * back to the database.
 */
export function includedFileKey(path: string, locator: string): string {
  return `${path}\t${createHash('sha256').update(locator, 'utf8').digest('hex')}`;
}

export interface WrittenFiles {
  /** What became of each file, for the manifest. */
  records: UserFileRecord[];
  /** includedFileKey() of each file included. */
  included: string[];
}

/**
 * Writes every file of the list into the archive, under files/<entity>/…,
 * each streamed from its source straight into its ZIP entry (stored when
 * already compressed, deflated otherwise) and hashed on the way. Returns
 * what became of each. A file the source says does not exist is `missing`;
 * one above the limit `too_large`; one that keeps failing throws a
 * FileSourceError (the request is retried later) except on the last attempt,
 * where it is `failed`, so the person gets everything else.
 */
export async function writeFiles(
  list: FileList,
  zip: ZipWriter,
  sources: FileSources,
  limits: FileLimits,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<WrittenFiles> {
  const written: WrittenFiles = { records: [], included: [] };
  // Reads started ahead of the one being written, oldest first; a file never read waits its turn with its reason.
  const ahead: {
    entity: string;
    source: FileSource;
    ref: FileRef;
    first: Promise<FileBody | typeof MISSING>;
    refused?: string;
  }[] = [];
  const startRead = (entity: string, source: FileSource, ref: FileRef) => {
    const refused = refusalOf(ref, source);
    if (refused !== undefined)
      return void ahead.push({ entity, source, ref, first: Promise.resolve(MISSING), refused });
    const first = source.read(ref.locator, { signal });
    first.catch(() => {}); // observed when its turn comes
    ahead.push({ entity, source, ref, first });
  };
  const writeNext = async () => {
    const { entity, source, ref, first, refused } = ahead.shift()!;
    if (refused !== undefined) {
      const record: UserFileRecord = { path: ref.path, entity, outcome: 'failed', reason: refused };
      limits.onNotIncluded?.(record, refused);
      written.records.push(record);
    } else {
      const record = await writeOne(zip, source, entity, ref, first, limits, signal, onBytes);
      written.records.push(record);
      if (record.outcome === 'included') written.included.push(includedFileKey(ref.path, ref.locator));
    }
    letGo({ files: 1 }); // each file's GET leaves garbage V8 is slow to reclaim (src/memory-policy.ts)
  };
  try {
    for await (const { entity, file, ref } of list.entries()) {
      // Big or unknown sizes are read one at a time; small ones overlap their round trips.
      const alone = ref.size === null || ref.size > SMALL_FILE_BYTES;
      if (alone) while (ahead.length > 0) await writeNext();
      startRead(entity.name, sources.get(file.source), ref);
      if (alone || ahead.length >= READ_AHEAD) await writeNext();
    }
    while (ahead.length > 0) await writeNext();
  } finally {
    // Reads started ahead of a failure: close their connections.
    for (const { first } of ahead.splice(0))
      void first.then(
        (got) => got !== MISSING && got.body.destroy(),
        () => {},
      );
  }
  return written;
}
