import type { Command } from 'commander';
import type { Config } from '../config.ts';
import type { Outcome } from '../outcome.ts';
import { type FulfillSummary, runFulfill } from '../passes/fulfill.ts';
import {
  ALL_SETTINGS,
  type CommandTools,
  commandContext,
  positiveInt,
  reportMetrics,
  requireUuids,
  returning,
  withSettings,
} from './common.ts';
import { progressReporter } from './progress.ts';
import { buildConnections, openBuildContext, openRun, type Run } from './run.ts';

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
      const options = { connections: buildConnections(config), mail: !flags.dryRun };
      return openRun(config, log, options, async (run) => {
        const summary = await fulfillPass(tools, config, run, flags);
        const outcome = fulfillOutcome(summary);
        if (!flags.dryRun)
          await reportMetrics(config, log, run.deps.db, {
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

/** The batch's fulfill pass (`fulfill`, `nightly`): the definition checked before anything is claimed, then every claimable request built. */
export async function fulfillPass(
  tools: CommandTools,
  config: Config,
  run: Run,
  flags: FulfillFlags,
): Promise<FulfillSummary> {
  const log = run.deps.log.child({ pass: 'fulfill' });
  // Before anything is claimed: a definition that no longer matches the database builds nothing.
  const context = await openBuildContext(run.deps.db, config, log, run.schemaVersion);
  const progress = progressReporter(tools.io, log);
  try {
    const summary = await runFulfill({ ...run.deps, log }, context, {
      limit: flags.limit,
      concurrency: config.export.concurrency,
      requestIds: flags.request,
      dryRun: flags.dryRun,
      signal: tools.stopper.signal,
      mailer: run.mailer,
      onProgress: progress.update,
    });
    progress.done();
    log.info({ ...summary, dryRun: flags.dryRun || undefined }, 'fulfill finished');
    return summary;
  } finally {
    context.close();
  }
}

/** Done when every claimed request ended ready; incomplete when any is to be retried, failed, or could not be claimed. */
export function fulfillOutcome(s: FulfillSummary): Outcome {
  return s.retrying + s.failed + s.abandoned + s.skipped.length > 0 ? 'incomplete' : 'done';
}
