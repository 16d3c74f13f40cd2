import type { Readable } from 'node:stream';
import type { EntityManifest } from '../model/archive.ts';
import type { ExportEntity } from '../model/entities.ts';
import { BOM, CsvParts } from '../parts/csv-parts.ts';
import { JsonArrayParts, type JsonPart, needsParts, plannedPartRows } from '../parts/json-parts.ts';
import { LaterEntries } from '../parts/later-entries.ts';
import { PairedParts } from '../parts/paired-parts.ts';
import { BinaryTextColumns, BinaryTextRows } from '../snapshot/binary-rows.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { ViewerRows } from '../viewer/viewer-rows.ts';
import { ZIP32_MAX } from '../zip/zip-format.ts';
import type { WrittenFile, ZipWriter } from '../zip/zip-writer.ts';
import type { CopySource } from './batched-copies.ts';
import { type CsvAheadOutcome, CsvReadAhead, worthReadingAhead } from './csv-ahead.ts';
import { csvCopySql, csvHeader, jsonLinesCopySql, type PathsKept, pairedCopySql, type RowOrder } from './queries.ts';
import type { EntitySize } from './survey.ts';

/**
 * PostgreSQL may sort a split entity's paired read with one parallel worker
 * beside the snapshot's backend: the 3M-row user's read took 19.9 s with it
 * against 22.7 s without, in psql (two workers: 20.0 s). One, because the
 * exporter deflates on the other core, and the database serves the app too.
 */
const PAIRED_READ_WORKERS = 1;

export interface EntryLimits {
  /** An entry's most bytes: past it, the entity is cut into numbered parts. */
  maxEntryBytes: number;
  /** An entity estimated at this many bytes of JSON or more has its CSV read at once on a second connection. */
  parallelFromBytes: number;
  /** Where a CSV read ahead waits for its turn; null keeps it in memory. */
  spoolDir: string | null;
}

export interface WriteEntityOptions {
  snapshot: Snapshot;
  /** Where its rows are read: the snapshot, or the batch that reads it with the small entities after it in one round trip. */
  source: CopySource;
  zip: ZipWriter;
  entity: ExportEntity;
  userId: string;
  /** Its rows and estimated JSON bytes, from the survey of the same snapshot. */
  size: EntitySize;
  limits: EntryLimits;
  paths: PathsKept;
  onCsvAhead?: (entity: string, outcome: CsvAheadOutcome) => void;
  /** Told of the rows written, JSON and CSV counted apart. */
  onRows: (rows: number) => void;
  /** Given the JSON lines as they are written, for the viewer's page (it keeps the first rows). */
  viewer?: ViewerRows;
}

/** Whether an entity's JSON may hold a raw line break: a `json` column's value, as written (BinaryTextColumns' oneLine). */
function hasJsonText(entity: ExportEntity): boolean {
  return entity.columns.some((c) => c.kind === 'json');
}

/** One entity as it will be written: its entries' names, its parts' planned rows, and the order its rows are read in. */
interface EntityPlan extends WriteEntityOptions {
  /** Cut into numbered parts (projects-0001.json, …) because its estimate passes maxEntryBytes. */
  numbered: boolean;
  /** A split entity is read in its total order, so that its JSON and CSV parts hold the same rows whatever the plan. */
  order: RowOrder;
  /** Each part's planned rows. */
  plan: number[];
  /** Its entries may pass 4 GiB: ZIP64 sizes. */
  large: boolean;
  /** No rows (the count says so, from the same snapshot): its files are written without a round trip to the database. */
  empty: boolean;
  name(dir: 'json' | 'csv', index: number): string;
}

function planEntity(options: WriteEntityOptions): EntityPlan {
  const { size, limits, entity } = options;
  const numbered = needsParts(size.estimatedJsonBytes, limits.maxEntryBytes);
  return {
    ...options,
    numbered,
    order: numbered ? 'ordered' : 'scan',
    plan: numbered ? plannedPartRows(size.rows, size.estimatedJsonBytes, limits.maxEntryBytes) : [size.rows],
    // Parts are cut near maxEntryBytes of JSON (and of CSV, when both come from one read); a CSV part cut at the JSON's rows is smaller as a rule. Past 4 GiB, ZIP64 sizes.
    large: limits.maxEntryBytes * 1.5 >= ZIP32_MAX,
    empty: size.rows === 0,
    name: (dir, index) =>
      numbered || index > 1
        ? `${dir}/${entity.name}-${String(index).padStart(4, '0')}.${dir}`
        : `${dir}/${entity.name}.${dir}`,
  };
}

/**
 * Writes one entity's JSON and CSV entries, by one of three reads
 * (docs/architecture.md): a split entity's JSON and CSV from one paired read,
 * its CSV waiting on disk; else the JSON read, with a big entity's CSV read
 * at the same time on a second connection (dropped if the JSON's parts do not
 * follow the plan); else the JSON, then the CSV, each from `source`.
 */
export async function writeEntity(options: WriteEntityOptions): Promise<EntityManifest> {
  const plan = planEntity(options);
  // Without a disk for the CSV to wait on, a split entity is read once per file.
  const later = plan.numbered && !plan.empty ? await LaterEntries.onDisk(plan.zip, plan.limits.spoolDir) : null;
  return later ? writePaired(plan, later) : writeJsonThenCsv(plan);
}

