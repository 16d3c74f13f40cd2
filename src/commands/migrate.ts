import type { Command } from 'commander';
import { sql } from 'kysely';
import { trailGuardRefusal } from '../db/audit-chain.ts';
import type { Db } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { linkUserTable } from '../db/user-link.ts';
import { type Catalog, findTable, readCatalog } from '../definition/catalog.ts';
import { checkDefinition, userKeyColumn } from '../definition/check.ts';
import { userTableOf } from '../definition/checked-definition.ts';
import { loadDefinition } from '../definition/parse.ts';
import { UsageError } from '../errors.ts';
import type { Definition } from '../model/definition.ts';
import { openDatabase } from '../runtime.ts';
import { SETTINGS } from '../settings.ts';
import { type CommandTools, commandContext, DATABASE_SETTINGS, withSettings } from './common.ts';

export function registerMigrate(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('migrate')
      .description(
        "apply the SQL migrations in sql/ (the exporter's own objects only; idempotent), then link the definition's user table",
      ),
    [...DATABASE_SETTINGS, 'definition'],
  ).action(async (_opts, cmd: Command) => {
    const { config, log } = commandContext(cmd, tools.io, { database: true });
    const handle = await openDatabase(config, 1);
    try {
      const { result, user, link } = await migrateAndLink(handle.db, config.definitionFile);
      log.info(
        { applied: result.applied, schemaVersion: result.schemaVersion },
        result.applied.length ? 'migrated' : 'schema up to date',
      );
      // What migrate revoked it does not say; what it cannot remove (a trigger of another role's, a foreign key onto the trail) stops it.
      const refusal = await trailGuardRefusal(handle.db);
      if (refusal) throw new UsageError(refusal);
      if (user)
        log.info({ userTable: user.ref, userKey: user.idColumn, keyType: user.keyType }, 'linked to the user table');
      // The application's own migrations may come after ours: nothing is built until they have run and migrate links.
      else log.warn(link);
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
  // Every run: an adopter's later GRANT ALL gives back what the trail's guards refuse (sql/000010).
  await sql`select exporter_harden_trail()`.execute(db);
  const definition = loadDefinition(definitionFile);
  const catalog = await readCatalog(db);
  const link = whyNotLinked(definition, catalog, definitionFile === undefined);
  const user = link === undefined ? userTableOf(definition, catalog) : undefined;
  if (user) await linkUserTable(db, user);
  return { result, user, definition, link };
}

/**
 * Why migrate links no user table, or undefined when it may. Without a
 * definition named (EXPORT_DEFINITION), only a database that holds
 * the sample's own tables is linked to its users table: a bare migrate on an
 * application's database must not put a trigger on whatever table it has
 * that is called `users`. With one named, its user table must exist and have
 * a key that tells users apart.
 */
function whyNotLinked(definition: Definition, catalog: Catalog, defaulted: boolean): string | undefined {
  const how = `run ${SETTINGS.definition.env}=<your definition> exporter migrate (exporter init drafts one; docs/adopting.md)`;
  if (defaulted && checkDefinition(definition, catalog).length > 0) {
    return `no definition named (${SETTINGS.definition.env}) and this database does not hold the sample application's tables: no user table linked; ${how}`;
  }
  const users = findTable(catalog, definition.userTable);
  if (!users)
    return `the user table ${definition.userTable} does not exist yet: run exporter migrate again once it does, or ${how}`;
  const key = userKeyColumn(definition, catalog);
  if (key === undefined)
    return `the user table ${definition.userTable} has no one-column primary key: name a unique column with user_key in the definition, then run exporter migrate again`;
  if (!users.columns.has(key))
    return `the user table ${definition.userTable} has no column ${key} (user_key): run exporter migrate again once it does`;
  return undefined;
}
