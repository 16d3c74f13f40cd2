import type { Command } from 'commander';
import type { Db } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { linkUserTable } from '../db/user-link.ts';
import { readCatalog } from '../definition/catalog.ts';
import { userTableOf } from '../definition/entities-for.ts';
import { loadDefinition } from '../definition/parse.ts';
import { openDatabase } from '../runtime.ts';
import { commandContext, type CommandTools, DATABASE_SETTINGS, withSettings } from './common.ts';
import { SETTINGS } from '../settings.ts';

export function registerMigrate(program: Command, tools: CommandTools): void {
  withSettings(
    program.command('migrate').description("apply the SQL migrations in sql/ (the exporter's own objects only; idempotent), then link the definition's user table"),
    [...DATABASE_SETTINGS, 'definition'],
  ).action(async (_opts, cmd: Command) => {
    const { config, log } = commandContext(cmd, tools.io, { database: true });
    const handle = await openDatabase(config, 1);
    try {
      const { result, user, definition } = await migrateAndLink(handle.db, config.definitionFile);
      log.info({ applied: result.applied, schemaVersion: result.schemaVersion }, result.applied.length ? 'migrated' : 'schema up to date');
      if (user) {
        log.info({ userTable: user.table, userKey: user.idColumn, keyType: user.keyType }, 'linked to the user table');
      } else {
        // The application's own migrations may come after ours: nothing is built until they have run and migrate links.
        log.warn({ userTable: definition.userTable }, `the user table ${definition.userTable} (or its key) does not exist yet: run exporter migrate again once it does (${SETTINGS.definition.env} names the definition)`);
      }
    } finally {
      await handle.close();
    }
  });
}

/**
 * The exporter's migrations, then the link to the user table the definition
 * names (its key's type, the deletion trigger, the intake's check:
 * src/db/user-link.ts), when that table exists. What `exporter migrate` does,
 * and the tests' databases are made with.
 */
export async function migrateAndLink(db: Db, definitionFile: string | undefined) {
  const result = await migrateToLatest(db);
  const definition = loadDefinition(definitionFile);
  const user = userTableOf(definition, await readCatalog(db));
  if (user) await linkUserTable(db, user);
  return { result, user, definition };
}
