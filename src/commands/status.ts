import type { Command } from 'commander';
import { statusReport } from '../db/status.ts';
import { commandContext, type CommandTools, DATABASE_SETTINGS, withDatabase, withSettings, writeJson } from './common.ts';

export function registerStatus(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('status')
      .description('requests per status, the oldest pending one, stuck ones, links expiring within 24 h')
      .option('--json', 'machine-readable output, for scripts and monitoring', false),
    DATABASE_SETTINGS,
  ).action(async (flags: { json: boolean }, cmd: Command) => {
    const { config } = commandContext(cmd, tools.io, { database: true });
    const report = await withDatabase(config, (db) => statusReport(db));
    if (flags.json) return writeJson(tools.io, report);
    const out = tools.io.stdout;
    const { counts } = report;
    out.write(`pending     ${counts.pending}${report.oldestPendingSeconds === null ? '' : `   (oldest waiting ${age(report.oldestPendingSeconds)})`}\n`);
    out.write(`processing  ${counts.processing}${report.stuck.length ? `   (${report.stuck.length} stuck: their worker died; the next fulfill takes them over)` : ''}\n`);
    out.write(`ready       ${counts.ready}   (${report.expiringWithin24h} expiring within 24 h)\n`);
    out.write(`failed      ${counts.failed}\n`);
    for (const s of report.stuck) {
      out.write(`stuck: ${s.id} (user ${s.userId}, attempt ${s.attempts}, claim expired ${age(s.claimExpiredSeconds)} ago)\n`);
    }
  });
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}
