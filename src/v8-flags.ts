import { fileURLToPath } from 'node:url';

/**
 * What V8 needs told at start, each with the test for an operator's own
 * choice of it (which wins):
 * - A small young generation keeps the heap near its live size while
 *   gigabytes stream through (BENCHMARKS.md).
 * - No incremental marking: with a heap of 20-30 MB and buffers streaming
 *   through, V8 started marking again as soon as a collection ended, and the
 *   objects allocated while it marked counted as live, so 600 full
 *   collections took 10 s of the 3M-row user's 50 (a third of the
 *   exporter's CPU, on the cores PostgreSQL needs). Marked at once instead,
 *   a pause of a few milliseconds on such a heap: 27 collections, 30 s, the
 *   same peak. A batch worker has no frame to keep smooth.
 */
const FLAGS: readonly { flag: string; given: RegExp }[] = [
  { flag: '--max-semi-space-size=2', given: /^--max[-_]semi[-_]space[-_]size\b/ },
  { flag: '--no-incremental-marking', given: /^--(no-)?incremental[-_]marking$/ },
];

/**
 * V8 reads these flags only at start, so however the exporter was started
 * (node bin/exporter, the npm bin, node dist/main.js, a crontab without
 * NODE_OPTIONS) it replaces itself once with them set: process.execve keeps
 * the process id and stdio, so signals (and PID 1 in a container) are
 * unaffected. Call it before loading anything heavy: it does not return
 * when it re-executes.
 */
export function ensureV8Flags(entry: string = process.argv[1] ?? fileURLToPath(import.meta.url)): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const missing = FLAGS.filter((f) => !given.some((arg) => f.given.test(arg))).map((f) => f.flag);
  if (missing.length === 0 || typeof process.execve !== 'function') return;
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, entry, ...process.argv.slice(2)],
    process.env,
  );
}
