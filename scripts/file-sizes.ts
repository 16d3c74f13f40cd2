/**
 * `npm run lint`'s second half: no file of the exporter's own code (src/,
 * viewer/, scripts/) over 300 lines, as it stands on disk (Biome's rule
 * counts differently, and checks the functions: at most 60 lines each).
 * A file that grows past it is a room to split, not a limit to raise.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const MAX_LINES = 300;
const CODE = /\.(ts|js|css|html|sh)$/;

function* filesUnder(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* filesUnder(full);
    else if (CODE.test(name)) yield full;
  }
}

const tooLong = ['src', 'viewer', 'scripts']
  .flatMap((dir) => [...filesUnder(path.join(ROOT, dir))])
  .map((file) => ({ file: path.relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
  .filter((f) => f.lines > MAX_LINES);
for (const f of tooLong) process.stderr.write(`${f.file}: ${f.lines} lines, more than ${MAX_LINES}: split it\n`);
process.exitCode = tooLong.length > 0 ? 1 : 0;
