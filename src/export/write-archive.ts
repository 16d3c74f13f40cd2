import type pg from 'pg';
import type { Readable } from 'node:stream';
import type { ExportEntity, UserTable } from './entities.ts';
import { BatchedCopies, type CopySource } from './batched-copies.ts';
import { BinaryTextColumns, BinaryTextRows } from '../snapshot/binary-rows.ts';
import { BOM, CsvParts } from '../parts/csv-parts.ts';
import { type CsvAheadOutcome, CsvReadAhead, worthReadingAhead } from './csv-ahead.ts';
import { JsonArrayParts, type JsonPart, needsParts, plannedPartRows } from '../parts/json-parts.ts';
import { LaterEntries } from '../parts/later-entries.ts';
import { archiveSchema } from './json-schema.ts';
import { buildManifest, type EntityManifest, type Manifest, writeManifest } from './manifest.ts';
import { PairedParts } from '../parts/paired-parts.ts';
import type { FileSources } from '../files/sources.ts';
import { csvCopySql, csvHeader, jsonLinesCopySql, type LeftOutFiles, pairedCopySql, type RowOrder } from './queries.ts';
import { readmeText } from './readme.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import { type EntitySize, openSurveyed } from './survey.ts';
import { ArchiveTooLargeError } from './archive-errors.ts';
import { type FileLimits, plannedFileBytes, writeFiles } from './write-files.ts';
import { ZIP32_MAX } from '../zip/zip-format.ts';
import type { WrittenFile, ZipWriter } from '../zip/zip-writer.ts';

/**
 * PostgreSQL may sort a split entity's paired read with one parallel worker
 * beside the snapshot's backend: the 3M-row user's read took 19.9 s with it
 * against 22.7 s without, in psql (two workers: 20.0 s). One, because the
 * exporter deflates on the other core, and the database serves the app too.
 */
const PAIRED_READ_WORKERS = 1;

