import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** A file written into the archive, as the manifest lists it. */
export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * Deflated bytes are gathered into pieces of this size before they are
 * hashed and handed on: COPY delivers about 8 KB at a time (one socket
 * read), and each piece costs a hash call, a step of the promise chain and a
 * round trip to libuv's thread pool. It was meant to speed up the heavy
 * export and measurably did not (12.4-13.3 s before and after, BENCHMARKS.md:
 * PostgreSQL, not Node, sets the pace); it stays because it makes an entry of
 * under 256 KiB reach writeData once, whole, for the one-call deflate (zip-writer.ts).
 */
export const PIECE_BYTES = 256 * 1024;

/**
 * What an entry writes through: the archive's running count of input (its
 * limit), its data stream, and the entry's end. The ZIP writer is one; an
 * entry knows nothing else of it.
 */
export interface EntrySink {
  /** Counts bytes into the archive; the error to throw when they pass its limit. */
  countInput(bytes: number): Error | undefined;
  writeData(bytes: Buffer): Promise<void>;
  endEntry(crc: number, size: number): void;
}

/** One file being written: bytes go in with backpressure and are hashed (SHA-256 and CRC-32) on the way. */
export class ZipEntry {
  readonly path: string;
  private readonly zip: EntrySink;
  private readonly hash: Hash = createHash('sha256');
  private byteCount = 0;
  private crc = 0;
  private ended = false;
  /** The piece being gathered, and how much of it is filled. */
  private piece: Buffer | undefined;
  private filled = 0;

  /** Stored entries skip the gathering: nothing waits on a thread per piece, and their chunks (S3's) are large already. */
  private readonly gather: boolean;

  constructor(zip: EntrySink, path: string, gather: boolean) {
    this.zip = zip;
    this.path = path;
    this.gather = gather;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Resolves once the archive can take more (at once while a piece is being gathered). */
  write(chunk: Buffer): Promise<void> {
    if (this.ended) return Promise.reject(new Error(`${this.path}: written after its end`));
    if (chunk.length === 0) return Promise.resolve();
    const overLimit = this.zip.countInput(chunk.length);
    if (overLimit) return Promise.reject(overLimit);
    this.byteCount += chunk.length;
    // A large chunk with nothing gathered goes on as it is.
    if (this.filled === 0 && (chunk.length >= PIECE_BYTES || !this.gather)) return this.handOn(chunk);
    let handed: Promise<void> | undefined;
    let at = 0;
    while (at < chunk.length) {
      this.piece ??= Buffer.allocUnsafeSlow(PIECE_BYTES);
      const copied = chunk.copy(this.piece, this.filled, at);
      this.filled += copied;
      at += copied;
      if (this.filled === PIECE_BYTES) handed = this.flush();
    }
    return handed ?? Promise.resolve();
  }

  /** The entry's figures at once; its last bytes and data descriptor follow in order before the next entry's. */
  end(): WrittenFile {
    if (this.ended) throw new Error(`${this.path}: ended twice`);
    this.ended = true;
    // Reported through the next write or finalize() if it fails.
    if (this.filled > 0) void this.flush().catch(() => {});
    this.zip.endEntry(this.crc, this.byteCount);
    return { path: this.path, bytes: this.byteCount, sha256: this.hash.digest('hex') };
  }

  private flush(): Promise<void> {
    const piece = this.piece!.subarray(0, this.filled);
    // A new buffer each time: the last one is still queued (deflate's input, or the output's buffer).
    this.piece = undefined;
    this.filled = 0;
    return this.handOn(piece);
  }

  private handOn(bytes: Buffer): Promise<void> {
    this.hash.update(bytes);
    this.crc = crc32(bytes, this.crc);
    return this.zip.writeData(bytes);
  }
}
