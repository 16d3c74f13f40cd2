import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Outcome } from '../outcome.ts';
import { type ExpireSummary, runExpire } from '../passes/expire.ts';
import type { RuntimeDeps } from '../runtime.ts';
import {
  ALL_SETTINGS,
  type CommandTools,
  commandContext,
  durationArg,
  reportMetrics,
  returning,
  withRuntime,
  withSettings,
} from './common.ts';

export interface ExpireFlags {
  dryRun: boolean;
  pruneAfter?: number;
  /** EXPORT_AUDIT_RETENTION, from the config. */
  auditRetentionSeconds?: number;
}

export function addExpireOptions(cmd: Command): Command {
  return cmd.option(
    '--prune-after <duration>',
    'also delete failed request rows older than this (e.g. 90d); off by default',
    durationArg,
  );
}

export function registerExpire(program: Command, tools: CommandTools): void {
  withSettings(
    addExpireOptions(
      program
        .command('expire')
        .description(
          'retire requests whose link expired (archive deleted, request failed) and sweep what crashed runs left behind',
        )
        .option('--dry-run', 'say what would be done, change nothing', false),
    ),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (flags: ExpireFlags, cmd: Command) => {
      const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
      return withRuntime(config, log, 3, async (deps) => {
        const summary = await expirePass(tools, log, deps, {
          ...flags,
          auditRetentionSeconds: config.export.auditRetentionSeconds,
        });
        const outcome = expireOutcome(summary);
        if (!flags.dryRun)
          await reportMetrics(config, log, deps.db, { pass: 'expire', expire: summary, succeeded: outcome === 'done' });
        return outcome;
      });
    }),
  );
}

export async function expirePass(
  tools: CommandTools,
  log: Logger,
  deps: RuntimeDeps,
  flags: ExpireFlags,
): Promise<ExpireSummary> {
  log = log.child({ pass: 'expire' });
  const summary = await runExpire(
    { ...deps, log, clock: systemClock },
    {
      dryRun: flags.dryRun,
      pruneAfterSeconds: flags.pruneAfter,
      auditRetentionSeconds: flags.auditRetentionSeconds,
      signal: tools.stopper.signal,
    },
  );
  log.info(summary, 'expire finished');
  return summary;
}

/** Done when everything due was done; incomplete when an archive could not be deleted or the sweep failed. */
export function expireOutcome(s: ExpireSummary): Outcome {
  return s.errors > 0 ? 'incomplete' : 'done';
}
