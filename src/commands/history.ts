import type { Command } from 'commander';
import { requestHistory } from '../db/audit.ts';
import {
  type CommandTools,
  commandContext,
  DATABASE_SETTINGS,
  requireUuids,
  returning,
  withDatabase,
  withSettings,
  writeJson,
} from './common.ts';

export function registerHistory(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('history')
      .description(
        "a request's audit trail: every event with its time, actor and details (it outlives the request row)",
      )
      .argument('<id>', 'request id')
      .option('--json', 'print the events as JSON', false),
    DATABASE_SETTINGS,
  ).action(
    returning(tools, async (id: string, flags: { json: boolean }, cmd: Command) => {
      requireUuids([id], 'history');
      const { config } = commandContext(cmd, tools.io, { database: true });
      const events = await withDatabase(config, (db) => requestHistory(db, id));
      if (events.length === 0) {
        tools.io.stderr.write(`exporter: no events for request ${id}\n`);
        return 'incomplete';
      }
      if (flags.json)
        return void writeJson(
          tools.io,
          events.map(({ id: _id, ...event }) => ({ ...event, at: event.at.toISOString() })),
        );
      for (const e of events) {
        const detail = Object.entries(e.detail)
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        tools.io.stdout.write(
          `${e.at.toISOString()}  ${e.event.padEnd(11)}  by ${e.actor}${detail ? `  ${detail}` : ''}\n`,
        );
      }
    }),
  );
}
