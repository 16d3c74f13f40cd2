import type { ColumnChunk } from '../snapshot/binary-rows.ts';
import type { WrittenFile, ZipEntry } from '../zip/zip-writer.ts';
import { BOM } from './csv-parts.ts';
import { JsonArrayParts, type JsonPart } from './json-parts.ts';

/**
 * A split entity's JSON and CSV parts from one read: each row's JSON object
 * and CSV record arrive together (pairedCopySql, two columns of a binary
 * COPY), so part N of both files holds the same rows by construction, with
 * no plan to agree on and no second query to keep in step.
 *
 * A part ends before a row once it holds its planned number of rows, or
 * once its JSON or its CSV has reached `maxBytes` (so either may pass the
 * limit by one row, never more). The CSV parts are written to other entries
 * (the archive's fragment that waits for its turn on disk): they start with
 * the BOM and the header, like every CSV of the archive.
 */
export class PairedParts {
  private readonly json: JsonArrayParts;
  private readonly openCsv: (index: number) => ZipEntry;
  private readonly header: Buffer;
  private readonly maxBytes: number;
  private readonly plannedRows: readonly number[];
  private csvEntry: ZipEntry | undefined;
  private readonly csvDone: WrittenFile[] = [];
  /** The current part's rows begun so far, and its bytes (each file's text, up to where the row being read began). */
  private partRows = 0;
  private jsonBytes = 0;
  private csvBytes = 0;
  private totalRows = 0;

  constructor(
    openJson: (index: number) => ZipEntry,
    openCsv: (index: number) => ZipEntry,
    csvHeader: string,
    maxBytes: number,
    plannedRows: readonly number[],
  ) {
    this.json = new JsonArrayParts(openJson, Number.POSITIVE_INFINITY);
    this.openCsv = openCsv;
    this.header = Buffer.concat([BOM, Buffer.from(csvHeader)]);
    this.maxBytes = maxBytes;
    this.plannedRows = plannedRows;
  }

  /** Rows begun so far. */
  get rows(): number {
    return this.totalRows;
  }

  /** One chunk of rows (from BinaryTextColumns with two columns, tracking rows): JSON lines first, CSV records second. */
  async push({ columns, rowStarts }: ColumnChunk): Promise<void> {
    const [json, csv] = columns as [Buffer, Buffer];
    let jsonFrom = 0;
    let csvFrom = 0;
    for (let i = 0; i < rowStarts.length; i += 2) {
      const jsonAt = rowStarts[i]!;
      const csvAt = rowStarts[i + 1]!;
      if (this.partRows > 0 && this.partIsFull(this.jsonBytes + jsonAt - jsonFrom, this.csvBytes + csvAt - csvFrom)) {
        await this.write(json.subarray(jsonFrom, jsonAt), csv.subarray(csvFrom, csvAt));
        await this.endPart();
        jsonFrom = jsonAt;
        csvFrom = csvAt;
      }
      this.partRows++;
      this.totalRows++;
    }
    await this.write(json.subarray(jsonFrom), csv.subarray(csvFrom));
  }

  /** Ends the last parts (an entity with no rows still gets one of each: `[]`, and the header alone). */
  async finish(): Promise<{ json: JsonPart[]; csv: WrittenFile[] }> {
    const json = await this.json.finish();
    this.csvDone.push(this.currentCsv().end());
    this.csvEntry = undefined;
    return { json, csv: this.csvDone };
  }

  private partIsFull(jsonBytes: number, csvBytes: number): boolean {
    return (
      this.partRows === this.plannedRows[this.csvDone.length] || jsonBytes >= this.maxBytes || csvBytes >= this.maxBytes
    );
  }

  private async write(json: Buffer, csv: Buffer): Promise<void> {
    this.jsonBytes += json.length;
    this.csvBytes += csv.length;
    if (json.length > 0) await this.json.push(json);
    if (csv.length > 0) await this.currentCsv().write(csv);
  }

  private async endPart(): Promise<void> {
    await this.json.endPart();
    this.csvDone.push(this.currentCsv().end());
    this.csvEntry = undefined;
    this.partRows = 0;
    this.jsonBytes = 0;
    this.csvBytes = 0;
  }

  private currentCsv(): ZipEntry {
    if (!this.csvEntry) {
      this.csvEntry = this.openCsv(this.csvDone.length + 1);
      // Written straight into the stream's buffer; the first row's write waits for drain.
      void this.csvEntry.write(this.header);
    }
    return this.csvEntry;
  }
}
