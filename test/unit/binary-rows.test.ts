import { describe, expect, it } from 'vitest';
import { BinaryTextColumns, BinaryTextRows } from '../../src/snapshot/binary-rows.ts';
import { binaryCopy, int16, int32, SIGNATURE } from '../support/binary-copy.ts';

/** Feeds the data in chunks of `size` bytes and returns the lines' text. */
function lines(data: Buffer, size: number | (() => number)): string {
  const rows = new BinaryTextRows();
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n = typeof size === 'number' ? size : size();
    out.push(rows.push(data.subarray(at, at + n)));
    at += n;
  }
  rows.end();
  return Buffer.concat(out).toString('utf8');
}

// What row_to_json writes: escaped newlines and quotes, multibyte characters, a long row, the smallest row.
const ROWS = [
  '{"id":1,"note":"plain"}',
  '{"note":"two\\nlines, \\"quoted\\""}',
  '{"name":"Zoë ☃ 🎉"}',
  `{"long":"${'x'.repeat(70_000)}"}`,
  '{}',
];
const EXPECTED = ROWS.map((r) => `${r}\n`).join('');

describe('BinaryTextRows', () => {
  for (const size of [1, 2, 3, 5, 6, 19, 64, 65_536, 1_000_000]) {
    it(`turns rows into lines wherever the chunks are cut (chunks of ${size} bytes)`, () => {
      expect(lines(binaryCopy(ROWS), size)).toBe(EXPECTED);
    });
  }

  it('random chunk sizes over many rows, a header extension skipped', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % 200;
    };
    const rows = Array.from({ length: 2000 }, (_, i) => `{"n":${i},"s":"${'é'.repeat(random() % 50)}"}`);
    const data = binaryCopy(rows, { extension: Buffer.from('ignored extension') });
    expect(lines(data, () => 1 + random())).toBe(rows.map((r) => `${r}\n`).join(''));
  });

  it('no rows: no lines', () => {
    expect(lines(binaryCopy([]), 3)).toBe('');
  });

  it('data cut short is an error, not fewer rows', () => {
    const data = binaryCopy(ROWS);
    for (const cut of [0, 10, 19, 21, 25, data.length - 2, data.length - 1]) {
      const rows = new BinaryTextRows();
      rows.push(data.subarray(0, cut));
      expect(() => rows.end(), `cut at ${cut}`).toThrow(/ended early/);
    }
  });

  it('anything but one text column in binary format is refused', () => {
    const refused = (data: Buffer) => () => new BinaryTextRows().push(data);
    expect(refused(Buffer.from('{"id":1}\n'.repeat(4)))).toThrow(/not in binary format/);
    expect(refused(binaryCopy(ROWS, { flags: 1 << 16 }))).toThrow(/row OIDs/);
    const twoColumns = Buffer.concat([
      SIGNATURE,
      int32(0),
      int32(0),
      int16(2),
      int32(1),
      Buffer.from('a'),
      int32(1),
      Buffer.from('b'),
      int16(-1),
    ]);
    expect(refused(twoColumns)).toThrow(/2 columns/);
    const nullRow = Buffer.concat([SIGNATURE, int32(0), int32(0), int16(1), int32(-1), int16(-1)]);
    expect(refused(nullRow)).toThrow(/NULL value/);
    expect(refused(Buffer.concat([binaryCopy(ROWS), int16(1)]))).toThrow(/after its end/);
  });
});

describe('BinaryTextColumns', () => {
  // A JSON object and a CSV record that holds newlines of its own (a quoted value): only the row starts tell where a record begins.
  const ROWS = Array.from({ length: 300 }, (_, i) => [
    `{"n":${i},"s":"${'é'.repeat(i % 40)}"}`,
    `${i},"two\nlines ""${'☃'.repeat(i % 9)}"""`,
  ]);

  for (const size of [1, 2, 3, 7, 64, 4096, 1_000_000]) {
    it(`each column's rows, and where each row starts in both, wherever the chunks are cut (chunks of ${size} bytes)`, () => {
      const data = binaryCopy(ROWS);
      const columns = new BinaryTextColumns(2, { trackRows: true });
      const out: [Buffer[], Buffer[]] = [[], []];
      const starts: [number[], number[]] = [[], []];
      const length = [0, 0];
      for (let at = 0; at < data.length; at += size) {
        const chunk = columns.pushColumns(data.subarray(at, at + size));
        for (let i = 0; i < chunk.rowStarts.length; i += 2) {
          starts[0].push(length[0]! + chunk.rowStarts[i]!);
          starts[1].push(length[1]! + chunk.rowStarts[i + 1]!);
        }
        for (const c of [0, 1] as const) {
          out[c].push(chunk.columns[c]!);
          length[c]! += chunk.columns[c]!.length;
        }
      }
      columns.end();
      const text = out.map((o) => Buffer.concat(o));
      for (const c of [0, 1] as const) {
        expect(text[c]!.toString()).toBe(ROWS.map((r) => `${r[c]}\n`).join(''));
        // Row n starts after the bytes of rows 0 to n-1 in that column.
        const expected = ROWS.map((_, n) =>
          Buffer.byteLength(
            ROWS.slice(0, n)
              .map((r) => `${r[c]}\n`)
              .join(''),
          ),
        );
        expect(starts[c]).toEqual(expected);
      }
    });
  }

  it('the wrong number of columns is refused', () => {
    expect(() => new BinaryTextColumns(2).pushColumns(binaryCopy([['only one']]))).toThrow(
      /1 columns where 2 were expected/,
    );
  });
});
