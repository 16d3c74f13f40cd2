/** COPY's binary format, as PostgreSQL writes it, for tests of its readers. */

export const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

export const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};

export const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** Rows of text columns (a string: a row of one column); `flags` and a header `extension` as the format allows. */
export function binaryCopy(
  rows: readonly (string | readonly string[])[],
  { flags = 0, extension = Buffer.alloc(0) } = {},
): Buffer {
  const tuples = rows.map((row) => {
    const values = typeof row === 'string' ? [row] : row;
    return Buffer.concat([
      int16(values.length),
      ...values.flatMap((value) => [int32(Buffer.byteLength(value)), Buffer.from(value, 'utf8')]),
    ]);
  });
  return Buffer.concat([SIGNATURE, int32(flags), int32(extension.length), extension, ...tuples, int16(-1)]);
}
