import type { FileSources } from '../files/sources.ts';
import type { EntityManifest, Manifest, UserFileRecord } from '../model/archive.ts';
import { PROCESSING_FIELDS, type Processing } from '../model/definition.ts';
import type { ExportEntity, UserTable } from '../model/entities.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { SnapshotSource } from '../snapshot/snapshot-source.ts';
import { ArchiveViewer } from '../viewer/write-viewer.ts';
import type { ZipWriter } from '../zip/zip-writer.ts';
import { ArchiveTooLargeError } from './archive-errors.ts';
import { BatchedCopies } from './batched-copies.ts';
import type { CsvAheadOutcome } from './csv-ahead.ts';
import type { FileLimits } from './file-entry.ts';
import { FileList } from './file-list.ts';
import { archiveSchema } from './json-schema.ts';
import { buildManifest, writeManifest } from './manifest.ts';
import type { PathsKept } from './queries.ts';
import { readmeText } from './readme.ts';
import { type EntitySize, openSurveyed } from './survey.ts';
import { unwritableRow } from './unwritable-row.ts';
import { type EntryLimits, writeEntity } from './write-entity.ts';
import { plannedFileBytes, writeFiles } from './write-files.ts';

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

/** An archive's limits, from the settings and the request's attempt. */
export interface ArchiveLimits {
  maxEntryBytes: number;
  /** An entity estimated at this many bytes of JSON or more has its CSV read at once on a second connection (below, not worth one). */
  parallelFromBytes: number;
  /** Where that CSV waits for its turn, deflated, in a file deleted at once, and the list of the user's files while they download; null keeps them in memory (the CSV bounded, then its reader waits). */
  spoolDir: string | null;
  /** Refuse, before the first byte, an archive whose rows and files add up to more (before compression). */
  maxArchiveBytes: number;
  /** Refuse, before the first byte, an archive of more of the user's files than this. */
  maxFiles: number;
  maxFileBytes: number;
  /** The request's last attempt: a file that cannot be read is listed as failed rather than failing the request again. */
  finalAttempt: boolean;
}

/** What one archive is to hold, and its limits: all of it known before its first byte, the link's expiry included. */
export interface ArchivePlan {
  identity: ArchiveIdentity;
  /** What to export, in archive order, and whose (from the definition). */
  entities: readonly ExportEntity[];
  user: UserTable;
  /** Where the user's files are read from. */
  files: FileSources;
  limits: ArchiveLimits;
  /** When the download link stops working (README.txt and manifest.json say so). */
  linkExpiresAt: Date;
  /** index.html and viewer/: a page showing at most `rows` rows per entity (absent: no viewer). */
  viewer?: { rows: number };
}

/** What the writer tells whoever runs it, as it goes: one sink, never asked anything back. */
export interface ArchiveEvents {
  /** The expected size (rows before compression, plus files), before the first byte: the upload sizes its parts by it. */
  planned(expectedBytes: number): void;
  progress(progress: Progress): void;
  /** A CSV read ahead on the second connection: where it waited (disk or memory), or dropped (the JSON needed parts after all); or paired, a split entity's CSV from the same read as its JSON. */
  csvAhead(entity: string, outcome: CsvAheadOutcome): void;
  /** Why one of the user's files was not read or not included, with the detail the archive never holds (the error's message), for the log. */
  fileNotIncluded(record: UserFileRecord, detail: string): void;
  /** Once the last snapshot has closed: how many seconds snapshots were held open (both, for a user with files). */
  snapshotClosed(seconds: number): void;
}

/** Where an archive is written from and to: the application's database (the primary, or a replica caught up with the claim), the ZIP, and the signal that stops it. */
export interface ArchiveIo {
  reads: SnapshotSource;
  zip: ZipWriter;
  /** Aborting it closes the open snapshot's connection, ending whatever query is running. */
  signal?: AbortSignal;
}

/** One archive being written: what it is given. */
interface Writing extends ArchiveIo {
  plan: ArchivePlan;
  events: ArchiveEvents;
}

/** The snapshot open now (none while the user's files download), closed on abort, and the time snapshots were held. */
class Snapshots {
  open: Snapshot | undefined;
  heldSeconds = 0;

