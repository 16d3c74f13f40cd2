import type pg from 'pg';
import type { ExportEntity, UserTable } from './entities.ts';
import { BatchedCopies } from './batched-copies.ts';
import type { CsvAheadOutcome } from './csv-ahead.ts';
import { archiveSchema } from './json-schema.ts';
import { buildManifest, type EntityManifest, type Manifest, writeManifest } from './manifest.ts';
import type { FileSources } from '../files/sources.ts';
import type { LeftOutFiles } from './queries.ts';
import { readmeText } from './readme.ts';
import { openSurveyed } from './survey.ts';
import { ArchiveTooLargeError } from './archive-errors.ts';
import type { FileLimits } from './file-entry.ts';
import { plannedFileBytes, writeFiles } from './write-files.ts';
import { type EntryLimits, writeEntity } from './write-entity.ts';
import type { ZipWriter } from '../zip/zip-writer.ts';

export class UserNotFoundError extends Error {
  override name = 'UserNotFoundError';
}

export interface ArchiveIdentity {
  requestId: string;
  userId: string;
  exporterVersion: string;
  schemaVersion: string;
}

export interface Progress {
  rowsTotal: number;
  rowsWritten: number;
  /** The user's files: bytes to read (known before the first byte) and read so far. */
  fileBytesTotal: number;
  fileBytesWritten: number;
}

export interface WriteArchiveOptions {
  pool: pg.Pool;
  zip: ZipWriter;
  /** What to export, in archive order, and whose (from the definition). */
  entities: readonly ExportEntity[];
  user: UserTable;
  identity: ArchiveIdentity;
  maxEntryBytes: number;
  /** An entity estimated at this many bytes of JSON or more has its CSV read at once on a second connection (below, not worth one). */
  parallelFromBytes: number;
  /** Where that CSV waits for its turn, deflated, in a file deleted at once; null keeps it in memory (bounded, then its reader waits). */
  spoolDir: string | null;
  /** Told of each CSV read ahead on the second connection: where it waited (disk or memory), or dropped (the JSON needed parts after all); or paired, a split entity's CSV from the same read as its JSON. */
  onCsvAhead?: (entity: string, outcome: CsvAheadOutcome) => void;
  /** Where the user's files are read from, and the limits on them. */
  files: FileSources;
  fileLimits: FileLimits;
  /** Refuse, before the first byte, an archive whose rows and files add up to more (before compression). */
  maxArchiveBytes: number;
  /** Refuse, before the first byte, an archive of more of the user's files than this. */
  maxFiles: number;
  /** Told the expected size (rows before compression, plus files) before the first byte: the upload sizes its parts by it. */
  onPlan?: (expectedBytes: number) => void;
  /** Called once the data is written, to learn when the link will expire (README.txt says so). */
  linkExpiry: () => Promise<Date>;
  onProgress?: (progress: Progress) => void;
  /** Told, once the snapshot has closed, how many seconds it was held open. */
  onSnapshotClosed?: (seconds: number) => void;
  /** Aborting it closes the snapshot's connection, ending whatever query is running. */
  signal?: AbortSignal;
}

/**
 * Writes a user's whole export into the ZIP from one consistent snapshot:
 * the user's files (files/), json/ and csv/ files per entity, schema.json,
 * README.txt, and manifest.json last. Knows nothing of the export bucket:
 * the caller consumes zip.output.
 */
export async function writeArchive(options: WriteArchiveOptions): Promise<Manifest> {
  const { pool, zip, identity } = options;
  const { snapshot, sizes } = await openSurveyed(pool, options.user, identity.userId, options.entities);
  const onAbort = () => void snapshot.close(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (!sizes) throw new UserNotFoundError('the user no longer exists');
    const signal = options.signal ?? new AbortController().signal;
    // Only entities whose rows point at files cost file queries (most users of most apps have none).
    const withFiles = options.entities.filter((e) => (sizes.get(e.name)?.files ?? 0) > 0);
    const fileCount = [...sizes.values()].reduce((sum, s) => sum + s.files, 0);
    if (fileCount > options.maxFiles) throw ArchiveTooLargeError.files(fileCount, options.maxFiles);
    const fileBytes = await plannedFileBytes(snapshot, withFiles, identity.userId, options.files, options.fileLimits, signal);
    const progress: Progress = { rowsTotal: 0, rowsWritten: 0, fileBytesTotal: fileBytes, fileBytesWritten: 0 };
    // Each row is written twice (JSON and CSV); progress counts both.
    for (const s of sizes.values()) progress.rowsTotal += 2 * s.rows;
    // The JSON estimate twice (JSON and CSV) is the rows' size before compression.
    const expectedBytes = fileBytes + 2 * [...sizes.values()].reduce((sum, s) => sum + s.estimatedJsonBytes, 0);
    if (expectedBytes > options.maxArchiveBytes) throw ArchiveTooLargeError.expected(expectedBytes, options.maxArchiveBytes);
    options.onPlan?.(expectedBytes);
    options.onProgress?.({ ...progress });

    // Files first: a row whose file could not be included then says so (a null path) instead of naming a file that is not there.
    const files = await writeFiles(snapshot, zip, withFiles, identity.userId, options.files, options.fileLimits, signal, (bytes) => {
      progress.fileBytesWritten += bytes;
      options.onProgress?.({ ...progress });
    });
    const notIncluded = files.filter((f) => f.outcome !== 'included');
    await snapshot.leaveOut(notIncluded.map((f) => f.path));
    const leftOut: LeftOutFiles = new Set(notIncluded.map((f) => f.entity));

    const entities: Record<string, EntityManifest> = {};
    const limits: EntryLimits = { maxEntryBytes: options.maxEntryBytes, parallelFromBytes: options.parallelFromBytes, spoolDir: options.spoolDir };
    const sizeOf = (entity: ExportEntity) => sizes.get(entity.name) ?? { rows: 0, estimatedJsonBytes: 0, files: 0 };
    let batch: BatchedCopies | undefined;
    for (const [index, entity] of options.entities.entries()) {
      // The small entities from here on (and empty ones between them) are read in one round trip.
      if (!batch?.covers(entity)) batch = BatchedCopies.start(snapshot, options.entities.slice(index), sizeOf, limits, identity.userId, leftOut);
      entities[entity.name] = await writeEntity({
        snapshot,
        source: batch ?? snapshot,
        zip,
        entity,
        userId: identity.userId,
        size: sizeOf(entity),
        limits,
        leftOut,
        onCsvAhead: options.onCsvAhead,
        onRows: (rows) => {
          progress.rowsWritten += rows;
          options.onProgress?.({ ...progress });
        },
      });
    }
    const linkExpiresAt = await options.linkExpiry();
    const manifest = buildManifest({ ...identity, asOf: snapshot.asOf, linkExpiresAt, entities, files });
    await zip.addText('schema.json', `${JSON.stringify(archiveSchema(options.entities), null, 2)}\n`);
    await zip.addText('README.txt', readmeText(manifest, options.entities));
    await writeManifest(zip, manifest);
    await snapshot.close();
    options.onSnapshotClosed?.(snapshot.heldSeconds!);
    return manifest;
  } catch (error) {
    await snapshot.close(error as Error);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
