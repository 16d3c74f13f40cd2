import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toolAvailable } from './tools.ts';

const COMMONS_COMPRESS = '/usr/share/java/commons-compress.jar';
const ZIP_CHECK = new URL('./java/ZipCheck.java', import.meta.url).pathname;

/**
 * Reads an archive front to back without its central directory, as
 * streaming importers do: Java's ZipInputStream and Commons Compress's
 * ZipArchiveInputStream with its defaults (test/support/java/ZipCheck.java),
 * and bsdtar fed on standard input. Returns each reader's entries by name
 * with their SHA-256; a reader that refuses the archive throws. Readers not
 * installed are left out (never under CI: scripts/install-test-tools.sh
 * installs them).
 */
export function readWithStreamingReaders(file: string): Map<string, Map<string, string>> {
  const readers = new Map<string, Map<string, string>>();
  if (toolAvailable('java')) {
    if (!existsSync(COMMONS_COMPRESS) && process.env.CI)
      throw new Error(`${COMMONS_COMPRESS} is missing; CI must run scripts/install-test-tools.sh`);
    if (existsSync(COMMONS_COMPRESS)) {
      const out = execFileSync('java', ['-cp', COMMONS_COMPRESS, ZIP_CHECK, file], { maxBuffer: 1 << 26 }).toString();
      for (const line of out.split('\n').filter(Boolean)) {
        const [reader, name, sha] = line.split('\t') as [string, string, string];
        if (!readers.has(reader)) readers.set(reader, new Map());
        readers.get(reader)!.set(name, sha);
      }
    }
  }
  if (toolAvailable('bsdtar')) {
    // From standard input: bsdtar cannot seek to the central directory, so it reads as a stream.
    const dir = mkdtempSync(path.join(tmpdir(), 'bsdtar-'));
    try {
      // A UTF-8 locale, whatever the environment's: without one bsdtar writes UTF-8 names as something else.
      execFileSync('bsdtar', ['-xf', '-', '-C', dir], {
        input: readFileSync(file),
        maxBuffer: 1 << 26,
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
      });
      const entries = new Map<string, string>();
      for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
        const full = path.join(dir, name);
        if (statSync(full).isFile())
          entries.set(name.split(path.sep).join('/'), createHash('sha256').update(readFileSync(full)).digest('hex'));
      }
      readers.set('bsdtar', entries);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return readers;
}
