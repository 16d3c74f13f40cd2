import type { WrittenFile, ZipEntry } from './zip-writer.ts';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Splits the CSV of one COPY (a header line, then records) into numbered
 * parts holding the given numbers of rows, each starting with the BOM and
 * the header: the same rows as the JSON parts, from a single query, where
 * reading each part with `offset`/`limit` made PostgreSQL compute every
 * skipped row again (the 3M-row user's second part cost as much as both).
 *
 * A record ends at a newline outside quotes: COPY quotes every value that
 * holds a newline and doubles the quotes inside one, so counting quotes is
 * enough to tell. The header's column names are plain SQL names (no quotes,
 * no newlines).
 */
export class CsvParts {
  private readonly openPart: (index: number) => ZipEntry;
  private readonly partRows: readonly number[];
  private header: Buffer | undefined;
  private headerPieces: Buffer[] = [];
  private entry: ZipEntry | undefined;
  private part = 0;
  private rowsLeft = 0;
  private inQuotes = false;
  private readonly done: WrittenFile[] = [];

  constructor(openPart: (index: number) => ZipEntry, partRows: readonly number[]) {
    this.openPart = openPart;
    this.partRows = partRows;
  }

  async push(chunk: Buffer): Promise<void> {
    let start = 0;
    if (!this.header) {
      const end = chunk.indexOf(NEWLINE);
      if (end === -1) {
        this.headerPieces.push(chunk);
        return;
      }
      this.header = Buffer.concat([...this.headerPieces, chunk.subarray(0, end + 1)]);
      this.headerPieces = [];
      start = end + 1;
      await this.nextPart();
    }
    let inQuotes = this.inQuotes;
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) inQuotes = !inQuotes;
      else if (byte === NEWLINE && !inQuotes && --this.rowsLeft === 0) {
        await this.entry!.write(chunk.subarray(start, i + 1));
        start = i + 1;
        await this.nextPart();
      }
    }
    this.inQuotes = inQuotes;
    if (start < chunk.length) {
      if (!this.entry) throw new Error(`the CSV holds more rows than the JSON (${this.partRows.reduce((a, b) => a + b, 0)})`);
      await this.entry.write(chunk.subarray(start));
    }
  }

  /** The parts, once the CSV has ended; throws when it held fewer rows than the JSON. */
  async finish(): Promise<WrittenFile[]> {
    if (!this.header) throw new Error('the CSV ended before its header');
    if (this.entry || this.part < this.partRows.length) throw new Error(`the CSV holds fewer rows than the JSON (part ${this.part} of ${this.partRows.length})`);
    return this.done;
  }

  /** Ends the current part and opens the next; a part of no rows is its header alone. */
  private async nextPart(): Promise<void> {
    if (this.entry) {
      this.done.push(this.entry.end());
      this.entry = undefined;
    }
    while (this.part < this.partRows.length) {
      this.part++;
      const entry = this.openPart(this.part);
      await entry.write(BOM); // Excel reads UTF-8 right only with a BOM.
      await entry.write(this.header!);
      this.rowsLeft = this.partRows[this.part - 1]!;
      if (this.rowsLeft > 0) {
        this.entry = entry;
        return;
      }
      this.done.push(entry.end());
    }
  }
}
