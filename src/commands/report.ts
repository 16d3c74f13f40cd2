import type { Command } from 'commander';
import type { ErasureFigures } from '../db/erasure-report.ts';
import { type PeriodReport, periodReport } from '../db/report.ts';
import { UsageError } from '../errors.ts';
import {
  type CommandTools,
  commandContext,
  DATABASE_SETTINGS,
  momentArg,
  returning,
  withDatabase,
  withSettings,
  writeJson,
} from './common.ts';

const LINES: [keyof PeriodReport, string][] = [
  ['received', 'requests received'],
  ['answered', 'answered (archive ready)'],
  ['answeredOnTime', '  on time (by the due date, extensions counted)'],
  ['answeredLate', '  late'],
  ['stillOpen', 'still open'],
  ['overdue', '  of which overdue'],
  ['givenUp', 'given up'],
  ['medianSecondsToReady', 'median time to ready (s)'],
  ['p95SecondsToReady', '95th percentile time to ready (s)'],
  ['extended', 'extended'],
  ['linksSignedByOperators', 'links signed by operators'],
  ['revoked', 'revoked'],
];

const ERASURE_LINES: [keyof ErasureFigures, string][] = [
  ['received', 'erasures received'],
  ['done', 'done (erased, proven, receipt given)'],
  ['doneOnTime', '  on time'],
  ['doneLate', '  late'],
  ['stillOpen', 'still open'],
  ['overdue', '  of which overdue'],
  ['failed', 'failed (a residue found, or no attempts left)'],
  ['cancelled', 'cancelled in their grace period'],
];

export function registerReport(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('report')
      .description(
        'for the privacy officer: the requests and erasures received in a period, answered on time or late, still open, given up, time to ready (from the audit trail)',
      )
      .requiredOption('--from <date>', 'the period starts here (inclusive, UTC)', momentArg('report', '--from'))
      .requiredOption('--to <date>', 'the period ends here (exclusive, UTC)', momentArg('report', '--to'))
      .option(
        '--as-of <time>',
        'judge the figures as of this moment instead of now (never after --to)',
        momentArg('report', '--as-of'),
      )
      .option('--json', 'print the figures as JSON', false)
      .option('--csv', 'print the figures as CSV (figure,value), for a spreadsheet', false),
    DATABASE_SETTINGS,
  ).action(
    returning(
      tools,
      async (flags: { from: Date; to: Date; asOf?: Date; json: boolean; csv: boolean }, cmd: Command) => {
        if (flags.to <= flags.from) throw new UsageError('report: --to must be after --from');
        if (flags.json && flags.csv) throw new UsageError('report: --json or --csv, not both');
        const { config } = commandContext(cmd, tools.io, { database: true });
        const report = await withDatabase(config, (db) => periodReport(db, flags.from, flags.to, flags.asOf));
        const out = tools.io.stdout;
        if (flags.json) return void writeJson(tools.io, report);
        if (flags.csv) {
          out.write('figure,value\r\n');
          for (const [key, value] of [
            ['from', report.from],
            ['to', report.to],
            ['as_of', report.asOf],
            ...LINES.map(([k]) => [k, report[k]] as const),
            ...ERASURE_LINES.map(([k]) => [`erasures.${k}`, report.erasures[k]] as const),
          ] as const)
            out.write(`${key},${value ?? ''}\r\n`);
          for (const [reason, n] of Object.entries(report.givenUpReasons))
            out.write(`"given up: ${reason.replaceAll('"', '""')}",${n}\r\n`);
          return;
        }
        out.write(`requests received from ${report.from} to ${report.to} (exclusive), as of ${report.asOf}\n`);
        for (const [key, label] of LINES) out.write(`${label.padEnd(48)} ${report[key] ?? '-'}\n`);
        for (const [reason, n] of Object.entries(report.givenUpReasons)) out.write(`  given up: ${reason}: ${n}\n`);
        for (const [key, label] of ERASURE_LINES) out.write(`${label.padEnd(48)} ${report.erasures[key]}\n`);
      },
    ),
  );
}
