import type { WrittenFile, ZipEntry } from '../zip/zip-writer.ts';

/** Excel reads UTF-8 right only with a byte order mark first. */
export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NEWLINE = 0x0a;

/** Where `char` is next in `text` from `from`, or the text's length when it is not there. */
function indexOrEnd(text: string, char: string, from: number): number {
  const at = text.indexOf(char, from);
  return at === -1 ? text.length : at;
}

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
    // From quote to quote and newline to newline, in the chunk read as
    // latin1 (one character per byte, so indexes are byte offsets): a
    // string's indexOf is an intrinsic, where a loop over every byte (or a
    // Buffer's indexOf, a call into C++ per search) did 190-280 MB/s and
    // took 2 s of the main thread for the 3M-row user's 844 MB of CSV; this
    // does 500-640. A doubled quote closes and at once reopens, which leaves
    // the parity as counting would.
    let inQuotes = this.inQuotes;
    const text = chunk.toString('latin1');
    let nextQuote = -1;
    let nextNewline = -1;
    for (let i = start; i < chunk.length; ) {
      if (nextQuote < i) nextQuote = indexOrEnd(text, '"', i);
      if (inQuotes) {
        if (nextQuote === chunk.length) break; // the rest of the chunk is inside quotes
        inQuotes = false;
        i = nextQuote + 1;
        continue;
      }
      if (nextNewline < i) nextNewline = indexOrEnd(text, '\n', i);
      if (nextQuote < nextNewline) {
        inQuotes = true;
        i = nextQuote + 1;
      } else if (nextNewline < chunk.length) {
        i = nextNewline + 1;
        if (--this.rowsLeft === 0) {
          await this.entry!.write(chunk.subarray(start, i));
          start = i;
          await this.nextPart();
        }
      } else {
        break;
      }
    }
    this.inQuotes = inQuotes;
    if (start < chunk.length) {
      if (!this.entry)
        throw new Error(`the CSV holds more rows than the JSON (${this.partRows.reduce((a, b) => a + b, 0)})`);
      await this.entry.write(chunk.subarray(start));
    }
  }

  /** The parts, once the CSV has ended; throws when it held fewer rows than the JSON. */
  async finish(): Promise<WrittenFile[]> {
    if (!this.header) throw new Error('the CSV ended before its header');
    if (this.entry || this.part < this.partRows.length)
      throw new Error(`the CSV holds fewer rows than the JSON (part ${this.part} of ${this.partRows.length})`);
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
