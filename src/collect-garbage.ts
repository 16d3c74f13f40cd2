import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// V8 installs `gc` in contexts made after the flag is set; nothing else is exposed.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A full garbage collection, now, where the exporter knows garbage piles up
 * faster than V8 collects it. The user's files: each costs an S3 GET whose
 * objects outlive the small young generation (the one that keeps the heavy
 * export flat), so they pile up in the old one, which V8 lets grow to several
 * times its live size: 10,000 small files peaked at 230 MB, 30,000 at 288 MB,
 * though the heap live at the end was 40 MB; a collection every 500 files
 * (about 10 ms each) keeps it near that. A spool drained at disk speed: its
 * spent 1 MiB pieces are freed only at a collection (BENCHMARKS.md).
 */
export function collectGarbage(): void {
  gc();
}
