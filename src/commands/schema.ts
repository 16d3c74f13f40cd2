import type { Command } from 'commander';
import { archiveSchema } from '../archive/json-schema.ts';
import { checkedDefinition } from '../definition/checked-definition.ts';
import { type CommandTools, commandContext, returning, withDatabase, withSettings, writeJson } from './common.ts';

/**
 * `exporter schema`: the JSON Schema of the archive's records (schema.json in
 * every archive), for whoever builds a viewer or an importer. Read from the
 * definition and the live database's types, so it needs DATABASE_URL.
 */
export function registerSchema(program: Command, tools: CommandTools): void {
  withSettings(
    program.command('schema').description('print the JSON Schema of the records an archive holds (schema.json)'),
    ['databaseUrl', 'definition', 'logLevel'],
  ).action(
    returning(tools, async (_flags: unknown, cmd: Command) => {
      const { config } = commandContext(cmd, tools.io, { database: true });
      const { entities } = await withDatabase(config, (db) => checkedDefinition(db, config.definitionFile));
      writeJson(tools.io, archiveSchema(entities));
    }),
  );
}
