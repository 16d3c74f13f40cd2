import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { cancelErasure, requestErasure } from '../db/erasures.ts';
import { checkedDefinition } from '../definition/checked-definition.ts';
import { loadDefinition } from '../definition/parse.ts';
import { planCounts } from '../erasure/dry-run.ts';
import { UsageError } from '../errors.ts';
import type { Outcome } from '../outcome.ts';
import { type EraseSummary, runErasures } from '../passes/erase.ts';
import {
  actorName,
  type CommandTools,
  commandContext,
  durationArg,
  operatorText,
  requireUuids,
  returning,
  withDatabase,
  withSettings,
  writeJson,
} from './common.ts';
import { openBuildContext, type Run } from './run.ts';

interface EraseFlags {
  reason?: string;
  by?: string;
  grace: number;
  exportFirst: boolean;
  dryRun: boolean;
  cancel?: string;
  json: boolean;
}

/**
 * `exporter erase <user-id> --reason …`: the person's erasure (GDPR Art. 17),
 * from the definition's erase rules, carried out by nightly and work once its
 * grace period is over; `--dry-run` prints what it would do and changes
 * nothing; `--cancel <id>` stops one still in its grace period.
 */
export function registerErase(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('erase')
      .description(
        "erase a person (GDPR Art. 17) as the definition's erase rules say: after --grace, by nightly or work",
      )
      .argument('[user-id]', "the person's key, as a request names it")
      .option('--reason <text>', 'why, in words (the trail keeps it)', operatorText('--reason'))
      .option('--by <name>', 'who asked, for the audit trail (default: the OS user)', operatorText('--by'))
      .option('--grace <duration>', 'how long it may still be cancelled before it starts (14d, 36h)', durationArg, 0)
      .option(
        '--export-first',
        'build a last export of everything first; the erasure starts when its link ends, or once the application says it was downloaded',
        false,
      )
      .option('--dry-run', 'print what the erasure would delete, anonymize and keep; change nothing', false)
      .option('--cancel <id>', 'cancel an erasure still in its grace period')
      .option('--json', 'print JSON', false),
    ['databaseUrl', 'definition', 'logLevel'],
  ).action(
    returning(tools, async (userId: string | undefined, flags: EraseFlags, cmd: Command): Promise<Outcome> => {
      const { config } = commandContext(cmd, tools.io, { database: true });
      const by = actorName(flags.by);
      if (flags.cancel) return cancel(tools, config, requireUuids([flags.cancel], 'erase --cancel')[0]!, by, flags);
      if (!userId) throw new UsageError('erase: name the person (their user id), or --cancel an erasure');
      if (flags.dryRun) return dryRun(tools, config, userId, flags);
      if (!flags.reason) throw new UsageError('erase: --reason must say why');
      if (loadDefinition(config.definitionFile).erasure?.ghostUser === userId)
        throw new UsageError(
          `erase: ${userId} is the ghost user (erasure.ghost_user): what was kept for others points at it; it is never erased`,
        );
      const reason = flags.reason;
      return withDatabase(config, async (db): Promise<Outcome> => {
        const made = await requestErasure(db, userId, {
          reason,
          by,
          graceSeconds: flags.grace,
          exportFirst: flags.exportFirst,
        });
        if (made.outcome === 'no-such-user') throw new UsageError(`erase: no user with id ${JSON.stringify(userId)}`);
        if (made.outcome === 'already-erased')
          throw new UsageError(`erase: ${JSON.stringify(userId)} has been erased already (exporter status, history)`);
        if (flags.json) writeJson(tools.io, made);
        else
          tools.io.stdout.write(
            `${made.id} ${made.outcome === 'created' ? 'erasure requested' : 'an erasure of this person is already open'}${made.exportRequestId ? `, after their last export ${made.exportRequestId}` : ''}\n`,
          );
        return 'done';
      });
    }),
  );
}

async function cancel(
  tools: CommandTools,
  config: Config,
  id: string,
  by: string,
  flags: EraseFlags,
): Promise<Outcome> {
  return withDatabase(config, async (db): Promise<Outcome> => {
    const cancelled = await cancelErasure(db, id, { by, reason: flags.reason ?? 'cancelled' });
    if (!cancelled) {
      tools.io.stderr.write(
        `exporter: erase --cancel: ${id} is not an erasure in its grace period (one that has started is carried to its end)\n`,
      );
      return 'incomplete';
    }
    tools.io.stdout.write(`${id} cancelled\n`);
    return 'done';
  });
}

/** The plan, in counts: what each entity's rule would do to this person's rows, their files, their shared rows. */
async function dryRun(tools: CommandTools, config: Config, userId: string, flags: EraseFlags): Promise<Outcome> {
  return withDatabase(config, async (db): Promise<Outcome> => {
    const { erasure, erasureProblems } = await checkedDefinition(db, config.definitionFile);
    if (!erasure)
      throw new UsageError(
        `erase: the definition has no erase rules that hold, so nothing can be planned: ${erasureProblems.length ? erasureProblems.join('; ') : 'no entity has an erase rule (docs/erasure.md)'}`,
      );
    const counts = await planCounts(db, erasure, userId);
    if (flags.json) writeJson(tools.io, { userId, dryRun: true, entities: counts });
    else for (const line of counts) tools.io.stdout.write(`${line.entity}: ${line.says}\n`);
    return 'done';
  });
}

/** The erase pass of a batch run (nightly): its own checked definition; a definition that no longer matches erases nothing. */
export async function erasePass(tools: CommandTools, config: Config, run: Run): Promise<EraseSummary> {
  const log = run.deps.log.child({ pass: 'erase' });
  const context = await openBuildContext(run.deps.db, config, log, run.schemaVersion);
  try {
    const summary = await runErasures({ ...run.deps, log }, context, {
      ...eraseOptions(config, tools.stopper.signal),
      ...(run.mailer ? { mailer: run.mailer } : {}),
    });
    if (Object.values(summary).some((n) => n > 0)) log.info(summary, 'erase finished');
    return summary;
  } finally {
    context.close();
  }
}

export function eraseOptions(config: Config, signal: AbortSignal) {
  return {
    maxAttempts: config.export.maxAttempts,
    backoffSeconds: config.export.retryBackoffSeconds,
    claimTtlSeconds: config.export.claimTtlSeconds,
    batch: config.export.eraseBatch,
    hmacKey: config.export.eraseHmacKey,
    signal,
  };
}
