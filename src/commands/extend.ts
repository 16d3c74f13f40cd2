import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { recordEmailSent } from '../db/audit.ts';
import type { Db } from '../db/connect.ts';
import { type Extended, extendDeadline, isErasure } from '../db/deadline.ts';
import { recipientOf } from '../db/notifications.ts';
import { checkedDefinition } from '../definition/checked-definition.ts';
import { extensionEmail } from '../email/extension-email.ts';
import { smtpMailer } from '../email/mailer.ts';
import { UsageError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Outcome } from '../outcome.ts';
import {
  ALL_SETTINGS,
  actorName,
  type CommandTools,
  commandContext,
  operatorText,
  requireUuids,
  returning,
  withDatabase,
  withSettings,
} from './common.ts';

export function registerExtend(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('extend')
      .description(
        "move a request's or an erasure's legal due date by 1 or 2 months (GDPR Art. 12(3): at most 2 in total, decided within the first month); with email on, the person is told the new date and why",
      )
      .argument('<id>', 'request id, or erasure id')
      .requiredOption('--months <n>', '1 or 2', (v) => {
        if (v !== '1' && v !== '2') throw new UsageError(`extend: --months must be 1 or 2, got ${JSON.stringify(v)}`);
        return Number(v);
      })
      .requiredOption(
        '--reason <text>',
        'why, in words for the person (it is in the email and the audit trail)',
        operatorText('--reason'),
      )
      .option('--by <name>', 'who decided, for the audit trail (default: the OS user)', operatorText('--by')),
    ALL_SETTINGS,
  ).action(
    returning(tools, async (id: string, flags: { months: number; reason: string; by?: string }, cmd: Command) => {
      requireUuids([id], 'extend');
      if (flags.reason.trim() === '') throw new UsageError('extend: --reason must say why');
      const { config, log } = commandContext(cmd, tools.io, { database: true });
      const by = actorName(flags.by);
      return withDatabase(config, async (db): Promise<Outcome> => {
        const what = (await isErasure(db, id)) ? 'erasure' : 'request';
        const result = await extendDeadline(db, id, flags.months, { by, reason: flags.reason }, what);
        if (result.kind === 'refused') throw new UsageError(`extend: ${id} not extended: ${result.reason}`);
        log.info(
          {
            requestId: id,
            by,
            reason: flags.reason,
            dueAt: result.dueAt.toISOString(),
            extendedMonths: result.extendedMonths,
          },
          'due date extended',
        );
        tools.io.stdout.write(
          `${id} due ${result.dueAt.toISOString()} (extended by ${result.extendedMonths} month${result.extendedMonths === 1 ? '' : 's'} in all)\n`,
        );
        return config.mail
          ? tellThePerson(tools, config, log, db, { id, by, reason: flags.reason, dueAt: result.dueAt, what })
          : 'done';
      });
    }),
  );
}

/**
 * The person is told: the new date and the reason (Art. 12(3)). A failed
 * send is said, never hidden; the extension stands.
 */
async function tellThePerson(
  tools: CommandTools,
  config: Config,
  log: Logger,
  db: Db,
  extension: { id: string; by: string; reason: string; dueAt: Date; what: Extended },
): Promise<Outcome> {
  const { id, by } = extension;
  const mail = config.mail!;
  const { user } = await checkedDefinition(db, config.definitionFile);
  if (!user.emailColumn) {
    log.warn('the definition names no user_email column: the person was not told of the extension');
    return 'done';
  }
  const table = extension.what === 'erasure' ? 'data_export_erasures' : 'data_export_requests';
  const to = await recipientOf(db, id, { ...user, emailColumn: user.emailColumn }, table);
  if (!to?.email) {
    log.warn({ requestId: id }, 'the user has no email address: the person was not told of the extension');
    return 'done';
  }
  const mailer = smtpMailer(mail.smtpUrl, mail.from);
  try {
    await mailer.send({
      to: to.email,
      ...extensionEmail({
        name: to.name,
        dueAt: extension.dueAt,
        reason: extension.reason,
        requestedAt: to.requestedAt,
        erasure: extension.what === 'erasure',
      }),
    });
    await recordEmailSent(db, id, by, 'extension');
    log.info({ requestId: id }, 'the person was told of the extension');
    return 'done';
  } catch (error) {
    log.error({ err: error, requestId: id }, 'the extension notice could not be sent: tell the person another way');
    tools.io.stderr.write(
      `exporter: the extension stands, but the email to the person failed: tell them another way\n`,
    );
    return 'incomplete';
  } finally {
    mailer.close();
  }
}
