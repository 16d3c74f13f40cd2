import type { WrittenFile, ZipWriter } from '../zip/zip-writer.ts';

const NEWLINE = 0x0a;

/**
 * The most bytes of JSON one entity's viewer data holds, whatever
 * EXPORT_VIEWER_ROWS says: 10,000 rows of 60,000-character cells would be
 * 600 MB held until the entity ends, and more than a browser pages through
 * gladly. Past it the page says how many rows are only in the files.
 */
export const VIEWER_BYTES_PER_ENTITY = 4 * 1024 * 1024;

/** A data file's pieces are written at about this size. */
const PIECE_CHARS = 256 * 1024;

/**
 * The first rows of one entity for the viewer, taken from the JSON lines on
 * their way into json/ (the same snapshot, the same text, no query of its
 * own): whole rows only, at most `maxRows` of them and VIEWER_BYTES_PER_ENTITY
 * bytes. Chunks may cut a row anywhere; a row is kept once its newline is seen.
 */
export class ViewerRows {
  private readonly maxRows: number;
  private readonly maxBytes: number;
  private readonly pieces: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes held before the row being read began. */
  private rowStart = 0;
  private full = false;
  /** Complete rows held. */
  rows = 0;

  constructor(maxRows: number, maxBytes = VIEWER_BYTES_PER_ENTITY) {
    this.maxRows = maxRows;
    this.maxBytes = maxBytes;
  }

  /** JSON lines, each ended by a newline, cut anywhere by the chunk's ends. */
  take(lines: Buffer): void {
    let at = 0;
    while (!this.full && at < lines.length) {
      const newline = lines.indexOf(NEWLINE, at);
      const end = newline === -1 ? lines.length : newline + 1;
      if (this.heldBytes + end - at > this.maxBytes) {
        this.stop();
        return;
      }
      // A copy: the chunk's buffer is larger than its rows and would be held whole.
      this.pieces.push(Buffer.from(lines.subarray(at, end)));
      this.heldBytes += end - at;
      at = end;
      if (newline !== -1) {
        this.rows++;
        this.rowStart = this.heldBytes;
        if (this.rows >= this.maxRows) this.full = true;
      }
    }
  }

  /** Keeps the rows held so far and no more: a row cut short is dropped. */
  private stop(): void {
    this.full = true;
    const text = Buffer.concat(this.pieces, this.heldBytes).subarray(0, this.rowStart);
    this.pieces.length = 0;
    this.pieces.push(text);
    this.heldBytes = text.length;
  }

  /**
   * viewer/data/<entity>.js: a script that hands the rows to the page
   * (browsers refuse fetch() of a local file, not a script). Each row is a
   * string of its JSON, parsed by the page with JSON.parse: a value is never
   * JavaScript, and a key such as "__proto__" stays a key.
   */
  async write(zip: ZipWriter, path: string, entity: string): Promise<WrittenFile> {
    if (!this.full) this.stop();
    const text = Buffer.concat(this.pieces, this.heldBytes).toString('utf8');
    this.pieces.length = 0;
    const entry = zip.openEntry(path);
    let piece = `exporterViewer.rows(${JSON.stringify(entity)}, [`;
    let from = 0;
    for (let i = 0; from < text.length; i++) {
      const end = text.indexOf('\n', from);
      piece += `${i === 0 ? '\n' : ',\n'}${JSON.stringify(text.slice(from, end))}`;
      from = end + 1;
      if (piece.length >= PIECE_CHARS) {
        await entry.write(Buffer.from(piece));
        piece = '';
      }
    }
    await entry.write(Buffer.from(`${piece}\n]);\n`));
    const written = entry.end();
    await zip.drained();
    return written;
  }
}
