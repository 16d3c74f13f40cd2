import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import { smtpMailer } from '../email/mailer.ts';
import type { Logger } from '../log.ts';
import type { Outcome } from '../outcome.ts';
import { type FulfillSummary, runFulfill } from '../passes/fulfill.ts';
import type { RuntimeDeps } from '../runtime.ts';
import {
  ALL_SETTINGS,
  type CommandTools,
  commandContext,
  positiveInt,
  reportMetrics,
  requireUuids,
  returning,
  withRuntime,
  withSettings,
} from './common.ts';
import { openFulfillContext } from './fulfill-context.ts';
import { progressReporter } from './progress.ts';

export interface FulfillFlags {
  limit: number;
  request?: string[];
  dryRun: boolean;
}

export function registerFulfill(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('fulfill')
      .description('build the archive of every pending request, upload it and store its download link')
      .option('--limit <n>', 'build at most this many requests', positiveInt, Number.MAX_SAFE_INTEGER)
      .option('--request <id...>', 'reprocess exactly these requests, whatever their status (not one being processed)')
      .option('--dry-run', 'say what would be built, change nothing', false),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (flags: FulfillFlags, cmd: Command) => {
      requireUuids(flags.request ?? [], '--request');
      const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
      return withRuntime(config, log, fulfillConnections(config), async (deps, schemaVersion) => {
        const summary = await fulfillPass(tools, config, log, deps, schemaVersion, flags);
        const outcome = fulfillOutcome(summary);
        if (!flags.dryRun)
          await reportMetrics(config, log, deps.db, {
            pass: 'fulfill',
            fulfill: summary,
            definitionOk: true,
            succeeded: outcome === 'done',
          });
        return outcome;
      });
    }),
  );
}

export function fulfillConnections(config: Config): number {
  // Per request in flight: its snapshot, a second reader of it for big
  // entities, and one for its claim renewals; plus one for claims.
  return config.export.concurrency * 3 + 1;
}

export async function fulfillPass(
  tools: CommandTools,
  config: Config,
  log: Logger,
  deps: RuntimeDeps,
  schemaVersion: string,
  flags: FulfillFlags,
): Promise<FulfillSummary> {
  log = log.child({ pass: 'fulfill' });
  // Before anything is claimed: a definition that no longer matches the database builds nothing.
  const context = await openFulfillContext(deps.db, config, log, schemaVersion);
  const mailer = config.mail && !flags.dryRun ? smtpMailer(config.mail.smtpUrl, config.mail.from) : undefined;
  const progress = progressReporter(tools.io, log);
  try {
    const summary = await runFulfill({ ...deps, log, clock: systemClock }, context, {
      limit: flags.limit,
      concurrency: config.export.concurrency,
      requestIds: flags.request,
      dryRun: flags.dryRun,
      signal: tools.stopper.signal,
      mailer,
      onProgress: progress.update,
    });
    progress.done();
    log.info({ ...summary, dryRun: flags.dryRun || undefined }, 'fulfill finished');
    return summary;
  } finally {
    mailer?.close();
    context.close();
  }
}

/** Done when every claimed request ended ready; incomplete when any is to be retried, failed, or could not be claimed. */
export function fulfillOutcome(s: FulfillSummary): Outcome {
  return s.retrying + s.failed + s.abandoned + s.skipped.length > 0 ? 'incomplete' : 'done';
}