  async close(error?: Error): Promise<void> {
    const snapshot = this.open;
    this.open = undefined;
    await snapshot?.close(error);
    // To the millisecond, as each snapshot's own (no 0.30000000000000004 in the log).
    if (snapshot) this.heldSeconds = Math.round((this.heldSeconds + snapshot.heldSeconds!) * 1000) / 1000;
  }
}

/**
 * Writes a user's whole export into the ZIP: the user's files (files/),
 * json/ and csv/ files per entity, schema.json, README.txt, and manifest.json
 * last. Knows nothing of the export bucket: the caller consumes zip.output.
 *
 * Every row comes from one consistent snapshot. For a user with files there
 * are two, and no transaction is open while the files download (file-list.ts
 * says why): the first lists the files and closes; the files download; the
 * second reads the rows, each naming its file only where the archive holds
 * that very file (queries.ts, PathsKept). Files first, so that a row whose
 * file could not be included says so (a null path) instead of naming a file
 * that is not there.
 */
export async function writeArchive(io: ArchiveIo, plan: ArchivePlan, events: ArchiveEvents): Promise<Manifest> {
  const options: Writing = { ...io, plan, events };
  const { reads } = options;
  const { identity } = plan;
  const snapshots = new Snapshots();
  const onAbort = () =>
    void snapshots.close(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const first = await openSurveyed(reads, options.plan.user, identity.userId, options.plan.entities);
    snapshots.open = first.snapshot;
    if (options.signal?.aborted) onAbort();
    if (!first.sizes) throw new UserNotFoundError('the user no longer exists');
    // Only entities whose rows point at files cost file queries (most users of most apps have none).
    const withFiles = options.plan.entities.filter((e) => (first.sizes!.get(e.name)?.files ?? 0) > 0);
    const fileCount = [...first.sizes.values()].reduce((sum, s) => sum + s.files, 0);
    if (fileCount > options.plan.limits.maxFiles)
      throw ArchiveTooLargeError.files(fileCount, options.plan.limits.maxFiles);
    const progress: Progress = {
      rowsTotal: rowsOf(first.sizes),
      rowsWritten: 0,
      fileBytesTotal: 0,
      fileBytesWritten: 0,
    };
    if (withFiles.length === 0) {
      planArchive(options, first.sizes, progress);
      return await writeRows(options, snapshots, first, [], 'all', progress);
    }
    const list = await FileList.read(first.snapshot, withFiles, identity.userId, options.plan.limits.spoolDir);
    try {
      await snapshots.close();
      const written = await writeListedFiles(options, list, first.sizes, progress);
      const second = await openSurveyed(reads, options.plan.user, identity.userId, options.plan.entities);
      snapshots.open = second.snapshot;
      if (options.signal?.aborted) onAbort();
      if (!second.sizes) throw new UserNotFoundError('the user no longer exists');
      await second.snapshot.keepFiles(written.included);
      progress.rowsTotal = rowsOf(second.sizes);
      return await writeRows(options, snapshots, second, written.records, 'included', progress);
    } finally {
      await list.close();
    }
  } catch (error) {
    await snapshots.close(error as Error);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The limits on the user's files, and where a file not included is told. */
function fileLimitsOf(options: Writing): FileLimits {
  const { maxFileBytes, finalAttempt, maxArchiveBytes } = options.plan.limits;
  return {
    maxFileBytes,
    finalAttempt,
    maxArchiveBytes,
    onNotIncluded: (record, detail) => options.events.fileNotIncluded(record, detail),
  };
}

/** manifest.json's `processing`: each entity's Art. 15 information with the definition's keys; nothing when no entity has any. */
function processingOf(entities: readonly ExportEntity[]): { processing?: Manifest['processing'] } {
  const described = entities.filter((e) => e.processing);
  if (described.length === 0) return {};
  const yaml = (p: Processing) =>
    Object.fromEntries(PROCESSING_FIELDS.filter((f) => p[f.key] !== undefined).map((f) => [f.yaml, p[f.key]!]));
  return { processing: Object.fromEntries(described.map((e) => [e.name, yaml(e.processing!)])) };
}

/** Each row is written twice (JSON and CSV); progress counts both. */
function rowsOf(sizes: ReadonlyMap<string, EntitySize>): number {
  return 2 * [...sizes.values()].reduce((sum, s) => sum + s.rows, 0);
}

/** Refuses an archive over the limit before its first byte, and tells the upload what to expect. */
function planArchive(options: Writing, sizes: ReadonlyMap<string, EntitySize>, progress: Progress): void {
  // The JSON estimate twice (JSON and CSV) is the rows' size before compression.
  const expectedBytes =
    progress.fileBytesTotal + 2 * [...sizes.values()].reduce((sum, s) => sum + s.estimatedJsonBytes, 0);
  if (expectedBytes > options.plan.limits.maxArchiveBytes)
    throw ArchiveTooLargeError.expected(expectedBytes, options.plan.limits.maxArchiveBytes);
  options.events.planned(expectedBytes);
  options.events.progress({ ...progress });
}

/** The listed files into the archive, with no snapshot open. */
async function writeListedFiles(
  options: Writing,
  list: FileList,
  sizes: ReadonlyMap<string, EntitySize>,
  progress: Progress,
) {
  const signal = options.signal ?? new AbortController().signal;
  progress.fileBytesTotal = await plannedFileBytes(list, options.plan.files, fileLimitsOf(options), signal);
  planArchive(options, sizes, progress);
  return writeFiles(list, options.zip, options.plan.files, fileLimitsOf(options), signal, (bytes) => {
    progress.fileBytesWritten += bytes;
    options.events.progress({ ...progress });
  });
}

/** Every entity's rows from `surveyed`'s snapshot, then schema.json, README.txt and manifest.json; closes the snapshot. */
async function writeRows(
  options: Writing,
  snapshots: Snapshots,
  surveyed: { snapshot: Snapshot; sizes: ReadonlyMap<string, EntitySize> | null },
  files: UserFileRecord[],
  paths: PathsKept,
  progress: Progress,
): Promise<Manifest> {
  const { zip } = options;
  const { identity } = options.plan;
  const snapshot = surveyed.snapshot;
  const entities: Record<string, EntityManifest> = {};
  const limits: EntryLimits = {
    maxEntryBytes: options.plan.limits.maxEntryBytes,
    parallelFromBytes: options.plan.limits.parallelFromBytes,
    spoolDir: options.plan.limits.spoolDir,
  };
  const sizeOf = (entity: ExportEntity) =>
    surveyed.sizes?.get(entity.name) ?? { rows: 0, estimatedJsonBytes: 0, files: 0 };
  let batch: BatchedCopies | undefined;
  const viewer = options.plan.viewer ? new ArchiveViewer(options.plan.viewer.rows) : undefined;
  for (const [index, entity] of options.plan.entities.entries()) {
    const viewerRows = viewer?.rowsFor();
    // The small entities from here on (and empty ones between them) are read in one round trip.
    if (!batch?.covers(entity))
      batch = BatchedCopies.start(snapshot, options.plan.entities.slice(index), sizeOf, limits, identity.userId, paths);
    entities[entity.name] = await writeEntity({
      snapshot,
      source: batch ?? snapshot,
      zip,
      entity,
      userId: identity.userId,
      size: sizeOf(entity),
      limits,
      paths,
      onCsvAhead: (entity, outcome) => options.events.csvAhead(entity, outcome),
      viewer: viewerRows,
      onRows: (rows) => {
        progress.rowsWritten += rows;
        options.events.progress({ ...progress });
      },
    }).catch(async (error: unknown) => {
      // Its snapshot is over (the error ended its transaction): closed first, so the question takes no second connection.
      await snapshots.close(error as Error);
      throw await unwritableRow(options.reads, options.plan.entities, entity, identity.userId, error);
    });
    if (viewer) await viewer.addEntity(zip, entity, viewerRows!);
  }
  const linkExpiresAt = options.plan.linkExpiresAt;
  const facts = {
    ...identity,
    asOf: snapshot.asOf,
    linkExpiresAt,
    entities,
    files,
    ...processingOf(options.plan.entities),
  };
  const written = buildManifest(facts);
  const manifest = viewer
    ? buildManifest({ ...facts, viewer: await viewer.finish(zip, written, options.plan.entities) })
    : written;
  await zip.addText('schema.json', `${JSON.stringify(archiveSchema(options.plan.entities), null, 2)}\n`);
  await zip.addText('README.txt', readmeText(manifest, options.plan.entities));
  await writeManifest(zip, manifest);
  await snapshots.close();
  options.events.snapshotClosed(snapshots.heldSeconds);
  return manifest;
}
