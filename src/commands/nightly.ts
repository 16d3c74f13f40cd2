import type { Command } from 'commander';
import { DriftError } from '../definition/checked-definition.ts';
import { exitCodeOf, type Outcome, worse } from '../outcome.ts';
import {
  ALL_SETTINGS,
  type CommandTools,
  commandContext,
  positiveInt,
  reportMetrics,
  returning,
  withSettings,
} from './common.ts';
import { erasePass } from './erase.ts';
import { addExpireOptions, expireOutcome, expirePass } from './expire.ts';
import { fulfillOutcome, fulfillPass } from './fulfill.ts';
import { buildConnections, openRun } from './run.ts';

/**
 * What cron and the Kubernetes CronJob run: fulfill, then expire, in one
 * process. Expire runs even when fulfill had failures (old archives must go
 * regardless), and the exit code is non-zero when either pass had trouble.
 */
export function registerNightly(program: Command, tools: CommandTools): void {
  withSettings(
    addExpireOptions(
      program
        .command('nightly')
        .description('fulfill, then expire: the scheduled job')
        .option('--limit <n>', 'build at most this many requests', positiveInt, Number.MAX_SAFE_INTEGER),
    ),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (flags: { limit: number; pruneAfter?: number }, cmd: Command) => {
      const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
      return openRun(config, log, { connections: buildConnections(config), mail: true }, async (run) => {
        const { deps } = run;
        // A definition that no longer matches the database builds nothing, but
        // retention goes on: old archives must still go tonight.
        const fulfill = await fulfillPass(tools, config, run, {
          limit: flags.limit,
          dryRun: false,
        }).catch((error: unknown) => {
          if (!(error instanceof DriftError)) throw error;
          for (const problem of error.problems)
            log.error({ pass: 'fulfill', problem }, 'definition drift: nothing was built');
          return undefined;
        });
        // Erasures whose grace period is over (a definition that no longer matches erases nothing, as it builds nothing).
        const erase = tools.stopper.signal.aborted
          ? undefined
          : await erasePass(tools, config, run).catch((error: unknown) => {
              if (!(error instanceof DriftError)) throw error;
              return undefined;
            });
        let expire: Awaited<ReturnType<typeof expirePass>> | undefined;
        if (!tools.stopper.signal.aborted) {
          expire = await expirePass(tools, log, deps, {
            dryRun: false,
            pruneAfter: flags.pruneAfter,
            auditRetentionSeconds: config.export.auditRetentionSeconds,
          });
        }
        const fulfillResult: Outcome = fulfill ? fulfillOutcome(fulfill) : 'usage';
        const expireResult: Outcome = expire ? expireOutcome(expire) : 'incomplete';
        const eraseResult: Outcome =
          !erase || erase.failed + erase.retrying + erase.blocked > 0 ? (erase ? 'incomplete' : fulfillResult) : 'done';
        const outcome = worse(worse(fulfillResult, expireResult), eraseResult);
        log.info(
          {
            fulfillExitCode: exitCodeOf(fulfillResult),
            expireExitCode: expire ? exitCodeOf(expireResult) : null,
            exitCode: exitCodeOf(outcome, tools.stopper.stoppedBy),
          },
          'nightly finished',
        );
        await reportMetrics(config, log, deps.db, {
          pass: 'nightly',
          fulfill,
          expire,
          erase,
          definitionOk: fulfill !== undefined,
          succeeded: outcome === 'done',
        });
        return outcome;
      });
    }),
  );
}
