import type { WrittenFile, ZipEntry } from '../zip/zip-writer.ts';

const OPEN = Buffer.from('[\n');
const SEPARATOR = Buffer.from(',\n');
const CLOSE = Buffer.from('\n]\n');
const CLOSE_EMPTY = Buffer.from(']\n');
const NEWLINE = 0x0a;

export interface JsonPart extends WrittenFile {
  rows: number;
}

/**
 * Turns PostgreSQL's JSON lines (one object per line; a JSON text never holds
 * a raw newline) into JSON arrays, starting a new part once the current one
 * holds its planned number of rows (`plannedRows`, part by part: the CSV's
 * parts, read at the same time, are cut at the same counts) or passes
 * `maxBytes` at a row boundary, whichever comes first. Work per chunk, not
 * per row: each chunk is written once, with the separators spliced in.
 */
export class JsonArrayParts {
  private readonly openPart: (index: number) => ZipEntry;
  private readonly maxBytes: number;
  private readonly plannedRows: readonly number[];
  private entry: ZipEntry | undefined;
  /** A row ended; the next row in this part needs a separator first. */
  private rowEnded = false;
  private partRows = 0;
  private totalRows = 0;
  private readonly done: JsonPart[] = [];

  constructor(openPart: (index: number) => ZipEntry, maxBytes: number, plannedRows: readonly number[] = []) {
    this.openPart = openPart;
    this.maxBytes = maxBytes;
    this.plannedRows = plannedRows;
  }

  get rows(): number {
    return this.totalRows;
  }

  async push(chunk: Buffer): Promise<void> {
    let pieces: Buffer[] = [];
    let pieceBytes = 0;
    const add = (b: Buffer) => {
      pieces.push(b);
      pieceBytes += b.length;
    };
    const flush = async () => {
      if (pieces.length > 0)
        await this.current().write(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, pieceBytes));
      pieces = [];
      pieceBytes = 0;
    };

    let pos = 0;
    while (pos < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, pos);
      const end = newline === -1 ? chunk.length : newline;
      if (end > pos) {
        if (this.rowEnded) {
          this.rowEnded = false;
          if (
            this.current().bytes + pieceBytes >= this.maxBytes ||
            this.partRows === this.plannedRows[this.done.length]
          ) {
            await flush();
            await this.closePart();
          } else {
            add(SEPARATOR);
          }
        }
        this.current();
        add(chunk.subarray(pos, end));
      }
      if (newline === -1) break;
      this.rowEnded = true;
      this.partRows++;
      this.totalRows++;
      pos = newline + 1;
    }
    await flush();
  }

  /** Closes the last part (an entity with no rows still gets one, holding `[]`). */
  async finish(): Promise<JsonPart[]> {
    this.current();
    await this.closePart();
    return this.done;
  }

  private current(): ZipEntry {
    if (!this.entry) {
      this.entry = this.openPart(this.done.length + 1);
      // Written straight into the stream's buffer; the first row's write waits for drain.
      void this.entry.write(OPEN);
    }
    return this.entry;
  }

  /** Ends the current part here, at a row boundary (PairedParts decides where its parts end itself). */
  endPart(): Promise<void> {
    return this.closePart();
  }

  private async closePart(): Promise<void> {
    const entry = this.entry!;
    await entry.write(this.partRows === 0 ? CLOSE_EMPTY : CLOSE);
    this.done.push({ ...entry.end(), rows: this.partRows });
    this.entry = undefined;
    this.partRows = 0;
    this.rowEnded = false;
  }
}

/**
 * Whether an entity is written in numbered parts. Decided before the first
 * byte, since a ZIP entry's name comes first; half the entry limit leaves
 * room for the estimate's error.
 */
export function needsParts(estimatedBytes: number, maxEntryBytes: number): boolean {
  return estimatedBytes > maxEntryBytes / 2;
}

/**
 * A split entity's rows per part, planned before the first byte: parts of
 * about half the entry limit by the estimate (a part is still cut at the
 * limit if the estimate was short), so that parts come out even rather than
 * full ones and a remnant. Where the CSV is read on another connection at
 * the same time as the JSON, it is cut at these counts while the JSON is
 * still being written.
 */
export function plannedPartRows(rows: number, estimatedBytes: number, maxEntryBytes: number): number[] {
  const parts = Math.max(1, Math.ceil(estimatedBytes / (maxEntryBytes / 2)));
  const perPart = Math.max(1, Math.ceil(rows / parts));
  const plan: number[] = [];
  for (let left = rows; left > 0; left -= perPart) plan.push(Math.min(perPart, left));
  return plan.length > 0 ? plan : [0];
}
