import type { BuildProgress } from '../db/requests.ts';
import { buildPercent } from '../db/status.ts';
import type { Logger } from '../log.ts';
import type { CliIo } from './common.ts';

/**
 * How a build's progress reaches the operator: at a terminal, one line per
 * request redrawn in place on stderr; under a scheduler, a JSON log line at
 * each claim renewal (every few seconds), never per row.
 */
export function progressReporter(io: CliIo, log: Logger) {
  const current = new Map<string, BuildProgress>();
  let drawn = 0;
  const draw = () => {
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const [id, p] of current) {
      const pct = p.rowsTotal > 0 ? buildPercent(p.rowsWritten, p.rowsTotal, p.fileBytesWritten, p.fileBytesTotal) : 0;
      const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
      out += `\x1b[2K${id.slice(0, 8)} [${bar}] ${String(pct).padStart(3)}%  ${p.rowsWritten}/${p.rowsTotal} rows  ${p.fileBytesTotal > 0 ? `${(p.fileBytesWritten / 2 ** 20).toFixed(1)} MB of files  ` : ''}${(p.bytesUploaded / 2 ** 20).toFixed(1)} MB uploaded\n`;
    }
    io.stderr.write(out);
    drawn = current.size;
  };
  return {
    update: (requestId: string, facts: BuildProgress) => {
      if (io.isTerminal) {
        current.set(requestId, facts);
        draw();
      } else {
        log.info({ requestId, ...facts }, 'progress');
      }
    },
    done: () => {
      current.clear();
    },
  };
}
