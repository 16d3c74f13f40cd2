import { Command, CommanderError } from 'commander';
import { type CliIo, type CommandTools } from './commands/common.ts';
import { registerExpire } from './commands/expire.ts';
import { registerFulfill } from './commands/fulfill.ts';
import { registerLink } from './commands/link.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerNightly } from './commands/nightly.ts';
import { registerRequest } from './commands/request.ts';
import { registerRequeue } from './commands/requeue.ts';
import { registerRevoke } from './commands/revoke.ts';
import { registerStatus } from './commands/status.ts';
import { ExitCode, ExitError, UsageError } from './errors.ts';
import { redact } from './redact.ts';
import { UnavailableError } from './runtime.ts';
import { watchSignals } from './signals.ts';
import { EXPORTER_VERSION } from './version.ts';

export type { CliIo };

const defaultIo: CliIo = { stdout: process.stdout, stderr: process.stderr, isTerminal: Boolean(process.stderr.isTTY) };

/**
 * The command line: flags and environment → Config → a pass. The only place
 * that decides exit codes; every command sets one instead of exiting.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<ExitCode> {
  const stopper = watchSignals();
  let exitCode: ExitCode = ExitCode.ok;
  const tools: CommandTools = { io, stopper, setExit: (code) => (exitCode = code) };
  try {
    await buildProgram(tools).parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return stopper.exitCode ?? reportError(error, io);
  } finally {
    stopper.dispose();
  }
}

function reportError(error: unknown, io: CliIo): ExitCode {
  if (error instanceof CommanderError) {
    // commander has already printed its one line (or the help).
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof ExitError) return error.code;
  if (error instanceof UsageError) {
    io.stderr.write(`exporter: ${redact(error.message)}\n`);
    return ExitCode.usage;
  }
  if (error instanceof UnavailableError) {
    io.stderr.write(`exporter: ${redact(error.message)}\n`);
    return ExitCode.failure;
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`exporter: unexpected error: ${redact(stack)}\n`);
  return ExitCode.failure;
}

function buildProgram(tools: CommandTools): Command {
  const program = new Command('exporter')
    .description('Turns "download my data" requests into ZIP archives in S3 with a signed link, and cleans up after them.')
    .version(EXPORTER_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => tools.io.stdout.write(s),
      writeErr: (s) => tools.io.stderr.write(s),
      outputError: (s, write) => write(`exporter: ${s.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError(true);
  for (const register of [registerMigrate, registerRequest, registerFulfill, registerExpire, registerNightly, registerStatus, registerRequeue, registerLink, registerRevoke]) {
    register(program, tools);
  }
  return program;
}
