import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { ZipArchive } from 'archiver';

/** The archive's output ended before the archive did (its consumer went away). */
export class ArchiveClosedError extends Error {
  override name = 'ArchiveClosedError';
}

/** A file written into the archive, as the manifest lists it. */
export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** One file being written: bytes go in with backpressure and are hashed on the way. */
export class ZipEntry {
  readonly path: string;
  private readonly stream: PassThrough;
  private readonly hash: Hash = createHash('sha256');
  private byteCount = 0;

  constructor(path: string, stream: PassThrough) {
    this.path = path;
    this.stream = stream;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Resolves once the archive can take more; callers should hand over large chunks, not rows. */
  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    // An aborted archive destroys its entries; writing on would wait for a 'drain' that never comes.
    if (this.stream.destroyed) throw this.stream.errored ?? new Error('the archive was aborted');
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    if (!this.stream.write(chunk)) {
      await once(this.stream, 'drain');
    }
  }

  end(): WrittenFile {
    this.stream.end();
    return { path: this.path, bytes: this.byteCount, sha256: this.hash.digest('hex') };
  }
}

export interface ZipWriterOptions {
  /** zlib level: 1 is about four times faster than 6 for a few percent more bytes (BENCHMARKS.md). */
  level: number;
  /** The time stamped on every entry. */
  date: Date;
}

/**
 * A streamed ZIP: entries are appended one after another and the archive's
 * bytes come out of `output` as they are made, so nothing is held whole in
 * memory. ZIP64 records are written by the archiver as soon as offsets pass
 * 4 GiB, so large archives still open in unzip, 7-Zip and Python's zipfile.
 */
export class ZipWriter {
  private readonly archive: ZipArchive;
  private readonly date: Date;
  private readonly openStreams = new Set<PassThrough>();
  private failure: Error | undefined;
  private finished = false;
  /** Entries appended, and entries the archive has written: their difference is what waits in its queue. */
  private opened = 0;
  private processed = 0;
  /** Aborted on failure: ends a wait for the next written entry. */
  private readonly failedSignal = new AbortController();
  /** Rejects with the failure the moment there is one: what finalize() waits on besides the archiver. */
  private readonly failed: Promise<never>;
  private rejectFailed!: (error: Error) => void;

  constructor(options: ZipWriterOptions) {
    this.archive = new ZipArchive({ zlib: { level: options.level }, highWaterMark: 1 << 20 });
    this.date = options.date;
    this.failed = new Promise<never>((_resolve, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => {});
    // However the archive ends early (its consumer failed and the pipeline
    // destroyed it, or the archiver failed), every writer waiting on an entry
    // must be released with the error, or it would wait for 'drain' forever.
    this.archive.on('error', (error: Error) => this.fail(error));
    this.archive.on('warning', (error: Error) => this.fail(error));
    this.archive.on('end', () => (this.finished = true));
    this.archive.on('entry', () => this.processed++);
    this.archive.on('close', () => this.fail(new ArchiveClosedError('the archive was closed before it was finished')));
  }

  /** The archive's bytes: hand this to the upload before writing entries. */
  get output(): Readable {
    return this.archive;
  }

  /** `store`: written as is (content that is already compressed: images, audio, video, archives). */
  openEntry(path: string, options: { store?: boolean } = {}): ZipEntry {
    this.throwIfFailed();
    const stream = new PassThrough({ highWaterMark: 256 * 1024 });
    this.openStreams.add(stream);
    stream.once('end', () => this.openStreams.delete(stream));
    // An entry destroyed by abort() reports through write() and the archive; never as an unhandled 'error'.
    stream.on('error', () => {});
    this.archive.append(stream, { name: path, date: this.date, ...(options.store ? { store: true } : {}) });
    this.opened++;
    return new ZipEntry(path, stream);
  }

  /**
   * Resolves once at most `pending` entries are still waiting for the archive
   * to take them. An entry's write waits only while its own buffer is full,
   * and the archiver pipes every entry into a buffer of its own the moment it
   * is appended, so a writer of many small entries (ten thousand uploads of a
   * few KB) would otherwise queue every one of them, whole, in memory (3,800
   * queued entries in a heap snapshot): this is the backpressure between
   * entries, counted from the archiver's 'entry' event (an entry written).
   */
  async drained(pending = 1): Promise<void> {
    while (this.opened - this.processed > pending) {
      this.throwIfFailed();
      // Not a race with `failed`: each race would leave a reaction on that
      // long-pending promise, one per file (a leak the heap snapshot showed).
      await once(this.archive, 'entry', { signal: this.failedSignal.signal }).catch(() => {});
    }
    this.throwIfFailed();
  }

  async addText(path: string, text: string): Promise<WrittenFile> {
    const entry = this.openEntry(path);
    await entry.write(Buffer.from(text, 'utf8'));
    return entry.end();
  }

  /**
   * Writes the central directory; the output ends once the last byte is out.
   * The archiver's own promise settles only on 'end' or 'error', neither of
   * which comes after abort(), so an abort must end the wait here too.
   */
  async finalize(): Promise<void> {
    this.throwIfFailed();
    const finalized = this.archive.finalize();
    finalized.catch(() => {});
    await Promise.race([finalized, this.failed]);
    this.throwIfFailed();
  }

  /** Stops the archive and makes its output fail, so the upload consuming it aborts. */
  abort(error: Error): void {
    this.fail(error);
    if (!this.archive.destroyed) {
      this.archive.abort();
      this.archive.destroy(error);
    }
  }

  private fail(error: Error): void {
    if (this.finished) return;
    this.failure ??= error;
    this.rejectFailed(this.failure);
    this.failedSignal.abort(this.failure);
    for (const stream of this.openStreams) stream.destroy(this.failure);
    this.openStreams.clear();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
