const NEWLINE = 0x0a;

/**
 * The most bytes of JSON one entity's viewer data holds, whatever
 * EXPORT_VIEWER_ROWS says: 10,000 rows of 60,000-character cells would be
 * 600 MB held until the entity ends, and more than a browser pages through
 * gladly. Past it the page says how many rows are only in the files.
 */
export const VIEWER_BYTES_PER_ENTITY = 2 * 1024 * 1024;

/** The rows are held in slabs of this size (not a Buffer per row: 10,000 small buffers cost more than their bytes). */
const SLAB_BYTES = 256 * 1024;

/**
 * The first rows of one entity for the viewer, taken from the JSON lines on
 * their way into json/ (the same snapshot, the same text, no query of its
 * own): whole rows only, at most `maxRows` of them and VIEWER_BYTES_PER_ENTITY
 * bytes. Chunks may cut a row anywhere; a row is kept once its newline is seen.
 */
export class ViewerRows {
  private readonly maxRows: number;
  private readonly maxBytes: number;
  /** The rows' bytes, one after another, in slabs; the last slab is filled up to `heldBytes`. */
  private readonly slabs: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes up to the end of the last whole row. */
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
      this.hold(lines.subarray(at, end));
      at = end;
      if (newline !== -1) {
        this.rows++;
        this.wholeBytes = this.heldBytes;
        if (this.rows >= this.maxRows) this.full = true;
      }
    }
  }

  /** Copies bytes into the slabs (a copy: the chunk's buffer is larger than its rows and would be held whole). */
  private hold(bytes: Buffer): void {
    let from = 0;
    while (from < bytes.length) {
      const used = this.heldBytes % SLAB_BYTES;
      if (used === 0 && this.slabs.length * SLAB_BYTES === this.heldBytes)
        this.slabs.push(Buffer.allocUnsafeSlow(SLAB_BYTES));
      const copied = bytes.copy(this.slabs.at(-1)!, used, from);
      from += copied;
      this.heldBytes += copied;
    }
  }

  /** Keeps the rows held so far and no more: a row cut short is dropped. */
  private stop(): void {
    this.full = true;
    this.heldBytes = this.wholeBytes;
    this.slabs.length = Math.ceil(this.heldBytes / SLAB_BYTES);
  }

  /** Bytes of JSON held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * The rows held, whole (a row cut short is dropped), one JSON line each as
   * it is in json/, in the slabs they were held in; the page splits them at
   * newlines and parses each with JSON.parse, so a value is never JavaScript,
   * and a key such as "__proto__" stays a key. Hands the slabs over: nothing
   * is held after.
   */
  handOver(): Buffer[] {
    if (!this.full) this.stop();
    const slabs = this.slabs.splice(0);
    const total = this.heldBytes;
    this.heldBytes = 0;
    return slabs.map((slab, i) => slab.subarray(0, Math.min(SLAB_BYTES, total - i * SLAB_BYTES)));
  }
}