type EntryLimits = Pick<WriteArchiveOptions, 'maxEntryBytes' | 'parallelFromBytes' | 'spoolDir'>;

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
      entities[entity.name] = await writeEntity(snapshot, batch ?? snapshot, zip, entity, identity.userId, sizeOf(entity), limits, leftOut, options.onCsvAhead, (rows) => {
        progress.rowsWritten += rows;
        options.onProgress?.({ ...progress });
      });
    }
    const linkExpiresAt = await options.linkExpiry();
    const manifest = buildManifest({ ...identity, asOf: snapshot.asOf, linkExpiresAt, entities, files });
    await zip.addText('schema.json', `${JSON.stringify(archiveSchema(options.entities), null, 2)}\n`);
    await zip.addText('README.txt', readmeText(manifest, options.entities));
    await writeManifest(zip, manifest);
    await snapshot.close();
    return manifest;
  } catch (error) {
    await snapshot.close(error as Error);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

async function writeEntity(
  snapshot: Snapshot,
  source: CopySource,
  zip: ZipWriter,
  entity: ExportEntity,
  userId: string,
  size: EntitySize,
  limits: EntryLimits,
  leftOut: LeftOutFiles,
  onCsvAhead: WriteArchiveOptions['onCsvAhead'],
  onRows: (rows: number) => void,
): Promise<EntityManifest> {
  const numbered = needsParts(size.estimatedJsonBytes, limits.maxEntryBytes);
  // A split entity is read in its total order, so that its JSON and CSV parts hold the same rows whatever the plan.
  const order: RowOrder = numbered ? 'ordered' : 'scan';
  const plan = numbered ? plannedPartRows(size.rows, size.estimatedJsonBytes, limits.maxEntryBytes) : [size.rows];
  // Parts are cut near maxEntryBytes of JSON (and of CSV, when both come from one read); a CSV part cut at the JSON's rows is smaller as a rule. Past 4 GiB, ZIP64 sizes.
  const large = limits.maxEntryBytes * 1.5 >= ZIP32_MAX;
  const name = (dir: 'json' | 'csv', index: number) =>
    numbered || index > 1 ? `${dir}/${entity.name}-${String(index).padStart(4, '0')}.${dir}` : `${dir}/${entity.name}.${dir}`;
  // No rows (the count says so, from the same snapshot): the files are written without a round trip to the database.
  const empty = size.rows === 0;
  const csvParts = async (reader: CopySource, into: ZipWriter, partRows: readonly number[]): Promise<WrittenFile[]> => {
    const sql = csvCopySql(entity, userId, order, leftOut);
    if (!empty && partRows.length === 1 && !numbered) return [await writeCsvPart(reader, into, name('csv', 1), large, sql)];
    // Parts: one query, cut at the parts' row counts (no rows: the header COPY would write, without a query).
    const parts = new CsvParts((index) => into.openEntry(name('csv', index), { large }), partRows);
    if (empty) await parts.push(Buffer.from(csvHeader(entity)));
    else await pipeCopy(reader.copy(sql), into, (chunk) => parts.push(chunk));
    return parts.finish();
  };

  // A split entity: its JSON and CSV from one read, sorted once, the CSV
  // waiting on disk; without a disk to wait on, a read per file as below.
  const later = numbered && !empty ? await LaterEntries.onDisk(zip, limits.spoolDir) : null;
  if (later) {
    const parts = new PairedParts(
      (index) => zip.openEntry(name('json', index), { large }),
      (index) => later.into.openEntry(name('csv', index), { large }),
      csvHeader(entity),
      limits.maxEntryBytes,
      plan,
    );
    const { json, csv } = await snapshot.copyWithWorkers(pairedCopySql(entity, userId, leftOut), PAIRED_READ_WORKERS, (read) =>
      writePairedParts(read, zip, later, parts, (rows) => onRows(2 * rows)),
    );
    onCsvAhead?.(entity.name, 'paired');
    return entityManifest(parts.rows, json, csv);
  }

  // A big entity: its CSV is read at once on a second connection of the same
  // snapshot, while the JSON is written, cut at the planned parts' row counts.
  const reader = worthReadingAhead(size, limits.parallelFromBytes) ? await snapshot.reader() : null;
  let csvAhead = reader ? await CsvReadAhead.start(reader, zip, limits.spoolDir, (into) => csvParts(reader, into, plan)) : undefined;
  try {
    const json = new JsonArrayParts((index) => zip.openEntry(name('json', index), { large }), limits.maxEntryBytes, plan);
    let reported = 0;
    if (!empty) {
      const lines = new BinaryTextRows();
      await pipeCopy(source.copy(jsonLinesCopySql(entity, userId, order, leftOut)), zip, async (chunk) => {
        await json.push(lines.push(chunk));
        onRows(json.rows - reported);
        reported = json.rows;
      });
      lines.end();
    }
    const jsonParts = await json.finish();
    const jsonRows = jsonParts.map((p) => p.rows);

    // The CSV holds the same rows in the same parts as the JSON.
    if (csvAhead && !sameCounts(jsonRows, plan)) {
      // A part reached maxEntryBytes before its planned rows (the estimate was
      // short): the CSV read ahead, cut to the plan, is dropped before any of
      // it reaches the archive, and read again below at the JSON's counts.
      await csvAhead.drop(new Error("the JSON's parts did not follow the plan; the CSV read ahead is not used"));
      csvAhead = undefined;
      onCsvAhead?.(entity.name, 'dropped');
    }
    const csv = csvAhead ? await csvAhead.append() : await csvParts(source, zip, jsonRows);
    if (csvAhead) onCsvAhead?.(entity.name, csvAhead.waitedOn);
    onRows(json.rows);

    return entityManifest(json.rows, jsonParts, csv);
  } finally {
    await csvAhead?.close();
  }
}

/**
 * Feeds one paired read (two columns: each row's JSON and CSV) into its
 * parts, the CSV's into `later`, appended once the read is whole; tells
 * `onRows` of the rows begun.
 */
async function writePairedParts(read: Readable, zip: ZipWriter, later: LaterEntries, parts: PairedParts, onRows: (rows: number) => void) {
  const rows = new BinaryTextColumns(2, { trackRows: true });
  let reported = 0;
  const written = (async () => {
    await pipeCopy(read, zip, async (chunk) => {
      await parts.push(rows.pushColumns(chunk));
      onRows(parts.rows - reported);
      reported = parts.rows;
    });
    rows.end();
    const files = await parts.finish();
    await later.into.endFragment();
    return files;
  })();
  written.catch((error: unknown) => later.into.abort(error as Error));
  try {
    return await later.append(written);
  } finally {
    await later.close();
  }
}

/** What the manifest says of an entity: its rows, and its files with their formats. */
function entityManifest(rows: number, json: readonly JsonPart[], csv: readonly WrittenFile[]): EntityManifest {
  return {
    rows,
    files: [...json.map(({ rows: _rows, ...file }) => ({ ...file, format: 'json' as const })), ...csv.map((file) => ({ ...file, format: 'csv' as const }))],
  };
}

function sameCounts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** One CSV file: the BOM, then COPY's CSV. */
async function writeCsvPart(reader: CopySource, zip: ZipWriter, path: string, large: boolean, sql: string): Promise<WrittenFile> {
  const entry = zip.openEntry(path, { large });
  await entry.write(BOM);
  await pipeCopy(reader.copy(sql), zip, (chunk) => entry.write(chunk));
  return entry.end();
}

/**
 * Feeds a COPY stream into `write` chunk by chunk, with backpressure. A COPY
 * that fails while the writer waits for the archive to drain (a killed
 * backend while the upload is slow) aborts the archive, which ends that wait:
 * the loop alone would see the error only when it next asks for a chunk.
 */
async function pipeCopy(source: Readable, zip: ZipWriter, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  const onError = (error: Error) => zip.abort(error);
  source.once('error', onError);
  try {
    for await (const chunk of source) await write(chunk as Buffer);
  } finally {
    source.off('error', onError);
  }
}
