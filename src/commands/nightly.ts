import type { Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { ALL_SETTINGS, commandContext, type CommandTools, positiveInt, reportMetrics, withRuntime, withSettings } from './common.ts';
import { addExpireOptions, expireExitCode, expirePass } from './expire.ts';
import { fulfillConnections, fulfillExitCode, fulfillPass } from './fulfill.ts';

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
  ).action(async (flags: { limit: number; pruneAfter?: number }, cmd: Command) => {
    const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
    await withRuntime(config, log, fulfillConnections(config), async (deps, schemaVersion) => {
      const fulfill = await fulfillPass(tools, config, log, deps, schemaVersion, { limit: flags.limit, dryRun: false });
      let expire;
      if (!tools.stopper.signal.aborted) {
        expire = await expirePass(tools, log, deps, { dryRun: false, pruneAfter: flags.pruneAfter });
      }
      const fulfillCode = fulfillExitCode(fulfill);
      const expireCode = expire ? expireExitCode(expire) : ExitCode.failure;
      const code = fulfillCode === ExitCode.ok && expireCode === ExitCode.ok ? ExitCode.ok : ExitCode.failure;
      log.info({ fulfillExitCode: fulfillCode, expireExitCode: expire ? expireCode : null, exitCode: tools.stopper.exitCode ?? code }, 'nightly finished');
      await reportMetrics(config, log, deps.db, { pass: 'nightly', fulfill, expire, succeeded: code === ExitCode.ok });
      tools.setExit(tools.stopper.exitCode ?? code);
    });
  });
}
