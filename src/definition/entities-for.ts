import type { Db } from '../db/connect.ts';
import { UsageError } from '../errors.ts';
import type { ExportEntity, UserTable } from '../export/entities.ts';
import { readCatalog } from './catalog.ts';
import { checkDefinition, definitionWarnings } from './check.ts';
import type { Definition } from './definition.ts';
import { loadDefinition } from './parse.ts';
import { resolveEntities } from './resolve.ts';

/** The definition and the live database disagree: every problem, one line each. Nothing may be built. */
export class DriftError extends UsageError {
  override name = 'DriftError';
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`the definition does not match the database (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export interface CheckedDefinition {
  definition: Definition;
  user: UserTable;
  entities: ExportEntity[];
  /** What the definition allows and should not (definitionWarnings): said, not refused. */
  warnings: string[];
}

/**
 * Loads the definition, checks it against the live database and returns what
 * to export; throws a DefinitionError (the file is malformed) or a DriftError
 * (the database changed under it). What fulfill, nightly and work do before
 * they claim anything, and what `exporter check` reports.
 */
export async function checkedDefinition(db: Db, file?: string): Promise<CheckedDefinition> {
  const definition = loadDefinition(file);
  const catalog = await readCatalog(db);
  const problems = checkDefinition(definition, catalog);
  if (problems.length > 0) throw new DriftError(problems);
  // The user table's id column: the one the foreign keys to it reference.
  const idColumn = catalog.foreignKeys.find((f) => f.refTable === definition.userTable)?.refColumn ?? 'id';
  return { definition, user: { table: definition.userTable, idColumn }, entities: resolveEntities(definition, catalog), warnings: definitionWarnings(definition, catalog) };
}