/** A split entity: its JSON and CSV from one read, sorted once, the CSV waiting on disk. */
async function writePaired(e: EntityPlan, later: LaterEntries): Promise<EntityManifest> {
  const { zip, large } = e;
  const parts = new PairedParts(
    (index) => zip.openEntry(e.name('json', index), { large }),
    (index) => later.into.openEntry(e.name('csv', index), { large }),
    csvHeader(e.entity),
    e.limits.maxEntryBytes,
    e.plan,
  );
  const { json, csv } = await e.snapshot.copyWithWorkers(
    pairedCopySql(e.entity, e.userId, e.paths),
    PAIRED_READ_WORKERS,
    (read) => writePairedParts(read, zip, later, parts, e.viewer, hasJsonText(e.entity), (rows) => e.onRows(2 * rows)),
  );
  e.onCsvAhead?.(e.entity.name, 'paired');
  return entityManifest(parts.rows, json, csv);
}

/** The JSON, then the CSV at the JSON's parts; a big entity's CSV read ahead on a second connection of the same snapshot. */
async function writeJsonThenCsv(e: EntityPlan): Promise<EntityManifest> {
  const { zip, large } = e;
  const reader = worthReadingAhead(e.size, e.limits.parallelFromBytes) ? await e.snapshot.reader() : null;
  let csvAhead = reader
    ? await CsvReadAhead.start(reader, zip, e.limits.spoolDir, (into) => writeCsvParts(e, reader, into, e.plan))
    : undefined;
  try {
    const json = new JsonArrayParts(
      (index) => zip.openEntry(e.name('json', index), { large }),
      e.limits.maxEntryBytes,
      e.plan,
    );
    let reported = 0;
    if (!e.empty) {
      const lines = new BinaryTextRows({ oneLine: hasJsonText(e.entity) });
      await pipeCopy(e.source.copy(jsonLinesCopySql(e.entity, e.userId, e.order, e.paths)), zip, async (chunk) => {
        const rows = lines.push(chunk);
        e.viewer?.take(rows);
        await json.push(rows);
        e.onRows(json.rows - reported);
        reported = json.rows;
      });
      lines.end();
    }
    const jsonParts = await json.finish();
    const jsonRows = jsonParts.map((p) => p.rows);

    // The CSV holds the same rows in the same parts as the JSON.
    if (csvAhead && !sameCounts(jsonRows, e.plan)) {
      // A part reached maxEntryBytes before its planned rows (the estimate was
      // short): the CSV read ahead, cut to the plan, is dropped before any of
      // it reaches the archive, and read again below at the JSON's counts.
      await csvAhead.drop(new Error("the JSON's parts did not follow the plan; the CSV read ahead is not used"));
      csvAhead = undefined;
      e.onCsvAhead?.(e.entity.name, 'dropped');
    }
    const csv = csvAhead ? await csvAhead.append() : await writeCsvParts(e, e.source, zip, jsonRows);
    if (csvAhead) e.onCsvAhead?.(e.entity.name, csvAhead.waitedOn);
    e.onRows(json.rows);
    return entityManifest(json.rows, jsonParts, csv);
  } finally {
    await csvAhead?.close();
  }
}

/** The CSV, into `into` (the archive, or a read-ahead's fragment), cut at `partRows`. */
async function writeCsvParts(
  e: EntityPlan,
  reader: CopySource,
  into: ZipWriter,
  partRows: readonly number[],
): Promise<WrittenFile[]> {
  const sql = csvCopySql(e.entity, e.userId, e.order, e.paths);
  if (!e.empty && partRows.length === 1 && !e.numbered)
    return [await writeCsvPart(reader, into, e.name('csv', 1), e.large, sql)];
  // Parts: one query, cut at the parts' row counts (no rows: the header COPY would write, without a query).
  const parts = new CsvParts((index) => into.openEntry(e.name('csv', index), { large: e.large }), partRows);
  if (e.empty) await parts.push(Buffer.from(csvHeader(e.entity)));
  else await pipeCopy(reader.copy(sql), into, (chunk) => parts.push(chunk));
  return parts.finish();
}

/**
 * Feeds one paired read (two columns: each row's JSON and CSV) into its
 * parts, the CSV's into `later`, appended once the read is whole; tells
 * `onRows` of the rows begun.
 */
async function writePairedParts(
  read: Readable,
  zip: ZipWriter,
  later: LaterEntries,
  parts: PairedParts,
  viewer: ViewerRows | undefined,
  oneLine: boolean,
  onRows: (rows: number) => void,
) {
  // The JSON column only: a CSV record may hold a line break inside its quotes.
  const rows = new BinaryTextColumns(2, { trackRows: true, oneLine: oneLine ? [0] : [] });
  let reported = 0;
  const written = (async () => {
    await pipeCopy(read, zip, async (chunk) => {
      const columns = rows.pushColumns(chunk);
      viewer?.take(columns.columns[0]!);
      await parts.push(columns);
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
    files: [
      ...json.map(({ rows: _rows, ...file }) => ({ ...file, format: 'json' as const })),
      ...csv.map((file) => ({ ...file, format: 'csv' as const })),
    ],
  };
}

function sameCounts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** One CSV file: the BOM, then COPY's CSV. */
async function writeCsvPart(
  reader: CopySource,
  zip: ZipWriter,
  path: string,
  large: boolean,
  sql: string,
): Promise<WrittenFile> {
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
