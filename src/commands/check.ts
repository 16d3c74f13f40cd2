import type { Command } from 'commander';
import { DriftError, checkedDefinition } from '../definition/entities-for.ts';
import { DefinitionError } from '../definition/parse.ts';
import { commandContext, type CommandTools, returning, withDatabase, withSettings, writeJson } from './common.ts';

/**
 * `exporter check`: is the definition still true of the live database? Every
 * problem at once, one line each, exit 2; in CI, run it against a database
 * migrated by the application's own migrations. fulfill, nightly and work run
 * the same check before they claim anything.
 */
export function registerCheck(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('check')
      .description('check the definition against the live database: every column classified, every path a foreign key, nothing secret exported')
      .option('--json', 'print {ok, problems} as JSON (for CI)', false),
    ['databaseUrl', 'definition', 'logLevel'],
  ).action(
    returning(tools, async (flags: { json: boolean }, cmd: Command) => {
      const { config } = commandContext(cmd, tools.io, { database: true });
      const file = config.definitionFile;
      const result = await withDatabase(config, (db) =>
        checkedDefinition(db, file).then(
          (checked) => ({ ok: true as const, checked }),
          (error: unknown) => {
            if (error instanceof DriftError || error instanceof DefinitionError) return { ok: false as const, error };
            throw error;
          },
        ),
      );
      if (!result.ok) {
        if (!flags.json) throw result.error;
        writeJson(tools.io, { ok: false, problems: result.error.problems });
        return 'usage';
      }
      const { definition, entities, warnings } = result.checked;
      // Said, not refused: the definition is true of the database, and allows something it should not.
      if (!flags.json) for (const warning of warnings) tools.io.stderr.write(`warning: ${warning}\n`);
      const exported = entities.reduce((n, e) => n + e.columns.length, 0);
      const omitted = definition.entities.reduce((n, e) => n + e.columns.filter((c) => c.omit !== undefined).length, 0);
      if (flags.json) writeJson(tools.io, { ok: true, problems: [], warnings, entities: entities.length, columnsExported: exported, columnsOmitted: omitted });
      else tools.io.stdout.write(`${definition.file}: matches the database (${entities.length} entities, ${exported} columns exported, ${omitted} omitted)\n`);
      return 'done';
    }),
  );
}
