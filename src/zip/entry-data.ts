import { createDeflateRaw, type DeflateRaw, deflateRawSync, type ZlibOptions } from 'node:zlib';
import { PIECE_BYTES } from './zip-entry.ts';
import { type CentralRecord, dataDescriptor, localHeader, METHOD_DEFLATE } from './zip-format.ts';
import type { ZipOutput } from './zip-output.ts';

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

/**
 * One entry's bytes on their way into the archive: held while it may stay
 * small, then written whole with its sizes in its local header; or, once it
 * passes SMALL_ENTRY_BYTES, streamed through deflate with its sizes and CRC in
 * a data descriptor. Its steps run on the archive's chain (ZipOutput), in order.
 */
export class EntryData {
  /** Deflate's stream, started once the entry passes SMALL_ENTRY_BYTES (at level 0 for content stored). */
  private deflate: DeflateRaw | undefined;
  /** The entry's first bytes, held until it is known whether it stays small. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly record: CentralRecord;
  private readonly out: ZipOutput;
  private readonly when: { time: number; date: number };
  /** The zlib level of deflated content; stored content streams at level 0. */
  private readonly level: number;
  /** Whether its bytes are compressed (else stored: already compressed content, or level 0). */
  private readonly deflated: boolean;
  /** It may pass 4 GiB: streamed, its local header announces ZIP64 sizes. */
  private readonly large: boolean;

  constructor(
    record: CentralRecord,
    out: ZipOutput,
    options: { when: { time: number; date: number }; level: number; deflated: boolean; large: boolean },
  ) {
    this.record = record;
    this.out = out;
    this.when = options.when;
    this.level = options.level;
    this.deflated = options.deflated;
    this.large = options.large;
  }

  /** A step: the chunk held, or written through deflate (waiting while deflate is full). */
  async write(chunk: Buffer): Promise<void> {
    if (!this.deflate && this.heldBytes + chunk.length < SMALL_ENTRY_BYTES) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    if (!this.deflate) {
      // Too large to hold: streamed through deflate, its sizes and CRC in a
      // descriptor. Content to be stored goes through deflate at level 0
      // (stored blocks, 0.02% more bytes): a stored entry with a
      // descriptor is what streaming readers refuse.
      const { record } = this;
      record.method = METHOD_DEFLATE;
      record.descriptor = true;
      record.zip64Local = this.large;
      await this.out.push(localHeader(record, this.when));
      this.deflate = this.startDeflate(this.deflated ? this.level : 0);
      for (const held of this.held.splice(0)) this.deflate.write(held);
    }
    if (!this.deflate.write(chunk)) await this.out.until(this.deflate, 'drain');
  }

  /** A step, once the CRC and size are in the record: deflate flushed and the data descriptor, or the held entry whole. */
  async end(): Promise<void> {
    if (this.deflate) {
      const done = this.out.until(this.deflate, 'end');
      this.deflate.end();
      await done;
      this.deflate = undefined;
      await this.out.push(dataDescriptor(this.record));
    } else {
      await this.out.push(this.whole());
    }
  }

  /** The archive failed: deflate's memory is let go. */
  destroy(): void {
    this.deflate?.destroy();
  }

  /**
   * A held entry whole: its local header, with its sizes and CRC, and its
   * data (deflated in one call, or stored), in one buffer of its own. Not a
   * slice of Node's shared 64 KiB pool, where deflate's output lands: a
   * reader that keeps a few bytes of it would keep the pool.
   */
  private whole(): Buffer {
    const { record, held, heldBytes } = this;
    const data = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    const written = this.deflated ? deflateRawSync(data, { level: this.level }) : data;
    this.held = [];
    record.compressedBytes = written.length;
    const header = localHeader(record, this.when);
    const whole = Buffer.allocUnsafeSlow(header.length + written.length);
    header.copy(whole, 0);
    written.copy(whole, header.length);
    return whole;
  }

  private startDeflate(level: number): DeflateRaw {
    // highWaterMark reaches the Transform underneath (Node passes its options on), though zlib's types omit it.
    const deflate = createDeflateRaw({
      level,
      chunkSize: DEFLATE_CHUNK_BYTES,
      highWaterMark: 2 * PIECE_BYTES,
    } as ZlibOptions);
    deflate.on('data', (chunk: Buffer) => {
      this.record.compressedBytes += chunk.length;
      // The upload is behind: deflate stops producing (and, its buffers full, taking) until it catches up.
      this.out.pushOrPause(
        chunk,
        () => deflate.pause(),
        () => deflate.resume(),
      );
    });
    deflate.on('error', (error: Error) => this.out.fail(error));
    return deflate;
  }
}
