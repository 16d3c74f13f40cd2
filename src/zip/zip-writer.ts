import { once } from 'node:events';
import { Readable } from 'node:stream';
import { createDeflateRaw, type DeflateRaw, deflateRawSync, type ZlibOptions } from 'node:zlib';
import {
  type CentralRecord,
  centralHeaderLength,
  dataDescriptor,
  dosDateTime,
  endRecords,
  localHeader,
  METHOD_DEFLATE,
  METHOD_STORE,
  writeCentralHeader,
} from './zip-format.ts';
import { PIECE_BYTES, type WrittenFile, ZipEntry } from './zip-entry.ts';

export { ZipEntry, type WrittenFile };

/** The archive's output ended before the archive did (its consumer went away). */
export class ArchiveClosedError extends Error {
  override name = 'ArchiveClosedError';
}


export interface ZipWriterOptions {
  /** zlib level: 1 is about four times faster than 6 for a few percent more bytes (BENCHMARKS.md); 0 stores everything. */
  level: number;
  /** The time stamped on every entry. */
  date: Date;
  /** What the output holds before writers wait for its consumer (default 1 MiB). */
  bufferBytes?: number;
  /**
   * The most bytes all entries may hold together, before compression (its
   * fragments' included): the write that would pass it fails, and fails the
   * archive, with the error `tooLarge` makes.
   */
  limit?: { maxBytes: number; tooLarge: (bytes: number) => Error };
}

export interface EntryOptions {
  /** Written as is: content that is already compressed (images, audio, video, archives). */
  store?: boolean;
  /** The entry may pass 4 GiB: its local header announces ZIP64 sizes. */
  large?: boolean;
}

/** The output's buffer: what the upload has not taken yet. */
const OUTPUT_BUFFER_BYTES = 1 << 20;
/** The size of the pieces deflate hands back. */
const DEFLATE_CHUNK_BYTES = 64 * 1024;
/**
 * A deflated entry that ends below this size is compressed in one synchronous
 * call instead of through a stream: most entries of a light export (a CSV of
 * three rows, README.txt) and most uploads are this small, and each stream
 * costs zlib a few hundred KB of state and a round trip to the thread pool
 * (10,000 small files: 2.4 s and 194 MB of RSS through streams).
 */
const SMALL_ENTRY_BYTES = 256 * 1024;
/** The central directory is written in pieces of about this size, each waiting for the upload to take the last. */
const DIRECTORY_PIECE_BYTES = 64 * 1024;


interface OpenEntry {
  entry: ZipEntry;
  record: CentralRecord;
  /** Whether its bytes are compressed (else stored: already compressed content, or level 0). */
  deflated: boolean;
  /** Deflate's stream, started once the entry passes SMALL_ENTRY_BYTES (at level 0 for content stored). */
  deflate: DeflateRaw | undefined;
  /** The entry's first bytes, held until it is known whether it stays small. */
  held: Buffer[];
  heldBytes: number;
  ended: boolean;
  /** It may pass 4 GiB: streamed, its local header announces ZIP64 sizes. */
  large: boolean;
}

/**
 * A streamed ZIP of our own: entries are written one after another and the
 * archive's bytes come out of `output` as they are made, so nothing is held
 * whole in memory, not even the central directory, which is written at the
 * end in 64 KiB pieces with backpressure (the archiver we used before wrote
 * it in one synchronous loop of 18 tiny writes per entry: 140 MB of heap for
 * 30,000 files). CRC-32 is zlib's native one; deflate runs on libuv's thread
 * pool, beside the SHA-256 on the main thread. ZIP64 fields are written
 * wherever a size, an offset or the count needs them, so large archives open
 * in unzip, 7-Zip and Python's zipfile.
 *
 * Every step (a header, a chunk, an entry's end) is queued in order on one
 * promise chain, so a caller may end an entry and open the next without
 * waiting; each write's promise resolves once its bytes are taken.
 */
