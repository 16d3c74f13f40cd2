import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ZipWriter } from '../../src/zip/zip-writer.ts';
import { toolAvailable } from '../support/tools.ts';

/**
 * A writable file that leaves runs of zero bytes as holes: a 5 GiB archive of
 * stored zeros then takes a few megabytes of disk, yet reads back whole.
 */
function sparseFile(file: string): Writable {
  const fd = openSync(file, 'w');
  let position = 0;
  const zeros = Buffer.alloc(64 * 1024);
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, done) {
      for (let offset = 0; offset < chunk.length; offset += zeros.length) {
        const piece = chunk.subarray(offset, offset + zeros.length);
        if (!piece.equals(zeros.subarray(0, piece.length))) writeSync(fd, piece, 0, piece.length, position + offset);
      }
      position += chunk.length;
      done();
    },
    final(done) {
      ftruncateSync(fd, position);
      closeSync(fd);
      done();
    },
  });
}

describe('ZIP64', () => {
  it('an archive past 4 GiB (five 1 GiB files) opens in unzip, Python’s zipfile and 7-Zip, every CRC checked', {
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'exporter-zip64-'));
    const file = path.join(dir, 'big.zip');
    try {
      // Level 0 stores the bytes as they are, so the zeros stay zeros on disk (holes).
      const zip = new ZipWriter({ level: 0, date: new Date('2026-01-01T00:00:00Z') });
      const written = pipeline(zip.output, sparseFile(file));
      const block = Buffer.alloc(1 << 20);
      for (let part = 1; part <= 5; part++) {
        const entry = zip.openEntry(`json/pipeline_runs-000${part}.json`);
        for (let mib = 0; mib < 1024; mib++) await entry.write(block);
        entry.end();
      }
      await zip.addText('manifest.json', '{"last": true}\n'); // its offset is past 4 GiB
      await zip.finalize();
      await written;

      const py = execFileSync('python3', [
        '-c',
        'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(";".join(f"{i.filename}:{i.file_size}:{i.header_offset > 0xFFFFFFFF}" for i in z.infolist()))\nprint(z.read("manifest.json").decode().strip())',
        file,
      ]).toString();
      const [listing, manifest] = py.trim().split('\n');
      const entries = listing!.split(';').map((e) => e.split(':'));
      expect(entries.map((e) => e[0])).toEqual(
        [1, 2, 3, 4, 5].map((n) => `json/pipeline_runs-000${n}.json`).concat('manifest.json'),
      );
      expect(entries.slice(0, 5).every((e) => e[1] === String(1024 ** 3))).toBe(true);
      expect(entries.at(-1)![2]).toBe('True'); // the last entry starts beyond 4 GiB: ZIP64 offsets
      expect(manifest).toBe('{"last": true}');

      expect(execFileSync('unzip', ['-tq', file], { maxBuffer: 1 << 20 }).toString()).toMatch(/No errors detected/);
      // 7-Zip (the archiver most Windows users open it with), where installed; CI installs it.
      if (toolAvailable('7zz'))
        expect(execFileSync('7zz', ['t', file], { maxBuffer: 1 << 20 }).toString()).toMatch(/Everything is Ok/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
