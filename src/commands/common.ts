import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Config, type Needs, parseConfig } from '../config.ts';
import { statusReport } from '../db/status.ts';
import { parseDurationSeconds } from '../durations.ts';
import { UsageError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { pushMetrics, type RunFigures } from '../metrics.ts';
import { parseMoment } from '../moments.ts';
import type { Outcome } from '../outcome.ts';
import { openDatabase, openStorage, type RuntimeDeps, requireSchema } from '../runtime.ts';
import { type RawSettings, SETTINGS, type SettingName } from '../settings.ts';
import type { Stopper } from '../signals.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Human-readable logs and progress when an operator is watching. */
  isTerminal: boolean;
}

/** What every command gets from the program. */
export interface CommandTools {
  io: CliIo;
  stopper: Stopper;
  /** Records how the command ended; src/cli.ts turns it into the exit code. */
  finish(outcome: Outcome): void;
}

/**
 * Wraps a command's action: the action returns its Outcome (nothing means
 * 'done'), which goes to the one place that decides exit codes.
 */
export function returning<A extends unknown[]>(
  tools: CommandTools,
  action: (...args: A) => Promise<Outcome | undefined>,
): (...args: A) => Promise<void> {
  return async (...args: A) => tools.finish((await action(...args)) ?? 'done');
}

export const ALL_SETTINGS = Object.keys(SETTINGS) as SettingName[];
export const DATABASE_SETTINGS: SettingName[] = ['databaseUrl', 'logLevel'];

/** Declares the settings a command reads, each as a flag bound to its environment variable. */
export function withSettings(cmd: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const s = SETTINGS[name];
    cmd.addOption(new Option(s.flag, s.help).env(s.env));
  }
  if (names.includes('definition') && names.includes('bucket')) cmd.addHelpText('after', FILE_SOURCE_HELP);
  return cmd;
}

/**
 * The settings of each file source the definition names, read from the
 * environment only (never a flag, never the committed file) and checked at
 * start with the rest: every problem at once, exit 2 (src/files/sources.ts).
 */
const FILE_SOURCE_HELP = `
File sources (the definition's file_sources; <NAME> is the source's name in capitals), environment only:
  EXPORT_SOURCE_<NAME>_BUCKET             the bucket (overrides the definition's)
  EXPORT_SOURCE_<NAME>_PREFIX             put before every key; must not overlap S3_BUCKET + S3_PREFIX
  EXPORT_SOURCE_<NAME>_ENDPOINT           its S3 endpoint (default: the export storage's)
  EXPORT_SOURCE_<NAME>_REGION             its region
  EXPORT_SOURCE_<NAME>_FORCE_PATH_STYLE   true or false
  EXPORT_SOURCE_<NAME>_ACCESS_KEY_ID      read-only credentials for it (with _SECRET_ACCESS_KEY)
  EXPORT_SOURCE_<NAME>_SECRET_ACCESS_KEY`;

/**
 * Parses the command's settings into the frozen Config (or a ConfigError naming
 * every problem) and makes its logger. Lines carry `command` (what was run);
 * the passes add `pass` (which part of it), so no line holds one key twice.
 */
export function commandContext(cmd: Command, io: CliIo, needs: Needs): { config: Config; log: Logger } {
  const opts = cmd.opts<Record<string, unknown>>();
  const raw: RawSettings = {};
  for (const name of ALL_SETTINGS) {
    const v = opts[name];
    if (typeof v === 'string') raw[name] = v;
  }
  const config = parseConfig(raw, needs);
  const log = createLogger({ level: config.logLevel, pretty: io.isTerminal });
  const scoped = log.child({ runId: randomUUID().slice(0, 8), command: cmd.name() });
  scoped.trace({ node: process.version, pid: process.pid, execArgv: process.execArgv }, 'started');
  return { config, log: scoped };
}

/** Opens and checks the database and the storage, runs `run`, and closes both. */
export async function withRuntime<T>(
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

export function positiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('must be a whole number of at least 1.');
  return n;
}

/** A date option (src/moments.ts): a day, or a time with its zone, that exists. */
export function momentArg(command: string, option: string) {
  return (text: string): Date => {
    const date = parseMoment(text);
    if (!date)
      throw new UsageError(
        `${command}: ${option} must be a date that exists (2026-11-01, UTC) or a time with its zone (2026-11-01T12:00:00Z), got ${JSON.stringify(text)}`,
      );
    return date;
  };
}

export function durationArg(text: string): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) throw new InvalidArgumentError('must be a duration such as 900, 15m, 36h or 90d.');
  return seconds;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function requireUuids(ids: readonly string[], what: string): string[] {
  for (const id of ids)
    if (!UUID.test(id)) throw new UsageError(`${what}: ${JSON.stringify(id)} is not a request id (a UUID)`);
  return [...ids];
}

/** The most characters of --by and of --reason (docs/compliance.md: the audit trail): more is refused, never cut. */
export const OPERATOR_TEXT_LIMIT = 500;

/** --by and --reason: at most OPERATOR_TEXT_LIMIT characters, and something to say. */
export function operatorText(option: string) {
  return (text: string): string => {
    if (text.trim() === '') throw new InvalidArgumentError('must not be empty.');
    if ([...text].length > OPERATOR_TEXT_LIMIT)
      throw new InvalidArgumentError(
        `must be at most ${OPERATOR_TEXT_LIMIT} characters (${option}), got ${[...text].length}.`,
      );
    return text;
  };
}

/** Who runs an operator command, for the audit trail: --by, else the person behind sudo, else the OS user. */
export function actorName(by: string | undefined): string {
  return [...(by ?? process.env.SUDO_USER ?? os.userInfo().username)].slice(0, OPERATOR_TEXT_LIMIT).join('');
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Like withRuntime, for commands that need only the database. */
export async function withDatabase<T>(config: Config, run: (db: RuntimeDeps['db']) => Promise<T>): Promise<T> {
  const handle = await openDatabase(config, 2);
  try {
    await requireSchema(handle);
    return await run(handle.db);
  } finally {
    await handle.close();
  }
}

/** Pushes a run's figures when PUSHGATEWAY_URL is set; never fails the run. */
export async function reportMetrics(
  config: Config,
  log: Logger,
  db: RuntimeDeps['db'],
  figures: Omit<RunFigures, 'oldestPendingSeconds' | 'due' | 'erasures'>,
): Promise<void> {
  if (!config.pushgatewayUrl) return;
  const report = await statusReport(db).catch(() => undefined);
  await pushMetrics(
    config.pushgatewayUrl,
    {
      ...figures,
      oldestPendingSeconds: report?.oldestPendingSeconds,
      ...(report
        ? {
            due: { overdue: report.overdue, earliestDueSeconds: report.earliestDueSeconds },
            erasures: report.erasures,
          }
        : {}),
    },
    log,
  );
}
