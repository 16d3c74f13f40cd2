import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceDigest } from '../../bin/source-digest.js';

/**
 * bin/exporter, in a copy of the checkout's layout whose src/main.ts and
 * dist/main.js each say which they are: the compiled build runs only while
 * the sources are the ones it was stamped with (npm run build:
 * scripts/stamp-build.ts).
 */
describe('bin/exporter', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'exporter-bin-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  cpSync(new URL('../../bin/', import.meta.url), path.join(root, 'bin'), { recursive: true });
  mkdirSync(path.join(root, 'src', 'nested'), { recursive: true });
  mkdirSync(path.join(root, 'dist'));
  writeFileSync(path.join(root, 'package.json'), '{"type": "module"}');
  writeFileSync(path.join(root, 'src', 'main.ts'), "const which: string = 'sources';\nconsole.log(which);\n");
  writeFileSync(path.join(root, 'src', 'nested', 'part.ts'), 'export const part = 1;\n');
  writeFileSync(path.join(root, 'dist', 'main.js'), "console.log('build');\n");
  const stamp = () =>
    writeFileSync(path.join(root, 'dist', '.source-digest'), `${sourceDigest(path.join(root, 'src'))}\n`);
  const runs = () => execFileSync(process.execPath, [path.join(root, 'bin', 'exporter')], { encoding: 'utf8' }).trim();

  it('runs the sources until a build is stamped with them, the build while they match, the sources again once one changes, and the build where there are no sources', () => {
    expect(runs()).toBe('sources');
    stamp();
    expect(runs()).toBe('build');
    appendFileSync(path.join(root, 'src', 'nested', 'part.ts'), '// changed after the build\n');
    expect(runs()).toBe('sources');
    stamp();
    expect(runs()).toBe('build');
    writeFileSync(path.join(root, 'src', 'nested', 'added.ts'), 'export {};\n');
    expect(runs()).toBe('sources');
    rmSync(path.join(root, 'src'), { recursive: true });
    expect(runs()).toBe('build');
  });
});