export class ZipWriter {
  readonly output: Readable;
  private readonly level: number;
  private readonly date: Date;
  /** Fragments made by this archive and not yet appended: aborted with it. */
  private readonly fragments = new Set<ZipWriter>();
  private readonly when: { time: number; date: number };
  private readonly records: CentralRecord[] = [];
  /** Every name written (the records' own strings): a name given twice is refused. */
  private readonly names = new Set<string>();
  private current: OpenEntry | undefined;
  /** Bytes pushed into the output so far: the next header's offset. */
  private offset = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private finished = false;
  /** Aborted on failure: ends every wait (the output's read, deflate's drain). */
  private readonly failedSignal = new AbortController();
  private outputWanted: (() => void) | undefined;

  /** Bytes written into entries so far, before compression: shared with this archive's fragments. */
  private readonly input: { bytes: number };
  private readonly limit: ZipWriterOptions['limit'];

  constructor(options: ZipWriterOptions, input: { bytes: number } = { bytes: 0 }) {
    this.level = options.level;
    this.date = options.date;
    this.limit = options.limit;
    this.input = input;
    this.when = dosDateTime(options.date);
    this.output = new Readable({
      highWaterMark: options.bufferBytes ?? OUTPUT_BUFFER_BYTES,
      read: () => {
        const wanted = this.outputWanted;
        this.outputWanted = undefined;
        wanted?.();
      },
    });
    this.output.on('end', () => (this.finished = true));
    // The consumer failed and the pipeline destroyed the output: every waiting writer is released with the error.
    this.output.on('close', () => this.fail(new ArchiveClosedError('the archive was closed before it was finished')));
    this.output.on('error', (error: Error) => this.fail(error));
  }

  openEntry(path: string, options: EntryOptions = {}): ZipEntry {
    this.throwIfFailed();
    if (this.current && !this.current.ended) throw new Error(`${path}: opened while ${this.current.entry.path} is still open`);
    this.claimName(path);
    const store = options.store === true || this.level === 0;
    const entry = new ZipEntry(this, path, !store);
    // The method and the descriptor are settled once it is known whether the entry stays small.
    const record: CentralRecord = {
      name: path,
      nameBytes: Buffer.byteLength(path, 'utf8'),
      method: store ? METHOD_STORE : METHOD_DEFLATE,
      crc32: 0,
      compressedBytes: 0,
      bytes: 0,
      offset: 0,
      zip64Local: false,
      descriptor: false,
    };
    const open: OpenEntry = { entry, record, deflated: !store, deflate: undefined, held: [], heldBytes: 0, ended: false, large: options.large === true };
    this.current = open;
    this.enqueue(async () => {
      record.offset = this.offset;
    });
    return entry;
  }

  /** What the entries hold so far, before compression, its fragments' included. */
  get inputBytes(): number {
    return this.input.bytes;
  }

  /** @internal ZipEntry's count of what it is given: the limit's error (and the archive failed with it) once past the limit. */
  countInput(bytes: number): Error | undefined {
    this.input.bytes += bytes;
    if (!this.limit || this.input.bytes <= this.limit.maxBytes) return undefined;
    const error = this.limit.tooLarge(this.input.bytes);
    this.abort(error);
    return error;
  }

  /** Resolves once everything handed over so far is in the output (or the output's buffer). */
  async drained(): Promise<void> {
    await this.tail;
    this.throwIfFailed();
  }

  async addText(path: string, text: string): Promise<WrittenFile> {
    const entry = this.openEntry(path);
    await entry.write(Buffer.from(text, 'utf8'));
    const written = entry.end();
    await this.drained();
    return written;
  }

  /** Writes the central directory and the end records; resolves once the consumer has read the last byte. */
  async finalize(): Promise<void> {
    this.throwIfFailed();
    if (this.current && !this.current.ended) throw new Error(`finalize() while ${this.current.entry.path} is still open`);
    const ended = once(this.output, 'end', { signal: this.failedSignal.signal });
    ended.catch(() => {});
    this.enqueue(() => this.writeDirectory());
    await this.tail;
    await ended.catch(() => this.throwIfFailed());
    this.throwIfFailed();
  }

