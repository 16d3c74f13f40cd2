import { randomUUID } from 'node:crypto';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { letGo } from '../memory-policy.ts';

const READ_BYTES = 1 << 20;

/**
 * Bytes that wait on local disk for their turn: the deflated CSV of a big
 * entity, read on a second connection while its JSON is written; the list
 * of a user's files, read before they download (FileList). The file is created readable by this user only and unlinked at
 * once, so no name leads to it and nothing of it outlives the process, even
 * one that is killed; the page cache, not the heap, holds what is recent.
 */
export class Spool {
  private readonly file: FileHandle;
  private length = 0;
  private closed = false;

  private constructor(file: FileHandle) {
    this.file = file;
  }

  /** A spool in `dir`, or null where none can be made there (a read-only filesystem): the caller then waits in memory. */
  static async create(dir: string): Promise<Spool | null> {
    const name = path.join(dir, `exporter-spool-${randomUUID()}`);
    let file: FileHandle;
    try {
      file = await open(name, 'wx+', 0o600);
    } catch {
      return null;
    }
    try {
      await unlink(name);
    } catch (error) {
      await file.close();
      throw error;
    }
    return new Spool(file);
  }

  /** Copies `source` to the end of the file until it ends. */
  async fill(source: Readable): Promise<void> {
    for await (const chunk of source as AsyncIterable<Buffer>) await this.append(chunk);
  }

  /** Writes `chunk` at the end of the file. */
  async append(chunk: Buffer): Promise<void> {
    let written = 0;
    while (written < chunk.length) {
      const { bytesWritten } = await this.file.write(chunk, written, chunk.length - written, this.length + written);
      written += bytesWritten;
    }
    this.length += chunk.length;
  }

  /**
   * What was written, from the start, in 1 MiB pieces. Each piece is let go
   * once the upload has copied it, but V8 frees such buffers only at its next
   * collection, and a spool drains at disk speed: the memory policy is told
   * of each (src/memory-policy.ts).
   */
  async *drain(): AsyncGenerator<Buffer> {
    for (let at = 0; at < this.length; at += READ_BYTES) {
      const piece = Buffer.allocUnsafeSlow(Math.min(READ_BYTES, this.length - at));
      let read = 0;
      while (read < piece.length) {
        const { bytesRead } = await this.file.read(piece, read, piece.length - read, at + read);
        if (bytesRead === 0) throw new Error('the spool file ended early');
        read += bytesRead;
      }
      yield piece;
      letGo({ spoolBytes: piece.length });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }
}
