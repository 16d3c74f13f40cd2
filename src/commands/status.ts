import type { Command } from 'commander';
import { requestProgress, type StatusReport, statusReport } from '../db/status.ts';
import type { Outcome } from '../outcome.ts';
import {
  type CommandTools,
  commandContext,
  DATABASE_SETTINGS,
  requireUuids,
  returning,
  withDatabase,
  withSettings,
  writeJson,
} from './common.ts';

export function registerStatus(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('status')
      .description(
        'requests per status, the oldest pending one, stuck ones, links expiring within 24 h, requests overdue or due within 7 days; or one request and its progress',
      )
      .argument('[request-id]', 'show this request: status, progress, error')
      .option('--json', 'machine-readable output, for scripts and monitoring', false),
    DATABASE_SETTINGS,
  ).action(
    returning(tools, async (requestId: string | undefined, flags: { json: boolean }, cmd: Command) => {
      if (requestId) return showRequest(tools, cmd, requireUuids([requestId], 'status')[0]!, flags.json);
      const { config } = commandContext(cmd, tools.io, { database: true });
      const report = await withDatabase(config, (db) => statusReport(db));
      if (flags.json) return void writeJson(tools.io, report);
      const out = tools.io.stdout;
      const { counts } = report;
      out.write(
        `pending     ${counts.pending}${report.oldestPendingSeconds === null ? '' : `   (oldest waiting ${age(report.oldestPendingSeconds)})`}\n`,
      );
      out.write(
        `processing  ${counts.processing}${report.stuck.length ? `   (${report.stuck.length} stuck: their worker died; the next fulfill takes them over)` : ''}\n`,
      );
      out.write(`ready       ${counts.ready}   (${report.expiringWithin24h} expiring within 24 h)\n`);
      out.write(`failed      ${counts.failed}\n`);
      const dueWithin7Days = report.dueSoon.filter((d) => !d.overdue).length;
      out.write(
        `overdue     ${report.overdue}   (${dueWithin7Days} more due within 7 days; the legal deadline is a month after the request)\n`,
      );
      for (const d of report.dueSoon) {
        const left = Math.round((d.dueAt.getTime() - Date.now()) / 1000);
        out.write(
          `${d.overdue ? 'overdue' : 'due'}: ${d.id} (user ${d.userId}) due ${d.dueAt.toISOString()}, ${left < 0 ? `${age(-left)} ago` : `in ${age(left)}`}${d.extendedMonths ? `, extended by ${d.extendedMonths} month(s)` : ''}\n`,
        );
      }
      writeErasures(out, report.erasures);
      for (const s of report.stuck) {
        out.write(
          `stuck: ${s.id} (user ${s.userId}, attempt ${s.attempts}, claim expired ${age(s.claimExpiredSeconds)} ago)\n`,
        );
      }
    }),
  );
}

async function showRequest(tools: CommandTools, cmd: Command, id: string, json: boolean): Promise<Outcome | undefined> {
  const { config } = commandContext(cmd, tools.io, { database: true });
  const r = await withDatabase(config, (db) => requestProgress(db, id));
  if (!r) {
    tools.io.stderr.write(`exporter: no request ${id}\n`);
    return 'incomplete';
  }
  if (json) return void writeJson(tools.io, r);
  const out = tools.io.stdout;
  out.write(
    `${r.id}  ${r.status}  (user ${r.userId}, attempt ${r.attempts}, requested ${r.requestedAt.toISOString()})\n`,
  );
  if (r.percent !== null) {
    // The build counts each row twice, once as it is written to JSON and once to CSV: a person counts rows once.
    out.write(
      `progress: ${r.percent}%  ${Math.floor((r.rowsWritten ?? 0) / 2)}/${Math.floor((r.rowsTotal ?? 0) / 2)} rows  ${r.fileBytesTotal ? `${((r.fileBytesWritten ?? 0) / 2 ** 20).toFixed(1)}/${(r.fileBytesTotal / 2 ** 20).toFixed(1)} MB of files  ` : ''}${((r.bytesUploaded ?? 0) / 2 ** 20).toFixed(1)} MB uploaded  (updated ${r.progressUpdatedAt?.toISOString()})\n`,
    );
  }
  if (r.status === 'ready')
    out.write(
      `ready: ${r.archiveBytes} bytes, link expires ${r.expiresAt?.toISOString()}; email ${r.notifiedAt ? `sent ${r.notifiedAt.toISOString()}` : (r.notifyError ?? 'not sent yet')}\n`,
    );
  if (r.error) out.write(`error: ${r.error}\n`);
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** The erasures' line, and each failed one nobody has answered since (a person must act on it). */
function writeErasures(out: NodeJS.WritableStream, e: StatusReport['erasures']): void {
  const c = e.counts;
  out.write(
    `erasures    ${c.pending} pending, ${c.processing} processing, ${c.done} done, ${c.failed} failed, ${c.cancelled} cancelled; ${e.overdue} overdue\n`,
  );
  for (const f of e.unresolved)
    out.write(`erasure failed: ${f.id} (user ${f.userId}) ${f.error ?? ''}; exporter history ${f.id} says more\n`);
}
