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
  /** The rows' bytes as they came, each piece a whole row or a part of one (a piece ends where its row ends, or where its chunk did). */
  private readonly pieces: Buffer[] = [];
  private heldBytes = 0;
  /** Pieces and bytes up to the end of the last whole row. */
  private wholePieces = 0;
  private wholeBytes = 0;
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
        this.wholePieces = this.pieces.length;
        this.wholeBytes = this.heldBytes;
        if (this.rows >= this.maxRows) this.full = true;
      }
    }
  }

  /** Keeps the rows held so far and no more: a row cut short is dropped. */
  private stop(): void {
    this.full = true;
    this.pieces.length = this.wholePieces;
    this.heldBytes = this.wholeBytes;
  }

  /** Bytes of JSON held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * The script that hands the rows to the page (browsers refuse fetch() of a
   * local file, not a script), in pieces of about 256 KiB, made a piece at a
   * time (never the whole text at once). The rows are JSON strings of whole
   * JSON lines (row_to_json escapes every newline inside a row): the page
   * splits them at newlines and parses each with JSON.parse, so a value is
   * never JavaScript, and a key such as "__proto__" stays a key.
   */
  *script(entity: string): Generator<string> {
    if (!this.full) this.stop();
    const pieces = this.pieces.splice(0);
    this.heldBytes = 0;
    let first = true;
    let lines: Buffer[] = [];
    let linesBytes = 0;
    const literal = () => {
      // Without the last newline: the page splits on the ones between rows.
      const text = Buffer.concat(lines, linesBytes).toString('utf8', 0, linesBytes - 1);
      const out = `${first ? '\n' : ',\n'}${JSON.stringify(text)}`;
      first = false;
      lines = [];
      linesBytes = 0;
      return out;
    };
    let out = `exporterViewer.rows(${JSON.stringify(entity)}, [`;
    for (const part of pieces) {
      lines.push(part);
      linesBytes += part.length;
      // A literal ends at a row's end, once it holds about a piece's worth.
      if (linesBytes >= PIECE_CHARS && part[part.length - 1] === NEWLINE) {
        out += literal();
        yield out;
        out = '';
      }
    }
    if (linesBytes > 0) out += literal();
    yield `${out}\n]);\n`;
  }
}
