import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { revokeRequests } from '../passes/revoke.ts';
import {
  ALL_SETTINGS,
  actorName,
  type CommandTools,
  commandContext,
  operatorText,
  requireUuids,
  returning,
  withRuntime,
  withSettings,
} from './common.ts';

export function registerRevoke(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('revoke')
      .description('delete the archives now and end the requests failed with error "revoked"')
      .argument('<id...>', 'request ids')
      .option('--reason <text>', 'why, for the log and the audit trail', operatorText('--reason'))
      .option(
        '--by <name>',
        'who is asking, for the log and the audit trail (default: the OS user)',
        operatorText('--by'),
      ),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (ids: string[], flags: { reason?: string; by?: string }, cmd: Command) => {
      requireUuids(ids, 'revoke');
      const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
      const by = actorName(flags.by);
      const result = await withRuntime(config, log, 2, (deps) =>
        revokeRequests({ ...deps, log: log.child({ reason: flags.reason, by }), clock: systemClock }, ids, {
          by,
          reason: flags.reason,
        }),
      );
      for (const id of result.revoked) tools.io.stdout.write(`${id} revoked\n`);
      for (const id of result.notFound) tools.io.stdout.write(`${id} not found\n`);
      return result.notFound.length + result.errors > 0 ? 'incomplete' : 'done';
    }),
  );
}
