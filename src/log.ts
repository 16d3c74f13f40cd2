import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redact } from './redact.ts';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Human-readable lines (an operator at a terminal); JSON otherwise (the scheduler). */
  pretty?: boolean;
  /** Where lines go; stderr by default, so that stdout carries only command output. */
  destination?: NodeJS.WritableStream;
}

/**
 * The root logger. Every line passes through redact() on its way out, so a
 * secret that slipped into a message or an error's stack never reaches the
 * log. Children carry the scope: runId, pass, requestId.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.pretty
    ? pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' })
    : (options.destination ?? pino.destination({ dest: 2, sync: true }));
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => redact(line) },
    },
    destination,
  );
}
