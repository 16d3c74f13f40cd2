import { StringDecoder } from 'node:string_decoder';
import { letGo } from '../memory-policy.ts';
import { type FileBody, type FileSource, type FileSources, MISSING } from '../files/sources.ts';
import { BinaryTextRows } from '../snapshot/binary-rows.ts';
import type { ExportEntity, ExportFile } from './entities.ts';
import { fileListCopySql } from './queries.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { ZipWriter } from '../zip/zip-writer.ts';
import { type FileLimits, type FileRef, type UserFileRecord, writeOne } from './file-entry.ts';

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
