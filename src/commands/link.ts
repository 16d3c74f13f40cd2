import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { MAX_LINK_TTL_SECONDS } from '../config.ts';
import { recordLinkSigned } from '../db/audit.ts';
import { freshLink } from '../passes/link.ts';
import { linkForLog } from '../redact.ts';
import {
  ALL_SETTINGS,
  actorName,
  type CommandTools,
  commandContext,
  durationArg,
  operatorText,
  requireUuids,
  returning,
  withRuntime,
  withSettings,
  writeJson,
} from './common.ts';

export function registerLink(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('link')
      .description('print a fresh, short-lived download link for a ready request')
      .argument('<id>', 'request id')
      .option('--ttl <duration>', 'how long the link works (never past the request’s own expiry)', durationArg, 900)
      .option('--json', 'print {url, expiresAt} as JSON', false)
      .option('--by <name>', 'who asked for it, for the audit trail (default: the OS user)', operatorText('--by'))
      .option('--reason <text>', 'why, for the audit trail', operatorText('--reason')),
    ALL_SETTINGS,
  ).action(
    returning(
      tools,
      async (id: string, flags: { ttl: number; json: boolean; by?: string; reason?: string }, cmd: Command) => {
        requireUuids([id], 'link');
        const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
        const ttl = Math.min(flags.ttl, MAX_LINK_TTL_SECONDS);
        const result = await withRuntime(config, log, 2, async (deps) => {
          const link = await freshLink({ ...deps, log, clock: systemClock }, id, ttl);
          // The audit trail says who signed a link and for how long; never the link.
          if (link.kind !== 'refused')
            await recordLinkSigned(
              deps.db,
              id,
              { by: actorName(flags.by), reason: flags.reason },
              link.expiresAt,
              Math.round((link.expiresAt.getTime() - Date.now()) / 1000),
            );
          return link;
        });
        if (result.kind === 'refused') {
          log.warn({ requestId: id }, `no link: ${result.reason}`);
          tools.io.stderr.write(`exporter: no link for ${id}: ${result.reason}\n`);
          return 'incomplete';
        }
        // The URL is this command's output (stdout); the log only says that one was made.
        log.info(
          { requestId: id, link: linkForLog(result.url), expiresAt: result.expiresAt.toISOString() },
          'link signed',
        );
        if (flags.json) writeJson(tools.io, { url: result.url, expiresAt: result.expiresAt.toISOString() });
        else tools.io.stdout.write(`${result.url}\n`);
      },
    ),
  );
}
