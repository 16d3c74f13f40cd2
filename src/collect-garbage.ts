import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// V8 installs `gc` in contexts made after the flag is set; nothing else is exposed.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A full garbage collection, now. For one place only: the user's files. Each
 * file costs an S3 GET whose objects outlive the small young generation (the
 * one that keeps the heavy export flat), so they pile up in the old one,
 * which V8 lets grow to several times its live size before it collects: 10,000
 * small files peaked at 230 MB, 30,000 at 288 MB, though the heap live at the
 * end was 40 MB. A collection every few hundred files (about 10 ms each)
 * keeps it near that (BENCHMARKS.md).
 */
export function collectGarbage(): void {
  gc();
}
