import type { Command } from 'commander';
import { verifyTrail } from '../passes/audit-verify.ts';
import {
  ALL_SETTINGS,
  type CommandTools,
  commandContext,
  momentArg,
  returning,
  withRuntime,
  withSettings,
  writeJson,
} from './common.ts';

/**
 * `exporter audit verify`: whether the audit trail is what was written
 * (src/passes/audit-verify.ts). Exit 0 when it is, 1 naming the first event
 * that is not: what a privacy officer runs before handing the record over.
 */
export function registerAudit(program: Command, tools: CommandTools): void {
  const audit = program.command('audit').description('the audit trail itself: verify that nobody changed it');
  withSettings(
    audit
      .command('verify')
      .description(
        "recompute the audit trail's hash chain and check it against the daily anchors in object storage; exit 1 naming the first event that does not match",
      )
      .option(
        '--from <date>',
        'check only the events from this day (UTC) or time on',
        momentArg('audit verify', '--from'),
      )
      .option('--json', 'print the result as JSON', false),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (flags: { from?: Date; json: boolean }, cmd: Command) => {
      const { config, log } = commandContext(cmd, tools.io, { database: true, storage: true });
      const result = await withRuntime(config, log, 2, (deps) =>
        verifyTrail(deps.db, deps.storage, {
          from: flags.from,
          retentionSeconds: config.export.auditRetentionSeconds,
          now: new Date(),
        }),
      );
      if (flags.json) writeJson(tools.io, result);
      else {
        const range =
          result.firstSeq === null ? 'no events' : `events ${result.firstSeq} to ${result.lastSeq} (${result.events})`;
        const cut = result.prunedThrough ? `, after the retention cut at ${result.prunedThrough}` : '';
        const anchors = `${result.anchors.checked} anchor(s) checked${result.anchors.beforeFirstEvent ? `, ${result.anchors.beforeFirstEvent} before the first event kept` : ''}, ${result.anchors.locked} under Object Lock, the newest ${result.anchors.newest ?? 'none'}${result.unsealed ? `; ${result.unsealed} event(s) not sealed yet` : ''}`;
        if (result.ok) tools.io.stdout.write(`audit trail verified: ${range}${cut}; ${anchors}\n`);
        else
          tools.io.stdout.write(
            `audit trail NOT verified: ${result.problem!.what}${result.problems > 1 ? ` (and ${result.problems - 1} more problem(s))` : ''}; ${range}; ${anchors}\n`,
          );
      }
      return result.ok ? 'done' : 'incomplete';
    }),
  );
}
