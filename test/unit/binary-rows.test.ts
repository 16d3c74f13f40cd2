import { describe, expect, it } from 'vitest';
import { BinaryTextRows } from '../../src/export/binary-rows.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** COPY's binary format of one text column, as PostgreSQL writes it. */
function binaryCopy(rows: string[], { flags = 0, extension = Buffer.alloc(0) } = {}): Buffer {
  const tuples = rows.map((row) => {
    const text = Buffer.from(row, 'utf8');
    return Buffer.concat([int16(1), int32(text.length), text]);
  });
  return Buffer.concat([SIGNATURE, int32(flags), int32(extension.length), extension, ...tuples, int16(-1)]);
}

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
const ROWS = ['{"id":1,"note":"plain"}', '{"note":"two\\nlines, \\"quoted\\""}', '{"name":"Zoë ☃ 🎉"}', `{"long":"${'x'.repeat(70_000)}"}`, '{}'];
const EXPECTED = ROWS.map((r) => `${r}\n`).join('');

describe('BinaryTextRows', () => {
  for (const size of [1, 2, 3, 5, 6, 19, 64, 65_536, 1_000_000]) {
    it(`turns rows into lines wherever the chunks are cut (chunks of ${size} bytes)`, () => {
      expect(lines(binaryCopy(ROWS), size)).toBe(EXPECTED);
    });
  }

  it('random chunk sizes over many rows, a header extension skipped', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 200;
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
    const twoColumns = Buffer.concat([SIGNATURE, int32(0), int32(0), int16(2), int32(1), Buffer.from('a'), int32(1), Buffer.from('b'), int16(-1)]);
    expect(refused(twoColumns)).toThrow(/2 columns/);
    const nullRow = Buffer.concat([SIGNATURE, int32(0), int32(0), int16(1), int32(-1), int16(-1)]);
    expect(refused(nullRow)).toThrow(/NULL row/);
    expect(refused(Buffer.concat([binaryCopy(ROWS), int16(1)]))).toThrow(/after its end/);
  });
});
