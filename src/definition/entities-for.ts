import type { Db } from '../db/connect.ts';
import { UsageError } from '../errors.ts';
import type { ExportEntity, UserTable } from '../export/entities.ts';
import { readCatalog } from './catalog.ts';
import { checkDefinition, definitionWarnings, userKeyColumn } from './check.ts';
import type { Definition } from './definition.ts';
import { loadDefinition } from './parse.ts';
import { userLink } from '../db/user-link.ts';
import type { Catalog } from './catalog.ts';
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
  // checkDefinition made sure the user table and its key exist.
  const user = userTableOf(definition, catalog)!;
  const link = await userLink(db);
  if (!link || link.userTable !== user.table || link.userKey !== user.idColumn || link.keyType !== user.keyType) {
    const linked = link ? `${link.userTable}.${link.userKey} (${link.keyType})` : 'no user table';
    throw new DriftError([`the exporter is linked to ${linked}, the definition names ${user.table}.${user.idColumn} (${user.keyType}): run exporter migrate`]);
  }
  return { definition, user, entities: resolveEntities(definition, catalog), warnings: definitionWarnings(definition, catalog) };
}

/** The definition's user table as the live database has it (its key and the key's type), or undefined when the table or its key is missing. */
export function userTableOf(definition: Definition, catalog: Catalog): UserTable | undefined {
  const idColumn = userKeyColumn(definition, catalog);
  const key = idColumn === undefined ? undefined : catalog.tables.get(definition.userTable)?.get(idColumn);
  if (!key || idColumn === undefined) return undefined;
  return { table: definition.userTable, idColumn, keyType: key.sqlType, emailColumn: definition.userEmail, nameColumn: definition.userName };
}
