import { LaterEntries } from '../parts/later-entries.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { WrittenFile, ZipWriter } from '../zip/zip-writer.ts';

/** Whether an entity is big enough (estimated JSON) for its CSV to be read ahead on a second connection; one without rows needs no query at all. */
export function worthReadingAhead(
  size: { rows: number; estimatedJsonBytes: number },
  parallelFromBytes: number,
): boolean {
  return size.rows > 0 && size.estimatedJsonBytes >= parallelFromBytes;
}

/**
 * Where a CSV read ahead waited for its turn, or that it was not used;
 * 'paired': a split entity's CSV written from the same read as its JSON,
 * waiting on disk (see PairedParts).
 */
export type CsvAheadOutcome = 'disk' | 'memory' | 'dropped' | 'paired';

/**
 * The CSV of a big entity, read on a second connection of the snapshot
 * while its JSON is written, so that PostgreSQL serializes both at once on
 * two cores; it waits for its turn (after the JSON) as LaterEntries.
 */
export class CsvReadAhead {
  private readonly reader: Snapshot;
  private readonly later: LaterEntries;
  private readonly written: Promise<WrittenFile[]>;

  private constructor(reader: Snapshot, later: LaterEntries, write: (into: ZipWriter) => Promise<WrittenFile[]>) {
    this.reader = reader;
    this.later = later;
    this.written = write(later.into).then(async (files) => {
      await later.into.endFragment();
      return files;
    });
    this.written.catch((error: unknown) => later.into.abort(error as Error));
  }

  /** Starts reading; `write` writes the CSV's entries (from `reader`: one file, or the parts planned for a split entity) into the fragment it is given. */
  static async start(
    reader: Snapshot,
    zip: ZipWriter,
    spoolDir: string | null,
    write: (into: ZipWriter) => Promise<WrittenFile[]>,
  ): Promise<CsvReadAhead> {
    return new CsvReadAhead(reader, await LaterEntries.open(zip, spoolDir), write);
  }

  get waitedOn(): 'disk' | 'memory' {
    return this.later.waitedOn;
  }

  /** Appends the CSV to the archive, here: from the spool once it is whole, or from memory as it comes. */
  append(): Promise<WrittenFile[]> {
    return this.later.append(this.written);
  }

  /** Not used after all (the JSON's parts did not follow the plan): nothing of it reaches the archive, its reader is closed (a COPY cut short leaves the connection unusable). */
  async drop(reason: Error): Promise<void> {
    const discarded = this.later.discard(reason, this.written);
    await this.reader.close(reason);
    await discarded;
  }

  /** Lets go of the spool, whatever happened (the build failed before append() or drop()). */
  close(): Promise<void> {
    return this.later.close();
  }
}
