import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { JsonArrayParts, plannedPartRows } from '../../src/parts/json-parts.ts';
import { ZipWriter } from '../../src/zip/zip-writer.ts';
import { readZip } from '../support/zip.ts';

/** JSON lines of `rows` objects whose `pad` makes each about `rowBytes` long. */
const lines = (rows: number, rowBytes: number) =>
  Array.from(
    { length: rows },
    (_, i) => `${JSON.stringify({ n: i + 1, pad: 'x'.repeat(Math.max(0, rowBytes - 20)) })}\n`,
  ).join('');

async function parts(jsonLines: string, maxBytes: number, plan: number[], chunk = 7): Promise<number[][]> {
  const zip = new ZipWriter({ level: 1, date: new Date('2026-01-01T00:00:00Z') });
  const whole = buffer(zip.output);
  const json = new JsonArrayParts((index) => zip.openEntry(`json/runs-${index}.json`), maxBytes, plan);
  const bytes = Buffer.from(jsonLines);
  for (let at = 0; at < bytes.length; at += chunk) await json.push(bytes.subarray(at, at + chunk));
  const written = await json.finish();
  await zip.finalize();
  const files = await readZip(await whole);
  const numbers = written.map((w) => (JSON.parse(files.get(w.path)!.toString()) as { n: number }[]).map((r) => r.n));
  expect(written.map((w) => w.rows)).toEqual(numbers.map((n) => n.length));
  return numbers;
}

describe('JsonArrayParts', () => {
  it('cuts at the planned row counts while the parts stay under the limit', async () => {
    expect(await parts(lines(7, 50), 10_000, [3, 3, 1])).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('cuts at the byte limit first when a planned part would pass it (an estimate that was short)', async () => {
    const cut = await parts(lines(6, 100), 250, [6]);
    expect(cut).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]); // the part closes at the first row boundary past 250 bytes
  });

  it('with no plan, cuts at the limit only', async () => {
    expect((await parts(lines(5, 40), 1_000_000, [])).map((p) => p.length)).toEqual([5]);
  });
});

describe('plannedPartRows', () => {
  it('plans parts of about half the entry limit by the estimate, whole rows, none empty', () => {
    expect(plannedPartRows(3_000_000, 1_450_000_000, 1024 ** 3)).toEqual([1_000_000, 1_000_000, 1_000_000]);
    expect(plannedPartRows(10, 1000, 400)).toEqual([2, 2, 2, 2, 2]);
    expect(plannedPartRows(3, 10_000, 100)).toEqual([1, 1, 1]); // never a part of no rows
    expect(plannedPartRows(7, 100, 1000)).toEqual([7]);
  });
});
