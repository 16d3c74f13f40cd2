import { Spool } from '../snapshot/spool.ts';
import type { ZipWriter } from '../zip/zip-writer.ts';

/**
 * What entries written ahead of their turn may hold in memory, deflated,
 * when they cannot wait on disk (then their writer waits). Each MiB here
 * cost about 3 MB of peak RSS for the 1M-row user (BENCHMARKS.md): 16 MiB
 * was faster, but over the 160 MB goal.
 */
const IN_MEMORY_BYTES = 4 * 1024 * 1024;

/**
 * Entries written now that join the archive later: the CSV of a big entity,
 * written while its JSON is. They are hashed and deflated as they are
 * written into a fragment of the archive, which waits for its turn in a
 * spool on disk, or in a bounded buffer where there is no disk to write to.
 */
export class LaterEntries {
  private readonly zip: ZipWriter;
  /** Where the entries are written (their own openEntry), then ended with end(). */
  readonly into: ZipWriter;
  private readonly spool: Spool | null;
  private readonly spooled: Promise<void> | undefined;

  private constructor(zip: ZipWriter, spool: Spool | null) {
    this.zip = zip;
    this.into = zip.fragment(IN_MEMORY_BYTES);
    this.spool = spool;
    this.spooled = spool?.fill(this.into.output);
    this.spooled?.catch((error: unknown) => this.into.abort(error as Error));
  }

  /** Waiting on disk in `spoolDir` where a spool can be made there, else in memory. */
  static async open(zip: ZipWriter, spoolDir: string | null): Promise<LaterEntries> {
    return new LaterEntries(zip, spoolDir ? await Spool.create(spoolDir) : null);
  }

  /** Waiting on disk in `spoolDir`, or null where no spool can be made there (for a writer that cannot wait in memory). */
  static async onDisk(zip: ZipWriter, spoolDir: string | null): Promise<LaterEntries | null> {
    const spool = spoolDir ? await Spool.create(spoolDir) : null;
    return spool ? new LaterEntries(zip, spool) : null;
  }

  get waitedOn(): 'disk' | 'memory' {
    return this.spool ? 'disk' : 'memory';
  }

  /**
   * Appends the entries to the archive, here, once `written` (their writer,
   * which ends them with `into.endFragment()`) is done: from the spool once
   * it is whole, or from memory as they come (their writer may still wait).
   */
  async append<T>(written: Promise<T>): Promise<T> {
    try {
      if (this.spool) {
        const [result] = await Promise.all([written, this.spooled]);
        await this.zip.appendFragment(this.into, this.spool.drain());
        return result;
      }
      const [result] = await Promise.all([written, this.zip.appendFragment(this.into)]);
      return result;
    } finally {
      await this.spool?.close();
    }
  }

  /** Not used after all: nothing of them reaches the archive, and their writer fails with `reason`. */
  async discard(reason: Error, written: Promise<unknown>): Promise<void> {
    this.zip.discardFragment(this.into, reason);
    await Promise.allSettled([written, this.spooled]);
    await this.spool?.close();
  }

  /** Lets go of the spool, whatever happened (the build failed before append() or discard()). */
  async close(): Promise<void> {
    await this.spool?.close();
  }
}
