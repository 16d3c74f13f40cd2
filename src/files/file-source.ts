import type { Readable } from 'node:stream';

/** What a source says about a file before its bytes. */
export interface FileHead {
  bytes: number;
  contentType: string | undefined;
  /** Pins a resumed read to the same version of the file. */
  etag: string | undefined;
}

export interface FileBody extends FileHead {
  body: Readable;
  /** A read that breaks off can go on from a byte offset (Range): the body is the file's bytes as stored, of a known length. */
  resumable: boolean;
}

/** The source answered that the file does not exist (404): a fact, not an outage. */
export const MISSING = 'missing' as const;

/**
 * The source will never serve this file, whatever the retries: an address
 * that is not on the allowed hosts, a redirect elsewhere, access denied.
 */
export class FileRefusedError extends Error {
  override name = 'FileRefusedError';
  /** For the archive (manifest.json, README.txt): plain words, no key, URL or host. */
  readonly publicText: string;
  constructor(message: string, publicText: string, options?: ErrorOptions) {
    super(message, options);
    this.publicText = publicText;
  }
}

export interface ReadOptions {
  /** Resume from this byte, of the version with this ETag. */
  from?: number;
  etag?: string;
  signal: AbortSignal;
}

/** Where a user's files are read from. Read only: the exporter never writes or deletes a source's files. */
export interface FileSource {
  readonly name: string;
  /** Why this key or URL (from the database: untrusted) is never read, or undefined when it may be. */
  refusal(locator: string): string | undefined;
  head(locator: string, signal: AbortSignal): Promise<FileHead | typeof MISSING>;
  read(locator: string, options: ReadOptions): Promise<FileBody | typeof MISSING>;
  /**
   * Erasure: deletes the object, and asks for it again (it must answer "not
   * found"); true where it was there. Only a bucket can; an https source
   * holds files elsewhere.
   */
  remove?(locator: string, signal: AbortSignal): Promise<boolean>;
  destroy(): void;
}