  /**
   * A writer of entries ahead of their turn (read by another connection, in
   * parallel with this archive's current entry): they are hashed and deflated
   * as they are written, and their bytes wait in the fragment's own buffer of
   * `bufferBytes`, then its writers wait, until appendFragment() streams them
   * into this archive. Memory stays bounded whatever the entry's size.
   */
  fragment(bufferBytes: number): ZipWriter {
    this.throwIfFailed();
    const fragment = new ZipWriter({ level: this.level, date: this.date, bufferBytes, limit: this.limit }, this.input);
    this.fragments.add(fragment);
    return fragment;
  }

  /** A fragment's last step: its output ends after its last entry, with no directory (the archive it joins writes that). */
  endFragment(): Promise<void> {
    if (this.current && !this.current.ended) throw new Error(`endFragment() while ${this.current.entry.path} is still open`);
    return this.enqueue(async () => {
      this.output.push(null);
    });
  }

  /**
   * Streams a fragment's entries into this archive here, as they come, until
   * the fragment ends; then lists them in this archive's directory at the
   * offsets they landed at (a local header holds no offset, so its bytes are
   * copied as they are). `bytes`: the fragment's output as it was kept
   * elsewhere (a spool on disk), once it has ended.
   */
  appendFragment(fragment: ZipWriter, bytes: AsyncIterable<Buffer> = fragment.output): Promise<void> {
    this.throwIfFailed();
    if (this.current && !this.current.ended) throw new Error(`a fragment appended while ${this.current.entry.path} is still open`);
    this.current = undefined;
    return this.enqueue(async () => {
      const base = this.offset;
      for await (const chunk of bytes) await this.push(chunk);
      for (const record of fragment.records) {
        this.claimName(record.name);
        this.records.push({ ...record, offset: record.offset + base });
      }
      this.fragments.delete(fragment);
    });
  }

  /** Drops a fragment that will not be appended: its writers fail with `reason`, its bytes are let go. */
  discardFragment(fragment: ZipWriter, reason: Error): void {
    this.fragments.delete(fragment);
    fragment.abort(reason);
  }

  /** Stops the archive and makes its output fail, so the upload consuming it aborts. */
  abort(error: Error): void {
    this.fail(error);
    if (!this.output.destroyed) this.output.destroy(error);
  }

  /** @internal ZipEntry's write: queued after everything before it. */
  writeData(chunk: Buffer): Promise<void> {
    const open = this.current!;
    return this.enqueue(async () => {
      if (!open.deflate && open.heldBytes + chunk.length < SMALL_ENTRY_BYTES) {
        open.held.push(chunk);
        open.heldBytes += chunk.length;
        return;
      }
      if (!open.deflate) {
        // Too large to hold: streamed through deflate, its sizes and CRC in a
        // descriptor. Content to be stored goes through deflate at level 0
        // (stored blocks, 0.02% more bytes): a stored entry with a
        // descriptor is what streaming readers refuse.
        const { record } = open;
        record.method = METHOD_DEFLATE;
        record.descriptor = true;
        record.zip64Local = open.large;
        await this.push(localHeader(record, this.when));
        open.deflate = this.startDeflate(record, open.deflated ? this.level : 0);
        for (const held of open.held.splice(0)) open.deflate.write(held);
      }
      if (!open.deflate.write(chunk)) await this.until(open.deflate, 'drain');
    });
  }

  /** @internal ZipEntry's end: flush deflate, then the data descriptor; or a held entry whole. */
  endEntry(crc: number, bytes: number): void {
    const open = this.current!;
    open.ended = true;
    open.record.crc32 = crc;
    open.record.bytes = bytes;
    this.enqueue(async () => {
      if (open.deflate) {
        const done = this.until(open.deflate, 'end');
        open.deflate.end();
        await done;
        open.deflate = undefined;
        await this.push(dataDescriptor(open.record));
      } else {
        await this.push(this.smallEntry(open));
      }
      this.records.push(open.record);
    });
  }

