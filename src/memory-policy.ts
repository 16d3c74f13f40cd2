import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// V8 installs `gc` in contexts made after the flag is set; nothing else is exposed.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * The one place that forces a full garbage collection, and the only reasons
 * it does. The rest of the exporter only says what it let go (`letGo`).
 *
 * - The user's files: each costs an S3 GET whose objects outlive the small
 *   young generation (the one that keeps the heavy export flat), so they pile
 *   up in the old one, which V8 lets grow to several times its live size:
 *   10,000 small files peaked at 230 MB, 30,000 at 288 MB, though the heap
 *   live at the end was 40 MB; a collection every 500 files (about 10 ms
 *   each) kept them at 153 and 181 MB.
 * - A spool drained at disk speed: its spent 1 MiB pieces are freed only at a
 *   collection; one every 8 MiB drained took the 1M-row user from 160 to
 *   138-155 MB at the same speed (BENCHMARKS.md).
 *
 * Counted across the process (builds in parallel share one heap).
 */
const FILES_PER_COLLECTION = 500;
const SPOOL_BYTES_PER_COLLECTION = 8 * 2 ** 20;

let files = 0;
let spoolBytes = 0;

/** What a build let go of since it last said: files written, spool bytes drained. A full collection when either passes its mark. */
export function letGo(spent: { files?: number; spoolBytes?: number }): void {
  files += spent.files ?? 0;
  spoolBytes += spent.spoolBytes ?? 0;
  if (files < FILES_PER_COLLECTION && spoolBytes < SPOOL_BYTES_PER_COLLECTION) return;
  files = 0;
  spoolBytes = 0;
  gc();
}
