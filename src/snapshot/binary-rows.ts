/**
 * COPY's binary format of text columns, turned into lines: per column, each
 * row's text followed by a newline.
 *
 * Why binary for the JSON lines: in binary format PostgreSQL hands each
 * row's text over as it is, with its length in front; in CSV format it
 * first scans every line for a quote or a delimiter that JSON can never
 * hold (the heavy user's JSON query took 5-10% less time, BENCHMARKS.md).
 * A JSON text holds no newline of its own (row_to_json escapes every one);
 * a column that may (a CSV record) is told apart by where its rows start.
 *
 * The format (PostgreSQL's COPY documentation): an 11-byte signature, a
 * 32-bit flags field and a 32-bit length of a header extension to skip;
 * then per row a 16-bit field count and, per field, a 32-bit length (-1 for
 * NULL) and that many bytes; then a field count of -1. Integers are
 * big-endian. Chunks are cut anywhere, a length or the signature included.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const SPACE = 0x20;
/** Bit 16 of the flags: each row starts with an OID, which this reader does not expect. */
const HAS_OIDS = 1 << 16;

type State =
  /** The signature, the flags and the extension's length (19 bytes). */
  | 'header'
  /** The header extension's bytes, skipped. */
  | 'extension'
  /** A row's field count (2 bytes), or the end. */
  | 'count'
  /** The field's length (4 bytes). */
  | 'length'
  /** The field's bytes. */
  | 'value'
  | 'ended';

/** One chunk's worth of rows, column by column. */
export interface ColumnChunk {
  /** Per column: the text of the rows this chunk completes or continues, each row's followed by a newline. */
  columns: Buffer[];
  /** For each row that starts in this chunk, where it starts in each column's buffer (`columns.length` numbers per row), when asked for. */
  rowStarts: number[];
}

export class BinaryTextColumns {
  private readonly count: number;
  private readonly trackRows: boolean;
  /** Per column: whether a line break in its text becomes a space (see the constructor). */
  private readonly oneLine: boolean[];
  private state: State = 'header';
  /** The start of a fixed-size field cut by a chunk's end. */
  private partial = Buffer.alloc(0);
  /** Bytes left of the extension or the value being read. */
  private left = 0;
  /** The column whose length or value is being read. */
  private column = 0;
  private out: Buffer[] = [];
  private written: number[] = [];
  private starts: number[] = [];

  /**
   * `columns` text columns per row; `trackRows`: say where each row starts
   * (see ColumnChunk). `oneLine`: the columns whose text is a JSON object of
   * row_to_json's, in which a raw line break can only be the whitespace of a
   * `json` value as the application wrote it (row_to_json escapes every line
   * break inside a string, and jsonb never has one): it becomes a space, so
   * the row stays one line and means what it meant. Done here, byte by byte,
   * rather than by parsing the value again in SQL, which a value nested deeper
   * than the session's stack allows would fail.
   */
  constructor(columns: number, { trackRows = false, oneLine = [] as readonly number[] } = {}) {
    this.count = columns;
    this.trackRows = trackRows;
    this.oneLine = Array.from({ length: columns }, (_, i) => oneLine.includes(i));
  }

  /** The rows this chunk completes or continues; a row cut by the chunk's end continues with the next chunk. */
  pushColumns(chunk: Buffer): ColumnChunk {
    // Every newline but one stands for a row or field header (6 or 4 bytes) read in the same chunk, so this is enough room.
    this.out = Array.from({ length: this.count }, () => Buffer.allocUnsafe(chunk.length + 1));
    this.written = new Array<number>(this.count).fill(0);
    this.starts = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.state === 'value' || this.state === 'extension') {
        const n = Math.min(this.left, chunk.length - at);
        const column = this.column;
        if (this.state === 'value') {
          const from = this.written[column]!;
          this.written[column]! += chunk.copy(this.out[column]!, from, at, at + n);
          if (this.oneLine[column]) spaceLineBreaks(this.out[column]!.subarray(from, this.written[column]));
        }
        at += n;
        this.left -= n;
        if (this.left > 0) break;
        if (this.state === 'value') {
          this.out[column]![this.written[column]!++] = NEWLINE;
          this.column = column + 1;
          this.state = this.column < this.count ? 'length' : 'count';
        } else {
          this.state = 'count';
        }
        continue;
      }
      if (this.state === 'ended') throw new Error('COPY sent data after its end');
      const size = this.state === 'header' ? 19 : this.state === 'count' ? 2 : 4;
      // Almost always the whole field is in this chunk, and is read where it is.
      if (this.partial.length === 0 && chunk.length - at >= size) {
        this.read(chunk, at);
        at += size;
      } else {
        const n = Math.min(size - this.partial.length, chunk.length - at);
        this.partial = Buffer.concat([this.partial, chunk.subarray(at, at + n)]);
        at += n;
        if (this.partial.length < size) break;
        const field = this.partial;
        this.partial = Buffer.alloc(0);
        this.read(field, 0);
      }
    }
    return { columns: this.out.map((out, i) => out.subarray(0, this.written[i])), rowStarts: this.starts };
  }

  /** Throws unless the end of the data was seen: a stream cut short is never taken for a whole one. */
  end(): void {
    if (this.state !== 'ended') throw new Error(`COPY's binary data ended early (in the middle of its ${this.state})`);
  }

  /** Reads the fixed-size field of the current state at `at`. */
  private read(field: Buffer, at: number): void {
    switch (this.state) {
      case 'header':
        if (!field.subarray(at, at + SIGNATURE.length).equals(SIGNATURE))
          throw new Error("COPY's data is not in binary format");
        if (field.readUInt32BE(at + 11) & HAS_OIDS) throw new Error("COPY's binary data has row OIDs");
        this.left = field.readUInt32BE(at + 15);
        this.state = this.left > 0 ? 'extension' : 'count';
        return;
      case 'count': {
        const count = field.readInt16BE(at);
        if (count === -1) {
          this.state = 'ended';
          return;
        }
        if (count !== this.count)
          throw new Error(
            `COPY's binary data has ${count} columns where ${this.count} ${this.count === 1 ? 'was' : 'were'} expected`,
          );
        if (this.trackRows) this.starts.push(...this.written);
        this.column = 0;
        this.state = 'length';
        return;
      }
      case 'length':
        this.left = field.readInt32BE(at);
        if (this.left < 0) throw new Error("COPY's binary data has a NULL value");
        this.state = 'value';
        return;
    }
  }
}

/** A line break in `text` becomes a space, in place. */
function spaceLineBreaks(text: Buffer): void {
  for (const byte of [NEWLINE, RETURN]) {
    for (let i = text.indexOf(byte); i !== -1; i = text.indexOf(byte, i + 1)) text[i] = SPACE;
  }
}

/** The single text column of a COPY (one JSON object per row), as lines. */
export class BinaryTextRows {
  private readonly columns: BinaryTextColumns;

  /** `oneLine`: the rows hold `json` values whose line breaks become spaces (BinaryTextColumns). */
  constructor({ oneLine = false } = {}) {
    this.columns = new BinaryTextColumns(1, { oneLine: oneLine ? [0] : [] });
  }

  /** The lines this chunk completes or continues; a row cut by the chunk's end continues with the next chunk. */
  push(chunk: Buffer): Buffer {
    return this.columns.pushColumns(chunk).columns[0]!;
  }

  /** Throws unless the end of the data was seen: a stream cut short is never taken for a whole one. */
  end(): void {
    this.columns.end();
  }
}