  /**
   * A held entry whole: its local header, with its sizes and CRC, and its
   * data (deflated in one call, or stored), in one buffer of its own. Not a
   * slice of Node's shared 64 KiB pool, where deflate's output lands: a
   * reader that keeps a few bytes of it would keep the pool.
   */
  private smallEntry(open: OpenEntry): Buffer {
    const { record, held, heldBytes } = open;
    const data = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    const written = open.deflated ? deflateRawSync(data, { level: this.level }) : data;
    open.held = [];
    record.compressedBytes = written.length;
    const header = localHeader(record, this.when);
    const whole = Buffer.allocUnsafeSlow(header.length + written.length);
    header.copy(whole, 0);
    written.copy(whole, header.length);
    return whole;
  }

  private startDeflate(record: CentralRecord, level: number): DeflateRaw {
    // highWaterMark reaches the Transform underneath (Node passes its options on), though zlib's types omit it.
    const deflate = createDeflateRaw({ level, chunkSize: DEFLATE_CHUNK_BYTES, highWaterMark: 2 * PIECE_BYTES } as ZlibOptions);
    deflate.on('data', (chunk: Buffer) => {
      record.compressedBytes += chunk.length;
      this.offset += chunk.length;
      // The upload is behind: deflate stops producing (and, its buffers full, taking) until it catches up.
      if (!this.output.push(chunk)) {
        deflate.pause();
        this.whenOutputWanted(() => deflate.resume());
      }
    });
    deflate.on('error', (error: Error) => this.fail(error));
    return deflate;
  }

  private async writeDirectory(): Promise<void> {
    const directoryOffset = this.offset;
    let piece = Buffer.allocUnsafe(DIRECTORY_PIECE_BYTES);
    let used = 0;
    for (const record of this.records) {
      const length = centralHeaderLength(record);
      if (used + length > piece.length) {
        await this.push(piece.subarray(0, used));
        piece = Buffer.allocUnsafe(Math.max(DIRECTORY_PIECE_BYTES, length));
        used = 0;
      }
      used = writeCentralHeader(record, this.when, piece, used);
    }
    if (used > 0) await this.push(piece.subarray(0, used));
    await this.push(endRecords(this.records.length, this.offset - directoryOffset, directoryOffset));
    this.output.push(null);
  }

  /**
   * Two entries of one name are a bug upstream, never something to write:
   * readers disagree on which one they show (unzip asks, others keep the
   * first or the last), so a row's path could name another row's file.
   */
  private claimName(path: string): void {
    if (this.names.has(path)) throw new Error(`${path}: a second entry of this name in one archive (a bug: every name must be unique)`);
    this.names.add(path);
  }

  /** An event, or the failure (not the AbortError of the wait) if the archive fails first. */
  private async until(emitter: DeflateRaw, event: string): Promise<void> {
    try {
      await once(emitter, event, { signal: this.failedSignal.signal });
    } catch (error) {
      this.throwIfFailed();
      throw error;
    }
  }

  /** Pushes bytes into the output; resolves once it wants more. */
  private async push(bytes: Buffer): Promise<void> {
    this.throwIfFailed();
    this.offset += bytes.length;
    if (!this.output.push(bytes)) await new Promise<void>((resolve) => this.whenOutputWanted(resolve));
    this.throwIfFailed();
  }

  private whenOutputWanted(then: () => void): void {
    const before = this.outputWanted;
    this.outputWanted = before ? () => (before(), then()) : then;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.tail.then(() => {
      this.throwIfFailed();
      return step();
    });
    // The chain goes on from a settled promise either way; a failure stays in this.failure for every later step.
    this.tail = next.catch((error: unknown) => this.fail(error as Error));
    // Steps nobody awaits (a header, an entry's end) report through the next write or finalize(), never as unhandled.
    next.catch(() => {});
    return next;
  }

  private fail(error: Error): void {
    if (this.finished) return;
    this.failure ??= error;
    this.failedSignal.abort(this.failure);
    this.current?.deflate?.destroy();
    for (const fragment of this.fragments) fragment.abort(this.failure);
    this.fragments.clear();
    // A writer waiting for the output to want more is released; it then sees the failure.
    const wanted = this.outputWanted;
    this.outputWanted = undefined;
    wanted?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

