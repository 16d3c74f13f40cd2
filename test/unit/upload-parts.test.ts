import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_PARTS, nextPartSize, partSizeFor, partsOf } from '../../src/storage/multipart-upload.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** The parts an upload of `total` bytes is cut into, given the estimate it was told. */
function planParts(total: number, expected: number | undefined, base = 8 * MiB): number[] {
  const sizes: number[] = [];
  let sent = 0;
  while (sent < total) {
    const size = nextPartSize(base, expected, sent, sizes.length);
    sizes.push(size);
    sent += size;
  }
  return sizes;
}

describe("the upload's parts", () => {
  it('partSizeFor: the base, or enough to fit the expected size in 9,000 parts', () => {
    expect(partSizeFor(undefined, 8 * MiB)).toBe(8 * MiB);
    expect(partSizeFor(1_000_000, 8 * MiB)).toBe(8 * MiB);
    expect(partSizeFor(200e9, 8 * MiB)).toBe(22 * MiB);
    expect(partSizeFor(100e12, 8 * MiB)).toBe(5 * GiB); // S3's largest part
  });

  it('an estimate that holds: every part as planned, well within 10,000', () => {
    for (const total of [50 * MiB, 100 * GiB, 500 * GiB]) {
      const sizes = planParts(total, total);
      expect(new Set(sizes), String(total)).toEqual(new Set([partSizeFor(total, 8 * MiB)]));
      expect(sizes.length).toBeLessThanOrEqual(9_000);
    }
  });

  it('an estimate far too short (a size column that said 1 byte) or none: parts grow as needed and never run out', () => {
    for (const expected of [1, undefined, 10 * GiB]) {
      // At least 1 TiB whatever the estimate (S3's 5 GiB parts cap it near 2 TiB), ten times the default EXPORT_MAX_ARCHIVE_BYTES.
      for (const total of [100 * GiB, 1024 * GiB]) {
        const sizes = planParts(total, expected);
        expect(sizes.length, `${expected} ${total}`).toBeLessThan(MAX_PARTS);
        expect(Math.max(...sizes)).toBeLessThanOrEqual(5 * GiB);
        // Never smaller than planned, and no larger than needed: a 100 GiB archive keeps parts of tens of MiB.
        expect(Math.min(...sizes)).toBeGreaterThanOrEqual(8 * MiB);
        if (total === 100 * GiB) expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * MiB);
      }
    }
  });

  it('partsOf: exact parts of the size asked for as each starts, the first grown from 64 KiB, every byte in order', async () => {
    const data = randomBytes(3 * MiB + 12345);
    const chunks: Buffer[] = [];
    for (let at = 0; at < data.length; ) {
      const n = 1 + Math.floor(Math.random() * 200_000);
      chunks.push(data.subarray(at, at + n));
      at += n;
    }
    const asked: [number, number][] = [];
    const sizes = [MiB, MiB / 2, 2 * MiB];
    const parts: Buffer[] = [];
    const taken: number[] = [];
    for await (const part of partsOf(
      Readable.from(chunks),
      (sent, partsSent) => {
        asked.push([sent, partsSent]);
        return sizes[partsSent] ?? 4 * MiB;
      },
      (size) => {
        taken.push(size);
        return Buffer.allocUnsafe(size);
      },
    )) {
      parts.push(Buffer.from(part));
    }
    expect(parts.map((p) => p.length)).toEqual([MiB, MiB / 2, data.length - 1.5 * MiB]);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(asked).toEqual([
      [0, 0],
      [MiB, 1],
      [1.5 * MiB, 2],
    ]);
    expect(taken).toEqual([MiB / 2, 2 * MiB]); // the first part is grown in place, the others taken whole
  });
});
