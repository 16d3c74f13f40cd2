import type { Command } from 'commander';
import { migrateToLatest } from '../db/migrate.ts';
import { openDatabase } from '../runtime.ts';
import { commandContext, type CommandTools, DATABASE_SETTINGS, withSettings } from './common.ts';

export function registerMigrate(program: Command, tools: CommandTools): void {
  withSettings(program.command('migrate').description('apply the SQL migrations in sql/ (idempotent)'), DATABASE_SETTINGS).action(
    async (_opts, cmd: Command) => {
      const { config, log } = commandContext(cmd, tools.io, { database: true });
      const handle = await openDatabase(config, 1);
      try {
        const result = await migrateToLatest(handle.db);
        log.info({ applied: result.applied, schemaVersion: result.schemaVersion }, result.applied.length ? 'migrated' : 'schema up to date');
      } finally {
        await handle.close();
      }
    },
  );
}
