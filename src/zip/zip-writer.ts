import type { Readable } from 'node:stream';
import { writeDirectory } from './central-directory.ts';
import { EntryData } from './entry-data.ts';
import type { PreparedEntry } from './prepared-entry.ts';
import { type EntrySink, type WrittenFile, ZipEntry } from './zip-entry.ts';
import { type CentralRecord, dosDateTime, localHeader, METHOD_DEFLATE, METHOD_STORE } from './zip-format.ts';
import { ArchiveClosedError, ZipOutput } from './zip-output.ts';

export { type PreparedEntry, prepareEntry } from './prepared-entry.ts';
export { ArchiveClosedError, type WrittenFile, ZipEntry };

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

interface OpenEntry {
  entry: ZipEntry;
  record: CentralRecord;
  data: EntryData;
  ended: boolean;
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
 * promise chain (ZipOutput), so a caller may end an entry and open the next
 * without waiting; each write's promise resolves once its bytes are taken.
 */
export class ZipWriter implements EntrySink {
  readonly output: Readable;
  readonly level: number;
  private readonly date: Date;
  /** Fragments made by this archive and not yet appended: aborted with it. */
  private readonly fragments = new Set<ZipWriter>();
  private readonly when: { time: number; date: number };
  private readonly records: CentralRecord[] = [];
  /** Every name written (the records' own strings): a name given twice is refused. */
  private readonly names = new Set<string>();
  private current: OpenEntry | undefined;
  /** The ordered chain of steps and the bytes they push, with the one failure. */
  private readonly out: ZipOutput;

  /** Bytes written into entries so far, before compression: shared with this archive's fragments. */
  private readonly input: { bytes: number };
  private readonly limit: ZipWriterOptions['limit'];

  constructor(options: ZipWriterOptions, input: { bytes: number } = { bytes: 0 }) {
    this.level = options.level;
    this.date = options.date;
    this.limit = options.limit;
    this.input = input;
    this.when = dosDateTime(options.date);
    this.out = new ZipOutput(options.bufferBytes ?? OUTPUT_BUFFER_BYTES, (failure) => {
      this.current?.data.destroy();
      for (const fragment of this.fragments) fragment.abort(failure);
      this.fragments.clear();
    });
    this.output = this.out.readable;
  }

  openEntry(path: string, options: EntryOptions = {}): ZipEntry {
    this.throwIfFailed();
    if (this.current && !this.current.ended)
      throw new Error(`${path}: opened while ${this.current.entry.path} is still open`);
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
    const data = new EntryData(record, this.out, {
      when: this.when,
      level: this.level,
      deflated: !store,
      large: options.large === true,
    });
    const open: OpenEntry = { entry, record, data, ended: false };
    this.current = open;
    this.out.enqueue(async () => {
      record.offset = this.out.offset;
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
  drained(): Promise<void> {
    return this.out.settled();
  }

  /**
   * An entry made once (prepareEntry) and written as it is: no deflate, no
   * hash, no buffer of its own per archive. For files that are the same in
   * every archive (the viewer's page and code).
   */
  async addPrepared(path: string, prepared: PreparedEntry): Promise<WrittenFile> {
    this.throwIfFailed();
    if (this.current && !this.current.ended)
      throw new Error(`${path}: added while ${this.current.entry.path} is still open`);
    const overLimit = this.countInput(prepared.bytes);
    if (overLimit) throw overLimit;
    this.claimName(path);
    const record: CentralRecord = {
      name: path,
      nameBytes: Buffer.byteLength(path, 'utf8'),
      method: prepared.deflated ? METHOD_DEFLATE : METHOD_STORE,
      crc32: prepared.crc32,
      compressedBytes: prepared.data.length,
      bytes: prepared.bytes,
      offset: 0,
      zip64Local: false,
      descriptor: false,
    };
    this.out.enqueue(async () => {
      record.offset = this.out.offset;
      await this.out.push(Buffer.concat([localHeader(record, this.when), prepared.data]));
      this.records.push(record);
    });
    await this.drained();
    return { path, bytes: prepared.bytes, sha256: prepared.sha256 };
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
    if (this.current && !this.current.ended)
      throw new Error(`finalize() while ${this.current.entry.path} is still open`);
    // Listening for the end before the directory is queued: a small archive may end at once.
    const ended = this.out.ended();
    ended.catch(() => {});
    this.out.enqueue(() => writeDirectory(this.out, this.records, this.when));
    await this.out.settled();
    await ended;
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
    if (this.current && !this.current.ended)
      throw new Error(`endFragment() while ${this.current.entry.path} is still open`);
    return this.out.enqueue(async () => this.out.end());
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
    if (this.current && !this.current.ended)
      throw new Error(`a fragment appended while ${this.current.entry.path} is still open`);
    this.current = undefined;
    return this.out.enqueue(async () => {
      const base = this.out.offset;
      for await (const chunk of bytes) await this.out.push(chunk);
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
    this.out.destroy(error);
  }

  /** @internal ZipEntry's write: queued after everything before it. */
  writeData(chunk: Buffer): Promise<void> {
    const { data } = this.current!;
    return this.out.enqueue(() => data.write(chunk));
  }

  /** @internal ZipEntry's end: the entry's last bytes, then its record for the directory. */
  endEntry(crc: number, bytes: number): void {
    const open = this.current!;
    open.ended = true;
    open.record.crc32 = crc;
    open.record.bytes = bytes;
    this.out.enqueue(async () => {
      await open.data.end();
      this.records.push(open.record);
    });
  }

  /**
   * Two entries of one name are a bug upstream, never something to write:
   * readers disagree on which one they show (unzip asks, others keep the
   * first or the last), so a row's path could name another row's file.
   */
  private claimName(path: string): void {
    if (this.names.has(path))
      throw new Error(`${path}: a second entry of this name in one archive (a bug: every name must be unique)`);
    this.names.add(path);
  }

  private throwIfFailed(): void {
    this.out.throwIfFailed();
  }
}
