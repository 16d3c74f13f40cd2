import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  type CheckedDefinition,
  checkedDefinition,
  DriftError,
  NO_ERASE_RULES,
} from '../definition/checked-definition.ts';
import { DefinitionError, loadDefinition } from '../definition/parse.ts';
import { ProblemsError } from '../errors.ts';
import { type CommandTools, commandContext, returning, withDatabase, withSettings, writeJson } from './common.ts';

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
      .description(
        'check the definition against the live database: every column classified, every path a foreign key, nothing secret exported',
      )
      .option('--json', 'print {ok, problems} as JSON (for CI)', false)
      .option(
        '--strict',
        'also fail while the file still holds a TODO (exporter init marks every guess with one), naming each line',
        false,
      ),
    ['databaseUrl', 'definition', 'logLevel'],
  ).action(
    returning(tools, async (flags: { json: boolean; strict: boolean }, cmd: Command) => {
      const { config } = commandContext(cmd, tools.io, { database: true });
      const file = config.definitionFile;
      // The file first: one that cannot be read or parsed is named before any database is asked.
      const unreadable = definitionProblem(() => loadDefinition(file));
      const result = unreadable
        ? { ok: false as const, error: unreadable }
        : await withDatabase(config, (db) =>
            checkedDefinition(db, file, { sampleValues: true })
              .then((checked) => refuseUndecided(checked, flags.strict))
              .then(
                (checked) => ({ ok: true as const, checked }),
                (error: unknown) => {
                  if (error instanceof DriftError || error instanceof DefinitionError || error instanceof TodoError)
                    return { ok: false as const, error };
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
      // Said, not refused: the definition is true of the database, and allows something it should not (or an erasure would be slow).
      if (!flags.json) for (const warning of warnings) tools.io.stderr.write(`warning: ${warning}\n`);
      const exported = entities.reduce((n, e) => n + e.columns.length, 0);
      const omitted = definition.entities.reduce((n, e) => n + e.columns.filter((c) => c.omit !== undefined).length, 0);
      if (flags.json)
        writeJson(tools.io, {
          ok: true,
          problems: [],
          warnings,
          entities: entities.length,
          columnsExported: exported,
          columnsOmitted: omitted,
        });
      else
        tools.io.stdout.write(
          `${definition.file}: matches the database (${entities.length} entities, ${exported} columns exported, ${omitted} omitted)\n`,
        );
      return 'done';
    }),
  );
}

/**
 * What check refuses beyond drift: erase rules that cannot hold (exports go on, erasures wait: docs/erasure.md);
 * with --strict, the lines still saying TODO, and no erase rule at all where `compliance: gdpr` asks them.
 */
function refuseUndecided(checked: CheckedDefinition, strict: boolean): CheckedDefinition {
  if (checked.erasureProblems.length > 0) throw new DriftError(checked.erasureProblems);
  if (!strict) return checked;
  const todos = todoLines(checked.definition.file);
  if (checked.definition.compliance === 'gdpr' && !checked.erasure) todos.push(NO_ERASE_RULES(checked.definition.file));
  if (todos.length > 0) throw new TodoError(todos);
  return checked;
}

/** The DefinitionError `read` throws, if it does. */
function definitionProblem(read: () => unknown): DefinitionError | undefined {
  try {
    read();
    return undefined;
  } catch (error) {
    if (error instanceof DefinitionError) return error;
    throw error;
  }
}

/** What `check --strict` refuses: the lines of the file that still say TODO. */
class TodoError extends ProblemsError {
  override name = 'TodoError';
  constructor(lines: string[]) {
    super(`${lines.length} TODO${lines.length === 1 ? '' : 's'} left to decide`, lines);
    // One line each, as every other list of problems.
    this.message = `${lines.length} TODO${lines.length === 1 ? '' : 's'} left to decide:\n${this.problems.map((p) => `  ${p}`).join('\n')}`;
  }
}

/** Each line of the file that holds the word TODO, as `file:line: its text`. */
function todoLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (/\bTODO\b/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}
