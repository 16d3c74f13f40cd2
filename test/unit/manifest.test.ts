import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { buildManifest, writeManifest } from '../../src/archive/manifest.ts';
import type { UserFileRecord } from '../../src/model/archive.ts';
import { ZipWriter } from '../../src/zip/zip-writer.ts';
import { readZip } from '../support/zip.ts';

function manifestOf(files: UserFileRecord[]) {
  return buildManifest({
    requestId: 'r',
    userId: 'u',
    asOf: '2026-01-02T03:04:05.000000Z',
    linkExpiresAt: new Date('2026-01-09T00:00:00Z'),
    exporterVersion: '1',
    schemaVersion: '000007',
    entities: {
      users: { rows: 1, files: [{ path: 'json/users.json', bytes: 3, sha256: 'a'.repeat(64), format: 'json' }] },
    },
    files,
  });
}

describe('manifest.json', () => {
  it('written in pieces, byte for byte what JSON.stringify makes of it, with none, one and many files (unicode and quotes in paths)', async () => {
    const many = Array.from(
      { length: 5_000 },
      (_, i): UserFileRecord =>
        i % 3 === 0
          ? {
              path: `files/notes/${i}/naïve "quoted" ✓.txt`,
              entity: 'notes',
              outcome: 'included',
              bytes: i,
              sha256: 'b'.repeat(64),
            }
          : { path: `files/notes/${i}/x.txt`, entity: 'notes', outcome: 'failed', reason: "not the user's" },
    );
    for (const files of [[], many.slice(0, 1), many]) {
      const manifest = manifestOf(files);
      const zip = new ZipWriter({ level: 1, date: new Date() });
      const whole = buffer(zip.output);
      await writeManifest(zip, manifest);
      await zip.finalize();
      const text = (await readZip(await whole)).get('manifest.json')!.toString();
      expect(text).toBe(`${JSON.stringify(manifest, null, 2)}\n`);
    }
  });
});
