import type { BenchSettings } from './bench-context.ts';

/** One row of the table: a scenario's median figures. */
export interface Figures {
  scenario: string;
  seconds: number;
  rows: number;
  archiveBytes: number;
  maxRssMb: number;
  floorSeconds?: number;
  /** Each run's wall time over the floor measured just before it: the verdict is their median. */
  ratios?: number[];
  note?: string;
}

/** The middle value (REPEAT is odd; of an even count, the mean of the two middle ones). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The mean of each key over the list, to a tenth. */
export function averageMs(list: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const ms of list) for (const [k, v] of Object.entries(ms)) sum[k] = (sum[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Math.round((v / list.length) * 10) / 10]));
}

/**
 * One line per goal of BENCHMARKS.md (issue #13), met or not, with the figure,
 * so that anyone can re-run the benchmark and read where it stands.
 */
export function printVerdicts(results: Figures[], settings: BenchSettings) {
  const find = (prefix: string) => results.find((r) => r.scenario.startsWith(prefix));
  const lines: string[] = [];
  const verdict = (goal: string, met: boolean | undefined, figure: string) =>
    lines.push(`${met === undefined ? 'not measured' : met ? 'met' : 'NOT MET'}: ${goal}: ${figure}`);
  const heavy = find('heavy: exporter');
  const big = find('heavy-big: exporter');
  const light = find('light: ');
  verdict(
    'peak RSS of the 1M-row user at most 160 MB, without NODE_OPTIONS',
    heavy && heavy.maxRssMb <= 160,
    heavy ? `${heavy.maxRssMb} MB` : 'no heavy run',
  );
  verdict(
    'peak RSS of the 3M-row user within 10% of the 1M-row user',
    big && heavy && big.maxRssMb <= heavy.maxRssMb * 1.1,
    big && heavy ? `${big.maxRssMb} MB vs ${heavy.maxRssMb} MB` : 'no 3M run',
  );
  // The median of per-run ratios, each run against the floor measured beside it, with their spread: never one run's time over another's floor.
  const ratio = (f: Figures) => median(f.ratios!);
  const spread = (f: Figures) =>
    `${ratio(f).toFixed(2)}x (runs ${[...f.ratios!]
      .sort((a, b) => a - b)
      .map((r) => r.toFixed(2))
      .join(', ')})`;
  verdict('heavy user at most 1.3x the floor', heavy && ratio(heavy) <= 1.3, heavy ? spread(heavy) : 'no heavy run');
  verdict('3M-row user at most 1.5x the floor', big && ratio(big) <= 1.5, big ? spread(big) : 'no 3M run');
  verdict(
    'at least 80 light requests/s in one process',
    light && settings.light / light.seconds >= 80,
    light ? `${(settings.light / light.seconds).toFixed(1)} requests/s` : 'no light run',
  );
  // Throughput over the floor's: each run's floor seconds over its own, the median of those.
  const ofFloor = light?.ratios?.length ? median(light.ratios.map((r) => 1 / r)) : undefined;
  verdict(
    'light requests at least 0.6 of the throughput of their floor',
    ofFloor !== undefined && ofFloor >= 0.6,
    ofFloor !== undefined
      ? `${ofFloor.toFixed(2)} of the floor (runs ${light!.ratios!.map((r) => (1 / r).toFixed(2)).join(', ')})`
      : 'no light run',
  );
  verdict(
    `peak RSS of ${settings.light} light requests in one process at most 160 MB, as the OS sees it`,
    light && light.maxRssMb > 0 ? light.maxRssMb <= 160 : undefined,
    light && light.maxRssMb > 0 ? `${light.maxRssMb} MB` : 'not measured (no /usr/bin/time)',
  );
  const noFiles = find('files: no files');
  const oneBig = find('files: one ');
  const smallFiles = find(`files: ${settings.smallFiles} small`);
  verdict(
    `peak RSS with one ${settings.fileMib} MiB file within 10% of no files (#11)`,
    noFiles && oneBig && oneBig.maxRssMb <= noFiles.maxRssMb * 1.1,
    noFiles && oneBig ? `${oneBig.maxRssMb} MB vs ${noFiles.maxRssMb} MB` : 'no files run',
  );
  verdict(
    `peak RSS with ${settings.smallFiles} small files within 10% of no files (#11)`,
    noFiles && smallFiles && smallFiles.maxRssMb <= noFiles.maxRssMb * 1.1,
    noFiles && smallFiles ? `${smallFiles.maxRssMb} MB vs ${noFiles.maxRssMb} MB` : 'no files run',
  );
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

export function printTable(results: Figures[]) {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [
    line([
      'scenario',
      'wall s (median)',
      'rows/s',
      'archive MB/s',
      'archive MB',
      'peak RSS MB',
      'floor s',
      'ratio to floor',
      'note',
    ]),
    line(Array(9).fill('---')),
  ];
  for (const r of results) {
    out.push(
      line([
        r.scenario,
        r.seconds.toFixed(2),
        Math.round(r.rows / r.seconds).toLocaleString('en'),
        r.archiveBytes ? (r.archiveBytes / 2 ** 20 / r.seconds).toFixed(1) : '',
        r.archiveBytes ? (r.archiveBytes / 2 ** 20).toFixed(1) : '',
        r.maxRssMb ? String(r.maxRssMb) : '',
        r.floorSeconds ? r.floorSeconds.toFixed(2) : '',
        r.floorSeconds ? `${(r.seconds / r.floorSeconds).toFixed(2)}x` : '',
        r.note ?? '',
      ]),
    );
  }
  process.stdout.write(`\n${out.join('\n')}\n`);
}
