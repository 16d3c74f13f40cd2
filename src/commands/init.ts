import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readCatalog } from '../definition/catalog.ts';
import { DraftError, draftTables, draftUserTable, planDraft } from '../definition/draft.ts';
import { matchUserIds, sampleTextValues } from '../definition/draft-samples.ts';
import { draftYaml } from '../definition/draft-yaml.ts';
import { UsageError } from '../errors.ts';
import { openDatabase } from '../runtime.ts';
import { type CommandTools, commandContext, returning, withSettings } from './common.ts';

/**
 * `exporter init --user-table <table>`: a draft definition for the live
 * database, read from its catalog (src/definition/draft.ts), to stdout or
 * `--out`. It passes `exporter check` unedited; its TODOs are what a person
 * must still decide (`exporter check --strict` lists them).
 */
export function registerInit(program: Command, tools: CommandTools): void {
  withSettings(
    program
      .command('init')
      .description(
        'print a draft definition for the live database: every table that belongs to a user through foreign keys, with TODO where a person must decide',
      )
      .requiredOption(
        '--user-table <table>',
        'the table of users, as table or schema.table (its one-column primary key is the user id a request names)',
      )
      .option(
        '--user-key <column>',
        'the column that identifies a user, where it is not the one-column primary key (unique)',
      )
      .option('--out <file>', 'write the draft to this file (never over an existing one) instead of stdout'),
    ['databaseUrl', 'logLevel'],
  ).action(
    returning(tools, async (flags: { userTable: string; userKey?: string; out?: string }, cmd: Command) => {
      const { config } = commandContext(cmd, tools.io, { database: true });
      // Before `exporter migrate` as well: the draft names the user table that migrate links to.
      const handle = await openDatabase(config, 1);
      let text: string;
      try {
        const catalog = await readCatalog(handle.db);
        const { users, key } = draftUserTable(catalog, flags.userTable, flags.userKey);
        // What the values say (no foreign key may: a chat server's text ids), then which tables are whose, then their columns' values (credentials).
        const userIds = await matchUserIds(handle.db, draftTables(catalog), users, key);
        const plan = planDraft(catalog, flags.userTable, { userKey: flags.userKey, userIds });
        const samples = await sampleTextValues(
          handle.db,
          plan.entities.map((e) => e.table),
        );
        const invocation = ` --user-table ${flags.userTable}${flags.userKey ? ` --user-key ${flags.userKey}` : ''}`;
        text = draftYaml(plan, catalog, samples, invocation);
      } catch (error) {
        if (error instanceof DraftError) throw new UsageError(`--user-table: ${error.message}`);
        throw error;
      } finally {
        await handle.close();
      }
      if (!flags.out) return void tools.io.stdout.write(text);
      try {
        await writeFile(flags.out, text, { flag: 'wx' });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST')
          throw new UsageError(
            `--out: ${flags.out} already exists; init never overwrites a file (name another, or move it away)`,
          );
        throw new UsageError(`--out: cannot write ${flags.out} (${code ?? String(error)})`);
      }
      tools.io.stderr.write(`${flags.out}: a draft definition; read its TODOs (exporter check --strict lists them)\n`);
    }),
  );
}
