import { fileURLToPath } from 'node:url';

const FLAG = '--max-semi-space-size';

/**
 * A small young generation keeps the heap near its live size while gigabytes
 * stream through (BENCHMARKS.md). V8 reads it only at start, so however the
 * exporter was started (node bin/exporter, the npm bin, node dist/main.js, a
 * crontab without NODE_OPTIONS) it replaces itself once with the flag set:
 * process.execve keeps the process id and stdio, so signals (and PID 1 in a
 * container) are unaffected. A flag given explicitly wins. Call it before
 * loading anything heavy: it does not return when it re-executes.
 */
export function ensureV8Flags(entry: string = process.argv[1] ?? fileURLToPath(import.meta.url)): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith(FLAG));
  if (given || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, `${FLAG}=2`, ...process.execArgv, entry, ...process.argv.slice(2)], process.env);
}
