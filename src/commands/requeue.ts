import type { Command } from 'commander';
import { requeue } from '../db/lifecycle.ts';
import {
  actorName,
  type CommandTools,
  commandContext,
  DATABASE_SETTINGS,
  operatorText,
  requireUuids,
  returning,
  withDatabase,
  withSettings,
} from './common.ts';

export function registerRequeue(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('requeue')
      .description('put failed (or stuck) requests back to pending, attempts reset')
      .argument('<id...>', 'request ids')
      .requiredOption('--reason <text>', 'why, for the log and the audit trail', operatorText('--reason'))
      .option(
        '--by <name>',
        'who is asking, for the log and the audit trail (default: the OS user)',
        operatorText('--by'),
      ),
    DATABASE_SETTINGS,
  ).action(
    returning(tools, async (ids: string[], flags: { reason: string; by?: string }, cmd: Command) => {
      requireUuids(ids, 'requeue');
      const { config, log } = commandContext(cmd, tools.io, { database: true });
      const by = actorName(flags.by);
      const results = await withDatabase(config, (db) => requeue(db, ids, { by, reason: flags.reason }));
      for (const r of results) {
        if (r.outcome === 'requeued') {
          log.info({ requestId: r.id, by, reason: flags.reason }, 'request requeued');
          tools.io.stdout.write(`${r.id} requeued\n`);
        } else {
          log.warn({ requestId: r.id, by, reason: flags.reason }, `request not requeued: ${r.reason}`);
          tools.io.stdout.write(`${r.id} not requeued: ${r.reason}\n`);
        }
      }
      return results.every((r) => r.outcome === 'requeued') ? 'done' : 'incomplete';
    }),
  );
}
