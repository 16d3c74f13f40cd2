import { sql } from 'kysely';
import type { Db } from '../db/connect.ts';
import { NOT_LINKED, userLink } from '../db/user-link.ts';
import { UsageError } from '../errors.ts';
import type { Definition } from '../model/definition.ts';
import type { ExportEntity, UserTable } from '../model/entities.ts';
import type { ErasurePlan } from '../model/erasure.ts';
import { SETTINGS } from '../settings.ts';
import type { Catalog } from './catalog.ts';
import { type CatalogTable, findTable, readCatalog, refOf } from './catalog.ts';
import { checkDefinition, userKeyColumn } from './check.ts';
import { checkErasure } from './check-erase.ts';
import { definitionWarnings } from './check-files.ts';
import { isJson, sampleTextValues } from './draft-samples.ts';
import { unindexedForeignKeys } from './erase-indexes.ts';
import { loadDefinition } from './parse.ts';
import { resolveEntities } from './resolve.ts';
import { resolveErasure } from './resolve-erasure.ts';
import { secretLookingJsonValues, secretLookingValues } from './secrets.ts';

/** The definition and the live database disagree: every problem, one line each. Nothing may be built. */
export class DriftError extends UsageError {
  override name = 'DriftError';
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(
      `the definition does not match the database (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

export interface CheckedDefinition {
  definition: Definition;
  user: UserTable;
  entities: ExportEntity[];
  /** What the definition allows and should not (definitionWarnings): said, not refused. */
  warnings: string[];
  /** What an erasure does, where the definition gives every entity an erase rule that holds (docs/erasure.md). */
  erasure?: ErasurePlan;
  /**
   * The erase rules that cannot hold (check-erase.ts), one line each. Never drift: exports go on; erasures
   * wait, and `exporter check` fails. (No rules at all is a warning, with `compliance: gdpr`; --strict fails.)
   */
  erasureProblems: string[];
}

/** With `compliance: gdpr` and no erase rule at all: a warning (an upgrade never turns check red); `check --strict` refuses it. */
export const NO_ERASE_RULES = (file: string) =>
  `compliance: gdpr, and no entity has an erase rule: exporter erase waits until every entity has one (docs/erasure.md) (${file})`;

/**
 * Loads the definition, checks it against the live database and returns what
 * to export; throws a DefinitionError (the file is malformed) or a DriftError
 * (the database changed under it). What fulfill, nightly and work do before
 * they claim anything, and what `exporter check` reports (with `sampleValues`:
 * columns whose values look like credentials too).
 */
export async function checkedDefinition(
  db: Db,
  file?: string,
  options: { sampleValues?: boolean } = {},
): Promise<CheckedDefinition> {
  const definition = loadDefinition(file);
  // Not linked yet (migrate was run bare, or not with this definition): one line saying what to run, before the
  // definition is held against tables that may not be the application's at all.
  const link = await userLink(db);
  if (!link) throw new UsageError(NOT_LINKED);
  const catalog = await readCatalog(db);
  const at = (line: number) => `(${definition.file}:${line})`;
  const problems = checkDefinition(definition, catalog);
  if (problems.length === 0) problems.push(...(await rowSecurityProblems(db, definition, catalog)));
  // `exporter check` (CI's) also reads a sample of the values; the work commands do not, so a migration's lock on a table never holds up their start.
  if (problems.length === 0 && options.sampleValues)
    problems.push(...(await secretValueProblems(db, definition, catalog)));
  if (problems.length > 0) throw new DriftError(problems);
  // checkDefinition made sure the user table and its key exist.
  const user = userTableOf(definition, catalog)!;
  if (link.userTable !== user.table || link.userKey !== user.idColumn || link.keyType !== user.keyType) {
    const linked = `${link.userTable}.${link.userKey} (${link.keyType})`;
    throw new DriftError([
      `the exporter is linked to ${linked}, the definition names ${user.table}.${user.idColumn} (${user.keyType}): run exporter migrate (with ${SETTINGS.definition.env} naming this definition)`,
    ]);
  }
  const erasureProblems = checkErasure(
    definition,
    catalog,
    findTable(catalog, definition.userTable)!,
    user.idColumn,
    at,
  );
  const ruled = definition.entities.some((e) => e.erase);
  const warnings = [...definitionWarnings(definition, catalog), ...unindexedForeignKeys(definition, catalog, at)];
  if (!ruled && definition.compliance === 'gdpr') warnings.push(NO_ERASE_RULES(definition.file));
  return {
    definition,
    user,
    entities: resolveEntities(definition, catalog),
    warnings,
    erasureProblems,
    ...(ruled && erasureProblems.length === 0 ? { erasure: resolveErasure(definition, catalog) } : {}),
  };
}

/**
 * Exported text columns whose values look like credentials (password hashes,
 * tokens, long random strings: secrets.ts), from a sample of each table's
 * first rows, unless the definition says why they are not secret. A
 * definition written by hand that exports a password hash under an innocent
 * name fails here. No value is ever part of a message.
 */
async function secretValueProblems(db: Db, definition: Definition, catalog: Catalog): Promise<string[]> {
  const exported = new Map<string, { table: CatalogTable; columns: Map<string, { line: number; entity: string }> }>();
  for (const e of definition.entities) {
    const table = findTable(catalog, e.table)!;
    const entry = exported.get(table.key) ?? { table, columns: new Map() };
    for (const c of e.columns)
      if (c.export !== undefined && c.derived === undefined && !c.notSecret)
        entry.columns.set(c.name, { line: c.line, entity: e.table });
    exported.set(table.key, entry);
  }
  const samples = await sampleTextValues(
    db,
    [...exported.values()].map((x) => x.table),
    (table) => [...exported.get(table.key)!.columns.keys()],
  );
  const problems: string[] = [];
  for (const { table, columns } of exported.values()) {
    for (const [column, { line, entity }] of columns) {
      const values = samples.get(table.key)?.get(column);
      if (!values) continue;
      const json = isJson(table.columns.get(column)!);
      if (json ? secretLookingJsonValues(values, false) : secretLookingValues(values)) {
        const what = json
          ? 'its JSON holds keys or texts that look like credentials'
          : 'its values look like password hashes or tokens';
        problems.push(
          `${entity}.${column}: ${what}, and it is exported; omit it, or say why it is not secret (not_secret: …) (${definition.file}:${line})`,
        );
      }
    }
  }
  return problems;
}

/**
 * Tables the definition reads whose row-level security applies to the
 * exporter's role (Supabase enables it on every table): the role would see
 * only the rows a policy lets it, and every archive would silently lack the
 * rest. Refused, as drift is: nothing incomplete is ever built.
 */
async function rowSecurityProblems(db: Db, definition: Definition, catalog: Catalog): Promise<string[]> {
  const read = new Map<string, string>();
  for (const ref of [
    definition.userTable,
    ...definition.entities.flatMap((e) => [e.table, ...(e.members ? [e.members.table] : [])]),
  ]) {
    const table = findTable(catalog, ref);
    if (table) read.set(table.key, ref);
  }
  const { rows } = await sql<{ key: string; role: string }>`
    select t.key, current_user as role from unnest(${[...read.keys()]}::text[]) t(key) where row_security_active(t.key::regclass)`.execute(
    db,
  );
  return rows.map(
    (r) =>
      `${read.get(r.key)}: row-level security applies to the exporter's role (${r.role}), so an archive would lack every row its policies hide; connect as the table's owner or a role with BYPASSRLS (${definition.file})`,
  );
}

/** The definition's user table as the live database has it (its key and the key's type), or undefined when the table or its key is missing. */
export function userTableOf(definition: Definition, catalog: Catalog): UserTable | undefined {
  const idColumn = userKeyColumn(definition, catalog);
  const users = findTable(catalog, definition.userTable);
  const key = idColumn === undefined ? undefined : users?.columns.get(idColumn);
  if (!key || !users || idColumn === undefined) return undefined;
  return {
    table: users.key,
    ref: refOf(catalog, users),
    idColumn,
    keyType: key.sqlType,
    emailColumn: definition.userEmail,
    nameColumn: definition.userName,
  };
}
