import type { Snapshot } from './snapshot.ts';
import { Spool } from './spool.ts';
import type { WrittenFile, ZipWriter } from './zip-writer.ts';

/**
 * What a CSV read ahead may hold in memory, deflated, when it cannot wait on
 * disk (then its reader waits for the JSON before it). Each MiB here cost
 * about 3 MB of peak RSS for the 1M-row user (BENCHMARKS.md): 16 MiB was
 * faster, but over the 160 MB goal.
 */
const IN_MEMORY_BYTES = 4 * 1024 * 1024;

/**
 * The CSV of a big entity, read on a second connection of the snapshot
 * while its JSON is written, so that PostgreSQL serializes both at once on
 * two cores. It is hashed and deflated as it arrives into a fragment of the
 * archive, which waits for its turn (after the JSON) in a spool on disk, or
 * in a bounded buffer where there is no disk to write to.
 */
/** Whether an entity is big enough (estimated JSON) for its CSV to be read ahead on a second connection; one without rows needs no query at all. */
export function worthReadingAhead(size: { rows: number; estimatedJsonBytes: number }, parallelFromBytes: number): boolean {
  return size.rows > 0 && size.estimatedJsonBytes >= parallelFromBytes;
}

/** Where a CSV read ahead waited for its turn, or that it was not used. */
export type CsvAheadOutcome = 'disk' | 'memory' | 'dropped';

export class CsvReadAhead {
  private readonly reader: Snapshot;
  private readonly zip: ZipWriter;
  private readonly fragment: ZipWriter;
  private readonly spool: Spool | null;
  private readonly spooled: Promise<void> | undefined;
  private readonly written: Promise<WrittenFile[]>;

  private constructor(reader: Snapshot, zip: ZipWriter, spool: Spool | null, write: (into: ZipWriter) => Promise<WrittenFile[]>) {
    this.reader = reader;
    this.zip = zip;
    this.fragment = zip.fragment(IN_MEMORY_BYTES);
    this.spool = spool;
    this.spooled = spool?.fill(this.fragment.output);
    this.spooled?.catch((error: unknown) => this.fragment.abort(error as Error));
    this.written = write(this.fragment).then(async (files) => {
      await this.fragment.endFragment();
      return files;
    });
    this.written.catch((error: unknown) => this.fragment.abort(error as Error));
  }

  /** Starts reading; `write` writes the CSV's entries (from `reader`: one file, or the parts planned for a split entity) into the fragment it is given. */
  static async start(reader: Snapshot, zip: ZipWriter, spoolDir: string | null, write: (into: ZipWriter) => Promise<WrittenFile[]>): Promise<CsvReadAhead> {
    const spool = spoolDir ? await Spool.create(spoolDir) : null;
    return new CsvReadAhead(reader, zip, spool, write);
  }

  get waitedOn(): 'disk' | 'memory' {
    return this.spool ? 'disk' : 'memory';
  }

  /** Appends the CSV to the archive, here: from the spool once it is whole, or from memory as it comes. */
  async append(): Promise<WrittenFile[]> {
    try {
      if (this.spool) {
        const [files] = await Promise.all([this.written, this.spooled]);
        await this.zip.appendFragment(this.fragment, this.spool.drain());
        return files;
      }
      const [files] = await Promise.all([this.written, this.zip.appendFragment(this.fragment)]);
      return files;
    } finally {
      await this.spool?.close();
    }
  }

  /** Not used after all (the JSON's parts did not follow the plan): nothing of it reaches the archive, its reader is closed (a COPY cut short leaves the connection unusable). */
  async drop(reason: Error): Promise<void> {
    this.zip.discardFragment(this.fragment, reason);
    await this.reader.close(reason);
    await Promise.allSettled([this.written, this.spooled]);
    await this.spool?.close();
  }

  /** Lets go of the spool, whatever happened (the build failed before append() or drop()). */
  async close(): Promise<void> {
    await this.spool?.close();
  }
}
