import { kindOfType } from '../model/column-kinds.ts';
import { TEXT_TYPES } from '../model/database-types.ts';
import type { Definition, EntityRule } from '../model/definition.ts';
import { type Catalog, type CatalogTable, findTable, refOf } from './catalog.ts';
import { checkFiles } from './check-files.ts';
import { checkOwnership } from './check-relations.ts';
import { secretLookingName } from './secrets.ts';

/**
 * Compares a definition with the live database and returns every problem,
 * one line each (empty when they agree): a column nobody classified (a
 * migration added it since), a classified column or table that no longer
 * exists, an ownership path that follows no foreign key and is not declared
 * (or is declared over columns whose types cannot match), a secret-looking
 * column exported without `not_secret`, a table that references users (or an
 * exported entity) and is neither exported nor left out.
 */
export function checkDefinition(def: Definition, catalog: Catalog): string[] {
  const problems: string[] = [];
  const at = (line: number) => `(${def.file}:${line})`;
  const users = findTable(catalog, def.userTable);
  if (!users) problems.push(`${def.userTable}: the user table does not exist ${at(1)}`);
  else problems.push(...checkUserColumns(def, users, at));

  const byName = new Map(def.entities.map((e) => [e.name, e]));
  const userKey = users ? userKeyOf(def, users) : undefined;
  for (const e of def.entities) {
    const table = findTable(catalog, e.table);
    if (!table) {
      problems.push(`${e.table}: table of entity ${e.name} does not exist ${at(e.line)}`);
      continue;
    }
    checkColumns(e, table, problems, at);
    checkFiles(e, table, problems, at);
    if (users) checkOwnership({ e, table, catalog, problems, at }, users, userKey, byName);
  }

  checkDecided(def, catalog, problems, at);
  return problems;
}

/** Every column of the entity's table is classified, every classified column exists and is of a kind the export holds, nothing secret-looking is exported unsaid. */
function checkColumns(e: EntityRule, table: CatalogTable, problems: string[], at: (line: number) => string): void {
  const own = e.columns.filter((c) => c.derived === undefined);
  const classified = new Set(own.map((c) => c.name));
  for (const column of table.columns.keys()) {
    if (!classified.has(column))
      problems.push(
        `${e.table}.${column}: neither exported nor omitted (a column added since the definition was written?) ${at(e.line)}`,
      );
  }
  for (const c of own) {
    const live = table.columns.get(c.name);
    if (!live) problems.push(`${e.table}.${c.name}: classified but does not exist ${at(c.line)}`);
    else if (c.export !== undefined && !kindOfType(live.type))
      problems.push(`${e.table}.${c.name}: type ${live.type} cannot be exported yet ${at(c.line)}`);
  }
  for (const c of e.columns) {
    if (c.export !== undefined && secretLookingName(c.name) && !c.notSecret) {
      problems.push(
        `${e.table}.${c.name}: looks secret and is exported; omit it, or say why it is not secret (not_secret: …) ${at(c.line)}`,
      );
    }
  }
  for (const column of e.orderBy)
    if (!table.columns.has(column)) problems.push(`${e.table}.${column}: in order_by but does not exist ${at(e.line)}`);
}

/** Every table that holds users' data must be decided on: exported, a membership table, or left out. */
function checkDecided(def: Definition, catalog: Catalog, problems: string[], at: (line: number) => string): void {
  const keyOf = (ref: string) => findTable(catalog, ref)?.key;
  const decided = new Set<string>(
    [
      def.userTable,
      ...def.entities.map((e) => e.table),
      ...def.entities.flatMap((e) => (e.members ? [e.members.table] : [])),
      ...Object.keys(def.leftOut),
    ]
      .map(keyOf)
      .filter((k) => k !== undefined),
  );
  const exportedTables = new Set(
    [def.userTable, ...def.entities.map((e) => e.table)].map(keyOf).filter((k) => k !== undefined),
  );
  for (const f of catalog.foreignKeys) {
    if (exportedTables.has(f.refTable) && !decided.has(f.table)) {
      decided.add(f.table);
      const from = refOf(catalog, catalog.tables.get(f.table)!);
      problems.push(
        `${from}: references ${refOf(catalog, catalog.tables.get(f.refTable)!)} (${from}.${f.columns.join(', ')}) but is neither exported nor listed in left_out ${at(1)}`,
      );
    }
  }
  for (const table of Object.keys(def.leftOut))
    if (!keyOf(table)) problems.push(`${table}: in left_out but does not exist ${at(1)}`);
}

/**
 * The user table's key is one column that tells users apart (the named
 * `user_key`, unique; else the table's one-column primary
 * key), and the email's columns exist as text.
 */
function checkUserColumns(def: Definition, users: CatalogTable, at: (line: number) => string): string[] {
  const problems: string[] = [];
  const key = userKeyOf(def, users);
  if (key === undefined)
    problems.push(
      `${def.userTable}: has no one-column primary key; name a unique column that identifies a user (user_key: …) ${at(1)}`,
    );
  else if (!users.columns.has(key)) problems.push(`${def.userTable}.${key}: the user key does not exist ${at(1)}`);
  else if (!(users.primaryKey.length === 1 && users.primaryKey[0] === key) && !users.uniqueColumns.includes(key)) {
    problems.push(
      `${def.userTable}.${key}: the user key must be unique (a primary key, or a unique constraint or index on it alone): two users could share an id ${at(1)}`,
    );
  }
  for (const [role, column] of [
    ['user_email', def.userEmail],
    ['user_name', def.userName],
  ] as const) {
    if (column === undefined) continue;
    const live = users.columns.get(column);
    if (!live) problems.push(`${def.userTable}.${column}: ${role} does not exist ${at(1)}`);
    else if (!TEXT_TYPES.has(live.type))
      problems.push(`${def.userTable}.${column}: ${role} must be text, it is ${live.type} ${at(1)}`);
  }
  return problems;
}

/** The column a request's user_id names: `user_key`, else the user table's one-column primary key. */
export function userKeyColumn(def: Definition, catalog: Catalog): string | undefined {
  const users = findTable(catalog, def.userTable);
  return users ? userKeyOf(def, users) : def.userKey;
}

function userKeyOf(def: Definition, users: CatalogTable): string | undefined {
  if (def.userKey !== undefined) return def.userKey;
  return users.primaryKey.length === 1 ? users.primaryKey[0] : undefined;
}
