import { buffer } from 'node:stream/consumers';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { PairedParts } from '../../src/parts/paired-parts.ts';
import { BinaryTextColumns } from '../../src/snapshot/binary-rows.ts';
import { ZipWriter } from '../../src/zip/zip-writer.ts';
import { binaryCopy } from '../support/binary-copy.ts';
import { readZip } from '../support/zip.ts';

/** A paired read as PostgreSQL sends it: per row a JSON object and its CSV record (`n`, and a note that may hold a newline), in COPY's binary format. */
function pairedCopy(rows: number, jsonPad: number, csvPad: number): Buffer {
  return binaryCopy(
    Array.from({ length: rows }, (_, i) => [
      JSON.stringify({ n: i + 1, pad: 'j'.repeat(jsonPad) }),
      `${i + 1},"a ""quoted""\nline ${'c'.repeat(csvPad)}"`,
    ]),
  );
}

/** The parts' row numbers, JSON and CSV, after feeding `data` in chunks of `chunk` bytes; checks that each part's rows are counted right. */
async function parts(data: Buffer, maxBytes: number, plan: number[], chunk: number) {
  const zip = new ZipWriter({ level: 1, date: new Date('2026-01-01T00:00:00Z') });
  const whole = buffer(zip.output);
  const later = zip.fragment(64 * 1024 * 1024);
  const paired = new PairedParts(
    (i) => zip.openEntry(`json/runs-${i}.json`),
    (i) => later.openEntry(`csv/runs-${i}.csv`),
    'n,note\n',
    maxBytes,
    plan,
  );
  const columns = new BinaryTextColumns(2, { trackRows: true });
  for (let at = 0; at < data.length; at += chunk) await paired.push(columns.pushColumns(data.subarray(at, at + chunk)));
  columns.end();
  const written = await paired.finish();
  await later.endFragment();
  await zip.appendFragment(later);
  await zip.finalize();
  const files = await readZip(await whole);
  const json = written.json.map((w) => (JSON.parse(files.get(w.path)!.toString()) as { n: number }[]).map((r) => r.n));
  expect(written.json.map((w) => w.rows)).toEqual(json.map((n) => n.length));
  const csv = written.csv.map((w) => {
    const text = files.get(w.path)!.toString();
    expect(text.startsWith('\ufeffn,note\n'), w.path).toBe(true);
    return (parseCsv(text, { bom: true, columns: true }) as { n: string; note: string }[]).map((r) => Number(r.n));
  });
  expect(paired.rows).toBe(json.flat().length);
  return {
    json,
    csv,
    bytes: {
      json: written.json.map((w) => files.get(w.path)!.length),
      csv: written.csv.map((w) => files.get(w.path)!.length),
    },
  };
}

describe('PairedParts', () => {
  for (const chunk of [1, 5, 64, 100_000]) {
    it(`cuts both files at the planned row counts, part N of each holding the same rows (chunks of ${chunk} bytes)`, async () => {
      const { json, csv } = await parts(pairedCopy(7, 30, 10), 10_000, [3, 3, 1], chunk);
      expect(json).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
      expect(csv).toEqual(json);
    });
  }

  it('cuts at the byte limit of the JSON before the plan, the CSV with it; a part passes the limit by one row at most', async () => {
    const { json, csv, bytes } = await parts(pairedCopy(10, 200, 0), 500, [10], 13);
    expect(json).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
    expect(csv).toEqual(json);
    for (const b of bytes.json) expect(b).toBeLessThan(500 + 250);
  });

  it('cuts at the byte limit of the CSV too, where a row takes more room in CSV than in JSON', async () => {
    const { json, csv, bytes } = await parts(pairedCopy(10, 0, 200), 500, [10], 13);
    expect(json.length).toBeGreaterThan(2);
    expect(csv).toEqual(json);
    expect(json.flat()).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    for (const b of bytes.csv) expect(b).toBeLessThan(500 + 250);
  });

  it('no rows: one part of each, `[]` and the header alone', async () => {
    const { json, csv } = await parts(pairedCopy(0, 0, 0), 500, [0], 3);
    expect(json).toEqual([[]]);
    expect(csv).toEqual([[]]);
  });
});
