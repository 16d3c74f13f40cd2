import { Command, CommanderError } from 'commander';
import { registerAudit } from './commands/audit.ts';
import { registerCheck } from './commands/check.ts';
import type { CliIo, CommandTools } from './commands/common.ts';
import { registerErase } from './commands/erase.ts';
import { registerExpire } from './commands/expire.ts';
import { registerExtend } from './commands/extend.ts';
import { registerFulfill } from './commands/fulfill.ts';
import { registerHistory } from './commands/history.ts';
import { registerInit } from './commands/init.ts';
import { registerLink } from './commands/link.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerNightly } from './commands/nightly.ts';
import { registerReport } from './commands/report.ts';
import { registerRequest } from './commands/request.ts';
import { registerRequeue } from './commands/requeue.ts';
import { registerRevoke } from './commands/revoke.ts';
import { registerSchema } from './commands/schema.ts';
import { registerStatus } from './commands/status.ts';
import { registerWork } from './commands/work.ts';
import { UsageError } from './errors.ts';
import { exitCodeOf, type Outcome } from './outcome.ts';
import { redact } from './redact.ts';
import { UnavailableError } from './runtime.ts';
import { watchSignals } from './signals.ts';
import { EXPORTER_VERSION } from './version.ts';

export type { CliIo };

const defaultIo: CliIo = { stdout: process.stdout, stderr: process.stderr, isTerminal: Boolean(process.stderr.isTTY) };

/**
 * The command line: flags and environment → Config → a pass. Commands return
 * an Outcome (or throw); this is the one place that turns outcomes, errors
 * and a stop by signal into the exit code (src/outcome.ts holds the table).
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const stopper = watchSignals();
  let outcome: Outcome = 'done';
  const tools: CommandTools = { io, stopper, finish: (o) => (outcome = o) };
  try {
    await buildProgram(tools).parseAsync(argv, { from: 'user' });
  } catch (error) {
    outcome = stopper.stoppedBy ? outcome : reportError(error, io);
  } finally {
    stopper.dispose();
  }
  return exitCodeOf(outcome, stopper.stoppedBy);
}

function reportError(error: unknown, io: CliIo): Outcome {
  if (error instanceof CommanderError) {
    // commander has already printed its one line (or the help).
    return error.exitCode === 0 ? 'done' : 'usage';
  }
  if (error instanceof UsageError) {
    io.stderr.write(`exporter: ${redact(error.message)}\n`);
    return 'usage';
  }
  if (error instanceof UnavailableError) {
    io.stderr.write(`exporter: ${redact(error.message)}\n`);
    return 'unavailable';
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`exporter: unexpected error: ${redact(stack)}\n`);
  return 'incomplete';
}

function buildProgram(tools: CommandTools): Command {
  const program = new Command('exporter')
    .description(
      'Turns "download my data" requests into ZIP archives in S3 with a signed link, and cleans up after them.',
    )
    .version(EXPORTER_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => tools.io.stdout.write(s),
      writeErr: (s) => tools.io.stderr.write(s),
      outputError: (s, write) => write(`exporter: ${s.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError(true);
  for (const register of [
    registerMigrate,
    registerInit,
    registerCheck,
    registerSchema,
    registerRequest,
    registerFulfill,
    registerExpire,
    registerNightly,
    registerWork,
    registerStatus,
    registerRequeue,
    registerLink,
    registerRevoke,
    registerErase,
    registerExtend,
    registerHistory,
    registerReport,
    registerAudit,
  ]) {
    register(program, tools);
  }
  return program;
}
