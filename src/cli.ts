import { randomUUID } from 'node:crypto';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { systemClock } from './clock.ts';
import { type Config, type Needs, parseConfig, type RawSettings, SETTINGS, type SettingName } from './config.ts';
import { migrateToLatest } from './db/migrate.ts';
import { ExitCode, ExitError, UsageError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { type FulfillSummary, runFulfill } from './passes/fulfill.ts';
import { redact } from './redact.ts';
import { openDatabase, openStorage, requireSchema, type RuntimeDeps, UnavailableError } from './runtime.ts';
import { type Stopper, watchSignals } from './signals.ts';
import { EXPORTER_VERSION } from './version.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Human-readable logs and progress when an operator is watching. */
  isTerminal: boolean;
}

const defaultIo: CliIo = { stdout: process.stdout, stderr: process.stderr, isTerminal: Boolean(process.stderr.isTTY) };

/**
 * The command line: flags and environment → Config → a pass. The only place
 * that decides exit codes; every command returns one instead of exiting.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<ExitCode> {
  const stopper = watchSignals();
  let exitCode: ExitCode = ExitCode.ok;
  const program = buildProgram(io, stopper, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, io);
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

function buildProgram(io: CliIo, stopper: Stopper, setExit: (code: ExitCode) => void): Command {
  const program = new Command('exporter')
    .description('Turns "download my data" requests into ZIP archives in S3 with a signed link, and cleans up after them.')
    .version(EXPORTER_VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`exporter: ${s.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError(true);

  const context = (cmd: Command, needs: Needs) => {
    const config = parseConfig(settingsFrom(cmd), needs);
    const log = createLogger({ level: config.logLevel, pretty: io.isTerminal });
    return { config, log: log.child({ runId: randomUUID().slice(0, 8), pass: cmd.name() }) };
  };

  withSettings(program.command('migrate').description('apply the SQL migrations in sql/ (idempotent)'), ['databaseUrl', 'logLevel']).action(
    async (_opts, cmd: Command) => {
      const { config, log } = context(cmd, { database: true });
      const handle = await openDatabase(config, 1);
      try {
        const result = await migrateToLatest(handle.db);
        log.info({ applied: result.applied, schemaVersion: result.schemaVersion }, result.applied.length ? 'migrated' : 'schema up to date');
      } finally {
        await handle.close();
      }
    },
  );

  withSettings(
    program
      .command('fulfill')
      .description('build the archive of every pending request, upload it and store its download link')
      .option('--limit <n>', 'build at most this many requests', positiveInt, Number.MAX_SAFE_INTEGER)
      .option('--request <id...>', 'reprocess exactly these requests, whatever their status (not one being processed)')
      .option('--dry-run', 'say what would be built, change nothing', false),
    ALL_SETTINGS,
  ).action(async (opts: { limit: number; request?: string[]; dryRun: boolean }, cmd: Command) => {
    for (const id of opts.request ?? []) requireUuid(id, '--request');
    const { config, log } = context(cmd, { database: true, storage: true });
    const summary = await withRuntime(config, log, config.export.concurrency * 2 + 1, async (deps, schemaVersion) =>
      runFulfill(
        { ...deps, log, clock: systemClock },
        { config: config.export, exporterVersion: EXPORTER_VERSION, schemaVersion },
        {
          limit: opts.limit,
          concurrency: config.export.concurrency,
          requestIds: opts.request,
          dryRun: opts.dryRun,
          signal: stopper.signal,
        },
      ),
    );
    log.info({ ...summary, dryRun: opts.dryRun || undefined }, 'fulfill finished');
    setExit(stopper.exitCode ?? fulfillExitCode(summary));
  });

  return program;
}

/** 0 when every claimed request ended ready; 1 when any is to be retried or failed. */
export function fulfillExitCode(s: FulfillSummary): ExitCode {
  return s.retrying + s.failed + s.abandoned + s.skipped.length > 0 ? ExitCode.failure : ExitCode.ok;
}

async function withRuntime<T>(
  config: Config,
  log: Logger,
  connections: number,
  run: (deps: RuntimeDeps, schemaVersion: string) => Promise<T>,
): Promise<T> {
  const handle = await openDatabase(config, connections);
  try {
    const schemaVersion = await requireSchema(handle);
    const storage = await openStorage(config, log);
    try {
      return await run({ db: handle.db, pool: handle.pool, storage }, schemaVersion);
    } finally {
      storage.destroy();
    }
  } finally {
    await handle.close();
  }
}

const ALL_SETTINGS = Object.keys(SETTINGS) as SettingName[];

function withSettings(cmd: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const s = SETTINGS[name];
    cmd.addOption(new Option(s.flag, s.help).env(s.env));
  }
  return cmd;
}

function settingsFrom(cmd: Command): RawSettings {
  const opts = cmd.opts<Record<string, unknown>>();
  const raw: RawSettings = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = opts[name];
    if (typeof v === 'string') raw[name] = v;
  }
  return raw;
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number of at least 1.');
  return n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function requireUuid(id: string, what: string): string {
  if (!UUID.test(id)) throw new UsageError(`${what}: ${JSON.stringify(id)} is not a request id (a UUID)`);
  return id;
}
