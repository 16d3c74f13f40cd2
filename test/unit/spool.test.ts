import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Spool } from '../../src/snapshot/spool.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-spool-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Spool', () => {
  it('gives back exactly what it was given, from a file that no name leads to', async () => {
    const spool = (await Spool.create(dir))!;
    expect(readdirSync(dir)).toEqual([]); // unlinked as soon as it was opened
    const pieces = Array.from({ length: 40 }, (_, i) =>
      createHash('sha512')
        .update(String(i))
        .digest()
        .subarray(0, 1 + ((i * 7919) % 64)),
    );
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 5);
    await spool.fill(Readable.from([...pieces, big]));
    const back = [];
    for await (const piece of spool.drain()) back.push(piece);
    expect(Buffer.concat(back).equals(Buffer.concat([...pieces, big]))).toBe(true);
    await spool.close();
    await spool.close(); // twice is harmless
  });

  it('a directory it cannot write to gives no spool (the caller waits in memory instead)', async () => {
    expect(await Spool.create(path.join(dir, 'no-such-directory'))).toBeNull();
  });
});
