import type { Command } from 'commander';
import { asActor } from '../db/audit.ts';
import { createRequest } from '../db/intake.ts';
import { NOT_LINKED, userLink } from '../db/user-link.ts';
import { UsageError } from '../errors.ts';
import { isUserIdText } from '../model/user-id.ts';
import {
  actorName,
  type CommandTools,
  commandContext,
  operatorText,
  returning,
  withDatabase,
  withSettings,
  writeJson,
} from './common.ts';

export function registerRequest(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('request')
      .description('create a pending export request for a user (rate-limited: one per EXPORT_REQUEST_WINDOW)')
      .argument('<user-id>', 'the user whose data to export')
      .option('--json', 'print the result as JSON', false)
      .option('--by <name>', 'who made it, for the audit trail (default: the OS user)', operatorText('--by')),
    ['databaseUrl', 'requestWindow', 'logLevel'],
  ).action(
    returning(tools, async (userId: string, flags: { json: boolean; by?: string }, cmd: Command) => {
      // Any key type (uuid, integer, text): the database says whether it names a user.
      if (!isUserIdText(userId))
        throw new UsageError(`request: not a user id: ${JSON.stringify(userId.slice(0, 100))}`);
      const { config, log } = commandContext(cmd, tools.io, { database: true });
      const actor = { by: actorName(flags.by), via: 'exporter request' };
      const result = await withDatabase(config, async (db) => {
        if (!(await userLink(db))) throw new UsageError(NOT_LINKED);
        return asActor(db, actor, (tx) => createRequest(tx, userId, config.requestWindowSeconds));
      });
      if (result.kind === 'no-such-user') throw new UsageError(`request: no user with id ${userId}`);
      if (result.kind === 'rate-limited') {
        const when = result.retryAfter.toISOString();
        log.info(
          { userId, previousRequestId: result.previousId, retryAfter: when },
          'request refused by the rate limit',
        );
        if (flags.json) writeJson(tools.io, { refused: true, previousRequestId: result.previousId, retryAfter: when });
        tools.io.stderr.write(
          `exporter: user ${userId} already asked for an export at ${result.previousRequestedAt.toISOString()} (request ${result.previousId}); they may ask again after ${when}\n`,
        );
        return 'rate-limited';
      }
      log.info({ requestId: result.id, userId }, 'request created');
      if (flags.json)
        writeJson(tools.io, {
          id: result.id,
          userId,
          status: 'pending',
          requestedAt: result.requestedAt.toISOString(),
        });
      else tools.io.stdout.write(`${result.id}\n`);
    }),
  );
}
