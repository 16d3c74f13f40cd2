import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { CsvParts } from '../../src/parts/csv-parts.ts';
import { ZipWriter } from '../../src/zip/zip-writer.ts';
import { readZip } from '../support/zip.ts';

const BOM = '\uFEFF';
const HEADER = 'id,note\n';
// Records as COPY writes them: a newline inside quotes, doubled quotes, a quote right before the line end, an empty field.
const RECORDS = [
  '1,"plain"\n',
  '2,"two\nlines"\n',
  '3,"say ""hi""\n, then"\n',
  '4,""\n',
  '5,\n',
  '6,"a ""\n""b"""\n',
  '7,"x"\n',
];

/** Feeds the CSV in chunks of `size` bytes (1: a record boundary at every possible place) and returns each part's text. */
async function split(partRows: number[], size: number, records = RECORDS): Promise<string[]> {
  const zip = new ZipWriter({ level: 1, date: new Date('2026-01-01T00:00:00Z') });
  const whole = buffer(zip.output);
  const parts = new CsvParts((index) => zip.openEntry(`csv/runs-${index}.csv`), partRows);
  const csv = Buffer.from(HEADER + records.join(''));
  for (let at = 0; at < csv.length; at += size) await parts.push(csv.subarray(at, at + size));
  const written = await parts.finish();
  await zip.finalize();
  const files = await readZip(await whole);
  expect(written.map((w) => w.path)).toEqual(partRows.map((_, i) => `csv/runs-${i + 1}.csv`));
  return written.map((w) => files.get(w.path)!.toString('utf8'));
}

describe('CsvParts', () => {
  for (const size of [1, 2, 7, 1000]) {
    it(`cuts at the row counts, never inside a quoted newline or doubled quote (chunks of ${size} bytes)`, async () => {
      const parts = await split([2, 3, 2], size);
      expect(parts).toEqual([
        BOM + HEADER + RECORDS.slice(0, 2).join(''),
        BOM + HEADER + RECORDS.slice(2, 5).join(''),
        BOM + HEADER + RECORDS.slice(5).join(''),
      ]);
    });
  }

  it('a part of no rows is its header alone', async () => {
    expect(await split([0], 3, [])).toEqual([BOM + HEADER]);
  });

  it('more or fewer rows than the JSON parts hold is an error, not a silent mismatch', async () => {
    await expect(split([2, 3], 5)).rejects.toThrow('the CSV holds more rows than the JSON (5)');
    await expect(split([4, 4], 5)).rejects.toThrow('the CSV holds fewer rows than the JSON');
  });

  it('many records of random quotes and line breaks, in random chunks: each part holds exactly its records', async () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    // What may stand inside a quoted value as COPY writes it: a doubled quote, line breaks, commas.
    const pieces = ['a', '""', '\n', ',', 'x y', '\r\n'];
    const field = () => `"${Array.from({ length: random(6) }, () => pieces[random(pieces.length)]).join('')}"`;
    const records = Array.from({ length: 500 }, (_, i) => `${i},${field()},${random(3) ? field() : ''}\n`);
    const counts = [120, 0, 200, 180];
    for (const size of [3, 64, 4096]) {
      const parts = await split(counts, size, records);
      let at = 0;
      expect(parts).toEqual(
        counts.map((n) => {
          const part = records.slice(at, at + n);
          at += n;
          return BOM + HEADER + part.join('');
        }),
      );
    }
  });
});
